/* The scan pool: N threads that run ClamAV off the packet path.
 *
 *   worker --submit--> [ bounded job queue ] --> scan thread (cache, ClamAV)
 *      ^                                               |
 *      +-- take() <-- port: completion list + eventfd <+
 *
 * Each worker owns a port.  A job comes back to the port it was submitted
 * on, and only there, so its owner applies the result on its own thread
 * without locks on the message.  The port's eventfd becomes readable when
 * results wait; the worker adds it to its poll set.
 *
 * A job owns its buffer from submission: the scan thread gives its bytes
 * back to the job's memcap before the result travels back and frees it
 * right after (a big free is not on the verdict's path), so memory is
 * returned at scan speed rather than at the worker's collection pace.
 *
 * A full queue refuses the job (sl_scan_submit() returns -1, EAGAIN, the
 * caller keeps the job): the caller's policy decides, either scanning it
 * synchronously with sl_scan_pool_run() or marking the object (see
 * scan_sink.h).  Nothing waits inside the pool. */
#ifndef SL_SCAN_POOL_H
#define SL_SCAN_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "clam.h"
#include "clam_cache.h"
#include "memcap.h"

struct sl_scan_pool;
struct sl_scan_port;

/* The scanning step.  Default (NULL in the config) is sl_clam_scan(); tests
 * inject a counting or failing one.  e is NULL when the pool has no clam. */
typedef void (*sl_scan_fn)(void *arg, struct sl_clam_engine *e, const uint8_t *p, size_t n,
			   struct sl_clam_result *r);

struct sl_scan_pool_config {
	unsigned threads;		/* scan threads; default 2 */
	unsigned queue_len;		/* jobs waiting for a thread, all workers; default 256 */
	sl_scan_fn scan;		/* NULL = ClamAV */
	void *scan_arg;
};

void sl_scan_pool_config_defaults(struct sl_scan_pool_config *c);

/* Callers embed a job in their own request struct (container_of). */
struct sl_scan_job {
	/* In: set by the submitter.  buf (malloc'd) is owned by the job from
	 * submission on, and is NULL again when the job comes back. */
	uint8_t *buf;
	size_t len;
	struct sl_memcap *memcap;	/* charged 'charged' bytes for buf; NULL = none */
	size_t charged;
	/* sha256 of buf when the submitter already has it (the result cache's
	 * key; the pool hashes buf itself otherwise, on the verdict's path). */
	bool has_sha256;
	uint8_t sha256[32];

	/* Out: set by the pool before the job comes back. */
	struct sl_clam_result result;

	/* Private to the pool. */
	struct sl_scan_port *port;
	struct sl_scan_job *next;
};

struct sl_scan_pool_stats {
	uint64_t submitted;		/* accepted by sl_scan_submit() */
	uint64_t refused_full;		/* refused: queue full */
	uint64_t run_inline;		/* sl_scan_pool_run() calls */
	uint64_t scanned;		/* scan function calls (cache misses) */
	uint64_t cache_hits;
	uint64_t cancelled;
	uint64_t bytes;			/* bytes of jobs scanned or answered from cache */
	uint64_t scan_ns;		/* time spent in the scan function, all threads */
	/* The scan that finished last (0s: none yet): its duration and its
	 * CLOCK_MONOTONIC start and end, for verdict-latency breakdowns. */
	uint64_t last_scan_ns, last_scan_start_ns, last_scan_end_ns;
	unsigned queue_peak;
};

/* clam and cache may be NULL (no cache; no engine: the scan function gets
 * e == NULL).  Starts the threads.  NULL on failure. */
struct sl_scan_pool *sl_scan_pool_new(const struct sl_scan_pool_config *cfg, struct sl_clam *clam,
				      struct sl_clam_cache *cache);

enum sl_scan_stop {
	SL_SCAN_DRAIN,			/* scan every queued job, then stop */
	SL_SCAN_CANCEL,			/* queued jobs come back SL_CLAM_CANCELLED */
};

/* Refuses new jobs (ESHUTDOWN), settles the queue as 'how' says, waits for
 * running scans, joins the threads.  Every job ever accepted has come back to
 * its port when this returns; owners still collect them.  Idempotent. */
void sl_scan_pool_stop(struct sl_scan_pool *p, enum sl_scan_stop how);
/* Stops (draining) if still running, then frees.  Ports may outlive it. */
void sl_scan_pool_free(struct sl_scan_pool *p);

void sl_scan_pool_stats(struct sl_scan_pool *p, struct sl_scan_pool_stats *out);

/* Runs a job to completion on the calling thread (the queue-full fallback):
 * cache, scan, buffer freed, result in j->result.  Does not use a port. */
void sl_scan_pool_run(struct sl_scan_pool *p, struct sl_scan_job *j);

/* One per worker thread; only that thread calls the functions below with
 * it.  NULL on failure (eventfd). */
struct sl_scan_port *sl_scan_port_new(struct sl_scan_pool *p);
/* Nothing may be in flight (sl_scan_port_inflight() == 0). */
void sl_scan_port_free(struct sl_scan_port *q);
int sl_scan_port_fd(const struct sl_scan_port *q);
/* Jobs submitted and not yet taken back. */
unsigned sl_scan_port_inflight(const struct sl_scan_port *q);

/* Queues j for scanning.  0, or -1 with errno EAGAIN (queue full) or
 * ESHUTDOWN (pool stopped); on -1 the caller still owns j and its buffer. */
int sl_scan_submit(struct sl_scan_port *q, struct sl_scan_job *j);
/* A finished job, or NULL when none is waiting.  Never blocks. */
struct sl_scan_job *sl_scan_port_take(struct sl_scan_port *q);
/* A finished job, blocking until one arrives; NULL only when nothing is in
 * flight. */
struct sl_scan_job *sl_scan_port_wait(struct sl_scan_port *q);

#endif
