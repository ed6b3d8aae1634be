/* sluice: command-line entry point.  Picks the subcommand and hands over;
 * all state is created by the subcommand and passed down, none is global. */
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "cmd_rules.h"
#include "sluice_version.h"

struct command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *help;
};

static const struct command commands[] = {
	{ "replay", sl_cmd_replay, "inspect pcap/pcapng captures offline, write EVE JSON events" },
	{ "check", sl_cmd_check, "replay captures and compare with their expectation files (CI)" },
	{ "rules", sl_cmd_rules, "rules check FILE...: validate rule files" },
	{ "inline", sl_cmd_inline, "inspect NFQUEUE traffic inline: hold, pass, refuse (the IPS)" },
	{ "stats", sl_cmd_stats, "print the live figures of a running `sluice inline` (JSON)" },
	{ "config", sl_cmd_config, "print the effective configuration (-c FILE: load and check it)" },
	{ "anomalies", sl_cmd_anomalies, "list every anomaly with its layer and action" },
};

static void usage(FILE *f)
{
	fprintf(f, "usage: sluice <command> [options]   (sluice <command> --help for more)\n\n"
		   "commands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].help);
	fprintf(f, "\n  --help     this text\n  --version  print the version\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
		printf("sluice %s\n", SLUICE_VERSION);
		return 0;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].run(argc - 1, argv + 1);
	fprintf(stderr, "sluice: unknown command '%s' (try: sluice --help)\n", argv[1]);
	return 2;
}
