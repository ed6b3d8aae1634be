/* The inspectors behind the sinks, shared by every worker: the compiled
 * operator rules (Hyperscan) and ClamAV with its scan pool and result cache.
 * Shared state is immutable and reference-counted; each worker gets its own
 * sink instances (scratch space, completion queue) from sl_inspect_worker_new().
 *
 * Reload (SIGHUP) builds new rules and a new ClamAV engine aside and swaps
 * them in; a failure keeps what runs. */
#ifndef SL_INSPECT_H
#define SL_INSPECT_H

#include <stdbool.h>
#include <stddef.h>

#include "clam.h"
#include "counters.h"
#include "scan_pool.h"
#include "scan_sink.h"
#include "sink.h"

#define SL_MAX_RULE_FILES 64

struct sl_inspect_config {
	const char *rule_files[SL_MAX_RULE_FILES];
	unsigned n_rule_files;
	bool clamav;			/* scan with ClamAV at all (default true) */
	bool clamav_required;		/* a database that does not load is an error; else
					   ClamAV is off, with one warning */
	bool clamav_off_told;		/* the caller already warned that ClamAV is off:
					   do not log it again (check: once per run) */
	struct sl_clam_config clam;
	struct sl_scan_pool_config pool;
	struct sl_scan_sink_config sink;
	unsigned cache_entries;		/* default 4096 */
	uint64_t scan_memcap;		/* default SL_SCAN_MEMCAP_DEFAULT */
	bool reloadable;		/* keep a rule matcher even with no rule file, so a
					   reload can bring rules (sluice inline) */
};

void sl_inspect_config_default(struct sl_inspect_config *c);

struct sl_inspect;
/* NULL with err filled ("rules.rules:3:7: error: ..." or the ClamAV reason). */
struct sl_inspect *sl_inspect_new(const struct sl_inspect_config *cfg, char *err, size_t errlen);
void sl_inspect_free(struct sl_inspect *in);	/* after every worker's sinks are freed */
/* One line for people: "rules: 12 rules (3 block); clamav: 4 signatures ..." */
void sl_inspect_describe(const struct sl_inspect *in, char *buf, size_t size);
bool sl_inspect_has_clamav(const struct sl_inspect *in);
/* Why ClamAV is off although the configuration turned it on (the database
 * is missing, empty or does not load, and it was not required); NULL when
 * it runs or was turned off. */
const char *sl_inspect_clamav_off(const struct sl_inspect *in);
/* The scan pool's figures; false (out untouched) without ClamAV. */
bool sl_inspect_pool_stats(const struct sl_inspect *in, struct sl_scan_pool_stats *out);

/* SIGHUP: builds the rules of cfg aside and reloads the ClamAV database
 * (cfg->clam.database) into the running engine.  All or nothing for the
 * rules: on error (err set) the running set stays.  The workers take the
 * new set with sl_inspect_worker_set_ruleset() on their own threads.
 * ClamAV cannot be switched on or off here (restart).  cfg's strings must
 * outlive the inspector (the caller keeps the loaded config). */
int sl_inspect_reload(struct sl_inspect *in, const struct sl_inspect_config *cfg, char *err,
		      size_t errlen);
/* A new reference to the current rule set (NULL: none).  Caller's thread only. */
struct sl_ruleset *sl_inspect_ruleset(struct sl_inspect *in);

struct sl_inspect_worker;
struct sl_inspect_worker *sl_inspect_worker_new(struct sl_inspect *in, struct sl_counters *ctr);
void sl_inspect_worker_free(struct sl_inspect_worker *iw);
const struct sl_sink *sl_inspect_worker_sinks(const struct sl_inspect_worker *iw, unsigned *n);
/* On the worker's thread, between packets: new objects use rs from now on.
 * -1 when this worker has no rule matcher or its scratch cannot grow. */
int sl_inspect_worker_set_ruleset(struct sl_inspect_worker *iw, struct sl_ruleset *rs);

#endif
