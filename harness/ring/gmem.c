// SPDX-License-Identifier: MIT
/*
 * gmem.c - guest memory regions and address translation.
 *
 * Range checks are written so that no sum can overflow: "[a, a + len) lies
 * in [base, base + size)" is a >= base && len <= size && a - base <=
 * size - len.
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/util.h"
#include "ring/gmem.h"

static size_t page_size(void)
{
	static size_t ps;

	if (!ps)
		ps = (size_t)sysconf(_SC_PAGESIZE);
	return ps;
}

static int in_range(uint64_t base, uint64_t size, uint64_t a, uint64_t len)
{
	if (len == 0)
		return a >= base && a - base < size;
	return a >= base && len <= size && a - base <= size - len;
}

/* Half-open ranges [a, a + alen) and [b, b + blen) share a byte. */
static int overlaps(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

static int check_new(const struct gmem *g, uint64_t gpa, uint64_t size,
		     uint64_t uaddr, const char **why)
{
	unsigned int i;

	if (size == 0) {
		*why = "region size is 0";
		return -EINVAL;
	}
	if (gpa + size < gpa || uaddr + size < uaddr) {
		*why = "region wraps past 2^64";
		return -EINVAL;
	}
	if (g->n == GMEM_MAX_REGIONS) {
		*why = "no free region slot";
		return -ENOSPC;
	}
	for (i = 0; i < g->n; i++) {
		const struct gmem_region *r = &g->r[i];

		if (overlaps(gpa, size, r->gpa, r->size) ||
		    overlaps(uaddr, size, r->uaddr, r->size)) {
			*why = "region overlaps an existing region";
			return -EEXIST;
		}
	}
	return 0;
}

void gmem_init(struct gmem *g)
{
	g->n = 0;
}

int gmem_add_memfd(struct gmem *g, uint64_t gpa, uint64_t size,
		   unsigned int *idx)
{
	const char *why = NULL;
	size_t len;
	void *p;
	int fd, ret;

	if (size == 0 || gpa + size < gpa || size > SIZE_MAX - page_size())
		return -EINVAL;
	len = ((size_t)size + page_size() - 1) & ~(page_size() - 1);

	fd = memfd_create("vuc-guest", MFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)len) < 0) {
		ret = -errno;
		goto err_close;
	}
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		ret = -errno;
		goto err_close;
	}
	ret = check_new(g, gpa, size, (uintptr_t)p, &why);
	if (ret < 0) {
		munmap(p, len);
		goto err_close;
	}
	g->r[g->n] = (struct gmem_region){
		.gpa = gpa,
		.size = size,
		.uaddr = (uintptr_t)p,
		.mmap_offset = 0,
		.hva = p,
		.map_base = p,
		.map_len = len,
		.fd = fd,
	};
	if (idx)
		*idx = g->n;
	g->n++;
	return 0;

err_close:
	close_fd(&fd);
	return ret;
}

int gmem_add_fd(struct gmem *g, int fd, uint64_t gpa, uint64_t size,
		uint64_t uaddr, uint64_t mmap_offset, int prot,
		const char **why)
{
	const char *reason = NULL;
	uint64_t start, skip;
	struct stat st;
	void *p;
	int ret;

	ret = check_new(g, gpa, size, uaddr, &reason);
	if (ret < 0)
		goto err_close;
	if (mmap_offset + size < mmap_offset) {
		reason = "mmap offset + size wraps past 2^64";
		ret = -EINVAL;
		goto err_close;
	}
	if (fstat(fd, &st) < 0) {
		ret = -errno;
		reason = "fstat() of the region fd failed";
		goto err_close;
	}
	/* Touching a shared mapping past the end of its file is SIGBUS. */
	if (S_ISREG(st.st_mode) && (uint64_t)st.st_size < mmap_offset + size) {
		reason = "region runs past the end of its file";
		ret = -EINVAL;
		goto err_close;
	}
	/* mmap() wants a page-aligned offset: map from the page before. */
	start = mmap_offset & ~(uint64_t)(page_size() - 1);
	skip = mmap_offset - start;
	if (size + skip < size || size + skip > SIZE_MAX) {
		reason = "region too large to map";
		ret = -EINVAL;
		goto err_close;
	}
	p = mmap(NULL, (size_t)(size + skip), prot, MAP_SHARED, fd,
		 (off_t)start);
	if (p == MAP_FAILED) {
		ret = -errno;
		reason = "mmap() of the region fd failed";
		goto err_close;
	}
	g->r[g->n] = (struct gmem_region){
		.gpa = gpa,
		.size = size,
		.uaddr = uaddr,
		.mmap_offset = mmap_offset,
		.hva = (uint8_t *)p + skip,
		.map_base = p,
		.map_len = (size_t)(size + skip),
		.fd = fd,
	};
	g->n++;
	return 0;

err_close:
	close_fd(&fd);
	if (why)
		*why = reason;
	return ret;
}

int gmem_find(const struct gmem *g, uint64_t gpa, uint64_t size)
{
	unsigned int i;

	for (i = 0; i < g->n; i++)
		if (g->r[i].gpa == gpa && (!size || g->r[i].size == size))
			return (int)i;
	return -ENOENT;
}

void gmem_remove(struct gmem *g, unsigned int idx)
{
	struct gmem_region *r;

	if (idx >= g->n)
		return;
	r = &g->r[idx];
	munmap(r->map_base, r->map_len);
	close_fd(&r->fd);
	memmove(r, r + 1, (g->n - idx - 1) * sizeof(*r));
	g->n--;
}

void gmem_clear(struct gmem *g)
{
	while (g->n)
		gmem_remove(g, g->n - 1);
}

void *gmem_gpa(const struct gmem *g, uint64_t gpa, uint64_t len)
{
	unsigned int i;

	for (i = 0; i < g->n; i++) {
		const struct gmem_region *r = &g->r[i];

		if (in_range(r->gpa, r->size, gpa, len))
			return r->hva + (gpa - r->gpa);
	}
	return NULL;
}

void *gmem_uva(const struct gmem *g, uint64_t uaddr, uint64_t len)
{
	unsigned int i;

	for (i = 0; i < g->n; i++) {
		const struct gmem_region *r = &g->r[i];

		if (in_range(r->uaddr, r->size, uaddr, len))
			return r->hva + (uaddr - r->uaddr);
	}
	return NULL;
}

int gmem_uva_to_gpa(const struct gmem *g, uint64_t uaddr, uint64_t len,
		    uint64_t *gpa)
{
	unsigned int i;

	for (i = 0; i < g->n; i++) {
		const struct gmem_region *r = &g->r[i];

		if (in_range(r->uaddr, r->size, uaddr, len)) {
			*gpa = r->gpa + (uaddr - r->uaddr);
			return 0;
		}
	}
	return -EFAULT;
}

int gmem_hva_to_gpa(const struct gmem *g, const void *p, uint64_t len,
		    uint64_t *gpa)
{
	uintptr_t a = (uintptr_t)p;
	unsigned int i;

	for (i = 0; i < g->n; i++) {
		const struct gmem_region *r = &g->r[i];

		if (in_range((uintptr_t)r->hva, r->size, a, len)) {
			*gpa = r->gpa + (a - (uintptr_t)r->hva);
			return 0;
		}
	}
	return -EFAULT;
}

int gmem_alloc(struct gmem *g, uint64_t len, uint64_t align, uint64_t *gpa)
{
	unsigned int i;

	if (!align || align & (align - 1))
		return -EINVAL;
	for (i = 0; i < g->n; i++) {
		struct gmem_region *r = &g->r[i];
		/* Align the guest address, which is what the device sees. */
		uint64_t at = r->gpa + r->next_free;
		uint64_t pad = (align - (at & (align - 1))) & (align - 1);
		uint64_t off = r->next_free + pad;

		if (off < r->next_free || off > r->size || len > r->size - off)
			continue;
		r->next_free = off + len;
		*gpa = r->gpa + off;
		return 0;
	}
	return -ENOMEM;
}
