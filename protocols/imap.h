/* IMAP4rev1/rev2 (RFC 3501, 9051) with LITERAL+/LITERAL- (RFC 7888),
 * BINARY literal8 (RFC 3516), MULTIAPPEND (RFC 3502), STARTTLS and
 * COMPRESS=DEFLATE (RFC 4978), as a protocol plug-in for app.c.
 *
 * Messages:
 *   server -> client: every FETCH data item whose value is a message or a
 *     section of one - BODY[...] (BODY.PEEK[...] is answered as BODY[...]),
 *     BINARY[...], RFC822, RFC822.TEXT, RFC822.HEADER - sent as a literal,
 *     literal8 or quoted string.  Fields: SL_MF_IMAP_COMMAND ("FETCH" or
 *     "UID FETCH", from the client's outstanding command), SL_MF_IMAP_MAILBOX
 *     (the selected one), SL_MF_IMAP_SECTION (the item name as sent, e.g.
 *     "BODY[1.MIME]" or "BODY[]<0>"), SL_MF_IMAP_UID.  The message ends with
 *     its last byte; done() comes at the end of the FETCH response, so a
 *     UID sent after the literal arrives as a field between end and done.
 *   client -> server: each literal of APPEND after the mailbox (MULTIAPPEND:
 *     one message per literal).  Fields: "APPEND", the target mailbox; the
 *     tagged response is reply("APPEND", 250 OK / 550 NO / 500 BAD) before
 *     done().  A synchronizing literal the server refuses is begun and
 *     aborted ("rejected").
 * Every other literal is framed and skipped.  Tagged status maps to reply
 * codes as above (IMAP has none of its own).
 *
 * STARTTLS: after the tagged OK the client's first byte decides.  A TLS
 * record (0x16) ends the parsing (note TLS); anything else is parsed on as
 * IMAP with imap.starttls_cleartext, so announcing STARTTLS cannot hide
 * what follows.  A gap where that byte would be is taken for TLS. */
#ifndef SL_IMAP_H
#define SL_IMAP_H

#include "mailctx.h"

/* reply() codes for IMAP tagged status. */
#define SL_IMAP_CODE_OK  250
#define SL_IMAP_CODE_NO  550
#define SL_IMAP_CODE_BAD 500

extern const struct sl_proto_ops sl_imap_ops;

#endif
