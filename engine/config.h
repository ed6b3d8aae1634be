/* The configuration file (libconfig syntax; every key, type and default is
 * in docs/config.md) and the settings it fills.
 *
 * Loading is all-or-nothing: an unknown key, a value of the wrong type or out
 * of range, or a syntax error stops the load with "FILE:LINE: reason" and
 * leaves the caller's previous configuration untouched (SIGHUP keeps running
 * on the old one).  Command-line flags are applied on top afterwards. */
#ifndef SL_CONFIG_H
#define SL_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include <libconfig.h>

#include "inspect.h"
#include "log.h"
#include "worker.h"

#define SL_MAX_QUEUES 64

struct sl_inline_config {
	uint16_t queues[SL_MAX_QUEUES];	/* NFQUEUE numbers, one worker each (default: 0) */
	unsigned n_queues;
	uint32_t queue_maxlen;		/* kernel queue length (default 4096) */
	bool fail_open;			/* NFQA_CFG_F_FAIL_OPEN (default true) */
	bool gso;			/* NFQA_CFG_F_GSO (default true) */
	uint32_t rcvbuf;		/* netlink socket buffer bytes (default 16 MiB) */
	uint32_t hold_timeout_ms;	/* a held packet's deadline (default 30000) */
	enum sl_action on_hold_timeout;	/* default tempfail */
	uint32_t bypass_mark;		/* mark bit set on bypassed flows (default 0x1) */
	bool bypass;			/* uninspectable flows leave the queue (default true) */
	uint32_t inject_mark;		/* SO_MARK of packets sluice sends (default 0x2) */
	uint64_t hold_memcap;		/* held packet copies per worker (default 64 MiB) */
	const char *user;		/* drop privileges to this user (default "nobody") */
	int cpus[SL_MAX_QUEUES];	/* CPU per worker, -1 = not pinned */
	unsigned n_cpus;
	const char *stats_socket;	/* unix socket for `sluice stats` */
	uint32_t stats_interval_s;	/* stats events period, 0 = off (default 60) */
};

struct sl_config {
	struct sl_worker_config worker;
	struct sl_inspect_config inspect;
	struct sl_inline_config inl;
	enum sl_log_level log_level;
	const char *eve;		/* event output path, "-" = stdout */
	const char *path;		/* the file loaded, or NULL */
	config_t lc;			/* owns the strings above */
	bool lc_live;
};

void sl_config_default(struct sl_config *c);
/* Loads path over the defaults into *c.  On error returns -1 with err set
 * and *c untouched (still defaults, or whatever it held). */
int sl_config_load(struct sl_config *c, const char *path, char *err, size_t errlen);
/* The checks across keys that the loader cannot make one key at a time
 * (inline marks sharing bits, a queue given twice); run them after
 * command-line overrides.  0, or -1 with err set ("FILE: reason"). */
int sl_config_check(const struct sl_config *c, char *err, size_t errlen);
void sl_config_free(struct sl_config *c);

/* The inspection options the commands share, over what c holds: rules
 * (n_rules > 0) replace rules.files; a ClamAV database turns ClamAV on and
 * required (it must load); no_clamav turns it off.  c borrows the strings. */
void sl_config_override_inspection(struct sl_config *c, const char *const *rules,
				   unsigned n_rules, const char *clamdb, bool no_clamav);

/* The action a message touched by anomaly a gets under c: policy.anomalies
 * for the anomalies it governs; scan.* follow policy.scan_* and
 * policy.too_large; rules.scan_error is always its default. */
enum sl_action sl_config_anomaly_action(const struct sl_config *c, enum sl_anomaly a);

/* "64M", "1G", "4096" -> bytes.  -1 on garbage or overflow. */
int sl_parse_size(const char *s, uint64_t *out);

/* Writes every key with its current value, in config syntax (for
 * `sluice config` and the docs test). */
void sl_config_dump(const struct sl_config *c, FILE *f);

#endif
