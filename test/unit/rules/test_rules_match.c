/* rules/: the Hyperscan match sink, driven through the sink interface the
 * message builder uses: streaming across data() calls, case, scopes, one
 * fire per rule per object, end-of-object tests, message-level rules and
 * the ruleset swap. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "counters.h"
#include "match_sink.h"
#include "msg.h"
#include "ruleset.h"

static struct sl_ruleset *rs_of(const char *text)
{
	const char *name = SL_TEST_RULES_DIR "/mem.rules";
	size_t len = strlen(text);
	struct sl_rule_error e;
	struct sl_ruleset *rs = sl_ruleset_load_mem(&name, &text, &len, 1, &e);

	if (!rs)
		fail_msg("rules did not load: %u:%u %s", e.line, e.column, e.message);
	return rs;
}

struct fx {
	struct sl_ruleset *rs;
	struct sl_match_sink *ms;
	struct sl_sink sink;
	struct sl_counters ctr;
	struct sl_msg m;
};

static void fx_open(struct fx *f, const char *rules)
{
	memset(f, 0, sizeof(*f));
	f->rs = rs_of(rules);
	f->ms = sl_match_sink_new(f->rs, &f->ctr);
	assert_non_null(f->ms);
	f->sink = sl_match_sink_sink(f->ms);
	assert_ptr_equal(f->sink.ops, &sl_match_sink_ops);
	sl_msg_init(&f->m, 1, SL_PROTO_SMTP, SL_TO_SERVER);
}

static void fx_new_msg(struct fx *f)
{
	sl_msg_release(&f->m);
	sl_msg_init(&f->m, 2, SL_PROTO_SMTP, SL_TO_SERVER);
}

static void fx_close(struct fx *f)
{
	sl_match_sink_free(f->ms);
	sl_ruleset_unref(f->rs);
	sl_msg_release(&f->m);
}

static struct sl_object obj(struct fx *f, enum sl_scope s, uint32_t part)
{
	return (struct sl_object){ .scope = s, .part = part, .msg = &f->m };
}

/* begin, data in pieces of 'step' bytes (0 = one call), end.  Returns
 * begin's answer. */
static int feed(struct fx *f, struct sl_object *o, const char *p, size_t n, size_t step)
{
	void *st = NULL;

	if (f->sink.ops->begin(f->sink.self, o, &st) != 0)
		return -1;
	for (size_t i = 0; i < n; i += step ? step : n) {
		size_t k = step && n - i > step ? step : n - i;

		o->size += k;
		f->sink.ops->data(f->sink.self, o, st, (const uint8_t *)p + i, k);
	}
	assert_int_equal(f->sink.ops->end(f->sink.self, o, st), SL_SINK_DONE);
	return 0;
}

static int feed_str(struct fx *f, enum sl_scope s, const char *text)
{
	struct sl_object o = obj(f, s, 1);

	return feed(f, &o, text, strlen(text), 0);
}

static const struct sl_reason *reason(const struct sl_msg *m, const char *id)
{
	for (unsigned i = 0; i < m->verdict.n; i++)
		if (strcmp(m->verdict.r[i].id, id) == 0)
			return &m->verdict.r[i];
	return NULL;
}

#define KW "block kw body,attachment,subject,raw keyword nocase \"project bluebird\" msg \"confidential\"\n"

static void keyword_split_at_every_position(void **st)
{
	struct fx f;
	const char text[] = "Re: plans for Project BlueBird, see attached";
	size_t n = sizeof(text) - 1;

	fx_open(&f, KW);
	for (size_t k = 0; k <= n; k++) {
		struct sl_object o = obj(&f, SL_SCOPE_TEXT, 3);
		void *s = NULL;

		fx_new_msg(&f);
		o.msg = &f.m;
		assert_int_equal(f.sink.ops->begin(f.sink.self, &o, &s), 0);
		f.sink.ops->data(f.sink.self, &o, s, (const uint8_t *)text, k);
		f.sink.ops->data(f.sink.self, &o, s, (const uint8_t *)text + k, n - k);
		f.sink.ops->end(f.sink.self, &o, s);
		const struct sl_reason *r = reason(&f.m, "kw");

		if (!r)
			fail_msg("split at %zu: no match", k);
		assert_int_equal(f.m.verdict.n, 1);
		assert_int_equal(r->kind, SL_REASON_RULE);
		assert_int_equal(r->action, SL_ACTION_BLOCK);
		assert_int_equal(r->object, 3);
		assert_string_equal(r->text, "confidential");
		assert_int_equal(f.m.verdict.action, SL_ACTION_BLOCK);
	}
	assert_int_equal(f.ctr.v[SL_CTR_RULES_FIRED], n + 1);
	assert_int_equal(f.ctr.v[SL_CTR_RULES_OBJECTS], n + 1);
	assert_int_equal(f.ctr.v[SL_CTR_RULES_BYTES], (n + 1) * n);
	fx_close(&f);
}

static void one_byte_calls(void **st)
{
	struct fx f;
	const char *ok = "Customer SSN: 123-45-6789.\r\n";
	const char *miss = "Order 123-456-789 and 1234-56-7890 and a123-45-6789";

	fx_open(&f, KW "alert ssn body regex \"\\b\\d{3}-\\d{2}-\\d{4}\\b\" msg \"ssn\"\n");
	struct sl_object o = obj(&f, SL_SCOPE_TEXT, 1);

	assert_int_equal(feed(&f, &o, ok, strlen(ok), 1), 0);
	assert_non_null(reason(&f.m, "ssn"));
	assert_null(reason(&f.m, "kw"));

	fx_new_msg(&f);
	o = obj(&f, SL_SCOPE_TEXT, 1);
	assert_int_equal(feed(&f, &o, miss, strlen(miss), 1), 0);
	assert_int_equal(f.m.verdict.n, 0);

	fx_new_msg(&f);
	o = obj(&f, SL_SCOPE_ATTACHMENT, 2);
	assert_int_equal(feed(&f, &o, "xxPROJECT BLUEBIRDxx", 20, 1), 0);
	assert_non_null(reason(&f.m, "kw"));
	fx_close(&f);
}

static void case_sensitive_and_not(void **st)
{
	struct fx f;

	fx_open(&f, KW "alert cs body keyword \"ORCHID-7\" msg \"code name\"\n"
		    "alert ci body regex nocase \"orchid-\\d\" msg \"code name any case\"\n");
	feed_str(&f, SL_SCOPE_TEXT, "the orchid-7 plan");
	assert_null(reason(&f.m, "cs"));
	assert_non_null(reason(&f.m, "ci"));
	fx_new_msg(&f);
	feed_str(&f, SL_SCOPE_TEXT, "the ORCHID-7 plan");
	assert_non_null(reason(&f.m, "cs"));
	assert_non_null(reason(&f.m, "ci"));
	fx_new_msg(&f);
	feed_str(&f, SL_SCOPE_TEXT, "the Orchid-7 plan");
	assert_null(reason(&f.m, "cs"));
	fx_new_msg(&f);
	feed_str(&f, SL_SCOPE_TEXT, "pRoJeCt BlUeBiRd");
	assert_non_null(reason(&f.m, "kw"));
	fx_new_msg(&f);
	feed_str(&f, SL_SCOPE_TEXT, "project  bluebird");	/* two spaces: a different string */
	assert_null(reason(&f.m, "kw"));
	fx_close(&f);
}

static void scope_isolation(void **st)
{
	struct fx f;

	fx_open(&f, "alert b body keyword \"marker\" msg \"m\"\n"
		    "alert s subject keyword \"marker\" msg \"m\"\n");
	/* scopes no rule reads are skipped at begin */
	assert_int_equal(feed_str(&f, SL_SCOPE_FILENAME, "marker.txt"), -1);
	assert_int_equal(feed_str(&f, SL_SCOPE_ATTACHMENT, "marker"), -1);
	assert_int_equal(feed_str(&f, SL_SCOPE_RAW, "marker"), -1);
	assert_int_equal(f.m.verdict.n, 0);
	assert_int_equal(feed_str(&f, SL_SCOPE_SUBJECT, "a marker"), 0);
	assert_non_null(reason(&f.m, "s"));
	assert_null(reason(&f.m, "b"));
	fx_new_msg(&f);
	assert_int_equal(feed_str(&f, SL_SCOPE_TEXT, "a marker"), 0);
	assert_non_null(reason(&f.m, "b"));
	assert_null(reason(&f.m, "s"));
	fx_close(&f);
}

static void header_name_restriction(void **st)
{
	struct fx f;
	struct sl_object o;

	fx_open(&f, "alert xm header:x-mailer keyword nocase \"massmailer\" msg \"m\"\n"
		    "alert any header keyword \"massmailer\" msg \"m\"\n");
	o = obj(&f, SL_SCOPE_HEADER, 1);
	o.name = "Subject";
	feed(&f, &o, "about massmailer", 16, 0);
	assert_null(reason(&f.m, "xm"));
	assert_non_null(reason(&f.m, "any"));
	fx_new_msg(&f);
	o = obj(&f, SL_SCOPE_HEADER, 1);
	o.name = "X-MAILER";
	feed(&f, &o, "MassMailer 2.0", 14, 3);
	assert_non_null(reason(&f.m, "xm"));
	assert_null(reason(&f.m, "any"));	/* case-sensitive */
	fx_new_msg(&f);
	o = obj(&f, SL_SCOPE_HEADER, 1);	/* no name: the restricted rule cannot apply */
	feed(&f, &o, "massmailer", 10, 0);
	assert_null(reason(&f.m, "xm"));
	assert_non_null(reason(&f.m, "any"));
	fx_close(&f);
}

static void one_fire_per_rule_per_object(void **st)
{
	struct fx f;
	const char *text = "alpha beta alpha beta alpha gamma alpha";

	fx_open(&f, "alert two body keyword \"alpha\", \"beta\" msg \"m\"\n"
		    "alert re body regex \"a\\w+a\" msg \"m\"\n");
	struct sl_object o = obj(&f, SL_SCOPE_TEXT, 1);

	feed(&f, &o, text, strlen(text), 4);
	assert_int_equal(f.ctr.v[SL_CTR_RULES_FIRED], 2);
	assert_int_equal(f.m.verdict.n, 2);
	/* the next object of the same message fires again (the verdict keeps
	 * the reason once) */
	o = obj(&f, SL_SCOPE_TEXT, 2);
	feed(&f, &o, text, strlen(text), 0);
	assert_int_equal(f.ctr.v[SL_CTR_RULES_FIRED], 4);
	assert_int_equal(f.m.verdict.n, 2);
	fx_close(&f);
}

/* Streams are recycled with hs_reset_stream: nothing of one object may
 * leak into the next, nor between objects open at once. */
static void streams_do_not_leak(void **st)
{
	struct fx f;
	void *s1 = NULL, *s2 = NULL;

	fx_open(&f, KW);
	for (int i = 0; i < 100; i++) {
		struct sl_object o = obj(&f, SL_SCOPE_TEXT, 1);

		feed(&f, &o, "...project ", 11, 0);
		o = obj(&f, SL_SCOPE_TEXT, 2);
		feed(&f, &o, "bluebird...", 11, 0);
	}
	/* an aborted object leaves nothing behind either */
	struct sl_object a = obj(&f, SL_SCOPE_TEXT, 1), b;

	f.sink.ops->begin(f.sink.self, &a, &s1);
	f.sink.ops->data(f.sink.self, &a, s1, (const uint8_t *)"project ", 8);
	f.sink.ops->abort(f.sink.self, &a, s1);
	b = obj(&f, SL_SCOPE_TEXT, 2);
	feed(&f, &b, "bluebird", 8, 0);
	assert_int_equal(f.m.verdict.n, 0);

	/* two objects open at once, bytes interleaved */
	a = obj(&f, SL_SCOPE_TEXT, 1);
	b = obj(&f, SL_SCOPE_TEXT, 2);
	f.sink.ops->begin(f.sink.self, &a, &s1);
	f.sink.ops->begin(f.sink.self, &b, &s2);
	f.sink.ops->data(f.sink.self, &a, s1, (const uint8_t *)"project ", 8);
	f.sink.ops->data(f.sink.self, &b, s2, (const uint8_t *)"project blue", 12);
	f.sink.ops->data(f.sink.self, &a, s1, (const uint8_t *)"red", 3);
	f.sink.ops->data(f.sink.self, &b, s2, (const uint8_t *)"bird", 4);
	/* reported as the bytes pass, not at the end */
	assert_int_equal(f.m.verdict.n, 1);
	assert_int_equal(f.m.verdict.r[0].object, 2);
	f.sink.ops->end(f.sink.self, &a, s1);
	f.sink.ops->end(f.sink.self, &b, s2);
	assert_int_equal(f.m.verdict.n, 1);
	fx_close(&f);
}

static void end_anchored_patterns(void **st)
{
	struct fx f;
	void *s = NULL;

	fx_open(&f, "alert eod body regex \"signed off\\s*$\" msg \"m\"\n");
	feed_str(&f, SL_SCOPE_TEXT, "text... signed off");
	assert_non_null(reason(&f.m, "eod"));
	fx_new_msg(&f);
	feed_str(&f, SL_SCOPE_TEXT, "signed off\nand more");
	assert_null(reason(&f.m, "eod"));
	/* an aborted object never reaches its end */
	fx_new_msg(&f);
	struct sl_object o = obj(&f, SL_SCOPE_TEXT, 1);

	f.sink.ops->begin(f.sink.self, &o, &s);
	f.sink.ops->data(f.sink.self, &o, s, (const uint8_t *)"signed off", 10);
	f.sink.ops->abort(f.sink.self, &o, s);
	assert_null(reason(&f.m, "eod"));
	fx_close(&f);
}

static void attachment_policy_at_object_end(void **st)
{
	struct fx f;
	struct sl_object o;
	char name[3000];

	fx_open(&f, "block exe filename ext exe,scr msg \"dangerous\"\n"
		    "block dbl filename name \"*.pdf.*\" msg \"double\"\n"
		    "alert typ attachment type \"application/x-msdownload\" msg \"exe type\"\n"
		    "block big attachment size > 1K msg \"too large\"\n"
		    "alert kws attachment keyword \"MZ\" ext exe size < 100 msg \"small exe with MZ\"\n");

	/* filename objects: the name is the object's bytes (any chunking) */
	o = obj(&f, SL_SCOPE_FILENAME, 2);
	feed(&f, &o, "Invoice.PDF.exe ", 16, 3);
	assert_non_null(reason(&f.m, "exe"));
	assert_non_null(reason(&f.m, "dbl"));
	assert_int_equal(reason(&f.m, "exe")->object, 2);

	/* a long name keeps its tail, where the extension is */
	fx_new_msg(&f);
	memset(name, 'n', sizeof(name));
	memcpy(name + sizeof(name) - 4, ".scr", 4);
	o = obj(&f, SL_SCOPE_FILENAME, 2);
	feed(&f, &o, name, sizeof(name), 700);
	assert_non_null(reason(&f.m, "exe"));
	fx_new_msg(&f);
	o = obj(&f, SL_SCOPE_FILENAME, 2);
	feed(&f, &o, name, sizeof(name), 0);
	assert_non_null(reason(&f.m, "exe"));
	fx_new_msg(&f);
	o = obj(&f, SL_SCOPE_FILENAME, 2);
	feed(&f, &o, "report.pdf", 10, 0);
	assert_int_equal(f.m.verdict.n, 0);

	/* attachment objects: declared type, size, o->filename */
	fx_new_msg(&f);
	o = obj(&f, SL_SCOPE_ATTACHMENT, 3);
	o.content_type = "application/x-msdownload";
	o.filename = "tool.exe";
	feed(&f, &o, "MZ\x90\x00", 4, 1);
	assert_non_null(reason(&f.m, "typ"));
	assert_non_null(reason(&f.m, "kws"));
	assert_null(reason(&f.m, "big"));

	fx_new_msg(&f);
	o = obj(&f, SL_SCOPE_ATTACHMENT, 3);
	o.content_type = "application/octet-stream";
	o.filename = "tool.exe";
	char *blob = calloc(1, 2000);

	blob[0] = 'M';
	blob[1] = 'Z';
	feed(&f, &o, blob, 2000, 512);
	assert_non_null(reason(&f.m, "big"));
	assert_null(reason(&f.m, "typ"));
	assert_null(reason(&f.m, "kws"));	/* MZ seen, but not small */
	free(blob);

	fx_new_msg(&f);
	o = obj(&f, SL_SCOPE_ATTACHMENT, 3);
	o.filename = "notes.txt";
	feed(&f, &o, "MZ", 2, 0);
	assert_null(reason(&f.m, "kws"));	/* small, MZ, but not .exe */
	fx_close(&f);
}

static void direction_and_protocol(void **st)
{
	struct fx f;

	fx_open(&f, "alert out body keyword \"x\" dir to_server msg \"m\"\n"
		    "alert imap body keyword \"x\" proto imap,pop3 msg \"m\"\n");
	feed_str(&f, SL_SCOPE_TEXT, "x");
	assert_non_null(reason(&f.m, "out"));
	assert_null(reason(&f.m, "imap"));
	sl_msg_release(&f.m);
	sl_msg_init(&f.m, 3, SL_PROTO_IMAP, SL_TO_CLIENT);
	feed_str(&f, SL_SCOPE_TEXT, "x");
	assert_null(reason(&f.m, "out"));
	assert_non_null(reason(&f.m, "imap"));
	fx_close(&f);
}

static void message_level_rules(void **st)
{
	struct fx f;
	const char *rcpts[] = { "someone@example.org", "<CFO@corp.example>" };
	const char *hdr_to[] = { "Board Member <x@dept.board.corp.example>" };

	fx_open(&f, "alert vip rcpt_to list \"lists/vips.txt\" msg \"vip\"\n"
		    "alert viph hdr_to list \"lists/vips.txt\" msg \"vip header\"\n"
		    "block snd sender list \"lists/blocked-senders.txt\" dir to_server msg \"sender\"\n"
		    "block spoof spoof subaddress \"+\" proto smtp msg \"spoofed\"\n");

	f.m.rcpt = rcpts;
	f.m.n_rcpt = 2;
	f.m.mail_from = "alice+news@corp.example";
	f.m.auth_user = "alice@corp.example";
	f.m.hdr_from = "Alice <alice@corp.example>";
	f.sink.ops->msg_end(f.sink.self, &f.m);
	assert_non_null(reason(&f.m, "vip"));
	assert_int_equal(reason(&f.m, "vip")->object, 0);
	assert_null(reason(&f.m, "viph"));
	assert_null(reason(&f.m, "snd"));
	assert_null(reason(&f.m, "spoof"));
	f.m.rcpt = NULL;
	f.m.n_rcpt = 0;

	fx_new_msg(&f);
	f.m.hdr_to = hdr_to;
	f.m.n_hdr_to = 1;
	f.m.mail_from = "";
	f.m.hdr_from = "\"Support\" <help@x.evil.example>";
	f.m.auth_user = "alice@corp.example";
	f.sink.ops->msg_end(f.sink.self, &f.m);
	assert_null(reason(&f.m, "vip"));
	assert_non_null(reason(&f.m, "viph"));
	assert_non_null(reason(&f.m, "snd"));	/* header From in the .evil.example tree */
	assert_non_null(reason(&f.m, "spoof"));
	assert_int_equal(f.m.verdict.action, SL_ACTION_BLOCK);
	f.m.hdr_to = NULL;
	f.m.n_hdr_to = 0;

	/* conditions: not SMTP -> no spoof rule; to_client -> no sender rule */
	sl_msg_release(&f.m);
	sl_msg_init(&f.m, 4, SL_PROTO_IMAP, SL_TO_CLIENT);
	f.m.mail_from = "spammer@example.net";
	f.m.auth_user = "alice@corp.example";
	f.sink.ops->msg_end(f.sink.self, &f.m);
	assert_int_equal(f.m.verdict.n, 0);
	fx_close(&f);
}

static void reload_swaps_between_objects(void **st)
{
	struct fx f;
	struct sl_object o1, o2;
	void *s1 = NULL;

	fx_open(&f, "alert old body keyword \"alpha\" msg \"m\"\n");
	struct sl_ruleset *next = rs_of("alert new body keyword \"beta\" msg \"m\"\n"
					"alert new2 subject keyword \"beta\" msg \"m\"\n");
	struct sl_ruleset *old = f.rs;

	assert_int_equal(sl_ruleset_refs(old), 2);	/* ours + the sink's */
	/* warm the free list with an old-set stream */
	feed_str(&f, SL_SCOPE_TEXT, "nothing");

	o1 = obj(&f, SL_SCOPE_TEXT, 1);
	assert_int_equal(f.sink.ops->begin(f.sink.self, &o1, &s1), 0);
	assert_int_equal(sl_match_sink_set_ruleset(f.ms, next), 0);
	assert_int_equal(sl_match_sink_set_ruleset(f.ms, next), 0);	/* same set: no-op */
	assert_int_equal(f.ctr.v[SL_CTR_RULES_RELOADS], 1);
	assert_int_equal(sl_ruleset_refs(next), 2);
	/* the old set lives on for the open object only */
	sl_ruleset_unref(old);
	f.rs = next;
	assert_int_equal(sl_ruleset_refs(old), 1);

	/* the open object is judged by the set it began with */
	f.sink.ops->data(f.sink.self, &o1, s1, (const uint8_t *)"alpha beta", 10);
	f.sink.ops->end(f.sink.self, &o1, s1);	/* frees the old set (ASan checks) */
	assert_non_null(reason(&f.m, "old"));
	assert_null(reason(&f.m, "new"));

	fx_new_msg(&f);
	o2 = obj(&f, SL_SCOPE_TEXT, 1);
	feed(&f, &o2, "alpha beta", 10, 0);
	assert_null(reason(&f.m, "old"));
	assert_non_null(reason(&f.m, "new"));
	fx_new_msg(&f);
	feed_str(&f, SL_SCOPE_SUBJECT, "beta");	/* a scope the old set did not have */
	assert_non_null(reason(&f.m, "new2"));

	/* a second sink (another worker) clones its own scratch */
	unsigned before = sl_ruleset_refs(next);	/* recycled streams hold one each */
	struct sl_match_sink *ms2 = sl_match_sink_new(next, NULL);

	assert_non_null(ms2);
	assert_int_equal(sl_ruleset_refs(next), before + 1);
	sl_match_sink_free(ms2);
	assert_int_equal(sl_ruleset_refs(next), before);

	/* swapping to an empty set: every scope is skipped */
	struct sl_ruleset *empty = sl_ruleset_load(NULL, 0, &(struct sl_rule_error){ 0 });

	assert_int_equal(sl_match_sink_set_ruleset(f.ms, empty), 0);
	sl_ruleset_unref(empty);
	assert_int_equal(feed_str(&f, SL_SCOPE_TEXT, "beta"), -1);
	fx_close(&f);
}

static struct sl_ruleset *rs_file(const char *path)
{
	struct sl_rule_error e;
	struct sl_ruleset *rs = sl_ruleset_load(&path, 1, &e);

	if (!rs)
		fail_msg("%s did not load: %u:%u %s", path, e.line, e.column, e.message);
	return rs;
}

/* The bundled test sets do what their comments promise. */
static void bundled_test_sets(void **st)
{
	struct fx f;
	static const struct {
		enum sl_scope scope;
		const char *text;
		const char *fires;	/* NULL: nothing may fire */
	} cases[] = {
		{ SL_SCOPE_TEXT, "the Project Bluebird kickoff", "ex-bluebird" },
		{ SL_SCOPE_SUBJECT, "PROJECT\tBLUEBIRD", "ex-bluebird" },
		{ SL_SCOPE_TEXT, "project blue bird", NULL },
		{ SL_SCOPE_TEXT, "the bluebirds sing", NULL },
		{ SL_SCOPE_TEXT, "projectbluebird", NULL },
		{ SL_SCOPE_TEXT, "Project Bluebirdy", NULL },
		{ SL_SCOPE_SUBJECT, "[SECRET] plans", "ex-subject" },
		{ SL_SCOPE_SUBJECT, "[secret] plans", NULL },
		{ SL_SCOPE_TEXT, "[SECRET] plans", NULL },
	};

	fx_open(&f, "alert unused body keyword \"zz\" msg \"m\"\n");
	sl_ruleset_unref(f.rs);
	f.rs = rs_file(SL_TEST_RULES_DIR "/exact.rules");
	assert_int_equal(sl_match_sink_set_ruleset(f.ms, f.rs), 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		fx_new_msg(&f);
		feed_str(&f, cases[i].scope, cases[i].text);
		if (cases[i].fires ? !reason(&f.m, cases[i].fires) : f.m.verdict.n != 0)
			fail_msg("exact.rules case %zu '%s'", i, cases[i].text);
	}

	/* the capture marker: any of body, attachment, subject, raw */
	sl_ruleset_unref(f.rs);
	f.rs = rs_file(SL_TEST_RULES_DIR "/keywords.rules");
	assert_int_equal(sl_match_sink_set_ruleset(f.ms, f.rs), 0);
	static const enum sl_scope marker_scopes[] = {
		SL_SCOPE_TEXT, SL_SCOPE_ATTACHMENT, SL_SCOPE_SUBJECT, SL_SCOPE_RAW,
	};
	for (size_t i = 0; i < 4; i++) {
		fx_new_msg(&f);
		struct sl_object o = obj(&f, marker_scopes[i], 0);

		feed(&f, &o, "x PROJECT bluebird x", 20, 5);
		assert_non_null(reason(&f.m, "kw-bluebird"));
		assert_int_equal(f.m.verdict.action, SL_ACTION_BLOCK);
	}
	fx_new_msg(&f);
	assert_int_equal(feed_str(&f, SL_SCOPE_FILENAME, "project bluebird.txt"), -1);
	fx_close(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(keyword_split_at_every_position),
		cmocka_unit_test(one_byte_calls),
		cmocka_unit_test(case_sensitive_and_not),
		cmocka_unit_test(scope_isolation),
		cmocka_unit_test(header_name_restriction),
		cmocka_unit_test(one_fire_per_rule_per_object),
		cmocka_unit_test(streams_do_not_leak),
		cmocka_unit_test(end_anchored_patterns),
		cmocka_unit_test(attachment_policy_at_object_end),
		cmocka_unit_test(direction_and_protocol),
		cmocka_unit_test(message_level_rules),
		cmocka_unit_test(reload_swaps_between_objects),
		cmocka_unit_test(bundled_test_sets),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
