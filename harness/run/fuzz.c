// SPDX-License-Identifier: MIT
/*
 * fuzz.c - `vu-conform fuzz`: black-box fuzzing of a vhost-user back-end
 * (fuzz.h). The options (for both protocols), the vhost-user session
 * runner and its oracles, the mutators, the seeds, minimisation; the loop,
 * the corpus and the daemon are fuzz_core.c's.
 */
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

#define FZ_MAX_OWN 96 /* fds a session keeps (ours and other ends) */
#define FZ_PENDING (SEQ_MAX_OPS + 1)

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
	struct fz_core core; /* the daemon, its connection, corpus, figures */
	bool fresh_conn; /* conn was probed already (reused after a hang-up) */
	int guest_fd;
	bool guest_dirty; /* guest memory was written or handed over */
	struct fz_sess s;
	struct fz_rec last_rec[SEQ_MAX_OPS];
	uint8_t *guest_map;    /* guest_fd mapped: the ring model reads it */
	struct seqmodel model; /* the session's rings and config */
};

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
	if (f->core.conn < 0)
		f->fresh_conn = false;
	return fz_core_connect(&f->core, f->conf);
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
		ret = frame_vhost_recv(f->core.conn, m, deadline, why, NULL);
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
		ret = chan_send(f->core.conn, c, 2, deadline);
	} else {
		ret = chan_send_buf(f->core.conn, buf, op->wire_len, fds, nfds,
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

	if (fz_cov_add(&f->core, fz_signature(&st.m, reps, nrep, s->hung)))
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
	ret = frame_vhost_send(f->core.conn, &m, FRAME_WHOLE, deadline);
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

/*
 * After a session that ended oddly (a hang-up, no answer): is the daemon
 * alive, dead (how), or stuck?
 */
static void fz_health(struct fz *f, struct fz_verdict *v)
{
	struct fz_verdict pv = { 0 };
	int ret;

	if (!f->core.t)
		return;
	close_fd(&f->core.conn);
	if (target_wait_exit(f->core.t, 0) == 1) {
		fz_core_judge_exit(&f->core, v);
		return;
	}
	if (f->conf->reuse) {
		/* a new connection: does it still answer? */
		ret = target_reconnect(f->core.t, &f->core.conn);
		if (ret >= 0 && fz_probe(f, &pv, false) == 0) {
			f->fresh_conn = true;
			return;
		}
		close_fd(&f->core.conn);
	}
	if (target_wait_exit(f->core.t, 1000) == 1) {
		fz_core_judge_exit(&f->core, v);
		return;
	}
	if (f->conf->reuse && !v->kind)
		fz_found(v, FZ_KIND_HANG, -1, "no-accept");
	if (f->conf->reuse || (v->kind && !strcmp(v->kind, FZ_KIND_HANG)))
		fz_core_restart(&f->core);
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
static int fz_session(void *ctx, const uint8_t *in, size_t n,
		      struct fz_verdict *v, bool fd_check, bool *new_cov)
{
	struct fz *f = ctx;
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
	if (fd_check && f->conf->reuse && f->core.t) {
		close_fd(&f->core.conn);
		before = fz_target_settled_fds(f->core.t, -1);
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
					f->core.conn, data, op->data_want, NULL,
					0, chan_deadline(f->conf->timeout_ms));
			shutdown(f->core.conn, SHUT_WR);
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
	f->core.st.msgs += s->msgs;

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
		f->core.st.hangups++;
	fz_close_session(s);
	memcpy(f->last_rec, s->rec, sizeof(s->rec));

	if (s->hung || (v->kind && !strcmp(v->kind, FZ_KIND_HANG)))
		fz_health(f, v);
	else
		close_fd(&f->core.conn);

	if (before >= 0 && f->core.t && !v->kind) {
		close_fd(&f->core.conn);
		after = fz_target_settled_fds(f->core.t, before);
		if (after > before)
			fz_found(v, FZ_KIND_FD_LEAK, -1, "%s", "");
		if (v->kind && !strcmp(v->kind, FZ_KIND_FD_LEAK))
			snprintf(v->what, sizeof(v->what),
				 "the daemon has %d fds open once the session "
				 "is over, %d before it: %d leaked",
				 after, before, after - before);
	}
	f->core.st.sessions++;
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
	if (fz_below(&f->core, 32) == 0)
		return (uint8_t)fz_rand(&f->core); /* unknown codes too */
	return fz_codes[fz_below(&f->core, fz_ncodes)];
}

static uint8_t fz_small_byte(struct fz *f)
{
	unsigned int r = fz_below(&f->core, 20);

	if (r < 12)
		return 0;
	if (r < 17)
		return (uint8_t)(1 + fz_below(&f->core, 4));
	return (uint8_t)fz_rand(&f->core);
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
	bool q1 = fz_below(&f->core, 4) == 0;
	unsigned int k = fz_below(&f->core, 4);
	uint16_t off, v16;
	uint64_t addr;
	uint32_t len32;
	size_t i = 0;

	out[i++] = 11;
	if (fz_below(&f->core, 2)) {
		/* struct vring_desc { addr u64, len u32, flags u16, next u16 } */
		off = (uint16_t)((q1 ? 0x6d0 : 0) + 16 * k);
		memcpy(out + i, &off, 2);
		i += 2;
		out[i++] = 16;
		addr = fz_below(&f->core, 8)
			       ? 0x1000 +
					 0x200 * (uint64_t)fz_below(&f->core, 8)
			       : fz_interesting[fz_below(
					 &f->core, ARRAY_SIZE(fz_interesting))];
		memcpy(out + i, &addr, 8);
		len32 = lens[fz_below(&f->core, ARRAY_SIZE(lens))];
		memcpy(out + i + 8, &len32, 4);
		v16 = (uint16_t)fz_below(&f->core,
					 8); /* NEXT 1, WRITE 2, INDIRECT 4 */
		memcpy(out + i + 12, &v16, 2);
		v16 = (uint16_t)(fz_below(&f->core, 3) ? k
						       : fz_below(&f->core, 4));
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
	v16 = (uint16_t)(1 + fz_below(&f->core, 4));
	memcpy(out + i + 2, &v16, 2);
	for (k = 0; k < 4; k++) {
		v16 = (uint16_t)fz_below(&f->core, 4);
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
	bool q1 = fz_below(&f->core, 2);
	uint16_t desc_at = q1 ? 0x6d0 : 0, avail_at = q1 ? 0xad0 : 0x400;
	unsigned int k = fz_below(&f->core, 4);
	size_t i = 0;

	/* half the time the ring model seeds' layout (seqmodel_seed(): 4
	 * entries, vring q at 0x1000 * (q + 1), avail at +0x40) */
	if (fz_below(&f->core, 2)) {
		desc_at = (uint16_t)(0x1000 * (1 + q1));
		avail_at = (uint16_t)(desc_at + 0x40);
	}

	memset(d, 0, sizeof(d));
	if (fz_below(&f->core, 2)) {
		/* a chain that never ends: next is itself */
		d[0] = (struct fz_desc){ 0x1000, 0x200,
					 (uint16_t)(1 | (fz_below(&f->core, 2)
							 << 1)),
					 (uint16_t)k };
		i += fz_put_guest(out + i, (uint16_t)(desc_at + 16 * k), d, 16);
		avail[2] = (uint16_t)k;
	} else {
		hdr.type = fz_below(&f->core, 2); /* VIRTIO_BLK_T_IN / OUT */
		hdr.reserved = 0;
		hdr.sector = fz_interesting[fz_below(
			&f->core, ARRAY_SIZE(fz_interesting))];
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
	out[i++] = (uint8_t)(fz_below(&f->core, 2) ? 1u + 2u * q1
						   : fz_below(&f->core, 8));
	return i;
}

/* A new op; Return: its length in @out. */
static size_t fz_gen_op(struct fz *f, uint8_t *out, size_t cap,
			struct seq_op *op)
{
	uint8_t tmp[160];
	struct seq_in cur;
	unsigned int r = fz_below(&f->core, 100), i;
	size_t len;

	memset(tmp, 0, sizeof(tmp));
	if (r >= 72 && r < 78 && cap >= 24)
		return fz_gen_ring(f, out);
	if (r < 72 || r >= 98) {
		bool split = r >= 98;

		i = 0;
		tmp[i++] = split ? 9 : (uint8_t)fz_below(&f->core, 9);
		if (split)
			tmp[i++] = (uint8_t)fz_rand(&f->core);
		tmp[i++] = fz_code(f);
		tmp[i++] = fz_below(&f->core, 10) < 7 ? 0x01 : 0x00;
		for (; i < sizeof(tmp); i++)
			tmp[i] = fz_small_byte(f);
	} else if (r < 86) {
		tmp[0] = 10;
		tmp[1] = (uint8_t)fz_below(&f->core, 8);
	} else if (r < 91) {
		tmp[0] = 13;
	} else if (r < 96) {
		tmp[0] = 15;
		tmp[1] = 0;
		tmp[2] = (uint8_t)fz_below(&f->core, 16);
		for (i = 3; i < sizeof(tmp); i++)
			tmp[i] = (uint8_t)fz_rand(&f->core);
	} else {
		tmp[0] = 14;
		tmp[1] = (uint8_t)fz_below(&f->core, 24);
		for (i = 2; i < sizeof(tmp); i++)
			tmp[i] = fz_below(&f->core, 2)
					 ? (uint8_t)fz_rand(&f->core)
					 : 0;
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
static size_t fz_mutate(void *ctx, const uint8_t *in, size_t n, uint8_t *out)
{
	static struct seq_op op_scratch;
	static uint8_t tmp[FZ_MAX_INPUT];
	struct fz *f = ctx;
	struct seq_op *op = &op_scratch;
	struct fz_span sp[FZ_MAX_SPANS];
	unsigned int nsp, rounds = 1 + fz_below(&f->core, 3), r, k;
	size_t len = n, m;

	memcpy(out, in, n);
	if (!len)
		out[len++] = 0;
	for (r = 0; r < rounds; r++) {
		unsigned int what = fz_below(&f->core, 15);
		unsigned int a, b;

		nsp = fz_spans(out, len, sp, op);
		if (!nsp && what != 0)
			what = 0;
		a = fz_below(&f->core, nsp);
		b = fz_below(&f->core, nsp);
		memcpy(tmp, out, len);
		switch (what) {
		case 0: /* insert a new op */
		case 1: {
			size_t at = nsp ? (fz_below(&f->core, 2)
						   ? sp[a].at
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
				out[fz_flags_at(&sp[a])] ^= bits[fz_below(
					&f->core, ARRAY_SIZE(bits))];
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
				if (fz_below(&f->core, 8) == 0)
					size = VHOST_USER_PAYLOAD_MAX + 1;
				else
					size = (uint32_t)((int)size +
							  deltas[fz_below(
								  &f->core,
								  ARRAY_SIZE(
									  deltas))]);
				if (size > 0xffff)
					size = 0;
			} else {
				unsigned int cnt =
					fz_below(&f->core, 4) == 0
						? 9
						: fz_below(&f->core, 4);

				fdsb = (int)(cnt | fz_below(&f->core, 16) << 4);
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
				    fz_below(&f->core,
					     (unsigned int)sp[a].len - 1)] ^=
					(uint8_t)(1u << fz_below(&f->core, 8));
			break;
		case 10:
		case 11: { /* an interesting value in the payload */
			uint64_t val = fz_interesting[fz_below(
				&f->core, ARRAY_SIZE(fz_interesting))];
			size_t w = (size_t)1 << fz_below(&f->core, 4), at;

			if (sp[a].len < 4 + w)
				break;
			at = sp[a].at + 4 +
			     fz_below(&f->core,
				      (unsigned int)(sp[a].len - 3 - w));
			memcpy(out + at, &val, w);
			break;
		}
		case 12: { /* splice an op from another input */
			const struct fz_input *o = &f->core.corpus[fz_below(
				&f->core, (unsigned int)f->core.st.ncorpus)];
			struct fz_span osp[FZ_MAX_SPANS];
			unsigned int on = fz_spans(o->p, o->n, osp, op), c;
			size_t at = nsp ? sp[a].at : len;

			if (!on || nsp >= SEQ_MAX_OPS)
				break;
			c = fz_below(&f->core, on);
			if (len + osp[c].len > FZ_MAX_INPUT)
				break;
			memcpy(out + at, o->p + osp[c].at, osp[c].len);
			memcpy(out + at + osp[c].len, tmp + at, len - at);
			len += osp[c].len;
			break;
		}
		case 13: /* cut the tail */
			if (nsp > 1)
				len = sp[1 + fz_below(&f->core, nsp - 1)].at;
			break;
		case 14: /* a ring scenario after a random op (or at the end) */
			if (nsp + 6 > SEQ_MAX_OPS || len + 160 > FZ_MAX_INPUT)
				break;
			m = nsp && fz_below(&f->core, 2) ? sp[a].at + sp[a].len
							 : len;
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
	ret = fz_corpus_add(&f->core, p, n);
	if (ret < 0)
		return ret;

	n = fz_seed_proto(p, FZ_PF(REPLY_ACK) | FZ_PF(INFLIGHT_SHMFD));
	n = fz_seed_msg(p, n, VHOST_USER_SET_INFLIGHT_FD, &in, sizeof(in),
			false);
	p[n - sizeof(in) - 2 - 1] |= 0x01;
	ret = fz_corpus_add(&f->core, p, n);
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
static int fz_builtin_seeds(void *ctx)
{
	struct fz *f = ctx;
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
		ret = fz_corpus_add(&f->core, p, n);
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
			ret = fz_corpus_add(&f->core, ms, (size_t)len);
			if (ret < 0)
				return ret;
		}
	}
	return fz_proto_seeds(f);
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

static void fz_report_finding(void *ctx, const uint8_t *in, size_t n,
			      const struct fz_verdict *v0)
{
	struct fz *f = ctx;
	static uint8_t min[FZ_MAX_INPUT];
	struct fz_verdict v = *v0;
	struct fz_report r;
	char tail[2048];
	unsigned int tries = 0;
	size_t len = n;
	bool fd_check = !strcmp(v0->kind, FZ_KIND_FD_LEAK);
	bool nc;
	int ret;

	memcpy(min, in, n);
	if (f->conf->minimize_ms > 0)
		len = fz_minimise(f, min, n, v0->sig, fd_check, &tries);
	/* once more, for the record and the daemon's stderr */
	if (f->core.t)
		target_mark(f->core.t);
	f->core.tail[0] = '\0';
	fz_session(f, min, len, &v, fd_check, &nc);
	if (!v.kind || strcmp(v.sig, v0->sig)) {
		/* flaky: keep the original input and verdict */
		memcpy(min, in, n);
		len = n;
		v = *v0;
		fz_session(f, min, len, &v, fd_check, &nc);
		v = *v0;
	}
	snprintf(tail, sizeof(tail), "%s", f->core.tail);
	if (f->core.t && !tail[0])
		target_stderr_tail(f->core.t, tail, sizeof(tail));
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
}

/* ---- the loop ------------------------------------------------------------------- */

static const struct fz_ops fz_vhost_ops = {
	.session = fz_session,
	.mutate = fz_mutate,
	.report = fz_report_finding,
};

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
	const char *target = NULL, *target_file = NULL, *why = NULL;
	char **target_argv = NULL, bindir[PATH_MAX], *text = NULL;
	char corpus_default[PATH_MAX];
	unsigned long long u;
	bool reuse = false, seed_set = false, vfio = false;
	int status = FZ_EXIT_SETUP, opt, ret;

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
	c.reuse = reuse;
	if (vfio) {
		status = fuzz_vfio_main(&c);
		goto out;
	}

	f = calloc(1, sizeof(*f));
	if (!f)
		goto out;
	f->conf = &c;
	f->guest_fd = -1;
	if (fz_core_init(&f->core, c.seed, c.quiet) < 0)
		goto out;
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
	if (fz_core_seeds(&f->core, &c, fz_builtin_seeds, f) < 0)
		goto out;

	fz_core_start(&f->core, &c, "", f->core.nseeds);
	ret = fz_connect(f);
	if (ret >= 0)
		ret = fz_core_loop(&f->core, &c, &fz_vhost_ops, f);
	status = fz_core_finish(&f->core, &c, ret);

out:
	if (f) {
		if (f->guest_map)
			munmap(f->guest_map, SEQ_GUEST_SIZE);
		close_fd(&f->guest_fd);
		fz_core_free(&f->core);
		free(f);
	}
	free(text);
	tdesc_argv_free(target_argv);
	tdesc_free(&desc);
	return status;
}
