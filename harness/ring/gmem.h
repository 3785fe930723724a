/* SPDX-License-Identifier: MIT */
/*
 * gmem.h - guest memory: memfd-backed regions, translated by guest-physical
 * address and by front-end virtual ("user") address.
 *
 * The front-end side (fake driver) creates regions from memfds and maps them
 * here; the back-end side (reference back-end) maps the fds it was handed in
 * VHOST_USER_SET_MEM_TABLE / ADD_MEM_REG. Both see the same layout the spec
 * describes in "Memory region description": guest address, size, user
 * address, mmap offset.
 *
 * Every translation checks the whole range: a buffer that straddles two
 * regions or runs off the end of one is an error, never a partial pointer.
 */
#ifndef VUC_RING_GMEM_H
#define VUC_RING_GMEM_H

#include <stdint.h>
#include <stddef.h>

/* VHOST_USER_GET_MAX_MEM_SLOTS answers are commonly 509 or less. */
#define GMEM_MAX_REGIONS 512

struct gmem_region {
	uint64_t gpa;	      /* guest physical address of byte 0 */
	uint64_t size;	      /* bytes */
	uint64_t uaddr;	      /* front-end virtual address of byte 0 */
	uint64_t mmap_offset; /* where byte 0 lies in @fd */
	uint8_t *hva;	      /* where byte 0 is mapped in this process */
	void *map_base;	      /* what munmap() undoes */
	size_t map_len;
	int fd;		    /* owned by the gmem; -1 when none is kept */
	uint64_t next_free; /* bump allocator: offset of the next free byte */
};

struct gmem {
	struct gmem_region r[GMEM_MAX_REGIONS];
	unsigned int n;
};

/** gmem_init() - An empty guest memory. */
void gmem_init(struct gmem *g);

/**
 * gmem_add_memfd() - Create a region backed by a new memfd (front-end side)
 * @gpa:	guest physical address of the region
 * @size:	bytes, non-zero; rounded up to whole pages for the memfd only
 * @idx:	out (may be NULL): index of the new region in @g->r
 *
 * The user address of the region is the address it is mapped at here, as a
 * real front-end would send its own virtual address.
 *
 * Return: 0, -EINVAL for a zero size or a range that wraps, -EEXIST if it
 *	   overlaps a region (by guest or user address), -ENOSPC if @g is
 *	   full, or the -errno of memfd_create(), ftruncate() or mmap().
 */
int gmem_add_memfd(struct gmem *g, uint64_t gpa, uint64_t size,
		   unsigned int *idx);

/**
 * gmem_add_fd() - Map a region from a file descriptor (back-end side)
 * @fd:		the region's fd; always taken: kept by @g on success, closed
 *		on failure
 * @prot:	PROT_READ | PROT_WRITE as needed
 *
 * Checks what a back-end must check before touching the memory: non-zero
 * size, no wrap of gpa + size, uaddr + size or mmap_offset + size, no
 * overlap with an existing region, and a file at least mmap_offset + size
 * long (a shorter memfd would otherwise SIGBUS on access past its end).
 *
 * Return: 0, -EINVAL (bad range or a file too short, with @why set),
 *	   -EEXIST (overlap), -ENOSPC (full), or mmap()'s -errno (-EACCES for
 *	   an fd that cannot be mapped with @prot, -ENODEV for one that cannot
 *	   be mapped at all).
 */
int gmem_add_fd(struct gmem *g, int fd, uint64_t gpa, uint64_t size,
		uint64_t uaddr, uint64_t mmap_offset, int prot,
		const char **why);

/**
 * gmem_find() - Index of the region whose guest address range starts at
 *		 @gpa and has @size bytes (size 0: any size)
 * Return: the index, or -ENOENT.
 */
int gmem_find(const struct gmem *g, uint64_t gpa, uint64_t size);

/** gmem_remove() - Unmap region @idx and close its fd; later ones move down. */
void gmem_remove(struct gmem *g, unsigned int idx);

/** gmem_clear() - Remove every region. @g is empty and reusable after. */
void gmem_clear(struct gmem *g);

/**
 * gmem_gpa() - Pointer to [@gpa, @gpa + @len) if it lies inside one region
 * Return: the pointer, or NULL (outside, straddling, or wrapping). A @len
 *	   of 0 needs @gpa inside a region.
 */
void *gmem_gpa(const struct gmem *g, uint64_t gpa, uint64_t len);

/** gmem_uva() - As gmem_gpa(), by front-end virtual (user) address. */
void *gmem_uva(const struct gmem *g, uint64_t uaddr, uint64_t len);

/**
 * gmem_uva_to_gpa() - Guest address of a front-end virtual address
 * Return: 0 and *@gpa, or -EFAULT if [@uaddr, @uaddr + @len) is not inside
 *	   one region.
 */
int gmem_uva_to_gpa(const struct gmem *g, uint64_t uaddr, uint64_t len,
		    uint64_t *gpa);

/**
 * gmem_hva_to_gpa() - Guest address of a pointer into this process's
 *		       mapping of a region (driver side builds descriptors so)
 * Return: 0 and *@gpa, or -EFAULT if [@p, @p + @len) is not in one region.
 */
int gmem_hva_to_gpa(const struct gmem *g, const void *p, uint64_t len,
		    uint64_t *gpa);

/**
 * gmem_alloc() - Carve @len bytes aligned to @align (a power of two) out of
 *		  the regions, first fit, never freed (driver side: rings and
 *		  buffers)
 * Return: 0 and *@gpa, -EINVAL for a bad @align, or -ENOMEM when no region
 *	   has room.
 */
int gmem_alloc(struct gmem *g, uint64_t len, uint64_t align, uint64_t *gpa);

#endif /* VUC_RING_GMEM_H */
