/* The Internet checksum (RFC 1071) and the TCP/UDP pseudo-header sums.
 *
 * Sums are carried as uint32_t "partial sums": the one's-complement sum of
 * the data read as big-endian 16-bit words, not yet folded and not yet
 * complemented.  Partial sums add with plain '+' as long as no more than
 * 65535 of them are added before sl_csum_fold().
 *
 *   verify:  sl_csum_fold(pseudo + sl_csum_partial(l4, len, 0)) == 0xffff
 *   compute: store (uint16_t)~sl_csum_fold(...) with the checksum field zeroed
 *
 * sl_csum_partial() is the hot path of decoding: it reads 32 bytes per step
 * (AVX2 when the CPU has it, 64-bit words otherwise) and accepts any length
 * and any alignment. */
#ifndef SL_CHECKSUM_H
#define SL_CHECKSUM_H

#include <stddef.h>
#include <stdint.h>

/* Adds the sum of buf[0..len) to 'sum'.  To checksum data in pieces, every
 * piece but the last must have an even length (an odd piece would shift the
 * byte lanes of the next one). */
uint32_t sl_csum_partial(const void *buf, size_t len, uint32_t sum);

/* The portable implementation, exported so tests can compare both paths. */
uint32_t sl_csum_partial_generic(const void *buf, size_t len, uint32_t sum);

/* Folds a partial sum to 16 bits (end-around carry); NOT complemented. */
static inline uint16_t sl_csum_fold(uint32_t sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/* The complemented checksum of one buffer, as stored in an IPv4 header. */
static inline uint16_t sl_csum(const void *buf, size_t len)
{
	return (uint16_t)~sl_csum_fold(sl_csum_partial(buf, len, 0));
}

/* Pseudo-header partial sums (RFC 793 / RFC 8200 section 8.1); len is the
 * transport length (header + payload). */
uint32_t sl_csum_pseudo_v4(const uint8_t src[4], const uint8_t dst[4], uint8_t proto,
			   uint32_t len);
uint32_t sl_csum_pseudo_v6(const uint8_t src[16], const uint8_t dst[16], uint8_t proto,
			   uint32_t len);

#endif
