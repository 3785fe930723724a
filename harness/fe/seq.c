// SPDX-License-Identifier: MIT
/*
 * seq.c - the message-sequence input format and its wire oracles (seq.h).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "common/util.h"
#include "fe/seq.h"

uint8_t seq_u8(struct seq_in *in)
{
	if (!in->n)
		return 0;
	in->n--;
	return *in->p++;
}

uint16_t seq_u16(struct seq_in *in)
{
	uint16_t v = seq_u8(in);

	return (uint16_t)(v | seq_u8(in) << 8);
}

uint32_t seq_u32(struct seq_in *in)
{
	uint32_t v = seq_u16(in);

	return v | (uint32_t)seq_u16(in) << 16;
}

/* @len bytes to @out: what the input has, then zeros. */
static void seq_bytes(struct seq_in *in, void *out, size_t len)
{
	size_t take = VUC_MIN(len, in->n);

	memcpy(out, in->p, take);
	memset((uint8_t *)out + take, 0, len - take);
	in->p += take;
	in->n -= take;
}

/* Up to @len bytes of the input, in place. */
static const uint8_t *seq_take(struct seq_in *in, size_t len, size_t *got)
{
	const uint8_t *p = in->p;

	*got = VUC_MIN(len, in->n);
	in->p += *got;
	in->n -= *got;
	return p;
}

enum fdzoo_kind seq_fdk_zoo(enum seq_fdk k, size_t *size, bool *widow)
{
	static const struct {
		enum fdzoo_kind kind;
		size_t size;
	} map[] = {
		[SEQ_FDK_DEFAULT] = { FDZOO_CLOSED, 0 },
		[SEQ_FDK_EVENTFD] = { FDZOO_EVENTFD, 0 },
		[SEQ_FDK_PIPE_R] = { FDZOO_PIPE_READ, 0 },
		[SEQ_FDK_PIPE_W] = { FDZOO_PIPE_WRITE, 0 },
		[SEQ_FDK_PKT_PIPE_R] = { FDZOO_PACKET_PIPE_READ, 0 },
		[SEQ_FDK_PKT_PIPE_W] = { FDZOO_PACKET_PIPE_WRITE, 0 },
		[SEQ_FDK_MEMFD] = { FDZOO_MEMFD, 0x4000 },
		[SEQ_FDK_MEMFD_EMPTY] = { FDZOO_MEMFD, 0 },
		[SEQ_FDK_MEMFD_SEALED] = { FDZOO_MEMFD_SEALED, SEQ_GUEST_SIZE },
		[SEQ_FDK_SOCKET] = { FDZOO_SOCKET, 0 },
		[SEQ_FDK_SOCKET_WIDOWED] = { FDZOO_SOCKET, 0 },
		[SEQ_FDK_DEV_NULL] = { FDZOO_DEV_NULL, 0 },
		[SEQ_FDK_DEV_FULL] = { FDZOO_DEV_FULL, 0 },
		[SEQ_FDK_WIDOWED_PIPE_W] = { FDZOO_WIDOWED_PIPE_WRITE, 0 },
		[SEQ_FDK_GUEST] = { FDZOO_CLOSED, SEQ_GUEST_SIZE },
		[SEQ_FDK_WIDOWED_PIPE_R] = { FDZOO_WIDOWED_PIPE_READ, 0 },
	};

	*size = map[k & 15].size;
	*widow = k == SEQ_FDK_SOCKET_WIDOWED;
	return map[k & 15].kind;
}

/* The kind a request wants when the input does not say. */
static enum seq_fdk seq_default_kind(uint32_t code, const uint8_t *payload)
{
	uint32_t dir;

	switch (code) {
	case VHOST_USER_SET_MEM_TABLE:
	case VHOST_USER_ADD_MEM_REG:
	case VHOST_USER_REM_MEM_REG:
		return SEQ_FDK_GUEST;
	case VHOST_USER_SET_LOG_BASE:
	case VHOST_USER_SET_INFLIGHT_FD:
		return SEQ_FDK_MEMFD;
	case VHOST_USER_SET_BACKEND_REQ_FD:
	case VHOST_USER_GPU_SET_SOCKET:
		/* widowed: a request on it fails at once, never waits */
		return SEQ_FDK_SOCKET_WIDOWED;
	case VHOST_USER_SET_DEVICE_STATE_FD:
		memcpy(&dir, payload, sizeof(dir));
		return dir == VHOST_USER_TRANSFER_STATE_DIRECTION_LOAD
			       ? SEQ_FDK_PIPE_R
			       : SEQ_FDK_PIPE_W;
	default:
		return SEQ_FDK_EVENTFD;
	}
}

/* How many fds the rule wants with this payload. */
static unsigned int seq_default_nfds(const struct vhost_user_rule *r,
				     const struct vhost_user_msg *m,
				     uint64_t proto)
{
	uint64_t u64;
	uint32_t n;

	if (!r)
		return 0;
	switch (r->fds) {
	case VHOST_USER_FDS_ONE:
	case VHOST_USER_FDS_OPTIONAL:
		return 1;
	case VHOST_USER_FDS_ONE_UNLESS_NOFD:
		memcpy(&u64, m->payload, sizeof(u64));
		return u64 & VHOST_USER_VRING_NOFD_MASK ? 0 : 1;
	case VHOST_USER_FDS_PER_REGION:
		memcpy(&n, m->payload, sizeof(n));
		return n > VHOST_USER_MAX_FDS ? VHOST_USER_MAX_FDS : n;
	case VHOST_USER_FDS_ONE_IF_FEATURE:
		return proto >> r->fd_feature & 1;
	default:
		return 0;
	}
}

/* Payload from the input, shaped by the rule; returns its size. */
static uint32_t seq_payload(struct seq_in *in, const struct vhost_user_rule *r,
			    uint8_t *p)
{
	uint32_t n, size, off;

	if (!r) {
		size = seq_u8(in);
	} else if (r->size_rule == VHOST_USER_SIZE_MEM_TABLE) {
		n = seq_u8(in) % (VHOST_USER_MAX_MEM_REGIONS + 1);
		memcpy(p, &n, sizeof(n));
		memset(p + 4, 0, 4);
		seq_bytes(in, p + 8, n * sizeof(struct vhost_user_mem_region));
		return 8 + n * (uint32_t)sizeof(struct vhost_user_mem_region);
	} else if (r->size_rule == VHOST_USER_SIZE_MEM_REGION) {
		size = sizeof(struct vhost_user_single_mem_region);
	} else if (r->size_rule == VHOST_USER_SIZE_CONFIG) {
		off = seq_u32(in);
		n = seq_u8(in);
		memcpy(p, &off, 4);
		memcpy(p + 4, &n, 4);
		seq_bytes(in, p + 8, 4 + n);
		return VHOST_USER_CONFIG_HDR_SIZE + n;
	} else {
		size = r->size;
	}
	if (size > VHOST_USER_PAYLOAD_MAX)
		size = VHOST_USER_PAYLOAD_MAX;
	seq_bytes(in, p, size);
	return size;
}

static void seq_msg(struct seq_in *in, struct seq_op *op, uint64_t proto)
{
	const struct vhost_user_rule *r;
	struct vhost_user_msg *m = &op->m;
	uint32_t code, size;
	uint8_t flags;
	unsigned int nfds = 0;
	enum seq_fdk kind = SEQ_FDK_DEFAULT;

	if (op->kind == SEQ_SPLIT)
		op->cut = seq_u8(in);
	code = seq_u8(in);
	flags = seq_u8(in);
	r = vhost_user_rule_find(VHOST_USER_FROM_FRONTEND, code);
	vhost_user_msg_init(m);
	m->hdr.request = code;
	m->hdr.flags = VHOST_USER_VERSION;
	if (flags & 0x01)
		m->hdr.flags |= VHOST_USER_NEED_REPLY_MASK;
	if (flags & 0x08)
		m->hdr.flags = (m->hdr.flags & ~VHOST_USER_VERSION_MASK) |
			       ((flags >> 4) & 3);
	if (flags & 0x40)
		m->hdr.flags |= VHOST_USER_REPLY_MASK;
	if (flags & 0x80)
		m->hdr.flags |= 1u << 31;
	size = (flags & 0x02) ? seq_u16(in) : 0;
	if (flags & 0x04) {
		uint8_t f = seq_u8(in);

		nfds = VUC_MIN(f & 0x0fu, SEQ_MAX_FDS);
		kind = f >> 4;
	}
	if (flags & 0x02) {
		/* as the input says: traces replay this way */
		m->hdr.size = size;
		seq_bytes(in, m->payload,
			  VUC_MIN(size, VHOST_USER_PAYLOAD_MAX));
	} else {
		m->hdr.size = seq_payload(in, r, m->payload);
	}
	if (!(flags & 0x04))
		nfds = seq_default_nfds(r, m, proto);
	if (kind == SEQ_FDK_DEFAULT)
		kind = seq_default_kind(code, m->payload);
	op->nfds = nfds;
	op->fdk = kind;
	op->wire_len = VHOST_USER_HDR_SIZE;
	if (m->hdr.size <= VHOST_USER_PAYLOAD_MAX)
		op->wire_len += m->hdr.size;
}

bool seq_next(struct seq_in *in, const uint8_t *base, struct seq_op *op,
	      uint64_t proto)
{
	uint8_t o;

	if (!in->n)
		return false;
	op->at = (size_t)(in->p - base);
	op->data = NULL;
	op->data_len = 0;
	op->data_want = 0;
	op->nfds = 0;
	op->n = 0;
	o = seq_u8(in) % 16;
	if (o < 10) {
		op->kind = o == 9 ? SEQ_SPLIT : SEQ_MSG;
		seq_msg(in, op, proto);
	} else if (o == 10) {
		op->kind = SEQ_KICK;
		op->n = seq_u8(in);
	} else if (o == 11) {
		op->kind = SEQ_GUEST;
		op->n = seq_u16(in);
		op->data_want = seq_u8(in);
		op->data = seq_take(in, op->data_want, &op->data_len);
	} else if (o == 12) {
		op->kind = SEQ_SHRINK;
		op->n = seq_u8(in);
	} else if (o == 13) {
		op->kind = SEQ_CLOSE;
	} else if (o == 14) {
		op->kind = SEQ_RAW;
		op->data_want = seq_u8(in);
		op->data = seq_take(in, op->data_want, &op->data_len);
	} else {
		op->kind = SEQ_FEED;
		op->n = seq_u8(in);
		if (!(op->n & 1)) {
			op->data_want = seq_u8(in);
			op->data = seq_take(in, op->data_want, &op->data_len);
		}
	}
	op->len = (size_t)(in->p - base) - op->at;
	return true;
}

size_t seq_op_data(const struct seq_op *op, uint8_t *buf)
{
	if (op->data_len) /* FEED of a valid blob has no bytes */
		memcpy(buf, op->data, op->data_len);
	memset(buf + op->data_len, 0, op->data_want - op->data_len);
	return op->data_want;
}

/* A region that runs past the end of its file cannot be mapped. */
static bool seq_maps_past_eof(const struct vhost_user_msg *m)
{
	struct vhost_user_mem_region reg;
	unsigned int i, n = 0, at = 8;
	struct stat st;

	if (m->hdr.request == VHOST_USER_SET_MEM_TABLE)
		memcpy(&n, m->payload, sizeof(n));
	else if (m->hdr.request == VHOST_USER_ADD_MEM_REG)
		n = 1;
	for (i = 0; i < n && i < m->nfds && at + sizeof(reg) <= m->hdr.size;
	     i++, at += sizeof(reg)) {
		memcpy(&reg, m->payload + at, sizeof(reg));
		if (fstat(m->fds[i], &st) < 0 || !S_ISREG(st.st_mode))
			continue;
		if (reg.mmap_offset + reg.size < reg.mmap_offset ||
		    reg.mmap_offset + reg.size > (uint64_t)st.st_size)
			return true;
	}
	return false;
}

bool seq_must_fail(const struct vhost_user_msg *m, unsigned int nfds_sent,
		   uint64_t proto, unsigned int nvrings)
{
	const struct vhost_user_rule *r;
	struct vhost_user_msg c = *m;
	uint32_t index;
	uint64_t u64;

	if (nfds_sent > VHOST_USER_MAX_FDS)
		return true; /* the rest were dropped: it is not whole */
	if (vhost_user_check_request(&c, VHOST_USER_FROM_FRONTEND, proto,
				     NULL) < 0)
		return true;
	r = vhost_user_rule_find(VHOST_USER_FROM_FRONTEND, m->hdr.request);
	if (nvrings && r && (r->flags & VHOST_USER_RULE_VRING_INDEX)) {
		if (r->layout == VHOST_USER_LAYOUT_VRING_FD) {
			memcpy(&u64, m->payload, sizeof(u64));
			index = (uint32_t)(u64 & VHOST_USER_VRING_IDX_MASK);
		} else {
			memcpy(&index, m->payload, sizeof(index));
		}
		if (index >= nvrings)
			return true;
	}
	return seq_maps_past_eof(m);
}

bool seq_reply_success(const struct vhost_user_msg *rep)
{
	uint64_t v = 0;

	switch (rep->hdr.request) {
	case VHOST_USER_GET_CONFIG:
		return rep->hdr.size != 0;
	case VHOST_USER_SET_DEVICE_STATE_FD:
		memcpy(&v, rep->payload, sizeof(v));
		return rep->hdr.size == 8 &&
		       !(v & VHOST_USER_DEVICE_STATE_STATUS_MASK);
	default:
		if (rep->hdr.size != 8)
			return true; /* a body: the request was carried out */
		memcpy(&v, rep->payload, sizeof(v));
		return v == 0;
	}
}

static _Thread_local char seq_why[256];

static int seq_fired(const char **oracle, const char **why, const char *name,
		     const char *fmt, ...) VUC_PRINTF(4, 5);

static int seq_fired(const char **oracle, const char **why, const char *name,
		     const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(seq_why, sizeof(seq_why), fmt, ap);
	va_end(ap);
	*oracle = name;
	*why = seq_why;
	return -EPROTO;
}

int seq_judge(const struct seq_sent *s, const struct vhost_user_msg *reps,
	      unsigned int nrep, bool closed, const char **oracle,
	      const char **why)
{
	const struct vhost_user_hdr *h = &s->m.hdr;
	const struct vhost_user_rule *r;
	const char *rwhy = NULL;
	unsigned int i;
	bool ack_form;
	int expect;

	expect = vhost_user_reply_expected(VHOST_USER_FROM_FRONTEND, h,
					   s->proto);
	if (nrep > 1)
		return seq_fired(oracle, why, SEQ_ORACLE_EXTRA_REPLY,
				 "%u replies to request %u", nrep, h->request);
	if (!closed && expect == 1 && nrep == 0 && !s->fail)
		return seq_fired(oracle, why, SEQ_ORACLE_MISSING_REPLY,
				 "no reply to request %u (flags 0x%x), one is "
				 "due",
				 h->request, h->flags);
	if (expect == 0 && nrep && !s->fail)
		return seq_fired(oracle, why, SEQ_ORACLE_UNSOLICITED,
				 "a reply to request %u (flags 0x%x), none is "
				 "due",
				 h->request, h->flags);
	r = vhost_user_rule_find(VHOST_USER_FROM_FRONTEND, h->request);
	/* an IF_FEATURE request without its feature is answered with an
	 * ack, which check_reply() (it is not told the features) would
	 * take for a short body */
	ack_form = r && r->reply == VHOST_USER_REPLY_IF_FEATURE &&
		   !(s->proto >> r->reply_feature & 1);
	for (i = 0; i < nrep; i++) {
		if (!(ack_form && reps[i].hdr.size == 8) &&
		    vhost_user_check_reply(VHOST_USER_FROM_FRONTEND, h,
					   &reps[i], &rwhy) < 0 &&
		    expect >= 0)
			return seq_fired(oracle, why, SEQ_ORACLE_BAD_REPLY,
					 "reply to request %u: %s", h->request,
					 rwhy ? rwhy : "-");
		if (s->fail && seq_reply_success(&reps[i]))
			return seq_fired(oracle, why, SEQ_ORACLE_REFUSED_ACKED,
					 "request %u must fail, yet it was "
					 "answered with success",
					 h->request);
		if (h->request == VHOST_USER_SET_VRING_CALL && !s->fail &&
		    s->vring_exists && s->nfds == 1 &&
		    (s->kind == FDZOO_EVENTFD || s->kind == FDZOO_PIPE_WRITE ||
		     s->kind == FDZOO_SOCKET) &&
		    reps[i].hdr.size == 8 && !seq_reply_success(&reps[i]))
			return seq_fired(oracle, why, SEQ_ORACLE_CALL_REFUSED,
					 "SET_VRING_CALL with a legal fd (%s) "
					 "was refused",
					 fdzoo_kind_name(s->kind));
	}
	return 0;
}
