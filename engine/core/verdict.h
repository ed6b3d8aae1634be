/* One closed set of actions, shared by rules, failure policies, anomalies
 * and tools, and the verdict of a message: the worst action any reason asked
 * for, with every reason kept.
 *
 * Actions are ordered by severity so that combining two is max():
 *   pass < alert < tempfail < block
 * tempfail ("try again later": SMTP 451) exists because a scan error must
 * not lose mail, yet must not let it through uninspected either. */
#ifndef SL_VERDICT_H
#define SL_VERDICT_H

#include <stdbool.h>
#include <stdint.h>

enum sl_action {
	SL_ACTION_PASS = 0,
	SL_ACTION_ALERT,
	SL_ACTION_TEMPFAIL,
	SL_ACTION_BLOCK,
};

const char *sl_action_name(enum sl_action a);
/* "pass" | "alert" | "tempfail" | "block"; also "fail-open" (= pass) and
 * "fail-closed" (= block).  Returns -1 when unknown. */
int sl_action_parse(const char *s, enum sl_action *out);

enum sl_reason_kind {
	SL_REASON_RULE,			/* an operator rule matched: id = rule id */
	SL_REASON_VIRUS,		/* ClamAV: id = signature name */
	SL_REASON_ANOMALY,		/* id = anomaly name */
	SL_REASON_POLICY,		/* a limit or failure policy: id = policy name */
};

const char *sl_reason_kind_name(enum sl_reason_kind k);

#define SL_REASON_ID_MAX 96
#define SL_REASON_TEXT_MAX 160
#define SL_VERDICT_MAX_REASONS 16

struct sl_reason {
	enum sl_reason_kind kind;
	enum sl_action action;
	uint32_t object;		/* which object (part id) triggered it; 0 = message */
	char id[SL_REASON_ID_MAX];
	char text[SL_REASON_TEXT_MAX];
};

struct sl_verdict {
	enum sl_action action;
	uint16_t n;
	uint16_t dropped;		/* reasons beyond SL_VERDICT_MAX_REASONS (action still counted) */
	struct sl_reason r[SL_VERDICT_MAX_REASONS];
};

void sl_verdict_init(struct sl_verdict *v);
/* Adds a reason; the same (kind, id) twice is kept once, at the worse action.
 * id and text are copied (truncated to fit). */
void sl_verdict_add(struct sl_verdict *v, enum sl_reason_kind kind, enum sl_action action,
		    const char *id, const char *text, uint32_t object);
void sl_verdict_merge(struct sl_verdict *dst, const struct sl_verdict *src);
/* The one-line reason a client sees in an SMTP reply: printable ASCII only,
 * no CR/LF, at most size-1 bytes.  Picks the most severe reason. */
void sl_verdict_summary(const struct sl_verdict *v, char *buf, unsigned size);

#endif
