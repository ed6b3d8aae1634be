/* The subcommands of the sluice binary.  Each takes the argument vector
 * starting at its own name and returns the process exit status. */
#ifndef SL_CMD_H
#define SL_CMD_H

int sl_cmd_replay(int argc, char **argv);
int sl_cmd_check(int argc, char **argv);
int sl_cmd_inline(int argc, char **argv);
int sl_cmd_stats(int argc, char **argv);

#endif
