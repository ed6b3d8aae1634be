/* engine/checksum.c against a naive reference, over every length and
 * alignment that matters, and the vectors of RFC 1071. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "checksum.h"
#include "pktbuild.h"

static uint32_t rng = 12345;

static uint8_t rnd8(void)
{
	rng = rng * 1103515245u + 12345u;
	return (uint8_t)(rng >> 16);
}

static void rfc1071_example(void **state)
{
	/* RFC 1071 section 3: the sum of these words is 0xddf2. */
	static const uint8_t b[] = { 0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7 };

	assert_int_equal(sl_csum_fold(sl_csum_partial(b, sizeof(b), 0)), 0xddf2);
	assert_int_equal(sl_csum(b, sizeof(b)), 0x220d);
}

static void odd_lengths(void **state)
{
	static const uint8_t b[] = { 0xab };
	static const uint8_t c[] = { 0x12, 0x34, 0x56 };

	/* A lone last byte is the high half of a zero-padded word. */
	assert_int_equal(sl_csum_fold(sl_csum_partial(b, 1, 0)), 0xab00);
	assert_int_equal(sl_csum_fold(sl_csum_partial(c, 3, 0)), 0x1234 + 0x5600);
	assert_int_equal(sl_csum_fold(sl_csum_partial(c, 0, 0)), 0);
}

/* Every length 0..1100 at every alignment 0..7, both implementations. */
static void random_vs_reference(void **state)
{
	uint8_t *buf = malloc(1200);

	assert_non_null(buf);
	for (size_t len = 0; len <= 1100; len++) {
		for (size_t al = 0; al < 8; al++) {
			for (size_t i = 0; i < len; i++)
				buf[al + i] = rnd8();
			uint16_t want = ref_fold(ref_sum(buf + al, len, 0));
			assert_int_equal(sl_csum_fold(sl_csum_partial(buf + al, len, 0)), want);
			assert_int_equal(sl_csum_fold(sl_csum_partial_generic(buf + al, len, 0)),
					 want);
		}
	}
	free(buf);
}

/* All-ones data stresses every accumulator's overflow bound; 3 MiB + 5
 * crosses the AVX2 path's 1 MiB flush and the odd tail. */
static void large_buffers(void **state)
{
	size_t n = (3u << 20) + 5;
	uint8_t *buf = malloc(n);

	assert_non_null(buf);
	memset(buf, 0xff, n);
	assert_int_equal(sl_csum_fold(sl_csum_partial(buf, n, 0)), ref_fold(ref_sum(buf, n, 0)));
	for (size_t i = 0; i < n; i++)
		buf[i] = rnd8();
	assert_int_equal(sl_csum_fold(sl_csum_partial(buf, n, 0)), ref_fold(ref_sum(buf, n, 0)));
	assert_int_equal(sl_csum_fold(sl_csum_partial_generic(buf + 1, n - 1, 0)),
			 ref_fold(ref_sum(buf + 1, n - 1, 0)));
	free(buf);
}

/* Pieces: even-length pieces chain, the odd one comes last. */
static void chained(void **state)
{
	uint8_t b[301];

	for (size_t i = 0; i < sizeof(b); i++)
		b[i] = rnd8();
	uint32_t s = sl_csum_partial(b, 100, 0);
	s = sl_csum_partial(b + 100, 200, s);
	s = sl_csum_partial(b + 300, 1, s);
	assert_int_equal(sl_csum_fold(s), ref_fold(ref_sum(b, sizeof(b), 0)));
	/* Initial sums well above 16 bits are folded, not lost. */
	assert_int_equal(sl_csum_fold(sl_csum_partial(b, 10, 0xfffff)),
			 ref_fold(ref_sum(b, 10, 0xfffff)));
}

static void pseudo_headers(void **state)
{
	uint8_t s4[4] = { 192, 0, 2, 1 }, d4[4] = { 198, 51, 100, 7 };
	uint8_t s6[16], d6[16], ph[40];

	uint8_t ph4[12] = { 192, 0, 2, 1, 198, 51, 100, 7, 0, 6, 0x05, 0xdc };
	assert_int_equal(sl_csum_fold(sl_csum_pseudo_v4(s4, d4, 6, 1500)),
			 ref_fold(ref_sum(ph4, 12, 0)));
	for (int i = 0; i < 16; i++) {
		s6[i] = rnd8();
		d6[i] = rnd8();
	}
	memcpy(ph, s6, 16);
	memcpy(ph + 16, d6, 16);
	memcpy(ph + 32, "\x00\x01\x00\x10\x00\x00\x00\x06", 8);	/* len 65552, TCP */
	assert_int_equal(sl_csum_fold(sl_csum_pseudo_v6(s6, d6, 6, 65552)),
			 ref_fold(ref_sum(ph, 40, 0)));
}

/* A TCP segment built with reference checksums verifies; one flipped bit
 * does not. */
static void verify_segment(void **state)
{
	uint8_t pkt[2000], pay[1448];
	struct pb_tcp t = { .src = { 10, 0, 0, 1 }, .dst = { 10, 0, 0, 2 }, .sport = 1234,
			    .dport = 25, .seq = 1, .ack = 2, .flags = 0x18,
			    .payload = pay, .plen = 1447 };

	for (size_t i = 0; i < sizeof(pay); i++)
		pay[i] = rnd8();
	size_t n = pb_ipv4_tcp(pkt, &t);
	uint32_t l4 = (uint32_t)n - 20;
	uint32_t ps = sl_csum_pseudo_v4(pkt + 12, pkt + 16, 6, l4);
	assert_int_equal(sl_csum(pkt, 20), 0);
	assert_int_equal(sl_csum_fold(sl_csum_partial(pkt + 20, l4, ps)), 0xffff);
	pkt[n - 1] ^= 0x10;
	assert_int_not_equal(sl_csum_fold(sl_csum_partial(pkt + 20, l4, ps)), 0xffff);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(rfc1071_example),
		cmocka_unit_test(odd_lengths),
		cmocka_unit_test(random_vs_reference),
		cmocka_unit_test(large_buffers),
		cmocka_unit_test(chained),
		cmocka_unit_test(pseudo_headers),
		cmocka_unit_test(verify_segment),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
