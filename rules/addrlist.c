#include "addrlist.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mailaddr.h"

/* Three sorted string sets, looked up with bsearch. */
struct strset {
	char **v;
	size_t n, cap;
};

struct sl_addrlist {
	struct strset exact;		/* "local@domain" */
	struct strset domain;		/* "domain" */
	struct strset tree;		/* "domain": itself and every subdomain */
};

static int strset_add(struct strset *s, const char *p, size_t n)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		char **v = realloc(s->v, cap * sizeof(*v));

		if (!v)
			return -1;
		s->v = v;
		s->cap = cap;
	}
	char *c = malloc(n + 1);

	if (!c)
		return -1;
	for (size_t i = 0; i < n; i++)
		c[i] = (p[i] >= 'A' && p[i] <= 'Z') ? (char)(p[i] + 32) : p[i];
	c[n] = '\0';
	s->v[s->n++] = c;
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorts and drops duplicates. */
static void strset_seal(struct strset *s)
{
	size_t o = 0;

	if (!s->n)
		return;
	qsort(s->v, s->n, sizeof(*s->v), cmp_str);
	for (size_t i = 1; i < s->n; i++) {
		if (strcmp(s->v[i], s->v[o]) == 0)
			free(s->v[i]);
		else
			s->v[++o] = s->v[i];
	}
	s->n = o + 1;
}

static bool strset_has(const struct strset *s, const char *key)
{
	return s->n && bsearch(&key, s->v, s->n, sizeof(*s->v), cmp_str) != NULL;
}

static void strset_free(struct strset *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
}

/* Validates a domain of n bytes at d (trailing '.' already dropped).
 * Returns the offset of the offending byte, or -1 when fine. */
static long bad_domain(const char *d, size_t n, const char **why)
{
	size_t label = 0;

	if (n == 0) {
		*why = "empty domain";
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)d[i];

		if (c == '.') {
			if (label == 0) {
				*why = "empty label in domain";
				return (long)i;
			}
			label = 0;
			continue;
		}
		/* letters, digits, '-', '_' and UTF-8 (internationalised names) */
		if (!(c >= 0x80 || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '_')) {
			*why = "invalid character in domain";
			return (long)i;
		}
		label++;
	}
	return -1;
}

struct lctx {
	const char *name;
	unsigned line;
	struct sl_rule_error *err;
};

static int add_entry(struct sl_addrlist *l, const char *e, size_t n, unsigned col,
		     const struct lctx *c)
{
	const char *why = NULL;
	const char *at = NULL;

	for (size_t i = n; i-- > 0;) {
		if (e[i] == '@') {
			at = e + i;
			break;
		}
	}
	if (!at)
		return sl_rule_error_set(c->err, c->name, c->line, col,
					 "expected an address (user@domain) or a domain "
					 "(@domain or @.domain), got '%.*s'",
					 (int)(n > 64 ? 64 : n), e);
	const char *d = at + 1;
	size_t dn = n - (size_t)(d - e);
	bool tree = false;

	if (at == e && dn && *d == '.') {
		tree = true;
		d++;
		dn--;
	}
	if (dn && d[dn - 1] == '.')
		dn--;
	long bad = bad_domain(d, dn, &why);

	if (bad >= 0)
		return sl_rule_error_set(c->err, c->name, c->line,
					 col + (unsigned)(d - e) + (unsigned)bad, "%s", why);
	for (const char *p = e; p < at; p++) {
		if (*p == '@')
			return sl_rule_error_set(c->err, c->name, c->line, col + (unsigned)(p - e),
						 "more than one '@' in an address");
	}
	int rc;

	if (at == e)
		rc = strset_add(tree ? &l->tree : &l->domain, d, dn);
	else
		rc = strset_add(&l->exact, e, (size_t)(at - e) + 1 + dn);
	if (rc)
		return sl_rule_error_set(c->err, c->name, c->line, col, "out of memory");
	return 0;
}

static int parse_line(struct sl_addrlist *l, const char *s, size_t n, const struct lctx *c)
{
	size_t i = 0;

	if (n > SL_ADDRLIST_LINE_MAX)
		return sl_rule_error_set(c->err, c->name, c->line, SL_ADDRLIST_LINE_MAX + 1,
					 "line longer than %u bytes", SL_ADDRLIST_LINE_MAX);
	if (n && s[n - 1] == '\r')
		n--;
	for (size_t k = 0; k < n; k++) {
		unsigned char ch = (unsigned char)s[k];

		if (ch < 0x20 && ch != '\t')
			return sl_rule_error_set(c->err, c->name, c->line, (unsigned)k + 1,
						 "control character 0x%02x", ch);
	}
	while (i < n && (s[i] == ' ' || s[i] == '\t'))
		i++;
	if (i == n || s[i] == '#')
		return 0;
	size_t b = i;

	while (i < n && s[i] != ' ' && s[i] != '\t')
		i++;
	size_t e = i;

	while (i < n && (s[i] == ' ' || s[i] == '\t'))
		i++;
	if (i < n && s[i] != '#')
		return sl_rule_error_set(c->err, c->name, c->line, (unsigned)i + 1,
					 "unexpected text after the entry (one entry per line)");
	return add_entry(l, s + b, e - b, (unsigned)b + 1, c);
}

struct sl_addrlist *sl_addrlist_parse(const char *name, const char *buf, size_t len,
				      struct sl_rule_error *err)
{
	struct sl_addrlist *l = calloc(1, sizeof(*l));
	struct lctx c = { .name = name, .line = 0, .err = err };
	size_t pos = 0;

	if (!l) {
		sl_rule_error_set(err, name, 0, 0, "out of memory");
		return NULL;
	}
	while (pos < len) {
		const char *nl = memchr(buf + pos, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - (buf + pos)) : len - pos;

		c.line++;
		if (parse_line(l, buf + pos, n, &c)) {
			sl_addrlist_free(l);
			return NULL;
		}
		pos += n + 1;
	}
	strset_seal(&l->exact);
	strset_seal(&l->domain);
	strset_seal(&l->tree);
	return l;
}

void sl_addrlist_free(struct sl_addrlist *l)
{
	if (!l)
		return;
	strset_free(&l->exact);
	strset_free(&l->domain);
	strset_free(&l->tree);
	free(l);
}

bool sl_addrlist_match(const struct sl_addrlist *l, const char *addr)
{
	char key[SL_ADDR_MAX + 1];
	size_t n = strlen(addr);

	if (n >= sizeof(key))
		return false;
	for (size_t i = 0; i <= n; i++)
		key[i] = (addr[i] >= 'A' && addr[i] <= 'Z') ? (char)(addr[i] + 32) : addr[i];
	if (n && key[n - 1] == '.')
		key[--n] = '\0';
	if (strset_has(&l->exact, key))
		return true;
	char *at = strrchr(key, '@');

	if (!at)
		return false;
	const char *d = at + 1;

	if (strset_has(&l->domain, d))
		return true;
	for (; d; d = strchr(d, '.'), d = d ? d + 1 : NULL)
		if (strset_has(&l->tree, d))
			return true;
	return false;
}

size_t sl_addrlist_count(const struct sl_addrlist *l)
{
	return l->exact.n + l->domain.n + l->tree.n;
}
