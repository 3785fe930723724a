/* SPDX-License-Identifier: MIT */
/*
 * target.h - the daemon under test: launch, connect, watch, stop.
 *
 * A target is launched the way vhost-user's "Backend program conventions"
 * say (--socket-path=PATH, or --fd=FDNUM with an inherited connected
 * socket), in its own process group, with its stderr captured to a file in
 * a private temporary directory, and killed (with its whole group) when it
 * is stopped, when the runner is interrupted, and when the runner dies
 * (PR_SET_PDEATHSIG). Nothing is left behind: no process, no socket file,
 * no directory.
 *
 * The same handle serves --connect PATH (a daemon already running: no
 * process to watch, restart and signal give -ENOTSUP) and --listen PATH
 * (the back-end connects to us).
 */
#ifndef VUC_RUN_TARGET_H
#define VUC_RUN_TARGET_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

enum target_mode {
	TARGET_SPAWN,	/* launch argv, a fresh process per case */
	TARGET_REUSE,	/* launch once, reconnect per case */
	TARGET_CONNECT, /* --connect PATH: already running */
	TARGET_LISTEN,	/* --listen PATH: the back-end connects to us */
};

struct target_conf {
	enum target_mode mode;
	/* Launch line, already split; "{socket}" and "{fd}" inside any
	 * argument are replaced; with neither, "--socket-path={socket}" is
	 * appended. NULL-terminated. */
	char **argv;
	/* "KEY=VALUE" entries added to the target's environment, with the
	 * same placeholders as argv (and "{name}", a short name unique to
	 * the launch); NULL-terminated, or NULL for none. */
	char **env;
	const char *path;   /* CONNECT / LISTEN: the socket path */
	int connect_ms;	    /* how long to retry connecting at start */
	int stop_ms;	    /* SIGTERM grace before SIGKILL */
	const char *tmpdir; /* parent of the private directory; NULL: $TMPDIR */
};

struct target;

/* What the watchdog saw of a target between two samples. */
struct target_status {
	bool running;	/* false once the process has exited */
	int exit_code;	/* valid when !running and !signal */
	int signal;	/* the signal that killed it, 0 if none */
	int fd_count;	/* open fds (/proc/PID/fd), -1 if unknown */
	long rss_kb;	/* VmRSS, -1 if unknown */
	bool sanitizer; /* its stderr holds a sanitizer report */
};

/**
 * target_start() - Launch (or reach) the target and connect to it
 * @out:	the new handle
 * @fd:		out: a connected socket to the target; the caller owns it
 *
 * Return: 0, or -ENOENT / -EACCES (the program cannot be run: a setup
 * error, exit status 2 for the runner), -ENAMETOOLONG (the socket path does
 * not fit sun_path), -ECONNREFUSED / -ETIMEDOUT (it never accepted a
 * connection), -ECHILD (it exited at start; its status and stderr are in
 * the handle for the message). On failure nothing is left running or on
 * disk, except @out which is set so the caller can read the status and
 * stderr tail before target_free().
 */
int target_start(struct target **out, const struct target_conf *conf, int *fd);

/**
 * target_reconnect() - A new connection to the same target (REUSE, CONNECT,
 * LISTEN), or a fresh process (SPAWN: stop the old one first)
 * @fd:		out: the connected socket; the caller owns it
 * Return: as target_start().
 */
int target_reconnect(struct target *t, int *fd);

/** target_sample() - Read the target's state now (never blocks). */
void target_sample(struct target *t, struct target_status *st);

/**
 * target_wait_exit() - Wait up to @timeout_ms for the process to exit
 * Return: 1 exited (status in target_sample()), 0 still running,
 * -ENOTSUP when there is no process (CONNECT / LISTEN).
 */
int target_wait_exit(struct target *t, int timeout_ms);

/** target_signal() - Send @sig to the target's process group. */
int target_signal(struct target *t, int sig);

/** target_pid() - Its pid, or -1 when there is no process. */
pid_t target_pid(const struct target *t);

/**
 * target_stderr_tail() - The last @cap - 1 bytes of what it wrote on stderr
 * Return: the length written to @buf (NUL-terminated).
 */
size_t target_stderr_tail(struct target *t, char *buf, size_t cap);

/** target_socket_path() - The socket path in use, or NULL (--fd). */
const char *target_socket_path(const struct target *t);

/**
 * target_stop() - SIGTERM the group, SIGKILL after conf->stop_ms, reap it,
 * remove the socket and the private directory. Safe to call twice.
 */
void target_stop(struct target *t);

/** target_free() - target_stop(), then release the handle. */
void target_free(struct target *t);

/**
 * target_kill_all() - Async-signal-safe: SIGKILL the process group of every
 * target this process has running (for SIGINT / SIGTERM handlers).
 */
void target_kill_all(void);

/*
 * Added for the runner.
 */

/**
 * target_cleanup_all() - Async-signal-safe: target_kill_all(), then unlink
 * every socket and remove every (empty) private directory this process
 * made. For a signal handler that is about to _exit().
 */
void target_cleanup_all(void);

/**
 * target_mark() - A case starts here: target_stderr_tail() and the
 * sanitizer scan (target_sample(), target_sanitizer_report()) only look at
 * what the target writes from now on (a reused daemon serves many cases).
 */
void target_mark(struct target *t);

/**
 * target_sanitizer_report() - Find a sanitizer report (ASan, LSan, UBSan,
 * TSan, MSan) in what the target wrote since target_mark()
 * @buf:	out (may be NULL): the report's first lines, NUL-terminated
 * Return: true when there is one.
 */
bool target_sanitizer_report(struct target *t, char *buf, size_t cap);

/** target_dir() - The private directory ("{dir}"), or NULL. */
const char *target_dir(const struct target *t);

/**
 * target_exit_status() - How the process ended, once it was reaped (after
 * target_stop() too)
 * Return: 1 and @exit_code / @sig (0 if none) when it has ended and been
 * reaped, 0 otherwise (still running, or no process).
 */
int target_exit_status(const struct target *t, int *exit_code, int *sig);

#endif /* VUC_RUN_TARGET_H */
