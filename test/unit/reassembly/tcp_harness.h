/* Test harness for reassembly/tcp.c, shared by the unit tests and the bench:
 * a session with its own memcap and counters, hand-built packets, and a
 * recording consumer that checks the slice contract on every call.
 *
 * The consumer keeps pos (first byte not consumed) per direction and checks:
 * offset == pos, or offset == pos + gap_len with SL_SLICE_GAP; bytes it left
 * unconsumed come back unchanged at the start of the next slice; nothing
 * after EOF.  Violations are counted in rec.errors, never asserted inside
 * the callback. */
#ifndef SL_TEST_TCP_HARNESS_H
#define SL_TEST_TCP_HARNESS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tcp.h"

enum th_mode {
	TH_ALL = 0,		/* consume everything */
	TH_LINES,		/* consume up to the last '\n' (a line parser) */
	TH_NONE,		/* never consume */
	TH_STOP,		/* answer STOP to the first slice with data */
	TH_RANDOM,		/* consume a random amount (HAProxy trace-filter style) */
};

struct th_call {
	enum sl_dir dir;
	uint64_t off, gap;
	size_t len;
	uint32_t flags;
	const struct sl_packet *pkt;
	const uint8_t *data;
};

#define TH_MAX_CALLS 4096

struct th_rec {
	enum th_mode mode;
	uint32_t rnd;
	uint8_t *out[2];		/* consumed bytes, concatenated (gaps not filled) */
	size_t out_len[2], out_cap;
	uint64_t pos[2], gap_bytes[2];
	bool eof[2];
	uint8_t *left[2];		/* copy of what was left unconsumed */
	size_t left_len[2];
	struct th_call calls[TH_MAX_CALLS];
	unsigned ncalls, total_calls, gaps;
	unsigned anom[SL_ANOM_MAX], nanom;
	unsigned errors;
};

struct th {
	struct sl_tcp_config cfg;
	struct sl_memcap mc;
	struct sl_counters ctr;
	struct sl_tcp_ctx *ctx;
	struct sl_tcp_session s;
	struct th_rec rec;
	struct sl_tcp_io io;
	struct sl_packet **pkts;	/* every packet made, so slice.pkt stays valid */
	size_t npkts, pkts_cap;
};

static inline uint32_t th_rand(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

static inline void th_error(struct th_rec *r, const char *what, const struct sl_slice *sl)
{
	if (r->errors++ < 5)
		fprintf(stderr, "contract: %s (dir %d off %llu len %zu gap %llu flags %u "
			"pos %llu)\n",
			what, sl->dir, (unsigned long long)sl->offset, sl->len,
			(unsigned long long)sl->gap_len, sl->flags,
			(unsigned long long)r->pos[sl->dir]);
}

static inline struct sl_consume th_consume(void *u, const struct sl_slice *sl)
{
	struct th_rec *r = u;
	int d = sl->dir;
	size_t n = sl->len;

	if (r->ncalls < TH_MAX_CALLS)
		r->calls[r->ncalls++] = (struct th_call){ sl->dir, sl->offset, sl->gap_len, sl->len,
							  sl->flags, sl->pkt, sl->data };
	r->total_calls++;
	if (r->eof[d])
		th_error(r, "call after EOF", sl);
	if (sl->flags & SL_SLICE_GAP) {
		r->gaps++;
		r->gap_bytes[d] += sl->gap_len;
		if (sl->gap_len == 0 || sl->offset != r->pos[d] + sl->gap_len)
			th_error(r, "gap offset", sl);
	} else {
		if (sl->offset != r->pos[d])
			th_error(r, "offset", sl);
		if (r->left_len[d] > n || (r->left_len[d] &&
					   memcmp(sl->data, r->left[d], r->left_len[d]) != 0))
			th_error(r, "unconsumed bytes changed", sl);
	}
	if (n && !sl->data)
		th_error(r, "NULL data", sl);
	switch (r->mode) {
	case TH_ALL:
		break;
	case TH_LINES:
		while (n && sl->data[n - 1] != '\n')
			n--;
		break;
	case TH_NONE:
		n = 0;
		break;
	case TH_STOP:
		if (sl->len)
			return (struct sl_consume){ SL_CONSUME_STOP, 0 };
		break;
	case TH_RANDOM:
		n = sl->len ? th_rand(&r->rnd) % (sl->len + 1) : 0;
		if (th_rand(&r->rnd) % 4 == 0)
			n = sl->len;
		break;
	}
	if (sl->flags & SL_SLICE_EOF) {
		r->eof[d] = true;
		n = sl->len;		/* a line parser takes the last partial line at EOF */
	}
	if (r->out_len[d] + n > r->out_cap) {
		r->errors++;
		n = 0;
	}
	memcpy(r->out[d] + r->out_len[d], sl->data, n);
	r->out_len[d] += n;
	r->pos[d] = sl->offset + n;
	r->left_len[d] = sl->len - n;
	r->left[d] = realloc(r->left[d], r->left_len[d] + 1);
	memcpy(r->left[d], sl->data + n, r->left_len[d]);
	return (struct sl_consume){ SL_CONSUME_OK, n };
}

static inline void th_anomaly(void *u, enum sl_anomaly a, const struct sl_packet *pkt,
			      const char *detail)
{
	struct th_rec *r = u;

	r->anom[a]++;
	r->nanom++;
}

static inline struct th *th_new(const struct sl_tcp_config *cfg, size_t memcap,
				size_t out_cap)
{
	struct th *t = calloc(1, sizeof(*t));

	if (cfg)
		t->cfg = *cfg;
	else
		sl_tcp_config_default(&t->cfg);
	sl_memcap_init(&t->mc, "stream", memcap);
	t->ctx = sl_tcp_ctx_new(&t->cfg, &t->mc, &t->ctr);
	sl_tcp_session_init(&t->s);
	t->rec.out_cap = out_cap ? out_cap : 1u << 20;
	t->rec.out[0] = malloc(t->rec.out_cap);
	t->rec.out[1] = malloc(t->rec.out_cap);
	t->rec.rnd = 2463534242u;
	t->io = (struct sl_tcp_io){ th_consume, &t->rec, th_anomaly, &t->rec };
	return t;
}

/* Frees the packets made so far (their slices must be done with). */
static inline void th_drop_packets(struct th *t)
{
	for (size_t i = 0; i < t->npkts; i++)
		free(t->pkts[i]);
	t->npkts = 0;
	t->rec.ncalls = 0;
}

static inline void th_free(struct th *t)
{
	sl_tcp_flush(t->ctx, &t->s, &t->io);
	th_drop_packets(t);
	free(t->pkts);
	sl_tcp_ctx_free(t->ctx);
	for (int d = 0; d < 2; d++) {
		free(t->rec.out[d]);
		free(t->rec.left[d]);
	}
	free(t);
}

/* A packet with the given TCP fields; payload is borrowed, as from a frame. */
static inline struct sl_packet *th_pkt(struct th *t, uint32_t seq, uint32_t ack,
				       uint8_t flags, const void *data, uint32_t len, uint16_t win)
{
	struct sl_packet *p = calloc(1, sizeof(*p));

	if (t->npkts == t->pkts_cap) {
		t->pkts_cap = t->pkts_cap ? t->pkts_cap * 2 : 64;
		t->pkts = realloc(t->pkts, t->pkts_cap * sizeof(*t->pkts));
	}
	t->pkts[t->npkts++] = p;
	p->index = t->npkts;
	p->ipver = 4;
	p->ip_proto = 6;
	p->seq = seq;
	p->ack = ack;
	p->tcp_flags = flags;
	p->payload = data;
	p->payload_len = len;
	p->win = win;
	return p;
}

static inline enum sl_tcp_verdict th_send(struct th *t, enum sl_dir dir, struct sl_packet *p)
{
	return sl_tcp_segment(t->ctx, &t->s, p, dir, &t->io);
}

/* Data segment with ACK set. */
static inline enum sl_tcp_verdict th_data(struct th *t, enum sl_dir dir, uint32_t seq,
					  uint32_t ack, const void *data, uint32_t len)
{
	return th_send(t, dir, th_pkt(t, seq, ack, SL_TH_ACK | SL_TH_PSH, data, len, 65535));
}

/* SYN, SYN/ACK, ACK; ws < 0: no window scale option. */
static inline void th_handshake(struct th *t, uint32_t cisn, uint32_t sisn, int cws,
				int sws, uint16_t cwin, uint16_t swin)
{
	struct sl_packet *p = th_pkt(t, cisn, 0, SL_TH_SYN, NULL, 0, cwin);

	if (cws >= 0) {
		p->opts.has_wscale = 1;
		p->opts.wscale = (uint8_t)cws;
	}
	th_send(t, SL_TO_SERVER, p);
	p = th_pkt(t, sisn, cisn + 1, SL_TH_SYN | SL_TH_ACK, NULL, 0, swin);
	if (sws >= 0) {
		p->opts.has_wscale = 1;
		p->opts.wscale = (uint8_t)sws;
	}
	th_send(t, SL_TO_CLIENT, p);
	th_send(t, SL_TO_SERVER, th_pkt(t, cisn + 1, sisn + 1, SL_TH_ACK, NULL, 0, cwin));
}

#endif
