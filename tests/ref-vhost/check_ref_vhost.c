// SPDX-License-Identifier: MIT
/*
 * check_ref_vhost.c - the reference vhost-user back-end, driven in process:
 * a socketpair, the library's backend_handle() / backend_poll_once(), and
 * the ring engine's driver side in a memfd shared with it.
 *
 * Every test counts this process's fds before and after: a refused
 * request must leave no fd behind.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backend.h"
#include "bugs.h"
#include "common/util.h"
#include "fe/frame.h"
#include "ring/packed.h"
#include "ring/split.h"
#include "transport/chan.h"
#include "transport/fdzoo.h"
#include "transport/sock.h"

#define F(bit) (UINT64_C(1) << (bit))
#define MEM_SIZE (UINT64_C(1) << 20)
#define QSIZE 64

static struct backend *be;
static int fe = -1;
static struct gmem fe_mem;
static int fds_before;

static void start(enum backend_device dev, unsigned int queues)
{
	struct backend_conf conf = { .device = dev,
				     .queues = queues,
				     .blk_size = 1 << 20 };
	int sv[2];

	bug_clear_all();
	fds_before = fdzoo_count_open(0);
	ck_assert_int_eq(backend_new(&be, &conf), 0);
	ck_assert_int_eq(sock_pair(sv), 0);
	fe = sv[0];
	backend_attach(be, sv[1]);
	gmem_init(&fe_mem);
}

static void finish(void)
{
	backend_free(be);
	be = NULL;
	close_fd(&fe);
	gmem_clear(&fe_mem);
	bug_clear_all();
	ck_assert_int_eq(fdzoo_count_open(0), fds_before);
}

/* Let the back-end handle what is pending (bounded). */
static void pump(void)
{
	int i;

	/* What was sent is there already: only the first poll may wait. */
	for (i = 0; i < 20 && !be->closed; i++)
		if (backend_poll_once(be, chan_deadline(i ? 0 : 50)) <= 0)
			break;
}

static void send_msg(struct vhost_user_msg *m)
{
	ck_assert_int_ge(
		frame_vhost_send(fe, m, FRAME_WHOLE, chan_deadline(500)), 0);
	pump();
}

/* Whether a reply is waiting on the front-end's side. */
static bool reply_waiting(void)
{
	return chan_poll(fe, chan_deadline(0)) > 0 &&
	       (chan_poll(fe, chan_deadline(0)) & CHAN_POLL_DATA);
}

static void recv_reply(struct vhost_user_msg *r)
{
	ck_assert_int_ge(
		frame_vhost_recv(fe, r, chan_deadline(500), NULL, NULL), 0);
	ck_assert(r->hdr.flags & VHOST_USER_REPLY_MASK);
}

/* Send with need_reply; return the u64 ack (or body u64). */
static uint64_t acked(struct vhost_user_msg *m)
{
	struct vhost_user_msg r;
	uint64_t v = ~UINT64_C(0);

	m->hdr.flags |= VHOST_USER_NEED_REPLY;
	send_msg(m);
	recv_reply(&r);
	ck_assert_uint_eq(r.hdr.request, m->hdr.request);
	ck_assert_int_eq(vhost_user_get_u64(&r, &v, NULL), 0);
	close_fds(r.fds, r.nfds);
	return v;
}

static uint64_t get_u64_req(uint32_t code)
{
	struct vhost_user_msg m, r;
	uint64_t v = 0;

	vhost_user_build_empty(&m, code);
	send_msg(&m);
	recv_reply(&r);
	ck_assert_int_eq(vhost_user_get_u64(&r, &v, NULL), 0);
	return v;
}

static uint64_t ack_u64(uint32_t code, uint64_t val)
{
	struct vhost_user_msg m;

	vhost_user_build_u64(&m, code, val);
	return acked(&m);
}

static uint64_t ack_state(uint32_t code, uint32_t index, uint32_t num)
{
	struct vhost_user_msg m;

	vhost_user_build_vring_state(&m, code, index, num);
	return acked(&m);
}

static uint64_t ack_fd(uint32_t code, uint64_t val, int fd)
{
	struct vhost_user_msg m;

	vhost_user_build_u64(&m, code, val);
	if (fd >= 0)
		vhost_user_msg_attach_fds(&m, &fd, 1);
	return acked(&m);
}

#define PROTO_DEFAULT                                                  \
	(VHOST_USER_PROTO_BIT(REPLY_ACK) | VHOST_USER_PROTO_BIT(MQ) |  \
	 VHOST_USER_PROTO_BIT(CONFIG) | VHOST_USER_PROTO_BIT(STATUS) | \
	 VHOST_USER_PROTO_BIT(LOG_SHMFD) |                             \
	 VHOST_USER_PROTO_BIT(INFLIGHT_SHMFD) |                        \
	 VHOST_USER_PROTO_BIT(RESET_DEVICE) |                          \
	 VHOST_USER_PROTO_BIT(CONFIGURE_MEM_SLOTS) |                   \
	 VHOST_USER_PROTO_BIT(DEVICE_STATE))

static void negotiate(uint64_t features, uint64_t proto)
{
	struct vhost_user_msg m;
	uint64_t offered = get_u64_req(VHOST_USER_GET_FEATURES);

	ck_assert(offered & F(VHOST_USER_F_PROTOCOL_FEATURES));
	ck_assert_uint_eq(get_u64_req(VHOST_USER_GET_PROTOCOL_FEATURES) & proto,
			  proto);
	vhost_user_build_u64(&m, VHOST_USER_SET_PROTOCOL_FEATURES, proto);
	send_msg(&m);
	ck_assert(!be->closed);
	ck_assert_uint_eq(ack_u64(VHOST_USER_SET_FEATURES,
				  features | F(VHOST_USER_F_PROTOCOL_FEATURES) |
					  F(VIRTIO_F_VERSION_1)),
			  0);
}

static uint64_t fe_uva(uint64_t gpa)
{
	return fe_mem.r[0].uaddr + gpa - fe_mem.r[0].gpa;
}

static void mem_table(void)
{
	struct vhost_user_mem_region r;
	struct vhost_user_msg m;
	unsigned int idx;

	ck_assert_int_eq(gmem_add_memfd(&fe_mem, 0x100000, MEM_SIZE, &idx), 0);
	r = (struct vhost_user_mem_region){ .guest_addr = fe_mem.r[idx].gpa,
					    .size = fe_mem.r[idx].size,
					    .user_addr = fe_mem.r[idx].uaddr,
					    .mmap_offset = 0 };
	vhost_user_build_mem_table(&m, VHOST_USER_SET_MEM_TABLE, &r, 1);
	vhost_user_msg_attach_fds(&m, &fe_mem.r[idx].fd, 1);
	ck_assert_uint_eq(acked(&m), 0);
}

/* A split ring set up on vring @idx, kick / call as given (may be -1). */
static void ring_split(struct vq_split_drv *d, unsigned int idx, int kick,
		       int call, uint64_t features)
{
	struct vhost_user_vring_addr a;
	struct vhost_user_msg m;

	ck_assert_int_eq(vq_split_drv_init(d, &fe_mem, QSIZE, features, 0), 0);
	ck_assert_uint_eq(ack_state(VHOST_USER_SET_VRING_NUM, idx, QSIZE), 0);
	ck_assert_uint_eq(ack_state(VHOST_USER_SET_VRING_BASE, idx, 0), 0);
	a = (struct vhost_user_vring_addr){ .index = idx,
					    .desc = fe_uva(d->desc_gpa),
					    .used = fe_uva(d->used_gpa),
					    .avail = fe_uva(d->avail_gpa) };
	vhost_user_build_vring_addr(&m, VHOST_USER_SET_VRING_ADDR, &a);
	ck_assert_uint_eq(acked(&m), 0);
	ck_assert_uint_eq(
		ack_fd(VHOST_USER_SET_VRING_KICK,
		       idx | (kick < 0 ? VHOST_USER_VRING_NOFD_MASK : 0), kick),
		0);
	ck_assert_uint_eq(
		ack_fd(VHOST_USER_SET_VRING_CALL,
		       idx | (call < 0 ? VHOST_USER_VRING_NOFD_MASK : 0), call),
		0);
	ck_assert_uint_eq(ack_state(VHOST_USER_SET_VRING_ENABLE, idx, 1), 0);
}

static void *guest_buf(uint64_t len, uint64_t *gpa)
{
	ck_assert_int_eq(gmem_alloc(&fe_mem, len, 16, gpa), 0);
	return gmem_gpa(&fe_mem, *gpa, len);
}

static void kick(int wfd)
{
	uint64_t one = 1;

	ck_assert_int_eq(write(wfd, &one, sizeof(one)), sizeof(one));
	pump();
}

/* Whether @fd (a call pipe / eventfd read side) was signalled; drains. */
static bool signalled(int fd)
{
	uint8_t buf[512];
	struct pollfd p = { .fd = fd, .events = POLLIN };
	bool got = false;

	while (poll(&p, 1, 0) > 0 && (p.revents & POLLIN) &&
	       read(fd, buf, sizeof(buf)) > 0)
		got = true;
	return got;
}

/* ---- negotiation ---------------------------------------------------------- */

START_TEST(test_features)
{
	start(BACKEND_DEV_NET, 1);
	negotiate(0, PROTO_DEFAULT);
	/* bits never offered: refused, and the session goes on */
	ck_assert_uint_ne(ack_u64(VHOST_USER_SET_FEATURES, F(63)), 0);
	ck_assert(!be->closed);
	ck_assert_uint_ne(ack_u64(VHOST_USER_SET_PROTOCOL_FEATURES, F(40)), 0);
	ck_assert_uint_eq(get_u64_req(VHOST_USER_GET_QUEUE_NUM), 1);
	ck_assert_uint_eq(get_u64_req(VHOST_USER_GET_MAX_MEM_SLOTS),
			  BACKEND_MAX_MEM_SLOTS);
	ck_assert_uint_eq(ack_u64(VHOST_USER_SET_STATUS, 0xf), 0);
	ck_assert_uint_eq(get_u64_req(VHOST_USER_GET_STATUS), 0xf);
	ck_assert_uint_ne(ack_u64(VHOST_USER_SET_STATUS, 0x100), 0);
	finish();
}
END_TEST

START_TEST(test_owner_twice)
{
	struct vhost_user_msg m;

	start(BACKEND_DEV_NET, 1);
	negotiate(0, PROTO_DEFAULT);
	vhost_user_build_empty(&m, VHOST_USER_SET_OWNER);
	ck_assert_uint_eq(acked(&m), 0);
	vhost_user_build_empty(&m, VHOST_USER_SET_OWNER);
	ck_assert_uint_ne(acked(&m), 0);
	finish();
}
END_TEST

/* Gated requests before negotiation: no ack possible, so the connection
 * closes ("it may also close the connection"). */
START_TEST(test_gated_closes)
{
	struct vhost_user_msg m;

	start(BACKEND_DEV_NET, 1);
	vhost_user_build_empty(&m, VHOST_USER_GET_QUEUE_NUM);
	send_msg(&m);
	ck_assert(be->closed);
	ck_assert_int_eq(chan_poll(fe, chan_deadline(100)), CHAN_POLL_HUP);
	finish();
}
END_TEST

START_TEST(test_inband_without_ack_closes)
{
	struct vhost_user_msg m;

	start(BACKEND_DEV_NET, 1);
	vhost_user_build_u64(&m, VHOST_USER_SET_PROTOCOL_FEATURES,
			     VHOST_USER_PROTO_BIT(INBAND_NOTIFICATIONS));
	send_msg(&m);
	ck_assert(be->closed);
	finish();
}
END_TEST

/* fds on requests that take none: refused, every fd closed. */
START_TEST(test_fds_on_fdless_request)
{
	struct vhost_user_msg m;
	int efd[3];
	unsigned int i;

	start(BACKEND_DEV_NET, 1);
	negotiate(0, PROTO_DEFAULT);
	for (i = 0; i < 3; i++)
		efd[i] = fdzoo_eventfd(0, 0);
	vhost_user_build_vring_state(&m, VHOST_USER_SET_VRING_NUM, 0, 64);
	vhost_user_msg_attach_fds(&m, efd, 3);
	ck_assert_uint_ne(acked(&m), 0);
	ck_assert(!be->closed);
	close_fds(efd, 3);
	finish();
}
END_TEST

START_TEST(test_unknown_and_malformed)
{
	struct vhost_user_msg m;
	int efd = fdzoo_eventfd(0, 0);

	start(BACKEND_DEV_NET, 1);
	negotiate(0, PROTO_DEFAULT);
	/* unknown code with need_reply: a NACK, the fd closed */
	vhost_user_build_empty(&m, 0x7777);
	vhost_user_msg_attach_fds(&m, &efd, 1);
	ck_assert_uint_ne(acked(&m), 0);
	/* wrong payload size with need_reply: NACK */
	vhost_user_build_raw(&m, VHOST_USER_SET_VRING_NUM, "abcd", 4);
	ck_assert_uint_ne(acked(&m), 0);
	/* version 0 without need_reply: the connection closes */
	vhost_user_build_vring_state(&m, VHOST_USER_SET_VRING_NUM, 0, 64);
	m.hdr.flags = 0;
	send_msg(&m);
	ck_assert(be->closed);
	close_fd(&efd);
	fds_before--; /* opened before start() counted */
	finish();
}
END_TEST

/* A size past any payload: refused without reading it as a header. */
START_TEST(test_oversized_closes)
{
	struct vhost_user_hdr h = { VHOST_USER_GET_FEATURES, 1, 100000 };

	start(BACKEND_DEV_NET, 1);
	ck_assert_int_eq(
		chan_send_buf(fe, &h, sizeof(h), NULL, 0, chan_deadline(100)),
		sizeof(h));
	pump();
	ck_assert(be->closed);
	finish();
}
END_TEST

/* A header split over two writes, with a pause, is one message. */
START_TEST(test_split_header)
{
	struct vhost_user_msg m, r;
	uint8_t buf[64];
	struct chan_chunk c[2];
	int len;

	start(BACKEND_DEV_NET, 1);
	vhost_user_build_empty(&m, VHOST_USER_GET_FEATURES);
	len = vhost_user_pack(&m, buf, sizeof(buf));
	c[0] = (struct chan_chunk){ .buf = buf, .len = 5 };
	c[1] = (struct chan_chunk){ .buf = buf + 5,
				    .len = (size_t)len - 5,
				    .delay_ms = 20 };
	ck_assert_int_eq(chan_send(fe, c, 2, chan_deadline(500)), len);
	pump();
	recv_reply(&r);
	ck_assert_uint_eq(r.hdr.request, VHOST_USER_GET_FEATURES);
	finish();
}
END_TEST

/* ---- vrings ------------------------------------------------------------------ */

START_TEST(test_vring_index_checked)
{
	static const uint32_t bad[] = { 2, 255, 256, 0x10000, 0xffffffffu };
	struct vhost_user_vring_addr a = { 0 };
	struct vhost_user_msg m;
	unsigned int i;

	start(BACKEND_DEV_NET, 1);
	negotiate(0, PROTO_DEFAULT);
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		ck_assert_uint_ne(
			ack_state(VHOST_USER_SET_VRING_NUM, bad[i], 64), 0);
		ck_assert_uint_ne(
			ack_state(VHOST_USER_SET_VRING_BASE, bad[i], 0), 0);
		ck_assert_uint_ne(
			ack_state(VHOST_USER_SET_VRING_ENABLE, bad[i], 1), 0);
		a.index = bad[i];
		vhost_user_build_vring_addr(&m, VHOST_USER_SET_VRING_ADDR, &a);
		ck_assert_uint_ne(acked(&m), 0);
	}
	/* 8-bit index in the fd u64: 2 is out of range for one pair */
	{
		int efd = fdzoo_eventfd(0, 0);

		ck_assert_uint_ne(ack_fd(VHOST_USER_SET_VRING_CALL, 2, efd), 0);
		close(efd);
	}
	ck_assert(!be->closed);
	/* GET_VRING_BASE answers a body: a bad index closes */
	vhost_user_build_vring_state(&m, VHOST_USER_GET_VRING_BASE, 7, 0);
	send_msg(&m);
	ck_assert(be->closed);
	finish();
}
END_TEST

START_TEST(test_vring_num_checked)
{
	static const uint32_t bad[] = { 0, 3, 100, 65536, 0xffffffffu };
	unsigned int i;

	start(BACKEND_DEV_NET, 1);
	negotiate(0, PROTO_DEFAULT);
	for (i = 0; i < ARRAY_SIZE(bad); i++)
		ck_assert_uint_ne(
			ack_state(VHOST_USER_SET_VRING_NUM, 0, bad[i]), 0);
	ck_assert_uint_eq(ack_state(VHOST_USER_SET_VRING_NUM, 0, 32768), 0);
	/* split base: bits 16-31 reserved */
	ck_assert_uint_ne(ack_state(VHOST_USER_SET_VRING_BASE, 0, 0x10000), 0);
	/* enable needs PROTOCOL_FEATURES (negotiated) and 0 / 1 */
	ck_assert_uint_ne(ack_state(VHOST_USER_SET_VRING_ENABLE, 0, 2), 0);
	finish();
}
END_TEST

START_TEST(test_vring_addr_checked)
{
	struct vq_split_drv d;
	struct vhost_user_vring_addr a = { 0 };
	struct vhost_user_msg m;

	start(BACKEND_DEV_NET, 1);
	negotiate(0, PROTO_DEFAULT);
	ck_assert_uint_eq(ack_state(VHOST_USER_SET_VRING_NUM, 0, QSIZE), 0);
	/* no memory table yet */
	vhost_user_build_vring_addr(&m, VHOST_USER_SET_VRING_ADDR, &a);
	ck_assert_uint_ne(acked(&m), 0);
	mem_table();
	ck_assert_int_eq(vq_split_drv_init(&d, &fe_mem, QSIZE, 0, 0), 0);
	a = (struct vhost_user_vring_addr){ .desc = fe_uva(d.desc_gpa),
					    .used = fe_uva(d.used_gpa),
					    .avail = fe_uva(d.avail_gpa) };
	/* outside every region */
	a.desc = 0x10;
	vhost_user_build_vring_addr(&m, VHOST_USER_SET_VRING_ADDR, &a);
	ck_assert_uint_ne(acked(&m), 0);
	/* misaligned */
	a.desc = fe_uva(d.desc_gpa) + 8;
	vhost_user_build_vring_addr(&m, VHOST_USER_SET_VRING_ADDR, &a);
	ck_assert_uint_ne(acked(&m), 0);
	/* straddling the end of the region */
	a.desc = fe_mem.r[0].uaddr + MEM_SIZE - 16 * 8;
	vhost_user_build_vring_addr(&m, VHOST_USER_SET_VRING_ADDR, &a);
	ck_assert_uint_ne(acked(&m), 0);
	/* unknown flag bits */
	a.desc = fe_uva(d.desc_gpa);
	a.flags = 2;
	vhost_user_build_vring_addr(&m, VHOST_USER_SET_VRING_ADDR, &a);
	ck_assert_uint_ne(acked(&m), 0);
	a.flags = 0;
	vhost_user_build_vring_addr(&m, VHOST_USER_SET_VRING_ADDR, &a);
	ck_assert_uint_eq(acked(&m), 0);
	vq_split_drv_fini(&d);
	finish();
}
END_TEST

/* Seed 000: the read end of a pipe as kick, the write end as call; the
 * wrong ends, files and NOFD mismatches are refused, fds closed. */
START_TEST(test_vring_fds)
{
	int kp[2], cp[2], f;
	struct vhost_user_msg m;

	start(BACKEND_DEV_NET, 1);
	negotiate(0, PROTO_DEFAULT);
	ck_assert_int_eq(fdzoo_pipe(kp, 0), 0);
	ck_assert_int_eq(fdzoo_pipe(cp, 0), 0);
	fds_before += 4;
	ck_assert_uint_ne(ack_fd(VHOST_USER_SET_VRING_KICK, 0, kp[1]), 0);
	ck_assert_uint_ne(ack_fd(VHOST_USER_SET_VRING_CALL, 0, cp[0]), 0);
	ck_assert_uint_eq(ack_fd(VHOST_USER_SET_VRING_KICK, 0, kp[0]), 0);
	ck_assert_uint_eq(ack_fd(VHOST_USER_SET_VRING_CALL, 0, cp[1]), 0);
	ck_assert_uint_eq(ack_fd(VHOST_USER_SET_VRING_ERR, 1, cp[1]), 0);
	/* a regular file is not a notifier */
	f = fdzoo_file(16, O_RDWR);
	ck_assert_uint_ne(ack_fd(VHOST_USER_SET_VRING_CALL, 0, f), 0);
	close(f);
	/* NOFD bit with an fd, and no NOFD bit without one */
	vhost_user_build_u64(&m, VHOST_USER_SET_VRING_CALL,
			     VHOST_USER_VRING_NOFD_MASK);
	vhost_user_msg_attach_fds(&m, &cp[1], 1);
	ck_assert_uint_ne(acked(&m), 0);
	ck_assert_uint_ne(ack_fd(VHOST_USER_SET_VRING_CALL, 0, -1), 0);
	ck_assert_uint_eq(ack_fd(VHOST_USER_SET_VRING_CALL,
				 VHOST_USER_VRING_NOFD_MASK, -1),
			  0);
	/* the back-end keeps its own copies: 3 fds now (kick, err) */
	backend_detach(be);
	close_fds(kp, 2);
	close_fds(cp, 2);
	fds_before -= 4;
	finish();
}
END_TEST

/* Net loopback over split rings, pipes as notifiers (seed 000), and the
 * ring states: disabled RX gets nothing, disabled TX is consumed. */
START_TEST(test_net_loopback)
{
	struct vq_split_drv rx, tx;
	int rk[2], rc[2], tk[2], tc[2];
	uint64_t rxg, txg, token;
	uint8_t *rxb, *txb;
	struct vq_buf b;
	uint32_t len;
	unsigned int i;

	start(BACKEND_DEV_NET, 1);
	ck_assert_int_eq(fdzoo_pipe(rk, O_NONBLOCK), 0);
	ck_assert_int_eq(fdzoo_pipe(rc, O_NONBLOCK), 0);
	ck_assert_int_eq(fdzoo_packet_pipe(tk), 0); /* seed 002 */
	ck_assert_int_eq(fdzoo_pipe(tc, O_NONBLOCK), 0);
	fds_before += 8;
	negotiate(0, PROTO_DEFAULT);
	mem_table();
	ring_split(&rx, 0, rk[0], rc[1], 0);
	ring_split(&tx, 1, tk[0], tc[1], 0);

	rxb = guest_buf(2048, &rxg);
	txb = guest_buf(12 + 60, &txg);
	memset(txb, 0, 12);
	for (i = 0; i < 60; i++)
		txb[12 + i] = (uint8_t)i;
	b = (struct vq_buf){ .gpa = rxg, .len = 2048, .writable = true };
	ck_assert_int_ge(vq_split_drv_add(&rx, &b, 1, false, 1), 0);
	vq_split_drv_publish(&rx);
	kick(rk[1]);
	b = (struct vq_buf){ .gpa = txg, .len = 72 };
	ck_assert_int_ge(vq_split_drv_add(&tx, &b, 1, false, 2), 0);
	vq_split_drv_publish(&tx);
	/* several kicks in the packetized pipe: all drained */
	kick(tk[1]);
	kick(tk[1]);
	ck_assert(signalled(rc[0]));
	ck_assert(signalled(tc[0]));
	ck_assert_int_eq(vq_split_drv_reap(&rx, &token, &len, NULL), 1);
	ck_assert_uint_eq(token, 1);
	ck_assert_uint_eq(len, 72);
	ck_assert_int_eq(memcmp(rxb + 12, txb + 12, 60), 0);
	ck_assert_uint_eq(rxb[10], 1); /* num_buffers */
	ck_assert_int_eq(vq_split_drv_reap(&tx, &token, &len, NULL), 1);
	ck_assert_uint_eq(len, 0);

	/* RX disabled: the TX frame is consumed, nothing arrives */
	ck_assert_uint_eq(ack_state(VHOST_USER_SET_VRING_ENABLE, 0, 0), 0);
	b = (struct vq_buf){ .gpa = rxg, .len = 2048, .writable = true };
	ck_assert_int_ge(vq_split_drv_add(&rx, &b, 1, false, 3), 0);
	vq_split_drv_publish(&rx);
	b = (struct vq_buf){ .gpa = txg, .len = 72 };
	ck_assert_int_ge(vq_split_drv_add(&tx, &b, 1, false, 4), 0);
	vq_split_drv_publish(&tx);
	kick(tk[1]);
	ck_assert_int_eq(vq_split_drv_reap(&tx, &token, &len, NULL), 1);
	ck_assert_int_eq(vq_split_drv_reap(&rx, &token, &len, NULL), 0);

	/* GET_VRING_BASE stops TX: published buffers stay until a kick */
	{
		struct vhost_user_msg m, r;

		vhost_user_build_vring_state(&m, VHOST_USER_GET_VRING_BASE, 1,
					     0);
		send_msg(&m);
		recv_reply(&r);
		ck_assert_uint_eq(r.hdr.size, 8);
		{
			uint32_t base;

			memcpy(&base, r.payload + 4, sizeof(base));
			ck_assert_uint_eq(base, 2);
		}
		ck_assert(!be->vq[1].started);
	}
	ck_assert_int_ge(vq_split_drv_add(&tx, &b, 1, false, 5), 0);
	vq_split_drv_publish(&tx);
	ck_assert_uint_eq(get_u64_req(VHOST_USER_GET_FEATURES) &
				  F(VIRTIO_F_VERSION_1),
			  F(VIRTIO_F_VERSION_1));
	ck_assert_int_eq(vq_split_drv_reap(&tx, &token, &len, NULL), 0);
	kick(tk[1]); /* "must start a ring upon receiving a kick" */
	ck_assert_int_eq(vq_split_drv_reap(&tx, &token, &len, NULL), 1);

	vq_split_drv_fini(&rx);
	vq_split_drv_fini(&tx);
	backend_detach(be);
	close_fds(rk, 2);
	close_fds(rc, 2);
	close_fds(tk, 2);
	close_fds(tc, 2);
	fds_before -= 8;
	finish();
}
END_TEST

/* A hostile ring (descriptor loop) breaks the ring, signals err, and the
 * back-end keeps answering. */
START_TEST(test_hostile_ring)
{
	struct vq_split_drv tx;
	int tk[2], te[2];

	start(BACKEND_DEV_NET, 1);
	ck_assert_int_eq(fdzoo_pipe(tk, O_NONBLOCK), 0);
	ck_assert_int_eq(fdzoo_pipe(te, O_NONBLOCK), 0);
	fds_before += 4;
	negotiate(0, PROTO_DEFAULT);
	mem_table();
	ring_split(&tx, 1, tk[0], -1, 0);
	ck_assert_uint_eq(ack_fd(VHOST_USER_SET_VRING_ERR, 1, te[1]), 0);
	ck_assert_int_ge(vq_split_drv_hostile(&tx, VQ_HOSTILE_LOOP_SELF, 0), 0);
	kick(tk[1]);
	ck_assert(be->vq[1].broken);
	ck_assert(signalled(te[0]));
	ck_assert_uint_eq(get_u64_req(VHOST_USER_GET_QUEUE_NUM), 1);
	vq_split_drv_fini(&tx);
	backend_detach(be);
	close_fds(tk, 2);
	close_fds(te, 2);
	fds_before -= 4;
	finish();
}
END_TEST

/* ---- memory -------------------------------------------------------------------- */

START_TEST(test_mem_table_checked)
{
	struct vhost_user_mem_region r[2];
	struct vhost_user_msg m;
	int f1, f2, fds[2];

	start(BACKEND_DEV_NET, 1);
	negotiate(0, PROTO_DEFAULT);
	f1 = fdzoo_memfd(8192, 0);
	f2 = fdzoo_memfd(4096, 0);
	r[0] = (struct vhost_user_mem_region){ 0, 8192, 0x10000, 0 };
	r[1] = (struct vhost_user_mem_region){ 0x100000, 8192, 0x200000, 0 };
	/* two regions, one fd */
	vhost_user_build_mem_table(&m, VHOST_USER_SET_MEM_TABLE, r, 2);
	vhost_user_msg_attach_fds(&m, &f1, 1);
	ck_assert_uint_ne(acked(&m), 0);
	/* second region longer than its memfd (no SIGBUS later) */
	fds[0] = f1;
	fds[1] = f2;
	vhost_user_build_mem_table(&m, VHOST_USER_SET_MEM_TABLE, r, 2);
	vhost_user_msg_attach_fds(&m, fds, 2);
	ck_assert_uint_ne(acked(&m), 0);
	/* overlapping regions */
	r[1].guest_addr = 0x1000;
	vhost_user_build_mem_table(&m, VHOST_USER_SET_MEM_TABLE, r, 2);
	vhost_user_msg_attach_fds(&m, fds, 2);
	ck_assert_uint_ne(acked(&m), 0);
	/* an fd that cannot be mapped */
	r[0].size = 4096;
	vhost_user_build_mem_table(&m, VHOST_USER_SET_MEM_TABLE, r, 1);
	fds[0] = fdzoo_eventfd(0, 0);
	vhost_user_msg_attach_fds(&m, fds, 1);
	ck_assert_uint_ne(acked(&m), 0);
	close(fds[0]);
	/* zero regions */
	vhost_user_build_mem_table(&m, VHOST_USER_SET_MEM_TABLE, r, 0);
	ck_assert_uint_ne(acked(&m), 0);
	ck_assert_uint_eq(be->mem->n, 0);
	close(f1);
	close(f2);
	finish();
}
END_TEST

START_TEST(test_mem_slots)
{
	struct vhost_user_mem_region r = { 0, 4096, 0x10000, 0 };
	struct vhost_user_msg m;
	int f = fdzoo_memfd(4096, FDZOO_SEALS_ALL & ~F_SEAL_WRITE);

	start(BACKEND_DEV_NET, 1);
	negotiate(0, PROTO_DEFAULT);
	vhost_user_build_mem_region(&m, VHOST_USER_ADD_MEM_REG, &r);
	vhost_user_msg_attach_fds(&m, &f, 1);
	ck_assert_uint_eq(acked(&m), 0);
	ck_assert_uint_eq(be->mem->n, 1);
	/* the same range again overlaps */
	vhost_user_build_mem_region(&m, VHOST_USER_ADD_MEM_REG, &r);
	vhost_user_msg_attach_fds(&m, &f, 1);
	ck_assert_uint_ne(acked(&m), 0);
	/* REM_MEM_REG of a region that is not there */
	r.size = 8192;
	vhost_user_build_mem_region(&m, VHOST_USER_REM_MEM_REG, &r);
	ck_assert_uint_ne(acked(&m), 0);
	/* with the tolerated fd: removed, the fd closed */
	r.size = 4096;
	vhost_user_build_mem_region(&m, VHOST_USER_REM_MEM_REG, &r);
	vhost_user_msg_attach_fds(&m, &f, 1);
	ck_assert_uint_eq(acked(&m), 0);
	ck_assert_uint_eq(be->mem->n, 0);
	close(f);
	fds_before--;
	finish();
}
END_TEST

/* A memfd shrunk after mapping: the ring breaks, the process lives. */
START_TEST(test_shrink_sigbus)
{
	struct vq_split_drv tx;
	int tk[2];
	struct vq_buf b;
	uint64_t g;

	start(BACKEND_DEV_NET, 1);
	ck_assert_int_eq(fdzoo_pipe(tk, O_NONBLOCK), 0);
	fds_before += 2;
	negotiate(0, PROTO_DEFAULT);
	mem_table();
	ring_split(&tx, 1, tk[0], -1, 0);
	guest_buf(4096, &g);
	g = 0x100000 + MEM_SIZE - 4096; /* the last page */
	b = (struct vq_buf){ .gpa = g, .len = 72 };
	ck_assert_int_ge(vq_split_drv_add(&tx, &b, 1, false, 1), 0);
	vq_split_drv_publish(&tx);
	ck_assert_int_eq(ftruncate(fe_mem.r[0].fd, MEM_SIZE - 4096), 0);
	kick(tk[1]);
	ck_assert(be->vq[1].broken);
	ck_assert_uint_eq(get_u64_req(VHOST_USER_GET_QUEUE_NUM), 1);
	backend_detach(be);
	vq_split_drv_fini(&tx);
	close_fds(tk, 2);
	fds_before -= 2;
	finish();
}
END_TEST

/* ---- config, inflight, log, status, reset ---------------------------------- */

START_TEST(test_config)
{
	struct vhost_user_msg m, r;
	uint8_t mac[6] = { 1, 2, 3, 4, 5, 6 };

	start(BACKEND_DEV_NET, 1);
	negotiate(0, PROTO_DEFAULT);
	vhost_user_build_config(&m, VHOST_USER_GET_CONFIG, 6, 2, 0, NULL);
	send_msg(&m);
	recv_reply(&r);
	ck_assert_uint_eq(r.hdr.size, 12 + 2);
	ck_assert_uint_eq(r.payload[12], 1); /* link up */
	/* past 256 bytes: a zero-length reply */
	vhost_user_build_config(&m, VHOST_USER_GET_CONFIG, 250, 10, 0, NULL);
	send_msg(&m);
	recv_reply(&r);
	ck_assert_uint_eq(r.hdr.size, 0);
	/* the MAC is read-only without the live migration flag */
	vhost_user_build_config(&m, VHOST_USER_SET_CONFIG, 0, 6, 0, mac);
	ck_assert_uint_ne(acked(&m), 0);
	vhost_user_build_config(&m, VHOST_USER_SET_CONFIG, 0, 6,
				VHOST_USER_CONFIG_LIVE_MIGRATION, mac);
	ck_assert_uint_eq(acked(&m), 0);
	ck_assert_int_eq(memcmp(be->config, mac, 6), 0);
	finish();
}
END_TEST

START_TEST(test_inflight)
{
	struct vhost_user_msg m, r;
	unsigned int i;

	start(BACKEND_DEV_BLK, 2);
	negotiate(0, PROTO_DEFAULT);
	/* repeated GET: no fd or mapping leaks (CVE-2020-10726) */
	for (i = 0; i < 50; i++) {
		vhost_user_build_inflight(&m, VHOST_USER_GET_INFLIGHT_FD, 0, 0,
					  2, 128);
		send_msg(&m);
		recv_reply(&r);
		ck_assert_uint_eq(r.nfds, 1);
		{
			uint64_t sz;

			memcpy(&sz, r.payload, sizeof(sz));
			ck_assert_uint_eq(sz, 2 * 2112);
		}
		if (i < 49)
			close_fds(r.fds, r.nfds);
	}
	/* SET with it back; then too many queues, too small */
	vhost_user_build_inflight(&m, VHOST_USER_SET_INFLIGHT_FD, 2 * 2112, 0,
				  2, 128);
	vhost_user_msg_attach_fds(&m, r.fds, 1);
	ck_assert_uint_eq(acked(&m), 0);
	vhost_user_build_inflight(&m, VHOST_USER_SET_INFLIGHT_FD, 2 * 2112, 0,
				  3, 128);
	vhost_user_msg_attach_fds(&m, r.fds, 1);
	ck_assert_uint_ne(acked(&m), 0);
	vhost_user_build_inflight(&m, VHOST_USER_SET_INFLIGHT_FD, 64, 0, 2,
				  128);
	vhost_user_msg_attach_fds(&m, r.fds, 1);
	ck_assert_uint_ne(acked(&m), 0);
	vhost_user_build_inflight(&m, VHOST_USER_GET_INFLIGHT_FD, 0, 0, 65535,
				  128);
	send_msg(&m);
	ck_assert(be->closed); /* no way to say "failed" in that reply */
	close_fds(r.fds, r.nfds);
	finish();
}
END_TEST

/* blk through a split ring: write, read back, flush, get-id, discard,
 * out of range; dirty log marks what the device wrote. */
static uint8_t blk_req(struct vq_split_drv *d, int kickw, uint32_t type,
		       uint64_t sector, uint8_t *data, uint32_t len,
		       bool to_device, uint32_t *used)
{
	uint64_t hg, dg, sg, token;
	uint8_t *hp, *dp, *sp;
	struct vq_buf b[3];
	unsigned int n = 0;

	hp = guest_buf(16, &hg);
	memset(hp, 0, 16);
	memcpy(hp, &type, 4);
	memcpy(hp + 8, &sector, 8);
	b[n++] = (struct vq_buf){ .gpa = hg, .len = 16 };
	if (len) {
		dp = guest_buf(len, &dg);
		if (to_device)
			memcpy(dp, data, len);
		b[n++] = (struct vq_buf){ .gpa = dg,
					  .len = len,
					  .writable = !to_device };
	}
	sp = guest_buf(1, &sg);
	*sp = 0xff;
	b[n++] = (struct vq_buf){ .gpa = sg, .len = 1, .writable = true };
	ck_assert_int_ge(vq_split_drv_add(d, b, n, false, 9), 0);
	vq_split_drv_publish(d);
	kick(kickw);
	ck_assert_int_eq(vq_split_drv_reap(d, &token, used, NULL), 1);
	if (len && !to_device)
		memcpy(data, dp, len);
	return *sp;
}

START_TEST(test_blk)
{
	struct vq_split_drv q;
	uint8_t w[1024], r[1024];
	int kp[2], logfd;
	uint32_t used;
	unsigned int i;
	struct vhost_user_msg m;
	uint8_t *log;

	start(BACKEND_DEV_BLK, 1);
	ck_assert_int_eq(fdzoo_pipe(kp, O_NONBLOCK), 0);
	fds_before += 2;
	negotiate(F(VHOST_USER_VIRTIO_F_LOG_ALL), PROTO_DEFAULT);
	mem_table();
	logfd = fdzoo_memfd(4096, 0);
	vhost_user_build_log(&m, VHOST_USER_SET_LOG_BASE, 4096, 0);
	vhost_user_msg_attach_fds(&m, &logfd, 1);
	send_msg(&m);
	{
		struct vhost_user_msg rr;

		recv_reply(&rr); /* LOG_SHMFD: always answered */
		ck_assert_uint_eq(rr.hdr.size, 8);
	}
	log = mmap(NULL, 4096, PROT_READ, MAP_SHARED, logfd, 0);
	ck_assert(log != MAP_FAILED);
	close(logfd);
	ring_split(&q, 0, kp[0], -1, 0);
	for (i = 0; i < sizeof(w); i++)
		w[i] = (uint8_t)(i * 7);
	ck_assert_uint_eq(blk_req(&q, kp[1], 1, 8, w, 1024, true, &used), 0);
	ck_assert_uint_eq(used, 1);
	memset(r, 0, sizeof(r));
	ck_assert_uint_eq(blk_req(&q, kp[1], 0, 8, r, 1024, false, &used), 0);
	ck_assert_uint_eq(used, 1025);
	ck_assert_int_eq(memcmp(w, r, sizeof(w)), 0);
	/* the read wrote guest pages: marked dirty */
	ck_assert(memchr(log, 0, 4096) != NULL);
	{
		unsigned int set = 0;

		for (i = 0; i < 4096; i++)
			set += log[i] != 0;
		ck_assert_uint_gt(set, 0);
	}
	ck_assert_uint_eq(blk_req(&q, kp[1], 4, 0, NULL, 0, true, &used), 0);
	ck_assert_uint_eq(blk_req(&q, kp[1], 8, 0, r, 20, false, &used), 0);
	ck_assert_int_eq(memcmp(r, "vuc-ref-vhost-blk", 17), 0);
	/* out of range: IOERR, no crash */
	ck_assert_uint_eq(blk_req(&q, kp[1], 0, 2047, r, 1024, false, &used),
			  1);
	ck_assert_uint_eq(
		blk_req(&q, kp[1], 1, UINT64_MAX / 256, w, 512, true, &used),
		1);
	/* not a multiple of 512 */
	ck_assert_uint_eq(blk_req(&q, kp[1], 0, 0, r, 100, false, &used), 1);
	/* unknown type */
	ck_assert_uint_eq(blk_req(&q, kp[1], 99, 0, NULL, 0, true, &used), 2);
	{
		uint8_t seg[16] = { 0 };
		uint32_t n = 2;

		seg[0] = 8;
		memcpy(seg + 8, &n, 4);
		ck_assert_uint_eq(
			blk_req(&q, kp[1], 11, 0, seg, 16, true, &used), 0);
	}
	ck_assert_uint_eq(blk_req(&q, kp[1], 0, 8, r, 1024, false, &used), 0);
	ck_assert_uint_eq(r[0] | r[511] | r[1023], 0);
	/* disabled: IOERR, no side effect */
	ck_assert_uint_eq(ack_state(VHOST_USER_SET_VRING_ENABLE, 0, 0), 0);
	ck_assert_uint_eq(blk_req(&q, kp[1], 1, 0, w, 512, true, &used), 1);
	munmap(log, 4096);
	vq_split_drv_fini(&q);
	backend_detach(be);
	close_fds(kp, 2);
	fds_before -= 2;
	finish();
}
END_TEST

START_TEST(test_reset_device)
{
	int efd = fdzoo_eventfd(0, 0);
	struct vhost_user_msg m;

	start(BACKEND_DEV_NET, 1);
	negotiate(0, PROTO_DEFAULT);
	ck_assert_uint_eq(ack_fd(VHOST_USER_SET_VRING_CALL, 0, efd), 0);
	ck_assert_uint_eq(ack_state(VHOST_USER_SET_VRING_ENABLE, 0, 1), 0);
	vhost_user_build_empty(&m, VHOST_USER_RESET_DEVICE);
	ck_assert_uint_eq(acked(&m), 0);
	ck_assert(!be->vq[0].enabled);
	ck_assert_int_eq(be->vq[0].call_fd, -1);
	ck_assert_uint_eq(be->features, 0);
	close(efd);
	fds_before--;
	finish();
}
END_TEST

/* ---- back-end channel, in-band notifications ------------------------------- */

/* Answer the back-end's next request before it asks: it reads the ack
 * as soon as it has sent (single-threaded test). */
static void preack(int ch, uint32_t code)
{
	struct vhost_user_msg a;

	vhost_user_build_ack(&a, code, 0);
	vhost_user_make_reply(&a);
	ck_assert_int_ge(
		frame_vhost_send(ch, &a, FRAME_WHOLE, chan_deadline(100)), 0);
}

START_TEST(test_backend_channel)
{
	struct vhost_user_msg m, r;
	int ch[2], kp[2];
	struct vq_split_drv rx, tx;
	uint64_t g;
	struct vq_buf b;

	start(BACKEND_DEV_NET, 1);
	ck_assert_int_eq(sock_pair(ch), 0);
	ck_assert_int_eq(fdzoo_pipe(kp, O_NONBLOCK), 0);
	negotiate(0, PROTO_DEFAULT | VHOST_USER_PROTO_BIT(BACKEND_REQ) |
			     VHOST_USER_PROTO_BIT(INBAND_NOTIFICATIONS));
	/* not a socket: refused */
	ck_assert_uint_ne(ack_fd(VHOST_USER_SET_BACKEND_REQ_FD, 0, kp[0]), 0);
	vhost_user_build_empty(&m, VHOST_USER_SET_BACKEND_REQ_FD);
	vhost_user_msg_attach_fds(&m, &ch[1], 1);
	ck_assert_uint_eq(acked(&m), 0);
	/* "While all vrings are stopped ... not send any messages to the
	 * front-end": the config change waits */
	be->dev->config_change(be);
	ck_assert(be->config_change_pending);
	ck_assert_int_eq(chan_poll(ch[0], chan_deadline(0)), -ETIMEDOUT);
	mem_table();
	preack(ch[0], VHOST_USER_BACKEND_CONFIG_CHANGE_MSG);
	ring_split(&rx, 0, -1, -1, 0); /* NOFD kick: polled, started */
	ck_assert(!be->config_change_pending);
	ck_assert_int_ge(
		frame_vhost_recv(ch[0], &r, chan_deadline(500), NULL, NULL), 0);
	ck_assert_uint_eq(r.hdr.request, VHOST_USER_BACKEND_CONFIG_CHANGE_MSG);
	ck_assert(r.hdr.flags & VHOST_USER_NEED_REPLY);
	/* no call fd, in-band notifications: BACKEND_VRING_CALL */
	ring_split(&tx, 1, kp[0], -1, 0);
	guest_buf(72, &g);
	b = (struct vq_buf){ .gpa = g, .len = 72 };
	ck_assert_int_ge(vq_split_drv_add(&tx, &b, 1, false, 1), 0);
	vq_split_drv_publish(&tx);
	preack(ch[0], VHOST_USER_BACKEND_VRING_CALL);
	kick(kp[1]);
	ck_assert_int_ge(
		frame_vhost_recv(ch[0], &r, chan_deadline(500), NULL, NULL), 0);
	ck_assert_uint_eq(r.hdr.request, VHOST_USER_BACKEND_VRING_CALL);
	ck_assert_uint_eq(r.payload[0], 1);
	ck_assert_int_ge(be->backend_fd, 0);
	vq_split_drv_fini(&rx);
	vq_split_drv_fini(&tx);
	backend_detach(be);
	close_fds(ch, 2);
	close_fds(kp, 2);
	finish();
}
END_TEST

/* ---- device state ---------------------------------------------------------- */

static void state_fd(int fd, uint32_t dir, uint64_t expect)
{
	struct vhost_user_msg m, r;
	uint64_t v;

	vhost_user_build_device_state(&m, VHOST_USER_SET_DEVICE_STATE_FD, dir,
				      0);
	vhost_user_msg_attach_fds(&m, &fd, 1);
	send_msg(&m);
	recv_reply(&r);
	ck_assert_int_eq(vhost_user_get_u64(&r, &v, NULL), 0);
	ck_assert_uint_eq(v, expect);
	ck_assert_uint_eq(r.nfds, 0);
	close(fd); /* the back-end has its own copy */
}

static uint64_t check_state(void)
{
	return get_u64_req(VHOST_USER_CHECK_DEVICE_STATE);
}

START_TEST(test_state_roundtrip)
{
	uint8_t mac[6] = { 9, 8, 7, 6, 5, 4 };
	struct vhost_user_msg m;
	uint8_t *blob = NULL, buf[65536];
	size_t len = 0, cap = 0;
	int p[2];
	ssize_t n;

	start(BACKEND_DEV_BLK, 1);
	negotiate(0, PROTO_DEFAULT);
	vhost_user_build_config(&m, VHOST_USER_SET_CONFIG, 0, 6,
				VHOST_USER_CONFIG_LIVE_MIGRATION, mac);
	ck_assert_uint_eq(acked(&m), 0);
	/* SAVE into a pipe; read it all */
	ck_assert_int_eq(fdzoo_pipe(p, 0), 0);
	state_fd(p[1], VHOST_USER_TRANSFER_STATE_DIRECTION_SAVE,
		 VHOST_USER_VRING_NOFD_MASK);
	for (;;) {
		pump();
		n = read(p[0], buf, sizeof(buf));
		if (n <= 0)
			break;
		blob = realloc(blob, len + (size_t)n);
		memcpy(blob + len, buf, (size_t)n);
		len += (size_t)n;
		cap = len;
	}
	close(p[0]);
	ck_assert_uint_eq(check_state(), 0);
	ck_assert_uint_gt(len, (1 << 20));
	/* LOAD on a fresh session through a packetized pipe (seed 002) */
	backend_detach(be);
	close_fd(&fe);
	{
		int sv[2];

		ck_assert_int_eq(sock_pair(sv), 0);
		fe = sv[0];
		backend_attach(be, sv[1]);
	}
	negotiate(0, PROTO_DEFAULT);
	ck_assert_uint_ne(be->config[0], 9);
	ck_assert_int_eq(fdzoo_packet_pipe(p), 0);
	ck_assert_int_eq(fcntl(p[1], F_SETFL, O_NONBLOCK), 0);
	state_fd(p[0], VHOST_USER_TRANSFER_STATE_DIRECTION_LOAD,
		 VHOST_USER_VRING_NOFD_MASK);
	{
		size_t off = 0;

		while (off < len) {
			n = write(p[1], blob + off, VUC_MIN(len - off, 4096));
			if (n > 0)
				off += (size_t)n;
			else
				pump();
		}
	}
	close(p[1]);
	ck_assert_uint_eq(check_state(), 0);
	ck_assert_int_eq(memcmp(be->config, mac, 6), 0);
	/* a corrupted blob fails CHECK */
	ck_assert_int_eq(fdzoo_pipe(p, 0), 0);
	state_fd(p[0], VHOST_USER_TRANSFER_STATE_DIRECTION_LOAD,
		 VHOST_USER_VRING_NOFD_MASK);
	blob[30] ^= 1;
	ck_assert_int_eq(write(p[1], blob, 4096), 4096);
	close(p[1]);
	ck_assert_uint_ne(check_state(), 0);
	(void)cap;
	free(blob);
	finish();
}
END_TEST

/* SAVE to fds that cannot be written (seed 004's neighbours): CHECK says
 * so; the process lives (no SIGPIPE). */
START_TEST(test_state_unwritable)
{
	int p[2], f;

	start(BACKEND_DEV_NET, 1);
	negotiate(0, PROTO_DEFAULT);
	f = fdzoo_dev_full();
	state_fd(f, VHOST_USER_TRANSFER_STATE_DIRECTION_SAVE,
		 VHOST_USER_VRING_NOFD_MASK);
	ck_assert_uint_ne(check_state(), 0);
	ck_assert_int_eq(fdzoo_pipe(p, 0), 0);
	state_fd(p[0], VHOST_USER_TRANSFER_STATE_DIRECTION_SAVE,
		 VHOST_USER_VRING_NOFD_MASK);
	ck_assert_uint_ne(check_state(), 0);
	close(p[1]);
	f = fdzoo_widowed_pipe_write();
	state_fd(f, VHOST_USER_TRANSFER_STATE_DIRECTION_SAVE,
		 VHOST_USER_VRING_NOFD_MASK);
	ck_assert_uint_ne(check_state(), 0);
	if (fdzoo_notification_pipe(p) == 0) {
		state_fd(p[1], VHOST_USER_TRANSFER_STATE_DIRECTION_SAVE,
			 VHOST_USER_VRING_NOFD_MASK);
		ck_assert_uint_ne(check_state(), 0);
		close(p[0]);
	}
	/* CHECK without a transfer */
	ck_assert_uint_ne(check_state(), 0);
	finish();
}
END_TEST

/* ---- seeded bugs: each one observable ------------------------------------- */

START_TEST(test_bug_list)
{
	unsigned int i;

	for (i = 0; i < BUG_COUNT; i++) {
		ck_assert_str_ne(bug_name(i), "?");
		ck_assert_int_eq(bug_set(bug_name(i)), 0);
		ck_assert(bug_on(i));
	}
	ck_assert_int_eq(bug_set("no-such-bug"), -ENOENT);
	ck_assert_uint_ge(BUG_COUNT, 20);
	bug_clear_all();
}
END_TEST

START_TEST(test_bug_fd_leak)
{
	int efd = fdzoo_eventfd(0, 0), before;
	struct vhost_user_msg m;

	start(BACKEND_DEV_NET, 1);
	negotiate(0, PROTO_DEFAULT);
	bug_set("fd-leak-no-fd-msg");
	before = fdzoo_count_open(0);
	vhost_user_build_vring_state(&m, VHOST_USER_SET_VRING_NUM, 0, 64);
	vhost_user_msg_attach_fds(&m, &efd, 1);
	ck_assert_uint_ne(acked(&m), 0);
	ck_assert_int_eq(fdzoo_count_open(0), before + 1); /* leaked */
	/* find and close the leaked copy so the test itself is clean */
	{
		int fd;

		for (fd = 3; fd < 1024; fd++)
			if (fd != efd && fdzoo_kind_of(fd) == FDZOO_EVENTFD &&
			    fd > efd) {
				close(fd);
				break;
			}
	}
	close(efd);
	fds_before--;
	finish();
}
END_TEST

START_TEST(test_bug_no_ack)
{
	start(BACKEND_DEV_NET, 1);
	negotiate(0, PROTO_DEFAULT);
	bug_set("no-ack-mem-table");
	{
		struct vhost_user_mem_region r = { 0, 4096, 0x10000, 0 };
		struct vhost_user_msg m;
		int f = fdzoo_memfd(4096, 0);

		vhost_user_build_mem_table(&m, VHOST_USER_SET_MEM_TABLE, &r, 1);
		vhost_user_msg_attach_fds(&m, &f, 1);
		m.hdr.flags |= VHOST_USER_NEED_REPLY;
		send_msg(&m);
		ck_assert(!reply_waiting());
		close(f);
	}
	finish();
}
END_TEST

/* Crash bugs crash: run them in a child and look at how it died. */
static int child_status(void (*fn)(void))
{
	pid_t pid = fork();
	int st = 0;

	ck_assert_int_ge(pid, 0);
	if (!pid) {
		signal(SIGABRT, SIG_DFL);
		fn();
		_exit(0);
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	return st;
}

/*
 * Died of @sig; or, under a sanitizer that catches it, exited non-zero or
 * aborted (ASAN_OPTIONS=abort_on_error=1).
 */
static bool crashed(int st, int sig)
{
	return (WIFSIGNALED(st) &&
		(WTERMSIG(st) == sig || WTERMSIG(st) == SIGABRT)) ||
	       (WIFEXITED(st) && WEXITSTATUS(st) != 0);
}

static void crash_vring_index(void)
{
	start(BACKEND_DEV_NET, 1);
	negotiate(0, PROTO_DEFAULT);
	bug_set("vring-index-unchecked");
	ack_state(VHOST_USER_SET_VRING_NUM, 200, 64);
}

static void crash_kick_write(void)
{
	int p[2];

	start(BACKEND_DEV_NET, 1);
	negotiate(0, PROTO_DEFAULT);
	bug_set("kick-self-write-panic");
	fdzoo_pipe(p, 0);
	ack_fd(VHOST_USER_SET_VRING_KICK, 0, p[0]);
}

START_TEST(test_bug_crashes)
{
	int st;

	st = child_status(crash_vring_index);
	ck_assert(crashed(st, SIGSEGV));
	st = child_status(crash_kick_write);
	ck_assert(crashed(st, SIGABRT));
}
END_TEST

/* Bugs whose symptom is a wrong reply. */
START_TEST(test_bug_wrong_replies)
{
	struct vhost_user_msg m, r;

	start(BACKEND_DEV_NET, 1);
	negotiate(0, PROTO_DEFAULT);
	bug_set("ack-success-on-error");
	ck_assert_uint_eq(ack_state(VHOST_USER_SET_VRING_NUM, 0, 3), 0);
	bug_clear_all();
	bug_set("set-features-unchecked");
	ck_assert_uint_eq(ack_u64(VHOST_USER_SET_FEATURES, F(63)), 0);
	bug_clear_all();
	bug_set("vring-num-unchecked");
	ck_assert_uint_eq(ack_state(VHOST_USER_SET_VRING_NUM, 0, 0), 0);
	bug_clear_all();
	bug_set("config-whole-struct");
	vhost_user_build_config(&m, VHOST_USER_GET_CONFIG, 6, 2, 0, NULL);
	send_msg(&m);
	recv_reply(&r);
	ck_assert_uint_ne(r.hdr.size, 12 + 2);
	bug_clear_all();
	bug_set("reply-flag-missing");
	vhost_user_build_empty(&m, VHOST_USER_GET_FEATURES);
	send_msg(&m);
	ck_assert_int_ge(
		frame_vhost_recv(fe, &r, chan_deadline(500), NULL, NULL), 0);
	ck_assert(!(r.hdr.flags & VHOST_USER_REPLY_MASK));
	finish();
}
END_TEST

/* Ring-state bugs: processing while stopped or disabled. */
START_TEST(test_bug_ring_states)
{
	struct vq_split_drv tx;
	struct vhost_user_msg m, r;
	int tk[2];
	uint64_t g, token;
	uint32_t len, base;
	struct vq_buf b;

	start(BACKEND_DEV_NET, 1);
	ck_assert_int_eq(fdzoo_pipe(tk, O_NONBLOCK), 0);
	negotiate(0, PROTO_DEFAULT);
	mem_table();
	ring_split(&tx, 1, tk[0], -1, 0);
	guest_buf(72, &g);
	b = (struct vq_buf){ .gpa = g, .len = 72 };
	/* published, never kicked: GET_VRING_BASE says 0, the bug 1 */
	ck_assert_int_ge(vq_split_drv_add(&tx, &b, 1, false, 1), 0);
	vq_split_drv_publish(&tx);
	bug_set("get-vring-base-avail-idx");
	vhost_user_build_vring_state(&m, VHOST_USER_GET_VRING_BASE, 1, 0);
	send_msg(&m);
	recv_reply(&r);
	memcpy(&base, r.payload + 4, 4);
	ck_assert_uint_eq(base, 1);
	bug_clear_all();
	/* GET_VRING_BASE does not stop: the next message processes it */
	kick(tk[1]);
	ck_assert_int_eq(vq_split_drv_reap(&tx, &token, &len, NULL), 1);
	bug_set("no-stop-on-get-vring-base");
	send_msg(&m);
	recv_reply(&r);
	ck_assert_int_ge(vq_split_drv_add(&tx, &b, 1, false, 2), 0);
	vq_split_drv_publish(&tx);
	get_u64_req(VHOST_USER_GET_FEATURES);
	ck_assert_int_eq(vq_split_drv_reap(&tx, &token, &len, NULL), 1);
	vq_split_drv_fini(&tx);
	backend_detach(be);
	close_fds(tk, 2);
	finish();
}
END_TEST

/* ---- inflight I/O tracking across a reconnect --------------------------- */

#define HOLD_IOPRIO 0x484f4c44u /* dev_blk.c: completed after the next kick */
/* one split queue region, as the back-end rounds it (64 bytes) */
#define INFL_SIZE ((16 + 16 * QSIZE + 63) / 64 * 64)

/* A one-sector blk write of @fill at @sector (held with @hold), added
 * and published, not kicked. Return: its head. */
static int blk_write_add(struct vq_split_drv *d, uint64_t sector, uint8_t fill,
			 bool hold, uint64_t token)
{
	uint32_t type = 1, prio = hold ? HOLD_IOPRIO : 0;
	uint64_t hg, dg, sg;
	uint8_t *hp, *dp, *sp;
	struct vq_buf b[3];
	int head;

	hp = guest_buf(16, &hg);
	memcpy(hp, &type, 4);
	memcpy(hp + 4, &prio, 4);
	memcpy(hp + 8, &sector, 8);
	dp = guest_buf(512, &dg);
	memset(dp, fill, 512);
	sp = guest_buf(1, &sg);
	*sp = 0xff;
	b[0] = (struct vq_buf){ .gpa = hg, .len = 16 };
	b[1] = (struct vq_buf){ .gpa = dg, .len = 512 };
	b[2] = (struct vq_buf){ .gpa = sg, .len = 1, .writable = true };
	head = vq_split_drv_add(d, b, 3, false, token);
	ck_assert_int_ge(head, 0);
	vq_split_drv_publish(d);
	return head;
}

/* The tokens used now, as a bit mask. */
static uint64_t reap_mask(struct vq_split_drv *d)
{
	const char *why = NULL;
	uint64_t token, mask = 0;
	uint32_t len;
	int ret;

	while ((ret = vq_split_drv_reap(d, &token, &len, &why)) == 1)
		mask |= UINT64_C(1) << token;
	ck_assert_msg(ret == 0, "reap: %d (%s)", ret, why ? why : "-");
	return mask;
}

/* Whether sector @sector of the RAM disk is all @fill. */
static bool disk_is(struct vq_split_drv *d, int kickw, uint64_t sector,
		    uint8_t fill)
{
	uint8_t r[512];
	uint32_t used;
	unsigned int i;

	memset(r, ~fill, sizeof(r));
	ck_assert_uint_eq(blk_req(d, kickw, 0, sector, r, 512, false, &used),
			  0);
	for (i = 0; i < sizeof(r); i++)
		if (r[i] != fill)
			return false;
	return true;
}

/* GET_INFLIGHT_FD for one queue. Return: the buffer's fd. */
static int inflight_get(void)
{
	struct vhost_user_msg m, r;

	vhost_user_build_inflight(&m, VHOST_USER_GET_INFLIGHT_FD, 0, 0, 1,
				  QSIZE);
	send_msg(&m);
	recv_reply(&r);
	ck_assert_uint_eq(r.nfds, 1);
	return r.fds[0];
}

static void inflight_set_size(int fd, size_t size)
{
	struct vhost_user_msg m;

	vhost_user_build_inflight(&m, VHOST_USER_SET_INFLIGHT_FD, size, 0, 1,
				  QSIZE);
	vhost_user_msg_attach_fds(&m, &fd, 1);
	ck_assert_uint_eq(acked(&m), 0);
}

static void inflight_set(int fd)
{
	inflight_set_size(fd, INFL_SIZE);
}

/* A new session on the same back-end: the front-end reconnects, sends
 * its memory (fe_mem's first region) and the inflight fd again and
 * restarts ring 0 of @d at @base with kick fd @kick. */
static void reconnect_to(uint64_t desc, uint64_t avail, uint64_t used,
			 uint64_t features, size_t infl_size, int infd,
			 int kick, uint32_t base)
{
	struct vhost_user_mem_region r;
	struct vhost_user_vring_addr a;
	struct vhost_user_msg m;
	int sv[2];

	close_fd(&fe);
	ck_assert_int_eq(sock_pair(sv), 0);
	fe = sv[0];
	backend_attach(be, sv[1]);
	negotiate(features, PROTO_DEFAULT);
	r = (struct vhost_user_mem_region){ .guest_addr = fe_mem.r[0].gpa,
					    .size = fe_mem.r[0].size,
					    .user_addr = fe_mem.r[0].uaddr };
	vhost_user_build_mem_table(&m, VHOST_USER_SET_MEM_TABLE, &r, 1);
	vhost_user_msg_attach_fds(&m, &fe_mem.r[0].fd, 1);
	ck_assert_uint_eq(acked(&m), 0);
	inflight_set_size(infd, infl_size);
	ck_assert_uint_eq(ack_state(VHOST_USER_SET_VRING_NUM, 0, QSIZE), 0);
	ck_assert_uint_eq(ack_state(VHOST_USER_SET_VRING_BASE, 0, base), 0);
	a = (struct vhost_user_vring_addr){ .index = 0,
					    .desc = fe_uva(desc),
					    .used = fe_uva(used),
					    .avail = fe_uva(avail) };
	vhost_user_build_vring_addr(&m, VHOST_USER_SET_VRING_ADDR, &a);
	ck_assert_uint_eq(acked(&m), 0);
	ck_assert_uint_eq(ack_fd(VHOST_USER_SET_VRING_KICK, 0, kick), 0);
	ck_assert_uint_eq(ack_fd(VHOST_USER_SET_VRING_CALL,
				 VHOST_USER_VRING_NOFD_MASK, -1),
			  0);
	ck_assert_uint_eq(ack_state(VHOST_USER_SET_VRING_ENABLE, 0, 1), 0);
}

static void reconnect(struct vq_split_drv *d, int infd, int kick, uint16_t base)
{
	reconnect_to(d->desc_gpa, d->avail_gpa, d->used_gpa, 0, INFL_SIZE, infd,
		     kick, base);
}

static uint16_t rd16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

/* Held requests stay inflight in the region, complete on the next kick;
 * after a reconnect the heads still inflight are resubmitted (not those
 * used, even when the region's used_idx lagged behind the used ring). */
START_TEST(test_inflight_resubmit)
{
	struct vq_split_drv q;
	int kp[2], infd, h[4];
	uint64_t c1, c2;
	uint8_t *reg;

	start(BACKEND_DEV_BLK, 1);
	ck_assert_int_eq(fdzoo_pipe(kp, O_NONBLOCK), 0);
	fds_before += 2;
	negotiate(0, PROTO_DEFAULT);
	infd = inflight_get();
	inflight_set(infd);
	reg = mmap(NULL, INFL_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, infd,
		   0);
	ck_assert(reg != MAP_FAILED);
	mem_table();
	ring_split(&q, 0, kp[0], -1, 0);

	h[0] = blk_write_add(&q, 2, 0x11, false, 0);
	h[1] = blk_write_add(&q, 4, 0x22, true, 1);
	h[2] = blk_write_add(&q, 6, 0x33, true, 2);
	h[3] = blk_write_add(&q, 8, 0x44, false, 3);
	kick(kp[1]);
	ck_assert_uint_eq(reap_mask(&q), 0x9);
	/* "Set desc[i].inflight to 1" for the held; 0 for the used */
	ck_assert_uint_eq(reg[16 + 16 * h[0]], 0);
	ck_assert_uint_eq(reg[16 + 16 * h[1]], 1);
	ck_assert_uint_eq(reg[16 + 16 * h[2]], 1);
	ck_assert_uint_eq(reg[16 + 16 * h[3]], 0);
	memcpy(&c1, reg + 16 + 16 * h[1] + 8, 8);
	memcpy(&c2, reg + 16 + 16 * h[2] + 8, 8);
	ck_assert_uint_lt(c1, c2);
	ck_assert_uint_eq(rd16(reg + 14), 2);		   /* used_idx */
	ck_assert_uint_eq(rd16(reg + 12), (unsigned)h[3]); /* last batch */
	/* the next kick completes them */
	kick(kp[1]);
	ck_assert_uint_eq(reap_mask(&q), 0x6);
	ck_assert_uint_eq(reg[16 + 16 * h[1]] | reg[16 + 16 * h[2]], 0);
	ck_assert(disk_is(&q, kp[1], 4, 0x22));
	ck_assert(disk_is(&q, kp[1], 6, 0x33));

	/* Two held, one plain; then the session dies. */
	h[1] = blk_write_add(&q, 10, 0x55, true, 1);
	h[2] = blk_write_add(&q, 12, 0x66, true, 2);
	h[3] = blk_write_add(&q, 14, 0x77, false, 3);
	kick(kp[1]);
	ck_assert_uint_eq(reap_mask(&q), 0x8);
	/* As if it died between the used ring and the region's used_idx:
	 * the last batch (h[3]) still marked, used_idx one behind. */
	reg[16 + 16 * h[3]] = 1;
	ck_assert_uint_eq(rd16(reg + 14), 7);
	reg[14] = 6;
	reconnect(&q, infd, kp[0], 7); /* QEMU: the used idx */
	kick(kp[1]);
	ck_assert_uint_eq(reap_mask(&q), 0x6); /* h[3] is not used again */
	ck_assert_uint_eq(reg[16 + 16 * h[3]], 0);
	ck_assert(disk_is(&q, kp[1], 10, 0x55));
	ck_assert(disk_is(&q, kp[1], 12, 0x66));
	/* new requests go on from avail 9 */
	ck_assert_int_ge(blk_write_add(&q, 16, 0x88, false, 4), 0);
	kick(kp[1]);
	ck_assert_uint_eq(reap_mask(&q), 0x10);
	ck_assert_uint_eq(rd16(reg + 14), 12);

	/* The seeded inflight-not-resubmitted resumes at the used idx the
	 * front-end sends (in-order thinking): the request that overtook the
	 * held one is used a second time. */
	h[1] = blk_write_add(&q, 18, 0x99, true, 1);
	ck_assert_int_ge(blk_write_add(&q, 20, 0xaa, false, 2), 0);
	kick(kp[1]);
	ck_assert_uint_eq(reap_mask(&q), 0x4);
	bug_set("inflight-not-resubmitted");
	reconnect(&q, infd, kp[0], 13);
	kick(kp[1]);
	{
		uint64_t token;
		uint32_t len;

		ck_assert_int_eq(vq_split_drv_reap(&q, &token, &len, NULL),
				 -EPROTO);
	}
	ck_assert_uint_eq(reg[16 + 16 * h[1]], 1);
	bug_clear_all();

	munmap(reg, INFL_SIZE);
	close(infd);
	vq_split_drv_fini(&q);
	backend_detach(be);
	close_fds(kp, 2);
	fds_before -= 2;
	finish();
}
END_TEST

/* one packed queue region, as the back-end rounds it */
#define INFL_PK_SIZE ((32 + 32 * QSIZE + 63) / 64 * 64)
#define PK_BASE0 0x80008000u /* both wrap counters 1, slots 0 */

/* A one-sector blk write (held with @hold) on a packed ring, published. */
static void pk_write_add(struct vq_packed_drv *d, uint64_t sector, bool hold,
			 uint64_t token)
{
	uint32_t type = 1, prio = hold ? HOLD_IOPRIO : 0;
	uint64_t hg, dg, sg;
	uint8_t *hp, *dp, *sp;
	struct vq_buf b[3];

	hp = guest_buf(16, &hg);
	memcpy(hp, &type, 4);
	memcpy(hp + 4, &prio, 4);
	memcpy(hp + 8, &sector, 8);
	dp = guest_buf(512, &dg);
	memset(dp, 0x5a, 512);
	sp = guest_buf(1, &sg);
	*sp = 0xff;
	b[0] = (struct vq_buf){ .gpa = hg, .len = 16 };
	b[1] = (struct vq_buf){ .gpa = dg, .len = 512 };
	b[2] = (struct vq_buf){ .gpa = sg, .len = 1, .writable = true };
	ck_assert_int_ge(vq_packed_drv_add(d, b, 3, false, token), 0);
	vq_packed_drv_publish(d);
}

static uint64_t pk_reap_mask(struct vq_packed_drv *d)
{
	const char *why = NULL;
	uint64_t token, mask = 0;
	uint32_t len;
	int ret;

	while ((ret = vq_packed_drv_reap(d, &token, &len, &why)) == 1)
		mask |= UINT64_C(1) << token;
	ck_assert_msg(ret == 0, "reap: %d (%s)", ret, why ? why : "-");
	return mask;
}

/* How many of the region's entries are marked inflight. */
static unsigned int pk_marked(const uint8_t *reg)
{
	unsigned int i, n = 0;

	for (i = 0; i < QSIZE; i++)
		n += reg[32 + 32 * i] == 1;
	return n;
}

/* Packed: held chains are copied into the region's entries (the used
 * descriptors of later chains overwrite their slots), come back after a
 * kick, and after a reconnect are resubmitted from the copies. */
START_TEST(test_inflight_packed)
{
	struct vq_packed_drv q;
	int kp[2], infd;
	uint8_t *reg;
	uint32_t base;

	start(BACKEND_DEV_BLK, 1);
	ck_assert_int_eq(fdzoo_pipe(kp, O_NONBLOCK), 0);
	fds_before += 2;
	negotiate(F(VIRTIO_F_RING_PACKED), PROTO_DEFAULT);
	infd = inflight_get();
	inflight_set_size(infd, INFL_PK_SIZE);
	reg = mmap(NULL, INFL_PK_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, infd,
		   0);
	ck_assert(reg != MAP_FAILED);
	mem_table();
	ck_assert_int_eq(vq_packed_drv_init(&q, &fe_mem, QSIZE,
					    F(VIRTIO_F_RING_PACKED), 0),
			 0);
	/* the rings start in a session of their own, as after a QEMU
	 * reconnect with a fresh buffer: nothing to resume */
	reconnect_to(q.desc_gpa, q.driver_gpa, q.device_gpa,
		     F(VIRTIO_F_RING_PACKED), INFL_PK_SIZE, infd, kp[0],
		     PK_BASE0);
	/* the free list GET set up: entry i links to i + 1 */
	ck_assert_uint_eq(rd16(reg + 32 + 32 * 5 + 2), 6);

	pk_write_add(&q, 2, false, 0);
	pk_write_add(&q, 4, true, 1);
	pk_write_add(&q, 6, true, 2);
	pk_write_add(&q, 8, false, 3);
	kick(kp[1]);
	ck_assert_uint_eq(pk_reap_mask(&q), 0x9);
	ck_assert_uint_eq(pk_marked(reg), 2);
	ck_assert_uint_eq(rd16(reg + 16), 6); /* used_idx: 2 chains of 3 */
	ck_assert_uint_eq(rd16(reg + 18), 6); /* old_used_idx */
	kick(kp[1]);
	ck_assert_uint_eq(pk_reap_mask(&q), 0x6);
	ck_assert_uint_eq(pk_marked(reg), 0);
	ck_assert_uint_eq(rd16(reg + 16), 12);

	/* two held, one plain; the session dies; a new one resumes */
	pk_write_add(&q, 10, true, 4);
	pk_write_add(&q, 12, true, 5);
	pk_write_add(&q, 14, false, 6);
	kick(kp[1]);
	ck_assert_uint_eq(pk_reap_mask(&q), 0x40);
	ck_assert_uint_eq(pk_marked(reg), 2);
	base = (15 | 0x8000) | (uint32_t)(15 | 0x8000) << 16; /* used */
	reconnect_to(q.desc_gpa, q.driver_gpa, q.device_gpa,
		     F(VIRTIO_F_RING_PACKED), INFL_PK_SIZE, infd, kp[0], base);
	kick(kp[1]);
	ck_assert_uint_eq(pk_reap_mask(&q), 0x30);
	ck_assert_uint_eq(pk_marked(reg), 0);
	ck_assert_uint_eq(rd16(reg + 16), 21);
	/* new requests go on after them */
	pk_write_add(&q, 16, false, 7);
	kick(kp[1]);
	ck_assert_uint_eq(pk_reap_mask(&q), 0x80);

	munmap(reg, INFL_PK_SIZE);
	close(infd);
	vq_packed_drv_fini(&q);
	backend_detach(be);
	close_fds(kp, 2);
	fds_before -= 2;
	finish();
}
END_TEST

static Suite *ref_vhost_suite(void)
{
	Suite *s = suite_create("ref_vhost");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_features);
	tcase_add_test(tc, test_owner_twice);
	tcase_add_test(tc, test_gated_closes);
	tcase_add_test(tc, test_inband_without_ack_closes);
	tcase_add_test(tc, test_fds_on_fdless_request);
	tcase_add_test(tc, test_unknown_and_malformed);
	tcase_add_test(tc, test_oversized_closes);
	tcase_add_test(tc, test_split_header);
	tcase_add_test(tc, test_vring_index_checked);
	tcase_add_test(tc, test_vring_num_checked);
	tcase_add_test(tc, test_vring_addr_checked);
	tcase_add_test(tc, test_vring_fds);
	tcase_add_test(tc, test_net_loopback);
	tcase_add_test(tc, test_hostile_ring);
	tcase_add_test(tc, test_mem_table_checked);
	tcase_add_test(tc, test_mem_slots);
	tcase_add_test(tc, test_shrink_sigbus);
	tcase_add_test(tc, test_config);
	tcase_add_test(tc, test_inflight);
	tcase_add_test(tc, test_inflight_resubmit);
	tcase_add_test(tc, test_inflight_packed);
	tcase_add_test(tc, test_blk);
	tcase_add_test(tc, test_reset_device);
	tcase_add_test(tc, test_backend_channel);
	tcase_add_test(tc, test_state_roundtrip);
	tcase_add_test(tc, test_state_unwritable);
	tcase_add_test(tc, test_bug_list);
	tcase_add_test(tc, test_bug_fd_leak);
	tcase_add_test(tc, test_bug_no_ack);
	tcase_add_test(tc, test_bug_crashes);
	tcase_add_test(tc, test_bug_wrong_replies);
	tcase_add_test(tc, test_bug_ring_states);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(ref_vhost_suite());
	int failed;

	/* As the program does: a peer that hangs up never kills us. */
	signal(SIGPIPE, SIG_IGN);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
