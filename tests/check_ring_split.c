// SPDX-License-Identifier: MIT
/*
 * check_ring_split.c - the split virtqueue, driver side against device side
 * in one process: round trips over several laps (free-running indices
 * wrapping past 65535), mixed and indirect chains, out-of-order completion,
 * both notification-suppression schemes both ways, every hostile construct,
 * the rules the device checks beyond them, what the driver checks of the
 * device, and a device that never reaches outside guest memory (regions
 * are fenced by PROT_NONE guard pages, so a stray access is a crash).
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "check_util.h"
#include "common/util.h"
#include "ring/gmem.h"
#include "ring/split.h"

#define PAGE 4096ULL
#define RGPA 0x100000ULL /* guest address of the test region */
#define BUF_SLOT 64	 /* bytes per buffer */
#define MAX_BUFS 4	 /* buffers per chain in the round trips */
#define IND_MAX 4

#define F_EVENT (1ULL << VIRTIO_F_EVENT_IDX)
#define F_INDIRECT (1ULL << VIRTIO_F_INDIRECT_DESC)

/*
 * check's ck_assert*() records every passing assertion (a write(2) with
 * CK_FORK=no), which hundreds of thousands of them turn into seconds: inner
 * loops check quietly and fail as loudly.
 */
#define QUIET_ASSERT(cond)                                            \
	do {                                                          \
		if (!(cond))                                          \
			ck_abort_msg("Assertion '%s' failed", #cond); \
	} while (0)

static const unsigned int sizes[] = { 1, 2, 256, 32768 };

struct expect {
	uint64_t token;
	unsigned int n;
	bool indirect;
	bool busy;
	struct vq_buf bufs[MAX_BUFS];
};

static struct gmem g;
static struct vq_split_drv d;
static struct vq_split_dev v;
static uint8_t *region; /* hva of region 0 */
static uint64_t region_size;
static uint64_t buf_gpa; /* num * MAX_BUFS * BUF_SLOT bytes */
static bool rig_up;
static struct expect *laps_exp; /* run_laps() state, freed by rig_close() */
static uint16_t *laps_popped;
static int fds_before;

static struct {
	uint8_t *base;
	size_t len;
} guards[4];
static unsigned int nguards;

/*
 * A region with a PROT_NONE page on each side, built by hand because
 * gmem_add_memfd() cannot choose where it maps. gmem_clear() unmaps the
 * middle and closes the fd; rig_close() unmaps the rest.
 */
static uint8_t *add_guarded(uint64_t gpa, uint64_t size)
{
	uint8_t *resv;
	void *p;
	int fd;

	size = (size + PAGE - 1) & ~(PAGE - 1);
	ck_assert_uint_lt(nguards, ARRAY_SIZE(guards));
	resv = mmap(NULL, size + 2 * PAGE, PROT_NONE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	ck_assert(resv != MAP_FAILED);
	guards[nguards].base = resv;
	guards[nguards].len = size + 2 * PAGE;
	nguards++;
	fd = memfd_create("check-ring-split", MFD_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, (off_t)size), 0);
	p = mmap(resv + PAGE, size, PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_FIXED, fd, 0);
	ck_assert(p == resv + PAGE);
	ck_assert_uint_lt(g.n, GMEM_MAX_REGIONS);
	g.r[g.n++] = (struct gmem_region){
		.gpa = gpa,
		.size = size,
		.uaddr = (uintptr_t)p,
		.hva = p,
		.map_base = p,
		.map_len = size,
		.fd = fd,
	};
	return p;
}

static void rig_close(void)
{
	free(laps_exp);
	free(laps_popped);
	laps_exp = NULL;
	laps_popped = NULL;
	if (rig_up)
		vq_split_drv_fini(&d);
	rig_up = false;
	gmem_clear(&g);
	while (nguards) {
		nguards--;
		munmap(guards[nguards].base, guards[nguards].len);
	}
}

/* Guest memory, a driver, and a device on the same rings, at @base. */
static void rig_open(unsigned int num, uint64_t features, uint32_t base)
{
	uint64_t dsz, asz, usz, need;

	rig_close();
	gmem_init(&g);
	ck_assert_int_eq(vq_split_part_sizes(num, features, &dsz, &asz, &usz),
			 0);
	need = dsz + asz + usz + (uint64_t)IND_MAX * num * 16 +
	       (num + 1ULL) * 16 + (uint64_t)num * MAX_BUFS * BUF_SLOT +
	       0x10000;
	region = add_guarded(RGPA, need);
	region_size = g.r[0].size;
	ck_assert_int_eq(vq_split_drv_init(&d, &g, num, features, IND_MAX), 0);
	rig_up = true;
	ck_assert_int_eq(vq_split_drv_set_base(&d, base), 0);
	ck_assert_int_eq(gmem_alloc(&g, (uint64_t)num * MAX_BUFS * BUF_SLOT,
				    BUF_SLOT, &buf_gpa),
			 0);
	ck_assert_int_eq(vq_split_dev_init_addr(&v, &g, num, features,
						d.desc_gpa, d.avail_gpa,
						d.used_gpa, false),
			 0);
	ck_assert_int_eq(vq_split_dev_set_base(&v, base), 0);
}

static void setup(void)
{
	fds_before = count_fds();
	gmem_init(&g);
}

static void teardown(void)
{
	rig_close();
	ck_assert_int_eq(count_fds(), fds_before);
}

static uint8_t *hva_of(uint64_t gpa, uint64_t len)
{
	uint8_t *p = gmem_gpa(&g, gpa, len);

	QUIET_ASSERT(p);
	return p;
}

static uint8_t tok8(uint64_t token)
{
	return (uint8_t)(token * 31 + 7);
}

/* Buffer @j of the chain in buffer slot @slot. */
static struct vq_buf mkbuf(unsigned int slot, unsigned int j, uint32_t len,
			   bool writable)
{
	return (struct vq_buf){
		.gpa = buf_gpa + ((uint64_t)slot * MAX_BUFS + j) * BUF_SLOT,
		.len = len,
		.writable = writable,
	};
}

/* ---- Round trips ---- */

/* Readable buffers first, as the spec wants. */
static const char *const shapes[] = { "r",    "rw",  "rrww", "w",
				      "rwww", "rrr", "ww" };

static unsigned int make_chain(unsigned int seq, unsigned int num,
			       struct vq_buf *bufs)
{
	const char *s = shapes[seq % ARRAY_SIZE(shapes)];
	unsigned int n = VUC_MIN((unsigned int)strlen(s), num), j;

	for (j = 0; j < n; j++)
		bufs[j] = mkbuf(seq % num, j, 1 + (seq * 13 + j * 7) % BUF_SLOT,
				s[j] == 'w');
	return n;
}

static uint32_t push_len(const struct expect *e)
{
	uint64_t w = 0;
	unsigned int j;

	for (j = 0; j < e->n; j++)
		if (e->bufs[j].writable)
			w += e->bufs[j].len;
	return w ? (uint32_t)(w - (e->token & 1)) : 0;
}

/*
 * Fill the ring, publish, pop everything, push it back (in order or
 * reversed), reap everything, until 3 laps and a bit have gone round.
 */
static void run_laps(unsigned int num, uint64_t features, uint32_t base,
		     bool use_indirect, bool reverse)
{
	const unsigned int target = 3 * num + 7;
	struct vq_buf bufs[MAX_BUFS], cbufs[MAX_BUFS];
	struct vq_chain c = { .bufs = cbufs, .cap = MAX_BUFS };
	struct expect *exp;
	uint16_t *popped;
	unsigned int added = 0, reaped = 0;
	const char *why = NULL;
	uint64_t token;
	uint32_t len;
	int ret;

	rig_open(num, features, base);
	exp = laps_exp = calloc(num, sizeof(*exp));
	popped = laps_popped = calloc(num, sizeof(*popped));
	ck_assert_ptr_nonnull(exp);
	ck_assert_ptr_nonnull(popped);
	ck_assert(!vq_split_dev_enable_notify(&v));

	while (reaped < target) {
		unsigned int batch = 0, npop = 0, k, j;

		vq_split_drv_enable_notify(&d);
		while (added < target) {
			unsigned int n = make_chain(added, num, bufs);
			bool ind = use_indirect && added % 3 != 0;
			int head;

			token = 0x1000000ULL + added;
			head = vq_split_drv_add(&d, bufs, n, ind, token);
			if (head == -ENOSPC)
				break;
			QUIET_ASSERT(head >= 0);
			/* Before publishing: what the device must read. */
			for (j = 0; j < n; j++)
				if (!bufs[j].writable)
					*hva_of(bufs[j].gpa, 1) = tok8(token);
			QUIET_ASSERT(!exp[head].busy);
			exp[head].token = token;
			exp[head].n = n;
			exp[head].indirect = ind;
			exp[head].busy = true;
			memcpy(exp[head].bufs, bufs, n * sizeof(*bufs));
			added++;
			batch++;
		}
		QUIET_ASSERT(batch > 0);
		QUIET_ASSERT(vq_split_drv_publish(&d) == batch);
		/* The device asked for kicks after its last drain. */
		QUIET_ASSERT(vq_split_drv_kick_needed(&d));

		while ((ret = vq_split_dev_pop(&v, &c, &why)) == 1) {
			const struct expect *e;
			uint64_t w = 0;

			QUIET_ASSERT(c.id < num);
			e = &exp[c.id];
			QUIET_ASSERT(e->busy);
			QUIET_ASSERT(c.n == e->n);
			QUIET_ASSERT(c.ndesc == (e->indirect ? 1 : e->n));
			for (j = 0; j < c.n; j++) {
				const struct vq_buf *b = &c.bufs[j];

				QUIET_ASSERT(b->gpa == e->bufs[j].gpa);
				QUIET_ASSERT(b->len == e->bufs[j].len);
				QUIET_ASSERT(b->writable ==
					     e->bufs[j].writable);
				QUIET_ASSERT(b->hva ==
					     (hva_of(b->gpa, b->len)));
				if (b->writable) {
					*(uint8_t *)b->hva = tok8(e->token);
					w += b->len;
				} else {
					QUIET_ASSERT((*(uint8_t *)b->hva) ==
						     (tok8(e->token)));
				}
			}
			QUIET_ASSERT(c.writable_len == w);
			popped[npop++] = c.id;
		}
		QUIET_ASSERT(ret == 0);
		QUIET_ASSERT(npop == batch);
		QUIET_ASSERT(vq_split_dev_get_base(&v) == d.avail_idx);
		QUIET_ASSERT(!vq_split_dev_enable_notify(&v));

		for (k = 0; k < npop; k++) {
			uint16_t id = popped[reverse ? npop - 1 - k : k];

			QUIET_ASSERT(vq_split_dev_push(
					     &v, id, push_len(&exp[id])) == 0);
		}
		/* The driver asked for notifications before this batch. */
		QUIET_ASSERT(vq_split_dev_should_notify(&v));
		QUIET_ASSERT(!vq_split_dev_should_notify(&v));

		for (k = 0; k < npop; k++) {
			uint16_t id = popped[reverse ? npop - 1 - k : k];
			struct expect *e = &exp[id];

			QUIET_ASSERT(
				vq_split_drv_reap(&d, &token, &len, &why) == 1);
			QUIET_ASSERT(token == e->token);
			QUIET_ASSERT(len == push_len(e));
			for (j = 0; j < e->n; j++)
				if (e->bufs[j].writable)
					QUIET_ASSERT(
						(*hva_of(e->bufs[j].gpa, 1)) ==
						(tok8(token)));
			e->busy = false;
			reaped++;
		}
		QUIET_ASSERT(vq_split_drv_reap(&d, &token, &len, NULL) == 0);
		QUIET_ASSERT(d.num_free == num);
	}

	ck_assert_uint_eq(vq_split_dev_get_base(&v), (uint16_t)(base + target));
	ck_assert_uint_eq(d.last_used, (uint16_t)(base + target));
	ck_assert_uint_eq(vq_load16(&d.used->idx), (uint16_t)(base + target));
	ck_assert_uint_eq(vq_load16(&d.avail->idx), (uint16_t)(base + target));
	rig_close();
}

START_TEST(laps_plain)
{
	run_laps(sizes[_i], 0, 0, false, false);
}
END_TEST

/* Starts near 65535 so every size wraps the free-running indices. */
START_TEST(laps_event_indirect_reversed)
{
	run_laps(sizes[_i], F_EVENT | F_INDIRECT, 65530, true, true);
}
END_TEST

START_TEST(laps_indirect_from_high_base)
{
	run_laps(sizes[_i], F_INDIRECT, 65535, true, false);
}
END_TEST

/* What the driver writes: the spec's layout, exactly. */
START_TEST(driver_layout)
{
	struct vq_buf b[3];
	struct virtq_desc *t;
	int head, h2;
	uint16_t i;

	rig_open(8, F_INDIRECT, 0);
	b[0] = mkbuf(1, 0, 8, false);
	b[1] = mkbuf(1, 1, 16, true);
	b[2] = mkbuf(1, 2, 24, true);
	head = vq_split_drv_add(&d, b, 3, false, 1);
	ck_assert_int_ge(head, 0);
	for (i = (uint16_t)head; i < 3; i = le16toh(d.desc[i].next)) {
		unsigned int k = i - (unsigned int)head;
		uint16_t f = le16toh(d.desc[i].flags);

		ck_assert_uint_eq(le64toh(d.desc[i].addr), b[k].gpa);
		ck_assert_uint_eq(le32toh(d.desc[i].len), b[k].len);
		ck_assert_uint_eq(f & VIRTQ_DESC_F_WRITE,
				  b[k].writable ? VIRTQ_DESC_F_WRITE : 0);
		ck_assert_uint_eq(f & VIRTQ_DESC_F_NEXT,
				  k < 2 ? VIRTQ_DESC_F_NEXT : 0);
		ck_assert_uint_eq(f & VIRTQ_DESC_F_INDIRECT, 0);
		if (k == 2)
			break;
	}
	ck_assert_uint_eq(vq_load16(&d.avail->ring[0]), head);
	/* Not visible before publishing. */
	ck_assert_uint_eq(vq_load16(&d.avail->idx), 0);

	h2 = vq_split_drv_add(&d, b, 2, true, 2);
	ck_assert_int_ge(h2, 0);
	ck_assert_uint_eq(le16toh(d.desc[h2].flags), VIRTQ_DESC_F_INDIRECT);
	ck_assert_uint_eq(le32toh(d.desc[h2].len), 32);
	ck_assert_uint_eq(le64toh(d.desc[h2].addr),
			  d.ind_gpa + (uint64_t)h2 * IND_MAX * 16);
	t = (struct virtq_desc *)hva_of(le64toh(d.desc[h2].addr), 32);
	ck_assert_uint_eq(le64toh(t[0].addr), b[0].gpa);
	ck_assert_uint_eq(le16toh(t[0].flags), VIRTQ_DESC_F_NEXT);
	ck_assert_uint_eq(le16toh(t[0].next), 1);
	ck_assert_uint_eq(le32toh(t[1].len), 16);
	ck_assert_uint_eq(le16toh(t[1].flags), VIRTQ_DESC_F_WRITE);
	ck_assert_uint_eq(vq_load16(&d.avail->ring[1]), h2);
	ck_assert_uint_eq(d.num_free, 4);

	ck_assert_uint_eq(vq_split_drv_publish(&d), 2);
	ck_assert_uint_eq(vq_load16(&d.avail->idx), 2);
	ck_assert_uint_eq(vq_split_drv_publish(&d), 0);
}
END_TEST

/* Chains complete in any order; the free list must follow. */
START_TEST(out_of_order)
{
	static const unsigned int order[] = { 3, 0, 4, 1, 2 };
	struct vq_buf b[2], cb[4];
	struct vq_chain c = { .bufs = cb, .cap = 4 };
	int heads[5];
	uint64_t token;
	uint32_t len;
	unsigned int k;

	rig_open(8, 0, 0);
	for (k = 0; k < 5; k++) {
		b[0] = mkbuf(k, 0, 8, false);
		b[1] = mkbuf(k, 1, 16, true);
		heads[k] = vq_split_drv_add(&d, b, k % 2 + 1, false, 100 + k);
		ck_assert_int_ge(heads[k], 0);
	}
	vq_split_drv_publish(&d);
	for (k = 0; k < 5; k++) {
		ck_assert_int_eq(vq_split_dev_pop(&v, &c, NULL), 1);
		ck_assert_int_eq(c.id, heads[k]);
	}
	/* Chains with an odd index have a writable buffer. */
	for (k = 0; k < 5; k++)
		ck_assert_int_eq(
			vq_split_dev_push(&v, (unsigned int)heads[order[k]],
					  order[k] % 2 ? order[k] : 0),
			0);
	for (k = 0; k < 5; k++) {
		ck_assert_int_eq(vq_split_drv_reap(&d, &token, &len, NULL), 1);
		ck_assert_uint_eq(token, 100 + order[k]);
		ck_assert_uint_eq(len, order[k] % 2 ? order[k] : 0);
	}
	ck_assert_uint_eq(d.num_free, 8);
	/* Every descriptor is reusable: 8 one-buffer chains fill the ring. */
	for (k = 0; k < 8; k++)
		ck_assert_int_ge(vq_split_drv_add(&d, b, 1, false, k), 0);
	ck_assert_int_eq(vq_split_drv_add(&d, b, 1, false, 9), -ENOSPC);
	ck_assert_uint_eq(d.num_free, 0);
	vq_split_drv_publish(&d);
	for (k = 0; k < 8; k++)
		ck_assert_int_eq(vq_split_dev_pop(&v, &c, NULL), 1);
	ck_assert_int_eq(vq_split_dev_pop(&v, &c, NULL), 0);
}
END_TEST

/* ---- Notification suppression ---- */

/* One readable buffer, added and published. */
static int add_one(uint64_t token)
{
	struct vq_buf b = mkbuf(0, 0, 16, false);
	int head = vq_split_drv_add(&d, &b, 1, false, token);

	ck_assert_int_ge(head, 0);
	vq_split_drv_publish(&d);
	return head;
}

static unsigned int pop_push_all(void)
{
	struct vq_buf cb[4];
	struct vq_chain c = { .bufs = cb, .cap = 4 };
	unsigned int n = 0;

	while (vq_split_dev_pop(&v, &c, NULL) == 1) {
		ck_assert_int_eq(vq_split_dev_push(&v, c.id, 0), 0);
		n++;
	}
	return n;
}

static unsigned int reap_all(void)
{
	uint64_t token;
	uint32_t len;
	unsigned int n = 0;

	while (vq_split_drv_reap(&d, &token, &len, NULL) == 1)
		n++;
	return n;
}

static uint16_t *avail_event_ptr(void)
{
	return (uint16_t *)((uint8_t *)d.used + 4 + 8 * d.num);
}

static uint16_t avail_event(void)
{
	return vq_load16(avail_event_ptr());
}

static uint16_t used_event(void)
{
	return vq_load16(&d.avail->ring[d.num]);
}

START_TEST(notify_plain_flags)
{
	struct vq_buf cb[4];
	struct vq_chain c = { .bufs = cb, .cap = 4 };

	rig_open(4, 0, 0);
	/* Used buffer notifications: the avail flags. */
	add_one(1);
	ck_assert(vq_split_drv_kick_needed(&d));  /* used flags 0: MUST */
	ck_assert(!vq_split_drv_kick_needed(&d)); /* nothing new */
	ck_assert_uint_eq(pop_push_all(), 1);
	ck_assert(vq_split_dev_should_notify(&v)); /* avail flags 0: MUST */
	ck_assert(!vq_split_dev_should_notify(&v));
	/* Used entries are waiting. */
	ck_assert(vq_split_drv_enable_notify(&d));
	ck_assert_uint_eq(reap_all(), 1);
	ck_assert(!vq_split_drv_enable_notify(&d));

	vq_split_drv_disable_notify(&d);
	ck_assert_uint_eq(vq_load16(&d.avail->flags),
			  VIRTQ_AVAIL_F_NO_INTERRUPT);
	add_one(2);
	ck_assert_uint_eq(pop_push_all(), 1);
	ck_assert(!vq_split_dev_should_notify(&v));
	/* Without VIRTIO_F_EVENT_IDX used_event means nothing. */
	vq_split_drv_set_avail_flags(&d, 0);
	vq_split_drv_set_used_event(&d, 0x1234);
	add_one(3);
	ck_assert_uint_eq(pop_push_all(), 1);
	ck_assert(vq_split_dev_should_notify(&v));
	ck_assert_uint_eq(reap_all(), 2);

	/* Available buffer notifications: the used flags. */
	vq_split_dev_disable_notify(&v);
	ck_assert_uint_eq(vq_load16(&d.used->flags), VIRTQ_USED_F_NO_NOTIFY);
	add_one(4);
	ck_assert(!vq_split_drv_kick_needed(&d));
	/* Re-enabling finds the buffer made available meanwhile. */
	ck_assert(vq_split_dev_enable_notify(&v));
	ck_assert_uint_eq(vq_load16(&d.used->flags), 0);
	ck_assert_int_eq(vq_split_dev_pop(&v, &c, NULL), 1);
	ck_assert_int_eq(vq_split_dev_push(&v, c.id, 0), 0);
	ck_assert(!vq_split_dev_enable_notify(&v));
	/* Without VIRTIO_F_EVENT_IDX avail_event means nothing. */
	vq_store16(avail_event_ptr(), 0x4321);
	add_one(5);
	ck_assert(vq_split_drv_kick_needed(&d));
	ck_assert_uint_eq(pop_push_all(), 1);
	ck_assert_uint_eq(reap_all(), 2);
}
END_TEST

START_TEST(notify_event_idx_device)
{
	const uint16_t b = 65533; /* the used index wraps on the way */
	unsigned int k;

	rig_open(8, F_EVENT, b);
	/* "The device MUST ignore the lower bit of flags." */
	vq_split_drv_set_avail_flags(&d, VIRTQ_AVAIL_F_NO_INTERRUPT);

	/* Notify exactly when the entry at used_event is written. */
	vq_split_drv_set_used_event(&d, (uint16_t)(b + 2));
	for (k = 0; k < 4; k++)
		add_one(k);
	ck_assert_uint_eq(pop_push_all(), 4);	   /* pushes one at a time... */
	ck_assert(vq_split_dev_should_notify(&v)); /* ...b+2 among them */

	for (k = 0; k < 4; k++)
		add_one(k);
	{
		struct vq_buf cb[4];
		struct vq_chain c = { .bufs = cb, .cap = 4 };
		bool want[] = { false, false, true, false };

		ck_assert_uint_eq(reap_all(), 4);
		/* used idx is b+4; used_event b+6 is index 1 after wrap. */
		vq_split_drv_set_used_event(&d, (uint16_t)(b + 6));
		for (k = 0; k < 4; k++) {
			ck_assert_int_eq(vq_split_dev_pop(&v, &c, NULL), 1);
			ck_assert_int_eq(vq_split_dev_push(&v, c.id, 0), 0);
			ck_assert_int_eq(vq_split_dev_should_notify(&v),
					 want[k]);
		}
	}
	ck_assert_uint_eq(reap_all(), 4);

	/* Past used_event: nothing more until it comes round again. */
	for (k = 0; k < 3; k++)
		add_one(k);
	ck_assert_uint_eq(pop_push_all(), 3);
	ck_assert(!vq_split_dev_should_notify(&v));
	ck_assert_uint_eq(reap_all(), 3);

	/* The driver's own setters. */
	ck_assert(!vq_split_drv_enable_notify(&d));
	ck_assert_uint_eq(used_event(), d.last_used);
	ck_assert_uint_eq(vq_load16(&d.avail->flags),
			  VIRTQ_AVAIL_F_NO_INTERRUPT); /* untouched */
	add_one(9);
	ck_assert_uint_eq(pop_push_all(), 1);
	ck_assert(vq_split_dev_should_notify(&v));
	ck_assert(vq_split_drv_enable_notify(&d)); /* one waiting */
	ck_assert_uint_eq(reap_all(), 1);

	vq_split_drv_disable_notify(&d);
	for (k = 0; k < 8; k++) {
		add_one(k);
		ck_assert_uint_eq(pop_push_all(), 1);
		ck_assert(!vq_split_dev_should_notify(&v));
		ck_assert_uint_eq(reap_all(), 1);
	}
}
END_TEST

START_TEST(notify_event_idx_driver)
{
	uint16_t x;
	unsigned int k;

	rig_open(8, F_EVENT, 65534);
	x = 65534;
	/* A fresh ring has avail_event 0, far from 65534. */
	add_one(0);
	ck_assert(!vq_split_drv_kick_needed(&d));
	ck_assert_uint_eq(pop_push_all(), 1);
	ck_assert_uint_eq(reap_all(), 1);
	x++;

	ck_assert(!vq_split_dev_enable_notify(&v));
	ck_assert_uint_eq(avail_event(), x);
	/* "The device MUST set flags to 0" with VIRTIO_F_EVENT_IDX. */
	ck_assert_uint_eq(vq_load16(&d.used->flags), 0);

	add_one(1); /* written at index x == avail_event: MUST kick */
	ck_assert(vq_split_drv_kick_needed(&d));
	add_one(2);
	ck_assert(!vq_split_drv_kick_needed(&d));
	add_one(3);
	add_one(4);
	ck_assert(!vq_split_drv_kick_needed(&d));

	ck_assert_uint_eq(pop_push_all(), 4);
	ck_assert_uint_eq(reap_all(), 4);
	x += 4;
	ck_assert(!vq_split_dev_enable_notify(&v));
	ck_assert_uint_eq(avail_event(), x);
	/* Two at once, the first at avail_event: one kick for both. */
	add_one(5);
	add_one(6);
	ck_assert(vq_split_drv_kick_needed(&d));

	/* Disabled: the next one is not kicked. */
	vq_split_dev_disable_notify(&v);
	ck_assert_uint_eq(vq_load16(&d.used->flags), 0);
	add_one(7);
	ck_assert(!vq_split_drv_kick_needed(&d));
	/* Three are waiting when the device re-enables. */
	ck_assert(vq_split_dev_enable_notify(&v));
	ck_assert_uint_eq(pop_push_all(), 3);
	ck_assert_uint_eq(reap_all(), 3);
	ck_assert(!vq_split_dev_enable_notify(&v));
	/* Disabled with nothing waiting: not even the next entry kicks. */
	vq_split_dev_disable_notify(&v);
	add_one(8);
	ck_assert(!vq_split_drv_kick_needed(&d));
	ck_assert(vq_split_dev_enable_notify(&v));
	ck_assert_uint_eq(pop_push_all(), 1);
	ck_assert_uint_eq(reap_all(), 1);
	ck_assert(!vq_split_dev_enable_notify(&v));

	/* "The driver MUST ignore the lower bit of flags." */
	d.used->flags = htole16(VIRTQ_USED_F_NO_NOTIFY);
	add_one(8);
	ck_assert(vq_split_drv_kick_needed(&d));
	for (k = 0; k < 3; k++) {
		ck_assert_uint_eq(pop_push_all(), k == 0);
		ck_assert_uint_eq(reap_all(), k == 0);
	}
}
END_TEST

/* ---- Hostile constructs ---- */

struct hostile_case {
	enum vq_hostile h;
	unsigned int variant;
	int err;
};

static const struct hostile_case hostile_cases[] = {
	{ VQ_HOSTILE_LOOP_SELF, 0, -ELOOP },
	{ VQ_HOSTILE_LOOP_NEXT, 0, -ELOOP },
	{ VQ_HOSTILE_CHAIN_TOO_LONG, 0, -ELOOP },
	{ VQ_HOSTILE_CHAIN_TOO_LONG, 1, -ELOOP },
	{ VQ_HOSTILE_INDIRECT_NESTED, 0, -EINVAL },
	{ VQ_HOSTILE_INDIRECT_BAD_LEN, 0, -EINVAL },
	{ VQ_HOSTILE_INDIRECT_BAD_LEN, 1, -EINVAL },
	{ VQ_HOSTILE_ADDR_OUTSIDE, 0, -EFAULT },
	{ VQ_HOSTILE_ADDR_STRADDLE, 0, -EFAULT },
	{ VQ_HOSTILE_ZERO_LEN, 0, -EINVAL },
	{ VQ_HOSTILE_NEXT_OUT_OF_RANGE, 0, -EINVAL },
	{ VQ_HOSTILE_NEXT_OUT_OF_RANGE, 1, -EINVAL },
	{ VQ_HOSTILE_AVAIL_JUMP, 0, -EINVAL },
	{ VQ_HOSTILE_HEAD_OUT_OF_RANGE, 0, -EINVAL },
	{ VQ_HOSTILE_HEAD_OUT_OF_RANGE, 1, -EINVAL },
};

static void check_hostile(unsigned int num, const struct hostile_case *hc)
{
	struct vq_buf cb[8];
	struct vq_chain c = { .bufs = cb, .cap = 8 };
	const char *why = NULL;
	uint64_t token;
	uint32_t len, base;
	int ret;

	rig_open(num, F_INDIRECT | F_EVENT, 40000);
	/* One good chain first, so the construct is not at entry 0. */
	add_one(1);
	ck_assert_uint_eq(pop_push_all(), 1);
	ck_assert_uint_eq(reap_all(), 1);

	base = vq_split_dev_get_base(&v);
	ret = vq_split_drv_hostile(&d, hc->h, hc->variant);
	ck_assert_msg(ret >= 0, "hostile %d/%u: %d", hc->h, hc->variant, ret);
	ck_assert_int_lt(ret, (int)num);
	ret = vq_split_dev_pop(&v, &c, &why);
	ck_assert_msg(ret == hc->err, "hostile %d/%u on size %u: %d (%s)",
		      hc->h, hc->variant, num, ret, why ? why : "");
	ck_assert_ptr_nonnull(why);
	/* Nothing consumed, and the same answer again. */
	ck_assert_uint_eq(vq_split_dev_get_base(&v), base);
	why = NULL;
	ck_assert_int_eq(vq_split_dev_pop(&v, &c, &why), hc->err);
	ck_assert_ptr_nonnull(why);
	ck_assert_uint_eq(vq_split_dev_get_base(&v), base);
	/* Nothing came back either. */
	ck_assert_int_eq(vq_split_drv_reap(&d, &token, &len, NULL), 0);
	rig_close();
}

START_TEST(hostile_each)
{
	unsigned int k;

	for (k = 0; k < ARRAY_SIZE(hostile_cases); k++)
		check_hostile(sizes[_i], &hostile_cases[k]);
}
END_TEST

START_TEST(hostile_misc)
{
	struct vq_buf cb[4];
	struct vq_chain c = { .bufs = cb, .cap = 4 };
	const char *why = NULL;
	uint64_t token;
	uint32_t len;
	int head;

	rig_open(8, F_INDIRECT, 0);
	ck_assert_int_eq(vq_split_drv_hostile(&d, VQ_HOSTILE_WRAP_LIE, 0),
			 -ENOTSUP);
	ck_assert_int_eq(vq_split_drv_hostile(&d, VQ_HOSTILE_MAX, 0), -ENOTSUP);
	ck_assert_int_eq(vq_split_drv_hostile(&d, VQ_HOSTILE_LOOP_SELF, 1),
			 -EINVAL);
	ck_assert_int_eq(
		vq_split_drv_hostile(&d, VQ_HOSTILE_INDIRECT_BAD_LEN, 2),
		-EINVAL);
	/* Whole-ring loop needs every descriptor; nothing is written. */
	add_one(1);
	ck_assert_int_eq(vq_split_drv_hostile(&d, VQ_HOSTILE_CHAIN_TOO_LONG, 0),
			 -ENOSPC);
	ck_assert_uint_eq(vq_load16(&d.avail->idx), 1);
	ck_assert_uint_eq(pop_push_all(), 1);
	ck_assert_uint_eq(reap_all(), 1);

	/* Rewritten after the kick: popped before, the old chain... */
	head = vq_split_drv_hostile(&d, VQ_HOSTILE_REWRITE_AFTER_KICK, 0);
	ck_assert_int_ge(head, 0);
	ck_assert_int_eq(vq_split_dev_pop(&v, &c, NULL), 1);
	ck_assert_int_eq(c.id, head);
	ck_assert_uint_eq(c.n, 1);
	ck_assert_uint_eq(c.bufs[0].gpa, d.scratch_gpa);
	ck_assert_int_eq(vq_split_drv_rewrite(&d, (unsigned int)head), 0);
	ck_assert_int_eq(vq_split_dev_push(&v, c.id, 0), 0);
	ck_assert_int_eq(vq_split_drv_reap(&d, &token, &len, NULL), 1);
	ck_assert_int_eq(vq_split_drv_rewrite(&d, (unsigned int)head), -EINVAL);
	ck_assert_int_eq(vq_split_drv_rewrite(&d, 8), -EINVAL);
	/* ...popped after, a fault. */
	head = vq_split_drv_hostile(&d, VQ_HOSTILE_REWRITE_AFTER_KICK, 0);
	ck_assert_int_ge(head, 0);
	ck_assert_int_eq(vq_split_drv_rewrite(&d, (unsigned int)head), 0);
	ck_assert_int_eq(vq_split_dev_pop(&v, &c, &why), -EFAULT);

	/* An indirect table where the device did not negotiate them. */
	rig_open(8, 0, 0);
	ck_assert_int_ge(vq_split_drv_hostile(&d, VQ_HOSTILE_CHAIN_TOO_LONG, 1),
			 0);
	ck_assert_int_eq(vq_split_dev_pop(&v, &c, &why), -EPROTO);
}
END_TEST

/* ---- Rules the device checks beyond the hostile list ---- */

START_TEST(device_rules)
{
	struct vq_buf b[4], cb[4];
	struct vq_chain c = { .bufs = cb, .cap = 4 };
	const char *why = NULL;
	struct virtq_desc *t;
	uint64_t tgpa;
	int head;

	/* INDIRECT without VIRTIO_F_INDIRECT_DESC. */
	rig_open(8, 0, 0);
	b[0] = mkbuf(0, 0, 16, false);
	ck_assert_int_ge(vq_split_drv_add(&d, b, 1, true, 1), 0);
	vq_split_drv_publish(&d);
	ck_assert_int_eq(vq_split_dev_pop(&v, &c, &why), -EPROTO);

	/* INDIRECT together with NEXT. */
	rig_open(8, F_INDIRECT, 0);
	b[0] = mkbuf(0, 0, 16, false);
	head = vq_split_drv_add(&d, b, 1, true, 1);
	ck_assert_int_ge(head, 0);
	d.desc[head].flags |= htole16(VIRTQ_DESC_F_NEXT);
	vq_split_drv_publish(&d);
	ck_assert_int_eq(vq_split_dev_pop(&v, &c, &why), -EINVAL);

	/* A readable buffer after a writable one, direct and indirect. */
	rig_open(8, F_INDIRECT, 0);
	b[0] = mkbuf(0, 0, 16, true);
	b[1] = mkbuf(0, 1, 16, false);
	ck_assert_int_ge(vq_split_drv_add(&d, b, 2, false, 1), 0);
	vq_split_drv_publish(&d);
	ck_assert_int_eq(vq_split_dev_pop(&v, &c, &why), -EINVAL);
	rig_open(8, F_INDIRECT, 0);
	ck_assert_int_ge(vq_split_drv_add(&d, b, 2, true, 1), 0);
	vq_split_drv_publish(&d);
	ck_assert_int_eq(vq_split_dev_pop(&v, &c, &why), -EINVAL);

	/* WRITE on the descriptor naming a table is ignored. */
	rig_open(8, F_INDIRECT, 0);
	b[0] = mkbuf(0, 0, 16, false);
	b[1] = mkbuf(0, 1, 32, true);
	head = vq_split_drv_add(&d, b, 2, true, 1);
	d.desc[head].flags |= htole16(VIRTQ_DESC_F_WRITE);
	vq_split_drv_publish(&d);
	ck_assert_int_eq(vq_split_dev_pop(&v, &c, &why), 1);
	ck_assert_uint_eq(c.n, 2);
	ck_assert(!c.bufs[0].writable);
	ck_assert(c.bufs[1].writable);
	ck_assert_uint_eq(c.readable_len, 16);
	ck_assert_uint_eq(c.writable_len, 32);

	/* Direct descriptors, then one naming a table: legal. */
	ck_assert_int_eq(gmem_alloc(&g, 32, 16, &tgpa), 0);
	t = (struct virtq_desc *)hva_of(tgpa, 32);
	t[0] = (struct virtq_desc){ htole64(buf_gpa + 64), htole32(8),
				    htole16(VIRTQ_DESC_F_NEXT), htole16(1) };
	t[1] = (struct virtq_desc){ htole64(buf_gpa + 128), htole32(24),
				    htole16(VIRTQ_DESC_F_WRITE), 0 };
	b[0] = mkbuf(3, 0, 4, false);
	b[1] = mkbuf(3, 1, 4, false);
	head = vq_split_drv_add(&d, b, 2, false, 2);
	ck_assert_int_ge(head, 0);
	{
		struct virtq_desc *second = &d.desc[le16toh(d.desc[head].next)];

		second->addr = htole64(tgpa);
		second->len = htole32(32);
		second->flags = htole16(VIRTQ_DESC_F_INDIRECT);
	}
	vq_split_drv_publish(&d);
	ck_assert_int_eq(vq_split_dev_pop(&v, &c, &why), 1);
	ck_assert_int_eq(c.id, head);
	ck_assert_uint_eq(c.ndesc, 2);
	ck_assert_uint_eq(c.n, 3);
	ck_assert_uint_eq(c.bufs[0].gpa, b[0].gpa);
	ck_assert_uint_eq(c.bufs[1].gpa, buf_gpa + 64);
	ck_assert_uint_eq(c.bufs[2].gpa, buf_gpa + 128);
	ck_assert_uint_eq(c.readable_len, 12);
	ck_assert_uint_eq(c.writable_len, 24);

	/* A scatter list too short: -ENOSPC, nothing consumed, retry. */
	rig_open(8, 0, 0);
	b[0] = mkbuf(0, 0, 1, false);
	b[1] = mkbuf(0, 1, 2, false);
	b[2] = mkbuf(0, 2, 3, true);
	b[3] = mkbuf(0, 3, 4, true);
	ck_assert_int_ge(vq_split_drv_add(&d, b, 4, false, 1), 0);
	vq_split_drv_publish(&d);
	c.cap = 2;
	ck_assert_int_eq(vq_split_dev_pop(&v, &c, &why), -ENOSPC);
	ck_assert_uint_eq(c.n, 4);
	ck_assert_uint_eq(c.bufs[1].len, 2);
	ck_assert_uint_eq(vq_split_dev_get_base(&v), 0);
	c.cap = 0;
	c.bufs = NULL;
	ck_assert_int_eq(vq_split_dev_pop(&v, &c, &why), -ENOSPC);
	ck_assert_uint_eq(c.n, 4);
	c.cap = 4;
	c.bufs = cb;
	ck_assert_int_eq(vq_split_dev_pop(&v, &c, &why), 1);
	ck_assert_uint_eq(c.readable_len, 3);
	ck_assert_uint_eq(c.writable_len, 7);
	ck_assert_uint_eq(vq_split_dev_get_base(&v), 1);
}
END_TEST

/* "Drivers MUST NOT add a descriptor chain longer than 2^32 bytes." */
START_TEST(chain_total_length)
{
	const uint64_t big = 1ULL << 40, half = 1ULL << 31;
	struct vq_buf b[2], cb[2];
	struct vq_chain c = { .bufs = cb, .cap = 2 };
	const char *why = NULL;

	/* Sparse: nothing but the rings is ever touched. */
	ck_assert_int_eq(
		gmem_add_memfd(&g, big, (1ULL << 32) + (1 << 21), NULL), 0);
	ck_assert_int_eq(vq_split_drv_init(&d, &g, 4, 0, 0), 0);
	rig_up = true;
	ck_assert_int_eq(vq_split_dev_init_addr(&v, &g, 4, 0, d.desc_gpa,
						d.avail_gpa, d.used_gpa, false),
			 0);
	b[0] = (struct vq_buf){ .gpa = big + (1 << 20),
				.len = half,
				.writable = true };
	b[1] = (struct vq_buf){ .gpa = big + (1 << 20) + half,
				.len = half,
				.writable = true };
	ck_assert_int_ge(vq_split_drv_add(&d, b, 2, false, 1), 0);
	vq_split_drv_publish(&d);
	ck_assert_int_eq(vq_split_dev_pop(&v, &c, &why), 1);
	ck_assert_uint_eq(c.writable_len, 1ULL << 32);

	b[1].len = (uint32_t)half + 1;
	ck_assert_int_ge(vq_split_drv_add(&d, b, 2, false, 2), 0);
	vq_split_drv_publish(&d);
	ck_assert_int_eq(vq_split_dev_pop(&v, &c, &why), -EINVAL);
}
END_TEST

/* ---- What the driver checks of the device ---- */

START_TEST(reap_rejects)
{
	struct vq_buf b[2], cb[2];
	struct vq_chain c = { .bufs = cb, .cap = 2 };
	const char *why = NULL;
	uint64_t token = 0;
	uint32_t len = 0;
	int h0, h1;

	/* An id the device invented: nothing is in flight. */
	rig_open(8, 0, 0);
	ck_assert_int_eq(vq_split_dev_push(&v, 3, 0), 0);
	ck_assert_int_eq(vq_split_drv_reap(&d, &token, &len, &why), -EPROTO);
	ck_assert_ptr_nonnull(why);
	ck_assert_int_eq(vq_split_drv_reap(&d, &token, &len, NULL), -EPROTO);
	ck_assert_uint_eq(d.last_used, 0);

	/* An id that is in the table but not a head in flight. */
	rig_open(8, 0, 0);
	b[0] = mkbuf(0, 0, 8, false);
	b[1] = mkbuf(0, 1, 8, true);
	h0 = vq_split_drv_add(&d, b, 2, false, 10);
	vq_split_drv_publish(&d);
	ck_assert_int_eq(vq_split_dev_pop(&v, &c, NULL), 1);
	ck_assert_int_eq(vq_split_dev_push(&v, le16toh(d.desc[h0].next), 0), 0);
	ck_assert_int_eq(vq_split_drv_reap(&d, &token, &len, &why), -EPROTO);

	/* The same head returned twice. */
	rig_open(8, 0, 0);
	h0 = add_one(10);
	h1 = add_one(11);
	ck_assert_int_eq(vq_split_dev_pop(&v, &c, NULL), 1);
	ck_assert_int_eq(vq_split_dev_pop(&v, &c, NULL), 1);
	ck_assert_int_eq(vq_split_dev_push(&v, (unsigned int)h0, 0), 0);
	ck_assert_int_eq(vq_split_dev_push(&v, (unsigned int)h0, 0), 0);
	ck_assert_int_eq(vq_split_drv_reap(&d, &token, &len, NULL), 1);
	ck_assert_uint_eq(token, 10);
	ck_assert_int_eq(vq_split_drv_reap(&d, &token, &len, &why), -EPROTO);
	ck_assert_uint_eq(d.num_free, 7); /* h1 still out */
	(void)h1;

	/* Ids beyond the table, written raw. */
	rig_open(8, 0, 0);
	add_one(1);
	d.used->ring[0].id = htole32(8);
	vq_store16(&d.used->idx, 1);
	ck_assert_int_eq(vq_split_drv_reap(&d, &token, &len, &why), -EINVAL);
	d.used->ring[0].id = htole32(0xffffffff);
	ck_assert_int_eq(vq_split_drv_reap(&d, &token, &len, &why), -EINVAL);
	d.used->ring[0].id = htole32(0);
	ck_assert_int_eq(vq_split_drv_reap(&d, &token, &len, &why), 1);

	/* A used index more than a queue ahead. */
	rig_open(8, 0, 0);
	add_one(1);
	vq_store16(&d.used->idx, 9);
	ck_assert_int_eq(vq_split_drv_reap(&d, &token, &len, &why), -EINVAL);
	ck_assert_uint_eq(d.last_used, 0);

	/* len beyond the writable bytes: reported, and consumed. */
	rig_open(8, 0, 0);
	b[0] = mkbuf(0, 0, 16, false);
	b[1] = mkbuf(0, 1, 32, true);
	h0 = vq_split_drv_add(&d, b, 2, false, 20);
	h1 = vq_split_drv_add(&d, b, 2, false, 21);
	vq_split_drv_publish(&d);
	ck_assert_int_eq(vq_split_dev_pop(&v, &c, NULL), 1);
	ck_assert_int_eq(vq_split_dev_pop(&v, &c, NULL), 1);
	ck_assert_int_eq(vq_split_dev_push(&v, (unsigned int)h0, 33), 0);
	ck_assert_int_eq(vq_split_dev_push(&v, (unsigned int)h1, 32), 0);
	ck_assert_int_eq(vq_split_drv_reap(&d, &token, &len, &why), -EMSGSIZE);
	ck_assert_uint_eq(token, 20);
	ck_assert_uint_eq(len, 33);
	ck_assert_int_eq(vq_split_drv_reap(&d, &token, &len, &why), 1);
	ck_assert_uint_eq(token, 21);
	ck_assert_uint_eq(len, 32);
	ck_assert_uint_eq(d.num_free, 8);
	/* Readable only: any non-zero len is too much. */
	h0 = add_one(22);
	ck_assert_int_eq(vq_split_dev_pop(&v, &c, NULL), 1);
	ck_assert_int_eq(vq_split_dev_push(&v, (unsigned int)h0, 1), 0);
	ck_assert_int_eq(vq_split_drv_reap(&d, &token, &len, &why), -EMSGSIZE);
	/* And the device side refuses an id beyond the table. */
	ck_assert_int_eq(vq_split_dev_push(&v, 8, 0), -EINVAL);
}
END_TEST

/* ---- Set-up checks ---- */

START_TEST(init_checks)
{
	uint64_t dsz = 0, asz = 0, usz = 0, uva;
	struct vq_split_drv e;
	struct vq_split_dev w;
	static struct gmem small;
	unsigned int k;

	ck_assert(!vq_split_size_ok(0));
	ck_assert(vq_split_size_ok(1));
	ck_assert(vq_split_size_ok(2));
	ck_assert(!vq_split_size_ok(3));
	ck_assert(!vq_split_size_ok(384));
	ck_assert(vq_split_size_ok(32768));
	ck_assert(!vq_split_size_ok(65536));
	ck_assert_int_eq(vq_split_part_sizes(256, 0, &dsz, &asz, &usz), 0);
	ck_assert_uint_eq(dsz, 4096);
	ck_assert_uint_eq(asz, 516);
	ck_assert_uint_eq(usz, 2052);
	ck_assert_int_eq(vq_split_part_sizes(256, F_EVENT, NULL, &asz, &usz),
			 0);
	ck_assert_uint_eq(asz, 518);
	ck_assert_uint_eq(usz, 2054);
	ck_assert_int_eq(vq_split_part_sizes(3, 0, &dsz, NULL, NULL), -EINVAL);

	rig_open(8, F_EVENT, 0);
	ck_assert_int_eq(vq_split_drv_init(&e, &g, 0, 0, 0), -EINVAL);
	ck_assert_int_eq(vq_split_drv_init(&e, &g, 12, 0, 0), -EINVAL);
	ck_assert_int_eq(vq_split_drv_init(&e, &g, 65536, 0, 0), -EINVAL);
	ck_assert_int_eq(vq_split_drv_init(&e, &g, 8, 0, VQ_MAX_SIZE + 1),
			 -EINVAL);

	/* The spec's alignment, on the addresses given. */
	ck_assert_int_eq(vq_split_dev_init_addr(&w, &g, 8, F_EVENT,
						d.desc_gpa + 8, d.avail_gpa,
						d.used_gpa, false),
			 -EINVAL);
	ck_assert_int_eq(vq_split_dev_init_addr(&w, &g, 8, F_EVENT, d.desc_gpa,
						d.avail_gpa + 1, d.used_gpa,
						false),
			 -EINVAL);
	ck_assert_int_eq(vq_split_dev_init_addr(&w, &g, 8, F_EVENT, d.desc_gpa,
						d.avail_gpa, d.used_gpa + 2,
						false),
			 -EINVAL);
	ck_assert_int_eq(vq_split_dev_init_addr(&w, &g, 6, F_EVENT, d.desc_gpa,
						d.avail_gpa, d.used_gpa, false),
			 -EINVAL);
	/* Whole parts inside one region. */
	ck_assert_int_eq(vq_split_dev_init_addr(&w, &g, 8, F_EVENT,
						RGPA + region_size - 64,
						d.avail_gpa, d.used_gpa, false),
			 -EFAULT);
	ck_assert_int_eq(vq_split_dev_init_addr(&w, &g, 8, F_EVENT, d.desc_gpa,
						RGPA + region_size - 20,
						d.used_gpa, false),
			 -EFAULT);
	ck_assert_int_eq(vq_split_dev_init_addr(&w, &g, 8, F_EVENT, d.desc_gpa,
						d.avail_gpa, RGPA - 4, false),
			 -EFAULT);
	/* Guest addresses are not user addresses. */
	ck_assert_int_eq(vq_split_dev_init_addr(&w, &g, 8, F_EVENT, d.desc_gpa,
						d.avail_gpa, d.used_gpa, true),
			 -EFAULT);
	ck_assert_int_eq(vq_split_dev_init(&w, &g, 8, 0, d.desc, NULL, d.used),
			 -EINVAL);
	ck_assert_int_eq(vq_split_dev_init(&w, &g, 8, 0, d.desc,
					   (void *)((uint8_t *)d.avail + 1),
					   d.used),
			 -EINVAL);
	ck_assert_int_eq(vq_split_dev_init(&w, &g, 8, 0, d.desc, d.avail,
					   (void *)((uint8_t *)d.used + 2)),
			 -EINVAL);

	/* By user address, as VHOST_USER_SET_VRING_ADDR sends them. */
	uva = g.r[0].uaddr - RGPA;
	ck_assert_int_eq(vq_split_dev_init_addr(
				 &w, &g, 8, F_EVENT, d.desc_gpa + uva,
				 d.avail_gpa + uva, d.used_gpa + uva, true),
			 0);
	ck_assert_uint_eq(w.used_idx, 0);
	/* The next used entry comes from the ring, at init and at
	 * SET_VRING_BASE. */
	ck_assert_int_eq(vq_split_drv_set_base(&d, 0x10000), -EINVAL);
	ck_assert_int_eq(vq_split_drv_set_base(&d, 100), 0);
	ck_assert_uint_eq(vq_split_dev_get_base(&w), 0);
	ck_assert_int_eq(vq_split_dev_set_base(&w, 0x10000), -EINVAL);
	ck_assert_uint_eq(vq_split_dev_get_base(&w), 0);
	ck_assert_int_eq(vq_split_dev_set_base(&w, 100), 0);
	ck_assert_uint_eq(vq_split_dev_get_base(&w), 100);
	ck_assert_uint_eq(w.used_idx, 100);
	ck_assert_int_eq(vq_split_dev_init_addr(&v, &g, 8, F_EVENT, d.desc_gpa,
						d.avail_gpa, d.used_gpa, false),
			 0);
	ck_assert_uint_eq(v.used_idx, 100);
	v = w;
	add_one(7);
	ck_assert_uint_eq(pop_push_all(), 1);
	ck_assert_uint_eq(vq_load16(&d.used->idx), 101);
	ck_assert_uint_eq(reap_all(), 1);

	/* Set-up errors on the driver side leave it usable. */
	add_one(8);
	ck_assert_int_eq(vq_split_drv_set_base(&d, 5), -EPROTO);
	ck_assert_uint_eq(d.avail_idx, 102);
	{
		struct vq_buf b[9];

		for (k = 0; k < 9; k++)
			b[k] = mkbuf(k % 8, 0, 8, false);
		ck_assert_int_eq(vq_split_drv_add(&d, b, 0, false, 0), -EINVAL);
		ck_assert_int_eq(vq_split_drv_add(&d, b, 9, false, 0), -EINVAL);
		ck_assert_int_eq(vq_split_drv_add(&d, b, IND_MAX + 1, true, 0),
				 -EINVAL);
		ck_assert_int_eq(vq_split_drv_add(&d, b, 8, false, 0), -ENOSPC);
		ck_assert_uint_eq(d.num_free, 7);
		ck_assert_int_ge(vq_split_drv_add(&d, b, 7, false, 0), 0);
		ck_assert_int_eq(vq_split_drv_add(&d, b, 1, true, 0), -ENOSPC);
	}
	ck_assert_ptr_null(vq_split_drv_desc(&d, 8));
	ck_assert_ptr_eq(vq_split_drv_desc(&d, 7), &d.desc[7]);
	ck_assert_int_eq(vq_split_drv_set_avail_ring(&d, 8, 0), -EINVAL);
	ck_assert_int_eq(vq_split_drv_set_avail_ring(&d, 7, 0xbeef), 0);
	ck_assert_uint_eq(vq_load16(&d.avail->ring[7]), 0xbeef);
	vq_split_drv_set_avail_idx(&d, 0x7777);
	ck_assert_uint_eq(vq_load16(&d.avail->idx), 0x7777);

	/* No guest memory: -ENOMEM, and nothing to release. */
	gmem_init(&small);
	ck_assert_int_eq(gmem_add_memfd(&small, 0, PAGE, NULL), 0);
	ck_assert_int_eq(vq_split_drv_init(&e, &small, 256, 0, 0), -ENOMEM);
	gmem_clear(&small);
	ck_assert_int_eq(gmem_add_memfd(&small, 0, PAGE, NULL), 0);
	ck_assert_int_eq(vq_split_drv_init(&e, &small, 64, 0, 0), 0);
	vq_split_drv_fini(&e);
	ck_assert_int_eq(vq_split_drv_init(&e, &small, 64, 0, 64), -ENOMEM);
	gmem_clear(&small);
}
END_TEST

/* ---- Never outside guest memory ---- */

/*
 * Avail and used rings that end exactly at a guard page: the device must
 * read used_event and write avail_event only with VIRTIO_F_EVENT_IDX, and
 * never an entry past the queue size.
 */
static void parts_at_guard(uint64_t features)
{
	const unsigned int num = 8;
	const uint64_t ua = RGPA + 0x100000;
	uint64_t dsz, asz, usz, avail_gpa, used_gpa;
	struct vq_buf cb[2];
	struct vq_chain c = { .bufs = cb, .cap = 2 };
	struct virtq_desc *desc;
	struct virtq_avail *avail;
	uint8_t *a, *u;
	unsigned int k;

	ck_assert_int_eq(vq_split_part_sizes(num, features, &dsz, &asz, &usz),
			 0);
	a = add_guarded(RGPA, PAGE);
	u = add_guarded(ua, PAGE);
	avail_gpa = RGPA + PAGE - asz;
	used_gpa = (ua + PAGE - usz) & ~3ULL;
	ck_assert_int_eq(vq_split_dev_init_addr(&v, &g, num, features, RGPA,
						avail_gpa, used_gpa, false),
			 0);
	desc = (struct virtq_desc *)a;
	avail = (struct virtq_avail *)(a + PAGE - asz);
	desc[0] =
		(struct virtq_desc){ htole64(RGPA + 1024), htole32(16), 0, 0 };
	if (features & F_EVENT)
		vq_store16(&avail->ring[num], 0);
	for (k = 0; k < 3 * num; k++) {
		vq_store16(&avail->ring[k % num], 0);
		vq_store16(&avail->idx, (uint16_t)(k + 1));
		ck_assert_int_eq(vq_split_dev_pop(&v, &c, NULL), 1);
		ck_assert_int_eq(vq_split_dev_push(&v, 0, 16), 0);
		/* used_event 0 passed once, at the first push. */
		ck_assert_int_eq(vq_split_dev_should_notify(&v),
				 !(features & F_EVENT) || k == 0);
		vq_split_dev_disable_notify(&v);
		ck_assert(!vq_split_dev_enable_notify(&v));
	}
	/* The last used entry is the last bytes before the guard page. */
	ck_assert_uint_eq(le32toh(((struct virtq_used *)(u + (used_gpa - ua)))
					  ->ring[num - 1]
					  .len),
			  16);
	rig_close();
	gmem_init(&g);
}

START_TEST(parts_end_at_guard_page)
{
	parts_at_guard(0);
	parts_at_guard(F_EVENT);
}
END_TEST

static uint64_t rng_state;

static uint64_t rnd(void)
{
	uint64_t x = rng_state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return rng_state = x;
}

/* A descriptor meant to land on every edge: region ends, tables, junk. */
static void rand_desc(struct virtq_desc *dp, uint64_t table_gpa,
		      unsigned int next_range)
{
	const uint64_t end = RGPA + region_size;
	uint64_t addr;
	uint32_t len;

	switch (rnd() % 6) {
	case 0:
		addr = RGPA + rnd() % region_size;
		break;
	case 1:
		addr = end - rnd() % 80;
		break;
	case 2:
		addr = RGPA - 1 - rnd() % 64;
		break;
	case 3:
		addr = table_gpa + 16 * (rnd() % 4);
		break;
	case 4:
		addr = buf_gpa + rnd() % 512;
		break;
	default:
		addr = rnd();
		break;
	}
	switch (rnd() % 5) {
	case 0:
		len = (uint32_t)(rnd() % 64);
		break;
	case 1:
		len = (uint32_t)(rnd() % 8192);
		break;
	case 2:
		len = 16 * (uint32_t)(rnd() % 24);
		break;
	case 3:
		len = 0xffffffff - (uint32_t)(rnd() % 16);
		break;
	default:
		len = (uint32_t)rnd();
		break;
	}
	dp->addr = htole64(addr);
	dp->len = htole32(len);
	dp->flags = htole16((uint16_t)(rnd() % 4 ? rnd() & 7 : rnd()));
	dp->next = htole16((uint16_t)(rnd() % 8 ? rnd() % next_range : rnd()));
}

/*
 * Random rings against the device: every answer is a chain wholly inside
 * the region, "nothing", or a documented error; never a stray access.
 */
START_TEST(random_rings)
{
	const unsigned int num = 8, tn = 24;
	struct vq_buf cb[8];
	struct vq_chain c = { .bufs = cb, .cap = 8 };
	unsigned int it, k, chains = 0, errors = 0;
	uint64_t table_gpa;
	struct virtq_desc *table;

	rng_state = 0x9e3779b97f4a7c15ULL;
	rig_open(num, F_INDIRECT | F_EVENT, 0);
	/* A table area at the very end of the region. */
	table_gpa = RGPA + region_size - tn * 16;
	table = (struct virtq_desc *)hva_of(table_gpa, tn * 16);

	for (it = 0; it < 4000; it++) {
		const char *why = NULL;
		int ret;

		for (k = 0; k < num; k++)
			rand_desc(&d.desc[k], table_gpa, num + 2);
		for (k = 0; k < tn; k++)
			rand_desc(&table[k], table_gpa, tn + 2);
		for (k = 0; k < num; k++)
			vq_store16(&d.avail->ring[k],
				   (uint16_t)(rnd() % 8 ? rnd() % num
							: rnd() % 0x10000));
		vq_split_drv_set_avail_idx(
			&d, (uint16_t)(vq_split_dev_get_base(&v) +
				       rnd() % (num + 3)));

		for (k = 0; k < num + 3; k++) {
			unsigned int j;

			ret = vq_split_dev_pop(&v, &c, &why);
			if (ret <= 0)
				break;
			chains++;
			QUIET_ASSERT(c.n <= num);
			for (j = 0; j < c.n; j++) {
				const struct vq_buf *b = &c.bufs[j];
				const uint8_t *p = b->hva;

				QUIET_ASSERT(b->len > 0);
				QUIET_ASSERT(b->gpa >= RGPA);
				QUIET_ASSERT((b->gpa - RGPA + b->len) <=
					     region_size);
				QUIET_ASSERT(p == (region + (b->gpa - RGPA)));
				/* What a device would do with it. */
				(void)*(volatile const uint8_t *)p;
				(void)*(volatile const uint8_t *)(p + b->len -
								  1);
			}
			QUIET_ASSERT(vq_split_dev_push(&v, c.id, 0) == 0);
		}
		if (ret < 0) {
			errors++;
			ck_assert_ptr_nonnull(why);
			ck_assert_msg(ret == -EINVAL || ret == -ELOOP ||
					      ret == -EFAULT || ret == -EPROTO,
				      "pop: %d (%s)", ret, why);
			/* Skip the entry, as a reset would. */
			QUIET_ASSERT(vq_split_dev_set_base(
					     &v, vq_load16(&d.avail->idx)) ==
				     0);
		}
		vq_split_dev_should_notify(&v);
	}
	/* Not vacuous: both outcomes happened often. */
	ck_assert_uint_gt(chains, 100);
	ck_assert_uint_gt(errors, 1000);
}
END_TEST

/*
 * Descriptors rewritten while the device pops: each pop must see one
 * version whole (a valid one, or a fault), never a checked address paired
 * with a later length, nor a pointer past the region (its guard page).
 */
static int flip_stop, flip_started;

static void *flipper(void *arg)
{
	struct virtq_desc *dp = arg;
	const uint64_t good = buf_gpa, bad = RGPA + region_size - 8;
	unsigned int i = 0;

	__atomic_store_n(&flip_started, 1, __ATOMIC_RELAXED);
	while (!__atomic_load_n(&flip_stop, __ATOMIC_RELAXED)) {
		__atomic_store_n(&dp->addr, htole64(i & 1 ? bad : good),
				 __ATOMIC_RELAXED);
		__atomic_store_n(&dp->len, htole32(i & 2 ? 0x10000000 : 16),
				 __ATOMIC_RELAXED);
		i++;
	}
	return NULL;
}

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

START_TEST(rewrite_while_popping)
{
	struct vq_buf cb[2], good;
	struct vq_chain c = { .bufs = cb, .cap = 2 };
	unsigned int it, faults = 0, torn = 0, other = 0;
	double deadline;
	pthread_t th;
	uint64_t token;
	uint32_t len;

	rig_open(1, 0, 0);
	good = mkbuf(0, 0, 16, false);
	add_one(1);
	flip_stop = 0;
	flip_started = 0;
	ck_assert_int_eq(pthread_create(&th, NULL, flipper, &d.desc[0]), 0);
	while (!__atomic_load_n(&flip_started, __ATOMIC_RELAXED))
		sched_yield();
	/* A fixed time rather than a count: how often the two threads
	 * interleave depends on the machine. No ck_assert here: the
	 * flipper must be stopped before the region goes away. */
	deadline = now_s() + 0.2;
	for (it = 0; it < 2000 || now_s() < deadline; it++) {
		int ret;

		while ((ret = vq_split_dev_pop(&v, &c, NULL)) == -EFAULT)
			faults++;
		if (ret != 1) {
			other++;
			break;
		}
		if (c.bufs[0].gpa != buf_gpa || c.bufs[0].len != 16 ||
		    c.bufs[0].hva != gmem_gpa(&g, buf_gpa, 16)) {
			torn++;
			break;
		}
		if (vq_split_dev_push(&v, c.id, 0) ||
		    vq_split_drv_reap(&d, &token, &len, NULL) != 1 ||
		    vq_split_drv_add(&d, &good, 1, false, 1) != 0) {
			other++;
			break;
		}
		/* The flipper keeps rewriting the descriptor just added. */
		vq_split_drv_publish(&d);
	}
	__atomic_store_n(&flip_stop, 1, __ATOMIC_RELAXED);
	pthread_join(th, NULL);
	ck_assert_msg(!torn, "pop returned a descriptor it did not check");
	ck_assert_uint_eq(other, 0);
	/* The two threads did meet (on one CPU the flipper may get no turn
	 * between two pops). */
	if (sysconf(_SC_NPROCESSORS_ONLN) > 1)
		ck_assert_uint_gt(faults, 0);
}
END_TEST

static Suite *split_suite(void)
{
	Suite *s = suite_create("ring_split");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, laps_plain, 0, ARRAY_SIZE(sizes));
	tcase_add_loop_test(tc, laps_event_indirect_reversed, 0,
			    ARRAY_SIZE(sizes));
	tcase_add_loop_test(tc, laps_indirect_from_high_base, 0,
			    ARRAY_SIZE(sizes) - 1);
	tcase_add_test(tc, driver_layout);
	tcase_add_test(tc, out_of_order);
	tcase_add_test(tc, notify_plain_flags);
	tcase_add_test(tc, notify_event_idx_device);
	tcase_add_test(tc, notify_event_idx_driver);
	tcase_add_loop_test(tc, hostile_each, 0, ARRAY_SIZE(sizes) - 1);
	tcase_add_test(tc, hostile_misc);
	tcase_add_test(tc, device_rules);
	tcase_add_test(tc, chain_total_length);
	tcase_add_test(tc, reap_rejects);
	tcase_add_test(tc, init_checks);
	tcase_add_test(tc, parts_end_at_guard_page);
	tcase_add_test(tc, random_rings);
	tcase_add_test(tc, rewrite_while_popping);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(split_suite());
}
