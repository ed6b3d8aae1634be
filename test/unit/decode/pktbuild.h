/* Test helpers: build frames byte by byte, with checksums computed by a
 * naive reference implementation (independent of engine/checksum.c). */
#ifndef SL_TEST_PKTBUILD_H
#define SL_TEST_PKTBUILD_H

#include <stddef.h>
#include <stdint.h>

struct pb_tcp {
	uint8_t src[16], dst[16];	/* IPv4 uses the first 4 bytes */
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags;
	uint16_t win;
	const uint8_t *topt;		/* TCP options, length a multiple of 4 */
	size_t topt_len;
	const uint8_t *payload;
	size_t plen;
	/* IPv4 only */
	const uint8_t *ipopt;		/* multiple of 4 */
	size_t ipopt_len;
	uint16_t ip_id;
	uint8_t ttl;			/* 0 -> 64 */
	/* IPv6 only: extension headers between the IPv6 header and TCP; the
	 * caller's bytes must end with a header whose Next Header is 6. */
	const uint8_t *ext;
	size_t ext_len;
	uint8_t ext_first;		/* Next Header of the IPv6 header when ext_len > 0 */
};

/* Reference one's-complement sum of big-endian words (odd byte padded). */
uint32_t ref_sum(const uint8_t *p, size_t n, uint32_t s);
uint16_t ref_fold(uint32_t s);

/* Writes an IPv4 / IPv6 packet carrying one TCP segment at out; returns its
 * length.  Checksums are correct. */
size_t pb_ipv4_tcp(uint8_t *out, const struct pb_tcp *t);
size_t pb_ipv6_tcp(uint8_t *out, const struct pb_tcp *t);

/* Recomputes the IPv4 header checksum of ip. */
void pb_ipv4_fix_csum(uint8_t *ip);

/* Ethernet header (+ VLAN tags, outermost first; tpids[i] is each tag's
 * TPID) in front of an IP packet; returns the frame length. */
size_t pb_eth(uint8_t *out, uint16_t ethertype, const uint16_t *tpids, const uint16_t *vids,
	      unsigned ntags, const uint8_t *ip, size_t ip_len);

void pb_put_le32(uint8_t *p, uint32_t v);

/* Writes a pcap file (microsecond, little-endian) of n frames. */
struct pb_rec {
	const uint8_t *data;
	uint32_t caplen, len;
	uint32_t sec, usec;
};
int pb_write_pcap(const char *path, int linktype, const struct pb_rec *r, unsigned n);

#endif
