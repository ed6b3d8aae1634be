/* Dot-unstuffing and end-of-data detection for SMTP DATA (RFC 5321 4.5.2)
 * and POP3 multi-line responses (RFC 1939 3), streaming over slices.
 *
 * Content runs are handed on whole, between the "LF ." positions found with
 * memmem, never byte by byte.  The only bytes left unconsumed are a possible
 * start of the terminator at a line start ("." or ".\r", at most 2 bytes), so
 * the caller keeps no copy: the stream offers them again with newer bytes.
 *
 * The terminator is CRLF "." CRLF (the CRLF before the dot belongs to the
 * content).  The variants real receivers also accept - LF "." CRLF (Postfix
 * takes a bare LF as a line end) and (CR)LF "." LF (Sendmail, seen in the
 * arkime captures) - end the message too, and are counted as ambiguous:
 * where a receiver may consider the message complete, the parser must
 * too, so that the message gets its verdict (held packet) before the
 * receiver acts on it; the caller raises an anomaly that blocks by
 * default, since a stricter receiver reads on (SMTP smuggling). */
#ifndef SL_DOTSTUFF_H
#define SL_DOTSTUFF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sl_dot {
	uint8_t bol;		/* 0 mid-line; 1 line start after CRLF (or start);
				   2 line start after a bare LF */
	bool cr;		/* the last byte handed on was CR */
	uint32_t ambiguous;	/* ambiguous terminator variants met since init */
};

typedef void (*sl_dot_emit_fn)(void *u, const uint8_t *p, size_t n);

static inline void sl_dot_init(struct sl_dot *d)
{
	d->bol = 1;
	d->cr = false;
	d->ambiguous = 0;
}

/* Scans p[0..n), handing content runs to emit (which may be NULL to skip).
 * Returns the bytes consumed; *end is set when the terminator was found
 * (consumed includes it, and nothing after it is touched).  d->ambiguous
 * counts the ambiguous terminator variants met (callers report the first). */
size_t sl_dot_feed(struct sl_dot *d, const uint8_t *p, size_t n, sl_dot_emit_fn emit, void *u,
		   bool *end);

#endif
