/* rules/clam + rules/clam_cache: the test database in both formats, scans
 * from memory (plain, in a zip, in a mail), limits, timeouts, reload, and
 * the sha256 result cache. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "clam.h"
#include "clam_cache.h"
#include "scan_fixtures.h"

static struct sl_clam *load(const char *db, void (*tweak)(struct sl_clam_config *))
{
	struct sl_clam_config cfg;
	char err[256] = "";
	struct sl_clam *c;

	sl_clam_config_defaults(&cfg);
	cfg.database = db;
	if (tweak)
		tweak(&cfg);
	c = sl_clam_new(&cfg, err, sizeof(err));
	if (!c)
		fail_msg("loading %s: %s", db, err);
	return c;
}

static struct sl_clam_result scan(struct sl_clam *c, const void *p, size_t n)
{
	struct sl_clam_engine *e = sl_clam_acquire(c);
	struct sl_clam_result r;

	sl_clam_scan(e, p, n, &r);
	sl_clam_release(e);
	return r;
}

static void assert_virus(struct sl_clam_result r, const char *name)
{
	if (r.status != SL_CLAM_VIRUS || strcmp(r.name, name) != 0)
		fail_msg("expected virus %s, got %s '%s'", name, sl_clam_status_name(r.status),
			 r.name);
}

static void assert_status(struct sl_clam_result r, enum sl_clam_status st)
{
	if (r.status != st)
		fail_msg("expected %s, got %s '%s'", sl_clam_status_name(st),
			 sl_clam_status_name(r.status), r.name);
}

static void directory_loads_both_formats(void **st)
{
	struct sl_clam *c = load(TEST_DB_DIR, NULL);
	struct sl_clam_engine *e = sl_clam_acquire(c);
	uint8_t ei[EICAR_LEN];
	struct sl_clam_result r;

	assert_int_equal(sl_clam_engine_signatures(e), 4);
	assert_int_equal(sl_clam_engine_generation(e), 1);
	sl_clam_release(e);

	eicar(ei);
	r = scan(c, ei, sizeof(ei));
	assert_int_equal(r.status, SL_CLAM_VIRUS);
	assert_true(strncmp(r.name, "Sluice.Test.EICAR.", 18) == 0);
	assert_int_equal(r.generation, 1);
	r = scan(c, TEST_MARKER, strlen(TEST_MARKER));
	assert_int_equal(r.status, SL_CLAM_VIRUS);
	assert_true(strncmp(r.name, "Sluice.Test.Marker.", 19) == 0);
	sl_clam_free(c);
}

/* The hash format matches whole files only: the exact string is caught,
 * the same string with a newline is not.  That is what proves the .hdb
 * entries (not the .ndb ones) do the detecting here. */
static void hdb_matches_exact_files(void **st)
{
	struct sl_clam *c = load(TEST_DB_HDB, NULL);
	uint8_t ei[EICAR_LEN];
	struct tbuf nl = eicar_nl();

	eicar(ei);
	assert_virus(scan(c, ei, sizeof(ei)), "Sluice.Test.EICAR.HDB.UNOFFICIAL");
	assert_virus(scan(c, TEST_MARKER, strlen(TEST_MARKER)),
		     "Sluice.Test.Marker.HDB.UNOFFICIAL");
	assert_status(scan(c, nl.p, nl.n), SL_CLAM_CLEAN);
	free(nl.p);
	sl_clam_free(c);
}

/* The body format matches anywhere in a file: EICAR with the newline a mail
 * client adds, and the marker in the middle of a text. */
static void ndb_matches_inside_files(void **st)
{
	struct sl_clam *c = load(TEST_DB_NDB, NULL);
	uint8_t ei[EICAR_LEN];
	struct tbuf nl = eicar_nl();
	struct tbuf text = { 0 };

	eicar(ei);
	assert_virus(scan(c, ei, sizeof(ei)), "Sluice.Test.EICAR.NDB.UNOFFICIAL");
	assert_virus(scan(c, nl.p, nl.n), "Sluice.Test.EICAR.NDB.UNOFFICIAL");
	for (int i = 0; i < 2000; i++)
		tb_str(&text, "Lorem ipsum dolor sit amet, consectetur adipiscing elit.\n");
	tb_str(&text, "and then " TEST_MARKER " in passing\n");
	tb_str(&text, "the end\n");
	assert_virus(scan(c, text.p, text.n), "Sluice.Test.Marker.NDB.UNOFFICIAL");
	free(nl.p);
	free(text.p);
	sl_clam_free(c);
}

static void clean_data_is_clean(void **st)
{
	struct sl_clam *c = load(TEST_DB_DIR, NULL);
	struct tbuf b = { 0 };
	uint8_t bin[4096];

	for (int i = 0; i < 500; i++)
		tb_str(&b, "Dear customer, your invoice is attached. Kind regards.\r\n");
	assert_status(scan(c, b.p, b.n), SL_CLAM_CLEAN);
	for (unsigned i = 0; i < sizeof(bin); i++)
		bin[i] = (uint8_t)(i * 2654435761u >> 13);
	assert_status(scan(c, bin, sizeof(bin)), SL_CLAM_CLEAN);
	assert_status(scan(c, "", 0), SL_CLAM_CLEAN);
	free(b.p);
	sl_clam_free(c);
}

/* A deflated zip does not contain the member's bytes; the hash signature of
 * the exact member proves ClamAV unpacked it. */
static void eicar_in_zip(void **st)
{
	struct sl_clam *h = load(TEST_DB_HDB, NULL), *n = load(TEST_DB_NDB, NULL);
	uint8_t ei[EICAR_LEN];
	struct tbuf nl = eicar_nl();
	struct tbuf z1, z2;

	eicar(ei);
	z1 = make_zip("eicar.com", ei, sizeof(ei));
	z2 = make_zip("docs/readme.txt", nl.p, nl.n);
	assert_null(memmem(z1.p, z1.n, "EICAR", 5));
	assert_null(memmem(z2.p, z2.n, "EICAR", 5));
	assert_virus(scan(h, z1.p, z1.n), "Sluice.Test.EICAR.HDB.UNOFFICIAL");
	assert_virus(scan(n, z2.p, z2.n), "Sluice.Test.EICAR.NDB.UNOFFICIAL");
	free(nl.p);
	free(z1.p);
	free(z2.p);
	sl_clam_free(h);
	sl_clam_free(n);
}

/* The raw message through ClamAV's mail parser: the base64 attachment is
 * decoded and scanned, whatever header comes first. */
static void eicar_in_mail_via_mail_parser(void **st)
{
	struct sl_clam *c = load(TEST_DB_NDB, NULL);
	struct tbuf nl = eicar_nl();
	const char *first[] = { "", "Received: from mx.example.org by mx.example.net\r\n",
				"DKIM-Signature: v=1; a=rsa-sha256; d=example.org\r\n",
				"X-Spam-Score: 0.1\r\n" };
	struct tbuf m;

	for (unsigned i = 0; i < sizeof(first) / sizeof(first[0]); i++) {
		m = make_mail(first[i], nl.p, nl.n);
		/* Only the decoded part holds it. */
		assert_null(memmem(m.p, m.n, "EICAR", 5));
		assert_virus(scan(c, m.p, m.n), "Sluice.Test.EICAR.NDB.UNOFFICIAL");
		free(m.p);
	}
	m = make_mail("", (const uint8_t *)"quarterly numbers\n", 18);
	assert_status(scan(c, m.p, m.n), SL_CLAM_CLEAN);
	free(m.p);
	free(nl.p);
	sl_clam_free(c);
}

static void small_limits(struct sl_clam_config *c)
{
	c->max_file_size = 64 * 1024;
	c->max_recursion = 3;
}

/* Limits fail closed: left alone libclamav calls skipped content clean. */
static void limits_are_reported_not_clean(void **st)
{
	struct sl_clam *c = load(TEST_DB_NDB, small_limits);
	size_t n = 256 * 1024;
	uint8_t *big = calloc(1, n);
	struct tbuf nl = eicar_nl();
	struct tbuf z = { 0 };
	struct sl_clam_result r;

	eicar(big + n - EICAR_LEN);
	r = scan(c, big, n);
	assert_status(r, SL_CLAM_LIMIT);
	assert_string_equal(r.name, "Heuristics.Limits.Exceeded.MaxFileSize");

	/* The file itself is a level: with max_recursion 3, EICAR two zips
	 * deep is found, three zips deep is a limit. */
	tb_put(&z, nl.p, nl.n);
	for (int depth = 1; depth <= 3; depth++) {
		struct tbuf outer = make_zip(depth == 1 ? "eicar.txt" : "inner.zip", z.p, z.n);

		free(z.p);
		z = outer;
		r = scan(c, z.p, z.n);
		if (depth <= 2) {
			assert_virus(r, "Sluice.Test.EICAR.NDB.UNOFFICIAL");
		} else {
			assert_status(r, SL_CLAM_LIMIT);
			assert_string_equal(r.name, "Heuristics.Limits.Exceeded.MaxRecursion");
		}
	}
	free(z.p);
	free(nl.p);
	free(big);
	sl_clam_free(c);
}

static void tiny_scan_time(struct sl_clam_config *c)
{
	c->max_scan_time_ms = 1;
	c->max_file_size = 64u << 20;
	c->max_scan_size = 64u << 20;
	c->clamav_cache = false;
}

/* A real ClamAV timeout: 1 ms for 32 MiB of data, which no machine scans in
 * a millisecond (reading it alone takes longer).  Without the
 * exceeds-max heuristic this would come back clean. */
static void timeout_is_reported(void **st)
{
	struct sl_clam *c = load(TEST_DB_NDB, tiny_scan_time);
	size_t n = 32u << 20;
	uint8_t *buf = malloc(n);
	struct sl_clam_result r;

	for (size_t i = 0; i < n; i++)
		buf[i] = (uint8_t)((i * 2654435761u) >> 11);
	r = scan(c, buf, n);
	assert_status(r, SL_CLAM_TIMEOUT);
	assert_string_equal(r.name, "Heuristics.Limits.Exceeded.MaxScanTime");
	free(buf);
	sl_clam_free(c);
}

static void bad_databases_fail_to_load(void **st)
{
	struct sl_clam_config cfg;
	char err[256] = "";
	char dir[] = "/tmp/sl-clam-empty-XXXXXX";

	sl_clam_config_defaults(&cfg);
	cfg.database = "/nonexistent/clamav";
	assert_null(sl_clam_new(&cfg, err, sizeof(err)));
	assert_non_null(strstr(err, "/nonexistent/clamav"));

	assert_non_null(mkdtemp(dir));
	cfg.database = dir;
	err[0] = '\0';
	assert_null(sl_clam_new(&cfg, err, sizeof(err)));
	assert_true(err[0] != '\0');
	rmdir(dir);
}

/* The old engine keeps scanning with its own signatures after the swap and
 * is freed when its last user lets go (ASan checks the "after"). */
static void reload_swaps_and_keeps_old_engine_alive(void **st)
{
	struct sl_clam *c = load(TEST_DB_HDB, NULL);
	struct sl_clam_engine *old = sl_clam_acquire(c), *cur;
	struct tbuf nl = eicar_nl();
	struct sl_clam_result r;
	char err[256];

	assert_int_equal(sl_clam_reload(c, TEST_DB_NDB, err, sizeof(err)), 0);
	cur = sl_clam_acquire(c);
	assert_int_equal(sl_clam_engine_generation(old), 1);
	assert_int_equal(sl_clam_engine_generation(cur), 2);

	sl_clam_scan(old, nl.p, nl.n, &r);	/* hash db: newline defeats it */
	assert_status(r, SL_CLAM_CLEAN);
	assert_int_equal(r.generation, 1);
	sl_clam_scan(cur, nl.p, nl.n, &r);
	assert_virus(r, "Sluice.Test.EICAR.NDB.UNOFFICIAL");
	assert_int_equal(r.generation, 2);
	sl_clam_release(old);			/* frees generation 1 */

	/* A failed reload leaves the current engine in place. */
	assert_int_equal(sl_clam_reload(c, "/nonexistent", err, sizeof(err)), -1);
	r = scan(c, nl.p, nl.n);
	assert_int_equal(r.generation, 2);
	/* NULL reloads the remembered path. */
	assert_int_equal(sl_clam_reload(c, NULL, err, sizeof(err)), 0);
	r = scan(c, nl.p, nl.n);
	assert_virus(r, "Sluice.Test.EICAR.NDB.UNOFFICIAL");
	assert_int_equal(r.generation, 3);

	sl_clam_free(c);			/* cur still alive */
	sl_clam_scan(cur, nl.p, nl.n, &r);
	assert_virus(r, "Sluice.Test.EICAR.NDB.UNOFFICIAL");
	sl_clam_release(cur);
	free(nl.p);
}

static void sha(uint8_t out[32], int seed)
{
	memset(out, 0, 32);
	memcpy(out, &seed, sizeof(seed));
	out[31] = (uint8_t)seed;
}

static struct sl_clam_result res(enum sl_clam_status s, const char *name, uint64_t gen)
{
	struct sl_clam_result r = { .status = s, .generation = gen };

	snprintf(r.name, sizeof(r.name), "%s", name);
	return r;
}

static void cache_digest_is_sha256(void **st)
{
	struct sl_clam_cache *c = sl_clam_cache_new(8);
	uint8_t d[32];
	static const uint8_t abc[32] = {
		0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40, 0xde, 0x5d, 0xae,
		0x22, 0x23, 0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61,
		0xf2, 0x00, 0x15, 0xad,
	};

	assert_int_equal(sl_clam_cache_digest(c, "abc", 3, d), 0);
	assert_memory_equal(d, abc, 32);
	assert_int_equal(sl_clam_cache_digest(NULL, "abc", 3, d), 0);
	assert_memory_equal(d, abc, 32);
	sl_clam_cache_free(c);
}

static void cache_hits_lru_and_generations(void **st)
{
	struct sl_clam_cache *c = sl_clam_cache_new(2);
	struct sl_clam_cache_stats s;
	struct sl_clam_result r, v = res(SL_CLAM_VIRUS, "Sluice.Test.EICAR.NDB.UNOFFICIAL", 1);
	uint8_t k1[32], k2[32], k3[32];

	sha(k1, 1);
	sha(k2, 2);
	sha(k3, 3);
	assert_false(sl_clam_cache_get(c, k1, 1, &r));
	sl_clam_cache_put(c, k1, &v);
	assert_true(sl_clam_cache_get(c, k1, 1, &r));
	assert_int_equal(r.status, SL_CLAM_VIRUS);
	assert_string_equal(r.name, "Sluice.Test.EICAR.NDB.UNOFFICIAL");
	assert_true(r.cached);

	/* LRU: k1 was used last, so k2 goes when k3 arrives. */
	r = res(SL_CLAM_CLEAN, "", 1);
	sl_clam_cache_put(c, k2, &r);
	assert_true(sl_clam_cache_get(c, k1, 1, &r));
	sl_clam_cache_put(c, k3, &r);
	assert_false(sl_clam_cache_get(c, k2, 1, &r));
	assert_true(sl_clam_cache_get(c, k1, 1, &r));
	assert_true(sl_clam_cache_get(c, k3, 1, &r));

	/* A reload (generation 2) makes every older entry a miss. */
	assert_false(sl_clam_cache_get(c, k1, 2, &r));
	assert_false(sl_clam_cache_get(c, k1, 1, &r));	/* and dropped */

	/* Load-dependent outcomes are never stored. */
	r = res(SL_CLAM_TIMEOUT, "Heuristics.Limits.Exceeded.MaxScanTime", 2);
	sl_clam_cache_put(c, k2, &r);
	r = res(SL_CLAM_ERROR, "x", 2);
	sl_clam_cache_put(c, k1, &r);
	assert_false(sl_clam_cache_get(c, k2, 2, &r));
	assert_false(sl_clam_cache_get(c, k1, 2, &r));

	sl_clam_cache_stats(c, &s);
	assert_int_equal(s.hits, 4);
	assert_int_equal(s.evictions, 1);
	assert_int_equal(s.stale, 1);
	assert_int_equal(s.entries, 1);	/* k3 */
	sl_clam_cache_free(c);

	assert_null(sl_clam_cache_new(0));
	assert_false(sl_clam_cache_get(NULL, k1, 1, &r));
	sl_clam_cache_put(NULL, k1, &v);
}

/* Many keys through a small cache: the table stays consistent. */
static void cache_churn(void **st)
{
	struct sl_clam_cache *c = sl_clam_cache_new(64);
	struct sl_clam_cache_stats s;
	struct sl_clam_result r;
	uint8_t k[32];

	for (int i = 0; i < 5000; i++) {
		sha(k, i);
		r = res(i % 3 ? SL_CLAM_CLEAN : SL_CLAM_VIRUS, i % 3 ? "" : "v", 7);
		sl_clam_cache_put(c, k, &r);
		sha(k, i - 10);
		if (i >= 10) {
			assert_true(sl_clam_cache_get(c, k, 7, &r));
			assert_int_equal(r.status, (i - 10) % 3 ? SL_CLAM_CLEAN : SL_CLAM_VIRUS);
		}
	}
	sl_clam_cache_stats(c, &s);
	assert_int_equal(s.entries, 64);
	assert_int_equal(s.evictions, 5000 - 64);
	sl_clam_cache_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(directory_loads_both_formats),
		cmocka_unit_test(hdb_matches_exact_files),
		cmocka_unit_test(ndb_matches_inside_files),
		cmocka_unit_test(clean_data_is_clean),
		cmocka_unit_test(eicar_in_zip),
		cmocka_unit_test(eicar_in_mail_via_mail_parser),
		cmocka_unit_test(limits_are_reported_not_clean),
		cmocka_unit_test(timeout_is_reported),
		cmocka_unit_test(bad_databases_fail_to_load),
		cmocka_unit_test(reload_swaps_and_keeps_old_engine_alive),
		cmocka_unit_test(cache_digest_is_sha256),
		cmocka_unit_test(cache_hits_lru_and_generations),
		cmocka_unit_test(cache_churn),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
