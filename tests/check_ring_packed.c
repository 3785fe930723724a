// SPDX-License-Identifier: MIT
/*
 * check_ring_packed.c - the packed virtqueue: driver side against device
 * side in one process (specs/virtio/packed-ring.tex, vhost-user.rst "Vring
 * descriptor indices for packed virtqueues").
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "check_util.h"
#include "common/util.h"
#include "ring/packed.h"

#define RING_GPA 0x100000ULL /* not 0: a gpa used as an offset shows */
#define DATA_GPA 0x40000000ULL
#define DATA_LEN (1u << 20)
#define SLOT 64 /* bytes per test buffer */
#define MAXB 8	/* buffers per test chain */
#define MAXQ 8	/* chains per batch */

#define F_IND (1ULL << VIRTIO_F_INDIRECT_DESC)
#define F_EVT (1ULL << VIRTIO_F_EVENT_IDX)

/*
 * check records every passing ck_assert with a write(): the helpers run in
 * loops of thousands of chains, so they only call into check on failure.
 */
#define EXPECT(c)                                                 \
	do {                                                      \
		if (!(c))                                         \
			ck_abort_msg("assertion failed: %s", #c); \
	} while (0)
#define EXPECT_EQ(a, b)                                                    \
	do {                                                               \
		long long a_ = (long long)(a), b_ = (long long)(b);        \
		if (a_ != b_)                                              \
			ck_abort_msg("%s == %lld, %s == %lld", #a, a_, #b, \
				     b_);                                  \
	} while (0)

static int fds_before;

static void fd_setup(void)
{
	fds_before = count_fds();
}

static void fd_teardown(void)
{
	ck_assert_int_eq(count_fds(), fds_before);
}

struct rig {
	struct gmem mem;
	struct vq_packed_drv drv;
	struct vq_packed_dev dev;
	unsigned int size;
	uint64_t features;
	uint64_t data_gpa;
	uint8_t *data;
	uint64_t serial; /* tokens and buffer placement */
};

static struct rig *rig_new(unsigned int size, uint64_t features,
			   unsigned int ind_max)
{
	struct rig *r = calloc(1, sizeof(*r));
	uint64_t ring_len;

	ck_assert_ptr_nonnull(r);
	ring_len = 16ULL * size + 64 + 16ULL * size * ind_max + 8192 +
		   32ULL * (size + 1);
	gmem_init(&r->mem);
	ck_assert_int_eq(gmem_add_memfd(&r->mem, RING_GPA, ring_len, NULL), 0);
	ck_assert_int_eq(gmem_add_memfd(&r->mem, DATA_GPA, 2 * DATA_LEN, NULL),
			 0);
	ck_assert_int_eq(
		vq_packed_drv_init(&r->drv, &r->mem, size, features, ind_max),
		0);
	/* The queue sits in region 0, where hostile constructs expect it. */
	ck_assert(r->drv.desc_gpa >= RING_GPA &&
		  r->drv.desc_gpa < RING_GPA + ring_len);
	ck_assert_int_eq(gmem_alloc(&r->mem, DATA_LEN, 64, &r->data_gpa), 0);
	r->data = gmem_gpa(&r->mem, r->data_gpa, DATA_LEN);
	ck_assert_ptr_nonnull(r->data);
	ck_assert_int_eq(vq_packed_dev_init_addr(&r->dev, &r->mem, size,
						 features, r->drv.desc_gpa,
						 r->drv.driver_gpa,
						 r->drv.device_gpa, false),
			 0);
	r->size = size;
	r->features = features;
	r->serial = 1;
	return r;
}

static void rig_free(struct rig *r)
{
	vq_packed_drv_fini(&r->drv);
	gmem_clear(&r->mem);
	free(r);
}

static uint8_t pattern(uint64_t token, unsigned int buf, unsigned int i,
		       bool by_device)
{
	return (uint8_t)(token * 7 + buf * 13 + i + (by_device ? 101 : 0));
}

/* What the test expects back for one chain. */
struct want {
	uint64_t token;
	int id;
	unsigned int n;
	bool indirect;
	struct vq_buf bufs[MAXB];
	uint64_t wbytes;
	struct vq_chain c;
	struct vq_buf got[MAXB];
};

/* A chain of @n buffers, the first @nr readable, filled with a pattern. */
static void make_chain(struct rig *r, struct want *w, unsigned int n,
		       unsigned int nr, bool indirect)
{
	unsigned int i, j;

	memset(w, 0, sizeof(*w));
	w->token = r->serial++;
	w->n = n;
	w->indirect = indirect;
	for (i = 0; i < n; i++) {
		uint64_t slot = (w->token * MAXB + i) % (DATA_LEN / SLOT);
		struct vq_buf *b = &w->bufs[i];

		b->gpa = r->data_gpa + slot * SLOT;
		b->len = 1 + (uint32_t)((w->token + i) % SLOT);
		b->writable = i >= nr;
		if (b->writable)
			w->wbytes += b->len;
		else
			for (j = 0; j < b->len; j++)
				r->data[slot * SLOT + j] =
					pattern(w->token, i, j, false);
	}
}

static int add_want(struct rig *r, struct want *w)
{
	w->id = vq_packed_drv_add(&r->drv, w->bufs, w->n, w->indirect,
				  w->token);
	return w->id;
}

/* Pop one chain and check it is exactly @w. */
static void pop_check(struct rig *r, struct want *w)
{
	const char *why = NULL;
	unsigned int i, j;

	w->c = (struct vq_chain){ .cap = MAXB, .bufs = w->got };
	EXPECT_EQ(vq_packed_dev_pop(&r->dev, &w->c, &why), 1);
	EXPECT_EQ(w->c.id, w->id);
	EXPECT_EQ(w->c.ndesc, w->indirect ? 1 : w->n);
	EXPECT_EQ(w->c.n, w->n);
	EXPECT_EQ(w->c.writable_len, w->wbytes);
	for (i = 0; i < w->n; i++) {
		const struct vq_buf *b = &w->got[i];

		EXPECT_EQ(b->gpa, w->bufs[i].gpa);
		EXPECT_EQ(b->len, w->bufs[i].len);
		EXPECT_EQ(b->writable, w->bufs[i].writable);
		EXPECT(b->hva == gmem_gpa(&r->mem, b->gpa, b->len));
		for (j = 0; j < b->len && !b->writable; j++)
			EXPECT_EQ(((uint8_t *)b->hva)[j],
				  pattern(w->token, i, j, false));
	}
}

/* The device fills the writable buffers and pushes; returns the length. */
static uint32_t push_want(struct rig *r, struct want *w)
{
	uint32_t len = 0;
	unsigned int i, j;

	for (i = 0; i < w->n; i++) {
		const struct vq_buf *b = &w->got[i];

		if (!b->writable)
			continue;
		for (j = 0; j < b->len; j++)
			((uint8_t *)b->hva)[j] = pattern(w->token, i, j, true);
		len += b->len;
	}
	EXPECT_EQ(vq_packed_dev_push(&r->dev, w->c.id, w->c.ndesc, len), 0);
	return len;
}

static void reap_check(struct rig *r, const struct want *w)
{
	const char *why = NULL;
	uint64_t token = 0;
	uint32_t len = 0;
	unsigned int i, j;

	EXPECT_EQ(vq_packed_drv_reap(&r->drv, &token, &len, &why), 1);
	EXPECT_EQ(token, w->token);
	EXPECT_EQ(len, w->wbytes);
	for (i = 0; i < w->n; i++) {
		const struct vq_buf *b = &w->bufs[i];
		const uint8_t *p = gmem_gpa(&r->mem, b->gpa, b->len);

		for (j = 0; j < b->len && b->writable; j++)
			EXPECT_EQ(p[j], pattern(w->token, i, j, true));
	}
}

static void assert_in_step(const struct rig *r)
{
	EXPECT_EQ(r->drv.next_avail, r->dev.avail_pos);
	EXPECT_EQ(r->drv.avail_wrap, r->dev.avail_wrap);
	EXPECT_EQ(r->drv.next_used, r->dev.used_pos);
	EXPECT_EQ(r->drv.used_wrap, r->dev.used_wrap);
	EXPECT_EQ(r->drv.free_slots, r->size);
}

struct lap_stats {
	unsigned int flips;	/* device avail wrap counter changes */
	unsigned int straddles; /* chains across the ring end */
	unsigned int indirect;
	unsigned int chains;
};

/*
 * Batches of 1-4 chains of mixed lengths (some indirect), published
 * together, popped, pushed in order or not, reaped; until the device's
 * wrap counter has flipped @laps times.
 */
static void run_laps(struct rig *r, unsigned int laps, bool ooo,
		     struct lap_stats *st)
{
	static const unsigned int lens[] = { 1, 3, 2, 4, 1, 5, 2, 1, 3 };
	bool last_wrap = r->dev.avail_wrap;
	uint64_t token;
	uint32_t len;

	memset(st, 0, sizeof(*st));
	while (st->flips < laps) {
		struct want w[MAXQ];
		unsigned int order[MAXQ];
		unsigned int k = 0, nb = 1 + r->serial % 4, i;

		for (i = 0; i < nb; i++) {
			unsigned int n = lens[r->serial % ARRAY_SIZE(lens)];
			bool ind = (r->features & F_IND) && r->serial % 3 == 0;

			n = VUC_MIN(n, r->size);
			if (ind && n > r->drv.ind_max)
				ind = false;
			if ((ind ? 1 : n) > r->drv.free_slots)
				break;
			make_chain(r, &w[k], n,
				   (n + (unsigned int)r->serial % 2) / 2, ind);
			EXPECT(add_want(r, &w[k]) >= 0);
			k++;
		}
		EXPECT(k >= 1);
		EXPECT_EQ(vq_packed_drv_publish(&r->drv), k);
		EXPECT(vq_packed_drv_kick_needed(&r->drv));
		for (i = 0; i < k; i++) {
			unsigned int before = r->dev.avail_pos;

			pop_check(r, &w[i]);
			if (before + w[i].c.ndesc > r->size)
				st->straddles++;
			if (r->dev.avail_wrap != last_wrap) {
				st->flips++;
				last_wrap = r->dev.avail_wrap;
			}
			st->indirect += w[i].indirect;
			st->chains++;
		}
		EXPECT_EQ(vq_packed_dev_pop(&r->dev, &w[0].c, NULL), 0);
		/* Completion order: as popped, reversed, or rotated. */
		for (i = 0; i < k; i++)
			order[i] = !ooo		   ? i
				   : r->serial % 2 ? k - 1 - i
						   : (i + 1) % k;
		for (i = 0; i < k; i++)
			push_want(r, &w[order[i]]);
		EXPECT(vq_packed_dev_should_notify(&r->dev));
		for (i = 0; i < k; i++)
			reap_check(r, &w[order[i]]);
		EXPECT_EQ(vq_packed_drv_reap(&r->drv, &token, &len, NULL), 0);
		assert_in_step(r);
	}
}

static void round_trip(unsigned int size, bool ooo)
{
	struct rig *r = rig_new(size, F_IND | F_EVT, 4);
	struct lap_stats st;

	run_laps(r, 3, ooo, &st);
	ck_assert_uint_ge(st.flips, 3);
	ck_assert_uint_ge(st.chains, 3);
	if (size > 1)
		ck_assert_uint_ge(st.straddles, 1);
	ck_assert_uint_ge(st.indirect, 1);
	rig_free(r);
}

static const unsigned int sizes[] = { 1, 3, 256, 257, 32768 };

START_TEST(test_round_trip)
{
	round_trip(sizes[_i], false);
}
END_TEST

START_TEST(test_out_of_order)
{
	round_trip(sizes[_i], true);
}
END_TEST

START_TEST(test_sizes)
{
	uint64_t d = 1, dr = 1, dv = 1;
	struct vq_packed_dev dev;
	struct vq_packed_drv drv;
	struct gmem *mem = calloc(1, sizeof(*mem));
	struct pvirtq_desc desc[4] __attribute__((aligned(16)));
	struct pvirtq_event_suppress ev[2];

	ck_assert_ptr_nonnull(mem);
	gmem_init(mem);
	ck_assert(!vq_packed_size_ok(0));
	ck_assert(vq_packed_size_ok(1));
	ck_assert(vq_packed_size_ok(257));
	ck_assert(vq_packed_size_ok(32768));
	ck_assert(!vq_packed_size_ok(32769));
	ck_assert_int_eq(vq_packed_part_sizes(0, 0, &d, &dr, &dv), -EINVAL);
	ck_assert_int_eq(vq_packed_part_sizes(32769, 0, &d, &dr, &dv), -EINVAL);
	ck_assert_uint_eq(d, 1); /* untouched on error */
	ck_assert_int_eq(vq_packed_part_sizes(257, 0, &d, &dr, &dv), 0);
	ck_assert_uint_eq(d, 257 * 16);
	ck_assert_uint_eq(dr, 4);
	ck_assert_uint_eq(dv, 4);
	ck_assert_int_eq(vq_packed_part_sizes(32768, 0, &d, NULL, NULL), 0);
	ck_assert_uint_eq(d, 32768 * 16);

	ck_assert_int_eq(vq_packed_drv_init(&drv, mem, 0, 0, 0), -EINVAL);
	ck_assert_int_eq(vq_packed_drv_init(&drv, mem, 32769, 0, 0), -EINVAL);
	ck_assert_int_eq(vq_packed_drv_init(&drv, mem, 4, 0, 32769), -EINVAL);
	ck_assert_int_eq(vq_packed_drv_init(&drv, mem, 4, 0, 0), -ENOMEM);

	memset(&dev, 0xa5, sizeof(dev));
	ck_assert_int_eq(
		vq_packed_dev_init(&dev, mem, 0, 0, desc, &ev[0], &ev[1]),
		-EINVAL);
	ck_assert_int_eq(
		vq_packed_dev_init(&dev, mem, 32769, 0, desc, &ev[0], &ev[1]),
		-EINVAL);
	ck_assert_int_eq(
		vq_packed_dev_init(&dev, mem, 4, 0, NULL, &ev[0], &ev[1]),
		-EINVAL);
	ck_assert_int_eq(
		vq_packed_dev_init(&dev, mem, 4, 0,
				   (struct pvirtq_desc *)((char *)desc + 4),
				   &ev[0], &ev[1]),
		-EINVAL);
	ck_assert_uint_eq(dev.size, 0xa5a5a5a5); /* untouched */
	ck_assert_int_eq(
		vq_packed_dev_init(&dev, mem, 3, F_EVT, desc, &ev[0], &ev[1]),
		0);
	ck_assert_uint_eq(vq_packed_dev_get_base(&dev), 0x80008000);
	ck_assert(dev.event_idx);
	ck_assert(!dev.indirect);
	free(mem);
}
END_TEST

START_TEST(test_init_addr)
{
	struct rig *r = rig_new(8, 0, 0);
	struct vq_packed_dev dev;
	uint64_t d = r->drv.desc_gpa, dr = r->drv.driver_gpa,
		 dv = r->drv.device_gpa;
	const struct gmem_region *g0 = &r->mem.r[0];

	/* Misaligned for the spec (16, 4, 4). */
	ck_assert_int_eq(vq_packed_dev_init_addr(&dev, &r->mem, 8, 0, d + 8, dr,
						 dv, false),
			 -EINVAL);
	ck_assert_int_eq(vq_packed_dev_init_addr(&dev, &r->mem, 8, 0, d, dr + 2,
						 dv, false),
			 -EINVAL);
	ck_assert_int_eq(vq_packed_dev_init_addr(&dev, &r->mem, 8, 0, d, dr,
						 dv + 2, false),
			 -EINVAL);
	/* Outside, and running off the end of region 0. */
	ck_assert_int_eq(vq_packed_dev_init_addr(&dev, &r->mem, 8, 0, 0x10, dr,
						 dv, false),
			 -EFAULT);
	ck_assert_int_eq(
		vq_packed_dev_init_addr(&dev, &r->mem, 8, 0,
					(g0->gpa + g0->size - 64) & ~15ULL, dr,
					dv, false),
		-EFAULT);
	ck_assert_int_eq(vq_packed_dev_init_addr(&dev, &r->mem, 8, 0, d, dr,
						 DATA_GPA + 4 * DATA_LEN,
						 false),
			 -EFAULT);
	/* By front-end virtual address: what SET_VRING_ADDR carries. */
	ck_assert_int_eq(vq_packed_dev_init_addr(
				 &dev, &r->mem, 8, 0, (uintptr_t)r->drv.desc,
				 (uintptr_t)r->drv.driver,
				 (uintptr_t)r->drv.device, true),
			 0);
	ck_assert_ptr_eq(dev.desc, r->drv.desc);
	ck_assert_ptr_eq(dev.driver, r->drv.driver);
	ck_assert_ptr_eq(dev.device, r->drv.device);
	/* A gpa is not a uva. */
	ck_assert_int_eq(
		vq_packed_dev_init_addr(&dev, &r->mem, 8, 0, d, dr, dv, true),
		-EFAULT);
	rig_free(r);
}
END_TEST

/* Cycle @n one-buffer chains through everything, to move the position. */
static void advance(struct rig *r, unsigned int n)
{
	while (n--) {
		struct want w;

		make_chain(r, &w, 1, r->serial % 2, false);
		EXPECT(add_want(r, &w) >= 0);
		vq_packed_drv_publish(&r->drv);
		pop_check(r, &w);
		push_want(r, &w);
		reap_check(r, &w);
	}
	assert_in_step(r);
	(void)vq_packed_dev_should_notify(&r->dev);
	(void)vq_packed_drv_kick_needed(&r->drv);
}

/* Add, publish and pop @n one-buffer chains into @w; they stay in flight. */
static void in_flight(struct rig *r, struct want *w, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		make_chain(r, &w[i], 1, 0, false);
		EXPECT(add_want(r, &w[i]) >= 0);
	}
	vq_packed_drv_publish(&r->drv);
	for (i = 0; i < n; i++)
		pop_check(r, &w[i]);
}

START_TEST(test_event_used)
{
	/* Device -> driver: the Driver Event Suppression structure. */
	struct rig *r = rig_new(8, F_EVT, 0);
	struct want w[8];
	unsigned int i;

	advance(r, 5);
	ck_assert(!vq_packed_dev_should_notify(&r->dev)); /* nothing new */

	in_flight(r, w, 2);
	vq_packed_drv_disable_notify(&r->drv);
	push_want(r, &w[0]);
	ck_assert(!vq_packed_dev_should_notify(&r->dev));
	vq_packed_drv_set_event(&r->drv, RING_EVENT_FLAGS_ENABLE, 0);
	push_want(r, &w[1]);
	ck_assert(vq_packed_dev_should_notify(&r->dev));
	ck_assert(!vq_packed_dev_should_notify(&r->dev));
	reap_check(r, &w[0]);
	reap_check(r, &w[1]);

	/*
	 * DESC two slots ahead: the third push is the one. Slots 7, 0, 1:
	 * the event lies in the next lap.
	 */
	ck_assert_uint_eq(r->dev.used_pos, 7);
	in_flight(r, w, 4);
	vq_packed_drv_set_event(&r->drv, RING_EVENT_FLAGS_DESC,
				1 | (!r->drv.used_wrap << 15));
	push_want(r, &w[0]);
	ck_assert(!vq_packed_dev_should_notify(&r->dev));
	push_want(r, &w[1]);
	ck_assert(!vq_packed_dev_should_notify(&r->dev));
	push_want(r, &w[2]);
	ck_assert(vq_packed_dev_should_notify(&r->dev));
	push_want(r, &w[3]);
	ck_assert(!vq_packed_dev_should_notify(&r->dev)); /* passed */
	for (i = 0; i < 4; i++)
		reap_check(r, &w[i]);

	/*
	 * Several pushes between decisions, the event among them, across the
	 * ring end: the event slot is in the previous lap by then.
	 */
	advance(r, 4); /* used at slot 7 again */
	in_flight(r, w, 3);
	vq_packed_drv_set_event(&r->drv, RING_EVENT_FLAGS_DESC,
				vq_packed_drv_used_event(&r->drv));
	for (i = 0; i < 3; i++)
		push_want(r, &w[i]);
	ck_assert(vq_packed_dev_should_notify(&r->dev));
	for (i = 0; i < 3; i++)
		reap_check(r, &w[i]);

	/* An event behind the pushes, and one a lap ahead, do not fire. */
	in_flight(r, w, 2);
	vq_packed_drv_set_event(&r->drv, RING_EVENT_FLAGS_DESC,
				(r->drv.next_used + 7) % 8 | r->drv.used_wrap
								     << 15);
	push_want(r, &w[0]);
	ck_assert(!vq_packed_dev_should_notify(&r->dev));
	vq_packed_drv_set_event(&r->drv, RING_EVENT_FLAGS_DESC,
				r->dev.used_pos | !r->drv.used_wrap << 15);
	push_want(r, &w[1]);
	ck_assert(!vq_packed_dev_should_notify(&r->dev));
	reap_check(r, &w[0]);
	reap_check(r, &w[1]);

	/* A ring's worth of pushes is always notified. */
	in_flight(r, w, 8);
	vq_packed_drv_set_event(&r->drv, RING_EVENT_FLAGS_DESC,
				(r->drv.next_used + 7) % 8 | r->drv.used_wrap
								     << 15);
	for (i = 0; i < 8; i++)
		push_want(r, &w[i]);
	ck_assert(vq_packed_dev_should_notify(&r->dev));
	for (i = 0; i < 8; i++)
		reap_check(r, &w[i]);

	/* Reserved bits are ignored; the reserved value 3 notifies. */
	in_flight(r, w, 2);
	vq_packed_drv_set_event(&r->drv, 0xfffc | RING_EVENT_FLAGS_DISABLE, 0);
	push_want(r, &w[0]);
	ck_assert(!vq_packed_dev_should_notify(&r->dev));
	vq_packed_drv_set_event(&r->drv, 3, 0);
	push_want(r, &w[1]);
	ck_assert(vq_packed_dev_should_notify(&r->dev));
	reap_check(r, &w[0]);
	reap_check(r, &w[1]);

	/* enable_notify: DESC at the next used slot, and sees a waiting one. */
	in_flight(r, w, 1);
	ck_assert(!vq_packed_drv_enable_notify(&r->drv));
	ck_assert_uint_eq(vq_load16(&r->drv.driver->flags),
			  RING_EVENT_FLAGS_DESC);
	push_want(r, &w[0]);
	ck_assert(vq_packed_dev_should_notify(&r->dev));
	ck_assert(vq_packed_drv_enable_notify(&r->drv));
	reap_check(r, &w[0]);
	rig_free(r);
}
END_TEST

START_TEST(test_event_used_no_event_idx)
{
	struct rig *r = rig_new(5, 0, 0);
	struct want w[2];

	/* DESC is "only valid if VIRTIO_F_EVENT_IDX": counts as ENABLE. */
	in_flight(r, w, 2);
	vq_packed_drv_set_event(&r->drv, RING_EVENT_FLAGS_DESC, 4);
	push_want(r, &w[0]);
	ck_assert(vq_packed_dev_should_notify(&r->dev));
	vq_packed_drv_disable_notify(&r->drv);
	push_want(r, &w[1]);
	ck_assert(!vq_packed_dev_should_notify(&r->dev));
	ck_assert(vq_packed_drv_enable_notify(&r->drv)); /* used waiting */
	ck_assert_uint_eq(vq_load16(&r->drv.driver->flags),
			  RING_EVENT_FLAGS_ENABLE);
	reap_check(r, &w[0]);
	reap_check(r, &w[1]);
	rig_free(r);
}
END_TEST

/* Add and publish one chain; the device pops it later. */
static void publish_one(struct rig *r, struct want *w)
{
	make_chain(r, w, 1, 1, false);
	EXPECT(add_want(r, w) >= 0);
	vq_packed_drv_publish(&r->drv);
}

START_TEST(test_event_avail)
{
	/* Driver -> device: the Device Event Suppression structure. */
	struct rig *r = rig_new(6, F_EVT, 0);
	struct want w[6];
	unsigned int i;

	advance(r, 4);
	ck_assert(!vq_packed_drv_kick_needed(&r->drv)); /* nothing new */
	vq_packed_dev_disable_notify(&r->dev);
	publish_one(r, &w[0]);
	ck_assert(!vq_packed_drv_kick_needed(&r->drv));
	vq_packed_dev_set_event(&r->dev, RING_EVENT_FLAGS_ENABLE, 0);
	publish_one(r, &w[1]);
	ck_assert(vq_packed_drv_kick_needed(&r->drv));
	ck_assert(!vq_packed_drv_kick_needed(&r->drv));
	/* Added but not published is not kicked. */
	make_chain(r, &w[2], 1, 1, false);
	ck_assert_int_ge(add_want(r, &w[2]), 0);
	ck_assert(!vq_packed_drv_kick_needed(&r->drv));
	ck_assert_uint_eq(vq_packed_drv_publish(&r->drv), 1);
	ck_assert(vq_packed_drv_kick_needed(&r->drv));
	for (i = 0; i < 3; i++) {
		pop_check(r, &w[i]);
		push_want(r, &w[i]);
		reap_check(r, &w[i]);
	}

	/*
	 * DESC at slot 3 of this lap, then one chain per publish at slots 1,
	 * 2, 3, 4: the third publish is the one to kick.
	 */
	ck_assert_uint_eq(r->dev.avail_pos, 1);
	vq_packed_dev_set_event(&r->dev, RING_EVENT_FLAGS_DESC,
				3 | r->dev.avail_wrap << 15);
	for (i = 0; i < 4; i++) {
		publish_one(r, &w[i]);
		ck_assert_int_eq(vq_packed_drv_kick_needed(&r->drv), i == 2);
	}
	for (i = 0; i < 4; i++) {
		pop_check(r, &w[i]);
		push_want(r, &w[i]);
		reap_check(r, &w[i]);
	}

	/*
	 * Across the ring end: avail at 5, event at slot 1 of the next lap;
	 * two chains published at once (5, 0), then one (1).
	 */
	ck_assert_uint_eq(r->dev.avail_pos, 5);
	ck_assert(!vq_packed_dev_enable_notify(&r->dev));
	ck_assert_uint_eq(vq_load16(&r->dev.device->flags),
			  RING_EVENT_FLAGS_DESC);
	vq_packed_dev_set_event(&r->dev, RING_EVENT_FLAGS_DESC,
				1 | !r->dev.avail_wrap << 15);
	for (i = 0; i < 2; i++) {
		make_chain(r, &w[i], 1, 1, false);
		ck_assert_int_ge(add_want(r, &w[i]), 0);
	}
	vq_packed_drv_publish(&r->drv);
	ck_assert(!vq_packed_drv_kick_needed(&r->drv)); /* 5, 0 */
	make_chain(r, &w[2], 1, 1, false);
	ck_assert_int_ge(add_want(r, &w[2]), 0);
	vq_packed_drv_publish(&r->drv);
	ck_assert(vq_packed_drv_kick_needed(&r->drv)); /* 1 */
	/* enable_notify sees what is already there. */
	ck_assert(vq_packed_dev_enable_notify(&r->dev));
	for (i = 0; i < 3; i++) {
		pop_check(r, &w[i]);
		push_want(r, &w[i]);
		reap_check(r, &w[i]);
	}
	ck_assert(!vq_packed_dev_enable_notify(&r->dev));
	rig_free(r);
}
END_TEST

START_TEST(test_event_avail_no_event_idx)
{
	struct rig *r = rig_new(3, 0, 0);
	struct want w;

	vq_packed_dev_set_event(&r->dev, RING_EVENT_FLAGS_DESC, 2);
	publish_one(r, &w);
	ck_assert(vq_packed_drv_kick_needed(&r->drv));
	ck_assert(vq_packed_dev_enable_notify(&r->dev));
	ck_assert_uint_eq(vq_load16(&r->dev.device->flags),
			  RING_EVENT_FLAGS_ENABLE);
	pop_check(r, &w);
	push_want(r, &w);
	reap_check(r, &w);
	rig_free(r);
}
END_TEST

START_TEST(test_base)
{
	struct rig *r = rig_new(257, F_IND | F_EVT, 4);
	static const uint32_t good[] = {
		0x80008000, /* fresh */
		(5 | 1u << 15) | (3u | 1u << 15) << 16,
		5 | 200u << 16 | 1u << 31, /* avail a lap ahead */
		256 | 256u << 16,
		0 | 0u << 16 | 1u << 31, /* a whole ring in flight */
	};
	static const uint32_t bad[] = {
		257 | 1u << 15 | 0x8000u << 16,
		0x8000 | (257u | 1u << 15) << 16,
		(3 | 1u << 15) | (5u | 1u << 15) << 16, /* used ahead */
		200 | 5u << 16 | 1u << 31,		/* > a ring in flight */
		0xffffffff,
	};
	struct lap_stats st;
	struct want w[3];
	uint32_t base;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(good); i++) {
		ck_assert_int_eq(vq_packed_dev_set_base(&r->dev, good[i]), 0);
		ck_assert_uint_eq(vq_packed_dev_get_base(&r->dev), good[i]);
	}
	ck_assert_uint_eq(r->dev.inflight, 257);
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		ck_assert_int_eq(vq_packed_dev_set_base(&r->dev, bad[i]),
				 -EINVAL);
		ck_assert_uint_eq(vq_packed_dev_get_base(&r->dev),
				  good[ARRAY_SIZE(good) - 1]);
	}
	ck_assert_int_eq(vq_packed_dev_set_base(&r->dev, 0x80008000), 0);

	/* Into the middle of the second lap, three chains in flight. */
	while (r->dev.avail_wrap || r->dev.avail_pos < 128)
		advance(r, 1 + r->serial % 3);
	in_flight(r, w, 3);
	base = vq_packed_dev_get_base(&r->dev);
	ck_assert_uint_eq(base & 0x8000, 0);
	ck_assert_uint_eq(base >> 16 & 0x7fff, (base & 0x7fff) - 3);

	/* A new back-end resumes from the base and completes them. */
	memset(&r->dev, 0, sizeof(r->dev));
	ck_assert_int_eq(vq_packed_dev_init_addr(&r->dev, &r->mem, 257,
						 F_IND | F_EVT, r->drv.desc_gpa,
						 r->drv.driver_gpa,
						 r->drv.device_gpa, false),
			 0);
	ck_assert_int_eq(vq_packed_dev_set_base(&r->dev, base), 0);
	ck_assert_uint_eq(vq_packed_dev_get_base(&r->dev), base);
	ck_assert_int_eq(vq_packed_dev_pop(&r->dev, &w[0].c, NULL), 0);
	push_want(r, &w[2]);
	push_want(r, &w[0]);
	push_want(r, &w[1]);
	ck_assert_int_eq(vq_packed_dev_push(&r->dev, 0, 1, 0), -EINVAL);
	reap_check(r, &w[2]);
	reap_check(r, &w[0]);
	reap_check(r, &w[1]);
	run_laps(r, 3, true, &st);
	ck_assert_uint_ge(st.flips, 3);
	rig_free(r);
}
END_TEST

START_TEST(test_drv_base)
{
	struct rig *r = rig_new(7, F_IND, 4);
	uint32_t base = 4 | 4u << 16; /* slot 4, wrap counters 0 */
	struct lap_stats st;
	struct want w;

	ck_assert_int_eq(vq_packed_drv_set_base(&r->drv, 4 | 5u << 16),
			 -EINVAL);
	ck_assert_int_eq(vq_packed_drv_set_base(&r->drv, 7 | 7u << 16),
			 -EINVAL);
	make_chain(r, &w, 1, 0, false);
	ck_assert_int_ge(add_want(r, &w), 0);
	ck_assert_int_eq(vq_packed_drv_set_base(&r->drv, base), -EPROTO);
	vq_packed_drv_publish(&r->drv);
	pop_check(r, &w);
	push_want(r, &w);
	reap_check(r, &w);

	ck_assert_int_eq(vq_packed_drv_set_base(&r->drv, base), 0);
	ck_assert_int_eq(vq_packed_dev_set_base(&r->dev, base), 0);
	/* A zero wrap counter on a ring whose flags say so is no lie. */
	ck_assert_int_eq(vq_packed_dev_pop(&r->dev, &w.c, NULL), 0);
	assert_in_step(r);
	run_laps(r, 3, true, &st);
	ck_assert_uint_ge(st.straddles, 1);
	rig_free(r);
}
END_TEST

/* What each hostile construct does to a packed device. */
struct hostile_case {
	enum vq_hostile h;
	unsigned int variant;
	int laid;   /* vq_packed_drv_hostile(): >= 0 as 0, or -errno */
	int popped; /* vq_packed_dev_pop() */
};

static const struct hostile_case hostile_cases[] = {
	{ VQ_HOSTILE_LOOP_SELF, 0, -ENOTSUP, 0 },
	{ VQ_HOSTILE_LOOP_NEXT, 0, -ENOTSUP, 0 },
	{ VQ_HOSTILE_CHAIN_TOO_LONG, 0, 0, -ELOOP },
	{ VQ_HOSTILE_CHAIN_TOO_LONG, 1, 0, -ELOOP },
	{ VQ_HOSTILE_CHAIN_TOO_LONG, 2, -EINVAL, 0 },
	{ VQ_HOSTILE_INDIRECT_NESTED, 0, 0, 1 },
	{ VQ_HOSTILE_INDIRECT_BAD_LEN, 0, 0, -EINVAL },
	{ VQ_HOSTILE_INDIRECT_BAD_LEN, 1, 0, -EINVAL },
	{ VQ_HOSTILE_ADDR_OUTSIDE, 0, 0, -EFAULT },
	{ VQ_HOSTILE_ADDR_STRADDLE, 0, 0, -EFAULT },
	{ VQ_HOSTILE_ZERO_LEN, 0, 0, -EINVAL },
	{ VQ_HOSTILE_NEXT_OUT_OF_RANGE, 0, -ENOTSUP, 0 },
	{ VQ_HOSTILE_AVAIL_JUMP, 0, -ENOTSUP, 0 },
	{ VQ_HOSTILE_HEAD_OUT_OF_RANGE, 0, -ENOTSUP, 0 },
	{ VQ_HOSTILE_WRAP_LIE, 0, 0, -EPROTO },
	{ VQ_HOSTILE_WRAP_LIE, 1, 0, -EPROTO },
	{ VQ_HOSTILE_WRAP_LIE, 2, -EINVAL, 0 },
	{ VQ_HOSTILE_REWRITE_AFTER_KICK, 0, 0, 1 },
	{ VQ_HOSTILE_MAX, 0, -ENOTSUP, 0 },
};

static void hostile_one(unsigned int size, unsigned int lead,
			const struct hostile_case *hc)
{
	struct rig *r = rig_new(size, F_IND | F_EVT, 2);
	struct vq_buf bufs[4];
	struct vq_chain c = { .cap = 4, .bufs = bufs };
	const char *why = NULL;
	uint64_t token = 1;
	uint32_t base, len = 1;
	int id, laid = hc->laid;

	advance(r, lead);
	base = vq_packed_dev_get_base(&r->dev);
	if (size == 1 && hc->h == VQ_HOSTILE_WRAP_LIE && hc->variant == 0)
		laid = -EINVAL; /* needs two slots */
	id = vq_packed_drv_hostile(&r->drv, hc->h, hc->variant);
	ck_assert_int_eq(id < 0 ? id : 0, laid);
	if (id < 0) {
		/* Nothing reached the ring. */
		ck_assert_int_eq(vq_packed_dev_pop(&r->dev, &c, &why), 0);
		assert_in_step(r);
		goto out;
	}
	if (hc->popped < 0) {
		ck_assert_int_eq(vq_packed_dev_pop(&r->dev, &c, &why),
				 hc->popped);
		ck_assert_ptr_nonnull(why);
		/* Nothing consumed; the same answer again. */
		ck_assert_uint_eq(vq_packed_dev_get_base(&r->dev), base);
		ck_assert_int_eq(vq_packed_dev_pop(&r->dev, &c, NULL),
				 hc->popped);
		ck_assert_uint_eq(r->dev.inflight, 0);
		goto out;
	}
	ck_assert_int_eq(vq_packed_dev_pop(&r->dev, &c, &why), 1);
	ck_assert_int_eq(c.id, id);
	ck_assert_uint_eq(c.ndesc, 1);
	ck_assert_uint_eq(c.n, 1);
	ck_assert(!bufs[0].writable);
	ck_assert_uint_eq(bufs[0].len, 16);
	if (hc->h == VQ_HOSTILE_INDIRECT_NESTED)
		/*
		 * The INDIRECT flag inside the table was ignored: the entry
		 * is the inner table itself, as plain bytes.
		 */
		ck_assert_uint_eq(bufs[0].gpa, r->drv.scratch_gpa + 64);
	else
		ck_assert_uint_eq(bufs[0].gpa, r->drv.scratch_gpa);
	/* Rewriting after the pop changes nothing the device holds. */
	if (hc->h == VQ_HOSTILE_REWRITE_AFTER_KICK)
		ck_assert_int_eq(vq_packed_drv_rewrite(&r->drv, (unsigned)id),
				 0);
	ck_assert_int_eq(vq_packed_dev_push(&r->dev, c.id, c.ndesc, 0), 0);
	ck_assert_int_eq(vq_packed_drv_reap(&r->drv, &token, &len, &why), 1);
	ck_assert_uint_eq(token, 0);
	ck_assert_uint_eq(len, 0);
	ck_assert_int_eq(vq_packed_drv_rewrite(&r->drv, (unsigned)id), -EINVAL);
	assert_in_step(r);
out:
	rig_free(r);
}

START_TEST(test_hostile)
{
	unsigned int i;

	/* In the first lap, and halfway through the second (wrap 0). */
	for (i = 0; i < ARRAY_SIZE(hostile_cases); i++) {
		hostile_one(5, 0, &hostile_cases[i]);
		hostile_one(5, 7, &hostile_cases[i]);
	}
}
END_TEST

START_TEST(test_hostile_size1)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(hostile_cases); i++) {
		const struct hostile_case *hc = &hostile_cases[i];

		hostile_one(1, 0, hc);
		hostile_one(1, 3, hc);
	}
}
END_TEST

START_TEST(test_hostile_straddle_end)
{
	/* The lies laid across the ring end (slot 4 then slot 0). */
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(hostile_cases); i++)
		if (hostile_cases[i].h == VQ_HOSTILE_WRAP_LIE ||
		    hostile_cases[i].h == VQ_HOSTILE_CHAIN_TOO_LONG) {
			hostile_one(5, 4, &hostile_cases[i]);
			hostile_one(5, 9, &hostile_cases[i]);
		}
}
END_TEST

START_TEST(test_rewrite_before_pop)
{
	struct rig *r = rig_new(4, 0, 0);
	struct vq_buf bufs[2];
	struct vq_chain c = { .cap = 2, .bufs = bufs };
	const char *why = NULL;
	int id;

	advance(r, 2);
	id = vq_packed_drv_hostile(&r->drv, VQ_HOSTILE_REWRITE_AFTER_KICK, 0);
	ck_assert_int_ge(id, 0);
	ck_assert(vq_packed_drv_kick_needed(&r->drv));
	ck_assert_int_eq(vq_packed_drv_rewrite(&r->drv, (unsigned)id), 0);
	ck_assert_int_eq(vq_packed_dev_pop(&r->dev, &c, &why), -EFAULT);
	ck_assert_ptr_nonnull(why);
	ck_assert_int_eq(vq_packed_drv_rewrite(&r->drv, 4), -EINVAL);
	ck_assert_int_eq(vq_packed_drv_rewrite(&r->drv, (unsigned)id + 1),
			 -EINVAL);
	rig_free(r);
}
END_TEST

/* Publish one chain whose slots a test then patches raw. */
static int add_raw(struct rig *r, unsigned int n, unsigned int nr,
		   bool indirect, struct want *w)
{
	make_chain(r, w, n, nr, indirect);
	return add_want(r, w);
}

static int pop_err(struct rig *r, unsigned int cap)
{
	struct vq_buf bufs[MAXB];
	struct vq_chain c = { .cap = cap, .bufs = bufs };
	const char *why = NULL;
	int ret = vq_packed_dev_pop(&r->dev, &c, &why);

	if (ret < 0)
		ck_assert_ptr_nonnull(why);
	return ret;
}

START_TEST(test_pop_rules)
{
	struct rig *r = rig_new(8, F_IND, 8);
	struct vq_buf bufs[MAXB];
	struct vq_chain c = { .cap = 2, .bufs = bufs };
	struct pvirtq_desc *d;
	struct want w;
	uint32_t base;
	int id;

	/* -ENOSPC says how many; a bigger array then takes the chain. */
	ck_assert_int_ge(add_raw(r, 4, 2, false, &w), 0);
	vq_packed_drv_publish(&r->drv);
	base = vq_packed_dev_get_base(&r->dev);
	ck_assert_int_eq(vq_packed_dev_pop(&r->dev, &c, NULL), -ENOSPC);
	ck_assert_uint_eq(c.n, 4);
	ck_assert_uint_eq(bufs[1].gpa, w.bufs[1].gpa);
	ck_assert_uint_eq(vq_packed_dev_get_base(&r->dev), base);
	pop_check(r, &w);
	/* push checks the slots in flight */
	ck_assert_int_eq(vq_packed_dev_push(&r->dev, w.c.id, 0, 0), -EINVAL);
	ck_assert_int_eq(vq_packed_dev_push(&r->dev, w.c.id, 5, 0), -EINVAL);
	ck_assert_int_eq(vq_packed_dev_push(&r->dev, 0x10000, 4, 0), -EINVAL);
	push_want(r, &w);
	reap_check(r, &w);

	/*
	 * Indirect: flags inside the table other than WRITE, the entry ids,
	 * and WRITE on the indirect descriptor itself are ignored.
	 */
	id = add_raw(r, 3, 1, true, &w);
	ck_assert_int_ge(id, 0);
	d = &r->drv.ind[(size_t)id * r->drv.ind_max];
	vq_store16(&d[0].flags, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_INDIRECT |
					VIRTQ_DESC_F_AVAIL | VIRTQ_DESC_F_USED);
	vq_store16(&d[1].id, 0xbeef);
	vq_store16(&d[1].flags, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT);
	vq_packed_drv_publish(&r->drv);
	d = vq_packed_drv_desc(&r->drv, r->dev.avail_pos);
	vq_store16(&d->flags, vq_load16(&d->flags) | VIRTQ_DESC_F_WRITE);
	pop_check(r, &w);
	push_want(r, &w);
	reap_check(r, &w);

	/* A readable buffer after a writable one. */
	make_chain(r, &w, 2, 0, false);
	w.bufs[1].writable = false;
	ck_assert_int_ge(add_want(r, &w), 0);
	vq_packed_drv_publish(&r->drv);
	ck_assert_int_eq(pop_err(r, MAXB), -EINVAL);
	rig_free(r);

	/* INDIRECT on a later descriptor of a chain, at a valid table. */
	r = rig_new(8, F_IND, 8);
	ck_assert_int_ge(add_raw(r, 2, 1, false, &w), 0);
	d = (struct pvirtq_desc *)r->data;
	d->addr = htole64(r->data_gpa + 64);
	d->len = htole32(16);
	d->flags = 0;
	d = vq_packed_drv_desc(&r->drv, 1);
	d->addr = htole64(r->data_gpa);
	d->len = htole32(16);
	vq_store16(&d->flags, vq_load16(&d->flags) | VIRTQ_DESC_F_INDIRECT);
	vq_packed_drv_publish(&r->drv);
	ck_assert_int_eq(pop_err(r, MAXB), -EINVAL);
	rig_free(r);

	/* INDIRECT together with NEXT. */
	r = rig_new(8, F_IND, 8);
	ck_assert_int_ge(add_raw(r, 2, 1, true, &w), 0);
	vq_packed_drv_publish(&r->drv);
	d = vq_packed_drv_desc(&r->drv, 0);
	vq_store16(&d->flags, vq_load16(&d->flags) | VIRTQ_DESC_F_NEXT);
	ck_assert_int_eq(pop_err(r, MAXB), -EINVAL);
	rig_free(r);

	/* INDIRECT without VIRTIO_F_INDIRECT_DESC. */
	r = rig_new(8, 0, 8);
	ck_assert_int_ge(add_raw(r, 2, 1, true, &w), 0);
	vq_packed_drv_publish(&r->drv);
	ck_assert_int_eq(pop_err(r, MAXB), -EPROTO);
	rig_free(r);

	/* An indirect table of the queue size is fine, one more is not. */
	r = rig_new(3, F_IND, 4);
	ck_assert_int_ge(add_raw(r, 3, 1, true, &w), 0);
	vq_packed_drv_publish(&r->drv);
	pop_check(r, &w);
	push_want(r, &w);
	reap_check(r, &w);
	ck_assert_int_ge(add_raw(r, 4, 1, true, &w), 0);
	vq_packed_drv_publish(&r->drv);
	ck_assert_int_eq(pop_err(r, MAXB), -ELOOP);
	rig_free(r);

	/* An indirect table outside memory, and one running off its end. */
	r = rig_new(3, F_IND, 4);
	ck_assert_int_ge(add_raw(r, 2, 1, true, &w), 0);
	vq_packed_drv_publish(&r->drv);
	d = vq_packed_drv_desc(&r->drv, 0);
	d->addr = htole64(DATA_GPA + 4 * DATA_LEN);
	ck_assert_int_eq(pop_err(r, MAXB), -EFAULT);
	d->addr = htole64(DATA_GPA + 2 * DATA_LEN - 16);
	ck_assert_int_eq(pop_err(r, MAXB), -EFAULT);
	rig_free(r);
}
END_TEST

START_TEST(test_wrap_lies)
{
	struct rig *r = rig_new(3, 0, 0);
	struct pvirtq_desc *d;
	struct want w;
	unsigned int i;

	/*
	 * At slot 2 of lap 2 (wrap 0): a chain across the end whose second
	 * descriptor (slot 0, lap 3, wrap 1) still says "available in lap 2".
	 */
	advance(r, 5);
	ck_assert_uint_eq(r->dev.avail_pos, 2);
	ck_assert(!r->dev.avail_wrap);
	ck_assert_int_ge(add_raw(r, 2, 1, false, &w), 0);
	d = vq_packed_drv_desc(&r->drv, 0);
	ck_assert_uint_eq(vq_load16(&d->flags) & 0x8080, 0x0080);
	vq_store16(&d->flags, (vq_load16(&d->flags) & ~VIRTQ_DESC_F_AVAIL) |
				      VIRTQ_DESC_F_USED);
	vq_packed_drv_publish(&r->drv);
	ck_assert_int_eq(pop_err(r, MAXB), -EPROTO);
	/* Set right, the chain pops. */
	vq_store16(&d->flags, (vq_load16(&d->flags) & ~VIRTQ_DESC_F_USED) |
				      VIRTQ_DESC_F_AVAIL);
	pop_check(r, &w);
	push_want(r, &w);
	reap_check(r, &w);

	/*
	 * Every flag pair at the next slot: only (w, !w) is a chain, only
	 * (w, w) is a lie.
	 */
	for (i = 0; i < 4; i++) {
		bool wrap = r->dev.avail_wrap;
		uint16_t a = i & 1 ? VIRTQ_DESC_F_AVAIL : 0;
		uint16_t u = i & 2 ? VIRTQ_DESC_F_USED : 0;
		int want = 0;

		if (!!a == wrap && !!u == wrap)
			want = -EPROTO;
		else if (!!a == wrap)
			want = 1;
		d = vq_packed_drv_desc(&r->drv, r->dev.avail_pos);
		d->addr = htole64(r->data_gpa);
		d->len = htole32(8);
		vq_store16(&d->flags, a | u);
		ck_assert_int_eq(pop_err(r, MAXB), want);
		if (want == 1)
			ck_assert_int_eq(vq_packed_dev_push(&r->dev, 0, 1, 0),
					 0);
	}
	rig_free(r);
}
END_TEST

START_TEST(test_total_length)
{
	/* 4096 buffers of 1 MiB are exactly 2^32 bytes: legal. 4097 not. */
	struct rig *r = rig_new(4100, F_IND, 0);
	struct vq_buf *bufs = calloc(4097, sizeof(*bufs));
	struct vq_chain c = { .cap = 4097, .bufs = bufs };
	struct pvirtq_desc *t, *d;
	const char *why = NULL;
	uint64_t tgpa;
	unsigned int i;

	ck_assert_ptr_nonnull(bufs);
	ck_assert_int_eq(gmem_alloc(&r->mem, 4097 * 16, 16, &tgpa), 0);
	t = gmem_gpa(&r->mem, tgpa, 4097 * 16);
	for (i = 0; i < 4097; i++) {
		t[i].addr = htole64(r->data_gpa);
		t[i].len = htole32(DATA_LEN);
		t[i].flags = htole16(VIRTQ_DESC_F_WRITE);
	}
	d = vq_packed_drv_desc(&r->drv, 0);
	d->addr = htole64(tgpa);
	d->len = htole32(4096 * 16);
	d->id = htole16(7);
	vq_store16(&d->flags, VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_AVAIL);
	ck_assert_int_eq(vq_packed_dev_pop(&r->dev, &c, &why), 1);
	ck_assert_uint_eq(c.writable_len, 1ULL << 32);
	ck_assert_uint_eq(c.id, 7);
	ck_assert_int_eq(vq_packed_dev_push(&r->dev, c.id, c.ndesc, 0), 0);
	d = vq_packed_drv_desc(&r->drv, 1);
	d->addr = htole64(tgpa);
	d->len = htole32(4097 * 16);
	vq_store16(&d->flags, VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_AVAIL);
	ck_assert_int_eq(vq_packed_dev_pop(&r->dev, &c, &why), -EINVAL);
	free(bufs);
	rig_free(r);
}
END_TEST

START_TEST(test_reap_checks)
{
	struct rig *r = rig_new(4, 0, 0);
	struct pvirtq_desc *d;
	const char *why = NULL;
	uint64_t token = 99;
	uint32_t len = 99;
	struct want w[2];

	/* An id the device invented: refused, nothing consumed. */
	in_flight(r, w, 1);
	ck_assert_int_eq(
		vq_packed_dev_push(&r->dev, (unsigned)w[0].id + 1, 1, 0), 0);
	ck_assert_int_eq(vq_packed_drv_reap(&r->drv, &token, &len, &why),
			 -EPROTO);
	ck_assert_ptr_nonnull(why);
	ck_assert_uint_eq(token, 99);
	ck_assert_uint_eq(r->drv.free_slots, 3);
	/* Beyond the queue size. */
	d = vq_packed_drv_desc(&r->drv, r->drv.next_used);
	vq_store16(&d->id, 4);
	why = NULL;
	ck_assert_int_eq(vq_packed_drv_reap(&r->drv, &token, &len, &why),
			 -EINVAL);
	ck_assert_ptr_nonnull(why);
	/* The right id: the buffer comes back, len 0 without WRITE. */
	vq_store16(&d->id, (uint16_t)w[0].id);
	ck_assert_int_eq(vq_packed_drv_reap(&r->drv, &token, &len, NULL), 1);
	ck_assert_uint_eq(token, w[0].token);
	ck_assert_uint_eq(len, 0);

	/*
	 * The same id again, in the next slot: no longer in flight (while
	 * another chain is, or nothing would be read).
	 */
	in_flight(r, w, 2);
	ck_assert_int_eq(vq_packed_dev_push(&r->dev, (unsigned)w[0].id, 1, 0),
			 0);
	d = vq_packed_drv_desc(&r->drv, (r->drv.next_used + 1) % 4);
	vq_store16(&d->id, (uint16_t)w[0].id);
	vq_store16(&d->flags, VIRTQ_DESC_F_AVAIL | VIRTQ_DESC_F_USED);
	ck_assert_int_eq(vq_packed_drv_reap(&r->drv, &token, &len, NULL), 1);
	ck_assert_uint_eq(token, w[0].token);
	ck_assert_int_eq(vq_packed_drv_reap(&r->drv, &token, &len, &why),
			 -EPROTO);
	rig_free(r);

	/* More written than the chain can hold: reported, and consumed. */

	r = rig_new(4, 0, 0);
	make_chain(r, &w[0], 2, 1, false);
	ck_assert_int_ge(add_want(r, &w[0]), 0);
	vq_packed_drv_publish(&r->drv);
	pop_check(r, &w[0]);
	ck_assert_int_eq(vq_packed_dev_push(&r->dev, w[0].c.id, w[0].c.ndesc,
					    (uint32_t)w[0].wbytes + 1),
			 0);
	ck_assert_int_eq(vq_packed_drv_reap(&r->drv, &token, &len, &why),
			 -EMSGSIZE);
	ck_assert_uint_eq(token, w[0].token);
	ck_assert_uint_eq(len, w[0].wbytes + 1);
	assert_in_step(r);

	/*
	 * VIRTQ_DESC_F_WRITE in a used descriptor says whether anything was
	 * written; without it the length is reserved and reads as 0.
	 */
	in_flight(r, w, 2);
	d = vq_packed_drv_desc(&r->drv, r->dev.used_pos);
	ck_assert_int_eq(vq_packed_dev_push(&r->dev, w[0].c.id, 1, 0), 0);
	ck_assert_uint_eq(vq_load16(&d->flags) & VIRTQ_DESC_F_WRITE, 0);
	d = vq_packed_drv_desc(&r->drv, r->dev.used_pos);
	ck_assert_int_eq(vq_packed_dev_push(&r->dev, w[1].c.id, 1, 5), 0);
	ck_assert_uint_eq(vq_load16(&d->flags) & VIRTQ_DESC_F_WRITE,
			  VIRTQ_DESC_F_WRITE);
	ck_assert_uint_eq(le32toh(d->len), 5);
	vq_store16(&d->flags, vq_load16(&d->flags) & ~VIRTQ_DESC_F_WRITE);
	ck_assert_int_eq(vq_packed_drv_reap(&r->drv, &token, &len, NULL), 1);
	ck_assert_int_eq(vq_packed_drv_reap(&r->drv, &token, &len, NULL), 1);
	ck_assert_uint_eq(token, w[1].token);
	ck_assert_uint_eq(len, 0);
	assert_in_step(r);
	rig_free(r);
}
END_TEST

START_TEST(test_add_limits)
{
	struct rig *r = rig_new(3, F_IND, 2);
	struct want w[4];

	make_chain(r, &w[0], 4, 1, false);
	ck_assert_int_eq(add_want(r, &w[0]), -EINVAL); /* > queue size */
	make_chain(r, &w[0], 3, 1, true);
	ck_assert_int_eq(add_want(r, &w[0]), -EINVAL); /* > ind_max */
	ck_assert_int_eq(vq_packed_drv_add(&r->drv, w[0].bufs, 0, false, 1),
			 -EINVAL);
	make_chain(r, &w[0], 2, 1, false);
	ck_assert_int_ge(add_want(r, &w[0]), 0);
	make_chain(r, &w[1], 2, 1, false);
	ck_assert_int_eq(add_want(r, &w[1]), -ENOSPC);
	make_chain(r, &w[1], 2, 1, true);
	ck_assert_int_ge(add_want(r, &w[1]), 0);
	make_chain(r, &w[2], 1, 1, false);
	ck_assert_int_eq(add_want(r, &w[2]), -ENOSPC);
	/* Nothing visible before publish. */
	ck_assert_int_eq(vq_packed_dev_pop(&r->dev, &w[2].c, NULL), 0);
	ck_assert_uint_eq(vq_packed_drv_publish(&r->drv), 2);
	ck_assert_uint_eq(vq_packed_drv_publish(&r->drv), 0);
	pop_check(r, &w[0]);
	pop_check(r, &w[1]);
	push_want(r, &w[1]);
	push_want(r, &w[0]);
	reap_check(r, &w[1]);
	reap_check(r, &w[0]);
	ck_assert_ptr_null(vq_packed_drv_desc(&r->drv, 3));
	ck_assert_ptr_eq(vq_packed_drv_desc(&r->drv, 2), &r->drv.desc[2]);
	rig_free(r);
}
END_TEST

static Suite *packed_suite(void)
{
	Suite *s = suite_create("ring_packed");
	TCase *tc = tcase_create("packed");

	tcase_add_checked_fixture(tc, fd_setup, fd_teardown);
	tcase_add_test(tc, test_sizes);
	tcase_add_test(tc, test_init_addr);
	tcase_add_loop_test(tc, test_round_trip, 0, ARRAY_SIZE(sizes));
	tcase_add_loop_test(tc, test_out_of_order, 0, ARRAY_SIZE(sizes));
	tcase_add_test(tc, test_event_used);
	tcase_add_test(tc, test_event_used_no_event_idx);
	tcase_add_test(tc, test_event_avail);
	tcase_add_test(tc, test_event_avail_no_event_idx);
	tcase_add_test(tc, test_base);
	tcase_add_test(tc, test_drv_base);
	tcase_add_test(tc, test_hostile);
	tcase_add_test(tc, test_hostile_size1);
	tcase_add_test(tc, test_hostile_straddle_end);
	tcase_add_test(tc, test_rewrite_before_pop);
	tcase_add_test(tc, test_pop_rules);
	tcase_add_test(tc, test_wrap_lies);
	tcase_add_test(tc, test_total_length);
	tcase_add_test(tc, test_reap_checks);
	tcase_add_test(tc, test_add_limits);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(packed_suite());
}
