#include "scan_sink.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "anomaly.h"
#include "msg.h"

/* First buffer of an object; doubled as it grows.  Small, because most
 * attachments are small and the memcap is charged by capacity. */
#define SCAN_BUF_MIN (16u * 1024)

/* Per-object state, which becomes the pool job at end().  One allocation
 * lives from begin() to collect(). */
struct scan_obj {
	struct sl_scan_job job;		/* job.buf/len: the bytes so far */
	struct sl_msg *msg;
	uint32_t part;			/* reason object: part id, 0 = raw message */
	bool raw;
	bool dead;			/* a policy was applied; ignore the rest */
	size_t cap;			/* capacity of job.buf = bytes charged */
	char filename[48];		/* for the reason text; truncated */
};

struct sl_scan_sink {
	struct sl_scan_sink_config cfg;
	struct sl_scan_pool *pool;
	struct sl_scan_port *port;
	struct sl_memcap *memcap;
	struct sl_counters *ctr;
	struct sl_anomaly_set mime_mask;	/* every mime.* anomaly */
};

static const char *const raw_mode_names[] = {
	[SL_SCAN_RAW_ALWAYS] = "always",
	[SL_SCAN_RAW_ON_ANOMALY] = "on-anomaly",
	[SL_SCAN_RAW_NEVER] = "never",
};

const char *sl_scan_raw_mode_name(enum sl_scan_raw_mode m)
{
	return (unsigned)m <= SL_SCAN_RAW_NEVER ? raw_mode_names[m] : "unknown";
}

int sl_scan_raw_mode_parse(const char *s, enum sl_scan_raw_mode *out)
{
	for (unsigned i = 0; i <= SL_SCAN_RAW_NEVER; i++) {
		if (strcmp(s, raw_mode_names[i]) == 0) {
			*out = (enum sl_scan_raw_mode)i;
			return 0;
		}
	}
	return -1;
}

void sl_scan_sink_config_defaults(struct sl_scan_sink_config *c)
{
	memset(c, 0, sizeof(*c));
	c->max_object = 25ull << 20;
	c->raw_mode = SL_SCAN_RAW_ALWAYS;
	c->on_virus = SL_ACTION_BLOCK;
	c->on_too_large = SL_ACTION_BLOCK;
	c->on_memcap = SL_ACTION_TEMPFAIL;
	c->on_error = SL_ACTION_TEMPFAIL;
	c->on_timeout = SL_ACTION_TEMPFAIL;
	c->on_queue_full = SL_ACTION_TEMPFAIL;
}

/* A policy outcome: the named anomaly recorded on the message and a policy
 * reason, both at the configured action, so the verdict says which limit
 * and the anomaly list says what happened. */
struct policy {
	enum sl_anomaly anomaly;
	const char *reason_id;
	enum sl_counter counter;
};

static const struct policy POL_TOO_LARGE = {
	SL_ANOM_SCAN_TOO_LARGE, "too-large-to-scan", SL_CTR_SCAN_TOO_LARGE };
static const struct policy POL_MEMCAP = {
	SL_ANOM_SCAN_MEMCAP, "scan-memcap", SL_CTR_SCAN_MEMCAP };
static const struct policy POL_ERROR = {
	SL_ANOM_SCAN_ERROR, "scan-error", SL_CTR_SCAN_ERROR };
static const struct policy POL_TIMEOUT = {
	SL_ANOM_SCAN_TIMEOUT, "scan-timeout", SL_CTR_SCAN_TIMEOUT };
static const struct policy POL_QUEUE_FULL = {
	SL_ANOM_SCAN_QUEUE_FULL, "scan-queue-full", SL_CTR_SCAN_QUEUE_FULL };

static void describe(const struct scan_obj *so, const char *what, char *buf, size_t size)
{
	if (so->raw)
		snprintf(buf, size, "%s in the raw message", what);
	else if (so->filename[0])
		snprintf(buf, size, "%s in part %u (%s)", what, so->part, so->filename);
	else
		snprintf(buf, size, "%s in part %u", what, so->part);
}

static void apply_policy(struct sl_scan_sink *s, struct scan_obj *so, const struct policy *pol,
			 enum sl_action act, const char *what)
{
	char text[SL_REASON_TEXT_MAX];

	describe(so, what, text, sizeof(text));
	sl_ctr_inc(s->ctr, pol->counter);
	sl_msg_anomaly(so->msg, pol->anomaly, act, text);
	sl_verdict_add(&so->msg->verdict, SL_REASON_POLICY, act, pol->reason_id, text, so->part);
}

/* job.charged, not cap: once the pool ran the job it has freed the buffer
 * and zeroed the charge. */
static void release_buf(struct sl_scan_sink *s, struct scan_obj *so)
{
	free(so->job.buf);
	so->job.buf = NULL;
	so->job.len = 0;
	if (s->memcap && so->job.charged)
		sl_memcap_give(s->memcap, so->job.charged);
	so->cap = so->job.charged = 0;
}

static void obj_free(struct sl_scan_sink *s, struct scan_obj *so)
{
	release_buf(s, so);
	free(so);
}

/* The object is settled by a policy already: drop its bytes now, not at end. */
static void kill_obj(struct sl_scan_sink *s, struct scan_obj *so, const struct policy *pol,
		     enum sl_action act, const char *what)
{
	apply_policy(s, so, pol, act, what);
	release_buf(s, so);
	so->dead = true;
}

static void apply_result(struct sl_scan_sink *s, struct scan_obj *so)
{
	const struct sl_clam_result *r = &so->job.result;
	char text[SL_REASON_TEXT_MAX];

	if (r->cached)
		sl_ctr_inc(s->ctr, SL_CTR_SCAN_CACHE_HIT);
	switch (r->status) {
	case SL_CLAM_CLEAN:
		sl_ctr_inc(s->ctr, SL_CTR_SCAN_CLEAN);
		break;
	case SL_CLAM_VIRUS:
		sl_ctr_inc(s->ctr, SL_CTR_SCAN_VIRUS);
		describe(so, "ClamAV signature", text, sizeof(text));
		sl_verdict_add(&so->msg->verdict, SL_REASON_VIRUS, s->cfg.on_virus, r->name, text,
			       so->part);
		break;
	case SL_CLAM_LIMIT:
		/* A limit inside ClamAV (archive members, nesting, unpacked
		 * size) is the same failure as an object too big to buffer:
		 * content went unscanned. */
		sl_ctr_inc(s->ctr, SL_CTR_SCAN_LIMIT);
		apply_policy(s, so, &POL_TOO_LARGE, s->cfg.on_too_large, r->name);
		break;
	case SL_CLAM_TIMEOUT:
		apply_policy(s, so, &POL_TIMEOUT, s->cfg.on_timeout, "scan time limit");
		break;
	case SL_CLAM_CANCELLED:
		sl_ctr_inc(s->ctr, SL_CTR_SCAN_CANCELLED);
		apply_policy(s, so, &POL_ERROR, s->cfg.on_error, "scan cancelled at shutdown");
		break;
	case SL_CLAM_ERROR:
	default:
		apply_policy(s, so, &POL_ERROR, s->cfg.on_error,
			     r->name[0] ? r->name : "scan error");
		break;
	}
}

/* Applies a job that came back from the pool, then gives back the
 * message's pending count (which may settle and free the message: it is
 * not touched after). */
static void finish(struct sl_scan_sink *s, struct sl_scan_job *j)
{
	struct scan_obj *so = (struct scan_obj *)((char *)j - offsetof(struct scan_obj, job));
	struct sl_msg *m = so->msg;

	apply_result(s, so);
	obj_free(s, so);
	sl_msg_unpend(m);
}

static bool has_mime_anomaly(const struct sl_scan_sink *s, const struct sl_msg *m)
{
	for (unsigned i = 0; i < SL_ANOM_WORDS; i++)
		if (m->anomalies.w[i] & s->mime_mask.w[i])
			return true;
	return false;
}

static int sink_begin(void *self, struct sl_object *o, void **state)
{
	struct sl_scan_sink *s = self;
	struct scan_obj *so;

	switch (o->scope) {
	case SL_SCOPE_ATTACHMENT:
		break;
	case SL_SCOPE_TEXT:
		if (!s->cfg.scan_text)
			return -1;
		break;
	case SL_SCOPE_RAW:
		if (s->cfg.raw_mode == SL_SCAN_RAW_NEVER)
			return -1;
		break;
	default:
		return -1;
	}
	so = calloc(1, sizeof(*so));
	if (!so) {
		struct scan_obj tmp = { .msg = o->msg, .part = o->part,
					.raw = o->scope == SL_SCOPE_RAW };

		apply_policy(s, &tmp, &POL_MEMCAP, s->cfg.on_memcap, "out of memory");
		return -1;
	}
	so->msg = o->msg;
	so->raw = o->scope == SL_SCOPE_RAW;
	so->part = so->raw ? 0 : o->part;
	if (o->filename)
		snprintf(so->filename, sizeof(so->filename), "%s", o->filename);
	*state = so;
	return 0;
}

/* Grows the buffer to hold 'need' bytes (need <= max_object), charging the
 * memcap for the new capacity first. */
static bool grow(struct sl_scan_sink *s, struct scan_obj *so, size_t need)
{
	size_t cap = so->cap ? so->cap : SCAN_BUF_MIN;
	uint8_t *p;

	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	if (cap > s->cfg.max_object)
		cap = (size_t)s->cfg.max_object;
	if (s->memcap && !sl_memcap_take(s->memcap, cap - so->cap))
		return false;
	p = realloc(so->job.buf, cap);
	if (!p) {
		if (s->memcap)
			sl_memcap_give(s->memcap, cap - so->cap);
		return false;
	}
	so->job.buf = p;
	so->cap = so->job.charged = cap;
	return true;
}

/* The one copy of the payload in this sink: ClamAV needs the whole object
 * contiguous in memory, and the bytes must outlive the builder's slices. */
static void sink_data(void *self, struct sl_object *o, void *state, const uint8_t *p, size_t n)
{
	struct sl_scan_sink *s = self;
	struct scan_obj *so = state;
	size_t len = so->job.len;

	if (so->dead || n == 0)
		return;
	if (n > s->cfg.max_object || len > s->cfg.max_object - n) {
		char what[64];

		snprintf(what, sizeof(what), "object over %llu bytes",
			 (unsigned long long)s->cfg.max_object);
		kill_obj(s, so, &POL_TOO_LARGE, s->cfg.on_too_large, what);
		return;
	}
	if (len + n > so->cap && !grow(s, so, len + n)) {
		kill_obj(s, so, &POL_MEMCAP, s->cfg.on_memcap, "scan memcap refused the buffer");
		return;
	}
	memcpy(so->job.buf + len, p, n);
	so->job.len = len + n;
}

static enum sl_sink_end sink_end(void *self, struct sl_object *o, void *state)
{
	struct sl_scan_sink *s = self;
	struct scan_obj *so = state;

	if (so->dead || so->job.len == 0) {
		obj_free(s, so);
		return SL_SINK_DONE;
	}
	if (so->raw && s->cfg.raw_mode == SL_SCAN_RAW_ON_ANOMALY && !has_mime_anomaly(s, so->msg)) {
		sl_ctr_inc(s->ctr, SL_CTR_SCAN_RAW_SKIPPED);
		obj_free(s, so);
		return SL_SINK_DONE;
	}
	sl_ctr_inc(s->ctr, SL_CTR_SCAN_JOBS);
	sl_ctr_add(s->ctr, SL_CTR_SCAN_BYTES, so->job.len);
	so->job.memcap = s->memcap;
	/* The builder hashed exactly these bytes (the buffer holds all of
	 * them: a cut object was killed above): the cache needs no second
	 * pass over them. */
	if (o->sha256 && so->job.len == o->size) {
		memcpy(so->job.sha256, o->sha256, sizeof(so->job.sha256));
		so->job.has_sha256 = true;
	}

	/* Pending is taken after a successful submit: the job may finish at
	 * once, but its result only reaches the message through collect() on
	 * this thread, after we return. */
	if (sl_scan_submit(s->port, &so->job) == 0) {
		sl_msg_pend(so->msg);
		return SL_SINK_PENDING;
	}
	int err = errno;

	if (err == EAGAIN && s->cfg.queue_full_inline) {
		sl_ctr_inc(s->ctr, SL_CTR_SCAN_QUEUE_FULL);
		sl_ctr_inc(s->ctr, SL_CTR_SCAN_INLINE);
		sl_scan_pool_run(s->pool, &so->job);
		apply_result(s, so);
	} else if (err == EAGAIN) {
		apply_policy(s, so, &POL_QUEUE_FULL, s->cfg.on_queue_full, "scan queue full");
	} else {
		apply_policy(s, so, &POL_ERROR, s->cfg.on_error, "scan pool stopped");
	}
	obj_free(s, so);
	return SL_SINK_DONE;
}

static void sink_abort(void *self, struct sl_object *o, void *state)
{
	obj_free(self, state);
}

static int sink_poll_fd(void *self)
{
	struct sl_scan_sink *s = self;

	return sl_scan_port_fd(s->port);
}

static void sink_collect(void *self)
{
	struct sl_scan_sink *s = self;
	struct sl_scan_job *j;

	while ((j = sl_scan_port_take(s->port)))
		finish(s, j);
}

static void sink_wait(void *self)
{
	struct sl_scan_sink *s = self;
	struct sl_scan_job *j = sl_scan_port_wait(s->port);

	if (j)
		finish(s, j);
	sink_collect(s);
}

const struct sl_sink_ops sl_scan_sink_ops = {
	.name = "clamav",
	.scopes = 1u << SL_SCOPE_ATTACHMENT | 1u << SL_SCOPE_TEXT | 1u << SL_SCOPE_RAW,
	.begin = sink_begin,
	.data = sink_data,
	.end = sink_end,
	.abort = sink_abort,
	.poll_fd = sink_poll_fd,
	.collect = sink_collect,
	.wait = sink_wait,
};

struct sl_scan_sink *sl_scan_sink_new(const struct sl_scan_sink_config *cfg,
				      struct sl_scan_pool *pool, struct sl_memcap *memcap,
				      struct sl_counters *ctr)
{
	struct sl_scan_sink *s;
	char layer[16];

	if (cfg->max_object == 0 || cfg->max_object > SIZE_MAX / 2)
		return NULL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->port = sl_scan_port_new(pool);
	if (!s->port) {
		free(s);
		return NULL;
	}
	s->cfg = *cfg;
	s->pool = pool;
	s->memcap = memcap;
	s->ctr = ctr;
	for (unsigned a = 0; a < SL_ANOM_MAX; a++)
		if (strcmp(sl_anomaly_layer(a, layer, sizeof(layer)), "mime") == 0)
			sl_anomaly_set_add(&s->mime_mask, a);
	return s;
}

void sl_scan_sink_free(struct sl_scan_sink *s)
{
	struct sl_scan_job *j;

	if (!s)
		return;
	while ((j = sl_scan_port_wait(s->port)))
		finish(s, j);
	sl_scan_port_free(s->port);
	free(s);
}

struct sl_sink sl_scan_sink_sink(struct sl_scan_sink *s)
{
	return (struct sl_sink){ .ops = &sl_scan_sink_ops, .self = s };
}
