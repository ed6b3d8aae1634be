#include "cmd_rules.h"

#include <stdio.h>
#include <string.h>

#include "ruleset.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: sluice rules check FILE...\n"
		   "  Compiles the rule files together (as the engine would load them)\n"
		   "  and prints a summary; errors go to stderr as FILE:LINE:COL: error: ...\n");
}

static void print_kib(const char *label, size_t bytes)
{
	printf("%s%zu bytes (%.1f KiB)\n", label, bytes, (double)bytes / 1024.0);
}

static void print_summary(const struct sl_ruleset_info *in)
{
	const char *sep = "";

	printf("rules: %u in %u file%s\n", in->n_rules, in->n_files, in->n_files == 1 ? "" : "s");
	printf("  by action:");
	for (unsigned a = SL_ACTION_ALERT; a <= SL_ACTION_BLOCK; a++)
		printf(" %s %u", sl_action_name((enum sl_action)a), in->by_action[a]);
	printf("\n  by kind:  ");
	for (unsigned k = 0; k < SL_RULE_KIND_COUNT; k++)
		printf(" %s %u", sl_rule_kind_name((enum sl_rule_kind)k), in->by_kind[k]);
	printf("\n  by scope: ");
	for (unsigned s = 0; s < SL_SCOPE_COUNT; s++) {
		if (!in->by_scope[s])
			continue;
		printf("%s %s %u", sep, sl_scope_name((enum sl_scope)s), in->by_scope[s]);
		sep = ",";
	}
	printf("%s\n", *sep ? "" : " none");
	printf("databases: %u (Hyperscan, streaming)\n", in->n_databases);
	for (unsigned s = 0; s < SL_SCOPE_COUNT; s++) {
		if (!in->db_bytes[s])
			continue;
		printf("  %-10s %5u pattern%s  ", sl_scope_name((enum sl_scope)s), in->patterns[s],
		       in->patterns[s] == 1 ? " " : "s");
		if (in->shared_with[s] >= 0)
			printf("shares the %s database\n",
			       sl_scope_name((enum sl_scope)in->shared_with[s]));
		else
			print_kib("", in->db_bytes[s]);
	}
	print_kib("  total      ", in->total_db_bytes);
	print_kib("  scratch    ", in->scratch_bytes);
	printf("lists: %u file%s, %zu entries\n", in->n_lists, in->n_lists == 1 ? "" : "s",
	       in->list_entries);
}

static int check(int n, char **files)
{
	struct sl_rule_error err;
	struct sl_ruleset_info info;
	struct sl_ruleset *rs = sl_ruleset_load((const char *const *)files, (size_t)n, &err);
	char line[SL_RULE_ERR_FILE_MAX + SL_RULE_ERR_MSG_MAX + 64];

	if (!rs) {
		sl_rule_error_format(&err, line, sizeof(line));
		fprintf(stderr, "%s\n", line);
		return 1;
	}
	sl_ruleset_info(rs, &info);
	print_summary(&info);
	sl_ruleset_unref(rs);
	return 0;
}

int sl_cmd_rules(int argc, char **argv)
{
	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		usage(stdout);
		return 0;
	}
	if (argc < 3 || strcmp(argv[1], "check") != 0) {
		usage(stderr);
		return 2;
	}
	return check(argc - 2, argv + 2);
}
