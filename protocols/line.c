#include "line.h"

#include <string.h>

static void line_content(const uint8_t *p, size_t lf, struct sl_line *out)
{
	out->p = p;
	out->len = lf;
	out->bare_lf = !(lf > 0 && p[lf - 1] == '\r');
	if (!out->bare_lf)
		out->len--;
	out->used = lf + 1;
}

enum sl_line_res sl_line_next(struct sl_liner *l, const uint8_t *p, size_t n, size_t max,
			      struct sl_line *out)
{
	if (l->skipping) {
		const uint8_t *lf = memchr(p, '\n', n);

		if (!lf) {
			/* Keep a tail for the caller to see when the LF arrives. */
			out->p = p;
			out->len = 0;
			out->used = n > SL_LINE_TAIL ? n - SL_LINE_TAIL : 0;
			return SL_LINE_MORE;
		}
		size_t i = (size_t)(lf - p);
		size_t from = i > SL_LINE_TAIL ? i - SL_LINE_TAIL : 0;

		line_content(p + from, i - from, out);
		out->used = i + 1;
		l->skipping = false;
		return SL_LINE_SKIPPED;
	}
	size_t look = n < max ? n : max;
	const uint8_t *lf = memchr(p, '\n', look);

	if (lf) {
		line_content(p, (size_t)(lf - p), out);
		return SL_LINE_OK;
	}
	out->p = p;
	out->used = 0;
	if (n < max) {
		out->len = 0;
		return SL_LINE_MORE;
	}
	out->len = max;
	l->skipping = true;
	return SL_LINE_LONG;
}
