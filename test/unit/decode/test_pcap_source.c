/* engine/pcap_source.c over capture files written by the test itself. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <pcap/dlt.h>

#include "pcap_source.h"
#include "pktbuild.h"

static char dir[64];
static uint8_t frames[3][100];

static const char *path_of(const char *name)
{
	static char p[128];

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	return p;
}

static void write_bytes(const char *name, const void *b, size_t n)
{
	FILE *f = fopen(path_of(name), "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(b, 1, n, f), n);
	fclose(f);
}

static const struct pb_rec recs[3] = {
	{ frames[0], 60, 60, 1700000000, 1 },
	{ frames[1], 80, 80, 1700000000, 999999 },
	{ frames[2], 40, 1514, 1700000001, 5 },		/* snap length cut */
};

static int setup(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/sl_pcap_test.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	for (int i = 0; i < 3; i++)
		memset(frames[i], 'a' + i, sizeof(frames[i]));
	return pb_write_pcap(path_of("ok.pcap"), DLT_EN10MB, recs, 3);
}

static int teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void reads_pcap(void **state)
{
	char err[256];
	struct sl_pcap_source *s = sl_pcap_open(path_of("ok.pcap"), err, sizeof(err));
	struct sl_packet p;

	assert_non_null(s);
	assert_int_equal(sl_pcap_linktype(s), DLT_EN10MB);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(sl_pcap_next(s, &p), SL_PCAP_PACKET);
		assert_int_equal(p.index, i + 1);
		assert_int_equal(p.cap_len, recs[i].caplen);
		assert_int_equal(p.wire_len, recs[i].len);
		assert_int_equal(p.ts_us, recs[i].sec * 1000000ull + recs[i].usec);
		assert_int_equal(p.linktype, DLT_EN10MB);
		assert_memory_equal(p.frame, frames[i], p.cap_len);
		assert_int_equal(p.flags, i == 2 ? SL_PKT_TRUNCATED : 0);
	}
	assert_int_equal(sl_pcap_next(s, &p), SL_PCAP_EOF);
	struct sl_pcap_stats st;
	sl_pcap_stats(s, &st);
	assert_int_equal(st.packets, 3);
	assert_int_equal(st.bytes, 180);
	assert_int_equal(st.truncated, 1);
	sl_pcap_close(s);
}

static void reads_pcapng(void **state)
{
	uint8_t f[512];
	size_t n = 0;

	/* Section header block */
	pb_put_le32(f, 0x0a0d0d0a); pb_put_le32(f + 4, 28); pb_put_le32(f + 8, 0x1a2b3c4d);
	f[12] = 1; f[13] = 0; f[14] = 0; f[15] = 0;
	memset(f + 16, 0xff, 8);
	pb_put_le32(f + 24, 28);
	n = 28;
	/* Interface description block: Linux cooked v2 */
	pb_put_le32(f + n, 1); pb_put_le32(f + n + 4, 20);
	f[n + 8] = (uint8_t)DLT_LINUX_SLL2; f[n + 9] = (uint8_t)(DLT_LINUX_SLL2 >> 8);
	f[n + 10] = f[n + 11] = 0;
	pb_put_le32(f + n + 12, 65535); pb_put_le32(f + n + 16, 20);
	n += 20;
	/* Two enhanced packet blocks (microsecond timestamps) */
	for (int i = 0; i < 2; i++) {
		uint32_t cap = 37 + (uint32_t)i, blen = 32 + ((cap + 3) & ~3u);
		uint64_t ts = 1700000000123456ull + (uint64_t)i;

		pb_put_le32(f + n, 6); pb_put_le32(f + n + 4, blen); pb_put_le32(f + n + 8, 0);
		pb_put_le32(f + n + 12, (uint32_t)(ts >> 32));
		pb_put_le32(f + n + 16, (uint32_t)ts);
		pb_put_le32(f + n + 20, cap); pb_put_le32(f + n + 24, cap);
		memset(f + n + 28, 0, blen - 28);
		memcpy(f + n + 28, frames[i], cap);
		pb_put_le32(f + n + blen - 4, blen);
		n += blen;
	}
	write_bytes("ok.pcapng", f, n);

	char err[256];
	struct sl_pcap_source *s = sl_pcap_open(path_of("ok.pcapng"), err, sizeof(err));
	struct sl_packet p;
	assert_non_null(s);
	assert_int_equal(sl_pcap_linktype(s), DLT_LINUX_SLL2);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(sl_pcap_next(s, &p), SL_PCAP_PACKET);
		assert_int_equal(p.index, i + 1);
		assert_int_equal(p.cap_len, 37 + i);
		assert_int_equal(p.ts_us, 1700000000123456ull + (uint64_t)i);
		assert_int_equal(p.linktype, DLT_LINUX_SLL2);
		assert_memory_equal(p.frame, frames[i], p.cap_len);
	}
	assert_int_equal(sl_pcap_next(s, &p), SL_PCAP_EOF);
	sl_pcap_close(s);
}

static uint8_t *slurp(const char *name, size_t *n)
{
	FILE *f = fopen(path_of(name), "rb");
	uint8_t *b = malloc(4096);

	*n = fread(b, 1, 4096, f);
	fclose(f);
	return b;
}

/* Cut the valid file inside record 3's data, then inside its header. */
static void truncated_pcap(void **state)
{
	size_t n;
	uint8_t *b = slurp("ok.pcap", &n);
	size_t rec3 = 24 + 16 + 60 + 16 + 80;
	size_t cuts[2] = { rec3 + 16 + 10, rec3 + 5 };
	char err[256];
	struct sl_packet p;

	for (int c = 0; c < 2; c++) {
		write_bytes("cut.pcap", b, cuts[c]);
		struct sl_pcap_source *s = sl_pcap_open(path_of("cut.pcap"), err, sizeof(err));
		assert_non_null(s);
		assert_int_equal(sl_pcap_next(s, &p), SL_PCAP_PACKET);
		assert_int_equal(sl_pcap_next(s, &p), SL_PCAP_PACKET);
		assert_int_equal(sl_pcap_next(s, &p), SL_PCAP_ERROR);
		const char *m = sl_pcap_error(s);
		assert_non_null(strstr(m, path_of("cut.pcap")));
		assert_non_null(strstr(m, "truncated at packet 3: the capture ends mid-record"));
		assert_non_null(strstr(m, "packets 1-2 were read"));
		sl_pcap_close(s);
	}
	/* Cut inside the first record: nothing was read. */
	write_bytes("cut1.pcap", b, 24 + 16 + 3);
	struct sl_pcap_source *s = sl_pcap_open(path_of("cut1.pcap"), err, sizeof(err));
	assert_non_null(s);
	assert_int_equal(sl_pcap_next(s, &p), SL_PCAP_ERROR);
	assert_non_null(strstr(sl_pcap_error(s), "truncated at packet 1"));
	assert_non_null(strstr(sl_pcap_error(s), "no packet was complete"));
	sl_pcap_close(s);
	free(b);
}

static void not_a_capture(void **state)
{
	char err[256];

	write_bytes("hello.txt", "Hello, world\n", 13);
	assert_null(sl_pcap_open(path_of("hello.txt"), err, sizeof(err)));
	assert_non_null(strstr(err, "hello.txt: not a pcap or pcapng file (magic 0x48656c6c)"));

	write_bytes("x.pcap.gz", "\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03", 10);
	assert_null(sl_pcap_open(path_of("x.pcap.gz"), err, sizeof(err)));
	assert_non_null(strstr(err, "gzip-compressed"));

	write_bytes("empty.pcap", "", 0);
	assert_null(sl_pcap_open(path_of("empty.pcap"), err, sizeof(err)));
	assert_non_null(strstr(err, "empty.pcap: empty file (0 bytes)"));

	write_bytes("short.pcap", "\xd4\xc3", 2);
	assert_null(sl_pcap_open(path_of("short.pcap"), err, sizeof(err)));
	assert_non_null(strstr(err, "too short to be a capture (2 bytes)"));

	/* A pcap magic with a header cut short: damaged, not foreign. */
	write_bytes("hdr.pcap", "\xd4\xc3\xb2\xa1\x02\x00\x04\x00", 8);
	assert_null(sl_pcap_open(path_of("hdr.pcap"), err, sizeof(err)));
	assert_non_null(strstr(err, "ends inside the capture file header"));

	assert_null(sl_pcap_open(path_of("missing.pcap"), err, sizeof(err)));
	assert_non_null(strstr(err, "missing.pcap: cannot open: No such file"));

	assert_null(sl_pcap_open(dir, err, sizeof(err)));
	assert_non_null(strstr(err, "is a directory"));
}

static void reads_stdin(void **state)
{
	int saved = dup(0), fd = open(path_of("ok.pcap"), O_RDONLY);
	char err[256];
	struct sl_packet p;

	assert_true(fd >= 0);
	dup2(fd, 0);
	close(fd);
	struct sl_pcap_source *s = sl_pcap_open("-", err, sizeof(err));
	assert_non_null(s);
	int n = 0;
	while (sl_pcap_next(s, &p) == SL_PCAP_PACKET)
		n++;
	assert_int_equal(n, 3);
	sl_pcap_close(s);

	/* stdin itself stays open for the caller */
	fd = open(path_of("empty.pcap"), O_RDONLY | O_CREAT, 0600);
	dup2(fd, 0);
	close(fd);
	assert_null(sl_pcap_open("-", err, sizeof(err)));
	assert_non_null(strstr(err, "<stdin>: empty input"));
	dup2(saved, 0);
	close(saved);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(reads_pcap),
		cmocka_unit_test(reads_pcapng),
		cmocka_unit_test(truncated_pcap),
		cmocka_unit_test(not_a_capture),
		cmocka_unit_test(reads_stdin),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
