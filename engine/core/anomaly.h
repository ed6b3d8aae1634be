/* Named anomalies.
 *
 * Every oddity a parser meets becomes one of these names, never a silent
 * guess.  Each layer owns its own table (anomaly_<layer>.def) so modules can
 * grow their list without touching each other; this header stitches them into
 * one enum.  Entries:
 *
 *   SL_ANOMALY(ID, "layer.name", DEFAULT_ACTION, "what it means")
 *
 * DEFAULT_ACTION is what a message touched by the anomaly gets unless the
 * configuration says otherwise: PASS (record only), ALERT, TEMPFAIL, BLOCK. */
#ifndef SL_ANOMALY_H
#define SL_ANOMALY_H

#include <stdint.h>

#include "verdict.h"

struct sl_packet;

enum sl_anomaly {
#define SL_ANOMALY(id, name, act, desc) SL_ANOM_##id,
#include "anomaly_decode.def"
#include "anomaly_stream.def"
#include "anomaly_mail.def"
#include "anomaly_mime.def"
#include "anomaly_inspect.def"
#undef SL_ANOMALY
	SL_ANOM_MAX
};

/* "stream.overlap_conflict" */
const char *sl_anomaly_name(enum sl_anomaly a);
const char *sl_anomaly_desc(enum sl_anomaly a);
/* The layer part of the name: "decode", "stream", "smtp", "mime" ... */
const char *sl_anomaly_layer(enum sl_anomaly a, char *buf, unsigned size);
enum sl_action sl_anomaly_default_action(enum sl_anomaly a);
/* Look up by full name; returns SL_ANOM_MAX when unknown. */
enum sl_anomaly sl_anomaly_by_name(const char *name);

/* A set of anomalies, small enough to embed in every flow. */
#define SL_ANOM_WORDS ((SL_ANOM_MAX + 63) / 64)
struct sl_anomaly_set {
	uint64_t w[SL_ANOM_WORDS];
};

static inline void sl_anomaly_set_add(struct sl_anomaly_set *s, enum sl_anomaly a)
{
	s->w[a / 64] |= 1ull << (a % 64);
}

static inline int sl_anomaly_set_has(const struct sl_anomaly_set *s, enum sl_anomaly a)
{
	return (s->w[a / 64] >> (a % 64)) & 1;
}

static inline void sl_anomaly_set_merge(struct sl_anomaly_set *d, const struct sl_anomaly_set *s)
{
	for (unsigned i = 0; i < SL_ANOM_WORDS; i++)
		d->w[i] |= s->w[i];
}

/* How a module reports an anomaly upward.  'u' is the caller-supplied
 * context (a flow, a message); pkt may be NULL when no packet applies;
 * detail is a short, already-safe human string or NULL. */
typedef void (*sl_anomaly_fn)(void *u, enum sl_anomaly a,
			      const struct sl_packet *pkt, const char *detail);

#endif
