/* Live figures of `sluice inline`: what each worker publishes, how they add
 * up into one JSON object (the periodic `stats` event and the answer of the
 * stats socket), the socket itself, and `sluice stats`.
 *
 * Workers never lock on the packet path: once a second each copies its
 * figures into its own published slot (struct sl_wstats, under that
 * worker's mutex); readers copy the slots out and add them up. */
#ifndef SL_STATS_H
#define SL_STATS_H

#include <stdint.h>

#include <jansson.h>

#include "counters.h"
#include "nfq.h"
#include "scan_pool.h"
#include "worker.h"

/* One worker's published figures. */
struct sl_wstats {
	uint16_t queue;
	uint64_t flows_now;
	struct sl_counters ctr;
	struct sl_worker_totals totals;
	struct sl_worker_inline_stats inl;
	struct sl_nfq_stats nfq;
	uint64_t own_packets;		/* sluice's own injected packets seen (accepted) */
	uint64_t bypass_loops;		/* bypassed packets that came back (rules missing) */
};

/* What the process adds: uptime, the kernel's view of each queue, the scan
 * pool.  proc[i] belongs to ws[i]; proc_ok[i] false when unreadable. */
struct sl_stats_extra {
	uint64_t uptime_s;
	const struct sl_nfq_proc *proc;
	const bool *proc_ok;
	const struct sl_scan_pool_stats *pool;	/* NULL: no ClamAV */
};

/* The stats object (schema in docs/deploy.md, "Observing"). */
json_t *sl_stats_json(const struct sl_wstats *ws, unsigned n, const struct sl_stats_extra *x);
/* {"n":..,"p50":..,"p90":..,"p99":..,"max":..,"mean":..,"buckets":[[le,count],...]} */
json_t *sl_stats_hist_json(const struct sl_hist *h);

/* The unix stream socket `sluice stats` reads: created (replacing a stale
 * one), mode 0660, owned by uid/gid when they are not -1.  Returns the
 * listening fd (non-blocking) or -1 with err set. */
int sl_stats_listen(const char *path, int uid, int gid, char *err, size_t errlen);
/* Accepts one client and writes text to it (then closes).  Never blocks
 * for long: a client that does not read within a second is dropped. */
void sl_stats_serve(int lfd, const char *text);

#endif
