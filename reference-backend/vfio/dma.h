/* SPDX-License-Identifier: MIT */
/*
 * dma.h - the client memory the server may reach: the DMA map table, the
 * three access modes of seed 003 and the dirty-page log.
 *
 * specs/vfio-user.rst "VFIO_USER_DMA_MAP" and seed 003: a region is reached
 * by VFIO_USER_DMA_READ / _WRITE messages, by mmap() of the client's fd, or
 * by pread() / pwrite() on it. Message transport is the server's business:
 * the table calls back into it (struct dma.msg_xfer).
 *
 * Every address range is checked for overflow; a range may end exactly at
 * 2^64. Nothing here sends or receives a message.
 */
#ifndef VUC_REFVFIO_DMA_H
#define VUC_REFVFIO_DMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wire/vfio_user.h"

/* The server's own max_dma_maps (advertised in the VERSION reply). */
#define DMA_MAX_REGIONS 64u
/* Dirty pages are tracked at this granularity whatever the client asks. */
#define DMA_LOG_PAGE 4096u
/* DMA_LOGGING_START ranges kept; more is E2BIG. */
#define DMA_LOG_RANGES_MAX 64u
/* Distinct dirty pages remembered; beyond, every mapped page is dirty. */
#define DMA_LOG_PAGES_MAX 65536u

struct dma_region {
	uint64_t addr;
	uint64_t size;
	uint64_t offset; /* file offset of addr (fd modes) */
	uint32_t prot;	 /* VFIO_USER_F_DMA_REGION_READ / _WRITE */
	enum vfio_user_dma_access mode;
	int fd;	      /* owned; -1 in message mode */
	uint8_t *map; /* MMAP: the mapping, page aligned */
	size_t map_len;
	size_t map_skip; /* bytes from map to addr */
};

struct dma_log_range {
	uint64_t iova;
	uint64_t length;
};

/*
 * Moves @len bytes between @buf and client address @iova by messages
 * (DMA_READ when !@write, DMA_WRITE when @write).
 * Return: 0 or -errno.
 */
typedef int dma_msg_xfer_fn(void *opaque, bool write, uint64_t iova, void *buf,
			    uint64_t len);

struct dma {
	struct dma_region r[DMA_MAX_REGIONS];
	unsigned int n;
	uint64_t bugs; /* enum bug mask */
	dma_msg_xfer_fn *msg_xfer;
	void *opaque;
	/* dirty log */
	bool logging;
	struct dma_log_range ranges[DMA_LOG_RANGES_MAX];
	unsigned int nranges; /* 0: every write is logged */
	uint64_t *dirty;      /* sorted page numbers (iova / 4096) */
	size_t ndirty;
	bool dirty_overflow;
};

/**
 * dma_init() - An empty table
 * @msg_xfer:	message transport for regions in message mode (may be NULL:
 *		such accesses then fail with -ENOTCONN)
 */
void dma_init(struct dma *d, uint64_t bugs, dma_msg_xfer_fn *msg_xfer,
	      void *opaque);

/**
 * dma_map() - Add a region
 * @map:	the DMA_MAP request (flags R / W are used; mode bits are not)
 * @mode:	the access mode already chosen from the flags and fds
 * @fd:		the client's fd, or -1
 *
 * fds: @fd is always taken: kept by the region on success, closed on
 * failure.
 *
 * Return: 0, -EEXIST (overlaps a region), -EINVAL (zero size, range past
 * 2^64, an fd that cannot serve the mode, a file too short, mmap failed),
 * -ENOSPC (DMA_MAX_REGIONS reached).
 */
int dma_map(struct dma *d, const struct vfio_user_dma_map *map,
	    enum vfio_user_dma_access mode, int fd);

/**
 * dma_unmap() - Remove the region that is exactly [@addr, @addr + @size)
 *
 * Its fd is closed and its mapping released before this returns.
 *
 * Return: 0 or -ENOENT.
 */
int dma_unmap(struct dma *d, uint64_t addr, uint64_t size);

/** dma_unmap_all() - Remove every region (disconnect, UNMAP ALL). */
void dma_unmap_all(struct dma *d);

/**
 * dma_read() - Copy @len bytes of client memory at @iova to @buf
 *
 * Return: 0, -EFAULT (a byte outside every region), -EPERM (a region not
 * readable), -EIO (file I/O failed), or the message transport's -errno.
 */
int dma_read(struct dma *d, uint64_t iova, void *buf, uint64_t len);

/**
 * dma_write() - Copy @len bytes of @buf to client memory at @iova
 *
 * Pages written are logged while dirty logging runs.
 *
 * Return: as dma_read() (-EPERM: a region not writeable).
 */
int dma_write(struct dma *d, uint64_t iova, const void *buf, uint64_t len);

/**
 * dma_log_start() - Start dirty logging of writes in @ranges (all writes
 * when @n is 0)
 *
 * Return: 0, -EBUSY (already running), -E2BIG (more than
 * DMA_LOG_RANGES_MAX ranges), -EINVAL (a range past 2^64).
 */
int dma_log_start(struct dma *d, const struct dma_log_range *ranges,
		  unsigned int n);

/** dma_log_stop() - Stop dirty logging and forget the log. */
void dma_log_stop(struct dma *d);

/**
 * dma_log_report() - The dirty bitmap of [@iova, @iova + @length) in
 * @page_size units, then clear what was reported
 * @bitmap:	out, @bitmap_len bytes (whole u64 words), zeroed here
 *
 * Bit (i % 64) of word (i / 64) is page i; bits past the range are 0.
 *
 * Return: 0, -EINVAL (logging not started, page_size not a power of two,
 * @bitmap_len too small, range past 2^64).
 */
int dma_log_report(struct dma *d, uint64_t iova, uint64_t length,
		   uint64_t page_size, uint64_t *bitmap, size_t bitmap_len);

/** dma_fini() - dma_unmap_all() and free the log. */
void dma_fini(struct dma *d);

#endif /* VUC_REFVFIO_DMA_H */
