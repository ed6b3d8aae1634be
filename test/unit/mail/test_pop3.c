/* POP3 through sl_app, checked whole, byte by byte and split everywhere. */
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
	struct conv cv = { c, n, 110, NULL };

	free(conv_check(&cv, want));
}

/* RETR and TOP are messages (dot-unstuffed); -ERR is one line; LIST, UIDL
 * and CAPA multi-line responses are skipped, even when they hold lines
 * that look like status lines. */
static void test_retr_top_err_list(void **state)
{
	static const struct conv_chunk c[] = {
		SC("+OK POP3 ready\r\n"),
		CS("CAPA\r\n"),
		SC("+OK\r\nTOP\r\nUIDL\r\nPIPELINING\r\n.\r\n"),
		CS("USER bob\r\nPASS hunter2\r\nLIST\r\n"),
		SC("+OK\r\n+OK\r\n+OK 2 messages\r\n1 120\r\n+OK 2 200\r\n.\r\n"),
		CS("RETR 1\r\n"),
		SC("+OK 120 octets\r\nSubject: one\r\n\r\n..dot\r\n"),
		SC("body\r\n.\r\n"),
		CS("RETR 9\r\nTOP 2 0\r\nUIDL\r\n"),
		SC("-ERR no such message\r\n+OK\r\nSubject: two\r\n\r\n.\r\n+OK\r\n1 a\r\n2 b\r\n.\r\n"),
		CS("QUIT\r\n"),
		SC("+OK bye\r\n"),
	};
	(void)state;
	check(CHUNKS(c),
	      "note DETECTED pop3 pkt=1\n"
	      "begin #1 pop3 to_client pkt=7\n"
	      "field #1 POP3_COMMAND=RETR 1\n"
	      "data #1 \"Subject: one\\r\\n\\r\\n.dot\\r\\nbody\\r\\n\"\n"
	      "end #1 pkt=8\n"
	      "done #1\n"
	      "begin #2 pop3 to_client pkt=10\n"
	      "field #2 POP3_COMMAND=TOP 2 0\n"
	      "data #2 \"Subject: two\\r\\n\\r\\n\"\n"
	      "end #2 pkt=10\n"
	      "done #2\n");
}

/* Pipelined RETRs answered in one segment. */
static void test_pipelined_retr(void **state)
{
	static const struct conv_chunk c[] = {
		SC("+OK ready\r\n"),
		CS("RETR 1\r\nRETR 2\r\nDELE 1\r\nretr 3\r\n"),
		SC("+OK\r\nA: 1\r\n\r\none\r\n.\r\n+OK\r\nA: 2\r\n\r\ntwo\r\n.\r\n+OK deleted\r\n"
		   "+OK\r\n.\r\n"),
	};
	(void)state;
	check(CHUNKS(c),
	      "note DETECTED pop3 pkt=1\n"
	      "begin #1 pop3 to_client pkt=3\n"
	      "field #1 POP3_COMMAND=RETR 1\n"
	      "data #1 \"A: 1\\r\\n\\r\\none\\r\\n\"\n"
	      "end #1 pkt=3\n"
	      "done #1\n"
	      "begin #2 pop3 to_client pkt=3\n"
	      "field #2 POP3_COMMAND=RETR 2\n"
	      "data #2 \"A: 2\\r\\n\\r\\ntwo\\r\\n\"\n"
	      "end #2 pkt=3\n"
	      "done #2\n"
	      "begin #3 pop3 to_client pkt=3\n"
	      "field #3 POP3_COMMAND=RETR 3\n"
	      "end #3 pkt=3\n"
	      "done #3\n");
}

/* STLS: after +OK nothing is parsed, in either direction, once the
 * client's next byte starts a TLS record (decided there: the packet
 * carrying it). */
static void test_stls(void **state)
{
	static const struct conv_chunk c[] = {
		SC("+OK ready\r\n"),
		CS("STLS\r\n\x16\x03\x01"),
		SC("+OK begin TLS\r\n\x16\x03\x03"),
		CS("RETR 1\r\n"),
	};
	(void)state;
	check(CHUNKS(c),
	      "note DETECTED pop3 pkt=1\n"
	      "note TLS pop3 pkt=2\n");
}

/* The RETR after STLS, parsed as cleartext. */
#define RETR_AFTER_STLS							\
	"begin #1 pop3 to_client pkt=5\n"				\
	"field #1 POP3_COMMAND=RETR 1\n"				\
	"data #1 \"Subject: x\\r\\n\\r\\nhi\\r\\n\"\n"		\
	"end #1 pkt=5\n"						\
	"done #1\n"

/* STLS accepted, then the session goes on in cleartext: still parsed,
 * with the anomaly, so announcing STLS cannot hide a download. */
static void test_stls_cleartext(void **state)
{
	static const struct conv_chunk c[] = {
		SC("+OK ready\r\n"),
		CS("STLS\r\n"),
		SC("+OK begin TLS\r\n"),
		CS("RETR 1\r\n"),
		SC("+OK\r\nSubject: x\r\n\r\nhi\r\n.\r\n"),
	};
	(void)state;
	check(CHUNKS(c),
	      "note DETECTED pop3 pkt=1\n"
	      "anomaly pop3.stls_cleartext\n"
	      RETR_AFTER_STLS);
}

/* The server's bytes after +OK arrive before the client's: they wait for
 * the client's byte, which says TLS. */
static void test_stls_server_first(void **state)
{
	static const struct conv_chunk c[] = {
		SC("+OK ready\r\n"),
		CS("STLS\r\n"),
		SC("+OK begin TLS\r\n\x16\x03\x03\x00\x5a"),
		CS("\x16\x03\x01\x02\x00\x01RETR 1\r\n"),
		SC("+OK\r\nSubject: x\r\n\r\nhi\r\n.\r\n"),
	};
	(void)state;
	check(CHUNKS(c),
	      "note DETECTED pop3 pkt=1\n"
	      "note TLS pop3 pkt=4\n");
}

/* STLS refused: the session goes on in the clear, no anomaly. */
static void test_stls_refused(void **state)
{
	static const struct conv_chunk c[] = {
		SC("+OK ready\r\n"),
		CS("STLS\r\n"),
		SC("-ERR not now\r\n"),
		CS("RETR 1\r\n"),
		SC("+OK\r\nSubject: x\r\n\r\nhi\r\n.\r\n"),
	};
	(void)state;
	check(CHUNKS(c),
	      "note DETECTED pop3 pkt=1\n"
	      RETR_AFTER_STLS);
}

/* The client's bytes after +OK are lost (a capture gap): the deciding byte
 * is gone, so the flow is taken for TLS. */
static void test_stls_gap(void **state)
{
	static const struct conv_chunk c[] = {
		SC("+OK ready\r\n"),
		CS("STLS\r\n"),
		SC("+OK begin TLS\r\n"),
		GAP(SL_TO_SERVER, 300),
		CS("RETR 1\r\n"),
	};
	(void)state;
	check(CHUNKS(c),
	      "note DETECTED pop3 pkt=1\n"
	      "note TLS pop3 pkt=5\n");
}

/* SASL: the lines after AUTH are responses, not commands. */
static void test_auth(void **state)
{
	static const struct conv_chunk c[] = {
		SC("+OK ready\r\n"),
		CS("AUTH PLAIN\r\n"),
		SC("+ \r\n"),
		CS("AGJvYgBzZWNyZXQ=\r\n"),
		SC("+OK logged in\r\n"),
		CS("RETR 1\r\n"),
		SC("+OK\r\nx\r\n.\r\n"),
	};
	(void)state;
	char *t;
	struct conv cv = { CHUNKS(c), 110, NULL };
	t = conv_check(&cv, NULL);
	assert_false(str_has(t, "unknown_command"));
	assert_false(str_has(t, "c2VjcmV0"));
	free(t);
}

/* A message cut by the end of the flow is aborted. */
static void test_truncated(void **state)
{
	static const struct conv_chunk c[] = {
		SC("+OK ready\r\n"),
		CS("RETR 1\r\n"),
		SC("+OK\r\npartial\r\n."),
	};
	(void)state;
	check(CHUNKS(c),
	      "note DETECTED pop3 pkt=1\n"
	      "begin #1 pop3 to_client pkt=3\n"
	      "field #1 POP3_COMMAND=RETR 1\n"
	      "anomaly #1 mail.truncated (to_client)\n"
	      "anomaly #1 mail.truncated (message)\n"
	      "data #1 \"partial\\r\\n\"\n"
	      "abort #1 eof\n");
}

/* A response line that is neither +OK nor -ERR answers the oldest command
 * as a failure, the way clients read one status line per command (Zeek's
 * pop3/bad-list-retr-crafted.pcap: LIST answered "GARBAGE", its listing
 * without the dot).  The next "+OK" then answers RETR, so the message
 * bytes are inspected as RETR's message, not skipped as LIST's listing. */
static void test_garbage_answers(void **state)
{
	static const struct conv_chunk c[] = {
		SC("+OK ready\r\n"),
		CS("LIST\r\n"),
		SC("GARBAGE (and LIST response missing .)\r\n"),
		SC("+OK 2 messages (320 octets)\r\n1 120\r\n"),
		CS("RETR 1\r\n"),
		SC("+OK message follows\r\nSubject: x\r\n\r\nbody\r\n.\r\n"),
		CS("QUIT\r\n"),
		SC("+OK bye\r\n"),
	};
	(void)state;
	check(CHUNKS(c),
	      "note DETECTED pop3 pkt=1\n"
	      "anomaly pop3.bad_response\n"
	      "begin #1 pop3 to_client pkt=4\n"
	      "field #1 POP3_COMMAND=RETR 1\n"
	      "data #1 \"1 120\\r\\n+OK message follows\\r\\nSubject: x\\r\\n\\r\\nbody\\r\\n\"\n"
	      "end #1 pkt=6\n"
	      "done #1\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_retr_top_err_list),
		cmocka_unit_test(test_pipelined_retr),
		cmocka_unit_test(test_stls),
		cmocka_unit_test(test_stls_cleartext),
		cmocka_unit_test(test_stls_server_first),
		cmocka_unit_test(test_stls_refused),
		cmocka_unit_test(test_stls_gap),
		cmocka_unit_test(test_auth),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_garbage_answers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
