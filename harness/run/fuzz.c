// SPDX-License-Identifier: MIT
/*
 * fuzz.c - `vu-conform fuzz`: black-box fuzzing of a vhost-user back-end
 * (fuzz.h). The engine: options, the session runner and its oracles, the
 * mutators, minimisation, progress.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/util.h"
#include "fe/frame.h"
#include "fe/seq.h"
#include "fe/seqmodel.h"
#include "run/fuzz.h"
#include "run/fuzz_int.h"
#include "run/outputs.h"
#include "run/target.h"
#include "run/tdesc.h"
#include "run/watchdog.h"
#include "transport/chan.h"
#include "transport/fdzoo.h"

#ifndef VUC_SOURCE_CORPUS_DIR
#define VUC_SOURCE_CORPUS_DIR "corpus"
#endif

#define FZ_MAX_OWN 96	   /* fds a session keeps (ours and other ends) */
#define FZ_CORPUS_MAX 4096 /* inputs kept */
#define FZ_COV_BITS 16	   /* signature set: 65536 slots */
#define FZ_FINDINGS_MAX 64
#define FZ_PENDING (SEQ_MAX_OPS + 1)

enum {
	FZ_EXIT_CLEAN = 0,
	FZ_EXIT_FINDINGS = 1,
	FZ_EXIT_SETUP = 2,
};

struct fz_conf {
	struct target_conf target;
	const char *target_text;
	const char *out_dir;
	const char *corpus_dir;
	double duration_s;
	uint64_t runs;
	uint64_t seed;
	int timeout_ms;
	unsigned int fd_every;
	unsigned int max_findings;
	int minimize_ms;
	bool quiet;
	enum seqmodel_dev device; /* --device, the target file's, or unknown */
};

struct fz_input {
	uint8_t *p;
	size_t n;
};

/* An fd a session made. */
struct fz_own {
	int fd;
	enum fdzoo_kind kind;
	int role; /* 0: sent; 1: the other end; 2: the write end of a pipe
		     whose read end was sent (FEED writes there) */
};

/* One session's state. */
struct fz_sess {
	struct fz_own own[FZ_MAX_OWN];
	unsigned int nown;
	uint64_t proto;		/* protocol features believed in force */
	bool proto_known;	/* ... and that belief is sure */
	uint64_t proto_offered; /* GET_PROTOCOL_FEATURES answer */
	bool proto_offered_known;
	uint64_t feat_offered; /* GET_FEATURES answer */
	bool feat_offered_known;
	bool packed;   /* RING_PACKED sent in SET_FEATURES */
	bool save_bad; /* a SAVE went to an fd that cannot take it */
	/* the state oracle (fz_state_judge()): a SAVE being read from our
	 * end own[st_save_i], its bytes (st_cur), the previous SAVE's, the
	 * state two SAVEs in a row gave (st_stable), a LOAD waiting for its
	 * CHECK (fed that state), that LOAD checked 0 */
	bool st_saving, st_cur, st_prev, st_stable, st_loading, st_fed;
	bool st_loaded;
	unsigned int st_save_i, st_load_i;
	size_t st_cur_len, st_prev_len, st_stable_len;
	uint32_t pending[FZ_PENDING]; /* must-fail requests whose answer
					 may still come */
	unsigned int npending;
	bool out_of_step; /* the stream may be out of step (size lie) */
	bool hung;	  /* the daemon hung up */
	unsigned int msgs;
	struct fz_rec rec[SEQ_MAX_OPS];
};

struct fz {
	const struct fz_conf *conf;
	struct target *t;
	int conn;
	bool fresh_conn; /* conn was probed already (reused after a hang-up) */
	int guest_fd;
	bool guest_dirty; /* guest memory was written or handed over */
	uint64_t rng;
	bool reuse;

	struct fz_input *corpus;
	size_t ncorpus;
	size_t nseeds;
	unsigned int builtin, nbuiltin; /* where fz_builtin_seeds() put its */
	struct fz_input window[64];
	unsigned int nwindow, window_at;

	uint64_t *cov;
	size_t ncov;

	char *found[FZ_FINDINGS_MAX];
	unsigned int nfound;

	int fd_base;	 /* reuse: the daemon's settled fd count, idle */
	char tail[2048]; /* stderr tail of the last daemon that exited */

	uint64_t sessions, msgs, restarts, hangups;
	unsigned int unconfirmed; /* hangs that did not recur */
	double first_s;		  /* when the first finding came, -1: none */
	uint64_t first_sessions;  /* ... after this many sessions */
	int64_t t0, last_progress;
	bool tty;
	struct fz_sess s;
	struct fz_rec last_rec[SEQ_MAX_OPS];
	uint8_t *guest_map;    /* guest_fd mapped: the ring model reads it */
	struct seqmodel model; /* the session's rings and config */
};

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

static uint64_t fz_rand(struct fz *f)
{
	/* xorshift64* */
	f->rng ^= f->rng >> 12;
	f->rng ^= f->rng << 25;
	f->rng ^= f->rng >> 27;
	return f->rng * UINT64_C(2685821657736338717);
}

static unsigned int fz_below(struct fz *f, unsigned int n)
{
	return n ? (unsigned int)(fz_rand(f) % n) : 0;
}

/* ---- coverage proxy ------------------------------------------------------ */

uint64_t fz_hash(uint64_t h, uint64_t v)
{
	h ^= v + UINT64_C(0x9e3779b97f4a7c15) + (h << 6) + (h >> 2);
	return h * UINT64_C(0xff51afd7ed558ccd);
}

/* Add @sig to the set. Return: true if it is new. */
static bool fz_cov_add(struct fz *f, uint64_t sig)
{
	size_t mask = ((size_t)1 << FZ_COV_BITS) - 1, i;

	sig |= 1; /* 0 marks an empty slot */
	if (f->ncov >= mask / 2)
		return false;
	for (i = sig & mask;; i = (i + 1) & mask) {
		if (f->cov[i] == sig)
			return false;
		if (!f->cov[i]) {
			f->cov[i] = sig;
			f->ncov++;
			return true;
		}
	}
}

/* The signature of one request and what came back. */
static uint64_t fz_signature(const struct vhost_user_msg *m,
			     const struct vhost_user_msg *reps,
			     unsigned int nrep, bool hung)
{
	uint64_t h = fz_hash(0, m->hdr.request);
	uint64_t v = 0;
	unsigned int size_class;

	h = fz_hash(h, m->hdr.flags & 0xf);
	h = fz_hash(h, hung);
	h = fz_hash(h, nrep);
	if (nrep) {
		size_class = reps[0].hdr.size == 0   ? 0
			     : reps[0].hdr.size == 8 ? 1
			     : reps[0].hdr.size < 64 ? 2
						     : 3;
		h = fz_hash(h, reps[0].hdr.request);
		h = fz_hash(h, size_class);
		h = fz_hash(h, reps[0].nfds);
		if (reps[0].hdr.size == 8) {
			memcpy(&v, reps[0].payload, sizeof(v));
			h = fz_hash(h, v == 0 ? 0 : v < 256 ? v : 256);
		}
	}
	return h;
}

/* ---- the target ---------------------------------------------------------- */

static int fz_connect(struct fz *f)
{
	int ret;

	if (f->conn >= 0)
		return 0;
	f->fresh_conn = false;
	if (!f->t) {
		ret = target_start(&f->t, &f->conf->target, &f->conn);
		if (ret < 0 && f->t) {
			char tail[1024];

			target_stderr_tail(f->t, tail, sizeof(tail));
			fz_msg("the target did not start: %s%s%s",
			       strerror(-ret), tail[0] ? "; its stderr:\n" : "",
			       tail);
			target_free(f->t);
			f->t = NULL;
		} else if (ret < 0) {
			fz_msg("the target did not start: %s", strerror(-ret));
		}
		if (ret >= 0 && !f->reuse)
			target_mark(f->t);
		return ret;
	}
	ret = target_reconnect(f->t, &f->conn);
	if (ret < 0) {
		/* start over once */
		target_free(f->t);
		f->t = NULL;
		f->restarts++;
		return fz_connect(f);
	}
	if (!f->reuse)
		target_mark(f->t);
	return 0;
}

/* Kill the daemon; the next fz_connect() launches a new one. */
static void fz_restart(struct fz *f)
{
	close_fd(&f->conn);
	if (f->t)
		target_free(f->t);
	f->t = NULL;
	f->restarts++;
	f->fd_base = -1;
}

/* ---- fds ----------------------------------------------------------------- */

static void fz_keep(struct fz_sess *s, int fd, enum fdzoo_kind kind, int role)
{
	if (s->nown < FZ_MAX_OWN)
		s->own[s->nown++] = (struct fz_own){ fd, kind, role };
	else
		close(fd);
}

/* A new fd of @k to send (-1 if none could be made). */
static int fz_make_fd(struct fz *f, enum seq_fdk k)
{
	struct fz_sess *s = &f->s;
	enum fdzoo_kind kind;
	int fd, other = -1;
	size_t size;
	bool widow;

	kind = seq_fdk_zoo(k, &size, &widow);
	if (kind == FDZOO_CLOSED) {
		f->guest_dirty = true;
		return f->guest_fd; /* shared, never closed per session */
	}
	if (s->nown + 2 > FZ_MAX_OWN)
		return -1;
	fd = fdzoo_new(kind, size, &other);
	if (fd < 0)
		return -1;
	fz_keep(s, fd, kind, 0);
	if (other >= 0) {
		if (widow)
			close(other);
		else
			fz_keep(s, other, FDZOO_OTHER,
				kind == FDZOO_PIPE_READ ||
						kind == FDZOO_PACKET_PIPE_READ
					? 2
					: 1);
	}
	return fd;
}

static int fz_last_own(struct fz_sess *s, int role, bool memfd)
{
	unsigned int i = s->nown;

	while (i--) {
		if (s->own[i].fd < 0)
			continue;
		if (memfd ? s->own[i].kind == FDZOO_MEMFD
			  : s->own[i].role == role)
			return (int)i;
	}
	return -1;
}

/* ---- one session ---------------------------------------------------------- */

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

/* "SET_VRING_NUM" for a front-end request code, or "request-N". */
static const char *fz_req_name(uint32_t code)
{
	static _Thread_local char buf[32];
	const char *n = vhost_user_request_name(VHOST_USER_FROM_FRONTEND, code);

	if (n && !strncmp(n, "VHOST_USER_", 11))
		return n + 11;
	if (n)
		return n;
	snprintf(buf, sizeof(buf), "request-%u", code);
	return buf;
}

/* Is the reply to @code one a must-fail request may still get? */
static bool fz_take_pending(struct fz_sess *s, uint32_t code)
{
	unsigned int i;

	for (i = 0; i < s->npending; i++) {
		if (s->pending[i] == code) {
			memmove(&s->pending[i], &s->pending[i + 1],
				(s->npending - i - 1) * sizeof(s->pending[0]));
			s->npending--;
			return true;
		}
	}
	return false;
}

/*
 * Receive the next message that is not a late answer to a must-fail
 * request. Return: as frame_vhost_recv(); its fds are closed.
 */
static int fz_recv(struct fz *f, struct vhost_user_msg *m, int64_t deadline,
		   const char **why)
{
	unsigned int i;
	int ret;

	for (;;) {
		ret = frame_vhost_recv(f->conn, m, deadline, why, NULL);
		if (ret < 0)
			return ret;
		for (i = 0; i < m->nfds; i++)
			close(m->fds[i]);
		if ((m->hdr.flags & VHOST_USER_REPLY_MASK) &&
		    fz_take_pending(&f->s, m->hdr.request))
			continue;
		return ret;
	}
}

/* The features a message sets, as far as the session can be sure. */
static void fz_learn(struct fz_sess *s, const struct seq_sent *st,
		     const struct vhost_user_msg *reps, unsigned int nrep)
{
	const struct vhost_user_msg *m = &st->m;
	uint64_t v = 0;
	bool acked_bad =
		nrep && reps[0].hdr.size == 8 && !seq_reply_success(&reps[0]);

	if (nrep && reps[0].hdr.size == 8 &&
	    reps[0].hdr.request == m->hdr.request)
		memcpy(&v, reps[0].payload, sizeof(v));
	switch (m->hdr.request) {
	case VHOST_USER_GET_PROTOCOL_FEATURES:
		if (nrep && reps[0].hdr.size == 8) {
			s->proto_offered = v;
			s->proto_offered_known = true;
		}
		break;
	case VHOST_USER_GET_FEATURES:
		if (nrep && reps[0].hdr.size == 8) {
			s->feat_offered = v;
			s->feat_offered_known = true;
		}
		break;
	case VHOST_USER_SET_PROTOCOL_FEATURES:
		if (acked_bad)
			break;
		memcpy(&v, m->payload, sizeof(v));
		/* sure only for a well-formed, offered, coherent set */
		if (st->fail || m->hdr.size != 8 || !s->proto_offered_known ||
		    (v & ~s->proto_offered) ||
		    vhost_user_protocol_features_check(v, NULL) < 0) {
			s->proto_known = false;
			break;
		}
		s->proto = v;
		break;
	case VHOST_USER_SET_FEATURES:
		if (m->hdr.size == 8 && !acked_bad) {
			memcpy(&v, m->payload, sizeof(v));
			s->packed = v >> 34 & 1; /* VIRTIO_F_RING_PACKED */
		}
		break;
	case VHOST_USER_RESET_OWNER:
	case VHOST_USER_RESET_DEVICE:
		/* what a reset keeps is up to the back-end */
		s->proto_known = false;
		break;
	default:
		break;
	}
}

/*
 * Black-box additions to seq_must_fail(): what the session saw offered, a
 * log that cannot be mapped.
 */
static const char *fz_must_fail_more(const struct fz_sess *s,
				     const struct vhost_user_msg *m)
{
	struct vhost_user_log log;
	struct stat st;
	uint64_t v;
	uint32_t num;

	if (m->hdr.request == VHOST_USER_SET_LOG_BASE && m->nfds == 1 &&
	    m->hdr.size == sizeof(log)) {
		memcpy(&log, m->payload, sizeof(log));
		/* only a regular file (a memfd) maps, and only that far */
		if (fstat(m->fds[0], &st) < 0 || !S_ISREG(st.st_mode) ||
		    log.mmap_offset + log.mmap_size < log.mmap_offset ||
		    log.mmap_offset + log.mmap_size > (uint64_t)st.st_size)
			return FZ_KIND_LOG;
	}
	if (m->hdr.size != 8)
		return NULL;
	memcpy(&v, m->payload, sizeof(v));
	if (m->hdr.request == VHOST_USER_SET_FEATURES &&
	    s->feat_offered_known && (v & ~s->feat_offered))
		return FZ_KIND_FEATURES;
	if (m->hdr.request == VHOST_USER_SET_VRING_NUM) {
		num = (uint32_t)(v >> 32);
		/* "Queue Size value is always a power of 2" (split), at most
		 * 32768 (both layouts) */
		if (num == 0 || num > 32768 ||
		    (!s->packed && (num & (num - 1))))
			return FZ_KIND_VRING_NUM;
	}
	return NULL;
}

/*
 * Before CHECK_DEVICE_STATE a front-end has finished its side of the
 * transfer: written and closed its end (load), or read to the end (save).
 * Close every other end we hold (a daemon may otherwise wait for it, as
 * the spec lets it).
 */
static void fz_end_transfers(struct fz_sess *s)
{
	unsigned int i;

	for (i = 0; i < s->nown; i++)
		if (s->own[i].role)
			close_fd(&s->own[i].fd);
}

/*
 * The state oracle. A daemon that serialises deterministically (two SAVEs
 * in a row, nothing else in between, gave the same bytes) and says 0 to
 * the CHECK_DEVICE_STATE of a LOAD of those bytes ("verify that data
 * transfer was successful") must give the same bytes at the next SAVE.
 * Messages that may change the device (anything but the transfers and
 * the GETs below) and ops other than FEED / CLOSE start it over.
 */
/* larger states are not judged; the buffers: this SAVE, last, stable */
#define FZ_STATE_MAX (1u << 20)
static uint8_t fz_st_buf[3][FZ_STATE_MAX];

static void fz_state_reset(struct fz_sess *s)
{
	s->st_cur = s->st_prev = s->st_stable = false;
	s->st_loading = s->st_fed = s->st_loaded = false;
}

/* Before CHECK_DEVICE_STATE: read the SAVE to its end (the daemon closes
 * its end when done). */
static void fz_state_drain(struct fz *f)
{
	struct fz_sess *s = &f->s;
	int64_t until = chan_deadline(f->conf->timeout_ms);
	int fd;

	s->st_cur = false;
	if (!s->st_saving)
		return;
	s->st_saving = false;
	fd = s->own[s->st_save_i].fd;
	s->st_cur_len = 0;
	while (fd >= 0 && chan_now() < until) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, 10) <= 0)
			continue;
		if (s->st_cur_len == FZ_STATE_MAX)
			return; /* too large to judge */
		n = read(fd, fz_st_buf[0] + s->st_cur_len,
			 FZ_STATE_MAX - s->st_cur_len);
		if (n == 0) {
			s->st_cur = true;
			return;
		}
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return;
		if (n > 0)
			s->st_cur_len += (size_t)n;
	}
}

/* FEED of a valid blob: the state two SAVEs gave, if there is one and a
 * LOAD is waiting for it. Return: true if it was written whole. */
static bool fz_state_feed(struct fz *f, unsigned int i)
{
	struct fz_sess *s = &f->s;
	int64_t until = chan_deadline(f->conf->timeout_ms);
	int fd = s->own[i].fd;
	size_t done = 0;

	/* only into the pipe of the LOAD waiting for it */
	if (!s->st_stable || !s->st_loading || s->st_fed || i != s->st_load_i)
		return false;
	while (done < s->st_stable_len && chan_now() < until) {
		struct pollfd p = { .fd = fd, .events = POLLOUT };
		ssize_t n;

		if (poll(&p, 1, 10) <= 0)
			continue;
		n = write(fd, fz_st_buf[2] + done, s->st_stable_len - done);
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			break;
		if (n > 0)
			done += (size_t)n;
	}
	s->st_fed = done == s->st_stable_len;
	return s->st_fed;
}

/* The oracle on one message and its replies (after the other oracles). */
static void fz_state_judge(struct fz *f, const struct seq_sent *st,
			   const struct vhost_user_msg *reps, unsigned int nrep,
			   unsigned int idx, struct fz_verdict *v)
{
	struct fz_sess *s = &f->s;
	bool ok = nrep && reps[0].hdr.size == 8 && !reps[0].nfds &&
		  reps[0].hdr.request == st->m.hdr.request &&
		  seq_reply_success(&reps[0]);
	uint32_t dir;
	int i;

	switch (st->m.hdr.request) {
	case VHOST_USER_CHECK_DEVICE_STATE:
		if (s->st_cur && ok && s->st_loaded) {
			s->rec[idx].st_save = true;
			if ((s->st_cur_len != s->st_stable_len ||
			     memcmp(fz_st_buf[0], fz_st_buf[2],
				    s->st_cur_len)) &&
			    fz_found(v, FZ_KIND_STATE_LOAD, (int)idx, "%s",
				     "check-device-state"))
				snprintf(v->what, sizeof(v->what),
					 "two SAVEs gave the same %zu bytes, "
					 "a LOAD of them was checked 0, yet "
					 "the next SAVE gave %zu other bytes",
					 s->st_stable_len, s->st_cur_len);
			s->st_loaded = false;
		} else if (s->st_cur && ok) {
			s->rec[idx].st_save = true;
			if (s->st_prev && s->st_prev_len == s->st_cur_len &&
			    !memcmp(fz_st_buf[0], fz_st_buf[1],
				    s->st_cur_len)) {
				memcpy(fz_st_buf[2], fz_st_buf[0],
				       s->st_cur_len);
				s->st_stable_len = s->st_cur_len;
				s->st_stable = true;
			}
			memcpy(fz_st_buf[1], fz_st_buf[0], s->st_cur_len);
			s->st_prev_len = s->st_cur_len;
			s->st_prev = true;
		} else if (s->st_loading && s->st_fed && ok) {
			s->rec[idx].st_loadcheck = true;
			s->st_loaded = true;
			s->st_cur = s->st_prev = false;
		} else if (s->st_cur || s->st_loading) {
			fz_state_reset(s); /* a transfer failed */
		}
		s->st_cur = s->st_loading = s->st_fed = false;
		break;
	case VHOST_USER_SET_DEVICE_STATE_FD:
		s->st_saving = false;
		if (s->st_loading || !ok || st->m.hdr.size < 8) {
			fz_state_reset(s);
			break;
		}
		memcpy(&dir, st->m.payload, sizeof(dir));
		i = fz_last_own(s, 1, false);
		if (dir == VHOST_USER_TRANSFER_STATE_DIRECTION_LOAD) {
			/* a pipe read end we made: FEED writes its other end */
			i = fz_last_own(s, 2, false);
			if ((st->kind == FDZOO_PIPE_READ ||
			     st->kind == FDZOO_PACKET_PIPE_READ) &&
			    i >= 0) {
				s->st_loading = true;
				s->st_load_i = (unsigned int)i;
			} else {
				fz_state_reset(s);
			}
		} else if (st->kind == FDZOO_PIPE_WRITE && i > 0) {
			s->st_saving = true; /* our read end: i */
			s->st_save_i = (unsigned int)i;
			/* our copy of the end we sent (fz_make_fd() keeps it
			 * right before): the SAVE ends in EOF without it */
			if (!s->own[i - 1].role &&
			    s->own[i - 1].kind == FDZOO_PIPE_WRITE)
				close_fd(&s->own[i - 1].fd);
		}
		break;
	case VHOST_USER_GET_FEATURES:
	case VHOST_USER_GET_PROTOCOL_FEATURES:
	case VHOST_USER_GET_QUEUE_NUM:
	case VHOST_USER_GET_STATUS:
	case VHOST_USER_GET_MAX_MEM_SLOTS:
		break;
	default:
		fz_state_reset(s);
		break;
	}
}

/* A ring-model oracle fired (at op @at, -1: the probe after the session). */
static void fz_model_found(struct fz *f, struct fz_verdict *v, int at,
			   const char *req, const char *oracle, const char *why)
{
	if (fz_found(v, oracle, at, "%s", req)) {
		snprintf(v->what, sizeof(v->what), "%s", why);
		v->check = f->model.check;
	}
}

/*
 * The ring model (fe/seqmodel.h) on one message sent; replies make it a
 * synchronisation point (what the daemon did before answering is in guest
 * memory now).
 */
static void fz_model_msg(struct fz *f, const struct seq_sent *st,
			 const int *fds, const struct seq_op *op,
			 const struct vhost_user_msg *reps, unsigned int nrep,
			 unsigned int idx, struct fz_verdict *v)
{
	const char *oracle = NULL, *why = NULL;
	int ret;

	ret = seqmodel_msg(&f->model, st, fds, op->fdk == SEQ_FDK_GUEST, reps,
			   nrep, &oracle, &why);
	if (!ret && nrep)
		ret = seqmodel_sync(&f->model, &oracle, &why);
	if (ret < 0)
		fz_model_found(f, v, (int)idx, fz_req_name(st->m.hdr.request),
			       oracle, why);
}

/* The probe was answered: a synchronisation point after the last op. */
static void fz_model_sync(struct fz *f, struct fz_verdict *v)
{
	const char *oracle = NULL, *why = NULL;

	if (seqmodel_sync(&f->model, &oracle, &why) < 0)
		fz_model_found(f, v, -1, "probe", oracle, why);
}

/* Send one MSG / SPLIT op and judge what comes back. */
static void fz_op_msg(struct fz *f, const struct seq_op *op, unsigned int idx,
		      struct fz_verdict *v, bool *new_cov)
{
	struct fz_sess *s = &f->s;
	struct fz_rec *rec = &s->rec[idx];
	static struct seq_sent st;
	struct vhost_user_msg reps[2];
	uint8_t buf[VHOST_USER_MSG_MAX];
	const char *oracle = NULL, *why = NULL, *more;
	int fds[SEQ_MAX_FDS], expect, ret;
	unsigned int i, nfds, nrep = 0, first_own;
	int64_t deadline;

	st.m = op->m;
	first_own = s->nown;
	for (i = 0; i < op->nfds; i++) {
		fds[i] = fz_make_fd(f, op->fdk);
		if (fds[i] < 0)
			break;
	}
	nfds = i;
	st.nfds = nfds;
	st.kind = nfds ? fdzoo_kind_of(fds[0]) : FDZOO_CLOSED;
	vhost_user_msg_attach_fds(&st.m, fds,
				  VUC_MIN(nfds, VHOST_USER_MAX_FDS));
	st.proto = s->proto;
	st.fail = seq_must_fail(&st.m, nfds, s->proto, 0);
	/* without a sure view of the protocol features, only what fails
	 * whatever they are */
	if (st.fail && !s->proto_known)
		st.fail = seq_must_fail(&st.m, nfds, 0, 0) &&
			  seq_must_fail(&st.m, nfds, ~UINT64_C(0), 0);
	more = st.fail ? NULL : fz_must_fail_more(s, &st.m);
	if (more)
		st.fail = true;
	expect = vhost_user_reply_expected(VHOST_USER_FROM_FRONTEND, &st.m.hdr,
					   s->proto);
	if (!s->proto_known && expect >= 0 &&
	    vhost_user_reply_expected(VHOST_USER_FROM_FRONTEND, &st.m.hdr, 0) !=
		    vhost_user_reply_expected(VHOST_USER_FROM_FRONTEND,
					      &st.m.hdr, ~UINT64_C(0)))
		expect = -1; /* it depends on what we do not know */
	rec->sent = true;
	rec->nfds = nfds;
	rec->fdk = op->fdk;
	rec->expect = expect == 1;
	rec->fail = st.fail;
	/* the queue count is unknown here: vring 0 exists on every device */
	st.vring_exists = !(st.m.payload[0] & VHOST_USER_VRING_IDX_MASK) &&
			  !st.m.payload[1];
	rec->call_legal =
		st.m.hdr.request == VHOST_USER_SET_VRING_CALL && !st.fail &&
		st.vring_exists && nfds == 1 &&
		(st.kind == FDZOO_EVENTFD || st.kind == FDZOO_PIPE_WRITE ||
		 st.kind == FDZOO_SOCKET);
	if (st.m.hdr.size > VHOST_USER_PAYLOAD_MAX)
		s->out_of_step = true; /* the header promises more */

	if (st.m.hdr.request == VHOST_USER_CHECK_DEVICE_STATE) {
		fz_state_drain(f);
		fz_end_transfers(s);
	}
	memcpy(buf, &st.m.hdr, VHOST_USER_HDR_SIZE);
	memcpy(buf + VHOST_USER_HDR_SIZE, st.m.payload,
	       op->wire_len - VHOST_USER_HDR_SIZE);
	deadline = chan_deadline(f->conf->timeout_ms);
	if (op->kind == SEQ_SPLIT && op->wire_len > 1) {
		struct chan_chunk c[2] = {
			{ .buf = buf, .len = 1 + op->cut % (op->wire_len - 1) },
		};

		c[1] = (struct chan_chunk){ .buf = buf + c[0].len,
					    .len = op->wire_len - c[0].len,
					    .fds = fds,
					    .nfds = nfds };
		ret = chan_send(f->conn, c, 2, deadline);
	} else {
		ret = chan_send_buf(f->conn, buf, op->wire_len, fds, nfds,
				    deadline);
	}
	s->msgs++;
	if (ret < 0) {
		s->hung = true;
		return;
	}
	/* the back-end channel is not served here: our ends of it go at
	 * once, so that a request on it fails instead of waiting for us */
	if (st.m.hdr.request == VHOST_USER_SET_BACKEND_REQ_FD ||
	    st.m.hdr.request == VHOST_USER_GPU_SET_SOCKET) {
		for (i = first_own; i < s->nown; i++)
			if (s->own[i].role)
				close_fd(&s->own[i].fd);
		rec->widow = true;
	}

	if (expect == 1) {
		ret = fz_recv(f, &reps[0], deadline, &why);
		if (ret >= 0) {
			nrep = 1;
		} else if (ret == -ETIMEDOUT) {
			/* missing, or a hang: the probe tells */
			if (!st.fail && !s->out_of_step)
				fz_found(v, FZ_KIND_HANG, (int)idx, "%s",
					 fz_req_name(st.m.hdr.request));
			s->hung = true;
			return;
		} else if (ret == -ECONNRESET) {
			s->hung = true;
		} else {
			if (fz_found(v, SEQ_ORACLE_BAD_REPLY, (int)idx, "%s",
				     fz_req_name(st.m.hdr.request)))
				snprintf(v->what, sizeof(v->what),
					 "the answer to %s is not a message "
					 "(%s): %s",
					 fz_req_name(st.m.hdr.request),
					 strerror(-ret), why ? why : "-");
			s->hung = true;
			return;
		}
	}
	/* an answer that may come and need not: a must-fail request's, or
	 * one we cannot tell is due; from now on it is skipped */
	if ((st.fail || expect < 0) && expect != 1 &&
	    s->npending < FZ_PENDING) {
		s->pending[s->npending++] = st.m.hdr.request;
		rec->maybe = true;
	}
	/* anything more that is already there */
	if (!s->hung) {
		ret = fz_recv(f, &reps[nrep], chan_deadline(CHAN_NOWAIT), &why);
		if (ret >= 0)
			nrep++;
		else if (ret == -ECONNRESET)
			s->hung = true;
	}
	rec->nrep = nrep;

	if (fz_cov_add(f, fz_signature(&st.m, reps, nrep, s->hung)))
		*new_cov = true;
	if (expect >= 0 &&
	    seq_judge(&st, reps, nrep, s->hung, &oracle, &why) < 0) {
		if (more && !strcmp(oracle, SEQ_ORACLE_REFUSED_ACKED))
			oracle = more;
		if (fz_found(v, oracle, (int)idx, "%s",
			     fz_req_name(st.m.hdr.request)))
			snprintf(v->what, sizeof(v->what), "%s", why);
	}
	if (st.m.hdr.request == VHOST_USER_CHECK_DEVICE_STATE && nrep &&
	    s->save_bad && seq_reply_success(&reps[0])) {
		if (fz_found(v, FZ_KIND_STATE, (int)idx, "%s", ""))
			snprintf(v->what, sizeof(v->what),
				 "CHECK_DEVICE_STATE says 0 after a SAVE into "
				 "an fd that fails writes");
	}
	if (st.m.hdr.request == VHOST_USER_CHECK_DEVICE_STATE)
		rec->save_bad = s->save_bad;
	fz_model_msg(f, &st, fds, op, reps, nrep, idx, v);
	fz_state_judge(f, &st, reps, nrep, idx, v);
	if (st.m.hdr.request == VHOST_USER_SET_DEVICE_STATE_FD && nrep &&
	    reps[0].hdr.size == 8 && seq_reply_success(&reps[0])) {
		uint32_t dir;

		memcpy(&dir, st.m.payload, sizeof(dir));
		s->save_bad = dir == VHOST_USER_TRANSFER_STATE_DIRECTION_SAVE &&
			      (st.kind == FDZOO_PIPE_READ ||
			       st.kind == FDZOO_PACKET_PIPE_READ ||
			       st.kind == FDZOO_DEV_FULL ||
			       st.kind == FDZOO_WIDOWED_PIPE_READ);
	}
	fz_learn(s, &st, reps, nrep);
}

/*
 * Probe: GET_FEATURES must be answered, by that reply and nothing else.
 * Return: 0 answered, 1 something else came first, or -errno.
 */
static int fz_probe(struct fz *f, struct fz_verdict *v, bool judge)
{
	struct vhost_user_msg m, rep;
	const char *why = NULL;
	int64_t deadline = chan_deadline(f->conf->timeout_ms);
	int ret;

	vhost_user_build_empty(&m, VHOST_USER_GET_FEATURES);
	ret = frame_vhost_send(f->conn, &m, FRAME_WHOLE, deadline);
	if (ret < 0)
		return -ECONNRESET;
	ret = fz_recv(f, &rep, deadline, &why);
	if (ret < 0)
		return ret;
	if (rep.hdr.request == VHOST_USER_GET_FEATURES &&
	    (rep.hdr.flags & VHOST_USER_REPLY_MASK))
		return 0;
	if (judge && fz_found(v, SEQ_ORACLE_UNSOLICITED, -1, "%s",
			      fz_req_name(rep.hdr.request))) {
		snprintf(v->what, sizeof(v->what),
			 "a message (request %u, flags 0x%x) came before the "
			 "answer to GET_FEATURES: nothing asked for it",
			 rep.hdr.request, rep.hdr.flags);
	}
	return 1;
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

/* It exited: a crash (a signal or a sanitizer report) or a clean exit. */
static void fz_judge_exit(struct fz *f, struct fz_verdict *v)
{
	fz_exit_verdict(f->t, f->tail, sizeof(f->tail), v);
	fz_restart(f);
}

void fz_exit_verdict(struct target *t, char *tail, size_t cap,
		     struct fz_verdict *v)
{
	struct target_status st;
	char report[1024], frame[64];

	target_sample(t, &st);
	target_stderr_tail(t, tail, cap);
	report[0] = '\0';
	target_sanitizer_report(t, report, sizeof(report));
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
}

/*
 * After a session that ended oddly (a hang-up, no answer): is the daemon
 * alive, dead (how), or stuck?
 */
static void fz_health(struct fz *f, struct fz_verdict *v)
{
	struct fz_verdict pv = { 0 };
	int ret;

	if (!f->t)
		return;
	close_fd(&f->conn);
	if (target_wait_exit(f->t, 0) == 1) {
		fz_judge_exit(f, v);
		return;
	}
	if (f->reuse) {
		/* a new connection: does it still answer? */
		ret = target_reconnect(f->t, &f->conn);
		if (ret >= 0 && fz_probe(f, &pv, false) == 0) {
			f->fresh_conn = true;
			return;
		}
		close_fd(&f->conn);
	}
	if (target_wait_exit(f->t, 1000) == 1) {
		fz_judge_exit(f, v);
		return;
	}
	if (f->reuse && !v->kind)
		fz_found(v, FZ_KIND_HANG, -1, "no-accept");
	if (f->reuse || (v->kind && !strcmp(v->kind, FZ_KIND_HANG)))
		fz_restart(f);
}

/*
 * The daemon's fd count once it has let go of a connection (reuse): at
 * most @want, or (@want < 0) the same twice 2 ms apart; 300 ms at most.
 */
static int fz_settled_fds(struct fz *f, int want)
{
	return fz_target_settled_fds(f->t, want);
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

static void fz_close_session(struct fz_sess *s)
{
	unsigned int i;

	for (i = 0; i < s->nown; i++)
		close_fd(&s->own[i].fd);
	s->nown = 0;
}

/*
 * Run one input as a session on a new connection and judge it.
 * @fd_check:	reuse mode: count the daemon's fds before and after
 * Return: 0, or -errno when the target cannot be reached (setup).
 */
static int fz_session(struct fz *f, const uint8_t *in, size_t n,
		      struct fz_verdict *v, bool fd_check, bool *new_cov)
{
	struct fz_sess *s = &f->s;
	struct seq_in cur = { in, n };
	struct seq_op *op = malloc(sizeof(*op));
	uint8_t data[256];
	unsigned int idx;
	int before = -1, after, ret;

	memset(v, 0, sizeof(*v));
	v->at = -1;
	*new_cov = false;
	if (!op)
		return -ENOMEM;
	if (fd_check && f->reuse && f->t) {
		close_fd(&f->conn);
		before = fz_settled_fds(f, -1);
	}
	ret = fz_connect(f);
	if (ret < 0) {
		free(op);
		return ret;
	}
	/* the same memory every session, zeroed when one could have
	 * touched it (a hole punched frees only the pages in use) */
	if (f->guest_dirty)
		fallocate(f->guest_fd,
			  FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0,
			  SEQ_GUEST_SIZE);
	f->guest_dirty = false;
	memset(s, 0, offsetof(struct fz_sess, rec));
	memset(s->rec, 0, sizeof(s->rec));
	s->proto_known = true;
	seqmodel_init(&f->model, f->guest_map, SEQ_GUEST_SIZE, f->conf->device);

	seq_u8(&cur); /* the setup byte: the daemon's own choice here */
	for (idx = 0; idx < SEQ_MAX_OPS && !s->hung && !fz_stop &&
		      seq_next(&cur, in, op, s->proto);
	     idx++) {
		switch (op->kind) {
		case SEQ_MSG:
		case SEQ_SPLIT:
			fz_op_msg(f, op, idx, v, new_cov);
			break;
		case SEQ_KICK: {
			unsigned int i, seen = 0;
			uint64_t one = 1;

			for (i = 0; i < s->nown; i++) {
				if (s->own[i].fd < 0 ||
				    s->own[i].kind != FDZOO_EVENTFD ||
				    seen++ != op->n % 8)
					continue;
				if (write(s->own[i].fd, &one, sizeof(one)) < 0)
					break;
				break;
			}
			break;
		}
		case SEQ_GUEST:
			f->guest_dirty = true;
			if (pwrite(f->guest_fd, data, seq_op_data(op, data),
				   op->n) < 0)
				break;
			break;
		case SEQ_SHRINK: {
			int i = fz_last_own(s, 0, true);

			if (i >= 0 &&
			    ftruncate(s->own[i].fd, (off_t)op->n * 256) < 0)
				break;
			break;
		}
		case SEQ_CLOSE: {
			int i = fz_last_own(s, 1, false);

			if (i < 0)
				i = fz_last_own(s, 2, false);
			if (i >= 0)
				close_fd(&s->own[i].fd);
			break;
		}
		case SEQ_FEED: {
			int i = fz_last_own(s, 2, false);

			if (i >= 0) {
				/* bit 0, "a valid state blob": the state two
				 * SAVEs gave (fz_state_feed()), else nothing */
				size_t len = seq_op_data(op, data);

				if ((op->n & 1) &&
				    fz_state_feed(f, (unsigned int)i))
					s->rec[idx].st_feed = true;
				else if (len &&
					 write(s->own[i].fd, data, len) < 0)
					s->own[i].kind = FDZOO_OTHER;
				close_fd(&s->own[i].fd);
			}
			break;
		}
		case SEQ_RAW:
			if (seq_op_data(op, data))
				chan_send_buf(
					f->conn, data, op->data_want, NULL, 0,
					chan_deadline(f->conf->timeout_ms));
			shutdown(f->conn, SHUT_WR);
			s->out_of_step = true;
			s->hung = true; /* our hang-up */
			break;
		}
		if (op->kind != SEQ_MSG && op->kind != SEQ_SPLIT) {
			if (op->kind != SEQ_FEED && op->kind != SEQ_CLOSE)
				fz_state_reset(s);
			s->rec[idx].sent = true;
			seqmodel_op(&f->model, op);
		}
	}
	free(op);
	f->msgs += s->msgs;

	/* the probe: alive, in step, nothing unasked */
	if (!s->hung && !fz_stop) {
		ret = fz_probe(f, v, true);
		if (ret == -ETIMEDOUT && !s->out_of_step &&
		    fz_found(v, FZ_KIND_HANG, -1, "probe"))
			snprintf(v->what, sizeof(v->what),
				 "no answer to GET_FEATURES within %d "
				 "ms after the session",
				 f->conf->timeout_ms);
		if (ret < 0)
			s->hung = true;
		if (ret == 0)
			fz_model_sync(f, v);
	}
	/* a hang at a request: if the probe is answered now, the reply
	 * was missing, not the daemon stuck */
	if (v->kind && !strcmp(v->kind, FZ_KIND_HANG) && v->at >= 0) {
		struct fz_verdict pv = { 0 };

		ret = fz_probe(f, &pv, false);
		if (ret == 1) {
			v->kind = NULL; /* a late reply, not a missing one */
		} else if (ret == 0) {
			char sig[64];

			/* "hang-NAME" becomes "missing-reply-NAME" */
			snprintf(sig, sizeof(sig), "%s",
				 v->sig + strlen(FZ_KIND_HANG));
			v->kind = SEQ_ORACLE_MISSING_REPLY;
			snprintf(v->sig, sizeof(v->sig), "%s%s", v->kind, sig);
			snprintf(v->what, sizeof(v->what),
				 "no reply within %d ms to a request that "
				 "must be answered (the daemon answers what "
				 "comes next)",
				 f->conf->timeout_ms);
		} else {
			snprintf(v->what, sizeof(v->what),
				 "no answer within %d ms to a request, nor to "
				 "GET_FEATURES after it",
				 f->conf->timeout_ms);
		}
	}
	if (s->hung)
		f->hangups++;
	fz_close_session(s);
	memcpy(f->last_rec, s->rec, sizeof(s->rec));

	if (s->hung || (v->kind && !strcmp(v->kind, FZ_KIND_HANG)))
		fz_health(f, v);
	else
		close_fd(&f->conn);

	if (before >= 0 && f->t && !v->kind) {
		close_fd(&f->conn);
		after = fz_settled_fds(f, before);
		if (after > before)
			fz_found(v, FZ_KIND_FD_LEAK, -1, "%s", "");
		if (v->kind && !strcmp(v->kind, FZ_KIND_FD_LEAK))
			snprintf(v->what, sizeof(v->what),
				 "the daemon has %d fds open once the session "
				 "is over, %d before it: %d leaked",
				 after, before, after - before);
	}
	f->sessions++;
	return 0;
}

/* ---- mutation ------------------------------------------------------------- */

struct fz_span {
	size_t at, len;
	enum seq_op_kind kind;
};

#define FZ_MAX_SPANS 64

static unsigned int fz_spans(const uint8_t *in, size_t n, struct fz_span *sp,
			     struct seq_op *op)
{
	struct seq_in cur = { in, n };
	unsigned int k = 0;

	seq_u8(&cur);
	while (k < FZ_MAX_SPANS && seq_next(&cur, in, op, 0)) {
		sp[k].at = op->at;
		sp[k].len = VUC_MIN(op->len, n - op->at);
		sp[k].kind = op->kind;
		k++;
	}
	return k;
}

/* Front-end request codes of the rule table, for the dictionary. */
static uint8_t fz_codes[256];
static unsigned int fz_ncodes;

static void fz_codes_init(void)
{
	unsigned int c;

	for (c = 1; c < 256; c++)
		if (vhost_user_rule_find(VHOST_USER_FROM_FRONTEND, c))
			fz_codes[fz_ncodes++] = (uint8_t)c;
}

static uint8_t fz_code(struct fz *f)
{
	if (fz_below(f, 32) == 0)
		return (uint8_t)fz_rand(f); /* unknown codes too */
	return fz_codes[fz_below(f, fz_ncodes)];
}

static uint8_t fz_small_byte(struct fz *f)
{
	unsigned int r = fz_below(f, 20);

	if (r < 12)
		return 0;
	if (r < 17)
		return (uint8_t)(1 + fz_below(f, 4));
	return (uint8_t)fz_rand(f);
}

static const uint64_t fz_interesting[] = {
	0,	    1,		2,	    3,		4,	    7,
	8,	    16,		64,	    255,	256,	    1023,
	1024,	    4096,	32768,	    32769,	65535,	    65536,
	0x7fffffff, 0x80000000, 0xffffffff, UINT64_MAX, 1ull << 32, 1ull << 63,
};

/*
 * A GUEST op that writes ring contents where the conformance traces lay
 * their rings out (vring 0: desc 0x0, avail 0x400; vring 1: desc 0x6d0,
 * avail 0xad0; buffers from 0x1000): a descriptor (sometimes chained to
 * itself) or an avail ring with entries published. Then a KICK makes the
 * daemon walk it: the data path, from the socket.
 * Return: its length in @out (at most 24 bytes).
 */
static size_t fz_gen_ring(struct fz *f, uint8_t *out)
{
	static const uint32_t lens[] = { 0x10, 0x200, 0x1000, 0xffffffff };
	bool q1 = fz_below(f, 4) == 0;
	unsigned int k = fz_below(f, 4);
	uint16_t off, v16;
	uint64_t addr;
	uint32_t len32;
	size_t i = 0;

	out[i++] = 11;
	if (fz_below(f, 2)) {
		/* struct vring_desc { addr u64, len u32, flags u16, next u16 } */
		off = (uint16_t)((q1 ? 0x6d0 : 0) + 16 * k);
		memcpy(out + i, &off, 2);
		i += 2;
		out[i++] = 16;
		addr = fz_below(f, 8)
			       ? 0x1000 + 0x200 * (uint64_t)fz_below(f, 8)
			       : fz_interesting[fz_below(
					 f, ARRAY_SIZE(fz_interesting))];
		memcpy(out + i, &addr, 8);
		len32 = lens[fz_below(f, ARRAY_SIZE(lens))];
		memcpy(out + i + 8, &len32, 4);
		v16 = (uint16_t)fz_below(f,
					 8); /* NEXT 1, WRITE 2, INDIRECT 4 */
		memcpy(out + i + 12, &v16, 2);
		v16 = (uint16_t)(fz_below(f, 3) ? k : fz_below(f, 4));
		memcpy(out + i + 14, &v16, 2);
		return i + 16;
	}
	/* struct vring_avail { flags u16, idx u16, ring[] u16 } */
	off = q1 ? 0xad0 : 0x400;
	memcpy(out + i, &off, 2);
	i += 2;
	out[i++] = 12;
	v16 = 0;
	memcpy(out + i, &v16, 2);
	v16 = (uint16_t)(1 + fz_below(f, 4));
	memcpy(out + i + 2, &v16, 2);
	for (k = 0; k < 4; k++) {
		v16 = (uint16_t)fz_below(f, 4);
		memcpy(out + i + 4 + 2 * k, &v16, 2);
	}
	return i + 12;
}

/* struct vring_desc, as it is in guest memory */
struct fz_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags, next;
};

/* A GUEST op of @len bytes at @off; Return: its length. */
static size_t fz_put_guest(uint8_t *out, uint16_t off, const void *p,
			   uint8_t len)
{
	out[0] = 11;
	memcpy(out + 1, &off, 2);
	out[3] = len;
	memcpy(out + 4, p, len);
	return 4 + (size_t)len;
}

/*
 * Ops that make the daemon walk a ring, where the traces or the ring model's
 * seeds lay it out: a descriptor chain (a loop, or a virtio-blk request: header, data,
 * status, with a sector from the interesting values) published in the
 * avail ring, then a KICK.
 * Return: the bytes written to @out (at most 160).
 */
static size_t fz_scenario(struct fz *f, uint8_t *out)
{
	struct fz_desc d[3];
	struct {
		uint32_t type, reserved;
		uint64_t sector;
	} hdr;
	uint16_t avail[3];
	bool q1 = fz_below(f, 2);
	uint16_t desc_at = q1 ? 0x6d0 : 0, avail_at = q1 ? 0xad0 : 0x400;
	unsigned int k = fz_below(f, 4);
	size_t i = 0;

	/* half the time the ring model seeds' layout (seqmodel_seed(): 4
	 * entries, vring q at 0x1000 * (q + 1), avail at +0x40) */
	if (fz_below(f, 2)) {
		desc_at = (uint16_t)(0x1000 * (1 + q1));
		avail_at = (uint16_t)(desc_at + 0x40);
	}

	memset(d, 0, sizeof(d));
	if (fz_below(f, 2)) {
		/* a chain that never ends: next is itself */
		d[0] = (struct fz_desc){ 0x1000, 0x200,
					 (uint16_t)(1 | (fz_below(f, 2) << 1)),
					 (uint16_t)k };
		i += fz_put_guest(out + i, (uint16_t)(desc_at + 16 * k), d, 16);
		avail[2] = (uint16_t)k;
	} else {
		hdr.type = fz_below(f, 2); /* VIRTIO_BLK_T_IN / OUT */
		hdr.reserved = 0;
		hdr.sector =
			fz_interesting[fz_below(f, ARRAY_SIZE(fz_interesting))];
		i += fz_put_guest(out + i, 0x1000, &hdr, sizeof(hdr));
		d[0] = (struct fz_desc){ 0x1000, 16, 1, 1 };
		d[1] = (struct fz_desc){ 0x2000, 512,
					 (uint16_t)(1 | (hdr.type ? 0 : 2)),
					 2 };
		d[2] = (struct fz_desc){ 0x3000, 1, 2, 0 };
		i += fz_put_guest(out + i, desc_at, d, sizeof(d));
		avail[2] = 0;
	}
	avail[0] = 0; /* flags */
	avail[1] = 1; /* idx: one entry published */
	i += fz_put_guest(out + i, avail_at, avail, sizeof(avail));
	out[i++] = 10; /* KICK: the second eventfd of a ring is its kick */
	out[i++] = (uint8_t)(fz_below(f, 2) ? 1u + 2u * q1 : fz_below(f, 8));
	return i;
}

/* A new op; Return: its length in @out. */
static size_t fz_gen_op(struct fz *f, uint8_t *out, size_t cap,
			struct seq_op *op)
{
	uint8_t tmp[160];
	struct seq_in cur;
	unsigned int r = fz_below(f, 100), i;
	size_t len;

	memset(tmp, 0, sizeof(tmp));
	if (r >= 72 && r < 78 && cap >= 24)
		return fz_gen_ring(f, out);
	if (r < 72 || r >= 98) {
		bool split = r >= 98;

		i = 0;
		tmp[i++] = split ? 9 : (uint8_t)fz_below(f, 9);
		if (split)
			tmp[i++] = (uint8_t)fz_rand(f);
		tmp[i++] = fz_code(f);
		tmp[i++] = fz_below(f, 10) < 7 ? 0x01 : 0x00;
		for (; i < sizeof(tmp); i++)
			tmp[i] = fz_small_byte(f);
	} else if (r < 86) {
		tmp[0] = 10;
		tmp[1] = (uint8_t)fz_below(f, 8);
	} else if (r < 91) {
		tmp[0] = 13;
	} else if (r < 96) {
		tmp[0] = 15;
		tmp[1] = 0;
		tmp[2] = (uint8_t)fz_below(f, 16);
		for (i = 3; i < sizeof(tmp); i++)
			tmp[i] = (uint8_t)fz_rand(f);
	} else {
		tmp[0] = 14;
		tmp[1] = (uint8_t)fz_below(f, 24);
		for (i = 2; i < sizeof(tmp); i++)
			tmp[i] = fz_below(f, 2) ? (uint8_t)fz_rand(f) : 0;
	}
	cur = (struct seq_in){ tmp, sizeof(tmp) };
	if (!seq_next(&cur, tmp, op, 0))
		return 0;
	len = VUC_MIN(op->len, cap);
	if (op->len > sizeof(tmp)) {
		/* a shaped payload longer than tmp: zeros past it */
		memcpy(out, tmp, VUC_MIN(sizeof(tmp), len));
		if (len > sizeof(tmp))
			memset(out + sizeof(tmp), 0, len - sizeof(tmp));
		return len;
	}
	memcpy(out, tmp, len);
	return len;
}

/* Re-encode a MSG / SPLIT op with an explicit size and an fds byte. */
static size_t fz_encode_msg(const struct seq_op *op, uint8_t opbyte,
			    uint8_t flags, uint32_t size, int fdsb,
			    uint8_t *out, size_t cap)
{
	size_t i = 0, plen = VUC_MIN(size, VHOST_USER_PAYLOAD_MAX);

	if (cap < 8 + plen)
		return 0;
	out[i++] = opbyte;
	if (opbyte % 16 == 9)
		out[i++] = op->cut;
	out[i++] = (uint8_t)op->m.hdr.request;
	flags |= 0x02;
	if (fdsb >= 0)
		flags |= 0x04;
	out[i++] = flags;
	out[i++] = (uint8_t)size;
	out[i++] = (uint8_t)(size >> 8);
	if (fdsb >= 0)
		out[i++] = (uint8_t)fdsb;
	memcpy(out + i, op->m.payload, plen);
	return i + plen;
}

/* The flags byte of the op at @sp (a MSG / SPLIT). */
static size_t fz_flags_at(const struct fz_span *sp)
{
	return sp->at + (sp->kind == SEQ_SPLIT ? 3 : 2);
}

/*
 * Mutate @in into @out. Return: the new length (at least 1).
 */
static size_t fz_mutate(struct fz *f, const uint8_t *in, size_t n, uint8_t *out,
			struct seq_op *op)
{
	static uint8_t tmp[FZ_MAX_INPUT];
	struct fz_span sp[FZ_MAX_SPANS];
	unsigned int nsp, rounds = 1 + fz_below(f, 3), r, k;
	size_t len = n, m;

	memcpy(out, in, n);
	if (!len)
		out[len++] = 0;
	for (r = 0; r < rounds; r++) {
		unsigned int what = fz_below(f, 15);
		unsigned int a, b;

		nsp = fz_spans(out, len, sp, op);
		if (!nsp && what != 0)
			what = 0;
		a = fz_below(f, nsp);
		b = fz_below(f, nsp);
		memcpy(tmp, out, len);
		switch (what) {
		case 0: /* insert a new op */
		case 1: {
			size_t at =
				nsp ? (fz_below(f, 2) ? sp[a].at
						      : sp[a].at + sp[a].len)
				    : len;

			if (nsp >= SEQ_MAX_OPS)
				break;
			m = fz_gen_op(f, out + at, FZ_MAX_INPUT - len, op);
			memcpy(out + at + m, tmp + at, len - at);
			len += m;
			break;
		}
		case 2: /* delete */
			if (nsp < 2)
				break;
			memcpy(out + sp[a].at, tmp + sp[a].at + sp[a].len,
			       len - sp[a].at - sp[a].len);
			len -= sp[a].len;
			break;
		case 3: /* duplicate */
			if (nsp >= SEQ_MAX_OPS ||
			    len + sp[a].len > FZ_MAX_INPUT)
				break;
			memcpy(out + sp[a].at + sp[a].len, tmp + sp[a].at,
			       len - sp[a].at);
			len += sp[a].len;
			break;
		case 4: { /* swap two ops */
			size_t lo, hi;

			if (a == b)
				break;
			if (a > b) {
				unsigned int t = a;

				a = b;
				b = t;
			}
			lo = sp[a].at;
			hi = sp[b].at;
			m = lo;
			memcpy(out + m, tmp + hi, sp[b].len);
			m += sp[b].len;
			memcpy(out + m, tmp + lo + sp[a].len,
			       hi - lo - sp[a].len);
			m += hi - lo - sp[a].len;
			memcpy(out + m, tmp + lo, sp[a].len);
			break;
		}
		case 5: /* the request code */
			if (sp[a].kind == SEQ_MSG || sp[a].kind == SEQ_SPLIT)
				out[fz_flags_at(&sp[a]) - 1] = fz_code(f);
			break;
		case 6: { /* flag bits */
			static const uint8_t bits[] = { 0x01, 0x01, 0x40, 0x80,
							0x08 | 0x20 };

			if (sp[a].kind == SEQ_MSG || sp[a].kind == SEQ_SPLIT)
				out[fz_flags_at(&sp[a])] ^=
					bits[fz_below(f, ARRAY_SIZE(bits))];
			break;
		}
		case 7:	  /* a size lie */
		case 8: { /* fds: count and kind */
			static const int deltas[] = { -8, -4, -1, 1, 4, 8, 64 };
			struct seq_in cur = { out + sp[a].at, len - sp[a].at };
			uint8_t fl;
			uint32_t size;
			int fdsb = -1;

			if (sp[a].kind != SEQ_MSG && sp[a].kind != SEQ_SPLIT)
				break;
			if (!seq_next(&cur, out + sp[a].at, op, 0))
				break;
			fl = out[fz_flags_at(&sp[a])];
			if (what == 7 && (fl & 0x04))
				fdsb = out[fz_flags_at(&sp[a]) + 1 +
					   (fl & 0x02 ? 2 : 0)];
			fl &= (uint8_t)~0x06;
			size = op->m.hdr.size;
			if (what == 7) {
				if (fz_below(f, 8) == 0)
					size = VHOST_USER_PAYLOAD_MAX + 1;
				else
					size = (uint32_t)((int)size +
							  deltas[fz_below(
								  f,
								  ARRAY_SIZE(
									  deltas))]);
				if (size > 0xffff)
					size = 0;
			} else {
				unsigned int cnt = fz_below(f, 4) == 0
							   ? 9
							   : fz_below(f, 4);

				fdsb = (int)(cnt | fz_below(f, 16) << 4);
			}
			m = fz_encode_msg(op, out[sp[a].at], fl, size, fdsb,
					  out + sp[a].at,
					  FZ_MAX_INPUT - sp[a].at);
			if (!m || len - sp[a].len + m > FZ_MAX_INPUT) {
				memcpy(out, tmp, len);
				break;
			}
			memcpy(out + sp[a].at + m, tmp + sp[a].at + sp[a].len,
			       len - sp[a].at - sp[a].len);
			len = len - sp[a].len + m;
			break;
		}
		case 9: /* bit flip */
			if (sp[a].len > 1)
				out[sp[a].at + 1 +
				    fz_below(f, (unsigned int)sp[a].len - 1)] ^=
					(uint8_t)(1u << fz_below(f, 8));
			break;
		case 10:
		case 11: { /* an interesting value in the payload */
			uint64_t val = fz_interesting[fz_below(
				f, ARRAY_SIZE(fz_interesting))];
			size_t w = (size_t)1 << fz_below(f, 4), at;

			if (sp[a].len < 4 + w)
				break;
			at = sp[a].at + 4 +
			     fz_below(f, (unsigned int)(sp[a].len - 3 - w));
			memcpy(out + at, &val, w);
			break;
		}
		case 12: { /* splice an op from another input */
			const struct fz_input *o = &f->corpus[fz_below(
				f, (unsigned int)f->ncorpus)];
			struct fz_span osp[FZ_MAX_SPANS];
			unsigned int on = fz_spans(o->p, o->n, osp, op), c;
			size_t at = nsp ? sp[a].at : len;

			if (!on || nsp >= SEQ_MAX_OPS)
				break;
			c = fz_below(f, on);
			if (len + osp[c].len > FZ_MAX_INPUT)
				break;
			memcpy(out + at, o->p + osp[c].at, osp[c].len);
			memcpy(out + at + osp[c].len, tmp + at, len - at);
			len += osp[c].len;
			break;
		}
		case 13: /* cut the tail */
			if (nsp > 1)
				len = sp[1 + fz_below(f, nsp - 1)].at;
			break;
		case 14: /* a ring scenario after a random op (or at the end) */
			if (nsp + 6 > SEQ_MAX_OPS || len + 160 > FZ_MAX_INPUT)
				break;
			m = nsp && fz_below(f, 2) ? sp[a].at + sp[a].len : len;
			k = (unsigned int)fz_scenario(f, out + m);
			memcpy(out + m + k, tmp + m, len - m);
			len += k;
			break;
		}
		if (!len)
			out[len++] = 0;
	}
	return len;
}

/* ---- corpus ---------------------------------------------------------------- */

static int fz_corpus_add(struct fz *f, const uint8_t *p, size_t n)
{
	struct fz_input *c;

	if (f->ncorpus >= FZ_CORPUS_MAX)
		return 0;
	c = &f->corpus[f->ncorpus];
	c->p = malloc(n ? n : 1);
	if (!c->p)
		return -ENOMEM;
	memcpy(c->p, p, n);
	c->n = n;
	f->ncorpus++;
	return 1;
}

static int fz_name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Seeds: every regular file of @dir, in name order. */
static int fz_load_seeds(struct fz *f, const char *dir)
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
		if (got > 0 && fz_corpus_add(f, buf, (size_t)got) < 0) {
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

/* Append a MSG op with an explicit payload to @p; Return: the new length. */
static size_t fz_seed_msg(uint8_t *p, size_t n, uint8_t code, const void *pl,
			  uint16_t size, bool fd)
{
	p[n++] = 0;
	p[n++] = code;
	p[n++] = (uint8_t)(0x02 | (fd ? 0x04 : 0));
	memcpy(p + n, &size, 2);
	n += 2;
	if (fd)
		p[n++] = 0x01 | (code == VHOST_USER_SET_MEM_TABLE
					 ? SEQ_FDK_GUEST << 4
					 : SEQ_FDK_EVENTFD << 4);
	if (size)
		memcpy(p + n, pl, size);
	return n + size;
}

/* The handshake up to SET_PROTOCOL_FEATURES(@proto); Return: the length. */
static size_t fz_seed_proto(uint8_t *p, uint64_t proto)
{
	size_t n = 0;

	p[n++] = 0;
	n = fz_seed_msg(p, n, VHOST_USER_GET_FEATURES, NULL, 0, false);
	n = fz_seed_msg(p, n, VHOST_USER_GET_PROTOCOL_FEATURES, NULL, 0, false);
	return fz_seed_msg(p, n, VHOST_USER_SET_PROTOCOL_FEATURES, &proto, 8,
			   false);
}

#define FZ_PF(x) (UINT64_C(1) << VHOST_USER_PROTOCOL_F_##x)

/*
 * Built-in seeds past the handshake (a correct back-end passes each):
 * - REPLY_ACK negotiated, then a second SET_PROTOCOL_FEATURES with
 *   need_reply: the set is incoherent (INBAND_NOTIFICATIONS without
 *   BACKEND_REQ), so it must fail, and with REPLY_ACK in force its
 *   answer is observable: a hang-up or a non-zero ack, never 0 (the
 *   "refused-request-acked" oracle; vuc-ref-vhost's
 *   inband-without-reply-ack acks 0);
 * - INFLIGHT_SHMFD, then SET_INFLIGHT_FD for one queue of size 1 in a
 *   mapping of 16 KiB: room for up to 256 queues, so that a num_queues
 *   the device does not have (an interesting value mutated in) passes
 *   the size checks and reaches the queue count check (the crash oracle;
 *   inflight-numq-unchecked walks its vrings by that count).
 */
static int fz_proto_seeds(struct fz *f)
{
	struct vhost_user_inflight in = {
		.mmap_size = 0x4000,
		.num_queues = 1,
		.queue_size = 1,
	};
	uint8_t p[256];
	uint64_t u64;
	size_t n;
	int ret;

	n = fz_seed_proto(p, FZ_PF(REPLY_ACK));
	u64 = FZ_PF(REPLY_ACK) | FZ_PF(INBAND_NOTIFICATIONS);
	n = fz_seed_msg(p, n, VHOST_USER_SET_PROTOCOL_FEATURES, &u64, 8, false);
	p[n - 8 - 2 - 1] |= 0x01; /* need_reply */
	ret = fz_corpus_add(f, p, n);
	if (ret < 0)
		return ret;

	n = fz_seed_proto(p, FZ_PF(REPLY_ACK) | FZ_PF(INFLIGHT_SHMFD));
	n = fz_seed_msg(p, n, VHOST_USER_SET_INFLIGHT_FD, &in, sizeof(in),
			false);
	p[n - sizeof(in) - 2 - 1] |= 0x01;
	ret = fz_corpus_add(f, p, n);
	return ret < 0 ? ret : 0;
}

/*
 * Built-in seeds: a ring set up for the data path (vring 0, or 0 and 1),
 * laid out where the conformance traces put theirs (desc 0x0, avail
 * 0x400, used 0x484; vring 1: 0x6d0, 0xad0, 0xb54), the guest memory at
 * gpa 0 mapped at user address 0x7f0000000000. The ring scenario mutation
 * (fz_scenario) fills in descriptors and kicks. Then the ring model's
 * sessions (seqmodel_seed(): a request processed, published and not
 * kicked, a ring stopped and published again, an RX ring disabled, a
 * read-only config write, a looping chain, a blk request past the end,
 * SET_INFLIGHT_FD with too many queues) for the device, or both devices
 * when it is not known.
 */
static int fz_builtin_seeds(struct fz *f)
{
	static uint8_t ms[1024];
	const char *name;
	unsigned int d, k;
	int len;

	static const uint64_t base = UINT64_C(0x7f0000000000);
	static const uint16_t at[2][3] = { { 0x0, 0x400, 0x484 },
					   { 0x6d0, 0xad0, 0xb54 } };
	uint8_t p[512], pl[48];
	unsigned int q, nq;
	uint64_t u64;
	size_t n;
	int ret;

	for (nq = 1; nq <= 2; nq++) {
		n = 0;
		p[n++] = 0;
		n = fz_seed_msg(p, n, VHOST_USER_GET_FEATURES, NULL, 0, false);
		n = fz_seed_msg(p, n, VHOST_USER_SET_OWNER, NULL, 0, false);
		u64 = UINT64_C(1) << 32; /* VIRTIO_F_VERSION_1 */
		n = fz_seed_msg(p, n, VHOST_USER_SET_FEATURES, &u64, 8, false);
		memset(pl, 0, sizeof(pl));
		pl[0] = 1; /* nregions */
		u64 = SEQ_GUEST_SIZE;
		memcpy(pl + 16, &u64, 8);  /* memory_size */
		memcpy(pl + 24, &base, 8); /* userspace_addr */
		n = fz_seed_msg(p, n, VHOST_USER_SET_MEM_TABLE, pl, 40, true);
		for (q = 0; q < nq; q++) {
			struct vhost_user_vring_addr va = {
				.index = q,
				.desc = base + at[q][0],
				.used = base + at[q][2],
				.avail = base + at[q][1],
			};
			uint32_t st[2] = { q, 64 };

			n = fz_seed_msg(p, n, VHOST_USER_SET_VRING_NUM, st, 8,
					false);
			st[1] = 0;
			n = fz_seed_msg(p, n, VHOST_USER_SET_VRING_BASE, st, 8,
					false);
			n = fz_seed_msg(p, n, VHOST_USER_SET_VRING_ADDR, &va,
					sizeof(va), false);
			u64 = q;
			n = fz_seed_msg(p, n, VHOST_USER_SET_VRING_CALL, &u64,
					8, true);
			n = fz_seed_msg(p, n, VHOST_USER_SET_VRING_KICK, &u64,
					8, true);
			st[1] = 1;
			n = fz_seed_msg(p, n, VHOST_USER_SET_VRING_ENABLE, st,
					8, false);
		}
		ret = fz_corpus_add(f, p, n);
		if (ret < 0)
			return ret;
	}
	for (d = SEQMODEL_DEV_NET; d <= SEQMODEL_DEV_BLK; d++) {
		if (f->conf->device && d != f->conf->device)
			continue;
		for (k = 0; k < SEQMODEL_SEED_COUNT; k++) {
			len = seqmodel_seed((enum seqmodel_seed_kind)k,
					    (enum seqmodel_dev)d, ms,
					    sizeof(ms), &name);
			if (len <= 0)
				continue;
			ret = fz_corpus_add(f, ms, (size_t)len);
			if (ret < 0)
				return ret;
		}
	}
	return fz_proto_seeds(f);
}

/* A built-in seed for when no corpus is found: the handshake. */
static int fz_default_seed(struct fz *f)
{
	static const uint8_t seed[] = {
		0x00, /* setup */
		0x00,
		VHOST_USER_GET_FEATURES,
		0x00,
		0x00,
		VHOST_USER_GET_PROTOCOL_FEATURES,
		0x00,
		0x00,
		VHOST_USER_SET_OWNER,
		0x01,
		0x00,
		VHOST_USER_GET_QUEUE_NUM,
		0x00,
		0x00,
		VHOST_USER_SET_VRING_NUM,
		0x01,
		0,
		0,
		0,
		0,
		0,
		1,
		0,
		0,
	};

	return fz_corpus_add(f, seed, sizeof(seed));
}

/* ---- findings ---------------------------------------------------------------- */

static bool fz_known(struct fz *f, const char *sig)
{
	unsigned int i;

	for (i = 0; i < f->nfound; i++)
		if (!strcmp(f->found[i], sig))
			return true;
	return false;
}

/* Run @in again; Return: true when it gives the finding @sig. */
static bool fz_again(struct fz *f, const uint8_t *in, size_t n, const char *sig,
		     bool fd_check)
{
	struct fz_verdict v;
	bool nc;

	if (fz_session(f, in, n, &v, fd_check, &nc) < 0)
		return false;
	return v.kind && !strcmp(v.sig, sig);
}

/*
 * Minimise @in (in place): ddmin over the ops, then zero bytes, each
 * candidate run against the daemon. Return: the new length.
 */
static size_t fz_minimise(struct fz *f, uint8_t *in, size_t n, const char *sig,
			  bool fd_check, unsigned int *tries)
{
	static uint8_t cand[FZ_MAX_INPUT];
	struct fz_span sp[FZ_MAX_SPANS];
	struct seq_op *op = malloc(sizeof(*op));
	int64_t until = chan_deadline(f->conf->minimize_ms);
	unsigned int nsp, chunk, i, j;
	size_t k;

	if (!op)
		return n;
	nsp = fz_spans(in, n, sp, op);
	/* ops past SEQ_MAX_OPS never run */
	if (nsp > SEQ_MAX_OPS) {
		n = sp[SEQ_MAX_OPS].at;
		nsp = SEQ_MAX_OPS;
	}
	for (chunk = nsp / 2 ? nsp / 2 : 1; chunk >= 1 && !fz_stop;) {
		bool cut = false;

		for (i = 0; i + chunk <= nsp && chunk <= nsp && !fz_stop &&
			    chan_now() < until;) {
			size_t from = sp[i].at, to = sp[i + chunk - 1].at +
						     sp[i + chunk - 1].len;

			memcpy(cand, in, from);
			memcpy(cand + from, in + to, n - to);
			(*tries)++;
			if (fz_again(f, cand, n - (to - from), sig, fd_check)) {
				n -= to - from;
				memcpy(in, cand, n);
				nsp = fz_spans(in, n, sp, op);
				cut = true;
			} else {
				i++;
			}
		}
		if (chan_now() >= until)
			break;
		if (!cut) {
			if (chunk == 1)
				break;
			chunk /= 2;
		}
	}
	/* zero what can be zeroed, a field at a time (4, then 1 bytes) */
	for (j = 4; j >= 1 && !fz_stop; j -= 3) {
		for (k = 1; k + j <= n && !fz_stop && chan_now() < until;
		     k += j) {
			size_t z;
			bool nonzero = false;

			for (z = 0; z < j; z++)
				nonzero |= in[k + z] != 0;
			if (!nonzero)
				continue;
			memcpy(cand, in, n);
			memset(cand + k, 0, j);
			(*tries)++;
			if (fz_again(f, cand, n, sig, fd_check))
				memcpy(in, cand, n);
		}
	}
	free(op);
	return n;
}

/* Replays that confirm a hang: one late answer in three is a slow machine. */
#define FZ_CONFIRM_RUNS 2

bool fz_hang_confirmed(const char *dir, const uint8_t *in, size_t n,
		       const struct fz_verdict *v, int timeout_ms,
		       bool (*again)(void *ctx, const uint8_t *in, size_t n,
				     const char *sig),
		       void *ctx)
{
	char path[4096];
	unsigned int i;
	int ret;

	if (strcmp(v->kind, FZ_KIND_HANG))
		return true;
	for (i = 0; i < FZ_CONFIRM_RUNS && !fz_stop; i++)
		if (again(ctx, in, n, v->sig))
			return true;
	ret = fz_mkdirs(dir) < 0 ? -errno : 0;
	snprintf(path, sizeof(path), "%s/unconfirmed-%s.bin", dir, v->sig);
	if (!ret)
		ret = outputs_write_file(path, in, n);
	if (fz_stop)
		fz_msg("%s not confirmed (interrupted): not a finding%s%s",
		       v->sig, ret ? "" : "; input: ", ret ? "" : path);
	else
		fz_msg("%s did not recur in %u replays: not a finding (a "
		       "loaded machine answers late; --timeout %d waits "
		       "longer)%s%s",
		       v->sig, i, timeout_ms * 4,
		       ret ? "" : "; input: ", ret ? "" : path);
	return false;
}

static bool fz_again_cb(void *ctx, const uint8_t *in, size_t n, const char *sig)
{
	return fz_again(ctx, in, n, sig, false);
}

static int fz_report_finding(struct fz *f, const uint8_t *in, size_t n,
			     const struct fz_verdict *v0)
{
	static uint8_t min[FZ_MAX_INPUT];
	struct fz_verdict v = *v0;
	struct fz_report r;
	char tail[2048];
	unsigned int tries = 0;
	size_t len = n;
	bool fd_check = !strcmp(v0->kind, FZ_KIND_FD_LEAK);
	bool nc;
	int ret;

	if (!fz_hang_confirmed(f->conf->out_dir, in, n, v0, f->conf->timeout_ms,
			       fz_again_cb, f)) {
		f->unconfirmed++;
		return 0;
	}
	if (!f->nfound) {
		f->first_s = (double)(chan_now() - f->t0) / 1e9;
		f->first_sessions = f->sessions;
	}
	if (f->nfound < FZ_FINDINGS_MAX) {
		f->found[f->nfound] = strdup(v0->sig);
		if (f->found[f->nfound])
			f->nfound++;
	}
	/* one line per finding, --quiet or not */
	fz_msg("%sfinding %s after %.1f s, %llu sessions: %s",
	       f->tty ? "\r\033[K" : "", v0->sig,
	       (double)(chan_now() - f->t0) / 1e9,
	       (unsigned long long)f->sessions, v0->what);
	memcpy(min, in, n);
	if (f->conf->minimize_ms > 0)
		len = fz_minimise(f, min, n, v0->sig, fd_check, &tries);
	/* once more, for the record and the daemon's stderr */
	if (f->t)
		target_mark(f->t);
	f->tail[0] = '\0';
	fz_session(f, min, len, &v, fd_check, &nc);
	if (!v.kind || strcmp(v.sig, v0->sig)) {
		/* flaky: keep the original input and verdict */
		memcpy(min, in, n);
		len = n;
		v = *v0;
		fz_session(f, min, len, &v, fd_check, &nc);
		v = *v0;
	}
	snprintf(tail, sizeof(tail), "%s", f->tail);
	if (f->t && !tail[0])
		target_stderr_tail(f->t, tail, sizeof(tail));
	r = (struct fz_report){ .input = min,
				.len = len,
				.v = &v,
				.rec = f->last_rec,
				.target_text = f->conf->target_text,
				.stderr_tail = tail,
				.tries = tries,
				.orig_len = n };
	ret = fz_write_finding(f->conf->out_dir, &r);
	if (ret < 0)
		fz_msg("cannot write the finding to %s: %s", f->conf->out_dir,
		       strerror(-ret));
	else if (!f->conf->quiet)
		fz_msg("  minimised %zu -> %zu bytes in %u runs: %s/%s.lua", n,
		       len, tries, f->conf->out_dir, v0->sig);
	return ret;
}

/* ---- progress ----------------------------------------------------------------- */

static void fz_progress(struct fz *f, bool final)
{
	struct fz_stats st = {
		.t0 = f->t0,
		.sessions = f->sessions,
		.msgs = f->msgs,
		.restarts = f->restarts,
		.hangups = f->hangups,
		.nfound = f->nfound,
		.unconfirmed = f->unconfirmed,
		.ncov = f->ncov,
		.ncorpus = f->ncorpus,
		.tty = f->tty,
		.quiet = f->conf->quiet,
	};

	fz_print_progress(&st, final);
}

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

/* ---- the loop ------------------------------------------------------------------- */

static int fz_loop(struct fz *f)
{
	static uint8_t cur[FZ_MAX_INPUT];
	const struct fz_conf *c = f->conf;
	int64_t end = c->duration_s > 0 ? f->t0 + (int64_t)(c->duration_s * 1e9)
					: INT64_MAX;
	struct seq_op *op = malloc(sizeof(*op));
	struct fz_verdict v;
	size_t len, next_seed = 0;
	unsigned int since_check = 0;
	bool nc;
	int ret = 0;

	if (!op)
		return -ENOMEM;
	while (!fz_stop && chan_now() < end &&
	       (!c->runs || f->sessions < c->runs) &&
	       (!c->max_findings || f->nfound < c->max_findings)) {
		const struct fz_input *parent;

		if (next_seed < f->nseeds) {
			parent = &f->corpus[next_seed++];
			len = parent->n;
			memcpy(cur, parent->p, len);
		} else {
			/* the seeds (whole conformance sessions) a quarter of
			 * the time, the built-in ring set-ups an eighth: what
			 * the corpus gains is mostly shallow */
			unsigned int r = fz_below(f, 8);

			if (r == 0)
				parent = &f->corpus[f->builtin +
						    fz_below(f, f->nbuiltin)];
			else
				parent = &f->corpus[fz_below(
					f, (unsigned int)(r < 3 ? f->nseeds
								: f->ncorpus))];
			len = fz_mutate(f, parent->p, parent->n, cur, op);
		}
		/* the recent inputs, for an fd leak seen later */
		f->window[f->window_at].n = len;
		memcpy(f->window[f->window_at].p, cur, len);
		f->window_at = (f->window_at + 1) % ARRAY_SIZE(f->window);
		if (f->nwindow < ARRAY_SIZE(f->window))
			f->nwindow++;

		ret = fz_session(f, cur, len, &v, false, &nc);
		if (ret < 0)
			break;
		if (nc && next_seed >= f->nseeds)
			fz_corpus_add(f, cur, len);
		if (v.kind && !fz_known(f, v.sig))
			fz_report_finding(f, cur, len, &v);

		/* fds (and quiet sanitizer reports), every so often */
		if (f->reuse && f->t && ++since_check >= c->fd_every) {
			struct target_status st;
			int n;

			since_check = 0;
			close_fd(&f->conn);
			n = fz_settled_fds(f, f->fd_base);
			if (n >= 0 && (f->fd_base < 0 || n < f->fd_base))
				f->fd_base = n;
			if (n > f->fd_base) {
				/* which of the recent sessions? */
				unsigned int i;

				for (i = 0; i < f->nwindow && !fz_stop; i++) {
					struct fz_input *w =
						&f->window[(f->window_at +
							    ARRAY_SIZE(
								    f->window) -
							    f->nwindow + i) %
							   ARRAY_SIZE(
								   f->window)];

					fz_session(f, w->p, w->n, &v, true,
						   &nc);
					if (v.kind && !fz_known(f, v.sig)) {
						memcpy(cur, w->p, w->n);
						fz_report_finding(f, cur, w->n,
								  &v);
						break;
					}
				}
				f->fd_base = -1; /* measure again */
				f->nwindow = 0;
			}
			target_sample(f->t, &st);
			if (st.sanitizer) {
				memset(&v, 0, sizeof(v));
				fz_judge_exit(f, &v);
				if (v.kind && !fz_known(f, v.sig)) {
					memcpy(cur, f->window[0].p,
					       f->window[0].n);
					fz_report_finding(f, cur,
							  f->window[0].n, &v);
				}
			}
			if (f->t)
				target_mark(f->t);
		}
		if (chan_now() - f->last_progress >
		    (f->tty ? 500000000LL : 10000000000LL)) {
			f->last_progress = chan_now();
			fz_progress(f, false);
		}
	}
	free(op);
	return ret;
}

/* ---- options -------------------------------------------------------------------- */

static const char fz_usage[] =
	"Usage: vu-conform fuzz (--target 'CMD ARGS' | --target-file FILE) "
	"[OPTIONS]\n"
	"\n"
	"Black-box fuzzing of a vhost-user back-end (or a vfio-user server) "
	"over its\n"
	"socket: sessions of messages with fds (the format of "
	"fuzz/vhost_backend.c,\n"
	"or fuzz/vfio_server.c), mutated from the conformance traces. "
	"Findings\n"
	"(crash, sanitizer report, hang, fd leak, a wire rule broken) are "
	"minimised\n"
	"and written to the output directory as SIG.bin (input), SIG.txt "
	"(decoded)\n"
	"and SIG.lua (a reproducer: vu-conform run DIR/SIG.lua --target "
	"...).\n"
	"A hang counts only if its input hangs again in one of two replays; "
	"one that\n"
	"does not recur (a loaded machine) is kept as "
	"DIR/unconfirmed-SIG.bin.\n"
	"\n"
	"  --target 'CMD ARGS'  launch this back-end ({socket}, {fd}, {dir} "
	"as\n"
	"                       for a run; without {socket}/{fd}, "
	"--socket-path=\n"
	"                       {socket} is appended)\n"
	"  --target-file FILE   a target description (targets/*.target)\n"
	"  --reuse              launch once, a new connection per session "
	"(for\n"
	"                       daemons that survive a disconnect, e.g. "
	"vuc-ref-vhost\n"
	"                       --reconnect); default: a process per "
	"session\n"
	"  --protocol P         vhost-user (default) or vfio-user (sessions "
	"of\n"
	"                       commands, the format of fuzz/vfio_server.c; "
	"seeds\n"
	"                       from corpus/vfio_server)\n"
	"  --device NAME        net or blk: the device-specific oracles "
	"(RX while\n"
	"                       disabled, read-only config); default: the "
	"target\n"
	"                       file's device, or the daemon's own --device "
	"NAME\n"
	"  --duration S         stop after S seconds (default 60; 0: no "
	"limit)\n"
	"  --runs N             stop after N sessions (default: no limit)\n"
	"  --seed N             random seed (default: from the clock; "
	"printed)\n"
	"  --out DIR            where findings go (default "
	"./vu-conform-fuzz)\n"
	"  --corpus DIR         seed inputs (default: the source tree's\n"
	"                       corpus/vhost_backend or vfio_server, if it "
	"is there)\n"
	"  --timeout MS         deadline of one reply (default 1000)\n"
	"  --fd-every N         reuse: count the daemon's fds every N "
	"sessions\n"
	"                       (default 64)\n"
	"  --max-findings N     stop after N distinct findings (default: no "
	"limit)\n"
	"  --minimize-ms MS     time to minimise one finding (default "
	"20000; 0: off)\n"
	"  --quiet              no progress line\n"
	"  --help\n"
	"\n"
	"Exit status: 0 no finding, 1 findings, 2 setup error. SIGINT stops "
	"cleanly.\n";

enum {
	FO_TARGET = 256,
	FO_TARGET_FILE,
	FO_REUSE,
	FO_PROTOCOL,
	FO_DEVICE,
	FO_DURATION,
	FO_RUNS,
	FO_SEED,
	FO_OUT,
	FO_CORPUS,
	FO_TIMEOUT,
	FO_FD_EVERY,
	FO_MAX_FINDINGS,
	FO_MINIMIZE_MS,
	FO_QUIET,
	FO_HELP,
};

static const struct option fz_options[] = {
	{ "target", required_argument, NULL, FO_TARGET },
	{ "target-file", required_argument, NULL, FO_TARGET_FILE },
	{ "reuse", no_argument, NULL, FO_REUSE },
	{ "protocol", required_argument, NULL, FO_PROTOCOL },
	{ "device", required_argument, NULL, FO_DEVICE },
	{ "duration", required_argument, NULL, FO_DURATION },
	{ "runs", required_argument, NULL, FO_RUNS },
	{ "seed", required_argument, NULL, FO_SEED },
	{ "out", required_argument, NULL, FO_OUT },
	{ "corpus", required_argument, NULL, FO_CORPUS },
	{ "timeout", required_argument, NULL, FO_TIMEOUT },
	{ "fd-every", required_argument, NULL, FO_FD_EVERY },
	{ "max-findings", required_argument, NULL, FO_MAX_FINDINGS },
	{ "minimize-ms", required_argument, NULL, FO_MINIMIZE_MS },
	{ "quiet", no_argument, NULL, FO_QUIET },
	{ "help", no_argument, NULL, FO_HELP },
	{ NULL, 0, NULL, 0 },
};

static int fz_num(const char *opt, const char *s, unsigned long long max,
		  unsigned long long *out)
{
	char *end;

	errno = 0;
	*out = strtoull(s, &end, 0);
	if (errno || end == s || *end || *out > max || s[0] == '-') {
		fz_msg("%s: not a number up to %llu: %s", opt, max, s);
		return -EINVAL;
	}
	return 0;
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

/* The directory of the running program, for {bindir}. */
static void fz_bindir(char *buf, size_t cap)
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

static char *fz_join(char **argv)
{
	size_t len = 1, i;
	char *s, *q;

	for (i = 0; argv[i]; i++) {
		q = tdesc_quote(argv[i]);
		if (!q)
			return NULL;
		len += strlen(q) + 1;
		free(q);
	}
	s = calloc(1, len);
	if (!s)
		return NULL;
	for (i = 0; argv[i]; i++) {
		q = tdesc_quote(argv[i]);
		if (!q) {
			free(s);
			return NULL;
		}
		if (i)
			strcat(s, " ");
		strcat(s, q);
		free(q);
	}
	return s;
}

/*
 * The device type for the device-specific oracles when --device is not
 * given: the target file's, else the daemon's own "--device NAME" option
 * (vuc-ref-vhost's) if its command line has one; else unknown.
 */
static enum seqmodel_dev fz_device_of(const char *desc_device, char **argv)
{
	unsigned int i;

	if (desc_device)
		return seqmodel_dev_parse(desc_device);
	for (i = 0; argv && argv[i] && argv[i + 1]; i++)
		if (!strcmp(argv[i], "--device"))
			return seqmodel_dev_parse(argv[i + 1]);
	return SEQMODEL_DEV_UNKNOWN;
}

int fuzz_main(int argc, char **argv, const char *prog)
{
	struct fz_conf c;
	struct tdesc desc;
	struct fz *f = NULL;
	struct sigaction sa, old_int, old_term, old_pipe;
	const char *target = NULL, *target_file = NULL, *why = NULL;
	char **target_argv = NULL, bindir[PATH_MAX], *text = NULL;
	char corpus_default[PATH_MAX];
	unsigned long long u;
	bool reuse = false, seed_set = false, vfio = false;
	int status = FZ_EXIT_SETUP, opt, ret;
	unsigned int i;

	(void)prog;
	memset(&c, 0, sizeof(c));
	memset(&desc, 0, sizeof(desc));
	c.out_dir = "vu-conform-fuzz";
	c.duration_s = 60;
	c.timeout_ms = 1000;
	c.fd_every = 64;
	c.minimize_ms = 20000;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "", fz_options, NULL)) != -1) {
		switch (opt) {
		case FO_TARGET:
			target = optarg;
			break;
		case FO_TARGET_FILE:
			target_file = optarg;
			break;
		case FO_REUSE:
			reuse = true;
			break;
		case FO_PROTOCOL:
			vfio = !strcmp(optarg, "vfio-user");
			if (!vfio && strcmp(optarg, "vhost-user")) {
				fz_msg("--protocol %s: vhost-user or vfio-user",
				       optarg);
				goto out;
			}
			break;
		case FO_DEVICE:
			c.device = seqmodel_dev_parse(optarg);
			break;
		case FO_DURATION:
			if (fz_num("--duration", optarg, 1000000, &u) < 0)
				goto out;
			c.duration_s = (double)u;
			break;
		case FO_RUNS:
			if (fz_num("--runs", optarg, UINT64_MAX, &u) < 0)
				goto out;
			c.runs = u;
			break;
		case FO_SEED:
			if (fz_num("--seed", optarg, UINT64_MAX, &u) < 0)
				goto out;
			c.seed = u;
			seed_set = true;
			break;
		case FO_OUT:
			c.out_dir = optarg;
			break;
		case FO_CORPUS:
			c.corpus_dir = optarg;
			break;
		case FO_TIMEOUT:
			if (fz_num("--timeout", optarg, 600000, &u) < 0 || !u)
				goto out;
			c.timeout_ms = (int)u;
			break;
		case FO_FD_EVERY:
			if (fz_num("--fd-every", optarg, 1000000, &u) < 0 || !u)
				goto out;
			c.fd_every = (unsigned int)u;
			break;
		case FO_MAX_FINDINGS:
			if (fz_num("--max-findings", optarg, 1000000, &u) < 0)
				goto out;
			c.max_findings = (unsigned int)u;
			break;
		case FO_MINIMIZE_MS:
			if (fz_num("--minimize-ms", optarg, 3600000, &u) < 0)
				goto out;
			c.minimize_ms = (int)u;
			break;
		case FO_QUIET:
			c.quiet = true;
			break;
		case FO_HELP:
			fputs(fz_usage, stdout);
			status = FZ_EXIT_CLEAN;
			goto out;
		default:
			fputs(fz_usage, stderr);
			goto out;
		}
	}
	if (optind != argc) {
		fz_msg("unexpected argument: %s", argv[optind]);
		goto out;
	}
	if (!target == !target_file) {
		fz_msg("give one of --target 'CMD ARGS' or --target-file FILE "
		       "(see vu-conform fuzz --help)");
		goto out;
	}
	fz_bindir(bindir, sizeof(bindir));
	c.target.connect_ms = 5000;
	c.target.stop_ms = 1000;
	if (target_file) {
		char err[1024];

		if (tdesc_load(&desc, target_file, bindir, err, sizeof(err)) <
		    0) {
			fz_msg("target description: %s", err);
			goto out;
		}
		if (desc.protocol && !strcmp(desc.protocol, "vfio-user")) {
			vfio = true;
		} else if (desc.protocol &&
			   strcmp(desc.protocol, "vhost-user")) {
			fz_msg("%s: protocol %s: vhost-user or vfio-user",
			       target_file, desc.protocol);
			goto out;
		}
		c.target.argv = desc.argv;
		c.target.env = desc.env;
		reuse |= desc.reuse;
		if (desc.connect_ms)
			c.target.connect_ms = desc.connect_ms;
		if (desc.stop_ms)
			c.target.stop_ms = desc.stop_ms;
	} else {
		ret = tdesc_split(target, &target_argv, &why);
		if (ret <= 0) {
			fz_msg("--target: %s",
			       ret < 0 ? (why ? why : "out of memory")
				       : "empty command");
			goto out;
		}
		c.target.argv = target_argv;
	}
	c.target.mode = reuse ? TARGET_REUSE : TARGET_SPAWN;
	if (c.device == SEQMODEL_DEV_UNKNOWN)
		c.device = fz_device_of(desc.device, c.target.argv);
	text = fz_join(c.target.argv);
	c.target_text = text ? text : "?";
	if (!c.corpus_dir) {
		struct stat stb;

		snprintf(corpus_default, sizeof(corpus_default), "%s/%s",
			 VUC_SOURCE_CORPUS_DIR,
			 vfio ? "vfio_server" : "vhost_backend");
		if (stat(corpus_default, &stb) == 0)
			c.corpus_dir = corpus_default;
	}
	if (!seed_set)
		c.seed = (uint64_t)time(NULL) ^ (uint64_t)getpid() << 32;
	if (vfio) {
		struct fz_vfio_conf vc = {
			.target = &c.target,
			.target_text = c.target_text,
			.out_dir = c.out_dir,
			.corpus_dir = c.corpus_dir,
			.duration_s = c.duration_s,
			.runs = c.runs,
			.seed = c.seed,
			.timeout_ms = c.timeout_ms,
			.fd_every = c.fd_every,
			.max_findings = c.max_findings,
			.minimize_ms = c.minimize_ms,
			.quiet = c.quiet,
			.reuse = reuse,
		};

		status = fuzz_vfio_main(&vc);
		goto out;
	}

	f = calloc(1, sizeof(*f));
	if (!f)
		goto out;
	f->conf = &c;
	f->conn = -1;
	f->guest_fd = -1;
	f->fd_base = -1;
	f->reuse = reuse;
	f->rng = c.seed ? c.seed : 1;
	f->tty = isatty(2) && !c.quiet;
	f->cov = calloc((size_t)1 << FZ_COV_BITS, sizeof(*f->cov));
	f->corpus = calloc(FZ_CORPUS_MAX, sizeof(*f->corpus));
	if (!f->cov || !f->corpus)
		goto out;
	for (i = 0; i < ARRAY_SIZE(f->window); i++) {
		f->window[i].p = malloc(FZ_MAX_INPUT);
		if (!f->window[i].p)
			goto out;
	}
	f->guest_fd = fdzoo_memfd(SEQ_GUEST_SIZE, 0);
	if (f->guest_fd < 0) {
		fz_msg("memfd: %s", strerror(-f->guest_fd));
		goto out;
	}
	/* read-only: the daemon writes the used rings, we read them */
	f->guest_map = mmap(NULL, SEQ_GUEST_SIZE, PROT_READ, MAP_SHARED,
			    f->guest_fd, 0);
	if (f->guest_map == MAP_FAILED)
		f->guest_map = NULL; /* no ring oracle */
	fz_codes_init();
	if (c.corpus_dir) {
		ret = fz_load_seeds(f, c.corpus_dir);
		if (ret < 0) {
			fz_msg("--corpus %s: %s", c.corpus_dir, strerror(-ret));
			goto out;
		}
	}
	f->builtin = (unsigned int)f->ncorpus;
	if (fz_builtin_seeds(f) < 0)
		goto out;
	f->nbuiltin = (unsigned int)(f->ncorpus - f->builtin);
	if (!f->ncorpus && fz_default_seed(f) < 0)
		goto out;
	f->nseeds = f->ncorpus;
	if (fz_mkdirs(c.out_dir) < 0) {
		fz_msg("--out %s: %s", c.out_dir, strerror(errno));
		goto out;
	}

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = fz_on_signal;
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, &old_pipe);

	if (!c.quiet)
		fz_msg("target %s (%s), seed %llu, %zu seed input%s%s%s, "
		       "findings to %s/",
		       c.target_text,
		       reuse ? "reused" : "a process per session",
		       (unsigned long long)c.seed, f->nseeds,
		       f->nseeds == 1 ? "" : "s", c.corpus_dir ? " from " : "",
		       c.corpus_dir ? c.corpus_dir : "", c.out_dir);
	f->t0 = f->last_progress = chan_now();
	ret = fz_connect(f);
	if (ret >= 0)
		ret = fz_loop(f);
	if (ret < 0) {
		if (ret != -ENOENT && ret != -EACCES && f->sessions)
			fz_msg("the target cannot be reached any more: %s",
			       strerror(-ret));
		status = FZ_EXIT_SETUP;
	} else {
		status = f->nfound ? FZ_EXIT_FINDINGS : FZ_EXIT_CLEAN;
	}
	close_fd(&f->conn);
	if (f->t)
		target_free(f->t);
	f->t = NULL;
	if (f->tty)
		fputc('\n', stderr);
	fz_progress(f, true);
	if (f->nfound)
		fz_msg("first finding after %.1f s, %llu sessions", f->first_s,
		       (unsigned long long)f->first_sessions);
	for (i = 0; i < f->nfound; i++)
		printf("finding: %s/%s.lua\n", c.out_dir, f->found[i]);
	if (fz_stop)
		fz_msg("interrupted");
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	sigaction(SIGPIPE, &old_pipe, NULL);

out:
	if (f) {
		if (f->guest_map)
			munmap(f->guest_map, SEQ_GUEST_SIZE);
		close_fd(&f->guest_fd);
		for (i = 0; i < f->nfound; i++)
			free(f->found[i]);
		if (f->corpus)
			for (i = 0; i < f->ncorpus; i++)
				free(f->corpus[i].p);
		for (i = 0; i < ARRAY_SIZE(f->window); i++)
			free(f->window[i].p);
		free(f->corpus);
		free(f->cov);
		free(f);
	}
	free(text);
	tdesc_argv_free(target_argv);
	tdesc_free(&desc);
	return status;
}
