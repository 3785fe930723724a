// SPDX-License-Identifier: MIT
/*
 * check_ref_vfio_bugs.c - every seeded bug of vuc-ref-vfio is observable
 * from outside: each scenario runs against a clean server (it must see
 * nothing wrong) and against the server with just that bug (it must see
 * the defect: a wrong reply or errno, a missing or extra reply, a leaked
 * fd, a crash, wrong data).
 */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/util.h"
#include "transport/chan.h"
#include "wire/vfio_user_caps.h"
#include "../check_util.h"
#include "bugs.h"
#include "device.h"
#include "peer.h"

#define IOVA PEER_MEM_IOVA
#define RW (VFIO_USER_F_DMA_REGION_READ | VFIO_USER_F_DMA_REGION_WRITE)

/* How a scenario starts: negotiated by tc_version(NULL), or raw. */
enum { NEGOTIATED, RAW };

struct scenario {
	enum bug bug;
	int start;
	unsigned int nconn;
	/* true when the defect was seen */
	bool (*run)(struct peer *p);
};

static int errno_of_call(struct peer *p, const struct vfio_user_msg *m)
{
	struct vfio_user_msg rep;
	int ret = tc_call(&p->c, m, &rep);

	if (ret < 0)
		return ret;
	close_fds(rep.fds, rep.nfds);
	return tc_errno(&rep);
}

static bool s_argsz_trusted(struct peer *p)
{
	struct vfio_user_msg m;
	uint8_t buf[64];

	vfio_user_build_dma_map(&m, buf, sizeof(buf), 1, RW, 0, IOVA, 0x1000,
				-1);
	((struct vfio_user_dma_map *)(void *)(buf + 16))->argsz = 48;
	return errno_of_call(p, &m) == 0;
}

static bool s_offset_wrap(struct peer *p)
{
	uint8_t data[8];

	return tc_region_read(&p->c, VFIO_PCI_BAR0_REGION_INDEX, UINT64_MAX - 3,
			      data, 8) == 0;
}

static bool s_fd_leak(struct peer *p)
{
	int before;

	ck_assert_int_eq(tc_dma_map(&p->c, RW, 0, IOVA, 0x4000, p->c.mem_fd),
			 0);
	before = peer_fds(p);
	ck_assert_int_eq(tc_dma_map(&p->c, RW, 0, IOVA + 0x1000, 0x1000,
				    p->c.mem_fd) != 0,
			 1);
	return peer_fds(p) != before;
}

static bool s_overlap_einval(struct peer *p)
{
	ck_assert_int_eq(tc_dma_map(&p->c, RW, 0, IOVA, 0x4000, -1), 0);
	return tc_dma_map(&p->c, RW, 0, IOVA + 0x1000, 0x1000, -1) != EEXIST;
}

static bool s_mode_default(struct peer *p)
{
	uint32_t result;

	ck_assert_int_eq(
		tc_dma_map(&p->c, RW, 0, IOVA, PEER_MEM_LEN, p->c.mem_fd), 0);
	ck_assert_int_eq(tc_copy(&p->c, IOVA, IOVA + 0x1000, 64, &result), 0);
	return p->c.dma_reads + p->c.dma_writes > 0;
}

static bool s_reply_type(struct peer *p)
{
	struct vfio_user_msg m, rep;
	uint8_t buf[64];

	vfio_user_build_region_info(&m, buf, sizeof(buf), 5, 32, 77);
	ck_assert_int_ge(tc_call(&p->c, &m, &rep), 0);
	ck_assert_int_ne(tc_errno(&rep), 0);
	return (rep.hdr.flags & VFIO_USER_F_TYPE_MASK) !=
	       VFIO_USER_F_TYPE_REPLY;
}

static bool s_no_reply(struct peer *p)
{
	struct vfio_user_msg m, rep;
	uint8_t buf[64];

	vfio_user_build_device_get_info(&m, buf, sizeof(buf), 6, 16);
	m.hdr.flags |= VFIO_USER_F_NO_REPLY;
	ck_assert_int_ge(tc_send(&p->c, &m), 0);
	vfio_user_build_device_get_info(&m, buf, sizeof(buf), 7, 16);
	ck_assert_int_ge(tc_call(&p->c, &m, &rep), 0);
	return rep.hdr.msg_id != 7;
}

static bool s_region_crash(struct peer *p)
{
	struct vfio_user_msg m, rep;
	uint8_t buf[64];
	int ret;

	vfio_user_build_region_info(&m, buf, sizeof(buf), 8, 32,
				    DEV_NUM_REGIONS);
	ret = tc_call(&p->c, &m, &rep);
	if (ret < 0)
		return true; /* no reply: the server died */
	ck_assert_int_eq(tc_errno(&rep), EINVAL);
	return false;
}

static bool s_irq_wrap(struct peer *p)
{
	return tc_set_irqs(&p->c,
			   VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER,
			   VFIO_PCI_MSIX_IRQ_INDEX, 1, 0xffffffff, NULL, NULL,
			   0) == 0;
}

static bool s_unmap_inexact(struct peer *p)
{
	ck_assert_int_eq(tc_dma_map(&p->c, RW, 0, IOVA, 0x10000, -1), 0);
	return tc_dma_unmap(&p->c, IOVA, 0x1000) == 0;
}

/* A raw VERSION exchange; returns the reply's errno, fills @v / @caps. */
static int version_raw(struct peer *p, uint16_t minor, const char *json,
		       bool drop_nul, struct vfio_user_version *v,
		       struct vfio_user_caps *caps)
{
	struct vfio_user_msg m, rep;
	uint8_t buf[512];
	int err;

	vfio_user_build_version(&m, buf, sizeof(buf), 9, 0, minor, json);
	if (drop_nul) {
		m.payload_len--;
		m.hdr.msg_size--;
	}
	ck_assert_int_ge(tc_call(&p->c, &m, &rep), 0);
	close_fds(rep.fds, rep.nfds);
	err = tc_errno(&rep);
	if (!err) {
		ck_assert_int_eq(
			vfio_user_get_version(&rep, v, NULL, NULL, NULL), 0);
		ck_assert_int_eq(vfio_user_caps_from_version(caps, &rep, NULL),
				 0);
	}
	return err;
}

static bool s_minor_high(struct peer *p)
{
	struct vfio_user_version v;
	struct vfio_user_caps caps;

	ck_assert_int_eq(version_raw(p, 0, NULL, false, &v, &caps), 0);
	return v.minor > 0;
}

static bool s_caps_subset(struct peer *p)
{
	struct vfio_user_version v;
	struct vfio_user_caps caps;

	ck_assert_int_eq(version_raw(p, 0, "{}", false, &v, &caps), 0);
	return caps.write_multiple;
}

static bool s_json_nul(struct peer *p)
{
	struct vfio_user_version v;
	struct vfio_user_caps caps;

	return version_raw(p, 0, "{}", true, &v, &caps) == 0;
}

static bool s_oversize(struct peer *p)
{
	struct vfio_user_hdr h = { .msg_id = 10,
				   .command = VFIO_USER_DEVICE_GET_INFO,
				   .msg_size = 0x7fffffff };
	struct vfio_user_msg m, rep;
	uint8_t raw[64];
	int ret;

	memcpy(raw, &h, 16);
	vfio_user_build_device_get_info(&m, raw + 16, sizeof(raw) - 16, 11, 16);
	ck_assert_int_eq(
		chan_send_buf(p->c.fd, raw, 48, NULL, 0, chan_deadline(5000)),
		48);
	ck_assert_int_ge(tc_recv(&p->c, &rep, 5000), 0);
	ck_assert_uint_eq(rep.hdr.msg_id, 10);
	ret = tc_recv(&p->c, &rep, 2000);
	return ret >= 0 && rep.hdr.msg_id == 11;
}

static bool s_split(struct peer *p)
{
	struct vfio_user_msg m, rep;
	uint8_t raw[32];
	struct chan_chunk ch[2] = {
		{ .buf = raw, .len = 16 },
		{ .buf = raw + 16, .len = 16, .delay_ms = 50 },
	};

	vfio_user_build_device_get_info(&m, raw, sizeof(raw), 12, 16);
	ck_assert_int_eq(chan_send(p->c.fd, ch, 2, chan_deadline(5000)), 32);
	if (tc_recv(&p->c, &rep, 5000) < 0)
		return true;
	return tc_errno(&rep) != 0 || rep.hdr.msg_id != 12;
}

static bool s_dma_readonly(struct peer *p)
{
	uint32_t result;

	ck_assert_int_eq(tc_dma_map(&p->c, RW, 0, IOVA, 0x4000, p->c.mem_fd),
			 0);
	ck_assert_int_eq(tc_dma_map(&p->c, VFIO_USER_F_DMA_REGION_READ, 0x4000,
				    IOVA + 0x4000, 0x4000, p->c.mem_fd),
			 0);
	memset(p->c.mem, 0x11, 64);
	memset(p->c.mem + 0x4000, 0xee, 64);
	ck_assert_int_eq(tc_copy(&p->c, IOVA, IOVA + 0x4000, 64, &result), 0);
	return p->c.mem[0x4000] != 0xee;
}

static bool s_xfer(struct peer *p)
{
	uint8_t *big = malloc(8192);
	int ret;

	ck_assert_int_eq(tc_version(&p->c,
				    "{\"capabilities\":{\"max_data_xfer_size\":"
				    "4096}}"),
			 0);
	ret = tc_region_read(&p->c, VFIO_PCI_BAR2_REGION_INDEX, 0, big, 8192);
	free(big);
	return ret == 0;
}

static bool s_stopcopy_precopy(struct peer *p)
{
	ck_assert_int_eq(tc_mig_state(&p->c, VFIO_DEVICE_STATE_STOP_COPY), 0);
	return tc_mig_state(&p->c, VFIO_DEVICE_STATE_PRE_COPY) == 0;
}

static bool s_irq_leak(struct peer *p)
{
	int efd = eventfd(0, EFD_CLOEXEC), base;

	base = peer_fds(p);
	ck_assert_int_eq(tc_set_irqs(&p->c,
				     VFIO_IRQ_SET_DATA_EVENTFD |
					     VFIO_IRQ_SET_ACTION_TRIGGER,
				     VFIO_PCI_INTX_IRQ_INDEX, 0, 1, NULL, &efd,
				     1),
			 0);
	close(efd);
	ck_assert_int_eq(peer_reconnect(p), 0);
	ck_assert_int_eq(tc_version(&p->c, NULL), 0);
	/* one connection socket fewer; the IRQ fd must be gone */
	return peer_fds(p) != base - 1;
}

static bool s_stray_fds(struct peer *p)
{
	struct vfio_user_msg m;
	uint8_t buf[64];
	int efd = eventfd(0, EFD_CLOEXEC), base;

	base = peer_fds(p);
	vfio_user_build_device_get_info(&m, buf, sizeof(buf), 13, 16);
	vfio_user_msg_set_fds(&m, &efd, 1);
	ck_assert_int_ne(errno_of_call(p, &m), 0);
	close(efd);
	return peer_fds(p) != base;
}

static bool s_error_payload(struct peer *p)
{
	struct vfio_user_msg m, rep;
	uint8_t buf[64];

	vfio_user_build_region_info(&m, buf, sizeof(buf), 14, 32, 77);
	ck_assert_int_ge(tc_call(&p->c, &m, &rep), 0);
	ck_assert_int_ne(tc_errno(&rep), 0);
	return rep.hdr.msg_size != VFIO_USER_HDR_SIZE;
}

static bool s_unknown_silent(struct peer *p)
{
	struct vfio_user_msg m, rep;
	uint8_t buf[64];

	vfio_user_build_device_reset(&m, buf, sizeof(buf), 15);
	m.hdr.command = 19;
	ck_assert_int_ge(tc_send(&p->c, &m), 0);
	vfio_user_build_device_get_info(&m, buf, sizeof(buf), 16, 16);
	ck_assert_int_ge(tc_call(&p->c, &m, &rep), 0);
	return rep.hdr.msg_id == 16;
}

static bool s_mig_incomplete(struct peer *p)
{
	struct vfio_user_mig_data d;
	struct vfio_user_msg m, rep;
	const uint8_t *data = NULL;
	uint8_t buf[64], *stream = malloc(1u << 20), *wbuf;
	size_t len = 0, off;
	uint32_t v32;

	ck_assert_int_eq(tc_set_reg32(&p->c, DEV_REG_SCRATCH, 0x1234), 0);
	ck_assert_int_eq(tc_mig_state(&p->c, VFIO_DEVICE_STATE_STOP_COPY), 0);
	do {
		vfio_user_build_mig_data_read(&m, buf, sizeof(buf),
					      tc_next_id(&p->c), 65536);
		ck_assert_int_ge(tc_call(&p->c, &m, &rep), 0);
		ck_assert_int_eq(vfio_user_get_mig_data(&rep, &d, &data, NULL),
				 0);
		memcpy(stream + len, data, d.size);
		len += d.size;
	} while (d.size == 65536);
	ck_assert_int_eq(tc_mig_state(&p->c, VFIO_DEVICE_STATE_STOP), 0);
	ck_assert_int_eq(tc_set_reg32(&p->c, DEV_REG_SCRATCH, 0), 0);
	ck_assert_int_eq(tc_mig_state(&p->c, VFIO_DEVICE_STATE_RESUMING), 0);
	wbuf = malloc(65536 + 64);
	for (off = 0; off < len; off += 65536) {
		uint32_t n = (uint32_t)VUC_MIN(len - off, (size_t)65536);

		vfio_user_build_mig_data_write(&m, wbuf, 65536 + 64,
					       tc_next_id(&p->c), stream + off,
					       n);
		ck_assert_int_eq(errno_of_call(p, &m), 0);
	}
	free(wbuf);
	free(stream);
	ck_assert_int_eq(tc_mig_state(&p->c, VFIO_DEVICE_STATE_RUNNING), 0);
	ck_assert_int_eq(tc_reg32(&p->c, DEV_REG_SCRATCH, &v32), 0);
	return v32 != 0x1234;
}

static bool s_region_info_argsz(struct peer *p)
{
	struct vfio_user_msg m, rep;
	uint8_t buf[64];
	bool bad;

	vfio_user_build_region_info(&m, buf, sizeof(buf), 17, 32,
				    VFIO_PCI_BAR2_REGION_INDEX);
	ck_assert_int_ge(tc_call(&p->c, &m, &rep), 0);
	bad = rep.payload_len > 32 || rep.nfds;
	close_fds(rep.fds, rep.nfds);
	return bad;
}

static bool s_dirty(struct peer *p)
{
	struct vfio_user_device_feature_dma_logging_report rr;
	struct vfio_user_msg m, rep;
	const uint8_t *bm = NULL;
	uint8_t buf[128];
	size_t bm_len = 0;
	uint32_t result;
	uint64_t word;

	ck_assert_int_eq(
		tc_dma_map(&p->c, RW, 0, IOVA, PEER_MEM_LEN, p->c.mem_fd), 0);
	vfio_user_build_dma_logging_start(&m, buf, sizeof(buf), 18, 4096, NULL,
					  0);
	ck_assert_int_eq(errno_of_call(p, &m), 0);
	ck_assert_int_eq(tc_copy(&p->c, IOVA, IOVA + 0x2000, 64, &result), 0);
	vfio_user_build_dma_logging_report(&m, buf, sizeof(buf), 19, IOVA,
					   PEER_MEM_LEN, 4096);
	ck_assert_int_ge(tc_call(&p->c, &m, &rep), 0);
	ck_assert_int_eq(
		vfio_user_get_dma_logging_report(&rep, &rr, &bm, &bm_len, NULL),
		0);
	memcpy(&word, bm, 8);
	return word != (1u << 2);
}

static const struct scenario scenarios[] = {
	{ BUG_ARGSZ_TRUSTED, NEGOTIATED, 1, s_argsz_trusted },
	{ BUG_OFFSET_WRAP, NEGOTIATED, 1, s_offset_wrap },
	{ BUG_FD_LEAK_DMA_ERROR, NEGOTIATED, 1, s_fd_leak },
	{ BUG_OVERLAP_EINVAL, NEGOTIATED, 1, s_overlap_einval },
	{ BUG_MODE_DEFAULT_MSG, NEGOTIATED, 1, s_mode_default },
	{ BUG_REPLY_TYPE_MISSING, NEGOTIATED, 1, s_reply_type },
	{ BUG_NO_REPLY_ANSWERED, NEGOTIATED, 1, s_no_reply },
	{ BUG_REGION_INDEX_CRASH, NEGOTIATED, 1, s_region_crash },
	{ BUG_IRQ_RANGE_WRAP, NEGOTIATED, 1, s_irq_wrap },
	{ BUG_UNMAP_INEXACT, NEGOTIATED, 1, s_unmap_inexact },
	{ BUG_VERSION_MINOR_HIGH, RAW, 1, s_minor_high },
	{ BUG_CAPS_NOT_SUBSET, RAW, 1, s_caps_subset },
	{ BUG_JSON_NUL_OPTIONAL, RAW, 1, s_json_nul },
	{ BUG_OVERSIZE_NO_DRAIN, NEGOTIATED, 1, s_oversize },
	{ BUG_SPLIT_DESYNC, NEGOTIATED, 1, s_split },
	{ BUG_DMA_WRITE_READONLY, NEGOTIATED, 1, s_dma_readonly },
	{ BUG_XFER_SIZE_IGNORED, RAW, 1, s_xfer },
	{ BUG_MIG_STOPCOPY_PRECOPY, NEGOTIATED, 1, s_stopcopy_precopy },
	{ BUG_IRQ_FD_LEAK_DISCONNECT, NEGOTIATED, 2, s_irq_leak },
	{ BUG_STRAY_FDS_KEPT, NEGOTIATED, 1, s_stray_fds },
	{ BUG_ERROR_REPLY_PAYLOAD, NEGOTIATED, 1, s_error_payload },
	{ BUG_UNKNOWN_CMD_SILENT, NEGOTIATED, 1, s_unknown_silent },
	{ BUG_MIG_STATE_INCOMPLETE, NEGOTIATED, 1, s_mig_incomplete },
	{ BUG_REGION_INFO_ARGSZ, NEGOTIATED, 1, s_region_info_argsz },
	{ BUG_DIRTY_NOT_LOGGED, NEGOTIATED, 1, s_dirty },
};

static bool observe(const struct scenario *sc, bool with_bug)
{
	struct peer p;
	bool seen;

	ck_assert_int_eq(peer_spawn(&p, with_bug ? bugs_mask(sc->bug) : 0,
				    false, sc->nconn),
			 0);
	if (sc->start == NEGOTIATED)
		ck_assert_int_eq(tc_version(&p.c, NULL), 0);
	seen = sc->run(&p);
	peer_finish(&p);
	return seen;
}

START_TEST(t_bug)
{
	const struct scenario *sc = &scenarios[_i];
	const char *name = bugs_info(sc->bug)->name;
	int fds = count_fds();

	ck_assert_msg(!observe(sc, false), "%s: the clean server misbehaves",
		      name);
	ck_assert_msg(observe(sc, true), "%s: the bug is not observable", name);
	ck_assert_int_eq(count_fds(), fds);
}
END_TEST

START_TEST(t_table)
{
	unsigned int i, j;

	/* every bug has a scenario, a name, and is found by its name */
	ck_assert_uint_eq(ARRAY_SIZE(scenarios), BUG_COUNT);
	ck_assert_uint_ge(BUG_COUNT, 15);
	for (i = 0; i < BUG_COUNT; i++) {
		const struct bug_info *b = bugs_info((enum bug)i);

		ck_assert_ptr_nonnull(b);
		ck_assert_int_eq(b->id, (int)i);
		ck_assert_int_eq(bugs_by_name(b->name), (int)i);
		for (j = 0; j < ARRAY_SIZE(scenarios); j++)
			if (scenarios[j].bug == (enum bug)i)
				break;
		ck_assert_uint_lt(j, ARRAY_SIZE(scenarios));
	}
	ck_assert_int_eq(bugs_by_name("no-such-bug"), -EINVAL);
	ck_assert_ptr_null(bugs_info(BUG_COUNT));
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("ref-vfio-bugs");
	TCase *tc = tcase_create("bugs");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, t_table);
	tcase_add_loop_test(tc, t_bug, 0, ARRAY_SIZE(scenarios));
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(suite());
}
