/* Fuzz target for the streaming MIME decoder.
 *
 * Input layout: byte 0 picks the limits (small ones reach the give-up paths),
 * byte 1 seeds the chunk sizes (its top bit also gives the decoder a memory
 * budget of (byte 1 & 0x7f) x 8 KiB through mem_take, to reach the refusal
 * paths), the rest is the message, fed in pieces whose sizes come from the
 * seed and the message bytes themselves.  Asserts: every part_data/part_end
 * belongs to an open part reading, begin/end balance, no part reading gets
 * more decoded bytes than the message has (no decoder expands its input),
 * and every byte taken is given back by sl_mime_free, no more. */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "mime.h"

#define OPEN_MAX 512	/* readings x nested decoded messages (mime.c NEST_MAX) */

struct fz {
	struct {
		uint32_t id;
		uint8_t reading;
		uint64_t n;
		int open;
	} o[OPEN_MAX];
	size_t size;
	unsigned parts;
	size_t budget, used;	/* budget 0: unlimited */
};

static int slot(struct fz *f, const struct sl_mime_part *p)
{
	for (int i = 0; i < OPEN_MAX; i++)
		if (f->o[i].open && f->o[i].id == p->id && f->o[i].reading == p->reading)
			return i;
	return -1;
}

static void on_begin(void *u, const struct sl_mime_part *p)
{
	struct fz *f = u;

	assert(slot(f, p) < 0);
	assert(p->content_type && p->encoding);
	for (int i = 0; i < OPEN_MAX; i++) {
		if (!f->o[i].open) {
			f->o[i].open = 1;
			f->o[i].id = p->id;
			f->o[i].reading = p->reading;
			f->o[i].n = 0;
			f->parts++;
			return;
		}
	}
	assert(!"too many parts open at once");
}

static void on_data(void *u, const struct sl_mime_part *p, const uint8_t *d, size_t n)
{
	struct fz *f = u;
	int i = slot(f, p);

	assert(i >= 0 && n > 0);
	f->o[i].n += n;
	assert(f->o[i].n <= f->size + 8);
	(void)d;
}

static void on_end(void *u, const struct sl_mime_part *p)
{
	struct fz *f = u;
	int i = slot(f, p);

	assert(i >= 0);
	f->o[i].open = 0;
}

static void on_header(void *u, const struct sl_mime_part *p, const char *name, const char *v,
		      size_t n)
{
	assert(name && v && v[n] == '\0');
}

static bool on_take(void *u, size_t n)
{
	struct fz *f = u;

	assert(n > 0);
	if (f->budget && n > f->budget - f->used)
		return false;
	f->used += n;
	return true;
}

static void on_give(void *u, size_t n)
{
	struct fz *f = u;

	assert(n > 0 && n <= f->used);
	f->used -= n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sl_mime_limits lim;
	struct fz f;
	const struct sl_mime_cb cb = {
		.header = on_header, .part_begin = on_begin, .part_data = on_data,
		.part_end = on_end, .mem_take = on_take, .mem_give = on_give,
	};

	if (size < 2)
		return 0;
	memset(&f, 0, sizeof(f));
	sl_mime_limits_default(&lim);
	if (data[0] & 1) {
		lim.max_depth = 1 + (data[0] >> 1 & 3);
		lim.max_parts = 2 + (data[0] >> 3 & 7);
		lim.max_headers = 3;
		lim.max_header_bytes = 300;
		lim.max_readings = 1 + (data[0] >> 6);
	}
	unsigned seed = data[1];

	if (data[1] & 0x80)
		f.budget = (data[1] & 0x7fu) * 8192u + 1;
	const uint8_t *p = data + 2;
	size_t n = size - 2;
	struct sl_mime *m = sl_mime_new(&lim, &cb, &f, NULL);

	f.size = n;
	assert(m);
	while (n) {
		seed = seed * 1103515245u + 12345u + p[0];
		size_t k = 1 + (seed >> 16) % (seed & 0x100 ? 7 : 300);

		if (k > n)
			k = n;
		sl_mime_feed(m, p, k);
		p += k;
		n -= k;
	}
	sl_mime_finish(m);
	sl_mime_free(m);
	assert(f.used == 0);
	for (int i = 0; i < OPEN_MAX; i++)
		assert(!f.o[i].open);
	/* each decoded message/rfc822 (at most 15 in a chain) may use up to the
	 * budget left when it opens */
	assert(f.parts <= (lim.max_parts + 1u) * lim.max_readings * 16u);
	return 0;
}
