#include "hash.h"

#include <sys/random.h>
#include <time.h>

uint64_t sl_hash_seed(const void *salt)
{
	uint64_t s;

	if (getrandom(&s, sizeof(s), GRND_NONBLOCK) == sizeof(s))
		return s;
	return sl_mix64((uint64_t)(uintptr_t)salt ^ (uint64_t)time(NULL) * 0x9e3779b97f4a7c15ull);
}
