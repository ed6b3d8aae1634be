/* Streaming MIME decoder: the structure state machine.  Contract in mime.h.
 *
 * Shape of the machine.  One entity is open at a time (its headers being
 * read, or its body streamed); the containers around it sit on a stack of
 * levels (multipart with its boundaries, or message/rfc822).  States:
 *
 *   HEADERS  header lines of the current entity, buffered one field at a time
 *            in hbuf (bounded by max_header_bytes) because a field is only
 *            complete when the next line does not start with whitespace;
 *   BODY     a leaf's body, fed to each reading's transfer decoder (one
 *            reading may first read more header lines: see struct alt);
 *   PRE/EPI  a multipart's preamble / epilogue (pseudo parts);
 *   RAW      given up: everything to the end is one raw part.
 *
 * Delimiter search (BODY/PRE/EPI inside a multipart).  The body is scanned
 * with memchr('-'); only a '-' right after LF can start a delimiter line, so
 * base64 bodies (no '-') cost one memchr pass.  A candidate line is classified
 * against every open boundary; the line ending before it (E) is withheld
 * because it belongs to the delimiter if the line is one.  When a candidate
 * or a trailing CR/LF reaches the end of the input, those bytes move to the
 * carry buffer:
 *
 *      carry:  [E: "", "\n" or "\r\n" ("\r" alone while waiting for LF)]
 *              [start of the candidate line, < CAND_MAX bytes]
 *
 * and are resolved byte by byte as input comes (NO: delivered as body, the
 * deciding byte re-scanned; DELIM: dropped).  The decision depends only on the
 * first CAND_MAX bytes of a line, so it is the same however the input is cut.
 */
#include "mime.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base64.h"
#include "mime_header.h"
#include "qp.h"
#include "rfc2047.h"
#include "uuencode.h"

#define BOUNDARY_MAX	256	/* longest boundary kept; longer: the part is read raw */
#define PAD_MAX		1024	/* transport padding after a boundary kept while deciding */
#define CAND_MAX	(2 + BOUNDARY_MAX + 2 + PAD_MAX + 2)	/* longest delimiter line */
#define NB_MAX		4	/* boundaries one multipart may declare (duplicates) */
#define WS_HOLD		256	/* blank start of a preamble/epilogue held back */
#define SCRATCH		(64 * 1024)	/* decoded output per transfer-decoder call */
#define HBUF_MIN	2048
#define CT_MAX		128
#define CS_MAX		64
#define FN_MAX		1024
#define TOK_MAX		32
#define READINGS_MAX	16	/* hard cap on max_readings */
#define ALT_FIELD_MAX	4096	/* a field read on past a colon-less line (longer: cut) */
#define LINE_RFC_MAX	998
#define TAP_LAG		(2 + CAND_MAX)	/* longest line ending + delimiter line */
#define NEST_MAX	(256 / READINGS_MAX - 1)	/* decoded readings in readings */

enum st { S_HEADERS, S_BODY, S_PRE, S_EPI, S_RAW, S_DONE };
enum dec { D_IDENT, D_B64, D_QP, D_UU };
enum cls { C_MORE, C_NO, C_DELIM };
enum cst { CS_LINE, CS_CR };	/* carry: E complete (line follows) / waiting for LF */

struct level {
	uint32_t id;
	uint16_t depth;		/* depth of the container entity */
	bool multipart;
	bool digest;
	bool closed;		/* close delimiter seen */
	bool seen_delim;	/* any delimiter seen (else the first never came) */
	uint8_t nb;
	uint16_t blen[NB_MAX];
	char b[NB_MAX][BOUNDARY_MAX + 1];
};

struct reading {
	struct sl_mime_part p;
	uint8_t dec;
	bool open;
	bool begun;		/* part_begin called: part_end owed */
	bool hdrs;		/* the reading on past a colon-less line, still in
				   its headers (struct alt) */
	struct sl_b64 b64;
	struct sl_qp qp;
	struct sl_uu uu;
	uint64_t out;		/* decoded bytes delivered */
};

/* What the headers of the current entity said. */
struct ent {
	struct sl_mime_part hp;	/* what header callbacks see */
	bool any;		/* the entity got at least one byte (else it does not exist) */
	bool id_done;
	bool got_field;		/* at least one field: a leading continuation has a home */
	bool digest_child;	/* default type message/rfc822 */
	bool no_colon;		/* the headers ended at a line without a colon */
	unsigned nhdr, nct, ncte, ncd;
	char ct[CT_MAX], ct_alt[CT_MAX];
	char cs[CS_MAX];
	char cte[TOK_MAX], cte_alt[TOK_MAX];
	char disp[TOK_MAX];
	char fn[FN_MAX], fn_alt[FN_MAX], nm[FN_MAX], nm_alt[FN_MAX];
	char fname[FN_MAX], afname[FN_MAX];	/* resolved, RFC 2047-decoded */
	uint8_t nb;
	bool b_toolong;
	char b[NB_MAX][BOUNDARY_MAX + 1];
	struct sl_anomaly_set seen;		/* anomalies raised for this entity */
};

/* Preamble / epilogue / raw give-up parts: one reading, identity. */
struct pseudo {
	struct sl_mime_part p;
	bool begun;
	uint16_t hold;
	uint8_t buf[WS_HOLD];
};

/* The other reading of a leaf whose header block ended at a line that is
 * neither a field nor a continuation (mime.header_no_colon).  Python's email
 * package, and so reading 0, takes that line as the body's first; clients
 * that read on (Suricata, some mail readers) skip it and take the fields
 * after it as headers up to the blank line.  This reading does the latter
 * over reading 0's body bytes: header lines are parsed here (only
 * Content-Type, Content-Transfer-Encoding and Content-Disposition shape it;
 * no header callback, the lines are body text of reading 0 and inspected
 * there), then what follows the blank line is decoded as they say.  One at
 * a time: only the open leaf has one. */
struct alt {
	struct ent e;		/* the entity's headers, then the ones read on */
	uint8_t buf[ALT_FIELD_MAX];	/* pending field [0, ls), current line [ls, len) */
	size_t ls, len;
	size_t line;		/* bytes of the current line, stored or not */
	size_t total;		/* header bytes read on: bounded by max_header_bytes */
};

/* The decoded reading of a base64- or quoted-printable-encoded
 * message/rfc822 (or message/global).  The machine descends into it raw, as
 * Python does; Thunderbird and most clients undo the transfer encoding first
 * and show the message that comes out.  So the body is also decoded here and
 * fed to a child decoder (same limits, but the depth and part ids left) whose
 * callbacks come out of this decoder's with depth and parent rebased and
 * reading + READINGS_MAX (nest_*).  The child numbers its parts itself: how
 * its work interleaves with this decoder's depends on how the input is cut,
 * so a shared counter would not give the same ids for the same message.
 *
 * Which input bytes are that body is only known once the delimiter that ends
 * it is recognised, and that delimiter line and the line ending before it are
 * always the last bytes the machine consumed (at most TAP_LAG of them).  So
 * the tap follows the input of the top-level loop (feed) TAP_LAG bytes behind;
 * at the end it drops those tail bytes (struct dm: elen + len) and decodes the
 * rest.  One tap per decoder at a time: an encoded message inside the raw
 * reading of another is a mix no client shows (a client that decodes the
 * outer one decodes the inner too: that is the child's own tap), so the
 * decoders alive are a chain, at most NEST_MAX long (reading is a byte). */
struct tap {
	bool on;
	bool fresh;		/* opened during this step: its bytes are not the body */
	bool ending;		/* the level closed during this step */
	uint8_t dec;		/* D_B64 or D_QP */
	unsigned level;		/* index of the message/rfc822 level */
	uint32_t id;		/* the message/rfc822 entity */
	uint16_t base;		/* depth of the message inside it */
	size_t tail;		/* ending: bytes at the end of the step that are not body */
	struct sl_b64 b64;
	struct sl_qp qp;
	size_t hn;
	uint8_t hold[2 * TAP_LAG];
	struct sl_mime *child;	/* kept for reuse until sl_mime_reset/free */
	size_t charged;		/* taken through cb.mem_take for child */
};

struct sl_mime {
	struct sl_mime_limits lim;
	struct sl_mime_cb cb;
	void *u;
	struct sl_counters *ctr;
	struct sl_charset_cache cc;

	enum st st;
	uint32_t next_id;
	bool finished;
	uint8_t nest;		/* encoded messages undone around this decoder (tap) */
	uint16_t depth_cap;	/* levels allocated (lim.max_depth of a child shrinks) */
	struct tap tap;

	struct level *lev;
	unsigned nlev;
	unsigned nbound;	/* boundaries open across all levels: 0 -> no scanning */

	struct ent e;
	struct reading *rd;
	unsigned nrd;

	struct pseudo ps;	/* preamble/epilogue of the top level, or the raw part */
	struct alt alt;

	/* uuencode blocks inside the current text part */
	bool uu_scan;
	bool uu_open;
	struct sl_uu uus;
	struct sl_mime_part uup;
	char uuname[SL_UU_NAME_MAX + 1];

	/* header buffer: pending field, then the current physical line */
	uint8_t *hbuf;
	size_t hcap, hlen, ls;
	uint8_t *dbuf, *sbuf;	/* decoded value (2 * hcap + 1), 2047 scratch (hcap) */
	size_t hcharged;	/* taken through cb.mem_take for them: hbuf_cost() */

	/* delimiter carry */
	uint8_t carry[2 + CAND_MAX];
	size_t clen, elen;
	uint8_t cst;
	bool sol;		/* the next byte starts a line with no E withheld */

	uint8_t *scratch;	/* SCRATCH + slack: decoder output */
	char detail[160];
};

static const char *const dec_name[] = { "7bit", "base64", "quoted-printable", "uuencode" };

/* ---- anomalies ---------------------------------------------------------- */

static void anom(struct sl_mime *m, enum sl_anomaly a, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void anom(struct sl_mime *m, enum sl_anomaly a, const char *fmt, ...)
{
	va_list ap;
	int k;

	if (sl_anomaly_set_has(&m->e.seen, a))
		return;
	sl_anomaly_set_add(&m->e.seen, a);
	sl_ctr_inc(m->ctr, SL_CTR_MIME_ANOMALIES);
	if (!m->cb.anomaly)
		return;
	/* the part the anomaly is about: a pseudo part while one is open */
	k = snprintf(m->detail, sizeof(m->detail), "part %u",
		     (m->st == S_PRE || m->st == S_EPI || m->st == S_RAW) && m->ps.p.id ?
		     m->ps.p.id : m->e.hp.id);
	if (fmt && k > 0 && (size_t)k < sizeof(m->detail)) {
		m->detail[k++] = ':';
		m->detail[k++] = ' ';
		va_start(ap, fmt);
		vsnprintf(m->detail + k, sizeof(m->detail) - (size_t)k, fmt, ap);
		va_end(ap);
	}
	/* detail is a short, printable string */
	for (char *c = m->detail; *c; c++)
		if ((unsigned char)*c < 0x20 || (unsigned char)*c >= 0x7f)
			*c = '?';
	m->cb.anomaly(m->u, a, m->detail);
}

/* ---- memory accounting -------------------------------------------------- */

/* What the decoder allocates as a message needs it (header buffers past
 * HBUF_MIN, the child decoder of struct tap) is asked of cb.mem_take first
 * and given back exactly (cb.mem_give) when freed: sl_mime_reset or
 * sl_mime_free.  No hook: unlimited. */
static bool mem_take(struct sl_mime *m, size_t n)
{
	return !n || !m->cb.mem_take || m->cb.mem_take(m->u, n);
}

static void mem_give(struct sl_mime *m, size_t n)
{
	if (n && m->cb.mem_give)
		m->cb.mem_give(m->u, n);
}

/* hbuf, dbuf and sbuf at capacity cap: 4 * cap + 1 bytes, those of
 * HBUF_MIN being part of sl_mime_state_size. */
static size_t hbuf_cost(size_t cap)
{
	return cap > HBUF_MIN ? 4 * (cap - HBUF_MIN) : 0;
}

/* Frees what was charged dynamically; back to sl_mime_state_size. */
static void mem_release(struct sl_mime *m)
{
	sl_mime_free(m->tap.child);
	m->tap.child = NULL;
	mem_give(m, m->tap.charged);
	m->tap.charged = 0;
	if (!m->hcharged)
		return;	/* no buffer is past HBUF_MIN: they were charged first */
	free(m->hbuf);
	free(m->dbuf);
	free(m->sbuf);
	m->hbuf = m->dbuf = m->sbuf = NULL;
	m->hcap = 0;
	mem_give(m, m->hcharged);
	m->hcharged = 0;
}

/* ---- limits, lifecycle -------------------------------------------------- */

void sl_mime_limits_default(struct sl_mime_limits *l)
{
	l->max_depth = 20;
	l->max_parts = 1000;
	l->max_header_bytes = 64 * 1024;
	l->max_headers = 1000;
	l->max_readings = 4;
}

static void ent_reset(struct sl_mime *m, uint32_t parent, uint16_t depth, bool digest_child)
{
	memset(&m->e, 0, sizeof(m->e));
	m->e.hp.parent = parent;
	m->e.hp.depth = depth;
	m->e.hp.content_type = digest_child ? "message/rfc822" : "text/plain";
	m->e.digest_child = digest_child;
	m->hlen = 0;
	m->ls = 0;
	m->st = S_HEADERS;
}

/* Readies m for another message, keeping everything it allocated (the
 * child decoder of an encoded message reused within one message). */
static void restart(struct sl_mime *m)
{
	m->next_id = 1;
	m->finished = false;
	m->nlev = 0;
	m->nbound = 0;
	m->nrd = 0;
	m->uu_scan = m->uu_open = false;
	m->clen = m->elen = 0;
	m->sol = false;
	m->tap.on = m->tap.fresh = m->tap.ending = false;
	m->tap.hn = 0;
	memset(&m->ps, 0, sizeof(m->ps));
	ent_reset(m, 0, 0, false);
}

void sl_mime_reset(struct sl_mime *m)
{
	mem_release(m);
	restart(m);
}

/* Clamps limits the way sl_mime_new() uses them. */
static void limits_effective(struct sl_mime_limits *l)
{
	if (l->max_readings == 0)
		l->max_readings = 1;
	if (l->max_readings > READINGS_MAX)
		l->max_readings = READINGS_MAX;
	if (l->max_header_bytes < 256)
		l->max_header_bytes = 256;
}

size_t sl_mime_state_size(const struct sl_mime_limits *lim)
{
	struct sl_mime_limits l;

	if (lim)
		l = *lim;
	else
		sl_mime_limits_default(&l);
	limits_effective(&l);
	return sizeof(struct sl_mime) + ((size_t)l.max_depth + 1) * sizeof(struct level) +
	       l.max_readings * sizeof(struct reading) + SCRATCH + 1024 + 4 * HBUF_MIN + 1;
}

struct sl_mime *sl_mime_new(const struct sl_mime_limits *lim, const struct sl_mime_cb *cb,
			    void *u, struct sl_counters *ctr)
{
	struct sl_mime *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	if (lim)
		m->lim = *lim;
	else
		sl_mime_limits_default(&m->lim);
	limits_effective(&m->lim);
	m->depth_cap = m->lim.max_depth;
	if (cb)
		m->cb = *cb;
	m->u = u;
	m->ctr = ctr;
	sl_charset_cache_init(&m->cc);
	m->lev = calloc((size_t)m->lim.max_depth + 1, sizeof(*m->lev));
	m->rd = calloc(m->lim.max_readings, sizeof(*m->rd));
	m->scratch = malloc(SCRATCH + 1024);
	if (!m->lev || !m->rd || !m->scratch) {
		sl_mime_free(m);
		return NULL;
	}
	restart(m);
	return m;
}

void sl_mime_free(struct sl_mime *m)
{
	if (!m)
		return;
	mem_release(m);
	sl_charset_cache_free(&m->cc);
	free(m->lev);
	free(m->rd);
	free(m->scratch);
	free(m->hbuf);
	free(m->dbuf);
	free(m->sbuf);
	free(m);
}

/* Part ids are given when an entity gets its first byte; past max_parts the
 * decoder gives up on structure (see give_up_all). */
static bool take_id(struct sl_mime *m, uint32_t *id)
{
	if (m->next_id > m->lim.max_parts)
		return false;
	*id = m->next_id++;
	return true;
}

/* ---- delivery ----------------------------------------------------------- */

static void part_begin(struct sl_mime *m, struct sl_mime_part *p)
{
	if (p->reading == 0)
		sl_ctr_inc(m->ctr, SL_CTR_MIME_PARTS);
	else
		sl_ctr_inc(m->ctr, SL_CTR_MIME_READINGS_ALT);
	if (p->raw_fallback)
		sl_ctr_inc(m->ctr, SL_CTR_MIME_RAW_PARTS);
	if (m->cb.part_begin)
		m->cb.part_begin(m->u, p);
}

static void part_data(struct sl_mime *m, struct sl_mime_part *p, const uint8_t *d, size_t n)
{
	if (!n)
		return;
	sl_ctr_add(m->ctr, SL_CTR_MIME_BYTES_OUT, n);
	if (m->cb.part_data)
		m->cb.part_data(m->u, p, d, n);
}

static void part_end(struct sl_mime *m, struct sl_mime_part *p)
{
	if (m->cb.part_end)
		m->cb.part_end(m->u, p);
}

/* uuencoded blocks in the decoded text of reading 0 */
static void uu_close(struct sl_mime *m)
{
	if (!m->uu_open)
		return;
	if (m->uus.flags & (SL_UU_F_BAD_LINE | SL_UU_F_NO_END | SL_UU_F_LONG_LINE))
		anom(m, SL_ANOM_MIME_UUENCODE_BAD, "%s", m->uuname);
	m->uus.flags = 0;
	part_end(m, &m->uup);
	m->uu_open = false;
}

static void uu_text(struct sl_mime *m, const uint8_t *d, size_t n)
{
	uint8_t out[SL_UU_LINE_MAX + 4096];

	while (n) {
		size_t k = n < 4096 ? n : 4096, on = 0;
		size_t used = sl_uu_feed(&m->uus, d, k, out, &on);

		if (m->uu_open)
			part_data(m, &m->uup, out, on);
		if (m->uus.event == SL_UU_EV_END) {
			uu_close(m);
		} else if (m->uus.event == SL_UU_EV_BEGIN) {
			uint32_t id;

			if (!take_id(m, &id)) {
				anom(m, SL_ANOM_MIME_TOO_MANY_PARTS, "uuencode block not split out");
				m->uus.in_block = false;
			} else {
				memcpy(m->uuname, m->uus.name, sizeof(m->uuname));
				memset(&m->uup, 0, sizeof(m->uup));
				m->uup.id = id;
				m->uup.parent = m->e.hp.id;
				m->uup.depth = (uint16_t)(m->e.hp.depth + 1);
				m->uup.kind = SL_MIME_KIND_UUENCODE;
				m->uup.is_attachment = true;
				m->uup.content_type = "application/octet-stream";
				m->uup.filename = m->uuname;
				m->uup.encoding = "uuencode";
				m->uu_open = true;
				sl_ctr_inc(m->ctr, SL_CTR_MIME_UU_PARTS);
				anom(m, SL_ANOM_MIME_UUENCODE, "%s", m->uuname);
				part_begin(m, &m->uup);
			}
		}
		d += used;
		n -= used;
	}
}

static void rd_out(struct sl_mime *m, struct reading *r, const uint8_t *d, size_t n)
{
	r->out += n;
	part_data(m, &r->p, d, n);
	if (r->p.reading == 0 && m->uu_scan && n)
		uu_text(m, d, n);
}

static void rd_open(struct sl_mime *m, struct reading *r, enum dec dec, enum sl_b64_mode mode)
{
	r->dec = (uint8_t)dec;
	r->open = true;
	r->begun = true;
	r->out = 0;
	sl_b64_init(&r->b64, mode);
	sl_qp_init(&r->qp);
	sl_uu_init(&r->uu);
	part_begin(m, &r->p);
}

/* base64 data after '=' in reading 0: a continuing client sees more.  The new
 * reading starts at that byte; its prefix is what reading 0 gave so far. */
static struct reading *rd_spawn_b64(struct sl_mime *m, struct reading *from)
{
	anom(m, SL_ANOM_MIME_BASE64_PAD_MID, NULL);
	if (m->nrd >= m->lim.max_readings) {
		anom(m, SL_ANOM_MIME_READINGS_LIMIT, "base64 continuation not decoded");
		return NULL;
	}
	struct reading *r = &m->rd[m->nrd];

	memset(r, 0, sizeof(*r));
	r->p = from->p;
	r->p.reading = (uint8_t)m->nrd++;
	r->p.prefix_bytes = from->out;
	rd_open(m, r, D_B64, SL_B64_CONTINUE);
	return r;
}

/* One base64 or quoted-printable (dec) decoder call over as much of p[0..n)
 * as fits SCRATCH decoded: returns the bytes offered, *used of them taken
 * (fewer only where a STOP-mode base64 decoder returns early: base64.h) and
 * *on written to out. */
static size_t bq_call(enum dec dec, struct sl_b64 *b, struct sl_qp *q, const uint8_t *p,
		      size_t n, uint8_t *out, size_t *used, size_t *on)
{
	size_t k;

	if (dec == D_B64) {
		k = n < SCRATCH / 3 * 4 ? n : SCRATCH / 3 * 4;
		*on = sl_b64_decode(b, p, k, out, used);
	} else {
		k = n < SCRATCH - 4 ? n : SCRATCH - 4;
		*on = sl_qp_decode(q, p, k, out);
		*used = k;
	}
	return k;
}

static size_t alt_feed(struct sl_mime *m, struct reading *r, const uint8_t *p, size_t n);

static void rd_feed(struct sl_mime *m, struct reading *r, const uint8_t *p, size_t n)
{
	uint8_t *o = m->scratch;

	if (r->hdrs) {
		size_t used = alt_feed(m, r, p, n);

		p += used;
		n -= used;
	}
	if (!r->open)
		return;		/* still in its headers, or gave up there */
	while (n) {
		size_t k, used = 0, on = 0;

		switch (r->dec) {
		case D_IDENT:
			rd_out(m, r, p, n);
			return;
		case D_B64:
		case D_QP:
			k = bq_call(r->dec, &r->b64, &r->qp, p, n, o, &used, &on);
			rd_out(m, r, o, on);
			if (used < k && r->b64.mode == SL_B64_STOP) {
				/* Fed at once and whole: a continuing reading never
				 * spawns another, so this recursion is one deep. */
				struct reading *c = rd_spawn_b64(m, r);

				if (c)
					rd_feed(m, c, p + used, n - used);
			}
			break;
		default:
			k = n < SCRATCH - SL_UU_LINE_MAX ? n : SCRATCH - SL_UU_LINE_MAX;
			used = sl_uu_feed(&r->uu, p, k, o, &on);
			rd_out(m, r, o, on);
			break;
		}
		p += used;
		n -= used;
	}
}

static void rd_close(struct sl_mime *m, struct reading *r)
{
	uint8_t tail[SL_UU_LINE_MAX + 4];
	size_t t = 0;

	if (!r->open)
		return;
	switch (r->dec) {
	case D_B64:
		t = sl_b64_finish(&r->b64, tail);
		if (r->b64.flags & SL_B64_F_JUNK)
			anom(m, SL_ANOM_MIME_BASE64_JUNK, "%llu bytes skipped",
			     (unsigned long long)r->b64.junk);
		if (r->b64.flags & (SL_B64_F_DANGLING | SL_B64_F_UNPADDED))
			anom(m, SL_ANOM_MIME_BASE64_TRUNCATED, NULL);
		if ((r->b64.flags & SL_B64_F_DATA_AFTER_PAD) && r->b64.mode == SL_B64_CONTINUE)
			anom(m, SL_ANOM_MIME_BASE64_PAD_MID, NULL);
		break;
	case D_QP:
		t = sl_qp_finish(&r->qp, tail);
		if (r->qp.flags & (SL_QP_F_INVALID | SL_QP_F_TRAILING))
			anom(m, SL_ANOM_MIME_QP_INVALID, NULL);
		break;
	case D_UU:
		t = sl_uu_finish(&r->uu, tail);
		if (r->uu.flags)
			anom(m, SL_ANOM_MIME_UUENCODE_BAD, NULL);
		break;
	}
	rd_out(m, r, tail, t);
	r->open = false;
}

/* ---- leaves ------------------------------------------------------------- */

static void leaf_data(struct sl_mime *m, const uint8_t *p, size_t n)
{
	unsigned nr = m->nrd;	/* a reading spawned now is fed by its spawner */

	for (unsigned i = 0; i < nr; i++)
		rd_feed(m, &m->rd[i], p, n);
}

static void leaf_end(struct sl_mime *m)
{
	unsigned nr = m->nrd;

	for (unsigned i = 0; i < nr; i++) {
		rd_close(m, &m->rd[i]);
		if (i == 0 && m->uu_scan) {
			uint8_t tail[SL_UU_LINE_MAX + 4];
			size_t t = sl_uu_finish(&m->uus, tail);

			if (m->uu_open)
				part_data(m, &m->uup, tail, t);
			uu_close(m);
			m->uu_scan = false;
		}
	}
	for (unsigned i = 0; i < m->nrd; i++)
		if (m->rd[i].begun)
			part_end(m, &m->rd[i].p);
	m->nrd = 0;
}

static enum dec cte_dec(const char *cte, bool *known)
{
	*known = true;
	if (!cte[0] || !strcmp(cte, "7bit") || !strcmp(cte, "8bit") || !strcmp(cte, "binary"))
		return D_IDENT;
	if (!strcmp(cte, "base64"))
		return D_B64;
	if (!strcmp(cte, "quoted-printable"))
		return D_QP;
	if (!strcmp(cte, "x-uuencode") || !strcmp(cte, "uuencode") || !strcmp(cte, "x-uue") ||
	    !strcmp(cte, "uue"))
		return D_UU;
	*known = false;
	return D_IDENT;
}

/* ---- pseudo parts: preamble, epilogue, raw give-up ---------------------- */

static bool give_up_all(struct sl_mime *m, const uint8_t *pre, size_t n);

static void ps_start(struct sl_mime *m, enum sl_mime_kind kind)
{
	const struct level *L = &m->lev[m->nlev - 1];

	memset(&m->ps, 0, sizeof(m->ps));
	m->ps.p.kind = (uint8_t)kind;
	m->ps.p.parent = L->id;
	m->ps.p.depth = (uint16_t)(L->depth + 1);
	m->ps.p.is_text = true;
	m->ps.p.content_type = "text/plain";
	m->ps.p.encoding = "7bit";
	m->st = kind == SL_MIME_KIND_PREAMBLE ? S_PRE : S_EPI;
	m->sol = true;
}

static bool ps_begin(struct sl_mime *m)
{
	uint8_t hold[WS_HOLD];
	size_t h = m->ps.hold;

	memcpy(hold, m->ps.buf, h);
	if (!take_id(m, &m->ps.p.id))
		return give_up_all(m, hold, h);
	m->ps.begun = true;
	sl_ctr_inc(m->ctr, SL_CTR_MIME_PSEUDO_PARTS);
	anom(m, m->ps.p.kind == SL_MIME_KIND_PREAMBLE ? SL_ANOM_MIME_PREAMBLE_TEXT
						      : SL_ANOM_MIME_EPILOGUE_TEXT, NULL);
	part_begin(m, &m->ps.p);
	part_data(m, &m->ps.p, hold, h);
	return true;
}

static void ps_data(struct sl_mime *m, const uint8_t *p, size_t n)
{
	if (!m->ps.begun) {
		size_t w = 0;

		while (w < n && (p[w] == ' ' || p[w] == '\t' || p[w] == '\r' || p[w] == '\n'))
			w++;
		if (w == n && m->ps.hold + n <= WS_HOLD) {
			memcpy(m->ps.buf + m->ps.hold, p, n);
			m->ps.hold = (uint16_t)(m->ps.hold + n);
			return;
		}
		if (!ps_begin(m)) {
			/* gave up: the raw part takes the rest */
			part_data(m, &m->ps.p, p, n);
			return;
		}
	}
	part_data(m, &m->ps.p, p, n);
}

/* not_found: the multipart ends without its first delimiter, so Python reads
 * this preamble as the whole body: deliver it even if blank. */
static void ps_end(struct sl_mime *m, bool not_found)
{
	if (not_found) {
		anom(m, SL_ANOM_MIME_BOUNDARY_NOT_FOUND, "multipart %u", m->ps.p.parent);
		if (!m->ps.begun && !ps_begin(m))
			return;
	}
	if (m->ps.begun)
		part_end(m, &m->ps.p);
	m->ps.begun = false;
	m->ps.hold = 0;
}

/* ---- the decoded reading of an encoded message/rfc822 (struct tap) ---- */

static void feed(struct sl_mime *m, const uint8_t *p, size_t n);

/* A child's part as the owner's callbacks see it: the child's top-level
 * entity is the message inside the message/rfc822 entity. */
static struct sl_mime_part nest_part(const struct sl_mime *m, const struct sl_mime_part *p)
{
	struct sl_mime_part q = *p;

	q.depth = (uint16_t)(q.depth + m->tap.base);
	q.reading = (uint8_t)(q.reading + READINGS_MAX);	/* < 256: NEST_MAX */
	if (!q.parent)
		q.parent = m->tap.id;
	return q;
}

/* The child counted its own parts, bytes and anomalies (same counters): the
 * owner passes them on, no more. */
static void nest_header(void *u, const struct sl_mime_part *p, const char *name,
			const char *value, size_t vlen)
{
	struct sl_mime *m = u;
	struct sl_mime_part q = nest_part(m, p);

	if (m->cb.header)
		m->cb.header(m->u, &q, name, value, vlen);
}

static void nest_begin(void *u, const struct sl_mime_part *p)
{
	struct sl_mime *m = u;
	struct sl_mime_part q = nest_part(m, p);

	if (m->cb.part_begin)
		m->cb.part_begin(m->u, &q);
}

static void nest_data(void *u, const struct sl_mime_part *p, const uint8_t *d, size_t n)
{
	struct sl_mime *m = u;
	struct sl_mime_part q = nest_part(m, p);

	if (m->cb.part_data)
		m->cb.part_data(m->u, &q, d, n);
}

static void nest_end(void *u, const struct sl_mime_part *p)
{
	struct sl_mime *m = u;
	struct sl_mime_part q = nest_part(m, p);

	if (m->cb.part_end)
		m->cb.part_end(m->u, &q);
}

/* The child's part numbers are its own: say whose. */
static void nest_anomaly(void *u, enum sl_anomaly a, const char *detail)
{
	struct sl_mime *m = u;
	char d[sizeof(m->detail)];

	snprintf(d, sizeof(d), "%s (in decoded part %u)", detail ? detail : "", m->tap.id);
	if (m->cb.anomaly)
		m->cb.anomaly(m->u, a, d);
}

/* The child's memory is the owner's: charged where the owner's is. */
static bool nest_take(void *u, size_t n)
{
	return mem_take(u, n);
}

static void nest_give(void *u, size_t n)
{
	mem_give(u, n);
}

static const struct sl_mime_cb nest_cb = {
	.header = nest_header, .part_begin = nest_begin, .part_data = nest_data,
	.part_end = nest_end, .anomaly = nest_anomaly,
	.mem_take = nest_take, .mem_give = nest_give,
};

/* Transfer-decodes body bytes into the child. */
static void tap_dec(struct sl_mime *m, const uint8_t *p, size_t n)
{
	struct tap *t = &m->tap;

	while (n) {
		size_t used, on;
		size_t k = bq_call(t->dec, &t->b64, &t->qp, p, n, m->scratch, &used, &on);

		if (on)
			feed(t->child, m->scratch, on);
		p += k;	/* used == k: the tap's base64 is in CONTINUE mode */
		n -= k;
	}
}

/* Body bytes in: at least the last TAP_LAG stay held (they may be the
 * delimiter).  The hold is twice that so tiny pieces cost no memmove each. */
static void tap_in(struct sl_mime *m, const uint8_t *p, size_t n)
{
	struct tap *t = &m->tap;

	if (n >= TAP_LAG) {
		tap_dec(m, t->hold, t->hn);
		tap_dec(m, p, n - TAP_LAG);
		memcpy(t->hold, p + n - TAP_LAG, TAP_LAG);
		t->hn = TAP_LAG;
		return;
	}
	if (t->hn + n > sizeof(t->hold)) {
		size_t k = t->hn - TAP_LAG;	/* > 0: hn > 2 * TAP_LAG - n */

		tap_dec(m, t->hold, k);
		memmove(t->hold, t->hold + k, TAP_LAG);
		t->hn = TAP_LAG;
	}
	if (n)
		memcpy(t->hold + t->hn, p, n);
	t->hn += n;
}

static void tap_anom(struct sl_mime *m, enum sl_anomaly a)
{
	sl_ctr_inc(m->ctr, SL_CTR_MIME_ANOMALIES);
	snprintf(m->detail, sizeof(m->detail), "part %u: decoded message", m->tap.id);
	if (m->cb.anomaly)
		m->cb.anomaly(m->u, a, m->detail);
}

/* At the end of an encoded message/rfc822's headers, its level just pushed
 * and m->e still its entity.  pre[0..n): body bytes already consumed (the
 * colon-less line that ended the headers, if any). */
static void tap_open(struct sl_mime *m, const uint8_t *pre, size_t n)
{
	struct tap *t = &m->tap;
	const char *ctes[2] = { m->e.cte, m->e.cte_alt };
	enum dec d = D_IDENT;
	bool known;

	for (unsigned i = 0; i < 2 && d != D_B64 && d != D_QP; i++)
		d = cte_dec(ctes[i], &known);
	if ((d != D_B64 && d != D_QP) || t->on)
		return;
	if (m->nest >= NEST_MAX) {
		anom(m, SL_ANOM_MIME_DEPTH, "encoded message/rfc822 not decoded");
		return;
	}
	if (!t->child) {
		struct sl_mime_limits l = m->lim;

		l.max_depth = m->depth_cap;
		size_t cost = sl_mime_state_size(&l);

		/* Refused: only the raw reading, as without memory. */
		if (!mem_take(m, cost)) {
			anom(m, SL_ANOM_MIME_MEMCAP, "encoded message/rfc822 not decoded");
			return;
		}
		t->child = sl_mime_new(&l, &nest_cb, m, m->ctr);
		if (!t->child) {
			mem_give(m, cost);
			anom(m, SL_ANOM_MIME_GAVE_UP, "decoded message/rfc822: no memory");
			return;
		}
		t->charged = cost;
		t->child->nest = (uint8_t)(m->nest + 1);
	}
	restart(t->child);
	t->child->lim.max_depth = (uint16_t)(m->lim.max_depth - (m->e.hp.depth + 1));
	t->child->lim.max_parts = m->lim.max_parts - (m->next_id - 1);
	t->on = t->fresh = true;
	t->ending = false;
	t->dec = (uint8_t)d;
	t->level = m->nlev - 1;
	t->id = m->e.hp.id;
	t->base = (uint16_t)(m->e.hp.depth + 1);
	t->hn = 0;
	sl_b64_init(&t->b64, SL_B64_CONTINUE);	/* Thunderbird's reading */
	sl_qp_init(&t->qp);
	tap_in(m, pre, n);
}

/* The level is closing (see level_pop, give_up_all): the tap ends after
 * this step, tail: the bytes ending it. */
static void tap_end(struct sl_mime *m, size_t tail)
{
	if (!m->tap.on || m->tap.ending)
		return;
	m->tap.ending = true;
	m->tap.tail = tail;
}

static void tap_close(struct sl_mime *m)
{
	struct tap *t = &m->tap;
	uint8_t tl[8];
	size_t k;

	t->hn -= t->tail < t->hn ? t->tail : t->hn;
	tap_dec(m, t->hold, t->hn);
	t->hn = 0;
	if (t->dec == D_B64) {
		k = sl_b64_finish(&t->b64, tl);
		if (t->b64.flags & SL_B64_F_JUNK)
			tap_anom(m, SL_ANOM_MIME_BASE64_JUNK);
		if (t->b64.flags & (SL_B64_F_DANGLING | SL_B64_F_UNPADDED))
			tap_anom(m, SL_ANOM_MIME_BASE64_TRUNCATED);
	} else {
		k = sl_qp_finish(&t->qp, tl);
		if (t->qp.flags & (SL_QP_F_INVALID | SL_QP_F_TRAILING))
			tap_anom(m, SL_ANOM_MIME_QP_INVALID);
	}
	if (k)
		feed(t->child, tl, k);
	sl_mime_finish(t->child);
	/* Its parts count against max_parts here too; charged now, at a point
	 * that does not depend on how the input was cut. */
	uint64_t next = (uint64_t)m->next_id + t->child->next_id - 1;

	if (next > (uint64_t)m->lim.max_parts + 1)
		next = (uint64_t)m->lim.max_parts + 1;
	if (next > m->next_id)
		m->next_id = (uint32_t)next;
	t->on = t->ending = t->fresh = false;
}

/* After each step of the top-level loop over p[0..n). */
static void tap_after(struct sl_mime *m, const uint8_t *p, size_t n)
{
	struct tap *t = &m->tap;

	if (!t->on)
		return;
	if (t->fresh)
		t->fresh = false;
	else
		tap_in(m, p, n);
	if (t->ending)
		tap_close(m);
}

/* ---- levels -------------------------------------------------------------- */

static bool b_prefix(const char *a, size_t al, const char *b, size_t bl)
{
	return al < bl && memcmp(a, b, al) == 0;
}

static void level_push(struct sl_mime *m, bool multipart)
{
	struct level *L = &m->lev[m->nlev];

	memset(L, 0, sizeof(*L));
	L->id = m->e.hp.id;
	L->depth = m->e.hp.depth;
	L->multipart = multipart;
	L->digest = !strcmp(m->e.ct, "multipart/digest");
	if (multipart) {
		for (unsigned j = 0; j < m->e.nb; j++) {
			const char *b = m->e.b[j];
			size_t bl = strlen(b);

			for (unsigned k = 0; k < m->nlev; k++) {
				for (unsigned i = 0; i < m->lev[k].nb; i++) {
					const char *o = m->lev[k].b[i];
					size_t ol = m->lev[k].blen[i];

					if (ol == bl && !memcmp(o, b, bl))
						anom(m, SL_ANOM_MIME_BOUNDARY_REUSED, NULL);
					else if (b_prefix(b, bl, o, ol) || b_prefix(o, ol, b, bl))
						anom(m, SL_ANOM_MIME_BOUNDARY_PREFIX, NULL);
				}
			}
			memcpy(L->b[L->nb], b, bl + 1);
			L->blen[L->nb++] = (uint16_t)bl;
		}
		m->nbound += L->nb;
	}
	m->nlev++;
}

/* tail: the bytes that end the level, if a tapped one (see struct tap). */
static void level_pop(struct sl_mime *m, size_t tail)
{
	struct level *L = &m->lev[m->nlev - 1];

	if (L->multipart) {
		if (L->seen_delim && !L->closed)
			anom(m, SL_ANOM_MIME_CLOSE_MISSING, "multipart %u", L->id);
		m->nbound -= L->nb;
	}
	if (m->tap.level == m->nlev - 1)
		tap_end(m, tail);
	m->nlev--;
}

/* ---- delimiter classification --------------------------------------------- */

enum bm { BM_NO, BM_MAYBE, BM_MATCH };

struct dm {
	unsigned level;
	bool close;
	size_t len;		/* the delimiter line, its line ending included */
	size_t elen;		/* the line ending before it, withheld from the body */
};

/* Does line l[0..n) match "--" b ["--"] [ \t]* (CRLF|LF|end)?  complete: no
 * more bytes will come for this line (LF inside, or end of input). */
static enum bm bmatch(const uint8_t *l, size_t n, bool complete, bool eof, const char *b,
		      size_t bl, bool *close, bool *look, bool *bare_cr)
{
	size_t q;

	if (n < 2)
		return !complete && (n == 0 || l[0] == '-') ? BM_MAYBE : BM_NO;
	if (l[0] != '-' || l[1] != '-')
		return BM_NO;
	q = n - 2 < bl ? n - 2 : bl;
	if (memcmp(l + 2, b, q) != 0)
		return BM_NO;
	if (n - 2 < bl)
		return complete ? BM_NO : BM_MAYBE;
	q = 2 + bl;
	*close = false;
	if (q < n && l[q] == '-') {
		if (q + 1 == n)
			return complete ? BM_NO : BM_MAYBE;
		if (l[q + 1] != '-') {
			*look = true;
			return BM_NO;
		}
		*close = true;
		q += 2;
	}
	while (q < n && (l[q] == ' ' || l[q] == '\t'))
		q++;
	if (q == n)
		return eof ? BM_MATCH : complete ? BM_NO : BM_MAYBE;
	if (l[q] == '\n')
		return BM_MATCH;
	if (l[q] == '\r') {
		if (q + 1 == n)
			return eof ? BM_MATCH : BM_MAYBE;
		if (l[q + 1] == '\n')
			return BM_MATCH;
		*bare_cr = true;
		return BM_NO;
	}
	*look = true;
	return BM_NO;
}

/* Classifies the line starting at l (n bytes available).  Only the first
 * CAND_MAX bytes count, so the answer does not depend on how input is cut. */
static enum cls classify(struct sl_mime *m, const uint8_t *l, size_t n, bool eof, struct dm *d)
{
	size_t v = n < CAND_MAX ? n : CAND_MAX;
	const uint8_t *lf = memchr(l, '\n', v);
	size_t len = lf ? (size_t)(lf - l) + 1 : v;
	bool over = !lf && n >= CAND_MAX;
	bool complete = lf || eof || over;
	bool maybe = false, look = false, bare_cr = false;

	for (unsigned k = 0; k < m->nlev; k++) {
		const struct level *L = &m->lev[k];

		for (unsigned j = 0; j < L->nb; j++) {
			bool close = false;
			enum bm r = bmatch(l, len, complete, eof && !lf, L->b[j], L->blen[j], &close,
					   &look, &bare_cr);

			if (r == BM_MATCH) {
				d->level = k;
				d->close = close;
				d->len = len;
				return C_DELIM;
			}
			maybe |= r == BM_MAYBE;
		}
	}
	if (maybe)
		return C_MORE;
	if (over && len >= 2 && l[0] == '-' && l[1] == '-') {
		/* "--boundary" + padding longer than kept: re-check as prefix */
		for (unsigned k = 0; k < m->nlev; k++)
			for (unsigned j = 0; j < m->lev[k].nb; j++)
				if (len - 2 >= m->lev[k].blen[j] &&
				    !memcmp(l + 2, m->lev[k].b[j], m->lev[k].blen[j]))
					look = true;
		if (look)
			anom(m, SL_ANOM_MIME_BOUNDARY_PADDING, NULL);
		return C_NO;
	}
	if (look)
		anom(m, SL_ANOM_MIME_BOUNDARY_LOOKALIKE, NULL);
	if (bare_cr)
		anom(m, SL_ANOM_MIME_BOUNDARY_BARE_CR, NULL);
	return C_NO;
}

/* ---- entity resolution ----------------------------------------------------- */

static bool is_ws(uint8_t c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* RFC 2046 bchars, at most 70, not ending in a space. */
static bool b_usual(const char *b, size_t n)
{
	if (n == 0 || n > 70 || b[n - 1] == ' ')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = b[i];

		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      strchr("'()+_,-./:=? ", c)))
			return false;
	}
	return true;
}

static void ent_add_boundary(struct sl_mime *m, char *b)
{
	struct ent *e = &m->e;
	size_t n = strlen(b);

	while (n && is_ws((uint8_t)b[n - 1]))	/* Python rstrips it */
		b[--n] = '\0';
	if (n == 0)
		return;
	if (n > BOUNDARY_MAX) {
		e->b_toolong = true;
		return;
	}
	for (unsigned i = 0; i < e->nb; i++)
		if (!strcmp(e->b[i], b))
			return;
	if (!b_usual(b, n))
		anom(m, SL_ANOM_MIME_BOUNDARY_UNUSUAL, NULL);
	if (e->nb > 0)
		anom(m, SL_ANOM_MIME_BOUNDARY_DUPLICATE, NULL);
	if (e->nb == NB_MAX)
		return;
	memcpy(e->b[e->nb++], b, n + 1);
}

/* Charset trouble (enum sl_cs_flag) met while decoding 'what'. */
static void cs_anoms(struct sl_mime *m, unsigned f, const char *what)
{
	if (f & SL_CS_F_UNKNOWN)
		anom(m, SL_ANOM_MIME_CHARSET_UNKNOWN, "%s", what);
	if (f & SL_CS_F_INVALID)
		anom(m, SL_ANOM_MIME_CHARSET_INVALID, "%s", what);
	if (f & SL_CS_F_BAD_WORD)
		anom(m, SL_ANOM_MIME_RFC2047_BAD, "%s", what);
}

static void param_anoms(struct sl_mime *m, unsigned f, bool is_name)
{
	if ((f & SL_MP_F_DUP) && !(f & SL_MP_F_DIFFER))
		anom(m, SL_ANOM_MIME_PARAM_DUPLICATE, NULL);
	cs_anoms(m, (f & SL_MP_F_CS_UNKNOWN ? SL_CS_F_UNKNOWN : 0) |
		    (f & SL_MP_F_CS_INVALID ? SL_CS_F_INVALID : 0), "RFC 2231 value");
	if (f & SL_MP_F_SEG_GAP)
		anom(m, SL_ANOM_MIME_RFC2231_BAD, NULL);
	if ((f & SL_MP_F_NUL) && is_name)
		anom(m, SL_ANOM_MIME_FILENAME_NUL, NULL);
}

/* Gets one parameter; the conflicting value (if any) lands in alt. */
static void ent_param(struct sl_mime *m, const uint8_t *v, size_t n, const char *name,
		      char *out, size_t cap, char *alt, size_t acap)
{
	unsigned f = 0;

	sl_mime_param(&m->cc, v, n, name, out, cap, alt, acap, &f);
	param_anoms(m, f, name[0] == 'f' || name[0] == 'n');
}

static void lower(char *s)
{
	for (; *s; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s - 'A' + 'a');
}

static void hdr_content_type(struct sl_mime *m, const uint8_t *v, size_t n)
{
	struct ent *e = &m->e;
	char t[CT_MAX], b[BOUNDARY_MAX + 2], ba[BOUNDARY_MAX + 2], nm[FN_MAX], na[FN_MAX];

	sl_mime_hdr_type(v, n, t, sizeof(t));
	ent_param(m, v, n, "boundary", b, sizeof(b), ba, sizeof(ba));
	if (e->nct++ == 0) {
		memcpy(e->ct, t, sizeof(t));
		ent_param(m, v, n, "charset", e->cs, sizeof(e->cs), nm, sizeof(nm));
		lower(e->cs);
		ent_param(m, v, n, "name", e->nm, sizeof(e->nm), e->nm_alt, sizeof(e->nm_alt));
		if (!e->ct[0] || e->ct[0] == '/' || strchr(e->ct, '/') != strrchr(e->ct, '/') ||
		    !strchr(e->ct, '/')) {
			anom(m, SL_ANOM_MIME_CT_INVALID, NULL);
			snprintf(e->ct, sizeof(e->ct), "%s", "text/plain");
		}
		e->hp.content_type = e->ct;
	} else {
		if (strcmp(t, e->ct) && strcmp(t, e->ct_alt)) {
			anom(m, SL_ANOM_MIME_CT_DUPLICATE, "%s / %s", e->ct, t);
			memcpy(e->ct_alt, t, sizeof(t));
		}
		ent_param(m, v, n, "name", nm, sizeof(nm), na, sizeof(na));
		if (nm[0] && strcmp(nm, e->nm) && !e->nm_alt[0])
			snprintf(e->nm_alt, sizeof(e->nm_alt), "%s", nm);
	}
	if (b[0] && strlen(b) > BOUNDARY_MAX)
		e->b_toolong = true;
	else if (b[0])
		ent_add_boundary(m, b);
	if (ba[0] && strlen(ba) > BOUNDARY_MAX)
		e->b_toolong = true;
	else if (ba[0])
		ent_add_boundary(m, ba);
}

static void hdr_token(const uint8_t *v, size_t n, char *out, size_t cap)
{
	size_t o = 0;

	for (size_t i = 0; i < n && o + 1 < cap; i++) {
		uint8_t c = v[i];

		if (is_ws(c) || c == ';' || c == '(')
			break;
		out[o++] = (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
	}
	out[o] = '\0';
}

static void hdr_cte(struct sl_mime *m, const uint8_t *v, size_t n)
{
	struct ent *e = &m->e;
	char t[TOK_MAX];

	hdr_token(v, n, t, sizeof(t));
	if (e->ncte++ == 0)
		memcpy(e->cte, t, sizeof(t));
	else if (strcmp(t, e->cte))
		memcpy(e->cte_alt, t, sizeof(t));	/* the last one, as last-wins clients */
}

static void hdr_disposition(struct sl_mime *m, const uint8_t *v, size_t n)
{
	struct ent *e = &m->e;
	char t[TOK_MAX], fn[FN_MAX], fa[FN_MAX];

	hdr_token(v, n, t, sizeof(t));
	ent_param(m, v, n, "filename", fn, sizeof(fn), fa, sizeof(fa));
	if (e->ncd++ == 0) {
		memcpy(e->disp, t, sizeof(t));
		memcpy(e->fn, fn, sizeof(fn));
		memcpy(e->fn_alt, fa, sizeof(fa));
		e->hp.disposition = e->disp;
		return;
	}
	/* A second disposition: any "attachment" counts; another name is an alt. */
	if (!strcmp(t, "attachment"))
		memcpy(e->disp, t, sizeof(t));
	if (fn[0] && strcmp(fn, e->fn) && !e->fn_alt[0])
		memcpy(e->fn_alt, fn, sizeof(fn));
}

/* RFC 2047 inside a file name, as clients decode it. */
static void fn_decode(struct sl_mime *m, const char *in, char *out)
{
	unsigned f = 0;

	if (!in[0]) {
		out[0] = '\0';
		return;
	}
	if (sl_rfc2047_decode(&m->cc, (const uint8_t *)in, strlen(in), out, FN_MAX, m->scratch,
			      &f) != strlen(out))
		anom(m, SL_ANOM_MIME_FILENAME_NUL, NULL);	/* a C string stops there */
	cs_anoms(m, f, "file name");
}

/* Fills hp from what the headers said, once they are all read. */
static void ent_resolve(struct sl_mime *m)
{
	struct ent *e = &m->e;
	struct sl_mime_part *p = &e->hp;
	char dec[FN_MAX];
	const char *cand[3] = { e->fn_alt, e->nm, e->nm_alt };

	if (!e->nct)
		snprintf(e->ct, sizeof(e->ct), "%s", e->digest_child ? "message/rfc822" : "text/plain");
	p->content_type = e->ct;
	p->alt_content_type = e->ct_alt[0] ? e->ct_alt : NULL;
	p->charset = e->cs[0] ? e->cs : NULL;
	p->disposition = e->disp[0] ? e->disp : NULL;

	fn_decode(m, e->fn[0] ? e->fn : e->nm, e->fname);
	e->afname[0] = '\0';
	for (unsigned i = 0; i < 3 && !e->afname[0]; i++) {
		if (!cand[i][0])
			continue;
		fn_decode(m, cand[i], dec);
		if (strcmp(dec, e->fname))
			memcpy(e->afname, dec, sizeof(dec));
	}
	p->filename = e->fname[0] ? e->fname : NULL;
	p->alt_filename = e->afname[0] ? e->afname : NULL;
	if (p->alt_filename)
		anom(m, SL_ANOM_MIME_FILENAME_CONFLICT, "%s / %s", e->fname, e->afname);

	bool text = !strncmp(e->ct, "text/", 5);
	bool multi = !strncmp(e->ct, "multipart/", 10);
	bool atext = !e->ct_alt[0] || !strncmp(e->ct_alt, "text/", 5);

	p->is_attachment = p->filename || p->alt_filename || !strcmp(e->disp, "attachment") ||
			   (!text && !multi) || !atext;
	p->is_text = text && !p->is_attachment;
}

static bool ident_cte(const char *c)
{
	bool k;

	return cte_dec(c, &k) == D_IDENT;
}

/* Opens the readings of the current entity's body. */
static void leaf_start(struct sl_mime *m, bool raw)
{
	struct ent *e = &m->e;
	const char *ctes[2] = { e->cte, e->cte_alt };
	unsigned n = 0;

	m->nrd = 0;
	m->uu_scan = false;
	for (unsigned i = 0; i < 2 && !raw; i++) {
		bool known;
		enum dec d;

		if (i == 1 && !ctes[1][0])
			break;
		d = cte_dec(ctes[i], &known);
		if (!known)
			anom(m, SL_ANOM_MIME_CTE_UNKNOWN, "%s", ctes[i]);
		if (i == 1) {
			if (d == m->rd[0].dec)
				break;	/* "7bit" vs "8bit": one reading */
			anom(m, SL_ANOM_MIME_CTE_DUPLICATE, "%s / %s", ctes[0], ctes[1]);
			if (n >= m->lim.max_readings) {
				anom(m, SL_ANOM_MIME_READINGS_LIMIT, NULL);
				break;
			}
		}
		struct reading *r = &m->rd[n];

		memset(r, 0, sizeof(*r));
		r->p = e->hp;
		r->p.reading = (uint8_t)n;
		r->p.encoding = d == D_IDENT && known && ctes[i][0] ? ctes[i] : dec_name[d];
		r->dec = (uint8_t)d;
		n++;
	}
	if (!raw && e->no_colon) {
		if (n >= m->lim.max_readings) {
			anom(m, SL_ANOM_MIME_READINGS_LIMIT, "headers read on past a line "
			     "without a colon");
		} else {
			struct reading *r = &m->rd[n];

			memset(r, 0, sizeof(*r));
			r->p = e->hp;
			r->p.reading = (uint8_t)n;
			r->hdrs = true;
			m->alt.e = *e;
			m->alt.ls = m->alt.len = m->alt.line = m->alt.total = 0;
			n++;
		}
	}
	if (raw) {
		struct reading *r = &m->rd[0];

		memset(r, 0, sizeof(*r));
		r->p = e->hp;
		r->p.raw_fallback = true;
		r->p.encoding = "raw";
		r->dec = D_IDENT;
		n = 1;
	}
	m->nrd = n;
	for (unsigned i = 0; i < n; i++)
		if (!m->rd[i].hdrs)
			rd_open(m, &m->rd[i], (enum dec)m->rd[i].dec,
				i == 0 ? SL_B64_STOP : SL_B64_CONTINUE);
	if (!raw && m->rd[0].p.is_text) {
		m->uu_scan = true;
		sl_uu_init(&m->uus);
		m->uu_open = false;
	}
	m->st = S_BODY;
	m->sol = true;
	m->clen = 0;
}

static void give_up_entity(struct sl_mime *m, enum sl_anomaly why)
{
	anom(m, why, NULL);
	anom(m, SL_ANOM_MIME_GAVE_UP, NULL);
	ent_resolve(m);
	leaf_start(m, true);
}

/* End of the header block: leaf, multipart or message/rfc822.  pre[0..n):
 * body bytes already consumed (the colon-less line that ended the block). */
static void headers_end(struct sl_mime *m, const uint8_t *pre, size_t n)
{
	struct ent *e = &m->e;

	ent_resolve(m);
	bool multi = !strncmp(e->ct, "multipart/", 10) || !strncmp(e->ct_alt, "multipart/", 10);
	bool msg = !strcmp(e->ct, "message/rfc822") || !strcmp(e->ct, "message/global");
	bool deep = (unsigned)e->hp.depth + 1 > m->lim.max_depth;

	if (multi) {
		if (!ident_cte(e->cte))
			anom(m, SL_ANOM_MIME_CONTAINER_ENCODED, "%s", e->cte);
		if (e->b_toolong)
			return give_up_entity(m, SL_ANOM_MIME_BOUNDARY_TOO_LONG);
		if (!e->nb) {
			anom(m, SL_ANOM_MIME_NO_BOUNDARY, NULL);
			return leaf_start(m, true);
		}
		if (deep)
			return give_up_entity(m, SL_ANOM_MIME_DEPTH);
		level_push(m, true);
		ps_start(m, SL_MIME_KIND_PREAMBLE);
		return;
	}
	if (msg) {
		/* Descended raw whatever the transfer encoding says, as Python
		 * does; base64 or quoted-printable is also undone, as clients do,
		 * and that message decoded too (struct tap). */
		if (!ident_cte(e->cte) || !ident_cte(e->cte_alt))
			anom(m, SL_ANOM_MIME_CONTAINER_ENCODED, "%s",
			     !ident_cte(e->cte) ? e->cte : e->cte_alt);
		if (deep)
			return give_up_entity(m, SL_ANOM_MIME_DEPTH);
		level_push(m, false);
		tap_open(m, pre, n);
		ent_reset(m, e->hp.id, (uint16_t)(e->hp.depth + 1), false);
		return;
	}
	leaf_start(m, false);
}

/* ---- header block ------------------------------------------------------------ */

/* false: *why says whether the memcap refused (mime.memcap) or malloc did
 * (then the field is as good as too long). */
static bool hbuf_reserve(struct sl_mime *m, size_t need, enum sl_anomaly *why)
{
	size_t cap = m->hcap ? m->hcap : HBUF_MIN;

	if (need <= m->hcap)
		return true;
	while (cap < need)
		cap *= 2;
	/* Charged before the realloc and kept if one fails: a buffer may have
	 * grown already. */
	if (hbuf_cost(cap) > m->hcharged) {
		if (!mem_take(m, hbuf_cost(cap) - m->hcharged)) {
			*why = SL_ANOM_MIME_MEMCAP;
			return false;
		}
		m->hcharged = hbuf_cost(cap);
	}
	uint8_t *h = realloc(m->hbuf, cap);

	if (!h)
		return false;
	m->hbuf = h;
	uint8_t *d = realloc(m->dbuf, 2 * cap + 1), *s;

	if (!d)
		return false;
	m->dbuf = d;
	s = realloc(m->sbuf, cap);
	if (!s)
		return false;
	m->sbuf = s;
	m->hcap = cap;
	return true;
}

/* Delivers the pending field hbuf[0..ls) and moves the current line to the
 * front. */
static void hdr_flush(struct sl_mime *m)
{
	struct ent *e = &m->e;
	uint8_t *f = m->hbuf;
	size_t fl = m->ls;

	if (fl) {
		/* a leading continuation has no name */
		uint8_t *colon = f[0] == ' ' || f[0] == '\t' ? NULL : memchr(f, ':', fl);
		size_t nl = colon ? (size_t)(colon - f) : 0;
		uint8_t *v = colon ? colon + 1 : f;
		size_t vl = sl_mime_hdr_unfold(v, fl - (size_t)(v - f));
		unsigned df = 0;

		while (nl && (f[nl - 1] == ' ' || f[nl - 1] == '\t'))
			nl--;
		f[nl] = '\0';	/* the ':' or a blank; the value starts after it */
		if (memchr(v, 0, vl))
			anom(m, SL_ANOM_MIME_HEADER_NUL, "%s", (char *)f);
		for (size_t i = 0; i < vl; i++) {
			if (v[i] >= 0x80) {
				anom(m, SL_ANOM_MIME_HEADER_8BIT, "%s", (char *)f);
				break;
			}
		}
		if (!strcasecmp((char *)f, "content-type"))
			hdr_content_type(m, v, vl);
		else if (!strcasecmp((char *)f, "content-transfer-encoding"))
			hdr_cte(m, v, vl);
		else if (!strcasecmp((char *)f, "content-disposition"))
			hdr_disposition(m, v, vl);
		size_t dl = sl_rfc2047_decode(&m->cc, v, vl, (char *)m->dbuf, 2 * m->hcap + 1,
					      m->sbuf, &df);

		cs_anoms(m, df, (char *)f);
		sl_ctr_inc(m->ctr, SL_CTR_MIME_HEADERS);
		if (m->cb.header)
			m->cb.header(m->u, &e->hp, (char *)f, (char *)m->dbuf, dl);
	}
	if (m->hlen > fl)
		memmove(m->hbuf, m->hbuf + fl, m->hlen - fl);
	m->hlen -= fl;
	m->ls = 0;
}

static void dispatch(struct sl_mime *m, const uint8_t *p, size_t n);
static void on_delim(struct sl_mime *m, const struct dm *d);

/* An entity exists once it has a line that is not a delimiter (two
 * delimiters in a row make no part, as in Python); past max_parts the decoder
 * gives up instead (false: the raw part takes the bytes). */
static bool ent_id(struct sl_mime *m)
{
	if (m->e.any)
		return true;
	m->e.any = true;
	if (take_id(m, &m->e.hp.id))
		return true;
	give_up_all(m, NULL, 0);
	return false;
}

/* Is the line at hbuf[0..n) a field ("name:")?  *space: blank before ':'. */
static bool field_line(const uint8_t *l, size_t n, bool *space)
{
	const uint8_t *c = memchr(l, ':', n);
	size_t nl;

	if (!c)
		return false;
	nl = (size_t)(c - l);
	*space = false;
	while (nl && (l[nl - 1] == ' ' || l[nl - 1] == '\t')) {
		nl--;
		*space = true;
	}
	if (nl == 0)
		return !*space;	/* ":value": a field without a name, as Python reads it */
	for (size_t i = 0; i < nl; i++)
		if (l[i] <= ' ' || l[i] >= 0x7f)
			return false;
	return true;
}

/* ---- the reading on past a colon-less header line (struct alt) ---------- */

/* Exchanges the current entity and the alternative one: the header helpers
 * and ent_resolve work on m->e (and raise anomalies against it: the same
 * part).  Done around each call, so m->e is the current entity otherwise. */
static void alt_swap(struct sl_mime *m)
{
	struct ent t;

	memcpy(&t, &m->e, sizeof(t));
	memcpy(&m->e, &m->alt.e, sizeof(t));
	memcpy(&m->alt.e, &t, sizeof(t));
}

/* One field read on, f[0..fl) with its folded lines. */
static void alt_field(struct sl_mime *m, uint8_t *f, size_t fl)
{
	static const char *const names[] = {
		"content-type", "content-transfer-encoding", "content-disposition",
	};
	uint8_t *colon = memchr(f, ':', fl);
	size_t nl = colon ? (size_t)(colon - f) : 0;
	unsigned k;

	while (nl && (f[nl - 1] == ' ' || f[nl - 1] == '\t'))
		nl--;
	for (k = 0; k < 3; k++)
		if (nl == strlen(names[k]) && !strncasecmp((char *)f, names[k], nl))
			break;
	if (k == 3)
		return;
	uint8_t *v = colon + 1;
	size_t vl = sl_mime_hdr_unfold(v, fl - (size_t)(v - f));

	alt_swap(m);
	if (k == 0)
		hdr_content_type(m, v, vl);
	else if (k == 1)
		hdr_cte(m, v, vl);
	else
		hdr_disposition(m, v, vl);
	alt_swap(m);
}

/* p's strings point into the entity at 'from'; make them point at the same
 * fields of the copy at 'to'. */
static void hp_rebase(struct sl_mime_part *p, const struct ent *from, const struct ent *to)
{
	const char **s[] = { &p->content_type, &p->alt_content_type, &p->charset,
			     &p->disposition, &p->filename, &p->alt_filename };
	uintptr_t lo = (uintptr_t)from, hi = lo + sizeof(*from);

	for (unsigned i = 0; i < sizeof(s) / sizeof(s[0]); i++)
		if ((uintptr_t)*s[i] >= lo && (uintptr_t)*s[i] < hi)
			*s[i] = (const char *)to + ((uintptr_t)*s[i] - lo);
}

/* The blank line: the reading begins, decoded as its headers say. */
static void alt_open(struct sl_mime *m, struct reading *r)
{
	struct alt *a = &m->alt;
	bool known;

	alt_swap(m);
	ent_resolve(m);
	alt_swap(m);
	hp_rebase(&a->e.hp, &m->e, &a->e);
	enum dec d = cte_dec(a->e.cte, &known);
	uint8_t reading = r->p.reading;

	r->p = a->e.hp;
	r->p.reading = reading;
	r->p.encoding = d == D_IDENT && known && a->e.cte[0] ? a->e.cte : dec_name[d];
	r->hdrs = false;
	rd_open(m, r, d, SL_B64_CONTINUE);
}

/* The current line joins the pending field.  The field is cut to leave room
 * for the first bytes of the next line, so a blank line is always seen. */
static void alt_pend(struct alt *a)
{
	if (a->len > sizeof(a->buf) - 2)
		a->len = sizeof(a->buf) - 2;
	a->ls = a->len;
}

/* One complete line at buf[ls..len) (line bytes long, maybe not all kept).
 * Returns true at the blank line ending the headers. */
static bool alt_line(struct sl_mime *m, struct reading *r)
{
	struct alt *a = &m->alt;
	uint8_t *l = a->buf + a->ls;
	size_t n = a->len - a->ls;
	bool space;

	/* n >= min(line, 2): see alt_pend */
	if ((a->line == 1 && l[0] == '\n') || (a->line == 2 && l[0] == '\r' && l[1] == '\n')) {
		if (a->ls)
			alt_field(m, a->buf, a->ls);
		alt_open(m, r);
		return true;
	}
	if (n && (l[0] == ' ' || l[0] == '\t')) {
		/* continues the pending field; with none, skipped */
		if (a->ls)
			alt_pend(a);
		else
			a->len = 0;
		return false;
	}
	if (a->ls) {
		alt_field(m, a->buf, a->ls);
		memmove(a->buf, l, n);
		a->len = n;
		a->ls = 0;
		l = a->buf;
	}
	if (field_line(l, n, &space))
		alt_pend(a);
	else
		a->len = 0;	/* not a field either: skipped, as those clients do */
	return false;
}

/* Header lines of the reading on.  Returns the bytes taken: all of p, or
 * up to the blank line (the reading has begun; the rest is its body). */
static size_t alt_feed(struct sl_mime *m, struct reading *r, const uint8_t *p, size_t n)
{
	struct alt *a = &m->alt;
	size_t i = 0;

	while (i < n) {
		const uint8_t *lf = memchr(p + i, '\n', n - i);
		size_t take = lf ? (size_t)(lf - (p + i)) + 1 : n - i;
		size_t keep = take < sizeof(a->buf) - a->len ? take : sizeof(a->buf) - a->len;

		memcpy(a->buf + a->len, p + i, keep);
		a->len += keep;
		a->line += take;
		a->total += take;
		i += take;
		if (a->total > m->lim.max_header_bytes) {
			/* Headers that never end: this reading gives up (reading 0
			 * has every byte). */
			anom(m, SL_ANOM_MIME_READINGS_LIMIT, "headers read on past a line "
			     "without a colon: too long");
			r->hdrs = false;
			return n;
		}
		if (!lf)
			break;
		bool end = alt_line(m, r);

		a->line = 0;
		if (end)
			return i;
	}
	return i;
}

/* One complete physical line at hbuf[ls..hlen) (eof: without its LF).
 * Returns true when the header block is over. */
static bool hdr_line(struct sl_mime *m, bool eof)
{
	struct ent *e = &m->e;
	uint8_t *l = m->hbuf + m->ls;
	size_t n = m->hlen - m->ls;
	struct dm d;
	bool space = false;

	if (n > LINE_RFC_MAX + 2)
		anom(m, SL_ANOM_MIME_LINE_TOO_LONG, "header");
	if (m->nbound && n >= 2 && l[0] == '-' && l[1] == '-' &&
	    classify(m, l, n, eof, &d) == C_DELIM) {
		m->hlen = m->ls;	/* the delimiter line is consumed */
		d.elen = 0;	/* the line ending before it ended a header line */
		on_delim(m, &d);
		return true;
	}
	if (!ent_id(m)) {
		part_data(m, &m->ps.p, l, n);
		m->hlen = m->ls = 0;
		return true;
	}
	if ((n == 1 && l[0] == '\n') || (n == 2 && l[0] == '\r' && l[1] == '\n')) {
		m->hlen = m->ls;
		hdr_flush(m);
		headers_end(m, NULL, 0);
		return true;
	}
	if (n && (l[0] == ' ' || l[0] == '\t')) {
		if (m->ls == 0) {
			/* nothing to continue: delivered with an empty name */
			anom(m, SL_ANOM_MIME_HEADER_CONT_FIRST, NULL);
			e->got_field = true;
		}
		m->ls = m->hlen;
		return false;
	}
	hdr_flush(m);
	l = m->hbuf;
	if (!e->got_field && e->hp.depth == 0 && e->hp.id == 1 && n > 5 &&
	    !memcmp(l, "From ", 5)) {
		anom(m, SL_ANOM_MIME_MBOX_FROM, NULL);
		m->hlen = 0;
		return false;
	}
	if (field_line(l, n, &space)) {
		if (space)
			anom(m, SL_ANOM_MIME_HEADER_NAME_SPACE, NULL);
		if (l[0] == ':')
			anom(m, SL_ANOM_MIME_HEADER_EMPTY_NAME, NULL);
		if (e->nhdr >= m->lim.max_headers) {
			give_up_entity(m, SL_ANOM_MIME_TOO_MANY_HEADERS);
			/* the line starts the raw body */
			memcpy(m->sbuf, m->hbuf, m->hlen);
			n = m->hlen;
			m->hlen = 0;
			dispatch(m, m->sbuf, n);
			return true;
		}
		e->nhdr++;
		e->got_field = true;
		m->ls = m->hlen;
		return false;
	}
	/* Not a field: the headers end and this line is the first of the body
	 * (Python does the same).  Some clients read on: another reading
	 * (struct alt) follows them. */
	if (n) {
		anom(m, SL_ANOM_MIME_HEADER_NO_COLON, NULL);
		e->no_colon = true;
	}
	if (n)
		memcpy(m->sbuf, m->hbuf, n);
	m->hlen = 0;
	headers_end(m, m->sbuf, n);
	/* sbuf is the RFC 2047 scratch: safe, the line is copied into hbuf
	 * whole before any field is processed. */
	dispatch(m, m->sbuf, n);
	return true;
}

static size_t hdr_feed(struct sl_mime *m, const uint8_t *p, size_t n)
{
	size_t i = 0;

	while (i < n) {
		const uint8_t *lf = memchr(p + i, '\n', n - i);
		size_t take = lf ? (size_t)(lf - (p + i)) + 1 : n - i;
		enum sl_anomaly why = SL_ANOM_MIME_HEADER_TOO_LONG;

		if (m->hlen + take > m->lim.max_header_bytes ||
		    !hbuf_reserve(m, m->hlen + take, &why)) {
			/* Field too long to keep (or no memory to keep it): stop
			 * reading headers, everything of this entity from here is
			 * its raw body. */
			uint8_t *h = m->hbuf;
			size_t hl = m->hlen;

			if (!ent_id(m)) {
				if (why == SL_ANOM_MIME_MEMCAP)
					anom(m, why, NULL);
				part_data(m, &m->ps.p, h, hl);
				m->hlen = m->ls = 0;
				return i;
			}
			give_up_entity(m, why);
			m->hlen = m->ls = 0;
			/* hbuf holds checked lines and a partial one, so no delimiter:
			 * the body path never comes back to hbuf. */
			dispatch(m, h, hl);
			return i;
		}
		memcpy(m->hbuf + m->hlen, p + i, take);
		m->hlen += take;
		i += take;
		if (lf && hdr_line(m, false))
			return i;
	}
	return i;
}

/* ---- structure -------------------------------------------------------------- */

/* Ends whatever is open at the current position.  outer: the end comes
 * from a delimiter of an enclosing multipart or the end of input, not from
 * the innermost multipart's own delimiter (a preamble then was the body). */
static void close_current(struct sl_mime *m, bool outer)
{
	enum st was = m->st;

	switch (m->st) {
	case S_HEADERS:
		hdr_flush(m);
		if (m->e.any) {
			/* headers and no body: an empty leaf, as Python reads it */
			ent_resolve(m);
			leaf_start(m, false);
			leaf_end(m);
		}
		break;
	case S_BODY:
		leaf_end(m);
		break;
	case S_PRE:
		ps_end(m, outer);
		break;
	case S_EPI:
	case S_RAW:
		ps_end(m, false);
		break;
	default:
		break;
	}
	/* closing a preamble can run into the part limit: the raw part that
	 * takes over stays open */
	if (m->st == was || m->st != S_RAW)
		m->st = S_DONE;
}

static void on_delim(struct sl_mime *m, const struct dm *d)
{
	if (m->st == S_RAW)
		return;	/* the bytes before it hit the part limit */
	close_current(m, d->level + 1 != m->nlev || !m->lev[d->level].multipart);
	if (m->st == S_RAW)
		return;	/* closing gave up (part limit): no structure any more */
	while (m->nlev > d->level + 1)
		level_pop(m, d->elen + d->len);

	struct level *L = &m->lev[d->level];

	L->seen_delim = true;
	m->clen = 0;
	if (d->close) {
		L->closed = true;
		ps_start(m, SL_MIME_KIND_EPILOGUE);
		return;
	}
	if (L->closed) {
		/* Python and Thunderbird hide what follows in the epilogue; a
		 * client that reads on shows it: decode it. */
		anom(m, SL_ANOM_MIME_PART_AFTER_CLOSE, "multipart %u", L->id);
		L->closed = false;
	}
	ent_reset(m, L->id, (uint16_t)(L->depth + 1), L->digest);
}

/* Past max_parts: no more structure, the rest of the message is one raw
 * part (pre: bytes already held for it). */
static bool give_up_all(struct sl_mime *m, const uint8_t *pre, size_t n)
{
	uint8_t hold[WS_HOLD];

	if (n > sizeof(hold))
		n = sizeof(hold);
	if (n)
		memcpy(hold, pre, n);
	anom(m, SL_ANOM_MIME_TOO_MANY_PARTS, NULL);
	anom(m, SL_ANOM_MIME_GAVE_UP, NULL);
	if (m->st == S_BODY)
		leaf_end(m);
	else if ((m->st == S_PRE || m->st == S_EPI) && m->ps.begun)
		part_end(m, &m->ps.p);
	tap_end(m, 0);
	m->nlev = 0;
	m->nbound = 0;
	m->clen = 0;
	memset(&m->ps, 0, sizeof(m->ps));
	m->ps.p.id = m->next_id++;	/* one past max_parts */
	m->ps.p.raw_fallback = true;
	m->ps.p.is_attachment = true;
	m->ps.p.content_type = "application/octet-stream";
	m->ps.p.encoding = "raw";
	m->ps.begun = true;
	m->st = S_RAW;
	part_begin(m, &m->ps.p);
	part_data(m, &m->ps.p, hold, n);
	return false;
}

/* ---- body scanning ------------------------------------------------------------- */

static void body_emit(struct sl_mime *m, const uint8_t *p, size_t n)
{
	if (!n)
		return;
	if (m->st == S_BODY)
		leaf_data(m, p, n);
	else if (m->st == S_RAW)
		part_data(m, &m->ps.p, p, n);
	else
		ps_data(m, p, n);
}

static void carry_set(struct sl_mime *m, const uint8_t *p, size_t n, size_t elen, uint8_t cst)
{
	memcpy(m->carry, p, n);
	m->clen = n;
	m->elen = elen;
	m->cst = cst;
}

/* Body bytes with delimiters possible.  Returns bytes consumed: all of them,
 * or up to the end of a delimiter line (the state has changed then). */
static size_t scan_body(struct sl_mime *m, const uint8_t *p, size_t n)
{
	size_t i = 0;
	struct dm d;

	while (i < n) {
		const uint8_t *q = memchr(p + i, '-', n - i);

		if (!q)
			break;
		size_t j = (size_t)(q - p);

		i = j + 1;
		if (j == 0 ? !m->sol : p[j - 1] != '\n')
			continue;
		size_t e = j == 0 ? 0 : (j >= 2 && p[j - 2] == '\r' ? j - 2 : j - 1);

		switch (classify(m, p + j, n - j, false, &d)) {
		case C_NO:
			continue;
		case C_MORE:
			body_emit(m, p, e);
			if (m->st == S_RAW) {
				/* a pseudo part ran into the part limit */
				body_emit(m, p + e, n - e);
				return n;
			}
			m->sol = false;
			carry_set(m, p + e, n - e, j - e, CS_LINE);
			return n;
		case C_DELIM:
			body_emit(m, p, e);
			d.elen = j - e;
			on_delim(m, &d);
			return j + d.len;
		}
	}
	/* Hold back a trailing line ending: the next line may be a delimiter. */
	size_t e = n;

	if (n && p[n - 1] == '\n')
		e = n >= 2 && p[n - 2] == '\r' ? n - 2 : n - 1;
	else if (n && p[n - 1] == '\r')
		e = n - 1;
	body_emit(m, p, e);
	m->sol = false;
	if (m->st == S_RAW)
		body_emit(m, p + e, n - e);
	else if (e < n)
		carry_set(m, p + e, n - e, p[n - 1] == '\n' ? n - e : 0,
			  p[n - 1] == '\n' ? CS_LINE : CS_CR);
	return n;
}

/* Resolves the carry one byte at a time.  Returns bytes consumed; the byte
 * that decided "not a delimiter" is left for the scanner. */
static size_t carry_feed(struct sl_mime *m, const uint8_t *p, size_t n)
{
	size_t i = 0;
	struct dm d;

	while (m->clen && i < n) {
		uint8_t c = p[i];

		if (m->cst == CS_CR) {
			if (c == '\n') {
				m->carry[m->clen++] = c;
				m->elen = m->clen;
				m->cst = CS_LINE;
				i++;
				continue;
			}
			body_emit(m, m->carry, m->clen);
			m->clen = 0;
			return i;
		}
		m->carry[m->clen++] = c;
		switch (classify(m, m->carry + m->elen, m->clen - m->elen, false, &d)) {
		case C_MORE:
			i++;
			continue;
		case C_NO:
			m->clen--;
			body_emit(m, m->carry, m->clen);
			m->clen = 0;
			return i;
		case C_DELIM:
			d.elen = m->elen;
			m->clen = 0;
			on_delim(m, &d);
			return i + 1;
		}
	}
	return i;
}

/* One step of the machine over p[0..n): returns the bytes consumed (> 0). */
static size_t step(struct sl_mime *m, const uint8_t *p, size_t n)
{
	if (m->clen)
		return carry_feed(m, p, n);
	switch (m->st) {
	case S_HEADERS:
		return hdr_feed(m, p, n);
	case S_BODY:
	case S_PRE:
	case S_EPI:
		if (m->nbound)
			return scan_body(m, p, n);
		body_emit(m, p, n);
		return n;
	case S_RAW:
		part_data(m, &m->ps.p, p, n);
		return n;
	default:
		return n;
	}
}

/* Bytes the machine already took in, again (they are not new input). */
static void dispatch(struct sl_mime *m, const uint8_t *p, size_t n)
{
	while (n) {
		size_t used = step(m, p, n);

		p += used;
		n -= used;
	}
}

/* New input: the tap follows it step by step. */
static void feed(struct sl_mime *m, const uint8_t *p, size_t n)
{
	if (m->finished)
		return;
	while (n) {
		size_t used = step(m, p, n);

		tap_after(m, p, used);
		p += used;
		n -= used;
	}
}

void sl_mime_feed(struct sl_mime *m, const uint8_t *p, size_t n)
{
	if (!m || m->finished || !n)
		return;
	sl_ctr_add(m->ctr, SL_CTR_MIME_BYTES_IN, n);
	feed(m, p, n);
}

void sl_mime_finish(struct sl_mime *m)
{
	struct dm d;

	if (!m || m->finished)
		return;
	m->finished = true;
	if (m->st == S_HEADERS && m->hlen > m->ls)
		hdr_line(m, true);
	if (m->clen) {
		bool only_eol = m->cst == CS_CR || m->clen == m->elen;

		if (!only_eol &&
		    classify(m, m->carry + m->elen, m->clen - m->elen, true, &d) == C_DELIM) {
			d.elen = m->elen;
			m->clen = 0;
			on_delim(m, &d);
		} else if (!only_eol || m->st != S_BODY) {
			body_emit(m, m->carry, m->clen);
		}
		/* else: the last line ending of a part inside a multipart
		 * belongs to the (missing) delimiter; Python strips it too */
		m->clen = 0;
	}
	close_current(m, true);
	if (m->st == S_RAW)
		close_current(m, true);
	while (m->nlev)
		level_pop(m, 0);
	tap_after(m, NULL, 0);
	if (!m->nest)
		sl_ctr_inc(m->ctr, SL_CTR_MIME_MESSAGES);
	m->st = S_DONE;
}
