/* engine/inspect.c: which ClamAV databases stop sluice and which only turn
 * virus scanning off.  Not required (the default): a missing, empty or
 * unloadable database means one warning and no ClamAV; required
 * (--clamav-db, clamav.required): an error naming the path. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "inspect.h"
#include "log.h"

struct fixture {
	char dir[64];			/* an empty directory */
	char bad[96];			/* a database file libclamav refuses */
	char missing[96];
	char *log;
	size_t log_len;
	FILE *log_f;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	snprintf(f->dir, sizeof(f->dir), "/tmp/sl-inspect-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->bad, sizeof(f->bad), "%s.ndb", f->dir);
	FILE *b = fopen(f->bad, "w");
	assert_non_null(b);
	fputs("this is not a signature line\n", b);
	fclose(b);
	snprintf(f->missing, sizeof(f->missing), "%s/no-such-db", f->dir);
	f->log_f = open_memstream(&f->log, &f->log_len);
	sl_log_setup(SL_LOG_WARN, f->log_f);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	sl_log_setup(SL_LOG_WARN, stderr);
	fclose(f->log_f);
	free(f->log);
	unlink(f->bad);
	rmdir(f->dir);
	free(f);
	return 0;
}

static unsigned count(const char *hay, const char *needle)
{
	unsigned n = 0;

	for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++)
		n++;
	return n;
}

static struct sl_inspect *open_db(struct fixture *f, const char *db, bool required, bool told,
				  char *err, size_t errlen)
{
	struct sl_inspect_config c;

	sl_inspect_config_default(&c);
	c.clam.database = db;
	c.clamav_required = required;
	c.clamav_off_told = told;
	c.pool.threads = 1;
	err[0] = '\0';
	struct sl_inspect *in = sl_inspect_new(&c, err, errlen);
	fflush(f->log_f);
	return in;
}

static void off_with_one_warning(void **state, const char *db, const char *why)
{
	struct fixture *f = *state;
	char err[512], desc[1024];
	size_t before = f->log_len;

	struct sl_inspect *in = open_db(f, db, false, false, err, sizeof(err));
	assert_non_null(in);
	assert_false(sl_inspect_has_clamav(in));
	assert_non_null(sl_inspect_clamav_off(in));
	assert_non_null(strstr(sl_inspect_clamav_off(in), db));
	assert_non_null(strstr(sl_inspect_clamav_off(in), why));
	assert_int_equal(count(f->log + before, "virus scanning is OFF: "), 1);
	assert_non_null(strstr(f->log + before, "run freshclam or give --clamav-db"));
	sl_inspect_describe(in, desc, sizeof(desc));
	assert_non_null(strstr(desc, "clamav: off ("));
	sl_inspect_free(in);

	/* The caller already said so (sluice check, second capture): not
	 * again (libclamav may still complain about a malformed file). */
	before = f->log_len;
	in = open_db(f, db, false, true, err, sizeof(err));
	assert_non_null(in);
	assert_false(sl_inspect_has_clamav(in));
	assert_int_equal(count(f->log + before, "virus scanning is OFF"), 0);
	sl_inspect_free(in);
}

static void required_fails(void **state, const char *db)
{
	struct fixture *f = *state;
	char err[512];

	struct sl_inspect *in = open_db(f, db, true, false, err, sizeof(err));
	assert_null(in);
	assert_non_null(strstr(err, db));
}

static void test_empty_dir(void **state)
{
	struct fixture *f = *state;

	off_with_one_warning(state, f->dir, "empty directory");
	required_fails(state, f->dir);
}

static void test_missing(void **state)
{
	struct fixture *f = *state;

	off_with_one_warning(state, f->missing, "No such file");
	required_fails(state, f->missing);
}

static void test_unloadable(void **state)
{
	struct fixture *f = *state;

	off_with_one_warning(state, f->bad, "loading");
	required_fails(state, f->bad);
}

static void test_good_db_runs(void **state)
{
	struct fixture *f = *state;
	char err[512];

	struct sl_inspect *in = open_db(f, SL_TEST_CLAMAV_DIR, false, false, err, sizeof(err));
	assert_non_null(in);
	assert_true(sl_inspect_has_clamav(in));
	assert_null(sl_inspect_clamav_off(in));
	sl_inspect_free(in);
}

static void test_clamav_off_by_config(void **state)
{
	struct fixture *f = *state;
	struct sl_inspect_config c;
	char err[256];
	size_t before = f->log_len;

	sl_inspect_config_default(&c);
	c.clamav = false;
	c.clam.database = f->missing;
	struct sl_inspect *in = sl_inspect_new(&c, err, sizeof(err));
	fflush(f->log_f);
	assert_non_null(in);
	assert_false(sl_inspect_has_clamav(in));
	assert_null(sl_inspect_clamav_off(in));
	assert_int_equal(f->log_len, before);
	sl_inspect_free(in);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_empty_dir, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unloadable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_good_db_runs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_clamav_off_by_config, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
