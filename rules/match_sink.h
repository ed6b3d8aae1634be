/* The rule matcher as a content sink (sink.h).  One instance per worker
 * thread: it owns that thread's Hyperscan scratch and the open streams.
 *
 *   begin -> hs_open_stream on the object's scope database (streams are
 *            recycled per scope with hs_reset_stream: no allocation on the
 *            hot path once warm)
 *   data  -> hs_scan_stream: a keyword split across TCP segments, base64
 *            lines or MIME chunks still matches; nothing is buffered
 *   end   -> end-of-data matches ($), then rules with object tests (ext,
 *            name, type, size) are judged
 *   msg_end -> address-list and anti-spoofing rules
 *
 * A rule fires at most once per object (a bitset per object; the
 * databases also use HS_FLAG_SINGLEMATCH); a match adds a reason
 * SL_REASON_RULE with the rule's action, id and msg, object = o->part.
 * Header rules restricted to header:NAME share the scope's one database
 * and are filtered by o->name when they match: header values are short,
 * so scanning them once for every header rule costs less than one
 * database (and one stream) per header name.
 *
 * A scan failure (never expected: out of memory) leaves the object
 * partly inspected: the message gets anomaly rules.scan_error (TEMPFAIL by
 * default) rather than a silent pass.
 *
 * Reload: sl_match_sink_set_ruleset() on the worker's own thread, between
 * calls into the sink.  New objects use the new set at once; objects
 * already open finish against the set they began with (they hold a
 * reference); message-level rules use the set current at msg_end. */
#ifndef SL_MATCH_SINK_H
#define SL_MATCH_SINK_H

#include "counters.h"
#include "ruleset.h"
#include "sink.h"

struct sl_match_sink;

extern const struct sl_sink_ops sl_match_sink_ops;

/* Takes its own reference on rs.  ctr (may be NULL) is the worker's
 * counters.  Returns NULL when the scratch cannot be allocated. */
struct sl_match_sink *sl_match_sink_new(struct sl_ruleset *rs, struct sl_counters *ctr);
/* Every object begun must have been ended or aborted before. */
void sl_match_sink_free(struct sl_match_sink *s);

/* The sink as the message builder takes it: { &sl_match_sink_ops, s }. */
struct sl_sink sl_match_sink_sink(struct sl_match_sink *s);

/* Switches to rs (takes a reference, drops the old one).  Returns -1 and
 * keeps the old set when the scratch cannot grow for the new databases. */
int sl_match_sink_set_ruleset(struct sl_match_sink *s, struct sl_ruleset *rs);

#endif
