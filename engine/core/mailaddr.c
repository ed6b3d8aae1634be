#include "mailaddr.h"

#include <string.h>

/* A bounded string under construction: bytes past the cap are dropped (the
 * result is then a truncated address, see SL_ADDR_MAX). */
struct abuf {
	char b[SL_ADDR_MAX];
	size_t n;
};

static void abuf_put(struct abuf *a, char c)
{
	if (a->n < sizeof(a->b) - 1)
		a->b[a->n++] = c;
}

static bool is_wsp(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Scans one mailbox starting at s, up to a top-level ',' or ';' or the end.
 * Returns the position after the mailbox; fills plain (addr-spec outside
 * angle brackets) and angle (contents of the last angle-addr). */
static const char *scan_mailbox(const char *s, struct abuf *plain, struct abuf *angle,
				bool *seen_angle)
{
	bool quoted = false, in_angle = false;
	unsigned comment = 0;
	struct abuf *cur = plain;

	plain->n = angle->n = 0;
	*seen_angle = false;
	for (; *s; s++) {
		char c = *s;

		if (quoted) {
			if (c == '\\' && s[1]) {
				abuf_put(cur, c);
				c = *++s;
			} else if (c == '"') {
				quoted = false;
			}
			abuf_put(cur, c);
			continue;
		}
		if (comment) {
			if (c == '\\' && s[1])
				s++;
			else if (c == '(')
				comment++;
			else if (c == ')')
				comment--;
			continue;
		}
		switch (c) {
		case '"':
			quoted = true;
			abuf_put(cur, c);
			break;
		case '(':
			comment = 1;
			break;
		case '<':
			/* a later angle-addr replaces an earlier one */
			in_angle = true;
			*seen_angle = true;
			angle->n = 0;
			cur = angle;
			break;
		case '>':
			if (in_angle) {
				in_angle = false;
				cur = plain;
			}
			break;
		case ':':
			/* in brackets: end of a source route; outside: a group name */
			cur->n = 0;
			break;
		case ',':
		case ';':
			if (!in_angle)
				return s;
			break;
		default:
			if (!is_wsp(c))
				abuf_put(cur, c);
			break;
		}
	}
	return s;
}

bool sl_addr_next(const char **cursor, char *out, size_t size)
{
	const char *s = *cursor;
	struct abuf plain, angle;
	bool seen_angle;

	if (!s)
		return false;
	while (*s) {
		s = scan_mailbox(s, &plain, &angle, &seen_angle);
		if (*s)
			s++;	/* the ',' or ';' */
		const struct abuf *a = seen_angle ? &angle : &plain;

		if (a->n == 0 || !memchr(a->b, '@', a->n))
			continue;
		size_t n = a->n < size - 1 ? a->n : size - 1;

		memcpy(out, a->b, n);
		out[n] = '\0';
		*cursor = s;
		return true;
	}
	*cursor = s;
	return false;
}

void sl_addr_bare(const char *path, char *out, size_t size)
{
	const char *b = path, *e = path + strlen(path);

	while (b < e && is_wsp(*b))
		b++;
	while (e > b && is_wsp(e[-1]))
		e--;
	if (b < e && *b == '<') {
		b++;
		if (e > b && e[-1] == '>')
			e--;
		const char *colon = memchr(b, ':', (size_t)(e - b));

		if (colon && *b == '@')
			b = colon + 1;
	}
	size_t n = (size_t)(e - b) < size - 1 ? (size_t)(e - b) : size - 1;

	memcpy(out, b, n);
	out[n] = '\0';
}

void sl_addr_split(const char *addr, size_t *local_len, const char **domain)
{
	const char *at = strrchr(addr, '@');

	if (at) {
		*local_len = (size_t)(at - addr);
		*domain = at + 1;
	} else {
		*local_len = strlen(addr);
		*domain = NULL;
	}
}

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c + 32) : c;
}

bool sl_addr_ieq(const char *a, size_t an, const char *b, size_t bn)
{
	if (an != bn)
		return false;
	for (size_t i = 0; i < an; i++)
		if (lower(a[i]) != lower(b[i]))
			return false;
	return true;
}
