/* Address lists: the senders or recipients a site names in a file.
 *
 * One entry per line; blank lines and lines starting with '#' are ignored,
 * and '#' after an entry starts a comment:
 *
 *   alice@example.com     this address
 *   @example.com          every address at example.com (not its subdomains)
 *   @.example.com         every address at example.com and at any subdomain
 *
 * Matching is ASCII case-insensitive on the whole address, local part
 * included: every common MTA delivers ALICE@ and alice@ to one mailbox, and
 * a list that case could slip past is no block list.  A trailing '.' on a
 * domain is ignored.  Immutable once loaded: safe to share between threads. */
#ifndef SL_ADDRLIST_H
#define SL_ADDRLIST_H

#include <stdbool.h>
#include <stddef.h>

#include "rule_error.h"

/* Longest line accepted in a list file. */
#define SL_ADDRLIST_LINE_MAX 1024

struct sl_addrlist;

/* Parses a list held in memory (the ruleset reads the file: its read errors
 * name the rule); name is used in errors. */
struct sl_addrlist *sl_addrlist_parse(const char *name, const char *buf, size_t len,
				      struct sl_rule_error *err);
void sl_addrlist_free(struct sl_addrlist *l);

/* addr is a bare addr-spec (see mailaddr.h). */
bool sl_addrlist_match(const struct sl_addrlist *l, const char *addr);

/* Distinct entries (addresses + domains + domain trees). */
size_t sl_addrlist_count(const struct sl_addrlist *l);

#endif
