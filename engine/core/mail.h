/* What a mail protocol parser tells the engine.
 *
 * SMTP (after dot-unstuffing or BDAT framing), IMAP literals and POP3
 * multi-line responses all reduce to the same story: a transaction begins,
 * gets envelope fields, streams raw RFC 5322 bytes, ends on a known packet,
 * maybe gets a server reply, and is done.  The parser calls these hooks; the
 * engine (engine/message.c) implements them and owns the transaction.
 *
 *   begin -> field* -> data* -> end -> reply* -> done
 *                             \-> abort (never completed: gap, RSET, limit)
 *
 * (IMAP: a UID the server sends after a FETCH literal arrives as a field
 * between end and done.)
 *
 * 'flow' is the opaque pointer the engine gave when it created the parser
 * state.  Strings passed in are borrowed for the call only. */
#ifndef SL_MAIL_H
#define SL_MAIL_H

#include <stddef.h>
#include <stdint.h>

#include "anomaly.h"
#include "slice.h"

struct sl_packet;
struct sl_mail_txn;			/* engine-owned */

enum sl_proto {
	SL_PROTO_UNKNOWN = 0,
	SL_PROTO_SMTP,
	SL_PROTO_IMAP,
	SL_PROTO_POP3,
	SL_PROTO_COUNT
};

const char *sl_proto_name(enum sl_proto p);

enum sl_mail_field {
	SL_MF_HELO,			/* EHLO/HELO argument */
	SL_MF_MAIL_FROM,		/* reverse path without <> */
	SL_MF_MAIL_PARAMS,		/* MAIL FROM parameters (SIZE=, BODY=, ...) */
	SL_MF_RCPT_TO,			/* one per accepted-or-not RCPT (repeatable) */
	SL_MF_AUTH_USER,		/* decoded SMTP AUTH user name; never the password */
	SL_MF_IMAP_COMMAND,		/* "FETCH", "UID FETCH", "APPEND" */
	SL_MF_IMAP_UID,
	SL_MF_IMAP_MAILBOX,
	SL_MF_IMAP_SECTION,		/* "BODY[]", "RFC822", "BINARY[1]" ... */
	SL_MF_POP3_COMMAND,		/* "RETR 1", "TOP 3 10" */
	SL_MF_COUNT
};

/* Flow-level facts a parser learns. */
enum sl_flow_note {
	SL_NOTE_DETECTED,		/* protocol identified (by port or content) */
	SL_NOTE_TLS,			/* STARTTLS/STLS completed or implicit TLS: uninspectable */
	SL_NOTE_NOT_MAIL,		/* not a mail protocol: stop inspecting (bypass) */
	SL_NOTE_COMPRESS,		/* IMAP COMPRESS=DEFLATE active: inflating */
};

struct sl_mail_ops {
	/* A message starts in direction dir.  NULL means the engine refused it
	 * (a limit); the parser must then skip the content but keep framing. */
	struct sl_mail_txn *(*begin)(void *flow, enum sl_proto proto, enum sl_dir dir,
				     const struct sl_packet *pkt);
	void (*field)(void *flow, struct sl_mail_txn *t, enum sl_mail_field f,
		      const char *v, size_t n);
	/* Raw message bytes, transport encoding removed (unstuffed, unframed). */
	void (*data)(void *flow, struct sl_mail_txn *t, const uint8_t *p, size_t n);
	/* The content is complete.  pkt is the packet carrying the last byte
	 * of it (the end-of-data line, the last literal byte, the POP3
	 * terminator): inline, the one that is held until the verdict. */
	void (*end)(void *flow, struct sl_mail_txn *t, const struct sl_packet *pkt);
	/* A server reply that concerns the transaction.  cmd names what it
	 * answers: "MAIL", "RCPT", "DATA", "BDAT", "EOD" (end of data), "APPEND". */
	void (*reply)(void *flow, struct sl_mail_txn *t, const char *cmd, unsigned code,
		      const char *text, size_t n);
	/* The parser will not touch t again. */
	void (*done)(void *flow, struct sl_mail_txn *t);
	/* The content will not complete (gap, RSET, reset, rejected, limit);
	 * why is a short reason.  t is finished after this. */
	void (*abort)(void *flow, struct sl_mail_txn *t, const char *why);
	void (*note)(void *flow, enum sl_flow_note n, enum sl_proto proto,
		     const struct sl_packet *pkt);
	/* t may be NULL for a flow-level anomaly. */
	void (*anomaly)(void *flow, struct sl_mail_txn *t, enum sl_anomaly a,
			const struct sl_packet *pkt, const char *detail);
};

#endif
