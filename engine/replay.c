#include "replay.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "pcap_source.h"

struct sl_replay {
	struct sl_worker *w;
	struct sl_inspect_worker *iw;
	struct sl_eve *eve;
	struct sl_replay_stats st;
};

static uint64_t mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
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

int sl_replay_file(struct sl_replay *r, const char *path, bool name_in_events, char *err,
		   size_t errlen)
{
	struct sl_pcap_source *src = sl_pcap_open(path, err, errlen);
	struct sl_packet p;
	enum sl_pcap_status s;
	uint64_t t0 = mono_us();
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
		sl_worker_packet(r->w, &p, p.ts_us);
	}
	if (s == SL_PCAP_ERROR) {
		snprintf(err, errlen, "%s", sl_pcap_error(src));
		r->st.failed_files++;
		rc = -1;
	}
	/* Flows end with the file, even after an error: what was read is
	 * reported. */
	sl_worker_flush(r->w);
	sl_pcap_close(src);
	r->st.elapsed_us += mono_us() - t0;
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
	free(r);
}

static void counter_line(FILE *f, const struct sl_counters *c, enum sl_counter id)
{
	if (c->v[id])
		fprintf(f, "    %-32s %llu\n", sl_counter_name(id), (unsigned long long)c->v[id]);
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
		"(%.1f MB/s, %.0f packets/s), peak RSS %ld MiB\n",
		st->files, st->files == 1 ? "" : "s", (unsigned long long)st->packets,
		st->bytes / 1e6, secs, secs > 0 ? st->bytes / 1e6 / secs : 0.0,
		secs > 0 ? st->packets / secs : 0.0, ru.ru_maxrss / 1024);
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
	if (st->failed_files)
		fprintf(f, "  %u file%s could not be read to the end (see the errors above)\n",
			st->failed_files, st->failed_files == 1 ? "" : "s");
}
