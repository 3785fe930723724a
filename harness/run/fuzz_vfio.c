// SPDX-License-Identifier: MIT
/*
 * fuzz_vfio.c - `vu-conform fuzz --protocol vfio-user`: black-box fuzzing
 * of a vfio-user server over its socket. Sessions in the fe/vseq.h format
 * (the in-process vfio_server target's, extended with split sends, size
 * lies, raw bytes and fd tricks), the server's DMA requests served from
 * the session's own model of client memory, the wire oracles of vseq.c,
 * crashes, sanitizer reports, hangs and fd leaks through the target
 * watchdog, minimisation, and the finding files (fuzz_vfio_out.c); the
 * loop, the corpus and the daemon are fuzz_core.c's.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/util.h"
#include "fe/frame.h"
#include "fe/vseq.h"
#include "run/fuzz_int.h"
#include "run/target.h"
#include "transport/chan.h"
#include "transport/fdzoo.h"
#include "wire/vfio_user.h"

#define FV_MAX_OWN 64 /* fds a session keeps (ours and other ends) */
#define FV_WIRE_MAX (VFIO_USER_HDR_SIZE + VSEQ_MAX_PAYLOAD)
#define FV_DMA_MAX 0x100000u /* largest DMA_READ we answer with data */

struct fv_own {
	int fd;
	enum fdzoo_kind kind;
	bool other; /* the other end of something we sent */
};

/* What one session sent and what it knows. */
struct fv_sess {
	struct fv_own own[FV_MAX_OWN];
	unsigned int nown;
	struct vseq_model mo;
	uint8_t wire[VSEQ_MAX_OPS][FV_WIRE_MAX]; /* each command as sent */
	size_t wire_len[VSEQ_MAX_OPS];
	unsigned int nfds[VSEQ_MAX_OPS];
	bool no_reply[VSEQ_MAX_OPS];
	bool maybe[VSEQ_MAX_OPS]; /* a reply may come, need not */
	unsigned int nops;
	struct fz_vrec rec[VSEQ_MAX_OPS];
	uint64_t owed;	  /* body bytes a longer msg_size still wants */
	bool out_of_step; /* the server's framing is not ours any more */
	bool hung;
	unsigned int msgs;
	uint16_t watch_id;
};

struct fv {
	const struct fz_conf *c;
	struct fz_core core; /* the server, its connection, corpus, figures */
	struct vseq_device dev;
	bool fresh; /* minimising: a new process for every run */
	struct fv_sess s;
	struct fz_vrec last_rec[VSEQ_MAX_OPS];
	uint8_t *rx, *tx;
};

/* ---- random, coverage ------------------------------------------------- */

/* The signature of a command and what it got. */
static uint64_t fv_signature(const struct vfio_user_hdr *cmd,
			     const struct vfio_user_msg *rep, bool hung)
{
	uint64_t h = fz_hash(0x7f, cmd->command);

	h = fz_hash(h, cmd->flags & 0x3f);
	h = fz_hash(h, hung);
	if (rep) {
		h = fz_hash(h, rep->hdr.flags & 0x3f);
		h = fz_hash(h, rep->hdr.error);
		h = fz_hash(h, rep->payload_len == 0	? 0
			       : rep->payload_len < 32	? rep->payload_len
			       : rep->payload_len < 256 ? 32
							: 33);
		h = fz_hash(h, rep->nfds);
	}
	return h;
}

/* ---- the target ------------------------------------------------------- */

/* ---- findings --------------------------------------------------------- */

/* "DMA_MAP" for VFIO_USER_DMA_MAP (fz_found() makes it "dma-map"). */
static const char *fv_cmd_sig(uint16_t code)
{
	const char *n = vfio_user_command_name(code);

	if (!vfio_user_rule(code))
		return "unknown";
	return strncmp(n, "VFIO_USER_", 10) ? n : n + 10;
}

/* ---- fds ---------------------------------------------------------------- */

static void fv_keep(struct fv_sess *s, int fd, enum fdzoo_kind kind, bool other)
{
	if (s->nown < FV_MAX_OWN)
		s->own[s->nown++] = (struct fv_own){ fd, kind, other };
	else
		close(fd);
}

static int fv_make_fd(struct fv_sess *s, enum vseq_fdk k)
{
	enum fdzoo_kind kind;
	int fd, other = -1;
	size_t size;
	bool widow;

	kind = vseq_fdk_zoo(k, &size, &widow);
	if (s->nown + 2 > FV_MAX_OWN)
		return -1;
	fd = fdzoo_new(kind, size, &other);
	if (fd < 0)
		return -1;
	fv_keep(s, fd, kind, false);
	if (other >= 0) {
		if (widow)
			close(other);
		else
			fv_keep(s, other, FDZOO_OTHER, true);
	}
	return fd;
}

static void fv_close_session(struct fv_sess *s)
{
	unsigned int i;

	for (i = 0; i < s->nown; i++)
		close_fd(&s->own[i].fd);
	s->nown = 0;
}

/* ---- one session ---------------------------------------------------------- */

/* The command of op @i as a message (payload in s->wire). */
static void fv_cmd(const struct fv_sess *s, unsigned int i,
		   struct vfio_user_msg *m)
{
	vfio_user_msg_init(m);
	memcpy(&m->hdr, s->wire[i], VFIO_USER_HDR_SIZE);
	m->payload = s->wire[i] + VFIO_USER_HDR_SIZE;
	m->payload_len = s->wire_len[i] - VFIO_USER_HDR_SIZE;
	/* the fd count matters to the rules; the numbers do not */
	m->nfds = s->nfds[i];
}

static void fv_send_reply(struct fv *f, struct vfio_user_msg *r)
{
	if (frame_vfio_send(f->core.conn, r, FRAME_WHOLE,
			    chan_deadline(f->c->timeout_ms)) < 0)
		f->s.hung = true;
}

/* Serve a DMA_READ / DMA_WRITE of the server's, and judge it. */
static void fv_serve_dma(struct fv *f, const struct vfio_user_msg *m,
			 struct fz_verdict *v, int at)
{
	struct fv_sess *s = &f->s;
	struct vfio_user_dma_region_access a;
	struct vfio_user_msg r;
	const char *oracle, *why;
	int err;

	if (at >= 0 && at < VSEQ_MAX_OPS)
		s->rec[at].ndma++;
	if (vseq_judge_dma(&s->mo, m, &oracle, &why, &err) < 0 &&
	    fz_found(v, oracle, at, "%s",
		     strcmp(oracle, VSEQ_ORACLE_DMA_RO)
			     ? fv_cmd_sig(m->hdr.command)
			     : ""))
		snprintf(v->what, sizeof(v->what), "%s", why);
	if (!err)
		memcpy(&a, m->payload, sizeof(a)); /* well formed */
	if (err)
		vfio_user_build_error_reply(&r, f->tx, FV_WIRE_MAX, &m->hdr,
					    err);
	else if (m->hdr.command == VFIO_USER_DMA_WRITE)
		vfio_user_build_dma_write_reply(&r, f->tx, FV_WIRE_MAX, &m->hdr,
						a.addr, a.count, false);
	else if (a.count <= FV_DMA_MAX)
		/* zeros: the client's memory is ours to say */
		vfio_user_build_dma_read_reply(&r, f->tx, FRAME_VFIO_MAX,
					       &m->hdr, a.addr, NULL, a.count);
	else
		vfio_user_build_error_reply(&r, f->tx, FV_WIRE_MAX, &m->hdr,
					    EFAULT);
	fv_send_reply(f, &r);
}

/* The probe as sent (fv_probe()). */
static uint8_t fv_probe_buf[VFIO_USER_HDR_SIZE + 16];

/* The op a reply's msg_id names, or -1. */
static int fv_op_of(const struct fv_sess *s, uint16_t id)
{
	return id >= 1 && id <= s->nops ? id - 1 : -1;
}

/*
 * Read what the server sends until the reply to @want comes (@want: an op
 * index, VSEQ_MAX_OPS for the probe, -1 for none: until @deadline),
 * serving its DMA requests and judging every reply on the way.
 * Return: 1 the reply came (in @out, when given: header only), -ETIMEDOUT,
 * -ECONNRESET (a hang-up or garbage).
 */
static int fv_wait(struct fv *f, int want, int64_t deadline,
		   struct fz_verdict *v, struct vfio_user_msg *out)
{
	struct fv_sess *s = &f->s;
	struct vfio_user_msg m, cmd;
	const char *why = NULL, *oracle;
	int ret, i, at = want < VSEQ_MAX_OPS ? want : -1;

	for (;;) {
		why = NULL;
		ret = frame_vfio_recv(f->core.conn, &m, f->rx, FRAME_VFIO_MAX,
				      0, deadline, &why, NULL);
		if (ret == -ETIMEDOUT)
			return ret;
		if (ret < 0) {
			/* a frame that is not one: msg_size below 16 */
			if (ret == -EBADMSG && !s->out_of_step &&
			    fz_found(v, VSEQ_ORACLE_BAD_REPLY, at, "%s",
				     "framing"))
				snprintf(v->what, sizeof(v->what),
					 "the server sent something that is "
					 "not a message: %s",
					 why ? why : strerror(-ret));
			s->hung = true;
			return -ECONNRESET;
		}
		close_fds(m.fds, m.nfds);
		if ((m.hdr.flags & VFIO_USER_F_TYPE_MASK) ==
			    VFIO_USER_F_TYPE_COMMAND &&
		    (m.hdr.command == VFIO_USER_DMA_READ ||
		     m.hdr.command == VFIO_USER_DMA_WRITE)) {
			fv_serve_dma(f, &m, v, at);
			if (s->hung)
				return -ECONNRESET;
			continue;
		}
		if (want == VSEQ_MAX_OPS && m.hdr.msg_id == VSEQ_PROBE_ID) {
			vfio_user_msg_init(&cmd);
			memcpy(&cmd.hdr, fv_probe_buf, VFIO_USER_HDR_SIZE);
			cmd.payload = fv_probe_buf + VFIO_USER_HDR_SIZE;
			cmd.payload_len = 16;
			if (vseq_judge(&s->mo, &f->dev, &cmd, &m, &oracle,
				       &why) < 0 &&
			    fz_found(v, oracle, -1, "probe"))
				snprintf(v->what, sizeof(v->what), "%s", why);
			return 1;
		}
		i = fv_op_of(s, m.hdr.msg_id);
		if (i < 0 || (unsigned int)i >= s->nops) {
			if (!s->out_of_step &&
			    fz_found(v, VSEQ_ORACLE_UNSOLICITED, at, "%s", ""))
				snprintf(v->what, sizeof(v->what),
					 "a message with msg_id %u (command "
					 "%u, flags 0x%x): no command of ours "
					 "has that id",
					 m.hdr.msg_id, m.hdr.command,
					 m.hdr.flags);
			if (!s->out_of_step)
				s->watch_id = m.hdr.msg_id;
			continue;
		}
		s->rec[i].nrep++;
		fv_cmd(s, (unsigned int)i, &cmd);
		if (s->out_of_step)
			continue;
		if (s->rec[i].in_body) {
			if (fz_found(v, VSEQ_ORACLE_BODY_ANSWERED, i, "%s",
				     fv_cmd_sig(cmd.hdr.command))) {
				snprintf(
					v->what, sizeof(v->what),
					"%s id %u was answered, yet it was "
					"sent inside the body of an earlier "
					"message whose msg_size covers it",
					vfio_user_command_name(cmd.hdr.command),
					cmd.hdr.msg_id);
				s->watch_id = cmd.hdr.msg_id;
			}
			continue;
		}
		if (s->no_reply[i] || s->rec[i].nrep > 1) {
			/* "Each command message in Commands_ must be
			 * replied to with a reply message, unless the
			 * message sets the No_Reply bit." */
			if (fz_found(v, VSEQ_ORACLE_EXTRA_REPLY, i, "%s",
				     fv_cmd_sig(cmd.hdr.command))) {
				snprintf(
					v->what, sizeof(v->what),
					"%s id %u: %s",
					vfio_user_command_name(cmd.hdr.command),
					cmd.hdr.msg_id,
					s->no_reply[i]
						? "a reply to a command sent "
						  "with No_reply"
						: "a second reply");
				s->watch_id = cmd.hdr.msg_id;
			}
			continue;
		}
		if (s->maybe[i])
			continue;
		if (vseq_judge(&s->mo, &f->dev, &cmd, &m, &oracle, &why) < 0 &&
		    fz_found(v, oracle, i, "%s", fv_cmd_sig(cmd.hdr.command)))
			snprintf(v->what, sizeof(v->what), "op %d: %s", i + 1,
				 why);
		vseq_learn(&s->mo, &f->dev, &cmd, &m);
		fz_cov_add(&f->core, fv_signature(&cmd.hdr, &m, false));
		if (i == want) {
			if (out)
				*out = m;
			return 1;
		}
	}
}

/* Send op @i's bytes (and fds): whole, or in two chunks. */
static int fv_send_op(struct fv *f, const struct vseq_op *op, unsigned int i,
		      const int *fds, unsigned int nfds)
{
	struct fv_sess *s = &f->s;
	int64_t dl = chan_deadline(f->c->timeout_ms);
	size_t len = s->wire_len[i], cut;

	if (!(op->flags & VSEQ_F_SPLIT) || len < 2)
		return chan_send_buf(f->core.conn, s->wire[i], len, fds, nfds,
				     dl);
	cut = 1 + op->cut % (len - 1);
	if (chan_send_buf(f->core.conn, s->wire[i], cut, NULL, 0, dl) < 0)
		return -ECONNRESET;
	/* apart in time, so that one read cannot take both */
	chan_sleep_until(chan_now() + 2000000);
	return chan_send_buf(f->core.conn, s->wire[i] + cut, len - cut, fds,
			     nfds, dl);
}

static void fv_op_msg(struct fv *f, const struct vseq_op *op, unsigned int i,
		      struct fz_verdict *v, bool *new_cov)
{
	struct fv_sess *s = &f->s;
	struct fz_vrec *rec = &s->rec[i];
	struct vfio_user_msg cmd;
	int fds[VSEQ_MAX_FDS];
	unsigned int n, k;
	bool command;
	int ret;

	s->wire_len[i] = vseq_op_wire(op, s->wire[i]);
	s->nops = i + 1;
	for (n = 0; n < op->nfds; n++) {
		fds[n] = fv_make_fd(s, op->fdk);
		if (fds[n] < 0)
			break;
	}
	s->nfds[i] = n;
	rec->nfds = n;
	rec->fdk = op->fdk;
	command = (op->hdr.flags & VFIO_USER_F_TYPE_MASK) ==
		  VFIO_USER_F_TYPE_COMMAND;
	s->no_reply[i] = command && (op->hdr.flags & VFIO_USER_F_NO_REPLY);
	s->maybe[i] = !command;
	/* framing: where the server's idea of message boundaries goes */
	if (s->owed) {
		rec->in_body = true;
		s->maybe[i] = true;
		if (s->wire_len[i] > s->owed) {
			s->out_of_step = true; /* it ends inside this one */
			s->owed = 0;
		} else {
			s->owed -= s->wire_len[i];
		}
	} else if (op->hdr.msg_size != s->wire_len[i]) {
		s->maybe[i] = true;
		if (op->hdr.msg_size < s->wire_len[i])
			s->out_of_step = true;
		else
			s->owed = op->hdr.msg_size - s->wire_len[i];
	}
	ret = fv_send_op(f, op, i, fds, n);
	/* ours to close now: the server has its copies */
	for (k = 0; k < n; k++)
		for (unsigned int j = 0; j < s->nown; j++)
			if (s->own[j].fd == fds[k] && !s->own[j].other)
				close_fd(&s->own[j].fd);
	rec->sent = true;
	s->msgs++;
	if (ret < 0) {
		s->hung = true;
		return;
	}
	rec->due =
		command && !s->no_reply[i] && !s->maybe[i] && !s->out_of_step;
	if (!rec->due) {
		fv_cmd(s, i, &cmd);
		if (!s->maybe[i])
			vseq_learn(&s->mo, &f->dev, &cmd, NULL);
		return;
	}
	{
		size_t before = f->core.st.ncov;

		ret = fv_wait(f, (int)i, chan_deadline(f->c->timeout_ms), v,
			      NULL);
		if (f->core.st.ncov > before)
			*new_cov = true;
	}
	if (ret == -ETIMEDOUT) {
		if (fz_found(v, FZ_KIND_HANG, (int)i, "%s",
			     fv_cmd_sig(op->hdr.command)))
			snprintf(v->what, sizeof(v->what),
				 "no reply within %d ms to %s id %u",
				 f->c->timeout_ms,
				 vfio_user_command_name(op->hdr.command),
				 op->hdr.msg_id);
		s->hung = true; /* the session cannot go on in step */
		s->out_of_step = true;
	} else if (ret < 0) {
		s->hung = true;
		if (fz_cov_add(&f->core, fv_signature(&op->hdr, NULL, true)))
			*new_cov = true;
		fv_cmd(s, i, &cmd);
		vseq_learn(&s->mo, &f->dev, &cmd, NULL);
	}
}

/*
 * The probe: DEVICE_GET_INFO must be answered (success or error) by its
 * own reply. Return: 1 answered, -ETIMEDOUT, -ECONNRESET.
 */
static int fv_probe(struct fv *f, struct fz_verdict *v)
{
	static const uint32_t pl[4] = { 16, 0, 0, 0 };
	struct vfio_user_hdr h = {
		.msg_id = VSEQ_PROBE_ID,
		.command = VFIO_USER_DEVICE_GET_INFO,
		.msg_size = VFIO_USER_HDR_SIZE + sizeof(pl),
	};
	int64_t dl = chan_deadline(f->c->timeout_ms);

	memcpy(fv_probe_buf, &h, sizeof(h));
	memcpy(fv_probe_buf + sizeof(h), pl, sizeof(pl));
	if (chan_send_buf(f->core.conn, fv_probe_buf, h.msg_size, NULL, 0, dl) <
	    0)
		return -ECONNRESET;
	return fv_wait(f, VSEQ_MAX_OPS, dl, v, NULL);
}

/* After a session that ended oddly: is the daemon alive, dead, stuck? */
static void fv_health(struct fv *f, struct fz_verdict *v)
{
	static const char ver[] = "{}";
	uint8_t buf[64];
	struct vfio_user_msg m, r;
	int ret;

	if (!f->core.t)
		return;
	close_fd(&f->core.conn);
	if (target_wait_exit(f->core.t, 0) == 1) {
		fz_core_judge_exit(&f->core, v);
		return;
	}
	if (f->c->reuse) {
		/* a new connection: does VERSION get an answer? */
		ret = target_reconnect(f->core.t, &f->core.conn);
		if (ret >= 0) {
			vfio_user_build_version(&m, buf, sizeof(buf),
						VSEQ_PROBE_ID, VFIO_USER_MAJOR,
						VFIO_USER_MINOR, ver);
			ret = frame_vfio_send(f->core.conn, &m, FRAME_WHOLE,
					      chan_deadline(f->c->timeout_ms));
			if (ret >= 0)
				ret = frame_vfio_recv(
					f->core.conn, &r, f->rx, FRAME_VFIO_MAX,
					0, chan_deadline(f->c->timeout_ms),
					NULL, NULL);
			if (ret >= 0)
				close_fds(r.fds, r.nfds);
			close_fd(&f->core.conn);
			if (ret >= 0)
				return;
		}
	}
	if (target_wait_exit(f->core.t, 1000) == 1) {
		fz_core_judge_exit(&f->core, v);
		return;
	}
	if (f->c->reuse && !v->kind &&
	    fz_found(v, FZ_KIND_HANG, -1, "%s", "no-accept"))
		snprintf(v->what, sizeof(v->what),
			 "a new connection gets no answer to VERSION within "
			 "%d ms",
			 f->c->timeout_ms);
	if (f->c->reuse || (v->kind && !strcmp(v->kind, FZ_KIND_HANG)))
		fz_core_restart(&f->core);
}

/*
 * Run one input as a session on a new connection and judge it.
 * @fd_check:	reuse: count the daemon's fds before and after
 * Return: 0, or -errno when the target cannot be reached.
 */
static int fv_session(void *ctx, const uint8_t *in, size_t n,
		      struct fz_verdict *v, bool fd_check, bool *new_cov)
{
	struct fv *f = ctx;
	struct fv_sess *s = &f->s;
	struct seq_in cur = { in, n };
	struct vseq_op *op = malloc(sizeof(*op));
	uint8_t raw[256];
	unsigned int idx;
	int before = -1, after, ret;

	memset(v, 0, sizeof(*v));
	v->at = -1;
	*new_cov = false;
	if (!op)
		return -ENOMEM;
	if (fd_check && f->c->reuse && f->core.t) {
		close_fd(&f->core.conn);
		before = fz_target_settled_fds(f->core.t, -1);
	}
	ret = fz_core_connect(&f->core, f->c);
	if (ret < 0) {
		free(op);
		return ret;
	}
	s->nown = 0;
	s->nops = 0;
	s->owed = 0;
	s->out_of_step = s->hung = false;
	s->msgs = 0;
	s->watch_id = 0;
	memset(s->rec, 0, sizeof(s->rec));
	vseq_model_init(&s->mo);

	vseq_skip_setup(&cur);
	for (idx = 0; idx < VSEQ_MAX_OPS && !s->hung && !fz_stop &&
		      vseq_next(&cur, in, op, (uint16_t)(idx + 1));
	     idx++) {
		switch (op->kind) {
		case VSEQ_MSG:
			fv_op_msg(f, op, idx, v, new_cov);
			break;
		case VSEQ_RAW:
			s->rec[idx].sent = true;
			s->nops = idx + 1;
			s->wire_len[idx] = VFIO_USER_HDR_SIZE;
			memset(s->wire[idx], 0, VFIO_USER_HDR_SIZE);
			if (vseq_op_raw(op, raw))
				chan_send_buf(f->core.conn, raw, op->data_want,
					      NULL, 0,
					      chan_deadline(f->c->timeout_ms));
			shutdown(f->core.conn, SHUT_WR);
			s->out_of_step = true;
			s->hung = true; /* our hang-up */
			break;
		case VSEQ_SHRINK:
		case VSEQ_CLOSE: {
			unsigned int i = s->nown;

			s->rec[idx].sent = true;
			s->nops = idx + 1;
			s->wire_len[idx] = VFIO_USER_HDR_SIZE;
			memset(s->wire[idx], 0, VFIO_USER_HDR_SIZE);
			while (i--) {
				struct fv_own *o = &s->own[i];

				if (o->fd < 0)
					continue;
				if (op->kind == VSEQ_CLOSE && o->other) {
					close_fd(&o->fd);
					break;
				}
				if (op->kind == VSEQ_SHRINK &&
				    o->kind == FDZOO_MEMFD) {
					if (ftruncate(o->fd,
						      (off_t)op->n * 256) < 0)
						o->kind = FDZOO_OTHER;
					break;
				}
			}
			break;
		}
		}
	}
	free(op);
	f->core.st.msgs += s->msgs;

	/* inside a body no probe is answered: a short look for replies to
	 * what went into it */
	if (!s->hung && !fz_stop && !s->out_of_step && s->owed)
		fv_wait(f, -1, chan_deadline(30), v, NULL);
	/* the probe: alive, in step, nothing unasked */
	if (!s->hung && !fz_stop && !s->out_of_step && !s->owed) {
		ret = fv_probe(f, v);
		if (ret == -ETIMEDOUT &&
		    fz_found(v, FZ_KIND_HANG, -1, "%s", "probe"))
			snprintf(v->what, sizeof(v->what),
				 "no answer to DEVICE_GET_INFO within %d ms "
				 "after the session",
				 f->c->timeout_ms);
		if (ret < 0)
			s->hung = true;
	}
	/* a hang at a command: if a probe on the same connection is
	 * answered now, the reply was missing, not the daemon stuck */
	if (v->kind && !strcmp(v->kind, FZ_KIND_HANG) && v->at >= 0 &&
	    f->core.conn >= 0) {
		struct fz_verdict pv = { 0 };
		unsigned int before_rep = s->rec[v->at].nrep;

		s->out_of_step = false; /* judged again from here */
		ret = fv_probe(f, &pv);
		if (ret == 1 && s->rec[v->at].nrep == before_rep) {
			char sig[64];

			snprintf(sig, sizeof(sig), "%s",
				 v->sig + strlen(FZ_KIND_HANG));
			v->kind = VSEQ_ORACLE_MISSING_REPLY;
			snprintf(v->sig, sizeof(v->sig), "%s%s", v->kind, sig);
			snprintf(v->what, sizeof(v->what),
				 "no reply within %d ms to a command that "
				 "must be answered (the server answers what "
				 "comes next)",
				 f->c->timeout_ms);
			s->watch_id = (uint16_t)(v->at + 1);
		} else if (ret == 1) {
			v->kind = NULL; /* a late reply, not a missing one */
		}
	}
	if (s->hung)
		f->core.st.hangups++;
	fv_close_session(s);
	memcpy(f->last_rec, s->rec, sizeof(s->rec));

	if (s->hung || (v->kind && !strcmp(v->kind, FZ_KIND_HANG)))
		fv_health(f, v);
	else
		close_fd(&f->core.conn);
	if (!f->c->reuse && f->core.t && !v->kind) {
		/* a process per session: a sanitizer report that did not
		 * kill it */
		struct target_status st;

		target_sample(f->core.t, &st);
		if (st.sanitizer)
			fz_core_judge_exit(&f->core, v);
	}
	if (before >= 0 && f->core.t && !v->kind) {
		after = fz_target_settled_fds(f->core.t, before);
		if (after > before &&
		    fz_found(v, FZ_KIND_FD_LEAK, -1, "%s", ""))
			snprintf(v->what, sizeof(v->what),
				 "the server has %d fds open once the "
				 "session is over, %d before it: %d leaked",
				 after, before, after - before);
	}
	f->core.st.sessions++;
	return 0;
}

/* ---- mutation ------------------------------------------------------------- */

struct fv_span {
	size_t at, len;
};

#define FV_MAX_SPANS 64

/* Where each op of @in is (after the setup bytes). Return: how many. */
static unsigned int fv_spans(const uint8_t *in, size_t n, struct fv_span *sp,
			     size_t *setup, struct vseq_op *op)
{
	struct seq_in cur = { in, n };
	unsigned int k = 0;

	vseq_skip_setup(&cur);
	*setup = (size_t)(cur.p - in);
	while (k < FV_MAX_SPANS && vseq_next(&cur, in, op, 1)) {
		sp[k].at = op->at;
		sp[k].len = op->len;
		k++;
	}
	return k;
}

static const uint64_t fv_interesting[] = {
	0,
	1,
	2,
	4,
	8,
	0x7f,
	0x100,
	0x1000,
	0x2000,
	0x10000,
	0x100000,
	0x100001,
	0xffffffff,
	0x100000000,
	0x7fffffffffffffff,
	0xfffffffffffff000,
	0xfffffffffffffffc,
	0xffffffffffffffff,
};

static uint64_t fv_value(struct fv *f)
{
	return fv_interesting[fz_below(&f->core, ARRAY_SIZE(fv_interesting))];
}

/* Encode a MSG op: c, flags, len, [fds], [cut], [msg_size], payload. */
static size_t fv_encode(uint8_t *out, size_t cap, uint8_t c, uint8_t flags,
			const void *payload, size_t len, uint8_t fdsb,
			uint8_t cut, uint32_t msg_size)
{
	size_t k = 0;

	len = VUC_MIN(len, (size_t)VSEQ_MAX_PAYLOAD);
	if (cap < len + 10)
		return 0;
	out[k++] = c;
	out[k++] = flags;
	out[k++] = (uint8_t)len;
	out[k++] = (uint8_t)(len >> 8);
	if (flags & VSEQ_F_FDS)
		out[k++] = fdsb;
	if (flags & VSEQ_F_SPLIT)
		out[k++] = cut;
	if (flags & VSEQ_F_SIZE) {
		memcpy(out + k, &msg_size, 4);
		k += 4;
	}
	memcpy(out + k, payload, len);
	return k + len;
}

static const char *const fv_jsons[] = {
	"{\"capabilities\":{\"max_msg_fds\":8,\"max_data_xfer_size\":1048576}}",
	"{\"capabilities\":{\"max_msg_fds\":8,\"max_data_xfer_size\":4096}}",
	"{}",
	"{\"capabilities\":{\"max_msg_fds\":8,\"write_multiple\":true}}",
	"{\"capabilities\":{\"migration\":{\"pgsize\":4096}}}",
};

/* A payload shaped by the rule of @code, fields from interesting values. */
static size_t fv_gen_payload(struct fv *f, uint16_t code, uint8_t *p)
{
	const struct vfio_user_rule *r = vfio_user_rule(code);
	static const uint64_t addrs[] = { 0x100000, 0x110000, 0x108000,
					  0x200000, 0 };
	static const uint64_t sizes[] = { 0x10000, 0x1000, 0x100000, 0 };
	static const uint32_t map_flags[] = {
		VFIO_USER_F_DMA_REGION_READ | VFIO_USER_F_DMA_REGION_WRITE,
		VFIO_USER_F_DMA_REGION_READ,
		VFIO_USER_F_DMA_REGION_READ | VFIO_USER_F_DMA_REGION_WRITE |
			VFIO_USER_F_DMA_REGION_MMAP,
		VFIO_USER_F_DMA_REGION_READ | VFIO_USER_F_DMA_REGION_WRITE |
			VFIO_USER_F_DMA_REGION_FILE_IO,
		VFIO_USER_F_DMA_REGION_READ | VFIO_USER_F_DMA_REGION_MMAP,
	};
	uint32_t u32[6] = { 0 };
	uint64_t u64[3] = { 0 };
	size_t len;
	unsigned int i;

	if (!r)
		return fz_below(&f->core, 2) ? 0 : 8;
	switch (code) {
	case VFIO_USER_VERSION: {
		const char *j =
			fv_jsons[fz_below(&f->core, ARRAY_SIZE(fv_jsons))];
		uint16_t v[2] = { 0, fz_below(&f->core, 8)
					     ? 2
					     : (uint16_t)fv_value(f) };

		len = strlen(j) + (fz_below(&f->core, 16) ? 1 : 0);
		memcpy(p, v, 4);
		memcpy(p + 4, j, len);
		return 4 + len;
	}
	case VFIO_USER_DMA_MAP:
		u32[0] = 32;
		u32[1] = map_flags[fz_below(&f->core, ARRAY_SIZE(map_flags))];
		u64[0] = addrs[fz_below(&f->core, ARRAY_SIZE(addrs))];
		u64[1] = fz_below(&f->core, 8)
				 ? sizes[fz_below(&f->core, ARRAY_SIZE(sizes))]
				 : fv_value(f);
		memcpy(p, u32, 8);
		memset(p + 8, 0, 8);
		memcpy(p + 16, u64, 16);
		return 32;
	case VFIO_USER_DMA_UNMAP:
		u32[0] = 24;
		u32[1] = fz_below(&f->core, 8) ? 0 : VFIO_DMA_UNMAP_FLAG_ALL;
		u64[0] = addrs[fz_below(&f->core, ARRAY_SIZE(addrs))];
		u64[1] = sizes[fz_below(&f->core, ARRAY_SIZE(sizes))];
		memcpy(p, u32, 8);
		memcpy(p + 8, u64, 16);
		return 24;
	case VFIO_USER_DEVICE_SET_IRQS: {
		static const uint32_t irq_flags[] = {
			VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER,
			VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER,
			VFIO_IRQ_SET_DATA_BOOL | VFIO_IRQ_SET_ACTION_TRIGGER,
			VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_MASK,
		};

		u32[0] = 20;
		u32[1] = irq_flags[fz_below(&f->core, ARRAY_SIZE(irq_flags))];
		u32[2] = fz_below(&f->core, 5);
		u32[3] = fz_below(&f->core, 4) ? 0 : (uint32_t)fv_value(f);
		u32[4] = fz_below(&f->core, 2) ? 1 + fz_below(&f->core, 2)
					       : (uint32_t)fv_value(f);
		len = 20;
		if (u32[1] & VFIO_IRQ_SET_DATA_BOOL) {
			len += VUC_MIN(u32[4], 8u);
			u32[0] = (uint32_t)len;
		}
		memset(p, 1, len);
		memcpy(p, u32, 20);
		return len; /* DATA_EVENTFD: count eventfds by default */
	}
	case VFIO_USER_REGION_READ:
	case VFIO_USER_REGION_WRITE: {
		static const uint32_t counts[] = { 4, 8, 16, 4096, 8192 };

		u64[0] = fz_below(&f->core, 4) ? 4 * fz_below(&f->core, 8)
					       : fv_value(f);
		u32[0] = fz_below(&f->core, 9);
		u32[1] =
			fz_below(&f->core, 8)
				? counts[fz_below(&f->core, ARRAY_SIZE(counts))]
				: (uint32_t)fv_value(f);
		memcpy(p, u64, 8);
		memcpy(p + 8, u32, 8);
		len = 16;
		if (code == VFIO_USER_REGION_WRITE) {
			len += VUC_MIN((size_t)u32[1], VSEQ_MAX_PAYLOAD - 16u);
			for (i = 16; i < len; i++)
				p[i] = (uint8_t)fz_rand(&f->core);
		}
		return len;
	}
	default:
		break;
	}
	/* the fixed part: argsz first where there is one, small fields */
	len = r->req.fixed;
	if (r->req.rule == VFIO_USER_SIZE_NONE)
		return 0;
	len = VUC_MIN(len, (size_t)VSEQ_MAX_PAYLOAD);
	memset(p, 0, len);
	for (i = 4; i + 4 <= len; i += 4) {
		u32[0] = fz_below(&f->core, 3) ? fz_below(&f->core, 9)
					       : (uint32_t)fv_value(f);
		memcpy(p + i, u32, 4);
	}
	if (r->req_argsz != VFIO_USER_ARGSZ_NONE && len >= 4) {
		u32[0] = r->req_argsz == VFIO_USER_ARGSZ_SELF
				 ? (uint32_t)len
				 : (uint32_t)(r->reply.fixed ? r->reply.fixed
							     : len);
		if (!fz_below(&f->core, 8))
			u32[0] = (uint32_t)fv_value(f);
		memcpy(p, u32, 4);
	}
	return len;
}

/* A new MSG op. Return: its length in @out. */
static size_t fv_gen_op(struct fv *f, uint8_t *out, size_t cap)
{
	static uint8_t p[VSEQ_MAX_PAYLOAD];
	uint16_t code;
	uint8_t flags = 0, fdsb = 0;
	size_t len;

	code = fz_below(&f->core, 16)
		       ? 1 + fz_below(&f->core, VFIO_USER_CMD_MAX)
		       : (uint16_t)(fz_below(&f->core, 2) ? 0 : 19);
	len = fv_gen_payload(f, code, p);
	if (!fz_below(&f->core, 8)) {
		flags |= VSEQ_F_FDS;
		fdsb = (uint8_t)(fz_below(&f->core, 16) << 4 |
				 (1 + fz_below(&f->core, 2)));
	}
	if (!fz_below(&f->core, 16))
		flags |= VSEQ_F_NO_REPLY;
	if (!fz_below(&f->core, 16))
		flags |= VSEQ_F_SPLIT;
	return fv_encode(out, cap, (uint8_t)code, flags, p, len, fdsb,
			 (uint8_t)fz_rand(&f->core), 0);
}

/* Re-encode the MSG op at @sp with new flags and fields. */
static size_t fv_reflag(struct fv *f, const uint8_t *in, size_t n,
			const struct fv_span *sp, uint8_t *out, size_t cap,
			struct vseq_op *op)
{
	struct seq_in cur = { in + sp->at, n - sp->at };
	uint8_t flags, fdsb;

	if (!vseq_next(&cur, in + sp->at, op, 1) || op->kind != VSEQ_MSG)
		return 0;
	flags = op->flags;
	fdsb = (uint8_t)(op->fdk << 4 | op->nfds);
	switch (fz_below(&f->core, 7)) {
	case 0:
		flags ^= VSEQ_F_NO_REPLY;
		break;
	case 1:
		flags ^= (uint8_t)(VSEQ_F_ERROR << fz_below(&f->core, 2));
		break;
	case 2:
		flags ^= VSEQ_F_SPLIT;
		break;
	case 3: /* a size lie, longer or shorter, or a huge one */
		flags |= VSEQ_F_SIZE;
		op->hdr.msg_size =
			fz_below(&f->core, 3)
				? (uint32_t)(op->hdr.msg_size +
					     (fz_below(&f->core, 2) ? 16 : -4))
				: (uint32_t)fv_value(f);
		break;
	case 4:
		flags |= VSEQ_F_FDS;
		fdsb = (uint8_t)fz_rand(&f->core);
		break;
	case 5:
		flags ^= VSEQ_F_ARGSZ;
		break;
	default: /* another command, same payload */
		op->hdr.command = (uint16_t)fz_below(&f->core, 20);
		break;
	}
	return fv_encode(out, cap, (uint8_t)op->hdr.command, flags, op->payload,
			 op->payload_len, fdsb, (uint8_t)fz_rand(&f->core),
			 op->hdr.msg_size);
}

/* Mutate @in into @out. Return: the new length. */
static size_t fv_mutate(void *ctx, const uint8_t *in, size_t n, uint8_t *out)
{
	static struct vseq_op op_scratch;
	static uint8_t tmp[FZ_MAX_INPUT];
	struct fv *f = ctx;
	struct vseq_op *op = &op_scratch;
	struct fv_span sp[FV_MAX_SPANS];
	size_t setup, len = n, k;
	unsigned int nsp, rounds = 1 + fz_below(&f->core, 3), r, a, b;

	memcpy(out, in, n);
	for (r = 0; r < rounds; r++) {
		nsp = fv_spans(out, len, sp, &setup, op);
		a = fz_below(&f->core, nsp ? nsp : 1);
		b = fz_below(&f->core, nsp ? nsp : 1);
		switch (fz_below(&f->core, nsp ? 10 : 1)) {
		case 0: { /* insert a generated op */
			size_t at = nsp ? sp[a].at : setup, g;

			g = fv_gen_op(f, tmp, sizeof(tmp));
			if (!g || len + g > FZ_MAX_INPUT)
				break;
			memmove(out + at + g, out + at, len - at);
			memcpy(out + at, tmp, g);
			len += g;
			break;
		}
		case 1: /* delete */
			memmove(out + sp[a].at, out + sp[a].at + sp[a].len,
				len - sp[a].at - sp[a].len);
			len -= sp[a].len;
			break;
		case 2: /* duplicate */
			if (len + sp[a].len > FZ_MAX_INPUT)
				break;
			memmove(out + sp[a].at + sp[a].len, out + sp[a].at,
				len - sp[a].at);
			len += sp[a].len;
			break;
		case 3: /* cut the tail */
			len = sp[a].at + sp[a].len;
			break;
		case 4: { /* splice an op from another input */
			const struct fz_input *o = &f->core.corpus[fz_below(
				&f->core, (unsigned int)f->core.st.ncorpus)];
			struct fv_span osp[FV_MAX_SPANS];
			size_t os;
			unsigned int on = fv_spans(o->p, o->n, osp, &os, op), c;

			if (!on)
				break;
			c = fz_below(&f->core, on);
			if (len + osp[c].len > FZ_MAX_INPUT)
				break;
			memmove(out + sp[a].at + osp[c].len, out + sp[a].at,
				len - sp[a].at);
			memcpy(out + sp[a].at, o->p + osp[c].at, osp[c].len);
			len += osp[c].len;
			break;
		}
		case 5: /* swap two ops (b after a) */
			if (b <= a || sp[a].len + sp[b].len > sizeof(tmp))
				break;
			k = sp[b].at + sp[b].len - sp[a].at;
			memcpy(tmp, out + sp[b].at, sp[b].len);
			memcpy(tmp + sp[b].len, out + sp[a].at + sp[a].len,
			       sp[b].at - sp[a].at - sp[a].len);
			memcpy(tmp + k - sp[a].len, out + sp[a].at, sp[a].len);
			memcpy(out + sp[a].at, tmp, k);
			break;
		case 6:
		case 7: { /* flags, fields, command */
			size_t g = fv_reflag(f, out, len, &sp[a], tmp,
					     sizeof(tmp), op);

			if (!g || len - sp[a].len + g > FZ_MAX_INPUT)
				break;
			memmove(out + sp[a].at + g, out + sp[a].at + sp[a].len,
				len - sp[a].at - sp[a].len);
			memcpy(out + sp[a].at, tmp, g);
			len = len - sp[a].len + g;
			break;
		}
		default: { /* a value into an op's payload bytes */
			uint64_t v = fv_value(f);
			size_t w = fz_below(&f->core, 2) ? 8 : 4;

			if (sp[a].len < 4 + w)
				break;
			k = sp[a].at + 4 +
			    fz_below(&f->core,
				     (unsigned int)(sp[a].len - 4 - w + 1));
			if (!fz_below(&f->core, 4)) {
				out[k] ^=
					(uint8_t)(1u << fz_below(&f->core, 8));
				break;
			}
			memcpy(out + k, &v, w);
			break;
		}
		}
	}
	if (!len) {
		out[0] = 0;
		len = 1;
	}
	return len;
}

/* ---- seeds ------------------------------------------------------------------ */

/* Built-in seeds: what the model needs to know, then the rules' corners. */
static int fv_builtin_seeds(void *ctx)
{
	struct fv *f = ctx;
	static uint8_t in[FZ_MAX_INPUT];
	const char *json = fv_jsons[0];
	uint8_t p[64];
	uint32_t u32[8];
	uint64_t u64[2];
	size_t k, jl = strlen(json) + 1;
	unsigned int i, s;
	int ret = 0;

	for (s = 0; s < 4 && ret >= 0; s++) {
		k = 0;
		in[k++] = 0; /* no DMA answers up front */
		/* VERSION 0.2 with max_msg_fds 8, 1 MiB transfers (4 KiB in
		 * seed 3) */
		p[0] = 0;
		p[1] = 0;
		p[2] = 2;
		p[3] = 0;
		json = fv_jsons[s == 3 ? 1 : 0];
		jl = strlen(json) + 1;
		memcpy(p + 4, json, VUC_MIN(jl, sizeof(p) - 4));
		k += fv_encode(in + k, sizeof(in) - k, VFIO_USER_VERSION, 0, p,
			       4 + VUC_MIN(jl, sizeof(p) - 4), 0, 0, 0);
		/* the device: GET_INFO, GET_IRQ_INFO of each index */
		u32[0] = 16;
		memset(u32 + 1, 0, 12);
		k += fv_encode(in + k, sizeof(in) - k,
			       VFIO_USER_DEVICE_GET_INFO, 0, u32, 16, 0, 0, 0);
		for (i = 0; s == 0 && i < 5; i++) {
			u32[2] = i;
			k += fv_encode(in + k, sizeof(in) - k,
				       VFIO_USER_DEVICE_GET_IRQ_INFO, 0, u32,
				       16, 0, 0, 0);
		}
		if (s == 1) {
			/* message-mode maps: one read-only, one read-write,
			 * then one over the first and an unmap inside */
			static const struct {
				uint32_t flags;
				uint64_t addr, size;
			} maps[] = {
				{ VFIO_USER_F_DMA_REGION_READ, 0x100000,
				  0x10000 },
				{ VFIO_USER_F_DMA_REGION_READ |
					  VFIO_USER_F_DMA_REGION_WRITE,
				  0x200000, 0x10000 },
				{ VFIO_USER_F_DMA_REGION_READ |
					  VFIO_USER_F_DMA_REGION_WRITE,
				  0x108000, 0x1000 },
			};

			for (i = 0; i < ARRAY_SIZE(maps); i++) {
				u32[0] = 32;
				u32[1] = maps[i].flags;
				u32[2] = u32[3] = 0;
				u64[0] = maps[i].addr;
				u64[1] = maps[i].size;
				memcpy(p, u32, 16);
				memcpy(p + 16, u64, 16);
				k += fv_encode(in + k, sizeof(in) - k,
					       VFIO_USER_DMA_MAP, 0, p, 32, 0,
					       0, 0);
			}
			u32[0] = 24;
			u32[1] = 0;
			u64[0] = 0x101000;
			u64[1] = 0x1000;
			memcpy(p, u32, 8);
			memcpy(p + 8, u64, 16);
			k += fv_encode(in + k, sizeof(in) - k,
				       VFIO_USER_DMA_UNMAP, 0, p, 24, 0, 0, 0);
		}
		if (s == 2) {
			/* fds: an fd-backed map, eventfds for MSI-X, a
			 * stray eventfd on a command that takes none */
			u32[0] = 32;
			u32[1] = VFIO_USER_F_DMA_REGION_READ |
				 VFIO_USER_F_DMA_REGION_WRITE |
				 VFIO_USER_F_DMA_REGION_MMAP;
			u32[2] = u32[3] = 0;
			u64[0] = 0x300000;
			u64[1] = 0x10000;
			memcpy(p, u32, 16);
			memcpy(p + 16, u64, 16);
			k += fv_encode(in + k, sizeof(in) - k,
				       VFIO_USER_DMA_MAP, 0, p, 32, 0, 0, 0);
			u32[0] = 20;
			u32[1] = VFIO_IRQ_SET_DATA_EVENTFD |
				 VFIO_IRQ_SET_ACTION_TRIGGER;
			u32[2] = VFIO_PCI_MSIX_IRQ_INDEX;
			u32[3] = 0;
			u32[4] = 1;
			k += fv_encode(in + k, sizeof(in) - k,
				       VFIO_USER_DEVICE_SET_IRQS, 0, u32, 20, 0,
				       0, 0);
			u32[0] = 16;
			memset(u32 + 1, 0, 12);
			k += fv_encode(in + k, sizeof(in) - k,
				       VFIO_USER_DEVICE_GET_INFO, VSEQ_F_FDS,
				       u32, 16, 0x01, 0, 0);
		}
		if (s == 3) {
			/* a read of 8 KiB from BAR0 with 4 KiB transfers */
			u64[0] = 0;
			u32[0] = 0;
			u32[1] = 8192;
			memcpy(p, u64, 8);
			memcpy(p + 8, u32, 8);
			k += fv_encode(in + k, sizeof(in) - k,
				       VFIO_USER_REGION_READ, 0, p, 16, 0, 0,
				       0);
		}
		ret = fz_corpus_add(&f->core, in, k);
	}
	return ret;
}

/* ---- findings ------------------------------------------------------------------ */

static bool fv_again(struct fv *f, const uint8_t *in, size_t n, const char *sig,
		     bool fd_check)
{
	struct fz_verdict v;
	bool nc;

	if (f->fresh && f->core.t)
		fz_core_restart(&f->core);
	return fv_session(f, in, n, &v, fd_check, &nc) >= 0 && v.kind &&
	       !strcmp(v.sig, sig);
}

/* Minimise @in in place: drop ops (halves, then one at a time), then zero
 * payload words. Return: the new length. */
static size_t fv_minimise(struct fv *f, uint8_t *in, size_t n, const char *sig,
			  bool fd_check, unsigned int *tries)
{
	static uint8_t cand[FZ_MAX_INPUT];
	struct fv_span sp[FV_MAX_SPANS];
	struct vseq_op *op = malloc(sizeof(*op));
	int64_t until = chan_deadline(f->c->minimize_ms);
	unsigned int nsp, chunk, i;
	size_t setup, k;

	if (!op)
		return n;
	nsp = fv_spans(in, n, sp, &setup, op);
	if (nsp > VSEQ_MAX_OPS) {
		n = sp[VSEQ_MAX_OPS].at;
		nsp = VSEQ_MAX_OPS;
	}
	for (chunk = nsp > 1 ? nsp / 2 : 1; chunk && !fz_stop;
	     chunk = chunk > 1 ? chunk / 2 : 0) {
		for (i = 0;
		     i + chunk <= nsp && !fz_stop && chan_now() < until;) {
			size_t from = sp[i].at, to = sp[i + chunk - 1].at +
						     sp[i + chunk - 1].len;

			memcpy(cand, in, from);
			memcpy(cand + from, in + to, n - to);
			(*tries)++;
			if (fv_again(f, cand, n - (to - from), sig, fd_check)) {
				n -= to - from;
				memcpy(in, cand, n);
				nsp = fv_spans(in, n, sp, &setup, op);
			} else {
				i++;
			}
		}
	}
	/* zero payload words that do not matter */
	for (k = setup; k + 4 <= n && !fz_stop && chan_now() < until; k += 4) {
		uint32_t w;

		memcpy(&w, in + k, 4);
		if (!w)
			continue;
		memcpy(cand, in, n);
		memset(cand + k, 0, 4);
		(*tries)++;
		if (fv_again(f, cand, n, sig, fd_check))
			memcpy(in, cand, n);
	}
	free(op);
	return n;
}

static void fv_report(void *ctx, const uint8_t *in, size_t n,
		      const struct fz_verdict *v0)
{
	struct fv *f = ctx;
	static uint8_t min[FZ_MAX_INPUT];
	struct fz_verdict v = *v0;
	struct fz_vreport r;
	uint64_t ro[2 * VSEQ_MAX_MAPS], fdm[2 * VSEQ_MAX_MAPS];
	unsigned int tries = 0, nro = 0, nfdm = 0, i;
	char tail[2048];
	size_t len = n;
	bool fd_check = !strcmp(v0->kind, FZ_KIND_FD_LEAK), nc;
	int ret;

	memcpy(min, in, n);
	/* a reused server keeps device state from one session to the next:
	 * minimise against a new process each run (an fd leak is counted
	 * in one process), so that the input, and the reproducer, need no
	 * earlier session */
	f->fresh = f->c->reuse && !fd_check;
	if (f->c->minimize_ms > 0)
		len = fv_minimise(f, min, n, v0->sig, fd_check, &tries);
	/* once more, for the record and the daemon's stderr */
	if (f->fresh && f->core.t)
		fz_core_restart(&f->core);
	if (f->core.t)
		target_mark(f->core.t);
	f->core.tail[0] = '\0';
	fv_session(f, min, len, &v, fd_check, &nc);
	if (!v.kind || strcmp(v.sig, v0->sig)) {
		memcpy(min, in, n);
		len = n;
		if (f->fresh && f->core.t)
			fz_core_restart(&f->core);
		fv_session(f, min, len, &v, fd_check, &nc);
		v = *v0;
	}
	f->fresh = false;
	snprintf(tail, sizeof(tail), "%s", f->core.tail);
	if (f->core.t && !tail[0])
		target_stderr_tail(f->core.t, tail, sizeof(tail));
	for (i = 0; i < f->s.mo.nmaps; i++) {
		if (f->s.mo.maps[i].fd) {
			fdm[2 * nfdm] = f->s.mo.maps[i].addr;
			fdm[2 * nfdm + 1] = f->s.mo.maps[i].size;
			nfdm++;
			continue;
		}
		if ((f->s.mo.maps[i].flags & VFIO_USER_F_DMA_REGION_WRITE))
			continue;
		ro[2 * nro] = f->s.mo.maps[i].addr;
		ro[2 * nro + 1] = f->s.mo.maps[i].size;
		nro++;
	}
	r = (struct fz_vreport){ .input = min,
				 .len = len,
				 .v = &v,
				 .rec = f->last_rec,
				 .target_text = f->c->target_text,
				 .stderr_tail = tail,
				 .tries = tries,
				 .orig_len = n,
				 .watch_id = f->s.watch_id,
				 .client_xfer = f->s.mo.client_xfer,
				 .ro = ro,
				 .nro = nro,
				 .fdm = fdm,
				 .nfdm = nfdm };
	ret = fz_vfio_write_finding(f->c->out_dir, &r);
	if (ret < 0)
		fz_msg("cannot write the finding to %s: %s", f->c->out_dir,
		       strerror(-ret));
	else if (!f->c->quiet)
		fz_msg("  minimised %zu -> %zu bytes in %u runs: %s/%s.lua", n,
		       len, tries, f->c->out_dir, v0->sig);
}

/* ---- the loop ---------------------------------------------------------------- */

static const struct fz_ops fv_ops = {
	.session = fv_session,
	.mutate = fv_mutate,
	.report = fv_report,
};

static void fv_free(struct fv *f)
{
	fz_core_free(&f->core);
	free(f->rx);
	free(f->tx);
	free(f);
}

int fuzz_vfio_main(const struct fz_conf *c)
{
	struct fv *f = calloc(1, sizeof(*f));
	int status = FZ_EXIT_SETUP, ret;

	if (!f)
		return 2;
	f->c = c;
	vseq_device_init(&f->dev);
	f->rx = malloc(FRAME_VFIO_MAX);
	f->tx = malloc(FRAME_VFIO_MAX);
	if (fz_core_init(&f->core, c->seed, c->quiet) < 0 || !f->rx || !f->tx)
		goto out;
	if (fz_core_seeds(&f->core, c, fv_builtin_seeds, f) < 0)
		goto out;

	fz_core_start(&f->core, c, ", vfio-user", f->core.nseeds);
	ret = fz_core_connect(&f->core, f->c);
	if (ret >= 0)
		ret = fz_core_loop(&f->core, c, &fv_ops, f);
	status = fz_core_finish(&f->core, c, ret);
out:
	fv_free(f);
	return status;
}
