#include "scan_pool.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

struct sl_scan_port {
	struct sl_scan_pool *pool;
	int efd;
	pthread_mutex_t lock;		/* guards done_*: scan threads append */
	struct sl_scan_job *done_head, *done_tail;
	/* Owner thread only. */
	struct sl_scan_job *ready;	/* taken from done_* in one lock, handed out one by one */
	unsigned inflight;
};

struct sl_scan_pool {
	struct sl_scan_pool_config cfg;
	struct sl_clam *clam;
	struct sl_clam_cache *cache;

	pthread_mutex_t lock;		/* guards the ring and the flags */
	pthread_cond_t cond;		/* jobs queued, or stopping */
	struct sl_scan_job **ring;
	unsigned cap, head, count, peak;
	bool stopping, joined;

	pthread_t *threads;
	unsigned nthreads;

	_Atomic uint64_t submitted, refused_full, run_inline, scanned, cache_hits, cancelled, bytes;
	_Atomic uint64_t scan_ns;
	uint64_t last_start_ns, last_end_ns;	/* under lock: the scan that ended last */
};

void sl_scan_pool_config_defaults(struct sl_scan_pool_config *c)
{
	memset(c, 0, sizeof(*c));
	c->threads = 2;
	c->queue_len = 256;
}

static void count(_Atomic uint64_t *c, uint64_t n)
{
	atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

static void clam_scan_fn(void *arg, struct sl_clam_engine *e, const uint8_t *p, size_t n,
			 struct sl_clam_result *r)
{
	if (!e) {
		memset(r, 0, sizeof(*r));
		r->status = SL_CLAM_ERROR;
		snprintf(r->name, sizeof(r->name), "no scan engine");
		return;
	}
	sl_clam_scan(e, p, n, r);
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void release_buf(struct sl_scan_job *j)
{
	free(j->buf);
	j->buf = NULL;
	if (j->memcap && j->charged)
		sl_memcap_give(j->memcap, j->charged);
	j->charged = 0;
}

/* Cache lookup, scan on a miss; the caller releases the buffer.  The engine
 * reference is held across the scan so a reload meanwhile cannot free it
 * under us. */
static void run_job(struct sl_scan_pool *p, struct sl_scan_job *j)
{
	struct sl_clam_engine *e = p->clam ? sl_clam_acquire(p->clam) : NULL;
	uint64_t gen = sl_clam_engine_generation(e);
	uint8_t sha[32];
	bool keyed = false;

	if (p->cache && j->has_sha256) {
		memcpy(sha, j->sha256, sizeof(sha));
		keyed = true;
	} else if (p->cache) {
		keyed = sl_clam_cache_digest(p->cache, j->buf, j->len, sha) == 0;
	}

	if (keyed && sl_clam_cache_get(p->cache, sha, gen, &j->result)) {
		count(&p->cache_hits, 1);
	} else {
		/* Timed for the verdict-latency figures (sluice replay --timing):
		 * the scan's own share of a message's wait. */
		uint64_t t0 = mono_ns();
		p->cfg.scan(p->cfg.scan_arg, e, j->buf, j->len, &j->result);
		uint64_t t1 = mono_ns();
		count(&p->scan_ns, t1 - t0);
		pthread_mutex_lock(&p->lock);
		p->last_start_ns = t0;
		p->last_end_ns = t1;
		pthread_mutex_unlock(&p->lock);
		j->result.generation = gen;
		j->result.cached = false;
		count(&p->scanned, 1);
		if (keyed)
			sl_clam_cache_put(p->cache, sha, &j->result);
	}
	count(&p->bytes, j->len);
	sl_clam_release(e);
}

static void deliver(struct sl_scan_job *j)
{
	struct sl_scan_port *q = j->port;
	uint64_t one = 1;

	j->next = NULL;
	pthread_mutex_lock(&q->lock);
	if (q->done_tail)
		q->done_tail->next = j;
	else
		q->done_head = j;
	q->done_tail = j;
	pthread_mutex_unlock(&q->lock);
	/* Only fails when the counter would overflow 2^64-2: the fd is readable
	 * then anyway. */
	if (write(q->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		sl_log(SL_LOG_ERR, "scan pool: eventfd write: %s", strerror(errno));
}

static void cancel_job(struct sl_scan_pool *p, struct sl_scan_job *j)
{
	release_buf(j);
	memset(&j->result, 0, sizeof(j->result));
	j->result.status = SL_CLAM_CANCELLED;
	snprintf(j->result.name, sizeof(j->result.name), "scan pool shut down");
	count(&p->cancelled, 1);
	deliver(j);
}

static void *scan_thread(void *arg)
{
	struct sl_scan_pool *p = arg;
	sigset_t all;

	/* Signals belong to the main thread's loop, never to a scan. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);

	for (;;) {
		struct sl_scan_job *j;

		pthread_mutex_lock(&p->lock);
		while (!p->stopping && p->count == 0)
			pthread_cond_wait(&p->cond, &p->lock);
		if (p->count == 0) {		/* stopping and drained */
			pthread_mutex_unlock(&p->lock);
			break;
		}
		j = p->ring[p->head];
		p->head = (p->head + 1) % p->cap;
		p->count--;
		pthread_mutex_unlock(&p->lock);

		run_job(p, j);
		/* The result travels back before the buffer is freed: freeing a
		 * big one (munmap, about 1 ms for 2 MiB on this VM) would delay
		 * the verdict.  The memcap is given back first, so the owner
		 * finds it settled with the result; the job is the port's once
		 * delivered, hence the local. */
		uint8_t *buf = j->buf;
		j->buf = NULL;
		release_buf(j);
		deliver(j);
		free(buf);
	}
	return NULL;
}

struct sl_scan_pool *sl_scan_pool_new(const struct sl_scan_pool_config *cfg, struct sl_clam *clam,
				      struct sl_clam_cache *cache)
{
	struct sl_scan_pool *p;

	if (cfg->threads == 0 || cfg->threads > 256 || cfg->queue_len == 0 ||
	    cfg->queue_len > (1u << 20))
		return NULL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->cfg = *cfg;
	if (!p->cfg.scan)
		p->cfg.scan = clam_scan_fn;
	p->clam = clam;
	p->cache = cache;
	p->cap = cfg->queue_len;
	p->ring = calloc(p->cap, sizeof(*p->ring));
	p->threads = calloc(cfg->threads, sizeof(*p->threads));
	if (!p->ring || !p->threads) {
		free(p->ring);
		free(p->threads);
		free(p);
		return NULL;
	}
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	for (unsigned i = 0; i < cfg->threads; i++) {
		char name[16];
		int err = pthread_create(&p->threads[i], NULL, scan_thread, p);

		if (err) {
			sl_log(SL_LOG_ERR, "scan pool: thread %u: %s", i, strerror(err));
			break;
		}
		snprintf(name, sizeof(name), "sl-scan-%u", i % 1000);
		pthread_setname_np(p->threads[i], name);
		p->nthreads++;
	}
	if (p->nthreads < cfg->threads) {
		sl_scan_pool_free(p);
		return NULL;
	}
	return p;
}

void sl_scan_pool_stop(struct sl_scan_pool *p, enum sl_scan_stop how)
{
	struct sl_scan_job *cancel = NULL, **tail = &cancel;

	pthread_mutex_lock(&p->lock);
	if (p->joined) {
		pthread_mutex_unlock(&p->lock);
		return;
	}
	p->stopping = true;
	if (how == SL_SCAN_CANCEL) {
		while (p->count) {
			struct sl_scan_job *j = p->ring[p->head];

			p->head = (p->head + 1) % p->cap;
			p->count--;
			j->next = NULL;
			*tail = j;
			tail = &j->next;
		}
	}
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);

	while (cancel) {
		struct sl_scan_job *j = cancel;

		cancel = j->next;
		cancel_job(p, j);
	}
	for (unsigned i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	pthread_mutex_lock(&p->lock);
	p->joined = true;
	pthread_mutex_unlock(&p->lock);
}

void sl_scan_pool_free(struct sl_scan_pool *p)
{
	if (!p)
		return;
	sl_scan_pool_stop(p, SL_SCAN_DRAIN);
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->lock);
	free(p->threads);
	free(p->ring);
	free(p);
}

void sl_scan_pool_stats(struct sl_scan_pool *p, struct sl_scan_pool_stats *out)
{
	out->submitted = atomic_load(&p->submitted);
	out->refused_full = atomic_load(&p->refused_full);
	out->run_inline = atomic_load(&p->run_inline);
	out->scanned = atomic_load(&p->scanned);
	out->cache_hits = atomic_load(&p->cache_hits);
	out->cancelled = atomic_load(&p->cancelled);
	out->bytes = atomic_load(&p->bytes);
	out->scan_ns = atomic_load(&p->scan_ns);
	pthread_mutex_lock(&p->lock);
	out->last_scan_start_ns = p->last_start_ns;
	out->last_scan_end_ns = p->last_end_ns;
	out->last_scan_ns = p->last_end_ns - p->last_start_ns;
	out->queue_peak = p->peak;
	pthread_mutex_unlock(&p->lock);
}

void sl_scan_pool_run(struct sl_scan_pool *p, struct sl_scan_job *j)
{
	count(&p->run_inline, 1);
	run_job(p, j);
	release_buf(j);
}

struct sl_scan_port *sl_scan_port_new(struct sl_scan_pool *p)
{
	struct sl_scan_port *q = calloc(1, sizeof(*q));

	if (!q)
		return NULL;
	q->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (q->efd < 0) {
		sl_log(SL_LOG_ERR, "scan pool: eventfd: %s", strerror(errno));
		free(q);
		return NULL;
	}
	q->pool = p;
	pthread_mutex_init(&q->lock, NULL);
	return q;
}

void sl_scan_port_free(struct sl_scan_port *q)
{
	if (!q)
		return;
	if (q->inflight) {
		/* A scan thread will still write here: leaking is the safe
		 * answer to the caller's bug. */
		sl_log(SL_LOG_ERR, "scan pool: port freed with %u jobs in flight (leaked)",
		       q->inflight);
		return;
	}
	close(q->efd);
	pthread_mutex_destroy(&q->lock);
	free(q);
}

int sl_scan_port_fd(const struct sl_scan_port *q)
{
	return q->efd;
}

unsigned sl_scan_port_inflight(const struct sl_scan_port *q)
{
	return q->inflight;
}

int sl_scan_submit(struct sl_scan_port *q, struct sl_scan_job *j)
{
	struct sl_scan_pool *p = q->pool;

	pthread_mutex_lock(&p->lock);
	if (p->stopping) {
		pthread_mutex_unlock(&p->lock);
		errno = ESHUTDOWN;
		return -1;
	}
	if (p->count == p->cap) {
		pthread_mutex_unlock(&p->lock);
		count(&p->refused_full, 1);
		errno = EAGAIN;
		return -1;
	}
	j->port = q;
	j->next = NULL;
	p->ring[(p->head + p->count) % p->cap] = j;
	p->count++;
	if (p->count > p->peak)
		p->peak = p->count;
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->lock);
	q->inflight++;
	count(&p->submitted, 1);
	return 0;
}

struct sl_scan_job *sl_scan_port_take(struct sl_scan_port *q)
{
	struct sl_scan_job *j;

	if (!q->ready) {
		uint64_t v;

		/* Reset the eventfd BEFORE taking the list: a job delivered
		 * after the take re-arms it, so no wake-up is lost. */
		if (read(q->efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
			sl_log(SL_LOG_ERR, "scan pool: eventfd read: %s", strerror(errno));
		pthread_mutex_lock(&q->lock);
		q->ready = q->done_head;
		q->done_head = q->done_tail = NULL;
		pthread_mutex_unlock(&q->lock);
	}
	j = q->ready;
	if (j) {
		q->ready = j->next;
		j->next = NULL;
		q->inflight--;
	}
	return j;
}

struct sl_scan_job *sl_scan_port_wait(struct sl_scan_port *q)
{
	while (q->inflight) {
		struct sl_scan_job *j = sl_scan_port_take(q);
		struct pollfd pfd = { .fd = q->efd, .events = POLLIN };

		if (j)
			return j;
		if (poll(&pfd, 1, -1) < 0 && errno != EINTR) {
			sl_log(SL_LOG_ERR, "scan pool: poll: %s", strerror(errno));
			return NULL;
		}
	}
	return NULL;
}
