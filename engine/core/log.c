#include "log.h"

#include <stdarg.h>
#include <string.h>

/* Written once by sl_log_setup() in main, before threads start. */
static enum sl_log_level log_max = SL_LOG_NOTICE;
static FILE *log_out;

void sl_log_setup(enum sl_log_level max, FILE *out)
{
	log_max = max;
	log_out = out;
}

int sl_log_enabled(enum sl_log_level lvl)
{
	return lvl <= log_max;
}

static const char *const level_names[] = {
	[SL_LOG_ERR] = "error",
	[SL_LOG_WARN] = "warning",
	[SL_LOG_NOTICE] = "notice",
	[SL_LOG_INFO] = "info",
	[SL_LOG_DEBUG] = "debug",
};

const char *sl_log_level_name(enum sl_log_level lvl)
{
	return (unsigned)lvl <= SL_LOG_DEBUG ? level_names[lvl] : "unknown";
}

int sl_log_level_parse(const char *s, enum sl_log_level *out)
{
	for (unsigned i = 0; i <= SL_LOG_DEBUG; i++) {
		if (strcmp(s, level_names[i]) == 0) {
			*out = (enum sl_log_level)i;
			return 0;
		}
	}
	return -1;
}

static void vlog(enum sl_log_level lvl, const char *fmt, va_list ap)
{
	FILE *f = log_out ? log_out : stderr;
	char line[1024];

	/* Format first, write once: lines from several threads stay whole. */
	int n = vsnprintf(line, sizeof(line), fmt, ap);
	if (n < 0)
		return;
	fprintf(f, "sluice: %s: %s\n", level_names[lvl], line);
}

void sl_log(enum sl_log_level lvl, const char *fmt, ...)
{
	va_list ap;

	if (lvl > log_max)
		return;
	va_start(ap, fmt);
	vlog(lvl, fmt, ap);
	va_end(ap);
}

void sl_log_rl(struct sl_ratelimit *rl, uint64_t now_us, enum sl_log_level lvl,
	       const char *fmt, ...)
{
	va_list ap;

	if (lvl > log_max)
		return;
	if (now_us - rl->window_us >= 1000000 || now_us < rl->window_us) {
		if (rl->suppressed)
			sl_log(lvl, "(%llu similar messages suppressed)",
			       (unsigned long long)rl->suppressed);
		rl->window_us = now_us;
		rl->used = 0;
		rl->suppressed = 0;
	}
	if (rl->used >= rl->burst) {
		rl->suppressed++;
		return;
	}
	rl->used++;
	va_start(ap, fmt);
	vlog(lvl, fmt, ap);
	va_end(ap);
}
