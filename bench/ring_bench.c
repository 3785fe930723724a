// SPDX-License-Identifier: MIT
/*
 * ring_bench.c - virtqueue round trips per second, in one process.
 *
 * A round trip: the driver side adds a chain and publishes it (and asks
 * whether to kick), the device side pops it and pushes it used (and asks
 * whether to notify), the driver side reaps it. Split and packed rings,
 * queue size 256, chains of 1 and 4 descriptors, direct and indirect.
 * One queue in flight at a time is the worst case for batching: every
 * round trip crosses every barrier.
 *
 * Usage: bench_ring [SECONDS_PER_ROW]   (default 1.0)
 * Prints one line per configuration with round trips per second.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ring/gmem.h"
#include "ring/packed.h"
#include "ring/split.h"

#define QSIZE 256
#define BATCH 4096 /* round trips between clock reads */

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, int err)
{
	fprintf(stderr, "bench_ring: %s: %s\n", what, strerror(-err));
	exit(1);
}

struct setup {
	struct gmem mem;
	struct vq_buf bufs[4];
	struct vq_buf out[8];
	struct vq_chain chain;
};

static void setup_init(struct setup *s)
{
	uint64_t gpa;
	int i, ret;

	gmem_init(&s->mem);
	ret = gmem_add_memfd(&s->mem, 0x100000, 16 << 20, NULL);
	if (ret < 0)
		die("guest memory", ret);
	/* Three readable buffers then one writable, as a request would. */
	for (i = 0; i < 4; i++) {
		ret = gmem_alloc(&s->mem, 2048, 64, &gpa);
		if (ret < 0)
			die("buffers", ret);
		s->bufs[i] = (struct vq_buf){ .gpa = gpa,
					      .len = 2048,
					      .writable = i == 3 };
	}
	s->chain = (struct vq_chain){ .cap = 8, .bufs = s->out };
}

static double run_split(struct setup *s, unsigned int n, bool indirect,
			double secs)
{
	const uint64_t features =
		1ull << VIRTIO_F_EVENT_IDX | 1ull << VIRTIO_F_INDIRECT_DESC;
	const struct vq_buf *bufs = n == 1 ? &s->bufs[3] : s->bufs;
	struct vq_split_drv d;
	struct vq_split_dev q;
	uint64_t token, count = 0;
	double start, end;
	uint32_t len;
	int i, ret;

	ret = vq_split_drv_init(&d, &s->mem, QSIZE, features, 4);
	if (ret < 0)
		die("split driver", ret);
	ret = vq_split_dev_init_addr(&q, &s->mem, QSIZE, features, d.desc_gpa,
				     d.avail_gpa, d.used_gpa, false);
	if (ret < 0)
		die("split device", ret);
	start = now();
	do {
		for (i = 0; i < BATCH; i++) {
			if (vq_split_drv_add(&d, bufs, n, indirect, count) < 0)
				die("add", -EIO);
			vq_split_drv_publish(&d);
			(void)vq_split_drv_kick_needed(&d);
			if (vq_split_dev_pop(&q, &s->chain, NULL) != 1)
				die("pop", -EIO);
			vq_split_dev_push(&q, s->chain.id, 64);
			(void)vq_split_dev_should_notify(&q);
			if (vq_split_drv_reap(&d, &token, &len, NULL) != 1 ||
			    token != count)
				die("reap", -EIO);
			count++;
		}
		end = now();
	} while (end - start < secs);
	vq_split_drv_fini(&d);
	return (double)count / (end - start);
}

static double run_packed(struct setup *s, unsigned int n, bool indirect,
			 double secs)
{
	const uint64_t features = 1ull << VIRTIO_F_EVENT_IDX |
				  1ull << VIRTIO_F_INDIRECT_DESC |
				  1ull << VIRTIO_F_RING_PACKED;
	const struct vq_buf *bufs = n == 1 ? &s->bufs[3] : s->bufs;
	struct vq_packed_drv d;
	struct vq_packed_dev q;
	uint64_t token, count = 0;
	double start, end;
	uint32_t len;
	int i, ret;

	ret = vq_packed_drv_init(&d, &s->mem, QSIZE, features, 4);
	if (ret < 0)
		die("packed driver", ret);
	ret = vq_packed_dev_init_addr(&q, &s->mem, QSIZE, features, d.desc_gpa,
				      d.driver_gpa, d.device_gpa, false);
	if (ret < 0)
		die("packed device", ret);
	start = now();
	do {
		for (i = 0; i < BATCH; i++) {
			if (vq_packed_drv_add(&d, bufs, n, indirect, count) < 0)
				die("add", -EIO);
			vq_packed_drv_publish(&d);
			(void)vq_packed_drv_kick_needed(&d);
			if (vq_packed_dev_pop(&q, &s->chain, NULL) != 1)
				die("pop", -EIO);
			vq_packed_dev_push(&q, s->chain.id, s->chain.ndesc, 64);
			(void)vq_packed_dev_should_notify(&q);
			if (vq_packed_drv_reap(&d, &token, &len, NULL) != 1 ||
			    token != count)
				die("reap", -EIO);
			count++;
		}
		end = now();
	} while (end - start < secs);
	vq_packed_drv_fini(&d);
	return (double)count / (end - start);
}

int main(int argc, char **argv)
{
	static const struct {
		unsigned int n;
		bool indirect;
	} rows[] = { { 1, false }, { 4, false }, { 4, true } };
	double secs = argc > 1 ? atof(argv[1]) : 1.0;
	struct setup s;
	unsigned int i;

	if (secs <= 0) {
		fprintf(stderr, "usage: %s [SECONDS_PER_ROW]\n", argv[0]);
		return 2;
	}
	setup_init(&s);
	printf("ring round trips (add, publish, pop, push, reap), "
	       "queue size %d, one process, one core\n",
	       QSIZE);
	printf("%-8s %-6s %-9s %14s\n", "layout", "chain", "kind",
	       "round trips/s");
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const char *kind = rows[i].indirect ? "indirect" : "direct";

		printf("%-8s %-6u %-9s %14.0f\n", "split", rows[i].n, kind,
		       run_split(&s, rows[i].n, rows[i].indirect, secs));
		printf("%-8s %-6u %-9s %14.0f\n", "packed", rows[i].n, kind,
		       run_packed(&s, rows[i].n, rows[i].indirect, secs));
	}
	gmem_clear(&s.mem);
	return 0;
}
