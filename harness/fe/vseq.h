/* SPDX-License-Identifier: MIT */
/*
 * vseq.h - vfio-user command *sequences* as fuzz inputs: one byte format,
 * one decoder, a session model and the wire oracles every conformant
 * server satisfies, for the black-box fuzzer (vu-conform fuzz --protocol
 * vfio-user, harness/run/fuzz_vfio.c) and, later, the in-process
 * fuzz/vfio_server.c, whose format this one extends.
 *
 * Format (fuzz/README.md):
 *   byte 0	DMA answers k = byte % 4, each u8 how, u8 len, len bytes
 *		(the in-process target writes them up front; a black-box
 *		session skips them: it serves DMA requests as they come)
 *   then ops, each one op byte c:
 *   c < 0xf0	MSG: command c % 20, flags u8, len u16 (payload size
 *		% 1025), [fds u8 if flags & 0x08: count low nibble % 9,
 *		kind high nibble, enum vseq_fdk], [cut u8 if flags & 0x20],
 *		[msg_size u32 if flags & 0x40], then len payload bytes.
 *		flags: 0x01 No_reply, 0x02 Error bit, 0x04 Type reply (a
 *		lie), 0x10 argsz := payload size, 0x20 split: sent in two
 *		sendmsg() calls cut at byte 1 + cut % (length - 1), the fds
 *		on the second, 0x40 msg_size says that instead of 16 + len
 *		(a lie: longer means the next bytes are its body, shorter
 *		that the rest is read as the next header). Without 0x08
 *		the fds are those the command's rule wants (DMA_MAP with an
 *		access-mode bit: one memfd; SET_IRQS DATA_EVENTFD: count
 *		eventfds, at most 8).
 *   0xf0-0xf3	RAW: len u8, bytes: sent as they are, then a hang-up
 *   0xf4-0xf7	SHRINK: u8: ftruncate the last memfd sent to u8 * 256
 *   0xf8-0xff	CLOSE: close our end of the last pipe / socket sent
 *
 * msg_id is the op's index + 1 (the session's own numbering, so that a
 * reply names the command it answers). Fields past the end of the input
 * read as zero: every input decodes.
 */
#ifndef VUC_FE_VSEQ_H
#define VUC_FE_VSEQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fe/seq.h"
#include "transport/fdzoo.h"
#include "wire/vfio_user.h"

#define VSEQ_MAX_OPS 24	       /* ops run per input at most */
#define VSEQ_MAX_PAYLOAD 1024u /* payload bytes one MSG op carries */
#define VSEQ_MAX_FDS 8	       /* fds one MSG op may ask for */
#define VSEQ_MAX_MAPS 32       /* DMA mappings the model follows */
#define VSEQ_MAX_IRQ_INDEX 8   /* IRQ indexes the model follows */
#define VSEQ_PROBE_ID 0xffffu  /* msg_id of the fuzzer's own probe */

/* MSG flags (the input's flags byte). */
#define VSEQ_F_NO_REPLY 0x01u
#define VSEQ_F_ERROR 0x02u
#define VSEQ_F_REPLY 0x04u
#define VSEQ_F_FDS 0x08u
#define VSEQ_F_ARGSZ 0x10u
#define VSEQ_F_SPLIT 0x20u
#define VSEQ_F_SIZE 0x40u

/* Op bytes of the other ops (the first of each range). */
#define VSEQ_OP_RAW 0xf0u
#define VSEQ_OP_SHRINK 0xf4u
#define VSEQ_OP_CLOSE 0xf8u

enum vseq_op_kind {
	VSEQ_MSG,
	VSEQ_RAW,
	VSEQ_SHRINK,
	VSEQ_CLOSE,
};

/* The fd kinds (high nibble of the fds byte); 0-7 as fuzz/vfio_server.c. */
enum vseq_fdk {
	VSEQ_FDK_EVENTFD,
	VSEQ_FDK_MEMFD,	      /* 64 KiB */
	VSEQ_FDK_MEMFD_SMALL, /* 256 bytes: shorter than most regions */
	VSEQ_FDK_PIPE_R,
	VSEQ_FDK_PIPE_W,
	VSEQ_FDK_SOCKET,
	VSEQ_FDK_DEV_NULL,
	VSEQ_FDK_MEMFD_SEALED,
	VSEQ_FDK_DEV_FULL,
	VSEQ_FDK_SOCKET_WIDOWED,
	VSEQ_FDK_MEMFD_EMPTY,
	VSEQ_FDK_FILE_RO,
	VSEQ_FDK_WIDOWED_PIPE_R,
	VSEQ_FDK_WIDOWED_PIPE_W,
	VSEQ_FDK_EVENTFD_NONBLOCK,
	VSEQ_FDK_MEMFD_BIG, /* 1 MiB */
};

/* One decoded op. */
struct vseq_op {
	enum vseq_op_kind kind;
	size_t at, len; /* its bytes in the input, the op byte included */
	uint8_t flags;	/* MSG: the input's flags byte */
	/* MSG: the header as it goes out and the payload (argsz fixed up) */
	struct vfio_user_hdr hdr;
	uint8_t payload[VSEQ_MAX_PAYLOAD];
	size_t payload_len;
	uint8_t cut;	   /* split point (VSEQ_F_SPLIT) */
	unsigned int nfds; /* fds to make and attach */
	enum vseq_fdk fdk; /* their kind */
	unsigned int n;	   /* SHRINK: the u8 */
	/* RAW: the bytes, pointing into the input, zeros past data_len */
	const uint8_t *data;
	size_t data_len, data_want;
};

/**
 * vseq_skip_setup() - Step @in past byte 0 and the DMA answers after it
 */
void vseq_skip_setup(struct seq_in *in);

/**
 * vseq_next() - Decode the next op of @in
 * @base:	the start of the whole input (for op->at)
 * @msg_id:	the msg_id a MSG op is sent with
 *
 * Return: true with @op filled, false when the input has ended.
 */
bool vseq_next(struct seq_in *in, const uint8_t *base, struct vseq_op *op,
	       uint16_t msg_id);

/**
 * vseq_op_wire() - The bytes a MSG op sends: header and payload
 * @buf:	room for VFIO_USER_HDR_SIZE + VSEQ_MAX_PAYLOAD
 * Return: their length.
 */
size_t vseq_op_wire(const struct vseq_op *op, uint8_t *buf);

/**
 * vseq_op_raw() - The bytes of a RAW op, zeros past the input's end
 * @buf:	room for 255 bytes
 * Return: their length.
 */
size_t vseq_op_raw(const struct vseq_op *op, uint8_t *buf);

/**
 * vseq_fdk_zoo() - How to make an fd of @k
 * @size:	out: a memfd's size
 * @widow:	out: close the other end at once
 * Return: the fdzoo kind.
 */
enum fdzoo_kind vseq_fdk_zoo(enum vseq_fdk k, size_t *size, bool *widow);

/**
 * vseq_fdk_token() - The reproducer's name for an fd of @k: an fdzoo kind
 * name, "KIND:SIZE" for memfds, "socket-widowed"
 * @buf:	room for the name (32 bytes are enough)
 */
const char *vseq_fdk_token(enum vseq_fdk k, char *buf, size_t cap);

/* One DMA mapping the server acknowledged. */
struct vseq_map {
	uint64_t addr, size;
	uint32_t flags;
	bool fd; /* fd-backed (else message access) */
};

/*
 * What a session is known to have set up. Facts learnt from replies;
 * where a reply that would tell was not seen (No_reply, a hang-up) the
 * model says "unsure" and the oracles that need it stand down.
 */
struct vseq_model {
	bool versioned;	      /* a VERSION got a success reply */
	bool version_any;     /* a VERSION was sent at all */
	uint64_t client_xfer; /* max_data_xfer_size we proposed (default) */
	uint64_t max_maps;    /* the server's max_dma_maps */
	uint64_t pgsize;      /* the server's smallest page size */
	struct vseq_map maps[VSEQ_MAX_MAPS];
	unsigned int nmaps;
	bool maps_unsure; /* a map or unmap whose outcome we did not see */
	int mig_state;	  /* VFIO_DEVICE_STATE_*, -1: unknown */
};

/* Device facts, which outlive a session (the same server binary). */
struct vseq_device {
	int num_regions;		       /* -1: unknown */
	int64_t irq_count[VSEQ_MAX_IRQ_INDEX]; /* -1: unknown */
};

void vseq_model_init(struct vseq_model *mo);
void vseq_device_init(struct vseq_device *dev);

/* The oracles' names (finding kinds of the black-box fuzzer). */
#define VSEQ_ORACLE_BAD_REPLY "bad-reply"
#define VSEQ_ORACLE_EXTRA_REPLY "extra-reply"
#define VSEQ_ORACLE_MISSING_REPLY "missing-reply"
#define VSEQ_ORACLE_UNSOLICITED "unsolicited-reply"
#define VSEQ_ORACLE_BODY_ANSWERED "body-answered"
#define VSEQ_ORACLE_REFUSED_OK "refused-command-succeeded"
#define VSEQ_ORACLE_OVERLAP "overlap-not-eexist"
#define VSEQ_ORACLE_UNMAP "inexact-unmap-succeeded"
#define VSEQ_ORACLE_IRQ_RANGE "irq-range-succeeded"
#define VSEQ_ORACLE_XFER "xfer-above-max-served"
#define VSEQ_ORACLE_INFO_REFUSED "device-info-refused"
#define VSEQ_ORACLE_BAD_REQUEST "bad-server-request"
#define VSEQ_ORACLE_DMA_RO "dma-write-read-only"
#define VSEQ_ORACLE_DMA_XFER "dma-above-max-xfer"
#define VSEQ_ORACLE_DMA_FD "dma-request-for-fd-region"
#define VSEQ_ORACLE_MIG_ARC "stop-copy-to-pre-copy-succeeded"

/**
 * vseq_must_fail() - Is @cmd, as sent (its fds attached), a command no
 * server may carry out?
 * @why:	out: which rule, or NULL
 *
 * The rule table refuses it (vfio_user_check_command(), lenient about
 * what the spec calls reserved: that is the sender's duty, a receiver
 * may ignore it), or, from the model and the device facts: GET_REGION_INFO
 * of an index past num_regions, SET_IRQS past an index's count (64-bit
 * sum), REGION_READ above our max_data_xfer_size, a DMA_UNMAP that
 * matches no mapping exactly, SET MIG_DEVICE_STATE PRE_COPY from
 * STOP_COPY (a SHOULD).
 *
 * Return: NULL when it may succeed, else the oracle that forbids success.
 */
const char *vseq_must_fail(const struct vseq_model *mo,
			   const struct vseq_device *dev,
			   const struct vfio_user_msg *cmd, const char **why);

/**
 * vseq_judge() - The oracles on the reply @rep to @cmd
 * @oracle:	out: the name of the oracle that fired
 * @why:	out: what it saw (a thread-local buffer)
 *
 * The reply passes vfio_user_check_reply() strictly (an error reply to an
 * unknown command included); a command that must fail (vseq_must_fail())
 * gets no success; a DMA_MAP over a mapping the model knows is failed
 * with EEXIST; a legal DEVICE_GET_INFO after a successful VERSION is not
 * refused.
 *
 * Return: 0 when all hold, -EPROTO when one fired.
 */
int vseq_judge(const struct vseq_model *mo, const struct vseq_device *dev,
	       const struct vfio_user_msg *cmd, const struct vfio_user_msg *rep,
	       const char **oracle, const char **why);

/**
 * vseq_judge_dma() - The oracles on a DMA_READ / DMA_WRITE @m the server
 * sent while @mo held
 * @oracle:	out: the first oracle that fired
 * @why:	out: what it saw (a thread-local buffer)
 * @err:	out: the errno a client answers it with: EINVAL (malformed),
 *		EPERM (a write into a region mapped without WRITE), 0: serve it
 *
 * Well formed (lenient about reserved bits), a count within our
 * max_data_xfer_size, no DMA_WRITE into a region mapped read-only, and
 * (SHOULD, VSEQ_ORACLE_DMA_FD) none for a region mapped with an fd.
 * Return: 0 when all hold, -EPROTO when one fired.
 */
int vseq_judge_dma(const struct vseq_model *mo, const struct vfio_user_msg *m,
		   const char **oracle, const char **why, int *err);

/**
 * vseq_learn() - Update @mo and @dev from @cmd and what came of it
 * @rep:	the reply, or NULL if none was seen (unsure)
 */
void vseq_learn(struct vseq_model *mo, struct vseq_device *dev,
		const struct vfio_user_msg *cmd,
		const struct vfio_user_msg *rep);

/**
 * vseq_dma_map_of() - The mapping that holds [addr, addr + count) whole
 * @fd:		an fd-backed one (else one with message access)
 * Return: the mapping, or NULL.
 */
const struct vseq_map *vseq_dma_map_of(const struct vseq_model *mo,
				       uint64_t addr, uint64_t count, bool fd);

#endif /* VUC_FE_VSEQ_H */
