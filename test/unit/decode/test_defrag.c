/* reassembly/defrag.c, directly and through the decoder. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <pcap/dlt.h>

#include "decode.h"
#include "defrag.h"
#include "pktbuild.h"

struct fx {
	struct sl_counters ctr;
	struct sl_memcap mc;
	unsigned anom[SL_ANOM_MAX];
	struct sl_defrag *df;
	struct sl_decoder *d;
	struct sl_packet p;
	uint8_t *buf;
	uint64_t now;
	uint64_t index;
};

static void on_anomaly(void *u, enum sl_anomaly a, const struct sl_packet *p, const char *detail)
{
	((struct fx *)u)->anom[a]++;
}

static struct fx *fx_cfg(size_t memcap, uint32_t max_frags, uint32_t max_dgrams)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct sl_defrag_config c;
	struct sl_decode_config dc;

	sl_defrag_config_default(&c);
	if (max_frags)
		c.max_frags = max_frags;
	if (max_dgrams)
		c.max_datagrams = max_dgrams;
	sl_memcap_init(&f->mc, "defrag", memcap);
	f->df = sl_defrag_new(&c, &f->mc, &f->ctr);
	assert_non_null(f->df);
	sl_decode_config_default(&dc);
	dc.csum = SL_CSUM_ON;
	f->d = sl_decoder_new(&dc, f->df, &f->ctr, on_anomaly, f);
	assert_non_null(f->d);
	f->now = 1000000;
	return f;
}

static struct fx *fx_new(void)
{
	return fx_cfg(1u << 20, 0, 0);
}

static void fx_free(struct fx *f)
{
	sl_decoder_free(f->d);
	sl_defrag_free(f->df);
	assert_int_equal(sl_memcap_used(&f->mc), 0);
	free(f->buf);
	free(f);
}

static enum sl_decode_result feed(struct fx *f, const uint8_t *ip, size_t n)
{
	free(f->buf);
	f->buf = malloc(n);
	memcpy(f->buf, ip, n);
	memset(&f->p, 0, sizeof(f->p));
	f->p.frame = f->buf;
	f->p.cap_len = f->p.wire_len = (uint32_t)n;
	f->p.linktype = DLT_RAW;
	f->p.index = ++f->index;
	f->p.ts_us = f->now;
	return sl_decode(f->d, &f->p);
}

/* The datagram: IPv4 + TCP + 300 bytes of payload (TCP segment 320). */
static uint8_t dgram[1200];
static size_t dgram_len;
static uint8_t dgram6[400];
static size_t dgram6_len;
static uint8_t pay[300];

static void build_datagrams(void)
{
	struct pb_tcp t = { .src = { 10, 1, 1, 1 }, .dst = { 10, 2, 2, 2 }, .sport = 1025,
			    .dport = 25, .seq = 77, .ack = 88, .flags = 0x18,
			    .payload = pay, .plen = sizeof(pay), .ip_id = 0x4242 };

	for (size_t i = 0; i < sizeof(pay); i++)
		pay[i] = (uint8_t)(i * 7 + 3);
	dgram_len = pb_ipv4_tcp(dgram, &t);
	dgram[6] = 0;				/* no DF: this one gets fragmented */
	pb_ipv4_fix_csum(dgram);

	memset(t.src, 0, 16);
	memset(t.dst, 0, 16);
	t.src[0] = t.dst[0] = 0xfd;
	t.src[15] = 1;
	t.dst[15] = 2;
	dgram6_len = pb_ipv6_tcp(dgram6, &t);
}

/* IPv4 fragment [off, off+len) of dgram, its payload replaced by alt when
 * alt is non-NULL. */
static size_t frag4(uint8_t *out, size_t off, size_t len, int more, const uint8_t *alt)
{
	memcpy(out, dgram, 20);
	memcpy(out + 20, alt ? alt : dgram + 20 + off, len);
	out[2] = (uint8_t)((20 + len) >> 8);
	out[3] = (uint8_t)(20 + len);
	out[6] = (uint8_t)((more ? 0x20 : 0) | (off / 8) >> 8);
	out[7] = (uint8_t)(off / 8);
	pb_ipv4_fix_csum(out);
	return 20 + len;
}

/* IPv6 fragment with a hop-by-hop header before the Fragment header. */
static size_t frag6(uint8_t *out, size_t off, size_t len, int more, uint8_t next)
{
	static const uint8_t hbh[8] = { 44, 0, 1, 4, 0, 0, 0, 0 };

	memcpy(out, dgram6, 40);
	out[6] = 0;
	memcpy(out + 40, hbh, 8);
	uint8_t *fh = out + 48;
	fh[0] = next;
	fh[1] = 0;
	fh[2] = (uint8_t)(off >> 8);
	fh[3] = (uint8_t)((off & 0xf8) | (more ? 1 : 0));
	memcpy(fh + 4, "\x12\x34\x56\x78", 4);
	memcpy(out + 56, dgram6 + 40 + off, len);
	out[4] = (uint8_t)((16 + len) >> 8);
	out[5] = (uint8_t)(16 + len);
	return 56 + len;
}

static void assert_whole_v4(struct fx *f)
{
	assert_true(f->p.flags & SL_PKT_DEFRAGMENTED);
	assert_false(f->p.flags & (SL_PKT_L4_CSUM_BAD | SL_PKT_IP_CSUM_BAD));
	assert_int_equal(f->p.l3_len, dgram_len);
	assert_memory_equal(f->p.l3, dgram, dgram_len);
	assert_int_equal(f->p.dport, 25);
	assert_int_equal(f->p.seq, 77);
	assert_int_equal(f->p.payload_len, sizeof(pay));
	assert_memory_equal(f->p.payload, pay, sizeof(pay));
}

static void v4_in_order(void **state)
{
	struct fx *f = fx_new();
	uint8_t b[1200];

	assert_int_equal(feed(f, b, frag4(b, 0, 128, 1, NULL)), SL_DECODE_HELD);
	assert_int_equal(f->p.ipver, 4);
	assert_int_equal(f->p.ip_proto, 6);
	assert_int_equal(sl_defrag_pending(f->df), 1);
	assert_true(sl_memcap_used(&f->mc) >= 128);
	assert_int_equal(feed(f, b, frag4(b, 128, 128, 1, NULL)), SL_DECODE_HELD);
	assert_int_equal(feed(f, b, frag4(b, 256, 64, 0, NULL)), SL_DECODE_OK);
	assert_whole_v4(f);
	assert_int_equal(f->p.flags & SL_PKT_FRAG_ANOMALIES, 0);
	assert_int_equal(f->p.index, 3);
	assert_int_equal(sl_defrag_pending(f->df), 0);
	assert_int_equal(sl_memcap_used(&f->mc), 0);
	assert_int_equal(f->ctr.v[SL_CTR_DEFRAG_FRAGS], 3);
	assert_int_equal(f->ctr.v[SL_CTR_DEFRAG_DONE], 1);
	fx_free(f);
}

static void v4_reverse(void **state)
{
	struct fx *f = fx_new();
	uint8_t b[1200];

	assert_int_equal(feed(f, b, frag4(b, 256, 64, 0, NULL)), SL_DECODE_HELD);
	assert_int_equal(feed(f, b, frag4(b, 128, 128, 1, NULL)), SL_DECODE_HELD);
	assert_int_equal(feed(f, b, frag4(b, 0, 128, 1, NULL)), SL_DECODE_OK);
	assert_whole_v4(f);
	assert_int_equal(f->anom[SL_ANOM_DEFRAG_OVERLAP], 0);
	fx_free(f);
}

static void v4_overlap_equal_and_duplicate(void **state)
{
	struct fx *f = fx_new();
	uint8_t b[1200];

	assert_int_equal(feed(f, b, frag4(b, 0, 128, 1, NULL)), SL_DECODE_HELD);
	assert_int_equal(feed(f, b, frag4(b, 0, 128, 1, NULL)), SL_DECODE_HELD);
	assert_int_equal(f->ctr.v[SL_CTR_DEFRAG_DUPLICATES], 1);
	assert_int_equal(f->anom[SL_ANOM_DEFRAG_OVERLAP], 0);
	assert_int_equal(feed(f, b, frag4(b, 64, 128, 1, NULL)), SL_DECODE_HELD);
	assert_int_equal(f->anom[SL_ANOM_DEFRAG_OVERLAP], 1);
	assert_int_equal(feed(f, b, frag4(b, 192, 128, 0, NULL)), SL_DECODE_OK);
	assert_whole_v4(f);
	/* The overlap came with an earlier fragment; the datagram carries it. */
	assert_int_equal(f->p.flags & SL_PKT_FRAG_ANOMALIES, SL_PKT_FRAG_OVERLAP);
	assert_int_equal(f->ctr.v[SL_CTR_DEFRAG_OVERLAPS], 1);
	assert_int_equal(f->anom[SL_ANOM_DEFRAG_OVERLAP_CONFLICT], 0);
	fx_free(f);
}

static void v4_overlap_conflict_first_wins(void **state)
{
	struct fx *f = fx_new();
	uint8_t b[1200], alt[128];

	/* Original first: the later, different bytes lose. */
	memcpy(alt, dgram + 20 + 64, 128);
	memset(alt, 'X', 64);
	assert_int_equal(feed(f, b, frag4(b, 0, 128, 1, NULL)), SL_DECODE_HELD);
	assert_int_equal(feed(f, b, frag4(b, 64, 128, 1, alt)), SL_DECODE_HELD);
	assert_int_equal(f->anom[SL_ANOM_DEFRAG_OVERLAP_CONFLICT], 1);
	assert_int_equal(feed(f, b, frag4(b, 192, 128, 0, NULL)), SL_DECODE_OK);
	assert_whole_v4(f);
	assert_true(f->p.flags & SL_PKT_FRAG_CONFLICT);

	/* Altered first: the altered bytes stay, the original loses. */
	f->now += 1;
	assert_int_equal(feed(f, b, frag4(b, 64, 128, 1, alt)), SL_DECODE_HELD);
	assert_int_equal(feed(f, b, frag4(b, 0, 128, 1, NULL)), SL_DECODE_HELD);
	assert_int_equal(feed(f, b, frag4(b, 192, 128, 0, NULL)), SL_DECODE_OK);
	assert_int_equal(f->anom[SL_ANOM_DEFRAG_OVERLAP_CONFLICT], 2);
	assert_int_equal(f->ctr.v[SL_CTR_DEFRAG_CONFLICTS], 2);
	assert_true(f->p.flags & SL_PKT_FRAG_CONFLICT);
	assert_memory_equal(f->p.l3 + 20 + 64, alt, 64);
	/* The TCP checksum now fails: the stream would ignore this datagram. */
	assert_true(f->p.flags & SL_PKT_L4_CSUM_BAD);
	assert_int_equal(sl_anomaly_default_action(SL_ANOM_DEFRAG_OVERLAP_CONFLICT),
			 SL_ACTION_BLOCK);
	fx_free(f);
}

static void timeout(void **state)
{
	struct fx *f = fx_new();
	uint8_t b[1200];

	assert_int_equal(feed(f, b, frag4(b, 0, 128, 1, NULL)), SL_DECODE_HELD);
	f->now += 29 * 1000000ull;
	assert_int_equal(sl_defrag_expire(f->df, f->now), 0);
	f->now += 1 * 1000000ull;
	/* The rest arrives 30 s later: the first fragment is gone. */
	assert_int_equal(feed(f, b, frag4(b, 128, 192, 0, NULL)), SL_DECODE_HELD);
	assert_int_equal(f->ctr.v[SL_CTR_DEFRAG_TIMEOUTS], 1);
	assert_int_equal(f->anom[SL_ANOM_DEFRAG_TIMEOUT], 1);
	assert_int_equal(sl_defrag_pending(f->df), 1);
	assert_int_equal(sl_defrag_expire(f->df, f->now + 30 * 1000000ull), 1);
	assert_int_equal(sl_defrag_pending(f->df), 0);
	assert_int_equal(sl_defrag_bytes(f->df), 0);
	fx_free(f);
}

static void memcap_hit(void **state)
{
	struct fx *f = fx_cfg(700, 0, 0);
	uint8_t b[1200];

	assert_int_equal(feed(f, b, frag4(b, 0, 256, 1, NULL)), SL_DECODE_HELD);
	assert_int_equal(feed(f, b, frag4(b, 256, 64, 1, NULL)), SL_DECODE_HELD);
	/* the third piece does not fit: the whole datagram goes */
	assert_int_equal(feed(f, b, frag4(b, 320, 256, 0, NULL)), SL_DECODE_FRAG_DROPPED);
	assert_int_equal(f->ctr.v[SL_CTR_DEFRAG_MEMCAP], 1);
	assert_int_equal(f->anom[SL_ANOM_DEFRAG_MEMCAP], 1);
	assert_true(f->mc.hits >= 1);
	assert_int_equal(sl_memcap_used(&f->mc), 0);
	assert_int_equal(sl_defrag_pending(f->df), 0);
	fx_free(f);
}

static void too_big(void **state)
{
	struct fx *f = fx_new();
	uint8_t b[1200];

	assert_int_equal(feed(f, b, frag4(b, 0, 128, 1, NULL)), SL_DECODE_HELD);
	/* offset 65512 + 24 + 20-byte header > 65535: the ping of death */
	size_t n = frag4(b, 0, 24, 0, NULL);
	b[6] = (uint8_t)((65512 / 8) >> 8);
	b[7] = (uint8_t)(65512 / 8);
	pb_ipv4_fix_csum(b);
	assert_int_equal(feed(f, b, n), SL_DECODE_FRAG_DROPPED);
	assert_int_equal(f->anom[SL_ANOM_DEFRAG_TOO_BIG], 1);
	assert_int_equal(f->ctr.v[SL_CTR_DEFRAG_TOO_BIG], 1);
	assert_int_equal(sl_defrag_pending(f->df), 0);
	fx_free(f);
}

static void too_many_and_eviction(void **state)
{
	struct fx *f = fx_cfg(1u << 20, 3, 2);
	uint8_t b[1200];

	for (size_t i = 0; i < 3; i++)
		assert_int_equal(feed(f, b, frag4(b, i * 8, 8, 1, NULL)), SL_DECODE_HELD);
	assert_int_equal(feed(f, b, frag4(b, 24, 8, 1, NULL)), SL_DECODE_FRAG_DROPPED);
	assert_int_equal(f->anom[SL_ANOM_DEFRAG_TOO_MANY], 1);
	assert_int_equal(sl_defrag_pending(f->df), 0);

	/* three datagrams (ids 1, 2, 3) with room for two */
	for (int id = 1; id <= 3; id++) {
		size_t n = frag4(b, 0, 64, 1, NULL);
		b[5] = (uint8_t)id;
		pb_ipv4_fix_csum(b);
		assert_int_equal(feed(f, b, n), SL_DECODE_HELD);
	}
	assert_int_equal(sl_defrag_pending(f->df), 2);
	assert_int_equal(f->ctr.v[SL_CTR_DEFRAG_EVICTED], 1);
	assert_int_equal(f->anom[SL_ANOM_DEFRAG_EVICTED], 1);
	fx_free(f);
}

static void bad_lengths_and_tiny(void **state)
{
	struct fx *f = fx_new();
	uint8_t b[1200];

	/* A non-last IPv4 fragment of 132 bytes is cut to 128 (as Linux does)
	 * and the datagram still completes. */
	size_t n = frag4(b, 0, 132, 1, NULL);
	assert_int_equal(feed(f, b, n), SL_DECODE_HELD);
	assert_int_equal(f->anom[SL_ANOM_DEFRAG_BAD_LEN], 1);
	assert_int_equal(feed(f, b, frag4(b, 128, 192, 0, NULL)), SL_DECODE_OK);
	assert_whole_v4(f);
	assert_int_equal(f->p.flags & SL_PKT_FRAG_ANOMALIES, SL_PKT_FRAG_BAD_LEN);

	/* Data past the end the last fragment set: the datagram is dropped. */
	f->now++;
	assert_int_equal(feed(f, b, frag4(b, 256, 64, 0, NULL)), SL_DECODE_HELD);
	assert_int_equal(feed(f, b, frag4(b, 264, 64, 1, NULL)), SL_DECODE_FRAG_DROPPED);
	assert_int_equal(f->anom[SL_ANOM_DEFRAG_BAD_LEN], 2);
	/* Two last fragments that disagree. */
	assert_int_equal(feed(f, b, frag4(b, 256, 64, 0, NULL)), SL_DECODE_HELD);
	assert_int_equal(feed(f, b, frag4(b, 248, 64, 0, NULL)), SL_DECODE_FRAG_DROPPED);
	assert_int_equal(f->anom[SL_ANOM_DEFRAG_BAD_LEN], 3);

	/* A first fragment of 8 bytes cannot hold the TCP header. */
	assert_int_equal(feed(f, b, frag4(b, 0, 8, 1, NULL)), SL_DECODE_HELD);
	assert_int_equal(f->anom[SL_ANOM_DEFRAG_TINY], 1);
	assert_int_equal(f->ctr.v[SL_CTR_DEFRAG_TINY], 1);
	assert_int_equal(feed(f, b, frag4(b, 8, 312, 0, NULL)), SL_DECODE_OK);
	assert_int_equal(f->p.flags & SL_PKT_FRAG_ANOMALIES, SL_PKT_FRAG_TINY);

	/* IPv6 non-last fragment of a length not a multiple of 8: dropped. */
	assert_int_equal(feed(f, b, frag6(b, 0, 100, 1, 6)), SL_DECODE_FRAG_DROPPED);
	assert_int_equal(f->anom[SL_ANOM_DEFRAG_BAD_LEN], 4);
	fx_free(f);
}

static void v6_fragments(void **state)
{
	struct fx *f = fx_new();
	uint8_t b[1200];
	size_t seg = dgram6_len - 40;		/* 320 */

	/* Non-first fragments may name another Next Header: only the
	 * offset-0 one counts (RFC 8200), so they still match. */
	assert_int_equal(feed(f, b, frag6(b, 256, seg - 256, 0, 17)), SL_DECODE_HELD);
	assert_int_equal(f->p.ipver, 6);
	assert_int_equal(feed(f, b, frag6(b, 0, 128, 1, 6)), SL_DECODE_HELD);
	assert_int_equal(feed(f, b, frag6(b, 128, 128, 1, 6)), SL_DECODE_OK);
	struct sl_packet *p = &f->p;
	assert_true(p->flags & SL_PKT_DEFRAGMENTED);
	assert_false(p->flags & SL_PKT_L4_CSUM_BAD);
	assert_int_equal(p->ip_proto, 6);
	assert_int_equal(p->l3_len, 48 + seg);
	assert_int_equal(p->l3[6], 0);			/* hop-by-hop kept ... */
	assert_int_equal(p->l3[40], 6);			/* ... now naming TCP */
	assert_int_equal(p->l3[4] << 8 | p->l3[5], 8 + seg);
	assert_int_equal(p->dport, 25);
	assert_memory_equal(p->payload, pay, sizeof(pay));
	fx_free(f);
}

/* A reassembled datagram that is itself a fragment (IPv6 Fragment header
 * inside the fragmentable part). */
static void nested_fragment(void **state)
{
	struct fx *f = fx_new();
	uint8_t b[1200];

	/* The fragmentable part starts with a second, non-atomic Fragment header. */
	memcpy(dgram6 + 40, "\x06\x00\x00\x09\xaa\xbb\xcc\xdd", 8);
	assert_int_equal(feed(f, b, frag6(b, 0, 64, 1, 44)), SL_DECODE_HELD);
	assert_int_equal(feed(f, b, frag6(b, 64, 64, 0, 44)), SL_DECODE_ERROR);
	assert_int_equal(f->anom[SL_ANOM_DECODE_FRAG_NESTED], 1);
	build_datagrams();
	fx_free(f);
}

static void fragment_with_bad_header_checksum_not_stored(void **state)
{
	struct fx *f = fx_new();
	uint8_t b[1200];
	size_t n = frag4(b, 0, 128, 1, NULL);

	b[10] ^= 1;
	assert_int_equal(feed(f, b, n), SL_DECODE_ERROR);
	assert_int_equal(f->anom[SL_ANOM_DECODE_IPV4_CSUM], 1);
	assert_int_equal(sl_defrag_pending(f->df), 0);
	fx_free(f);
}

static void no_defragmenter(void **state)
{
	struct sl_decode_config c;
	struct sl_counters ctr = { { 0 } };
	uint8_t b[1200];

	sl_decode_config_default(&c);
	struct sl_decoder *d = sl_decoder_new(&c, NULL, &ctr, NULL, NULL);
	struct sl_packet p = { .frame = b, .linktype = DLT_RAW };
	p.cap_len = p.wire_len = (uint32_t)frag4(b, 0, 128, 1, NULL);
	assert_int_equal(sl_decode(d, &p), SL_DECODE_FRAG_DROPPED);
	assert_int_equal(ctr.v[SL_CTR_DEFRAG_FRAGS], 1);
	sl_decoder_free(d);
}

/* Direct API: a description the decoder would never produce is refused. */
static void api_guards(void **state)
{
	struct fx *f = fx_new();
	const uint8_t *out;
	uint32_t out_len;
	uint8_t data[16] = { 0 };
	struct sl_frag fr = { .family = 5, .data = data, .len = 16, .hdr = dgram, .hdr_len = 20 };

	assert_int_equal(sl_defrag_add(f->df, &fr, NULL, 0, &out, &out_len), SL_DEFRAG_DROPPED);
	fr.family = 4;
	fr.hdr_len = 8;
	assert_int_equal(sl_defrag_add(f->df, &fr, NULL, 0, &out, &out_len), SL_DEFRAG_DROPPED);
	fr.hdr_len = 20;
	fr.more = true;
	fr.len = 0;
	assert_int_equal(sl_defrag_add(f->df, &fr, NULL, 0, &out, &out_len), SL_DEFRAG_DROPPED);
	assert_int_equal(sl_defrag_pending(f->df), 0);
	fx_free(f);
}

/* The anomaly flags belong to one datagram: the next one starts clean. */
static void flags_do_not_leak(void **state)
{
	struct fx *f = fx_new();
	uint8_t b[1200], alt[64];

	memset(alt, 'X', sizeof(alt));
	assert_int_equal(feed(f, b, frag4(b, 0, 128, 1, NULL)), SL_DECODE_HELD);
	assert_int_equal(feed(f, b, frag4(b, 64, 64, 1, alt)), SL_DECODE_HELD);
	assert_int_equal(feed(f, b, frag4(b, 128, 192, 0, NULL)), SL_DECODE_OK);
	assert_true(f->p.flags & SL_PKT_FRAG_CONFLICT);
	assert_int_equal(feed(f, b, frag4(b, 0, 128, 1, NULL)), SL_DECODE_HELD);
	assert_int_equal(feed(f, b, frag4(b, 128, 192, 0, NULL)), SL_DECODE_OK);
	assert_whole_v4(f);
	assert_int_equal(f->p.flags & SL_PKT_FRAG_ANOMALIES, 0);
	/* A packet struct reused for an unfragmented packet loses them. */
	memcpy(b, dgram, dgram_len);
	f->p.frame = b;
	f->p.cap_len = f->p.wire_len = (uint32_t)dgram_len;
	f->p.flags |= SL_PKT_FRAG_ANOMALIES;
	assert_int_equal(sl_decode(f->d, &f->p), SL_DECODE_OK);
	assert_int_equal(f->p.flags & (SL_PKT_FRAG_ANOMALIES | SL_PKT_DEFRAGMENTED), 0);
	fx_free(f);
}

/* End of a capture file: what is waiting goes, and the rest of a datagram
 * arriving later starts a new one instead of completing the old. */
static void flush(void **state)
{
	struct fx *f = fx_new();
	uint8_t b[1200];

	assert_int_equal(feed(f, b, frag4(b, 0, 128, 1, NULL)), SL_DECODE_HELD);
	assert_int_equal(feed(f, b, frag4(b, 128, 128, 1, NULL)), SL_DECODE_HELD);
	b[5] ^= 1;				/* another datagram id */
	pb_ipv4_fix_csum(b);
	assert_int_equal(feed(f, b, 148), SL_DECODE_HELD);
	assert_int_equal(sl_defrag_pending(f->df), 2);
	assert_int_equal(sl_defrag_flush(f->df), 2);
	assert_int_equal(sl_defrag_pending(f->df), 0);
	assert_int_equal(sl_memcap_used(&f->mc), 0);
	assert_int_equal(f->ctr.v[SL_CTR_DEFRAG_FLUSHED], 2);
	assert_int_equal(f->anom[SL_ANOM_DEFRAG_TIMEOUT], 0);
	assert_int_equal(feed(f, b, frag4(b, 256, 64, 0, NULL)), SL_DECODE_HELD);
	assert_int_equal(f->ctr.v[SL_CTR_DEFRAG_DONE], 0);
	assert_int_equal(sl_defrag_flush(f->df), 1);
	assert_int_equal(sl_defrag_flush(f->df), 0);
	fx_free(f);
}

static int setup(void **state)
{
	build_datagrams();
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(v4_in_order),
		cmocka_unit_test(v4_reverse),
		cmocka_unit_test(v4_overlap_equal_and_duplicate),
		cmocka_unit_test(v4_overlap_conflict_first_wins),
		cmocka_unit_test(timeout),
		cmocka_unit_test(memcap_hit),
		cmocka_unit_test(too_big),
		cmocka_unit_test(too_many_and_eviction),
		cmocka_unit_test(bad_lengths_and_tiny),
		cmocka_unit_test(v6_fragments),
		cmocka_unit_test(nested_fragment),
		cmocka_unit_test(fragment_with_bad_header_checksum_not_stored),
		cmocka_unit_test(no_defragmenter),
		cmocka_unit_test(api_guards),
		cmocka_unit_test(flags_do_not_leak),
		cmocka_unit_test(flush),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
