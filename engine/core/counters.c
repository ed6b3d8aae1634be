#include "counters.h"

static const struct {
	const char *name;
	const char *desc;
} info[SL_CTR_MAX] = {
#define SL_COUNTER(id, nm, ds) [SL_CTR_##id] = { nm, ds },
#include "counters_engine.def"
#include "counters_decode.def"
#include "counters_stream.def"
#include "counters_mail.def"
#include "counters_mime.def"
#include "counters_inspect.def"
#undef SL_COUNTER
};

const char *sl_counter_name(enum sl_counter id)
{
	return id < SL_CTR_MAX ? info[id].name : "unknown";
}

const char *sl_counter_desc(enum sl_counter id)
{
	return id < SL_CTR_MAX ? info[id].desc : "";
}

void sl_counters_merge(struct sl_counters *dst, const struct sl_counters *src)
{
	for (unsigned i = 0; i < SL_CTR_MAX; i++)
		dst->v[i] += src->v[i];
}
