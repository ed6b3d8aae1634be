#include "memcap.h"

void sl_memcap_init(struct sl_memcap *m, const char *name, size_t cap)
{
	m->name = name;
	m->cap = cap;
	atomic_init(&m->used, 0);
	atomic_init(&m->peak, 0);
	atomic_init(&m->hits, 0);
}

bool sl_memcap_take(struct sl_memcap *m, size_t n)
{
	size_t cur = atomic_load_explicit(&m->used, memory_order_relaxed);

	for (;;) {
		if (m->cap && (n > m->cap || cur > m->cap - n)) {
			atomic_fetch_add_explicit(&m->hits, 1, memory_order_relaxed);
			return false;
		}
		if (atomic_compare_exchange_weak_explicit(&m->used, &cur, cur + n,
							  memory_order_relaxed,
							  memory_order_relaxed))
			break;
	}
	size_t peak = atomic_load_explicit(&m->peak, memory_order_relaxed);
	while (cur + n > peak &&
	       !atomic_compare_exchange_weak_explicit(&m->peak, &peak, cur + n,
						      memory_order_relaxed, memory_order_relaxed))
		;
	return true;
}

void sl_memcap_give(struct sl_memcap *m, size_t n)
{
	atomic_fetch_sub_explicit(&m->used, n, memory_order_relaxed);
}

size_t sl_memcap_used(const struct sl_memcap *m)
{
	return atomic_load_explicit(&m->used, memory_order_relaxed);
}
