/* `sluice rules check`: exit status, summary on stdout, compiler-style
 * errors on stderr. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "cmd_rules.h"

/* Runs sl_cmd_rules with stdout and stderr captured into out/err. */
static int run(char **argv, int argc, char *out, size_t outsz, char *err, size_t errsz)
{
	FILE *fo = tmpfile(), *fe = tmpfile();
	int so = dup(1), se = dup(2), rc;

	assert_non_null(fo);
	assert_non_null(fe);
	fflush(stdout);
	fflush(stderr);
	dup2(fileno(fo), 1);
	dup2(fileno(fe), 2);
	rc = sl_cmd_rules(argc, argv);
	fflush(stdout);
	fflush(stderr);
	dup2(so, 1);
	dup2(se, 2);
	close(so);
	close(se);
	rewind(fo);
	rewind(fe);
	out[fread(out, 1, outsz - 1, fo)] = '\0';
	err[fread(err, 1, errsz - 1, fe)] = '\0';
	fclose(fo);
	fclose(fe);
	return rc;
}

static void check_valid_files(void **st)
{
	char out[4096], err[1024];
	char *argv[] = { "rules", "check", SL_TEST_RULES_DIR "/keywords.rules",
			 SL_TEST_RULES_DIR "/policy.rules", NULL };

	assert_int_equal(run(argv, 4, out, sizeof(out), err, sizeof(err)), 0);
	assert_string_equal(err, "");
	assert_non_null(strstr(out, "rules: 9 in 2 files\n"));
	assert_non_null(strstr(out, "by action: alert 4 tempfail 0 block 5\n"));
	assert_non_null(strstr(out, "by kind:   keyword 2 regex 1 policy 4 list 1 spoof 1\n"));
	assert_non_null(strstr(out, "databases: 3 (Hyperscan, streaming)\n"));
	/* raw and subject are read by the same rule: one database */
	assert_non_null(strstr(out, "  raw            1 pattern   shares the subject database\n"));
	assert_non_null(strstr(out, "lists: 1 file, 3 entries\n"));
}

static void check_reports_errors(void **st)
{
	char out[4096], err[1024], path[] = "/tmp/sl_rules_cmd_XXXXXX";
	int fd = mkstemp(path);
	const char *text = "alert ok body keyword \"a\" msg \"m\"\n"
			   "block bad body regex \"(unclosed\" msg \"m\"\n";

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	char *argv[] = { "rules", "check", path, NULL };
	char want[256];

	assert_int_equal(run(argv, 3, out, sizeof(out), err, sizeof(err)), 1);
	snprintf(want, sizeof(want), "%s:2:23: error: invalid regex: Missing close parenthesis "
		 "for group started at index 0.\n", path);
	assert_string_equal(err, want);
	assert_string_equal(out, "");
	unlink(path);

	char *usage1[] = { "rules", NULL };
	char *usage2[] = { "rules", "lint", "x", NULL };
	char *help[] = { "rules", "--help", NULL };

	assert_int_equal(run(usage1, 1, out, sizeof(out), err, sizeof(err)), 2);
	assert_non_null(strstr(err, "usage: sluice rules check FILE..."));
	assert_int_equal(run(usage2, 3, out, sizeof(out), err, sizeof(err)), 2);
	assert_int_equal(run(help, 2, out, sizeof(out), err, sizeof(err)), 0);
	assert_non_null(strstr(out, "usage: sluice rules check FILE..."));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(check_valid_files),
		cmocka_unit_test(check_reports_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
