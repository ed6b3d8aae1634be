/* engine/hold.c: held packets in order per direction, deadlines across
 * queues, release conditions (gates, waits), retransmission cover, the
 * byte cap; engine/hist.c: bucket bounds and quantiles. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "hist.h"
#include "hold.h"

static struct sl_held *push(struct sl_hold_set *s, struct sl_hold_q *q, uint32_t id,
			    uint32_t seq, uint32_t len, uint64_t now, uint64_t deadline)
{
	uint8_t pkt[64];
	struct sl_held_info in = { .src_id = id, .seq = seq, .seg_len = len, .l4_off = 20 };

	memset(pkt, (int)id, sizeof(pkt));
	return sl_hold_push(s, q, pkt, sizeof(pkt), &in, now, deadline);
}

static void test_order(void **state)
{
	struct sl_hold_set s;
	struct sl_hold_q q;

	(void)state;
	sl_hold_set_init(&s, 0);
	sl_hold_q_init(&q, NULL, 0);
	for (uint32_t i = 1; i <= 5; i++)
		assert_non_null(push(&s, &q, i, 1000 + i * 10, 10, 100 + i, 1000));
	assert_int_equal(q.n, 5);
	assert_int_equal(s.pkts, 5);
	for (uint32_t i = 1; i <= 5; i++) {
		struct sl_held *h = sl_hold_pop(&s, &q, 200);
		assert_non_null(h);
		assert_int_equal(h->info.src_id, i);
		assert_int_equal(h->data[0], i);	/* the copy is the packet's */
		assert_int_equal(h->len, 64);
		sl_hold_free(h);
	}
	assert_null(sl_hold_pop(&s, &q, 200));
	assert_int_equal(s.pkts, 0);
	assert_int_equal(s.bytes, 0);
	/* Hold times 99..95 us recorded. */
	assert_int_equal(s.hold_us.n, 5);
	assert_int_equal(s.hold_us.max, 99);
}

static void test_deadlines(void **state)
{
	struct sl_hold_set s;
	struct sl_hold_q a, b, c;

	(void)state;
	sl_hold_set_init(&s, 0);
	sl_hold_q_init(&a, "a", 0);
	sl_hold_q_init(&b, "b", 1);
	sl_hold_q_init(&c, "c", 0);
	assert_int_equal(sl_hold_next_deadline(&s), UINT64_MAX);
	push(&s, &a, 1, 0, 1, 0, 300);
	push(&s, &b, 2, 0, 1, 0, 100);
	push(&s, &c, 3, 0, 1, 0, 200);
	push(&s, &a, 4, 1, 1, 0, 50);		/* behind a's head: a keeps 300 */
	assert_int_equal(sl_hold_next_deadline(&s), 100);
	assert_null(sl_hold_expired(&s, 99));
	assert_ptr_equal(sl_hold_expired(&s, 100), &b);
	sl_hold_free(sl_hold_pop(&s, &b, 100));
	assert_ptr_equal(sl_hold_expired(&s, 1000), &c);
	sl_hold_free(sl_hold_pop(&s, &c, 1000));
	assert_ptr_equal(sl_hold_expired(&s, 1000), &a);
	/* a's new head has the earlier deadline: the list is re-sorted. */
	sl_hold_free(sl_hold_pop(&s, &a, 1000));
	assert_int_equal(sl_hold_next_deadline(&s), 50);
	sl_hold_free(sl_hold_pop(&s, &a, 1000));
	assert_null(sl_hold_expired(&s, UINT64_MAX - 1));
	assert_null(s.dhead);
	assert_null(s.dtail);
}

static void test_ready(void **state)
{
	struct sl_hold_set s;
	struct sl_hold_q q;

	(void)state;
	sl_hold_set_init(&s, 0);
	sl_hold_q_init(&q, NULL, 0);
	assert_false(sl_hold_head_ready(&q, 0));
	struct sl_held *h = push(&s, &q, 1, 0, 10, 0, 10);
	h->gates = 2;
	assert_false(sl_hold_head_ready(&q, UINT64_MAX));
	h->gates = 0;
	assert_true(sl_hold_head_ready(&q, 0));
	h->info.why = SL_HOLD_WAIT;
	h->info.stream_end = 500;
	assert_false(sl_hold_head_ready(&q, 499));
	assert_true(sl_hold_head_ready(&q, 500));
	assert_int_equal(sl_hold_find(&q, h->hid)->info.src_id, 1);
	assert_null(sl_hold_find(&q, h->hid + 1));
	sl_hold_free(sl_hold_pop(&s, &q, 0));
}

static void test_covers(void **state)
{
	struct sl_hold_set s;
	struct sl_hold_q q;

	(void)state;
	sl_hold_set_init(&s, 0);
	sl_hold_q_init(&q, NULL, 0);
	/* [0xfffffff0, +0x20) wraps; then a hole, then [100, 150). */
	push(&s, &q, 1, 0xfffffff0u, 0x20, 0, 10);
	push(&s, &q, 2, 100, 50, 0, 10);
	push(&s, &q, 3, 0x10, 0x10, 0, 10);	/* joins the first: [..., 0x20) */
	assert_true(sl_hold_covers(&q, 0xfffffff0u, 0x20));
	assert_true(sl_hold_covers(&q, 0xfffffff8u, 0x28));	/* across both pieces */
	assert_true(sl_hold_covers(&q, 120, 30));
	assert_false(sl_hold_covers(&q, 0x18, 0x10));		/* runs into the hole */
	assert_false(sl_hold_covers(&q, 60, 10));		/* in the hole: fills it */
	assert_false(sl_hold_covers(&q, 140, 20));		/* new bytes after */
	assert_false(sl_hold_covers(&q, 120, 0));		/* a pure ACK never */
	while (q.head)
		sl_hold_free(sl_hold_pop(&s, &q, 0));
	assert_false(sl_hold_covers(&q, 120, 1));
}

static void test_cap(void **state)
{
	struct sl_hold_set s;
	struct sl_hold_q q;

	(void)state;
	/* Room for two 64-byte copies with their headers, not three. */
	sl_hold_set_init(&s, 2 * (sizeof(struct sl_held) + 64) + 10);
	sl_hold_q_init(&q, NULL, 0);
	assert_non_null(push(&s, &q, 1, 0, 1, 0, 1));
	assert_non_null(push(&s, &q, 2, 1, 1, 0, 1));
	assert_null(push(&s, &q, 3, 2, 1, 0, 1));
	assert_int_equal(s.refused, 1);
	assert_int_equal(q.n, 2);
	sl_hold_free(sl_hold_pop(&s, &q, 0));
	assert_non_null(push(&s, &q, 3, 2, 1, 0, 1));
	while (q.head)
		sl_hold_free(sl_hold_pop(&s, &q, 0));
}

static void test_hist(void **state)
{
	struct sl_hist h;

	(void)state;
	memset(&h, 0, sizeof(h));
	assert_int_equal(sl_hist_quantile(&h, 0.5), 0);
	/* Buckets tile the line: each starts after the previous one ends. */
	uint64_t prev_hi = 0;
	for (unsigned i = 0; i < SL_HIST_BUCKETS; i++) {
		uint64_t lo, hi;
		sl_hist_bounds(i, &lo, &hi);
		if (i)
			assert_int_equal(lo, prev_hi + 1);
		assert_int_equal(sl_hist_bucket(lo), i);
		if (i < SL_HIST_BUCKETS - 1)
			assert_int_equal(sl_hist_bucket(hi), i);
		/* Width at most 1/8 of the lower bound (exact below 16). */
		if (lo >= 16 && i < SL_HIST_BUCKETS - 1)
			assert_true((hi - lo + 1) * 8 <= lo);
		prev_hi = hi;
	}
	assert_int_equal(sl_hist_bucket(UINT64_MAX), SL_HIST_BUCKETS - 1);
	/* 1..1000: the quantiles are within 12.5% above the true value. */
	for (uint64_t v = 1; v <= 1000; v++)
		sl_hist_add(&h, v);
	uint64_t p50 = sl_hist_quantile(&h, 0.5), p99 = sl_hist_quantile(&h, 0.99);
	assert_true(p50 >= 500 && p50 <= 563);
	assert_true(p99 >= 990 && p99 <= 1000);		/* capped at the max */
	assert_int_equal(h.n, 1000);
	assert_int_equal(h.sum, 500500);
	struct sl_hist g = h;
	sl_hist_merge(&g, &h);
	assert_int_equal(g.n, 2000);
	assert_int_equal(sl_hist_quantile(&g, 0.5), p50);
	sl_hist_add_n(&g, 1u << 20, 2000);
	assert_true(sl_hist_quantile(&g, 0.75) >= (1u << 20));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_order),
		cmocka_unit_test(test_deadlines),
		cmocka_unit_test(test_ready),
		cmocka_unit_test(test_covers),
		cmocka_unit_test(test_cap),
		cmocka_unit_test(test_hist),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
