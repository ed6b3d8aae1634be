/* `sluice anomalies [-c FILE]`: every named anomaly (engine/core/
 * anomaly_*.def) with the action a message touched by it gets - the
 * table's default, or FILE's policy.anomalies - and what it means.  The
 * names are the ones policy.anomalies takes (with '_' for the first '.'),
 * the `anomaly` events carry and expectation files match. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "config.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: sluice anomalies [-c FILE]\n"
		"\n"
		"Lists every anomaly: name, layer, action, description (docs/events.md).\n"
		"The action is the default one, or FILE's policy.anomalies setting.\n"
		"\n"
		"  -c, --config FILE   apply FILE's policy.anomalies\n"
		"  -h, --help          this text\n"
		"\n"
		"exit status: 0 printed; 2 usage, or FILE does not load.\n");
}

int sl_cmd_anomalies(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	const char *path = NULL;
	struct sl_config conf;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c': path = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "sluice anomalies: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	if (sl_cmd_load_config("anomalies", path, &conf) != 0)
		return 2;
	printf("%-34s %-8s %-8s %s\n", "# name", "layer", "action", "description");
	for (unsigned a = 0; a < SL_ANOM_MAX; a++) {
		char layer[16];
		enum sl_action act = sl_config_anomaly_action(&conf, (enum sl_anomaly)a);

		printf("%-34s %-8s %-8s %s\n", sl_anomaly_name((enum sl_anomaly)a),
		       sl_anomaly_layer((enum sl_anomaly)a, layer, sizeof(layer)),
		       sl_action_name(act), sl_anomaly_desc((enum sl_anomaly)a));
	}
	sl_config_free(&conf);
	return 0;
}
