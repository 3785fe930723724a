// SPDX-License-Identifier: MIT
/*
 * vring.c - one virtqueue of the reference back-end: configuration, ring
 * states, kicks and calls, and the ring engine's device side.
 *
 * Spec: vhost-user.rst, "Ring states" (started / stopped, enabled /
 * disabled), "Support for platforms other than Linux" (kick and call fds
 * may be pipes: "reading or writing ... an 8-byte value"), "Migration"
 * (used ring logging), "Inflight I/O tracking".
 */
#include "vring.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend.h"
#include "bugs.h"
#include "common/util.h"

/* Reads per drain: a front-end that writes without pause cannot keep us. */
#define KICK_DRAIN_MAX 64

/* Inflight region layout (vhost-user.rst, "Inflight I/O tracking"). */
#define INFLIGHT_SPLIT_HDR 16
#define INFLIGHT_SPLIT_DESC 16
#define INFLIGHT_USED_IDX_OFF 14

void vring_init(struct vring *vq, unsigned int index)
{
	memset(vq, 0, sizeof(*vq));
	vq->index = index;
	vq->kick_fd = -1;
	vq->call_fd = -1;
	vq->err_fd = -1;
}

void vring_reset(struct vring *vq)
{
	close_fd(&vq->kick_fd);
	close_fd(&vq->call_fd);
	close_fd(&vq->err_fd);
	vring_init(vq, vq->index);
}

bool vring_runnable(const struct backend *be, const struct vring *vq)
{
	return vq->started && vq->ready && !vq->broken && be->mem->n;
}

uint32_t vring_get_base(const struct backend *be, const struct vring *vq)
{
	VUC_UNUSED const struct backend *unused = be;

	if (!vq->ready)
		return vq->base;
	if (vq->packed)
		return vq_packed_dev_get_base(&vq->q.packed);
	return vq_split_dev_get_base(&vq->q.split);
}

int vring_setup(struct backend *be, struct vring *vq, const char **why)
{
	bool packed = be->features & (UINT64_C(1) << VIRTIO_F_RING_PACKED);
	const struct vhost_user_vring_addr *a = &vq->addr;
	uint32_t base = vring_get_base(be, vq);
	struct vring tmp;
	int ret;

	if (!vq->addr_set || !vq->num || !be->mem->n) {
		vq->ready = false;
		return 0;
	}
	/* A layout change drops the old indices: they mean nothing now. */
	if (vq->ready && vq->packed != packed)
		base = vq->base;
	tmp = *vq;
	if (packed) {
		ret = vq_packed_dev_init_addr(&tmp.q.packed, be->mem, vq->num,
					      be->features, a->desc, a->avail,
					      a->used, true);
		if (!ret)
			ret = vq_packed_dev_set_base(&tmp.q.packed, base);
	} else {
		ret = vq_split_dev_init_addr(&tmp.q.split, be->mem, vq->num,
					     be->features, a->desc, a->avail,
					     a->used, true);
		if (!ret)
			ret = vq_split_dev_set_base(&tmp.q.split, base);
	}
	if (ret < 0) {
		vq->ready = false;
		if (why)
			*why = ret == -EFAULT ? "a ring part is not inside one "
						"memory region"
					      : "ring size, alignment or base "
						"refused";
		return ret;
	}
	vq->q = tmp.q;
	vq->packed = packed;
	vq->ready = true;
	return 0;
}

/*
 * write() that cannot raise SIGPIPE, whatever the process's disposition:
 * SIGPIPE is blocked around it and a pending one is consumed. A reader
 * that went away is then just -EPIPE.
 */
static ssize_t nosig_write(int fd, const void *buf, size_t len)
{
	sigset_t pipe_set, old;
	struct timespec zero = { 0, 0 };
	ssize_t n;
	int saved;

	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
	n = write(fd, buf, len);
	saved = errno;
	if (n < 0 && errno == EPIPE)
		sigtimedwait(&pipe_set, NULL, &zero);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	errno = saved;
	return n;
}

ssize_t vring_nosig_write(int fd, const void *buf, size_t len)
{
	return nosig_write(fd, buf, len);
}

/*
 * Signal an eventfd or a pipe write end without ever blocking: only if it
 * is writable now (8 bytes always fit then). A full pipe already holds a
 * pending notification, so skipping is a coalesced signal, not a lost one.
 */
static int signal_fd(int fd)
{
	uint64_t one = 1;
	struct pollfd p = { .fd = fd, .events = POLLOUT };
	ssize_t n;

	if (poll(&p, 1, 0) <= 0)
		return 0;
	if (p.revents & POLLNVAL)
		return -EBADF;
	n = nosig_write(fd, &one, sizeof(one));
	if (n < 0)
		return errno == EAGAIN ? 0 : -errno;
	return 0;
}

int vring_drain_kick(struct backend *be, struct vring *vq)
{
	uint8_t buf[4096];
	int seen = 0, i;

	if (vq->kick_fd < 0 || vq->kick_dead)
		return 0;
	/*
	 * Read until nothing is pending: a pipe holds one 8-byte write per
	 * kick, a packetized pipe gives one packet per read (a buffer of
	 * a page never cuts one), an eventfd gives its counter at once.
	 */
	for (i = 0; i < KICK_DRAIN_MAX; i++) {
		struct pollfd p = { .fd = vq->kick_fd, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, 0) <= 0)
			break;
		if (p.revents & POLLNVAL)
			goto dead;
		if (!(p.revents & (POLLIN | POLLHUP | POLLERR)))
			break;
		n = read(vq->kick_fd, buf, sizeof(buf));
		if (n > 0) {
			seen = 1;
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			break;
		goto dead;
	}
	return seen;

dead:
	/* EOF or an error: the front-end closed its end; poll no more. */
	backend_log(be,
		    "vring %u: kick fd gives EOF or an error; no longer "
		    "watched",
		    vq->index);
	vq->kick_dead = true;
	return seen;
}

void vring_notify(struct backend *be, struct vring *vq)
{
	struct vhost_user_msg m;
	int ret;

	if (vq->call_fd >= 0) {
		ret = signal_fd(vq->call_fd);
		if (ret < 0)
			backend_log(be, "vring %u: call fd: %s", vq->index,
				    strerror(-ret));
		return;
	}
	if (!(be->proto & VHOST_USER_PROTO_BIT(INBAND_NOTIFICATIONS)))
		return; /* the front-end polls */
	vhost_user_build_vring_state(&m, VHOST_USER_BACKEND_VRING_CALL,
				     vq->index, 0);
	ret = backend_send_backend_req(be, &m);
	if (ret < 0)
		backend_log(be, "vring %u: in-band call: %s", vq->index,
			    strerror(-ret));
}

void vring_error(struct backend *be, struct vring *vq, const char *why)
{
	struct vhost_user_msg m;

	backend_log(be, "vring %u broken: %s", vq->index, why);
	vq->broken = true;
	if (vq->err_fd >= 0) {
		signal_fd(vq->err_fd);
		return;
	}
	if (!(be->proto & VHOST_USER_PROTO_BIT(INBAND_NOTIFICATIONS)))
		return;
	vhost_user_build_vring_state(&m, VHOST_USER_BACKEND_VRING_ERR,
				     vq->index, 0);
	backend_send_backend_req(be, &m);
}

/* The seeded ring-loop-hang: a chain walk with no bound. */
static void naive_split_walk(struct vring *vq)
{
	const volatile struct virtq_desc *desc =
		(const volatile struct virtq_desc *)vq->q.split.desc;
	const volatile uint16_t *ring = vq->q.split.avail->ring;
	const volatile uint16_t *idx = &vq->q.split.avail->idx;
	uint16_t last = vq->q.split.last_avail;
	uint16_t i;

	if (*idx == last)
		return;
	i = ring[last % vq->num] % vq->num;
	while (desc[i].flags & VIRTQ_DESC_F_NEXT)
		i = desc[i].next % vq->num;
}

static uint8_t *inflight_desc(struct backend *be, struct vring *vq,
			      unsigned int id)
{
	if (!be->inflight || vq->packed || vq->index >= be->inflight_nq ||
	    id >= be->inflight_qs)
		return NULL;
	return be->inflight + vq->index * be->inflight_per_q +
	       INFLIGHT_SPLIT_HDR + (size_t)id * INFLIGHT_SPLIT_DESC;
}

int vring_pop(struct backend *be, struct vring *vq, struct vq_chain *c)
{
	const char *why = NULL;
	uint8_t *d;
	int ret;

	memset(c, 0, sizeof(*c));
	c->bufs = be->bufs;
	c->cap = VQ_MAX_SIZE;
	if (vq->packed) {
		ret = vq_packed_dev_pop(&vq->q.packed, c, &why);
		/* Empty: ask for a kick (with EVENT_IDX, at the next slot),
		 * then look once more for a buffer published meanwhile. */
		if (ret == 0 && vq_packed_dev_enable_notify(&vq->q.packed))
			ret = vq_packed_dev_pop(&vq->q.packed, c, &why);
	} else {
		if (bug_on(BUG_RING_LOOP_HANG))
			naive_split_walk(vq);
		ret = vq_split_dev_pop(&vq->q.split, c, &why);
		/* "the driver MUST send a notification when idx reaches
		 * avail_event": keep avail_event at the next entry. */
		if (ret == 0 && vq_split_dev_enable_notify(&vq->q.split))
			ret = vq_split_dev_pop(&vq->q.split, c, &why);
	}
	if (ret < 0) {
		vring_error(be, vq, why ? why : "the driver broke the ring");
		return ret;
	}
	/* "Set desc[i].counter ... Set desc[i].inflight to 1" */
	d = ret ? inflight_desc(be, vq, c->id) : NULL;
	if (d) {
		uint64_t ctr = ++vq->counter;

		memcpy(d + 8, &ctr, sizeof(ctr));
		d[0] = 1;
	}
	return ret;
}

int vring_push(struct backend *be, struct vring *vq, const struct vq_chain *c,
	       uint32_t len)
{
	const struct vhost_user_vring_addr *a = &vq->addr;
	uint64_t size = 0;
	uint8_t *d;
	int ret;

	if (bug_on(BUG_USED_LEN_TOTAL))
		len = (uint32_t)(c->readable_len + c->writable_len);
	if (vq->packed) {
		ret = vq_packed_dev_push(&vq->q.packed, c->id, c->ndesc, len);
		vq_packed_part_sizes(vq->num, 0, &size, NULL, NULL);
	} else {
		ret = vq_split_dev_push(&vq->q.split, c->id, len);
		vq_split_part_sizes(vq->num, be->features, NULL, NULL, &size);
	}
	if (ret < 0)
		return ret;
	vq->pushed = true;
	be->used_any = true;
	d = inflight_desc(be, vq, c->id);
	if (d) {
		uint16_t used = vq->q.split.used_idx;

		d[0] = 0;
		memcpy(be->inflight + vq->index * be->inflight_per_q +
			       INFLIGHT_USED_IDX_OFF,
		       &used, sizeof(used));
	}
	/* "Modifications to "used" vring should be marked if
	 * VHOST_VRING_F_LOG is part of ring's flags" (packed: the device
	 * writes used descriptors into the descriptor ring). */
	if (a->flags & VHOST_USER_VRING_F_LOG_MASK)
		backend_log_write(be, a->log, size);
	return 0;
}

uint64_t vring_chain_read(const struct vq_chain *c, uint64_t off, void *dst,
			  uint64_t len)
{
	uint8_t *out = dst;
	uint64_t done = 0;
	unsigned int i;

	for (i = 0; i < c->n && i < c->cap && done < len; i++) {
		const struct vq_buf *b = &c->bufs[i];
		uint64_t n;

		if (b->writable)
			break; /* readable buffers come first */
		if (off >= b->len) {
			off -= b->len;
			continue;
		}
		n = VUC_MIN(b->len - off, len - done);
		memcpy(out + done, (const uint8_t *)b->hva + off, n);
		done += n;
		off = 0;
	}
	return done;
}

uint64_t vring_chain_write(struct backend *be, const struct vq_chain *c,
			   uint64_t off, const void *src, uint64_t len)
{
	const uint8_t *in = src;
	uint64_t done = 0;
	unsigned int i;

	for (i = 0; i < c->n && i < c->cap && done < len; i++) {
		const struct vq_buf *b = &c->bufs[i];
		uint64_t n;

		if (!b->writable)
			continue;
		if (off >= b->len) {
			off -= b->len;
			continue;
		}
		n = VUC_MIN(b->len - off, len - done);
		memcpy((uint8_t *)b->hva + off, in + done, n);
		/* "All the modifications to memory pointed by vring
		 * "descriptor" should be marked." */
		backend_log_write(be, b->gpa + off, n);
		done += n;
		off = 0;
	}
	return done;
}

struct process_arg {
	struct vring *vq;
	uint64_t notify; /* mask of vrings to notify */
};

static int process_guarded(struct backend *be, void *p)
{
	struct process_arg *arg = p;
	unsigned int i;

	be->dev->process(be, arg->vq);
	for (i = 0; i < be->nvrings; i++) {
		struct vring *v = &be->vq[i];
		bool notify;

		if (!v->pushed)
			continue;
		v->pushed = false;
		notify = v->packed ? vq_packed_dev_should_notify(&v->q.packed)
				   : vq_split_dev_should_notify(&v->q.split);
		if (notify)
			arg->notify |= UINT64_C(1) << i;
	}
	return 0;
}

void vring_process(struct backend *be, struct vring *vq)
{
	struct process_arg arg = { .vq = vq };
	unsigned int i;
	int ret;

	if (!vring_runnable(be, vq))
		return;
	ret = backend_guarded(be, process_guarded, &arg);
	if (ret == -EFAULT) {
		/* The front-end shrank a region under us (no seal). */
		vring_error(be, vq,
			    "guest memory faulted (SIGBUS): a region "
			    "is shorter than announced");
		for (i = 0; i < be->nvrings; i++)
			be->vq[i].pushed = false;
	}
	for (i = 0; i < be->nvrings; i++)
		if (arg.notify & (UINT64_C(1) << i))
			vring_notify(be, &be->vq[i]);
}
