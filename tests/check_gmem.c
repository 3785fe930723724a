// SPDX-License-Identifier: MIT
/*
 * check_gmem.c - guest memory: whole-range translation by guest, user and
 * host address, overlap refusal, regions from fds (offsets, short files,
 * read-only files), the bump allocator, and fd ownership.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "check_util.h"
#include "common/util.h"
#include "ring/gmem.h"

#define PAGE 4096ULL

static struct gmem g;

static bool fd_open(int fd)
{
	return fcntl(fd, F_GETFD) >= 0;
}

/* A memfd of @len bytes whose byte i is (uint8_t)(i * 7 + 3). */
static int pattern_memfd(size_t len)
{
	int fd = memfd_create("check-gmem", MFD_CLOEXEC);
	uint8_t *buf;
	size_t i;

	ck_assert_int_ge(fd, 0);
	buf = malloc(len);
	ck_assert_ptr_nonnull(buf);
	for (i = 0; i < len; i++)
		buf[i] = (uint8_t)(i * 7 + 3);
	ck_assert_int_eq(pwrite(fd, buf, len, 0), (ssize_t)len);
	free(buf);
	return fd;
}

static int fds_before;

static void setup(void)
{
	fds_before = count_fds();
	gmem_init(&g);
}

static void teardown(void)
{
	gmem_clear(&g);
	ck_assert_uint_eq(g.n, 0);
	ck_assert_int_eq(count_fds(), fds_before);
}

START_TEST(gpa_whole_range)
{
	uint8_t *a, *b;
	unsigned int ia, ib;

	ck_assert_int_eq(gmem_add_memfd(&g, 0x10000, 3 * PAGE, &ia), 0);
	ck_assert_int_eq(gmem_add_memfd(&g, 0x13000, PAGE, &ib), 0);
	a = g.r[ia].hva;
	b = g.r[ib].hva;

	ck_assert_ptr_eq(gmem_gpa(&g, 0x10000, 3 * PAGE), a);
	ck_assert_ptr_eq(gmem_gpa(&g, 0x10000 + 3 * PAGE - 1, 1),
			 a + 3 * PAGE - 1);
	ck_assert_ptr_eq(gmem_gpa(&g, 0x10010, 0x20), a + 0x10);
	/* One byte more than the region (into the adjacent one). */
	ck_assert_ptr_null(gmem_gpa(&g, 0x10000, 3 * PAGE + 1));
	ck_assert_ptr_null(gmem_gpa(&g, 0xffff, 1));
	ck_assert_ptr_null(gmem_gpa(&g, 0xffff, 2));
	/* Straddling two adjacent regions is not one range. */
	ck_assert_ptr_null(gmem_gpa(&g, 0x13000 - 8, 16));
	ck_assert_ptr_null(gmem_gpa(&g, 0x13000 - 1, 2));
	ck_assert_ptr_eq(gmem_gpa(&g, 0x13000, 16), b);
	ck_assert_ptr_eq(gmem_gpa(&g, 0x13000 + PAGE - 1, 1), b + PAGE - 1);
	/* One past the last region. */
	ck_assert_ptr_null(gmem_gpa(&g, 0x14000, 1));
	ck_assert_ptr_null(gmem_gpa(&g, 0x13000 + PAGE - 1, 2));
	/* len 0: the address must be inside. */
	ck_assert_ptr_eq(gmem_gpa(&g, 0x13fff, 0), b + PAGE - 1);
	ck_assert_ptr_null(gmem_gpa(&g, 0x14000, 0));
	ck_assert_ptr_null(gmem_gpa(&g, 0xffff, 0));
	/* Huge lengths do not wrap into success. */
	ck_assert_ptr_null(gmem_gpa(&g, 0x10000, UINT64_MAX));
	ck_assert_ptr_null(gmem_gpa(&g, 0x10001, UINT64_MAX - 0x10000));

	/* The bytes are the same memory. */
	a[5] = 0x5a;
	ck_assert_uint_eq(*(uint8_t *)gmem_gpa(&g, 0x10005, 1), 0x5a);
}
END_TEST

START_TEST(gpa_near_top)
{
	const uint64_t top = UINT64_MAX - 2 * PAGE + 1; /* 2^64 - 2 pages */
	unsigned int i;
	uint8_t *p;

	ck_assert_int_eq(gmem_add_memfd(&g, top, PAGE, &i), 0);
	p = g.r[i].hva;
	ck_assert_ptr_eq(gmem_gpa(&g, top + PAGE - 1, 1), p + PAGE - 1);
	ck_assert_ptr_null(gmem_gpa(&g, top + PAGE, 1));
	ck_assert_ptr_null(gmem_gpa(&g, top + PAGE - 8, 16));
	/* gpa + len wraps past 2^64. */
	ck_assert_ptr_null(gmem_gpa(&g, top + 16, UINT64_MAX - 8));
	ck_assert_ptr_null(gmem_gpa(&g, UINT64_MAX - 4, 16));
	ck_assert_ptr_null(gmem_gpa(&g, UINT64_MAX, 1));
	ck_assert_ptr_null(gmem_gpa(&g, UINT64_MAX, 0));

	/* Regions that would wrap are refused. */
	ck_assert_int_eq(gmem_add_memfd(&g, UINT64_MAX - PAGE + 2, PAGE, NULL),
			 -EINVAL);
	/*
	 * So is one that ends exactly at 2^64, though no byte of it wraps:
	 * gmem.c computes gpa + size. Recorded here so a change is noticed.
	 */
	ck_assert_int_eq(gmem_add_memfd(&g, UINT64_MAX - PAGE + 1, PAGE, NULL),
			 -EINVAL);
	ck_assert_uint_eq(g.n, 1);
}
END_TEST

START_TEST(uva_whole_range)
{
	const uint64_t u0 = 0x500000000ULL;
	const char *why = NULL;
	uint64_t gpa = 0;
	uint8_t *d, *e, *m;
	unsigned int im;
	int fd;

	/* Adjacent by user address, far apart by guest address. */
	fd = pattern_memfd(PAGE);
	ck_assert_int_eq(gmem_add_fd(&g, fd, 0x100000, PAGE, u0, 0,
				     PROT_READ | PROT_WRITE, &why),
			 0);
	fd = pattern_memfd(PAGE);
	ck_assert_int_eq(gmem_add_fd(&g, fd, 0x900000, PAGE, u0 + PAGE, 0,
				     PROT_READ | PROT_WRITE, &why),
			 0);
	d = g.r[0].hva;
	e = g.r[1].hva;
	ck_assert_ptr_eq(gmem_uva(&g, u0, PAGE), d);
	ck_assert_ptr_eq(gmem_uva(&g, u0 + PAGE - 1, 1), d + PAGE - 1);
	ck_assert_ptr_null(gmem_uva(&g, u0 + PAGE - 8, 16));
	ck_assert_ptr_eq(gmem_uva(&g, u0 + PAGE, 16), e);
	ck_assert_ptr_null(gmem_uva(&g, u0 + 2 * PAGE, 1));
	ck_assert_ptr_null(gmem_uva(&g, u0 + 2 * PAGE, 0));
	ck_assert_ptr_eq(gmem_uva(&g, u0 + 2 * PAGE - 1, 0), e + PAGE - 1);
	ck_assert_ptr_null(gmem_uva(&g, u0 - 1, 2));
	ck_assert_ptr_null(gmem_uva(&g, u0 + 1, UINT64_MAX));

	ck_assert_int_eq(gmem_uva_to_gpa(&g, u0 + 0x10, 4, &gpa), 0);
	ck_assert_uint_eq(gpa, 0x100010);
	ck_assert_int_eq(gmem_uva_to_gpa(&g, u0 + PAGE + 0x20, 0, &gpa), 0);
	ck_assert_uint_eq(gpa, 0x900020);
	ck_assert_int_eq(gmem_uva_to_gpa(&g, u0 + PAGE - 2, 4, &gpa), -EFAULT);
	ck_assert_int_eq(gmem_uva_to_gpa(&g, u0 + 2 * PAGE, 1, &gpa), -EFAULT);

	/* Near the top of the user address space. */
	fd = pattern_memfd(PAGE);
	ck_assert_int_eq(gmem_add_fd(&g, fd, 0x300000, PAGE,
				     UINT64_MAX - 2 * PAGE + 1, 0, PROT_READ,
				     &why),
			 0);
	ck_assert_ptr_eq(gmem_uva(&g, UINT64_MAX - PAGE, 1),
			 g.r[2].hva + PAGE - 1);
	ck_assert_ptr_null(gmem_uva(&g, UINT64_MAX - PAGE + 1, 1));
	ck_assert_ptr_null(gmem_uva(&g, UINT64_MAX - PAGE - 4, 16));
	ck_assert_ptr_null(gmem_uva(&g, UINT64_MAX - 4, 16));
	ck_assert_ptr_null(gmem_uva(&g, UINT64_MAX - 2 * PAGE + 2, UINT64_MAX));
	ck_assert_int_eq(gmem_uva_to_gpa(&g, UINT64_MAX - PAGE, 1, &gpa), 0);
	ck_assert_uint_eq(gpa, 0x300000 + PAGE - 1);

	/* A memfd region's user address is where it is mapped here. */
	ck_assert_int_eq(gmem_add_memfd(&g, 0x20000, PAGE, &im), 0);
	m = g.r[im].hva;
	ck_assert_uint_eq(g.r[im].uaddr, (uintptr_t)m);
	ck_assert_ptr_eq(gmem_uva(&g, (uintptr_t)m + 3, 5), m + 3);
	ck_assert_ptr_null(gmem_uva(&g, (uintptr_t)m + PAGE - 3, 5));
}
END_TEST

START_TEST(hva_whole_range)
{
	uint64_t gpa = 0;
	unsigned int i;
	uint8_t *p;

	ck_assert_int_eq(gmem_add_memfd(&g, 0x40000, 2 * PAGE, &i), 0);
	p = g.r[i].hva;
	ck_assert_int_eq(gmem_hva_to_gpa(&g, p + 5, 10, &gpa), 0);
	ck_assert_uint_eq(gpa, 0x40005);
	ck_assert_int_eq(gmem_hva_to_gpa(&g, p + 2 * PAGE - 1, 1, &gpa), 0);
	ck_assert_uint_eq(gpa, 0x40000 + 2 * PAGE - 1);
	ck_assert_int_eq(gmem_hva_to_gpa(&g, p, 2 * PAGE, &gpa), 0);
	ck_assert_uint_eq(gpa, 0x40000);
	ck_assert_int_eq(gmem_hva_to_gpa(&g, p + 2 * PAGE, 1, &gpa), -EFAULT);
	ck_assert_int_eq(gmem_hva_to_gpa(&g, p + 2 * PAGE, 0, &gpa), -EFAULT);
	ck_assert_int_eq(gmem_hva_to_gpa(&g, p + 2 * PAGE - 4, 8, &gpa),
			 -EFAULT);
	ck_assert_int_eq(gmem_hva_to_gpa(&g, p - 1, 2, &gpa), -EFAULT);
	ck_assert_int_eq(gmem_hva_to_gpa(&g, p + 1, UINT64_MAX, &gpa), -EFAULT);
	ck_assert_int_eq(gmem_hva_to_gpa(&g, &gpa, 1, &gpa), -EFAULT);
}
END_TEST

/*
 * Two regions mapped side by side here (built by hand: mmap() alone does
 * not promise adjacency): a range over the seam is in neither.
 */
START_TEST(hva_adjacent_regions)
{
	uint64_t gpa = 0;
	uint8_t *p;
	unsigned int i;

	p = mmap(NULL, 2 * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ck_assert(p != MAP_FAILED);
	for (i = 0; i < 2; i++) {
		int fd = pattern_memfd(PAGE);
		void *m = mmap(p + i * PAGE, PAGE, PROT_READ | PROT_WRITE,
			       MAP_SHARED | MAP_FIXED, fd, 0);

		ck_assert(m == p + i * PAGE);
		g.r[g.n++] = (struct gmem_region){
			.gpa = 0x100000 + i * 0x100000, /* not adjacent */
			.size = PAGE,
			.uaddr = 0x7000000 + i * PAGE, /* adjacent */
			.hva = m,
			.map_base = m,
			.map_len = PAGE,
			.fd = fd,
		};
	}
	ck_assert_int_eq(gmem_hva_to_gpa(&g, p + PAGE - 1, 1, &gpa), 0);
	ck_assert_uint_eq(gpa, 0x100000 + PAGE - 1);
	ck_assert_int_eq(gmem_hva_to_gpa(&g, p + PAGE, 1, &gpa), 0);
	ck_assert_uint_eq(gpa, 0x200000);
	ck_assert_int_eq(gmem_hva_to_gpa(&g, p + PAGE - 4, 8, &gpa), -EFAULT);
	ck_assert_int_eq(gmem_hva_to_gpa(&g, p, 2 * PAGE, &gpa), -EFAULT);
	ck_assert_ptr_null(gmem_uva(&g, 0x7000000 + PAGE - 4, 8));
	ck_assert_ptr_eq(gmem_uva(&g, 0x7000000 + PAGE, 8), p + PAGE);
	/* gmem_clear() (teardown) unmaps both halves and closes both fds. */
}
END_TEST

START_TEST(overlap_refused)
{
	static const struct {
		uint64_t gpa, size;
	} bad[] = {
		{ 0x10000, PAGE },		  /* same */
		{ 0x10000 - PAGE, 2 * PAGE },	  /* runs into the start */
		{ 0x10000 + 2 * PAGE, 2 * PAGE }, /* starts inside */
		{ 0x8000, 0x10000 },		  /* contains */
		{ 0x10000 + 1, 1 },		  /* contained */
		{ 0x10000 + 3 * PAGE - 1, 1 },	  /* last byte */
	};
	const char *why = NULL;
	unsigned int i;
	int n, fd;

	ck_assert_int_eq(gmem_add_memfd(&g, 0x10000, 3 * PAGE, NULL), 0);
	n = count_fds();
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		ck_assert_int_eq(
			gmem_add_memfd(&g, bad[i].gpa, bad[i].size, NULL),
			-EEXIST);
		ck_assert_int_eq(count_fds(), n);
	}
	/* Adjacent on both sides is fine. */
	ck_assert_int_eq(gmem_add_memfd(&g, 0x10000 - PAGE, PAGE, NULL), 0);
	ck_assert_int_eq(gmem_add_memfd(&g, 0x10000 + 3 * PAGE, PAGE, NULL), 0);
	ck_assert_uint_eq(g.n, 3);

	/* By user address too; the refused fd is closed. */
	fd = pattern_memfd(PAGE);
	ck_assert_int_eq(gmem_add_fd(&g, fd, 0x900000, PAGE,
				     g.r[0].uaddr + PAGE - 1, 0, PROT_READ,
				     &why),
			 -EEXIST);
	ck_assert_ptr_nonnull(why);
	ck_assert(!fd_open(fd));
	ck_assert_uint_eq(g.n, 3);
}
END_TEST

START_TEST(bad_ranges_refused)
{
	const char *why;
	int fd;

	ck_assert_int_eq(gmem_add_memfd(&g, 0, 0, NULL), -EINVAL);
	ck_assert_int_eq(gmem_add_memfd(&g, UINT64_MAX, 2, NULL), -EINVAL);

	fd = pattern_memfd(PAGE);
	why = NULL;
	ck_assert_int_eq(gmem_add_fd(&g, fd, 0, 0, 0x1000, 0, PROT_READ, &why),
			 -EINVAL);
	ck_assert_ptr_nonnull(why);
	ck_assert(!fd_open(fd));

	fd = pattern_memfd(PAGE);
	why = NULL;
	ck_assert_int_eq(gmem_add_fd(&g, fd, 0, PAGE, UINT64_MAX - 10, 0,
				     PROT_READ, &why),
			 -EINVAL);
	ck_assert_ptr_nonnull(why);
	ck_assert(!fd_open(fd));

	fd = pattern_memfd(PAGE);
	why = NULL;
	ck_assert_int_eq(gmem_add_fd(&g, fd, 0, PAGE, 0x1000, UINT64_MAX - 10,
				     PROT_READ, &why),
			 -EINVAL);
	ck_assert_ptr_nonnull(why);
	ck_assert(!fd_open(fd));

	/* An fd that is not open at all. */
	ck_assert_int_lt(
		gmem_add_fd(&g, -1, 0, PAGE, 0x1000, 0, PROT_READ, NULL), 0);
	ck_assert_uint_eq(g.n, 0);
}
END_TEST

static void check_offset(uint64_t off, uint64_t size)
{
	const char *why = NULL;
	uint8_t *p, byte = 0;
	uint64_t i;
	int fd = pattern_memfd(4 * PAGE);
	int dup_fd = dup(fd);

	ck_assert_int_ge(dup_fd, 0);
	ck_assert_int_eq(gmem_add_fd(&g, fd, 0x100000, size, 0x700000, off,
				     PROT_READ | PROT_WRITE, &why),
			 0);
	p = gmem_gpa(&g, 0x100000, size);
	ck_assert_ptr_nonnull(p);
	/* One check for the lot: check records every passing assertion. */
	for (i = 0; i < size; i++)
		if (p[i] != (uint8_t)((off + i) * 7 + 3))
			break;
	ck_assert_uint_eq(i, size);
	/* Writes land in the file at the offset (MAP_SHARED). */
	p[size - 1] = 0xee;
	ck_assert_int_eq(pread(dup_fd, &byte, 1, (off_t)(off + size - 1)), 1);
	ck_assert_uint_eq(byte, 0xee);
	close(dup_fd);
	gmem_clear(&g);
	ck_assert(!fd_open(fd));
}

START_TEST(add_fd_offsets)
{
	check_offset(0, 4 * PAGE);
	check_offset(PAGE, PAGE);
	check_offset(2 * PAGE, 2 * PAGE); /* up to the last byte */
	check_offset(100, 5000);	  /* not page aligned */
	check_offset(PAGE + 1, 3 * PAGE - 1);
	check_offset(4 * PAGE - 1, 1);
}
END_TEST

START_TEST(add_fd_short_file)
{
	const char *why;
	int fd;

	fd = pattern_memfd(2 * PAGE);
	why = NULL;
	ck_assert_int_eq(
		gmem_add_fd(&g, fd, 0, 2 * PAGE, 0x1000, PAGE, PROT_READ, &why),
		-EINVAL);
	ck_assert_ptr_nonnull(why);
	ck_assert(!fd_open(fd));

	fd = pattern_memfd(2 * PAGE);
	ck_assert_int_eq(gmem_add_fd(&g, fd, 0, 2 * PAGE + 1, 0x1000, 0,
				     PROT_READ, &why),
			 -EINVAL);
	ck_assert(!fd_open(fd));

	fd = pattern_memfd(2 * PAGE);
	ck_assert_int_eq(
		gmem_add_fd(&g, fd, 0, 1, 0x1000, 2 * PAGE, PROT_READ, &why),
		-EINVAL);
	ck_assert(!fd_open(fd));

	/* Exactly to the end is fine, and the fd is kept. */
	fd = pattern_memfd(2 * PAGE);
	ck_assert_int_eq(gmem_add_fd(&g, fd, 0, PAGE - 10, 0x1000, PAGE + 10,
				     PROT_READ, &why),
			 0);
	ck_assert(fd_open(fd));
	ck_assert_int_eq(g.r[0].fd, fd);
	ck_assert_uint_eq(((uint8_t *)gmem_gpa(&g, PAGE - 11, 1))[0],
			  (uint8_t)((2 * PAGE - 1) * 7 + 3));
}
END_TEST

START_TEST(add_fd_read_only)
{
	char path[] = "/tmp/check-gmem-XXXXXX";
	const char *why = NULL;
	int wfd, fd;

	wfd = mkstemp(path);
	ck_assert_int_ge(wfd, 0);
	ck_assert_int_eq(ftruncate(wfd, (off_t)PAGE), 0);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	unlink(path);
	close(wfd);

	ck_assert_int_eq(gmem_add_fd(&g, fd, 0, PAGE, 0x1000, 0,
				     PROT_READ | PROT_WRITE, &why),
			 -EACCES);
	ck_assert_ptr_nonnull(why);
	ck_assert(!fd_open(fd));
	ck_assert_uint_eq(g.n, 0);

	/* The same kind of fd maps read-only. */
	fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(
		gmem_add_fd(&g, fd, 0, PAGE, 0x1000, 0, PROT_READ, &why), 0);
	ck_assert_mem_eq(gmem_gpa(&g, 1, 3), "ELF", 3);
}
END_TEST

START_TEST(alloc_align_and_exhaustion)
{
	uint64_t a = 0, b = 0, c = 0, x = 0;

	ck_assert_int_eq(gmem_add_memfd(&g, 0x10000, PAGE, NULL), 0);
	ck_assert_int_eq(gmem_add_memfd(&g, 0x20000, 2 * PAGE, NULL), 0);

	ck_assert_int_eq(gmem_alloc(&g, 8, 0, &x), -EINVAL);
	ck_assert_int_eq(gmem_alloc(&g, 8, 3, &x), -EINVAL);
	ck_assert_int_eq(gmem_alloc(&g, 8, 48, &x), -EINVAL);

	ck_assert_int_eq(gmem_alloc(&g, 3, 1, &a), 0);
	ck_assert_uint_eq(a, 0x10000);
	ck_assert_int_eq(gmem_alloc(&g, 16, 16, &b), 0);
	ck_assert_uint_eq(b, 0x10010);
	ck_assert_int_eq(gmem_alloc(&g, 1, 2, &c), 0);
	ck_assert_uint_eq(c, 0x10020);
	ck_assert_int_eq(gmem_alloc(&g, 100, 1024, &x), 0);
	ck_assert_uint_eq(x, 0x10400);
	/* Rest of the first region: 0x10464 .. 0x11000. */
	ck_assert_int_eq(gmem_alloc(&g, 0x11000 - 0x10464, 1, &x), 0);
	ck_assert_uint_eq(x, 0x10464);
	/* First full: first fit moves on. */
	ck_assert_int_eq(gmem_alloc(&g, 1, 1, &x), 0);
	ck_assert_uint_eq(x, 0x20000);
	ck_assert_int_eq(gmem_alloc(&g, PAGE, PAGE, &x), 0);
	ck_assert_uint_eq(x, 0x21000);
	/* Bigger than what is left anywhere. */
	ck_assert_int_eq(gmem_alloc(&g, PAGE, 1, &x), -ENOMEM);
	ck_assert_int_eq(gmem_alloc(&g, UINT64_MAX, 1, &x), -ENOMEM);
	ck_assert_int_eq(gmem_alloc(&g, 1, 1ULL << 63, &x), -ENOMEM);
	/* A bump allocator: the gap before 0x21000 is not reused. */
	ck_assert_int_eq(gmem_alloc(&g, 1, 1, &x), -ENOMEM);
	/* Everything handed out lies in guest memory. */
	ck_assert_ptr_nonnull(gmem_gpa(&g, 0x21000, PAGE));
}
END_TEST

START_TEST(alloc_unaligned_region)
{
	uint64_t x = 0;

	/* The guest address is what gets aligned. */
	ck_assert_int_eq(gmem_add_memfd(&g, 0x10008, PAGE, NULL), 0);
	ck_assert_int_eq(gmem_alloc(&g, 16, 16, &x), 0);
	ck_assert_uint_eq(x, 0x10010);
	/*
	 * ... not the host address: the region is mapped page-aligned, so
	 * this one is 8 bytes off. Callers that access it atomically must
	 * check (split.c does).
	 */
	ck_assert_uint_eq((uintptr_t)gmem_gpa(&g, x, 16) % 16, 8);
	ck_assert_int_eq(gmem_alloc(&g, 16, 4096, &x), -ENOMEM);
}
END_TEST

START_TEST(remove_and_clear_close_fds)
{
	const char *why = NULL;
	int n0 = count_fds(), fd;
	unsigned int i;

	for (i = 0; i < 5; i++)
		ck_assert_int_eq(
			gmem_add_memfd(&g, 0x100000 * (i + 1), PAGE, NULL), 0);
	fd = pattern_memfd(PAGE);
	ck_assert_int_eq(gmem_add_fd(&g, fd, 0x900000, PAGE, 0x40000000, 0,
				     PROT_READ, &why),
			 0);
	ck_assert_int_eq(count_fds(), n0 + 6);
	ck_assert_int_eq(gmem_find(&g, 0x300000, 0), 2);
	ck_assert_int_eq(gmem_find(&g, 0x300000, PAGE), 2);
	ck_assert_int_eq(gmem_find(&g, 0x300000, 2 * PAGE), -ENOENT);
	ck_assert_int_eq(gmem_find(&g, 0x300001, 0), -ENOENT);

	gmem_remove(&g, 1);
	ck_assert_int_eq(count_fds(), n0 + 5);
	ck_assert_uint_eq(g.n, 5);
	ck_assert_uint_eq(g.r[1].gpa, 0x300000); /* later ones moved down */
	ck_assert_ptr_null(gmem_gpa(&g, 0x200000, 1));
	ck_assert_ptr_nonnull(gmem_gpa(&g, 0x300000, PAGE));
	gmem_remove(&g, 17); /* out of range: nothing */
	ck_assert_uint_eq(g.n, 5);
	gmem_remove(&g, 4); /* the one from gmem_add_fd() */
	ck_assert(!fd_open(fd));

	gmem_clear(&g);
	ck_assert_uint_eq(g.n, 0);
	ck_assert_int_eq(count_fds(), n0);
	ck_assert_ptr_null(gmem_gpa(&g, 0x100000, 1));
	/* Reusable after. */
	ck_assert_int_eq(gmem_add_memfd(&g, 0x100000, PAGE, NULL), 0);
	ck_assert_int_eq(count_fds(), n0 + 1);
}
END_TEST

START_TEST(slots_exhausted)
{
	const char *why = NULL;
	unsigned int i;
	int n0 = count_fds(), fd;

	for (i = 0; i < GMEM_MAX_REGIONS; i++)
		ck_assert_int_eq(gmem_add_memfd(&g, PAGE * i, PAGE, NULL), 0);
	ck_assert_int_eq(gmem_add_memfd(&g, PAGE * i, PAGE, NULL), -ENOSPC);
	fd = pattern_memfd(PAGE);
	ck_assert_int_eq(
		gmem_add_fd(&g, fd, PAGE * i, PAGE, 0x1000, 0, PROT_READ, &why),
		-ENOSPC);
	ck_assert(!fd_open(fd));
	ck_assert_int_eq(count_fds(), n0 + GMEM_MAX_REGIONS);
	ck_assert_ptr_nonnull(gmem_gpa(&g, PAGE * (i - 1), PAGE));
	gmem_clear(&g);
	ck_assert_int_eq(count_fds(), n0);
}
END_TEST

static Suite *gmem_suite(void)
{
	Suite *s = suite_create("gmem");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, gpa_whole_range);
	tcase_add_test(tc, gpa_near_top);
	tcase_add_test(tc, uva_whole_range);
	tcase_add_test(tc, hva_whole_range);
	tcase_add_test(tc, hva_adjacent_regions);
	tcase_add_test(tc, overlap_refused);
	tcase_add_test(tc, bad_ranges_refused);
	tcase_add_test(tc, add_fd_offsets);
	tcase_add_test(tc, add_fd_short_file);
	tcase_add_test(tc, add_fd_read_only);
	tcase_add_test(tc, alloc_align_and_exhaustion);
	tcase_add_test(tc, alloc_unaligned_region);
	tcase_add_test(tc, remove_and_clear_close_fds);
	tcase_add_test(tc, slots_exhausted);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(gmem_suite());
}
