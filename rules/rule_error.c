#include "rule_error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int sl_rule_error_set(struct sl_rule_error *e, const char *file, unsigned line,
		      unsigned column, const char *fmt, ...)
{
	va_list ap;

	if (!e)
		return -1;
	snprintf(e->file, sizeof(e->file), "%s", file ? file : "");
	e->line = line;
	e->column = line ? column : 0;
	va_start(ap, fmt);
	vsnprintf(e->message, sizeof(e->message), fmt, ap);
	va_end(ap);
	return -1;
}

void sl_rule_error_format(const struct sl_rule_error *e, char *buf, size_t size)
{
	if (e->line && e->column)
		snprintf(buf, size, "%s:%u:%u: error: %s", e->file, e->line, e->column, e->message);
	else if (e->line)
		snprintf(buf, size, "%s:%u: error: %s", e->file, e->line, e->message);
	else
		snprintf(buf, size, "%s: error: %s", e->file, e->message);
}

int sl_rule_read_file(const char *path, char **buf, size_t *len, struct sl_rule_error *err)
{
	FILE *f = fopen(path, "rb");
	char *b = NULL;
	size_t n = 0, cap = 0;

	if (!f)
		return sl_rule_error_set(err, path, 0, 0, "cannot open: %s", strerror(errno));
	for (;;) {
		if (cap - n < 4096) {
			size_t ncap = cap ? cap * 2 : 65536;
			char *nb;

			if (ncap > SL_RULE_FILE_MAX + 4096u)
				ncap = SL_RULE_FILE_MAX + 4096u;
			if (ncap - n < 2 || !(nb = realloc(b, ncap)))
				goto too_big;
			b = nb;
			cap = ncap;
		}
		size_t r = fread(b + n, 1, cap - n - 1, f);

		n += r;
		if (n > SL_RULE_FILE_MAX)
			goto too_big;
		if (r == 0)
			break;
	}
	if (ferror(f)) {
		int e = errno;

		fclose(f);
		free(b);
		return sl_rule_error_set(err, path, 0, 0, "cannot read: %s", strerror(e));
	}
	fclose(f);
	if (!b && !(b = malloc(1))) {
		return sl_rule_error_set(err, path, 0, 0, "out of memory");
	}
	b[n] = '\0';
	*buf = b;
	*len = n;
	return 0;
too_big:
	fclose(f);
	free(b);
	return sl_rule_error_set(err, path, 0, 0, "file larger than %u bytes (or out of memory)",
				 SL_RULE_FILE_MAX);
}
