/* SPDX-License-Identifier: MIT */
/*
 * device.h - the PCI device vuc-ref-vfio serves: config space with a
 * capability list, BAR0 registers that drive a DMA copy engine, BAR2
 * memory mappable through an fd with sparse areas, a device-specific info
 * region, INTx / MSI / MSI-X (plus ERR and REQ) through eventfds, reset,
 * and the migration state machine with save and restore of the device
 * state.
 *
 * Register map of BAR0 (region 0, 4 KiB, read / write, not mappable; all
 * registers little-endian, accessible with any size and alignment):
 *
 *   0x000 ID          RO  0x31435556 ("VUC1")
 *   0x004 STATUS      RO  bit 0 DONE, bit 1 ERROR (of the last copy)
 *   0x008 DMA_SRC     RW  u64 client address to copy from
 *   0x010 DMA_DST     RW  u64 client address to copy to
 *   0x018 DMA_LEN     RW  u32 bytes, 1 .. DEV_DMA_LEN_MAX
 *   0x01c DMA_CMD     WO  write 1: copy DMA_LEN bytes SRC -> DST, then
 *                         raise the interrupt (reads 0); also reachable
 *                         through the ioeventfd of GET_REGION_IO_FDS
 *   0x020 DMA_RESULT  RO  0 or the errno of the last copy
 *   0x024 IRQ_STATUS  W1C bit 0 copy done, bit 1 software interrupt; INTx
 *                         is asserted while non-zero
 *   0x028 SCRATCH     RW  u32 kept across migration
 *   0x02c IRQ_RAISE   WO  write N: set IRQ_STATUS bit 1, raise vector N of
 *                         the interrupt mode in use
 *   0x030 DMA_COUNT   RO  copies completed
 *   0x800 MSI-X table RW  4 entries of 16 bytes
 *   0xc00 MSI-X PBA   RO
 *
 * The interrupt mode in use: MSI-X if enabled in its capability, else MSI
 * if enabled, else INTx unless the command register disables it.
 */
#ifndef VUC_REFVFIO_DEVICE_H
#define VUC_REFVFIO_DEVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wire/vfio_user.h"
#include "dma.h"

#define DEV_VENDOR_ID 0x1234u /* unregistered test ids */
#define DEV_DEVICE_ID 0x11e5u

#define DEV_CFG_SIZE 4096u
#define DEV_BAR0_SIZE 4096u
#define DEV_BAR2_SIZE 65536u
#define DEV_INFO_SIZE 4096u
/* the PCI regions 0-8, then one device-specific region */
#define DEV_INFO_REGION_INDEX 9u
#define DEV_NUM_REGIONS 10u
#define DEV_NUM_IRQS VFIO_PCI_NUM_IRQS
#define DEV_MSIX_VECTORS 4u
#define DEV_MAX_VECTORS DEV_MSIX_VECTORS
/* the vendor-specific region type of the info region (VFIO's
 * VFIO_REGION_TYPE_PCI_VENDOR_TYPE | vendor) */
#define DEV_INFO_REGION_TYPE (0x80000000u | DEV_VENDOR_ID)
#define DEV_INFO_REGION_SUBTYPE 1u

/* BAR2 sparse mmap areas: [0, 16K) and [32K, 64K) */
#define DEV_BAR2_AREA0_OFF 0x0u
#define DEV_BAR2_AREA0_SIZE 0x4000u
#define DEV_BAR2_AREA1_OFF 0x8000u
#define DEV_BAR2_AREA1_SIZE 0x8000u

/* BAR0 registers */
#define DEV_REG_ID 0x000u
#define DEV_REG_STATUS 0x004u
#define DEV_REG_DMA_SRC 0x008u
#define DEV_REG_DMA_DST 0x010u
#define DEV_REG_DMA_LEN 0x018u
#define DEV_REG_DMA_CMD 0x01cu
#define DEV_REG_DMA_RESULT 0x020u
#define DEV_REG_IRQ_STATUS 0x024u
#define DEV_REG_SCRATCH 0x028u
#define DEV_REG_IRQ_RAISE 0x02cu
#define DEV_REG_DMA_COUNT 0x030u
#define DEV_MSIX_TABLE 0x800u
#define DEV_MSIX_PBA 0xc00u

#define DEV_ID_VALUE 0x31435556u
#define DEV_STATUS_DONE (1u << 0)
#define DEV_STATUS_ERROR (1u << 1)
#define DEV_DMA_CMD_START 1u
#define DEV_IRQ_STATUS_DMA (1u << 0)
#define DEV_IRQ_STATUS_SW (1u << 1)
#define DEV_DMA_LEN_MAX 65536u

/* Config space layout */
#define DEV_CAP_PM 0x40u
#define DEV_CAP_MSI 0x48u
#define DEV_CAP_MSIX 0x60u
#define DEV_CAP_EXP 0x70u
#define DEV_ECAP_DSN 0x100u
#define DEV_DSN_VALUE 0x0123456789abcdefull

/* One interrupt vector: the client's eventfds and its mask state. */
struct dev_vec {
	int trigger;   /* signalled when the vector fires */
	int mask_fd;   /* signalled when the vector gets masked */
	int unmask_fd; /* signalled when the vector gets unmasked */
	bool masked;
	bool pending;
};

struct dev_irq {
	uint32_t count;
	uint32_t flags; /* VFIO_IRQ_INFO_* */
	struct dev_vec v[DEV_MAX_VECTORS];
};

struct device {
	uint64_t bugs;
	struct dma *dma;
	uint8_t cfg[DEV_CFG_SIZE];
	uint8_t cfg_wmask[DEV_CFG_SIZE];
	uint8_t bar0[DEV_BAR0_SIZE];
	uint8_t bar0_wmask[DEV_BAR0_SIZE];
	int bar2_fd;
	uint8_t *bar2;
	int info_fd;
	const uint8_t *info;
	int ioeventfd; /* the DMA_CMD doorbell */
	struct dev_irq irq[DEV_NUM_IRQS];
	uint32_t mig_state;
	uint8_t *mig_out; /* saving: the stream still to be read */
	size_t mig_out_len, mig_out_pos;
	uint8_t *mig_in; /* resuming: the stream received */
	size_t mig_in_len;
};

/**
 * device_init() - A device in its reset state, migration state RUNNING
 * @dma:	the client memory its DMA engine uses
 *
 * fds: the device owns its memfds and ioeventfd until device_fini().
 * Return: 0 or -errno.
 */
int device_init(struct device *dev, uint64_t bugs, struct dma *dma);

/** device_fini() - Release everything, the client's IRQ fds included. */
void device_fini(struct device *dev);

/** device_reset() - VFIO_USER_DEVICE_RESET: registers, config space,
 * masks and migration state to their reset values; the IRQ fds stay. */
void device_reset(struct device *dev);

/** device_release_irqs() - Close every IRQ fd of the client (it left). */
void device_release_irqs(struct device *dev);

/**
 * device_region_info() - GET_REGION_INFO of region @index
 * @info:	out: flags, index, size, offset
 * @caps:	out: the capability chain, laid out for cap_offset 32
 * @caps_len:	in: room in @caps; out: bytes used
 * @fd:		out: the fd to pass (not a copy: the device keeps it), or -1
 * @fds_ok:	the client can take an fd (max_msg_fds >= 1); if not, no
 *		region is offered as mappable
 *
 * Return: 0 or -EINVAL (no such region).
 */
int device_region_info(struct device *dev, uint32_t index,
		       struct vfio_user_region_info *info, uint8_t *caps,
		       size_t *caps_len, int *fd, bool fds_ok);

/**
 * device_region_access() - REGION_READ / REGION_WRITE of @count bytes at
 * @offset of region @index
 *
 * May run the DMA engine (a write of DMA_CMD), which may send messages.
 * Return: 0 or -EINVAL (no such region, out of range, not readable or
 * writeable).
 */
int device_region_access(struct device *dev, uint32_t index, uint64_t offset,
			 void *buf, uint32_t count, bool write);

/**
 * device_io_fds() - GET_REGION_IO_FDS of region @index
 * @subs:	out: up to DEV_MAX_IO_FDS entries
 * @fds:	out: the fds they index (the device keeps them)
 *
 * Return: the number of entries, or -EINVAL (no such region).
 */
#define DEV_MAX_IO_FDS 1u
int device_io_fds(struct device *dev, uint32_t index,
		  struct vfio_user_sub_region_io_fd *subs, int *fds,
		  unsigned int *nfds);

/** device_doorbell() - The ioeventfd fired: run the DMA engine. */
void device_doorbell(struct device *dev);

/** device_irq_info() - GET_IRQ_INFO. Return: 0 or -EINVAL. */
int device_irq_info(const struct device *dev, uint32_t index, uint32_t *flags,
		    uint32_t *count);

/**
 * device_set_irqs() - SET_IRQS
 * @bools:	the DATA_BOOL bytes (@nbools of them; missing ones are 0)
 * @fds:	the fds that came; the ones the device keeps are set to -1
 *
 * fds: the caller closes what is left in @fds.
 * Return: 0 or -EINVAL.
 */
int device_set_irqs(struct device *dev, const struct vfio_user_irq_set *set,
		    const uint8_t *bools, size_t nbools, int *fds,
		    unsigned int nfds);

/** device_mig_abandon() - The client left mid-migration: drop the stream
 * and run again (a device in ERROR is reset). */
void device_mig_abandon(struct device *dev);

/** device_mig_state() - The current migration state. */
uint32_t device_mig_state(const struct device *dev);

/**
 * device_mig_set_state() - Take the shortest legal path to @state
 *
 * Return: 0, -EINVAL (no legal path, ERROR or a P2P state requested, the
 * device in ERROR, migration data invalid: the device is then in ERROR).
 */
int device_mig_set_state(struct device *dev, uint32_t state);

/**
 * device_mig_read() - MIG_DATA_READ: up to @size bytes of the stream
 *
 * Return: bytes copied to @buf (less than @size: the end), or -EINVAL
 * (not in PRE_COPY or STOP_COPY).
 */
int device_mig_read(struct device *dev, void *buf, uint32_t size);

/**
 * device_mig_write() - MIG_DATA_WRITE: append @size bytes to the stream
 *
 * Return: 0, -EINVAL (not RESUMING), -ENOSPC (more than any stream).
 */
int device_mig_write(struct device *dev, const void *buf, uint32_t size);

#endif /* VUC_REFVFIO_DEVICE_H */
