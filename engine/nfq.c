#include "nfq.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <linux/netfilter.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <libnetfilter_queue/libnetfilter_queue.h>
#include <sys/socket.h>

#include "log.h"

#define COPY_RANGE 0xffff
/* One netlink message: the packet (copy range) plus its attributes. */
#define MSG_BUF (COPY_RANGE + 1 + 4096)	/* a multiple of 16: messages stay aligned */
#define SEND_BUF (COPY_RANGE + 8192)
#define MAX_BURST 64
#define ACK_SLOTS 64
#define CFG_BUF 8192

/* ---- batching decision ---- */

enum sl_vbatch_op sl_vbatch_accept(struct sl_vbatch *b, uint32_t id)
{
	if (b->held)
		return SL_VB_SINGLE;
	b->max_id = id;
	b->n++;
	return SL_VB_EXTEND;
}

bool sl_vbatch_close(struct sl_vbatch *b, uint32_t *max_id)
{
	if (!b->n)
		return false;
	*max_id = b->max_id;
	b->n = 0;
	return true;
}

/* ---- the queue ---- */

struct ack_slot {
	uint32_t seq, id;
};

struct sl_nfq {
	struct sl_nfq_config cfg;
	struct mnl_socket *nl;
	uint32_t portid;
	uint32_t seq;
	struct sl_vbatch vb;
	bool have_last_id;
	uint32_t last_id;
	uint64_t burst_t;		/* when the current burst was read */
	uint64_t lat_pending;		/* packets verdicted since the last send */
	size_t out_len;
	uint8_t *out;			/* verdict messages waiting for sendmsg */
	struct ack_slot acks[ACK_SLOTS];	/* replacement verdicts awaiting their ack */
	unsigned ack_next;
	sl_nfq_error_fn on_error;
	void *on_error_u;
	struct sl_nfq_stats st;
	struct sl_ratelimit rl_recv, rl_send, rl_verdict;
	struct mmsghdr msgs[MAX_BURST];
	struct iovec iov[MAX_BURST];
	uint8_t *bufs;			/* MAX_BURST * MSG_BUF */
};

static uint64_t mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* Sends one configuration message and waits for the kernel's answer. */
static int config_request(struct sl_nfq *q, struct nlmsghdr *nlh)
{
	char buf[CFG_BUF];
	uint32_t seq = ++q->seq;

	nlh->nlmsg_flags |= NLM_F_ACK;
	nlh->nlmsg_seq = seq;
	if (mnl_socket_sendto(q->nl, nlh, nlh->nlmsg_len) < 0)
		return -1;
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(q->nl, buf, sizeof(buf));
		if (n < 0)
			return -1;
		int r = mnl_cb_run(buf, (size_t)n, seq, q->portid, NULL, NULL);
		if (r <= MNL_CB_STOP)
			return r < 0 ? -1 : 0;
	}
}

static int cfg_flags(struct sl_nfq *q, uint32_t flags, uint32_t mask)
{
	char buf[CFG_BUF];
	struct nlmsghdr *nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, q->cfg.queue);

	mnl_attr_put_u32(nlh, NFQA_CFG_FLAGS, htonl(flags));
	mnl_attr_put_u32(nlh, NFQA_CFG_MASK, htonl(mask));
	return config_request(q, nlh);
}

struct sl_nfq *sl_nfq_open(const struct sl_nfq_config *cfg, char *err, size_t errlen)
{
	struct sl_nfq *q = calloc(1, sizeof(*q));
	char buf[CFG_BUF];
	struct nlmsghdr *nlh;
	const char *step = "socket";

	if (!q) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	q->cfg = *cfg;
	if (q->cfg.burst == 0 || q->cfg.burst > MAX_BURST)
		q->cfg.burst = 32;
	q->rl_recv = (struct sl_ratelimit)SL_RATELIMIT_INIT(5);
	q->rl_send = (struct sl_ratelimit)SL_RATELIMIT_INIT(5);
	q->rl_verdict = (struct sl_ratelimit)SL_RATELIMIT_INIT(5);
	q->bufs = malloc((size_t)MAX_BURST * MSG_BUF);
	q->out = malloc(SEND_BUF);
	if (!q->bufs || !q->out) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	q->nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
	if (!q->nl || mnl_socket_bind(q->nl, 0, MNL_SOCKET_AUTOPID) < 0)
		goto fail_errno;
	q->portid = mnl_socket_get_portid(q->nl);

	step = "bind";
	nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, cfg->queue);
	nfq_nlmsg_cfg_put_cmd(nlh, AF_UNSPEC, NFQNL_CFG_CMD_BIND);
	if (config_request(q, nlh) < 0)
		goto fail_errno;

	step = "copy mode";
	nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, cfg->queue);
	nfq_nlmsg_cfg_put_params(nlh, NFQNL_COPY_PACKET, COPY_RANGE);
	nfq_nlmsg_cfg_put_qmaxlen(nlh, cfg->maxlen);
	if (config_request(q, nlh) < 0)
		goto fail_errno;

	/* Flags one at a time: a kernel that lacks one says so by name. */
	step = "GSO flag";
	if (cfg->gso && cfg_flags(q, NFQA_CFG_F_GSO, NFQA_CFG_F_GSO) < 0)
		goto fail_errno;
	step = "fail-open flag";
	if (cfg_flags(q, cfg->fail_open ? NFQA_CFG_F_FAIL_OPEN : 0, NFQA_CFG_F_FAIL_OPEN) < 0)
		goto fail_errno;

	int fd = mnl_socket_get_fd(q->nl);
	int sz = cfg->rcvbuf > 0x7fffffff ? 0x7fffffff : (int)cfg->rcvbuf;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)) < 0 &&
	    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz)) < 0)
		sl_log(SL_LOG_WARN, "queue %u: cannot size the socket buffer: %s", cfg->queue,
		       strerror(errno));
	for (unsigned i = 0; i < MAX_BURST; i++) {
		q->iov[i].iov_base = q->bufs + (size_t)i * MSG_BUF;
		q->iov[i].iov_len = MSG_BUF;
		q->msgs[i].msg_hdr.msg_iov = &q->iov[i];
		q->msgs[i].msg_hdr.msg_iovlen = 1;
	}
	return q;
fail_errno:
	/* The kernel answers EPERM both to a missing CAP_NET_ADMIN and to a
	 * queue another socket has bound. */
	snprintf(err, errlen, "queue %u: %s: %s%s", cfg->queue, step, strerror(errno),
		 errno == EPERM ? " (another program has bound this queue, or no CAP_NET_ADMIN)" :
		 "");
fail:
	if (q->nl)
		mnl_socket_close(q->nl);
	free(q->bufs);
	free(q->out);
	free(q);
	return NULL;
}

void sl_nfq_set_error_fn(struct sl_nfq *q, sl_nfq_error_fn fn, void *u)
{
	q->on_error = fn;
	q->on_error_u = u;
}

int sl_nfq_fd(const struct sl_nfq *q) { return mnl_socket_get_fd(q->nl); }
uint16_t sl_nfq_queue(const struct sl_nfq *q) { return q->cfg.queue; }
const struct sl_nfq_stats *sl_nfq_stats(const struct sl_nfq *q) { return &q->st; }

/* ---- sending verdicts ---- */

static void send_out(struct sl_nfq *q)
{
	/* Latency ends when the verdict leaves sluice: the sendmsg itself
	 * carries the kernel's reinjection (the whole forwarding path of
	 * every accepted packet runs in it), which is not sluice's time. */
	if (q->lat_pending) {
		uint64_t t = mono_us();
		sl_hist_add_n(&q->st.latency_us, t > q->burst_t ? t - q->burst_t : 0,
			      q->lat_pending);
		q->lat_pending = 0;
	}
	if (q->out_len) {
		q->st.sends++;
		if (mnl_socket_sendto(q->nl, q->out, q->out_len) < 0) {
			q->st.send_errors++;
			sl_log_rl(&q->rl_send, mono_us(), SL_LOG_ERR,
				  "queue %u: sending verdicts: %s", q->cfg.queue, strerror(errno));
		}
		q->out_len = 0;
	}
}

/* Room for one more message of 'need' bytes, sending what waits if not. */
static struct nlmsghdr *put_msg(struct sl_nfq *q, int type, size_t need)
{
	if (q->out_len + MNL_ALIGN(need) > SEND_BUF)
		send_out(q);
	struct nlmsghdr *nlh = nfq_nlmsg_put((char *)q->out + q->out_len, type, q->cfg.queue);
	nlh->nlmsg_seq = ++q->seq;
	return nlh;
}

static void commit_msg(struct sl_nfq *q, struct nlmsghdr *nlh)
{
	q->out_len += MNL_ALIGN(nlh->nlmsg_len);
}

static void range_flush(struct sl_nfq *q)
{
	uint32_t max_id;

	if (!sl_vbatch_close(&q->vb, &max_id))
		return;
	struct nlmsghdr *nlh = put_msg(q, NFQNL_MSG_VERDICT_BATCH, 64);
	nfq_nlmsg_verdict_put(nlh, (int)max_id, NF_ACCEPT);
	commit_msg(q, nlh);
	q->st.batch_msgs++;
}

void sl_nfq_hold(struct sl_nfq *q, uint32_t id)
{
	(void)id;
	/* Everything below the held id may still go in one range; nothing
	 * above it may until the held packet has its verdict. */
	range_flush(q);
	q->vb.held++;
}

void sl_nfq_verdict(struct sl_nfq *q, uint32_t id, int verdict, uint32_t mark,
		    const uint8_t *payload, uint32_t len, bool held)
{
	q->st.verdicts++;
	if (verdict >= 0 && verdict < 5)
		q->st.by_verdict[verdict]++;
	if (held) {
		if (q->vb.held)
			q->vb.held--;
	} else {
		q->lat_pending++;
	}
	if (verdict == NF_ACCEPT && !mark && !payload &&
	    sl_vbatch_accept(&q->vb, id) == SL_VB_EXTEND)
		return;
	range_flush(q);
	if (payload) {
		/* Alone, at once, acknowledged: the kernel drops the packet if
		 * it refuses the new bytes, and the caller must hear of it. */
		send_out(q);
		struct nlmsghdr *nlh = put_msg(q, NFQNL_MSG_VERDICT, 128 + (size_t)len);
		nlh->nlmsg_flags |= NLM_F_ACK;
		nfq_nlmsg_verdict_put(nlh, (int)id, verdict);
		if (mark)
			nfq_nlmsg_verdict_put_mark(nlh, mark);
		nfq_nlmsg_verdict_put_pkt(nlh, payload, len);
		commit_msg(q, nlh);
		q->acks[q->ack_next++ % ACK_SLOTS] = (struct ack_slot){ nlh->nlmsg_seq, id };
		q->st.single_msgs++;
		send_out(q);
		return;
	}
	struct nlmsghdr *nlh = put_msg(q, NFQNL_MSG_VERDICT, 64);
	nfq_nlmsg_verdict_put(nlh, (int)id, verdict);
	if (mark)
		nfq_nlmsg_verdict_put_mark(nlh, mark);
	commit_msg(q, nlh);
	q->st.single_msgs++;
}

void sl_nfq_flush(struct sl_nfq *q)
{
	range_flush(q);
	send_out(q);
}

/* ---- receiving ---- */

struct parse_ctx {
	struct sl_nfq *q;
	sl_nfq_packet_fn fn;
	void *u;
	int n;
};

static uint32_t attr_u32(struct nlattr *a)
{
	return a ? ntohl(mnl_attr_get_u32(a)) : 0;
}

static void on_packet_msg(struct parse_ctx *x, const struct nlmsghdr *nlh)
{
	struct nlattr *attr[NFQA_MAX + 1] = { 0 };
	struct sl_nfq *q = x->q;
	struct sl_nfq_pkt p;

	if (nfq_nlmsg_parse(nlh, attr) < 0 || !attr[NFQA_PACKET_HDR]) {
		q->st.recv_errors++;
		return;
	}
	const struct nfqnl_msg_packet_hdr *ph = mnl_attr_get_payload(attr[NFQA_PACKET_HDR]);
	memset(&p, 0, sizeof(p));
	p.id = ntohl(ph->packet_id);
	p.hw_protocol = ntohs(ph->hw_protocol);
	p.hook = ph->hook;
	if (attr[NFQA_PAYLOAD]) {
		p.payload = mnl_attr_get_payload(attr[NFQA_PAYLOAD]);
		p.len = mnl_attr_get_payload_len(attr[NFQA_PAYLOAD]);
	}
	p.orig_len = attr[NFQA_CAP_LEN] ? attr_u32(attr[NFQA_CAP_LEN]) : p.len;
	if (p.orig_len < p.len)
		p.orig_len = p.len;
	if (p.orig_len > p.len)
		q->st.truncated++;
	uint32_t info = attr_u32(attr[NFQA_SKB_INFO]);
	p.csum_not_ready = info & NFQA_SKB_CSUMNOTREADY;
	p.gso = info & NFQA_SKB_GSO;
	p.mark = attr_u32(attr[NFQA_MARK]);
	p.indev = attr_u32(attr[NFQA_IFINDEX_INDEV]);
	p.outdev = attr_u32(attr[NFQA_IFINDEX_OUTDEV]);
	p.physindev = attr_u32(attr[NFQA_IFINDEX_PHYSINDEV]);
	p.physoutdev = attr_u32(attr[NFQA_IFINDEX_PHYSOUTDEV]);
	if (attr[NFQA_HWADDR] &&
	    mnl_attr_get_payload_len(attr[NFQA_HWADDR]) >= sizeof(struct nfqnl_msg_packet_hw)) {
		const struct nfqnl_msg_packet_hw *hw = mnl_attr_get_payload(attr[NFQA_HWADDR]);
		unsigned hl = ntohs(hw->hw_addrlen);
		p.hwlen = (uint8_t)(hl > sizeof(p.hwaddr) ? sizeof(p.hwaddr) : hl);
		memcpy(p.hwaddr, hw->hw_addr, p.hwlen);
	}
	/* Ids are consecutive per queue; a jump is packets the kernel
	 * numbered but could not deliver (fail-open, or a full socket). */
	if (q->have_last_id && p.id - q->last_id > 1 && p.id - q->last_id < 0x80000000u)
		q->st.ids_skipped += p.id - q->last_id - 1;
	q->last_id = p.id;
	q->have_last_id = true;
	q->st.packets++;
	q->st.bytes += p.orig_len;
	x->n++;
	x->fn(x->u, &p);
}

static void on_error_msg(struct parse_ctx *x, const struct nlmsghdr *nlh)
{
	struct sl_nfq *q = x->q;
	const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);

	if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*e)) || e->error == 0)
		return;			/* an acknowledgement */
	int err = -e->error;
	q->st.verdict_errors++;
	for (unsigned i = 0; i < ACK_SLOTS; i++) {
		if (q->acks[i].seq && q->acks[i].seq == e->msg.nlmsg_seq) {
			q->acks[i].seq = 0;
			if (q->on_error)
				q->on_error(q->on_error_u, q->acks[i].id, err);
			break;
		}
	}
	sl_log_rl(&q->rl_verdict, q->burst_t, SL_LOG_WARN, "queue %u: the kernel refused a "
		  "verdict: %s", q->cfg.queue, strerror(err));
}

static void parse_buf(struct parse_ctx *x, const uint8_t *buf, size_t len)
{
	const struct nlmsghdr *nlh = (const struct nlmsghdr *)buf;
	int rem = (int)len;

	while (mnl_nlmsg_ok(nlh, rem)) {
		if (nlh->nlmsg_type == NLMSG_ERROR)
			on_error_msg(x, nlh);
		else if (NFNL_SUBSYS_ID(nlh->nlmsg_type) == NFNL_SUBSYS_QUEUE &&
			 NFNL_MSG_TYPE(nlh->nlmsg_type) == NFQNL_MSG_PACKET)
			on_packet_msg(x, nlh);
		nlh = mnl_nlmsg_next(nlh, &rem);
	}
}

int sl_nfq_receive(struct sl_nfq *q, sl_nfq_packet_fn fn, void *u)
{
	struct parse_ctx x = { q, fn, u, 0 };
	int fd = mnl_socket_get_fd(q->nl);

	for (unsigned i = 0; i < q->cfg.burst; i++) {
		q->msgs[i].msg_hdr.msg_name = NULL;
		q->msgs[i].msg_hdr.msg_namelen = 0;
		q->msgs[i].msg_hdr.msg_flags = 0;
	}
	int n = recvmmsg(fd, q->msgs, q->cfg.burst, MSG_DONTWAIT, NULL);
	if (n < 0) {
		if (errno == ENOBUFS) {
			/* The kernel could not deliver some packets: with
			 * fail-open they passed uninspected, else they were
			 * dropped.  Counted; the socket keeps working. */
			q->st.enobufs++;
			sl_log_rl(&q->rl_recv, mono_us(), SL_LOG_WARN, "queue %u: socket buffer "
				  "overrun (ENOBUFS): packets were %s", q->cfg.queue,
				  q->cfg.fail_open ? "passed uninspected (fail-open)" : "dropped");
		} else if (errno != EAGAIN && errno != EINTR) {
			q->st.recv_errors++;
			sl_log_rl(&q->rl_recv, mono_us(), SL_LOG_ERR, "queue %u: receive: %s",
				  q->cfg.queue, strerror(errno));
		}
		return -1;
	}
	q->burst_t = mono_us();
	for (int i = 0; i < n; i++)
		parse_buf(&x, q->bufs + (size_t)i * MSG_BUF, q->msgs[i].msg_len);
	sl_nfq_flush(q);
	return x.n;
}

void sl_nfq_close(struct sl_nfq *q)
{
	char buf[CFG_BUF];

	if (!q)
		return;
	sl_nfq_flush(q);
	struct nlmsghdr *nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, q->cfg.queue);
	nfq_nlmsg_cfg_put_cmd(nlh, AF_UNSPEC, NFQNL_CFG_CMD_UNBIND);
	mnl_socket_sendto(q->nl, nlh, nlh->nlmsg_len);
	mnl_socket_close(q->nl);
	free(q->bufs);
	free(q->out);
	free(q);
}

FILE *sl_nfq_proc_open(const char *path)
{
	return fopen(path ? path : "/proc/net/netfilter/nfnetlink_queue", "re");
}

int sl_nfq_proc_read(FILE *f, uint16_t queue, struct sl_nfq_proc *out)
{
	char line[256];

	if (!f)
		return -1;
	/* A seq_file reads afresh from offset 0. */
	rewind(f);
	while (fgets(line, sizeof(line), f)) {
		unsigned qn, portid, total, mode, range, idseq;
		unsigned long long dropped, udropped;
		if (sscanf(line, "%u %u %u %u %u %llu %llu %u", &qn, &portid, &total, &mode, &range,
			   &dropped, &udropped, &idseq) != 8 || qn != queue)
			continue;
		*out = (struct sl_nfq_proc){ (uint16_t)qn, portid, total, mode, range, dropped,
					     udropped, idseq };
		return 0;
	}
	return -1;
}
