#include "dotstuff.h"

#include <string.h>

static void flush(sl_dot_emit_fn emit, void *u, const uint8_t *p, size_t from, size_t to)
{
	if (emit && to > from)
		emit(u, p + from, to - from);
}

/* The line start kind after the LF at p[lf]: CRLF (1) or bare LF (2). */
static uint8_t bol_after(const struct sl_dot *d, const uint8_t *p, size_t lf)
{
	bool cr = lf > 0 ? p[lf - 1] == '\r' : d->cr;

	return cr ? 1 : 2;
}

/* The next "\n." in p[0..n), found by its dot: dots are rare in mail
 * bodies (base64 has none), while a search by line end stops every 78
 * bytes (measured: 3% of a replay of attachment-heavy SMTP). */
static const uint8_t *find_lf_dot(const uint8_t *p, size_t n)
{
	const uint8_t *e = p + n, *q = p + 1;

	while (q < e) {
		const uint8_t *dot = memchr(q, '.', (size_t)(e - q));
		if (!dot)
			return NULL;
		if (dot[-1] == '\n')
			return dot - 1;
		q = dot + 1;
	}
	return NULL;
}

static size_t finish(struct sl_dot *d, const uint8_t *p, size_t used)
{
	if (used)
		d->cr = p[used - 1] == '\r';
	return used;
}

size_t sl_dot_feed(struct sl_dot *d, const uint8_t *p, size_t n, sl_dot_emit_fn emit, void *u,
		   bool *end)
{
	size_t pos = 0, run = 0;

	*end = false;
	while (pos < n) {
		if (d->bol && p[pos] == '.') {
			flush(emit, u, p, run, pos);
			run = pos;
			/* ".", ".\r": could still become the terminator. */
			if (pos + 1 >= n || (p[pos + 1] == '\r' && pos + 2 >= n))
				return finish(d, p, pos);
			size_t eol = p[pos + 1] == '\n' ? 2 :
				     (p[pos + 1] == '\r' && p[pos + 2] == '\n') ? 3 : 0;
			if (eol) {
				if (d->bol != 1 || eol != 3)
					d->ambiguous++;
				*end = true;
				return finish(d, p, pos + eol);
			}
			/* Unstuff: the leading dot is not content. */
			pos++;
			run = pos;
		}
		d->bol = 0;
		const uint8_t *hit = find_lf_dot(p + pos, n - pos);
		if (!hit) {
			/* A trailing LF leaves us at a line start whose first
			 * byte has not arrived yet. */
			if (p[n - 1] == '\n')
				d->bol = bol_after(d, p, n - 1);
			flush(emit, u, p, run, n);
			return finish(d, p, n);
		}
		size_t lf = (size_t)(hit - p);
		d->bol = bol_after(d, p, lf);
		pos = lf + 1;
	}
	flush(emit, u, p, run, pos);
	return finish(d, p, pos);
}
