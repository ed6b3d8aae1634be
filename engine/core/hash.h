/* Hashing for tables keyed by attacker-chosen values (addresses, ports,
 * fragment ids): a per-table random seed keeps chains short under hostile
 * keys, and a full-avalanche mixer matters because addresses differ mostly
 * in their last bytes. */
#ifndef SL_HASH_H
#define SL_HASH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* splitmix64's finaliser: every input bit reaches every output bit. */
static inline uint64_t sl_mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

/* Hashes n bytes (a multiple of 8 is fastest) with a seed. */
static inline uint64_t sl_hash_words(const void *p, size_t n, uint64_t seed)
{
	const unsigned char *b = p;
	uint64_t h = seed, w;

	for (; n >= 8; n -= 8, b += 8) {
		memcpy(&w, b, 8);
		h = sl_mix64(h ^ w);
	}
	if (n) {
		w = 0;
		memcpy(&w, b, n);
		h = sl_mix64(h ^ w ^ ((uint64_t)n << 56));
	}
	return h;
}

/* A random seed for one table (getrandom; falls back to address and time
 * bits, which only weakens flooding resistance, never correctness). */
uint64_t sl_hash_seed(const void *salt);

#endif
