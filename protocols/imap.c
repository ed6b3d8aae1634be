#include "imap.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "detect.h"
#include "inflate.h"
#include "line.h"

/* Outstanding tagged commands tracked (the oldest is forgotten past it). */
#define IMAP_CMDS 32
#define IMAP_TAG_MAX 32
#define IMAP_MBOX_MAX 256
#define IMAP_SECTION_MAX 64
#define IMAP_UID_MAX 20
/* Ended FETCH messages of one response waiting for its end (a UID may
 * follow), and ended APPEND messages waiting for the tagged response. */
#define IMAP_OPEN_MAX 16
#define IMAP_APPEND_MAX 16
/* RFC 7888: a LITERAL- non-synchronizing literal is at most this big. */
#define IMAP_LITMINUS_MAX 4096
/* Inflated bytes kept per direction beyond one line (inflate.h). */
#define IMAP_INFLATE_SLACK (16u * 1024)

enum imap_kind {
	IK_OTHER, IK_SELECT, IK_APPEND, IK_FETCH, IK_UID_FETCH, IK_STARTTLS, IK_COMPRESS,
	IK_AUTH, IK_IDLE,
};

struct imap_cmd {
	uint32_t seq;			/* 0: free slot */
	uint8_t kind;
	uint8_t tag_len;
	char tag[IMAP_TAG_MAX];
};

enum lit_use { L_SKIP, L_MSG, L_MBOX };

struct imap_lit {
	uint64_t left;
	uint8_t use;			/* enum lit_use */
	bool begun;			/* L_MSG: begin() called */
};

/* What the client's next bytes are. */
enum imap_cstate {
	C_LINE,				/* a command line, or the rest of one after a literal */
	C_LIT,				/* literal bytes */
	C_WAIT_CONT,			/* synchronizing literal announced: needs the server's "+" */
	C_WAIT_DONE,			/* STARTTLS/COMPRESS sent: needs the tagged response */
	C_TLS_CHECK,			/* STARTTLS accepted: TLS if the next byte
					   starts a record */
	C_AUTH,				/* AUTHENTICATE: SASL lines, one per "+" */
	C_IDLE,				/* IDLE: the next line is DONE */
};

struct imap_client {
	uint8_t st;			/* enum imap_cstate */
	bool active;			/* the command goes on after a literal */
	uint8_t kind;
	uint8_t grants;
	uint16_t argn, depth;
	uint32_t seq;			/* the command being read (or waited on) */
	struct imap_lit lit;
	struct sl_mtxn msg;		/* APPEND literal being read */
	uint16_t mbox_len;
	char mbox[IMAP_MBOX_MAX];	/* SELECT/EXAMINE/APPEND mailbox argument */
};

enum attr { A_NONE, A_UID, A_MSG, A_OTHER };

struct imap_open {
	struct sl_mtxn m;
	bool has_uid;
};

struct imap_resp {
	bool lit;			/* inside a literal */
	bool active;			/* the response goes on after a literal */
	bool fetch;			/* a FETCH response (else: skip literals only) */
	bool want_value;		/* at depth 1: next token is an item's value */
	uint8_t attr;			/* enum attr of the item being read */
	uint8_t n_open;
	uint8_t section_len, uid_len;
	uint16_t depth;
	const char *cmdname;
	struct imap_lit l;
	struct sl_mtxn msg;		/* literal message being read */
	struct imap_open open[IMAP_OPEN_MAX];
	char section[IMAP_SECTION_MAX];
	char uid[IMAP_UID_MAX];
};

struct imap_appended {
	struct sl_mtxn m;
	uint32_t seq;			/* APPEND command it belongs to */
};

struct imap {
	const struct sl_mail_ctx *c;
	struct sl_liner ln[2];
	bool stopped;
	bool compressed[2];
	bool switching;			/* COMPRESS took effect in the slice being parsed */
	struct sl_inflate *z[2];
	uint32_t seq;
	struct imap_cmd cmds[IMAP_CMDS];
	struct imap_client cl;
	struct imap_resp rs;
	struct imap_appended app[IMAP_APPEND_MAX];
	uint32_t sel_seq;		/* SELECT/EXAMINE in flight */
	uint16_t selected_len, sel_pending_len;
	char selected[IMAP_MBOX_MAX];
	char sel_pending[IMAP_MBOX_MAX];
};

/* ---- tokens of one line segment (a line, or a piece between literals) ---- */

enum ttype { T_END, T_ATOM, T_QUOTED, T_LPAR, T_RPAR, T_LIT, T_BAD };

struct itok {
	uint8_t type;
	bool sync;			/* T_LIT: {N} (not {N+} / {N-}) */
	bool minus;
	bool bad;			/* T_LIT: size missing or overflowing */
	const uint8_t *p;		/* T_ATOM, T_QUOTED (raw, escapes kept) */
	size_t n;
	uint64_t size;
};

/* A literal marker "{N}" "{N+}" "{N-}" "~{N}" filling p[i..n) exactly. */
static bool lit_marker(const uint8_t *p, size_t n, size_t i, struct itok *t)
{
	if (i < n && p[i] == '~')
		i++;
	if (i >= n || p[i] != '{' || n - i < 3 || p[n - 1] != '}')
		return false;
	size_t d0 = i + 1, d1 = d0;
	while (d1 < n - 1 && p[d1] >= '0' && p[d1] <= '9')
		d1++;
	size_t flag = n - 1 - d1;
	if (flag > 1 || (flag == 1 && p[d1] != '+' && p[d1] != '-'))
		return false;
	t->type = T_LIT;
	t->sync = flag == 0;
	t->minus = flag == 1 && p[d1] == '-';
	t->bad = sl_parse_u64(p + d0, d1 - d0, &t->size) != 0;
	return true;
}

static size_t tok_next(const uint8_t *p, size_t n, size_t i, bool lits, struct itok *t)
{
	while (i < n && p[i] == ' ')
		i++;
	t->type = T_END;
	if (i >= n)
		return n;
	switch (p[i]) {
	case '(':
		t->type = T_LPAR;
		return i + 1;
	case ')':
		t->type = T_RPAR;
		return i + 1;
	case '"': {
		size_t j = i + 1;
		while (j < n && p[j] != '"')
			j += (p[j] == '\\' && j + 1 < n) ? 2 : 1;
		if (j >= n) {
			t->type = T_BAD;
			return n;
		}
		t->type = T_QUOTED;
		t->p = p + i + 1;
		t->n = j - i - 1;
		return j + 1;
	}
	default:
		break;
	}
	if (lits && lit_marker(p, n, i, t))
		return n;
	/* An atom; "[...]" inside it may hold spaces and parentheses
	 * (BODY[HEADER.FIELDS (FROM TO)]<0.100>). */
	size_t j = i;
	bool bracket = false;
	for (; j < n; j++) {
		uint8_t ch = p[j];
		if (bracket) {
			bracket = ch != ']';
			continue;
		}
		if (ch == '[')
			bracket = true;
		else if (ch == ' ' || ch == '(' || ch == ')' || ch == '"')
			break;
	}
	t->type = T_ATOM;
	t->p = p + i;
	t->n = j - i;
	return j;
}

/* Copies a quoted string's content without its escapes (bounded). */
static uint16_t unquote(char *dst, size_t cap, const uint8_t *p, size_t n)
{
	size_t k = 0;

	for (size_t i = 0; i < n && k < cap; i++) {
		if (p[i] == '\\' && i + 1 < n)
			i++;
		dst[k++] = (char)p[i];
	}
	return (uint16_t)k;
}

static uint16_t copy_astring(char *dst, size_t cap, const struct itok *t)
{
	if (t->type == T_QUOTED)
		return unquote(dst, cap, t->p, t->n);
	size_t k = t->n < cap ? t->n : cap;
	memcpy(dst, t->p, k);
	return (uint16_t)k;
}

/* ---- outstanding commands ---- */

static struct imap_cmd *cmd_by_seq(struct imap *s, uint32_t seq)
{
	for (unsigned i = 0; seq && i < IMAP_CMDS; i++)
		if (s->cmds[i].seq == seq)
			return &s->cmds[i];
	return NULL;
}

static struct imap_cmd *cmd_by_tag(struct imap *s, const uint8_t *tag, size_t n)
{
	for (unsigned i = 0; i < IMAP_CMDS; i++) {
		struct imap_cmd *c = &s->cmds[i];
		if (c->seq && c->tag_len == n && memcmp(c->tag, tag, n) == 0)
			return c;
	}
	return NULL;
}

static uint32_t cmd_add(struct imap *s, const struct itok *tag, uint8_t kind,
			const struct sl_packet *pkt)
{
	struct imap_cmd *slot = NULL;

	for (unsigned i = 0; i < IMAP_CMDS; i++)
		if (!slot || s->cmds[i].seq < slot->seq)
			slot = &s->cmds[i];
	if (slot->seq)
		sl_mctx_anomaly(s->c, NULL, SL_ANOM_IMAP_TOO_MANY_COMMANDS, pkt, NULL);
	slot->seq = ++s->seq;
	slot->kind = kind;
	slot->tag_len = (uint8_t)(tag->n < IMAP_TAG_MAX ? tag->n : IMAP_TAG_MAX);
	memcpy(slot->tag, tag->p, slot->tag_len);
	sl_ctr_inc(s->c->ctr, SL_CTR_MAIL_IMAP_CMDS);
	return slot->seq;
}

/* ---- messages ---- */

static void finish_response(struct imap *s)
{
	struct imap_resp *r = &s->rs;

	sl_mtxn_finish(s->c, &r->msg, "incomplete");
	for (unsigned i = 0; i < r->n_open; i++) {
		struct imap_open *o = &r->open[i];
		if (r->uid_len && !o->has_uid)
			sl_mtxn_field(s->c, &o->m, SL_MF_IMAP_UID, r->uid, r->uid_len);
		sl_mtxn_done(s->c, &o->m);
	}
	r->n_open = 0;
	r->active = false;
	r->lit = false;
}

static void fetch_begin(struct imap *s, const struct sl_packet *pkt)
{
	const struct sl_mail_ctx *c = s->c;
	struct imap_resp *r = &s->rs;

	sl_mtxn_begin(c, &r->msg, SL_TO_CLIENT, pkt);
	sl_mtxn_field(c, &r->msg, SL_MF_IMAP_COMMAND, r->cmdname, strlen(r->cmdname));
	if (s->selected_len)
		sl_mtxn_field(c, &r->msg, SL_MF_IMAP_MAILBOX, s->selected, s->selected_len);
	sl_mtxn_field(c, &r->msg, SL_MF_IMAP_SECTION, r->section, r->section_len);
	if (r->uid_len)
		sl_mtxn_field(c, &r->msg, SL_MF_IMAP_UID, r->uid, r->uid_len);
}

/* The FETCH message ended: it waits for the end of its response. */
static void fetch_park(struct imap *s)
{
	struct imap_resp *r = &s->rs;

	if (r->n_open == IMAP_OPEN_MAX) {
		sl_ctr_inc(s->c->ctr, SL_CTR_MAIL_PARKED_DROP);
		sl_mtxn_done(s->c, &r->msg);
		return;
	}
	r->open[r->n_open].m = r->msg;
	r->open[r->n_open++].has_uid = r->uid_len != 0;
	r->msg = (struct sl_mtxn){ 0 };
}

static void append_begin(struct imap *s, const struct sl_packet *pkt)
{
	const struct sl_mail_ctx *c = s->c;
	struct imap_client *cl = &s->cl;

	sl_mtxn_begin(c, &cl->msg, SL_TO_SERVER, pkt);
	sl_mtxn_field(c, &cl->msg, SL_MF_IMAP_COMMAND, "APPEND", 6);
	sl_mtxn_field(c, &cl->msg, SL_MF_IMAP_MAILBOX, cl->mbox, cl->mbox_len);
	cl->lit.begun = true;
}

static void append_park(struct imap *s)
{
	/* Answered already (a LITERAL+ APPEND refused early): nothing to wait for. */
	if (!cmd_by_seq(s, s->cl.seq)) {
		sl_mtxn_done(s->c, &s->cl.msg);
		return;
	}
	for (unsigned i = 0; i < IMAP_APPEND_MAX; i++) {
		if (!sl_mtxn_active(&s->app[i].m)) {
			s->app[i].m = s->cl.msg;
			s->app[i].seq = s->cl.seq;
			s->cl.msg = (struct sl_mtxn){ 0 };
			return;
		}
	}
	sl_ctr_inc(s->c->ctr, SL_CTR_MAIL_PARKED_DROP);
	sl_mtxn_done(s->c, &s->cl.msg);
}

/* One step through a literal: hands min(left, available) on at once. */
static size_t lit_step(struct imap *s, struct imap_lit *l, struct sl_mtxn *m, const uint8_t *p,
		       size_t n, const struct sl_packet *pkt)
{
	size_t take = n < l->left ? n : (size_t)l->left;

	if (l->use == L_MSG) {
		sl_mtxn_data(s->c, m, p, take, pkt);
	} else if (l->use == L_MBOX) {
		struct imap_client *cl = &s->cl;
		size_t room = IMAP_MBOX_MAX - cl->mbox_len, k = take < room ? take : room;
		memcpy(cl->mbox + cl->mbox_len, p, k);
		cl->mbox_len = (uint16_t)(cl->mbox_len + k);
	}
	l->left -= take;
	return take;
}

/* ---- client ---- */

static uint8_t cmd_kind(const struct itok *t)
{
	static const struct {
		const char *name;
		uint8_t kind;
	} names[] = {
		{ "SELECT", IK_SELECT }, { "EXAMINE", IK_SELECT }, { "APPEND", IK_APPEND },
		{ "FETCH", IK_FETCH }, { "STARTTLS", IK_STARTTLS }, { "COMPRESS", IK_COMPRESS },
		{ "AUTHENTICATE", IK_AUTH }, { "IDLE", IK_IDLE },
	};

	if (t->type != T_ATOM)
		return IK_OTHER;
	for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (sl_word_eq(t->p, t->n, names[i].name))
			return names[i].kind;
	return IK_OTHER;
}

static void client_lit(struct imap *s, const struct itok *t, const struct sl_packet *pkt)
{
	struct imap_client *cl = &s->cl;
	bool mbox_arg = cl->kind == IK_SELECT || cl->kind == IK_APPEND;

	if (t->bad) {
		sl_mctx_anomaly(s->c, NULL, SL_ANOM_IMAP_BAD_LITERAL, pkt, "to_server");
		cl->active = false;
		return;
	}
	if (cl->depth == 0)
		cl->argn++;
	cl->lit = (struct imap_lit){ .left = t->size, .use = L_SKIP };
	if (mbox_arg && cl->argn == 1 && cl->depth == 0) {
		cl->lit.use = L_MBOX;
		cl->mbox_len = 0;
	} else if (cl->kind == IK_APPEND) {
		/* Every later literal of APPEND is a message (MULTIAPPEND,
		 * CATENATE TEXT): flags and dates are never literals. */
		cl->lit.use = L_MSG;
	} else {
		sl_ctr_inc(s->c->ctr, SL_CTR_MAIL_LITERALS);
	}
	if (t->minus && t->size > IMAP_LITMINUS_MAX)
		sl_mctx_anomaly(s->c, NULL, SL_ANOM_IMAP_LITERAL_MINUS_BIG, pkt, NULL);
	cl->st = t->sync ? C_WAIT_CONT : C_LIT;
}

/* The command line is complete. */
static void client_cmd_end(struct imap *s)
{
	struct imap_client *cl = &s->cl;

	cl->active = false;
	switch (cl->kind) {
	case IK_SELECT:
		s->sel_seq = cl->seq;
		memcpy(s->sel_pending, cl->mbox, cl->mbox_len);
		s->sel_pending_len = cl->mbox_len;
		break;
	case IK_STARTTLS:
	case IK_COMPRESS:
		cl->st = C_WAIT_DONE;
		break;
	case IK_AUTH:
		cl->st = C_AUTH;
		cl->grants = 0;
		break;
	case IK_IDLE:
		cl->st = C_IDLE;
		break;
	default:
		break;
	}
}

/* A command line or the piece of one after a literal.  head: the first
 * max_line bytes of a too-long line (no literal can be seen, the end is
 * not known yet). */
static void client_segment(struct imap *s, const uint8_t *p, size_t n, bool head,
			   const struct sl_packet *pkt)
{
	struct imap_client *cl = &s->cl;
	struct itok t;
	size_t i = 0;

	if (!cl->active) {
		struct itok tag;
		i = tok_next(p, n, 0, false, &tag);
		if (tag.type == T_END)
			return;
		i = tok_next(p, n, i, false, &t);
		if (tag.type != T_ATOM || t.type != T_ATOM)
			sl_mctx_anomaly(s->c, NULL, SL_ANOM_IMAP_BAD_COMMAND, pkt, NULL);
		if (tag.type != T_ATOM)
			return;
		cl->kind = cmd_kind(&t);
		if (t.type == T_ATOM && sl_word_eq(t.p, t.n, "UID")) {
			i = tok_next(p, n, i, false, &t);
			cl->kind = (t.type == T_ATOM && sl_word_eq(t.p, t.n, "FETCH")) ?
				   IK_UID_FETCH : IK_OTHER;
		}
		cl->seq = cmd_add(s, &tag, cl->kind, pkt);
		cl->active = true;
		cl->argn = cl->depth = cl->mbox_len = 0;
	}
	for (;;) {
		i = tok_next(p, n, i, !head, &t);
		switch (t.type) {
		case T_LPAR:
			cl->depth++;
			break;
		case T_RPAR:
			if (cl->depth)
				cl->depth--;
			break;
		case T_ATOM:
		case T_QUOTED:
			if (cl->depth)
				break;
			if (++cl->argn == 1 && (cl->kind == IK_SELECT || cl->kind == IK_APPEND))
				cl->mbox_len = copy_astring(cl->mbox, IMAP_MBOX_MAX, &t);
			break;
		case T_LIT:
			client_lit(s, &t, pkt);
			return;
		case T_BAD:
			/* An over-long line's head may end inside a quote. */
			if (!head)
				sl_mctx_anomaly(s->c, NULL, SL_ANOM_IMAP_BAD_COMMAND, pkt, NULL);
			/* fall through */
		default:
			if (!head)
				client_cmd_end(s);
			return;
		}
	}
}

/* How a too-long line ended: a literal marker keeps the framing. */
static void client_tail(struct imap *s, const uint8_t *p, size_t n, const struct sl_packet *pkt)
{
	struct itok t;
	const uint8_t *b = memrchr(p, '{', n);

	if (b && b > p && b[-1] == '~')
		b--;
	if (b && lit_marker(p, n, (size_t)(b - p), &t))
		client_lit(s, &t, pkt);
	else
		client_cmd_end(s);
}

static bool starttls_decide(struct imap *s, uint8_t first, const struct sl_packet *pkt);

static void client_eof(struct imap *s, const struct sl_slice *sl, size_t *pos)
{
	if (sl_slice_is_last(sl) && *pos < sl->len) {
		sl_mctx_anomaly(s->c, &s->cl.msg, SL_ANOM_MAIL_TRUNCATED, NULL, "to_server");
		*pos = sl->len;
	}
	if (*pos == sl->len && sl_mtxn_active(&s->cl.msg)) {
		sl_mctx_anomaly(s->c, &s->cl.msg, SL_ANOM_MAIL_TRUNCATED, sl->pkt, "message");
		sl_mtxn_abort(s->c, &s->cl.msg, "eof");
	}
}

static size_t client(struct imap *s, const struct sl_slice *sl)
{
	const struct sl_mail_ctx *c = s->c;
	struct imap_client *cl = &s->cl;
	size_t n = sl->len, pos = 0;

	while (pos < n || (cl->st == C_LIT && cl->lit.left == 0)) {
		switch (cl->st) {
		case C_LIT:
			if (cl->lit.use == L_MSG && !cl->lit.begun)
				append_begin(s, sl->pkt);
			pos += lit_step(s, &cl->lit, &cl->msg, sl->data + pos, n - pos, sl->pkt);
			if (cl->lit.left)
				goto out;
			if (cl->lit.use == L_MSG) {
				sl_mtxn_end(c, &cl->msg, sl->pkt);
				append_park(s);
			}
			cl->st = C_LINE;
			continue;
		case C_TLS_CHECK:
			if (starttls_decide(s, sl->data[pos], sl->pkt))
				goto out;
			continue;
		case C_WAIT_CONT:
		case C_WAIT_DONE:
			if (!sl_mctx_must_decide(c, sl, n - pos))
				goto out;
			/* Undecided: a literal is inspected as announced. */
			cl->st = cl->st == C_WAIT_CONT ? C_LIT : C_LINE;
			continue;
		case C_AUTH:
			if (!cl->grants) {
				if (!sl_mctx_must_decide(c, sl, n - pos))
					goto out;
				cl->st = C_LINE;
				continue;
			}
			break;
		default:
			break;
		}

		struct sl_line ln;
		enum sl_line_res r = sl_mctx_line(c, &s->ln[0], sl, &pos, &ln);
		if (r == SL_LINE_MORE)
			goto out;
		if (r == SL_LINE_SKIPPED) {
			if (cl->st == C_LINE && cl->active)
				client_tail(s, ln.p, ln.len, sl->pkt);
			continue;
		}
		if (cl->st == C_AUTH) {
			cl->grants--;		/* a SASL response, not a command */
			continue;
		}
		if (cl->st == C_IDLE) {
			cl->st = C_LINE;
			if (r == SL_LINE_OK && sl_word_eq(ln.p, ln.len, "DONE"))
				continue;
			sl_mctx_anomaly(c, NULL, SL_ANOM_IMAP_BAD_COMMAND, sl->pkt, "IDLE without DONE");
		}
		client_segment(s, ln.p, ln.len, r == SL_LINE_LONG, sl->pkt);
	}
out:
	if (sl->flags & SL_SLICE_EOF)
		client_eof(s, sl, &pos);
	return pos;
}

/* ---- server ---- */

static bool is_text_response(const struct itok *t)
{
	static const char *const names[] = {
		"OK", "NO", "BAD", "BYE", "PREAUTH", "CAPABILITY", "ENABLED", "SEARCH", "FLAGS",
		"SORT", "THREAD", NULL,
	};

	for (unsigned i = 0; names[i]; i++)
		if (t->type == T_ATOM && sl_word_eq(t->p, t->n, names[i]))
			return true;
	return false;
}

static uint8_t attr_of(const struct itok *t)
{
	if (t->type != T_ATOM)
		return A_OTHER;
	if (sl_word_eq(t->p, t->n, "UID"))
		return A_UID;
	if (sl_word_prefix(t->p, t->n, "BODY[") || sl_word_prefix(t->p, t->n, "BODY.PEEK[") ||
	    sl_word_prefix(t->p, t->n, "BINARY[") || sl_word_prefix(t->p, t->n, "BINARY.PEEK[") ||
	    sl_word_eq(t->p, t->n, "RFC822") || sl_word_eq(t->p, t->n, "RFC822.TEXT") ||
	    sl_word_eq(t->p, t->n, "RFC822.HEADER"))
		return A_MSG;
	return A_OTHER;
}

/* Which client command a FETCH response answers: the oldest outstanding
 * FETCH or UID FETCH ("FETCH" when unsolicited). */
static const char *fetch_cmdname(struct imap *s)
{
	const struct imap_cmd *best = NULL;

	for (unsigned i = 0; i < IMAP_CMDS; i++) {
		const struct imap_cmd *c = &s->cmds[i];
		if (c->seq && (c->kind == IK_FETCH || c->kind == IK_UID_FETCH) &&
		    (!best || c->seq < best->seq))
			best = c;
	}
	return best && best->kind == IK_UID_FETCH ? "UID FETCH" : "FETCH";
}

static void server_lit(struct imap *s, const struct itok *t, bool msg, const struct sl_packet *pkt)
{
	struct imap_resp *r = &s->rs;

	if (t->bad) {
		sl_mctx_anomaly(s->c, NULL, SL_ANOM_IMAP_BAD_LITERAL, pkt, "to_client");
		finish_response(s);
		return;
	}
	r->l = (struct imap_lit){ .left = t->size, .use = msg ? L_MSG : L_SKIP };
	r->lit = true;
	if (!msg)
		sl_ctr_inc(s->c->ctr, SL_CTR_MAIL_LITERALS);
}

static void quoted_message(struct imap *s, const struct itok *t, const struct sl_packet *pkt)
{
	struct imap_resp *r = &s->rs;
	size_t run = 0;

	fetch_begin(s, pkt);
	for (size_t i = 0; i < t->n; i++) {
		if (t->p[i] == '\\' && i + 1 < t->n) {
			sl_mtxn_data(s->c, &r->msg, t->p + run, i - run, pkt);
			run = ++i;
		}
	}
	sl_mtxn_data(s->c, &r->msg, t->p + run, t->n - run, pkt);
	sl_mtxn_end(s->c, &r->msg, pkt);
	fetch_park(s);
}

/* One token of a FETCH response's item list. */
static void fetch_token(struct imap *s, const struct itok *t, const struct sl_packet *pkt)
{
	struct imap_resp *r = &s->rs;

	switch (t->type) {
	case T_LPAR:
		r->depth++;
		return;
	case T_RPAR:
		if (r->depth)
			r->depth--;
		if (r->depth == 1)
			r->want_value = false;	/* a list value ended */
		return;
	case T_ATOM:
	case T_QUOTED:
		if (r->depth != 1)
			return;
		if (!r->want_value) {
			r->attr = attr_of(t);
			if (r->attr == A_MSG) {
				r->section_len = (uint8_t)(t->n < IMAP_SECTION_MAX ? t->n :
							   IMAP_SECTION_MAX);
				memcpy(r->section, t->p, r->section_len);
			}
			r->want_value = true;
			return;
		}
		r->want_value = false;
		if (r->attr == A_UID && t->type == T_ATOM && t->n <= IMAP_UID_MAX) {
			memcpy(r->uid, t->p, t->n);
			r->uid_len = (uint8_t)t->n;
		} else if (r->attr == A_MSG && t->type == T_QUOTED) {
			quoted_message(s, t, pkt);
		}
		return;
	default:
		return;
	}
}

/* "+": lets a waiting synchronizing literal or SASL response go. */
static bool on_continuation(struct imap *s)
{
	struct imap_client *cl = &s->cl;

	if (cl->st == C_WAIT_CONT) {
		cl->st = C_LIT;
		return true;
	}
	if (cl->st == C_AUTH) {
		if (cl->grants < 255)
			cl->grants++;
		return true;
	}
	return cl->st == C_IDLE;
}

static void go_tls(struct imap *s, const struct sl_packet *pkt);
static void go_compress(struct imap *s, const struct sl_packet *pkt);

/* A tagged response.  Returns false when its command is unknown. */
static bool on_tagged(struct imap *s, const struct itok *tag, const uint8_t *p, size_t n,
		      size_t i, const struct sl_packet *pkt)
{
	const struct sl_mail_ctx *c = s->c;
	struct imap_client *cl = &s->cl;
	struct imap_cmd *cmd = cmd_by_tag(s, tag->p, tag->n);
	struct itok st;

	if (!cmd)
		return false;
	i = tok_next(p, n, i, false, &st);
	unsigned code = SL_IMAP_CODE_BAD;
	if (st.type == T_ATOM && sl_word_eq(st.p, st.n, "OK"))
		code = SL_IMAP_CODE_OK;
	else if (st.type == T_ATOM && sl_word_eq(st.p, st.n, "NO"))
		code = SL_IMAP_CODE_NO;
	while (i < n && p[i] == ' ')
		i++;
	const uint8_t *txt = p + i;
	size_t tn = n - i;
	bool ok = code == SL_IMAP_CODE_OK;
	uint32_t seq = cmd->seq;
	uint8_t kind = cmd->kind;

	cmd->seq = 0;
	if (cl->seq == seq && cl->st == C_WAIT_CONT) {
		/* The synchronizing literal was refused: it never comes. */
		if (cl->lit.use == L_MSG) {
			append_begin(s, pkt);
			sl_mtxn_reply(c, &cl->msg, "APPEND", code, txt, tn);
			sl_mtxn_abort(c, &cl->msg, "rejected");
		}
		cl->st = C_LINE;
		cl->active = false;
	}
	bool waited = cl->seq == seq && cl->st == C_WAIT_DONE;
	if (cl->seq == seq && (cl->st == C_WAIT_DONE || cl->st == C_AUTH || cl->st == C_IDLE))
		cl->st = C_LINE;
	switch (kind) {
	case IK_SELECT:
		if (seq != s->sel_seq)
			break;
		s->selected_len = ok ? s->sel_pending_len : 0;
		memcpy(s->selected, s->sel_pending, s->selected_len);
		break;
	case IK_APPEND:
		for (unsigned k = 0; k < IMAP_APPEND_MAX; k++) {
			if (s->app[k].seq != seq || !sl_mtxn_active(&s->app[k].m))
				continue;
			sl_mtxn_reply(c, &s->app[k].m, "APPEND", code, txt, tn);
			sl_mtxn_done(c, &s->app[k].m);
		}
		break;
	case IK_STARTTLS:
		/* The client's next byte tells (starttls_decide), when the
		 * client was still waiting for this answer. */
		if (ok && waited)
			cl->st = C_TLS_CHECK;
		else if (ok)
			go_tls(s, pkt);
		break;
	case IK_COMPRESS:
		if (ok)
			go_compress(s, pkt);
		break;
	default:
		break;
	}
	return true;
}

/* A response line or the piece of one after a literal.  Returns false when
 * it cannot be interpreted before the client side progresses ('pending'
 * bytes wait from its start; 0: a too-long line, past waiting for). */
static bool server_segment(struct imap *s, const uint8_t *p, size_t n, bool head,
			   const struct sl_slice *sl, size_t pending)
{
	struct imap_resp *r = &s->rs;
	struct itok t;
	size_t i = 0;

	if (!r->active) {
		if (n && p[0] == '+') {
			if (on_continuation(s))
				return true;
			if (pending && !sl_mctx_must_decide(s->c, sl, pending))
				return false;
			sl_mctx_anomaly(s->c, NULL, SL_ANOM_IMAP_UNEXPECTED_CONT, sl->pkt, NULL);
			return true;
		}
		struct itok tag, t2;
		i = tok_next(p, n, 0, false, &tag);
		if (tag.type == T_END)
			return true;
		if (tag.type != T_ATOM) {
			sl_mctx_anomaly(s->c, NULL, SL_ANOM_IMAP_BAD_RESPONSE, sl->pkt, NULL);
			return true;
		}
		if (!(tag.n == 1 && tag.p[0] == '*')) {
			if (on_tagged(s, &tag, p, n, i, sl->pkt))
				return true;
			if (pending && !sl_mctx_must_decide(s->c, sl, pending))
				return false;
			sl_mctx_anomaly(s->c, NULL, SL_ANOM_IMAP_UNKNOWN_TAG, sl->pkt, NULL);
			return true;
		}
		i = tok_next(p, n, i, false, &t2);
		if (is_text_response(&t2))
			return true;	/* resp-text: a "{5}" in it is just text */
		uint64_t num;
		bool fetch = false;
		if (t2.type == T_ATOM && sl_parse_u64(t2.p, t2.n, &num) == 0) {
			size_t j = tok_next(p, n, i, false, &t);
			if (t.type != T_ATOM)
				return true;
			if (!sl_word_eq(t.p, t.n, "FETCH"))
				return true;	/* EXISTS, EXPUNGE, RECENT */
			i = j;
			fetch = true;
		}
		*r = (struct imap_resp){ .active = true, .fetch = fetch };
		if (fetch)
			r->cmdname = fetch_cmdname(s);
	}
	for (;;) {
		i = tok_next(p, n, i, !head, &t);
		if (t.type == T_LIT) {
			bool msg = r->fetch && r->depth == 1 && r->want_value && r->attr == A_MSG;
			if (r->depth == 1)
				r->want_value = false;
			server_lit(s, &t, msg, sl->pkt);
			return true;
		}
		if (t.type == T_END || t.type == T_BAD) {
			if (t.type == T_BAD && !head)
				sl_mctx_anomaly(s->c, NULL, SL_ANOM_IMAP_BAD_RESPONSE, sl->pkt, NULL);
			if (!head)
				finish_response(s);
			return true;
		}
		if (r->fetch)
			fetch_token(s, &t, sl->pkt);
	}
}

/* How a too-long response line ended.  A literal after an unread stretch
 * of a FETCH response may be a message: it is inspected as one. */
static void server_tail(struct imap *s, const uint8_t *p, size_t n, const struct sl_packet *pkt)
{
	struct imap_resp *r = &s->rs;
	struct itok t;
	const uint8_t *b = memrchr(p, '{', n);

	if (!r->active) {
		return;
	}
	if (b && b > p && b[-1] == '~')
		b--;
	if (b && lit_marker(p, n, (size_t)(b - p), &t)) {
		if (r->fetch) {
			memcpy(r->section, "?", 1);
			r->section_len = 1;
		}
		server_lit(s, &t, r->fetch, pkt);
		return;
	}
	finish_response(s);
}

static void server_eof(struct imap *s, const struct sl_slice *sl, size_t *pos)
{
	if (sl_slice_is_last(sl) && *pos < sl->len) {
		sl_mctx_anomaly(s->c, &s->rs.msg, SL_ANOM_MAIL_TRUNCATED, NULL, "to_client");
		*pos = sl->len;
	}
	if (*pos == sl->len) {
		if (sl_mtxn_active(&s->rs.msg))
			sl_mctx_anomaly(s->c, &s->rs.msg, SL_ANOM_MAIL_TRUNCATED, sl->pkt, "message");
		sl_mtxn_abort(s->c, &s->rs.msg, "eof");
		finish_response(s);
	}
}

static size_t server(struct imap *s, const struct sl_slice *sl)
{
	const struct sl_mail_ctx *c = s->c;
	struct imap_resp *r = &s->rs;
	size_t n = sl->len, pos = 0;

	while ((pos < n || (r->lit && r->l.left == 0)) && !s->stopped && !s->switching) {
		if (r->lit) {
			if (r->l.use == L_MSG && !r->l.begun) {
				fetch_begin(s, sl->pkt);
				r->l.begun = true;
			}
			pos += lit_step(s, &r->l, &r->msg, sl->data + pos, n - pos, sl->pkt);
			if (r->l.left)
				break;
			r->lit = false;
			if (r->l.use == L_MSG) {
				sl_mtxn_end(c, &r->msg, sl->pkt);
				fetch_park(s);
			}
			continue;
		}
		/* The client speaks first after STARTTLS: its byte decides,
		 * unless the server's bytes cannot wait for it. */
		if (s->cl.st == C_TLS_CHECK) {
			if (!sl_mctx_must_decide(c, sl, n - pos))
				goto out;
			if (starttls_decide(s, sl->data[pos], sl->pkt))
				goto out;
		}
		size_t at = pos;
		struct sl_line ln;
		switch (sl_mctx_line(c, &s->ln[1], sl, &pos, &ln)) {
		case SL_LINE_MORE:
			goto out;
		case SL_LINE_SKIPPED:
			server_tail(s, ln.p, ln.len, sl->pkt);
			continue;
		case SL_LINE_LONG:
			server_segment(s, ln.p, ln.len, true, sl, 0);
			continue;
		case SL_LINE_OK:
			break;
		}
		if (!server_segment(s, ln.p, ln.len, false, sl, n - at)) {
			pos = at;	/* wait for the client side */
			goto out;
		}
	}
out:
	if (s->stopped)
		return n;
	if ((sl->flags & SL_SLICE_EOF) && !s->switching)
		server_eof(s, sl, &pos);
	return pos;
}

/* ---- TLS, compression, gaps ---- */

static void finish_all(struct imap *s, const char *why)
{
	sl_mtxn_finish(s->c, &s->cl.msg, why);
	sl_mtxn_finish(s->c, &s->rs.msg, why);
	finish_response(s);
	for (unsigned k = 0; k < IMAP_APPEND_MAX; k++)
		sl_mtxn_finish(s->c, &s->app[k].m, why);
}

static void go_tls(struct imap *s, const struct sl_packet *pkt)
{
	s->stopped = true;
	sl_ctr_inc(s->c->ctr, SL_CTR_MAIL_TLS);
	sl_mctx_note(s->c, SL_NOTE_TLS, pkt);
	finish_all(s, "tls");
}

/* RFC 9051 section 6.2.1 (RFC 2595): after the tagged OK to STARTTLS the
 * client starts the TLS negotiation.  A session that goes on in cleartext
 * instead (a server that ignores its own OK, decrypted TLS written back) is
 * still IMAP: parsed, not skipped, so announcing STARTTLS cannot blind the
 * inspection.  Returns true when the flow went TLS. */
static bool starttls_decide(struct imap *s, uint8_t first, const struct sl_packet *pkt)
{
	if (first == 0x16) {		/* TLS record type handshake */
		go_tls(s, pkt);
		return true;
	}
	sl_mctx_anomaly(s->c, NULL, SL_ANOM_IMAP_STARTTLS_CLEARTEXT, pkt, NULL);
	s->cl.st = C_LINE;
	return false;
}

static void go_compress(struct imap *s, const struct sl_packet *pkt)
{
	if (s->compressed[0])
		return;
	for (int d = 0; d < 2; d++) {
		s->z[d] = sl_inflate_new(s->c->max_line + IMAP_INFLATE_SLACK);
		if (!s->z[d]) {
			sl_mctx_anomaly(s->c, NULL, SL_ANOM_IMAP_INFLATE_ERROR, pkt, "no memory");
			go_tls(s, pkt);		/* uninspectable from here on */
			return;
		}
		s->compressed[d] = true;
	}
	s->switching = true;
	sl_ctr_inc(s->c->ctr, SL_CTR_MAIL_COMPRESS);
	sl_mctx_note(s->c, SL_NOTE_COMPRESS, pkt);
}

static void on_gap(struct imap *s, const struct sl_slice *sl)
{
	if (sl->dir == SL_TO_SERVER) {
		struct imap_client *cl = &s->cl;
		sl_mtxn_abort(s->c, &cl->msg, "gap");
		if (cl->st == C_TLS_CHECK) {
			go_tls(s, sl->pkt);	/* the deciding byte is lost: assume TLS */
			return;
		}
		/* Bytes held back for a "+" were the literal's first bytes. */
		if (cl->st == C_WAIT_CONT)
			cl->st = C_LIT;
		if (cl->st == C_LIT && sl->gap_len < cl->lit.left) {
			cl->lit.left -= sl->gap_len;
			cl->lit.use = L_SKIP;
			return;
		}
		cl->st = C_LINE;
		cl->active = false;
		s->ln[0].skipping = true;
		return;
	}
	struct imap_resp *r = &s->rs;
	sl_mtxn_abort(s->c, &r->msg, "gap");
	if (r->lit && sl->gap_len < r->l.left) {
		r->l.left -= sl->gap_len;
		r->l.use = L_SKIP;
		return;
	}
	finish_response(s);
	s->ln[1].skipping = true;
}

static struct sl_consume plain(void *st, const struct sl_slice *sl)
{
	struct imap *s = st;
	size_t used;

	if (sl->flags & SL_SLICE_GAP)
		on_gap(s, sl);
	used = s->stopped ? sl->len : sl->dir == SL_TO_SERVER ? client(s, sl) : server(s, sl);
	if (s->stopped)
		return (struct sl_consume){ SL_CONSUME_STOP, sl->len };
	return (struct sl_consume){ SL_CONSUME_OK, used };
}

static struct sl_consume inflated(struct imap *s, const struct sl_slice *sl)
{
	struct sl_inflate *z = s->z[sl->dir];
	uint64_t before = sl_inflate_total(z);
	int err;
	struct sl_consume r = sl_inflate_consume(z, sl, plain, s, &err);

	sl_ctr_add(s->c->ctr, SL_CTR_MAIL_INFLATED, sl_inflate_total(z) - before);
	if (err) {
		sl_mctx_anomaly(s->c, NULL, SL_ANOM_IMAP_INFLATE_ERROR, sl->pkt,
				sl_dir_name(sl->dir));
		if (sl->dir == SL_TO_SERVER)
			sl_mtxn_abort(s->c, &s->cl.msg, "inflate");
		else
			finish_response(s);
	}
	return r;
}

static struct sl_consume imap_parse(void *st, const struct sl_slice *sl)
{
	struct imap *s = st;

	if (s->stopped)
		return (struct sl_consume){ SL_CONSUME_STOP, sl->len };
	if (s->compressed[sl->dir])
		return inflated(s, sl);
	struct sl_consume r = plain(s, sl);
	bool switched = s->switching;

	s->switching = false;
	if (r.status == SL_CONSUME_OK && switched && r.consumed < sl->len) {
		/* COMPRESS took effect inside this slice (after the tagged OK). */
		struct sl_slice rest = *sl;
		rest.data += r.consumed;
		rest.len -= r.consumed;
		rest.offset += r.consumed;
		rest.flags &= ~(uint32_t)SL_SLICE_GAP;
		struct sl_consume r2 = inflated(s, &rest);
		r2.consumed += r.consumed;
		return r2;
	}
	return r;
}

static void *imap_create(const struct sl_mail_ctx *c, bool midstream)
{
	struct imap *s = calloc(1, sizeof(*s));

	(void)midstream;		/* IMAP has no greeting to wait for */
	if (!s)
		return NULL;
	s->c = c;
	return s;
}

static void imap_destroy(void *st)
{
	struct imap *s = st;

	if (!s)
		return;
	finish_all(s, "flow end");
	sl_inflate_free(s->z[0]);
	sl_inflate_free(s->z[1]);
	free(s);
}

static enum sl_probe imap_probe(const uint8_t *p, size_t n)
{
	static const char *const greet[] = { "* OK", "* PREAUTH", "* BYE", NULL };

	return sl_probe_any(p, n, greet);
}

const struct sl_proto_ops sl_imap_ops = {
	.name = "imap",
	.id = SL_PROTO_IMAP,
	.ports_off = offsetof(struct sl_app_config, imap_ports),
	.state_size = sizeof(struct imap),
	.probe = imap_probe,
	.create = imap_create,
	.destroy = imap_destroy,
	.parse = imap_parse,
};
