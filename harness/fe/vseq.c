// SPDX-License-Identifier: MIT
/*
 * vseq.c - vfio-user command sequences as fuzz inputs: decoder, session
 * model and wire oracles (vseq.h).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/util.h"
#include "fe/vseq.h"
#include "wire/vfio_user_caps.h"

void vseq_skip_setup(struct seq_in *in)
{
	unsigned int k = seq_u8(in) % 4, i;

	for (i = 0; i < k; i++) {
		size_t len;

		seq_u8(in);
		len = VUC_MIN((size_t)seq_u8(in), in->n);
		in->p += len;
		in->n -= len;
	}
}

/* The fds the command's rule wants, as the payload describes them. */
static unsigned int vseq_default_fds(const struct vseq_op *op,
				     enum vseq_fdk *kind)
{
	uint32_t flags, count;

	*kind = VSEQ_FDK_MEMFD;
	if (op->hdr.command == VFIO_USER_DMA_MAP && op->payload_len >= 8) {
		memcpy(&flags, op->payload + 4, sizeof(flags));
		return flags & VFIO_USER_F_DMA_REGION_MODES ? 1 : 0;
	}
	*kind = VSEQ_FDK_EVENTFD;
	if (op->hdr.command == VFIO_USER_DEVICE_SET_IRQS &&
	    op->payload_len >= 20) {
		memcpy(&flags, op->payload + 4, sizeof(flags));
		memcpy(&count, op->payload + 16, sizeof(count));
		if (!(flags & VFIO_IRQ_SET_DATA_EVENTFD))
			return 0;
		return count > VSEQ_MAX_FDS ? VSEQ_MAX_FDS : count;
	}
	return 0;
}

static void vseq_bytes(struct seq_in *in, uint8_t *out, size_t len)
{
	size_t have = VUC_MIN(len, in->n);

	memcpy(out, in->p, have);
	memset(out + have, 0, len - have);
	in->p += have;
	in->n -= have;
}

bool vseq_next(struct seq_in *in, const uint8_t *base, struct vseq_op *op,
	       uint16_t msg_id)
{
	uint8_t c;

	if (!in->n)
		return false;
	op->at = (size_t)(in->p - base);
	c = seq_u8(in);
	op->flags = 0;
	op->nfds = 0;
	op->payload_len = 0;
	op->data = NULL;
	op->data_len = op->data_want = 0;
	if (c >= VSEQ_OP_CLOSE) {
		op->kind = VSEQ_CLOSE;
	} else if (c >= VSEQ_OP_SHRINK) {
		op->kind = VSEQ_SHRINK;
		op->n = seq_u8(in);
	} else if (c >= VSEQ_OP_RAW) {
		op->kind = VSEQ_RAW;
		op->data_want = seq_u8(in);
		op->data = in->p;
		op->data_len = VUC_MIN(op->data_want, in->n);
		in->p += op->data_len;
		in->n -= op->data_len;
	} else {
		uint32_t argsz;

		op->kind = VSEQ_MSG;
		op->flags = seq_u8(in);
		op->payload_len = seq_u16(in) % (VSEQ_MAX_PAYLOAD + 1);
		if (op->flags & VSEQ_F_FDS) {
			uint8_t f = seq_u8(in);

			op->nfds = (f & 0x0f) % (VSEQ_MAX_FDS + 1);
			op->fdk = (enum vseq_fdk)(f >> 4);
		}
		op->cut = op->flags & VSEQ_F_SPLIT ? seq_u8(in) : 0;
		memset(&op->hdr, 0, sizeof(op->hdr));
		op->hdr.msg_size = op->flags & VSEQ_F_SIZE
					   ? seq_u32(in)
					   : (uint32_t)(VFIO_USER_HDR_SIZE +
							op->payload_len);
		vseq_bytes(in, op->payload, op->payload_len);
		op->hdr.msg_id = msg_id;
		op->hdr.command = c % 20;
		op->hdr.flags =
			(op->flags & VSEQ_F_NO_REPLY ? VFIO_USER_F_NO_REPLY
						     : 0) |
			(op->flags & VSEQ_F_ERROR ? VFIO_USER_F_ERROR : 0) |
			(op->flags & VSEQ_F_REPLY ? VFIO_USER_F_TYPE_REPLY : 0);
		argsz = (uint32_t)op->payload_len;
		if ((op->flags & VSEQ_F_ARGSZ) && op->payload_len >= 4)
			memcpy(op->payload, &argsz, sizeof(argsz));
		if (!(op->flags & VSEQ_F_FDS))
			op->nfds = vseq_default_fds(op, &op->fdk);
	}
	op->len = (size_t)(in->p - base) - op->at;
	return true;
}

size_t vseq_op_wire(const struct vseq_op *op, uint8_t *buf)
{
	memcpy(buf, &op->hdr, VFIO_USER_HDR_SIZE);
	memcpy(buf + VFIO_USER_HDR_SIZE, op->payload, op->payload_len);
	return VFIO_USER_HDR_SIZE + op->payload_len;
}

size_t vseq_op_raw(const struct vseq_op *op, uint8_t *buf)
{
	memcpy(buf, op->data, op->data_len);
	memset(buf + op->data_len, 0, op->data_want - op->data_len);
	return op->data_want;
}

enum fdzoo_kind vseq_fdk_zoo(enum vseq_fdk k, size_t *size, bool *widow)
{
	static const enum fdzoo_kind kinds[16] = {
		[VSEQ_FDK_EVENTFD] = FDZOO_EVENTFD,
		[VSEQ_FDK_MEMFD] = FDZOO_MEMFD,
		[VSEQ_FDK_MEMFD_SMALL] = FDZOO_MEMFD,
		[VSEQ_FDK_PIPE_R] = FDZOO_PIPE_READ,
		[VSEQ_FDK_PIPE_W] = FDZOO_PIPE_WRITE,
		[VSEQ_FDK_SOCKET] = FDZOO_SOCKET,
		[VSEQ_FDK_DEV_NULL] = FDZOO_DEV_NULL,
		[VSEQ_FDK_MEMFD_SEALED] = FDZOO_MEMFD_SEALED,
		[VSEQ_FDK_DEV_FULL] = FDZOO_DEV_FULL,
		[VSEQ_FDK_SOCKET_WIDOWED] = FDZOO_SOCKET,
		[VSEQ_FDK_MEMFD_EMPTY] = FDZOO_MEMFD,
		[VSEQ_FDK_FILE_RO] = FDZOO_FILE_RO,
		[VSEQ_FDK_WIDOWED_PIPE_R] = FDZOO_WIDOWED_PIPE_READ,
		[VSEQ_FDK_WIDOWED_PIPE_W] = FDZOO_WIDOWED_PIPE_WRITE,
		[VSEQ_FDK_EVENTFD_NONBLOCK] = FDZOO_EVENTFD_NONBLOCK,
		[VSEQ_FDK_MEMFD_BIG] = FDZOO_MEMFD,
	};

	*widow = k == VSEQ_FDK_SOCKET_WIDOWED;
	*size = k == VSEQ_FDK_MEMFD_SMALL   ? 0x100
		: k == VSEQ_FDK_MEMFD_EMPTY ? 0
		: k == VSEQ_FDK_MEMFD_BIG   ? 0x100000
					    : 0x10000;
	return kinds[k & 15];
}

const char *vseq_fdk_token(enum vseq_fdk k, char *buf, size_t cap)
{
	enum fdzoo_kind kind;
	size_t size;
	bool widow;

	kind = vseq_fdk_zoo(k, &size, &widow);
	if (widow)
		return "socket-widowed";
	if (kind == FDZOO_MEMFD || kind == FDZOO_MEMFD_SEALED ||
	    kind == FDZOO_FILE_RO) {
		snprintf(buf, cap, "%s:%zu", fdzoo_kind_name(kind), size);
		return buf;
	}
	return fdzoo_kind_name(kind);
}

void vseq_model_init(struct vseq_model *mo)
{
	memset(mo, 0, sizeof(*mo));
	mo->client_xfer = VFIO_USER_DEFAULT_MAX_DATA_XFER_SIZE;
	mo->max_maps = VFIO_USER_DEFAULT_MAX_DMA_MAPS;
	mo->pgsize = VFIO_USER_DEFAULT_PGSIZES;
	mo->mig_state = -1;
}

/* The state a SET MIG_DEVICE_STATE asks for, or -1 if @cmd is none. */
static int vseq_mig_set(const struct vfio_user_msg *cmd)
{
	uint32_t u32[3];

	if (cmd->hdr.command != VFIO_USER_DEVICE_FEATURE ||
	    cmd->payload_len < 16)
		return -1;
	memcpy(u32, cmd->payload, sizeof(u32));
	if ((u32[1] & VFIO_DEVICE_FEATURE_MASK) !=
		    VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE ||
	    !(u32[1] & VFIO_DEVICE_FEATURE_SET))
		return -1;
	return (int)VUC_MIN(u32[2], (uint32_t)INT32_MAX);
}

void vseq_device_init(struct vseq_device *dev)
{
	unsigned int i;

	dev->num_regions = -1;
	for (i = 0; i < VSEQ_MAX_IRQ_INDEX; i++)
		dev->irq_count[i] = -1;
}

static _Thread_local char vseq_why[384];

static bool vseq_overlaps(const struct vseq_map *m, uint64_t addr,
			  uint64_t size)
{
	/* both ranges are legal (end at 2^64 at most): compare last bytes */
	return size && m->size && addr <= m->addr + (m->size - 1) &&
	       m->addr <= addr + (size - 1);
}

const struct vseq_map *vseq_dma_map_of(const struct vseq_model *mo,
				       uint64_t addr, uint64_t count, bool fd)
{
	unsigned int i;

	for (i = 0; i < mo->nmaps; i++) {
		const struct vseq_map *m = &mo->maps[i];

		if (m->fd == fd && addr >= m->addr && count <= m->size &&
		    addr - m->addr <= m->size - count)
			return m;
	}
	return NULL;
}

const char *vseq_must_fail(const struct vseq_model *mo,
			   const struct vseq_device *dev,
			   const struct vfio_user_msg *cmd, const char **why)
{
	const uint8_t *p = cmd->payload;
	uint32_t u32[5];
	uint64_t u64[2];
	const char *w = NULL;

	if (why)
		*why = NULL;
	if ((cmd->hdr.flags & VFIO_USER_F_TYPE_MASK) !=
	    VFIO_USER_F_TYPE_COMMAND)
		return NULL;
	if (vfio_user_check_command(cmd, VFIO_USER_CLIENT_TO_SERVER,
				    VFIO_USER_CHECK_LENIENT, &w) < 0) {
		if (why)
			*why = w;
		return VSEQ_ORACLE_REFUSED_OK;
	}
	switch (cmd->hdr.command) {
	case VFIO_USER_DEVICE_GET_REGION_INFO:
		memcpy(u32, p, 12);
		/* "index is the index of memory region being queried" */
		if (dev->num_regions >= 0 &&
		    u32[2] >= (uint32_t)dev->num_regions) {
			if (why)
				*why = "a region index past num_regions";
			return VSEQ_ORACLE_REFUSED_OK;
		}
		break;
	case VFIO_USER_DEVICE_SET_IRQS:
		memcpy(u32, p, 20);
		/* "start is the start of the sub-index being set. count
		 * describes the number of sub-indexes being set." A range
		 * past the index's count names vectors that do not exist
		 * (count 0 is the disable-all form). */
		if (u32[2] < VSEQ_MAX_IRQ_INDEX &&
		    dev->irq_count[u32[2]] >= 0 && u32[4] &&
		    (uint64_t)u32[3] + u32[4] >
			    (uint64_t)dev->irq_count[u32[2]]) {
			if (why)
				*why = "start + count past the index's "
				       "vectors";
			return VSEQ_ORACLE_IRQ_RANGE;
		}
		break;
	case VFIO_USER_REGION_READ:
		memcpy(u32, p + 8, 8);
		/* "The count field must not exceed the value of
		 * max_data_xfer_size of the peer": the reply would carry
		 * more than we said we take */
		if (mo->versioned && u32[1] > mo->client_xfer) {
			if (why)
				*why = "a read above our max_data_xfer_size";
			return VSEQ_ORACLE_XFER;
		}
		break;
	case VFIO_USER_DMA_UNMAP: {
		unsigned int i;

		memcpy(u32, p, 8);
		memcpy(u64, p + 8, 16);
		if (mo->maps_unsure || (u32[1] & VFIO_DMA_UNMAP_FLAG_ALL))
			break;
		/* "The address and size of the DMA region being unmapped
		 * must match exactly a previous mapping." */
		for (i = 0; i < mo->nmaps; i++)
			if (mo->maps[i].addr == u64[0] &&
			    mo->maps[i].size == u64[1])
				break;
		if (i == mo->nmaps) {
			if (why)
				*why = "an unmap that matches no mapping "
				       "exactly";
			return VSEQ_ORACLE_UNMAP;
		}
		break;
	}
	case VFIO_USER_DEVICE_FEATURE:
		/* "The STOP_COPY -> PRE_COPY transition is explicitly not
		 * allowed and should return an error if requested." */
		if (mo->mig_state == VFIO_DEVICE_STATE_STOP_COPY &&
		    vseq_mig_set(cmd) == VFIO_DEVICE_STATE_PRE_COPY) {
			if (why)
				*why = "STOP_COPY -> PRE_COPY";
			return VSEQ_ORACLE_MIG_ARC;
		}
		break;
	default:
		break;
	}
	return NULL;
}

int vseq_judge_dma(const struct vseq_model *mo, const struct vfio_user_msg *m,
		   const char **oracle, const char **why, int *err)
{
	const char *name = vfio_user_command_name(m->hdr.command), *w = NULL;
	bool write = m->hdr.command == VFIO_USER_DMA_WRITE;
	struct vfio_user_dma_region_access a;
	const struct vseq_map *map;

	*oracle = NULL;
	*why = vseq_why;
	*err = 0;
	if (vfio_user_check_command(m, VFIO_USER_SERVER_TO_CLIENT,
				    VFIO_USER_CHECK_LENIENT, &w) < 0) {
		*err = EINVAL;
		*oracle = VSEQ_ORACLE_BAD_REQUEST;
		snprintf(vseq_why, sizeof(vseq_why),
			 "the server's %s is malformed: %s", name, w ? w : "?");
		return -EPROTO;
	}
	memcpy(&a, m->payload, sizeof(a));
	/* VFIO_USER_F_DMA_REGION_WRITE "indicates that the region can be
	 * written to" */
	map = vseq_dma_map_of(mo, a.addr, a.count, false);
	if (write && map && !(map->flags & VFIO_USER_F_DMA_REGION_WRITE) &&
	    !mo->maps_unsure)
		*err = EPERM;
	/* "The count field must not exceed the value of max_data_xfer_size
	 * of the peer, for both reads and writes." */
	if (mo->versioned && a.count > mo->client_xfer) {
		*oracle = VSEQ_ORACLE_DMA_XFER;
		snprintf(vseq_why, sizeof(vseq_why),
			 "%s count %llu is above our max_data_xfer_size %llu",
			 name, (unsigned long long)a.count,
			 (unsigned long long)mo->client_xfer);
		return -EPROTO;
	}
	/* "If the DMA region being added can be directly mapped by the
	 * server, a file descriptor must be sent ... Otherwise, ... the DMA
	 * region can be accessed by the server using VFIO_USER_DMA_READ
	 * and VFIO_USER_DMA_WRITE messages": messages are for the regions
	 * without an fd (SHOULD: the spec implies it, says it nowhere) */
	if (!mo->maps_unsure && vseq_dma_map_of(mo, a.addr, a.count, true)) {
		*oracle = VSEQ_ORACLE_DMA_FD;
		snprintf(vseq_why, sizeof(vseq_why),
			 "%s of %llu bytes at 0x%llx, in a region mapped with "
			 "an fd (SHOULD: the reproducer fails the run with "
			 "--strict)",
			 name, (unsigned long long)a.count,
			 (unsigned long long)a.addr);
		return -EPROTO;
	}
	if (*err == EPERM) {
		*oracle = VSEQ_ORACLE_DMA_RO;
		snprintf(vseq_why, sizeof(vseq_why),
			 "DMA_WRITE of %llu bytes at 0x%llx, in a region "
			 "mapped without the WRITE flag",
			 (unsigned long long)a.count,
			 (unsigned long long)a.addr);
		return -EPROTO;
	}
	return 0;
}

int vseq_judge(const struct vseq_model *mo, const struct vseq_device *dev,
	       const struct vfio_user_msg *cmd, const struct vfio_user_msg *rep,
	       const char **oracle, const char **why)
{
	const char *w = NULL, *rule;
	struct vfio_user_dma_map dm;
	bool error;
	int ret;

	*oracle = NULL;
	*why = vseq_why;
	ret = vfio_user_check_reply(cmd, rep, VFIO_USER_CHECK_STRICT, &w);
	/* an unknown command refused, header-only (as the Lua runner) */
	if (ret == -ENOTSUP && (rep->hdr.flags & VFIO_USER_F_ERROR) &&
	    (rep->hdr.flags & VFIO_USER_F_TYPE_MASK) ==
		    VFIO_USER_F_TYPE_REPLY &&
	    !(rep->hdr.flags & VFIO_USER_F_NO_REPLY) && rep->hdr.error &&
	    rep->payload_len == 0 && !rep->nfds &&
	    rep->hdr.msg_id == cmd->hdr.msg_id &&
	    rep->hdr.command == cmd->hdr.command)
		ret = VFIO_USER_REPLY_ERROR;
	if (ret < 0) {
		*oracle = VSEQ_ORACLE_BAD_REPLY;
		snprintf(vseq_why, sizeof(vseq_why), "reply to %s: %s",
			 vfio_user_command_name(cmd->hdr.command),
			 w ? w : "refused");
		return -EPROTO;
	}
	error = ret == VFIO_USER_REPLY_ERROR;
	/* "The capability list must be a subset of those proposed." */
	if (!error && cmd->hdr.command == VFIO_USER_VERSION) {
		struct vfio_user_caps pc, rc;

		if (vfio_user_caps_from_version(&pc, cmd, NULL) >= 0 &&
		    vfio_user_caps_from_version(&rc, rep, NULL) >= 0 &&
		    vfio_user_caps_check_reply(&pc, &rc, rep->nfds, &w) < 0) {
			*oracle = VSEQ_ORACLE_BAD_REPLY;
			snprintf(vseq_why, sizeof(vseq_why),
				 "VERSION reply: %s", w ? w : "?");
			return -EPROTO;
		}
	}
	rule = vseq_must_fail(mo, dev, cmd, &w);
	if (rule && !error) {
		*oracle = rule;
		snprintf(vseq_why, sizeof(vseq_why),
			 "%s must fail (%s), yet it got a success reply",
			 vfio_user_command_name(cmd->hdr.command), w ? w : "?");
		return -EPROTO;
	}
	/* "A command to map over an existing region must be failed by the
	 * server with EEXIST set in error field in the reply." Judged
	 * where nothing else could fail it: message access (no fd to
	 * refuse), a legal command, the model sure, room for another map,
	 * whole pages of the server's. */
	if (!rule && cmd->hdr.command == VFIO_USER_DMA_MAP && !cmd->nfds &&
	    mo->versioned && !mo->maps_unsure && mo->nmaps < mo->max_maps &&
	    cmd->payload_len >= sizeof(dm)) {
		unsigned int i;

		memcpy(&dm, cmd->payload, sizeof(dm));
		if ((dm.addr | dm.size) & (mo->pgsize - 1))
			return 0;
		for (i = 0; i < mo->nmaps; i++) {
			if (!vseq_overlaps(&mo->maps[i], dm.addr, dm.size))
				continue;
			if (error && rep->hdr.error == EEXIST)
				break;
			*oracle = VSEQ_ORACLE_OVERLAP;
			snprintf(vseq_why, sizeof(vseq_why),
				 "DMA_MAP [0x%llx, +0x%llx) over the mapping "
				 "[0x%llx, +0x%llx) got %s %u, not EEXIST",
				 (unsigned long long)dm.addr,
				 (unsigned long long)dm.size,
				 (unsigned long long)mo->maps[i].addr,
				 (unsigned long long)mo->maps[i].size,
				 error ? "error" : "success",
				 error ? rep->hdr.error : 0);
			return -EPROTO;
		}
	}
	/* A legal DEVICE_GET_INFO once VERSION succeeded has nothing that
	 * could fail it (the device exists and argsz holds the reply). */
	if (error && !rule && mo->versioned &&
	    cmd->hdr.command == VFIO_USER_DEVICE_GET_INFO &&
	    cmd->payload_len == sizeof(struct vfio_user_device_info) &&
	    !cmd->nfds) {
		*oracle = VSEQ_ORACLE_INFO_REFUSED;
		snprintf(vseq_why, sizeof(vseq_why),
			 "a legal DEVICE_GET_INFO after VERSION was refused "
			 "(error %u)",
			 rep->hdr.error);
		return -EPROTO;
	}
	return 0;
}

static void vseq_learn_map(struct vseq_model *mo,
			   const struct vfio_user_msg *cmd)
{
	struct vfio_user_dma_map dm;

	memcpy(&dm, cmd->payload, sizeof(dm));
	if (mo->nmaps == VSEQ_MAX_MAPS) {
		mo->maps_unsure = true;
		return;
	}
	mo->maps[mo->nmaps++] = (struct vseq_map){
		.addr = dm.addr,
		.size = dm.size,
		.flags = dm.flags,
		.fd = cmd->nfds > 0,
	};
}

static void vseq_learn_unmap(struct vseq_model *mo,
			     const struct vfio_user_msg *cmd)
{
	struct vfio_user_dma_unmap du;
	unsigned int i;

	memcpy(&du, cmd->payload, sizeof(du));
	if (du.flags & VFIO_DMA_UNMAP_FLAG_ALL) {
		mo->nmaps = 0;
		return;
	}
	for (i = 0; i < mo->nmaps; i++) {
		if (mo->maps[i].addr == du.addr &&
		    mo->maps[i].size == du.size) {
			mo->maps[i] = mo->maps[--mo->nmaps];
			return;
		}
	}
	/* it succeeded on something we do not know of */
	mo->maps_unsure = true;
}

void vseq_learn(struct vseq_model *mo, struct vseq_device *dev,
		const struct vfio_user_msg *cmd,
		const struct vfio_user_msg *rep)
{
	bool ok, legal;
	uint32_t u32[4];

	if ((cmd->hdr.flags & VFIO_USER_F_TYPE_MASK) !=
	    VFIO_USER_F_TYPE_COMMAND)
		return;
	legal = vfio_user_check_command(cmd, VFIO_USER_CLIENT_TO_SERVER,
					VFIO_USER_CHECK_LENIENT, NULL) >= 0;
	ok = rep && vfio_user_check_reply(cmd, rep, VFIO_USER_CHECK_LENIENT,
					  NULL) == VFIO_USER_REPLY_OK;
	switch (cmd->hdr.command) {
	case VFIO_USER_VERSION: {
		struct vfio_user_caps caps, sc;

		mo->version_any = true;
		if (ok && legal &&
		    vfio_user_caps_from_version(&caps, cmd, NULL) >= 0 &&
		    vfio_user_caps_from_version(&sc, rep, NULL) >= 0) {
			mo->versioned = true;
			mo->client_xfer = caps.max_data_xfer_size;
			mo->max_maps = sc.max_dma_maps;
			mo->pgsize = sc.pgsizes & -sc.pgsizes;
			if (!mo->pgsize)
				mo->pgsize = VFIO_USER_DEFAULT_PGSIZES;
		} else {
			/* not negotiated, or unsure: stand down */
			mo->versioned = false;
		}
		break;
	}
	case VFIO_USER_DMA_MAP:
		if (!rep && legal)
			mo->maps_unsure = true;
		else if (ok && legal)
			vseq_learn_map(mo, cmd);
		else if (ok)
			mo->maps_unsure = true; /* it took something odd */
		break;
	case VFIO_USER_DMA_UNMAP:
		if (!rep)
			mo->maps_unsure = true;
		else if (ok && legal)
			vseq_learn_unmap(mo, cmd);
		else if (ok)
			mo->maps_unsure = true;
		break;
	case VFIO_USER_DEVICE_RESET:
		/* "To recover from ERROR, VFIO_USER_DEVICE_RESET must be used
		 * to return back to RUNNING" (mappings survive it) */
		mo->mig_state = ok ? (int)VFIO_DEVICE_STATE_RUNNING : -1;
		break;
	case VFIO_USER_DEVICE_FEATURE:
		if (vseq_mig_set(cmd) >= 0)
			mo->mig_state = ok && legal ? vseq_mig_set(cmd) : -1;
		break;
	case VFIO_USER_DEVICE_GET_INFO:
		if (ok && rep->payload_len >= 16) {
			memcpy(u32, rep->payload, 16);
			dev->num_regions = (int)VUC_MIN(u32[2], 1u << 20);
		}
		break;
	case VFIO_USER_DEVICE_GET_IRQ_INFO:
		if (ok && legal && rep->payload_len >= 16) {
			memcpy(u32, rep->payload, 16);
			if (u32[2] < VSEQ_MAX_IRQ_INDEX)
				dev->irq_count[u32[2]] = u32[3];
		}
		break;
	default:
		break;
	}
}
