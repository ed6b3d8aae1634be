#include "config.h"

#include <ctype.h>
#include <stdarg.h>
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"

enum kind {
	K_BOOL, K_U32, K_SIZE, K_SIZE32, K_STR, K_ACTION, K_PORTS, K_QUEUES, K_CPUS,
	K_RULES, K_CSUM, K_LOGLEVEL, K_RAWMODE, K_ANOMALIES, K_SECS64,
};

/* Flags or'ed into a key's kind. */
#define KF_U16 0x100			/* K_U32 stored in a uint16_t */
#define KF_NONEMPTY 0x200		/* K_STR: "" is an error, not "none" */

struct key {
	const char *path;		/* "limits.max_flows" */
	unsigned kind;			/* enum kind | KF_* */
	size_t off;
	uint64_t min, max;		/* numeric bounds (inclusive) */
};

#define O(f) offsetof(struct sl_config, f)
#define U32(p, f, lo, hi) { p, K_U32, O(f), lo, hi }

/* Every key the file may hold.  docs/config.md documents each; the replay
 * test docs-config (test/replay/docs_config.py) checks that the two lists
 * agree, reading the keys from `sluice config`. */
static const struct key keys[] = {
	{ "log_level", K_LOGLEVEL, O(log_level), 0, 0 },
	{ "eve", K_STR | KF_NONEMPTY, O(eve), 0, 0 },
	{ "checksum", K_CSUM, O(worker.decode.csum), 0, 0 },

	{ "output.extract_dir", K_STR, O(worker.extract_dir), 0, 0 },
	{ "output.quarantine_dir", K_STR, O(worker.quarantine_dir), 0, 0 },
	{ "output.write_streams_dir", K_STR, O(worker.write_streams_dir), 0, 0 },

	{ "ports.smtp", K_PORTS, O(worker.app.smtp_ports), 0, 0 },
	{ "ports.imap", K_PORTS, O(worker.app.imap_ports), 0, 0 },
	{ "ports.pop3", K_PORTS, O(worker.app.pop3_ports), 0, 0 },
	{ "ports.tls", K_PORTS, O(worker.app.tls_ports), 0, 0 },
	{ "ports.detect_by_content", K_BOOL, O(worker.app.detect_by_content), 0, 0 },

	U32("limits.max_flows", worker.flow.max_flows, 1, 100000000),
	{ "limits.flow_memcap", K_SIZE, O(worker.flow.memcap), 1 << 20, UINT64_MAX },
	{ "limits.stream_memcap", K_SIZE, O(worker.stream_memcap), 1 << 20, UINT64_MAX },
	{ "limits.defrag_memcap", K_SIZE, O(worker.defrag.memcap), 1 << 16, UINT64_MAX },
	{ "limits.app_memcap", K_SIZE, O(worker.app_memcap), 1 << 16, UINT64_MAX },
	{ "limits.reassembly_depth", K_SIZE32, O(worker.tcp.ooo_depth), 4096, UINT32_MAX },
	{ "limits.max_unconsumed", K_SIZE32, O(worker.tcp.max_unconsumed), 4096, UINT32_MAX },
	{ "limits.max_line", K_SIZE32, O(worker.app.max_line), 512, 1 << 20 },
	{ "limits.max_message", K_SIZE, O(worker.app.max_message), 1024, UINT64_MAX },
	U32("limits.timeout_closed", worker.flow.timeout_closed_s, 1, 86400),
	U32("limits.timeout_embryonic", worker.flow.timeout_embryonic_s, 1, 86400),
	U32("limits.timeout_established", worker.flow.timeout_established_s, 1, 7 * 86400),
	{ "limits.defrag_timeout", K_SECS64, O(worker.defrag.timeout_us), 1, 600 },
	U32("limits.defrag_max_frags", worker.defrag.max_frags, 2, 8192),
	U32("limits.defrag_max_datagrams", worker.defrag.max_datagrams, 1, 1000000),
	{ "limits.midstream", K_BOOL, O(worker.tcp.midstream), 0, 0 },
	{ "limits.mime_max_depth", K_U32 | KF_U16, O(worker.mime.max_depth), 1, 100 },
	U32("limits.mime_max_parts", worker.mime.max_parts, 1, 100000),
	U32("limits.mime_max_header_bytes", worker.mime.max_header_bytes, 256, 16 << 20),
	U32("limits.mime_max_headers", worker.mime.max_headers, 1, 100000),
	{ "limits.mime_max_readings", K_U32 | KF_U16, O(worker.mime.max_readings), 1, 16 },

	{ "rules.files", K_RULES, O(inspect), 0, 0 },

	{ "clamav.enabled", K_BOOL, O(inspect.clamav), 0, 0 },
	{ "clamav.required", K_BOOL, O(inspect.clamav_required), 0, 0 },
	{ "clamav.database", K_STR | KF_NONEMPTY, O(inspect.clam.database), 0, 0 },
	U32("clamav.threads", inspect.pool.threads, 1, 256),
	U32("clamav.queue_len", inspect.pool.queue_len, 1, 1000000),
	{ "clamav.max_object", K_SIZE, O(inspect.sink.max_object), 1024, UINT64_MAX },
	{ "clamav.max_scan_size", K_SIZE, O(inspect.clam.max_scan_size), 1024, UINT64_MAX },
	{ "clamav.max_file_size", K_SIZE, O(inspect.clam.max_file_size), 1024, UINT64_MAX },
	U32("clamav.max_scan_time_ms", inspect.clam.max_scan_time_ms, 1, 3600000),
	U32("clamav.max_recursion", inspect.clam.max_recursion, 1, 100),
	U32("clamav.max_files", inspect.clam.max_files, 1, 10000000),
	{ "clamav.raw_message", K_RAWMODE, O(inspect.sink.raw_mode), 0, 0 },
	{ "clamav.scan_text", K_BOOL, O(inspect.sink.scan_text), 0, 0 },
	U32("clamav.cache_entries", inspect.cache_entries, 0, 10000000),
	{ "clamav.memcap", K_SIZE, O(inspect.scan_memcap), 1 << 20, UINT64_MAX },
	{ "clamav.queue_full_inline", K_BOOL, O(inspect.sink.queue_full_inline), 0, 0 },

	{ "policy.virus", K_ACTION, O(inspect.sink.on_virus), 0, 0 },
	{ "policy.too_large", K_ACTION, O(inspect.sink.on_too_large), 0, 0 },
	{ "policy.scan_error", K_ACTION, O(inspect.sink.on_error), 0, 0 },
	{ "policy.scan_timeout", K_ACTION, O(inspect.sink.on_timeout), 0, 0 },
	{ "policy.scan_memcap", K_ACTION, O(inspect.sink.on_memcap), 0, 0 },
	{ "policy.scan_queue_full", K_ACTION, O(inspect.sink.on_queue_full), 0, 0 },
	{ "policy.flow_table_full", K_ACTION, O(worker.flow_table_full), 0, 0 },
	{ "policy.app_memcap", K_ACTION, O(worker.on_app_memcap), 0, 0 },
	{ "policy.hold_timeout", K_ACTION, O(inl.on_hold_timeout), 0, 0 },
	{ "policy.anomalies", K_ANOMALIES, O(worker.anomaly_action), 0, 0 },

	{ "inline.queues", K_QUEUES, O(inl), 0, 0 },
	U32("inline.queue_maxlen", inl.queue_maxlen, 1, 10000000),
	{ "inline.fail_open", K_BOOL, O(inl.fail_open), 0, 0 },
	{ "inline.gso", K_BOOL, O(inl.gso), 0, 0 },
	{ "inline.socket_buffer", K_SIZE32, O(inl.rcvbuf), 65536, 1u << 31 },
	U32("inline.hold_timeout_ms", inl.hold_timeout_ms, 10, 600000),
	U32("inline.bypass_mark", inl.bypass_mark, 1, UINT32_MAX),
	{ "inline.bypass", K_BOOL, O(inl.bypass), 0, 0 },
	U32("inline.inject_mark", inl.inject_mark, 1, UINT32_MAX),
	{ "inline.hold_memcap", K_SIZE, O(inl.hold_memcap), 1 << 20, UINT64_MAX },
	{ "inline.user", K_STR, O(inl.user), 0, 0 },
	{ "inline.cpus", K_CPUS, O(inl), 0, 0 },
	{ "inline.stats_socket", K_STR, O(inl.stats_socket), 0, 0 },
	U32("inline.stats_interval", inl.stats_interval_s, 0, 86400),
};

void sl_config_default(struct sl_config *c)
{
	memset(c, 0, sizeof(*c));
	sl_worker_config_default(&c->worker);
	sl_inspect_config_default(&c->inspect);
	c->log_level = SL_LOG_NOTICE;
	c->eve = "-";
	c->inl.queues[0] = 0;
	c->inl.n_queues = 1;
	c->inl.queue_maxlen = 4096;
	c->inl.fail_open = true;
	c->inl.gso = true;
	c->inl.rcvbuf = 16u << 20;
	c->inl.hold_timeout_ms = 30000;
	c->inl.on_hold_timeout = SL_ACTION_TEMPFAIL;
	c->inl.bypass_mark = 0x1;
	c->inl.bypass = true;
	c->inl.inject_mark = 0x2;
	c->inl.hold_memcap = 64ull << 20;
	c->inl.user = "nobody";
	c->inl.stats_socket = "/run/sluice/stats.sock";
	c->inl.stats_interval_s = 60;
}

int sl_parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned shift = 0;

	errno = 0;
	if (!isdigit((unsigned char)*s))
		return -1;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno)
		return -1;
	switch (toupper((unsigned char)*end)) {
	case '\0': break;
	case 'K': shift = 10; end++; break;
	case 'M': shift = 20; end++; break;
	case 'G': shift = 30; end++; break;
	case 'T': shift = 40; end++; break;
	default: return -1;
	}
	if (shift && (*end == 'i' || *end == 'I'))
		end++;
	if (shift && (*end == 'b' || *end == 'B'))
		end++;
	if (*end || (shift && v > (UINT64_MAX >> shift)))
		return -1;
	*out = (uint64_t)v << shift;
	return 0;
}

/* The inspectors record their own anomalies with their own policy (the
 * scan sink: policy.scan_* and policy.too_large; the rule matcher: always
 * the default), so policy.anomalies cannot set them. */
static bool inspector_anomaly(enum sl_anomaly a)
{
	char layer[16];

	sl_anomaly_layer(a, layer, sizeof(layer));
	return strcmp(layer, "scan") == 0 || strcmp(layer, "rules") == 0;
}

enum sl_action sl_config_anomaly_action(const struct sl_config *c, enum sl_anomaly a)
{
	const struct sl_scan_sink_config *k = &c->inspect.sink;

	switch (a) {
	case SL_ANOM_SCAN_ERROR: return k->on_error;
	case SL_ANOM_SCAN_TIMEOUT: return k->on_timeout;
	case SL_ANOM_SCAN_TOO_LARGE: return k->on_too_large;
	case SL_ANOM_SCAN_MEMCAP: return k->on_memcap;
	case SL_ANOM_SCAN_QUEUE_FULL: return k->on_queue_full;
	default:
		return inspector_anomaly(a) ? sl_anomaly_default_action(a) :
			c->worker.anomaly_action[a];
	}
}

/* ---- one setting ---- */

struct ctx {
	char *err;
	size_t errlen;
	struct sl_config *c;
};

static int fail(struct ctx *x, const config_setting_t *s, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct ctx *x, const config_setting_t *s, const char *fmt, ...)
{
	const char *file = config_setting_source_file(s);
	char msg[320];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(x->err, x->errlen, "%s:%u: %s", file ? file : "(config)",
		 config_setting_source_line(s), msg);
	return -1;
}

static const char *full_name(const config_setting_t *s, char *buf, size_t size)
{
	const config_setting_t *chain[16];
	unsigned n = 0;
	size_t o = 0;

	for (; s && config_setting_name(s) && n < 16; s = config_setting_parent(s))
		chain[n++] = s;
	buf[0] = '\0';
	while (n--) {
		int w = snprintf(buf + o, size - o, "%s%s", o ? "." : "", config_setting_name(chain[n]));
		if (w < 0 || (size_t)w >= size - o)
			break;
		o += (size_t)w;
	}
	return buf;
}

static int get_u64(struct ctx *x, const config_setting_t *s, const struct key *k, uint64_t *v)
{
	char nb[128];
	int t = config_setting_type(s);

	if (t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64) {
		long long ll = config_setting_get_int64(s);
		if (ll < 0)
			return fail(x, s, "%s: must not be negative", full_name(s, nb, sizeof(nb)));
		*v = (uint64_t)ll;
	} else if (t == CONFIG_TYPE_STRING && (k->kind == K_SIZE || k->kind == K_SIZE32)) {
		if (sl_parse_size(config_setting_get_string(s), v) != 0)
			return fail(x, s, "%s: '%s' is not a size (use e.g. 65536, 512K, 64M, 1G)",
				    full_name(s, nb, sizeof(nb)), config_setting_get_string(s));
	} else {
		return fail(x, s, "%s: expected a number%s", full_name(s, nb, sizeof(nb)),
			    k->kind == K_SIZE || k->kind == K_SIZE32 ? " or a size like \"64M\"" : "");
	}
	if (*v < k->min || *v > k->max) {
		char range[96];
		snprintf(range, sizeof(range), "%llu..%llu", (unsigned long long)k->min,
			 (unsigned long long)k->max);
		return fail(x, s, "%s: out of range (allowed %s)", full_name(s, nb, sizeof(nb)), range);
	}
	return 0;
}

static const char *get_str(struct ctx *x, const config_setting_t *s)
{
	char nb[128];

	if (config_setting_type(s) != CONFIG_TYPE_STRING) {
		fail(x, s, "%s: expected a string in double quotes", full_name(s, nb, sizeof(nb)));
		return NULL;
	}
	return config_setting_get_string(s);
}

static int get_ports(struct ctx *x, const config_setting_t *s, uint16_t *ports)
{
	char nb[128];
	int n = config_setting_length(s);

	if (!config_setting_is_aggregate(s))
		return fail(x, s, "%s: expected a list of ports like [25, 587]",
			    full_name(s, nb, sizeof(nb)));
	if (n >= SL_APP_MAX_PORTS)
		return fail(x, s, "%s: at most 15 ports", full_name(s, nb, sizeof(nb)));
	for (int i = 0; i < n; i++) {
		config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		if (config_setting_type(e) != CONFIG_TYPE_INT || config_setting_get_int(e) < 1 ||
		    config_setting_get_int(e) > 65535)
			return fail(x, e, "%s: ports are numbers 1..65535", full_name(s, nb, sizeof(nb)));
		ports[i] = (uint16_t)config_setting_get_int(e);
	}
	ports[n] = 0;
	return 0;
}

static int get_intlist(struct ctx *x, const config_setting_t *s, long lo, long hi, int *out,
		       unsigned max, unsigned *n_out)
{
	char nb[128];
	int n = config_setting_length(s);

	if (!config_setting_is_aggregate(s) || n < 0 || (unsigned)n > max)
		return fail(x, s, "%s: expected a list of numbers like [0, 1]",
			    full_name(s, nb, sizeof(nb)));
	for (int i = 0; i < n; i++) {
		config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		if (config_setting_type(e) != CONFIG_TYPE_INT || config_setting_get_int(e) < lo ||
		    config_setting_get_int(e) > hi)
			return fail(x, e, "%s: element out of range", full_name(s, nb, sizeof(nb)));
		out[i] = config_setting_get_int(e);
	}
	*n_out = (unsigned)n;
	return 0;
}

static int apply(struct ctx *x, const config_setting_t *s, const struct key *k)
{
	char *base = (char *)x->c;
	void *dst = base + k->off;
	uint64_t v;
	const char *str;
	char nb[128];

	switch (k->kind & 0xff) {
	case K_BOOL:
		if (config_setting_type(s) != CONFIG_TYPE_BOOL)
			return fail(x, s, "%s: expected true or false", full_name(s, nb, sizeof(nb)));
		*(bool *)dst = config_setting_get_bool(s);
		return 0;
	case K_U32:
	case K_SIZE32:
		if (get_u64(x, s, k, &v))
			return -1;
		if (k->kind & KF_U16)
			*(uint16_t *)dst = (uint16_t)v;
		else
			*(uint32_t *)dst = (uint32_t)v;
		return 0;
	case K_SIZE:
		if (get_u64(x, s, k, &v))
			return -1;
		*(uint64_t *)dst = v;
		return 0;
	case K_SECS64:
		if (get_u64(x, s, k, &v))
			return -1;
		*(uint64_t *)dst = v * 1000000;
		return 0;
	case K_STR:
		if (!(str = get_str(x, s)))
			return -1;
		if (!*str && (k->kind & KF_NONEMPTY))
			return fail(x, s, "%s: must not be empty", full_name(s, nb, sizeof(nb)));
		*(const char **)dst = *str ? str : NULL;
		return 0;
	case K_ACTION:
		if (!(str = get_str(x, s)))
			return -1;
		if (sl_action_parse(str, (enum sl_action *)dst) != 0)
			return fail(x, s, "%s: '%s' is not an action (pass, alert, tempfail, block, "
				    "fail-open, fail-closed)", full_name(s, nb, sizeof(nb)), str);
		return 0;
	case K_CSUM:
		if (!(str = get_str(x, s)))
			return -1;
		if (sl_csum_mode_parse(str, (enum sl_csum_mode *)dst) != 0)
			return fail(x, s, "checksum: '%s' is not auto, on or off", str);
		return 0;
	case K_LOGLEVEL:
		if (!(str = get_str(x, s)))
			return -1;
		if (sl_log_level_parse(str, (enum sl_log_level *)dst) != 0)
			return fail(x, s, "log_level: '%s' is not error, warning, notice, info or "
				    "debug", str);
		return 0;
	case K_RAWMODE:
		if (!(str = get_str(x, s)))
			return -1;
		if (sl_scan_raw_mode_parse(str, (enum sl_scan_raw_mode *)dst) != 0)
			return fail(x, s, "clamav.raw_message: '%s' is not always, on-anomaly or never",
				    str);
		return 0;
	case K_PORTS:
		return get_ports(x, s, dst);
	case K_QUEUES: {
		int q[SL_MAX_QUEUES];
		unsigned n;
		if (get_intlist(x, s, 0, 65535, q, SL_MAX_QUEUES, &n))
			return -1;
		if (n == 0)
			return fail(x, s, "inline.queues: give at least one queue number");
		for (unsigned i = 0; i < n; i++)
			x->c->inl.queues[i] = (uint16_t)q[i];
		x->c->inl.n_queues = n;
		return 0;
	}
	case K_CPUS:
		return get_intlist(x, s, -1, 4095, x->c->inl.cpus, SL_MAX_QUEUES, &x->c->inl.n_cpus);
	case K_RULES: {
		int n = config_setting_length(s);
		if (!config_setting_is_aggregate(s) || n > SL_MAX_RULE_FILES)
			return fail(x, s, "rules.files: expected a list of file names");
		for (int i = 0; i < n; i++) {
			config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
			if (!(str = get_str(x, e)))
				return -1;
			x->c->inspect.rule_files[i] = str;
		}
		x->c->inspect.n_rule_files = (unsigned)n;
		return 0;
	}
	case K_ANOMALIES: {
		/* A group whose keys are anomaly names with '_' for '.':
		 *   anomalies = { stream_overlap_conflict = "block"; }
		 * libconfig names cannot hold a dot. */
		if (!config_setting_is_group(s))
			return fail(x, s, "policy.anomalies: expected a group like "
				    "{ stream_overlap_conflict = \"block\"; }");
		for (int i = 0; i < config_setting_length(s); i++) {
			config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
			char name[96];
			snprintf(name, sizeof(name), "%s", config_setting_name(e));
			char *us = strchr(name, '_');
			if (us)
				*us = '.';
			enum sl_anomaly a = sl_anomaly_by_name(name);
			if (a == SL_ANOM_MAX)
				return fail(x, e, "policy.anomalies: unknown anomaly '%s' (see `sluice "
					    "anomalies` for the list)", name);
			if (inspector_anomaly(a))
				return fail(x, e, "policy.anomalies: %s is not set here (scan.*: "
					    "policy.scan_*, policy.too_large; rules.scan_error: "
					    "always %s)", name,
					    sl_action_name(sl_anomaly_default_action(a)));
			if (!(str = get_str(x, e)))
				return -1;
			if (sl_action_parse(str, &x->c->worker.anomaly_action[a]) != 0)
				return fail(x, e, "policy.anomalies.%s: '%s' is not an action",
					    config_setting_name(e), str);
		}
		return 0;
	}
	}
	return fail(x, s, "internal: unhandled key %s", k->path);
}

static const struct key *find_key(const char *path)
{
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (strcmp(keys[i].path, path) == 0)
			return &keys[i];
	return NULL;
}

static int walk(struct ctx *x, const config_setting_t *g)
{
	char nb[256];

	for (int i = 0; i < config_setting_length(g); i++) {
		config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
		const struct key *k = find_key(full_name(s, nb, sizeof(nb)));
		if (k) {
			if (apply(x, s, k))
				return -1;
		} else if (config_setting_is_group(s)) {
			if (walk(x, s))
				return -1;
		} else {
			return fail(x, s, "unknown setting '%s' (docs/config.md lists every key)", nb);
		}
	}
	return 0;
}

int sl_config_load(struct sl_config *c, const char *path, char *err, size_t errlen)
{
	struct sl_config n = *c;
	struct ctx x = { err, errlen, &n };

	config_init(&n.lc);
	if (config_read_file(&n.lc, path) != CONFIG_TRUE) {
		if (config_error_type(&n.lc) == CONFIG_ERR_FILE_IO)
			snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
		else
			snprintf(err, errlen, "%s:%d: %s", config_error_file(&n.lc) ?
				 config_error_file(&n.lc) : path, config_error_line(&n.lc),
				 config_error_text(&n.lc));
		config_destroy(&n.lc);
		return -1;
	}
	if (walk(&x, config_root_setting(&n.lc)) != 0) {
		config_destroy(&n.lc);
		return -1;
	}
	n.lc_live = true;
	n.path = path;
	if (c->lc_live)
		config_destroy(&c->lc);
	*c = n;
	return 0;
}

int sl_config_check(const struct sl_config *c, char *err, size_t errlen)
{
	const char *where = c->path ? c->path : "(flags)";

	if (c->inl.bypass_mark & c->inl.inject_mark) {
		snprintf(err, errlen, "%s: inline.bypass_mark 0x%x and inline.inject_mark 0x%x "
			 "share bits", where, c->inl.bypass_mark, c->inl.inject_mark);
		return -1;
	}
	for (unsigned i = 0; i < c->inl.n_queues; i++)
		for (unsigned j = 0; j < i; j++)
			if (c->inl.queues[i] == c->inl.queues[j]) {
				snprintf(err, errlen, "%s: queue %u given twice", where,
					 c->inl.queues[i]);
				return -1;
			}
	return 0;
}

void sl_config_free(struct sl_config *c)
{
	if (c->lc_live)
		config_destroy(&c->lc);
	c->lc_live = false;
}

void sl_config_override_inspection(struct sl_config *c, const char *const *rules,
				   unsigned n_rules, const char *clamdb, bool no_clamav)
{
	if (n_rules) {
		memcpy(c->inspect.rule_files, rules, n_rules * sizeof(rules[0]));
		c->inspect.n_rule_files = n_rules;
	}
	if (clamdb) {
		c->inspect.clam.database = clamdb;
		c->inspect.clamav = true;
		c->inspect.clamav_required = true;
	}
	if (no_clamav)
		c->inspect.clamav = false;
}

void sl_config_dump(const struct sl_config *c, FILE *f)
{
	char group[64] = "";

	/* The key table is ordered by group, so one pass prints each group once. */
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		const struct key *k = &keys[i];
		const char *dot = strchr(k->path, '.');
		const char *name = dot ? dot + 1 : k->path;
		size_t glen = dot ? (size_t)(dot - k->path) : 0;
		if (glen != strlen(group) || strncmp(group, k->path, glen) != 0) {
			if (group[0])
				fprintf(f, "};\n");
			snprintf(group, sizeof(group), "%.*s", (int)glen, k->path);
			if (group[0])
				fprintf(f, "%s: {\n", group);
		}
		const char *ind = glen ? "  " : "";
		const void *src = (const char *)c + k->off;
		switch (k->kind & 0xff) {
		case K_BOOL: fprintf(f, "%s%s = %s;\n", ind, name, *(const bool *)src ? "true" : "false"); break;
		case K_U32: case K_SIZE32:
			fprintf(f, "%s%s = %u;\n", ind, name, (k->kind & KF_U16) ?
				*(const uint16_t *)src : *(const uint32_t *)src);
			break;
		case K_SIZE: fprintf(f, "%s%s = %lluL;\n", ind, name, (unsigned long long)*(const uint64_t *)src); break;
		case K_SECS64: fprintf(f, "%s%s = %llu;\n", ind, name, (unsigned long long)(*(const uint64_t *)src / 1000000)); break;
		case K_STR: fprintf(f, "%s%s = \"%s\";\n", ind, name, *(const char *const *)src ? *(const char *const *)src : ""); break;
		case K_ACTION: fprintf(f, "%s%s = \"%s\";\n", ind, name, sl_action_name(*(const enum sl_action *)src)); break;
		case K_CSUM: fprintf(f, "%s%s = \"%s\";\n", ind, name, sl_csum_mode_name(*(const enum sl_csum_mode *)src)); break;
		case K_LOGLEVEL: fprintf(f, "%s%s = \"%s\";\n", ind, name, sl_log_level_name(*(const enum sl_log_level *)src)); break;
		case K_RAWMODE: fprintf(f, "%s%s = \"%s\";\n", ind, name, sl_scan_raw_mode_name(*(const enum sl_scan_raw_mode *)src)); break;
		case K_PORTS: {
			const uint16_t *p = src;
			fprintf(f, "%s%s = [", ind, name);
			for (unsigned j = 0; j < SL_APP_MAX_PORTS && p[j]; j++)
				fprintf(f, "%s%u", j ? ", " : "", p[j]);
			fprintf(f, "];\n");
			break;
		}
		case K_QUEUES:
			fprintf(f, "%s%s = [", ind, name);
			for (unsigned j = 0; j < c->inl.n_queues; j++)
				fprintf(f, "%s%u", j ? ", " : "", c->inl.queues[j]);
			fprintf(f, "];\n");
			break;
		case K_CPUS:
			fprintf(f, "%s%s = [", ind, name);
			for (unsigned j = 0; j < c->inl.n_cpus; j++)
				fprintf(f, "%s%d", j ? ", " : "", c->inl.cpus[j]);
			fprintf(f, "];\n");
			break;
		case K_RULES:
			fprintf(f, "%s%s = [", ind, name);
			for (unsigned j = 0; j < c->inspect.n_rule_files; j++)
				fprintf(f, "%s\"%s\"", j ? ", " : "", c->inspect.rule_files[j]);
			fprintf(f, "];\n");
			break;
		case K_ANOMALIES:
			fprintf(f, "%s%s = {\n", ind, name);
			for (unsigned a = 0; a < SL_ANOM_MAX; a++) {
				char nm[96];
				if (inspector_anomaly((enum sl_anomaly)a))
					continue;
				snprintf(nm, sizeof(nm), "%s", sl_anomaly_name(a));
				char *d = strchr(nm, '.');
				if (d)
					*d = '_';
				fprintf(f, "%s  %s = \"%s\";\n", ind, nm,
					sl_action_name(c->worker.anomaly_action[a]));
			}
			fprintf(f, "%s};\n", ind);
			break;
		}
	}
	if (group[0])
		fprintf(f, "};\n");
}
