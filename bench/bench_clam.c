/* ClamAV scanning figures: not a test, prints numbers.
 *
 *   bench_clam [-d DATABASE] [-s SECONDS_PER_POINT]
 *
 * 1. single-thread scan throughput (sl_clam_scan) on 50 KiB .. 5 MiB buffers
 *    of text and of incompressible binary;
 * 2. latency (p50/p99/max) of a 1 MiB scan through the scan pool from
 *    submit to collect, idle and with the pool kept busy, and the pool's
 *    aggregate throughput;
 * 3. the cost of scanning the raw message with ClamAV's mail parser against
 *    scanning only its decoded attachments.
 *
 * libclamav's own clean cache is off (and the pool runs without ours), so
 * every scan is a real one.  The default database is the tiny test database:
 * with the official one (millions of signatures) the matcher costs more;
 * run with -d /var/lib/clamav for production figures. */
#include <errno.h>
#include <openssl/evp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clam.h"
#include "scan_pool.h"

#ifndef SL_BENCH_CLAMAV_DIR
#define SL_BENCH_CLAMAV_DIR "test/clamav"
#endif

static uint64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void fill_binary(uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i += 8) {
		uint64_t r = next_rand();

		memcpy(p + i, &r, n - i < 8 ? n - i : 8);
	}
}

static void fill_text(uint8_t *p, size_t n)
{
	static const char *const words[] = { "the ", "quarterly ", "report ", "shows ",
					     "revenue ", "growth ", "in ", "all ", "regions ",
					     "and ", "a ", "steady ", "margin.\r\n" };
	size_t off = 0;

	while (off < n) {
		const char *w = words[next_rand() % 13];
		size_t l = strlen(w);

		memcpy(p + off, w, n - off < l ? n - off : l);
		off += l;
	}
}

/* Makes the buffer unique so no cache (ours or ClamAV's) can answer. */
static void stamp(uint8_t *p, size_t n, uint64_t k)
{
	if (n >= 8)
		memcpy(p, &k, 8);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static struct sl_clam *load(const char *db, bool clamav_cache)
{
	struct sl_clam_config cfg;
	char err[256];
	struct sl_clam *c;

	sl_clam_config_defaults(&cfg);
	cfg.database = db;
	cfg.clamav_cache = clamav_cache;
	c = sl_clam_new(&cfg, err, sizeof(err));
	if (!c) {
		fprintf(stderr, "bench_clam: %s\n", err);
		exit(1);
	}
	return c;
}

static uint64_t cpu_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* Scans until 'secs' have passed; returns MB/s (10^6 bytes) of wall time,
 * and in *per_cpu MB per CPU-second of this thread (steadier on a shared
 * host). */
static double scan_rate(struct sl_clam_engine *e, uint8_t *buf, size_t n, double secs,
			double *per_cpu)
{
	uint64_t t0 = now_ns(), c0 = cpu_ns(), t, bytes = 0, k = 0;
	struct sl_clam_result r;

	do {
		stamp(buf, n, ++k);
		sl_clam_scan(e, buf, n, &r);
		if (r.status != SL_CLAM_CLEAN)
			fprintf(stderr, "unexpected %s %s\n", sl_clam_status_name(r.status),
				r.name);
		bytes += n;
		t = now_ns();
	} while (t - t0 < (uint64_t)(secs * 1e9));
	*per_cpu = (double)bytes / ((double)(cpu_ns() - c0) / 1e9) / 1e6;
	return (double)bytes / ((double)(t - t0) / 1e9) / 1e6;
}

static void throughput(struct sl_clam *clam, double secs)
{
	static const size_t sizes[] = { 50 * 1024, 256 * 1024, 1024 * 1024, 5 * 1024 * 1024 };
	struct sl_clam_engine *e = sl_clam_acquire(clam);
	uint8_t *buf = malloc(5 * 1024 * 1024);

	printf("== single-thread scan throughput, MB/s of wall time (per CPU-second)\n");
	printf("%10s %18s %18s\n", "size", "text", "binary");
	for (unsigned i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		double text, bin, text_cpu, bin_cpu;

		fill_text(buf, sizes[i]);
		text = scan_rate(e, buf, sizes[i], secs, &text_cpu);
		fill_binary(buf, sizes[i]);
		bin = scan_rate(e, buf, sizes[i], secs, &bin_cpu);
		printf("%9zuK %8.1f (%7.1f) %8.1f (%7.1f)\n", sizes[i] / 1024, text, text_cpu, bin,
		       bin_cpu);
	}
	free(buf);
	sl_clam_release(e);
}

struct ljob {
	struct sl_scan_job job;
	uint64_t t_submit;
};

/* Keeps 'depth' 1 MiB jobs in flight for 'secs', collecting through the
 * eventfd like a worker does.  Prints the submit-to-collect latency. */
static void pool_latency(struct sl_clam *clam, unsigned depth, double secs)
{
	struct sl_scan_pool_config cfg;
	struct sl_scan_pool *p;
	struct sl_scan_port *q;
	const size_t n = 1024 * 1024;
	uint8_t *tmpl = malloc(n);
	size_t cap = 1 << 16, cnt = 0;
	uint64_t *lat = malloc(cap * sizeof(*lat)), t0, k = 0, bytes = 0;
	unsigned inflight = 0;

	fill_text(tmpl, n);
	sl_scan_pool_config_defaults(&cfg);
	p = sl_scan_pool_new(&cfg, clam, NULL);
	q = sl_scan_port_new(p);
	t0 = now_ns();
	for (;;) {
		bool more = now_ns() - t0 < (uint64_t)(secs * 1e9);
		struct sl_scan_job *j;

		while (more && inflight < depth) {
			struct ljob *l = calloc(1, sizeof(*l));

			l->job.buf = malloc(n);
			memcpy(l->job.buf, tmpl, n);
			stamp(l->job.buf, n, ++k);
			l->job.len = n;
			l->t_submit = now_ns();
			if (sl_scan_submit(q, &l->job) != 0) {
				free(l->job.buf);
				free(l);
				break;
			}
			inflight++;
		}
		if (!inflight)
			break;
		struct pollfd pfd = { .fd = sl_scan_port_fd(q), .events = POLLIN };
		poll(&pfd, 1, -1);
		while ((j = sl_scan_port_take(q))) {
			struct ljob *l = (struct ljob *)j;

			if (cnt == cap) {
				cap *= 2;
				lat = realloc(lat, cap * sizeof(*lat));
			}
			lat[cnt++] = now_ns() - l->t_submit;
			bytes += n;
			inflight--;
			free(l);
		}
	}
	double el = (double)(now_ns() - t0) / 1e9;

	qsort(lat, cnt, sizeof(*lat), cmp_u64);
	printf("%5u in flight, %u threads: %6zu scans  p50 %7.2f ms  p99 %7.2f ms  max %7.2f ms"
	       "  %7.1f MB/s\n", depth, cfg.threads, cnt, lat[cnt / 2] / 1e6,
	       lat[cnt * 99 / 100] / 1e6, lat[cnt - 1] / 1e6, (double)bytes / el / 1e6);
	sl_scan_port_free(q);
	sl_scan_pool_free(p);
	free(lat);
	free(tmpl);
}

struct att {
	const char *type, *name;
	size_t size;
	bool text;
	uint8_t *data;
};

static void put(uint8_t **m, size_t *len, size_t *cap, const void *p, size_t n)
{
	if (*len + n > *cap) {
		*cap = (*len + n) * 2;
		*m = realloc(*m, *cap);
	}
	memcpy(*m + *len, p, n);
	*len += n;
}

static void puts_(uint8_t **m, size_t *len, size_t *cap, const char *s)
{
	put(m, len, cap, s, strlen(s));
}

/* A typical business mail: text and HTML bodies, a PDF-sized binary, a
 * spreadsheet-sized binary and a text file, all base64 except the bodies. */
static uint8_t *build_mail(struct att *a, unsigned na, size_t *out_len)
{
	uint8_t *m = NULL;
	size_t len = 0, cap = 0;
	char *b64 = malloc(8 * 1024 * 1024);

	puts_(&m, &len, &cap, "Received: from mx.example.org by mx.example.net; "
	      "Tue, 1 Oct 2024 10:00:00 +0000\r\nFrom: alice@example.org\r\n"
	      "To: bob@example.net\r\nSubject: Q3 figures\r\nMIME-Version: 1.0\r\n"
	      "Content-Type: multipart/mixed; boundary=\"=_outer\"\r\n\r\n"
	      "--=_outer\r\nContent-Type: multipart/alternative; boundary=\"=_alt\"\r\n\r\n"
	      "--=_alt\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
	      "Hello Bob, the figures are attached.\r\n"
	      "--=_alt\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
	      "<html><body><p>Hello Bob, the figures are <b>attached</b>.</p></body></html>\r\n"
	      "--=_alt--\r\n");
	for (unsigned i = 0; i < na; i++) {
		char h[256];
		int bl;

		snprintf(h, sizeof(h), "--=_outer\r\nContent-Type: %s\r\n"
			 "Content-Transfer-Encoding: base64\r\n"
			 "Content-Disposition: attachment; filename=\"%s\"\r\n\r\n", a[i].type,
			 a[i].name);
		puts_(&m, &len, &cap, h);
		bl = EVP_EncodeBlock((unsigned char *)b64, a[i].data, (int)a[i].size);
		for (int o = 0; o < bl; o += 76) {
			put(&m, &len, &cap, b64 + o, bl - o < 76 ? (size_t)(bl - o) : 76);
			puts_(&m, &len, &cap, "\r\n");
		}
	}
	puts_(&m, &len, &cap, "--=_outer--\r\n");
	free(b64);
	*out_len = len;
	return m;
}

static double scan_ms(struct sl_clam_engine *e, const uint8_t *p, size_t n)
{
	struct sl_clam_result r;
	uint64_t t0 = now_ns();

	sl_clam_scan(e, p, n, &r);
	if (r.status != SL_CLAM_CLEAN)
		fprintf(stderr, "unexpected %s %s\n", sl_clam_status_name(r.status), r.name);
	return (double)(now_ns() - t0) / 1e6;
}

/* Per message: the decoded attachments one by one (what the sink scans at
 * each part's end), then the raw message.  Every message is new (stamped),
 * so with libclamav's clean cache on, the raw scan's parts hit the cache
 * entries the attachment scans just made: the mail parser's decoding is
 * paid, its parts' matching is not. */
static void raw_vs_attachments(const char *db, bool clamav_cache, int iters)
{
	struct att a[] = {
		{ "application/pdf", "figures.pdf", 1024 * 1024, false, NULL },
		{ "application/vnd.ms-excel", "figures.xls", 300 * 1024, false, NULL },
		{ "text/csv", "figures.csv", 200 * 1024, true, NULL },
	};
	unsigned na = sizeof(a) / sizeof(a[0]);
	struct sl_clam *clam = load(db, clamav_cache);
	struct sl_clam_engine *e = sl_clam_acquire(clam);
	double t_att = 0, t_raw = 0;
	size_t raw_len = 0, dec = 0;

	for (unsigned i = 0; i < na; i++) {
		a[i].data = malloc(a[i].size);
		if (a[i].text)
			fill_text(a[i].data, a[i].size);
		else
			fill_binary(a[i].data, a[i].size);
		dec += a[i].size;
	}
	for (int it = 0; it < iters; it++) {
		uint8_t *raw;

		for (unsigned i = 0; i < na; i++)
			stamp(a[i].data, a[i].size, ((uint64_t)it << 8 | i) + 1);
		raw = build_mail(a, na, &raw_len);
		for (unsigned i = 0; i < na; i++)
			t_att += scan_ms(e, a[i].data, a[i].size);
		t_raw += scan_ms(e, raw, raw_len);
		free(raw);
	}
	t_att /= iters;
	t_raw /= iters;
	printf("libclamav cache %-3s: attachments (%u, %zu KiB) %7.2f ms, then raw message "
	       "(%zu KiB) %7.2f ms (%.2fx); total %7.2f ms\n", clamav_cache ? "on" : "off", na,
	       dec / 1024, t_att, raw_len / 1024, t_raw, t_raw / t_att, t_att + t_raw);
	for (unsigned i = 0; i < na; i++)
		free(a[i].data);
	sl_clam_release(e);
	sl_clam_free(clam);
}

int main(int argc, char **argv)
{
	const char *db = SL_BENCH_CLAMAV_DIR;
	double secs = 1.0;
	int opt;

	while ((opt = getopt(argc, argv, "d:s:")) != -1) {
		if (opt == 'd')
			db = optarg;
		else if (opt == 's')
			secs = atof(optarg);
		else
			return 2;
	}
	struct sl_clam *clam = load(db, false);
	struct sl_clam_engine *e = sl_clam_acquire(clam);

	printf("database %s: %u signatures\n", db, sl_clam_engine_signatures(e));
	sl_clam_release(e);
	throughput(clam, secs);
	printf("== 1 MiB text scans through the pool, submit to collect\n");
	pool_latency(clam, 1, secs * 2);
	pool_latency(clam, 2, secs * 2);
	pool_latency(clam, 8, secs * 2);
	sl_clam_free(clam);
	printf("== raw message (ClamAV mail parser) vs attachments only, per message\n");
	raw_vs_attachments(db, false, (int)(20 * secs) + 1);
	raw_vs_attachments(db, true, (int)(20 * secs) + 1);
	return 0;
}
