// SPDX-License-Identifier: MIT
/*
 * gen_ring_device_seeds.c - write the seed corpus of the ring_device fuzz
 * target: rings laid out by the driver side of the engine in the target's
 * guest memory layout, both layouts, with ordinary chains (direct,
 * indirect, mixed lengths, past a lap) and every hostile construct.
 *
 * Usage: gen_ring_device_seeds DIR	(writes DIR/<name>, replacing)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ring/gmem.h"
#include "ring/packed.h"
#include "ring/split.h"
#include "ring_device.h"

static const char *outdir;
static unsigned int written;

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

/* Header + region 0, trailing zero bytes trimmed (the target re-zeroes). */
static void emit(const char *name, const struct gmem *m, uint8_t flags,
		 uint8_t policy, unsigned int num, uint64_t desc, uint64_t drv,
		 uint64_t dev, uint32_t base)
{
	static uint8_t buf[RD_HDR_SIZE + RD_REGION0_SIZE];
	size_t len = RD_REGION0_SIZE;
	char path[512];
	FILE *f;

	memset(buf, 0, RD_HDR_SIZE);
	buf[0] = flags;
	buf[1] = policy;
	put16(buf + 2, (uint16_t)num);
	put16(buf + 4, (uint16_t)(desc - RD_REGION0_GPA));
	put16(buf + 6, (uint16_t)(drv - RD_REGION0_GPA));
	put16(buf + 8, (uint16_t)(dev - RD_REGION0_GPA));
	put16(buf + 10, (uint16_t)base);
	put16(buf + 12, (uint16_t)(base >> 16));
	memcpy(buf + RD_HDR_SIZE, m->r[0].hva, RD_REGION0_SIZE);
	while (len && !buf[RD_HDR_SIZE + len - 1])
		len--;
	snprintf(path, sizeof(path), "%s/%s", outdir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(buf, 1, RD_HDR_SIZE + len, f) != RD_HDR_SIZE + len ||
	    fclose(f)) {
		fprintf(stderr, "gen: %s: %s\n", path, strerror(errno));
		exit(1);
	}
	written++;
}

static void fresh(struct gmem *m)
{
	gmem_clear(m);
	if (gmem_add_memfd(m, RD_REGION0_GPA, RD_REGION0_SIZE, NULL) < 0 ||
	    gmem_add_memfd(m, RD_REGION1_GPA, RD_REGION1_SIZE, NULL) < 0) {
		fprintf(stderr, "gen: guest memory\n");
		exit(1);
	}
}

/* Buffers in region 0, after the rings: @n of them, the last @w writable. */
static void bufs_for(struct gmem *m, struct vq_buf *b, unsigned int n,
		     unsigned int w)
{
	unsigned int i;
	uint64_t gpa;

	for (i = 0; i < n; i++) {
		if (gmem_alloc(m, 64 + 16 * i, 8, &gpa) < 0)
			exit(1);
		b[i] = (struct vq_buf){ .gpa = gpa,
					.len = 64 + 16 * i,
					.writable = i >= n - w };
	}
}

static void split_seeds(struct gmem *m)
{
	const uint64_t feat =
		1ull << VIRTIO_F_INDIRECT_DESC | 1ull << VIRTIO_F_EVENT_IDX;
	static const unsigned int sizes[] = { 1, 4, 64 };
	struct vq_split_drv d;
	struct vq_buf b[4];
	char name[64];
	unsigned int s, h, v, i;
	uint8_t fl = RD_F_EVENT_IDX | RD_F_INDIRECT;

	for (s = 0; s < 3; s++) {
		unsigned int num = sizes[s];

		fresh(m);
		if (vq_split_drv_init(&d, m, num, feat, 4) < 0)
			exit(1);
		for (i = 0; i < num && i < 6; i++) {
			unsigned int n = 1 + i % 4;

			bufs_for(m, b, n, i % 2 ? 1 : 0);
			if (vq_split_drv_add(&d, b, n, i % 3 == 2 && n > 1, i) <
			    0)
				break;
		}
		vq_split_drv_publish(&d);
		snprintf(name, sizeof(name), "split-%u-chains", num);
		emit(name, m, fl, RD_P_WRITE, num, d.desc_gpa, d.avail_gpa,
		     d.used_gpa, 0);
		vq_split_drv_fini(&d);
	}
	for (h = 0; h < VQ_HOSTILE_MAX; h++) {
		for (v = 0; v < 2; v++) {
			fresh(m);
			if (vq_split_drv_init(&d, m, 8, feat, 9) < 0)
				exit(1);
			if (vq_split_drv_hostile(&d, h, v) < 0) {
				vq_split_drv_fini(&d);
				continue;
			}
			snprintf(name, sizeof(name), "split-hostile-%u-%u", h,
				 v);
			emit(name, m, fl, 0, 8, d.desc_gpa, d.avail_gpa,
			     d.used_gpa, 0);
			vq_split_drv_fini(&d);
		}
	}
}

static void packed_seeds(struct gmem *m)
{
	const uint64_t feat = 1ull << VIRTIO_F_INDIRECT_DESC |
			      1ull << VIRTIO_F_EVENT_IDX |
			      1ull << VIRTIO_F_RING_PACKED;
	static const unsigned int sizes[] = { 1, 5, 64 };
	uint8_t fl = RD_F_PACKED | RD_F_EVENT_IDX | RD_F_INDIRECT;
	struct vq_packed_drv d;
	struct vq_buf b[4];
	char name[64];
	unsigned int s, h, v, i;

	for (s = 0; s < 3; s++) {
		unsigned int num = sizes[s];

		fresh(m);
		if (vq_packed_drv_init(&d, m, num, feat, 4) < 0)
			exit(1);
		for (i = 0; i < num && i < 6; i++) {
			unsigned int n = 1 + i % 4;

			bufs_for(m, b, n, i % 2 ? 1 : 0);
			if (vq_packed_drv_add(&d, b, n, i % 3 == 2 && n > 1,
					      i) < 0)
				break;
		}
		vq_packed_drv_publish(&d);
		snprintf(name, sizeof(name), "packed-%u-chains", num);
		emit(name, m, fl, RD_P_WRITE, num, d.desc_gpa, d.driver_gpa,
		     d.device_gpa, 1u << 15 | 1u << 31);
		vq_packed_drv_fini(&d);
	}
	for (h = 0; h < VQ_HOSTILE_MAX; h++) {
		for (v = 0; v < 2; v++) {
			fresh(m);
			if (vq_packed_drv_init(&d, m, 8, feat, 9) < 0)
				exit(1);
			if (vq_packed_drv_hostile(&d, h, v) < 0) {
				vq_packed_drv_fini(&d);
				continue;
			}
			snprintf(name, sizeof(name), "packed-hostile-%u-%u", h,
				 v);
			emit(name, m, fl, 0, 8, d.desc_gpa, d.driver_gpa,
			     d.device_gpa, 1u << 15 | 1u << 31);
			vq_packed_drv_fini(&d);
		}
	}
}

int main(int argc, char **argv)
{
	struct gmem m;

	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}
	outdir = argv[1];
	gmem_init(&m);
	split_seeds(&m);
	packed_seeds(&m);
	gmem_clear(&m);
	printf("gen_ring_device_seeds: %u seeds in %s\n", written, outdir);
	return 0;
}
