/* SPDX-License-Identifier: MIT */
/*
 * vfio_user.h - the vfio-user wire: header, payload structs, rule table,
 * parse / pack / check / build / get, and one-line descriptions for traces.
 *
 * Covers specs/vfio-user.rst ("Version 0.9.2"): Header, Message sizes,
 * Commands and every command section, plus the DMA_MAP access-mode bits of
 * seed 003 (bit 2 "access mode: mmap", bit 3 "access mode: file I/O").
 *
 * Pure: no I/O, no allocation, no globals but const tables. A message is a
 * header, a *view* of payload bytes owned by the caller, and the fds that
 * travelled beside it (plain ints: nothing here opens or closes an fd).
 * All data is in host endianness, as the spec says.
 *
 * Decoders never read past their input and say why through a
 * `const char **why` (a static string, or a thread-local buffer that the
 * next call on the same thread overwrites). Builders produce correct
 * messages; vfio_user_pack_raw() produces any byte pattern, so that cases
 * can lie.
 *
 * The VFIO names the spec reuses (VFIO_DEVICE_FLAGS_*, VFIO_IRQ_SET_*,
 * VFIO_DEVICE_STATE_*, ...) are defined here with the kernel's values, so
 * the wire does not depend on the build host's kernel headers. Do not
 * include <linux/vfio.h> or <linux/kvm.h> in the same file.
 */
#ifndef VUC_WIRE_VFIO_USER_H
#define VUC_WIRE_VFIO_USER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#if defined(VFIO_API_VERSION) || defined(KVM_API_VERSION)
/* the VFIO and KVM names below would clash with the kernel's own */
#error "wire/vfio_user.h defines the VFIO names itself: no <linux/vfio.h>"
#endif

/* ------------------------------------------------------------------ */
/* Header                                                              */
/* ------------------------------------------------------------------ */

#define VFIO_USER_HDR_SIZE 16u

/* "preceded by a 16-byte header"; msg_size counts the header too. */
struct vfio_user_hdr {
	uint16_t msg_id;
	uint16_t command;
	uint32_t msg_size;
	uint32_t flags;
	uint32_t error;
};
_Static_assert(sizeof(struct vfio_user_hdr) == VFIO_USER_HDR_SIZE,
	       "vfio-user header is 16 bytes");

/* Flags: bits 0-3 Type, bit 4 No_reply, bit 5 Error; the rest undefined. */
#define VFIO_USER_F_TYPE_MASK 0xfu
#define VFIO_USER_F_TYPE_COMMAND 0x0u
#define VFIO_USER_F_TYPE_REPLY 0x1u
#define VFIO_USER_F_NO_REPLY (1u << 4)
#define VFIO_USER_F_ERROR (1u << 5)
#define VFIO_USER_F_RESERVED (~0x3fu)

/* ------------------------------------------------------------------ */
/* Commands (the spec's table; 14 is a gap: it was                     */
/* VFIO_USER_DIRTY_PAGES before migration v2 and is now unassigned)    */
/* ------------------------------------------------------------------ */

enum vfio_user_command {
	VFIO_USER_VERSION = 1,
	VFIO_USER_DMA_MAP = 2,
	VFIO_USER_DMA_UNMAP = 3,
	VFIO_USER_DEVICE_GET_INFO = 4,
	VFIO_USER_DEVICE_GET_REGION_INFO = 5,
	VFIO_USER_DEVICE_GET_REGION_IO_FDS = 6,
	VFIO_USER_DEVICE_GET_IRQ_INFO = 7,
	VFIO_USER_DEVICE_SET_IRQS = 8,
	VFIO_USER_REGION_READ = 9,
	VFIO_USER_REGION_WRITE = 10,
	VFIO_USER_DMA_READ = 11,
	VFIO_USER_DMA_WRITE = 12,
	VFIO_USER_DEVICE_RESET = 13,
	VFIO_USER_DIRTY_PAGES_RESERVED = 14, /* not in the 0.9.2 table */
	VFIO_USER_REGION_WRITE_MULTI = 15,
	VFIO_USER_DEVICE_FEATURE = 16,
	VFIO_USER_MIG_DATA_READ = 17,
	VFIO_USER_MIG_DATA_WRITE = 18,
};

/* Codes 1 .. VFIO_USER_CMD_MAX have a row in vfio_user_rules[]. */
#define VFIO_USER_CMD_MAX 18u

/* ------------------------------------------------------------------ */
/* Limits and the defaults of the VERSION capabilities                 */
/* ------------------------------------------------------------------ */

/* max_msg_fds: "If not specified then the receiver must assume ... 1". */
#define VFIO_USER_DEFAULT_MAX_MSG_FDS 1u
/* max_data_xfer_size: "Optional, with a default value of 1048576 bytes". */
#define VFIO_USER_DEFAULT_MAX_DATA_XFER_SIZE 1048576u
/* max_dma_maps: "Optional, with a value of 65535 (64k-1)". */
#define VFIO_USER_DEFAULT_MAX_DMA_MAPS 65535u
/* pgsizes: "a default value of supporting only 4k pages". */
#define VFIO_USER_DEFAULT_PGSIZES 4096u
/* migration.{pgsize,max_bitmap_size}: not in the spec's table; the values
 * QEMU and libvfio-user use. */
#define VFIO_USER_DEFAULT_MIGRATION_PGSIZE 4096u
#define VFIO_USER_DEFAULT_MAX_BITMAP_SIZE (256u * 1024 * 1024)

/* The protocol version vu-conform proposes (libvfio-user speaks 0.2). */
#define VFIO_USER_MAJOR 0u
#define VFIO_USER_MINOR 2u

/*
 * How many fds a struct vfio_user_msg can hold: the kernel's SCM_MAX_FD,
 * the most one sendmsg() carries. The protocol's own limit is the peer's
 * max_msg_fds (default VFIO_USER_DEFAULT_MAX_MSG_FDS), a session matter.
 */
#define VFIO_USER_MSG_FDS_MAX 253u

/* Largest fixed part in front of bulk data (region / DMA access). */
#define VFIO_USER_DATA_HDR_MAX 16u

/* A sensible receive limit for a peer with max_data_xfer_size @xfer. */
#define VFIO_USER_MSG_SIZE_FOR_XFER(xfer) \
	((size_t)VFIO_USER_HDR_SIZE + VFIO_USER_DATA_HDR_MAX + (size_t)(xfer))

/* ------------------------------------------------------------------ */
/* Payloads. Offsets are from the end of the header. Each struct is    */
/* the fixed part; variable tails (data, entries) follow it.           */
/* ------------------------------------------------------------------ */

/* VFIO_USER_VERSION request and reply; the JSON (with its NUL) follows. */
struct vfio_user_version {
	uint16_t major;
	uint16_t minor;
};
_Static_assert(sizeof(struct vfio_user_version) == 4, "wire layout");

/* VFIO_USER_DMA_MAP request. No reply payload. */
struct vfio_user_dma_map {
	uint32_t argsz; /* the size of this structure: 32 */
	uint32_t flags;
	uint64_t offset; /* file offset for the fd, or 0 */
	uint64_t addr;
	uint64_t size;
};
_Static_assert(sizeof(struct vfio_user_dma_map) == 32, "wire layout");

#define VFIO_USER_F_DMA_REGION_READ (1u << 0)
#define VFIO_USER_F_DMA_REGION_WRITE (1u << 1)
/* Seed 003: "access mode: mmap" and "access mode: file I/O". */
#define VFIO_USER_F_DMA_REGION_MMAP (1u << 2)
#define VFIO_USER_F_DMA_REGION_FILE_IO (1u << 3)
#define VFIO_USER_F_DMA_REGION_MODES \
	(VFIO_USER_F_DMA_REGION_MMAP | VFIO_USER_F_DMA_REGION_FILE_IO)
#define VFIO_USER_F_DMA_REGION_ALL                                    \
	(VFIO_USER_F_DMA_REGION_READ | VFIO_USER_F_DMA_REGION_WRITE | \
	 VFIO_USER_F_DMA_REGION_MODES)

/* How the server is to reach a DMA region (seed 003). */
enum vfio_user_dma_access {
	VFIO_USER_DMA_ACCESS_MSG,     /* DMA_READ / DMA_WRITE messages */
	VFIO_USER_DMA_ACCESS_MMAP,    /* mmap() the client's fd */
	VFIO_USER_DMA_ACCESS_FILE_IO, /* pread() / pwrite() on the fd */
};

/* Dirty bitmap that follows struct vfio_user_dma_unmap (legacy). */
struct vfio_user_bitmap {
	uint64_t pgsize;
	uint64_t size; /* bytes of bitmap data */
};
_Static_assert(sizeof(struct vfio_user_bitmap) == 16, "wire layout");

/* VFIO_USER_DMA_UNMAP request; the reply echoes it. */
struct vfio_user_dma_unmap {
	uint32_t argsz; /* maximum reply payload */
	uint32_t flags;
	uint64_t addr;
	uint64_t size;
};
_Static_assert(sizeof(struct vfio_user_dma_unmap) == 24, "wire layout");

/*
 * The spec says "flags is unused in this version". libvfio-user and QEMU
 * still use the VFIO flags: GET_DIRTY_BITMAP appends a struct
 * vfio_user_bitmap to the request (and bitmap data to the reply); ALL
 * unmaps everything and wants addr = size = 0.
 */
#define VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP (1u << 0)
#define VFIO_DMA_UNMAP_FLAG_ALL (1u << 1)

/* VFIO_USER_DEVICE_GET_INFO request and reply. */
struct vfio_user_device_info {
	uint32_t argsz;
	uint32_t flags;
	uint32_t num_regions;
	uint32_t num_irqs;
};
_Static_assert(sizeof(struct vfio_user_device_info) == 16, "wire layout");

#define VFIO_DEVICE_FLAGS_RESET (1u << 0)
#define VFIO_DEVICE_FLAGS_PCI (1u << 1)

/* PCI region and IRQ indexes (the spec's "standard ones (e.g. PCI indexes
 * 0-8)"). */
#define VFIO_PCI_BAR0_REGION_INDEX 0u
#define VFIO_PCI_BAR1_REGION_INDEX 1u
#define VFIO_PCI_BAR2_REGION_INDEX 2u
#define VFIO_PCI_BAR3_REGION_INDEX 3u
#define VFIO_PCI_BAR4_REGION_INDEX 4u
#define VFIO_PCI_BAR5_REGION_INDEX 5u
#define VFIO_PCI_ROM_REGION_INDEX 6u
#define VFIO_PCI_CONFIG_REGION_INDEX 7u
#define VFIO_PCI_VGA_REGION_INDEX 8u
#define VFIO_PCI_NUM_REGIONS 9u
#define VFIO_PCI_INTX_IRQ_INDEX 0u
#define VFIO_PCI_MSI_IRQ_INDEX 1u
#define VFIO_PCI_MSIX_IRQ_INDEX 2u
#define VFIO_PCI_ERR_IRQ_INDEX 3u
#define VFIO_PCI_REQ_IRQ_INDEX 4u
#define VFIO_PCI_NUM_IRQS 5u

/* VFIO_USER_DEVICE_GET_REGION_INFO request and reply (caps follow). */
struct vfio_user_region_info {
	uint32_t argsz;
	uint32_t flags;
	uint32_t index;
	uint32_t cap_offset; /* from the start of this struct */
	uint64_t size;
	uint64_t offset;
};
_Static_assert(sizeof(struct vfio_user_region_info) == 32, "wire layout");

#define VFIO_REGION_INFO_FLAG_READ (1u << 0)
#define VFIO_REGION_INFO_FLAG_WRITE (1u << 1)
#define VFIO_REGION_INFO_FLAG_MMAP (1u << 2)
#define VFIO_REGION_INFO_FLAG_CAPS (1u << 3)

/* Every region capability starts with this; next is from the start of
 * struct vfio_user_region_info, 0 ends the list. */
struct vfio_user_info_cap_header {
	uint16_t id;
	uint16_t version;
	uint32_t next;
};
_Static_assert(sizeof(struct vfio_user_info_cap_header) == 8, "wire layout");

#define VFIO_REGION_INFO_CAP_SPARSE_MMAP 1u
#define VFIO_REGION_INFO_CAP_TYPE 2u
#define VFIO_REGION_INFO_CAP_MSIX_MAPPABLE 3u

struct vfio_user_region_sparse_mmap_area {
	uint64_t offset; /* added to the region info's offset */
	uint64_t size;
};
_Static_assert(sizeof(struct vfio_user_region_sparse_mmap_area) == 16,
	       "wire layout");

/* nr_areas areas follow. */
struct vfio_user_region_info_cap_sparse_mmap {
	struct vfio_user_info_cap_header header; /* id SPARSE_MMAP, version 1 */
	uint32_t nr_areas;
	uint32_t reserved;
};
_Static_assert(sizeof(struct vfio_user_region_info_cap_sparse_mmap) == 16,
	       "wire layout");

struct vfio_user_region_info_cap_type {
	struct vfio_user_info_cap_header header; /* id TYPE, version 1 */
	uint32_t type;
	uint32_t subtype;
};
_Static_assert(sizeof(struct vfio_user_region_info_cap_type) == 16,
	       "wire layout");

/* VFIO_USER_DEVICE_GET_REGION_IO_FDS request, and the reply's fixed part
 * (count sub-region entries follow in the reply). */
struct vfio_user_region_io_fds {
	uint32_t argsz;
	uint32_t flags;
	uint32_t index;
	uint32_t count;
};
_Static_assert(sizeof(struct vfio_user_region_io_fds) == 16, "wire layout");

/*
 * One sub-region of the reply. The ioeventfd and ioregionfd formats differ
 * only in the name of the last field (datamatch / user_data).
 */
struct vfio_user_sub_region_io_fd {
	uint64_t offset;
	uint64_t size;
	uint32_t fd_index;
	uint32_t type; /* VFIO_USER_IO_FD_TYPE_* */
	uint32_t flags;
	uint32_t padding;
	union {
		uint64_t datamatch; /* ioeventfd */
		uint64_t user_data; /* ioregionfd */
	};
};
_Static_assert(sizeof(struct vfio_user_sub_region_io_fd) == 40, "wire layout");

#define VFIO_USER_IO_FD_TYPE_IOEVENTFD 0u
#define VFIO_USER_IO_FD_TYPE_IOREGIONFD 1u
#define KVM_IOEVENTFD_FLAG_DATAMATCH (1u << 0)
#define KVM_IOEVENTFD_FLAG_PIO (1u << 1)
#define KVM_IOEVENTFD_FLAG_VIRTIO_CCW_NOTIFY (1u << 3)
#define KVM_IOREGION_PIO (1u << 0)
#define KVM_IOREGION_POSTED_WRITES (1u << 1)

/* VFIO_USER_DEVICE_GET_IRQ_INFO request and reply. */
struct vfio_user_irq_info {
	uint32_t argsz;
	uint32_t flags;
	uint32_t index;
	uint32_t count;
};
_Static_assert(sizeof(struct vfio_user_irq_info) == 16, "wire layout");

#define VFIO_IRQ_INFO_EVENTFD (1u << 0)
#define VFIO_IRQ_INFO_MASKABLE (1u << 1)
#define VFIO_IRQ_INFO_AUTOMASKED (1u << 2)
#define VFIO_IRQ_INFO_NORESIZE (1u << 3)

/* VFIO_USER_DEVICE_SET_IRQS request; DATA_BOOL: count bytes follow. */
struct vfio_user_irq_set {
	uint32_t argsz; /* the size of this request payload, data included */
	uint32_t flags;
	uint32_t index;
	uint32_t start;
	uint32_t count;
};
_Static_assert(sizeof(struct vfio_user_irq_set) == 20, "wire layout");

#define VFIO_IRQ_SET_DATA_NONE (1u << 0)
#define VFIO_IRQ_SET_DATA_BOOL (1u << 1)
#define VFIO_IRQ_SET_DATA_EVENTFD (1u << 2)
#define VFIO_IRQ_SET_ACTION_MASK (1u << 3)
#define VFIO_IRQ_SET_ACTION_UNMASK (1u << 4)
#define VFIO_IRQ_SET_ACTION_TRIGGER (1u << 5)
#define VFIO_IRQ_SET_DATA_TYPE_MASK                        \
	(VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_DATA_BOOL | \
	 VFIO_IRQ_SET_DATA_EVENTFD)
#define VFIO_IRQ_SET_ACTION_TYPE_MASK                            \
	(VFIO_IRQ_SET_ACTION_MASK | VFIO_IRQ_SET_ACTION_UNMASK | \
	 VFIO_IRQ_SET_ACTION_TRIGGER)

/* VFIO_USER_REGION_READ / _WRITE, request and reply; data follows in the
 * READ reply and the WRITE request. */
struct vfio_user_region_access {
	uint64_t offset;
	uint32_t region;
	uint32_t count;
};
_Static_assert(sizeof(struct vfio_user_region_access) == 16, "wire layout");

/* VFIO_USER_DMA_READ / _WRITE request, and the DMA_READ reply; data
 * follows in the DMA_READ reply and the DMA_WRITE request. */
struct vfio_user_dma_region_access {
	uint64_t addr;
	uint64_t count;
};
_Static_assert(sizeof(struct vfio_user_dma_region_access) == 16, "wire layout");

/*
 * VFIO_USER_DMA_WRITE reply as the spec draws it: count is 4 bytes, so the
 * payload is 12. libvfio-user expects struct vfio_user_dma_region_access
 * (16 bytes) instead; vfio_user_check_reply() accepts both.
 */
struct vfio_user_dma_write_reply {
	uint64_t addr;
	uint32_t count;
} __attribute__((packed));
_Static_assert(sizeof(struct vfio_user_dma_write_reply) == 12, "wire layout");

/* VFIO_USER_REGION_WRITE_MULTI: a u64 wr_cnt, then wr_cnt of these. */
struct vfio_user_write_multi_data {
	uint64_t offset;
	uint32_t region;
	uint32_t count; /* "can only describe writes of 8 bytes or less" */
	uint8_t data[8];
};
_Static_assert(sizeof(struct vfio_user_write_multi_data) == 24, "wire layout");
#define VFIO_USER_MULTI_DATA 8u

struct vfio_user_write_multi {
	uint64_t wr_cnt;
};
_Static_assert(sizeof(struct vfio_user_write_multi) == 8, "wire layout");

/* VFIO_USER_DEVICE_FEATURE request and reply; feature data follows. */
struct vfio_user_device_feature {
	uint32_t argsz;
	uint32_t flags; /* feature index in bits 0-15, GET / SET / PROBE */
};
_Static_assert(sizeof(struct vfio_user_device_feature) == 8, "wire layout");

#define VFIO_DEVICE_FEATURE_MASK 0xffffu
#define VFIO_DEVICE_FEATURE_GET (1u << 16)
#define VFIO_DEVICE_FEATURE_SET (1u << 17)
#define VFIO_DEVICE_FEATURE_PROBE (1u << 18)

#define VFIO_DEVICE_FEATURE_MIGRATION 1u
#define VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE 2u
#define VFIO_DEVICE_FEATURE_DMA_LOGGING_START 6u
#define VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP 7u
#define VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT 8u

/* GET MIGRATION reply data. */
struct vfio_user_device_feature_migration {
	uint64_t flags;
};
_Static_assert(sizeof(struct vfio_user_device_feature_migration) == 8,
	       "wire layout");

#define VFIO_MIGRATION_STOP_COPY (1u << 0)
#define VFIO_MIGRATION_P2P (1u << 1)
#define VFIO_MIGRATION_PRE_COPY (1u << 2)

/* SET MIG_DEVICE_STATE request data, GET MIG_DEVICE_STATE reply data. */
struct vfio_user_device_feature_mig_state {
	uint32_t device_state; /* VFIO_DEVICE_STATE_* */
	uint32_t data_fd;      /* "unused in vfio-user" */
};
_Static_assert(sizeof(struct vfio_user_device_feature_mig_state) == 8,
	       "wire layout");

#define VFIO_DEVICE_STATE_ERROR 0u
#define VFIO_DEVICE_STATE_STOP 1u
#define VFIO_DEVICE_STATE_RUNNING 2u
#define VFIO_DEVICE_STATE_STOP_COPY 3u
#define VFIO_DEVICE_STATE_RESUMING 4u
#define VFIO_DEVICE_STATE_RUNNING_P2P 5u /* not used in vfio-user */
#define VFIO_DEVICE_STATE_PRE_COPY 6u
#define VFIO_DEVICE_STATE_PRE_COPY_P2P 7u /* not used in vfio-user */
#define VFIO_DEVICE_STATE_MAX 7u

/* SET DMA_LOGGING_START request data; num_ranges ranges follow. */
struct vfio_user_device_feature_dma_logging_control {
	uint64_t page_size;
	uint32_t num_ranges; /* 0: log every write */
	uint32_t reserved;
};
_Static_assert(sizeof(struct vfio_user_device_feature_dma_logging_control) ==
		       16,
	       "wire layout");

struct vfio_user_device_feature_dma_logging_range {
	uint64_t iova;
	uint64_t length;
};
_Static_assert(sizeof(struct vfio_user_device_feature_dma_logging_range) == 16,
	       "wire layout");

/* GET DMA_LOGGING_REPORT request data; the reply appends the bitmap (u64
 * words, one bit per page_size unit). */
struct vfio_user_device_feature_dma_logging_report {
	uint64_t iova;
	uint64_t length;
	uint64_t page_size; /* "must be a power of two" */
};
_Static_assert(sizeof(struct vfio_user_device_feature_dma_logging_report) == 24,
	       "wire layout");

/* VFIO_USER_MIG_DATA_READ request (8 bytes) and reply (data follows);
 * VFIO_USER_MIG_DATA_WRITE request (data follows). */
struct vfio_user_mig_data {
	uint32_t argsz;
	uint32_t size;
};
_Static_assert(sizeof(struct vfio_user_mig_data) == 8, "wire layout");

/* ------------------------------------------------------------------ */
/* Message envelope                                                    */
/* ------------------------------------------------------------------ */

/*
 * One message: the header as it came (or as a case wants to send it, lies
 * included), a view of the payload, and the fds that travelled with it.
 *
 * @payload is never owned: it points into the caller's buffer (the bytes
 * vfio_user_parse() was given, or the buffer a builder wrote into). Region
 * and DMA data can be max_data_xfer_size (1 MiB by default) long, far too
 * much for an in-struct array. @payload_len is the number of payload bytes
 * really there; for a parsed message it is hdr.msg_size - 16, for a
 * hand-made one it may disagree with hdr.msg_size on purpose.
 *
 * @fds are plain ints; whoever filled them (the transport, a builder's
 * caller) owns them. Unused slots are -1 after vfio_user_msg_init().
 */
struct vfio_user_msg {
	struct vfio_user_hdr hdr;
	const uint8_t *payload;
	size_t payload_len;
	int fds[VFIO_USER_MSG_FDS_MAX];
	unsigned int nfds;
};

/**
 * vfio_user_msg_init() - Zero @msg, no payload, no fds (slots set to -1)
 */
void vfio_user_msg_init(struct vfio_user_msg *msg);

/**
 * vfio_user_msg_set_fds() - Attach @nfds fds to @msg (copies the ints)
 *
 * Ownership does not move: the caller still owns the fds.
 *
 * Return: 0, or -EMSGSIZE if @nfds > VFIO_USER_MSG_FDS_MAX (nothing copied).
 */
int vfio_user_msg_set_fds(struct vfio_user_msg *msg, const int *fds,
			  unsigned int nfds);

/* ------------------------------------------------------------------ */
/* The rule table: the spec as data                                    */
/* ------------------------------------------------------------------ */

/* Which way a command travels. */
enum vfio_user_dir {
	VFIO_USER_CLIENT_TO_SERVER,
	VFIO_USER_SERVER_TO_CLIENT,
};

/* How a payload's size is determined. */
enum vfio_user_size_rule {
	VFIO_USER_SIZE_NONE,  /* no payload at all */
	VFIO_USER_SIZE_EXACT, /* exactly .fixed (or .alt) bytes */
	VFIO_USER_SIZE_MIN, /* at least .fixed; the command defines the tail */
	VFIO_USER_SIZE_ARGSZ, /* at least .fixed; argsz says the full size */
	VFIO_USER_SIZE_COUNT, /* exactly .fixed + count field * .elem */
};

struct vfio_user_size {
	enum vfio_user_size_rule rule;
	uint32_t fixed;	     /* the fixed part, bytes */
	uint32_t alt;	     /* EXACT: another accepted size, 0 if none */
	uint32_t elem;	     /* COUNT / ARGSZ: bytes per counted element */
	uint8_t count_off;   /* COUNT / ARGSZ: offset of the count field */
	uint8_t count_width; /* COUNT / ARGSZ: 4 or 8; 0 if no count */
};

/*
 * What argsz means ("Message sizes"). Every argsz is the payload's first
 * u32.
 */
enum vfio_user_argsz_rule {
	VFIO_USER_ARGSZ_NONE, /* the payload has no argsz */
	/* request: argsz is the request payload's own size (DMA_MAP,
	 * SET_IRQS: "Note there is no reply payload, so this field differs
	 * from other message types") */
	VFIO_USER_ARGSZ_SELF,
	/* request: "it defines the maximum expected reply payload size, which
	 * should be at least the size of the fixed reply payload headers" */
	VFIO_USER_ARGSZ_REPLY_MAX,
	/* reply: "the size needed for a full payload"; larger than the
	 * request's argsz means "not included, retry with a larger buffer" */
	VFIO_USER_ARGSZ_NEEDED,
	/* reply: a copy of the request's (DMA_UNMAP "responds with the
	 * original DMA entry in the request") */
	VFIO_USER_ARGSZ_ECHO,
};

/* Which fds may travel. */
enum vfio_user_fd_rule {
	VFIO_USER_FDS_NONE,
	/* DMA_MAP: 0 or 1, as the access-mode bits say (seed 003) */
	VFIO_USER_FDS_DMA_MAP,
	/* SET_IRQS: with DATA_EVENTFD 0 (de-assign) or count; else none */
	VFIO_USER_FDS_IRQ_SET,
	/* VERSION reply: the twin socket at twin_socket.fd_index, if any */
	VFIO_USER_FDS_TWIN_SOCKET,
	/* REGION_INFO reply: at least one when FLAG_MMAP (complete reply) */
	VFIO_USER_FDS_REGION_MMAP,
	/* GET_REGION_IO_FDS reply: at least one when count > 0 (complete) */
	VFIO_USER_FDS_IO_FDS,
};

/* fds_max for "bounded by the message (count) or the peer's max_msg_fds". */
#define VFIO_USER_FDS_VARIABLE VFIO_USER_MSG_FDS_MAX

struct vfio_user_rule {
	uint16_t code;
	bool reserved;	    /* a gap in the spec's table: no command */
	const char *name;   /* spelled as in the spec */
	const char *anchor; /* "vfio-user#<RST heading slug>" */
	enum vfio_user_dir dir;
	struct vfio_user_size req;
	struct vfio_user_size reply;
	enum vfio_user_argsz_rule req_argsz;
	enum vfio_user_argsz_rule reply_argsz;
	enum vfio_user_fd_rule req_fds;
	unsigned int req_fds_max;
	enum vfio_user_fd_rule reply_fds;
	unsigned int reply_fds_max;
	const char *gate; /* capability that must be negotiated, or NULL */
	const char *note; /* the subtle spec line, quoted */
};

/* Row code - 1 is command code; row 14 is reserved. */
extern const struct vfio_user_rule vfio_user_rules[VFIO_USER_CMD_MAX];

/**
 * vfio_user_rule() - The rule for command @code
 *
 * Return: the row, or NULL for 0, 14 (reserved) and anything above 18.
 */
const struct vfio_user_rule *vfio_user_rule(unsigned int code);

/**
 * vfio_user_rule_next() - The command after @prev in code order
 * @prev:	NULL for the first
 *
 * Skips reserved rows.
 *
 * Return: the next row, or NULL after the last.
 */
const struct vfio_user_rule *
vfio_user_rule_next(const struct vfio_user_rule *prev);

/* Every real command, in code order: vfio_user_for_each_rule(r) { ... } */
#define vfio_user_for_each_rule(r) \
	for ((r) = vfio_user_rule_next(NULL); (r); (r) = vfio_user_rule_next(r))

/**
 * vfio_user_command_name() - Spec name of command @code
 *
 * Return: a static string; "VFIO_USER_(reserved 14)" for the gap and
 * "VFIO_USER_(unknown)" for codes outside the table.
 */
const char *vfio_user_command_name(unsigned int code);

/* ------------------------------------------------------------------ */
/* Parse and pack                                                      */
/* ------------------------------------------------------------------ */

/**
 * vfio_user_hdr_parse() - Copy the header out of @buf
 *
 * Return: 16, or -ENODATA if @len < 16.
 */
int vfio_user_hdr_parse(const uint8_t *buf, size_t len,
			struct vfio_user_hdr *hdr, const char **why);

/**
 * vfio_user_parse() - Frame one message at the start of @buf
 * @msg:	filled on success: header, payload view into @buf, nfds 0
 * @max_size:	largest msg_size accepted (header included); 0 for no limit
 *		other than INT_MAX
 *
 * The size checks run as soon as the header is complete, so a reader can
 * call this with just the header to learn early that a message is too big
 * or malformed. Never reads past @len. Attach the fds that came with the
 * message afterwards (vfio_user_msg_set_fds()).
 *
 * Return: bytes consumed (hdr.msg_size), -ENODATA if @buf holds less than
 * a header or less than msg_size, -EBADMSG if msg_size < 16, -EMSGSIZE if
 * msg_size > @max_size or INT_MAX. @msg is untouched on failure.
 */
int vfio_user_parse(struct vfio_user_msg *msg, const uint8_t *buf, size_t len,
		    size_t max_size, const char **why);

/**
 * vfio_user_pack_raw() - Write @hdr then @payload, verbatim, to @out
 *
 * Nothing is fixed up: msg_size, flags and the payload length may disagree
 * as much as the caller likes (trailing garbage is just a longer
 * @payload). @payload may already sit at @out + 16.
 *
 * Return: bytes written (16 + @payload_len), -ENOSPC if @cap is too small,
 * -EMSGSIZE if the total exceeds INT_MAX.
 */
int vfio_user_pack_raw(uint8_t *out, size_t cap,
		       const struct vfio_user_hdr *hdr, const void *payload,
		       size_t payload_len);

/**
 * vfio_user_pack() - vfio_user_pack_raw() of @msg's header and payload
 *
 * Return: as vfio_user_pack_raw().
 */
int vfio_user_pack(uint8_t *out, size_t cap, const struct vfio_user_msg *msg);

/* ------------------------------------------------------------------ */
/* Checks                                                              */
/* ------------------------------------------------------------------ */

/* Flags for vfio_user_check_command() / _reply(). Default: strict. */
enum vfio_user_check_flags {
	VFIO_USER_CHECK_STRICT = 0,
	/* Accept what the spec calls reserved in a header: the Error bit and
	 * error field in a command ("It is reserved in a command message"),
	 * a non-zero error field in a success reply, flag bits 6-31. */
	VFIO_USER_CHECK_LENIENT_HDR = 1u << 0,
	/* Accept non-zero request fields the spec says the sender must zero
	 * ("all other fields must be zero"; DMA_MAP offset without an fd). */
	VFIO_USER_CHECK_LENIENT_ZERO = 1u << 1,
	VFIO_USER_CHECK_LENIENT =
		VFIO_USER_CHECK_LENIENT_HDR | VFIO_USER_CHECK_LENIENT_ZERO,
};

/**
 * vfio_user_check_command() - Is @msg a legal command travelling @dir?
 * @flags:	enum vfio_user_check_flags
 *
 * Checks, in order: the envelope (msg_size = 16 + payload_len), type bits,
 * Error bit / error field / reserved bits, the code (reserved or unknown),
 * the direction, the payload size rule, the argsz rule, the fd rule, and
 * the command's own fields (DMA_MAP access modes, flag combinations,
 * ranges that pass 2^64, feature data sizes, JSON NUL). Ranges may end
 * exactly at 2^64; a range whose last byte would be past it is refused.
 *
 * Session rules (negotiated max_data_xfer_size, write_multiple, migration
 * state) are not checked here; see vfio_user_check_xfer().
 *
 * Return: 0; -EBADMSG malformed; -EPROTO well formed but not legal (wrong
 * direction, SET of a GET-only feature, a state that cannot be set);
 * -ENOTSUP unknown or reserved command or feature; -EINVAL bad arguments.
 */
int vfio_user_check_command(const struct vfio_user_msg *msg,
			    enum vfio_user_dir dir, unsigned int flags,
			    const char **why);

/* Non-negative results of vfio_user_check_reply(). */
enum vfio_user_reply_kind {
	VFIO_USER_REPLY_OK = 0, /* a complete success reply */
	/* success, but the reply's argsz is larger than the request's: the
	 * full payload is not included; retry with that argsz */
	VFIO_USER_REPLY_RETRY = 1,
	VFIO_USER_REPLY_ERROR = 2, /* a well-formed error reply */
};

/**
 * vfio_user_check_reply() - Is @reply a legal answer to @cmd?
 * @cmd:	the command as sent (header and payload)
 * @flags:	enum vfio_user_check_flags
 *
 * Header: reply type, No_reply clear, msg_id and command echoed, no reply
 * to a No_reply command. Error replies: "the reply message must only
 * include the reply header" (no payload, no fds). Success replies: size
 * and argsz rules, fds, echoed fields, and the command's own rules
 * (VERSION major equal and minor not above the proposal, region caps
 * chain, IO_FDS entries, feature data, ...). If @cmd itself is not a
 * legal command, only the header checks run.
 *
 * Return: enum vfio_user_reply_kind, or -EBADMSG malformed, -EPROTO
 * well formed but not an answer to @cmd (ids, echoed fields, a version
 * the client did not propose), -ENOTSUP for an unknown command.
 */
int vfio_user_check_reply(const struct vfio_user_msg *cmd,
			  const struct vfio_user_msg *reply, unsigned int flags,
			  const char **why);

/**
 * vfio_user_dma_map_access() - The access mode a DMA_MAP asks for
 * @flags:	the DMA_MAP flags
 * @nfds:	fds that came with it
 *
 * Seed 003: "If an access mode requiring a file descriptor is specified,
 * but the client does not provide a file descriptor, the server must fail
 * the request with EINVAL. If no access mode flag bit is set, the server
 * should use mmap() based access if the client provided a file descriptor
 * and message-based access otherwise." Both mode bits, unknown bits or
 * more than one fd are refused too.
 *
 * Return: enum vfio_user_dma_access, or -EBADMSG.
 */
int vfio_user_dma_map_access(uint32_t flags, unsigned int nfds,
			     const char **why);

/**
 * vfio_user_xfer_count() - The data count of a data-transfer message
 *
 * For REGION_READ / REGION_WRITE, DMA_READ / DMA_WRITE (requests and
 * replies) and MIG_DATA_READ / MIG_DATA_WRITE (size), which "must not
 * exceed the value of max_data_xfer_size of the peer".
 *
 * Return: 1 with *@count set, 0 if @msg is no data transfer, -EBADMSG if
 * too short to hold the count.
 */
int vfio_user_xfer_count(const struct vfio_user_msg *msg, uint64_t *count,
			 const char **why);

/**
 * vfio_user_check_xfer() - Is @msg's data count within @max_data_xfer_size?
 *
 * Return: 0 (also for messages that carry no count), -EMSGSIZE if above,
 * -EBADMSG if too short.
 */
int vfio_user_check_xfer(const struct vfio_user_msg *msg,
			 uint64_t max_data_xfer_size, const char **why);

/**
 * vfio_user_dirty_bitmap_size() - Bytes of the DMA_LOGGING_REPORT bitmap
 *
 * One bit per @page_size unit of @length, in whole u64 words.
 *
 * Return: the size, or 0 if @page_size is 0.
 */
uint64_t vfio_user_dirty_bitmap_size(uint64_t length, uint64_t page_size);

/* ------------------------------------------------------------------ */
/* Builders. Each writes a whole, correct message (header + payload)  */
/* into @buf, points @msg at it and sets @msg's fds (copies of the     */
/* ints; the caller keeps ownership). Return the message size, or      */
/* -ENOSPC if @cap is too small, -EMSGSIZE if too many fds or bytes,   */
/* -EINVAL for arguments that cannot make a correct message. A NULL   */
/* data pointer with a non-zero count sends zeros. To lie, edit the    */
/* bytes afterwards (msg->payload points into @buf) or use             */
/* vfio_user_pack_raw().                                               */
/* ------------------------------------------------------------------ */

/* Requests (client -> server unless noted). */

/** vfio_user_build_version() - VERSION; @json NULL for none, else it is
 * sent with its NUL. Return: message size or -errno. */
int vfio_user_build_version(struct vfio_user_msg *msg, uint8_t *buf, size_t cap,
			    uint16_t msg_id, uint16_t major, uint16_t minor,
			    const char *json);

/** vfio_user_build_dma_map() - DMA_MAP; @fd -1 for none.
 * Return: message size or -errno. */
int vfio_user_build_dma_map(struct vfio_user_msg *msg, uint8_t *buf, size_t cap,
			    uint16_t msg_id, uint32_t flags, uint64_t offset,
			    uint64_t addr, uint64_t size, int fd);

/** vfio_user_build_dma_unmap() - DMA_UNMAP; @bitmap non-NULL adds the
 * GET_DIRTY_BITMAP struct (and the flag). argsz is the reply it allows:
 * 24, plus 16 + bitmap size with a bitmap. Return: size or -errno. */
int vfio_user_build_dma_unmap(struct vfio_user_msg *msg, uint8_t *buf,
			      size_t cap, uint16_t msg_id, uint32_t flags,
			      uint64_t addr, uint64_t size,
			      const struct vfio_user_bitmap *bitmap);

/** vfio_user_build_device_get_info() - DEVICE_GET_INFO; @argsz 0 means
 * 16. Return: message size or -errno. */
int vfio_user_build_device_get_info(struct vfio_user_msg *msg, uint8_t *buf,
				    size_t cap, uint16_t msg_id,
				    uint32_t argsz);

/** vfio_user_build_region_info() - DEVICE_GET_REGION_INFO; @argsz 0 means
 * 32. Return: message size or -errno. */
int vfio_user_build_region_info(struct vfio_user_msg *msg, uint8_t *buf,
				size_t cap, uint16_t msg_id, uint32_t argsz,
				uint32_t index);

/** vfio_user_build_region_io_fds() - DEVICE_GET_REGION_IO_FDS; @argsz 0
 * means 16. Return: message size or -errno. */
int vfio_user_build_region_io_fds(struct vfio_user_msg *msg, uint8_t *buf,
				  size_t cap, uint16_t msg_id, uint32_t argsz,
				  uint32_t index);

/** vfio_user_build_irq_info() - DEVICE_GET_IRQ_INFO; @argsz 0 means 16.
 * Return: message size or -errno. */
int vfio_user_build_irq_info(struct vfio_user_msg *msg, uint8_t *buf,
			     size_t cap, uint16_t msg_id, uint32_t argsz,
			     uint32_t index);

/** vfio_user_build_set_irqs() - DEVICE_SET_IRQS; @bools (count bytes) is
 * sent with DATA_BOOL, @fds with DATA_EVENTFD. Return: size or -errno. */
int vfio_user_build_set_irqs(struct vfio_user_msg *msg, uint8_t *buf,
			     size_t cap, uint16_t msg_id, uint32_t flags,
			     uint32_t index, uint32_t start, uint32_t count,
			     const uint8_t *bools, const int *fds,
			     unsigned int nfds);

/** vfio_user_build_region_read() - REGION_READ. Return: size or -errno. */
int vfio_user_build_region_read(struct vfio_user_msg *msg, uint8_t *buf,
				size_t cap, uint16_t msg_id, uint32_t region,
				uint64_t offset, uint32_t count);

/** vfio_user_build_region_write() - REGION_WRITE of @count bytes of
 * @data. Return: message size or -errno. */
int vfio_user_build_region_write(struct vfio_user_msg *msg, uint8_t *buf,
				 size_t cap, uint16_t msg_id, uint32_t region,
				 uint64_t offset, const void *data,
				 uint32_t count);

/** vfio_user_build_dma_read() - DMA_READ (server -> client).
 * Return: message size or -errno. */
int vfio_user_build_dma_read(struct vfio_user_msg *msg, uint8_t *buf,
			     size_t cap, uint16_t msg_id, uint64_t addr,
			     uint64_t count);

/** vfio_user_build_dma_write() - DMA_WRITE (server -> client) of @count
 * bytes of @data. Return: message size or -errno. */
int vfio_user_build_dma_write(struct vfio_user_msg *msg, uint8_t *buf,
			      size_t cap, uint16_t msg_id, uint64_t addr,
			      const void *data, uint64_t count);

/** vfio_user_build_device_reset() - DEVICE_RESET (no payload).
 * Return: message size or -errno. */
int vfio_user_build_device_reset(struct vfio_user_msg *msg, uint8_t *buf,
				 size_t cap, uint16_t msg_id);

/** vfio_user_build_region_write_multi() - REGION_WRITE_MULTI of @n
 * entries. Return: message size or -errno. */
int vfio_user_build_region_write_multi(
	struct vfio_user_msg *msg, uint8_t *buf, size_t cap, uint16_t msg_id,
	const struct vfio_user_write_multi_data *wrs, uint64_t n);

/** vfio_user_build_device_feature() - DEVICE_FEATURE with @data; @argsz 0
 * means what the reply needs: 8 + @data_len for SET / PROBE, 8 + the
 * feature's GET data otherwise. Return: message size or -errno. */
int vfio_user_build_device_feature(struct vfio_user_msg *msg, uint8_t *buf,
				   size_t cap, uint16_t msg_id, uint32_t argsz,
				   uint32_t flags, const void *data,
				   size_t data_len);

/** vfio_user_build_mig_state_set() - DEVICE_FEATURE SET MIG_DEVICE_STATE.
 * Return: message size or -errno. */
int vfio_user_build_mig_state_set(struct vfio_user_msg *msg, uint8_t *buf,
				  size_t cap, uint16_t msg_id,
				  uint32_t device_state);

/** vfio_user_build_dma_logging_start() - DEVICE_FEATURE SET
 * DMA_LOGGING_START with @n ranges. Return: message size or -errno. */
int vfio_user_build_dma_logging_start(
	struct vfio_user_msg *msg, uint8_t *buf, size_t cap, uint16_t msg_id,
	uint64_t page_size,
	const struct vfio_user_device_feature_dma_logging_range *ranges,
	uint32_t n);

/** vfio_user_build_dma_logging_report() - DEVICE_FEATURE GET
 * DMA_LOGGING_REPORT; argsz covers the bitmap.
 * Return: message size or -errno. */
int vfio_user_build_dma_logging_report(struct vfio_user_msg *msg, uint8_t *buf,
				       size_t cap, uint16_t msg_id,
				       uint64_t iova, uint64_t length,
				       uint64_t page_size);

/** vfio_user_build_mig_data_read() - MIG_DATA_READ of @size bytes; argsz
 * 8 + @size. Return: message size or -errno. */
int vfio_user_build_mig_data_read(struct vfio_user_msg *msg, uint8_t *buf,
				  size_t cap, uint16_t msg_id, uint32_t size);

/** vfio_user_build_mig_data_write() - MIG_DATA_WRITE of @size bytes of
 * @data; argsz 8 + @size (what libvfio-user checks).
 * Return: message size or -errno. */
int vfio_user_build_mig_data_write(struct vfio_user_msg *msg, uint8_t *buf,
				   size_t cap, uint16_t msg_id,
				   const void *data, uint32_t size);

/* Replies. @cmd is the header of the command answered: msg_id and command
 * are echoed, type is Reply. */

/** vfio_user_build_reply() - A success reply with @payload and @fds
 * verbatim. Return: message size or -errno. */
int vfio_user_build_reply(struct vfio_user_msg *msg, uint8_t *buf, size_t cap,
			  const struct vfio_user_hdr *cmd, const void *payload,
			  size_t payload_len, const int *fds,
			  unsigned int nfds);

/** vfio_user_build_error_reply() - Header only, Error bit, @err (errno).
 * Return: 16 or -errno. */
int vfio_user_build_error_reply(struct vfio_user_msg *msg, uint8_t *buf,
				size_t cap, const struct vfio_user_hdr *cmd,
				uint32_t err);

/** vfio_user_build_version_reply() - VERSION reply with @json (NULL for
 * none) and @fds (the twin socket). Return: message size or -errno. */
int vfio_user_build_version_reply(struct vfio_user_msg *msg, uint8_t *buf,
				  size_t cap, const struct vfio_user_hdr *cmd,
				  uint16_t major, uint16_t minor,
				  const char *json, const int *fds,
				  unsigned int nfds);

/** vfio_user_build_dma_unmap_reply() - Echo of the request's entry @req,
 * plus @bitmap_data (bitmap->size bytes) when @bitmap is non-NULL.
 * Return: message size or -errno. */
int vfio_user_build_dma_unmap_reply(struct vfio_user_msg *msg, uint8_t *buf,
				    size_t cap, const struct vfio_user_hdr *cmd,
				    const struct vfio_user_dma_unmap *req,
				    const struct vfio_user_bitmap *bitmap,
				    const void *bitmap_data);

/** vfio_user_build_device_info_reply() - argsz 16.
 * Return: message size or -errno. */
int vfio_user_build_device_info_reply(struct vfio_user_msg *msg, uint8_t *buf,
				      size_t cap,
				      const struct vfio_user_hdr *cmd,
				      uint32_t flags, uint32_t num_regions,
				      uint32_t num_irqs);

/**
 * vfio_user_build_region_info_reply() - REGION_INFO reply, argsz rule
 * @req_argsz:	the request's argsz
 * @info:	flags, index, size, offset (argsz and cap_offset are set here)
 * @caps:	the capability chain, laid out for cap_offset 32 (next fields
 *		already relative to the start of the region info), or NULL
 * @fd:		the region's fd when FLAG_MMAP, else -1
 *
 * argsz = 32 + @caps_len. If that fits @req_argsz the caps and @fd go out;
 * otherwise only the 32-byte struct, with FLAG_CAPS and cap_offset cleared
 * and no fd, and the client retries with the argsz it is told.
 *
 * Return: message size or -errno.
 */
int vfio_user_build_region_info_reply(struct vfio_user_msg *msg, uint8_t *buf,
				      size_t cap,
				      const struct vfio_user_hdr *cmd,
				      uint32_t req_argsz,
				      const struct vfio_user_region_info *info,
				      const void *caps, size_t caps_len,
				      int fd);

/** vfio_user_build_region_io_fds_reply() - argsz 16 + 40 * @count; if that
 * exceeds @req_argsz only the 16-byte head goes out (count set, no
 * entries, no fds). Return: message size or -errno. */
int vfio_user_build_region_io_fds_reply(
	struct vfio_user_msg *msg, uint8_t *buf, size_t cap,
	const struct vfio_user_hdr *cmd, uint32_t req_argsz, uint32_t index,
	const struct vfio_user_sub_region_io_fd *subs, uint32_t count,
	const int *fds, unsigned int nfds);

/** vfio_user_build_irq_info_reply() - argsz 16.
 * Return: message size or -errno. */
int vfio_user_build_irq_info_reply(struct vfio_user_msg *msg, uint8_t *buf,
				   size_t cap, const struct vfio_user_hdr *cmd,
				   uint32_t flags, uint32_t index,
				   uint32_t count);

/** vfio_user_build_region_read_reply() - echo + @count bytes of @data.
 * Return: message size or -errno. */
int vfio_user_build_region_read_reply(struct vfio_user_msg *msg, uint8_t *buf,
				      size_t cap,
				      const struct vfio_user_hdr *cmd,
				      uint32_t region, uint64_t offset,
				      const void *data, uint32_t count);

/** vfio_user_build_region_write_reply() - the 16-byte echo.
 * Return: message size or -errno. */
int vfio_user_build_region_write_reply(struct vfio_user_msg *msg, uint8_t *buf,
				       size_t cap,
				       const struct vfio_user_hdr *cmd,
				       uint32_t region, uint64_t offset,
				       uint32_t count);

/** vfio_user_build_dma_read_reply() - echo + @count bytes of @data
 * (client -> server). Return: message size or -errno. */
int vfio_user_build_dma_read_reply(struct vfio_user_msg *msg, uint8_t *buf,
				   size_t cap, const struct vfio_user_hdr *cmd,
				   uint64_t addr, const void *data,
				   uint64_t count);

/** vfio_user_build_dma_write_reply() - the spec's 12-byte reply, or with
 * @count64 the 16-byte one libvfio-user wants.
 * Return: message size or -errno. */
int vfio_user_build_dma_write_reply(struct vfio_user_msg *msg, uint8_t *buf,
				    size_t cap, const struct vfio_user_hdr *cmd,
				    uint64_t addr, uint64_t count,
				    bool count64);

/** vfio_user_build_write_multi_reply() - wr_cnt completed.
 * Return: message size or -errno. */
int vfio_user_build_write_multi_reply(struct vfio_user_msg *msg, uint8_t *buf,
				      size_t cap,
				      const struct vfio_user_hdr *cmd,
				      uint64_t wr_cnt);

/** vfio_user_build_device_feature_reply() - argsz 8 + @data_len.
 * Return: message size or -errno. */
int vfio_user_build_device_feature_reply(struct vfio_user_msg *msg,
					 uint8_t *buf, size_t cap,
					 const struct vfio_user_hdr *cmd,
					 uint32_t flags, const void *data,
					 size_t data_len);

/** vfio_user_build_mig_data_read_reply() - argsz 8 + @size, then data.
 * Return: message size or -errno. */
int vfio_user_build_mig_data_read_reply(struct vfio_user_msg *msg, uint8_t *buf,
					size_t cap,
					const struct vfio_user_hdr *cmd,
					const void *data, uint32_t size);

/* ------------------------------------------------------------------ */
/* Getters. Each validates the payload size for @msg's command and     */
/* type (request or reply), copies the fixed part out (no alignment    */
/* assumptions) and points variable tails into the payload. They do    */
/* not apply the flag / fd / echo rules: use the checks for that.      */
/* Return: 0, or -EBADMSG with *@why (wrong command, type or size).    */
/* ------------------------------------------------------------------ */

/** vfio_user_get_version() - @json points at the JSON text (NUL-terminated
 * inside the payload) or is NULL when there is none; @json_len excludes
 * the NUL. Return: 0 or -EBADMSG. */
int vfio_user_get_version(const struct vfio_user_msg *msg,
			  struct vfio_user_version *out, const char **json,
			  size_t *json_len, const char **why);

/** vfio_user_get_dma_map() - Return: 0 or -EBADMSG. */
int vfio_user_get_dma_map(const struct vfio_user_msg *msg,
			  struct vfio_user_dma_map *out, const char **why);

/** vfio_user_get_dma_unmap() - request or reply; @bitmap (may be NULL) is
 * filled and @bitmap_data set (reply) when the entry has
 * GET_DIRTY_BITMAP. Return: 1 with a bitmap, 0 without, or -EBADMSG. */
int vfio_user_get_dma_unmap(const struct vfio_user_msg *msg,
			    struct vfio_user_dma_unmap *out,
			    struct vfio_user_bitmap *bitmap,
			    const uint8_t **bitmap_data, const char **why);

/** vfio_user_get_device_info() - Return: 0 or -EBADMSG. */
int vfio_user_get_device_info(const struct vfio_user_msg *msg,
			      struct vfio_user_device_info *out,
			      const char **why);

/** vfio_user_get_region_info() - Return: 0 or -EBADMSG. */
int vfio_user_get_region_info(const struct vfio_user_msg *msg,
			      struct vfio_user_region_info *out,
			      const char **why);

/** vfio_user_get_region_cap() - The capability header at @off (from the
 * start of the region info) of a REGION_INFO reply.
 * Return: 0 or -EBADMSG if it does not lie inside the payload. */
int vfio_user_get_region_cap(const struct vfio_user_msg *msg, uint32_t off,
			     struct vfio_user_info_cap_header *out,
			     const char **why);

/** vfio_user_get_sparse_mmap() - The sparse mmap capability at @off and,
 * if @area_i < nr_areas and @area non-NULL, its area @area_i.
 * Return: 0 or -EBADMSG. */
int vfio_user_get_sparse_mmap(const struct vfio_user_msg *msg, uint32_t off,
			      struct vfio_user_region_info_cap_sparse_mmap *out,
			      uint32_t area_i,
			      struct vfio_user_region_sparse_mmap_area *area,
			      const char **why);

/** vfio_user_get_cap_type() - The type capability at @off.
 * Return: 0 or -EBADMSG. */
int vfio_user_get_cap_type(const struct vfio_user_msg *msg, uint32_t off,
			   struct vfio_user_region_info_cap_type *out,
			   const char **why);

/** vfio_user_get_region_io_fds() - request or reply head.
 * Return: 0 or -EBADMSG. */
int vfio_user_get_region_io_fds(const struct vfio_user_msg *msg,
				struct vfio_user_region_io_fds *out,
				const char **why);

/** vfio_user_get_sub_region() - Entry @i of a complete IO_FDS reply, at
 * stride (payload - 16) / count. Return: 0 or -EBADMSG (or -EINVAL if @i
 * >= count). */
int vfio_user_get_sub_region(const struct vfio_user_msg *msg, uint32_t i,
			     struct vfio_user_sub_region_io_fd *out,
			     const char **why);

/** vfio_user_get_irq_info() - Return: 0 or -EBADMSG. */
int vfio_user_get_irq_info(const struct vfio_user_msg *msg,
			   struct vfio_user_irq_info *out, const char **why);

/** vfio_user_get_irq_set() - @data / @data_len: the bytes after the
 * struct (the DATA_BOOL array). Return: 0 or -EBADMSG. */
int vfio_user_get_irq_set(const struct vfio_user_msg *msg,
			  struct vfio_user_irq_set *out, const uint8_t **data,
			  size_t *data_len, const char **why);

/** vfio_user_get_region_access() - REGION_READ / _WRITE request or reply;
 * @data is set where data travels (READ reply, WRITE request; count
 * bytes) and NULL elsewhere. Return: 0 or -EBADMSG. */
int vfio_user_get_region_access(const struct vfio_user_msg *msg,
				struct vfio_user_region_access *out,
				const uint8_t **data, const char **why);

/** vfio_user_get_dma_access() - DMA_READ / _WRITE request or reply (the
 * 12- and 16-byte DMA_WRITE replies both decode); @data as above.
 * Return: 0 or -EBADMSG. */
int vfio_user_get_dma_access(const struct vfio_user_msg *msg,
			     struct vfio_user_dma_region_access *out,
			     const uint8_t **data, const char **why);

/** vfio_user_get_write_multi() - wr_cnt of a request or reply.
 * Return: 0 or -EBADMSG. */
int vfio_user_get_write_multi(const struct vfio_user_msg *msg, uint64_t *wr_cnt,
			      const char **why);

/** vfio_user_get_write_multi_entry() - Entry @i of a request.
 * Return: 0, -EBADMSG, or -EINVAL if @i >= wr_cnt. */
int vfio_user_get_write_multi_entry(const struct vfio_user_msg *msg, uint64_t i,
				    struct vfio_user_write_multi_data *out,
				    const char **why);

/** vfio_user_get_device_feature() - head, and the feature data after it.
 * Return: 0 or -EBADMSG. */
int vfio_user_get_device_feature(const struct vfio_user_msg *msg,
				 struct vfio_user_device_feature *out,
				 const uint8_t **data, size_t *data_len,
				 const char **why);

/** vfio_user_get_mig_state() - the 8 bytes of MIG_DEVICE_STATE data.
 * Return: 0 or -EBADMSG. */
int vfio_user_get_mig_state(const struct vfio_user_msg *msg,
			    struct vfio_user_device_feature_mig_state *out,
			    const char **why);

/** vfio_user_get_migration() - GET MIGRATION reply data.
 * Return: 0 or -EBADMSG. */
int vfio_user_get_migration(const struct vfio_user_msg *msg,
			    struct vfio_user_device_feature_migration *out,
			    const char **why);

/** vfio_user_get_dma_logging_control() - DMA_LOGGING_START data and, if
 * @range non-NULL and @i < num_ranges, range @i. Return: 0 or -EBADMSG. */
int vfio_user_get_dma_logging_control(
	const struct vfio_user_msg *msg,
	struct vfio_user_device_feature_dma_logging_control *out, uint32_t i,
	struct vfio_user_device_feature_dma_logging_range *range,
	const char **why);

/** vfio_user_get_dma_logging_report() - REPORT request or reply data; in a
 * reply @bitmap / @bitmap_len is what follows the 24 bytes.
 * Return: 0 or -EBADMSG. */
int vfio_user_get_dma_logging_report(
	const struct vfio_user_msg *msg,
	struct vfio_user_device_feature_dma_logging_report *out,
	const uint8_t **bitmap, size_t *bitmap_len, const char **why);

/** vfio_user_get_mig_data() - MIG_DATA_READ / _WRITE; @data is set where
 * data travels (READ reply, WRITE request). Return: 0 or -EBADMSG. */
int vfio_user_get_mig_data(const struct vfio_user_msg *msg,
			   struct vfio_user_mig_data *out, const uint8_t **data,
			   const char **why);

/* ------------------------------------------------------------------ */
/* Traces                                                              */
/* ------------------------------------------------------------------ */

/**
 * vfio_user_describe() - One decoded line for a trace
 *
 * E.g. "VFIO_USER_DMA_MAP id=3 cmd size=48 {argsz=32 flags=R|W|MMAP
 * offset=0x0 addr=0x100000 size=0x10000} fds=1". A payload the getters
 * refuse reads "{malformed: <why>}". Never writes more than @cap bytes
 * (NUL included); a cut line ends in "...". @buf may be NULL if @cap is 0.
 *
 * Return: the length of the string written (excluding the NUL).
 */
int vfio_user_describe(const struct vfio_user_msg *msg, char *buf, size_t cap);

#endif /* VUC_WIRE_VFIO_USER_H */
