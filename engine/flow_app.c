/* Per-flow application state: the protocol parser, the mail transactions
 * it opened, and the optional stream files.  Implements the sl_mail_ops
 * hooks the parsers call (engine/core/mail.h). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "worker_priv.h"

struct sl_flow_app *sl_flow_app_get(struct sl_worker *w, struct sl_flow *f)
{
	struct sl_flow_app *fa = f->app;

	if (fa)
		return fa;
	fa = calloc(1, sizeof(*fa));
	if (!fa)
		return NULL;
	fa->w = w;
	fa->f = f;
	fa->stream_fd[0] = fa->stream_fd[1] = -1;
	sl_hold_q_init(&fa->inl.q[SL_TO_SERVER], fa, SL_TO_SERVER);
	sl_hold_q_init(&fa->inl.q[SL_TO_CLIENT], fa, SL_TO_CLIENT);
	f->app = fa;
	return fa;
}

/* ---- stream files (--write-streams) ---- */

static int stream_open(struct sl_flow_app *fa, enum sl_dir d)
{
	const struct sl_addr *src, *dst;
	uint16_t sp, dp;
	char a[64], b[64], path[PATH_MAX];

	sl_flow_endpoint(fa->f, d, &src, &sp, &dst, &dp);
	snprintf(path, sizeof(path), "%s/%06llu-%s.%u-%s.%u", fa->w->cfg.write_streams_dir,
		 (unsigned long long)fa->f->id, sl_addr_str(src, a, sizeof(a)), sp,
		 sl_addr_str(dst, b, sizeof(b)), dp);
	fa->stream_fd[d] = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fa->stream_fd[d] < 0)
		sl_log(SL_LOG_WARN, "cannot write stream %s: %s", path, strerror(errno));
	return fa->stream_fd[d];
}

/* Writes the bytes of s not written before.  A slice may repeat bytes the
 * parser left unconsumed; a gap leaves a hole (zeros), as tcpflow does. */
static void stream_write(struct sl_flow_app *fa, const struct sl_slice *s)
{
	enum sl_dir d = s->dir;
	uint64_t end = s->offset + s->len;

	if (s->len == 0 || end <= fa->stream_written[d])
		return;
	if (fa->stream_fd[d] < 0 && stream_open(fa, d) < 0)
		return;
	uint64_t from = s->offset > fa->stream_written[d] ? s->offset : fa->stream_written[d];
	const uint8_t *p = s->data + (from - s->offset);
	size_t n = (size_t)(end - from);
	while (n) {
		ssize_t r = pwrite(fa->stream_fd[d], p, n, (off_t)from);
		if (r <= 0) {
			sl_log(SL_LOG_WARN, "stream write failed (flow %llu): %s",
			       (unsigned long long)fa->f->id, strerror(errno));
			break;
		}
		p += r;
		from += (uint64_t)r;
		n -= (size_t)r;
	}
	fa->stream_written[d] = end;
}

/* ---- the application memcap ----
 *
 * A flow's parser and each open message are charged to the worker's
 * limits.app_memcap before they exist, with what they allocate when they
 * start (sl_app_state_size, sl_txn_state_size: real sizes).  A refusal
 * never lets the flow pass uninspected by accident: policy block (or
 * tempfail) drops the flow's packets from then on (worker.c,
 * SL_FLOWF_APP_REFUSED), policy pass (or alert) bypasses it, counted.
 * Either way the parser stops.
 *
 * What a message's MIME decoder allocates later (the buffers of a long
 * header field, a decoder per level of encoded message/rfc822) is charged
 * as it comes (sl_worker_mime_take, through sl_txn_env.mem_take) and given
 * back when the decoder is freed.  A refusal there stops nothing: the
 * decoder degrades to reading raw what it cannot decode (anomaly
 * mime.memcap on the message, its policy in policy.anomalies), counted
 * flow.app_memcap and logged like the others.  Buffers with their own
 * per-message bounds and no hook (the message's string arena, the IMAP
 * section decoder, zlib state) are not charged. */

static bool app_charge(struct sl_worker *w, struct sl_flow_app *fa, size_t n, size_t *charged,
		       const char *what)
{
	if (sl_memcap_take(&w->app_mc, n)) {
		*charged = n;
		return true;
	}
	struct sl_flow *f = fa->f;
	bool block = w->cfg.on_app_memcap >= SL_ACTION_TEMPFAIL;
	sl_ctr_inc(&w->ctr, SL_CTR_APP_MEMCAP);
	sl_flow_anomaly(w, f, SL_ANOM_FLOW_APP_MEMCAP, w->cur, what);
	sl_log_rl(&w->rl_app_memcap, w->now_us, SL_LOG_WARN,
		  "limits.app_memcap (%zu bytes, %zu in use) refused %s for flow %llu: %s",
		  w->app_mc.cap, sl_memcap_used(&w->app_mc), what, (unsigned long long)f->id,
		  block ? "its packets are dropped" : "passed uninspected");
	fa->stop[SL_TO_SERVER] = fa->stop[SL_TO_CLIENT] = true;
	if (block) {
		f->flags |= SL_FLOWF_APP_REFUSED;
	} else if (!(f->flags & SL_FLOWF_BYPASS)) {
		f->flags |= SL_FLOWF_BYPASS;
		sl_ctr_inc(&w->ctr, SL_CTR_APP_MEMCAP_BYPASS);
	}
	return false;
}

bool sl_worker_mime_take(void *u, struct sl_mail_txn *t, size_t n)
{
	struct sl_worker *w = u;

	if (sl_memcap_take(&w->app_mc, n))
		return true;
	sl_ctr_inc(&w->ctr, SL_CTR_APP_MEMCAP);
	sl_log_rl(&w->rl_app_memcap, w->now_us, SL_LOG_WARN,
		  "limits.app_memcap (%zu bytes, %zu in use) refused %zu bytes of MIME decoder "
		  "memory for message %llu: read raw instead (mime.memcap)",
		  w->app_mc.cap, sl_memcap_used(&w->app_mc), n,
		  (unsigned long long)sl_txn_msg(t)->id);
	return false;
}

void sl_worker_mime_give(void *u, size_t n)
{
	struct sl_worker *w = u;

	sl_memcap_give(&w->app_mc, n);
}

/* ---- transactions ---- */

static void wtxn_emit_if_ready(struct wtxn *x)
{
	if (!x->done || !x->settled || x->emitted)
		return;
	x->emitted = true;
	struct sl_msg *m = sl_txn_msg(x->t);
	sl_event_message(x->w, &x->origin, m);
	if (x->w->cfg.extract_dir)
		sl_extract_index(x->w, &x->origin, m);
	if (x->w->cfg.quarantine_dir && m->verdict.action == SL_ACTION_BLOCK)
		sl_quarantine(x->w, &x->origin, m, sl_txn_spool_path(x->t));
	sl_txn_put(x->t);		/* the worker's reference */
}

static void on_settled(struct sl_msg *m, void *arg)
{
	struct sl_worker *w = arg;
	struct wtxn *x = sl_txn_owner(sl_txn_of(m));

	x->settled = true;
	w->totals.messages++;
	w->totals.by_action[m->verdict.action]++;
	if (!m->complete)
		w->totals.incomplete++;
	sl_event_alerts(w, &x->origin, m);

	if (w->cfg.inline_mode) {
		sl_inline_msg_settled(w, x);
	} else if (m->complete && w->cur && m->final_packet == w->cur->index) {
		/* The packet that completed the message is the one under
		 * judgement: what replay records it would have done. */
		enum sl_pkt_action a = m->verdict.action >= SL_ACTION_TEMPFAIL ? SL_PKT_DROP :
			SL_PKT_ACCEPT;
		if (a > w->cur_action)
			w->cur_action = a;
	}
	wtxn_emit_if_ready(x);
}

static void on_destroy(struct sl_msg *m, void *arg)
{
	struct sl_worker *w = arg;
	struct sl_mail_txn *t = sl_txn_of(m);
	struct wtxn *x = sl_txn_owner(t);

	sl_memcap_give(&w->app_mc, x->charged);
	sl_txn_free(t);
	free(x);
}

const struct sl_msg_hooks sl_worker_msg_hooks = {
	.settled = on_settled,
	.destroy = on_destroy,
};

static void unlink_txn(struct sl_flow_app *fa, struct wtxn *x)
{
	for (struct wtxn **pp = &fa->txns; *pp; pp = &(*pp)->next) {
		if (*pp == x) {
			*pp = x->next;
			break;
		}
	}
	x->next = NULL;
	x->fa = NULL;
}

/* Replay wants each verdict decided before the next packet: wait for the
 * asynchronous sinks (ClamAV on the scan pool) to answer. */
static void settle_now(struct sl_worker *w, struct sl_msg *m)
{
	while (!sl_msg_settled(m)) {
		bool waited = false;
		for (unsigned i = 0; i < w->n_sinks; i++) {
			if (w->sinks[i].ops->wait) {
				w->sinks[i].ops->wait(w->sinks[i].self);
				waited = true;
			}
		}
		if (!waited) {
			sl_log(SL_LOG_ERR, "message %llu pending with no asynchronous sink",
			       (unsigned long long)m->id);
			break;
		}
	}
}

static struct sl_mail_txn *op_begin(void *flow, enum sl_proto proto, enum sl_dir dir,
				    const struct sl_packet *pkt)
{
	struct sl_flow_app *fa = flow;
	struct sl_worker *w = fa->w;
	size_t charged;

	if (!app_charge(w, fa, sizeof(struct wtxn) + sl_txn_state_size(&w->txn_env), &charged,
			"a message"))
		return NULL;
	struct wtxn *x = calloc(1, sizeof(*x));
	if (!x) {
		sl_memcap_give(&w->app_mc, charged);
		return NULL;
	}
	x->t = sl_txn_new(&w->txn_env, proto, dir, pkt);
	if (!x->t) {
		sl_memcap_give(&w->app_mc, charged);
		free(x);
		return NULL;
	}
	x->charged = charged;
	x->w = w;
	x->fa = fa;
	x->origin.flow.key = fa->f->key;
	x->origin.flow.client = fa->f->client;
	x->origin.flow.id = fa->f->id;
	x->origin.ts_us = w->now_us;
	sl_txn_set_owner(x->t, x);
	x->next = fa->txns;
	fa->txns = x;
	return x->t;
}

static void op_field(void *flow, struct sl_mail_txn *t, enum sl_mail_field f, const char *v,
		     size_t n)
{
	if (t)
		sl_txn_field(t, f, v, n);
}

static void op_data(void *flow, struct sl_mail_txn *t, const uint8_t *p, size_t n)
{
	if (t)
		sl_txn_data(t, p, n);
}

static void op_end(void *flow, struct sl_mail_txn *t, const struct sl_packet *pkt)
{
	struct sl_flow_app *fa = flow;

	if (!t)
		return;
	struct wtxn *x = sl_txn_owner(t);
	x->origin.ts_us = pkt ? pkt->ts_us : fa->w->now_us;
	sl_txn_end(t, pkt, &fa->f->anomalies);
	if (fa->w->cfg.settle_sync)
		settle_now(fa->w, sl_txn_msg(t));
	/* Inline: the packet that completed it waits for the verdict. */
	else if (fa->w->cfg.inline_mode && pkt && pkt == fa->w->cur &&
		 !sl_msg_settled(sl_txn_msg(t)))
		sl_inline_msg_ended(fa->w, x);
}

static void op_reply(void *flow, struct sl_mail_txn *t, const char *cmd, unsigned code,
		     const char *text, size_t n)
{
	if (t)
		sl_txn_reply(t, cmd, code);
}

static void txn_done(struct sl_flow_app *fa, struct sl_mail_txn *t)
{
	struct wtxn *x = sl_txn_owner(t);

	if (x->done)
		return;
	x->done = true;
	unlink_txn(fa, x);
	wtxn_emit_if_ready(x);
}

static void op_done(void *flow, struct sl_mail_txn *t)
{
	if (t)
		txn_done(flow, t);
}

static void op_abort(void *flow, struct sl_mail_txn *t, const char *why)
{
	struct sl_flow_app *fa = flow;

	if (!t)
		return;
	sl_txn_abort(t, why, &fa->f->anomalies);
	if (fa->w->cfg.settle_sync)
		settle_now(fa->w, sl_txn_msg(t));
	txn_done(fa, t);
}

static void op_note(void *flow, enum sl_flow_note n, enum sl_proto proto,
		    const struct sl_packet *pkt)
{
	struct sl_flow_app *fa = flow;

	switch (n) {
	case SL_NOTE_DETECTED:
		fa->proto = proto;
		break;
	case SL_NOTE_TLS:
		fa->tls = true;
		fa->f->flags |= SL_FLOWF_BYPASS;
		break;
	case SL_NOTE_NOT_MAIL:
		fa->not_mail = true;
		fa->f->flags |= SL_FLOWF_BYPASS;
		break;
	case SL_NOTE_COMPRESS:
		fa->compress = true;
		break;
	}
	if (proto != SL_PROTO_UNKNOWN)
		fa->proto = proto;
}

static void op_anomaly(void *flow, struct sl_mail_txn *t, enum sl_anomaly a,
		       const struct sl_packet *pkt, const char *detail)
{
	struct sl_flow_app *fa = flow;

	if (t)
		sl_txn_anomaly(t, a, detail);
	else
		sl_flow_anomaly(fa->w, fa->f, a, pkt, detail);
}

static const struct sl_mail_ops mail_ops = {
	.begin = op_begin,
	.field = op_field,
	.data = op_data,
	.end = op_end,
	.reply = op_reply,
	.done = op_done,
	.abort = op_abort,
	.note = op_note,
	.anomaly = op_anomaly,
};

/* ---- the stream consumer ---- */

static struct sl_consume consume(struct sl_worker *w, struct sl_flow *f, struct sl_flow_app *fa,
				 const struct sl_slice *s);

struct sl_consume sl_flow_app_consume(struct sl_worker *w, struct sl_flow *f,
				      const struct sl_slice *s)
{
	struct sl_flow_app *fa = sl_flow_app_get(w, f);

	if (!fa)
		return (struct sl_consume){ SL_CONSUME_STOP, 0 };
	struct sl_consume r = consume(w, f, fa, s);
	if (w->cfg.inline_mode)
		sl_inline_consumed(fa, s, &r);
	return r;
}

static struct sl_consume consume(struct sl_worker *w, struct sl_flow *f, struct sl_flow_app *fa,
				 const struct sl_slice *s)
{
	struct sl_consume all = { SL_CONSUME_OK, s->len };

	if (w->cfg.write_streams_dir)
		stream_write(fa, s);
	if (fa->stop[s->dir] || (f->flags & SL_FLOWF_BYPASS)) {
		fa->stop[s->dir] = true;
		/* Still writing streams: keep the bytes coming. */
		return w->cfg.write_streams_dir ? all : (struct sl_consume){ SL_CONSUME_STOP, 0 };
	}
	if (!fa->app) {
		const struct sl_addr *src, *dst;
		uint16_t sp, dp;
		if (!app_charge(w, fa, sizeof(*fa) + sl_app_state_size(), &fa->charged,
				"the parser"))
			return (struct sl_consume){ SL_CONSUME_STOP, 0 };
		sl_flow_endpoint(f, SL_TO_SERVER, &src, &sp, &dst, &dp);
		fa->app = sl_app_new(&w->cfg.app, &mail_ops, fa, &w->ctr, dp);
		if (!fa->app) {
			fa->stop[0] = fa->stop[1] = true;
			return all;
		}
	}
	struct sl_consume r = sl_app_consume(fa->app, s);
	if (r.status == SL_CONSUME_STOP) {
		fa->stop[s->dir] = true;
		if (w->cfg.write_streams_dir)
			return all;
	}
	return r;
}

bool sl_flow_app_wants_stop(const struct sl_flow *f, enum sl_dir d)
{
	return f->app && f->app->stop[d];
}

void sl_flow_app_info(const struct sl_flow *f, struct sl_flow_app_info *i)
{
	memset(i, 0, sizeof(*i));
	if (!f->app)
		return;
	i->proto = f->app->proto;
	i->tls = f->app->tls;
	i->compress = f->app->compress;
	i->not_mail = f->app->not_mail;
}

void sl_flow_app_release(struct sl_worker *w, struct sl_flow *f)
{
	struct sl_flow_app *fa = f->app;

	if (!fa)
		return;
	if (w->cfg.inline_mode)
		sl_inline_flow_release(w, fa);
	/* The parser aborts what it still has open through op_abort. */
	if (fa->app)
		sl_app_free(fa->app);
	fa->app = NULL;
	while (fa->txns) {
		struct wtxn *x = fa->txns;
		op_abort(fa, x->t, "flow ended");
	}
	sl_memcap_give(&w->app_mc, fa->charged);
	fa->charged = 0;
	for (int d = 0; d < 2; d++)
		if (fa->stream_fd[d] >= 0)
			close(fa->stream_fd[d]);
}

void sl_flow_app_free(struct sl_flow *f)
{
	free(f->app);
	f->app = NULL;
}
