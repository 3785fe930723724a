/* SPDX-License-Identifier: MIT */
/*
 * fuzz_util.h - what every fuzz target shares: a reader that takes typed
 * fields off the input (zeros once it runs dry, so every input decodes),
 * the fd counter behind the leak oracles, the quiet stderr, and the
 * oracle's abort. Header-only: a target is one .c file (plus replay.c).
 */
#ifndef VUC_FUZZ_FUZZ_UTIL_H
#define VUC_FUZZ_FUZZ_UTIL_H

#include <dirent.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* ---- input ------------------------------------------------------------ */

struct fz_in {
	const uint8_t *p;
	size_t n;
};

static inline uint8_t fz_u8(struct fz_in *in)
{
	if (!in->n)
		return 0;
	in->n--;
	return *in->p++;
}

static inline uint16_t fz_u16(struct fz_in *in)
{
	uint16_t v = fz_u8(in);

	return (uint16_t)(v | fz_u8(in) << 8);
}

static inline uint32_t fz_u32(struct fz_in *in)
{
	uint32_t v = fz_u16(in);

	return v | (uint32_t)fz_u16(in) << 16;
}

static inline uint64_t fz_u64(struct fz_in *in)
{
	uint64_t v = fz_u32(in);

	return v | (uint64_t)fz_u32(in) << 32;
}

/* @len bytes to @out: what the input has, then zeros. */
static inline void fz_bytes(struct fz_in *in, void *out, size_t len)
{
	size_t take = len < in->n ? len : in->n;

	memcpy(out, in->p, take);
	memset((uint8_t *)out + take, 0, len - take);
	in->p += take;
	in->n -= take;
}

/* ---- output ------------------------------------------------------------ */

/*
 * The code under test logs every refusal on stderr; at a million inputs
 * that is most of the time spent. fz_quiet() points the stdio stream at
 * /dev/null (file descriptor 2 stays: the sanitizers and libFuzzer write
 * their reports there) unless VUC_FUZZ_VERBOSE is set. fz_err is where the
 * oracles write.
 */
static FILE *fz_err;

static inline void fz_quiet(void)
{
	FILE *null;

	fz_err = stderr;
	if (getenv("VUC_FUZZ_VERBOSE"))
		return;
	null = fopen("/dev/null", "we");
	if (null)
		stderr = null;
}

/* An oracle failed: say which and abort (a crash the fuzzer records). */
static inline void __attribute__((noreturn, format(printf, 1, 2)))
fz_fail(const char *fmt, ...)
{
	va_list ap;

	fputs("fuzz oracle: ", fz_err ? fz_err : stderr);
	va_start(ap, fmt);
	vfprintf(fz_err ? fz_err : stderr, fmt, ap);
	va_end(ap);
	fputc('\n', fz_err ? fz_err : stderr);
	fflush(NULL);
	abort();
}

/* ---- fds ----------------------------------------------------------------- */

/*
 * Open fds of this process, counted from /proc/self/fd through a directory
 * fd kept open (rewound each time: procfs lists afresh), which is left out
 * of the count. Three syscalls, not an opendir() per call.
 */
static int fz_fd_dir = -1;

static inline int fz_count_fds(void)
{
	char buf[4096];
	int n = 0;
	long got;

	if (fz_fd_dir < 0) {
		fz_fd_dir = open("/proc/self/fd",
				 O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fz_fd_dir < 0)
			return -1;
	}
	if (lseek(fz_fd_dir, 0, SEEK_SET) < 0)
		return -1;
	while ((got = syscall(SYS_getdents64, fz_fd_dir, buf, sizeof(buf))) >
	       0) {
		long at = 0;

		while (at < got) {
			/* struct linux_dirent64: ino 8, off 8, reclen 2,
			 * type 1, name */
			unsigned short reclen;
			const char *name = buf + at + 19;

			memcpy(&reclen, buf + at + 16, sizeof(reclen));
			if (name[0] != '.')
				n++;
			at += reclen;
		}
	}
	return n - 1; /* our own directory fd */
}

/* ---- seeded bugs --------------------------------------------------------- */

/*
 * VUC_FUZZ_BUG=name[,name...]: switch on seeded bugs of the reference
 * back-end under test, to prove the target finds them. @set is the
 * back-end's own switch (0 or -errno); an unknown name stops the run.
 */
static inline void fz_bugs_from_env(int (*set)(const char *name))
{
	const char *env = getenv("VUC_FUZZ_BUG");
	char *list, *tok, *save = NULL;

	if (!env || !*env)
		return;
	list = strdup(env);
	if (!list)
		abort();
	for (tok = strtok_r(list, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		if (set(tok) < 0) {
			fprintf(stderr, "VUC_FUZZ_BUG: no seeded bug '%s'\n",
				tok);
			exit(2);
		}
		fprintf(fz_err ? fz_err : stderr, "VUC_FUZZ_BUG: %s is on\n",
			tok);
	}
	free(list);
}

#endif /* VUC_FUZZ_FUZZ_UTIL_H */
