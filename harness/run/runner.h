/* SPDX-License-Identifier: MIT */
/*
 * runner.h - run the selected cases: workers, targets, the watchdog, the
 * baseline, TAP in case order.
 *
 * The parent forks -j N workers (N >= 1) and hands them case numbers one
 * at a time over a pipe; a worker starts the target, runs the case body in
 * the Lua layer, applies the watchdog and sends the result back as JSON
 * (outputs_result_json()) framed by a 4-byte length. The parent keeps a
 * hard deadline per case (connect + case + stop time, plus a margin): a
 * worker that passes it or crashes is replaced and the case is ERROR. A
 * worker's targets die with it (PR_SET_PDEATHSIG) and their directories
 * are inside the run directory the parent removes at the end.
 */
#ifndef VUC_RUN_RUNNER_H
#define VUC_RUN_RUNNER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "lua/lua_cases.h"
#include "run/baseline.h"
#include "run/result.h"
#include "run/target.h"

struct runner_conf {
	const char *protocol;	   /* "vhost-user" / "vfio-user" */
	struct target_conf target; /* tmpdir: the run directory */
	const char *device;	   /* device profile, or NULL */
	int timeout_ms;		   /* per reply */
	int case_ms;		   /* per case */
	int jobs;
	bool strict;
	int fd_tolerance;
	const char *trace_dir;	   /* or NULL */
	const char *repro_dir;	   /* where reproducers go */
	const char *rerun_prefix;  /* shell command without --filter */
	const char *rerun_suffix;  /* "run SCRIPT" after it, or NULL */
	struct baseline *baseline; /* or NULL */
	bool progress;		   /* a live progress line on @tap */
	int max_fail;		   /* stop after this many FAIL; 0: never */
	FILE *tap;
};

/**
 * runner_run() - Run cases @sel[0..n) of @lc and fill @results[0..n)
 *
 * Prints TAP (plan, one entry per case in order, summary) on conf->tap.
 * Return: 0, -EINTR (interrupted by SIGINT / SIGTERM: @results holds the
 * cases that ended, the rest are ERROR "not run"), or -errno for a failure
 * to set up workers.
 */
int runner_run(struct lua_cases *lc, const size_t *sel, size_t n,
	       const struct runner_conf *conf, struct vuc_result *results);

/**
 * runner_interrupted() - Non-zero once SIGINT / SIGTERM arrived (the
 * parent's handlers only set this flag).
 */
int runner_interrupted(void);

/** runner_install_signals() - The parent's SIGINT / SIGTERM / SIGHUP. */
void runner_install_signals(void);

#endif /* VUC_RUN_RUNNER_H */
