/* The decoded view of one packet.
 *
 * A packet is borrowed from its source (the pcap record, or the netlink
 * receive buffer for NFQUEUE) until the source gets its verdict; every
 * pointer below points into that frame, or into a defragmentation buffer
 * that lives at least as long.  Nothing in this struct owns memory. */
#ifndef SL_PACKET_H
#define SL_PACKET_H

#include <stdbool.h>
#include <stdint.h>

/* IPv4 is stored as an IPv4-mapped IPv6 address (::ffff:a.b.c.d) so that
 * flow keys have one shape for both families. */
struct sl_addr {
	uint8_t b[16];
};

enum sl_tcp_flag {
	SL_TH_FIN = 0x01, SL_TH_SYN = 0x02, SL_TH_RST = 0x04, SL_TH_PSH = 0x08,
	SL_TH_ACK = 0x10, SL_TH_URG = 0x20, SL_TH_ECE = 0x40, SL_TH_CWR = 0x80,
};

struct sl_tcp_opts {
	uint16_t mss;
	uint8_t wscale;			/* valid when has_wscale */
	uint8_t has_mss : 1, has_wscale : 1, sack_perm : 1, has_ts : 1,
		malformed : 1;		/* option list did not parse to the end */
	uint32_t tsval, tsecr;
};

enum sl_pkt_flag {
	SL_PKT_IP_CSUM_BAD   = 1u << 0,	/* IPv4 header checksum wrong */
	SL_PKT_L4_CSUM_BAD   = 1u << 1,	/* TCP/UDP checksum verified and wrong */
	SL_PKT_L4_CSUM_SKIP  = 1u << 2,	/* not verified: offload detected, or the
					   kernel says checksum-not-ready (GSO/GRO) */
	SL_PKT_DEFRAGMENTED  = 1u << 3,	/* l3 points into a defrag buffer */
	SL_PKT_TRUNCATED     = 1u << 4,	/* caplen < wire length: payload cut short */
	SL_PKT_INJECTED      = 1u << 5,	/* made by sluice itself (never inspected) */
	/* A reassembled datagram (SL_PKT_DEFRAGMENTED) whose fragments -- any
	 * of them, not only the completing one -- raised defrag.overlap,
	 * defrag.overlap_conflict, defrag.tiny_fragment, defrag.bad_length.
	 * Reassembly runs before the flow lookup; these carry the facts to the
	 * flow the datagram belongs to (the worker raises them there). */
	SL_PKT_FRAG_OVERLAP  = 1u << 6,
	SL_PKT_FRAG_CONFLICT = 1u << 7,
	SL_PKT_FRAG_TINY     = 1u << 8,
	SL_PKT_FRAG_BAD_LEN  = 1u << 9,
};
#define SL_PKT_FRAG_ANOMALIES (SL_PKT_FRAG_OVERLAP | SL_PKT_FRAG_CONFLICT | SL_PKT_FRAG_TINY | \
			       SL_PKT_FRAG_BAD_LEN)

struct sl_packet {
	uint64_t index;			/* 1-based pcap record index; inline: per-queue sequence */
	uint64_t ts_us;			/* capture time, microseconds since the epoch */
	const uint8_t *frame;		/* link-layer frame as captured */
	uint32_t cap_len;		/* bytes present at frame */
	uint32_t wire_len;		/* original length on the wire */
	int linktype;			/* DLT_* */

	/* filled by decode */
	uint8_t ipver;			/* 4 or 6; 0 when not IP */
	uint8_t ip_proto;		/* IPPROTO_* of the transport header */
	uint8_t ttl;
	uint8_t vlan_count;
	uint16_t vlan[2];		/* outermost first */
	struct sl_addr src, dst;
	uint16_t sport, dport;
	const uint8_t *l3;		/* IP header */
	uint32_t l3_len;		/* IP header + payload, as trusted from the IP length */
	const uint8_t *l4;		/* transport header */
	uint32_t l4_len;
	const uint8_t *payload;		/* transport payload */
	uint32_t payload_len;

	/* TCP only */
	uint32_t seq, ack;
	uint16_t win;			/* raw, unscaled */
	uint8_t tcp_flags;		/* enum sl_tcp_flag */
	struct sl_tcp_opts opts;

	uint32_t flags;			/* enum sl_pkt_flag */

	/* Source-owned handle (NFQUEUE packet id); opaque above the source. */
	uint32_t src_id;
	void *src_ctx;
};

static inline bool sl_addr_is_v4(const struct sl_addr *a)
{
	static const uint8_t prefix[12] = { 0,0,0,0,0,0,0,0,0,0,0xff,0xff };
	for (int i = 0; i < 12; i++)
		if (a->b[i] != prefix[i])
			return false;
	return true;
}

/* Formats an address as text ("192.0.2.1" or "2001:db8::1"); buf >= 46 bytes. */
const char *sl_addr_str(const struct sl_addr *a, char *buf, unsigned size);

#endif
