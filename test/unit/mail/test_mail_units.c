/* The shared pieces (line framer, dot-unstuffing, inflate transport),
 * detection, and gaps. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include <cmocka.h>

#include "dotstuff.h"
#include "harness.h"
#include "inflate.h"
#include "line.h"

/* ---- line framer ---- */

static void test_line(void **state)
{
	struct sl_liner l = { 0 };
	struct sl_line ln;
	const char *in = "EHLO x\r\nNOOP\nPART";
	(void)state;

	assert_int_equal(sl_line_next(&l, (const uint8_t *)in, strlen(in), 64, &ln), SL_LINE_OK);
	assert_int_equal(ln.len, 6);
	assert_int_equal(ln.used, 8);
	assert_false(ln.bare_lf);
	in += ln.used;
	assert_int_equal(sl_line_next(&l, (const uint8_t *)in, strlen(in), 64, &ln), SL_LINE_OK);
	assert_int_equal(ln.len, 4);
	assert_true(ln.bare_lf);
	in += ln.used;
	assert_int_equal(sl_line_next(&l, (const uint8_t *)in, strlen(in), 64, &ln), SL_LINE_MORE);
	assert_int_equal(ln.used, 0);
}

/* A too-long line: its head, then skipping in pieces that keep a tail,
 * then the tail when the LF comes. */
static void test_line_long(void **state)
{
	struct sl_liner l = { 0 };
	struct sl_line ln;
	char big[300];
	(void)state;

	memset(big, 'a', sizeof(big));
	memcpy(big + 280, "tail {12}\r\nnext\r\n", 17);
	assert_int_equal(sl_line_next(&l, (const uint8_t *)big, 100, 64, &ln), SL_LINE_LONG);
	assert_int_equal(ln.len, 64);
	assert_int_equal(ln.used, 0);
	assert_int_equal(sl_line_next(&l, (const uint8_t *)big, 100, 64, &ln), SL_LINE_MORE);
	assert_int_equal(ln.used, 100 - SL_LINE_TAIL);
	size_t off = ln.used;
	assert_int_equal(sl_line_next(&l, (const uint8_t *)big + off, 297 - off, 64, &ln),
			 SL_LINE_SKIPPED);
	assert_int_equal(ln.len, SL_LINE_TAIL - 1);	/* without its CR */
	assert_memory_equal(ln.p + ln.len - 9, "tail {12}", 9);
	off += ln.used;
	assert_int_equal(sl_line_next(&l, (const uint8_t *)big + off, 297 - off, 64, &ln),
			 SL_LINE_OK);
	assert_memory_equal(ln.p, "next", 4);
}

/* ---- dot-unstuffing ---- */

struct sink {
	char b[256];
	size_t n;
};

static void sink_emit(void *u, const uint8_t *p, size_t n)
{
	struct sink *s = u;

	assert_true(s->n + n <= sizeof(s->b));
	memcpy(s->b + s->n, p, n);
	s->n += n;
}

/* Whole or one byte at a time (with the stream's retention), the same
 * content and the same end; at most ".\r" is ever left unconsumed. */
static void test_dotstuff(void **state)
{
	static const char in[] = "a\r\n..b\r\n.\rc\r\n\r\n.\r\nAFTER";
	static const char want[] = "a\r\n.b\r\n\rc\r\n\r\n";
	(void)state;

	for (int mode = 0; mode < 2; mode++) {
		struct sl_dot d;
		struct sink s = { .n = 0 };
		size_t have = 0, pos = 0;
		bool end = false;
		sl_dot_init(&d);
		while (!end) {
			have = mode ? have + 1 : sizeof(in) - 1;
			size_t u = sl_dot_feed(&d, (const uint8_t *)in + pos, have - pos, sink_emit,
					       &s, &end);
			assert_true(have - pos - u <= 2 || end);
			pos += u;
		}
		assert_int_equal(pos, sizeof(in) - 1 - 5);
		assert_int_equal(s.n, sizeof(want) - 1);
		assert_memory_equal(s.b, want, s.n);
		assert_int_equal(d.ambiguous, 0);
	}
}

/* The end-of-data variants with a bare LF end the message too, counted. */
static void test_dotstuff_ambiguous(void **state)
{
	static const struct {
		const char *in, *content;
		size_t used;
		unsigned amb;
	} cases[] = {
		{ "x\n.\r\nMORE", "x\n", 5, 1 },
		{ "y\r\n.\nMORE", "y\r\n", 5, 1 },
		{ "z\n.\nMORE", "z\n", 4, 1 },
		{ "w\r\n.\r\nMORE", "w\r\n", 6, 0 },
	};
	(void)state;

	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sl_dot d;
		struct sink s = { .n = 0 };
		bool end;
		sl_dot_init(&d);
		size_t u = sl_dot_feed(&d, (const uint8_t *)cases[i].in, strlen(cases[i].in),
				       sink_emit, &s, &end);
		assert_true(end);
		assert_int_equal(u, cases[i].used);
		assert_int_equal(d.ambiguous, cases[i].amb);
		assert_int_equal(s.n, strlen(cases[i].content));
		assert_memory_equal(s.b, cases[i].content, s.n);
	}
}

/* ---- inflate transport ---- */

struct lines {
	char b[4096];
	size_t n;
	unsigned calls;
};

/* A consumer that takes whole lines only, like the parsers. */
static struct sl_consume take_lines(void *u, const struct sl_slice *s)
{
	struct lines *l = u;
	const uint8_t *lf = s->len ? memrchr(s->data, '\n', s->len) : NULL;
	size_t k = lf ? (size_t)(lf - s->data) + 1 : 0;

	l->calls++;
	assert_true(l->n + k <= sizeof(l->b));
	memcpy(l->b + l->n, s->data, k);
	l->n += k;
	return (struct sl_consume){ SL_CONSUME_OK, k };
}

static void test_inflate(void **state)
{
	static const char text[] = "* 1 FETCH (BODY[] {3}\r\nabc)\r\nt OK done\r\n";
	uint8_t z[256];
	z_stream zs = { 0 };
	(void)state;

	assert_int_equal(deflateInit2(&zs, 9, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY), Z_OK);
	zs.next_in = (Bytef *)(uintptr_t)text;
	zs.avail_in = sizeof(text) - 1;
	zs.next_out = z;
	zs.avail_out = sizeof(z);
	assert_int_equal(deflate(&zs, Z_SYNC_FLUSH), Z_OK);
	size_t zn = sizeof(z) - zs.avail_out;
	deflateEnd(&zs);

	/* Every split of the compressed bytes, with the stream's retention. */
	for (size_t cut = 0; cut <= zn; cut++) {
		struct sl_inflate *inf = sl_inflate_new(64);
		struct lines l = { .n = 0 };
		uint8_t buf[256];
		size_t have = 0, fed = 0;
		int err;
		assert_non_null(inf);
		for (int step = 0; step < 2; step++) {
			size_t upto = step == 0 ? cut : zn;
			memcpy(buf + have, z + fed, upto - fed);
			have += upto - fed;
			fed = upto;
			struct sl_slice s = { .data = buf, .len = have, .dir = SL_TO_CLIENT };
			struct sl_consume r = sl_inflate_consume(inf, &s, take_lines, &l, &err);
			assert_int_equal(err, 0);
			assert_int_equal(r.status, SL_CONSUME_OK);
			memmove(buf, buf + r.consumed, have - r.consumed);
			have -= r.consumed;
		}
		assert_int_equal(l.n, sizeof(text) - 1);
		assert_memory_equal(l.b, text, l.n);
		assert_int_equal(sl_inflate_total(inf), sizeof(text) - 1);
		sl_inflate_free(inf);
	}
}

/* Inflated bytes the consumer leaves are kept, and one compressed byte is
 * held back so the stream offers the direction again. */
static void test_inflate_holdback(void **state)
{
	static const char text[] = "partial line without end";
	uint8_t z[128];
	z_stream zs = { 0 };
	struct lines l = { .n = 0 };
	int err;
	(void)state;

	deflateInit2(&zs, 9, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY);
	zs.next_in = (Bytef *)(uintptr_t)text;
	zs.avail_in = sizeof(text) - 1;
	zs.next_out = z;
	zs.avail_out = sizeof(z);
	deflate(&zs, Z_SYNC_FLUSH);
	size_t zn = sizeof(z) - zs.avail_out;
	deflateEnd(&zs);

	struct sl_inflate *inf = sl_inflate_new(64);
	struct sl_slice s = { .data = z, .len = zn, .dir = SL_TO_SERVER };
	struct sl_consume r = sl_inflate_consume(inf, &s, take_lines, &l, &err);
	assert_int_equal(r.consumed, zn - 1);
	/* Offered again (the held byte): still nothing to take, still held. */
	s.data = z + zn - 1;
	s.len = 1;
	r = sl_inflate_consume(inf, &s, take_lines, &l, &err);
	assert_int_equal(r.consumed, 0);
	assert_int_equal(l.n, 0);
	/* Garbage: an error, not a crash. */
	static const uint8_t junk[] = { 0xff, 0xff, 0xff, 0xff };
	struct sl_inflate *bad = sl_inflate_new(64);
	s.data = junk;
	s.len = sizeof(junk);
	r = sl_inflate_consume(bad, &s, take_lines, &l, &err);
	assert_int_equal(err, 1);
	assert_int_equal(r.status, SL_CONSUME_STOP);
	sl_inflate_free(bad);
	sl_inflate_free(inf);
}

/* ---- detection ---- */

static char *run(const struct conv_chunk *c, size_t n, uint16_t port,
		 const struct sl_app_config *cfg)
{
	struct conv cv = { c, n, port, cfg };

	return conv_check(&cv, NULL);
}

static void expect(char *t, const char *want)
{
	if (strcmp(t, want)) {
		fprintf(stderr, "want:\n%sgot:\n%s", want, t);
		fail();
	}
	free(t);
}

static void test_ports(void **state)
{
	struct sl_app_config c;
	bool tls;
	(void)state;

	sl_app_config_default(&c);
	assert_int_equal(sl_app_port_proto(&c, 25, &tls), SL_PROTO_SMTP);
	assert_false(tls);
	assert_int_equal(sl_app_port_proto(&c, 587, &tls), SL_PROTO_SMTP);
	assert_int_equal(sl_app_port_proto(&c, 2525, &tls), SL_PROTO_SMTP);
	assert_int_equal(sl_app_port_proto(&c, 143, &tls), SL_PROTO_IMAP);
	assert_int_equal(sl_app_port_proto(&c, 110, &tls), SL_PROTO_POP3);
	assert_int_equal(sl_app_port_proto(&c, 80, &tls), SL_PROTO_UNKNOWN);
	assert_int_equal(sl_app_port_proto(&c, 993, &tls), SL_PROTO_IMAP);
	assert_true(tls);
	assert_int_equal(sl_app_port_proto(&c, 465, &tls), SL_PROTO_SMTP);
	assert_true(tls);
	assert_int_equal(sl_app_port_proto(&c, 995, &tls), SL_PROTO_POP3);
	assert_true(tls);
	/* Configurable: IMAP on 1143 too. */
	c.imap_ports[1] = 1143;
	assert_int_equal(sl_app_port_proto(&c, 1143, &tls), SL_PROTO_IMAP);
	assert_false(tls);
}

static void test_implicit_tls(void **state)
{
	static const struct conv_chunk c[] = {
		CS("\x16\x03\x01\x00\x10hello"),
		SC("\x16\x03\x03\x00\x10hello"),
	};
	(void)state;
	expect(run(CHUNKS(c), 993, NULL), "note TLS imap pkt=1\n");
	expect(run(CHUNKS(c), 465, NULL), "note TLS smtp pkt=1\n");
	expect(run(CHUNKS(c), 995, NULL), "note TLS pop3 pkt=1\n");
}

/* Mail on a port nobody configured, found by its greeting; off when
 * detect_by_content is off. */
static void test_content_detection(void **state)
{
	static const struct conv_chunk smtp[] = {
		SC("220 mx ESMTP\r\n"),
		CS("MAIL FROM:<a@x>\r\nBDAT 1 LAST\r\nq"),
		SC("250 ok\r\n250 ok\r\n"),
	};
	static const struct conv_chunk pop3[] = {
		SC("+OK ready\r\n"),
		CS("RETR 1\r\n"),
		SC("+OK\r\nm\r\n.\r\n"),
	};
	struct sl_app_config off;
	(void)state;
	char *t = run(CHUNKS(smtp), 2526, NULL);
	assert_true(str_has(t, "note DETECTED smtp pkt=1\nbegin #1 smtp to_server pkt=2\n"));
	free(t);
	t = run(CHUNKS(pop3), 4000, NULL);
	assert_true(str_has(t, "note DETECTED pop3 pkt=1\nbegin #1 pop3 to_client pkt=3\n"));
	free(t);
	sl_app_config_default(&off);
	off.detect_by_content = false;
	expect(run(CHUNKS(smtp), 2526, &off), "note NOT_MAIL unknown pkt=1\n");
}

/* The greeting wins over the port: IMAP on port 25. */
static void test_greeting_wins(void **state)
{
	static const struct conv_chunk c[] = {
		SC("* OK IMAP4rev1 ready\r\n"),
		CS("a FETCH 1 RFC822\r\n"),
		SC("* 1 FETCH (RFC822 {1}\r\nx)\r\na OK\r\n"),
	};
	(void)state;
	char *t = run(CHUNKS(c), 25, NULL);
	assert_true(str_has(t, "note DETECTED imap pkt=1\n"));
	assert_true(str_has(t, "field #1 IMAP_SECTION=RFC822\n"));
	free(t);
}

/* A client-first protocol.  Elsewhere it is not mail at its first byte
 * (nothing waits for a greeting that will not come); on a mail port the
 * client's bytes wait for the server, whose answer is no greeting: an
 * anomaly too. */
static void test_not_mail(void **state)
{
	static const struct conv_chunk http[] = {
		CS("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
		SC("HTTP/1.1 200 OK\r\n\r\n"),
	};
	(void)state;
	expect(run(CHUNKS(http), 8080, NULL), "note NOT_MAIL unknown pkt=1\n");
	expect(run(CHUNKS(http), 25, NULL),
	       "anomaly mail.not_mail (smtp)\nnote NOT_MAIL unknown pkt=2\n");
}

/* An early talker on a mail port: its commands wait for the greeting,
 * then are parsed. */
static void test_client_first(void **state)
{
	static const struct conv_chunk c[] = {
		CS("EHLO early\r\n"),
		SC("220 mx ESMTP\r\n250 mx\r\n"),
		CS("MAIL FROM:<a@x>\r\nBDAT 1 LAST\r\nq"),
		SC("250 ok\r\n250 ok\r\n"),
	};
	(void)state;
	char *t = run(CHUNKS(c), 25, NULL);
	assert_true(str_has(t, "note DETECTED smtp pkt=2\nanomaly mail.client_first\n"));
	assert_true(str_has(t, "field #1 HELO=early\n"));
	free(t);
}

/* A client that talks 64 KiB without a greeting: on a mail port, its
 * protocol is assumed; elsewhere, not mail. */
static void test_client_first_bound(void **state)
{
	static char big[70 * 1024];
	static struct conv_chunk c[] = { { SL_TO_SERVER, big, sizeof(big) } };
	(void)state;
	memset(big, 'x', sizeof(big));
	char *t = conv_run(&(struct conv){ c, 1, 8080, NULL }, CONV_WHOLE, 0, 0);
	assert_string_equal(t, "note NOT_MAIL unknown pkt=1\n");
	free(t);
	t = conv_run(&(struct conv){ c, 1, 25, NULL }, CONV_WHOLE, 0, 0);
	assert_true(str_has(t, "note DETECTED smtp pkt=1\nanomaly mail.client_first\n"));
	assert_true(str_has(t, "mail.line_too_long"));
	free(t);
}

/* Picked up mid-stream: no greeting to wait for; each side resyncs at its
 * first line end. */
static void test_midstream(void **state)
{
	static const struct conv_chunk c[] = {
		GAP(SL_TO_CLIENT, 100),
		GAP(SL_TO_SERVER, 100),
		CS("TR 3\r\nRETR 4\r\n"),
		SC("ial\r\n+OK\r\nmid\r\n.\r\n"),
	};
	(void)state;
	expect(run(CHUNKS(c), 110, NULL),
	       "note DETECTED pop3 pkt=4\n"
	       "begin #1 pop3 to_client pkt=4\n"
	       "field #1 POP3_COMMAND=RETR 4\n"
	       "data #1 \"mid\\r\\n\"\n"
	       "end #1 pkt=4\n"
	       "done #1\n");
	/* Elsewhere, a mid-stream flow is not probed. */
	expect(run(CHUNKS(c), 8110, NULL), "note NOT_MAIL unknown pkt=3\n");
}

/* ---- gaps ---- */

/* A gap inside a BDAT chunk or an IMAP literal keeps the framing: the
 * message is aborted, the next command/response is parsed. */
static void test_gap_in_chunk(void **state)
{
	static const struct conv_chunk smtp[] = {
		SC("220 mx ESMTP\r\n"),
		CS("MAIL FROM:<a@x>\r\nBDAT 10 LAST\r\nab"),
		GAP(SL_TO_SERVER, 5),
		CS("cde"),
		CS("MAIL FROM:<b@x>\r\nBDAT 2 LAST\r\nok"),
		SC("250 ok\r\n250 ok\r\n250 ok\r\n250 ok\r\n"),
	};
	static const struct conv_chunk imap[] = {
		SC("* OK ready\r\n"),
		CS("a FETCH 1:2 BODY[]\r\n"),
		SC("* 1 FETCH (BODY[] {10}\r\nab"),
		GAP(SL_TO_CLIENT, 5),
		SC("cde)\r\n* 2 FETCH (BODY[] {2}\r\nok)\r\na OK\r\n"),
	};
	(void)state;
	expect(run(CHUNKS(smtp), 25, NULL),
	       "note DETECTED smtp pkt=1\n"
	       "begin #1 smtp to_server pkt=2\n"
	       "field #1 MAIL_FROM=a@x\n"
	       "data #1 \"ab\"\n"
	       "abort #1 gap\n"
	       "begin #2 smtp to_server pkt=5\n"
	       "field #2 MAIL_FROM=b@x\n"
	       "data #2 \"ok\"\n"
	       "end #2 pkt=5\n"
	       "reply #2 MAIL 250 ok\n"
	       "reply #2 EOD 250 ok\n"
	       "done #2\n");
	expect(run(CHUNKS(imap), 143, NULL),
	       "note DETECTED imap pkt=1\n"
	       "begin #1 imap to_client pkt=3\n"
	       "field #1 IMAP_COMMAND=FETCH\n"
	       "field #1 IMAP_SECTION=BODY[]\n"
	       "data #1 \"ab\"\n"
	       "abort #1 gap\n"
	       "begin #2 imap to_client pkt=5\n"
	       "field #2 IMAP_COMMAND=FETCH\n"
	       "field #2 IMAP_SECTION=BODY[]\n"
	       "data #2 \"ok\"\n"
	       "end #2 pkt=5\n"
	       "done #2\n");
}

/* A gap in DATA: the message is lost, the terminator still found. */
static void test_gap_in_data(void **state)
{
	static const struct conv_chunk c[] = {
		SC("220 mx ESMTP\r\n"),
		CS("MAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nDATA\r\n"),
		SC("250 ok\r\n250 ok\r\n354 go\r\n"),
		CS("line one\r\nline"),
		GAP(SL_TO_SERVER, 100),
		CS("lost\r\n.\r\nMAIL FROM:<c@x>\r\n"),
		SC("250 ok\r\n250 ok\r\n"),
	};
	(void)state;
	char *t = run(CHUNKS(c), 25, NULL);
	assert_true(str_has(t, "data #1 \"line one\\r\\nline\"\nabort #1 gap\n"));
	assert_false(str_has(t, "lost"));
	assert_false(str_has(t, "unexpected_reply"));
	free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_line),
		cmocka_unit_test(test_line_long),
		cmocka_unit_test(test_dotstuff),
		cmocka_unit_test(test_dotstuff_ambiguous),
		cmocka_unit_test(test_inflate),
		cmocka_unit_test(test_inflate_holdback),
		cmocka_unit_test(test_ports),
		cmocka_unit_test(test_implicit_tls),
		cmocka_unit_test(test_content_detection),
		cmocka_unit_test(test_greeting_wins),
		cmocka_unit_test(test_not_mail),
		cmocka_unit_test(test_client_first),
		cmocka_unit_test(test_client_first_bound),
		cmocka_unit_test(test_midstream),
		cmocka_unit_test(test_gap_in_chunk),
		cmocka_unit_test(test_gap_in_data),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
