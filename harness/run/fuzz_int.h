/* SPDX-License-Identifier: MIT */
/*
 * fuzz_int.h - what the parts of `vu-conform fuzz` share: the engine core
 * (fuzz_core.c: options, corpus, loop, daemon, verdicts on its exit, hang
 * confirmation, progress), the vhost-user engine (fuzz.c) and its finding
 * files (fuzz_out.c), the vfio-user engine (fuzz_vfio.c) and its finding
 * files (fuzz_vfio_out.c). Private to `vu-conform fuzz`.
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
#include "run/target.h"

/* Largest input (a session) kept or made. */
#define FZ_MAX_INPUT 4096
#define FZ_CORPUS_MAX 4096 /* inputs kept */
#define FZ_COV_BITS 16	   /* signature set: 65536 slots */
#define FZ_FINDINGS_MAX 64 /* distinct findings kept */
#define FZ_WINDOW 64	   /* recent inputs, for an fd leak seen late */

/* Exit status of `vu-conform fuzz`. */
enum {
	FZ_EXIT_CLEAN = 0,
	FZ_EXIT_FINDINGS = 1,
	FZ_EXIT_SETUP = 2,
};

/* The options of `vu-conform fuzz`, for either protocol. */
struct fz_conf {
	struct target_conf target;
	const char *target_text; /* how the target was launched */
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
	enum seqmodel_dev device; /* --device, the target file's, or unknown */
};

struct fz_input {
	uint8_t *p;
	size_t n;
};

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

/*
 * Write DIR/SIG.bin (@in), then SIG.txt and SIG.lua through @write (@lua:
 * which of the two), given @r. Return: 0, or -errno (the first file that
 * could not be written).
 */
int fz_write_files(const char *dir, const char *sig, const uint8_t *in,
		   size_t n,
		   int (*write)(const char *path, bool lua, const void *r),
		   const void *r);

/**
 * fz_write_finding() - Write DIR/SIG.bin, SIG.txt and SIG.lua
 * Return: 0, or -errno (the first file that could not be written).
 */
int fz_write_finding(const char *dir, const struct fz_report *r);

/*
 * What both engines share (fuzz_core.c).
 */

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

struct fz_core;
/*
 * The verdict on a daemon that exited (or wrote a sanitizer report): a
 * crash (signal) or a sanitizer report in @v (outranking what is there),
 * nothing for a clean exit; its stderr tail in c->tail. The daemon is
 * then killed, to be launched again.
 */
void fz_core_judge_exit(struct fz_core *c, struct fz_verdict *v);

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

/* The progress line (a status line on a terminal), or the final one. */
void fz_print_progress(const struct fz_stats *st, bool final);

/* An engine's random numbers, signature set, corpus, recent inputs and
 * findings, and the figures of its progress line. */
struct fz_core {
	struct target *t; /* the daemon (NULL: not running) */
	int conn;	  /* our connection to it, or -1 */
	int fd_base; /* reuse: its settled fd count when idle, -1: unknown */
	char tail[2048]; /* stderr tail of the last daemon that exited */
	uint64_t rng;
	uint64_t *cov;		 /* the signature set (1 << FZ_COV_BITS) */
	struct fz_input *corpus; /* FZ_CORPUS_MAX; st.ncorpus used */
	size_t nseeds;		 /* the first nseeds are seeds ... */
	unsigned int builtin, nbuiltin;	   /* ... these the built-in ones */
	struct fz_input window[FZ_WINDOW]; /* the recent inputs */
	unsigned int nwindow, window_at;
	char *found[FZ_FINDINGS_MAX]; /* signatures reported */
	double first_s;		      /* when the first finding came */
	uint64_t first_sessions;      /* ... after this many sessions */
	struct fz_stats st;
	int64_t last_progress;
};

/* Set up @c (seed 0 counts as 1; no daemon, no connection). Return: 0 or
 * -ENOMEM (fz_core_free() cleans up either way). */
int fz_core_init(struct fz_core *c, uint64_t seed, bool quiet);
/* Free @c, and stop its daemon if it runs. */
void fz_core_free(struct fz_core *c);
/* A random number (xorshift64*), one below @n (0 if @n is 0). */
uint64_t fz_rand(struct fz_core *c);
unsigned int fz_below(struct fz_core *c, unsigned int n);
/* Add @sig to the signature set. Return: true if it is new. */
bool fz_cov_add(struct fz_core *c, uint64_t sig);
/* Keep a copy of @p. Return: 1, 0 (the corpus is full, or @n is 0) or
 * -ENOMEM. */
int fz_corpus_add(struct fz_core *c, const uint8_t *p, size_t n);
/* Seeds: every file of @dir (its first FZ_MAX_INPUT bytes), in name
 * order. Return: 0 or -errno. */
int fz_load_seeds(struct fz_core *c, const char *dir);
/* Remember @in as the newest of the recent inputs. */
void fz_window_push(struct fz_core *c, const uint8_t *in, size_t n);
/* The @i-th oldest of the c->nwindow recent inputs. */
const struct fz_input *fz_window_get(const struct fz_core *c, unsigned int i);
/* The input pushed last (c->nwindow may have been reset since). */
const struct fz_input *fz_window_newest(const struct fz_core *c);
/* Was @sig reported already? */
bool fz_known(const struct fz_core *c, const char *sig);
/* Connect to the daemon, launching it first if it is not running (and
 * once more if a reused one is gone). Return: 0 or -errno (said). */
int fz_core_connect(struct fz_core *c, const struct fz_conf *conf);
/* Kill the daemon; the next fz_core_connect() launches a new one. */
void fz_core_restart(struct fz_core *c);

/* What a protocol's engine does for the loop (@ctx: the engine). */
struct fz_ops {
	/* Run @in as one session: the verdict in @v, @new_cov if it saw a
	 * new signature; @fd_check (reuse): count the daemon's fds before
	 * and after. Return: 0, or -errno if the daemon cannot be reached. */
	int (*session)(void *ctx, const uint8_t *in, size_t n,
		       struct fz_verdict *v, bool fd_check, bool *new_cov);
	/* A mutant of @in in @out. Return: its length. */
	size_t (*mutate)(void *ctx, const uint8_t *in, size_t n, uint8_t *out);
	/* Minimise and write the finding @v of @in (new, confirmed,
	 * counted and said by the core). */
	void (*report)(void *ctx, const uint8_t *in, size_t n,
		       const struct fz_verdict *v);
};

/*
 * The loop: the seeds first, then mutants of the corpus, each a session;
 * new signatures grow the corpus, new findings are reported; every
 * conf->fd_every sessions of a reused daemon its fds are counted (a leak
 * is pinned on one of the recent inputs) and its stderr read for a quiet
 * sanitizer report. Until the duration, the run count or the finding
 * count is reached, or fz_stop. Return: 0, or the session's -errno.
 */
int fz_core_loop(struct fz_core *c, const struct fz_conf *conf,
		 const struct fz_ops *ops, void *ctx);

/*
 * The seeds: the files of conf->corpus_dir, then what @builtin adds (the
 * engine's own); the output directory made. Return: 0 or -errno (said).
 */
int fz_core_seeds(struct fz_core *c, const struct fz_conf *conf,
		  int (*builtin)(void *ctx), void *ctx);

/* The run begins: signal handlers (SIGINT / SIGTERM set fz_stop, SIGPIPE
 * ignored), the first line (@proto: "" or ", vfio-user"), the clock. */
void fz_core_start(struct fz_core *c, const struct fz_conf *conf,
		   const char *proto, size_t nseeds);
/* The run is over (@ret: the loop's, < 0 if the target was lost): the
 * daemon stopped, the last lines, the handlers as they were. Return: the
 * exit status. */
int fz_core_finish(struct fz_core *c, const struct fz_conf *conf, int ret);

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
int fuzz_vfio_main(const struct fz_conf *c);

#endif /* VUC_RUN_FUZZ_INT_H */
