/* RFC 1071 checksum.
 *
 * The sum is byte-order independent (RFC 1071 section 2(B)): we add the data
 * as native-endian words and swap the folded result once at the end on
 * little-endian hosts.  Words are summed 32 bits at a time into 64-bit
 * accumulators, so no carry is lost and no add-with-carry chain serialises
 * the loop; the AVX2 path does the same with 16-bit halves in 32-bit lanes. */
#include "checksum.h"

#include <string.h>

#include "bytes.h"

#if defined(__x86_64__)
#include <immintrin.h>
#define SL_CSUM_HAVE_AVX2 1
#else
#define SL_CSUM_HAVE_AVX2 0
#endif

static inline uint64_t load64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static inline uint64_t add_word(uint64_t acc, uint64_t w)
{
	return acc + (w & 0xffffffffu) + (w >> 32);
}

static inline uint64_t fold64(uint64_t acc)
{
	acc = (acc & 0xffffffffu) + (acc >> 32);
	return (acc & 0xffffffffu) + (acc >> 32);
}

/* Native-order sum of n bytes (any n), as a value below 2^33.  The tail is
 * zero-padded, which puts a lone last byte in the high half of its
 * big-endian word, as RFC 1071 asks. */
static uint64_t sum_native(const uint8_t *p, size_t n)
{
	uint64_t acc = 0;

	while (n >= 32) {
		/* Each step adds less than 2^33: 2^25 steps (1 GiB) stay far
		 * below 2^63 before the fold. */
		size_t chunk = n < ((size_t)1 << 30) ? n & ~(size_t)31 : (size_t)1 << 30;
		uint64_t a0 = 0, a1 = 0;

		for (size_t i = 0; i < chunk; i += 32) {
			a0 = add_word(a0, load64(p + i));
			a1 = add_word(a1, load64(p + i + 8));
			a0 = add_word(a0, load64(p + i + 16));
			a1 = add_word(a1, load64(p + i + 24));
		}
		acc = fold64(acc + fold64(a0) + fold64(a1));
		p += chunk;
		n -= chunk;
	}
	while (n >= 8) {
		acc = add_word(acc, load64(p));
		p += 8;
		n -= 8;
	}
	if (n) {
		uint8_t tail[8] = { 0 };

		memcpy(tail, p, n);
		acc = add_word(acc, load64(tail));
	}
	return fold64(acc);
}

/* Native 64-bit accumulator -> partial sum in big-endian word order. */
static uint32_t finish(uint64_t acc)
{
	uint32_t s = sl_csum_fold((uint32_t)fold64(acc));
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	s = (uint16_t)(s << 8 | s >> 8);
#endif
	return s;
}

uint32_t sl_csum_partial_generic(const void *buf, size_t len, uint32_t sum)
{
	return sl_csum_fold(sum) + finish(sum_native(buf, len));
}

#if SL_CSUM_HAVE_AVX2
/* Sums n bytes, n a multiple of 64, in native order.  Each 32-bit lane
 * receives two 16-bit words per vector, so 2 * 16384 additions of at most
 * 0xffff per lane (one 1 MiB block) cannot overflow before the lanes are
 * flushed into the 64-bit total. */
__attribute__((target("avx2")))
static uint64_t sum_avx2(const uint8_t *p, size_t n)
{
	const __m256i lo16 = _mm256_set1_epi32(0xffff);
	uint64_t total = 0;

	while (n) {
		size_t block = n < ((size_t)1 << 20) ? n : (size_t)1 << 20;
		__m256i a0 = _mm256_setzero_si256(), a1 = _mm256_setzero_si256();

		for (size_t i = 0; i < block; i += 64) {
			const __m256i *q = (const __m256i *)(const void *)(p + i);
			__m256i v0 = _mm256_loadu_si256(q);
			__m256i v1 = _mm256_loadu_si256(q + 1);

			a0 = _mm256_add_epi32(a0, _mm256_and_si256(v0, lo16));
			a0 = _mm256_add_epi32(a0, _mm256_srli_epi32(v0, 16));
			a1 = _mm256_add_epi32(a1, _mm256_and_si256(v1, lo16));
			a1 = _mm256_add_epi32(a1, _mm256_srli_epi32(v1, 16));
		}
		/* Widen the sixteen 32-bit lanes to 64 bits before adding them. */
		__m256i w = _mm256_add_epi64(
			_mm256_add_epi64(_mm256_cvtepu32_epi64(_mm256_castsi256_si128(a0)),
					 _mm256_cvtepu32_epi64(_mm256_extracti128_si256(a0, 1))),
			_mm256_add_epi64(_mm256_cvtepu32_epi64(_mm256_castsi256_si128(a1)),
					 _mm256_cvtepu32_epi64(_mm256_extracti128_si256(a1, 1))));
		uint64_t l[4];

		_mm256_storeu_si256((__m256i *)(void *)l, w);
		total = fold64(total + l[0] + l[1] + l[2] + l[3]);
		p += block;
		n -= block;
	}
	return total;
}
#endif

uint32_t sl_csum_partial(const void *buf, size_t len, uint32_t sum)
{
#if SL_CSUM_HAVE_AVX2
	/* Below a few vectors the set-up and final reduction cost more than
	 * they save (TCP headers, pure ACKs). */
	if (len >= 256 && __builtin_cpu_supports("avx2")) {
		const uint8_t *p = buf;
		size_t head = len & ~(size_t)63;
		uint64_t acc = sum_avx2(p, head) + sum_native(p + head, len - head);

		return sl_csum_fold(sum) + finish(acc);
	}
#endif
	return sl_csum_partial_generic(buf, len, sum);
}

uint32_t sl_csum_pseudo_v4(const uint8_t src[4], const uint8_t dst[4], uint8_t proto,
			   uint32_t len)
{
	uint32_t s = (uint32_t)sl_be16(src) + sl_be16(src + 2) + sl_be16(dst) + sl_be16(dst + 2);

	return s + proto + (len >> 16) + (len & 0xffff);
}

uint32_t sl_csum_pseudo_v6(const uint8_t src[16], const uint8_t dst[16], uint8_t proto,
			   uint32_t len)
{
	uint32_t s = proto + (len >> 16) + (len & 0xffff);

	for (unsigned i = 0; i < 16; i += 2)
		s += (uint32_t)sl_be16(src + i) + sl_be16(dst + i);
	return s;
}
