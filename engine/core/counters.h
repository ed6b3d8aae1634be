/* Counters.  Nothing is lost silently: every drop, limit hit, eviction and
 * error increments one of these, and they are printed in the replay summary
 * and in periodic stats events.
 *
 * Each layer owns a table (counters_<layer>.def):
 *   SL_COUNTER(ID, "layer.name", "what it counts")
 *
 * One struct sl_counters per worker thread; only its owner writes it. */
#ifndef SL_COUNTERS_H
#define SL_COUNTERS_H

#include <stdint.h>

enum sl_counter {
#define SL_COUNTER(id, name, desc) SL_CTR_##id,
#include "counters_engine.def"
#include "counters_decode.def"
#include "counters_stream.def"
#include "counters_mail.def"
#include "counters_mime.def"
#include "counters_inspect.def"
#undef SL_COUNTER
	SL_CTR_MAX
};

struct sl_counters {
	uint64_t v[SL_CTR_MAX];
};

static inline void sl_ctr_inc(struct sl_counters *c, enum sl_counter id)
{
	if (c)
		c->v[id]++;
}

static inline void sl_ctr_add(struct sl_counters *c, enum sl_counter id, uint64_t n)
{
	if (c)
		c->v[id] += n;
}

const char *sl_counter_name(enum sl_counter id);
const char *sl_counter_desc(enum sl_counter id);
void sl_counters_merge(struct sl_counters *dst, const struct sl_counters *src);

#endif
