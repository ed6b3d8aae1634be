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
 * Memory is bounded by sl_mime_limits, independent of message size, and what
 * is allocated as a message needs it can be charged to a memcap
 * (sl_mime_cb.mem_take, below).
 *
 * Callback order.  For a part with several readings, part_begin of every
 * reading comes first, then their part_data interleave (all readings of a
 * part are fed from the same input bytes, so they advance together), then
 * part_end of each; a reading found mid-part (base64 data after '=') begins
 * when it is found.  A uuencoded block inside a text part is a part of its
 * own (kind SL_MIME_KIND_UUENCODE) opened and closed while that text part is
 * open.  The decoded reading of an encoded message/rfc822 (below) is a
 * message of its own whose callbacks come while the raw reading's parts are
 * open, interleaved with them as the input is cut.  Otherwise parts do not
 * overlap.  Callbacks must not call back into the decoder.
 *
 * Bytes of a body.  A body is everything after the blank line ending the
 * headers up to the line ending before the next delimiter line: that CRLF
 * (or LF) belongs to the delimiter (RFC 2046 5.1.1; Python's email package
 * does the same, including for a last part cut by the end of the message).
 * A delimiter line is "--" boundary, optionally "--", optional spaces/tabs,
 * and the line ending; it is matched at the start of a line after LF only (a
 * line starting with "--boundary" and other text raises
 * mime.boundary_lookalike).  A line that matches the boundary of any open
 * multipart closes every part inside it, the outermost match winning.
 * Everything else, CRs included, is body.  Top-level bodies keep their last
 * line ending.
 *
 * Headers.  Unfolded, leading/trailing whitespace trimmed, RFC 2047 words
 * decoded to UTF-8 (also inside parameters, as clients do); names as written.
 * value is NUL-terminated and vlen long; it is UTF-8 unless an anomaly says
 * otherwise (mime.header_8bit, mime.charset_unknown keep raw bytes).  As in
 * Python: a line that is not a field ends the headers and starts the body
 * (mime.header_no_colon; for a leaf, another reading follows the clients
 * that read on - Suricata, some mail readers: the line skipped, the fields
 * after it up to the blank line shape that reading (Content-Type,
 * Content-Transfer-Encoding, Content-Disposition; they get no header
 * callback, being reading 0's body text), and the rest of the body is
 * decoded as they say; it begins at that blank line, and does not exist if
 * the blank line never comes), ":x" is a field with an empty name, a first
 * "From " line is skipped; unlike Python, "Name : x" is a field
 * (mime.header_name_space), as clients read it.
 *
 * Structure decisions, each with its anomaly: multipart without boundary ->
 * one raw part; first delimiter never seen -> the preamble part is the body;
 * two boundaries declared -> either delimits; delimiter after the close
 * delimiter -> parts decoded again; message/rfc822 (and message/global)
 * with a transfer encoding -> descended raw (as Python) and, if that is
 * base64 or quoted-printable, also decoded and parsed as the message clients
 * show (Thunderbird...): its headers and parts come with reading + 16, their
 * own part ids (1, 2 ... the decoded message's top entity is 1, its parent
 * the message/rfc822 entity), depth continuing the raw reading's, and
 * anomalies ending "(in decoded part N)"; one decoded message inside another
 * adds 16 again, up to 15 levels (mime.depth_exceeded beyond), all within
 * max_depth; its parts count against max_parts; an entity with
 * headers and no body -> an empty part; two delimiters in a row -> no part.
 * Preamble and epilogue become parts (kind PREAMBLE/EPILOGUE) only when they
 * hold more than 256 bytes of blank lines or any other byte. */
#ifndef SL_MIME_H
#define SL_MIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "anomaly.h"
#include "counters.h"

struct sl_mime_limits {
	uint16_t max_depth;		/* multipart / message/rfc822 nesting (default 20);
					   deeper: that entity is one raw part */
	uint32_t max_parts;		/* part ids per message (default 1000); past it the
					   rest of the message is one raw part (id max + 1) */
	uint32_t max_header_bytes;	/* one header field, folded lines included (default
					   64 KiB, at least 256); longer: the entity's rest is
					   one raw part */
	uint32_t max_headers;		/* header fields per part (default 1000); more: the
					   entity's rest is one raw part */
	uint16_t max_readings;		/* readings per ambiguous part (default 4, at most 16) */
};

void sl_mime_limits_default(struct sl_mime_limits *l);
/* Bytes sl_mime_new() allocates with these limits (for memory accounting).
 * The buffers of a header field longer than 2 KiB come on top, when one
 * arrives: up to 4 x max_header_bytes; and, once an encoded message/rfc822
 * is met, a child decoder of the same size (kept until sl_mime_reset or
 * sl_mime_free), one per nesting level of such messages, at most 15.  Those
 * go through sl_mime_cb.mem_take. */
size_t sl_mime_state_size(const struct sl_mime_limits *lim);

/* What a part is.  Only SL_MIME_KIND_BODY parts are entities of the MIME
 * tree; the others are extra views the decoder adds so nothing goes
 * uninspected. */
enum sl_mime_kind {
	SL_MIME_KIND_BODY = 0,		/* an entity's body (leaf) */
	SL_MIME_KIND_PREAMBLE,		/* text before a multipart's first delimiter; when
					   that delimiter never comes (mime.boundary_not_found)
					   this is the whole body, as Python reads it */
	SL_MIME_KIND_EPILOGUE,		/* text after a multipart's close delimiter */
	SL_MIME_KIND_UUENCODE,		/* a begin/end uuencoded block inside a text body,
					   decoded; the text part still carries it too */
};

/* What the decoder knows of a part.  Valid from part_begin to part_end
 * (header callbacks get the part whose headers are being read, with
 * fields filled as far as known). */
struct sl_mime_part {
	uint32_t id;			/* 1-based, document order; the message itself is 1.
					   Containers (multipart, message/rfc822) take an id
					   too but never get part_begin. */
	uint32_t parent;		/* 0 for the top level */
	uint16_t depth;			/* 0 for the top-level entity */
	uint8_t reading;		/* which reading of this part (0 = primary); + 16
					   per encoded message/rfc822 decoded around it,
					   whose part ids are its own: (id, reading)
					   names an open part */
	uint8_t kind;			/* enum sl_mime_kind */
	bool is_attachment;		/* filename/name given, Content-Disposition: attachment,
					   or any non-text leaf */
	bool is_text;			/* text/ (or no Content-Type) and not an attachment */
	bool raw_fallback;		/* data is the raw, undecoded body */
	const char *content_type;	/* lower-case "type/subtype" ("text/plain" by default) */
	const char *alt_content_type;	/* a conflicting second Content-Type, or NULL */
	const char *charset;		/* lower-case, or NULL */
	const char *disposition;	/* lower-case "attachment", "inline" ..., or NULL */
	const char *filename;		/* decoded UTF-8 (RFC 2231 / 2047), or NULL; Python's
					   choice: Content-Disposition filename, else
					   Content-Type name */
	const char *alt_filename;	/* the other name when clients could disagree (name vs
					   filename, duplicate or RFC 2231 vs plain), or NULL */
	const char *encoding;		/* lower-case transfer encoding as applied ("base64",
					   "quoted-printable", "7bit", "uuencode", "raw" ...) */
	uint64_t prefix_bytes;		/* reading > 0 only: this reading's content is the first
					   prefix_bytes bytes of reading 0 followed by the data
					   delivered here (base64 data after a '=': see
					   mime.base64_pad_mid) */
};
struct sl_mime_cb {
	void (*header)(void *u, const struct sl_mime_part *p, const char *name,
		       const char *value, size_t vlen);
	void (*part_begin)(void *u, const struct sl_mime_part *p);
	void (*part_data)(void *u, const struct sl_mime_part *p, const uint8_t *d, size_t n);
	void (*part_end)(void *u, const struct sl_mime_part *p);
	void (*anomaly)(void *u, enum sl_anomaly a, const char *detail);
	/* Optional, both or neither: memory beyond sl_mime_state_size is asked
	 * of mem_take(u, n) before it is allocated (NULL: unlimited) and given
	 * back with mem_give exactly, by sl_mime_reset or sl_mime_free.  A
	 * refusal degrades, with the anomaly mime.memcap: a header field that
	 * cannot be kept ends the entity's headers (its rest is one raw part,
	 * as for mime.header_too_long); an encoded message/rfc822 is not
	 * decoded (its raw reading still is). */
	bool (*mem_take)(void *u, size_t n);
	void (*mem_give)(void *u, size_t n);
};

struct sl_mime;
struct sl_mime *sl_mime_new(const struct sl_mime_limits *lim, const struct sl_mime_cb *cb,
			    void *u, struct sl_counters *ctr);
void sl_mime_feed(struct sl_mime *m, const uint8_t *p, size_t n);
/* Readies the decoder for another message, keeping the buffers
 * sl_mime_state_size counts and freeing (giving back) the others. */
void sl_mime_reset(struct sl_mime *m);
/* End of message: closes every open part (a missing final boundary is an
 * anomaly, not a loss). */
void sl_mime_finish(struct sl_mime *m);
void sl_mime_free(struct sl_mime *m);

#endif
