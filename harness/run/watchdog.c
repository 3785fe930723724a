// SPDX-License-Identifier: MIT
/*
 * watchdog.c - the runner's judgement of the daemon itself.
 */
#include "run/watchdog.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

static const char *const sanitizer_markers[] = {
	"ERROR: AddressSanitizer",   "ERROR: LeakSanitizer",
	"ERROR: HWAddressSanitizer", "WARNING: ThreadSanitizer",
	"ERROR: ThreadSanitizer",    "WARNING: MemorySanitizer",
	"ERROR: MemorySanitizer",    "runtime error:",
};

static const char *find_mem(const char *buf, size_t len, const char *needle)
{
	return memmem(buf, len, needle, strlen(needle));
}

long watchdog_sanitizer_find(const char *buf, size_t len)
{
	const char *best = NULL;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(sanitizer_markers); i++) {
		const char *p = find_mem(buf, len, sanitizer_markers[i]);

		if (p && (!best || p < best))
			best = p;
	}
	if (!best)
		return -1;
	while (best > buf && best[-1] != '\n')
		best--;
	return best - buf;
}

void watchdog_sanitizer_excerpt(const char *buf, size_t len, char *out,
				size_t cap)
{
	size_t pos = 0, o = 0;
	int lines = 0;

	if (!cap)
		return;
	while (pos < len && lines < 6) {
		const char *nl = memchr(buf + pos, '\n', len - pos);
		size_t end = nl ? (size_t)(nl - buf) : len;
		size_t s = pos, n;

		/* drop "==1234==" */
		if (end - s > 2 && buf[s] == '=' && buf[s + 1] == '=') {
			const char *q =
				find_mem(buf + s + 2, end - s - 2, "==");

			if (q)
				s = (size_t)(q - buf) + 2;
		}
		while (s < end && (buf[s] == ' ' || buf[s] == '\t'))
			s++;
		n = end - s;
		if (n && o + 1 < cap) {
			if (lines)
				out[o++] = '\n';
			n = VUC_MIN(n, cap - 1 - o);
			memcpy(out + o, buf + s, n);
			o += n;
			lines++;
		}
		pos = end + 1;
	}
	out[o] = '\0';
}

const char *watchdog_signal_name(int sig)
{
	static _Thread_local char buf[32];
	const char *abbrev = sigabbrev_np(sig);

	if (abbrev)
		snprintf(buf, sizeof(buf), "SIG%s", abbrev);
	else
		snprintf(buf, sizeof(buf), "signal %d", sig);
	return buf;
}

/* r->reason = fmt (+ "; the case said: old" when there was one). */
VUC_PRINTF(3, 4)
static int set_reason(struct vuc_result *r, bool keep_old, const char *fmt, ...)
{
	char *msg = NULL, *both = NULL;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -ENOMEM;
	if (keep_old && r->reason && *r->reason) {
		if (asprintf(&both, "%s\nthe case said: %s", msg, r->reason) <
		    0) {
			free(msg);
			return -ENOMEM;
		}
		free(msg);
		msg = both;
	}
	free(r->reason);
	r->reason = msg;
	return 0;
}

/* ERROR stays ERROR: add the finding to its reason. */
static int add_to_error(struct vuc_result *r, const char *what)
{
	char *s = NULL;

	if (asprintf(&s, "%s (also seen: %s)", r->reason ? r->reason : "",
		     what) < 0)
		return -ENOMEM;
	free(r->reason);
	r->reason = s;
	return 0;
}

int watchdog_apply(struct vuc_result *r, const struct watchdog_obs *obs,
		   const struct watchdog_conf *conf)
{
	char what[1400];
	int growth;

	r->watch.fd_start = obs->fd_start;
	r->watch.fd_end = obs->fd_end;
	r->watch.exited = obs->ended;
	r->watch.exit_code = obs->exit_code;
	r->watch.signal = obs->signal;
	r->watch.fds_sent = obs->fds_sent;
	r->watch.unsolicited = obs->unsolicited;
	if (!obs->process)
		return 0;

	what[0] = '\0';
	if (obs->ended && obs->signal && !r->expect_exit)
		snprintf(what, sizeof(what), "target killed by %s",
			 watchdog_signal_name(obs->signal));
	else if (obs->stop_signal && obs->stop_signal != SIGTERM &&
		 obs->stop_signal != SIGKILL)
		snprintf(what, sizeof(what),
			 "target killed by %s while stopping (after SIGTERM)",
			 watchdog_signal_name(obs->stop_signal));
	else if (obs->sanitizer)
		snprintf(what, sizeof(what), "sanitizer report on stderr:\n%s",
			 obs->report);
	if (what[0] && obs->sanitizer && !strstr(what, "sanitizer")) {
		size_t l = strlen(what);

		snprintf(what + l, sizeof(what) - l,
			 "; sanitizer report on stderr:\n%s", obs->report);
	}
	if (what[0]) {
		if (r->verdict == VUC_ERROR)
			return add_to_error(r, what);
		if (set_reason(r, r->verdict == VUC_FAIL, "%s", what) < 0)
			return -ENOMEM;
		r->verdict = VUC_FAIL;
		return 1;
	}
	if (r->verdict != VUC_PASS)
		return 0;
	if (obs->fd_start >= 0 && obs->fd_end >= 0 && !obs->ended) {
		growth = obs->fd_end - obs->fd_start - (int)obs->fds_sent;
		if (growth > conf->fd_tolerance) {
			if (set_reason(r, false,
				       "leaked %d fds (open fds: %d at the "
				       "start, %d at the end; %u passed in by "
				       "the case, %d tolerated)",
				       growth, obs->fd_start, obs->fd_end,
				       obs->fds_sent, conf->fd_tolerance) < 0)
				return -ENOMEM;
			r->verdict = VUC_FAIL;
			return 1;
		}
	}
	if (obs->unsolicited && conf->unsolicited_fails) {
		if (set_reason(r, false,
			       "%u unsolicited message%s after the case's "
			       "last exchange; the first: %s",
			       obs->unsolicited,
			       obs->unsolicited > 1 ? "s" : "",
			       obs->unsolicited_text) < 0)
			return -ENOMEM;
		r->verdict = VUC_FAIL;
		return 1;
	}
	return 0;
}
