// SPDX-License-Identifier: MIT
/*
 * vhost_backend.c - fuzz the reference vhost-user back-end (vuc_ref_vhost)
 * with a *sequence* of front-end messages and the fds they carry, over a
 * real socketpair, through its own receive path and poll loop.
 *
 * The input picks requests and their fields; the harness keeps the framing
 * valid (sizes from the rule table, fds of the kind each request wants)
 * unless the input asks for a lie. The format, its decoder and the wire
 * oracles are shared with the black-box fuzzer (`vu-conform fuzz`):
 * harness/fe/seq.h. Byte 0 picks the back-end (bit 0 blk, else net; bit 1
 * two queue pairs), then ops: MSG, SPLIT, KICK, GUEST, SHRINK, CLOSE, RAW,
 * FEED.
 *
 * Two paths for a message, chosen per op (op_needs_socket()): most go
 * straight to backend_dispatch() with copies of their fds, the replies
 * taken from where the handler puts them (no socket round trip); SPLIT,
 * more than 8 fds, a size that lies, the first op of a session and one op
 * in eight go over the socket through the back-end's receive path and
 * poll loop. fds are counted once per input (fds_before()); a session
 * that ends cleanly leaves its socketpair to the next (session_end()).
 *
 * Oracles, each named for what it protects (a failure aborts):
 * - no crash, hang (libFuzzer -timeout), leak or fd left open when the
 *   session is over; SIGBUS outside the guard; SIGPIPE from a write the
 *   library should have guarded;
 * - every reply passes vhost_user_check_reply() against the request;
 * - replies come exactly when vhost_user_reply_expected() says, while the
 *   session lives: no ack missing, none unsolicited, never two;
 * - a request the wire rules refuse (or that names a vring past the
 *   queue count, or maps past the end of its file) never gets a success
 *   answer; a SET_VRING_CALL with a legal fd is acked 0;
 * - negotiated features are a subset of those offered, and coherent;
 *   queue sizes are legal; SET_CONFIG without the live-migration flag
 *   changes nothing; a log that could not be mapped is not kept;
 * - GET_VRING_BASE stops the ring and answers the back-end's own index;
 * - a device-state SAVE into an fd that fails writes is not reported as
 *   a success by CHECK_DEVICE_STATE.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backend.h"
#include "bugs.h"
#include "common/util.h"
#include "fe/frame.h"
#include "fe/seq.h"
#include "fe/seqmodel.h"
#include "fuzz_util.h"
#include "ring/vq.h"
#include "transport/chan.h"
#include "transport/fdzoo.h"
#include "wire/vhost_user.h"

#define MAX_OWN 96
#define GUEST_SIZE SEQ_GUEST_SIZE
#define BLK_SIZE 8192u

enum own_role {
	OWN_SENT,  /* our copy of an fd we sent */
	OWN_PEER,  /* the other end of a pipe / socket we sent one end of */
	OWN_PEER_W /* ... and it is a pipe write end (FEED writes there) */
};

struct own {
	int fd;
	enum own_role role;
	enum fdzoo_kind kind;
};

static struct backend *backends[4];
static int guest_fd = -1;
static uint8_t *guest;
static int base_fds;
static struct sigaction guard_sa;
static volatile sig_atomic_t harness_writing;

/* One execution's state. */
static struct backend *be;
static int fe = -1;
static struct own own[MAX_OWN];
static unsigned int nown;
static bool fe_shut;	  /* we shut our end down: not reusable */
static bool save_bad;	  /* a SAVE went to an fd that cannot take it */
static bool load_xfer;	  /* the transfer taken last is a LOAD */
static uint8_t *fed_blob; /* the state FEED wrote whole into a pipe */
static size_t fed_len;
static bool guest_dirty;      /* guest memory was written or handed over */
static struct seqmodel model; /* the rings and config the session set up */

/* ---- signals ------------------------------------------------------------ */

static void say_abort(const char *msg)
{
	ssize_t r = write(2, msg, strlen(msg));

	(void)r;
	abort();
}

/*
 * SIGBUS: the back-end's guard first (it jumps out of a guarded access).
 * If it returns, the fault was outside every guard: it made SIGBUS
 * pending with its default action, which would end the process without a
 * crash report; blocked here, it never lands, and abort() reports instead.
 */
static void on_sigbus(int sig)
{
	sigset_t s;

	sigemptyset(&s);
	sigaddset(&s, SIGBUS);
	sigprocmask(SIG_BLOCK, &s, NULL);
	if (guard_sa.sa_handler != SIG_DFL && guard_sa.sa_handler != SIG_IGN)
		guard_sa.sa_handler(sig);
	say_abort("fuzz oracle: SIGBUS outside the back-end's guard "
		  "(guest memory access past the end of a file)\n");
}

/* The library blocks SIGPIPE around its own pipe writes. */
static void on_sigpipe(int sig)
{
	(void)sig;
	if (harness_writing)
		return;
	say_abort("fuzz oracle: SIGPIPE raised by the back-end: a write to "
		  "a widowed pipe was not guarded\n");
}

static void install_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_NODEFER;
	sa.sa_handler = on_sigbus;
	sigaction(SIGBUS, &sa, &guard_sa);
	sa.sa_flags = 0;
	sa.sa_handler = on_sigpipe;
	sigaction(SIGPIPE, &sa, NULL);
}

/* ---- set-up --------------------------------------------------------------- */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	/* wait_max_ms: we are the front-end, on this thread; what we sent
	 * is there, so a back-end wait (CHECK_DEVICE_STATE while we hold a
	 * LOAD pipe's write end, an ack on the back-end channel) only stalls */
	static const struct backend_conf confs[4] = {
		{ .device = BACKEND_DEV_NET, .queues = 1, .wait_max_ms = 1 },
		{ .device = BACKEND_DEV_BLK,
		  .queues = 1,
		  .blk_size = BLK_SIZE,
		  .wait_max_ms = 1 },
		{ .device = BACKEND_DEV_NET, .queues = 2, .wait_max_ms = 1 },
		{ .device = BACKEND_DEV_BLK,
		  .queues = 2,
		  .blk_size = BLK_SIZE,
		  .wait_max_ms = 1 },
	};
	unsigned int i;

	(void)argc;
	(void)argv;
	fz_quiet();
	fz_bugs_from_env(bug_set);
	for (i = 0; i < ARRAY_SIZE(confs); i++)
		if (backend_new(&backends[i], &confs[i]) < 0)
			abort();
	guest_fd = fdzoo_memfd(GUEST_SIZE, 0);
	if (guest_fd < 0)
		abort();
	guest = mmap(NULL, GUEST_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
		     guest_fd, 0);
	if (guest == MAP_FAILED)
		abort();
	install_signals();
	return 0;
}

/* ---- fds ------------------------------------------------------------------ */

static void keep(int fd, enum own_role role, enum fdzoo_kind kind)
{
	if (nown < MAX_OWN)
		own[nown++] = (struct own){ fd, role, kind };
	else
		close(fd);
}

/*
 * A new fd of @k to send; our copy and any other end are kept. *@kind_out:
 * its kind (fdzoo makes exactly the kind asked for: no probe needed).
 */
static int make_fd(enum seq_fdk k, enum fdzoo_kind *kind_out)
{
	enum fdzoo_kind kind;
	int fd, other = -1;
	size_t size;
	bool widow;

	kind = seq_fdk_zoo(k, &size, &widow);
	*kind_out = kind == FDZOO_CLOSED ? FDZOO_MEMFD : kind;
	if (kind == FDZOO_CLOSED) {
		guest_dirty = true;
		return guest_fd; /* shared, never closed per exec */
	}
	if (nown + 2 > MAX_OWN)
		return -1;
	fd = fdzoo_new(kind, size, &other);
	if (fd < 0)
		return -1;
	keep(fd, OWN_SENT, kind);
	if (other >= 0) {
		if (widow)
			close(other);
		else
			keep(other,
			     kind == FDZOO_PIPE_READ ||
					     kind == FDZOO_PACKET_PIPE_READ
				     ? OWN_PEER_W
				     : OWN_PEER,
			     FDZOO_OTHER);
	}
	return fd;
}

/* ---- the message ------------------------------------------------------------- */

static int base_guarded(struct backend *b, void *arg)
{
	uint32_t *idx = arg;

	*idx = vring_get_base(b, &b->vq[*idx]);
	return 0;
}

struct sent {
	struct seq_sent s; /* the message, for the shared wire oracles */
	uint8_t config[BACKEND_CONFIG_SIZE];
};

/*
 * CHECK_DEVICE_STATE said 0 after a LOAD of this back-end's own state,
 * written whole: "the destination back-end must deserialize its internal
 * state from that data", so saving it again gives the same state (the
 * seeded state-short-read loses the rest of each packet of a packetized
 * pipe and loads what it got).
 */
static void judge_loaded(void)
{
	uint8_t *now = NULL;
	size_t len = 0;
	bool same;

	if (state_save_blob(be, &now, &len) < 0)
		return;
	same = len == fed_len && !memcmp(now, fed_blob, len);
	free(now);
	if (!same)
		fz_fail("state-loaded-differs: CHECK_DEVICE_STATE says 0 "
			"after a LOAD of the back-end's own state (%zu "
			"bytes), yet the state it holds now is another",
			fed_len);
}

/* Judge the replies to @sent and the state it left. */
static void judge(const struct sent *sent, struct vhost_user_msg *reps,
		  unsigned int nrep)
{
	const struct seq_sent *s = &sent->s;
	const struct vhost_user_hdr *h = &s->m.hdr;
	const char *why = NULL, *oracle = NULL;
	unsigned int i;
	uint32_t index;

	/* the wire oracles any back-end must satisfy (fe/seq.h) */
	if (seq_judge(s, reps, nrep, be->closed, &oracle, &why) < 0)
		fz_fail("%s: %s", oracle, why);
	for (i = 0; i < nrep; i++) {
		if (h->request == VHOST_USER_CHECK_DEVICE_STATE && save_bad &&
		    seq_reply_success(&reps[i]))
			fz_fail("CHECK_DEVICE_STATE says 0 after a SAVE into "
				"an fd that fails writes");
		if (h->request == VHOST_USER_CHECK_DEVICE_STATE && load_xfer &&
		    fed_blob && seq_reply_success(&reps[i]))
			judge_loaded();
		if (h->request == VHOST_USER_GET_VRING_BASE && !s->fail &&
		    reps[i].hdr.size == 8) {
			struct vhost_user_vring_state st;

			memcpy(&st, reps[i].payload, sizeof(st));
			index = st.index;
			if (index < be->nvrings) {
				if (be->vq[index].started)
					fz_fail("GET_VRING_BASE left vring %u "
						"started",
						index);
				if (backend_guarded(be, base_guarded, &index) ==
					    0 &&
				    index != st.num)
					fz_fail("GET_VRING_BASE answered %u, "
						"the back-end's index is %u",
						st.num, index);
			}
		}
	}
	if (h->request == VHOST_USER_SET_DEVICE_STATE_FD && nrep &&
	    seq_reply_success(&reps[0])) {
		uint32_t dir;

		memcpy(&dir, s->m.payload, sizeof(dir));
		load_xfer = dir == VHOST_USER_TRANSFER_STATE_DIRECTION_LOAD;
		save_bad = dir == VHOST_USER_TRANSFER_STATE_DIRECTION_SAVE &&
			   (s->kind == FDZOO_PIPE_READ ||
			    s->kind == FDZOO_PACKET_PIPE_READ ||
			    s->kind == FDZOO_DEV_FULL ||
			    s->kind == FDZOO_WIDOWED_PIPE_READ);
	}

	/* state the back-end keeps */
	if (be->features & ~be->features_offered)
		fz_fail("features 0x%llx were never offered",
			(unsigned long long)(be->features &
					     ~be->features_offered));
	if ((be->proto & ~be->proto_offered) ||
	    vhost_user_protocol_features_check(be->proto, &why) < 0)
		fz_fail("protocol features 0x%llx: %s",
			(unsigned long long)be->proto,
			why ? why : "not offered");
	for (i = 0; i < be->nvrings; i++) {
		uint32_t num = be->vq[i].num;
		bool packed =
			be->features & (UINT64_C(1) << VIRTIO_F_RING_PACKED);

		if (num && h->request == VHOST_USER_SET_VRING_NUM &&
		    !(packed ? vq_packed_size_ok(num) : vq_split_size_ok(num)))
			fz_fail("vring %u has size %u", i, num);
	}
	if (be->log_map == MAP_FAILED)
		fz_fail("a log that could not be mapped is kept");
	if (h->request == VHOST_USER_SET_CONFIG && s->m.hdr.size >= 12 &&
	    !(s->m.payload[8] & VHOST_USER_CONFIG_LIVE_MIGRATION) &&
	    memcmp(sent->config, be->config, sizeof(sent->config)))
		fz_fail("SET_CONFIG without the live-migration flag changed "
			"the config space (every field is read-only)");
}

/*
 * The data-path and config oracles of the ring model (fe/seqmodel.h), on
 * what @op sent and got back; every op is a synchronisation point here
 * (the back-end runs on this thread: what it does for an op is done when
 * the op returns).
 */
static void model_msg(const struct seq_sent *s, const struct seq_op *op,
		      const int *fds, const struct vhost_user_msg *reps,
		      unsigned int nrep)
{
	const char *oracle = NULL, *why = NULL;

	if (seqmodel_msg(&model, s, fds, op->fdk == SEQ_FDK_GUEST, reps, nrep,
			 &oracle, &why) < 0)
		fz_fail("%s: %s", oracle, why);
}

static void model_sync(void)
{
	const char *oracle = NULL, *why = NULL;

	if (seqmodel_sync(&model, &oracle, &why) < 0)
		fz_fail("%s: %s", oracle, why);
}

/* Run the back-end until it has nothing left to do now. */
static void pump(void)
{
	int i;

	for (i = 0; i < 8; i++)
		if (backend_poll_once(be, chan_deadline(CHAN_NOWAIT)) <= 0)
			break;
}

/* Take every reply waiting on our end (at most @cap kept). */
static unsigned int collect(struct vhost_user_msg *reps, unsigned int cap)
{
	struct vhost_user_msg extra;
	unsigned int n = 0;
	const char *why = NULL;
	int ret;

	for (;;) {
		struct vhost_user_msg *m = n < cap ? &reps[n] : &extra;

		ret = frame_vhost_recv(fe, m, chan_deadline(CHAN_NOWAIT), &why,
				       NULL);
		if (ret == -ETIMEDOUT || ret == -ECONNRESET)
			break;
		if (ret < 0)
			fz_fail("the back-end sent something that is not a "
				"message (%s): %s",
				strerror(-ret), why ? why : "-");
		/* closed now; the numbers stay, for the checks to count */
		for (unsigned int i = 0; i < m->nfds; i++)
			close(m->fds[i]);
		n++;
	}
	return n;
}

/* Does the vring index of @m name a vring the back-end has? */
static bool vring_exists(const struct vhost_user_msg *m)
{
	uint64_t u64;

	memcpy(&u64, m->payload, sizeof(u64));
	return (u64 & VHOST_USER_VRING_IDX_MASK) < be->nvrings;
}

/*
 * Direct dispatch: hand @s's message to backend_dispatch() with duplicates
 * of our fds (the back-end takes them, as it takes what recvmsg() makes)
 * and take the replies from where the handler puts them.
 * Return: the number of replies, or -1 when the fds could not be copied
 * (nothing was dispatched: the caller sends it instead).
 */
static int dispatch_direct(const struct seq_sent *s, const int *fds,
			   unsigned int nfds, struct vhost_user_msg *reps,
			   unsigned int cap)
{
	static struct vhost_user_msg m;
	struct backend_capture c = { .reps = reps, .cap = cap };
	unsigned int i, k;

	m = s->m;
	m.nfds = 0;
	for (i = 0; i < nfds; i++) {
		int fd = fcntl(fds[i], F_DUPFD_CLOEXEC, 0);

		if (fd < 0) {
			close_fds(m.fds, m.nfds);
			return -1;
		}
		m.fds[m.nfds++] = fd;
	}
	backend_dispatch(be, &m, &c);
	if (c.err < 0)
		fz_fail("the back-end made a reply that is not a message "
			"(%s): %s",
			strerror(-c.err), c.why ? c.why : "-");
	for (i = 0; i < VUC_MIN(c.n, cap); i++)
		for (k = 0; k < reps[i].nfds; k++)
			close(reps[i].fds[k]);
	return (int)c.n;
}

/*
 * Does @op go over the socket? Whatever only the receive path can see:
 * a SPLIT, more fds than a message carries (MSG_CTRUNC), a size that lies
 * about the bytes sent; and, so that the receive path and the poll loop
 * stay covered, the first op of each session and one op in eight.
 */
static bool op_needs_socket(const struct seq_op *op, unsigned int nfds)
{
	return op->kind == SEQ_SPLIT || nfds > VHOST_USER_MAX_FDS ||
	       op->wire_len != VHOST_USER_HDR_SIZE + op->m.hdr.size ||
	       op->at % 8 == 1;
}

static bool sock_used; /* this op sent on the socket: drain it after */

static int op_msg(const struct seq_op *op)
{
	static struct vhost_user_msg reps[3];
	static struct sent sent;
	struct seq_sent *s = &sent.s;
	uint8_t buf[VHOST_USER_MSG_MAX];
	int fds[SEQ_MAX_FDS];
	enum fdzoo_kind kind = FDZOO_CLOSED, k;
	unsigned int nfds, i, nrep;
	size_t len = op->wire_len;
	int ret;

	s->m = op->m;
	for (i = 0; i < op->nfds; i++) {
		fds[i] = make_fd(op->fdk, &k);
		if (fds[i] < 0)
			break;
		if (!i)
			kind = k;
	}
	nfds = i;
	s->nfds = nfds;
	s->kind = kind;
	vhost_user_msg_attach_fds(&s->m, fds,
				  VUC_MIN(nfds, VHOST_USER_MAX_FDS));
	s->proto = be->proto;
	s->fail = seq_must_fail(&s->m, nfds, s->proto, be->nvrings);
	s->vring_exists = vring_exists(&s->m);
	memcpy(sent.config, be->config, sizeof(sent.config));

	if (!op_needs_socket(op, nfds)) {
		ret = dispatch_direct(s, fds, nfds, reps, ARRAY_SIZE(reps));
		if (ret >= 0) {
			/* backend_dispatch() ran the rings already; what the
			 * loop could still see is an fd that came with the
			 * message (a kick already signalled) or a transfer */
			if (nfds || be->xfer.fd >= 0)
				pump();
			nrep = (unsigned int)ret;
			judge(&sent, reps, VUC_MIN(nrep, ARRAY_SIZE(reps)));
			model_msg(s, op, fds, reps,
				  VUC_MIN(nrep, ARRAY_SIZE(reps)));
			return be->closed ? -1 : 0;
		}
	}
	sock_used = true;

	/* the bytes: the header, and what the size says (when it fits) */
	memcpy(buf, &s->m.hdr, VHOST_USER_HDR_SIZE);
	memcpy(buf + VHOST_USER_HDR_SIZE, s->m.payload,
	       len - VHOST_USER_HDR_SIZE);
	if (op->kind == SEQ_SPLIT && len > 1) {
		/* a stream socket read stops where fds ride: the reader
		 * sees the message in two parts */
		struct chan_chunk c[2] = {
			{ .buf = buf, .len = 1 + op->cut % (len - 1) },
		};

		c[1] = (struct chan_chunk){ .buf = buf + c[0].len,
					    .len = len - c[0].len,
					    .fds = fds,
					    .nfds = nfds };
		ret = chan_send(fe, c, 2, chan_deadline(CHAN_NOWAIT));
	} else {
		ret = chan_send_buf(fe, buf, len, fds, nfds,
				    chan_deadline(CHAN_NOWAIT));
	}
	if (ret < 0)
		return -1;
	/* Fewer bytes than the header announces: the back-end would wait
	 * BACKEND_MSG_TIMEOUT_MS for the rest, then hang up. Say at once that
	 * no more is coming: the same end, without the 2 s stall. */
	if (len < VHOST_USER_HDR_SIZE + (size_t)s->m.hdr.size) {
		shutdown(fe, SHUT_WR);
		fe_shut = true;
	}
	pump();
	nrep = collect(reps, ARRAY_SIZE(reps));
	judge(&sent, reps, VUC_MIN(nrep, ARRAY_SIZE(reps)));
	model_msg(s, op, fds, reps, VUC_MIN(nrep, ARRAY_SIZE(reps)));
	return be->closed ? -1 : 0;
}

/* ---- the other ops ------------------------------------------------------------ */

static int last_own(enum own_role role, bool memfd)
{
	unsigned int i = nown;

	while (i--) {
		if (own[i].fd < 0)
			continue;
		if (memfd ? own[i].kind == FDZOO_MEMFD : own[i].role == role)
			return (int)i;
	}
	return -1;
}

static void op_kick(const struct seq_op *op)
{
	unsigned int i, want = op->n, seen = 0;
	uint64_t one = 1;

	for (i = 0; i < nown; i++) {
		if (own[i].fd < 0 || own[i].kind != FDZOO_EVENTFD)
			continue;
		if (seen++ == want % 8) {
			if (write(own[i].fd, &one, sizeof(one)) < 0)
				return;
			break;
		}
	}
	pump();
}

static void op_guest(const struct seq_op *op)
{
	uint8_t data[256];
	size_t len = seq_op_data(op, data);

	if (op->n + len > GUEST_SIZE)
		len = GUEST_SIZE - op->n;
	memcpy(guest + op->n, data, len);
	guest_dirty = true;
}

static void op_shrink(const struct seq_op *op)
{
	int i = last_own(OWN_SENT, true);

	if (i >= 0 && ftruncate(own[i].fd, (off_t)op->n * 256) == 0)
		pump();
}

static void op_close(void)
{
	int i = last_own(OWN_PEER, false);

	if (i < 0)
		i = last_own(OWN_PEER_W, false);
	if (i >= 0)
		close_fd(&own[i].fd);
	pump();
}

static void op_feed(const struct seq_op *op)
{
	int i = last_own(OWN_PEER_W, false);
	uint8_t data[256], *blob = NULL;
	size_t len = 0;
	ssize_t w;

	if (op->n & 1) {
		if (state_save_blob(be, &blob, &len) < 0)
			return;
	} else {
		len = seq_op_data(op, data);
	}
	if (i >= 0) {
		harness_writing = 1;
		w = write(own[i].fd, blob ? blob : data, len);
		harness_writing = 0;
		close_fd(&own[i].fd);
		/* kept for the LOAD oracle (judge_loaded()) when whole */
		if (blob && w == (ssize_t)len) {
			free(fed_blob);
			fed_blob = blob;
			fed_len = len;
			blob = NULL;
		}
	}
	free(blob);
	pump();
}

static void op_raw(const struct seq_op *op)
{
	uint8_t buf[256];
	size_t len = seq_op_data(op, buf);

	if (len)
		chan_send_buf(fe, buf, len, NULL, 0,
			      chan_deadline(CHAN_NOWAIT));
	shutdown(fe, SHUT_WR);
	fe_shut = true;
	sock_used = true;
	pump();
	collect(NULL, 0);
}

/* ---- one input ---------------------------------------------------------------- */

/*
 * The connection of a session that ended cleanly (no hang-up, no shutdown,
 * nothing unread either way), kept for the next input: a socketpair and
 * its two closes cost as much as a short session's messages. Nothing
 * tells it from a new one (no flags are set on it, no byte or fd is left
 * in it, the back-end keeps nothing of a session: backend_release());
 * any other ending closes it.
 */
static int keep_be = -1, keep_fe = -1;

static bool unread(int fd)
{
	int n = 0;

	return ioctl(fd, FIONREAD, &n) < 0 || n > 0;
}

/* Start the session on the kept connection or a new one. */
static void session_start(void)
{
	int sv[2];

	if (keep_be >= 0) {
		sv[0] = keep_be;
		sv[1] = keep_fe;
		keep_be = keep_fe = -1;
	} else if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		abort();
	}
	backend_attach(be, sv[0]);
	fe = sv[1];
	fe_shut = false;
}

/* End it; keep the connection if it can serve the next session. */
static void session_end(void)
{
	int conn = -1;

	if (!be->closed && !fe_shut && !unread(fe) && !unread(be->conn))
		conn = backend_release(be);
	else
		backend_detach(be);
	if (conn >= 0) {
		keep_be = conn;
		keep_fe = fe;
		fe = -1;
	}
	close_fd(&fe);
}

/*
 * The fds open before a session: /proc/self/fd is counted again only when
 * the lowest free fd moved since the last input (libFuzzer opens files
 * between inputs; an fd it kept takes the lowest free number, one it
 * closed below it frees a lower one), else the count the last session
 * ended with stands. One probe (dup + close) instead of a directory read.
 */
static int last_count;	 /* fds open when the last session ended */
static bool count_fresh; /* ... counted for this input, not carried */

static int fds_before(void)
{
	static int last_low = -1;
	int low = fcntl(guest_fd, F_DUPFD_CLOEXEC, 0);

	if (low < 0)
		abort();
	close(low);
	if (low != last_low) {
		last_low = low;
		last_count = fz_count_fds();
		count_fresh = true;
	} else {
		count_fresh = false;
	}
	return last_count;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct seq_op op;
	struct seq_in in = { data, size };
	unsigned int i, ops;
	int n, now, kept;
	uint8_t setup;

	if (!guest)
		LLVMFuzzerInitialize(NULL, NULL);
	if (!size)
		return 0;
	/* counted per input: libFuzzer opens files between inputs */
	base_fds = fds_before();
	kept = keep_be >= 0 ? 2 : 0; /* counted in base_fds */
	setup = seq_u8(&in);
	be = backends[setup & 3];
	session_start();
	nown = 0;
	save_bad = false;
	load_xfer = false;
	free(fed_blob);
	fed_blob = NULL;
	/* the same memory every input, zeroed when a session could have
	 * touched it: a hole punched frees only the pages in use */
	if (guest_dirty &&
	    fallocate(guest_fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0,
		      GUEST_SIZE) < 0)
		memset(guest, 0, GUEST_SIZE);
	guest_dirty = false;
	seqmodel_init(&model, guest, GUEST_SIZE,
		      setup & 1 ? SEQMODEL_DEV_BLK : SEQMODEL_DEV_NET);

	for (ops = 0; ops < SEQ_MAX_OPS && seq_next(&in, data, &op, be->proto);
	     ops++) {
		sock_used = false;
		if (op.kind == SEQ_MSG || op.kind == SEQ_SPLIT) {
			if (op_msg(&op) < 0)
				break;
		} else if (op.kind == SEQ_KICK) {
			op_kick(&op);
		} else if (op.kind == SEQ_GUEST) {
			op_guest(&op);
		} else if (op.kind == SEQ_SHRINK) {
			op_shrink(&op);
		} else if (op.kind == SEQ_CLOSE) {
			op_close();
		} else if (op.kind == SEQ_RAW) {
			op_raw(&op);
			break;
		} else {
			op_feed(&op);
		}
		if (op.kind != SEQ_MSG && op.kind != SEQ_SPLIT)
			seqmodel_op(&model, &op);
		if (sock_used)
			collect(NULL, 0);
		model_sync();
		if (be->closed)
			break;
	}

	session_end();
	free(fed_blob);
	fed_blob = NULL;
	for (i = 0; i < nown; i++)
		close_fd(&own[i].fd);
	/* as if the kept connection were open before and after */
	now = fz_count_fds();
	n = now - (keep_be >= 0 ? 2 : 0) + kept;
	/* fewer than a carried count: libFuzzer may have closed one of its
	 * own (above the lowest free fd) between inputs */
	if (n > base_fds || (n < base_fds && count_fresh))
		fz_fail("%d fds open after the session, %d before: the "
			"back-end leaked %d",
			n, base_fds, n - base_fds);
	last_count = now;
	return 0;
}
