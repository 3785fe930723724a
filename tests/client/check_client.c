// SPDX-License-Identifier: MIT
/*
 * check_client.c - the vfio-user client against a fake server in a
 * thread: the correct path of every call, each bending knob (checked on
 * the bytes the server received), serving the server's DMA in the three
 * access modes and by policy, and every hostile reply of fake_server.h
 * turned into a clear, prompt error with no fd left open.
 */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "check_util.h"
#include "common/util.h"
#include "fake_server.h"
#include "fe/client.h"
#include "transport/chan.h"

static struct fake F;
static struct client C;
static struct gmem G;
static int fds_before;

static struct {
	unsigned int dir[3];
	unsigned int with_fds_text;
	unsigned int last_nchunks, last_fds_chunk;
	unsigned int twin_events;
} tr;

static void on_trace(void *ctx, const struct fe_trace_event *ev)
{
	(void)ctx;
	ck_assert_ptr_nonnull(ev->text);
	tr.dir[ev->dir]++;
	if (ev->fds_text)
		tr.with_fds_text++;
	if (ev->chan == FE_TRACE_BACKEND)
		tr.twin_events++;
	if (ev->dir == FE_TRACE_SEND) {
		tr.last_nchunks = ev->nchunks;
		tr.last_fds_chunk = ev->fds_chunk;
	}
}

static void start_opts(enum fake_mode mode, const struct client_opts *o)
{
	struct fe_trace_hook h = { on_trace, NULL };

	memset(&tr, 0, sizeof(tr));
	fds_before = count_fds();
	ck_assert_int_eq(fake_start(&F, mode), 0);
	gmem_init(&G);
	ck_assert_int_eq(client_init(&C, F.peer, &G, o, &h), 0);
}

static void start(enum fake_mode mode, int timeout_ms)
{
	struct client_opts o = { .timeout_ms = timeout_ms };

	start_opts(mode, &o);
}

static void stop(void)
{
	client_fini(&C);
	fake_stop(&F);
	gmem_clear(&G);
	ck_assert_int_eq(count_fds(), fds_before);
}

static const struct fake_log *logged(unsigned int i)
{
	ck_assert_uint_gt(fake_log_count(&F), i);
	return &F.log[i];
}

static bool is_memfd(enum fdzoo_kind k)
{
	return k == FDZOO_MEMFD || k == FDZOO_MEMFD_SEALED;
}

static uint32_t log_u32(unsigned int i, size_t off)
{
	uint32_t v;

	memcpy(&v, logged(i)->payload + off, sizeof(v));
	return v;
}

static uint64_t log_u64(unsigned int i, size_t off)
{
	uint64_t v;

	memcpy(&v, logged(i)->payload + off, sizeof(v));
	return v;
}

static void twin_caps(struct vfio_user_caps *caps)
{
	client_caps_default(caps);
	caps->present |=
		VFIO_USER_CAP_TWIN_SOCKET | VFIO_USER_CAP_TWIN_SUPPORTED;
	caps->twin_socket_supported = true;
}

static void map_msg(uint64_t gpa, uint64_t size, uint32_t flags)
{
	ck_assert_int_eq(client_dma_map(&C, gpa, size, VFIO_USER_DMA_ACCESS_MSG,
					flags, NULL),
			 0);
}

static void ring(uint64_t addr, uint32_t count, uint32_t op)
{
	struct fake_doorbell db = { addr, count, op };

	ck_assert_int_eq(client_region_write(&C, 0, FAKE_DOORBELL, &db,
					     sizeof(db), NULL),
			 0);
}

#define RW (VFIO_USER_F_DMA_REGION_READ | VFIO_USER_F_DMA_REGION_WRITE)

/* ------------------------------------------------------------------ */
/* Correct path                                                        */
/* ------------------------------------------------------------------ */

START_TEST(version_and_info)
{
	struct vfio_user_device_info info;
	struct vfio_user_irq_info irq;

	start(FAKE_OK, 1000);
	ck_assert_int_eq(client_version(&C, NULL, NULL), 0);
	ck_assert(C.negotiated);
	ck_assert_uint_eq(C.server.max_msg_fds, 8);
	ck_assert(C.server.write_multiple);
	ck_assert_int_eq(C.twin_fd, -1);
	ck_assert_int_eq(client_get_info(&C, &info, NULL), 0);
	ck_assert_uint_eq(info.num_regions, 9);
	ck_assert_uint_eq(info.num_irqs, 5);
	ck_assert(info.flags & VFIO_DEVICE_FLAGS_PCI);
	ck_assert_int_eq(
		client_irq_info(&C, VFIO_PCI_MSIX_IRQ_INDEX, &irq, NULL), 0);
	ck_assert_uint_eq(irq.count, 8);
	ck_assert_uint_eq(tr.dir[FE_TRACE_SEND], 3);
	ck_assert_uint_eq(tr.dir[FE_TRACE_RECV], 3);
	ck_assert_uint_eq(C.npending, 0);
	ck_assert_str_eq(client_error(&C), "");
	stop();
}
END_TEST

START_TEST(dma_map_three_modes)
{
	unsigned int n;

	start(FAKE_OK, 1000);
	ck_assert_int_eq(client_version(&C, NULL, NULL), 0);
	ck_assert_int_eq(gmem_add_memfd(&G, 0x100000, 0x10000, NULL), 0);
	map_msg(0x100000, 0x1000, RW);
	ck_assert_int_eq(client_dma_map(&C, 0x101000, 0x1000,
					VFIO_USER_DMA_ACCESS_MMAP, RW, NULL),
			 0);
	ck_assert_int_eq(client_dma_map(&C, 0x102000, 0x1000,
					VFIO_USER_DMA_ACCESS_FILE_IO, RW, NULL),
			 0);
	/* message mode: no fd, no mode bit */
	ck_assert_uint_eq(logged(1)->nfds, 0);
	ck_assert_uint_eq(log_u32(1, 4), RW);
	/* mmap: the memfd, no mode bit ("If no access mode flag bit is
	 * set, the server should use mmap()"), offset into the file */
	ck_assert_uint_eq(logged(2)->nfds, 1);
	ck_assert(is_memfd(logged(2)->kinds[0]));
	ck_assert_uint_eq(log_u32(2, 4), RW);
	ck_assert_uint_eq(log_u64(2, 8), 0x1000);
	ck_assert_uint_eq(log_u64(2, 16), 0x101000);
	/* file I/O: the fd and bit 3 */
	ck_assert_uint_eq(logged(3)->nfds, 1);
	ck_assert_uint_eq(log_u32(3, 4), RW | VFIO_USER_F_DMA_REGION_FILE_IO);
	ck_assert_uint_eq(C.ndma, 3);
	ck_assert_uint_ge(tr.with_fds_text, 2);

	ck_assert_int_eq(
		client_dma_unmap(&C, 0x101000, 0x1000, 0, 0, NULL, 0, NULL), 0);
	ck_assert_uint_eq(C.ndma, 2);
	ck_assert_int_eq(
		client_dma_unmap(&C, 0x101000, 0x1000, 0, 0, NULL, 0, NULL),
		-EREMOTEIO);
	ck_assert_uint_eq(C.server_errno, ENOENT);
	/* Outside guest memory the correct path refuses before sending. */
	n = fake_log_count(&F);
	ck_assert_int_eq(client_dma_map(&C, 0x900000, 0x1000,
					VFIO_USER_DMA_ACCESS_MMAP, RW, NULL),
			 -EFAULT);
	ck_assert_uint_eq(fake_log_count(&F), n);
	stop();
}
END_TEST

/* _i: 0 main socket, 1 twin socket */
START_TEST(serve_dma_message_mode)
{
	struct vfio_user_caps caps;
	const uint8_t *p;
	unsigned int i;

	start(FAKE_OK, 2000);
	twin_caps(&caps);
	ck_assert_int_eq(client_version(&C, _i ? &caps : NULL, NULL), 0);
	ck_assert_int_eq(C.twin_fd >= 0, _i);
	ck_assert_int_eq(gmem_add_memfd(&G, 0x100000, 0x10000, NULL), 0);
	map_msg(0x100000, 0x1000, RW);
	ring(0x100010, 64, FAKE_DMA_WRITE | FAKE_DMA_READ);
	ck_assert_int_eq(F.dma_err, 0);
	ck_assert(F.dma_match);
	p = gmem_gpa(&G, 0x100010, 64);
	ck_assert_ptr_nonnull(p);
	for (i = 0; i < 64; i++)
		ck_assert_uint_eq(p[i], (uint8_t)(0xa5 + i));
	ck_assert_uint_eq(C.stats.dma_writes, 1);
	ck_assert_uint_eq(C.stats.dma_reads, 1);
	ck_assert_uint_eq(C.stats.dma_refused, 0);
	ck_assert_uint_eq(C.stats.dma_on_main, 0);
	if (_i)
		ck_assert_uint_ge(tr.twin_events, 4);
	stop();
}
END_TEST

START_TEST(serve_dma_refusals)
{
	struct client_dma_policy any = { .any_region = true };

	start(FAKE_OK, 2000);
	ck_assert_int_eq(client_version(&C, NULL, NULL), 0);
	ck_assert_int_eq(gmem_add_memfd(&G, 0x100000, 0x10000, NULL), 0);
	map_msg(0x100000, 0x1000, VFIO_USER_F_DMA_REGION_READ);
	ck_assert_int_eq(client_dma_map(&C, 0x104000, 0x1000,
					VFIO_USER_DMA_ACCESS_MMAP, RW, NULL),
			 0);
	ring(0x100000, 16, FAKE_DMA_WRITE); /* read-only region */
	ck_assert_int_eq(F.dma_err, EPERM);
	ring(0x900000, 16, FAKE_DMA_READ); /* mapped nowhere */
	ck_assert_int_eq(F.dma_err, EFAULT);
	ring(0x100ff8, 16, FAKE_DMA_READ); /* runs off the region */
	ck_assert_int_eq(F.dma_err, EFAULT);
	ring(0x104000, 16, FAKE_DMA_READ); /* shared with an fd */
	ck_assert_int_eq(F.dma_err, EFAULT);
	ck_assert_uint_eq(C.stats.dma_refused, 4);
	client_set_policy(&C, &any);
	ring(0x104000, 16, FAKE_DMA_READ);
	ck_assert_int_eq(F.dma_err, 0);
	/* After DMA_UNMAP the region is gone for the server too. */
	ck_assert_int_eq(
		client_dma_unmap(&C, 0x104000, 0x1000, 0, 0, NULL, 0, NULL), 0);
	ring(0x104000, 16, FAKE_DMA_READ);
	ck_assert_int_eq(F.dma_err, EFAULT);
	stop();
}
END_TEST

START_TEST(serve_dma_policies)
{
	struct client_dma_policy p;

	start(FAKE_OK, 2000);
	ck_assert_int_eq(client_version(&C, NULL, NULL), 0);
	ck_assert_int_eq(gmem_add_memfd(&G, 0x100000, 0x10000, NULL), 0);
	map_msg(0x100000, 0x1000, RW);

	p = (struct client_dma_policy){ .how = CLIENT_SERVE_ERROR,
					.error = 77 };
	client_set_policy(&C, &p);
	ring(0x100000, 16, FAKE_DMA_READ);
	ck_assert_int_eq(F.dma_err, 77);

	p = (struct client_dma_policy){ .how = CLIENT_SERVE_SHORT,
					.short_by = 8 };
	client_set_policy(&C, &p);
	ring(0x100000, 64, FAKE_DMA_READ);
	ck_assert_int_eq(F.dma_err, 0);
	ck_assert_uint_eq(F.dma_read_count, 64);
	ck_assert_uint_eq(F.dma_read_data, 56);

	p = (struct client_dma_policy){ .how = CLIENT_SERVE_IGNORE };
	client_set_policy(&C, &p);
	ring(0x100000, 16, FAKE_DMA_READ);
	ck_assert_int_eq(F.dma_err, -ETIMEDOUT);

	p = (struct client_dma_policy){ .write_reply16 = true };
	client_set_policy(&C, &p);
	ring(0x100000, 16, FAKE_DMA_WRITE);
	ck_assert_int_eq(F.dma_err, 0);
	client_set_policy(&C, NULL);
	stop();
}
END_TEST

START_TEST(region_info_argsz_retry_and_io_fds)
{
	struct vfio_user_region_info info;
	struct vfio_user_sub_region_io_fd subs[4];
	uint8_t caps[64];
	size_t caps_len = sizeof(caps);
	int fds[4];
	unsigned int nfds = ARRAY_SIZE(fds);
	uint32_t nsubs = ARRAY_SIZE(subs);

	start(FAKE_OK, 1000);
	ck_assert_int_eq(client_version(&C, NULL, NULL), 0);
	ck_assert_int_eq(client_region_info(&C, 0, &info, caps, &caps_len, fds,
					    &nfds, NULL),
			 0);
	ck_assert(info.flags & VFIO_REGION_INFO_FLAG_MMAP);
	ck_assert(info.flags & VFIO_REGION_INFO_FLAG_CAPS);
	ck_assert_uint_eq(caps_len, 32);
	ck_assert_uint_eq(caps[0], VFIO_REGION_INFO_CAP_SPARSE_MMAP);
	ck_assert_uint_eq(nfds, 1);
	ck_assert(is_memfd(fdzoo_kind_of(fds[0])));
	close_fd(&fds[0]);
	/* the argsz retry: 32 first, then what the server asked for */
	ck_assert_uint_eq(logged(1)->hdr.command,
			  VFIO_USER_DEVICE_GET_REGION_INFO);
	ck_assert_uint_eq(log_u32(1, 0), 32);
	ck_assert_uint_eq(log_u32(2, 0), 64);

	nfds = ARRAY_SIZE(fds);
	caps_len = sizeof(caps);
	ck_assert_int_eq(client_region_info(&C, 7, &info, caps, &caps_len, fds,
					    &nfds, NULL),
			 0);
	ck_assert_uint_eq(info.size, 256);
	ck_assert_uint_eq(nfds, 0);
	ck_assert_int_eq(
		client_region_info(&C, 9, &info, NULL, NULL, NULL, NULL, NULL),
		-EREMOTEIO);
	ck_assert_uint_eq(C.server_errno, EINVAL);

	nfds = ARRAY_SIZE(fds);
	ck_assert_int_eq(
		client_region_io_fds(&C, 0, subs, &nsubs, fds, &nfds, NULL), 0);
	ck_assert_uint_eq(nsubs, 1);
	ck_assert_uint_eq(subs[0].offset, 0x200);
	ck_assert_uint_eq(nfds, 1);
	ck_assert_int_eq(fdzoo_kind_of(fds[0]), FDZOO_EVENTFD);
	close_fd(&fds[0]);
	stop();
}
END_TEST

START_TEST(set_irqs_batched_by_max_msg_fds)
{
	static const struct client_bend asis;
	int efd[3], i;
	unsigned int n;
	const uint32_t flags =
		VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER;

	start(FAKE_OK, 1000);
	F.max_msg_fds = 1;
	ck_assert_int_eq(client_version(&C, NULL, NULL), 0);
	for (i = 0; i < 3; i++)
		efd[i] = eventfd(0, EFD_CLOEXEC);
	ck_assert_int_eq(client_set_irqs(&C, flags, VFIO_PCI_MSIX_IRQ_INDEX, 0,
					 3, NULL, efd, 3, NULL),
			 0);
	ck_assert_uint_eq(fake_log_count(&F), 4);
	for (i = 0; i < 3; i++) {
		ck_assert_uint_eq(log_u32(1 + i, 12), i); /* start */
		ck_assert_uint_eq(log_u32(1 + i, 16), 1); /* count */
		ck_assert_uint_eq(logged(1 + i)->nfds, 1);
		ck_assert_int_eq(logged(1 + i)->kinds[0], FDZOO_EVENTFD);
	}
	/* A bend (even an empty one) sends exactly what it is told. */
	n = fake_log_count(&F);
	ck_assert_int_eq(client_set_irqs(&C, flags, VFIO_PCI_MSIX_IRQ_INDEX, 0,
					 3, NULL, efd, 3, &asis),
			 0);
	ck_assert_uint_eq(fake_log_count(&F), n + 1);
	ck_assert_uint_eq(logged(n)->nfds, 3);
	close_fds(efd, 3);
	stop();
}
END_TEST

START_TEST(regions_reset_features_migration)
{
	struct vfio_user_write_multi_data wr[2] = {
		{ .offset = 0x20, .region = 7, .count = 4, .data = { 9, 9 } },
		{ .offset = 0x24, .region = 7, .count = 2, .data = { 7 } },
	};
	struct vfio_user_device_feature_dma_logging_range range = { 0x100000,
								    0x10000 };
	uint8_t in[8] = { 1, 2, 3, 4, 5, 6, 7, 8 }, out[256], bm[8];
	uint64_t flags = 0;
	uint32_t state = 0;
	int i;

	start(FAKE_OK, 1000);
	ck_assert_int_eq(client_version(&C, NULL, NULL), 0);
	ck_assert_int_eq(client_region_write(&C, 7, 0x10, in, 8, NULL), 0);
	ck_assert_int_eq(client_region_read(&C, 7, 0x10, out, 8, NULL), 8);
	ck_assert_mem_eq(in, out, 8);
	ck_assert_int_eq(
		client_region_read(&C, 7, 0x10, out,
				   VFIO_USER_DEFAULT_MAX_DATA_XFER_SIZE + 1,
				   NULL),
		-EMSGSIZE);
	ck_assert_int_eq(client_region_write_multi(&C, wr, 2, NULL), 2);
	ck_assert_int_eq(client_reset(&C, NULL), 0);

	ck_assert_int_eq(client_migration_flags(&C, &flags, NULL), 0);
	ck_assert(flags & VFIO_MIGRATION_STOP_COPY);
	ck_assert_int_eq(client_mig_state(&C, VFIO_DEVICE_STATE_STOP, NULL), 0);
	ck_assert_int_eq(client_mig_state_get(&C, &state, NULL), 0);
	ck_assert_uint_eq(state, VFIO_DEVICE_STATE_STOP);
	ck_assert_int_eq(client_dirty_start(&C, 4096, &range, 1, NULL), 0);
	ck_assert_msg(client_dirty_report(&C, 0x100000, 0x10000, 4096, bm,
					  sizeof(bm), NULL) == 0,
		      "%s", client_error(&C));
	ck_assert_uint_eq(bm[0], 0x01);
	ck_assert_int_eq(client_dirty_stop(&C, NULL), 0);
	ck_assert_int_eq(client_mig_data_read(&C, out, 64, NULL), 64);
	ck_assert_int_eq(client_mig_data_read(&C, out, 200, NULL), 100);
	for (i = 0; i < 100; i++)
		ck_assert_uint_eq(out[i], i);
	ck_assert_msg(client_mig_data_write(&C, in, 8, NULL) == 0, "%s",
		      client_error(&C));

	/* legacy dirty bitmap on DMA_UNMAP */
	ck_assert_int_eq(gmem_add_memfd(&G, 0x100000, 0x10000, NULL), 0);
	map_msg(0x100000, 0x10000, RW);
	memset(bm, 0, sizeof(bm));
	ck_assert_int_eq(client_dma_unmap(&C, 0x100000, 0x10000,
					  VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP,
					  4096, bm, 2, NULL),
			 0);
	ck_assert_uint_eq(bm[0], 0xff);
	ck_assert_uint_eq(bm[1], 0xff);
	ck_assert_uint_eq(bm[2], 0);
	ck_assert_uint_eq(C.ndma, 0);
	stop();
}
END_TEST

static int get_info_msg(struct vfio_user_msg *m, uint8_t *buf, size_t cap)
{
	return vfio_user_build_device_get_info(m, buf, cap, 0, 0);
}

START_TEST(pipelining_and_id_reuse)
{
	struct client_bend same = { .set = CLIENT_BEND_MSG_ID, .msg_id = 42 };
	struct client_reply r;
	struct vfio_user_msg m, q;
	uint8_t buf[64], qbuf[64];
	int a, b, c3;

	start(FAKE_OK, 1000);
	ck_assert_int_eq(client_version(&C, NULL, NULL), 0);
	get_info_msg(&m, buf, sizeof(buf));
	vfio_user_build_irq_info(&q, qbuf, sizeof(qbuf), 0, 0, 2);
	a = client_send(&C, &m, NULL);
	b = client_send(&C, &q, NULL);
	c3 = client_send(&C, &m, NULL);
	ck_assert_int_gt(a, 0);
	ck_assert_int_ne(a, b);
	ck_assert_int_ne(b, c3);
	ck_assert_uint_eq(C.npending, 3);
	/* the youngest first: the older replies are kept for their waiters */
	ck_assert_int_eq(client_wait(&C, c3, &r, 0), VFIO_USER_REPLY_OK);
	ck_assert_uint_eq(r.msg.hdr.msg_id, c3);
	client_reply_free(&r);
	ck_assert_int_eq(client_wait(&C, b, &r, 0), VFIO_USER_REPLY_OK);
	ck_assert_uint_eq(r.msg.hdr.command, VFIO_USER_DEVICE_GET_IRQ_INFO);
	client_reply_free(&r);
	ck_assert_int_eq(client_wait(&C, a, NULL, 0), VFIO_USER_REPLY_OK);
	ck_assert_uint_eq(C.npending, 0);

	/* "may be reused, even concurrently" */
	ck_assert_int_eq(client_send(&C, &m, &same), 42);
	ck_assert_int_eq(client_send(&C, &q, &same), 42);
	ck_assert_int_eq(client_wait(&C, 42, &r, 0), VFIO_USER_REPLY_OK);
	ck_assert_uint_eq(r.msg.hdr.command, VFIO_USER_DEVICE_GET_INFO);
	client_reply_free(&r);
	ck_assert_int_eq(client_wait(&C, 42, &r, 0), VFIO_USER_REPLY_OK);
	ck_assert_uint_eq(r.msg.hdr.command, VFIO_USER_DEVICE_GET_IRQ_INFO);
	client_reply_free(&r);
	ck_assert_int_eq(client_wait(&C, 42, &r, 0), -ENOENT);
	client_reply_free(&r);
	stop();
}
END_TEST

/* ------------------------------------------------------------------ */
/* Bending, checked on the bytes the server got                        */
/* ------------------------------------------------------------------ */

START_TEST(bend_header_fields)
{
	struct client_bend b = {
		.set = CLIENT_BEND_MSG_ID | CLIENT_BEND_COMMAND |
		       CLIENT_BEND_MSG_SIZE | CLIENT_BEND_FLAGS |
		       CLIENT_BEND_ERROR,
		.msg_id = 7,
		.command = 99,
		.msg_size = 1000,
		.flags = VFIO_USER_F_ERROR | VFIO_USER_F_TYPE_REPLY,
		.error = 5,
		.no_wait = true,
	};
	struct vfio_user_hdr h;
	struct vfio_user_device_info info;

	start(FAKE_RAW, 1000);
	ck_assert_msg(client_get_info(&C, &info, &b) == 7, "%s",
		      client_error(&C));
	ck_assert_uint_eq(fake_wait_raw(&F, 32, 1000), 32);
	memcpy(&h, F.raw, sizeof(h));
	ck_assert_uint_eq(h.msg_id, 7);
	ck_assert_uint_eq(h.command, 99);
	ck_assert_uint_eq(h.msg_size, 1000);
	ck_assert_uint_eq(h.flags, VFIO_USER_F_ERROR | VFIO_USER_F_TYPE_REPLY);
	ck_assert_uint_eq(h.error, 5);
	ck_assert_uint_eq(F.raw[16], 16); /* the payload (argsz) as built */
	stop();
}
END_TEST

START_TEST(bend_payload_len_and_patch)
{
	static const uint8_t patch[4] = { 0xde, 0xad, 0xbe, 0xef };
	struct client_bend b = {
		.set = CLIENT_BEND_PAYLOAD_LEN,
		.payload_len = 4,
		.patch_off = 8,
		.patch = patch,
		.patch_len = sizeof(patch),
		.no_wait = true,
	};
	static const uint8_t want[12] = { 16, 0, 0,    0,    0,	   0,
					  0,  0, 0xde, 0xad, 0xbe, 0xef };
	struct vfio_user_hdr h;
	struct vfio_user_device_info info;

	start(FAKE_RAW, 1000);
	ck_assert_int_ge(client_get_info(&C, &info, &b), 1);
	ck_assert_uint_eq(fake_wait_raw(&F, 28, 1000), 28);
	memcpy(&h, F.raw, sizeof(h));
	ck_assert_uint_eq(h.msg_size, 28);
	ck_assert_mem_eq(F.raw + 16, want, sizeof(want));
	stop();
}
END_TEST

START_TEST(bend_fds_zoo_and_chunks)
{
	struct client_bend b = {
		.set = CLIENT_BEND_ZOO,
		.zoo = { FDZOO_DEV_NULL, FDZOO_PIPE_WRITE },
		.nzoo = 2,
		.cuts = { 16, 24 },
		.ncuts = 2,
		.fds_chunk = 1,
		.delay_ms = 50,
		.no_wait = true,
	};
	struct vfio_user_device_info info;
	int efd;

	start(FAKE_RAW, 1000);
	efd = eventfd(0, EFD_CLOEXEC);
	ck_assert_int_ge(client_get_info(&C, &info, &b), 1);
	ck_assert_uint_eq(fake_wait_raw(&F, 32, 1000), 32);
	ck_assert_uint_eq(F.nreads, 3);
	ck_assert_uint_eq(F.reads[0], 16);
	ck_assert_uint_eq(F.reads[1], 8);
	ck_assert_uint_eq(F.reads[2], 8);
	ck_assert_int_eq(F.read_with_fds, 1);
	ck_assert_uint_eq(F.log[0].nfds, 2);
	ck_assert_int_eq(F.log[0].kinds[0], FDZOO_DEV_NULL);
	ck_assert_int_eq(F.log[0].kinds[1], FDZOO_PIPE_WRITE);
	ck_assert_uint_eq(tr.last_nchunks, 2);
	ck_assert_uint_eq(tr.last_fds_chunk, 1);
	ck_assert_uint_eq(tr.with_fds_text, 1);

	/* fds of the caller's instead of the message's */
	b = (struct client_bend){
		.set = CLIENT_BEND_FDS, .fds = &efd, .nfds = 1, .no_wait = true
	};
	ck_assert_int_ge(client_get_info(&C, &info, &b), 1);
	ck_assert_uint_eq(fake_wait_raw(&F, 64, 1000), 64);
	ck_assert_uint_eq(F.log[1].nfds, 1);
	ck_assert_int_eq(F.log[1].kinds[0], FDZOO_EVENTFD);

	/* a cut outside the message is refused before anything leaves */
	b = (struct client_bend){ .cuts = { 40 }, .ncuts = 1 };
	ck_assert_int_eq(client_get_info(&C, &info, &b), -EINVAL);
	ck_assert_uint_eq(fake_wait_raw(&F, 65, 50), 64);
	close_fd(&efd);
	stop();
}
END_TEST

START_TEST(bend_steps)
{
	struct client_bend skip = { .skip = true };
	struct client_bend twice = { .repeat = 1 };
	struct client_bend later = { .no_wait = true };
	struct client_bend posted = { .set = CLIENT_BEND_FLAGS,
				      .flags = VFIO_USER_F_NO_REPLY };
	struct vfio_user_device_info info;
	struct client_reply r;
	uint8_t v[4] = { 1, 2, 3, 4 };
	unsigned int n;
	int id;

	start(FAKE_OK, 1000);
	ck_assert_int_eq(client_version(&C, NULL, NULL), 0);
	n = fake_log_count(&F);
	ck_assert_int_eq(client_get_info(&C, &info, &skip), 0);
	ck_assert_uint_ge(tr.dir[FE_TRACE_NOTE], 1);

	/* the same map twice: the second overlaps (EEXIST) */
	ck_assert_int_eq(gmem_add_memfd(&G, 0x100000, 0x10000, NULL), 0);
	ck_assert_int_eq(client_dma_map(&C, 0x100000, 0x1000,
					VFIO_USER_DMA_ACCESS_MSG, RW, &twice),
			 -EREMOTEIO);
	ck_assert_uint_eq(C.server_errno, EEXIST);
	ck_assert_uint_eq(fake_log_count(&F), n + 2);
	ck_assert_uint_eq(logged(n)->hdr.msg_id, logged(n + 1)->hdr.msg_id);

	id = client_get_info(&C, &info, &later);
	ck_assert_int_gt(id, 0);
	ck_assert_int_eq(client_wait(&C, id, &r, 0), VFIO_USER_REPLY_OK);
	client_reply_free(&r);

	/* a posted write: not waited for, and no reply comes */
	ck_assert_int_eq(client_region_write(&C, 7, 0, v, 4, &posted), 0);
	ck_assert_uint_eq(C.npending, 0);
	ck_assert_int_eq(client_get_info(&C, &info, NULL), 0);
	ck_assert_uint_eq(C.stats.stray_replies, 0);
	stop();
}
END_TEST

START_TEST(send_raw_and_recv_any)
{
	uint8_t two[64], bad[16];
	struct vfio_user_msg m;
	struct vfio_user_hdr h = { 300, 99, 16, 0, 0 };
	struct client_reply r;
	int len;

	start(FAKE_OK, 1000);
	len = vfio_user_build_device_get_info(&m, two, sizeof(two), 100, 0);
	vfio_user_build_device_get_info(&m, two + len, sizeof(two) - len, 101,
					0);
	/* two messages in one write */
	ck_assert_int_eq(
		client_send_raw(&C, two, 2 * (size_t)len, NULL, 0, NULL),
		2 * len);
	ck_assert_uint_eq(C.npending, 2);
	ck_assert_int_eq(client_wait(&C, 100, NULL, 0), VFIO_USER_REPLY_OK);
	ck_assert_int_eq(client_wait(&C, 101, NULL, 0), VFIO_USER_REPLY_OK);

	memcpy(bad, &h, sizeof(h));
	ck_assert_int_eq(client_send_raw(&C, bad, sizeof(bad), NULL, 0, NULL),
			 16);
	ck_assert_int_eq(client_recv_any(&C, &r, 0), 16);
	ck_assert(r.msg.hdr.flags & VFIO_USER_F_ERROR);
	ck_assert_uint_eq(r.msg.hdr.msg_id, 300);
	ck_assert_uint_eq(C.npending, 0);
	client_reply_free(&r);
	stop();
}
END_TEST

/* ------------------------------------------------------------------ */
/* A hostile server                                                    */
/* ------------------------------------------------------------------ */

static int64_t t0;

static void quick(int max_ms)
{
	ck_assert_int_lt((chan_now() - t0) / 1000000, max_ms);
}

START_TEST(hostile_wrong_id)
{
	struct vfio_user_device_info info;

	start(FAKE_WRONG_ID, 2000);
	t0 = chan_now();
	ck_assert_int_eq(client_get_info(&C, &info, NULL), -EPROTO);
	quick(1000);
	ck_assert_ptr_nonnull(strstr(client_error(&C), "no command waiting"));
	ck_assert_uint_eq(C.stats.stray_replies, 1);
	stop();
}
END_TEST

START_TEST(hostile_stray_reply)
{
	struct vfio_user_msg m;
	uint8_t buf[64];
	int id;

	start(FAKE_STRAY, 1000);
	get_info_msg(&m, buf, sizeof(buf));
	id = client_send(&C, &m, NULL);
	ck_assert_int_eq(client_wait(&C, id, NULL, 0), -EPROTO);
	ck_assert_ptr_nonnull(strstr(client_error(&C), "48879"));
	/* the command still waits, and its real reply comes */
	ck_assert_msg(client_wait(&C, id, NULL, 0) == VFIO_USER_REPLY_OK, "%s",
		      client_error(&C));
	stop();
}
END_TEST

START_TEST(hostile_oversize)
{
	struct vfio_user_device_info info;

	start(FAKE_OVERSIZE, 2000);
	t0 = chan_now();
	ck_assert_int_eq(client_get_info(&C, &info, NULL), -EMSGSIZE);
	ck_assert_int_eq(C.broken, -EMSGSIZE);
	ck_assert_ptr_nonnull(strstr(client_error(&C), "msg_size 268435456"));
	/* a broken session fails at once, nothing is sent */
	ck_assert_int_eq(client_get_info(&C, &info, NULL), -EMSGSIZE);
	quick(1000);
	ck_assert_uint_eq(fake_log_count(&F), 1);
	stop();
}
END_TEST

START_TEST(hostile_bogus_fds)
{
	struct vfio_user_device_info info;

	start(FAKE_BOGUS_FDS, 1000);
	ck_assert_int_eq(client_get_info(&C, &info, NULL), -EBADMSG);
	ck_assert_uint_eq(C.stats.fds_closed, 1);
	ck_assert_ptr_nonnull(strstr(client_error(&C), "DEVICE_GET_INFO"));
	stop(); /* asserts no fd is left open */
}
END_TEST

START_TEST(hostile_hangup_mid_reply)
{
	struct vfio_user_device_info info;

	start(FAKE_HANGUP_MID, 2000);
	t0 = chan_now();
	ck_assert_int_eq(client_get_info(&C, &info, NULL), -ECONNRESET);
	quick(1000);
	ck_assert_ptr_nonnull(strstr(client_error(&C), "after 20 bytes"));
	ck_assert_uint_ge(tr.dir[FE_TRACE_NOTE], 1);
	stop();
}
END_TEST

START_TEST(hostile_flood)
{
	struct client_opts o = { .timeout_ms = 2000, .max_server_reqs = 50 };
	struct vfio_user_device_info info;

	start_opts(FAKE_FLOOD, &o);
	ck_assert_int_eq(client_get_info(&C, &info, NULL), -EPROTO);
	ck_assert_ptr_nonnull(strstr(client_error(&C), "flood"));
	ck_assert_uint_eq(C.stats.dma_refused, 50); /* nothing mapped */
	stop();
}
END_TEST

START_TEST(hostile_silence)
{
	struct vfio_user_device_info info;

	start(FAKE_SILENT, 100);
	t0 = chan_now();
	ck_assert_int_eq(client_get_info(&C, &info, NULL), -ETIMEDOUT);
	quick(600);
	ck_assert_int_eq(C.broken, 0); /* nothing half-read */
	stop();
}
END_TEST

START_TEST(hostile_out_of_order)
{
	struct vfio_user_msg m;
	uint8_t buf[64];
	int a, b;

	start(FAKE_OUT_OF_ORDER, 1000);
	get_info_msg(&m, buf, sizeof(buf));
	a = client_send(&C, &m, NULL);
	b = client_send(&C, &m, NULL);
	ck_assert_int_eq(client_wait(&C, a, NULL, 0), -EPROTO);
	ck_assert_ptr_nonnull(strstr(client_error(&C), "order"));
	ck_assert_int_eq(client_wait(&C, a, NULL, 0), VFIO_USER_REPLY_OK);
	ck_assert_int_eq(client_wait(&C, b, NULL, 0), VFIO_USER_REPLY_OK);
	stop();
}
END_TEST

START_TEST(hostile_error_with_payload)
{
	struct vfio_user_region_info info;

	start(FAKE_ERROR_PAYLOAD, 1000);
	ck_assert_int_eq(
		client_region_info(&C, 99, &info, NULL, NULL, NULL, NULL, NULL),
		-EBADMSG);
	ck_assert_ptr_nonnull(strstr(client_error(&C), "only include"));
	stop();
}
END_TEST

START_TEST(hostile_server_command)
{
	struct vfio_user_device_info info;

	start(FAKE_SERVER_CMD, 1000);
	ck_assert_int_eq(client_get_info(&C, &info, NULL), 0);
	ck_assert_uint_eq(F.client_err, EINVAL);
	ck_assert_uint_eq(C.stats.server_bad, 1);
	stop();
}
END_TEST

START_TEST(hostile_twin_not_socket)
{
	struct vfio_user_caps caps;

	start(FAKE_TWIN_NOT_SOCKET, 1000);
	twin_caps(&caps);
	ck_assert_int_eq(client_version(&C, &caps, NULL), -EBADMSG);
	ck_assert_int_eq(C.twin_fd, -1);
	ck_assert(!C.negotiated);
	stop();
}
END_TEST

static Suite *client_suite(void)
{
	Suite *s = suite_create("client");
	TCase *t = tcase_create("correct");
	TCase *b = tcase_create("bend");
	TCase *h = tcase_create("hostile");

	tcase_add_test(t, version_and_info);
	tcase_add_test(t, dma_map_three_modes);
	tcase_add_loop_test(t, serve_dma_message_mode, 0, 2);
	tcase_add_test(t, serve_dma_refusals);
	tcase_add_test(t, serve_dma_policies);
	tcase_add_test(t, region_info_argsz_retry_and_io_fds);
	tcase_add_test(t, set_irqs_batched_by_max_msg_fds);
	tcase_add_test(t, regions_reset_features_migration);
	tcase_add_test(t, pipelining_and_id_reuse);
	suite_add_tcase(s, t);

	tcase_add_test(b, bend_header_fields);
	tcase_add_test(b, bend_payload_len_and_patch);
	tcase_add_test(b, bend_fds_zoo_and_chunks);
	tcase_add_test(b, bend_steps);
	tcase_add_test(b, send_raw_and_recv_any);
	suite_add_tcase(s, b);

	tcase_add_test(h, hostile_wrong_id);
	tcase_add_test(h, hostile_stray_reply);
	tcase_add_test(h, hostile_oversize);
	tcase_add_test(h, hostile_bogus_fds);
	tcase_add_test(h, hostile_hangup_mid_reply);
	tcase_add_test(h, hostile_flood);
	tcase_add_test(h, hostile_silence);
	tcase_add_test(h, hostile_out_of_order);
	tcase_add_test(h, hostile_error_with_payload);
	tcase_add_test(h, hostile_server_command);
	tcase_add_test(h, hostile_twin_not_socket);
	suite_add_tcase(s, h);
	return s;
}

int main(void)
{
	return run_suite(client_suite());
}
