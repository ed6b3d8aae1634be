#include "inspect.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clam_cache.h"
#include "log.h"
#include "match_sink.h"
#include "rule_error.h"
#include "ruleset.h"

struct sl_inspect {
	struct sl_inspect_config cfg;
	struct sl_ruleset *rules;	/* NULL: no rule files */
	struct sl_clam *clam;		/* NULL: ClamAV off */
	struct sl_clam_cache *cache;
	struct sl_scan_pool *pool;
	struct sl_memcap scan_mc;
	char clam_off[512];		/* why ClamAV is off although configured on; "" */
};

struct sl_inspect_worker {
	struct sl_match_sink *match;
	struct sl_scan_sink *scan;
	struct sl_sink sinks[2];
	unsigned n;
};

void sl_inspect_config_default(struct sl_inspect_config *c)
{
	memset(c, 0, sizeof(*c));
	c->clamav = true;
	sl_clam_config_defaults(&c->clam);
	sl_scan_pool_config_defaults(&c->pool);
	sl_scan_sink_config_defaults(&c->sink);
	c->cache_entries = 4096;
	c->scan_memcap = SL_SCAN_MEMCAP_DEFAULT;
}

/* ClamAV on: the database must load when it is required (--clamav-db, or
 * clamav.required); otherwise a missing, empty or unloadable database turns
 * virus scanning off with one warning.  Debian's clamav package creates an
 * empty /var/lib/clamav that only freshclam fills, so that is the normal
 * state of a fresh host, and no reason to refuse to replay a capture.
 * Returns -1 (err set) only when sluice must not start. */
static int start_clamav(struct sl_inspect *in, const struct sl_inspect_config *cfg, char *err,
			size_t errlen)
{
	char why[512];

	in->clam = sl_clam_new(&cfg->clam, why, sizeof(why));
	if (!in->clam && cfg->clamav_required) {
		snprintf(err, errlen, "%s", why);
		return -1;
	}
	if (!in->clam) {
		snprintf(in->clam_off, sizeof(in->clam_off), "%s", why);
		if (!cfg->clamav_off_told)
			sl_log(SL_LOG_WARN, "virus scanning is OFF: %s; run freshclam or give "
			       "--clamav-db", why);
		return 0;
	}
	in->cache = sl_clam_cache_new(cfg->cache_entries);
	in->pool = sl_scan_pool_new(&cfg->pool, in->clam, in->cache);
	if (!in->pool) {
		snprintf(err, errlen, "cannot start the scan pool");
		return -1;
	}
	return 0;
}

/* The ruleset of cfg's rule files for in: NULL when there are none,
 * unless in is reloadable (its workers keep a matcher to swap rules into). */
static int load_rules(const struct sl_inspect *in, const struct sl_inspect_config *cfg,
		      struct sl_ruleset **out, char *err, size_t errlen)
{
	struct sl_rule_error re;

	*out = NULL;
	if (!cfg->n_rule_files && !in->cfg.reloadable)
		return 0;
	*out = sl_ruleset_load(cfg->rule_files, cfg->n_rule_files, &re);
	if (!*out) {
		sl_rule_error_format(&re, err, errlen);
		return -1;
	}
	return 0;
}

struct sl_inspect *sl_inspect_new(const struct sl_inspect_config *cfg, char *err, size_t errlen)
{
	struct sl_inspect *in = calloc(1, sizeof(*in));

	if (!in) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	in->cfg = *cfg;
	sl_memcap_init(&in->scan_mc, "scan", cfg->scan_memcap);
	if (load_rules(in, cfg, &in->rules, err, errlen) != 0)
		goto fail;
	if (cfg->clamav && start_clamav(in, cfg, err, errlen) != 0)
		goto fail;
	return in;
fail:
	sl_inspect_free(in);
	return NULL;
}

void sl_inspect_free(struct sl_inspect *in)
{
	if (!in)
		return;
	if (in->pool) {
		sl_scan_pool_stop(in->pool, SL_SCAN_DRAIN);
		sl_scan_pool_free(in->pool);
	}
	if (in->cache)
		sl_clam_cache_free(in->cache);
	if (in->clam)
		sl_clam_free(in->clam);
	if (in->rules)
		sl_ruleset_unref(in->rules);
	free(in);
}

bool sl_inspect_has_clamav(const struct sl_inspect *in)
{
	return in->clam != NULL;
}

const char *sl_inspect_clamav_off(const struct sl_inspect *in)
{
	return in->clam_off[0] ? in->clam_off : NULL;
}

bool sl_inspect_pool_stats(const struct sl_inspect *in, struct sl_scan_pool_stats *out)
{
	if (!in->pool)
		return false;
	sl_scan_pool_stats(in->pool, out);
	return true;
}

void sl_inspect_describe(const struct sl_inspect *in, char *buf, size_t size)
{
	int n = 0;

	if (in->rules) {
		struct sl_ruleset_info ri;
		sl_ruleset_info(in->rules, &ri);
		n = snprintf(buf, size, "rules: %u (%u block, %u alert) from %u file%s",
			     ri.n_rules, ri.by_action[SL_ACTION_BLOCK], ri.by_action[SL_ACTION_ALERT],
			     ri.n_files, ri.n_files == 1 ? "" : "s");
	} else {
		n = snprintf(buf, size, "rules: none");
	}
	if (n < 0 || (size_t)n >= size)
		return;
	if (in->clam) {
		struct sl_clam_engine *e = sl_clam_acquire(in->clam);
		snprintf(buf + n, size - (size_t)n, "; clamav: %u signatures from %s",
			 e ? sl_clam_engine_signatures(e) : 0, in->cfg.clam.database);
		if (e)
			sl_clam_release(e);
	} else if (in->clam_off[0]) {
		snprintf(buf + n, size - (size_t)n, "; clamav: off (%s)", in->clam_off);
	} else {
		snprintf(buf + n, size - (size_t)n, "; clamav: off");
	}
}

int sl_inspect_reload(struct sl_inspect *in, const struct sl_inspect_config *cfg, char *err,
		      size_t errlen)
{
	struct sl_ruleset *rs;

	if (load_rules(in, cfg, &rs, err, errlen) != 0)
		return -1;
	if (in->clam && cfg->clamav && sl_clam_reload(in->clam, cfg->clam.database, err,
						      errlen) != 0) {
		if (rs)
			sl_ruleset_unref(rs);
		return -1;
	}
	if (in->rules)
		sl_ruleset_unref(in->rules);
	in->rules = rs;
	bool reloadable = in->cfg.reloadable;
	in->cfg = *cfg;
	in->cfg.reloadable = reloadable;
	return 0;
}

struct sl_ruleset *sl_inspect_ruleset(struct sl_inspect *in)
{
	return in->rules ? sl_ruleset_ref(in->rules) : NULL;
}

int sl_inspect_worker_set_ruleset(struct sl_inspect_worker *iw, struct sl_ruleset *rs)
{
	if (!iw->match || !rs)
		return -1;
	return sl_match_sink_set_ruleset(iw->match, rs);
}

struct sl_inspect_worker *sl_inspect_worker_new(struct sl_inspect *in, struct sl_counters *ctr)
{
	struct sl_inspect_worker *iw = calloc(1, sizeof(*iw));

	if (!iw)
		return NULL;
	if (in->rules) {
		iw->match = sl_match_sink_new(in->rules, ctr);
		if (!iw->match)
			goto fail;
		iw->sinks[iw->n++] = sl_match_sink_sink(iw->match);
	}
	if (in->pool) {
		iw->scan = sl_scan_sink_new(&in->cfg.sink, in->pool, &in->scan_mc, ctr);
		if (!iw->scan)
			goto fail;
		iw->sinks[iw->n++] = sl_scan_sink_sink(iw->scan);
	}
	return iw;
fail:
	sl_inspect_worker_free(iw);
	return NULL;
}

void sl_inspect_worker_free(struct sl_inspect_worker *iw)
{
	if (!iw)
		return;
	if (iw->scan)
		sl_scan_sink_free(iw->scan);
	if (iw->match)
		sl_match_sink_free(iw->match);
	free(iw);
}

const struct sl_sink *sl_inspect_worker_sinks(const struct sl_inspect_worker *iw, unsigned *n)
{
	*n = iw->n;
	return iw->sinks;
}
