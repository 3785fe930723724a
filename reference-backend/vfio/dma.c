// SPDX-License-Identifier: MIT
/*
 * dma.c - the DMA map table, the three access modes, the dirty log.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/util.h"
#include "bugs.h"
#include "dma.h"

void dma_init(struct dma *d, uint64_t bugs, dma_msg_xfer_fn *msg_xfer,
	      void *opaque)
{
	memset(d, 0, sizeof(*d));
	d->bugs = bugs;
	d->msg_xfer = msg_xfer;
	d->opaque = opaque;
}

/* Last byte of [base, base + len), len > 0; false if it passes 2^64. */
static bool range_last(uint64_t base, uint64_t len, uint64_t *last)
{
	if (!len || base > UINT64_MAX - (len - 1))
		return false;
	*last = base + (len - 1);
	return true;
}

static bool overlaps(const struct dma_region *r, uint64_t addr, uint64_t last)
{
	uint64_t rlast = r->addr + (r->size - 1);

	return addr <= rlast && r->addr <= last;
}

/* mmap() the fd: the region's bytes start @map_skip into the mapping. */
static int map_region(struct dma *d, struct dma_region *r)
{
	long pg = sysconf(_SC_PAGESIZE);
	uint64_t start = r->offset & ~((uint64_t)pg - 1), len;
	int prot = PROT_READ;
	struct stat st;
	void *p;

	if (fstat(r->fd, &st) < 0 || !S_ISREG(st.st_mode))
		return -EINVAL;
	/* A mapping past the end of the file would SIGBUS on first touch
	 * (VU-DMA-MAP-08): refuse it now. */
	if (r->offset > (uint64_t)st.st_size ||
	    r->size > (uint64_t)st.st_size - r->offset)
		return -EINVAL;
	len = r->offset - start + r->size;
	if (len > SIZE_MAX)
		return -EINVAL;
	if (r->prot & VFIO_USER_F_DMA_REGION_WRITE)
		prot |= PROT_WRITE;
	p = MAP_FAILED;
	if (bugs_on(d->bugs, BUG_DMA_WRITE_READONLY))
		/* the bug: mapped writeable whenever the fd allows it */
		p = mmap(NULL, (size_t)len, PROT_READ | PROT_WRITE, MAP_SHARED,
			 r->fd, (off_t)start);
	if (p == MAP_FAILED)
		p = mmap(NULL, (size_t)len, prot, MAP_SHARED, r->fd,
			 (off_t)start);
	if (p == MAP_FAILED)
		return -EINVAL;
	r->map = p;
	r->map_len = (size_t)len;
	r->map_skip = (size_t)(r->offset - start);
	return 0;
}

/* File I/O needs a seekable fd opened for the access the flags allow. */
static int check_file_io(const struct dma_region *r)
{
	char c;
	int fl = fcntl(r->fd, F_GETFL), acc;

	if (fl < 0)
		return -EINVAL;
	acc = fl & O_ACCMODE;
	if ((r->prot & VFIO_USER_F_DMA_REGION_READ) && acc == O_WRONLY)
		return -EINVAL;
	if ((r->prot & VFIO_USER_F_DMA_REGION_WRITE) && acc == O_RDONLY)
		return -EINVAL;
	if (fl & O_PATH)
		return -EINVAL;
	/* a pipe or socket says ESPIPE here */
	if (pread(r->fd, &c, 0, 0) < 0)
		return -EINVAL;
	if (r->offset > INT64_MAX || r->size - 1 > INT64_MAX - r->offset)
		return -EINVAL;
	return 0;
}

int dma_map(struct dma *d, const struct vfio_user_dma_map *map,
	    enum vfio_user_dma_access mode, int fd)
{
	struct dma_region r = { 0 };
	uint64_t last;
	unsigned int i;
	int ret;

	if (!range_last(map->addr, map->size, &last)) {
		ret = -EINVAL;
		goto err;
	}
	for (i = 0; i < d->n; i++) {
		if (overlaps(&d->r[i], map->addr, last)) {
			/* "A command to map over an existing region must be
			 * failed by the server with EEXIST" */
			ret = bugs_on(d->bugs, BUG_OVERLAP_EINVAL) ? -EINVAL
								   : -EEXIST;
			goto err;
		}
	}
	if (d->n == DMA_MAX_REGIONS) {
		ret = -ENOSPC;
		goto err;
	}
	if (mode != VFIO_USER_DMA_ACCESS_MSG && fd < 0) {
		ret = -EINVAL;
		goto err;
	}
	r.addr = map->addr;
	r.size = map->size;
	r.offset = mode == VFIO_USER_DMA_ACCESS_MSG ? 0 : map->offset;
	r.prot = map->flags &
		 (VFIO_USER_F_DMA_REGION_READ | VFIO_USER_F_DMA_REGION_WRITE);
	r.mode = mode;
	r.fd = fd;
	if (mode == VFIO_USER_DMA_ACCESS_MMAP)
		ret = map_region(d, &r);
	else if (mode == VFIO_USER_DMA_ACCESS_FILE_IO)
		ret = check_file_io(&r);
	else
		ret = 0;
	if (ret < 0)
		goto err;
	d->r[d->n++] = r;
	return 0;

err:
	if (bugs_on(d->bugs, BUG_FD_LEAK_DMA_ERROR))
		fd = -1; /* the bug: forgotten, never closed */
	close_fd(&fd);
	return ret;
}

static void region_release(struct dma_region *r)
{
	if (r->map)
		munmap(r->map, r->map_len);
	r->map = NULL;
	close_fd(&r->fd);
}

static void remove_at(struct dma *d, unsigned int i)
{
	region_release(&d->r[i]);
	memmove(&d->r[i], &d->r[i + 1], (d->n - i - 1) * sizeof(d->r[0]));
	d->n--;
}

int dma_unmap(struct dma *d, uint64_t addr, uint64_t size)
{
	uint64_t last;
	unsigned int i;

	for (i = 0; i < d->n; i++) {
		if (d->r[i].addr == addr && d->r[i].size == size) {
			remove_at(d, i);
			return 0;
		}
	}
	/* the bug: "must match exactly a previous mapping" not enforced */
	if (bugs_on(d->bugs, BUG_UNMAP_INEXACT) &&
	    range_last(addr, size, &last)) {
		for (i = 0; i < d->n; i++) {
			struct dma_region *r = &d->r[i];

			if (addr >= r->addr &&
			    last <= r->addr + (r->size - 1)) {
				remove_at(d, i);
				return 0;
			}
		}
	}
	return -ENOENT;
}

void dma_unmap_all(struct dma *d)
{
	while (d->n)
		remove_at(d, d->n - 1);
}

static struct dma_region *find(struct dma *d, uint64_t iova)
{
	unsigned int i;

	for (i = 0; i < d->n; i++)
		if (iova >= d->r[i].addr && iova - d->r[i].addr < d->r[i].size)
			return &d->r[i];
	return NULL;
}

/* ------------------------------------------------------------------ */
/* Dirty log                                                           */
/* ------------------------------------------------------------------ */

/* Index of the first entry >= @pg in the sorted dirty list. */
static size_t dirty_lower(const struct dma *d, uint64_t pg)
{
	size_t lo = 0, hi = d->ndirty;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (d->dirty[mid] < pg)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static void dirty_add(struct dma *d, uint64_t pg)
{
	size_t i = dirty_lower(d, pg);

	if (i < d->ndirty && d->dirty[i] == pg)
		return;
	if (d->ndirty == DMA_LOG_PAGES_MAX) {
		d->dirty_overflow = true;
		return;
	}
	memmove(&d->dirty[i + 1], &d->dirty[i],
		(d->ndirty - i) * sizeof(d->dirty[0]));
	d->dirty[i] = pg;
	d->ndirty++;
}

static bool log_wants(const struct dma *d, uint64_t first, uint64_t last)
{
	unsigned int i;

	if (!d->nranges)
		return true;
	for (i = 0; i < d->nranges; i++) {
		uint64_t rl = d->ranges[i].iova + (d->ranges[i].length - 1);

		if (d->ranges[i].length && first <= rl &&
		    d->ranges[i].iova <= last)
			return true;
	}
	return false;
}

static void log_write(struct dma *d, uint64_t iova, uint64_t len)
{
	uint64_t last = iova + (len - 1), pg;

	if (!d->logging || bugs_on(d->bugs, BUG_DIRTY_NOT_LOGGED))
		return;
	for (pg = iova / DMA_LOG_PAGE; pg <= last / DMA_LOG_PAGE; pg++)
		if (log_wants(d, pg * DMA_LOG_PAGE,
			      pg * DMA_LOG_PAGE + (DMA_LOG_PAGE - 1)))
			dirty_add(d, pg);
}

int dma_log_start(struct dma *d, const struct dma_log_range *ranges,
		  unsigned int n)
{
	uint64_t last;
	unsigned int i;

	if (d->logging)
		return -EBUSY;
	if (n > DMA_LOG_RANGES_MAX)
		return -E2BIG;
	for (i = 0; i < n; i++)
		if (ranges[i].length &&
		    !range_last(ranges[i].iova, ranges[i].length, &last))
			return -EINVAL;
	d->dirty = calloc(DMA_LOG_PAGES_MAX, sizeof(*d->dirty));
	if (!d->dirty)
		return -ENOMEM;
	if (n)
		memcpy(d->ranges, ranges, n * sizeof(*ranges));
	d->nranges = n;
	d->ndirty = 0;
	d->dirty_overflow = false;
	d->logging = true;
	return 0;
}

void dma_log_stop(struct dma *d)
{
	free(d->dirty);
	d->dirty = NULL;
	d->ndirty = 0;
	d->logging = false;
	d->nranges = 0;
}

static bool page_mapped(const struct dma *d, uint64_t first, uint64_t last)
{
	unsigned int i;

	for (i = 0; i < d->n; i++)
		if (overlaps(&d->r[i], first, last))
			return true;
	return false;
}

int dma_log_report(struct dma *d, uint64_t iova, uint64_t length,
		   uint64_t page_size, uint64_t *bitmap, size_t bitmap_len)
{
	uint64_t last, pages, i, first_pg, last_pg;
	size_t lo, hi;

	if (!d->logging || !page_size || (page_size & (page_size - 1)))
		return -EINVAL;
	memset(bitmap, 0, bitmap_len);
	if (!length)
		return 0;
	if (!range_last(iova, length, &last))
		return -EINVAL;
	pages = length / page_size + (length % page_size != 0);
	if (pages > (uint64_t)bitmap_len * 8)
		return -EINVAL;
	for (i = 0; i < pages; i++) {
		uint64_t pfirst = iova + i * page_size;
		uint64_t plast = pfirst + (page_size - 1);
		bool dirty;

		if (plast < pfirst || plast > last)
			plast = last;
		if (d->dirty_overflow) {
			dirty = page_mapped(d, pfirst, plast);
		} else {
			lo = dirty_lower(d, pfirst / DMA_LOG_PAGE);
			dirty = lo < d->ndirty &&
				d->dirty[lo] <= plast / DMA_LOG_PAGE;
		}
		if (dirty)
			bitmap[i / 64] |= (uint64_t)1 << (i % 64);
	}
	/* Report and clear, as the kernel's VFIO does. */
	first_pg = iova / DMA_LOG_PAGE;
	last_pg = last / DMA_LOG_PAGE;
	lo = dirty_lower(d, first_pg);
	hi = lo;
	while (hi < d->ndirty && d->dirty[hi] <= last_pg)
		hi++;
	memmove(&d->dirty[lo], &d->dirty[hi],
		(d->ndirty - hi) * sizeof(d->dirty[0]));
	d->ndirty -= hi - lo;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Access                                                              */
/* ------------------------------------------------------------------ */

static int file_io(struct dma_region *r, bool write, uint64_t off, uint8_t *buf,
		   uint64_t len)
{
	while (len) {
		size_t n = len > (1u << 30) ? (1u << 30) : (size_t)len;
		ssize_t got;

		if (write)
			got = pwrite(r->fd, buf, n, (off_t)(r->offset + off));
		else
			got = pread(r->fd, buf, n, (off_t)(r->offset + off));
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			return -EIO;
		off += (uint64_t)got;
		buf += got;
		len -= (uint64_t)got;
	}
	return 0;
}

static int dma_access(struct dma *d, bool write, uint64_t iova, uint8_t *buf,
		      uint64_t len)
{
	uint32_t need = write ? VFIO_USER_F_DMA_REGION_WRITE
			      : VFIO_USER_F_DMA_REGION_READ;
	uint64_t last;
	int ret;

	if (!len)
		return 0;
	if (!range_last(iova, len, &last))
		return -EFAULT;
	while (len) {
		struct dma_region *r = find(d, iova);
		uint64_t off, n;

		if (!r)
			return -EFAULT;
		if (!(r->prot & need) &&
		    !(write && bugs_on(d->bugs, BUG_DMA_WRITE_READONLY)))
			return -EPERM;
		off = iova - r->addr;
		n = VUC_MIN(len, r->size - off);
		switch (r->mode) {
		case VFIO_USER_DMA_ACCESS_MMAP:
			if (write)
				memcpy(r->map + r->map_skip + off, buf, n);
			else
				memcpy(buf, r->map + r->map_skip + off, n);
			ret = 0;
			break;
		case VFIO_USER_DMA_ACCESS_FILE_IO:
			ret = file_io(r, write, off, buf, n);
			break;
		default:
			ret = d->msg_xfer ? d->msg_xfer(d->opaque, write, iova,
							buf, n)
					  : -ENOTCONN;
			break;
		}
		if (ret < 0)
			return ret;
		if (write)
			log_write(d, iova, n);
		len -= n;
		buf += n;
		iova += n;
		if (len && !iova)
			return -EFAULT; /* wrapped: cannot happen, checked */
	}
	return 0;
}

int dma_read(struct dma *d, uint64_t iova, void *buf, uint64_t len)
{
	return dma_access(d, false, iova, buf, len);
}

int dma_write(struct dma *d, uint64_t iova, const void *buf, uint64_t len)
{
	/* dma_access() does not write to @buf when @write */
	return dma_access(d, true, iova, (uint8_t *)(uintptr_t)buf, len);
}

void dma_fini(struct dma *d)
{
	dma_unmap_all(d);
	dma_log_stop(d);
}
