#include <ctype.h>
#include "smtp.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "detect.h"
#include "dotstuff.h"
#include "line.h"

/* Commands awaiting a reply.  RFC 2920 lets a client send a whole
 * transaction (MAIL, up to 100 RCPT, DATA) in one go; past this bound the
 * client side waits for replies, and past the wait bound the oldest entry
 * is dropped (smtp.pipeline_overflow). */
#define SMTP_QUEUE 128
/* Envelope bytes kept from MAIL FROM until the message begins. */
#define SMTP_ENV_MAX (64u * 1024)
/* HELO argument and AUTH user name kept for the session. */
#define SMTP_NAME_MAX 256
#define NO_REC UINT32_MAX

enum smtp_kind {
	K_OTHER, K_HELO, K_MAIL, K_RCPT, K_DATA, K_BDAT, K_BDAT_LAST, K_EOD, K_AUTH, K_STARTTLS,
};

struct smtp_pend {
	uint8_t kind;			/* enum smtp_kind */
	uint32_t gen;			/* envelope the command belongs to */
	uint32_t rec;			/* MAIL/RCPT: its envelope record, or NO_REC */
	struct sl_mtxn m;		/* EOD, BDAT LAST: the ended message awaiting this reply */
};

/* What the client's next bytes are. */
enum smtp_cstate {
	C_CMD,				/* command lines */
	C_WAIT_DATA,			/* DATA sent: body only once the server says 354 */
	C_BODY,				/* dot-stuffed message until CRLF.CRLF */
	C_BDAT,				/* bdat_left binary bytes */
	C_AUTH,				/* SASL responses, one per 334 */
	C_WAIT_TLS,			/* STARTTLS sent: TLS if the server says 220 */
	C_TLS_CHECK,			/* 220 to STARTTLS: TLS if the next byte starts a record */
};

enum smtp_mech { M_OTHER, M_PLAIN, M_LOGIN, M_CRAM };

struct smtp {
	const struct sl_mail_ctx *c;
	struct sl_liner ln[2];
	uint8_t cst;			/* enum smtp_cstate */
	bool greeted;
	bool stopped;			/* TLS: nothing more to parse */
	struct sl_dot dot;
	uint64_t bdat_left;
	bool bdat_last;

	struct sl_mtxn cur;		/* the current envelope's message */
	uint32_t gen;			/* current envelope generation */
	bool env_mail;			/* it has a MAIL FROM */
	bool env_full;			/* smtp.envelope_overflow raised for it */
	/* Envelope records until begin: field(1) code(2) len(2) bytes. */
	uint8_t *env;
	size_t env_len, env_cap;

	struct smtp_pend q[SMTP_QUEUE];
	unsigned qh, qn;

	struct {
		uint8_t mech;		/* enum smtp_mech */
		uint8_t step;		/* responses seen */
		uint8_t grants;		/* 334s not answered yet */
	} auth;
	char helo[SMTP_NAME_MAX];
	char user[SMTP_NAME_MAX];	/* authenticated user */
	char try_user[SMTP_NAME_MAX];	/* user of the AUTH in progress */
	uint16_t helo_len, user_len, try_len;
};

/* ---- queue ---- */

static struct smtp_pend *q_at(struct smtp *s, unsigned i)
{
	return &s->q[(s->qh + i) % SMTP_QUEUE];
}

static void q_pop(struct smtp *s)
{
	s->qh = (s->qh + 1) % SMTP_QUEUE;
	s->qn--;
}

static struct smtp_pend *q_push(struct smtp *s, uint8_t kind, uint32_t rec,
				const struct sl_packet *pkt)
{
	if (s->qn == SMTP_QUEUE) {
		struct smtp_pend *old = q_at(s, 0);
		sl_mctx_anomaly(s->c, NULL, SL_ANOM_SMTP_PIPELINE_OVERFLOW, pkt, NULL);
		sl_mtxn_done(s->c, &old->m);
		q_pop(s);
	}
	struct smtp_pend *e = q_at(s, s->qn++);
	*e = (struct smtp_pend){ .kind = kind, .gen = s->gen, .rec = rec };
	sl_ctr_inc(s->c->ctr, SL_CTR_MAIL_SMTP_CMDS);
	return e;
}

/* The message a reply for envelope gen concerns, if it is still running. */
static struct sl_mtxn *msg_of(struct smtp *s, uint32_t gen)
{
	if (gen == s->gen && sl_mtxn_active(&s->cur))
		return &s->cur;
	for (unsigned i = 0; i < s->qn; i++) {
		struct smtp_pend *e = q_at(s, i);
		if (e->gen == gen && sl_mtxn_active(&e->m))
			return &e->m;
	}
	return NULL;
}

/* ---- envelope ---- */

static void env_reset(struct smtp *s, const char *why)
{
	sl_mtxn_abort(s->c, &s->cur, why);
	s->gen++;
	s->env_mail = false;
	s->env_full = false;
	s->env_len = 0;
}

static uint32_t env_add(struct smtp *s, enum sl_mail_field f, const uint8_t *p, size_t n,
			const struct sl_packet *pkt)
{
	if (n > UINT16_MAX)
		n = UINT16_MAX;
	if (s->env_len + 5 + n > SMTP_ENV_MAX) {
		if (!s->env_full)
			sl_mctx_anomaly(s->c, NULL, SL_ANOM_SMTP_ENVELOPE_OVERFLOW, pkt, NULL);
		s->env_full = true;
		return NO_REC;
	}
	if (s->env_len + 5 + n > s->env_cap) {
		size_t cap = s->env_cap ? s->env_cap : 512;
		while (cap < s->env_len + 5 + n)
			cap *= 2;
		uint8_t *b = realloc(s->env, cap);
		if (!b) {
			s->env_full = true;
			return NO_REC;
		}
		s->env = b;
		s->env_cap = cap;
	}
	uint8_t *r = s->env + s->env_len;
	r[0] = (uint8_t)f;
	r[1] = r[2] = 0;
	r[3] = (uint8_t)(n >> 8);
	r[4] = (uint8_t)n;
	memcpy(r + 5, p, n);
	uint32_t off = (uint32_t)s->env_len;
	s->env_len += 5 + n;
	return off;
}

static const char *reply_cmd(enum sl_mail_field f)
{
	return f == SL_MF_RCPT_TO ? "RCPT" : "MAIL";
}

/* The message starts: it gets everything known about it so far. */
static void begin_cur(struct smtp *s, const struct sl_packet *pkt)
{
	const struct sl_mail_ctx *c = s->c;

	sl_mtxn_begin(c, &s->cur, SL_TO_SERVER, pkt);
	if (s->helo_len)
		sl_mtxn_field(c, &s->cur, SL_MF_HELO, s->helo, s->helo_len);
	if (s->user_len)
		sl_mtxn_field(c, &s->cur, SL_MF_AUTH_USER, s->user, s->user_len);
	for (size_t o = 0; o < s->env_len;) {
		const uint8_t *r = s->env + o;
		unsigned code = (unsigned)r[1] << 8 | r[2];
		size_t n = (size_t)r[3] << 8 | r[4];

		sl_mtxn_field(c, &s->cur, (enum sl_mail_field)r[0], r + 5, n);
		if (code)
			sl_mtxn_reply(c, &s->cur, reply_cmd((enum sl_mail_field)r[0]), code, NULL, 0);
		o += 5 + n;
	}
}

/* A MAIL or RCPT reply: live if its message runs, else kept for begin. */
static void env_reply(struct smtp *s, const struct smtp_pend *e, unsigned code,
		      const uint8_t *txt, size_t tn)
{
	struct sl_mtxn *m = msg_of(s, e->gen);

	if (m) {
		sl_mtxn_reply(s->c, m, e->kind == K_MAIL ? "MAIL" : "RCPT", code, txt, tn);
	} else if (e->gen == s->gen && e->rec != NO_REC && e->rec < s->env_len) {
		s->env[e->rec + 1] = (uint8_t)(code >> 8);
		s->env[e->rec + 2] = (uint8_t)code;
	}
}

/* The message ended; it waits for its reply in the queue entry of the
 * command that reply answers (the last such entry of kind k). */
static void park_cur(struct smtp *s, uint8_t k)
{
	for (unsigned i = s->qn; i-- > 0;) {
		struct smtp_pend *e = q_at(s, i);
		if (e->kind == k && e->gen == s->gen && !sl_mtxn_active(&e->m)) {
			e->m = s->cur;
			s->cur = (struct sl_mtxn){ 0 };
			return;
		}
	}
	sl_mtxn_done(s->c, &s->cur);	/* its reply came already */
}

/* ---- client: commands ---- */

static const uint8_t *skip_sp(const uint8_t *p, const uint8_t *e)
{
	while (p < e && (*p == ' ' || *p == '\t'))
		p++;
	return p;
}

/* "FROM:<path> params" / "TO:<path> params": the path without <>, the
 * parameters trimmed.  Accepts what real servers accept (a space after the
 * colon, a path without <>) and says so. */
static void parse_path(struct smtp *s, const uint8_t *a, size_t n, const char *kw,
		       const uint8_t **path, size_t *pn, const uint8_t **par, size_t *parn,
		       const struct sl_packet *pkt)
{
	const uint8_t *e = a + n, *p;
	bool odd = false;

	if (!sl_word_prefix(a, n, kw)) {
		odd = true;
		p = a;
	} else {
		p = a + strlen(kw);
	}
	if (p < e && (*p == ' ' || *p == '\t'))
		odd = true;
	p = skip_sp(p, e);
	const uint8_t *q = p;
	if (p < e && *p == '<') {
		bool quote = false;
		for (q = p + 1; q < e; q++) {
			if (quote && *q == '\\' && q + 1 < e)
				q++;
			else if (*q == '"')
				quote = !quote;
			else if (*q == '>' && !quote)
				break;
		}
		*path = p + 1;
		*pn = (size_t)(q - p - 1);
		if (q < e)
			q++;
		else
			odd = true;
	} else {
		odd = true;
		while (q < e && *q != ' ')
			q++;
		*path = p;
		*pn = (size_t)(q - p);
	}
	q = skip_sp(q, e);
	while (e > q && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	*par = q;
	*parn = (size_t)(e - q);
	if (odd)
		sl_mctx_anomaly(s->c, NULL, SL_ANOM_SMTP_BAD_SYNTAX, pkt, kw);
}

/* Decodes base64 input 4 characters at a time into out, stopping once the
 * output holds 'nuls' NUL bytes or out is nearly full: an AUTH PLAIN
 * password after the second NUL is mostly never decoded.  The caller zeroes
 * out after use.  Returns the decoded length, -1 on junk. */
static long b64_until(const uint8_t *in, size_t n, uint8_t *out, size_t cap, unsigned nuls)
{
	struct sl_b64 d;
	size_t w = 0;
	unsigned seen = 0;

	sl_b64_init(&d, SL_B64_STOP);
	for (size_t i = 0; i < n && seen < nuls; i += 4) {
		size_t k = n - i < 4 ? n - i : 4, used;
		if (cap - w < sl_b64_out_max(4))
			break;
		size_t got = sl_b64_decode(&d, in + i, k, out + w, &used);
		for (size_t j = w; j < w + got; j++)
			seen += out[j] == 0;
		w += got;
	}
	if (cap - w >= 3)
		w += sl_b64_finish(&d, out + w);
	return (d.flags & SL_B64_F_JUNK) ? -1 : (long)w;
}

static void set_name(char *dst, uint16_t *dn, const uint8_t *p, size_t n)
{
	if (n > SMTP_NAME_MAX)
		n = SMTP_NAME_MAX;
	memcpy(dst, p, n);
	*dn = (uint16_t)n;
}

/* One SASL response.  Only the user name is kept: the password of PLAIN is
 * (mostly) not even decoded, LOGIN's second response is skipped unread,
 * and every decode buffer is zeroed. */
static void auth_response(struct smtp *s, const uint8_t *p, size_t n, const struct sl_packet *pkt)
{
	uint8_t buf[2 * SMTP_NAME_MAX + 8];
	unsigned step = s->auth.step;
	long got;

	/* Saturates: a wrap would make a later response (a password) look
	 * like the first. */
	if (s->auth.step < UINT8_MAX)
		s->auth.step++;

	if (n == 1 && p[0] == '*')
		return;			/* cancelled: the server answers 501 */
	if (n == 1 && p[0] == '=')
		n = 0;			/* empty initial response */
	switch (s->auth.mech) {
	case M_PLAIN:
		if (step != 0)
			return;
		got = b64_until(p, n, buf, sizeof(buf), 2);
		if (got >= 0) {
			/* authzid NUL authcid NUL password */
			uint8_t *z1 = memchr(buf, 0, (size_t)got);
			uint8_t *z2 = z1 ? memchr(z1 + 1, 0, (size_t)(buf + got - z1 - 1)) : NULL;
			if (z2)
				set_name(s->try_user, &s->try_len, z1 + 1, (size_t)(z2 - z1 - 1));
			else
				got = -1;
		}
		break;
	case M_LOGIN:
		if (step != 0)
			return;		/* the password: never decoded */
		got = b64_until(p, n, buf, sizeof(buf), 1);
		if (got >= 0)
			set_name(s->try_user, &s->try_len, buf, (size_t)got);
		break;
	case M_CRAM:
		if (step != 0)
			return;
		/* "user SP hex-digest": the digest is no secret, still zeroed. */
		got = b64_until(p, n, buf, sizeof(buf), 1);
		if (got > 0) {
			uint8_t *sp = memrchr(buf, ' ', (size_t)got);
			set_name(s->try_user, &s->try_len, buf, sp ? (size_t)(sp - buf) : (size_t)got);
		}
		break;
	default:
		return;
	}
	explicit_bzero(buf, sizeof(buf));
	if (got < 0)
		sl_mctx_anomaly(s->c, NULL, SL_ANOM_SMTP_AUTH_BAD, pkt, NULL);
}

static void cmd_auth(struct smtp *s, const uint8_t *a, size_t n, const struct sl_packet *pkt)
{
	const uint8_t *e = a + n, *sp = memchr(a, ' ', n);
	size_t mn = sp ? (size_t)(sp - a) : n;

	s->auth.mech = sl_word_eq(a, mn, "PLAIN") ? M_PLAIN :
		       sl_word_eq(a, mn, "LOGIN") ? M_LOGIN :
		       sl_word_eq(a, mn, "CRAM-MD5") ? M_CRAM : M_OTHER;
	s->auth.step = 0;
	s->auth.grants = 0;
	s->try_len = 0;
	q_push(s, K_AUTH, NO_REC, pkt);
	s->cst = C_AUTH;
	if (sp) {
		const uint8_t *ir = skip_sp(sp, e);
		if (ir < e)
			auth_response(s, ir, (size_t)(e - ir), pkt);
	}
}

static void bdat_chunk_end(struct smtp *s, const struct sl_packet *pkt)
{
	s->cst = C_CMD;
	if (!s->bdat_last)
		return;
	sl_mtxn_end(s->c, &s->cur, pkt);
	park_cur(s, K_BDAT_LAST);
	env_reset(s, NULL);
}

/* "BDAT" SP size [SP "LAST"]: size is any number of digits that fits. */
static void cmd_bdat(struct smtp *s, const uint8_t *a, size_t n, const struct sl_packet *pkt)
{
	const uint8_t *e = a + n, *d = a;
	uint64_t size;

	while (d < e && *d >= '0' && *d <= '9')
		d++;
	const uint8_t *rest = skip_sp(d, e);
	bool last = sl_word_eq(rest, (size_t)(e - rest), "LAST");
	bool ok = sl_parse_u64(a, (size_t)(d - a), &size) == 0 &&
		  (rest == e || (last && rest > d));
	if (!ok) {
		/* The server answers 501 and reads on as commands: so do we. */
		sl_mctx_anomaly(s->c, NULL, SL_ANOM_SMTP_BDAT_BAD_SIZE, pkt, NULL);
		q_push(s, K_OTHER, NO_REC, pkt);
		return;
	}
	if (!s->env_mail)
		sl_mctx_anomaly(s->c, NULL, SL_ANOM_SMTP_DATA_NO_MAIL, pkt, "BDAT");
	if (!sl_mtxn_active(&s->cur))
		begin_cur(s, pkt);
	q_push(s, last ? K_BDAT_LAST : K_BDAT, NO_REC, pkt);
	s->bdat_left = size;
	s->bdat_last = last;
	s->cst = C_BDAT;
	if (size == 0)
		bdat_chunk_end(s, pkt);	/* no byte will come to end it */
}

static void command(struct smtp *s, const uint8_t *p, size_t n, const struct sl_packet *pkt)
{
	const uint8_t *e = p + n, *sp = memchr(p, ' ', n);
	size_t vn = sp ? (size_t)(sp - p) : n;
	const uint8_t *a = sp ? skip_sp(sp, e) : e;
	size_t an = (size_t)(e - a);
	const uint8_t *path, *par;
	size_t pn, parn;

	while (an && (a[an - 1] == ' ' || a[an - 1] == '\t'))
		an--;
	if (sl_word_eq(p, vn, "EHLO") || sl_word_eq(p, vn, "HELO") || sl_word_eq(p, vn, "LHLO")) {
		set_name(s->helo, &s->helo_len, a, an);
		env_reset(s, "helo");
		q_push(s, K_HELO, NO_REC, pkt);
	} else if (sl_word_eq(p, vn, "MAIL")) {
		env_reset(s, "new MAIL");
		parse_path(s, a, an, "FROM:", &path, &pn, &par, &parn, pkt);
		/* The reply is kept on the command's last record. */
		uint32_t rec = env_add(s, SL_MF_MAIL_FROM, path, pn, pkt);
		if (parn)
			rec = env_add(s, SL_MF_MAIL_PARAMS, par, parn, pkt);
		s->env_mail = true;
		q_push(s, K_MAIL, rec, pkt);
	} else if (sl_word_eq(p, vn, "RCPT")) {
		parse_path(s, a, an, "TO:", &path, &pn, &par, &parn, pkt);
		q_push(s, K_RCPT, env_add(s, SL_MF_RCPT_TO, path, pn, pkt), pkt);
	} else if (sl_word_eq(p, vn, "DATA")) {
		if (!s->env_mail)
			sl_mctx_anomaly(s->c, NULL, SL_ANOM_SMTP_DATA_NO_MAIL, pkt, "DATA");
		q_push(s, K_DATA, NO_REC, pkt);
		s->cst = C_WAIT_DATA;
	} else if (sl_word_eq(p, vn, "BDAT")) {
		cmd_bdat(s, a, an, pkt);
	} else if (sl_word_eq(p, vn, "RSET")) {
		env_reset(s, "rset");
		q_push(s, K_OTHER, NO_REC, pkt);
	} else if (sl_word_eq(p, vn, "AUTH")) {
		cmd_auth(s, a, an, pkt);
	} else if (sl_word_eq(p, vn, "STARTTLS")) {
		q_push(s, K_STARTTLS, NO_REC, pkt);
		s->cst = C_WAIT_TLS;
	} else {
		static const char *const known[] = {
			"QUIT", "NOOP", "VRFY", "EXPN", "HELP", "ETRN", "TURN", "ATRN",
			"XCLIENT", "XFORWARD", "SEND", "SOML", "SAML", NULL,
		};
		bool ok = false;
		for (unsigned i = 0; known[i] && !ok; i++)
			ok = sl_word_eq(p, vn, known[i]);
		if (!ok)
			sl_mctx_anomaly(s->c, NULL, SL_ANOM_SMTP_UNKNOWN_COMMAND, pkt, NULL);
		q_push(s, K_OTHER, NO_REC, pkt);
	}
}

static bool tls_or_cleartext(struct smtp *s, uint8_t first, const struct sl_packet *pkt);

/* ---- client: body ---- */

struct emit_ctx {
	struct smtp *s;
	const struct sl_packet *pkt;
};

static void body_emit(void *u, const uint8_t *p, size_t n)
{
	struct emit_ctx *x = u;

	sl_mtxn_data(x->s->c, &x->s->cur, p, n, x->pkt);
}

static void start_body(struct smtp *s, const struct sl_packet *pkt)
{
	if (!sl_mtxn_active(&s->cur))
		begin_cur(s, pkt);
	s->cst = C_BODY;
	sl_dot_init(&s->dot);
}

static void body_end(struct smtp *s, const struct sl_packet *pkt)
{
	sl_mtxn_end(s->c, &s->cur, pkt);
	s->cst = C_CMD;
	q_push(s, K_EOD, NO_REC, pkt)->m = s->cur;
	s->cur = (struct sl_mtxn){ 0 };
	env_reset(s, NULL);
}

/* The client direction ended (or was flushed) with pos bytes used. */
static void client_eof(struct smtp *s, const struct sl_slice *sl, size_t *pos)
{
	if (sl_slice_is_last(sl) && *pos < sl->len) {
		sl_mctx_anomaly(s->c, &s->cur, SL_ANOM_MAIL_TRUNCATED, NULL, "to_server");
		*pos = sl->len;
	}
	if (*pos == sl->len && sl_mtxn_active(&s->cur) && (s->cst == C_BODY || s->cst == C_BDAT)) {
		sl_mctx_anomaly(s->c, &s->cur, SL_ANOM_MAIL_TRUNCATED, sl->pkt, "message");
		sl_mtxn_abort(s->c, &s->cur, "eof");
	}
}

static size_t client(struct smtp *s, const struct sl_slice *sl)
{
	const struct sl_mail_ctx *c = s->c;
	const uint8_t *p = sl->data;
	size_t n = sl->len, pos = 0;

	while (pos < n && !s->stopped) {
		switch (s->cst) {
		case C_BODY: {
			struct emit_ctx x = { s, sl->pkt };
			uint32_t amb = s->dot.ambiguous;
			bool end;
			pos += sl_dot_feed(&s->dot, p + pos, n - pos, body_emit, &x, &end);
			if (!amb && s->dot.ambiguous)
				sl_mctx_anomaly(c, &s->cur, SL_ANOM_SMTP_BARE_LF_DOT, sl->pkt, NULL);
			if (!end)
				goto out;
			body_end(s, sl->pkt);
			continue;
		}
		case C_BDAT: {
			size_t take = n - pos < s->bdat_left ? n - pos : (size_t)s->bdat_left;
			sl_mtxn_data(c, &s->cur, p + pos, take, sl->pkt);
			pos += take;
			s->bdat_left -= take;
			if (s->bdat_left)
				goto out;
			bdat_chunk_end(s, sl->pkt);
			continue;
		}
		case C_WAIT_DATA:
			if (!sl_mctx_must_decide(c, sl, n - pos))
				goto out;
			start_body(s, sl->pkt);	/* inspect it as a message */
			continue;
		case C_WAIT_TLS:
			if (!sl_mctx_must_decide(c, sl, n - pos))
				goto out;
			s->cst = C_CMD;
			continue;
		case C_TLS_CHECK:
			if (tls_or_cleartext(s, p[pos], sl->pkt))
				goto out;
			continue;
		case C_AUTH:
			if (!s->auth.grants) {
				if (!sl_mctx_must_decide(c, sl, n - pos))
					goto out;
				s->cst = C_CMD;
				continue;
			}
			break;
		default:
			if (s->qn == SMTP_QUEUE && !sl_mctx_must_decide(c, sl, n - pos))
				goto out;
			break;
		}

		struct sl_line ln;
		switch (sl_mctx_line(c, &s->ln[0], sl, &pos, &ln)) {
		case SL_LINE_MORE:
			goto out;
		case SL_LINE_SKIPPED:
			continue;
		case SL_LINE_LONG:
			/* The server still answers it (500 or the like). */
			if (s->cst == C_AUTH)
				s->auth.grants--;
			else
				q_push(s, K_OTHER, NO_REC, sl->pkt);
			continue;
		case SL_LINE_OK:
			if (s->cst == C_AUTH) {
				s->auth.grants--;
				auth_response(s, ln.p, ln.len, sl->pkt);
			} else {
				command(s, ln.p, ln.len, sl->pkt);
			}
			continue;
		}
	}
out:
	if (sl->flags & SL_SLICE_EOF)
		client_eof(s, sl, &pos);
	return pos;
}

/* ---- server: replies ---- */

static void finish_all(struct smtp *s, const char *why)
{
	sl_mtxn_finish(s->c, &s->cur, why);
	for (unsigned i = 0; i < s->qn; i++)
		sl_mtxn_finish(s->c, &q_at(s, i)->m, why);
}

static void go_tls(struct smtp *s, const struct sl_packet *pkt)
{
	s->stopped = true;
	sl_ctr_inc(s->c->ctr, SL_CTR_MAIL_TLS);
	sl_mctx_note(s->c, SL_NOTE_TLS, pkt);
	finish_all(s, "tls");
	s->qn = 0;
}

/* RFC 3207: after "220" to STARTTLS the next bytes are a TLS handshake.
 * A session that goes on in cleartext instead (a server that ignores its
 * own 220, or a capture of decrypted TLS) is still SMTP: it is parsed,
 * not skipped, so announcing STARTTLS cannot blind the inspection.  Like a
 * TLS handshake, it starts the session afresh (RFC 3207 section 4.2). */
static bool tls_or_cleartext(struct smtp *s, uint8_t first, const struct sl_packet *pkt)
{
	if (first == 0x16) {		/* TLS record type handshake */
		go_tls(s, pkt);
		return true;
	}
	sl_mctx_anomaly(s->c, NULL, SL_ANOM_SMTP_STARTTLS_CLEARTEXT, pkt, NULL);
	env_reset(s, "starttls");
	s->cst = C_CMD;
	return false;
}

static void data_reply(struct smtp *s, const struct smtp_pend *e, unsigned code,
		       const uint8_t *txt, size_t tn, const struct sl_packet *pkt)
{
	const struct sl_mail_ctx *c = s->c;
	bool waiting = s->cst == C_WAIT_DATA;

	if (code == 354 && waiting)
		start_body(s, pkt);
	if (code != 354 && waiting) {
		s->cst = C_CMD;
		/* Refused before any data: on record as begun and aborted. */
		if (e->gen == s->gen && s->env_mail && !sl_mtxn_active(&s->cur)) {
			begin_cur(s, pkt);
			sl_mtxn_reply(c, &s->cur, "DATA", code, txt, tn);
			sl_mtxn_abort(c, &s->cur, "rejected");
			return;
		}
	}
	struct sl_mtxn *m = msg_of(s, e->gen);
	if (m)
		sl_mtxn_reply(c, m, "DATA", code, txt, tn);
}

/* Only DATA is answered 354.  A 354 for anything else means replies and
 * commands are out of step (a reply lost or merged): it answers the first
 * pending DATA, and the replies of the commands before it are taken as
 * lost.  Erring this way keeps the body inspected as a message. */
static void realign(struct smtp *s, const struct sl_packet *pkt)
{
	unsigned i = 0;

	while (i < s->qn && q_at(s, i)->kind != K_DATA)
		i++;
	if (i == s->qn)
		return;
	sl_mctx_anomaly(s->c, NULL, SL_ANOM_SMTP_UNEXPECTED_REPLY, pkt, "354 out of step");
	while (i--) {
		sl_mtxn_done(s->c, &q_at(s, 0)->m);
		q_pop(s);
	}
}

/* Returns false when the flow went TLS. */
static bool on_reply(struct smtp *s, unsigned code, const uint8_t *txt, size_t tn,
		     const struct sl_packet *pkt)
{
	const struct sl_mail_ctx *c = s->c;
	struct smtp_pend *h = q_at(s, 0);

	if (h->kind == K_AUTH && code == 334) {
		if (s->auth.grants < 255)
			s->auth.grants++;
		return true;
	}
	if (code == 354 && h->kind != K_DATA)
		realign(s, pkt);
	struct smtp_pend e = *h;
	q_pop(s);
	struct sl_mtxn *m;
	switch (e.kind) {
	case K_MAIL:
	case K_RCPT:
		env_reply(s, &e, code, txt, tn);
		break;
	case K_DATA:
		data_reply(s, &e, code, txt, tn, pkt);
		break;
	case K_BDAT:
	case K_BDAT_LAST:
	case K_EOD:
		if (sl_mtxn_active(&e.m)) {
			sl_mtxn_reply(c, &e.m, "EOD", code, txt, tn);
			sl_mtxn_done(c, &e.m);
		} else if ((m = msg_of(s, e.gen))) {
			sl_mtxn_reply(c, m, "BDAT", code, txt, tn);
			if (code >= 400 && m->state == SL_MTXN_OPEN)
				sl_mtxn_abort(c, m, "rejected");
		}
		break;
	case K_AUTH:
		if (code >= 200 && code < 300)
			memcpy(s->user, s->try_user, s->user_len = s->try_len);
		s->try_len = 0;
		if (s->cst == C_AUTH)
			s->cst = C_CMD;
		break;
	case K_STARTTLS:
		if (code == 220 && s->cst == C_WAIT_TLS) {
			s->cst = C_TLS_CHECK;	/* the client's next byte tells */
			break;
		}
		if (code == 220) {
			go_tls(s, pkt);
			return false;
		}
		if (s->cst == C_WAIT_TLS)
			s->cst = C_CMD;
		break;
	default:
		break;
	}
	return true;
}

/* "ddd" [SP|-] text.  Returns the code or 0. */
static unsigned reply_code(const uint8_t *p, size_t n, char *sep)
{
	if (n < 3 || p[0] < '2' || p[0] > '5' || p[1] < '0' || p[1] > '9' ||
	    p[2] < '0' || p[2] > '9')
		return 0;
	*sep = n > 3 ? (char)p[3] : ' ';
	if (*sep != ' ' && *sep != '-')
		return 0;
	return (unsigned)(p[0] - '0') * 100 + (unsigned)(p[1] - '0') * 10 + (unsigned)(p[2] - '0');
}

static size_t server(struct smtp *s, const struct sl_slice *sl, bool *stop)
{
	const struct sl_mail_ctx *c = s->c;
	size_t n = sl->len, pos = 0;

	while (pos < n) {
		size_t at = pos;
		struct sl_line ln;
		char sep;

		/* The client speaks first after STARTTLS: its byte decides,
		 * unless the server's bytes cannot wait for it. */
		if (s->cst == C_TLS_CHECK) {
			if (!sl_mctx_must_decide(c, sl, n - pos))
				break;
			if (tls_or_cleartext(s, sl->data[pos], sl->pkt)) {
				*stop = true;
				return n;
			}
		}
		enum sl_line_res r = sl_mctx_line(c, &s->ln[1], sl, &pos, &ln);

		if (r == SL_LINE_MORE)
			break;
		if (r == SL_LINE_SKIPPED)
			continue;
		/* A too-long line is handled by its head: its code is there. */
		unsigned code = reply_code(ln.p, ln.len, &sep);
		if (!code) {
			sl_mctx_anomaly(c, NULL, SL_ANOM_SMTP_BAD_REPLY, sl->pkt, NULL);
			continue;
		}
		if (sep == '-')
			continue;
		enum sl_answer a = sl_mctx_answer(c, sl, &s->greeted, s->qn, r == SL_LINE_OK,
						  n - at, SL_ANOM_SMTP_UNEXPECTED_REPLY);
		if (a == SL_ANSWER_WAIT) {
			pos = at;
			break;
		}
		if (a == SL_ANSWER_SKIP)
			continue;
		size_t tn = ln.len > 4 ? ln.len - 4 : 0;
		if (!on_reply(s, code, ln.p + 4, tn, sl->pkt)) {
			*stop = true;
			return n;
		}
	}
	if (sl_slice_is_last(sl) && pos < n) {
		sl_mctx_anomaly(c, NULL, SL_ANOM_MAIL_TRUNCATED, NULL, "to_client");
		pos = n;
	}
	if ((sl->flags & SL_SLICE_EOF) && pos == n) {
		/* No more replies: parked messages are as done as they get. */
		for (unsigned i = 0; i < s->qn; i++)
			sl_mtxn_done(c, &q_at(s, i)->m);
	}
	return pos;
}

/* ---- gaps ---- */

/* A flow picked up mid-session most often starts at a segment boundary,
 * which in SMTP is usually a line boundary: when the first bytes seen look
 * like the start of a command (four letters and a separator) or of a reply
 * (three digits and ' ' or '-'), that line is parsed instead of skipped. */
static bool midstream_line_start(const struct sl_slice *sl)
{
	const uint8_t *p = sl->data;

	if (!(sl->flags & SL_SLICE_MIDSTREAM) || sl->offset != 0 || sl->len < 5)
		return false;
	if (sl->dir == SL_TO_CLIENT)
		return isdigit(p[0]) && isdigit(p[1]) && isdigit(p[2]) && (p[3] == ' ' || p[3] == '-');
	for (int i = 0; i < 4; i++)
		if (!isalpha(p[i]))
			return false;
	return p[4] == ' ' || p[4] == '\r' || p[4] == '\n' || isalpha(p[4]);
}

/* Bytes are missing before this slice: what was in flight is lost and the
 * next line is found again.  Inside BDAT the framing survives a gap that
 * ends within the chunk. */
static void on_gap(struct smtp *s, const struct sl_slice *sl)
{
	const struct sl_mail_ctx *c = s->c;

	if (sl->dir == SL_TO_SERVER) {
		if (s->cst == C_TLS_CHECK) {
			go_tls(s, sl->pkt);	/* the deciding byte is lost: assume TLS */
			return;
		}
		if (s->cst == C_BDAT && sl->gap_len < s->bdat_left) {
			s->bdat_left -= sl->gap_len;
			sl_mtxn_abort(c, &s->cur, "gap");
			return;
		}
		if (s->cst == C_BODY) {
			/* Keep looking for the terminator, with nothing to inspect. */
			sl_mtxn_abort(c, &s->cur, "gap");
			sl_dot_init(&s->dot);
			s->dot.bol = 0;
			return;
		}
		if (s->cst == C_WAIT_DATA) {
			/* The body's start is lost: on record, aborted, framed. */
			start_body(s, sl->pkt);
			sl_mtxn_abort(c, &s->cur, "gap");
			s->dot.bol = 0;
			return;
		}
		if (s->cst == C_BDAT) {
			sl_mtxn_abort(c, &s->cur, "gap");
			s->cst = C_CMD;
		}
		s->ln[0].skipping = !midstream_line_start(sl);
		return;
	}
	/* Lost replies: nothing queued can be matched any more. */
	for (unsigned i = 0; i < s->qn; i++)
		sl_mtxn_done(c, &q_at(s, i)->m);
	s->qn = 0;
	if (s->cst == C_WAIT_DATA)
		start_body(s, sl->pkt);
	else if (s->cst == C_WAIT_TLS || s->cst == C_AUTH)
		s->cst = C_CMD;
	s->ln[1].skipping = !midstream_line_start(sl);
	s->greeted = true;
}

/* ---- plug-in ---- */

static struct sl_consume smtp_parse(void *st, const struct sl_slice *sl)
{
	struct smtp *s = st;
	bool stop = false;
	size_t used;

	if (s->stopped)
		return (struct sl_consume){ SL_CONSUME_STOP, sl->len };
	if (sl->flags & SL_SLICE_GAP)
		on_gap(s, sl);
	if (sl->dir == SL_TO_SERVER)
		used = client(s, sl);
	else
		used = server(s, sl, &stop);
	if (stop || s->stopped)
		return (struct sl_consume){ SL_CONSUME_STOP, sl->len };
	return (struct sl_consume){ SL_CONSUME_OK, used };
}

static void *smtp_create(const struct sl_mail_ctx *c, bool midstream)
{
	struct smtp *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->c = c;
	s->greeted = midstream;
	s->gen = 1;
	return s;
}

static void smtp_destroy(void *st)
{
	struct smtp *s = st;

	if (!s)
		return;
	finish_all(s, "flow end");
	free(s->env);
	explicit_bzero(s->try_user, sizeof(s->try_user));
	free(s);
}

static enum sl_probe smtp_probe(const uint8_t *p, size_t n)
{
	static const char *const greet[] = { "220 ", "220-", "220\r", "220\n", NULL };

	return sl_probe_any(p, n, greet);
}

const struct sl_proto_ops sl_smtp_ops = {
	.name = "smtp",
	.id = SL_PROTO_SMTP,
	.ports_off = offsetof(struct sl_app_config, smtp_ports),
	.state_size = sizeof(struct smtp),
	.probe = smtp_probe,
	.create = smtp_create,
	.destroy = smtp_destroy,
	.parse = smtp_parse,
};
