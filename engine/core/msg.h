/* The record of one e-mail message as sluice saw it: what the transport and
 * the headers said, what each part was, what every inspector concluded.
 * This is what a `message` event prints and what sinks read.
 *
 * Ownership: the engine creates a message per mail transaction and frees it
 * when the transaction is done AND no inspection is pending (refcount).
 * All strings live in the message's arena, bounded by SL_MSG_ARENA_CAP;
 * a refusal truncates the record (counted), never the inspection. */
#ifndef SL_MSG_H
#define SL_MSG_H

#include <stdbool.h>
#include <stdint.h>

#include "anomaly.h"
#include "arena.h"
#include "mail.h"
#include "slice.h"
#include "verdict.h"

#define SL_MSG_ARENA_CAP (256u * 1024)
#define SL_MSG_MAX_RCPT 256
#define SL_MSG_MAX_PARTS 512
#define SL_MSG_MAX_REPLIES 8

struct sl_msg_reply {
	char cmd[8];			/* "MAIL", "RCPT", "DATA", "BDAT", "EOD" ... */
	uint16_t code;
};

/* One decoded MIME part (one reading of it). */
struct sl_msg_part {
	uint32_t id;			/* 1-based part number in document order */
	uint16_t depth;
	uint8_t reading;		/* 0 = primary reading; >0 alternative */
	uint8_t kind;			/* 0 body; else preamble, epilogue, uuencode (mime.h) */
	bool attachment;		/* has a filename or Content-Disposition: attachment, or not text */
	bool raw_fallback;		/* decoder gave up: size/hash are of the raw bytes */
	const char *content_type;
	const char *filename;		/* decoded UTF-8, may be NULL */
	const char *encoding;		/* Content-Transfer-Encoding as applied */
	uint64_t size;			/* decoded bytes */
	uint8_t sha256[32];
};

struct sl_msg {
	uint64_t id;			/* run-wide sequence, from 1 */
	enum sl_proto proto;
	enum sl_dir dir;

	/* transport */
	const char *helo, *mail_from, *mail_params, *auth_user;
	const char **rcpt;
	uint16_t n_rcpt;
	const char *imap_command, *imap_uid, *imap_mailbox, *imap_section;
	const char *pop3_command;
	struct sl_msg_reply replies[SL_MSG_MAX_REPLIES];
	uint8_t n_replies;

	/* top-level headers, decoded to UTF-8 */
	const char *hdr_from, *subject, *message_id, *date;
	const char **hdr_to;		/* To and Cc addresses */
	uint16_t n_hdr_to;

	/* raw message */
	uint64_t raw_size;
	uint8_t raw_sha256[32];
	bool complete;			/* end seen (not aborted) */
	const char *abort_reason;

	struct sl_msg_part *parts;
	uint16_t n_parts;
	uint16_t parts_dropped;

	uint64_t first_packet;		/* index of the packet that began it */
	uint64_t final_packet;		/* index of the packet that completed it (0 = none) */

	struct sl_anomaly_set anomalies;
	struct sl_verdict verdict;

	/* lifecycle: see sl_msg_pend() */
	uint32_t refs;
	uint32_t pending;		/* inspections still running */
	bool ended;			/* no more content will arrive */
	bool settled_called;
	const struct sl_msg_hooks *hooks;	/* engine's; may be NULL */
	void *hooks_arg;
	uint32_t record_truncated;	/* strings/parts refused by the arena cap */

	struct sl_arena arena;
};

/* The owner's hooks: settled() once the verdict is final (ended and
 * nothing pending); destroy() when the last reference goes. */
struct sl_msg_hooks {
	void (*settled)(struct sl_msg *m, void *arg);
	void (*destroy)(struct sl_msg *m, void *arg);
};

void sl_msg_init(struct sl_msg *m, uint64_t id, enum sl_proto proto, enum sl_dir dir);
void sl_msg_release(struct sl_msg *m);	/* frees the arena and arrays */

/* Copy a string into the message (NUL-terminated; control bytes kept,
 * escaping is the output's job).  Returns NULL when refused. */
const char *sl_msg_strdup(struct sl_msg *m, const char *s, size_t n);
void sl_msg_add_rcpt(struct sl_msg *m, const char *s, size_t n);
void sl_msg_add_hdr_to(struct sl_msg *m, const char *s, size_t n);
void sl_msg_add_reply(struct sl_msg *m, const char *cmd, unsigned code);
/* Returns the new part record or NULL when over SL_MSG_MAX_PARTS. */
struct sl_msg_part *sl_msg_add_part(struct sl_msg *m);

/* Inspections that answer later (ClamAV on the scan pool) take a pending
 * count before returning and give it back on the worker thread once their
 * reasons are added.  When the count returns to 0 after sl_msg_mark_ended(),
 * hooks->settled() is called: the verdict is final. */
void sl_msg_pend(struct sl_msg *m);
void sl_msg_unpend(struct sl_msg *m);
void sl_msg_mark_ended(struct sl_msg *m);
void sl_msg_ref(struct sl_msg *m);
void sl_msg_unref(struct sl_msg *m);	/* destroy() at zero */
static inline bool sl_msg_settled(const struct sl_msg *m) { return m->ended && m->pending == 0; }

/* Records an anomaly on the message and, when action is worse than pass,
 * adds it to the verdict as a reason. */
void sl_msg_anomaly(struct sl_msg *m, enum sl_anomaly a, enum sl_action action,
		    const char *detail);

#endif
