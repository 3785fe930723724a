// SPDX-License-Identifier: MIT
/*
 * split.c - split virtqueue, device side and driver side.
 *
 * Spec: specs/virtio/split-ring.tex ("The Virtqueue Descriptor Table",
 * "Indirect Descriptors", "The Virtqueue Available Ring", "The Virtqueue
 * Used Ring", both "Notification Suppression" sections, "Supplying Buffers
 * to The Device"), and vhost-user.rst for SET/GET_VRING_BASE.
 *
 * The device side reads guest memory the driver may rewrite at any moment:
 * a descriptor is copied once and only the copy is checked and used.
 */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "ring/split.h"

/* Per head, driver side. */
struct vq_split_slot {
	uint64_t token;
	uint64_t writable; /* bytes the device may write */
	uint16_t last;	   /* last descriptor of the chain in the table */
	uint16_t ndesc;	   /* descriptors it holds in the table */
	bool busy;
};

bool vq_split_size_ok(unsigned int num)
{
	return num && num <= VQ_MAX_SIZE && !(num & (num - 1));
}

int vq_split_part_sizes(unsigned int num, uint64_t features, uint64_t *desc,
			uint64_t *avail, uint64_t *used)
{
	uint64_t ev = features & (1ULL << VIRTIO_F_EVENT_IDX) ? 2 : 0;

	if (!vq_split_size_ok(num))
		return -EINVAL;
	if (desc)
		*desc = sizeof(struct virtq_desc) * (uint64_t)num;
	if (avail)
		*avail = 4 + 2 * (uint64_t)num + ev;
	if (used)
		*used = 4 + sizeof(struct virtq_used_elem) * (uint64_t)num + ev;
	return 0;
}

static inline uint32_t load32(const uint32_t *p)
{
	return le32toh(__atomic_load_n(p, __ATOMIC_RELAXED));
}

static inline void store32(uint32_t *p, uint32_t v)
{
	__atomic_store_n(p, htole32(v), __ATOMIC_RELAXED);
}

/* used_event follows the avail ring, avail_event the used ring. */
static inline uint16_t *used_event_of(const struct virtq_avail *avail,
				      unsigned int num)
{
	return (uint16_t *)&avail->ring[num];
}

static inline uint16_t *avail_event_of(struct virtq_used *used,
				       unsigned int num)
{
	return (uint16_t *)((uint8_t *)used + sizeof(*used) +
			    num * sizeof(struct virtq_used_elem));
}

/*
 * vq_mb(), but on x86-64 a locked no-op on the stack rather than the mfence
 * clang emits for a seq_cst fence: a full barrier for ordinary memory, and
 * much cheaper; with two per round trip (the kick and notify decisions)
 * mfence halved clang's throughput. The kernel's x86-64 smp_mb() is the
 * same instruction.
 */
static inline void split_mb(void)
{
#if defined(__x86_64__)
	__asm__ __volatile__("lock; addl $0,-4(%%rsp)" ::: "memory", "cc");
#else
	vq_mb();
#endif
}

/*
 * One read of a descriptor the driver may be rewriting. memcpy() because an
 * indirect table need not be aligned; the compiler barrier stops the
 * compiler from reading @src again in place of the copy.
 */
static inline void desc_read(struct virtq_desc *dst,
			     const struct virtq_desc *src)
{
	memcpy(dst, src, sizeof(*dst));
	__asm__ __volatile__("" ::: "memory");
}

/* ---- Device side ---- */

static void *dev_xlate_slow(struct vq_split_dev *vq, uint64_t gpa, uint64_t len)
{
	const struct gmem *m = vq->mem;
	unsigned int i;

	for (i = 0; i < m->n; i++) {
		const struct gmem_region *r = &m->r[i];

		if (gpa >= r->gpa && len <= r->size &&
		    gpa - r->gpa <= r->size - len) {
			vq->hint = i;
			return r->hva + (gpa - r->gpa);
		}
	}
	return NULL;
}

/*
 * gmem_gpa() for @len > 0, trying the region that answered last first: in
 * the common single-region layout the whole check is inline.
 */
static inline void *dev_xlate(struct vq_split_dev *vq, uint64_t gpa,
			      uint64_t len)
{
	const struct gmem *m = vq->mem;

	if (vq->hint < m->n) {
		const struct gmem_region *r = &m->r[vq->hint];

		if (gpa >= r->gpa && len <= r->size &&
		    gpa - r->gpa <= r->size - len)
			return r->hva + (gpa - r->gpa);
	}
	return dev_xlate_slow(vq, gpa, len);
}

int vq_split_dev_init(struct vq_split_dev *vq, const struct gmem *mem,
		      unsigned int num, uint64_t features,
		      const struct virtq_desc *desc,
		      const struct virtq_avail *avail, struct virtq_used *used)
{
	uint16_t used_idx;

	if (!vq_split_size_ok(num) || !mem || !desc || !avail || !used)
		return -EINVAL;
	/* The index fields are accessed atomically: they must be aligned. */
	if ((uintptr_t)avail % VIRTQ_AVAIL_ALIGN ||
	    (uintptr_t)used % VIRTQ_USED_ALIGN)
		return -EINVAL;
	used_idx = vq_load16(&used->idx);
	*vq = (struct vq_split_dev){
		.desc = desc,
		.avail = avail,
		.used = used,
		.mem = mem,
		.num = num,
		.mask = (uint16_t)(num - 1),
		.used_idx = used_idx,
		.signalled_used = used_idx,
		.event_idx = features & (1ULL << VIRTIO_F_EVENT_IDX),
		.indirect = features & (1ULL << VIRTIO_F_INDIRECT_DESC),
	};
	return 0;
}

int vq_split_dev_init_addr(struct vq_split_dev *vq, const struct gmem *mem,
			   unsigned int num, uint64_t features, uint64_t desc,
			   uint64_t avail, uint64_t used, bool uva)
{
	uint64_t dsz, asz, usz;
	void *dp, *ap, *up;
	int ret;

	ret = vq_split_part_sizes(num, features, &dsz, &asz, &usz);
	if (ret < 0)
		return ret;
	/* "The driver MUST ensure that the physical address of the first
	 * byte of each virtqueue part is a multiple of the specified
	 * alignment value." */
	if (desc % VIRTQ_DESC_ALIGN || avail % VIRTQ_AVAIL_ALIGN ||
	    used % VIRTQ_USED_ALIGN)
		return -EINVAL;
	if (uva) {
		dp = gmem_uva(mem, desc, dsz);
		ap = gmem_uva(mem, avail, asz);
		up = gmem_uva(mem, used, usz);
	} else {
		dp = gmem_gpa(mem, desc, dsz);
		ap = gmem_gpa(mem, avail, asz);
		up = gmem_gpa(mem, used, usz);
	}
	if (!dp || !ap || !up)
		return -EFAULT;
	return vq_split_dev_init(vq, mem, num, features, dp, ap, up);
}

int vq_split_dev_set_base(struct vq_split_dev *vq, uint32_t base)
{
	if (base > UINT16_MAX)
		return -EINVAL;
	vq->last_avail = (uint16_t)base;
	vq->avail_cache = (uint16_t)base;
	/* "The device is supposed to read the next index in the Used Ring
	 * from the respective vring structure in guest memory." */
	vq->used_idx = vq_load16(&vq->used->idx);
	vq->signalled_used = vq->used_idx;
	return 0;
}

uint32_t vq_split_dev_get_base(const struct vq_split_dev *vq)
{
	return vq->last_avail;
}

/*
 * Walk the chain at @head into @c. Bounded: at most the queue size of
 * descriptors in the ring (more means a loop), at most the table length in
 * an indirect table, at most the queue size of buffers in all.
 */
static int dev_walk(struct vq_split_dev *vq, uint16_t head, struct vq_chain *c,
		    const char **why)
{
	const struct virtq_desc *table = vq->desc;
	unsigned int tlen = vq->num, seen = 0, n = 0, ndesc = 0, i = head;
	uint64_t rlen = 0, wlen = 0;
	bool indirect = false;

	for (;;) {
		struct virtq_desc d;
		uint64_t addr;
		uint32_t len;
		uint16_t flags, next;
		void *hva;

		if (++seen > tlen) {
			*why = indirect ? "descriptor loop in an indirect table"
					: "descriptor loop in the ring";
			return -ELOOP;
		}
		desc_read(&d, &table[i]);
		addr = le64toh(d.addr);
		len = le32toh(d.len);
		flags = le16toh(d.flags);
		next = le16toh(d.next);
		if (!indirect)
			ndesc++;

		if (flags & VIRTQ_DESC_F_INDIRECT) {
			if (indirect) {
				*why = "VIRTQ_DESC_F_INDIRECT inside an "
				       "indirect table";
				return -EINVAL;
			}
			if (!vq->indirect) {
				*why = "VIRTQ_DESC_F_INDIRECT without "
				       "VIRTIO_F_INDIRECT_DESC";
				return -EPROTO;
			}
			if (flags & VIRTQ_DESC_F_NEXT) {
				*why = "VIRTQ_DESC_F_INDIRECT and "
				       "VIRTQ_DESC_F_NEXT both set";
				return -EINVAL;
			}
			if (len == 0 || len % sizeof(struct virtq_desc)) {
				*why = "indirect table length is 0 or not a "
				       "multiple of 16";
				return -EINVAL;
			}
			table = dev_xlate(vq, addr, len);
			if (!table) {
				*why = "indirect table not inside one region";
				return -EFAULT;
			}
			/* The WRITE flag of this descriptor is ignored, as
			 * the spec says the device must. */
			tlen = len / sizeof(struct virtq_desc);
			seen = 0;
			i = 0;
			indirect = true;
			continue;
		}

		/* "A driver MUST NOT create a descriptor chain longer than
		 * the Queue Size of the device." */
		if (n >= vq->num) {
			*why = "chain holds more buffers than the queue size";
			return -ELOOP;
		}
		if (len == 0) {
			*why = "zero-length buffer";
			return -EINVAL;
		}
		hva = dev_xlate(vq, addr, len);
		if (!hva) {
			*why = "buffer not inside one region";
			return -EFAULT;
		}
		if (flags & VIRTQ_DESC_F_WRITE) {
			wlen += len;
		} else {
			/* "The driver MUST place any device-writable
			 * descriptor elements after any device-readable
			 * descriptor elements." */
			if (wlen) {
				*why = "device-readable buffer after a "
				       "device-writable one";
				return -EINVAL;
			}
			rlen += len;
		}
		/* "Drivers MUST NOT add a descriptor chain longer than 2^32
		 * bytes in total." Cannot wrap: at most 2^15 * 2^32. */
		if (rlen + wlen > (1ULL << 32)) {
			*why = "chain longer than 2^32 bytes";
			return -EINVAL;
		}
		if (n < c->cap) {
			struct vq_buf *b = &c->bufs[n];

			b->gpa = addr;
			b->len = len;
			b->writable = flags & VIRTQ_DESC_F_WRITE;
			b->hva = hva;
		}
		n++;

		if (!(flags & VIRTQ_DESC_F_NEXT))
			break;
		if (next >= tlen) {
			*why = indirect ? "next index beyond the indirect table"
					: "next index not below the queue size";
			return -EINVAL;
		}
		i = next;
	}

	c->id = head;
	c->ndesc = (uint16_t)ndesc;
	c->n = n;
	c->readable_len = rlen;
	c->writable_len = wlen;
	if (n > c->cap) {
		*why = "more buffers than the caller's scatter list holds";
		return -ENOSPC;
	}
	return 0;
}

int vq_split_dev_pop(struct vq_split_dev *vq, struct vq_chain *c,
		     const char **why)
{
	const char *reason = NULL;
	uint16_t head;
	int ret;

	if (vq->last_avail == vq->avail_cache) {
		uint16_t idx = vq_load16(&vq->avail->idx);

		if (idx == vq->last_avail)
			return 0;
		/* At most a queue of entries can be outstanding. */
		if ((uint16_t)(idx - vq->last_avail) > vq->num) {
			reason = "avail index more than the queue size ahead";
			ret = -EINVAL;
			goto bad;
		}
		/* Ring entries and descriptors after the index. */
		vq_rmb();
		vq->avail_cache = idx;
	}

	head = vq_load16(&vq->avail->ring[vq->last_avail & vq->mask]);
	if (head >= vq->num) {
		reason = "avail ring entry not below the queue size";
		ret = -EINVAL;
		goto bad;
	}
	ret = dev_walk(vq, head, c, &reason);
	if (ret < 0)
		goto bad;
	vq->last_avail++;
	return 1;

bad:
	if (why)
		*why = reason;
	return ret;
}

int vq_split_dev_push(struct vq_split_dev *vq, unsigned int id, uint32_t len)
{
	struct virtq_used_elem *e;

	if (id >= vq->num)
		return -EINVAL;
	e = &vq->used->ring[vq->used_idx & vq->mask];
	store32(&e->id, id);
	/* "The device MUST set len prior to updating the used idx." */
	store32(&e->len, len);
	vq->used_idx++;
	vq_wmb();
	vq_store16(&vq->used->idx, vq->used_idx);
	return 0;
}

bool vq_split_dev_should_notify(struct vq_split_dev *vq)
{
	uint16_t old = vq->signalled_used, cur = vq->used_idx;

	vq->signalled_used = cur;
	/* The used index store before the suppression read. */
	split_mb();
	if (old == cur)
		return false;
	if (vq->event_idx)
		return vq_need_event(
			vq_load16(used_event_of(vq->avail, vq->num)), cur, old);
	return !(vq_load16(&vq->avail->flags) & VIRTQ_AVAIL_F_NO_INTERRUPT);
}

bool vq_split_dev_enable_notify(struct vq_split_dev *vq)
{
	if (vq->event_idx)
		vq_store16(avail_event_of(vq->used, vq->num), vq->avail_cache);
	else
		vq_store16(&vq->used->flags, 0);
	/* Publish the request before looking again. */
	split_mb();
	return vq_load16(&vq->avail->idx) != vq->last_avail;
}

void vq_split_dev_disable_notify(struct vq_split_dev *vq)
{
	if (vq->event_idx)
		vq_store16(avail_event_of(vq->used, vq->num),
			   (uint16_t)(vq->avail_cache - 1));
	else
		vq_store16(&vq->used->flags, VIRTQ_USED_F_NO_NOTIFY);
}

/* ---- Driver side ---- */

static int drv_alloc(struct gmem *mem, uint64_t len, uint64_t align,
		     uint64_t *gpa, void **hva)
{
	uint64_t a;
	void *p;
	int ret;

	ret = gmem_alloc(mem, len, align, &a);
	if (ret < 0)
		return ret;
	p = gmem_gpa(mem, a, len);
	if (!p)
		return -ENOMEM;
	/* gmem_alloc() aligns the guest address; accesses need the host's. */
	if ((uintptr_t)p % align)
		return -EINVAL;
	memset(p, 0, len);
	*gpa = a;
	*hva = p;
	return 0;
}

int vq_split_drv_init(struct vq_split_drv *d, struct gmem *mem,
		      unsigned int num, uint64_t features, unsigned int ind_max)
{
	uint64_t dsz, asz, usz;
	struct vq_split_drv t = { 0 };
	void *p;
	unsigned int i;
	int ret;

	ret = vq_split_part_sizes(num, features, &dsz, &asz, &usz);
	if (ret < 0)
		return ret;
	if (ind_max > VQ_MAX_SIZE)
		return -EINVAL;
	t.mem = mem;
	t.num = num;
	t.mask = (uint16_t)(num - 1);
	t.event_idx = features & (1ULL << VIRTIO_F_EVENT_IDX);
	t.indirect = features & (1ULL << VIRTIO_F_INDIRECT_DESC);
	t.ind_max = ind_max;

	ret = drv_alloc(mem, dsz, VIRTQ_DESC_ALIGN, &t.desc_gpa, &p);
	if (ret < 0)
		return ret;
	t.desc = p;
	ret = drv_alloc(mem, asz, VIRTQ_AVAIL_ALIGN, &t.avail_gpa, &p);
	if (ret < 0)
		return ret;
	t.avail = p;
	/* "The driver MUST initialize flags in the used ring to 0": done by
	 * drv_alloc(). */
	ret = drv_alloc(mem, usz, VIRTQ_USED_ALIGN, &t.used_gpa, &p);
	if (ret < 0)
		return ret;
	t.used = p;
	if (ind_max) {
		ret = drv_alloc(mem,
				(uint64_t)ind_max * num *
					sizeof(struct virtq_desc),
				VIRTQ_DESC_ALIGN, &t.ind_gpa, &p);
		if (ret < 0)
			return ret;
		t.ind = p;
	}
	ret = drv_alloc(mem, 64, 16, &t.scratch_gpa, &p);
	if (ret < 0)
		return ret;

	t.next = calloc(num, sizeof(*t.next));
	t.slot = calloc(num, sizeof(*t.slot));
	if (!t.next || !t.slot) {
		free(t.next);
		free(t.slot);
		return -ENOMEM;
	}
	for (i = 0; i < num; i++)
		t.next[i] = (uint16_t)(i + 1); /* the last one is never used */
	t.num_free = num;
	*d = t;
	return 0;
}

void vq_split_drv_fini(struct vq_split_drv *d)
{
	free(d->next);
	free(d->slot);
	d->next = NULL;
	d->slot = NULL;
	d->num_free = 0;
}

int vq_split_drv_set_base(struct vq_split_drv *d, uint32_t idx)
{
	if (idx > UINT16_MAX)
		return -EINVAL;
	if (d->num_free != d->num)
		return -EPROTO;
	d->avail_idx = d->pub_idx = d->kicked_idx = (uint16_t)idx;
	d->last_used = d->used_cache = (uint16_t)idx;
	vq_store16(&d->avail->idx, (uint16_t)idx);
	vq_store16(&d->used->idx, (uint16_t)idx);
	return 0;
}

static inline void desc_write(struct virtq_desc *dp, uint64_t addr,
			      uint32_t len, uint16_t flags, uint16_t next)
{
	dp->addr = htole64(addr);
	dp->len = htole32(len);
	dp->flags = htole16(flags);
	dp->next = htole16(next);
}

/*
 * Take @k descriptors off the free list: they come out already linked by
 * next[], which is how the chain is freed later whatever the ring says.
 */
static uint16_t drv_take(struct vq_split_drv *d, unsigned int k, uint64_t token,
			 uint64_t writable)
{
	uint16_t head = d->free_head, last = head;
	unsigned int j;

	for (j = 1; j < k; j++)
		last = d->next[last];
	d->free_head = d->next[last];
	d->num_free -= k;
	d->slot[head] = (struct vq_split_slot){
		.token = token,
		.writable = writable,
		.last = last,
		.ndesc = (uint16_t)k,
		.busy = true,
	};
	return head;
}

static inline void drv_avail_put(struct vq_split_drv *d, uint16_t head)
{
	vq_store16(&d->avail->ring[d->avail_idx & d->mask], head);
	d->avail_idx++;
}

int vq_split_drv_add(struct vq_split_drv *d, const struct vq_buf *bufs,
		     unsigned int n, bool indirect, uint64_t token)
{
	struct virtq_desc *dp;
	uint64_t writable = 0;
	uint16_t head, i;
	unsigned int k;

	if (n == 0 || n > (indirect ? d->ind_max : d->num))
		return -EINVAL;
	if ((indirect ? 1 : n) > d->num_free)
		return -ENOSPC;

	head = d->free_head;
	if (indirect) {
		uint64_t off = (uint64_t)head * d->ind_max;

		dp = d->ind + off;
		for (k = 0; k < n; k++) {
			uint16_t f = bufs[k].writable ? VIRTQ_DESC_F_WRITE : 0;

			if (k + 1 < n)
				f |= VIRTQ_DESC_F_NEXT;
			if (bufs[k].writable)
				writable += bufs[k].len;
			desc_write(&dp[k], bufs[k].gpa, bufs[k].len, f,
				   (uint16_t)(k + 1));
		}
		desc_write(&d->desc[head],
			   d->ind_gpa + off * sizeof(struct virtq_desc),
			   n * (uint32_t)sizeof(struct virtq_desc),
			   VIRTQ_DESC_F_INDIRECT, 0);
		drv_take(d, 1, token, writable);
	} else {
		for (k = 0, i = head; k < n; k++, i = d->next[i]) {
			uint16_t f = bufs[k].writable ? VIRTQ_DESC_F_WRITE : 0;

			if (k + 1 < n)
				f |= VIRTQ_DESC_F_NEXT;
			if (bufs[k].writable)
				writable += bufs[k].len;
			desc_write(&d->desc[i], bufs[k].gpa, bufs[k].len, f,
				   d->next[i]);
		}
		drv_take(d, n, token, writable);
	}
	drv_avail_put(d, head);
	return head;
}

unsigned int vq_split_drv_publish(struct vq_split_drv *d)
{
	unsigned int n = (uint16_t)(d->avail_idx - d->pub_idx);

	/* "The driver MUST perform a suitable memory barrier before the idx
	 * update, to ensure the device sees the most up-to-date copy." */
	vq_wmb();
	vq_store16(&d->avail->idx, d->avail_idx);
	d->pub_idx = d->avail_idx;
	return n;
}

bool vq_split_drv_kick_needed(struct vq_split_drv *d)
{
	uint16_t old = d->kicked_idx, cur = d->pub_idx;

	d->kicked_idx = cur;
	/* "The driver MUST perform a suitable memory barrier before reading
	 * flags or avail_event, to avoid missing a notification." */
	split_mb();
	if (old == cur)
		return false;
	if (d->event_idx)
		return vq_need_event(vq_load16(avail_event_of(d->used, d->num)),
				     cur, old);
	return !(vq_load16(&d->used->flags) & VIRTQ_USED_F_NO_NOTIFY);
}

int vq_split_drv_reap(struct vq_split_drv *d, uint64_t *token, uint32_t *len,
		      const char **why)
{
	const char *reason = NULL;
	struct virtq_used_elem *e;
	struct vq_split_slot *s;
	uint32_t id, l;
	int ret;

	if (d->last_used == d->used_cache) {
		uint16_t idx = vq_load16(&d->used->idx);

		if (idx == d->last_used)
			return 0;
		if ((uint16_t)(idx - d->last_used) > d->num) {
			reason = "used index more than the queue size ahead";
			ret = -EINVAL;
			goto bad;
		}
		/* The entries after the index. */
		vq_rmb();
		d->used_cache = idx;
	}
	e = &d->used->ring[d->last_used & d->mask];
	id = load32(&e->id);
	l = load32(&e->len);
	if (id >= d->num) {
		reason = "used id not below the queue size";
		ret = -EINVAL;
		goto bad;
	}
	s = &d->slot[id];
	if (!s->busy) {
		reason = "used id is not the head of a chain in flight";
		ret = -EPROTO;
		goto bad;
	}
	s->busy = false;
	d->next[s->last] = d->free_head;
	d->free_head = (uint16_t)id;
	d->num_free += s->ndesc;
	d->last_used++;
	*token = s->token;
	*len = l;
	/* "len: the number of bytes written into the device writable
	 * portion of the buffer." */
	if (l > s->writable) {
		reason = "used len exceeds the chain's writable bytes";
		ret = -EMSGSIZE;
		goto bad;
	}
	return 1;

bad:
	if (why)
		*why = reason;
	return ret;
}

bool vq_split_drv_enable_notify(struct vq_split_drv *d)
{
	if (d->event_idx)
		vq_store16(used_event_of(d->avail, d->num), d->last_used);
	else
		vq_store16(&d->avail->flags, 0);
	split_mb();
	return vq_load16(&d->used->idx) != d->last_used;
}

void vq_split_drv_disable_notify(struct vq_split_drv *d)
{
	if (d->event_idx)
		vq_store16(used_event_of(d->avail, d->num),
			   (uint16_t)(d->last_used - 1));
	else
		vq_store16(&d->avail->flags, VIRTQ_AVAIL_F_NO_INTERRUPT);
}

struct virtq_desc *vq_split_drv_desc(struct vq_split_drv *d, unsigned int i)
{
	return i < d->num ? &d->desc[i] : NULL;
}

void vq_split_drv_set_avail_idx(struct vq_split_drv *d, uint16_t idx)
{
	vq_wmb();
	vq_store16(&d->avail->idx, idx);
}

void vq_split_drv_set_avail_flags(struct vq_split_drv *d, uint16_t flags)
{
	vq_store16(&d->avail->flags, flags);
}

int vq_split_drv_set_avail_ring(struct vq_split_drv *d, unsigned int i,
				uint16_t head)
{
	if (i >= d->num)
		return -EINVAL;
	vq_store16(&d->avail->ring[i], head);
	return 0;
}

void vq_split_drv_set_used_event(struct vq_split_drv *d, uint16_t v)
{
	vq_store16(used_event_of(d->avail, d->num), v);
}

/* A guest address no region holds: one past the highest region. */
static uint64_t drv_outside(const struct vq_split_drv *d)
{
	uint64_t end = 0;
	unsigned int i;

	for (i = 0; i < d->mem->n; i++)
		end = VUC_MAX(end, d->mem->r[i].gpa + d->mem->r[i].size);
	return end;
}

/* The region holding the scratch buffer: where a straddling buffer starts. */
static uint64_t drv_scratch_region_end(const struct vq_split_drv *d)
{
	unsigned int i;

	for (i = 0; i < d->mem->n; i++) {
		const struct gmem_region *r = &d->mem->r[i];

		if (d->scratch_gpa >= r->gpa &&
		    d->scratch_gpa - r->gpa < r->size)
			return r->gpa + r->size;
	}
	return 0; /* not reached: init allocated it from a region */
}

/* An indirect table of @n descriptors in fresh guest memory. */
static int drv_table(struct vq_split_drv *d, unsigned int n, uint64_t *gpa,
		     struct virtq_desc **t)
{
	void *p;
	int ret;

	ret = drv_alloc(d->mem, (uint64_t)n * sizeof(struct virtq_desc),
			VIRTQ_DESC_ALIGN, gpa, &p);
	if (ret < 0)
		return ret;
	*t = p;
	return 0;
}

int vq_split_drv_hostile(struct vq_split_drv *d, enum vq_hostile h,
			 unsigned int variant)
{
	const uint16_t F_NEXT = VIRTQ_DESC_F_NEXT;
	const uint64_t s = d->scratch_gpa;
	struct virtq_desc *t = NULL;
	uint64_t tgpa = 0;
	uint16_t head, i;
	unsigned int k, need = 1;
	int ret;

	switch (h) {
	case VQ_HOSTILE_CHAIN_TOO_LONG:
	case VQ_HOSTILE_INDIRECT_BAD_LEN:
	case VQ_HOSTILE_NEXT_OUT_OF_RANGE:
	case VQ_HOSTILE_HEAD_OUT_OF_RANGE:
		if (variant > 1)
			return -EINVAL;
		break;
	default:
		if (variant)
			return -EINVAL;
		break;
	}

	switch (h) {
	case VQ_HOSTILE_AVAIL_JUMP:
		vq_split_drv_set_avail_idx(d,
					   (uint16_t)(d->pub_idx + d->num + 1));
		return 0;
	case VQ_HOSTILE_HEAD_OUT_OF_RANGE:
		drv_avail_put(d, variant ? 0xffff : (uint16_t)d->num);
		vq_split_drv_publish(d);
		return 0;
	case VQ_HOSTILE_LOOP_NEXT:
		need = VUC_MIN(3u, d->num);
		break;
	case VQ_HOSTILE_CHAIN_TOO_LONG:
		need = variant ? 1 : d->num;
		break;
	case VQ_HOSTILE_LOOP_SELF:
	case VQ_HOSTILE_INDIRECT_NESTED:
	case VQ_HOSTILE_INDIRECT_BAD_LEN:
	case VQ_HOSTILE_ADDR_OUTSIDE:
	case VQ_HOSTILE_ADDR_STRADDLE:
	case VQ_HOSTILE_ZERO_LEN:
	case VQ_HOSTILE_NEXT_OUT_OF_RANGE:
	case VQ_HOSTILE_REWRITE_AFTER_KICK:
		break;
	case VQ_HOSTILE_WRAP_LIE: /* packed only */
	default:
		return -ENOTSUP;
	}
	if (need > d->num_free)
		return -ENOSPC;

	/* Tables first: on -ENOMEM the ring is untouched. */
	switch (h) {
	case VQ_HOSTILE_CHAIN_TOO_LONG:
		if (!variant)
			break;
		ret = drv_table(d, d->num + 1, &tgpa, &t);
		if (ret < 0)
			return ret;
		for (k = 0; k <= d->num; k++)
			desc_write(&t[k], s, 1, k < d->num ? F_NEXT : 0,
				   (uint16_t)(k + 1));
		break;
	case VQ_HOSTILE_INDIRECT_NESTED:
	case VQ_HOSTILE_INDIRECT_BAD_LEN:
		ret = drv_table(d, 2, &tgpa, &t);
		if (ret < 0)
			return ret;
		desc_write(&t[0], s, 16, F_NEXT, 1);
		if (h == VQ_HOSTILE_INDIRECT_NESTED)
			desc_write(&t[1], tgpa, 32, VIRTQ_DESC_F_INDIRECT, 0);
		else
			desc_write(&t[1], s + 16, 16, VIRTQ_DESC_F_WRITE, 0);
		break;
	default:
		break;
	}

	head = drv_take(d, need, 0, 64);
	switch (h) {
	case VQ_HOSTILE_LOOP_SELF:
		desc_write(&d->desc[head], s, 16, F_NEXT, head);
		break;
	case VQ_HOSTILE_LOOP_NEXT:
	case VQ_HOSTILE_CHAIN_TOO_LONG:
		if (h == VQ_HOSTILE_CHAIN_TOO_LONG && variant) {
			desc_write(&d->desc[head], tgpa,
				   (d->num + 1) *
					   (uint32_t)sizeof(struct virtq_desc),
				   VIRTQ_DESC_F_INDIRECT, 0);
			break;
		}
		/* Through every descriptor taken, then back to the head. */
		for (k = 0, i = head; k < need; k++, i = d->next[i])
			desc_write(&d->desc[i], s, 1, F_NEXT,
				   k + 1 < need ? d->next[i] : head);
		break;
	case VQ_HOSTILE_INDIRECT_NESTED:
		desc_write(&d->desc[head], tgpa, 32, VIRTQ_DESC_F_INDIRECT, 0);
		break;
	case VQ_HOSTILE_INDIRECT_BAD_LEN:
		desc_write(&d->desc[head], tgpa, variant ? 0 : 24,
			   VIRTQ_DESC_F_INDIRECT, 0);
		break;
	case VQ_HOSTILE_ADDR_OUTSIDE:
		desc_write(&d->desc[head], drv_outside(d), 16, 0, 0);
		break;
	case VQ_HOSTILE_ADDR_STRADDLE:
		desc_write(&d->desc[head], drv_scratch_region_end(d) - 8, 16, 0,
			   0);
		break;
	case VQ_HOSTILE_ZERO_LEN:
		desc_write(&d->desc[head], s, 0, 0, 0);
		break;
	case VQ_HOSTILE_NEXT_OUT_OF_RANGE:
		desc_write(&d->desc[head], s, 16, F_NEXT,
			   variant ? 0xffff : (uint16_t)d->num);
		break;
	case VQ_HOSTILE_REWRITE_AFTER_KICK:
		desc_write(&d->desc[head], s, 16, 0, 0);
		break;
	default:
		break;
	}
	drv_avail_put(d, head);
	vq_split_drv_publish(d);
	return head;
}

int vq_split_drv_rewrite(struct vq_split_drv *d, unsigned int head)
{
	struct virtq_desc *dp;

	if (head >= d->num || !d->slot[head].busy)
		return -EINVAL;
	dp = &d->desc[head];
	/* One store, so a device sees the old address or the new one. */
	__atomic_store_n(&dp->addr, htole64(drv_outside(d)), __ATOMIC_RELAXED);
	return 0;
}
