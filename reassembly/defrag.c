/* IP fragment reassembly (policy and bounds in defrag.h).
 *
 * A datagram holds its bytes as a sorted list of disjoint pieces.  A new
 * fragment is walked against the list: bytes over a hole become a new piece
 * (copied: the fragment's packet is gone after this call), bytes over a
 * piece are only compared.  Because pieces never overlap, completion is
 * "the last fragment is known and held == total", and assembly is one copy
 * per piece.  A fragment creates at most one piece per hole it covers and
 * holes only appear when a fragment lands inside one, so pieces stay within
 * a small multiple of max_frags.
 *
 *   datagram payload  0 ............................................ total
 *   pieces            [p0 ][p1     ]      [p2   ][p3]      [p4 (last) ]
 *   new fragment                [ cmp  |  new  | cmp ]
 */
#include "defrag.h"
#include "hash.h"

#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "bytes.h"

#define IPV6_HDR_LEN 40
#define MAX_IP_LEN 65535u
#define TCP_MIN_HDR 20u
#define UDP_HDR 8u

struct piece {
	struct piece *next;
	uint32_t start, end;
	uint8_t data[];
};

struct dgram {
	struct dgram *hnext;		/* hash chain */
	struct dgram *older, *newer;	/* creation order, for expiry and eviction */
	uint64_t deadline_us;
	uint32_t bucket;
	struct sl_addr src, dst;
	uint32_t id;
	uint8_t family;
	uint8_t key_proto;		/* IPv4 protocol; 0 for IPv6 */
	uint8_t first_proto;		/* protocol / Next Header of the offset-0 fragment */
	bool have_first, have_last;
	uint32_t total;			/* payload length, known once have_last */
	uint32_t max_end;
	uint32_t held;			/* bytes in pieces */
	uint32_t nfrags;
	uint32_t pkt_flags;		/* SL_PKT_FRAG_*: anomalies of any of its fragments */
	size_t charged;			/* bytes taken from the memcap */
	uint8_t *hdr;			/* offset-0 fragment's header (see struct sl_frag) */
	uint32_t hdr_len, nh_off;
	struct piece *pieces;
};

struct sl_defrag {
	struct sl_defrag_config cfg;
	struct sl_memcap *mc;
	struct sl_counters *ctr;
	sl_anomaly_fn anomaly;
	void *anomaly_u;
	uint64_t seed;
	struct dgram **buckets;
	uint32_t mask;
	unsigned count;
	size_t bytes;
	struct dgram *oldest, *newest;
	uint8_t *out;			/* the completed datagram, IPV6_HDR_LEN + MAX_IP_LEN */
	uint32_t out_flags;		/* SL_PKT_FRAG_* of the datagram in out */
};

void sl_defrag_config_default(struct sl_defrag_config *c)
{
	c->memcap = 32u << 20;
	c->timeout_us = 30ull * 1000000;
	c->max_frags = 128;
	c->max_datagrams = 4096;
}

struct sl_defrag *sl_defrag_new(const struct sl_defrag_config *cfg, struct sl_memcap *mc,
				struct sl_counters *ctr)
{
	struct sl_defrag *df = calloc(1, sizeof(*df));

	if (!df)
		return NULL;
	df->cfg = *cfg;
	if (!df->cfg.max_datagrams)
		df->cfg.max_datagrams = 1;
	if (!df->cfg.max_frags)
		df->cfg.max_frags = 1;
	df->mc = mc;
	df->ctr = ctr;
	uint32_t n = 16;
	while (n < df->cfg.max_datagrams && n < (1u << 24))
		n <<= 1;
	df->mask = n - 1;
	df->buckets = calloc(n, sizeof(*df->buckets));
	df->out = malloc(IPV6_HDR_LEN + MAX_IP_LEN);
	/* A secret seed keeps an attacker from steering fragments into one
	 * hash chain; the fallback is weak but only matters without getrandom. */
	if (getrandom(&df->seed, sizeof(df->seed), GRND_NONBLOCK) != sizeof(df->seed))
		df->seed = (uint64_t)(uintptr_t)df ^ (uint64_t)time(NULL) * 0x9e3779b97f4a7c15ull;
	if (!df->buckets || !df->out) {
		sl_defrag_free(df);
		return NULL;
	}
	return df;
}

void sl_defrag_set_anomaly_fn(struct sl_defrag *df, sl_anomaly_fn fn, void *u)
{
	df->anomaly = fn;
	df->anomaly_u = u;
}

static void report(struct sl_defrag *df, enum sl_anomaly a, const struct sl_packet *pkt,
		   const char *detail)
{
	if (df->anomaly)
		df->anomaly(df->anomaly_u, a, pkt, detail);
}

static uint32_t hash_key(const struct sl_defrag *df, const struct sl_frag *f, uint8_t key_proto)
{
	uint64_t h = sl_hash_words(f->src.b, 16, df->seed);

	h = sl_hash_words(f->dst.b, 16, h);
	h = sl_mix64(h ^ ((uint64_t)f->id << 16 | (uint64_t)key_proto << 8 | f->family));
	return (uint32_t)h & df->mask;
}

static bool charge(struct sl_defrag *df, struct dgram *d, size_t n)
{
	if (df->mc && !sl_memcap_take(df->mc, n))
		return false;
	d->charged += n;
	df->bytes += n;
	return true;
}

static void dgram_free(struct sl_defrag *df, struct dgram *d)
{
	struct dgram **pp = &df->buckets[d->bucket];

	while (*pp && *pp != d)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = d->hnext;
	if (d->older)
		d->older->newer = d->newer;
	else
		df->oldest = d->newer;
	if (d->newer)
		d->newer->older = d->older;
	else
		df->newest = d->older;
	for (struct piece *p = d->pieces, *n; p; p = n) {
		n = p->next;
		free(p);
	}
	free(d->hdr);
	if (df->mc)
		sl_memcap_give(df->mc, d->charged);
	df->bytes -= d->charged;
	df->count--;
	free(d);
}

void sl_defrag_free(struct sl_defrag *df)
{
	if (!df)
		return;
	while (df->oldest)
		dgram_free(df, df->oldest);
	free(df->buckets);
	free(df->out);
	free(df);
}

unsigned sl_defrag_expire(struct sl_defrag *df, uint64_t now_us)
{
	unsigned n = 0;

	while (df->oldest && df->oldest->deadline_us <= now_us) {
		dgram_free(df, df->oldest);
		sl_ctr_inc(df->ctr, SL_CTR_DEFRAG_TIMEOUTS);
		report(df, SL_ANOM_DEFRAG_TIMEOUT, NULL, NULL);
		n++;
	}
	return n;
}

unsigned sl_defrag_flush(struct sl_defrag *df)
{
	unsigned n = 0;

	for (; df->oldest; n++)
		dgram_free(df, df->oldest);
	sl_ctr_add(df->ctr, SL_CTR_DEFRAG_FLUSHED, n);
	return n;
}

uint32_t sl_defrag_done_flags(const struct sl_defrag *df) { return df->out_flags; }
unsigned sl_defrag_pending(const struct sl_defrag *df) { return df->count; }
size_t sl_defrag_bytes(const struct sl_defrag *df) { return df->bytes; }

static struct dgram *lookup(struct sl_defrag *df, const struct sl_frag *f, uint8_t key_proto,
			    uint32_t b)
{
	for (struct dgram *d = df->buckets[b]; d; d = d->hnext)
		if (d->id == f->id && d->family == f->family && d->key_proto == key_proto &&
		    memcmp(&d->src, &f->src, sizeof(d->src)) == 0 &&
		    memcmp(&d->dst, &f->dst, sizeof(d->dst)) == 0)
			return d;
	return NULL;
}

static struct dgram *create(struct sl_defrag *df, const struct sl_frag *f, uint8_t key_proto,
			    uint32_t b, const struct sl_packet *pkt, uint64_t now_us)
{
	if (df->count >= df->cfg.max_datagrams && df->oldest) {
		dgram_free(df, df->oldest);
		sl_ctr_inc(df->ctr, SL_CTR_DEFRAG_EVICTED);
		report(df, SL_ANOM_DEFRAG_EVICTED, pkt, NULL);
	}
	if (df->mc && !sl_memcap_take(df->mc, sizeof(struct dgram)))
		return NULL;
	struct dgram *d = calloc(1, sizeof(*d));
	if (!d) {
		if (df->mc)
			sl_memcap_give(df->mc, sizeof(struct dgram));
		return NULL;
	}
	d->charged = sizeof(*d);
	df->bytes += sizeof(*d);
	d->src = f->src;
	d->dst = f->dst;
	d->id = f->id;
	d->family = f->family;
	d->key_proto = key_proto;
	d->deadline_us = now_us + df->cfg.timeout_us;
	d->bucket = b;
	d->hnext = df->buckets[b];
	df->buckets[b] = d;
	d->older = df->newest;
	if (df->newest)
		df->newest->newer = d;
	else
		df->oldest = d;
	df->newest = d;
	df->count++;
	return d;
}

/* Drops a datagram for a reason: counter, anomaly, memory back. */
static enum sl_defrag_result drop(struct sl_defrag *df, struct dgram *d, enum sl_counter c,
				  enum sl_anomaly a, const struct sl_packet *pkt,
				  const char *detail)
{
	if (d)
		dgram_free(df, d);
	sl_ctr_inc(df->ctr, c);
	report(df, a, pkt, detail);
	return SL_DEFRAG_DROPPED;
}

enum overlap { OV_NONE, OV_DUP, OV_EQUAL, OV_CONFLICT };

/* Stores the parts of [start, end) not yet held and compares the rest.
 * Returns -1 when the memcap (or malloc) refuses a piece. */
static int insert(struct sl_defrag *df, struct dgram *d, uint32_t start, uint32_t end,
		  const uint8_t *data, enum overlap *ov)
{
	struct piece **pp = &d->pieces;
	uint32_t pos = start;

	*ov = OV_NONE;
	while (pos < end) {
		struct piece *p = *pp;
		uint32_t gap_end = p ? SL_MIN(p->start, end) : end;

		if (p && p->end <= pos) {
			pp = &p->next;
			continue;
		}
		if (pos < gap_end) {
			uint32_t n = gap_end - pos;
			struct piece *np;

			if (!charge(df, d, sizeof(*np) + n) || !(np = malloc(sizeof(*np) + n)))
				return -1;
			np->start = pos;
			np->end = gap_end;
			memcpy(np->data, data + (pos - start), n);
			np->next = p;
			*pp = np;
			pp = &np->next;
			d->held += n;
			pos = gap_end;
			continue;
		}
		/* pos lies inside p: compare the overlapping bytes. */
		uint32_t o_end = SL_MIN(p->end, end);
		bool same = memcmp(p->data + (pos - p->start), data + (pos - start),
				   o_end - pos) == 0;
		enum overlap kind = !same ? OV_CONFLICT
			: (p->start == start && p->end == end) ? OV_DUP : OV_EQUAL;

		if (kind > *ov)
			*ov = kind;
		pos = o_end;
		pp = &p->next;
	}
	return 0;
}

/* Tiny first fragment: the transport header does not fit in it, so an
 * inspector looking at fragments alone would see no ports or flags. */
static bool tiny_first(const struct sl_frag *f, uint32_t len)
{
	if (f->proto == 6)
		return len < TCP_MIN_HDR || (uint32_t)(f->data[12] >> 4) * 4 > len;
	if (f->proto == 17)
		return len < UDP_HDR;
	return false;
}

static uint32_t assemble(struct sl_defrag *df, struct dgram *d)
{
	uint8_t *o = df->out;

	memcpy(o, d->hdr, d->hdr_len);
	for (struct piece *p = d->pieces; p; p = p->next)
		memcpy(o + d->hdr_len + p->start, p->data, p->end - p->start);
	if (d->family == 4) {
		sl_put_be16(o + 2, (uint16_t)(d->hdr_len + d->total));
		/* Keep DF; clear MF and the offset. */
		sl_put_be16(o + 6, sl_be16(o + 6) & 0x4000);
		sl_put_be16(o + 10, 0);
		uint32_t s = 0;
		for (uint32_t i = 0; i < d->hdr_len; i += 2)
			s += sl_be16(o + i);
		s = (s & 0xffff) + (s >> 16);
		s = (s & 0xffff) + (s >> 16);
		sl_put_be16(o + 10, (uint16_t)~s);
	} else {
		sl_put_be16(o + 4, (uint16_t)(d->hdr_len - IPV6_HDR_LEN + d->total));
		o[d->nh_off] = d->first_proto;
	}
	return d->hdr_len + d->total;
}

/* Largest payload end a datagram with this header may reach. */
static uint32_t max_payload(uint8_t family, uint32_t hdr_len)
{
	if (family == 4)
		return MAX_IP_LEN - hdr_len;
	return MAX_IP_LEN - (hdr_len - IPV6_HDR_LEN);
}

enum sl_defrag_result sl_defrag_add(struct sl_defrag *df, const struct sl_frag *f,
				    const struct sl_packet *pkt, uint64_t now_us,
				    const uint8_t **out, uint32_t *out_len)
{
	uint8_t key_proto = f->family == 4 ? f->proto : 0;
	uint32_t len = f->len;
	uint32_t flags = 0;		/* SL_PKT_FRAG_* this fragment adds to its datagram */

	sl_ctr_inc(df->ctr, SL_CTR_DEFRAG_FRAGS);
	sl_defrag_expire(df, now_us);

	/* The decoder guarantees these; a caller that does not gets a drop. */
	if ((f->family != 4 && f->family != 6) || f->hdr_len < (f->family == 4 ? 20u : 40u) ||
	    f->hdr_len > MAX_IP_LEN || f->nh_off >= f->hdr_len)
		return drop(df, NULL, SL_CTR_DEFRAG_BAD_LEN, SL_ANOM_DEFRAG_BAD_LEN, pkt,
			    "malformed fragment description");

	if (f->more && (len & 7)) {
		if (f->family == 6 || len < 8)
			return drop(df, NULL, SL_CTR_DEFRAG_BAD_LEN, SL_ANOM_DEFRAG_BAD_LEN, pkt,
				    "non-last fragment length not a multiple of 8");
		len &= ~7u;
		flags |= SL_PKT_FRAG_BAD_LEN;
		sl_ctr_inc(df->ctr, SL_CTR_DEFRAG_BAD_LEN);
		report(df, SL_ANOM_DEFRAG_BAD_LEN, pkt, "non-last fragment cut to a multiple of 8");
	}
	if (len == 0 && f->more)
		return drop(df, NULL, SL_CTR_DEFRAG_BAD_LEN, SL_ANOM_DEFRAG_BAD_LEN, pkt,
			    "empty fragment");

	uint32_t b = hash_key(df, f, key_proto);
	struct dgram *d = lookup(df, f, key_proto, b);
	uint64_t end = (uint64_t)f->offset + len;

	if (end > max_payload(f->family, f->hdr_len))
		return drop(df, d, SL_CTR_DEFRAG_TOO_BIG, SL_ANOM_DEFRAG_TOO_BIG, pkt, NULL);
	if (!d) {
		d = create(df, f, key_proto, b, pkt, now_us);
		if (!d)
			return drop(df, NULL, SL_CTR_DEFRAG_MEMCAP, SL_ANOM_DEFRAG_MEMCAP, pkt,
				    NULL);
	}
	if (d->nfrags >= df->cfg.max_frags)
		return drop(df, d, SL_CTR_DEFRAG_TOO_MANY, SL_ANOM_DEFRAG_TOO_MANY, pkt, NULL);
	d->nfrags++;

	if (!f->more) {
		if ((d->have_last && end != d->total) || d->max_end > end)
			return drop(df, d, SL_CTR_DEFRAG_BAD_LEN, SL_ANOM_DEFRAG_BAD_LEN, pkt,
				    "fragments disagree on the datagram's end");
		d->have_last = true;
		d->total = (uint32_t)end;
	} else if (d->have_last && end > d->total) {
		return drop(df, d, SL_CTR_DEFRAG_BAD_LEN, SL_ANOM_DEFRAG_BAD_LEN, pkt,
			    "fragment data beyond the datagram's end");
	}

	if (f->offset == 0 && !d->have_first) {
		if (!charge(df, d, f->hdr_len) || !(d->hdr = malloc(f->hdr_len)))
			return drop(df, d, SL_CTR_DEFRAG_MEMCAP, SL_ANOM_DEFRAG_MEMCAP, pkt, NULL);
		memcpy(d->hdr, f->hdr, f->hdr_len);
		d->hdr_len = f->hdr_len;
		d->nh_off = f->nh_off;
		d->first_proto = f->proto;
		d->have_first = true;
		if (f->more && tiny_first(f, len)) {
			flags |= SL_PKT_FRAG_TINY;
			sl_ctr_inc(df->ctr, SL_CTR_DEFRAG_TINY);
			report(df, SL_ANOM_DEFRAG_TINY, pkt, NULL);
		}
	}

	enum overlap ov;
	if (insert(df, d, f->offset, (uint32_t)end, f->data, &ov) != 0)
		return drop(df, d, SL_CTR_DEFRAG_MEMCAP, SL_ANOM_DEFRAG_MEMCAP, pkt, NULL);
	if (end > d->max_end)
		d->max_end = (uint32_t)end;
	switch (ov) {
	case OV_NONE:
		break;
	case OV_DUP:
		sl_ctr_inc(df->ctr, SL_CTR_DEFRAG_DUPLICATES);
		break;
	case OV_EQUAL:
		flags |= SL_PKT_FRAG_OVERLAP;
		sl_ctr_inc(df->ctr, SL_CTR_DEFRAG_OVERLAPS);
		report(df, SL_ANOM_DEFRAG_OVERLAP, pkt, NULL);
		break;
	case OV_CONFLICT:
		flags |= SL_PKT_FRAG_CONFLICT;
		sl_ctr_inc(df->ctr, SL_CTR_DEFRAG_CONFLICTS);
		report(df, SL_ANOM_DEFRAG_OVERLAP_CONFLICT, pkt, "first-seen bytes kept");
		break;
	}
	d->pkt_flags |= flags;

	if (!d->have_first || !d->have_last || d->held != d->total)
		return SL_DEFRAG_HELD;
	/* The offset-0 fragment may carry a longer header than the one the
	 * size check above used. */
	if (d->total > max_payload(d->family, d->hdr_len))
		return drop(df, d, SL_CTR_DEFRAG_TOO_BIG, SL_ANOM_DEFRAG_TOO_BIG, pkt, NULL);
	*out_len = assemble(df, d);
	*out = df->out;
	df->out_flags = d->pkt_flags;
	dgram_free(df, d);
	sl_ctr_inc(df->ctr, SL_CTR_DEFRAG_DONE);
	return SL_DEFRAG_DONE;
}
