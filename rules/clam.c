#include "clam.h"

#include <clamav.h>
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "log.h"

struct sl_clam_engine {
	_Atomic unsigned refs;
	struct cl_engine *cl;
	uint64_t generation;		/* set before publication, never after */
	unsigned sigs;
};

struct sl_clam {
	pthread_mutex_t lock;		/* guards cur: load + ref must be atomic vs. a swap */
	struct sl_clam_engine *cur;
	uint64_t generation;
	pthread_mutex_t reload_lock;	/* one reload at a time; guards cfg and database */
	struct sl_clam_config cfg;
	char *database;			/* owned copy; cfg.database points here */
	char *tmpdir;
};

/* Everything ClamAV can parse.  Images and their fuzzy hashes cost a little
 * per picture but are what clamscan does by default, and some official
 * logical signatures need them. */
#define SL_CLAM_PARSE_ALL (CL_SCAN_PARSE_ARCHIVE | CL_SCAN_PARSE_ELF | CL_SCAN_PARSE_PDF |	\
			   CL_SCAN_PARSE_SWF | CL_SCAN_PARSE_HWP3 | CL_SCAN_PARSE_XMLDOCS |	\
			   CL_SCAN_PARSE_MAIL | CL_SCAN_PARSE_OLE2 | CL_SCAN_PARSE_HTML |	\
			   CL_SCAN_PARSE_PE | CL_SCAN_PARSE_ONENOTE | CL_SCAN_PARSE_IMAGE |	\
			   CL_SCAN_PARSE_IMAGE_FUZZY_HASH)

#define LIMIT_PREFIX "Heuristics.Limits.Exceeded."

static const char *const status_names[] = {
	[SL_CLAM_CLEAN] = "clean",
	[SL_CLAM_VIRUS] = "virus",
	[SL_CLAM_LIMIT] = "limit",
	[SL_CLAM_TIMEOUT] = "timeout",
	[SL_CLAM_ERROR] = "error",
	[SL_CLAM_CANCELLED] = "cancelled",
};

const char *sl_clam_status_name(enum sl_clam_status s)
{
	return (unsigned)s <= SL_CLAM_CANCELLED ? status_names[s] : "unknown";
}

void sl_clam_config_defaults(struct sl_clam_config *c)
{
	memset(c, 0, sizeof(*c));
	c->database = SL_CLAM_DEFAULT_DATABASE;
	c->max_scan_size = 100ull << 20;
	c->max_file_size = 100ull << 20;
	c->max_scan_time_ms = 10000;
	c->max_recursion = 16;
	c->max_files = 10000;
	c->clamav_cache = true;
}

static void set_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* libclamav does not always fill 'virname' (a top-level file over the size
 * limit is reported only through this callback), so the first name it
 * announces is kept here too. */
struct scan_ctx {
	char name[SL_CLAM_NAME_MAX];
};

static void clam_virus_found(int fd, const char *virname, void *context)
{
	struct scan_ctx *ctx = context;

	if (ctx && virname && !ctx->name[0])
		snprintf(ctx->name, sizeof(ctx->name), "%s", virname);
}

/* libclamav's messages (database warnings, parser complaints about hostile
 * input) go to our log one level quieter than ClamAV rates them: a parser
 * warning on garbage is the normal case here, not news. */
static void clam_msg(enum cl_msg severity, const char *fullmsg, const char *msg, void *ctx)
{
	enum sl_log_level lvl = severity == CL_MSG_ERROR ? SL_LOG_WARN :
				severity == CL_MSG_WARN ? SL_LOG_INFO : SL_LOG_DEBUG;
	size_t n = strlen(msg);

	if (!sl_log_enabled(lvl))
		return;
	while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		n--;
	sl_log(lvl, "clamav: %.*s", (int)n, msg);
}

static pthread_once_t clam_once = PTHREAD_ONCE_INIT;
static cl_error_t clam_init_ret = CL_ERROR;	/* written once, inside clam_once */

static void clam_init_once(void)
{
	cl_set_clcb_msg(clam_msg);
	clam_init_ret = cl_init(CL_INIT_DEFAULT);
}

int sl_clam_global_init(void)
{
	pthread_once(&clam_once, clam_init_once);
	if (clam_init_ret != CL_SUCCESS) {
		sl_log(SL_LOG_ERR, "clamav: cl_init: %s", cl_strerror(clam_init_ret));
		return -1;
	}
	return 0;
}

static void engine_destroy(struct sl_clam_engine *e)
{
	if (e->cl)
		cl_engine_free(e->cl);
	free(e);
}

static int set_num(struct cl_engine *cl, enum cl_engine_field f, long long v, const char *what,
		   char *err, size_t errlen)
{
	cl_error_t r = cl_engine_set_num(cl, f, v);

	if (r != CL_SUCCESS) {
		set_err(err, errlen, "clamav: setting %s: %s", what, cl_strerror(r));
		return -1;
	}
	return 0;
}

/* True for a directory with nothing but dot files: the state Debian's clamav
 * package leaves /var/lib/clamav in until freshclam runs.  Said plainly, as
 * libclamav would only answer "Can't open file or directory". */
static bool dir_is_empty(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;
	bool empty = true;

	if (!d)
		return false;
	while (empty && (de = readdir(d)) != NULL)
		empty = de->d_name[0] == '.';
	closedir(d);
	return empty;
}

/* Loads and compiles one engine.  Slow (seconds for the official
 * database): runs on the reload path, never on a worker. */
static struct sl_clam_engine *engine_load(const struct sl_clam_config *cfg, char *err,
					  size_t errlen)
{
	struct sl_clam_engine *e;
	struct stat st;
	cl_error_t r;

	if (!cfg->database || stat(cfg->database, &st) != 0) {
		set_err(err, errlen, "clamav database %s: %s",
			cfg->database ? cfg->database : "(none)",
			cfg->database ? strerror(errno) : "not configured");
		return NULL;
	}
	if (S_ISDIR(st.st_mode) && dir_is_empty(cfg->database)) {
		set_err(err, errlen, "clamav database %s is an empty directory", cfg->database);
		return NULL;
	}
	e = calloc(1, sizeof(*e));
	if (!e || !(e->cl = cl_engine_new())) {
		set_err(err, errlen, "clamav: out of memory creating an engine");
		free(e);
		return NULL;
	}
	atomic_init(&e->refs, 1);
	if (set_num(e->cl, CL_ENGINE_MAX_SCANSIZE, (long long)cfg->max_scan_size, "max scan size",
		    err, errlen) ||
	    set_num(e->cl, CL_ENGINE_MAX_FILESIZE, (long long)cfg->max_file_size, "max file size",
		    err, errlen) ||
	    set_num(e->cl, CL_ENGINE_MAX_SCANTIME, cfg->max_scan_time_ms, "max scan time",
		    err, errlen) ||
	    set_num(e->cl, CL_ENGINE_MAX_RECURSION, cfg->max_recursion, "max recursion",
		    err, errlen) ||
	    set_num(e->cl, CL_ENGINE_MAX_FILES, cfg->max_files, "max files", err, errlen) ||
	    (!cfg->clamav_cache &&
	     set_num(e->cl, CL_ENGINE_DISABLE_CACHE, 1, "cache", err, errlen)))
		goto fail;
	if (cfg->tmpdir &&
	    (r = cl_engine_set_str(e->cl, CL_ENGINE_TMPDIR, cfg->tmpdir)) != CL_SUCCESS) {
		set_err(err, errlen, "clamav: tmpdir %s: %s", cfg->tmpdir, cl_strerror(r));
		goto fail;
	}
	cl_engine_set_clcb_virus_found(e->cl, clam_virus_found);
	r = cl_load(cfg->database, e->cl, &e->sigs, CL_DB_STDOPT);
	if (r != CL_SUCCESS) {
		set_err(err, errlen, "clamav: loading %s: %s", cfg->database, cl_strerror(r));
		goto fail;
	}
	if (e->sigs == 0) {
		set_err(err, errlen, "clamav: %s holds no signature", cfg->database);
		goto fail;
	}
	r = cl_engine_compile(e->cl);
	if (r != CL_SUCCESS) {
		set_err(err, errlen, "clamav: compiling %s: %s", cfg->database, cl_strerror(r));
		goto fail;
	}
	return e;
fail:
	engine_destroy(e);
	return NULL;
}

static char *dup_opt(const char *s, bool *oom)
{
	char *d;

	if (!s)
		return NULL;
	d = strdup(s);
	if (!d)
		*oom = true;
	return d;
}

struct sl_clam *sl_clam_new(const struct sl_clam_config *cfg, char *err, size_t errlen)
{
	struct sl_clam *c;
	bool oom = false;

	if (sl_clam_global_init() != 0) {
		set_err(err, errlen, "clamav: cl_init failed");
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		set_err(err, errlen, "clamav: out of memory");
		return NULL;
	}
	c->cfg = *cfg;
	c->database = dup_opt(cfg->database, &oom);
	c->tmpdir = dup_opt(cfg->tmpdir, &oom);
	c->cfg.database = c->database;
	c->cfg.tmpdir = c->tmpdir;
	if (oom) {
		set_err(err, errlen, "clamav: out of memory");
		goto fail;
	}
	c->cur = engine_load(&c->cfg, err, errlen);
	if (!c->cur)
		goto fail;
	c->cur->generation = c->generation = 1;
	pthread_mutex_init(&c->lock, NULL);
	pthread_mutex_init(&c->reload_lock, NULL);
	return c;
fail:
	free(c->database);
	free(c->tmpdir);
	free(c);
	return NULL;
}

int sl_clam_reload(struct sl_clam *c, const char *database, char *err, size_t errlen)
{
	struct sl_clam_config cfg;
	struct sl_clam_engine *e, *old;
	char *newdb = NULL;

	pthread_mutex_lock(&c->reload_lock);
	cfg = c->cfg;
	if (database) {
		newdb = strdup(database);
		if (!newdb) {
			pthread_mutex_unlock(&c->reload_lock);
			set_err(err, errlen, "clamav: out of memory");
			return -1;
		}
		cfg.database = newdb;
	}
	e = engine_load(&cfg, err, errlen);
	if (!e) {
		pthread_mutex_unlock(&c->reload_lock);
		free(newdb);
		return -1;
	}
	if (newdb) {
		free(c->database);
		c->database = newdb;
		c->cfg.database = newdb;
	}

	pthread_mutex_lock(&c->lock);
	e->generation = ++c->generation;
	old = c->cur;
	c->cur = e;
	pthread_mutex_unlock(&c->lock);
	pthread_mutex_unlock(&c->reload_lock);

	sl_log(SL_LOG_NOTICE, "clamav: engine %llu loaded from %s (%u signatures)",
	       (unsigned long long)e->generation, cfg.database, e->sigs);
	sl_clam_release(old);
	return 0;
}

void sl_clam_free(struct sl_clam *c)
{
	if (!c)
		return;
	sl_clam_release(c->cur);
	pthread_mutex_destroy(&c->lock);
	pthread_mutex_destroy(&c->reload_lock);
	free(c->database);
	free(c->tmpdir);
	free(c);
}

struct sl_clam_engine *sl_clam_acquire(struct sl_clam *c)
{
	struct sl_clam_engine *e;

	pthread_mutex_lock(&c->lock);
	e = c->cur;
	atomic_fetch_add_explicit(&e->refs, 1, memory_order_relaxed);
	pthread_mutex_unlock(&c->lock);
	return e;
}

void sl_clam_release(struct sl_clam_engine *e)
{
	/* acq_rel: the thread that frees must see every other user's last
	 * access to the engine as finished. */
	if (e && atomic_fetch_sub_explicit(&e->refs, 1, memory_order_acq_rel) == 1)
		engine_destroy(e);
}

uint64_t sl_clam_engine_generation(const struct sl_clam_engine *e)
{
	return e ? e->generation : 0;
}

unsigned sl_clam_engine_signatures(const struct sl_clam_engine *e)
{
	return e ? e->sigs : 0;
}

static void set_result(struct sl_clam_result *r, enum sl_clam_status st, const char *name)
{
	size_t n = name ? strlen(name) : 0;

	if (n >= sizeof(r->name))
		n = sizeof(r->name) - 1;
	r->status = st;
	memcpy(r->name, name ? name : "", n);
	r->name[n] = '\0';
}

void sl_clam_scan(struct sl_clam_engine *e, const void *p, size_t n, struct sl_clam_result *r)
{
	/* A fresh copy per call: libclamav takes the options non-const. */
	struct cl_scan_options opt = {
		.general = CL_SCAN_GENERAL_HEURISTICS,
		.parse = SL_CLAM_PARSE_ALL,
		.heuristic = CL_SCAN_HEURISTIC_EXCEEDS_MAX,
	};
	const char *virname = NULL;
	struct scan_ctx ctx = { "" };
	unsigned long scanned = 0;
	cl_fmap_t *map;
	cl_error_t ret;

	memset(r, 0, sizeof(*r));
	r->generation = sl_clam_engine_generation(e);
	if (n == 0) {
		/* fmap refuses empty buffers, and there is nothing to find. */
		set_result(r, SL_CLAM_CLEAN, NULL);
		return;
	}
	map = cl_fmap_open_memory(p, n);
	if (!map) {
		set_result(r, SL_CLAM_ERROR, "cannot map the buffer");
		return;
	}
	ret = cl_scanmap_callback(map, NULL, &virname, &scanned, e->cl, &opt, &ctx);
	cl_fmap_close(map);
	if (!virname && ctx.name[0])
		virname = ctx.name;

	switch (ret) {
	case CL_CLEAN:
		set_result(r, SL_CLAM_CLEAN, NULL);
		break;
	case CL_VIRUS:
		if (!virname)
			set_result(r, SL_CLAM_VIRUS, "unnamed");
		else if (strcmp(virname, LIMIT_PREFIX "MaxScanTime") == 0)
			set_result(r, SL_CLAM_TIMEOUT, virname);
		else if (strncmp(virname, LIMIT_PREFIX, strlen(LIMIT_PREFIX)) == 0)
			set_result(r, SL_CLAM_LIMIT, virname);
		else
			set_result(r, SL_CLAM_VIRUS, virname);
		break;
	case CL_ETIMEOUT:
		set_result(r, SL_CLAM_TIMEOUT, cl_strerror(ret));
		break;
	case CL_EMAXSIZE:
	case CL_EMAXREC:
	case CL_EMAXFILES:
		set_result(r, SL_CLAM_LIMIT, cl_strerror(ret));
		break;
	default:
		set_result(r, SL_CLAM_ERROR, cl_strerror(ret));
		break;
	}
}
