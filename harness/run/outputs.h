/* SPDX-License-Identifier: MIT */
/*
 * outputs.h - what a run leaves behind: TAP 13 on stdout, the --json
 * report, JUnit XML, per-case trace files, baselines; and the JSON form of
 * one result that -j workers send to the parent.
 *
 * The JSON report's field names are an interface (reports/ and CI read
 * them): {"tool","version","protocol","target":{..},"summary":{"pass",
 * "fail","skip","xfail","xpass","error"},"cases":[{"id","spec","level",
 * "verdict","reason","duration_ms","trace":[{"dir","t_ms","text","hex",
 * "fds"}],"stderr_tail","quote","expected","actual","rerun","reproducer",
 * ...}]}.
 */
#ifndef VUC_RUN_OUTPUTS_H
#define VUC_RUN_OUTPUTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "run/result.h"

struct json_object;

/* The run as a whole, for the report headers. */
struct outputs_run {
	const char *version;
	const char *protocol;
	const char *target_name; /* from a description, or NULL */
	const char *target_file; /* the description's path, or NULL */
	const char *mode;	 /* "spawn", "reuse", "connect", "listen" */
	const char *const *argv; /* launch line, or NULL */
	const char *path;	 /* --connect / --listen path, or NULL */
	const char *device;	 /* device profile, or NULL */
	const char *notes;	 /* from a description, or NULL */
	bool strict;
	double duration_ms;
};

/**
 * outputs_fails_run() - Does this result make the exit status 1?
 * ERROR, a FAIL that is not lenient, or a difference from the baseline.
 */
bool outputs_fails_run(const struct vuc_result *r);

/* Counts per verdict, indexed by enum vuc_verdict. */
void outputs_count(const struct vuc_result *results, size_t n,
		   size_t counts[VUC_VERDICT_COUNT]);

/* TAP 13: the header and plan, then one entry per case in order. */
void outputs_tap_plan(FILE *f, size_t n);
void outputs_tap_case(FILE *f, size_t num, const struct vuc_case *c,
		      const struct vuc_result *r);
/* The closing summary comment lines. */
void outputs_tap_summary(FILE *f, const struct vuc_result *results, size_t n,
			 double duration_ms);

/**
 * outputs_result_json() - One case and its result as a JSON object (the
 * report's "cases" entry)
 * Return: a new object, or NULL on ENOMEM.
 */
struct json_object *outputs_result_json(const struct vuc_case *c,
					const struct vuc_result *r);

/**
 * outputs_result_parse() - Fill @r (zeroed first) from outputs_result_json()
 * output: the worker -> parent direction
 * Return: 0, -EBADMSG (not such an object), -ENOMEM. On error @r holds
 * nothing that needs freeing beyond vuc_result_free().
 */
int outputs_result_parse(struct json_object *o, struct vuc_result *r);

/**
 * outputs_write_json() / outputs_write_junit() - Write the report to @path
 * ("-": stdout) for @n cases (@cases[i] with @results[i])
 * Return: 0 or -errno.
 */
int outputs_write_json(const char *path, const struct outputs_run *run,
		       const struct vuc_case *const *cases,
		       const struct vuc_result *results, size_t n);
int outputs_write_junit(const char *path, const struct outputs_run *run,
			const struct vuc_case *const *cases,
			const struct vuc_result *results, size_t n);

/**
 * outputs_write_baseline() - A baseline of this run (see baseline.h)
 * Return: 0 or -errno.
 */
int outputs_write_baseline(const char *path,
			   const struct vuc_case *const *cases,
			   const struct vuc_result *results, size_t n);

/**
 * outputs_trace_text() - The decoded wire trace, one entry per line with
 * its time, direction, fds, then the bytes in hex
 */
void outputs_trace_text(FILE *f, const struct vuc_trace *t);

/**
 * outputs_case_path() - "@dir/@id@ext" with each '/' of @id made "__"
 * Return: a new string, or NULL on ENOMEM.
 */
char *outputs_case_path(const char *dir, const char *id, const char *ext);

/**
 * outputs_write_trace() - The case's trace, reason and target output as a
 * text file at @path
 * Return: 0 or -errno.
 */
int outputs_write_trace(const char *path, const struct vuc_case *c,
			const struct vuc_result *r);

/**
 * outputs_lua_str() - Write @len bytes as a Lua string literal (quotes
 * and backslashes escaped, anything unprintable as \xNN): reproducer
 * scripts carry any bytes.
 */
void outputs_lua_str(FILE *f, const void *buf, size_t len);

/**
 * outputs_lua_comment() - "-- @label@s" with every line of @s a Lua
 * comment line, ending with a newline
 */
void outputs_lua_comment(FILE *f, const char *label, const char *s);

/**
 * outputs_write_file() - Write @len bytes to a new file at @path
 * Return: 0 or -errno.
 */
int outputs_write_file(const char *path, const void *buf, size_t len);

#endif /* VUC_RUN_OUTPUTS_H */
