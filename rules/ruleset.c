#include "ruleset.h"

#include <hs.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addrlist.h"

struct scope_data {
	hs_database_t *db;
	int shared_from;		/* scope whose database this is, or -1 (own) */
	unsigned n_patterns;
	size_t db_bytes;
	uint32_t *end_rules;
	struct sl_ruleset_scope view;
};

struct sl_ruleset {
	atomic_uint refs;
	struct sl_rule_vec rules;
	char **files;			/* the names rules point to (sl_rule.file) */
	size_t n_files;
	struct sl_addrlist **lists;
	char **list_paths;
	unsigned n_lists;
	struct scope_data scope[SL_SCOPE_COUNT];
	uint32_t *msg_rules;
	unsigned n_msg_rules;
	hs_scratch_t *proto;
};

static void ruleset_free(struct sl_ruleset *rs)
{
	sl_rule_vec_free(&rs->rules);
	for (unsigned i = 0; i < rs->n_lists; i++) {
		sl_addrlist_free(rs->lists[i]);
		free(rs->list_paths[i]);
	}
	free(rs->lists);
	free(rs->list_paths);
	for (unsigned s = 0; s < SL_SCOPE_COUNT; s++) {
		if (rs->scope[s].shared_from < 0)
			hs_free_database(rs->scope[s].db);
		free(rs->scope[s].end_rules);
	}
	free(rs->msg_rules);
	hs_free_scratch(rs->proto);
	for (size_t i = 0; i < rs->n_files; i++)
		free(rs->files[i]);
	free(rs->files);
	free(rs);
}

static int oom(struct sl_rule_error *err, const char *file)
{
	return sl_rule_error_set(err, file, 0, 0, "out of memory");
}

/* Ids are unique across every file; the error names the second definition
 * that comes first in load order. */
static int cmp_id(const void *a, const void *b, void *arg)
{
	const struct sl_rule *v = arg;
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	int c = strcmp(v[x].id, v[y].id);

	return c ? c : (x > y) - (x < y);
}

static int check_ids(struct sl_ruleset *rs, struct sl_rule_error *err)
{
	size_t n = rs->rules.n;
	uint32_t *ix = malloc((n ? n : 1) * sizeof(*ix));
	size_t dup = SIZE_MAX, orig = 0;

	if (!ix)
		return oom(err, rs->n_files ? rs->files[0] : "");
	for (size_t i = 0; i < n; i++)
		ix[i] = (uint32_t)i;
	qsort_r(ix, n, sizeof(*ix), cmp_id, rs->rules.v);
	for (size_t i = 1; i < n; i++) {
		if (strcmp(rs->rules.v[ix[i]].id, rs->rules.v[ix[i - 1]].id) != 0)
			continue;
		if ((i < 2 || strcmp(rs->rules.v[ix[i]].id, rs->rules.v[ix[i - 2]].id) != 0) &&
		    ix[i] < dup) {
			dup = ix[i];
			orig = ix[i - 1];
		}
	}
	free(ix);
	if (dup == SIZE_MAX)
		return 0;
	const struct sl_rule *d = &rs->rules.v[dup], *o = &rs->rules.v[orig];

	return sl_rule_error_set(err, d->file, d->line, d->id_column,
				 "duplicate rule id '%s' (first defined at %s:%u)", d->id, o->file,
				 o->line);
}

static int load_lists(struct sl_ruleset *rs, struct sl_rule_error *err)
{
	for (size_t i = 0; i < rs->rules.n; i++) {
		struct sl_rule *r = &rs->rules.v[i];
		struct sl_rule_error tmp;
		unsigned j = 0;

		if (r->kind != SL_RULE_LIST)
			continue;
		while (j < rs->n_lists && strcmp(rs->list_paths[j], r->list_path) != 0)
			j++;
		if (j == rs->n_lists) {
			char *buf, *path;
			size_t len;
			struct sl_addrlist *l;
			void *a, *b;

			if (sl_rule_read_file(r->list_path, &buf, &len, &tmp))
				return sl_rule_error_set(err, r->file, r->list_line,
							 r->list_column, "list '%s': %s",
							 r->list_path, tmp.message);
			l = sl_addrlist_parse(r->list_path, buf, len, err);
			free(buf);
			if (!l)
				return -1;
			a = realloc(rs->lists, (j + 1) * sizeof(*rs->lists));
			if (a)
				rs->lists = a;
			b = realloc(rs->list_paths, (j + 1) * sizeof(*rs->list_paths));
			if (b)
				rs->list_paths = b;
			path = strdup(r->list_path);
			if (!a || !b || !path) {
				free(path);
				sl_addrlist_free(l);
				return oom(err, r->file);
			}
			rs->lists[j] = l;
			rs->list_paths[j] = path;
			rs->n_lists++;
		}
		r->list = rs->lists[j];
	}
	return 0;
}

static unsigned hs_flags(const struct sl_rule_pattern *p)
{
	unsigned f = HS_FLAG_SINGLEMATCH;

	if (p->flags & SL_PAT_NOCASE)
		f |= HS_FLAG_CASELESS;
	if (p->flags & SL_PAT_DOTALL)
		f |= HS_FLAG_DOTALL;
	if (p->flags & SL_PAT_MULTILINE)
		f |= HS_FLAG_MULTILINE;
	if (p->flags & SL_PAT_UTF8)
		f |= HS_FLAG_UTF8 | HS_FLAG_UCP;
	return f;
}

/* Hyperscan says "... at index N." for syntax errors: N is a byte offset in
 * the pattern, which is the regex text verbatim, so it maps to a column. */
static unsigned error_column(const struct sl_rule_pattern *p, const char *msg)
{
	const char *at = strstr(msg, "at index ");
	unsigned long idx;

	if (!at || sscanf(at + 9, "%lu", &idx) != 1 || idx > p->len)
		return p->column;
	return p->column + 1 + (unsigned)idx;
}

static int pattern_error(struct sl_rule_error *err, const struct sl_rule *r,
			 const struct sl_rule_pattern *p, const char *what, const char *msg)
{
	unsigned col = r->kind == SL_RULE_REGEX ? error_column(p, msg) : p->column;

	return sl_rule_error_set(err, r->file, p->line, col, "%s%s", what, msg);
}

/* Each regex alone first: errors then name one rule, and an empty match
 * gets our message rather than a note about HS_FLAG_ALLOWEMPTY. */
static int check_regexes(struct sl_ruleset *rs, struct sl_rule_error *err)
{
	for (size_t i = 0; i < rs->rules.n; i++) {
		const struct sl_rule *r = &rs->rules.v[i];

		if (r->kind != SL_RULE_REGEX)
			continue;
		for (unsigned k = 0; k < r->n_pats; k++) {
			const struct sl_rule_pattern *p = &r->pats[k];
			hs_expr_info_t *info = NULL;
			hs_compile_error_t *ce = NULL;
			int rc = 0;

			if (hs_expression_info(p->text, hs_flags(p) & ~HS_FLAG_SINGLEMATCH, &info,
					       &ce) != HS_SUCCESS) {
				rc = pattern_error(err, r, p, "invalid regex: ",
						   ce ? ce->message : "unknown error");
				hs_free_compile_error(ce);
				return rc;
			}
			if (info->min_width == 0)
				rc = sl_rule_error_set(err, r->file, p->line, p->column,
						       "pattern matches the empty string");
			free(info);
			if (rc)
				return rc;
		}
	}
	return 0;
}

/* Keywords become regexes of escaped bytes so one database per scope holds
 * both (the literal API cannot mix with regexes in one database). */
static char *literal_regex(const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	char *out = malloc(n * 4 + 1), *o = out;

	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
			*o++ = (char)c;
		} else {
			*o++ = '\\';
			*o++ = 'x';
			*o++ = hex[c >> 4];
			*o++ = hex[c & 15];
		}
	}
	*o = '\0';
	return out;
}

struct pat_ref {
	uint32_t rule;
	uint32_t pat;
};

static bool is_content(const struct sl_rule *r)
{
	return r->kind == SL_RULE_KEYWORD || r->kind == SL_RULE_REGEX;
}

/* Scopes read by exactly the same content rules share one database (the
 * common `body,attachment` compiles once). */
static int same_patterns(const struct sl_ruleset *rs, unsigned a, unsigned b)
{
	for (size_t i = 0; i < rs->rules.n; i++) {
		const struct sl_rule *r = &rs->rules.v[i];

		if (is_content(r) && !(r->scopes >> a & 1) != !(r->scopes >> b & 1))
			return 0;
	}
	return 1;
}

static int compile_scope(struct sl_ruleset *rs, enum sl_scope s, struct sl_rule_error *err)
{
	struct scope_data *sd = &rs->scope[s];
	size_t n = 0, k = 0;
	int rc = 0;

	sd->shared_from = -1;
	for (unsigned t = 0; t < (unsigned)s; t++) {
		if (rs->scope[t].db && rs->scope[t].shared_from < 0 && same_patterns(rs, t, s)) {
			sd->db = rs->scope[t].db;
			sd->shared_from = (int)t;
			sd->n_patterns = rs->scope[t].n_patterns;
			sd->db_bytes = rs->scope[t].db_bytes;
			return 0;
		}
	}

	for (size_t i = 0; i < rs->rules.n; i++) {
		const struct sl_rule *r = &rs->rules.v[i];

		if (is_content(r) && (r->scopes & (1u << s)))
			n += r->n_pats;
	}
	if (n == 0)
		return 0;
	const char **exprs = calloc(n, sizeof(*exprs));
	char **owned = calloc(n, sizeof(*owned));
	unsigned *flags = calloc(n, sizeof(*flags)), *ids = calloc(n, sizeof(*ids));
	struct pat_ref *refs = calloc(n, sizeof(*refs));

	if (!exprs || !owned || !flags || !ids || !refs) {
		rc = oom(err, rs->rules.v[0].file);
		goto out;
	}
	for (size_t i = 0; i < rs->rules.n; i++) {
		const struct sl_rule *r = &rs->rules.v[i];

		if (!is_content(r) || !(r->scopes & (1u << s)))
			continue;
		for (unsigned j = 0; j < r->n_pats; j++, k++) {
			const struct sl_rule_pattern *p = &r->pats[j];

			if (r->kind == SL_RULE_KEYWORD) {
				if (!(owned[k] = literal_regex(p->text, p->len))) {
					rc = oom(err, r->file);
					goto out;
				}
				exprs[k] = owned[k];
			} else {
				exprs[k] = p->text;
			}
			flags[k] = hs_flags(p);
			ids[k] = (unsigned)i;
			refs[k] = (struct pat_ref){ (uint32_t)i, j };
		}
	}
	hs_compile_error_t *ce = NULL;

	if (hs_compile_multi(exprs, flags, ids, (unsigned)n, HS_MODE_STREAM, NULL, &sd->db,
			     &ce) != HS_SUCCESS) {
		const char *m = ce ? ce->message : "unknown error";

		if (ce && ce->expression >= 0 && (size_t)ce->expression < n) {
			const struct sl_rule *r = &rs->rules.v[refs[ce->expression].rule];
			char what[64];

			snprintf(what, sizeof(what), "hyperscan (%s scope): ", sl_scope_name(s));
			rc = pattern_error(err, r, &r->pats[refs[ce->expression].pat], what, m);
		} else {
			rc = sl_rule_error_set(err, rs->rules.v[refs[0].rule].file, 0, 0,
					       "hyperscan cannot compile the %s database: %s",
					       sl_scope_name(s), m);
		}
		hs_free_compile_error(ce);
		sd->db = NULL;
		goto out;
	}
	sd->n_patterns = (unsigned)n;
	hs_database_size(sd->db, &sd->db_bytes);
	if (hs_alloc_scratch(sd->db, &rs->proto) != HS_SUCCESS)
		rc = oom(err, rs->rules.v[refs[0].rule].file);
out:
	for (size_t i = 0; owned && i < n; i++)
		free(owned[i]);
	free(owned);
	free(exprs);
	free(flags);
	free(ids);
	free(refs);
	return rc;
}

static int push_ix(uint32_t **v, unsigned *n, uint32_t x)
{
	uint32_t *nv = realloc(*v, (*n + 1) * sizeof(**v));

	if (!nv)
		return -1;
	nv[(*n)++] = x;
	*v = nv;
	return 0;
}

static int index_rules(struct sl_ruleset *rs, struct sl_rule_error *err)
{
	for (size_t i = 0; i < rs->rules.n; i++) {
		const struct sl_rule *r = &rs->rules.v[i];

		if (r->kind == SL_RULE_LIST || r->kind == SL_RULE_SPOOF) {
			if (push_ix(&rs->msg_rules, &rs->n_msg_rules, (uint32_t)i))
				return oom(err, r->file);
			continue;
		}
		if (!sl_rule_deferred(r))
			continue;
		for (unsigned s = 0; s < SL_SCOPE_COUNT; s++) {
			struct scope_data *sd = &rs->scope[s];

			if ((r->scopes & (1u << s)) &&
			    push_ix(&sd->end_rules, &sd->view.n_end_rules, (uint32_t)i))
				return oom(err, r->file);
		}
	}
	for (unsigned s = 0; s < SL_SCOPE_COUNT; s++) {
		rs->scope[s].view.db = rs->scope[s].db;
		rs->scope[s].view.end_rules = rs->scope[s].end_rules;
	}
	return 0;
}

struct sl_ruleset *sl_ruleset_load_mem(const char *const *names, const char *const *bufs,
				       const size_t *lens, size_t n, struct sl_rule_error *err)
{
	struct sl_ruleset *rs = calloc(1, sizeof(*rs));

	if (!rs || !(rs->files = calloc(n ? n : 1, sizeof(*rs->files)))) {
		free(rs);
		oom(err, n ? names[0] : "");
		return NULL;
	}
	atomic_init(&rs->refs, 1);
	for (size_t i = 0; i < n; i++) {
		if (!(rs->files[i] = strdup(names[i]))) {
			oom(err, names[i]);
			goto fail;
		}
		rs->n_files++;
		if (sl_rule_parse(rs->files[i], bufs[i], lens[i], &rs->rules, err))
			goto fail;
	}
	if (rs->rules.n > UINT32_MAX / 2) {
		sl_rule_error_set(err, names[0], 0, 0, "too many rules");
		goto fail;
	}
	if (check_ids(rs, err) || load_lists(rs, err) || check_regexes(rs, err))
		goto fail;
	for (unsigned s = 0; s < SL_SCOPE_COUNT; s++)
		if (compile_scope(rs, (enum sl_scope)s, err))
			goto fail;
	if (index_rules(rs, err))
		goto fail;
	return rs;
fail:
	ruleset_free(rs);
	return NULL;
}

struct sl_ruleset *sl_ruleset_load(const char *const *paths, size_t n, struct sl_rule_error *err)
{
	char **bufs = calloc(n ? n : 1, sizeof(*bufs));
	size_t *lens = calloc(n ? n : 1, sizeof(*lens));
	struct sl_ruleset *rs = NULL;
	size_t i;

	if (!bufs || !lens) {
		oom(err, n ? paths[0] : "");
		goto out;
	}
	for (i = 0; i < n; i++)
		if (sl_rule_read_file(paths[i], &bufs[i], &lens[i], err))
			goto out;
	rs = sl_ruleset_load_mem(paths, (const char *const *)bufs, lens, n, err);
out:
	for (i = 0; bufs && i < n; i++)
		free(bufs[i]);
	free(bufs);
	free(lens);
	return rs;
}

struct sl_ruleset *sl_ruleset_ref(struct sl_ruleset *rs)
{
	atomic_fetch_add_explicit(&rs->refs, 1, memory_order_relaxed);
	return rs;
}

void sl_ruleset_unref(struct sl_ruleset *rs)
{
	if (rs && atomic_fetch_sub_explicit(&rs->refs, 1, memory_order_acq_rel) == 1)
		ruleset_free(rs);
}

unsigned sl_ruleset_refs(const struct sl_ruleset *rs)
{
	return atomic_load_explicit(&((struct sl_ruleset *)rs)->refs, memory_order_relaxed);
}

void sl_ruleset_info(const struct sl_ruleset *rs, struct sl_ruleset_info *info)
{
	memset(info, 0, sizeof(*info));
	info->n_rules = (unsigned)rs->rules.n;
	info->n_files = (unsigned)rs->n_files;
	for (size_t i = 0; i < rs->rules.n; i++) {
		const struct sl_rule *r = &rs->rules.v[i];

		info->by_action[r->action]++;
		info->by_kind[r->kind]++;
		for (unsigned s = 0; s < SL_SCOPE_COUNT; s++)
			if (r->scopes & (1u << s))
				info->by_scope[s]++;
	}
	for (unsigned s = 0; s < SL_SCOPE_COUNT; s++) {
		const struct scope_data *sd = &rs->scope[s];

		info->patterns[s] = sd->n_patterns;
		info->db_bytes[s] = sd->db_bytes;
		info->shared_with[s] = sd->shared_from;
		if (sd->db && sd->shared_from < 0) {
			info->total_db_bytes += sd->db_bytes;
			info->n_databases++;
		}
	}
	if (rs->proto)
		hs_scratch_size(rs->proto, &info->scratch_bytes);
	info->n_lists = rs->n_lists;
	for (unsigned i = 0; i < rs->n_lists; i++)
		info->list_entries += sl_addrlist_count(rs->lists[i]);
}

const struct sl_rule *sl_ruleset_rules(const struct sl_ruleset *rs, unsigned *n)
{
	*n = (unsigned)rs->rules.n;
	return rs->rules.v;
}

const struct sl_ruleset_scope *sl_ruleset_scope(const struct sl_ruleset *rs, enum sl_scope s)
{
	return &rs->scope[s].view;
}

const uint32_t *sl_ruleset_msg_rules(const struct sl_ruleset *rs, unsigned *n)
{
	*n = rs->n_msg_rules;
	return rs->msg_rules;
}

const struct hs_scratch *sl_ruleset_scratch_proto(const struct sl_ruleset *rs)
{
	return rs->proto;
}
