// SPDX-License-Identifier: MIT
/*
 * dev_blk.c - virtio-blk on a RAM disk: read, write, flush, get-id and
 * discard.
 *
 * Spec: specs/virtio/ (virtio-blk "Device Operation"), and vhost-user.rst
 * "Ring states": a started but disabled ring is processed "without causing
 * any side effects"; here that means every request completes with
 * VIRTIO_BLK_S_IOERR and the disk is not touched.
 *
 * The header and the data may be split over buffers in any way (VERSION_1
 * has no layout rule); the status is the last device-writable byte.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "backend.h"
#include "bugs.h"
#include "common/util.h"

#define F(bit) (UINT64_C(1) << (bit))

#define VIRTIO_BLK_F_BLK_SIZE 6
#define VIRTIO_BLK_F_FLUSH 9
#define VIRTIO_BLK_F_DISCARD 13

#define VIRTIO_BLK_T_IN 0
#define VIRTIO_BLK_T_OUT 1
#define VIRTIO_BLK_T_FLUSH 4
#define VIRTIO_BLK_T_GET_ID 8
#define VIRTIO_BLK_T_DISCARD 11

#define VIRTIO_BLK_S_OK 0
#define VIRTIO_BLK_S_IOERR 1
#define VIRTIO_BLK_S_UNSUPP 2

/*
 * A request whose ioprio (the header's second field) is this value is
 * held: popped and marked inflight, but completed only after the next
 * kick (as a device with slow media would). Cases use it to leave
 * requests inflight across a reconnect; a held request popped again
 * (after the kick, or resubmitted by a new session) is executed.
 */
#define BLK_HOLD_IOPRIO 0x484f4c44u /* "HOLD" */
#define VIRTIO_BLK_ID_BYTES 20
#define SECTOR 512u
/* struct virtio_blk_config up to write_zeroes_may_unmap and padding */
#define BLK_CONFIG_SIZE 60
/* Seeded blk-no-bounds: what lies past the disk faults. */
#define BLK_GUARD (UINT64_C(1) << 30)

struct blk_priv {
	uint8_t *disk;
	uint64_t size;
	size_t map_len;
};

struct blk_req_hdr {
	uint32_t type;
	uint32_t ioprio;
	uint64_t sector;
};

struct blk_discard {
	uint64_t sector;
	uint32_t num_sectors;
	uint32_t flags;
};

static uint32_t blk_config_init(struct backend *be)
{
	uint64_t cap = be->conf.blk_size / SECTOR;
	uint32_t blk_size = SECTOR,
		 max_discard = (uint32_t)VUC_MIN(cap, UINT32_MAX), one = 1;
	uint16_t nq = (uint16_t)be->conf.queues;

	memcpy(be->config + 0, &cap, 8);	  /* capacity */
	memcpy(be->config + 20, &blk_size, 4);	  /* blk_size */
	memcpy(be->config + 34, &nq, 2);	  /* num_queues */
	memcpy(be->config + 36, &max_discard, 4); /* max_discard_sectors */
	memcpy(be->config + 40, &one, 4);	  /* max_discard_seg */
	memcpy(be->config + 44, &one, 4);	  /* discard_sector_alignment */
	return BLK_CONFIG_SIZE;
}

static int blk_init(struct backend *be)
{
	struct blk_priv *bp;
	uint8_t *p;

	bp = calloc(1, sizeof(*bp));
	if (!bp)
		return -ENOMEM;
	bp->size = be->conf.blk_size;
	bp->map_len = bp->size + BLK_GUARD;
	p = mmap(NULL, bp->map_len, PROT_NONE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED || mprotect(p, bp->size, PROT_READ | PROT_WRITE)) {
		if (p != MAP_FAILED)
			munmap(p, bp->map_len);
		free(bp);
		return -ENOMEM;
	}
	bp->disk = p;
	be->dev_priv = bp;
	return 0;
}

static void blk_fini(struct backend *be)
{
	struct blk_priv *bp = be->dev_priv;

	if (!bp)
		return;
	munmap(bp->disk, bp->map_len);
	free(bp);
	be->dev_priv = NULL;
}

static void blk_reset(struct backend *be, bool wipe)
{
	struct blk_priv *bp = be->dev_priv;

	/* RESET_DEVICE resets the device, not the media it holds. */
	if (wipe)
		memset(bp->disk, 0, bp->size);
}

/* Whether [sector, sector + bytes / 512) is on the disk. */
static bool blk_in_range(const struct blk_priv *bp, uint64_t sector,
			 uint64_t bytes)
{
	uint64_t cap = bp->size / SECTOR;

	if (bug_on(BUG_BLK_NO_BOUNDS))
		return true;
	return sector <= cap && bytes / SECTOR <= cap - sector;
}

static uint8_t blk_discard(struct backend *be, const struct vq_chain *c,
			   uint64_t dlen)
{
	struct blk_priv *bp = be->dev_priv;
	struct blk_discard d;

	/* max_discard_seg is 1 */
	if (dlen != sizeof(d))
		return VIRTIO_BLK_S_UNSUPP;
	vring_chain_read(c, sizeof(struct blk_req_hdr), &d, sizeof(d));
	if (d.flags)
		return VIRTIO_BLK_S_UNSUPP; /* unmap is write-zeroes only */
	if (!blk_in_range(bp, d.sector, (uint64_t)d.num_sectors * SECTOR))
		return VIRTIO_BLK_S_IOERR;
	memset(bp->disk + d.sector * SECTOR, 0, (size_t)d.num_sectors * SECTOR);
	return VIRTIO_BLK_S_OK;
}

static void blk_request(struct backend *be, struct vring *vq,
			const struct vq_chain *c)
{
	struct blk_priv *bp = be->dev_priv;
	struct blk_req_hdr h;
	uint8_t status = VIRTIO_BLK_S_OK;
	uint64_t dlen, wlen, written = 0;
	char id[VIRTIO_BLK_ID_BYTES];

	if (!c->writable_len) {
		vring_push(be, vq, c, 0); /* no room even for a status */
		return;
	}
	wlen = c->writable_len - 1;
	if (c->readable_len < sizeof(h)) {
		status = VIRTIO_BLK_S_IOERR;
		goto done;
	}
	vring_chain_read(c, 0, &h, sizeof(h));
	dlen = c->readable_len - sizeof(h);
	if (!vq->enabled && !bug_on(BUG_PROCESS_WHILE_DISABLED)) {
		status = VIRTIO_BLK_S_IOERR; /* no side effects */
		goto done;
	}
	if (h.ioprio == BLK_HOLD_IOPRIO && !vq->replayed && !vring_hold(vq, c))
		return;
	switch (h.type) {
	case VIRTIO_BLK_T_IN:
		if (wlen % SECTOR || !blk_in_range(bp, h.sector, wlen)) {
			status = VIRTIO_BLK_S_IOERR;
			break;
		}
		written = vring_chain_write(be, c, 0,
					    bp->disk + h.sector * SECTOR, wlen);
		break;
	case VIRTIO_BLK_T_OUT:
		if (dlen % SECTOR || !blk_in_range(bp, h.sector, dlen)) {
			status = VIRTIO_BLK_S_IOERR;
			break;
		}
		vring_chain_read(c, sizeof(h), bp->disk + h.sector * SECTOR,
				 dlen);
		break;
	case VIRTIO_BLK_T_FLUSH:
		break; /* RAM: nothing to write back */
	case VIRTIO_BLK_T_GET_ID:
		memset(id, 0, sizeof(id));
		strncpy(id, "vuc-ref-vhost-blk", sizeof(id));
		written = vring_chain_write(be, c, 0, id,
					    VUC_MIN(wlen, sizeof(id)));
		break;
	case VIRTIO_BLK_T_DISCARD:
		status = blk_discard(be, c, dlen);
		break;
	default:
		status = VIRTIO_BLK_S_UNSUPP;
		break;
	}
done:
	vring_chain_write(be, c, wlen, &status, 1);
	vring_push(be, vq, c, (uint32_t)(written + 1));
}

static void blk_process(struct backend *be, struct vring *vq)
{
	struct vq_chain c;
	unsigned int budget;

	for (budget = 4 * vq->num; budget; budget--) {
		if (vring_pop(be, vq, &c) <= 0)
			return;
		blk_request(be, vq, &c);
	}
	vq->more = true;
}

static bool blk_config_writable(uint32_t off, uint32_t len)
{
	(void)off;
	(void)len;
	return false; /* writeback needs VIRTIO_BLK_F_CONFIG_WCE: not offered */
}

static void blk_config_change(struct backend *be)
{
	/* Toggle the writeback byte: a change a front-end can read back. */
	be->config[32] ^= 1;
	backend_config_change(be);
}

static int blk_state_save(struct backend *be, uint8_t **buf, size_t *len,
			  size_t *cap)
{
	struct blk_priv *bp = be->dev_priv;
	size_t need = *len + bp->size;
	uint8_t *b;

	if (need > *cap) {
		b = realloc(*buf, need + 64);
		if (!b)
			return -ENOMEM;
		*buf = b;
		*cap = need + 64;
	}
	memcpy(*buf + *len, bp->disk, bp->size);
	*len = need;
	return 0;
}

static int blk_state_load(struct backend *be, const uint8_t *p, size_t len)
{
	struct blk_priv *bp = be->dev_priv;

	if (len != bp->size) {
		/* The seeded short-read bug loads what came. */
		if (!bug_on(BUG_STATE_SHORT_READ))
			return -EBADMSG;
		len = VUC_MIN(len, bp->size);
	}
	memcpy(bp->disk, p, len);
	return 0;
}

const struct dev_ops dev_blk_ops = {
	.name = "blk",
	.features = F(VIRTIO_BLK_F_BLK_SIZE) | F(VIRTIO_BLK_F_FLUSH) |
		    F(VIRTIO_BLK_F_DISCARD),
	.config_init = blk_config_init,
	.init = blk_init,
	.fini = blk_fini,
	.reset = blk_reset,
	.process = blk_process,
	.config_writable = blk_config_writable,
	.config_change = blk_config_change,
	.state_save = blk_state_save,
	.state_load = blk_state_load,
};
