/* The subcommands of the sluice binary.  Each takes the argument vector
 * starting at its own name and returns the process exit status. */
#ifndef SL_CMD_H
#define SL_CMD_H

int sl_cmd_replay(int argc, char **argv);
int sl_cmd_check(int argc, char **argv);
int sl_cmd_inline(int argc, char **argv);
int sl_cmd_stats(int argc, char **argv);
int sl_cmd_config(int argc, char **argv);
int sl_cmd_anomalies(int argc, char **argv);

struct sl_config;
/* Defaults, then path (when not NULL) loaded over them and checked
 * (sl_config_check); on error prints "sluice CMD: FILE:LINE: reason" to
 * stderr and returns -1.  The caller frees c with sl_config_free(). */
int sl_cmd_load_config(const char *cmd, const char *path, struct sl_config *c);

#endif
