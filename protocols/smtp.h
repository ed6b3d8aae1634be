/* SMTP (RFC 5321) with PIPELINING (RFC 2920), CHUNKING/BDAT (RFC 3030),
 * AUTH (RFC 4954: the user name only) and STARTTLS (RFC 3207), as a
 * protocol plug-in for app.c.
 *
 * Messages flow client -> server.  One message transaction per DATA or BDAT
 * series: begin when its data starts (the server's 354, or the first BDAT),
 * then the envelope kept since MAIL FROM (HELO, AUTH user, MAIL FROM and
 * its parameters, each RCPT with its reply), the unstuffed or unframed
 * bytes, end on the packet that carries the last byte, the server's reply
 * to the end of data ("EOD"), done.  A DATA the server refuses is begun and
 * aborted ("rejected") so the attempt is on record; a BDAT series refused
 * before its LAST chunk is aborted. */
#ifndef SL_SMTP_H
#define SL_SMTP_H

#include "mailctx.h"

extern const struct sl_proto_ops sl_smtp_ops;

#endif
