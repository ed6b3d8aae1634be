/* Anti-spoofing: an authenticated SMTP user may only send as itself.
 *
 * When a client authenticated (msg->auth_user set and non-empty), the
 * envelope sender and every From: header mailbox must name the same
 * mailbox as the AUTH user:
 *   - domains compare ASCII case-insensitively (a trailing '.' ignored);
 *   - local parts compare exactly (RFC 5321 2.4), or ASCII case-insensitively
 *     with the rule's `nocase`;
 *   - with a sub-address separator set (e.g. "+"), everything from the
 *     first separator on is dropped from both local parts, so
 *     user+tag@d matches user@d (a separator in first position is kept:
 *     "+tag@d" is a local part of its own);
 *   - when the AUTH user has no '@' (a bare login name), only local parts
 *     are compared: the domain is the site's business, not the login's;
 *   - an empty envelope sender (the null reverse path <>) is not compared.
 * Without an AUTH user the check does not apply (returns "no mismatch"). */
#ifndef SL_SPOOF_H
#define SL_SPOOF_H

#include "addr_target.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sl_msg;

#define SL_SPOOF_SEP_MAX 8

struct sl_spoof_opts {
	char subaddr[SL_SPOOF_SEP_MAX];	/* separator bytes, NUL-terminated; "" = none */
	bool nocase_local;
	uint32_t against;		/* SL_ADDR_MAIL_FROM | SL_ADDR_HDR_FROM (addr_target.h) */
};

/* True when addr (a bare addr-spec) is not auth_user's mailbox. */
bool sl_spoof_mismatch(const struct sl_spoof_opts *o, const char *auth_user, const char *addr);

/* True when the message's sender (the fields o->against names) is not
 * its AUTH user; the first offending address is copied to bad (may be
 * NULL).  False when the message has no AUTH user. */
bool sl_spoof_msg(const struct sl_spoof_opts *o, const struct sl_msg *m, char *bad, size_t size);

#endif
