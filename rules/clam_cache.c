#include "clam_cache.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define NIL UINT32_MAX

/* Entries live in one array made at creation; links are indices.  The hash
 * chains are bounded by the number of entries, so even a peer who grinds
 * sha256 prefixes into one bucket costs a lookup at most a walk of the
 * table (microseconds), far below the scan it would save. */
struct entry {
	uint8_t sha[32];
	uint64_t generation;
	enum sl_clam_status status;
	char name[SL_CLAM_NAME_MAX];
	uint32_t hnext;			/* bucket chain */
	uint32_t prev, next;		/* LRU list (head = most recent) or free list (next) */
};

struct sl_clam_cache {
	pthread_mutex_t lock;
	EVP_MD *md;			/* fetched once: EVP_sha256() would fetch per digest */
	struct entry *e;
	uint32_t *bucket;
	uint32_t nent, mask;
	uint32_t head, tail, free;
	uint32_t used;
	struct sl_clam_cache_stats st;
};

struct sl_clam_cache *sl_clam_cache_new(unsigned entries)
{
	struct sl_clam_cache *c;
	uint32_t nb = 1;

	if (entries == 0 || entries > (1u << 24))
		return NULL;
	while (nb < entries)
		nb <<= 1;
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->e = calloc(entries, sizeof(*c->e));
	c->bucket = malloc(nb * sizeof(*c->bucket));
	c->md = EVP_MD_fetch(NULL, "SHA256", NULL);
	if (!c->e || !c->bucket || !c->md) {
		sl_clam_cache_free(c);
		return NULL;
	}
	memset(c->bucket, 0xff, nb * sizeof(*c->bucket));
	c->nent = entries;
	c->mask = nb - 1;
	c->head = c->tail = NIL;
	for (uint32_t i = 0; i < entries; i++)
		c->e[i].next = i + 1 < entries ? i + 1 : NIL;
	c->free = 0;
	pthread_mutex_init(&c->lock, NULL);
	return c;
}

void sl_clam_cache_free(struct sl_clam_cache *c)
{
	if (!c)
		return;
	if (c->e && c->bucket && c->md)
		pthread_mutex_destroy(&c->lock);
	EVP_MD_free(c->md);
	free(c->bucket);
	free(c->e);
	free(c);
}

int sl_clam_cache_digest(struct sl_clam_cache *c, const void *p, size_t n, uint8_t out[32])
{
	unsigned len = 0;
	const EVP_MD *md = c ? c->md : EVP_sha256();

	return EVP_Digest(p, n, out, &len, md, NULL) == 1 && len == 32 ? 0 : -1;
}

static uint32_t bucket_of(const struct sl_clam_cache *c, const uint8_t sha[32])
{
	uint64_t h;

	memcpy(&h, sha, sizeof(h));
	return (uint32_t)h & c->mask;
}

static uint32_t find(const struct sl_clam_cache *c, const uint8_t sha[32])
{
	for (uint32_t i = c->bucket[bucket_of(c, sha)]; i != NIL; i = c->e[i].hnext)
		if (memcmp(c->e[i].sha, sha, 32) == 0)
			return i;
	return NIL;
}

static void lru_unlink(struct sl_clam_cache *c, uint32_t i)
{
	struct entry *x = &c->e[i];

	if (x->prev != NIL)
		c->e[x->prev].next = x->next;
	else
		c->head = x->next;
	if (x->next != NIL)
		c->e[x->next].prev = x->prev;
	else
		c->tail = x->prev;
}

static void lru_push_front(struct sl_clam_cache *c, uint32_t i)
{
	struct entry *x = &c->e[i];

	x->prev = NIL;
	x->next = c->head;
	if (c->head != NIL)
		c->e[c->head].prev = i;
	c->head = i;
	if (c->tail == NIL)
		c->tail = i;
}

static void hash_unlink(struct sl_clam_cache *c, uint32_t i)
{
	uint32_t *pp = &c->bucket[bucket_of(c, c->e[i].sha)];

	while (*pp != i)
		pp = &c->e[*pp].hnext;
	*pp = c->e[i].hnext;
}

/* Removes entry i from the table and the LRU list; returns it to the free list. */
static void drop(struct sl_clam_cache *c, uint32_t i)
{
	hash_unlink(c, i);
	lru_unlink(c, i);
	c->e[i].next = c->free;
	c->free = i;
	c->used--;
}

bool sl_clam_cache_get(struct sl_clam_cache *c, const uint8_t sha[32], uint64_t generation,
		       struct sl_clam_result *out)
{
	uint32_t i;
	bool hit = false;

	if (!c)
		return false;
	pthread_mutex_lock(&c->lock);
	i = find(c, sha);
	if (i != NIL && c->e[i].generation != generation) {
		drop(c, i);
		c->st.stale++;
		i = NIL;
	}
	if (i != NIL) {
		struct entry *x = &c->e[i];

		lru_unlink(c, i);
		lru_push_front(c, i);
		memset(out, 0, sizeof(*out));
		out->status = x->status;
		memcpy(out->name, x->name, sizeof(out->name));
		out->generation = x->generation;
		out->cached = true;
		c->st.hits++;
		hit = true;
	} else {
		c->st.misses++;
	}
	pthread_mutex_unlock(&c->lock);
	return hit;
}

void sl_clam_cache_put(struct sl_clam_cache *c, const uint8_t sha[32],
		       const struct sl_clam_result *r)
{
	uint32_t i;
	struct entry *x;

	if (!c || !sl_clam_status_cacheable(r->status))
		return;
	pthread_mutex_lock(&c->lock);
	i = find(c, sha);
	if (i != NIL) {
		lru_unlink(c, i);	/* refresh in place: a newer engine's answer wins */
	} else {
		if (c->free == NIL) {
			drop(c, c->tail);
			c->st.evictions++;
		}
		i = c->free;
		c->free = c->e[i].next;
		c->used++;
		x = &c->e[i];
		memcpy(x->sha, sha, 32);
		uint32_t b = bucket_of(c, sha);
		x->hnext = c->bucket[b];
		c->bucket[b] = i;
		c->st.inserts++;
	}
	x = &c->e[i];
	x->generation = r->generation;
	x->status = r->status;
	memcpy(x->name, r->name, sizeof(x->name));
	x->name[sizeof(x->name) - 1] = '\0';
	lru_push_front(c, i);
	pthread_mutex_unlock(&c->lock);
}

void sl_clam_cache_stats(struct sl_clam_cache *c, struct sl_clam_cache_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (!c)
		return;
	pthread_mutex_lock(&c->lock);
	*out = c->st;
	out->entries = c->used;
	pthread_mutex_unlock(&c->lock);
}
