// SPDX-License-Identifier: MIT
/*
 * check_client_ref.c - the vfio-user client end to end against the
 * reference server (vuc-ref-vfio, launched per test with --socket-path in
 * a private directory): negotiation with and without the twin socket,
 * regions and their caps, IRQs through eventfds, the device's DMA copy
 * engine in the three access modes (message mode served by the client),
 * dirty logging, migration out and back in, reset.
 */
#include <check.h>
#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check_util.h"
#include "common/util.h"
#include "fe/client.h"
#include "transport/sock.h"

#ifndef VUC_REF_VFIO
#error "VUC_REF_VFIO: the path of vuc-ref-vfio"
#endif

/* The device's BAR0 registers (reference-backend/vfio/device.h). */
#define REG_ID 0x000u
#define REG_STATUS 0x004u
#define REG_DMA_SRC 0x008u
#define REG_DMA_DST 0x010u
#define REG_DMA_LEN 0x018u
#define REG_DMA_CMD 0x01cu
#define REG_DMA_RESULT 0x020u
#define REG_IRQ_STATUS 0x024u
#define ID_VALUE 0x31435556u
#define STATUS_DONE 1u
#define STATUS_ERROR 2u

#define RW (VFIO_USER_F_DMA_REGION_READ | VFIO_USER_F_DMA_REGION_WRITE)
#define SRC 0x100000u
#define DST 0x200000u
#define LEN 8192u

extern char **environ;

static char dir[64], path[128];
static pid_t pid;
static int conn = -1, fds_before;
static struct client C;
static struct gmem G;

static void start(void)
{
	char arg[160];
	char *argv[] = { (char *)VUC_REF_VFIO, arg, NULL };

	fds_before = count_fds();
	snprintf(dir, sizeof(dir), "/tmp/vuc-client-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/sock", dir);
	snprintf(arg, sizeof(arg), "--socket-path=%s", path);
	ck_assert_int_eq(
		posix_spawn(&pid, VUC_REF_VFIO, NULL, NULL, argv, environ), 0);
	conn = sock_connect(path, 5000);
	ck_assert_int_ge(conn, 0);
	gmem_init(&G);
	ck_assert_int_eq(client_init(&C, conn, &G, NULL, NULL), 0);
}

static void stop(void)
{
	int status = 0;

	if (pid <= 0)
		return;
	client_fini(&C);
	close_fd(&conn);
	gmem_clear(&G);
	kill(pid, SIGTERM);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	pid = 0;
	unlink(path);
	rmdir(dir);
	/* a clean exit: no sanitizer report, no signal but ours */
	ck_assert(WIFEXITED(status) ||
		  (WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM));
	if (WIFEXITED(status))
		ck_assert_int_eq(WEXITSTATUS(status), 0);
	ck_assert_int_eq(count_fds(), fds_before);
}

static uint32_t rd32(uint32_t off)
{
	uint32_t v = 0;

	ck_assert_msg(client_region_read(&C, 0, off, &v, 4, NULL) == 4, "%s",
		      client_error(&C));
	return v;
}

static void wr(uint32_t off, const void *v, uint32_t n)
{
	ck_assert_msg(client_region_write(&C, 0, off, v, n, NULL) == 0, "%s",
		      client_error(&C));
}

static void version(bool twin)
{
	struct vfio_user_caps caps;

	client_caps_default(&caps);
	if (twin) {
		caps.present |= VFIO_USER_CAP_TWIN_SOCKET |
				VFIO_USER_CAP_TWIN_SUPPORTED;
		caps.twin_socket_supported = true;
	}
	ck_assert_msg(client_version(&C, &caps, NULL) == 0, "%s",
		      client_error(&C));
	ck_assert_int_eq(C.twin_fd >= 0, twin);
}

/* Copy SRC -> DST with the device's engine; its errno. */
static uint32_t copy(void)
{
	uint64_t src = SRC, dst = DST;
	uint32_t len = LEN, cmd = 1, status, result;

	wr(REG_DMA_SRC, &src, 8);
	wr(REG_DMA_DST, &dst, 8);
	wr(REG_DMA_LEN, &len, 4);
	wr(REG_DMA_CMD, &cmd, 4);
	status = rd32(REG_STATUS);
	result = rd32(REG_DMA_RESULT);
	ck_assert_msg(status & (STATUS_DONE | STATUS_ERROR),
		      "status 0x%x result %u", status, result);
	ck_assert_int_eq(!!(status & STATUS_ERROR), !!result);
	return result;
}

START_TEST(info_regions_irqs)
{
	struct vfio_user_device_info info;
	struct vfio_user_region_info ri;
	struct vfio_user_irq_info irq;
	uint8_t caps[256];
	size_t caps_len;
	int fds[8];
	unsigned int nfds, i;

	version(false);
	ck_assert_int_eq(client_get_info(&C, &info, NULL), 0);
	ck_assert(info.flags & VFIO_DEVICE_FLAGS_PCI);
	ck_assert_uint_ge(info.num_regions, VFIO_PCI_NUM_REGIONS);
	for (i = 0; i < info.num_regions; i++) {
		caps_len = sizeof(caps);
		nfds = ARRAY_SIZE(fds);
		ck_assert_msg(client_region_info(&C, i, &ri, caps, &caps_len,
						 fds, &nfds, NULL) == 0,
			      "region %u: %s", i, client_error(&C));
		ck_assert_uint_eq(ri.index, i);
		if (ri.flags & VFIO_REGION_INFO_FLAG_MMAP)
			ck_assert_uint_ge(nfds, 1);
		if (ri.flags & VFIO_REGION_INFO_FLAG_CAPS)
			ck_assert_uint_gt(caps_len, 0);
		close_fds(fds, nfds);
	}
	ck_assert_int_eq(client_region_info(&C, info.num_regions, &ri, NULL,
					    NULL, NULL, NULL, NULL),
			 -EREMOTEIO);
	for (i = 0; i < info.num_irqs; i++)
		ck_assert_int_eq(client_irq_info(&C, i, &irq, NULL), 0);
	ck_assert_uint_eq(rd32(REG_ID), ID_VALUE);
	ck_assert_int_eq(client_reset(&C, NULL), 0);
	ck_assert_uint_eq(rd32(REG_ID), ID_VALUE);
}
END_TEST

/* _i: access mode (0 message, 1 mmap, 2 file I/O) + 3 * twin */
START_TEST(dma_copy_engine)
{
	enum vfio_user_dma_access mode = (enum vfio_user_dma_access)(_i % 3);
	uint8_t *src, *dst;
	uint64_t n = 0;
	int efd;
	unsigned int i;

	version(_i >= 3);
	ck_assert_int_eq(gmem_add_memfd(&G, SRC, LEN, NULL), 0);
	ck_assert_int_eq(gmem_add_memfd(&G, DST, LEN, NULL), 0);
	src = gmem_gpa(&G, SRC, LEN);
	dst = gmem_gpa(&G, DST, LEN);
	for (i = 0; i < LEN; i++)
		src[i] = (uint8_t)(i * 7);
	ck_assert_msg(client_dma_map(&C, SRC, LEN, mode,
				     VFIO_USER_F_DMA_REGION_READ, NULL) == 0,
		      "%s", client_error(&C));
	ck_assert_msg(client_dma_map(&C, DST, LEN, mode, RW, NULL) == 0, "%s",
		      client_error(&C));
	efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	ck_assert_int_eq(client_set_irqs(&C,
					 VFIO_IRQ_SET_DATA_EVENTFD |
						 VFIO_IRQ_SET_ACTION_TRIGGER,
					 VFIO_PCI_INTX_IRQ_INDEX, 0, 1, NULL,
					 &efd, 1, NULL),
			 0);

	ck_assert_uint_eq(copy(), 0);
	ck_assert_mem_eq(src, dst, LEN);
	if (mode == VFIO_USER_DMA_ACCESS_MSG) {
		ck_assert_uint_ge(C.stats.dma_reads, 1);
		ck_assert_uint_ge(C.stats.dma_writes, 1);
		ck_assert_uint_eq(C.stats.dma_refused, 0);
		ck_assert_uint_eq(C.stats.dma_on_main, 0);
	} else {
		ck_assert_uint_eq(C.stats.dma_reads + C.stats.dma_writes, 0);
	}
	ck_assert_int_eq(read(efd, &n, sizeof(n)), sizeof(n));
	ck_assert_uint_ge(n, 1);

	/* The source is read-only: a copy into it must fail, not land. */
	ck_assert_int_eq(client_dma_unmap(&C, DST, LEN, 0, 0, NULL, 0, NULL),
			 0);
	ck_assert_uint_ne(copy(), 0);
	close_fd(&efd);
}
END_TEST

START_TEST(dirty_logging)
{
	struct vfio_user_device_feature_dma_logging_range r = { DST, LEN };
	uint64_t bm = 0;

	version(false);
	ck_assert_int_eq(gmem_add_memfd(&G, SRC, LEN, NULL), 0);
	ck_assert_int_eq(gmem_add_memfd(&G, DST, LEN, NULL), 0);
	ck_assert_int_eq(client_dma_map(&C, SRC, LEN, VFIO_USER_DMA_ACCESS_MMAP,
					RW, NULL),
			 0);
	ck_assert_int_eq(client_dma_map(&C, DST, LEN, VFIO_USER_DMA_ACCESS_MMAP,
					RW, NULL),
			 0);
	ck_assert_msg(client_dirty_start(&C, 4096, &r, 1, NULL) == 0, "%s",
		      client_error(&C));
	ck_assert_uint_eq(copy(), 0);
	ck_assert_msg(client_dirty_report(&C, DST, LEN, 4096, &bm, sizeof(bm),
					  NULL) == 0,
		      "%s", client_error(&C));
	ck_assert_uint_eq(bm & 3, 3); /* both pages of DST written */
	ck_assert_int_eq(client_dirty_stop(&C, NULL), 0);
}
END_TEST

START_TEST(migration_out_and_in)
{
	uint8_t *blob = malloc(1 << 20);
	uint32_t state = 0, scratch = 0x5eed, got;
	uint64_t flags = 0;
	size_t len = 0;
	int n;

	ck_assert_ptr_nonnull(blob);
	version(false);
	ck_assert_int_eq(client_migration_flags(&C, &flags, NULL), 0);
	ck_assert(flags & VFIO_MIGRATION_STOP_COPY);
	ck_assert_int_eq(client_mig_state_get(&C, &state, NULL), 0);
	ck_assert_uint_eq(state, VFIO_DEVICE_STATE_RUNNING);
	wr(0x028, &scratch, 4); /* SCRATCH: kept across migration */
	ck_assert_int_eq(client_mig_state(&C, VFIO_DEVICE_STATE_STOP, NULL), 0);
	ck_assert_int_eq(
		client_mig_state(&C, VFIO_DEVICE_STATE_STOP_COPY, NULL), 0);
	do {
		n = client_mig_data_read(&C, blob + len, 4096, NULL);
		ck_assert_msg(n >= 0, "%s", client_error(&C));
		len += (size_t)n;
	} while (n == 4096 && len + 4096 <= (1 << 20));
	ck_assert_uint_gt(len, 0);
	ck_assert_int_eq(client_mig_state(&C, VFIO_DEVICE_STATE_STOP, NULL), 0);
	ck_assert_int_eq(client_reset(&C, NULL), 0);
	ck_assert_int_eq(client_mig_state(&C, VFIO_DEVICE_STATE_RESUMING, NULL),
			 0);
	ck_assert_msg(client_mig_data_write(&C, blob, (uint32_t)len, NULL) == 0,
		      "%s", client_error(&C));
	ck_assert_msg(client_mig_state(&C, VFIO_DEVICE_STATE_STOP, NULL) == 0,
		      "%s", client_error(&C));
	ck_assert_int_eq(client_mig_state(&C, VFIO_DEVICE_STATE_RUNNING, NULL),
			 0);
	got = rd32(0x028);
	ck_assert_uint_eq(got, scratch);
	/* STOP_COPY -> PRE_COPY is no arc of the state machine */
	ck_assert_int_eq(
		client_mig_state(&C, VFIO_DEVICE_STATE_STOP_COPY, NULL), 0);
	ck_assert_int_eq(client_mig_state(&C, VFIO_DEVICE_STATE_PRE_COPY, NULL),
			 -EREMOTEIO);
	free(blob);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("client-ref");
	TCase *t = tcase_create("ref-vfio");

	signal(SIGPIPE, SIG_IGN);
	/* checked: the server is stopped and reaped even after a failure */
	tcase_add_checked_fixture(t, start, stop);
	tcase_add_test(t, info_regions_irqs);
	tcase_add_loop_test(t, dma_copy_engine, 0, 6);
	tcase_add_test(t, dirty_logging);
	tcase_add_test(t, migration_out_and_in);
	suite_add_tcase(s, t);
	return run_suite(s);
}
