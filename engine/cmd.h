/* The subcommands of the sluice binary.  Each takes the argument vector
 * starting at its own name and returns the process exit status. */
#ifndef SL_CMD_H
#define SL_CMD_H

#include <stdio.h>

int sl_cmd_replay(int argc, char **argv);
int sl_cmd_check(int argc, char **argv);
int sl_cmd_inline(int argc, char **argv);
int sl_cmd_stats(int argc, char **argv);
int sl_cmd_config(int argc, char **argv);
int sl_cmd_anomalies(int argc, char **argv);

struct sl_config;
/* The arguments of `sluice config` and `sluice anomalies`, [-c FILE] [-h],
 * and the configuration they name: the defaults, FILE loaded over them and
 * checked (sl_config_check).  Returns -1 with *c loaded (free it with
 * sl_config_free), else the exit status: 0 after --help, 2 on a usage
 * error or a file that does not load (reported as "sluice CMD: ..."). */
int sl_cmd_config_open(const char *cmd, int argc, char **argv, void (*usage)(FILE *f),
		       struct sl_config *c);

#endif
