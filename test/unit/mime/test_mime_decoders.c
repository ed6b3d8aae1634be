/* Transfer decoders and header helpers on their own: base64 (both '='
 * semantics, Python parity), quoted-printable (binascii.a2b_qp parity),
 * uuencode, RFC 2231 parameters, charset conversion; each streaming decoder
 * must give the same bytes however its input is cut. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "base64.h"
#include "mime_header.h"
#include "qp.h"
#include "rfc2047.h"
#include "uuencode.h"

/* base64 in STOP mode, fed cut at every position and byte by byte. */
static size_t b64_cut(const char *in, size_t cut, uint8_t *out, uint32_t *flags)
{
	struct sl_b64 s;
	size_t n = strlen(in), o = 0, pos = 0;

	sl_b64_init(&s, SL_B64_STOP);
	while (pos < n) {
		size_t end = cut ? (pos < cut ? cut : n) : pos + 1;
		size_t used = 0;

		if (end > n)
			end = n;
		o += sl_b64_decode(&s, (const uint8_t *)in + pos, end - pos, out + o, &used);
		pos += used;
	}
	o += sl_b64_finish(&s, out + o);
	*flags = s.flags;
	return o;
}

static void b64_expect(const char *in, const char *want, size_t wn, uint32_t want_flags)
{
	uint8_t out[256];
	uint32_t f;
	size_t n = strlen(in);

	for (size_t cut = 0; cut <= n; cut++) {
		size_t o = b64_cut(in, cut, out, &f);

		assert_int_equal(o, wn);
		assert_memory_equal(out, want, wn);
		assert_int_equal(f & want_flags, want_flags);
	}
}

static void base64_python_parity(void **st)
{
	/* outputs of email._encoded_words.decode_b (Python 3.11) */
	b64_expect("QUI=QUJD", "AB", 2, SL_B64_F_DATA_AFTER_PAD);
	b64_expect("QUI=\nQUJD", "AB", 2, SL_B64_F_DATA_AFTER_PAD);
	b64_expect("QQ=A=QUJD", "A\0", 2, SL_B64_F_DATA_AFTER_PAD);
	b64_expect("Q=UJD", "ABC", 3, SL_B64_F_JUNK);
	b64_expect("QUJD!!RE", "ABCD", 4, SL_B64_F_JUNK | SL_B64_F_UNPADDED);
	b64_expect("QUJDRA", "ABCD", 4, SL_B64_F_UNPADDED);
	b64_expect("=QUJD", "ABC", 3, SL_B64_F_JUNK);
	b64_expect("QUJ=D", "AB", 2, SL_B64_F_DATA_AFTER_PAD);
	b64_expect("QU==QUJD", "A", 1, SL_B64_F_DATA_AFTER_PAD);
	b64_expect("QQ=QQQQ=QQ", "A\x04\x10" "A\x04\x10", 6, SL_B64_F_DATA_AFTER_PAD);
	/* Python returns the undecoded text here; clients drop the sextet */
	b64_expect("QUJDR", "ABC", 3, SL_B64_F_DANGLING);
	b64_expect("SGVsbG8sIHdvcmxkIQ==\r\n", "Hello, world!", 13, 0);
}

static void base64_continue_mode(void **st)
{
	struct sl_b64 s;
	uint8_t out[64];
	size_t used, o;

	sl_b64_init(&s, SL_B64_CONTINUE);
	o = sl_b64_decode(&s, (const uint8_t *)"QUI=QUJD", 8, out, &used);
	assert_int_equal(used, 8);
	assert_int_equal(o, 5);
	assert_memory_equal(out, "ABABC", 5);
	/* "xx==" pads once: the second '=' is padding too, not junk, whether
	 * or not data follows; a third one is junk. */
	static const char *const padded[] = { "QQ==", "QQ==\r\n", "QQ==QUJD", "QQ=\r\n=QUJD" };
	for (unsigned i = 0; i < 4; i++) {
		sl_b64_init(&s, SL_B64_CONTINUE);
		o = sl_b64_decode(&s, (const uint8_t *)padded[i], strlen(padded[i]), out, &used);
		assert_int_equal(out[0], 'A');
		assert_int_equal(o, i < 2 ? 1 : 4);
		assert_false(s.flags & SL_B64_F_JUNK);
	}
	sl_b64_init(&s, SL_B64_CONTINUE);
	o = sl_b64_decode(&s, (const uint8_t *)"QQ===", 5, out, &used);
	assert_true(s.flags & SL_B64_F_JUNK);
	sl_b64_init(&s, SL_B64_CONTINUE);
	o = sl_b64_decode(&s, (const uint8_t *)"QUI==", 5, out, &used);
	assert_true(s.flags & SL_B64_F_JUNK);
	/* after data decoded on the wide path, a lone '=' is junk again */
	sl_b64_init(&s, SL_B64_CONTINUE);
	o = sl_b64_decode(&s, (const uint8_t *)"QQ=QUJDQUJD=", 12, out, &used);
	assert_true(s.flags & SL_B64_F_JUNK);
	/* STOP mode returns early at the first data byte after '=' */
	sl_b64_init(&s, SL_B64_STOP);
	o = sl_b64_decode(&s, (const uint8_t *)"QUI=\r\nQUJD", 10, out, &used);
	assert_int_equal(o, 2);
	assert_int_equal(used, 6);
	assert_true(s.flags & SL_B64_F_DATA_AFTER_PAD);
}

static void base64_large_wide_path(void **st)
{
	/* the 8-byte fast path and the slow path agree on long input */
	uint8_t raw[3000], enc[4200], out[3100];
	static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t e = 0;

	for (size_t i = 0; i < sizeof(raw); i++)
		raw[i] = (uint8_t)(i * 7 + (i >> 3));
	for (size_t i = 0; i < sizeof(raw); i += 3) {
		uint32_t v = (uint32_t)raw[i] << 16 | (uint32_t)raw[i + 1] << 8 | raw[i + 2];

		enc[e++] = (uint8_t)a[v >> 18];
		enc[e++] = (uint8_t)a[(v >> 12) & 63];
		enc[e++] = (uint8_t)a[(v >> 6) & 63];
		enc[e++] = (uint8_t)a[v & 63];
		if (e % 78 == 76) {
			enc[e++] = '\r';
			enc[e++] = '\n';
		}
	}
	uint32_t f = 0;
	long n = sl_b64_decode_buf(enc, e, out, sizeof(out), &f);

	assert_int_equal(n, sizeof(raw));
	assert_memory_equal(out, raw, sizeof(raw));
	assert_int_equal(f, 0);
	assert_int_equal(sl_b64_decode_buf(enc, e, out, 10, &f), -1);
}

static void qp_expect(const char *in, const char *want)
{
	size_t n = strlen(in), wn = strlen(want);
	uint8_t out[256];

	for (size_t cut = 0; cut <= n; cut++) {
		struct sl_qp s;
		size_t o;

		sl_qp_init(&s);
		o = sl_qp_decode(&s, (const uint8_t *)in, cut, out);
		o += sl_qp_decode(&s, (const uint8_t *)in + cut, n - cut, out + o);
		o += sl_qp_finish(&s, out + o);
		assert_int_equal(o, wn);
		assert_memory_equal(out, want, wn);
	}
}

static void qp_python_parity(void **st)
{
	/* outputs of quopri.decodestring (binascii.a2b_qp) */
	qp_expect("a=3d=3Db=\r\nc", "a==bc");
	qp_expect("x==41", "x=41");
	qp_expect("=ZZ", "=ZZ");
	qp_expect("= \r\nq", "= \r\nq");
	qp_expect("end=", "end");
	qp_expect("end=4", "end=4");
	qp_expect("=4G", "=4G");
	qp_expect("soft=\nbreak=C3=a9", "softbreak\xc3\xa9");
	/* deliberate difference: a2b_qp drops "abc" here */
	qp_expect("=\rabc\nd", "=\rabc\nd");
}

static void uu_lines(void **st)
{
	uint8_t out[64];
	unsigned mode = 0;
	char name[64];

	assert_int_equal(sl_uu_decode_line((const uint8_t *)"#86)C", 5, out), 3);
	assert_memory_equal(out, "abc", 3);
	assert_int_equal(sl_uu_decode_line((const uint8_t *)"`", 1, out), 0);
	assert_int_equal(sl_uu_decode_line((const uint8_t *)"hello world", 11, out), -1);
	assert_true(sl_uu_parse_begin((const uint8_t *)"begin 644 a b.txt\r", 18, &mode, name,
				      sizeof(name)));
	assert_int_equal(mode, 0644);
	assert_string_equal(name, "a b.txt");
	assert_false(sl_uu_parse_begin((const uint8_t *)"begin at nine", 13, &mode, name,
				       sizeof(name)));

	/* streaming, cut anywhere */
	static const char in[] = "junk\nbegin 600 x\n#86)C\n`\nend\ntail\n";
	for (size_t cut = 0; cut < sizeof(in); cut++) {
		struct sl_uu s;
		uint8_t o[600];
		size_t on = 0, total = 0, pos = 0;
		int begins = 0, ends = 0;

		sl_uu_init(&s);
		while (pos < sizeof(in) - 1) {
			size_t end = pos < cut ? cut : sizeof(in) - 1;
			size_t used = sl_uu_feed(&s, (const uint8_t *)in + pos, end - pos, o + total, &on);

			total += on;
			pos += used;
			begins += s.event == SL_UU_EV_BEGIN;
			ends += s.event == SL_UU_EV_END;
		}
		total += sl_uu_finish(&s, o + total);
		assert_int_equal(begins, 1);
		assert_int_equal(ends, 1);
		assert_int_equal(total, 3);
		assert_memory_equal(o, "abc", 3);
	}
}

static void params(void **st)
{
	struct sl_charset_cache cc;
	char out[256], alt[256];
	unsigned f;
	static const char v1[] = "attachment; FileName*0*=iso-8859-1''caf%E9; filename*1=\".txt\"";
	static const char v2[] = "text/plain; name=a; name=\"b\"";
	static const char v3[] = "text/plain; x=\"a;b\" ; name*=utf-8''%E2%82%AC ; name=plain";
	static const char v4[] = "multipart/mixed; boundary=\"q\\\"uo;te\"";

	sl_charset_cache_init(&cc);
	f = 0;
	assert_int_equal(sl_mime_param(&cc, (const uint8_t *)v1, strlen(v1), "filename", out,
				       sizeof(out), alt, sizeof(alt), &f), 1);
	assert_string_equal(out, "caf\xc3\xa9.txt");
	assert_true(f & SL_MP_F_2231);
	f = 0;
	sl_mime_param(&cc, (const uint8_t *)v2, strlen(v2), "name", out, sizeof(out), alt,
		      sizeof(alt), &f);
	assert_string_equal(out, "a");
	assert_string_equal(alt, "b");
	assert_true(f & SL_MP_F_DIFFER);
	f = 0;
	sl_mime_param(&cc, (const uint8_t *)v3, strlen(v3), "name", out, sizeof(out), alt,
		      sizeof(alt), &f);
	assert_string_equal(out, "plain");		/* Python: the plain one */
	assert_string_equal(alt, "\xe2\x82\xac");	/* RFC 2231 clients */
	f = 0;
	sl_mime_param(&cc, (const uint8_t *)v4, strlen(v4), "boundary", out, sizeof(out), alt,
		      sizeof(alt), &f);
	assert_string_equal(out, "q\"uo;te");
	assert_int_equal(sl_mime_param(&cc, (const uint8_t *)v4, strlen(v4), "charset", out,
				       sizeof(out), alt, sizeof(alt), &f), 0);
	char t[32];

	assert_int_equal(sl_mime_hdr_type((const uint8_t *)" Text/HTML ; x=1", 16, t, sizeof(t)), 9);
	assert_string_equal(t, "text/html");
	sl_charset_cache_free(&cc);
}

static void charsets(void **st)
{
	struct sl_charset_cache cc;
	char out[64];
	unsigned f = 0;
	size_t n;

	sl_charset_cache_init(&cc);
	n = sl_charset_to_utf8(&cc, "windows-1251", 12, (const uint8_t *)"\xcf\xf0", 2, out,
			       sizeof(out), &f);
	assert_int_equal(n, 4);
	assert_memory_equal(out, "\xd0\x9f\xd1\x80", 4);
	n = sl_charset_to_utf8(&cc, "iso-8859-15", 11, (const uint8_t *)"\xa4", 1, out,
			       sizeof(out), &f);
	assert_memory_equal(out, "\xe2\x82\xac", 3);
	n = sl_charset_to_utf8(&cc, "gb18030", 7, (const uint8_t *)"\x81\x30\x81\x30", 4, out,
			       sizeof(out), &f);
	assert_memory_equal(out, "\xc2\x80", 2);
	f = 0;
	n = sl_charset_to_utf8(&cc, "utf-8", 5, (const uint8_t *)"a\xffz", 3, out, sizeof(out), &f);
	assert_int_equal(n, 5);
	assert_memory_equal(out, "a\xef\xbf\xbdz", 5);
	assert_true(f & SL_CS_F_INVALID);
	f = 0;
	n = sl_charset_to_utf8(&cc, "../../etc", 9, (const uint8_t *)"ab", 2, out, sizeof(out), &f);
	assert_true(f & SL_CS_F_UNKNOWN);
	assert_int_equal(n, 2);
	sl_charset_cache_free(&cc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(base64_python_parity),
		cmocka_unit_test(base64_continue_mode),
		cmocka_unit_test(base64_large_wide_path),
		cmocka_unit_test(qp_python_parity),
		cmocka_unit_test(uu_lines),
		cmocka_unit_test(params),
		cmocka_unit_test(charsets),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
