// SPDX-License-Identifier: MIT
/*
 * check_ref_vhost_reuse.c - what the reference back-end does for an
 * in-process caller that runs many sessions fast (fuzz/vhost_backend.c):
 * backend_release() hands a clean connection back for the next session,
 * conf.wait_max_ms bounds every wait for the peer, the memory table and
 * request state are reused from message to message, and the notifier /
 * channel fd checks still tell every kind apart.
 *
 * Every test counts this process's fds before and after.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "backend.h"
#include "bugs.h"
#include "common/util.h"
#include "fe/frame.h"
#include "transport/chan.h"
#include "transport/fdzoo.h"
#include "transport/sock.h"

#define F(bit) (UINT64_C(1) << (bit))

static struct backend *be;
static int fe = -1;
static int fds_at_start;

static void begin(enum backend_device dev, unsigned int wait_max_ms)
{
	struct backend_conf conf = { .device = dev,
				     .queues = 1,
				     .blk_size = 4096,
				     .wait_max_ms = wait_max_ms };
	int sv[2];

	bug_clear_all();
	fds_at_start = fdzoo_count_open(0);
	ck_assert_int_eq(backend_new(&be, &conf), 0);
	ck_assert_int_eq(sock_pair(sv), 0);
	fe = sv[0];
	backend_attach(be, sv[1]);
}

static void end(void)
{
	backend_free(be);
	be = NULL;
	close_fd(&fe);
	ck_assert_int_eq(fdzoo_count_open(0), fds_at_start);
}

/* Handle what was sent: it is all there already, so no poll waits. */
static void run(struct backend *b)
{
	int i;

	for (i = 0; i < 16 && !b->closed; i++)
		if (backend_poll_once(b, chan_deadline(0)) <= 0)
			break;
}

/* Send @m (need_reply when @ack) to @b; its u64 answer, or -1 if none. */
static int64_t ask(struct backend *b, struct vhost_user_msg *m, bool ack)
{
	struct vhost_user_msg r;
	uint64_t v = 0;

	if (ack)
		m->hdr.flags |= VHOST_USER_NEED_REPLY;
	ck_assert_int_ge(frame_vhost_send(fe, m, FRAME_WHOLE, chan_deadline(0)),
			 0);
	run(b);
	if (frame_vhost_recv(fe, &r, chan_deadline(0), NULL, NULL) < 0)
		return -1;
	close_fds(r.fds, r.nfds);
	ck_assert_uint_eq(r.hdr.request, m->hdr.request);
	ck_assert_int_eq(vhost_user_get_u64(&r, &v, NULL), 0);
	return (int64_t)v;
}

static int64_t ask_empty(struct backend *b, uint32_t code)
{
	struct vhost_user_msg m;

	vhost_user_build_empty(&m, code);
	return ask(b, &m, false);
}

/* An fd request with need_reply; @fd is sent, not taken. */
static int64_t ask_fd(uint32_t code, uint64_t val, int fd)
{
	struct vhost_user_msg m;

	if (code == VHOST_USER_SET_BACKEND_REQ_FD)
		vhost_user_build_empty(&m, code); /* the fd is all it has */
	else
		vhost_user_build_u64(&m, code, val);
	vhost_user_msg_attach_fds(&m, &fd, 1);
	return ask(be, &m, true);
}

/* PROTOCOL_FEATURES with REPLY_ACK and @more, then VERSION_1. */
static void negotiate(uint64_t more)
{
	struct vhost_user_msg m;

	ck_assert_int_ge(ask_empty(be, VHOST_USER_GET_FEATURES), 0);
	ck_assert_int_ge(ask_empty(be, VHOST_USER_GET_PROTOCOL_FEATURES), 0);
	vhost_user_build_u64(&m, VHOST_USER_SET_PROTOCOL_FEATURES,
			     VHOST_USER_PROTO_BIT(REPLY_ACK) | more);
	ck_assert_int_eq(ask(be, &m, false), -1);
	vhost_user_build_u64(&m, VHOST_USER_SET_FEATURES,
			     F(VHOST_USER_F_PROTOCOL_FEATURES) |
				     F(VIRTIO_F_VERSION_1));
	ck_assert_int_eq(ask(be, &m, true), 0);
	ck_assert(!be->closed);
}

/* One region of a new memfd of @size at @gpa; return the fd sent. */
static int64_t set_mem(uint64_t gpa, uint64_t size, int *fd)
{
	struct vhost_user_mem_region r = { .guest_addr = gpa,
					   .size = size,
					   .user_addr = 0x7f0000000000 + gpa };
	struct vhost_user_msg m;

	*fd = fdzoo_memfd(size, 0);
	ck_assert_int_ge(*fd, 0);
	vhost_user_build_mem_table(&m, VHOST_USER_SET_MEM_TABLE, &r, 1);
	vhost_user_msg_attach_fds(&m, fd, 1);
	return ask(be, &m, true);
}

START_TEST(test_release_clean)
{
	struct backend *other;
	struct backend_conf conf = { .device = BACKEND_DEV_BLK,
				     .queues = 1,
				     .blk_size = 4096 };
	int efd, mfd, conn;

	begin(BACKEND_DEV_NET, 0);
	ck_assert_int_eq(backend_new(&other, &conf), 0);
	negotiate(0);
	ck_assert_int_eq(set_mem(0x10000, 0x4000, &mfd), 0);
	efd = fdzoo_eventfd(0, 0);
	ck_assert_int_eq(ask_fd(VHOST_USER_SET_VRING_CALL, 0, efd), 0);
	close(mfd);
	close(efd);
	/* the back-end holds its copies of the memfd and the eventfd */
	ck_assert_int_eq(fdzoo_count_open(0), fds_at_start + 4);

	conn = backend_release(be);
	ck_assert_int_ge(conn, 0);
	ck_assert(be->closed);
	ck_assert_int_eq(be->conn, -1);
	ck_assert_uint_eq(be->proto, 0);
	ck_assert_uint_eq(be->features, 0);
	ck_assert_uint_eq(be->mem->n, 0);
	ck_assert_int_eq(be->vq[0].call_fd, -1);
	/* only the connection is left, both ends */
	ck_assert_int_eq(fdzoo_count_open(0), fds_at_start + 2);

	/* the next session, of another back-end, on the same socket: it
	 * starts from nothing (no REPLY_ACK: no ack to need_reply) */
	backend_attach(other, conn);
	ck_assert_int_eq(ask_empty(other, VHOST_USER_GET_FEATURES),
			 (int64_t)other->features_offered);
	{
		struct vhost_user_msg m;

		vhost_user_build_vring_state(&m, VHOST_USER_SET_VRING_NUM, 0,
					     64);
		ck_assert_int_eq(ask(other, &m, true), -1);
		ck_assert_uint_eq(other->vq[0].num, 64);
	}
	ck_assert(!other->closed);
	backend_free(other);
	end();
}
END_TEST

START_TEST(test_release_after_hangup)
{
	int mfd;

	begin(BACKEND_DEV_NET, 0);
	negotiate(0);
	ck_assert_int_eq(set_mem(0x10000, 0x4000, &mfd), 0);
	close(mfd);
	close_fd(&fe);
	run(be);
	ck_assert(be->closed);
	/* nothing to hand back; the session's fds are closed all the same */
	ck_assert_int_eq(backend_release(be), -1);
	ck_assert_int_eq(fdzoo_count_open(0), fds_at_start);
	end();
}
END_TEST

/* conf.wait_max_ms: no wait for the peer outlasts it. */
START_TEST(test_wait_max)
{
	struct vhost_user_msg m;
	int64_t t0, v;
	int p[2];

	begin(BACKEND_DEV_NET, 5);
	negotiate(VHOST_USER_PROTO_BIT(DEVICE_STATE));
	/* a LOAD whose write end we keep open and never write */
	ck_assert_int_eq(fdzoo_pipe(p, 0), 0);
	vhost_user_build_device_state(&m, VHOST_USER_SET_DEVICE_STATE_FD,
				      VHOST_USER_TRANSFER_STATE_DIRECTION_LOAD,
				      0);
	vhost_user_msg_attach_fds(&m, &p[0], 1);
	ck_assert_int_eq(ask(be, &m, false), VHOST_USER_VRING_NOFD_MASK);
	t0 = chan_now();
	v = ask_empty(be, VHOST_USER_CHECK_DEVICE_STATE);
	/* unfinished: a failure, after 5 ms instead of the 2 s default */
	ck_assert_int_ne(v, 0);
	ck_assert_int_ge(v, 0);
	ck_assert_int_lt(chan_now() - t0, 500 * 1000000LL);
	close_fds(p, 2);

	/* a header that promises 8 bytes, and nothing after it */
	vhost_user_build_u64(&m, VHOST_USER_SET_FEATURES, 0);
	t0 = chan_now();
	ck_assert_int_ge(chan_send_buf(fe, &m.hdr, VHOST_USER_HDR_SIZE, NULL, 0,
				       chan_deadline(0)),
			 0);
	run(be);
	ck_assert(be->closed);
	ck_assert_int_lt(chan_now() - t0, 500 * 1000000LL);
	end();
}
END_TEST

/* The spare table: a new SET_MEM_TABLE replaces the old one, fds too. */
START_TEST(test_mem_table_swap)
{
	int a, b, c;

	begin(BACKEND_DEV_NET, 0);
	negotiate(0);
	ck_assert_int_eq(set_mem(0x10000, 0x4000, &a), 0);
	ck_assert_int_eq(set_mem(0x80000, 0x8000, &b), 0);
	ck_assert_uint_eq(be->mem->n, 1);
	ck_assert_uint_eq(be->mem->r[0].gpa, 0x80000);
	ck_assert_uint_eq(be->mem->r[0].size, 0x8000);
	/* ours (a, b), the back-end's copy of b; its copy of a is closed */
	ck_assert_int_eq(fdzoo_count_open(0), fds_at_start + 2 + 3);
	/* a refused table (size 0) keeps the one in place */
	{
		struct vhost_user_mem_region r = { .guest_addr = 0x100000 };
		struct vhost_user_msg m;

		c = fdzoo_memfd(0x1000, 0);
		vhost_user_build_mem_table(&m, VHOST_USER_SET_MEM_TABLE, &r, 1);
		vhost_user_msg_attach_fds(&m, &c, 1);
		ck_assert_int_gt(ask(be, &m, true), 0);
	}
	ck_assert_uint_eq(be->mem->n, 1);
	ck_assert_uint_eq(be->mem->r[0].gpa, 0x80000);
	close(a);
	ck_assert_int_eq(set_mem(0x10000, 0x4000, &a), 0);
	ck_assert_uint_eq(be->mem->r[0].gpa, 0x10000);
	close(a);
	close(b);
	close(c);
	end();
}
END_TEST

/* An fd, and whether the back-end takes it as a kick, call, channel. */
struct kind_case {
	const char *what;
	int fd, other;
	bool kick, call, channel;
};

/* Each kind of fd, as a kick, a call and the back-end channel. */
START_TEST(test_notifier_kinds)
{
	struct kind_case k[9];
	char path[64];
	unsigned int i, n = 0;
	int p[2];

	begin(BACKEND_DEV_NET, 0);
	negotiate(VHOST_USER_PROTO_BIT(BACKEND_REQ));
	k[n++] = (struct kind_case){ "eventfd", fdzoo_eventfd(0, 0),
				     -1,	true,
				     true,	false };
	ck_assert_int_eq(fdzoo_pipe(p, 0), 0);
	k[n++] = (struct kind_case){ "pipe read end", p[0], -1, true,
				     false,	      false };
	k[n++] = (struct kind_case){
		"pipe write end", p[1], -1, false, true, false
	};
	k[n] = (struct kind_case){ "socket", -1, -1, true, true, true };
	k[n].fd = fdzoo_socket(&k[n].other);
	n++;
	/* a FIFO opened both ways is neither end */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", p[0]);
	k[n++] = (struct kind_case){
		"fifo O_RDWR", open(path, O_RDWR), -1, false, false, false
	};
	k[n++] = (struct kind_case){ "O_PATH", fdzoo_opath(), -1,
				     false,    false,	      false };
	k[n++] = (struct kind_case){ "/dev/null", fdzoo_dev_null(),
				     -1,	  false,
				     false,	  false };
	k[n++] = (struct kind_case){ "memfd", fdzoo_memfd(4096, 0),
				     -1,      false,
				     false,   false };
	k[n++] = (struct kind_case){ "directory", fdzoo_dir(), -1,
				     false,	  false,       false };
	for (i = 0; i < n; i++) {
		ck_assert_msg(k[i].fd >= 0, "%s", k[i].what);
		ck_assert_msg((ask_fd(VHOST_USER_SET_VRING_KICK, 0, k[i].fd) ==
			       0) == k[i].kick,
			      "kick: %s", k[i].what);
		ck_assert_msg((ask_fd(VHOST_USER_SET_VRING_CALL, 0, k[i].fd) ==
			       0) == k[i].call,
			      "call: %s", k[i].what);
		ck_assert_msg((ask_fd(VHOST_USER_SET_BACKEND_REQ_FD, 0,
				      k[i].fd) == 0) == k[i].channel,
			      "channel: %s", k[i].what);
		ck_assert(!be->closed);
	}
	backend_detach(be);
	for (i = 0; i < n; i++) {
		close_fd(&k[i].fd);
		close_fd(&k[i].other);
	}
	end();
}
END_TEST

static Suite *reuse_suite(void)
{
	Suite *s = suite_create("ref_vhost_reuse");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_release_clean);
	tcase_add_test(tc, test_release_after_hangup);
	tcase_add_test(tc, test_wait_max);
	tcase_add_test(tc, test_mem_table_swap);
	tcase_add_test(tc, test_notifier_kinds);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(reuse_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
