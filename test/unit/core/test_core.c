/* engine/core: verdict combination, arena bounds, memcap, message lifecycle. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "anomaly.h"
#include "arena.h"
#include "memcap.h"
#include "msg.h"
#include "sink.h"
#include "verdict.h"

static void verdict_is_worst_and_dedups(void **st)
{
	struct sl_verdict v;

	sl_verdict_init(&v);
	assert_int_equal(v.action, SL_ACTION_PASS);
	sl_verdict_add(&v, SL_REASON_RULE, SL_ACTION_ALERT, "r1", "first", 0);
	sl_verdict_add(&v, SL_REASON_VIRUS, SL_ACTION_BLOCK, "Eicar-Signature", "virus", 2);
	sl_verdict_add(&v, SL_REASON_RULE, SL_ACTION_TEMPFAIL, "r1", "again", 0);
	assert_int_equal(v.action, SL_ACTION_BLOCK);
	assert_int_equal(v.n, 2);
	assert_int_equal(v.r[0].action, SL_ACTION_TEMPFAIL);

	for (int i = 0; i < 40; i++) {
		char id[16];
		snprintf(id, sizeof(id), "x%d", i);
		sl_verdict_add(&v, SL_REASON_RULE, SL_ACTION_ALERT, id, NULL, 0);
	}
	assert_int_equal(v.n, SL_VERDICT_MAX_REASONS);
	assert_true(v.dropped > 0);
}

static void verdict_summary_is_printable(void **st)
{
	struct sl_verdict v;
	char buf[64];

	sl_verdict_init(&v);
	sl_verdict_add(&v, SL_REASON_VIRUS, SL_ACTION_BLOCK, "Evil\r\n250 OK", NULL, 0);
	sl_verdict_summary(&v, buf, sizeof(buf));
	assert_null(strchr(buf, '\r'));
	assert_null(strchr(buf, '\n'));
	assert_non_null(strstr(buf, "virus Evil"));
}

static void action_parse(void **st)
{
	enum sl_action a;

	assert_int_equal(sl_action_parse("fail-open", &a), 0);
	assert_int_equal(a, SL_ACTION_PASS);
	assert_int_equal(sl_action_parse("block", &a), 0);
	assert_int_equal(a, SL_ACTION_BLOCK);
	assert_int_equal(sl_action_parse("nope", &a), -1);
}

static void arena_respects_cap(void **st)
{
	struct sl_arena a;

	sl_arena_init(&a, 4096);
	assert_non_null(sl_arena_strndup(&a, "hello", 5));
	assert_null(sl_arena_alloc(&a, 8192));
	int n = 0;
	while (sl_arena_alloc(&a, 100))
		n++;
	assert_true(n > 10 && n < 41);
	sl_arena_free(&a);
}

static void memcap_refuses_and_counts(void **st)
{
	struct sl_memcap m;

	sl_memcap_init(&m, "t", 100);
	assert_true(sl_memcap_take(&m, 60));
	assert_false(sl_memcap_take(&m, 41));
	assert_int_equal(m.hits, 1);
	assert_true(sl_memcap_take(&m, 40));
	sl_memcap_give(&m, 100);
	assert_int_equal(sl_memcap_used(&m), 0);
	assert_int_equal(m.peak, 100);
	assert_false(sl_memcap_take(&m, SIZE_MAX));
}

static int settled_calls, destroyed;
static void on_settled(struct sl_msg *m, void *arg) { settled_calls++; }
static void on_destroy(struct sl_msg *m, void *arg) { destroyed++; }
static const struct sl_msg_hooks hooks = { on_settled, on_destroy };

static void msg_settles_once_after_pending(void **st)
{
	struct sl_msg m;

	settled_calls = destroyed = 0;
	sl_msg_init(&m, 1, SL_PROTO_SMTP, SL_TO_SERVER);
	m.hooks = &hooks;
	sl_msg_pend(&m);
	sl_msg_mark_ended(&m);
	assert_int_equal(settled_calls, 0);
	sl_msg_unpend(&m);
	assert_int_equal(settled_calls, 1);
	assert_int_equal(destroyed, 0);
	sl_msg_unref(&m);
	assert_int_equal(destroyed, 1);
	sl_msg_release(&m);
}

static void msg_bounds_recipients(void **st)
{
	struct sl_msg m;

	sl_msg_init(&m, 1, SL_PROTO_SMTP, SL_TO_SERVER);
	for (int i = 0; i < SL_MSG_MAX_RCPT + 10; i++)
		sl_msg_add_rcpt(&m, "a@b.example", 11);
	assert_int_equal(m.n_rcpt, SL_MSG_MAX_RCPT);
	assert_true(m.record_truncated >= 10);
	for (int i = 0; i < 20; i++)
		sl_msg_add_reply(&m, "RCPT", 250);
	sl_msg_add_reply(&m, "EOD", 554);
	assert_int_equal(m.n_replies, SL_MSG_MAX_REPLIES);
	assert_string_equal(m.replies[SL_MSG_MAX_REPLIES - 1].cmd, "EOD");
	sl_msg_release(&m);
}

static void names_round_trip(void **st)
{
	enum sl_scope s;
	char buf[16];

	for (unsigned i = 0; i < SL_ANOM_MAX; i++)
		assert_int_equal(sl_anomaly_by_name(sl_anomaly_name(i)), i);
	assert_string_equal(sl_anomaly_layer(SL_ANOM_STREAM_OVERLAP_CONFLICT, buf, sizeof(buf)),
			    "stream");
	assert_int_equal(sl_anomaly_default_action(SL_ANOM_STREAM_OVERLAP_CONFLICT),
			 SL_ACTION_BLOCK);
	for (unsigned i = 0; i < SL_SCOPE_COUNT; i++) {
		assert_int_equal(sl_scope_parse(sl_scope_name(i), &s), 0);
		assert_int_equal(s, i);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(verdict_is_worst_and_dedups),
		cmocka_unit_test(verdict_summary_is_printable),
		cmocka_unit_test(action_parse),
		cmocka_unit_test(arena_respects_cap),
		cmocka_unit_test(memcap_refuses_and_counts),
		cmocka_unit_test(msg_settles_once_after_pending),
		cmocka_unit_test(msg_bounds_recipients),
		cmocka_unit_test(names_round_trip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
