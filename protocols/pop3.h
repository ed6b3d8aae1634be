/* POP3 (RFC 1939, CAPA/STLS RFC 2449/2595, AUTH RFC 5034) as a protocol
 * plug-in for app.c.
 *
 * Messages flow server -> client: the multi-line +OK response to RETR or
 * TOP is one message (begin at the +OK line, field SL_MF_POP3_COMMAND
 * "RETR 3", the dot-unstuffed lines, end on the packet carrying the
 * terminator, done).  Other multi-line responses (LIST, UIDL, CAPA, AUTH
 * without a mechanism) are framed and skipped; -ERR is always one line.
 * Responses are matched to pipelined commands in order.
 *
 * STLS: after +OK the client's first byte decides.  A TLS record (0x16)
 * ends the parsing (note TLS); anything else is parsed on as POP3 with
 * pop3.stls_cleartext, so announcing STLS cannot hide what follows.  A gap
 * where that byte would be is taken for TLS. */
#ifndef SL_POP3_H
#define SL_POP3_H

#include "mailctx.h"

extern const struct sl_proto_ops sl_pop3_ops;

#endif
