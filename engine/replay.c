#include "replay.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "pcap_source.h"

/* One message's verdict latency sample (--timing). */
struct settle_sample {
	uint64_t wait_ns;		/* final packet in -> out (verdict settled) */
	uint64_t scan_ns;		/* ClamAV time of the object scanned last, 0 if
					   no scan ended while the packet was processed */
	uint64_t over_ns;		/* wait_ns - scan_ns: what the pipeline adds */
	uint64_t before_ns, after_ns;	/* packet in -> that scan's start (0 if it
					   started earlier); its end -> packet out */
};

/* The summary's rows: the overhead, then split into the pipeline before the
 * scan could start (message end, hashing, submission, queueing) and after
 * it ended (collection, verdict, events). */
static const struct {
	size_t off;
	const char *what;
} timing_rows[] = {
	{ offsetof(struct settle_sample, wait_ns), "final packet to verdict" },
	{ offsetof(struct settle_sample, scan_ns), "ClamAV scan of the last object" },
	{ offsetof(struct settle_sample, over_ns), "latency minus that scan" },
	{ offsetof(struct settle_sample, before_ns), "  packet in to that scan's start" },
	{ offsetof(struct settle_sample, after_ns), "  that scan's end to verdict" },
};

struct sl_replay {
	struct sl_worker *w;
	struct sl_inspect *in;
	struct sl_inspect_worker *iw;
	struct sl_eve *eve;
	struct sl_replay_stats st;
	bool timing;
	struct settle_sample *samples;
	size_t n_samples, cap_samples;
};

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t mono_us(void)
{
	return mono_ns() / 1000;
}

static uint64_t cpu_us(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000 +
	       (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

struct sl_replay *sl_replay_new(const struct sl_config *conf, struct sl_inspect *in,
				struct sl_eve *eve, char *err, size_t errlen)
{
	struct sl_replay *r = calloc(1, sizeof(*r));
	struct sl_worker_config wc = conf->worker;
	unsigned n;

	if (!r)
		goto oom;
	/* Replay decides each message before the next packet, so results do
	 * not depend on scan timing. */
	wc.settle_sync = true;
	wc.inline_mode = false;
	r->eve = eve;
	r->in = in;
	r->w = sl_worker_new(&wc, eve);
	if (!r->w)
		goto oom;
	r->iw = sl_inspect_worker_new(in, sl_worker_counters(r->w));
	if (!r->iw)
		goto oom;
	const struct sl_sink *sinks = sl_inspect_worker_sinks(r->iw, &n);
	sl_worker_set_sinks(r->w, sinks, n);
	return r;
oom:
	snprintf(err, errlen, "out of memory setting up the pipeline");
	sl_replay_free(r);
	return NULL;
}

void sl_replay_set_timing(struct sl_replay *r, bool on)
{
	r->timing = on;
}

static void add_sample(struct sl_replay *r, const struct settle_sample *s)
{
	if (r->n_samples == r->cap_samples) {
		size_t cap = r->cap_samples ? r->cap_samples * 2 : 1024;
		struct settle_sample *p = realloc(r->samples, cap * sizeof(*p));
		if (!p)
			return;			/* figures only: drop the sample */
		r->samples = p;
		r->cap_samples = cap;
	}
	r->samples[r->n_samples++] = *s;
}

/* One packet, timed: a packet during which messages settled yields a sample
 * per message (the same wait for each when several settle at once). */
static void timed_packet(struct sl_replay *r, struct sl_packet *p)
{
	const struct sl_worker_totals *t = sl_worker_totals(r->w);
	struct sl_scan_pool_stats ps0 = { 0 }, ps1 = { 0 };
	bool pool = sl_inspect_pool_stats(r->in, &ps0);
	uint64_t msgs = t->messages, t0 = mono_ns();

	sl_worker_packet(r->w, p, p->ts_us);
	uint64_t t1 = mono_ns();
	if (t->messages == msgs)
		return;
	if (pool)
		sl_inspect_pool_stats(r->in, &ps1);
	struct settle_sample s = { .wait_ns = t1 - t0 };
	if (ps1.scanned > ps0.scanned) {
		s.scan_ns = ps1.last_scan_ns;
		s.before_ns = ps1.last_scan_start_ns > t0 ? ps1.last_scan_start_ns - t0 : 0;
		s.after_ns = t1 > ps1.last_scan_end_ns ? t1 - ps1.last_scan_end_ns : 0;
	}
	s.over_ns = s.wait_ns > s.scan_ns ? s.wait_ns - s.scan_ns : 0;
	for (uint64_t i = msgs; i < t->messages; i++)
		add_sample(r, &s);
}

int sl_replay_file(struct sl_replay *r, const char *path, bool name_in_events, char *err,
		   size_t errlen)
{
	struct sl_pcap_source *src = sl_pcap_open(path, err, errlen);
	struct sl_packet p;
	enum sl_pcap_status s;
	uint64_t t0 = mono_us(), c0 = cpu_us();
	int rc = 0;

	r->st.files++;
	if (!src) {
		r->st.failed_files++;
		return -1;
	}
	sl_eve_set_source(r->eve, name_in_events ? path : NULL);
	while ((s = sl_pcap_next(src, &p)) == SL_PCAP_PACKET) {
		r->st.packets++;
		r->st.bytes += p.wire_len;
		if (r->timing)
			timed_packet(r, &p);
		else
			sl_worker_packet(r->w, &p, p.ts_us);
	}
	if (s == SL_PCAP_ERROR) {
		snprintf(err, errlen, "%s", sl_pcap_error(src));
		r->st.failed_files++;
		rc = -1;
	}
	/* Flows end with the file, even after an error: what was read is
	 * reported.  So does what was learnt about the file's hosts: a host
	 * that computed checksums in one capture may be offloading in the
	 * next. */
	sl_worker_flush(r->w);
	sl_worker_forget_sources(r->w);
	sl_pcap_close(src);
	r->st.elapsed_us += mono_us() - t0;
	r->st.cpu_us += cpu_us() - c0;
	r->st.events = sl_eve_count(r->eve);
	return rc;
}

const struct sl_replay_stats *sl_replay_stats(struct sl_replay *r)
{
	return &r->st;
}

struct sl_worker *sl_replay_worker(struct sl_replay *r)
{
	return r->w;
}

void sl_replay_free(struct sl_replay *r)
{
	if (!r)
		return;
	sl_worker_free(r->w);
	sl_inspect_worker_free(r->iw);
	free(r->samples);
	free(r);
}

static void counter_line(FILE *f, const struct sl_counters *c, enum sl_counter id)
{
	if (c->v[id])
		fprintf(f, "    %-32s %llu\n", sl_counter_name(id), (unsigned long long)c->v[id]);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* "p50 1.234 ms, p90 ..., p99 ..., max ..." of v (sorted in place). */
static void percentiles(FILE *f, const char *what, uint64_t *v, size_t n)
{
	static const unsigned pct[] = { 50, 90, 99 };

	qsort(v, n, sizeof(*v), cmp_u64);
	fprintf(f, "    %-36s", what);
	for (unsigned i = 0; i < 3; i++)
		fprintf(f, " p%u %.3f ms,", pct[i], v[(n - 1) * pct[i] / 100] / 1e6);
	fprintf(f, " max %.3f ms\n", v[n - 1] / 1e6);
}

static void timing_summary(FILE *f, struct sl_replay *r)
{
	size_t n = r->n_samples;
	uint64_t *v = n ? malloc(n * sizeof(*v)) : NULL;

	if (!v)
		return;
	fprintf(f, "  verdict latency, %zu messages (final packet in -> verdict settled):\n", n);
	for (size_t k = 0; k < sizeof(timing_rows) / sizeof(timing_rows[0]); k++) {
		for (size_t i = 0; i < n; i++)
			memcpy(&v[i], (const char *)&r->samples[i] + timing_rows[k].off,
			       sizeof(v[i]));
		percentiles(f, timing_rows[k].what, v, n);
	}
	free(v);
}

void sl_replay_summary(FILE *f, struct sl_replay *r)
{
	const struct sl_replay_stats *st = &r->st;
	const struct sl_counters *c = sl_worker_counters(r->w);
	const struct sl_worker_totals *t = sl_worker_totals(r->w);
	double secs = st->elapsed_us / 1e6;
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	fprintf(f, "sluice replay: %u file%s, %llu packets, %.1f MB in %.3f s "
		"(%.1f MB/s, %.0f packets/s), cpu %.3f s, peak RSS %ld MiB\n",
		st->files, st->files == 1 ? "" : "s", (unsigned long long)st->packets,
		st->bytes / 1e6, secs, secs > 0 ? st->bytes / 1e6 / secs : 0.0,
		secs > 0 ? st->packets / secs : 0.0, st->cpu_us / 1e6, ru.ru_maxrss / 1024);
	fprintf(f, "  flows: %llu (timed out %llu, evicted %llu, refused %llu); mail flows %llu\n",
		(unsigned long long)c->v[SL_CTR_FLOWS_NEW],
		(unsigned long long)c->v[SL_CTR_FLOWS_TIMEOUT],
		(unsigned long long)c->v[SL_CTR_FLOWS_EVICTED],
		(unsigned long long)c->v[SL_CTR_FLOWS_REFUSED],
		(unsigned long long)c->v[SL_CTR_MAIL_FLOWS]);
	fprintf(f, "  messages: %llu (pass %llu, alert %llu, tempfail %llu, block %llu), "
		"%llu incomplete; %llu alerts\n",
		(unsigned long long)t->messages,
		(unsigned long long)t->by_action[SL_ACTION_PASS],
		(unsigned long long)t->by_action[SL_ACTION_ALERT],
		(unsigned long long)t->by_action[SL_ACTION_TEMPFAIL],
		(unsigned long long)t->by_action[SL_ACTION_BLOCK],
		(unsigned long long)t->incomplete, (unsigned long long)t->alerts);
	bool any = false;
	for (unsigned i = 0; i < SL_ANOM_MAX; i++) {
		if (!t->anomalies[i])
			continue;
		fprintf(f, "%s%s x%llu", any ? ", " : "  anomalies: ", sl_anomaly_name(i),
			(unsigned long long)t->anomalies[i]);
		any = true;
	}
	if (any)
		fputc('\n', f);
	sl_decoder_summary(sl_worker_decoder(r->w), f);
	fprintf(f, "  counters:\n");
	for (unsigned i = 0; i < SL_CTR_MAX; i++)
		counter_line(f, c, (enum sl_counter)i);
	fprintf(f, "  events written: %llu\n", (unsigned long long)st->events);
	if (r->timing)
		timing_summary(f, r);
	if (st->failed_files)
		fprintf(f, "  %u file%s could not be read to the end (see the errors above)\n",
			st->failed_files, st->failed_files == 1 ? "" : "s");
}
