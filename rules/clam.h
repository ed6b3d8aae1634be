/* The libclamav wrapper: load a signature database into an engine, apply the
 * limits, scan a buffer from memory, and swap engines on reload.
 *
 * An engine (struct sl_clam_engine) is immutable once published and
 * reference-counted: a scan takes a reference with sl_clam_acquire() and
 * drops it with sl_clam_release().  sl_clam_reload() builds the new engine
 * aside (the old one keeps scanning meanwhile), swaps the pointer, and the
 * old engine is freed by whoever drops its last reference.  Each published
 * engine carries a generation number, so cached results made by an older
 * engine are recognised as stale (see clam_cache.h).
 *
 * Memory: a reload holds two engines at once (the official database takes
 * roughly 1 GiB per engine); size the host for it.
 *
 * Limits fail closed: every limit ClamAV applies (file size, scan size,
 * files, recursion, scan time) is reported as SL_CLAM_LIMIT or
 * SL_CLAM_TIMEOUT, never as clean.  Left to itself libclamav answers
 * "clean" for content it skipped because of a limit, and for a scan it
 * abandoned at the time limit; CL_SCAN_HEURISTIC_EXCEEDS_MAX is therefore
 * always on and its "Heuristics.Limits.Exceeded.*" alerts are mapped back.
 * Whether a limit blocks is the caller's policy, not this module's. */
#ifndef SL_CLAM_H
#define SL_CLAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum sl_clam_status {
	SL_CLAM_CLEAN = 0,
	SL_CLAM_VIRUS,			/* name = signature name */
	SL_CLAM_LIMIT,			/* size/files/recursion limit hit; name = which */
	SL_CLAM_TIMEOUT,		/* the scan-time limit stopped the scan */
	SL_CLAM_ERROR,			/* libclamav failed; name = its error text */
	SL_CLAM_CANCELLED,		/* never scanned: the scan pool shut down first */
};

const char *sl_clam_status_name(enum sl_clam_status s);

/* Deterministic outcomes (same bytes + same engine = same answer) may be
 * cached; timeouts, errors and cancellations depend on load and may not. */
static inline bool sl_clam_status_cacheable(enum sl_clam_status s)
{
	return s == SL_CLAM_CLEAN || s == SL_CLAM_VIRUS || s == SL_CLAM_LIMIT;
}

#define SL_CLAM_NAME_MAX 96		/* = SL_REASON_ID_MAX: the name becomes a reason id */

struct sl_clam_result {
	enum sl_clam_status status;
	char name[SL_CLAM_NAME_MAX];	/* "" when clean */
	uint64_t generation;		/* of the engine that produced it; 0 = no engine */
	bool cached;			/* answered by the result cache, not by a scan */
};

#define SL_CLAM_DEFAULT_DATABASE "/var/lib/clamav"

struct sl_clam_config {
	const char *database;		/* directory, or one file (.cvd .hdb .ndb ...) */
	const char *tmpdir;		/* ClamAV's scratch dir; NULL = its default */
	uint64_t max_scan_size;		/* bytes scanned per object, unpacked content too */
	uint64_t max_file_size;		/* largest single file: the object or a member */
	uint32_t max_scan_time_ms;	/* per object */
	uint32_t max_recursion;		/* archive / container nesting */
	uint32_t max_files;		/* members scanned per object */
	bool clamav_cache;		/* libclamav's own clean-file cache */
};

/* database /var/lib/clamav; max_scan_size 100 MiB; max_file_size 100 MiB
 * (keep it >= the scan sink's max_object, else big objects hit
 * SL_CLAM_LIMIT instead of the sink's too-large path; and note that
 * libclamav scans an archive member larger than this truncated to this
 * size, WITHOUT any alert, which is why the default is not lower);
 * max_scan_time 10 s (an SMTP client waits for the end-of-data reply, and a
 * scan stuck that long is far more likely hostile than legitimate);
 * max_recursion 16; max_files 10000; clamav_cache on. */
void sl_clam_config_defaults(struct sl_clam_config *c);

struct sl_clam;			/* the reload point: holds the current engine */
struct sl_clam_engine;		/* one loaded, compiled, immutable engine */

/* Initialises libclamav once per process (idempotent, thread-safe).  Also
 * routes libclamav's messages to sl_log.  Returns 0 or -1. */
int sl_clam_global_init(void);

/* Loads cfg->database and compiles the first engine (generation 1).  A
 * database with no signature is an error: an empty engine would pass
 * everything.  Returns NULL with a message in err on failure.  cfg is
 * copied. */
struct sl_clam *sl_clam_new(const struct sl_clam_config *cfg, char *err, size_t errlen);

/* Builds a new engine from 'database' (NULL = the configured one; a new path
 * is remembered) with the same limits, then publishes it.  Scans running on
 * the old engine finish on it.  On failure the current engine stays and -1
 * is returned with a message in err.  Reloads are serialised. */
int sl_clam_reload(struct sl_clam *c, const char *database, char *err, size_t errlen);

/* Drops the reload point's reference; engines still acquired live on
 * until released. */
void sl_clam_free(struct sl_clam *c);

/* A reference to the current engine; never NULL once sl_clam_new()
 * succeeded.  Cheap (a mutex around a pointer load and an increment). */
struct sl_clam_engine *sl_clam_acquire(struct sl_clam *c);
void sl_clam_release(struct sl_clam_engine *e);

uint64_t sl_clam_engine_generation(const struct sl_clam_engine *e);
unsigned sl_clam_engine_signatures(const struct sl_clam_engine *e);

/* Scans [p, p+n) as one file with every parser on (archives, PE, ELF, OLE2,
 * PDF, HTML, XML documents, mail, images ...).  Mail parsing means a raw
 * RFC 5322 message is taken apart by ClamAV's own MIME parser and every
 * part scanned: a second reading, independent of ours.  Safe from any
 * thread; the bytes must stay valid and unchanged for the call. */
void sl_clam_scan(struct sl_clam_engine *e, const void *p, size_t n, struct sl_clam_result *r);

#endif
