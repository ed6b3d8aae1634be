/* The packet path of one worker:
 *
 *   decode (+ defrag) -> flow table -> TCP reassembly -> flow_app (parser,
 *   message builder, sinks) -> packet action
 *
 * Flow-level anomalies become one event per kind per flow (the first
 * occurrence, with its packet index) and are counted every time. */
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "log.h"
#include "worker_priv.h"

const char *sl_pkt_action_name(enum sl_pkt_action a)
{
	switch (a) {
	case SL_PKT_ACCEPT: return "accept";
	case SL_PKT_HOLD: return "hold";
	case SL_PKT_DROP: return "drop";
	case SL_PKT_BYPASS: return "bypass";
	}
	return "unknown";
}

void sl_worker_config_default(struct sl_worker_config *c)
{
	memset(c, 0, sizeof(*c));
	sl_decode_config_default(&c->decode);
	sl_defrag_config_default(&c->defrag);
	sl_flow_config_default(&c->flow);
	sl_tcp_config_default(&c->tcp);
	sl_app_config_default(&c->app);
	sl_mime_limits_default(&c->mime);
	c->stream_memcap = 1ull << 30;
	for (unsigned i = 0; i < SL_ANOM_MAX; i++)
		c->anomaly_action[i] = sl_anomaly_default_action((enum sl_anomaly)i);
	c->flow_table_full = SL_ACTION_PASS;
	c->app_memcap = 1ull << 30;
	c->on_app_memcap = SL_ACTION_BLOCK;
	c->max_anomaly_events = 100;
	c->hold_timeout_ms = 30000;
	c->on_hold_timeout = SL_ACTION_TEMPFAIL;
	c->hold_memcap = 64ull << 20;
	c->id_step = 1;
}

/* ---- anomalies ---- */

/* Adds a to the flow's set (every message of the flow that ends from now on
 * gets it); the first time, an event. */
static void flow_add_anomaly(struct sl_worker *w, struct sl_flow *f, enum sl_anomaly a,
			     const struct sl_packet *pkt, const char *detail)
{
	if (sl_anomaly_set_has(&f->anomalies, a))
		return;
	sl_anomaly_set_add(&f->anomalies, a);
	enum sl_dir d = SL_TO_SERVER;
	if (pkt && memcmp(&pkt->src, &f->key.addr[f->client], sizeof(pkt->src)) != 0)
		d = SL_TO_CLIENT;
	sl_event_anomaly(w, f, d, a, pkt ? pkt->index : 0, pkt ? pkt->ts_us : w->now_us,
			 detail, 0);
}

void sl_flow_anomaly(struct sl_worker *w, struct sl_flow *f, enum sl_anomaly a,
		     const struct sl_packet *pkt, const char *detail)
{
	w->totals.anomalies[a]++;
	if (f) {
		flow_add_anomaly(w, f, a, pkt, detail);
		return;
	}
	/* No flow (decode errors): bounded events per kind, all counted. */
	if (w->totals.anomalies[a] <= w->cfg.max_anomaly_events)
		sl_event_anomaly(w, NULL, SL_TO_SERVER, a, pkt ? pkt->index : 0,
				 pkt ? pkt->ts_us : w->now_us, detail, 0);
}

/* A reassembled datagram brings the anomalies of its fragments to its flow:
 * the defragmenter reported (and counted) them before any flow existed, so
 * here they only join the flow's set, which is what reaches the verdicts of
 * the flow's messages. */
static void defrag_anomalies(struct sl_worker *w, struct sl_flow *f, const struct sl_packet *p)
{
	static const struct {
		uint32_t flag;
		enum sl_anomaly a;
	} map[] = {
		{ SL_PKT_FRAG_OVERLAP, SL_ANOM_DEFRAG_OVERLAP },
		{ SL_PKT_FRAG_CONFLICT, SL_ANOM_DEFRAG_OVERLAP_CONFLICT },
		{ SL_PKT_FRAG_TINY, SL_ANOM_DEFRAG_TINY },
		{ SL_PKT_FRAG_BAD_LEN, SL_ANOM_DEFRAG_BAD_LEN },
	};

	for (unsigned i = 0; i < SL_ARRAY_SIZE(map); i++)
		if (p->flags & map[i].flag)
			flow_add_anomaly(w, f, map[i].a, p, "in a fragment of this datagram");
}

static void decode_anomaly(void *u, enum sl_anomaly a, const struct sl_packet *pkt,
			   const char *detail)
{
	sl_flow_anomaly(u, NULL, a, pkt, detail);
}

struct tcp_u {
	struct sl_worker *w;
	struct sl_flow *f;
};

static void tcp_anomaly(void *u, enum sl_anomaly a, const struct sl_packet *pkt,
			const char *detail)
{
	struct tcp_u *tu = u;

	sl_flow_anomaly(tu->w, tu->f, a, pkt, detail);
}

static struct sl_consume tcp_consume(void *u, const struct sl_slice *s)
{
	struct tcp_u *tu = u;

	return sl_flow_app_consume(tu->w, tu->f, s);
}

static void txn_anomaly(void *u, struct sl_mail_txn *t, enum sl_anomaly a, const char *detail)
{
	struct sl_worker *w = u;
	struct sl_msg *m = sl_txn_msg(t);
	const struct wtxn *x = sl_txn_owner(t);

	w->totals.anomalies[a]++;
	/* The message's flow (kept in its origin: the flow itself may be
	 * gone), client first, as in the message and alert events. */
	sl_event_anomaly(w, x ? &x->origin.flow : NULL, SL_TO_SERVER, a,
			 w->cur ? w->cur->index : 0, w->now_us, detail, m->id);
}

/* ---- flow lifecycle ---- */

static void flow_release(void *u, struct sl_flow *f, enum sl_flow_end why)
{
	struct sl_worker *w = u;
	struct tcp_u tu = { w, f };
	struct sl_tcp_io io = { tcp_consume, &tu, tcp_anomaly, &tu };

	if (f->key.proto == 6) {
		sl_tcp_flush(w->tcp, &f->tcp, &io);
		/* A flow that closed by itself ended by FIN or RST, whatever
		 * finally removed it (timeout of the closed state, end of file);
		 * eviction is always reported as such. */
		enum sl_tcp_end te = sl_tcp_end_reason(&f->tcp);
		if (why != SL_FLOW_END_EVICTED && te != SL_TCP_END_NONE)
			f->end = (uint8_t)(te == SL_TCP_END_RST ? SL_FLOW_END_RST : SL_FLOW_END_FIN);
	}
	sl_flow_app_release(w, f);
	sl_event_flow(w, f);
	sl_flow_app_free(f);
}

static void build_server_ports(struct sl_worker *w)
{
	const uint16_t *lists[] = { w->cfg.app.smtp_ports, w->cfg.app.imap_ports,
				    w->cfg.app.pop3_ports, w->cfg.app.tls_ports };
	unsigned n = 0;

	for (unsigned l = 0; l < 4; l++)
		for (unsigned i = 0; i < SL_APP_MAX_PORTS && lists[l][i]; i++)
			w->server_ports[n++] = lists[l][i];
	w->server_ports[n] = 0;
	w->cfg.flow.server_ports = w->server_ports;
}

void sl_worker_set_sinks(struct sl_worker *w, const struct sl_sink *sinks, unsigned n)
{
	w->sinks = sinks;
	w->n_sinks = n;
	w->txn_env.sinks = sinks;
	w->txn_env.n_sinks = n;
}

struct sl_worker *sl_worker_new(const struct sl_worker_config *cfg, struct sl_eve *eve)
{
	struct sl_worker *w = calloc(1, sizeof(*w));

	if (!w)
		return NULL;
	w->cfg = *cfg;
	w->eve = eve;
	build_server_ports(w);
	sl_memcap_init(&w->stream_mc, "stream", cfg->stream_memcap);
	sl_memcap_init(&w->defrag_mc, "defrag", cfg->defrag.memcap);
	sl_memcap_init(&w->app_mc, "app", cfg->app_memcap);
	w->rl_app_memcap = (struct sl_ratelimit)SL_RATELIMIT_INIT(1);
	w->cfg.tcp.inline_mode = cfg->inline_mode;
	w->cfg.flow.id_base = cfg->id_base;
	w->cfg.flow.id_step = cfg->id_step;
	sl_inline_init(w);

	w->defrag = sl_defrag_new(&w->cfg.defrag, &w->defrag_mc, &w->ctr);
	w->dec = sl_decoder_new(&w->cfg.decode, w->defrag, &w->ctr, decode_anomaly, w);
	w->flows = sl_flow_table_new(&w->cfg.flow, &w->ctr, flow_release, w);
	w->tcp = sl_tcp_ctx_new(&w->cfg.tcp, &w->stream_mc, &w->ctr);
	if (!w->defrag || !w->dec || !w->flows || !w->tcp) {
		sl_worker_free(w);
		return NULL;
	}

	struct sl_txn_env *te = &w->txn_env;
	te->mime = cfg->mime;
	te->ctr = &w->ctr;
	te->anomaly_action = w->cfg.anomaly_action;
	te->extract_dir = cfg->extract_dir;
	te->spool_dir = cfg->extract_dir ? cfg->extract_dir : cfg->quarantine_dir;
	te->hooks = &sl_worker_msg_hooks;
	te->hooks_arg = w;
	te->on_anomaly = txn_anomaly;
	te->on_anomaly_u = w;
	te->mem_take = sl_worker_mime_take;
	te->mem_give = sl_worker_mime_give;
	te->mem_u = w;
	/* Message ids base + 1, base + 1 + step, ...: the builder adds the
	 * step before each message (unsigned arithmetic wraps to it). */
	te->id_step = cfg->id_step ? cfg->id_step : 1;
	te->next_id = (uint64_t)cfg->id_base + 1 - te->id_step;
	return w;
}

void sl_worker_flush(struct sl_worker *w)
{
	/* Fragments waiting for their datagram go with the flows: those of one
	 * capture file must not complete a datagram of the next. */
	sl_defrag_flush(w->defrag);
	/* Releasing every flow: the table frees and re-creates cheaply. */
	if (!w->flows)
		return;
	sl_flow_table_free(w->flows);
	w->flows = sl_flow_table_new(&w->cfg.flow, &w->ctr, flow_release, w);
}

void sl_worker_forget_sources(struct sl_worker *w)
{
	sl_decoder_forget_sources(w->dec);
}

void sl_worker_free(struct sl_worker *w)
{
	if (!w)
		return;
	sl_flow_table_free(w->flows);
	sl_tcp_ctx_free(w->tcp);
	sl_decoder_free(w->dec);
	sl_defrag_free(w->defrag);
	free(w);
}

void sl_worker_reconfigure(struct sl_worker *w, const struct sl_worker_config *c)
{
	w->cfg.hold_timeout_ms = c->hold_timeout_ms;
	w->cfg.on_hold_timeout = c->on_hold_timeout;
	w->cfg.flow_table_full = c->flow_table_full;
	w->cfg.on_app_memcap = c->on_app_memcap;
	/* The transactions read the policies through w->cfg.anomaly_action. */
	memcpy(w->cfg.anomaly_action, c->anomaly_action, sizeof(w->cfg.anomaly_action));
}

uint32_t sl_worker_flow_count(const struct sl_worker *w)
{
	return w->flows ? sl_flow_count(w->flows) : 0;
}

struct sl_counters *sl_worker_counters(struct sl_worker *w) { return &w->ctr; }
const struct sl_decoder *sl_worker_decoder(const struct sl_worker *w) { return w->dec; }
const struct sl_worker_totals *sl_worker_totals(const struct sl_worker *w) { return &w->totals; }

void sl_worker_tick(struct sl_worker *w, uint64_t now_us)
{
	w->last_tick_us = now_us;
	sl_flow_expire(w->flows, now_us);
	sl_defrag_expire(w->defrag, now_us);
}

/* ---- the packet path ---- */

static enum sl_flow_class class_of(const struct sl_flow *f)
{
	switch (f->tcp.state) {
	case SL_TCP_ESTABLISHED:
	case SL_TCP_FIN_WAIT:
		return SL_FLOW_ESTABLISHED;
	case SL_TCP_CLOSED:
		return SL_FLOW_CLOSED;
	default:
		return f->bytes[0] + f->bytes[1] ? SL_FLOW_ESTABLISHED : SL_FLOW_EMBRYONIC;
	}
}

enum sl_pkt_action sl_worker_packet(struct sl_worker *w, struct sl_packet *p, uint64_t now_us)
{
	enum sl_dir dir;

	w->now_us = now_us;
	sl_ctr_inc(&w->ctr, SL_CTR_PKTS);
	sl_ctr_add(&w->ctr, SL_CTR_BYTES, p->wire_len);
	/* Timeouts once per second of traffic time, not per packet. */
	if (now_us - w->last_tick_us > 1000000 || now_us < w->last_tick_us)
		sl_worker_tick(w, now_us);

	switch (sl_decode(w->dec, p)) {
	case SL_DECODE_OK:
		break;
	case SL_DECODE_NOT_IP:
		sl_ctr_inc(&w->ctr, SL_CTR_NON_IP);
		return SL_PKT_ACCEPT;
	default:
		/* A fragment stored for later, or a packet the receiver's stack
		 * would drop as malformed: nothing for the stream to see. */
		return SL_PKT_ACCEPT;
	}
	if (p->ip_proto != 6) {
		sl_ctr_inc(&w->ctr, SL_CTR_NON_TCP);
		return SL_PKT_ACCEPT;
	}

	struct sl_flow *f = sl_flow_get(w->flows, p, now_us, &dir);
	if (f && (p->tcp_flags & (SL_TH_SYN | SL_TH_ACK)) == SL_TH_SYN && sl_tcp_closed(&f->tcp)) {
		/* A new connection on the 4-tuple of a closed one (port reuse,
		 * TIME_WAIT recycling): the old flow ends here. */
		sl_flow_remove(w->flows, f, SL_FLOW_END_FIN);
		f = sl_flow_get(w->flows, p, now_us, &dir);
	}
	if (!f)
		return w->cfg.flow_table_full >= SL_ACTION_TEMPFAIL ? SL_PKT_DROP : SL_PKT_ACCEPT;
	f->pkts[dir]++;
	f->bytes[dir] += p->wire_len;
	if (p->flags & SL_PKT_FRAG_ANOMALIES)
		defrag_anomalies(w, f, p);
	enum sl_pkt_action early;
	if (w->cfg.inline_mode && sl_inline_before(w, f, p, dir, &early))
		return early;

	w->cur = p;
	w->cur_action = SL_PKT_ACCEPT;
	struct tcp_u tu = { w, f };
	struct sl_tcp_io io = { tcp_consume, &tu, tcp_anomaly, &tu };
	enum sl_tcp_verdict tv = sl_tcp_segment(w->tcp, &f->tcp, p, dir, &io);
	/* A parser may wait in one direction for the other (app.h): after
	 * every delivery offer the waiting side its bytes again, alternating
	 * while either makes progress (bounded: each round consumes bytes). */
	for (int round = 0, d = !dir; round < 8; round++, d = !d)
		if (!sl_tcp_reoffer(w->tcp, &f->tcp, (enum sl_dir)d, p, &io) && round)
			break;
	w->cur = NULL;
	if (f->flags & SL_FLOWF_APP_REFUSED) {
		/* Its state was refused (policy block): reassembly still follows
		 * the flow to its end, but nothing of it reaches the receiver,
		 * so the sender gives up and retries later. */
		sl_ctr_inc(&w->ctr, SL_CTR_APP_MEMCAP_DROPS);
		tv = SL_TCP_DROP;
	}

	if (f->flags & SL_FLOWF_BYPASS)
		sl_tcp_no_history(&f->tcp);
	sl_flow_set_class(w->flows, f, class_of(f));
	if (w->cfg.inline_mode)
		return sl_inline_after(w, f, p, dir, tv);
	if (tv == SL_TCP_DROP)
		return SL_PKT_DROP;
	if (f->flags & SL_FLOWF_BYPASS && w->cur_action == SL_PKT_ACCEPT)
		return SL_PKT_BYPASS;
	return w->cur_action;
}
