#include "harness.h"

#include <stdarg.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include <cmocka.h>

#include "packet.h"

/* ---- transcript text ---- */

struct buf {
	char *p;
	size_t len, cap;
};

static void buf_add(struct buf *b, const void *p, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->len + n + 1)
			cap *= 2;
		b->p = realloc(b->p, cap);
		assert_non_null(b->p);
		b->cap = cap;
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void buf_printf(struct buf *b, const char *fmt, ...)
{
	char tmp[1024];
	va_list ap;

	va_start(ap, fmt);
	int k = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	buf_add(b, tmp, k < (int)sizeof(tmp) ? (size_t)k : sizeof(tmp) - 1);
}

static void buf_escaped(struct buf *b, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint8_t c = p[i];
		if (c == '\r')
			buf_add(b, "\\r", 2);
		else if (c == '\n')
			buf_add(b, "\\n", 2);
		else if (c == '\\')
			buf_add(b, "\\\\", 2);
		else if (c < 32 || c >= 127)
			buf_printf(b, "\\x%02x", c);
		else
			buf_add(b, &c, 1);
	}
}

/* ---- the recording sl_mail_ops ---- */

#define MAX_TXN 4096

struct rec_txn {
	unsigned id;
	struct buf data;
	bool finished;
};

struct recorder {
	struct buf out;
	unsigned n;
	struct rec_txn *t[MAX_TXN];
};

static struct recorder last;		/* the most recent run, for conv_txn_data */

static const char *field_name(enum sl_mail_field f)
{
	static const char *const names[SL_MF_COUNT] = {
		"HELO", "MAIL_FROM", "MAIL_PARAMS", "RCPT_TO", "AUTH_USER", "IMAP_COMMAND",
		"IMAP_UID", "IMAP_MAILBOX", "IMAP_SECTION", "POP3_COMMAND",
	};
	return f < SL_MF_COUNT ? names[f] : "?";
}

static const char *note_name(enum sl_flow_note n)
{
	switch (n) {
	case SL_NOTE_DETECTED: return "DETECTED";
	case SL_NOTE_TLS: return "TLS";
	case SL_NOTE_NOT_MAIL: return "NOT_MAIL";
	case SL_NOTE_COMPRESS: return "COMPRESS";
	}
	return "?";
}

static unsigned pkt_no(const struct sl_packet *pkt)
{
	return pkt ? (unsigned)pkt->index : 0;
}

static struct rec_txn *txn_of(struct sl_mail_txn *t)
{
	struct rec_txn *x = (struct rec_txn *)t;

	assert_non_null(x);
	assert_false(x->finished);
	return x;
}

static struct sl_mail_txn *r_begin(void *flow, enum sl_proto proto, enum sl_dir dir,
				   const struct sl_packet *pkt)
{
	struct recorder *r = flow;
	struct rec_txn *x = calloc(1, sizeof(*x));

	assert_non_null(x);
	assert_true(r->n < MAX_TXN);
	x->id = ++r->n;
	r->t[x->id - 1] = x;
	buf_printf(&r->out, "begin #%u %s %s pkt=%u\n", x->id, sl_proto_name(proto),
		   sl_dir_name(dir), pkt_no(pkt));
	return (struct sl_mail_txn *)x;
}

static void r_field(void *flow, struct sl_mail_txn *t, enum sl_mail_field f, const char *v,
		    size_t n)
{
	struct recorder *r = flow;

	buf_printf(&r->out, "field #%u %s=", txn_of(t)->id, field_name(f));
	buf_escaped(&r->out, (const uint8_t *)v, n);
	buf_add(&r->out, "\n", 1);
}

static void r_data(void *flow, struct sl_mail_txn *t, const uint8_t *p, size_t n)
{
	struct rec_txn *x = txn_of(t);

	(void)flow;
	assert_true(n > 0);
	buf_add(&x->data, p, n);
}

static void flush_data(struct recorder *r, struct rec_txn *x)
{
	if (!x->data.len)
		return;
	if (x->data.len <= 400) {
		buf_printf(&r->out, "data #%u \"", x->id);
		buf_escaped(&r->out, (const uint8_t *)x->data.p, x->data.len);
		buf_add(&r->out, "\"\n", 2);
	} else {
		buf_printf(&r->out, "data #%u len=%zu crc=%08lx\n", x->id, x->data.len,
			   crc32(0, (const Bytef *)x->data.p, (uInt)x->data.len));
	}
}

static void r_end(void *flow, struct sl_mail_txn *t, const struct sl_packet *pkt)
{
	struct recorder *r = flow;
	struct rec_txn *x = txn_of(t);

	flush_data(r, x);
	buf_printf(&r->out, "end #%u pkt=%u\n", x->id, pkt_no(pkt));
}

static void r_reply(void *flow, struct sl_mail_txn *t, const char *cmd, unsigned code,
		    const char *text, size_t n)
{
	struct recorder *r = flow;

	buf_printf(&r->out, "reply #%u %s %u ", txn_of(t)->id, cmd, code);
	buf_escaped(&r->out, (const uint8_t *)text, text ? n : 0);
	buf_add(&r->out, "\n", 1);
}

static void r_done(void *flow, struct sl_mail_txn *t)
{
	struct recorder *r = flow;
	struct rec_txn *x = txn_of(t);

	buf_printf(&r->out, "done #%u\n", x->id);
	x->finished = true;
}

static void r_abort(void *flow, struct sl_mail_txn *t, const char *why)
{
	struct recorder *r = flow;
	struct rec_txn *x = txn_of(t);

	flush_data(r, x);
	buf_printf(&r->out, "abort #%u %s\n", x->id, why);
	x->finished = true;
}

static void r_note(void *flow, enum sl_flow_note n, enum sl_proto proto,
		   const struct sl_packet *pkt)
{
	struct recorder *r = flow;

	buf_printf(&r->out, "note %s %s pkt=%u\n", note_name(n), sl_proto_name(proto),
		   pkt_no(pkt));
}

static void r_anomaly(void *flow, struct sl_mail_txn *t, enum sl_anomaly a,
		      const struct sl_packet *pkt, const char *detail)
{
	struct recorder *r = flow;

	if (t)
		buf_printf(&r->out, "anomaly #%u %s", txn_of(t)->id, sl_anomaly_name(a));
	else
		buf_printf(&r->out, "anomaly %s", sl_anomaly_name(a));
	buf_printf(&r->out, detail ? " (%s)\n" : "\n", detail);
	(void)pkt;
}

static const struct sl_mail_ops rec_ops = {
	.begin = r_begin, .field = r_field, .data = r_data, .end = r_end, .reply = r_reply,
	.done = r_done, .abort = r_abort, .note = r_note, .anomaly = r_anomaly,
};

static void recorder_clear(struct recorder *r)
{
	for (unsigned i = 0; i < r->n; i++) {
		free(r->t[i]->data.p);
		free(r->t[i]);
	}
	free(r->out.p);
	memset(r, 0, sizeof(*r));
}

/* ---- the stream and the worker, simulated ---- */

struct hdir {
	struct buf b;			/* unconsumed bytes */
	uint64_t off;			/* stream offset of b.p[0] */
	const struct sl_packet *pkt;	/* newest packet of the direction */
	uint64_t gap;			/* bytes lost before the next slice */
	bool stopped;
	bool eof;			/* its last slice was delivered */
};

struct hrun {
	struct sl_app *app;
	struct hdir d[2];
	struct sl_counters ctr;
};

/* Offers direction d's bytes; returns whether any were consumed. */
static bool offer(struct hrun *h, enum sl_dir d, uint32_t flags)
{
	struct hdir *x = &h->d[d];

	if (x->stopped || x->eof)
		return false;
	x->eof = flags & SL_SLICE_EOF;
	struct sl_slice s = {
		.data = (const uint8_t *)x->b.p, .len = x->b.len, .offset = x->off,
		.dir = d, .flags = flags, .pkt = x->pkt,
	};
	if (x->gap) {
		s.flags |= SL_SLICE_GAP;
		s.gap_len = x->gap;
		x->gap = 0;
	}
	if (!s.data)
		s.data = (const uint8_t *)"";
	struct sl_consume r = sl_app_consume(h->app, &s);
	if (r.status == SL_CONSUME_STOP) {
		x->stopped = true;
		x->off += x->b.len;
		x->b.len = 0;
		return true;
	}
	assert_true(r.consumed <= x->b.len);
	if (r.consumed)
		memmove(x->b.p, x->b.p + r.consumed, x->b.len - r.consumed);
	x->b.len -= r.consumed;
	x->off += r.consumed;
	return r.consumed > 0;
}

/* app.h duty 1: alternate while deliveries make progress (a direction
 * that had its EOF slice gets no more calls, as in reassembly/tcp.h). */
static void deliver(struct hrun *h, enum sl_dir d, uint32_t flags)
{
	bool progress = offer(h, d, flags);

	while (progress) {
		d = !d;
		if (h->d[d].b.len == 0)
			break;
		progress = offer(h, d, 0);
	}
}

static void push(struct hrun *h, enum sl_dir d, const char *p, size_t n,
		 const struct sl_packet *pkt)
{
	if (h->d[d].stopped)
		return;
	buf_add(&h->d[d].b, p, n);
	h->d[d].pkt = pkt;
	deliver(h, d, 0);
}

static uint64_t rng_next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

char *conv_run(const struct conv *cv, enum conv_mode mode, size_t split_chunk, size_t split_pos)
{
	struct sl_app_config cfg;
	struct hrun h = { 0 };
	struct sl_packet *pk = calloc(cv->n + 1, sizeof(*pk));
	uint64_t seed = split_pos * 2654435761u + 1;

	assert_non_null(pk);
	recorder_clear(&last);
	if (cv->cfg)
		cfg = *cv->cfg;
	else
		sl_app_config_default(&cfg);
	h.app = sl_app_new(&cfg, &rec_ops, &last, &h.ctr, cv->port);
	assert_non_null(h.app);
	for (size_t i = 0; i < cv->n; i++) {
		const struct conv_chunk *c = &cv->chunks[i];
		pk[i].index = i + 1;
		if (!c->data && c->len == SIZE_MAX) {
			deliver(&h, c->dir, SL_SLICE_EOF);
			continue;
		}
		if (!c->data) {
			struct hdir *x = &h.d[c->dir];
			x->gap += c->len + x->b.len;
			x->off += c->len + x->b.len;
			x->b.len = 0;
			continue;
		}
		switch (mode) {
		case CONV_WHOLE:
			push(&h, c->dir, c->data, c->len, &pk[i]);
			break;
		case CONV_BYTES:
			for (size_t j = 0; j < c->len; j++)
				push(&h, c->dir, c->data + j, 1, &pk[i]);
			break;
		case CONV_SPLIT:
			if (i == split_chunk && split_pos > 0 && split_pos < c->len) {
				push(&h, c->dir, c->data, split_pos, &pk[i]);
				push(&h, c->dir, c->data + split_pos, c->len - split_pos, &pk[i]);
			} else {
				push(&h, c->dir, c->data, c->len, &pk[i]);
			}
			break;
		case CONV_RANDOM:
			for (size_t j = 0; j < c->len;) {
				size_t k = 1 + rng_next(&seed) % 7;
				if (k > c->len - j)
					k = c->len - j;
				push(&h, c->dir, c->data + j, k, &pk[i]);
				j += k;
			}
			break;
		}
	}
	/* Flow end: each direction's last slice (EOF, no packet), then free. */
	h.d[0].pkt = h.d[1].pkt = NULL;
	deliver(&h, SL_TO_SERVER, SL_SLICE_EOF);
	deliver(&h, SL_TO_CLIENT, SL_SLICE_EOF);
	sl_app_free(h.app);
	for (int d = 0; d < 2; d++)
		free(h.d[d].b.p);
	free(pk);
	/* Every transaction must be finished by now. */
	for (unsigned i = 0; i < last.n; i++)
		if (!last.t[i]->finished)
			fail_msg("transaction #%u never finished", i + 1);
	return strdup(last.out.p ? last.out.p : "");
}

static void must_match(const char *want, const char *got, const char *how, size_t a, size_t b)
{
	if (strcmp(want, got) == 0)
		return;
	fprintf(stderr, "---- transcript differs (%s %zu %zu)\n---- want:\n%s---- got:\n%s----\n",
		how, a, b, want, got);
	fail();
}

char *conv_check(const struct conv *cv, const char *expected)
{
	char *whole = conv_run(cv, CONV_WHOLE, 0, 0);

	if (getenv("SL_MAIL_PRINT"))
		fprintf(stderr, "==== transcript\n%s", whole);
	if (expected)
		must_match(expected, whole, "whole", 0, 0);
	char *t = conv_run(cv, CONV_BYTES, 0, 0);
	must_match(whole, t, "bytes", 0, 0);
	free(t);
	for (size_t i = 0; i < cv->n; i++) {
		for (size_t j = 1; cv->chunks[i].data && j < cv->chunks[i].len; j++) {
			t = conv_run(cv, CONV_SPLIT, i, j);
			must_match(whole, t, "split", i, j);
			free(t);
		}
	}
	for (size_t seed = 1; seed <= 8; seed++) {
		t = conv_run(cv, CONV_RANDOM, 0, seed);
		must_match(whole, t, "random", 0, seed);
		free(t);
	}
	/* Leave the whole run's records for conv_txn_data. */
	free(conv_run(cv, CONV_WHOLE, 0, 0));
	return whole;
}

const uint8_t *conv_txn_data(unsigned id, size_t *len)
{
	if (id == 0 || id > last.n)
		return NULL;
	*len = last.t[id - 1]->data.len;
	return (const uint8_t *)last.t[id - 1]->data.p;
}

bool str_has(const char *s, const char *sub)
{
	return strstr(s, sub) != NULL;
}

struct conv *conv_deflate(const struct conv *cv, size_t from)
{
	struct conv *o = calloc(1, sizeof(*o));
	struct conv_chunk *ch = calloc(cv->n, sizeof(*ch));
	z_stream zs[2];

	assert_true(o && ch);
	*o = *cv;
	o->chunks = ch;
	for (int d = 0; d < 2; d++) {
		memset(&zs[d], 0, sizeof(zs[d]));
		assert_int_equal(deflateInit2(&zs[d], 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY),
				 Z_OK);
	}
	for (size_t i = 0; i < cv->n; i++) {
		ch[i] = cv->chunks[i];
		char *copy;
		if (i < from) {
			copy = malloc(ch[i].len + 1);
			memcpy(copy, cv->chunks[i].data, ch[i].len);
		} else {
			z_stream *z = &zs[ch[i].dir];
			size_t cap = deflateBound(z, ch[i].len) + 64;
			copy = malloc(cap);
			z->next_in = (Bytef *)(uintptr_t)cv->chunks[i].data;
			z->avail_in = (uInt)cv->chunks[i].len;
			z->next_out = (Bytef *)copy;
			z->avail_out = (uInt)cap;
			assert_int_equal(deflate(z, Z_SYNC_FLUSH), Z_OK);
			assert_int_equal(z->avail_in, 0);
			ch[i].len = cap - z->avail_out;
		}
		ch[i].data = copy;
	}
	for (int d = 0; d < 2; d++)
		deflateEnd(&zs[d]);
	return o;
}

void conv_free(struct conv *cv)
{
	for (size_t i = 0; i < cv->n; i++)
		free((void *)(uintptr_t)cv->chunks[i].data);
	free((void *)(uintptr_t)cv->chunks);
	free(cv);
}
