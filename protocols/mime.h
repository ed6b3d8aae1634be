/* Streaming MIME decoder.
 *
 * Knows nothing of SMTP, IMAP or POP3: it is fed the raw RFC 5322 message in
 * pieces of any size (1 byte to megabytes; no line, header or boundary is
 * assumed to arrive whole) and calls back with what it finds:
 *
 *   header(part, name, value)      every header of every part, unfolded,
 *                                  RFC 2047 words decoded to UTF-8
 *   part_begin(part)               a leaf part's body starts (after headers)
 *   part_data(part, bytes)         decoded body bytes (base64/QP/uuencode
 *                                  undone), streamed, never buffered whole
 *   part_end(part)
 *   anomaly(kind, detail)          every guess, every ambiguity, every limit
 *
 * Ambiguity is an attack: where real clients disagree (duplicate
 * Content-Transfer-Encoding, junk inside base64, conflicting name/filename...)
 * the decoder produces every plausible reading of the part as separate
 * part_begin/part_data/part_end sequences with reading = 0, 1, ... and raises
 * a named anomaly.  When it gives up on a part (limits, broken structure) it
 * still delivers that part's raw bytes with raw_fallback set: nothing escapes
 * inspection because it was malformed.
 *
 * Memory is bounded by sl_mime_limits, independent of message size. */
#ifndef SL_MIME_H
#define SL_MIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "anomaly.h"
#include "counters.h"

struct sl_mime_limits {
	uint16_t max_depth;		/* multipart / message/rfc822 nesting (default 20) */
	uint32_t max_parts;		/* parts per message (default 1000) */
	uint32_t max_header_bytes;	/* one unfolded header field (default 64 KiB) */
	uint32_t max_headers;		/* header fields per part (default 1000) */
	uint16_t max_readings;		/* readings per ambiguous part (default 4) */
};

void sl_mime_limits_default(struct sl_mime_limits *l);

/* What the decoder knows of a part.  Valid from part_begin to part_end
 * (header callbacks get the part whose headers are being read, with
 * fields filled as far as known). */
struct sl_mime_part {
	uint32_t id;			/* 1-based, document order; the message itself is 1 */
	uint32_t parent;		/* 0 for the top level */
	uint16_t depth;			/* 0 for the top-level entity */
	uint8_t reading;		/* which reading of this part (0 = primary) */
	bool is_attachment;		/* filename given, or Content-Disposition: attachment */
	bool is_text;			/* text/ and not an attachment */
	bool raw_fallback;		/* data is the raw, undecoded body */
	const char *content_type;	/* lower-case "type/subtype" ("text/plain" by default) */
	const char *charset;		/* lower-case, or NULL */
	const char *filename;		/* decoded UTF-8 (RFC 2231 / 2047), or NULL */
	const char *encoding;		/* lower-case transfer encoding as applied ("base64",
					   "quoted-printable", "7bit", "uuencode" ...) */
};

struct sl_mime_cb {
	void (*header)(void *u, const struct sl_mime_part *p, const char *name,
		       const char *value, size_t vlen);
	void (*part_begin)(void *u, const struct sl_mime_part *p);
	void (*part_data)(void *u, const struct sl_mime_part *p, const uint8_t *d, size_t n);
	void (*part_end)(void *u, const struct sl_mime_part *p);
	void (*anomaly)(void *u, enum sl_anomaly a, const char *detail);
};

struct sl_mime;
struct sl_mime *sl_mime_new(const struct sl_mime_limits *lim, const struct sl_mime_cb *cb,
			    void *u, struct sl_counters *ctr);
void sl_mime_feed(struct sl_mime *m, const uint8_t *p, size_t n);
/* End of message: closes every open part (a missing final boundary is an
 * anomaly, not a loss). */
void sl_mime_finish(struct sl_mime *m);
void sl_mime_free(struct sl_mime *m);

#endif
