/* Streaming base64 decoder (RFC 2045 6.8), tolerant like real mail clients.
 *
 * Resumable across arbitrary chunk boundaries: the state carries at most three
 * pending sextets.  Whitespace and line breaks of any length are skipped;
 * bytes outside the alphabet are skipped and flagged (SL_B64_F_JUNK).
 *
 * '=' in the middle of the data is where clients disagree:
 *   SL_B64_STOP      Python's binascii (and so the differential reference):
 *                    a '=' that completes a quad ends the data, everything
 *                    after it is ignored; a '=' that does not complete a quad
 *                    is skipped and decoding goes on in the same quad.
 *   SL_B64_CONTINUE  Thunderbird-style: a '=' flushes the partial quad and
 *                    decoding restarts on a fresh quad with the next data byte.
 * In STOP mode the decoder returns early (consumed < n) at the first data byte
 * that follows such a '=', with SL_B64_F_DATA_AFTER_PAD set, so the caller can
 * start a second reading (a CONTINUE decoder fed from that byte) before
 * calling again with the rest.  It does so once per stream.
 *
 * Also used outside MIME (SMTP AUTH, IMAP AUTHENTICATE) through
 * sl_b64_decode_buf. */
#ifndef SL_BASE64_H
#define SL_BASE64_H

#include <stddef.h>
#include <stdint.h>

enum sl_b64_mode {
	SL_B64_STOP = 0,
	SL_B64_CONTINUE = 1,
};

enum sl_b64_flag {
	SL_B64_F_JUNK		= 1u << 0,	/* bytes outside the alphabet skipped */
	SL_B64_F_PAD_MID	= 1u << 1,	/* '=' not at the end of the data */
	SL_B64_F_DATA_AFTER_PAD	= 1u << 2,	/* data bytes after a '=' (readings diverge) */
	SL_B64_F_DANGLING	= 1u << 3,	/* a lone sextet at the end was dropped */
	SL_B64_F_UNPADDED	= 1u << 4,	/* 2 or 3 sextets at the end without '=' */
};

struct sl_b64 {
	uint32_t acc;		/* pending sextets, most significant first */
	uint8_t nq;		/* sextets in acc: 0..3 */
	uint8_t pads;		/* STOP mode: '=' seen since the last data byte;
				   CONTINUE: '=' still due after a flush ("xx==") */
	uint8_t mode;		/* enum sl_b64_mode */
	uint8_t done;		/* STOP mode: a completing '=' was seen */
	uint8_t pad_seen;	/* a '=' at quad position >= 2 was seen */
	uint8_t reported;	/* SL_B64_F_DATA_AFTER_PAD already returned early */
	uint32_t flags;		/* enum sl_b64_flag, accumulated */
	uint64_t junk;		/* count of skipped non-alphabet, non-whitespace bytes */
};

/* Worst-case output for n input bytes (plus a flushed partial quad). */
static inline size_t sl_b64_out_max(size_t n)
{
	return n / 4 * 3 + 3;
}

void sl_b64_init(struct sl_b64 *s, enum sl_b64_mode mode);

/* Decodes in[0..n) into out, which has room for sl_b64_out_max(n) bytes.
 * Returns the number of bytes written; *consumed receives how much input was
 * used (n, except for the early return described above). */
size_t sl_b64_decode(struct sl_b64 *s, const uint8_t *in, size_t n, uint8_t *out,
		     size_t *consumed);

/* End of data: writes the bytes of a partial quad (at most 2) into out and
 * returns their number; a lone sextet is dropped (SL_B64_F_DANGLING). */
size_t sl_b64_finish(struct sl_b64 *s, uint8_t *out);

/* One-shot decode (STOP mode) of a complete buffer.  Returns the decoded
 * length, or -1 if cap < sl_b64_out_max(n).  *flags (may be NULL) gets the
 * enum sl_b64_flag bits: callers wanting strict input reject any. */
long sl_b64_decode_buf(const uint8_t *in, size_t n, uint8_t *out, size_t cap, uint32_t *flags);

#endif
