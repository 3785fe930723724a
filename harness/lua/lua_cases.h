/* SPDX-License-Identifier: MIT */
/*
 * lua_cases.h - the Lua 5.4 layer as the runner sees it: load case files,
 * run one case body against a connected target.
 *
 * Each case file declares cases with `case { id = ..., spec = ..., level =
 * ..., quote = ..., needs = {...}, run = function(t) ... end }` (the API a
 * body sees is documented in harness/lua/README.md). A file that fails to
 * load is reported as "file:line: message" and the other files still load;
 * a duplicate id is an error.
 */
#ifndef VUC_LUA_LUA_CASES_H
#define VUC_LUA_LUA_CASES_H

#include <stddef.h>

#include "run/result.h"
#include "run/target.h"

struct lua_cases; /* the loaded files: a Lua state and the case list */

struct lua_cases_diag {
	char **msgs; /* "file:line: message", one per problem */
	size_t n;
};

/**
 * lua_cases_load() - Load every *.lua under @paths (files or directories,
 * recursively, in name order)
 * @protocol:	keep only cases of this protocol; NULL for all
 * @out:	the loaded set (even when some files failed: see @diag)
 * @diag:	problems found, one message each; the caller frees them with
 *		lua_cases_diag_free()
 *
 * Return: the number of cases loaded (>= 0), or -ENOMEM / -ENOENT (a path
 * that does not exist). Files with errors are skipped, not fatal; a
 * duplicate id is a diag and the second case is dropped.
 */
int lua_cases_load(struct lua_cases **out, const char *const *paths,
		   size_t npaths, const char *protocol,
		   struct lua_cases_diag *diag);

/** lua_cases_count() / lua_cases_get() - the loaded cases, in load order. */
size_t lua_cases_count(const struct lua_cases *lc);
const struct vuc_case *lua_cases_get(const struct lua_cases *lc, size_t i);

/* What a case body may use of the run: the connection and the target. */
struct lua_case_env {
	int conn;	       /* connected socket; owned by the runner */
	struct target *target; /* restart, signal, stderr, fd count, liveness */
	int timeout_ms;	       /* default deadline of one reply */
	int case_ms;	       /* the whole case's deadline */
	const char *device;    /* device profile of the target, or NULL */
	const char *trace_dir; /* where reproducers go, or NULL */
	const char *rerun;     /* the command line that reruns just this case */
};

/**
 * lua_cases_run() - Run case @i's body
 *
 * Fills @res (zeroed by the caller): verdict (PASS / FAIL / SKIP / ERROR;
 * the runner applies the baseline and the watchdog's findings afterwards),
 * reason, expected and actual, duration, expect_exit (t:signal(),
 * t:expect_exit()), and the wire trace of everything the body sent and
 * received (SEND entries carry chunks[] when split; the text then ends in
 * "[split at 5,12; fds on chunk 3; 5 ms apart]"). The connection may be
 * replaced during the case (t:restart()): the old one is closed here and
 * env->conn holds the new one, still owned by the runner. Every fd,
 * mapping and ring the body made is released before this returns.
 * env->trace_dir and env->rerun are not used here: the runner writes the
 * reproducer with lua_cases_write_reproducer().
 *
 * Return: 0 (the verdict says how it went), -EINVAL (@i out of range), or
 * -ENOMEM.
 */
int lua_cases_run(struct lua_cases *lc, size_t i, struct lua_case_env *env,
		  struct vuc_result *res);

/**
 * lua_cases_write_reproducer() - Write @res's wire exchange as a stand-alone
 * script for `vu-conform run` that replays what was sent and checks that the
 * target's reaction still differs from what the case expected
 *
 * The script is a case file (id "<id>/repro", same protocol, spec, level)
 * whose body is t:replay{...}: it FAILs while the target still reacts in a
 * way the case rejected, and PASSes once it does not. res->rerun, when
 * set, goes into its header comment.
 * Return: 0, or -errno.
 */
int lua_cases_write_reproducer(const struct vuc_case *c,
			       const struct vuc_result *res, const char *path);

void lua_cases_free(struct lua_cases *lc);
void lua_cases_diag_free(struct lua_cases_diag *d);

#endif /* VUC_LUA_LUA_CASES_H */
