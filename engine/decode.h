/* Packet decoding: link layer to transport header.
 *
 * sl_decode() reads p->frame / cap_len / wire_len / linktype (and the
 * source's flags) and fills the rest of struct sl_packet.  It never reads
 * outside [frame, frame + cap_len), never allocates on the packet path
 * (except inside the defragmenter), and turns every malformation into a
 * counted, named anomaly.
 *
 * Link types: DLT_EN10MB (with up to 8 stacked 802.1Q / 802.1ad / 0x9100
 * tags; the outer two are recorded), DLT_LINUX_SLL, DLT_LINUX_SLL2, DLT_RAW
 * (and LINKTYPE_RAW 101), LINKTYPE_IPV4 / LINKTYPE_IPV6, DLT_NULL (either
 * byte order) and DLT_LOOP.
 *
 * Lengths: l3_len is the IP length, with link padding (Ethernet's 60-byte
 * minimum, trailers) trimmed.  When the capture cut the packet short
 * (cap_len < wire_len, SL_PKT_TRUNCATED) l3_len, l4_len and payload_len
 * count only the bytes present; the TCP layer must treat the rest as missing.
 *
 * Fragments go to the defragmenter (SL_DECODE_HELD).  The fragment that
 * completes a datagram decodes as the whole datagram: l3/l4/payload then
 * point into the defragmenter's buffer, valid until the next sl_decode()
 * call, SL_PKT_DEFRAGMENTED is set, with SL_PKT_FRAG_* for the anomalies
 * any of its fragments raised (sl_defrag_done_flags), and p->index stays
 * the completing fragment's.
 *
 * Checksums (IPv4 header, TCP; UDP is not verified): see sl_csum_mode.  A
 * packet decode judges bad gets SL_PKT_L4_CSUM_BAD -- also when it is the
 * IPv4 header checksum that is wrong (then with SL_PKT_IP_CSUM_BAD too),
 * since a receiver drops such a packet before TCP sees it -- and it still
 * decodes as SL_DECODE_OK so the flow layer can count it.  A packet whose
 * checksum was not verified gets SL_PKT_L4_CSUM_SKIP. */
#ifndef SL_DECODE_H
#define SL_DECODE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "anomaly.h"
#include "counters.h"
#include "packet.h"

struct sl_defrag;

/* Checksum policy.
 *  ON:   verify every checksum (the packet source's SL_PKT_L4_CSUM_SKIP is
 *        still honoured: NFQUEUE sets it for GSO/GRO packets whose checksum
 *        the kernel has not computed).  Right for inline use, where packets
 *        come off the wire with complete checksums.
 *  OFF:  verify nothing; every TCP segment gets SL_PKT_L4_CSUM_SKIP.
 *  AUTO: for captures: tell checksum offload on the capturing host apart
 *        from bad-checksum chaff, per source address (see decode.c). */
enum sl_csum_mode {
	SL_CSUM_AUTO = 0,
	SL_CSUM_ON,
	SL_CSUM_OFF,
};

struct sl_decode_config {
	enum sl_csum_mode csum;		/* default SL_CSUM_AUTO */
	uint32_t csum_sources;		/* AUTO: sources remembered, LRU (default 1024) */
	uint32_t csum_gro_len;		/* AUTO: IP packets longer than this with a
					   pseudo-header-only checksum are GRO/TSO
					   super-packets (default 1500) */
	uint8_t max_ipv6_exthdrs;	/* extension headers walked before giving up (default 8) */
	uint8_t max_vlan;		/* stacked VLAN tags walked before giving up (default 8) */
};

void sl_decode_config_default(struct sl_decode_config *c);
/* "auto" / "on" / "off" -> mode; -1 when unknown. */
int sl_csum_mode_parse(const char *s, enum sl_csum_mode *mode);
const char *sl_csum_mode_name(enum sl_csum_mode mode);

enum sl_decode_result {
	SL_DECODE_OK = 0,		/* IP packet decoded (any transport; check ip_proto) */
	SL_DECODE_NOT_IP,		/* well-formed frame that carries no IP (ARP, LLDP ...) */
	SL_DECODE_HELD,			/* IP fragment stored in the defragmenter */
	SL_DECODE_FRAG_DROPPED,		/* IP fragment discarded (limits, bad length, no
					   defragmenter): counted and named by defrag */
	SL_DECODE_ERROR,		/* malformed: counted (decode.errors) and named */
};

const char *sl_decode_result_name(enum sl_decode_result r);

struct sl_decoder;

/* df may be NULL (fragments are then dropped and counted); ctr may be NULL.
 * Anomalies go to fn(u, ...), including the defragmenter's: sl_decoder_new()
 * points df's reporting at fn/u too. */
struct sl_decoder *sl_decoder_new(const struct sl_decode_config *cfg, struct sl_defrag *df,
				  struct sl_counters *ctr, sl_anomaly_fn fn, void *u);
void sl_decoder_free(struct sl_decoder *d);
/* Forgets the checksum evidence gathered per source address (AUTO mode):
 * it describes one capture's hosts and NICs, so the next capture file
 * starts without it.  The offload summary is kept. */
void sl_decoder_forget_sources(struct sl_decoder *d);

/* The source must reset p->flags for every packet (it may set
 * SL_PKT_L4_CSUM_SKIP, SL_PKT_TRUNCATED, SL_PKT_INJECTED); decode leaves
 * index, ts_us, frame, cap_len, wire_len, linktype, src_id and src_ctx alone
 * and rewrites every other field. */
enum sl_decode_result sl_decode(struct sl_decoder *d, struct sl_packet *p);

/* For the replay summary: "TCP checksums not validated for N hosts
 * (offload): a, b, c ...". */
#define SL_OFFLOAD_ADDRS 8
struct sl_offload_summary {
	uint64_t hosts;			/* sources taken for offloaders (a source
					   forgotten by the LRU and seen again
					   counts again) */
	uint64_t segments;		/* TCP segments accepted unverified because of it */
	uint64_t revoked;		/* sources that later proved to compute checksums */
	unsigned n_addrs;
	struct sl_addr addrs[SL_OFFLOAD_ADDRS];	/* the first hosts, distinct */
};

void sl_decoder_offload_summary(const struct sl_decoder *d, struct sl_offload_summary *s);
/* Adds src into dst (several workers -> one summary), keeping addrs distinct. */
void sl_offload_summary_merge(struct sl_offload_summary *dst,
			      const struct sl_offload_summary *src);
/* Prints the summary lines ("  TCP checksums not validated for 2 hosts
 * (offload): 192.0.2.1, 192.0.2.7 ..."); prints nothing when no host was
 * taken for an offloader. */
void sl_offload_summary_print(const struct sl_offload_summary *s, FILE *f);
/* The same for one decoder. */
void sl_decoder_summary(const struct sl_decoder *d, FILE *f);

#endif
