/* MIME header field helpers: unfolding, the "type/subtype" token, and
 * parameters of Content-Type / Content-Disposition with quoted strings and
 * RFC 2231 (extended "name*=charset'lang'%xx" values and "name*0*=" ...
 * continuations).
 *
 * Parameter semantics follow Python's email package (compat32), the
 * differential reference, where it is not unsafe: names are matched case
 * insensitively, a plain "name=" wins over an RFC 2231 "name*=" given too,
 * and the first of duplicate parameters wins.  Every case where another
 * client would pick another value is reported: the other value comes back in
 * alt and a flag says why, so the caller can raise an anomaly and keep both. */
#ifndef SL_MIME_HEADER_H
#define SL_MIME_HEADER_H

#include <stddef.h>
#include <stdint.h>

#include "rfc2047.h"

/* Unfolds a raw field value in place: removes every CR?LF (a folded field
 * only has them before whitespace), trims leading and trailing whitespace.
 * Returns the new length. */
size_t sl_mime_hdr_unfold(uint8_t *v, size_t n);

/* The value before the first ';', trimmed and lower-cased, NUL-terminated
 * into out[0..cap).  Returns its length (cut to cap - 1). */
size_t sl_mime_hdr_type(const uint8_t *v, size_t n, char *out, size_t cap);

enum sl_mime_param_flag {
	SL_MP_F_DUP	  = 1u << 0,	/* the parameter appears more than once */
	SL_MP_F_DIFFER	  = 1u << 1,	/* ... with different values (alt holds the other) */
	SL_MP_F_2231	  = 1u << 2,	/* RFC 2231 form used */
	SL_MP_F_CS_UNKNOWN = 1u << 3,	/* RFC 2231 charset unknown: bytes kept */
	SL_MP_F_CS_INVALID = 1u << 4,	/* bytes invalid in their charset */
	SL_MP_F_TRUNC	  = 1u << 5,	/* value cut to the buffer */
	SL_MP_F_NUL	  = 1u << 6,	/* value contains a NUL byte: cut there */
	SL_MP_F_SEG_GAP	  = 1u << 7,	/* RFC 2231 continuations with a gap / bad number */
};

/* Looks parameter 'want' (lower case) up in a Content-Type/-Disposition
 * value.  On success returns 1 with the value NUL-terminated in out[0..cap)
 * and, when a conflicting second value exists, that one in alt[0..acap)
 * (else alt is ""); returns 0 when absent.  *flags gets enum
 * sl_mime_param_flag bits.  Values are not RFC 2047-decoded here. */
int sl_mime_param(struct sl_charset_cache *cc, const uint8_t *v, size_t n, const char *want,
		  char *out, size_t cap, char *alt, size_t acap, unsigned *flags);

#endif
