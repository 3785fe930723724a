// SPDX-License-Identifier: MIT
/*
 * tclient.c - the tests' vfio-user client.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/util.h"
#include "fe/frame.h"
#include "transport/chan.h"
#include "wire/vfio_user_caps.h"
#include "device.h"
#include "tclient.h"

#define BUFSZ FRAME_VFIO_MAX

int tc_init(struct tc *c, int fd, size_t mem_len, uint64_t mem_iova)
{
	memset(c, 0, sizeof(*c));
	c->fd = fd;
	c->twin = -1;
	c->mem_fd = -1;
	c->id = 1;
	c->rx = malloc(BUFSZ);
	c->tx = malloc(BUFSZ);
	c->aux = malloc(BUFSZ);
	if (!c->rx || !c->tx || !c->aux)
		goto err;
	c->mem_len = mem_len;
	c->mem_iova = mem_iova;
	if (mem_len) {
		c->mem_fd = memfd_create("tclient-mem", MFD_CLOEXEC);
		if (c->mem_fd < 0 || ftruncate(c->mem_fd, (off_t)mem_len) < 0)
			goto err;
		c->mem = mmap(NULL, mem_len, PROT_READ | PROT_WRITE, MAP_SHARED,
			      c->mem_fd, 0);
		if (c->mem == MAP_FAILED) {
			c->mem = NULL;
			goto err;
		}
	}
	return 0;

err:
	tc_fini(c);
	return -ENOMEM;
}

void tc_fini(struct tc *c)
{
	if (c->mem)
		munmap(c->mem, c->mem_len);
	c->mem = NULL;
	close_fd(&c->mem_fd);
	close_fd(&c->twin);
	close_fd(&c->fd);
	free(c->rx);
	free(c->tx);
	free(c->aux);
	c->rx = c->tx = c->aux = NULL;
}

uint16_t tc_next_id(struct tc *c)
{
	return c->id++;
}

int tc_send(struct tc *c, const struct vfio_user_msg *m)
{
	return frame_vfio_send(c->fd, m, FRAME_WHOLE, chan_deadline(5000));
}

int tc_errno(const struct vfio_user_msg *rep)
{
	if (!(rep->hdr.flags & VFIO_USER_F_ERROR))
		return 0;
	return rep->hdr.error ? (int)rep->hdr.error : EIO;
}

/* Answer a DMA_READ / DMA_WRITE from the guest memory. */
static void serve_dma(struct tc *c, int fd, const struct vfio_user_msg *m)
{
	struct vfio_user_dma_region_access a;
	struct vfio_user_msg rep;
	const uint8_t *data = NULL;
	int err = 0, ret;
	uint64_t off = 0;

	if (vfio_user_get_dma_access(m, &a, &data, NULL) < 0)
		err = EINVAL;
	else if (c->dma_error)
		err = c->dma_error;
	else if (a.addr < c->mem_iova || a.addr - c->mem_iova > c->mem_len ||
		 a.count > c->mem_len - (a.addr - c->mem_iova))
		err = EFAULT;
	else
		off = a.addr - c->mem_iova;
	if (m->hdr.command == VFIO_USER_DMA_READ)
		c->dma_reads++;
	else
		c->dma_writes++;
	if (fd == c->fd)
		c->dma_main++;
	if (err)
		ret = vfio_user_build_error_reply(&rep, c->aux, BUFSZ, &m->hdr,
						  (uint32_t)err);
	else if (m->hdr.command == VFIO_USER_DMA_READ)
		ret = vfio_user_build_dma_read_reply(&rep, c->aux, BUFSZ,
						     &m->hdr, a.addr,
						     c->mem + off, a.count);
	else {
		memcpy(c->mem + off, data, a.count);
		ret = vfio_user_build_dma_write_reply(
			&rep, c->aux, BUFSZ, &m->hdr, a.addr, a.count, false);
	}
	if (ret >= 0)
		frame_vfio_send(fd, &rep, FRAME_WHOLE, chan_deadline(5000));
}

int tc_recv(struct tc *c, struct vfio_user_msg *rep, int timeout_ms)
{
	int64_t deadline = chan_deadline(timeout_ms);
	struct vfio_user_msg m;
	int ret;

	for (;;) {
		struct pollfd p[2] = { { .fd = c->fd, .events = POLLIN },
				       { .fd = c->twin, .events = POLLIN } };
		int n = c->twin >= 0 ? 2 : 1, i;

		ret = poll(p, (nfds_t)n, chan_remaining_ms(deadline));
		if (ret < 0 && errno == EINTR)
			continue;
		if (ret < 0)
			return -errno;
		if (!ret)
			return -ETIMEDOUT;
		for (i = n - 1; i >= 0; i--) {
			if (!p[i].revents)
				continue;
			ret = frame_vfio_recv(p[i].fd, &m, i ? c->aux : c->rx,
					      BUFSZ, BUFSZ, chan_deadline(5000),
					      NULL, NULL);
			if (ret < 0) {
				if (i)
					return ret == -ECONNRESET ? -EPIPE
								  : ret;
				return ret;
			}
			if ((m.hdr.flags & VFIO_USER_F_TYPE_MASK) ==
				    VFIO_USER_F_TYPE_COMMAND &&
			    (m.hdr.command == VFIO_USER_DMA_READ ||
			     m.hdr.command == VFIO_USER_DMA_WRITE)) {
				/* serve from a copy: aux is the reply's */
				uint8_t *copy = malloc(m.payload_len + 1);

				if (!copy) {
					close_fds(m.fds, m.nfds);
					return -ENOMEM;
				}
				memcpy(copy, m.payload, m.payload_len);
				m.payload = copy;
				serve_dma(c, p[i].fd, &m);
				free(copy);
				close_fds(m.fds, m.nfds);
				continue;
			}
			if (i) {
				close_fds(m.fds, m.nfds);
				continue;
			}
			*rep = m;
			return ret;
		}
	}
}

int tc_call(struct tc *c, const struct vfio_user_msg *m,
	    struct vfio_user_msg *rep)
{
	int ret = tc_send(c, m);

	if (ret < 0)
		return ret;
	return tc_recv(c, rep, 5000);
}

int tc_version(struct tc *c, const char *json)
{
	struct vfio_user_caps caps;
	struct vfio_user_msg m, rep;
	uint8_t buf[1024];
	int ret;

	ret = vfio_user_build_version(&m, buf, sizeof(buf), tc_next_id(c), 0,
				      VFIO_USER_MINOR, json);
	if (ret < 0)
		return ret;
	ret = tc_call(c, &m, &rep);
	if (ret < 0)
		return ret;
	if (tc_errno(&rep)) {
		close_fds(rep.fds, rep.nfds);
		return -tc_errno(&rep);
	}
	ret = vfio_user_caps_from_version(&caps, &rep, NULL);
	if (ret < 0) {
		close_fds(rep.fds, rep.nfds);
		return ret;
	}
	if (caps.twin_socket_supported && rep.nfds == 1) {
		c->twin = rep.fds[0];
		rep.nfds = 0;
	}
	close_fds(rep.fds, rep.nfds);
	return 0;
}

/* Send @m, wait for the reply, return 0 / its errno / -errno. */
static int simple(struct tc *c, const struct vfio_user_msg *m)
{
	struct vfio_user_msg rep;
	int ret = tc_call(c, m, &rep);

	if (ret < 0)
		return ret;
	close_fds(rep.fds, rep.nfds);
	return tc_errno(&rep);
}

int tc_dma_map(struct tc *c, uint32_t flags, uint64_t offset, uint64_t addr,
	       uint64_t size, int fd)
{
	struct vfio_user_msg m;
	uint8_t buf[64];

	vfio_user_build_dma_map(&m, buf, sizeof(buf), tc_next_id(c), flags,
				offset, addr, size, fd);
	return simple(c, &m);
}

int tc_dma_unmap(struct tc *c, uint64_t addr, uint64_t size)
{
	struct vfio_user_msg m;
	uint8_t buf[64];

	vfio_user_build_dma_unmap(&m, buf, sizeof(buf), tc_next_id(c), 0, addr,
				  size, NULL);
	return simple(c, &m);
}

int tc_region_write(struct tc *c, uint32_t region, uint64_t offset,
		    const void *data, uint32_t count)
{
	struct vfio_user_msg m;

	vfio_user_build_region_write(&m, c->tx, BUFSZ, tc_next_id(c), region,
				     offset, data, count);
	return simple(c, &m);
}

int tc_region_read(struct tc *c, uint32_t region, uint64_t offset, void *data,
		   uint32_t count)
{
	struct vfio_user_region_access a;
	struct vfio_user_msg m, rep;
	const uint8_t *d = NULL;
	uint8_t buf[64];
	int ret;

	vfio_user_build_region_read(&m, buf, sizeof(buf), tc_next_id(c), region,
				    offset, count);
	ret = tc_call(c, &m, &rep);
	if (ret < 0)
		return ret;
	close_fds(rep.fds, rep.nfds);
	if (tc_errno(&rep))
		return tc_errno(&rep);
	if (vfio_user_get_region_access(&rep, &a, &d, NULL) < 0 ||
	    a.count != count)
		return EBADMSG;
	memcpy(data, d, count);
	return 0;
}

int tc_set_irqs(struct tc *c, uint32_t flags, uint32_t index, uint32_t start,
		uint32_t count, const uint8_t *bools, const int *fds,
		unsigned int nfds)
{
	struct vfio_user_msg m;
	uint8_t buf[256];
	int ret;

	ret = vfio_user_build_set_irqs(&m, buf, sizeof(buf), tc_next_id(c),
				       flags, index, start, count, bools, fds,
				       nfds);
	if (ret < 0)
		return ret;
	return simple(c, &m);
}

int tc_mig_state(struct tc *c, uint32_t state)
{
	struct vfio_user_msg m;
	uint8_t buf[64];

	vfio_user_build_mig_state_set(&m, buf, sizeof(buf), tc_next_id(c),
				      state);
	return simple(c, &m);
}

int tc_get_mig_state(struct tc *c, uint32_t *state)
{
	struct vfio_user_device_feature_mig_state st;
	struct vfio_user_msg m, rep;
	uint8_t buf[64];
	int ret;

	vfio_user_build_device_feature(
		&m, buf, sizeof(buf), tc_next_id(c), 0,
		VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE,
		NULL, 0);
	ret = tc_call(c, &m, &rep);
	if (ret < 0)
		return ret;
	close_fds(rep.fds, rep.nfds);
	if (tc_errno(&rep))
		return tc_errno(&rep);
	if (vfio_user_get_mig_state(&rep, &st, NULL) < 0)
		return EBADMSG;
	*state = st.device_state;
	return 0;
}

int tc_reg32(struct tc *c, uint32_t reg, uint32_t *val)
{
	return tc_region_read(c, VFIO_PCI_BAR0_REGION_INDEX, reg, val, 4);
}

int tc_set_reg32(struct tc *c, uint32_t reg, uint32_t val)
{
	return tc_region_write(c, VFIO_PCI_BAR0_REGION_INDEX, reg, &val, 4);
}

int tc_set_reg64(struct tc *c, uint32_t reg, uint64_t val)
{
	return tc_region_write(c, VFIO_PCI_BAR0_REGION_INDEX, reg, &val, 8);
}

int tc_copy(struct tc *c, uint64_t src, uint64_t dst, uint32_t len,
	    uint32_t *result)
{
	int ret;

	ret = tc_set_reg64(c, DEV_REG_DMA_SRC, src);
	if (!ret)
		ret = tc_set_reg64(c, DEV_REG_DMA_DST, dst);
	if (!ret)
		ret = tc_set_reg32(c, DEV_REG_DMA_LEN, len);
	if (!ret)
		ret = tc_set_reg32(c, DEV_REG_DMA_CMD, DEV_DMA_CMD_START);
	if (!ret)
		ret = tc_reg32(c, DEV_REG_DMA_RESULT, result);
	return ret;
}

uint64_t tc_eventfd_count(int efd)
{
	struct pollfd p = { .fd = efd, .events = POLLIN };
	uint64_t v = 0;

	if (poll(&p, 1, 0) != 1 || read(efd, &v, sizeof(v)) != sizeof(v))
		return 0;
	return v;
}
