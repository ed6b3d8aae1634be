/* `sluice inline`: the IPS.  Packets from one or more NFQUEUE queues, one
 * worker thread per queue, every packet a verdict.
 *
 * Threads:
 *   main      signals (signalfd), SIGHUP reload, the stats socket and the
 *             periodic stats event; never touches a packet;
 *   worker i  queue i: epoll on its netlink socket, its ClamAV sink's
 *             result eventfd, a 100 ms timerfd (hold deadlines and stats
 *             publication; flow timeouts every second) and a control
 *             eventfd (reload, stop).  It owns its flows: no lock on the
 *             packet path.  The kernel's --queue-balance hashes the
 *             addresses only, so all flows between one pair of hosts share
 *             a queue (docs/deploy.md);
 *   scan pool ClamAV (engine/scan_pool.c).
 *
 * Start-up order, and why:
 *   1. configuration and rules, ClamAV database: every error stops here,
 *      before a queue is bound (a bound queue with nobody reading it
 *      would fail open or drop);
 *   2. queues bound, injection sockets, stats socket, event file: as root;
 *   3. privileges dropped to inline.user, keeping CAP_NET_ADMIN only
 *      (netlink verdicts need it; the sockets are already open).  glibc
 *      applies the uid change to every thread, and a thread without
 *      PR_SET_KEEPCAPS loses its capabilities with it: the scan threads
 *      started in step 1 end up with none;
 *   4. worker threads; READY=1 once every queue is served.
 *
 * Signals: SIGHUP reloads (rules, ClamAV database, hold and anomaly
 * policies; a broken file keeps what runs); SIGTERM/SIGINT stop: held
 * packets meet the hold policy, queues are unbound. */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <pthread.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cap-ng.h>
#include <linux/netfilter.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <systemd/sd-daemon.h>

#include "bytes.h"
#include "cmd.h"
#include "config.h"
#include "inject.h"
#include "inspect.h"
#include "log.h"
#include "nfq.h"
#include "ruleset.h"
#include "stats.h"
#include "worker.h"

#define TICK_MS 100
#define TICKS_PER_S (1000 / TICK_MS)
/* Receive bursts per wake-up before timers and scan results get a turn. */
#define BURSTS_PER_WAKE 16

enum { TAG_NFQ = 0, TAG_TIMER, TAG_CTL, TAG_SINK };

struct inl;

struct qw {				/* one queue and its worker thread */
	struct inl *top;
	unsigned idx;
	uint16_t queue;
	int cpu;			/* -1: not pinned */
	struct sl_nfq *nfq;
	struct sl_injector *inj;
	struct sl_worker *w;
	struct sl_inspect_worker *iw;
	const struct sl_sink *sinks;
	unsigned n_sinks;
	int ep, tfd, cfd;
	pthread_t th;
	bool started;
	uint64_t seq;			/* packet index */
	struct sl_pkt_link link;	/* the current packet's */
	unsigned ticks;
	uint64_t own_packets, bypass_loops;
	bool warned_loop;
	uint32_t bypass_mark, inject_mark;
	bool bypass;

	pthread_mutex_t mx;		/* guards what follows */
	struct sl_ruleset *new_rules;	/* main -> worker: take this set */
	bool new_cfg;
	struct sl_worker_config cfg;	/* main -> worker: reloadable settings */
	bool stop;
	struct sl_wstats pub;		/* worker -> main: published figures */
};

/* Command-line settings, applied over every (re)loaded file. */
struct overrides {
	uint16_t queues[SL_MAX_QUEUES];
	unsigned n_queues;
	const char *rules[SL_MAX_RULE_FILES];
	unsigned n_rules;
	const char *clamdb, *eve, *user, *stats_socket;
	bool no_clamav, no_bypass;
	int verbose;
};

struct inl {
	const char *cfg_path;
	struct overrides ov;
	struct sl_config *conf;		/* running */
	struct sl_config *old[64];	/* earlier configurations: workers may still
					   point at their strings */
	unsigned n_old;
	struct sl_inspect *in;
	struct sl_eve *eve;
	struct qw *qs;
	unsigned n;
	int sfd, sig_fd, stimer_fd, ep;
	FILE *proc;			/* /proc/net/netfilter/nfnetlink_queue, opened as root */
	uint64_t t0;
};

static uint64_t clock_us(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* ---- the worker's side ---- */

static void op_hold(void *u, uint32_t id)
{
	struct qw *q = u;

	sl_nfq_hold(q->nfq, id);
}

static void op_verdict(void *u, uint32_t id, enum sl_pkt_action a, const uint8_t *payload,
		       uint32_t len)
{
	struct qw *q = u;

	sl_nfq_verdict(q->nfq, id, a == SL_PKT_DROP ? NF_DROP : NF_ACCEPT, 0, payload, len, true);
}

static int op_inject(void *u, const uint8_t *pkt, uint32_t len, const struct sl_l2_path *l2)
{
	struct qw *q = u;

	return sl_injector_send(q->inj, pkt, len, l2);
}

static const struct sl_inline_ops inline_ops = {
	.hold = op_hold,
	.verdict = op_verdict,
	.inject = op_inject,
};

static void on_rewrite_refused(void *u, uint32_t id, int err)
{
	struct qw *q = u;

	(void)err;
	sl_worker_rewrite_failed(q->w, id);
}

static void on_packet(void *u, const struct sl_nfq_pkt *np)
{
	struct qw *q = u;
	struct sl_packet p;

	/* Our own packets (a rule that queues OUTPUT, or a loop): never
	 * inspected. */
	if (np->mark & q->inject_mark) {
		q->own_packets++;
		sl_nfq_verdict(q->nfq, np->id, NF_ACCEPT, 0, NULL, 0, false);
		return;
	}
	/* A bypassed packet came back: the rules that accept the bypass mark
	 * are missing.  Accepting plainly avoids a loop. */
	if (q->bypass && (np->mark & q->bypass_mark) == q->bypass_mark) {
		q->bypass_loops++;
		if (!q->warned_loop) {
			q->warned_loop = true;
			sl_log(SL_LOG_WARN, "queue %u: a bypassed packet came back to the queue: "
			       "the rules accepting mark 0x%x are missing (docs/deploy.md)",
			       q->queue, q->bypass_mark);
		}
		sl_nfq_verdict(q->nfq, np->id, NF_ACCEPT, 0, NULL, 0, false);
		return;
	}
	memset(&p, 0, sizeof(p));
	p.index = ++q->seq;
	p.ts_us = clock_us(CLOCK_REALTIME);
	p.frame = np->payload;
	p.cap_len = np->len;
	p.wire_len = np->orig_len;
	p.linktype = 101;		/* LINKTYPE_RAW: the IP header first */
	if (np->csum_not_ready)
		p.flags |= SL_PKT_L4_CSUM_SKIP;
	if (np->orig_len > np->len)
		p.flags |= SL_PKT_TRUNCATED;
	p.src_id = np->id;
	q->link.physindev = np->physindev;
	q->link.gso = np->gso;
	q->link.has_hwsrc = np->hwlen == 6;
	if (q->link.has_hwsrc)
		memcpy(q->link.hwsrc, np->hwaddr, 6);
	p.src_ctx = &q->link;

	switch (sl_worker_packet(q->w, &p, p.ts_us)) {
	case SL_PKT_ACCEPT:
		sl_nfq_verdict(q->nfq, np->id, NF_ACCEPT, 0, NULL, 0, false);
		break;
	case SL_PKT_DROP:
		sl_nfq_verdict(q->nfq, np->id, NF_DROP, 0, NULL, 0, false);
		break;
	case SL_PKT_BYPASS:
		/* NF_REPEAT with the mark: the ruleset saves it to the
		 * connmark and accepts; later packets never reach the queue. */
		if (q->bypass)
			sl_nfq_verdict(q->nfq, np->id, NF_REPEAT, np->mark | q->bypass_mark,
				       NULL, 0, false);
		else
			sl_nfq_verdict(q->nfq, np->id, NF_ACCEPT, 0, NULL, 0, false);
		break;
	case SL_PKT_HOLD:
		break;			/* the worker verdicts it (sl_inline_ops) */
	}
}

static void publish(struct qw *q)
{
	pthread_mutex_lock(&q->mx);
	q->pub.queue = q->queue;
	q->pub.flows_now = sl_worker_flow_count(q->w);
	q->pub.ctr = *sl_worker_counters(q->w);
	q->pub.totals = *sl_worker_totals(q->w);
	q->pub.inl = *sl_worker_inline_stats(q->w);
	q->pub.nfq = *sl_nfq_stats(q->nfq);
	q->pub.own_packets = q->own_packets;
	q->pub.bypass_loops = q->bypass_loops;
	pthread_mutex_unlock(&q->mx);
}

/* Reload and stop requests, at a safe point between packets. */
static bool mailbox(struct qw *q)
{
	uint64_t v;
	struct sl_ruleset *rs;
	bool stop, cfg;
	struct sl_worker_config c;

	if (read(q->cfd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		sl_log(SL_LOG_ERR, "queue %u: control read: %s", q->queue, strerror(errno));
	pthread_mutex_lock(&q->mx);
	rs = q->new_rules;
	q->new_rules = NULL;
	cfg = q->new_cfg;
	q->new_cfg = false;
	c = q->cfg;
	stop = q->stop;
	pthread_mutex_unlock(&q->mx);
	if (rs) {
		if (sl_inspect_worker_set_ruleset(q->iw, rs) != 0)
			sl_log(SL_LOG_ERR, "queue %u: cannot take the new rules (no rule "
			       "matcher or out of memory): the old ones stay", q->queue);
		sl_ruleset_unref(rs);
	}
	if (cfg)
		sl_worker_reconfigure(q->w, &c);
	return stop;
}

static void *worker_main(void *arg)
{
	struct qw *q = arg;
	struct epoll_event evs[8];
	char name[16];
	bool stop = false;

	snprintf(name, sizeof(name), "sluice-q%u", q->queue);
	pthread_setname_np(pthread_self(), name);
	if (q->cpu >= 0) {
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET(q->cpu, &set);
		if (pthread_setaffinity_np(pthread_self(), sizeof(set), &set) != 0)
			sl_log(SL_LOG_WARN, "queue %u: cannot pin to CPU %d", q->queue, q->cpu);
	}
	while (!stop) {
		int n = epoll_wait(q->ep, evs, 8, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			sl_log(SL_LOG_ERR, "queue %u: epoll: %s", q->queue, strerror(errno));
			break;
		}
		for (int i = 0; i < n; i++) {
			uint32_t tag = evs[i].data.u32;
			if (tag == TAG_NFQ) {
				for (int b = 0; b < BURSTS_PER_WAKE; b++)
					if (sl_nfq_receive(q->nfq, on_packet, q) <= 0)
						break;
			} else if (tag == TAG_TIMER) {
				uint64_t v;
				if (read(q->tfd, &v, sizeof(v)) < 0)
					continue;
				sl_worker_hold_tick(q->w, clock_us(CLOCK_MONOTONIC));
				if (++q->ticks % TICKS_PER_S == 0)
					sl_worker_tick(q->w, clock_us(CLOCK_REALTIME));
				/* Cheap (a few KiB copied): `sluice stats` is
				 * at most one tick old. */
				publish(q);
			} else if (tag == TAG_CTL) {
				stop = mailbox(q);
			} else {
				const struct sl_sink *s = &q->sinks[tag - TAG_SINK];
				s->ops->collect(s->self);
			}
		}
		/* Verdicts given outside a receive burst: results, deadlines. */
		sl_nfq_flush(q->nfq);
	}
	/* Shutdown: every flow ends, held packets meet the hold policy. */
	sl_worker_drain(q->w);
	sl_nfq_flush(q->nfq);
	sl_inspect_worker_free(q->iw);	/* waits for this worker's scans */
	q->iw = NULL;
	sl_nfq_flush(q->nfq);
	publish(q);
	return NULL;
}

static int ep_add(int ep, int fd, uint32_t tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = tag };

	return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

static struct sl_worker_config worker_config(const struct sl_config *c, unsigned idx, unsigned n)
{
	struct sl_worker_config wc = c->worker;

	wc.inline_mode = true;
	wc.settle_sync = false;
	/* Packets come off the wire with finished checksums; the kernel
	 * marks the ones it has not finished (NFQA_SKB_CSUMNOTREADY). */
	if (wc.decode.csum == SL_CSUM_AUTO)
		wc.decode.csum = SL_CSUM_ON;
	wc.hold_timeout_ms = c->inl.hold_timeout_ms;
	wc.on_hold_timeout = c->inl.on_hold_timeout;
	wc.hold_memcap = c->inl.hold_memcap;
	wc.id_base = idx;
	wc.id_step = n;
	return wc;
}

/* The worker's pipeline and loop plumbing (queue and sockets exist). */
static int worker_setup(struct inl *t, struct qw *q, char *err, size_t errlen)
{
	struct sl_worker_config wc = worker_config(t->conf, q->idx, t->n);
	struct itimerspec its = { { 0, TICK_MS * 1000000 }, { 0, TICK_MS * 1000000 } };

	q->w = sl_worker_new(&wc, t->eve);
	if (!q->w)
		goto oom;
	q->iw = sl_inspect_worker_new(t->in, sl_worker_counters(q->w));
	if (!q->iw)
		goto oom;
	q->sinks = sl_inspect_worker_sinks(q->iw, &q->n_sinks);
	sl_worker_set_sinks(q->w, q->sinks, q->n_sinks);
	sl_worker_set_inline(q->w, &inline_ops, q);
	sl_nfq_set_error_fn(q->nfq, on_rewrite_refused, q);
	q->ep = epoll_create1(EPOLL_CLOEXEC);
	q->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	q->cfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (q->ep < 0 || q->tfd < 0 || q->cfd < 0 || timerfd_settime(q->tfd, 0, &its, NULL) < 0 ||
	    ep_add(q->ep, sl_nfq_fd(q->nfq), TAG_NFQ) < 0 || ep_add(q->ep, q->tfd, TAG_TIMER) < 0 ||
	    ep_add(q->ep, q->cfd, TAG_CTL) < 0) {
		snprintf(err, errlen, "queue %u: event loop: %s", q->queue, strerror(errno));
		return -1;
	}
	for (unsigned i = 0; i < q->n_sinks; i++) {
		if (!q->sinks[i].ops->poll_fd)
			continue;
		if (ep_add(q->ep, q->sinks[i].ops->poll_fd(q->sinks[i].self), TAG_SINK + i) < 0) {
			snprintf(err, errlen, "queue %u: event loop: %s", q->queue,
				 strerror(errno));
			return -1;
		}
	}
	q->bypass = t->conf->inl.bypass;
	q->bypass_mark = t->conf->inl.bypass_mark;
	q->inject_mark = t->conf->inl.inject_mark;
	return 0;
oom:
	snprintf(err, errlen, "queue %u: out of memory setting up the pipeline", q->queue);
	return -1;
}

static void post(struct qw *q)
{
	uint64_t one = 1;

	if (write(q->cfd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		sl_log(SL_LOG_ERR, "queue %u: control write: %s", q->queue, strerror(errno));
}

/* ---- configuration ---- */

static void apply_overrides(struct sl_config *c, const struct overrides *o)
{
	if (o->n_queues) {
		memcpy(c->inl.queues, o->queues, o->n_queues * sizeof(o->queues[0]));
		c->inl.n_queues = o->n_queues;
	}
	sl_config_override_inspection(c, o->rules, o->n_rules, o->clamdb, o->no_clamav);
	if (o->eve)
		c->eve = o->eve;
	if (o->user)
		c->inl.user = o->user;
	if (o->stats_socket)
		c->inl.stats_socket = o->stats_socket;
	if (o->no_bypass)
		c->inl.bypass = false;
	c->inspect.reloadable = true;
}

static int load_config(struct inl *t, struct sl_config *c, char *err, size_t errlen)
{
	sl_config_default(c);
	if (t->cfg_path && sl_config_load(c, t->cfg_path, err, errlen) != 0)
		return -1;
	apply_overrides(c, &t->ov);
	return sl_config_check(c, err, errlen);
}

/* Keys a reload applies (sl_inspect_reload, sl_worker_reconfigure); any
 * other changed key waits for a restart. */
static bool reloadable_key(const char *key)
{
	static const char *const keys[] = {
		"rules.files", "clamav.database", "inline.hold_timeout_ms", "policy.hold_timeout",
		"policy.flow_table_full", "policy.app_memcap", "policy.anomalies.",
	};
	for (size_t i = 0; i < SL_ARRAY_SIZE(keys); i++)
		if (strncmp(key, keys[i], strlen(keys[i])) == 0)
			return true;
	return false;
}

/* Logs the keys whose new value needs a restart.  Both dumps come from the
 * same key table, so their lines correspond one to one:
 *   group: {  /  name = value;  /  name = {  /  };  */
static void report_restart_keys(const struct sl_config *a, const struct sl_config *b)
{
	char *da = NULL, *db = NULL, key[160], group[2][64] = { "", "" };
	size_t la = 0, lb = 0;
	FILE *fa = open_memstream(&da, &la), *fb = open_memstream(&db, &lb);
	unsigned depth = 0;

	if (fa && fb) {
		sl_config_dump(a, fa);
		sl_config_dump(b, fb);
	}
	if (fa)
		fclose(fa);
	if (fb)
		fclose(fb);
	char *sa = NULL, *sb = NULL;
	char *x = da ? strtok_r(da, "\n", &sa) : NULL, *y = db ? strtok_r(db, "\n", &sb) : NULL;
	for (; x && y; x = strtok_r(NULL, "\n", &sa), y = strtok_r(NULL, "\n", &sb)) {
		const char *ln = y + strspn(y, " ");
		size_t nl = strcspn(ln, " :=");
		if (strstr(ln, "{") && depth < 2) {
			snprintf(group[depth++], sizeof(group[0]), "%.*s", (int)nl, ln);
			continue;
		}
		if (ln[0] == '}') {
			if (depth)
				depth--;
			continue;
		}
		if (strcmp(x, y) == 0)
			continue;
		snprintf(key, sizeof(key), "%s%s%s%s%.*s", group[0], depth ? "." : "",
			 depth > 1 ? group[1] : "", depth > 1 ? "." : "", (int)nl, ln);
		if (!reloadable_key(key))
			sl_log(SL_LOG_WARN, "reload: %s changed; it takes effect at the next "
			       "restart", key);
	}
	free(da);
	free(db);
}

static void reload(struct inl *t)
{
	struct sl_config *nc = calloc(1, sizeof(*nc));
	char err[1024];

	sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu\nSTATUS=reloading",
		   (unsigned long long)clock_us(CLOCK_MONOTONIC));
	sl_log(SL_LOG_NOTICE, "SIGHUP: reloading %s", t->cfg_path ? t->cfg_path : "(no file)");
	if (!nc || load_config(t, nc, err, sizeof(err)) != 0) {
		sl_log(SL_LOG_ERR, "reload failed, the running configuration stays: %s",
		       nc ? err : "out of memory");
		goto keep;
	}
	if (nc->inspect.clamav != t->conf->inspect.clamav)
		sl_log(SL_LOG_WARN, "reload: switching ClamAV on or off needs a restart");
	nc->inspect.clamav = t->conf->inspect.clamav;
	if (sl_inspect_reload(t->in, &nc->inspect, err, sizeof(err)) != 0) {
		sl_log(SL_LOG_ERR, "reload failed, the running rules and database stay: %s", err);
		goto keep;
	}
	report_restart_keys(t->conf, nc);
	struct sl_ruleset *rs = sl_inspect_ruleset(t->in);
	for (unsigned i = 0; i < t->n; i++) {
		struct qw *q = &t->qs[i];
		pthread_mutex_lock(&q->mx);
		if (q->new_rules)
			sl_ruleset_unref(q->new_rules);
		q->new_rules = rs ? sl_ruleset_ref(rs) : NULL;
		q->cfg = worker_config(nc, q->idx, t->n);
		q->new_cfg = true;
		pthread_mutex_unlock(&q->mx);
		post(q);
	}
	if (rs)
		sl_ruleset_unref(rs);
	/* Workers may still read strings of the old configuration (output
	 * directories): it is kept until exit. */
	if (t->n_old < SL_ARRAY_SIZE(t->old)) {
		t->old[t->n_old++] = t->conf;
	} else {
		sl_log(SL_LOG_WARN, "reload: too many reloads kept; an old configuration leaks");
	}
	t->conf = nc;
	sl_inspect_describe(t->in, err, sizeof(err));
	sl_log(SL_LOG_NOTICE, "reloaded: %s", err);
	sd_notify(0, "READY=1\nSTATUS=running (reloaded)");
	return;
keep:
	if (nc) {
		sl_config_free(nc);
		free(nc);
	}
	sd_notify(0, "READY=1\nSTATUS=running (last reload failed)");
}

/* ---- stats ---- */

static char *stats_text(struct inl *t)
{
	struct sl_wstats *ws = calloc(t->n, sizeof(*ws));
	struct sl_nfq_proc *proc = calloc(t->n, sizeof(*proc));
	bool *ok = calloc(t->n, sizeof(*ok));
	struct sl_scan_pool_stats pool;
	char *s = NULL;

	if (!ws || !proc || !ok)
		goto out;
	for (unsigned i = 0; i < t->n; i++) {
		pthread_mutex_lock(&t->qs[i].mx);
		ws[i] = t->qs[i].pub;
		pthread_mutex_unlock(&t->qs[i].mx);
		ok[i] = sl_nfq_proc_read(t->proc, t->qs[i].queue, &proc[i]) == 0;
	}
	struct sl_stats_extra x = {
		.uptime_s = (clock_us(CLOCK_MONOTONIC) - t->t0) / 1000000,
		.proc = proc,
		.proc_ok = ok,
		.pool = sl_inspect_pool_stats(t->in, &pool) ? &pool : NULL,
	};
	json_t *j = sl_stats_json(ws, t->n, &x);
	s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(j);
out:
	free(ws);
	free(proc);
	free(ok);
	return s;
}

static void stats_event(struct inl *t)
{
	char *s = stats_text(t);
	json_t *j = s ? json_loads(s, 0, NULL) : NULL;

	free(s);
	if (!j)
		return;
	json_t *ev = sl_eve_begin(t->eve, "stats", clock_us(CLOCK_REALTIME), NULL, SL_TO_SERVER, 0);
	json_object_set_new(ev, "stats", j);
	sl_eve_emit(t->eve, ev);
}

/* ---- privileges ---- */

static int drop_privileges(const char *user, int *uid, int *gid, char *err, size_t errlen)
{
	*uid = *gid = -1;
	if (!user || !*user || strcmp(user, "root") == 0 || geteuid() != 0) {
		if (geteuid() == 0)
			sl_log(SL_LOG_WARN, "inline.user is empty or root: running as root");
		return 0;
	}
	struct passwd *pw = getpwnam(user);
	if (!pw) {
		snprintf(err, errlen, "inline.user: no user '%s'", user);
		return -1;
	}
	*uid = (int)pw->pw_uid;
	*gid = (int)pw->pw_gid;
	return 0;
}

static int apply_privileges(int uid, int gid, char *err, size_t errlen)
{
	if (uid < 0)
		return 0;
	/* Netlink verdicts are checked against CAP_NET_ADMIN on every
	 * message; nothing else is needed once the sockets are open. */
	capng_clear(CAPNG_SELECT_BOTH);
	if (capng_updatev(CAPNG_ADD, CAPNG_EFFECTIVE | CAPNG_PERMITTED, CAP_NET_ADMIN, -1) != 0) {
		snprintf(err, errlen, "libcap-ng: cannot keep CAP_NET_ADMIN");
		return -1;
	}
	int r = capng_change_id(uid, gid, CAPNG_DROP_SUPP_GRP | CAPNG_CLEAR_BOUNDING);
	if (r != 0) {
		snprintf(err, errlen, "cannot change to uid %d gid %d keeping CAP_NET_ADMIN "
			 "(libcap-ng error %d)", uid, gid, r);
		return -1;
	}
	return 0;
}

/* ---- the command ---- */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: sluice inline [options]\n"
		"\n"
		"Inspects mail traffic from NFQUEUE and gives every packet a verdict\n"
		"(docs/deploy.md: firewall rules, bypass marks, systemd).\n"
		"\n"
		"  -c, --config FILE         settings (docs/config.md); SIGHUP reloads it\n"
		"  -q, --queue N[:M]         NFQUEUE number, or range N..M (repeatable; replaces\n"
		"                            inline.queues); one worker thread per queue\n"
		"  -r, --rules FILE          operator rules (repeatable; replaces rules.files)\n"
		"      --clamav-db PATH      ClamAV database directory or file (must load)\n"
		"      --no-clamav           do not scan with ClamAV\n"
		"  -e, --eve FILE            EVE JSON events to FILE (default: stdout)\n"
		"  -u, --user NAME           drop privileges to NAME (inline.user; '' or root:\n"
		"                            keep root)\n"
		"  -s, --stats-socket PATH   unix socket for `sluice stats` ('' = none)\n"
		"      --no-bypass           keep uninspectable flows in the queue (accept each\n"
		"                            packet) instead of bypassing them by mark\n"
		"  -v, --verbose             more log lines (repeat for debug)\n"
		"  -h, --help                this text\n"
		"\n"
		"Logs one line 'sluice: notice: ready: ...' (and tells systemd READY=1) once\n"
		"every queue is served.  SIGHUP reloads rules, the ClamAV database, the hold\n"
		"timeout and the hold, flow-table and anomaly policies (docs/config.md);\n"
		"SIGTERM stops (held packets meet policy.hold_timeout).\n"
		"exit status: 0 stopped by a signal; 1 runtime failure (queue, privileges);\n"
		"2 usage or configuration error.\n");
}

static int parse_queue(const char *s, struct overrides *o)
{
	char *end;
	long a = strtol(s, &end, 10), b = a;

	if (*end == ':')
		b = strtol(end + 1, &end, 10);
	if (*end || a < 0 || b < a || b > 65535 || o->n_queues + (unsigned)(b - a + 1) >
	    SL_MAX_QUEUES) {
		fprintf(stderr, "sluice inline: bad --queue '%s' (N or N:M, at most %d queues)\n",
			s, SL_MAX_QUEUES);
		return -1;
	}
	for (long v = a; v <= b; v++)
		o->queues[o->n_queues++] = (uint16_t)v;
	return 0;
}

static int parse_args(int argc, char **argv, struct inl *t)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "queue", required_argument, NULL, 'q' },
		{ "rules", required_argument, NULL, 'r' },
		{ "clamav-db", required_argument, NULL, 'D' },
		{ "no-clamav", no_argument, NULL, 'N' },
		{ "eve", required_argument, NULL, 'e' },
		{ "user", required_argument, NULL, 'u' },
		{ "stats-socket", required_argument, NULL, 's' },
		{ "no-bypass", no_argument, NULL, 'B' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct overrides *o = &t->ov;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "c:q:r:e:u:s:vh", opts, NULL)) != -1) {
		switch (c) {
		case 'c': t->cfg_path = optarg; break;
		case 'q':
			if (parse_queue(optarg, o) < 0)
				return 2;
			break;
		case 'r':
			if (o->n_rules == SL_MAX_RULE_FILES) {
				fprintf(stderr, "sluice inline: at most %d --rules files\n",
					SL_MAX_RULE_FILES);
				return 2;
			}
			o->rules[o->n_rules++] = optarg;
			break;
		case 'D': o->clamdb = optarg; break;
		case 'N': o->no_clamav = true; break;
		case 'e': o->eve = optarg; break;
		case 'u': o->user = optarg; break;
		case 's': o->stats_socket = optarg; break;
		case 'B': o->no_bypass = true; break;
		case 'v': o->verbose++; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "sluice inline: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	return -1;
}

static int open_queues(struct inl *t, char *err, size_t errlen)
{
	const struct sl_inline_config *ic = &t->conf->inl;

	for (unsigned i = 0; i < t->n; i++) {
		struct qw *q = &t->qs[i];
		struct sl_nfq_config nc = {
			.queue = ic->queues[i],
			.maxlen = ic->queue_maxlen,
			.fail_open = ic->fail_open,
			.gso = ic->gso,
			.rcvbuf = ic->rcvbuf,
		};
		q->nfq = sl_nfq_open(&nc, err, errlen);
		if (!q->nfq)
			return -1;
		q->inj = sl_injector_new(ic->inject_mark, err, errlen);
		if (!q->inj)
			return -1;
	}
	return 0;
}

static int open_stats_socket(struct inl *t, int uid, int gid)
{
	const char *path = t->conf->inl.stats_socket;
	char err[512], dir[256];

	if (!path || !*path)
		return -1;
	/* /run/sluice does not survive a reboot: make it (systemd's
	 * RuntimeDirectory= does too). */
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0750) == 0 && (uid != -1 || gid != -1) &&
		    chown(dir, (uid_t)uid, (gid_t)gid) < 0)
			sl_log(SL_LOG_WARN, "cannot chown %s: %s", dir, strerror(errno));
	}
	int fd = sl_stats_listen(path, uid, gid, err, sizeof(err));
	if (fd < 0)
		sl_log(SL_LOG_WARN, "%s: `sluice stats` will not work", err);
	return fd;
}

static void queue_list(const struct inl *t, char *buf, size_t size)
{
	size_t o = 0;

	buf[0] = '\0';
	for (unsigned i = 0; i < t->n && o < size; i++) {
		int w = snprintf(buf + o, size - o, "%s%u", i ? "," : "", t->qs[i].queue);
		if (w < 0)
			break;
		o += (size_t)w;
	}
}

static int main_loop(struct inl *t)
{
	struct epoll_event evs[4];

	for (;;) {
		int n = epoll_wait(t->ep, evs, 4, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			sl_log(SL_LOG_ERR, "epoll: %s", strerror(errno));
			return 1;
		}
		for (int i = 0; i < n; i++) {
			if (evs[i].data.u32 == 0) {
				struct signalfd_siginfo si;
				if (read(t->sig_fd, &si, sizeof(si)) != sizeof(si))
					continue;
				if (si.ssi_signo == SIGHUP) {
					reload(t);
				} else {
					sl_log(SL_LOG_NOTICE, "%s: stopping",
					       strsignal((int)si.ssi_signo));
					return 0;
				}
			} else if (evs[i].data.u32 == 1) {
				char *s = stats_text(t);
				if (s)
					sl_stats_serve(t->sfd, s);
				free(s);
			} else {
				uint64_t v;
				if (read(t->stimer_fd, &v, sizeof(v)) > 0)
					stats_event(t);
			}
		}
	}
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void stop_workers(struct inl *t)
{
	for (unsigned i = 0; i < t->n; i++) {
		struct qw *q = &t->qs[i];
		if (q->started) {
			pthread_mutex_lock(&q->mx);
			q->stop = true;
			pthread_mutex_unlock(&q->mx);
			post(q);
		}
	}
	for (unsigned i = 0; i < t->n; i++) {
		struct qw *q = &t->qs[i];
		if (q->started)
			pthread_join(q->th, NULL);
		q->started = false;
	}
}

static void free_workers(struct inl *t)
{
	for (unsigned i = 0; i < t->n; i++) {
		struct qw *q = &t->qs[i];
		sl_inspect_worker_free(q->iw);
		sl_worker_free(q->w);
		sl_nfq_close(q->nfq);
		sl_injector_free(q->inj);
		if (q->new_rules)
			sl_ruleset_unref(q->new_rules);
		close_fd(&q->ep);
		close_fd(&q->tfd);
		close_fd(&q->cfd);
		pthread_mutex_destroy(&q->mx);
	}
	free(t->qs);
}

int sl_cmd_inline(int argc, char **argv)
{
	struct inl t = { .sfd = -1, .sig_fd = -1, .stimer_fd = -1, .ep = -1 };
	char err[1024], desc[512], qlist[256];
	int rc, uid, gid;
	sigset_t sigs;

	rc = parse_args(argc, argv, &t);
	if (rc >= 0)
		return rc;
	rc = 2;
	t.conf = calloc(1, sizeof(*t.conf));
	if (!t.conf)
		return 2;
	if (load_config(&t, t.conf, err, sizeof(err)) != 0) {
		fprintf(stderr, "sluice inline: %s\n", err);
		free(t.conf);
		return 2;
	}
	sl_log_setup(t.ov.verbose >= 2 ? SL_LOG_DEBUG : t.ov.verbose ? SL_LOG_INFO :
		     t.conf->log_level, stderr);
	if (drop_privileges(t.conf->inl.user, &uid, &gid, err, sizeof(err)) != 0) {
		fprintf(stderr, "sluice inline: %s\n", err);
		goto out;
	}
	/* Every thread (the scan pool starts in sl_inspect_new) inherits the
	 * mask; only the main thread takes these signals, by signalfd. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
	t.t0 = clock_us(CLOCK_MONOTONIC);

	t.in = sl_inspect_new(&t.conf->inspect, err, sizeof(err));
	if (!t.in) {
		fprintf(stderr, "sluice inline: %s\n", err);
		goto out;
	}
	t.eve = sl_eve_open_append(t.conf->eve);
	if (!t.eve) {
		fprintf(stderr, "sluice inline: cannot write events to %s: %s\n", t.conf->eve,
			strerror(errno));
		goto out;
	}
	sl_eve_set_line_flush(t.eve, true);

	rc = 1;
	t.n = t.conf->inl.n_queues;
	t.qs = calloc(t.n, sizeof(*t.qs));
	for (unsigned i = 0; t.qs && i < t.n; i++) {
		struct qw *q = &t.qs[i];
		q->top = &t;
		q->idx = i;
		q->queue = t.conf->inl.queues[i];
		q->cpu = i < t.conf->inl.n_cpus ? t.conf->inl.cpus[i] : -1;
		q->ep = q->tfd = q->cfd = -1;
		pthread_mutex_init(&q->mx, NULL);
	}
	if (!t.qs || open_queues(&t, err, sizeof(err)) != 0) {
		fprintf(stderr, "sluice inline: %s\n", t.qs ? err : "out of memory");
		goto out;
	}
	t.sfd = open_stats_socket(&t, uid, gid);
	t.proc = sl_nfq_proc_open(NULL);
	if (apply_privileges(uid, gid, err, sizeof(err)) != 0) {
		fprintf(stderr, "sluice inline: %s\n", err);
		goto out;
	}
	for (unsigned i = 0; i < t.n; i++) {
		if (worker_setup(&t, &t.qs[i], err, sizeof(err)) != 0) {
			fprintf(stderr, "sluice inline: %s\n", err);
			goto out;
		}
	}
	t.sig_fd = signalfd(-1, &sigs, SFD_CLOEXEC);
	t.ep = epoll_create1(EPOLL_CLOEXEC);
	if (t.sig_fd < 0 || t.ep < 0 || ep_add(t.ep, t.sig_fd, 0) < 0 ||
	    (t.sfd >= 0 && ep_add(t.ep, t.sfd, 1) < 0)) {
		fprintf(stderr, "sluice inline: event loop: %s\n", strerror(errno));
		goto out;
	}
	if (t.conf->inl.stats_interval_s) {
		time_t s = (time_t)t.conf->inl.stats_interval_s;
		struct itimerspec its = { { s, 0 }, { s, 0 } };
		t.stimer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
		if (t.stimer_fd < 0 || timerfd_settime(t.stimer_fd, 0, &its, NULL) < 0 ||
		    ep_add(t.ep, t.stimer_fd, 2) < 0) {
			fprintf(stderr, "sluice inline: stats timer: %s\n", strerror(errno));
			goto out;
		}
	}
	for (unsigned i = 0; i < t.n; i++) {
		struct qw *q = &t.qs[i];
		if (pthread_create(&q->th, NULL, worker_main, q) != 0) {
			fprintf(stderr, "sluice inline: cannot start worker %u\n", i);
			goto out;
		}
		q->started = true;
	}
	sl_inspect_describe(t.in, desc, sizeof(desc));
	queue_list(&t, qlist, sizeof(qlist));
	sl_log(SL_LOG_NOTICE, "ready: queue%s %s (%u worker%s), %s, user %s", t.n > 1 ? "s" : "",
	       qlist, t.n, t.n > 1 ? "s" : "", desc, uid >= 0 ? t.conf->inl.user : "root");
	sd_notifyf(0, "READY=1\nSTATUS=inspecting queue%s %s\nMAINPID=%lu", t.n > 1 ? "s" : "",
		   qlist, (unsigned long)getpid());

	rc = main_loop(&t);
	sd_notify(0, "STOPPING=1\nSTATUS=stopping");
out:
	stop_workers(&t);
	if (t.eve && rc == 0)
		stats_event(&t);	/* the final figures */
	free_workers(&t);
	if (t.sfd >= 0)
		unlink(t.conf->inl.stats_socket);
	close_fd(&t.sfd);
	close_fd(&t.sig_fd);
	close_fd(&t.stimer_fd);
	close_fd(&t.ep);
	if (t.proc)
		fclose(t.proc);
	sl_eve_close(t.eve);
	sl_inspect_free(t.in);
	for (unsigned i = 0; i < t.n_old; i++) {
		sl_config_free(t.old[i]);
		free(t.old[i]);
	}
	sl_config_free(t.conf);
	free(t.conf);
	return rc;
}
