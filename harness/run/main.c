// SPDX-License-Identifier: MIT
/*
 * main.c - the vu-conform command line: parse, load cases, check that the
 * target starts, run, write the reports, choose the exit status.
 */
#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <ftw.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/util.h"
#include "lua/lua_cases.h"
#include "run/baseline.h"
#include "run/fuzz.h"
#include "run/outputs.h"
#include "run/runner.h"
#include "run/tdesc.h"
#include "run/watchdog.h"
#include "transport/chan.h"

#ifndef VUC_VERSION
#define VUC_VERSION "0.0.0"
#endif
#ifndef VUC_SOURCE_CASES_DIR
#define VUC_SOURCE_CASES_DIR "cases"
#endif

/* --profile: at most this many, passed to the Lua layer in this variable */
#define PROFILES_MAX 8
#define VUC_PROFILES_ENV "VUC_PROFILES"

enum {
	EXIT_PASSED = 0,
	EXIT_FAILED = 1,
	EXIT_SETUP = 2,
};

enum {
	OPT_PROTOCOL = 256,
	OPT_TARGET,
	OPT_TARGET_FILE,
	OPT_CONNECT,
	OPT_LISTEN,
	OPT_REUSE,
	OPT_DEVICE,
	OPT_LIST,
	OPT_FILTER,
	OPT_LEVEL,
	OPT_STRICT,
	OPT_TIMEOUT,
	OPT_CASE_TIMEOUT,
	OPT_CONNECT_TIMEOUT,
	OPT_FD_TOLERANCE,
	OPT_MAX_FAIL,
	OPT_JSON,
	OPT_JUNIT,
	OPT_TRACE_DIR,
	OPT_BASELINE,
	OPT_WRITE_BASELINE,
	OPT_CASES,
	OPT_PROFILE,
	OPT_HELP,
	OPT_VERSION,
};

static const struct option options[] = {
	{ "protocol", required_argument, NULL, OPT_PROTOCOL },
	{ "target", required_argument, NULL, OPT_TARGET },
	{ "target-file", required_argument, NULL, OPT_TARGET_FILE },
	{ "connect", required_argument, NULL, OPT_CONNECT },
	{ "listen", required_argument, NULL, OPT_LISTEN },
	{ "reuse", no_argument, NULL, OPT_REUSE },
	{ "device", required_argument, NULL, OPT_DEVICE },
	{ "list", no_argument, NULL, OPT_LIST },
	{ "filter", required_argument, NULL, OPT_FILTER },
	{ "level", required_argument, NULL, OPT_LEVEL },
	{ "strict", no_argument, NULL, OPT_STRICT },
	{ "jobs", required_argument, NULL, 'j' },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "case-timeout", required_argument, NULL, OPT_CASE_TIMEOUT },
	{ "connect-timeout", required_argument, NULL, OPT_CONNECT_TIMEOUT },
	{ "fd-tolerance", required_argument, NULL, OPT_FD_TOLERANCE },
	{ "max-fail", required_argument, NULL, OPT_MAX_FAIL },
	{ "json", required_argument, NULL, OPT_JSON },
	{ "junit", required_argument, NULL, OPT_JUNIT },
	{ "trace-dir", required_argument, NULL, OPT_TRACE_DIR },
	{ "baseline", required_argument, NULL, OPT_BASELINE },
	{ "write-baseline", required_argument, NULL, OPT_WRITE_BASELINE },
	{ "cases", required_argument, NULL, OPT_CASES },
	{ "profile", required_argument, NULL, OPT_PROFILE },
	{ "help", no_argument, NULL, OPT_HELP },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ NULL, 0, NULL, 0 },
};

static const char usage_text[] =
	"Usage: vu-conform [OPTIONS]                 run the conformance "
	"cases\n"
	"       vu-conform [OPTIONS] run SCRIPT.lua  run the cases of one "
	"script\n"
	"       vu-conform fuzz --target 'CMD' [...]  fuzz a vhost-user "
	"back-end\n"
	"                                            (see vu-conform fuzz "
	"--help)\n"
	"\n"
	"Target (one of --target, --target-file, --connect, --listen):\n"
	"  --target 'CMD ARGS...'  launch this back-end, a fresh process per "
	"case;\n"
	"                          split like a shell would (quotes, no "
	"expansion);\n"
	"                          {socket} becomes the socket path, {fd} the "
	"number\n"
	"                          of an inherited connected socket, {dir} a "
	"private\n"
	"                          directory; with neither {socket} nor {fd}\n"
	"                          --socket-path={socket} is appended\n"
	"  --target-file FILE      a target description (launch line, "
	"protocol,\n"
	"                          device, lifecycle; see targets/README.md)\n"
	"  --connect PATH          a daemon already running; cases that need "
	"a fresh\n"
	"                          process are skipped\n"
	"  --listen PATH           listen on PATH, the back-end connects to us "
	"(with\n"
	"                          --target it is launched once, {socket} = "
	"PATH)\n"
	"  --reuse                 launch once, reconnect per case (for "
	"daemons\n"
	"                          that survive a disconnect)\n"
	"  --protocol P            vhost-user (default) or vfio-user\n"
	"  --device NAME           device profile: net, blk, fs, generic, "
	"pci;\n"
	"                          cases for another device are skipped\n"
	"\n"
	"Selection:\n"
	"  --cases DIR             case files (repeatable; default: %s)\n"
	"  --list                  list the selected cases and exit\n"
	"  --filter GLOB           cases whose id matches GLOB, or lies under "
	"it\n"
	"                          (GLOB/...); repeatable\n"
	"  --level LEVEL           must, should or robust; repeatable\n"
	"  --profile NAME          also run the cases of a de-facto profile "
	"(the habits\n"
	"                          of one implementation, not spec rules: "
	"e.g.\n"
	"                          libvfio-user, qemu); repeatable. Cases "
	"that need\n"
	"                          a profile not selected are skipped\n"
	"\n"
	"Judgement:\n"
	"  --strict                SHOULD-level failures fail the run\n"
	"  --baseline FILE         expected verdicts (CASE-ID PASS|FAIL|SKIP "
	"REASON\n"
	"                          per line): FAIL becomes XFAIL, and the run "
	"fails\n"
	"                          only where a verdict differs from its "
	"line;\n"
	"                          FAIL|PASS (verdicts joined by '|') accepts "
	"either,\n"
	"                          for a case whose outcome on the target is "
	"random\n"
	"  --write-baseline FILE   write this run's verdicts as a baseline\n"
	"                          (a FAIL|PASS line of --baseline that\n"
	"                          matched is kept as it is)\n"
	"  --timeout MS            deadline of one reply (default 1000)\n"
	"  --case-timeout MS       deadline of one case (default 10000)\n"
	"  --connect-timeout MS    time a starting target has to accept "
	"(default 5000)\n"
	"  --fd-tolerance N        fds a target may gain in a case beyond "
	"those the\n"
	"                          case passed it (default 4)\n"
	"  --max-fail N            stop after N failed cases: the cases not "
	"started\n"
	"                          yet are SKIP (bug sweeps; default: run "
	"all)\n"
	"\n"
	"Outputs (TAP 13 on stdout, with a progress line on a terminal):\n"
	"  -j, --jobs N            run N cases at once (each with its own "
	"target)\n"
	"  --json FILE             every case, its trace and the target's "
	"output\n"
	"  --junit FILE            JUnit XML for CI\n"
	"  --trace-dir DIR         a decoded wire trace per case, and the\n"
	"                          reproducer scripts of failed cases "
	"(default for\n"
	"                          those: ./vu-conform-repro)\n"
	"  --help, --version\n"
	"\n"
	"Exit status: 0 when no case is FAIL or ERROR (XFAIL allowed; SHOULD "
	"failures\n"
	"count only with --strict), 1 when one is or a case differs from the\n"
	"baseline, 2 for usage or setup errors (bad options, a target that "
	"cannot\n"
	"start, case files that do not load, an unreadable baseline, an\n"
	"interrupted run).\n";

struct opts {
	const char *protocol;
	const char *target;
	const char *target_file;
	const char *connect;
	const char *listen;
	bool reuse;
	const char *device;
	bool list;
	const char **filters;
	size_t nfilters;
	unsigned int levels; /* bit per enum vuc_level; 0: all */
	bool strict;
	int jobs;
	int timeout_ms, case_ms, connect_ms, fd_tolerance, max_fail;
	bool timeout_set, case_set, connect_set, tolerance_set;
	const char *json, *junit, *trace_dir, *baseline, *write_baseline;
	const char **cases;
	size_t ncases;
	const char **profiles;
	size_t nprofiles;
	const char *script;
	const char *argv0;
};

VUC_PRINTF(1, 2)
static void errmsg(const char *fmt, ...)
{
	va_list ap;

	fputs("vu-conform: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static int push(const char ***v, size_t *n, const char *s)
{
	const char **p = realloc(*v, (*n + 1) * sizeof(*p));

	if (!p)
		return -ENOMEM;
	*v = p;
	p[(*n)++] = s;
	return 0;
}

static int parse_int(const char *opt, const char *s, int min, int *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > INT_MAX) {
		errmsg("%s wants a number >= %d, not \"%s\"", opt, min, s);
		return -EINVAL;
	}
	*out = (int)v;
	return 0;
}

/* A profile name: it travels in a comma-separated list (see
 * set_profiles()), so no commas, spaces or quotes. */
static bool profile_name_ok(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("._-", *s))
			return false;
	return true;
}

/*
 * The selected profiles go to the Lua layer (harness/lua/lua_t.c reads
 * them into t.profiles) through VUC_PROFILES_ENV, a comma-separated list;
 * set or cleared here, so only --profile selects one.
 */
static int set_profiles(const struct opts *o)
{
	size_t i, len = 1;
	char *s;
	int ret;

	if (!o->nprofiles)
		return unsetenv(VUC_PROFILES_ENV) < 0 ? -errno : 0;
	for (i = 0; i < o->nprofiles; i++)
		len += strlen(o->profiles[i]) + 1;
	s = malloc(len);
	if (!s)
		return -ENOMEM;
	s[0] = '\0';
	for (i = 0; i < o->nprofiles; i++) {
		if (i)
			strcat(s, ",");
		strcat(s, o->profiles[i]);
	}
	ret = setenv(VUC_PROFILES_ENV, s, 1) < 0 ? -errno : 0;
	free(s);
	return ret;
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	enum vuc_level lvl;
	int c;

	memset(o, 0, sizeof(*o));
	o->argv0 = argv[0];
	o->jobs = 1;
	o->timeout_ms = 1000;
	o->case_ms = 10000;
	o->connect_ms = 5000;
	o->fd_tolerance = 4;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "j:", options, NULL)) != -1) {
		switch (c) {
		case OPT_PROTOCOL:
			if (strcmp(optarg, "vhost-user") &&
			    strcmp(optarg, "vfio-user")) {
				errmsg("--protocol is vhost-user or vfio-user, "
				       "not \"%s\"",
				       optarg);
				return -EINVAL;
			}
			o->protocol = optarg;
			break;
		case OPT_TARGET:
			o->target = optarg;
			break;
		case OPT_TARGET_FILE:
			o->target_file = optarg;
			break;
		case OPT_CONNECT:
			o->connect = optarg;
			break;
		case OPT_LISTEN:
			o->listen = optarg;
			break;
		case OPT_REUSE:
			o->reuse = true;
			break;
		case OPT_DEVICE:
			o->device = optarg;
			break;
		case OPT_LIST:
			o->list = true;
			break;
		case OPT_FILTER:
			if (push(&o->filters, &o->nfilters, optarg) < 0)
				return -ENOMEM;
			break;
		case OPT_LEVEL:
			if (vuc_level_parse(optarg, &lvl) < 0) {
				errmsg("--level is must, should or robust, not "
				       "\"%s\"",
				       optarg);
				return -EINVAL;
			}
			o->levels |= 1u << lvl;
			break;
		case OPT_STRICT:
			o->strict = true;
			break;
		case 'j':
			if (parse_int("-j", optarg, 1, &o->jobs) < 0)
				return -EINVAL;
			break;
		case OPT_TIMEOUT:
			if (parse_int("--timeout", optarg, 1, &o->timeout_ms) <
			    0)
				return -EINVAL;
			o->timeout_set = true;
			break;
		case OPT_CASE_TIMEOUT:
			if (parse_int("--case-timeout", optarg, 1,
				      &o->case_ms) < 0)
				return -EINVAL;
			o->case_set = true;
			break;
		case OPT_CONNECT_TIMEOUT:
			if (parse_int("--connect-timeout", optarg, 1,
				      &o->connect_ms) < 0)
				return -EINVAL;
			o->connect_set = true;
			break;
		case OPT_FD_TOLERANCE:
			if (parse_int("--fd-tolerance", optarg, 0,
				      &o->fd_tolerance) < 0)
				return -EINVAL;
			o->tolerance_set = true;
			break;
		case OPT_MAX_FAIL:
			if (parse_int("--max-fail", optarg, 1, &o->max_fail) <
			    0)
				return -EINVAL;
			break;
		case OPT_JSON:
			o->json = optarg;
			break;
		case OPT_JUNIT:
			o->junit = optarg;
			break;
		case OPT_TRACE_DIR:
			o->trace_dir = optarg;
			break;
		case OPT_BASELINE:
			o->baseline = optarg;
			break;
		case OPT_WRITE_BASELINE:
			o->write_baseline = optarg;
			break;
		case OPT_CASES:
			if (push(&o->cases, &o->ncases, optarg) < 0)
				return -ENOMEM;
			break;
		case OPT_PROFILE:
			if (!profile_name_ok(optarg)) {
				errmsg("--profile wants a name of letters, "
				       "digits, '.', '_' and '-', not \"%s\"",
				       optarg);
				return -EINVAL;
			}
			if (o->nprofiles == PROFILES_MAX) {
				errmsg("more than %d --profile options",
				       PROFILES_MAX);
				return -EINVAL;
			}
			if (push(&o->profiles, &o->nprofiles, optarg) < 0)
				return -ENOMEM;
			break;
		case OPT_HELP:
			return 1;
		case OPT_VERSION:
			return 2;
		case ':':
			errmsg("%s needs an argument (see --help)",
			       argv[optind - 1]);
			return -EINVAL;
		default:
			if (optopt)
				errmsg("unknown option -%c (see --help)",
				       optopt);
			else
				errmsg("unknown option %s (see --help)",
				       argv[optind - 1]);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		if (strcmp(argv[optind], "run") || optind + 2 != argc) {
			errmsg("unexpected argument \"%s\"; the only command "
			       "is \"run SCRIPT.lua\" (see --help)",
			       argv[optind]);
			return -EINVAL;
		}
		o->script = argv[optind + 1];
	}
	if (!!o->target_file + !!o->connect + (o->listen || o->target) > 1 ||
	    (o->target && o->target_file)) {
		errmsg("give one target: --target, --target-file, --connect or "
		       "--listen (--listen may come with --target)");
		return -EINVAL;
	}
	if (o->reuse && (o->connect || o->listen)) {
		errmsg("--reuse goes with --target or --target-file");
		return -EINVAL;
	}
	return 0;
}

/* Where the running program lives: "{bindir}" of target descriptions. */
static void self_dir(char *buf, size_t cap)
{
	ssize_t n = readlink("/proc/self/exe", buf, cap - 1);
	char *slash;

	if (n <= 0) {
		snprintf(buf, cap, ".");
		return;
	}
	buf[n] = '\0';
	slash = strrchr(buf, '/');
	if (slash)
		*slash = '\0';
}

static const char *default_cases(const char *bindir)
{
	static char installed[PATH_MAX + 32];
	struct stat st;

	snprintf(installed, sizeof(installed), "%s/../share/vu-conform/cases",
		 bindir);
	if (!stat(installed, &st) && S_ISDIR(st.st_mode))
		return installed;
	return VUC_SOURCE_CASES_DIR;
}

static bool selected(const struct opts *o, const struct vuc_case *c)
{
	size_t i;

	if (o->levels && !(o->levels & (1u << c->level)))
		return false;
	if (!o->nfilters)
		return true;
	for (i = 0; i < o->nfilters; i++) {
		char under[1024];

		if (!fnmatch(o->filters[i], c->id, 0))
			return true;
		snprintf(under, sizeof(under), "%s/*", o->filters[i]);
		if (!fnmatch(under, c->id, 0))
			return true;
	}
	return false;
}

/* The command that reruns one case: this one without selection, -j,
 * reports and baselines. */
static char *rerun_prefix(const struct opts *o)
{
	const char *parts[64];
	char nums[4][24];
	size_t n = 0, i, len = 0;
	char *s, *p;

	parts[n++] = o->argv0;
	if (o->protocol) {
		parts[n++] = "--protocol";
		parts[n++] = o->protocol;
	}
	if (o->target_file) {
		parts[n++] = "--target-file";
		parts[n++] = o->target_file;
	}
	if (o->target) {
		parts[n++] = "--target";
		parts[n++] = o->target;
	}
	if (o->connect) {
		parts[n++] = "--connect";
		parts[n++] = o->connect;
	}
	if (o->listen) {
		parts[n++] = "--listen";
		parts[n++] = o->listen;
	}
	if (o->reuse)
		parts[n++] = "--reuse";
	if (o->device) {
		parts[n++] = "--device";
		parts[n++] = o->device;
	}
	if (o->strict)
		parts[n++] = "--strict";
	if (o->timeout_set) {
		snprintf(nums[0], sizeof(nums[0]), "%d", o->timeout_ms);
		parts[n++] = "--timeout";
		parts[n++] = nums[0];
	}
	if (o->case_set) {
		snprintf(nums[1], sizeof(nums[1]), "%d", o->case_ms);
		parts[n++] = "--case-timeout";
		parts[n++] = nums[1];
	}
	if (o->connect_set) {
		snprintf(nums[2], sizeof(nums[2]), "%d", o->connect_ms);
		parts[n++] = "--connect-timeout";
		parts[n++] = nums[2];
	}
	if (o->tolerance_set) {
		snprintf(nums[3], sizeof(nums[3]), "%d", o->fd_tolerance);
		parts[n++] = "--fd-tolerance";
		parts[n++] = nums[3];
	}
	for (i = 0; i < o->nprofiles && n + 4 < ARRAY_SIZE(parts); i++) {
		parts[n++] = "--profile";
		parts[n++] = o->profiles[i];
	}
	for (i = 0; i < o->ncases && n + 4 < ARRAY_SIZE(parts); i++) {
		parts[n++] = "--cases";
		parts[n++] = o->cases[i];
	}
	for (i = 0; i < n; i++)
		len += 4 * strlen(parts[i]) + 3;
	s = malloc(len + 1);
	if (!s)
		return NULL;
	p = s;
	*p = '\0';
	for (i = 0; i < n; i++) {
		char *q = tdesc_quote(parts[i]);

		if (!q) {
			free(s);
			return NULL;
		}
		p += sprintf(p, "%s%s", i ? " " : "", q);
		free(q);
	}
	return s;
}

static int rm_entry(const char *path, const struct stat *st, int flag,
		    struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP)
		rmdir(path);
	else
		unlink(path);
	return 0;
}

static char run_dir[PATH_MAX];

static void remove_run_dir(void)
{
	if (run_dir[0])
		nftw(run_dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
	run_dir[0] = '\0';
}

static const char *start_hint(int err, bool connect)
{
	switch (err) {
	case -ENOENT:
		return connect ? "there is no socket at that path"
			       : "the program was not found";
	case -EACCES:
		return "the program is not executable";
	case -ENAMETOOLONG:
		return "the socket path does not fit sun_path (107 bytes and a "
		       "NUL); set TMPDIR to a shorter directory";
	case -ECHILD:
		return "it exited before accepting a connection";
	case -ETIMEDOUT:
		return "it did not accept a connection in time (see "
		       "--connect-timeout)";
	case -ECONNREFUSED:
		return "nothing accepts connections there";
	default:
		return strerror(-err);
	}
}

/* Start the target once before the run: a target that cannot run is a
 * setup error (exit status 2), reported once and clearly. */
static int preflight(const struct runner_conf *rc, char *msg, size_t cap)
{
	struct target_status st;
	struct target *t = NULL;
	char tail[600];
	int fd = -1, ret;

	if (rc->target.mode == TARGET_LISTEN && !rc->target.argv)
		return 0; /* would take the back-end's first connection */
	ret = target_start(&t, &rc->target, &fd);
	if (ret == 0 && target_pid(t) > 0 && !target_socket_path(t)) {
		/* {fd}: the connection exists at once; give a target that
		 * dies at start a moment to show it */
		if (target_wait_exit(t, 100) == 1)
			ret = -ECHILD;
	}
	if (ret < 0) {
		size_t n;

		tail[0] = '\0';
		if (t)
			target_stderr_tail(t, tail, sizeof(tail));
		n = strlen(tail);
		while (n && tail[n - 1] == '\n')
			tail[--n] = '\0';
		if (ret == -ECHILD && t) {
			char how[64];

			target_sample(t, &st);
			if (st.signal)
				snprintf(how, sizeof(how), "was killed by %s",
					 watchdog_signal_name(st.signal));
			else
				snprintf(how, sizeof(how),
					 "exited at start with status %d",
					 st.exit_code);
			snprintf(msg, cap,
				 "the target did not start: it %s%s%s", how,
				 tail[0] ? "; its output ends with:\n" : "",
				 tail);
		} else {
			snprintf(msg, cap, "%s %s: %s%s%s",
				 rc->target.mode == TARGET_CONNECT
					 ? "cannot reach"
					 : "cannot start",
				 rc->target.mode == TARGET_CONNECT
					 ? rc->target.path
				 : rc->target.argv ? rc->target.argv[0]
						   : rc->target.path,
				 start_hint(ret,
					    rc->target.mode == TARGET_CONNECT),
				 tail[0] ? "; its output ends with:\n" : "",
				 tail);
		}
	}
	close_fd(&fd);
	target_free(t);
	return ret;
}

int main(int argc, char **argv)
{
	struct lua_cases_diag diag = { NULL, 0 };
	struct runner_conf rc;
	struct outputs_run run;
	struct baseline base = { NULL, 0 };
	struct lua_cases *lc = NULL;
	struct tdesc desc;
	struct opts o;
	const char **paths = NULL, *const * cpaths;
	struct vuc_result *results = NULL;
	const struct vuc_case **cases = NULL;
	char bindir[PATH_MAX], err[1024], msg[2048];
	char **target_argv = NULL;
	size_t npaths = 0, i, n = 0, *sel = NULL;
	int status = EXIT_SETUP, ret, loaded;
	char *rerun = NULL, *rerun_suffix = NULL, *tmp;
	const char *why;
	int64_t t0 = chan_now();

	/* a subcommand with its own options */
	if (argc > 1 && !strcmp(argv[1], "fuzz"))
		return fuzz_main(argc - 1, argv + 1, argv[0]);
	memset(&desc, 0, sizeof(desc));
	memset(&rc, 0, sizeof(rc));
	memset(&run, 0, sizeof(run));
	ret = parse_args(argc, argv, &o);
	if (ret == 1) {
		self_dir(bindir, sizeof(bindir));
		printf(usage_text, default_cases(bindir));
		status = EXIT_PASSED;
		goto out;
	}
	if (ret == 2) {
		printf("vu-conform %s\n", VUC_VERSION);
		status = EXIT_PASSED;
		goto out;
	}
	if (ret < 0)
		goto out;
	ret = set_profiles(&o);
	if (ret < 0) {
		errmsg("--profile: %s", strerror(-ret));
		goto out;
	}
	self_dir(bindir, sizeof(bindir));

	if (o.target_file) {
		if (tdesc_load(&desc, o.target_file, bindir, err, sizeof(err)) <
		    0) {
			errmsg("target description: %s", err);
			goto out;
		}
		if (!o.protocol)
			o.protocol = desc.protocol;
		else if (desc.protocol && strcmp(o.protocol, desc.protocol))
			errmsg("warning: --protocol %s overrides the "
			       "description's %s",
			       o.protocol, desc.protocol);
		if (!o.device)
			o.device = desc.device;
		if (desc.reuse)
			o.reuse = true;
		if (desc.connect_ms && !o.connect_set)
			o.connect_ms = desc.connect_ms;
		if (desc.reply_ms && !o.timeout_set)
			o.timeout_ms = desc.reply_ms;
	} else if (o.target) {
		ret = tdesc_split(o.target, &target_argv, &why);
		if (ret <= 0) {
			errmsg("--target: %s",
			       ret < 0 ? (why ? why : "out of memory")
				       : "empty command");
			goto out;
		}
	}
	if (!o.list && !o.target_file && !o.target && !o.connect && !o.listen) {
		errmsg("no target: give --target 'CMD ARGS', --target-file "
		       "FILE, --connect PATH or --listen PATH (see --help)");
		goto out;
	}

	/* cases */
	if (o.script) {
		if (push(&paths, &npaths, o.script) < 0)
			goto out;
	} else if (o.ncases) {
		for (i = 0; i < o.ncases; i++)
			if (push(&paths, &npaths, o.cases[i]) < 0)
				goto out;
	} else {
		if (push(&paths, &npaths, default_cases(bindir)) < 0)
			goto out;
	}
	cpaths = paths;
	loaded = lua_cases_load(
		&lc, cpaths, npaths,
		o.script && !o.protocol
			? NULL
			: (o.protocol ? o.protocol : "vhost-user"),
		&diag);
	if (!o.protocol)
		o.protocol = "vhost-user";
	for (i = 0; i < diag.n; i++)
		errmsg("%s", diag.msgs[i]);
	if (loaded < 0) {
		errmsg("cannot load cases from %s: %s", paths[0],
		       strerror(-loaded));
		goto out;
	}
	sel = calloc(lua_cases_count(lc) + 1, sizeof(*sel));
	if (!sel)
		goto out;
	for (i = 0; i < lua_cases_count(lc); i++)
		if (selected(&o, lua_cases_get(lc, i)))
			sel[n++] = i;
	if (o.list) {
		for (i = 0; i < n; i++) {
			const struct vuc_case *c = lua_cases_get(lc, sel[i]);

			printf("%s\t%s\t%s\n", c->id, vuc_level_name(c->level),
			       c->spec ? c->spec : "");
		}
		status = diag.n ? EXIT_SETUP : EXIT_PASSED;
		goto out;
	}
	if (!n) {
		errmsg("no case selected (%zu loaded%s)", lua_cases_count(lc),
		       o.nfilters || o.levels ? "; check --filter / --level"
					      : "");
		goto out;
	}

	if (o.baseline) {
		ret = baseline_load(&base, o.baseline, err, sizeof(err));
		if (ret < 0) {
			errmsg("baseline %s", err);
			goto out;
		}
	}

	/* the run directory: every target's private directory lives in it */
	tmp = getenv("TMPDIR");
	snprintf(run_dir, sizeof(run_dir), "%s/vuc-run-XXXXXX",
		 tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(run_dir)) {
		errmsg("cannot make a directory in %s: %s",
		       tmp && *tmp ? tmp : "/tmp", strerror(errno));
		run_dir[0] = '\0';
		goto out;
	}

	rc.protocol = o.protocol;
	rc.target.argv = o.target_file ? desc.argv : target_argv;
	rc.target.env = o.target_file ? desc.env : NULL;
	rc.target.mode = o.connect  ? TARGET_CONNECT
			 : o.listen ? TARGET_LISTEN
			 : o.reuse  ? TARGET_REUSE
				    : TARGET_SPAWN;
	rc.target.path = o.connect ? o.connect : o.listen;
	rc.target.connect_ms = o.connect_ms;
	rc.target.stop_ms = desc.stop_ms ? desc.stop_ms : 1000;
	rc.target.tmpdir = run_dir;
	rc.device = o.device;
	rc.timeout_ms = o.timeout_ms;
	rc.case_ms = o.case_ms;
	rc.jobs = o.jobs;
	if ((o.connect || o.listen) && o.jobs > 1) {
		errmsg("warning: -j %d needs a target per job; --connect and "
		       "--listen share one, so cases run one at a time",
		       o.jobs);
		rc.jobs = 1;
	}
	rc.strict = o.strict;
	rc.fd_tolerance = o.fd_tolerance;
	rc.max_fail = o.max_fail;
	rc.trace_dir = o.trace_dir;
	rc.repro_dir = o.trace_dir ? o.trace_dir : "vu-conform-repro";
	rerun = rerun_prefix(&o);
	rc.rerun_prefix = rerun ? rerun : o.argv0;
	if (o.script) {
		char *q = tdesc_quote(o.script);

		if (q && asprintf(&rerun_suffix, "run %s", q) < 0)
			rerun_suffix = NULL;
		free(q);
		rc.rerun_suffix = rerun_suffix;
	}
	rc.baseline = o.baseline ? &base : NULL;
	rc.progress = isatty(STDOUT_FILENO);
	rc.tap = stdout;

	runner_install_signals();
	results = calloc(n, sizeof(*results));
	cases = calloc(n, sizeof(*cases));
	if (!results || !cases)
		goto out;
	for (i = 0; i < n; i++)
		cases[i] = lua_cases_get(lc, sel[i]);

	run.version = VUC_VERSION;
	run.protocol = o.protocol;
	run.target_name = desc.name;
	run.target_file = o.target_file;
	run.mode = rc.target.mode == TARGET_CONNECT  ? "connect"
		   : rc.target.mode == TARGET_LISTEN ? "listen"
		   : rc.target.mode == TARGET_REUSE  ? "reuse"
						     : "spawn";
	run.argv = (const char *const *)rc.target.argv;
	run.path = rc.target.path;
	run.device = o.device;
	run.notes = desc.notes;
	run.strict = o.strict;

	ret = preflight(&rc, msg, sizeof(msg));
	if (ret < 0) {
		errmsg("%s", msg);
		outputs_tap_plan(stdout, n);
		printf("Bail out! %.*s\n", (int)strcspn(msg, "\n"), msg);
		for (i = 0; i < n; i++) {
			results[i].verdict = VUC_ERROR;
			results[i].reason = strdup(msg);
			results[i].watch.fd_start = results[i].watch.fd_end =
				-1;
		}
		status = EXIT_SETUP;
	} else {
		ret = runner_run(lc, sel, n, &rc, results);
		if (ret == -EINTR) {
			errmsg("interrupted");
			status = EXIT_SETUP;
		} else if (ret < 0) {
			errmsg("the run failed: %s", strerror(-ret));
			status = EXIT_SETUP;
		} else {
			status = EXIT_PASSED;
			for (i = 0; i < n; i++)
				if (outputs_fails_run(&results[i]))
					status = EXIT_FAILED;
		}
		run.duration_ms = (double)(chan_now() - t0) / 1e6;
		outputs_tap_summary(stdout, results, n, run.duration_ms);
		for (i = 0; i < base.n; i++)
			if (!base.v[i].used && !o.nfilters && !o.levels)
				errmsg("warning: %s:%d: no case %s in this run",
				       o.baseline, base.v[i].line,
				       base.v[i].id);
		if (diag.n) {
			errmsg("%zu problem%s loading case files (above): "
			       "exit status 2",
			       diag.n, diag.n > 1 ? "s" : "");
			status = EXIT_SETUP;
		}
	}
	fflush(stdout);
	run.duration_ms = (double)(chan_now() - t0) / 1e6;
	if (o.json &&
	    (ret = outputs_write_json(o.json, &run, cases, results, n)) < 0) {
		errmsg("cannot write %s: %s", o.json, strerror(-ret));
		status = EXIT_SETUP;
	}
	if (o.junit &&
	    (ret = outputs_write_junit(o.junit, &run, cases, results, n)) < 0) {
		errmsg("cannot write %s: %s", o.junit, strerror(-ret));
		status = EXIT_SETUP;
	}
	if (o.write_baseline &&
	    (ret = outputs_write_baseline(o.write_baseline, cases, results,
					  n)) < 0) {
		errmsg("cannot write %s: %s", o.write_baseline, strerror(-ret));
		status = EXIT_SETUP;
	}
out:
	remove_run_dir();
	for (i = 0; results && i < n; i++)
		vuc_result_free(&results[i]);
	free(results);
	free(cases);
	free(sel);
	free(rerun);
	free(rerun_suffix);
	free(paths);
	if (lc)
		lua_cases_free(lc);
	lua_cases_diag_free(&diag);
	baseline_free(&base);
	tdesc_free(&desc);
	tdesc_argv_free(target_argv);
	free(o.filters);
	free(o.cases);
	free(o.profiles);
	return status;
}
