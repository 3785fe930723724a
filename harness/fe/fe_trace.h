/* SPDX-License-Identifier: MIT */
/*
 * fe_trace.h - the trace hook every scripted peer (the vhost-user front-end
 * session, the vfio-user client) reports its traffic through.
 *
 * The peers know nothing of the runner: they call the hook once per message
 * sent or received, and once per event (a hang-up, a timeout, fds closed
 * because a reply had no business carrying them). The Lua layer plugs the
 * runner's trace recorder in (struct vuc_trace in run/result.h); tests plug
 * in a counter. A NULL hook function means "no trace".
 */
#ifndef VUC_FE_FE_TRACE_H
#define VUC_FE_FE_TRACE_H

#include <stddef.h>
#include <stdio.h>

#include "transport/fdzoo.h"

enum fe_trace_dir {
	FE_TRACE_SEND = 0, /* harness -> target */
	FE_TRACE_RECV = 1, /* target -> harness */
	FE_TRACE_NOTE = 2, /* an event; @bytes may be NULL */
};

/* Which connection a message went over. */
enum fe_trace_chan {
	FE_TRACE_MAIN = 0,    /* the front-end (client) socket */
	FE_TRACE_BACKEND = 1, /* vhost-user back-end channel
				 (SET_BACKEND_REQ_FD) */
};

/*
 * One trace event. Every pointer is valid only during the callback: a
 * recorder copies what it keeps. The fds are never the hook's to close.
 */
struct fe_trace_event {
	enum fe_trace_dir dir;
	enum fe_trace_chan chan;
	const char *text;  /* decoded, one line, never NULL */
	const void *bytes; /* raw bytes as sent / received, or NULL */
	size_t len;
	const int *fds; /* fds sent / received with them (may be
				   already closed by the time a recorder
				   looks: use @fds_text) */
	unsigned int nfds;
	const char *fds_text; /* "eventfd(nonblock), memfd(4096)" or NULL */
	/* SEND only: how it went out, so a reproducer can say it again.
	 * @chunks holds the end offset of each chunk but the last (chunk i
	 * spans chunks[i-1] .. chunks[i]); NULL / 0: one chunk. @fds_chunk is
	 * the chunk the fds rode on. */
	const size_t *chunks;
	unsigned int nchunks;
	unsigned int fds_chunk;
};

struct fe_trace_hook {
	void (*fn)(void *ctx, const struct fe_trace_event *ev);
	void *ctx;
};

/* Emit @ev through @hook if one is set. */
static inline void fe_trace_emit(const struct fe_trace_hook *hook,
				 const struct fe_trace_event *ev)
{
	if (hook && hook->fn)
		hook->fn(hook->ctx, ev);
}

/* Emit a NOTE with @text on @chan. */
static inline void fe_trace_note(const struct fe_trace_hook *hook,
				 enum fe_trace_chan chan, const char *text)
{
	struct fe_trace_event ev = {
		.dir = FE_TRACE_NOTE,
		.chan = chan,
		.text = text,
	};

	fe_trace_emit(hook, &ev);
}

/**
 * fe_trace_fds_text() - Describe @nfds fds for fe_trace_event.fds_text
 * @buf:	out: "eventfd(nonblock), memfd(4096)", NUL-terminated,
 *		truncated to @cap
 *
 * Uses fdzoo_describe() on each fd; looks only.
 *
 * Return: @buf, or NULL when @nfds or @cap is 0.
 */
static inline const char *fe_trace_fds_text(const int *fds, unsigned int nfds,
					    char *buf, size_t cap)
{
	size_t at = 0;
	unsigned int i;

	if (!nfds || !cap)
		return NULL;
	buf[0] = '\0';
	for (i = 0; i < nfds && at + 1 < cap; i++) {
		char one[96];
		int n;

		n = snprintf(buf + at, cap - at, "%s%s", i ? ", " : "",
			     fdzoo_describe(fds[i], one, sizeof(one)));
		if (n < 0)
			break;
		at += (size_t)n < cap - at ? (size_t)n : cap - at - 1;
	}
	return buf;
}

#endif /* VUC_FE_FE_TRACE_H */
