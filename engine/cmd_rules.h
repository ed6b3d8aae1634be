/* `sluice rules ...`: operator tools for rule files. */
#ifndef SL_CMD_RULES_H
#define SL_CMD_RULES_H

/* argv[0] is "rules" (main passes argc - 1, argv + 1).
 *   sluice rules check FILE...   validate; summary on stdout; errors as
 *                                FILE:LINE:COL: error: MESSAGE on stderr.
 * Returns the exit status: 0 valid, 1 invalid, 2 usage. */
int sl_cmd_rules(int argc, char **argv);

#endif
