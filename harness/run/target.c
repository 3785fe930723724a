// SPDX-License-Identifier: MIT
/*
 * target.c - launch, reach, watch and stop the daemon under test.
 *
 * Each launched target gets a private directory (mkdtemp under $TMPDIR)
 * holding its socket, its own process group, PR_SET_PDEATHSIG(SIGKILL), a
 * stdin pipe that stays open and never carries data (DPDK's testpmd exits
 * on EOF), and stdout + stderr in one memfd: nothing of it lands on our
 * stdout (TAP) or on disk. A small registry of live process groups and
 * directories lets a signal handler kill and clean everything.
 */
#include "run/target.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/util.h"
#include "run/watchdog.h"
#include "transport/chan.h"
#include "transport/fdzoo.h"
#include "transport/sock.h"

#define TARGET_SUN_PATH_MAX (sizeof(((struct sockaddr_un *)0)->sun_path))
#define TARGET_SLOTS 64

struct target {
	enum target_mode mode;
	char **argv;	    /* template, deep copy; NULL: no process */
	char **env;	    /* "KEY=VALUE" templates, deep copy; may be NULL */
	bool use_fd;	    /* "{fd}" in the launch line */
	bool own_sock;	    /* the socket path is in our private directory */
	bool external_path; /* conf->path given (CONNECT / LISTEN) */
	int connect_ms;
	int stop_ms;
	char tmpdir[PATH_MAX];
	char dir[PATH_MAX]; /* "" when none */
	char sock[PATH_MAX];
	pid_t pid; /* -1: none */
	bool reaped;
	int wstatus;
	int stderr_fd; /* memfd: the target's stdout and stderr */
	off_t mark;    /* stderr offset where the current case began */
	int stdin_w;   /* the write end of its stdin; never written */
	int listen_fd; /* LISTEN */
	int slot;
};

/*
 * What a signal handler may touch: fixed arrays, written before the
 * process they name exists and cleared after it is reaped.
 */
struct target_slot {
	volatile pid_t pgid;
	volatile int used;
	char dir[PATH_MAX];
	char sock[PATH_MAX];
};

static struct target_slot target_slots[TARGET_SLOTS];

static int slot_get(const char *dir, const char *sock)
{
	int i;

	for (i = 0; i < TARGET_SLOTS; i++) {
		if (target_slots[i].used)
			continue;
		target_slots[i].pgid = 0;
		snprintf(target_slots[i].dir, PATH_MAX, "%s", dir);
		snprintf(target_slots[i].sock, PATH_MAX, "%s", sock);
		target_slots[i].used = 1;
		return i;
	}
	return -1;
}

static void slot_put(int i)
{
	if (i < 0)
		return;
	target_slots[i].pgid = 0;
	target_slots[i].used = 0;
}

void target_kill_all(void)
{
	int i;

	for (i = 0; i < TARGET_SLOTS; i++) {
		pid_t pg = target_slots[i].pgid;

		if (target_slots[i].used && pg > 0)
			kill(-pg, SIGKILL);
	}
}

void target_cleanup_all(void)
{
	int i;

	target_kill_all();
	for (i = 0; i < TARGET_SLOTS; i++) {
		if (!target_slots[i].used)
			continue;
		if (target_slots[i].sock[0])
			unlink(target_slots[i].sock);
		if (target_slots[i].dir[0])
			rmdir(target_slots[i].dir);
	}
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

/* Remove the private directory and whatever the target left in it. */
static void target_rmdir(struct target *t)
{
	if (!t->dir[0])
		return;
	nftw(t->dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
	t->dir[0] = '\0';
	if (t->slot >= 0)
		target_slots[t->slot].dir[0] = '\0';
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Reap the process if it has exited; true when it is gone. */
static bool target_poll_exit(struct target *t)
{
	int st;
	pid_t r;

	if (t->pid <= 0 || t->reaped)
		return true;
	r = waitpid(t->pid, &st, WNOHANG);
	if (r == t->pid || (r < 0 && errno == ECHILD)) {
		t->reaped = true;
		t->wstatus = r == t->pid ? st : 0;
		/* Its group may live on (a daemon that forked): take it
		 * along now, while the id cannot have been reused yet by
		 * much. */
		kill(-t->pid, SIGKILL);
		if (t->slot >= 0)
			target_slots[t->slot].pgid = 0;
		return true;
	}
	return false;
}

/* Replace every "{key}" in @s; a new string, or NULL on ENOMEM. */
static char *subst(const char *s, const char *const *keys,
		   const char *const *vals, size_t n)
{
	size_t cap = strlen(s) + 1, len = 0, i;
	char *out = malloc(cap);

	if (!out)
		return NULL;
	while (*s) {
		for (i = 0; i < n; i++) {
			size_t kl = strlen(keys[i]);

			if (!strncmp(s, keys[i], kl))
				break;
		}
		if (i < n) {
			size_t vl = strlen(vals[i]);
			char *p;

			p = realloc(out, cap + vl);
			if (!p) {
				free(out);
				return NULL;
			}
			out = p;
			cap += vl;
			memcpy(out + len, vals[i], vl);
			len += vl;
			s += strlen(keys[i]);
		} else {
			out[len++] = *s++;
		}
	}
	out[len] = '\0';
	return out;
}

static void free_argv(char **argv)
{
	size_t i;

	if (!argv)
		return;
	for (i = 0; argv[i]; i++)
		free(argv[i]);
	free(argv);
}

static bool argv_has(char *const *argv, const char *key)
{
	size_t i;

	for (i = 0; argv && argv[i]; i++)
		if (strstr(argv[i], key))
			return true;
	return false;
}

static const char *const subst_keys[] = { "{socket}", "{fd}", "{dir}",
					  "{name}" };

/* What each of subst_keys[] becomes for this start. */
static void subst_vals(const struct target *t, char fdnum[16],
		       const char *vals[4])
{
	const char *base = strrchr(t->dir, '/');

	vals[0] = t->sock;
	vals[1] = fdnum;
	vals[2] = t->dir;
	/* A short name unique to this launch, e.g. for DPDK's --file-prefix. */
	vals[3] = base ? base + 1 : t->dir;
}

/* "KEY=VALUE" entries for the target's environment, placeholders replaced;
 * NULL on ENOMEM. An empty list when the description sets none. */
static char **target_env(const struct target *t, int child_fd)
{
	const char *vals[4];
	char fdnum[16];
	size_t n = 0, i;
	char **env;

	snprintf(fdnum, 16, "%d", child_fd);
	subst_vals(t, fdnum, vals);
	while (t->env && t->env[n])
		n++;
	env = calloc(n + 1, sizeof(*env));
	if (!env)
		return NULL;
	for (i = 0; i < n; i++) {
		env[i] = subst(t->env[i], subst_keys, vals,
			       ARRAY_SIZE(subst_keys));
		if (!env[i]) {
			free_argv(env);
			return NULL;
		}
	}
	return env;
}

/* The launch line for this start: placeholders replaced. */
static char **target_argv(const struct target *t, int child_fd)
{
	char fdnum[16];
	const char *vals[4];
	size_t n = 0, i;
	char **argv;

	snprintf(fdnum, sizeof(fdnum), "%d", child_fd);
	subst_vals(t, fdnum, vals);
	while (t->argv[n])
		n++;
	argv = calloc(n + 2, sizeof(*argv));
	if (!argv)
		return NULL;
	for (i = 0; i < n; i++) {
		argv[i] = subst(t->argv[i], subst_keys, vals,
				ARRAY_SIZE(subst_keys));
		if (!argv[i])
			goto nomem;
	}
	/* Backend program conventions: --socket-path=PATH by default. */
	if (!argv_has(t->argv, "{socket}") && !argv_has(t->argv, "{fd}")) {
		if (asprintf(&argv[n], "--socket-path=%s", t->sock) < 0) {
			argv[n] = NULL;
			goto nomem;
		}
	}
	return argv;
nomem:
	free_argv(argv);
	return NULL;
}

/* The child: never returns. Reports exec failure through @errfd. */
static void target_child(char **argv, char **env, int in_fd, int out_fd,
			 int keep_fd, int errfd, pid_t parent)
{
	sigset_t all;
	int err;
	size_t i;

	setpgid(0, 0);
	/* A dying runner takes its targets along; if it died already, the
	 * signal will never come. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(127);
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	signal(SIGPIPE, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	if (dup2(in_fd, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(out_fd, 2) < 0)
		goto fail;
	if (keep_fd >= 0 && sock_set_cloexec(keep_fd, false) < 0)
		goto fail;
	for (i = 0; env[i]; i++)
		if (putenv(env[i]) < 0)
			goto fail;
	execvp(argv[0], argv);
fail:
	err = errno;
	if (write(errfd, &err, sizeof(err)) < 0)
		_exit(127);
	_exit(127);
}

/* Fork and exec; @keep_fd (or -1) is inherited by the child. */
static int target_spawn(struct target *t, int keep_fd)
{
	int in[2] = { -1, -1 }, ep[2] = { -1, -1 };
	pid_t self = getpid(), pid;
	char **argv = NULL, **env = NULL;
	int err = 0, ret;
	ssize_t n;

	argv = target_argv(t, keep_fd);
	env = target_env(t, keep_fd);
	if (!argv || !env) {
		free_argv(argv);
		free_argv(env);
		return -ENOMEM;
	}
	if (pipe2(in, O_CLOEXEC) < 0 || pipe2(ep, O_CLOEXEC) < 0) {
		ret = -errno;
		goto out;
	}
	t->reaped = false;
	t->wstatus = 0;
	pid = fork();
	if (pid < 0) {
		ret = -errno;
		goto out;
	}
	if (pid == 0)
		target_child(argv, env, in[0], t->stderr_fd, keep_fd, ep[1],
			     self);
	/* Both sides set the group, so whichever runs first wins the race
	 * with a kill of the group. */
	setpgid(pid, pid);
	t->pid = pid;
	if (t->slot >= 0)
		target_slots[t->slot].pgid = pid;
	close_fd(&ep[1]);
	close_fd(&in[0]);
	close_fd(&t->stdin_w);
	t->stdin_w = in[1];
	in[1] = -1;
	do
		n = read(ep[0], &err, sizeof(err));
	while (n < 0 && errno == EINTR);
	if (n == (ssize_t)sizeof(err)) {
		/* exec failed: reap the child now */
		while (waitpid(pid, &t->wstatus, 0) < 0 && errno == EINTR)
			;
		t->reaped = true;
		if (t->slot >= 0)
			target_slots[t->slot].pgid = 0;
		ret = err == ENOENT || err == ENOTDIR ? -ENOENT
		      : err == EACCES || err == EPERM || err == ENOEXEC
			      ? -EACCES
			      : -err;
		goto out;
	}
	ret = 0;
out:
	close_fd(&in[0]);
	close_fd(&in[1]);
	close_fd(&ep[0]);
	close_fd(&ep[1]);
	free_argv(argv);
	free_argv(env);
	return ret;
}

/* Connect to our target's socket while it starts, noticing its exit. */
static int target_connect_spawned(struct target *t)
{
	int64_t deadline = chan_deadline(t->connect_ms);
	int delay = 1, fd;

	for (;;) {
		fd = sock_connect(t->sock, 0);
		if (fd >= 0)
			return fd;
		if (fd != -ETIMEDOUT && fd != -ENOENT && fd != -ECONNREFUSED &&
		    fd != -EAGAIN)
			return fd;
		if (target_poll_exit(t))
			return -ECHILD;
		if (chan_now() >= deadline)
			return -ETIMEDOUT;
		sleep_ms(delay);
		delay = VUC_MIN(delay * 2, 20);
	}
}

/* Accept the back-end's connection, noticing our child's exit. */
static int target_accept(struct target *t)
{
	int64_t deadline = chan_deadline(t->connect_ms);
	int fd;

	for (;;) {
		int64_t step = chan_deadline(20);

		fd = sock_accept(t->listen_fd,
				 step < deadline ? step : deadline);
		if (fd != -ETIMEDOUT)
			return fd;
		if (t->argv && target_poll_exit(t))
			return -ECHILD;
		if (chan_now() >= deadline)
			return -ETIMEDOUT;
	}
}

/* Start the process (if any) and make a connection. */
static int target_launch(struct target *t, int *fd)
{
	int sv[2] = { -1, -1 };
	int ret;

	*fd = -1;
	if (t->own_sock)
		unlink(t->sock);
	if (t->mode == TARGET_LISTEN) {
		if (t->listen_fd < 0) {
			ret = sock_listen(t->sock, 4);
			if (ret < 0)
				return ret;
			t->listen_fd = ret;
		}
		if (t->argv) {
			ret = target_spawn(t, -1);
			if (ret < 0)
				return ret;
		}
		ret = target_accept(t);
		if (ret < 0)
			return ret;
		*fd = ret;
		return 0;
	}
	if (t->use_fd) {
		ret = sock_pair(sv);
		if (ret < 0)
			return ret;
		ret = target_spawn(t, sv[1]);
		close_fd(&sv[1]);
		if (ret < 0) {
			close_fd(&sv[0]);
			return ret;
		}
		*fd = sv[0];
		return 0;
	}
	ret = target_spawn(t, -1);
	if (ret < 0)
		return ret;
	ret = target_connect_spawned(t);
	if (ret < 0)
		return ret;
	*fd = ret;
	return 0;
}

static int target_make_dir(struct target *t)
{
	int n;

	n = snprintf(t->dir, sizeof(t->dir), "%s/vuc-XXXXXX", t->tmpdir);
	if (n < 0 || (size_t)n >= sizeof(t->dir))
		return -ENAMETOOLONG;
	if (!mkdtemp(t->dir)) {
		int err = -errno;

		t->dir[0] = '\0';
		return err;
	}
	if (strlen(t->dir) + sizeof("/sock") > sizeof(t->sock))
		return -ENAMETOOLONG;
	memcpy(t->sock, t->dir, strlen(t->dir));
	memcpy(t->sock + strlen(t->dir), "/sock", sizeof("/sock"));
	t->own_sock = true;
	return 0;
}

int target_start(struct target **out, const struct target_conf *conf, int *fd)
{
	const char *tmp = conf->tmpdir ? conf->tmpdir : getenv("TMPDIR");
	struct target *t;
	size_t n = 0, i;
	int ret;

	*out = NULL;
	*fd = -1;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->mode = conf->mode;
	t->pid = -1;
	t->stderr_fd = -1;
	t->stdin_w = -1;
	t->listen_fd = -1;
	t->slot = -1;
	t->connect_ms = conf->connect_ms > 0 ? conf->connect_ms : 5000;
	t->stop_ms = conf->stop_ms > 0 ? conf->stop_ms : 1000;
	snprintf(t->tmpdir, sizeof(t->tmpdir), "%s",
		 tmp && *tmp ? tmp : "/tmp");
	*out = t;

	if (conf->mode != TARGET_CONNECT && conf->argv && conf->argv[0]) {
		while (conf->argv[n])
			n++;
		t->argv = calloc(n + 1, sizeof(*t->argv));
		if (!t->argv)
			return -ENOMEM;
		for (i = 0; i < n; i++)
			if (!(t->argv[i] = strdup(conf->argv[i])))
				return -ENOMEM;
		t->use_fd = argv_has(t->argv, "{fd}");
		for (n = 0; conf->env && conf->env[n]; n++)
			;
		t->env = calloc(n + 1, sizeof(*t->env));
		if (!t->env)
			return -ENOMEM;
		for (i = 0; i < n; i++)
			if (!(t->env[i] = strdup(conf->env[i])))
				return -ENOMEM;
	}
	if (conf->mode == TARGET_CONNECT ||
	    (conf->mode == TARGET_LISTEN && conf->path)) {
		if (!conf->path || !*conf->path)
			return -EINVAL;
		if (strlen(conf->path) >= TARGET_SUN_PATH_MAX)
			return -ENAMETOOLONG;
		snprintf(t->sock, sizeof(t->sock), "%s", conf->path);
		t->external_path = true;
	}
	if (conf->mode == TARGET_CONNECT) {
		struct stat st;

		/* a daemon may still be starting, but a path that does not
		 * exist at all is more likely a typo: say so at once */
		if (stat(t->sock, &st) < 0 && errno == ENOENT)
			return -ENOENT;
		ret = sock_connect(t->sock, t->connect_ms);
		if (ret < 0)
			return ret;
		*fd = ret;
		return 0;
	}
	if (!t->argv && conf->mode != TARGET_LISTEN)
		return -EINVAL;
	/* LISTEN on a given path keeps that path; everything else gets a
	 * private directory (also the home of "{dir}"). */
	if (t->argv || !t->external_path) {
		char keep[PATH_MAX];

		snprintf(keep, sizeof(keep), "%s", t->sock);
		ret = target_make_dir(t);
		if (ret < 0)
			return ret;
		if (t->external_path) {
			snprintf(t->sock, sizeof(t->sock), "%s", keep);
			t->own_sock = false;
		}
	}
	if (t->own_sock && strlen(t->sock) >= TARGET_SUN_PATH_MAX) {
		ret = -ENAMETOOLONG;
		goto fail;
	}
	t->slot = slot_get(
		t->dir, t->own_sock || t->mode == TARGET_LISTEN ? t->sock : "");
	if (t->slot < 0) {
		ret = -EMFILE;
		goto fail;
	}
	if (t->argv) {
		ret = memfd_create("vuc-target-output", MFD_CLOEXEC);
		if (ret < 0) {
			ret = -errno;
			goto fail;
		}
		t->stderr_fd = ret;
		fcntl(t->stderr_fd, F_SETFL, O_APPEND);
	}
	ret = target_launch(t, fd);
	if (ret < 0)
		goto fail;
	return 0;
fail:
	target_stop(t);
	return ret;
}

/* Terminate the process: SIGTERM, grace, SIGKILL; reap it. */
static void target_kill_process(struct target *t)
{
	int64_t deadline;

	if (t->pid <= 0 || target_poll_exit(t))
		return;
	kill(-t->pid, SIGTERM);
	deadline = chan_deadline(t->stop_ms);
	while (!target_poll_exit(t)) {
		if (chan_now() >= deadline) {
			kill(-t->pid, SIGKILL);
			while (waitpid(t->pid, &t->wstatus, 0) < 0 &&
			       errno == EINTR)
				;
			t->reaped = true;
			if (t->slot >= 0)
				target_slots[t->slot].pgid = 0;
			break;
		}
		sleep_ms(2);
	}
}

int target_reconnect(struct target *t, int *fd)
{
	int ret;

	*fd = -1;
	switch (t->mode) {
	case TARGET_CONNECT:
		return sock_connect(t->sock, t->connect_ms);
	case TARGET_SPAWN:
		target_kill_process(t);
		return target_launch(t, fd);
	case TARGET_REUSE:
		if (t->use_fd || target_poll_exit(t)) {
			target_kill_process(t);
			return target_launch(t, fd);
		}
		ret = target_connect_spawned(t);
		if (ret < 0)
			return ret;
		*fd = ret;
		return 0;
	case TARGET_LISTEN:
		if (t->argv && target_poll_exit(t)) {
			ret = target_spawn(t, -1);
			if (ret < 0)
				return ret;
		}
		ret = target_accept(t);
		if (ret < 0)
			return ret;
		*fd = ret;
		return 0;
	}
	return -EINVAL;
}

static long target_rss_kb(pid_t pid)
{
	char path[64], line[256];
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "VmRSS:", 6)) {
			kb = strtol(line + 6, NULL, 10);
			break;
		}
	}
	fclose(f);
	return kb;
}

void target_sample(struct target *t, struct target_status *st)
{
	int n;

	memset(st, 0, sizeof(*st));
	st->fd_count = -1;
	st->rss_kb = -1;
	if (t->pid <= 0) {
		/* CONNECT / LISTEN without a process: nothing to watch; say
		 * "running" so nobody reports an exit. */
		st->running = t->mode == TARGET_CONNECT ||
			      (t->mode == TARGET_LISTEN && !t->argv);
		return;
	}
	st->running = !target_poll_exit(t);
	if (st->running) {
		n = fdzoo_count_open(t->pid);
		st->fd_count = n >= 0 ? n : -1;
		st->rss_kb = target_rss_kb(t->pid);
	} else if (WIFSIGNALED(t->wstatus)) {
		st->signal = WTERMSIG(t->wstatus);
	} else if (WIFEXITED(t->wstatus)) {
		st->exit_code = WEXITSTATUS(t->wstatus);
	}
	st->sanitizer = target_sanitizer_report(t, NULL, 0);
}

int target_wait_exit(struct target *t, int timeout_ms)
{
	int64_t deadline = chan_deadline(timeout_ms);

	if (t->pid <= 0)
		return -ENOTSUP;
	while (!target_poll_exit(t)) {
		if (chan_now() >= deadline)
			return 0;
		sleep_ms(1);
	}
	return 1;
}

int target_signal(struct target *t, int sig)
{
	if (t->pid <= 0)
		return -ENOTSUP;
	if (target_poll_exit(t))
		return -ESRCH;
	if (kill(-t->pid, sig) < 0)
		return -errno;
	return 0;
}

pid_t target_pid(const struct target *t)
{
	return t->pid > 0 && !t->reaped ? t->pid : -1;
}

/* Size of what the target wrote so far. */
static off_t target_output_size(const struct target *t)
{
	struct stat st;

	if (t->stderr_fd < 0 || fstat(t->stderr_fd, &st) < 0)
		return 0;
	return st.st_size;
}

static size_t target_read_at(const struct target *t, off_t off, char *buf,
			     size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = pread(t->stderr_fd, buf + got, len - got,
				  off + (off_t)got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	return got;
}

size_t target_stderr_tail(struct target *t, char *buf, size_t cap)
{
	off_t end = target_output_size(t), start;
	size_t n, i;

	if (!cap)
		return 0;
	start = end - (off_t)(cap - 1);
	if (start < t->mark)
		start = t->mark;
	if (start > end)
		start = end;
	n = target_read_at(t, start, buf, (size_t)(end - start));
	for (i = 0; i < n; i++)
		if (!buf[i])
			buf[i] = '?';
	buf[n] = '\0';
	return n;
}

void target_mark(struct target *t)
{
	t->mark = target_output_size(t);
}

bool target_sanitizer_report(struct target *t, char *buf, size_t cap)
{
	/* Read the case's window in blocks that overlap by more than the
	 * longest marker, so a marker cut by a block edge is still seen. */
	enum { BLOCK = 65536, OVERLAP = 256 };
	off_t end = target_output_size(t), off = t->mark;
	char *block;
	bool found = false;

	if (end <= off)
		return false;
	block = malloc(BLOCK + 1);
	if (!block)
		return false;
	while (off < end && !found) {
		size_t want = (size_t)VUC_MIN((off_t)BLOCK, end - off);
		size_t n = target_read_at(t, off, block, want);
		long at;

		if (!n)
			break;
		at = watchdog_sanitizer_find(block, n);
		if (at >= 0) {
			found = true;
			if (buf && cap) {
				/* re-read from the marker line so the
				 * excerpt is whole */
				n = target_read_at(
					t, off + at, block,
					(size_t)VUC_MIN((off_t)BLOCK,
							end - off - at));
				watchdog_sanitizer_excerpt(block, n, buf, cap);
			}
			break;
		}
		if (off + (off_t)n >= end)
			break;
		off += (off_t)n > OVERLAP ? (off_t)n - OVERLAP : (off_t)n;
	}
	free(block);
	return found;
}

const char *target_socket_path(const struct target *t)
{
	if (t->use_fd || !t->sock[0])
		return NULL;
	return t->sock;
}

const char *target_dir(const struct target *t)
{
	return t->dir[0] ? t->dir : NULL;
}

int target_exit_status(const struct target *t, int *exit_code, int *sig)
{
	*exit_code = 0;
	*sig = 0;
	if (t->pid <= 0 || !t->reaped)
		return 0;
	if (WIFSIGNALED(t->wstatus))
		*sig = WTERMSIG(t->wstatus);
	else if (WIFEXITED(t->wstatus))
		*exit_code = WEXITSTATUS(t->wstatus);
	return 1;
}

void target_stop(struct target *t)
{
	if (!t)
		return;
	target_kill_process(t);
	close_fd(&t->stdin_w);
	close_fd(&t->listen_fd);
	if ((t->own_sock || t->mode == TARGET_LISTEN) && t->sock[0] &&
	    t->mode != TARGET_CONNECT)
		unlink(t->sock);
	target_rmdir(t);
	slot_put(t->slot);
	t->slot = -1;
}

void target_free(struct target *t)
{
	if (!t)
		return;
	target_stop(t);
	close_fd(&t->stderr_fd);
	free_argv(t->argv);
	free_argv(t->env);
	free(t);
}
