#include "mailctx.h"

void sl_mctx_anomaly(const struct sl_mail_ctx *c, const struct sl_mtxn *m,
		     enum sl_anomaly a, const struct sl_packet *pkt, const char *detail)
{
	c->ops->anomaly(c->flow, m ? m->t : NULL, a, pkt, detail);
}

void sl_mctx_note(const struct sl_mail_ctx *c, enum sl_flow_note n, const struct sl_packet *pkt)
{
	c->ops->note(c->flow, n, c->proto, pkt);
}

bool sl_mctx_must_decide(const struct sl_mail_ctx *c, const struct sl_slice *s, size_t pending)
{
	bool bound = pending >= SL_MAIL_WAIT_BOUND || (s->flags & SL_SLICE_HELD);

	if (!bound && !(s->flags & SL_SLICE_EOF))
		return false;
	sl_ctr_inc(c->ctr, SL_CTR_MAIL_WAIT_FORCED);
	/* EOF is final (no call follows): deciding then is normal. */
	if (bound)
		sl_mctx_anomaly(c, NULL, SL_ANOM_MAIL_WAIT_BOUND, s->pkt, sl_dir_name(s->dir));
	return true;
}

enum sl_line_res sl_mctx_line(const struct sl_mail_ctx *c, struct sl_liner *l,
			      const struct sl_slice *s, size_t *pos, struct sl_line *ln)
{
	enum sl_line_res r = sl_line_next(l, s->data + *pos, s->len - *pos, c->max_line, ln);

	*pos += ln->used;
	if (r == SL_LINE_LONG) {
		sl_ctr_inc(c->ctr, SL_CTR_MAIL_LONG_LINES);
		sl_mctx_anomaly(c, NULL, SL_ANOM_MAIL_LINE_TOO_LONG, s->pkt, sl_dir_name(s->dir));
	} else if (r == SL_LINE_OK && ln->bare_lf) {
		sl_mctx_anomaly(c, NULL, SL_ANOM_MAIL_BARE_LF, s->pkt, sl_dir_name(s->dir));
	}
	return r;
}

enum sl_answer sl_mctx_answer(const struct sl_mail_ctx *c, const struct sl_slice *s, bool *greeted,
			      unsigned queued, bool may_wait, size_t pending,
			      enum sl_anomaly unexpected)
{
	if (!*greeted) {
		*greeted = true;
		return SL_ANSWER_SKIP;
	}
	if (queued)
		return SL_ANSWER_COMMAND;
	if (may_wait && !sl_mctx_must_decide(c, s, pending))
		return SL_ANSWER_WAIT;
	sl_mctx_anomaly(c, NULL, unexpected, s->pkt, NULL);
	return SL_ANSWER_SKIP;
}

void sl_mtxn_begin(const struct sl_mail_ctx *c, struct sl_mtxn *m, enum sl_dir dir,
		   const struct sl_packet *pkt)
{
	m->t = c->ops->begin(c->flow, c->proto, dir, pkt);
	m->bytes = 0;
	m->big = false;
	m->state = SL_MTXN_OPEN;
	sl_ctr_inc(c->ctr, SL_CTR_MAIL_MESSAGES);
	if (!m->t)
		sl_ctr_inc(c->ctr, SL_CTR_MAIL_REFUSED);
}

void sl_mtxn_field(const struct sl_mail_ctx *c, const struct sl_mtxn *m, enum sl_mail_field f,
		   const void *v, size_t n)
{
	if (m->t)
		c->ops->field(c->flow, m->t, f, v, n);
}

void sl_mtxn_data(const struct sl_mail_ctx *c, struct sl_mtxn *m, const uint8_t *p, size_t n,
		  const struct sl_packet *pkt)
{
	if (m->state != SL_MTXN_OPEN || n == 0)
		return;
	uint64_t room = m->bytes < c->max_message ? c->max_message - m->bytes : 0;
	size_t give = n < room ? n : (size_t)room;

	m->bytes += n;
	if (give && m->t)
		c->ops->data(c->flow, m->t, p, give);
	if (give < n) {
		if (!m->big) {
			m->big = true;
			sl_ctr_inc(c->ctr, SL_CTR_MAIL_TOO_BIG);
			sl_mctx_anomaly(c, m, SL_ANOM_MAIL_MESSAGE_TOO_BIG, pkt, NULL);
		}
		sl_ctr_add(c->ctr, SL_CTR_MAIL_SKIPPED, n - give);
	}
}

void sl_mtxn_end(const struct sl_mail_ctx *c, struct sl_mtxn *m, const struct sl_packet *pkt)
{
	if (m->state != SL_MTXN_OPEN)
		return;
	m->state = SL_MTXN_ENDED;
	if (m->t)
		c->ops->end(c->flow, m->t, pkt);
}

void sl_mtxn_reply(const struct sl_mail_ctx *c, const struct sl_mtxn *m, const char *cmd,
		   unsigned code, const void *text, size_t n)
{
	if (m->state != SL_MTXN_IDLE && m->t)
		c->ops->reply(c->flow, m->t, cmd, code, text, n);
}

void sl_mtxn_done(const struct sl_mail_ctx *c, struct sl_mtxn *m)
{
	if (m->state == SL_MTXN_IDLE)
		return;
	if (m->state == SL_MTXN_OPEN) {
		sl_mtxn_abort(c, m, "incomplete");
		return;
	}
	if (m->t)
		c->ops->done(c->flow, m->t);
	*m = (struct sl_mtxn){ 0 };
}

void sl_mtxn_abort(const struct sl_mail_ctx *c, struct sl_mtxn *m, const char *why)
{
	if (m->state == SL_MTXN_IDLE)
		return;
	sl_ctr_inc(c->ctr, SL_CTR_MAIL_ABORTED);
	if (m->t)
		c->ops->abort(c->flow, m->t, why);
	*m = (struct sl_mtxn){ 0 };
}

void sl_mtxn_finish(const struct sl_mail_ctx *c, struct sl_mtxn *m, const char *why)
{
	if (m->state == SL_MTXN_ENDED)
		sl_mtxn_done(c, m);
	else
		sl_mtxn_abort(c, m, why);
}

bool sl_word_eq(const uint8_t *p, size_t n, const char *w)
{
	size_t i = 0;

	for (; i < n && w[i]; i++)
		if (sl_ascii_upper(p[i]) != (uint8_t)w[i])
			return false;
	return i == n && !w[i];
}

bool sl_word_prefix(const uint8_t *p, size_t n, const char *w)
{
	size_t i = 0;

	for (; w[i]; i++)
		if (i >= n || sl_ascii_upper(p[i]) != (uint8_t)w[i])
			return false;
	return true;
}

int sl_parse_u64(const uint8_t *p, size_t n, uint64_t *out)
{
	uint64_t v = 0;

	if (n == 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		unsigned d = p[i] - '0';
		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}
