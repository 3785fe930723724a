// SPDX-License-Identifier: MIT
/*
 * packed.c - the packed virtqueue, device side and driver side.
 *
 * Spec: specs/virtio/packed-ring.tex (wrap counters, chaining, indirect
 * descriptors, event suppression, the driver and device requirements) and
 * vhost-user.rst "Vring descriptor indices for packed virtqueues".
 *
 * A descriptor is available in the lap whose wrap counter is w when its
 * AVAIL bit is w and its USED bit is !w; it is used when both bits are the
 * wrap counter of the lap in which the device wrote it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "ring/packed.h"

#define AVAIL VIRTQ_DESC_F_AVAIL
#define USED VIRTQ_DESC_F_USED

/* Bytes the hostile constructs point at, and where tables go inside them. */
#define SCRATCH_LEN 4096
#define SCRATCH_TABLE 128 /* a two-entry table */
#define SCRATCH_NESTED 64 /* a one-entry table, for INDIRECT_NESTED */

struct vq_packed_id {
	uint64_t token;
	uint64_t writable; /* device-writable bytes, to check the used len */
	uint16_t head;	   /* slot of the chain's first descriptor */
	uint16_t ndesc;	   /* slots it took */
	uint16_t next_free;
	bool in_flight;
};

/* Single reads and writes of shared guest memory (vq.h has the 16-bit ones). */
static inline uint32_t load32(const uint32_t *p)
{
	return le32toh(__atomic_load_n(p, __ATOMIC_RELAXED));
}

static inline uint64_t load64(const uint64_t *p)
{
	return le64toh(__atomic_load_n(p, __ATOMIC_RELAXED));
}

static inline void store32(uint32_t *p, uint32_t v)
{
	__atomic_store_n(p, htole32(v), __ATOMIC_RELAXED);
}

static inline void store64(uint64_t *p, uint64_t v)
{
	__atomic_store_n(p, htole64(v), __ATOMIC_RELAXED);
}

/* The flags a driver writes to make a descriptor available in lap @w. */
static inline uint16_t avail_bits(bool w)
{
	return w ? AVAIL : USED;
}

/* The flags a device writes to mark a descriptor used in lap @w. */
static inline uint16_t used_bits(bool w)
{
	return w ? AVAIL | USED : 0;
}

static inline bool desc_avail(uint16_t flags, bool w)
{
	return (flags & (AVAIL | USED)) == avail_bits(w);
}

static inline bool desc_used(uint16_t flags, bool w)
{
	return (flags & (AVAIL | USED)) == used_bits(w);
}

static int fail(const char **why, const char *what, int err)
{
	if (why)
		*why = what;
	return err;
}

bool vq_packed_size_ok(unsigned int size)
{
	return size >= 1 && size <= VQ_MAX_SIZE;
}

int vq_packed_part_sizes(unsigned int size, uint64_t features, uint64_t *desc,
			 uint64_t *driver, uint64_t *device)
{
	(void)features;
	if (!vq_packed_size_ok(size))
		return -EINVAL;
	if (desc)
		*desc = (uint64_t)size * sizeof(struct pvirtq_desc);
	if (driver)
		*driver = sizeof(struct pvirtq_event_suppress);
	if (device)
		*device = sizeof(struct pvirtq_event_suppress);
	return 0;
}

/*
 * Event suppression, one judgement for both directions: @pos and @wrap are
 * where the writer of descriptors stands now, @since how many slots it
 * wrote since it last asked (at most the queue size). With
 * RING_EVENT_FLAGS_DESC the event slot is placed on the same number line as
 * @pos: a slot of the previous lap (other wrap counter) lies @size below.
 */
static bool event_wants(const struct pvirtq_event_suppress *e, bool event_idx,
			unsigned int size, uint16_t pos, bool wrap,
			unsigned int since)
{
	uint16_t flags = vq_load16(&e->flags) & 0x3; /* the rest is reserved */
	uint16_t off_wrap;
	int event;

	if (flags == RING_EVENT_FLAGS_DISABLE)
		return false;
	/* DESC is "only valid if VIRTIO_F_EVENT_IDX"; 3 is reserved. */
	if (flags != RING_EVENT_FLAGS_DESC || !event_idx || since >= size)
		return true;
	vq_rmb(); /* the writer stores off_wrap before flags */
	off_wrap = vq_load16(&e->desc);
	event = off_wrap & VQ_PACKED_OFF_MASK;
	if (!!(off_wrap >> VQ_PACKED_WRAP_BIT) != wrap)
		event -= (int)size;
	return vq_need_event((uint16_t)event, pos, (uint16_t)(pos - since));
}

static void event_write(struct pvirtq_event_suppress *e, uint16_t flags,
			uint16_t off_wrap)
{
	vq_store16(&e->desc, off_wrap);
	vq_wmb(); /* off_wrap is meaningful once flags say DESC */
	vq_store16(&e->flags, flags);
}

/*
 * Device side.
 */

int vq_packed_dev_init(struct vq_packed_dev *q, const struct gmem *mem,
		       unsigned int size, uint64_t features,
		       struct pvirtq_desc *desc,
		       const struct pvirtq_event_suppress *driver,
		       struct pvirtq_event_suppress *device)
{
	if (!vq_packed_size_ok(size) || !mem || !desc || !driver || !device)
		return -EINVAL;
	/* Single-copy atomic loads need natural alignment here. */
	if ((uintptr_t)desc % 8 || (uintptr_t)driver % 2 ||
	    (uintptr_t)device % 2)
		return -EINVAL;
	*q = (struct vq_packed_dev){
		.desc = desc,
		.driver = driver,
		.device = device,
		.mem = mem,
		.size = size,
		.avail_wrap = true, /* "initialized to 1" */
		.used_wrap = true,
		.event_idx = features & (1ULL << VIRTIO_F_EVENT_IDX),
		.indirect = features & (1ULL << VIRTIO_F_INDIRECT_DESC),
	};
	return 0;
}

int vq_packed_dev_init_addr(struct vq_packed_dev *q, const struct gmem *mem,
			    unsigned int size, uint64_t features, uint64_t desc,
			    uint64_t driver, uint64_t device, bool uva)
{
	void *(*tr)(const struct gmem *, uint64_t, uint64_t);
	void *d, *dr, *dv;
	uint64_t dlen;

	if (vq_packed_part_sizes(size, features, &dlen, NULL, NULL) < 0)
		return -EINVAL;
	if (desc % PVIRTQ_DESC_ALIGN || driver % PVIRTQ_EVENT_ALIGN ||
	    device % PVIRTQ_EVENT_ALIGN)
		return -EINVAL;
	tr = uva ? gmem_uva : gmem_gpa;
	d = tr(mem, desc, dlen);
	dr = tr(mem, driver, sizeof(struct pvirtq_event_suppress));
	dv = tr(mem, device, sizeof(struct pvirtq_event_suppress));
	if (!d || !dr || !dv)
		return -EFAULT;
	return vq_packed_dev_init(q, mem, size, features, d, dr, dv);
}

int vq_packed_dev_set_base(struct vq_packed_dev *q, uint32_t base)
{
	unsigned int apos = base & VQ_PACKED_OFF_MASK;
	bool awrap = base >> VQ_PACKED_WRAP_BIT & 1;
	unsigned int upos = base >> 16 & VQ_PACKED_OFF_MASK;
	bool uwrap = base >> (16 + VQ_PACKED_WRAP_BIT) & 1;
	unsigned int inflight;

	if (apos >= q->size || upos >= q->size)
		return -EINVAL;
	/*
	 * Same lap: used may only trail avail. Avail one lap ahead: used
	 * may trail by at most a ring, so its slot is at or past avail's.
	 */
	if (awrap == uwrap) {
		if (upos > apos)
			return -EINVAL;
		inflight = apos - upos;
	} else {
		if (apos > upos)
			return -EINVAL;
		inflight = q->size - upos + apos;
	}
	q->avail_pos = (uint16_t)apos;
	q->avail_wrap = awrap;
	q->used_pos = (uint16_t)upos;
	q->used_wrap = uwrap;
	q->inflight = inflight;
	q->used_since = 0;
	return 0;
}

uint32_t vq_packed_dev_get_base(const struct vq_packed_dev *q)
{
	uint32_t avail = q->avail_pos | (uint32_t)q->avail_wrap
						<< VQ_PACKED_WRAP_BIT;
	uint32_t used = q->used_pos | (uint32_t)q->used_wrap
					      << VQ_PACKED_WRAP_BIT;

	return avail | used << 16;
}

static void *translate_slow(struct vq_packed_dev *q, uint64_t gpa, uint64_t len)
{
	unsigned int i;

	for (i = 0; i < q->mem->n; i++) {
		const struct gmem_region *r = &q->mem->r[i];

		if (gpa >= r->gpa && len <= r->size &&
		    gpa - r->gpa <= r->size - len) {
			q->hint = i;
			return r->hva + (gpa - r->gpa);
		}
	}
	return NULL;
}

/* [gpa, gpa + len), len > 0, inside one region; the last one hit first. */
static inline void *translate(struct vq_packed_dev *q, uint64_t gpa,
			      uint64_t len)
{
	const struct gmem *m = q->mem;

	if (q->hint < m->n) {
		const struct gmem_region *r = &m->r[q->hint];

		/* Written so that no sum can overflow. */
		if (gpa >= r->gpa && len <= r->size &&
		    gpa - r->gpa <= r->size - len)
			return r->hva + (gpa - r->gpa);
	}
	return translate_slow(q, gpa, len);
}

/* Check one buffer and append it; @c->n counts past @c->cap. */
static inline int take_buf(struct vq_packed_dev *q, struct vq_chain *c,
			   uint64_t addr, uint32_t len, bool writable,
			   const char **why)
{
	void *hva;

	if (!len)
		return fail(why, "zero-length buffer", -EINVAL);
	if (writable) {
		c->writable_len += len;
	} else {
		/* "MUST place any device-writable ... after any readable" */
		if (c->writable_len)
			return fail(why,
				    "device-readable buffer after a "
				    "device-writable one",
				    -EINVAL);
		c->readable_len += len;
	}
	hva = translate(q, addr, len);
	if (!hva)
		return fail(why, "buffer not inside one guest memory region",
			    -EFAULT);
	if (c->n < c->cap)
		c->bufs[c->n] = (struct vq_buf){
			.gpa = addr,
			.len = len,
			.writable = writable,
			.hva = hva,
		};
	c->n++;
	return 0;
}

static int pop_indirect(struct vq_packed_dev *q, struct vq_chain *c,
			uint64_t addr, uint32_t len, const char **why)
{
	const uint8_t *t;
	unsigned int i, n;
	int ret;

	if (!q->indirect)
		return fail(
			why,
			"VIRTQ_DESC_F_INDIRECT without VIRTIO_F_INDIRECT_DESC",
			-EPROTO);
	if (!len || len % sizeof(struct pvirtq_desc))
		return fail(
			why,
			"indirect table length is 0 or not a multiple of 16",
			-EINVAL);
	n = len / sizeof(struct pvirtq_desc);
	/*
	 * "If not limited, the maximum number of descriptors in a list is
	 * the virtqueue size."
	 */
	if (n > q->size)
		return fail(why,
			    "indirect table of more descriptors than the queue "
			    "size",
			    -ELOOP);
	t = translate(q, addr, len);
	if (!t)
		return fail(why,
			    "indirect table not inside one guest memory region",
			    -EFAULT);
	for (i = 0; i < n; i++) {
		struct pvirtq_desc e;

		/* One copy (the table need not be aligned); never re-read. */
		memcpy(&e, t + (size_t)i * sizeof(e), sizeof(e));
		/*
		 * Only WRITE counts in a table: the rest "are reserved and
		 * are ignored by the device", the buffer id too.
		 */
		ret = take_buf(q, c, le64toh(e.addr), le32toh(e.len),
			       le16toh(e.flags) & VIRTQ_DESC_F_WRITE, why);
		if (ret)
			return ret;
	}
	return 0;
}

int vq_packed_dev_pop(struct vq_packed_dev *q, struct vq_chain *c,
		      const char **why)
{
	unsigned int pos = q->avail_pos, ndesc = 0;
	bool wrap = q->avail_wrap;
	const struct pvirtq_desc *d = &q->desc[pos];
	uint16_t flags = vq_load16(&d->flags);
	uint16_t id;
	int ret;

	if (!desc_avail(flags, wrap)) {
		/*
		 * USED == AVAIL == our counter is a used descriptor of this
		 * lap: only the device writes those, and it has not got here.
		 */
		if (desc_used(flags, wrap))
			return fail(why,
				    "next descriptor has AVAIL and USED both "
				    "equal to the driver wrap counter",
				    -EPROTO);
		return 0;
	}
	c->n = 0;
	c->readable_len = 0;
	c->writable_len = 0;
	for (;;) {
		uint64_t addr;
		uint32_t len;

		vq_rmb(); /* the descriptor after the flags that publish it */
		addr = load64(&d->addr);
		len = load32(&d->len);
		id = vq_load16(&d->id);
		ndesc++;
		if (flags & VIRTQ_DESC_F_INDIRECT) {
			/*
			 * "MUST NOT write direct descriptors with INDIRECT
			 * set in a scatter-gather list linked by NEXT"
			 */
			if (ndesc > 1 || flags & VIRTQ_DESC_F_NEXT)
				return fail(why,
					    "VIRTQ_DESC_F_INDIRECT in a list "
					    "linked by VIRTQ_DESC_F_NEXT",
					    -EINVAL);
			ret = pop_indirect(q, c, addr, len, why);
			if (ret)
				return ret;
			break;
		}
		ret = take_buf(q, c, addr, len, flags & VIRTQ_DESC_F_WRITE,
			       why);
		if (ret)
			return ret;
		if (!(flags & VIRTQ_DESC_F_NEXT))
			break; /* the buffer id is the last descriptor's */
		if (ndesc == q->size)
			return fail(why,
				    "VIRTQ_DESC_F_NEXT on every descriptor of "
				    "the ring",
				    -ELOOP);
		if (++pos == q->size) {
			pos = 0;
			wrap = !wrap;
		}
		d = &q->desc[pos];
		flags = vq_load16(&d->flags);
		/* The driver makes the head available last. */
		if (!desc_avail(flags, wrap))
			return fail(why,
				    "a later descriptor of the list is not "
				    "available",
				    -EPROTO);
	}
	if (c->readable_len + c->writable_len > 1ULL << 32)
		return fail(why, "list longer than 2^32 bytes", -EINVAL);
	if (c->n > c->cap)
		return fail(why, "more buffers than the caller's chain holds",
			    -ENOSPC);
	c->id = id;
	c->ndesc = (uint16_t)ndesc;
	if (++pos == q->size) {
		pos = 0;
		wrap = !wrap;
	}
	q->avail_pos = (uint16_t)pos;
	q->avail_wrap = wrap;
	q->inflight += ndesc;
	return 1;
}

int vq_packed_dev_push(struct vq_packed_dev *q, unsigned int id,
		       unsigned int ndesc, uint32_t len)
{
	struct pvirtq_desc *d = &q->desc[q->used_pos];
	unsigned int pos;

	if (id > UINT16_MAX || !ndesc || ndesc > q->inflight)
		return -EINVAL;
	store32(&d->len, len);
	vq_store16(&d->id, (uint16_t)id);
	vq_wmb(); /* id and len before the flags that hand them over */
	vq_store16(&d->flags,
		   used_bits(q->used_wrap) | (len ? VIRTQ_DESC_F_WRITE : 0));
	/* Skip the rest of the chain's slots; ndesc <= inflight <= size. */
	pos = q->used_pos + ndesc;
	if (pos >= q->size) {
		pos -= q->size;
		q->used_wrap = !q->used_wrap;
	}
	q->used_pos = (uint16_t)pos;
	q->inflight -= ndesc;
	q->used_since = VUC_MIN(q->used_since + ndesc, q->size);
	return 0;
}

bool vq_packed_dev_should_notify(struct vq_packed_dev *q)
{
	unsigned int since = q->used_since;

	q->used_since = 0;
	if (!since)
		return false;
	vq_mb(); /* used flags out before the driver's suppression is read */
	return event_wants(q->driver, q->event_idx, q->size, q->used_pos,
			   q->used_wrap, since);
}

uint16_t vq_packed_dev_avail_event(const struct vq_packed_dev *q)
{
	return (uint16_t)(q->avail_pos | (unsigned int)q->avail_wrap
						 << VQ_PACKED_WRAP_BIT);
}

void vq_packed_dev_set_event(struct vq_packed_dev *q, uint16_t flags,
			     uint16_t off_wrap)
{
	event_write(q->device, flags, off_wrap);
}

bool vq_packed_dev_enable_notify(struct vq_packed_dev *q)
{
	if (q->event_idx)
		event_write(q->device, RING_EVENT_FLAGS_DESC,
			    vq_packed_dev_avail_event(q));
	else
		event_write(q->device, RING_EVENT_FLAGS_ENABLE, 0);
	vq_mb(); /* the flags out before looking at the ring again */
	return desc_avail(vq_load16(&q->desc[q->avail_pos].flags),
			  q->avail_wrap);
}

void vq_packed_dev_disable_notify(struct vq_packed_dev *q)
{
	vq_store16(&q->device->flags, RING_EVENT_FLAGS_DISABLE);
}

/*
 * Driver side.
 */

int vq_packed_drv_init(struct vq_packed_drv *q, struct gmem *mem,
		       unsigned int size, uint64_t features,
		       unsigned int ind_max)
{
	uint64_t dgpa, drgpa, dvgpa, igpa = 0, sgpa, dlen, ilen;
	struct pvirtq_desc *desc, *ind = NULL;
	struct pvirtq_event_suppress *dr, *dv;
	struct vq_packed_id *ids;
	uint8_t *scratch;
	unsigned int i;
	int ret;

	if (vq_packed_part_sizes(size, features, &dlen, NULL, NULL) < 0 ||
	    ind_max > VQ_MAX_SIZE)
		return -EINVAL;
	ilen = (uint64_t)size * ind_max * sizeof(struct pvirtq_desc);
	ids = calloc(size, sizeof(*ids));
	if (!ids)
		return -ENOMEM;
	ret = -ENOMEM;
	if (gmem_alloc(mem, dlen, PVIRTQ_DESC_ALIGN, &dgpa) < 0 ||
	    gmem_alloc(mem, sizeof(*dr), PVIRTQ_EVENT_ALIGN, &drgpa) < 0 ||
	    gmem_alloc(mem, sizeof(*dv), PVIRTQ_EVENT_ALIGN, &dvgpa) < 0 ||
	    (ind_max && gmem_alloc(mem, ilen, 16, &igpa) < 0) ||
	    gmem_alloc(mem, SCRATCH_LEN, 64, &sgpa) < 0)
		goto err_free;
	desc = gmem_gpa(mem, dgpa, dlen);
	dr = gmem_gpa(mem, drgpa, sizeof(*dr));
	dv = gmem_gpa(mem, dvgpa, sizeof(*dv));
	scratch = gmem_gpa(mem, sgpa, SCRATCH_LEN);
	if (ind_max)
		ind = gmem_gpa(mem, igpa, ilen);
	ret = -EINVAL;
	if ((uintptr_t)desc % 8 || (uintptr_t)dr % 2 || (uintptr_t)dv % 2 ||
	    (uintptr_t)ind % 8)
		goto err_free;
	/* "The descriptor ring is zero-initialized." */
	memset(desc, 0, dlen);
	memset(dr, 0, sizeof(*dr));
	memset(dv, 0, sizeof(*dv));
	for (i = 0; i < size; i++)
		ids[i].next_free = (uint16_t)(i + 1);
	*q = (struct vq_packed_drv){
		.mem = mem,
		.size = size,
		.event_idx = features & (1ULL << VIRTIO_F_EVENT_IDX),
		.indirect = features & (1ULL << VIRTIO_F_INDIRECT_DESC),
		.desc_gpa = dgpa,
		.driver_gpa = drgpa,
		.device_gpa = dvgpa,
		.desc = desc,
		.driver = dr,
		.device = dv,
		.ind_max = ind_max,
		.ind_gpa = igpa,
		.ind = ind,
		.scratch_gpa = sgpa,
		.scratch = scratch,
		.ids = ids,
		.free_id = 0,
		.free_slots = size,
		.avail_wrap = true,
		.used_wrap = true,
		.pub_wrap = true,
	};
	return 0;

err_free:
	free(ids);
	return ret;
}

void vq_packed_drv_fini(struct vq_packed_drv *q)
{
	free(q->ids);
	q->ids = NULL;
}

int vq_packed_drv_set_base(struct vq_packed_drv *q, uint32_t base)
{
	unsigned int pos = base & VQ_PACKED_OFF_MASK, i;
	bool wrap = base >> VQ_PACKED_WRAP_BIT & 1;

	if ((base & 0xffff) != base >> 16 || pos >= q->size)
		return -EINVAL;
	if (q->free_slots != q->size || q->pending_chains)
		return -EPROTO;
	/* Before @pos: used in this lap; from it on: in the previous one. */
	for (i = 0; i < q->size; i++)
		vq_store16(&q->desc[i].flags,
			   used_bits(i < pos ? wrap : !wrap));
	q->next_avail = q->next_used = q->pub_pos = (uint16_t)pos;
	q->avail_wrap = q->used_wrap = q->pub_wrap = wrap;
	q->kick_since = 0;
	return 0;
}

/* Write the next slot. A head's flags wait for publish if it is the first. */
static void put_desc(struct vq_packed_drv *q, uint64_t addr, uint32_t len,
		     uint16_t id, uint16_t flags, bool head)
{
	struct pvirtq_desc *d = &q->desc[q->next_avail];

	flags |= avail_bits(q->avail_wrap);
	store64(&d->addr, addr);
	store32(&d->len, len);
	vq_store16(&d->id, id);
	if (head && !q->pending) {
		q->pending = true;
		q->pending_pos = q->next_avail;
		q->pending_flags = flags;
	} else {
		/* Hidden behind the pending head until publish. */
		vq_store16(&d->flags, flags);
	}
	if (++q->next_avail == q->size) {
		q->next_avail = 0;
		q->avail_wrap = !q->avail_wrap;
	}
}

/* Take a free id for a chain starting at the next slot. */
static uint16_t take_id(struct vq_packed_drv *q, unsigned int ndesc,
			uint64_t writable, uint64_t token)
{
	uint16_t id = q->free_id;
	struct vq_packed_id *e = &q->ids[id];

	q->free_id = e->next_free;
	*e = (struct vq_packed_id){
		.token = token,
		.writable = writable,
		.head = q->next_avail,
		.ndesc = (uint16_t)ndesc,
		.in_flight = true,
	};
	q->free_slots -= ndesc;
	q->pending_chains++;
	q->pending_slots += ndesc;
	return id;
}

static int room(const struct vq_packed_drv *q, unsigned int ndesc)
{
	return ndesc <= q->free_slots && q->free_id < q->size ? 0 : -ENOSPC;
}

int vq_packed_drv_add(struct vq_packed_drv *q, const struct vq_buf *bufs,
		      unsigned int n, bool indirect, uint64_t token)
{
	unsigned int i, ndesc = indirect ? 1 : n;
	uint64_t writable = 0;
	uint16_t id;

	if (!n || n > (indirect ? q->ind_max : q->size))
		return -EINVAL;
	if (room(q, ndesc) < 0)
		return -ENOSPC;
	for (i = 0; i < n; i++)
		if (bufs[i].writable)
			writable += bufs[i].len;
	id = take_id(q, ndesc, writable, token);
	if (indirect) {
		size_t first = (size_t)id * q->ind_max;
		struct pvirtq_desc *t = &q->ind[first];

		for (i = 0; i < n; i++) {
			store64(&t[i].addr, bufs[i].gpa);
			store32(&t[i].len, bufs[i].len);
			vq_store16(&t[i].id, 0);
			vq_store16(&t[i].flags,
				   bufs[i].writable ? VIRTQ_DESC_F_WRITE : 0);
		}
		put_desc(q, q->ind_gpa + first * sizeof(*t),
			 n * (uint32_t)sizeof(*t), id, VIRTQ_DESC_F_INDIRECT,
			 true);
		return id;
	}
	for (i = 0; i < n; i++)
		put_desc(q, bufs[i].gpa, bufs[i].len, id,
			 (bufs[i].writable ? VIRTQ_DESC_F_WRITE : 0) |
				 (i + 1 < n ? VIRTQ_DESC_F_NEXT : 0),
			 i == 0);
	return id;
}

unsigned int vq_packed_drv_publish(struct vq_packed_drv *q)
{
	unsigned int n = q->pending_chains;

	if (q->pending) {
		/*
		 * "MUST perform a suitable memory barrier before the flags
		 * update": every descriptor before the head that exposes
		 * them.
		 */
		vq_wmb();
		vq_store16(&q->desc[q->pending_pos].flags, q->pending_flags);
		q->pending = false;
	}
	q->kick_since = VUC_MIN(q->kick_since + q->pending_slots, q->size);
	q->pending_chains = 0;
	q->pending_slots = 0;
	q->pub_pos = q->next_avail;
	q->pub_wrap = q->avail_wrap;
	return n;
}

bool vq_packed_drv_kick_needed(struct vq_packed_drv *q)
{
	unsigned int since = q->kick_since;

	q->kick_since = 0;
	if (!since)
		return false;
	/*
	 * "MUST perform a suitable memory barrier before reading the Event
	 * Suppression structure"
	 */
	vq_mb();
	return event_wants(q->device, q->event_idx, q->size, q->pub_pos,
			   q->pub_wrap, since);
}

int vq_packed_drv_reap(struct vq_packed_drv *q, uint64_t *token, uint32_t *len,
		       const char **why)
{
	const struct pvirtq_desc *d = &q->desc[q->next_used];
	struct vq_packed_id *e;
	uint16_t flags, id;
	unsigned int pos;
	uint32_t l;

	if (q->free_slots == q->size)
		return 0;
	flags = vq_load16(&d->flags);
	if (!desc_used(flags, q->used_wrap))
		return 0;
	vq_rmb(); /* id and len after the flags that hand them over */
	id = vq_load16(&d->id);
	l = load32(&d->len);
	if (id >= q->size)
		return fail(why, "used buffer id is not below the queue size",
			    -EINVAL);
	e = &q->ids[id];
	if (!e->in_flight)
		return fail(why, "used buffer id is not in flight", -EPROTO);
	/*
	 * "Element Length is reserved for used descriptors without
	 * VIRTQ_DESC_F_WRITE, and is ignored by drivers."
	 */
	if (!(flags & VIRTQ_DESC_F_WRITE))
		l = 0;
	*token = e->token;
	*len = l;
	pos = q->next_used + e->ndesc;
	if (pos >= q->size) {
		pos -= q->size;
		q->used_wrap = !q->used_wrap;
	}
	q->next_used = (uint16_t)pos;
	q->free_slots += e->ndesc;
	e->in_flight = false;
	e->next_free = q->free_id;
	q->free_id = id;
	if (l > e->writable)
		return fail(why,
			    "used length exceeds the chain's writable bytes",
			    -EMSGSIZE);
	return 1;
}

uint16_t vq_packed_drv_used_event(const struct vq_packed_drv *q)
{
	return (uint16_t)(q->next_used | (unsigned int)q->used_wrap
						 << VQ_PACKED_WRAP_BIT);
}

bool vq_packed_drv_enable_notify(struct vq_packed_drv *q)
{
	if (q->event_idx)
		event_write(q->driver, RING_EVENT_FLAGS_DESC,
			    vq_packed_drv_used_event(q));
	else
		event_write(q->driver, RING_EVENT_FLAGS_ENABLE, 0);
	vq_mb(); /* the flags out before looking at the ring again */
	return q->free_slots != q->size &&
	       desc_used(vq_load16(&q->desc[q->next_used].flags), q->used_wrap);
}

void vq_packed_drv_disable_notify(struct vq_packed_drv *q)
{
	vq_store16(&q->driver->flags, RING_EVENT_FLAGS_DISABLE);
}

struct pvirtq_desc *vq_packed_drv_desc(struct vq_packed_drv *q, unsigned int i)
{
	return i < q->size ? &q->desc[i] : NULL;
}

void vq_packed_drv_set_event(struct vq_packed_drv *q, uint16_t flags,
			     uint16_t off_wrap)
{
	event_write(q->driver, flags, off_wrap);
}

/*
 * Hostile constructs.
 */

/* A guest address no region holds, with room for a buffer after it. */
static uint64_t outside_gpa(const struct gmem *m)
{
	uint64_t end = 0;
	unsigned int i;

	for (i = 0; i < m->n; i++)
		end = VUC_MAX(end, m->r[i].gpa + m->r[i].size);
	if (end <= UINT64_MAX - 0x2000) {
		end = (end + 0xfff) & ~(uint64_t)0xfff;
		if (!gmem_gpa(m, end, 1))
			return end;
	}
	if (!gmem_gpa(m, 0, 1))
		return 0;
	return UINT64_MAX - 0xfff; /* regions may not wrap: none ends here */
}

/* Flags of slot @pos, through the pending head if that is it. */
static uint16_t get_flags(const struct vq_packed_drv *q, unsigned int pos)
{
	if (q->pending && q->pending_pos == pos)
		return q->pending_flags;
	return vq_load16(&q->desc[pos].flags);
}

static void set_flags(struct vq_packed_drv *q, unsigned int pos, uint16_t flags)
{
	if (q->pending && q->pending_pos == pos)
		q->pending_flags = flags;
	else
		vq_store16(&q->desc[pos].flags, flags);
}

/* A one-slot chain with raw fields. */
static int lay_one(struct vq_packed_drv *q, uint64_t addr, uint32_t len,
		   uint16_t flags)
{
	uint16_t id;

	if (room(q, 1) < 0)
		return -ENOSPC;
	id = take_id(q, 1, flags & VIRTQ_DESC_F_WRITE ? len : 0, 0);
	put_desc(q, addr, len, id, flags, true);
	return id;
}

/* Write a table entry into the scratch buffer. */
static void scratch_desc(struct vq_packed_drv *q, unsigned int off,
			 uint64_t addr, uint32_t len, uint16_t flags)
{
	struct pvirtq_desc *t = (struct pvirtq_desc *)(q->scratch + off);

	store64(&t->addr, addr);
	store32(&t->len, len);
	vq_store16(&t->id, 0);
	vq_store16(&t->flags, flags);
}

static int chain_too_long(struct vq_packed_drv *q, unsigned int variant)
{
	struct pvirtq_desc *t;
	uint64_t gpa, len;
	unsigned int i;
	uint16_t id;

	if (variant == 0) {
		/* NEXT on every slot: the walk would come back to its head. */
		if (room(q, q->size) < 0)
			return -ENOSPC;
		id = take_id(q, q->size, 0, 0);
		for (i = 0; i < q->size; i++)
			put_desc(q, q->scratch_gpa, 16, id, VIRTQ_DESC_F_NEXT,
				 i == 0);
		return id;
	}
	if (room(q, 1) < 0)
		return -ENOSPC;
	len = (uint64_t)(q->size + 1) * sizeof(*t);
	if (gmem_alloc(q->mem, len, 16, &gpa) < 0)
		return -ENOMEM;
	t = gmem_gpa(q->mem, gpa, len);
	for (i = 0; i < q->size + 1; i++) {
		store64(&t[i].addr, q->scratch_gpa);
		store32(&t[i].len, 16);
		vq_store16(&t[i].id, 0);
		vq_store16(&t[i].flags, 0);
	}
	return lay_one(q, gpa, (uint32_t)len, VIRTQ_DESC_F_INDIRECT);
}

static int wrap_lie(struct vq_packed_drv *q, unsigned int variant)
{
	unsigned int pos = q->next_avail;
	bool wrap = q->avail_wrap;
	struct vq_buf b[2] = {
		{ .gpa = q->scratch_gpa, .len = 16 },
		{ .gpa = q->scratch_gpa + 16, .len = 16, .writable = true },
	};
	int id;

	if (variant == 1) {
		/* AVAIL == USED == the driver's counter: never a driver's. */
		id = lay_one(q, b[0].gpa, b[0].len, 0);
		if (id >= 0)
			set_flags(q, pos,
				  (get_flags(q, pos) & ~(AVAIL | USED)) |
					  used_bits(wrap));
		return id;
	}
	if (q->size < 2)
		return -EINVAL;
	id = vq_packed_drv_add(q, b, 2, false, 0);
	if (id < 0)
		return id;
	/* The second slot keeps the flags of the lap before. */
	if (++pos == q->size) {
		pos = 0;
		wrap = !wrap;
	}
	set_flags(q, pos,
		  (get_flags(q, pos) & ~(AVAIL | USED)) | avail_bits(!wrap));
	return id;
}

int vq_packed_drv_hostile(struct vq_packed_drv *q, enum vq_hostile h,
			  unsigned int variant)
{
	const struct gmem_region *r0 = &q->mem->r[0];
	uint64_t s = q->scratch_gpa;
	int id;

	switch (h) {
	case VQ_HOSTILE_CHAIN_TOO_LONG:
		if (variant > 1)
			return -EINVAL;
		id = chain_too_long(q, variant);
		break;
	case VQ_HOSTILE_INDIRECT_NESTED:
		if (variant)
			return -EINVAL;
		/* The entry is INDIRECT, pointing at a valid table. */
		scratch_desc(q, SCRATCH_NESTED, s, 16, 0);
		scratch_desc(q, SCRATCH_TABLE, s + SCRATCH_NESTED, 16,
			     VIRTQ_DESC_F_INDIRECT);
		id = lay_one(q, s + SCRATCH_TABLE, 16, VIRTQ_DESC_F_INDIRECT);
		break;
	case VQ_HOSTILE_INDIRECT_BAD_LEN:
		if (variant > 1)
			return -EINVAL;
		scratch_desc(q, SCRATCH_TABLE, s, 16, 0);
		scratch_desc(q, SCRATCH_TABLE + 16, s + 16, 16,
			     VIRTQ_DESC_F_WRITE);
		id = lay_one(q, s + SCRATCH_TABLE, variant ? 0 : 24,
			     VIRTQ_DESC_F_INDIRECT);
		break;
	case VQ_HOSTILE_ADDR_OUTSIDE:
		if (variant)
			return -EINVAL;
		id = lay_one(q, outside_gpa(q->mem), 16, 0);
		break;
	case VQ_HOSTILE_ADDR_STRADDLE:
		if (variant)
			return -EINVAL;
		/* Region 0 exists: the ring is in it or after it. */
		id = lay_one(q, r0->gpa + r0->size - VUC_MIN(r0->size, 8), 16,
			     0);
		break;
	case VQ_HOSTILE_ZERO_LEN:
		if (variant)
			return -EINVAL;
		id = lay_one(q, s, 0, 0);
		break;
	case VQ_HOSTILE_WRAP_LIE:
		if (variant > 1)
			return -EINVAL;
		id = wrap_lie(q, variant);
		break;
	case VQ_HOSTILE_REWRITE_AFTER_KICK:
		if (variant)
			return -EINVAL;
		id = lay_one(q, s, 16, 0);
		break;
	default:
		/* next, the avail index and the avail ring are split's. */
		return -ENOTSUP;
	}
	if (id >= 0)
		vq_packed_drv_publish(q);
	return id;
}

int vq_packed_drv_rewrite(struct vq_packed_drv *q, unsigned int id)
{
	if (id >= q->size || !q->ids[id].in_flight)
		return -EINVAL;
	store64(&q->desc[q->ids[id].head].addr, outside_gpa(q->mem));
	return 0;
}
