#include "sink.h"

#include <string.h>

static const char *const scope_names[SL_SCOPE_COUNT] = {
	[SL_SCOPE_TEXT] = "body",
	[SL_SCOPE_ATTACHMENT] = "attachment",
	[SL_SCOPE_HEADER] = "header",
	[SL_SCOPE_SUBJECT] = "subject",
	[SL_SCOPE_FILENAME] = "filename",
	[SL_SCOPE_MAIL_FROM] = "mail_from",
	[SL_SCOPE_RCPT_TO] = "rcpt_to",
	[SL_SCOPE_AUTH_USER] = "auth_user",
	[SL_SCOPE_RAW] = "raw",
};

const char *sl_scope_name(enum sl_scope s)
{
	return (unsigned)s < SL_SCOPE_COUNT ? scope_names[s] : "unknown";
}

int sl_scope_parse(const char *s, enum sl_scope *out)
{
	for (unsigned i = 0; i < SL_SCOPE_COUNT; i++) {
		if (strcmp(s, scope_names[i]) == 0) {
			*out = (enum sl_scope)i;
			return 0;
		}
	}
	return -1;
}
