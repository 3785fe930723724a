// SPDX-License-Identifier: MIT
/*
 * bench_runner.c - cases per second of the full suite against the bundled
 * reference back-end, once with a fresh process per case (spawn) and once
 * reconnecting per case (reuse, --reconnect), by running vu-conform and
 * counting its TAP lines.
 *
 * Usage: bench_runner [-j N] [--vu-conform PATH] [--cases DIR]
 *                     [--targets DIR] [--device net|blk]
 * Defaults: the build's bin/vu-conform, the source tree's cases/ and
 * targets/, net.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/util.h"

#ifndef VUC_BIN_DIR
#define VUC_BIN_DIR "build/bin"
#endif
#ifndef VUC_SOURCE_DIR
#define VUC_SOURCE_DIR "."
#endif

struct outcome {
	long cases, pass, fail, other;
	double seconds;
	int status;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Run vu-conform with @argv, count its TAP lines. */
static int run(char *const *argv, struct outcome *o)
{
	char line[4096];
	double t0 = now_s();
	int p[2], st;
	pid_t pid;
	FILE *f;

	memset(o, 0, sizeof(*o));
	if (pipe(p) < 0)
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		dup2(p[1], 1);
		close(p[0]);
		close(p[1]);
		execv(argv[0], argv);
		perror(argv[0]);
		_exit(127);
	}
	close(p[1]);
	f = fdopen(p[0], "r");
	while (f && fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "ok ", 3)) {
			o->cases++;
			if (strstr(line, "# SKIP"))
				o->other++;
			else
				o->pass++;
		} else if (!strncmp(line, "not ok ", 7)) {
			o->cases++;
			o->fail++;
		}
	}
	if (f)
		fclose(f);
	waitpid(pid, &st, 0);
	o->seconds = now_s() - t0;
	o->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	return 0;
}

int main(int argc, char **argv)
{
	const char *vuc = VUC_BIN_DIR "/vu-conform";
	const char *cases = VUC_SOURCE_DIR "/cases";
	const char *targets = VUC_SOURCE_DIR "/targets";
	const char *device = "net", *jobs = "1";
	static const char *const modes[] = { "", "-reuse" };
	char tfile[2][1024];
	struct outcome o[2];
	int i;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-j") && i + 1 < argc)
			jobs = argv[++i];
		else if (!strcmp(argv[i], "--vu-conform") && i + 1 < argc)
			vuc = argv[++i];
		else if (!strcmp(argv[i], "--cases") && i + 1 < argc)
			cases = argv[++i];
		else if (!strcmp(argv[i], "--targets") && i + 1 < argc)
			targets = argv[++i];
		else if (!strcmp(argv[i], "--device") && i + 1 < argc)
			device = argv[++i];
		else {
			fprintf(stderr,
				"usage: bench_runner [-j N] [--vu-conform "
				"PATH] "
				"[--cases DIR] [--targets DIR] [--device "
				"net|blk]\n");
			return 2;
		}
	}
	for (i = 0; i < 2; i++) {
		char *args[] = { (char *)vuc,	(char *)"--target-file",
				 tfile[i],	(char *)"--cases",
				 (char *)cases, (char *)"-j",
				 (char *)jobs,	NULL };

		snprintf(tfile[i], sizeof(tfile[i]),
			 "%s/vuc-ref-vhost-%s%s.target", targets, device,
			 modes[i]);
		if (run(args, &o[i]) < 0 || o[i].status == 127) {
			fprintf(stderr, "bench_runner: cannot run %s\n", vuc);
			return 1;
		}
		if (o[i].status == 2 || !o[i].cases) {
			fprintf(stderr,
				"bench_runner: %s --target-file %s: exit "
				"status "
				"%d, %ld cases (is the reference back-end "
				"built?)\n",
				vuc, tfile[i], o[i].status, o[i].cases);
			return 1;
		}
	}
	printf("suite: %s, target: vuc-ref-vhost --device %s, -j %s\n", cases,
	       device, jobs);
	for (i = 0; i < 2; i++)
		printf("%-28s %4ld cases (%ld pass, %ld fail, %ld skip) in "
		       "%6.2f s: %7.1f cases/s\n",
		       i ? "reconnect per case (reuse):"
			 : "fresh process per case:",
		       o[i].cases, o[i].pass, o[i].fail, o[i].other,
		       o[i].seconds, (double)o[i].cases / o[i].seconds);
	printf("reuse / spawn: %.1fx\n",
	       (o[1].cases / o[1].seconds) / (o[0].cases / o[0].seconds));
	return 0;
}
