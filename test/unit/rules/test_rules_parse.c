/* rules/: the rule language.  Every documented form parses to what it says;
 * every error comes out as FILE:LINE:COL: error: MESSAGE at the right spot.
 * Parse-level tables use sl_rule_parse; load-level ones (ids across files,
 * lists, regex compilation) use sl_ruleset_load_mem. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "mailaddr.h"
#include "mail.h"
#include "rule_parse.h"
#include "ruleset.h"
#include "slice.h"

#define S(x) (1u << SL_SCOPE_##x)

static int parse(const char *file, const char *text, struct sl_rule_vec *v, struct sl_rule_error *e)
{
	memset(v, 0, sizeof(*v));
	return sl_rule_parse(file, text, strlen(text), v, e);
}

static const struct sl_rule *parse_one(const char *text, struct sl_rule_vec *v)
{
	struct sl_rule_error e;
	char line[1024];

	if (parse("dir/t.rules", text, v, &e) != 0) {
		sl_rule_error_format(&e, line, sizeof(line));
		fail_msg("unexpected parse error: %s\n  in: %s", line, text);
	}
	assert_int_equal(v->n, 1);
	return &v->v[0];
}

/* ---- accepted forms ---- */

static void accepts_the_issue_examples(void **st)
{
	struct sl_rule_vec v;
	const struct sl_rule *r;

	r = parse_one("block  conf-001  body,attachment,subject  keyword nocase \"Project Bluebird\""
		      "  msg \"confidential project name\"\n", &v);
	assert_string_equal(r->id, "conf-001");
	assert_int_equal(r->action, SL_ACTION_BLOCK);
	assert_int_equal(r->kind, SL_RULE_KEYWORD);
	assert_int_equal(r->scopes, S(TEXT) | S(ATTACHMENT) | S(SUBJECT));
	assert_int_equal(r->n_pats, 1);
	assert_string_equal(r->pats[0].text, "Project Bluebird");
	assert_int_equal(r->pats[0].flags, SL_PAT_NOCASE);
	assert_int_equal(r->pats[0].line, 1);
	assert_int_equal(r->pats[0].column, 58);
	assert_string_equal(r->msg, "confidential project name");
	assert_int_equal(r->line, 1);
	assert_int_equal(r->column, 1);
	assert_int_equal(r->id_column, 8);
	sl_rule_vec_free(&v);

	r = parse_one("alert  pii-ssn   body  regex \"\\b\\d{3}-\\d{2}-\\d{4}\\b\"  msg \"possible US SSN\"", &v);
	assert_int_equal(r->kind, SL_RULE_REGEX);
	assert_int_equal(r->action, SL_ACTION_ALERT);
	assert_int_equal(r->scopes, S(TEXT));
	/* regex text is verbatim: the backslashes are the regex engine's */
	assert_string_equal(r->pats[0].text, "\\b\\d{3}-\\d{2}-\\d{4}\\b");
	assert_int_equal(r->pats[0].flags, 0);
	sl_rule_vec_free(&v);

	r = parse_one("block  exe-att   filename  ext exe,scr,js,vbs,bat,cmd,com,pif,jar,lnk,iso,hta"
		      "  msg \"dangerous attachment type\"", &v);
	assert_int_equal(r->kind, SL_RULE_POLICY);
	assert_int_equal(r->scopes, S(FILENAME));
	assert_int_equal(r->policy.n_exts, 12);
	assert_string_equal(r->policy.exts[0], "exe");
	assert_string_equal(r->policy.exts[11], "hta");
	sl_rule_vec_free(&v);

	r = parse_one("block  big-att   attachment  size > 25M  msg \"attachment too large\"", &v);
	assert_int_equal(r->kind, SL_RULE_POLICY);
	assert_true(r->policy.has_size);
	assert_int_equal(r->policy.size_op, SL_CMP_GT);
	assert_int_equal(r->policy.size, 25ull << 20);
	sl_rule_vec_free(&v);

	r = parse_one("block  spoof-01  spoof  subaddress \"+\"  msg \"authenticated user sends as someone else\"", &v);
	assert_int_equal(r->kind, SL_RULE_SPOOF);
	assert_string_equal(r->spoof.subaddr, "+");
	assert_false(r->spoof.nocase_local);
	assert_int_equal(r->spoof.against, SL_ADDR_MAIL_FROM | SL_ADDR_HDR_FROM);
	assert_int_equal(r->scopes, 0);
	sl_rule_vec_free(&v);

	r = parse_one("alert  vip-rcpt  rcpt_to  list \"lists/vips.txt\"  msg \"mail to a VIP\"", &v);
	assert_int_equal(r->kind, SL_RULE_LIST);
	assert_int_equal(r->addr_targets, SL_ADDR_RCPT_TO);
	assert_string_equal(r->list_path, "dir/lists/vips.txt");
	assert_int_equal(r->list_line, 1);
	assert_int_equal(r->list_column, 32);
	sl_rule_vec_free(&v);
}

static void accepts_every_option_form(void **st)
{
	struct sl_rule_vec v;
	const struct sl_rule *r;

	r = parse_one("tempfail t-1 body keyword \"a\", \"b\" ,\"c\" msg \"m\"", &v);
	assert_int_equal(r->action, SL_ACTION_TEMPFAIL);
	assert_int_equal(r->n_pats, 3);
	assert_string_equal(r->pats[2].text, "c");
	sl_rule_vec_free(&v);

	r = parse_one("alert r body,raw regex nocase dotall multiline utf8 \"x.y\", \"^z$\" msg \"m\"", &v);
	assert_int_equal(r->scopes, S(TEXT) | S(RAW));
	assert_int_equal(r->n_pats, 2);
	assert_int_equal(r->pats[1].flags, SL_PAT_NOCASE | SL_PAT_DOTALL | SL_PAT_MULTILINE | SL_PAT_UTF8);
	sl_rule_vec_free(&v);

	r = parse_one("alert h header:X-Mailer,header:user-agent,subject keyword \"x\" msg \"m\"", &v);
	assert_int_equal(r->scopes, S(HEADER) | S(SUBJECT));
	assert_int_equal(r->n_headers, 2);
	assert_string_equal(r->headers[0], "x-mailer");
	assert_string_equal(r->headers[1], "user-agent");
	sl_rule_vec_free(&v);

	r = parse_one("alert h header keyword \"x\" msg \"m\"", &v);
	assert_int_equal(r->scopes, S(HEADER));
	assert_int_equal(r->n_headers, 0);
	sl_rule_vec_free(&v);

	r = parse_one("alert e mail_from,rcpt_to,auth_user,filename keyword \"x\" msg \"m\"", &v);
	assert_int_equal(r->scopes, S(MAIL_FROM) | S(RCPT_TO) | S(AUTH_USER) | S(FILENAME));
	sl_rule_vec_free(&v);

	/* escapes in keywords are decoded; NUL is allowed there */
	r = parse_one("alert k body keyword \"a\\\"b\\\\c\\n\\r\\t\\x41\\x00z\" msg \"q\\\"uote\"", &v);
	assert_int_equal(r->pats[0].len, 11);
	assert_memory_equal(r->pats[0].text, "a\"b\\c\n\r\tA\0z", 11);
	assert_string_equal(r->msg, "q\"uote");
	sl_rule_vec_free(&v);

	r = parse_one("alert d body keyword \"x\" dir to_client proto smtp,pop3 msg \"m\"", &v);
	assert_int_equal(r->dirs, 1u << SL_TO_CLIENT);
	assert_int_equal(r->protos, (1u << SL_PROTO_SMTP) | (1u << SL_PROTO_POP3));
	sl_rule_vec_free(&v);

	r = parse_one("alert d body keyword \"x\" dir to_server msg \"m\"", &v);
	assert_int_equal(r->dirs, 1u << SL_TO_SERVER);
	sl_rule_vec_free(&v);

	/* options in any order; msg may come first */
	r = parse_one("alert o attachment msg \"m\" size <= 1KiB keyword \"x\" ext .PDF", &v);
	assert_int_equal(r->kind, SL_RULE_KEYWORD);
	assert_true(sl_rule_deferred(r));
	assert_int_equal(r->policy.size_op, SL_CMP_LE);
	assert_int_equal(r->policy.size, 1024);
	assert_string_equal(r->policy.exts[0], "pdf");
	sl_rule_vec_free(&v);

	r = parse_one("alert n filename,attachment name \"*.pdf.exe\", *.SCR msg \"m\"", &v);
	assert_int_equal(r->policy.n_names, 2);
	assert_string_equal(r->policy.names[1], "*.SCR");
	sl_rule_vec_free(&v);

	r = parse_one("alert y attachment,body type \"Application/*\",text/html size >= 10MB msg \"m\"", &v);
	assert_string_equal(r->policy.types[0], "application/*");
	assert_string_equal(r->policy.types[1], "text/html");
	assert_int_equal(r->policy.size_op, SL_CMP_GE);
	assert_int_equal(r->policy.size, 10ull << 20);
	sl_rule_vec_free(&v);

	r = parse_one("alert s attachment size < 2g msg \"m\"", &v);
	assert_int_equal(r->policy.size_op, SL_CMP_LT);
	assert_int_equal(r->policy.size, 2ull << 30);
	sl_rule_vec_free(&v);

	r = parse_one("alert s attachment size = 0 msg \"m\"", &v);
	assert_int_equal(r->policy.size_op, SL_CMP_EQ);
	assert_int_equal(r->policy.size, 0);
	sl_rule_vec_free(&v);

	r = parse_one("block sp spoof nocase against hdr_from subaddress \"+-\" msg \"m\"", &v);
	assert_true(r->spoof.nocase_local);
	assert_int_equal(r->spoof.against, SL_ADDR_HDR_FROM);
	assert_string_equal(r->spoof.subaddr, "+-");
	sl_rule_vec_free(&v);

	r = parse_one("alert l sender,recipient,auth_user list \"/abs/l.txt\" msg \"m\"", &v);
	assert_int_equal(r->addr_targets, SL_ADDR_MAIL_FROM | SL_ADDR_HDR_FROM | SL_ADDR_RCPT_TO |
			 SL_ADDR_HDR_TO | SL_ADDR_AUTH_USER);
	assert_string_equal(r->list_path, "/abs/l.txt");
	sl_rule_vec_free(&v);

	r = parse_one("alert l hdr_from,hdr_to list \"l.txt\" msg \"m\"", &v);
	assert_int_equal(r->addr_targets, SL_ADDR_HDR_FROM | SL_ADDR_HDR_TO);
	sl_rule_vec_free(&v);

	r = parse_one("alert A.b-c_d:9 body keyword \"x\" msg \"m\"", &v);
	assert_string_equal(r->id, "A.b-c_d:9");
	sl_rule_vec_free(&v);
}

static void layout_comments_continuations_crlf(void **st)
{
	struct sl_rule_vec v;
	struct sl_rule_error e;
	const char *text =
		"# a comment line\n"
		"\n"
		"   \t\n"
		"alert one body keyword \"a#b\" msg \"m\"   # trailing comment\n"
		"block two body,\\\n"
		"      subject keyword nocase \\  \n"
		"      \"k\" msg \"m2\"\r\n"
		"alert three body keyword \"z\" msg \"m3\"";	/* no final newline */

	assert_int_equal(parse("t.rules", text, &v, &e), 0);
	assert_int_equal(v.n, 3);
	assert_string_equal(v.v[0].pats[0].text, "a#b");
	assert_int_equal(v.v[0].line, 4);
	assert_int_equal(v.v[1].line, 5);
	assert_int_equal(v.v[1].scopes, S(TEXT) | S(SUBJECT));
	assert_int_equal(v.v[1].pats[0].line, 7);
	assert_int_equal(v.v[1].pats[0].column, 7);
	assert_int_equal(v.v[1].pats[0].flags, SL_PAT_NOCASE);
	assert_string_equal(v.v[1].msg, "m2");
	assert_int_equal(v.v[2].line, 8);
	sl_rule_vec_free(&v);

	assert_int_equal(parse("t.rules", "# only comments\n\n", &v, &e), 0);
	assert_int_equal(v.n, 0);
	sl_rule_vec_free(&v);
	assert_int_equal(parse("t.rules", "", &v, &e), 0);
	assert_int_equal(v.n, 0);
	sl_rule_vec_free(&v);
}

/* ---- parse errors ---- */

struct bad {
	const char *text;
	const char *error;		/* formatted, file "t.rules" */
};

#define K "block x body keyword \"a\" "
#define A16 "aaaaaaaaaaaaaaaa"

static const struct bad parse_errors[] = {
	{ "pass x body keyword \"a\" msg \"m\"",
	  "t.rules:1:1: error: unknown action 'pass' (expected alert, tempfail or block)" },
	{ "\"block\" x body keyword \"a\" msg \"m\"",
	  "t.rules:1:1: error: expected an action (alert, tempfail or block) at the start of a rule" },
	{ "block",
	  "t.rules:1:6: error: expected a rule id after 'block'" },
	{ "alert \"x\"",
	  "t.rules:1:7: error: expected a rule id after 'alert', got a string" },
	{ "block -x body keyword \"a\" msg \"m\"",
	  "t.rules:1:7: error: invalid rule id '-x' (letters, digits, '_', '-', '.', ':'; first a letter or digit)" },
	{ "block a/b body keyword \"a\" msg \"m\"",
	  "t.rules:1:7: error: invalid rule id 'a/b' (letters, digits, '_', '-', '.', ':'; first a letter or digit)" },
	{ "block " A16 A16 A16 A16 A16 A16 " body",
	  "t.rules:1:7: error: rule id longer than 95 bytes" },
	{ "block x",
	  "t.rules:1:8: error: expected targets (scopes, address fields or 'spoof') after 'x'" },
	{ "block x keyword \"a\" msg \"m\"",
	  "t.rules:1:9: error: expected targets (scopes, address fields or 'spoof') after 'x', got option 'keyword'" },
	{ "block x body,",
	  "t.rules:1:14: error: expected a target after ','" },
	{ "block x body",
	  "t.rules:1:1: error: rule 'x' has nothing to match (add keyword, regex, list, ext, name, type or size)" },
	{ "block x bogus keyword \"a\" msg \"m\"",
	  "t.rules:1:9: error: unknown scope 'bogus' (expected body, attachment, header, header:NAME, subject, filename, mail_from, rcpt_to, auth_user or raw)" },
	{ "block x body,subject,body keyword \"a\" msg \"m\"",
	  "t.rules:1:22: error: target 'body' listed twice" },
	{ "block x header,header:subject keyword \"a\" msg \"m\"",
	  "t.rules:1:16: error: 'header' already covers every header" },
	{ "block x header:subject,header keyword \"a\" msg \"m\"",
	  "t.rules:1:24: error: 'header' already covers every header" },
	{ "block x header:a,header:A keyword \"a\" msg \"m\"",
	  "t.rules:1:18: error: target 'header:A' listed twice" },
	{ "block x header: keyword \"a\" msg \"m\"",
	  "t.rules:1:9: error: empty header name after 'header:'" },
	{ "block x header:a:b keyword \"a\" msg \"m\"",
	  "t.rules:1:9: error: a header name cannot hold ':'" },
	{ "block x body keyword msg \"m\"",
	  "t.rules:1:22: error: expected a quoted keyword after 'keyword', got 'msg'" },
	{ "block x body keyword \"a\",",
	  "t.rules:1:26: error: expected a quoted keyword after ','" },
	{ "block x body regex",
	  "t.rules:1:19: error: expected a quoted regex after 'regex'" },
	{ K "\"b\" msg \"m\"",
	  "t.rules:1:26: error: expected an option name, got a string" },
	{ K "msg \"m\" , ",
	  "t.rules:1:34: error: expected an option name, got ','" },
	{ K "msg \"m\" >",
	  "t.rules:1:34: error: expected an option name, got an operator" },
	{ "block x body keyword \"\" msg \"m\"",
	  "t.rules:1:22: error: empty keyword" },
	{ "block x body regex \"\" msg \"m\"",
	  "t.rules:1:20: error: empty regex" },
	{ K "msg \"m\" foo",
	  "t.rules:1:34: error: unknown option 'foo'" },
	{ K "msg \"m\" msg \"n\"",
	  "t.rules:1:34: error: option 'msg' given twice" },
	{ K,
	  "t.rules:1:1: error: rule 'x' has no msg" },
	{ "block x body keyword dotall \"a\" msg \"m\"",
	  "t.rules:1:22: error: 'dotall' applies only to regex" },
	{ "block x body regex nocase nocase \"a\" msg \"m\"",
	  "t.rules:1:27: error: 'nocase' given twice" },
	{ K "regex \"b\" msg \"m\"",
	  "t.rules:1:26: error: 'regex' cannot be combined with 'keyword' in one rule (write two rules)" },
	{ "block x body regex \"b\" keyword \"a\" msg \"m\"",
	  "t.rules:1:24: error: 'keyword' cannot be combined with 'regex' in one rule (write two rules)" },
	{ "block x body keyword \"ab\\qc\" msg \"m\"",
	  "t.rules:1:25: error: unknown escape '\\q' (valid: \\\\ \\\" \\n \\r \\t \\xHH)" },
	{ "block x body keyword \"\\x4\" msg \"m\"",
	  "t.rules:1:23: error: '\\x' needs two hex digits" },
	{ "block x body keyword \"\\x4g\" msg \"m\"",
	  "t.rules:1:23: error: '\\x' needs two hex digits" },
	{ K "msg \"a\\x00\"",
	  "t.rules:1:32: error: NUL byte (\\x00) not allowed here" },
	{ K "msg \"unterminated",
	  "t.rules:1:30: error: unterminated string" },
	{ K "msg \"no end\\\"\n",
	  "t.rules:1:30: error: unterminated string" },
	{ K "msg \"m\" \\ extra",
	  "t.rules:1:34: error: stray '\\' (a continuation '\\' must end the line)" },
	{ K "msg \"m\" \xc3\xa9",
	  "t.rules:1:34: error: non-ASCII byte 0xc3 in a rule (allowed only in strings)" },
	{ K "msg \"a\x01\"",
	  "t.rules:1:32: error: control character 0x01 in a string (write it as an escape)" },
	{ K "msg \"m\" \x7f",
	  "t.rules:1:34: error: control character 0x7f in a rule" },
	{ "block x body keyword \"a\" msg \"m\"\nalert y body keyword \"\\z\" msg \"m\"",
	  "t.rules:2:23: error: unknown escape '\\z' (valid: \\\\ \\\" \\n \\r \\t \\xHH)" },
	{ "# c\nblock x body \\\n  keyword \\\n     \"a\" \\\n  bogus \"m\"",
	  "t.rules:5:3: error: unknown option 'bogus'" },
	{ K "msg \"\"",
	  "t.rules:1:30: error: empty msg" },
	{ K "msg \"0123456789012345678901234567890123456789012345678901234567890123456789"
	  "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890\"",
	  "t.rules:1:30: error: msg longer than 159 bytes" },
	{ K "msg \"a\\nb\"",
	  "t.rules:1:30: error: control character in msg" },
	{ "block x body ext exe msg \"m\"",
	  "t.rules:1:14: error: 'ext' applies only to the filename and attachment scopes" },
	{ "block x filename,subject name \"*.exe\" msg \"m\"",
	  "t.rules:1:26: error: 'name' applies only to the filename and attachment scopes" },
	{ "block x filename type \"a/b\" msg \"m\"",
	  "t.rules:1:18: error: 'type' applies only to the body and attachment scopes" },
	{ "block x filename ext , msg \"m\"",
	  "t.rules:1:22: error: expected a value after 'ext', got ','" },
	{ "block x filename ext \"\" msg \"m\"",
	  "t.rules:1:22: error: empty extension" },
	{ "block x filename ext exe. msg \"m\"",
	  "t.rules:1:22: error: an extension cannot end with '.'" },
	{ "block x filename ext \"a/b\" msg \"m\"",
	  "t.rules:1:22: error: an extension cannot hold '/', '\\', spaces or control characters" },
	{ "block x attachment type \"\" msg \"m\"",
	  "t.rules:1:25: error: empty content type" },
	{ "block x attachment size 25M msg \"m\"",
	  "t.rules:1:25: error: expected a comparison (<, <=, >, >=, =) after 'size', got '25M'" },
	{ "block x attachment size >= \"1\" msg \"m\"",
	  "t.rules:1:28: error: expected a size (like 25M) after '>=', got a string" },
	{ "block x attachment size > 25Q msg \"m\"",
	  "t.rules:1:27: error: invalid size '25Q' (a number with an optional K, M or G suffix, powers of 1024, at most 16E)" },
	{ "block x attachment size > 99999999999G msg \"m\"",
	  "t.rules:1:27: error: invalid size '99999999999G' (a number with an optional K, M or G suffix, powers of 1024, at most 16E)" },
	{ "block x spoof keyword \"a\" msg \"m\"",
	  "t.rules:1:15: error: option 'keyword' cannot be used in a spoof rule" },
	{ "block x spoof msg \"m\" size > 1 ext exe",
	  "t.rules:1:23: error: option 'size' cannot be used in a spoof rule" },
	{ "block x spoof,body subaddress \"+\" msg \"m\"",
	  "t.rules:1:9: error: 'spoof' cannot be combined with other targets" },
	{ K "subaddress \"+\" msg \"m\"",
	  "t.rules:1:26: error: option 'subaddress' applies only to spoof rules" },
	{ K "nocase msg \"m\"",
	  "t.rules:1:26: error: 'nocase' must follow keyword or regex (or belong to a spoof rule)" },
	{ "block x body against mail_from keyword \"a\" msg \"m\"",
	  "t.rules:1:14: error: option 'against' applies only to spoof rules" },
	{ "block x spoof subaddress \"\" msg \"m\"",
	  "t.rules:1:26: error: a subaddress separator is 1 to 7 printable characters other than '@'" },
	{ "block x spoof subaddress \"a@\" msg \"m\"",
	  "t.rules:1:26: error: a subaddress separator is 1 to 7 printable characters other than '@'" },
	{ "block x spoof subaddress \"+-+-+-+-\" msg \"m\"",
	  "t.rules:1:26: error: a subaddress separator is 1 to 7 printable characters other than '@'" },
	{ "block x spoof against body msg \"m\"",
	  "t.rules:1:23: error: unknown value 'body' for 'against' (expected mail_from or hdr_from)" },
	{ "block x spoof against mail_from, msg \"m\"",
	  "t.rules:1:34: error: unknown value 'msg' for 'against' (expected mail_from or hdr_from)" },
	{ "block x rcpt_to list \"l.txt\" keyword \"a\" msg \"m\"",
	  "t.rules:1:30: error: option 'keyword' cannot be combined with 'list'" },
	{ "block x rcpt_to,body list \"l.txt\" msg \"m\"",
	  "t.rules:1:17: error: 'body' is not an address field (expected mail_from, rcpt_to, auth_user, hdr_from, hdr_to, sender or recipient)" },
	{ "block x sender,hdr_from list \"l.txt\" msg \"m\"",
	  "t.rules:1:16: error: target 'hdr_from' listed twice" },
	{ "block x rcpt_to list msg \"m\"",
	  "t.rules:1:22: error: expected a quoted file name after 'list', got 'msg'" },
	{ "block x rcpt_to list \"\" msg \"m\"",
	  "t.rules:1:22: error: empty file name" },
	{ K "dir inbound msg \"m\"",
	  "t.rules:1:30: error: unknown value 'inbound' for 'dir' (expected to_server or to_client)" },
	{ K "proto smtp,http msg \"m\"",
	  "t.rules:1:37: error: unknown value 'http' for 'proto' (expected smtp, imap or pop3)" },
	{ K "proto",
	  "t.rules:1:31: error: expected smtp, imap or pop3 after 'proto'" },
	{ K "proto smtp,",
	  "t.rules:1:37: error: expected smtp, imap or pop3 after ','" },
};

static void rejects_every_parse_error(void **st)
{
	for (size_t i = 0; i < sizeof(parse_errors) / sizeof(parse_errors[0]); i++) {
		struct sl_rule_vec v;
		struct sl_rule_error e;
		char line[1024];

		memset(&e, 0, sizeof(e));
		if (parse("t.rules", parse_errors[i].text, &v, &e) == 0)
			fail_msg("case %zu parsed: %s", i, parse_errors[i].text);
		sl_rule_error_format(&e, line, sizeof(line));
		if (strcmp(line, parse_errors[i].error) != 0)
			fail_msg("case %zu: %s\n  got:  %s\n  want: %s", i, parse_errors[i].text, line,
				 parse_errors[i].error);
		/* never a half-parsed rule left behind */
		for (size_t k = 0; k < v.n; k++)
			assert_non_null(v.v[k].msg);
		sl_rule_vec_free(&v);
	}
}

static void rejects_nul_and_too_many_tokens(void **st)
{
	struct sl_rule_vec v = { 0 };
	struct sl_rule_error e;
	char line[256];
	static const char nul[] = "block x body keyword \"a\" msg \"m\" \0";

	assert_int_equal(sl_rule_parse("t.rules", nul, sizeof(nul) - 1, &v, &e), -1);
	sl_rule_error_format(&e, line, sizeof(line));
	assert_string_equal(line, "t.rules:1:34: error: NUL byte in a rule");
	sl_rule_vec_free(&v);

	size_t cap = 16 + 2 * (SL_RULE_TOKENS_MAX + 2);
	char *big = malloc(cap);
	size_t n = (size_t)snprintf(big, cap, "block x body");

	for (unsigned i = 0; i <= SL_RULE_TOKENS_MAX; i++)
		n += (size_t)snprintf(big + n, cap - n, ",");
	assert_int_equal(sl_rule_parse("t.rules", big, n, &v, &e), -1);
	sl_rule_error_format(&e, line, sizeof(line));
	assert_string_equal(line, "t.rules:1:4106: error: rule has more than 4096 tokens");
	sl_rule_vec_free(&v);
	free(big);
}

/* ---- load errors: ids across files, lists, patterns ---- */

static int load(size_t n, const char *const *names, const char *const *texts,
		struct sl_rule_error *e, struct sl_ruleset **out)
{
	size_t lens[8];

	for (size_t i = 0; i < n; i++)
		lens[i] = strlen(texts[i]);
	*out = sl_ruleset_load_mem(names, texts, lens, n, e);
	return *out ? 0 : -1;
}

static void expect_load_error(size_t n, const char *const *names, const char *const *texts,
			      const char *want)
{
	struct sl_rule_error e;
	struct sl_ruleset *rs;
	char line[1024];

	memset(&e, 0, sizeof(e));
	if (load(n, names, texts, &e, &rs) == 0) {
		sl_ruleset_unref(rs);
		fail_msg("loaded, want: %s", want);
	}
	sl_rule_error_format(&e, line, sizeof(line));
	if (strcmp(line, want) != 0)
		fail_msg("got:  %s\n  want: %s", line, want);
}

static void duplicate_ids(void **st)
{
	const char *names[] = { "a.rules", "b.rules" };
	const char *t1[] = {
		"alert x body keyword \"a\" msg \"m\"\nalert y body keyword \"a\" msg \"m\"\n",
		"# b\nalert z body keyword \"b\" msg \"m\"\nblock  x subject keyword \"c\" msg \"n\"\n",
	};

	expect_load_error(2, names, t1, "b.rules:3:8: error: duplicate rule id 'x' (first defined at a.rules:1)");

	const char *t2[] = { "alert x body keyword \"a\" msg \"m\"\nalert q body keyword \"a\" msg \"m\"\n"
			     "alert q body keyword \"a\" msg \"m\"\nalert x body keyword \"a\" msg \"m\"\n" };

	/* the earliest duplicate in load order is reported */
	expect_load_error(1, names, t2, "a.rules:3:7: error: duplicate rule id 'q' (first defined at a.rules:2)");

	/* ids are case-sensitive: X and x are two rules */
	const char *t3[] = { "alert x body keyword \"a\" msg \"m\"\nalert X body keyword \"a\" msg \"m\"\n" };
	struct sl_rule_error e;
	struct sl_ruleset *rs;

	assert_int_equal(load(1, names, t3, &e, &rs), 0);
	sl_ruleset_unref(rs);
}

static void pattern_errors(void **st)
{
	const char *names[] = { "a.rules", "b.rules" };

	const char *t1[] = { "alert e body regex \"a?\" msg \"m\"" };
	expect_load_error(1, names, t1, "a.rules:1:20: error: pattern matches the empty string");

	const char *t2[] = { "alert e body regex \"x|(a*)\" msg \"m\"" };
	expect_load_error(1, names, t2, "a.rules:1:20: error: pattern matches the empty string");

	/* the column of the offending byte, from Hyperscan's "at index N" */
	const char *t3[] = {
		"alert ok body regex \"fine\" msg \"m\"\n",
		"alert ok2 body keyword \"k\" msg \"m\"\n"
		"alert bad body,subject \\\n   regex \"abc\", \"de(f\" msg \"m\"\n",
	};
	expect_load_error(2, names, t3, "b.rules:3:20: error: invalid regex: Missing close parenthesis for group started at index 2.");

	const char *t4[] = { "alert b body regex \"foo(?=bar)\" msg \"m\"" };
	expect_load_error(1, names, t4, "a.rules:1:20: error: invalid regex: Zero-width assertions are not supported.");

	const char *t5[] = { "alert b body regex \"(a|b)\\1\" msg \"m\"" };
	expect_load_error(1, names, t5, "a.rules:1:20: error: invalid regex: Back-references are unsupported.");

	const char *t6[] = { "alert b body regex \"ab{2,1}\" msg \"m\"" };
	expect_load_error(1, names, t6, "a.rules:1:23: error: invalid regex: Invalid repeat at index 2.");

	const char *t7[] = { "alert b body regex utf8 \"\\xff\\xfe\" msg \"m\"" };
	struct sl_rule_error e;
	struct sl_ruleset *rs;

	/* \xff as a regex escape is a code point in utf8 mode: valid */
	assert_int_equal(load(1, names, t7, &e, &rs), 0);
	sl_ruleset_unref(rs);

	/* an empty keyword can't exist, but a keyword of one byte is fine */
	const char *t8[] = { "alert k body keyword \"\\x00\" msg \"m\"" };
	assert_int_equal(load(1, names, t8, &e, &rs), 0);
	sl_ruleset_unref(rs);
}

static void list_errors(void **st)
{
	const char *names[] = { SL_TEST_RULES_DIR "/x.rules" };

	const char *t1[] = { "alert l rcpt_to list \"lists/nope.txt\" msg \"m\"" };
	expect_load_error(1, names, t1, SL_TEST_RULES_DIR "/x.rules:1:22: error: list '"
			  SL_TEST_RULES_DIR "/lists/nope.txt': cannot open: No such file or directory");

	const char *t2[] = { "alert ok rcpt_to list \"lists/vips.txt\" msg \"m\"\n"
			     "alert l mail_from list \"lists/bad.txt\" msg \"m\"" };
	expect_load_error(1, names, t2, SL_TEST_RULES_DIR "/lists/bad.txt:4:8: error: empty label in domain");

	/* a list named by two rules is loaded once */
	const char *t3[] = { "alert a rcpt_to list \"lists/vips.txt\" msg \"m\"\n"
			     "alert b hdr_to list \"lists/../lists/vips.txt\" msg \"m\"\n"
			     "alert c sender list \"lists/vips.txt\" msg \"m\"\n" };
	struct sl_rule_error e;
	struct sl_ruleset *rs;
	struct sl_ruleset_info in;

	assert_int_equal(load(1, names, t3, &e, &rs), 0);
	sl_ruleset_info(rs, &in);
	assert_int_equal(in.n_lists, 2);	/* two spellings, two loads */
	assert_int_equal(in.list_entries, 6);
	assert_int_equal(in.by_kind[SL_RULE_LIST], 3);
	sl_ruleset_unref(rs);
}

static void loads_bundled_sets(void **st)
{
	const char *paths[] = {
		SL_TEST_RULES_DIR "/keywords.rules",
		SL_TEST_RULES_DIR "/exact.rules",
		SL_TEST_RULES_DIR "/policy.rules",
		SL_EXAMPLES_DIR "/confidential.rules",
		SL_EXAMPLES_DIR "/attachments.rules",
		SL_EXAMPLES_DIR "/spoofing.rules",
		SL_EXAMPLES_DIR "/addresses.rules",
	};
	struct sl_rule_error e;
	struct sl_ruleset_info in;
	char line[1024];

	/* each file alone, then the test ones together (ids are distinct) */
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		struct sl_ruleset *rs = sl_ruleset_load(&paths[i], 1, &e);

		if (!rs) {
			sl_rule_error_format(&e, line, sizeof(line));
			fail_msg("%s", line);
		}
		sl_ruleset_unref(rs);
	}
	struct sl_ruleset *rs = sl_ruleset_load(paths, 3, &e);

	assert_non_null(rs);
	sl_ruleset_info(rs, &in);
	assert_int_equal(in.n_rules, 13);
	assert_int_equal(in.n_files, 3);
	assert_int_equal(in.by_action[SL_ACTION_BLOCK], 5);
	assert_int_equal(in.patterns[SL_SCOPE_TEXT], 4);
	assert_int_equal(in.patterns[SL_SCOPE_RAW], 1);
	assert_true(in.db_bytes[SL_SCOPE_TEXT] > 0);
	assert_int_equal(in.db_bytes[SL_SCOPE_FILENAME], 0);
	assert_int_equal(in.n_databases, 5);
	sl_ruleset_unref(rs);

	/* body and attachment read by the same rules share one database */
	rs = sl_ruleset_load(&paths[3], 1, &e);
	assert_non_null(rs);
	sl_ruleset_info(rs, &in);
	assert_int_equal(in.shared_with[SL_SCOPE_ATTACHMENT], SL_SCOPE_TEXT);
	assert_int_equal(in.shared_with[SL_SCOPE_TEXT], -1);
	assert_int_equal(in.n_databases, 3);
	assert_int_equal(in.total_db_bytes, in.db_bytes[SL_SCOPE_TEXT] + in.db_bytes[SL_SCOPE_HEADER] +
			 in.db_bytes[SL_SCOPE_SUBJECT]);
	sl_ruleset_unref(rs);

	/* a missing file is an error of that file */
	const char *missing[] = { SL_TEST_RULES_DIR "/keywords.rules", "/nonexistent/x.rules" };

	assert_null(sl_ruleset_load(missing, 2, &e));
	sl_rule_error_format(&e, line, sizeof(line));
	assert_string_equal(line, "/nonexistent/x.rules: error: cannot open: No such file or directory");

	/* an empty set is valid */
	assert_non_null(rs = sl_ruleset_load(NULL, 0, &e));
	sl_ruleset_info(rs, &in);
	assert_int_equal(in.n_rules, 0);
	sl_ruleset_unref(rs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(accepts_the_issue_examples),
		cmocka_unit_test(accepts_every_option_form),
		cmocka_unit_test(layout_comments_continuations_crlf),
		cmocka_unit_test(rejects_every_parse_error),
		cmocka_unit_test(rejects_nul_and_too_many_tokens),
		cmocka_unit_test(duplicate_ids),
		cmocka_unit_test(pattern_errors),
		cmocka_unit_test(list_errors),
		cmocka_unit_test(loads_bundled_sets),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
