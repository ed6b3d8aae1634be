#include "mailaddr.h"

#include <stdbool.h>

static size_t trim(const char *s, size_t a, size_t *b)
{
	while (a < *b && (s[a] == ' ' || s[a] == '\t' || s[a] == '\r' || s[a] == '\n'))
		a++;
	while (*b > a && (s[*b - 1] == ' ' || s[*b - 1] == '\t' || s[*b - 1] == '\r' ||
			  s[*b - 1] == '\n'))
		(*b)--;
	return a;
}

int sl_mailaddr_next(const char *s, size_t n, size_t *pos, const char **addr, size_t *alen)
{
	while (*pos < n) {
		size_t i = *pos, start = i;
		size_t lt = (size_t)-1, gt = (size_t)-1;
		bool quoted = false;
		int comment = 0;
		size_t bare_end = (size_t)-1;	/* first '(' outside quotes: comment start */

		/* One element runs to the next ',' or ';' outside quotes,
		 * comments and angle brackets. */
		for (; i < n; i++) {
			char c = s[i];
			if (quoted) {
				if (c == '\\' && i + 1 < n)
					i++;
				else if (c == '"')
					quoted = false;
				continue;
			}
			if (comment) {
				if (c == '\\' && i + 1 < n)
					i++;
				else if (c == '(')
					comment++;
				else if (c == ')')
					comment--;
				continue;
			}
			if (c == '"')
				quoted = true;
			else if (c == '(') {
				comment = 1;
				if (bare_end == (size_t)-1)
					bare_end = i;
			} else if (c == '<' && lt == (size_t)-1)
				lt = i;
			else if (c == '>' && lt != (size_t)-1 && gt == (size_t)-1)
				gt = i;
			else if (c == ':' && lt == (size_t)-1)
				start = i + 1;	/* group name: "undisclosed-recipients:" */
			else if ((c == ',' || c == ';') && (lt == (size_t)-1 || gt != (size_t)-1))
				break;
		}
		*pos = i < n ? i + 1 : n;

		size_t a, b;
		if (lt != (size_t)-1) {
			a = lt + 1;
			b = gt != (size_t)-1 ? gt : i;
		} else {
			a = start;
			b = bare_end != (size_t)-1 && bare_end < i ? bare_end : i;
		}
		a = trim(s, a, &b);
		if (b > a) {
			*addr = s + a;
			*alen = b - a;
			return 1;
		}
	}
	return 0;
}
