// SPDX-License-Identifier: MIT
/*
 * seqmodel.c - the rings and config space a sequence set up, read back
 * from guest memory, and the data-path oracles (see seqmodel.h).
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include "common/util.h"
#include "fe/seqmodel.h"

/* virtio feature bits the model looks at */
#define SEQMODEL_F_RING_PACKED 34
#define SEQMODEL_F_IN_ORDER 35
/* struct vring_desc flags */
#define SEQMODEL_DESC_NEXT 1u
#define SEQMODEL_DESC_WRITE 2u
#define SEQMODEL_DESC_INDIRECT 4u
/* a virtio-net RX packet has at least the 10-byte virtio_net_hdr */
#define SEQMODEL_NET_HDR_MIN 10u

void seqmodel_init(struct seqmodel *m, const uint8_t *guest, size_t size,
		   enum seqmodel_dev dev)
{
	unsigned int i;

	memset(m, 0, sizeof(*m));
	m->guest = guest;
	m->guest_size = guest ? size : 0;
	m->dev = dev;
	/* "Each ring is initialized in a stopped and disabled state." (the
	 * disabled state is judged only once acked: see seqmodel_msg()) */
	for (i = 0; i < SEQMODEL_RINGS; i++) {
		m->ring[i].stopped = true;
		m->ring[i].kick_fd = -1;
	}
}

enum seqmodel_dev seqmodel_dev_parse(const char *name)
{
	if (name && !strcmp(name, "net"))
		return SEQMODEL_DEV_NET;
	if (name && !strcmp(name, "blk"))
		return SEQMODEL_DEV_BLK;
	return SEQMODEL_DEV_UNKNOWN;
}

/* The read-only prefix every device of the type has (cases/vhost-user/
 * config.lua): net "All of the device configuration fields are read-only
 * for the driver" (mac, 6 bytes), blk capacity (8 bytes). */
static unsigned int seqmodel_ro_len(const struct seqmodel *m)
{
	return m->dev == SEQMODEL_DEV_NET   ? 6
	       : m->dev == SEQMODEL_DEV_BLK ? 8
					    : 0;
}

static uint16_t seqmodel_rd16(const struct seqmodel *m, uint64_t off)
{
	uint16_t v;

	memcpy(&v, m->guest + off, sizeof(v));
	return v;
}

static uint32_t seqmodel_rd32(const struct seqmodel *m, uint64_t off)
{
	uint32_t v;

	memcpy(&v, m->guest + off, sizeof(v));
	return v;
}

/* User address @ua, @len bytes, as an offset into guest memory: -1 if no
 * region the session sent holds it whole. */
static int64_t seqmodel_xlate(const struct seqmodel *m, uint64_t ua,
			      uint64_t len)
{
	unsigned int i;

	if (!m->table_known || !m->guest)
		return -1;
	for (i = 0; i < m->nreg; i++) {
		const struct vhost_user_mem_region *r = &m->reg[i];
		uint64_t d = ua - r->user_addr, off;

		if (ua < r->user_addr || d >= r->size || len > r->size - d)
			continue;
		off = r->mmap_offset + d;
		if (off < r->mmap_offset || off > m->guest_size ||
		    len > m->guest_size - off)
			return -1;
		return (int64_t)off;
	}
	return -1;
}

/* Forget what may have changed behind the model's back: the ring is no
 * longer judged for its state, only re-read. */
static void seqmodel_ring_unsure(struct seqmodel_ring *r)
{
	r->ever_kicked = true;
	r->desc_unsure = true;
	r->stopped = false;
	r->disabled = false;
	r->seen_valid = false;
	r->nbases = 0;
	r->inf_on = false;
}

static void seqmodel_all_unsure(struct seqmodel *m)
{
	unsigned int i;

	for (i = 0; i < SEQMODEL_RINGS; i++)
		seqmodel_ring_unsure(&m->ring[i]);
	m->ro_known = false;
	m->ro_written = false;
	/* the back-end may have let go of the inflight region too */
	m->inf_known = false;
}

/* A kick may reach @r now: it may start ("The back-end must start a ring
 * upon receiving a kick"). */
static void seqmodel_kicked(struct seqmodel_ring *r)
{
	r->ever_kicked = true;
	r->stopped = false;
	r->inf_base = false; /* it may pop again: the answer is old */
}

/* [a, a + alen) and [b, b + blen) share a byte. */
static bool seqmodel_overlap(uint64_t a, uint64_t alen, uint64_t b,
			     uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

/* Bytes of a split queue region ("QueueRegionSplit"): 16 + 16 per head. */
static uint64_t seqmodel_inf_len(uint32_t num)
{
	return 16 + 16 * (uint64_t)num;
}

static void seqmodel_inf_off_all(struct seqmodel *m)
{
	unsigned int i;

	for (i = 0; i < SEQMODEL_RINGS; i++)
		m->ring[i].inf_on = false;
}

/*
 * A guest write: a tracked ring is no longer judged when it touched the
 * ring or the queue's region (what is there is no longer the back-end's
 * doing alone, and a head may be published again); "everything popped was
 * used" must be seen again after any write.
 */
static void seqmodel_inf_guest(struct seqmodel *m, struct seqmodel_ring *r,
			       const struct seq_op *op)
{
	static const unsigned int part[3] = { 16, 2, 8 };
	const uint64_t ua[3] = { r->desc_ua, r->avail_ua, r->used_ua };
	unsigned int k;
	int64_t at;

	r->inf_rec = false;
	if (!r->inf_on)
		return;
	if (seqmodel_overlap(op->n, op->data_want, r->inf_at,
			     seqmodel_inf_len(r->num)))
		r->inf_on = false;
	for (k = 0; k < 3; k++) {
		at = seqmodel_xlate(m, ua[k], 6 + part[k] * (uint64_t)r->num);
		if (at < 0 ||
		    seqmodel_overlap(op->n, op->data_want, (uint64_t)at,
				     6 + part[k] * (uint64_t)r->num))
			r->inf_on = false;
	}
}

void seqmodel_op(struct seqmodel *m, const struct seq_op *op)
{
	unsigned int i;

	switch (op->kind) {
	case SEQ_GUEST:
		m->epoch++;
		for (i = 0; i < SEQMODEL_RINGS; i++) {
			struct seqmodel_ring *r = &m->ring[i];
			int64_t u, d;

			if (!r->addr_known || !r->num_known)
				continue;
			/* over a used ring: its index is ours now, re-read */
			u = seqmodel_xlate(m, r->used_ua,
					   4 + 8 * (uint64_t)r->num);
			if (u < 0 || (op->n < (uint64_t)u + 4 + 8 * r->num &&
				      op->n + op->data_want > (uint64_t)u))
				r->seen_valid = false;
			/* over the descriptors of a ring that may run: the
			 * device may have read the old ones */
			d = seqmodel_xlate(m, r->desc_ua,
					   16 * (uint64_t)r->num);
			if (r->ever_kicked &&
			    (d < 0 || (op->n < (uint64_t)d + 16 * r->num &&
				       op->n + op->data_want > (uint64_t)d)))
				r->desc_unsure = true;
			seqmodel_inf_guest(m, r, op);
		}
		break;
	case SEQ_KICK:
	case SEQ_CLOSE:
	case SEQ_FEED:
		/* an eventfd signalled, a pipe or socket end closed or
		 * written: any ring's kick fd may be readable now */
		for (i = 0; i < SEQMODEL_RINGS; i++)
			seqmodel_kicked(&m->ring[i]);
		break;
	default:
		break;
	}
}

static bool seqmodel_readable(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, 0) != 0; /* readable, or an error: unsure */
}

static int seqmodel_fire(struct seqmodel *m, const char *name,
			 const char **oracle, const char **why)
{
	*oracle = name;
	*why = m->why;
	return -EPROTO;
}

/* GET_VRING_BASE answered: judge the answer, then the ring is stopped. */
static int seqmodel_get_base(struct seqmodel *m, const struct seq_sent *s,
			     const struct vhost_user_msg *rep,
			     const char **oracle, const char **why)
{
	struct vhost_user_vring_state q, a;
	struct seqmodel_ring *r;
	unsigned int i;

	memcpy(&q, s->m.payload, sizeof(q));
	if (q.index >= SEQMODEL_RINGS || rep->hdr.size != sizeof(a) ||
	    rep->hdr.request != VHOST_USER_GET_VRING_BASE)
		return 0;
	r = &m->ring[q.index];
	memcpy(&a, rep->payload, sizeof(a));
	/* "For a split virtqueue, returns only the 16-bit next descriptor
	 * index to process in the Available Ring": a ring never started
	 * processed nothing ("While a ring is stopped, the back-end must not
	 * process the ring at all"), so that is the base that was set. */
	if (!r->ever_kicked && r->nbases && !m->ring_unsure) {
		bool ok = false;

		for (i = 0; i < r->nbases; i++)
			ok |= a.num == r->bases[i] ||
			      a.num == (r->bases[i] & 0xffff);
		if (!ok) {
			m->check = (struct seqmodel_check){
				.kind = SEQMODEL_CHECK_BASE_IN,
			};
			for (i = 0; i < r->nbases; i++) {
				m->check.set[m->check.nset++] = r->bases[i];
				m->check.set[m->check.nset++] =
					r->bases[i] & 0xffff;
			}
			snprintf(m->why, sizeof(m->why),
				 "GET_VRING_BASE of vring %u answered %u; the "
				 "ring was never kicked (stopped: nothing "
				 "processed), its base was set to %u",
				 q.index, a.num, r->bases[r->nbases - 1]);
			return seqmodel_fire(m, SEQMODEL_ORACLE_BASE, oracle,
					     why);
		}
	}
	if (r->nbases && r->nbases < SEQMODEL_BASES)
		r->bases[r->nbases++] = a.num;
	/* inflight-not-marked is judged at the next sync point: a data-path
	 * thread has had a round trip to finish marking what it popped */
	if (r->inf_on) {
		r->inf_base = true;
		r->inf_base_n = (uint16_t)a.num;
		r->inf_base_gen = m->gen;
	}
	/* "stop a ring upon receiving VHOST_USER_GET_VRING_BASE": surely
	 * stopped unless a kick is still waiting in its kick fd (one the
	 * back-end may take after this reply, which starts it again) */
	if (r->kick == SEQMODEL_KICK_NONE ||
	    (r->kick == SEQMODEL_KICK_EVENTFD &&
	     !seqmodel_readable(r->kick_fd))) {
		r->stopped = true;
		r->stop_gen = m->gen;
	} else {
		r->stopped = false;
	}
	return 0;
}

/* GET_CONFIG answered: read-only bytes as they were before a SET_CONFIG
 * without the live-migration flag. */
static int seqmodel_get_config(struct seqmodel *m, const struct seq_sent *s,
			       const struct vhost_user_msg *rep,
			       const char **oracle, const char **why)
{
	unsigned int n = seqmodel_ro_len(m), i;
	uint32_t off, size;

	if (!n || s->m.hdr.size < 12 || s->fail)
		return 0;
	memcpy(&off, s->m.payload, 4);
	memcpy(&size, s->m.payload + 4, 4);
	if (off != 0 || size < n || rep->hdr.request != VHOST_USER_GET_CONFIG ||
	    rep->hdr.size != 12 + size || rep->hdr.size > sizeof(rep->payload))
		return 0;
	/* "back-ends MUST NOT accept SET_CONFIG for read-only configuration
	 * space fields unless the live migration bit is set" */
	if (m->ro_known && m->ro_written &&
	    memcmp(m->ro, rep->payload + 12, n)) {
		m->check = (struct seqmodel_check){
			.kind = SEQMODEL_CHECK_CONFIG,
			.nbytes = n,
		};
		memcpy(m->check.bytes, m->ro, n);
		i = (unsigned int)snprintf(m->why, sizeof(m->why),
					   "read-only config bytes 0-%u were",
					   n - 1);
		for (size = 0; size < n && i < sizeof(m->why) - 4; size++)
			i += (unsigned int)snprintf(m->why + i,
						    sizeof(m->why) - i, " %02x",
						    m->ro[size]);
		snprintf(m->why + VUC_MIN(i, sizeof(m->why) - 1),
			 sizeof(m->why) - VUC_MIN(i, sizeof(m->why) - 1),
			 ", a SET_CONFIG without the live migration flag "
			 "changed them");
		return seqmodel_fire(m, SEQMODEL_ORACLE_CONFIG_RO, oracle, why);
	}
	memcpy(m->ro, rep->payload + 12, n);
	m->ro_known = true;
	m->ro_written = false;
	return 0;
}

static void seqmodel_mem_table(struct seqmodel *m, const struct seq_sent *s,
			       bool guest_fds, bool nacked)
{
	struct vhost_user_mem_table t;

	m->table_known = false;
	if (s->fail || !guest_fds || nacked || s->m.hdr.size < 8)
		return;
	memset(&t, 0, sizeof(t));
	memcpy(&t, s->m.payload, VUC_MIN(s->m.hdr.size, sizeof(t)));
	if (!t.nregions || t.nregions > VHOST_USER_MAX_MEM_REGIONS ||
	    s->m.hdr.size != 8 + 32 * t.nregions || s->nfds != t.nregions)
		return;
	memcpy(m->reg, t.regions, sizeof(m->reg[0]) * t.nregions);
	m->nreg = t.nregions;
	m->table_known = true;
}

static void seqmodel_ranges(const struct seqmodel *m, unsigned int q,
			    int64_t at[3], uint64_t len[3]);
static bool seqmodel_aliased(const struct seqmodel *m, unsigned int q);

/* GET_INFLIGHT_FD answered: the back-end's layout for that queue count and
 * size (a region per queue: mmap_size / num_queues bytes each). */
static void seqmodel_get_inflight(struct seqmodel *m,
				  const struct vhost_user_msg *reps,
				  unsigned int nrep)
{
	struct vhost_user_inflight in;

	m->get_known = false;
	if (!nrep || reps[0].hdr.request != VHOST_USER_GET_INFLIGHT_FD ||
	    reps[0].hdr.size != sizeof(in))
		return;
	memcpy(&in, reps[0].payload, sizeof(in));
	if (!in.num_queues || in.mmap_size % in.num_queues)
		return;
	m->get_known = true;
	m->get_nq = in.num_queues;
	m->get_qs = in.queue_size;
	m->get_size = in.mmap_size;
}

/* SET_INFLIGHT_FD of the guest memory fd, acked 0: where the regions are. */
static void seqmodel_set_inflight(struct seqmodel *m, const struct seq_sent *s,
				  bool guest_fds, bool acked0)
{
	struct vhost_user_inflight in;

	m->inf_known = false;
	if (!acked0 || !guest_fds || s->nfds != 1 || s->fail ||
	    s->m.hdr.size != sizeof(in) || !m->guest)
		return;
	memcpy(&in, s->m.payload, sizeof(in));
	if (!in.num_queues || !in.queue_size || in.queue_size > 32768 ||
	    (in.queue_size & (in.queue_size - 1)) ||
	    in.mmap_offset > m->guest_size ||
	    in.mmap_size > m->guest_size - in.mmap_offset)
		return;
	m->inf_known = true;
	m->inf_off = in.mmap_offset;
	m->inf_size = in.mmap_size;
	m->inf_nq = in.num_queues;
	m->inf_qs = in.queue_size;
	m->inf_stride = 0;
	if (m->get_known && m->get_nq == in.num_queues &&
	    m->get_qs == in.queue_size &&
	    m->get_size / m->get_nq >= seqmodel_inf_len(in.queue_size))
		m->inf_stride = m->get_size / m->get_nq;
}

/* Ring @q's parts overlap the inflight regions, or another ring. */
static bool seqmodel_inf_aliased(const struct seqmodel *m, unsigned int q)
{
	int64_t at[3];
	uint64_t len[3];
	unsigned int i, k;

	if (seqmodel_aliased(m, q))
		return true;
	for (i = 0; i < SEQMODEL_RINGS; i++) {
		seqmodel_ranges(m, i, at, len);
		for (k = 0; k < 3; k++) {
			if (i == q && at[k] < 0)
				return true;
			if (at[k] >= 0 &&
			    seqmodel_overlap((uint64_t)at[k], len[k],
					     m->inf_off, m->inf_size))
				return true;
		}
	}
	return false;
}

/* The base the back-end surely has for @r, or -1. */
static int64_t seqmodel_sure_base(const struct seqmodel_ring *r)
{
	unsigned int i;

	if (!r->nbases)
		return 0; /* "initialized" to 0: never set */
	if (r->base_acked)
		return r->base_val & 0xffff;
	for (i = 1; i < r->nbases; i++)
		if (r->bases[i] != r->bases[0])
			return -1;
	return r->bases[0] & 0xffff;
}

/*
 * SET_VRING_KICK for ring @q: track it from here if the model knows where
 * its inflight region is and what is in it (see seqmodel.h). Every value
 * is read before the used idx is read a second time: a back-end that
 * started already (libvhost-user kicks itself here) changed it first.
 */
static void seqmodel_inf_arm(struct seqmodel *m, unsigned int q)
{
	struct seqmodel_ring *r = &m->ring[q];
	uint64_t at = m->inf_off + q * m->inf_stride;
	int64_t u, a, b = seqmodel_sure_base(r);
	uint16_t u0, ver, rused, avail, k = 0;
	unsigned int i;
	bool bad = false;

	r->inf_on = false;
	if (!m->inf_known || q >= m->inf_nq || (q && !m->inf_stride) ||
	    !r->num_known || !r->addr_known || r->num != m->inf_qs ||
	    r->num > SEQMODEL_INF_QMAX || r->ever_kicked || m->ring_unsure ||
	    !m->table_known || b < 0 ||
	    at + seqmodel_inf_len(r->num) > m->inf_off + m->inf_size ||
	    seqmodel_inf_aliased(m, q))
		return;
	u = seqmodel_xlate(m, r->used_ua, 4 + 8 * (uint64_t)r->num);
	a = seqmodel_xlate(m, r->avail_ua, 4 + 2 * (uint64_t)r->num);
	if (u < 0 || a < 0)
		return;
	u0 = seqmodel_rd16(m, (uint64_t)u + 2);
	ver = seqmodel_rd16(m, at + 8);
	rused = seqmodel_rd16(m, at + 14);
	for (i = 0; i < r->num; i++) {
		uint8_t f = m->guest[at + 16 + 16 * (uint64_t)i];

		r->inf_marked[i] = f == 1;
		k += f == 1;
		bad |= f > 1;
	}
	avail = seqmodel_rd16(m, (uint64_t)a + 2);
	if (seqmodel_rd16(m, (uint64_t)u + 2) != u0 || b != u0 || bad ||
	    ver > 1)
		return;
	r->inf_resume = ver == 1 && k;
	if (r->inf_resume) {
		/* "When reconnecting": nothing half done (used_idx is the
		 * used ring's), every head marked was popped from the avail
		 * ring right before the used idx (base = used idx, QEMU's
		 * after a crash) and nothing else is published */
		if (rused != u0 || avail != (uint16_t)(u0 + k))
			return;
		memcpy(r->inf_left, r->inf_marked, r->num);
		r->inf_p0 = avail;
		r->inf_k = k;
	} else {
		/* version 0 ("uninitialized": its flags mean nothing) or
		 * nothing inflight: heads are popped from the base on */
		if ((uint16_t)(avail - u0) > r->num)
			return;
		memset(r->inf_marked, 0, r->num);
		r->inf_p0 = u0;
		r->inf_k = 0;
	}
	r->inf_on = true;
	r->inf_at = at;
	r->inf_u0 = u0;
	r->inf_seen = u0;
	r->inf_rec = false;
	r->inf_base = false;
}

int seqmodel_msg(struct seqmodel *m, const struct seq_sent *s, const int *fds,
		 bool guest_fds, const struct vhost_user_msg *reps,
		 unsigned int nrep, const char **oracle, const char **why)
{
	const struct vhost_user_msg *msg = &s->m;
	struct vhost_user_vring_state st;
	struct vhost_user_vring_addr va;
	struct seqmodel_ring *r = NULL;
	bool acked0 = nrep && reps[0].hdr.size == 8 &&
		      reps[0].hdr.request == msg->hdr.request &&
		      seq_reply_success(&reps[0]);
	bool nacked = nrep && reps[0].hdr.size == 8 &&
		      reps[0].hdr.request == msg->hdr.request &&
		      !seq_reply_success(&reps[0]);
	uint64_t u64 = 0;
	unsigned int i;

	memcpy(&st, msg->payload, sizeof(st));
	memcpy(&u64, msg->payload, sizeof(u64));
	if (st.index < SEQMODEL_RINGS)
		r = &m->ring[st.index];
	switch (msg->hdr.request) {
	case VHOST_USER_SET_FEATURES:
		if (msg->hdr.size != 8 || (u64 >> SEQMODEL_F_RING_PACKED & 1))
			m->ring_unsure = true;
		if (msg->hdr.size != 8 || (u64 >> SEQMODEL_F_IN_ORDER & 1))
			m->in_order = true;
		seqmodel_inf_off_all(m);
		/* "upon receiving a VHOST_USER_SET_FEATURES message from the
		 * front-end without VHOST_USER_F_PROTOCOL_FEATURES set, the
		 * back-end must enable all rings immediately" */
		for (i = 0; i < SEQMODEL_RINGS; i++)
			m->ring[i].disabled = false;
		break;
	case VHOST_USER_SET_MEM_TABLE:
		seqmodel_inf_off_all(m);
		seqmodel_mem_table(m, s, guest_fds, nacked);
		for (i = 0; i < SEQMODEL_RINGS; i++) {
			m->ring[i].seen_valid = false;
			m->ring[i].desc_unsure |= m->ring[i].ever_kicked;
		}
		break;
	case VHOST_USER_ADD_MEM_REG:
	case VHOST_USER_REM_MEM_REG:
		/* not modelled: the rings are not read any more */
		m->table_known = false;
		seqmodel_inf_off_all(m);
		break;
	case VHOST_USER_GET_INFLIGHT_FD:
		/* the back-end tracks into a new buffer of its own now */
		m->inf_known = false;
		seqmodel_inf_off_all(m);
		seqmodel_get_inflight(m, reps, nrep);
		break;
	case VHOST_USER_SET_INFLIGHT_FD:
		seqmodel_inf_off_all(m);
		seqmodel_set_inflight(m, s, guest_fds, acked0);
		break;
	case VHOST_USER_SET_VRING_NUM:
		if (!r || s->fail || nacked)
			break;
		r->inf_on = false;
		r->num_known =
			st.num && st.num <= 32768 && !(st.num & (st.num - 1));
		r->num = st.num;
		r->seen_valid = false;
		r->desc_unsure |= r->ever_kicked;
		break;
	case VHOST_USER_SET_VRING_ADDR:
		if (!r || s->fail || nacked || msg->hdr.size != sizeof(va))
			break;
		memcpy(&va, msg->payload, sizeof(va));
		r->inf_on = false;
		r->addr_known = true;
		r->desc_ua = va.desc;
		r->avail_ua = va.avail;
		r->used_ua = va.used;
		r->seen_valid = false;
		r->desc_unsure |= r->ever_kicked;
		break;
	case VHOST_USER_SET_VRING_BASE:
		if (!r || s->fail || nacked)
			break;
		r->inf_on = false;
		r->base_acked = acked0;
		r->base_val = st.num;
		/* a value refused without a word leaves an earlier one: all
		 * that were set are legal answers */
		if (!r->nbases)
			r->bases[r->nbases++] = 0;
		if (r->nbases < SEQMODEL_BASES)
			r->bases[r->nbases++] = st.num;
		else
			r->nbases = 0; /* too many to follow: stand down */
		break;
	case VHOST_USER_SET_VRING_KICK:
		if (st.index >= SEQMODEL_RINGS || msg->hdr.size != 8) {
			for (i = 0; i < SEQMODEL_RINGS; i++)
				seqmodel_kicked(&m->ring[i]);
			break;
		}
		r = &m->ring[u64 & VHOST_USER_VRING_IDX_MASK];
		/* set going: tracked from here (a second kick fd: no more) */
		if (r->inf_on || s->fail || nacked)
			r->inf_on = false;
		else
			seqmodel_inf_arm(m, u64 & VHOST_USER_VRING_IDX_MASK);
		if (!(u64 & VHOST_USER_VRING_NOFD_MASK) && s->nfds == 1 &&
		    s->kind == FDZOO_EVENTFD && fds) {
			/* a new eventfd of ours: nothing in it yet */
			r->kick = SEQMODEL_KICK_EVENTFD;
			r->kick_fd = fds[0];
		} else {
			/* polling, or an fd that may be readable now */
			r->kick = SEQMODEL_KICK_OTHER;
			seqmodel_kicked(r);
		}
		break;
	case VHOST_USER_VRING_KICK:
		if (r)
			seqmodel_kicked(r);
		else
			for (i = 0; i < SEQMODEL_RINGS; i++)
				seqmodel_kicked(&m->ring[i]);
		break;
	case VHOST_USER_SET_VRING_ENABLE:
		if (!r || s->fail)
			break;
		/* disabled for sure only when the back-end said it took it */
		r->disabled = st.num == 0 && acked0;
		r->dis_gen = m->gen;
		break;
	case VHOST_USER_GET_VRING_BASE:
		if (!s->fail && nrep)
			return seqmodel_get_base(m, s, &reps[0], oracle, why);
		break;
	case VHOST_USER_GET_CONFIG:
		if (nrep)
			return seqmodel_get_config(m, s, &reps[0], oracle, why);
		break;
	case VHOST_USER_SET_CONFIG: {
		uint32_t off, flags;

		if (msg->hdr.size < 12) {
			m->ro_known = false;
			break;
		}
		memcpy(&off, msg->payload, 4);
		memcpy(&flags, msg->payload + 8, 4);
		if (flags & VHOST_USER_CONFIG_LIVE_MIGRATION)
			m->ro_known = false; /* read-only fields may change */
		else if (off < seqmodel_ro_len(m))
			m->ro_written = true;
		break;
	}
	case VHOST_USER_RESET_OWNER:
	case VHOST_USER_RESET_DEVICE:
	case VHOST_USER_SET_STATUS:
	case VHOST_USER_SET_DEVICE_STATE_FD:
		/* what a reset, a status change or a state load keeps is up
		 * to the back-end */
		seqmodel_all_unsure(m);
		break;
	default:
		break;
	}
	return 0;
}

/* The bytes a chain lets the device write: -1 if it cannot be told (an
 * indirect table, a loop, a descriptor out of the table or memory). */
static int64_t seqmodel_writable(const struct seqmodel *m,
				 const struct seqmodel_ring *r, uint32_t head)
{
	int64_t dt = seqmodel_xlate(m, r->desc_ua, 16 * (uint64_t)r->num);
	uint64_t w = 0;
	uint32_t i = head, k;

	if (dt < 0 || head >= r->num)
		return -1;
	for (k = 0; k < r->num; k++) {
		uint64_t d = (uint64_t)dt + 16 * (uint64_t)i;
		uint16_t flags = seqmodel_rd16(m, d + 12);

		if (flags & SEQMODEL_DESC_INDIRECT)
			return -1;
		if (flags & SEQMODEL_DESC_WRITE)
			w += seqmodel_rd32(m, d + 8);
		if (!(flags & SEQMODEL_DESC_NEXT))
			return (int64_t)w;
		i = seqmodel_rd16(m, d + 14);
		if (i >= r->num)
			return -1;
	}
	return -1; /* a loop */
}

/* The guest memory ranges of ring @q's parts (-1: not in memory). */
static void seqmodel_ranges(const struct seqmodel *m, unsigned int q,
			    int64_t at[3], uint64_t len[3])
{
	const struct seqmodel_ring *r = &m->ring[q];

	len[0] = 16 * (uint64_t)r->num;
	len[1] = 6 + 2 * (uint64_t)r->num;
	len[2] = 6 + 8 * (uint64_t)r->num;
	at[0] = at[1] = at[2] = -1;
	if (!r->addr_known || !r->num_known)
		return;
	at[0] = seqmodel_xlate(m, r->desc_ua, len[0]);
	at[1] = seqmodel_xlate(m, r->avail_ua, len[1]);
	at[2] = seqmodel_xlate(m, r->used_ua, len[2]);
}

/*
 * Ring @q's used ring shares bytes with a part of a ring (its own desc or
 * avail ring, or any part of another): what the device writes there is
 * not this ring's alone, nor are the chains what the driver wrote. Not
 * judged.
 */
static bool seqmodel_aliased(const struct seqmodel *m, unsigned int q)
{
	int64_t uq[3], o[3];
	uint64_t lq[3], lo[3];
	unsigned int i, k;

	seqmodel_ranges(m, q, uq, lq);
	if (uq[2] < 0)
		return true;
	for (i = 0; i < SEQMODEL_RINGS; i++) {
		seqmodel_ranges(m, i, o, lo);
		for (k = 0; k < 3; k++) {
			if (o[k] < 0 || (i == q && k == 2))
				continue;
			if ((uint64_t)o[k] < (uint64_t)uq[2] + lq[2] &&
			    (uint64_t)uq[2] < (uint64_t)o[k] + lo[k])
				return true;
		}
	}
	return false;
}

/* Judge the new used entries of ring @q. */
static int seqmodel_sync_ring(struct seqmodel *m, unsigned int q,
			      const char **oracle, const char **why)
{
	struct seqmodel_ring *r = &m->ring[q];
	int64_t u = -1;
	uint16_t idx, n, j;

	if (r->addr_known && r->num_known && !seqmodel_aliased(m, q))
		u = seqmodel_xlate(m, r->used_ua, 4 + 8 * (uint64_t)r->num);
	if (u < 0) {
		r->seen_valid = false;
		return 0;
	}
	idx = seqmodel_rd16(m, (uint64_t)u + 2);
	n = (uint16_t)(idx - r->used_seen);
	if (!r->seen_valid || n > r->num) {
		/* a first look, or an index we did not see move */
		r->used_seen = idx;
		r->seen_valid = true;
		return 0;
	}
	for (j = 0; j < n; j++) {
		uint64_t e =
			(uint64_t)u + 4 +
			8 * (uint64_t)((uint16_t)(r->used_seen + j) % r->num);
		uint32_t id = seqmodel_rd32(m, e),
			 len = seqmodel_rd32(m, e + 4);
		int64_t w;

		/* "While a ring is stopped, the back-end must not process
		 * the ring at all" */
		if (r->stopped && r->stop_gen < m->gen) {
			m->check = (struct seqmodel_check){
				.kind = SEQMODEL_CHECK_U16_EQ,
				.off = (uint64_t)u + 2,
				.val = r->used_seen,
			};
			snprintf(m->why, sizeof(m->why),
				 "vring %u is stopped (%s, no kick since), yet "
				 "its used idx went from %u to %u",
				 q,
				 r->ever_kicked ? "GET_VRING_BASE answered"
						: "never kicked",
				 r->used_seen, idx);
			return seqmodel_fire(m, SEQMODEL_ORACLE_STOPPED, oracle,
					     why);
		}
		/* "in the disabled state the back-end must not supply any
		 * new RX packets" (an RX packet carries a virtio_net_hdr) */
		if (m->dev == SEQMODEL_DEV_NET && !(q & 1) && r->disabled &&
		    r->dis_gen < m->gen && len >= SEQMODEL_NET_HDR_MIN) {
			m->check = (struct seqmodel_check){
				.kind = SEQMODEL_CHECK_U16_EQ,
				.off = (uint64_t)u + 2,
				.val = r->used_seen,
			};
			snprintf(m->why, sizeof(m->why),
				 "RX vring %u is disabled (SET_VRING_ENABLE 0 "
				 "acked), yet a packet of %u bytes came on it",
				 q, len);
			return seqmodel_fire(m, SEQMODEL_ORACLE_RX_DISABLED,
					     oracle, why);
		}
		/* "len: The number of bytes written into the device
		 * writable portion of the buffer" (judged while the
		 * descriptors are those the device could have read) */
		if (m->in_order || r->desc_unsure)
			continue;
		w = seqmodel_writable(m, r, id);
		if (w >= 0 && len > (uint64_t)w) {
			m->check = (struct seqmodel_check){
				.kind = SEQMODEL_CHECK_U32_MAX,
				.off = e + 4,
				.val = (uint32_t)w,
			};
			snprintf(m->why, sizeof(m->why),
				 "vring %u used entry %u (head %u): len %u, "
				 "but its chain has %llu device-writable bytes",
				 q, (uint16_t)(r->used_seen + j), id, len,
				 (unsigned long long)w);
			return seqmodel_fire(m, SEQMODEL_ORACLE_USED_LEN,
					     oracle, why);
		}
	}
	r->used_seen = idx;
	return 0;
}

/* Guest physical address @gpa, @len bytes, as a guest memory offset. */
static int64_t seqmodel_xlate_gpa(const struct seqmodel *m, uint64_t gpa,
				  uint64_t len)
{
	unsigned int i;

	for (i = 0; i < m->nreg; i++) {
		const struct vhost_user_mem_region *r = &m->reg[i];
		uint64_t d = gpa - r->guest_addr;

		if (gpa < r->guest_addr || d >= r->size || len > r->size - d)
			continue;
		return seqmodel_xlate(m, r->user_addr + d, len);
	}
	return -1;
}

/* A chain any back-end takes whole: direct descriptors, no loop, every
 * buffer non-empty and inside the memory the session sent, the readable
 * ones first, under 4 GiB in all. */
static bool seqmodel_chain_ok(const struct seqmodel *m,
			      const struct seqmodel_ring *r, uint32_t head)
{
	int64_t dt = seqmodel_xlate(m, r->desc_ua, 16 * (uint64_t)r->num);
	uint32_t i = head, k;
	uint64_t total = 0;
	bool writable = false;

	if (dt < 0 || head >= r->num)
		return false;
	for (k = 0; k < r->num; k++) {
		uint64_t d = (uint64_t)dt + 16 * (uint64_t)i, addr;
		uint16_t flags = seqmodel_rd16(m, d + 12);
		uint32_t len = seqmodel_rd32(m, d + 8);

		memcpy(&addr, m->guest + d, sizeof(addr));
		if ((flags & SEQMODEL_DESC_INDIRECT) || !len ||
		    seqmodel_xlate_gpa(m, addr, len) < 0 ||
		    (writable && !(flags & SEQMODEL_DESC_WRITE)))
			return false;
		writable |= flags & SEQMODEL_DESC_WRITE;
		total += len;
		if (total >= UINT64_C(1) << 32)
			return false;
		if (!(flags & SEQMODEL_DESC_NEXT))
			return true;
		i = seqmodel_rd16(m, d + 14);
		if (i >= r->num)
			return false;
	}
	return false;
}

static uint8_t seqmodel_inf_flag(const struct seqmodel *m,
				 const struct seqmodel_ring *r, uint32_t head)
{
	return m->guest[r->inf_at + 16 + 16 * (uint64_t)head];
}

/*
 * After GET_VRING_BASE answered n: the heads at avail positions [p0, n)
 * (and, resumed, those marked at the start) that are not used are
 * inflight, so marked. The flags are read before the used ring: a head
 * used in between ("Increase the idx value of used ring" before "Set the
 * inflight field ... to 0") is then seen used, not judged.
 */
static int seqmodel_inf_marked(struct seqmodel *m, unsigned int q, int64_t u,
			       int64_t a, const char **oracle, const char **why)
{
	struct seqmodel_ring *r = &m->ring[q];
	uint8_t flag[SEQMODEL_INF_QMAX], cnt[SEQMODEL_INF_QMAX];
	bool skip[SEQMODEL_INF_QMAX];
	uint16_t pc = (uint16_t)(r->inf_base_n - r->inf_p0), idx, nu, p;
	uint16_t avail = seqmodel_rd16(m, (uint64_t)a + 2);
	uint32_t h;

	for (h = 0; h < r->num; h++)
		flag[h] = seqmodel_inf_flag(m, r, h);
	idx = seqmodel_rd16(m, (uint64_t)u + 2);
	nu = (uint16_t)(idx - r->inf_u0);
	if (pc > (uint16_t)(avail - r->inf_p0) || pc > r->num || nu > r->num)
		return 0; /* an answer past what was published: not ours */
	memset(skip, 0, sizeof(skip));
	for (h = 0; h < r->num; h++)
		cnt[h] = r->inf_marked[h];
	for (p = 0; p < pc; p++) {
		h = seqmodel_rd16(
			m, (uint64_t)a + 4 +
				   2 * ((uint16_t)(r->inf_p0 + p) % r->num));
		if (h >= r->num)
			return 0;
		cnt[h]++;
		skip[h] |= !seqmodel_chain_ok(m, r, h);
	}
	for (p = 0; p < nu; p++) {
		h = seqmodel_rd32(
			m, (uint64_t)u + 4 +
				   8 * ((uint16_t)(r->inf_u0 + p) % r->num));
		if (h >= r->num || !cnt[h])
			return 0; /* not a head in flight: another oracle's */
		cnt[h]--;
	}
	for (h = 0; h < r->num; h++) {
		if (cnt[h] != 1 || skip[h] || flag[h] == 1)
			continue;
		m->check = (struct seqmodel_check){
			.kind = SEQMODEL_CHECK_U8_EQ,
			.off = r->inf_at + 16 + 16 * (uint64_t)h,
			.val = 1,
			.off2 = (uint64_t)u + 2,
			.val2 = idx,
		};
		snprintf(
			m->why, sizeof(m->why),
			"vring %u: head %u was popped (GET_VRING_BASE answered "
			"%u) and is not used, yet its inflight flag in the "
			"region is %u (SHOULD)",
			q, h, r->inf_base_n, flag[h]);
		return seqmodel_fire(m, SEQMODEL_ORACLE_INF_MARKED, oracle,
				     why);
	}
	return 0;
}

/* The inflight oracles of tracked ring @q at a sync point. */
static int seqmodel_inf_sync(struct seqmodel *m, unsigned int q,
			     const char **oracle, const char **why)
{
	struct seqmodel_ring *r = &m->ring[q];
	int64_t u, a;
	uint16_t idx, n, j, avail, out;
	uint32_t id;
	int ret;

	if (!r->inf_on)
		return 0;
	u = seqmodel_xlate(m, r->used_ua, 4 + 8 * (uint64_t)r->num);
	a = seqmodel_xlate(m, r->avail_ua, 4 + 2 * (uint64_t)r->num);
	if (u < 0 || a < 0 || !m->inf_known || seqmodel_inf_aliased(m, q)) {
		r->inf_on = false;
		return 0;
	}
	if (r->inf_base && r->inf_base_gen < m->gen) {
		r->inf_base = false;
		ret = seqmodel_inf_marked(m, q, u, a, oracle, why);
		if (ret < 0)
			return ret;
	}
	idx = seqmodel_rd16(m, (uint64_t)u + 2);
	n = (uint16_t)(idx - r->inf_seen);
	if (n > r->num) {
		r->inf_on = false; /* more than it could: not followed */
		return 0;
	}
	/* "Resubmit inflight DescStateSplit entries": the heads marked are
	 * used once each; a head completed before is not used again */
	for (j = 0; j < n && r->inf_resume; j++) {
		uint16_t pos = (uint16_t)(r->inf_seen + j);

		id = seqmodel_rd32(m, (uint64_t)u + 4 + 8 * (pos % r->num));
		if (id < r->num && r->inf_left[id]) {
			r->inf_left[id]--;
			continue;
		}
		m->check = (struct seqmodel_check){
			.kind = SEQMODEL_CHECK_USED_HEAD,
			.off = (uint64_t)u,
			.val = id,
			.val2 = r->inf_u0,
			.num = r->num,
			.max = id < r->num ? r->inf_marked[id] : 0,
		};
		snprintf(m->why, sizeof(m->why),
			 "vring %u used head %u (used entry %u) after resuming "
			 "from the inflight region; the heads inflight were "
			 "%u, base %u: it %s (SHOULD)",
			 q, id, pos, r->inf_k, r->inf_u0,
			 id < r->num && r->inf_marked[id]
				 ? "was resubmitted already"
				 : "was completed before, not inflight");
		return seqmodel_fire(m, SEQMODEL_ORACLE_INF_AGAIN, oracle, why);
	}
	r->inf_seen = idx;
	/* everything popped is used, twice in a row: the heads used have
	 * their flag cleared ("Set the inflight field of each
	 * DescStateSplit entry in the batch to 0") */
	avail = seqmodel_rd16(m, (uint64_t)a + 2);
	out = (uint16_t)(r->inf_k + (uint16_t)(avail - r->inf_p0) -
			 (uint16_t)(idx - r->inf_u0));
	if (out || (uint16_t)(avail - r->inf_p0) > r->num) {
		r->inf_rec = false;
		return 0;
	}
	if (!r->inf_rec || r->inf_rec_idx != idx) {
		r->inf_rec = true;
		r->inf_rec_idx = idx;
		return 0;
	}
	n = VUC_MIN((uint16_t)(idx - r->inf_u0), (uint16_t)r->num);
	for (j = 0; j < n; j++) {
		uint16_t pos = (uint16_t)(idx - n + j);

		id = seqmodel_rd32(m, (uint64_t)u + 4 + 8 * (pos % r->num));
		if (id >= r->num || !seqmodel_inf_flag(m, r, id))
			continue;
		m->check = (struct seqmodel_check){
			.kind = SEQMODEL_CHECK_U8_EQ,
			.off = r->inf_at + 16 + 16 * (uint64_t)id,
			.val = 0,
			.off2 = (uint64_t)u + 2,
			.val2 = idx,
		};
		snprintf(m->why, sizeof(m->why),
			 "vring %u: head %u was used (used entry %u) and "
			 "nothing is in flight, yet its inflight flag in the "
			 "region is still %u (SHOULD)",
			 q, id, pos, seqmodel_inf_flag(m, r, id));
		return seqmodel_fire(m, SEQMODEL_ORACLE_INF_CLEARED, oracle,
				     why);
	}
	return 0;
}

int seqmodel_sync(struct seqmodel *m, const char **oracle, const char **why)
{
	unsigned int q;
	int ret = 0;

	if (!m->guest || m->ring_unsure || !m->table_known) {
		m->gen++;
		return 0;
	}
	for (q = 0; q < SEQMODEL_RINGS && !ret; q++) {
		ret = seqmodel_sync_ring(m, q, oracle, why);
		if (!ret)
			ret = seqmodel_inf_sync(m, q, oracle, why);
	}
	m->gen++;
	return ret;
}

/* ---- seeds ------------------------------------------------------------- */

struct seqmodel_out {
	uint8_t *p;
	size_t n, cap;
	bool full;
};

static void seqmodel_put(struct seqmodel_out *o, const void *p, size_t len)
{
	if (!len)
		return;
	if (o->full || len > o->cap - o->n) {
		o->full = true;
		return;
	}
	memcpy(o->p + o->n, p, len);
	o->n += len;
}

static void seqmodel_put8(struct seqmodel_out *o, uint8_t v)
{
	seqmodel_put(o, &v, 1);
}

/* A MSG op with an explicit payload; @fdk: one fd of that kind, or 0. */
static void seqmodel_put_msg(struct seqmodel_out *o, uint32_t code,
			     bool need_reply, const void *pl, uint16_t size,
			     enum seq_fdk fdk)
{
	seqmodel_put8(o, 0); /* op bytes: fe/seq.h */
	seqmodel_put8(o, (uint8_t)code);
	seqmodel_put8(o, (uint8_t)(0x02 | (need_reply ? 0x01 : 0) |
				   (fdk ? 0x04 : 0)));
	seqmodel_put(o, &size, 2);
	if (fdk)
		seqmodel_put8(o, (uint8_t)(0x01 | fdk << 4));
	seqmodel_put(o, pl, size);
}

static void seqmodel_put_u64(struct seqmodel_out *o, uint32_t code,
			     bool need_reply, uint64_t v, enum seq_fdk fdk)
{
	seqmodel_put_msg(o, code, need_reply, &v, 8, fdk);
}

static void seqmodel_put_guest(struct seqmodel_out *o, uint16_t off,
			       const void *p, uint8_t len)
{
	seqmodel_put8(o, 11);
	seqmodel_put(o, &off, 2);
	seqmodel_put8(o, len);
	seqmodel_put(o, p, len);
}

static void seqmodel_put_kick(struct seqmodel_out *o, uint8_t n)
{
	seqmodel_put8(o, 10);
	seqmodel_put8(o, n);
}

/* The seeds' guest layout: gpa = guest memory offset, user address
 * SEQMODEL_UA + offset; vring q of 4 entries at 0x1000 * (q + 1) (desc,
 * avail at +0x40, used at +0x80); buffers from 0x8000. */
#define SEQMODEL_UA UINT64_C(0x7f0000000000)
#define SEQMODEL_QNUM 4
#define SEQMODEL_RING_AT(q) ((uint16_t)(0x1000 * ((q) + 1)))

struct seqmodel_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags, next;
};

/* The handshake: features (PROTOCOL_FEATURES and VERSION_1), protocol
 * features REPLY_ACK and @pf, the guest memory as one region. */
static void seqmodel_put_setup(struct seqmodel_out *o, enum seqmodel_dev dev,
			       unsigned int pf)
{
	struct vhost_user_mem_table t;

	seqmodel_put8(o, dev == SEQMODEL_DEV_BLK ? 1 : 0);
	seqmodel_put_msg(o, VHOST_USER_GET_FEATURES, false, NULL, 0, 0);
	seqmodel_put_msg(o, VHOST_USER_GET_PROTOCOL_FEATURES, false, NULL, 0,
			 0);
	seqmodel_put_u64(o, VHOST_USER_SET_PROTOCOL_FEATURES, false,
			 UINT64_C(1) << VHOST_USER_PROTOCOL_F_REPLY_ACK |
				 UINT64_C(1) << pf,
			 0);
	seqmodel_put_msg(o, VHOST_USER_SET_OWNER, false, NULL, 0, 0);
	seqmodel_put_u64(o, VHOST_USER_SET_FEATURES, false,
			 UINT64_C(1) << 32 |
				 UINT64_C(1) << VHOST_USER_F_PROTOCOL_FEATURES,
			 0);
	memset(&t, 0, sizeof(t));
	t.nregions = 1;
	t.regions[0] = (struct vhost_user_mem_region){
		.guest_addr = 0,
		.size = SEQ_GUEST_SIZE,
		.user_addr = SEQMODEL_UA,
		.mmap_offset = 0,
	};
	seqmodel_put_msg(o, VHOST_USER_SET_MEM_TABLE, false, &t, 8 + 32,
			 SEQ_FDK_GUEST);
}

/* Vring @q set up (size 4, base 0 when @base), its call and kick fds
 * (eventfds 2k and 2k + 1 of the session for the k-th ring set up), and
 * SET_VRING_ENABLE @enable acked. */
static void seqmodel_put_ring(struct seqmodel_out *o, uint32_t q, bool base,
			      uint32_t enable)
{
	struct vhost_user_vring_state st = { q, SEQMODEL_QNUM };
	struct vhost_user_vring_addr va = {
		.index = q,
		.desc = SEQMODEL_UA + SEQMODEL_RING_AT(q),
		.avail = SEQMODEL_UA + SEQMODEL_RING_AT(q) + 0x40,
		.used = SEQMODEL_UA + SEQMODEL_RING_AT(q) + 0x80,
	};

	seqmodel_put_msg(o, VHOST_USER_SET_VRING_NUM, false, &st, 8, 0);
	if (base) {
		st.num = 0;
		seqmodel_put_msg(o, VHOST_USER_SET_VRING_BASE, false, &st, 8,
				 0);
	}
	seqmodel_put_msg(o, VHOST_USER_SET_VRING_ADDR, false, &va, sizeof(va),
			 0);
	seqmodel_put_u64(o, VHOST_USER_SET_VRING_CALL, false, q,
			 SEQ_FDK_EVENTFD);
	seqmodel_put_u64(o, VHOST_USER_SET_VRING_KICK, false, q,
			 SEQ_FDK_EVENTFD);
	st.num = enable;
	seqmodel_put_msg(o, VHOST_USER_SET_VRING_ENABLE, true, &st, 8, 0);
}

/*
 * Publish one request on vring @q: descriptors and the avail ring in one
 * guest write (avail idx @idx, every entry head 0). blk: a write of one
 * sector (header and data readable, the status byte writable: 1 byte
 * writable); net TX: a frame of 64 bytes after the 12-byte header (all
 * readable); net RX: a 2 KiB writable buffer.
 */
static void seqmodel_put_request(struct seqmodel_out *o, enum seqmodel_dev dev,
				 uint32_t q, uint16_t idx, bool with_header,
				 uint64_t sector)
{
	struct {
		struct seqmodel_desc d[3];
		uint8_t pad[0x40 - 3 * sizeof(struct seqmodel_desc)];
		uint16_t avail[2 + SEQMODEL_QNUM];
	} ring;
	struct {
		uint32_t type, reserved;
		uint64_t sector;
	} hdr = { 1, 0, sector }; /* VIRTIO_BLK_T_OUT */

	memset(&ring, 0, sizeof(ring));
	if (dev == SEQMODEL_DEV_BLK) {
		if (with_header)
			seqmodel_put_guest(o, 0x8000, &hdr, sizeof(hdr));
		ring.d[0] = (struct seqmodel_desc){ 0x8000, 16, 1, 1 };
		ring.d[1] = (struct seqmodel_desc){ 0x9000, 512, 1, 2 };
		ring.d[2] = (struct seqmodel_desc){ 0xa000, 1, 2, 0 };
	} else if (q & 1) {
		ring.d[0] = (struct seqmodel_desc){ 0x8000, 12 + 64, 0, 0 };
	} else {
		ring.d[0] = (struct seqmodel_desc){ 0xc000, 2048, 2, 0 };
	}
	ring.avail[1] = idx;
	seqmodel_put_guest(o, SEQMODEL_RING_AT(q), &ring, sizeof(ring));
}

/* The inflight seeds' region: the guest memory page at 0xe000 (mmap needs
 * a page-aligned offset; GUEST ops reach it), queue q's 128 bytes in
 * (what a GET_INFLIGHT_FD for two queues of 4 tells on vuc-ref-vhost,
 * libvhost-user and DPDK: 16 + 16 * 4 rounded up to 64). */
#define SEQMODEL_INF_AT 0xe000u
#define SEQMODEL_INF_STRIDE 128u
#define SEQMODEL_BLK_HOLD 0x484f4c44u /* vuc-ref-vhost: "HOLD" ioprio */

/* GET_INFLIGHT_FD (for the layout), then SET_INFLIGHT_FD of the guest
 * memory with need_reply: queues 0..q of size 4 tracked at 0xe000. */
static void seqmodel_put_inflight(struct seqmodel_out *o, uint32_t q)
{
	struct vhost_user_inflight in = {
		.num_queues = (uint16_t)(q + 1),
		.queue_size = SEQMODEL_QNUM,
	};

	seqmodel_put_msg(o, VHOST_USER_GET_INFLIGHT_FD, false, &in, sizeof(in),
			 0);
	in.mmap_size = 0x1000;
	in.mmap_offset = SEQMODEL_INF_AT;
	seqmodel_put_msg(o, VHOST_USER_SET_INFLIGHT_FD, true, &in, sizeof(in),
			 SEQ_FDK_GUEST);
}

/*
 * Vring @q's descriptors, avail and used rings in one guest write, then
 * the vring set up (base acked) and set going. Two requests (blk: a flush,
 * header and status; net TX: a frame), heads 0 and h1. @resume: what a
 * session that died leaves: both published, the second used, the first
 * still marked inflight in the region (base = used idx 1, QEMU's after a
 * crash); else the first published only, the region untouched (version
 * 0). @hold (blk): its ioprio holds it on vuc-ref-vhost.
 */
static void seqmodel_put_inf_ring(struct seqmodel_out *o, enum seqmodel_dev dev,
				  uint32_t q, bool resume, bool hold)
{
	struct {
		struct seqmodel_desc d[SEQMODEL_QNUM];
		uint16_t avail[2 + SEQMODEL_QNUM];
		uint8_t pad[0x80 - 0x40 - 2 * (2 + SEQMODEL_QNUM)];
		uint16_t used[2];
		uint32_t used0[2];
	} ring;
	struct {
		uint32_t type, ioprio;
		uint64_t sector;
	} hdr = { 4, hold ? SEQMODEL_BLK_HOLD : 0, 0 }; /* VIRTIO_BLK_T_FLUSH */
	struct {
		uint64_t features;
		uint16_t version, desc_num, last_batch_head, used_idx;
		uint8_t head[16];
	} reg;
	struct vhost_user_vring_state st = { q, SEQMODEL_QNUM };
	struct vhost_user_vring_addr va = {
		.index = q,
		.desc = SEQMODEL_UA + SEQMODEL_RING_AT(q),
		.avail = SEQMODEL_UA + SEQMODEL_RING_AT(q) + 0x40,
		.used = SEQMODEL_UA + SEQMODEL_RING_AT(q) + 0x80,
	};
	uint16_t h1 = dev == SEQMODEL_DEV_BLK ? 2 : 1, k;

	memset(&ring, 0, sizeof(ring));
	for (k = 0; k < 2; k++) {
		if (dev == SEQMODEL_DEV_BLK) {
			ring.d[2 * k] =
				(struct seqmodel_desc){ 0x8000, 16,
							SEQMODEL_DESC_NEXT,
							(uint16_t)(2 * k + 1) };
			ring.d[2 * k + 1] = (struct seqmodel_desc){
				0xa000 + 16 * k, 1, SEQMODEL_DESC_WRITE, 0
			};
		} else {
			ring.d[k] =
				(struct seqmodel_desc){ 0x8000, 12 + 64, 0, 0 };
		}
	}
	ring.avail[1] = resume ? 2 : 1;
	ring.avail[2] = 0;
	ring.avail[3] = h1;
	if (resume) {
		ring.used[1] = 1;
		ring.used0[0] = h1;
		ring.used0[1] = dev == SEQMODEL_DEV_BLK ? 1 : 0;
	}
	if (dev == SEQMODEL_DEV_BLK)
		seqmodel_put_guest(o, 0x8000, &hdr, sizeof(hdr));
	seqmodel_put_guest(o, SEQMODEL_RING_AT(q), &ring, sizeof(ring));
	if (resume) {
		memset(&reg, 0, sizeof(reg));
		reg.version = 1;
		reg.desc_num = SEQMODEL_QNUM;
		reg.used_idx = 1;
		reg.head[0] = 1; /* head 0: inflight, counter 1 */
		reg.head[8] = 1;
		seqmodel_put_guest(
			o,
			(uint16_t)(SEQMODEL_INF_AT + SEQMODEL_INF_STRIDE * q),
			&reg, sizeof(reg));
	}
	seqmodel_put_msg(o, VHOST_USER_SET_VRING_NUM, false, &st, 8, 0);
	st.num = resume ? 1 : 0;
	seqmodel_put_msg(o, VHOST_USER_SET_VRING_BASE, true, &st, 8, 0);
	seqmodel_put_msg(o, VHOST_USER_SET_VRING_ADDR, false, &va, sizeof(va),
			 0);
	seqmodel_put_u64(o, VHOST_USER_SET_VRING_CALL, false, q,
			 SEQ_FDK_EVENTFD);
	seqmodel_put_u64(o, VHOST_USER_SET_VRING_KICK, false, q,
			 SEQ_FDK_EVENTFD);
	st.num = 1;
	seqmodel_put_msg(o, VHOST_USER_SET_VRING_ENABLE, true, &st, 8, 0);
	seqmodel_put_kick(o, 1);
	seqmodel_put_msg(o, VHOST_USER_GET_FEATURES, false, NULL, 0, 0);
}

static const char *const seqmodel_seed_names[SEQMODEL_SEED_COUNT] = {
	"ring-used-len",     "ring-base-unkicked", "ring-stop",
	"ring-rx-disabled",  "config-readonly",	   "ring-loop",
	"ring-blk-past-end", "inflight-queues",	   "state-load-packet-pipe",
	"inflight-resubmit", "inflight-clear",	   "inflight-hold",
	"state-roundtrip",
};

int seqmodel_seed(enum seqmodel_seed_kind kind, enum seqmodel_dev dev,
		  uint8_t *out, size_t cap, const char **name)
{
	struct seqmodel_out o = { out, 0, cap, false };
	/* the ring a kick processes: blk request queue 0, net TX 1 */
	uint32_t q = dev == SEQMODEL_DEV_BLK ? 0 : 1;
	uint8_t cfg[12 + 8];
	uint32_t n = dev == SEQMODEL_DEV_BLK ? 8 : 6;

	if ((unsigned int)kind >= SEQMODEL_SEED_COUNT ||
	    dev == SEQMODEL_DEV_UNKNOWN ||
	    (kind == SEQMODEL_SEED_RX_DISABLED && dev != SEQMODEL_DEV_NET) ||
	    ((kind == SEQMODEL_SEED_BLK_PAST_END ||
	      kind == SEQMODEL_SEED_INFLIGHT_HOLD) &&
	     dev != SEQMODEL_DEV_BLK))
		return 0;
	*name = seqmodel_seed_names[kind];
	seqmodel_put_setup(
		&o, dev,
		kind == SEQMODEL_SEED_INFLIGHT_QUEUES ||
				kind == SEQMODEL_SEED_INFLIGHT_RESUBMIT ||
				kind == SEQMODEL_SEED_INFLIGHT_CLEAR ||
				kind == SEQMODEL_SEED_INFLIGHT_HOLD
			? VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD
		: kind == SEQMODEL_SEED_STATE_LOAD ||
				kind == SEQMODEL_SEED_STATE_ROUNDTRIP
			? VHOST_USER_PROTOCOL_F_DEVICE_STATE
			: VHOST_USER_PROTOCOL_F_CONFIG);
	switch (kind) {
	case SEQMODEL_SEED_USED_LEN:
		seqmodel_put_ring(&o, q, true, 1);
		seqmodel_put_request(&o, dev, q, 1, true, 0);
		seqmodel_put_kick(&o, 1); /* the ring's kick eventfd */
		seqmodel_put_msg(&o, VHOST_USER_GET_FEATURES, false, NULL, 0,
				 0);
		break;
	case SEQMODEL_SEED_BASE_UNKICKED:
		seqmodel_put_ring(&o, q, true, 1);
		seqmodel_put_request(&o, dev, q, 1, true, 0);
		seqmodel_put_msg(&o, VHOST_USER_GET_VRING_BASE, false,
				 &(struct vhost_user_vring_state){ q, 0 }, 8,
				 0);
		break;
	case SEQMODEL_SEED_STOP:
		seqmodel_put_ring(&o, q, true, 1);
		seqmodel_put_request(&o, dev, q, 1, true, 0);
		seqmodel_put_kick(&o, 1);
		seqmodel_put_msg(&o, VHOST_USER_GET_FEATURES, false, NULL, 0,
				 0);
		seqmodel_put_msg(&o, VHOST_USER_GET_VRING_BASE, false,
				 &(struct vhost_user_vring_state){ q, 0 }, 8,
				 0);
		seqmodel_put_request(&o, dev, q, 2, false, 0);
		seqmodel_put_msg(&o, VHOST_USER_GET_FEATURES, false, NULL, 0,
				 0);
		seqmodel_put_msg(&o, VHOST_USER_GET_FEATURES, false, NULL, 0,
				 0);
		break;
	case SEQMODEL_SEED_RX_DISABLED:
		/* RX (0) disabled but started by a kick, TX (1) enabled: a
		 * frame sent on TX must not arrive on RX */
		seqmodel_put_ring(&o, 0, false, 0);
		seqmodel_put_ring(&o, 1, false, 1);
		seqmodel_put_request(&o, dev, 0, 1, false, 0);
		seqmodel_put_kick(&o, 1);
		seqmodel_put_msg(&o, VHOST_USER_GET_FEATURES, false, NULL, 0,
				 0);
		seqmodel_put_request(&o, dev, 1, 1, false, 0);
		seqmodel_put_kick(&o, 3);
		seqmodel_put_msg(&o, VHOST_USER_GET_FEATURES, false, NULL, 0,
				 0);
		break;
	case SEQMODEL_SEED_CONFIG_RO:
		memset(cfg, 0, sizeof(cfg));
		memcpy(cfg + 4, &n, 4);
		seqmodel_put_msg(&o, VHOST_USER_GET_CONFIG, false, cfg,
				 (uint16_t)(12 + n), 0);
		memset(cfg + 12, 0xa5, n);
		seqmodel_put_msg(&o, VHOST_USER_SET_CONFIG, true, cfg,
				 (uint16_t)(12 + n), 0);
		memset(cfg + 12, 0, n);
		seqmodel_put_msg(&o, VHOST_USER_GET_CONFIG, false, cfg,
				 (uint16_t)(12 + n), 0);
		break;
	case SEQMODEL_SEED_RING_LOOP: {
		/* "a descriptor whose next is itself": a bounded walk marks
		 * the ring broken, an unbounded one never ends */
		struct {
			struct seqmodel_desc d;
			uint8_t pad[0x40 - sizeof(struct seqmodel_desc)];
			uint16_t avail[2 + SEQMODEL_QNUM];
		} ring;

		memset(&ring, 0, sizeof(ring));
		ring.d = (struct seqmodel_desc){ 0x8000, 0x200, 1, 0 };
		ring.avail[1] = 1;
		seqmodel_put_ring(&o, q, true, 1);
		seqmodel_put_guest(&o, SEQMODEL_RING_AT(q), &ring,
				   sizeof(ring));
		seqmodel_put_kick(&o, 1);
		seqmodel_put_msg(&o, VHOST_USER_GET_FEATURES, false, NULL, 0,
				 0);
		break;
	}
	case SEQMODEL_SEED_BLK_PAST_END:
		/* sector 2^21: 1 GiB past the start, past any test disk */
		seqmodel_put_ring(&o, q, true, 1);
		seqmodel_put_request(&o, dev, q, 1, true, UINT64_C(1) << 21);
		seqmodel_put_kick(&o, 1);
		seqmodel_put_msg(&o, VHOST_USER_GET_FEATURES, false, NULL, 0,
				 0);
		break;
	case SEQMODEL_SEED_INFLIGHT_QUEUES: {
		/* room for 256 queues of size 1 in 16 KiB: the size checks
		 * pass, the queue count check must refuse 200 */
		struct vhost_user_inflight in = {
			.mmap_size = 0x4000,
			.num_queues = 200,
			.queue_size = 1,
		};

		seqmodel_put_msg(&o, VHOST_USER_SET_INFLIGHT_FD, true, &in,
				 sizeof(in), 0);
		seqmodel_put_msg(&o, VHOST_USER_GET_FEATURES, false, NULL, 0,
				 0);
		break;
	}
	case SEQMODEL_SEED_STATE_LOAD: {
		/* LOAD through a packetized pipe (one packet per read), the
		 * state written whole (FEED bit 0), then CHECK */
		uint32_t xfer[2] = { VHOST_USER_TRANSFER_STATE_DIRECTION_LOAD,
				     VHOST_USER_TRANSFER_STATE_PHASE_STOPPED };

		seqmodel_put_msg(&o, VHOST_USER_SET_DEVICE_STATE_FD, false,
				 xfer, sizeof(xfer), SEQ_FDK_PKT_PIPE_R);
		seqmodel_put8(&o, 15); /* FEED */
		seqmodel_put8(&o, 1);  /* a valid state blob */
		seqmodel_put_msg(&o, VHOST_USER_CHECK_DEVICE_STATE, false, NULL,
				 0, 0);
		break;
	}
	case SEQMODEL_SEED_INFLIGHT_RESUBMIT:
	case SEQMODEL_SEED_INFLIGHT_CLEAR:
		/* resubmitted and used (and used once more if resumed at the
		 * base), then a second sync point: the flags cleared */
		seqmodel_put_inflight(&o, q);
		seqmodel_put_inf_ring(&o, dev, q,
				      kind == SEQMODEL_SEED_INFLIGHT_RESUBMIT,
				      false);
		seqmodel_put_msg(&o, VHOST_USER_GET_FEATURES, false, NULL, 0,
				 0);
		break;
	case SEQMODEL_SEED_STATE_ROUNDTRIP: {
		/* SAVE twice (the same bytes: a deterministic daemon), LOAD
		 * them through a packetized pipe (FEED bit 0), SAVE again */
		uint32_t xfer[2] = { VHOST_USER_TRANSFER_STATE_DIRECTION_SAVE,
				     VHOST_USER_TRANSFER_STATE_PHASE_STOPPED };
		unsigned int k;

		for (k = 0; k < 4; k++) {
			xfer[0] =
				k == 2 ? VHOST_USER_TRANSFER_STATE_DIRECTION_LOAD
				       : VHOST_USER_TRANSFER_STATE_DIRECTION_SAVE;
			seqmodel_put_msg(&o, VHOST_USER_SET_DEVICE_STATE_FD,
					 false, xfer, sizeof(xfer),
					 k == 2 ? SEQ_FDK_PKT_PIPE_R
						: SEQ_FDK_PIPE_W);
			if (k == 2) {
				seqmodel_put8(&o, 15); /* FEED */
				seqmodel_put8(&o, 1);  /* a valid blob */
			}
			seqmodel_put_msg(&o, VHOST_USER_CHECK_DEVICE_STATE,
					 false, NULL, 0, 0);
		}
		break;
	}
	case SEQMODEL_SEED_INFLIGHT_HOLD:
		/* held, then the ring stopped: popped, not used, marked */
		seqmodel_put_inflight(&o, q);
		seqmodel_put_inf_ring(&o, dev, q, false, true);
		seqmodel_put_msg(&o, VHOST_USER_GET_VRING_BASE, false,
				 &(struct vhost_user_vring_state){ q, 0 }, 8,
				 0);
		seqmodel_put_msg(&o, VHOST_USER_GET_FEATURES, false, NULL, 0,
				 0);
		break;
	default:
		return 0;
	}
	return o.full ? -ENOSPC : (int)o.n;
}
