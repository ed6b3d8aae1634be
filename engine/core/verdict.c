#include "verdict.h"

#include <stdio.h>
#include <string.h>

static const char *const action_names[] = {
	[SL_ACTION_PASS] = "pass",
	[SL_ACTION_ALERT] = "alert",
	[SL_ACTION_TEMPFAIL] = "tempfail",
	[SL_ACTION_BLOCK] = "block",
};

const char *sl_action_name(enum sl_action a)
{
	return (unsigned)a <= SL_ACTION_BLOCK ? action_names[a] : "unknown";
}

int sl_action_parse(const char *s, enum sl_action *out)
{
	for (unsigned i = 0; i <= SL_ACTION_BLOCK; i++) {
		if (strcmp(s, action_names[i]) == 0) {
			*out = (enum sl_action)i;
			return 0;
		}
	}
	if (strcmp(s, "fail-open") == 0) {
		*out = SL_ACTION_PASS;
		return 0;
	}
	if (strcmp(s, "fail-closed") == 0) {
		*out = SL_ACTION_BLOCK;
		return 0;
	}
	return -1;
}

const char *sl_reason_kind_name(enum sl_reason_kind k)
{
	switch (k) {
	case SL_REASON_RULE: return "rule";
	case SL_REASON_VIRUS: return "virus";
	case SL_REASON_ANOMALY: return "anomaly";
	case SL_REASON_POLICY: return "policy";
	}
	return "unknown";
}

void sl_verdict_init(struct sl_verdict *v)
{
	v->action = SL_ACTION_PASS;
	v->n = 0;
	v->dropped = 0;
}

static void copy_str(char *dst, unsigned size, const char *src)
{
	size_t n = src ? strlen(src) : 0;

	if (n >= size)
		n = size - 1;
	if (n)
		memcpy(dst, src, n);
	dst[n] = '\0';
}

void sl_verdict_add(struct sl_verdict *v, enum sl_reason_kind kind, enum sl_action action,
		    const char *id, const char *text, uint32_t object)
{
	struct sl_reason *r;

	if (action > v->action)
		v->action = action;
	for (unsigned i = 0; i < v->n; i++) {
		r = &v->r[i];
		if (r->kind == kind && strncmp(r->id, id ? id : "", SL_REASON_ID_MAX - 1) == 0) {
			if (action > r->action)
				r->action = action;
			return;
		}
	}
	if (v->n == SL_VERDICT_MAX_REASONS) {
		v->dropped++;
		return;
	}
	r = &v->r[v->n++];
	r->kind = kind;
	r->action = action;
	r->object = object;
	copy_str(r->id, sizeof(r->id), id);
	copy_str(r->text, sizeof(r->text), text);
}

void sl_verdict_merge(struct sl_verdict *dst, const struct sl_verdict *src)
{
	for (unsigned i = 0; i < src->n; i++)
		sl_verdict_add(dst, src->r[i].kind, src->r[i].action, src->r[i].id,
			       src->r[i].text, src->r[i].object);
	dst->dropped += src->dropped;
	if (src->action > dst->action)
		dst->action = src->action;
}

void sl_verdict_summary(const struct sl_verdict *v, char *buf, unsigned size)
{
	const struct sl_reason *worst = NULL;
	unsigned o = 0;

	if (size == 0)
		return;
	for (unsigned i = 0; i < v->n; i++)
		if (!worst || v->r[i].action > worst->action)
			worst = &v->r[i];
	if (!worst) {
		snprintf(buf, size, "%s", sl_action_name(v->action));
		return;
	}
	int n = snprintf(buf, size, "%s %s", sl_reason_kind_name(worst->kind), worst->id);
	/* Everything a reply carries must be printable ASCII without CR/LF: a
	 * rule id or virus name could otherwise forge extra reply lines. */
	for (o = 0; buf[o] && o < size - 1 && (int)o < n; o++)
		if ((unsigned char)buf[o] < 0x20 || (unsigned char)buf[o] > 0x7e)
			buf[o] = '?';
}
