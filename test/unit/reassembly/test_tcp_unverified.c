/* reassembly/tcp.c, replay-mode evidence from the receiver: bytes of
 * segments the receiver should have dropped (bad checksum, beyond its
 * window) are kept aside and delivered only when its ACK covers them and no
 * acceptable segment supplied them; an ACK for bytes not seen yet waits for
 * a late copy until the conversation moves on; a conflicting segment still
 * fills the holes around the first copy.  Inline none of this applies. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "tcp_harness.h"

#define C	1000u		/* client ISN */
#define S	5000u		/* server ISN */
#define CD	(C + 1)		/* client stream offset 0 */
#define SD	(S + 1)
#define ACKPSH	(SL_TH_ACK | SL_TH_PSH)

static struct th *session(int inl, uint16_t server_win)
{
	struct sl_tcp_config cfg;
	struct th *t;

	sl_tcp_config_default(&cfg);
	cfg.inline_mode = inl;
	t = th_new(&cfg, 1u << 20, 0);
	th_handshake(t, C, S, -1, -1, 65535, server_win);
	return t;
}

/* Client data at stream offset off; bad: with a wrong TCP checksum. */
static enum sl_tcp_verdict client(struct th *t, uint32_t off, const char *data, bool bad)
{
	struct sl_packet *p = th_pkt(t, CD + off, SD, ACKPSH, data, (uint32_t)strlen(data), 65535);

	if (bad)
		p->flags = SL_PKT_L4_CSUM_BAD;
	return th_send(t, SL_TO_SERVER, p);
}

/* The server acknowledges the client's stream up to offset off. */
static void server_ack(struct th *t, uint32_t off)
{
	th_send(t, SL_TO_CLIENT, th_pkt(t, SD, CD + off, SL_TH_ACK, NULL, 0, 65535));
}

static void expect(struct th *t, const char *want)
{
	assert_int_equal(t->rec.out_len[SL_TO_SERVER], strlen(want));
	assert_memory_equal(t->rec.out[SL_TO_SERVER], want, strlen(want));
	assert_int_equal(t->rec.errors, 0);
}

static void done(struct th *t)
{
	sl_tcp_flush(t->ctx, &t->s, &t->io);
	assert_int_equal(sl_tcp_session_mem(&t->s), 0);
	assert_int_equal(sl_memcap_used(&t->mc), 0);
	assert_int_equal(t->rec.errors, 0);
	th_free(t);
}

/* A hand-edited capture: the edited segment's checksum is wrong, yet the
 * receiver ACKs it: it had accepted those bytes. */
static void bad_checksum_acked_is_delivered(void **st)
{
	struct th *t = session(0, 65535);

	assert_int_equal(client(t, 0, "HELO a\r\n", false), SL_TCP_ACCEPT);
	assert_int_equal(client(t, 8, "MAIL FROM:<x>\r\n", true), SL_TCP_IGNORED);
	expect(t, "HELO a\r\n");
	assert_int_equal(t->ctr.v[SL_CTR_TCP_BAD_CSUM], 1);
	assert_true(sl_tcp_session_mem(&t->s) > 0);
	assert_int_equal(sl_tcp_session_mem(&t->s), sl_memcap_used(&t->mc));
	server_ack(t, 23);
	expect(t, "HELO a\r\nMAIL FROM:<x>\r\n");
	assert_int_equal(t->ctr.v[SL_CTR_TCP_CSUM_BAD_ACKED], 15);
	assert_int_equal(t->rec.anom[SL_ANOM_STREAM_UNVERIFIED_ACKED], 1);
	assert_int_equal(t->ctr.v[SL_CTR_TCP_ACK_UNSEEN], 0);
	assert_int_equal(t->rec.gaps, 0);
	/* more data goes on in order */
	assert_int_equal(client(t, 23, "DATA\r\n", false), SL_TCP_ACCEPT);
	expect(t, "HELO a\r\nMAIL FROM:<x>\r\nDATA\r\n");
	done(t);
}

/* Chaff: bad-checksum copies of bytes that acceptable segments also carry
 * lose, before and after the ACK, in order and out of order. */
static void acceptable_bytes_win(void **st)
{
	struct th *t = session(0, 65535);

	/* chaff first, then the real segment for the same range */
	assert_int_equal(client(t, 0, "EVIL!", true), SL_TCP_IGNORED);
	assert_int_equal(client(t, 0, "hello", false), SL_TCP_ACCEPT);
	/* a real segment queued behind a hole; chaff over hole and segment */
	assert_int_equal(client(t, 10, "world", false), SL_TCP_ACCEPT);
	assert_int_equal(client(t, 5, "-bad-XXXXX", true), SL_TCP_IGNORED);
	expect(t, "hello");
	server_ack(t, 15);
	/* the hole had only unverified bytes: the receiver took those */
	expect(t, "hello-bad-world");
	assert_int_equal(t->ctr.v[SL_CTR_TCP_CSUM_BAD_ACKED], 5);
	assert_int_equal(t->rec.anom[SL_ANOM_STREAM_UNVERIFIED_ACKED], 1);
	assert_int_equal(t->rec.anom[SL_ANOM_STREAM_OVERLAP_CONFLICT], 0);
	done(t);
}

/* Not acknowledged, not delivered; a partial ACK delivers only its part. */
static void only_what_is_acked(void **st)
{
	struct th *t = session(0, 65535);

	assert_int_equal(client(t, 0, "abcdefghij", true), SL_TCP_IGNORED);
	server_ack(t, 4);
	expect(t, "abcd");
	assert_int_equal(t->ctr.v[SL_CTR_TCP_CSUM_BAD_ACKED], 4);
	sl_tcp_flush(t->ctx, &t->s, &t->io);
	expect(t, "abcd");
	assert_int_equal(t->ctr.v[SL_CTR_TCP_CSUM_BAD_ACKED], 4);
	done(t);
}

/* The latest unverified copy of a byte replaces older unverified ones. */
static void latest_unverified_copy(void **st)
{
	struct th *t = session(0, 65535);

	assert_int_equal(client(t, 0, "aaaaaaaaaa", true), SL_TCP_IGNORED);
	assert_int_equal(client(t, 3, "BBB", true), SL_TCP_IGNORED);
	server_ack(t, 10);
	expect(t, "aaaBBBaaaa");
	done(t);
}

/* Inline the receiver drops what we see with a bad checksum: an ACK over
 * it is not believed and nothing is kept. */
static void inline_keeps_nothing(void **st)
{
	struct th *t = session(1, 65535);

	assert_int_equal(client(t, 0, "HELO a\r\n", true), SL_TCP_IGNORED);
	assert_int_equal(sl_tcp_session_mem(&t->s), 0);
	server_ack(t, 8);
	expect(t, "");
	assert_int_equal(t->ctr.v[SL_CTR_TCP_CSUM_BAD_ACKED], 0);
	assert_int_equal(t->rec.anom[SL_ANOM_STREAM_ACK_UNSEEN], 1);
	assert_int_equal(client(t, 0, "HELO a\r\n", false), SL_TCP_ACCEPT);
	expect(t, "HELO a\r\n");
	done(t);
}

/* The receiver ACKs a burst far beyond the window it advertised (window
 * updates missing from the capture): the refused segments are delivered,
 * and the ACK is believed because it covers exactly bytes we saw. */
static void beyond_window_acked(void **st)
{
	enum { N = 1000 };
	static char seg[4][N + 1];
	static char all[4 * N + 1];
	struct th *t = session(0, 100);

	for (int i = 0; i < 4; i++) {
		memset(seg[i], 'a' + i, N);
		memcpy(all + i * N, seg[i], N);
	}
	assert_int_equal(client(t, 0, seg[0], false), SL_TCP_ACCEPT);
	assert_int_equal(client(t, N, seg[1], false), SL_TCP_ACCEPT);
	/* window 100 + one segment of slack: these are out of window */
	assert_int_equal(client(t, 2 * N, seg[2], false), SL_TCP_IGNORED);
	assert_int_equal(client(t, 3 * N, seg[3], false), SL_TCP_IGNORED);
	assert_int_equal(t->ctr.v[SL_CTR_TCP_OUT_OF_WINDOW], 2);
	assert_int_equal(t->rec.out_len[SL_TO_SERVER], 2 * N);
	server_ack(t, 4 * N);
	assert_int_equal(t->rec.out_len[SL_TO_SERVER], 4 * N);
	assert_memory_equal(t->rec.out[SL_TO_SERVER], all, 4 * N);
	assert_int_equal(t->ctr.v[SL_CTR_TCP_OUT_OF_WINDOW_ACKED], 2 * N);
	assert_int_equal(t->ctr.v[SL_CTR_TCP_ACK_UNSEEN], 0);
	/* an ACK that far beyond with nothing held is still not believed */
	server_ack(t, 4 * N + 1000000);
	assert_int_equal(t->rec.gaps, 0);
	done(t);
}

/* A capture can hold an ACK before the data it acknowledges (taken on
 * several queues): the data still arrives in the stream. */
static void ack_before_data(void **st)
{
	struct th *t = session(0, 65535);

	assert_int_equal(client(t, 0, "12345", false), SL_TCP_ACCEPT);
	server_ack(t, 15);
	assert_int_equal(t->ctr.v[SL_CTR_TCP_ACK_UNSEEN], 1);
	expect(t, "12345");
	assert_int_equal(client(t, 5, "67890", false), SL_TCP_ACCEPT);
	assert_int_equal(client(t, 10, "abcde", false), SL_TCP_ACCEPT);
	expect(t, "1234567890abcde");
	assert_int_equal(t->rec.gaps, 0);
	done(t);
}

/* ... but when the sender moves beyond the ACK, the hole is given up: the
 * gap comes before the new bytes, named by the packet that moved on. */
static void ack_hole_given_up(void **st)
{
	struct th *t = session(0, 65535);
	struct sl_packet *p;

	assert_int_equal(client(t, 0, "12345", false), SL_TCP_ACCEPT);
	server_ack(t, 15);
	assert_int_equal(client(t, 5, "678", false), SL_TCP_ACCEPT);
	assert_int_equal(t->rec.gaps, 0);
	p = th_pkt(t, CD + 15, SD, ACKPSH, "QUIT\r\n", 6, 65535);
	assert_int_equal(th_send(t, SL_TO_SERVER, p), SL_TCP_ACCEPT);
	assert_int_equal(t->rec.gaps, 1);
	assert_int_equal(t->rec.gap_bytes[SL_TO_SERVER], 7);
	assert_ptr_equal(t->rec.calls[t->rec.ncalls - 1].pkt, p);
	expect(t, "12345678QUIT\r\n");
	done(t);
}

/* A later segment that covers a queued one with different bytes: inline it
 * is dropped; in replay the first copy stays and the segment's other bytes
 * fill the holes around it (no receiver disagrees on those). */
static void conflict_fills_holes(void **st)
{
	for (int inl = 0; inl < 2; inl++) {
		struct th *t = session(inl, 65535);

		assert_int_equal(client(t, 20, "clean", false), SL_TCP_ACCEPT);
		assert_int_equal(client(t, 15, "-----EVIL!+++++", false), SL_TCP_DROP);
		assert_int_equal(t->rec.anom[SL_ANOM_STREAM_OVERLAP_CONFLICT], 1);
		assert_int_equal(client(t, 0, "012345678901234", false), SL_TCP_ACCEPT);
		if (inl) {
			expect(t, "012345678901234");
		} else {
			expect(t, "012345678901234-----clean+++++");
			assert_int_equal(t->rec.gaps, 0);
		}
		done(t);
	}
}

/* An abort (RST with ACK) acknowledges what its sender's stack took. */
static void rst_ack_counts(void **st)
{
	struct th *t = session(0, 65535);
	struct sl_packet *p = th_pkt(t, SD, CD, ACKPSH, "221 bye\r\n", 9, 65535);

	p->flags = SL_PKT_L4_CSUM_BAD;
	assert_int_equal(th_send(t, SL_TO_CLIENT, p), SL_TCP_IGNORED);
	p = th_pkt(t, CD, SD + 9, SL_TH_RST | SL_TH_ACK, NULL, 0, 0);
	assert_int_equal(th_send(t, SL_TO_SERVER, p), SL_TCP_ACCEPT);
	assert_int_equal(t->rec.out_len[SL_TO_CLIENT], 9);
	assert_memory_equal(t->rec.out[SL_TO_CLIENT], "221 bye\r\n", 9);
	assert_int_equal(t->ctr.v[SL_CTR_TCP_CSUM_BAD_ACKED], 9);
	done(t);
}

/* Data on a SYN: a receiver without TCP Fast Open drops it, and its SYN/ACK
 * acknowledges only the SYN; the real stream then starts at ISN+1 with other
 * bytes.  In replay those are the stream (no conflict); inline the SYN data
 * is inspected (the receiver might take it) and the real bytes conflict. */
static void syn_data_not_acked(void **st)
{
	for (int inl = 0; inl < 2; inl++) {
		struct sl_tcp_config cfg;
		struct th *t;

		sl_tcp_config_default(&cfg);
		cfg.inline_mode = inl;
		t = th_new(&cfg, 1u << 20, 0);
		th_send(t, SL_TO_SERVER, th_pkt(t, C, 0, SL_TH_SYN, "MAIL FROM:<spoof>\r\n", 19, 65535));
		assert_int_equal(t->rec.anom[SL_ANOM_STREAM_SYN_DATA], 1);
		th_send(t, SL_TO_CLIENT, th_pkt(t, S, CD, SL_TH_SYN | SL_TH_ACK, NULL, 0, 65535));
		th_send(t, SL_TO_SERVER, th_pkt(t, CD, SD, SL_TH_ACK, NULL, 0, 65535));
		assert_int_equal(client(t, 0, "EHLO client\r\n", false),
				 inl ? SL_TCP_DROP : SL_TCP_ACCEPT);
		if (inl) {
			expect(t, "MAIL FROM:<spoof>\r\n");
			assert_int_equal(t->rec.anom[SL_ANOM_STREAM_OVERLAP_CONFLICT], 1);
		} else {
			expect(t, "EHLO client\r\n");
			assert_int_equal(t->rec.nanom, 1);
			assert_int_equal(t->ctr.v[SL_CTR_TCP_SYN_DATA_ACKED], 0);
		}
		done(t);
	}
}

/* Bounded: nothing beyond config.unverified_depth is kept, and the memory
 * is charged to the memcap. */
static void bounded(void **st)
{
	struct sl_tcp_config cfg;
	struct th *t;

	sl_tcp_config_default(&cfg);
	cfg.unverified_depth = 8;
	t = th_new(&cfg, 1u << 20, 0);
	th_handshake(t, C, S, -1, -1, 65535, 65535);
	assert_int_equal(client(t, 0, "0123456789", true), SL_TCP_IGNORED);
	assert_int_equal(sl_tcp_session_mem(&t->s), sl_memcap_used(&t->mc));
	/* the ACK covers more than was kept: the rest may still come */
	server_ack(t, 10);
	expect(t, "");
	/* it did not: what was kept is delivered, the rest is a gap */
	sl_tcp_flush(t->ctx, &t->s, &t->io);
	expect(t, "01234567");
	assert_int_equal(t->ctr.v[SL_CTR_TCP_CSUM_BAD_ACKED], 8);
	assert_int_equal(t->rec.gap_bytes[SL_TO_SERVER], 2);
	done(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(bad_checksum_acked_is_delivered),
		cmocka_unit_test(acceptable_bytes_win),
		cmocka_unit_test(only_what_is_acked),
		cmocka_unit_test(latest_unverified_copy),
		cmocka_unit_test(inline_keeps_nothing),
		cmocka_unit_test(beyond_window_acked),
		cmocka_unit_test(ack_before_data),
		cmocka_unit_test(ack_hole_given_up),
		cmocka_unit_test(conflict_fills_holes),
		cmocka_unit_test(rst_ack_counts),
		cmocka_unit_test(syn_data_not_acked),
		cmocka_unit_test(bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
