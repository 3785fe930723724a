// SPDX-License-Identifier: MIT
/*
 * fake_server.c - the misbehaving vfio-user server of the client's tests.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/util.h"
#include "fake_server.h"
#include "fe/frame.h"
#include "transport/chan.h"
#include "transport/sock.h"
#include "wire/vfio_user_caps.h"

#define BUF_CAP (VFIO_USER_DEFAULT_MAX_DATA_XFER_SIZE + 4096)
#define SEND_MS 1000

static uint8_t mig_blob[100];

static int send_msg(struct fake *f, int sock, struct vfio_user_msg *m)
{
	uint8_t *buf;
	size_t len = 16 + m->payload_len;
	int ret;

	if (f->mode == FAKE_WRONG_ID && sock == f->fd)
		m->hdr.msg_id ^= 0x5a5a;
	if (f->mode == FAKE_ERROR_PAYLOAD &&
	    (m->hdr.flags & VFIO_USER_F_ERROR)) {
		static const uint8_t junk[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };

		m->payload = junk;
		m->payload_len = sizeof(junk);
		m->hdr.msg_size = 16 + sizeof(junk);
		len = m->hdr.msg_size;
	}
	buf = malloc(len);
	if (!buf)
		return -ENOMEM;
	vfio_user_pack(buf, len, m);
	ret = chan_send_buf(sock, buf, len, m->fds, m->nfds,
			    chan_deadline(SEND_MS));
	free(buf);
	return ret;
}

static int reply_err(struct fake *f, const struct vfio_user_hdr *h,
		     uint32_t err)
{
	struct vfio_user_msg m;
	uint8_t buf[16];

	if (h->flags & VFIO_USER_F_NO_REPLY)
		return 0;
	vfio_user_build_error_reply(&m, buf, sizeof(buf), h, err);
	return send_msg(f, f->fd, &m);
}

/* The server's DMA: a request on the twin socket (or the main one), then
 * its reply, read right here. */
static void do_dma(struct fake *f, const struct fake_doorbell *db)
{
	int sock = f->twin >= 0 ? f->twin : f->fd;
	uint8_t *buf = malloc(BUF_CAP), pat[4096];
	struct vfio_user_msg m, r;
	uint32_t i, n = VUC_MIN(db->count, (uint32_t)sizeof(pat));
	int ret;

	if (!buf)
		return;
	for (i = 0; i < n; i++)
		pat[i] = (uint8_t)(0xa5 + i);
	f->dma_err = 0;
	if (db->op & FAKE_DMA_WRITE) {
		vfio_user_build_dma_write(&m, buf, BUF_CAP, 0x77, db->addr, pat,
					  n);
		send_msg(f, sock, &m);
		ret = frame_vfio_recv(sock, &r, buf, BUF_CAP, 0,
				      chan_deadline(300), NULL, NULL);
		if (ret < 0)
			f->dma_err = ret;
		else if (r.hdr.flags & VFIO_USER_F_ERROR)
			f->dma_err = (int)r.hdr.error;
		if (ret >= 0)
			close_fds(r.fds, r.nfds);
	}
	if ((db->op & FAKE_DMA_READ) && !f->dma_err) {
		const uint8_t *data = NULL;
		struct vfio_user_dma_region_access acc;

		vfio_user_build_dma_read(&m, buf, BUF_CAP, 0x78, db->addr, n);
		send_msg(f, sock, &m);
		ret = frame_vfio_recv(sock, &r, buf, BUF_CAP, 0,
				      chan_deadline(300), NULL, NULL);
		if (ret < 0) {
			f->dma_err = ret;
		} else if (r.hdr.flags & VFIO_USER_F_ERROR) {
			f->dma_err = (int)r.hdr.error;
		} else if (r.payload_len >= 16) {
			memcpy(&acc, r.payload, sizeof(acc));
			data = r.payload + 16;
			f->dma_read_count = acc.count;
			f->dma_read_data = r.payload_len - 16;
			f->dma_match =
				f->dma_read_data == n && !memcmp(data, pat, n);
		}
		if (ret >= 0)
			close_fds(r.fds, r.nfds);
	}
	free(buf);
}

static int do_version(struct fake *f, const struct vfio_user_msg *cmd)
{
	struct vfio_user_caps in, out;
	struct vfio_user_msg m;
	char json[512];
	uint8_t buf[600];
	int sv[2] = { -1, -1 }, fd = -1, ret;

	if (vfio_user_caps_from_version(&in, cmd, NULL) < 0)
		return reply_err(f, &cmd->hdr, EINVAL);
	vfio_user_caps_init(&out);
	out.present = VFIO_USER_CAP_OBJECT | VFIO_USER_CAP_MAX_MSG_FDS |
		      VFIO_USER_CAP_MAX_DATA_XFER_SIZE;
	out.max_msg_fds = f->max_msg_fds;
	out.max_data_xfer_size = VFIO_USER_DEFAULT_MAX_DATA_XFER_SIZE;
	if (in.write_multiple) {
		out.present |= VFIO_USER_CAP_WRITE_MULTIPLE;
		out.write_multiple = true;
	}
	if (in.twin_socket_supported && f->twin_ok) {
		out.present |= VFIO_USER_CAP_TWIN_SOCKET |
			       VFIO_USER_CAP_TWIN_SUPPORTED |
			       VFIO_USER_CAP_TWIN_FD_INDEX;
		out.twin_socket_supported = true;
		out.twin_socket_fd_index = 0;
		if (f->mode == FAKE_TWIN_NOT_SOCKET) {
			fd = eventfd(0, EFD_CLOEXEC);
		} else if (sock_pair(sv) == 0) {
			f->twin = sv[0];
			fd = sv[1];
		}
	}
	vfio_user_caps_to_json(&out, NULL, json, sizeof(json));
	vfio_user_build_version_reply(&m, buf, sizeof(buf), &cmd->hdr,
				      VFIO_USER_MAJOR, VFIO_USER_MINOR, json,
				      fd >= 0 ? &fd : NULL, fd >= 0);
	ret = send_msg(f, f->fd, &m);
	close_fd(&fd);
	return ret;
}

static bool overlaps(const struct fake *f, uint64_t addr, uint64_t size)
{
	unsigned int i;

	for (i = 0; i < f->nmaps; i++)
		if (addr < f->maps[i].addr + f->maps[i].size &&
		    f->maps[i].addr < addr + size)
			return true;
	return false;
}

static int do_feature(struct fake *f, const struct vfio_user_msg *cmd,
		      uint8_t *out, size_t cap)
{
	struct vfio_user_device_feature hd;
	const uint8_t *data;
	size_t dl;
	struct vfio_user_msg m;
	uint32_t idx;
	uint8_t tmp[4096 + 24];

	if (vfio_user_get_device_feature(cmd, &hd, &data, &dl, NULL) < 0)
		return reply_err(f, &cmd->hdr, EINVAL);
	idx = hd.flags & VFIO_DEVICE_FEATURE_MASK;
	if (hd.flags & (VFIO_DEVICE_FEATURE_PROBE | VFIO_DEVICE_FEATURE_SET)) {
		if (idx == VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE && dl >= 4)
			memcpy(&f->mig_state, data, 4);
		vfio_user_build_device_feature_reply(&m, out, cap, &cmd->hdr,
						     hd.flags, data, dl);
		return send_msg(f, f->fd, &m);
	}
	if (idx == VFIO_DEVICE_FEATURE_MIGRATION) {
		uint64_t fl =
			VFIO_MIGRATION_STOP_COPY | VFIO_MIGRATION_PRE_COPY;

		vfio_user_build_device_feature_reply(&m, out, cap, &cmd->hdr,
						     hd.flags, &fl, 8);
	} else if (idx == VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE) {
		struct vfio_user_device_feature_mig_state st = {
			.device_state = f->mig_state
		};

		vfio_user_build_device_feature_reply(&m, out, cap, &cmd->hdr,
						     hd.flags, &st, sizeof(st));
	} else if (idx == VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT && dl >= 24) {
		struct vfio_user_device_feature_dma_logging_report rep;
		uint64_t n;

		memcpy(&rep, data, sizeof(rep));
		n = vfio_user_dirty_bitmap_size(rep.length, rep.page_size);
		if (n > 4096)
			return reply_err(f, &cmd->hdr, EINVAL);
		memcpy(tmp, &rep, 24);
		memset(tmp + 24, 0, n);
		if (n)
			tmp[24] = 0x01; /* page 0 dirty */
		vfio_user_build_device_feature_reply(&m, out, cap, &cmd->hdr,
						     hd.flags, tmp, 24 + n);
	} else {
		return reply_err(f, &cmd->hdr, EINVAL);
	}
	return send_msg(f, f->fd, &m);
}

static int handle(struct fake *f, struct vfio_user_msg *cmd, uint8_t *out,
		  size_t cap)
{
	const struct vfio_user_hdr *h = &cmd->hdr;
	struct vfio_user_msg m;
	const uint8_t *data = NULL;
	int ret = 0;

	vfio_user_msg_init(&m);
	switch (h->command) {
	case VFIO_USER_VERSION:
		return do_version(f, cmd);
	case VFIO_USER_DMA_MAP: {
		struct vfio_user_dma_map d;

		if (vfio_user_get_dma_map(cmd, &d, NULL) < 0 ||
		    vfio_user_dma_map_access(d.flags, cmd->nfds, NULL) < 0)
			return reply_err(f, h, EINVAL);
		if (overlaps(f, d.addr, d.size))
			return reply_err(f, h, EEXIST);
		if (f->nmaps < ARRAY_SIZE(f->maps)) {
			f->maps[f->nmaps].addr = d.addr;
			f->maps[f->nmaps++].size = d.size;
		}
		vfio_user_build_reply(&m, out, cap, h, NULL, 0, NULL, 0);
		break;
	}
	case VFIO_USER_DMA_UNMAP: {
		struct vfio_user_dma_unmap u;
		struct vfio_user_bitmap bm;
		uint8_t bits[64];
		unsigned int i;
		int has;

		has = vfio_user_get_dma_unmap(cmd, &u, &bm, NULL, NULL);
		if (has < 0)
			return reply_err(f, h, EINVAL);
		for (i = 0; i < f->nmaps; i++)
			if (f->maps[i].addr == u.addr &&
			    f->maps[i].size == u.size)
				break;
		if (i == f->nmaps)
			return reply_err(f, h, ENOENT);
		f->maps[i] = f->maps[--f->nmaps];
		memset(bits, 0xff, sizeof(bits));
		if (has && bm.size > sizeof(bits))
			return reply_err(f, h, EINVAL);
		vfio_user_build_dma_unmap_reply(&m, out, cap, h, &u,
						has ? &bm : NULL, bits);
		break;
	}
	case VFIO_USER_DEVICE_GET_INFO:
		vfio_user_build_device_info_reply(
			&m, out, cap, h,
			VFIO_DEVICE_FLAGS_RESET | VFIO_DEVICE_FLAGS_PCI, 9, 5);
		break;
	case VFIO_USER_DEVICE_GET_REGION_INFO: {
		struct vfio_user_region_info ri, q;
		struct {
			struct vfio_user_region_info_cap_sparse_mmap s;
			struct vfio_user_region_sparse_mmap_area a;
		} caps = {
			.s = { .header = { VFIO_REGION_INFO_CAP_SPARSE_MMAP, 1,
					   0 },
			       .nr_areas = 1 },
			.a = { 0, 4096 },
		};

		if (vfio_user_get_region_info(cmd, &q, NULL) < 0 ||
		    q.index >= 9)
			return reply_err(f, h, EINVAL);
		memset(&ri, 0, sizeof(ri));
		ri.index = q.index;
		if (q.index == 0) {
			ri.flags = VFIO_REGION_INFO_FLAG_READ |
				   VFIO_REGION_INFO_FLAG_WRITE |
				   VFIO_REGION_INFO_FLAG_MMAP |
				   VFIO_REGION_INFO_FLAG_CAPS;
			ri.size = sizeof(f->bar0);
			vfio_user_build_region_info_reply(
				&m, out, cap, h, q.argsz, &ri, &caps,
				sizeof(caps), f->bar0_fd);
		} else {
			if (q.index == VFIO_PCI_CONFIG_REGION_INDEX) {
				ri.flags = VFIO_REGION_INFO_FLAG_READ |
					   VFIO_REGION_INFO_FLAG_WRITE;
				ri.size = sizeof(f->cfg);
			}
			vfio_user_build_region_info_reply(
				&m, out, cap, h, q.argsz, &ri, NULL, 0, -1);
		}
		break;
	}
	case VFIO_USER_DEVICE_GET_REGION_IO_FDS: {
		struct vfio_user_region_io_fds q;
		struct vfio_user_sub_region_io_fd sub = { .offset = 0x200,
							  .size = 4 };
		int efd = -1;

		if (vfio_user_get_region_io_fds(cmd, &q, NULL) < 0 ||
		    q.index != 0)
			return reply_err(f, h, EINVAL);
		efd = eventfd(0, EFD_CLOEXEC);
		vfio_user_build_region_io_fds_reply(&m, out, cap, h, q.argsz, 0,
						    &sub, 1, &efd, 1);
		ret = send_msg(f, f->fd, &m);
		close_fd(&efd);
		return ret;
	}
	case VFIO_USER_DEVICE_GET_IRQ_INFO: {
		static const uint32_t counts[5] = { 1, 1, 8, 1, 1 };
		struct vfio_user_irq_info q;

		if (vfio_user_get_irq_info(cmd, &q, NULL) < 0 || q.index >= 5)
			return reply_err(f, h, EINVAL);
		vfio_user_build_irq_info_reply(&m, out, cap, h,
					       VFIO_IRQ_INFO_EVENTFD, q.index,
					       counts[q.index]);
		break;
	}
	case VFIO_USER_DEVICE_SET_IRQS:
	case VFIO_USER_DEVICE_RESET:
		if (vfio_user_check_command(cmd, VFIO_USER_CLIENT_TO_SERVER, 0,
					    NULL) < 0)
			return reply_err(f, h, EINVAL);
		vfio_user_build_reply(&m, out, cap, h, NULL, 0, NULL, 0);
		break;
	case VFIO_USER_REGION_READ:
	case VFIO_USER_REGION_WRITE: {
		struct vfio_user_region_access a;
		uint8_t *mem;
		size_t size;

		if (vfio_user_get_region_access(cmd, &a, &data, NULL) < 0)
			return reply_err(f, h, EINVAL);
		mem = a.region == 0 ? f->bar0 : a.region == 7 ? f->cfg : NULL;
		size = a.region == 0 ? sizeof(f->bar0) : sizeof(f->cfg);
		if (!mem || a.offset > size || a.count > size - a.offset)
			return reply_err(f, h, EINVAL);
		if (h->command == VFIO_USER_REGION_READ) {
			vfio_user_build_region_read_reply(
				&m, out, cap, h, a.region, a.offset,
				mem + a.offset, a.count);
			break;
		}
		memcpy(mem + a.offset, data, a.count);
		if (a.region == 0 && a.offset == FAKE_DOORBELL &&
		    a.count == sizeof(struct fake_doorbell)) {
			struct fake_doorbell db;

			memcpy(&db, data, sizeof(db));
			do_dma(f, &db);
		}
		if (h->flags & VFIO_USER_F_NO_REPLY)
			return 0;
		vfio_user_build_region_write_reply(&m, out, cap, h, a.region,
						   a.offset, a.count);
		break;
	}
	case VFIO_USER_REGION_WRITE_MULTI: {
		uint64_t n;

		if (vfio_user_get_write_multi(cmd, &n, NULL) < 0)
			return reply_err(f, h, EINVAL);
		vfio_user_build_write_multi_reply(&m, out, cap, h, n);
		break;
	}
	case VFIO_USER_DEVICE_FEATURE:
		return do_feature(f, cmd, out, cap);
	case VFIO_USER_MIG_DATA_READ: {
		struct vfio_user_mig_data md;

		if (vfio_user_get_mig_data(cmd, &md, NULL, NULL) < 0)
			return reply_err(f, h, EINVAL);
		vfio_user_build_mig_data_read_reply(
			&m, out, cap, h, mig_blob,
			VUC_MIN(md.size, (uint32_t)sizeof(mig_blob)));
		break;
	}
	case VFIO_USER_MIG_DATA_WRITE:
		vfio_user_build_reply(&m, out, cap, h, NULL, 0, NULL, 0);
		break;
	default:
		return reply_err(f, h, ENOTSUP);
	}
	if (h->flags & VFIO_USER_F_NO_REPLY)
		return 0;
	return send_msg(f, f->fd, &m);
}

/* The misbehaviours around a correct reply. */
static int misbehave_before(struct fake *f, const struct vfio_user_msg *cmd,
			    uint8_t *out, size_t cap)
{
	struct vfio_user_msg m;
	unsigned int i;

	switch (f->mode) {
	case FAKE_STRAY:
		vfio_user_msg_init(&m);
		m.hdr = (struct vfio_user_hdr){ 0xbeef,
						VFIO_USER_DEVICE_GET_INFO, 16,
						VFIO_USER_F_TYPE_REPLY, 0 };
		return send_msg(f, f->fd, &m) < 0 ? -1 : 0;
	case FAKE_OVERSIZE:
		vfio_user_msg_init(&m);
		m.hdr = cmd->hdr;
		m.hdr.flags = VFIO_USER_F_TYPE_REPLY;
		m.hdr.msg_size = 256u << 20;
		send_msg(f, f->fd, &m);
		return 1;
	case FAKE_HANGUP_MID: {
		uint8_t half[20] = { 0 };

		memcpy(half, &cmd->hdr, 4);
		half[4] = 48; /* msg_size 48, 4 of 32 payload bytes sent */
		half[8] = VFIO_USER_F_TYPE_REPLY;
		chan_send_buf(f->fd, half, sizeof(half), NULL, 0,
			      chan_deadline(SEND_MS));
		return -1;
	}
	case FAKE_SILENT:
		return 1;
	case FAKE_FLOOD:
		for (i = 0; i < 200; i++) {
			vfio_user_build_dma_read(&m, out, cap, (uint16_t)i,
						 0x10000, 8);
			if (send_msg(f, f->fd, &m) < 0)
				return -1;
		}
		return 0;
	case FAKE_SERVER_CMD: {
		struct vfio_user_msg r;
		uint8_t buf[256];

		vfio_user_build_version(&m, out, cap, 9, 0, 0, NULL);
		m.hdr.flags = VFIO_USER_F_TYPE_COMMAND;
		send_msg(f, f->fd, &m);
		if (frame_vfio_recv(f->fd, &r, buf, sizeof(buf), 0,
				    chan_deadline(SEND_MS), NULL, NULL) >= 0) {
			f->client_err = r.hdr.flags & VFIO_USER_F_ERROR
						? r.hdr.error
						: 0;
			close_fds(r.fds, r.nfds);
		}
		return 0;
	}
	default:
		return 0;
	}
}

static void log_cmd(struct fake *f, const struct vfio_user_msg *m)
{
	struct fake_log *l;
	unsigned int i;

	pthread_mutex_lock(&f->lock);
	if (f->nlog < FAKE_LOG_MAX) {
		l = &f->log[f->nlog++];
		l->hdr = m->hdr;
		l->payload_len = m->payload_len;
		memcpy(l->payload, m->payload,
		       VUC_MIN(m->payload_len, sizeof(l->payload)));
		l->nfds = m->nfds;
		for (i = 0; i < m->nfds && i < ARRAY_SIZE(l->kinds); i++)
			l->kinds[i] = fdzoo_kind_of(m->fds[i]);
	}
	pthread_mutex_unlock(&f->lock);
}

static void raw_loop(struct fake *f)
{
	uint8_t buf[512];
	int fds[CHAN_MAX_FDS];
	unsigned int n;
	int ret;

	for (;;) {
		n = ARRAY_SIZE(fds);
		ret = chan_recv_some(f->fd, buf, sizeof(buf), fds, &n,
				     chan_deadline(5000), NULL);
		if (ret <= 0)
			return;
		pthread_mutex_lock(&f->lock);
		if (n && f->read_with_fds < 0)
			f->read_with_fds = (int)f->nreads;
		if (n && f->nlog < FAKE_LOG_MAX) {
			unsigned int i;

			f->log[f->nlog].nfds = n;
			for (i = 0; i < n && i < 4; i++)
				f->log[f->nlog].kinds[i] =
					fdzoo_kind_of(fds[i]);
			f->nlog++;
		}
		if (f->nreads < FAKE_READS_MAX)
			f->reads[f->nreads++] = (size_t)ret;
		memcpy(f->raw + f->nraw, buf,
		       VUC_MIN((size_t)ret, sizeof(f->raw) - f->nraw));
		f->nraw += VUC_MIN((size_t)ret, sizeof(f->raw) - f->nraw);
		pthread_mutex_unlock(&f->lock);
		close_fds(fds, n);
	}
}

static void *fake_main(void *arg)
{
	struct fake *f = arg;
	uint8_t *in = malloc(BUF_CAP), *out = malloc(BUF_CAP);
	struct vfio_user_msg m, held;
	uint8_t held_buf[256];
	unsigned int count = 0;
	int ret;

	vfio_user_msg_init(&held);
	if (!in || !out)
		goto out;
	if (f->mode == FAKE_RAW) {
		raw_loop(f);
		goto out;
	}
	for (;;) {
		ret = frame_vfio_recv(f->fd, &m, in, BUF_CAP, 0,
				      chan_deadline(5000), NULL, NULL);
		if (ret < 0)
			break;
		log_cmd(f, &m);
		count++;
		ret = 0;
		if (m.hdr.command != VFIO_USER_VERSION)
			ret = misbehave_before(f, &m, out, BUF_CAP);
		if (ret < 0) {
			close_fds(m.fds, m.nfds);
			break;
		}
		if (ret == 0 && f->mode == FAKE_BOGUS_FDS &&
		    m.hdr.command == VFIO_USER_DEVICE_GET_INFO) {
			struct vfio_user_msg r;
			int efd = eventfd(0, EFD_CLOEXEC);

			vfio_user_build_device_info_reply(&r, out, BUF_CAP,
							  &m.hdr, 0, 9, 5);
			vfio_user_msg_set_fds(&r, &efd, 1);
			send_msg(f, f->fd, &r);
			close_fd(&efd);
			ret = 1;
		}
		if (ret == 0 && f->mode == FAKE_OUT_OF_ORDER && count == 1) {
			/* Hold the first command: answer the second one
			 * first, then the first. */
			memcpy(held_buf, in,
			       VUC_MIN(m.hdr.msg_size, sizeof(held_buf)));
			vfio_user_parse(&held, held_buf, sizeof(held_buf), 0,
					NULL);
			f->held = 1;
			ret = 1;
		}
		if (ret == 0)
			handle(f, &m, out, BUF_CAP);
		if (f->held && count == 2) {
			handle(f, &held, out, BUF_CAP);
			f->held = 0;
		}
		close_fds(m.fds, m.nfds);
	}
out:
	close_fd(&f->fd);
	close_fd(&f->twin);
	free(in);
	free(out);
	return NULL;
}

int fake_start(struct fake *f, enum fake_mode mode)
{
	int sv[2], ret;
	unsigned int i;

	memset(f, 0, sizeof(*f));
	for (i = 0; i < sizeof(mig_blob); i++)
		mig_blob[i] = (uint8_t)i;
	f->mode = mode;
	f->twin = -1;
	f->read_with_fds = -1;
	f->max_msg_fds = 8;
	f->twin_ok = true;
	ret = sock_pair(sv);
	if (ret < 0)
		return ret;
	f->fd = sv[0];
	f->peer = sv[1];
	f->bar0_fd = memfd_create("bar0", MFD_CLOEXEC);
	if (f->bar0_fd < 0 || ftruncate(f->bar0_fd, sizeof(f->bar0)) < 0) {
		ret = -errno;
		goto err;
	}
	pthread_mutex_init(&f->lock, NULL);
	ret = -pthread_create(&f->th, NULL, fake_main, f);
	if (ret < 0) {
		pthread_mutex_destroy(&f->lock);
		goto err;
	}
	return 0;
err:
	close_fd(&f->bar0_fd);
	close_fds(sv, 2);
	return ret;
}

void fake_stop(struct fake *f)
{
	close_fd(&f->peer);
	pthread_join(f->th, NULL);
	pthread_mutex_destroy(&f->lock);
	close_fd(&f->bar0_fd);
}

unsigned int fake_log_count(struct fake *f)
{
	unsigned int n;

	pthread_mutex_lock(&f->lock);
	n = f->nlog;
	pthread_mutex_unlock(&f->lock);
	return n;
}

size_t fake_wait_raw(struct fake *f, size_t n, int ms)
{
	int64_t deadline = chan_deadline(ms);
	size_t got;

	for (;;) {
		pthread_mutex_lock(&f->lock);
		got = f->nraw;
		pthread_mutex_unlock(&f->lock);
		if (got >= n || chan_now() >= deadline)
			return got;
		chan_sleep_until(chan_now() + 2000000);
	}
}
