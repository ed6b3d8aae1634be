/* Packets sluice makes itself (inline): TCP resets and SMTP replies that end
 * a blocked transfer, and the sockets that send them.
 *
 * Crafting is pure (buffers in, bytes out) so tests decode the results back
 * with engine/decode.c.  Two shapes:
 *
 *   sl_craft_tcp()          a fresh IPv4/IPv6 + TCP packet (no options):
 *                           the reply or reset toward a packet's SENDER;
 *   sl_craft_rst_rewrite()  a queued packet rewritten in place as a bare
 *                           RST toward its RECEIVER: the IP header is kept
 *                           byte for byte (options, IPv6 extension headers,
 *                           id, TTL - newer kernels refuse a verdict payload
 *                           that changes them), only the length fields, the
 *                           TCP header and both checksums are new.
 *
 * Sending (sl_injector): what the kernel routes versus what must go out of
 * one bridge port.
 *   routed box   - a raw IP socket (IP_HDRINCL; IPv6: IPPROTO_RAW) hands
 *                  the packet to the box's routing table;
 *   bridged box  - the bridge has no address and no route to the client,
 *                  so the frame is written to the client-side bridge port
 *                  with an AF_PACKET socket, MAC addresses learned from the
 *                  flow's own packets (NFQA_HWADDR, NFQA_IFINDEX_PHYSINDEV).
 * Every socket carries SO_MARK = the inject mark, so firewall rules can
 * exclude sluice's own packets from the queue (docs/deploy.md).  Sockets
 * are opened once, as root, before privileges are dropped. */
#ifndef SL_INJECT_H
#define SL_INJECT_H

#include <stddef.h>
#include <stdint.h>

#include "packet.h"
#include "verdict.h"

struct sl_craft {
	struct sl_addr src, dst;	/* both IPv4-mapped, or both IPv6 */
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags;			/* enum sl_tcp_flag */
	uint16_t window;		/* raw header value */
	uint8_t ttl;			/* hop limit; 0 = 64 */
	const uint8_t *payload;
	uint32_t payload_len;
};

/* Builds the packet in buf (IP header first).  Returns its length, or 0
 * when it does not fit in cap or the addresses mix families. */
size_t sl_craft_tcp(uint8_t *buf, size_t cap, const struct sl_craft *c);

/* pkt[0..len) is an IPv4/IPv6 packet whose TCP header starts at l4_off.
 * Writes it to buf as RST|ACK with the given seq/ack, no payload, window 0.
 * Returns the new length, 0 on a malformed input or a small buffer. */
size_t sl_craft_rst_rewrite(uint8_t *buf, size_t cap, const uint8_t *pkt, uint32_t len,
			    uint16_t l4_off, uint32_t seq, uint32_t ack);

/* The SMTP reply that refuses a message: "554 5.7.1 ..." for block,
 * "451 4.7.1 ..." for tempfail, then the verdict's one-line summary, CRLF.
 * Printable ASCII only, at most 512 bytes with CRLF (RFC 5321 4.5.3.1.5).
 * Returns the length (without NUL). */
size_t sl_smtp_refusal(char *buf, size_t cap, enum sl_action a, const struct sl_verdict *v);

/* Where a crafted packet leaves the box: ifindex 0 = routed (raw socket),
 * else an Ethernet frame out of that interface. */
struct sl_l2_path {
	int ifindex;
	uint8_t dst_mac[6], src_mac[6];
};

struct sl_injector;
/* Opens the raw IPv4, raw IPv6 and AF_PACKET sockets (root or CAP_NET_RAW;
 * SO_MARK needs CAP_NET_ADMIN).  A family the host lacks is skipped; NULL
 * with err set when nothing could be opened. */
struct sl_injector *sl_injector_new(uint32_t mark, char *err, size_t errlen);
/* Sends pkt (IP header first).  0, or -1 with errno. */
int sl_injector_send(struct sl_injector *inj, const uint8_t *pkt, size_t len,
		     const struct sl_l2_path *l2);
void sl_injector_free(struct sl_injector *inj);

#endif
