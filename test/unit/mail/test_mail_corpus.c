/* Real conversations from public captures (corpus/README.md): each .conv
 * file is replayed through sl_app - whole, byte by byte and at random cuts,
 * and split at every position when small - and the number of completed
 * messages must match corpus/expected.tsv.
 *
 * With file arguments it is a replay tool instead: it prints, per file,
 * the messages begun, ended and aborted and the anomalies raised. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"

/* Above this, the every-position split is skipped (it is quadratic). */
#define SPLIT_ALL_MAX 6000

static struct conv *load(const char *path)
{
	FILE *f = fopen(path, "rb");
	struct conv *cv = calloc(1, sizeof(*cv));
	struct conv_chunk *ch = NULL;
	size_t n = 0, cap = 0;
	unsigned port;

	if (!f || !cv || fscanf(f, "SLCV1 %u\n", &port) != 1) {
		fprintf(stderr, "cannot read %s\n", path);
		exit(1);
	}
	cv->port = (uint16_t)port;
	for (;;) {
		uint8_t h[5];
		if (fread(h, 1, 5, f) != 5)
			break;
		size_t len = (size_t)h[1] << 24 | (size_t)h[2] << 16 | (size_t)h[3] << 8 | h[4];
		char *data = malloc(len ? len : 1);
		if (!data || fread(data, 1, len, f) != len) {
			fprintf(stderr, "short record in %s\n", path);
			exit(1);
		}
		if (n == cap) {
			cap = cap ? 2 * cap : 64;
			ch = realloc(ch, cap * sizeof(*ch));
		}
		ch[n++] = (struct conv_chunk){ h[0] == 'C' ? SL_TO_SERVER : SL_TO_CLIENT, data,
					       len };
	}
	fclose(f);
	cv->chunks = ch;
	cv->n = n;
	return cv;
}

static size_t total_bytes(const struct conv *cv)
{
	size_t t = 0;

	for (size_t i = 0; i < cv->n; i++)
		t += cv->chunks[i].len;
	return t;
}

static unsigned count(const char *t, const char *prefix)
{
	unsigned k = 0;
	size_t pl = strlen(prefix);

	for (const char *l = t; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL)
		k += strncmp(l, prefix, pl) == 0;
	return k;
}

/* Replay tool mode. */
static int survey(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		struct conv *cv = load(argv[i]);
		char *t = conv_run(cv, CONV_WHOLE, 0, 0);
		printf("%s\tbegin=%u\tend=%u\tabort=%u\t", argv[i], count(t, "begin #"),
		       count(t, "end #"), count(t, "abort #"));
		for (const char *l = t; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
			if (!strncmp(l, "anomaly ", 8) || !strncmp(l, "note ", 5)) {
				const char *e = strchr(l, '\n');
				printf("[%.*s] ", (int)(e ? e - l : (long)strlen(l)), l);
			}
		}
		printf("\n");
		if (getenv("SL_MAIL_PRINT"))
			printf("%s", t);
		free(t);
		conv_free(cv);
	}
	return 0;
}

static void test_corpus(void **state)
{
	const char *dir = getenv("SL_MAIL_CORPUS");
	char path[4096], name[1024];
	unsigned want, files = 0;
	(void)state;

	if (!dir)
		skip();
	snprintf(path, sizeof(path), "%s/expected.tsv", dir);
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	char line[2048];
	while (fgets(line, sizeof(line), f)) {
		if (line[0] == '#' || sscanf(line, "%1023s %u", name, &want) != 2)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, name);
		struct conv *cv = load(path);
		char *t;
		if (total_bytes(cv) <= SPLIT_ALL_MAX) {
			t = conv_check(cv, NULL);
		} else {
			t = conv_run(cv, CONV_WHOLE, 0, 0);
			char *b = conv_run(cv, CONV_BYTES, 0, 0);
			assert_string_equal(t, b);
			free(b);
			for (size_t seed = 1; seed <= 4; seed++) {
				b = conv_run(cv, CONV_RANDOM, 0, seed);
				assert_string_equal(t, b);
				free(b);
			}
		}
		if (count(t, "end #") != want) {
			fprintf(stderr, "%s: %u messages, want %u\n%s", name, count(t, "end #"),
				want, t);
			fail();
		}
		free(t);
		conv_free(cv);
		files++;
	}
	fclose(f);
	assert_true(files > 0);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_corpus),
	};

	if (argc > 1)
		return survey(argc, argv);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
