#include "stats.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/netfilter.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "cmd.h"
#include "config.h"

static void add_u64(json_t *o, const char *k, uint64_t v)
{
	json_object_set_new(o, k, json_integer((json_int_t)v));
}

struct kv {
	const char *k;
	uint64_t v;
};

static json_t *obj_of(const struct kv *f, size_t n)
{
	json_t *o = json_object();

	for (size_t i = 0; i < n; i++)
		add_u64(o, f[i].k, f[i].v);
	return o;
}

/* A JSON object of named counts: OBJ({ "a", 1 }, { "b", 2 }) */
#define OBJ(...) obj_of((const struct kv[]){ __VA_ARGS__ }, \
			sizeof((const struct kv[]){ __VA_ARGS__ }) / sizeof(struct kv))

json_t *sl_stats_hist_json(const struct sl_hist *h)
{
	json_t *o = json_object(), *b = json_array();

	add_u64(o, "n", h->n);
	add_u64(o, "p50", sl_hist_quantile(h, 0.50));
	add_u64(o, "p90", sl_hist_quantile(h, 0.90));
	add_u64(o, "p99", sl_hist_quantile(h, 0.99));
	add_u64(o, "max", h->max);
	add_u64(o, "mean", h->n ? h->sum / h->n : 0);
	for (unsigned i = 0; i < SL_HIST_BUCKETS; i++) {
		uint64_t lo, hi;
		if (!h->b[i])
			continue;
		sl_hist_bounds(i, &lo, &hi);
		json_t *e = json_array();
		if (hi > INT64_MAX)
			hi = INT64_MAX;
		json_array_append_new(e, json_integer((json_int_t)hi));
		json_array_append_new(e, json_integer((json_int_t)h->b[i]));
		json_array_append_new(b, e);
	}
	json_object_set_new(o, "buckets", b);
	return o;
}

static void sum_nfq(struct sl_nfq_stats *d, const struct sl_nfq_stats *s)
{
	d->packets += s->packets;
	d->bytes += s->bytes;
	d->truncated += s->truncated;
	d->enobufs += s->enobufs;
	d->recv_errors += s->recv_errors;
	d->ids_skipped += s->ids_skipped;
	d->verdicts += s->verdicts;
	d->batch_msgs += s->batch_msgs;
	d->single_msgs += s->single_msgs;
	d->sends += s->sends;
	d->send_errors += s->send_errors;
	d->verdict_errors += s->verdict_errors;
	for (unsigned i = 0; i < 5; i++)
		d->by_verdict[i] += s->by_verdict[i];
	sl_hist_merge(&d->latency_us, &s->latency_us);
}

static void sum_inline(struct sl_worker_inline_stats *d, const struct sl_worker_inline_stats *s)
{
	const uint64_t *a = &s->held;
	uint64_t *b = &d->held;

	/* Every field up to the histograms is a plain count. */
	for (size_t i = 0; i < offsetof(struct sl_worker_inline_stats, hold_us) / sizeof(uint64_t);
	     i++)
		b[i] += a[i];
	sl_hist_merge(&d->hold_us, &s->hold_us);
	sl_hist_merge(&d->settle_us, &s->settle_us);
}

static json_t *queue_json(const struct sl_wstats *w, const struct sl_nfq_proc *p, bool ok)
{
	json_t *o = OBJ({ "queue", w->queue }, { "packets", w->nfq.packets },
			{ "bytes", w->nfq.bytes }, { "flows_now", w->flows_now },
			{ "held_now", w->inl.held_now });

	json_object_set_new(o, "netlink", OBJ(
		{ "enobufs", w->nfq.enobufs }, { "ids_skipped", w->nfq.ids_skipped },
		{ "truncated", w->nfq.truncated }, { "recv_errors", w->nfq.recv_errors },
		{ "send_errors", w->nfq.send_errors }, { "verdict_errors", w->nfq.verdict_errors },
		{ "batch_msgs", w->nfq.batch_msgs }, { "single_msgs", w->nfq.single_msgs },
		{ "sends", w->nfq.sends }, { "own_packets", w->own_packets },
		{ "bypass_loops", w->bypass_loops }));
	if (ok)
		json_object_set_new(o, "kernel", OBJ(
			{ "queue_total", p->queue_total }, { "queue_dropped", p->queue_dropped },
			{ "user_dropped", p->user_dropped }, { "id_sequence", p->id_sequence }));
	return o;
}

json_t *sl_stats_json(const struct sl_wstats *ws, unsigned n, const struct sl_stats_extra *x)
{
	json_t *o = json_object(), *qs = json_array(), *j;
	struct sl_counters ctr = { { 0 } };
	struct sl_worker_totals tot;
	struct sl_worker_inline_stats in;
	struct sl_nfq_stats nq;
	uint64_t kernel_dropped = 0, flows = 0;

	memset(&tot, 0, sizeof(tot));
	memset(&in, 0, sizeof(in));
	memset(&nq, 0, sizeof(nq));
	for (unsigned i = 0; i < n; i++) {
		sl_counters_merge(&ctr, &ws[i].ctr);
		tot.messages += ws[i].totals.messages;
		tot.incomplete += ws[i].totals.incomplete;
		tot.alerts += ws[i].totals.alerts;
		for (unsigned a = 0; a <= SL_ACTION_BLOCK; a++)
			tot.by_action[a] += ws[i].totals.by_action[a];
		sum_inline(&in, &ws[i].inl);
		sum_nfq(&nq, &ws[i].nfq);
		flows += ws[i].flows_now;
		json_array_append_new(qs, queue_json(&ws[i], &x->proc[i], x->proc_ok[i]));
		if (x->proc_ok[i])
			kernel_dropped += x->proc[i].queue_dropped + x->proc[i].user_dropped;
	}
	add_u64(o, "uptime_s", x->uptime_s);
	add_u64(o, "packets", nq.packets);
	add_u64(o, "bytes", nq.bytes);
	add_u64(o, "flows_now", flows);
	json_object_set_new(o, "verdicts", OBJ(
		{ "accept", nq.by_verdict[NF_ACCEPT] }, { "drop", nq.by_verdict[NF_DROP] },
		{ "bypass", nq.by_verdict[NF_REPEAT] }, { "held", in.held }));
	json_object_set_new(o, "queue_loss", OBJ(
		{ "kernel_dropped", kernel_dropped }, { "ids_skipped", nq.ids_skipped },
		{ "enobufs", nq.enobufs }));
	json_object_set_new(o, "latency_us", sl_stats_hist_json(&nq.latency_us));

	j = OBJ({ "now", in.held_now }, { "bytes_now", in.held_bytes_now },
		{ "released", in.released }, { "dropped", in.dropped },
		{ "retrans_dropped", in.retrans_dropped }, { "wait_holds", in.wait_holds },
		{ "timeouts", in.hold_timeouts }, { "refused", in.hold_refused },
		{ "unheld_completions", in.unheld_completions });
	json_object_set_new(j, "time_us", sl_stats_hist_json(&in.hold_us));
	json_object_set_new(o, "held", j);
	json_object_set_new(o, "settle_us", sl_stats_hist_json(&in.settle_us));

	j = json_object();
	add_u64(j, "total", tot.messages);
	for (unsigned a = 0; a <= SL_ACTION_BLOCK; a++)
		add_u64(j, sl_action_name((enum sl_action)a), tot.by_action[a]);
	add_u64(j, "incomplete", tot.incomplete);
	add_u64(j, "alerts", tot.alerts);
	json_object_set_new(o, "messages", j);

	json_object_set_new(o, "refused_flows", OBJ(
		{ "tempfail", in.refusals[SL_ACTION_TEMPFAIL] },
		{ "block", in.refusals[SL_ACTION_BLOCK] }, { "smtp_replies", in.smtp_replies },
		{ "resets", in.resets }, { "killed_dropped", in.killed_dropped },
		{ "inject_errors", in.inject_errors }));
	json_object_set_new(o, "memcap_hits", OBJ(
		{ "stream", ctr.v[SL_CTR_TCP_MEMCAP_HITS] }, { "flow", ctr.v[SL_CTR_FLOWS_MEMCAP] },
		{ "defrag", ctr.v[SL_CTR_DEFRAG_MEMCAP] }, { "scan", ctr.v[SL_CTR_SCAN_MEMCAP] },
		{ "hold", in.hold_refused }, { "app", ctr.v[SL_CTR_APP_MEMCAP] }));

	j = OBJ({ "jobs", ctr.v[SL_CTR_SCAN_JOBS] }, { "bytes", ctr.v[SL_CTR_SCAN_BYTES] });
	if (x->pool) {
		add_u64(j, "scanned", x->pool->scanned);
		add_u64(j, "cache_hits", x->pool->cache_hits);
		add_u64(j, "scan_ms_total", x->pool->scan_ns / 1000000);
		add_u64(j, "last_scan_us", x->pool->last_scan_ns / 1000);
		add_u64(j, "queue_peak", x->pool->queue_peak);
		add_u64(j, "refused_full", x->pool->refused_full);
	}
	json_object_set_new(o, "scan", j);
	json_object_set_new(o, "queues", qs);

	j = json_object();
	for (unsigned i = 0; i < SL_CTR_MAX; i++)
		if (ctr.v[i])
			add_u64(j, sl_counter_name((enum sl_counter)i), ctr.v[i]);
	json_object_set_new(o, "counters", j);
	return o;
}

/* ---- the socket ---- */

int sl_stats_listen(const char *path, int uid, int gid, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "stats socket path too long: %s", path);
		return -1;
	}
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	/* A socket left by a previous run would make bind fail. */
	struct stat st;
	if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
		unlink(path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || chmod(path, 0660) < 0 ||
	    ((uid != -1 || gid != -1) && chown(path, (uid_t)uid, (gid_t)gid) < 0) ||
	    listen(fd, 8) < 0)
		goto fail;
	return fd;
fail:
	snprintf(err, errlen, "stats socket %s: %s", path, strerror(errno));
	if (fd >= 0)
		close(fd);
	return -1;
}

void sl_stats_serve(int lfd, const char *text)
{
	struct timeval tv = { 1, 0 };
	int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

	if (c < 0)
		return;
	setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	size_t len = strlen(text), off = 0;
	while (off < len) {
		ssize_t w = send(c, text + off, len - off, MSG_NOSIGNAL);
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	close(c);
}

/* ---- sluice stats ---- */

static void stats_usage(FILE *f)
{
	fprintf(f,
		"usage: sluice stats [options]\n"
		"\n"
		"Prints the live figures of a running `sluice inline` as JSON.\n"
		"\n"
		"  -s, --socket PATH   the stats socket (default: inline.stats_socket of the\n"
		"                      config file, else /run/sluice/stats.sock)\n"
		"  -c, --config FILE   read inline.stats_socket from FILE\n"
		"  -p, --pretty        indent the JSON\n"
		"  -h, --help          this text\n"
		"\n"
		"exit status: 0 printed; 1 sluice is not running (cannot connect); 2 usage.\n");
}

int sl_cmd_stats(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "config", required_argument, NULL, 'c' },
		{ "pretty", no_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	const char *path = NULL, *cfg_path = NULL;
	bool pretty = false;
	struct sl_config conf;
	char err[512];
	int c, rc = 1;

	optind = 1;
	while ((c = getopt_long(argc, argv, "s:c:ph", opts, NULL)) != -1) {
		switch (c) {
		case 's': path = optarg; break;
		case 'c': cfg_path = optarg; break;
		case 'p': pretty = true; break;
		case 'h': stats_usage(stdout); return 0;
		default: stats_usage(stderr); return 2;
		}
	}
	sl_config_default(&conf);
	if (!path && cfg_path) {
		if (sl_config_load(&conf, cfg_path, err, sizeof(err)) != 0) {
			fprintf(stderr, "sluice stats: %s\n", err);
			return 2;
		}
	}
	if (!path)
		path = conf.inl.stats_socket;

	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "sluice stats: bad socket %s\n", path);
		goto out;
	}
	strcpy(sa.sun_path, path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "sluice stats: cannot connect to %s: %s (is sluice inline "
			"running?)\n", path, strerror(errno));
		goto out;
	}
	char *buf = NULL;
	size_t len = 0, cap = 0;
	for (;;) {
		if (len + 4096 > cap) {
			char *nb = realloc(buf, cap = cap ? cap * 2 : 65536);
			if (!nb)
				break;
			buf = nb;
		}
		ssize_t r = read(fd, buf + len, cap - len);
		if (r <= 0)
			break;
		len += (size_t)r;
	}
	if (!buf || !len) {
		fprintf(stderr, "sluice stats: no answer from %s\n", path);
		free(buf);
		goto out;
	}
	json_error_t je;
	json_t *j = json_loadb(buf, len, 0, &je);
	if (!j) {
		fprintf(stderr, "sluice stats: unreadable answer: %s\n", je.text);
	} else {
		json_dumpf(j, stdout, pretty ? JSON_INDENT(2) | JSON_PRESERVE_ORDER :
			   JSON_COMPACT | JSON_PRESERVE_ORDER);
		fputc('\n', stdout);
		json_decref(j);
		rc = 0;
	}
	free(buf);
out:
	if (fd >= 0)
		close(fd);
	sl_config_free(&conf);
	return rc;
}
