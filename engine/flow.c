#include "flow.h"

#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "log.h"

#define SLAB_FLOWS 1024
/* One bucket per live flow keeps chains near length 1.  The array starts
 * small and doubles with the flow count, up to one bucket per max_flows: an
 * array sized for a million flows up front spreads a few thousand live ones
 * over 8 MiB, and every lookup then misses the cache and the TLB (measured:
 * 11% of replay time with 4,000 flows).  The price is a rehash at each
 * doubling (the largest, at max_flows / 2, moves half a million flows). */
#define BUCKETS_MIN 1024

struct slab {
	struct slab *next;
	struct sl_flow flows[SLAB_FLOWS];
};

struct lru {
	struct sl_flow *head, *tail;	/* head = least recently active */
	uint32_t n;
};

struct sl_flow_table {
	struct sl_flow_config cfg;
	struct sl_counters *ctr;
	sl_flow_release_fn release;
	void *release_u;
	struct sl_flow **buckets;
	uint32_t mask;
	uint32_t max_buckets;		/* the array grows with the flows up to this */
	uint32_t count;
	uint64_t next_id;
	uint64_t seed;			/* keyed hash: chains stay short under hostile keys */
	uint64_t mem;			/* bytes charged against cfg.memcap */
	struct slab *slabs;
	struct sl_flow *free;		/* free list through hnext */
	struct lru lru[SL_FLOW_CLASSES];
	uint64_t timeout_us[SL_FLOW_CLASSES];
};

const char *sl_flow_end_name(enum sl_flow_end e)
{
	switch (e) {
	case SL_FLOW_END_FIN: return "fin";
	case SL_FLOW_END_RST: return "rst";
	case SL_FLOW_END_TIMEOUT: return "timeout";
	case SL_FLOW_END_EVICTED: return "evicted";
	case SL_FLOW_END_CAPTURE: return "capture_end";
	default: return "open";
	}
}

void sl_flow_config_default(struct sl_flow_config *c)
{
	c->max_flows = 1000000;
	c->memcap = 512ull << 20;
	c->timeout_closed_s = 10;
	c->timeout_embryonic_s = 30;
	c->timeout_established_s = 600;
	c->server_ports = NULL;
}

struct sl_flow_table *sl_flow_table_new(const struct sl_flow_config *cfg,
					struct sl_counters *ctr,
					sl_flow_release_fn release, void *u)
{
	struct sl_flow_table *t = calloc(1, sizeof(*t));
	uint32_t nb = BUCKETS_MIN;

	if (!t)
		return NULL;
	t->cfg = *cfg;
	t->ctr = ctr;
	t->release = release;
	t->release_u = u;
	t->max_buckets = BUCKETS_MIN;
	while (t->max_buckets < cfg->max_flows && t->max_buckets < (1u << 30))
		t->max_buckets <<= 1;
	t->buckets = calloc(nb, sizeof(*t->buckets));
	if (!t->buckets) {
		free(t);
		return NULL;
	}
	t->mask = nb - 1;
	t->mem = (uint64_t)nb * sizeof(*t->buckets);
	t->seed = sl_hash_seed(t);
	t->timeout_us[SL_FLOW_CLOSED] = cfg->timeout_closed_s * 1000000ull;
	t->timeout_us[SL_FLOW_EMBRYONIC] = cfg->timeout_embryonic_s * 1000000ull;
	t->timeout_us[SL_FLOW_ESTABLISHED] = cfg->timeout_established_s * 1000000ull;
	return t;
}

static uint32_t key_hash(const struct sl_flow_table *t, const struct sl_flow_key *k)
{
	uint64_t h = sl_hash_words(k, sizeof(*k), t->seed);

	return (uint32_t)(h ^ (h >> 32));
}

_Static_assert(sizeof(struct sl_flow_key) % 8 == 0, "flow key hashes in whole words");

/* Builds the normalised key; returns which key side the packet's source is. */
static int make_key(const struct sl_packet *p, struct sl_flow_key *k)
{
	int c = memcmp(p->src.b, p->dst.b, 16);
	int src_side = c < 0 || (c == 0 && p->sport <= p->dport) ? 0 : 1;

	memset(k, 0, sizeof(*k));
	k->addr[src_side] = p->src;
	k->addr[!src_side] = p->dst;
	k->port[src_side] = p->sport;
	k->port[!src_side] = p->dport;
	k->vlan = p->vlan_count ? p->vlan[0] : 0;
	k->proto = p->ip_proto;
	return src_side;
}

static bool is_server_port(const struct sl_flow_table *t, uint16_t port)
{
	if (!t->cfg.server_ports)
		return false;
	for (const uint16_t *sp = t->cfg.server_ports; *sp; sp++)
		if (*sp == port)
			return true;
	return false;
}

/* Which side is the client: the SYN's sender; else the side talking to a
 * known server port; else the side with the higher (ephemeral) port. */
static uint8_t guess_client(const struct sl_flow_table *t, const struct sl_packet *p,
			    int src_side, bool *midstream)
{
	*midstream = false;
	if (p->ip_proto == 6 && (p->tcp_flags & SL_TH_SYN))
		return (p->tcp_flags & SL_TH_ACK) ? !src_side : src_side;
	*midstream = p->ip_proto == 6;
	if (is_server_port(t, p->dport))
		return src_side;
	if (is_server_port(t, p->sport))
		return !src_side;
	return p->sport >= p->dport ? src_side : !src_side;
}

static void lru_unlink(struct lru *l, struct sl_flow *f)
{
	if (f->prev)
		f->prev->next = f->next;
	else
		l->head = f->next;
	if (f->next)
		f->next->prev = f->prev;
	else
		l->tail = f->prev;
	f->prev = f->next = NULL;
	l->n--;
}

static void lru_append(struct lru *l, struct sl_flow *f)
{
	f->next = NULL;
	f->prev = l->tail;
	if (l->tail)
		l->tail->next = f;
	else
		l->head = f;
	l->tail = f;
	l->n++;
}

static void hash_unlink(struct sl_flow_table *t, struct sl_flow *f)
{
	struct sl_flow **pp = &t->buckets[f->hash & t->mask];

	while (*pp && *pp != f)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = f->hnext;
	f->hnext = NULL;
}

static void release_flow(struct sl_flow_table *t, struct sl_flow *f, enum sl_flow_end why)
{
	if (f->end == SL_FLOW_END_NONE)
		f->end = (uint8_t)why;
	hash_unlink(t, f);
	lru_unlink(&t->lru[f->klass], f);
	t->count--;
	if (t->release)
		t->release(t->release_u, f, why);
	f->hnext = t->free;
	t->free = f;
}

static bool grow_pool(struct sl_flow_table *t)
{
	if (t->cfg.memcap && t->mem + sizeof(struct slab) > t->cfg.memcap)
		return false;
	struct slab *s = malloc(sizeof(*s));
	if (!s)
		return false;
	s->next = t->slabs;
	t->slabs = s;
	t->mem += sizeof(*s);
	for (int i = SLAB_FLOWS - 1; i >= 0; i--) {
		s->flows[i].hnext = t->free;
		t->free = &s->flows[i];
	}
	return true;
}

/* Frees room for one flow by evicting the least valuable, least recently
 * active flow.  Returns false when every list is empty. */
static bool evict_one(struct sl_flow_table *t)
{
	for (int c = 0; c < SL_FLOW_CLASSES; c++) {
		struct sl_flow *f = t->lru[c].head;
		if (f) {
			sl_ctr_inc(t->ctr, SL_CTR_FLOWS_EVICTED);
			sl_anomaly_set_add(&f->anomalies, SL_ANOM_STREAM_FLOW_EVICTED);
			release_flow(t, f, SL_FLOW_END_EVICTED);
			return true;
		}
	}
	return false;
}

/* Doubles the bucket array.  Failing (memory, memcap) only leaves chains
 * longer. */
static void grow_buckets(struct sl_flow_table *t)
{
	uint32_t old = t->mask + 1, nb = old * 2;
	uint64_t more = (uint64_t)(nb - old) * sizeof(*t->buckets);

	if (nb > t->max_buckets || (t->cfg.memcap && t->mem + more > t->cfg.memcap))
		return;
	struct sl_flow **b = calloc(nb, sizeof(*b));
	if (!b)
		return;
	for (uint32_t i = 0; i < old; i++) {
		struct sl_flow *f = t->buckets[i], *next;

		for (; f; f = next) {
			next = f->hnext;
			f->hnext = b[f->hash & (nb - 1)];
			b[f->hash & (nb - 1)] = f;
		}
	}
	free(t->buckets);
	t->buckets = b;
	t->mask = nb - 1;
	t->mem += more;
}

static struct sl_flow *alloc_flow(struct sl_flow_table *t)
{
	if (t->count >= t->cfg.max_flows && !evict_one(t))
		return NULL;
	if (!t->free && !grow_pool(t)) {
		sl_ctr_inc(t->ctr, SL_CTR_FLOWS_MEMCAP);
		if (!evict_one(t))
			return NULL;
	}
	struct sl_flow *f = t->free;
	t->free = f->hnext;
	return f;
}

struct sl_flow *sl_flow_get(struct sl_flow_table *t, const struct sl_packet *p,
			    uint64_t now_us, enum sl_dir *dir)
{
	struct sl_flow_key k;
	int src_side = make_key(p, &k);
	uint32_t h = key_hash(t, &k);
	struct sl_flow *f;

	for (f = t->buckets[h & t->mask]; f; f = f->hnext)
		if (f->hash == h && memcmp(&f->key, &k, sizeof(k)) == 0)
			break;
	if (f) {
		lru_unlink(&t->lru[f->klass], f);
		lru_append(&t->lru[f->klass], f);
	} else {
		f = alloc_flow(t);
		if (!f) {
			sl_ctr_inc(t->ctr, SL_CTR_FLOWS_REFUSED);
			return NULL;
		}
		bool midstream;
		memset(f, 0, sizeof(*f));
		f->key = k;
		f->hash = h;
		f->id = t->next_id++ * (t->cfg.id_step ? t->cfg.id_step : 1) + t->cfg.id_base + 1;
		f->client = guess_client(t, p, src_side, &midstream);
		f->flags = midstream ? SL_FLOWF_MIDSTREAM : 0;
		f->klass = SL_FLOW_EMBRYONIC;
		f->first_us = now_us;
		f->first_pkt = p->index;
		if (p->ip_proto == 6)
			sl_tcp_session_init(&f->tcp);
		f->hnext = t->buckets[h & t->mask];
		t->buckets[h & t->mask] = f;
		lru_append(&t->lru[f->klass], f);
		t->count++;
		if (t->count > t->mask + 1)
			grow_buckets(t);
		sl_ctr_inc(t->ctr, SL_CTR_FLOWS_NEW);
		if (t->ctr && t->count > t->ctr->v[SL_CTR_FLOWS_ACTIVE_PEAK])
			t->ctr->v[SL_CTR_FLOWS_ACTIVE_PEAK] = t->count;
	}
	f->last_us = now_us;
	f->last_pkt = p->index;
	*dir = src_side == f->client ? SL_TO_SERVER : SL_TO_CLIENT;
	return f;
}

void sl_flow_set_class(struct sl_flow_table *t, struct sl_flow *f, enum sl_flow_class c)
{
	if (f->klass == c)
		return;
	lru_unlink(&t->lru[f->klass], f);
	f->klass = (uint8_t)c;
	lru_append(&t->lru[c], f);
}

void sl_flow_expire(struct sl_flow_table *t, uint64_t now_us)
{
	for (int c = 0; c < SL_FLOW_CLASSES; c++) {
		struct sl_flow *f;
		while ((f = t->lru[c].head) && now_us > f->last_us &&
		       now_us - f->last_us > t->timeout_us[c]) {
			sl_ctr_inc(t->ctr, SL_CTR_FLOWS_TIMEOUT);
			release_flow(t, f, SL_FLOW_END_TIMEOUT);
		}
	}
}

void sl_flow_remove(struct sl_flow_table *t, struct sl_flow *f, enum sl_flow_end why)
{
	release_flow(t, f, why);
}

uint32_t sl_flow_count(const struct sl_flow_table *t)
{
	return t->count;
}

void sl_flow_endpoint(const struct sl_flow *f, enum sl_dir d, const struct sl_addr **src,
		      uint16_t *sport, const struct sl_addr **dst, uint16_t *dport)
{
	int s = d == SL_TO_SERVER ? f->client : !f->client;

	*src = &f->key.addr[s];
	*sport = f->key.port[s];
	*dst = &f->key.addr[!s];
	*dport = f->key.port[!s];
}

void sl_flow_table_free(struct sl_flow_table *t)
{
	if (!t)
		return;
	for (int c = 0; c < SL_FLOW_CLASSES; c++) {
		struct sl_flow *f;
		while ((f = t->lru[c].head))
			release_flow(t, f, SL_FLOW_END_CAPTURE);
	}
	while (t->slabs) {
		struct slab *s = t->slabs;
		t->slabs = s->next;
		free(s);
	}
	free(t->buckets);
	free(t);
}
