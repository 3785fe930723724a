/* SPDX-License-Identifier: MIT */
/*
 * vq.h - what split and packed virtqueues share: the VIRTIO ring layouts
 * (specs/virtio/split-ring.tex, packed-ring.tex), feature bits, and the
 * scatter list a device pops and a driver adds.
 *
 * Ring fields are little-endian in guest memory; the accessors below convert,
 * so the engine also reads right on a big-endian host.
 */
#ifndef VUC_RING_VQ_H
#define VUC_RING_VQ_H

#include <endian.h>
#include <stdbool.h>
#include <stdint.h>

/* Feature bits (VIRTIO "Reserved Feature Bits"). */
#define VIRTIO_F_INDIRECT_DESC 28
#define VIRTIO_F_EVENT_IDX 29
#define VIRTIO_F_VERSION_1 32
#define VIRTIO_F_RING_PACKED 34

/* Descriptor flags, common to both layouts. */
#define VIRTQ_DESC_F_NEXT 1
#define VIRTQ_DESC_F_WRITE 2
#define VIRTQ_DESC_F_INDIRECT 4
/* Packed only. */
#define VIRTQ_DESC_F_AVAIL (1 << 7)
#define VIRTQ_DESC_F_USED (1 << 15)

/* Split ring. */
struct virtq_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};
_Static_assert(sizeof(struct virtq_desc) == 16, "virtq_desc layout");

#define VIRTQ_AVAIL_F_NO_INTERRUPT 1
struct virtq_avail {
	uint16_t flags;
	uint16_t idx;
	uint16_t ring[]; /* then used_event, with VIRTIO_F_EVENT_IDX */
};

struct virtq_used_elem {
	uint32_t id; /* le32 for padding reasons, says the spec */
	uint32_t len;
};
_Static_assert(sizeof(struct virtq_used_elem) == 8, "used elem layout");

#define VIRTQ_USED_F_NO_NOTIFY 1
struct virtq_used {
	uint16_t flags;
	uint16_t idx;
	struct virtq_used_elem ring[]; /* then avail_event, with EVENT_IDX */
};

/* Alignment the spec requires of each split ring part. */
#define VIRTQ_DESC_ALIGN 16
#define VIRTQ_AVAIL_ALIGN 2
#define VIRTQ_USED_ALIGN 4

/* Packed ring. */
struct pvirtq_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t id;
	uint16_t flags;
};
_Static_assert(sizeof(struct pvirtq_desc) == 16, "pvirtq_desc layout");

#define RING_EVENT_FLAGS_ENABLE 0x0
#define RING_EVENT_FLAGS_DISABLE 0x1
#define RING_EVENT_FLAGS_DESC 0x2
struct pvirtq_event_suppress {
	uint16_t desc;	/* bits 0-14 offset, bit 15 wrap counter */
	uint16_t flags; /* bits 0-1 RING_EVENT_FLAGS_* */
};
_Static_assert(sizeof(struct pvirtq_event_suppress) == 4, "event layout");

#define PVIRTQ_DESC_ALIGN 16
#define PVIRTQ_EVENT_ALIGN 4

/* Queue sizes: split must be a power of two, packed any size; both <= 32768. */
#define VQ_MAX_SIZE 32768

/**
 * struct vq_buf - one buffer of a chain
 * @gpa:	guest physical address
 * @len:	bytes
 * @writable:	device-writable (VIRTQ_DESC_F_WRITE)
 * @hva:	where it is mapped here; set by the device side's pop, ignored
 *		by the driver side's add
 */
struct vq_buf {
	uint64_t gpa;
	uint32_t len;
	bool writable;
	void *hva;
};

/**
 * struct vq_chain - a chain popped by the device side
 * @id:		what to push back: the split head index, the packed buffer id
 * @ndesc:	descriptors it took in the ring (packed: how far to advance)
 * @n:		buffers in @bufs
 * @bufs:	caller's array; @cap entries
 * @readable_len: total bytes of the device-readable buffers
 * @writable_len: total bytes of the device-writable buffers
 */
struct vq_chain {
	uint16_t id;
	uint16_t ndesc;
	unsigned int n;
	unsigned int cap;
	struct vq_buf *bufs;
	uint64_t readable_len;
	uint64_t writable_len;
};

/*
 * Notification suppression with VIRTIO_F_EVENT_IDX: notify when new_idx has
 * moved past event_idx since old_idx (all free-running, mod 2^16). The
 * spec's vring_need_event().
 */
static inline bool vq_need_event(uint16_t event_idx, uint16_t new_idx,
				 uint16_t old_idx)
{
	return (uint16_t)(new_idx - event_idx - 1) <
	       (uint16_t)(new_idx - old_idx);
}

/* Guest memory is shared with another process: read each field once. */
static inline uint16_t vq_load16(const uint16_t *p)
{
	return le16toh(__atomic_load_n(p, __ATOMIC_RELAXED));
}

static inline void vq_store16(uint16_t *p, uint16_t v)
{
	__atomic_store_n(p, htole16(v), __ATOMIC_RELAXED);
}

/* Orders a ring index or flag against the entries it publishes. */
static inline void vq_rmb(void)
{
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
}

static inline void vq_wmb(void)
{
	__atomic_thread_fence(__ATOMIC_RELEASE);
}

/* Between publishing and reading the other side's suppression state. */
static inline void vq_mb(void)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

/*
 * Hostile constructs the driver side builds on request, and the error the
 * device side must return for each (never a crash, a hang, or a read outside
 * guest memory). Shared by both layouts so cases can enumerate them.
 */
enum vq_hostile {
	VQ_HOSTILE_LOOP_SELF, /* a descriptor whose next is itself: -ELOOP */
	VQ_HOSTILE_LOOP_NEXT, /* a cycle through several next links: -ELOOP */
	VQ_HOSTILE_CHAIN_TOO_LONG, /* more descriptors than the queue: -ELOOP */
	VQ_HOSTILE_INDIRECT_NESTED, /* split: -EINVAL; packed: flag ignored, a chain */
	VQ_HOSTILE_INDIRECT_BAD_LEN, /* table len not a multiple of 16, or 0: -EINVAL */
	VQ_HOSTILE_ADDR_OUTSIDE, /* buffer outside every region: -EFAULT */
	VQ_HOSTILE_ADDR_STRADDLE, /* buffer runs off the end of its region: -EFAULT */
	VQ_HOSTILE_ZERO_LEN,	      /* a zero-length buffer: -EINVAL */
	VQ_HOSTILE_NEXT_OUT_OF_RANGE, /* next >= queue size: -EINVAL */
	VQ_HOSTILE_AVAIL_JUMP, /* avail idx more than the queue size ahead: -EINVAL */
	VQ_HOSTILE_HEAD_OUT_OF_RANGE, /* avail ring entry >= queue size: -EINVAL */
	VQ_HOSTILE_WRAP_LIE, /* packed: flags lie about the wrap counter: -EPROTO */
	VQ_HOSTILE_REWRITE_AFTER_KICK, /* descriptors changed after publishing */
	VQ_HOSTILE_MAX
};

#endif /* VUC_RING_VQ_H */
