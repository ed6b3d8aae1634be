#include "match_sink.h"

#include <hs.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mailaddr.h"
#include "addrlist.h"
#include "spoof.h"

/* Recycled object states kept per scope (each holds an open stream). */
#define FREE_MAX 64
/* Filename bytes kept for ext/name tests; a longer name keeps its tail,
 * where the extension is. */
#define NAME_KEEP 1024
/* hs_scan_stream takes an unsigned int length. */
#define SCAN_CHUNK (1u << 30)

struct obj_state {
	struct obj_state *next;		/* free list */
	struct sl_match_sink *sink;
	struct sl_ruleset *rs;		/* referenced: the set this object began with */
	const struct sl_rule *rules;
	struct sl_object *o;		/* the object being scanned (for the callback) */
	hs_stream_t *stream;		/* NULL when the scope has no database */
	enum sl_scope scope;
	bool failed;
	char *name;			/* filename objects: the name's bytes */
	size_t name_len;
	uint64_t seen[];		/* one bit per rule: matched in this object */
};

struct sl_match_sink {
	struct sl_ruleset *rs;
	hs_scratch_t *scratch;
	struct sl_counters *ctr;
	struct obj_state *free[SL_SCOPE_COUNT];
	unsigned n_free[SL_SCOPE_COUNT];
};

static size_t seen_words(const struct sl_ruleset *rs)
{
	unsigned n;

	sl_ruleset_rules(rs, &n);
	return ((size_t)n + 63) / 64;
}

static void state_destroy(struct obj_state *st)
{
	if (st->stream)
		hs_close_stream(st->stream, NULL, NULL, NULL);
	free(st->name);
	sl_ruleset_unref(st->rs);
	free(st);
}

static void flush_free(struct sl_match_sink *s)
{
	for (unsigned sc = 0; sc < SL_SCOPE_COUNT; sc++) {
		while (s->free[sc]) {
			struct obj_state *st = s->free[sc];

			s->free[sc] = st->next;
			state_destroy(st);
		}
		s->n_free[sc] = 0;
	}
}

static void scan_failed(struct sl_match_sink *s, struct sl_object *o, const char *why)
{
	sl_ctr_inc(s->ctr, SL_CTR_RULES_SCAN_ERRORS);
	sl_msg_anomaly(o->msg, SL_ANOM_RULES_SCAN_ERROR,
		       sl_anomaly_default_action(SL_ANOM_RULES_SCAN_ERROR), why);
}

/* The rule's direction and protocol conditions. */
static bool rule_for_msg(const struct sl_rule *r, const struct sl_msg *m)
{
	return (!r->dirs || (r->dirs & (1u << m->dir))) &&
	       (!r->protos || (r->protos & (1u << m->proto)));
}

/* Per-rule conditions that do not depend on the bytes. */
static bool rule_applies(const struct sl_rule *r, const struct sl_object *o)
{
	if (!rule_for_msg(r, o->msg))
		return false;
	if (o->scope == SL_SCOPE_HEADER && r->n_headers) {
		if (!o->name)
			return false;
		for (unsigned i = 0; i < r->n_headers; i++)
			if (strcasecmp(o->name, r->headers[i]) == 0)
				return true;
		return false;
	}
	return true;
}

static void fire(struct sl_match_sink *s, const struct sl_rule *r, struct sl_msg *m, uint32_t obj)
{
	sl_verdict_add(&m->verdict, SL_REASON_RULE, r->action, r->id, r->msg, obj);
	sl_ctr_inc(s->ctr, SL_CTR_RULES_FIRED);
}

static int on_match(unsigned int id, unsigned long long from, unsigned long long to,
		    unsigned int flags, void *ctx)
{
	struct obj_state *st = ctx;
	const struct sl_rule *r = &st->rules[id];
	uint64_t bit = 1ull << (id % 64);

	if (st->seen[id / 64] & bit)
		return 0;
	st->seen[id / 64] |= bit;
	/* rules with object tests are judged at the end, from the seen bit */
	if (!sl_rule_deferred(r) && rule_applies(r, st->o))
		fire(st->sink, r, st->o->msg, st->o->part);
	return 0;
}

static struct obj_state *state_take(struct sl_match_sink *s, enum sl_scope sc,
				    const struct sl_ruleset_scope *view)
{
	size_t words = seen_words(s->rs);
	struct obj_state *st = s->free[sc];

	if (st) {
		s->free[sc] = st->next;
		s->n_free[sc]--;
	} else {
		st = calloc(1, sizeof(*st) + words * sizeof(uint64_t));
		if (!st)
			return NULL;
		st->sink = s;
		st->scope = sc;
		st->rs = sl_ruleset_ref(s->rs);
		st->rules = sl_ruleset_rules(s->rs, &(unsigned){ 0 });
		if (view->db && hs_open_stream((const hs_database_t *)view->db, 0, &st->stream) !=
				HS_SUCCESS) {
			st->stream = NULL;
			state_destroy(st);
			return NULL;
		}
	}
	memset(st->seen, 0, words * sizeof(uint64_t));
	st->failed = false;
	st->name_len = 0;
	return st;
}

/* Streams come back reset (hs_reset_stream) and are reused by the next
 * object of the same scope, while the set is still current. */
static void state_release(struct sl_match_sink *s, struct obj_state *st)
{
	if (st->rs != s->rs || st->failed || s->n_free[st->scope] >= FREE_MAX) {
		state_destroy(st);
		return;
	}
	st->o = NULL;
	st->next = s->free[st->scope];
	s->free[st->scope] = st;
	s->n_free[st->scope]++;
}

static int ms_begin(void *self, struct sl_object *o, void **state)
{
	struct sl_match_sink *s = self;
	const struct sl_ruleset_scope *view;
	struct obj_state *st;

	if ((unsigned)o->scope >= SL_SCOPE_COUNT)
		return -1;
	view = sl_ruleset_scope(s->rs, o->scope);
	if (!view->db && !view->n_end_rules)
		return -1;
	if (!(st = state_take(s, o->scope, view))) {
		scan_failed(s, o, "rule matcher: cannot open a stream (out of memory)");
		return -1;
	}
	st->o = o;
	*state = st;
	sl_ctr_inc(s->ctr, SL_CTR_RULES_OBJECTS);
	return 0;
}

static void keep_name(struct obj_state *st, const uint8_t *p, size_t n)
{
	if (!st->name && !(st->name = malloc(NAME_KEEP)))
		return;
	if (n >= NAME_KEEP) {
		memcpy(st->name, p + n - NAME_KEEP, NAME_KEEP);
		st->name_len = NAME_KEEP;
	} else if (st->name_len + n <= NAME_KEEP) {
		memcpy(st->name + st->name_len, p, n);
		st->name_len += n;
	} else {
		size_t keep = NAME_KEEP - n;

		memmove(st->name, st->name + st->name_len - keep, keep);
		memcpy(st->name + keep, p, n);
		st->name_len = NAME_KEEP;
	}
}

static void ms_data(void *self, struct sl_object *o, void *state, const uint8_t *p, size_t n)
{
	struct sl_match_sink *s = self;
	struct obj_state *st = state;

	st->o = o;
	if (o->scope == SL_SCOPE_FILENAME)
		keep_name(st, p, n);
	if (!st->stream || st->failed)
		return;
	sl_ctr_add(s->ctr, SL_CTR_RULES_BYTES, n);
	while (n) {
		unsigned len = n > SCAN_CHUNK ? SCAN_CHUNK : (unsigned)n;

		if (hs_scan_stream(st->stream, (const char *)p, len, 0, s->scratch, on_match, st) !=
		    HS_SUCCESS) {
			st->failed = true;
			scan_failed(s, o, "rule matcher: hs_scan_stream failed");
			return;
		}
		p += len;
		n -= len;
	}
}

static void judge_end_rules(struct sl_match_sink *s, struct obj_state *st, struct sl_object *o)
{
	const struct sl_ruleset_scope *view = sl_ruleset_scope(st->rs, st->scope);
	const char *name = o->filename;
	size_t name_len = name ? strlen(name) : 0;

	if (st->scope == SL_SCOPE_FILENAME && st->name_len) {
		name = st->name;
		name_len = st->name_len;
	}
	for (unsigned i = 0; i < view->n_end_rules; i++) {
		uint32_t id = view->end_rules[i];
		const struct sl_rule *r = &st->rules[id];

		if (r->kind != SL_RULE_POLICY && !(st->seen[id / 64] & (1ull << (id % 64))))
			continue;
		if (rule_applies(r, o) &&
		    sl_attach_policy_match(&r->policy, name, name_len, o->content_type, o->size))
			fire(s, r, o->msg, o->part);
	}
}

static enum sl_sink_end ms_end(void *self, struct sl_object *o, void *state)
{
	struct sl_match_sink *s = self;
	struct obj_state *st = state;

	st->o = o;
	/* reports end-anchored matches ($) and readies the stream for reuse */
	if (st->stream && !st->failed &&
	    hs_reset_stream(st->stream, 0, s->scratch, on_match, st) != HS_SUCCESS) {
		st->failed = true;
		scan_failed(s, o, "rule matcher: hs_reset_stream failed");
	}
	judge_end_rules(s, st, o);
	state_release(s, st);
	return SL_SINK_DONE;
}

/* Matches already reported stand; tests that need the whole object (size,
 * end anchors) are not judged on a cut-short object. */
static void ms_abort(void *self, struct sl_object *o, void *state)
{
	struct sl_match_sink *s = self;
	struct obj_state *st = state;

	if (st->stream && !st->failed &&
	    hs_reset_stream(st->stream, 0, NULL, NULL, NULL) != HS_SUCCESS)
		st->failed = true;
	state_release(s, st);
}

static bool list_hit_one(const struct sl_addrlist *l, const char *path)
{
	char a[SL_ADDR_MAX];

	if (!path)
		return false;
	sl_addr_bare(path, a, sizeof(a));
	return a[0] && sl_addrlist_match(l, a);
}

static bool list_hit_hdr(const struct sl_addrlist *l, const char *value)
{
	char a[SL_ADDR_MAX];
	const char *cur = value;

	while (sl_addr_next(&cur, a, sizeof(a)))
		if (sl_addrlist_match(l, a))
			return true;
	return false;
}

static bool list_hit(const struct sl_rule *r, const struct sl_msg *m)
{
	const struct sl_addrlist *l = r->list;
	uint32_t t = r->addr_targets;

	if ((t & SL_ADDR_MAIL_FROM) && list_hit_one(l, m->mail_from))
		return true;
	if ((t & SL_ADDR_AUTH_USER) && list_hit_one(l, m->auth_user))
		return true;
	for (unsigned i = 0; (t & SL_ADDR_RCPT_TO) && m->rcpt && i < m->n_rcpt; i++)
		if (list_hit_one(l, m->rcpt[i]))
			return true;
	if ((t & SL_ADDR_HDR_FROM) && list_hit_hdr(l, m->hdr_from))
		return true;
	for (unsigned i = 0; (t & SL_ADDR_HDR_TO) && m->hdr_to && i < m->n_hdr_to; i++)
		if (list_hit_hdr(l, m->hdr_to[i]))
			return true;
	return false;
}

static void ms_msg_end(void *self, struct sl_msg *m)
{
	struct sl_match_sink *s = self;
	unsigned n, n_rules;
	const uint32_t *ix = sl_ruleset_msg_rules(s->rs, &n);
	const struct sl_rule *rules = sl_ruleset_rules(s->rs, &n_rules);

	for (unsigned i = 0; i < n; i++) {
		const struct sl_rule *r = &rules[ix[i]];
		bool hit;

		if (!rule_for_msg(r, m))
			continue;
		if (r->kind == SL_RULE_LIST)
			hit = list_hit(r, m);
		else
			hit = sl_spoof_msg(&r->spoof, m, NULL, 0);
		if (hit)
			fire(s, r, m, 0);
	}
}

const struct sl_sink_ops sl_match_sink_ops = {
	.name = "rules",
	.scopes = (1u << SL_SCOPE_COUNT) - 1,
	.begin = ms_begin,
	.data = ms_data,
	.end = ms_end,
	.abort = ms_abort,
	.msg_end = ms_msg_end,
};

struct sl_match_sink *sl_match_sink_new(struct sl_ruleset *rs, struct sl_counters *ctr)
{
	struct sl_match_sink *s = calloc(1, sizeof(*s));
	const struct hs_scratch *proto = sl_ruleset_scratch_proto(rs);

	if (!s)
		return NULL;
	if (proto && hs_clone_scratch((const hs_scratch_t *)proto, &s->scratch) != HS_SUCCESS) {
		free(s);
		return NULL;
	}
	s->rs = sl_ruleset_ref(rs);
	s->ctr = ctr;
	return s;
}

void sl_match_sink_free(struct sl_match_sink *s)
{
	if (!s)
		return;
	flush_free(s);
	hs_free_scratch(s->scratch);
	sl_ruleset_unref(s->rs);
	free(s);
}

struct sl_sink sl_match_sink_sink(struct sl_match_sink *s)
{
	return (struct sl_sink){ &sl_match_sink_ops, s };
}

int sl_match_sink_set_ruleset(struct sl_match_sink *s, struct sl_ruleset *rs)
{
	if (rs == s->rs)
		return 0;
	/* Grown, never shrunk: objects still open on the old set keep using
	 * this scratch with the old databases. */
	for (unsigned sc = 0; sc < SL_SCOPE_COUNT; sc++) {
		const struct sl_ruleset_scope *view = sl_ruleset_scope(rs, (enum sl_scope)sc);

		if (view->db && hs_alloc_scratch((const hs_database_t *)view->db, &s->scratch) !=
				HS_SUCCESS)
			return -1;
	}
	flush_free(s);
	sl_ruleset_ref(rs);
	sl_ruleset_unref(s->rs);
	s->rs = rs;
	sl_ctr_inc(s->ctr, SL_CTR_RULES_RELOADS);
	return 0;
}
