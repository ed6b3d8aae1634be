/* Shared body of fuzz_smtp, fuzz_imap and fuzz_pop3: one conversation
 * through sl_app with the stream's retention and the worker's duties
 * (app.h), under hooks that trap on any break of mail.h's life cycle.
 *
 * Input: byte 0 chooses the delivery (bits 0-2: cut every 2^k bytes, 0 =
 * whole chunks; bit 3: a 3-byte gap before each client chunk; bit 4: ask
 * for a tiny max_message).  The rest is chunks separated by 0xff,
 * alternating server, client, server... (an empty chunk skips a turn). */
#ifndef SL_FUZZ_MAIL_H
#define SL_FUZZ_MAIL_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"

#define FZ_TXNS 4096

struct fz_txn {
	uint8_t state;			/* 1 open, 2 ended, 3 finished */
};

struct fz {
	struct fz_txn t[FZ_TXNS];
	unsigned n;
	struct sl_app *app;
	uint8_t *buf[2];
	size_t len[2], cap[2];
	uint64_t off[2], gap[2];
	int stopped[2], eof[2];
};

static struct fz_txn *fz_t(struct sl_mail_txn *t)
{
	struct fz_txn *x = (struct fz_txn *)t;

	if (!x || x->state == 0 || x->state == 3)
		__builtin_trap();
	return x;
}

static struct sl_mail_txn *fz_begin(void *f, enum sl_proto p, enum sl_dir d,
				    const struct sl_packet *pkt)
{
	struct fz *z = f;

	(void)p; (void)d; (void)pkt;
	if (z->n == FZ_TXNS)
		return NULL;		/* the engine refusing: must be survived */
	z->t[z->n].state = 1;
	return (struct sl_mail_txn *)&z->t[z->n++];
}

static void fz_field(void *f, struct sl_mail_txn *t, enum sl_mail_field k, const char *v, size_t n)
{
	(void)f; (void)k;
	fz_t(t);
	if (n && !v)
		__builtin_trap();
}

static void fz_data(void *f, struct sl_mail_txn *t, const uint8_t *p, size_t n)
{
	(void)f;
	if (fz_t(t)->state != 1 || !n)
		__builtin_trap();
	volatile uint8_t sink = p[0] ^ p[n - 1];	/* the bytes must be readable */
	(void)sink;
}

static void fz_end(void *f, struct sl_mail_txn *t, const struct sl_packet *pkt)
{
	struct fz_txn *x = fz_t(t);

	(void)f; (void)pkt;
	if (x->state != 1)
		__builtin_trap();
	x->state = 2;
}

static void fz_reply(void *f, struct sl_mail_txn *t, const char *c, unsigned code, const char *s,
		     size_t n)
{
	(void)f; (void)c; (void)code; (void)s; (void)n;
	fz_t(t);
}

static void fz_done(void *f, struct sl_mail_txn *t)
{
	struct fz_txn *x = fz_t(t);

	(void)f;
	if (x->state != 2)
		__builtin_trap();
	x->state = 3;
}

static void fz_abort(void *f, struct sl_mail_txn *t, const char *why)
{
	(void)f;
	if (!why)
		__builtin_trap();
	fz_t(t)->state = 3;
}

static void fz_note(void *f, enum sl_flow_note n, enum sl_proto p, const struct sl_packet *pkt)
{
	(void)f; (void)n; (void)p; (void)pkt;
}

static void fz_anomaly(void *f, struct sl_mail_txn *t, enum sl_anomaly a,
		       const struct sl_packet *pkt, const char *d)
{
	(void)f; (void)pkt; (void)d;
	if (t)
		fz_t(t);
	if (a >= SL_ANOM_MAX)
		__builtin_trap();
}

static const struct sl_mail_ops fz_ops = {
	fz_begin, fz_field, fz_data, fz_end, fz_reply, fz_done, fz_abort, fz_note, fz_anomaly,
};

static int fz_offer(struct fz *z, int d, uint32_t flags)
{
	if (z->stopped[d] || z->eof[d])
		return 0;
	z->eof[d] = (flags & SL_SLICE_EOF) != 0;
	struct sl_slice s = {
		.data = z->buf[d] ? z->buf[d] : (const uint8_t *)"", .len = z->len[d],
		.offset = z->off[d], .dir = (enum sl_dir)d, .flags = flags,
		.pkt = (flags & SL_SLICE_EOF) ? NULL : (const struct sl_packet *)z,
	};
	if (z->gap[d]) {
		s.flags |= SL_SLICE_GAP;
		s.gap_len = z->gap[d];
		z->gap[d] = 0;
	}
	struct sl_consume r = sl_app_consume(z->app, &s);
	if (r.status == SL_CONSUME_STOP) {
		z->stopped[d] = 1;
		return 1;
	}
	if (r.consumed > z->len[d])
		__builtin_trap();
	if (r.consumed)
		memmove(z->buf[d], z->buf[d] + r.consumed, z->len[d] - r.consumed);
	z->len[d] -= r.consumed;
	z->off[d] += r.consumed;
	return r.consumed > 0;
}

static void fz_deliver(struct fz *z, int d, uint32_t flags)
{
	int progress = fz_offer(z, d, flags);

	while (progress) {
		d = !d;
		if (!z->len[d])
			break;
		progress = fz_offer(z, d, 0);
	}
}

static void fz_push(struct fz *z, int d, const uint8_t *p, size_t n)
{
	if (z->stopped[d])
		return;
	if (z->len[d] + n > z->cap[d]) {
		z->cap[d] = (z->len[d] + n) * 2;
		z->buf[d] = realloc(z->buf[d], z->cap[d]);
		if (!z->buf[d])
			abort();
	}
	memcpy(z->buf[d] + z->len[d], p, n);
	z->len[d] += n;
	fz_deliver(z, d, 0);
}

static int fz_run(uint16_t port, const uint8_t *data, size_t size)
{
	struct sl_app_config cfg;
	struct sl_counters ctr;
	struct fz *z;

	if (size < 1)
		return 0;
	z = calloc(1, sizeof(*z));
	if (!z)
		return 0;
	uint8_t mode = data[0];
	size_t cut = (mode & 7) ? (size_t)1 << ((mode & 7) - 1) : 0;
	sl_app_config_default(&cfg);
	if (mode & 16)
		cfg.max_message = 7;
	memset(&ctr, 0, sizeof(ctr));
	z->app = sl_app_new(&cfg, &fz_ops, z, &ctr, port);
	if (!z->app) {
		free(z);
		return 0;
	}
	int dir = SL_TO_CLIENT;
	for (size_t i = 1; i <= size;) {
		const uint8_t *e = memchr(data + i, 0xff, size - i);
		size_t n = e ? (size_t)(e - (data + i)) : size - i;
		if (dir == SL_TO_SERVER && (mode & 8) && n) {
			z->gap[dir] += 3 + z->len[dir];
			z->off[dir] += 3 + z->len[dir];
			z->len[dir] = 0;
		}
		for (size_t k = 0; k < n;) {
			size_t m = cut && cut < n - k ? cut : n - k;
			fz_push(z, dir, data + i + k, m);
			k += m;
		}
		i += n + 1;
		dir = !dir;
	}
	fz_deliver(z, SL_TO_SERVER, SL_SLICE_EOF);
	fz_deliver(z, SL_TO_CLIENT, SL_SLICE_EOF);
	sl_app_free(z->app);
	for (unsigned i = 0; i < z->n; i++)
		if (z->t[i].state != 3)
			__builtin_trap();	/* a transaction never finished */
	free(z->buf[0]);
	free(z->buf[1]);
	free(z);
	return 0;
}

#endif
