/* The inline packet path of a worker: which packets wait for a verdict,
 * when they go, and how a refused transfer ends.
 *
 * Every packet is inspected as it arrives.  A packet is HELD (its verdict
 * deferred, a copy kept in engine/hold.c) when
 *   - it completes a message whose verdict is still pending (GATE);
 *   - a parser left some of its bytes unconsumed while it waits for the
 *     other direction (WAIT).  Accepting it would let the receiver act on
 *     bytes nobody judged: a client that pipelines its body right after
 *     DATA (forbidden by RFC 2920, so only a hostile or broken client
 *     does) would have the server see end-of-data before sluice decided.
 *     The packet waits until the parser consumed its bytes (the server's
 *     354 arrived) - or the deadline, whose policy then applies.  A packet
 *     that carries both the command and the pipelined body waits for a
 *     reply its own hold prevents: it meets the deadline (tempfail by
 *     default), which only a misbehaving client can cause;
 *   - an earlier packet of the same direction is held (BEHIND): order.
 * A retransmission of held bytes is dropped (the copy goes out on release).
 *
 * Verdict -> packets, for the direction d whose message was judged:
 *   pass, alert    release d's held packets in order;
 *   tempfail/block the receiver gets the first held packet rewritten as an
 *                  RST (same IP header, seq = the receiver's next expected
 *                  byte); the rest is dropped.  The sender gets, for SMTP
 *                  from the client, "554 5.7.1 ..." / "451 4.7.1 ..." as if
 *                  from the server, then FIN; otherwise (IMAP, POP3: the
 *                  client mid-download) its own RST.  The flow is then dead:
 *                  later packets are dropped, a few answered with RSTs.
 * Deadline (hold_timeout_ms), a hold the cap refuses, a flow that leaves
 * the table while holding, and shutdown all apply on_hold_timeout the same
 * way (pass releases, tempfail/block refuse). */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "bytes.h"
#include "worker_priv.h"

/* Answers to packets of a refused flow, per flow: enough for a client that
 * writes QUIT after the reply, bounded against a peer that keeps sending. */
#define KILLED_RESETS 4

static uint64_t mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

void sl_inline_init(struct sl_worker *w)
{
	sl_hold_set_init(&w->holds, w->cfg.hold_memcap);
	w->rl_inject = (struct sl_ratelimit)SL_RATELIMIT_INIT(5);
}

void sl_worker_set_inline(struct sl_worker *w, const struct sl_inline_ops *ops, void *u)
{
	w->iops = ops;
	w->iops_u = u;
}

const struct sl_worker_inline_stats *sl_worker_inline_stats(struct sl_worker *w)
{
	w->istats.held_now = w->holds.pkts;
	w->istats.held_bytes_now = w->holds.bytes;
	w->istats.hold_us = w->holds.hold_us;
	return &w->istats;
}

/* ---- verdicts and injection through the source ---- */

static void verdict(struct sl_worker *w, const struct sl_held *h, enum sl_pkt_action a,
		    const uint8_t *payload, uint32_t len)
{
	if (w->iops)
		w->iops->verdict(w->iops_u, h->info.src_id, a, payload, len);
}

static uint32_t seg_len_of(const struct sl_packet *p)
{
	return p->payload_len + !!(p->tcp_flags & SL_TH_SYN) + !!(p->tcp_flags & SL_TH_FIN);
}

/* The way to the sender of direction d: the port its packets came in by,
 * its MAC as destination, the peer's MAC as source.  NULL: routed. */
static const struct sl_l2_path *path_to_sender(const struct sl_flow_inl *in, enum sl_dir d,
					       struct sl_l2_path *l2)
{
	const struct sl_pkt_link *from = &in->link[d], *peer = &in->link[!d];

	if (!from->physindev || !from->has_hwsrc || !peer->has_hwsrc)
		return NULL;
	l2->ifindex = (int)from->physindev;
	memcpy(l2->dst_mac, from->hwsrc, 6);
	memcpy(l2->src_mac, peer->hwsrc, 6);
	return l2;
}

static void inject(struct sl_worker *w, const uint8_t *pkt, size_t len,
		   const struct sl_l2_path *l2)
{
	if (!w->iops || !len)
		return;
	if (w->iops->inject(w->iops_u, pkt, (uint32_t)len, l2) != 0) {
		w->istats.inject_errors++;
		sl_log_rl(&w->rl_inject, w->now_us, SL_LOG_WARN, "inline: cannot send a crafted "
			  "packet: %s", strerror(errno));
	}
}

/* A TCP packet from the receiver of d to its sender (or, toward_receiver,
 * from the sender to the receiver), sent the way that side is reached. */
static void send_crafted(struct sl_worker *w, struct sl_flow *f, enum sl_dir d,
			 bool toward_receiver, uint32_t seq, uint32_t ack, uint8_t flags,
			 const char *payload, size_t plen)
{
	const struct sl_flow_inl *in = &f->app->inl;
	const struct sl_addr *s_addr, *r_addr;
	uint16_t s_port, r_port;
	struct sl_craft c = { 0 };
	struct sl_l2_path l2;
	uint32_t win = 0;

	sl_flow_endpoint(f, d, &s_addr, &s_port, &r_addr, &r_port);
	enum sl_dir from = toward_receiver ? d : (enum sl_dir)!d;
	if (sl_tcp_window(&f->tcp, from, &win))
		win >>= f->tcp.half[from].wscale;
	c.src = toward_receiver ? *s_addr : *r_addr;
	c.dst = toward_receiver ? *r_addr : *s_addr;
	c.sport = toward_receiver ? s_port : r_port;
	c.dport = toward_receiver ? r_port : s_port;
	c.seq = seq;
	c.ack = ack;
	c.flags = flags;
	c.window = (uint16_t)(win > 65535 ? 65535 : win);
	c.payload = (const uint8_t *)payload;
	c.payload_len = (uint32_t)plen;
	size_t n = sl_craft_tcp(w->craft, sizeof(w->craft), &c);
	inject(w, w->craft, n, path_to_sender(in, toward_receiver ? (enum sl_dir)!d : d, &l2));
	if (flags & SL_TH_RST)
		w->istats.resets++;
}

/* ---- gates: messages whose verdict releases a held packet ---- */

static void gate_unlink(struct sl_flow_app *fa, struct wtxn *x)
{
	for (struct wtxn **pp = &fa->inl.gated; *pp; pp = &(*pp)->gnext) {
		if (*pp == x) {
			*pp = x->gnext;
			break;
		}
	}
	x->gnext = NULL;
	x->gate_fa = NULL;
	x->gate_hid = 0;
}

static void gate(struct sl_flow_app *fa, struct wtxn *x, struct sl_held *h)
{
	h->gates++;
	x->gate_fa = fa;
	x->gate_hid = h->hid;
	x->gnext = fa->inl.gated;
	fa->inl.gated = x;
}

/* Forgets the gates on direction d (all directions: d < 0). */
static void ungate_all(struct sl_flow_app *fa, int d)
{
	struct wtxn **pp = &fa->inl.gated;

	while (*pp) {
		struct wtxn *x = *pp;
		if (d >= 0 && sl_txn_msg(x->t)->dir != (enum sl_dir)d) {
			pp = &x->gnext;
			continue;
		}
		*pp = x->gnext;
		x->gnext = NULL;
		x->gate_fa = NULL;
		x->gate_hid = 0;
	}
}

/* ---- release, refuse ---- */

static void release(struct sl_worker *w, struct sl_flow_app *fa, enum sl_dir d)
{
	struct sl_flow_inl *in = &fa->inl;
	uint64_t now = 0;

	while (sl_hold_head_ready(&in->q[d], in->consumed[d])) {
		if (!now)
			now = mono_us();
		struct sl_held *h = sl_hold_pop(&w->holds, &in->q[d], now);
		bool discard = h->info.why & SL_HOLD_DISCARD;
		verdict(w, h, discard ? SL_PKT_DROP : SL_PKT_ACCEPT, NULL, 0);
		if (discard)
			w->istats.dropped++;
		else
			w->istats.released++;
		sl_hold_free(h);
	}
}

static uint32_t drop_queue(struct sl_worker *w, struct sl_flow_app *fa, enum sl_dir d,
			   uint64_t now)
{
	struct sl_held *h;
	uint32_t n = 0;

	while ((h = sl_hold_pop(&w->holds, &fa->inl.q[d], now))) {
		verdict(w, h, SL_PKT_DROP, NULL, 0);
		sl_hold_free(h);
		w->istats.dropped++;
		n++;
	}
	return n;
}

/* Remembers a rewritten RST so that it can be sent another way when the
 * source refuses the replacement (sl_worker_rewrite_failed). */
static void note_rewrite(struct sl_worker *w, uint32_t src_id, const uint8_t *pkt, size_t len,
			 const struct sl_l2_path *l2)
{
	struct sl_rewrite *r = &w->rewrites[w->rewrite_next++ % SL_REWRITES];

	r->len = 0;
	if (len > sizeof(r->pkt))
		return;
	r->src_id = src_id;
	r->len = (uint32_t)len;
	r->routed = l2 == NULL;
	if (l2)
		r->l2 = *l2;
	memcpy(r->pkt, pkt, len);
}

void sl_worker_rewrite_failed(struct sl_worker *w, uint32_t src_id)
{
	for (unsigned i = 0; i < SL_REWRITES; i++) {
		struct sl_rewrite *r = &w->rewrites[i];
		if (r->len && r->src_id == src_id) {
			inject(w, r->pkt, r->len, r->routed ? NULL : &r->l2);
			r->len = 0;
			return;
		}
	}
}

/* Ends the flow for a refused message of direction d (see the top). */
static void refuse(struct sl_worker *w, struct sl_flow_app *fa, enum sl_dir d,
		   enum sl_action action, const struct sl_verdict *v)
{
	struct sl_flow *f = fa->f;
	struct sl_flow_inl *in = &fa->inl;
	uint64_t now = mono_us();
	uint32_t s_next = 0, r_next = 0, dropped = 0;
	bool have_s = sl_tcp_next_seq(&f->tcp, d, &s_next);
	bool have_r = sl_tcp_next_seq(&f->tcp, (enum sl_dir)!d, &r_next);
	struct sl_l2_path l2;
	char reply[520];
	size_t rlen = 0;

	if (in->killed)
		return;
	in->killed = true;
	ungate_all(fa, -1);
	w->istats.refusals[action]++;

	/* The receiver: its next expected byte is the first held one. */
	struct sl_held *h = sl_hold_pop(&w->holds, &in->q[d], now);
	if (h) {
		size_t n = h->info.l4_off ?
			sl_craft_rst_rewrite(w->craft, sizeof(w->craft), h->data, h->len,
					     h->info.l4_off, h->info.seq, h->info.ack) : 0;
		if (n) {
			note_rewrite(w, h->info.src_id, w->craft, n, path_to_sender(in, !d, &l2));
			verdict(w, h, SL_PKT_ACCEPT, w->craft, (uint32_t)n);
			w->istats.resets++;
		} else {
			verdict(w, h, SL_PKT_DROP, NULL, 0);
			send_crafted(w, f, d, true, h->info.seq, h->info.ack, SL_TH_RST | SL_TH_ACK,
				     NULL, 0);
		}
		w->istats.dropped++;
		dropped = 1;
		s_next = have_s ? s_next : h->info.seq + h->info.seg_len;
		sl_hold_free(h);
	} else if (have_s && have_r) {
		send_crafted(w, f, d, true, s_next, r_next, SL_TH_RST | SL_TH_ACK, NULL, 0);
	}
	dropped += drop_queue(w, fa, d, now) + drop_queue(w, fa, (enum sl_dir)!d, now);

	/* The sender. */
	if (have_r && have_s) {
		if (fa->proto == SL_PROTO_SMTP && d == SL_TO_SERVER) {
			rlen = sl_smtp_refusal(reply, sizeof(reply), action, v);
			send_crafted(w, f, d, false, r_next, s_next, SL_TH_PSH | SL_TH_ACK, reply,
				     rlen);
			send_crafted(w, f, d, false, r_next + (uint32_t)rlen, s_next,
				     SL_TH_FIN | SL_TH_ACK, NULL, 0);
			w->istats.smtp_replies++;
		} else {
			send_crafted(w, f, d, false, r_next, s_next, SL_TH_RST | SL_TH_ACK, NULL,
				     0);
		}
	}
	/* Nothing more of this flow is inspected. */
	sl_tcp_stop(w->tcp, &f->tcp, SL_TO_SERVER);
	sl_tcp_stop(w->tcp, &f->tcp, SL_TO_CLIENT);
	fa->stop[0] = fa->stop[1] = true;
	/* Both ends are reset: the flow goes with the short closed timeout
	 * (its later packets return before reassembly, so nothing moves it
	 * back). */
	if (!in->releasing)
		sl_flow_set_class(w->flows, f, SL_FLOW_CLOSED);
	if (rlen >= 2)
		reply[rlen - 2] = '\0';
	sl_event_inline(w, f, d, rlen ? (action == SL_ACTION_TEMPFAIL ? "smtp_tempfail" :
					 "smtp_reject") : "reset", rlen ? reply : NULL, v, dropped);
}

/* The hold policy for direction d: deadline, refused hold, flow gone. */
static void hold_policy(struct sl_worker *w, struct sl_flow_app *fa, enum sl_dir d,
			const char *id, const char *text)
{
	enum sl_action act = w->cfg.on_hold_timeout;
	struct sl_verdict v;

	if (fa->inl.killed) {
		drop_queue(w, fa, d, mono_us());
		return;
	}
	sl_verdict_init(&v);
	sl_verdict_add(&v, SL_REASON_POLICY, act, id, text, 0);
	/* The waiting messages carry the reason in their own events. */
	for (struct wtxn *x = fa->inl.gated; x; x = x->gnext) {
		struct sl_msg *m = sl_txn_msg(x->t);
		if (m->dir == d)
			sl_verdict_add(&m->verdict, SL_REASON_POLICY, act, id, text, 0);
	}
	ungate_all(fa, (int)d);
	if (act >= SL_ACTION_TEMPFAIL) {
		refuse(w, fa, d, act, &v);
		return;
	}
	/* Fail-open: everything held goes, waits and gates forgotten. */
	for (struct sl_held *h = fa->inl.q[d].head; h; h = h->next) {
		h->gates = 0;
		h->info.why &= (uint8_t)~SL_HOLD_WAIT;
	}
	release(w, fa, d);
}

void sl_worker_hold_tick(struct sl_worker *w, uint64_t mono)
{
	struct sl_hold_q *q;

	while ((q = sl_hold_expired(&w->holds, mono))) {
		struct sl_flow_app *fa = q->owner;
		w->istats.hold_timeouts++;
		hold_policy(w, fa, (enum sl_dir)q->dir, "hold-timeout",
			    "inspection did not finish in time");
		/* Policy always empties the queue; never loop on it. */
		if (q->head)
			drop_queue(w, fa, (enum sl_dir)q->dir, mono);
	}
}

void sl_inline_flow_release(struct sl_worker *w, struct sl_flow_app *fa)
{
	fa->inl.releasing = true;
	for (int d = 0; d < 2; d++) {
		if (!fa->inl.q[d].head)
			continue;
		if (w->draining)
			hold_policy(w, fa, (enum sl_dir)d, "shutdown",
				    "sluice stopped while packets were held");
		else
			hold_policy(w, fa, (enum sl_dir)d, "flow-ended",
				    "the connection ended while packets were held");
		if (fa->inl.q[d].head)
			drop_queue(w, fa, (enum sl_dir)d, mono_us());
	}
	ungate_all(fa, -1);
}

void sl_worker_drain(struct sl_worker *w)
{
	w->draining = true;
	sl_worker_flush(w);
	w->draining = false;
}

/* ---- hooks from flow_app.c ---- */

void sl_inline_consumed(struct sl_flow_app *fa, const struct sl_slice *s,
			const struct sl_consume *r)
{
	struct sl_flow_inl *in = &fa->inl;
	enum sl_dir d = s->dir;

	in->slice_end[d] = s->offset + s->len;
	in->slice_pkt[d] = s->pkt ? s->pkt->index : 0;
	/* A direction no longer parsed waits for nothing. */
	in->consumed[d] = r->status == SL_CONSUME_STOP ? UINT64_MAX : s->offset + r->consumed;
}

static void cur_push(struct sl_worker *w, struct wtxn *x, enum wtxn_cur c)
{
	if (x->cur == WTXN_CUR_NONE) {
		x->cnext = w->cur_ended;
		w->cur_ended = x;
	}
	x->cur = (uint8_t)c;
}

void sl_inline_msg_ended(struct sl_worker *w, struct wtxn *x)
{
	x->t_end_us = mono_us();
	cur_push(w, x, WTXN_CUR_PENDING);
}

void sl_inline_msg_settled(struct sl_worker *w, struct wtxn *x)
{
	struct sl_msg *m = sl_txn_msg(x->t);
	bool refused = m->verdict.action >= SL_ACTION_TEMPFAIL;

	if (x->t_end_us)
		sl_hist_add(&w->istats.settle_us, mono_us() - x->t_end_us);
	if (x->cur != WTXN_CUR_NONE) {
		/* Settled before the packet that ended it was dealt with. */
		x->cur = refused ? WTXN_CUR_REFUSED : WTXN_CUR_SETTLED;
		return;
	}
	if (x->gate_fa) {
		struct sl_flow_app *fa = x->gate_fa;
		enum sl_dir d = m->dir;
		struct sl_held *h = sl_hold_find(&fa->inl.q[d], x->gate_hid);
		gate_unlink(fa, x);
		if (h && h->gates)
			h->gates--;
		if (refused)
			refuse(w, fa, d, m->verdict.action, &m->verdict);
		else
			release(w, fa, d);
		return;
	}
	/* Judged at once while its final packet is being processed. */
	if (refused && m->complete && w->cur && m->final_packet == w->cur->index)
		cur_push(w, x, WTXN_CUR_REFUSED);
}

/* ---- around reassembly ---- */

bool sl_inline_before(struct sl_worker *w, struct sl_flow *f, struct sl_packet *p,
		      enum sl_dir dir, enum sl_pkt_action *a)
{
	struct sl_flow_app *fa = f->app;

	if (!fa)
		return false;
	struct sl_flow_inl *in = &fa->inl;
	if (in->killed) {
		w->istats.killed_dropped++;
		/* Tell a peer that still talks that the connection is gone. */
		if (!(p->tcp_flags & SL_TH_RST) && seg_len_of(p) &&
		    in->resets_sent < KILLED_RESETS) {
			in->resets_sent++;
			send_crafted(w, f, (enum sl_dir)!dir, true, p->ack, p->seq + seg_len_of(p),
				     SL_TH_RST | SL_TH_ACK, NULL, 0);
		}
		*a = SL_PKT_DROP;
		return true;
	}
	if (in->q[dir].head && sl_hold_covers(&in->q[dir], p->seq, seg_len_of(p))) {
		w->istats.retrans_dropped++;
		*a = SL_PKT_DROP;
		return true;
	}
	return false;
}

static void learn_link(struct sl_flow_inl *in, const struct sl_packet *p, enum sl_dir dir)
{
	const struct sl_pkt_link *l = p->src_ctx;

	if (!l)
		return;
	in->link[dir].physindev = l->physindev;
	if (l->has_hwsrc) {
		memcpy(in->link[dir].hwsrc, l->hwsrc, 6);
		in->link[dir].has_hwsrc = true;
	}
}

/* Holds p in direction dir's queue.  NULL when the cap refuses it. */
static struct sl_held *hold_packet(struct sl_worker *w, struct sl_flow_inl *in,
				   const struct sl_packet *p, enum sl_dir dir, uint8_t why)
{
	struct sl_held_info info = {
		.src_id = p->src_id,
		.seq = p->seq,
		.ack = p->ack,
		.seg_len = seg_len_of(p),
		.tcp_flags = p->tcp_flags,
		.why = why,
		.stream_end = in->slice_end[dir],
	};
	uint64_t now = mono_us();

	const struct sl_pkt_link *l = p->src_ctx;

	/* l4_off 0: this copy is not rewritten into the RST (see refuse()). */
	if (!(p->flags & SL_PKT_DEFRAGMENTED) && !(l && l->gso) && p->l4 >= p->frame &&
	    p->l4 < p->frame + p->cap_len && p->l4 - p->frame <= 0xffff)
		info.l4_off = (uint16_t)(p->l4 - p->frame);
	struct sl_held *h = sl_hold_push(&w->holds, &in->q[dir], p->frame, p->cap_len, &info,
					 now, now + (uint64_t)w->cfg.hold_timeout_ms * 1000);
	if (!h) {
		w->istats.hold_refused++;
		return NULL;
	}
	if (w->iops)
		w->iops->hold(w->iops_u, p->src_id);
	w->istats.held++;
	if (why & SL_HOLD_WAIT)
		w->istats.wait_holds++;
	return h;
}

enum sl_pkt_action sl_inline_after(struct sl_worker *w, struct sl_flow *f, struct sl_packet *p,
				   enum sl_dir dir, enum sl_tcp_verdict tv)
{
	struct sl_flow_app *fa = f->app;
	struct wtxn *list = w->cur_ended;
	uint8_t why = 0;
	bool refuse_here = false;

	w->cur_ended = NULL;
	if (!fa)
		return tv == SL_TCP_DROP ? SL_PKT_DROP : w->cur_action;
	struct sl_flow_inl *in = &fa->inl;
	learn_link(in, p, dir);

	if (in->q[dir].head)
		why |= SL_HOLD_BEHIND;
	for (struct wtxn *x = list; x; x = x->cnext) {
		enum sl_dir md = sl_txn_msg(x->t)->dir;
		if (x->cur == WTXN_CUR_PENDING && md == dir)
			why |= SL_HOLD_GATE;
		if (x->cur == WTXN_CUR_REFUSED && md == dir)
			refuse_here = true;
	}
	if (p->payload_len && in->slice_pkt[dir] == p->index &&
	    in->consumed[dir] < in->slice_end[dir])
		why |= SL_HOLD_WAIT;
	if (tv == SL_TCP_DROP && why) {
		/* Must not reach the receiver, yet what it completed must not
		 * pass ahead of its verdict either: hold it, drop it then. */
		why |= SL_HOLD_DISCARD;
	}

	struct sl_held *h = NULL;
	bool refused_hold = false;
	if (why || refuse_here) {
		h = hold_packet(w, in, p, dir, why);
		refused_hold = !h;
	}
	for (struct wtxn *x = list, *next; x; x = next) {
		next = x->cnext;
		enum sl_dir md = sl_txn_msg(x->t)->dir;
		if (x->cur == WTXN_CUR_PENDING && !in->killed) {
			struct sl_held *g = md == dir ? h : in->q[md].head;
			if (g)
				gate(fa, x, g);
			else if (md != dir)
				/* The bytes that completed it were already passed:
				 * the WAIT rule should make this impossible. */
				w->istats.unheld_completions++;
		}
		x->cnext = NULL;
		enum wtxn_cur c = (enum wtxn_cur)x->cur;
		x->cur = WTXN_CUR_NONE;
		if (c == WTXN_CUR_REFUSED) {
			struct sl_msg *m = sl_txn_msg(x->t);
			refuse(w, fa, md, m->verdict.action, &m->verdict);
		}
	}
	if (refused_hold)
		hold_policy(w, fa, dir, "hold-memcap", "too many packets held");
	if (!in->killed) {
		release(w, fa, SL_TO_SERVER);
		release(w, fa, SL_TO_CLIENT);
	}
	if (h)
		return SL_PKT_HOLD;	/* verdicted by now or later, by us */
	if (in->killed || tv == SL_TCP_DROP)
		return SL_PKT_DROP;
	if ((f->flags & SL_FLOWF_BYPASS) && w->cur_action == SL_PKT_ACCEPT && !in->q[0].head &&
	    !in->q[1].head)
		return SL_PKT_BYPASS;
	return w->cur_action;
}
