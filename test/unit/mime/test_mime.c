/* Streaming MIME decoder: structure, headers, transfer encodings, ambiguity,
 * limits.  Every message goes through the split-anywhere harness
 * (mime_test_util.h): the outcome must not depend on how input is cut. */
#include <sys/resource.h>

#include "mime_test_util.h"

static void single_part_keeps_body_and_unfolds(void **st)
{
	struct rec *r = decode("Subject: a\r\n b\r\n\tc\r\nX-Empty:\r\n\r\nline1\r\n--not\r\n\r\n");

	assert_non_null(strstr(r->log, "H 1 d0 Subject=a b\tc\n"));
	assert_non_null(strstr(r->log, "H 1 d0 X-Empty=\n"));
	assert_int_equal(r->np, 1);
	assert_string_equal(part(r, 0)->ct, "text/plain");
	assert_true(part(r, 0)->text);
	assert_false(part(r, 0)->att);
	/* a top-level body keeps its last line ending */
	assert_part_data(part(r, 0), "line1\r\n--not\r\n\r\n");
	rec_free(r);
}

static const char multi_crlf[] =
	"Content-Type: multipart/mixed; boundary=\"XX\"\r\n"
	"\r\n"
	"--XX\r\n"
	"Content-Type: text/plain; charset=UTF-8\r\n"
	"\r\n"
	"first\r\n"
	"\r\n"
	"--XX\r\n"
	"Content-Type: text/html\r\n"
	"\r\n"
	"<p>x</p>\r\n"
	"--XX--\r\n";

static void multipart_crlf_before_delimiter_belongs_to_it(void **st)
{
	struct rec *r = decode(multi_crlf);

	assert_int_equal(r->np, 2);
	assert_part_data(part(r, 0), "first\r\n");
	assert_string_equal(part(r, 0)->cs, "utf-8");
	assert_int_equal(part(r, 0)->parent, 1);
	assert_int_equal(part(r, 0)->depth, 1);
	assert_part_data(part(r, 1), "<p>x</p>");
	assert_string_equal(part(r, 1)->ct, "text/html");
	assert_true(part(r, 1)->text);
	assert_false(has_anom(r, "mime.close_boundary_missing"));
	assert_false(has_anom(r, "mime.preamble_text"));
	rec_free(r);
}

static void bare_lf_message(void **st)
{
	struct rec *r = decode("Content-Type: multipart/mixed; boundary=b\n\n--b\n\nA\nB\n--b\n"
			       "Content-Type: text/plain\n\nC\n--b--\n");

	assert_int_equal(r->np, 2);
	assert_part_data(part(r, 0), "A\nB");
	assert_part_data(part(r, 1), "C");
	rec_free(r);
}

static void nested_and_message_rfc822(void **st)
{
	struct rec *r = decode(
		"Content-Type: multipart/mixed; boundary=outer\r\n\r\n"
		"--outer\r\n"
		"Content-Type: multipart/alternative; boundary=inner\r\n\r\n"
		"--inner\r\nContent-Type: text/plain\r\n\r\nplain\r\n"
		"--inner\r\nContent-Type: text/html\r\n\r\nhtml\r\n"
		"--inner--\r\n"
		"--outer\r\n"
		"Content-Type: message/rfc822\r\n\r\n"
		"Subject: inner msg\r\n\r\nbody of inner\r\n"
		"--outer--\r\n");

	assert_int_equal(r->np, 3);
	assert_part_data(part(r, 0), "plain");
	assert_int_equal(part(r, 0)->id, 3);
	assert_int_equal(part(r, 0)->parent, 2);
	assert_int_equal(part(r, 0)->depth, 2);
	assert_part_data(part(r, 1), "html");
	/* message/rfc822 (id 5, depth 1): its message is id 6, depth 2 */
	assert_non_null(strstr(r->log, "H 6 d2 Subject=inner msg\n"));
	assert_int_equal(part(r, 2)->id, 6);
	assert_int_equal(part(r, 2)->parent, 5);
	assert_int_equal(part(r, 2)->depth, 2);
	assert_part_data(part(r, 2), "body of inner");
	rec_free(r);
}

static void outer_delimiter_closes_inner_parts(void **st)
{
	struct rec *r = decode("Content-Type: multipart/mixed; boundary=o\r\n\r\n--o\r\n"
			       "Content-Type: multipart/mixed; boundary=i\r\n\r\n--i\r\n\r\nin\r\n"
			       "--o\r\n\r\nnext\r\n--o--\r\n");

	assert_int_equal(r->np, 2);
	assert_part_data(part(r, 0), "in");
	assert_part_data(part(r, 1), "next");
	assert_true(has_anom(r, "mime.close_boundary_missing"));
	rec_free(r);
}

static void rfc2047_headers(void **st)
{
	struct rec *r = decode(
		"From: =?utf-8?B?SsO8cmdlbg==?= <j@example.org>\r\n"
		"Subject: =?iso-8859-1?q?caf=E9?= \r\n =?ISO-8859-1?Q?_cr=E8me?= end\r\n"
		"To: =?koi8-r?B?8NLJ18XU?=, =?big5?B?pKSk5Q==?=\r\n"
		"Cc: =?shift_jis?B?k/qWe4zq?= =?euc-kr?B?x9Gxub7uIA==?=\r\n"
		"X-Jis: =?iso-2022-jp?B?GyRCRnxLXDhsGyhC?=\r\n"
		"X-Gbk: =?gb2312?B?1tDOxA==?= =?windows-1252?Q?=80?=\r\n"
		"X-Split: =?utf-8?B?4oI=?= =?utf-8?B?rA==?=\r\n"
		"X-Unknown: =?x-nope?Q?a=FFb?=\r\n"
		"X-Bad: =?utf-8?Q?unterminated\r\n"
		"\r\nbody");

	assert_non_null(strstr(r->log, "H 1 d0 From=J\xc3\xbcrgen <j@example.org>\n"));
	/* adjacent words joined without the folding whitespace between them */
	assert_non_null(strstr(r->log, "H 1 d0 Subject=caf\xc3\xa9 cr\xc3\xa8me end\n"));
	assert_non_null(strstr(r->log, "H 1 d0 To=\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5"
				       "\xd1\x82, \xe4\xb8\xad\xe6\x96\x87\n"));
	assert_non_null(strstr(r->log, "H 1 d0 Cc=\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e"
				       "\xed\x95\x9c\xea\xb5\xad\xec\x96\xb4 \n"));
	assert_non_null(strstr(r->log, "H 1 d0 X-Jis=\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\n"));
	assert_non_null(strstr(r->log, "H 1 d0 X-Gbk=\xe4\xb8\xad\xe6\x96\x87\xe2\x82\xac\n"));
	/* a character split across two words survives */
	assert_non_null(strstr(r->log, "H 1 d0 X-Split=\xe2\x82\xac\n"));
	assert_non_null(strstr(r->log, "H 1 d0 X-Unknown=a\xff" "b\n"));
	assert_true(has_anom(r, "mime.charset_unknown"));
	assert_non_null(strstr(r->log, "H 1 d0 X-Bad==?utf-8?Q?unterminated\n"));
	assert_true(has_anom(r, "mime.rfc2047_bad"));
	rec_free(r);
}

static void rfc2231_and_filename_conflict(void **st)
{
	struct rec *r = decode(
		"Content-Type: multipart/mixed; boundary=b\r\n\r\n"
		"--b\r\n"
		"Content-Type: application/pdf; NAME=\"other.pdf\"\r\n"
		"Content-Disposition: attachment;\r\n"
		" filename*0*=utf-8'en'%E2%82%AC%20;\r\n"
		" filename*1=\"report\";  filename*2*=.pdf\r\n"
		"Content-Transfer-Encoding: base64\r\n\r\n"
		"aGk=\r\n"
		"--b\r\n"
		"Content-Type: image/png; name==?utf-8?Q?b=C3=A9?=.png\r\n\r\nx\r\n"
		"--b\r\n"
		"Content-Type: text/plain; name=\"a \\\"q\\\"; b.txt\"\r\n"
		"Content-Disposition: inline; filename=\"a \\\"q\\\"; b.txt\"\r\n\r\ny\r\n"
		"--b--\r\n");

	assert_int_equal(r->np, 3);
	assert_string_equal(part(r, 0)->fn, "\xe2\x82\xac report.pdf");
	assert_string_equal(part(r, 0)->afn, "other.pdf");
	assert_string_equal(part(r, 0)->disp, "attachment");
	assert_true(part(r, 0)->att);
	assert_part_data(part(r, 0), "hi");
	assert_true(has_anom(r, "mime.filename_conflict"));
	/* RFC 2047 inside a name parameter, as clients decode it */
	assert_string_equal(part(r, 1)->fn, "b\xc3\xa9.png");
	assert_string_equal(part(r, 1)->afn, "");
	/* quoted string with an escaped quote and a ';' */
	assert_string_equal(part(r, 2)->fn, "a \"q\"; b.txt");
	assert_true(part(r, 2)->att);
	assert_false(part(r, 2)->text);
	rec_free(r);
}

static void base64_tolerant(void **st)
{
	/* any line length, blanks, junk skipped (flagged) */
	struct rec *r = decode("Content-Transfer-Encoding: BASE64\r\n\r\n"
			       "SGVsbG8sIHdv\r\ncmxk IQ\t==\r\n");

	assert_part_data(part(r, 0), "Hello, world!");
	assert_string_equal(part(r, 0)->enc, "base64");
	assert_false(has_anom(r, "mime.base64_junk"));
	rec_free(r);
	r = decode("Content-Transfer-Encoding: base64\r\n\r\nSGV*sbG8!\r\n");
	assert_part_data(part(r, 0), "Hello");
	assert_true(has_anom(r, "mime.base64_junk"));
	rec_free(r);
}

static void base64_pad_in_middle_two_readings(void **st)
{
	struct rec *r = decode("Content-Type: application/octet-stream\r\n"
			       "Content-Transfer-Encoding: base64\r\n\r\n"
			       "QUI=\r\nTUFMV0FSRQ==\r\n");

	assert_true(has_anom(r, "mime.base64_pad_mid"));
	assert_int_equal(r->np, 2);
	/* reading 0: Python stops at the pad */
	assert_int_equal(part(r, 0)->reading, 0);
	assert_part_data(part(r, 0), "AB");
	/* reading 1: what a continuing client adds after the first 2 bytes */
	assert_int_equal(part(r, 1)->reading, 1);
	assert_part_data(part(r, 1), "MALWARE");
	assert_non_null(strstr(r->log, "E 1.1 7 "));
	assert_non_null(strstr(r->log, "pre=2\n"));
	rec_free(r);
}

static void quoted_printable(void **st)
{
	struct rec *r = decode("Content-Transfer-Encoding: quoted-printable\r\n\r\n"
			       "caf=C3=a9 soft=\r\nbreak =ZZ x=\nend=3D\r\n");

	assert_part_data(part(r, 0), "caf\xc3\xa9 softbreak =ZZ xend=\r\n");
	assert_true(has_anom(r, "mime.qp_invalid"));
	rec_free(r);
}

static void identity_encodings_and_unknown(void **st)
{
	static const char m8[] = "Content-Transfer-Encoding: 8bit\r\n\r\n\xff\x00\x80raw";
	struct rec *r = decode_lim(m8, sizeof(m8) - 1, NULL);

	assert_string_equal(part(r, 0)->enc, "8bit");
	assert_int_equal(part(r, 0)->n, 6);
	rec_free(r);
	r = decode("Content-Transfer-Encoding: x-weird\r\n\r\nSGVsbG8=");
	assert_string_equal(part(r, 0)->enc, "7bit");
	assert_part_data(part(r, 0), "SGVsbG8=");
	assert_true(has_anom(r, "mime.cte_unknown"));
	rec_free(r);
}

static void uuencode_in_text_is_extra_part(void **st)
{
	static const char m[] = "Subject: uu\r\n\r\nsee attached\r\n"
				"begin 644 evil.exe\r\n"
				"#86)C\r\n"
				"`\r\n"
				"end\r\n"
				"bye\r\n";
	struct rec *r = decode(m);

	assert_int_equal(r->np, 2);
	/* the uu part opens inside the text part */
	assert_int_equal(part(r, 1)->kind, SL_MIME_KIND_UUENCODE);
	assert_string_equal(part(r, 1)->fn, "evil.exe");
	assert_string_equal(part(r, 1)->enc, "uuencode");
	assert_int_equal(part(r, 1)->parent, 1);
	assert_true(part(r, 1)->att);
	assert_part_data(part(r, 1), "abc");
	/* the text keeps everything */
	assert_part_data(part(r, 0), strstr(m, "see"));
	assert_true(has_anom(r, "mime.uuencode"));
	rec_free(r);
	/* Content-Transfer-Encoding: x-uuencode decodes the part itself */
	r = decode("Content-Type: application/octet-stream\r\n"
		   "Content-Transfer-Encoding: x-uuencode\r\n\r\n"
		   "begin 600 f.bin\r\n#86)C\r\n`\r\nend\r\n");
	assert_int_equal(r->np, 1);
	assert_part_data(part(r, 0), "abc");
	rec_free(r);
}

static void duplicate_cte_both_readings(void **st)
{
	struct rec *r = decode("Content-Type: application/octet-stream\r\n"
			       "Content-Transfer-Encoding: 7bit\r\n"
			       "Content-Transfer-Encoding: base64\r\n\r\nSGk=\r\n");

	assert_true(has_anom(r, "mime.cte_conflict"));
	assert_int_equal(r->np, 2);
	assert_string_equal(part(r, 0)->enc, "7bit");
	assert_part_data(part(r, 0), "SGk=\r\n");
	assert_string_equal(part(r, 1)->enc, "base64");
	assert_int_equal(part(r, 1)->reading, 1);
	assert_part_data(part(r, 1), "Hi");
	rec_free(r);
	/* 7bit vs 8bit: same bytes, no second reading */
	r = decode("Content-Transfer-Encoding: 7bit\r\nContent-Transfer-Encoding: 8bit\r\n\r\nx");
	assert_int_equal(r->np, 1);
	rec_free(r);
}

static void conflicting_boundaries_either_delimits(void **st)
{
	struct rec *r = decode("Content-Type: multipart/mixed; boundary=AAA\r\n"
			       "Content-Type: multipart/mixed; boundary=BBB\r\n\r\n"
			       "--AAA\r\n\r\none\r\n"
			       "--BBB\r\nContent-Transfer-Encoding: base64\r\n\r\nSGk=\r\n"
			       "--AAA--\r\n");

	assert_true(has_anom(r, "mime.boundary_conflict"));
	assert_int_equal(r->np, 2);
	assert_part_data(part(r, 0), "one");
	assert_part_data(part(r, 1), "Hi");
	rec_free(r);
	r = decode("Content-Type: multipart/mixed; boundary=AAA; boundary=BBB\r\n\r\n"
		   "--BBB\r\n\r\ntwo\r\n--BBB--\r\n");
	assert_true(has_anom(r, "mime.boundary_conflict"));
	assert_part_data(part(r, 0), "two");
	rec_free(r);
	r = decode("Content-Type: text/plain\r\nContent-Type: multipart/mixed; boundary=Z\r\n\r\n"
		   "--Z\r\n\r\nz\r\n--Z--\r\n");
	assert_true(has_anom(r, "mime.content_type_conflict"));
	assert_part_data(part(r, 0), "z");
	rec_free(r);
}

static void missing_final_boundary(void **st)
{
	struct rec *r = decode("Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\n"
			       "tail\r\n");

	assert_true(has_anom(r, "mime.close_boundary_missing"));
	/* Python strips the last line ending of a part cut by the end too */
	assert_part_data(part(r, 0), "tail");
	rec_free(r);
}

static void preamble_and_epilogue(void **st)
{
	struct rec *r = decode(multi_crlf);

	assert_false(has_anom(r, "mime.preamble_text"));
	rec_free(r);
	r = decode("Content-Type: multipart/mixed; boundary=b\r\n\r\n \r\nhidden pre\r\n"
		   "--b\r\n\r\nx\r\n--b--\r\nhidden epi\r\n");
	assert_int_equal(r->np, 3);
	assert_int_equal(part(r, 0)->kind, SL_MIME_KIND_PREAMBLE);
	assert_part_data(part(r, 0), " \r\nhidden pre");
	assert_int_equal(part(r, 2)->kind, SL_MIME_KIND_EPILOGUE);
	assert_part_data(part(r, 2), "hidden epi\r\n");
	assert_true(has_anom(r, "mime.preamble_text"));
	assert_true(has_anom(r, "mime.epilogue_text"));
	rec_free(r);
}

static void boundary_never_found(void **st)
{
	struct rec *r = decode("Content-Type: multipart/mixed; boundary=b\r\n\r\n\r\nall text\r\n");

	assert_true(has_anom(r, "mime.boundary_not_found"));
	assert_int_equal(r->np, 1);
	assert_int_equal(part(r, 0)->kind, SL_MIME_KIND_PREAMBLE);
	assert_part_data(part(r, 0), "\r\nall text\r\n");
	rec_free(r);
	/* headers only (IMAP header fetch): an empty part, as Python gives */
	r = decode("Content-Type: multipart/mixed; boundary=b\r\n\r\n");
	assert_int_equal(r->np, 1);
	assert_int_equal(part(r, 0)->n, 0);
	rec_free(r);
}

static void multipart_without_boundary_is_raw(void **st)
{
	struct rec *r = decode("Content-Type: multipart/mixed\r\n\r\n--x\r\n\r\nbody\r\n");

	assert_true(has_anom(r, "mime.multipart_no_boundary"));
	assert_true(part(r, 0)->raw);
	assert_part_data(part(r, 0), "--x\r\n\r\nbody\r\n");
	rec_free(r);
}

static void unusual_boundaries(void **st)
{
	struct rec *r = decode("Content-Type: multipart/mixed;\r\n boundary=\"=_a b?c(d):+,./'\"\r\n\r\n"
			       "--=_a b?c(d):+,./'\r\n\r\none\r\n"
			       "--=_a b?c(d):+,./'--  \t\r\n");

	assert_part_data(part(r, 0), "one");
	assert_false(has_anom(r, "mime.boundary_unusual"));
	assert_false(has_anom(r, "mime.close_boundary_missing"));
	rec_free(r);
	r = decode("Content-Type: multipart/mixed; boundary=\"a{b}|\xe9\"\r\n\r\n"
		   "--a{b}|\xe9\r\n\r\ntwo\r\n--a{b}|\xe9--\r\n");
	assert_true(has_anom(r, "mime.boundary_unusual"));
	assert_part_data(part(r, 0), "two");
	rec_free(r);
}

static void boundary_lookalike_and_prefix(void **st)
{
	struct rec *r = decode("Content-Type: multipart/mixed; boundary=bb\r\n\r\n--bb\r\n"
			       "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\n"
			       "x\r\n--bXYZ\r\ny\r\n--b--\r\n--bb--\r\n");

	assert_true(has_anom(r, "mime.boundary_prefix"));
	assert_true(has_anom(r, "mime.boundary_lookalike"));
	assert_part_data(part(r, 0), "x\r\n--bXYZ\r\ny");
	rec_free(r);
}

static void bare_cr_delimiter_is_text(void **st)
{
	struct rec *r = decode("Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\n"
			       "x\r\n--b\rmore\r\n--b--\r\n");

	assert_true(has_anom(r, "mime.boundary_bare_cr"));
	assert_part_data(part(r, 0), "x\r\n--b\rmore");
	rec_free(r);
}

static void long_transport_padding(void **st)
{
	char m[4096];
	int k = snprintf(m, sizeof(m), "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\n"
				       "x\r\n--b");

	memset(m + k, ' ', 1500);
	snprintf(m + k + 1500, sizeof(m) - (size_t)k - 1500, "\r\ny\r\n--b  \r\n\r\nz\r\n--b--\r\n");
	struct rec *r = decode(m);

	assert_true(has_anom(r, "mime.boundary_padding_overlong"));
	assert_int_equal(r->np, 2);
	assert_int_equal(part(r, 0)->n, 3 + 3 + 1500 + 3);
	assert_part_data(part(r, 1), "z");
	rec_free(r);
}

static void part_after_close_is_decoded(void **st)
{
	struct rec *r = decode("Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\nx\r\n"
			       "--b--\r\n--b\r\nContent-Transfer-Encoding: base64\r\n\r\nSGk=\r\n");

	assert_true(has_anom(r, "mime.part_after_close"));
	assert_part_data(part(r, r->np - 1), "Hi");
	rec_free(r);
}

static void double_delimiter_no_empty_part(void **st)
{
	struct rec *r = decode("Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n--b\r\n\r\n"
			       "x\r\n--b\r\nX-H: 1\r\n--b--\r\n");

	/* like Python: no part between two delimiters; headers only: empty part */
	assert_int_equal(r->np, 2);
	assert_part_data(part(r, 0), "x");
	assert_int_equal(part(r, 1)->n, 0);
	rec_free(r);
}

static void digest_default_type(void **st)
{
	struct rec *r = decode("Content-Type: multipart/digest; boundary=d\r\n\r\n--d\r\n\r\n"
			       "Subject: in digest\r\n\r\nm\r\n--d--\r\n");

	assert_non_null(strstr(r->log, "Subject=in digest"));
	assert_part_data(part(r, 0), "m");
	rec_free(r);
}

static void classification(void **st)
{
	struct rec *r = decode("Content-Type: multipart/mixed; boundary=b\r\n\r\n"
			       "--b\r\n\r\nno type\r\n"
			       "--b\r\nContent-Type: image/png\r\n\r\npng\r\n"
			       "--b\r\nContent-Type: text/plain\r\nContent-Disposition: attachment\r\n\r\na\r\n"
			       "--b\r\nContent-Type: bogus\r\n\r\nb\r\n"
			       "--b--\r\n");

	assert_true(part(r, 0)->text && !part(r, 0)->att);
	assert_true(!part(r, 1)->text && part(r, 1)->att);
	assert_true(!part(r, 2)->text && part(r, 2)->att);
	assert_string_equal(part(r, 3)->ct, "text/plain");
	assert_true(has_anom(r, "mime.content_type_invalid"));
	rec_free(r);
}

static void header_anomalies(void **st)
{
	static const char mh[] = "From xyz Mon Jan 1\r\nX-A: a\x00" "b\r\nX-B: \xc3\xa9\r\n"
				 "Subject : spaced\r\n: nameless\r\nnot a header\r\nX-C: c\r\n\r\n";
	struct rec *r = decode_lim(mh, sizeof(mh) - 1, NULL);

	assert_true(has_anom(r, "mime.mbox_from"));
	assert_true(has_anom(r, "mime.header_nul"));
	assert_true(has_anom(r, "mime.header_8bit"));
	assert_true(has_anom(r, "mime.header_name_space"));
	assert_true(has_anom(r, "mime.header_empty_name"));
	assert_true(has_anom(r, "mime.header_no_colon"));
	assert_non_null(strstr(r->log, "H 1 d0 Subject=spaced\n"));
	assert_non_null(strstr(r->log, "H 1 d0 =nameless\n"));
	/* the line without a colon starts the body, as in Python */
	assert_part_data(part(r, 0), "not a header\r\nX-C: c\r\n\r\n");
	/* a client reading on skips it, takes X-C as a header: empty body */
	assert_int_equal(r->np, 2);
	assert_int_equal(part(r, 1)->reading, 1);
	assert_part_data(part(r, 1), "");
	rec_free(r);
}

/* A header line with no colon (not folded) ends the headers for Python, so
 * the base64 below it stays text; Suricata and some clients read on, take
 * the Content-Transfer-Encoding after it and decode (suricata-verify's
 * smtp-url-base64).  Both readings are produced: Python's as reading 0. */
static void header_no_colon_reads_on(void **st)
{
	static const char mh[] = "Subject: s\r\nContent-Type: text/html;\r\ncharset=\"utf-8\"\r\n"
				 "Content-Transfer-Encoding: base64\r\n\r\n"
				 "PGEgaHJlZj0iaHR0cDovL2V2aWwuZXhhbXBsZS8iPng8L2E+\r\n";
	struct rec *r = decode_lim(mh, sizeof(mh) - 1, NULL);

	assert_true(has_anom(r, "mime.header_no_colon"));
	assert_int_equal(r->np, 2);
	assert_int_equal(part(r, 0)->reading, 0);
	assert_string_equal(part(r, 0)->enc, "7bit");
	assert_part_data(part(r, 0), "charset=\"utf-8\"\r\n"
				     "Content-Transfer-Encoding: base64\r\n\r\n"
				     "PGEgaHJlZj0iaHR0cDovL2V2aWwuZXhhbXBsZS8iPng8L2E+\r\n");
	assert_int_equal(part(r, 1)->id, 1);
	assert_int_equal(part(r, 1)->reading, 1);
	assert_int_equal(part(r, 1)->prefix, 0);
	assert_string_equal(part(r, 1)->ct, "text/html");
	assert_string_equal(part(r, 1)->enc, "base64");
	assert_true(part(r, 1)->text);
	assert_part_data(part(r, 1), "<a href=\"http://evil.example/\">x</a>");
	/* the lines read on are no header callbacks: body text of reading 0 */
	assert_null(strstr(r->log, "Content-Transfer-Encoding="));
	rec_free(r);
}

/* The same inside a multipart: the reading on takes a folded
 * Content-Disposition and the encoding, skips a second colon-less line,
 * and ends with the part; the next part is read as before. */
static void header_no_colon_in_multipart(void **st)
{
	static const char mh[] =
		"Content-Type: multipart/mixed; boundary=b\r\n\r\n"
		"--b\r\nContent-Type: text/plain\r\nnot a header\r\n"
		"Content-Disposition: attachment;\r\n filename=\"x.exe\"\r\n"
		"also not one\r\nContent-Transfer-Encoding: base64\r\n\r\nTVqQAA==\r\n"
		"--b\r\nContent-Type: text/plain\r\n\r\nsecond\r\n--b--\r\n";
	struct rec *r = decode_lim(mh, sizeof(mh) - 1, NULL);

	assert_true(has_anom(r, "mime.header_no_colon"));
	assert_int_equal(r->np, 3);
	assert_int_equal(part(r, 0)->id, 2);
	assert_int_equal(part(r, 0)->reading, 0);
	assert_true(part(r, 0)->text);
	assert_string_equal(part(r, 0)->fn, "");
	assert_int_equal(part(r, 1)->id, 2);
	assert_int_equal(part(r, 1)->reading, 1);
	assert_string_equal(part(r, 1)->fn, "x.exe");
	assert_true(part(r, 1)->att);
	assert_string_equal(part(r, 1)->enc, "base64");
	assert_int_equal(part(r, 1)->n, 4);
	assert_memory_equal(part(r, 1)->data, "MZ\x90\x00", 4);
	assert_int_equal(part(r, 2)->id, 3);
	assert_part_data(part(r, 2), "second");
	rec_free(r);
}

/* Headers read on that never end: no second reading, nothing lost
 * (reading 0 has every byte); a reading slot is needed for it. */
static void header_no_colon_limits(void **st)
{
	static const char never[] = "Content-Type: text/plain\r\nnot a header\r\nX-A: 1\r\nX-B: 2";
	struct rec *r = decode_lim(never, sizeof(never) - 1, NULL);

	assert_int_equal(r->np, 1);
	assert_part_data(part(r, 0), "not a header\r\nX-A: 1\r\nX-B: 2");
	rec_free(r);

	struct sl_mime_limits l;
	static const char mh[] = "X-A: 1\r\nnope\r\n"
				 "Content-Transfer-Encoding: base64\r\n\r\naGk=\r\n";

	sl_mime_limits_default(&l);
	l.max_readings = 1;
	r = decode_lim(mh, sizeof(mh) - 1, &l);
	assert_int_equal(r->np, 1);
	assert_true(has_anom(r, "mime.readings_limit"));
	rec_free(r);

	/* Longer than max_header_bytes: given up, with the anomaly. */
	char big[1500];
	size_t k = (size_t)snprintf(big, sizeof(big), "X-A: 1\r\nnope\r\nX-Long: ");
	memset(big + k, 'a', 700);
	k += 700;
	k += (size_t)snprintf(big + k, sizeof(big) - k, "\r\n\r\nbody\r\n");
	l.max_readings = 4;
	l.max_header_bytes = 512;
	r = decode_lim(big, k, &l);
	assert_int_equal(r->np, 1);
	assert_true(has_anom(r, "mime.readings_limit"));
	assert_int_equal(part(r, 0)->n, k - 8);
	rec_free(r);
}

static void limit_depth(void **st)
{
	struct sl_mime_limits l;
	char m[2048] = "";
	size_t k = 0;

	sl_mime_limits_default(&l);
	l.max_depth = 3;
	for (int i = 0; i < 5; i++)
		k += (size_t)snprintf(m + k, sizeof(m) - k,
				      "Content-Type: multipart/mixed; boundary=l%d\r\n\r\n--l%d\r\n", i, i);
	k += (size_t)snprintf(m + k, sizeof(m) - k, "\r\ndeep\r\n");
	struct rec *r = decode_lim(m, k, &l);

	assert_true(has_anom(r, "mime.depth_exceeded"));
	assert_true(has_anom(r, "mime.gave_up"));
	assert_int_equal(r->np, 1);
	assert_true(part(r, 0)->raw);
	assert_int_equal(part(r, 0)->depth, 3);
	assert_non_null(memmem(part(r, 0)->data, part(r, 0)->n, "deep", 4));
	rec_free(r);
}

static void limit_parts_and_headers(void **st)
{
	struct sl_mime_limits l;

	sl_mime_limits_default(&l);
	l.max_parts = 3;
	static const char mp[] = "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\n1\r\n"
				 "--b\r\n\r\n2\r\n--b\r\n\r\n3\r\n--b--\r\n";
	struct rec *r = decode_lim(mp, sizeof(mp) - 1, &l);

	assert_true(has_anom(r, "mime.too_many_parts"));
	assert_true(part(r, r->np - 1)->raw);
	assert_int_equal(part(r, r->np - 1)->id, 4);
	assert_part_data(part(r, r->np - 1), "\r\n3\r\n--b--\r\n");
	rec_free(r);

	sl_mime_limits_default(&l);
	l.max_headers = 2;
	static const char h[] = "A: 1\r\nB: 2\r\nC: 3\r\n\r\nbody";
	r = decode_lim(h, strlen(h), &l);
	assert_true(has_anom(r, "mime.too_many_headers"));
	assert_true(part(r, 0)->raw);
	assert_part_data(part(r, 0), "C: 3\r\n\r\nbody");
	rec_free(r);

	sl_mime_limits_default(&l);
	l.max_header_bytes = 256;
	char big[1024];
	size_t k = (size_t)snprintf(big, sizeof(big), "Subject: ");

	memset(big + k, 'x', 400);
	k += 400;
	k += (size_t)snprintf(big + k, sizeof(big) - k, "\r\n\r\nb");
	r = decode_lim(big, k, &l);
	assert_true(has_anom(r, "mime.header_too_long"));
	assert_true(part(r, 0)->raw);
	assert_int_equal(part(r, 0)->n, k);	/* nothing lost */
	rec_free(r);
}

static void readings_limit(void **st)
{
	struct sl_mime_limits l;
	static const char m[] = "Content-Transfer-Encoding: base64\r\n"
				"Content-Transfer-Encoding: quoted-printable\r\n\r\nQQ==QUJD\r\n";

	sl_mime_limits_default(&l);
	l.max_readings = 2;
	struct rec *r = decode_lim(m, strlen(m), &l);

	assert_int_equal(r->np, 2);
	assert_true(has_anom(r, "mime.readings_limit"));
	rec_free(r);
}

/* Peak memory does not grow with the size of an attachment streamed in
 * 64 KiB chunks (no timing is asserted, only bytes and RSS). */
static void count_data(void *u, const struct sl_mime_part *p, const uint8_t *d, size_t n)
{
	*(uint64_t *)u += n;
}

static void large_attachment_streams(void **st)
{
	const struct sl_mime_cb cb = { .part_data = count_data };
	uint64_t out = 0;
	struct sl_mime *m = sl_mime_new(NULL, &cb, &out, NULL);
	static const char head[] = "Content-Type: multipart/mixed; boundary=zz\r\n\r\n--zz\r\n"
				   "Content-Transfer-Encoding: base64\r\n\r\n";
	uint8_t chunk[65536];
	struct rusage ru0, ru1;

	for (size_t i = 0; i < sizeof(chunk); i++)
		chunk[i] = (i % 78 == 76) ? '\r' : (i % 78 == 77) ? '\n' : "QUJD"[i % 4];
	sl_mime_feed(m, (const uint8_t *)head, strlen(head));
	sl_mime_feed(m, chunk, sizeof(chunk));
	getrusage(RUSAGE_SELF, &ru0);
	for (int i = 0; i < 1600; i++)	/* ~100 MiB */
		sl_mime_feed(m, chunk, sizeof(chunk));
	sl_mime_feed(m, (const uint8_t *)"\r\n--zz--\r\n", 10);
	sl_mime_finish(m);
	getrusage(RUSAGE_SELF, &ru1);
	sl_mime_free(m);
	assert_true(out > 70u * 1024 * 1024);
	assert_true(ru1.ru_maxrss - ru0.ru_maxrss < 4096);	/* KiB */
}

static void reset_reuses_decoder(void **st)
{
	struct rec *r = calloc(1, sizeof(*r));
	struct sl_mime *m = sl_mime_new(NULL, &rec_cb, r, NULL);

	sl_mime_feed(m, (const uint8_t *)multi_crlf, strlen(multi_crlf));
	sl_mime_finish(m);
	sl_mime_reset(m);
	sl_mime_feed(m, (const uint8_t *)"Subject: 2\r\n\r\nsecond", 20);
	sl_mime_finish(m);
	sl_mime_free(m);
	assert_int_equal(r->np, 3);
	assert_int_equal(part(r, 2)->id, 1);
	assert_part_data(part(r, 2), "second");
	rec_free(r);
}

/* ---- encoded message/rfc822: the decoded reading ------------------------- */

/* base64 as a client writes it (76-column lines, CRLF); returns the length. */
static size_t b64_encode(const char *in, size_t n, char *out, size_t cap)
{
	static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t o = 0, col = 0;

	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)(uint8_t)in[i] << 16;

		v |= i + 1 < n ? (uint32_t)(uint8_t)in[i + 1] << 8 : 0;
		v |= i + 2 < n ? (uint8_t)in[i + 2] : 0;
		assert_true(o + 8 < cap);
		out[o++] = a[v >> 18];
		out[o++] = a[(v >> 12) & 63];
		out[o++] = i + 1 < n ? a[(v >> 6) & 63] : '=';
		out[o++] = i + 2 < n ? a[v & 63] : '=';
		if ((col += 4) == 76 || i + 3 >= n) {
			out[o++] = '\r';
			out[o++] = '\n';
			col = 0;
		}
	}
	out[o] = '\0';
	return o;
}

/* The part reading with this reading number and content type. */
static const struct rpart *part_ct(const struct rec *r, unsigned reading, const char *ct)
{
	for (int i = 0; i < r->np; i++)
		if (r->p[i].reading == reading && !strcmp(r->p[i].ct, ct))
			return &r->p[i];
	fprintf(stderr, "no part %s reading %u\n", ct, reading);
	fail();
	return NULL;
}

static const char fwd_inner[] =
	"From: alice@example.com\r\nSubject: fwd plans\r\n"
	"Content-Type: multipart/mixed; boundary=\"in1\"\r\n\r\n"
	"--in1\r\nContent-Type: text/plain\r\n\r\n"
	"Project Bluebird is confidential\r\n"
	"--in1\r\nContent-Type: application/octet-stream\r\n"
	"Content-Disposition: attachment; filename=\"plan.bin\"\r\n"
	"Content-Transfer-Encoding: base64\r\n\r\n"
	"YXR0YWNobWVudCBwYXlsb2Fk\r\n"	/* "attachment payload" */
	"--in1--\r\n";

static void rfc822_base64_decoded_reading(void **st)
{
	char msg[4096], b[2048];
	size_t k = (size_t)snprintf(msg, sizeof(msg),
		"Subject: outer\r\nContent-Type: multipart/mixed; boundary=out\r\n\r\n"
		"--out\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n"
		"--out\r\nContent-Type: message/rfc822\r\n"
		"Content-Transfer-Encoding: base64\r\n\r\n");

	b64_encode(fwd_inner, strlen(fwd_inner), b, sizeof(b));
	k += (size_t)snprintf(msg + k, sizeof(msg) - k, "%s--out\r\n\r\nlast\r\n--out--\r\n", b);
	struct rec *r = decode_lim(msg, k, NULL);

	assert_true(has_anom(r, "mime.container_encoded"));
	/* the raw reading, as Python: the base64 text is the inner message's body */
	assert_part_data(part_ct(r, 0, "text/plain"), "see attached");
	const struct rpart *raw = &r->p[1];

	assert_int_equal(raw->id, 4);
	assert_int_equal(raw->parent, 3);
	assert_int_equal(raw->n, strlen(b) - 2);
	assert_memory_equal(raw->data, b, raw->n);
	/* the decoded reading, as Thunderbird: its own part numbers, reading 16 */
	assert_non_null(strstr(r->dec[1].log, "H 1 d2 Subject=fwd plans\n"));
	const struct rpart *t = part_ct(r, 16, "text/plain");

	assert_int_equal(t->id, 2);
	assert_int_equal(t->parent, 1);
	assert_int_equal(t->depth, 3);
	assert_true(t->text);
	assert_false(t->att);
	assert_string_equal(t->enc, "7bit");
	assert_part_data(t, "Project Bluebird is confidential");
	const struct rpart *a = part_ct(r, 16, "application/octet-stream");

	assert_int_equal(a->id, 3);
	assert_int_equal(a->depth, 3);
	assert_true(a->att);
	assert_string_equal(a->fn, "plan.bin");
	assert_string_equal(a->enc, "base64");
	assert_part_data(a, "attachment payload");
	/* 3 raw parts + 2 decoded ones; the decoded message's container (1)
	 * hangs under the message/rfc822 entity (3) */
	assert_int_equal(r->np, 5);
	assert_non_null(strstr(r->dec[1].log, "B 2.16 p1 d3 "));
	assert_null(r->dec[2].log);
	/* the decoded message's 3 ids count against max_parts: 5 + 3 */
	assert_int_equal(r->p[4].id, 8);
	assert_part_data(&r->p[4], "last");
	rec_free(r);

	/* max_parts 5: the decoded message gets the 2 ids left when it opens
	 * (1-3 are taken), then gives up */
	struct sl_mime_limits l;

	sl_mime_limits_default(&l);
	l.max_parts = 5;
	r = decode_lim(msg, k, &l);
	const struct rpart *g = part_ct(r, 16, "application/octet-stream");

	assert_true(g->raw);
	assert_int_equal(g->id, 3);
	assert_non_null(memmem(g->data, g->n, "YXR0YWNobWVudCBwYXlsb2Fk", 24));
	assert_part_data(part_ct(r, 16, "text/plain"), "Project Bluebird is confidential");
	/* and the raw reading gives up after it (4 + 3 ids are spent) */
	assert_true(has_anom(r, "mime.too_many_parts"));
	assert_true(r->p[r->np - 1].raw);
	assert_int_equal(r->p[r->np - 1].id, 6);
	assert_int_equal(r->p[r->np - 1].reading, 0);
	rec_free(r);
}

/* Quoted-printable: the keyword is cut by a soft line break in the raw text;
 * the message is top level, ended by the end of input without a last CRLF. */
static void rfc822_qp_decoded_reading(void **st)
{
	struct rec *r = decode(
		"Content-Type: message/rfc822\r\nContent-Transfer-Encoding: quoted-printable\r\n"
		"\r\n"
		"Subject: =3D?q\r\nContent-Type: text/plain; charset=3D\"utf-8\"\r\n\r\n"
		"Project Blue=\r\nbird caf=C3=A9");

	assert_true(has_anom(r, "mime.container_encoded"));
	assert_int_equal(r->np, 2);
	/* raw: Python reads the QP text as the message */
	assert_part_data(part_ct(r, 0, "text/plain"), "Project Blue=\r\nbird caf=C3=A9");
	assert_non_null(strstr(r->log, "H 2 d1 Subject==3D?q\n"));
	const struct rpart *t = part_ct(r, 16, "text/plain");

	assert_int_equal(t->id, 1);
	assert_int_equal(t->parent, 1);
	assert_int_equal(t->depth, 1);
	assert_string_equal(t->cs, "utf-8");
	assert_non_null(strstr(r->dec[1].log, "H 1 d1 Subject==?q\n"));
	assert_part_data(t, "Project Bluebird caf\xc3\xa9");
	rec_free(r);
}

/* Encoded inside encoded: each level decoded by the one above, until
 * max_depth; the deepest is then one raw part. */
static void rfc822_encoded_nesting_depth(void **st)
{
	static char lv[4][8192];
	struct sl_mime_limits l;
	const char *hdr = "Content-Type: message/rfc822\r\n"
			  "Content-Transfer-Encoding: base64\r\n\r\n";

	snprintf(lv[0], sizeof(lv[0]), "Subject: deepest\r\n\r\nProject Bluebird\r\n");
	for (int i = 1; i < 4; i++) {
		size_t k = (size_t)snprintf(lv[i], sizeof(lv[i]), "%s", hdr);

		b64_encode(lv[i - 1], strlen(lv[i - 1]), lv[i] + k, sizeof(lv[i]) - k);
	}
	/* lv[3] is the message: depth 0, its message 1, that one's 2, then 3 */
	sl_mime_limits_default(&l);
	l.max_depth = 2;
	struct rec *r = decode_lim(lv[3], strlen(lv[3]), &l);

	assert_true(has_anom(r, "mime.depth_exceeded"));
	const struct rpart *g = part_ct(r, 32, "message/rfc822");

	assert_true(g->raw);
	assert_int_equal(g->depth, 2);
	assert_int_equal(g->parent, 1);
	/* its body: lv[0] still in base64 */
	assert_int_equal(g->n, strlen(lv[1]) - strlen(hdr));
	assert_memory_equal(g->data, lv[1] + strlen(hdr), g->n);
	for (int i = 0; i < r->np; i++)
		assert_true(r->p[i].reading < 48);
	rec_free(r);

	/* deep enough: the keyword comes out three decodings down */
	r = decode_lim(lv[3], strlen(lv[3]), NULL);
	const struct rpart *t = part_ct(r, 48, "text/plain");

	assert_int_equal(t->depth, 3);
	assert_part_data(t, "Project Bluebird\r\n");
	assert_false(has_anom(r, "mime.depth_exceeded"));
	rec_free(r);
}

/* Decoded readings inside decoded readings: at most NEST_MAX (15) levels. */
static void rfc822_encoded_nesting_limit(void **st)
{
	static char a[2][16384];
	const char *hdr = "Content-Type: message/rfc822\r\n"
			  "Content-Transfer-Encoding: quoted-printable\r\n\r\n";
	char *cur = a[0], *nxt = a[1];

	/* QP of QP grows by one "3D" per level only */
	snprintf(cur, sizeof(a[0]), "Subject: x\r\n\r\nz=3D");
	for (int i = 0; i < 17; i++) {
		size_t k = (size_t)snprintf(nxt, sizeof(a[0]), "%s", hdr);

		for (const char *c = cur; *c && k + 4 < sizeof(a[0]); c++)
			k += (size_t)(*c == '=' ? snprintf(nxt + k, 4, "=3D") :
					  snprintf(nxt + k, 2, "%c", *c));
		char *t = cur;

		cur = nxt;
		nxt = t;
	}
	struct rec *r = decode(cur);
	unsigned top = 0;

	assert_true(has_anom(r, "mime.depth_exceeded"));
	for (int i = 0; i < r->np; i++)
		if (r->p[i].reading / 16u > top)
			top = r->p[i].reading / 16u;
	assert_int_equal(top, 15);
	rec_free(r);
}

/* Hostile bytes as "base64": nothing crashes, whatever comes out is bounded. */
static void rfc822_garbage_base64(void **st)
{
	uint8_t msg[3000];
	unsigned seed = 99;
	size_t k = (size_t)snprintf((char *)msg, sizeof(msg),
		"Content-Type: multipart/mixed; boundary=g\r\n\r\n--g\r\n"
		"Content-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\n");

	for (size_t i = 0; i < 1500; i++) {
		seed = seed * 1103515245u + 12345u;
		msg[k++] = "AB=\r\n-:-\0g\xff/+ "[(seed >> 8) % 14];
	}
	k += (size_t)snprintf((char *)msg + k, sizeof(msg) - k, "\r\n--g\r\n\r\nafter\r\n--g--");
	struct rec *r = decode_lim(msg, k, NULL);

	assert_true(has_anom(r, "mime.base64_junk"));
	assert_part_data(&r->p[r->np - 1], "after");
	assert_int_equal(r->p[r->np - 1].reading, 0);
	rec_free(r);
}

/* Two encoded messages in a row: the child decoder is reused, numbering
 * afresh; the second's ids are charged after the first's. */
static void rfc822_encoded_siblings(void **st)
{
	char msg[2048], b[512];
	const char *one = "Subject: one\r\n\r\nfirst body\r\n";
	const char *two = "Subject: two\r\n\r\nsecond body\r\n";
	size_t k = (size_t)snprintf(msg, sizeof(msg),
		"Content-Type: multipart/mixed; boundary=s\r\n\r\n--s\r\n"
		"Content-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\n");

	b64_encode(one, strlen(one), b, sizeof(b));
	k += (size_t)snprintf(msg + k, sizeof(msg) - k, "%s--s\r\nContent-Type: message/rfc822\r\n"
			      "Content-Transfer-Encoding: base64\r\n\r\n", b);
	b64_encode(two, strlen(two), b, sizeof(b));
	k += (size_t)snprintf(msg + k, sizeof(msg) - k, "%s--s--\r\n", b);
	struct rec *r = decode_lim(msg, k, NULL);

	/* raw: 1 multipart, 2 message, 3 its message; charged 1: 5 message, 6 */
	assert_non_null(strstr(r->dec[1].log, "H 1 d2 Subject=one\nB 1.16 p2 d2 "));
	assert_non_null(strstr(r->dec[1].log, "H 1 d2 Subject=two\nB 1.16 p5 d2 "));
	int n = 0;

	for (int i = 0; i < r->np; i++) {
		if (r->p[i].reading != 16)
			continue;
		assert_part_data(&r->p[i], n++ ? "second body\r\n" : "first body\r\n");
	}
	assert_int_equal(n, 2);
	rec_free(r);
}

/* ---- memory accounting (sl_mime_cb.mem_take / mem_give) ------------------ */

struct acct {
	struct rec r;		/* first: the rec_cb callbacks see a struct rec */
	size_t cap, used;	/* cap 0: unlimited */
	unsigned refused;
};

static bool acct_take(void *u, size_t n)
{
	struct acct *a = u;

	if (a->cap && n > a->cap - a->used) {
		a->refused++;
		return false;
	}
	a->used += n;
	return true;
}

static void acct_give(void *u, size_t n)
{
	struct acct *a = u;

	assert_true(n <= a->used);
	a->used -= n;
}

#define LONG_OUTER 20000	/* Subject of the outer message */
#define LONG_INNER 5000		/* a field of the decoded message */

/* Outer message with a long field, a text part and a base64 message/rfc822
 * whose message has a long field too. */
static size_t acct_msg(char *msg, size_t cap)
{
	static char inner[LONG_INNER + 1024], b[2 * sizeof(inner)];
	size_t k = (size_t)snprintf(inner, sizeof(inner), "X-Long: %0*d\r\n%s", LONG_INNER, 7,
				    fwd_inner);

	b64_encode(inner, k, b, sizeof(b));
	return (size_t)snprintf(msg, cap,
		"Subject: %0*d\r\nContent-Type: multipart/mixed; boundary=out\r\n\r\n"
		"--out\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n"
		"--out\r\nContent-Type: message/rfc822\r\n"
		"Content-Transfer-Encoding: base64\r\n\r\n%s--out--\r\n", LONG_OUTER, 1, b);
}

/* Decodes the message under cap, cut in pieces of step bytes; leaves the
 * decoder alive in *mp (finished) so the caller sees what it still holds. */
static struct acct *acct_run(size_t cap, size_t step, struct sl_mime **mp)
{
	static char msg[LONG_OUTER + 4 * LONG_INNER + 8192];
	size_t n = acct_msg(msg, sizeof(msg));
	struct acct *a = calloc(1, sizeof(*a));
	struct sl_mime_cb cb = rec_cb;

	assert_non_null(a);
	a->cap = cap;
	cb.mem_take = acct_take;
	cb.mem_give = acct_give;
	*mp = sl_mime_new(NULL, &cb, a, NULL);
	assert_non_null(*mp);
	for (size_t i = 0; i < n; i += step)
		sl_mime_feed(*mp, (const uint8_t *)msg + i, n - i < step ? n - i : step);
	sl_mime_finish(*mp);
	return a;
}

static bool any_reading(const struct rec *r, unsigned reading)
{
	for (int i = 0; i < r->np; i++)
		if (r->p[i].reading == reading)
			return true;
	return false;
}

/* Unlimited: the long fields' buffers and the child decoder are charged
 * while the decoder keeps them, and given back exactly by sl_mime_reset and
 * sl_mime_free. */
static void mem_charged_and_given_back(void **st)
{
	size_t state = sl_mime_state_size(NULL);
	struct sl_mime *m;
	struct acct *a = acct_run(0, 1 << 20, &m);

	assert_false(has_anom(&a->r, "mime.memcap"));
	assert_part_data(part_ct(&a->r, 16, "text/plain"), "Project Bluebird is confidential");
	/* the child (its state), and header buffers for 20000 and 5000 bytes
	 * (each 4 x its capacity, a power of two) */
	assert_true(a->used >= state + 4 * (LONG_OUTER + LONG_INNER));
	assert_true(a->used <= state + 8 * (LONG_OUTER + LONG_INNER));
	sl_mime_reset(m);
	assert_int_equal(a->used, 0);
	sl_mime_feed(m, (const uint8_t *)"Subject: 2\r\n\r\nsecond", 20);
	sl_mime_finish(m);
	assert_int_equal(a->used, 0);
	sl_mime_free(m);
	assert_int_equal(a->used, 0);
	rec_free(&a->r);

	/* byte by byte: the same charge comes back */
	a = acct_run(0, 1, &m);
	assert_true(a->used >= state + 4 * (LONG_OUTER + LONG_INNER));
	sl_mime_free(m);
	assert_int_equal(a->used, 0);
	rec_free(&a->r);
}

/* Refusals degrade, never lose: a long field that cannot be kept makes the
 * entity's rest one raw part (mime.memcap), a child decoder that cannot be
 * charged is not created (the raw reading stays). */
static void mem_refused_degrades(void **st)
{
	size_t state = sl_mime_state_size(NULL);
	size_t outer = 4 * (32768 - 2048);	/* the outer field's buffers */
	struct sl_mime *m;

	/* nothing beyond the state: the outer headers give up at Subject */
	for (size_t step = 1; step <= (1 << 20); step <<= 10) {
		struct acct *a = acct_run(1, step, &m);

		assert_true(a->refused >= 1);
		assert_true(has_anom(&a->r, "mime.memcap"));
		assert_true(has_anom(&a->r, "mime.gave_up"));
		assert_false(has_anom(&a->r, "mime.header_too_long"));
		assert_int_equal(a->r.np, 1);
		assert_true(a->r.p[0].raw);
		assert_non_null(memmem(a->r.p[0].data, a->r.p[0].n, "see attached", 12));
		assert_non_null(memmem(a->r.p[0].data, a->r.p[0].n, "--out--", 7));
		assert_false(any_reading(&a->r, 16));
		sl_mime_free(m);
		assert_int_equal(a->used, 0);
		rec_free(&a->r);
	}

	/* room for the outer field, not for the child: raw reading only */
	struct acct *a = acct_run(outer + state - 1, 1 << 20, &m);

	assert_true(has_anom(&a->r, "mime.memcap"));
	assert_non_null(strstr(a->r.log, "encoded message/rfc822 not decoded"));
	assert_part_data(part_ct(&a->r, 0, "text/plain"), "see attached");
	assert_false(any_reading(&a->r, 16));
	assert_int_equal(a->r.np, 2);	/* the text, the rfc822's base64 body raw */
	assert_non_null(memmem(a->r.p[1].data, a->r.p[1].n, "WC1Mb25n", 8));	/* "X-Long" */
	assert_int_equal(a->used, outer);
	sl_mime_free(m);
	assert_int_equal(a->used, 0);
	rec_free(&a->r);

	/* room for the child, not for its long field: the decoded message's
	 * rest is one raw part of the decoded reading */
	a = acct_run(outer + state, 1 << 20, &m);
	assert_null(strstr(a->r.log, "mime.memcap"));
	assert_non_null(strstr(a->r.dec[1].log, "A mime.memcap part 1"));
	const struct rpart *g = part_ct(&a->r, 16, "text/plain");

	assert_true(g->raw);
	assert_non_null(memmem(g->data, g->n, "Project Bluebird is confidential", 32));
	sl_mime_free(m);
	assert_int_equal(a->used, 0);
	rec_free(&a->r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(single_part_keeps_body_and_unfolds),
		cmocka_unit_test(multipart_crlf_before_delimiter_belongs_to_it),
		cmocka_unit_test(bare_lf_message),
		cmocka_unit_test(nested_and_message_rfc822),
		cmocka_unit_test(outer_delimiter_closes_inner_parts),
		cmocka_unit_test(rfc2047_headers),
		cmocka_unit_test(rfc2231_and_filename_conflict),
		cmocka_unit_test(base64_tolerant),
		cmocka_unit_test(base64_pad_in_middle_two_readings),
		cmocka_unit_test(quoted_printable),
		cmocka_unit_test(identity_encodings_and_unknown),
		cmocka_unit_test(uuencode_in_text_is_extra_part),
		cmocka_unit_test(duplicate_cte_both_readings),
		cmocka_unit_test(conflicting_boundaries_either_delimits),
		cmocka_unit_test(missing_final_boundary),
		cmocka_unit_test(preamble_and_epilogue),
		cmocka_unit_test(boundary_never_found),
		cmocka_unit_test(multipart_without_boundary_is_raw),
		cmocka_unit_test(unusual_boundaries),
		cmocka_unit_test(boundary_lookalike_and_prefix),
		cmocka_unit_test(bare_cr_delimiter_is_text),
		cmocka_unit_test(long_transport_padding),
		cmocka_unit_test(part_after_close_is_decoded),
		cmocka_unit_test(double_delimiter_no_empty_part),
		cmocka_unit_test(digest_default_type),
		cmocka_unit_test(classification),
		cmocka_unit_test(header_anomalies),
		cmocka_unit_test(header_no_colon_reads_on),
		cmocka_unit_test(header_no_colon_in_multipart),
		cmocka_unit_test(header_no_colon_limits),
		cmocka_unit_test(limit_depth),
		cmocka_unit_test(limit_parts_and_headers),
		cmocka_unit_test(readings_limit),
		cmocka_unit_test(large_attachment_streams),
		cmocka_unit_test(reset_reuses_decoder),
		cmocka_unit_test(rfc822_base64_decoded_reading),
		cmocka_unit_test(rfc822_qp_decoded_reading),
		cmocka_unit_test(rfc822_encoded_nesting_depth),
		cmocka_unit_test(rfc822_encoded_nesting_limit),
		cmocka_unit_test(rfc822_garbage_base64),
		cmocka_unit_test(rfc822_encoded_siblings),
		cmocka_unit_test(mem_charged_and_given_back),
		cmocka_unit_test(mem_refused_degrades),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
