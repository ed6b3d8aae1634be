/* Which mail protocol a flow carries: by the server's port, and by the
 * server's first bytes (its greeting), over the registry of protocol
 * plug-ins app.c owns.  Stateless helpers; app.c keeps the flow's state. */
#ifndef SL_DETECT_H
#define SL_DETECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "app.h"
#include "mailctx.h"

/* The plug-in whose configured ports hold port, or NULL. */
const struct sl_proto_ops *sl_detect_port(const struct sl_proto_ops *const *reg, size_t n,
					  const struct sl_app_config *c, uint16_t port);

/* Is port one of the implicit-TLS ports?  *proto gets the protocol the
 * well-known ones imply (465 SMTP, 993 IMAP, 995 POP3), else UNKNOWN. */
bool sl_detect_tls_port(const struct sl_app_config *c, uint16_t port, enum sl_proto *proto);

/* Asks every plug-in's probe about the server's first bytes p[0..n).
 * YES: *out is the match.  MORE: some probe needs more bytes (callers stop
 * asking once a line is complete or n reaches SL_DETECT_PROBE_MAX).  NO:
 * no mail greeting (a TLS record, another protocol). */
#define SL_DETECT_PROBE_MAX 64
enum sl_probe sl_detect_greeting(const struct sl_proto_ops *const *reg, size_t n_reg,
				 const uint8_t *p, size_t n, const struct sl_proto_ops **out);

/* Probe helper: does p[0..n) start with pattern pat (exact bytes)?
 * YES, NO, or MORE while p is a proper prefix of pat. */
enum sl_probe sl_probe_prefix(const uint8_t *p, size_t n, const char *pat);
/* The same over a NULL-terminated list: YES if any matches, MORE if any
 * could still match. */
enum sl_probe sl_probe_any(const uint8_t *p, size_t n, const char *const *pats);

#endif
