/* Shared by the pool and sink tests: injectable scan functions. */
#ifndef SL_TEST_SCAN_TESTLIB_H
#define SL_TEST_SCAN_TESTLIB_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "clam.h"

/* Decides by content, so a test states the outcome in the bytes:
 *   "SLOW..."    waits at the gate until opened (only the first byte run)
 *   "VIRUS..."   virus named after the whole content
 *   "TIMEOUT"    timeout;  "ERROR" error;  "LIMIT" limit
 *   anything else: clean, or the real ClamAV answer when an engine is given
 * Counts every call. */
struct fake {
	_Atomic unsigned calls;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool open;
	unsigned entered;		/* SLOW scans that reached the gate */
};

static inline void fake_init(struct fake *f)
{
	memset(f, 0, sizeof(*f));
	pthread_mutex_init(&f->lock, NULL);
	pthread_cond_init(&f->cond, NULL);
}

static inline void fake_open(struct fake *f)
{
	pthread_mutex_lock(&f->lock);
	f->open = true;
	pthread_cond_broadcast(&f->cond);
	pthread_mutex_unlock(&f->lock);
}

/* Blocks until n SLOW scans wait at the gate. */
static inline void fake_wait_entered(struct fake *f, unsigned n)
{
	pthread_mutex_lock(&f->lock);
	while (f->entered < n)
		pthread_cond_wait(&f->cond, &f->lock);
	pthread_mutex_unlock(&f->lock);
}

static inline bool starts(const uint8_t *p, size_t n, const char *s)
{
	size_t l = strlen(s);

	return n >= l && memcmp(p, s, l) == 0;
}

static inline void fake_scan(void *arg, struct sl_clam_engine *e, const uint8_t *p, size_t n,
			     struct sl_clam_result *r)
{
	struct fake *f = arg;

	atomic_fetch_add(&f->calls, 1);
	memset(r, 0, sizeof(*r));
	if (starts(p, n, "SLOW")) {
		pthread_mutex_lock(&f->lock);
		f->entered++;
		pthread_cond_broadcast(&f->cond);
		while (!f->open)
			pthread_cond_wait(&f->cond, &f->lock);
		pthread_mutex_unlock(&f->lock);
	}
	if (starts(p, n, "VIRUS")) {
		r->status = SL_CLAM_VIRUS;
		snprintf(r->name, sizeof(r->name), "%.*s", (int)(n < 80 ? n : 80), (const char *)p);
	} else if (starts(p, n, "TIMEOUT")) {
		r->status = SL_CLAM_TIMEOUT;
		snprintf(r->name, sizeof(r->name), "Heuristics.Limits.Exceeded.MaxScanTime");
	} else if (starts(p, n, "ERROR")) {
		r->status = SL_CLAM_ERROR;
		snprintf(r->name, sizeof(r->name), "Can't allocate memory");
	} else if (starts(p, n, "LIMIT")) {
		r->status = SL_CLAM_LIMIT;
		snprintf(r->name, sizeof(r->name), "Heuristics.Limits.Exceeded.MaxFiles");
	} else if (e) {
		sl_clam_scan(e, p, n, r);
	}
}

#endif
