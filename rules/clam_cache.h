/* A bounded LRU cache of scan results keyed by the sha256 of the scanned
 * bytes, so the same attachment sent to a thousand recipients (or the same
 * newsletter logo in every message) is scanned once.
 *
 * Entries remember the engine generation that produced them; a lookup with
 * another generation is a miss and drops the stale entry, so a reload
 * invalidates the whole cache without a sweep.  Only results for which
 * sl_clam_status_cacheable() holds are stored.
 *
 * Thread-safe: one mutex around a hash table and an LRU list.  A lookup is a
 * few hundred nanoseconds; a scan is at least tens of microseconds, so the
 * lock is never the bottleneck of the scan pool. */
#ifndef SL_CLAM_CACHE_H
#define SL_CLAM_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "clam.h"

#define SL_CLAM_CACHE_DEFAULT_ENTRIES 4096	/* ~0.6 MiB */

struct sl_clam_cache;

struct sl_clam_cache_stats {
	uint64_t hits, misses, stale, inserts, evictions;
	unsigned entries;
};

/* Returns NULL on allocation failure or when entries is 0 (no cache:
 * every function below accepts NULL and does nothing). */
struct sl_clam_cache *sl_clam_cache_new(unsigned entries);
void sl_clam_cache_free(struct sl_clam_cache *c);

/* sha256 of [p, p+n) (OpenSSL EVP).  Returns 0 or -1. */
int sl_clam_cache_digest(struct sl_clam_cache *c, const void *p, size_t n, uint8_t out[32]);

/* On a hit fills *out (out->cached = true) and returns true. */
bool sl_clam_cache_get(struct sl_clam_cache *c, const uint8_t sha[32], uint64_t generation,
		       struct sl_clam_result *out);
/* Stores r under (sha, r->generation) when cacheable; evicts the least
 * recently used entry when full. */
void sl_clam_cache_put(struct sl_clam_cache *c, const uint8_t sha[32],
		       const struct sl_clam_result *r);
void sl_clam_cache_stats(struct sl_clam_cache *c, struct sl_clam_cache_stats *out);

#endif
