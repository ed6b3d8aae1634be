/* Test harness for the mail protocol parsers.
 *
 * A recording sl_mail_ops turns every hook call into one transcript line,
 * with a transaction's data concatenated and printed when it ends, so a
 * test can assert the exact story.  A scripted conversation - a list of
 * (direction, bytes) chunks, each chunk one packet - is delivered through
 * sl_app with the stream's retention semantics (slice.h: what the parser
 * does not consume is offered again with the next bytes) and the worker's
 * duties (app.h: re-offer the other direction after progress, flush at the
 * end).  conv_check() delivers it whole, one byte at a time, split at every
 * position of every chunk, and at random positions, and requires the same
 * transcript every time. */
#ifndef SL_TEST_MAIL_HARNESS_H
#define SL_TEST_MAIL_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "app.h"
#include "mail.h"

struct conv_chunk {
	enum sl_dir dir;
	const char *data;
	size_t len;
};

#define CS(s) { SL_TO_SERVER, s, sizeof(s) - 1 }	/* client -> server */
#define SC(s) { SL_TO_CLIENT, s, sizeof(s) - 1 }	/* server -> client */
/* n bytes of direction d are lost (a capture gap): what the direction
 * still held unconsumed is lost with them, and its next slice says GAP. */
#define GAP(d, n) { d, NULL, n }
/* Direction d ends here (its FIN): its last slice, with SL_SLICE_EOF. */
#define FIN(d) { d, NULL, SIZE_MAX }
#define CHUNKS(a) (a), (sizeof(a) / sizeof((a)[0]))

struct conv {
	const struct conv_chunk *chunks;
	size_t n;
	uint16_t port;			/* server port */
	const struct sl_app_config *cfg;	/* NULL: defaults */
};

/* Flags for conv_run: how to cut the chunks. */
enum conv_mode {
	CONV_WHOLE,
	CONV_BYTES,			/* one byte per delivery */
	CONV_SPLIT,			/* chunk split_chunk cut at split_pos */
	CONV_RANDOM,			/* random cuts from seed split_pos */
};

/* Runs one delivery; returns the malloc'd transcript. */
char *conv_run(const struct conv *cv, enum conv_mode mode, size_t split_chunk, size_t split_pos);

/* Runs every delivery mode, asserts they agree, and (when expected is not
 * NULL) that the transcript equals it.  Returns the transcript (malloc'd). */
char *conv_check(const struct conv *cv, const char *expected);

/* The data of the last transaction the most recent run recorded with this
 * number (1-based, in begin order); NULL if none.  Valid until the next run. */
const uint8_t *conv_txn_data(unsigned id, size_t *len);

/* Test helper: s contains sub? */
bool str_has(const char *s, const char *sub);

/* A copy of cv whose chunks from index 'from' on are raw-deflated, one
 * deflate stream per direction with a sync flush per chunk (what an IMAP
 * COMPRESS=DEFLATE peer sends).  Free with conv_free. */
struct conv *conv_deflate(const struct conv *cv, size_t from);
void conv_free(struct conv *cv);

#endif
