/* Attachment policy: what an object's name, declared type and size say,
 * judged at the end of the object.
 *
 * A policy is a conjunction of the tests it has; each list test passes when
 * any entry matches:
 *   ext   - the name ends in "." + ext (so "tar.gz" and "gz" both match
 *           x.tar.gz), ASCII case-insensitive;
 *   name  - fnmatch(3) glob (*, ?, [...]) over the whole name, ASCII
 *           case-insensitive ('*' also matches '/');
 *   type  - fnmatch(3) glob over the declared content type (lower-case);
 *   size  - the object's size in decoded bytes compared with a bound.
 * Names are judged after trailing dots and spaces are dropped, because
 * Windows drops them too ("x.exe. " runs as x.exe).  A test that needs a
 * name or a type the object does not have fails. */
#ifndef SL_ATTACH_POLICY_H
#define SL_ATTACH_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum sl_cmp {
	SL_CMP_LT = 0,
	SL_CMP_LE,
	SL_CMP_GT,
	SL_CMP_GE,
	SL_CMP_EQ,
};

struct sl_attach_policy {
	char **exts;			/* lower-case, no leading dot */
	unsigned n_exts;
	char **names;			/* globs */
	unsigned n_names;
	char **types;			/* globs, lower-case */
	unsigned n_types;
	bool has_size;
	enum sl_cmp size_op;
	uint64_t size;
};

static inline bool sl_attach_policy_empty(const struct sl_attach_policy *p)
{
	return !p->n_exts && !p->n_names && !p->n_types && !p->has_size;
}

/* name (name_len bytes, may hold no NUL; NULL = no name) and ctype (NULL =
 * none) of an object of 'size' bytes. */
bool sl_attach_policy_match(const struct sl_attach_policy *p, const char *name,
			    size_t name_len, const char *ctype, uint64_t size);

bool sl_cmp_eval(enum sl_cmp op, uint64_t a, uint64_t b);
const char *sl_cmp_name(enum sl_cmp op);

/* "25M": decimal digits and an optional suffix K, M, G (also KB/KiB ...),
 * all powers of 1024, case-insensitive.  Returns -1 on syntax or overflow. */
int sl_size_parse(const char *s, size_t n, uint64_t *out);

void sl_attach_policy_free(struct sl_attach_policy *p);

#endif
