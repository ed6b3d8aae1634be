/* Test content for the ClamAV tests, built at run time.
 *
 * The EICAR test string is never stored whole in the repository or in a test
 * binary: it is glued from two halves, so virus scanners on developer
 * machines do not quarantine the tree.  See test/clamav/README.md. */
#ifndef SL_TEST_SCAN_FIXTURES_H
#define SL_TEST_SCAN_FIXTURES_H

#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#ifndef SL_TEST_CLAMAV_DIR
#error "meson passes SL_TEST_CLAMAV_DIR (test/clamav)"
#endif

#define TEST_DB_DIR SL_TEST_CLAMAV_DIR
#define TEST_DB_HDB SL_TEST_CLAMAV_DIR "/sluice-test.hdb"
#define TEST_DB_NDB SL_TEST_CLAMAV_DIR "/sluice-test.ndb"

#define TEST_MARKER "SLUICE-TEST-MALWARE-MARKER-5f0c2a"
#define EICAR_LEN 68

/* Writes the 68-byte EICAR string (no NUL) into out. */
static inline void eicar(uint8_t out[EICAR_LEN])
{
	static const char a[] = "X5O!P%@AP[4\\PZX54(P^)7CC";
	static const char b[] = ")7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";

	memcpy(out, a, sizeof(a) - 1);
	memcpy(out + sizeof(a) - 1, b, sizeof(b) - 1);
}

struct tbuf {
	uint8_t *p;
	size_t n, cap;
};

static inline void tb_put(struct tbuf *b, const void *p, size_t n)
{
	if (n == 0)
		return;
	if (b->n + n > b->cap) {
		b->cap = (b->n + n) * 2 + 64;
		b->p = realloc(b->p, b->cap);
		if (!b->p)
			abort();
	}
	memcpy(b->p + b->n, p, n);
	b->n += n;
}

static inline void tb_str(struct tbuf *b, const char *s)
{
	tb_put(b, s, strlen(s));
}

static inline void tb_le16(struct tbuf *b, unsigned v)
{
	uint8_t x[2] = { (uint8_t)v, (uint8_t)(v >> 8) };

	tb_put(b, x, 2);
}

static inline void tb_le32(struct tbuf *b, uint32_t v)
{
	uint8_t x[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24) };

	tb_put(b, x, 4);
}

/* The fields a zip local header and central directory entry share:
 * version needed, flags, method (deflate), time, date, crc, sizes. */
static inline void zip_common(struct tbuf *z, uint32_t crc, uint32_t clen, uint32_t n)
{
	tb_le16(z, 20);
	tb_le16(z, 0);
	tb_le16(z, 8);
	tb_le16(z, 0);
	tb_le16(z, 0x21);
	tb_le32(z, crc);
	tb_le32(z, clen);
	tb_le32(z, n);
}

/* A one-member zip archive, deflated (so the member's bytes do not appear
 * in the archive: a match proves ClamAV unpacked it). */
static inline struct tbuf make_zip(const char *name, const uint8_t *data, size_t n)
{
	struct tbuf z = { 0 };
	uLongf clen = compressBound(n) + 64;
	uint8_t *comp = malloc(clen);
	z_stream zs = { 0 };
	uint32_t crc = crc32(0, data, n);
	size_t nl = strlen(name);

	if (!comp || deflateInit2(&zs, 9, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		abort();
	zs.next_in = (Bytef *)data;
	zs.avail_in = n;
	zs.next_out = comp;
	zs.avail_out = clen;
	if (deflate(&zs, Z_FINISH) != Z_STREAM_END)
		abort();
	clen = zs.total_out;
	deflateEnd(&zs);

	tb_le32(&z, 0x04034b50);		/* local file header */
	zip_common(&z, crc, clen, n);
	tb_le16(&z, nl);
	tb_le16(&z, 0);
	tb_put(&z, name, nl);
	tb_put(&z, comp, clen);
	size_t cd = z.n;
	tb_le32(&z, 0x02014b50);		/* central directory */
	tb_le16(&z, 20);			/* version made by */
	zip_common(&z, crc, clen, n);
	tb_le16(&z, nl);
	tb_le16(&z, 0);
	tb_le16(&z, 0);
	tb_le16(&z, 0);
	tb_le16(&z, 0);
	tb_le32(&z, 0);
	tb_le32(&z, 0);				/* local header offset */
	tb_put(&z, name, nl);
	size_t cdlen = z.n - cd;
	tb_le32(&z, 0x06054b50);		/* end of central directory */
	tb_le16(&z, 0);
	tb_le16(&z, 0);
	tb_le16(&z, 1);
	tb_le16(&z, 1);
	tb_le32(&z, cdlen);
	tb_le32(&z, cd);
	tb_le16(&z, 0);
	free(comp);
	return z;
}

/* An RFC 5322 message: a text part and one base64 attachment, lines of
 * 76 characters, CRLF. */
static inline struct tbuf make_mail(const char *first_header, const uint8_t *att, size_t n)
{
	struct tbuf m = { 0 };
	size_t b64len = 4 * ((n + 2) / 3);
	char *b64 = malloc(b64len + 1);

	if (!b64)
		abort();
	EVP_EncodeBlock((unsigned char *)b64, att, (int)n);
	tb_str(&m, first_header);
	tb_str(&m, "From: alice@example.org\r\nTo: bob@example.net\r\nSubject: report\r\n"
		   "MIME-Version: 1.0\r\n"
		   "Content-Type: multipart/mixed; boundary=\"=_b1\"\r\n\r\n"
		   "This is a multi-part message in MIME format.\r\n"
		   "--=_b1\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
		   "Please find the report attached.\r\n"
		   "--=_b1\r\nContent-Type: application/octet-stream; name=\"report.txt\"\r\n"
		   "Content-Transfer-Encoding: base64\r\n"
		   "Content-Disposition: attachment; filename=\"report.txt\"\r\n\r\n");
	for (size_t i = 0; i < b64len; i += 76) {
		tb_put(&m, b64 + i, b64len - i < 76 ? b64len - i : 76);
		tb_str(&m, "\r\n");
	}
	tb_str(&m, "--=_b1--\r\n");
	free(b64);
	return m;
}

/* EICAR followed by a newline, as a mail client saves it. */
static inline struct tbuf eicar_nl(void)
{
	struct tbuf b = { 0 };
	uint8_t e[EICAR_LEN];

	eicar(e);
	tb_put(&b, e, sizeof(e));
	tb_str(&b, "\n");
	return b;
}

#endif
