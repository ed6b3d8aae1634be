/* Logging for people: one line per event, to stderr (or a file chosen at
 * start-up).  Machine-readable output is the EVE JSON stream, not this.
 *
 * The level is set once by main before any thread starts; after that the
 * logger is read-only, so it is safe from every thread. */
#ifndef SL_LOG_H
#define SL_LOG_H

#include <stdint.h>
#include <stdio.h>

enum sl_log_level {
	SL_LOG_ERR = 0,
	SL_LOG_WARN,
	SL_LOG_NOTICE,
	SL_LOG_INFO,
	SL_LOG_DEBUG,
};

void sl_log_setup(enum sl_log_level max, FILE *out);
/* "error", "warning", "notice", "info", "debug": the log_level names. */
const char *sl_log_level_name(enum sl_log_level lvl);
/* 0 with *out set, or -1 for a name that is not a level. */
int sl_log_level_parse(const char *s, enum sl_log_level *out);
int sl_log_enabled(enum sl_log_level lvl);
void sl_log(enum sl_log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The packet path logs through a rate limit: at most 'burst' lines per
 * second per limiter; the rest are counted and summarised. */
struct sl_ratelimit {
	uint64_t window_us;
	uint32_t burst;
	uint32_t used;
	uint64_t suppressed;
};

#define SL_RATELIMIT_INIT(per_sec) { 0, (per_sec), 0, 0 }

void sl_log_rl(struct sl_ratelimit *rl, uint64_t now_us, enum sl_log_level lvl,
	       const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#endif
