#include "hold.h"

#include <stdlib.h>
#include <string.h>

#include "bytes.h"

void sl_hold_set_init(struct sl_hold_set *s, uint64_t bytes_cap)
{
	memset(s, 0, sizeof(*s));
	s->bytes_cap = bytes_cap;
}

void sl_hold_q_init(struct sl_hold_q *q, void *owner, uint8_t dir)
{
	memset(q, 0, sizeof(*q));
	q->owner = owner;
	q->dir = dir;
}

static void dlist_unlink(struct sl_hold_set *s, struct sl_hold_q *q)
{
	if (q->dprev)
		q->dprev->dnext = q->dnext;
	else if (s->dhead == q)
		s->dhead = q->dnext;
	if (q->dnext)
		q->dnext->dprev = q->dprev;
	else if (s->dtail == q)
		s->dtail = q->dprev;
	q->dprev = q->dnext = NULL;
}

static bool dlist_member(const struct sl_hold_set *s, const struct sl_hold_q *q)
{
	return q->dprev || q->dnext || s->dhead == q;
}

/* Sorted insert, searching from the tail: with one hold timeout for all,
 * new deadlines are the latest, so this is O(1) in practice. */
static void dlist_insert(struct sl_hold_set *s, struct sl_hold_q *q)
{
	uint64_t d = q->head->deadline_us;
	struct sl_hold_q *at = s->dtail;

	while (at && at->head->deadline_us > d)
		at = at->dprev;
	q->dprev = at;
	q->dnext = at ? at->dnext : s->dhead;
	if (q->dnext)
		q->dnext->dprev = q;
	else
		s->dtail = q;
	if (at)
		at->dnext = q;
	else
		s->dhead = q;
}

/* Re-sorts q after its head changed. */
static void q_resort(struct sl_hold_set *s, struct sl_hold_q *q)
{
	if (dlist_member(s, q))
		dlist_unlink(s, q);
	if (q->head)
		dlist_insert(s, q);
}

struct sl_held *sl_hold_push(struct sl_hold_set *s, struct sl_hold_q *q, const uint8_t *pkt,
			     uint32_t len, const struct sl_held_info *info, uint64_t now_us,
			     uint64_t deadline_us)
{
	uint64_t cost = sizeof(struct sl_held) + (uint64_t)len;

	if (s->bytes_cap && s->bytes + cost > s->bytes_cap) {
		s->refused++;
		return NULL;
	}
	struct sl_held *h = malloc(sizeof(*h) + len);
	if (!h) {
		s->refused++;
		return NULL;
	}
	memset(h, 0, sizeof(*h));
	h->hid = ++s->next_hid;
	h->t_in_us = now_us;
	h->deadline_us = deadline_us;
	h->info = *info;
	h->len = len;
	memcpy(h->data, pkt, len);
	s->bytes += cost;
	s->pkts++;
	if (q->tail) {
		q->tail->next = h;
		q->tail = h;
	} else {
		q->head = q->tail = h;
		dlist_insert(s, q);
	}
	q->n++;
	return h;
}

struct sl_held *sl_hold_pop(struct sl_hold_set *s, struct sl_hold_q *q, uint64_t now_us)
{
	struct sl_held *h = q->head;

	if (!h)
		return NULL;
	q->head = h->next;
	if (!q->head)
		q->tail = NULL;
	h->next = NULL;
	q->n--;
	s->bytes -= sizeof(struct sl_held) + (uint64_t)h->len;
	s->pkts--;
	sl_hist_add(&s->hold_us, now_us > h->t_in_us ? now_us - h->t_in_us : 0);
	q_resort(s, q);
	return h;
}

void sl_hold_free(struct sl_held *h)
{
	free(h);
}

bool sl_hold_head_ready(const struct sl_hold_q *q, uint64_t consumed)
{
	const struct sl_held *h = q->head;

	if (!h || h->gates)
		return false;
	return !(h->info.why & SL_HOLD_WAIT) || consumed >= h->info.stream_end;
}

bool sl_hold_covers(const struct sl_hold_q *q, uint32_t seq, uint32_t seg_len)
{
	uint32_t cur = seq, end = seq + seg_len;

	if (!q->head || seg_len == 0)
		return false;
	/* Held segments need not be contiguous (an out-of-order segment can be
	 * held behind a hole), so walk the union from seq: each pass must
	 * extend the covered prefix or give up.  Queues are short; the pass
	 * count is bounded by their length. */
	for (uint32_t pass = 0; pass <= q->n; pass++) {
		bool grew = false;
		for (const struct sl_held *h = q->head; h; h = h->next) {
			uint32_t hs = h->info.seq, he = hs + h->info.seg_len;
			if (h->info.seg_len && sl_seq_leq(hs, cur) && !sl_seq_leq(he, cur)) {
				cur = he;
				grew = true;
			}
		}
		if (sl_seq_leq(end, cur))
			return true;
		if (!grew)
			return false;
	}
	return false;
}

struct sl_held *sl_hold_find(const struct sl_hold_q *q, uint64_t hid)
{
	for (struct sl_held *h = q->head; h; h = h->next)
		if (h->hid == hid)
			return h;
	return NULL;
}

struct sl_hold_q *sl_hold_expired(const struct sl_hold_set *s, uint64_t now_us)
{
	struct sl_hold_q *q = s->dhead;

	return q && q->head->deadline_us <= now_us ? q : NULL;
}

uint64_t sl_hold_next_deadline(const struct sl_hold_set *s)
{
	return s->dhead ? s->dhead->head->deadline_us : UINT64_MAX;
}
