/* Fuzz target for reassembly/tcp.c: the input is a small configuration
 * header followed by 7-byte segment descriptors fed to one session.
 *
 *   header (3 bytes):
 *     c0  bit0 inline  bit1 midstream off  bit2 no history
 *         bit3 max_unconsumed 64  bit4 ooo_depth 512  bit5 memcap 8 KiB
 *         bits6-7 consumer: all, lines, random amounts, STOP
 *     c1  client ISN = 0xffffff00 + c1 (so the stream crosses 2^32)
 *     c2  server ISN = c2 << 24
 *   segment (7 bytes):
 *     d0  bit0 dir  bit1 SYN  bit2 FIN  bit3 RST  bit4 no ACK  bit5 bad checksum
 *         bit6 window scale option  bit7 corrupt payload
 *     d1-2 seq: signed delta from the highest sequence number the sender used
 *     d3  payload length
 *     d4-5 ack: signed delta from the highest sequence number the peer used
 *     d6  window (high byte)
 *
 * Payload bytes are a function of their sequence number, so unless a
 * segment was sent corrupt, every delivered byte can be checked.  Invariants:
 * the slice contract (tcp_harness.h: offsets only move forward, by the gap
 * when there is one; bytes left unconsumed come back unchanged; nothing after
 * EOF), delivered bytes are the sender's bytes, the limits hold, and after
 * the flush every byte of memory is back (memcap used == 0). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "../unit/reassembly/tcp_harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t pattern(uint32_t seq)
{
	return (uint8_t)((seq * 2654435761u) >> 24);
}

struct fz {
	struct th *t;
	bool corrupt[2];
	unsigned bad;
};

static struct sl_consume fz_consume(void *u, const struct sl_slice *sl)
{
	struct fz *f = u;
	const struct sl_tcp_half *h = &f->t->s.half[sl->dir];

	if (!f->corrupt[sl->dir])
		for (size_t i = 0; i < sl->len; i++)
			if (sl->data[i] != pattern(h->isn + 1 + (uint32_t)(sl->offset + i)))
				f->bad++;
	return th_consume(&f->t->rec, sl);
}

static void fz_fail(const char *what)
{
	fprintf(stderr, "fuzz_tcp: %s\n", what);
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum th_mode modes[4] = { TH_ALL, TH_LINES, TH_RANDOM, TH_STOP };
	struct sl_tcp_config cfg;
	uint8_t payload[256];
	uint32_t hi[2];
	struct fz f = { 0 };
	struct th *t;

	if (size < 3)
		return 0;
	sl_tcp_config_default(&cfg);
	cfg.inline_mode = data[0] & 1;
	cfg.midstream = !(data[0] & 2);
	if (data[0] & 4)
		cfg.history = 0;
	if (data[0] & 8)
		cfg.max_unconsumed = 64;
	if (data[0] & 16)
		cfg.ooo_depth = 512;
	cfg.ooo_max_runs = 32;
	/* room for every payload byte the input can carry */
	t = th_new(&cfg, (data[0] & 32) ? 8192 : 0, (size / 7 + 1) * 256);
	t->rec.mode = modes[data[0] >> 6];
	t->io.consume = fz_consume;
	t->io.consume_u = &f;
	f.t = t;
	hi[0] = 0xffffff00u + data[1];
	hi[1] = (uint32_t)data[2] << 24;

	for (size_t i = 3; i + 7 <= size; i += 7) {
		const uint8_t *d = data + i;
		int dir = d[0] & 1;
		uint32_t seq = hi[dir] + (uint32_t)(int16_t)(d[1] << 8 | d[2]);
		uint32_t ack = hi[!dir] + (uint32_t)(int16_t)(d[4] << 8 | d[5]);
		uint8_t fl = 0;
		struct sl_packet *p;

		fl |= (d[0] & 2) ? SL_TH_SYN : 0;
		fl |= (d[0] & 4) ? SL_TH_FIN : 0;
		fl |= (d[0] & 8) ? SL_TH_RST : 0;
		fl |= (d[0] & 16) ? 0 : SL_TH_ACK;
		/* the SYN takes the sequence number before the data */
		for (unsigned k = 0; k < d[3]; k++)
			payload[k] = pattern(seq + k + ((fl & SL_TH_SYN) ? 1 : 0));
		if (d[0] & 128) {
			f.corrupt[dir] = true;
			for (unsigned k = 0; k < d[3]; k++)
				payload[k] ^= (uint8_t)(k + 1);
		}
		/* each packet gets its own copy: slices may name it later */
		uint8_t *pl = malloc(d[3] + 1u);

		memcpy(pl, payload, d[3]);
		p = th_pkt(t, seq, ack, fl, pl, d[3], (uint16_t)(d[6] << 8 | 0xff));
		if (d[0] & 32)
			p->flags |= SL_PKT_L4_CSUM_BAD;
		if (d[0] & 64) {
			p->opts.has_wscale = 1;
			p->opts.wscale = d[6] & 15;
		}
		th_send(t, (enum sl_dir)dir, p);
		if (sl_seq_gt(seq + d[3], hi[dir]))
			hi[dir] = seq + d[3];
		for (int k = 0; k < 2; k++)
			if (t->s.half[k].ooo_bytes > cfg.ooo_depth ||
			    t->s.half[k].ooo_runs > cfg.ooo_max_runs + 1)
				fz_fail("out-of-order limits exceeded");
		if ((data[0] & 32) && sl_memcap_used(&t->mc) > 8192)
			fz_fail("memcap exceeded");
	}
	sl_tcp_flush(t->ctx, &t->s, &t->io);
	if (sl_memcap_used(&t->mc) != 0 || sl_tcp_session_mem(&t->s) != 0)
		fz_fail("memory not returned after flush");
	if (t->rec.errors)
		fz_fail("slice contract violated");
	if (f.bad)
		fz_fail("delivered bytes differ from the sender's");
	for (size_t i = 0; i < t->npkts; i++)
		free((void *)t->pkts[i]->payload);
	th_free(t);
	return 0;
}
