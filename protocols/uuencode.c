/* Streaming uudecoder; see uuencode.h for the contract. */
#include "uuencode.h"

#include <string.h>

void sl_uu_init(struct sl_uu *s)
{
	memset(s, 0, sizeof(*s));
}

static size_t uu_trim(const uint8_t *l, size_t n)
{
	while (n && (l[n - 1] == '\r' || l[n - 1] == ' ' || l[n - 1] == '\t'))
		n--;
	return n;
}

bool sl_uu_parse_begin(const uint8_t *l, size_t n, unsigned *mode, char *name, size_t cap)
{
	size_t i = 6, digits = 0;
	unsigned m = 0;

	n = uu_trim(l, n);
	if (n < 8 || memcmp(l, "begin ", 6) != 0)
		return false;
	/* Three or four octal digits: anything else is prose ("begin at 9"). */
	while (i < n && l[i] >= '0' && l[i] <= '7' && digits < 4) {
		m = m * 8 + (unsigned)(l[i++] - '0');
		digits++;
	}
	if (digits < 3 || i >= n || l[i] != ' ')
		return false;
	i++;
	size_t len = n - i;

	if (len == 0)
		return false;
	if (len >= cap)
		len = cap - 1;
	memcpy(name, l + i, len);
	name[len] = '\0';
	*mode = m;
	return true;
}

static inline unsigned uu_val(uint8_t c)
{
	return (unsigned)(c - ' ') & 63;
}

int sl_uu_decode_line(const uint8_t *l, size_t n, uint8_t *out)
{
	n = uu_trim(l, n);
	if (n == 0)
		return -1;
	if (l[0] < ' ' || l[0] > '`')
		return -1;
	unsigned want = uu_val(l[0]);
	size_t need = (want + 2) / 3 * 4;

	/* Encoders drop trailing spaces (value 0); pad them back in. */
	for (size_t i = 1; i < n; i++)
		if (l[i] < ' ' || l[i] > '`')
			return -1;
	if (n - 1 > need + 4 || (want && n - 1 < (want * 4 + 2) / 3))
		return -1;
	unsigned o = 0;

	for (size_t q = 0; q < need && o < want; q += 4) {
		uint8_t c[4];

		for (int k = 0; k < 4; k++)
			c[k] = 1 + q + k < n ? l[1 + q + k] : ' ';
		uint32_t v = uu_val(c[0]) << 18 | uu_val(c[1]) << 12 | uu_val(c[2]) << 6 | uu_val(c[3]);

		out[o++] = (uint8_t)(v >> 16);
		if (o < want)
			out[o++] = (uint8_t)(v >> 8);
		if (o < want)
			out[o++] = (uint8_t)v;
	}
	return (int)o;
}

static bool uu_is_end(const uint8_t *l, size_t n)
{
	n = uu_trim(l, n);
	return n == 3 && memcmp(l, "end", 3) == 0;
}

/* Handles one complete line; returns decoded bytes or sets an event. */
static size_t uu_line(struct sl_uu *s, uint8_t *out)
{
	const uint8_t *l = s->line;
	size_t n = s->len;

	if (s->overlong) {
		if (s->in_block) {
			s->flags |= SL_UU_F_LONG_LINE;
			s->in_block = false;
			s->event = SL_UU_EV_END;
		}
		return 0;
	}
	if (!s->in_block) {
		if (sl_uu_parse_begin(l, n, &s->mode, s->name, sizeof(s->name))) {
			s->in_block = true;
			s->event = SL_UU_EV_BEGIN;
		}
		return 0;
	}
	if (uu_is_end(l, n)) {
		s->in_block = false;
		s->event = SL_UU_EV_END;
		return 0;
	}
	int r = sl_uu_decode_line(l, n, out);

	if (r < 0) {
		/* An empty line inside a block is a common encoder slip: skip it. */
		if (uu_trim(l, n) == 0)
			return 0;
		s->flags |= SL_UU_F_BAD_LINE;
		s->in_block = false;
		s->event = SL_UU_EV_END;
		return 0;
	}
	return (size_t)r;
}

size_t sl_uu_feed(struct sl_uu *s, const uint8_t *in, size_t n, uint8_t *out, size_t *outn)
{
	size_t i = 0, o = 0;

	s->event = SL_UU_EV_NONE;
	while (i < n) {
		if (!s->in_block && !s->len && !s->overlong && in[i] != 'b') {
			/* At a line start, outside a block, not a begin line: jump
			 * to the next line that could be one.  Text bodies cost a
			 * memmem pass instead of a memchr per line. */
			const uint8_t *k = memmem(in + i, n - i, "\nbegin ", 7);

			if (k) {
				i = (size_t)(k - in) + 1;
				continue;
			}
			const uint8_t *last = memrchr(in + i, '\n', n - i);

			if (!last) {
				s->overlong = true;	/* skip the rest of this line */
				i = n;
				break;
			}
			i = (size_t)(last - in) + 1;
			continue;
		}
		const uint8_t *lf = memchr(in + i, '\n', n - i);
		size_t end = lf ? (size_t)(lf - in) : n;
		size_t take = end - i;

		/* Outside a block only lines starting with 'b' matter: skip the rest
		 * without copying. */
		bool relevant = s->in_block || s->len > 0 || s->overlong || in[i] == 'b';

		if (relevant && !s->overlong) {
			if (s->len + take > SL_UU_LINE_MAX) {
				s->overlong = true;
			} else {
				memcpy(s->line + s->len, in + i, take);
				s->len = (uint16_t)(s->len + take);
			}
		} else if (!relevant) {
			s->overlong = true;	/* irrelevant line: skip to its end */
		}
		i = end;
		if (!lf)
			break;
		i++;
		if (relevant || s->in_block)
			o += uu_line(s, out + o);
		s->len = 0;
		s->overlong = false;
		if (s->event != SL_UU_EV_NONE)
			break;
	}
	*outn = o;
	return i;
}

size_t sl_uu_finish(struct sl_uu *s, uint8_t *out)
{
	size_t o = 0;

	s->event = SL_UU_EV_NONE;
	if (s->len || s->overlong)
		o = uu_line(s, out);
	s->len = 0;
	s->overlong = false;
	if (s->in_block) {
		s->flags |= SL_UU_F_NO_END;
		s->in_block = false;
		s->event = SL_UU_EV_END;
	}
	return o;
}
