/* `sluice check DIR|FILE...`: regression tests over captures.
 *
 * Each capture X.pcap (.pcapng, .cap) has X.expect.json beside it (format:
 * docs/check.md) stating what replaying it must produce.  check replays each
 * capture in-process, reads back its events, compares, prints a readable
 * difference for every mismatch, optionally writes TAP or JUnit XML, and
 * exits 1 when anything did not match (2 on usage or setup errors). */
#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "check_compare.h"
#include "cmd.h"
#include "config.h"
#include "inspect.h"
#include "log.h"
#include "replay.h"

#define MAX_CAPTURES 100000

struct capture {
	char *pcap;
	char *expect;			/* NULL: no expectation file */
};

struct list {
	struct capture *v;
	size_t n, cap;
};

static bool is_capture(const char *name)
{
	const char *dot = strrchr(name, '.');

	return dot && (strcmp(dot, ".pcap") == 0 || strcmp(dot, ".pcapng") == 0 ||
		       strcmp(dot, ".cap") == 0);
}

static char *expect_path(const char *pcap)
{
	const char *dot = strrchr(pcap, '.');
	size_t base = dot ? (size_t)(dot - pcap) : strlen(pcap);
	char *p = malloc(base + sizeof(".expect.json"));

	if (!p)
		return NULL;
	memcpy(p, pcap, base);
	strcpy(p + base, ".expect.json");
	if (access(p, R_OK) != 0) {
		free(p);
		return NULL;
	}
	return p;
}

static int add(struct list *l, const char *pcap)
{
	if (l->n == l->cap) {
		size_t nc = l->cap ? l->cap * 2 : 64;
		if (nc > MAX_CAPTURES)
			return -1;
		struct capture *nv = realloc(l->v, nc * sizeof(*nv));
		if (!nv)
			return -1;
		l->v = nv;
		l->cap = nc;
	}
	l->v[l->n].pcap = strdup(pcap);
	l->v[l->n].expect = expect_path(pcap);
	return l->v[l->n++].pcap ? 0 : -1;
}

static int cmp_capture(const void *a, const void *b)
{
	return strcmp(((const struct capture *)a)->pcap, ((const struct capture *)b)->pcap);
}

static int collect(struct list *l, const char *path)
{
	struct stat st;

	if (stat(path, &st) != 0) {
		fprintf(stderr, "sluice check: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode))
		return add(l, path);
	DIR *d = opendir(path);
	if (!d) {
		fprintf(stderr, "sluice check: %s: %s\n", path, strerror(errno));
		return -1;
	}
	struct dirent *e;
	int rc = 0;
	while ((e = readdir(d)) && rc == 0) {
		char p[PATH_MAX];
		if (e->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", path, e->d_name);
		if (stat(p, &st) != 0)
			continue;
		if (S_ISDIR(st.st_mode))
			rc = collect(l, p);
		else if (is_capture(e->d_name))
			rc = add(l, p);
	}
	closedir(d);
	return rc;
}

/* ---- per-capture settings from the expectation file ---- */

struct run_opts {
	const char *rules[SL_MAX_RULE_FILES];
	unsigned n_rules;
	const char *clamdb;
	bool no_clamav;
	const char *config;
	int csum;			/* -1 = unset */
	char store[4][PATH_MAX];	/* resolved relative paths */
	char rule_store[SL_MAX_RULE_FILES][PATH_MAX];
};

static void resolve(const char *base_file, const char *rel, char *out, size_t size)
{
	if (rel[0] == '/') {
		snprintf(out, size, "%s", rel);
		return;
	}
	const char *slash = strrchr(base_file, '/');
	int dl = slash ? (int)(slash - base_file) : 1;
	snprintf(out, size, "%.*s/%s", dl, slash ? base_file : ".", rel);
}

/* Reads "args" of an expectation: only options that shape inspection. */
static int expect_args(json_t *ex, const char *file, struct run_opts *o, char *err, size_t errlen)
{
	json_t *args = json_object_get(ex, "args");
	size_t i;
	json_t *v;

	if (!args)
		return 0;
	if (!json_is_array(args)) {
		snprintf(err, errlen, "%s: \"args\" must be a list of strings", file);
		return -1;
	}
	json_array_foreach(args, i, v) {
		const char *a = json_string_value(v);
		json_t *nv = json_array_get(args, i + 1);
		const char *val = json_string_value(nv);
		if (!a) {
			snprintf(err, errlen, "%s: \"args\" must be a list of strings", file);
			return -1;
		}
		if (strcmp(a, "--no-clamav") == 0) {
			o->no_clamav = true;
			continue;
		}
		if (!val) {
			snprintf(err, errlen, "%s: args: %s needs a value", file, a);
			return -1;
		}
		if (strcmp(a, "--rules") == 0 || strcmp(a, "-r") == 0) {
			if (o->n_rules == SL_MAX_RULE_FILES) {
				snprintf(err, errlen, "%s: too many --rules", file);
				return -1;
			}
			resolve(file, val, o->rule_store[o->n_rules], PATH_MAX);
			o->rules[o->n_rules] = o->rule_store[o->n_rules];
			o->n_rules++;
		} else if (strcmp(a, "--clamav-db") == 0) {
			resolve(file, val, o->store[0], PATH_MAX);
			o->clamdb = o->store[0];
		} else if (strcmp(a, "--config") == 0 || strcmp(a, "-c") == 0) {
			resolve(file, val, o->store[1], PATH_MAX);
			o->config = o->store[1];
		} else if (strcmp(a, "--checksum") == 0) {
			enum sl_csum_mode m;
			if (sl_csum_mode_parse(val, &m) != 0) {
				snprintf(err, errlen, "%s: args: --checksum %s: use auto, on or off", file, val);
				return -1;
			}
			o->csum = (int)m;
		} else {
			snprintf(err, errlen, "%s: args: %s is not an option check understands "
				 "(--rules, --clamav-db, --no-clamav, --config, --checksum)", file, a);
			return -1;
		}
		i++;
	}
	return 0;
}

/* path (as the command line gives it) from directory dir: relative when
 * both resolve, else as absolute as can be said. */
static void rel_to(const char *dir, const char *path, char *out, size_t size)
{
	char d[PATH_MAX], p[PATH_MAX];
	size_t o = 0;

	if (!realpath(dir, d) || !realpath(path, p)) {
		size_t dl = path[0] != '/' && getcwd(d, sizeof(d)) ? strlen(d) : 0;
		size_t pl = strlen(path);

		if (dl && dl + 1 + pl < size) {
			memcpy(out, d, dl);
			out[dl] = '/';
			memcpy(out + dl + 1, path, pl + 1);
		} else {
			snprintf(out, size, "%s", path);
		}
		return;
	}
	const char *a = d + 1, *b = p + 1;	/* past the leading '/' */
	for (;;) {
		size_t la = strcspn(a, "/"), lb = strcspn(b, "/");
		if (!*a || !*b || la != lb || memcmp(a, b, la) != 0)
			break;
		a += la + (a[la] == '/');
		b += lb + (b[lb] == '/');
	}
	out[0] = '\0';
	for (const char *s = a; *s && o + 4 < size; s += strcspn(s, "/"), s += *s == '/')
		o += (size_t)snprintf(out + o, size - o, "../");
	if (*b)
		snprintf(out + o, size - o, "%s", b);
	else if (o)
		out[o - 1] = '\0';		/* "../.." */
	else
		snprintf(out, size, ".");
}

/* The inspection options a capture ran with (command line and its
 * expectation's "args" together), as "args" of an expectation file in the
 * directory of pcap: what `check` needs to run it the same way later. */
static json_t *effective_args(const struct run_opts *o, const char *pcap)
{
	const char *slash = strrchr(pcap, '/');
	char dir[PATH_MAX], rel[PATH_MAX];
	json_t *a = json_array();

	snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - pcap) + !(slash - pcap) : 1,
		 slash ? pcap : ".");
	for (unsigned i = 0; i < o->n_rules; i++) {
		rel_to(dir, o->rules[i], rel, sizeof(rel));
		json_array_append_new(a, json_string("--rules"));
		json_array_append_new(a, json_string(rel));
	}
	if (o->no_clamav) {
		json_array_append_new(a, json_string("--no-clamav"));
	} else if (o->clamdb) {
		rel_to(dir, o->clamdb, rel, sizeof(rel));
		json_array_append_new(a, json_string("--clamav-db"));
		json_array_append_new(a, json_string(rel));
	}
	if (o->config) {
		rel_to(dir, o->config, rel, sizeof(rel));
		json_array_append_new(a, json_string("--config"));
		json_array_append_new(a, json_string(rel));
	}
	if (o->csum >= 0) {
		json_array_append_new(a, json_string("--checksum"));
		enum sl_csum_mode m = (enum sl_csum_mode)o->csum;
		json_array_append_new(a, json_string(sl_csum_mode_name(m)));
	}
	return a;
}

/* The configuration for o's inspection options (loaded from o->config
 * first, if given); --checksum is applied per capture by run_capture. */
static int apply_opts(struct sl_config *conf, const struct run_opts *o, char *errline,
		      size_t errlen)
{
	sl_config_default(conf);
	if (o->config && sl_config_load(conf, o->config, errline, errlen) != 0)
		return -1;
	sl_config_override_inspection(conf, o->rules, o->n_rules, o->clamdb, o->no_clamav);
	conf->worker.extract_dir = conf->worker.quarantine_dir = conf->worker.write_streams_dir =
		NULL;
	return 0;
}

static bool same_str(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

/* The options that decide what the inspector loads (not --checksum). */
static bool same_inspection(const struct run_opts *a, const struct run_opts *b)
{
	if (a->n_rules != b->n_rules || a->no_clamav != b->no_clamav ||
	    !same_str(a->clamdb, b->clamdb) || !same_str(a->config, b->config))
		return false;
	for (unsigned i = 0; i < a->n_rules; i++)
		if (strcmp(a->rules[i], b->rules[i]) != 0)
			return false;
	return true;
}

/* The inspector of the previous capture, kept while the next one asks for
 * the same rules, database and config: loading a real ClamAV database
 * takes seconds, and a corpus is usually checked with one setting.  It
 * owns copies of the paths and the config its inspector borrows. */
struct inspector_cache {
	struct run_opts opts;
	struct sl_config conf;
	struct sl_inspect *in;
};

static void cache_clear(struct inspector_cache *c)
{
	if (!c->in)
		return;
	sl_inspect_free(c->in);
	sl_config_free(&c->conf);
	c->in = NULL;
}

/* Deep copy of o's paths into dst's own storage. */
static void opts_own(struct run_opts *dst, const struct run_opts *o)
{
	*dst = *o;
	for (unsigned i = 0; i < o->n_rules; i++) {
		snprintf(dst->rule_store[i], PATH_MAX, "%s", o->rules[i]);
		dst->rules[i] = dst->rule_store[i];
	}
	if (o->clamdb) {
		snprintf(dst->store[0], PATH_MAX, "%s", o->clamdb);
		dst->clamdb = dst->store[0];
	}
	if (o->config) {
		snprintf(dst->store[1], PATH_MAX, "%s", o->config);
		dst->config = dst->store[1];
	}
}

/* *clam_told: "virus scanning is OFF" was already logged by this run (the
 * warning is said once, whatever the number of inspectors). */
static struct sl_inspect *inspector_for(struct inspector_cache *c, const struct run_opts *o,
					bool *clam_told, char *errline, size_t errlen)
{
	if (c->in && same_inspection(&c->opts, o))
		return c->in;
	cache_clear(c);
	opts_own(&c->opts, o);
	if (apply_opts(&c->conf, &c->opts, errline, errlen) != 0) {
		sl_config_free(&c->conf);
		return NULL;
	}
	c->conf.inspect.clamav_off_told = *clam_told;
	c->in = sl_inspect_new(&c->conf.inspect, errline, errlen);
	if (!c->in) {
		sl_config_free(&c->conf);
		return NULL;
	}
	*clam_told |= sl_inspect_clamav_off(c->in) != NULL;
	return c->in;
}

/* Replays one capture with the given settings; the events come back parsed. */
static int run_capture(const char *pcap, const struct run_opts *o, struct inspector_cache *cache,
		       json_t **events, int *exit_status, bool *clam_told, char *errline,
		       size_t errlen)
{
	char *buf = NULL;
	size_t len = 0;
	int rc = -1;

	*exit_status = 0;
	errline[0] = '\0';
	struct sl_inspect *in = inspector_for(cache, o, clam_told, errline, errlen);
	if (!in)
		return -1;
	/* The configuration the inspector was built from (loaded once per
	 * setting, owned by the cache), with this capture's --checksum, which
	 * is not part of the cache key. */
	struct sl_config conf = cache->conf;
	if (o->csum >= 0)
		conf.worker.decode.csum = (enum sl_csum_mode)o->csum;
	FILE *mem = open_memstream(&buf, &len);
	struct sl_eve *eve = mem ? sl_eve_open_stream(mem) : NULL;
	struct sl_replay *r = eve ? sl_replay_new(&conf, in, eve, errline, errlen) : NULL;
	if (r) {
		if (sl_replay_file(r, pcap, false, errline, errlen) != 0)
			*exit_status = 1;
		rc = 0;
	}
	sl_replay_free(r);
	sl_eve_close(eve);
	if (mem)
		fclose(mem);

	*events = json_array();
	for (char *line = buf, *nl; rc == 0 && line && *line; line = nl ? nl + 1 : NULL) {
		nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		json_t *ev = json_loads(line, 0, NULL);
		if (ev)
			json_array_append_new(*events, ev);
	}
	free(buf);
	return rc;
}

/* ---- reports ---- */

static void xml_escape(FILE *f, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '&': fputs("&amp;", f); break;
		case '"': fputs("&quot;", f); break;
		default:
			if ((unsigned char)*s >= 0x20 || *s == '\n' || *s == '\t')
				fputc(*s, f);
		}
	}
}

struct result {
	const char *pcap;
	bool ok, skipped;
	char *detail;			/* mismatch lines */
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: sluice check [options] DIR|FILE...\n"
		"\n"
		"Replays each capture and compares what it produces with the expectation file\n"
		"beside it (X.pcap -> X.expect.json; format in docs/check.md).\n"
		"\n"
		"  -r, --rules FILE          rules for every capture (repeatable; an expectation's\n"
		"                            own \"args\" add to these)\n"
		"      --clamav-db PATH      ClamAV database for every capture\n"
		"      --no-clamav           do not scan with ClamAV\n"
		"  -c, --config FILE         settings for every capture\n"
		"      --checksum MODE       checksum validation: auto (default), on, off\n"
		"      --tap FILE            also write TAP (Test Anything Protocol) to FILE\n"
		"      --junit FILE          also write JUnit XML to FILE\n"
		"      --strict              a capture without an expectation file is a failure\n"
		"      --write-expectations  write X.expect.json from what sluice produces now\n"
		"                            (for a new baseline; review the files before use);\n"
		"                            the inspection options above go into its \"args\"\n"
		"  -q, --quiet               print failures only\n"
		"\n"
		"exit status: 0 all matched; 1 a mismatch (or a missing expectation with\n"
		"--strict); 2 usage or setup error.\n");
}

int sl_cmd_check(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "rules", required_argument, NULL, 'r' },
		{ "clamav-db", required_argument, NULL, 'D' },
		{ "no-clamav", no_argument, NULL, 'N' },
		{ "config", required_argument, NULL, 'c' },
		{ "checksum", required_argument, NULL, 'K' },
		{ "tap", required_argument, NULL, 'T' },
		{ "junit", required_argument, NULL, 'J' },
		{ "strict", no_argument, NULL, 'S' },
		{ "write-expectations", no_argument, NULL, 'W' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct run_opts base = { .csum = -1 };
	const char *tap = NULL, *junit = NULL;
	bool strict = false, write = false, quiet = false;
	bool inspect_opts = false;	/* an option that shapes inspection was given */
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "r:c:qh", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			if (base.n_rules == SL_MAX_RULE_FILES) {
				fprintf(stderr, "sluice check: at most %d --rules files\n",
					SL_MAX_RULE_FILES);
				return 2;
			}
			base.rules[base.n_rules++] = optarg;
			break;
		case 'D': base.clamdb = optarg; break;
		case 'N': base.no_clamav = true; break;
		case 'c': base.config = optarg; break;
		case 'K': {
			enum sl_csum_mode m;
			if (sl_csum_mode_parse(optarg, &m) != 0) {
				fprintf(stderr, "sluice check: --checksum %s: use auto, on "
					"or off\n", optarg);
				return 2;
			}
			base.csum = (int)m;
			break;
		}
		case 'T': tap = optarg; break;
		case 'J': junit = optarg; break;
		case 'S': strict = true; break;
		case 'W': write = true; break;
		case 'q': quiet = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
		inspect_opts |= c == 'r' || c == 'D' || c == 'N' || c == 'c' || c == 'K';
	}
	if (optind >= argc) {
		fprintf(stderr, "sluice check: give capture files or directories\n");
		usage(stderr);
		return 2;
	}
	sl_log_setup(SL_LOG_WARN, stderr);

	struct list l = { 0 };
	for (int i = optind; i < argc; i++)
		if (collect(&l, argv[i]) != 0)
			return 2;
	qsort(l.v, l.n, sizeof(l.v[0]), cmp_capture);

	struct result *res = calloc(l.n ? l.n : 1, sizeof(*res));
	unsigned failed = 0, passed = 0, skipped = 0;
	bool clam_told = false;
	struct inspector_cache *cache = calloc(1, sizeof(*cache));
	if (!res || !cache) {
		fprintf(stderr, "sluice check: out of memory\n");
		return 2;
	}
	for (size_t i = 0; i < l.n; i++) {
		struct capture *cap = &l.v[i];
		struct result *r = &res[i];
		char err[1024];
		json_error_t je;
		json_t *ex = NULL, *events = NULL;
		int status;

		r->pcap = cap->pcap;
		if (!cap->expect && !write) {
			r->skipped = !strict;
			r->ok = !strict;
			r->detail = strdup("no expectation file (X.expect.json)");
			skipped += !strict;
			failed += strict;
			if (!quiet || strict)
				printf("%s %s: no expectation file\n", strict ? "FAIL" : "skip", cap->pcap);
			continue;
		}
		struct run_opts o = base;
		if (cap->expect) {
			ex = json_load_file(cap->expect, 0, &je);
			if (!ex) {
				snprintf(err, sizeof(err), "%s:%d:%d: %s", cap->expect, je.line, je.column,
					 je.text);
				goto broken;
			}
			/* A misspelt key would check nothing: refused.  Not when
			 * writing: the file is being replaced. */
			if (!write && sl_check_keys(ex, cap->expect, err, sizeof(err)) != 0)
				goto broken;
			if (expect_args(ex, cap->expect, &o, err, sizeof(err)) != 0)
				goto broken;
		}
		if (run_capture(cap->pcap, &o, cache, &events, &status, &clam_told, err,
				sizeof(err)) != 0)
			goto broken;
		if (write) {
			json_t *args = inspect_opts ? effective_args(&o, cap->pcap) : NULL;
			int wr = sl_check_write_expectation(cap->pcap, ex, args, events, status,
							    err);
			json_decref(args);
			if (wr != 0)
				goto broken;
			printf("wrote %s expectations\n", cap->pcap);
			r->ok = true;
			passed++;
		} else {
			r->detail = sl_check_compare(ex, events, status, err);
			r->ok = r->detail == NULL;
			if (r->ok) {
				passed++;
				if (!quiet)
					printf("ok   %s\n", cap->pcap);
			} else {
				failed++;
				printf("FAIL %s\n%s", cap->pcap, r->detail);
			}
		}
		json_decref(ex);
		json_decref(events);
		continue;
broken:
		failed++;
		r->ok = false;
		r->detail = strdup(err);
		printf("FAIL %s\n  %s\n", cap->pcap, err);
		json_decref(ex);
		json_decref(events);
	}
	cache_clear(cache);
	free(cache);
	printf("sluice check: %u passed, %u failed, %u without expectations\n", passed, failed,
	       skipped);

	if (tap) {
		FILE *f = fopen(tap, "w");
		if (f) {
			fprintf(f, "1..%zu\n", l.n);
			for (size_t i = 0; i < l.n; i++) {
				fprintf(f, "%s %zu - %s%s\n", res[i].ok ? "ok" : "not ok", i + 1, res[i].pcap,
					res[i].skipped ? " # SKIP no expectation file" : "");
				if (!res[i].ok && res[i].detail)
					for (char *s = res[i].detail; *s;) {
						char *nl = strchr(s, '\n');
						int n = nl ? (int)(nl - s) : (int)strlen(s);
						fprintf(f, "# %.*s\n", n, s);
						s += n + (nl ? 1 : 0);
					}
			}
			fclose(f);
		} else {
			fprintf(stderr, "sluice check: cannot write %s: %s\n", tap, strerror(errno));
		}
	}
	if (junit) {
		FILE *f = fopen(junit, "w");
		if (f) {
			fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
				"<testsuite name=\"sluice check\" tests=\"%zu\" failures=\"%u\" "
				"skipped=\"%u\">\n", l.n, failed, skipped);
			for (size_t i = 0; i < l.n; i++) {
				fprintf(f, "  <testcase classname=\"sluice.check\" name=\"");
				xml_escape(f, res[i].pcap);
				fprintf(f, "\">");
				if (res[i].skipped)
					fprintf(f, "<skipped/>");
				else if (!res[i].ok) {
					fprintf(f, "<failure message=\"expectations not met\">");
					xml_escape(f, res[i].detail ? res[i].detail : "");
					fprintf(f, "</failure>");
				}
				fprintf(f, "</testcase>\n");
			}
			fprintf(f, "</testsuite>\n");
			fclose(f);
		} else {
			fprintf(stderr, "sluice check: cannot write %s: %s\n", junit, strerror(errno));
		}
	}
	for (size_t i = 0; i < l.n; i++) {
		free(res[i].detail);
		free(l.v[i].pcap);
		free(l.v[i].expect);
	}
	free(res);
	free(l.v);
	return failed ? 1 : 0;
}
