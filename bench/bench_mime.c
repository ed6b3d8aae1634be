/* bench_mime: throughput of the streaming MIME decoder.
 *
 * Builds realistic messages in memory and feeds them in 64 KiB chunks (the
 * size TCP reassembly hands over), the way the pipeline does, with a sink that
 * touches every decoded byte count only (so the figure is the decoder's own
 * cost).  Prints MB/s of raw message input per workload and the process'
 * peak RSS.
 *
 *   mixed     text/plain (QP) + text/html + base64 attachments of 50 KiB,
 *             500 KiB and 5 MiB, 76-column lines, CRLF
 *   base64    one 5 MiB base64 attachment in a multipart
 *   7bit      a plain-text message with a 4 MiB body, no multipart
 *   7bit-mp   the same text inside a multipart (boundary scanning on)
 *
 * Usage: bench_mime [total MiB per workload, default 1024] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "bench_util.h"
#include "mime.h"


static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void base64_body(struct buf *b, size_t bytes, uint64_t *seed)
{
	static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t col = 0;

	for (size_t i = 0; i < bytes; i += 3) {
		uint32_t v = (uint32_t)rnd(seed) & 0xffffff;
		char q[4] = { a[v >> 18], a[(v >> 12) & 63], a[(v >> 6) & 63], a[v & 63] };

		put(b, q, 4);
		col += 4;
		if (col == 76) {
			put(b, "\r\n", 2);
			col = 0;
		}
	}
	if (col)
		put(b, "\r\n", 2);
}

static void text_body(struct buf *b, size_t bytes, uint64_t *seed)
{
	static const char *w[] = { "the ", "quarterly ", "report ", "is ", "attached, ",
				   "please ", "review ", "before ", "Monday. ", "Regards ",
				   "invoice ", "=3D ", "payment " };
	size_t col = 0, start = b->n;

	while (b->n - start < bytes) {
		const char *x = w[rnd(seed) % (sizeof(w) / sizeof(w[0]))];

		puts_(b, x);
		col += strlen(x);
		if (col > 68) {
			puts_(b, "\r\n");
			col = 0;
		}
	}
	puts_(b, "\r\n");
}

static const char hdr[] =
	"Received: from mx.example.org (mx.example.org [192.0.2.1])\r\n"
	"\tby mail.example.net with ESMTPS id 4Zx; Mon, 3 Mar 2025 10:00:00 +0000\r\n"
	"From: =?utf-8?B?SsO8cmdlbiBNw7xsbGVy?= <j@example.org>\r\n"
	"To: a@example.net, b@example.net\r\n"
	"Subject: =?utf-8?Q?Quarterly_report_=E2=80=93_Q1?=\r\n"
	"Date: Mon, 3 Mar 2025 10:00:00 +0000\r\n"
	"Message-ID: <bench.1@example.org>\r\n"
	"MIME-Version: 1.0\r\n";

static void build_mixed(struct buf *b, uint64_t *seed)
{
	static const size_t att[] = { 50 * 1024, 500 * 1024, 5 * 1024 * 1024 };

	puts_(b, hdr);
	puts_(b, "Content-Type: multipart/mixed; boundary=\"----=_Part_1234_5678.1700000000\"\r\n\r\n"
		 "This is a multi-part message in MIME format.\r\n"
		 "------=_Part_1234_5678.1700000000\r\n"
		 "Content-Type: text/plain; charset=utf-8\r\n"
		 "Content-Transfer-Encoding: quoted-printable\r\n\r\n");
	text_body(b, 10 * 1024, seed);
	puts_(b, "------=_Part_1234_5678.1700000000\r\n"
		 "Content-Type: text/html; charset=utf-8\r\n\r\n<html><body>\r\n");
	text_body(b, 50 * 1024, seed);
	puts_(b, "</body></html>\r\n");
	for (unsigned i = 0; i < 3; i++) {
		char h[256];

		snprintf(h, sizeof(h), "------=_Part_1234_5678.1700000000\r\n"
			 "Content-Type: application/pdf; name=\"report-%u.pdf\"\r\n"
			 "Content-Disposition: attachment; filename=\"report-%u.pdf\"\r\n"
			 "Content-Transfer-Encoding: base64\r\n\r\n", i, i);
		puts_(b, h);
		base64_body(b, att[i], seed);
	}
	puts_(b, "------=_Part_1234_5678.1700000000--\r\n");
}

static void build_b64(struct buf *b, uint64_t *seed)
{
	puts_(b, hdr);
	puts_(b, "Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\n"
		 "Content-Type: application/zip; name=\"a.zip\"\r\n"
		 "Content-Transfer-Encoding: base64\r\n\r\n");
	base64_body(b, 5 * 1024 * 1024, seed);
	puts_(b, "--b1--\r\n");
}

static void build_7bit(struct buf *b, uint64_t *seed, bool multipart)
{
	puts_(b, hdr);
	if (multipart)
		puts_(b, "Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\n"
			 "Content-Type: text/plain\r\n\r\n");
	else
		puts_(b, "Content-Type: text/plain; charset=us-ascii\r\n\r\n");
	text_body(b, 4 * 1024 * 1024, seed);
	if (multipart)
		puts_(b, "--b1--\r\n");
}

static void sink(void *u, const struct sl_mime_part *p, const uint8_t *d, size_t n)
{
	uint64_t *acc = u;

	acc[0] += n;
	acc[1] += d[n - 1];
}

/* CPU time of this thread: the figure is per core and stays meaningful on a
 * loaded machine (wall time is printed too). */
static double now(clockid_t c)
{
	struct timespec t;

	clock_gettime(c, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void run(const char *name, const struct buf *b, double total_mib)
{
	const struct sl_mime_cb cb = { .part_data = sink };
	uint64_t acc[2] = { 0, 0 };
	struct sl_counters ctr = { 0 };
	struct sl_mime *m = sl_mime_new(NULL, &cb, acc, &ctr);
	unsigned reps = (unsigned)(total_mib * 1048576.0 / (double)b->n) + 1;
	const size_t chunk = 64 * 1024;
	double t0 = now(CLOCK_THREAD_CPUTIME_ID), w0 = now(CLOCK_MONOTONIC);

	for (unsigned r = 0; r < reps; r++) {
		sl_mime_reset(m);
		for (size_t off = 0; off < b->n; off += chunk)
			sl_mime_feed(m, (const uint8_t *)b->p + off,
				     b->n - off < chunk ? b->n - off : chunk);
		sl_mime_finish(m);
	}
	double dt = now(CLOCK_THREAD_CPUTIME_ID) - t0, wall = now(CLOCK_MONOTONIC) - w0;

	printf("%-8s message %5.2f MiB x %4u: %7.1f MB/s in per CPU-second (%7.1f wall), "
	       "%7.1f MB/s decoded out, parts %llu\n", name, (double)b->n / 1048576.0, reps,
	       (double)b->n * reps / dt / 1e6, (double)b->n * reps / wall / 1e6,
	       (double)acc[0] / dt / 1e6, (unsigned long long)ctr.v[SL_CTR_MIME_PARTS] / reps);
	sl_mime_free(m);
}

int main(int argc, char **argv)
{
	double total = argc > 1 ? atof(argv[1]) : 1024;
	uint64_t seed = 0x9e3779b97f4a7c15ull;
	struct buf mixed = { 0 }, b64 = { 0 }, t7 = { 0 }, t7m = { 0 };
	struct rusage ru;

	build_mixed(&mixed, &seed);
	build_b64(&b64, &seed);
	build_7bit(&t7, &seed, false);
	build_7bit(&t7m, &seed, true);
	run("mixed", &mixed, total);
	run("base64", &b64, total);
	run("7bit", &t7, total);
	run("7bit-mp", &t7m, total);
	getrusage(RUSAGE_SELF, &ru);
	printf("peak RSS %ld KiB (the four test messages, %.1f MiB, are held in memory)\n",
	       ru.ru_maxrss, (double)(mixed.n + b64.n + t7.n + t7m.n) / 1048576.0);
	free(mixed.p);
	free(b64.p);
	free(t7.p);
	free(t7m.p);
	return 0;
}
