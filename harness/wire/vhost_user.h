/* SPDX-License-Identifier: MIT */
/*
 * vhost_user.h - vhost-user messages: bytes <-> structs and the rule table.
 *
 * Spec: vhost-user.rst, "Message Specification" (header, payloads),
 * "Communication" (which requests are answered, which carry fds),
 * "Protocol features", "Front-end message types", "Back-end message types",
 * "VHOST_USER_PROTOCOL_F_REPLY_ACK" and "In-band notifications".
 *
 * Pure: no I/O, no allocation. Byte order is the machine's own ("All
 * numbers are in the machine native byte order"). The payload of an
 * envelope starts at byte 12 and is therefore never cast to a struct:
 * builders and getters copy.
 *
 * fds in an envelope are plain ints. This layer only counts them; it never
 * opens, duplicates or closes one, so whoever put them there owns them.
 */
#ifndef VUC_WIRE_VHOST_USER_H
#define VUC_WIRE_VHOST_USER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- Header ---------------------------------------------------------- */

struct vhost_user_hdr {
	uint32_t request;
	uint32_t flags;
	uint32_t size; /* payload bytes that follow the header */
};
_Static_assert(sizeof(struct vhost_user_hdr) == 12, "wire layout");

#define VHOST_USER_HDR_SIZE 12u

/* "Lower 2 bits are the version (currently 0x01)" */
#define VHOST_USER_VERSION_MASK 0x3u
#define VHOST_USER_VERSION 0x1u
/* "Bit 2 is the reply flag - needs to be sent on each reply" */
#define VHOST_USER_REPLY_MASK (0x1u << 2)
/* "Bit 3 is the need_reply flag" (the spec also calls it NEED_REPLY) */
#define VHOST_USER_NEED_REPLY_MASK (0x1u << 3)
#define VHOST_USER_NEED_REPLY VHOST_USER_NEED_REPLY_MASK
/* The spec defines bits 0-3 only; see vhost_user_check_request(). */
#define VHOST_USER_RESERVED_FLAGS_MASK (~0xfu)

/*
 * The most fds a well-formed message carries: SET_MEM_TABLE has one per
 * region and at most 8 regions; back-ends send "at most 8 descriptors in
 * each message" with BACKEND_SEND_FD.
 */
#define VHOST_USER_MAX_FDS 8u
/* Regions in one SET_MEM_TABLE ("region0 ... region7"). */
#define VHOST_USER_MAX_MEM_REGIONS 8u
/* Device config space data carried by GET_CONFIG / SET_CONFIG. */
#define VHOST_USER_MAX_CONFIG_SIZE 256u
/* offset + size + flags in front of the config data */
#define VHOST_USER_CONFIG_HDR_SIZE 12u

/*
 * Largest payload an envelope holds, and the limit past which
 * vhost_user_parse() says -EMSGSIZE.
 *
 * The largest payload the spec defines is a full SET_MEM_TABLE with
 * XEN_MMAP regions: 8 + 8 * 40 = 328 bytes (config space is 12 + 256 =
 * 268). QEMU's own VhostUserPayload is bigger, because it also holds its
 * crypto session description (a little over 1 KiB), which the spec names
 * but never lays out. 4096 holds all of these, and equals rust-vmm's
 * MAX_MSG_SIZE, the largest limit a known peer applies, so a case that
 * wants "bigger than anyone accepts" builds it with vhost_user_pack_raw().
 */
#define VHOST_USER_PAYLOAD_MAX 4096u
/* Largest whole message: header plus the largest payload. */
#define VHOST_USER_MSG_MAX (VHOST_USER_HDR_SIZE + VHOST_USER_PAYLOAD_MAX)

/* ---- The envelope ---------------------------------------------------- */

/*
 * One message: header, raw payload bytes, and the fds that came (or go)
 * beside it. payload[] holds hdr.size bytes; fds[0..nfds) are meaningful.
 */
struct vhost_user_msg {
	struct vhost_user_hdr hdr;
	uint8_t payload[VHOST_USER_PAYLOAD_MAX];
	int fds[VHOST_USER_MAX_FDS];
	unsigned int nfds;
};

/* ---- Request codes --------------------------------------------------- */

/* Which way a request travels (and so which code space it is in). */
enum vhost_user_dir {
	/* front-end -> back-end, on the main socket */
	VHOST_USER_FROM_FRONTEND = 0,
	/* back-end -> front-end, on the SET_BACKEND_REQ_FD channel */
	VHOST_USER_FROM_BACKEND = 1,
};

/* "Front-end message types", by their :id: */
enum vhost_user_request {
	VHOST_USER_NONE = 0, /* not a request; never valid */
	VHOST_USER_GET_FEATURES = 1,
	VHOST_USER_SET_FEATURES = 2,
	VHOST_USER_SET_OWNER = 3,
	VHOST_USER_RESET_OWNER = 4,
	VHOST_USER_SET_MEM_TABLE = 5,
	VHOST_USER_SET_LOG_BASE = 6,
	VHOST_USER_SET_LOG_FD = 7,
	VHOST_USER_SET_VRING_NUM = 8,
	VHOST_USER_SET_VRING_ADDR = 9,
	VHOST_USER_SET_VRING_BASE = 10,
	VHOST_USER_GET_VRING_BASE = 11,
	VHOST_USER_SET_VRING_KICK = 12,
	VHOST_USER_SET_VRING_CALL = 13,
	VHOST_USER_SET_VRING_ERR = 14,
	VHOST_USER_GET_PROTOCOL_FEATURES = 15,
	VHOST_USER_SET_PROTOCOL_FEATURES = 16,
	VHOST_USER_GET_QUEUE_NUM = 17,
	VHOST_USER_SET_VRING_ENABLE = 18,
	VHOST_USER_SEND_RARP = 19,
	VHOST_USER_NET_SET_MTU = 20,
	VHOST_USER_SET_BACKEND_REQ_FD = 21,
	VHOST_USER_IOTLB_MSG = 22,
	VHOST_USER_SET_VRING_ENDIAN = 23,
	VHOST_USER_GET_CONFIG = 24,
	VHOST_USER_SET_CONFIG = 25,
	VHOST_USER_CREATE_CRYPTO_SESSION = 26,
	VHOST_USER_CLOSE_CRYPTO_SESSION = 27,
	VHOST_USER_POSTCOPY_ADVISE = 28,
	VHOST_USER_POSTCOPY_LISTEN = 29,
	VHOST_USER_POSTCOPY_END = 30,
	VHOST_USER_GET_INFLIGHT_FD = 31,
	VHOST_USER_SET_INFLIGHT_FD = 32,
	VHOST_USER_GPU_SET_SOCKET = 33,
	VHOST_USER_RESET_DEVICE = 34,
	VHOST_USER_VRING_KICK = 35,
	VHOST_USER_GET_MAX_MEM_SLOTS = 36,
	VHOST_USER_ADD_MEM_REG = 37,
	VHOST_USER_REM_MEM_REG = 38,
	VHOST_USER_SET_STATUS = 39,
	VHOST_USER_GET_STATUS = 40,
	VHOST_USER_GET_SHARED_OBJECT = 41,
	VHOST_USER_SET_DEVICE_STATE_FD = 42,
	VHOST_USER_CHECK_DEVICE_STATE = 43,
	VHOST_USER_MAX, /* one past the last front-end code */

	/* previous name */
	VHOST_USER_SET_SLAVE_REQ_FD = VHOST_USER_SET_BACKEND_REQ_FD,
};

/* "Back-end message types", by their :id: */
enum vhost_user_backend_request {
	VHOST_USER_BACKEND_NONE = 0, /* not a request; never valid */
	VHOST_USER_BACKEND_IOTLB_MSG = 1,
	VHOST_USER_BACKEND_CONFIG_CHANGE_MSG = 2,
	VHOST_USER_BACKEND_VRING_HOST_NOTIFIER_MSG = 3,
	VHOST_USER_BACKEND_VRING_CALL = 4,
	VHOST_USER_BACKEND_VRING_ERR = 5,
	VHOST_USER_BACKEND_SHARED_OBJECT_ADD = 6,
	VHOST_USER_BACKEND_SHARED_OBJECT_REMOVE = 7,
	VHOST_USER_BACKEND_SHARED_OBJECT_LOOKUP = 8,
	VHOST_USER_BACKEND_MAX, /* one past the last back-end code */

	/* previous names */
	VHOST_USER_SLAVE_IOTLB_MSG = VHOST_USER_BACKEND_IOTLB_MSG,
	VHOST_USER_SLAVE_CONFIG_CHANGE_MSG =
		VHOST_USER_BACKEND_CONFIG_CHANGE_MSG,
	VHOST_USER_SLAVE_VRING_HOST_NOTIFIER_MSG =
		VHOST_USER_BACKEND_VRING_HOST_NOTIFIER_MSG,
	VHOST_USER_SLAVE_VRING_CALL = VHOST_USER_BACKEND_VRING_CALL,
	VHOST_USER_SLAVE_VRING_ERR = VHOST_USER_BACKEND_VRING_ERR,
};

/* ---- Feature bits ---------------------------------------------------- */

/* "Protocol features" */
enum vhost_user_protocol_feature {
	VHOST_USER_PROTOCOL_F_MQ = 0,
	VHOST_USER_PROTOCOL_F_LOG_SHMFD = 1,
	VHOST_USER_PROTOCOL_F_RARP = 2,
	VHOST_USER_PROTOCOL_F_REPLY_ACK = 3,
	VHOST_USER_PROTOCOL_F_MTU = 4,
	VHOST_USER_PROTOCOL_F_BACKEND_REQ = 5,
	VHOST_USER_PROTOCOL_F_CROSS_ENDIAN = 6,
	VHOST_USER_PROTOCOL_F_CRYPTO_SESSION = 7,
	VHOST_USER_PROTOCOL_F_PAGEFAULT = 8,
	VHOST_USER_PROTOCOL_F_CONFIG = 9,
	VHOST_USER_PROTOCOL_F_BACKEND_SEND_FD = 10,
	VHOST_USER_PROTOCOL_F_HOST_NOTIFIER = 11,
	VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD = 12,
	VHOST_USER_PROTOCOL_F_RESET_DEVICE = 13,
	VHOST_USER_PROTOCOL_F_INBAND_NOTIFICATIONS = 14,
	VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS = 15,
	VHOST_USER_PROTOCOL_F_STATUS = 16,
	VHOST_USER_PROTOCOL_F_XEN_MMAP = 17,
	VHOST_USER_PROTOCOL_F_SHARED_OBJECT = 18,
	VHOST_USER_PROTOCOL_F_DEVICE_STATE = 19,
	VHOST_USER_PROTOCOL_F_MAX, /* one past the last defined bit */

	/* previous names */
	VHOST_USER_PROTOCOL_F_SLAVE_REQ = VHOST_USER_PROTOCOL_F_BACKEND_REQ,
	VHOST_USER_PROTOCOL_F_SLAVE_SEND_FD =
		VHOST_USER_PROTOCOL_F_BACKEND_SEND_FD,
	/* how the NET_SET_MTU entry (and QEMU) spells bit 4 */
	VHOST_USER_PROTOCOL_F_NET_MTU = VHOST_USER_PROTOCOL_F_MTU,
};

/* Mask of one protocol feature bit, e.g. VHOST_USER_PROTO_BIT(REPLY_ACK). */
#define VHOST_USER_PROTO_BIT(f) (UINT64_C(1) << VHOST_USER_PROTOCOL_F_##f)
/* Every protocol feature this spec defines. */
#define VHOST_USER_PROTOCOL_F_ALL \
	((UINT64_C(1) << VHOST_USER_PROTOCOL_F_MAX) - 1)

/* The virtio feature bit that announces protocol features. */
#define VHOST_USER_F_PROTOCOL_FEATURES 30
/*
 * Virtio feature bits the spec ties requests to. Under our own prefix:
 * <linux/virtio_config.h> spells VIRTIO_F_IOMMU_PLATFORM as another macro,
 * and a second definition with other tokens would not compile.
 */
#define VHOST_USER_VIRTIO_F_LOG_ALL 26	      /* VHOST_F_LOG_ALL */
#define VHOST_USER_VIRTIO_NET_F_MTU 3	      /* VIRTIO_NET_F_MTU */
#define VHOST_USER_VIRTIO_F_IOMMU_PLATFORM 33 /* VIRTIO_F_IOMMU_PLATFORM */

/* "Dirty pages are of size" */
#ifndef VHOST_LOG_PAGE
#define VHOST_LOG_PAGE 0x1000
#endif

/* ---- Payload flags and fields ---------------------------------------- */

/* Vring address flags: bit number, as in <linux/vhost_types.h> */
#ifndef VHOST_VRING_F_LOG
#define VHOST_VRING_F_LOG 0
#endif
#define VHOST_USER_VRING_F_LOG_MASK (1u << VHOST_VRING_F_LOG)

/* SET_VRING_KICK / CALL / ERR u64, and the vring area's u64 */
#define VHOST_USER_VRING_IDX_MASK 0xffu /* "Bits (0-7) ... vring index" */
#define VHOST_USER_VRING_NOFD_MASK (0x1u << 8) /* "Bit 8 is the invalid FD" */

/* IOTLB message types and permissions, <linux/vhost_types.h> names and
 * tokens (so that header may be included too) */
#ifndef VHOST_IOTLB_MISS
#define VHOST_IOTLB_MISS 1
#endif
#ifndef VHOST_IOTLB_UPDATE
#define VHOST_IOTLB_UPDATE 2
#endif
#ifndef VHOST_IOTLB_INVALIDATE
#define VHOST_IOTLB_INVALIDATE 3
#endif
#ifndef VHOST_IOTLB_ACCESS_FAIL
#define VHOST_IOTLB_ACCESS_FAIL 4
#endif
#define VHOST_USER_ACCESS_NONE 0x0 /* "0: No access" (no kernel name) */
#ifndef VHOST_ACCESS_RO
#define VHOST_ACCESS_RO 0x1
#endif
#ifndef VHOST_ACCESS_WO
#define VHOST_ACCESS_WO 0x2
#endif
#ifndef VHOST_ACCESS_RW
#define VHOST_ACCESS_RW 0x3
#endif

/* Config space flags: values, not bits ("0: ... writable fields") */
#define VHOST_USER_CONFIG_WRITABLE 0u
#define VHOST_USER_CONFIG_LIVE_MIGRATION 1u

/* Device state transfer parameters */
#define VHOST_USER_TRANSFER_STATE_DIRECTION_SAVE 0u
#define VHOST_USER_TRANSFER_STATE_DIRECTION_LOAD 1u
#define VHOST_USER_TRANSFER_STATE_PHASE_STOPPED 0u

/* Xen mmap flags of a memory region (XEN_MMAP) */
#define VHOST_USER_XEN_MMAP_FOREIGN (0x1u << 0)
#define VHOST_USER_XEN_MMAP_GRANT (0x1u << 1)
/* "can not be mapped in advance" */
#define VHOST_USER_XEN_MMAP_NO_ADVANCE_MAP (0x1u << 8)
#define VHOST_USER_XEN_MMAP_FLAGS_KNOWN                            \
	(VHOST_USER_XEN_MMAP_FOREIGN | VHOST_USER_XEN_MMAP_GRANT | \
	 VHOST_USER_XEN_MMAP_NO_ADVANCE_MAP)

/* SET_DEVICE_STATE_FD reply: "Bits 0-7 are 0 on success" */
#define VHOST_USER_DEVICE_STATE_STATUS_MASK 0xffu

/* ---- Payload layouts (natural C layout == wire layout) ---------------- */

struct vhost_user_vring_state {
	uint32_t index;
	uint32_t num;
};
_Static_assert(sizeof(struct vhost_user_vring_state) == 8, "wire layout");

struct vhost_user_vring_addr {
	uint32_t index;
	uint32_t flags; /* VHOST_USER_VRING_F_LOG_MASK */
	uint64_t desc;
	uint64_t used;
	uint64_t avail;
	uint64_t log;
};
_Static_assert(sizeof(struct vhost_user_vring_addr) == 40, "wire layout");

struct vhost_user_mem_region {
	uint64_t guest_addr;
	uint64_t size;
	uint64_t user_addr;
	uint64_t mmap_offset;
};
_Static_assert(sizeof(struct vhost_user_mem_region) == 32, "wire layout");

/* With XEN_MMAP negotiated, every region grows by two fields. */
struct vhost_user_mem_region_xen {
	uint64_t guest_addr;
	uint64_t size;
	uint64_t user_addr;
	uint64_t mmap_offset;
	uint32_t xen_mmap_flags;
	uint32_t domid;
};
_Static_assert(sizeof(struct vhost_user_mem_region_xen) == 40, "wire layout");

/* ADD_MEM_REG / REM_MEM_REG */
struct vhost_user_single_mem_region {
	uint64_t padding;
	struct vhost_user_mem_region region;
};
_Static_assert(sizeof(struct vhost_user_single_mem_region) == 40,
	       "wire layout");

struct vhost_user_single_mem_region_xen {
	uint64_t padding;
	struct vhost_user_mem_region_xen region;
};
_Static_assert(sizeof(struct vhost_user_single_mem_region_xen) == 48,
	       "wire layout");

/* SET_MEM_TABLE: only nregions entries of regions[] travel. */
struct vhost_user_mem_table {
	uint32_t nregions;
	uint32_t padding;
	struct vhost_user_mem_region regions[VHOST_USER_MAX_MEM_REGIONS];
};
_Static_assert(sizeof(struct vhost_user_mem_table) == 8 + 8 * 32,
	       "wire layout");

struct vhost_user_mem_table_xen {
	uint32_t nregions;
	uint32_t padding;
	struct vhost_user_mem_region_xen regions[VHOST_USER_MAX_MEM_REGIONS];
};
_Static_assert(sizeof(struct vhost_user_mem_table_xen) == 8 + 8 * 40,
	       "wire layout");

/* SET_LOG_BASE (see the rule's comment on why this and not u64) */
struct vhost_user_log {
	uint64_t mmap_size;
	uint64_t mmap_offset;
};
_Static_assert(sizeof(struct vhost_user_log) == 16, "wire layout");

/*
 * IOTLB_MSG / BACKEND_IOTLB_MSG. The spec's table lists 26 bytes of
 * fields, but the payload is "struct vhost_iotlb_msg", the kernel's
 * struct, whose natural alignment pads it to 32; QEMU, libvhost-user and
 * DPDK all send and expect sizeof() == 32. So 32 is the size on the wire.
 */
struct vhost_user_iotlb {
	uint64_t iova;
	uint64_t size;
	uint64_t user_addr;
	uint8_t perm; /* VHOST_USER_ACCESS_NONE, VHOST_ACCESS_RO/WO/RW */
	uint8_t type; /* VHOST_IOTLB_* */
	uint8_t padding[6];
};
_Static_assert(sizeof(struct vhost_user_iotlb) == 32, "wire layout");

/* GET_CONFIG / SET_CONFIG: only size bytes of data[] travel. */
struct vhost_user_config {
	uint32_t offset;
	uint32_t size;
	uint32_t flags; /* VHOST_USER_CONFIG_WRITABLE or _LIVE_MIGRATION */
	uint8_t data[VHOST_USER_MAX_CONFIG_SIZE];
};
_Static_assert(sizeof(struct vhost_user_config) ==
		       VHOST_USER_CONFIG_HDR_SIZE + VHOST_USER_MAX_CONFIG_SIZE,
	       "wire layout");

/* BACKEND_VRING_HOST_NOTIFIER_MSG */
struct vhost_user_vring_area {
	uint64_t u64; /* vring index | VHOST_USER_VRING_NOFD_MASK */
	uint64_t size;
	uint64_t offset;
};
_Static_assert(sizeof(struct vhost_user_vring_area) == 24, "wire layout");

/*
 * GET_INFLIGHT_FD / SET_INFLIGHT_FD. Twenty bytes of fields; QEMU,
 * libvhost-user, DPDK and rust-vmm all use the naturally aligned struct and
 * put sizeof() == 24 in the header, trailing padding included.
 */
struct vhost_user_inflight {
	uint64_t mmap_size;
	uint64_t mmap_offset;
	uint16_t num_queues;
	uint16_t queue_size;
	uint32_t padding;
};
_Static_assert(sizeof(struct vhost_user_inflight) == 24, "wire layout");

/* VhostUserShared: a UUID whose first three fields are big endian. */
struct vhost_user_shared {
	uint8_t uuid[16];
};
_Static_assert(sizeof(struct vhost_user_shared) == 16, "wire layout");

/* SET_DEVICE_STATE_FD */
struct vhost_user_device_state {
	uint32_t direction; /* VHOST_USER_TRANSFER_STATE_DIRECTION_* */
	uint32_t phase;	    /* VHOST_USER_TRANSFER_STATE_PHASE_* */
};
_Static_assert(sizeof(struct vhost_user_device_state) == 8, "wire layout");

/*
 * SET_VRING_BASE / GET_VRING_BASE reply: a vring state whose num is the
 * descriptor index (split) or indices (packed). Packed form of num:
 * bits 0-14 avail index, 15 avail wrap counter, 16-30 used index,
 * 31 used wrap counter.
 */
struct vhost_user_packed_base {
	uint16_t avail_idx; /* 15 bits */
	bool avail_wrap;
	uint16_t used_idx; /* 15 bits */
	bool used_wrap;
};

/** vhost_user_packed_base_pack() - num for a packed ring; indices are cut
 * to 15 bits. Return: the 32-bit descriptor indices value. */
static inline uint32_t
vhost_user_packed_base_pack(const struct vhost_user_packed_base *b)
{
	return (uint32_t)(b->avail_idx & 0x7fffu) |
	       (uint32_t)(b->avail_wrap ? 1u : 0u) << 15 |
	       (uint32_t)(b->used_idx & 0x7fffu) << 16 |
	       (uint32_t)(b->used_wrap ? 1u : 0u) << 31;
}

/** vhost_user_packed_base_unpack() - split a packed ring's num into its
 * four parts. Return: nothing; @b is filled. */
static inline void
vhost_user_packed_base_unpack(uint32_t num, struct vhost_user_packed_base *b)
{
	b->avail_idx = (uint16_t)(num & 0x7fffu);
	b->avail_wrap = (num >> 15) & 1u;
	b->used_idx = (uint16_t)((num >> 16) & 0x7fffu);
	b->used_wrap = (num >> 31) & 1u;
}

/* Split rings: "only the lower 16 bits are used", bits 16-31 reserved. */
#define VHOST_USER_SPLIT_BASE_MASK 0xffffu

/* ---- The rule table: the spec as data --------------------------------- */

/* What the payload is. */
enum vhost_user_layout {
	VHOST_USER_LAYOUT_EMPTY,	     /* "N/A": no payload */
	VHOST_USER_LAYOUT_U64,		     /* u64 */
	VHOST_USER_LAYOUT_PROTOCOL_FEATURES, /* u64 of protocol feature bits */
	VHOST_USER_LAYOUT_MAC,	       /* u64 whose first 6 bytes are a MAC */
	VHOST_USER_LAYOUT_VRING_FD,    /* u64: vring index | NOFD bit */
	VHOST_USER_LAYOUT_VRING_STATE, /* struct vhost_user_vring_state */
	VHOST_USER_LAYOUT_VRING_BASE,  /* vring descriptor index/indices */
	VHOST_USER_LAYOUT_VRING_ADDR,  /* struct vhost_user_vring_addr */
	VHOST_USER_LAYOUT_MEM_TABLE,   /* multiple memory regions */
	VHOST_USER_LAYOUT_MEM_REGION,  /* single memory region */
	VHOST_USER_LAYOUT_LOG,	       /* struct vhost_user_log */
	VHOST_USER_LAYOUT_IOTLB,       /* struct vhost_user_iotlb */
	VHOST_USER_LAYOUT_CONFIG,      /* struct vhost_user_config */
	VHOST_USER_LAYOUT_CRYPTO_SESSION, /* opaque: the spec gives no layout */
	VHOST_USER_LAYOUT_VRING_AREA,	  /* struct vhost_user_vring_area */
	VHOST_USER_LAYOUT_INFLIGHT,	  /* struct vhost_user_inflight */
	VHOST_USER_LAYOUT_SHARED,	  /* struct vhost_user_shared */
	VHOST_USER_LAYOUT_DEVICE_STATE,	  /* struct vhost_user_device_state */
	VHOST_USER_LAYOUT_OPAQUE,	  /* bytes with no defined meaning */
	VHOST_USER_LAYOUT_COUNT
};

/* How hdr.size is judged. */
enum vhost_user_size_rule {
	VHOST_USER_SIZE_EXACT, /* == .size */
	VHOST_USER_SIZE_MIN,   /* >= .size */
	VHOST_USER_SIZE_MAX,   /* <= .size */
	/* 8 + region size * nregions, nregions <= 8; region size is 32, or
	 * 40 with XEN_MMAP */
	VHOST_USER_SIZE_MEM_TABLE,
	VHOST_USER_SIZE_MEM_REGION, /* 8 + region size (40, or 48 with Xen) */
	VHOST_USER_SIZE_CONFIG,	    /* 12 + config.size, config.size <= 256 */
	VHOST_USER_SIZE_OF_REQUEST, /* replies: == the request's hdr.size */
};

/* How many fds travel with the message. */
enum vhost_user_fd_rule {
	VHOST_USER_FDS_NONE,
	VHOST_USER_FDS_ONE,
	/* one, unless VHOST_USER_VRING_NOFD_MASK is set in the u64 that
	 * opens the payload, then none */
	VHOST_USER_FDS_ONE_UNLESS_NOFD,
	/* exactly nregions (SET_MEM_TABLE) */
	VHOST_USER_FDS_PER_REGION,
	/* one when .fd_feature is negotiated, none otherwise */
	VHOST_USER_FDS_ONE_IF_FEATURE,
	/* none or one */
	VHOST_USER_FDS_OPTIONAL,
	/* "No file descriptors SHOULD be passed ... MAY accept ... one" */
	VHOST_USER_FDS_NONE_TOLERATE_ONE,
	/* one, unless the inflight reply says mmap_size 0 (no buffer) */
	VHOST_USER_FDS_ONE_UNLESS_EMPTY,
};

/* When the receiver answers. */
enum vhost_user_reply_rule {
	/* explicit reply body, whatever the flags say */
	VHOST_USER_REPLY_ALWAYS,
	/* a u64 ack only when need_reply is set and REPLY_ACK negotiated */
	VHOST_USER_REPLY_IF_ACKED,
	/* explicit reply body when .reply_feature is negotiated; otherwise
	 * as VHOST_USER_REPLY_IF_ACKED */
	VHOST_USER_REPLY_IF_FEATURE,
};

/* Extra facts about a request (struct vhost_user_rule.flags). */
enum vhost_user_rule_flag {
	/* the spec marks it deprecated (RESET_OWNER) */
	VHOST_USER_RULE_DEPRECATED = 1u << 0,
	/* the payload names a vring by index (cases: out of range indices) */
	VHOST_USER_RULE_VRING_INDEX = 1u << 1,
	/* "The ... num field is currently reserved and must be set to 0" */
	VHOST_USER_RULE_NUM_RESERVED = 1u << 2,
	/* a zero-length reply is also legal (GET_CONFIG's error; DPDK's
	 * SET_LOG_BASE reply) */
	VHOST_USER_RULE_REPLY_MAY_BE_EMPTY = 1u << 3,
	/* in postcopy the reply echoes the request's layout and size */
	VHOST_USER_RULE_REPLY_MAY_ECHO = 1u << 4,
	/* back-end request whose fds need BACKEND_SEND_FD */
	VHOST_USER_RULE_FDS_NEED_SEND_FD = 1u << 5,
};

struct vhost_user_rule {
	uint32_t code;
	enum vhost_user_dir dir;
	const char *name;  /* spec name, "VHOST_USER_..." */
	const char *alias; /* previous name, or NULL */

	/* request */
	enum vhost_user_layout layout;
	enum vhost_user_size_rule size_rule;
	uint32_t size; /* for EXACT / MIN / MAX; the base for the others */
	enum vhost_user_fd_rule fds;
	uint8_t max_fds;
	uint8_t fd_feature; /* protocol bit, for FDS_ONE_IF_FEATURE */

	/* reply (the ack of IF_ACKED is always a u64 and no fds) */
	enum vhost_user_reply_rule reply;
	uint8_t reply_feature; /* protocol bit, for REPLY_IF_FEATURE */
	enum vhost_user_layout reply_layout;
	enum vhost_user_size_rule reply_size_rule;
	uint32_t reply_size;
	enum vhost_user_fd_rule reply_fds;
	uint8_t reply_max_fds;

	/* protocol features that must all be negotiated (0: none) */
	uint64_t gate;
	/* virtio feature bits the spec ties the request to ("only legal if",
	 * "should be sent only when"); informational: the wire layer never
	 * sees virtio features, cases judge these */
	uint64_t features;
	unsigned int flags; /* enum vhost_user_rule_flag */

	const char *anchor; /* "vhost-user#front-end-message-types" */
	const char *see;    /* another section with rules for it, or NULL */
};

/* Every request of both directions: front-end 1..43, then back-end 1..8. */
extern const struct vhost_user_rule vhost_user_rules[];
extern const size_t vhost_user_rule_count;

#define vhost_user_for_each_rule(r)  \
	for ((r) = vhost_user_rules; \
	     (r) < vhost_user_rules + vhost_user_rule_count; (r)++)

/**
 * vhost_user_rule_find() - The rule for a request code
 * @dir:	which code space (front-end or back-end requests)
 * @code:	hdr.request
 *
 * Return: the rule, or NULL for a code the spec does not define.
 */
const struct vhost_user_rule *vhost_user_rule_find(enum vhost_user_dir dir,
						   uint32_t code);

/**
 * vhost_user_request_name() - Spec name of a request code
 *
 * Return: "VHOST_USER_..." (current name, not the SLAVE one), or NULL for a
 * code the spec does not define (describe() prints "UNKNOWN(<code>)").
 */
const char *vhost_user_request_name(enum vhost_user_dir dir, uint32_t code);

/**
 * vhost_user_protocol_feature_name() - Spec name of a protocol feature bit
 *
 * Return: "VHOST_USER_PROTOCOL_F_...", or NULL for bit >= 20.
 */
const char *vhost_user_protocol_feature_name(unsigned int bit);

/**
 * vhost_user_layout_name() - Short name of a payload layout, for traces
 *
 * Return: e.g. "vring state", or "?" for an unknown value.
 */
const char *vhost_user_layout_name(enum vhost_user_layout layout);

/* ---- Codec ------------------------------------------------------------ */

/**
 * vhost_user_msg_init() - Empty envelope: zero header and payload, no fds
 *
 * Sets every fds[] slot to -1 and nfds to 0. Closes nothing.
 */
void vhost_user_msg_init(struct vhost_user_msg *m);

/**
 * vhost_user_msg_attach_fds() - Put fds in the envelope
 *
 * The fds are borrowed: the envelope only records the numbers, and the
 * caller still owns (and closes) them.
 * Return: 0, or -EINVAL if @n > VHOST_USER_MAX_FDS.
 */
int vhost_user_msg_attach_fds(struct vhost_user_msg *m, const int *fds,
			      unsigned int n);

/**
 * vhost_user_hdr_parse() - Read the 12-byte header
 * @why:	if not NULL, set to the reason on failure
 *
 * Return: 12 (bytes used), or -ENODATA if @len < 12.
 */
int vhost_user_hdr_parse(const void *buf, size_t len,
			 struct vhost_user_hdr *hdr, const char **why);

/**
 * vhost_user_parse() - Read one message (header and payload) from bytes
 *
 * Does not judge the request (see vhost_user_check_request()); never reads
 * past @len. Payload bytes past hdr.size are zeroed, and the envelope's
 * fds are reset (nfds = 0, all -1): attach the fds that came with the
 * bytes afterwards. The header is filled whenever @len >= 12.
 * Return: bytes consumed (12 + hdr.size), -ENODATA if @len holds less than
 * a whole message, -EMSGSIZE if hdr.size > VHOST_USER_PAYLOAD_MAX.
 */
int vhost_user_parse(struct vhost_user_msg *m, const void *buf, size_t len,
		     const char **why);

/**
 * vhost_user_pack() - Write header and hdr.size payload bytes, verbatim
 *
 * Writes whatever the header says, so a lying hdr.size is reproduced
 * (short of the envelope's capacity). fds are not part of the bytes.
 * Return: bytes written (12 + hdr.size), -EMSGSIZE if hdr.size >
 * VHOST_USER_PAYLOAD_MAX, -ENOSPC if @cap is too small.
 */
int vhost_user_pack(const struct vhost_user_msg *m, void *out, size_t cap);

/**
 * vhost_user_pack_raw() - Write a header and any number of payload bytes
 * @payload:	@payload_len bytes, or NULL for that many zero bytes
 *
 * @payload_len need not match hdr->size: cases use this for trailing
 * garbage and short payloads.
 * Return: bytes written (12 + @payload_len), -ENOSPC if @cap is too small,
 * -EMSGSIZE if the total does not fit in an int.
 */
int vhost_user_pack_raw(const struct vhost_user_hdr *hdr, const void *payload,
			size_t payload_len, void *out, size_t cap);

/* ---- Validation ------------------------------------------------------- */

/*
 * About @why: every failing call (and every warning) points it at a reason
 * that names the rule. Fixed reasons are static strings; formatted ones
 * live in a thread-local buffer that the next call into this module on the
 * same thread (vhost_user_describe() included) may overwrite: copy it if
 * it must outlive that.
 */

/*
 * Positive returns of vhost_user_check_request() / _check_reply(): the
 * message is legal, but shows something a strict case may fail on. The
 * value is a mask of these; why names the first.
 */
enum vhost_user_warning {
	/* flag bits 4-31 set: the spec defines bits 0-3 only (rust-vmm
	 * rejects such messages, QEMU rejects such replies) */
	VHOST_USER_WARN_RESERVED_FLAGS = 1 << 0,
	/* need_reply set without REPLY_ACK negotiated */
	VHOST_USER_WARN_NEED_REPLY_UNNEGOTIATED = 1 << 1,
	/* an fd the receiver MAY accept but SHOULD NOT get (REM_MEM_REG) */
	VHOST_USER_WARN_TOLERATED_FD = 1 << 2,
	/* a reserved or padding field, or undefined bits of a field, are not
	 * zero */
	VHOST_USER_WARN_RESERVED_FIELD = 1 << 3,
	/* a request the spec deprecates (RESET_OWNER) */
	VHOST_USER_WARN_DEPRECATED = 1 << 4,
	/* need_reply (bit 3) on a reply: defined for requests only */
	VHOST_USER_WARN_NEED_REPLY_ON_REPLY = 1 << 5,
};

/**
 * vhost_user_expected_size() - The payload size a request must have
 * @negotiated:	protocol features (XEN_MMAP changes region sizes)
 *
 * For EXACT rules, the size; MIN / MAX rules, the bound; MEM_TABLE and
 * CONFIG rules, the size its own contents (nregions, config.size) call for.
 * Return: that size, or -EBADMSG (with @why) if the payload is too short
 * to hold the count it is computed from, or the count is out of range.
 */
int vhost_user_expected_size(const struct vhost_user_rule *r,
			     const struct vhost_user_msg *m,
			     uint64_t negotiated, const char **why);

/**
 * vhost_user_check_request() - Judge a received request against the table
 * @dir:	who sent it
 * @negotiated:	protocol features in force when it arrived
 *
 * Checks, in this order: version 1, reply bit clear, the code, the size
 * rule, the fd rule (count, NOFD bit, one per region), payload fields whose
 * values the spec enumerates (IOTLB type and permissions, endianness,
 * transfer direction and phase), the gating protocol features and (back-end
 * requests) BACKEND_SEND_FD for fds, and SET_PROTOCOL_FEATURES setting
 * INBAND_NOTIFICATIONS without BACKEND_REQ and REPLY_ACK.
 *
 * Return: 0 if legal; a positive mask of enum vhost_user_warning if legal
 * but suspicious (reserved flag bits, reserved fields, ...); otherwise
 * -EBADMSG (malformed: version, reply bit, size, fds, field values),
 * -ENOTSUP (code not in the table), -EPROTO (a gating feature is not
 * negotiated), -EMSGSIZE (hdr.size past the envelope), -EINVAL (nfds past
 * the envelope). @why is set for every non-zero return.
 */
int vhost_user_check_request(const struct vhost_user_msg *m,
			     enum vhost_user_dir dir, uint64_t negotiated,
			     const char **why);

/**
 * vhost_user_reply_expected() - Must the receiver answer this request?
 *
 * ALWAYS: yes. IF_FEATURE: yes with the feature, else as IF_ACKED.
 * IF_ACKED: yes when need_reply is set and REPLY_ACK is negotiated.
 * (Postcopy SET_MEM_TABLE / ADD_MEM_REG replies depend on session state
 * and are not covered.)
 * Return: 1 yes, 0 no, -ENOTSUP for an unknown code.
 */
int vhost_user_reply_expected(enum vhost_user_dir dir,
			      const struct vhost_user_hdr *req,
			      uint64_t negotiated);

/**
 * vhost_user_check_reply() - Judge the reply to a request
 * @dir:	direction of the *request* (a back-end request's reply comes
 *		from the front-end)
 * @req:	the request's header, as sent
 *
 * The reply must carry the request's code, version 1 and the reply flag
 * (and not need_reply), and the size and fds of what that request's reply
 * carries: a u64 ack for IF_ACKED requests, the explicit body otherwise
 * (GET_CONFIG: the request's size, or 0 for an error; GET_INFLIGHT_FD: the
 * inflight description and one fd unless mmap_size is 0;
 * SET_DEVICE_STATE_FD: u64 and one fd unless the NOFD bit is set, never an
 * fd with an error; ...). Postcopy echoes of SET_MEM_TABLE / ADD_MEM_REG /
 * REM_MEM_REG (same size as the request) are accepted.
 * Return: 0, a positive warning mask, -EPROTO (code differs from the
 * request), -EBADMSG (flags, size, fds, fields), -ENOTSUP (unknown code).
 */
int vhost_user_check_reply(enum vhost_user_dir dir,
			   const struct vhost_user_hdr *req,
			   const struct vhost_user_msg *reply,
			   const char **why);

/**
 * vhost_user_protocol_features_check() - Is this protocol feature set
 * coherent?
 *
 * "It is also considered an error to negotiate [INBAND_NOTIFICATIONS]
 * without also negotiating BACKEND_REQ and REPLY_ACK".
 * Return: 0, or -EPROTO with @why.
 */
int vhost_user_protocol_features_check(uint64_t features, const char **why);

/* ---- Builders --------------------------------------------------------- */

/*
 * Each fills a correct message: version 1 in flags, hdr.size exact for
 * what was built, the payload, no fds (nfds = 0, fds[] = -1). Attach fds
 * with vhost_user_msg_attach_fds(). Then lie as you like by editing the
 * envelope. Each returns hdr.size (>= 0) or -EINVAL for arguments that do
 * not fit the layout.
 */
int vhost_user_build_empty(struct vhost_user_msg *m, uint32_t req);
int vhost_user_build_u64(struct vhost_user_msg *m, uint32_t req, uint64_t v);
int vhost_user_build_vring_state(struct vhost_user_msg *m, uint32_t req,
				 uint32_t index, uint32_t num);
int vhost_user_build_vring_addr(struct vhost_user_msg *m, uint32_t req,
				const struct vhost_user_vring_addr *a);
/* -EINVAL if n > VHOST_USER_MAX_MEM_REGIONS */
int vhost_user_build_mem_table(struct vhost_user_msg *m, uint32_t req,
			       const struct vhost_user_mem_region *regions,
			       unsigned int n);
int vhost_user_build_mem_table_xen(
	struct vhost_user_msg *m, uint32_t req,
	const struct vhost_user_mem_region_xen *regions, unsigned int n);
int vhost_user_build_mem_region(struct vhost_user_msg *m, uint32_t req,
				const struct vhost_user_mem_region *region);
int vhost_user_build_mem_region_xen(
	struct vhost_user_msg *m, uint32_t req,
	const struct vhost_user_mem_region_xen *region);
int vhost_user_build_log(struct vhost_user_msg *m, uint32_t req,
			 uint64_t mmap_size, uint64_t mmap_offset);
int vhost_user_build_iotlb(struct vhost_user_msg *m, uint32_t req,
			   const struct vhost_user_iotlb *iotlb);
/* @data: @size bytes, or NULL for zeros; -EINVAL if size > 256 */
int vhost_user_build_config(struct vhost_user_msg *m, uint32_t req,
			    uint32_t offset, uint32_t size, uint32_t flags,
			    const void *data);
int vhost_user_build_vring_area(struct vhost_user_msg *m, uint32_t req,
				uint64_t u64, uint64_t size, uint64_t offset);
int vhost_user_build_inflight(struct vhost_user_msg *m, uint32_t req,
			      uint64_t mmap_size, uint64_t mmap_offset,
			      uint16_t num_queues, uint16_t queue_size);
int vhost_user_build_shared(struct vhost_user_msg *m, uint32_t req,
			    const uint8_t uuid[16]);
int vhost_user_build_device_state(struct vhost_user_msg *m, uint32_t req,
				  uint32_t direction, uint32_t phase);
/* any bytes (crypto sessions, garbage); -EINVAL if len > PAYLOAD_MAX */
int vhost_user_build_raw(struct vhost_user_msg *m, uint32_t req,
			 const void *payload, size_t len);

/**
 * vhost_user_make_reply() - Turn a built message into a reply
 *
 * Sets the reply flag and clears need_reply, leaving version and size.
 */
void vhost_user_make_reply(struct vhost_user_msg *m);

/**
 * vhost_user_build_ack() - The u64 reply REPLY_ACK asks for
 *
 * Return: 8 (hdr.size).
 */
int vhost_user_build_ack(struct vhost_user_msg *m, uint32_t req,
			 uint64_t status);

/* ---- Getters ---------------------------------------------------------- */

/*
 * Each checks hdr.size against the layout first (exactly; for tables and
 * config, against the count inside) and copies the payload out. Return 0,
 * or -EBADMSG with @why when the size (or the count) is wrong.
 */
int vhost_user_get_u64(const struct vhost_user_msg *m, uint64_t *v,
		       const char **why);
int vhost_user_get_vring_state(const struct vhost_user_msg *m,
			       struct vhost_user_vring_state *s,
			       const char **why);
int vhost_user_get_vring_addr(const struct vhost_user_msg *m,
			      struct vhost_user_vring_addr *a,
			      const char **why);
int vhost_user_get_mem_table(const struct vhost_user_msg *m,
			     struct vhost_user_mem_table *t, const char **why);
int vhost_user_get_mem_table_xen(const struct vhost_user_msg *m,
				 struct vhost_user_mem_table_xen *t,
				 const char **why);
int vhost_user_get_mem_region(const struct vhost_user_msg *m,
			      struct vhost_user_single_mem_region *r,
			      const char **why);
int vhost_user_get_mem_region_xen(const struct vhost_user_msg *m,
				  struct vhost_user_single_mem_region_xen *r,
				  const char **why);
int vhost_user_get_log(const struct vhost_user_msg *m, struct vhost_user_log *l,
		       const char **why);
int vhost_user_get_iotlb(const struct vhost_user_msg *m,
			 struct vhost_user_iotlb *i, const char **why);
/* data[] past config.size is zeroed */
int vhost_user_get_config(const struct vhost_user_msg *m,
			  struct vhost_user_config *c, const char **why);
int vhost_user_get_vring_area(const struct vhost_user_msg *m,
			      struct vhost_user_vring_area *a,
			      const char **why);
int vhost_user_get_inflight(const struct vhost_user_msg *m,
			    struct vhost_user_inflight *i, const char **why);
int vhost_user_get_shared(const struct vhost_user_msg *m,
			  struct vhost_user_shared *s, const char **why);
int vhost_user_get_device_state(const struct vhost_user_msg *m,
				struct vhost_user_device_state *d,
				const char **why);

/* ---- Traces ----------------------------------------------------------- */

/**
 * vhost_user_describe() - One line that decodes a message, for traces
 * @dir:	direction of the request (for a reply too)
 * @buf:	output, always NUL-terminated when @cap > 0
 *
 * E.g. "VHOST_USER_SET_VRING_NUM flags=0x1 size=8 {index=0 num=256}".
 * Every layout is decoded; a payload whose size does not fit its layout
 * prints "malformed: <why>" instead; " fds=N" follows when fds travel.
 * Replies decode as the reply body (or "{ack=N}").
 * Return: the length of the whole line (as snprintf: a value >= @cap means
 * it was cut).
 */
int vhost_user_describe(const struct vhost_user_msg *m, enum vhost_user_dir dir,
			char *buf, size_t cap);

#endif /* VUC_WIRE_VHOST_USER_H */
