/* SPDX-License-Identifier: MIT */
/*
 * split.h - the split virtqueue (specs/virtio/split-ring.tex), both sides.
 *
 * Device side (the reference back-end): pop a chain into a scatter list,
 * push it back used with a length, decide whether to notify the driver.
 * Guest memory is hostile and may change under us: every descriptor is read
 * once into a local copy, every walk is bounded, every buffer is translated
 * over its whole length, and a hostile ring is an error, never a crash, a
 * hang, or a read outside guest memory.
 *
 * Driver side (the fake front-end): lay out the rings in guest memory, add
 * chains (direct or indirect), publish, decide whether to kick, reap used
 * entries while checking what the device (the party under test) wrote. It
 * can also lay hostile constructs on purpose and write any raw value.
 *
 * Indices are free-running 16-bit counters, as in the rings themselves.
 */
#ifndef VUC_RING_SPLIT_H
#define VUC_RING_SPLIT_H

#include <stdbool.h>
#include <stdint.h>

#include "ring/gmem.h"
#include "ring/vq.h"

/**
 * vq_split_size_ok() - Whether @num is a legal split queue size
 *
 * Return: true for a power of two from 1 to VQ_MAX_SIZE (32768).
 */
bool vq_split_size_ok(unsigned int num);

/**
 * vq_split_part_sizes() - Bytes of each ring part for a queue size
 * @num:	queue size
 * @features:	negotiated feature bits; with VIRTIO_F_EVENT_IDX the avail
 *		and used rings carry used_event / avail_event (2 more bytes)
 * @desc:	out (may be NULL): descriptor table bytes, 16 * @num
 * @avail:	out (may be NULL): available ring bytes, 4 (+2) + 2 * @num
 * @used:	out (may be NULL): used ring bytes, 4 (+2) + 8 * @num
 *
 * So that a caller can translate each part as a whole range.
 *
 * Return: 0, or -EINVAL if !vq_split_size_ok(@num).
 */
int vq_split_part_sizes(unsigned int num, uint64_t features, uint64_t *desc,
			uint64_t *avail, uint64_t *used);

/*
 * Device side. Fields are read-only to callers: use the functions.
 */
struct vq_split_dev {
	const struct virtq_desc *desc;
	const struct virtq_avail *avail;
	struct virtq_used *used;
	const struct gmem *mem; /* translates descriptor addresses (gpa) */
	unsigned int num;
	uint16_t mask;		 /* num - 1 */
	uint16_t last_avail;	 /* next avail entry to pop */
	uint16_t avail_cache;	 /* avail->idx as last read */
	uint16_t used_idx;	 /* next used entry to fill */
	uint16_t signalled_used; /* used_idx at the last notify decision */
	bool event_idx;		 /* VIRTIO_F_EVENT_IDX negotiated */
	bool indirect;		 /* VIRTIO_F_INDIRECT_DESC negotiated */
	unsigned int hint;	 /* gmem region that translated last */
};

/**
 * vq_split_dev_init() - Device side of a queue whose parts are mapped here
 * @mem:	guest memory that translates descriptor addresses; must stay
 *		valid (and not change under a running pop) while @vq is used
 * @num:	queue size
 * @features:	negotiated feature bits (VIRTIO_F_EVENT_IDX,
 *		VIRTIO_F_INDIRECT_DESC are the ones looked at)
 * @desc, @avail, @used: the three parts, already translated by the caller
 *		over their whole vq_split_part_sizes() ranges
 *
 * The next avail entry to pop is 0 (see vq_split_dev_set_base()); the next
 * used entry is read from @used->idx, as vhost-user says a back-end must.
 *
 * Return: 0, or -EINVAL for a bad @num, a NULL part, or a part not aligned
 *	   for the accesses made to it (avail 2, used 4 bytes). @vq is left
 *	   untouched on error.
 */
int vq_split_dev_init(struct vq_split_dev *vq, const struct gmem *mem,
		      unsigned int num, uint64_t features,
		      const struct virtq_desc *desc,
		      const struct virtq_avail *avail, struct virtq_used *used);

/**
 * vq_split_dev_init_addr() - vq_split_dev_init() from ring addresses
 * @desc, @avail, @used: addresses of the parts, as guest-physical
 *		addresses or (@uva) front-end virtual addresses, the latter
 *		as VHOST_USER_SET_VRING_ADDR carries them
 * @uva:	translate the part addresses with gmem_uva(), not gmem_gpa()
 *
 * Checks the alignment the spec requires of each part (16, 2, 4) on the
 * addresses given, then that each part lies whole inside one region.
 *
 * Return: 0, -EINVAL (bad @num or a misaligned part), or -EFAULT (a part
 *	   not inside one region). @vq is left untouched on error.
 */
int vq_split_dev_init_addr(struct vq_split_dev *vq, const struct gmem *mem,
			   unsigned int num, uint64_t features, uint64_t desc,
			   uint64_t avail, uint64_t used, bool uva);

/**
 * vq_split_dev_set_base() - Set the next avail entry to pop
 *			     (VHOST_USER_SET_VRING_BASE)
 * @base:	bits 0-15 the free-running avail index; bits 16-31 are
 *		reserved and must be 0
 *
 * Also re-reads the next used entry from the used ring in guest memory.
 *
 * Return: 0, or -EINVAL if reserved bits are set (@vq unchanged).
 */
int vq_split_dev_set_base(struct vq_split_dev *vq, uint32_t base);

/**
 * vq_split_dev_get_base() - The next avail entry to pop
 *			     (VHOST_USER_GET_VRING_BASE)
 *
 * Return: the free-running avail index, bits 16-31 zero.
 */
uint32_t vq_split_dev_get_base(const struct vq_split_dev *vq);

/**
 * vq_split_dev_pop() - Take the next available chain
 * @c:		out: the chain; the caller sets @c->bufs and @c->cap.
 *		@c->id is the head to push back, @c->ndesc the descriptors
 *		it holds in the ring (1 for a chain that is one indirect
 *		descriptor)
 * @why:	out (may be NULL): on error, the rule the driver broke
 *
 * Reads the avail index (acquire) only when every entry seen before has
 * been popped; each descriptor once; checks every buffer over its whole
 * length and every link against its table; an indirect table is walked
 * within its own length. A chain may hold at most the queue size of
 * buffers, device-readable ones first, 2^32 bytes in total.
 *
 * On any error nothing is consumed: vq_split_dev_get_base() still names the
 * offending entry, and popping again gives the same error until the driver
 * changes the ring. The caller should consider the queue broken, except
 * after -ENOSPC, which depends only on @c->cap.
 *
 * Return: 1 with a chain in @c, 0 if nothing is available, or
 *	   -ENOSPC: more than @c->cap buffers (@c->n says how many; @c->bufs
 *		holds the first @c->cap),
 *	   -EINVAL: avail index more than the queue size ahead, head or next
 *		index out of range, zero-length buffer, indirect table length
 *		0 or not a multiple of 16, indirect inside an indirect table,
 *		INDIRECT with NEXT, a readable buffer after a writable one,
 *		more than 2^32 bytes,
 *	   -ELOOP: a descriptor loop or more buffers than the queue size,
 *	   -EFAULT: a buffer or indirect table not inside one region,
 *	   -EPROTO: INDIRECT without VIRTIO_F_INDIRECT_DESC.
 */
int vq_split_dev_pop(struct vq_split_dev *vq, struct vq_chain *c,
		     const char **why);

/**
 * vq_split_dev_push() - Return chain @id used, @len bytes written, and
 *			 publish it (release)
 *
 * Return: 0, or -EINVAL if @id is not a descriptor index (@vq unchanged).
 *	   Whether @id was popped is the caller's business.
 */
int vq_split_dev_push(struct vq_split_dev *vq, unsigned int id, uint32_t len);

/**
 * vq_split_dev_should_notify() - Whether the driver needs a used buffer
 *				  notification for what was pushed since the
 *				  previous call
 *
 * With VIRTIO_F_EVENT_IDX: when the used index passed used_event; else
 * when the avail flags lack VIRTQ_AVAIL_F_NO_INTERRUPT. Full barrier
 * first, so a suppression change racing with the push is not missed.
 *
 * Return: true to notify; false if nothing was pushed since the last call.
 */
bool vq_split_dev_should_notify(struct vq_split_dev *vq);

/**
 * vq_split_dev_enable_notify() - Ask the driver to kick for new buffers
 *
 * Clears VIRTQ_USED_F_NO_NOTIFY, or with VIRTIO_F_EVENT_IDX sets
 * avail_event to the next entry not yet seen. Then re-reads the avail
 * index: a buffer made available just before is otherwise never kicked.
 *
 * Return: true if buffers are available (pop before sleeping).
 */
bool vq_split_dev_enable_notify(struct vq_split_dev *vq);

/**
 * vq_split_dev_disable_notify() - Tell the driver kicks are not needed
 *
 * Sets VIRTQ_USED_F_NO_NOTIFY, or with VIRTIO_F_EVENT_IDX (where used
 * flags must stay 0) moves avail_event just behind the entries seen.
 * Advisory only: the driver may still kick.
 */
void vq_split_dev_disable_notify(struct vq_split_dev *vq);

/*
 * Driver side.
 */
struct vq_split_slot;

struct vq_split_drv {
	struct gmem *mem;
	unsigned int num;
	uint16_t mask;
	bool event_idx; /* VIRTIO_F_EVENT_IDX negotiated */
	bool indirect;	/* VIRTIO_F_INDIRECT_DESC negotiated */
	/* The rings, by guest address and as mapped here. */
	uint64_t desc_gpa, avail_gpa, used_gpa;
	struct virtq_desc *desc;
	struct virtq_avail *avail;
	struct virtq_used *used;
	/* Per-head indirect tables, @ind_max descriptors each. */
	unsigned int ind_max;
	uint64_t ind_gpa;
	struct virtq_desc *ind;
	uint64_t scratch_gpa; /* 64 bytes the hostile constructs point at */
	/* Private: the device may scribble on the ring, never on these. */
	uint16_t *next;
	struct vq_split_slot *slot;
	uint16_t free_head;
	unsigned int num_free;
	uint16_t avail_idx;  /* next avail entry to fill */
	uint16_t pub_idx;    /* avail->idx as last published */
	uint16_t kicked_idx; /* pub_idx at the last kick decision */
	uint16_t last_used;  /* next used entry to reap */
	uint16_t used_cache; /* used->idx as last read */
};

/**
 * vq_split_drv_init() - Lay out a queue in guest memory
 * @mem:	where the rings, the indirect tables and the scratch buffer
 *		are allocated (gmem_alloc()); must outlive @d
 * @num:	queue size
 * @features:	negotiated feature bits (VIRTIO_F_EVENT_IDX decides which
 *		suppression scheme is used; VIRTIO_F_INDIRECT_DESC is only
 *		recorded: indirect chains are laid on request either way,
 *		so that cases can lie)
 * @ind_max:	descriptors per indirect table, one table per head; 0 for
 *		none. At most VQ_MAX_SIZE.
 *
 * Rings are zeroed (the used flags must start 0). Allocates host memory
 * for the free list, released by vq_split_drv_fini(); guest memory is
 * never released (gmem_alloc() is a bump allocator).
 *
 * Return: 0, -EINVAL (bad @num or @ind_max, or guest memory mapped
 *	   misaligned), -ENOMEM (guest or host memory). On error @d holds
 *	   nothing to release.
 */
int vq_split_drv_init(struct vq_split_drv *d, struct gmem *mem,
		      unsigned int num, uint64_t features,
		      unsigned int ind_max);

/** vq_split_drv_fini() - Release host memory; @d may be initialised again. */
void vq_split_drv_fini(struct vq_split_drv *d);

/**
 * vq_split_drv_set_base() - Start both rings at free-running index @idx
 *
 * Writes avail->idx and used->idx (a device reads the latter at init) and
 * the driver's own indices, as if @idx chains had already gone round.
 * Only before the device starts; pass the same @idx to
 * vq_split_dev_set_base().
 *
 * Return: 0, -EINVAL if @idx has bits above 15 (the split SET_VRING_BASE
 *	   form reserves them), or -EPROTO if chains are in flight (@d
 *	   unchanged either way).
 */
int vq_split_drv_set_base(struct vq_split_drv *d, uint32_t idx);

/**
 * vq_split_drv_add() - Add a chain (not yet visible to the device)
 * @bufs:	@n buffers, written in the order given: the spec wants the
 *		writable ones last, but nothing here enforces it
 * @indirect:	put the buffers in the head's indirect table and one
 *		VIRTQ_DESC_F_INDIRECT descriptor in the ring
 * @token:	handed back by vq_split_drv_reap() for this chain
 *
 * Return: the head index (>= 0), -EINVAL (@n is 0, or more than the queue
 *	   size or @ind_max could ever hold), or -ENOSPC (not enough free
 *	   descriptors now: reap first). @d is unchanged on error.
 */
int vq_split_drv_add(struct vq_split_drv *d, const struct vq_buf *bufs,
		     unsigned int n, bool indirect, uint64_t token);

/**
 * vq_split_drv_publish() - Make added chains visible: release barrier, then
 *			    the avail index
 *
 * Return: how many entries this published.
 */
unsigned int vq_split_drv_publish(struct vq_split_drv *d);

/**
 * vq_split_drv_kick_needed() - Whether the device wants an available
 *				buffer notification for what was published
 *				since the previous call
 *
 * Full barrier, then avail_event (VIRTIO_F_EVENT_IDX: kick when the
 * published index passed it) or the used flags (kick unless
 * VIRTQ_USED_F_NO_NOTIFY).
 *
 * Return: true to kick; false if nothing was published since the last call.
 */
bool vq_split_drv_kick_needed(struct vq_split_drv *d);

/**
 * vq_split_drv_reap() - Take the next used entry
 * @token:	out: the token the chain was added with
 * @len:	out: the length the device wrote in the used entry
 * @why:	out (may be NULL): on error, what the device got wrong
 *
 * Validates what the device wrote. The entry is consumed (and its
 * descriptors freed) on success and on -EMSGSIZE only; after any other
 * error nothing changed and the queue should be considered broken.
 *
 * Return: 1 with an entry, 0 if none, or
 *	   -EINVAL: used index more than the queue size ahead, or used id
 *		not a descriptor index,
 *	   -EPROTO: used id not the head of a chain in flight,
 *	   -EMSGSIZE: @len exceeds the chain's writable bytes (@token and
 *		@len are set).
 */
int vq_split_drv_reap(struct vq_split_drv *d, uint64_t *token, uint32_t *len,
		      const char **why);

/**
 * vq_split_drv_enable_notify() - Ask the device to notify used buffers
 *
 * Clears VIRTQ_AVAIL_F_NO_INTERRUPT, or with VIRTIO_F_EVENT_IDX sets
 * used_event to the next entry to reap; then re-reads the used index.
 *
 * Return: true if used entries are waiting (reap before sleeping).
 */
bool vq_split_drv_enable_notify(struct vq_split_drv *d);

/**
 * vq_split_drv_disable_notify() - Tell the device notifications are not
 *				   needed (advisory)
 */
void vq_split_drv_disable_notify(struct vq_split_drv *d);

/*
 * Raw access, so that cases can make any byte pattern. None of these
 * change the driver's own bookkeeping.
 */

/** vq_split_drv_desc() - Descriptor @i. Return: it, or NULL if out of range. */
struct virtq_desc *vq_split_drv_desc(struct vq_split_drv *d, unsigned int i);

/** vq_split_drv_set_avail_idx() - Release barrier, then avail->idx = @idx. */
void vq_split_drv_set_avail_idx(struct vq_split_drv *d, uint16_t idx);

/** vq_split_drv_set_avail_flags() - avail->flags = @flags. */
void vq_split_drv_set_avail_flags(struct vq_split_drv *d, uint16_t flags);

/**
 * vq_split_drv_set_avail_ring() - avail->ring[@i] = @head
 * Return: 0, or -EINVAL if @i is not below the queue size.
 */
int vq_split_drv_set_avail_ring(struct vq_split_drv *d, unsigned int i,
				uint16_t head);

/** vq_split_drv_set_used_event() - used_event = @v (after avail ring). */
void vq_split_drv_set_used_event(struct vq_split_drv *d, uint16_t v);

/**
 * vq_split_drv_hostile() - Lay hostile construct @h into the ring and
 *			    publish it
 * @variant:	0, or a second form where one exists (see below)
 *
 * Each construct is one new avail entry (VQ_HOSTILE_AVAIL_JUMP: the avail
 * index alone). What vq_split_dev_pop() then returns:
 *   VQ_HOSTILE_LOOP_SELF: -ELOOP, a descriptor whose next is itself.
 *   VQ_HOSTILE_LOOP_NEXT: -ELOOP, a cycle through 3 descriptors (fewer on a
 *	smaller queue).
 *   VQ_HOSTILE_CHAIN_TOO_LONG: -ELOOP. 0: NEXT through every descriptor
 *	and back to the head (needs the whole ring free); 1: an indirect
 *	table of queue size + 1 buffers (-EPROTO instead if the device did
 *	not negotiate VIRTIO_F_INDIRECT_DESC).
 *   VQ_HOSTILE_INDIRECT_NESTED: -EINVAL, a table whose second entry is
 *	INDIRECT.
 *   VQ_HOSTILE_INDIRECT_BAD_LEN: -EINVAL. 0: table length 24; 1: 0.
 *   VQ_HOSTILE_ADDR_OUTSIDE: -EFAULT, a buffer past every region.
 *   VQ_HOSTILE_ADDR_STRADDLE: -EFAULT, 16 bytes from 8 before the end of
 *	the region holding the scratch buffer.
 *   VQ_HOSTILE_ZERO_LEN: -EINVAL.
 *   VQ_HOSTILE_NEXT_OUT_OF_RANGE: -EINVAL. next is 0: the queue size;
 *	1: 0xffff.
 *   VQ_HOSTILE_AVAIL_JUMP: -EINVAL, the avail index queue size + 1 past the
 *	last one published. The driver's own index then disagrees with the
 *	ring: the queue is for discarding.
 *   VQ_HOSTILE_HEAD_OUT_OF_RANGE: -EINVAL. The avail entry is 0: the
 *	queue size; 1: 0xffff.
 *   VQ_HOSTILE_REWRITE_AFTER_KICK: a valid one-buffer chain, published:
 *	kick, then vq_split_drv_rewrite() it.
 * VQ_HOSTILE_WRAP_LIE is packed only: -ENOTSUP.
 *
 * Descriptors are taken as vq_split_drv_add() takes them (token 0) and
 * stay in flight until the device returns them.
 *
 * Return: the head index, or 0 where there is none (AVAIL_JUMP,
 *	   HEAD_OUT_OF_RANGE); -ENOTSUP for a construct of the packed layout
 *	   or an unknown one, -EINVAL for an unknown @variant, -ENOSPC (too
 *	   few free descriptors), -ENOMEM (no guest memory for a table).
 *	   Nothing is written on error.
 */
int vq_split_drv_hostile(struct vq_split_drv *d, enum vq_hostile h,
			 unsigned int variant);

/**
 * vq_split_drv_rewrite() - Point the head descriptor of in-flight chain
 *			    @head outside every region (the second half of
 *			    VQ_HOSTILE_REWRITE_AFTER_KICK)
 *
 * A device that popped before sees the old chain, one that pops after sees
 * -EFAULT; one that re-reads a descriptor it already checked may see both.
 *
 * Return: 0, or -EINVAL if @head is not a chain in flight.
 */
int vq_split_drv_rewrite(struct vq_split_drv *d, unsigned int head);

#endif /* VUC_RING_SPLIT_H */
