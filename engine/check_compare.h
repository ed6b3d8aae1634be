/* Compares a capture's events with its expectation (docs/check.md). */
#ifndef SL_CHECK_COMPARE_H
#define SL_CHECK_COMPARE_H

#include <jansson.h>

/* NULL when everything matched, else a malloc'd text of mismatch lines,
 * each indented and ending in '\n'.  errline is the replay's error line
 * ("" when none); status its exit status (0 or 1). */
char *sl_check_compare(json_t *expect, json_t *events, int status, const char *errline);

/* Every key of the expectation ex (top level and in each message) is one
 * docs/check.md defines; else -1 with "FILE: unknown key "x" ... (valid:
 * ...)" in err.  The keys of "attachments" objects are the part's own
 * fields and are not checked here (one that no part has matches nothing). */
int sl_check_keys(json_t *ex, const char *file, char *err, size_t errlen);

/* Writes PCAP's expectation file from events, keeping "description" of an
 * existing expectation (old, may be NULL) and its "args" unless args (the
 * options the replay ran with) is given.  0 or -1. */
int sl_check_write_expectation(const char *pcap, json_t *old, json_t *args, json_t *events,
			       int status, const char *errline);

#endif
