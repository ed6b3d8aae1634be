/* Test harness for the MIME decoder: records every callback into a log and
 * every part reading's bytes, and runs a message split every way (whole, one
 * byte at a time, two pieces at every position, three random pieces),
 * asserting that all runs give the same log and the same bytes.
 *
 * The decoded reading of an encoded message/rfc822 (reading >= 16 per level,
 * anomalies "(in decoded part N)") is a stream of its own whose interleaving
 * with the others depends on the cuts: each level has its own log, each
 * compared whole. */
#ifndef MIME_TEST_UTIL_H
#define MIME_TEST_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "mime.h"

#define REC_PARTS 64
#define REC_LEVELS 16	/* 256 / 16 readings per level */

struct rpart {
	uint32_t id, parent;
	uint16_t depth;
	uint8_t reading, kind;
	bool raw, att, text, open;
	char ct[64], alt_ct[64], fn[256], afn[256], enc[32], cs[32], disp[32];
	uint64_t prefix;
	uint8_t *data;
	size_t n, cap;
};

struct rlog {
	char *log;
	size_t len, cap;
};

struct rec {
	union {
		struct {
			char *log;	/* level 0: the message as read raw */
			size_t len, cap;
		};
		struct rlog dec[REC_LEVELS];	/* [k]: inside k decoded message/rfc822 */
	};
	struct rpart p[REC_PARTS];
	int np;
};

static void rec_log(struct rec *r, unsigned lvl, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void rec_log(struct rec *rr, unsigned lvl, const char *fmt, ...)
{
	struct rlog *r;
	va_list ap;
	char tmp[1024];
	int k;

	assert_true(lvl < REC_LEVELS);
	r = &rr->dec[lvl];

	va_start(ap, fmt);
	k = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (k < 0)
		return;
	if ((size_t)k >= sizeof(tmp))
		k = sizeof(tmp) - 1;
	if (r->len + (size_t)k + 1 > r->cap) {
		r->cap = (r->cap + (size_t)k + 1) * 2;
		r->log = realloc(r->log, r->cap);
		assert_non_null(r->log);
	}
	memcpy(r->log + r->len, tmp, (size_t)k + 1);
	r->len += (size_t)k;
}

static struct rpart *rec_find(struct rec *r, const struct sl_mime_part *p)
{
	for (int i = r->np - 1; i >= 0; i--)
		if (r->p[i].open && r->p[i].id == p->id && r->p[i].reading == p->reading)
			return &r->p[i];
	return NULL;
}

static void cb_header(void *u, const struct sl_mime_part *p, const char *name, const char *v,
		      size_t n)
{
	assert_int_equal(v[n], '\0');
	rec_log(u, p->reading / 16u, "H %u d%u %s=%.*s\n", p->id, p->depth, name, (int)n, v);
}

#define CPY(dst, s) snprintf(dst, sizeof(dst), "%s", (s) ? (s) : "")

static void cb_begin(void *u, const struct sl_mime_part *p)
{
	struct rec *r = u;

	assert_null(rec_find(r, p));
	assert_true(r->np < REC_PARTS);
	struct rpart *q = &r->p[r->np++];

	memset(q, 0, sizeof(*q));
	q->id = p->id;
	q->parent = p->parent;
	q->depth = p->depth;
	q->reading = p->reading;
	q->kind = p->kind;
	q->raw = p->raw_fallback;
	q->att = p->is_attachment;
	q->text = p->is_text;
	q->prefix = p->prefix_bytes;
	q->open = true;
	CPY(q->ct, p->content_type);
	CPY(q->alt_ct, p->alt_content_type);
	CPY(q->fn, p->filename);
	CPY(q->afn, p->alt_filename);
	CPY(q->enc, p->encoding);
	CPY(q->cs, p->charset);
	CPY(q->disp, p->disposition);
	rec_log(r, p->reading / 16u,
		"B %u.%u p%u d%u k%u %s alt=%s fn=%s afn=%s enc=%s cs=%s r%d a%d t%d\n", p->id,
		p->reading, p->parent, p->depth, p->kind, q->ct, q->alt_ct, q->fn, q->afn, q->enc,
		q->cs, q->raw, q->att, q->text);
}

static void cb_data(void *u, const struct sl_mime_part *p, const uint8_t *d, size_t n)
{
	struct rpart *q = rec_find(u, p);

	assert_non_null(q);
	assert_true(n > 0);
	if (q->n + n > q->cap) {
		q->cap = (q->n + n) * 2;
		q->data = realloc(q->data, q->cap);
		assert_non_null(q->data);
	}
	memcpy(q->data + q->n, d, n);
	q->n += n;
}

static uint64_t fnv(const uint8_t *d, size_t n)
{
	uint64_t h = 1469598103934665603ull;

	for (size_t i = 0; i < n; i++)
		h = (h ^ d[i]) * 1099511628211ull;
	return h;
}

static void cb_end(void *u, const struct sl_mime_part *p)
{
	struct rpart *q = rec_find(u, p);

	assert_non_null(q);
	q->open = false;
	rec_log(u, p->reading / 16u, "E %u.%u %zu %016llx pre=%llu\n", p->id, p->reading, q->n,
		(unsigned long long)fnv(q->data, q->n), (unsigned long long)p->prefix_bytes);
}

static void cb_anom(void *u, enum sl_anomaly a, const char *detail)
{
	unsigned lvl = 0;

	for (const char *d = detail; d && (d = strstr(d, "(in decoded part ")); d++)
		lvl++;
	rec_log(u, lvl, "A %s %s\n", sl_anomaly_name(a), detail ? detail : "");
}

static const struct sl_mime_cb rec_cb = {
	.header = cb_header, .part_begin = cb_begin, .part_data = cb_data,
	.part_end = cb_end, .anomaly = cb_anom,
};

static void rec_free(struct rec *r)
{
	if (!r)
		return;
	for (int i = 0; i < r->np; i++)
		free(r->p[i].data);
	for (int i = 0; i < REC_LEVELS; i++)
		free(r->dec[i].log);
	free(r);
}

/* Feeds msg cut at the given offsets (ascending). */
static struct rec *run_cuts(const uint8_t *msg, size_t n, const struct sl_mime_limits *lim,
			    const size_t *cuts, int ncuts)
{
	struct rec *r = calloc(1, sizeof(*r));
	struct sl_counters ctr = { 0 };
	struct sl_mime *m;
	size_t at = 0;

	assert_non_null(r);
	m = sl_mime_new(lim, &rec_cb, r, &ctr);
	assert_non_null(m);
	for (int i = 0; i <= ncuts; i++) {
		size_t end = i < ncuts ? cuts[i] : n;

		sl_mime_feed(m, msg + at, end - at);
		at = end;
	}
	sl_mime_finish(m);
	sl_mime_free(m);
	for (int i = 0; i < r->np; i++)
		assert_false(r->p[i].open);
	return r;
}

static void same_log(const struct rlog *a, const struct rlog *b, const char *how, size_t at)
{
	if (a->len != b->len || (a->len && memcmp(a->log, b->log, a->len) != 0)) {
		fprintf(stderr, "split %s at %zu differs:\n--- whole\n%s--- split\n%s", how, at,
			a->log ? a->log : "", b->log ? b->log : "");
		fail();
	}
}

/* The part reading of b that is a's i-th: begin order is the same within a
 * level, not across levels; (id, reading) repeats only for two decoded
 * messages in a row, in order. */
static const struct rpart *rec_match(const struct rec *a, int i, const struct rec *b)
{
	const struct rpart *q = &a->p[i];
	int k = 0;

	for (int j = 0; j < i; j++)
		k += a->p[j].id == q->id && a->p[j].reading == q->reading;
	for (int j = 0; j < b->np; j++)
		if (b->p[j].id == q->id && b->p[j].reading == q->reading && k-- == 0)
			return &b->p[j];
	return NULL;
}

static void same(const struct rec *a, const struct rec *b, const char *how, size_t at)
{
	for (int k = 0; k < REC_LEVELS; k++)
		same_log(&a->dec[k], &b->dec[k], how, at);
	assert_int_equal(a->np, b->np);
	for (int i = 0; i < a->np; i++) {
		const struct rpart *q = rec_match(a, i, b);

		assert_non_null(q);
		assert_int_equal(a->p[i].n, q->n);
		if (a->p[i].n)
			assert_memory_equal(a->p[i].data, q->data, a->p[i].n);
	}
}

/* Decodes msg every which way; returns the record of the whole-buffer run. */
static struct rec *decode_lim(const void *vmsg, size_t n, const struct sl_mime_limits *lim)
{
	const uint8_t *msg = vmsg;
	struct rec *whole = run_cuts(msg, n, lim, NULL, 0);
	size_t *cuts = malloc((n + 1) * sizeof(*cuts));
	unsigned seed = 12345;

	assert_non_null(cuts);
	for (size_t i = 0; i < n; i++)
		cuts[i] = i + 1;
	if (n > 1) {
		struct rec *r = run_cuts(msg, n, lim, cuts, (int)n - 1);

		same(whole, r, "bytewise", 0);
		rec_free(r);
	}
	/* every two-piece split (sampled above 6 KiB to bound test time) */
	size_t step = n > 6144 ? n / 3072 : 1;

	for (size_t c = 1; c < n; c += step) {
		struct rec *r = run_cuts(msg, n, lim, &c, 1);

		same(whole, r, "two", c);
		rec_free(r);
	}
	for (int t = 0; t < 16 && n > 2; t++) {
		size_t c2[2];

		seed = seed * 1103515245u + 12345u;
		c2[0] = 1 + (seed >> 8) % (n - 1);
		seed = seed * 1103515245u + 12345u;
		c2[1] = 1 + (seed >> 8) % (n - 1);
		if (c2[0] > c2[1]) {
			size_t x = c2[0];

			c2[0] = c2[1];
			c2[1] = x;
		}
		struct rec *r = run_cuts(msg, n, lim, c2, 2);

		same(whole, r, "three", c2[0]);
		rec_free(r);
	}
	free(cuts);
	return whole;
}

static struct rec *decode(const char *msg)
{
	return decode_lim(msg, strlen(msg), NULL);
}

static bool has_anom(const struct rec *r, const char *name)
{
	char k[128];

	snprintf(k, sizeof(k), "A %s ", name);
	for (int i = 0; i < REC_LEVELS; i++)
		if (r->dec[i].log && strstr(r->dec[i].log, k))
			return true;
	return false;
}

/* The i-th part reading in begin order. */
static const struct rpart *part(const struct rec *r, int i)
{
	assert_true(i < r->np);
	return &r->p[i];
}

static void assert_part_data(const struct rpart *p, const char *want)
{
	size_t n = strlen(want);

	if (p->n != n || (n && memcmp(p->data, want, n) != 0)) {
		fprintf(stderr, "part %u.%u: got %zu bytes [%.*s], want %zu [%s]\n", p->id,
			p->reading, p->n, (int)p->n, p->data ? (const char *)p->data : "", n, want);
		fail();
	}
}

#endif
