#include "replay_summary.h"

#include <sys/resource.h>

static void counter_line(FILE *f, const struct sl_counters *c, enum sl_counter id)
{
	if (c->v[id])
		fprintf(f, "    %-32s %llu\n", sl_counter_name(id), (unsigned long long)c->v[id]);
}

void sl_replay_summary(FILE *f, const struct sl_replay_stats *st, struct sl_worker *w)
{
	const struct sl_counters *c = sl_worker_counters(w);
	const struct sl_worker_totals *t = sl_worker_totals(w);
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
	sl_decoder_summary(sl_worker_decoder(w), f);
	fprintf(f, "  counters:\n");
	for (unsigned i = 0; i < SL_CTR_MAX; i++)
		counter_line(f, c, (enum sl_counter)i);
	fprintf(f, "  events written: %llu%s\n", (unsigned long long)st->events,
		st->failed_files ? "" : "");
	if (st->failed_files)
		fprintf(f, "  %u file%s could not be read to the end (see the errors above)\n",
			st->failed_files, st->failed_files == 1 ? "" : "s");
}
