/* TCP reassembly throughput, alone (no decode, no flow lookup).
 *
 *   bench_tcp [flows=1000] [megabytes=4096] [reorder_permille=10] [history=65536]
 *
 * Synthesizes `flows` concurrent client->server transfers in 1448-byte
 * segments, interleaved round-robin the way a busy link mixes them, with
 * `reorder_permille` of the segments swapped with their successor (the
 * successor arrives first and waits in the out-of-order store).  The server
 * ACKs every second segment, 16 segments behind the sender (so ~23 KB per
 * flow are in flight and kept as history).  The consumer takes every byte.
 * Packets are built in batches outside the timed region; only
 * sl_tcp_segment() is timed (thread CPU time).  Prints MB/s of payload, segments/s, peak
 * memcap use and peak RSS. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "tcp.h"

#define MSS		1448u
#define INFLIGHT	16u		/* segments the receiver's ACK lags behind */
#define PAYLOAD_POOL	(16u << 20)	/* payload bytes come from here (not all cached) */
#define BATCH		65536u

struct flow {
	struct sl_tcp_session s;
	uint32_t sent;			/* segments generated */
	uint32_t base;			/* offset of this flow's bytes in the pool */
	bool held;			/* segment `sent` is held back (reordered) */
};

struct item {
	struct sl_packet p;
	uint32_t flow;
	enum sl_dir dir;
};

static uint64_t consumed;

static struct sl_consume eat(void *u, const struct sl_slice *sl)
{
	consumed += sl->len;
	return (struct sl_consume){ SL_CONSUME_OK, sl->len };
}

static double now(void)
{
	struct timespec ts;

	/* thread CPU time: the box is shared, wall time would count others */
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint32_t rnd(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

#define CISN 1000u
#define SISN 5000u

static void pkt(struct sl_packet *p, uint32_t seq, uint32_t ack, uint8_t fl, const uint8_t *d,
		uint32_t len)
{
	memset(p, 0, sizeof(*p));
	p->seq = seq;
	p->ack = ack;
	p->tcp_flags = fl;
	p->payload = d;
	p->payload_len = len;
	p->win = 65535;
}

int main(int argc, char **argv)
{
	uint32_t nflows = argc > 1 ? (uint32_t)atoi(argv[1]) : 1000;
	uint64_t total = (argc > 2 ? (uint64_t)atoll(argv[2]) : 4096) << 20;
	uint32_t reorder = argc > 3 ? (uint32_t)atoi(argv[3]) : 10;
	struct sl_tcp_config cfg;
	struct sl_memcap mc;
	struct sl_counters ctr;
	struct sl_tcp_ctx *ctx;
	struct flow *fl = calloc(nflows, sizeof(*fl));
	struct item *batch = malloc(BATCH * sizeof(*batch));
	uint8_t *pool = malloc(PAYLOAD_POOL);
	uint32_t seed = 42, per_flow = (uint32_t)(total / MSS / nflows) + 1;
	struct sl_tcp_io io = { eat, NULL, NULL, NULL };
	uint64_t segs = 0, bytes = 0;
	double t_proc = 0;
	struct rusage ru;

	if (!fl || !batch || !pool || !nflows)
		return 1;
	sl_tcp_config_default(&cfg);
	if (argc > 4)
		cfg.history = (uint32_t)atoi(argv[4]);
	memset(&ctr, 0, sizeof(ctr));
	sl_memcap_init(&mc, "stream", 0);
	ctx = sl_tcp_ctx_new(&cfg, &mc, &ctr);
	for (uint32_t i = 0; i < PAYLOAD_POOL; i++)
		pool[i] = (uint8_t)rnd(&seed);
	for (uint32_t f = 0; f < nflows; f++) {
		struct sl_packet p;

		sl_tcp_session_init(&fl[f].s);
		fl[f].base = (uint32_t)(((uint64_t)f * 7919 * MSS) % (PAYLOAD_POOL - (2u << 20)));
		pkt(&p, CISN, 0, SL_TH_SYN, NULL, 0);
		sl_tcp_segment(ctx, &fl[f].s, &p, SL_TO_SERVER, &io);
		pkt(&p, SISN, CISN + 1, SL_TH_SYN | SL_TH_ACK, NULL, 0);
		sl_tcp_segment(ctx, &fl[f].s, &p, SL_TO_CLIENT, &io);
		pkt(&p, CISN + 1, SISN + 1, SL_TH_ACK, NULL, 0);
		sl_tcp_segment(ctx, &fl[f].s, &p, SL_TO_SERVER, &io);
	}
	for (uint32_t round = 0; round < per_flow; round++) {
		uint32_t n = 0;

		for (uint32_t f = 0; f < nflows; f++) {
			struct flow *w = &fl[f];
			uint32_t k = w->sent;
			uint64_t off = (uint64_t)k * MSS;
			const uint8_t *d = pool + w->base + (off % (1u << 20));

			if (n + 3 > BATCH) {
				/* flush the batch through reassembly */
				double t0 = now();

				for (uint32_t i = 0; i < n; i++)
					sl_tcp_segment(ctx, &fl[batch[i].flow].s, &batch[i].p,
						       batch[i].dir, &io);
				t_proc += now() - t0;
				segs += n;
				n = 0;
			}
			if (!w->held && rnd(&seed) % 1000 < reorder && round + 1 < per_flow) {
				/* send k+1 now, k next round */
				const uint8_t *d1 = pool + w->base + ((off + MSS) % (1u << 20));

				pkt(&batch[n].p, CISN + 1 + (uint32_t)off + MSS, SISN + 1,
				    SL_TH_ACK, d1, MSS);
				batch[n].flow = f;
				batch[n++].dir = SL_TO_SERVER;
				w->held = true;
				continue;
			}
			pkt(&batch[n].p, CISN + 1 + (uint32_t)off, SISN + 1, SL_TH_ACK, d, MSS);
			batch[n].flow = f;
			batch[n++].dir = SL_TO_SERVER;
			w->sent += w->held ? 2 : 1;
			w->held = false;
			bytes += (uint64_t)(w->sent - k) * MSS;
			if (w->sent / 2 != k / 2 && w->sent > INFLIGHT) {
				uint32_t acked = (w->sent - INFLIGHT) * MSS;

				pkt(&batch[n].p, SISN + 1, CISN + 1 + acked, SL_TH_ACK, NULL, 0);
				batch[n].flow = f;
				batch[n++].dir = SL_TO_CLIENT;
			}
		}
		double t0 = now();

		for (uint32_t i = 0; i < n; i++)
			sl_tcp_segment(ctx, &fl[batch[i].flow].s, &batch[i].p, batch[i].dir, &io);
		t_proc += now() - t0;
		segs += n;
	}
	size_t peak = sl_memcap_used(&mc), peak_all = atomic_load(&mc.peak);

	for (uint32_t f = 0; f < nflows; f++)
		sl_tcp_flush(ctx, &fl[f].s, &io);
	getrusage(RUSAGE_SELF, &ru);
	printf("flows %u, segment %u, reorder %u/1000, history %u\n", nflows, MSS, reorder,
	       cfg.history);
	printf("payload %.0f MB delivered %.0f MB in %.3f s: %.0f MB/s, %.2f Mseg/s\n",
	       bytes / 1e6, consumed / 1e6, t_proc, bytes / 1e6 / t_proc, segs / 1e6 / t_proc);
	printf("stream memory: %.1f MB at the end, %.1f MB peak (%.1f KB per flow); "
	       "session %zu bytes\n", peak / 1e6, peak_all / 1e6, peak_all / 1e3 / nflows,
	       sizeof(struct sl_tcp_session));
	printf("peak RSS %.1f MB (includes the %u MB payload pool and packet batch)\n",
	       ru.ru_maxrss / 1e3, PAYLOAD_POOL >> 20);
	printf("gaps %llu, conflicts %llu, memcap after flush %zu\n",
	       (unsigned long long)ctr.v[SL_CTR_TCP_GAPS],
	       (unsigned long long)ctr.v[SL_CTR_TCP_OVERLAP_CONFLICT], sl_memcap_used(&mc));
	sl_tcp_ctx_free(ctx);
	free(fl);
	free(batch);
	free(pool);
	return consumed == bytes && ctr.v[SL_CTR_TCP_GAPS] == 0 ? 0 : 1;
}
