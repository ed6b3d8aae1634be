/*
 * nfq_accept: the smallest NFQUEUE listener, for checking the lab's plumbing
 * before sluice exists.  Binds queue N (argv[1], default 0), accepts every
 * packet and prints the number of packets seen to stdout on SIGTERM/SIGINT.
 * Build: cc -O2 -o nfq_accept nfq_accept.c -lnetfilter_queue
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/netfilter.h>
#include <libnetfilter_queue/libnetfilter_queue.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int on_packet(struct nfq_q_handle *qh, struct nfgenmsg *msg, struct nfq_data *nfa,
		     void *data)
{
	struct nfqnl_msg_packet_hdr *ph = nfq_get_msg_packet_hdr(nfa);
	unsigned long *count = data;

	(void)msg;
	(*count)++;
	return nfq_set_verdict(qh, ph ? ntohl(ph->packet_id) : 0, NF_ACCEPT, 0, NULL);
}

int main(int argc, char **argv)
{
	unsigned long count = 0;
	struct sigaction sa = { .sa_handler = on_signal };
	char buf[65536 + 4096];
	struct nfq_handle *h = nfq_open();
	struct nfq_q_handle *qh;
	int fd, n;

	if (!h)
		return 1;
	qh = nfq_create_queue(h, argc > 1 ? atoi(argv[1]) : 0, on_packet, &count);
	if (!qh || nfq_set_mode(qh, NFQNL_COPY_PACKET, 0xffff) < 0) {
		perror("nfq_create_queue");
		return 1;
	}
	/* No SA_RESTART: the signal must interrupt recv(). */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	fd = nfq_fd(h);
	printf("ready\n");
	fflush(stdout);
	while (!stop) {
		n = recv(fd, buf, sizeof(buf), 0);
		if (n < 0) {
			if (errno == EINTR || errno == ENOBUFS)
				continue;
			break;
		}
		nfq_handle_packet(h, buf, n);
	}
	printf("packets %lu\n", count);
	nfq_destroy_queue(qh);
	nfq_close(h);
	return 0;
}
