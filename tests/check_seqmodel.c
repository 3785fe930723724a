// SPDX-License-Identifier: MIT
/*
 * check_seqmodel.c - the ring model of fe/seqmodel.h: each oracle fires on
 * the behaviour it names and stays quiet on the legal ones around it (a
 * kick after a stop, entries seen at the stopping reply, aliased rings, a
 * live-migration config write); the seeds decode whole.
 */
#include <check.h>
#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "check_util.h"
#include "fe/seqmodel.h"

#define UA UINT64_C(0x7f0000000000)

static uint8_t guest[0x10000];
static struct seqmodel m;
static const char *oracle, *why;

/* A message as sent (no fds unless given), no reply. */
static struct seq_sent sent(uint32_t code, const void *pl, uint32_t size)
{
	struct seq_sent s;

	memset(&s, 0, sizeof(s));
	s.m.hdr.request = code;
	s.m.hdr.flags = VHOST_USER_VERSION;
	s.m.hdr.size = size;
	if (size)
		memcpy(s.m.payload, pl, size);
	s.kind = FDZOO_CLOSED;
	return s;
}

static int msg(uint32_t code, const void *pl, uint32_t size)
{
	struct seq_sent s = sent(code, pl, size);

	return seqmodel_msg(&m, &s, NULL, false, NULL, 0, &oracle, &why);
}

/* A request answered by an ack (0: success). */
static int acked(uint32_t code, const void *pl, uint32_t size, uint64_t ack)
{
	struct seq_sent s = sent(code, pl, size);
	struct vhost_user_msg rep;

	vhost_user_build_u64(&rep, code, ack);
	rep.hdr.flags |= VHOST_USER_REPLY_MASK;
	return seqmodel_msg(&m, &s, NULL, false, &rep, 1, &oracle, &why);
}

static int get_base(uint32_t q, uint32_t answer)
{
	struct vhost_user_vring_state st = { q, 0 };
	struct seq_sent s = sent(VHOST_USER_GET_VRING_BASE, &st, 8);
	struct vhost_user_msg rep;

	vhost_user_build_vring_state(&rep, VHOST_USER_GET_VRING_BASE, q,
				     answer);
	rep.hdr.flags |= VHOST_USER_REPLY_MASK;
	return seqmodel_msg(&m, &s, NULL, false, &rep, 1, &oracle, &why);
}

/* The guest memory as one region, vring @q of 4 at 0x1000 * (q + 1)
 * (used at @used_at if not 0), its kick fd @kick (-1: none sent). */
static void setup(enum seqmodel_dev dev)
{
	struct vhost_user_mem_table t = { .nregions = 1 };
	struct seq_sent s;

	memset(guest, 0, sizeof(guest));
	seqmodel_init(&m, guest, sizeof(guest), dev);
	t.regions[0] =
		(struct vhost_user_mem_region){ 0, sizeof(guest), UA, 0 };
	s = sent(VHOST_USER_SET_MEM_TABLE, &t, 40);
	s.nfds = 1;
	ck_assert_int_eq(
		seqmodel_msg(&m, &s, NULL, true, NULL, 0, &oracle, &why), 0);
}

static void ring(uint32_t q, uint64_t used_at, int kick)
{
	struct vhost_user_vring_state st = { q, 4 };
	struct vhost_user_vring_addr va = {
		.index = q,
		.desc = UA + 0x1000 * (q + 1),
		.avail = UA + 0x1000 * (q + 1) + 0x40,
		.used = UA + (used_at ? used_at : 0x1000 * (q + 1) + 0x80),
	};
	uint64_t u64 = q;
	struct seq_sent s;

	ck_assert_int_eq(msg(VHOST_USER_SET_VRING_NUM, &st, 8), 0);
	st.num = 0;
	ck_assert_int_eq(msg(VHOST_USER_SET_VRING_BASE, &st, 8), 0);
	ck_assert_int_eq(msg(VHOST_USER_SET_VRING_ADDR, &va, 40), 0);
	if (kick >= 0) {
		s = sent(VHOST_USER_SET_VRING_KICK, &u64, 8);
		s.nfds = 1;
		s.kind = FDZOO_EVENTFD;
		ck_assert_int_eq(seqmodel_msg(&m, &s, &kick, false, NULL, 0,
					      &oracle, &why),
				 0);
	}
}

/* Descriptor @i of ring @q. */
static void desc(uint32_t q, unsigned int i, uint32_t len, uint16_t flags,
		 uint16_t next)
{
	uint8_t *d = guest + 0x1000 * (q + 1) + 16 * i;
	uint64_t addr = 0x8000;

	memcpy(d, &addr, 8);
	memcpy(d + 8, &len, 4);
	memcpy(d + 12, &flags, 2);
	memcpy(d + 14, &next, 2);
}

/* The device uses head @id with @len on ring @q (used ring at @at). */
static void use(uint32_t q, uint64_t at, uint32_t id, uint32_t len)
{
	uint8_t *u = guest + (at ? at : 0x1000 * (q + 1) + 0x80);
	uint16_t idx;

	memcpy(&idx, u + 2, 2);
	memcpy(u + 4 + 8 * (idx % 4), &id, 4);
	memcpy(u + 8 + 8 * (idx % 4), &len, 4);
	idx++;
	memcpy(u + 2, &idx, 2);
}

static void kick_op(void)
{
	struct seq_op op = { .kind = SEQ_KICK };

	seqmodel_op(&m, &op);
}

START_TEST(used_len_past_writable)
{
	int n0 = count_fds();

	setup(SEQMODEL_DEV_BLK);
	ring(0, 0, -1);
	desc(0, 0, 16, 1, 1);  /* header, readable */
	desc(0, 1, 512, 1, 2); /* data, readable */
	desc(0, 2, 1, 2, 0);   /* status, writable */
	kick_op();
	ck_assert_int_eq(seqmodel_sync(&m, &oracle, &why), 0);
	use(0, 0, 0, 1); /* the status byte: legal */
	ck_assert_int_eq(seqmodel_sync(&m, &oracle, &why), 0);
	use(0, 0, 0, 529); /* the whole chain: not */
	ck_assert_int_eq(seqmodel_sync(&m, &oracle, &why), -EPROTO);
	ck_assert_str_eq(oracle, SEQMODEL_ORACLE_USED_LEN);
	ck_assert_int_eq(m.check.kind, SEQMODEL_CHECK_U32_MAX);
	ck_assert_uint_eq(m.check.val, 1);
	ck_assert_ptr_nonnull(strstr(why, "len 529"));
	/* a buffer written since the kick: the chain is the same */
	setup(SEQMODEL_DEV_BLK);
	ring(0, 0, -1);
	desc(0, 0, 16, 1, 1);
	desc(0, 1, 1, 2, 0);
	kick_op();
	ck_assert_int_eq(seqmodel_sync(&m, &oracle, &why), 0);
	{
		struct seq_op g = { .kind = SEQ_GUEST,
				    .n = 0x8000,
				    .data_want = 4 };

		seqmodel_op(&m, &g);
		use(0, 0, 0, 100);
		ck_assert_int_eq(seqmodel_sync(&m, &oracle, &why), -EPROTO);
		/* the descriptors rewritten since the ring may have run:
		 * the entry may describe the old chain */
		g.n = 0x1000;
		seqmodel_op(&m, &g);
	}
	use(0, 0, 0, 100);
	ck_assert_int_eq(seqmodel_sync(&m, &oracle, &why), 0);
	ck_assert_int_eq(count_fds(), n0);
}
END_TEST

START_TEST(used_while_stopped)
{
	int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK), n0;
	uint64_t one = 1;

	ck_assert_int_ge(efd, 0);
	n0 = count_fds();
	setup(SEQMODEL_DEV_NET);
	ring(1, 0, efd);
	desc(1, 0, 76, 0, 0);
	ck_assert_int_eq(seqmodel_sync(&m, &oracle, &why), 0);
	/* never kicked: nothing may be used */
	use(1, 0, 0, 0);
	ck_assert_int_eq(seqmodel_sync(&m, &oracle, &why), -EPROTO);
	ck_assert_str_eq(oracle, SEQMODEL_ORACLE_STOPPED);
	ck_assert_ptr_nonnull(strstr(why, "never kicked"));

	setup(SEQMODEL_DEV_NET);
	ring(1, 0, efd);
	ck_assert_int_eq(seqmodel_sync(&m, &oracle, &why), 0);
	kick_op();
	use(1, 0, 0, 0);
	ck_assert_int_eq(seqmodel_sync(&m, &oracle, &why), 0);
	/* a kick still in the fd: the ring may start again after the stop */
	ck_assert_int_eq(write(efd, &one, 8), 8);
	ck_assert_int_eq(get_base(1, 1), 0);
	ck_assert_int_eq(seqmodel_sync(&m, &oracle, &why), 0);
	use(1, 0, 0, 0);
	ck_assert_int_eq(seqmodel_sync(&m, &oracle, &why), 0);
	/* taken: stopped for sure; what the stopping reply shows is legal */
	ck_assert_int_eq(read(efd, &one, 8), 8);
	ck_assert_int_eq(get_base(1, 2), 0);
	use(1, 0, 0, 0);
	ck_assert_int_eq(seqmodel_sync(&m, &oracle, &why), 0);
	use(1, 0, 0, 0);
	ck_assert_int_eq(seqmodel_sync(&m, &oracle, &why), -EPROTO);
	ck_assert_str_eq(oracle, SEQMODEL_ORACLE_STOPPED);
	ck_assert_int_eq(m.check.kind, SEQMODEL_CHECK_U16_EQ);
	ck_assert_uint_eq(m.check.off, 0x2000 + 0x80 + 2);
	ck_assert_uint_eq(m.check.val, 3);
	/* a kick after the stop starts it: legal again */
	get_base(1, 3);
	seqmodel_sync(&m, &oracle, &why);
	kick_op();
	use(1, 0, 0, 0);
	ck_assert_int_eq(seqmodel_sync(&m, &oracle, &why), 0);
	close(efd);
	ck_assert_int_eq(count_fds(), n0 - 1);
}
END_TEST

START_TEST(base_of_unkicked_ring)
{
	struct vhost_user_vring_state st = { 0, 7 };

	setup(SEQMODEL_DEV_BLK);
	ring(0, 0, -1);
	ck_assert_int_eq(get_base(0, 0), 0);
	ck_assert_int_eq(msg(VHOST_USER_SET_VRING_BASE, &st, 8), 0);
	ck_assert_int_eq(get_base(0, 7), 0);
	/* the driver's avail idx, not the base: nothing was processed */
	ck_assert_int_eq(get_base(0, 1), -EPROTO);
	ck_assert_str_eq(oracle, SEQMODEL_ORACLE_BASE);
	ck_assert_int_eq(m.check.kind, SEQMODEL_CHECK_BASE_IN);
	/* kicked: any index the back-end reached is its own */
	kick_op();
	ck_assert_int_eq(get_base(0, 1), 0);
}
END_TEST

START_TEST(rx_while_disabled)
{
	struct vhost_user_vring_state off = { 0, 0 }, on = { 0, 1 };

	setup(SEQMODEL_DEV_NET);
	ring(0, 0, -1);
	ring(1, 0, -1);
	desc(0, 0, 2048, 2, 0);
	kick_op();
	/* a disable not acked: not sure */
	ck_assert_int_eq(msg(VHOST_USER_SET_VRING_ENABLE, &off, 8), 0);
	seqmodel_sync(&m, &oracle, &why);
	use(0, 0, 0, 76);
	ck_assert_int_eq(seqmodel_sync(&m, &oracle, &why), 0);
	/* acked: from the next synchronisation point on */
	ck_assert_int_eq(acked(VHOST_USER_SET_VRING_ENABLE, &off, 8, 0), 0);
	use(0, 0, 0, 76);
	ck_assert_int_eq(seqmodel_sync(&m, &oracle, &why), 0);
	use(0, 0, 0, 0); /* a buffer given back empty: no packet */
	ck_assert_int_eq(seqmodel_sync(&m, &oracle, &why), 0);
	use(1, 0, 0, 0); /* TX is processed and discarded */
	ck_assert_int_eq(seqmodel_sync(&m, &oracle, &why), 0);
	use(0, 0, 0, 76);
	ck_assert_int_eq(seqmodel_sync(&m, &oracle, &why), -EPROTO);
	ck_assert_str_eq(oracle, SEQMODEL_ORACLE_RX_DISABLED);
	/* enabled again: packets are fine */
	ck_assert_int_eq(msg(VHOST_USER_SET_VRING_ENABLE, &on, 8), 0);
	use(0, 0, 0, 76);
	ck_assert_int_eq(seqmodel_sync(&m, &oracle, &why), 0);
	/* blk has no RX queue */
	setup(SEQMODEL_DEV_BLK);
	ring(0, 0, -1);
	desc(0, 0, 2048, 2, 0);
	kick_op();
	acked(VHOST_USER_SET_VRING_ENABLE, &off, 8, 0);
	seqmodel_sync(&m, &oracle, &why);
	use(0, 0, 0, 76);
	ck_assert_int_eq(seqmodel_sync(&m, &oracle, &why), 0);
}
END_TEST

START_TEST(aliased_used_rings)
{
	setup(SEQMODEL_DEV_NET);
	ring(0, 0x100, -1);
	ring(1, 0x100, -1);
	seqmodel_sync(&m, &oracle, &why);
	/* one used ring for both: whose entry this is cannot be told */
	use(0, 0x100, 0, 76);
	ck_assert_int_eq(seqmodel_sync(&m, &oracle, &why), 0);
}
END_TEST

static int config(uint32_t code, uint32_t flags, uint8_t fill,
		  const uint8_t *rep_data)
{
	uint8_t pl[12 + 6];
	uint32_t size = 6;
	struct seq_sent s;
	struct vhost_user_msg rep;

	memset(pl, 0, sizeof(pl));
	memcpy(pl + 4, &size, 4);
	memcpy(pl + 8, &flags, 4);
	memset(pl + 12, fill, 6);
	s = sent(code, pl, sizeof(pl));
	if (!rep_data)
		return seqmodel_msg(&m, &s, NULL, false, NULL, 0, &oracle,
				    &why);
	rep = s.m;
	rep.hdr.flags |= VHOST_USER_REPLY_MASK;
	memcpy(rep.payload + 12, rep_data, 6);
	return seqmodel_msg(&m, &s, NULL, false, &rep, 1, &oracle, &why);
}

START_TEST(readonly_config)
{
	static const uint8_t mac[6] = { 0x52, 0x54, 0, 0x12, 0x34, 0x56 };
	static const uint8_t a5[6] = { 0xa5, 0xa5, 0xa5, 0xa5, 0xa5, 0xa5 };

	setup(SEQMODEL_DEV_NET);
	ck_assert_int_eq(config(VHOST_USER_GET_CONFIG, 0, 0, mac), 0);
	ck_assert_int_eq(config(VHOST_USER_GET_CONFIG, 0, 0, mac), 0);
	ck_assert_int_eq(config(VHOST_USER_SET_CONFIG, 0, 0xa5, NULL), 0);
	ck_assert_int_eq(config(VHOST_USER_GET_CONFIG, 0, 0, a5), -EPROTO);
	ck_assert_str_eq(oracle, SEQMODEL_ORACLE_CONFIG_RO);
	ck_assert_int_eq(m.check.kind, SEQMODEL_CHECK_CONFIG);
	ck_assert_mem_eq(m.check.bytes, mac, 6);
	/* with the live migration flag the field may change */
	setup(SEQMODEL_DEV_NET);
	config(VHOST_USER_GET_CONFIG, 0, 0, mac);
	config(VHOST_USER_SET_CONFIG, VHOST_USER_CONFIG_LIVE_MIGRATION, 0xa5,
	       NULL);
	ck_assert_int_eq(config(VHOST_USER_GET_CONFIG, 0, 0, a5), 0);
	/* device unknown: no read-only field known */
	setup(SEQMODEL_DEV_UNKNOWN);
	config(VHOST_USER_GET_CONFIG, 0, 0, mac);
	config(VHOST_USER_SET_CONFIG, 0, 0xa5, NULL);
	ck_assert_int_eq(config(VHOST_USER_GET_CONFIG, 0, 0, a5), 0);
}
END_TEST

/* ---- inflight I/O tracking: the region at 0xe000, ring 0 of 4 ---- */

#define INF 0xe000

/* GET_INFLIGHT_FD answered (@get_size: 0 none), SET_INFLIGHT_FD of the
 * guest memory acked @ack. */
static void inflight_fd(uint16_t nq, uint64_t get_size, uint64_t ack)
{
	struct vhost_user_inflight in = { 0x1000, INF, nq, 4, 0 };
	struct vhost_user_msg rep;
	struct seq_sent s;

	if (get_size) {
		s = sent(VHOST_USER_GET_INFLIGHT_FD, &in, sizeof(in));
		vhost_user_build_inflight(&rep, VHOST_USER_GET_INFLIGHT_FD,
					  get_size, 0, nq, 4);
		rep.hdr.flags |= VHOST_USER_REPLY_MASK;
		ck_assert_int_eq(seqmodel_msg(&m, &s, NULL, false, &rep, 1,
					      &oracle, &why),
				 0);
	}
	s = sent(VHOST_USER_SET_INFLIGHT_FD, &in, sizeof(in));
	s.nfds = 1;
	vhost_user_build_u64(&rep, VHOST_USER_SET_INFLIGHT_FD, ack);
	rep.hdr.flags |= VHOST_USER_REPLY_MASK;
	ck_assert_int_eq(
		seqmodel_msg(&m, &s, NULL, true, &rep, 1, &oracle, &why), 0);
}

/* Ring @q (4 entries, one writable descriptor per head) with avail idx
 * @avail (heads 0, 1, ...), used idx @used (entry 0: head 1), base @base
 * acked, then its kick fd @kick. */
static void inf_ring(uint32_t q, uint16_t avail, uint16_t used, uint32_t base,
		     int kick)
{
	struct vhost_user_vring_state st = { q, 4 };
	struct vhost_user_vring_addr va = {
		.index = q,
		.desc = UA + 0x1000 * (q + 1),
		.avail = UA + 0x1000 * (q + 1) + 0x40,
		.used = UA + 0x1000 * (q + 1) + 0x80,
	};
	uint8_t *r = guest + 0x1000 * (q + 1);
	uint64_t u64 = q;
	uint16_t h;
	uint32_t id = 1;
	struct seq_sent s;

	for (h = 0; h < 4; h++) {
		desc(q, h, 1, 2, 0);
		memcpy(r + 0x44 + 2 * h, &h, 2);
	}
	memcpy(r + 0x42, &avail, 2);
	memcpy(r + 0x82, &used, 2);
	memcpy(r + 0x84, &id, 4);
	ck_assert_int_eq(msg(VHOST_USER_SET_VRING_NUM, &st, 8), 0);
	st.num = base;
	ck_assert_int_eq(acked(VHOST_USER_SET_VRING_BASE, &st, 8, 0), 0);
	ck_assert_int_eq(msg(VHOST_USER_SET_VRING_ADDR, &va, 40), 0);
	s = sent(VHOST_USER_SET_VRING_KICK, &u64, 8);
	s.nfds = 1;
	s.kind = FDZOO_EVENTFD;
	ck_assert_int_eq(
		seqmodel_msg(&m, &s, &kick, false, NULL, 0, &oracle, &why), 0);
}

/* Region of queue @q: version @ver, used_idx @used, head @h marked. */
static void region(uint32_t q, uint16_t ver, uint16_t used, int h)
{
	uint8_t *r = guest + INF + 128 * q;

	memcpy(r + 8, &ver, 2);
	memcpy(r + 14, &used, 2);
	if (h >= 0) {
		r[16 + 16 * h] = 1;
		r[16 + 16 * h + 8] = 1; /* counter 1 */
	}
}

static uint8_t *flag(uint32_t q, unsigned int h)
{
	return guest + INF + 128 * q + 16 + 16 * h;
}

/* A previous session's region: heads 0 and 1 published, 1 used, 0 still
 * inflight; base = used idx. */
static void resume_setup(int efd)
{
	setup(SEQMODEL_DEV_BLK);
	inflight_fd(1, 0, 0);
	region(0, 1, 1, 0);
	inf_ring(0, 2, 1, 1, efd);
}

START_TEST(inflight_resubmit)
{
	int n0 = count_fds(), efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

	ck_assert_int_ge(efd, 0);
	/* legal: head 0 resubmitted once, its flag cleared */
	resume_setup(efd);
	ck_assert(m.ring[0].inf_on && m.ring[0].inf_resume);
	kick_op();
	use(0, 0, 0, 1);
	*flag(0, 0) = 0;
	ck_assert_int_eq(seqmodel_sync(&m, &oracle, &why), 0);
	ck_assert_int_eq(seqmodel_sync(&m, &oracle, &why), 0);
	ck_assert_int_eq(seqmodel_sync(&m, &oracle, &why), 0);
	/* resumed at the base: head 1, completed before, used again */
	resume_setup(efd);
	kick_op();
	use(0, 0, 1, 1);
	ck_assert_int_eq(seqmodel_sync(&m, &oracle, &why), -EPROTO);
	ck_assert_str_eq(oracle, SEQMODEL_ORACLE_INF_AGAIN);
	ck_assert_int_eq(m.check.kind, SEQMODEL_CHECK_USED_HEAD);
	ck_assert_uint_eq(m.check.val, 1);
	ck_assert_uint_eq(m.check.max, 0);
	ck_assert_uint_eq(m.check.val2, 1);
	/* head 0 resubmitted twice */
	resume_setup(efd);
	kick_op();
	use(0, 0, 0, 1);
	ck_assert_int_eq(seqmodel_sync(&m, &oracle, &why), 0);
	use(0, 0, 0, 1);
	ck_assert_int_eq(seqmodel_sync(&m, &oracle, &why), -EPROTO);
	ck_assert_str_eq(oracle, SEQMODEL_ORACLE_INF_AGAIN);
	ck_assert_uint_eq(m.check.max, 1);
	/* a guest write over the avail ring since: not judged */
	resume_setup(efd);
	{
		struct seq_op g = { .kind = SEQ_GUEST,
				    .n = 0x1042,
				    .data_want = 2 };

		seqmodel_op(&m, &g);
	}
	use(0, 0, 1, 1);
	ck_assert_int_eq(seqmodel_sync(&m, &oracle, &why), 0);
	/* not a state a session leaves (more published than used plus
	 * inflight), or not acked, or the base not the used idx: no resume */
	setup(SEQMODEL_DEV_BLK);
	inflight_fd(1, 0, 0);
	region(0, 1, 1, 0);
	inf_ring(0, 3, 1, 1, efd);
	ck_assert(!m.ring[0].inf_on);
	setup(SEQMODEL_DEV_BLK);
	inflight_fd(1, 0, 1);
	region(0, 1, 1, 0);
	inf_ring(0, 2, 1, 1, efd);
	ck_assert(!m.ring[0].inf_on);
	setup(SEQMODEL_DEV_BLK);
	inflight_fd(1, 0, 0);
	region(0, 1, 1, 0);
	inf_ring(0, 2, 1, 0, efd);
	ck_assert(!m.ring[0].inf_on);
	/* queue 1 needs the stride a GET_INFLIGHT_FD told */
	setup(SEQMODEL_DEV_NET);
	inflight_fd(2, 0, 0);
	region(1, 1, 1, 0);
	inf_ring(1, 2, 1, 1, efd);
	ck_assert(!m.ring[1].inf_on);
	setup(SEQMODEL_DEV_NET);
	inflight_fd(2, 256, 0);
	region(1, 1, 1, 0);
	inf_ring(1, 2, 1, 1, efd);
	ck_assert(m.ring[1].inf_on && m.ring[1].inf_resume);
	ck_assert_uint_eq(m.ring[1].inf_at, INF + 128);
	close(efd);
	ck_assert_int_eq(count_fds(), n0);
}
END_TEST

START_TEST(inflight_cleared)
{
	int n0 = count_fds(), efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

	ck_assert_int_ge(efd, 0);
	/* a fresh region (version 0), head 0 published, popped, used */
	setup(SEQMODEL_DEV_BLK);
	inflight_fd(1, 0, 0);
	inf_ring(0, 1, 0, 0, efd);
	ck_assert(m.ring[0].inf_on && !m.ring[0].inf_resume);
	kick_op();
	*flag(0, 0) = 1; /* popped: marked */
	ck_assert_int_eq(seqmodel_sync(&m, &oracle, &why), 0);
	use(0, 0, 0, 1); /* used, the flag not cleared yet: not judged */
	ck_assert_int_eq(seqmodel_sync(&m, &oracle, &why), 0);
	ck_assert_int_eq(seqmodel_sync(&m, &oracle, &why), -EPROTO);
	ck_assert_str_eq(oracle, SEQMODEL_ORACLE_INF_CLEARED);
	ck_assert_int_eq(m.check.kind, SEQMODEL_CHECK_U8_EQ);
	ck_assert_uint_eq(m.check.off, INF + 16);
	ck_assert_uint_eq(m.check.val, 0);
	/* cleared: quiet */
	setup(SEQMODEL_DEV_BLK);
	inflight_fd(1, 0, 0);
	inf_ring(0, 1, 0, 0, efd);
	use(0, 0, 0, 1);
	ck_assert_int_eq(seqmodel_sync(&m, &oracle, &why), 0);
	ck_assert_int_eq(seqmodel_sync(&m, &oracle, &why), 0);
	/* still one in flight (two published): the flag may be a new pop */
	setup(SEQMODEL_DEV_BLK);
	inflight_fd(1, 0, 0);
	inf_ring(0, 2, 0, 0, efd);
	use(0, 0, 0, 1);
	*flag(0, 0) = 1;
	ck_assert_int_eq(seqmodel_sync(&m, &oracle, &why), 0);
	ck_assert_int_eq(seqmodel_sync(&m, &oracle, &why), 0);
	/* a guest write between the two sync points: seen again first */
	setup(SEQMODEL_DEV_BLK);
	inflight_fd(1, 0, 0);
	inf_ring(0, 1, 0, 0, efd);
	use(0, 0, 0, 1);
	*flag(0, 0) = 1;
	ck_assert_int_eq(seqmodel_sync(&m, &oracle, &why), 0);
	{
		struct seq_op g = { .kind = SEQ_GUEST,
				    .n = 0x8000,
				    .data_want = 4 };

		seqmodel_op(&m, &g);
	}
	ck_assert_int_eq(seqmodel_sync(&m, &oracle, &why), 0);
	*flag(0, 0) = 0;
	ck_assert_int_eq(seqmodel_sync(&m, &oracle, &why), 0);
	/* the region not in guest memory (SET_INFLIGHT_FD not acked) */
	setup(SEQMODEL_DEV_BLK);
	inflight_fd(1, 0, 1);
	inf_ring(0, 1, 0, 0, efd);
	use(0, 0, 0, 1);
	*flag(0, 0) = 1;
	ck_assert_int_eq(seqmodel_sync(&m, &oracle, &why), 0);
	ck_assert_int_eq(seqmodel_sync(&m, &oracle, &why), 0);
	close(efd);
	ck_assert_int_eq(count_fds(), n0);
}
END_TEST

START_TEST(inflight_marked)
{
	int n0 = count_fds(), efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

	ck_assert_int_ge(efd, 0);
	/* popped (GET_VRING_BASE says 1), not used, not marked */
	setup(SEQMODEL_DEV_BLK);
	inflight_fd(1, 0, 0);
	inf_ring(0, 1, 0, 0, efd);
	kick_op();
	ck_assert_int_eq(seqmodel_sync(&m, &oracle, &why), 0);
	ck_assert_int_eq(get_base(0, 1), 0);
	ck_assert_int_eq(seqmodel_sync(&m, &oracle, &why), 0); /* its reply */
	ck_assert_int_eq(seqmodel_sync(&m, &oracle, &why), -EPROTO);
	ck_assert_str_eq(oracle, SEQMODEL_ORACLE_INF_MARKED);
	ck_assert_int_eq(m.check.kind, SEQMODEL_CHECK_U8_EQ);
	ck_assert_uint_eq(m.check.off, INF + 16);
	ck_assert_uint_eq(m.check.val, 1);
	ck_assert_uint_eq(m.check.off2, 0x1082);
	/* marked: quiet */
	setup(SEQMODEL_DEV_BLK);
	inflight_fd(1, 0, 0);
	inf_ring(0, 1, 0, 0, efd);
	kick_op();
	*flag(0, 0) = 1;
	ck_assert_int_eq(get_base(0, 1), 0);
	ck_assert_int_eq(seqmodel_sync(&m, &oracle, &why), 0);
	ck_assert_int_eq(seqmodel_sync(&m, &oracle, &why), 0);
	/* used (and cleared) after all, or nothing popped: quiet */
	setup(SEQMODEL_DEV_BLK);
	inflight_fd(1, 0, 0);
	inf_ring(0, 1, 0, 0, efd);
	kick_op();
	ck_assert_int_eq(get_base(0, 1), 0);
	use(0, 0, 0, 1);
	ck_assert_int_eq(seqmodel_sync(&m, &oracle, &why), 0);
	ck_assert_int_eq(seqmodel_sync(&m, &oracle, &why), 0);
	setup(SEQMODEL_DEV_BLK);
	inflight_fd(1, 0, 0);
	inf_ring(0, 1, 0, 0, efd);
	ck_assert_int_eq(get_base(0, 0), 0);
	ck_assert_int_eq(seqmodel_sync(&m, &oracle, &why), 0);
	ck_assert_int_eq(seqmodel_sync(&m, &oracle, &why), 0);
	/* a kick after the answer: it may run (and complete) again */
	setup(SEQMODEL_DEV_BLK);
	inflight_fd(1, 0, 0);
	inf_ring(0, 1, 0, 0, efd);
	kick_op();
	ck_assert_int_eq(seqmodel_sync(&m, &oracle, &why), 0);
	ck_assert_int_eq(get_base(0, 1), 0);
	kick_op();
	ck_assert_int_eq(seqmodel_sync(&m, &oracle, &why), 0);
	ck_assert_int_eq(seqmodel_sync(&m, &oracle, &why), 0);
	/* a chain no back-end takes (indirect): not judged */
	setup(SEQMODEL_DEV_BLK);
	inflight_fd(1, 0, 0);
	inf_ring(0, 1, 0, 0, efd);
	desc(0, 0, 16, 4, 0);
	kick_op();
	ck_assert_int_eq(get_base(0, 1), 0);
	ck_assert_int_eq(seqmodel_sync(&m, &oracle, &why), 0);
	ck_assert_int_eq(seqmodel_sync(&m, &oracle, &why), 0);
	/* an answer past what was published: not judged */
	setup(SEQMODEL_DEV_BLK);
	inflight_fd(1, 0, 0);
	inf_ring(0, 1, 0, 0, efd);
	kick_op();
	ck_assert_int_eq(get_base(0, 3), 0);
	ck_assert_int_eq(seqmodel_sync(&m, &oracle, &why), 0);
	ck_assert_int_eq(seqmodel_sync(&m, &oracle, &why), 0);
	close(efd);
	ck_assert_int_eq(count_fds(), n0);
}
END_TEST

START_TEST(seeds_decode_whole)
{
	static const enum seqmodel_dev devs[] = { SEQMODEL_DEV_NET,
						  SEQMODEL_DEV_BLK };
	uint8_t buf[1024];
	struct seq_op op;
	const char *name;
	unsigned int d, k, ops, made = 0;
	int n;

	for (d = 0; d < 2; d++) {
		for (k = 0; k < SEQMODEL_SEED_COUNT; k++) {
			struct seq_in in;

			n = seqmodel_seed(k, devs[d], buf, sizeof(buf), &name);
			ck_assert_int_ge(n, 0);
			if (!n)
				continue;
			made++;
			ck_assert_uint_eq(buf[0], d); /* blk bit */
			in = (struct seq_in){ buf + 1, (size_t)n - 1 };
			for (ops = 0; seq_next(&in, buf, &op, ~UINT64_C(0));
			     ops++)
				ck_assert(op.kind == SEQ_MSG ||
					  op.kind == SEQ_GUEST ||
					  op.kind == SEQ_KICK ||
					  op.kind == SEQ_FEED);
			ck_assert_uint_le(ops, SEQ_MAX_OPS);
			ck_assert_uint_eq(in.n, 0);
		}
	}
	/* net only: RX disabled; blk only: past the end, inflight hold */
	ck_assert_uint_eq(made, 2 * SEQMODEL_SEED_COUNT - 3);
	ck_assert_int_eq(seqmodel_seed(SEQMODEL_SEED_STOP, SEQMODEL_DEV_NET,
				       buf, 16, &name),
			 -ENOSPC);
	ck_assert_int_eq(seqmodel_seed(SEQMODEL_SEED_STOP, SEQMODEL_DEV_UNKNOWN,
				       buf, sizeof(buf), &name),
			 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("seqmodel");
	TCase *tc = tcase_create("oracles");

	tcase_add_test(tc, used_len_past_writable);
	tcase_add_test(tc, used_while_stopped);
	tcase_add_test(tc, base_of_unkicked_ring);
	tcase_add_test(tc, rx_while_disabled);
	tcase_add_test(tc, aliased_used_rings);
	tcase_add_test(tc, readonly_config);
	tcase_add_test(tc, inflight_resubmit);
	tcase_add_test(tc, inflight_cleared);
	tcase_add_test(tc, inflight_marked);
	tcase_add_test(tc, seeds_decode_whole);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
