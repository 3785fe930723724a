// SPDX-License-Identifier: MIT
/*
 * ring_device.c - fuzz the device side of both ring layouts over guest
 * memory the fuzzer writes (input format in ring_device.h).
 *
 * Oracles:
 * - nothing crashes and nothing reads or writes outside guest memory:
 *   both regions sit between PROT_NONE guard pages where the address space
 *   allows, so a stray access faults;
 * - pop answers 1, 0 or one of the documented errors, and a second pop
 *   after an error gives the same error (nothing was consumed);
 * - every buffer of a popped chain lies inside one region, where
 *   gmem_gpa() says it does, and the readable / writable totals add up;
 * - the walk ends: at most queue size + 1 pops per input.
 */
#include <assert.h>
#include <endian.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ring/gmem.h"
#include "ring/packed.h"
#include "ring/split.h"
#include "ring_device.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHAIN_CAP 64

static struct gmem mem;

/* A PROT_NONE page on each side of [p, p + len), where nothing is mapped. */
static void guard(void *p, size_t len)
{
	size_t ps = (size_t)sysconf(_SC_PAGESIZE);

	mmap((uint8_t *)p - ps, ps, PROT_NONE,
	     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	mmap((uint8_t *)p + len, ps, PROT_NONE,
	     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
}

static void setup(void)
{
	unsigned int i;

	gmem_init(&mem);
	if (gmem_add_memfd(&mem, RD_REGION0_GPA, RD_REGION0_SIZE, NULL) < 0 ||
	    gmem_add_memfd(&mem, RD_REGION1_GPA, RD_REGION1_SIZE, NULL) < 0)
		abort();
	for (i = 0; i < mem.n; i++)
		guard(mem.r[i].hva, mem.r[i].size);
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)get16(p) | (uint32_t)get16(p + 2) << 16;
}

static int documented(int ret)
{
	return ret == -ENOSPC || ret == -EINVAL || ret == -ELOOP ||
	       ret == -EFAULT || ret == -EPROTO;
}

/* Every buffer inside guest memory, as the device claims, totals right. */
static void check_chain(const struct vq_chain *c)
{
	uint64_t readable = 0, writable = 0;
	unsigned int i;

	assert(c->n >= 1 && c->n <= c->cap);
	for (i = 0; i < c->n; i++) {
		const struct vq_buf *b = &c->bufs[i];

		assert(b->len > 0);
		assert(gmem_gpa(&mem, b->gpa, b->len) == b->hva);
		if (b->writable)
			writable += b->len;
		else
			readable += b->len;
	}
	assert(readable == c->readable_len && writable == c->writable_len);
}

static void fill(const struct vq_chain *c)
{
	unsigned int i;

	for (i = 0; i < c->n; i++)
		if (c->bufs[i].writable)
			memset(c->bufs[i].hva, 0xa5, c->bufs[i].len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vq_buf bufs[CHAIN_CAP];
	struct vq_chain c = { .cap = CHAIN_CAP, .bufs = bufs };
	struct vq_split_dev sq;
	struct vq_packed_dev pq;
	uint64_t features = 0, desc, drv, dev;
	unsigned int num, i;
	uint8_t flags, policy;
	size_t image;
	bool packed;
	int ret;

	if (!mem.n)
		setup();
	if (size < RD_HDR_SIZE)
		return 0;
	flags = data[0];
	policy = data[1];
	packed = flags & RD_F_PACKED;
	num = get16(data + 2);
	desc = RD_REGION0_GPA + get16(data + 4);
	drv = RD_REGION0_GPA + get16(data + 6);
	dev = RD_REGION0_GPA + get16(data + 8);
	if (flags & RD_F_EVENT_IDX)
		features |= 1ull << VIRTIO_F_EVENT_IDX;
	if (flags & RD_F_INDIRECT)
		features |= 1ull << VIRTIO_F_INDIRECT_DESC;

	image = size - RD_HDR_SIZE;
	if (image > RD_REGION0_SIZE)
		image = RD_REGION0_SIZE;
	memcpy(mem.r[0].hva, data + RD_HDR_SIZE, image);
	memset(mem.r[0].hva + image, 0, RD_REGION0_SIZE - image);
	memset(mem.r[1].hva, 0, RD_REGION1_SIZE);

	if (packed)
		ret = vq_packed_dev_init_addr(&pq, &mem, num, features, desc,
					      drv, dev, false);
	else
		ret = vq_split_dev_init_addr(&sq, &mem, num, features, desc,
					     drv, dev, false);
	if (ret < 0)
		return 0; /* refused at setup: a bad size or address */
	if (packed)
		ret = vq_packed_dev_set_base(&pq, get32(data + 10));
	else
		ret = vq_split_dev_set_base(&sq, get32(data + 10));
	if (ret < 0)
		return 0;

	for (i = 0; i <= num; i++) {
		c.n = 0;
		ret = packed ? vq_packed_dev_pop(&pq, &c, NULL)
			     : vq_split_dev_pop(&sq, &c, NULL);
		if (ret == 0)
			break;
		if (ret < 0) {
			int again;

			assert(documented(ret));
			again = packed ? vq_packed_dev_pop(&pq, &c, NULL)
				       : vq_split_dev_pop(&sq, &c, NULL);
			assert(again == ret);
			break;
		}
		assert(ret == 1);
		check_chain(&c);
		if (policy & RD_P_NO_PUSH)
			continue;
		if (policy & RD_P_WRITE)
			fill(&c);
		if (packed) {
			ret = vq_packed_dev_push(&pq, c.id, c.ndesc,
						 (uint32_t)c.writable_len);
			(void)vq_packed_dev_should_notify(&pq);
		} else {
			ret = vq_split_dev_push(&sq, c.id,
						(uint32_t)c.writable_len);
			(void)vq_split_dev_should_notify(&sq);
		}
		assert(ret == 0);
	}
	return 0;
}
