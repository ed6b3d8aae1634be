/* Memory accounting.  Every buffer that grows with input (stream buffers,
 * fragments, scan buffers) is charged to a memcap first; a refusal is a
 * counted event with a policy, never a crash and never a silent pass.
 *
 * Atomic because scan buffers are charged by a worker and released by a
 * scan thread. */
#ifndef SL_MEMCAP_H
#define SL_MEMCAP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sl_memcap {
	const char *name;		/* "stream", "defrag", "scan" ... */
	size_t cap;			/* 0 = unlimited */
	_Atomic size_t used;
	_Atomic size_t peak;
	_Atomic uint64_t hits;		/* refusals */
};

void sl_memcap_init(struct sl_memcap *m, const char *name, size_t cap);
/* Charges n bytes; false (and hits++) when that would exceed the cap. */
bool sl_memcap_take(struct sl_memcap *m, size_t n);
void sl_memcap_give(struct sl_memcap *m, size_t n);
size_t sl_memcap_used(const struct sl_memcap *m);

#endif
