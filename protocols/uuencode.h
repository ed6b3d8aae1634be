/* Streaming uudecoder: "begin <mode> <name>" ... data lines ... "end".
 *
 * Line-oriented with a bounded line buffer (SL_UU_LINE_MAX): uuencoded lines
 * are at most 62 bytes in practice, so a longer line can never be data and is
 * only skipped, never stored.  Resumable across arbitrary chunk boundaries.
 *
 * Two uses:
 *  - Content-Transfer-Encoding: x-uuencode parts: everything before the
 *    begin line and after the end line is ignored (like Python's _decode_uu);
 *  - uuencoded blocks inside text bodies: sl_uu_feed() stops right after a
 *    begin or an end line and says so (SL_UU_EV_BEGIN / SL_UU_EV_END), so
 *    the caller can open and close one extra part per block. */
#ifndef SL_UUENCODE_H
#define SL_UUENCODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SL_UU_LINE_MAX 256
#define SL_UU_NAME_MAX 255

enum sl_uu_event {
	SL_UU_EV_NONE = 0,
	SL_UU_EV_BEGIN,		/* a begin line was read: name/mode are set */
	SL_UU_EV_END,		/* the block ended (end line, or a line that is not data) */
};

enum sl_uu_flag {
	SL_UU_F_BAD_LINE = 1u << 0,	/* a line inside a block was not uuencoded data */
	SL_UU_F_NO_END	 = 1u << 1,	/* data ended inside a block */
	SL_UU_F_LONG_LINE = 1u << 2,	/* a line inside a block exceeded SL_UU_LINE_MAX */
};

struct sl_uu {
	uint8_t line[SL_UU_LINE_MAX];
	uint16_t len;		/* bytes in line */
	bool overlong;		/* the current line passed SL_UU_LINE_MAX: skip to LF */
	bool in_block;		/* between begin and end */
	uint8_t event;		/* enum sl_uu_event of the last sl_uu_feed() */
	unsigned mode;		/* octal mode of the begin line */
	char name[SL_UU_NAME_MAX + 1];	/* file name of the begin line, NUL-terminated */
	uint32_t flags;		/* enum sl_uu_flag, accumulated */
};

void sl_uu_init(struct sl_uu *s);

/* Consumes input up to the end of n or just past a begin/end line, whichever
 * comes first; decoded bytes go to out (room for n + SL_UU_LINE_MAX) and
 * *outn receives their number.  Returns the number of bytes consumed and sets
 * s->event. */
size_t sl_uu_feed(struct sl_uu *s, const uint8_t *in, size_t n, uint8_t *out, size_t *outn);

/* End of data: decodes a last unterminated line; returns bytes written to out
 * (room for SL_UU_LINE_MAX).  Sets SL_UU_F_NO_END if a block was open. */
size_t sl_uu_finish(struct sl_uu *s, uint8_t *out);

/* Line helpers (no line ending in line[0..n)). */
bool sl_uu_parse_begin(const uint8_t *line, size_t n, unsigned *mode, char *name, size_t cap);
/* Decodes one data line; returns its byte count, or -1 if the line is not
 * uuencoded data.  out needs room for 63 bytes. */
int sl_uu_decode_line(const uint8_t *line, size_t n, uint8_t *out);

#endif
