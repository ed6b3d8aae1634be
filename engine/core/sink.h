/* Content sinks: where inspected bytes go.
 *
 * The message builder (engine/message.c) turns each message into objects:
 * the envelope fields, each decoded header value, the subject, each
 * attachment filename, each text part, each attachment, and the raw message.
 * Every object is streamed to every sink that asked for its scope:
 *
 *   begin(o) -> data(o, bytes)* -> end(o)     (or abort(o))
 *
 * A streaming sink (Hyperscan, sha256) looks at bytes as they pass and keeps
 * no copy.  A sink that needs the whole object (ClamAV) buffers it under its
 * own memcap and, from end(), may answer SL_SINK_PENDING after taking a
 * pending count on the message (sl_msg_pend); it later adds its reasons and
 * calls sl_msg_unpend() ON THE WORKER THREAD, from collect().
 *
 * A sink instance ('self') belongs to one worker thread; shared state
 * (compiled databases, engines) is immutable and reference-counted inside. */
#ifndef SL_SINK_H
#define SL_SINK_H

#include <stddef.h>
#include <stdint.h>

#include "msg.h"

enum sl_scope {
	SL_SCOPE_TEXT = 0,		/* decoded text bodies (text/ parts that are not attachments) */
	SL_SCOPE_ATTACHMENT,		/* decoded content of attachments and non-text parts */
	SL_SCOPE_HEADER,		/* each header value, unfolded and RFC 2047-decoded; o->name */
	SL_SCOPE_SUBJECT,
	SL_SCOPE_FILENAME,		/* each attachment filename, decoded */
	SL_SCOPE_MAIL_FROM,
	SL_SCOPE_RCPT_TO,		/* one object per recipient */
	SL_SCOPE_AUTH_USER,
	SL_SCOPE_RAW,			/* the raw RFC 5322 message (transport unstuffed) */
	SL_SCOPE_COUNT
};

const char *sl_scope_name(enum sl_scope s);
/* Returns -1 when unknown. */
int sl_scope_parse(const char *s, enum sl_scope *out);

#define SL_SINK_MAX 8

enum sl_obj_flag {
	SL_OBJ_RAW_FALLBACK = 1u << 0,	/* the decoder gave up: these are undecoded bytes */
	SL_OBJ_READING_ALT  = 1u << 1,	/* an alternative reading of an ambiguous part */
	SL_OBJ_TRUNCATED    = 1u << 2,	/* a limit cut the object short */
};

struct sl_object {
	enum sl_scope scope;
	uint32_t part;			/* MIME part id (1-based); 0 for message-level objects */
	uint8_t reading;		/* 0 = primary reading */
	uint32_t flags;			/* enum sl_obj_flag */
	const char *name;		/* header name for SL_SCOPE_HEADER, else NULL */
	const char *content_type;	/* parts: lower-case type/subtype */
	const char *filename;		/* parts: decoded filename or NULL */
	uint64_t size;			/* bytes delivered so far (final at end) */
	const uint8_t *sha256;		/* during end(): sha256 of the bytes delivered, when
					   the builder computed it (parts, raw message), else
					   NULL; a sink may key on it instead of hashing again */
	struct sl_msg *msg;
	void *state[SL_SINK_MAX];	/* one slot per sink, indexed by its position */
};

enum sl_sink_end {
	SL_SINK_DONE = 0,
	SL_SINK_PENDING,		/* result comes later via collect() */
};

struct sl_sink_ops {
	const char *name;
	uint32_t scopes;		/* bitmask: 1u << enum sl_scope */
	/* Returns 0, or -1 to skip this object. *state is the sink's slot. */
	int (*begin)(void *self, struct sl_object *o, void **state);
	void (*data)(void *self, struct sl_object *o, void *state, const uint8_t *p, size_t n);
	enum sl_sink_end (*end)(void *self, struct sl_object *o, void *state);
	void (*abort)(void *self, struct sl_object *o, void *state);
	/* Once per message after its last object: whole-message checks
	 * (address lists, anti-spoofing) that need every field. May be NULL. */
	void (*msg_end)(void *self, struct sl_msg *m);
	/* Asynchronous sinks only (else NULL): a file descriptor that becomes
	 * readable when results wait; collect() applies them without blocking;
	 * wait() blocks until at least one result is applied or nothing is
	 * pending (replay uses it to settle a message before moving on). */
	int (*poll_fd)(void *self);
	void (*collect)(void *self);
	void (*wait)(void *self);
};

struct sl_sink {
	const struct sl_sink_ops *ops;
	void *self;
};

#endif
