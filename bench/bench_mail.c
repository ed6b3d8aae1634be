/* bench_mail: throughput of the SMTP, IMAP and POP3 parsers (sl_app).
 *
 * Builds conversations in memory and delivers each direction in 64 KiB
 * slices with the stream's retention (what a parser leaves is offered again
 * with the next bytes) and the worker's re-offer rule (app.h).  The hooks
 * only count message bytes, so the figure is the parsers' own cost.  MB/s
 * are of wire bytes (both directions).
 *
 *   smtp-data    one 16 MiB DATA body, 76-column lines, 1% dot-stuffed
 *   smtp-bdat    the same body in BDAT chunks of 1 MiB
 *   smtp-small   pipelined sessions of 4 KiB messages (command overhead)
 *   imap-fetch   one FETCH response with a 16 MiB literal
 *   imap-deflate the same under COMPRESS=DEFLATE (inflate + parse)
 *   pop3-retr    one RETR of the 16 MiB body
 *
 * Usage: bench_mail [total MiB per workload, default 512] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "app.h"
#include "bench_util.h"

#define SLICE (64 * 1024)
#define BODY (16u << 20)


/* A conversation: each direction's bytes in one buffer (as the stream
 * holds them), and the order in which pieces of them arrive. */
struct chunk {
	int dir;
	size_t start;
};

struct conv {
	struct buf s[2];
	struct chunk *c;
	unsigned n, cap;
};

/* Where the next bytes of direction dir go: a new chunk unless the last
 * chunk is of the same direction. */
static struct buf *chunk(struct conv *cv, int dir)
{
	if (cv->n && cv->c[cv->n - 1].dir == dir)
		return &cv->s[dir];
	if (cv->n == cv->cap) {
		cv->cap = cv->cap ? 2 * cv->cap : 64;
		cv->c = realloc(cv->c, cv->cap * sizeof(*cv->c));
	}
	cv->c[cv->n].dir = dir;
	cv->c[cv->n++].start = cv->s[dir].n;
	return &cv->s[dir];
}

static size_t chunk_end(const struct conv *cv, unsigned i)
{
	for (unsigned k = i + 1; k < cv->n; k++)
		if (cv->c[k].dir == cv->c[i].dir)
			return cv->c[k].start;
	return cv->s[cv->c[i].dir].n;
}

/* ---- null hooks ---- */

static uint64_t data_bytes, messages;

static struct sl_mail_txn *h_begin(void *f, enum sl_proto p, enum sl_dir d,
				   const struct sl_packet *k)
{
	(void)f; (void)p; (void)d; (void)k;
	messages++;
	return (struct sl_mail_txn *)&messages;
}
static void h_field(void *f, struct sl_mail_txn *t, enum sl_mail_field x, const char *v, size_t n)
{
	(void)f; (void)t; (void)x; (void)v; (void)n;
}
static void h_data(void *f, struct sl_mail_txn *t, const uint8_t *p, size_t n)
{
	(void)f; (void)t; (void)p;
	data_bytes += n;
}
static void h_end(void *f, struct sl_mail_txn *t, const struct sl_packet *k)
{
	(void)f; (void)t; (void)k;
}
static void h_reply(void *f, struct sl_mail_txn *t, const char *c, unsigned x, const char *s,
		    size_t n)
{
	(void)f; (void)t; (void)c; (void)x; (void)s; (void)n;
}
static void h_done(void *f, struct sl_mail_txn *t)
{
	(void)f; (void)t;
}
static void h_abort(void *f, struct sl_mail_txn *t, const char *w)
{
	(void)f; (void)t;
	fprintf(stderr, "unexpected abort: %s\n", w);
}
static void h_note(void *f, enum sl_flow_note n, enum sl_proto p, const struct sl_packet *k)
{
	(void)f; (void)n; (void)p; (void)k;
}
static void h_anomaly(void *f, struct sl_mail_txn *t, enum sl_anomaly a,
		      const struct sl_packet *k, const char *d)
{
	(void)f; (void)t; (void)k; (void)d;
	fprintf(stderr, "anomaly %s\n", sl_anomaly_name(a));
}

static const struct sl_mail_ops ops = {
	h_begin, h_field, h_data, h_end, h_reply, h_done, h_abort, h_note, h_anomaly,
};

/* ---- delivery: a window over each direction's bytes, no copies ---- */

struct dirstate {
	const uint8_t *base;
	size_t off, avail;	/* consumed up to off; bytes up to avail arrived */
	int stopped;
};

static int offer(struct sl_app *app, struct dirstate *d, int dir)
{
	if (d->stopped || d->off == d->avail)
		return 0;
	struct sl_slice s = {
		.data = d->base + d->off, .len = d->avail - d->off, .offset = d->off,
		.dir = (enum sl_dir)dir, .pkt = (const struct sl_packet *)d,
	};
	struct sl_consume r = sl_app_consume(app, &s);
	if (r.status == SL_CONSUME_STOP) {
		d->stopped = 1;
		return 1;
	}
	d->off += r.consumed;
	return r.consumed > 0;
}

static uint64_t run(const struct conv *cv, uint16_t port)
{
	struct sl_app_config cfg;
	struct sl_counters ctr = { 0 };
	struct dirstate ds[2] = { { 0 } };
	uint64_t wire = 0;

	sl_app_config_default(&cfg);
	cfg.max_message = UINT64_MAX;
	struct sl_app *app = sl_app_new(&cfg, &ops, NULL, &ctr, port);
	ds[0].base = (const uint8_t *)cv->s[0].p;
	ds[1].base = (const uint8_t *)cv->s[1].p;
	for (unsigned i = 0; i < cv->n; i++) {
		const struct chunk *c = &cv->c[i];
		size_t end = chunk_end(cv, i);
		while (ds[c->dir].avail < end) {
			size_t m = end - ds[c->dir].avail;
			ds[c->dir].avail += m < SLICE ? m : SLICE;
			int dir = c->dir, progress = offer(app, &ds[dir], dir);
			while (progress) {
				dir = !dir;
				progress = offer(app, &ds[dir], dir);
			}
		}
		wire += end - c->start;
	}
	sl_app_free(app);
	return wire;
}

/* ---- workloads ---- */

static void body(struct buf *b, int stuffed)
{
	static const char alpha[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char line[80];
	unsigned i = 0;
	uint32_t x = 2463534242u;

	/* Pseudo-random base64 text: deflate gets realistic ratios (~1.3). */
	puts_(b, "From: a@example.org\r\nTo: b@example.net\r\nSubject: bench\r\n\r\n");
	while (b->n < BODY) {
		for (int k = 0; k < 76; k++) {
			x ^= x << 13;
			x ^= x >> 17;
			x ^= x << 5;
			line[k] = alpha[x % 64];
		}
		if (stuffed && i % 100 == 0)
			line[0] = '.';
		line[76] = '\r';
		line[77] = '\n';
		/* DATA and POP3 need the leading dot doubled on the wire. */
		if (stuffed && line[0] == '.')
			put(b, ".", 1);
		put(b, line, 78);
		i++;
	}
}

static void smtp_data(struct conv *cv)
{
	puts_(chunk(cv, 1), "220 mx ESMTP\r\n");
	puts_(chunk(cv, 0), "EHLO c\r\nMAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nDATA\r\n");
	puts_(chunk(cv, 1), "250 mx\r\n250 ok\r\n250 ok\r\n354 go\r\n");
	struct buf *b = chunk(cv, 0);
	body(b, 1);
	puts_(b, ".\r\nQUIT\r\n");
	puts_(chunk(cv, 1), "250 queued\r\n221 bye\r\n");
}

static void smtp_bdat(struct conv *cv)
{
	struct buf msg = { 0 };
	char cmd[64];

	body(&msg, 0);
	puts_(chunk(cv, 1), "220 mx ESMTP\r\n");
	struct buf *b = chunk(cv, 0);
	puts_(b, "EHLO c\r\nMAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\n");
	for (size_t o = 0; o < msg.n; o += 1u << 20) {
		size_t n = msg.n - o < (1u << 20) ? msg.n - o : (1u << 20);
		snprintf(cmd, sizeof(cmd), "BDAT %zu%s\r\n", n, o + n == msg.n ? " LAST" : "");
		puts_(b, cmd);
		put(b, msg.p + o, n);
	}
	puts_(chunk(cv, 1), "250 mx\r\n250 ok\r\n250 ok\r\n");
	free(msg.p);
}

static void smtp_small(struct conv *cv)
{
	struct buf *c, *s;
	char line[80];

	puts_(chunk(cv, 1), "220 mx ESMTP\r\n");
	memset(line, 'x', 76);
	memcpy(line + 76, "\r\n", 2);
	for (int m = 0; m < 2048; m++) {
		c = chunk(cv, 0);
		puts_(c, "MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nDATA\r\n");
		s = chunk(cv, 1);
		puts_(s, "250 ok\r\n250 ok\r\n354 go\r\n");
		c = chunk(cv, 0);
		puts_(c, "Subject: small\r\n\r\n");
		for (int l = 0; l < 52; l++)
			put(c, line, 78);
		puts_(c, ".\r\n");
		s = chunk(cv, 1);
		puts_(s, "250 queued\r\n");
	}
}

static void imap_fetch_text(struct buf *s, struct buf *msg)
{
	char hdr[96];

	snprintf(hdr, sizeof(hdr), "* 1 FETCH (UID 7 BODY[] {%zu}\r\n", msg->n);
	puts_(s, hdr);
	put(s, msg->p, msg->n);
	puts_(s, ")\r\nf OK done\r\n");
}

static void imap_fetch(struct conv *cv)
{
	struct buf msg = { 0 };

	body(&msg, 0);
	puts_(chunk(cv, 1), "* OK ready\r\n");
	puts_(chunk(cv, 0), "f UID FETCH 7 BODY.PEEK[]\r\n");
	imap_fetch_text(chunk(cv, 1), &msg);
	free(msg.p);
}

static void deflate_into(struct buf *out, const struct buf *in)
{
	z_stream z = { 0 };

	deflateInit2(&z, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY);
	size_t cap = deflateBound(&z, in->n) + 64;
	char *p = malloc(cap);
	z.next_in = (Bytef *)in->p;
	z.avail_in = (uInt)in->n;
	z.next_out = (Bytef *)p;
	z.avail_out = (uInt)cap;
	deflate(&z, Z_SYNC_FLUSH);
	put(out, p, cap - z.avail_out);
	deflateEnd(&z);
	free(p);
}

static void imap_deflate(struct conv *cv)
{
	struct buf msg = { 0 }, plain = { 0 }, cmd = { 0 };

	body(&msg, 0);
	puts_(chunk(cv, 1), "* OK ready\r\n");
	puts_(chunk(cv, 0), "z COMPRESS DEFLATE\r\n");
	puts_(chunk(cv, 1), "z OK\r\n");
	puts_(&cmd, "f UID FETCH 7 BODY.PEEK[]\r\n");
	deflate_into(chunk(cv, 0), &cmd);
	imap_fetch_text(&plain, &msg);
	deflate_into(chunk(cv, 1), &plain);
	free(msg.p);
	free(plain.p);
	free(cmd.p);
}

static void pop3_retr(struct conv *cv)
{
	puts_(chunk(cv, 1), "+OK ready\r\n");
	puts_(chunk(cv, 0), "RETR 1\r\n");
	struct buf *b = chunk(cv, 1);
	puts_(b, "+OK\r\n");
	body(b, 1);
	puts_(b, ".\r\n");
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		void (*build)(struct conv *);
		uint16_t port;
	} w[] = {
		{ "smtp-data", smtp_data, 25 },   { "smtp-bdat", smtp_bdat, 25 },
		{ "smtp-small", smtp_small, 25 }, { "imap-fetch", imap_fetch, 143 },
		{ "imap-deflate", imap_deflate, 143 }, { "pop3-retr", pop3_retr, 110 },
	};
	double total = (argc > 1 ? atof(argv[1]) : 512) * (1 << 20);

	for (unsigned i = 0; i < sizeof(w) / sizeof(w[0]); i++) {
		struct conv *cv = calloc(1, sizeof(*cv));
		w[i].build(cv);
		uint64_t wire = 0, msgs0 = messages, data0 = data_bytes;
		double t0 = bench_now(), c0 = bench_cpu_seconds();
		while ((double)wire < total)
			wire += run(cv, w[i].port);
		double t = bench_now() - t0, c = bench_cpu_seconds() - c0;
		double content = (double)(data_bytes - data0);
		printf("%-13s wire %7.0f MB/s wall %7.0f MB/s cpu | content %7.0f MB/s cpu "
		       "(%.0f MiB wire, %lu messages)\n", w[i].name, wire / t / 1e6,
		       wire / c / 1e6, content / c / 1e6, wire / 1048576.0,
		       (unsigned long)(messages - msgs0));
		free(cv->s[0].p);
		free(cv->s[1].p);
		free(cv->c);
		free(cv);
	}
	return 0;
}
