/* engine/decode.c: link types, IP and TCP parsing, bounds, checksum policy. */
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
#include "pcap_source.h"
#include "pktbuild.h"

#ifndef SL_TEST_DATA_DIR
#define SL_TEST_DATA_DIR "test/unit/decode/data"
#endif

static const uint8_t A4[4] = { 192, 0, 2, 1 }, B4[4] = { 198, 51, 100, 2 };
static const uint8_t A6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
static const uint8_t B6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 2 };
static const uint8_t PAYLOAD[] = "MAIL FROM:<a@example.org>\r\n";

struct fx {
	struct sl_counters ctr;
	unsigned anom[SL_ANOM_MAX];
	const char *detail;
	struct sl_decoder *d;
	/* the packet under test and its exact-size copy of the frame, so that
	 * ASan catches any read past cap_len */
	struct sl_packet p;
	uint8_t *buf;
};

static void on_anomaly(void *u, enum sl_anomaly a, const struct sl_packet *p, const char *detail)
{
	struct fx *f = u;

	f->anom[a]++;
	f->detail = detail;
}

static struct fx *fx_new(enum sl_csum_mode mode, uint32_t sources)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct sl_decode_config c;

	sl_decode_config_default(&c);
	c.csum = mode;
	if (sources)
		c.csum_sources = sources;
	f->d = sl_decoder_new(&c, NULL, &f->ctr, on_anomaly, f);
	assert_non_null(f->d);
	return f;
}

static void fx_free(struct fx *f)
{
	free(f->buf);
	sl_decoder_free(f->d);
	free(f);
}

static enum sl_decode_result run(struct fx *f, int linktype, const uint8_t *frame, size_t len,
				 size_t wire_len, uint32_t flags)
{
	free(f->buf);
	f->buf = malloc(len ? len : 1);
	memcpy(f->buf, frame, len);
	memset(&f->p, 0, sizeof(f->p));
	f->p.frame = f->buf;
	f->p.cap_len = (uint32_t)len;
	f->p.wire_len = (uint32_t)(wire_len ? wire_len : len);
	f->p.linktype = linktype;
	f->p.flags = flags;
	f->p.index = 7;
	return sl_decode(f->d, &f->p);
}

static struct pb_tcp tcp4(void)
{
	struct pb_tcp t = { .sport = 40000, .dport = 25, .seq = 1000, .ack = 2000,
			    .flags = SL_TH_ACK | SL_TH_PSH, .win = 512,
			    .payload = PAYLOAD, .plen = sizeof(PAYLOAD) - 1 };

	memcpy(t.src, A4, 4);
	memcpy(t.dst, B4, 4);
	return t;
}

static struct pb_tcp tcp6(void)
{
	struct pb_tcp t = tcp4();

	memcpy(t.src, A6, 16);
	memcpy(t.dst, B6, 16);
	return t;
}

static size_t eth4(uint8_t *fr, const struct pb_tcp *t)
{
	uint8_t ip[4000];
	size_t n = pb_ipv4_tcp(ip, t);

	return pb_eth(fr, 0x0800, NULL, NULL, 0, ip, n);
}

static void assert_v4(const struct sl_addr *a, const uint8_t *v4)
{
	assert_true(sl_addr_is_v4(a));
	assert_memory_equal(a->b + 12, v4, 4);
}

/* ---- basic fields ---- */

static void ethernet_ipv4_tcp(void **state)
{
	struct fx *f = fx_new(SL_CSUM_ON, 0);
	uint8_t fr[2000];
	struct pb_tcp t = tcp4();
	uint8_t topt[] = { 2, 4, 0x05, 0xb4 };

	t.topt = topt;
	t.topt_len = 4;
	t.ttl = 57;
	size_t n = eth4(fr, &t);

	assert_int_equal(run(f, DLT_EN10MB, fr, n, 0, 0), SL_DECODE_OK);
	struct sl_packet *p = &f->p;
	assert_int_equal(p->ipver, 4);
	assert_int_equal(p->ip_proto, 6);
	assert_int_equal(p->ttl, 57);
	assert_v4(&p->src, A4);
	assert_v4(&p->dst, B4);
	assert_int_equal(p->sport, 40000);
	assert_int_equal(p->dport, 25);
	assert_int_equal(p->seq, 1000);
	assert_int_equal(p->ack, 2000);
	assert_int_equal(p->win, 512);
	assert_int_equal(p->tcp_flags, SL_TH_ACK | SL_TH_PSH);
	assert_ptr_equal(p->l3, f->buf + 14);
	assert_int_equal(p->l3_len, n - 14);
	assert_ptr_equal(p->l4, f->buf + 34);
	assert_int_equal(p->l4_len, n - 34);
	assert_int_equal(p->payload_len, sizeof(PAYLOAD) - 1);
	assert_memory_equal(p->payload, PAYLOAD, sizeof(PAYLOAD) - 1);
	assert_true(p->opts.has_mss);
	assert_int_equal(p->opts.mss, 1460);
	assert_int_equal(p->flags, 0);
	assert_int_equal(p->index, 7);
	assert_int_equal(f->ctr.v[SL_CTR_DECODE_TCP], 1);
	assert_int_equal(f->ctr.v[SL_CTR_DECODE_IPV4], 1);
	assert_int_equal(f->ctr.v[SL_CTR_DECODE_ERRORS], 0);
	fx_free(f);
}

/* ---- link types ---- */

static void link_types(void **state)
{
	struct fx *f = fx_new(SL_CSUM_ON, 0);
	uint8_t ip4[200], ip6[200], fr[300];
	struct pb_tcp t4 = tcp4(), t6 = tcp6();
	size_t n4 = pb_ipv4_tcp(ip4, &t4), n6 = pb_ipv6_tcp(ip6, &t6);
	static const struct {
		int dlt;
		uint8_t hdr[20];
		size_t hlen;
		int ver;			/* 4, 6, or 0: expect NOT_IP (with the v4 packet) */
	} cases[] = {
		{ DLT_LINUX_SLL, { 0, 0, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0, 0x08, 0x00 }, 16, 4 },
		{ DLT_LINUX_SLL, { 0, 4, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0, 0x86, 0xdd }, 16, 6 },
		{ DLT_LINUX_SLL, { 0, 0, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0, 0x08, 0x06 }, 16, 0 },
		{ DLT_LINUX_SLL2, { 0x08, 0x00, 0, 0, 0, 0, 0, 2, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6 },
		  20, 4 },
		{ DLT_LINUX_SLL2, { 0x86, 0xdd, 0, 0, 0, 0, 0, 2, 0, 1, 4, 6, 1, 2, 3, 4, 5, 6 },
		  20, 6 },
		{ DLT_RAW, { 0 }, 0, 4 },
		{ DLT_RAW, { 0 }, 0, 6 },
		{ 101, { 0 }, 0, 6 },		/* LINKTYPE_RAW as written in files */
		{ DLT_IPV4, { 0 }, 0, 4 },
		{ DLT_IPV6, { 0 }, 0, 6 },
		{ DLT_NULL, { 2, 0, 0, 0 }, 4, 4 },	/* little-endian host */
		{ DLT_NULL, { 0, 0, 0, 2 }, 4, 4 },	/* big-endian host */
		{ DLT_NULL, { 30, 0, 0, 0 }, 4, 6 },	/* Darwin AF_INET6 */
		{ DLT_NULL, { 0, 0, 0, 28 }, 4, 6 },	/* FreeBSD, big-endian */
		{ DLT_NULL, { 7, 0, 0, 0 }, 4, 0 },
		{ DLT_LOOP, { 0, 0, 0, 2 }, 4, 4 },
		{ DLT_LOOP, { 0, 0, 0, 24 }, 4, 6 },
	};

	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const uint8_t *ip = cases[i].ver == 6 ? ip6 : ip4;
		size_t n = cases[i].ver == 6 ? n6 : n4;

		memcpy(fr, cases[i].hdr, cases[i].hlen);
		memcpy(fr + cases[i].hlen, ip, n);
		enum sl_decode_result r = run(f, cases[i].dlt, fr, cases[i].hlen + n, 0, 0);
		if (cases[i].ver == 0) {
			assert_int_equal(r, SL_DECODE_NOT_IP);
			continue;
		}
		assert_int_equal(r, SL_DECODE_OK);
		assert_int_equal(f->p.ipver, cases[i].ver);
		assert_ptr_equal(f->p.l3, f->buf + cases[i].hlen);
		assert_int_equal(f->p.dport, 25);
		assert_memory_equal(f->p.payload, PAYLOAD, sizeof(PAYLOAD) - 1);
		assert_int_equal(f->p.flags, 0);
	}
	assert_int_equal(f->ctr.v[SL_CTR_DECODE_NOT_IP], 2);
	assert_int_equal(f->ctr.v[SL_CTR_DECODE_ERRORS], 0);

	/* Ethernet ARP: not IP, no error. */
	uint8_t arp[42] = { [12] = 0x08, [13] = 0x06 };
	assert_int_equal(run(f, DLT_EN10MB, arp, sizeof(arp), 0, 0), SL_DECODE_NOT_IP);

	/* The link says IPv4, the packet is IPv6. */
	assert_int_equal(run(f, DLT_IPV4, ip6, n6, 0, 0), SL_DECODE_ERROR);
	assert_int_equal(f->anom[SL_ANOM_DECODE_IP_VERSION], 1);
	/* IP version 5 on a raw link. */
	memcpy(fr, ip4, n4);
	fr[0] = 0x55;
	assert_int_equal(run(f, DLT_RAW, fr, n4, 0, 0), SL_DECODE_ERROR);
	assert_int_equal(f->anom[SL_ANOM_DECODE_IP_VERSION], 2);
	/* 802.11 is not decoded. */
	assert_int_equal(run(f, DLT_IEEE802_11, ip4, n4, 0, 0), SL_DECODE_ERROR);
	assert_int_equal(f->anom[SL_ANOM_DECODE_LINKTYPE], 1);
	assert_int_equal(f->ctr.v[SL_CTR_DECODE_ERRORS], 3);
	fx_free(f);
}

static void vlan_stacks(void **state)
{
	struct fx *f = fx_new(SL_CSUM_ON, 0);
	uint8_t ip[200], fr[300];
	struct pb_tcp t = tcp4();
	size_t n = pb_ipv4_tcp(ip, &t);
	uint16_t tp[9] = { 0x88a8, 0x8100, 0x8100, 0x9100, 0x8100, 0x8100, 0x8100, 0x8100, 0x8100 };
	/* the first TCI has priority bits set: only the low 12 bits are the id */
	uint16_t vid[9] = { 0x2064, 0x00c8, 300, 4, 5, 6, 7, 8, 9 };

	size_t len = pb_eth(fr, 0x0800, tp, vid, 1, ip, n);
	assert_int_equal(run(f, DLT_EN10MB, fr, len, 0, 0), SL_DECODE_OK);
	assert_int_equal(f->p.vlan_count, 1);
	assert_int_equal(f->p.vlan[0], 100);

	len = pb_eth(fr, 0x0800, tp, vid, 2, ip, n);
	assert_int_equal(run(f, DLT_EN10MB, fr, len, 0, 0), SL_DECODE_OK);
	assert_int_equal(f->p.vlan_count, 2);
	assert_int_equal(f->p.vlan[0], 100);
	assert_int_equal(f->p.vlan[1], 200);
	assert_int_equal(f->p.dport, 25);
	assert_int_equal(f->anom[SL_ANOM_DECODE_VLAN_DEPTH], 0);

	/* A third tag still decodes; it is named, not recorded. */
	len = pb_eth(fr, 0x0800, tp, vid, 3, ip, n);
	assert_int_equal(run(f, DLT_EN10MB, fr, len, 0, 0), SL_DECODE_OK);
	assert_int_equal(f->p.vlan_count, 2);
	assert_int_equal(f->p.dport, 25);
	assert_int_equal(f->anom[SL_ANOM_DECODE_VLAN_DEPTH], 1);

	/* Nine tags exceed what is walked. */
	len = pb_eth(fr, 0x0800, tp, vid, 9, ip, n);
	assert_int_equal(run(f, DLT_EN10MB, fr, len, 0, 0), SL_DECODE_ERROR);
	assert_int_equal(f->anom[SL_ANOM_DECODE_VLAN_DEPTH], 3);
	assert_int_equal(f->ctr.v[SL_CTR_DECODE_VLAN], 4);
	fx_free(f);
}

/* ---- IPv4 ---- */

static void ipv4_options(void **state)
{
	struct fx *f = fx_new(SL_CSUM_ON, 0);
	uint8_t fr[300];
	struct pb_tcp t = tcp4();
	/* NOP, Record Route (len 7, room for one address), EOL */
	uint8_t good[12] = { 1, 7, 7, 4, 0, 0, 0, 0, 0 };
	uint8_t bad_len1[4] = { 1, 0x44, 1, 0 };	/* timestamp option with length 1 */
	uint8_t overrun[4] = { 0x83, 9, 4, 0 };		/* LSRR claims 9 bytes in 4 */
	uint8_t no_len[4] = { 1, 1, 1, 0x83 };		/* a kind without its length */

	t.ipopt = good;
	t.ipopt_len = sizeof(good);
	size_t n = eth4(fr, &t);
	assert_int_equal(run(f, DLT_EN10MB, fr, n, 0, 0), SL_DECODE_OK);
	assert_int_equal(f->p.l4 - f->p.l3, 32);
	assert_int_equal(f->p.dport, 25);

	const uint8_t *bad[] = { bad_len1, overrun, no_len };
	for (unsigned i = 0; i < 3; i++) {
		t.ipopt = bad[i];
		t.ipopt_len = 4;
		n = eth4(fr, &t);
		assert_int_equal(run(f, DLT_EN10MB, fr, n, 0, 0), SL_DECODE_ERROR);
		assert_int_equal(f->anom[SL_ANOM_DECODE_IPV4_OPTS], i + 1);
	}
	fx_free(f);
}

static void ipv4_header_errors(void **state)
{
	struct fx *f = fx_new(SL_CSUM_ON, 0);
	uint8_t fr[300];
	struct pb_tcp t = tcp4();
	size_t n = eth4(fr, &t);

	/* IHL 4 */
	fr[14] = 0x44;
	assert_int_equal(run(f, DLT_EN10MB, fr, n, 0, 0), SL_DECODE_ERROR);
	assert_int_equal(f->anom[SL_ANOM_DECODE_IPV4_HLEN], 1);
	fr[14] = 0x45;
	/* total length below the header length */
	fr[16] = 0;
	fr[17] = 19;
	pb_ipv4_fix_csum(fr + 14);
	assert_int_equal(run(f, DLT_EN10MB, fr, n, 0, 0), SL_DECODE_ERROR);
	/* total length beyond the frame, no snap length involved */
	fr[17] = (uint8_t)(n - 14 + 1);
	pb_ipv4_fix_csum(fr + 14);
	assert_int_equal(run(f, DLT_EN10MB, fr, n, 0, 0), SL_DECODE_ERROR);
	assert_int_equal(f->anom[SL_ANOM_DECODE_IPV4_LEN], 2);
	fx_free(f);
}

static void ipv4_bad_header_checksum(void **state)
{
	struct fx *f = fx_new(SL_CSUM_ON, 0);
	uint8_t fr[300];
	struct pb_tcp t = tcp4();
	size_t n = eth4(fr, &t);

	fr[14 + 10] ^= 0x01;
	assert_int_equal(run(f, DLT_EN10MB, fr, n, 0, 0), SL_DECODE_OK);
	assert_int_equal(f->p.flags, SL_PKT_IP_CSUM_BAD | SL_PKT_L4_CSUM_BAD);
	assert_int_equal(f->anom[SL_ANOM_DECODE_IPV4_CSUM], 1);
	assert_int_equal(f->anom[SL_ANOM_DECODE_TCP_CSUM], 0);
	assert_int_equal(f->ctr.v[SL_CTR_DECODE_IP_CSUM_BAD], 1);
	fx_free(f);

	/* AUTO: a source that sent a right IPv4 checksum is judged on it. */
	f = fx_new(SL_CSUM_AUTO, 0);
	n = eth4(fr, &t);
	assert_int_equal(run(f, DLT_EN10MB, fr, n, 0, 0), SL_DECODE_OK);
	assert_int_equal(f->p.flags, 0);
	fr[14 + 10] ^= 0x01;
	assert_int_equal(run(f, DLT_EN10MB, fr, n, 0, 0), SL_DECODE_OK);
	assert_int_equal(f->p.flags, SL_PKT_IP_CSUM_BAD | SL_PKT_L4_CSUM_BAD);
	fx_free(f);

	/* AUTO: a source whose IPv4 checksums were never right (Windows
	 * offload leaves zero) is not judged on them. */
	f = fx_new(SL_CSUM_AUTO, 0);
	n = eth4(fr, &t);
	fr[24] = fr[25] = 0;
	assert_int_equal(run(f, DLT_EN10MB, fr, n, 0, 0), SL_DECODE_OK);
	assert_int_equal(f->p.flags, SL_PKT_L4_CSUM_SKIP);
	fx_free(f);
}

static void ethernet_padding_trimmed(void **state)
{
	struct fx *f = fx_new(SL_CSUM_ON, 0);
	uint8_t fr[300];
	struct pb_tcp t = tcp4();

	t.plen = 0;
	t.flags = SL_TH_ACK;
	size_t n = eth4(fr, &t);
	assert_int_equal(n, 54);
	/* Pad to the 60-byte minimum with garbage, plus a 4-byte FCS. */
	memcpy(fr + n, "\xde\xad\xbe\xef\x01\x02\xaa\xbb\xcc\xdd", 10);
	assert_int_equal(run(f, DLT_EN10MB, fr, n + 10, 0, 0), SL_DECODE_OK);
	assert_int_equal(f->p.l3_len, 40);
	assert_int_equal(f->p.l4_len, 20);
	assert_int_equal(f->p.payload_len, 0);
	/* The checksum covered the IP length only: the padding is not data. */
	assert_int_equal(f->p.flags, 0);
	fx_free(f);
}

/* ---- IPv6 ---- */

static void ipv6_extension_chains(void **state)
{
	struct fx *f = fx_new(SL_CSUM_ON, 0);
	uint8_t ip[400];
	struct pb_tcp t = tcp6();
	/* hop-by-hop (PadN) -> routing (type 4, empty) -> AH (len 4 words: 24
	 * bytes) -> destination options -> TCP */
	uint8_t chain[8 + 8 + 24 + 8] = {
		43, 0, 1, 4, 0, 0, 0, 0,
		51, 0, 4, 0, 0, 0, 0, 0,
		60, 4, 0, 0, [16 + 8] = 0,
		[40] = 6, 0, 1, 4, 0, 0, 0, 0,
	};

	t.ext = chain;
	t.ext_len = sizeof(chain);
	t.ext_first = 0;
	size_t n = pb_ipv6_tcp(ip, &t);
	assert_int_equal(run(f, DLT_RAW, ip, n, 0, 0), SL_DECODE_OK);
	assert_int_equal(f->p.ip_proto, 6);
	assert_int_equal(f->p.l4 - f->p.l3, 40 + sizeof(chain));
	assert_int_equal(f->p.dport, 25);
	assert_int_equal(f->p.flags, 0);

	/* Atomic fragment (offset 0, M clear) is no fragment: decodes. */
	uint8_t atomic[8] = { 6, 0, 0, 0, 0, 0, 0, 9 };
	t.ext = atomic;
	t.ext_len = 8;
	t.ext_first = 44;
	n = pb_ipv6_tcp(ip, &t);
	assert_int_equal(run(f, DLT_RAW, ip, n, 0, 0), SL_DECODE_OK);
	assert_int_equal(f->p.dport, 25);

	/* ESP: opaque, decoded as "other" with ip_proto 50. */
	uint8_t esp[64] = { 0x60, 0, 0, 0, 0, 24, 50, 64 };
	assert_int_equal(run(f, DLT_RAW, esp, 64, 0, 0), SL_DECODE_OK);
	assert_int_equal(f->p.ip_proto, 50);
	assert_int_equal(f->ctr.v[SL_CTR_DECODE_OTHER_L4], 1);

	/* Hop-by-hop anywhere but first. */
	uint8_t hbh_late[16] = { 0, 0, 1, 4, 0, 0, 0, 0, 6, 0, 1, 4, 0, 0, 0, 0 };
	t.ext = hbh_late;
	t.ext_len = 16;
	t.ext_first = 60;
	n = pb_ipv6_tcp(ip, &t);
	assert_int_equal(run(f, DLT_RAW, ip, n, 0, 0), SL_DECODE_ERROR);
	assert_int_equal(f->anom[SL_ANOM_DECODE_IPV6_EXTHDR], 1);

	/* Nine destination-options headers: more than walked. */
	uint8_t nine[72];
	for (int i = 0; i < 9; i++) {
		memcpy(nine + 8 * i, "\x3c\x00\x01\x04\x00\x00\x00\x00", 8);
		if (i == 8)
			nine[8 * i] = 6;
	}
	t.ext = nine;
	t.ext_len = sizeof(nine);
	t.ext_first = 60;
	n = pb_ipv6_tcp(ip, &t);
	assert_int_equal(run(f, DLT_RAW, ip, n, 0, 0), SL_DECODE_ERROR);
	assert_int_equal(f->anom[SL_ANOM_DECODE_IPV6_EXTHDR], 2);

	/* A header whose length runs past the payload length. */
	uint8_t longhdr[8] = { 6, 200, 1, 4, 0, 0, 0, 0 };
	t.ext = longhdr;
	t.ext_len = 8;
	t.ext_first = 60;
	n = pb_ipv6_tcp(ip, &t);
	assert_int_equal(run(f, DLT_RAW, ip, n, 0, 0), SL_DECODE_ERROR);
	assert_int_equal(f->anom[SL_ANOM_DECODE_IPV6_EXTHDR], 3);

	/* Payload length beyond the frame. */
	n = pb_ipv6_tcp(ip, &(struct pb_tcp){ .dport = 25 });
	assert_int_equal(run(f, DLT_RAW, ip, n - 1, 0, 0), SL_DECODE_ERROR);
	assert_int_equal(f->anom[SL_ANOM_DECODE_IPV6_LEN], 1);
	fx_free(f);
}

/* ---- TCP ---- */

static void tcp_options_each_kind(void **state)
{
	struct fx *f = fx_new(SL_CSUM_ON, 0);
	uint8_t fr[300];
	struct pb_tcp t = tcp4();
	uint8_t opts[40] = {
		2, 4, 0x22, 0x38,			/* MSS 8760 */
		1, 3, 3, 7,				/* NOP, window scale 7 */
		4, 2, 1, 1,				/* SACK permitted, NOP NOP */
		8, 10, 0, 0, 0, 5, 0, 0, 0, 9,		/* timestamps 5 / 9 */
		5, 10, 0, 0, 0, 1, 0, 0, 0, 2,		/* SACK one block */
		30, 4, 0, 0,				/* unknown kind, skipped */
		0, 0, 0, 0,				/* EOL + padding */
	};

	t.topt = opts;
	t.topt_len = sizeof(opts);
	size_t n = eth4(fr, &t);
	assert_int_equal(run(f, DLT_EN10MB, fr, n, 0, 0), SL_DECODE_OK);
	const struct sl_tcp_opts *o = &f->p.opts;
	assert_true(o->has_mss);
	assert_int_equal(o->mss, 8760);
	assert_true(o->has_wscale);
	assert_int_equal(o->wscale, 7);
	assert_true(o->sack_perm);
	assert_true(o->has_ts);
	assert_int_equal(o->tsval, 5);
	assert_int_equal(o->tsecr, 9);
	assert_false(o->malformed);
	assert_int_equal(f->p.payload_len, sizeof(PAYLOAD) - 1);
	assert_int_equal(f->anom[SL_ANOM_DECODE_TCP_OPTS], 0);
	fx_free(f);
}

static void tcp_options_malformed(void **state)
{
	static const struct {
		uint8_t o[8];
		bool mss;			/* MSS still parsed */
	} cases[] = {
		{ { 2, 4, 1, 0, 3, 1, 0, 0 }, true },		/* length 1 */
		{ { 2, 4, 1, 0, 3, 0, 0, 0 }, true },		/* length 0: no endless loop */
		{ { 2, 4, 1, 0, 8, 10, 0, 0 }, true },		/* timestamps past the end */
		{ { 2, 3, 1, 1, 1, 1, 1, 1 }, false },		/* MSS with length 3 */
		{ { 2, 4, 1, 0, 1, 1, 1, 8 }, true },		/* kind with no length byte */
		{ { 2, 4, 1, 0, 5, 6, 0, 0 }, true },		/* SACK of a partial block */
		{ { 3, 3, 15, 2, 4, 1, 0, 0 }, true },		/* window scale 15 -> 14 */
	};
	uint8_t fr[300];

	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct fx *f = fx_new(SL_CSUM_ON, 0);
		struct pb_tcp t = tcp4();

		t.topt = cases[i].o;
		t.topt_len = 8;
		size_t n = eth4(fr, &t);
		assert_int_equal(run(f, DLT_EN10MB, fr, n, 0, 0), SL_DECODE_OK);
		assert_true(f->p.opts.malformed);
		assert_int_equal(f->anom[SL_ANOM_DECODE_TCP_OPTS], 1);
		assert_int_equal(f->p.opts.has_mss, cases[i].mss);
		if (cases[i].o[0] == 3) {
			assert_int_equal(f->p.opts.wscale, 14);
			assert_int_equal(f->p.opts.mss, 0x0100);
		}
		/* Options are not the payload. */
		assert_int_equal(f->p.payload_len, sizeof(PAYLOAD) - 1);
		assert_int_equal(f->p.flags, 0);
		fx_free(f);
	}
}

static void tcp_header_errors(void **state)
{
	struct fx *f = fx_new(SL_CSUM_ON, 0);
	uint8_t fr[300];
	struct pb_tcp t = tcp4();
	size_t n = eth4(fr, &t);

	fr[34 + 12] = 0x40;			/* data offset 4 words */
	assert_int_equal(run(f, DLT_EN10MB, fr, n, 0, 0), SL_DECODE_ERROR);
	t.plen = 10;
	n = eth4(fr, &t);
	fr[34 + 12] = 0xf0;			/* 60-byte header in a 30-byte segment */
	assert_int_equal(run(f, DLT_EN10MB, fr, n, 0, 0), SL_DECODE_ERROR);
	assert_int_equal(f->anom[SL_ANOM_DECODE_TCP_HLEN], 2);

	/* SYN+FIN is named but still decoded. */
	t = tcp4();
	t.flags = SL_TH_SYN | SL_TH_FIN;
	n = eth4(fr, &t);
	assert_int_equal(run(f, DLT_EN10MB, fr, n, 0, 0), SL_DECODE_OK);
	t.flags = 0;
	n = eth4(fr, &t);
	assert_int_equal(run(f, DLT_EN10MB, fr, n, 0, 0), SL_DECODE_OK);
	t.flags = SL_TH_FIN | SL_TH_PSH | SL_TH_URG;
	n = eth4(fr, &t);
	assert_int_equal(run(f, DLT_EN10MB, fr, n, 0, 0), SL_DECODE_OK);
	t.flags = SL_TH_SYN | SL_TH_ACK;
	n = eth4(fr, &t);
	assert_int_equal(run(f, DLT_EN10MB, fr, n, 0, 0), SL_DECODE_OK);
	assert_int_equal(f->anom[SL_ANOM_DECODE_TCP_FLAGS], 3);
	fx_free(f);
}

static void tcp_checksums(void **state)
{
	struct fx *f = fx_new(SL_CSUM_ON, 0);
	uint8_t fr[300], ip[300];
	struct pb_tcp t4 = tcp4(), t6 = tcp6();

	/* odd payload length on purpose */
	t4.plen = t6.plen = 27;
	size_t n = eth4(fr, &t4);
	assert_int_equal(run(f, DLT_EN10MB, fr, n, 0, 0), SL_DECODE_OK);
	assert_int_equal(f->p.flags, 0);
	fr[n - 1] ^= 0x80;
	assert_int_equal(run(f, DLT_EN10MB, fr, n, 0, 0), SL_DECODE_OK);
	assert_int_equal(f->p.flags, SL_PKT_L4_CSUM_BAD);
	assert_int_equal(f->anom[SL_ANOM_DECODE_TCP_CSUM], 1);

	n = pb_ipv6_tcp(ip, &t6);
	assert_int_equal(run(f, DLT_RAW, ip, n, 0, 0), SL_DECODE_OK);
	assert_int_equal(f->p.flags, 0);
	ip[n - 5] ^= 0x01;
	assert_int_equal(run(f, DLT_RAW, ip, n, 0, 0), SL_DECODE_OK);
	assert_int_equal(f->p.flags, SL_PKT_L4_CSUM_BAD);
	assert_int_equal(f->ctr.v[SL_CTR_DECODE_CSUM_BAD], 2);

	/* The source's "not verified" is honoured. */
	assert_int_equal(run(f, DLT_RAW, ip, n, 0, SL_PKT_L4_CSUM_SKIP), SL_DECODE_OK);
	assert_int_equal(f->p.flags, SL_PKT_L4_CSUM_SKIP);
	assert_int_equal(f->ctr.v[SL_CTR_DECODE_CSUM_BAD], 2);
	fx_free(f);

	/* OFF verifies nothing and says so. */
	f = fx_new(SL_CSUM_OFF, 0);
	assert_int_equal(run(f, DLT_RAW, ip, n, 0, 0), SL_DECODE_OK);
	assert_int_equal(f->p.flags, SL_PKT_L4_CSUM_SKIP);
	fx_free(f);
}

static void udp_icmp_other(void **state)
{
	struct fx *f = fx_new(SL_CSUM_ON, 0);
	uint8_t ip[64] = { 0x45, 0, 0, 36, 0, 1, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
			   0x00, 0x35, 0x30, 0x39, 0, 16, 0, 0,
			   'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h' };

	pb_ipv4_fix_csum(ip);
	assert_int_equal(run(f, DLT_RAW, ip, 36, 0, 0), SL_DECODE_OK);
	assert_int_equal(f->p.ip_proto, 17);
	assert_int_equal(f->p.sport, 53);
	assert_int_equal(f->p.dport, 12345);
	assert_int_equal(f->p.payload_len, 8);
	/* UDP length longer than the IP payload */
	ip[25] = 17;
	assert_int_equal(run(f, DLT_RAW, ip, 36, 0, 0), SL_DECODE_ERROR);
	assert_int_equal(f->anom[SL_ANOM_DECODE_UDP_LEN], 1);
	/* ICMP */
	ip[9] = 1;
	pb_ipv4_fix_csum(ip);
	assert_int_equal(run(f, DLT_RAW, ip, 36, 0, 0), SL_DECODE_OK);
	assert_int_equal(f->p.ip_proto, 1);
	assert_int_equal(f->p.sport, 0);
	/* GRE, bad header checksum: flagged, still OK */
	ip[9] = 47;
	assert_int_equal(run(f, DLT_RAW, ip, 36, 0, 0), SL_DECODE_OK);
	assert_int_equal(f->p.flags, SL_PKT_IP_CSUM_BAD);
	assert_int_equal(f->ctr.v[SL_CTR_DECODE_UDP], 1);
	assert_int_equal(f->ctr.v[SL_CTR_DECODE_ICMP], 1);
	assert_int_equal(f->ctr.v[SL_CTR_DECODE_OTHER_L4], 1);
	fx_free(f);
}

/* ---- truncation at every byte ---- */

static void every_cut(struct fx *f, int dlt, const uint8_t *fr, size_t n, size_t hdrs)
{
	for (size_t cut = 0; cut < n; cut++) {
		/* Captured in full but the packet itself ends early: always
		 * an error (the IP length promises more). */
		enum sl_decode_result r = run(f, dlt, fr, cut, 0, 0);
		assert_int_equal(r, SL_DECODE_ERROR);

		/* Cut by the snap length: headers complete -> OK with what is
		 * there; headers incomplete -> error. */
		r = run(f, dlt, fr, cut, n, 0);
		if (cut < hdrs) {
			assert_int_equal(r, SL_DECODE_ERROR);
		} else {
			assert_int_equal(r, SL_DECODE_OK);
			assert_true(f->p.flags & SL_PKT_TRUNCATED);
			assert_true(f->p.flags & SL_PKT_L4_CSUM_SKIP);
			assert_int_equal(f->p.payload_len, cut - hdrs);
			assert_true(f->p.payload + f->p.payload_len <= f->buf + cut);
		}
	}
	assert_int_equal(run(f, dlt, fr, n, 0, 0), SL_DECODE_OK);
	assert_int_equal(f->p.flags, 0);
}

static void truncated_at_every_offset(void **state)
{
	struct fx *f = fx_new(SL_CSUM_ON, 0);
	uint8_t ip[400], fr[500];
	struct pb_tcp t = tcp4();
	uint8_t topt[12] = { 2, 4, 5, 0xb4, 1, 3, 3, 7, 4, 2, 0, 0 };
	uint8_t ipopt[8] = { 1, 7, 7, 4, 0, 0, 0, 0 };
	uint16_t tp[2] = { 0x88a8, 0x8100 }, vid[2] = { 10, 20 };

	t.topt = topt;
	t.topt_len = sizeof(topt);
	t.ipopt = ipopt;
	t.ipopt_len = sizeof(ipopt);
	size_t n = pb_ipv4_tcp(ip, &t);
	size_t len = pb_eth(fr, 0x0800, tp, vid, 2, ip, n);
	every_cut(f, DLT_EN10MB, fr, len, 22 + 28 + 32);

	struct pb_tcp t6 = tcp6();
	uint8_t chain[16] = { 60, 0, 1, 4, 0, 0, 0, 0, 6, 0, 1, 4, 0, 0, 0, 0 };
	t6.topt = topt;
	t6.topt_len = sizeof(topt);
	t6.ext = chain;
	t6.ext_len = sizeof(chain);
	t6.ext_first = 0;
	n = pb_ipv6_tcp(ip, &t6);
	memcpy(fr, "\x00\x00\x00\x1e", 4);	/* DLT_NULL, Darwin AF_INET6, big-endian */
	memcpy(fr + 4, ip, n);
	every_cut(f, DLT_NULL, fr, n + 4, 4 + 40 + 16 + 32);
	fx_free(f);
}

/* ---- AUTO checksum policy ---- */

/* A segment from a given source with a chosen checksum: good, partial
 * (pseudo-header sum, as offload leaves it), or random-bad. */
enum ck { GOOD, PARTIAL, RANDOM };

static size_t seg(uint8_t *fr, const uint8_t *src, const uint8_t *dst, uint8_t flags,
		  size_t plen, enum ck ck)
{
	static uint8_t pay[3000];
	struct pb_tcp t = tcp4();

	memset(pay, 'x', sizeof(pay));
	memcpy(t.src, src, 4);
	memcpy(t.dst, dst, 4);
	t.flags = flags;
	t.payload = pay;
	t.plen = plen;
	size_t n = eth4(fr, &t);
	uint8_t *th = fr + 34;
	if (ck == PARTIAL) {
		uint32_t s = ref_sum(src, 4, 0) + ref_sum(dst, 4, 0) + 6 + (uint32_t)(n - 34);
		th[16] = (uint8_t)(ref_fold(s) >> 8);
		th[17] = (uint8_t)ref_fold(s);
	} else if (ck == RANDOM) {
		th[16] ^= 0x5a;
	}
	return n;
}

static uint32_t flags_of(struct fx *f, const uint8_t *src, const uint8_t *dst, uint8_t tf,
			 size_t plen, enum ck ck)
{
	uint8_t fr[3100];
	size_t n = seg(fr, src, dst, tf, plen, ck);

	assert_int_equal(run(f, DLT_EN10MB, fr, n, 0, 0), SL_DECODE_OK);
	return f->p.flags & (SL_PKT_L4_CSUM_BAD | SL_PKT_L4_CSUM_SKIP);
}

#define SKIP SL_PKT_L4_CSUM_SKIP
#define BAD SL_PKT_L4_CSUM_BAD
#define SYN SL_TH_SYN
#define SA (SL_TH_SYN | SL_TH_ACK)
#define ACK SL_TH_ACK
#define PA (SL_TH_PSH | SL_TH_ACK)
#define RA (SL_TH_RST | SL_TH_ACK)

/* Linux offloader captured on itself: every segment partial. */
static void auto_offload_host(void **state)
{
	struct fx *f = fx_new(SL_CSUM_AUTO, 0);

	assert_int_equal(flags_of(f, A4, B4, SYN, 0, PARTIAL), SKIP);
	assert_int_equal(flags_of(f, B4, A4, SA, 0, GOOD), 0);
	assert_int_equal(flags_of(f, A4, B4, ACK, 0, PARTIAL), SKIP);
	assert_int_equal(flags_of(f, B4, A4, PA, 100, GOOD), 0);
	assert_int_equal(flags_of(f, A4, B4, PA, 1448, PARTIAL), SKIP);
	/* Its RST is computed in software (good)... */
	assert_int_equal(flags_of(f, A4, B4, RA, 0, GOOD), 0);
	/* ...and its next connection is offloaded again. */
	assert_int_equal(flags_of(f, A4, B4, SYN, 0, PARTIAL), SKIP);
	assert_int_equal(flags_of(f, A4, B4, PA, 10, PARTIAL), SKIP);
	/* The other side stays verified. */
	assert_int_equal(flags_of(f, B4, A4, PA, 10, RANDOM), BAD);

	struct sl_offload_summary s;
	sl_decoder_offload_summary(f->d, &s);
	assert_int_equal(s.hosts, 1);
	assert_int_equal(s.segments, 5);
	assert_int_equal(s.n_addrs, 1);
	assert_memory_equal(s.addrs[0].b + 12, A4, 4);
	assert_int_equal(f->ctr.v[SL_CTR_DECODE_OFFLOAD_HOSTS], 1);
	assert_int_equal(f->ctr.v[SL_CTR_DECODE_CSUM_SKIP], 5);
	assert_int_equal(f->ctr.v[SL_CTR_DECODE_CSUM_BAD], 1);
	fx_free(f);
}

/* Stacks that compute control segments and offload data (corpus: bug-1045). */
static void auto_offloaded_data_only(void **state)
{
	struct fx *f = fx_new(SL_CSUM_AUTO, 0);

	assert_int_equal(flags_of(f, A4, B4, SYN, 0, GOOD), 0);
	assert_int_equal(flags_of(f, A4, B4, ACK, 0, GOOD), 0);
	assert_int_equal(flags_of(f, A4, B4, PA, 30, PARTIAL), SKIP);
	assert_int_equal(flags_of(f, A4, B4, ACK, 0, GOOD), 0);
	assert_int_equal(flags_of(f, A4, B4, PA, 30, PARTIAL), SKIP);
	/* A control segment with a random wrong checksum from a host that
	 * computes control checksums: chaff. */
	assert_int_equal(flags_of(f, A4, B4, RA, 0, RANDOM), BAD);
	assert_int_equal(f->anom[SL_ANOM_DECODE_TCP_CSUM], 1);
	fx_free(f);
}

/* Bad-checksum chaff among a verified sender's good segments. */
static void auto_chaff_caught(void **state)
{
	struct fx *f = fx_new(SL_CSUM_AUTO, 0);

	assert_int_equal(flags_of(f, A4, B4, SYN, 0, GOOD), 0);
	assert_int_equal(flags_of(f, A4, B4, PA, 100, GOOD), 0);
	assert_int_equal(flags_of(f, A4, B4, PA, 100, RANDOM), BAD);
	/* Forging the offload signature does not help once data was good. */
	assert_int_equal(flags_of(f, A4, B4, PA, 100, PARTIAL), BAD);
	assert_int_equal(flags_of(f, A4, B4, RA, 0, PARTIAL), BAD);
	assert_int_equal(flags_of(f, A4, B4, RA, 0, RANDOM), BAD);
	assert_int_equal(flags_of(f, A4, B4, PA, 100, GOOD), 0);
	assert_int_equal(f->ctr.v[SL_CTR_DECODE_CSUM_BAD], 4);
	assert_int_equal(f->ctr.v[SL_CTR_DECODE_CSUM_SKIP], 0);

	struct sl_offload_summary s;
	sl_decoder_offload_summary(f->d, &s);
	assert_int_equal(s.hosts, 0);
	fx_free(f);
}

/* GRO super-packets from a verified sender (corpus: bug-7126). */
static void auto_gro_super_packets(void **state)
{
	struct fx *f = fx_new(SL_CSUM_AUTO, 0);

	assert_int_equal(flags_of(f, A4, B4, PA, 22, GOOD), 0);
	assert_int_equal(flags_of(f, A4, B4, PA, 2896, PARTIAL), SKIP);
	/* Wrong in any other way, or MTU-sized: chaff. */
	assert_int_equal(flags_of(f, A4, B4, PA, 2896, RANDOM), BAD);
	assert_int_equal(flags_of(f, A4, B4, PA, 1448, PARTIAL), BAD);

	struct sl_offload_summary s;
	sl_decoder_offload_summary(f->d, &s);
	assert_int_equal(s.hosts, 0);		/* GRO is not offload of the host */
	fx_free(f);
}

/* Accepted unverified, then proven to compute checksums: named. */
static void auto_revoked(void **state)
{
	struct fx *f = fx_new(SL_CSUM_AUTO, 0);
	struct sl_offload_summary s, m = { 0 };

	assert_int_equal(flags_of(f, A4, B4, PA, 50, RANDOM), SKIP);
	assert_int_equal(f->anom[SL_ANOM_DECODE_CSUM_UNVERIFIED], 0);
	assert_int_equal(flags_of(f, A4, B4, PA, 50, GOOD), 0);
	assert_int_equal(f->anom[SL_ANOM_DECODE_CSUM_UNVERIFIED], 1);
	assert_int_equal(flags_of(f, A4, B4, PA, 50, RANDOM), BAD);
	sl_decoder_offload_summary(f->d, &s);
	assert_int_equal(s.hosts, 1);
	assert_int_equal(s.revoked, 1);

	/* Merging two workers' summaries keeps addresses distinct. */
	sl_offload_summary_merge(&m, &s);
	sl_offload_summary_merge(&m, &s);
	assert_int_equal(m.hosts, 2);
	assert_int_equal(m.n_addrs, 1);
	fx_free(f);
}

/* The table is bounded: a forgotten source starts over (documented). */
static void auto_lru_bound(void **state)
{
	struct fx *f = fx_new(SL_CSUM_AUTO, 2);
	static const uint8_t C4[4] = { 203, 0, 113, 3 }, D4[4] = { 203, 0, 113, 4 };

	assert_int_equal(flags_of(f, A4, B4, PA, 10, GOOD), 0);
	assert_int_equal(flags_of(f, C4, B4, PA, 10, GOOD), 0);
	assert_int_equal(flags_of(f, A4, B4, PA, 10, RANDOM), BAD);	/* A is recent */
	assert_int_equal(flags_of(f, D4, B4, PA, 10, GOOD), 0);		/* evicts C */
	assert_int_equal(flags_of(f, A4, B4, PA, 10, RANDOM), BAD);
	assert_int_equal(flags_of(f, C4, B4, PA, 10, RANDOM), SKIP);	/* forgotten */
	fx_free(f);
}

/* ---- real offload captures (test/unit/decode/data/README.md) ---- */

struct cap_result {
	unsigned packets, ok, bad, skip;
	struct sl_offload_summary sum;
};

static void decode_capture(const char *name, struct cap_result *cr)
{
	char path[512], err[512];
	struct fx *f = fx_new(SL_CSUM_AUTO, 0);
	struct sl_packet p;

	snprintf(path, sizeof(path), "%s/%s", SL_TEST_DATA_DIR, name);
	struct sl_pcap_source *s = sl_pcap_open(path, err, sizeof(err));
	assert_non_null(s);
	memset(cr, 0, sizeof(*cr));
	while (sl_pcap_next(s, &p) == SL_PCAP_PACKET) {
		cr->packets++;
		if (sl_decode(f->d, &p) != SL_DECODE_OK || p.ip_proto != 6)
			continue;
		cr->ok++;
		cr->bad += !!(p.flags & SL_PKT_L4_CSUM_BAD);
		cr->skip += !!(p.flags & SL_PKT_L4_CSUM_SKIP);
	}
	sl_decoder_offload_summary(f->d, &cr->sum);
	sl_pcap_close(s);
	fx_free(f);
}

static void corpus_offload_captures(void **state)
{
	struct cap_result r;
	char buf[64];

	/* 8.8.8.2 sends 15 partial-checksum segments, 10.0.1.120 13 good. */
	decode_capture("offload-all-bad.pcap", &r);
	assert_int_equal(r.ok, 28);
	assert_int_equal(r.bad, 0);
	assert_int_equal(r.skip, 15);
	assert_int_equal(r.sum.hosts, 1);
	assert_string_equal(sl_addr_str(&r.sum.addrs[0], buf, sizeof(buf)), "8.8.8.2");

	/* Server all partial (14); client good except 3 GRO super-packets. */
	decode_capture("offload-gro.pcap", &r);
	assert_int_equal(r.ok, 33);
	assert_int_equal(r.bad, 0);
	assert_int_equal(r.skip, 14 + 3);
	assert_int_equal(r.sum.hosts, 1);
	assert_string_equal(sl_addr_str(&r.sum.addrs[0], buf, sizeof(buf)), "217.146.107.83");

	/* Good control segments, partial data. */
	decode_capture("offload-data-only.pcap", &r);
	assert_int_equal(r.ok, 19);
	assert_int_equal(r.bad, 0);
	assert_int_equal(r.skip, 3);
	assert_string_equal(sl_addr_str(&r.sum.addrs[0], buf, sizeof(buf)), "88.191.140.111");
}

static void names(void **state)
{
	enum sl_csum_mode m;

	assert_int_equal(sl_csum_mode_parse("off", &m), 0);
	assert_int_equal(m, SL_CSUM_OFF);
	assert_string_equal(sl_csum_mode_name(SL_CSUM_AUTO), "auto");
	assert_int_equal(sl_csum_mode_parse("yes", &m), -1);
	assert_string_equal(sl_decode_result_name(SL_DECODE_HELD), "held");
	assert_string_equal(sl_anomaly_name(SL_ANOM_DECODE_CSUM_UNVERIFIED),
			    "decode.csum_offload_revoked");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(ethernet_ipv4_tcp),
		cmocka_unit_test(link_types),
		cmocka_unit_test(vlan_stacks),
		cmocka_unit_test(ipv4_options),
		cmocka_unit_test(ipv4_header_errors),
		cmocka_unit_test(ipv4_bad_header_checksum),
		cmocka_unit_test(ethernet_padding_trimmed),
		cmocka_unit_test(ipv6_extension_chains),
		cmocka_unit_test(tcp_options_each_kind),
		cmocka_unit_test(tcp_options_malformed),
		cmocka_unit_test(tcp_header_errors),
		cmocka_unit_test(tcp_checksums),
		cmocka_unit_test(udp_icmp_other),
		cmocka_unit_test(truncated_at_every_offset),
		cmocka_unit_test(auto_offload_host),
		cmocka_unit_test(auto_offloaded_data_only),
		cmocka_unit_test(auto_chaff_caught),
		cmocka_unit_test(auto_gro_super_packets),
		cmocka_unit_test(auto_revoked),
		cmocka_unit_test(auto_lru_bound),
		cmocka_unit_test(corpus_offload_captures),
		cmocka_unit_test(names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
