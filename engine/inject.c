#include "inject.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "bytes.h"
#include "checksum.h"

#define TCP_HLEN 20
#define IP4_HLEN 20
#define IP6_HLEN 40

/* The TCP checksum over hdr[0..tcp_len) with the pseudo-header of the IP
 * header at ip (version from its first nibble). */
static void tcp_checksum(const uint8_t *ip, uint8_t *tcp, uint32_t tcp_len)
{
	uint32_t sum;

	sl_put_be16(tcp + 16, 0);
	if (ip[0] >> 4 == 4)
		sum = sl_csum_pseudo_v4(ip + 12, ip + 16, 6, tcp_len);
	else
		sum = sl_csum_pseudo_v6(ip + 8, ip + 24, 6, tcp_len);
	sum += sl_csum_partial(tcp, tcp_len, 0);
	sl_put_be16(tcp + 16, (uint16_t)~sl_csum_fold(sum));
}

static void put_tcp(uint8_t *t, uint16_t sport, uint16_t dport, uint32_t seq, uint32_t ack,
		    uint8_t flags, uint16_t win)
{
	sl_put_be16(t, sport);
	sl_put_be16(t + 2, dport);
	sl_put_be32(t + 4, seq);
	sl_put_be32(t + 8, ack);
	t[12] = (TCP_HLEN / 4) << 4;
	t[13] = flags;
	sl_put_be16(t + 14, win);
	sl_put_be16(t + 16, 0);
	sl_put_be16(t + 18, 0);
}

size_t sl_craft_tcp(uint8_t *buf, size_t cap, const struct sl_craft *c)
{
	bool v4 = sl_addr_is_v4(&c->src);
	size_t ihl = v4 ? IP4_HLEN : IP6_HLEN;
	size_t tcp_len = TCP_HLEN + (size_t)c->payload_len;
	size_t total = ihl + tcp_len;

	if (v4 != sl_addr_is_v4(&c->dst) || total > cap || total > 65535)
		return 0;
	memset(buf, 0, ihl);
	if (v4) {
		buf[0] = 0x45;
		sl_put_be16(buf + 2, (uint16_t)total);
		sl_put_be16(buf + 6, 0x4000);		/* DF, id 0 (RFC 6864) */
		buf[8] = c->ttl ? c->ttl : 64;
		buf[9] = 6;
		memcpy(buf + 12, c->src.b + 12, 4);
		memcpy(buf + 16, c->dst.b + 12, 4);
		sl_put_be16(buf + 10, sl_csum(buf, IP4_HLEN));
	} else {
		buf[0] = 0x60;
		sl_put_be16(buf + 4, (uint16_t)tcp_len);
		buf[6] = 6;
		buf[7] = c->ttl ? c->ttl : 64;
		memcpy(buf + 8, c->src.b, 16);
		memcpy(buf + 24, c->dst.b, 16);
	}
	uint8_t *t = buf + ihl;
	put_tcp(t, c->sport, c->dport, c->seq, c->ack, c->flags, c->window);
	if (c->payload_len)
		memcpy(t + TCP_HLEN, c->payload, c->payload_len);
	tcp_checksum(buf, t, (uint32_t)tcp_len);
	return total;
}

size_t sl_craft_rst_rewrite(uint8_t *buf, size_t cap, const uint8_t *pkt, uint32_t len,
			    uint16_t l4_off, uint32_t seq, uint32_t ack)
{
	size_t total = (size_t)l4_off + TCP_HLEN;

	if (len < 1 || l4_off + (size_t)TCP_HLEN > len || total > cap)
		return 0;
	unsigned ver = pkt[0] >> 4;
	if (ver == 4) {
		if (l4_off < IP4_HLEN || (size_t)(pkt[0] & 15) * 4 != l4_off || pkt[9] != 6)
			return 0;
	} else if (ver == 6) {
		if (l4_off < IP6_HLEN)
			return 0;
	} else {
		return 0;
	}
	memcpy(buf, pkt, l4_off);
	if (ver == 4) {
		sl_put_be16(buf + 2, (uint16_t)total);
		sl_put_be16(buf + 10, 0);
		sl_put_be16(buf + 10, sl_csum(buf, l4_off));
	} else {
		/* Payload length counts the extension headers kept before TCP. */
		sl_put_be16(buf + 4, (uint16_t)(total - IP6_HLEN));
	}
	uint8_t *t = buf + l4_off;
	const uint8_t *ot = pkt + l4_off;
	put_tcp(t, sl_be16(ot), sl_be16(ot + 2), seq, ack, SL_TH_RST | SL_TH_ACK, 0);
	tcp_checksum(buf, t, TCP_HLEN);
	return total;
}

size_t sl_smtp_refusal(char *buf, size_t cap, enum sl_action a, const struct sl_verdict *v)
{
	char why[160];

	if (cap < 8)
		return 0;
	sl_verdict_summary(v, why, sizeof(why));
	/* 512 bytes is the reply-line limit including CRLF. */
	size_t lim = cap < 513 ? cap : 513;
	int n = snprintf(buf, lim - 2, "%s %s", a == SL_ACTION_TEMPFAIL ?
			 "451 4.7.1 Try again later:" : "554 5.7.1 Message rejected:", why);
	if (n < 0)
		return 0;
	size_t len = (size_t)n < lim - 3 ? (size_t)n : lim - 3;
	/* sl_verdict_summary() already maps to printable ASCII; the prefix
	 * is ours.  Checked again because a reply line must never break. */
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)buf[i] < 0x20 || (unsigned char)buf[i] > 0x7e)
			buf[i] = '?';
	buf[len++] = '\r';
	buf[len++] = '\n';
	buf[len] = '\0';
	return len;
}

/* ---- sending ---- */

struct sl_injector {
	int raw4, raw6, pkt;
	uint8_t frame[14 + 65536];
};

static int open_sock(int domain, int type, int proto, uint32_t mark, bool hdrincl)
{
	int fd = socket(domain, type | SOCK_CLOEXEC, proto);
	int one = 1;

	if (fd < 0)
		return -1;
	if (mark && setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof(mark)) < 0) {
		close(fd);
		return -1;
	}
	if (hdrincl && domain == AF_INET &&
	    setsockopt(fd, IPPROTO_IP, IP_HDRINCL, &one, sizeof(one)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

struct sl_injector *sl_injector_new(uint32_t mark, char *err, size_t errlen)
{
	struct sl_injector *inj = calloc(1, sizeof(*inj));

	if (!inj) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	/* IPPROTO_RAW implies header-included sending for both families
	 * (IPv6: since Linux 4.5). */
	inj->raw4 = open_sock(AF_INET, SOCK_RAW, IPPROTO_RAW, mark, true);
	int e4 = errno;
	inj->raw6 = open_sock(AF_INET6, SOCK_RAW, IPPROTO_RAW, mark, true);
	/* Protocol 0: this socket only sends, it never receives a copy of
	 * the traffic. */
	inj->pkt = open_sock(AF_PACKET, SOCK_RAW, 0, mark, false);
	if (inj->raw4 < 0 && inj->raw6 < 0 && inj->pkt < 0) {
		snprintf(err, errlen, "cannot open injection sockets: %s (needs CAP_NET_RAW and "
			 "CAP_NET_ADMIN)", strerror(e4));
		sl_injector_free(inj);
		return NULL;
	}
	return inj;
}

int sl_injector_send(struct sl_injector *inj, const uint8_t *pkt, size_t len,
		     const struct sl_l2_path *l2)
{
	bool v4 = len > 0 && pkt[0] >> 4 == 4;
	ssize_t r;

	if (len < IP4_HLEN || len > 65535) {
		errno = EINVAL;
		return -1;
	}
	if (l2 && l2->ifindex > 0) {
		struct sockaddr_ll sll = {
			.sll_family = AF_PACKET,
			.sll_ifindex = l2->ifindex,
			.sll_halen = 6,
			.sll_protocol = htons(v4 ? ETH_P_IP : ETH_P_IPV6),
		};
		if (inj->pkt < 0) {
			errno = EAFNOSUPPORT;
			return -1;
		}
		memcpy(sll.sll_addr, l2->dst_mac, 6);
		memcpy(inj->frame, l2->dst_mac, 6);
		memcpy(inj->frame + 6, l2->src_mac, 6);
		sl_put_be16(inj->frame + 12, v4 ? ETH_P_IP : ETH_P_IPV6);
		memcpy(inj->frame + 14, pkt, len);
		r = sendto(inj->pkt, inj->frame, len + 14, 0, (struct sockaddr *)&sll, sizeof(sll));
	} else if (v4) {
		struct sockaddr_in sin = { .sin_family = AF_INET };
		if (inj->raw4 < 0) {
			errno = EAFNOSUPPORT;
			return -1;
		}
		memcpy(&sin.sin_addr, pkt + 16, 4);
		r = sendto(inj->raw4, pkt, len, 0, (struct sockaddr *)&sin, sizeof(sin));
	} else {
		struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6 };
		if (inj->raw6 < 0 || len < IP6_HLEN) {
			errno = inj->raw6 < 0 ? EAFNOSUPPORT : EINVAL;
			return -1;
		}
		memcpy(&sin6.sin6_addr, pkt + 24, 16);
		r = sendto(inj->raw6, pkt, len, 0, (struct sockaddr *)&sin6, sizeof(sin6));
	}
	return r < 0 ? -1 : 0;
}

void sl_injector_free(struct sl_injector *inj)
{
	if (!inj)
		return;
	if (inj->raw4 >= 0)
		close(inj->raw4);
	if (inj->raw6 >= 0)
		close(inj->raw6);
	if (inj->pkt >= 0)
		close(inj->pkt);
	free(inj);
}
