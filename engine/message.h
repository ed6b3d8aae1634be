/* The message builder: turns one mail transaction (engine/core/mail.h) into
 * inspected objects.
 *
 *   raw bytes --+--> sha256 of the raw message, spool file (extract/quarantine)
 *               +--> RAW object  -> sinks
 *               +--> MIME decoder -> header objects, subject, filenames,
 *                                    TEXT / ATTACHMENT objects (each reading)
 *                                    -> sha256 per part, sinks
 *   envelope fields -> MAIL_FROM / RCPT_TO / AUTH_USER objects -> sinks
 *
 * The transaction owns its struct sl_msg (embedded, first member) and the
 * builder state; the message outlives the builder while inspections are
 * pending (refcount, see engine/core/msg.h). */
#ifndef SL_MESSAGE_H
#define SL_MESSAGE_H

#include <stdbool.h>
#include <stdint.h>

#include "anomaly.h"
#include "mail.h"
#include "mime.h"
#include "msg.h"
#include "sink.h"

struct sl_packet;

/* Per-worker environment shared by all transactions of that worker. */
struct sl_txn_env {
	struct sl_mime_limits mime;
	const struct sl_sink *sinks;
	unsigned n_sinks;
	struct sl_counters *ctr;
	const enum sl_action *anomaly_action;	/* [SL_ANOM_MAX]: policy per anomaly */
	uint64_t next_id;			/* the last message id given */
	uint64_t id_step;			/* added for each new message (0 = 1) */
	const char *spool_dir;			/* spool raw messages here (NULL = no spool) */
	const char *extract_dir;		/* also write decoded parts here (NULL = no) */
	const struct sl_msg_hooks *hooks;	/* installed on every message */
	void *hooks_arg;
	/* Called for each anomaly a transaction records (for events). */
	void (*on_anomaly)(void *u, struct sl_mail_txn *t, enum sl_anomaly a, const char *detail);
	void *on_anomaly_u;
	/* The MIME decoder's memory beyond sl_txn_state_size (long header
	 * buffers, decoders of encoded message/rfc822: sl_mime_cb.mem_take),
	 * charged here before it is allocated and given back exactly when the
	 * decoder is freed (at the message's end, or with the transaction).
	 * false: refused, the decoder degrades (mime.memcap).  Both or
	 * neither; NULL: not charged. */
	bool (*mem_take)(void *u, struct sl_mail_txn *t, size_t n);
	void (*mem_give)(void *u, size_t n);
	void *mem_u;
};

struct sl_mail_txn *sl_txn_new(struct sl_txn_env *env, enum sl_proto proto, enum sl_dir dir,
			       const struct sl_packet *pkt);
/* Bytes one transaction allocates when it starts (the builder, its sha256
 * context, the MIME decoder at env's limits), for memory accounting.  Not
 * included: the message's string arena and part records (bounded per
 * message, see msg.h), the decoder's growth (long header buffers, decoders
 * of encoded message/rfc822: charged as it comes, env->mem_take), an IMAP
 * section decoder. */
size_t sl_txn_state_size(const struct sl_txn_env *env);
void sl_txn_field(struct sl_mail_txn *t, enum sl_mail_field f, const char *v, size_t n);
void sl_txn_data(struct sl_mail_txn *t, const uint8_t *p, size_t n);
/* Content complete: finish decoding, end every object, run message-level
 * checks, fold the flow's anomalies into the verdict, mark the message
 * ended (settled() fires when no inspection is pending). */
void sl_txn_end(struct sl_mail_txn *t, const struct sl_packet *pkt,
		const struct sl_anomaly_set *flow_anomalies);
void sl_txn_abort(struct sl_mail_txn *t, const char *why,
		  const struct sl_anomaly_set *flow_anomalies);
void sl_txn_reply(struct sl_mail_txn *t, const char *cmd, unsigned code);
void sl_txn_anomaly(struct sl_mail_txn *t, enum sl_anomaly a, const char *detail);
struct sl_msg *sl_txn_msg(struct sl_mail_txn *t);
struct sl_mail_txn *sl_txn_of(struct sl_msg *m);
/* Path of the spooled raw message (NULL when not spooling); valid until free. */
const char *sl_txn_spool_path(const struct sl_mail_txn *t);
/* Opaque slot for the owner (the worker's per-flow state). */
void sl_txn_set_owner(struct sl_mail_txn *t, void *owner);
void *sl_txn_owner(const struct sl_mail_txn *t);
/* Drops the builder's reference; the message is destroyed (hooks->destroy)
 * once no inspection holds it. */
void sl_txn_put(struct sl_mail_txn *t);
/* Frees everything; called from hooks->destroy. */
void sl_txn_free(struct sl_mail_txn *t);

#endif
