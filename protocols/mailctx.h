/* What the SMTP, IMAP and POP3 parsers share: the engine's hooks with the
 * flow they belong to, the limits, the plug-in interface the registry in
 * app.c is made of, and the life cycle of one message transaction.
 *
 * A message handle (struct sl_mtxn) walks mail.h's story and makes every
 * hook call safe in any state, so parsers can call them without checking:
 *
 *   IDLE --begin--> OPEN --end--> ENDED --done--> IDLE
 *                     \------abort----------------^   (from OPEN or ENDED)
 *
 * When the engine refuses a message (begin returns NULL) the handle is OPEN
 * but "refused": the parser keeps framing, the hooks are skipped. */
#ifndef SL_MAILCTX_H
#define SL_MAILCTX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "app.h"
#include "counters.h"
#include "inflate.h"
#include "line.h"
#include "mail.h"
#include "slice.h"

/* Bytes a direction may hold back while it waits for the other one (a
 * client's DATA body before the server's 354, a reply before the command
 * it answers is parsed).  Past this, the parser decides without it. */
#define SL_MAIL_WAIT_BOUND (64u * 1024)

struct sl_mail_ctx {
	const struct sl_mail_ops *ops;
	void *flow;
	struct sl_counters *ctr;
	enum sl_proto proto;
	uint32_t max_line;		/* command/response line incl. CRLF */
	uint64_t max_message;		/* bytes of one message handed to data() */
};

enum sl_mtxn_state { SL_MTXN_IDLE = 0, SL_MTXN_OPEN, SL_MTXN_ENDED };

struct sl_mtxn {
	struct sl_mail_txn *t;		/* NULL when refused or idle */
	uint64_t bytes;			/* content bytes seen, inspected or not */
	uint8_t state;			/* enum sl_mtxn_state */
	bool big;			/* max_message reached: rest not inspected */
};

/* The plug-in interface of one mail protocol.  app.c keeps a const table of
 * these and never names a protocol outside it. */
enum sl_probe {
	SL_PROBE_NO = 0,		/* these bytes are not this protocol's greeting */
	SL_PROBE_YES,
	SL_PROBE_MORE,			/* a prefix of a greeting: need more bytes */
};

struct sl_proto_ops {
	const char *name;
	enum sl_proto id;
	size_t ports_off;		/* offsetof(struct sl_app_config, <its ports>) */
	size_t state_size;		/* bytes create() allocates (memory accounting) */
	/* Does the server's first bytes look like this protocol's greeting? */
	enum sl_probe (*probe)(const uint8_t *p, size_t n);
	/* midstream: the flow was picked up without its start (no greeting). */
	void *(*create)(const struct sl_mail_ctx *c, bool midstream);
	/* Finishes every transaction still open (abort or done) and frees. */
	void (*destroy)(void *st);
	/* The stream consumer for both directions (s->dir).  Returns STOP for
	 * a direction that must not be delivered again; once it decides the
	 * whole flow is over (TLS), every later call returns STOP. */
	struct sl_consume (*parse)(void *st, const struct sl_slice *s);
};

void sl_mctx_anomaly(const struct sl_mail_ctx *c, const struct sl_mtxn *m,
		     enum sl_anomaly a, const struct sl_packet *pkt, const char *detail);
void sl_mctx_note(const struct sl_mail_ctx *c, enum sl_flow_note n, const struct sl_packet *pkt);

/* A parser that cannot interpret the bytes at hand until the other
 * direction progresses consumes nothing.  This says whether it must decide
 * now anyway: 'pending' bytes reached SL_MAIL_WAIT_BOUND or the slice is
 * SL_SLICE_HELD (counted, mail.wait_bound), or the slice is the
 * direction's last (SL_SLICE_EOF: no call follows it; counted). */
bool sl_mctx_must_decide(const struct sl_mail_ctx *c, const struct sl_slice *s, size_t pending);

/* One step of the line framer over s->data from *pos (advanced by what the
 * framer consumed), raising what every protocol raises the same way:
 * mail.line_too_long (counted) and mail.bare_lf. */
enum sl_line_res sl_mctx_line(const struct sl_mail_ctx *c, struct sl_liner *l,
			      const struct sl_slice *s, size_t *pos, struct sl_line *ln);

/* Where a complete server reply goes when replies answer commands in order
 * (SMTP, POP3): the first is the greeting (skipped); with 'queued'
 * commands it answers the oldest; with none, its command may not be parsed
 * yet: wait for the client side (may_wait, 'pending' bytes held), or when
 * past waiting it is raised as 'unexpected' and skipped. */
enum sl_answer { SL_ANSWER_COMMAND, SL_ANSWER_SKIP, SL_ANSWER_WAIT };
enum sl_answer sl_mctx_answer(const struct sl_mail_ctx *c, const struct sl_slice *s, bool *greeted,
			      unsigned queued, bool may_wait, size_t pending,
			      enum sl_anomaly unexpected);

/* The direction's last slice: what it leaves now is never offered again. */
static inline bool sl_slice_is_last(const struct sl_slice *s)
{
	return s->flags & SL_SLICE_EOF;
}

void sl_mtxn_begin(const struct sl_mail_ctx *c, struct sl_mtxn *m, enum sl_dir dir,
		   const struct sl_packet *pkt);
void sl_mtxn_field(const struct sl_mail_ctx *c, const struct sl_mtxn *m, enum sl_mail_field f,
		   const void *v, size_t n);
/* Hands content on, up to max_message bytes per message; beyond, counts,
 * flags the message (mail.message_too_big) and drops the rest. */
void sl_mtxn_data(const struct sl_mail_ctx *c, struct sl_mtxn *m, const uint8_t *p, size_t n,
		  const struct sl_packet *pkt);
void sl_mtxn_end(const struct sl_mail_ctx *c, struct sl_mtxn *m, const struct sl_packet *pkt);
void sl_mtxn_reply(const struct sl_mail_ctx *c, const struct sl_mtxn *m, const char *cmd,
		   unsigned code, const void *text, size_t n);
void sl_mtxn_done(const struct sl_mail_ctx *c, struct sl_mtxn *m);
void sl_mtxn_abort(const struct sl_mail_ctx *c, struct sl_mtxn *m, const char *why);
/* Teardown: abort(why) an OPEN message, done() an ENDED one. */
void sl_mtxn_finish(const struct sl_mail_ctx *c, struct sl_mtxn *m, const char *why);

static inline bool sl_mtxn_active(const struct sl_mtxn *m)
{
	return m->state != SL_MTXN_IDLE;
}

/* Small text helpers for command parsing (ASCII only, locale-free). */
static inline uint8_t sl_ascii_upper(uint8_t ch)
{
	return (ch >= 'a' && ch <= 'z') ? (uint8_t)(ch - 32) : ch;
}

/* p[0..n) equals the upper-case word w, ignoring ASCII case. */
bool sl_word_eq(const uint8_t *p, size_t n, const char *w);
/* p[0..n) starts with the upper-case prefix w, ignoring ASCII case. */
bool sl_word_prefix(const uint8_t *p, size_t n, const char *w);
/* Decimal digits only, overflow-checked into *out.  Returns 0 / -1. */
int sl_parse_u64(const uint8_t *p, size_t n, uint64_t *out);

#endif
