/* SPDX-License-Identifier: MIT */
/*
 * fake_daemon.h - a small vhost-user back-end in a thread, for the front-end
 * session's tests: it answers correctly by default, records what it got,
 * and misbehaves on purpose when told to (oversized replies, bogus fds,
 * replies to nothing, wrong codes, hang-ups mid-reply, silence, floods on
 * the back-end channel).
 */
#ifndef VUC_TESTS_FE_FAKE_DAEMON_H
#define VUC_TESTS_FE_FAKE_DAEMON_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/util.h"
#include "fe/frame.h"
#include "transport/chan.h"
#include "transport/fdzoo.h"
#include "transport/sock.h"
#include "wire/vhost_user.h"

enum fake_mode {
	FAKE_OK,
	FAKE_OVERSIZE,	   /* reply header says 100000 bytes */
	FAKE_BOGUS_FDS,	   /* reply with two eventfds attached */
	FAKE_WRONG_CODE,   /* reply code + 1 */
	FAKE_HANGUP_MID,   /* 6 bytes of the reply, then close */
	FAKE_SILENT,	   /* no reply */
	FAKE_EXTRA,	   /* the reply, then a second one */
	FAKE_ACK_FAIL,	   /* acks say 1 */
	FAKE_FLOOD,	   /* 500 back-end requests before the reply */
	FAKE_BACKEND_WAIT, /* a back-end request with need_reply, waits for
			      its ack, then replies */
};

#define FAKE_MAX_RECORDS 64

struct fake_record {
	struct vhost_user_hdr hdr;
	uint8_t payload[64];
	unsigned int nfds;
	enum fdzoo_kind kinds[VHOST_USER_MAX_FDS];
};

struct fake {
	int fd;
	int be_fd;
	pthread_t thread;
	enum fake_mode mode;
	uint32_t target; /* the request the mode applies to */
	uint64_t features, proto_offered, proto;
	struct fake_record rec[FAKE_MAX_RECORDS];
	unsigned int n;
	uint64_t backend_ack; /* what the front-end answered, ~0 if none */
	uint8_t state[64];    /* what came through a LOAD channel */
	size_t state_len;
	bool log_marked;
	int flood_sent; /* back-end requests FAKE_FLOOD got out */
};

static inline void fake_reply(struct fake *f, struct vhost_user_msg *r)
{
	vhost_user_make_reply(r);
	frame_vhost_send(f->fd, r, FRAME_WHOLE, chan_deadline(2000));
}

static inline void fake_answer(struct fake *f, const struct vhost_user_msg *m)
{
	struct vhost_user_vring_state vs;
	struct vhost_user_config c;
	struct vhost_user_device_state ds;
	struct vhost_user_log lg;
	struct vhost_user_msg r;
	uint32_t code = m->hdr.request;
	int fd;

	switch (code) {
	case VHOST_USER_GET_FEATURES:
		vhost_user_build_u64(&r, code, f->features);
		break;
	case VHOST_USER_GET_PROTOCOL_FEATURES:
		vhost_user_build_u64(&r, code, f->proto_offered);
		break;
	case VHOST_USER_GET_QUEUE_NUM:
		vhost_user_build_u64(&r, code, 2);
		break;
	case VHOST_USER_GET_MAX_MEM_SLOTS:
		vhost_user_build_u64(&r, code, 8);
		break;
	case VHOST_USER_GET_STATUS:
		vhost_user_build_u64(&r, code, 0x0f);
		break;
	case VHOST_USER_CHECK_DEVICE_STATE:
		vhost_user_build_u64(&r, code, 0);
		break;
	case VHOST_USER_GET_VRING_BASE:
		vhost_user_get_vring_state(m, &vs, NULL);
		vhost_user_build_vring_state(&r, code, vs.index, 42);
		break;
	case VHOST_USER_GET_CONFIG: {
		uint8_t data[VHOST_USER_MAX_CONFIG_SIZE];
		unsigned int i;

		vhost_user_get_config(m, &c, NULL);
		for (i = 0; i < c.size; i++)
			data[i] = (uint8_t)(c.offset + i);
		vhost_user_build_config(&r, code, c.offset, c.size, c.flags,
					data);
		break;
	}
	case VHOST_USER_GET_INFLIGHT_FD:
		fd = fdzoo_memfd(4096, 0);
		vhost_user_build_inflight(&r, code, 4096, 0, 2, 64);
		vhost_user_msg_attach_fds(&r, &fd, 1);
		fake_reply(f, &r);
		close(fd);
		return;
	case VHOST_USER_SET_LOG_BASE:
		/* mark guest page 3 dirty, then answer (LOG_SHMFD) */
		if (m->nfds == 1 && !vhost_user_get_log(m, &lg, NULL)) {
			uint8_t *p = mmap(NULL, lg.mmap_size,
					  PROT_READ | PROT_WRITE, MAP_SHARED,
					  m->fds[0], (off_t)lg.mmap_offset);

			if (p != MAP_FAILED) {
				p[0] |= 1u << 3;
				munmap(p, lg.mmap_size);
				f->log_marked = true;
			}
		}
		vhost_user_build_u64(&r, code, 0);
		break;
	case VHOST_USER_SET_DEVICE_STATE_FD:
		vhost_user_get_device_state(m, &ds, NULL);
		if (ds.direction == VHOST_USER_TRANSFER_STATE_DIRECTION_SAVE &&
		    m->nfds == 1) {
			/* small enough for the pipe: write, close, answer */
			if (write(m->fds[0], "fake state", 10) != 10)
				f->state_len = (size_t)-1;
		} else if (m->nfds == 1) {
			vhost_user_build_u64(&r, code,
					     VHOST_USER_VRING_NOFD_MASK);
			fake_reply(f, &r);
			f->state_len = 0;
			for (;;) {
				ssize_t n =
					read(m->fds[0], f->state + f->state_len,
					     sizeof(f->state) - f->state_len);
				if (n <= 0)
					break;
				f->state_len += (size_t)n;
			}
			return;
		}
		vhost_user_build_u64(&r, code, VHOST_USER_VRING_NOFD_MASK);
		break;
	default:
		if (vhost_user_reply_expected(VHOST_USER_FROM_FRONTEND, &m->hdr,
					      f->proto) != 1)
			return;
		vhost_user_build_u64(&r, code,
				     f->mode == FAKE_ACK_FAIL ? 1 : 0);
		break;
	}
	fake_reply(f, &r);
}

/* Misbehave about @m as f->mode says. Return: true if the normal answer
 * is not to follow, -1 (as true, and stop) to hang up. */
static inline int fake_misbehave(struct fake *f, const struct vhost_user_msg *m)
{
	struct vhost_user_msg r;
	int fds[2], i;

	switch (f->mode) {
	case FAKE_OVERSIZE: {
		struct vhost_user_hdr h = { m->hdr.request,
					    VHOST_USER_VERSION |
						    VHOST_USER_REPLY_MASK,
					    100000 };

		chan_send_buf(f->fd, &h, sizeof(h), NULL, 0,
			      chan_deadline(1000));
		return 1;
	}
	case FAKE_BOGUS_FDS:
		fds[0] = eventfd(0, EFD_CLOEXEC);
		fds[1] = eventfd(0, EFD_CLOEXEC);
		vhost_user_build_u64(&r, m->hdr.request, f->features);
		vhost_user_msg_attach_fds(&r, fds, 2);
		fake_reply(f, &r);
		close_fds(fds, 2);
		return 1;
	case FAKE_WRONG_CODE:
		vhost_user_build_u64(&r, m->hdr.request + 1, f->features);
		fake_reply(f, &r);
		return 1;
	case FAKE_HANGUP_MID: {
		uint8_t bytes[VHOST_USER_MSG_MAX];

		vhost_user_build_u64(&r, m->hdr.request, f->features);
		vhost_user_make_reply(&r);
		vhost_user_pack(&r, bytes, sizeof(bytes));
		chan_send_buf(f->fd, bytes, 6, NULL, 0, chan_deadline(1000));
		return -1;
	}
	case FAKE_SILENT:
		return 1;
	case FAKE_EXTRA:
		fake_answer(f, m);
		vhost_user_build_u64(&r, m->hdr.request, 7);
		fake_reply(f, &r);
		return 1;
	case FAKE_FLOOD:
		for (i = 0; i < 500 && f->be_fd >= 0; i++) {
			vhost_user_build_empty(
				&r, VHOST_USER_BACKEND_CONFIG_CHANGE_MSG);
			if (frame_vhost_send(f->be_fd, &r, FRAME_WHOLE,
					     chan_deadline(0)) < 0)
				break;
			f->flood_sent++;
		}
		return 0;
	case FAKE_BACKEND_WAIT: {
		struct vhost_user_msg ack;

		if (f->be_fd < 0)
			return 0;
		vhost_user_build_empty(&r,
				       VHOST_USER_BACKEND_CONFIG_CHANGE_MSG);
		r.hdr.flags |= VHOST_USER_NEED_REPLY_MASK;
		frame_vhost_send(f->be_fd, &r, FRAME_WHOLE,
				 chan_deadline(1000));
		if (frame_vhost_recv(f->be_fd, &ack, chan_deadline(2000), NULL,
				     NULL) >= 0) {
			vhost_user_get_u64(&ack, &f->backend_ack, NULL);
			close_fds(ack.fds, ack.nfds);
		}
		return 0;
	}
	default:
		return 0;
	}
}

static inline void *fake_main(void *arg)
{
	struct fake *f = arg;
	struct vhost_user_msg m;

	for (;;) {
		struct fake_record *rec;
		unsigned int i;
		int mis = 0;

		if (frame_vhost_recv(f->fd, &m, chan_deadline(5000), NULL,
				     NULL) < 0)
			break;
		if (f->n < FAKE_MAX_RECORDS) {
			rec = &f->rec[f->n++];
			rec->hdr = m.hdr;
			memcpy(rec->payload, m.payload,
			       VUC_MIN(m.hdr.size, sizeof(rec->payload)));
			rec->nfds = m.nfds;
			for (i = 0; i < m.nfds; i++)
				rec->kinds[i] = fdzoo_kind_of(m.fds[i]);
		}
		if (m.hdr.request == VHOST_USER_SET_PROTOCOL_FEATURES)
			vhost_user_get_u64(&m, &f->proto, NULL);
		if (m.hdr.request == VHOST_USER_SET_BACKEND_REQ_FD &&
		    m.nfds == 1) {
			close_fd(&f->be_fd);
			f->be_fd = m.fds[0];
			m.nfds = 0;
		}
		if (f->mode != FAKE_OK && m.hdr.request == f->target)
			mis = fake_misbehave(f, &m);
		if (mis < 0) {
			close_fds(m.fds, m.nfds);
			break;
		}
		if (!mis)
			fake_answer(f, &m);
		close_fds(m.fds, m.nfds);
	}
	close_fd(&f->fd);
	close_fd(&f->be_fd);
	return NULL;
}

/* Start a fake on one end of a socketpair; *@fe_fd gets the other. */
static inline int fake_start(struct fake *f, enum fake_mode mode,
			     uint32_t target, int *fe_fd)
{
	int sv[2];

	memset(f, 0, sizeof(*f));
	f->mode = mode;
	f->target = target;
	f->be_fd = -1;
	f->backend_ack = ~0ull;
	f->features = (1ull << 32) | (1ull << VHOST_USER_F_PROTOCOL_FEATURES) |
		      (1ull << 29);
	f->proto_offered =
		VHOST_USER_PROTO_BIT(MQ) | VHOST_USER_PROTO_BIT(REPLY_ACK) |
		VHOST_USER_PROTO_BIT(BACKEND_REQ) |
		VHOST_USER_PROTO_BIT(CONFIG) | VHOST_USER_PROTO_BIT(LOG_SHMFD) |
		VHOST_USER_PROTO_BIT(INFLIGHT_SHMFD) |
		VHOST_USER_PROTO_BIT(CONFIGURE_MEM_SLOTS) |
		VHOST_USER_PROTO_BIT(STATUS) |
		VHOST_USER_PROTO_BIT(DEVICE_STATE) |
		VHOST_USER_PROTO_BIT(RESET_DEVICE);
	if (sock_pair(sv) < 0)
		return -1;
	f->fd = sv[1];
	*fe_fd = sv[0];
	return pthread_create(&f->thread, NULL, fake_main, f) ? -1 : 0;
}

/* Wait for the fake to finish (the front-end closed its end first). */
static inline void fake_join(struct fake *f)
{
	pthread_join(f->thread, NULL);
}

#endif /* VUC_TESTS_FE_FAKE_DAEMON_H */
