/* Fuzz target for the packet path: engine/decode.c with a defragmenter
 * (reassembly/defrag.c) behind it.
 *
 * Input:  byte 0      link type (index into links[]) and checksum mode
 *         then records: 2-byte big-endian length, that many frame bytes
 *                       (a short last record takes what is left)
 * All records go through one decoder, so fragments of one datagram spread
 * over records meet in the defragmenter; every record advances the clock
 * by a second, so timeouts fire too.  Each frame is copied into a buffer of
 * exactly its length, so a read past cap_len is caught by ASan. */
#include <pcap/dlt.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "decode.h"
#include "defrag.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const int links[] = {
	DLT_EN10MB, DLT_LINUX_SLL, DLT_LINUX_SLL2, DLT_RAW, DLT_IPV4, DLT_IPV6,
	DLT_NULL, DLT_LOOP,
};

static void touch(void *u, enum sl_anomaly a, const struct sl_packet *p, const char *detail)
{
	(void)u;
	(void)p;
	/* Make sure names resolve and details are strings. */
	if (detail && !strlen(sl_anomaly_name(a)) && !strlen(detail))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sl_counters ctr = { { 0 } };
	struct sl_memcap mc;
	struct sl_defrag_config dfc;
	struct sl_decode_config dc;

	if (size < 1)
		return 0;
	sl_defrag_config_default(&dfc);
	dfc.max_frags = 16;
	dfc.max_datagrams = 8;
	sl_memcap_init(&mc, "defrag", 64 * 1024);
	sl_decode_config_default(&dc);
	dc.csum = (enum sl_csum_mode)((data[0] >> 4) % 3);
	dc.csum_sources = 4;

	struct sl_defrag *df = sl_defrag_new(&dfc, &mc, &ctr);
	struct sl_decoder *d = sl_decoder_new(&dc, df, &ctr, touch, NULL);
	if (!df || !d)
		abort();
	int link = links[(data[0] & 0x0f) % (sizeof(links) / sizeof(links[0]))];
	size_t off = 1;
	uint64_t now = 1000000;

	while (off < size) {
		size_t len = size - off;
		if (len >= 2) {
			size_t want = (size_t)data[off] << 8 | data[off + 1];
			off += 2;
			len = SL_MIN(want, size - off);
		} else {
			off += len;
			len = 0;
		}
		uint8_t *frame = malloc(len ? len : 1);
		memcpy(frame, data + off, len);
		off += len;

		struct sl_packet p = { .frame = frame, .cap_len = (uint32_t)len,
				       .wire_len = (uint32_t)len, .linktype = link,
				       .ts_us = now, .index = now / 1000000 };
		/* Every fourth record claims a longer wire length (snap length). */
		if ((now / 1000000) % 4 == 3)
			p.wire_len += 100;
		enum sl_decode_result r = sl_decode(d, &p);
		if (r == SL_DECODE_OK && p.l3) {
			/* Everything decode points at must be readable. */
			volatile uint8_t sink = 0;
			for (uint32_t i = 0; i < p.l3_len; i++)
				sink ^= p.l3[i];
			for (uint32_t i = 0; i < p.payload_len; i++)
				sink ^= p.payload[i];
			(void)sink;
			if (p.vlan_count > 2)
				abort();
		}
		free(frame);
		now += 1000000;
	}
	sl_decoder_free(d);
	sl_defrag_free(df);
	if (sl_memcap_used(&mc) != 0)
		abort();
	return 0;
}
