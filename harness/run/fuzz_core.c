// SPDX-License-Identifier: MIT
/*
 * fuzz_core.c - what both engines of `vu-conform fuzz` (vhost-user:
 * fuzz.c, vfio-user: fuzz_vfio.c) share: signals and messages, random
 * numbers, the signature set (the coverage proxy), the corpus and its
 * seeds, the recent inputs, the findings list, the verdict on a daemon
 * that exited, hang confirmation and the progress line.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/util.h"
#include "run/fuzz_int.h"
#include "run/outputs.h"
#include "run/target.h"
#include "run/watchdog.h"
#include "transport/chan.h"
#include "transport/fdzoo.h"

/* ---- signals, messages -------------------------------------------------- */

volatile sig_atomic_t fz_stop;

void fz_on_signal(int sig)
{
	(void)sig;
	if (fz_stop) {
		/* a second one: no more waiting */
		target_cleanup_all();
		_exit(130);
	}
	fz_stop = 1;
}

void fz_msg(const char *fmt, ...)
{
	va_list ap;

	fputs("vu-conform fuzz: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* ---- random ------------------------------------------------------------- */

uint64_t fz_rand(struct fz_core *c)
{
	/* xorshift64* */
	c->rng ^= c->rng >> 12;
	c->rng ^= c->rng << 25;
	c->rng ^= c->rng >> 27;
	return c->rng * UINT64_C(2685821657736338717);
}

unsigned int fz_below(struct fz_core *c, unsigned int n)
{
	return n ? (unsigned int)(fz_rand(c) % n) : 0;
}

/* ---- coverage proxy ------------------------------------------------------ */

uint64_t fz_hash(uint64_t h, uint64_t v)
{
	h ^= v + UINT64_C(0x9e3779b97f4a7c15) + (h << 6) + (h >> 2);
	return h * UINT64_C(0xff51afd7ed558ccd);
}

bool fz_cov_add(struct fz_core *c, uint64_t sig)
{
	size_t mask = ((size_t)1 << FZ_COV_BITS) - 1, i;

	sig |= 1; /* 0 marks an empty slot */
	if (c->st.ncov >= mask / 2)
		return false; /* half full: the proxy has said what it can */
	for (i = sig & mask;; i = (i + 1) & mask) {
		if (c->cov[i] == sig)
			return false;
		if (!c->cov[i]) {
			c->cov[i] = sig;
			c->st.ncov++;
			return true;
		}
	}
}

/* ---- corpus ---------------------------------------------------------------- */

int fz_corpus_add(struct fz_core *c, const uint8_t *p, size_t n)
{
	struct fz_input *in;

	if (c->st.ncorpus >= FZ_CORPUS_MAX || !n)
		return 0;
	in = &c->corpus[c->st.ncorpus];
	in->p = malloc(n);
	if (!in->p)
		return -ENOMEM;
	memcpy(in->p, p, n);
	in->n = n;
	c->st.ncorpus++;
	return 1;
}

static int fz_name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int fz_load_seeds(struct fz_core *c, const char *dir)
{
	char path[PATH_MAX];
	char **names = NULL;
	size_t n = 0, cap = 0, i;
	struct dirent *de;
	uint8_t buf[FZ_MAX_INPUT];
	DIR *d = opendir(dir);
	int ret = 0;

	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if (n == cap) {
			char **nn = realloc(names, (cap = cap ? cap * 2 : 64) *
							   sizeof(*names));

			if (!nn) {
				ret = -ENOMEM;
				goto out;
			}
			names = nn;
		}
		names[n] = strdup(de->d_name);
		if (!names[n]) {
			ret = -ENOMEM;
			goto out;
		}
		n++;
	}
	qsort(names, n, sizeof(*names), fz_name_cmp);
	for (i = 0; i < n; i++) {
		ssize_t got;
		int fd;

		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		got = read(fd, buf, sizeof(buf));
		close(fd);
		if (got > 0 && fz_corpus_add(c, buf, (size_t)got) < 0) {
			ret = -ENOMEM;
			goto out;
		}
	}
out:
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	closedir(d);
	return ret;
}

/* ---- findings ---------------------------------------------------------------- */

bool fz_known(const struct fz_core *c, const char *sig)
{
	unsigned int i;

	for (i = 0; i < c->st.nfound; i++)
		if (!strcmp(c->found[i], sig))
			return true;
	return false;
}

static void fz_core_found(struct fz_core *c, const struct fz_verdict *v)
{
	if (!c->st.nfound) {
		c->first_s = (double)(chan_now() - c->st.t0) / 1e9;
		c->first_sessions = c->st.sessions;
	}
	if (c->st.nfound < FZ_FINDINGS_MAX) {
		c->found[c->st.nfound] = strdup(v->sig);
		if (c->found[c->st.nfound])
			c->st.nfound++;
	}
	/* one line per finding, --quiet or not */
	fz_msg("%sfinding %s after %.1f s, %llu sessions: %s",
	       c->st.tty ? "\r\033[K" : "", v->sig,
	       (double)(chan_now() - c->st.t0) / 1e9,
	       (unsigned long long)c->st.sessions, v->what);
}

/* ---- recent inputs --------------------------------------------------------- */

void fz_window_push(struct fz_core *c, const uint8_t *in, size_t n)
{
	c->window[c->window_at].n = n;
	memcpy(c->window[c->window_at].p, in, n);
	c->window_at = (c->window_at + 1) % FZ_WINDOW;
	if (c->nwindow < FZ_WINDOW)
		c->nwindow++;
}

const struct fz_input *fz_window_get(const struct fz_core *c, unsigned int i)
{
	return &c->window[(c->window_at + FZ_WINDOW - c->nwindow + i) %
			  FZ_WINDOW];
}

const struct fz_input *fz_window_newest(const struct fz_core *c)
{
	return &c->window[(c->window_at + FZ_WINDOW - 1) % FZ_WINDOW];
}

/* ---- set-up ------------------------------------------------------------------ */

int fz_core_init(struct fz_core *c, uint64_t seed, bool quiet)
{
	unsigned int i;

	memset(c, 0, sizeof(*c));
	c->conn = -1;
	c->fd_base = -1;
	c->rng = seed ? seed : 1; /* xorshift's one fixed point is 0 */
	c->st.quiet = quiet;
	c->st.tty = isatty(2) && !quiet;
	c->cov = calloc((size_t)1 << FZ_COV_BITS, sizeof(*c->cov));
	c->corpus = calloc(FZ_CORPUS_MAX, sizeof(*c->corpus));
	if (!c->cov || !c->corpus)
		return -ENOMEM;
	for (i = 0; i < FZ_WINDOW; i++) {
		c->window[i].p = malloc(FZ_MAX_INPUT);
		if (!c->window[i].p)
			return -ENOMEM;
	}
	return 0;
}

void fz_core_free(struct fz_core *c)
{
	size_t i;

	close_fd(&c->conn);
	if (c->t)
		target_free(c->t);
	for (i = 0; i < c->st.nfound; i++)
		free(c->found[i]);
	if (c->corpus)
		for (i = 0; i < c->st.ncorpus; i++)
			free(c->corpus[i].p);
	for (i = 0; i < FZ_WINDOW; i++)
		free(c->window[i].p);
	free(c->corpus);
	free(c->cov);
	memset(c, 0, sizeof(*c));
}

/* ---- verdicts ------------------------------------------------------------ */

/*
 * Record a finding unless one is recorded already (the first one wins).
 * Return: true if this one was recorded.
 */
bool fz_found(struct fz_verdict *v, const char *kind, int at,
	      const char *sig_fmt, ...)
{
	char sig[64];
	va_list ap;
	size_t i;

	if (v->kind)
		return false;
	v->kind = kind;
	v->at = at;
	va_start(ap, sig_fmt);
	vsnprintf(sig, sizeof(sig), sig_fmt, ap);
	va_end(ap);
	snprintf(v->sig, sizeof(v->sig), "%s%s%s", kind, sig[0] ? "-" : "",
		 sig);
	for (i = 0; v->sig[i]; i++) {
		char c = v->sig[i];

		if (c >= 'A' && c <= 'Z')
			v->sig[i] = (char)(c - 'A' + 'a');
		else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
			   c == '-'))
			v->sig[i] = '-';
	}
	return true;
}

/* The first frame ("#0 ... in FUNC") of a sanitizer report in @buf. */
void fz_top_frame(const char *buf, char *out, size_t cap)
{
	const char *p = strstr(buf, "#0 "), *in, *end;

	out[0] = '\0';
	if (!p)
		return;
	in = strstr(p, " in ");
	end = strchr(p, '\n');
	if (!in || (end && in > end))
		return;
	in += 4;
	end = in + strcspn(in, " (\n");
	snprintf(out, cap, "%.*s", (int)VUC_MIN((size_t)(end - in), cap - 1),
		 in);
}

void fz_core_judge_exit(struct fz_core *c, struct fz_verdict *v)
{
	struct target_status st;
	char report[1024], frame[64];

	target_sample(c->t, &st);
	target_stderr_tail(c->t, c->tail, sizeof(c->tail));
	report[0] = '\0';
	target_sanitizer_report(c->t, report, sizeof(report));
	fz_top_frame(report, frame, sizeof(frame));
	if (st.sanitizer || report[0]) {
		v->kind = NULL; /* a crash outranks what led to it */
		fz_found(v, FZ_KIND_SANITIZER, -1, "%s", frame);
		snprintf(v->what, sizeof(v->what), "sanitizer report: %.480s",
			 report);
	} else if (st.signal) {
		v->kind = NULL;
		fz_found(v, FZ_KIND_CRASH, -1, "%s",
			 watchdog_signal_name(st.signal));
		snprintf(v->what, sizeof(v->what),
			 "the target was killed by %s",
			 watchdog_signal_name(st.signal));
	}
	fz_core_restart(c);
}

int fz_target_settled_fds(struct target *t, int want)
{
	int64_t until = chan_deadline(300);
	int n, prev = -1;

	for (;;) {
		n = fdzoo_count_open(target_pid(t));
		if (n < 0 || (want >= 0 && n <= want) ||
		    (want < 0 && n == prev) || chan_now() >= until)
			return n;
		prev = n;
		chan_sleep_until(chan_now() + (want < 0 ? 2000000 : 1000000));
	}
}

/* ---- output ---------------------------------------------------------------- */

void fz_print_progress(const struct fz_stats *f, bool final)
{
	double el = (double)(chan_now() - f->t0) / 1e9;
	double sps = el > 0 ? (double)f->sessions / el : 0;
	double mps = el > 0 ? (double)f->msgs / el : 0;
	char unc[16] = "";

	if (f->quiet && !final)
		return;
	if (f->unconfirmed)
		snprintf(unc, sizeof(unc), "%u", f->unconfirmed);
	fprintf(stderr,
		"%s%s%.1f s, %llu sessions (%.0f/s), %llu messages (%.0f/s), "
		"%u finding%s, %llu restarts, %llu hang-ups, %zu signatures, "
		"corpus %zu%s%s%s%s",
		f->tty && !final ? "\r" : "",
		final ? "vu-conform fuzz: done: " : "", el,
		(unsigned long long)f->sessions, sps,
		(unsigned long long)f->msgs, mps, f->nfound,
		f->nfound == 1 ? "" : "s", (unsigned long long)f->restarts,
		(unsigned long long)f->hangups, f->ncov, f->ncorpus,
		f->unconfirmed ? ", " : "", unc,
		f->unconfirmed ? " unconfirmed" : "",
		f->tty && !final ? "\033[K" : "\n");
	fflush(stderr);
}

/* mkdir -p @dir. Return: 0, or -1 with errno. */
int fz_mkdirs(const char *dir)
{
	char path[PATH_MAX];
	char *p;

	if (snprintf(path, sizeof(path), "%s", dir) >= (int)sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	for (p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0777) < 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(path, 0777) < 0 && errno != EEXIST)
		return -1;
	return 0;
}

/* ---- the daemon ------------------------------------------------------------ */

int fz_core_connect(struct fz_core *c, const struct fz_conf *conf)
{
	int ret;

	if (c->conn >= 0)
		return 0;
	if (!c->t) {
		ret = target_start(&c->t, &conf->target, &c->conn);
		if (ret < 0) {
			char tail[1024] = "";

			if (c->t) {
				target_stderr_tail(c->t, tail, sizeof(tail));
				target_free(c->t);
				c->t = NULL;
			}
			fz_msg("the target did not start: %s%s%s",
			       strerror(-ret), tail[0] ? "; its stderr:\n" : "",
			       tail);
			return ret;
		}
		if (!conf->reuse)
			target_mark(c->t);
		return 0;
	}
	ret = target_reconnect(c->t, &c->conn);
	if (ret < 0) {
		/* gone: start over, once */
		target_free(c->t);
		c->t = NULL;
		c->st.restarts++;
		return fz_core_connect(c, conf);
	}
	if (!conf->reuse)
		target_mark(c->t);
	return 0;
}

void fz_core_restart(struct fz_core *c)
{
	close_fd(&c->conn);
	if (c->t)
		target_free(c->t);
	c->t = NULL;
	c->st.restarts++;
	c->fd_base = -1;
}

int fz_core_seeds(struct fz_core *c, const struct fz_conf *conf,
		  int (*builtin)(void *ctx), void *ctx)
{
	int ret;

	if (conf->corpus_dir) {
		ret = fz_load_seeds(c, conf->corpus_dir);
		if (ret < 0) {
			fz_msg("--corpus %s: %s", conf->corpus_dir,
			       strerror(-ret));
			return ret;
		}
	}
	c->builtin = (unsigned int)c->st.ncorpus;
	ret = builtin(ctx);
	if (ret < 0)
		return ret;
	c->nbuiltin = (unsigned int)(c->st.ncorpus - c->builtin);
	c->nseeds = c->st.ncorpus;
	if (fz_mkdirs(conf->out_dir) < 0) {
		ret = -errno;
		fz_msg("--out %s: %s", conf->out_dir, strerror(-ret));
		return ret;
	}
	return 0;
}

/* ---- a run ---------------------------------------------------------------- */

static struct sigaction fz_old_int, fz_old_term, fz_old_pipe;

void fz_core_start(struct fz_core *c, const struct fz_conf *conf,
		   const char *proto, size_t nseeds)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = fz_on_signal;
	sigaction(SIGINT, &sa, &fz_old_int);
	sigaction(SIGTERM, &sa, &fz_old_term);
	/* a daemon that hangs up is seen on the socket, not as a signal */
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, &fz_old_pipe);
	if (!conf->quiet)
		fz_msg("target %s (%s%s), seed %llu, %zu seed input%s%s%s, "
		       "findings to %s/",
		       conf->target_text,
		       conf->reuse ? "reused" : "a process per session", proto,
		       (unsigned long long)conf->seed, nseeds,
		       nseeds == 1 ? "" : "s", conf->corpus_dir ? " from " : "",
		       conf->corpus_dir ? conf->corpus_dir : "", conf->out_dir);
	c->st.t0 = c->last_progress = chan_now();
}

int fz_core_finish(struct fz_core *c, const struct fz_conf *conf, int ret)
{
	int status;
	unsigned int i;

	close_fd(&c->conn);
	if (c->t)
		target_free(c->t);
	c->t = NULL;
	if (ret < 0) {
		if (ret != -ENOENT && ret != -EACCES && c->st.sessions)
			fz_msg("the target cannot be reached any more: %s",
			       strerror(-ret));
		status = FZ_EXIT_SETUP;
	} else {
		status = c->st.nfound ? FZ_EXIT_FINDINGS : FZ_EXIT_CLEAN;
	}
	if (c->st.tty)
		fputc('\n', stderr);
	fz_print_progress(&c->st, true);
	if (c->st.nfound)
		fz_msg("first finding after %.1f s, %llu sessions", c->first_s,
		       (unsigned long long)c->first_sessions);
	for (i = 0; i < c->st.nfound; i++)
		printf("finding: %s/%s.lua\n", conf->out_dir, c->found[i]);
	if (fz_stop)
		fz_msg("interrupted");
	sigaction(SIGINT, &fz_old_int, NULL);
	sigaction(SIGTERM, &fz_old_term, NULL);
	sigaction(SIGPIPE, &fz_old_pipe, NULL);
	return status;
}

/* ---- the loop -------------------------------------------------------------- */

/* Replays that confirm a hang: one late answer in three is a slow machine. */
#define FZ_CONFIRM_RUNS 2

/*
 * A hang is a missed deadline, and on a loaded machine a slow answer
 * misses it too: a hang is a finding only if its input hangs again (the
 * daemon was relaunched after it). One that does not recur is said,
 * counted and its input kept as DIR/unconfirmed-SIG.bin.
 * Return: true for a confirmed hang and for every other kind.
 */
static bool fz_hang_confirmed(struct fz_core *c, const struct fz_conf *conf,
			      const struct fz_ops *ops, void *ctx,
			      const uint8_t *in, size_t n,
			      const struct fz_verdict *v)
{
	struct fz_verdict again;
	char path[4096];
	unsigned int i;
	bool nc;
	int ret;

	if (strcmp(v->kind, FZ_KIND_HANG))
		return true;
	for (i = 0; i < FZ_CONFIRM_RUNS && !fz_stop; i++)
		if (ops->session(ctx, in, n, &again, false, &nc) >= 0 &&
		    again.kind && !strcmp(again.sig, v->sig))
			return true;
	c->st.unconfirmed++;
	ret = fz_mkdirs(conf->out_dir) < 0 ? -errno : 0;
	snprintf(path, sizeof(path), "%s/unconfirmed-%s.bin", conf->out_dir,
		 v->sig);
	if (!ret)
		ret = outputs_write_file(path, in, n);
	if (fz_stop)
		fz_msg("%s not confirmed (interrupted): not a finding%s%s",
		       v->sig, ret ? "" : "; input: ", ret ? "" : path);
	else
		fz_msg("%s did not recur in %u replays: not a finding (a "
		       "loaded machine answers late; --timeout %d waits "
		       "longer)%s%s",
		       v->sig, i, conf->timeout_ms * 4,
		       ret ? "" : "; input: ", ret ? "" : path);
	return false;
}

/* A new verdict @v of @in: confirmed (a hang), counted and said, then
 * the engine minimises and writes it. */
static void fz_core_report(struct fz_core *c, const struct fz_conf *conf,
			   const struct fz_ops *ops, void *ctx,
			   const uint8_t *in, size_t n,
			   const struct fz_verdict *v)
{
	if (!fz_hang_confirmed(c, conf, ops, ctx, in, n, v))
		return;
	fz_core_found(c, v);
	ops->report(ctx, in, n, v);
}

/* Every fd_every sessions (reuse): fds grown? a quiet sanitizer report? */
static void fz_checkup(struct fz_core *c, const struct fz_conf *conf,
		       const struct fz_ops *ops, void *ctx, uint8_t *cur)
{
	struct target_status st;
	struct fz_verdict v;
	unsigned int i;
	bool nc;
	int n;

	close_fd(&c->conn);
	n = fz_target_settled_fds(c->t, c->fd_base);
	if (n >= 0 && (c->fd_base < 0 || n < c->fd_base))
		c->fd_base = n;
	if (n > c->fd_base) {
		/* which of the recent sessions? */
		for (i = 0; i < c->nwindow && !fz_stop && c->t; i++) {
			const struct fz_input *w = fz_window_get(c, i);

			ops->session(ctx, w->p, w->n, &v, true, &nc);
			if (v.kind && !fz_known(c, v.sig)) {
				memcpy(cur, w->p, w->n);
				fz_core_report(c, conf, ops, ctx, cur, w->n,
					       &v);
				break;
			}
		}
		c->fd_base = -1; /* measure again */
		c->nwindow = 0;
	}
	if (!c->t)
		return;
	target_sample(c->t, &st);
	if (st.sanitizer) {
		const struct fz_input *w = fz_window_newest(c);

		memset(&v, 0, sizeof(v));
		fz_core_judge_exit(c, &v);
		if (v.kind && !fz_known(c, v.sig)) {
			memcpy(cur, w->p, w->n);
			fz_core_report(c, conf, ops, ctx, cur, w->n, &v);
		}
	}
	if (c->t)
		target_mark(c->t);
}

int fz_core_loop(struct fz_core *c, const struct fz_conf *conf,
		 const struct fz_ops *ops, void *ctx)
{
	static uint8_t cur[FZ_MAX_INPUT];
	int64_t end = conf->duration_s > 0
			      ? c->st.t0 + (int64_t)(conf->duration_s * 1e9)
			      : INT64_MAX;
	struct fz_verdict v;
	size_t len, next_seed = 0;
	unsigned int since_check = 0;
	bool nc;
	int ret = 0;

	while (!fz_stop && chan_now() < end &&
	       (!conf->runs || c->st.sessions < conf->runs) &&
	       (!conf->max_findings || c->st.nfound < conf->max_findings)) {
		const struct fz_input *parent;

		if (next_seed < c->nseeds) {
			parent = &c->corpus[next_seed++];
			len = parent->n;
			memcpy(cur, parent->p, len);
		} else {
			/* the seeds (whole conformance sessions) a quarter of
			 * the time, the built-in ones an eighth, else anything
			 * in the corpus: what the corpus gains is mostly
			 * shallow */
			unsigned int r = fz_below(c, 8), k;

			if (r == 0)
				k = c->builtin + fz_below(c, c->nbuiltin);
			else if (r < 3)
				k = fz_below(c, (unsigned int)c->nseeds);
			else
				k = fz_below(c, (unsigned int)c->st.ncorpus);
			parent = &c->corpus[k];
			len = ops->mutate(ctx, parent->p, parent->n, cur);
		}
		/* the recent inputs, for an fd leak seen later */
		fz_window_push(c, cur, len);

		ret = ops->session(ctx, cur, len, &v, false, &nc);
		if (ret < 0)
			break;
		if (nc && next_seed >= c->nseeds)
			fz_corpus_add(c, cur, len);
		if (v.kind && !fz_known(c, v.sig))
			fz_core_report(c, conf, ops, ctx, cur, len, &v);
		if (conf->reuse && c->t && ++since_check >= conf->fd_every) {
			since_check = 0;
			fz_checkup(c, conf, ops, ctx, cur);
		}
		if (chan_now() - c->last_progress >
		    (c->st.tty ? 500000000LL : 10000000000LL)) {
			c->last_progress = chan_now();
			fz_print_progress(&c->st, false);
		}
	}
	return ret;
}
