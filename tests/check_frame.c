// SPDX-License-Identifier: MIT
/*
 * check_frame.c - whole-message framing over a socketpair: round trips with
 * fds, refusal of oversized sizes before the body is read, EOF and timeouts,
 * more fds than a message carries, and no fd left open on any path.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check_util.h"
#include "common/util.h"
#include "fe/frame.h"
#include "transport/fdzoo.h"
#include "transport/sock.h"

static int sv[2];
static int fds_before;

static void setup(void)
{
	fds_before = count_fds();
	ck_assert_int_eq(sock_pair(sv), 0);
}

static void teardown(void)
{
	close_fds(sv, 2);
	ck_assert_int_eq(count_fds(), fds_before);
}

START_TEST(vhost_round_trip_with_fds)
{
	struct vhost_user_mem_region r = { .guest_addr = 0x1000,
					   .size = 0x2000,
					   .user_addr = 0x7000,
					   .mmap_offset = 0 };
	struct vhost_user_msg m, got;
	int mem = fdzoo_memfd(0x2000, 0);
	enum frame_split split = (enum frame_split)_i;

	ck_assert_int_ge(mem, 0);
	vhost_user_build_mem_table(&m, VHOST_USER_SET_MEM_TABLE, &r, 1);
	vhost_user_msg_attach_fds(&m, &mem, 1);
	ck_assert_int_eq(
		frame_vhost_send(sv[0], &m, split, chan_deadline(1000)),
		12 + 40);
	ck_assert_int_eq(
		frame_vhost_recv(sv[1], &got, chan_deadline(1000), NULL, NULL),
		12 + 40);
	ck_assert_int_eq(got.hdr.request, VHOST_USER_SET_MEM_TABLE);
	ck_assert_int_eq(got.nfds, 1);
	ck_assert_int_eq(fdzoo_kind_of(got.fds[0]), FDZOO_MEMFD);
	ck_assert_int_eq(memcmp(got.payload, m.payload, 40), 0);
	close_fds(got.fds, got.nfds);
	close_fd(&mem);
}
END_TEST

START_TEST(vhost_oversized_refused_before_body)
{
	struct vhost_user_hdr h = { VHOST_USER_SET_OWNER, 1,
				    VHOST_USER_PAYLOAD_MAX + 1 };
	uint8_t next[4] = { 1, 2, 3, 4 }, back[4];
	struct vhost_user_msg got;
	const char *why = NULL;

	ck_assert_int_eq(write(sv[0], &h, sizeof(h)), sizeof(h));
	ck_assert_int_eq(write(sv[0], next, sizeof(next)), sizeof(next));
	ck_assert_int_eq(
		frame_vhost_recv(sv[1], &got, chan_deadline(1000), &why, NULL),
		-EMSGSIZE);
	ck_assert_ptr_nonnull(why);
	ck_assert_uint_eq(got.hdr.size, VHOST_USER_PAYLOAD_MAX + 1);
	/* The bytes after the header were not consumed as a body. */
	ck_assert_int_eq(read(sv[1], back, sizeof(back)), sizeof(back));
	ck_assert_int_eq(memcmp(back, next, sizeof(next)), 0);
}
END_TEST

START_TEST(vhost_eof_mid_payload)
{
	struct vhost_user_msg m, got;
	uint8_t buf[20];
	int efd = eventfd(0, EFD_CLOEXEC);

	vhost_user_build_u64(&m, VHOST_USER_SET_FEATURES, 1);
	ck_assert_int_eq(vhost_user_pack(&m, buf, sizeof(buf)), 20);
	/* The fd rides on the header; the payload never completes. */
	ck_assert_int_eq(
		chan_send_buf(sv[0], buf, 16, &efd, 1, chan_deadline(1000)),
		16);
	close_fd(&sv[0]);
	ck_assert_int_eq(
		frame_vhost_recv(sv[1], &got, chan_deadline(1000), NULL, NULL),
		-ECONNRESET);
	close_fd(&efd);
}
END_TEST

START_TEST(vhost_timeout)
{
	struct vhost_user_msg got;
	int64_t start = chan_now();

	ck_assert_int_eq(
		frame_vhost_recv(sv[1], &got, chan_deadline(50), NULL, NULL),
		-ETIMEDOUT);
	ck_assert_int_ge(chan_now() - start, 45 * 1000000ll);
}
END_TEST

START_TEST(vhost_too_many_fds)
{
	struct vhost_user_msg m, got;
	struct frame_info info;
	const char *why = NULL;
	uint8_t buf[12];
	int fds[12], i;

	for (i = 0; i < 12; i++)
		fds[i] = eventfd(0, EFD_CLOEXEC);
	/* Twelve fds on a message that takes none; eight fit. */
	vhost_user_build_empty(&m, VHOST_USER_SET_OWNER);
	ck_assert_int_eq(vhost_user_pack(&m, buf, sizeof(buf)), 12);
	ck_assert_int_eq(
		chan_send_buf(sv[0], buf, 12, fds, 12, chan_deadline(1000)),
		12);
	ck_assert_int_eq(
		frame_vhost_recv(sv[1], &got, chan_deadline(1000), &why, &info),
		-EMSGSIZE);
	ck_assert_ptr_nonnull(why);
	ck_assert_int_eq(info.fds_dropped, 4);
	ck_assert_int_eq(got.hdr.request, VHOST_USER_SET_OWNER);
	ck_assert_int_eq(got.nfds, 8);
	close_fds(got.fds, got.nfds);
	close_fds(fds, 12);
}
END_TEST

START_TEST(vfio_round_trip_and_size_rules)
{
	static uint8_t out[256], in[256];
	struct vfio_user_msg m, got;
	struct vfio_user_hdr bad = { .msg_id = 1,
				     .command = VFIO_USER_DEVICE_RESET,
				     .msg_size = 8 };
	const char *why = NULL;
	int mem = fdzoo_memfd(4096, 0), n;

	n = vfio_user_build_dma_map(&m, out, sizeof(out), 7,
				    VFIO_USER_F_DMA_REGION_READ, 0, 0x10000,
				    4096, mem);
	ck_assert_int_gt(n, 16);
	ck_assert_int_eq(frame_vfio_send(sv[0], &m, FRAME_HDR_PAYLOAD,
					 chan_deadline(1000)),
			 n);
	ck_assert_int_eq(frame_vfio_recv(sv[1], &got, in, sizeof(in), 0,
					 chan_deadline(1000), NULL, NULL),
			 n);
	ck_assert_int_eq(got.hdr.msg_id, 7);
	ck_assert_int_eq(got.nfds, 1);
	close_fds(got.fds, got.nfds);

	/* msg_size below the header: refused, with a reason. */
	ck_assert_int_eq(write(sv[0], &bad, sizeof(bad)), sizeof(bad));
	ck_assert_int_eq(frame_vfio_recv(sv[1], &got, in, sizeof(in), 0,
					 chan_deadline(1000), &why, NULL),
			 -EBADMSG);
	ck_assert_ptr_nonnull(why);

	/* Larger than accepted: refused before the body is read. */
	bad.msg_size = 1000;
	ck_assert_int_eq(write(sv[0], &bad, sizeof(bad)), sizeof(bad));
	why = NULL;
	ck_assert_int_eq(frame_vfio_recv(sv[1], &got, in, sizeof(in), 0,
					 chan_deadline(1000), &why, NULL),
			 -EMSGSIZE);
	ck_assert_ptr_nonnull(why);
	close_fd(&mem);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("frame");
	TCase *tc = tcase_create("frame");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, vhost_round_trip_with_fds, FRAME_WHOLE,
			    FRAME_HDR_PAYLOAD + 1);
	tcase_add_test(tc, vhost_oversized_refused_before_body);
	tcase_add_test(tc, vhost_eof_mid_payload);
	tcase_add_test(tc, vhost_timeout);
	tcase_add_test(tc, vhost_too_many_fds);
	tcase_add_test(tc, vfio_round_trip_and_size_rules);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
