/* The line framer every mail protocol uses on its command/response lines.
 *
 * It keeps no bytes: it looks at the caller's unconsumed input and says
 * where the next line ends (the LF), or that more bytes are needed, or that
 * the line is longer than the bound.  A too-long line is skipped up to its
 * LF (resync), in as many calls as it takes; while skipping, the framer
 * leaves the last SL_LINE_TAIL bytes unconsumed so that, when the LF comes,
 * the caller can still look at how the line ended (an IMAP literal marker
 * "{123}" at the end of an over-long FETCH line must not be missed).
 *
 *   input:  |<-- line content -->|CR|LF| next line ...
 *           ^ p                  len    ^ used
 */
#ifndef SL_LINE_H
#define SL_LINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SL_LINE_TAIL 32

enum sl_line_res {
	SL_LINE_OK,		/* a complete line: content p[0..len), consume used */
	SL_LINE_MORE,		/* no complete line yet: consume used (0 unless skipping) */
	SL_LINE_LONG,		/* no LF within max: p/len is the line's head (max
				   bytes), report it; the framer now skips; consume used (0) */
	SL_LINE_SKIPPED,	/* the LF ending a too-long line was found: consume
				   used; p/len is its tail (at most SL_LINE_TAIL bytes
				   before the line end) */
};

struct sl_line {
	const uint8_t *p;
	size_t len;		/* content without CR LF */
	size_t used;		/* bytes the caller consumes */
	bool bare_lf;		/* ended by LF alone */
};

struct sl_liner {
	bool skipping;		/* inside a too-long line */
};

/* One step over p[0..n); max bounds a line including its CR LF. */
enum sl_line_res sl_line_next(struct sl_liner *l, const uint8_t *p, size_t n, size_t max,
			      struct sl_line *out);

/* Ends any skip (after a gap: the next line starts fresh). */
static inline void sl_line_reset(struct sl_liner *l)
{
	l->skipping = false;
}

#endif
