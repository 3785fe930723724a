// SPDX-License-Identifier: MIT
/*
 * replay.c - main() for fuzz targets built without libFuzzer (gcc, or clang
 * without VUC_FUZZ): runs every file named on the command line, or every
 * file in each directory named, through LLVMFuzzerTestOneInput() once.
 * This is how corpus/<target>/ runs as an ordinary ctest in every build.
 *
 * Exit status: 0 when every input ran (a crash or a sanitizer report ends
 * the process before that), 2 when an input could not be read.
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

static int run_file(const char *path)
{
	uint8_t *buf = NULL;
	long len;
	FILE *f;
	int ret = -1;

	f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (fseek(f, 0, SEEK_END) < 0 || (len = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) < 0) {
		fprintf(stderr, "replay: %s: cannot size: %s\n", path,
			strerror(errno));
		goto out;
	}
	/* An exact-size heap copy, so ASan sees any read past the input. */
	buf = malloc(len ? (size_t)len : 1);
	if (!buf || (len && fread(buf, 1, (size_t)len, f) != (size_t)len)) {
		fprintf(stderr, "replay: %s: read failed\n", path);
		goto out;
	}
	LLVMFuzzerTestOneInput(buf, (size_t)len);
	ret = 0;
out:
	free(buf);
	fclose(f);
	return ret;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Files of a directory in name order, so a run is reproducible. */
static int run_dir(const char *dir, unsigned int *count)
{
	char **names = NULL, path[4096];
	size_t n = 0, cap = 0, i;
	struct dirent *de;
	int ret = 0;
	DIR *d;

	d = opendir(dir);
	if (!d) {
		fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
		return -1;
	}
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if (n == cap) {
			char **more;

			cap = cap ? cap * 2 : 64;
			more = realloc(names, cap * sizeof(*names));
			if (!more) {
				ret = -1;
				goto out;
			}
			names = more;
		}
		names[n] = strdup(de->d_name);
		if (!names[n]) {
			ret = -1;
			goto out;
		}
		n++;
	}
	qsort(names, n, sizeof(*names), cmp_names);
	for (i = 0; i < n && ret == 0; i++) {
		struct stat st;

		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
			ret = run_file(path);
			(*count)++;
		}
	}
out:
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	closedir(d);
	return ret;
}

int main(int argc, char **argv)
{
	unsigned int count = 0;
	int i;

	if (LLVMFuzzerInitialize)
		LLVMFuzzerInitialize(&argc, &argv);
	if (argc < 2) {
		fprintf(stderr,
			"usage: %s FILE|DIR...\n"
			"Runs each input through the fuzz target once.\n",
			argv[0]);
		return 2;
	}
	for (i = 1; i < argc; i++) {
		struct stat st;

		if (stat(argv[i], &st) < 0) {
			fprintf(stderr, "replay: %s: %s\n", argv[i],
				strerror(errno));
			return 2;
		}
		if (S_ISDIR(st.st_mode) ? run_dir(argv[i], &count) < 0
					: (count++, run_file(argv[i]) < 0))
			return 2;
	}
	printf("replay: %u inputs ran\n", count);
	return 0;
}
