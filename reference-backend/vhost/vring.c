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

#include <endian.h>
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

/*
 * Inflight region layout (vhost-user.rst, "Inflight I/O tracking"):
 * QueueRegionSplit { u64 features; u16 version, desc_num, last_batch_head,
 * used_idx; DescStateSplit desc[]; }, DescStateSplit { u8 inflight, pad[5];
 * u16 next; u64 counter; }.
 */
#define INFLIGHT_SPLIT_HDR 16
#define INFLIGHT_SPLIT_DESC 16
#define INFLIGHT_VERSION_OFF 8
#define INFLIGHT_DESC_NUM_OFF 10
#define INFLIGHT_LAST_BATCH_OFF 12
#define INFLIGHT_USED_IDX_OFF 14
#define INFLIGHT_D_NEXT_OFF 6
#define INFLIGHT_D_COUNTER_OFF 8

/*
 * QueueRegionPacked { u64 features; u16 version, desc_num, free_head,
 * old_free_head, used_idx, old_used_idx; u8 used_wrap_counter,
 * old_used_wrap_counter, padding[7]; DescStatePacked desc[]; } (desc at
 * 32: its u64 fields align it), DescStatePacked { u8 inflight, padding;
 * u16 next, last, num; u64 counter; u16 id, flags; u32 len; u64 addr; }.
 */
#define PK_HDR 32
#define PK_DESC 32
#define PK_FREE_HEAD 12
#define PK_OLD_FREE_HEAD 14
#define PK_USED_IDX 16
#define PK_OLD_USED_IDX 18
#define PK_USED_WRAP 20
#define PK_OLD_USED_WRAP 21
#define PKD_NEXT 2
#define PKD_LAST 4
#define PKD_NUM 6
#define PKD_COUNTER 8
#define PKD_ID 16
#define PKD_FLAGS 18
#define PKD_LEN 20
#define PKD_ADDR 24

void vring_init(struct vring *vq, unsigned int index)
{
	memset(vq, 0, sizeof(*vq));
	vq->index = index;
	vq->kick_fd = -1;
	vq->call_fd = -1;
	vq->err_fd = -1;
	vq->pk_entry = -1;
}

void vring_reset(struct vring *vq)
{
	close_fd(&vq->kick_fd);
	close_fd(&vq->call_fd);
	close_fd(&vq->err_fd);
	/* Held chains are never used: the driver reset the ring or left
	 * (their heads stay inflight in the region, for the next session). */
	free(vq->held);
	free(vq->replay);
	free(vq->scratch);
	free(vq->pk_fake);
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

/* The region is the front-end's memory: fields are read and written
 * byte-wise (no alignment assumed), in host byte order (both ends share
 * the host). */
static uint16_t rd16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static void wr16(uint8_t *p, uint16_t v)
{
	memcpy(p, &v, sizeof(v));
}

void vring_inflight_init(uint8_t *region, uint16_t qs, bool packed)
{
	uint16_t i, next;

	wr16(region + INFLIGHT_VERSION_OFF, 1);
	wr16(region + INFLIGHT_DESC_NUM_OFF, qs);
	if (!packed)
		return;
	/* Every entry free, linked in order; "Device ring wrap counter"
	 * starts at 1 as the ring's. */
	for (i = 0; i < qs; i++) {
		next = (uint16_t)(i + 1);
		wr16(region + PK_HDR + (size_t)i * PK_DESC + PKD_NEXT, next);
	}
	wr16(region + PK_FREE_HEAD, 0);
	wr16(region + PK_OLD_FREE_HEAD, 0);
	wr16(region + PK_USED_IDX, 0);
	wr16(region + PK_OLD_USED_IDX, 0);
	region[PK_USED_WRAP] = 1;
	region[PK_OLD_USED_WRAP] = 1;
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

/* The ring's QueueRegionSplit, or NULL when it is not tracked. */
static uint8_t *inflight_region(struct backend *be, struct vring *vq)
{
	if (!be->inflight || vq->packed || vq->index >= be->inflight_nq ||
	    be->inflight_per_q <
		    INFLIGHT_SPLIT_HDR +
			    (size_t)be->inflight_qs * INFLIGHT_SPLIT_DESC)
		return NULL;
	return be->inflight + vq->index * be->inflight_per_q;
}

static uint8_t *inflight_desc(struct backend *be, struct vring *vq,
			      unsigned int id)
{
	uint8_t *r = inflight_region(be, vq);

	if (!r || id >= be->inflight_qs)
		return NULL;
	return r + INFLIGHT_SPLIT_HDR + (size_t)id * INFLIGHT_SPLIT_DESC;
}

/* ---- packed rings: QueueRegionPacked ----------------------------------- */

/* The ring's QueueRegionPacked, or NULL when it is not tracked. */
static uint8_t *pk_region(struct backend *be, struct vring *vq)
{
	if (!be->inflight || !vq->packed || vq->index >= be->inflight_nq ||
	    be->inflight_per_q < PK_HDR + (size_t)be->inflight_qs * PK_DESC)
		return NULL;
	return be->inflight + vq->index * be->inflight_per_q;
}

static uint8_t *pk_desc(uint8_t *r, unsigned int i)
{
	return r + PK_HDR + (size_t)i * PK_DESC;
}

/* Entries used: the region's and the ring's sizes, the smaller. */
static unsigned int pk_n(const struct backend *be, const struct vring *vq)
{
	return VUC_MIN((unsigned int)be->inflight_qs, vq->q.packed.size);
}

/* @pos + @n slots on a ring of @size, with its wrap counter. */
static void pk_advance(uint16_t *pos, bool *wrap, unsigned int n,
		       unsigned int size)
{
	unsigned int p = *pos + n;

	if (p >= size) {
		p -= size;
		*wrap = !*wrap;
	}
	*pos = (uint16_t)p;
}

/*
 * "When receiving available buffers from the driver": the chain @c just
 * popped took ring slots @pos0.. ; each descriptor is copied into the
 * entry at free_head, the head entry (old_free_head) counts them and is
 * marked inflight. The ring slots are read once more here: the driver may
 * not change them before they are used, and what is copied is checked
 * again when it is popped from the copy.
 */
static void pk_mark(struct backend *be, struct vring *vq, unsigned int pos0,
		    const struct vq_chain *c)
{
	uint8_t *r = pk_region(be, vq), *dh;
	unsigned int n, k;
	uint16_t e, fh, num = 0;

	if (!r || bug_on(BUG_INFLIGHT_NOT_MARKED))
		return;
	n = pk_n(be, vq);
	e = rd16(r + PK_OLD_FREE_HEAD);
	if (e >= n)
		goto broken;
	dh = pk_desc(r, e);
	for (k = 0; k < c->ndesc; k++) {
		unsigned int slot = (pos0 + k) % vq->q.packed.size;
		struct pvirtq_desc d;
		uint8_t *de;

		memcpy(&d, &vq->q.packed.desc[slot], sizeof(d));
		fh = rd16(r + PK_FREE_HEAD);
		if (fh >= n)
			goto broken;
		if (!k) {
			uint64_t ctr = ++vq->counter;

			wr16(dh + PKD_NUM, 0);
			memcpy(dh + PKD_COUNTER, &ctr, sizeof(ctr));
			dh[0] = 1;
		}
		if (k + 1 == c->ndesc)
			wr16(dh + PKD_LAST, fh);
		wr16(dh + PKD_NUM, ++num);
		de = pk_desc(r, fh);
		memcpy(de + PKD_ADDR, &d.addr, sizeof(d.addr));
		memcpy(de + PKD_LEN, &d.len, sizeof(d.len));
		memcpy(de + PKD_ID, &d.id, sizeof(d.id));
		memcpy(de + PKD_FLAGS, &d.flags, sizeof(d.flags));
		wr16(r + PK_FREE_HEAD, rd16(de + PKD_NEXT));
		if (k + 1 == c->ndesc)
			wr16(r + PK_OLD_FREE_HEAD, rd16(r + PK_FREE_HEAD));
	}
	vq->pk_entry = e;
	return;

broken:
	/* More descriptors in flight than entries, or links the front-end
	 * changed: this chain is not tracked. */
	backend_log(be, "vring %u: inflight region: no free entry", vq->index);
}

/* Whether region entry @e is an inflight head whose buffer id is @id. */
static bool pk_is(uint8_t *r, unsigned int n, unsigned int e, unsigned int id)
{
	uint8_t *d = pk_desc(r, e);
	uint16_t last = rd16(d + PKD_LAST);

	return d[0] == 1 && last < n && rd16(pk_desc(r, last) + PKD_ID) == id;
}

/* The head entry of the inflight chain whose buffer id is @id (the one
 * popped last first: the common case), or -1. */
static int pk_find(struct backend *be, struct vring *vq, uint8_t *r,
		   unsigned int id)
{
	unsigned int n = pk_n(be, vq), e;

	if (vq->pk_entry >= 0 && (unsigned int)vq->pk_entry < n &&
	    pk_is(r, n, (unsigned int)vq->pk_entry, id))
		return vq->pk_entry;
	for (e = 0; e < n; e++)
		if (pk_is(r, n, e, id))
			return (int)e;
	return -1;
}

/* "When supplying used buffers to the driver", before the used
 * descriptor is written: entry @e back on the free list, used_idx on. */
static void pk_used_before(struct vring *vq, uint8_t *r, unsigned int e,
			   unsigned int n)
{
	uint8_t *d = pk_desc(r, e);
	uint16_t last = rd16(d + PKD_LAST), used = rd16(r + PK_USED_IDX);
	bool wrap = r[PK_USED_WRAP] & 1;

	if (last < n) {
		wr16(pk_desc(r, last) + PKD_NEXT, rd16(r + PK_FREE_HEAD));
		wr16(r + PK_FREE_HEAD, (uint16_t)e);
	}
	pk_advance(&used, &wrap, VUC_MIN(rd16(d + PKD_NUM), vq->q.packed.size),
		   vq->q.packed.size);
	wr16(r + PK_USED_IDX, used);
	r[PK_USED_WRAP] = wrap;
}

/* ... and after: the head no longer inflight, the update committed. */
static void pk_used_after(uint8_t *r, unsigned int e)
{
	if (!bug_on(BUG_INFLIGHT_NOT_CLEARED))
		pk_desc(r, e)[0] = 0;
	wr16(r + PK_OLD_FREE_HEAD, rd16(r + PK_FREE_HEAD));
	wr16(r + PK_OLD_USED_IDX, rd16(r + PK_USED_IDX));
	r[PK_OLD_USED_WRAP] = r[PK_USED_WRAP];
}

/* Region's used position := the ring's (nothing to resume). */
static void pk_sync_used(struct vring *vq, uint8_t *r)
{
	wr16(r + PK_USED_IDX, vq->q.packed.used_pos);
	wr16(r + PK_OLD_USED_IDX, vq->q.packed.used_pos);
	r[PK_USED_WRAP] = vq->q.packed.used_wrap;
	r[PK_OLD_USED_WRAP] = vq->q.packed.used_wrap;
}

struct inflight_head {
	uint64_t counter;
	uint16_t head;
};

static int inflight_cmp(const void *a, const void *b)
{
	const struct inflight_head *x = a, *y = b;

	if (x->counter != y->counter)
		return x->counter < y->counter ? -1 : 1;
	return (int)x->head - (int)y->head;
}

/* "When reconnecting", packed: commit or roll back the last update, clear
 * the free list's flags, resubmit the heads still inflight by counter; the
 * ring resumes with used at the region's used_idx and avail past the
 * resubmitted descriptors (whatever SET_VRING_BASE said). */
static void pk_resume(struct backend *be, struct vring *vq)
{
	uint8_t *r = pk_region(be, vq);
	unsigned int n, size = vq->q.packed.size, i, count = 0, sum = 0;
	struct inflight_head *list;
	uint16_t used, oused, h, apos;
	bool uw, ouw, aw;
	uint64_t max = 0;

	if (!r)
		return;
	n = pk_n(be, vq);
	if (!rd16(r + INFLIGHT_VERSION_OFF)) {
		/* "Zero value indicates an uninitialized buffer" */
		memset(r + PK_HDR, 0, (size_t)be->inflight_qs * PK_DESC);
		vring_inflight_init(r, be->inflight_qs, true);
		pk_sync_used(vq, r);
		return;
	}
	used = rd16(r + PK_USED_IDX);
	oused = rd16(r + PK_OLD_USED_IDX);
	uw = r[PK_USED_WRAP] & 1;
	ouw = r[PK_OLD_USED_WRAP] & 1;
	if (used != oused && oused < size) {
		/* "If d.flags is not equal to the calculated flags value"
		 * the used descriptor was written: commit the update. */
		struct pvirtq_desc d;
		uint16_t avail = ouw ? VIRTQ_DESC_F_AVAIL : VIRTQ_DESC_F_USED;

		memcpy(&d, &vq->q.packed.desc[oused], sizeof(d));
		if ((le16toh(d.flags) &
		     (VIRTQ_DESC_F_AVAIL | VIRTQ_DESC_F_USED)) != avail) {
			wr16(r + PK_OLD_FREE_HEAD, rd16(r + PK_FREE_HEAD));
			oused = used;
			ouw = uw;
		}
	}
	/* "(roll back any in-progress update)" */
	wr16(r + PK_FREE_HEAD, rd16(r + PK_OLD_FREE_HEAD));
	wr16(r + PK_USED_IDX, oused);
	wr16(r + PK_OLD_USED_IDX, oused);
	r[PK_USED_WRAP] = ouw;
	r[PK_OLD_USED_WRAP] = ouw;
	h = rd16(r + PK_FREE_HEAD);
	for (i = 0; i < n && h < n; i++) {
		pk_desc(r, h)[0] = 0;
		h = rd16(pk_desc(r, h) + PKD_NEXT);
	}
	if (bug_on(BUG_INFLIGHT_NOT_RESUBMITTED) || oused >= size) {
		pk_sync_used(vq, r);
		return;
	}
	free(vq->scratch);
	vq->scratch = list = calloc(n ? n : 1, sizeof(*list));
	if (!list) {
		backend_log(be, "vring %u: no memory to resubmit", vq->index);
		return;
	}
	for (i = 0; i < n; i++) {
		const uint8_t *d = pk_desc(r, i);
		uint16_t num = rd16(d + PKD_NUM);
		uint64_t ctr;

		if (d[0] != 1 || !num || sum + num > size)
			continue;
		memcpy(&ctr, d + PKD_COUNTER, sizeof(ctr));
		list[count].counter = ctr;
		list[count].head = (uint16_t)i;
		count++;
		sum += num;
		max = VUC_MAX(max, ctr);
	}
	if (!count) {
		pk_sync_used(vq, r);
		goto out;
	}
	qsort(list, count, sizeof(*list), inflight_cmp);
	free(vq->replay);
	vq->replay = calloc(count, sizeof(*vq->replay));
	if (!vq->replay) {
		backend_log(be, "vring %u: no memory to resubmit", vq->index);
		goto out;
	}
	for (i = 0; i < count; i++)
		vq->replay[i] = list[i].head;
	vq->nreplay = count;
	vq->replay_pos = 0;
	vq->counter = max;
	apos = oused;
	aw = ouw;
	pk_advance(&apos, &aw, sum, size);
	vq_packed_dev_set_base(
		&vq->q.packed,
		(apos | (uint32_t)aw << VQ_PACKED_WRAP_BIT) |
			(oused | (uint32_t)ouw << VQ_PACKED_WRAP_BIT) << 16);
	backend_log(be,
		    "vring %u: resubmitting %u inflight request%s (%u "
		    "descriptors)",
		    vq->index, count, count == 1 ? "" : "s", sum);
out:
	free(list);
	vq->scratch = NULL;
}

/* Pop region entry @e again: its copied descriptors, made available in a
 * ring of our own, walked by the engine with every check a pop makes. */
static int pk_replay_pop(struct backend *be, struct vring *vq, uint16_t e,
			 struct vq_chain *c, const char **why)
{
	uint8_t *r = pk_region(be, vq);
	unsigned int size = vq->q.packed.size, n, k, num;
	struct vq_packed_dev tmp;
	uint16_t h = e;
	int ret;

	*why = "an inflight region entry to resubmit is not a chain";
	if (!r)
		return -EINVAL;
	n = pk_n(be, vq);
	num = e < n ? rd16(pk_desc(r, e) + PKD_NUM) : 0;
	if (!num || num > size)
		return -EINVAL;
	if (!vq->pk_fake) {
		vq->pk_fake = calloc(VQ_MAX_SIZE, sizeof(*vq->pk_fake));
		if (!vq->pk_fake) {
			*why = "no memory to resubmit";
			return -ENOMEM;
		}
	}
	memset(vq->pk_fake, 0, size * sizeof(*vq->pk_fake));
	for (k = 0; k < num; k++) {
		const uint8_t *d;
		uint16_t flags;

		if (h >= n)
			return -EINVAL;
		d = pk_desc(r, h);
		memcpy(&vq->pk_fake[k].addr, d + PKD_ADDR, 8);
		memcpy(&vq->pk_fake[k].len, d + PKD_LEN, 4);
		memcpy(&vq->pk_fake[k].id, d + PKD_ID, 2);
		flags = le16toh(rd16(d + PKD_FLAGS));
		flags &= (uint16_t) ~(VIRTQ_DESC_F_AVAIL | VIRTQ_DESC_F_USED);
		vq->pk_fake[k].flags = htole16(flags | VIRTQ_DESC_F_AVAIL);
		h = rd16(d + PKD_NEXT);
	}
	tmp = vq->q.packed;
	tmp.desc = vq->pk_fake;
	tmp.avail_pos = 0;
	tmp.avail_wrap = true;
	tmp.inflight = 0;
	ret = vq_packed_dev_pop(&tmp, c, why);
	vq->q.packed.hint = tmp.hint;
	if (!ret)
		return -EINVAL;
	vq->pk_entry = e;
	return ret;
}

/*
 * The first run of a ring in a session: read what a previous session left
 * in the region ("When reconnecting"). The last batch used may still be
 * marked inflight if that session died between the used index and the
 * region's used_idx; then every head still marked is resubmitted, in the
 * order of its counter, before the avail ring. The back-end had popped
 * used->idx + (inflight heads) avail entries: the avail ring resumes
 * there, whatever SET_VRING_BASE said (QEMU sends used->idx after a
 * crash, as the back-end could not answer GET_VRING_BASE).
 *
 * Every field is the front-end's input: heads past the queue size and
 * batch walks longer than the queue are ignored. Runs guarded (the
 * region's memfd may shrink under us).
 */
static void inflight_resume(struct backend *be, struct vring *vq)
{
	struct inflight_head *list = NULL;
	unsigned int n, i, count = 0;
	uint16_t used, ridx, h;
	uint64_t max = 0;
	uint8_t *r;

	vq->inflight_checked = true;
	if (vq->packed) {
		pk_resume(be, vq);
		return;
	}
	r = inflight_region(be, vq);
	if (!r)
		return;
	/* "Zero value indicates an uninitialized buffer" */
	if (!rd16(r + INFLIGHT_VERSION_OFF)) {
		memset(r + INFLIGHT_SPLIT_HDR, 0,
		       (size_t)be->inflight_qs * INFLIGHT_SPLIT_DESC);
		wr16(r + INFLIGHT_VERSION_OFF, 1);
		wr16(r + INFLIGHT_DESC_NUM_OFF, be->inflight_qs);
		wr16(r + INFLIGHT_LAST_BATCH_OFF, 0);
		wr16(r + INFLIGHT_USED_IDX_OFF, vq->q.split.used_idx);
		return;
	}
	n = VUC_MIN((unsigned int)be->inflight_qs, vq->num);
	used = vq->q.split.used_idx;
	ridx = rd16(r + INFLIGHT_USED_IDX_OFF);
	if (ridx != used) {
		/* "Subtract the value of used_idx from the idx value of used
		 * ring to get last batch size" and clear that batch. */
		uint16_t batch = (uint16_t)(used - ridx);

		h = rd16(r + INFLIGHT_LAST_BATCH_OFF);
		for (i = 0; i < batch && i < n && h < n; i++) {
			uint8_t *d = inflight_desc(be, vq, h);

			d[0] = 0;
			h = rd16(d + INFLIGHT_D_NEXT_OFF);
		}
		wr16(r + INFLIGHT_USED_IDX_OFF, used);
	}
	if (bug_on(BUG_INFLIGHT_NOT_RESUBMITTED))
		return;
	/* Kept in the vring while the region is read: a SIGBUS jumps out
	 * of here, and vring_reset() frees it then. */
	free(vq->scratch);
	vq->scratch = list = calloc(n ? n : 1, sizeof(*list));
	if (!list) {
		backend_log(be, "vring %u: no memory to resubmit", vq->index);
		return;
	}
	for (i = 0; i < n; i++) {
		const uint8_t *d = inflight_desc(be, vq, i);
		uint64_t ctr;

		if (d[0] != 1)
			continue;
		memcpy(&ctr, d + INFLIGHT_D_COUNTER_OFF, sizeof(ctr));
		list[count].counter = ctr;
		list[count].head = (uint16_t)i;
		count++;
		max = VUC_MAX(max, ctr);
	}
	if (!count)
		goto out;
	/* "Resubmit inflight DescStateSplit entries in order of their
	 * counter value" */
	qsort(list, count, sizeof(*list), inflight_cmp);
	free(vq->replay);
	vq->replay = calloc(count, sizeof(*vq->replay));
	if (!vq->replay) {
		backend_log(be, "vring %u: no memory to resubmit", vq->index);
		goto out;
	}
	for (i = 0; i < count; i++)
		vq->replay[i] = list[i].head;
	vq->nreplay = count;
	vq->replay_pos = 0;
	vq->counter = max; /* new heads count on from the oldest session's */
	/* QEMU sends the used idx; anything else is worth a line. */
	if (vq->q.split.last_avail != used &&
	    vq->q.split.last_avail != (uint16_t)(used + count))
		backend_log(be,
			    "vring %u: base %u, but %u used and %u inflight: "
			    "resuming the avail ring at %u",
			    vq->index, vq->q.split.last_avail, used, count,
			    (uint16_t)(used + count));
	vq_split_dev_set_base(&vq->q.split, (uint16_t)(used + count));
	backend_log(be, "vring %u: resubmitting %u inflight request%s",
		    vq->index, count, count == 1 ? "" : "s");
out:
	free(list);
	vq->scratch = NULL;
}

void vring_kicked(struct vring *vq)
{
	unsigned int i, left;
	uint16_t *all;

	if (!vq->nheld)
		return;
	/* Held chains go after whatever is still to be replayed. */
	left = vq->nreplay - vq->replay_pos;
	all = malloc((left + vq->nheld) * sizeof(*all));
	if (!all)
		return; /* they stay held until a kick finds memory */
	for (i = 0; i < left; i++)
		all[i] = vq->replay[vq->replay_pos + i];
	memcpy(all + left, vq->held, vq->nheld * sizeof(*all));
	free(vq->replay);
	vq->replay = all;
	vq->nreplay = left + vq->nheld;
	vq->replay_pos = 0;
	vq->nheld = 0;
}

int vring_hold(struct vring *vq, const struct vq_chain *c)
{
	/* packed: the region entry, whose copies are popped again */
	if (vq->packed && vq->pk_entry < 0)
		return -ENOTSUP;
	if (!vq->held) {
		vq->held = calloc(VQ_MAX_SIZE, sizeof(*vq->held));
		if (!vq->held)
			return -ENOMEM;
	}
	/* A driver that lists one head many times could hold more than a
	 * queue's worth: past that, requests complete at once. */
	if (vq->nheld >= VQ_MAX_SIZE)
		return -ENOSPC;
	vq->held[vq->nheld++] = vq->packed ? (uint16_t)vq->pk_entry : c->id;
	return 0;
}

/*
 * Pop head @head again: the engine walks it through a one-entry avail ring
 * of our own (the real one may have moved on), with every check a pop
 * makes.
 */
static int replay_pop(struct vring *vq, uint16_t head, struct vq_chain *c,
		      const char **why)
{
	_Alignas(struct virtq_avail)
		uint8_t buf[sizeof(struct virtq_avail) + sizeof(uint16_t)];
	struct virtq_avail *one = (struct virtq_avail *)buf;
	struct vq_split_dev tmp = vq->q.split;
	int ret;

	one->flags = 0;
	one->idx = htole16(1);
	one->ring[0] = htole16(head);
	tmp.avail = one;
	tmp.last_avail = 0;
	tmp.avail_cache = 0;
	ret = vq_split_dev_pop(&tmp, c, why);
	vq->q.split.hint = tmp.hint;
	return ret;
}

int vring_pop(struct backend *be, struct vring *vq, struct vq_chain *c)
{
	const char *why = NULL;
	unsigned int pos0 = 0;
	uint8_t *d;
	int ret;

	memset(c, 0, sizeof(*c));
	c->bufs = be->bufs;
	c->cap = VQ_MAX_SIZE;
	vq->replayed = false;
	vq->pk_entry = -1;
	if (vq->replay_pos < vq->nreplay) {
		uint16_t head = vq->replay[vq->replay_pos++];

		if (vq->replay_pos == vq->nreplay)
			vq->replay_pos = vq->nreplay = 0;
		ret = vq->packed ? pk_replay_pop(be, vq, head, c, &why)
				 : replay_pop(vq, head, c, &why);
		if (ret < 0) {
			vring_error(be, vq,
				    why ? why : "the driver broke the ring");
			return ret;
		}
		/* Still inflight with its first counter. */
		vq->replayed = true;
		return 1;
	}
	if (vq->packed) {
		pos0 = vq->q.packed.avail_pos;
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
	if (ret && vq->packed)
		pk_mark(be, vq, pos0, c);
	/* "Set desc[i].counter ... Set desc[i].inflight to 1" */
	d = ret ? inflight_desc(be, vq, c->id) : NULL;
	if (d && bug_on(BUG_INFLIGHT_NOT_MARKED))
		d = NULL;
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
	uint8_t *d, *pr;
	int ret, pe = -1;

	if (bug_on(BUG_USED_LEN_TOTAL))
		len = (uint32_t)(c->readable_len + c->writable_len);
	d = inflight_desc(be, vq, c->id);
	pr = pk_region(be, vq);
	if (pr)
		pe = pk_find(be, vq, pr, c->id);
	if (vq->packed) {
		/* "Set desc[e.last].next to free_head; Set free_head to the
		 * index of e; Increase used_idx" */
		if (pe >= 0 && c->ndesc <= vq->q.packed.inflight)
			pk_used_before(vq, pr, (unsigned int)pe, pk_n(be, vq));
		ret = vq_packed_dev_push(&vq->q.packed, c->id, c->ndesc, len);
		vq_packed_part_sizes(vq->num, 0, &size, NULL, NULL);
		if (!ret && pe >= 0)
			pk_used_after(pr, (unsigned int)pe);
	} else {
		if (d && c->id < vq->num) {
			/* "Set desc[i].next to last_batch_head; Set
			 * last_batch_head to i" (a batch of one) */
			uint8_t *r = inflight_region(be, vq);

			wr16(d + INFLIGHT_D_NEXT_OFF,
			     rd16(r + INFLIGHT_LAST_BATCH_OFF));
			wr16(r + INFLIGHT_LAST_BATCH_OFF, c->id);
		}
		ret = vq_split_dev_push(&vq->q.split, c->id, len);
		vq_split_part_sizes(vq->num, be->features, NULL, NULL, &size);
	}
	if (ret < 0)
		return ret;
	vq->pushed = true;
	be->used_any = true;
	if (d) {
		/* "Set the inflight field of each DescStateSplit entry in the
		 * batch to 0; Set used_idx to the idx value of used ring" */
		if (!bug_on(BUG_INFLIGHT_NOT_CLEARED))
			d[0] = 0;
		wr16(inflight_region(be, vq) + INFLIGHT_USED_IDX_OFF,
		     vq->q.split.used_idx);
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

	if (!arg->vq->inflight_checked)
		inflight_resume(be, arg->vq);
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
