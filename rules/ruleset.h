/* A compiled rule set: immutable, reference-counted, shared by every worker.
 *
 * Loading parses every file, checks ids are unique across them, loads the
 * address lists, checks each regex alone (so an error names its rule and
 * column) and compiles ONE Hyperscan streaming database per scope holding
 * every keyword and regex that reads the scope (scopes read by the very
 * same rules share one database).  It returns a complete set
 * or NULL with one error: never a half-loaded set.
 *
 * Reload: load a new set aside, then hand it to each worker's match sink
 * (sl_match_sink_set_ruleset, on that worker's thread).  Objects already
 * open finish against the set they began with (each holds a reference);
 * the last sl_ruleset_unref() frees the old one.
 *
 * Pattern ids in the databases are rule indexes; every pattern carries
 * HS_FLAG_SINGLEMATCH, so a rule reports at most once per object stream.
 * Start-of-match is never requested (no SOM: it costs stream state and
 * speed, and a verdict does not need it). */
#ifndef SL_RULESET_H
#define SL_RULESET_H

#include <stddef.h>
#include <stdint.h>

#include "rule_error.h"
#include "rule_parse.h"
#include "sink.h"

struct hs_database;
struct hs_scratch;
struct sl_ruleset;

/* Loads rule files (paths as given; list paths are relative to each rule
 * file's directory).  n may be 0: an empty set. */
struct sl_ruleset *sl_ruleset_load(const char *const *paths, size_t n, struct sl_rule_error *err);

/* The same from memory: names[i] labels bufs[i] in errors and locates its
 * relative list paths.  For tests and tools. */
struct sl_ruleset *sl_ruleset_load_mem(const char *const *names, const char *const *bufs,
				       const size_t *lens, size_t n, struct sl_rule_error *err);

/* Thread-safe (atomic count).  ref returns rs; unref(NULL) is a no-op. */
struct sl_ruleset *sl_ruleset_ref(struct sl_ruleset *rs);
void sl_ruleset_unref(struct sl_ruleset *rs);
unsigned sl_ruleset_refs(const struct sl_ruleset *rs);	/* diagnostics and tests */

/* What `sluice rules check` prints. */
struct sl_ruleset_info {
	unsigned n_rules;
	unsigned by_action[SL_ACTION_BLOCK + 1];
	unsigned by_kind[SL_RULE_KIND_COUNT];
	unsigned by_scope[SL_SCOPE_COUNT];	/* object rules reading each scope */
	unsigned patterns[SL_SCOPE_COUNT];	/* patterns in each scope's database */
	size_t db_bytes[SL_SCOPE_COUNT];	/* 0 = no database */
	int shared_with[SL_SCOPE_COUNT];	/* scope whose database it shares, or -1 */
	unsigned n_databases;			/* distinct databases */
	size_t total_db_bytes;
	size_t scratch_bytes;
	unsigned n_lists;			/* distinct list files */
	size_t list_entries;
	unsigned n_files;
};

void sl_ruleset_info(const struct sl_ruleset *rs, struct sl_ruleset_info *info);

/* ---- read-only views for the match sink ---------------------------- */

struct sl_ruleset_scope {
	const struct hs_database *db;	/* NULL when no pattern reads the scope */
	const uint32_t *end_rules;	/* judged at object end (see sl_rule_deferred) */
	unsigned n_end_rules;
};

const struct sl_rule *sl_ruleset_rules(const struct sl_ruleset *rs, unsigned *n);
const struct sl_ruleset_scope *sl_ruleset_scope(const struct sl_ruleset *rs, enum sl_scope s);
/* List and spoof rules, judged once per message. */
const uint32_t *sl_ruleset_msg_rules(const struct sl_ruleset *rs, unsigned *n);
/* A scratch valid for every database of the set, to clone per worker; NULL
 * when the set has no database. */
const struct hs_scratch *sl_ruleset_scratch_proto(const struct sl_ruleset *rs);

#endif
