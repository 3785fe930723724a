/* SPDX-License-Identifier: MIT */
/*
 * result.h - what a case is (its metadata), what happened when it ran (its
 * verdict, reason and wire trace), and the verdict vocabulary of DESIGN
 * section 7. Shared by the runner (outputs, baseline) and the Lua layer
 * (which loads cases and fills results).
 */
#ifndef VUC_RUN_RESULT_H
#define VUC_RUN_RESULT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum vuc_level {
	VUC_MUST,   /* the spec says must */
	VUC_SHOULD, /* fails the run only with --strict */
	VUC_ROBUST, /* the spec is silent; crashing, hanging, leaking is wrong */
};

enum vuc_verdict {
	VUC_PASS,
	VUC_FAIL,  /* the target broke a rule */
	VUC_SKIP,  /* a needed feature was not offered, or the host lacks it */
	VUC_XFAIL, /* FAIL, listed so in the baseline */
	VUC_XPASS, /* PASS, but the baseline expected FAIL */
	VUC_ERROR, /* the harness or the host failed; never the target */
	VUC_VERDICT_COUNT
};

const char *vuc_level_name(enum vuc_level l);		   /* "MUST", ... */
const char *vuc_verdict_name(enum vuc_verdict v);	   /* "PASS", ... */
int vuc_level_parse(const char *s, enum vuc_level *l);	   /* any case */
int vuc_verdict_parse(const char *s, enum vuc_verdict *v); /* any case */

/* A case as declared in a Lua file. Strings are owned by the list. */
struct vuc_case {
	char *id;	/* "vhost-user/mem-table/fd-count-mismatch" */
	char *spec;	/* "vhost-user#memory-access" */
	char *quote;	/* the 1-3 lines of spec text it checks */
	char *protocol; /* "vhost-user" or "vfio-user" */
	char *file;	/* where it was declared */
	int line;
	enum vuc_level level;
	char *needs_device;	 /* "net", "blk", ...; NULL: any */
	uint64_t needs_features; /* virtio feature bits that must be offered */
	uint64_t
		needs_protocol; /* protocol feature bits that must be offered */
	bool fresh_process; /* needs its own process (skipped with --connect) */
	int ref;	    /* the Lua layer's handle of the body */
};

/* One line of a wire trace: a message (or event) in one direction. */
enum vuc_trace_dir {
	VUC_TRACE_SEND, /* harness -> target */
	VUC_TRACE_RECV, /* target -> harness */
	VUC_TRACE_NOTE, /* an event: hang-up, timeout, restart, signal */
};

struct vuc_trace_entry {
	enum vuc_trace_dir dir;
	double t_ms;	/* since the case started */
	char *text;	/* decoded, one line ("VHOST_USER_SET_VRING_NUM ...") */
	uint8_t *bytes; /* the raw bytes, as sent or received */
	size_t len;
	char *fds; /* "eventfd(nonblock), memfd(4096)" or NULL */
	/* How a SEND went out, so a reproducer can say it again: chunk
	 * boundaries as byte offsets, and on which chunk the fds rode.
	 * NULL / 0: one chunk, fds on it. */
	size_t *chunks;
	unsigned int nchunks;
};

struct vuc_trace {
	struct vuc_trace_entry *v;
	size_t n, cap;
};

/* Append an entry; copies every buffer. Return 0 or -ENOMEM. */
int vuc_trace_add(struct vuc_trace *t, enum vuc_trace_dir dir, double t_ms,
		  const char *text, const void *bytes, size_t len,
		  const char *fds);
void vuc_trace_free(struct vuc_trace *t);

/*
 * vuc_trace_fds_sent() - How many fds the harness passed to the target in
 * @t (the SEND entries' fds lists, "a(x,y), b" counting 2): the watchdog
 * allows the target's fd count to grow by that much.
 */
unsigned int vuc_trace_fds_sent(const struct vuc_trace *t);

/* What the runner's watchdog saw of the target around one case (-1:
 * unknown, e.g. --connect). */
struct vuc_watch {
	int fd_start, fd_end;	       /* open fds after connect, at the end */
	long rss_start_kb, rss_end_kb; /* VmRSS at the same two moments */
	bool exited;		       /* the process ended during the case */
	int exit_code;		       /* when exited and !signal */
	int signal;		       /* the signal that ended it, or 0 */
	unsigned int fds_sent;	       /* fds the case passed to it */
	unsigned int unsolicited;      /* messages nobody asked for */
};

struct vuc_result {
	enum vuc_verdict verdict;
	char *reason;	/* why, for anything but PASS; NULL for PASS */
	char *expected; /* "error reply or hang-up" (may be NULL) */
	char *actual;	/* "ack 0" (may be NULL) */
	double duration_ms;
	struct vuc_trace trace;
	char *stderr_tail; /* the target's, at the end of the case */
	char *reproducer;  /* path of the written reproducer script, or NULL */
	char *baseline_reason; /* from the baseline line, for XFAIL / XPASS */
	/* the verdicts the line accepts (1u << verdict) when it lists
	 * several (FAIL|PASS), else 0: --write-baseline keeps them */
	unsigned int baseline_accept;

	/* Added for the runner. The runner zeroes the whole struct before
	 * lua_cases_run(); a body sets expect_exit when the target's exit or
	 * death is what the case provokes (a SIGTERM test), so that the
	 * watchdog does not blame it. The rest is the runner's. */
	bool expect_exit;
	char *rerun; /* the command that reruns just this case */
	struct vuc_watch watch;
	bool lenient;	    /* a SHOULD FAIL that does not fail the run */
	bool baseline_diff; /* differs from its baseline line */
};

void vuc_result_free(struct vuc_result *r);

#endif /* VUC_RUN_RESULT_H */
