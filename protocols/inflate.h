/* A raw-deflate (RFC 1951) transport under a stream consumer, for IMAP
 * COMPRESS=DEFLATE (RFC 4978).
 *
 * The plain-text parser normally keeps no bytes: what it does not consume
 * stays in the stream buffer.  Inflated bytes are not in any stream buffer,
 * so this is the one place that keeps a private copy: a bounded buffer of
 * inflated bytes the parser has not consumed yet (a partial line, or bytes
 * waiting for the other direction).  Its capacity is fixed at creation;
 * zlib's output per inflate() call is bounded by the free room in it.
 *
 * The compressed slice is consumed as zlib takes it, except that while
 * inflated bytes are pending the last compressed byte zlib already took is
 * reported unconsumed (and skipped when offered again): that keeps the
 * direction non-empty in the stream, so the worker re-offers it when the
 * other direction makes progress (app.h), and the pending bytes get parsed. */
#ifndef SL_INFLATE_H
#define SL_INFLATE_H

#include <stddef.h>
#include <stdint.h>

#include "slice.h"

/* Set on a slice whose bytes cannot grow until the consumer takes some (the
 * inflate buffer is full): a waiting parser must decide now.  Outside the
 * range of enum sl_slice_flag. */
#define SL_SLICE_HELD (1u << 16)

struct sl_inflate;

/* cap: bytes of inflated, unconsumed text kept at most.  NULL on failure. */
struct sl_inflate *sl_inflate_new(size_t cap);
void sl_inflate_free(struct sl_inflate *z);

/* Inflates compressed slice s and runs fn(u, plain) over the result, as
 * often as it makes progress.  The plain slices carry s's dir and pkt, an
 * offset counting inflated bytes, SL_SLICE_EOF once s's input is all used,
 * and SL_SLICE_HELD when the buffer is full (the consumer must decide).
 * On corrupt input or a gap returns STOP and sets *err (the direction
 * cannot be parsed any more); an fn STOP is passed on. */
struct sl_consume sl_inflate_consume(struct sl_inflate *z, const struct sl_slice *s,
				     sl_stream_fn fn, void *u, int *err);

/* Inflated bytes produced so far. */
uint64_t sl_inflate_total(const struct sl_inflate *z);

#endif
