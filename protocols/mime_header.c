/* MIME header field helpers; see mime_header.h. */
#include "mime_header.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "qp.h"

#define MP_SEG_MAX 100		/* highest RFC 2231 continuation number accepted */
#define MP_JOIN_MAX 4096	/* assembled RFC 2231 value before charset conversion */

static inline bool is_wsp(uint8_t c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

size_t sl_mime_hdr_unfold(uint8_t *v, size_t n)
{
	size_t o = 0, i = 0;

	while (i < n && is_wsp(v[i]))
		i++;
	for (; i < n; i++) {
		if (v[i] == '\n')
			continue;
		if (v[i] == '\r' && i + 1 < n && v[i + 1] == '\n')
			continue;
		v[o++] = v[i];
	}
	while (o && is_wsp(v[o - 1]))
		o--;
	return o;
}

size_t sl_mime_hdr_type(const uint8_t *v, size_t n, char *out, size_t cap)
{
	const uint8_t *semi = memchr(v, ';', n);
	size_t e = semi ? (size_t)(semi - v) : n, b = 0, o = 0;

	while (b < e && is_wsp(v[b]))
		b++;
	while (e > b && is_wsp(v[e - 1]))
		e--;
	for (size_t i = b; i < e && o + 1 < cap; i++) {
		uint8_t c = v[i];

		out[o++] = (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
	}
	if (cap)
		out[o] = '\0';
	return o;
}

/* One raw parameter: slices into the field value. */
struct mp {
	const uint8_t *name, *val;
	size_t nlen, vlen;
	bool quoted;
};

/* Splits the next "name=value" off [p, end); returns where to go on, or NULL
 * at the end.  ';' inside a quoted string does not split. */
static const uint8_t *mp_next(const uint8_t *p, const uint8_t *end, struct mp *m)
{
	while (p < end && (is_wsp(*p) || *p == ';'))
		p++;
	if (p >= end)
		return NULL;
	const uint8_t *s = p;
	bool q = false;

	while (p < end && (q || *p != ';')) {
		if (*p == '"')
			q = !q;
		else if (*p == '\\' && q && p + 1 < end)
			p++;
		p++;
	}
	const uint8_t *e = p, *eq = memchr(s, '=', (size_t)(e - s));

	memset(m, 0, sizeof(*m));
	m->name = s;
	m->nlen = (size_t)((eq ? eq : e) - s);
	while (m->nlen && is_wsp(s[m->nlen - 1]))
		m->nlen--;
	if (eq) {
		const uint8_t *vb = eq + 1, *ve = e;

		while (vb < ve && is_wsp(*vb))
			vb++;
		while (ve > vb && is_wsp(ve[-1]))
			ve--;
		if (ve - vb >= 1 && *vb == '"') {
			/* The quoted string up to its closing quote; whatever
			 * follows it is ignored. */
			const uint8_t *x = vb + 1;

			while (x < ve && *x != '"') {
				if (*x == '\\' && x + 1 < ve)
					x++;
				x++;
			}
			m->val = vb + 1;
			m->vlen = (size_t)(x - vb - 1);
			m->quoted = true;
		} else {
			m->val = vb;
			m->vlen = (size_t)(ve - vb);
		}
	}
	return p;
}

/* Appends the value (quoted-pair unescaped) to buf; false when it did not fit. */
static bool mp_copy(const struct mp *m, uint8_t *buf, size_t *len, size_t cap)
{
	for (size_t i = 0; i < m->vlen; i++) {
		uint8_t c = m->val[i];

		if (m->quoted && c == '\\' && i + 1 < m->vlen)
			c = m->val[++i];
		if (*len >= cap)
			return false;
		buf[(*len)++] = c;
	}
	return true;
}

/* Appends a %xx-encoded segment, decoded. */
static bool mp_pct(const struct mp *m, uint8_t *buf, size_t *len, size_t cap)
{
	for (size_t i = 0; i < m->vlen; i++) {
		uint8_t c = m->val[i];
		int h, l;

		if (c == '%' && i + 2 < m->vlen && (h = sl_hex_digit(m->val[i + 1])) >= 0 &&
		    (l = sl_hex_digit(m->val[i + 2])) >= 0) {
			c = (uint8_t)(h << 4 | l);
			i += 2;
		}
		if (*len >= cap)
			return false;
		buf[(*len)++] = c;
	}
	return true;
}

enum { SEG_PLAIN, SEG_EXT, SEG_NUM, SEG_NUM_EXT };

/* Classifies m's name against want: returns -1 if not ours, else the kind
 * and *num (continuation number). */
static int mp_match(const struct mp *m, const char *want, size_t wl, unsigned *num)
{
	if (m->nlen < wl || strncasecmp((const char *)m->name, want, wl) != 0)
		return -1;
	const uint8_t *r = m->name + wl;
	size_t rl = m->nlen - wl;

	if (rl == 0)
		return SEG_PLAIN;
	if (r[0] != '*')
		return -1;
	if (rl == 1)
		return SEG_EXT;
	unsigned v = 0;
	size_t i = 1;

	while (i < rl && r[i] >= '0' && r[i] <= '9') {
		if (v > MP_SEG_MAX)
			return -2;
		v = v * 10 + (unsigned)(r[i++] - '0');
	}
	if (i == 1)
		return -1;
	*num = v;
	if (i == rl)
		return SEG_NUM;
	if (i + 1 == rl && r[i] == '*')
		return SEG_NUM_EXT;
	return -1;
}

/* Copies bytes as a C string, stopping at NUL (flagged). */
static void mp_out(const uint8_t *b, size_t n, char *out, size_t cap, unsigned *flags)
{
	const uint8_t *z = memchr(b, 0, n);

	if (z) {
		n = (size_t)(z - b);
		*flags |= SL_MP_F_NUL;
	}
	if (n >= cap) {
		n = cap - 1;
		*flags |= SL_MP_F_TRUNC;
	}
	memcpy(out, b, n);
	out[n] = '\0';
}

/* Assembles the RFC 2231 value of 'want' into out; 1 if present. */
static int mp_2231(struct sl_charset_cache *cc, const uint8_t *v, const uint8_t *end,
		   const char *want, size_t wl, char *out, size_t cap, unsigned *flags)
{
	uint8_t join[MP_JOIN_MAX];
	size_t jl = 0;
	struct mp m;
	unsigned num, maxn = 0;
	bool any = false, ext = false, single = false;

	for (const uint8_t *p = v; (p = mp_next(p, end, &m));) {
		int k = mp_match(&m, want, wl, &num);

		if (k == -2)
			*flags |= SL_MP_F_SEG_GAP;
		if (k == SEG_EXT && !single) {
			/* "name*=" is a whole value on its own. */
			single = any = ext = true;
			jl = 0;
			if (!mp_pct(&m, join, &jl, sizeof(join)))
				*flags |= SL_MP_F_TRUNC;
		} else if (k == SEG_NUM || k == SEG_NUM_EXT) {
			any = true;
			if (num > maxn)
				maxn = num;
		}
	}
	if (!any)
		return 0;
	*flags |= SL_MP_F_2231;
	if (!single) {
		for (unsigned s = 0; s <= maxn; s++) {
			bool found = false;

			for (const uint8_t *p = v; !found && (p = mp_next(p, end, &m));) {
				int k = mp_match(&m, want, wl, &num);

				if ((k != SEG_NUM && k != SEG_NUM_EXT) || num != s)
					continue;
				found = true;
				bool ok = k == SEG_NUM_EXT ? mp_pct(&m, join, &jl, sizeof(join))
							   : mp_copy(&m, join, &jl, sizeof(join));
				if (!ok)
					*flags |= SL_MP_F_TRUNC;
				ext |= k == SEG_NUM_EXT;
			}
			if (!found)
				*flags |= SL_MP_F_SEG_GAP;
		}
	}
	if (!ext) {
		mp_out(join, jl, out, cap, flags);
		return 1;
	}
	/* charset'language'value: without both quotes it is taken raw. */
	const uint8_t *t1 = memchr(join, '\'', jl);
	const uint8_t *t2 = t1 ? memchr(t1 + 1, '\'', jl - (size_t)(t1 + 1 - join)) : NULL;

	if (!t2) {
		mp_out(join, jl, out, cap, flags);
		return 1;
	}
	size_t csl = (size_t)(t1 - join), off = (size_t)(t2 + 1 - join);

	if (csl == 0) {
		mp_out(join + off, jl - off, out, cap, flags);
		return 1;
	}
	char conv[MP_JOIN_MAX * 3];
	unsigned cf = 0;
	size_t cl = sl_charset_to_utf8(cc, (const char *)join, csl, join + off, jl - off,
				       conv, sizeof(conv), &cf);

	if (cf & SL_CS_F_UNKNOWN)
		*flags |= SL_MP_F_CS_UNKNOWN;
	if (cf & SL_CS_F_INVALID)
		*flags |= SL_MP_F_CS_INVALID;
	if (cf & SL_CS_F_TRUNC)
		*flags |= SL_MP_F_TRUNC;
	mp_out((const uint8_t *)conv, cl, out, cap, flags);
	return 1;
}

int sl_mime_param(struct sl_charset_cache *cc, const uint8_t *v, size_t n, const char *want,
		  char *out, size_t cap, char *alt, size_t acap, unsigned *flags)
{
	const uint8_t *semi = memchr(v, ';', n), *end = v + n;
	size_t wl = strlen(want);
	uint8_t buf[MP_JOIN_MAX];
	struct mp m;
	unsigned num;
	int nplain = 0;

	if (cap == 0 || acap == 0)
		return 0;
	out[0] = '\0';
	alt[0] = '\0';
	if (!semi)
		return 0;
	for (const uint8_t *p = semi + 1; (p = mp_next(p, end, &m));) {
		if (mp_match(&m, want, wl, &num) != SEG_PLAIN)
			continue;
		size_t bl = 0;

		if (!mp_copy(&m, buf, &bl, sizeof(buf)))
			*flags |= SL_MP_F_TRUNC;
		if (nplain++ == 0) {
			mp_out(buf, bl, out, cap, flags);
			continue;
		}
		*flags |= SL_MP_F_DUP;
		if (strlen(out) != bl || memcmp(out, buf, bl) != 0) {
			*flags |= SL_MP_F_DIFFER;
			mp_out(buf, bl, alt, acap, flags);	/* the last one wins elsewhere */
		}
	}
	if (nplain == 0)
		return mp_2231(cc, semi + 1, end, want, wl, out, cap, flags);
	/* Both forms: Python takes the plain one, RFC 2231 clients the other. */
	char ext[1024];
	unsigned ef = 0;

	if (mp_2231(cc, semi + 1, end, want, wl, ext, sizeof(ext), &ef)) {
		*flags |= SL_MP_F_DUP | (ef & ~(unsigned)SL_MP_F_TRUNC);
		if (strcmp(ext, out) != 0) {
			*flags |= SL_MP_F_DIFFER;
			if (!alt[0])
				snprintf(alt, acap, "%s", ext);
		}
	}
	return 1;
}
