/* IMAP through sl_app, checked whole, byte by byte and split everywhere. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"

static void check(const struct conv_chunk *c, size_t n, const char *want)
{
	struct conv cv = { c, n, 143, NULL };

	free(conv_check(&cv, want));
}

/* SELECT sets the mailbox; BODY.PEEK[] is answered as BODY[] with a
 * literal; the UID comes before it. */
static void test_fetch(void **state)
{
	static const struct conv_chunk c[] = {
		SC("* OK [CAPABILITY IMAP4rev1 LITERAL+] ready\r\n"),
		CS("a1 LOGIN bob \"pa ss\"\r\n"),
		SC("a1 OK logged in\r\n"),
		CS("a2 SELECT \"Sent Items\"\r\n"),
		SC("* 2 EXISTS\r\n* FLAGS (\\Seen)\r\na2 OK [READ-WRITE] done\r\n"),
		CS("a3 UID FETCH 42 (UID BODY.PEEK[])\r\n"),
		SC("* 1 FETCH (UID 42 BODY[] {16}\r\nSubject: x\r\n\r\nhi)\r\n"),
		SC("a3 OK done\r\n"),
	};
	(void)state;
	check(CHUNKS(c),
	      "note DETECTED imap pkt=1\n"
	      "begin #1 imap to_client pkt=7\n"
	      "field #1 IMAP_COMMAND=UID FETCH\n"
	      "field #1 IMAP_MAILBOX=Sent Items\n"
	      "field #1 IMAP_SECTION=BODY[]\n"
	      "field #1 IMAP_UID=42\n"
	      "data #1 \"Subject: x\\r\\n\\r\\nhi\"\n"
	      "end #1 pkt=7\n"
	      "done #1\n");
}

/* Two messages in one segment, the UID after each literal; untagged
 * responses in between; the second response's literal is split oddly. */
static void test_fetch_two_uid_after(void **state)
{
	static const struct conv_chunk c[] = {
		SC("* OK ready\r\n"),
		CS("t SELECT INBOX\r\n"),
		SC("t OK done\r\n"),
		CS("f FETCH 1:2 (BODY[] UID)\r\n"),
		SC("* 1 FETCH (BODY[] {5}\r\nhello UID 7 FLAGS (\\Seen))\r\n* 5 EXISTS\r\n"
		   "* 2 FETCH (BODY[] {3}\r\nab"),
		SC("c UID 8)\r\nf OK\r\n"),
	};
	(void)state;
	check(CHUNKS(c),
	      "note DETECTED imap pkt=1\n"
	      "begin #1 imap to_client pkt=5\n"
	      "field #1 IMAP_COMMAND=FETCH\n"
	      "field #1 IMAP_MAILBOX=INBOX\n"
	      "field #1 IMAP_SECTION=BODY[]\n"
	      "data #1 \"hello\"\n"
	      "end #1 pkt=5\n"
	      "field #1 IMAP_UID=7\n"
	      "done #1\n"
	      "begin #2 imap to_client pkt=5\n"
	      "field #2 IMAP_COMMAND=FETCH\n"
	      "field #2 IMAP_MAILBOX=INBOX\n"
	      "field #2 IMAP_SECTION=BODY[]\n"
	      "data #2 \"abc\"\n"
	      "end #2 pkt=6\n"
	      "field #2 IMAP_UID=8\n"
	      "done #2\n");
}

/* literal8 (BINARY[]), sections, RFC822, a header fetch with a bracketed
 * list, a quoted section, and literals that are not messages: an ENVELOPE
 * subject, a LIST mailbox name, a text response that looks like one. */
static void test_sections(void **state)
{
	static const struct conv_chunk c[] = {
		SC("* OK ready\r\n"),
		CS("x FETCH 1 (BINARY[] BODY[1] BODY[1.MIME] RFC822 ENVELOPE)\r\n"),
		SC("* 1 FETCH (BINARY[] ~{4}\r\n\x00\x01\r\n BODY[1] \"q\\\"uoted\" "
		   "ENVELOPE (\"date\" {7}\r\nsubject NIL NIL NIL NIL NIL NIL NIL NIL) "
		   "BODY[1.MIME] {2}\r\nMM RFC822 NIL BODY[HEADER.FIELDS (FROM TO)] {3}\r\nF: "
		   "BODYSTRUCTURE (\"text\" \"plain\" NIL NIL NIL \"7bit\" 1 1))\r\n"),
		SC("* OK [ALERT] hello {5}\r\n* LIST () \"/\" {5}\r\nINBOX\r\nx OK\r\n"),
	};
	(void)state;
	check(CHUNKS(c),
	      "note DETECTED imap pkt=1\n"
	      "begin #1 imap to_client pkt=3\n"
	      "field #1 IMAP_COMMAND=FETCH\n"
	      "field #1 IMAP_SECTION=BINARY[]\n"
	      "data #1 \"\\x00\\x01\\r\\n\"\n"
	      "end #1 pkt=3\n"
	      "begin #2 imap to_client pkt=3\n"
	      "field #2 IMAP_COMMAND=FETCH\n"
	      "field #2 IMAP_SECTION=BODY[1]\n"
	      "data #2 \"q\"uoted\"\n"
	      "end #2 pkt=3\n"
	      "begin #3 imap to_client pkt=3\n"
	      "field #3 IMAP_COMMAND=FETCH\n"
	      "field #3 IMAP_SECTION=BODY[1.MIME]\n"
	      "data #3 \"MM\"\n"
	      "end #3 pkt=3\n"
	      "begin #4 imap to_client pkt=3\n"
	      "field #4 IMAP_COMMAND=FETCH\n"
	      "field #4 IMAP_SECTION=BODY[HEADER.FIELDS (FROM TO)]\n"
	      "data #4 \"F: \"\n"
	      "end #4 pkt=3\n"
	      "done #1\n"
	      "done #2\n"
	      "done #3\n"
	      "done #4\n");
}

/* APPEND with a synchronizing literal: the client's bytes after "{N}" are
 * content only after the server's "+".  Then LITERAL+ (no wait), then
 * MULTIAPPEND with two synchronizing literals. */
static void test_append(void **state)
{
	static const struct conv_chunk c[] = {
		SC("* OK ready\r\n"),
		CS("a APPEND Drafts (\\Seen) {14}\r\n"),
		SC("+ Ready for literal data\r\n"),
		CS("Subject: a\r\n\r\n\r\n"),
		SC("a OK [APPENDUID 1 9] done\r\n"),
		CS("b APPEND \"Sent\" {4+}\r\nbody\r\nc NOOP\r\n"),
		SC("b OK done\r\nc OK\r\n"),
		CS("d APPEND {5}\r\n"),
		SC("+ go\r\n"),
		CS("INBOX {2}\r\n"),
		SC("+ go\r\n"),
		CS("m1 () {2}\r\n"),
		SC("+ go\r\n"),
		CS("m2\r\n"),
		SC("d OK appended\r\n"),
	};
	(void)state;
	check(CHUNKS(c),
	      "note DETECTED imap pkt=1\n"
	      "begin #1 imap to_server pkt=4\n"
	      "field #1 IMAP_COMMAND=APPEND\n"
	      "field #1 IMAP_MAILBOX=Drafts\n"
	      "data #1 \"Subject: a\\r\\n\\r\\n\"\n"
	      "end #1 pkt=4\n"
	      "reply #1 APPEND 250 [APPENDUID 1 9] done\n"
	      "done #1\n"
	      "begin #2 imap to_server pkt=6\n"
	      "field #2 IMAP_COMMAND=APPEND\n"
	      "field #2 IMAP_MAILBOX=Sent\n"
	      "data #2 \"body\"\n"
	      "end #2 pkt=6\n"
	      "reply #2 APPEND 250 done\n"
	      "done #2\n"
	      "begin #3 imap to_server pkt=12\n"
	      "field #3 IMAP_COMMAND=APPEND\n"
	      "field #3 IMAP_MAILBOX=INBOX\n"
	      "data #3 \"m1\"\n"
	      "end #3 pkt=12\n"
	      "begin #4 imap to_server pkt=14\n"
	      "field #4 IMAP_COMMAND=APPEND\n"
	      "field #4 IMAP_MAILBOX=INBOX\n"
	      "data #4 \"m2\"\n"
	      "end #4 pkt=14\n"
	      "reply #3 APPEND 250 appended\n"
	      "done #3\n"
	      "reply #4 APPEND 250 appended\n"
	      "done #4\n");
}

/* A synchronizing literal the server refuses never comes: the attempt is
 * aborted and the next line is a command. */
static void test_append_refused(void **state)
{
	static const struct conv_chunk c[] = {
		SC("* OK ready\r\n"),
		CS("a APPEND nobox {500}\r\n"),
		SC("a NO [TRYCREATE] no such mailbox\r\n"),
		CS("b LOGOUT\r\n"),
		SC("* BYE\r\nb OK\r\n"),
	};
	(void)state;
	check(CHUNKS(c),
	      "note DETECTED imap pkt=1\n"
	      "begin #1 imap to_server pkt=3\n"
	      "field #1 IMAP_COMMAND=APPEND\n"
	      "field #1 IMAP_MAILBOX=nobox\n"
	      "reply #1 APPEND 550 [TRYCREATE] no such mailbox\n"
	      "abort #1 rejected\n");
}

/* Literals in other commands are framed, not messages: LOGIN with
 * literals (synchronizing and not), SEARCH with LITERAL-, SELECT by a
 * literal mailbox name. */
static void test_other_literals(void **state)
{
	static const struct conv_chunk c[] = {
		SC("* OK ready\r\n"),
		CS("l LOGIN {3}\r\n"),
		SC("+ ok\r\n"),
		CS("bob {6+}\r\nsecret\r\n"),
		SC("l OK\r\n"),
		CS("s SEARCH TEXT {4-}\r\nMAIL\r\nm SELECT {5}\r\n"),
		SC("* SEARCH 1\r\ns OK\r\n+ ok\r\n"),
		CS("INBOX\r\nf FETCH 1 RFC822\r\n"),
		SC("m OK\r\n* 1 FETCH (RFC822 {2}\r\nhi)\r\nf OK\r\n"),
	};
	(void)state;
	check(CHUNKS(c),
	      "note DETECTED imap pkt=1\n"
	      "begin #1 imap to_client pkt=9\n"
	      "field #1 IMAP_COMMAND=FETCH\n"
	      "field #1 IMAP_MAILBOX=INBOX\n"
	      "field #1 IMAP_SECTION=RFC822\n"
	      "data #1 \"hi\"\n"
	      "end #1 pkt=9\n"
	      "done #1\n");
}

/* Literal sizes are hostile: a size that overflows loses the framing
 * (reported), a huge one is skipped with bounded memory and the message is
 * cut at max_message and flagged. */
static void test_huge_literals(void **state)
{
	static const struct conv_chunk c[] = {
		SC("* OK ready\r\n"),
		CS("a FETCH 1 BODY[]\r\n"),
		SC("* 1 FETCH (BODY[] {99999999999999999999999}\r\n* 2 EXISTS\r\n"),
		SC("* 1 FETCH (BODY[] {9999999999}\r\n0123456789abcdef"),
	};
	struct sl_app_config cfg;
	sl_app_config_default(&cfg);
	cfg.max_message = 10;
	struct conv cv = { CHUNKS(c), 143, &cfg };
	(void)state;
	free(conv_check(&cv,
	      "note DETECTED imap pkt=1\n"
	      "anomaly imap.bad_literal (to_client)\n"
	      "begin #1 imap to_client pkt=4\n"
	      "field #1 IMAP_COMMAND=FETCH\n"
	      "field #1 IMAP_SECTION=BODY[]\n"
	      "anomaly #1 mail.message_too_big\n"
	      "anomaly #1 mail.truncated (message)\n"
	      "data #1 \"0123456789\"\n"
	      "abort #1 eof\n"));
}

/* STARTTLS: after the tagged OK nothing is parsed, in either direction,
 * once the client's next byte starts a TLS record (decided there: the
 * packet carrying it). */
static void test_starttls(void **state)
{
	static const struct conv_chunk c[] = {
		SC("* OK ready\r\n"),
		CS("s STARTTLS\r\n\x16\x03\x01"),
		SC("s OK begin TLS\r\n\x16\x03\x03"),
		CS("a APPEND x {1+}\r\nz\r\n"),
	};
	(void)state;
	check(CHUNKS(c),
	      "note DETECTED imap pkt=1\n"
	      "note TLS imap pkt=2\n");
}

/* The APPEND after STARTTLS, parsed as cleartext. */
#define APPEND_AFTER_STARTTLS						\
	"begin #1 imap to_server pkt=4\n"				\
	"field #1 IMAP_COMMAND=APPEND\n"				\
	"field #1 IMAP_MAILBOX=Drafts\n"				\
	"data #1 \"body\"\n"						\
	"end #1 pkt=4\n"						\
	"reply #1 APPEND 250 done\n"					\
	"done #1\n"

/* STARTTLS accepted, then the session goes on in cleartext (a server that
 * ignores its own OK, or decrypted TLS written back): still parsed, with
 * the anomaly, so announcing STARTTLS cannot hide an APPEND. */
static void test_starttls_cleartext(void **state)
{
	static const struct conv_chunk c[] = {
		SC("* OK ready\r\n"),
		CS("s STARTTLS\r\n"),
		SC("s OK begin TLS\r\n"),
		CS("a APPEND Drafts {4+}\r\nbody\r\n"),
		SC("a OK done\r\n"),
	};
	(void)state;
	check(CHUNKS(c),
	      "note DETECTED imap pkt=1\n"
	      "anomaly imap.starttls_cleartext\n"
	      APPEND_AFTER_STARTTLS);
}

/* The server's bytes after its OK arrive before the client's: they wait
 * for the client's byte, which says TLS; the cleartext-looking client
 * bytes behind the record are never parsed. */
static void test_starttls_server_first(void **state)
{
	static const struct conv_chunk c[] = {
		SC("* OK ready\r\n"),
		CS("s STARTTLS\r\n"),
		SC("s OK begin TLS\r\n\x16\x03\x03\x00\x5a"),
		CS("\x16\x03\x01\x02\x00\x01a APPEND x {4+}\r\nbody\r\n"),
		SC("a OK done\r\n"),
	};
	(void)state;
	check(CHUNKS(c),
	      "note DETECTED imap pkt=1\n"
	      "note TLS imap pkt=4\n");
}

/* STARTTLS refused: the session goes on in the clear, no anomaly. */
static void test_starttls_refused(void **state)
{
	static const struct conv_chunk c[] = {
		SC("* OK ready\r\n"),
		CS("s STARTTLS\r\n"),
		SC("s NO not now\r\n"),
		CS("a APPEND Drafts {4+}\r\nbody\r\n"),
		SC("a OK done\r\n"),
	};
	(void)state;
	check(CHUNKS(c),
	      "note DETECTED imap pkt=1\n"
	      APPEND_AFTER_STARTTLS);
}

/* The client's bytes after the OK are lost (a capture gap): the deciding
 * byte is gone, so the flow is taken for TLS, as SMTP does. */
static void test_starttls_gap(void **state)
{
	static const struct conv_chunk c[] = {
		SC("* OK ready\r\n"),
		CS("s STARTTLS\r\n"),
		SC("s OK begin TLS\r\n"),
		GAP(SL_TO_SERVER, 300),
		CS("a APPEND x {4+}\r\nbody\r\n"),
	};
	(void)state;
	check(CHUNKS(c),
	      "note DETECTED imap pkt=1\n"
	      "note TLS imap pkt=5\n");
}

/* IDLE and AUTHENTICATE: their client lines are not commands. */
static void test_idle_authenticate(void **state)
{
	static const struct conv_chunk c[] = {
		SC("* PREAUTH ready\r\n"),
		CS("a AUTHENTICATE PLAIN\r\n"),
		SC("+ \r\n"),
		CS("AGJvYgBzZWNyZXQ=\r\n"),
		SC("a OK\r\n"),
		CS("i IDLE\r\n"),
		SC("+ idling\r\n* 1 FETCH (FLAGS (\\Seen))\r\n"),
		CS("DONE\r\n"),
		SC("i OK\r\n"),
	};
	(void)state;
	char *t;
	struct conv cv = { CHUNKS(c), 143, NULL };
	t = conv_check(&cv, NULL);
	assert_false(str_has(t, "imap."));
	free(t);
}

/* A FETCH line longer than max_line still has its literal framed: the
 * message is inspected (its section unknown). */
static void test_long_fetch_line(void **state)
{
	static char line[6000];
	static struct conv_chunk c[] = {
		SC("* OK ready\r\n"),
		CS("a FETCH 1 (ENVELOPE BODY[])\r\n"),
		{ SL_TO_CLIENT, line, 0 },
		SC("msg)\r\na OK\r\n"),
	};
	(void)state;
	size_t k = (size_t)snprintf(line, sizeof(line), "* 1 FETCH (ENVELOPE (\"");
	memset(line + k, 'x', 5000);
	k += 5000;
	k += (size_t)snprintf(line + k, sizeof(line) - k, "\" NIL) BODY[] {3}\r\n");
	c[2].len = k;
	check(CHUNKS(c),
	      "note DETECTED imap pkt=1\n"
	      "anomaly mail.line_too_long (to_client)\n"
	      "begin #1 imap to_client pkt=4\n"
	      "field #1 IMAP_COMMAND=FETCH\n"
	      "field #1 IMAP_SECTION=?\n"
	      "data #1 \"msg\"\n"
	      "end #1 pkt=4\n"
	      "done #1\n");
}

/* COMPRESS=DEFLATE: after the tagged OK both directions are raw deflate;
 * the inflated conversation is parsed as usual. */
static void test_compress(void **state)
{
	static const struct conv_chunk c[] = {
		SC("* OK ready\r\n"),
		CS("z COMPRESS DEFLATE\r\n"),
		SC("z OK DEFLATE active\r\n"),
		CS("s SELECT INBOX\r\n"),
		SC("s OK\r\n"),
		CS("a APPEND INBOX {5+}\r\nhello\r\nf UID FETCH 3 BODY.PEEK[]\r\n"),
		SC("a OK\r\n* 3 FETCH (UID 3 BODY[] {12}\r\nSubject: z\r\n)\r\nf OK\r\n"),
	};
	struct conv plain = { CHUNKS(c), 143, NULL };
	struct conv *cv = conv_deflate(&plain, 3);
	(void)state;
	free(conv_check(cv,
	      "note DETECTED imap pkt=1\n"
	      "note COMPRESS imap pkt=3\n"
	      "begin #1 imap to_server pkt=6\n"
	      "field #1 IMAP_COMMAND=APPEND\n"
	      "field #1 IMAP_MAILBOX=INBOX\n"
	      "data #1 \"hello\"\n"
	      "end #1 pkt=6\n"
	      "reply #1 APPEND 250 \n"
	      "done #1\n"
	      "begin #2 imap to_client pkt=7\n"
	      "field #2 IMAP_COMMAND=UID FETCH\n"
	      "field #2 IMAP_MAILBOX=INBOX\n"
	      "field #2 IMAP_SECTION=BODY[]\n"
	      "field #2 IMAP_UID=3\n"
	      "data #2 \"Subject: z\\r\\n\"\n"
	      "end #2 pkt=7\n"
	      "done #2\n"));
	conv_free(cv);
}

/* The tagged OK to COMPRESS and the first compressed bytes in one segment,
 * the client's compressed command before the OK is parsed. */
static void test_compress_same_segment(void **state)
{
	static const struct conv_chunk c[] = {
		SC("* OK ready\r\n"),
		CS("z COMPRESS DEFLATE\r\n"),
		SC("z OK DEFLATE active\r\n"),
		CS("f FETCH 1 BODY[]\r\n"),
		SC("* 1 FETCH (BODY[] {4}\r\nbody)\r\nf OK\r\n"),
	};
	struct conv plain = { CHUNKS(c), 143, NULL };
	struct conv *cv = conv_deflate(&plain, 3);
	struct conv_chunk m[4];
	(void)state;
	m[0] = cv->chunks[0];
	m[1] = cv->chunks[1];
	m[2] = cv->chunks[3];
	/* OK line + compressed response as one server packet. */
	char *both = malloc(cv->chunks[2].len + cv->chunks[4].len);
	memcpy(both, cv->chunks[2].data, cv->chunks[2].len);
	memcpy(both + cv->chunks[2].len, cv->chunks[4].data, cv->chunks[4].len);
	m[3] = (struct conv_chunk){ SL_TO_CLIENT, both, cv->chunks[2].len + cv->chunks[4].len };
	struct conv merged = { m, 4, 143, NULL };
	free(conv_check(&merged,
	      "note DETECTED imap pkt=1\n"
	      "note COMPRESS imap pkt=4\n"
	      "begin #1 imap to_client pkt=4\n"
	      "field #1 IMAP_COMMAND=FETCH\n"
	      "field #1 IMAP_SECTION=BODY[]\n"
	      "data #1 \"body\"\n"
	      "end #1 pkt=4\n"
	      "done #1\n"));
	free(both);
	conv_free(cv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fetch),
		cmocka_unit_test(test_fetch_two_uid_after),
		cmocka_unit_test(test_sections),
		cmocka_unit_test(test_append),
		cmocka_unit_test(test_append_refused),
		cmocka_unit_test(test_other_literals),
		cmocka_unit_test(test_huge_literals),
		cmocka_unit_test(test_starttls),
		cmocka_unit_test(test_starttls_cleartext),
		cmocka_unit_test(test_starttls_server_first),
		cmocka_unit_test(test_starttls_refused),
		cmocka_unit_test(test_starttls_gap),
		cmocka_unit_test(test_idle_authenticate),
		cmocka_unit_test(test_long_fetch_line),
		cmocka_unit_test(test_compress),
		cmocka_unit_test(test_compress_same_segment),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
