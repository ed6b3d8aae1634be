/* mime_dump: decodes an .eml file with the streaming MIME decoder and prints
 * one line per part reading (at its end):
 *
 *   part <id> <reading> <kind> <content-type> <filename|-> <size> <sha256> <encoding> <flags>
 *
 * tab-separated; kind is body, preamble, preamble-body (a multipart whose
 * first delimiter never came: the preamble is its whole body, as Python
 * reads it), epilogue or uuencode; flags: r = raw fallback, a = attachment,
 * t = text.  With -v also "header" and "anomaly" lines.  -c N feeds the
 * file in N-byte chunks (default: whole). */
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mime.h"

#define OPEN_MAX 32

struct open_part {
	uint32_t id;
	uint8_t reading;
	bool used;
	bool not_found;
	uint64_t size;
	EVP_MD_CTX *md;
};

struct dump {
	struct open_part o[OPEN_MAX];
	bool verbose;
	bool nf_next;	/* boundary_not_found came before its preamble began */
};

static struct open_part *find(struct dump *d, const struct sl_mime_part *p)
{
	for (int i = 0; i < OPEN_MAX; i++)
		if (d->o[i].used && d->o[i].id == p->id && d->o[i].reading == p->reading)
			return &d->o[i];
	return NULL;
}

static void on_begin(void *u, const struct sl_mime_part *p)
{
	struct dump *d = u;

	for (int i = 0; i < OPEN_MAX; i++) {
		if (!d->o[i].used) {
			d->o[i] = (struct open_part){ .id = p->id, .reading = p->reading, .used = true };
			d->o[i].not_found = d->nf_next && p->kind == SL_MIME_KIND_PREAMBLE;
			d->nf_next = false;
			d->o[i].md = EVP_MD_CTX_new();
			EVP_DigestInit_ex(d->o[i].md, EVP_sha256(), NULL);
			return;
		}
	}
	fprintf(stderr, "mime_dump: too many open parts\n");
	exit(2);
}

static void on_data(void *u, const struct sl_mime_part *p, const uint8_t *b, size_t n)
{
	struct open_part *o = find(u, p);

	if (o) {
		EVP_DigestUpdate(o->md, b, n);
		o->size += n;
	}
}

static const char *kind_name(const struct sl_mime_part *p, const struct open_part *o)
{
	switch (p->kind) {
	case SL_MIME_KIND_PREAMBLE:
		return o->not_found ? "preamble-body" : "preamble";
	case SL_MIME_KIND_EPILOGUE:
		return "epilogue";
	case SL_MIME_KIND_UUENCODE:
		return "uuencode";
	default:
		return "body";
	}
}

static void on_end(void *u, const struct sl_mime_part *p)
{
	struct open_part *o = find(u, p);
	unsigned char h[32];
	unsigned hl = 0;

	if (!o)
		return;
	EVP_DigestFinal_ex(o->md, h, &hl);
	EVP_MD_CTX_free(o->md);
	printf("part\t%u\t%u\t%s\t%s\t%s\t%llu\t", p->id, p->reading, kind_name(p, o),
	       p->content_type, p->filename ? p->filename : "-", (unsigned long long)o->size);
	for (unsigned i = 0; i < hl; i++)
		printf("%02x", h[i]);
	printf("\t%s\t%s%s%s\n", p->encoding, p->raw_fallback ? "r" : "",
	       p->is_attachment ? "a" : "", p->is_text ? "t" : "");
	o->used = false;
}

static void on_header(void *u, const struct sl_mime_part *p, const char *name, const char *v,
		      size_t n)
{
	struct dump *d = u;

	if (d->verbose)
		printf("header\t%u\t%s\t%.*s\n", p->id, name, (int)n, v);
}

static void on_anomaly(void *u, enum sl_anomaly a, const char *detail)
{
	struct dump *d = u;

	/* raised just before the preamble ends, or begins if it was blank */
	if (a == SL_ANOM_MIME_BOUNDARY_NOT_FOUND) {
		d->nf_next = true;
		for (int i = 0; i < OPEN_MAX; i++)
			if (d->o[i].used)
				d->o[i].not_found = true;
	}
	if (d->verbose)
		printf("anomaly\t%s\t%s\n", sl_anomaly_name(a), detail ? detail : "");
}

int main(int argc, char **argv)
{
	struct dump d = { 0 };
	size_t chunk = 0;
	int c;

	while ((c = getopt(argc, argv, "vc:")) != -1) {
		if (c == 'v')
			d.verbose = true;
		else if (c == 'c')
			chunk = strtoul(optarg, NULL, 10);
		else
			return 2;
	}
	if (optind >= argc) {
		fprintf(stderr, "usage: mime_dump [-v] [-c chunk] file.eml\n");
		return 2;
	}
	FILE *f = fopen(argv[optind], "rb");

	if (!f) {
		perror(argv[optind]);
		return 1;
	}
	size_t cap = 1 << 16, len = 0, r;
	uint8_t *buf = malloc(cap);

	while (buf && (r = fread(buf + len, 1, cap - len, f)) > 0) {
		len += r;
		if (len == cap) {
			uint8_t *nb = realloc(buf, cap *= 2);

			if (!nb) {
				free(buf);
				buf = NULL;
			}
			buf = nb;
		}
	}
	fclose(f);
	if (!buf)
		return 1;
	const struct sl_mime_cb cb = {
		.header = on_header, .part_begin = on_begin, .part_data = on_data,
		.part_end = on_end, .anomaly = on_anomaly,
	};
	struct sl_mime *m = sl_mime_new(NULL, &cb, &d, NULL);

	if (!m)
		return 1;
	if (!chunk)
		chunk = len ? len : 1;
	for (size_t off = 0; off < len; off += chunk)
		sl_mime_feed(m, buf + off, len - off < chunk ? len - off : chunk);
	sl_mime_finish(m);
	sl_mime_free(m);
	free(buf);
	return 0;
}
