// SPDX-License-Identifier: MIT
/*
 * check_ref_vfio.c - vuc-ref-vfio, command by command: every command of
 * the spec, each rejection path with the server's fd count checked, the
 * three DMA access modes, IRQs, migration between two server instances and
 * dirty logging. The server runs in a forked child (server_serve() of the
 * library) and a small client (tclient.c) talks to it.
 */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/util.h"
#include "fe/frame.h"
#include "transport/chan.h"
#include "transport/fdzoo.h"
#include "wire/vfio_user_caps.h"
#include "../check_util.h"
#include "bugs.h"
#include "device.h"
#include "peer.h"

#define IOVA PEER_MEM_IOVA

static int fds_before;

static void setup(void)
{
	fds_before = count_fds();
}

static void teardown(void)
{
	ck_assert_int_eq(count_fds(), fds_before);
}

static void start(struct peer *p, uint64_t bugs)
{
	ck_assert_int_eq(peer_spawn(p, bugs, false, 1), 0);
	ck_assert_int_eq(tc_version(&p->c, NULL), 0);
}

static void finish_clean(struct peer *p)
{
	int st = peer_finish(p);

	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		      "server exit status 0x%x", st);
}

/* Send @m, get its reply, check it with the wire layer's reply rules. */
static int call_checked(struct peer *p, const struct vfio_user_msg *m,
			struct vfio_user_msg *rep)
{
	const char *why = NULL;
	int ret;

	ret = tc_call(&p->c, m, rep);
	ck_assert_int_ge(ret, 0);
	ret = vfio_user_check_reply(m, rep, VFIO_USER_CHECK_STRICT, &why);
	ck_assert_msg(ret >= 0, "%s reply breaks the rules: %s",
		      vfio_user_command_name(m->hdr.command), why ? why : "?");
	return ret;
}

/* Expect an error reply with @err (0: any) to @m. */
static void expect_error(struct peer *p, const struct vfio_user_msg *m, int err)
{
	struct vfio_user_msg rep;

	ck_assert_int_eq(call_checked(p, m, &rep), VFIO_USER_REPLY_ERROR);
	ck_assert_uint_eq(rep.hdr.msg_size, VFIO_USER_HDR_SIZE);
	if (err)
		ck_assert_int_eq(tc_errno(&rep), err);
	else
		ck_assert_int_ne(tc_errno(&rep), 0);
}

/* ------------------------------------------------------------------ */
/* VERSION                                                             */
/* ------------------------------------------------------------------ */

START_TEST(t_version_ok)
{
	struct vfio_user_caps prop, got;
	struct vfio_user_version v;
	struct vfio_user_msg m, rep;
	const char *json =
		"{\"capabilities\":{\"max_msg_fds\":4,"
		"\"max_data_xfer_size\":65536,\"write_multiple\":true,"
		"\"unknown_key\":1}}";
	uint8_t buf[512];
	struct peer p;

	ck_assert_int_eq(peer_spawn(&p, 0, false, 1), 0);
	vfio_user_build_version(&m, buf, sizeof(buf), 1, 0, 1, json);
	ck_assert_int_eq(call_checked(&p, &m, &rep), VFIO_USER_REPLY_OK);
	ck_assert_int_eq(vfio_user_get_version(&rep, &v, NULL, NULL, NULL), 0);
	ck_assert_uint_eq(v.major, 0);
	ck_assert_uint_eq(v.minor, 1); /* not above the proposal */
	ck_assert_int_eq(vfio_user_caps_from_version(&prop, &m, NULL), 0);
	ck_assert_int_eq(vfio_user_caps_from_version(&got, &rep, NULL), 0);
	ck_assert_int_eq(
		vfio_user_caps_check_reply(&prop, &got, rep.nfds, NULL), 0);
	ck_assert(got.write_multiple);
	ck_assert_uint_eq(got.max_dma_maps, DMA_MAX_REGIONS);
	ck_assert(got.present & VFIO_USER_CAP_MIGRATION_PGSIZE);
	/* a second VERSION is refused, the connection stays */
	vfio_user_build_version(&m, buf, sizeof(buf), 2, 0, 1, NULL);
	expect_error(&p, &m, EINVAL);
	finish_clean(&p);
}
END_TEST

START_TEST(t_version_defaults_and_twin)
{
	struct vfio_user_caps got;
	struct vfio_user_msg m, rep;
	uint8_t buf[512];
	struct peer p;

	/* no version data at all: defaults, no twin, no write_multiple */
	ck_assert_int_eq(peer_spawn(&p, 0, false, 1), 0);
	vfio_user_build_version(&m, buf, sizeof(buf), 1, 0, 2, NULL);
	ck_assert_int_eq(call_checked(&p, &m, &rep), VFIO_USER_REPLY_OK);
	ck_assert_int_eq(vfio_user_caps_from_version(&got, &rep, NULL), 0);
	ck_assert(!got.write_multiple && !got.twin_socket_supported);
	ck_assert_uint_eq(rep.nfds, 0);
	finish_clean(&p);

	/* twin socket proposed: one fd, at fd_index 0 */
	ck_assert_int_eq(peer_spawn(&p, 0, false, 1), 0);
	vfio_user_build_version(
		&m, buf, sizeof(buf), 1, 0, 2,
		"{\"capabilities\":{\"twin_socket\":{\"supported\":true}}}");
	ck_assert_int_eq(call_checked(&p, &m, &rep), VFIO_USER_REPLY_OK);
	ck_assert_int_eq(vfio_user_caps_from_version(&got, &rep, NULL), 0);
	ck_assert(got.twin_socket_supported);
	ck_assert_uint_eq(got.twin_socket_fd_index, 0);
	ck_assert_uint_eq(rep.nfds, 1);
	close_fds(rep.fds, rep.nfds);
	finish_clean(&p);

	/* ... not with max_msg_fds 0, nor with --no-twin-socket */
	ck_assert_int_eq(peer_spawn(&p, 0, true, 1), 0);
	ck_assert_int_eq(call_checked(&p, &m, &rep), VFIO_USER_REPLY_OK);
	ck_assert_uint_eq(rep.nfds, 0);
	finish_clean(&p);
}
END_TEST

/* Each of these VERSION payloads is refused, and the server hangs up. */
START_TEST(t_version_refused)
{
	static const char *const bad[] = {
		"{",
		"\"",
		"{\"capabilities\":23}",
		"{\"capabilities\":{\"max_msg_fds\":\"foo\"}}",
		"{\"capabilities\":{\"max_msg_fds\":-1}}",
		"{\"capabilities\":{\"max_msg_fds\":1025}}",
		"{\"capabilities\":{\"max_data_xfer_size\":0}}",
		"{\"capabilities\":{\"migration\":23}}",
		("{\"capabilities\":{\"twin_socket\":{\"supported\":true,"
		 "\"fd_index\":0}}}"),
	};
	struct vfio_user_msg m, rep;
	uint8_t buf[512];
	struct peer p;
	unsigned int i;
	int efd;

	for (i = 0; i < ARRAY_SIZE(bad) + 4; i++) {
		ck_assert_int_eq(peer_spawn(&p, 0, false, 1), 0);
		if (i < ARRAY_SIZE(bad)) {
			vfio_user_build_version(&m, buf, sizeof(buf), 7, 0, 0,
						bad[i]);
		} else if (i == ARRAY_SIZE(bad)) {
			/* no terminating NUL */
			vfio_user_build_version(&m, buf, sizeof(buf), 7, 0, 0,
						"{}");
			m.payload_len--;
			m.hdr.msg_size--;
		} else if (i == ARRAY_SIZE(bad) + 1) {
			/* a major nobody speaks */
			vfio_user_build_version(&m, buf, sizeof(buf), 7, 999, 0,
						NULL);
		} else if (i == ARRAY_SIZE(bad) + 2) {
			/* the first message is not VERSION */
			vfio_user_build_device_get_info(&m, buf, sizeof(buf), 7,
							0);
		} else {
			/* VERSION with an fd: refused, fd closed */
			efd = eventfd(0, EFD_CLOEXEC);
			vfio_user_build_version(&m, buf, sizeof(buf), 7, 0, 0,
						NULL);
			vfio_user_msg_set_fds(&m, &efd, 1);
			ck_assert_int_ge(tc_send(&p.c, &m), 0);
			close(efd);
			ck_assert_int_ge(tc_recv(&p.c, &rep, 5000), 0);
			ck_assert_int_eq(tc_errno(&rep), EINVAL);
			ck_assert_int_eq(tc_recv(&p.c, &rep, 5000),
					 -ECONNRESET);
			finish_clean(&p);
			continue;
		}
		ck_assert_int_ge(tc_call(&p.c, &m, &rep), 0);
		ck_assert_msg(tc_errno(&rep) == EINVAL, "case %u: errno %d", i,
			      tc_errno(&rep));
		ck_assert_uint_eq(rep.hdr.msg_id, 7);
		ck_assert_int_eq(tc_recv(&p.c, &rep, 5000), -ECONNRESET);
		finish_clean(&p);
	}
}
END_TEST

/* ------------------------------------------------------------------ */
/* Device info, regions                                                */
/* ------------------------------------------------------------------ */

START_TEST(t_get_info)
{
	struct vfio_user_device_info info;
	struct vfio_user_msg m, rep;
	uint8_t buf[64];
	struct peer p;

	start(&p, 0);
	vfio_user_build_device_get_info(&m, buf, sizeof(buf), 3, 64);
	ck_assert_int_eq(call_checked(&p, &m, &rep), VFIO_USER_REPLY_OK);
	ck_assert_int_eq(vfio_user_get_device_info(&rep, &info, NULL), 0);
	ck_assert_uint_eq(info.argsz, 16);
	ck_assert_uint_eq(info.flags,
			  VFIO_DEVICE_FLAGS_PCI | VFIO_DEVICE_FLAGS_RESET);
	ck_assert_uint_eq(info.num_regions, DEV_NUM_REGIONS);
	ck_assert_uint_eq(info.num_irqs, DEV_NUM_IRQS);
	/* argsz below the 16-byte reply */
	vfio_user_build_device_get_info(&m, buf, sizeof(buf), 4, 8);
	expect_error(&p, &m, EINVAL);
	finish_clean(&p);
}
END_TEST

START_TEST(t_region_info)
{
	struct vfio_user_region_info_cap_sparse_mmap sp;
	struct vfio_user_region_sparse_mmap_area area;
	struct vfio_user_region_info_cap_type ty;
	struct vfio_user_region_info ri;
	struct vfio_user_msg m, rep;
	uint8_t buf[64], *map;
	uint32_t i, argsz;
	struct peer p;

	start(&p, 0);
	for (i = 0; i < DEV_NUM_REGIONS; i++) {
		vfio_user_build_region_info(&m, buf, sizeof(buf), 10, 1024, i);
		ck_assert_int_eq(call_checked(&p, &m, &rep),
				 VFIO_USER_REPLY_OK);
		ck_assert_int_eq(vfio_user_get_region_info(&rep, &ri, NULL), 0);
		ck_assert_uint_eq(ri.index, i);
		close_fds(rep.fds, rep.nfds);
	}
	vfio_user_build_region_info(&m, buf, sizeof(buf), 11, 1024,
				    DEV_NUM_REGIONS);
	expect_error(&p, &m, EINVAL);

	/* argsz retry: too small for the caps -> argsz, no caps, no fd */
	vfio_user_build_region_info(&m, buf, sizeof(buf), 12, 32,
				    VFIO_PCI_BAR2_REGION_INDEX);
	ck_assert_int_eq(call_checked(&p, &m, &rep), VFIO_USER_REPLY_RETRY);
	ck_assert_uint_eq(rep.nfds, 0);
	ck_assert_int_eq(vfio_user_get_region_info(&rep, &ri, NULL), 0);
	ck_assert_uint_gt(ri.argsz, 32);
	ck_assert(!(ri.flags & VFIO_REGION_INFO_FLAG_CAPS));
	argsz = ri.argsz;
	vfio_user_build_region_info(&m, buf, sizeof(buf), 13, argsz,
				    VFIO_PCI_BAR2_REGION_INDEX);
	ck_assert_int_eq(call_checked(&p, &m, &rep), VFIO_USER_REPLY_OK);
	ck_assert_int_eq(vfio_user_get_region_info(&rep, &ri, NULL), 0);
	ck_assert_uint_eq(ri.size, DEV_BAR2_SIZE);
	ck_assert(ri.flags & VFIO_REGION_INFO_FLAG_MMAP);
	ck_assert_int_eq(vfio_user_get_sparse_mmap(&rep, ri.cap_offset, &sp, 1,
						   &area, NULL),
			 0);
	ck_assert_uint_eq(sp.nr_areas, 2);
	ck_assert_uint_eq(area.offset, DEV_BAR2_AREA1_OFF);
	ck_assert_uint_eq(rep.nfds, 1);
	/* the fd maps BAR2: what REGION_WRITE put there shows */
	map = mmap(NULL, DEV_BAR2_SIZE, PROT_READ, MAP_SHARED, rep.fds[0], 0);
	ck_assert(map != MAP_FAILED);
	ck_assert_int_eq(tc_region_write(&p.c, VFIO_PCI_BAR2_REGION_INDEX,
					 0x9000, "hello", 5),
			 0);
	ck_assert_mem_eq(map + 0x9000, "hello", 5);
	munmap(map, DEV_BAR2_SIZE);
	close_fds(rep.fds, rep.nfds);

	/* the info region: a chain of two caps, TYPE then SPARSE_MMAP */
	vfio_user_build_region_info(&m, buf, sizeof(buf), 14, 1024,
				    DEV_INFO_REGION_INDEX);
	ck_assert_int_eq(call_checked(&p, &m, &rep), VFIO_USER_REPLY_OK);
	ck_assert_int_eq(vfio_user_get_region_info(&rep, &ri, NULL), 0);
	ck_assert_int_eq(vfio_user_get_cap_type(&rep, ri.cap_offset, &ty, NULL),
			 0);
	ck_assert_uint_eq(ty.type, DEV_INFO_REGION_TYPE);
	ck_assert_uint_ne(ty.header.next, 0);
	ck_assert_int_eq(vfio_user_get_sparse_mmap(&rep, ty.header.next, &sp, 0,
						   &area, NULL),
			 0);
	ck_assert_uint_eq(area.size, DEV_INFO_SIZE);
	close_fds(rep.fds, rep.nfds);
	finish_clean(&p);
}
END_TEST

START_TEST(t_region_rw)
{
	struct vfio_user_msg m, rep;
	uint8_t buf[64], data[16];
	uint32_t v32;
	uint16_t v16;
	struct peer p;

	start(&p, 0);
	ck_assert_int_eq(
		tc_region_read(&p.c, VFIO_PCI_CONFIG_REGION_INDEX, 0, &v32, 4),
		0);
	ck_assert_uint_eq(v32, DEV_VENDOR_ID | (DEV_DEVICE_ID << 16));
	/* the capability list: PM first */
	ck_assert_int_eq(tc_region_read(&p.c, VFIO_PCI_CONFIG_REGION_INDEX,
					0x34, data, 1),
			 0);
	ck_assert_uint_eq(data[0], DEV_CAP_PM);
	ck_assert_int_eq(tc_region_read(&p.c, VFIO_PCI_CONFIG_REGION_INDEX,
					DEV_ECAP_DSN, &v32, 4),
			 0);
	ck_assert_uint_eq(v32 & 0xffff, 0x0003);
	/* BAR sizing */
	v32 = 0xffffffff;
	ck_assert_int_eq(tc_region_write(&p.c, VFIO_PCI_CONFIG_REGION_INDEX,
					 0x10, &v32, 4),
			 0);
	ck_assert_int_eq(tc_region_read(&p.c, VFIO_PCI_CONFIG_REGION_INDEX,
					0x10, &v32, 4),
			 0);
	ck_assert_uint_eq(v32, ~(DEV_BAR0_SIZE - 1));
	/* read-only vendor id stays */
	v16 = 0xabcd;
	ck_assert_int_eq(
		tc_region_write(&p.c, VFIO_PCI_CONFIG_REGION_INDEX, 0, &v16, 2),
		0);
	ck_assert_int_eq(
		tc_region_read(&p.c, VFIO_PCI_CONFIG_REGION_INDEX, 0, &v16, 2),
		0);
	ck_assert_uint_eq(v16, DEV_VENDOR_ID);
	ck_assert_int_eq(tc_reg32(&p.c, DEV_REG_ID, &v32), 0);
	ck_assert_uint_eq(v32, DEV_ID_VALUE);
	ck_assert_int_eq(tc_set_reg32(&p.c, DEV_REG_SCRATCH, 0x5a5a1234), 0);
	ck_assert_int_eq(tc_reg32(&p.c, DEV_REG_SCRATCH, &v32), 0);
	ck_assert_uint_eq(v32, 0x5a5a1234);

	/* refusals: a range past the region or 2^64, empty regions, the
	 * read-only info region, an unknown region */
	vfio_user_build_region_read(&m, buf, sizeof(buf), 20, 0,
				    DEV_BAR0_SIZE - 2, 4);
	expect_error(&p, &m, EINVAL);
	vfio_user_build_region_read(&m, buf, sizeof(buf), 21, 0, UINT64_MAX - 3,
				    8);
	expect_error(&p, &m, EINVAL);
	vfio_user_build_region_read(&m, buf, sizeof(buf), 22,
				    VFIO_PCI_BAR1_REGION_INDEX, 0, 4);
	expect_error(&p, &m, EINVAL);
	vfio_user_build_region_read(&m, buf, sizeof(buf), 23, 99, 0, 4);
	expect_error(&p, &m, EINVAL);
	vfio_user_build_region_write(&m, buf, sizeof(buf), 24,
				     DEV_INFO_REGION_INDEX, 0, "x", 1);
	expect_error(&p, &m, EINVAL);
	/* WRITE whose payload disagrees with count */
	vfio_user_build_region_write(&m, buf, sizeof(buf), 25, 0,
				     DEV_REG_SCRATCH, "abcd", 4);
	m.payload_len--;
	m.hdr.msg_size--;
	expect_error(&p, &m, EINVAL);
	/* count 0 succeeds */
	vfio_user_build_region_read(&m, buf, sizeof(buf), 26, 0, 0, 0);
	ck_assert_int_eq(call_checked(&p, &m, &rep), VFIO_USER_REPLY_OK);
	finish_clean(&p);
}
END_TEST

START_TEST(t_xfer_and_write_multi)
{
	struct vfio_user_write_multi_data w[2] = {
		{ .offset = DEV_REG_SCRATCH, .region = 0, .count = 4 },
		{ .offset = 0x10,
		  .region = VFIO_PCI_BAR2_REGION_INDEX,
		  .count = 8 },
	};
	struct vfio_user_msg m, rep;
	uint8_t buf[256], *big;
	uint32_t v32;
	struct peer p;

	/* max_data_xfer_size 4096, no write_multiple */
	ck_assert_int_eq(peer_spawn(&p, 0, false, 1), 0);
	ck_assert_int_eq(tc_version(&p.c,
				    "{\"capabilities\":{\"max_data_xfer_size\":"
				    "4096}}"),
			 0);
	big = calloc(1, 8192);
	ck_assert_int_eq(
		tc_region_read(&p.c, VFIO_PCI_BAR2_REGION_INDEX, 0, big, 4096),
		0);
	ck_assert_int_eq(
		tc_region_read(&p.c, VFIO_PCI_BAR2_REGION_INDEX, 0, big, 8192),
		EINVAL);
	free(big);
	memcpy(w[0].data, "\x11\x22\x33\x44", 4);
	memcpy(w[1].data, "ABCDEFGH", 8);
	vfio_user_build_region_write_multi(&m, buf, sizeof(buf), 30, w, 2);
	expect_error(&p, &m, EINVAL);
	finish_clean(&p);

	ck_assert_int_eq(peer_spawn(&p, 0, false, 1), 0);
	ck_assert_int_eq(
		tc_version(&p.c,
			   "{\"capabilities\":{\"write_multiple\":true}}"),
		0);
	ck_assert_int_eq(call_checked(&p, &m, &rep), VFIO_USER_REPLY_OK);
	ck_assert_int_eq(tc_reg32(&p.c, DEV_REG_SCRATCH, &v32), 0);
	ck_assert_uint_eq(v32, 0x44332211);
	ck_assert_int_eq(
		tc_region_read(&p.c, VFIO_PCI_BAR2_REGION_INDEX, 0x10, buf, 8),
		0);
	ck_assert_mem_eq(buf, "ABCDEFGH", 8);
	/* an entry of more than 8 bytes */
	w[0].count = 9;
	vfio_user_build_region_write_multi(&m, buf, sizeof(buf), 31, w, 1);
	expect_error(&p, &m, EINVAL);
	finish_clean(&p);
}
END_TEST

/* ------------------------------------------------------------------ */
/* DMA                                                                 */
/* ------------------------------------------------------------------ */

/* Copy 256 bytes inside the client memory and check them. */
static void copy_ok(struct peer *p, uint64_t src_off, uint64_t dst_off)
{
	uint32_t result = 99;
	unsigned int i;

	for (i = 0; i < 256; i++)
		p->c.mem[src_off + i] = (uint8_t)(i * 7 + 1);
	memset(p->c.mem + dst_off, 0, 256);
	ck_assert_int_eq(
		tc_copy(&p->c, IOVA + src_off, IOVA + dst_off, 256, &result),
		0);
	ck_assert_uint_eq(result, 0);
	ck_assert_mem_eq(p->c.mem + dst_off, p->c.mem + src_off, 256);
}

START_TEST(t_dma_modes)
{
	const uint32_t rw =
		VFIO_USER_F_DMA_REGION_READ | VFIO_USER_F_DMA_REGION_WRITE;
	struct peer p;
	int mode;

	for (mode = 0; mode < 5; mode++) {
		ck_assert_int_eq(peer_spawn(&p, 0, false, 1), 0);
		ck_assert_int_eq(
			tc_version(&p.c, mode == 3 ? "{\"capabilities\":{"
						     "\"twin_socket\":{"
						     "\"supported\":true}}}"
						   : NULL),
			0);
		switch (mode) {
		case 0: /* mmap, by its bit */
			ck_assert_int_eq(
				tc_dma_map(&p.c,
					   rw | VFIO_USER_F_DMA_REGION_MMAP, 0,
					   IOVA, PEER_MEM_LEN, p.c.mem_fd),
				0);
			break;
		case 1: /* file I/O */
			ck_assert_int_eq(
				tc_dma_map(&p.c,
					   rw | VFIO_USER_F_DMA_REGION_FILE_IO,
					   0, IOVA, PEER_MEM_LEN, p.c.mem_fd),
				0);
			break;
		case 2: /* messages on the main socket */
		case 3: /* messages on the twin socket */
			ck_assert_int_eq(
				tc_dma_map(&p.c, rw, 0, IOVA, PEER_MEM_LEN, -1),
				0);
			break;
		default: /* fd, no mode bit: mmap */
			ck_assert_int_eq(tc_dma_map(&p.c, rw, 0, IOVA,
						    PEER_MEM_LEN, p.c.mem_fd),
					 0);
			break;
		}
		copy_ok(&p, 0x100, 0x8000);
		if (mode == 2 || mode == 3) {
			ck_assert_uint_eq(p.c.dma_reads, 1);
			ck_assert_uint_eq(p.c.dma_writes, 1);
			ck_assert_uint_eq(p.c.dma_main, mode == 2 ? 2 : 0);
		} else {
			ck_assert_uint_eq(p.c.dma_reads + p.c.dma_writes, 0);
		}
		/* the unmapped memory is out of reach */
		ck_assert_int_eq(tc_dma_unmap(&p.c, IOVA, PEER_MEM_LEN), 0);
		{
			uint32_t result = 0;

			ck_assert_int_eq(
				tc_copy(&p.c, IOVA, IOVA + 0x1000, 16, &result),
				0);
			ck_assert_uint_eq(result, EFAULT);
		}
		finish_clean(&p);
	}
}
END_TEST

START_TEST(t_dma_msg_chunks)
{
	const uint32_t rw =
		VFIO_USER_F_DMA_REGION_READ | VFIO_USER_F_DMA_REGION_WRITE;
	uint32_t result = 1;
	struct peer p;
	unsigned int i;

	/* max_data_xfer_size 1024: a 4 KiB copy takes 4 + 4 messages */
	ck_assert_int_eq(peer_spawn(&p, 0, false, 1), 0);
	ck_assert_int_eq(tc_version(&p.c,
				    "{\"capabilities\":{\"max_data_xfer_size\":"
				    "1024}}"),
			 0);
	ck_assert_int_eq(tc_dma_map(&p.c, rw, 0, IOVA, PEER_MEM_LEN, -1), 0);
	for (i = 0; i < 4096; i++)
		p.c.mem[i] = (uint8_t)i;
	ck_assert_int_eq(tc_copy(&p.c, IOVA, IOVA + 0x4000, 4096, &result), 0);
	ck_assert_uint_eq(result, 0);
	ck_assert_mem_eq(p.c.mem + 0x4000, p.c.mem, 4096);
	ck_assert_uint_eq(p.c.dma_reads, 4);
	ck_assert_uint_eq(p.c.dma_writes, 4);
	/* the client refuses: the copy fails with its errno */
	p.c.dma_error = EFAULT;
	ck_assert_int_eq(tc_copy(&p.c, IOVA, IOVA + 0x4000, 16, &result), 0);
	ck_assert_uint_eq(result, EFAULT);
	finish_clean(&p);
}
END_TEST

START_TEST(t_dma_map_refused)
{
	const uint32_t rw =
		VFIO_USER_F_DMA_REGION_READ | VFIO_USER_F_DMA_REGION_WRITE;
	struct vfio_user_msg m;
	uint8_t buf[64];
	int base, pfd[2], rofd;
	struct peer p;

	start(&p, 0);
	ck_assert_int_eq(tc_dma_map(&p.c, rw, 0, IOVA, 0x4000, p.c.mem_fd), 0);
	base = peer_fds(&p);
	ck_assert_int_gt(base, 0);
	/* a mode that needs an fd, without one: EINVAL */
	ck_assert_int_eq(tc_dma_map(&p.c, rw | VFIO_USER_F_DMA_REGION_MMAP, 0,
				    IOVA + 0x10000, 0x1000, -1),
			 EINVAL);
	ck_assert_int_eq(tc_dma_map(&p.c, rw | VFIO_USER_F_DMA_REGION_FILE_IO,
				    0, IOVA + 0x10000, 0x1000, -1),
			 EINVAL);
	/* both mode bits, with an fd */
	ck_assert_int_eq(tc_dma_map(&p.c, rw | VFIO_USER_F_DMA_REGION_MODES, 0,
				    IOVA + 0x10000, 0x1000, p.c.mem_fd),
			 EINVAL);
	/* over an existing region: EEXIST, with or without an fd */
	ck_assert_int_eq(
		tc_dma_map(&p.c, rw, 0, IOVA + 0x1000, 0x4000, p.c.mem_fd),
		EEXIST);
	ck_assert_int_eq(tc_dma_map(&p.c, rw, 0, IOVA, 0x4000, -1), EEXIST);
	/* zero size, wrap past 2^64, unknown flag bits */
	ck_assert_int_eq(tc_dma_map(&p.c, rw, 0, IOVA + 0x10000, 0, -1),
			 EINVAL);
	ck_assert_int_eq(
		tc_dma_map(&p.c, rw, 0, UINT64_MAX - 0xfff, 0x2000, -1),
		EINVAL);
	ck_assert_int_eq(
		tc_dma_map(&p.c, rw | (1u << 7), 0, IOVA + 0x10000, 0x1000, -1),
		EINVAL);
	/* a file shorter than offset + size */
	ck_assert_int_eq(tc_dma_map(&p.c, rw, PEER_MEM_LEN - 0x1000,
				    IOVA + 0x10000, 0x2000, p.c.mem_fd),
			 EINVAL);
	/* an fd that cannot be mapped or read at an offset: a pipe */
	ck_assert_int_eq(pipe2(pfd, O_CLOEXEC), 0);
	ck_assert_int_eq(
		tc_dma_map(&p.c, rw, 0, IOVA + 0x10000, 0x1000, pfd[0]),
		EINVAL);
	ck_assert_int_eq(tc_dma_map(&p.c, rw | VFIO_USER_F_DMA_REGION_FILE_IO,
				    0, IOVA + 0x10000, 0x1000, pfd[0]),
			 EINVAL);
	close_fds(pfd, 2);
	/* a read-only fd for a writeable region */
	rofd = fdzoo_file(0x2000, O_RDONLY);
	ck_assert_int_ge(rofd, 0);
	ck_assert_int_eq(tc_dma_map(&p.c, rw, 0, IOVA + 0x10000, 0x1000, rofd),
			 EINVAL);
	close(rofd);
	/* argsz that disagrees with the payload */
	vfio_user_build_dma_map(&m, buf, sizeof(buf), 40, rw, 0, IOVA + 0x10000,
				0x1000, -1);
	((struct vfio_user_dma_map *)(void *)(buf + 16))->argsz = 48;
	expect_error(&p, &m, EINVAL);
	/* every refused fd was closed */
	ck_assert_int_eq(peer_fds(&p), base);
	/* unmap: exact match only */
	ck_assert_int_eq(tc_dma_unmap(&p.c, IOVA, 0x1000), ENOENT);
	ck_assert_int_eq(tc_dma_unmap(&p.c, IOVA + 0x8000, 0x4000), ENOENT);
	ck_assert_int_eq(tc_dma_unmap(&p.c, IOVA, 0x4000), 0);
	ck_assert_int_eq(peer_fds(&p), base - 1);
	ck_assert_int_eq(tc_dma_unmap(&p.c, IOVA, 0x4000), ENOENT);
	finish_clean(&p);
}
END_TEST

START_TEST(t_dma_readonly_and_limits)
{
	const uint32_t r = VFIO_USER_F_DMA_REGION_READ;
	const uint32_t rw = r | VFIO_USER_F_DMA_REGION_WRITE;
	struct vfio_user_msg m, rep;
	uint32_t result = 0;
	uint8_t buf[64];
	struct peer p;
	unsigned int i;

	start(&p, 0);
	ck_assert_int_eq(tc_dma_map(&p.c, rw, 0, IOVA, 0x4000, p.c.mem_fd), 0);
	ck_assert_int_eq(
		tc_dma_map(&p.c, r, 0x4000, IOVA + 0x4000, 0x4000, p.c.mem_fd),
		0);
	memset(p.c.mem + 0x4000, 0xee, 16);
	ck_assert_int_eq(tc_copy(&p.c, IOVA, IOVA + 0x4000, 16, &result), 0);
	ck_assert_uint_eq(result, EPERM);
	for (i = 0; i < 16; i++)
		ck_assert_uint_eq(p.c.mem[0x4000 + i], 0xee);
	/* UNMAP ALL, then the table fills at DMA_MAX_REGIONS */
	vfio_user_build_dma_unmap(&m, buf, sizeof(buf), 50,
				  VFIO_DMA_UNMAP_FLAG_ALL, 0, 0, NULL);
	ck_assert_int_eq(call_checked(&p, &m, &rep), VFIO_USER_REPLY_OK);
	for (i = 0; i < DMA_MAX_REGIONS; i++)
		ck_assert_int_eq(tc_dma_map(&p.c, rw, 0,
					    0x10000000ull * (i + 1), 0x1000,
					    -1),
				 0);
	ck_assert_int_eq(
		tc_dma_map(&p.c, rw, 0, 0x10000000ull * (i + 1), 0x1000, -1),
		ENOSPC);
	finish_clean(&p);
}
END_TEST

START_TEST(t_dirty_log)
{
	const uint32_t rw =
		VFIO_USER_F_DMA_REGION_READ | VFIO_USER_F_DMA_REGION_WRITE;
	struct vfio_user_device_feature_dma_logging_report rr;
	struct vfio_user_msg m, rep;
	const uint8_t *bm = NULL;
	uint64_t word;
	size_t bm_len = 0;
	uint32_t result;
	uint8_t buf[128];
	struct peer p;

	start(&p, 0);
	ck_assert_int_eq(
		tc_dma_map(&p.c, rw, 0, IOVA, PEER_MEM_LEN, p.c.mem_fd), 0);
	/* REPORT before START */
	vfio_user_build_dma_logging_report(&m, buf, sizeof(buf), 60, IOVA,
					   PEER_MEM_LEN, 4096);
	expect_error(&p, &m, EINVAL);
	vfio_user_build_dma_logging_start(&m, buf, sizeof(buf), 61, 4096, NULL,
					  0);
	ck_assert_int_eq(call_checked(&p, &m, &rep), VFIO_USER_REPLY_OK);
	/* the engine writes page 3 (0x3000 .. 0x30ff) */
	ck_assert_int_eq(tc_copy(&p.c, IOVA, IOVA + 0x3000, 256, &result), 0);
	ck_assert_uint_eq(result, 0);
	vfio_user_build_dma_logging_report(&m, buf, sizeof(buf), 62, IOVA,
					   PEER_MEM_LEN, 4096);
	ck_assert_int_eq(call_checked(&p, &m, &rep), VFIO_USER_REPLY_OK);
	ck_assert_int_eq(
		vfio_user_get_dma_logging_report(&rep, &rr, &bm, &bm_len, NULL),
		0);
	ck_assert_uint_eq(bm_len, 8);
	memcpy(&word, bm, 8);
	ck_assert_uint_eq(word, 1u << 3);
	/* reported pages are cleared */
	vfio_user_build_dma_logging_report(&m, buf, sizeof(buf), 63, IOVA,
					   PEER_MEM_LEN, 4096);
	ck_assert_int_eq(call_checked(&p, &m, &rep), VFIO_USER_REPLY_OK);
	ck_assert_int_eq(
		vfio_user_get_dma_logging_report(&rep, &rr, &bm, &bm_len, NULL),
		0);
	memcpy(&word, bm, 8);
	ck_assert_uint_eq(word, 0);
	/* page_size not a power of two; START twice */
	vfio_user_build_dma_logging_report(&m, buf, sizeof(buf), 64, IOVA,
					   PEER_MEM_LEN, 3000);
	expect_error(&p, &m, EINVAL);
	vfio_user_build_dma_logging_start(&m, buf, sizeof(buf), 65, 4096, NULL,
					  0);
	expect_error(&p, &m, EBUSY);
	finish_clean(&p);
}
END_TEST

/* ------------------------------------------------------------------ */
/* IRQs                                                                */
/* ------------------------------------------------------------------ */

START_TEST(t_irq_info)
{
	struct vfio_user_irq_info ii;
	struct vfio_user_msg m, rep;
	uint8_t buf[64];
	struct peer p;
	uint32_t i;

	start(&p, 0);
	for (i = 0; i < DEV_NUM_IRQS; i++) {
		vfio_user_build_irq_info(&m, buf, sizeof(buf), 70, 0, i);
		ck_assert_int_eq(call_checked(&p, &m, &rep),
				 VFIO_USER_REPLY_OK);
		ck_assert_int_eq(vfio_user_get_irq_info(&rep, &ii, NULL), 0);
		ck_assert(ii.flags & VFIO_IRQ_INFO_EVENTFD);
		ck_assert_uint_eq(ii.count, i == VFIO_PCI_MSIX_IRQ_INDEX
						    ? DEV_MSIX_VECTORS
						    : 1);
	}
	vfio_user_build_irq_info(&m, buf, sizeof(buf), 71, 0, DEV_NUM_IRQS);
	expect_error(&p, &m, EINVAL);
	finish_clean(&p);
}
END_TEST

START_TEST(t_irq_intx_and_masking)
{
	const uint32_t trig_fd =
		VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER;
	int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	int mfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	uint32_t v32, result;
	uint8_t yes = 1;
	struct peer p;
	int base;

	start(&p, 0);
	base = peer_fds(&p);
	ck_assert_int_eq(tc_set_irqs(&p.c, trig_fd, VFIO_PCI_INTX_IRQ_INDEX, 0,
				     1, NULL, &efd, 1),
			 0);
	ck_assert_int_eq(tc_set_irqs(&p.c,
				     VFIO_IRQ_SET_DATA_EVENTFD |
					     VFIO_IRQ_SET_ACTION_MASK,
				     VFIO_PCI_INTX_IRQ_INDEX, 0, 1, NULL, &mfd,
				     1),
			 0);
	ck_assert_int_eq(peer_fds(&p), base + 2);
	/* the client triggers it: DATA_NONE | TRIGGER */
	ck_assert_int_eq(tc_set_irqs(&p.c,
				     VFIO_IRQ_SET_DATA_NONE |
					     VFIO_IRQ_SET_ACTION_TRIGGER,
				     VFIO_PCI_INTX_IRQ_INDEX, 0, 1, NULL, NULL,
				     0),
			 0);
	ck_assert_uint_eq(tc_eventfd_count(efd), 1);
	/* INTx is automasked: the mask eventfd says so, no second fire */
	ck_assert_uint_eq(tc_eventfd_count(mfd), 1);
	ck_assert_int_eq(tc_copy(&p.c, 0, 0, 0, &result), 0); /* len 0 */
	ck_assert_uint_eq(result, EINVAL);
	ck_assert_uint_eq(tc_eventfd_count(efd), 0);
	/* IRQ_STATUS holds the line; unmask fires again */
	ck_assert_int_eq(tc_reg32(&p.c, DEV_REG_IRQ_STATUS, &v32), 0);
	ck_assert_uint_eq(v32, DEV_IRQ_STATUS_DMA);
	ck_assert_int_eq(
		tc_set_irqs(&p.c,
			    VFIO_IRQ_SET_DATA_BOOL | VFIO_IRQ_SET_ACTION_UNMASK,
			    VFIO_PCI_INTX_IRQ_INDEX, 0, 1, &yes, NULL, 0),
		0);
	ck_assert_uint_eq(tc_eventfd_count(efd), 1);
	/* clear the line (W1C), unmask: nothing more */
	ck_assert_int_eq(tc_set_reg32(&p.c, DEV_REG_IRQ_STATUS, 3), 0);
	ck_assert_int_eq(
		tc_set_irqs(&p.c,
			    VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_UNMASK,
			    VFIO_PCI_INTX_IRQ_INDEX, 0, 1, NULL, NULL, 0),
		0);
	ck_assert_uint_eq(tc_eventfd_count(efd), 0);
	/* count 0, DATA_NONE | TRIGGER: everything of INTx disabled */
	ck_assert_int_eq(tc_set_irqs(&p.c,
				     VFIO_IRQ_SET_DATA_NONE |
					     VFIO_IRQ_SET_ACTION_TRIGGER,
				     VFIO_PCI_INTX_IRQ_INDEX, 0, 0, NULL, NULL,
				     0),
			 0);
	ck_assert_int_eq(peer_fds(&p), base);
	close(efd);
	close(mfd);
	finish_clean(&p);
}
END_TEST

START_TEST(t_irq_msix)
{
	int efd[DEV_MSIX_VECTORS], i;
	uint16_t ctl = 0x8000 | (DEV_MSIX_VECTORS - 1);
	struct peer p;

	start(&p, 0);
	for (i = 0; i < (int)DEV_MSIX_VECTORS; i++)
		efd[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	ck_assert_int_eq(tc_set_irqs(&p.c,
				     VFIO_IRQ_SET_DATA_EVENTFD |
					     VFIO_IRQ_SET_ACTION_TRIGGER,
				     VFIO_PCI_MSIX_IRQ_INDEX, 0,
				     DEV_MSIX_VECTORS, NULL, efd,
				     DEV_MSIX_VECTORS),
			 0);
	/* enable MSI-X in config space, raise vector 2 */
	ck_assert_int_eq(tc_region_write(&p.c, VFIO_PCI_CONFIG_REGION_INDEX,
					 DEV_CAP_MSIX + 2, &ctl, 2),
			 0);
	ck_assert_int_eq(tc_set_reg32(&p.c, DEV_REG_IRQ_RAISE, 2), 0);
	ck_assert_uint_eq(tc_eventfd_count(efd[2]), 1);
	ck_assert_uint_eq(tc_eventfd_count(efd[0]), 0);
	/* masked: pending, fired on unmask */
	ck_assert_int_eq(
		tc_set_irqs(&p.c,
			    VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_MASK,
			    VFIO_PCI_MSIX_IRQ_INDEX, 1, 1, NULL, NULL, 0),
		0);
	ck_assert_int_eq(tc_set_reg32(&p.c, DEV_REG_IRQ_RAISE, 1), 0);
	ck_assert_uint_eq(tc_eventfd_count(efd[1]), 0);
	ck_assert_int_eq(
		tc_set_irqs(&p.c,
			    VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_UNMASK,
			    VFIO_PCI_MSIX_IRQ_INDEX, 1, 1, NULL, NULL, 0),
		0);
	ck_assert_uint_eq(tc_eventfd_count(efd[1]), 1);
	/* DATA_BOOL trigger of vectors 0 and 3 */
	{
		const uint8_t b[4] = { 1, 0, 0, 1 };

		ck_assert_int_eq(
			tc_set_irqs(&p.c,
				    VFIO_IRQ_SET_DATA_BOOL |
					    VFIO_IRQ_SET_ACTION_TRIGGER,
				    VFIO_PCI_MSIX_IRQ_INDEX, 0, 4, b, NULL, 0),
			0);
	}
	ck_assert_uint_eq(tc_eventfd_count(efd[0]), 1);
	ck_assert_uint_eq(tc_eventfd_count(efd[1]), 0);
	ck_assert_uint_eq(tc_eventfd_count(efd[3]), 1);
	/* DATA_EVENTFD without fds de-assigns exactly [2, 3) */
	ck_assert_int_eq(tc_set_irqs(&p.c,
				     VFIO_IRQ_SET_DATA_EVENTFD |
					     VFIO_IRQ_SET_ACTION_TRIGGER,
				     VFIO_PCI_MSIX_IRQ_INDEX, 2, 1, NULL, NULL,
				     0),
			 0);
	ck_assert_int_eq(tc_set_reg32(&p.c, DEV_REG_IRQ_RAISE, 2), 0);
	ck_assert_uint_eq(tc_eventfd_count(efd[2]), 0);
	ck_assert_int_eq(tc_set_reg32(&p.c, DEV_REG_IRQ_RAISE, 3), 0);
	ck_assert_uint_eq(tc_eventfd_count(efd[3]), 1);
	for (i = 0; i < (int)DEV_MSIX_VECTORS; i++)
		close(efd[i]);
	finish_clean(&p);
}
END_TEST

START_TEST(t_irq_refused)
{
	const uint32_t trig_fd =
		VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER;
	const uint32_t trig =
		VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER;
	int efd[2], pfd[2], base;
	struct vfio_user_msg m;
	uint8_t buf[64];
	struct peer p;

	start(&p, 0);
	efd[0] = eventfd(0, EFD_CLOEXEC);
	efd[1] = eventfd(0, EFD_CLOEXEC);
	ck_assert_int_eq(pipe2(pfd, O_CLOEXEC), 0);
	base = peer_fds(&p);
	/* bad index, range past the count, 32-bit wrap */
	ck_assert_int_eq(
		tc_set_irqs(&p.c, trig, DEV_NUM_IRQS, 0, 1, NULL, NULL, 0),
		EINVAL);
	ck_assert_int_eq(tc_set_irqs(&p.c, trig, VFIO_PCI_MSIX_IRQ_INDEX, 3, 2,
				     NULL, NULL, 0),
			 EINVAL);
	ck_assert_int_eq(tc_set_irqs(&p.c, trig, VFIO_PCI_MSIX_IRQ_INDEX, 1,
				     0xffffffff, NULL, NULL, 0),
			 EINVAL);
	/* two actions; MASK of a type that is not maskable */
	ck_assert_int_eq(tc_set_irqs(&p.c, trig | VFIO_IRQ_SET_ACTION_MASK,
				     VFIO_PCI_MSIX_IRQ_INDEX, 0, 1, NULL, NULL,
				     0),
			 EINVAL);
	ck_assert_int_eq(
		tc_set_irqs(&p.c,
			    VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_MASK,
			    VFIO_PCI_MSI_IRQ_INDEX, 0, 1, NULL, NULL, 0),
		EINVAL);
	/* fd count not the vector count; the read end of a pipe */
	ck_assert_int_eq(tc_set_irqs(&p.c, trig_fd, VFIO_PCI_MSIX_IRQ_INDEX, 0,
				     1, NULL, efd, 2),
			 EINVAL);
	ck_assert_int_eq(tc_set_irqs(&p.c, trig_fd, VFIO_PCI_INTX_IRQ_INDEX, 0,
				     1, NULL, &pfd[0], 1),
			 EINVAL);
	/* fds with DATA_NONE */
	vfio_user_build_set_irqs(&m, buf, sizeof(buf), 80, trig,
				 VFIO_PCI_INTX_IRQ_INDEX, 0, 1, NULL, NULL, 0);
	vfio_user_msg_set_fds(&m, efd, 1);
	expect_error(&p, &m, EINVAL);
	/* count 0 with start 1 */
	ck_assert_int_eq(tc_set_irqs(&p.c, trig, VFIO_PCI_MSIX_IRQ_INDEX, 1, 0,
				     NULL, NULL, 0),
			 EINVAL);
	/* the write end of a pipe is fine (seed 000) */
	ck_assert_int_eq(tc_set_irqs(&p.c, trig_fd, VFIO_PCI_ERR_IRQ_INDEX, 0,
				     1, NULL, &pfd[1], 1),
			 0);
	ck_assert_int_eq(peer_fds(&p), base + 1);
	close_fds(efd, 2);
	close_fds(pfd, 2);
	finish_clean(&p);
}
END_TEST

START_TEST(t_io_fds)
{
	struct vfio_user_sub_region_io_fd sub;
	struct vfio_user_region_io_fds io;
	struct vfio_user_msg m, rep;
	uint64_t one = 1;
	uint8_t buf[64];
	uint32_t v32 = 0, result;
	struct peer p;

	start(&p, 0);
	vfio_user_build_region_io_fds(&m, buf, sizeof(buf), 90, 16, 0);
	ck_assert_int_eq(call_checked(&p, &m, &rep), VFIO_USER_REPLY_RETRY);
	ck_assert_uint_eq(rep.nfds, 0);
	vfio_user_build_region_io_fds(&m, buf, sizeof(buf), 91, 256, 0);
	ck_assert_int_eq(call_checked(&p, &m, &rep), VFIO_USER_REPLY_OK);
	ck_assert_int_eq(vfio_user_get_region_io_fds(&rep, &io, NULL), 0);
	ck_assert_uint_eq(io.count, 1);
	ck_assert_int_eq(vfio_user_get_sub_region(&rep, 0, &sub, NULL), 0);
	ck_assert_uint_eq(sub.offset, DEV_REG_DMA_CMD);
	ck_assert_uint_eq(rep.nfds, 1);
	/* the doorbell runs the engine (len 0: EINVAL, but it ran) */
	ck_assert_int_eq(write(rep.fds[0], &one, 8), 8);
	ck_assert_int_eq(tc_reg32(&p.c, DEV_REG_STATUS, &v32), 0);
	ck_assert_uint_eq(v32, DEV_STATUS_ERROR);
	ck_assert_int_eq(tc_reg32(&p.c, DEV_REG_DMA_RESULT, &result), 0);
	ck_assert_uint_eq(result, EINVAL);
	close_fds(rep.fds, rep.nfds);
	/* other regions: none; unknown region: refused; flags: refused */
	vfio_user_build_region_io_fds(&m, buf, sizeof(buf), 92, 256, 2);
	ck_assert_int_eq(call_checked(&p, &m, &rep), VFIO_USER_REPLY_OK);
	ck_assert_uint_eq(rep.nfds, 0);
	vfio_user_build_region_io_fds(&m, buf, sizeof(buf), 93, 256, 77);
	expect_error(&p, &m, EINVAL);
	finish_clean(&p);
}
END_TEST

START_TEST(t_reset)
{
	struct vfio_user_msg m, rep;
	uint8_t buf[64];
	uint32_t v32;
	struct peer p;

	start(&p, 0);
	ck_assert_int_eq(tc_set_reg32(&p.c, DEV_REG_SCRATCH, 77), 0);
	ck_assert_int_eq(tc_mig_state(&p.c, VFIO_DEVICE_STATE_STOP), 0);
	vfio_user_build_device_reset(&m, buf, sizeof(buf), 100);
	ck_assert_int_eq(call_checked(&p, &m, &rep), VFIO_USER_REPLY_OK);
	ck_assert_int_eq(tc_reg32(&p.c, DEV_REG_SCRATCH, &v32), 0);
	ck_assert_uint_eq(v32, 0);
	ck_assert_int_eq(tc_get_mig_state(&p.c, &v32), 0);
	ck_assert_uint_eq(v32, VFIO_DEVICE_STATE_RUNNING);
	finish_clean(&p);
}
END_TEST

/* ------------------------------------------------------------------ */
/* DEVICE_FEATURE, migration                                           */
/* ------------------------------------------------------------------ */

START_TEST(t_feature)
{
	struct vfio_user_device_feature_migration mig;
	struct vfio_user_msg m, rep;
	uint8_t buf[64];
	struct peer p;

	start(&p, 0);
	vfio_user_build_device_feature(&m, buf, sizeof(buf), 110, 0,
				       VFIO_DEVICE_FEATURE_GET |
					       VFIO_DEVICE_FEATURE_MIGRATION,
				       NULL, 0);
	ck_assert_int_eq(call_checked(&p, &m, &rep), VFIO_USER_REPLY_OK);
	ck_assert_int_eq(vfio_user_get_migration(&rep, &mig, NULL), 0);
	ck_assert(mig.flags & VFIO_MIGRATION_STOP_COPY);
	/* PROBE: GET of MIGRATION yes, SET of it no */
	vfio_user_build_device_feature(&m, buf, sizeof(buf), 111, 0,
				       VFIO_DEVICE_FEATURE_PROBE |
					       VFIO_DEVICE_FEATURE_GET |
					       VFIO_DEVICE_FEATURE_MIGRATION,
				       NULL, 0);
	ck_assert_int_eq(call_checked(&p, &m, &rep), VFIO_USER_REPLY_OK);
	vfio_user_build_device_feature(&m, buf, sizeof(buf), 112, 0,
				       VFIO_DEVICE_FEATURE_PROBE |
					       VFIO_DEVICE_FEATURE_SET |
					       VFIO_DEVICE_FEATURE_MIGRATION,
				       NULL, 0);
	expect_error(&p, &m, 0);
	/* unknown feature; GET and SET together; argsz too small */
	vfio_user_build_device_feature(&m, buf, sizeof(buf), 113, 0,
				       VFIO_DEVICE_FEATURE_GET | 9, NULL, 0);
	expect_error(&p, &m, ENOTSUP);
	vfio_user_build_device_feature(
		&m, buf, sizeof(buf), 114, 16,
		VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_SET |
			VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE,
		NULL, 0);
	expect_error(&p, &m, EINVAL);
	vfio_user_build_device_feature(&m, buf, sizeof(buf), 115, 8,
				       VFIO_DEVICE_FEATURE_GET |
					       VFIO_DEVICE_FEATURE_MIGRATION,
				       NULL, 0);
	expect_error(&p, &m, EINVAL);
	finish_clean(&p);
}
END_TEST

START_TEST(t_migration_fsm)
{
	static const struct {
		uint32_t to;
		int err;
	} steps[] = {
		{ VFIO_DEVICE_STATE_PRE_COPY, 0 },
		{ VFIO_DEVICE_STATE_STOP_COPY, 0 },
		{ VFIO_DEVICE_STATE_PRE_COPY, EINVAL }, /* not allowed */
		{ VFIO_DEVICE_STATE_RESUMING, 0 },	/* via STOP */
		{ VFIO_DEVICE_STATE_RUNNING, EINVAL },	/* no data */
		{ VFIO_DEVICE_STATE_STOP, EINVAL },	/* in ERROR */
	};
	struct vfio_user_msg m, rep;
	uint8_t buf[64];
	uint32_t st;
	unsigned int i;
	struct peer p;

	start(&p, 0);
	ck_assert_int_eq(tc_get_mig_state(&p.c, &st), 0);
	ck_assert_uint_eq(st, VFIO_DEVICE_STATE_RUNNING);
	/* MIG_DATA outside the saving / resuming states */
	vfio_user_build_mig_data_read(&m, buf, sizeof(buf), 120, 16);
	expect_error(&p, &m, EINVAL);
	vfio_user_build_mig_data_write(&m, buf, sizeof(buf), 121, "abcd", 4);
	expect_error(&p, &m, EINVAL);
	/* ERROR and the P2P states cannot be asked for */
	ck_assert_int_eq(tc_mig_state(&p.c, VFIO_DEVICE_STATE_ERROR), EINVAL);
	ck_assert_int_eq(tc_mig_state(&p.c, VFIO_DEVICE_STATE_RUNNING_P2P),
			 EINVAL);
	ck_assert_int_eq(tc_mig_state(&p.c, 8), EINVAL);
	for (i = 0; i < ARRAY_SIZE(steps); i++)
		ck_assert_msg(tc_mig_state(&p.c, steps[i].to) == steps[i].err,
			      "step %u", i);
	ck_assert_int_eq(tc_get_mig_state(&p.c, &st), 0);
	ck_assert_uint_eq(st, VFIO_DEVICE_STATE_ERROR);
	vfio_user_build_device_reset(&m, buf, sizeof(buf), 122);
	ck_assert_int_eq(call_checked(&p, &m, &rep), VFIO_USER_REPLY_OK);
	ck_assert_int_eq(tc_get_mig_state(&p.c, &st), 0);
	ck_assert_uint_eq(st, VFIO_DEVICE_STATE_RUNNING);
	finish_clean(&p);
}
END_TEST

/* Read the whole migration stream into @out (room @cap). */
static size_t mig_read_all(struct peer *p, uint8_t *out, size_t cap)
{
	struct vfio_user_mig_data d;
	struct vfio_user_msg m, rep;
	const uint8_t *data = NULL;
	uint8_t buf[64];
	size_t got = 0;

	for (;;) {
		vfio_user_build_mig_data_read(&m, buf, sizeof(buf),
					      tc_next_id(&p->c), 8192);
		ck_assert_int_eq(call_checked(p, &m, &rep), VFIO_USER_REPLY_OK);
		ck_assert_int_eq(vfio_user_get_mig_data(&rep, &d, &data, NULL),
				 0);
		ck_assert_uint_le(got + d.size, cap);
		memcpy(out + got, data, d.size);
		got += d.size;
		if (d.size < 8192)
			return got;
	}
}

static void mig_write_all(struct peer *p, const uint8_t *in, size_t len)
{
	struct vfio_user_msg m, rep;
	uint8_t *buf = malloc(8192 + 64);
	size_t off = 0;

	while (off < len) {
		uint32_t n = (uint32_t)VUC_MIN(len - off, (size_t)5000);

		vfio_user_build_mig_data_write(&m, buf, 8192 + 64,
					       tc_next_id(&p->c), in + off, n);
		ck_assert_int_eq(call_checked(p, &m, &rep), VFIO_USER_REPLY_OK);
		off += n;
	}
	free(buf);
}

START_TEST(t_migration_roundtrip)
{
	const size_t cap = 1u << 20;
	uint8_t *stream = malloc(cap), bar2[64], back[64];
	struct peer src, dst;
	size_t len, more;
	uint32_t v32;
	unsigned int i;

	for (i = 0; i < sizeof(bar2); i++)
		bar2[i] = (uint8_t)(i ^ 0x5a);
	start(&src, 0);
	start(&dst, 0);
	ck_assert_int_eq(tc_set_reg32(&src.c, DEV_REG_SCRATCH, 0xcafe0001), 0);
	ck_assert_int_eq(tc_region_write(&src.c, VFIO_PCI_BAR2_REGION_INDEX,
					 0x1234, bar2, sizeof(bar2)),
			 0);
	/* pre-copy while running, then the final state */
	ck_assert_int_eq(tc_mig_state(&src.c, VFIO_DEVICE_STATE_PRE_COPY), 0);
	len = mig_read_all(&src, stream, cap);
	ck_assert_uint_gt(len, 0);
	ck_assert_int_eq(tc_set_reg32(&src.c, DEV_REG_SCRATCH, 0xcafe0002), 0);
	ck_assert_int_eq(tc_mig_state(&src.c, VFIO_DEVICE_STATE_STOP_COPY), 0);
	more = mig_read_all(&src, stream + len, cap - len);
	ck_assert_uint_gt(more, 0);
	len += more;
	ck_assert_int_eq(tc_mig_state(&src.c, VFIO_DEVICE_STATE_STOP), 0);

	ck_assert_int_eq(tc_mig_state(&dst.c, VFIO_DEVICE_STATE_RESUMING), 0);
	mig_write_all(&dst, stream, len);
	ck_assert_int_eq(tc_mig_state(&dst.c, VFIO_DEVICE_STATE_RUNNING), 0);
	ck_assert_int_eq(tc_reg32(&dst.c, DEV_REG_SCRATCH, &v32), 0);
	ck_assert_uint_eq(v32, 0xcafe0002);
	ck_assert_int_eq(tc_region_read(&dst.c, VFIO_PCI_BAR2_REGION_INDEX,
					0x1234, back, sizeof(back)),
			 0);
	ck_assert_mem_eq(back, bar2, sizeof(bar2));

	/* a stream cut short is refused and leaves the device in ERROR */
	ck_assert_int_eq(tc_mig_state(&dst.c, VFIO_DEVICE_STATE_RESUMING), 0);
	mig_write_all(&dst, stream, len - 1);
	ck_assert_int_eq(tc_mig_state(&dst.c, VFIO_DEVICE_STATE_STOP), EINVAL);
	ck_assert_int_eq(tc_get_mig_state(&dst.c, &v32), 0);
	ck_assert_uint_eq(v32, VFIO_DEVICE_STATE_ERROR);
	free(stream);
	finish_clean(&src);
	finish_clean(&dst);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Framing and headers                                                 */
/* ------------------------------------------------------------------ */

START_TEST(t_framing)
{
	struct vfio_user_msg m, rep;
	uint8_t buf[128], two[64];
	int efd, base;
	struct peer p;

	start(&p, 0);
	base = peer_fds(&p);
	/* a message in three writes, with pauses */
	vfio_user_build_device_get_info(&m, buf, sizeof(buf), 130, 16);
	{
		uint8_t raw[32];
		struct chan_chunk ch[3] = {
			{ .buf = raw, .len = 10 },
			{ .buf = raw + 10, .len = 12, .delay_ms = 30 },
			{ .buf = raw + 22, .len = 10, .delay_ms = 30 },
		};

		vfio_user_pack(raw, sizeof(raw), &m);
		ck_assert_int_eq(chan_send(p.c.fd, ch, 3, chan_deadline(5000)),
				 32);
	}
	ck_assert_int_ge(tc_recv(&p.c, &rep, 5000), 0);
	ck_assert_int_eq(tc_errno(&rep), 0);
	ck_assert_uint_eq(rep.hdr.msg_id, 130);
	/* two messages in one write; the first No_reply */
	vfio_user_build_device_reset(&m, two, sizeof(two), 131);
	((struct vfio_user_hdr *)(void *)two)->flags |= VFIO_USER_F_NO_REPLY;
	vfio_user_build_device_get_info(&m, two + 16, sizeof(two) - 16, 132,
					16);
	ck_assert_int_eq(
		chan_send_buf(p.c.fd, two, 48, NULL, 0, chan_deadline(5000)),
		48);
	ck_assert_int_ge(tc_recv(&p.c, &rep, 5000), 0);
	ck_assert_uint_eq(rep.hdr.msg_id, 132);
	/* a failing No_reply command: still silent */
	vfio_user_build_region_info(&m, buf, sizeof(buf), 133, 32, 99);
	m.hdr.flags |= VFIO_USER_F_NO_REPLY;
	ck_assert_int_ge(tc_send(&p.c, &m), 0);
	vfio_user_build_device_get_info(&m, buf, sizeof(buf), 134, 16);
	ck_assert_int_ge(tc_call(&p.c, &m, &rep), 0);
	ck_assert_uint_eq(rep.hdr.msg_id, 134);
	/* unknown commands: an error, the connection stays usable */
	vfio_user_build_device_reset(&m, buf, sizeof(buf), 135);
	m.hdr.command = 14;
	expect_error(&p, &m, ENOTSUP);
	m.hdr.command = 0xffff;
	expect_error(&p, &m, ENOTSUP);
	m.hdr.command = VFIO_USER_DMA_READ; /* server -> client only */
	expect_error(&p, &m, EINVAL);
	/* a reply type; a type 7 */
	vfio_user_build_device_reset(&m, buf, sizeof(buf), 136);
	m.hdr.flags = VFIO_USER_F_TYPE_REPLY;
	ck_assert_int_ge(tc_call(&p.c, &m, &rep), 0);
	ck_assert_int_eq(tc_errno(&rep), EINVAL);
	m.hdr.flags = 7;
	ck_assert_int_ge(tc_call(&p.c, &m, &rep), 0);
	ck_assert_int_eq(tc_errno(&rep), EINVAL);
	/* the Error bit and error field of a command are ignored */
	vfio_user_build_device_get_info(&m, buf, sizeof(buf), 137, 16);
	m.hdr.flags |= VFIO_USER_F_ERROR;
	m.hdr.error = 5;
	ck_assert_int_eq(call_checked(&p, &m, &rep), VFIO_USER_REPLY_OK);
	/* fds on a command that takes none: refused and closed */
	efd = eventfd(0, EFD_CLOEXEC);
	vfio_user_build_device_get_info(&m, buf, sizeof(buf), 138, 16);
	vfio_user_msg_set_fds(&m, &efd, 1);
	expect_error(&p, &m, EINVAL);
	close(efd);
	ck_assert_int_eq(peer_fds(&p), base);
	/* a payload shorter than the command's struct */
	vfio_user_build_device_get_info(&m, buf, sizeof(buf), 139, 16);
	m.payload_len = 4;
	m.hdr.msg_size = 20;
	expect_error(&p, &m, EINVAL);
	finish_clean(&p);
}
END_TEST

START_TEST(t_oversize)
{
	struct vfio_user_hdr h = { .msg_id = 140,
				   .command = VFIO_USER_DEVICE_GET_INFO,
				   .msg_size = 0x7fffffff };
	struct vfio_user_msg m, rep;
	uint8_t raw[64];
	struct peer p;

	start(&p, 0);
	/* a header announcing 2 GiB, then what looks like a command: the
	 * server answers the header and hangs up, never reading on */
	memcpy(raw, &h, 16);
	vfio_user_build_device_get_info(&m, raw + 16, sizeof(raw) - 16, 141,
					16);
	ck_assert_int_eq(
		chan_send_buf(p.c.fd, raw, 48, NULL, 0, chan_deadline(5000)),
		48);
	ck_assert_int_ge(tc_recv(&p.c, &rep, 5000), 0);
	ck_assert_uint_eq(rep.hdr.msg_id, 140);
	ck_assert_int_ne(tc_errno(&rep), 0);
	ck_assert_int_eq(tc_recv(&p.c, &rep, 5000), -ECONNRESET);
	finish_clean(&p);

	/* msg_size below the header */
	start(&p, 0);
	h.msg_size = 8;
	ck_assert_int_eq(
		chan_send_buf(p.c.fd, &h, 16, NULL, 0, chan_deadline(5000)),
		16);
	ck_assert_int_ge(tc_recv(&p.c, &rep, 5000), 0);
	ck_assert_int_eq(tc_errno(&rep), EINVAL);
	ck_assert_int_eq(tc_recv(&p.c, &rep, 5000), -ECONNRESET);
	finish_clean(&p);
}
END_TEST

START_TEST(t_disconnect_cleanup)
{
	int efd = eventfd(0, EFD_CLOEXEC), base;
	struct peer p;

	/* a client leaves with a DMA region and an IRQ fd: both closed */
	ck_assert_int_eq(peer_spawn(&p, 0, false, 2), 0);
	ck_assert_int_eq(tc_version(&p.c, NULL), 0);
	base = peer_fds(&p);
	ck_assert_int_eq(tc_dma_map(&p.c, VFIO_USER_F_DMA_REGION_READ, 0, IOVA,
				    0x1000, p.c.mem_fd),
			 0);
	ck_assert_int_eq(tc_set_irqs(&p.c,
				     VFIO_IRQ_SET_DATA_EVENTFD |
					     VFIO_IRQ_SET_ACTION_TRIGGER,
				     VFIO_PCI_INTX_IRQ_INDEX, 0, 1, NULL, &efd,
				     1),
			 0);
	ck_assert_int_eq(tc_set_reg32(&p.c, DEV_REG_SCRATCH, 9), 0);
	ck_assert_int_eq(peer_fds(&p), base + 2);
	ck_assert_int_eq(peer_reconnect(&p), 0);
	ck_assert_int_eq(tc_version(&p.c, NULL), 0);
	/* the first connection's socket is gone too */
	ck_assert_int_eq(peer_fds(&p), base - 1);
	{
		uint32_t v32;

		/* device state kept */
		ck_assert_int_eq(tc_reg32(&p.c, DEV_REG_SCRATCH, &v32), 0);
		ck_assert_uint_eq(v32, 9);
	}
	close(efd);
	finish_clean(&p);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("ref-vfio");
	TCase *tc = tcase_create("commands");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, t_version_ok);
	tcase_add_test(tc, t_version_defaults_and_twin);
	tcase_add_test(tc, t_version_refused);
	tcase_add_test(tc, t_get_info);
	tcase_add_test(tc, t_region_info);
	tcase_add_test(tc, t_region_rw);
	tcase_add_test(tc, t_xfer_and_write_multi);
	tcase_add_test(tc, t_dma_modes);
	tcase_add_test(tc, t_dma_msg_chunks);
	tcase_add_test(tc, t_dma_map_refused);
	tcase_add_test(tc, t_dma_readonly_and_limits);
	tcase_add_test(tc, t_dirty_log);
	tcase_add_test(tc, t_irq_info);
	tcase_add_test(tc, t_irq_intx_and_masking);
	tcase_add_test(tc, t_irq_msix);
	tcase_add_test(tc, t_irq_refused);
	tcase_add_test(tc, t_io_fds);
	tcase_add_test(tc, t_reset);
	tcase_add_test(tc, t_feature);
	tcase_add_test(tc, t_migration_fsm);
	tcase_add_test(tc, t_migration_roundtrip);
	tcase_add_test(tc, t_framing);
	tcase_add_test(tc, t_oversize);
	tcase_add_test(tc, t_disconnect_cleanup);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(suite());
}
