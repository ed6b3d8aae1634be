/* engine/scan_sink through the sl_sink_ops interface with fake messages:
 * PENDING then collect()/wait() applies the result and unpends; every
 * policy path (too large, memcap, error, timeout, limit, queue full) ends in
 * the right reason, anomaly and counter; raw-message modes. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "clam.h"
#include "counters.h"
#include "memcap.h"
#include "msg.h"
#include "scan_pool.h"
#include "scan_sink.h"
#include "sink.h"
#include "scan_fixtures.h"
#include "scan_testlib.h"

struct tmsg {
	struct sl_msg m;
	int settled;
	int destroyed;
};

static void on_settled(struct sl_msg *m, void *arg)
{
	((struct tmsg *)arg)->settled++;
}

static void on_destroy(struct sl_msg *m, void *arg)
{
	((struct tmsg *)arg)->destroyed++;
}

static const struct sl_msg_hooks hooks = { on_settled, on_destroy };

static void tmsg_init(struct tmsg *t)
{
	memset(t, 0, sizeof(*t));
	sl_msg_init(&t->m, 1, SL_PROTO_SMTP, 0);
	t->m.hooks = &hooks;
	t->m.hooks_arg = t;
}

struct env {
	struct fake f;
	struct sl_memcap mc;
	struct sl_counters ctr;
	struct sl_clam *clam;
	struct sl_scan_pool *pool;
	struct sl_scan_sink *ss;
	struct sl_sink sink;
};

static void env_init(struct env *e, const struct sl_scan_sink_config *scfg, unsigned threads,
		     unsigned qlen, size_t memcap, const char *db)
{
	struct sl_scan_pool_config pcfg;
	struct sl_scan_sink_config def;

	memset(e, 0, sizeof(*e));
	fake_init(&e->f);
	e->f.open = true;
	sl_memcap_init(&e->mc, "scan", memcap);
	if (db) {
		struct sl_clam_config cc;
		char err[256];

		sl_clam_config_defaults(&cc);
		cc.database = db;
		e->clam = sl_clam_new(&cc, err, sizeof(err));
		if (!e->clam)
			fail_msg("%s", err);
	}
	sl_scan_pool_config_defaults(&pcfg);
	pcfg.threads = threads;
	pcfg.queue_len = qlen;
	pcfg.scan = fake_scan;
	pcfg.scan_arg = &e->f;
	e->pool = sl_scan_pool_new(&pcfg, e->clam, NULL);
	assert_non_null(e->pool);
	if (!scfg) {
		sl_scan_sink_config_defaults(&def);
		scfg = &def;
	}
	e->ss = sl_scan_sink_new(scfg, e->pool, &e->mc, &e->ctr);
	assert_non_null(e->ss);
	e->sink = sl_scan_sink_sink(e->ss);
	assert_ptr_equal(e->sink.ops, &sl_scan_sink_ops);
}

static void env_free(struct env *e)
{
	sl_scan_sink_free(e->ss);
	sl_scan_pool_free(e->pool);
	sl_clam_free(e->clam);
	assert_int_equal(sl_memcap_used(&e->mc), 0);
}

static struct sl_object obj(struct tmsg *t, enum sl_scope scope, uint32_t part,
			    const char *filename)
{
	struct sl_object o = { .scope = scope, .part = part, .msg = &t->m,
			       .filename = filename, .content_type = "application/octet-stream" };

	return o;
}

/* Streams p through the sink in uneven slices, as the builder would. */
static enum sl_sink_end feed(struct env *e, struct sl_object *o, const void *p, size_t n)
{
	const struct sl_sink_ops *ops = e->sink.ops;
	const uint8_t *b = p;
	size_t off = 0, step = 1;

	assert_int_equal(ops->begin(e->sink.self, o, &o->state[0]), 0);
	while (off < n) {
		size_t k = n - off < step ? n - off : step;

		ops->data(e->sink.self, o, o->state[0], b + off, k);
		o->size += k;
		off += k;
		step = step * 3 + 1;
	}
	return ops->end(e->sink.self, o, o->state[0]);
}

static const struct sl_reason *find_reason(const struct sl_msg *m, enum sl_reason_kind k,
					   const char *id)
{
	for (unsigned i = 0; i < m->verdict.n; i++)
		if (m->verdict.r[i].kind == k && strcmp(m->verdict.r[i].id, id) == 0)
			return &m->verdict.r[i];
	return NULL;
}

static void virus_pending_then_applied(void **st)
{
	struct env e;
	struct tmsg t;
	struct sl_object o;
	const struct sl_reason *r;

	env_init(&e, NULL, 2, 8, 0, NULL);
	tmsg_init(&t);
	o = obj(&t, SL_SCOPE_ATTACHMENT, 2, "invoice.exe");
	assert_int_equal(feed(&e, &o, "VIRUS-Fake.Test", 15), SL_SINK_PENDING);
	assert_int_equal(t.m.pending, 1);
	assert_int_equal(t.m.refs, 2);
	assert_int_equal(t.m.verdict.action, SL_ACTION_PASS);	/* not yet */

	e.sink.ops->wait(e.sink.self);
	assert_int_equal(t.m.pending, 0);
	assert_int_equal(t.m.refs, 1);
	r = find_reason(&t.m, SL_REASON_VIRUS, "VIRUS-Fake.Test");
	assert_non_null(r);
	assert_int_equal(r->action, SL_ACTION_BLOCK);
	assert_int_equal(r->object, 2);
	assert_non_null(strstr(r->text, "invoice.exe"));
	assert_int_equal(t.m.verdict.action, SL_ACTION_BLOCK);
	assert_int_equal(t.settled, 0);				/* message not ended yet */
	sl_msg_mark_ended(&t.m);
	assert_int_equal(t.settled, 1);

	assert_int_equal(e.ctr.v[SL_CTR_SCAN_JOBS], 1);
	assert_int_equal(e.ctr.v[SL_CTR_SCAN_BYTES], 15);
	assert_int_equal(e.ctr.v[SL_CTR_SCAN_VIRUS], 1);
	/* wait() with nothing pending returns at once. */
	e.sink.ops->wait(e.sink.self);
	env_free(&e);
	sl_msg_release(&t.m);
}

/* The worker's way: poll the eventfd, then collect(). */
static void collect_after_poll(void **st)
{
	struct env e;
	struct tmsg t;
	struct sl_object o1, o2, o3;
	int fd;

	env_init(&e, NULL, 2, 8, 0, NULL);
	tmsg_init(&t);
	o1 = obj(&t, SL_SCOPE_ATTACHMENT, 2, NULL);
	o2 = obj(&t, SL_SCOPE_ATTACHMENT, 3, NULL);
	o3 = obj(&t, SL_SCOPE_ATTACHMENT, 4, NULL);
	assert_int_equal(feed(&e, &o1, "VIRUS-one", 9), SL_SINK_PENDING);
	assert_int_equal(feed(&e, &o2, "plain text attachment", 21), SL_SINK_PENDING);
	assert_int_equal(feed(&e, &o3, "VIRUS-three", 11), SL_SINK_PENDING);
	sl_msg_mark_ended(&t.m);
	assert_int_equal(t.m.pending, 3);

	fd = e.sink.ops->poll_fd(e.sink.self);
	assert_true(fd >= 0);
	while (t.m.pending) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };

		assert_int_equal(poll(&pfd, 1, -1), 1);
		e.sink.ops->collect(e.sink.self);
	}
	assert_int_equal(t.settled, 1);
	assert_int_equal(find_reason(&t.m, SL_REASON_VIRUS, "VIRUS-one")->object, 2);
	assert_int_equal(find_reason(&t.m, SL_REASON_VIRUS, "VIRUS-three")->object, 4);
	assert_int_equal(t.m.verdict.n, 2);
	assert_int_equal(e.ctr.v[SL_CTR_SCAN_CLEAN], 1);
	assert_int_equal(e.ctr.v[SL_CTR_SCAN_VIRUS], 2);
	env_free(&e);
	sl_msg_release(&t.m);
}

/* One failure outcome: the policy reason, the anomaly, the counter. */
static void check_policy(const struct tmsg *t, const char *reason, enum sl_anomaly a,
			 enum sl_action act)
{
	const struct sl_reason *r = find_reason(&t->m, SL_REASON_POLICY, reason);

	if (!r)
		fail_msg("no policy reason %s", reason);
	assert_int_equal(r->action, act);
	assert_true(sl_anomaly_set_has(&t->m.anomalies, a));
	/* An anomaly is a verdict reason only when it makes the verdict worse. */
	if (act > SL_ACTION_PASS)
		assert_non_null(find_reason(&t->m, SL_REASON_ANOMALY, sl_anomaly_name(a)));
	else
		assert_null(find_reason(&t->m, SL_REASON_ANOMALY, sl_anomaly_name(a)));
	assert_int_equal(t->m.verdict.action, act);
}

static void scan_one(struct env *e, struct tmsg *t, const char *content)
{
	struct sl_object o = obj(t, SL_SCOPE_ATTACHMENT, 5, NULL);

	assert_int_equal(feed(e, &o, content, strlen(content)), SL_SINK_PENDING);
	e->sink.ops->wait(e->sink.self);
	assert_int_equal(t->m.pending, 0);
}

/* The failure mapping is tested through the injected scan function: the
 * real-timeout path of ClamAV itself is in test_clam. */
static void timeout_error_limit_policies(void **st)
{
	struct env e;
	struct tmsg t;

	env_init(&e, NULL, 1, 4, 0, NULL);
	tmsg_init(&t);
	scan_one(&e, &t, "TIMEOUT");
	check_policy(&t, "scan-timeout", SL_ANOM_SCAN_TIMEOUT, SL_ACTION_TEMPFAIL);
	assert_int_equal(e.ctr.v[SL_CTR_SCAN_TIMEOUT], 1);
	sl_msg_release(&t.m);

	tmsg_init(&t);
	scan_one(&e, &t, "ERROR");
	check_policy(&t, "scan-error", SL_ANOM_SCAN_ERROR, SL_ACTION_TEMPFAIL);
	assert_non_null(strstr(find_reason(&t.m, SL_REASON_POLICY, "scan-error")->text,
			       "Can't allocate memory"));
	assert_int_equal(e.ctr.v[SL_CTR_SCAN_ERROR], 1);
	sl_msg_release(&t.m);

	tmsg_init(&t);
	scan_one(&e, &t, "LIMIT");
	check_policy(&t, "too-large-to-scan", SL_ANOM_SCAN_TOO_LARGE, SL_ACTION_BLOCK);
	assert_non_null(strstr(find_reason(&t.m, SL_REASON_POLICY, "too-large-to-scan")->text,
			       "MaxFiles"));
	assert_int_equal(e.ctr.v[SL_CTR_SCAN_LIMIT], 1);
	sl_msg_release(&t.m);
	env_free(&e);
}

static void policies_are_configurable(void **st)
{
	struct sl_scan_sink_config cfg;
	struct env e;
	struct tmsg t;

	sl_scan_sink_config_defaults(&cfg);
	cfg.on_error = SL_ACTION_PASS;		/* fail open */
	cfg.on_timeout = SL_ACTION_BLOCK;	/* fail closed */
	cfg.on_virus = SL_ACTION_ALERT;		/* monitoring only */
	env_init(&e, &cfg, 1, 4, 0, NULL);

	tmsg_init(&t);
	scan_one(&e, &t, "ERROR");
	check_policy(&t, "scan-error", SL_ANOM_SCAN_ERROR, SL_ACTION_PASS);
	sl_msg_release(&t.m);

	tmsg_init(&t);
	scan_one(&e, &t, "TIMEOUT");
	check_policy(&t, "scan-timeout", SL_ANOM_SCAN_TIMEOUT, SL_ACTION_BLOCK);
	sl_msg_release(&t.m);

	tmsg_init(&t);
	scan_one(&e, &t, "VIRUS-x");
	assert_int_equal(t.m.verdict.action, SL_ACTION_ALERT);
	sl_msg_release(&t.m);
	env_free(&e);
}

static void too_large_is_policy_not_scan(void **st)
{
	struct sl_scan_sink_config cfg;
	struct env e;
	struct tmsg t;
	struct sl_object o;
	char big[1500];

	memset(big, 'A', sizeof(big));
	sl_scan_sink_config_defaults(&cfg);
	cfg.max_object = 1000;
	env_init(&e, &cfg, 1, 4, 0, NULL);
	tmsg_init(&t);
	o = obj(&t, SL_SCOPE_ATTACHMENT, 3, "huge.iso");
	assert_int_equal(feed(&e, &o, big, sizeof(big)), SL_SINK_DONE);
	check_policy(&t, "too-large-to-scan", SL_ANOM_SCAN_TOO_LARGE, SL_ACTION_BLOCK);
	assert_int_equal(find_reason(&t.m, SL_REASON_POLICY, "too-large-to-scan")->object, 3);
	assert_int_equal(t.m.pending, 0);
	assert_int_equal(e.f.calls, 0);
	assert_int_equal(e.ctr.v[SL_CTR_SCAN_TOO_LARGE], 1);
	assert_int_equal(e.ctr.v[SL_CTR_SCAN_JOBS], 0);
	assert_int_equal(sl_memcap_used(&e.mc), 0);	/* released at the overflow */

	/* Exactly max_object bytes is still scanned. */
	o = obj(&t, SL_SCOPE_ATTACHMENT, 4, NULL);
	assert_int_equal(feed(&e, &o, big, 1000), SL_SINK_PENDING);
	e.sink.ops->wait(e.sink.self);
	assert_int_equal(e.f.calls, 1);
	sl_msg_release(&t.m);
	env_free(&e);

	cfg.on_too_large = SL_ACTION_PASS;
	env_init(&e, &cfg, 1, 4, 0, NULL);
	tmsg_init(&t);
	o = obj(&t, SL_SCOPE_ATTACHMENT, 3, NULL);
	assert_int_equal(feed(&e, &o, big, sizeof(big)), SL_SINK_DONE);
	check_policy(&t, "too-large-to-scan", SL_ANOM_SCAN_TOO_LARGE, SL_ACTION_PASS);
	sl_msg_release(&t.m);
	env_free(&e);
}

static void memcap_refusal_is_policy(void **st)
{
	struct env e;
	struct tmsg t;
	struct sl_object o;
	size_t n = 100 * 1024;
	char *buf = calloc(1, n);

	env_init(&e, NULL, 1, 4, 40 * 1024, NULL);
	tmsg_init(&t);
	o = obj(&t, SL_SCOPE_ATTACHMENT, 2, NULL);
	assert_int_equal(feed(&e, &o, buf, n), SL_SINK_DONE);
	check_policy(&t, "scan-memcap", SL_ANOM_SCAN_MEMCAP, SL_ACTION_TEMPFAIL);
	assert_true(atomic_load(&e.mc.hits) >= 1);
	assert_int_equal(sl_memcap_used(&e.mc), 0);
	assert_int_equal(e.ctr.v[SL_CTR_SCAN_MEMCAP], 1);
	assert_int_equal(e.f.calls, 0);

	/* A smaller object fits. */
	o = obj(&t, SL_SCOPE_ATTACHMENT, 3, NULL);
	assert_int_equal(feed(&e, &o, buf, 20 * 1024), SL_SINK_PENDING);
	e.sink.ops->wait(e.sink.self);
	assert_int_equal(e.f.calls, 1);
	free(buf);
	sl_msg_release(&t.m);
	env_free(&e);
}

static void raw_and_text_modes(void **st)
{
	struct sl_scan_sink_config cfg;
	struct env e;
	struct tmsg t;
	struct sl_object o;

	/* Default: raw always, text never. */
	env_init(&e, NULL, 1, 4, 0, NULL);
	tmsg_init(&t);
	o = obj(&t, SL_SCOPE_TEXT, 1, NULL);
	assert_int_equal(e.sink.ops->begin(e.sink.self, &o, &o.state[0]), -1);
	o = obj(&t, SL_SCOPE_HEADER, 0, NULL);
	assert_int_equal(e.sink.ops->begin(e.sink.self, &o, &o.state[0]), -1);
	o = obj(&t, SL_SCOPE_RAW, 0, NULL);
	assert_int_equal(feed(&e, &o, "VIRUS-raw", 9), SL_SINK_PENDING);
	e.sink.ops->wait(e.sink.self);
	assert_int_equal(find_reason(&t.m, SL_REASON_VIRUS, "VIRUS-raw")->object, 0);
	sl_msg_release(&t.m);
	env_free(&e);

	/* on-anomaly: skipped on a clean decode, scanned after a mime.* anomaly. */
	sl_scan_sink_config_defaults(&cfg);
	assert_int_equal(sl_scan_raw_mode_parse("on-anomaly", &cfg.raw_mode), 0);
	cfg.scan_text = true;
	env_init(&e, &cfg, 1, 4, 0, NULL);
	tmsg_init(&t);
	o = obj(&t, SL_SCOPE_RAW, 0, NULL);
	assert_int_equal(feed(&e, &o, "VIRUS-raw", 9), SL_SINK_DONE);
	assert_int_equal(e.ctr.v[SL_CTR_SCAN_RAW_SKIPPED], 1);
	assert_int_equal(e.f.calls, 0);
	sl_msg_anomaly(&t.m, SL_ANOM_MIME_GAVE_UP, SL_ACTION_ALERT, NULL);
	o = obj(&t, SL_SCOPE_RAW, 0, NULL);
	assert_int_equal(feed(&e, &o, "VIRUS-raw", 9), SL_SINK_PENDING);
	o = obj(&t, SL_SCOPE_TEXT, 1, NULL);
	assert_int_equal(feed(&e, &o, "VIRUS-html", 10), SL_SINK_PENDING);
	while (t.m.pending)
		e.sink.ops->wait(e.sink.self);
	assert_non_null(find_reason(&t.m, SL_REASON_VIRUS, "VIRUS-raw"));
	assert_non_null(find_reason(&t.m, SL_REASON_VIRUS, "VIRUS-html"));
	sl_msg_release(&t.m);
	env_free(&e);

	sl_scan_sink_config_defaults(&cfg);
	assert_int_equal(sl_scan_raw_mode_parse("never", &cfg.raw_mode), 0);
	assert_int_equal(sl_scan_raw_mode_parse("sometimes", &cfg.raw_mode), -1);
	assert_string_equal(sl_scan_raw_mode_name(SL_SCAN_RAW_ON_ANOMALY), "on-anomaly");
	env_init(&e, &cfg, 1, 4, 0, NULL);
	tmsg_init(&t);
	o = obj(&t, SL_SCOPE_RAW, 0, NULL);
	assert_int_equal(e.sink.ops->begin(e.sink.self, &o, &o.state[0]), -1);
	sl_msg_release(&t.m);
	env_free(&e);
}

/* One scan thread held at the gate, a queue of one: the third object finds
 * the queue full. */
static void queue_full_policies(void **st)
{
	struct sl_scan_sink_config cfg;
	struct env e;
	struct tmsg t;
	struct sl_object a, b, c;

	for (int inl = 0; inl <= 1; inl++) {
		sl_scan_sink_config_defaults(&cfg);
		cfg.queue_full_inline = inl;
		env_init(&e, &cfg, 1, 1, 0, NULL);
		e.f.open = false;
		tmsg_init(&t);
		a = obj(&t, SL_SCOPE_ATTACHMENT, 2, NULL);
		b = obj(&t, SL_SCOPE_ATTACHMENT, 3, NULL);
		c = obj(&t, SL_SCOPE_ATTACHMENT, 4, NULL);
		assert_int_equal(feed(&e, &a, "SLOW", 4), SL_SINK_PENDING);
		fake_wait_entered(&e.f, 1);
		assert_int_equal(feed(&e, &b, "queued", 6), SL_SINK_PENDING);
		assert_int_equal(feed(&e, &c, "VIRUS-c", 7), SL_SINK_DONE);
		assert_int_equal(e.ctr.v[SL_CTR_SCAN_QUEUE_FULL], 1);
		if (inl) {
			/* Scanned right here, result applied at once. */
			assert_int_equal(find_reason(&t.m, SL_REASON_VIRUS, "VIRUS-c")->object, 4);
			assert_int_equal(e.ctr.v[SL_CTR_SCAN_INLINE], 1);
			assert_null(find_reason(&t.m, SL_REASON_POLICY, "scan-queue-full"));
		} else {
			check_policy(&t, "scan-queue-full", SL_ANOM_SCAN_QUEUE_FULL,
				     SL_ACTION_TEMPFAIL);
			assert_null(find_reason(&t.m, SL_REASON_VIRUS, "VIRUS-c"));
		}
		assert_int_equal(t.m.pending, 2);
		fake_open(&e.f);
		while (t.m.pending)
			e.sink.ops->wait(e.sink.self);
		sl_msg_release(&t.m);
		env_free(&e);
	}
}

static void abort_releases_everything(void **st)
{
	struct env e;
	struct tmsg t;
	struct sl_object o;
	char buf[50000];

	memset(buf, 'x', sizeof(buf));
	env_init(&e, NULL, 1, 4, 0, NULL);
	tmsg_init(&t);
	o = obj(&t, SL_SCOPE_ATTACHMENT, 2, NULL);
	assert_int_equal(e.sink.ops->begin(e.sink.self, &o, &o.state[0]), 0);
	e.sink.ops->data(e.sink.self, &o, o.state[0], (const uint8_t *)buf, sizeof(buf));
	assert_true(sl_memcap_used(&e.mc) >= sizeof(buf));
	e.sink.ops->abort(e.sink.self, &o, o.state[0]);
	assert_int_equal(sl_memcap_used(&e.mc), 0);
	assert_int_equal(t.m.pending, 0);
	assert_int_equal(e.f.calls, 0);

	/* Empty objects end without a scan. */
	o = obj(&t, SL_SCOPE_ATTACHMENT, 3, NULL);
	assert_int_equal(feed(&e, &o, "", 0), SL_SINK_DONE);
	assert_int_equal(e.f.calls, 0);
	sl_msg_release(&t.m);
	env_free(&e);
}

/* Freeing the sink settles what is still pending (shutdown). */
static void free_settles_pending(void **st)
{
	struct env e;
	struct tmsg t;
	struct sl_object o;

	env_init(&e, NULL, 1, 4, 0, NULL);
	e.f.open = false;
	tmsg_init(&t);
	o = obj(&t, SL_SCOPE_ATTACHMENT, 2, NULL);
	assert_int_equal(feed(&e, &o, "SLOW VIRUS", 10), SL_SINK_PENDING);
	sl_msg_mark_ended(&t.m);
	assert_int_equal(t.settled, 0);
	fake_open(&e.f);
	sl_scan_sink_free(e.ss);
	assert_int_equal(t.settled, 1);
	assert_int_equal(t.m.refs, 1);
	sl_scan_pool_free(e.pool);
	assert_int_equal(sl_memcap_used(&e.mc), 0);
	sl_msg_release(&t.m);

	/* A stopped pool: the object gets the error policy, not silence. */
	env_init(&e, NULL, 1, 4, 0, NULL);
	sl_scan_pool_stop(e.pool, SL_SCAN_CANCEL);
	tmsg_init(&t);
	o = obj(&t, SL_SCOPE_ATTACHMENT, 2, NULL);
	assert_int_equal(feed(&e, &o, "VIRUS-late", 10), SL_SINK_DONE);
	check_policy(&t, "scan-error", SL_ANOM_SCAN_ERROR, SL_ACTION_TEMPFAIL);
	sl_msg_release(&t.m);
	env_free(&e);
}

/* The real engine behind the sink: an attachment as decoded bytes, and the
 * raw message through ClamAV's own MIME parser. */
static void real_clamav_through_the_sink(void **st)
{
	struct env e;
	struct tmsg t;
	struct sl_object o;
	struct tbuf nl = eicar_nl();
	struct tbuf mail = make_mail("", nl.p, nl.n);
	const struct sl_reason *r;

	env_init(&e, NULL, 2, 8, 0, TEST_DB_DIR);
	tmsg_init(&t);
	o = obj(&t, SL_SCOPE_ATTACHMENT, 3, "report.txt");
	assert_int_equal(feed(&e, &o, nl.p, nl.n), SL_SINK_PENDING);
	o = obj(&t, SL_SCOPE_ATTACHMENT, 4, "notes.txt");
	assert_int_equal(feed(&e, &o, "nothing to see", 14), SL_SINK_PENDING);
	sl_msg_mark_ended(&t.m);
	while (t.m.pending)
		e.sink.ops->wait(e.sink.self);
	r = find_reason(&t.m, SL_REASON_VIRUS, "Sluice.Test.EICAR.NDB.UNOFFICIAL");
	assert_non_null(r);
	assert_int_equal(r->object, 3);
	assert_int_equal(t.m.verdict.n, 1);
	assert_int_equal(t.settled, 1);
	sl_msg_release(&t.m);

	tmsg_init(&t);
	o = obj(&t, SL_SCOPE_RAW, 0, NULL);
	assert_int_equal(feed(&e, &o, mail.p, mail.n), SL_SINK_PENDING);
	e.sink.ops->wait(e.sink.self);
	r = find_reason(&t.m, SL_REASON_VIRUS, "Sluice.Test.EICAR.NDB.UNOFFICIAL");
	assert_non_null(r);
	assert_int_equal(r->object, 0);
	assert_int_equal(t.m.verdict.action, SL_ACTION_BLOCK);
	sl_msg_release(&t.m);

	free(nl.p);
	free(mail.p);
	env_free(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(virus_pending_then_applied),
		cmocka_unit_test(collect_after_poll),
		cmocka_unit_test(timeout_error_limit_policies),
		cmocka_unit_test(policies_are_configurable),
		cmocka_unit_test(too_large_is_policy_not_scan),
		cmocka_unit_test(memcap_refusal_is_policy),
		cmocka_unit_test(raw_and_text_modes),
		cmocka_unit_test(queue_full_policies),
		cmocka_unit_test(abort_releases_everything),
		cmocka_unit_test(free_settles_pending),
		cmocka_unit_test(real_clamav_through_the_sink),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
