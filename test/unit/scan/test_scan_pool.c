/* engine/scan_pool: jobs come back to the port that submitted them, the
 * cache saves second scans, a full queue refuses without losing the job,
 * shutdown drains or cancels, reloads race scans safely. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "clam.h"
#include "clam_cache.h"
#include "memcap.h"
#include "scan_pool.h"
#include "scan_fixtures.h"
#include "scan_testlib.h"

struct tjob {
	struct sl_scan_job job;
	int owner;
	int idx;
};

static struct tjob *tj(struct sl_scan_job *j)
{
	return (struct tjob *)((char *)j - offsetof(struct tjob, job));
}

static struct tjob *new_job(const void *p, size_t n, struct sl_memcap *mc, int owner, int idx)
{
	struct tjob *t = calloc(1, sizeof(*t));

	assert_non_null(t);
	t->job.buf = malloc(n ? n : 1);
	assert_non_null(t->job.buf);
	memcpy(t->job.buf, p, n);
	t->job.len = n;
	if (mc) {
		assert_true(sl_memcap_take(mc, n));
		t->job.memcap = mc;
		t->job.charged = n;
	}
	t->owner = owner;
	t->idx = idx;
	return t;
}

static struct sl_scan_pool *fake_pool(struct fake *f, unsigned threads, unsigned qlen,
				      struct sl_clam *clam, struct sl_clam_cache *cache)
{
	struct sl_scan_pool_config cfg;
	struct sl_scan_pool *p;

	sl_scan_pool_config_defaults(&cfg);
	cfg.threads = threads;
	cfg.queue_len = qlen;
	cfg.scan = fake_scan;
	cfg.scan_arg = f;
	p = sl_scan_pool_new(&cfg, clam, cache);
	assert_non_null(p);
	return p;
}

static struct sl_clam *load(const char *db)
{
	struct sl_clam_config cfg;
	char err[256];
	struct sl_clam *c;

	sl_clam_config_defaults(&cfg);
	cfg.database = db;
	c = sl_clam_new(&cfg, err, sizeof(err));
	if (!c)
		fail_msg("%s", err);
	return c;
}

/* --- every job comes back to its own worker's port ----------------------- */

#define WORKERS 3
#define JOBS_PER_WORKER 400

struct worker_arg {
	struct sl_scan_pool *pool;
	struct sl_memcap *mc;
	int id;
	int got;
	int wrong_owner, wrong_result, dup;
	int refused;
	uint8_t seen[JOBS_PER_WORKER];
};

static void check_back(struct worker_arg *w, struct sl_scan_job *j)
{
	struct tjob *t = tj(j);
	char want[64];

	snprintf(want, sizeof(want), "VIRUS-w%d-j%d", t->owner, t->idx);
	if (t->owner != w->id)
		w->wrong_owner++;
	else if (w->seen[t->idx]++)
		w->dup++;
	if (j->result.status != SL_CLAM_VIRUS || strcmp(j->result.name, want) != 0 || j->buf)
		w->wrong_result++;
	w->got++;
	free(t);
}

static void *worker(void *arg)
{
	struct worker_arg *w = arg;
	struct sl_scan_port *q = sl_scan_port_new(w->pool);
	struct sl_scan_job *j;

	for (int i = 0; i < JOBS_PER_WORKER; i++) {
		char body[64];
		int n = snprintf(body, sizeof(body), "VIRUS-w%d-j%d", w->id, i);
		struct tjob *t = new_job(body, (size_t)n, w->mc, w->id, i);

		/* A full queue is the submitter's problem: collect, retry. */
		while (sl_scan_submit(q, &t->job) != 0) {
			w->refused++;
			if ((j = sl_scan_port_wait(q)))
				check_back(w, j);
		}
		while ((j = sl_scan_port_take(q)))
			check_back(w, j);
	}
	while ((j = sl_scan_port_wait(q)))
		check_back(w, j);
	sl_scan_port_free(q);
	return NULL;
}

static void jobs_return_to_their_own_port(void **st)
{
	struct fake f;
	struct sl_memcap mc;
	struct sl_scan_pool *p;
	struct worker_arg w[WORKERS];
	pthread_t th[WORKERS];
	struct sl_scan_pool_stats s;

	fake_init(&f);
	sl_memcap_init(&mc, "scan", 1 << 20);
	p = fake_pool(&f, 2, 16, NULL, NULL);
	for (int i = 0; i < WORKERS; i++) {
		memset(&w[i], 0, sizeof(w[i]));
		w[i].pool = p;
		w[i].mc = &mc;
		w[i].id = i;
		pthread_create(&th[i], NULL, worker, &w[i]);
	}
	for (int i = 0; i < WORKERS; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(w[i].got, JOBS_PER_WORKER);
		assert_int_equal(w[i].wrong_owner, 0);
		assert_int_equal(w[i].wrong_result, 0);
		assert_int_equal(w[i].dup, 0);
	}
	sl_scan_pool_stats(p, &s);
	assert_int_equal(s.submitted, WORKERS * JOBS_PER_WORKER);
	assert_int_equal(s.scanned, WORKERS * JOBS_PER_WORKER);
	assert_true(s.queue_peak <= 16);
	assert_int_equal(f.calls, WORKERS * JOBS_PER_WORKER);
	assert_int_equal(sl_memcap_used(&mc), 0);	/* scan threads gave every buffer back */
	sl_scan_pool_free(p);
}

/* --- the cache answers the second time, until a reload -------------------- */

static struct sl_scan_job *submit_wait(struct sl_scan_port *q, struct tjob *t)
{
	assert_int_equal(sl_scan_submit(q, &t->job), 0);
	struct sl_scan_job *j = sl_scan_port_wait(q);
	assert_ptr_equal(j, &t->job);
	return j;
}

static void cache_hit_skips_the_scan(void **st)
{
	struct fake f;
	struct sl_clam *clam = load(TEST_DB_DIR);
	struct sl_clam_cache *cache = sl_clam_cache_new(16);
	struct sl_scan_pool *p;
	struct sl_scan_port *q;
	struct sl_scan_job *j;
	struct sl_scan_pool_stats s;
	struct tbuf nl = eicar_nl();
	char err[256];

	fake_init(&f);
	p = fake_pool(&f, 2, 8, clam, cache);
	q = sl_scan_port_new(p);

	j = submit_wait(q, new_job(nl.p, nl.n, NULL, 0, 0));
	assert_int_equal(j->result.status, SL_CLAM_VIRUS);
	assert_string_equal(j->result.name, "Sluice.Test.EICAR.NDB.UNOFFICIAL");
	assert_false(j->result.cached);
	assert_int_equal(f.calls, 1);
	free(tj(j));

	j = submit_wait(q, new_job(nl.p, nl.n, NULL, 0, 1));
	assert_int_equal(j->result.status, SL_CLAM_VIRUS);
	assert_string_equal(j->result.name, "Sluice.Test.EICAR.NDB.UNOFFICIAL");
	assert_true(j->result.cached);
	assert_int_equal(j->result.generation, 1);
	assert_int_equal(f.calls, 1);			/* no second scan */
	free(tj(j));

	j = submit_wait(q, new_job("clean bytes", 11, NULL, 0, 2));
	assert_int_equal(j->result.status, SL_CLAM_CLEAN);
	assert_int_equal(f.calls, 2);
	free(tj(j));

	/* A new engine generation: the cached answer is stale. */
	assert_int_equal(sl_clam_reload(clam, NULL, err, sizeof(err)), 0);
	j = submit_wait(q, new_job(nl.p, nl.n, NULL, 0, 3));
	assert_int_equal(j->result.status, SL_CLAM_VIRUS);
	assert_false(j->result.cached);
	assert_int_equal(j->result.generation, 2);
	assert_int_equal(f.calls, 3);
	free(tj(j));

	/* Timeouts are not cached: scanned every time. */
	for (int i = 0; i < 2; i++) {
		j = submit_wait(q, new_job("TIMEOUT", 7, NULL, 0, 4));
		assert_int_equal(j->result.status, SL_CLAM_TIMEOUT);
		free(tj(j));
	}
	assert_int_equal(f.calls, 5);

	sl_scan_pool_stats(p, &s);
	assert_int_equal(s.cache_hits, 1);
	assert_int_equal(s.scanned, 5);
	sl_scan_port_free(q);
	sl_scan_pool_free(p);
	sl_clam_cache_free(cache);
	sl_clam_free(clam);
	free(nl.p);
}

/* A submitter that knows the buffer's sha256 (the message builder hashed
 * it) hands it over: the cache is keyed on it and the pool does not hash
 * the bytes again.  Shown by a lie: other bytes under EICAR's digest get
 * EICAR's cached answer without a scan. */
static void given_digest_keys_the_cache(void **st)
{
	struct fake f;
	struct sl_clam *clam = load(TEST_DB_DIR);
	struct sl_clam_cache *cache = sl_clam_cache_new(16);
	struct sl_scan_pool *p;
	struct sl_scan_port *q;
	struct sl_scan_job *j;
	struct tbuf nl = eicar_nl();
	struct tjob *t;
	uint8_t d[32];

	fake_init(&f);
	p = fake_pool(&f, 1, 4, clam, cache);
	q = sl_scan_port_new(p);
	assert_int_equal(sl_clam_cache_digest(cache, nl.p, nl.n, d), 0);

	t = new_job(nl.p, nl.n, NULL, 0, 0);
	memcpy(t->job.sha256, d, 32);
	t->job.has_sha256 = true;
	j = submit_wait(q, t);
	assert_int_equal(j->result.status, SL_CLAM_VIRUS);
	assert_false(j->result.cached);
	assert_int_equal(f.calls, 1);
	free(tj(j));

	t = new_job("clean bytes", 11, NULL, 0, 1);
	memcpy(t->job.sha256, d, 32);
	t->job.has_sha256 = true;
	j = submit_wait(q, t);
	assert_int_equal(j->result.status, SL_CLAM_VIRUS);
	assert_true(j->result.cached);
	assert_int_equal(f.calls, 1);
	free(tj(j));

	/* Without a digest the pool hashes the bytes: a miss, scanned. */
	j = submit_wait(q, new_job("clean bytes", 11, NULL, 0, 2));
	assert_int_equal(j->result.status, SL_CLAM_CLEAN);
	assert_false(j->result.cached);
	assert_int_equal(f.calls, 2);
	free(tj(j));

	sl_scan_port_free(q);
	sl_scan_pool_free(p);
	sl_clam_cache_free(cache);
	sl_clam_free(clam);
	free(nl.p);
}

/* --- a full queue refuses; the caller keeps the job and may run it -------- */

static void queue_full_refuses_without_losing(void **st)
{
	struct fake f;
	struct sl_memcap mc;
	struct sl_scan_pool *p;
	struct sl_scan_port *q;
	struct sl_scan_pool_stats s;
	struct tjob *t[4];
	struct sl_scan_job *j;
	int back = 0;

	fake_init(&f);
	sl_memcap_init(&mc, "scan", 0);
	p = fake_pool(&f, 1, 2, NULL, NULL);
	q = sl_scan_port_new(p);

	t[0] = new_job("SLOW", 4, &mc, 0, 0);
	assert_int_equal(sl_scan_submit(q, &t[0]->job), 0);
	fake_wait_entered(&f, 1);			/* the only thread is busy */
	t[1] = new_job("a", 1, &mc, 0, 1);
	t[2] = new_job("b", 1, &mc, 0, 2);
	t[3] = new_job("VIRUS-inline", 12, &mc, 0, 3);
	assert_int_equal(sl_scan_submit(q, &t[1]->job), 0);
	assert_int_equal(sl_scan_submit(q, &t[2]->job), 0);
	errno = 0;
	assert_int_equal(sl_scan_submit(q, &t[3]->job), -1);
	assert_int_equal(errno, EAGAIN);
	assert_non_null(t[3]->job.buf);			/* still the caller's */
	assert_int_equal(sl_scan_port_inflight(q), 3);

	/* The synchronous fallback: scanned here, buffer released. */
	sl_scan_pool_run(p, &t[3]->job);
	assert_int_equal(t[3]->job.result.status, SL_CLAM_VIRUS);
	assert_string_equal(t[3]->job.result.name, "VIRUS-inline");
	assert_null(t[3]->job.buf);
	free(t[3]);

	fake_open(&f);
	while ((j = sl_scan_port_wait(q))) {
		assert_int_equal(j->result.status, SL_CLAM_CLEAN);
		free(tj(j));
		back++;
	}
	assert_int_equal(back, 3);
	sl_scan_pool_stats(p, &s);
	assert_int_equal(s.refused_full, 1);
	assert_int_equal(s.run_inline, 1);
	assert_int_equal(s.queue_peak, 2);
	assert_int_equal(sl_memcap_used(&mc), 0);
	sl_scan_port_free(q);
	sl_scan_pool_free(p);
}

/* --- shutdown ------------------------------------------------------------- */

struct stopper {
	struct sl_scan_pool *p;
	enum sl_scan_stop how;
};

static void *stop_thread(void *arg)
{
	struct stopper *s = arg;

	sl_scan_pool_stop(s->p, s->how);
	return NULL;
}

static void shutdown_cancels_queued_jobs(void **st)
{
	struct fake f;
	struct sl_memcap mc;
	struct sl_scan_pool *p;
	struct sl_scan_port *q;
	struct sl_scan_pool_stats s;
	struct sl_scan_job *j;
	struct stopper sp;
	pthread_t th;
	struct tjob *late;

	fake_init(&f);
	sl_memcap_init(&mc, "scan", 0);
	p = fake_pool(&f, 1, 8, NULL, NULL);
	q = sl_scan_port_new(p);
	assert_int_equal(sl_scan_submit(q, &new_job("SLOW", 4, &mc, 0, 0)->job), 0);
	fake_wait_entered(&f, 1);
	for (int i = 1; i <= 4; i++)
		assert_int_equal(sl_scan_submit(q, &new_job("VIRUS", 5, &mc, 0, i)->job), 0);

	/* The stopper blocks joining the busy thread; the queued four come
	 * back cancelled meanwhile, without being scanned. */
	sp = (struct stopper){ p, SL_SCAN_CANCEL };
	pthread_create(&th, NULL, stop_thread, &sp);
	for (int i = 1; i <= 4; i++) {
		j = sl_scan_port_wait(q);
		assert_non_null(j);
		assert_int_equal(tj(j)->idx, i);
		assert_int_equal(j->result.status, SL_CLAM_CANCELLED);
		assert_null(j->buf);
		free(tj(j));
	}
	assert_int_equal(f.calls, 1);
	fake_open(&f);
	j = sl_scan_port_wait(q);
	assert_non_null(j);
	assert_int_equal(tj(j)->idx, 0);
	assert_int_equal(j->result.status, SL_CLAM_CLEAN);	/* the running scan finished */
	free(tj(j));
	pthread_join(th, NULL);
	assert_null(sl_scan_port_wait(q));

	late = new_job("x", 1, &mc, 0, 9);
	errno = 0;
	assert_int_equal(sl_scan_submit(q, &late->job), -1);
	assert_int_equal(errno, ESHUTDOWN);
	free(late->job.buf);
	sl_memcap_give(&mc, 1);
	free(late);

	sl_scan_pool_stats(p, &s);
	assert_int_equal(s.cancelled, 4);
	assert_int_equal(sl_memcap_used(&mc), 0);
	sl_scan_pool_stop(p, SL_SCAN_CANCEL);		/* idempotent */
	sl_scan_port_free(q);
	sl_scan_pool_free(p);
}

static void shutdown_drains_queued_jobs(void **st)
{
	struct fake f;
	struct sl_scan_pool *p;
	struct sl_scan_port *q;
	struct sl_scan_job *j;
	int back = 0;

	fake_init(&f);
	fake_open(&f);
	p = fake_pool(&f, 2, 64, NULL, NULL);
	q = sl_scan_port_new(p);
	for (int i = 0; i < 50; i++)
		assert_int_equal(sl_scan_submit(q, &new_job("VIRUS-d", 7, NULL, 0, i)->job), 0);
	sl_scan_pool_stop(p, SL_SCAN_DRAIN);
	/* Everything came back before stop returned: take() suffices. */
	while ((j = sl_scan_port_take(q))) {
		assert_int_equal(j->result.status, SL_CLAM_VIRUS);
		free(tj(j));
		back++;
	}
	assert_int_equal(back, 50);
	assert_int_equal(f.calls, 50);
	assert_int_equal(sl_scan_port_inflight(q), 0);
	sl_scan_port_free(q);
	sl_scan_pool_free(p);
}

/* --- reloads racing scans ------------------------------------------------- */

struct reloader {
	struct sl_clam *clam;
	int n;
	int failed;
};

static void *reload_thread(void *arg)
{
	struct reloader *r = arg;
	char err[256];

	for (int i = 0; i < r->n; i++)
		if (sl_clam_reload(r->clam, i % 2 ? TEST_DB_HDB : TEST_DB_NDB, err, sizeof(err)))
			r->failed++;
	return NULL;
}

struct gen_check {
	int back;
	uint64_t max_gen;
};

static void check_gen(struct gen_check *g, struct sl_scan_job *j)
{
	const char *want = j->result.generation % 2 ? "Sluice.Test.EICAR.HDB.UNOFFICIAL" :
						      "Sluice.Test.EICAR.NDB.UNOFFICIAL";

	assert_int_equal(j->result.status, SL_CLAM_VIRUS);
	assert_string_equal(j->result.name, want);
	if (j->result.generation > g->max_gen)
		g->max_gen = j->result.generation;
	free(tj(j));
	g->back++;
}

/* Generation 1 is the .hdb engine, then reloads alternate .ndb (even
 * generations) and .hdb (odd): every answer must name the signature of the
 * engine it says it came from, and the engines freed along the way must not
 * be touched again (ASan). */
static void reload_while_scanning(void **st)
{
	struct sl_clam *clam = load(TEST_DB_HDB);
	struct sl_scan_pool_config cfg;
	struct sl_scan_pool *p;
	struct sl_scan_port *q;
	struct sl_scan_job *j;
	struct reloader rl = { clam, 20, 0 };
	struct gen_check g = { 0 };
	pthread_t th;
	uint8_t ei[EICAR_LEN];

	eicar(ei);
	sl_scan_pool_config_defaults(&cfg);
	cfg.queue_len = 32;
	p = sl_scan_pool_new(&cfg, clam, NULL);
	q = sl_scan_port_new(p);
	pthread_create(&th, NULL, reload_thread, &rl);
	for (int i = 0; i < 600; i++) {
		struct tjob *t = new_job(ei, sizeof(ei), NULL, 0, i);

		while (sl_scan_submit(q, &t->job) != 0)
			check_gen(&g, sl_scan_port_wait(q));
		while ((j = sl_scan_port_take(q)))
			check_gen(&g, j);
	}
	while ((j = sl_scan_port_wait(q)))
		check_gen(&g, j);
	pthread_join(th, NULL);
	assert_int_equal(rl.failed, 0);
	assert_int_equal(g.back, 600);
	assert_true(g.max_gen >= 1 && g.max_gen <= 21);
	sl_scan_port_free(q);
	sl_scan_pool_free(p);
	sl_clam_free(clam);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(jobs_return_to_their_own_port),
		cmocka_unit_test(cache_hit_skips_the_scan),
		cmocka_unit_test(given_digest_keys_the_cache),
		cmocka_unit_test(queue_full_refuses_without_losing),
		cmocka_unit_test(shutdown_cancels_queued_jobs),
		cmocka_unit_test(shutdown_drains_queued_jobs),
		cmocka_unit_test(reload_while_scanning),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
