// SPDX-License-Identifier: MIT
/*
 * runner.c - workers, per-case target handling, the watchdog, TAP in
 * order.
 */
#include "run/runner.h"

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/util.h"
#include "fe/frame.h"
#include "run/outputs.h"
#include "run/tdesc.h"
#include "run/watchdog.h"
#include "transport/chan.h"

#define RUNNER_QUIT UINT32_MAX
#define RUNNER_FRAME_MAX (64u << 20)

static volatile sig_atomic_t runner_sig;

int runner_interrupted(void)
{
	return runner_sig;
}

static void parent_on_signal(int sig)
{
	runner_sig = sig;
}

void runner_install_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = parent_on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* A worker dies with its targets: kill them, remove their sockets. */
static void worker_on_signal(int sig)
{
	target_cleanup_all();
	_exit(128 + sig);
}

static int read_full(int fd, void *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(fd, (char *)buf + got, len - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -ECONNRESET;
		got += (size_t)n;
	}
	return 0;
}

static int write_full(int fd, const void *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = write(fd, (const char *)buf + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		done += (size_t)n;
	}
	return 0;
}

static int mkdir_p(const char *path)
{
	char buf[4096];
	size_t i, len = strlen(path);

	if (len >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, len + 1);
	for (i = 1; i <= len; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		buf[i] = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return -errno;
		buf[i] = path[i];
	}
	return 0;
}

/* ---- One case, in a worker ------------------------------------------ */

struct wstate {
	struct target *t; /* kept between cases except in SPAWN */
	int conn;
};

static bool conf_has_process(const struct runner_conf *conf)
{
	return conf->target.mode != TARGET_CONNECT && conf->target.argv &&
	       conf->target.argv[0];
}

static char *make_rerun(const struct runner_conf *conf, const char *id)
{
	char *q = tdesc_quote(id), *s = NULL;

	if (!q)
		return NULL;
	if (asprintf(&s, "%s --filter %s%s%s", conf->rerun_prefix, q,
		     conf->rerun_suffix ? " " : "",
		     conf->rerun_suffix ? conf->rerun_suffix : "") < 0)
		s = NULL;
	free(q);
	return s;
}

VUC_PRINTF(3, 4)
static void set_verdict(struct vuc_result *r, enum vuc_verdict v,
			const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	free(r->reason);
	r->reason = s;
	r->verdict = v;
}

static const char *start_error(int err)
{
	switch (err) {
	case -ENOENT:
		return "the program was not found";
	case -EACCES:
		return "the program is not executable";
	case -ENAMETOOLONG:
		return "the socket path does not fit sun_path (108 bytes); "
		       "use a shorter TMPDIR";
	case -ECHILD:
		return "the target exited before accepting a connection";
	case -ETIMEDOUT:
		return "the target did not accept a connection in time";
	case -ECONNREFUSED:
		return "the connection was refused";
	default:
		return NULL;
	}
}

static void note(struct vuc_result *r, double t_ms, const char *fmt, ...)
	VUC_PRINTF(3, 4);

static void note(struct vuc_result *r, double t_ms, const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	if (s)
		vuc_trace_add(&r->trace, VUC_TRACE_NOTE, t_ms, s, NULL, 0,
			      NULL);
	free(s);
}

/* Whatever the target sent that nobody read: vhost-user back-ends speak
 * on the main socket only to reply. */
static void check_unsolicited(int conn, struct watchdog_obs *obs,
			      struct vuc_result *r, double t_ms)
{
	struct vhost_user_msg *m;
	int i;

	if (conn < 0 || chan_poll(conn, chan_deadline(0)) <= 0)
		return;
	m = malloc(sizeof(*m));
	if (!m)
		return;
	for (i = 0; i < 8; i++) {
		char line[256];
		int n;

		n = frame_vhost_recv(conn, m, chan_deadline(20), NULL, NULL);
		if (n < 0)
			break;
		vhost_user_describe(m, VHOST_USER_FROM_FRONTEND, line,
				    sizeof(line));
		vuc_trace_add(&r->trace, VUC_TRACE_RECV, t_ms, line, m,
			      VHOST_USER_HDR_SIZE + m->hdr.size, NULL);
		close_fds(m->fds, m->nfds);
		if (!obs->unsolicited)
			snprintf(obs->unsolicited_text,
				 sizeof(obs->unsolicited_text), "%s", line);
		obs->unsolicited++;
		if (chan_poll(conn, chan_deadline(0)) <= 0)
			break;
	}
	free(m);
}

/* The peer hung up (or the case closed the connection). */
static bool peer_closed(int conn)
{
	char c;
	ssize_t n;

	if (conn < 0)
		return true;
	n = recv(conn, &c, 1, MSG_PEEK | MSG_DONTWAIT);
	return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

/* The target's fd count after our hang-up, once it has settled: a reused
 * daemon must drop what the connection brought. */
static int settled_fd_count(struct target *t, int limit)
{
	int64_t deadline = chan_deadline(250);
	struct target_status st;

	for (;;) {
		target_sample(t, &st);
		if (!st.running || st.fd_count < 0 || st.fd_count <= limit ||
		    chan_now() >= deadline)
			return st.running ? st.fd_count : -1;
		chan_sleep_until(chan_deadline(5));
	}
}

static void run_case(struct lua_cases *lc, size_t idx,
		     const struct runner_conf *conf, struct wstate *ws,
		     struct vuc_result *r)
{
	const struct vuc_case *c = lua_cases_get(lc, idx);
	struct watchdog_conf wconf = { conf->fd_tolerance, false };
	struct target_status st0, st1;
	struct watchdog_obs obs;
	struct lua_case_env env;
	char *rerun = make_rerun(conf, c->id);
	int64_t t0 = chan_now();
	pid_t pid0;
	int ret, wd;
	char tail[4096];

	memset(r, 0, sizeof(*r));
	memset(&obs, 0, sizeof(obs));
	obs.fd_start = obs.fd_end = -1;

	if (c->fresh_process && !conf_has_process(conf)) {
		set_verdict(r, VUC_SKIP,
			    "needs a fresh target process; --connect reaches "
			    "a daemon that is already running");
		goto done;
	}
	if (c->fresh_process && conf->target.mode == TARGET_LISTEN) {
		set_verdict(r, VUC_SKIP,
			    "needs a fresh target process; --listen serves "
			    "one back-end across cases");
		goto done;
	}
	if (c->needs_device &&
	    (!conf->device || strcmp(conf->device, c->needs_device))) {
		set_verdict(r, VUC_SKIP,
			    "needs a %s device; the target's is %s",
			    c->needs_device,
			    conf->device ? conf->device
					 : "not known (say --device NAME)");
		goto done;
	}

	if (conf->target.mode == TARGET_SPAWN || !ws->t) {
		if (ws->t) {
			target_free(ws->t);
			ws->t = NULL;
		}
		ret = target_start(&ws->t, &conf->target, &ws->conn);
	} else {
		ret = target_reconnect(ws->t, &ws->conn);
	}
	if (ret < 0) {
		const char *why = start_error(ret);

		tail[0] = '\0';
		if (ws->t)
			target_stderr_tail(ws->t, tail, 512);
		set_verdict(r, VUC_ERROR,
			    "could not start or reach the target: "
			    "%s%s%s",
			    why ? why : strerror(-ret),
			    tail[0] ? "; its output ends with: " : "", tail);
		target_free(ws->t);
		ws->t = NULL;
		goto done;
	}
	target_mark(ws->t);
	target_sample(ws->t, &st0);
	pid0 = target_pid(ws->t);
	obs.process = pid0 > 0;

	memset(&env, 0, sizeof(env));
	env.conn = ws->conn;
	env.target = ws->t;
	env.timeout_ms = conf->timeout_ms;
	env.case_ms = conf->case_ms;
	env.device = conf->device;
	env.trace_dir = conf->trace_dir;
	env.rerun = rerun;
	ret = lua_cases_run(lc, idx, &env, r);
	ws->conn = env.conn;
	if (ret < 0)
		set_verdict(r, VUC_ERROR, "the Lua layer failed: %s",
			    strerror(-ret));

	if (c->protocol && !strcmp(c->protocol, "vhost-user")) {
		check_unsolicited(ws->conn, &obs, r,
				  (double)(chan_now() - t0) / 1e6);
		wconf.unsolicited_fails = true;
	}
	/* A target that hung up may be dying: its socket closes before its
	 * parent can see the exit. Give it a moment, so that a crash is seen
	 * as one (and not as a death by our SIGTERM). */
	if (obs.process && peer_closed(ws->conn))
		target_wait_exit(ws->t, 50);
	target_sample(ws->t, &st1);
	if (target_pid(ws->t) == pid0 || !st1.running) {
		obs.fd_start = st0.fd_count;
		obs.fd_end = st1.fd_count;
	}
	r->watch.rss_start_kb = st0.rss_kb;
	r->watch.rss_end_kb = st1.rss_kb;
	obs.ended = obs.process && !st1.running;
	obs.signal = obs.ended ? st1.signal : 0;
	obs.exit_code = obs.ended ? st1.exit_code : 0;
	obs.fds_sent = vuc_trace_fds_sent(&r->trace);
	if (obs.ended && obs.signal)
		note(r, (double)(chan_now() - t0) / 1e6, "target killed by %s",
		     watchdog_signal_name(obs.signal));
	else if (obs.ended)
		note(r, (double)(chan_now() - t0) / 1e6,
		     "target exited with status %d", obs.exit_code);
	close_fd(&ws->conn);

	if (conf->target.mode == TARGET_SPAWN) {
		int code, sig;

		target_stop(ws->t);
		if (!obs.ended && target_exit_status(ws->t, &code, &sig))
			obs.stop_signal = sig;
	} else if (obs.process && st1.running && obs.fd_start >= 0) {
		/* compare after our hang-up; +1: our connection's fd */
		int n = settled_fd_count(ws->t,
					 obs.fd_start - 1 + conf->fd_tolerance);

		obs.fd_end = n >= 0 ? n + 1 : -1;
		obs.fds_sent = 0;
	}
	obs.sanitizer =
		target_sanitizer_report(ws->t, obs.report, sizeof(obs.report));
	target_stderr_tail(ws->t, tail, sizeof(tail));
	free(r->stderr_tail);
	r->stderr_tail = tail[0] ? strdup(tail) : NULL;
	if (conf->target.mode == TARGET_SPAWN) {
		target_free(ws->t);
		ws->t = NULL;
	}

	wd = watchdog_apply(r, &obs, &wconf);
	r->lenient = r->verdict == VUC_FAIL && c->level == VUC_SHOULD &&
		     !conf->strict && wd != 1;
	if (r->duration_ms <= 0)
		r->duration_ms = (double)(chan_now() - t0) / 1e6;

	if (r->verdict == VUC_FAIL && conf->repro_dir) {
		char *path = outputs_case_path(conf->repro_dir, c->id, ".lua");

		if (path && mkdir_p(conf->repro_dir) == 0 &&
		    lua_cases_write_reproducer(c, r, path) == 0) {
			free(r->reproducer);
			r->reproducer = path;
			path = NULL;
		}
		free(path);
	}
done:
	if (r->duration_ms <= 0)
		r->duration_ms = (double)(chan_now() - t0) / 1e6;
	free(r->rerun);
	r->rerun = rerun;
	if (conf->trace_dir && r->verdict != VUC_SKIP) {
		char *path =
			outputs_case_path(conf->trace_dir, c->id, ".trace");

		if (path && mkdir_p(conf->trace_dir) == 0)
			outputs_write_trace(path, c, r);
		free(path);
	}
}

static void worker_main(struct lua_cases *lc, const size_t *sel,
			const struct runner_conf *conf, int cmd_fd, int res_fd,
			pid_t parent)
{
	struct wstate ws = { NULL, -1 };
	struct sigaction sa;
	uint32_t pos;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = worker_on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != parent)
		_exit(1);

	while (read_full(cmd_fd, &pos, sizeof(pos)) == 0 &&
	       pos != RUNNER_QUIT) {
		struct json_object *o, *frame;
		struct vuc_result r;
		const char *text;
		uint32_t len;

		run_case(lc, sel[pos], conf, &ws, &r);
		o = outputs_result_json(lua_cases_get(lc, sel[pos]), &r);
		frame = json_object_new_object();
		if (!o || !frame)
			_exit(3);
		json_object_object_add(frame, "k", json_object_new_int64(pos));
		json_object_object_add(frame, "r", o);
		text = json_object_to_json_string_ext(frame,
						      JSON_C_TO_STRING_PLAIN);
		len = (uint32_t)strlen(text);
		if (write_full(res_fd, &len, sizeof(len)) < 0 ||
		    write_full(res_fd, text, len) < 0)
			_exit(3);
		json_object_put(frame);
		vuc_result_free(&r);
	}
	close_fd(&ws.conn);
	target_free(ws.t);
	_exit(0);
}

/* ---- The parent ----------------------------------------------------- */

struct worker {
	pid_t pid;
	int cmd_fd, res_fd;
	long busy; /* position being run, -1: idle */
	int64_t deadline;
	uint8_t *buf;
	size_t len, cap;
};

static int worker_spawn(struct worker *w, struct worker *all, size_t nall,
			struct lua_cases *lc, const size_t *sel,
			const struct runner_conf *conf)
{
	int cmd[2], res[2];
	pid_t self = getpid(), pid;
	size_t i;

	if (pipe2(cmd, O_CLOEXEC) < 0)
		return -errno;
	if (pipe2(res, O_CLOEXEC) < 0) {
		int err = -errno;

		close(cmd[0]);
		close(cmd[1]);
		return err;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		int err = -errno;

		close(cmd[0]);
		close(cmd[1]);
		close(res[0]);
		close(res[1]);
		return err;
	}
	if (pid == 0) {
		/* Only our own pipe ends: the parent sees a worker's death
		 * as EOF only if no sibling holds its write end. */
		for (i = 0; i < nall; i++) {
			close_fd(&all[i].cmd_fd);
			close_fd(&all[i].res_fd);
		}
		close(cmd[1]);
		close(res[0]);
		worker_main(lc, sel, conf, cmd[0], res[1], self);
	}
	close(cmd[0]);
	close(res[1]);
	w->pid = pid;
	w->cmd_fd = cmd[1];
	w->res_fd = res[0];
	w->busy = -1;
	w->len = 0;
	fcntl(w->res_fd, F_SETFL, O_NONBLOCK);
	return 0;
}

/* Make sure it is gone: SIGTERM (it cleans its targets), then SIGKILL. */
static int worker_reap(struct worker *w, int grace_ms)
{
	int64_t deadline = chan_deadline(grace_ms);
	int st = 0;
	pid_t r;

	close_fd(&w->cmd_fd);
	close_fd(&w->res_fd);
	if (w->pid <= 0)
		return 0;
	for (;;) {
		r = waitpid(w->pid, &st, WNOHANG);
		if (r == w->pid || (r < 0 && errno != EINTR))
			break;
		if (chan_now() >= deadline) {
			kill(w->pid, SIGKILL);
			waitpid(w->pid, &st, 0);
			break;
		}
		chan_sleep_until(chan_deadline(2));
	}
	w->pid = -1;
	return st;
}

static void fill_error(struct vuc_result *r, const char *fmt, ...)
	VUC_PRINTF(2, 3);

static void fill_error(struct vuc_result *r, const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;

	memset(r, 0, sizeof(*r));
	r->watch.fd_start = r->watch.fd_end = -1;
	r->watch.rss_start_kb = r->watch.rss_end_kb = -1;
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	r->reason = s;
	r->verdict = VUC_ERROR;
}

/*
 * --max-fail: once @max FAILs came back, the cases not handed out yet are
 * SKIP and never run. Return the new @next.
 */
static size_t stop_after_fails(const struct runner_conf *conf,
			       struct vuc_result *results, bool *have,
			       size_t next, size_t n)
{
	size_t i;
	int fails = 0;

	if (conf->max_fail <= 0 || next >= n)
		return next;
	for (i = 0; i < next; i++)
		if (have[i] && results[i].verdict == VUC_FAIL)
			fails++;
	if (fails < conf->max_fail)
		return next;
	for (i = next; i < n; i++) {
		fill_error(&results[i],
			   "not run: the run stopped after %d failures "
			   "(--max-fail)",
			   conf->max_fail);
		results[i].verdict = VUC_SKIP;
		have[i] = true;
	}
	return n;
}

/* Parse whole frames out of w->buf. Return 1 when a result came. */
static int worker_take(struct worker *w, struct vuc_result *results, bool *have,
		       size_t n)
{
	struct json_object *o, *k, *rv;
	uint32_t len;
	char *text;
	size_t pos;
	int ret = 0;

	while (w->len >= sizeof(len)) {
		memcpy(&len, w->buf, sizeof(len));
		if (w->len < sizeof(len) + len)
			break;
		text = strndup((char *)w->buf + sizeof(len), len);
		o = text ? json_tokener_parse(text) : NULL;
		free(text);
		memmove(w->buf, w->buf + sizeof(len) + len,
			w->len - sizeof(len) - len);
		w->len -= sizeof(len) + len;
		if (!o || !json_object_object_get_ex(o, "k", &k) ||
		    !json_object_object_get_ex(o, "r", &rv)) {
			json_object_put(o);
			continue;
		}
		pos = (size_t)json_object_get_int64(k);
		if (pos < n && !have[pos]) {
			if (outputs_result_parse(rv, &results[pos]) < 0) {
				vuc_result_free(&results[pos]);
				fill_error(&results[pos],
					   "the worker's result did not parse");
			}
			have[pos] = true;
			ret = 1;
		}
		if ((long)pos == w->busy)
			w->busy = -1;
		json_object_put(o);
	}
	return ret;
}

/* Read what is there; -ECONNRESET when the worker is gone. */
static int worker_read(struct worker *w)
{
	for (;;) {
		ssize_t got;

		if (w->cap - w->len < 65536) {
			uint8_t *b = realloc(w->buf, w->cap + 65536);

			if (!b)
				return -ENOMEM;
			w->buf = b;
			w->cap += 65536;
		}
		got = read(w->res_fd, w->buf + w->len, w->cap - w->len);
		if (got > 0) {
			w->len += (size_t)got;
			if (w->len > RUNNER_FRAME_MAX)
				return -EMSGSIZE;
			continue;
		}
		if (got == 0)
			return -ECONNRESET;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN)
			return 0;
		return -errno;
	}
}

static void progress(const struct runner_conf *conf,
		     const struct vuc_case *const *cases, size_t done, size_t n,
		     const struct worker *ws, size_t nw)
{
	long lowest = -1;
	size_t i;

	if (!conf->progress)
		return;
	for (i = 0; i < nw; i++)
		if (ws[i].busy >= 0 && (lowest < 0 || ws[i].busy < lowest))
			lowest = ws[i].busy;
	fprintf(conf->tap, "\r\033[K[%zu/%zu] %s", done, n,
		lowest >= 0 ? cases[lowest]->id : "");
	fflush(conf->tap);
}

static void finish_case(const struct runner_conf *conf,
			const struct vuc_case *c, struct vuc_result *r)
{
	struct baseline_entry *e;

	if (!conf->baseline)
		return;
	e = baseline_find(conf->baseline, c->id);
	if (e)
		baseline_apply(e, r);
}

int runner_run(struct lua_cases *lc, const size_t *sel, size_t n,
	       const struct runner_conf *conf, struct vuc_result *results)
{
	const struct vuc_case **cases = calloc(n + 1, sizeof(*cases));
	size_t nw = (size_t)VUC_MAX(1, conf->jobs), i, next = 0, printed = 0;
	int hard_ms = conf->target.connect_ms + conf->case_ms +
		      2 * conf->target.stop_ms + 3000;
	struct worker *ws = NULL;
	struct pollfd *pfd = NULL;
	bool *have = calloc(n + 1, sizeof(*have));
	int ret = 0;

	if (nw > n)
		nw = n ? n : 1;
	ws = calloc(nw, sizeof(*ws));
	pfd = calloc(nw, sizeof(*pfd));
	if (!cases || !have || !ws || !pfd) {
		ret = -ENOMEM;
		goto out;
	}
	for (i = 0; i < n; i++)
		cases[i] = lua_cases_get(lc, sel[i]);
	for (i = 0; i < nw; i++) {
		ws[i].pid = -1;
		ws[i].cmd_fd = ws[i].res_fd = -1;
		ws[i].busy = -1;
	}
	outputs_tap_plan(conf->tap, n);
	fflush(conf->tap);
	for (i = 0; i < nw && n; i++) {
		ret = worker_spawn(&ws[i], ws, nw, lc, sel, conf);
		if (ret < 0)
			goto out;
	}

	while (printed < n) {
		int64_t now, wake;
		int np = 0;

		if (runner_sig) {
			ret = -EINTR;
			break;
		}
		/* hand out work */
		next = stop_after_fails(conf, results, have, next, n);
		for (i = 0; i < nw && next < n; i++) {
			uint32_t pos = (uint32_t)next;

			if (ws[i].pid <= 0 || ws[i].busy >= 0)
				continue;
			if (write_full(ws[i].cmd_fd, &pos, sizeof(pos)) < 0)
				continue; /* its death shows on res_fd */
			ws[i].busy = (long)next++;
			ws[i].deadline = chan_deadline(hard_ms);
		}
		progress(conf, cases, printed, n, ws, nw);
		now = chan_now();
		wake = chan_deadline(1000);
		for (i = 0; i < nw; i++) {
			pfd[i].fd = ws[i].res_fd;
			pfd[i].events = POLLIN;
			pfd[i].revents = 0;
			if (ws[i].busy >= 0 && ws[i].deadline < wake)
				wake = ws[i].deadline;
		}
		np = poll(pfd, nw, wake > now ? chan_remaining_ms(wake) : 0);
		if (np < 0 && errno != EINTR) {
			ret = -errno;
			break;
		}
		for (i = 0; i < nw; i++) {
			struct worker *w = &ws[i];
			int r = 0, st;

			if (w->pid <= 0)
				continue;
			if (np > 0 && pfd[i].revents) {
				r = worker_read(w);
				worker_take(w, results, have, n);
			}
			if (r == 0 && (w->busy < 0 || chan_now() < w->deadline))
				continue;
			if (runner_sig)
				break;
			/* dead, or past the hard deadline */
			if (r == 0)
				kill(w->pid, SIGTERM);
			st = worker_reap(w, 500);
			if (w->busy >= 0 && !have[w->busy]) {
				if (r == 0)
					fill_error(
						&results[w->busy],
						"the case did not end within "
						"its hard deadline of %d ms; "
						"the harness stopped it",
						hard_ms);
				else if (WIFSIGNALED(st))
					fill_error(
						&results[w->busy],
						"the harness crashed running "
						"the case (worker killed by "
						"%s)",
						watchdog_signal_name(
							WTERMSIG(st)));
				else
					fill_error(
						&results[w->busy],
						"the harness's worker exited "
						"with status %d running the "
						"case",
						WEXITSTATUS(st));
				have[w->busy] = true;
			}
			w->busy = -1;
			if (next < n) {
				ret = worker_spawn(w, ws, nw, lc, sel, conf);
				if (ret < 0)
					goto out;
			}
		}
		if (conf->progress && printed < n && have[printed])
			fprintf(conf->tap, "\r\033[K");
		while (printed < n && have[printed]) {
			finish_case(conf, cases[printed], &results[printed]);
			outputs_tap_case(conf->tap, printed + 1, cases[printed],
					 &results[printed]);
			printed++;
		}
		fflush(conf->tap);
		/* every worker gone and work left: nobody would take it */
		if (printed < n) {
			bool any = false;

			for (i = 0; i < nw; i++)
				any |= ws[i].pid > 0;
			if (!any) {
				ret = -ECHILD;
				break;
			}
		}
	}
	if (conf->progress)
		fprintf(conf->tap, "\r\033[K");
	if (ret < 0) {
		for (i = printed; i < n; i++) {
			if (!have[i])
				fill_error(&results[i], "not run: %s",
					   ret == -EINTR ? "interrupted"
							 : strerror(-ret));
			have[i] = true;
			finish_case(conf, cases[i], &results[i]);
			outputs_tap_case(conf->tap, i + 1, cases[i],
					 &results[i]);
		}
		fprintf(conf->tap, "Bail out! %s\n",
			ret == -EINTR ? "interrupted" : strerror(-ret));
	}
out:
	for (i = 0; ws && i < nw; i++) {
		if (ws[i].cmd_fd >= 0 && !runner_sig) {
			uint32_t quit = RUNNER_QUIT;

			if (write_full(ws[i].cmd_fd, &quit, sizeof(quit)) < 0)
				kill(ws[i].pid, SIGTERM);
		} else if (ws[i].pid > 0) {
			kill(ws[i].pid, SIGTERM);
		}
		worker_reap(&ws[i], conf->target.stop_ms + 2000);
		free(ws[i].buf);
	}
	fflush(conf->tap);
	free(ws);
	free(pfd);
	free(have);
	free(cases);
	return ret;
}
