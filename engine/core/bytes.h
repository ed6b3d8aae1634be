/* Unaligned, endian-explicit loads and stores.  Packet fields are never read
 * through a cast pointer: a frame can start at any address. */
#ifndef SL_BYTES_H
#define SL_BYTES_H

#include <stdint.h>
#include <string.h>

static inline uint16_t sl_be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static inline uint32_t sl_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline void sl_put_be16(uint8_t *p, uint16_t v) { p[0] = v >> 8; p[1] = (uint8_t)v; }
static inline void sl_put_be32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24; p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}
static inline uint16_t sl_le16(const uint8_t *p) { return (uint16_t)(p[1] << 8 | p[0]); }
static inline uint32_t sl_le32(const uint8_t *p)
{
	return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

/* TCP sequence arithmetic (RFC 1982 serial numbers, 32-bit). */
static inline int sl_seq_lt(uint32_t a, uint32_t b) { return (int32_t)(a - b) < 0; }
static inline int sl_seq_leq(uint32_t a, uint32_t b) { return (int32_t)(a - b) <= 0; }
static inline int sl_seq_gt(uint32_t a, uint32_t b) { return (int32_t)(a - b) > 0; }
static inline int sl_seq_geq(uint32_t a, uint32_t b) { return (int32_t)(a - b) >= 0; }

#define SL_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define SL_MIN(a, b) ((a) < (b) ? (a) : (b))
#define SL_MAX(a, b) ((a) > (b) ? (a) : (b))

#endif
