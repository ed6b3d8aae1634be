/*
 * nfq_ceiling: an accept-all NFQUEUE listener that moves packets the way
 * sluice inline does (engine/nfq.c), without looking at them: the ceiling
 * sluice is measured against in bench/inline.  Same queue settings as
 * sluice's defaults: copy the whole packet (up to 0xffff bytes), GSO
 * super-packets kept whole (NFQA_CFG_F_GSO), fail-open, 16 MiB receive
 * buffer; packets read with recvmmsg in bursts of up to 32 and accepted
 * with one NFQNL_MSG_VERDICT_BATCH per burst.  (tools/lab/nfq_accept.c is
 * the naive loop: one recv and one verdict per packet, default buffer, no
 * GSO flag.)
 *
 * usage: nfq_ceiling [QUEUE]    prints "ready" once bound, and the number
 *                               of packets on SIGTERM/SIGINT.
 * Build: cc -O2 -o nfq_ceiling nfq_ceiling.c -lnetfilter_queue -lmnl
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <libnetfilter_queue/libnetfilter_queue.h>

#define BURST 32
#define BUFSZ (0xffff + 4096)

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int config(struct mnl_socket *nl, struct nlmsghdr *nlh)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];

	nlh->nlmsg_flags |= NLM_F_ACK;
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		return -1;
	ssize_t n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
	return n < 0 ? -1 : mnl_cb_run(buf, (size_t)n, 0, mnl_socket_get_portid(nl), NULL, NULL);
}

int main(int argc, char **argv)
{
	uint16_t queue = (uint16_t)(argc > 1 ? atoi(argv[1]) : 0);
	struct sigaction sa = { .sa_handler = on_signal };
	static char bufs[BURST][BUFSZ];
	struct mmsghdr msgs[BURST];
	struct iovec iov[BURST];
	char cbuf[512];
	unsigned long count = 0;
	struct mnl_socket *nl = mnl_socket_open(NETLINK_NETFILTER);
	struct nlmsghdr *nlh;

	if (!nl || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		perror("netlink");
		return 1;
	}
	nlh = nfq_nlmsg_put(cbuf, NFQNL_MSG_CONFIG, queue);
	nfq_nlmsg_cfg_put_cmd(nlh, AF_UNSPEC, NFQNL_CFG_CMD_BIND);
	if (config(nl, nlh) < 0) {
		perror("bind queue");
		return 1;
	}
	nlh = nfq_nlmsg_put(cbuf, NFQNL_MSG_CONFIG, queue);
	nfq_nlmsg_cfg_put_params(nlh, NFQNL_COPY_PACKET, 0xffff);
	nfq_nlmsg_cfg_put_qmaxlen(nlh, 4096);
	mnl_attr_put_u32(nlh, NFQA_CFG_FLAGS, htonl(NFQA_CFG_F_GSO | NFQA_CFG_F_FAIL_OPEN));
	mnl_attr_put_u32(nlh, NFQA_CFG_MASK, htonl(NFQA_CFG_F_GSO | NFQA_CFG_F_FAIL_OPEN));
	if (config(nl, nlh) < 0) {
		perror("queue parameters");
		return 1;
	}
	int fd = mnl_socket_get_fd(nl), sz = 16 << 20;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	for (int i = 0; i < BURST; i++) {
		iov[i] = (struct iovec){ bufs[i], BUFSZ };
		msgs[i] = (struct mmsghdr){ .msg_hdr = { .msg_iov = &iov[i], .msg_iovlen = 1 } };
	}
	/* No SA_RESTART: the signal must interrupt recvmmsg(). */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	printf("ready\n");
	fflush(stdout);
	while (!stop) {
		int n = recvmmsg(fd, msgs, BURST, MSG_WAITFORONE, NULL);
		if (n < 0) {
			if (errno == EINTR || errno == ENOBUFS)
				continue;
			perror("recvmmsg");
			break;
		}
		uint32_t max_id = 0;
		for (int i = 0; i < n; i++) {
			int rem = (int)msgs[i].msg_len;
			for (struct nlmsghdr *m = (struct nlmsghdr *)bufs[i]; mnl_nlmsg_ok(m, rem);
			     m = mnl_nlmsg_next(m, &rem)) {
				struct nlattr *attr[NFQA_MAX + 1] = { 0 };
				if (nfq_nlmsg_parse(m, attr) < 0 || !attr[NFQA_PACKET_HDR])
					continue;
				struct nfqnl_msg_packet_hdr *ph = mnl_attr_get_payload(attr[NFQA_PACKET_HDR]);
				uint32_t id = ntohl(ph->packet_id);
				if (id > max_id)
					max_id = id;
				count++;
			}
		}
		if (max_id) {
			nlh = nfq_nlmsg_put(cbuf, NFQNL_MSG_VERDICT_BATCH, queue);
			nfq_nlmsg_verdict_put(nlh, (int)max_id, NF_ACCEPT);
			mnl_socket_sendto(nl, nlh, nlh->nlmsg_len);
		}
	}
	printf("packets %lu\n", count);
	nlh = nfq_nlmsg_put(cbuf, NFQNL_MSG_CONFIG, queue);
	nfq_nlmsg_cfg_put_cmd(nlh, AF_UNSPEC, NFQNL_CFG_CMD_UNBIND);
	mnl_socket_sendto(nl, nlh, nlh->nlmsg_len);
	mnl_socket_close(nl);
	return 0;
}
