/* SMTP through sl_app: every transcript is checked whole, byte by byte and
 * split at every position (harness.h). */
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
	struct conv cv = { c, n, 25, NULL };

	free(conv_check(&cv, want));
}

static void test_basic(void **state)
{
	static const struct conv_chunk c[] = {
		SC("220 mx.example ESMTP\r\n"),
		CS("EHLO client.example\r\n"),
		SC("250-mx.example\r\n250-PIPELINING\r\n250 CHUNKING\r\n"),
		CS("MAIL FROM:<alice@example.org> SIZE=120 BODY=8BITMIME\r\n"),
		SC("250 2.1.0 Ok\r\n"),
		CS("RCPT TO:<bob@example.net>\r\n"),
		SC("250 2.1.5 Ok\r\n"),
		CS("DATA\r\n"),
		SC("354 End data with <CR><LF>.<CR><LF>\r\n"),
		CS("Subject: hi\r\n\r\n..leading dot\r\n.\r\n"),
		SC("250 2.0.0 Ok: queued as 1234\r\n"),
		CS("QUIT\r\n"),
		SC("221 2.0.0 Bye\r\n"),
	};
	(void)state;
	check(CHUNKS(c),
	      "note DETECTED smtp pkt=1\n"
	      "begin #1 smtp to_server pkt=9\n"
	      "field #1 HELO=client.example\n"
	      "field #1 MAIL_FROM=alice@example.org\n"
	      "field #1 MAIL_PARAMS=SIZE=120 BODY=8BITMIME\n"
	      "reply #1 MAIL 250 \n"
	      "field #1 RCPT_TO=bob@example.net\n"
	      "reply #1 RCPT 250 \n"
	      "reply #1 DATA 354 End data with <CR><LF>.<CR><LF>\n"
	      "data #1 \"Subject: hi\\r\\n\\r\\n.leading dot\\r\\n\"\n"
	      "end #1 pkt=10\n"
	      "reply #1 EOD 250 2.0.0 Ok: queued as 1234\n"
	      "done #1\n");
}


/* RFC 2920: MAIL/RCPT/RCPT/DATA in one segment, the replies in one segment;
 * one recipient refused.  The client waits for 354 before the body. */
static void test_pipelined(void **state)
{
	static const struct conv_chunk c[] = {
		SC("220 mx ESMTP\r\n"),
		CS("EHLO c\r\n"),
		SC("250-mx\r\n250 PIPELINING\r\n"),
		CS("MAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nRCPT TO:<nobody@y>\r\nDATA\r\n"),
		SC("250 ok\r\n250 ok\r\n550 5.1.1 no such user\r\n354 go\r\n"),
		CS("hello\r\n.\r\n"),
		SC("250 queued\r\n"),
	};
	(void)state;
	check(CHUNKS(c),
	      "note DETECTED smtp pkt=1\n"
	      "begin #1 smtp to_server pkt=5\n"
	      "field #1 HELO=c\n"
	      "field #1 MAIL_FROM=a@x\n"
	      "reply #1 MAIL 250 \n"
	      "field #1 RCPT_TO=b@y\n"
	      "reply #1 RCPT 250 \n"
	      "field #1 RCPT_TO=nobody@y\n"
	      "reply #1 RCPT 550 \n"
	      "reply #1 DATA 354 go\n"
	      "data #1 \"hello\\r\\n\"\n"
	      "end #1 pkt=6\n"
	      "reply #1 EOD 250 queued\n"
	      "done #1\n");
}

/* Every recipient refused, then DATA refused: the attempt is on record,
 * aborted, and the next lines are commands again. */
static void test_rejected_data(void **state)
{
	static const struct conv_chunk c[] = {
		SC("220 mx ESMTP\r\n"),
		CS("HELO c\r\n"),
		SC("250 mx\r\n"),
		CS("MAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nDATA\r\n"),
		SC("250 ok\r\n550 no\r\n554 5.5.1 no valid recipients\r\n"),
		CS("QUIT\r\n"),
		SC("221 bye\r\n"),
	};
	(void)state;
	check(CHUNKS(c),
	      "note DETECTED smtp pkt=1\n"
	      "begin #1 smtp to_server pkt=5\n"
	      "field #1 HELO=c\n"
	      "field #1 MAIL_FROM=a@x\n"
	      "reply #1 MAIL 250 \n"
	      "field #1 RCPT_TO=b@y\n"
	      "reply #1 RCPT 550 \n"
	      "reply #1 DATA 554 5.5.1 no valid recipients\n"
	      "abort #1 rejected\n");
}

/* RSET drops the envelope; two messages in one session; the second MAIL is
 * pipelined right after the first end of data (RFC 2920). */
static void test_rset_two_messages(void **state)
{
	static const struct conv_chunk c[] = {
		SC("220 mx ESMTP\r\n"),
		CS("EHLO c\r\n"),
		SC("250 mx\r\n"),
		CS("MAIL FROM:<old@x>\r\nRCPT TO:<old@y>\r\nRSET\r\n"),
		SC("250 ok\r\n250 ok\r\n250 reset\r\n"),
		CS("MAIL FROM:<first@x>\r\nRCPT TO:<r1@y>\r\nDATA\r\n"),
		SC("250 ok\r\n250 ok\r\n354 go\r\n"),
		CS("one\r\n.\r\nMAIL FROM:<second@x>\r\nRCPT TO:<r2@y>\r\nDATA\r\n"),
		SC("250 q1\r\n250 ok\r\n250 ok\r\n354 go\r\n"),
		CS("two\r\n.\r\nQUIT\r\n"),
		SC("250 q2\r\n221 bye\r\n"),
	};
	(void)state;
	check(CHUNKS(c),
	      "note DETECTED smtp pkt=1\n"
	      "begin #1 smtp to_server pkt=7\n"
	      "field #1 HELO=c\n"
	      "field #1 MAIL_FROM=first@x\n"
	      "reply #1 MAIL 250 \n"
	      "field #1 RCPT_TO=r1@y\n"
	      "reply #1 RCPT 250 \n"
	      "reply #1 DATA 354 go\n"
	      "data #1 \"one\\r\\n\"\n"
	      "end #1 pkt=8\n"
	      "reply #1 EOD 250 q1\n"
	      "done #1\n"
	      "begin #2 smtp to_server pkt=9\n"
	      "field #2 HELO=c\n"
	      "field #2 MAIL_FROM=second@x\n"
	      "reply #2 MAIL 250 \n"
	      "field #2 RCPT_TO=r2@y\n"
	      "reply #2 RCPT 250 \n"
	      "reply #2 DATA 354 go\n"
	      "data #2 \"two\\r\\n\"\n"
	      "end #2 pkt=10\n"
	      "reply #2 EOD 250 q2\n"
	      "done #2\n");
}

/* DATA's end: dot-stuffing, an empty line before the dot, a line that is
 * only dots, and a terminator that a byte-split delivery cuts everywhere. */
static void test_dot_stuffing(void **state)
{
	static const struct conv_chunk c[] = {
		SC("220 mx ESMTP\r\n"),
		CS("MAIL FROM:<>\r\nRCPT TO:<b@y>\r\nDATA\r\n"),
		SC("250 ok\r\n250 ok\r\n354 go\r\n"),
		CS(".\r\n"),
		SC("250 empty\r\n"),
		CS("MAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nDATA\r\n"),
		SC("250 ok\r\n250 ok\r\n354 go\r\n"),
		CS("..\r\n...x\r\n\r\n.\r.\r\nend.\r\n"),
		CS(".\r\n"),
		SC("250 ok\r\n"),
	};
	(void)state;
	check(CHUNKS(c),
	      "note DETECTED smtp pkt=1\n"
	      "begin #1 smtp to_server pkt=3\n"
	      "field #1 MAIL_FROM=\n"
	      "reply #1 MAIL 250 \n"
	      "field #1 RCPT_TO=b@y\n"
	      "reply #1 RCPT 250 \n"
	      "reply #1 DATA 354 go\n"
	      "end #1 pkt=4\n"
	      "reply #1 EOD 250 empty\n"
	      "done #1\n"
	      "begin #2 smtp to_server pkt=7\n"
	      "field #2 MAIL_FROM=a@x\n"
	      "reply #2 MAIL 250 \n"
	      "field #2 RCPT_TO=b@y\n"
	      "reply #2 RCPT 250 \n"
	      "reply #2 DATA 354 go\n"
	      "data #2 \".\\r\\n..x\\r\\n\\r\\n\\r.\\r\\nend.\\r\\n\"\n"
	      "end #2 pkt=9\n"
	      "reply #2 EOD 250 ok\n"
	      "done #2\n");
}

/* RFC 3030: BDAT chunks are binary (CRLF.CRLF inside is data), several per
 * message, no reply needed between them; BDAT 0 LAST ends a message. */
static void test_bdat(void **state)
{
	static const struct conv_chunk c[] = {
		SC("220 mx ESMTP\r\n"),
		CS("EHLO c\r\n"),
		SC("250-mx\r\n250 CHUNKING\r\n"),
		CS("MAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nBDAT 11\r\nA\r\n.\r\n\x00\xff" "B\r\n"),
		CS("bdat 6 last\r\nQUIT\r\n"),
		SC("250 ok\r\n250 ok\r\n250 11 octets\r\n250 2.0.0 queued\r\n"),
		CS("MAIL FROM:<c@x>\r\nRCPT TO:<d@y>\r\nBDAT 3\r\nxyzBDAT 0 LAST\r\nQUIT\r\n"),
		SC("250 ok\r\n250 ok\r\n250 3\r\n250 queued\r\n221 bye\r\n"),
	};
	(void)state;
	check(CHUNKS(c),
	      "note DETECTED smtp pkt=1\n"
	      "begin #1 smtp to_server pkt=4\n"
	      "field #1 HELO=c\n"
	      "field #1 MAIL_FROM=a@x\n"
	      "field #1 RCPT_TO=b@y\n"
	      "data #1 \"A\\r\\n.\\r\\n\\x00\\xffB\\r\\nQUIT\\r\\n\"\n"
	      "end #1 pkt=5\n"
	      "reply #1 MAIL 250 ok\n"
	      "reply #1 RCPT 250 ok\n"
	      "reply #1 BDAT 250 11 octets\n"
	      "reply #1 EOD 250 2.0.0 queued\n"
	      "done #1\n"
	      "begin #2 smtp to_server pkt=7\n"
	      "field #2 HELO=c\n"
	      "field #2 MAIL_FROM=c@x\n"
	      "field #2 RCPT_TO=d@y\n"
	      "data #2 \"xyz\"\n"
	      "end #2 pkt=7\n"
	      "reply #2 MAIL 250 ok\n"
	      "reply #2 RCPT 250 ok\n"
	      "reply #2 BDAT 250 3\n"
	      "reply #2 EOD 250 queued\n"
	      "done #2\n");
}

/* A BDAT chunk refused before LAST aborts the message; RSET then. */
static void test_bdat_rejected(void **state)
{
	static const struct conv_chunk c[] = {
		SC("220 mx ESMTP\r\n"),
		CS("MAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nBDAT 3\r\nabc"),
		SC("250 ok\r\n250 ok\r\n552 too big\r\n"),
		CS("RSET\r\n"),
		SC("250 ok\r\n"),
	};
	(void)state;
	check(CHUNKS(c),
	      "note DETECTED smtp pkt=1\n"
	      "begin #1 smtp to_server pkt=2\n"
	      "field #1 MAIL_FROM=a@x\n"
	      "field #1 RCPT_TO=b@y\n"
	      "reply #1 MAIL 250 ok\n"
	      "reply #1 RCPT 250 ok\n"
	      "reply #1 BDAT 552 too big\n"
	      "data #1 \"abc\"\n"
	      "abort #1 rejected\n");
}

/* Chunk sizes are attacker-controlled: no overflow, no framing guess. */
static void test_bdat_bad_size(void **state)
{
	static const struct conv_chunk c[] = {
		SC("220 mx ESMTP\r\n"),
		CS("MAIL FROM:<a@x>\r\nBDAT 99999999999999999999999\r\nBDAT -1\r\nBDAT 1 LASTX\r\n"),
		SC("250 ok\r\n501 bad\r\n501 bad\r\n501 bad\r\n"),
	};
	(void)state;
	check(CHUNKS(c),
	      "note DETECTED smtp pkt=1\n"
	      "anomaly smtp.bdat_bad_size\n"
	      "anomaly smtp.bdat_bad_size\n"
	      "anomaly smtp.bdat_bad_size\n");
}

/* RSET after a BDAT chunk (before LAST) aborts the message. */
static void test_bdat_rset(void **state)
{
	static const struct conv_chunk c[] = {
		SC("220 mx ESMTP\r\n"),
		CS("MAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nBDAT 2\r\nabRSET\r\n"),
		SC("250 ok\r\n250 ok\r\n250 2\r\n250 reset\r\n"),
	};
	(void)state;
	check(CHUNKS(c),
	      "note DETECTED smtp pkt=1\n"
	      "begin #1 smtp to_server pkt=2\n"
	      "field #1 MAIL_FROM=a@x\n"
	      "field #1 RCPT_TO=b@y\n"
	      "data #1 \"ab\"\n"
	      "abort #1 rset\n");
}

#define PASSWORD_B64_PLAIN "AGFsaWNlAHMzY3JldFB3"	/* \0alice\0s3cretPw */
#define PASSWORD_B64_LOGIN "czNjcmV0UHc="		/* s3cretPw */

static void no_password(const char *t)
{
	assert_false(str_has(t, "s3cret"));
	assert_false(str_has(t, "czNjcmV0UHc"));
	assert_false(str_has(t, "HMzY3JldFB3"));
}

/* AUTH PLAIN with an initial response; AUTH LOGIN without; a failed AUTH
 * does not count.  The user name is a field of later messages; the
 * password is nowhere in the transcript. */
static void test_auth(void **state)
{
	static const struct conv_chunk c[] = {
		SC("220 mx ESMTP\r\n"),
		CS("EHLO c\r\n"),
		SC("250-mx\r\n250 AUTH PLAIN LOGIN\r\n"),
		CS("AUTH LOGIN\r\n"),
		SC("334 VXNlcm5hbWU6\r\n"),
		CS("bWFsbG9yeQ==\r\n"),			/* mallory */
		SC("334 UGFzc3dvcmQ6\r\n"),
		CS(PASSWORD_B64_LOGIN "\r\n"),
		SC("535 5.7.8 failed\r\n"),
		CS("AUTH PLAIN " PASSWORD_B64_PLAIN "\r\n"),
		SC("235 2.7.0 ok\r\n"),
		CS("MAIL FROM:<alice@x>\r\nRCPT TO:<b@y>\r\nDATA\r\n"),
		SC("250 ok\r\n250 ok\r\n354 go\r\n"),
		CS("x\r\n.\r\n"),
		SC("250 ok\r\n"),
	};
	struct conv cv = { CHUNKS(c), 587, NULL };
	(void)state;
	char *t = conv_check(&cv, NULL);
	assert_true(str_has(t, "field #1 AUTH_USER=alice\n"));
	assert_false(str_has(t, "mallory"));
	no_password(t);
	free(t);
}

/* AUTH PLAIN answered after a 334; AUTH LOGIN with the user as initial
 * response. */
static void test_auth_after_334(void **state)
{
	static const struct conv_chunk c1[] = {
		SC("220 mx ESMTP\r\n"),
		CS("auth plain\r\n"),
		SC("334 \r\n"),
		CS(PASSWORD_B64_PLAIN "\r\n"),
		SC("235 ok\r\n"),
		CS("MAIL FROM:<a@x>\r\nBDAT 1 LAST\r\nz"),
		SC("250 ok\r\n250 ok\r\n"),
	};
	static const struct conv_chunk c2[] = {
		SC("220 mx ESMTP\r\n"),
		CS("AUTH LOGIN Ym9i\r\n"),		/* bob */
		SC("334 UGFzc3dvcmQ6\r\n"),
		CS(PASSWORD_B64_LOGIN "\r\n"),
		SC("235 ok\r\n"),
		CS("MAIL FROM:<a@x>\r\nBDAT 1 LAST\r\nz"),
		SC("250 ok\r\n250 ok\r\n"),
	};
	struct conv cv1 = { CHUNKS(c1), 25, NULL }, cv2 = { CHUNKS(c2), 25, NULL };
	(void)state;
	char *t = conv_check(&cv1, NULL);
	assert_true(str_has(t, "field #1 AUTH_USER=alice\n"));
	no_password(t);
	free(t);
	t = conv_check(&cv2, NULL);
	assert_true(str_has(t, "field #1 AUTH_USER=bob\n"));
	no_password(t);
	free(t);
}

/* STARTTLS: after the server's 220 nothing is parsed, in either direction,
 * once the client's next byte starts a TLS record (decided there). */
static void test_starttls(void **state)
{
	static const struct conv_chunk c[] = {
		SC("220 mx ESMTP\r\n"),
		CS("EHLO c\r\n"),
		SC("250-mx\r\n250 STARTTLS\r\n"),
		CS("STARTTLS\r\n\x16\x03\x01\x02\x00\x01"),
		SC("220 2.0.0 Ready to start TLS\r\n\x16\x03\x03\x00\x5a"),
		CS("MAIL FROM:<hidden@x>\r\n"),
	};
	(void)state;
	check(CHUNKS(c),
	      "note DETECTED smtp pkt=1\n"
	      "note TLS smtp pkt=4\n");
}

/* STARTTLS accepted, then the session goes on in cleartext (a server that
 * ignores its own 220, or decrypted TLS written back, as in Arkime's
 * smtp-decrypted.pcap): still parsed, with the anomaly, so announcing
 * STARTTLS cannot hide a message.  The envelope starts afresh. */
static void test_starttls_cleartext(void **state)
{
	static const struct conv_chunk c[] = {
		SC("220 mx ESMTP\r\n"),
		CS("EHLO c\r\n"),
		SC("250-mx\r\n250 STARTTLS\r\n"),
		CS("STARTTLS\r\n"),
		SC("220 2.0.0 Ready to start TLS\r\n"),
		CS("EHLO c2\r\nMAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nDATA\r\n"),
		SC("250 mx\r\n250 ok\r\n250 ok\r\n354 go\r\n"),
		CS("Subject: after starttls\r\n\r\nhi\r\n.\r\n"),
		SC("250 queued\r\n"),
	};
	(void)state;
	check(CHUNKS(c),
	      "note DETECTED smtp pkt=1\n"
	      "anomaly smtp.starttls_cleartext\n"
	      "begin #1 smtp to_server pkt=7\n"
	      "field #1 HELO=c2\n"
	      "field #1 MAIL_FROM=a@x\n"
	      "reply #1 MAIL 250 \n"
	      "field #1 RCPT_TO=b@y\n"
	      "reply #1 RCPT 250 \n"
	      "reply #1 DATA 354 go\n"
	      "data #1 \"Subject: after starttls\\r\\n\\r\\nhi\\r\\n\"\n"
	      "end #1 pkt=8\n"
	      "reply #1 EOD 250 queued\n"
	      "done #1\n");
}

/* The server's TLS bytes after its 220 arrive before the client's: they
 * wait for the client's byte, which says TLS. */
static void test_starttls_server_first(void **state)
{
	static const struct conv_chunk c[] = {
		SC("220 mx ESMTP\r\n"),
		CS("STARTTLS\r\n"),
		SC("220 go ahead\r\n\x16\x03\x03\x00\x5a"),
		CS("\x16\x03\x01\x02\x00\x01MAIL FROM:<hidden@x>\r\n"),
		SC("250 hidden\r\n"),
	};
	(void)state;
	check(CHUNKS(c),
	      "note DETECTED smtp pkt=1\n"
	      "note TLS smtp pkt=4\n");
}

/* STARTTLS refused: the session goes on in the clear. */
static void test_starttls_refused(void **state)
{
	static const struct conv_chunk c[] = {
		SC("220 mx ESMTP\r\n"),
		CS("STARTTLS\r\n"),
		SC("454 TLS not available\r\n"),
		CS("MAIL FROM:<a@x>\r\nBDAT 2 LAST\r\nok"),
		SC("250 ok\r\n250 ok\r\n"),
	};
	(void)state;
	check(CHUNKS(c),
	      "note DETECTED smtp pkt=1\n"
	      "begin #1 smtp to_server pkt=4\n"
	      "field #1 MAIL_FROM=a@x\n"
	      "data #1 \"ok\"\n"
	      "end #1 pkt=4\n"
	      "reply #1 MAIL 250 ok\n"
	      "reply #1 EOD 250 ok\n"
	      "done #1\n");
}

/* Lower-case commands, odd spacing, unknown verbs, a line over max_line
 * (skipped to its LF, its reply still matched), bare LF line ends. */
static void test_sloppy_commands(void **state)
{
	static char longline[5000 + 3];
	static struct conv_chunk c[] = {
		SC("220 mx ESMTP\r\n"),
		CS("ehlo c\r\nxyzzy\r\n"),
		SC("250 mx\r\n500 unknown\r\n"),
		{ SL_TO_SERVER, longline, sizeof(longline) - 1 },
		SC("500 line too long\r\n"),
		CS("mail from: <a@x>\nrcpt to:b@y\r\ndata\r\n"),
		SC("250 ok\r\n250 ok\r\n354 go\r\n"),
		CS("hi\r\n.\r\n"),
		SC("250 ok\r\n"),
	};
	(void)state;
	memset(longline, 'A', sizeof(longline) - 3);
	memcpy(longline + sizeof(longline) - 3, "\r\n", 2);
	check(CHUNKS(c),
	      "note DETECTED smtp pkt=1\n"
	      "anomaly smtp.unknown_command\n"
	      "anomaly mail.line_too_long (to_server)\n"
	      "anomaly mail.bare_lf (to_server)\n"
	      "anomaly smtp.bad_syntax (FROM:)\n"
	      "anomaly smtp.bad_syntax (TO:)\n"
	      "begin #1 smtp to_server pkt=7\n"
	      "field #1 HELO=c\n"
	      "field #1 MAIL_FROM=a@x\n"
	      "reply #1 MAIL 250 \n"
	      "field #1 RCPT_TO=b@y\n"
	      "reply #1 RCPT 250 \n"
	      "reply #1 DATA 354 go\n"
	      "data #1 \"hi\\r\\n\"\n"
	      "end #1 pkt=8\n"
	      "reply #1 EOD 250 ok\n"
	      "done #1\n");
}

/* SMTP smuggling: LF.CRLF and CRLF.LF end the message for some receivers
 * (Postfix, Sendmail): so they do here, with an anomaly that blocks by
 * default; what follows is parsed as commands, as such a receiver would. */
static void test_bare_lf_terminator(void **state)
{
	static const struct conv_chunk c[] = {
		SC("220 mx ESMTP\r\n"),
		CS("MAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nDATA\r\n"),
		SC("250 ok\r\n250 ok\r\n354 go\r\n"),
		CS("a\n.\r\nMAIL FROM:<evil@x>\r\nRCPT TO:<b@y>\r\nDATA\r\n"),
		SC("250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n"),
		CS("smuggled\r\n.\n"),
		SC("250 ok\r\n"),
	};
	(void)state;
	check(CHUNKS(c),
	      "note DETECTED smtp pkt=1\n"
	      "begin #1 smtp to_server pkt=3\n"
	      "field #1 MAIL_FROM=a@x\n"
	      "reply #1 MAIL 250 \n"
	      "field #1 RCPT_TO=b@y\n"
	      "reply #1 RCPT 250 \n"
	      "reply #1 DATA 354 go\n"
	      "anomaly #1 smtp.bare_lf_terminator\n"
	      "data #1 \"a\\n\"\n"
	      "end #1 pkt=4\n"
	      "reply #1 EOD 250 ok\n"
	      "done #1\n"
	      "begin #2 smtp to_server pkt=5\n"
	      "field #2 MAIL_FROM=evil@x\n"
	      "reply #2 MAIL 250 \n"
	      "field #2 RCPT_TO=b@y\n"
	      "reply #2 RCPT 250 \n"
	      "reply #2 DATA 354 go\n"
	      "anomaly #2 smtp.bare_lf_terminator\n"
	      "data #2 \"smuggled\\r\\n\"\n"
	      "end #2 pkt=6\n"
	      "reply #2 EOD 250 ok\n"
	      "done #2\n");
}

/* A multi-line 354 and a multi-line final reply. */
static void test_multiline_replies(void **state)
{
	static const struct conv_chunk c[] = {
		SC("220-mx ESMTP\r\n220-second line\r\n220 ready\r\n"),
		CS("MAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nDATA\r\n"),
		SC("250-ok\r\n250 ok\r\n250 ok\r\n354-go\r\n354 on\r\n"),
		CS("x\r\n.\r\n"),
		SC("250-queued\r\n250 as 77\r\n"),
	};
	(void)state;
	check(CHUNKS(c),
	      "note DETECTED smtp pkt=1\n"
	      "begin #1 smtp to_server pkt=3\n"
	      "field #1 MAIL_FROM=a@x\n"
	      "reply #1 MAIL 250 \n"
	      "field #1 RCPT_TO=b@y\n"
	      "reply #1 RCPT 250 \n"
	      "reply #1 DATA 354 on\n"
	      "data #1 \"x\\r\\n\"\n"
	      "end #1 pkt=4\n"
	      "reply #1 EOD 250 as 77\n"
	      "done #1\n");
}

/* max_message: the message is framed to its end, inspected only up to
 * the limit, flagged. */
static void test_max_message(void **state)
{
	static const struct conv_chunk c[] = {
		SC("220 mx ESMTP\r\n"),
		CS("MAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nDATA\r\n"),
		SC("250 ok\r\n250 ok\r\n354 go\r\n"),
		CS("0123456789\r\nabcdefghij\r\n.\r\n"),
		SC("250 ok\r\n"),
		CS("MAIL FROM:<a@x>\r\nBDAT 20 LAST\r\n0123456789abcdefghij"),
		SC("250 ok\r\n250 ok\r\n"),
	};
	struct sl_app_config cfg;
	sl_app_config_default(&cfg);
	cfg.max_message = 15;
	struct conv cv = { CHUNKS(c), 25, &cfg };
	(void)state;
	free(conv_check(&cv,
	      "note DETECTED smtp pkt=1\n"
	      "begin #1 smtp to_server pkt=3\n"
	      "field #1 MAIL_FROM=a@x\n"
	      "reply #1 MAIL 250 \n"
	      "field #1 RCPT_TO=b@y\n"
	      "reply #1 RCPT 250 \n"
	      "reply #1 DATA 354 go\n"
	      "anomaly #1 mail.message_too_big\n"
	      "data #1 \"0123456789\\r\\nabc\"\n"
	      "end #1 pkt=4\n"
	      "reply #1 EOD 250 ok\n"
	      "done #1\n"
	      "begin #2 smtp to_server pkt=6\n"
	      "field #2 MAIL_FROM=a@x\n"
	      "anomaly #2 mail.message_too_big\n"
	      "data #2 \"0123456789abcde\"\n"
	      "end #2 pkt=6\n"
	      "reply #2 MAIL 250 ok\n"
	      "reply #2 EOD 250 ok\n"
	      "done #2\n"));
}

/* A client that sends its body right behind DATA (no wait for 354): the
 * body waits for the server's answer; a refusal makes it commands. */
static void test_body_before_354(void **state)
{
	static const struct conv_chunk c[] = {
		SC("220 mx ESMTP\r\n"),
		CS("MAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nDATA\r\nbody\r\n.\r\n"),
		SC("250 ok\r\n250 ok\r\n354 go\r\n250 ok\r\n"),
		CS("MAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nDATA\r\nNOOP\r\n"),
		SC("250 ok\r\n550 no\r\n554 no recipients\r\n250 noop\r\n"),
	};
	(void)state;
	check(CHUNKS(c),
	      "note DETECTED smtp pkt=1\n"
	      "begin #1 smtp to_server pkt=3\n"
	      "field #1 MAIL_FROM=a@x\n"
	      "reply #1 MAIL 250 \n"
	      "field #1 RCPT_TO=b@y\n"
	      "reply #1 RCPT 250 \n"
	      "reply #1 DATA 354 go\n"
	      "data #1 \"body\\r\\n\"\n"
	      "end #1 pkt=2\n"
	      "reply #1 EOD 250 ok\n"
	      "done #1\n"
	      "begin #2 smtp to_server pkt=5\n"
	      "field #2 MAIL_FROM=a@x\n"
	      "reply #2 MAIL 250 \n"
	      "field #2 RCPT_TO=b@y\n"
	      "reply #2 RCPT 550 \n"
	      "reply #2 DATA 554 no recipients\n"
	      "abort #2 rejected\n");
}

/* A client that never gets its 354 (server silent) is inspected anyway
 * when its direction ends. */
static void test_eof_decides(void **state)
{
	static const struct conv_chunk c[] = {
		SC("220 mx ESMTP\r\n"),
		CS("MAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nDATA\r\nsecret\r\n.\r\n"),
	};
	(void)state;
	check(CHUNKS(c),
	      "note DETECTED smtp pkt=1\n"
	      "begin #1 smtp to_server pkt=0\n"
	      "field #1 MAIL_FROM=a@x\n"
	      "field #1 RCPT_TO=b@y\n"
	      "data #1 \"secret\\r\\n\"\n"
	      "end #1 pkt=0\n"
	      "done #1\n");
}

/* 64 KiB held for a 354 that does not come: the parser stops waiting and
 * inspects the bytes as the message they claim to be. */
static void test_wait_bound(void **state)
{
	static char big[70 * 1024];
	static struct conv_chunk c[] = {
		SC("220 mx ESMTP\r\n"),
		CS("MAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nDATA\r\n"),
		{ SL_TO_SERVER, big, sizeof(big) },
		SC("250 ok\r\n250 ok\r\n"),
	};
	struct conv cv = { CHUNKS(c), 25, NULL };
	(void)state;
	memset(big, 'x', sizeof(big));
	memcpy(big + sizeof(big) - 7, "\r\n.\r\n", 5);
	char *t = conv_run(&cv, CONV_WHOLE, 0, 0);
	for (size_t seed = 1; seed <= 2; seed++) {
		char *r = conv_run(&cv, CONV_RANDOM, 0, seed);
		assert_string_equal(t, r);
		free(r);
	}
	assert_true(str_has(t, "anomaly mail.wait_bound (to_server)\nbegin #1 smtp to_server pkt=3\n"));
	assert_true(str_has(t, "end #1 pkt=3\n"));
	free(t);
}

/* The client's FIN comes before the server's 354: its last slice decides,
 * the body is inspected, the replies still match. */
static void test_fin_before_354(void **state)
{
	static const struct conv_chunk c[] = {
		SC("220 mx ESMTP\r\n"),
		CS("MAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nDATA\r\nbody\r\n.\r\nQUIT\r\n"),
		FIN(SL_TO_SERVER),
		SC("250 ok\r\n250 ok\r\n354 go\r\n250 queued\r\n221 bye\r\n"),
	};
	(void)state;
	check(CHUNKS(c),
	      "note DETECTED smtp pkt=1\n"
	      "begin #1 smtp to_server pkt=2\n"
	      "field #1 MAIL_FROM=a@x\n"
	      "field #1 RCPT_TO=b@y\n"
	      "data #1 \"body\\r\\n\"\n"
	      "end #1 pkt=2\n"
	      "reply #1 MAIL 250 ok\n"
	      "reply #1 RCPT 250 ok\n"
	      "reply #1 DATA 354 go\n"
	      "reply #1 EOD 250 queued\n"
	      "done #1\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basic),
		cmocka_unit_test(test_pipelined),
		cmocka_unit_test(test_rejected_data),
		cmocka_unit_test(test_rset_two_messages),
		cmocka_unit_test(test_dot_stuffing),
		cmocka_unit_test(test_bdat),
		cmocka_unit_test(test_bdat_rejected),
		cmocka_unit_test(test_bdat_bad_size),
		cmocka_unit_test(test_bdat_rset),
		cmocka_unit_test(test_auth),
		cmocka_unit_test(test_auth_after_334),
		cmocka_unit_test(test_starttls),
		cmocka_unit_test(test_starttls_cleartext),
		cmocka_unit_test(test_starttls_server_first),
		cmocka_unit_test(test_starttls_refused),
		cmocka_unit_test(test_sloppy_commands),
		cmocka_unit_test(test_bare_lf_terminator),
		cmocka_unit_test(test_multiline_replies),
		cmocka_unit_test(test_max_message),
		cmocka_unit_test(test_body_before_354),
		cmocka_unit_test(test_eof_decides),
		cmocka_unit_test(test_wait_bound),
		cmocka_unit_test(test_fin_before_354),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
