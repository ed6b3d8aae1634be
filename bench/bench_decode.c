/* Decode throughput: engine/decode.c (+ defrag) over a capture.
 *
 *   bench_decode [-m auto|on|off] [-r REPEAT] [-p] FILE.pcap
 *
 * Default: read with the pcap source and decode each record, as replay does
 * (compare with bench_pcap_floor on the same file).  -p preloads every
 * record into memory first and times decoding alone.  MB/s counts captured
 * bytes.  Make a big input with bench/gen_bulk_pcap.py. */
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_util.h"
#include "decode.h"
#include "defrag.h"
#include "pcap_source.h"

struct rec {
	uint8_t *data;
	uint32_t caplen, len;
	uint64_t ts;
	int linktype;
};

static struct rec *preload(const char *path, size_t *n)
{
	char err[512];
	struct sl_pcap_source *s = sl_pcap_open(path, err, sizeof(err));
	struct sl_packet p;
	size_t cap = 1024;
	struct rec *r = malloc(cap * sizeof(*r));

	if (!s) {
		fprintf(stderr, "%s\n", err);
		exit(1);
	}
	*n = 0;
	while (sl_pcap_next(s, &p) == SL_PCAP_PACKET) {
		if (*n == cap)
			r = realloc(r, (cap *= 2) * sizeof(*r));
		r[*n] = (struct rec){ malloc(p.cap_len ? p.cap_len : 1), p.cap_len, p.wire_len,
				      p.ts_us, p.linktype };
		memcpy(r[*n].data, p.frame, p.cap_len);
		(*n)++;
	}
	sl_pcap_close(s);
	return r;
}

int main(int argc, char **argv)
{
	struct sl_decode_config dc;
	struct sl_defrag_config fc;
	struct sl_counters ctr;
	struct sl_memcap mc;
	int opt, repeat = 1, pre = 0;

	sl_decode_config_default(&dc);
	while ((opt = getopt(argc, argv, "m:r:p")) != -1) {
		switch (opt) {
		case 'm':
			if (sl_csum_mode_parse(optarg, &dc.csum) != 0) {
				fprintf(stderr, "-m: auto, on or off\n");
				return 2;
			}
			break;
		case 'r':
			repeat = atoi(optarg);
			break;
		case 'p':
			pre = 1;
			break;
		default:
			fprintf(stderr, "usage: %s [-m auto|on|off] [-r N] [-p] FILE.pcap\n",
				argv[0]);
			return 2;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "usage: %s [-m auto|on|off] [-r N] [-p] FILE.pcap\n", argv[0]);
		return 2;
	}
	const char *path = argv[optind];
	memset(&ctr, 0, sizeof(ctr));
	sl_defrag_config_default(&fc);
	sl_memcap_init(&mc, "defrag", fc.memcap);
	struct sl_defrag *df = sl_defrag_new(&fc, &mc, &ctr);
	struct sl_decoder *d = sl_decoder_new(&dc, df, &ctr, NULL, NULL);
	uint64_t pkts = 0, bytes = 0, ok = 0;
	size_t nrec = 0;
	struct rec *recs = pre ? preload(path, &nrec) : NULL;
	double t0 = bench_now(), c0 = bench_cpu_seconds();

	for (int r = 0; r < repeat; r++) {
		struct sl_packet p;

		if (pre) {
			for (size_t i = 0; i < nrec; i++) {
				memset(&p, 0, sizeof(p));
				p.frame = recs[i].data;
				p.cap_len = recs[i].caplen;
				p.wire_len = recs[i].len;
				p.ts_us = recs[i].ts;
				p.linktype = recs[i].linktype;
				p.index = i + 1;
				ok += sl_decode(d, &p) == SL_DECODE_OK;
				pkts++;
				bytes += p.cap_len;
			}
			continue;
		}
		char err[512];
		struct sl_pcap_source *s = sl_pcap_open(path, err, sizeof(err));
		if (!s) {
			fprintf(stderr, "%s\n", err);
			return 1;
		}
		enum sl_pcap_status st;
		while ((st = sl_pcap_next(s, &p)) == SL_PCAP_PACKET) {
			ok += sl_decode(d, &p) == SL_DECODE_OK;
			pkts++;
			bytes += p.cap_len;
		}
		if (st == SL_PCAP_ERROR)
			fprintf(stderr, "%s\n", sl_pcap_error(s));
		sl_pcap_close(s);
	}
	double dt = bench_now() - t0;

	double cpu = bench_cpu_seconds() - c0;
	printf("decode%s (checksums %s): %llu packets (%llu ok), %.1f MB in %.3f s "
	       "(cpu %.3f s): %.0f MB/s, %.2f Mpps; per cpu second %.0f MB/s, "
	       "%.0f ns/packet\n",
	       pre ? " only" : " + pcap read", sl_csum_mode_name(dc.csum),
	       (unsigned long long)pkts, (unsigned long long)ok, (double)bytes / 1e6, dt, cpu,
	       (double)bytes / 1e6 / dt, (double)pkts / 1e6 / dt, (double)bytes / 1e6 / cpu,
	       cpu * 1e9 / (double)pkts);
	for (unsigned i = 0; i < SL_CTR_MAX; i++) {
		const char *name = sl_counter_name((enum sl_counter)i);
		if (ctr.v[i] && (strncmp(name, "decode.", 7) == 0 ||
				 strncmp(name, "defrag.", 7) == 0))
			printf("  %-28s %llu\n", name, (unsigned long long)ctr.v[i]);
	}
	struct sl_offload_summary sum;
	sl_decoder_offload_summary(d, &sum);
	if (sum.hosts) {
		char buf[64];
		printf("  TCP checksums not validated for %llu hosts (offload):",
		       (unsigned long long)sum.hosts);
		for (unsigned i = 0; i < sum.n_addrs; i++)
			printf(" %s", sl_addr_str(&sum.addrs[i], buf, sizeof(buf)));
		printf("\n");
	}
	sl_decoder_free(d);
	sl_defrag_free(df);
	for (size_t i = 0; i < nrec; i++)
		free(recs[i].data);
	free(recs);
	return 0;
}
