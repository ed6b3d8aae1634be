/* `sluice config [-c FILE]`: prints the effective configuration - the
 * defaults, or FILE loaded over them - in the file's own syntax, one line
 * per key of the key table (engine/config.c).  So it is the list of every
 * key and its default (docs/config.md is checked against it), and with -c
 * a validator: the same loader `sluice inline` and SIGHUP use, the same
 * "FILE:LINE: reason" errors, plus the cross-key checks of `sluice inline`.
 * The output loads back unchanged. */
#include <getopt.h>
#include <stdio.h>

#include "cmd.h"
#include "config.h"

int sl_cmd_config_open(const char *cmd, int argc, char **argv, void (*usage)(FILE *f),
		       struct sl_config *c)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	const char *path = NULL;
	char err[1024];
	int o;

	optind = 1;
	while ((o = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (o) {
		case 'c': path = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "sluice %s: unexpected argument '%s'\n", cmd, argv[optind]);
		return 2;
	}
	sl_config_default(c);
	if (path && (sl_config_load(c, path, err, sizeof(err)) != 0 ||
		     sl_config_check(c, err, sizeof(err)) != 0)) {
		fprintf(stderr, "sluice %s: %s\n", cmd, err);
		sl_config_free(c);
		return 2;
	}
	return -1;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: sluice config [-c FILE]\n"
		"\n"
		"Prints every configuration key with its value: the defaults, or FILE loaded\n"
		"over them (docs/config.md).  The output is itself a valid FILE.\n"
		"\n"
		"  -c, --config FILE   load FILE (exactly as `sluice inline` would)\n"
		"  -h, --help          this text\n"
		"\n"
		"exit status: 0 printed; 2 usage, or FILE does not load (the error names\n"
		"FILE:LINE and the reason).\n");
}

int sl_cmd_config(int argc, char **argv)
{
	struct sl_config conf;
	int rc = sl_cmd_config_open("config", argc, argv, usage, &conf);

	if (rc >= 0)
		return rc;
	sl_config_dump(&conf, stdout);
	sl_config_free(&conf);
	return 0;
}
