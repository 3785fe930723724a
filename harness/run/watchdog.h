/* SPDX-License-Identifier: MIT */
/*
 * watchdog.h - judge the daemon, not only its replies: death by a signal,
 * sanitizer reports on its output, fd leaks, messages nobody asked for.
 * The Lua layer judges the wire; the runner hands both to watchdog_apply().
 */
#ifndef VUC_RUN_WATCHDOG_H
#define VUC_RUN_WATCHDOG_H

#include <stdbool.h>
#include <stddef.h>

#include "run/result.h"

/**
 * watchdog_sanitizer_find() - Where a sanitizer report starts in @buf
 *
 * Markers: "ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
 * "WARNING: ThreadSanitizer", "ERROR: ThreadSanitizer",
 * "WARNING: MemorySanitizer", "ERROR: MemorySanitizer",
 * "ERROR: HWAddressSanitizer", and UBSan's "runtime error:".
 *
 * Return: the offset of the start of the line holding the first marker,
 * or -1 when there is none.
 */
long watchdog_sanitizer_find(const char *buf, size_t len);

/**
 * watchdog_sanitizer_excerpt() - The first lines of the report that starts
 * at @buf (as found by watchdog_sanitizer_find()): up to 6 non-empty
 * lines, the "==PID==" prefixes dropped, NUL-terminated in @out.
 */
void watchdog_sanitizer_excerpt(const char *buf, size_t len, char *out,
				size_t cap);

/* What the runner saw of the target around one case. */
struct watchdog_obs {
	bool process;	      /* there is a process to watch */
	bool ended;	      /* it ended during the case (before our stop) */
	int exit_code;	      /* when ended and !signal */
	int signal;	      /* the signal that ended it during the case */
	int stop_signal;      /* ... or during our stop (SIGTERM, grace) */
	int fd_start, fd_end; /* -1: unknown */
	unsigned int fds_sent;
	bool sanitizer;
	char report[1024]; /* the sanitizer excerpt */
	unsigned int unsolicited;
	char unsolicited_text[256]; /* the first one, decoded */
};

struct watchdog_conf {
	int fd_tolerance; /* growth allowed beyond the fds the case sent */
	bool unsolicited_fails; /* vhost-user: nothing comes unasked */
};

/**
 * watchdog_apply() - Fold the watchdog's findings into @r
 *
 * In this order: a death by a signal the case did not provoke
 * (!r->expect_exit) or a crash while stopping (any signal but SIGTERM /
 * SIGKILL) turns PASS, FAIL and SKIP into FAIL "target killed by SIGSEGV";
 * a sanitizer report into FAIL with its first lines; then, for a PASS
 * only, an fd count that grew by more than fds_sent + fd_tolerance into
 * FAIL "leaked N fds", and an unsolicited message into FAIL. ERROR stays
 * ERROR (never blamed on the target); the findings are appended to its
 * reason. Fills r->watch.
 *
 * Return: 1 when the watchdog made the verdict FAIL (such a FAIL is never
 * lenient: crashing, leaking and corrupting memory are always wrong), 0
 * otherwise, -ENOMEM.
 */
int watchdog_apply(struct vuc_result *r, const struct watchdog_obs *obs,
		   const struct watchdog_conf *conf);

/**
 * watchdog_signal_name() - "SIGSEGV" for 11, "signal 70" when unnamed
 * Return: a static or thread-local string.
 */
const char *watchdog_signal_name(int sig);

#endif /* VUC_RUN_WATCHDOG_H */
