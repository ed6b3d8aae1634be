/* Compares a capture's events with its expectation (docs/check.md). */
#ifndef SL_CHECK_COMPARE_H
#define SL_CHECK_COMPARE_H

#include <jansson.h>

/* NULL when everything matched, else a malloc'd text of mismatch lines,
 * each indented and ending in '\n'.  errline is the replay's error line
 * ("" when none); status its exit status (0 or 1). */
char *sl_check_compare(json_t *expect, json_t *events, int status, const char *errline);

/* Writes PCAP's expectation file from events, keeping "description" and
 * "args" of an existing expectation (may be NULL).  0 or -1. */
int sl_check_write_expectation(const char *pcap, json_t *old, json_t *events, int status,
			       const char *errline);

#endif
