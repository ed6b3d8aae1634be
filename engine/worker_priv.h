/* Worker internals shared by worker.c (packet path), flow_app.c (per-flow
 * application state and mail transactions) and events.c (event shapes).
 * Nothing outside the worker includes this. */
#ifndef SL_WORKER_PRIV_H
#define SL_WORKER_PRIV_H

#include "hold.h"
#include "log.h"
#include "message.h"
#include "worker.h"

#define SL_REWRITES 8

struct wtxn;

struct sl_worker {
	struct sl_worker_config cfg;
	struct sl_counters ctr;
	struct sl_memcap stream_mc, defrag_mc;
	struct sl_memcap app_mc;	/* parsers and messages (flow_app.c) */
	struct sl_ratelimit rl_app_memcap;
	struct sl_eve *eve;
	struct sl_defrag *defrag;
	struct sl_decoder *dec;
	struct sl_flow_table *flows;
	struct sl_tcp_ctx *tcp;
	const struct sl_sink *sinks;
	unsigned n_sinks;
	struct sl_txn_env txn_env;
	struct sl_worker_totals totals;
	uint16_t server_ports[4 * SL_APP_MAX_PORTS + 1];

	/* the packet being processed */
	struct sl_packet *cur;
	uint64_t now_us;
	enum sl_pkt_action cur_action;
	uint64_t last_tick_us;

	/* inline (worker_inline.c) */
	const struct sl_inline_ops *iops;
	void *iops_u;
	struct sl_hold_set holds;
	bool draining;			/* shutting down (sl_worker_drain) */
	struct wtxn *cur_ended;		/* messages the current packet completed */
	struct sl_worker_inline_stats istats;
	struct sl_ratelimit rl_inject;
	struct sl_rewrite {		/* recent rewritten RSTs (the source may refuse one) */
		uint32_t src_id, len;
		bool routed;
		struct sl_l2_path l2;
		uint8_t pkt[256];
	} rewrites[SL_REWRITES];
	unsigned rewrite_next;
	uint8_t craft[65536 + 64];	/* scratch for crafted packets */
};

struct sl_msg_origin {			/* where a message travelled, kept past its flow */
	struct sl_flow flow;		/* key, id, client only */
	uint64_t ts_us;
};

/* One mail transaction as the worker tracks it.  It outlives its flow while
 * an inspection is pending (the message holds it through its refcount). */
struct wtxn {
	struct sl_mail_txn *t;
	struct sl_worker *w;
	struct sl_flow_app *fa;		/* NULL once the flow is gone */
	struct wtxn *next;		/* the flow's list */
	struct sl_msg_origin origin;
	size_t charged;			/* taken from w->app_mc, given back on destroy */
	bool done;			/* parser finished with it */
	bool settled;			/* verdict final */
	bool emitted;

	/* inline: the held packet this message's verdict releases */
	struct sl_flow_app *gate_fa;	/* NULL when it gates nothing */
	uint64_t gate_hid;
	struct wtxn *gnext;		/* gate_fa's list of gating messages */
	struct wtxn *cnext;		/* worker's cur_ended list */
	uint8_t cur;			/* enum wtxn_cur while on cur_ended */
	uint64_t t_end_us;		/* monotonic time the content ended */
};

enum wtxn_cur {
	WTXN_CUR_NONE = 0,
	WTXN_CUR_PENDING,		/* ended, verdict pending: gate a held packet */
	WTXN_CUR_REFUSED,		/* ended and settled at once as tempfail/block */
	WTXN_CUR_SETTLED,		/* ended pending, then settled as pass/alert */
};

/* Inline state of one flow: held packets per direction, what the consumer
 * has consumed, and how each side's packets arrive (for injection). */
struct sl_flow_inl {
	struct sl_hold_q q[2];		/* by direction of the sender */
	struct sl_pkt_link link[2];	/* last seen, per direction */
	uint64_t consumed[2];		/* consumer position (UINT64_MAX: stopped) */
	uint64_t slice_end[2];		/* end of the last slice offered */
	uint64_t slice_pkt[2];		/* index of the packet that slice named (0: none);
					   an index, not a pointer: sources reuse one
					   struct for every packet */
	struct wtxn *gated;		/* messages gating held packets */
	bool killed;			/* blocked: every later packet is dropped */
	bool releasing;			/* the flow is leaving the table */
	uint8_t resets_sent;		/* answers to packets of a killed flow */
};

struct sl_flow_app {
	struct sl_worker *w;
	struct sl_flow *f;
	struct sl_app *app;
	enum sl_proto proto;
	bool stop[2];			/* parser gave up on this direction */
	bool tls, compress, not_mail;
	int stream_fd[2];
	uint64_t stream_written[2];	/* stream offset written so far */
	size_t charged;			/* taken from w->app_mc for the parser */
	struct wtxn *txns;
	struct sl_flow_inl inl;
};

/* flow_app.c */
struct sl_flow_app;
struct sl_consume sl_flow_app_consume(struct sl_worker *w, struct sl_flow *f,
				      const struct sl_slice *s);
/* The flow leaves the table: finish its transactions and free its state. */
void sl_flow_app_release(struct sl_worker *w, struct sl_flow *f);
bool sl_flow_app_wants_stop(const struct sl_flow *f, enum sl_dir d);
void sl_flow_app_free(struct sl_flow *f);
struct sl_flow_app_info {
	enum sl_proto proto;
	bool tls, compress, not_mail;
};
void sl_flow_app_info(const struct sl_flow *f, struct sl_flow_app_info *i);
void sl_flow_anomaly(struct sl_worker *w, struct sl_flow *f, enum sl_anomaly a,
		     const struct sl_packet *pkt, const char *detail);
extern const struct sl_msg_hooks sl_worker_msg_hooks;
/* sl_txn_env.mem_take / mem_give: the MIME decoders' growth on app_mc. */
bool sl_worker_mime_take(void *u, struct sl_mail_txn *t, size_t n);
void sl_worker_mime_give(void *u, size_t n);

struct sl_flow_app *sl_flow_app_get(struct sl_worker *w, struct sl_flow *f);

/* worker_inline.c: the inline packet path around sl_tcp_segment() */
void sl_inline_init(struct sl_worker *w);
/* Before reassembly: true when the packet's fate is already known (*a). */
bool sl_inline_before(struct sl_worker *w, struct sl_flow *f, struct sl_packet *p,
		      enum sl_dir dir, enum sl_pkt_action *a);
/* After reassembly: holds, releases, refusals; returns the packet's action. */
enum sl_pkt_action sl_inline_after(struct sl_worker *w, struct sl_flow *f, struct sl_packet *p,
				   enum sl_dir dir, enum sl_tcp_verdict tv);
/* A message ended with its verdict pending / settled (flow_app.c hooks). */
void sl_inline_msg_ended(struct sl_worker *w, struct wtxn *x);
void sl_inline_msg_settled(struct sl_worker *w, struct wtxn *x);
/* The consumer answered for direction d (flow_app.c). */
void sl_inline_consumed(struct sl_flow_app *fa, const struct sl_slice *s,
			const struct sl_consume *r);
/* The flow leaves the table: whatever it still holds meets the hold policy. */
void sl_inline_flow_release(struct sl_worker *w, struct sl_flow_app *fa);

/* events.c */
void sl_event_flow(struct sl_worker *w, const struct sl_flow *f);
void sl_event_anomaly(struct sl_worker *w, const struct sl_flow *f, enum sl_dir dir,
		      enum sl_anomaly a, uint64_t packet, uint64_t ts_us, const char *detail,
		      uint64_t msg_id);
void sl_event_message(struct sl_worker *w, const struct sl_msg_origin *o, const struct sl_msg *m);
void sl_event_alerts(struct sl_worker *w, const struct sl_msg_origin *o, const struct sl_msg *m);
void sl_extract_index(struct sl_worker *w, const struct sl_msg_origin *o, const struct sl_msg *m);
/* A blocked message into cfg.quarantine_dir: <sha256>.eml (the raw message
 * from the spool file, when there is one) and <sha256>.json (its message
 * event), named by the raw message's sha256. */
void sl_quarantine(struct sl_worker *w, const struct sl_msg_origin *o, const struct sl_msg *m,
		   const char *spool);
/* What the inline path did to a flow it refused (reset, SMTP reply). */
void sl_event_inline(struct sl_worker *w, const struct sl_flow *f, enum sl_dir dir,
		     const char *action, const char *reply, const struct sl_verdict *v,
		     uint32_t held_dropped);

#endif
