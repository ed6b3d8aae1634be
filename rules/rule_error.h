/* Reading rule and list files, and saying where they went wrong: one error
 * with its position, printed compiler-style as FILE:LINE:COL: error: MESSAGE.
 * Loading stops at the first error, so there is never a half-loaded set. */
#ifndef SL_RULE_ERROR_H
#define SL_RULE_ERROR_H

#include <stddef.h>

#define SL_RULE_ERR_FILE_MAX 512
#define SL_RULE_ERR_MSG_MAX 320

struct sl_rule_error {
	char file[SL_RULE_ERR_FILE_MAX];
	unsigned line;			/* 1-based; 0 = the file as a whole */
	unsigned column;		/* 1-based byte column (a tab is 1); 0 = none */
	char message[SL_RULE_ERR_MSG_MAX];
};

/* Fills e (when not NULL); always returns -1 so callers can `return` it. */
int sl_rule_error_set(struct sl_rule_error *e, const char *file, unsigned line,
		      unsigned column, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

/* "FILE:LINE:COL: error: MESSAGE" (LINE and COL left out when 0). */
void sl_rule_error_format(const struct sl_rule_error *e, char *buf, size_t size);

/* Largest rule or list file accepted. */
#define SL_RULE_FILE_MAX (64u << 20)

/* Reads a whole file into a malloc'd, NUL-terminated buffer. */
int sl_rule_read_file(const char *path, char **buf, size_t *len, struct sl_rule_error *err);

#endif
