// SPDX-License-Identifier: MIT
/*
 * vhost_backend.c - fuzz the reference vhost-user back-end (vuc_ref_vhost)
 * with a *sequence* of front-end messages and the fds they carry, over a
 * real socketpair, through its own receive path and poll loop.
 *
 * The input picks requests and their fields; the harness keeps the framing
 * valid (sizes from the rule table, fds of the kind each request wants)
 * unless the input asks for a lie. Format (also in fuzz/README.md):
 *
 *   byte 0	setup: bit 0 blk (else net), bit 1 two queues (pairs)
 *   then ops, each one op byte o, kind o % 16, until the input ends:
 *   0-8   MSG	code u8, flags u8, [size u16 if flags & 0x02],
 *			[fds u8 if flags & 0x04: count low nibble (max 12),
 *			kind high nibble, see fdk], then the payload: with
 *			a size, that many bytes (at most 4096 are sent);
 *			else shaped by the rule (its size; SET_MEM_TABLE:
 *			nregions u8 % 9 first; config: offset u32, size u8,
 *			flags u32 first)
 *		flags: 0x01 need_reply, 0x08 version (flags >> 4 & 3),
 *		0x40 reply bit, 0x80 flag bit 31
 *   9     SPLIT	cut u8, then as MSG: the message goes out in two
 *		sendmsg() calls cut at byte cut % (its length), the fds on
 *		the second (a stream reader must reassemble it)
 *   10    KICK	u8: write 1 to the n-th eventfd the harness sent
 *   11    GUEST	offset u16, len u8, bytes: write guest memory
 *   12    SHRINK	u8: ftruncate the last memfd sent to u8 * 256 bytes
 *   13    CLOSE	close the harness's end of the last pipe / socket
 *   14    RAW	len u8, bytes: sent as they are, then the harness hangs
 *		up; the sequence ends
 *   15    FEED	u8: bit 0 a valid state blob (else len u8 + bytes),
 *		into the last pipe write end kept, which is then closed
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
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backend.h"
#include "bugs.h"
#include "common/util.h"
#include "fe/frame.h"
#include "fuzz_util.h"
#include "ring/vq.h"
#include "transport/chan.h"
#include "transport/fdzoo.h"
#include "wire/vhost_user.h"

#define MAX_OPS 24
#define MAX_OWN 96
#define GUEST_SIZE 0x100000u /* what vu-conform's front-end maps */
#define BLK_SIZE 8192u

/* The fd kinds an input can ask for (high nibble of the fds byte). */
enum fdk {
	FDK_DEFAULT,
	FDK_EVENTFD,
	FDK_PIPE_R,
	FDK_PIPE_W,
	FDK_PKT_PIPE_R,
	FDK_PKT_PIPE_W,
	FDK_MEMFD,
	FDK_MEMFD_EMPTY,
	FDK_MEMFD_SEALED,
	FDK_SOCKET,
	FDK_SOCKET_WIDOWED,
	FDK_DEV_NULL,
	FDK_DEV_FULL,
	FDK_WIDOWED_PIPE_W,
	FDK_GUEST,
	FDK_WIDOWED_PIPE_R,
};

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
static bool save_bad;	 /* a SAVE went to an fd that cannot take it */
static bool guest_dirty; /* guest memory was written or handed over */

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
	static const struct backend_conf confs[4] = {
		{ .device = BACKEND_DEV_NET, .queues = 1 },
		{ .device = BACKEND_DEV_BLK,
		  .queues = 1,
		  .blk_size = BLK_SIZE },
		{ .device = BACKEND_DEV_NET, .queues = 2 },
		{ .device = BACKEND_DEV_BLK,
		  .queues = 2,
		  .blk_size = BLK_SIZE },
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

/* A new fd of @k to send; our copy and any other end are kept. */
static int make_fd(enum fdk k)
{
	static const struct {
		enum fdzoo_kind kind;
		size_t size;
	} map[] = {
		[FDK_EVENTFD] = { FDZOO_EVENTFD, 0 },
		[FDK_PIPE_R] = { FDZOO_PIPE_READ, 0 },
		[FDK_PIPE_W] = { FDZOO_PIPE_WRITE, 0 },
		[FDK_PKT_PIPE_R] = { FDZOO_PACKET_PIPE_READ, 0 },
		[FDK_PKT_PIPE_W] = { FDZOO_PACKET_PIPE_WRITE, 0 },
		[FDK_MEMFD] = { FDZOO_MEMFD, 0x4000 },
		[FDK_MEMFD_EMPTY] = { FDZOO_MEMFD, 0 },
		[FDK_MEMFD_SEALED] = { FDZOO_MEMFD_SEALED, GUEST_SIZE },
		[FDK_SOCKET] = { FDZOO_SOCKET, 0 },
		[FDK_SOCKET_WIDOWED] = { FDZOO_SOCKET, 0 },
		[FDK_DEV_NULL] = { FDZOO_DEV_NULL, 0 },
		[FDK_DEV_FULL] = { FDZOO_DEV_FULL, 0 },
		[FDK_WIDOWED_PIPE_W] = { FDZOO_WIDOWED_PIPE_WRITE, 0 },
		[FDK_WIDOWED_PIPE_R] = { FDZOO_WIDOWED_PIPE_READ, 0 },
	};
	int fd, other = -1;

	if (k == FDK_GUEST || k == FDK_DEFAULT) {
		guest_dirty = true;
		return guest_fd; /* shared, never closed per exec */
	}
	if (nown + 2 > MAX_OWN)
		return -1;
	fd = fdzoo_new(map[k].kind, map[k].size, &other);
	if (fd < 0)
		return -1;
	keep(fd, OWN_SENT, map[k].kind);
	if (other >= 0) {
		if (k == FDK_SOCKET_WIDOWED)
			close(other);
		else
			keep(other,
			     map[k].kind == FDZOO_PIPE_READ ||
					     map[k].kind ==
						     FDZOO_PACKET_PIPE_READ
				     ? OWN_PEER_W
				     : OWN_PEER,
			     FDZOO_OTHER);
	}
	return fd;
}

/* The kind a request wants when the input does not say. */
static enum fdk default_kind(uint32_t code, const uint8_t *payload)
{
	uint32_t dir;

	switch (code) {
	case VHOST_USER_SET_MEM_TABLE:
	case VHOST_USER_ADD_MEM_REG:
	case VHOST_USER_REM_MEM_REG:
		return FDK_GUEST;
	case VHOST_USER_SET_LOG_BASE:
	case VHOST_USER_SET_INFLIGHT_FD:
		return FDK_MEMFD;
	case VHOST_USER_SET_BACKEND_REQ_FD:
	case VHOST_USER_GPU_SET_SOCKET:
		/* widowed: a request on it fails at once, never waits */
		return FDK_SOCKET_WIDOWED;
	case VHOST_USER_SET_DEVICE_STATE_FD:
		memcpy(&dir, payload, sizeof(dir));
		return dir == VHOST_USER_TRANSFER_STATE_DIRECTION_LOAD
			       ? FDK_PIPE_R
			       : FDK_PIPE_W;
	default:
		return FDK_EVENTFD;
	}
}

/* How many fds the rule wants with this payload. */
static unsigned int default_nfds(const struct vhost_user_rule *r,
				 const struct vhost_user_msg *m)
{
	uint64_t u64;
	uint32_t n;

	if (!r)
		return 0;
	switch (r->fds) {
	case VHOST_USER_FDS_ONE:
	case VHOST_USER_FDS_OPTIONAL:
		return 1;
	case VHOST_USER_FDS_ONE_UNLESS_NOFD:
		memcpy(&u64, m->payload, sizeof(u64));
		return u64 & VHOST_USER_VRING_NOFD_MASK ? 0 : 1;
	case VHOST_USER_FDS_PER_REGION:
		memcpy(&n, m->payload, sizeof(n));
		return n > VHOST_USER_MAX_FDS ? VHOST_USER_MAX_FDS : n;
	case VHOST_USER_FDS_ONE_IF_FEATURE:
		return be->proto >> r->fd_feature & 1;
	default:
		return 0;
	}
}

/* ---- the message ------------------------------------------------------------- */

/* Payload from the input, shaped by the rule; returns its size. */
static uint32_t build_payload(struct fz_in *in, const struct vhost_user_rule *r,
			      uint8_t *p)
{
	uint32_t n, size, off;

	if (!r)
		size = fz_u8(in);
	else if (r->size_rule == VHOST_USER_SIZE_MEM_TABLE) {
		n = fz_u8(in) % (VHOST_USER_MAX_MEM_REGIONS + 1);
		memcpy(p, &n, sizeof(n));
		memset(p + 4, 0, 4);
		fz_bytes(in, p + 8, n * sizeof(struct vhost_user_mem_region));
		return 8 + n * (uint32_t)sizeof(struct vhost_user_mem_region);
	} else if (r->size_rule == VHOST_USER_SIZE_MEM_REGION) {
		size = sizeof(struct vhost_user_single_mem_region);
	} else if (r->size_rule == VHOST_USER_SIZE_CONFIG) {
		off = fz_u32(in);
		n = fz_u8(in);
		memcpy(p, &off, 4);
		memcpy(p + 4, &n, 4);
		fz_bytes(in, p + 8, 4 + n);
		return VHOST_USER_CONFIG_HDR_SIZE + n;
	} else {
		size = r->size;
	}
	if (size > VHOST_USER_PAYLOAD_MAX)
		size = VHOST_USER_PAYLOAD_MAX;
	fz_bytes(in, p, size);
	return size;
}

/* Is this request, as sent, something no back-end may carry out? */
static bool must_fail(const struct vhost_user_msg *m, unsigned int nfds_sent,
		      uint64_t proto)
{
	const struct vhost_user_rule *r;
	struct vhost_user_msg c = *m;
	uint32_t index;
	uint64_t u64;

	if (nfds_sent > VHOST_USER_MAX_FDS)
		return true; /* the rest were dropped: it is not whole */
	if (vhost_user_check_request(&c, VHOST_USER_FROM_FRONTEND, proto,
				     NULL) < 0)
		return true;
	r = vhost_user_rule_find(VHOST_USER_FROM_FRONTEND, m->hdr.request);
	if (r && (r->flags & VHOST_USER_RULE_VRING_INDEX)) {
		if (r->layout == VHOST_USER_LAYOUT_VRING_FD) {
			memcpy(&u64, m->payload, sizeof(u64));
			index = (uint32_t)(u64 & VHOST_USER_VRING_IDX_MASK);
		} else {
			memcpy(&index, m->payload, sizeof(index));
		}
		if (index >= be->nvrings)
			return true;
	}
	return false;
}

/* A region that runs past the end of its file cannot be mapped. */
static bool maps_past_eof(const struct vhost_user_msg *m)
{
	struct vhost_user_mem_region reg;
	unsigned int i, n = 0, at = 8;
	struct stat st;

	if (m->hdr.request == VHOST_USER_SET_MEM_TABLE)
		memcpy(&n, m->payload, sizeof(n));
	else if (m->hdr.request == VHOST_USER_ADD_MEM_REG)
		n = 1;
	for (i = 0; i < n && i < m->nfds; i++, at += sizeof(reg)) {
		memcpy(&reg, m->payload + at, sizeof(reg));
		if (fstat(m->fds[i], &st) < 0 || !S_ISREG(st.st_mode))
			continue;
		if (reg.mmap_offset + reg.size < reg.mmap_offset ||
		    reg.mmap_offset + reg.size > (uint64_t)st.st_size)
			return true;
	}
	return false;
}

/* Does this reply say "done" (rather than "failed")? */
static bool reply_success(const struct vhost_user_msg *rep)
{
	uint64_t v = 0;

	switch (rep->hdr.request) {
	case VHOST_USER_GET_CONFIG:
		return rep->hdr.size != 0;
	case VHOST_USER_SET_DEVICE_STATE_FD:
		memcpy(&v, rep->payload, sizeof(v));
		return rep->hdr.size == 8 &&
		       !(v & VHOST_USER_DEVICE_STATE_STATUS_MASK);
	default:
		if (rep->hdr.size != 8)
			return true; /* a body: the request was carried out */
		memcpy(&v, rep->payload, sizeof(v));
		return v == 0;
	}
}

static int base_guarded(struct backend *b, void *arg)
{
	uint32_t *idx = arg;

	*idx = vring_get_base(b, &b->vq[*idx]);
	return 0;
}

struct sent {
	struct vhost_user_msg m; /* as sent (fds: numbers only) */
	unsigned int nfds;	 /* as sent, possibly more than m.nfds */
	enum fdzoo_kind kind;	 /* of the first fd */
	uint64_t proto;		 /* in force when it was sent */
	bool fail;		 /* must not succeed */
	uint8_t config[BACKEND_CONFIG_SIZE];
};

/* Judge the replies to @s and the state it left. */
static void judge(const struct sent *s, struct vhost_user_msg *reps,
		  unsigned int nrep)
{
	const struct vhost_user_hdr *h = &s->m.hdr;
	const struct vhost_user_rule *r;
	const char *why = NULL;
	unsigned int i;
	uint32_t index;
	bool ack_form;
	int expect;

	expect = vhost_user_reply_expected(VHOST_USER_FROM_FRONTEND, h,
					   s->proto);
	if (nrep > 1)
		fz_fail("%u replies to request %u", nrep, h->request);
	if (!be->closed && expect == 1 && nrep == 0)
		fz_fail("no reply to request %u (flags 0x%x), one is due",
			h->request, h->flags);
	if (expect == 0 && nrep && !s->fail)
		fz_fail("a reply to request %u (flags 0x%x), none is due",
			h->request, h->flags);
	r = vhost_user_rule_find(VHOST_USER_FROM_FRONTEND, h->request);
	/* an IF_FEATURE request without its feature is answered with an
	 * ack, which check_reply() (it is not told the features) would
	 * take for a short body */
	ack_form = r && r->reply == VHOST_USER_REPLY_IF_FEATURE &&
		   !(s->proto >> r->reply_feature & 1);
	for (i = 0; i < nrep; i++) {
		if (!(ack_form && reps[i].hdr.size == 8) &&
		    vhost_user_check_reply(VHOST_USER_FROM_FRONTEND, h,
					   &reps[i], &why) < 0 &&
		    expect >= 0)
			fz_fail("reply to request %u: %s", h->request, why);
		if (s->fail && reply_success(&reps[i]))
			fz_fail("request %u must fail, yet it was answered "
				"with success",
				h->request);
		if (h->request == VHOST_USER_SET_VRING_CALL && !s->fail &&
		    s->nfds == 1 &&
		    (s->kind == FDZOO_EVENTFD || s->kind == FDZOO_PIPE_WRITE ||
		     s->kind == FDZOO_SOCKET) &&
		    reps[i].hdr.size == 8 && !reply_success(&reps[i]))
			fz_fail("SET_VRING_CALL with a legal fd was refused");
		if (h->request == VHOST_USER_CHECK_DEVICE_STATE && save_bad &&
		    reply_success(&reps[i]))
			fz_fail("CHECK_DEVICE_STATE says 0 after a SAVE into "
				"an fd that fails writes");
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
	    reply_success(&reps[0])) {
		uint32_t dir;

		memcpy(&dir, s->m.payload, sizeof(dir));
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
	    memcmp(s->config, be->config, sizeof(s->config)))
		fz_fail("SET_CONFIG without the live-migration flag changed "
			"the config space (every field is read-only)");
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

static int op_msg(struct fz_in *in, bool split)
{
	static struct vhost_user_msg reps[3];
	static struct sent s;
	const struct vhost_user_rule *r;
	uint8_t buf[VHOST_USER_MSG_MAX];
	int fds[12];
	uint32_t code, size;
	unsigned int nfds, i, nrep;
	enum fdk kind;
	uint8_t flags, cut = 0;
	size_t len;
	int ret;

	if (split)
		cut = fz_u8(in);
	code = fz_u8(in);
	flags = fz_u8(in);
	r = vhost_user_rule_find(VHOST_USER_FROM_FRONTEND, code);
	vhost_user_msg_init(&s.m);
	s.m.hdr.request = code;
	s.m.hdr.flags = VHOST_USER_VERSION;
	if (flags & 0x01)
		s.m.hdr.flags |= VHOST_USER_NEED_REPLY_MASK;
	if (flags & 0x08)
		s.m.hdr.flags = (s.m.hdr.flags & ~VHOST_USER_VERSION_MASK) |
				((flags >> 4) & 3);
	if (flags & 0x40)
		s.m.hdr.flags |= VHOST_USER_REPLY_MASK;
	if (flags & 0x80)
		s.m.hdr.flags |= 1u << 31;
	size = (flags & 0x02) ? fz_u16(in) : 0;
	nfds = 0;
	kind = FDK_DEFAULT;
	if (flags & 0x04) {
		uint8_t f = fz_u8(in);

		nfds = f & 0x0f;
		if (nfds > ARRAY_SIZE(fds))
			nfds = ARRAY_SIZE(fds);
		kind = f >> 4;
	}
	if (flags & 0x02) {
		/* as the input says: traces replay this way */
		s.m.hdr.size = size;
		fz_bytes(in, s.m.payload,
			 VUC_MIN(size, VHOST_USER_PAYLOAD_MAX));
	} else {
		s.m.hdr.size = build_payload(in, r, s.m.payload);
	}
	if (!(flags & 0x04))
		nfds = default_nfds(r, &s.m);
	if (kind == FDK_DEFAULT)
		kind = default_kind(code, s.m.payload);
	for (i = 0; i < nfds; i++) {
		fds[i] = make_fd(kind);
		if (fds[i] < 0)
			break;
	}
	nfds = i;
	s.nfds = nfds;
	s.kind = nfds ? fdzoo_kind_of(fds[0]) : FDZOO_CLOSED;
	vhost_user_msg_attach_fds(&s.m, fds, VUC_MIN(nfds, VHOST_USER_MAX_FDS));
	s.proto = be->proto;
	s.fail = must_fail(&s.m, nfds, s.proto) || maps_past_eof(&s.m);
	memcpy(s.config, be->config, sizeof(s.config));

	/* the bytes: the header, and what the size says (when it fits) */
	len = VHOST_USER_HDR_SIZE;
	memcpy(buf, &s.m.hdr, VHOST_USER_HDR_SIZE);
	if (s.m.hdr.size <= VHOST_USER_PAYLOAD_MAX) {
		memcpy(buf + len, s.m.payload, s.m.hdr.size);
		len += s.m.hdr.size;
	}
	if (split && len > 1) {
		/* a stream socket read stops where fds ride: the reader
		 * sees the message in two parts */
		struct chan_chunk c[2] = {
			{ .buf = buf, .len = 1 + cut % (len - 1) },
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
	pump();
	nrep = collect(reps, ARRAY_SIZE(reps));
	judge(&s, reps, VUC_MIN(nrep, ARRAY_SIZE(reps)));
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

static void op_kick(struct fz_in *in)
{
	unsigned int i, want = fz_u8(in), seen = 0;
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

static void op_guest(struct fz_in *in)
{
	uint16_t off = fz_u16(in);
	uint8_t len = fz_u8(in);

	if ((size_t)off + len > GUEST_SIZE)
		len = (uint8_t)(GUEST_SIZE - off);
	fz_bytes(in, guest + off, len);
	guest_dirty = true;
}

static void op_shrink(struct fz_in *in)
{
	int i = last_own(OWN_SENT, true);
	uint8_t n = fz_u8(in);

	if (i >= 0 && ftruncate(own[i].fd, (off_t)n * 256) == 0)
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

static void op_feed(struct fz_in *in)
{
	int i = last_own(OWN_PEER_W, false);
	uint8_t mode = fz_u8(in), data[256], *blob = NULL;
	size_t len = 0;
	ssize_t w;

	if (mode & 1) {
		if (state_save_blob(be, &blob, &len) < 0)
			return;
	} else {
		len = fz_u8(in);
		fz_bytes(in, data, len);
	}
	if (i >= 0) {
		harness_writing = 1;
		w = write(own[i].fd, blob ? blob : data, len);
		harness_writing = 0;
		(void)w;
		close_fd(&own[i].fd);
	}
	free(blob);
	pump();
}

static void op_raw(struct fz_in *in)
{
	uint8_t buf[256];
	uint8_t len = fz_u8(in);

	fz_bytes(in, buf, len);
	if (len)
		chan_send_buf(fe, buf, len, NULL, 0,
			      chan_deadline(CHAN_NOWAIT));
	shutdown(fe, SHUT_WR);
	pump();
	collect(NULL, 0);
}

/* ---- one input ---------------------------------------------------------------- */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_in in = { data, size };
	unsigned int i, ops;
	int sv[2], n;
	uint8_t setup;

	if (!guest)
		LLVMFuzzerInitialize(NULL, NULL);
	if (!size)
		return 0;
	/* counted per input: libFuzzer opens files between inputs */
	base_fds = fz_count_fds();
	setup = fz_u8(&in);
	be = backends[setup & 3];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		abort();
	backend_attach(be, sv[0]);
	fe = sv[1];
	nown = 0;
	save_bad = false;
	/* the same memory every input, zeroed when a session could have
	 * touched it: a hole punched frees only the pages in use */
	if (guest_dirty &&
	    fallocate(guest_fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0,
		      GUEST_SIZE) < 0)
		memset(guest, 0, GUEST_SIZE);
	guest_dirty = false;

	for (ops = 0; in.n && ops < MAX_OPS; ops++) {
		uint8_t o = fz_u8(&in) % 16;

		if (o < 10) {
			if (op_msg(&in, o == 9) < 0)
				break;
		} else if (o == 10) {
			op_kick(&in);
		} else if (o == 11) {
			op_guest(&in);
		} else if (o == 12) {
			op_shrink(&in);
		} else if (o == 13) {
			op_close();
		} else if (o == 14) {
			op_raw(&in);
			break;
		} else {
			op_feed(&in);
		}
		collect(NULL, 0);
		if (be->closed)
			break;
	}

	backend_detach(be);
	close_fd(&fe);
	for (i = 0; i < nown; i++)
		close_fd(&own[i].fd);
	n = fz_count_fds();
	if (n != base_fds)
		fz_fail("%d fds open after the session, %d before: the "
			"back-end leaked %d",
			n, base_fds, n - base_fds);
	return 0;
}
