/* reassembly/tcp.c: session tracking and stream reassembly, driven with
 * hand-built packets; every stream is checked byte for byte and every slice
 * against the consumer contract (tcp_harness.h). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "bytes.h"
#include "tcp_harness.h"

#define C	1000u		/* client ISN */
#define S	5000u		/* server ISN */
#define CD	(C + 1)		/* client stream offset 0 */
#define SD	(S + 1)
#define ACKPSH	(SL_TH_ACK | SL_TH_PSH)

static const char ALPHA[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

static void assert_stream(const struct th *t, enum sl_dir d, const void *want, size_t n)
{
	assert_int_equal(t->rec.out_len[d], n);
	assert_memory_equal(t->rec.out[d], want, n);
}

static void assert_clean(const struct th *t)
{
	assert_int_equal(t->rec.errors, 0);
}

static struct th *established(const struct sl_tcp_config *cfg, size_t memcap)
{
	struct th *t = th_new(cfg, memcap, 0);

	th_handshake(t, C, S, -1, -1, 65535, 65535);
	return t;
}

/* Default configuration in replay (inl = 0) or inline mode. */
static struct th *established_mode(int inl, size_t memcap)
{
	struct sl_tcp_config cfg;

	sl_tcp_config_default(&cfg);
	cfg.inline_mode = inl;
	return established(&cfg, memcap);
}

static void in_order_zero_copy(void **st)
{
	static const char m[] = "HELO a\r\nMAIL FROM:<x>\r\nDATA\r\n";
	struct th *t = established(NULL, 0);
	struct sl_packet *p[3];
	const uint32_t cut[4] = { 0, 8, 23, 29 };

	assert_int_equal(t->s.state, SL_TCP_ESTABLISHED);
	for (int i = 0; i < 3; i++) {
		p[i] = th_pkt(t, CD + cut[i], SD, ACKPSH, m + cut[i], cut[i + 1] - cut[i], 65535);
		assert_int_equal(th_send(t, SL_TO_SERVER, p[i]), SL_TCP_ACCEPT);
	}
	assert_int_equal(t->rec.ncalls, 3);
	for (int i = 0; i < 3; i++) {
		/* the fast path hands out the packet's own payload */
		assert_ptr_equal(t->rec.calls[i].data, p[i]->payload);
		assert_ptr_equal(t->rec.calls[i].pkt, p[i]);
		assert_int_equal(t->rec.calls[i].off, cut[i]);
		assert_int_equal(t->rec.calls[i].flags, 0);
	}
	assert_stream(t, SL_TO_SERVER, m, 29);
	assert_int_equal(t->ctr.v[SL_CTR_TCP_SEGMENTS], 6);
	assert_int_equal(t->rec.nanom, 0);
	assert_clean(t);
	th_free(t);
}

static void handshake_both_directions(void **st)
{
	struct th *t = th_new(NULL, 0, 0);
	uint32_t v;

	assert_false(sl_tcp_next_seq(&t->s, SL_TO_SERVER, &v));
	th_send(t, SL_TO_SERVER, th_pkt(t, C, 0, SL_TH_SYN, NULL, 0, 64000));
	assert_int_equal(t->s.state, SL_TCP_SYN_SENT);
	th_send(t, SL_TO_CLIENT, th_pkt(t, S, CD, SL_TH_SYN | SL_TH_ACK, NULL, 0, 29000));
	assert_int_equal(t->s.state, SL_TCP_SYN_RECV);
	th_send(t, SL_TO_SERVER, th_pkt(t, CD, SD, SL_TH_ACK, NULL, 0, 64000));
	assert_int_equal(t->s.state, SL_TCP_ESTABLISHED);

	assert_int_equal(th_data(t, SL_TO_CLIENT, SD, CD, "220 hi\r\n", 8), SL_TCP_ACCEPT);
	assert_int_equal(th_data(t, SL_TO_SERVER, CD, SD + 8, "EHLO x\r\n", 8), SL_TCP_ACCEPT);
	assert_int_equal(th_data(t, SL_TO_CLIENT, SD + 8, CD + 8, "250 ok\r\n", 8), SL_TCP_ACCEPT);
	assert_stream(t, SL_TO_SERVER, "EHLO x\r\n", 8);
	assert_stream(t, SL_TO_CLIENT, "220 hi\r\n250 ok\r\n", 16);

	assert_true(sl_tcp_next_seq(&t->s, SL_TO_SERVER, &v));
	assert_int_equal(v, CD + 8);
	assert_true(sl_tcp_next_seq(&t->s, SL_TO_CLIENT, &v));
	assert_int_equal(v, SD + 16);
	assert_true(sl_tcp_last_ack(&t->s, SL_TO_CLIENT, &v));
	assert_int_equal(v, CD + 8);
	assert_true(sl_tcp_window(&t->s, SL_TO_CLIENT, &v));
	assert_int_equal(v, 65535);
	/* the server's last 8 bytes are not acknowledged yet: kept as history */
	assert_true(sl_tcp_session_mem(&t->s) > 0);
	th_send(t, SL_TO_SERVER, th_pkt(t, CD + 8, SD + 16, SL_TH_ACK, NULL, 0, 64000));
	/* everything acknowledged and consumed: an idle flow holds no heap */
	assert_int_equal(sl_tcp_session_mem(&t->s), 0);
	assert_int_equal(sl_memcap_used(&t->mc), 0);
	assert_int_equal(t->rec.nanom, 0);
	assert_clean(t);
	th_free(t);
}

static void syn_with_data(void **st)
{
	struct th *t = th_new(NULL, 0, 0);

	assert_int_equal(th_send(t, SL_TO_SERVER, th_pkt(t, C, 0, SL_TH_SYN, "abc", 3, 65535)),
			 SL_TCP_ACCEPT);
	assert_int_equal(t->rec.anom[SL_ANOM_STREAM_SYN_DATA], 1);
	assert_int_equal(sl_anomaly_default_action(SL_ANOM_STREAM_SYN_DATA), SL_ACTION_PASS);
	th_send(t, SL_TO_CLIENT, th_pkt(t, S, CD + 3, SL_TH_SYN | SL_TH_ACK, NULL, 0, 65535));
	th_send(t, SL_TO_SERVER, th_pkt(t, CD + 3, SD, SL_TH_ACK, NULL, 0, 65535));
	assert_int_equal(th_data(t, SL_TO_SERVER, CD + 3, SD, "def", 3), SL_TCP_ACCEPT);
	assert_stream(t, SL_TO_SERVER, "abcdef", 6);
	assert_int_equal(t->rec.calls[0].off, 0);
	/* TCP Fast Open: the SYN/ACK acknowledged the SYN's data */
	assert_int_equal(t->ctr.v[SL_CTR_TCP_SYN_DATA_ACKED], 3);
	assert_clean(t);
	th_free(t);
}

static void midstream_pickup(void **st)
{
	struct th *t = th_new(NULL, 0, 0);
	struct sl_tcp_config cfg;

	/* a pure ACK does not start the stream: the first data does */
	th_send(t, SL_TO_SERVER, th_pkt(t, 777, 9000, SL_TH_ACK, NULL, 0, 500));
	assert_int_equal(th_data(t, SL_TO_SERVER, 777, 9000, "MAIL", 4), SL_TCP_ACCEPT);
	assert_int_equal(th_data(t, SL_TO_CLIENT, 9000, 781, "250", 3), SL_TCP_ACCEPT);
	assert_int_equal(th_data(t, SL_TO_SERVER, 781, 9003, " FROM", 5), SL_TCP_ACCEPT);
	assert_stream(t, SL_TO_SERVER, "MAIL FROM", 9);
	assert_stream(t, SL_TO_CLIENT, "250", 3);
	assert_int_equal(t->rec.calls[0].off, 0);
	assert_int_equal(t->rec.anom[SL_ANOM_STREAM_MIDSTREAM], 1);
	assert_int_equal(t->ctr.v[SL_CTR_TCP_MIDSTREAM], 2);
	assert_int_equal(t->s.state, SL_TCP_ESTABLISHED);
	/* window scale unknown without the SYNs: no window guess, a far
	 * segment is queued rather than called out of window */
	assert_int_equal(th_data(t, SL_TO_SERVER, 781 + 100000, 9003, "x", 1), SL_TCP_ACCEPT);
	/* a SYN on a stream already running is not believed */
	assert_int_equal(th_send(t, SL_TO_SERVER, th_pkt(t, 42, 0, SL_TH_SYN, NULL, 0, 500)),
			 SL_TCP_IGNORED);
	assert_int_equal(t->rec.anom[SL_ANOM_STREAM_SYN_RESEND_DIFF], 1);
	assert_clean(t);
	th_free(t);

	sl_tcp_config_default(&cfg);
	cfg.midstream = false;
	t = th_new(&cfg, 0, 0);
	assert_int_equal(th_data(t, SL_TO_SERVER, 777, 9000, "MAIL", 4), SL_TCP_IGNORED);
	assert_int_equal(t->ctr.v[SL_CTR_TCP_NO_HANDSHAKE], 1);
	assert_int_equal(t->rec.out_len[0], 0);
	th_free(t);
}

static void ooo_fill_names_filler(void **st)
{
	struct th *t = established(NULL, 0);
	struct sl_packet *fill;

	assert_int_equal(th_data(t, SL_TO_SERVER, CD + 10, SD, ALPHA + 10, 5), SL_TCP_ACCEPT);
	assert_int_equal(th_data(t, SL_TO_SERVER, CD + 5, SD, ALPHA + 5, 5), SL_TCP_ACCEPT);
	assert_int_equal(th_data(t, SL_TO_SERVER, CD + 20, SD, ALPHA + 20, 5), SL_TCP_ACCEPT);
	assert_int_equal(t->rec.ncalls, 0);
	assert_int_equal(t->s.half[0].ooo_runs, 2);
	assert_int_equal(t->s.half[0].ooo_bytes, 15);
	fill = th_pkt(t, CD, SD, ACKPSH, ALPHA, 5, 65535);
	assert_int_equal(th_send(t, SL_TO_SERVER, fill), SL_TCP_ACCEPT);
	/* the filler and the run behind it in ONE call, named by the filler */
	assert_int_equal(t->rec.ncalls, 1);
	assert_int_equal(t->rec.calls[0].len, 15);
	assert_ptr_equal(t->rec.calls[0].pkt, fill);
	assert_stream(t, SL_TO_SERVER, ALPHA, 15);
	assert_int_equal(th_data(t, SL_TO_SERVER, CD + 15, SD, ALPHA + 15, 5), SL_TCP_ACCEPT);
	assert_int_equal(t->rec.ncalls, 2);
	assert_int_equal(t->rec.calls[1].len, 10);
	assert_stream(t, SL_TO_SERVER, ALPHA, 25);
	assert_int_equal(t->s.half[0].ooo_runs, 0);
	assert_int_equal(t->s.half[0].ooo_bytes, 0);
	assert_int_equal(t->rec.nanom, 0);
	assert_clean(t);
	th_free(t);
}

static void shuffle(uint32_t *v, size_t n, uint32_t *seed)
{
	for (size_t i = n - 1; i > 0; i--) {
		size_t j = th_rand(seed) % (i + 1);
		uint32_t x = v[i];

		v[i] = v[j];
		v[j] = x;
	}
}

static void tiny_segments_random_order(void **st)
{
	enum { N = 3000 };
	struct sl_tcp_config cfg;
	static uint8_t data[N];
	static uint32_t order[N];
	uint32_t seed = 12345;
	struct th *t;

	sl_tcp_config_default(&cfg);
	cfg.ooo_max_runs = N;
	t = th_new(&cfg, 0, 0);
	th_handshake(t, C, S, -1, -1, 65535, 65535);
	for (uint32_t i = 0; i < N; i++) {
		data[i] = (uint8_t)th_rand(&seed);
		order[i] = i;
	}
	shuffle(order, N, &seed);
	for (uint32_t i = 0; i < N; i++)
		assert_int_equal(th_data(t, SL_TO_SERVER, CD + order[i], SD, data + order[i], 1),
				 SL_TCP_ACCEPT);
	assert_stream(t, SL_TO_SERVER, data, N);
	assert_int_equal(t->s.half[0].ooo_runs, 0);
	assert_int_equal(t->rec.nanom, 0);
	/* acknowledged: history gone, nothing held */
	th_send(t, SL_TO_CLIENT, th_pkt(t, SD, CD + N, SL_TH_ACK, NULL, 0, 65535));
	assert_int_equal(sl_memcap_used(&t->mc), 0);
	assert_clean(t);
	th_free(t);
}

static void duplicates_ignored(void **st)
{
	struct th *t = established(NULL, 0);

	assert_int_equal(th_data(t, SL_TO_SERVER, CD, SD, ALPHA, 10), SL_TCP_ACCEPT);
	assert_int_equal(th_data(t, SL_TO_SERVER, CD, SD, ALPHA, 10), SL_TCP_IGNORED);
	assert_int_equal(th_data(t, SL_TO_SERVER, CD + 2, SD, ALPHA + 2, 5), SL_TCP_IGNORED);
	/* duplicate of queued out-of-order bytes */
	assert_int_equal(th_data(t, SL_TO_SERVER, CD + 20, SD, ALPHA + 20, 10), SL_TCP_ACCEPT);
	assert_int_equal(th_data(t, SL_TO_SERVER, CD + 20, SD, ALPHA + 20, 10), SL_TCP_IGNORED);
	assert_int_equal(th_data(t, SL_TO_SERVER, CD + 22, SD, ALPHA + 22, 3), SL_TCP_IGNORED);
	assert_int_equal(t->ctr.v[SL_CTR_TCP_DUPLICATES], 4);
	assert_int_equal(t->s.half[0].ooo_bytes, 10);
	assert_int_equal(th_data(t, SL_TO_SERVER, CD + 10, SD, ALPHA + 10, 10), SL_TCP_ACCEPT);
	assert_stream(t, SL_TO_SERVER, ALPHA, 30);
	assert_int_equal(t->ctr.v[SL_CTR_TCP_OVERLAP_CONFLICT], 0);
	assert_int_equal(t->rec.nanom, 0);
	assert_clean(t);
	th_free(t);
}

static void overlap_same_bytes_ok(void **st)
{
	struct th *t = established(NULL, 0);

	assert_int_equal(th_data(t, SL_TO_SERVER, CD, SD, ALPHA, 10), SL_TCP_ACCEPT);
	assert_int_equal(th_data(t, SL_TO_SERVER, CD + 5, SD, ALPHA + 5, 10), SL_TCP_ACCEPT);
	/* queued run overlapped by the same bytes on both sides */
	assert_int_equal(th_data(t, SL_TO_SERVER, CD + 20, SD, ALPHA + 20, 5), SL_TCP_ACCEPT);
	assert_int_equal(th_data(t, SL_TO_SERVER, CD + 18, SD, ALPHA + 18, 10), SL_TCP_ACCEPT);
	assert_int_equal(t->s.half[0].ooo_runs, 1);
	assert_int_equal(t->s.half[0].ooo_bytes, 10);
	assert_int_equal(th_data(t, SL_TO_SERVER, CD + 14, SD, ALPHA + 14, 6), SL_TCP_ACCEPT);
	assert_stream(t, SL_TO_SERVER, ALPHA, 28);
	assert_int_equal(t->ctr.v[SL_CTR_TCP_OVERLAP_CONFLICT], 0);
	assert_int_equal(t->rec.nanom, 0);
	assert_clean(t);
	th_free(t);
}

static void overlap_conflict_queued(void **st)
{
	struct th *t = established(NULL, 0);
	char evil[10];

	assert_int_equal(th_data(t, SL_TO_SERVER, CD + 10, SD, ALPHA + 10, 10), SL_TCP_ACCEPT);
	memcpy(evil, ALPHA + 5, 10);
	evil[7] = '!';			/* offset 12: overlaps the queued run */
	assert_int_equal(th_data(t, SL_TO_SERVER, CD + 5, SD, evil, 10), SL_TCP_DROP);
	assert_int_equal(t->ctr.v[SL_CTR_TCP_OVERLAP_CONFLICT], 1);
	assert_int_equal(t->rec.anom[SL_ANOM_STREAM_OVERLAP_CONFLICT], 1);
	assert_int_equal(sl_anomaly_default_action(SL_ANOM_STREAM_OVERLAP_CONFLICT),
			 SL_ACTION_BLOCK);
	/* replay: the receiver did get the segment; its bytes that conflict
	 * with nothing (5..10) fill the hole (inline they go with it, see
	 * test_tcp_unverified.c conflict_fills_holes) */
	assert_int_equal(t->s.half[0].ooo_bytes, 15);
	assert_int_equal(th_data(t, SL_TO_SERVER, CD, SD, ALPHA, 10), SL_TCP_ACCEPT);
	/* first seen wins */
	assert_stream(t, SL_TO_SERVER, ALPHA, 20);
	assert_clean(t);
	th_free(t);
}

static void overlap_conflict_delivered(void **st)
{
	struct th *t = established(NULL, 0);
	char evil[10];

	assert_int_equal(th_data(t, SL_TO_SERVER, CD, SD, ALPHA, 10), SL_TCP_ACCEPT);
	memcpy(evil, ALPHA, 10);
	evil[9] = '#';
	/* not acknowledged yet: a receiver that lost the original could
	 * still take this one, so it is compared with the history */
	assert_int_equal(th_data(t, SL_TO_SERVER, CD, SD, evil, 10), SL_TCP_DROP);
	assert_int_equal(t->ctr.v[SL_CTR_TCP_OVERLAP_CONFLICT], 1);
	assert_int_equal(t->rec.anom[SL_ANOM_STREAM_OVERLAP_CONFLICT], 1);
	assert_stream(t, SL_TO_SERVER, ALPHA, 10);
	/* once the receiver has ACKed the bytes the history goes; a later
	 * retransmission cannot be compared (counted) but the receiver
	 * discards it anyway (below its rcv_nxt) */
	th_send(t, SL_TO_CLIENT, th_pkt(t, SD, CD + 10, SL_TH_ACK, NULL, 0, 65535));
	assert_int_equal(sl_tcp_session_mem(&t->s), 0);
	assert_int_equal(th_data(t, SL_TO_SERVER, CD, SD, evil, 10), SL_TCP_IGNORED);
	assert_int_equal(t->ctr.v[SL_CTR_TCP_UNVERIFIED], 1);
	assert_int_equal(t->ctr.v[SL_CTR_TCP_OVERLAP_CONFLICT], 1);
	assert_stream(t, SL_TO_SERVER, ALPHA, 10);
	assert_clean(t);
	th_free(t);
}

static void partial_overlap(void **st)
{
	struct th *t = established(NULL, 0);
	struct sl_packet *p;
	char evil[8];

	assert_int_equal(th_data(t, SL_TO_SERVER, CD, SD, ALPHA, 10), SL_TCP_ACCEPT);
	p = th_pkt(t, CD + 5, SD, ACKPSH, ALPHA + 5, 10, 65535);
	assert_int_equal(th_send(t, SL_TO_SERVER, p), SL_TCP_ACCEPT);
	/* only the new part is offered, still straight from the packet */
	assert_int_equal(t->rec.ncalls, 2);
	assert_int_equal(t->rec.calls[1].off, 10);
	assert_int_equal(t->rec.calls[1].len, 5);
	assert_ptr_equal(t->rec.calls[1].data, p->payload + 5);
	assert_stream(t, SL_TO_SERVER, ALPHA, 15);
	/* overlapping part disagrees: dropped (inline the new part goes too);
	 * in replay the receiver took the new part, as Linux does (its
	 * overlapping part is below rcv_nxt) */
	memcpy(evil, ALPHA + 12, 8);
	evil[0] = '?';
	assert_int_equal(th_data(t, SL_TO_SERVER, CD + 12, SD, evil, 8), SL_TCP_DROP);
	assert_stream(t, SL_TO_SERVER, ALPHA, 20);
	assert_int_equal(th_data(t, SL_TO_SERVER, CD + 12, SD, ALPHA + 12, 8), SL_TCP_IGNORED);
	assert_stream(t, SL_TO_SERVER, ALPHA, 20);
	assert_clean(t);
	th_free(t);
}

static void sequence_wrap(void **st)
{
	const uint32_t isn = 0xffffff00u;
	static uint8_t data[600];
	struct th *t = th_new(NULL, 0, 0);
	uint32_t v, seed = 7;

	for (int i = 0; i < 600; i++)
		data[i] = (uint8_t)th_rand(&seed);
	th_handshake(t, isn, S, -1, -1, 65535, 65535);
	/* the third segment (past 2^32) first, then the others */
	assert_int_equal(th_data(t, SL_TO_SERVER, isn + 1 + 400, SD, data + 400, 200),
			 SL_TCP_ACCEPT);
	assert_int_equal(th_data(t, SL_TO_SERVER, isn + 1, SD, data, 200), SL_TCP_ACCEPT);
	assert_int_equal(th_data(t, SL_TO_SERVER, isn + 1 + 200, SD, data + 200, 200),
			 SL_TCP_ACCEPT);
	assert_stream(t, SL_TO_SERVER, data, 600);
	assert_int_equal(t->rec.calls[1].off, 200);
	assert_int_equal(t->rec.calls[1].len, 400);
	assert_true(sl_tcp_next_seq(&t->s, SL_TO_SERVER, &v));
	assert_int_equal(v, (uint32_t)(isn + 601));
	assert_true(v < 0x1000);
	/* a retransmission across the wrap is compared with the history */
	data[300] ^= 1;
	assert_int_equal(th_data(t, SL_TO_SERVER, isn + 1 + 250, SD, data + 250, 100),
			 SL_TCP_DROP);
	data[300] ^= 1;
	th_send(t, SL_TO_CLIENT, th_pkt(t, SD, isn + 601, SL_TH_ACK, NULL, 0, 65535));
	assert_int_equal(sl_memcap_used(&t->mc), 0);
	assert_clean(t);
	th_free(t);
}

static void window_scale(void **st)
{
	struct th *t = th_new(NULL, 0, 0);
	uint32_t v;

	/* both SYNs carry the option: windows scale by the sender's factor */
	th_handshake(t, C, S, 7, 7, 65535, 100);
	th_send(t, SL_TO_CLIENT, th_pkt(t, SD, CD, SL_TH_ACK, NULL, 0, 1000));
	assert_true(sl_tcp_window(&t->s, SL_TO_CLIENT, &v));
	assert_int_equal(v, 128000);
	assert_int_equal(th_data(t, SL_TO_SERVER, CD + 100000, SD, "x", 1), SL_TCP_ACCEPT);
	assert_int_equal(t->ctr.v[SL_CTR_TCP_OUT_OF_WINDOW], 0);
	th_free(t);

	/* only the SYN carries it: no scaling at all (RFC 7323) */
	t = th_new(NULL, 0, 0);
	th_handshake(t, C, S, 7, -1, 65535, 100);
	th_send(t, SL_TO_CLIENT, th_pkt(t, SD, CD, SL_TH_ACK, NULL, 0, 1000));
	assert_true(sl_tcp_window(&t->s, SL_TO_CLIENT, &v));
	assert_int_equal(v, 1000);
	assert_int_equal(th_data(t, SL_TO_SERVER, CD + 100000, SD, "x", 1), SL_TCP_IGNORED);
	assert_int_equal(t->ctr.v[SL_CTR_TCP_OUT_OF_WINDOW], 1);
	assert_int_equal(t->rec.anom[SL_ANOM_STREAM_OUT_OF_WINDOW], 1);
	assert_int_equal(th_data(t, SL_TO_SERVER, CD + 500, SD, "y", 1), SL_TCP_ACCEPT);
	th_free(t);
}

static void out_of_window_data_and_rst(void **st)
{
	struct th *t = established(NULL, 0);

	assert_int_equal(th_data(t, SL_TO_SERVER, CD, SD, ALPHA, 5), SL_TCP_ACCEPT);
	/* beyond the server's window + slack */
	assert_int_equal(th_data(t, SL_TO_SERVER, CD + 5 + 70000, SD, ALPHA, 5), SL_TCP_IGNORED);
	/* older than any window */
	assert_int_equal(th_data(t, SL_TO_SERVER, CD - 0x50000000u, SD, ALPHA, 5), SL_TCP_IGNORED);
	assert_int_equal(t->ctr.v[SL_CTR_TCP_OUT_OF_WINDOW], 2);
	assert_int_equal(t->s.half[0].ooo_bytes, 0);
	assert_int_equal(th_send(t, SL_TO_SERVER,
				 th_pkt(t, CD + 5 + 200000, 0, SL_TH_RST, NULL, 0, 0)),
			 SL_TCP_IGNORED);
	assert_int_equal(th_send(t, SL_TO_SERVER, th_pkt(t, CD - 100, 0, SL_TH_RST, NULL, 0, 0)),
			 SL_TCP_IGNORED);
	assert_int_equal(t->ctr.v[SL_CTR_TCP_RST_IGNORED], 2);
	assert_int_equal(t->rec.anom[SL_ANOM_STREAM_RST_OUT_OF_WINDOW], 2);
	assert_false(sl_tcp_closed(&t->s));
	assert_int_equal(sl_tcp_end_reason(&t->s), SL_TCP_END_NONE);
	assert_int_equal(th_data(t, SL_TO_SERVER, CD + 5, SD, ALPHA + 5, 5), SL_TCP_ACCEPT);
	assert_stream(t, SL_TO_SERVER, ALPHA, 10);
	assert_clean(t);
	th_free(t);
}

static void rst_in_window(void **st)
{
	for (int inl = 0; inl < 2; inl++) {
		struct th *t = established_mode(inl, 0);
		struct sl_packet *rst;

		assert_int_equal(th_data(t, SL_TO_SERVER, CD, SD, ALPHA, 5), SL_TCP_ACCEPT);
		assert_int_equal(th_data(t, SL_TO_SERVER, CD + 10, SD, ALPHA + 10, 5),
				 SL_TCP_ACCEPT);
		/* in the window, not the exact next number */
		rst = th_pkt(t, CD + 7, 0, SL_TH_RST, NULL, 0, 0);
		assert_int_equal(th_send(t, SL_TO_SERVER, rst), SL_TCP_ACCEPT);
		assert_true(sl_tcp_closed(&t->s));
		assert_int_equal(sl_tcp_end_reason(&t->s), SL_TCP_END_RST);
		/* queued bytes flushed behind a gap, then EOF, both directions */
		assert_int_equal(t->rec.ncalls, 4);
		assert_int_equal(t->rec.calls[1].flags, SL_SLICE_GAP);
		assert_int_equal(t->rec.calls[1].off, 10);
		assert_int_equal(t->rec.calls[1].gap, 5);
		assert_ptr_equal(t->rec.calls[1].pkt, rst);
		assert_int_equal(t->rec.calls[2].flags, SL_SLICE_EOF);
		assert_int_equal(t->rec.calls[3].dir, SL_TO_CLIENT);
		assert_int_equal(t->rec.calls[3].flags, SL_SLICE_EOF);
		assert_true(t->rec.eof[0] && t->rec.eof[1]);
		assert_int_equal(sl_memcap_used(&t->mc), 0);
		/* a receiver that only challenged the RST must not get more */
		assert_int_equal(th_data(t, SL_TO_SERVER, CD + 5, SD, ALPHA + 5, 5),
				 inl ? SL_TCP_DROP : SL_TCP_IGNORED);
		assert_int_equal(t->rec.anom[SL_ANOM_STREAM_DATA_AFTER_RST], 1);
		assert_int_equal(t->ctr.v[SL_CTR_TCP_DATA_AFTER_RST], 1);
		assert_int_equal(t->rec.out_len[0], 10);
		assert_clean(t);
		th_free(t);
	}
}

static void rst_answering_syn(void **st)
{
	struct th *t = th_new(NULL, 0, 0);

	th_send(t, SL_TO_SERVER, th_pkt(t, C, 0, SL_TH_SYN, NULL, 0, 65535));
	/* wrong ACK: not an answer to our SYN */
	assert_int_equal(th_send(t, SL_TO_CLIENT,
				 th_pkt(t, 0, C + 77, SL_TH_RST | SL_TH_ACK, NULL, 0, 0)),
			 SL_TCP_IGNORED);
	assert_false(sl_tcp_closed(&t->s));
	assert_int_equal(th_send(t, SL_TO_CLIENT,
				 th_pkt(t, 0, CD, SL_TH_RST | SL_TH_ACK, NULL, 0, 0)),
			 SL_TCP_ACCEPT);
	assert_true(sl_tcp_closed(&t->s));
	th_free(t);
}

static void fin_both_halves(void **st)
{
	struct th *t = established(NULL, 0);
	uint32_t v;

	assert_int_equal(th_send(t, SL_TO_SERVER, th_pkt(t, CD, SD, SL_TH_FIN | SL_TH_ACK,
							 "QUIT\r\n", 6, 65535)),
			 SL_TCP_ACCEPT);
	/* the data and the EOF in one slice */
	assert_int_equal(t->rec.ncalls, 1);
	assert_int_equal(t->rec.calls[0].flags, SL_SLICE_EOF);
	assert_int_equal(t->rec.calls[0].len, 6);
	assert_int_equal(t->s.state, SL_TCP_FIN_WAIT);
	assert_true(sl_tcp_next_seq(&t->s, SL_TO_SERVER, &v));
	assert_int_equal(v, CD + 7);		/* the FIN counts */
	assert_false(sl_tcp_closed(&t->s));
	assert_int_equal(th_data(t, SL_TO_CLIENT, SD, CD + 7, "221 bye\r\n", 9), SL_TCP_ACCEPT);
	assert_int_equal(th_send(t, SL_TO_CLIENT, th_pkt(t, SD + 9, CD + 7, SL_TH_FIN | SL_TH_ACK,
							 NULL, 0, 65535)),
			 SL_TCP_ACCEPT);
	assert_int_equal(t->rec.calls[2].flags, SL_SLICE_EOF);
	assert_int_equal(t->rec.calls[2].len, 0);
	assert_int_equal(t->rec.calls[2].off, 9);
	assert_true(sl_tcp_closed(&t->s));
	assert_int_equal(sl_tcp_end_reason(&t->s), SL_TCP_END_FIN);
	/* retransmitted FIN: harmless; data beyond the FIN: flagged */
	assert_int_equal(th_send(t, SL_TO_SERVER, th_pkt(t, CD + 6, SD + 10,
							 SL_TH_FIN | SL_TH_ACK, NULL, 0, 65535)),
			 SL_TCP_IGNORED);
	assert_int_equal(th_data(t, SL_TO_SERVER, CD + 7, SD + 10, "more", 4), SL_TCP_IGNORED);
	assert_int_equal(t->rec.anom[SL_ANOM_STREAM_DATA_AFTER_FIN], 1);
	assert_stream(t, SL_TO_SERVER, "QUIT\r\n", 6);
	assert_stream(t, SL_TO_CLIENT, "221 bye\r\n", 9);
	assert_clean(t);
	th_free(t);
}

static void fin_out_of_order(void **st)
{
	struct th *t = established(NULL, 0);
	struct sl_packet *fill;

	assert_int_equal(th_send(t, SL_TO_SERVER, th_pkt(t, CD + 5, SD, SL_TH_FIN | SL_TH_ACK,
							 ALPHA + 5, 5, 65535)),
			 SL_TCP_ACCEPT);
	assert_int_equal(t->rec.ncalls, 0);
	/* data queued beyond the FIN would be past the end: refused */
	assert_int_equal(th_data(t, SL_TO_SERVER, CD + 10, SD, ALPHA + 10, 5), SL_TCP_IGNORED);
	fill = th_pkt(t, CD, SD, ACKPSH, ALPHA, 5, 65535);
	assert_int_equal(th_send(t, SL_TO_SERVER, fill), SL_TCP_ACCEPT);
	assert_int_equal(t->rec.ncalls, 1);
	assert_int_equal(t->rec.calls[0].flags, SL_SLICE_EOF);
	assert_int_equal(t->rec.calls[0].len, 10);
	assert_ptr_equal(t->rec.calls[0].pkt, fill);
	assert_stream(t, SL_TO_SERVER, ALPHA, 10);
	assert_clean(t);
	th_free(t);
}

static void bad_checksum(void **st)
{
	struct th *t = established(NULL, 0);
	struct sl_packet *p;

	p = th_pkt(t, CD, SD, ACKPSH, ALPHA, 5, 65535);
	p->flags = SL_PKT_L4_CSUM_BAD;
	assert_int_equal(th_send(t, SL_TO_SERVER, p), SL_TCP_IGNORED);
	assert_int_equal(t->ctr.v[SL_CTR_TCP_BAD_CSUM], 1);
	assert_int_equal(t->rec.anom[SL_ANOM_STREAM_BAD_CSUM], 1);
	assert_int_equal(t->rec.out_len[0], 0);
	/* a bad-checksum RST does not close either */
	p = th_pkt(t, CD, 0, SL_TH_RST, NULL, 0, 0);
	p->flags = SL_PKT_L4_CSUM_BAD;
	assert_int_equal(th_send(t, SL_TO_SERVER, p), SL_TCP_IGNORED);
	assert_false(sl_tcp_closed(&t->s));
	/* checksum not verified (offload): the flag does not count */
	p = th_pkt(t, CD, SD, ACKPSH, "HELLO", 5, 65535);
	p->flags = SL_PKT_L4_CSUM_BAD | SL_PKT_L4_CSUM_SKIP;
	assert_int_equal(th_send(t, SL_TO_SERVER, p), SL_TCP_ACCEPT);
	assert_stream(t, SL_TO_SERVER, "HELLO", 5);
	assert_int_equal(t->ctr.v[SL_CTR_TCP_BAD_CSUM], 2);
	assert_clean(t);
	th_free(t);
}

static void ooo_depth_limit(void **st)
{
	static uint8_t data[200];

	for (int i = 0; i < 200; i++)
		data[i] = (uint8_t)(i * 7 + 3);
	for (int inl = 0; inl < 2; inl++) {
		struct sl_tcp_config cfg;
		struct th *t;

		sl_tcp_config_default(&cfg);
		cfg.ooo_depth = 100;
		cfg.inline_mode = inl;
		t = established(&cfg, 0);
		assert_int_equal(th_data(t, SL_TO_SERVER, CD + 10, SD, data + 10, 50),
				 SL_TCP_ACCEPT);
		if (!inl) {
			/* replay: the hole at 0..10 is given up */
			assert_int_equal(th_data(t, SL_TO_SERVER, CD + 60, SD, data + 60, 100),
					 SL_TCP_ACCEPT);
			assert_int_equal(t->rec.ncalls, 2);
			assert_int_equal(t->rec.calls[0].flags, SL_SLICE_GAP);
			assert_int_equal(t->rec.calls[0].gap, 10);
			assert_int_equal(t->rec.calls[0].off, 10);
			assert_int_equal(t->rec.calls[0].len, 50);
			assert_int_equal(t->rec.calls[1].off, 60);
			assert_stream(t, SL_TO_SERVER, data + 10, 150);
			assert_int_equal(t->ctr.v[SL_CTR_TCP_GAPS], 1);
			assert_int_equal(t->ctr.v[SL_CTR_TCP_GAP_BYTES], 10);
			assert_int_equal(t->rec.anom[SL_ANOM_STREAM_GAP], 1);
		} else {
			/* inline: refused, no gap, the retransmission makes it */
			assert_int_equal(th_data(t, SL_TO_SERVER, CD + 60, SD, data + 60, 100),
					 SL_TCP_DROP);
			assert_int_equal(t->rec.ncalls, 0);
			assert_int_equal(th_data(t, SL_TO_SERVER, CD, SD, data, 10),
					 SL_TCP_ACCEPT);
			assert_int_equal(th_data(t, SL_TO_SERVER, CD + 60, SD, data + 60, 100),
					 SL_TCP_ACCEPT);
			assert_stream(t, SL_TO_SERVER, data, 160);
			assert_int_equal(t->ctr.v[SL_CTR_TCP_GAPS], 0);
		}
		assert_int_equal(t->ctr.v[SL_CTR_TCP_DEPTH_HITS], 1);
		assert_int_equal(t->rec.anom[SL_ANOM_STREAM_DEPTH], 1);
		assert_clean(t);
		th_free(t);
	}
}

static void ooo_runs_limit(void **st)
{
	struct sl_tcp_config cfg;
	struct th *t;

	sl_tcp_config_default(&cfg);
	cfg.ooo_max_runs = 3;
	cfg.inline_mode = true;
	t = established(&cfg, 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(th_data(t, SL_TO_SERVER, CD + 2 + 2 * i, SD, ALPHA + 2 + 2 * i, 1),
				 SL_TCP_ACCEPT);
	/* a fourth island is refused; bytes joining two islands are not */
	assert_int_equal(th_data(t, SL_TO_SERVER, CD + 10, SD, ALPHA + 10, 1), SL_TCP_DROP);
	assert_int_equal(th_data(t, SL_TO_SERVER, CD + 3, SD, ALPHA + 3, 1), SL_TCP_ACCEPT);
	assert_int_equal(t->s.half[0].ooo_runs, 2);
	assert_int_equal(t->ctr.v[SL_CTR_TCP_DEPTH_HITS], 1);
	th_free(t);
}

static void memcap_limit(void **st)
{
	static uint8_t data[3000];

	for (int i = 0; i < 3000; i++)
		data[i] = (uint8_t)(i * 13);
	for (int inl = 0; inl < 2; inl++) {
		struct sl_tcp_config cfg;
		struct th *t;

		sl_tcp_config_default(&cfg);
		cfg.inline_mode = inl;
		cfg.history = 0;
		t = established(&cfg, 600);
		assert_int_equal(th_data(t, SL_TO_SERVER, CD + 1000, SD, data + 1000, 2000),
				 inl ? SL_TCP_DROP : SL_TCP_ACCEPT);
		assert_true(t->ctr.v[SL_CTR_TCP_MEMCAP_HITS] >= 1);
		assert_true(t->rec.anom[SL_ANOM_STREAM_MEMCAP] >= 1);
		if (inl) {
			assert_int_equal(t->rec.ncalls, 0);
			assert_int_equal(th_data(t, SL_TO_SERVER, CD, SD, data, 3000),
					 SL_TCP_ACCEPT);
			assert_stream(t, SL_TO_SERVER, data, 3000);
		} else {
			assert_int_equal(t->rec.calls[0].flags, SL_SLICE_GAP);
			assert_int_equal(t->rec.calls[0].gap, 1000);
			assert_stream(t, SL_TO_SERVER, data + 1000, 2000);
		}
		assert_true(t->mc.hits >= 1);
		assert_int_equal(sl_memcap_used(&t->mc), 0);
		assert_clean(t);
		th_free(t);
	}
}

static void ack_beyond_hole(void **st)
{
	for (int inl = 0; inl < 2; inl++) {
		struct th *t = established_mode(inl, 0);
		struct sl_packet *ack;

		assert_int_equal(th_data(t, SL_TO_SERVER, CD + 10, SD, ALPHA + 10, 10),
				 SL_TCP_ACCEPT);
		ack = th_pkt(t, SD, CD + 20, SL_TH_ACK, NULL, 0, 65535);
		assert_int_equal(th_send(t, SL_TO_CLIENT, ack), SL_TCP_ACCEPT);
		assert_int_equal(t->ctr.v[SL_CTR_TCP_ACK_UNSEEN], 1);
		if (!inl) {
			/* capture loss: the receiver had bytes 0..10.  Given up
			 * once the conversation moves on (here the server
			 * answers), not at the ACK: a late copy could still come */
			struct sl_packet *reply = th_pkt(t, SD, CD + 20, ACKPSH, "250 ok\r\n", 8,
							 65535);

			assert_int_equal(t->rec.ncalls, 0);
			assert_int_equal(th_send(t, SL_TO_CLIENT, reply), SL_TCP_ACCEPT);
			assert_int_equal(t->rec.calls[0].flags, SL_SLICE_GAP);
			assert_int_equal(t->rec.calls[0].gap, 10);
			assert_ptr_equal(t->rec.calls[0].pkt, reply);
			assert_stream(t, SL_TO_SERVER, ALPHA + 10, 10);
			assert_int_equal(t->ctr.v[SL_CTR_TCP_GAPS], 1);
		} else {
			/* inline nothing passes unseen: no gap */
			assert_int_equal(t->rec.ncalls, 0);
			assert_int_equal(t->rec.anom[SL_ANOM_STREAM_ACK_UNSEEN], 1);
			assert_int_equal(th_data(t, SL_TO_SERVER, CD, SD, ALPHA, 10),
					 SL_TCP_ACCEPT);
			assert_stream(t, SL_TO_SERVER, ALPHA, 20);
		}
		/* an ACK further than the receiver's window is not believed */
		ack = th_pkt(t, SD, CD + 20 + 1000000, SL_TH_ACK, NULL, 0, 65535);
		assert_int_equal(th_send(t, SL_TO_CLIENT, ack), SL_TCP_ACCEPT);
		assert_int_equal(t->ctr.v[SL_CTR_TCP_GAPS], inl ? 0 : 1);
		assert_clean(t);
		th_free(t);
	}
}

static void consumer_line_splitting(void **st)
{
	static const char m[] = "HELO a\r\nMAIL FROM:<x>\r\n";
	struct th *t = established(NULL, 0);
	struct sl_packet *p2;

	t->rec.mode = TH_LINES;
	th_data(t, SL_TO_SERVER, CD, SD, m, 3);
	p2 = th_pkt(t, CD + 3, SD, ACKPSH, m + 3, 9, 65535);
	th_send(t, SL_TO_SERVER, p2);
	th_data(t, SL_TO_SERVER, CD + 12, SD, m + 12, 11);
	assert_int_equal(t->rec.ncalls, 3);
	/* "HEL" left, offered again joined with the next bytes */
	assert_int_equal(t->rec.calls[1].off, 0);
	assert_int_equal(t->rec.calls[1].len, 12);
	assert_memory_equal(t->rec.calls[1].data, "HELO a\r\nMAIL", 12);
	assert_ptr_equal(t->rec.calls[1].pkt, p2);
	assert_int_equal(t->rec.calls[2].off, 8);
	assert_int_equal(t->rec.calls[2].len, 15);
	assert_stream(t, SL_TO_SERVER, m, 23);
	th_send(t, SL_TO_CLIENT, th_pkt(t, SD, CD + 23, SL_TH_ACK, NULL, 0, 65535));
	assert_int_equal(sl_memcap_used(&t->mc), 0);
	/* a last line without its newline comes with EOF */
	th_send(t, SL_TO_SERVER, th_pkt(t, CD + 23, SD, SL_TH_ACK, "QUI", 3, 65535));
	th_send(t, SL_TO_SERVER, th_pkt(t, CD + 26, SD, SL_TH_ACK | SL_TH_FIN, "T", 1, 65535));
	assert_int_equal(t->rec.calls[4].flags, SL_SLICE_EOF);
	assert_int_equal(t->rec.calls[4].len, 4);
	assert_stream(t, SL_TO_SERVER, "HELO a\r\nMAIL FROM:<x>\r\nQUIT", 27);
	assert_clean(t);
	th_free(t);
}

static void consumer_never_consumes(void **st)
{
	static uint8_t data[5000];
	struct sl_tcp_config cfg;
	struct th *t;

	for (int i = 0; i < 5000; i++)
		data[i] = (uint8_t)(i * 31 + 1);
	sl_tcp_config_default(&cfg);
	cfg.max_unconsumed = 1000;
	cfg.history = 0;
	t = established(&cfg, 0);
	t->rec.mode = TH_NONE;
	for (int i = 0; i < 10; i++) {
		assert_int_equal(th_data(t, SL_TO_SERVER, CD + 500 * i, SD, data + 500 * i, 500),
				 SL_TCP_ACCEPT);
		/* never more than max_unconsumed held for the consumer */
		assert_true(t->s.half[0].pending == NULL ||
			    sl_tcp_session_mem(&t->s) <= 8192);
	}
	assert_true(t->ctr.v[SL_CTR_TCP_UNCONSUMED] >= 1);
	assert_true(t->rec.anom[SL_ANOM_STREAM_UNCONSUMED] >= 1);
	assert_int_equal(t->rec.gap_bytes[0], 4000);
	assert_int_equal(t->rec.pos[0], 4000);
	assert_int_equal(t->rec.left_len[0], 1000);
	/* EOF: the consumer finally takes the last 1000 bytes */
	th_send(t, SL_TO_SERVER, th_pkt(t, CD + 5000, SD, SL_TH_ACK | SL_TH_FIN, NULL, 0, 65535));
	assert_stream(t, SL_TO_SERVER, data + 4000, 1000);
	assert_true(t->rec.eof[0]);
	assert_clean(t);
	th_free(t);
}

static void consumer_stop(void **st)
{
	struct th *t = established(NULL, 0);
	uint32_t v;

	t->rec.mode = TH_STOP;
	assert_int_equal(th_data(t, SL_TO_SERVER, CD, SD, ALPHA, 10), SL_TCP_ACCEPT);
	assert_int_equal(t->rec.ncalls, 1);
	assert_int_equal(sl_tcp_session_mem(&t->s), 0);
	/* stopped: next_seq is simply the highest byte seen, nothing queued */
	assert_int_equal(th_data(t, SL_TO_SERVER, CD + 20, SD, ALPHA, 10), SL_TCP_ACCEPT);
	assert_int_equal(th_data(t, SL_TO_SERVER, CD + 10, SD, ALPHA, 10), SL_TCP_IGNORED);
	assert_int_equal(t->rec.ncalls, 1);
	assert_int_equal(sl_tcp_session_mem(&t->s), 0);
	/* tracking goes on: the engine still knows where the sender is */
	assert_true(sl_tcp_next_seq(&t->s, SL_TO_SERVER, &v));
	assert_int_equal(v, CD + 30);
	/* bytes we never saw, ACKed by the server: followed, no gap */
	th_send(t, SL_TO_CLIENT, th_pkt(t, SD, CD + 40, SL_TH_ACK, NULL, 0, 65535));
	assert_true(sl_tcp_next_seq(&t->s, SL_TO_SERVER, &v));
	assert_int_equal(v, CD + 40);
	assert_int_equal(t->rec.gaps, 0);
	/* the other direction is unaffected */
	t->rec.mode = TH_ALL;
	assert_int_equal(th_data(t, SL_TO_CLIENT, SD, CD + 40, "250 ok\r\n", 8), SL_TCP_ACCEPT);
	assert_stream(t, SL_TO_CLIENT, "250 ok\r\n", 8);
	assert_int_equal(th_send(t, SL_TO_SERVER, th_pkt(t, CD + 40, SD + 8, SL_TH_FIN | SL_TH_ACK,
							 NULL, 0, 65535)),
			 SL_TCP_ACCEPT);
	assert_true(sl_tcp_next_seq(&t->s, SL_TO_SERVER, &v));
	assert_int_equal(v, CD + 41);
	/* no EOF for a stopped direction at flush */
	sl_tcp_flush(t->ctx, &t->s, &t->io);
	assert_false(t->rec.eof[0]);
	assert_true(t->rec.eof[1]);
	assert_clean(t);
	th_free(t);
}

static void syn_changed(void **st)
{
	struct th *t = th_new(NULL, 0, 0);

	th_send(t, SL_TO_SERVER, th_pkt(t, 111, 0, SL_TH_SYN, NULL, 0, 65535));
	/* same SYN again: a plain retransmission */
	assert_int_equal(th_send(t, SL_TO_SERVER, th_pkt(t, 111, 0, SL_TH_SYN, NULL, 0, 65535)),
			 SL_TCP_ACCEPT);
	assert_int_equal(t->rec.anom[SL_ANOM_STREAM_SYN_RESEND_DIFF], 0);
	/* before the answer the latest SYN stands */
	th_send(t, SL_TO_SERVER, th_pkt(t, C, 0, SL_TH_SYN, NULL, 0, 65535));
	assert_int_equal(t->rec.anom[SL_ANOM_STREAM_SYN_RESEND_DIFF], 1);
	th_send(t, SL_TO_CLIENT, th_pkt(t, S, CD, SL_TH_SYN | SL_TH_ACK, NULL, 0, 65535));
	/* after it, another ISN is ignored */
	assert_int_equal(th_send(t, SL_TO_SERVER, th_pkt(t, 222, 0, SL_TH_SYN, NULL, 0, 65535)),
			 SL_TCP_IGNORED);
	assert_int_equal(t->rec.anom[SL_ANOM_STREAM_SYN_RESEND_DIFF], 2);
	assert_int_equal(t->ctr.v[SL_CTR_TCP_SYN_CHANGED], 2);
	assert_int_equal(th_data(t, SL_TO_SERVER, CD, SD, "ok", 2), SL_TCP_ACCEPT);
	assert_stream(t, SL_TO_SERVER, "ok", 2);
	th_free(t);

	/* the SYN/ACK is the judge of which ISN the connection uses */
	t = th_new(NULL, 0, 0);
	th_send(t, SL_TO_SERVER, th_pkt(t, 111, 0, SL_TH_SYN, NULL, 0, 65535));
	th_send(t, SL_TO_CLIENT, th_pkt(t, S, CD, SL_TH_SYN | SL_TH_ACK, NULL, 0, 65535));
	assert_int_equal(t->rec.anom[SL_ANOM_STREAM_SYN_RESEND_DIFF], 1);
	assert_int_equal(th_data(t, SL_TO_SERVER, CD, SD, "ok", 2), SL_TCP_ACCEPT);
	assert_stream(t, SL_TO_SERVER, "ok", 2);
	assert_clean(t);
	th_free(t);
}

static void flush_gaps_and_eof(void **st)
{
	struct th *t = established(NULL, 0);

	th_data(t, SL_TO_SERVER, CD, SD, ALPHA, 5);
	th_data(t, SL_TO_SERVER, CD + 10, SD, ALPHA + 10, 5);
	th_data(t, SL_TO_SERVER, CD + 20, SD, ALPHA + 20, 5);
	th_send(t, SL_TO_SERVER, th_pkt(t, CD + 30, SD, SL_TH_FIN | SL_TH_ACK, NULL, 0, 65535));
	assert_true(sl_memcap_used(&t->mc) > 0);
	sl_tcp_flush(t->ctx, &t->s, &t->io);
	assert_int_equal(t->rec.ncalls, 5);
	assert_int_equal(t->rec.calls[1].gap, 5);
	assert_int_equal(t->rec.calls[2].gap, 5);
	assert_null(t->rec.calls[2].pkt);
	/* a hole before the FIN, then EOF */
	assert_int_equal(t->rec.calls[3].flags, SL_SLICE_EOF | SL_SLICE_GAP);
	assert_int_equal(t->rec.calls[3].off, 30);
	assert_int_equal(t->rec.calls[4].dir, SL_TO_CLIENT);
	assert_int_equal(sl_memcap_used(&t->mc), 0);
	assert_int_equal(sl_tcp_session_mem(&t->s), 0);
	assert_true(sl_tcp_closed(&t->s));
	assert_clean(t);
	th_free(t);
}

/* Memcap refusals around the stream buffer: the history is given up, bytes
 * the consumer left are lost to it (replay) or the segment that would have
 * to join them is dropped (inline). */
static void memcap_stream_buffer(void **st)
{
	static char big[4500];

	memset(big, 'x', sizeof(big));
	for (int inl = 0; inl < 2; inl++) {
		struct sl_tcp_config cfg;
		struct th *t;

		/* no room for any buffer: delivery goes on without history,
		 * and what the consumer leaves is announced lost at once */
		sl_tcp_config_default(&cfg);
		cfg.inline_mode = inl;
		t = established(&cfg, 3000);
		t->rec.mode = TH_LINES;
		assert_int_equal(th_data(t, SL_TO_SERVER, CD, SD, "HEL", 3), SL_TCP_ACCEPT);
		assert_int_equal(t->rec.ncalls, 2);
		assert_int_equal(t->rec.calls[1].flags, SL_SLICE_GAP);
		assert_int_equal(t->rec.calls[1].gap, 3);
		assert_int_equal(t->rec.calls[1].len, 0);
		assert_int_equal(th_data(t, SL_TO_SERVER, CD + 3, SD, "LO\r\n", 4), SL_TCP_ACCEPT);
		assert_stream(t, SL_TO_SERVER, "LO\r\n", 4);
		/* retransmissions of those bytes cannot be compared */
		assert_int_equal(th_data(t, SL_TO_SERVER, CD + 3, SD, "XX\r\n", 4),
				 SL_TCP_IGNORED);
		assert_int_equal(t->ctr.v[SL_CTR_TCP_UNVERIFIED], 1);
		assert_true(t->ctr.v[SL_CTR_TCP_MEMCAP_HITS] >= 2);
		assert_int_equal(sl_memcap_used(&t->mc), 0);
		assert_clean(t);
		th_free(t);

		/* room for one small buffer: "HEL" is kept, but joining 4500
		 * more bytes to it is refused */
		t = established(&cfg, 4096 + 200);
		t->rec.mode = TH_LINES;
		assert_int_equal(th_data(t, SL_TO_SERVER, CD, SD, "HEL", 3), SL_TCP_ACCEPT);
		assert_int_equal(t->rec.ncalls, 1);
		if (inl) {
			assert_int_equal(th_data(t, SL_TO_SERVER, CD + 3, SD, big, 4500),
					 SL_TCP_DROP);
			assert_int_equal(t->rec.ncalls, 1);
		} else {
			assert_int_equal(th_data(t, SL_TO_SERVER, CD + 3, SD, big, 4500),
					 SL_TCP_ACCEPT);
			/* the new bytes alone, behind a gap of the 3 left */
			assert_int_equal(t->rec.calls[1].flags, SL_SLICE_GAP);
			assert_int_equal(t->rec.calls[1].gap, 3);
			assert_int_equal(t->rec.calls[1].off, 3);
			assert_int_equal(t->rec.calls[1].len, 4500);
		}
		assert_clean(t);
		th_free(t);
	}
}

static void fin_drops_queued_beyond(void **st)
{
	struct th *t = established(NULL, 0);

	assert_int_equal(th_data(t, SL_TO_SERVER, CD + 20, SD, ALPHA + 20, 10), SL_TCP_ACCEPT);
	assert_int_equal(th_data(t, SL_TO_SERVER, CD + 8, SD, ALPHA + 8, 4), SL_TCP_ACCEPT);
	/* FIN at 10: the run 20..30 is past the end, 8..12 is cut at 10 */
	assert_int_equal(th_send(t, SL_TO_SERVER, th_pkt(t, CD + 5, SD, SL_TH_FIN | SL_TH_ACK,
							 ALPHA + 5, 5, 65535)),
			 SL_TCP_ACCEPT);
	assert_int_equal(t->rec.anom[SL_ANOM_STREAM_DATA_AFTER_FIN], 1);
	assert_int_equal(t->s.half[0].ooo_bytes, 5);
	assert_int_equal(th_data(t, SL_TO_SERVER, CD, SD, ALPHA, 5), SL_TCP_ACCEPT);
	assert_stream(t, SL_TO_SERVER, ALPHA, 10);
	assert_true(t->rec.eof[0]);
	/* the history lives until the receiver ACKs (the FIN too) */
	assert_true(sl_memcap_used(&t->mc) > 0);
	th_send(t, SL_TO_CLIENT, th_pkt(t, SD, CD + 11, SL_TH_ACK, NULL, 0, 65535));
	assert_int_equal(sl_memcap_used(&t->mc), 0);
	assert_clean(t);
	th_free(t);
}

/* A big hole filled at once: one call, then the buffer shrinks back. */
static void big_fill_gives_memory_back(void **st)
{
	enum { N = 600000 };
	struct sl_tcp_config cfg;
	struct sl_packet *fill;
	uint8_t *data = malloc(N);
	uint32_t seed = 99;
	struct th *t;

	for (uint32_t i = 0; i < N; i++)
		data[i] = (uint8_t)th_rand(&seed);
	sl_tcp_config_default(&cfg);
	cfg.history = 64u << 10;
	t = th_new(&cfg, 0, N);
	th_handshake(t, C, S, 7, 7, 65535, 65535);
	/* the server opens its window (65535 << 7) */
	th_send(t, SL_TO_CLIENT, th_pkt(t, SD, CD, SL_TH_ACK, NULL, 0, 65535));
	for (uint32_t off = 1000; off < N; off += 1448)
		assert_int_equal(th_data(t, SL_TO_SERVER, CD + off, SD, data + off,
					 SL_MIN(1448u, N - off)), SL_TCP_ACCEPT);
	assert_int_equal(t->rec.ncalls, 0);
	fill = th_pkt(t, CD, SD, ACKPSH, data, 1000, 65535);
	assert_int_equal(th_send(t, SL_TO_SERVER, fill), SL_TCP_ACCEPT);
	assert_int_equal(t->rec.ncalls, 1);
	assert_int_equal(t->rec.calls[0].len, N);
	assert_ptr_equal(t->rec.calls[0].pkt, fill);
	assert_stream(t, SL_TO_SERVER, data, N);
	/* only the history (64 KiB) is left, in a buffer sized for it */
	assert_true(sl_tcp_session_mem(&t->s) <= (256u << 10) + 64);
	assert_int_equal(sl_tcp_session_mem(&t->s), sl_memcap_used(&t->mc));
	assert_clean(t);
	th_free(t);
	free(data);
}

/* The engine bypasses a direction (sl_tcp_stop): no more calls, no memory. */
static void engine_stop(void **st)
{
	struct th *t = established(NULL, 0);

	t->rec.mode = TH_LINES;
	th_data(t, SL_TO_CLIENT, SD, CD, "220 partial", 11);
	assert_true(sl_tcp_session_mem(&t->s) > 0);
	sl_tcp_stop(t->ctx, &t->s, SL_TO_CLIENT);
	assert_int_equal(sl_tcp_session_mem(&t->s), 0);
	assert_int_equal(th_data(t, SL_TO_CLIENT, SD + 11, CD, " line\r\n", 7), SL_TCP_ACCEPT);
	assert_int_equal(t->rec.ncalls, 1);
	assert_int_equal(sl_memcap_used(&t->mc), 0);
	assert_clean(t);
	th_free(t);
}

static void session_is_small(void **st)
{
	assert_true(sizeof(struct sl_tcp_session) <= 128);
}

/* Random stream, random segmentation, reordering and duplication (with the
 * right bytes): the exact stream comes out, with no anomaly at all. */
static void property_random(void **st)
{
	enum { MAXLEN = 300000, MAXSEG = 4096 };
	static uint8_t data[MAXLEN];
	static uint32_t segs[MAXSEG][2];
	static uint32_t order[MAXSEG * 2];

	for (uint32_t seed = 1; seed <= 40; seed++) {
		uint32_t rnd = seed * 2654435761u, len = 20000 + th_rand(&rnd) % (MAXLEN - 20000);
		uint32_t isn = th_rand(&rnd), n = 0, no = 0, maxseg = 1 + th_rand(&rnd) % 1460;
		struct sl_tcp_config cfg;
		struct th *t;

		sl_tcp_config_default(&cfg);
		cfg.ooo_max_runs = 4096;
		cfg.ooo_depth = MAXLEN;
		t = th_new(&cfg, 0, MAXLEN);
		t->rec.mode = seed % 3 == 0 ? TH_RANDOM : TH_ALL;
		t->rec.rnd = seed;
		for (uint32_t i = 0; i < len; i++)
			data[i] = (uint8_t)th_rand(&rnd);
		for (uint32_t off = 0; off < len && n < MAXSEG;) {
			uint32_t l = 1 + th_rand(&rnd) % maxseg;

			if (off + l > len || n + 1 == MAXSEG)
				l = len - off;
			segs[n][0] = off;
			segs[n][1] = l;
			n++;
			off += l;
		}
		for (uint32_t i = 0; i < n; i++) {
			order[no++] = i;
			if (th_rand(&rnd) % 10 == 0)
				order[no++] = i;		/* duplicate */
		}
		/* local reordering: swap within a small distance */
		for (uint32_t i = 0; i + 1 < no; i++)
			if (th_rand(&rnd) % 4 == 0) {
				uint32_t j = i + 1 + th_rand(&rnd) % SL_MIN(20u, no - i - 1);
				uint32_t x = order[i];

				order[i] = order[j];
				order[j] = x;
			}
		th_handshake(t, isn, S, 7, 7, 65535, 65535);
		for (uint32_t i = 0; i < no; i++) {
			uint32_t *sg = segs[order[i]];
			enum sl_tcp_verdict v = th_data(t, SL_TO_SERVER, isn + 1 + sg[0], SD,
							data + sg[0], sg[1]);

			assert_int_not_equal(v, SL_TCP_DROP);
			if (th_rand(&rnd) % 8 == 0)	/* the receiver ACKs what it has */
				th_send(t, SL_TO_CLIENT, th_pkt(t, SD, t->s.half[0].next_seq,
								SL_TH_ACK, NULL, 0, 65535));
			if (i % 512 == 511)
				th_drop_packets(t);
		}
		th_send(t, SL_TO_SERVER, th_pkt(t, isn + 1 + len, SD, SL_TH_FIN | SL_TH_ACK, NULL,
						0, 65535));
		assert_true(t->rec.eof[0]);
		assert_stream(t, SL_TO_SERVER, data, len);
		assert_int_equal(t->rec.nanom, 0);
		assert_int_equal(t->rec.gaps, 0);
		assert_int_equal(t->ctr.v[SL_CTR_TCP_OVERLAP_CONFLICT], 0);
		assert_int_equal(t->s.half[0].ooo_bytes, 0);
		sl_tcp_flush(t->ctx, &t->s, &t->io);
		assert_int_equal(sl_memcap_used(&t->mc), 0);
		assert_clean(t);
		th_free(t);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(in_order_zero_copy),
		cmocka_unit_test(handshake_both_directions),
		cmocka_unit_test(syn_with_data),
		cmocka_unit_test(midstream_pickup),
		cmocka_unit_test(ooo_fill_names_filler),
		cmocka_unit_test(tiny_segments_random_order),
		cmocka_unit_test(duplicates_ignored),
		cmocka_unit_test(overlap_same_bytes_ok),
		cmocka_unit_test(overlap_conflict_queued),
		cmocka_unit_test(overlap_conflict_delivered),
		cmocka_unit_test(partial_overlap),
		cmocka_unit_test(sequence_wrap),
		cmocka_unit_test(window_scale),
		cmocka_unit_test(out_of_window_data_and_rst),
		cmocka_unit_test(rst_in_window),
		cmocka_unit_test(rst_answering_syn),
		cmocka_unit_test(fin_both_halves),
		cmocka_unit_test(fin_out_of_order),
		cmocka_unit_test(bad_checksum),
		cmocka_unit_test(ooo_depth_limit),
		cmocka_unit_test(ooo_runs_limit),
		cmocka_unit_test(memcap_limit),
		cmocka_unit_test(ack_beyond_hole),
		cmocka_unit_test(consumer_line_splitting),
		cmocka_unit_test(consumer_never_consumes),
		cmocka_unit_test(consumer_stop),
		cmocka_unit_test(syn_changed),
		cmocka_unit_test(flush_gaps_and_eof),
		cmocka_unit_test(memcap_stream_buffer),
		cmocka_unit_test(fin_drops_queued_beyond),
		cmocka_unit_test(big_fill_gives_memory_back),
		cmocka_unit_test(engine_stop),
		cmocka_unit_test(session_is_small),
		cmocka_unit_test(property_random),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
