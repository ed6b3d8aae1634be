/* Packet decoding (contract in decode.h).
 *
 * Every header is length-checked against the bytes actually present before
 * it is read; lengths from the wire are only ever compared or subtracted
 * after such a check, and all of them fit in 32 bits (frames are < 4 GiB,
 * IP lengths < 2^16), so no arithmetic below can wrap. */
#include "decode.h"
#include "hash.h"

#include <netinet/in.h>
#include <pcap/dlt.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "bytes.h"
#include "checksum.h"
#include "defrag.h"

#define ETH_HLEN 14
#define SLL_HLEN 16
#define SLL2_HLEN 20
#define ETH_P_IPV4 0x0800
#define ETH_P_IPV6 0x86dd
#define ETH_P_8021Q 0x8100
#define ETH_P_8021AD 0x88a8
#define ETH_P_QINQ_OLD 0x9100
#define LINKTYPE_RAW_FILE 101		/* LINKTYPE_RAW, when a source passes it unmapped */
#define IPV6_HLEN 40
#define TCP_HLEN 20
#define UDP_HLEN 8
#define IPV6_MAX_PAYLOAD 65535u

/* ---- the AUTO checksum policy -------------------------------------------
 *
 * What produces a wrong checksum in a capture:
 *  1. checksum offload on the capturing host: its outgoing packets are
 *     captured before the NIC fills the checksum in.  Linux and the BSDs
 *     leave the pseudo-header sum in the field ("partial" checksum), some
 *     drivers leave zero.  Whether control segments are affected depends on
 *     the stack: Linux offloads every segment but computes RSTs and
 *     TIME_WAIT ACKs in software; other stacks compute SYNs and pure ACKs
 *     and offload only data (corpus: bug-1045, smtp-zip, smtp-nospaces).
 *  2. GRO/LRO on the capturing host: received segments merged into one
 *     packet larger than the MTU, with a partial checksum (bug-7126).
 *  3. rewritten or hand-edited captures: anonymised addresses, edited
 *     payloads (random wrong values; many test corpora).
 *  4. chaff: an attacker sends segments with wrong checksums that the
 *     receiver drops but a careless inspector accepts (a RST that tears
 *     down its state, or data that differs from what the receiver gets).
 *
 * Inline, (1) and (2) cannot occur on the wire (the kernel flags its own
 * unfinished checksums: SL_PKT_L4_CSUM_SKIP), so inline should run ON.
 *
 * The brief's first idea -- a source whose first N segments are all bad is
 * an offloader, one that sent a good checksum first is validated forever --
 * fails twice on real captures: offloaders lose their handshake while
 * undecided, and the "good control, offloaded data" stacks of (1) send a
 * good SYN first and would lose all their data.  Deciding from the first
 * segment alone and revoking on any good one fails on Linux offloaders,
 * whose RSTs are good.  So the evidence is kept per kind of segment:
 *
 *   GOOD_IP    the source sent a correct IPv4 header checksum.  Every stack
 *              computes those in software (Windows offload leaves zero),
 *              so a later wrong one is chaff -- unless none was ever right.
 *   GOOD_DATA  the source sent a correct TCP checksum on a segment WITH
 *              payload: it does not offload data checksums, so any later
 *              bad segment from it is chaff or corruption: BAD, forever.
 *   GOOD_CTL   correct checksum on a segment without payload.
 *
 * A bad TCP checksum is then judged, first match wins:
 *   a. partial checksum on a packet longer than csum_gro_len, not from
 *      defragmentation: GRO/TSO super-packet (2): SKIP.  Such a packet
 *      cannot cross a standard-MTU network, so chaff cannot use this.
 *   b. source has GOOD_DATA: BAD.
 *   c. segment carries data: SKIP (the source never proved it computes data
 *      checksums; (1) and (3) look like this).
 *   d. source never sent a good control segment either: SKIP ((1) on Linux,
 *      (3)).
 *   e. partial or zero checksum: SKIP (Linux offloader whose RST was good).
 *   f. otherwise BAD: a source computing control checksums sent a randomly
 *      wrong one -- a chaff RST/FIN.
 *
 * What this still lets through, knowingly: chaff from a source before its
 * first good data segment (c), and chaff that forges a partial checksum on
 * a control segment (e) of a source without GOOD_DATA.  Chaff data accepted
 * under (c) lands in the stream first; when the genuine data arrives the
 * TCP layer sees different bytes for the same sequence numbers
 * (stream.overlap_conflict, BLOCK).  And when a source that had segments
 * accepted under (c)-(e) later sends good data, decode.csum_offload_revoked
 * records that its earlier bad segments were accepted unverified.  Every
 * SKIP sets SL_PKT_L4_CSUM_SKIP and is counted; hosts taken for offloaders
 * are listed in the summary.  The table is bounded (csum_sources, LRU): a
 * forgotten source starts over with no evidence.
 *
 * A hand-edited capture whose edited segment comes from a source that
 * already sent good data gets that segment judged BAD, like chaff: nothing
 * here can tell them apart.  The receiver can: in replay, reassembly keeps
 * the bytes of BAD segments aside and delivers them only when the
 * receiver's ACK covers them and no segment with a good checksum supplied
 * those bytes (tcp.csum_bad_acked, stream.unverified_acked; reassembly/tcp.h),
 * so the edited segment is recovered while chaff among good segments still
 * loses.  Inline that store is off: a receiver drops such a segment, so only
 * a forged ACK could cover it (and checksums should be ON there anyway). */

enum { EV_GOOD_IP = 1, EV_GOOD_CTL = 2, EV_GOOD_DATA = 4, EV_DECLARED = 8 };
#define NIL UINT32_MAX

struct src_ent {
	struct sl_addr addr;
	uint32_t hnext;			/* bucket chain */
	uint32_t newer, older;		/* LRU list */
	uint32_t skipped;		/* segments accepted unverified (rules c-e) */
	uint8_t ev;
};

struct src_table {
	struct src_ent *ent;
	uint32_t *bucket;
	uint32_t cap, used, bmask;
	uint32_t newest, oldest;
	uint64_t seed;
};

struct sl_decoder {
	struct sl_decode_config cfg;
	struct sl_defrag *df;
	struct sl_counters *ctr;
	sl_anomaly_fn anomaly;
	void *u;
	struct src_table src;
	struct sl_offload_summary sum;
};

/* What decoding found out about a packet's checksums. */
struct csum_facts {
	int ip;				/* IPv4 header: -1 not checked, 0 wrong, 1 right */
	int tcp;			/* likewise */
	bool partial;			/* TCP field holds the pseudo-header sum, or zero */
	bool gro;			/* ... on a packet longer than csum_gro_len */
	bool data;			/* segment carries payload */
};

enum verdict { V_OK, V_SKIP, V_BAD };

/* Facts decode_ipv4/ipv6 pass down to the transport. */
struct l3info {
	int ip_ok;			/* IPv4 header checksum, as struct csum_facts.ip */
	uint32_t l4_ip_len;		/* transport length according to the IP header */
	bool reassembled;
};

void sl_decode_config_default(struct sl_decode_config *c)
{
	c->csum = SL_CSUM_AUTO;
	c->csum_sources = 1024;
	c->csum_gro_len = 1500;
	c->max_ipv6_exthdrs = 8;
	c->max_vlan = 8;
}

static const char *const csum_mode_names[] = {
	[SL_CSUM_AUTO] = "auto", [SL_CSUM_ON] = "on", [SL_CSUM_OFF] = "off",
};

int sl_csum_mode_parse(const char *s, enum sl_csum_mode *mode)
{
	for (unsigned i = 0; i < SL_ARRAY_SIZE(csum_mode_names); i++) {
		if (strcmp(s, csum_mode_names[i]) == 0) {
			*mode = (enum sl_csum_mode)i;
			return 0;
		}
	}
	return -1;
}

const char *sl_csum_mode_name(enum sl_csum_mode mode)
{
	return (unsigned)mode < SL_ARRAY_SIZE(csum_mode_names) ? csum_mode_names[mode] : "unknown";
}

const char *sl_decode_result_name(enum sl_decode_result r)
{
	switch (r) {
	case SL_DECODE_OK: return "ok";
	case SL_DECODE_NOT_IP: return "not_ip";
	case SL_DECODE_HELD: return "held";
	case SL_DECODE_FRAG_DROPPED: return "frag_dropped";
	case SL_DECODE_ERROR: return "error";
	}
	return "unknown";
}

/* ---- source table ---- */

/* Empties the table: no entries, every bucket chain NIL. */
static void src_table_reset(struct src_table *t)
{
	memset(t->ent, 0, t->cap * sizeof(*t->ent));
	memset(t->bucket, 0xff, ((size_t)t->bmask + 1) * sizeof(*t->bucket));
	t->used = 0;
	t->newest = t->oldest = NIL;
}

static int src_table_init(struct src_table *t, uint32_t cap)
{
	uint32_t nb = 16;

	if (cap == 0)
		cap = 1;
	if (cap > (1u << 24))
		cap = 1u << 24;
	while (nb < 2 * cap)
		nb <<= 1;
	t->ent = malloc(cap * sizeof(*t->ent));
	t->bucket = malloc(nb * sizeof(*t->bucket));
	if (!t->ent || !t->bucket)
		return -1;
	t->cap = cap;
	t->bmask = nb - 1;
	t->seed = sl_hash_seed(t);
	src_table_reset(t);
	return 0;
}

static uint32_t src_hash(const struct src_table *t, const struct sl_addr *a)
{
	return (uint32_t)sl_hash_words(a->b, 16, t->seed) & t->bmask;
}

static void lru_unlink(struct src_table *t, uint32_t i)
{
	struct src_ent *e = &t->ent[i];

	if (e->newer != NIL)
		t->ent[e->newer].older = e->older;
	else
		t->newest = e->older;
	if (e->older != NIL)
		t->ent[e->older].newer = e->newer;
	else
		t->oldest = e->newer;
}

static void lru_push(struct src_table *t, uint32_t i)
{
	struct src_ent *e = &t->ent[i];

	e->newer = NIL;
	e->older = t->newest;
	if (t->newest != NIL)
		t->ent[t->newest].newer = i;
	else
		t->oldest = i;
	t->newest = i;
}

/* The entry for a source, created (evicting the least recently used one
 * when full) if it has none. */
static struct src_ent *src_get(struct src_table *t, const struct sl_addr *a)
{
	uint32_t b = src_hash(t, a), i;

	for (i = t->bucket[b]; i != NIL; i = t->ent[i].hnext) {
		if (memcmp(&t->ent[i].addr, a, sizeof(*a)) == 0) {
			if (t->newest != i) {
				lru_unlink(t, i);
				lru_push(t, i);
			}
			return &t->ent[i];
		}
	}
	if (t->used < t->cap) {
		i = t->used++;
	} else {
		i = t->oldest;
		lru_unlink(t, i);
		uint32_t *pp = &t->bucket[src_hash(t, &t->ent[i].addr)];
		while (*pp != i)
			pp = &t->ent[*pp].hnext;
		*pp = t->ent[i].hnext;
	}
	struct src_ent *e = &t->ent[i];
	memset(e, 0, sizeof(*e));
	e->addr = *a;
	e->hnext = t->bucket[b];
	t->bucket[b] = i;
	lru_push(t, i);
	return e;
}

/* ---- decoder ---- */

struct sl_decoder *sl_decoder_new(const struct sl_decode_config *cfg, struct sl_defrag *df,
				  struct sl_counters *ctr, sl_anomaly_fn fn, void *u)
{
	struct sl_decoder *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	d->cfg = *cfg;
	d->df = df;
	d->ctr = ctr;
	d->anomaly = fn;
	d->u = u;
	if (d->cfg.csum == SL_CSUM_AUTO && src_table_init(&d->src, d->cfg.csum_sources) != 0) {
		sl_decoder_free(d);
		return NULL;
	}
	if (df)
		sl_defrag_set_anomaly_fn(df, fn, u);
	return d;
}

void sl_decoder_forget_sources(struct sl_decoder *d)
{
	if (d->src.ent)
		src_table_reset(&d->src);
}

void sl_decoder_free(struct sl_decoder *d)
{
	if (!d)
		return;
	free(d->src.ent);
	free(d->src.bucket);
	free(d);
}

static void report(struct sl_decoder *d, enum sl_anomaly a, const struct sl_packet *p,
		   const char *detail)
{
	if (d->anomaly)
		d->anomaly(d->u, a, p, detail);
}

static enum sl_decode_result fail(struct sl_decoder *d, const struct sl_packet *p,
				  enum sl_anomaly a, const char *detail)
{
	sl_ctr_inc(d->ctr, SL_CTR_DECODE_ERRORS);
	report(d, a, p, detail);
	return SL_DECODE_ERROR;
}

/* A header that does not fit: cut by the capture, or by the packet itself. */
static enum sl_decode_result short_hdr(struct sl_decoder *d, const struct sl_packet *p,
				       const char *what)
{
	return fail(d, p, SL_ANOM_DECODE_TRUNCATED, what);
}

static void set_v4(struct sl_addr *a, const uint8_t *v4)
{
	static const uint8_t prefix[12] = { 0,0,0,0,0,0,0,0,0,0,0xff,0xff };

	memcpy(a->b, prefix, 12);
	memcpy(a->b + 12, v4, 4);
}

/* Lists a, once, while the summary has room. */
static void summary_add_addr(struct sl_offload_summary *s, const struct sl_addr *a)
{
	for (unsigned i = 0; i < s->n_addrs; i++)
		if (memcmp(&s->addrs[i], a, sizeof(*a)) == 0)
			return;
	if (s->n_addrs < SL_OFFLOAD_ADDRS)
		s->addrs[s->n_addrs++] = *a;
}

static void declare_offload(struct sl_decoder *d, struct src_ent *e)
{
	struct sl_offload_summary *s = &d->sum;

	e->ev |= EV_DECLARED;
	s->hosts++;
	sl_ctr_inc(d->ctr, SL_CTR_DECODE_OFFLOAD_HOSTS);
	summary_add_addr(s, &e->addr);
}

/* The AUTO/ON policy (AUTO reasoning at the top of this file). */
static enum verdict judge(struct sl_decoder *d, const struct sl_packet *p,
			  const struct csum_facts *c)
{
	if (d->cfg.csum == SL_CSUM_ON)
		return c->ip == 0 || c->tcp == 0 ? V_BAD : V_OK;

	struct src_ent *e = src_get(&d->src, &p->src);
	enum verdict v = V_OK;

	if (c->ip == 1) {
		e->ev |= EV_GOOD_IP;
	} else if (c->ip == 0) {
		if (e->ev & EV_GOOD_IP)
			return V_BAD;
		v = V_SKIP;
	}
	if (c->tcp == 1 && c->ip != 0) {
		if (c->data && !(e->ev & EV_GOOD_DATA) && e->skipped) {
			d->sum.revoked++;
			report(d, SL_ANOM_DECODE_CSUM_UNVERIFIED, p, NULL);
		}
		e->ev |= c->data ? EV_GOOD_DATA : EV_GOOD_CTL;
	} else if (c->tcp == 0) {
		if (c->gro)
			return V_SKIP;
		if (e->ev & EV_GOOD_DATA)
			return V_BAD;
		if (!c->data && (e->ev & EV_GOOD_CTL) && !c->partial)
			return V_BAD;
		v = V_SKIP;
	}
	if (v == V_SKIP && c->tcp >= 0) {
		if (!(e->ev & EV_DECLARED))
			declare_offload(d, e);
		e->skipped++;
		d->sum.segments++;
	}
	return v;
}

void sl_decoder_offload_summary(const struct sl_decoder *d, struct sl_offload_summary *s)
{
	*s = d->sum;
}

void sl_offload_summary_merge(struct sl_offload_summary *dst,
			      const struct sl_offload_summary *src)
{
	dst->hosts += src->hosts;
	dst->segments += src->segments;
	dst->revoked += src->revoked;
	for (unsigned i = 0; i < src->n_addrs && dst->n_addrs < SL_OFFLOAD_ADDRS; i++)
		summary_add_addr(dst, &src->addrs[i]);
}

void sl_offload_summary_print(const struct sl_offload_summary *s, FILE *f)
{
	char buf[64];

	if (!s->hosts)
		return;
	fprintf(f, "  TCP checksums not validated for %llu host%s (offload):",
		(unsigned long long)s->hosts, s->hosts == 1 ? "" : "s");
	for (unsigned i = 0; i < s->n_addrs; i++)
		fprintf(f, "%s %s", i ? "," : "", sl_addr_str(&s->addrs[i], buf, sizeof(buf)));
	if (s->hosts > s->n_addrs)
		fprintf(f, " ...");
	fprintf(f, "\n    %llu segments accepted unverified",
		(unsigned long long)s->segments);
	if (s->revoked)
		fprintf(f, "; %llu of the hosts later sent valid checksums "
			"(decode.csum_offload_revoked)", (unsigned long long)s->revoked);
	fprintf(f, "; use checksum mode \"on\" to verify them all\n");
}

void sl_decoder_summary(const struct sl_decoder *d, FILE *f)
{
	sl_offload_summary_print(&d->sum, f);
}

/* ---- transport ---- */

/* Parses TCP options as Linux does (tcp_parse_options): a bad length ends the
 * walk; an option of a known kind with the wrong fixed length is ignored.
 * Both set opts.malformed; *why names the first problem. */
static void tcp_options(const uint8_t *o, uint32_t n, struct sl_tcp_opts *t, const char **why)
{
	uint32_t i = 0;

	while (i < n) {
		uint8_t kind = o[i];

		if (kind == 0)
			return;
		if (kind == 1) {
			i++;
			continue;
		}
		if (n - i < 2) {
			*why = "option length missing";
			t->malformed = 1;
			return;
		}
		uint8_t len = o[i + 1];
		if (len < 2 || len > n - i) {
			*why = "option length out of range";
			t->malformed = 1;
			return;
		}
		const uint8_t *v = o + i + 2;
		bool ok = true;
		switch (kind) {
		case 2:
			if ((ok = len == 4)) {
				t->mss = sl_be16(v);
				t->has_mss = 1;
			}
			break;
		case 3:
			if ((ok = len == 3)) {
				t->wscale = v[0];
				t->has_wscale = 1;
				if (v[0] > 14) {
					/* RFC 7323 section 2.3: use 14. */
					t->wscale = 14;
					t->malformed = 1;
					*why = "window scale above 14";
				}
			}
			break;
		case 4:
			if ((ok = len == 2))
				t->sack_perm = 1;
			break;
		case 5:
			ok = len >= 10 && (len - 2) % 8 == 0;
			break;
		case 8:
			if ((ok = len == 10)) {
				t->tsval = sl_be32(v);
				t->tsecr = sl_be32(v + 4);
				t->has_ts = 1;
			}
			break;
		default:
			break;
		}
		if (!ok) {
			t->malformed = 1;
			*why = "option with a wrong length for its kind";
		}
		i += len;
	}
}

static bool tcp_flags_impossible(uint8_t f)
{
	if ((f & SL_TH_SYN) && (f & (SL_TH_FIN | SL_TH_RST)))
		return true;
	if (!(f & (SL_TH_SYN | SL_TH_ACK | SL_TH_RST | SL_TH_FIN)))
		return true;		/* null / URG- or PSH-only scan */
	return (f & SL_TH_FIN) && !(f & SL_TH_ACK);
}

/* A wrong IPv4 header checksum judged BAD: flagged, counted, reported. */
static void ip_csum_mark_bad(struct sl_decoder *d, struct sl_packet *p)
{
	p->flags |= SL_PKT_IP_CSUM_BAD;
	sl_ctr_inc(d->ctr, SL_CTR_DECODE_IP_CSUM_BAD);
	report(d, SL_ANOM_DECODE_IPV4_CSUM, p, NULL);
}

static void tcp_checksum(struct sl_decoder *d, struct sl_packet *p, const struct l3info *li)
{
	if (p->flags & SL_PKT_L4_CSUM_SKIP) {
		sl_ctr_inc(d->ctr, SL_CTR_DECODE_CSUM_SKIP);
		return;
	}
	/* Cannot verify what is missing: cut by the capture. */
	if (d->cfg.csum == SL_CSUM_OFF || p->l4_len < li->l4_ip_len) {
		p->flags |= SL_PKT_L4_CSUM_SKIP;
		sl_ctr_inc(d->ctr, SL_CTR_DECODE_CSUM_SKIP);
		return;
	}

	uint32_t pseudo = p->ipver == 4
		? sl_csum_pseudo_v4(p->src.b + 12, p->dst.b + 12, IPPROTO_TCP, p->l4_len)
		: sl_csum_pseudo_v6(p->src.b, p->dst.b, IPPROTO_TCP, p->l4_len);
	uint32_t sum = sl_csum_fold(sl_csum_partial(p->l4, p->l4_len, pseudo));
	uint16_t field = sl_be16(p->l4 + 16);
	struct csum_facts c = {
		.ip = li->ip_ok,
		.tcp = sum == 0xffff,
		.partial = field == sl_csum_fold(pseudo) || field == 0,
		.data = p->payload_len > 0,
	};
	c.gro = c.partial && p->l3_len > d->cfg.csum_gro_len && !li->reassembled;

	switch (judge(d, p, &c)) {
	case V_OK:
		break;
	case V_SKIP:
		p->flags |= SL_PKT_L4_CSUM_SKIP;
		sl_ctr_inc(d->ctr, SL_CTR_DECODE_CSUM_SKIP);
		break;
	case V_BAD:
		p->flags |= SL_PKT_L4_CSUM_BAD;
		if (c.ip == 0)
			ip_csum_mark_bad(d, p);
		if (c.tcp == 0) {
			sl_ctr_inc(d->ctr, SL_CTR_DECODE_CSUM_BAD);
			report(d, SL_ANOM_DECODE_TCP_CSUM, p, NULL);
		}
		break;
	}
}

static enum sl_decode_result decode_tcp(struct sl_decoder *d, struct sl_packet *p,
					const struct l3info *li)
{
	const uint8_t *th = p->l4;

	if (p->l4_len < TCP_HLEN)
		return short_hdr(d, p, "TCP header");
	uint32_t doff = (uint32_t)(th[12] >> 4) * 4;
	if (doff < TCP_HLEN || doff > li->l4_ip_len)
		return fail(d, p, SL_ANOM_DECODE_TCP_HLEN, NULL);
	if (doff > p->l4_len)
		return short_hdr(d, p, "TCP options");

	p->sport = sl_be16(th);
	p->dport = sl_be16(th + 2);
	p->seq = sl_be32(th + 4);
	p->ack = sl_be32(th + 8);
	p->tcp_flags = th[13];
	p->win = sl_be16(th + 14);
	p->payload = th + doff;
	p->payload_len = p->l4_len - doff;
	sl_ctr_inc(d->ctr, SL_CTR_DECODE_TCP);

	if (doff > TCP_HLEN) {
		const char *why = NULL;

		tcp_options(th + TCP_HLEN, doff - TCP_HLEN, &p->opts, &why);
		if (why)
			report(d, SL_ANOM_DECODE_TCP_OPTS, p, why);
	}
	if (tcp_flags_impossible(p->tcp_flags))
		report(d, SL_ANOM_DECODE_TCP_FLAGS, p, NULL);
	tcp_checksum(d, p, li);
	return SL_DECODE_OK;
}

/* The IPv4 header checksum verdict for packets without a TCP checksum to
 * weigh it with (UDP, ICMP, fragments).  True when the packet must be
 * treated as one the receiver drops. */
static bool ip_csum_bad(struct sl_decoder *d, struct sl_packet *p, int ip_ok)
{
	if (ip_ok < 0)
		return false;
	struct csum_facts c = { .ip = ip_ok, .tcp = -1 };
	if (judge(d, p, &c) != V_BAD)
		return false;
	ip_csum_mark_bad(d, p);
	return true;
}

static enum sl_decode_result decode_l4(struct sl_decoder *d, struct sl_packet *p,
				       const uint8_t *l4, uint32_t len, const struct l3info *li)
{
	p->l4 = l4;
	p->l4_len = len;
	switch (p->ip_proto) {
	case IPPROTO_TCP:
		return decode_tcp(d, p, li);
	case IPPROTO_UDP: {
		if (len < UDP_HLEN)
			return short_hdr(d, p, "UDP header");
		uint32_t ulen = sl_be16(l4 + 4);
		/* ulen 0 is the UDP jumbogram convention (RFC 2675). */
		if ((ulen < UDP_HLEN && !(ulen == 0 && p->ipver == 6)) || ulen > li->l4_ip_len)
			return fail(d, p, SL_ANOM_DECODE_UDP_LEN, NULL);
		if (ulen == 0)
			ulen = li->l4_ip_len;
		p->sport = sl_be16(l4);
		p->dport = sl_be16(l4 + 2);
		p->payload = l4 + UDP_HLEN;
		p->payload_len = SL_MIN(ulen, len) - UDP_HLEN;
		sl_ctr_inc(d->ctr, SL_CTR_DECODE_UDP);
		break;
	}
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6:
		p->payload = l4;
		p->payload_len = len;
		sl_ctr_inc(d->ctr, SL_CTR_DECODE_ICMP);
		break;
	default:
		p->payload = l4;
		p->payload_len = len;
		sl_ctr_inc(d->ctr, SL_CTR_DECODE_OTHER_L4);
		break;
	}
	ip_csum_bad(d, p, li->ip_ok);
	return SL_DECODE_OK;
}

/* ---- network ---- */

static enum sl_decode_result decode_ip(struct sl_decoder *d, struct sl_packet *p,
				       const uint8_t *ip, uint32_t avail, int want_ver,
				       bool reassembled);

static enum sl_decode_result defrag(struct sl_decoder *d, struct sl_packet *p,
				    const struct sl_frag *f)
{
	const uint8_t *out;
	uint32_t out_len;

	if (p->flags & SL_PKT_TRUNCATED)
		return short_hdr(d, p, "fragment cut short by the capture");
	if (!d->df) {
		sl_ctr_inc(d->ctr, SL_CTR_DEFRAG_FRAGS);
		return SL_DECODE_FRAG_DROPPED;
	}
	switch (sl_defrag_add(d->df, f, p, p->ts_us, &out, &out_len)) {
	case SL_DEFRAG_HELD:
		return SL_DECODE_HELD;
	case SL_DEFRAG_DROPPED:
		return SL_DECODE_FRAG_DROPPED;
	case SL_DEFRAG_DONE:
		break;
	}
	p->flags |= SL_PKT_DEFRAGMENTED | sl_defrag_done_flags(d->df);
	return decode_ip(d, p, out, out_len, f->family, true);
}

/* How much of an IP packet of length tot is in the avail bytes after its
 * start: all of it, or -- only when the capture cut it (snap length) --
 * what there is.  False when the packet claims bytes the frame never had. */
static bool ip_bytes_present(const struct sl_packet *p, uint32_t tot, uint32_t avail,
			     uint32_t *present)
{
	*present = SL_MIN(tot, avail);
	return tot <= avail || (p->flags & SL_PKT_TRUNCATED);
}

/* Walks IPv4 options (RFC 791): EOL ends the list, NOP is one byte, every
 * other option has a length of at least 2 that stays inside the header. */
static bool ipv4_options_ok(const uint8_t *o, uint32_t n)
{
	uint32_t i = 0;

	while (i < n) {
		if (o[i] == 0)
			return true;
		if (o[i] == 1) {
			i++;
			continue;
		}
		if (n - i < 2 || o[i + 1] < 2 || o[i + 1] > n - i)
			return false;
		i += o[i + 1];
	}
	return true;
}

static enum sl_decode_result decode_ipv4(struct sl_decoder *d, struct sl_packet *p,
					 const uint8_t *ip, uint32_t avail, bool reassembled)
{
	if (avail < 20)
		return short_hdr(d, p, "IPv4 header");
	uint32_t hl = (uint32_t)(ip[0] & 0x0f) * 4;
	if (hl < 20)
		return fail(d, p, SL_ANOM_DECODE_IPV4_HLEN, NULL);
	if (hl > avail)
		return short_hdr(d, p, "IPv4 options");
	uint32_t tot = sl_be16(ip + 2);
	/* BIG TCP (Linux GSO beyond 64 KiB) sets 0 and relies on the frame. */
	if (tot == 0 && avail > 65535)
		tot = avail;
	if (tot < hl)
		return fail(d, p, SL_ANOM_DECODE_IPV4_LEN, "total length below header length");
	uint32_t present;
	if (!ip_bytes_present(p, tot, avail, &present))
		return fail(d, p, SL_ANOM_DECODE_IPV4_LEN, "total length beyond the frame");

	p->ipver = 4;
	p->ttl = ip[8];
	p->ip_proto = ip[9];
	set_v4(&p->src, ip + 12);
	set_v4(&p->dst, ip + 16);
	p->l3 = ip;
	p->l3_len = present;
	if (!reassembled)
		sl_ctr_inc(d->ctr, SL_CTR_DECODE_IPV4);
	if (hl > 20 && !ipv4_options_ok(ip + 20, hl - 20))
		return fail(d, p, SL_ANOM_DECODE_IPV4_OPTS, NULL);

	struct l3info li = { .ip_ok = -1, .l4_ip_len = tot - hl, .reassembled = reassembled };
	/* The defragmenter wrote the reassembled header's checksum itself. */
	if (d->cfg.csum != SL_CSUM_OFF && !reassembled)
		li.ip_ok = sl_csum(ip, hl) == 0;

	uint16_t fo = sl_be16(ip + 6);
	if (fo & 0x3fff) {
		if (reassembled)
			return fail(d, p, SL_ANOM_DECODE_FRAG_NESTED, NULL);
		if (ip_csum_bad(d, p, li.ip_ok)) {
			/* A receiver drops it before reassembly: so do we. */
			sl_ctr_inc(d->ctr, SL_CTR_DECODE_ERRORS);
			return SL_DECODE_ERROR;
		}
		struct sl_frag f = {
			.src = p->src, .dst = p->dst, .id = sl_be16(ip + 4), .family = 4,
			.proto = ip[9], .more = fo & 0x2000, .offset = (uint32_t)(fo & 0x1fff) * 8,
			.data = ip + hl, .len = tot - hl, .hdr = ip, .hdr_len = hl,
		};
		return defrag(d, p, &f);
	}
	return decode_l4(d, p, ip + hl, present - hl, &li);
}

static bool ipv6_generic_exthdr(uint8_t nh)
{
	switch (nh) {
	case IPPROTO_HOPOPTS:
	case IPPROTO_ROUTING:
	case IPPROTO_DSTOPTS:
	case 135:			/* Mobility (RFC 6275) */
	case 139:			/* HIP (RFC 7401) */
	case 140:			/* Shim6 (RFC 5533) */
		return true;
	default:
		return false;
	}
}

static enum sl_decode_result decode_ipv6(struct sl_decoder *d, struct sl_packet *p,
					 const uint8_t *ip, uint32_t avail, bool reassembled)
{
	if (avail < IPV6_HLEN)
		return short_hdr(d, p, "IPv6 header");
	uint32_t tot = IPV6_HLEN + sl_be16(ip + 4);
	/* Jumbogram (RFC 2675) or BIG TCP: payload length 0 behind a hop-by-hop
	 * header, on a packet that cannot have a 16-bit length. */
	if (tot == IPV6_HLEN && ip[6] == IPPROTO_HOPOPTS && avail > IPV6_HLEN + IPV6_MAX_PAYLOAD)
		tot = avail;
	uint32_t present;
	if (!ip_bytes_present(p, tot, avail, &present))
		return fail(d, p, SL_ANOM_DECODE_IPV6_LEN, "payload length beyond the frame");

	p->ipver = 6;
	p->ttl = ip[7];
	memcpy(p->src.b, ip + 8, 16);
	memcpy(p->dst.b, ip + 24, 16);
	p->l3 = ip;
	p->l3_len = present;
	if (!reassembled)
		sl_ctr_inc(d->ctr, SL_CTR_DECODE_IPV6);

	uint8_t nh = ip[6];
	uint32_t off = IPV6_HLEN, nh_off = 6;
	unsigned count = 0;

	for (;;) {
		uint32_t len;

		if (ipv6_generic_exthdr(nh) || nh == IPPROTO_AH || nh == IPPROTO_FRAGMENT) {
			if (nh == IPPROTO_HOPOPTS && off != IPV6_HLEN)
				return fail(d, p, SL_ANOM_DECODE_IPV6_EXTHDR,
					    "hop-by-hop header not first");
			if (++count > d->cfg.max_ipv6_exthdrs)
				return fail(d, p, SL_ANOM_DECODE_IPV6_EXTHDR,
					    "too many extension headers");
			if (tot - off < 8)
				return fail(d, p, SL_ANOM_DECODE_IPV6_EXTHDR,
					    "extension header beyond the payload length");
			if (present - off < 8)
				return short_hdr(d, p, "IPv6 extension header");
		} else {
			break;
		}
		if (nh == IPPROTO_FRAGMENT) {
			uint16_t fo = sl_be16(ip + off + 2);
			uint8_t next = ip[off];

			if ((fo & 0xfff9) == 0) {
				/* Atomic fragment (RFC 6946): not a fragment at all. */
				nh_off = off;
				nh = next;
				off += 8;
				continue;
			}
			if (reassembled)
				return fail(d, p, SL_ANOM_DECODE_FRAG_NESTED, NULL);
			p->ip_proto = next;
			struct sl_frag f = {
				.src = p->src, .dst = p->dst, .id = sl_be32(ip + off + 4),
				.family = 6,
				.proto = next, .more = fo & 1, .offset = fo & 0xfff8u,
				.data = ip + off + 8, .len = tot - off - 8,
				.hdr = ip, .hdr_len = off, .nh_off = nh_off,
			};
			return defrag(d, p, &f);
		}
		len = nh == IPPROTO_AH ? ((uint32_t)ip[off + 1] + 2) * 4
				       : ((uint32_t)ip[off + 1] + 1) * 8;
		if (len > tot - off)
			return fail(d, p, SL_ANOM_DECODE_IPV6_EXTHDR,
				    "extension header beyond the payload length");
		if (len > present - off)
			return short_hdr(d, p, "IPv6 extension header");
		nh_off = off;
		nh = ip[off];
		off += len;
	}
	p->ip_proto = nh;
	struct l3info li = { .ip_ok = -1, .l4_ip_len = tot - off, .reassembled = reassembled };
	return decode_l4(d, p, ip + off, present - off, &li);
}

static enum sl_decode_result decode_ip(struct sl_decoder *d, struct sl_packet *p,
				       const uint8_t *ip, uint32_t avail, int want_ver,
				       bool reassembled)
{
	if (avail < 1)
		return short_hdr(d, p, "IP header");
	int ver = ip[0] >> 4;
	if (want_ver && ver != want_ver)
		return fail(d, p, SL_ANOM_DECODE_IP_VERSION, "version differs from the link's");
	if (ver == 4)
		return decode_ipv4(d, p, ip, avail, reassembled);
	if (ver == 6)
		return decode_ipv6(d, p, ip, avail, reassembled);
	return fail(d, p, SL_ANOM_DECODE_IP_VERSION, NULL);
}

/* ---- link ---- */

/* From an EtherType at frame[off - 2], through VLAN tags, to IP. */
static enum sl_decode_result decode_ethertype(struct sl_decoder *d, struct sl_packet *p,
					      uint16_t type, uint32_t off)
{
	unsigned tags = 0;

	while (type == ETH_P_8021Q || type == ETH_P_8021AD || type == ETH_P_QINQ_OLD) {
		if (p->cap_len - off < 4)
			return short_hdr(d, p, "VLAN tag");
		if (++tags > d->cfg.max_vlan)
			return fail(d, p, SL_ANOM_DECODE_VLAN_DEPTH,
				    "VLAN stack too deep to decode");
		if (tags == 1)
			sl_ctr_inc(d->ctr, SL_CTR_DECODE_VLAN);
		if (p->vlan_count < SL_ARRAY_SIZE(p->vlan))
			p->vlan[p->vlan_count++] = sl_be16(p->frame + off) & 0x0fff;
		else if (tags == SL_ARRAY_SIZE(p->vlan) + 1)
			report(d, SL_ANOM_DECODE_VLAN_DEPTH, p,
			       "tags beyond the second not recorded");
		type = sl_be16(p->frame + off + 2);
		off += 4;
	}
	const uint8_t *ip = p->frame + off;
	uint32_t avail = p->cap_len - off;
	switch (type) {
	case ETH_P_IPV4:
		return decode_ip(d, p, ip, avail, 4, false);
	case ETH_P_IPV6:
		return decode_ip(d, p, ip, avail, 6, false);
	default:
		sl_ctr_inc(d->ctr, SL_CTR_DECODE_NOT_IP);
		return SL_DECODE_NOT_IP;
	}
}

/* DLT_NULL / DLT_LOOP: a 4-byte address family. */
static enum sl_decode_result decode_loopback(struct sl_decoder *d, struct sl_packet *p)
{
	if (p->cap_len < 4)
		return short_hdr(d, p, "loopback header");
	uint32_t af = p->linktype == DLT_LOOP ? sl_be32(p->frame) : sl_le32(p->frame);
	/* DLT_NULL is in the capturing host's byte order; AF values are small. */
	if (af & 0xffff0000u)
		af = sl_be32(p->frame);
	switch (af) {
	case 2:					/* AF_INET everywhere */
		return decode_ip(d, p, p->frame + 4, p->cap_len - 4, 4, false);
	/* AF_INET6: Linux, Net/OpenBSD, FreeBSD, Darwin */
	case 10: case 24: case 28: case 30:
		return decode_ip(d, p, p->frame + 4, p->cap_len - 4, 6, false);
	default:
		sl_ctr_inc(d->ctr, SL_CTR_DECODE_NOT_IP);
		return SL_DECODE_NOT_IP;
	}
}

enum sl_decode_result sl_decode(struct sl_decoder *d, struct sl_packet *p)
{
	memset(&p->ipver, 0, offsetof(struct sl_packet, flags) - offsetof(struct sl_packet, ipver));
	p->flags &= ~(uint32_t)(SL_PKT_IP_CSUM_BAD | SL_PKT_L4_CSUM_BAD | SL_PKT_DEFRAGMENTED |
				SL_PKT_FRAG_ANOMALIES);
	sl_ctr_inc(d->ctr, SL_CTR_DECODE_PACKETS);
	if (p->cap_len < p->wire_len) {
		p->flags |= SL_PKT_TRUNCATED;
		sl_ctr_inc(d->ctr, SL_CTR_DECODE_SNAPLEN);
	}

	switch (p->linktype) {
	case DLT_EN10MB:
		if (p->cap_len < ETH_HLEN)
			return short_hdr(d, p, "Ethernet header");
		return decode_ethertype(d, p, sl_be16(p->frame + 12), ETH_HLEN);
	case DLT_LINUX_SLL:
		if (p->cap_len < SLL_HLEN)
			return short_hdr(d, p, "Linux cooked header");
		return decode_ethertype(d, p, sl_be16(p->frame + 14), SLL_HLEN);
	case DLT_LINUX_SLL2:
		if (p->cap_len < SLL2_HLEN)
			return short_hdr(d, p, "Linux cooked v2 header");
		return decode_ethertype(d, p, sl_be16(p->frame), SLL2_HLEN);
	case DLT_RAW:
	case LINKTYPE_RAW_FILE:
		return decode_ip(d, p, p->frame, p->cap_len, 0, false);
	case DLT_IPV4:
		return decode_ip(d, p, p->frame, p->cap_len, 4, false);
	case DLT_IPV6:
		return decode_ip(d, p, p->frame, p->cap_len, 6, false);
	case DLT_NULL:
	case DLT_LOOP:
		return decode_loopback(d, p);
	default:
		return fail(d, p, SL_ANOM_DECODE_LINKTYPE, NULL);
	}
}
