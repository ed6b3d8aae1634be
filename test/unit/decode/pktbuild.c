#include "pktbuild.h"

#include <stdio.h>
#include <string.h>

static void put16(uint8_t *p, uint16_t v) { p[0] = v >> 8; p[1] = (uint8_t)v; }
static void put32(uint8_t *p, uint32_t v) { put16(p, v >> 16); put16(p + 2, (uint16_t)v); }

uint32_t ref_sum(const uint8_t *p, size_t n, uint32_t s0)
{
	uint64_t s = s0;

	for (size_t i = 0; i + 1 < n; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (n & 1)
		s += (uint32_t)p[n - 1] << 8;
	while (s >> 32)
		s = (s & 0xffffffff) + (s >> 32);
	return (uint32_t)s;
}

uint16_t ref_fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

static size_t tcp_hdr(uint8_t *th, const struct pb_tcp *t)
{
	size_t hl = 20 + t->topt_len;

	put16(th, t->sport);
	put16(th + 2, t->dport);
	put32(th + 4, t->seq);
	put32(th + 8, t->ack);
	th[12] = (uint8_t)((hl / 4) << 4);
	th[13] = t->flags;
	put16(th + 14, t->win ? t->win : 65535);
	put16(th + 16, 0);
	put16(th + 18, 0);
	if (t->topt_len)
		memcpy(th + 20, t->topt, t->topt_len);
	if (t->plen)
		memcpy(th + hl, t->payload, t->plen);
	return hl + t->plen;
}

void pb_ipv4_fix_csum(uint8_t *ip)
{
	size_t hl = (size_t)(ip[0] & 15) * 4;

	put16(ip + 10, 0);
	put16(ip + 10, (uint16_t)~ref_fold(ref_sum(ip, hl, 0)));
}

size_t pb_ipv4_tcp(uint8_t *ip, const struct pb_tcp *t)
{
	size_t hl = 20 + t->ipopt_len;
	uint8_t *th = ip + hl;
	size_t tl = tcp_hdr(th, t);
	uint8_t ph[12];

	ip[0] = (uint8_t)(0x40 | hl / 4);
	ip[1] = 0;
	put16(ip + 2, (uint16_t)(hl + tl));
	put16(ip + 4, t->ip_id);
	put16(ip + 6, 0x4000);
	ip[8] = t->ttl ? t->ttl : 64;
	ip[9] = 6;
	memcpy(ip + 12, t->src, 4);
	memcpy(ip + 16, t->dst, 4);
	if (t->ipopt_len)
		memcpy(ip + 20, t->ipopt, t->ipopt_len);
	pb_ipv4_fix_csum(ip);

	memcpy(ph, t->src, 4);
	memcpy(ph + 4, t->dst, 4);
	ph[8] = 0;
	ph[9] = 6;
	put16(ph + 10, (uint16_t)tl);
	put16(th + 16, (uint16_t)~ref_fold(ref_sum(th, tl, ref_sum(ph, 12, 0))));
	return hl + tl;
}

size_t pb_ipv6_tcp(uint8_t *ip, const struct pb_tcp *t)
{
	uint8_t *th = ip + 40 + t->ext_len;
	size_t tl = tcp_hdr(th, t);
	uint8_t ph[40];

	put32(ip, 0x60000000);
	put16(ip + 4, (uint16_t)(t->ext_len + tl));
	ip[6] = t->ext_len ? t->ext_first : 6;
	ip[7] = t->ttl ? t->ttl : 64;
	memcpy(ip + 8, t->src, 16);
	memcpy(ip + 24, t->dst, 16);
	if (t->ext_len)
		memcpy(ip + 40, t->ext, t->ext_len);
	memcpy(ph, t->src, 16);
	memcpy(ph + 16, t->dst, 16);
	put32(ph + 32, (uint32_t)tl);
	put32(ph + 36, 6);
	put16(th + 16, (uint16_t)~ref_fold(ref_sum(th, tl, ref_sum(ph, 40, 0))));
	return 40 + t->ext_len + tl;
}

size_t pb_eth(uint8_t *out, uint16_t ethertype, const uint16_t *tpids, const uint16_t *vids,
	      unsigned ntags, const uint8_t *ip, size_t ip_len)
{
	size_t off = 12;

	memcpy(out, "\x00\x11\x22\x33\x44\x55\x00\x66\x77\x88\x99\xaa", 12);
	for (unsigned i = 0; i < ntags; i++) {
		put16(out + off, tpids[i]);
		put16(out + off + 2, vids[i]);
		off += 4;
	}
	put16(out + off, ethertype);
	off += 2;
	memcpy(out + off, ip, ip_len);
	return off + ip_len;
}

void pb_put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

int pb_write_pcap(const char *path, int linktype, const struct pb_rec *r, unsigned n)
{
	FILE *f = fopen(path, "wb");
	uint8_t gh[24] = { 0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0 };

	if (!f)
		return -1;
	pb_put_le32(gh + 16, 262144);
	pb_put_le32(gh + 20, (uint32_t)linktype);
	fwrite(gh, 1, sizeof(gh), f);
	for (unsigned i = 0; i < n; i++) {
		uint8_t rh[16];

		pb_put_le32(rh, r[i].sec);
		pb_put_le32(rh + 4, r[i].usec);
		pb_put_le32(rh + 8, r[i].caplen);
		pb_put_le32(rh + 12, r[i].len);
		fwrite(rh, 1, sizeof(rh), f);
		fwrite(r[i].data, 1, r[i].caplen, f);
	}
	return fclose(f);
}
