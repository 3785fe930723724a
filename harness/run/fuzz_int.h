/* SPDX-License-Identifier: MIT */
/*
 * fuzz_int.h - what fuzz.c (the engine) and fuzz_out.c (the finding files)
 * share. Private to `vu-conform fuzz`.
 */
#ifndef VUC_RUN_FUZZ_INT_H
#define VUC_RUN_FUZZ_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fe/seq.h"

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

#endif /* VUC_RUN_FUZZ_INT_H */
