/* The offline source: capture files through one worker.  Shared by
 * `sluice replay` and `sluice check`.  Each file is a world of its own:
 * flows end with the file and packet indices restart at 1. */
#ifndef SL_REPLAY_H
#define SL_REPLAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "eve.h"
#include "inspect.h"
#include "worker.h"

struct sl_replay_stats {
	unsigned files, failed_files;
	uint64_t packets, bytes, events, elapsed_us;
	uint64_t cpu_us;		/* user + system time of the process (scan threads
					   included) while files were replayed */
};

struct sl_replay;
/* conf->worker is used as given (the caller sets directories, checksum
 * mode...); in and eve are borrowed and must outlive the replay. */
struct sl_replay *sl_replay_new(const struct sl_config *conf, struct sl_inspect *in,
				struct sl_eve *eve, char *err, size_t errlen);
/* Replays one file.  0, or -1 with the one-line error (naming the file and
 * packet) in err; events up to the fault are written either way. */
int sl_replay_file(struct sl_replay *r, const char *path, bool name_in_events, char *err,
		   size_t errlen);
/* Verdict latency (`sluice replay --timing`): for every packet that
 * settles a message, the time from the packet entering the worker to its
 * return (the worker waits for the verdict: replay settles synchronously),
 * and the ClamAV scan time of the object scanned last.  Percentiles go to
 * the summary.  Costs two clock reads per packet; off by default. */
void sl_replay_set_timing(struct sl_replay *r, bool on);
const struct sl_replay_stats *sl_replay_stats(struct sl_replay *r);
struct sl_worker *sl_replay_worker(struct sl_replay *r);
void sl_replay_summary(FILE *f, struct sl_replay *r);
void sl_replay_free(struct sl_replay *r);

#endif
