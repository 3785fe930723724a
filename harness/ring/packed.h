/* SPDX-License-Identifier: MIT */
/*
 * packed.h - the packed virtqueue (specs/virtio/packed-ring.tex), both sides.
 *
 * Device side (the reference back-end): pop a chain into a scatter list,
 * push one used descriptor per chain, decide whether to notify the driver,
 * and the VHOST_USER_SET_VRING_BASE / GET_VRING_BASE state. Guest memory is
 * hostile and may change under us: each descriptor is read once, every walk
 * is bounded by the queue size, every buffer is translated over its whole
 * length.
 *
 * Driver side (the fake front-end): lay out a queue in guest memory, add
 * chains (direct or indirect), publish, decide whether to kick, reap used
 * descriptors while checking what the device (the party under test) wrote,
 * lay hostile constructs, and write any raw value.
 *
 * Positions are ring slots (0 .. size - 1) plus a wrap counter, as the
 * layout has no free-running index. Any queue size 1..32768 is legal.
 *
 * Two spec rules that differ from the split layout:
 * - Inside an indirect table only VIRTQ_DESC_F_WRITE counts: the other flags
 *   and the buffer id "are reserved and are ignored by the device". So an
 *   INDIRECT flag there (VQ_HOSTILE_INDIRECT_NESTED) is a plain buffer, not
 *   an error and not a second table.
 * - A wrap-counter lie (VQ_HOSTILE_WRAP_LIE) is -EPROTO: the next slot has
 *   AVAIL == USED == the driver wrap counter expected there (a used
 *   descriptor of a lap the device has not reached: a legal driver never
 *   writes USED equal to its own counter), or a chain's later descriptor is
 *   not available (the driver must make them available before the head).
 */
#ifndef VUC_RING_PACKED_H
#define VUC_RING_PACKED_H

#include <stdbool.h>
#include <stdint.h>

#include "ring/gmem.h"
#include "ring/vq.h"

/* Event suppression off_wrap, and the SET/GET_VRING_BASE halves. */
#define VQ_PACKED_WRAP_BIT 15
#define VQ_PACKED_OFF_MASK 0x7fffu

/**
 * vq_packed_size_ok() - Whether @size is a legal packed queue size
 *
 * Return: true from 1 to VQ_MAX_SIZE (32768), powers of two or not.
 */
bool vq_packed_size_ok(unsigned int size);

/**
 * vq_packed_part_sizes() - Bytes of each ring part for a queue size
 * @size:	queue size
 * @features:	ignored (no packed part depends on a feature); here so both
 *		layouts have the same shape
 * @desc:	out (may be NULL): descriptor ring, 16 * @size
 * @driver:	out (may be NULL): driver area (Driver Event Suppression), 4
 * @device:	out (may be NULL): device area (Device Event Suppression), 4
 *
 * Return: 0, or -EINVAL for a size of 0 or above 32768.
 */
int vq_packed_part_sizes(unsigned int size, uint64_t features, uint64_t *desc,
			 uint64_t *driver, uint64_t *device);

/*
 * Device side. Fields are read-only to callers: use the functions.
 */
struct vq_packed_dev {
	struct pvirtq_desc *desc;
	const struct pvirtq_event_suppress *driver; /* driver area: read */
	struct pvirtq_event_suppress *device;	    /* device area: written */
	const struct gmem *mem; /* translates descriptor addresses (gpa) */
	unsigned int size;
	uint16_t avail_pos;  /* slot of the next descriptor to read */
	bool avail_wrap;     /* driver wrap counter expected there */
	uint16_t used_pos;   /* slot the next used descriptor goes to */
	bool used_wrap;	     /* device wrap counter */
	uint32_t inflight;   /* slots popped, not yet covered by a push */
	uint32_t used_since; /* slots pushed since the last notify decision */
	bool event_idx;	     /* VIRTIO_F_EVENT_IDX negotiated */
	bool indirect;	     /* VIRTIO_F_INDIRECT_DESC negotiated */
	unsigned int hint;   /* gmem region that translated last */
};

/**
 * vq_packed_dev_init() - Device side of a queue whose parts are mapped here
 * @mem:	guest memory that translates descriptor addresses; must stay
 *		valid (and not change under a running pop) while @q is used
 * @size:	queue size, 1..32768, not necessarily a power of two
 * @features:	negotiated feature bits (VIRTIO_F_EVENT_IDX,
 *		VIRTIO_F_INDIRECT_DESC are the ones looked at)
 * @desc, @driver, @device: the three parts, already translated by the
 *		caller over their whole vq_packed_part_sizes() ranges
 *
 * Starts as a fresh queue: slot 0 and wrap counter 1 on both sides (see
 * vq_packed_dev_set_base()). Nothing is written to guest memory.
 *
 * Return: 0, or -EINVAL for a bad @size, a NULL part, or a part not aligned
 *	   for the accesses made to it (desc 8, events 2 bytes). @q is left
 *	   untouched on error.
 */
int vq_packed_dev_init(struct vq_packed_dev *q, const struct gmem *mem,
		       unsigned int size, uint64_t features,
		       struct pvirtq_desc *desc,
		       const struct pvirtq_event_suppress *driver,
		       struct pvirtq_event_suppress *device);

/**
 * vq_packed_dev_init_addr() - vq_packed_dev_init() from ring addresses
 * @desc, @driver, @device: addresses of the descriptor ring, driver area
 *		and device area (VHOST_USER_SET_VRING_ADDR's "descriptor",
 *		"available" and "used"), guest-physical or (@uva) front-end
 *		virtual
 * @uva:	translate the part addresses with gmem_uva(), not gmem_gpa()
 *
 * Checks the alignment the spec requires of each part (16, 4, 4) on the
 * addresses given, then that each part lies whole inside one region.
 *
 * Return: 0, -EINVAL (bad @size, a misaligned address, or a part mapped
 *	   misaligned here), or -EFAULT (a part not inside one region). @q is
 *	   left untouched on error.
 */
int vq_packed_dev_init_addr(struct vq_packed_dev *q, const struct gmem *mem,
			    unsigned int size, uint64_t features, uint64_t desc,
			    uint64_t driver, uint64_t device, bool uva);

/**
 * vq_packed_dev_set_base() - VHOST_USER_SET_VRING_BASE, packed form
 * @base:	bits 0-14 the next avail slot, bit 15 the driver wrap
 *		counter, bits 16-30 the next used slot, bit 31 the device wrap
 *		counter
 *
 * vhost-user.rst calls the 15-bit halves "free-running" indices, but with a
 * wrap counter beside them they can only be ring slots (QEMU and DPDK send
 * slots), so a value >= the queue size is refused. The slots between the
 * used and the avail position count as in flight: they may be pushed.
 *
 * Return: 0, or -EINVAL (@q unchanged) for a slot >= the queue size or a
 *	   used position ahead of the avail one (fewer than none or more than
 *	   a ring in flight).
 */
int vq_packed_dev_set_base(struct vq_packed_dev *q, uint32_t base);

/**
 * vq_packed_dev_get_base() - VHOST_USER_GET_VRING_BASE, packed form
 *
 * Return: what vq_packed_dev_set_base() takes to resume here.
 */
uint32_t vq_packed_dev_get_base(const struct vq_packed_dev *q);

/**
 * vq_packed_dev_pop() - Take the next available chain
 * @c:		out: the chain; the caller sets @c->bufs and @c->cap. @c->id
 *		is the buffer id (from the chain's last descriptor, or from
 *		the indirect descriptor), @c->ndesc the ring slots it took
 *		(1 for an indirect chain)
 * @why:	out (may be NULL): on error, the rule the driver broke
 *
 * Reads the head's flags (then an acquire barrier) and each descriptor
 * once; walks at most the queue size of slots, an indirect table within its
 * own length. A chain may hold at most the queue size of buffers ("if not
 * limited, the maximum number of descriptors in a list is the virtqueue
 * size"), device-readable ones first, 2^32 bytes in total.
 *
 * On any error nothing is consumed: vq_packed_dev_get_base() still names the
 * offending slot, and popping again gives the same error until the driver
 * changes the ring. The caller should consider the queue broken, except
 * after -ENOSPC, which depends only on @c->cap.
 *
 * Return: 1 with a chain in @c, 0 if the next slot is not available, or
 *	   -ENOSPC: more than @c->cap buffers (@c->n says how many; @c->bufs
 *		holds the first @c->cap),
 *	   -EINVAL: zero-length buffer, indirect table length 0 or not a
 *		multiple of 16, INDIRECT with NEXT or inside a chain, a
 *		readable buffer after a writable one, more than 2^32 bytes,
 *	   -ELOOP: NEXT on every slot of the ring (the walk would come back
 *		to its head), or an indirect table of more than the queue
 *		size of descriptors,
 *	   -EFAULT: a buffer or indirect table not inside one region,
 *	   -EPROTO: a wrap-counter lie (see the top of this file), or
 *		INDIRECT without VIRTIO_F_INDIRECT_DESC.
 */
int vq_packed_dev_pop(struct vq_packed_dev *q, struct vq_chain *c,
		      const char **why);

/**
 * vq_packed_dev_push() - Write the used descriptor for a popped chain
 * @id:		its buffer id (&vq_chain.id)
 * @ndesc:	the slots it took (&vq_chain.ndesc)
 * @len:	bytes written into its writable buffers
 *
 * Chains may be pushed in any order. The used descriptor goes to the next
 * used slot with @id, @len, and VIRTQ_DESC_F_WRITE when @len is non-zero
 * (the spec's "whether any data has been written"); its flags are written
 * last, after a release barrier. The device then skips @ndesc slots. @id
 * and @len are not checked against the chain: a back-end with a seeded bug
 * may lie.
 *
 * Return: 0, or -EINVAL (@q unchanged) if @id does not fit 16 bits, or
 *	   @ndesc is 0 or more than the slots in flight (a chain pushed
 *	   twice).
 */
int vq_packed_dev_push(struct vq_packed_dev *q, unsigned int id,
		       unsigned int ndesc, uint32_t len);

/**
 * vq_packed_dev_should_notify() - Whether the driver needs a used buffer
 *				   notification for what was pushed since
 *				   the previous call
 *
 * Full barrier, then the Driver Event Suppression structure:
 * RING_EVENT_FLAGS_DISABLE no, ENABLE yes, DESC (with VIRTIO_F_EVENT_IDX)
 * when a used descriptor was written over the slot and wrap counter in its
 * off_wrap. DESC without EVENT_IDX, the reserved value 3, and DESC after a
 * whole ring of pushes count as ENABLE: notifying too often is always
 * safe. Reserved flag bits are ignored.
 *
 * Return: true to notify; false if nothing was pushed since the last call.
 */
bool vq_packed_dev_should_notify(struct vq_packed_dev *q);

/**
 * vq_packed_dev_enable_notify() - Ask the driver to kick for new buffers
 *
 * Writes RING_EVENT_FLAGS_ENABLE, or with VIRTIO_F_EVENT_IDX
 * RING_EVENT_FLAGS_DESC at the next slot to read; then looks at that slot
 * again: a buffer made available just before is otherwise never kicked.
 *
 * Return: true if a descriptor is available (pop before sleeping).
 */
bool vq_packed_dev_enable_notify(struct vq_packed_dev *q);

/**
 * vq_packed_dev_disable_notify() - Tell the driver kicks are not needed
 *				    (RING_EVENT_FLAGS_DISABLE; advisory)
 */
void vq_packed_dev_disable_notify(struct vq_packed_dev *q);

/**
 * vq_packed_dev_set_event() - Write the Device Event Suppression structure
 *			       raw: @off_wrap, release barrier, @flags
 * @flags:	RING_EVENT_FLAGS_*, or any value a seeded bug wants
 * @off_wrap:	slot | wrap counter << 15, e.g. vq_packed_dev_avail_event()
 */
void vq_packed_dev_set_event(struct vq_packed_dev *q, uint16_t flags,
			     uint16_t off_wrap);

/**
 * vq_packed_dev_avail_event() - off_wrap of the next slot to read
 *
 * Return: avail slot | driver wrap counter << 15: "kick me when that one is
 *	   made available".
 */
uint16_t vq_packed_dev_avail_event(const struct vq_packed_dev *q);

/*
 * Driver side.
 */
struct vq_packed_id; /* per buffer id bookkeeping, private */

struct vq_packed_drv {
	struct gmem *mem;
	unsigned int size;
	bool event_idx; /* VIRTIO_F_EVENT_IDX negotiated */
	bool indirect;	/* VIRTIO_F_INDIRECT_DESC negotiated */
	/* The parts, by guest address and as mapped here. */
	uint64_t desc_gpa, driver_gpa, device_gpa;
	struct pvirtq_desc *desc;
	struct pvirtq_event_suppress *driver;	    /* written here */
	const struct pvirtq_event_suppress *device; /* read here */
	/* Per buffer id indirect tables, @ind_max descriptors each. */
	unsigned int ind_max;
	uint64_t ind_gpa;
	struct pvirtq_desc *ind;
	uint64_t scratch_gpa; /* 4 KiB the hostile constructs point at */
	uint8_t *scratch;
	/* Private: the device may scribble on the ring, never on these. */
	struct vq_packed_id *ids;
	uint16_t free_id; /* head of the free id list; @size if none */
	unsigned int free_slots;
	uint16_t next_avail;	/* slot the next descriptor goes to */
	bool avail_wrap;	/* driver ring wrap counter */
	uint16_t next_used;	/* slot the next used descriptor is read at */
	bool used_wrap;		/* device ring wrap counter, as seen here */
	bool pending;		/* a head waits for publish */
	uint16_t pending_pos;	/* that head's slot */
	uint16_t pending_flags; /* and flags */
	unsigned int pending_chains;
	unsigned int pending_slots;
	uint16_t pub_pos; /* @next_avail as of the last publish */
	bool pub_wrap;
	unsigned int kick_since; /* slots published since the last kick check */
};

/**
 * vq_packed_drv_init() - Lay out a queue in guest memory
 * @mem:	where the ring, the indirect tables and the scratch buffer
 *		are allocated (gmem_alloc()); must outlive @q
 * @size:	queue size, 1..32768
 * @features:	negotiated feature bits (VIRTIO_F_EVENT_IDX decides which
 *		suppression scheme is used; VIRTIO_F_INDIRECT_DESC is
 *		recorded, never enforced: a case may add indirect chains
 *		anyway, to lie)
 * @ind_max:	descriptors per indirect table, one table per buffer id; 0
 *		for none. At most VQ_MAX_SIZE.
 *
 * The ring is zeroed, both event structures are RING_EVENT_FLAGS_ENABLE,
 * both wrap counters 1. Allocates host memory for the id bookkeeping,
 * released by vq_packed_drv_fini(); guest memory is never released
 * (gmem_alloc() is a bump allocator).
 *
 * Return: 0, -EINVAL (bad @size or @ind_max, or guest memory mapped
 *	   misaligned), -ENOMEM (guest or host memory). On error @q holds
 *	   nothing to release.
 */
int vq_packed_drv_init(struct vq_packed_drv *q, struct gmem *mem,
		       unsigned int size, uint64_t features,
		       unsigned int ind_max);

/** vq_packed_drv_fini() - Release host memory; @q may be initialised again. */
void vq_packed_drv_fini(struct vq_packed_drv *q);

/**
 * vq_packed_drv_set_base() - Start at a position, as if chains had already
 *			      gone round
 * @base:	the packed SET_VRING_BASE form; the avail and used halves
 *		must be equal (nothing in flight)
 *
 * Rewrites every slot's flags to what a legal history leaves (used in this
 * lap before the slot, in the previous lap from it on). Only before the
 * device starts; pass the same @base to vq_packed_dev_set_base().
 *
 * Return: 0, -EINVAL (a slot >= the queue size, or halves that differ), or
 *	   -EPROTO if chains are in flight or added (@q unchanged).
 */
int vq_packed_drv_set_base(struct vq_packed_drv *q, uint32_t base);

/**
 * vq_packed_drv_add() - Add a chain (not yet visible to the device)
 * @bufs:	@n buffers, written in the order given (@hva ignored): the
 *		spec wants the writable ones last, but nothing here enforces
 *		it, nor checks an address
 * @indirect:	put the buffers in this buffer id's indirect table and one
 *		VIRTQ_DESC_F_INDIRECT descriptor in the ring
 * @token:	handed back by vq_packed_drv_reap() for this chain
 *
 * Every descriptor is written in full, with the buffer id in each, except
 * the flags of the first head added since the last publish: the device
 * cannot get past that slot, so later chains are hidden too.
 *
 * Return: the buffer id (>= 0), -EINVAL (@n is 0, or more than the queue
 *	   size or @ind_max could ever hold), or -ENOSPC (not enough free
 *	   slots now: reap first). @q is unchanged on error.
 */
int vq_packed_drv_add(struct vq_packed_drv *q, const struct vq_buf *bufs,
		      unsigned int n, bool indirect, uint64_t token);

/**
 * vq_packed_drv_publish() - Make added chains visible: release barrier,
 *			     then the first pending head's flags
 *
 * Return: how many chains this published.
 */
unsigned int vq_packed_drv_publish(struct vq_packed_drv *q);

/**
 * vq_packed_drv_kick_needed() - Whether the device wants an available
 *				 buffer notification for what was published
 *				 since the previous call
 *
 * Full barrier, then the Device Event Suppression structure, judged as
 * vq_packed_dev_should_notify() judges the driver's.
 *
 * Return: true to kick; false if nothing was published since the last call.
 */
bool vq_packed_drv_kick_needed(struct vq_packed_drv *q);

/**
 * vq_packed_drv_reap() - Take the next used descriptor
 * @token:	out: the token the chain was added with
 * @len:	out: the length the device wrote; 0 when it did not set
 *		VIRTQ_DESC_F_WRITE (the length is reserved then)
 * @why:	out (may be NULL): on error, what the device got wrong
 *
 * Validates what the device wrote. The descriptor is consumed (and the
 * chain's slots and id freed) on success and on -EMSGSIZE only; after any
 * other error nothing changed and the queue should be considered broken.
 *
 * Return: 1 with a chain, 0 if none, or
 *	   -EINVAL: buffer id >= the queue size,
 *	   -EPROTO: buffer id not in flight (one the device invented, or
 *		returned twice),
 *	   -EMSGSIZE: @len exceeds the chain's writable bytes (@token and
 *		@len are set).
 */
int vq_packed_drv_reap(struct vq_packed_drv *q, uint64_t *token, uint32_t *len,
		       const char **why);

/**
 * vq_packed_drv_enable_notify() - Ask the device to notify used buffers
 *
 * Writes RING_EVENT_FLAGS_ENABLE, or with VIRTIO_F_EVENT_IDX
 * RING_EVENT_FLAGS_DESC at the next used slot; then looks at that slot.
 *
 * Return: true if a used descriptor is waiting (reap before sleeping).
 */
bool vq_packed_drv_enable_notify(struct vq_packed_drv *q);

/**
 * vq_packed_drv_disable_notify() - Tell the device notifications are not
 *				    needed (RING_EVENT_FLAGS_DISABLE; advisory)
 */
void vq_packed_drv_disable_notify(struct vq_packed_drv *q);

/**
 * vq_packed_drv_used_event() - off_wrap of the next used slot expected
 *
 * Return: next used slot | used wrap counter << 15: "notify me when the
 *	   next used descriptor is written".
 */
uint16_t vq_packed_drv_used_event(const struct vq_packed_drv *q);

/*
 * Raw access, so that cases can make any byte pattern. None of these
 * change the driver's own bookkeeping.
 */

/** vq_packed_drv_desc() - Slot @i. Return: it, or NULL if out of range. */
struct pvirtq_desc *vq_packed_drv_desc(struct vq_packed_drv *q, unsigned int i);

/**
 * vq_packed_drv_set_event() - Write the Driver Event Suppression structure:
 *			       @off_wrap, release barrier, @flags
 */
void vq_packed_drv_set_event(struct vq_packed_drv *q, uint16_t flags,
			     uint16_t off_wrap);

/**
 * vq_packed_drv_hostile() - Lay hostile construct @h at the next slots and
 *			     publish it
 * @variant:	0, or a second form where one exists (see below)
 *
 * What vq_packed_dev_pop() then returns:
 *   VQ_HOSTILE_CHAIN_TOO_LONG: -ELOOP. 0: NEXT on every slot, so the walk
 *	would come back to its head (needs the whole ring free); 1: an
 *	indirect table of queue size + 1 buffers.
 *   VQ_HOSTILE_INDIRECT_NESTED: 1, a chain. A one-entry table whose entry
 *	has INDIRECT set and points at a valid one-entry table; the device
 *	must ignore the flag, so the entry is a 16-byte readable buffer.
 *   VQ_HOSTILE_INDIRECT_BAD_LEN: -EINVAL. 0: table length 24; 1: 0.
 *   VQ_HOSTILE_ADDR_OUTSIDE: -EFAULT, a buffer past every region.
 *   VQ_HOSTILE_ADDR_STRADDLE: -EFAULT, 16 bytes from 8 before the end of
 *	region 0.
 *   VQ_HOSTILE_ZERO_LEN: -EINVAL.
 *   VQ_HOSTILE_WRAP_LIE: -EPROTO. 0: a two-slot chain whose second slot
 *	keeps the previous lap's flags (not available; needs a queue size of
 *	2 or more); 1: a head with AVAIL == USED == the wrap counter.
 *   VQ_HOSTILE_REWRITE_AFTER_KICK: a valid one-buffer chain, published:
 *	kick, then vq_packed_drv_rewrite() it.
 * The others name split fields (next, avail index, avail ring): -ENOTSUP.
 *
 * Slots and a buffer id are taken as vq_packed_drv_add() takes them (token
 * 0), so a device that accepts the construct can push it back.
 *
 * Return: the buffer id, -ENOTSUP for a construct of the split layout or an
 *	   unknown one, -EINVAL for an unknown @variant (or WRAP_LIE 0 on a
 *	   queue of size 1), -ENOSPC (too few free slots or ids), -ENOMEM (no
 *	   guest memory for a table). Nothing is added to the ring on
 *	   error.
 */
int vq_packed_drv_hostile(struct vq_packed_drv *q, enum vq_hostile h,
			  unsigned int variant);

/**
 * vq_packed_drv_rewrite() - Point the first descriptor of in-flight chain
 *			     @id outside every region (the second half of
 *			     VQ_HOSTILE_REWRITE_AFTER_KICK)
 *
 * A device that popped before sees the old chain, one that pops after sees
 * -EFAULT; one that re-reads a descriptor it already checked may see both.
 *
 * Return: 0, or -EINVAL if @id is not a chain in flight.
 */
int vq_packed_drv_rewrite(struct vq_packed_drv *q, unsigned int id);

#endif /* VUC_RING_PACKED_H */
