/* Streaming quoted-printable decoder (RFC 2045 6.7).
 *
 * Resumable across arbitrary chunk boundaries (the state carries at most the
 * '=' and one hex digit).  Behaviour matches Python's binascii.a2b_qp, the
 * differential reference, which real clients agree with on valid input:
 *   "=XY" with hex digits of either case  -> one byte (lower case flagged)
 *   "=" CRLF or "=" LF                    -> soft line break, removed
 *   "=="                                  -> "=" (both consumed; flagged)
 *   "=" + anything else                   -> "=" kept literally, the byte after
 *                                           it decoded normally (flagged)
 *   "=" at the very end                   -> dropped
 * One deliberate difference: a2b_qp drops everything from "=" CR to the next
 * LF; content must not vanish from inspection, so here "=" CR + non-LF is an
 * invalid escape kept literally.
 * Line endings and trailing whitespace are passed through unchanged. */
#ifndef SL_QP_H
#define SL_QP_H

#include <stddef.h>
#include <stdint.h>

enum sl_qp_flag {
	SL_QP_F_INVALID	= 1u << 0,	/* '=' not followed by two hex digits or a line break */
	SL_QP_F_LOWER	= 1u << 1,	/* lower-case hex digits */
	SL_QP_F_TRAILING = 1u << 2,	/* '=' (+ one hex digit) cut by the end of the data */
};

struct sl_qp {
	uint8_t st;		/* 0 normal, 1 after '=', 2 after '=' hex, 3 after '=' CR */
	uint8_t h1;		/* the pending hex digit (state 2) */
	uint32_t flags;		/* enum sl_qp_flag, accumulated */
};

/* Output never exceeds input plus the 2 pending bytes. */
static inline size_t sl_qp_out_max(size_t n)
{
	return n + 2;
}

/* Value of a hex digit of either case, or -1 (shared with RFC 2047 Q and
 * RFC 2231 %xx decoding). */
static inline int sl_hex_digit(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

void sl_qp_init(struct sl_qp *s);
/* Decodes in[0..n) into out (room for sl_qp_out_max(n)); returns bytes written. */
size_t sl_qp_decode(struct sl_qp *s, const uint8_t *in, size_t n, uint8_t *out);
/* End of data: writes what a cut escape leaves (at most 2 bytes). */
size_t sl_qp_finish(struct sl_qp *s, uint8_t *out);

#endif
