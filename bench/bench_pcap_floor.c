/* The floor for reading a capture: a bare pcap_next_ex() loop that touches
 * each record's first and last byte.  Compare bench_decode against it.
 *
 * usage: bench_pcap_floor FILE.pcap [REPEAT=1] [BUFFER]
 *
 * With a third argument the file is read through a 1 MiB stdio buffer, as
 * engine/pcap_source.c does (pcap_open_offline() leaves stdio's 4 KiB). */
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "bench_util.h"

int main(int argc, char **argv)
{
	char err[PCAP_ERRBUF_SIZE];
	int repeat = argc > 2 ? atoi(argv[2]) : 1;
	uint64_t pkts = 0, bytes = 0;
	unsigned sink = 0;
	static char vbuf[1u << 20];

	if (argc < 2) {
		fprintf(stderr, "usage: %s FILE.pcap [REPEAT] [BUFFER]\n", argv[0]);
		return 2;
	}
	double t0 = bench_now(), c0 = bench_cpu_seconds();
	for (int r = 0; r < repeat; r++) {
		pcap_t *pc;

		if (argc > 3) {
			FILE *f = fopen(argv[1], "rb");
			if (f)
				setvbuf(f, vbuf, _IOFBF, 1u << 20);
			pc = f ? pcap_fopen_offline(f, err) : NULL;
			if (!f)
				snprintf(err, sizeof(err), "%s: cannot open", argv[1]);
		} else {
			pc = pcap_open_offline(argv[1], err);
		}
		struct pcap_pkthdr *h;
		const u_char *d;

		if (!pc) {
			fprintf(stderr, "%s\n", err);
			return 1;
		}
		while (pcap_next_ex(pc, &h, &d) == 1) {
			pkts++;
			bytes += h->caplen;
			if (h->caplen)
				sink += d[0] + d[h->caplen - 1];
		}
		pcap_close(pc);
	}
	double dt = bench_now() - t0;
	double cpu = bench_cpu_seconds() - c0;
	printf("pcap floor%s: %llu packets, %.1f MB in %.3f s (cpu %.3f s): %.0f MB/s, "
	       "%.2f Mpps; per cpu second %.0f MB/s (sink %u)\n",
	       argc > 3 ? " (1 MiB buffer)" : "", (unsigned long long)pkts, (double)bytes / 1e6,
	       dt, cpu, (double)bytes / 1e6 / dt,
	       (double)pkts / 1e6 / dt, (double)bytes / 1e6 / cpu, sink & 1);
	return 0;
}
