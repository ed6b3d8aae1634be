/* IPv4 and IPv6 fragment reassembly.
 *
 * The decoder hands every fragment here (struct sl_frag: where its bytes go,
 * plus the header to rebuild the datagram with); when a datagram is complete
 * the result is one contiguous IP packet -- header from the offset-0
 * fragment, fragmentation fields cleared, lengths fixed, IPv4 header
 * checksum recomputed, the IPv6 Fragment header removed -- in a buffer owned
 * by the defragmenter and valid until the next sl_defrag_add() call.
 *
 * Datagram key: (family, src, dst, id, protocol) for IPv4 (RFC 791);
 * (family, src, dst, id) for IPv6, whose fragments may carry different Next
 * Header values (RFC 8200 section 4.5: only the offset-0 one counts).
 *
 * Overlap policy: FIRST-SEEN BYTES WIN, as in the TCP layer.  A fragment's
 * bytes that fall on bytes already held are compared, never stored:
 *  - equal bytes:  defrag.overlap (an exact repeat of an earlier fragment is
 *                  a harmless duplicate and only counted);
 *  - different:    defrag.overlap_conflict (default action BLOCK).  Receivers
 *                  disagree here (Linux >= 4.19 and RFC 5722 discard the whole
 *                  datagram, older stacks keep first or last), which is
 *                  exactly why the conflict is worth blocking.
 * A non-last fragment whose length is not a multiple of 8 is cut down to
 * one, as Linux does for IPv4 (IPv6 drops it, RFC 8200), with
 * defrag.bad_length; data past the end set by the last fragment, or a second
 * last fragment with another end, make the datagram unusable: dropped,
 * defrag.bad_length.
 *
 * Bounds: every stored byte (and each piece's and datagram's bookkeeping) is
 * charged to the memcap first; a refusal drops the whole datagram, which
 * could never complete.  Per datagram: at most max_frags fragments and 65535
 * bytes of IP packet (IPv4 total length; IPv6 payload length).  At most
 * max_datagrams in reassembly: a new one evicts the oldest.  Each datagram
 * lives timeout_us after its first fragment, measured in packet timestamps.
 * Every drop is counted (defrag.* counters) and named (defrag.* anomalies).
 *
 * One defragmenter per worker thread; not thread-safe. */
#ifndef SL_DEFRAG_H
#define SL_DEFRAG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "anomaly.h"
#include "counters.h"
#include "memcap.h"
#include "packet.h"

struct sl_defrag_config {
	size_t memcap;			/* size of the caller's memcap (default 32 MiB) */
	uint64_t timeout_us;		/* per-datagram lifetime (default 30 s) */
	uint32_t max_frags;		/* fragments per datagram (default 128) */
	uint32_t max_datagrams;		/* datagrams in reassembly at once (default 4096) */
};

void sl_defrag_config_default(struct sl_defrag_config *c);

struct sl_defrag;

/* mc may be shared with nothing else or with other defragmenters; ctr may be
 * NULL.  Returns NULL on allocation failure. */
struct sl_defrag *sl_defrag_new(const struct sl_defrag_config *cfg, struct sl_memcap *mc,
				struct sl_counters *ctr);
void sl_defrag_free(struct sl_defrag *df);

/* Where defrag.* anomalies go (the decoder sets this to its own callback).
 * pkt is the fragment's packet, or NULL for timeouts and evictions. */
void sl_defrag_set_anomaly_fn(struct sl_defrag *df, sl_anomaly_fn fn, void *u);

/* One fragment, as the decoder saw it. */
struct sl_frag {
	struct sl_addr src, dst;
	uint32_t id;			/* IPv4: 16-bit identification; IPv6: 32-bit */
	uint8_t family;			/* 4 or 6 */
	uint8_t proto;			/* IPv4 protocol; IPv6: Fragment header's Next Hdr */
	bool more;			/* MF / M flag */
	uint32_t offset;		/* byte offset of data in the datagram payload */
	const uint8_t *data;		/* fragment payload ... */
	uint32_t len;			/* ... and its length */
	/* The header to rebuild the datagram with; only the offset-0 fragment's
	 * is kept.  IPv4: the IP header with options.  IPv6: the unfragmentable
	 * part (IPv6 header and extension headers before the Fragment header);
	 * nh_off is the offset in it of the Next Header byte that names the
	 * Fragment header (6 when it follows the IPv6 header). */
	const uint8_t *hdr;
	uint32_t hdr_len;
	uint32_t nh_off;
};

enum sl_defrag_result {
	SL_DEFRAG_HELD = 0,		/* stored; the datagram is not complete yet */
	SL_DEFRAG_DONE,			/* *out holds the whole datagram */
	SL_DEFRAG_DROPPED,		/* fragment (or its whole datagram) discarded:
					   counted and named */
};

/* Adds one fragment.  now_us is the packet's timestamp: datagrams older than
 * the timeout are expired first.  On SL_DEFRAG_DONE, *out / *out_len is the
 * reassembled IP packet (see above). */
enum sl_defrag_result sl_defrag_add(struct sl_defrag *df, const struct sl_frag *f,
				    const struct sl_packet *pkt, uint64_t now_us,
				    const uint8_t **out, uint32_t *out_len);

/* Drops datagrams whose first fragment is older than timeout_us at now_us
 * (counted, defrag.timeout); returns how many.  sl_defrag_add() calls it
 * too; call it from a timer so idle periods also release memory. */
unsigned sl_defrag_expire(struct sl_defrag *df, uint64_t now_us);

/* The SL_PKT_FRAG_* flags (packet.h) of the datagram the last
 * SL_DEFRAG_DONE returned: the overlaps, conflicts, tiny first fragment and
 * cut lengths met by ANY of its fragments, including those that arrived
 * before the completing one.  The decoder copies them onto the reassembled
 * packet so the worker can raise them on the datagram's flow (reassembly
 * runs before the flow lookup).  Valid until the next sl_defrag_add(). */
uint32_t sl_defrag_done_flags(const struct sl_defrag *df);

/* Drops every datagram in reassembly (end of a capture file: fragments of
 * one file must not complete datagrams of the next; shutdown); counted as
 * defrag.flushed, no anomaly.  Returns how many. */
unsigned sl_defrag_flush(struct sl_defrag *df);

/* Datagrams currently held, and bytes charged for them. */
unsigned sl_defrag_pending(const struct sl_defrag *df);
size_t sl_defrag_bytes(const struct sl_defrag *df);

#endif
