#include "attach_policy.h"

#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Names longer than this are judged by their tail: the extension is what
 * decides how a file opens. */
#define NAME_CAP 1024

static bool ends_with_ext(const char *name, size_t n, const char *ext)
{
	size_t e = strlen(ext);

	return n > e && name[n - e - 1] == '.' && strncasecmp(name + n - e, ext, e) == 0;
}

static bool any_glob(char *const *globs, unsigned n, const char *s)
{
	for (unsigned i = 0; i < n; i++)
		if (fnmatch(globs[i], s, FNM_CASEFOLD) == 0)
			return true;
	return false;
}

/* name is NUL-terminated, n bytes, trailing dots/spaces already dropped. */
static bool name_tests(const struct sl_attach_policy *p, const char *name, size_t n)
{
	if (p->n_exts) {
		bool hit = false;

		for (unsigned i = 0; i < p->n_exts && !hit; i++)
			hit = ends_with_ext(name, n, p->exts[i]);
		if (!hit)
			return false;
	}
	return !p->n_names || any_glob(p->names, p->n_names, name);
}

static size_t trim_tail(const char *s, size_t n)
{
	while (n && (s[n - 1] == '.' || s[n - 1] == ' '))
		n--;
	return n;
}

/* A name holding NUL bytes has two plausible readings: cut at the first
 * NUL (what C-string consumers see) or whole, NULs as '_'.  Either
 * matching is a match, so neither reading hides a dangerous name. */
static bool name_match(const struct sl_attach_policy *p, const char *name, size_t n)
{
	char buf[NAME_CAP + 1];

	if (n > NAME_CAP) {
		name += n - NAME_CAP;
		n = NAME_CAP;
	}
	memcpy(buf, name, n);
	buf[n] = '\0';
	const char *nul = memchr(buf, '\0', n);

	if (nul) {
		size_t cut = trim_tail(buf, (size_t)(nul - buf));
		char save = buf[cut];

		buf[cut] = '\0';
		if (name_tests(p, buf, cut))
			return true;
		buf[cut] = save;
		for (size_t i = 0; i < n; i++)
			if (buf[i] == '\0')
				buf[i] = '_';
	}
	n = trim_tail(buf, n);
	buf[n] = '\0';
	return name_tests(p, buf, n);
}

bool sl_attach_policy_match(const struct sl_attach_policy *p, const char *name,
			    size_t name_len, const char *ctype, uint64_t size)
{
	if (p->has_size && !sl_cmp_eval(p->size_op, size, p->size))
		return false;
	if (p->n_types && (!ctype || !any_glob(p->types, p->n_types, ctype)))
		return false;
	if (p->n_exts || p->n_names) {
		if (!name)
			return false;
		return name_match(p, name, name_len);
	}
	return true;
}

bool sl_cmp_eval(enum sl_cmp op, uint64_t a, uint64_t b)
{
	switch (op) {
	case SL_CMP_LT: return a < b;
	case SL_CMP_LE: return a <= b;
	case SL_CMP_GT: return a > b;
	case SL_CMP_GE: return a >= b;
	case SL_CMP_EQ: return a == b;
	}
	return false;
}

const char *sl_cmp_name(enum sl_cmp op)
{
	static const char *const names[] = { "<", "<=", ">", ">=", "=" };

	return (unsigned)op <= SL_CMP_EQ ? names[op] : "?";
}

int sl_size_parse(const char *s, size_t n, uint64_t *out)
{
	static const struct { const char *sfx; unsigned shift; } units[] = {
		{ "", 0 }, { "k", 10 }, { "kb", 10 }, { "kib", 10 },
		{ "m", 20 }, { "mb", 20 }, { "mib", 20 },
		{ "g", 30 }, { "gb", 30 }, { "gib", 30 },
	};
	uint64_t v = 0;
	size_t i = 0;

	for (; i < n && s[i] >= '0' && s[i] <= '9'; i++) {
		uint64_t d = (uint64_t)(s[i] - '0');

		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	if (i == 0)
		return -1;
	for (unsigned u = 0; u < sizeof(units) / sizeof(units[0]); u++) {
		size_t l = strlen(units[u].sfx);

		if (l != n - i || strncasecmp(s + i, units[u].sfx, l) != 0)
			continue;
		if (units[u].shift && v > (UINT64_MAX >> units[u].shift))
			return -1;
		*out = v << units[u].shift;
		return 0;
	}
	return -1;
}

static void free_strv(char **v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void sl_attach_policy_free(struct sl_attach_policy *p)
{
	free_strv(p->exts, p->n_exts);
	free_strv(p->names, p->n_names);
	free_strv(p->types, p->n_types);
	memset(p, 0, sizeof(*p));
}
