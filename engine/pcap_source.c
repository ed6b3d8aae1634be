/* pcap / pcapng reader (contract in pcap_source.h).
 *
 * libpcap reports problems in its own words ("truncated dump file; tried to
 * read 16 header bytes, only got 5"); we turn them into messages that name
 * the file and the packet and say what it means for the user, and keep
 * libpcap's text in parentheses for the details. */
#include "pcap_source.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bytes.h"

struct sl_pcap_source {
	pcap_t *pc;
	char *buf;			/* the FILE's stdio buffer (see buffered()) */
	int linktype;
	char name[256];			/* for messages: the path, or "<stdin>" */
	char err[PCAP_ERRBUF_SIZE + 512];
	struct sl_pcap_stats st;
};

/* File magics worth a hint when a capture is not one. */
static const struct {
	uint8_t m[4];
	unsigned len;
	const char *hint;
} magic_hints[] = {
	{ { 0x1f, 0x8b }, 2, "gzip-compressed: decompress it first" },
	{ { 0x28, 0xb5, 0x2f, 0xfd }, 4, "zstd-compressed: decompress it first" },
	{ { 0xfd, 0x37, 0x7a, 0x58 }, 4, "xz-compressed: decompress it first" },
	{ { 0x42, 0x5a, 0x68 }, 3, "bzip2-compressed: decompress it first" },
	{ { 0x50, 0x4b, 0x03, 0x04 }, 4, "a zip archive: extract the capture first" },
};

static bool is_capture_magic(uint32_t be)
{
	switch (be) {
	case 0xa1b2c3d4: case 0xd4c3b2a1:	/* pcap, microseconds */
	case 0xa1b23c4d: case 0x4d3cb2a1:	/* pcap, nanoseconds */
	case 0x0a0d0d0a:			/* pcapng section header */
		return true;
	default:
		return false;
	}
}

/* Explains why libpcap refused a regular file, from its first bytes. */
static void explain_open_failure(const char *path, const char *name, const char *pcap_msg,
				 char *err, size_t errlen)
{
	uint8_t m[4] = { 0 };
	FILE *f = fopen(path, "rb");
	size_t n = f ? fread(m, 1, sizeof(m), f) : 0;

	if (f)
		fclose(f);
	if (n < sizeof(m)) {
		snprintf(err, errlen, "%s: too short to be a capture (%zu bytes)", name, n);
		return;
	}
	uint32_t be = sl_be32(m);
	if (is_capture_magic(be)) {
		if (strstr(pcap_msg, "truncated"))
			snprintf(err, errlen, "%s: the file ends inside the capture file header: "
				 "not a complete capture (libpcap: %s)", name, pcap_msg);
		else
			snprintf(err, errlen, "%s: damaged capture file header (libpcap: %s)",
				 name, pcap_msg);
		return;
	}
	for (unsigned i = 0; i < SL_ARRAY_SIZE(magic_hints); i++) {
		if (memcmp(m, magic_hints[i].m, magic_hints[i].len) == 0) {
			snprintf(err, errlen, "%s: not a pcap or pcapng file (%s)", name,
				 magic_hints[i].hint);
			return;
		}
	}
	snprintf(err, errlen, "%s: not a pcap or pcapng file (magic 0x%08x)", name, be);
}

/* libpcap reads each record with two fread() calls; with stdio's default
 * 4 KiB buffer that is one read(2) per ~3 full-size packets, the largest
 * cost of reading a capture.  A 1 MiB buffer makes them negligible.  glibc
 * ignores the size unless it is given the buffer, so we allocate it; it
 * must outlive the FILE, which pcap_close() closes. */
#define READ_BUFFER (1u << 20)

static FILE *buffered(FILE *f, char **buf)
{
	*buf = NULL;
	if (f && (*buf = malloc(READ_BUFFER)) != NULL)
		setvbuf(f, *buf, _IOFBF, READ_BUFFER);
	return f;
}

static pcap_t *open_stdin(char *err, size_t errlen, char *pcap_err, char **buf)
{
	int fd = dup(STDIN_FILENO);
	FILE *f = fd >= 0 ? buffered(fdopen(fd, "rb"), buf) : NULL;

	if (!f) {
		if (fd >= 0)
			close(fd);
		snprintf(err, errlen, "<stdin>: cannot read standard input: %s", strerror(errno));
		return NULL;
	}
	pcap_t *pc = pcap_fopen_offline(f, pcap_err);
	if (!pc) {
		fclose(f);
		free(*buf);
		*buf = NULL;
		if (strstr(pcap_err, "only got 0"))
			snprintf(err, errlen, "<stdin>: empty input: nothing to read");
		else if (strstr(pcap_err, "unknown file format"))
			snprintf(err, errlen, "<stdin>: not a pcap or pcapng file (libpcap: %s)",
				 pcap_err);
		else
			snprintf(err, errlen, "<stdin>: cannot read the capture (libpcap: %s)",
				 pcap_err);
	}
	return pc;
}

static pcap_t *open_file(const char *path, char *err, size_t errlen, char *pcap_err,
			 char **buf)
{
	struct stat st;

	if (stat(path, &st) != 0) {
		snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		return NULL;
	}
	if (S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "%s: is a directory, not a capture file", path);
		return NULL;
	}
	if (S_ISREG(st.st_mode) && st.st_size == 0) {
		snprintf(err, errlen, "%s: empty file (0 bytes): nothing to read", path);
		return NULL;
	}
	FILE *f = buffered(fopen(path, "rb"), buf);
	if (!f) {
		snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		return NULL;
	}
	/* On success pcap_close() closes f. */
	pcap_t *pc = pcap_fopen_offline(f, pcap_err);
	if (!pc) {
		fclose(f);
		free(*buf);
		*buf = NULL;
		if (S_ISREG(st.st_mode))
			explain_open_failure(path, path, pcap_err, err, errlen);
		else
			snprintf(err, errlen, "%s: cannot read the capture (libpcap: %s)", path,
				 pcap_err);
	}
	return pc;
}

struct sl_pcap_source *sl_pcap_open(const char *path, char *err, size_t errlen)
{
	char pcap_err[PCAP_ERRBUF_SIZE] = "";
	char dummy[1];
	bool from_stdin = strcmp(path, "-") == 0;

	if (errlen == 0) {
		err = dummy;
		errlen = sizeof(dummy);
	}
	err[0] = '\0';
	char *buf = NULL;
	pcap_t *pc = from_stdin ? open_stdin(err, errlen, pcap_err, &buf)
				: open_file(path, err, errlen, pcap_err, &buf);
	if (!pc)
		return NULL;

	struct sl_pcap_source *s = calloc(1, sizeof(*s));
	if (!s) {
		pcap_close(pc);
		free(buf);
		snprintf(err, errlen, "%s: out of memory", path);
		return NULL;
	}
	s->pc = pc;
	s->buf = buf;
	s->linktype = pcap_datalink(pc);
	snprintf(s->name, sizeof(s->name), "%s", from_stdin ? "<stdin>" : path);
	return s;
}

static enum sl_pcap_status record_error(struct sl_pcap_source *s)
{
	const char *msg = pcap_geterr(s->pc);
	uint64_t at = s->st.packets + 1;
	char done[64];

	if (s->st.packets)
		snprintf(done, sizeof(done), "packets 1-%llu were read",
			 (unsigned long long)s->st.packets);
	else
		snprintf(done, sizeof(done), "no packet was complete before it");
	if (strstr(msg, "truncated"))
		snprintf(s->err, sizeof(s->err),
			 "%s: truncated at packet %llu: the capture ends mid-record; %s "
			 "(libpcap: %s)", s->name, (unsigned long long)at, done, msg);
	else
		snprintf(s->err, sizeof(s->err),
			 "%s: damaged record at packet %llu: %s; %s", s->name,
			 (unsigned long long)at, msg, done);
	return SL_PCAP_ERROR;
}

enum sl_pcap_status sl_pcap_next(struct sl_pcap_source *s, struct sl_packet *p)
{
	struct pcap_pkthdr *h;
	const u_char *data;
	int rc;

	/* 0 (timeout) only happens on live captures; loop for safety. */
	while ((rc = pcap_next_ex(s->pc, &h, &data)) == 0)
		;
	if (rc == PCAP_ERROR_BREAK)
		return SL_PCAP_EOF;
	if (rc != 1)
		return record_error(s);

	memset(p, 0, sizeof(*p));
	s->st.packets++;
	s->st.bytes += h->caplen;
	p->index = s->st.packets;
	p->ts_us = h->ts.tv_sec < 0 ? 0
		: (uint64_t)h->ts.tv_sec * 1000000u + (uint64_t)(h->ts.tv_usec % 1000000);
	p->frame = data;
	p->cap_len = h->caplen;
	/* A record claiming fewer bytes on the wire than captured is damaged
	 * bookkeeping, not a cut packet: trust what is there. */
	p->wire_len = h->len < h->caplen ? h->caplen : h->len;
	p->linktype = s->linktype;
	if (p->cap_len < p->wire_len) {
		p->flags |= SL_PKT_TRUNCATED;
		s->st.truncated++;
	}
	return SL_PCAP_PACKET;
}

const char *sl_pcap_error(const struct sl_pcap_source *s)
{
	return s->err;
}

int sl_pcap_linktype(const struct sl_pcap_source *s)
{
	return s->linktype;
}

void sl_pcap_stats(const struct sl_pcap_source *s, struct sl_pcap_stats *st)
{
	*st = s->st;
}

void sl_pcap_close(struct sl_pcap_source *s)
{
	if (!s)
		return;
	pcap_close(s->pc);
	free(s->buf);
	free(s);
}
