#include "inflate.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

struct sl_inflate {
	z_stream zs;
	uint8_t *buf;			/* inflated bytes not consumed yet */
	size_t cap, used;
	uint64_t out_off;		/* inflated-stream offset of buf[0] */
	uint64_t total;
	size_t fed_ahead;		/* leading bytes of the next slice zlib already has */
	bool ended;			/* Z_STREAM_END seen */
};

struct sl_inflate *sl_inflate_new(size_t cap)
{
	struct sl_inflate *z = calloc(1, sizeof(*z));

	if (!z)
		return NULL;
	z->buf = malloc(cap ? cap : 1);
	z->cap = cap ? cap : 1;
	/* Negative window bits: raw deflate, no zlib header (RFC 4978). */
	if (!z->buf || inflateInit2(&z->zs, -15) != Z_OK) {
		free(z->buf);
		free(z);
		return NULL;
	}
	return z;
}

void sl_inflate_free(struct sl_inflate *z)
{
	if (!z)
		return;
	inflateEnd(&z->zs);
	free(z->buf);
	free(z);
}

uint64_t sl_inflate_total(const struct sl_inflate *z)
{
	return z->total;
}

/* One inflate() step into the free room.  Returns -1 on corrupt input,
 * else whether anything moved. */
static int feed(struct sl_inflate *z, const struct sl_slice *s, size_t *in)
{
	size_t avail = s->len - *in, room = z->cap - z->used;

	if (avail == 0 || room == 0)
		return 0;
	if (z->ended)
		return -1;		/* bytes after the end of the deflate stream */
	z->zs.next_in = (Bytef *)(uintptr_t)(s->data + *in);
	z->zs.avail_in = avail > UINT32_MAX ? UINT32_MAX : (uInt)avail;
	z->zs.next_out = z->buf + z->used;
	z->zs.avail_out = room > UINT32_MAX ? UINT32_MAX : (uInt)room;
	uInt in0 = z->zs.avail_in, out0 = z->zs.avail_out;
	int rc = inflate(&z->zs, Z_SYNC_FLUSH);
	size_t took = in0 - z->zs.avail_in, made = out0 - z->zs.avail_out;

	*in += took;
	z->used += made;
	z->total += made;
	if (rc == Z_STREAM_END)
		z->ended = true;
	else if (rc != Z_OK && rc != Z_BUF_ERROR)
		return -1;
	return took || made;
}

struct sl_consume sl_inflate_consume(struct sl_inflate *z, const struct sl_slice *s,
				     sl_stream_fn fn, void *u, int *err)
{
	size_t in = z->fed_ahead < s->len ? z->fed_ahead : s->len;
	bool eof_told = false;

	*err = 0;
	z->fed_ahead = 0;
	if (s->flags & SL_SLICE_GAP) {
		*err = 1;
		return (struct sl_consume){ SL_CONSUME_STOP, 0 };
	}
	for (;;) {
		int moved = feed(z, s, &in);
		bool parsed = false;

		if (moved < 0) {
			*err = 1;
			return (struct sl_consume){ SL_CONSUME_STOP, in };
		}
		bool at_eof = in == s->len && (s->flags & SL_SLICE_EOF);
		if (z->used > 0 || (at_eof && !eof_told)) {
			struct sl_slice p = {
				.data = z->buf, .len = z->used, .offset = z->out_off,
				.dir = s->dir, .pkt = s->pkt,
				.flags = (at_eof ? SL_SLICE_EOF : 0) |
					 (z->used == z->cap ? SL_SLICE_HELD : 0),
			};
			struct sl_consume r = fn(u, &p);

			eof_told |= at_eof;
			if (r.status == SL_CONSUME_STOP)
				return (struct sl_consume){ SL_CONSUME_STOP, in };
			if (r.consumed > z->used)
				r.consumed = z->used;
			memmove(z->buf, z->buf + r.consumed, z->used - r.consumed);
			z->used -= r.consumed;
			z->out_off += r.consumed;
			parsed = r.consumed > 0;
		}
		if (!moved && !parsed)
			break;
	}
	if (z->used > 0 && in > 0) {
		in--;
		z->fed_ahead = 1;
	}
	return (struct sl_consume){ SL_CONSUME_OK, in };
}
