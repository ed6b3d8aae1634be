/* The operator rule language: lexer and parser (docs/rules.md is the
 * reference).  One rule per line, `\` at the end of a line continues it:
 *
 *   ACTION ID TARGETS OPTION...
 *
 *   block  conf-001  body,attachment,subject  keyword nocase "Project Bluebird" \
 *          msg "confidential project name"
 *
 * The parser only checks what one file can know (syntax, option/target
 * combinations, value ranges); ids unique across files, list files and
 * regex compilation are the ruleset loader's work (ruleset.c). */
#ifndef SL_RULE_PARSE_H
#define SL_RULE_PARSE_H

#include "addr_target.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "attach_policy.h"
#include "rule_error.h"
#include "spoof.h"
#include "verdict.h"

struct sl_addrlist;

/* Bounds on what one rule may hold. */
#define SL_RULE_ID_MAX (SL_REASON_ID_MAX - 1)		/* 95 bytes */
#define SL_RULE_MSG_MAX (SL_REASON_TEXT_MAX - 1)	/* 159 bytes */
#define SL_RULE_KEYWORD_MAX 1024
#define SL_RULE_REGEX_MAX 8192
#define SL_RULE_TOKENS_MAX 4096

enum sl_rule_kind {
	SL_RULE_KEYWORD = 0,		/* literal strings over object scopes */
	SL_RULE_REGEX,			/* regular expressions over object scopes */
	SL_RULE_POLICY,			/* ext / name / type / size only, at object end */
	SL_RULE_LIST,			/* address list, at message end */
	SL_RULE_SPOOF,			/* AUTH user vs sender, at message end */
	SL_RULE_KIND_COUNT
};

const char *sl_rule_kind_name(enum sl_rule_kind k);

enum sl_pat_flag {
	SL_PAT_NOCASE    = 1u << 0,
	SL_PAT_DOTALL    = 1u << 1,
	SL_PAT_MULTILINE = 1u << 2,
	SL_PAT_UTF8      = 1u << 3,
};

/* A keyword (literal bytes, may hold NUL) or a regex (the text between the
 * quotes, verbatim: the regex engine reads its backslashes). */
struct sl_rule_pattern {
	char *text;			/* NUL-terminated */
	size_t len;
	uint32_t flags;			/* enum sl_pat_flag */
	unsigned line, column;		/* of the opening quote */
};

struct sl_rule {
	char *id;
	char *msg;
	const char *file;		/* not owned: the caller's name for the file */
	unsigned line, column;		/* of the action word */
	unsigned id_column;
	enum sl_action action;
	enum sl_rule_kind kind;

	uint32_t scopes;		/* 1u << enum sl_scope: objects the rule reads */
	char **headers;			/* header:NAME restrictions, lower-case; 0 = any */
	unsigned n_headers;
	uint32_t addr_targets;		/* list rules: enum sl_addr_target */
	uint8_t dirs;			/* 1u << enum sl_dir; 0 = either */
	uint8_t protos;			/* 1u << enum sl_proto; 0 = any */

	struct sl_rule_pattern *pats;	/* keyword / regex: any one matches */
	unsigned n_pats;

	struct sl_attach_policy policy;	/* object tests, judged at object end */

	char *list_path;		/* list rules: resolved against the rule file's dir */
	unsigned list_line, list_column;
	struct sl_addrlist *list;	/* filled in by the ruleset loader; not owned */

	struct sl_spoof_opts spoof;
};

/* Content rules with object tests wait for the object's end to fire. */
static inline bool sl_rule_deferred(const struct sl_rule *r)
{
	return r->kind == SL_RULE_POLICY || !sl_attach_policy_empty(&r->policy);
}

struct sl_rule_vec {
	struct sl_rule *v;
	size_t n, cap;
};

/* Parses one rule file held in memory (buf need not be NUL-terminated).
 * 'file' names it in errors and in each rule, and locates relative list
 * paths; it must outlive the rules.  Rules are appended to out; on error
 * returns -1 with err set, and out holds only the rules before the error. */
int sl_rule_parse(const char *file, const char *buf, size_t len, struct sl_rule_vec *out,
		  struct sl_rule_error *err);

void sl_rule_vec_free(struct sl_rule_vec *v);

#endif
