/* The ClamAV content sink: buffers attachments (and the raw message) under
 * the 'scan' memcap, hands each to the scan pool the moment its part ends,
 * and applies the result to the message on the worker thread.
 *
 * One instance per worker (it owns that worker's scan port).  Scopes:
 *   - SL_SCOPE_ATTACHMENT: attachments and non-text parts, every reading;
 *   - SL_SCOPE_TEXT: only with scan_text (HTML bodies, say, when the raw
 *     message is not scanned);
 *   - SL_SCOPE_RAW: the whole message through ClamAV's mail parser, per
 *     raw_mode.  The builder ends the raw object last, so the on-anomaly
 *     test sees every mime.* anomaly the decoder raised.
 *
 * Outcomes (reason object = the part id, 0 for the raw message):
 *
 *   what                     reason (kind id)          anomaly          knob (default)
 *   virus                    virus <signature name>    -                on_virus (block)
 *   over max_object, or a    policy too-large-to-scan  scan.too_large   on_too_large (block)
 *     ClamAV size/files/depth limit
 *   memcap refusal           policy scan-memcap        scan.memcap      on_memcap (tempfail)
 *   error, cancel, stopped   policy scan-error         scan.error       on_error (tempfail)
 *   scan timeout             policy scan-timeout       scan.timeout     on_timeout (tempfail)
 *   job queue full           policy scan-queue-full    scan.queue_full  on_queue_full (tempfail)
 *                            (or scanned at once on the worker: queue_full_inline)
 *
 * The anomaly is recorded with sl_msg_anomaly() at the same action as the
 * policy reason.
 *
 * Queue-full choice: by default the object is marked tempfail rather than
 * scanned on the worker.  A worker stuck in a scan (up to max_scan_time)
 * stops serving every flow of its NFQUEUE queue; the kernel queue then
 * overflows, and with --queue-bypass that means packets pass uninspected.
 * A tempfail instead loses nothing (the sender retries) and says "overloaded"
 * where it belongs.  queue_full_inline trades that for back-pressure on
 * hosts where the scan load is bursty and latency matters less. */
#ifndef SL_SCAN_SINK_H
#define SL_SCAN_SINK_H

#include <stdbool.h>
#include <stdint.h>

#include "counters.h"
#include "memcap.h"
#include "scan_pool.h"
#include "sink.h"
#include "verdict.h"

enum sl_scan_raw_mode {
	SL_SCAN_RAW_ALWAYS = 0,
	SL_SCAN_RAW_ON_ANOMALY,		/* only when the message has a mime.* anomaly */
	SL_SCAN_RAW_NEVER,
};

const char *sl_scan_raw_mode_name(enum sl_scan_raw_mode m);
/* "always" | "on-anomaly" | "never"; -1 when unknown. */
int sl_scan_raw_mode_parse(const char *s, enum sl_scan_raw_mode *out);

/* A suggested size for the shared 'scan' memcap: room for a few maximal
 * objects per scan thread plus the queue. */
#define SL_SCAN_MEMCAP_DEFAULT (512ull << 20)

struct sl_scan_sink_config {
	uint64_t max_object;		/* bytes buffered per object; beyond = too large */
	enum sl_scan_raw_mode raw_mode;
	bool scan_text;			/* also scan text bodies */
	bool queue_full_inline;		/* queue full: scan on the worker */
	enum sl_action on_virus;
	enum sl_action on_too_large;
	enum sl_action on_memcap;
	enum sl_action on_error;
	enum sl_action on_timeout;
	enum sl_action on_queue_full;
};

/* max_object 25 MiB, raw_mode always, scan_text off, queue_full_inline off;
 * virus block, too_large block, memcap tempfail, error tempfail, timeout
 * tempfail, queue_full tempfail. */
void sl_scan_sink_config_defaults(struct sl_scan_sink_config *c);

struct sl_scan_sink;

/* pool: shared by all workers.  memcap: the shared 'scan' memcap (may be
 * NULL: unlimited).  ctr: this worker's counters (may be NULL).  cfg is
 * copied.  NULL on failure. */
struct sl_scan_sink *sl_scan_sink_new(const struct sl_scan_sink_config *cfg,
				      struct sl_scan_pool *pool, struct sl_memcap *memcap,
				      struct sl_counters *ctr);
/* Waits for every pending scan and applies it (messages settle), then
 * frees.  Call on the owning worker, before or after sl_scan_pool_stop(). */
void sl_scan_sink_free(struct sl_scan_sink *s);

/* The sink to register with the message builder. */
struct sl_sink sl_scan_sink_sink(struct sl_scan_sink *s);
extern const struct sl_sink_ops sl_scan_sink_ops;

#endif
