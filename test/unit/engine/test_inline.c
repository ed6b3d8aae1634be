/* The worker's inline path (engine/worker_inline.c) without a kernel: an
 * SMTP session of crafted packets through sl_worker_packet() with a fake
 * source (records holds, verdicts, injected packets) and a fake
 * asynchronous sink (answers when the test says, "VIRUS" blocks).
 *
 * Checks: the packet completing a message is held until its verdict and
 * released in order; its retransmission is dropped; a block rewrites the
 * held packet as an RST toward the server (seq = the held segment's) and
 * injects "554 5.7.1" + FIN toward the client with the client's and server's
 * next sequence numbers; a body pipelined before 354 is held until the
 * parser took it; the deadline applies the tempfail policy (451). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "bytes.h"
#include "decode_back.h"
#include "inject.h"
#include "worker.h"

/* ---- fake source ---- */

struct rec_verdict {
	uint32_t id;
	enum sl_pkt_action a;
	uint8_t payload[128];
	uint32_t len;
};

struct src {
	uint32_t holds[64];
	unsigned n_holds;
	struct rec_verdict v[64];
	unsigned n_v;
	uint8_t inj[16][600];
	uint32_t inj_len[16];
	unsigned n_inj;
};

static void f_hold(void *u, uint32_t id)
{
	struct src *s = u;

	s->holds[s->n_holds++] = id;
}

static void f_verdict(void *u, uint32_t id, enum sl_pkt_action a, const uint8_t *payload,
		      uint32_t len)
{
	struct src *s = u;
	struct rec_verdict *r = &s->v[s->n_v++];

	r->id = id;
	r->a = a;
	r->len = len;
	if (payload)
		memcpy(r->payload, payload, len < sizeof(r->payload) ? len : sizeof(r->payload));
}

static int f_inject(void *u, const uint8_t *pkt, uint32_t len, const struct sl_l2_path *l2)
{
	struct src *s = u;

	assert_null(l2);		/* no link information: routed */
	assert_true(len <= sizeof(s->inj[0]));
	memcpy(s->inj[s->n_inj], pkt, len);
	s->inj_len[s->n_inj++] = len;
	return 0;
}

static const struct sl_inline_ops ops = { f_hold, f_verdict, f_inject };

/* ---- fake asynchronous sink ---- */

struct pend {
	struct sl_msg *m;
	bool virus;
};

struct judge {
	struct pend p[8];
	unsigned n;
};

struct jstate {
	bool virus;
	char tail[5];
};

static int j_begin(void *self, struct sl_object *o, void **state)
{
	(void)self;
	(void)o;
	*state = calloc(1, sizeof(struct jstate));
	return 0;
}

static void j_data(void *self, struct sl_object *o, void *state, const uint8_t *p, size_t n)
{
	struct jstate *js = state;

	(void)self;
	(void)o;
	if (memmem(p, n, "VIRUS", 5))
		js->virus = true;
}

static enum sl_sink_end j_end(void *self, struct sl_object *o, void *state)
{
	struct judge *j = self;
	struct jstate *js = state;

	sl_msg_pend(o->msg);
	j->p[j->n++] = (struct pend){ o->msg, js->virus };
	free(js);
	return SL_SINK_PENDING;
}

static void j_abort(void *self, struct sl_object *o, void *state)
{
	(void)self;
	(void)o;
	free(state);
}

static void j_collect(void *self)
{
	struct judge *j = self;

	for (unsigned i = 0; i < j->n; i++) {
		if (j->p[i].virus)
			sl_verdict_add(&j->p[i].m->verdict, SL_REASON_VIRUS, SL_ACTION_BLOCK,
				       "Test.VIRUS", NULL, 0);
		sl_msg_unpend(j->p[i].m);
	}
	j->n = 0;
}

static const struct sl_sink_ops judge_ops = {
	.name = "judge",
	.scopes = 1u << SL_SCOPE_RAW,
	.begin = j_begin,
	.data = j_data,
	.end = j_end,
	.abort = j_abort,
	.collect = j_collect,
};

/* ---- a session ---- */

#define CLI 0x0a000001u
#define SRV 0x0a000002u

struct sess {
	struct sl_worker *w;
	struct sl_eve *eve;
	struct src src;
	struct judge judge;
	struct sl_sink sink;
	uint32_t cseq, sseq;		/* next sequence numbers */
	uint32_t id;			/* packet ids */
	uint64_t now;
	uint8_t buf[2048];
	struct sl_packet last;
};

static struct sl_addr addr(uint32_t ip)
{
	return test_v4(ip);
}

/* Sends one segment; returns the worker's action.  Sequence numbers advance
 * unless 'again' (a retransmission of the last segment from that side). */
static enum sl_pkt_action seg(struct sess *s, bool from_client, uint8_t flags, const char *data,
			      bool again)
{
	uint32_t len = data ? (uint32_t)strlen(data) : 0;
	uint32_t *seq = from_client ? &s->cseq : &s->sseq;
	struct sl_craft c = {
		.src = addr(from_client ? CLI : SRV), .dst = addr(from_client ? SRV : CLI),
		.sport = from_client ? 40000 : 25, .dport = from_client ? 25 : 40000,
		.seq = again ? *seq - len : *seq, .ack = from_client ? s->sseq : s->cseq,
		.flags = flags, .window = 1000, .payload = (const uint8_t *)data,
		.payload_len = len,
	};
	if (flags & SL_TH_SYN)
		c.ack = (flags & SL_TH_ACK) ? s->cseq : 0;
	size_t n = sl_craft_tcp(s->buf, sizeof(s->buf), &c);
	assert_true(n > 0);
	if (!again)
		*seq += len + !!(flags & (SL_TH_SYN | SL_TH_FIN));
	struct sl_packet *p = &s->last;
	memset(p, 0, sizeof(*p));
	p->index = ++s->id;
	p->src_id = s->id;
	p->ts_us = s->now += 1000;
	p->frame = s->buf;
	p->cap_len = p->wire_len = (uint32_t)n;
	p->linktype = 101;
	return sl_worker_packet(s->w, p, p->ts_us);
}

static enum sl_pkt_action cli(struct sess *s, const char *d)
{
	return seg(s, true, SL_TH_ACK | SL_TH_PSH, d, false);
}

static enum sl_pkt_action srv(struct sess *s, const char *d)
{
	return seg(s, false, SL_TH_ACK | SL_TH_PSH, d, false);
}

static void start(struct sess *s, uint32_t hold_ms)
{
	struct sl_worker_config wc;

	memset(s, 0, sizeof(*s));
	sl_worker_config_default(&wc);
	wc.inline_mode = true;
	wc.decode.csum = SL_CSUM_ON;
	wc.hold_timeout_ms = hold_ms;
	s->eve = sl_eve_open("/dev/null");
	assert_non_null(s->eve);
	s->w = sl_worker_new(&wc, s->eve);
	assert_non_null(s->w);
	s->sink = (struct sl_sink){ &judge_ops, &s->judge };
	sl_worker_set_sinks(s->w, &s->sink, 1);
	sl_worker_set_inline(s->w, &ops, &s->src);
	s->cseq = 1000;
	s->sseq = 5000;
	s->now = 1700000000000000ull;
	assert_int_equal(seg(s, true, SL_TH_SYN, NULL, false), SL_PKT_ACCEPT);
	assert_int_equal(seg(s, false, SL_TH_SYN | SL_TH_ACK, NULL, false), SL_PKT_ACCEPT);
	assert_int_equal(seg(s, true, SL_TH_ACK, NULL, false), SL_PKT_ACCEPT);
	assert_int_equal(srv(s, "220 mx ESMTP\r\n"), SL_PKT_ACCEPT);
	assert_int_equal(cli(s, "EHLO c\r\n"), SL_PKT_ACCEPT);
	assert_int_equal(srv(s, "250 mx\r\n"), SL_PKT_ACCEPT);
}

static void envelope(struct sess *s)
{
	assert_int_equal(cli(s, "MAIL FROM:<a@lab.test>\r\n"), SL_PKT_ACCEPT);
	assert_int_equal(srv(s, "250 ok\r\n"), SL_PKT_ACCEPT);
	assert_int_equal(cli(s, "RCPT TO:<b@lab.test>\r\n"), SL_PKT_ACCEPT);
	assert_int_equal(srv(s, "250 ok\r\n"), SL_PKT_ACCEPT);
}

static void finish(struct sess *s)
{
	sl_worker_flush(s->w);
	j_collect(&s->judge);		/* messages still pending settle */
	sl_worker_free(s->w);
	sl_eve_close(s->eve);
}

static void test_pass(void **state)
{
	struct sess *s = calloc(1, sizeof(*s));

	(void)state;
	start(s, 30000);
	envelope(s);
	assert_int_equal(cli(s, "DATA\r\n"), SL_PKT_ACCEPT);
	assert_int_equal(srv(s, "354 go\r\n"), SL_PKT_ACCEPT);
	/* Body lines pass at once: the receiver cannot act on a partial message. */
	assert_int_equal(cli(s, "Subject: hi\r\n\r\nhello\r\n"), SL_PKT_ACCEPT);
	assert_int_equal(cli(s, "more\r\n.\r\n"), SL_PKT_HOLD);
	uint32_t held = s->id;
	assert_int_equal(s->src.n_holds, 1);
	assert_int_equal(s->src.holds[0], held);
	assert_int_equal(s->src.n_v, 0);
	/* The client retransmits while ClamAV runs: dropped, not queued twice. */
	assert_int_equal(seg(s, true, SL_TH_ACK | SL_TH_PSH, "more\r\n.\r\n", true), SL_PKT_DROP);
	/* A pure ACK behind it waits too (order). */
	assert_int_equal(seg(s, true, SL_TH_ACK, NULL, false), SL_PKT_HOLD);
	uint32_t ack_id = s->id;
	s->judge.p[0].virus = false;
	j_collect(&s->judge);
	assert_int_equal(s->src.n_v, 2);
	assert_int_equal(s->src.v[0].id, held);
	assert_int_equal(s->src.v[0].a, SL_PKT_ACCEPT);
	assert_int_equal(s->src.v[0].len, 0);
	assert_int_equal(s->src.v[1].id, ack_id);
	assert_int_equal(s->src.v[1].a, SL_PKT_ACCEPT);
	assert_int_equal(s->src.n_inj, 0);
	/* The flow goes on. */
	assert_int_equal(srv(s, "250 queued\r\n"), SL_PKT_ACCEPT);
	const struct sl_worker_inline_stats *is = sl_worker_inline_stats(s->w);
	assert_int_equal(is->held, 2);
	assert_int_equal(is->released, 2);
	assert_int_equal(is->retrans_dropped, 1);
	assert_int_equal(is->held_now, 0);
	finish(s);
	free(s);
}

static void decode_ok(const uint8_t *pkt, uint32_t len, struct sl_packet *p)
{
	assert_int_equal(test_decode(pkt, len, p), SL_DECODE_OK);
	assert_false(p->flags & (SL_PKT_L4_CSUM_BAD | SL_PKT_L4_CSUM_SKIP));
}

static void test_block(void **state)
{
	struct sess *s = calloc(1, sizeof(*s));
	struct sl_packet p;

	(void)state;
	start(s, 30000);
	envelope(s);
	assert_int_equal(cli(s, "DATA\r\n"), SL_PKT_ACCEPT);
	assert_int_equal(srv(s, "354 go\r\n"), SL_PKT_ACCEPT);
	uint32_t held_seq = s->cseq;
	assert_int_equal(cli(s, "Subject: x\r\n\r\nVIRUS\r\n.\r\n"), SL_PKT_HOLD);
	uint32_t held = s->id;
	j_collect(&s->judge);

	/* The held packet goes on as an RST to the server. */
	assert_int_equal(s->src.n_v, 1);
	assert_int_equal(s->src.v[0].id, held);
	assert_int_equal(s->src.v[0].a, SL_PKT_ACCEPT);
	decode_ok(s->src.v[0].payload, s->src.v[0].len, &p);
	assert_int_equal(p.tcp_flags, SL_TH_RST | SL_TH_ACK);
	assert_int_equal(p.seq, held_seq);
	assert_int_equal(p.dport, 25);
	assert_int_equal(p.payload_len, 0);

	/* The client gets 554 from the "server", then FIN. */
	assert_int_equal(s->src.n_inj, 2);
	decode_ok(s->src.inj[0], s->src.inj_len[0], &p);
	assert_int_equal(p.sport, 25);
	assert_int_equal(p.dport, 40000);
	assert_int_equal(p.seq, s->sseq);
	assert_int_equal(p.ack, s->cseq);
	assert_int_equal(p.tcp_flags, SL_TH_PSH | SL_TH_ACK);
	assert_true(p.payload_len > 12);
	assert_memory_equal(p.payload, "554 5.7.1 ", 10);
	assert_non_null(memmem(p.payload, p.payload_len, "virus Test.VIRUS\r\n", 18));
	uint32_t reply_len = p.payload_len;
	decode_ok(s->src.inj[1], s->src.inj_len[1], &p);
	assert_int_equal(p.tcp_flags, SL_TH_FIN | SL_TH_ACK);
	assert_int_equal(p.seq, s->sseq + reply_len);

	/* The flow is dead: the client's next words are dropped, answered by RST. */
	assert_int_equal(cli(s, "QUIT\r\n"), SL_PKT_DROP);
	assert_int_equal(s->src.n_inj, 3);
	decode_ok(s->src.inj[2], s->src.inj_len[2], &p);
	assert_int_equal(p.tcp_flags, SL_TH_RST | SL_TH_ACK);
	assert_int_equal(p.dport, 40000);
	assert_int_equal(p.ack, s->cseq);
	assert_int_equal(srv(s, "250 late\r\n"), SL_PKT_DROP);
	assert_int_equal(sl_worker_inline_stats(s->w)->refusals[SL_ACTION_BLOCK], 1);
	finish(s);
	free(s);
}

/* RFC 2920 forbids it, a hostile client does it: the body before 354. */
static void test_pipelined_body(void **state)
{
	struct sess *s = calloc(1, sizeof(*s));

	(void)state;
	start(s, 30000);
	envelope(s);
	assert_int_equal(cli(s, "DATA\r\n"), SL_PKT_ACCEPT);
	assert_int_equal(cli(s, "Subject: early\r\n\r\nbody\r\n.\r\n"), SL_PKT_HOLD);
	uint32_t body = s->id;
	assert_int_equal(s->src.n_v, 0);
	/* The 354 lets the parser read the body: the message ends, its
	 * verdict is pending, the body stays held. */
	assert_int_equal(srv(s, "354 go\r\n"), SL_PKT_ACCEPT);
	assert_int_equal(s->src.n_v, 0);
	assert_int_equal(s->judge.n, 1);
	j_collect(&s->judge);
	assert_int_equal(s->src.n_v, 1);
	assert_int_equal(s->src.v[0].id, body);
	assert_int_equal(s->src.v[0].a, SL_PKT_ACCEPT);
	assert_int_equal(sl_worker_inline_stats(s->w)->unheld_completions, 0);
	assert_true(sl_worker_inline_stats(s->w)->wait_holds >= 1);
	finish(s);
	free(s);
}

static void test_deadline_tempfail(void **state)
{
	struct sess *s = calloc(1, sizeof(*s));
	struct sl_packet p;

	(void)state;
	start(s, 10);
	envelope(s);
	assert_int_equal(cli(s, "DATA\r\n"), SL_PKT_ACCEPT);
	assert_int_equal(srv(s, "354 go\r\n"), SL_PKT_ACCEPT);
	assert_int_equal(cli(s, "Subject: slow\r\n\r\nx\r\n.\r\n"), SL_PKT_HOLD);
	/* Long after the 10 ms deadline: the default policy is tempfail. */
	sl_worker_hold_tick(s->w, UINT64_MAX / 2);
	assert_int_equal(s->src.n_v, 1);
	decode_ok(s->src.v[0].payload, s->src.v[0].len, &p);
	assert_int_equal(p.tcp_flags, SL_TH_RST | SL_TH_ACK);
	decode_ok(s->src.inj[0], s->src.inj_len[0], &p);
	assert_memory_equal(p.payload, "451 4.7.1 ", 10);
	assert_non_null(memmem(p.payload, p.payload_len, "hold-timeout", 12));
	assert_int_equal(sl_worker_inline_stats(s->w)->hold_timeouts, 1);
	/* The scan answering later changes nothing more. */
	j_collect(&s->judge);
	assert_int_equal(s->src.n_v, 1);
	finish(s);
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pass),
		cmocka_unit_test(test_block),
		cmocka_unit_test(test_pipelined_body),
		cmocka_unit_test(test_deadline_tempfail),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
