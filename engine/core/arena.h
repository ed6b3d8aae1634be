/* A bounded bump allocator for the small strings a message collects
 * (envelope, header values, filenames).  Freed all at once with its owner.
 * The bound is the point: a hostile peer cannot grow it past 'cap'. */
#ifndef SL_ARENA_H
#define SL_ARENA_H

#include <stddef.h>

struct sl_arena_chunk;

struct sl_arena {
	struct sl_arena_chunk *head;
	size_t used;			/* bytes handed out, all chunks */
	size_t cap;			/* 0 = unlimited */
};

void sl_arena_init(struct sl_arena *a, size_t cap);
/* NULL when the cap would be exceeded or malloc fails. */
void *sl_arena_alloc(struct sl_arena *a, size_t n);
/* Copies n bytes and NUL-terminates; NULL on refusal. */
char *sl_arena_strndup(struct sl_arena *a, const char *s, size_t n);
void sl_arena_free(struct sl_arena *a);

#endif
