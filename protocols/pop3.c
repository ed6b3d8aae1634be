#include "pop3.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "detect.h"
#include "dotstuff.h"
#include "line.h"

/* Commands awaiting a response (RFC 2449 PIPELINING); past it the client
 * side waits, and past the wait bound the oldest is dropped. */
#define POP3_QUEUE 64
/* "RETR 12345" as reported in SL_MF_POP3_COMMAND. */
#define POP3_CMD_MAX 48

enum pop3_kind {
	K_SINGLE,			/* one-line response */
	K_MULTI,			/* +OK starts a multi-line response to skip */
	K_MSG,				/* +OK starts a message (RETR, TOP) */
	K_STLS,
	K_AUTH,				/* SASL exchange: "+ " continuations */
};

struct pop3_pend {
	uint8_t kind;
	uint8_t len;
	char text[POP3_CMD_MAX];
};

enum pop3_cstate {
	C_CMD,
	C_AUTH,
	C_WAIT_TLS,			/* STLS sent: TLS if the server says +OK */
	C_TLS_CHECK,			/* +OK to STLS: TLS if the next byte starts a record */
};

struct pop3 {
	const struct sl_mail_ctx *c;
	struct sl_liner ln[2];
	uint8_t cst;			/* enum pop3_cstate */
	uint8_t grants;			/* "+ " continuations not answered yet */
	bool greeted, stopped;
	bool multi;			/* server is inside a multi-line response */
	struct sl_dot dot;
	struct sl_mtxn msg;		/* the RETR/TOP response being read */
	struct pop3_pend q[POP3_QUEUE];
	unsigned qh, qn;
};

static struct pop3_pend *q_at(struct pop3 *s, unsigned i)
{
	return &s->q[(s->qh + i) % POP3_QUEUE];
}

static void q_pop(struct pop3 *s)
{
	s->qh = (s->qh + 1) % POP3_QUEUE;
	s->qn--;
}

static void q_push(struct pop3 *s, uint8_t kind, const uint8_t *verb, size_t vn,
		   const uint8_t *arg, size_t an, const struct sl_packet *pkt)
{
	if (s->qn == POP3_QUEUE) {
		sl_mctx_anomaly(s->c, NULL, SL_ANOM_POP3_PIPELINE_OVERFLOW, pkt, NULL);
		q_pop(s);
	}
	struct pop3_pend *e = q_at(s, s->qn++);
	size_t k = 0;

	e->kind = kind;
	for (size_t i = 0; i < vn && k < POP3_CMD_MAX; i++)
		e->text[k++] = (char)sl_ascii_upper(verb[i]);
	if (an && k < POP3_CMD_MAX)
		e->text[k++] = ' ';
	for (size_t i = 0; i < an && k < POP3_CMD_MAX; i++)
		e->text[k++] = (char)arg[i];
	e->len = (uint8_t)k;
	sl_ctr_inc(s->c->ctr, SL_CTR_MAIL_POP3_CMDS);
}

static void command(struct pop3 *s, const uint8_t *p, size_t n, const struct sl_packet *pkt)
{
	static const char *const single[] = {
		"USER", "PASS", "APOP", "STAT", "DELE", "NOOP", "RSET", "QUIT", "UTF8", "LANG",
		"XTND", NULL,
	};
	const uint8_t *e = p + n, *sp = memchr(p, ' ', n);
	size_t vn = sp ? (size_t)(sp - p) : n;
	const uint8_t *a = sp ? sp + 1 : e;
	size_t an;
	uint8_t kind = K_SINGLE;

	while (a < e && *a == ' ')
		a++;
	an = (size_t)(e - a);
	while (an && a[an - 1] == ' ')
		an--;
	if (sl_word_eq(p, vn, "RETR") || sl_word_eq(p, vn, "TOP")) {
		kind = K_MSG;
	} else if (sl_word_eq(p, vn, "LIST") || sl_word_eq(p, vn, "UIDL")) {
		kind = an ? K_SINGLE : K_MULTI;
	} else if (sl_word_eq(p, vn, "CAPA")) {
		kind = K_MULTI;
	} else if (sl_word_eq(p, vn, "AUTH")) {
		/* Without a mechanism, servers list theirs (multi-line). */
		kind = an ? K_AUTH : K_MULTI;
	} else if (sl_word_eq(p, vn, "STLS")) {
		kind = K_STLS;
	} else {
		bool ok = false;
		for (unsigned i = 0; single[i] && !ok; i++)
			ok = sl_word_eq(p, vn, single[i]);
		if (!ok)
			sl_mctx_anomaly(s->c, NULL, SL_ANOM_POP3_UNKNOWN_COMMAND, pkt, NULL);
	}
	/* The PASS argument is a password: never kept. */
	if (sl_word_eq(p, vn, "PASS") || kind == K_AUTH)
		an = 0;
	q_push(s, kind, p, vn, a, an, pkt);
	if (kind == K_AUTH) {
		s->cst = C_AUTH;
		s->grants = 0;
	} else if (kind == K_STLS) {
		s->cst = C_WAIT_TLS;
	}
}

static bool stls_decide(struct pop3 *s, uint8_t first, const struct sl_packet *pkt);

static void client_eof(struct pop3 *s, const struct sl_slice *sl, size_t *pos)
{
	if (sl_slice_is_last(sl) && *pos < sl->len) {
		sl_mctx_anomaly(s->c, NULL, SL_ANOM_MAIL_TRUNCATED, NULL, "to_server");
		*pos = sl->len;
	}
}

static size_t client(struct pop3 *s, const struct sl_slice *sl)
{
	const struct sl_mail_ctx *c = s->c;
	size_t n = sl->len, pos = 0;

	while (pos < n && !s->stopped) {
		if (s->cst == C_TLS_CHECK) {
			if (stls_decide(s, sl->data[pos], sl->pkt))
				break;
			continue;
		}
		bool waiting = (s->cst == C_WAIT_TLS) || (s->cst == C_AUTH && !s->grants) ||
			       (s->cst == C_CMD && s->qn == POP3_QUEUE);
		if (waiting) {
			if (!sl_mctx_must_decide(c, sl, n - pos))
				break;
			s->cst = C_CMD;
			if (s->qn == POP3_QUEUE) {
				sl_mctx_anomaly(c, NULL, SL_ANOM_POP3_PIPELINE_OVERFLOW, sl->pkt, NULL);
				q_pop(s);
			}
		}
		struct sl_line ln;
		enum sl_line_res r = sl_mctx_line(c, &s->ln[0], sl, &pos, &ln);
		if (r == SL_LINE_MORE)
			break;
		if (r == SL_LINE_SKIPPED)
			continue;
		if (s->cst == C_AUTH)
			s->grants--;		/* a SASL response: not a command */
		else if (r == SL_LINE_LONG)
			q_push(s, K_SINGLE, NULL, 0, NULL, 0, sl->pkt);
		else
			command(s, ln.p, ln.len, sl->pkt);
	}
	if (sl->flags & SL_SLICE_EOF)
		client_eof(s, sl, &pos);
	return pos;
}

/* ---- server ---- */

struct emit_ctx {
	struct pop3 *s;
	const struct sl_packet *pkt;
};

static void msg_emit(void *u, const uint8_t *p, size_t n)
{
	struct emit_ctx *x = u;

	sl_mtxn_data(x->s->c, &x->s->msg, p, n, x->pkt);
}

enum status { ST_BAD, ST_OK, ST_ERR, ST_CONT };

static enum status status_of(const uint8_t *p, size_t n)
{
	if (sl_word_prefix(p, n, "+OK") && (n == 3 || p[3] == ' '))
		return ST_OK;
	if (sl_word_prefix(p, n, "-ERR") && (n == 4 || p[4] == ' '))
		return ST_ERR;
	if (n >= 1 && p[0] == '+' && (n == 1 || p[1] == ' '))
		return ST_CONT;
	return ST_BAD;
}

static void go_tls(struct pop3 *s, const struct sl_packet *pkt)
{
	s->stopped = true;
	sl_ctr_inc(s->c->ctr, SL_CTR_MAIL_TLS);
	sl_mctx_note(s->c, SL_NOTE_TLS, pkt);
	sl_mtxn_finish(s->c, &s->msg, "tls");
}

/* RFC 2595 section 4: after +OK to STLS the client starts the TLS
 * negotiation.  A session that goes on in cleartext instead (a server that
 * ignores its own +OK, decrypted TLS written back) is still POP3: parsed,
 * not skipped, so announcing STLS cannot blind the inspection.  Returns
 * true when the flow went TLS. */
static bool stls_decide(struct pop3 *s, uint8_t first, const struct sl_packet *pkt)
{
	if (first == 0x16) {		/* TLS record type handshake */
		go_tls(s, pkt);
		return true;
	}
	sl_mctx_anomaly(s->c, NULL, SL_ANOM_POP3_STLS_CLEARTEXT, pkt, NULL);
	s->cst = C_CMD;
	return false;
}

/* A status line answering the queue head. */
static void on_status(struct pop3 *s, enum status st, const struct sl_packet *pkt)
{
	const struct sl_mail_ctx *c = s->c;
	struct pop3_pend e = *q_at(s, 0);

	if (e.kind == K_AUTH && st == ST_CONT) {
		if (s->grants < 255)
			s->grants++;
		return;
	}
	q_pop(s);
	switch (e.kind) {
	case K_MSG:
		if (st != ST_OK)
			break;
		sl_mtxn_begin(c, &s->msg, SL_TO_CLIENT, pkt);
		sl_mtxn_field(c, &s->msg, SL_MF_POP3_COMMAND, e.text, e.len);
		/* fall through */
	case K_MULTI:
		if (st == ST_OK) {
			s->multi = true;
			sl_dot_init(&s->dot);
		}
		break;
	case K_STLS:
		if (st == ST_OK && s->cst == C_WAIT_TLS)
			s->cst = C_TLS_CHECK;	/* the client's next byte tells */
		else if (st == ST_OK)
			go_tls(s, pkt);
		else if (s->cst == C_WAIT_TLS)
			s->cst = C_CMD;
		break;
	case K_AUTH:
		if (s->cst == C_AUTH)
			s->cst = C_CMD;
		break;
	default:
		break;
	}
}

static size_t server(struct pop3 *s, const struct sl_slice *sl)
{
	const struct sl_mail_ctx *c = s->c;
	const uint8_t *p = sl->data;
	size_t n = sl->len, pos = 0;

	while (pos < n && !s->stopped) {
		/* The client speaks first after STLS: its byte decides,
		 * unless the server's bytes cannot wait for it. */
		if (s->cst == C_TLS_CHECK) {
			if (!sl_mctx_must_decide(c, sl, n - pos))
				break;
			if (stls_decide(s, p[pos], sl->pkt))
				break;
		}
		if (s->multi) {
			struct emit_ctx x = { s, sl->pkt };
			uint32_t amb = s->dot.ambiguous;
			bool end;
			pos += sl_dot_feed(&s->dot, p + pos, n - pos,
					   sl_mtxn_active(&s->msg) ? msg_emit : NULL, &x, &end);
			if (!amb && s->dot.ambiguous)
				sl_mctx_anomaly(c, &s->msg, SL_ANOM_POP3_BARE_LF_DOT, sl->pkt, NULL);
			if (!end)
				break;
			s->multi = false;
			sl_mtxn_end(c, &s->msg, sl->pkt);
			sl_mtxn_done(c, &s->msg);
			continue;
		}
		size_t at = pos;
		struct sl_line ln;
		enum sl_line_res r = sl_mctx_line(c, &s->ln[1], sl, &pos, &ln);
		if (r == SL_LINE_MORE)
			break;
		if (r == SL_LINE_SKIPPED)
			continue;
		enum status st = status_of(ln.p, ln.len);
		if (!s->greeted && st != ST_OK && st != ST_ERR) {
			sl_mctx_anomaly(c, NULL, SL_ANOM_POP3_BAD_RESPONSE, sl->pkt, NULL);
			continue;
		}
		enum sl_answer a = sl_mctx_answer(c, sl, &s->greeted, s->qn, r == SL_LINE_OK,
						  n - at, SL_ANOM_POP3_UNEXPECTED_RESPONSE);
		if (a == SL_ANSWER_WAIT) {
			pos = at;
			break;
		}
		if (st == ST_BAD)
			sl_mctx_anomaly(c, NULL, SL_ANOM_POP3_BAD_RESPONSE, sl->pkt, NULL);
		if (a == SL_ANSWER_SKIP)
			continue;
		/* Clients read one status line per command, and only "+OK"
		 * opens a multi-line body: a line that is neither status is
		 * the oldest command's answer, a failure.  Skipping it instead
		 * would let the next status (say RETR's "+OK") answer that
		 * command, and the message would pass as a listing, unseen
		 * (Zeek's pop3/bad-list-retr-crafted.pcap). */
		on_status(s, st == ST_BAD ? ST_ERR : st, sl->pkt);
	}
	if (s->stopped)
		return n;
	if (sl_slice_is_last(sl) && pos < n) {
		sl_mctx_anomaly(c, &s->msg, SL_ANOM_MAIL_TRUNCATED, NULL, "to_client");
		pos = n;
	}
	if ((sl->flags & SL_SLICE_EOF) && pos == n && sl_mtxn_active(&s->msg)) {
		sl_mctx_anomaly(c, &s->msg, SL_ANOM_MAIL_TRUNCATED, sl->pkt, "message");
		sl_mtxn_abort(c, &s->msg, "eof");
	}
	return pos;
}

static void on_gap(struct pop3 *s, const struct sl_slice *sl)
{
	if (sl->dir == SL_TO_SERVER) {
		if (s->cst == C_TLS_CHECK) {
			go_tls(s, sl->pkt);	/* the deciding byte is lost: assume TLS */
			return;
		}
		s->ln[0].skipping = true;
		return;
	}
	if (s->multi) {
		/* Keep looking for the terminator, with nothing to inspect. */
		sl_mtxn_abort(s->c, &s->msg, "gap");
		s->dot.bol = 0;
		return;
	}
	s->qn = 0;			/* lost responses: nothing matches any more */
	if (s->cst != C_TLS_CHECK)	/* that one waits for the client's byte */
		s->cst = C_CMD;
	s->ln[1].skipping = true;
	s->greeted = true;
}

static struct sl_consume pop3_parse(void *st, const struct sl_slice *sl)
{
	struct pop3 *s = st;
	size_t used;

	if (s->stopped)
		return (struct sl_consume){ SL_CONSUME_STOP, sl->len };
	if (sl->flags & SL_SLICE_GAP)
		on_gap(s, sl);
	used = s->stopped ? sl->len : sl->dir == SL_TO_SERVER ? client(s, sl) : server(s, sl);
	if (s->stopped)
		return (struct sl_consume){ SL_CONSUME_STOP, sl->len };
	return (struct sl_consume){ SL_CONSUME_OK, used };
}

static void *pop3_create(const struct sl_mail_ctx *c, bool midstream)
{
	struct pop3 *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->c = c;
	s->greeted = midstream;
	return s;
}

static void pop3_destroy(void *st)
{
	struct pop3 *s = st;

	if (!s)
		return;
	sl_mtxn_finish(s->c, &s->msg, "flow end");
	free(s);
}

static enum sl_probe pop3_probe(const uint8_t *p, size_t n)
{
	static const char *const greet[] = { "+OK", NULL };

	return sl_probe_any(p, n, greet);
}

const struct sl_proto_ops sl_pop3_ops = {
	.name = "pop3",
	.id = SL_PROTO_POP3,
	.ports_off = offsetof(struct sl_app_config, pop3_ports),
	.state_size = sizeof(struct pop3),
	.probe = pop3_probe,
	.create = pop3_create,
	.destroy = pop3_destroy,
	.parse = pop3_parse,
};
