/* Address lists as they appear in From/To/Cc headers and SMTP paths:
 *   "Doe, Jane" <jane@example.org>, bob@example.net (Bob), <x@y>
 * Finds each addr-spec without allocating.  Tolerant: this is for
 * inspection, not delivery, so it takes what clients would display. */
#ifndef SL_MAILADDR_H
#define SL_MAILADDR_H

#include <stddef.h>

/* Finds the next address in s[*pos..n).  On success returns 1 and sets
 * [*addr, *addr + *alen) to the addr-spec (without <>), advancing *pos
 * past it; returns 0 at the end.  Quoted strings, comments and group
 * syntax are skipped. */
int sl_mailaddr_next(const char *s, size_t n, size_t *pos, const char **addr, size_t *alen);

#endif
