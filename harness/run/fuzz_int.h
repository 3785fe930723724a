/* SPDX-License-Identifier: MIT */
/*
 * fuzz_int.h - what fuzz.c (the engine) and fuzz_out.c (the finding files)
 * share. Private to `vu-conform fuzz`.
 */
#ifndef VUC_RUN_FUZZ_INT_H
#define VUC_RUN_FUZZ_INT_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/util.h"

#include "fe/seq.h"
#include "fe/seqmodel.h"

/* Largest input (a session) kept or made. */
#define FZ_MAX_INPUT 4096

/* Finding kinds besides the wire oracles' names (SEQ_ORACLE_...). */
#define FZ_KIND_CRASH "crash"
#define FZ_KIND_SANITIZER "sanitizer"
#define FZ_KIND_HANG "hang"
#define FZ_KIND_FD_LEAK "fd-leak"
#define FZ_KIND_FEATURES "unoffered-features-acked"
#define FZ_KIND_VRING_NUM "illegal-vring-num-acked"
#define FZ_KIND_STATE "failed-save-checked-ok"
#define FZ_KIND_LOG "unmappable-log-acked"
#define FZ_KIND_STATE_LOAD "state-loaded-differs"

/* What one op of a session did: the reproducer replays it the same way. */
struct fz_rec {
	bool sent;	   /* it went out (the session had not ended) */
	bool expect;	   /* a reply was awaited */
	bool fail;	   /* the request must fail */
	bool call_legal;   /* SET_VRING_CALL with a legal fd */
	bool maybe;	   /* an answer may come, need not (skipped) */
	bool widow;	   /* our ends of its fds closed after it */
	bool save_bad;	   /* CHECK_DEVICE_STATE after a SAVE into an fd
			     that fails writes */
	bool st_save;	   /* CHECK_DEVICE_STATE of a SAVE we read */
	bool st_loadcheck; /* CHECK_DEVICE_STATE of a LOAD we fed */
	bool st_feed;	   /* FEED: the state two SAVEs gave, written */
	unsigned int nrep; /* replies that came for it */
	unsigned int nfds; /* fds made and sent with it */
	enum seq_fdk fdk;  /* their kind */
};

/* A finding, or none (kind NULL). */
struct fz_verdict {
	const char *kind;
	char sig[96];	/* kind + signature: file names, deduplication */
	char what[512]; /* what fired */
	int at;		/* the op (0-based) where it fired, -1: the session */
	struct seqmodel_check check; /* a ring-model oracle: what to re-check
					where it fired (the reproducer) */
};

/* Everything the finding files say. */
struct fz_report {
	const uint8_t *input;
	size_t len;
	const struct fz_verdict *v;
	const struct fz_rec *rec; /* SEQ_MAX_OPS entries */
	const char *target_text;  /* how the target was launched */
	const char *stderr_tail;
	unsigned int tries; /* minimisation runs */
	size_t orig_len;
};

/**
 * fz_write_finding() - Write DIR/SIG.bin, SIG.txt and SIG.lua
 * Return: 0, or -errno (the first file that could not be written).
 */
int fz_write_finding(const char *dir, const struct fz_report *r);

/*
 * Generic helpers of fuzz.c that the vfio-user engine (fuzz_vfio.c) uses
 * too.
 */
struct target_conf;

/* SIGINT / SIGTERM seen (a second one exits at once). */
extern volatile sig_atomic_t fz_stop;
/* The handler that sets fz_stop. */
void fz_on_signal(int sig);
/* "vu-conform fuzz: " + the message + newline, on stderr. */
void fz_msg(const char *fmt, ...) VUC_PRINTF(1, 2);
/* Mix @v into the hash @h (signatures, the coverage proxy). */
uint64_t fz_hash(uint64_t h, uint64_t v);
/* The first frame ("#0 ... in FUNC") of a sanitizer report in @buf. */
void fz_top_frame(const char *buf, char *out, size_t cap);
/* mkdir -p @dir. Return: 0, or -1 with errno. */
int fz_mkdirs(const char *dir);

/*
 * Record a finding in @v unless one is there already (the first wins);
 * its signature is @kind, "-" and the formatted rest, lower case, other
 * characters than letters, digits and "-" turned into "-".
 * Return: true if this one was recorded.
 */
bool fz_found(struct fz_verdict *v, const char *kind, int at,
	      const char *sig_fmt, ...) VUC_PRINTF(4, 5);

struct target;

/*
 * The verdict on a target whose process exited: a crash (signal) or a
 * sanitizer report in @v (outranking what is there), nothing for a clean
 * exit; its stderr tail in @tail.
 */
void fz_exit_verdict(struct target *t, char *tail, size_t cap,
		     struct fz_verdict *v);

/*
 * The target's fd count once it has let go of a connection: at most
 * @want, or (@want < 0) the same twice 2 ms apart; 300 ms at most.
 */
int fz_target_settled_fds(struct target *t, int want);

/* The figures of the progress line. */
struct fz_stats {
	int64_t t0;
	uint64_t sessions, msgs, restarts, hangups;
	unsigned int nfound;
	unsigned int unconfirmed; /* hangs that did not recur */
	size_t ncov, ncorpus;
	bool tty, quiet;
};

/*
 * A hang is a missed deadline, and on a loaded machine a slow answer
 * misses it too: is @v (found running @in) a hang that recurs?
 * @again runs the input once more (the daemon was restarted after the
 * hang) and says whether @v's signature came back. An unconfirmed hang is
 * said on stderr and its input kept as DIR/unconfirmed-SIG.bin; it is not
 * a finding (the caller counts it in fz_stats.unconfirmed).
 * Return: true for a confirmed hang and for every other kind.
 */
bool fz_hang_confirmed(const char *dir, const uint8_t *in, size_t n,
		       const struct fz_verdict *v, int timeout_ms,
		       bool (*again)(void *ctx, const uint8_t *in, size_t n,
				     const char *sig),
		       void *ctx);

/* The progress line (a status line on a terminal), or the final one. */
void fz_print_progress(const struct fz_stats *st, bool final);

/* What `vu-conform fuzz` hands the vfio-user engine (its options). */
struct fz_vfio_conf {
	const struct target_conf *target;
	const char *target_text;
	const char *out_dir;
	const char *corpus_dir; /* NULL: built-in seeds only */
	double duration_s;
	uint64_t runs;
	uint64_t seed;
	int timeout_ms;
	unsigned int fd_every;
	unsigned int max_findings;
	int minimize_ms;
	bool quiet;
	bool reuse;
};

/* What one op of a vfio-user session did (the reproducer replays it). */
struct fz_vrec {
	bool sent;	   /* it went out (the session had not ended) */
	bool due;	   /* a reply was awaited */
	bool in_body;	   /* it went into the body of a longer message */
	unsigned int nrep; /* replies that came for it */
	unsigned int ndma; /* server DMA requests served while waiting */
	unsigned int nfds; /* fds made and sent with it */
	unsigned int fdk;  /* their kind (enum vseq_fdk) */
};

/* Everything a vfio-user finding's files say. */
struct fz_vreport {
	const uint8_t *input;
	size_t len;
	const struct fz_verdict *v;
	const struct fz_vrec *rec; /* VSEQ_MAX_OPS entries */
	const char *target_text;
	const char *stderr_tail;
	unsigned int tries; /* minimisation runs */
	size_t orig_len;
	uint16_t watch_id;    /* the msg_id an *-reply kind is about */
	uint64_t client_xfer; /* our max_data_xfer_size */
	const uint64_t *ro;   /* read-only message-mode maps: addr, size */
	unsigned int nro;
	const uint64_t *fdm; /* fd-backed maps: addr, size */
	unsigned int nfdm;
};

/**
 * fz_vfio_write_finding() - Write DIR/SIG.bin, SIG.txt and SIG.lua
 * Return: 0, or -errno (the first file that could not be written).
 */
int fz_vfio_write_finding(const char *dir, const struct fz_vreport *r);

/**
 * fuzz_vfio_main() - `vu-conform fuzz` against a vfio-user server
 * Return: the exit status (0 no finding, 1 findings, 2 setup error).
 */
int fuzz_vfio_main(const struct fz_vfio_conf *c);

#endif /* VUC_RUN_FUZZ_INT_H */
