/* Replays a libFuzzer target over a corpus directory without libFuzzer:
 * each file is fed once to LLVMFuzzerTestOneInput.  Lets ordinary builds
 * (and the sanitizer build) keep every corpus entry as a regression test. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	struct stat st;

	if (!f || fstat(fileno(f), &st) != 0) {
		fprintf(stderr, "fuzz_main: cannot read %s\n", path);
		if (f)
			fclose(f);
		return -1;
	}
	size_t n = (size_t)st.st_size;
	uint8_t *buf = malloc(n ? n : 1);
	if (!buf || fread(buf, 1, n, f) != n) {
		fprintf(stderr, "fuzz_main: short read on %s\n", path);
		free(buf);
		fclose(f);
		return -1;
	}
	fclose(f);
	LLVMFuzzerTestOneInput(buf, n);
	free(buf);
	return 0;
}

int main(int argc, char **argv)
{
	int files = 0, errors = 0;

	for (int i = 1; i < argc; i++) {
		DIR *d = opendir(argv[i]);
		if (!d) {
			errors += run_file(argv[i]) != 0;
			files++;
			continue;
		}
		struct dirent *e;
		while ((e = readdir(d))) {
			char p[4096];
			if (e->d_name[0] == '.')
				continue;
			snprintf(p, sizeof(p), "%s/%s", argv[i], e->d_name);
			errors += run_file(p) != 0;
			files++;
		}
		closedir(d);
	}
	/* An empty corpus (or an empty input) still exercises the target once. */
	LLVMFuzzerTestOneInput((const uint8_t *)"", 0);
	printf("replayed %d inputs, %d unreadable\n", files, errors);
	return errors ? 1 : 0;
}
