/* The human summary `sluice replay` prints to stderr. */
#ifndef SL_REPLAY_SUMMARY_H
#define SL_REPLAY_SUMMARY_H

#include <stdint.h>
#include <stdio.h>

#include "worker.h"

struct sl_replay_stats {
	unsigned files, failed_files;
	uint64_t packets, bytes, events, elapsed_us;
};

void sl_replay_summary(FILE *f, const struct sl_replay_stats *st, struct sl_worker *w);

#endif
