/* `sluice anomalies [-c FILE]`: every named anomaly (engine/core/
 * anomaly_*.def) with the action a message touched by it gets - the
 * table's default, or FILE's policy.anomalies - and what it means.  The
 * names are the ones policy.anomalies takes (with '_' for the first '.'),
 * the `anomaly` events carry and expectation files match. */
#include <stdio.h>

#include "cmd.h"
#include "config.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: sluice anomalies [-c FILE]\n"
		"\n"
		"Lists every anomaly: name, layer, action, description (docs/events.md).\n"
		"The action is the one a message touched by the anomaly gets: the default,\n"
		"or FILE's policy.anomalies (scan.*: FILE's policy.scan_* and too_large).\n"
		"\n"
		"  -c, --config FILE   apply FILE's policies\n"
		"  -h, --help          this text\n"
		"\n"
		"exit status: 0 printed; 2 usage, or FILE does not load.\n");
}

int sl_cmd_anomalies(int argc, char **argv)
{
	struct sl_config conf;
	int rc = sl_cmd_config_open("anomalies", argc, argv, usage, &conf);

	if (rc >= 0)
		return rc;
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
