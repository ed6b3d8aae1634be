/* engine/inject.c: crafted resets and SMTP replies, decoded back with
 * engine/decode.c (checksums verified), the in-place RST rewrite keeping
 * the IP header, and the SMTP refusal line. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "bytes.h"
#include "decode_back.h"
#include "inject.h"

static struct sl_addr v4(uint32_t ip)
{
	return test_v4(ip);
}

static struct sl_addr v6(uint8_t last)
{
	struct sl_addr a;

	memset(&a, 0, sizeof(a));
	a.b[0] = 0xfd;
	a.b[1] = 0x00;
	a.b[15] = last;
	return a;
}

static enum sl_decode_result decode(const uint8_t *pkt, size_t len, struct sl_packet *p)
{
	enum sl_decode_result r = test_decode(pkt, len, p);

	assert_int_not_equal(r, SL_DECODE_ERROR);
	return r;
}

static void check_reply(const struct sl_addr *src, const struct sl_addr *dst, uint8_t ipver)
{
	static const char reply[] = "554 5.7.1 Message rejected: virus X\r\n";
	struct sl_craft c = {
		.src = *src, .dst = *dst, .sport = 25, .dport = 40000,
		.seq = 0xfffffff0u, .ack = 123456789, .flags = SL_TH_PSH | SL_TH_ACK,
		.window = 502, .payload = (const uint8_t *)reply, .payload_len = sizeof(reply) - 1,
	};
	uint8_t buf[256];
	struct sl_packet p;

	size_t n = sl_craft_tcp(buf, sizeof(buf), &c);
	assert_int_equal(n, (ipver == 4 ? 20 : 40) + 20 + sizeof(reply) - 1);
	assert_int_equal(decode(buf, n, &p), SL_DECODE_OK);
	assert_int_equal(p.ipver, ipver);
	assert_int_equal(p.ip_proto, 6);
	assert_false(p.flags & (SL_PKT_L4_CSUM_BAD | SL_PKT_IP_CSUM_BAD | SL_PKT_L4_CSUM_SKIP));
	assert_memory_equal(&p.src, src, sizeof(*src));
	assert_memory_equal(&p.dst, dst, sizeof(*dst));
	assert_int_equal(p.sport, 25);
	assert_int_equal(p.dport, 40000);
	assert_int_equal(p.seq, 0xfffffff0u);
	assert_int_equal(p.ack, 123456789);
	assert_int_equal(p.tcp_flags, SL_TH_PSH | SL_TH_ACK);
	assert_int_equal(p.win, 502);
	assert_int_equal(p.payload_len, sizeof(reply) - 1);
	assert_memory_equal(p.payload, reply, sizeof(reply) - 1);

	/* Too small a buffer: nothing written, 0. */
	assert_int_equal(sl_craft_tcp(buf, n - 1, &c), 0);
}

static void test_reply_v4(void **state)
{
	struct sl_addr s = v4(0x0a000002), d = v4(0x0a000001);

	(void)state;
	check_reply(&s, &d, 4);
}

static void test_reply_v6(void **state)
{
	struct sl_addr s = v6(2), d = v6(1);

	(void)state;
	check_reply(&s, &d, 6);
}

static void test_mixed_families(void **state)
{
	struct sl_craft c = { .src = v4(1), .dst = v6(1) };
	uint8_t buf[128];

	(void)state;
	assert_int_equal(sl_craft_tcp(buf, sizeof(buf), &c), 0);
}

/* A data segment with IPv4 options and TCP options, rewritten as an RST:
 * the IP header (options, id, TTL, DF) survives byte for byte apart from the
 * length and checksum; TCP becomes a bare RST|ACK that decodes cleanly. */
static void test_rewrite_v4_options(void **state)
{
	uint8_t pkt[24 + 32 + 100], out[256];
	struct sl_packet p;

	(void)state;
	memset(pkt, 0, sizeof(pkt));
	pkt[0] = 0x46;				/* IHL 6: 4 bytes of options */
	sl_put_be16(pkt + 2, sizeof(pkt));
	sl_put_be16(pkt + 4, 0x1234);		/* id */
	sl_put_be16(pkt + 6, 0x4000);		/* DF */
	pkt[8] = 61;
	pkt[9] = 6;
	sl_put_be32(pkt + 12, 0x0a000001);
	sl_put_be32(pkt + 16, 0x0a000002);
	pkt[20] = 1; pkt[21] = 1; pkt[22] = 1; pkt[23] = 0;	/* NOP NOP NOP EOL */
	uint8_t *t = pkt + 24;
	sl_put_be16(t, 40000);
	sl_put_be16(t + 2, 25);
	sl_put_be32(t + 4, 1000);
	sl_put_be32(t + 8, 2000);
	t[12] = 8 << 4;				/* 32-byte TCP header */
	t[13] = SL_TH_ACK | SL_TH_PSH;
	memset(pkt + 24 + 32, 'x', 100);

	size_t n = sl_craft_rst_rewrite(out, sizeof(out), pkt, sizeof(pkt), 24, 1000, 2000);
	assert_int_equal(n, 24 + 20);
	assert_int_equal(decode(out, n, &p), SL_DECODE_OK);
	assert_false(p.flags & (SL_PKT_L4_CSUM_BAD | SL_PKT_IP_CSUM_BAD | SL_PKT_L4_CSUM_SKIP));
	assert_int_equal(p.tcp_flags, SL_TH_RST | SL_TH_ACK);
	assert_int_equal(p.seq, 1000);
	assert_int_equal(p.ack, 2000);
	assert_int_equal(p.sport, 40000);
	assert_int_equal(p.dport, 25);
	assert_int_equal(p.payload_len, 0);
	assert_int_equal(p.win, 0);
	assert_int_equal(sl_be16(out + 2), 44);
	/* Everything but total length and checksum is the original header. */
	assert_memory_equal(out, pkt, 2);
	assert_memory_equal(out + 4, pkt + 4, 6);
	assert_memory_equal(out + 12, pkt + 12, 12);
}

/* IPv6 with a destination-options extension header before TCP. */
static void test_rewrite_v6_exthdr(void **state)
{
	uint8_t pkt[40 + 8 + 20 + 10], out[256];
	struct sl_packet p;
	struct sl_addr s = v6(1), d = v6(2);

	(void)state;
	memset(pkt, 0, sizeof(pkt));
	pkt[0] = 0x60;
	sl_put_be16(pkt + 4, 8 + 20 + 10);
	pkt[6] = 60;				/* destination options */
	pkt[7] = 64;
	memcpy(pkt + 8, s.b, 16);
	memcpy(pkt + 24, d.b, 16);
	pkt[40] = 6;				/* next: TCP; length 0 = 8 bytes */
	pkt[42] = 1;				/* PadN, 4 bytes of padding */
	pkt[43] = 4;
	uint8_t *t = pkt + 48;
	sl_put_be16(t, 143);
	sl_put_be16(t + 2, 50000);
	sl_put_be32(t + 4, 7);
	sl_put_be32(t + 8, 9);
	t[12] = 5 << 4;
	t[13] = SL_TH_ACK;
	memset(t + 20, 'y', 10);

	size_t n = sl_craft_rst_rewrite(out, sizeof(out), pkt, sizeof(pkt), 48, 7, 9);
	assert_int_equal(n, 48 + 20);
	assert_int_equal(sl_be16(out + 4), 8 + 20);
	assert_memory_equal(out + 6, pkt + 6, 42);	/* rest of the header + ext header */
	assert_int_equal(decode(out, n, &p), SL_DECODE_OK);
	assert_false(p.flags & (SL_PKT_L4_CSUM_BAD | SL_PKT_L4_CSUM_SKIP));
	assert_int_equal(p.tcp_flags, SL_TH_RST | SL_TH_ACK);
	assert_int_equal(p.seq, 7);
	assert_int_equal(p.ack, 9);
	assert_int_equal(p.sport, 143);
}

static void test_rewrite_rejects_garbage(void **state)
{
	uint8_t pkt[60] = { 0x45 }, out[128];

	(void)state;
	/* l4_off past the end, wrong IHL for the offset, not IP at all. */
	assert_int_equal(sl_craft_rst_rewrite(out, sizeof(out), pkt, sizeof(pkt), 50, 1, 1), 0);
	assert_int_equal(sl_craft_rst_rewrite(out, sizeof(out), pkt, sizeof(pkt), 24, 1, 1), 0);
	pkt[0] = 0x15;
	assert_int_equal(sl_craft_rst_rewrite(out, sizeof(out), pkt, sizeof(pkt), 20, 1, 1), 0);
	/* Output buffer too small. */
	pkt[0] = 0x45;
	pkt[9] = 6;
	assert_int_equal(sl_craft_rst_rewrite(out, 39, pkt, sizeof(pkt), 20, 1, 1), 0);
}

static void test_smtp_refusal(void **state)
{
	struct sl_verdict v;
	char buf[600];

	(void)state;
	sl_verdict_init(&v);
	sl_verdict_add(&v, SL_REASON_VIRUS, SL_ACTION_BLOCK, "Eicar-Test\r\n250 OK", NULL, 2);
	size_t n = sl_smtp_refusal(buf, sizeof(buf), SL_ACTION_BLOCK, &v);
	assert_string_equal(buf, "554 5.7.1 Message rejected: virus Eicar-Test??250 OK\r\n");
	assert_int_equal(n, strlen(buf));

	sl_verdict_init(&v);
	sl_verdict_add(&v, SL_REASON_POLICY, SL_ACTION_TEMPFAIL, "hold-timeout", NULL, 0);
	sl_smtp_refusal(buf, sizeof(buf), SL_ACTION_TEMPFAIL, &v);
	assert_string_equal(buf, "451 4.7.1 Try again later: policy hold-timeout\r\n");

	/* A long reason is cut to the 512-byte reply line, CRLF kept. */
	char id[200];
	memset(id, 'A', sizeof(id) - 1);
	id[sizeof(id) - 1] = '\0';
	sl_verdict_init(&v);
	sl_verdict_add(&v, SL_REASON_RULE, SL_ACTION_BLOCK, id, NULL, 0);
	n = sl_smtp_refusal(buf, 40, SL_ACTION_BLOCK, &v);
	assert_int_equal(n, 39);
	assert_memory_equal(buf + n - 2, "\r\n", 2);
	for (size_t i = 0; i < n - 2; i++)
		assert_true(buf[i] >= 0x20 && buf[i] <= 0x7e);
	n = sl_smtp_refusal(buf, sizeof(buf), SL_ACTION_BLOCK, &v);
	assert_true(n <= 512);
	assert_memory_equal(buf + n - 2, "\r\n", 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reply_v4),
		cmocka_unit_test(test_reply_v6),
		cmocka_unit_test(test_mixed_families),
		cmocka_unit_test(test_rewrite_v4_options),
		cmocka_unit_test(test_rewrite_v6_exthdr),
		cmocka_unit_test(test_rewrite_rejects_garbage),
		cmocka_unit_test(test_smtp_refusal),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
