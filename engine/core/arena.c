#include "arena.h"

#include <stdlib.h>
#include <string.h>

struct sl_arena_chunk {
	struct sl_arena_chunk *next;
	size_t size, off;
	_Alignas(16) unsigned char data[];
};

#define CHUNK_MIN 2048

void sl_arena_init(struct sl_arena *a, size_t cap)
{
	a->head = NULL;
	a->used = 0;
	a->cap = cap;
}

void *sl_arena_alloc(struct sl_arena *a, size_t n)
{
	struct sl_arena_chunk *c = a->head;

	n = (n + 15) & ~(size_t)15;
	if (n == 0 || (a->cap && (n > a->cap || a->used > a->cap - n)))
		return NULL;
	if (!c || c->size - c->off < n) {
		size_t sz = n > CHUNK_MIN ? n : CHUNK_MIN;
		c = malloc(sizeof(*c) + sz);
		if (!c)
			return NULL;
		c->size = sz;
		c->off = 0;
		c->next = a->head;
		a->head = c;
	}
	void *p = c->data + c->off;
	c->off += n;
	a->used += n;
	return p;
}

char *sl_arena_strndup(struct sl_arena *a, const char *s, size_t n)
{
	char *p = sl_arena_alloc(a, n + 1);

	if (!p)
		return NULL;
	if (n)
		memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

void sl_arena_free(struct sl_arena *a)
{
	struct sl_arena_chunk *c = a->head, *n;

	while (c) {
		n = c->next;
		free(c);
		c = n;
	}
	a->head = NULL;
	a->used = 0;
}
