/* rules/: address extraction, address lists, anti-spoofing, attachment
 * policy: the pieces that judge fields rather than streams. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "mailaddr.h"
#include "addrlist.h"
#include "attach_policy.h"
#include "msg.h"
#include "spoof.h"

/* ---- address extraction ---- */

static void collect(const char *value, char out[][SL_ADDR_MAX], unsigned *n)
{
	const char *cur = value;

	*n = 0;
	while (*n < 8 && sl_addr_next(&cur, out[*n], SL_ADDR_MAX))
		(*n)++;
}

static void extracts_header_addresses(void **st)
{
	static const struct {
		const char *value;
		unsigned n;
		const char *want[3];
	} cases[] = {
		{ "alice@example.com", 1, { "alice@example.com" } },
		{ "\"Alice A.\" <alice@example.com>", 1, { "alice@example.com" } },
		{ "Alice <alice@example.com> (work)", 1, { "alice@example.com" } },
		{ "bob@example.net (Bob, the builder)", 1, { "bob@example.net" } },
		{ "\"Doe, Jane\" <jane@x.org>, bob@y.org", 2, { "jane@x.org", "bob@y.org" } },
		/* a decoded display name that looks like an address: the real
		 * address is the last angle-addr */
		{ "<ceo@corp.example> <mallory@evil.example>", 1, { "mallory@evil.example" } },
		/* a decoded name split by a comma: the fragment is no address */
		{ "Doe, John <john@x.org>", 1, { "john@x.org" } },
		{ "team: a@x.org, b@y.org;, c@z.org", 3, { "a@x.org", "b@y.org", "c@z.org" } },
		{ "undisclosed-recipients:;", 0, { NULL } },
		{ "<@relay.example,@r2.example:user@dest.example>", 1, { "user@dest.example" } },
		{ "\"john doe\"@example.com", 1, { "\"john doe\"@example.com" } },
		{ "  < spaced @ example.com >  ", 1, { "spaced@example.com" } },
		{ "\"quoted <x@y> inside\" <real@z.org>", 1, { "real@z.org" } },
		{ "no address here", 0, { NULL } },
		{ "<>", 0, { NULL } },
		{ "", 0, { NULL } },
		{ "a@b (unterminated comment", 1, { "a@b" } },
	};
	char out[8][SL_ADDR_MAX];
	unsigned n;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		collect(cases[i].value, out, &n);
		if (n != cases[i].n)
			fail_msg("case %zu '%s': %u addresses, want %u", i, cases[i].value, n, cases[i].n);
		for (unsigned k = 0; k < n; k++)
			assert_string_equal(out[k], cases[i].want[k]);
	}
	const char *cur = NULL;

	assert_false(sl_addr_next(&cur, out[0], SL_ADDR_MAX));
}

static void truncates_long_addresses(void **st)
{
	char value[2000], out[SL_ADDR_MAX];
	const char *cur = value;

	memset(value, 'a', sizeof(value) - 1);
	value[sizeof(value) - 1] = '\0';
	value[5] = '@';
	assert_true(sl_addr_next(&cur, out, sizeof(out)));
	assert_int_equal(strlen(out), SL_ADDR_MAX - 1);
	/* a small output buffer truncates too, never overflows */
	char small[4];

	cur = "alice@example.com";
	assert_true(sl_addr_next(&cur, small, sizeof(small)));
	assert_string_equal(small, "ali");
}

static void bare_envelope_paths(void **st)
{
	char out[SL_ADDR_MAX];

	sl_addr_bare(" <alice@example.com> ", out, sizeof(out));
	assert_string_equal(out, "alice@example.com");
	sl_addr_bare("alice", out, sizeof(out));
	assert_string_equal(out, "alice");
	sl_addr_bare("<@a,@b:u@d>", out, sizeof(out));
	assert_string_equal(out, "u@d");
	sl_addr_bare("<>", out, sizeof(out));
	assert_string_equal(out, "");
	sl_addr_bare("<x@y", out, sizeof(out));
	assert_string_equal(out, "x@y");
}

/* ---- address lists ---- */

static struct sl_addrlist *list_of(const char *text)
{
	struct sl_rule_error e;
	struct sl_addrlist *l = sl_addrlist_parse("l.txt", text, strlen(text), &e);

	if (!l)
		fail_msg("list did not parse: %u:%u %s", e.line, e.column, e.message);
	return l;
}

static void list_matching(void **st)
{
	struct sl_addrlist *l = list_of(
		"# comment\n"
		"\n"
		"Alice@Example.COM\n"
		"  @domain.example     # this domain only\n"
		"\t@.tree.example\n"
		"bob@host.example.\r\n"
		"alice@example.com\n");	/* duplicate: kept once */

	assert_int_equal(sl_addrlist_count(l), 4);
	/* exact addresses, ASCII case-insensitive, trailing dot ignored */
	assert_true(sl_addrlist_match(l, "alice@example.com"));
	assert_true(sl_addrlist_match(l, "ALICE@EXAMPLE.COM."));
	assert_false(sl_addrlist_match(l, "alice2@example.com"));
	assert_false(sl_addrlist_match(l, "alice@sub.example.com"));
	assert_true(sl_addrlist_match(l, "bob@host.example"));
	/* @domain: that domain only */
	assert_true(sl_addrlist_match(l, "anyone@domain.example"));
	assert_true(sl_addrlist_match(l, "x@DOMAIN.example"));
	assert_false(sl_addrlist_match(l, "x@sub.domain.example"));
	assert_false(sl_addrlist_match(l, "x@notdomain.example"));
	/* @.domain: the domain and every subdomain, not look-alikes */
	assert_true(sl_addrlist_match(l, "x@tree.example"));
	assert_true(sl_addrlist_match(l, "x@a.b.tree.example"));
	assert_false(sl_addrlist_match(l, "x@subtree.example"));
	assert_false(sl_addrlist_match(l, "x@tree.example.org"));
	/* no domain, empty, over-long */
	assert_false(sl_addrlist_match(l, "alice"));
	assert_false(sl_addrlist_match(l, ""));
	char big[SL_ADDR_MAX + 50];

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_false(sl_addrlist_match(l, big));
	sl_addrlist_free(l);
}

static void list_errors(void **st)
{
	static const struct {
		const char *text;
		unsigned line, col;
		const char *msg;
	} cases[] = {
		{ "ok@x.org\nexample.com\n", 2, 1,
		  "expected an address (user@domain) or a domain (@domain or @.domain), got 'example.com'" },
		{ "a@x.org b@y.org\n", 1, 9, "unexpected text after the entry (one entry per line)" },
		{ "   user@\n", 1, 9, "empty domain" },
		{ "@\n", 1, 2, "empty domain" },
		{ "@.\n", 1, 3, "empty domain" },
		{ "u@a..b\n", 1, 5, "empty label in domain" },
		{ "u@.a\n", 1, 3, "empty label in domain" },
		{ "u@a b\n", 1, 5, "unexpected text after the entry (one entry per line)" },
		{ "u@ex!ample.com\n", 1, 5, "invalid character in domain" },
		{ "a@b@c.org\n", 1, 2, "more than one '@' in an address" },
		{ "\n\nu@x\x01y\n", 3, 4, "control character 0x01" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sl_rule_error e;

		memset(&e, 0, sizeof(e));
		assert_null(sl_addrlist_parse("l.txt", cases[i].text, strlen(cases[i].text), &e));
		if (e.line != cases[i].line || e.column != cases[i].col ||
		    strcmp(e.message, cases[i].msg) != 0)
			fail_msg("case %zu: got %u:%u %s, want %u:%u %s", i, e.line, e.column,
				 e.message, cases[i].line, cases[i].col, cases[i].msg);
		assert_string_equal(e.file, "l.txt");
	}
	char line[SL_ADDRLIST_LINE_MAX + 10];
	struct sl_rule_error e;

	memset(line, 'a', sizeof(line));
	assert_null(sl_addrlist_parse("l.txt", line, sizeof(line), &e));
	assert_string_equal(e.message, "line longer than 1024 bytes");
	assert_int_equal(e.column, 1025);
	/* UTF-8 domains are accepted */
	struct sl_addrlist *l = list_of("@b\xc3\xbc" "cher.example\n");

	assert_true(sl_addrlist_match(l, "x@b\xc3\xbc" "cher.example"));
	sl_addrlist_free(l);
}

/* ---- anti-spoofing ---- */

static void spoof_address_matrix(void **st)
{
	static const struct sl_spoof_opts plain = { .subaddr = "", .against = SL_ADDR_MAIL_FROM };
	static const struct sl_spoof_opts plus = { .subaddr = "+", .against = SL_ADDR_MAIL_FROM };
	static const struct sl_spoof_opts seps = { .subaddr = "+-", .against = SL_ADDR_MAIL_FROM };
	static const struct sl_spoof_opts nocase = { .subaddr = "+", .nocase_local = true };
	static const struct {
		const struct sl_spoof_opts *o;
		const char *auth, *addr;
		bool mismatch;
	} cases[] = {
		{ &plain, "alice@corp.example", "alice@corp.example", false },
		{ &plain, "alice@corp.example", "alice@CORP.Example", false },	/* domain: any case */
		{ &plain, "alice@corp.example", "alice@corp.example.", false },
		{ &plain, "alice@corp.example", "Alice@corp.example", true },	/* local: exact */
		{ &nocase, "alice@corp.example", "ALICE@corp.example", false },
		{ &plain, "alice@corp.example", "bob@corp.example", true },
		{ &plain, "alice@corp.example", "alice@evil.example", true },
		{ &plain, "alice@corp.example", "alice@sub.corp.example", true },
		{ &plain, "alice@corp.example", "alice", true },		/* no domain on the sender */
		{ &plain, "alice@corp.example", "alice+tag@corp.example", true },
		{ &plus, "alice@corp.example", "alice+tag@corp.example", false },
		{ &plus, "alice+x@corp.example", "alice+y@corp.example", false },
		{ &plus, "alice@corp.example", "alice-tag@corp.example", true },
		{ &seps, "alice@corp.example", "alice-tag@corp.example", false },
		{ &plus, "alice@corp.example", "alicex+tag@corp.example", true },
		{ &plus, "alice@corp.example", "+alice@corp.example", true },	/* leading '+' is not a tag */
		/* a bare login: local parts only */
		{ &plain, "alice", "alice@anything.example", false },
		{ &plus, "alice", "alice+t@anything.example", false },
		{ &plain, "alice", "bob@corp.example", true },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (sl_spoof_mismatch(cases[i].o, cases[i].auth, cases[i].addr) != cases[i].mismatch)
			fail_msg("case %zu: auth %s addr %s: want %s", i, cases[i].auth, cases[i].addr,
				 cases[i].mismatch ? "mismatch" : "match");
}

static void spoof_message_fields(void **st)
{
	struct sl_spoof_opts both = { .subaddr = "+", .against = SL_ADDR_MAIL_FROM | SL_ADDR_HDR_FROM };
	struct sl_spoof_opts env = { .subaddr = "+", .against = SL_ADDR_MAIL_FROM };
	struct sl_spoof_opts hdr = { .subaddr = "+", .against = SL_ADDR_HDR_FROM };
	struct sl_msg m;
	char bad[SL_ADDR_MAX];

	sl_msg_init(&m, 1, SL_PROTO_SMTP, SL_TO_SERVER);
	m.mail_from = "alice+list@corp.example";
	m.hdr_from = "\"Alice\" <alice@Corp.Example>";
	/* no AUTH user: never a spoof */
	assert_false(sl_spoof_msg(&both, &m, bad, sizeof(bad)));
	m.auth_user = "";
	assert_false(sl_spoof_msg(&both, &m, bad, sizeof(bad)));

	m.auth_user = "alice@corp.example";
	assert_false(sl_spoof_msg(&both, &m, bad, sizeof(bad)));

	m.hdr_from = "\"Alice\" <ceo@corp.example>";
	assert_true(sl_spoof_msg(&both, &m, bad, sizeof(bad)));
	assert_string_equal(bad, "ceo@corp.example");
	assert_false(sl_spoof_msg(&env, &m, NULL, 0));	/* the envelope is fine */
	assert_true(sl_spoof_msg(&hdr, &m, NULL, 0));

	/* a display name that looks like the user's address does not hide
	 * the real one */
	m.hdr_from = "<alice@corp.example> <ceo@corp.example>";
	assert_true(sl_spoof_msg(&hdr, &m, bad, sizeof(bad)));
	assert_string_equal(bad, "ceo@corp.example");

	/* every From mailbox must be the user */
	m.hdr_from = "alice@corp.example, ceo@corp.example";
	assert_true(sl_spoof_msg(&hdr, &m, bad, sizeof(bad)));

	m.hdr_from = "Alice <alice@corp.example>";
	m.mail_from = "ceo@corp.example";
	assert_true(sl_spoof_msg(&both, &m, bad, sizeof(bad)));
	assert_string_equal(bad, "ceo@corp.example");
	assert_false(sl_spoof_msg(&hdr, &m, NULL, 0));

	/* the null reverse path is not compared; a missing From neither */
	m.mail_from = "";
	m.hdr_from = NULL;
	assert_false(sl_spoof_msg(&both, &m, NULL, 0));
	/* a bare login */
	m.auth_user = "alice";
	m.mail_from = "alice@corp.example";
	m.hdr_from = "alice+x@other.example";
	assert_false(sl_spoof_msg(&both, &m, NULL, 0));
	m.mail_from = "mallory@corp.example";
	assert_true(sl_spoof_msg(&both, &m, NULL, 0));
	sl_msg_release(&m);
}

/* ---- attachment policy ---- */

static char *exts_v[] = { "exe", "tar.gz", "js" };
static char *names_v[] = { "*.pdf.*", "invoice*" };
static char *types_v[] = { "application/x-msdownload", "application/vnd.*" };

static void attach_ext_and_names(void **st)
{
	struct sl_attach_policy ext = { .exts = exts_v, .n_exts = 3 };
	struct sl_attach_policy glob = { .names = names_v, .n_names = 2 };
	static const struct {
		const char *name;
		bool ext, glob;
	} cases[] = {
		{ "setup.exe", true, false },
		{ "SETUP.EXE", true, false },
		{ "setup.exe.", true, false },		/* Windows drops trailing dots ... */
		{ "setup.exe . ", true, false },	/* ... and spaces */
		{ "archive.tar.gz", true, false },
		{ "exe", false, false },		/* no extension at all */
		{ ".exe", true, false },
		{ "setup.exe.txt", false, false },
		{ "notes.pdf.exe", true, true },
		{ "notes.PDF.js", true, true },
		{ "notes.pdf", false, false },
		{ "Invoice_2024.zip", false, true },
		{ "dir/invoice.exe", true, false },	/* '*' would match '/', but invoice* is anchored */
		{ "", false, false },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t n = strlen(cases[i].name);

		if (sl_attach_policy_match(&ext, cases[i].name, n, NULL, 0) != cases[i].ext)
			fail_msg("ext case %zu '%s'", i, cases[i].name);
		if (sl_attach_policy_match(&glob, cases[i].name, n, NULL, 0) != cases[i].glob)
			fail_msg("glob case %zu '%s'", i, cases[i].name);
	}
	/* no name: a name test cannot pass */
	assert_false(sl_attach_policy_match(&ext, NULL, 0, "application/x-msdownload", 10));
	/* a NUL inside the name: either reading matching is enough */
	assert_true(sl_attach_policy_match(&ext, "run.exe\0.txt", 12, NULL, 0));
	assert_true(sl_attach_policy_match(&ext, "doc.txt\0.js", 11, NULL, 0));
	assert_false(sl_attach_policy_match(&ext, "doc.txt\0.doc", 12, NULL, 0));
	/* a very long name is judged by its tail */
	char lng[3000];

	memset(lng, 'a', sizeof(lng));
	memcpy(lng + sizeof(lng) - 4, ".exe", 4);
	assert_true(sl_attach_policy_match(&ext, lng, sizeof(lng), NULL, 0));
}

static void attach_types_and_sizes(void **st)
{
	struct sl_attach_policy type = { .types = types_v, .n_types = 2 };
	struct sl_attach_policy big = { .has_size = true, .size_op = SL_CMP_GT, .size = 25ull << 20 };
	struct sl_attach_policy both = { .types = types_v, .n_types = 2, .has_size = true,
					 .size_op = SL_CMP_GE, .size = 100 };

	assert_true(sl_attach_policy_match(&type, NULL, 0, "application/x-msdownload", 0));
	assert_true(sl_attach_policy_match(&type, NULL, 0, "application/vnd.ms-excel", 0));
	assert_false(sl_attach_policy_match(&type, NULL, 0, "application/pdf", 0));
	assert_false(sl_attach_policy_match(&type, NULL, 0, NULL, 0));
	assert_false(sl_attach_policy_match(&big, NULL, 0, NULL, 25ull << 20));
	assert_true(sl_attach_policy_match(&big, NULL, 0, NULL, (25ull << 20) + 1));
	assert_true(sl_attach_policy_match(&both, "x", 1, "application/vnd.x", 100));
	assert_false(sl_attach_policy_match(&both, "x", 1, "application/vnd.x", 99));
	assert_false(sl_attach_policy_match(&both, "x", 1, "text/plain", 1000));

	assert_true(sl_cmp_eval(SL_CMP_LT, 1, 2));
	assert_false(sl_cmp_eval(SL_CMP_LT, 2, 2));
	assert_true(sl_cmp_eval(SL_CMP_LE, 2, 2));
	assert_true(sl_cmp_eval(SL_CMP_EQ, 7, 7));
	assert_false(sl_cmp_eval(SL_CMP_GE, 1, 2));
	assert_string_equal(sl_cmp_name(SL_CMP_GE), ">=");
}

static void size_suffixes(void **st)
{
	static const struct {
		const char *s;
		int rc;
		uint64_t v;
	} cases[] = {
		{ "0", 0, 0 }, { "123", 0, 123 }, { "1K", 0, 1024 }, { "1k", 0, 1024 },
		{ "2KB", 0, 2048 }, { "3KiB", 0, 3072 }, { "25M", 0, 25ull << 20 },
		{ "1mb", 0, 1ull << 20 }, { "4G", 0, 4ull << 30 }, { "1gib", 0, 1ull << 30 },
		{ "18446744073709551615", 0, UINT64_MAX },
		{ "18446744073709551616", -1, 0 }, { "17179869184G", -1, 0 },
		{ "", -1, 0 }, { "M", -1, 0 }, { "1T", -1, 0 }, { "1.5M", -1, 0 }, { "-1", -1, 0 },
		{ "1 M", -1, 0 }, { "1MM", -1, 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t v = 0;
		int rc = sl_size_parse(cases[i].s, strlen(cases[i].s), &v);

		if (rc != cases[i].rc || (rc == 0 && v != cases[i].v))
			fail_msg("case %zu '%s': rc %d v %llu", i, cases[i].s, rc, (unsigned long long)v);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(extracts_header_addresses),
		cmocka_unit_test(truncates_long_addresses),
		cmocka_unit_test(bare_envelope_paths),
		cmocka_unit_test(list_matching),
		cmocka_unit_test(list_errors),
		cmocka_unit_test(spoof_address_matrix),
		cmocka_unit_test(spoof_message_fields),
		cmocka_unit_test(attach_ext_and_names),
		cmocka_unit_test(attach_types_and_sizes),
		cmocka_unit_test(size_suffixes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
