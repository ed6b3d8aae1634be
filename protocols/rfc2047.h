/* Header text to UTF-8: RFC 2047 encoded words, and the charset conversion
 * (glibc iconv) shared with RFC 2231 parameter values.
 *
 * Charsets are matched against an allow-list of the families mail uses
 * (UTF-8/7/16, US-ASCII, ISO-8859-*, windows-125x, KOI8, GB2312/GBK/GB18030,
 * Big5, Shift_JIS, EUC-JP, ISO-2022-JP/KR, EUC-KR, ...) with the aliases real
 * clients apply (gb2312 -> GBK, ks_c_5601-1987 -> CP949, shift_jis -> CP932,
 * us-ascii -> UTF-8 since mislabelled UTF-8 is common).  A charset outside the
 * list is never handed to iconv: its bytes are kept as they are and
 * SL_CS_F_UNKNOWN is raised.  Bytes invalid in their charset become U+FFFD
 * (SL_CS_F_INVALID). */
#ifndef SL_RFC2047_H
#define SL_RFC2047_H

#include <iconv.h>
#include <stddef.h>
#include <stdint.h>

enum sl_cs_flag {
	SL_CS_F_UNKNOWN	 = 1u << 0,	/* charset not known: raw bytes kept */
	SL_CS_F_INVALID	 = 1u << 1,	/* bytes invalid in their charset: U+FFFD */
	SL_CS_F_TRUNC	 = 1u << 2,	/* output did not fit: cut */
	SL_CS_F_BAD_WORD = 1u << 3,	/* malformed encoded word kept literally */
	SL_CS_F_DECODED	 = 1u << 4,	/* at least one encoded word was decoded */
};

#define SL_CS_CACHE 4

/* A few open iconv descriptors, reused across calls (iconv_open costs a
 * module lookup).  One per decoder instance: not shared between threads. */
struct sl_charset_cache {
	struct {
		char name[24];
		iconv_t cd;
	} e[SL_CS_CACHE];
	unsigned next;
};

void sl_charset_cache_init(struct sl_charset_cache *c);
void sl_charset_cache_free(struct sl_charset_cache *c);

/* Converts n bytes in charset (a MIME label, any case, "*lang" suffix
 * allowed) to UTF-8 into out[0..cap).  Returns the bytes written; *flags gets
 * enum sl_cs_flag bits OR-ed in.  Never NUL-terminates. */
size_t sl_charset_to_utf8(struct sl_charset_cache *c, const char *charset, size_t cslen,
			  const uint8_t *in, size_t n, char *out, size_t cap, unsigned *flags);

/* Decodes the encoded words of an unfolded header value into UTF-8: B and Q,
 * anywhere in the text (clients do not insist on the RFC's whitespace
 * around them); whitespace between two adjacent encoded words is dropped and
 * adjacent words of one charset are joined before conversion, so a character
 * split across words survives.  Text outside encoded words is copied as is.
 * scratch needs n bytes.  Returns the length written to out[0..cap-1], which
 * is NUL-terminated. */
size_t sl_rfc2047_decode(struct sl_charset_cache *c, const uint8_t *in, size_t n,
			 char *out, size_t cap, uint8_t *scratch, unsigned *flags);

#endif
