/* Worker internals shared by worker.c (packet path), flow_app.c (per-flow
 * application state and mail transactions) and events.c (event shapes).
 * Nothing outside the worker includes this. */
#ifndef SL_WORKER_PRIV_H
#define SL_WORKER_PRIV_H

#include "message.h"
#include "worker.h"

struct sl_worker {
	struct sl_worker_config cfg;
	struct sl_counters ctr;
	struct sl_memcap stream_mc, defrag_mc;
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

/* events.c */
void sl_event_flow(struct sl_worker *w, const struct sl_flow *f);
void sl_event_anomaly(struct sl_worker *w, const struct sl_flow *f, enum sl_dir dir,
		      enum sl_anomaly a, uint64_t packet, uint64_t ts_us, const char *detail,
		      uint64_t msg_id);
struct sl_msg_origin {			/* where a message travelled, kept past its flow */
	struct sl_flow flow;		/* key, id, client only */
	uint64_t ts_us;
};
void sl_event_message(struct sl_worker *w, const struct sl_msg_origin *o, const struct sl_msg *m);
void sl_event_alerts(struct sl_worker *w, const struct sl_msg_origin *o, const struct sl_msg *m);
void sl_extract_index(struct sl_worker *w, const struct sl_msg_origin *o, const struct sl_msg *m);

#endif
