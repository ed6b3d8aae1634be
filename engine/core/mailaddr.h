/* E-mail addresses as sluice reads them (rules, the message record).
 *
 * Header fields carry RFC 5322 address lists ("Name" <a@b>, c@d (comment),
 * group: e@f;), the envelope carries bare paths (a@b, maybe <a@b>).  Rules
 * compare addr-specs only: this module pulls them out and splits them into
 * local part and domain.  It never allocates; the caller gives the buffer.
 *
 * Decoded headers are hostile: an RFC 2047 display name may decode to
 * "<ceo@corp>" or contain commas.  The real address of a mailbox is its LAST
 * top-level angle-addr, so that is the one returned; a fragment without '@'
 * (a display name split at a decoded comma) is skipped, not returned. */
#ifndef SL_MAILADDR_H
#define SL_MAILADDR_H

#include <stdbool.h>
#include <stddef.h>

/* Longest address kept; a longer one is returned truncated (it then never
 * equals a list entry, and a spoof check treats it as a mismatch). */
#define SL_ADDR_MAX 512


/* Next addr-spec of an address list.  *cursor walks the string (start it at
 * the header value; NULL is an empty list).  Writes the address (display
 * name, comments, angle brackets and source route removed; a quoted local
 * part is kept quoted) to out, NUL-terminated, and returns true; returns
 * false when the list is exhausted.  size must be >= 2. */
bool sl_addr_next(const char **cursor, char *out, size_t size);

/* An envelope path (MAIL FROM, RCPT TO, AUTH user) as a bare address:
 * surrounding whitespace, one pair of angle brackets and a source route
 * removed.  Unlike header mailboxes, a path without '@' is kept. */
void sl_addr_bare(const char *path, char *out, size_t size);

/* Splits at the last '@': *local_len bytes of local part; *domain is the
 * part after '@' or NULL when there is none. */
void sl_addr_split(const char *addr, size_t *local_len, const char **domain);

/* ASCII case-insensitive equality of a and b, of lengths an and bn.  A
 * trailing '.' on a domain (fully qualified form) is the caller's business. */
bool sl_addr_ieq(const char *a, size_t an, const char *b, size_t bn);

#endif
