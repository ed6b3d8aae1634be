/* RFC 2047 encoded words and charset conversion; see rfc2047.h. */
#include "rfc2047.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "base64.h"
#include "qp.h"

#define CS_LABEL_MAX 40

/* Labels real mail carries, mapped to what glibc's iconv calls them and to
 * what clients actually decode them as (supersets where clients use one). */
static const struct {
	const char *label;
	const char *iconv;
} cs_alias[] = {
	{ "utf-8", "UTF-8" }, { "utf8", "UTF-8" },
	{ "us-ascii", "UTF-8" }, { "ascii", "UTF-8" }, { "ansi_x3.4-1968", "UTF-8" },
	{ "latin1", "ISO-8859-1" }, { "l1", "ISO-8859-1" },
	{ "gb2312", "GBK" }, { "gbk", "GBK" }, { "x-gbk", "GBK" }, { "cp936", "GBK" },
	{ "csgb2312", "GBK" }, { "gb_2312-80", "GBK" }, { "euc-cn", "GBK" },
	{ "gb18030", "GB18030" },
	{ "big5", "BIG5" }, { "x-big5", "BIG5" }, { "cn-big5", "BIG5" },
	{ "big5-hkscs", "BIG5-HKSCS" },
	{ "shift_jis", "CP932" }, { "shift-jis", "CP932" }, { "sjis", "CP932" },
	{ "x-sjis", "CP932" }, { "ms_kanji", "CP932" }, { "cp932", "CP932" },
	{ "windows-31j", "CP932" }, { "csshiftjis", "CP932" },
	{ "euc-jp", "EUC-JP" }, { "x-euc-jp", "EUC-JP" }, { "eucjp", "EUC-JP" },
	{ "iso-2022-jp", "ISO-2022-JP-2" }, { "csiso2022jp", "ISO-2022-JP-2" },
	{ "iso-2022-kr", "ISO-2022-KR" },
	{ "euc-kr", "CP949" }, { "ks_c_5601-1987", "CP949" }, { "ks_c_5601", "CP949" },
	{ "cp949", "CP949" }, { "windows-949", "CP949" },
	{ "koi8-r", "KOI8-R" }, { "koi8-u", "KOI8-U" },
	{ "utf-7", "UTF-7" }, { "unicode-1-1-utf-7", "UTF-7" },
	{ "utf-16", "UTF-16" }, { "utf-16le", "UTF-16LE" }, { "utf-16be", "UTF-16BE" },
	{ "tis-620", "TIS-620" }, { "windows-874", "CP874" }, { "cp874", "CP874" },
	{ "ibm866", "CP866" }, { "cp866", "CP866" }, { "cp850", "CP850" },
	{ "macintosh", "MACINTOSH" },
};

/* Maps a MIME charset label to an iconv name in buf; 0 if not allowed. */
static int cs_iconv_name(const char *cs, size_t n, char *buf, size_t cap)
{
	char l[CS_LABEL_MAX + 1];
	size_t k = 0;

	for (size_t i = 0; i < n && cs[i] != '*'; i++) {
		char c = cs[i];

		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
		      c == '.' || c == ':'))
			return 0;
		if (k == CS_LABEL_MAX)
			return 0;
		l[k++] = c;
	}
	l[k] = '\0';
	for (size_t i = 0; i < sizeof(cs_alias) / sizeof(cs_alias[0]); i++) {
		if (strcmp(l, cs_alias[i].label) == 0) {
			snprintf(buf, cap, "%s", cs_alias[i].iconv);
			return 1;
		}
	}
	/* Numbered families: iso-8859-N (N 1..16), windows-125N / cp125N. */
	const char *num = NULL;
	const char *fam = NULL;

	if (strncmp(l, "iso-8859-", 9) == 0) {
		num = l + 9, fam = "ISO-8859-";
	} else if (strncmp(l, "iso8859-", 8) == 0) {
		num = l + 8, fam = "ISO-8859-";
	} else if (strncmp(l, "windows-125", 11) == 0) {
		num = l + 11, fam = "CP125";
	} else if (strncmp(l, "cp125", 5) == 0) {
		num = l + 5, fam = "CP125";
	} else if (strncmp(l, "x-cp125", 7) == 0) {
		num = l + 7, fam = "CP125";
	}
	if (!num || !*num || strlen(num) > 2)
		return 0;
	for (const char *p = num; *p; p++)
		if (*p < '0' || *p > '9')
			return 0;
	int v = num[1] ? (num[0] - '0') * 10 + (num[1] - '0') : num[0] - '0';

	if (fam[0] == 'C' ? (num[1] || v > 8) : (v < 1 || v > 16))
		return 0;
	snprintf(buf, cap, "%s%s", fam, num);
	return 1;
}

void sl_charset_cache_init(struct sl_charset_cache *c)
{
	memset(c, 0, sizeof(*c));
	for (unsigned i = 0; i < SL_CS_CACHE; i++)
		c->e[i].cd = (iconv_t)-1;
}

void sl_charset_cache_free(struct sl_charset_cache *c)
{
	for (unsigned i = 0; i < SL_CS_CACHE; i++) {
		if (c->e[i].cd != (iconv_t)-1)
			iconv_close(c->e[i].cd);
		c->e[i].cd = (iconv_t)-1;
		c->e[i].name[0] = '\0';
	}
}

static iconv_t cs_open(struct sl_charset_cache *c, const char *name)
{
	for (unsigned i = 0; i < SL_CS_CACHE; i++)
		if (c->e[i].cd != (iconv_t)-1 && strcmp(c->e[i].name, name) == 0)
			return c->e[i].cd;
	iconv_t cd = iconv_open("UTF-8", name);

	if (cd == (iconv_t)-1)
		return cd;
	unsigned k = c->next++ % SL_CS_CACHE;

	if (c->e[k].cd != (iconv_t)-1)
		iconv_close(c->e[k].cd);
	c->e[k].cd = cd;
	snprintf(c->e[k].name, sizeof(c->e[k].name), "%s", name);
	return cd;
}

static size_t cs_copy(const uint8_t *in, size_t n, char *out, size_t cap, unsigned *flags)
{
	if (n > cap) {
		n = cap;
		*flags |= SL_CS_F_TRUNC;
	}
	memcpy(out, in, n);
	return n;
}

size_t sl_charset_to_utf8(struct sl_charset_cache *c, const char *charset, size_t cslen,
			  const uint8_t *in, size_t n, char *out, size_t cap, unsigned *flags)
{
	char name[24];
	iconv_t cd;

	if (!cs_iconv_name(charset, cslen, name, sizeof(name)) ||
	    (cd = cs_open(c, name)) == (iconv_t)-1) {
		*flags |= SL_CS_F_UNKNOWN;
		return cs_copy(in, n, out, cap, flags);
	}
	iconv(cd, NULL, NULL, NULL, NULL);
	char *ip = (char *)(uintptr_t)in, *op = out;
	size_t il = n, ol = cap;

	while (il > 0) {
		if (iconv(cd, &ip, &il, &op, &ol) != (size_t)-1)
			break;
		if (errno == E2BIG) {
			*flags |= SL_CS_F_TRUNC;
			break;
		}
		/* EILSEQ, or EINVAL (a sequence cut by the end): one U+FFFD per
		 * bad byte, then go on with the next byte. */
		*flags |= SL_CS_F_INVALID;
		if (ol < 3) {
			*flags |= SL_CS_F_TRUNC;
			break;
		}
		memcpy(op, "\xef\xbf\xbd", 3);
		op += 3;
		ol -= 3;
		ip++;
		il--;
	}
	iconv(cd, NULL, NULL, &op, &ol);
	return (size_t)(op - out);
}

struct ew {
	const uint8_t *cs, *txt;
	size_t cslen, txtlen, len;	/* len: the whole word */
	uint8_t enc;			/* 'b' or 'q' */
};

/* Parses "=?charset?X?text?=" at p.  Returns 1 on a word, 0 if p is not
 * one, -1 if it starts like one but never ends (flagged, kept literally). */
static int ew_parse(const uint8_t *p, size_t n, struct ew *w)
{
	size_t i = 2;

	if (n < 8 || p[0] != '=' || p[1] != '?')
		return 0;
	while (i < n && p[i] != '?' && p[i] > ' ' && p[i] < 0x7f)
		i++;
	if (i >= n || p[i] != '?' || i == 2 || i - 2 > 64)
		return 0;
	w->cs = p + 2;
	w->cslen = i - 2;
	if (i + 2 >= n || p[i + 2] != '?')
		return 0;
	uint8_t e = p[i + 1] | 0x20;

	if (e != 'b' && e != 'q')
		return 0;
	w->enc = e;
	i += 3;
	w->txt = p + i;
	for (; i + 1 < n; i++) {
		if (p[i] == '?' && p[i + 1] == '=') {
			w->txtlen = (size_t)(p + i - w->txt);
			w->len = i + 2;
			return 1;
		}
	}
	return -1;
}

/* Decodes the word's text into dst (room: the word's length). */
static size_t ew_decode(const struct ew *w, uint8_t *dst, size_t room, unsigned *flags)
{
	if (w->enc == 'b') {
		uint32_t bf = 0;
		long r = sl_b64_decode_buf(w->txt, w->txtlen, dst, room, &bf);

		if (r < 0)
			return 0;
		if (bf & (SL_B64_F_JUNK | SL_B64_F_DANGLING | SL_B64_F_DATA_AFTER_PAD))
			*flags |= SL_CS_F_BAD_WORD;
		return (size_t)r;
	}
	size_t o = 0;

	for (size_t i = 0; i < w->txtlen; i++) {
		uint8_t c = w->txt[i];
		int h, l;

		if (c == '_') {
			c = ' ';
		} else if (c == '=' && i + 2 < w->txtlen && (h = sl_hex_digit(w->txt[i + 1])) >= 0 &&
			   (l = sl_hex_digit(w->txt[i + 2])) >= 0) {
			c = (uint8_t)(h << 4 | l);
			i += 2;
		}
		dst[o++] = c;
	}
	return o;
}

static int ws_only(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r' && p[i] != '\n')
			return 0;
	return 1;
}

size_t sl_rfc2047_decode(struct sl_charset_cache *c, const uint8_t *in, size_t n,
			 char *out, size_t cap, uint8_t *scratch, unsigned *flags)
{
	size_t o = 0, lit = 0, pend = 0;
	const uint8_t *pcs = NULL;
	size_t pcslen = 0;
	int last_word = 0;

	if (cap == 0)
		return 0;
	cap--;	/* room for the NUL */

#define FLUSH_PENDING()								\
	do {									\
		if (pend) {							\
			o += sl_charset_to_utf8(c, (const char *)pcs, pcslen,	\
						scratch, pend, out + o, cap - o, flags); \
			pend = 0;						\
		}								\
	} while (0)

	for (size_t i = 0; i + 1 < n; i++) {
		struct ew w;
		int r;

		if (in[i] != '=' || in[i + 1] != '?')
			continue;
		r = ew_parse(in + i, n - i, &w);
		if (r <= 0) {
			if (r < 0)
				*flags |= SL_CS_F_BAD_WORD;
			continue;
		}
		/* Text between the previous word and this one. */
		if (!(last_word && ws_only(in + lit, i - lit))) {
			FLUSH_PENDING();
			o += cs_copy(in + lit, i - lit, out + o, cap - o, flags);
		}
		if (pend && (pcslen != w.cslen || strncasecmp((const char *)pcs,
							     (const char *)w.cs, pcslen) != 0))
			FLUSH_PENDING();
		pcs = w.cs;
		pcslen = w.cslen;
		pend += ew_decode(&w, scratch + pend, n - pend, flags);
		*flags |= SL_CS_F_DECODED;
		last_word = 1;
		i += w.len - 1;
		lit = i + 1;
	}
	FLUSH_PENDING();
	if (lit < n)
		o += cs_copy(in + lit, n - lit, out + o, cap - o, flags);
#undef FLUSH_PENDING
	out[o] = '\0';
	return o;
}
