/* SPDX-License-Identifier: MIT */
/*
 * frame.h - whole protocol messages over a stream socket: the framing both
 * peers of each protocol need (front-end and back-end, client and server),
 * built from the wire codecs and the transport's chunked sends and
 * deadline-bound receives.
 *
 * A receive reads the header, judges the announced size before reading on
 * (a size larger than any legal message is refused without reading its
 * body as a header), then reads the rest, collecting the fds that came on
 * either read.
 */
#ifndef VUC_FE_FRAME_H
#define VUC_FE_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "transport/chan.h"
#include "wire/vfio_user.h"
#include "wire/vhost_user.h"

/* How a message is cut into sendmsg() calls. */
enum frame_split {
	FRAME_WHOLE,	   /* one sendmsg(), fds on it */
	FRAME_HDR_PAYLOAD, /* header, then payload with the fds (a message
			      with no payload keeps its fds on the header) */
};

/* What a receive saw besides the message (valid on error too). */
struct frame_info {
	struct chan_recv_info hdr;     /* the header's read */
	struct chan_recv_info payload; /* the payload's read */
	unsigned int fds_dropped;      /* fds that came but did not fit */
};

/**
 * frame_vhost_send() - Send @m (header, hdr.size payload bytes, m->fds)
 *
 * fds: the caller keeps ownership of m->fds.
 * Return: bytes sent, or chan_send()'s errors.
 */
int frame_vhost_send(int fd, const struct vhost_user_msg *m,
		     enum frame_split split, int64_t deadline);

/**
 * frame_vhost_recv() - Receive one vhost-user message
 * @why:	out (may be NULL): the reason on -EMSGSIZE / -EBADMSG
 * @info:	out (may be NULL)
 *
 * fds: on success @m owns the fds that came (m->fds, m->nfds; the caller
 * closes them). On any error no fd is left open.
 *
 * Once the header has arrived, m->hdr holds it, on error too.
 *
 * Return: 12 + payload bytes, or -EMSGSIZE (hdr.size above
 * VHOST_USER_PAYLOAD_MAX: nothing past the header was read, so the stream
 * is out of step; or more than VHOST_USER_MAX_FDS fds came: the message is
 * in @m without them), -ECONNRESET (EOF), -ETIMEDOUT, or another -errno.
 */
int frame_vhost_recv(int fd, struct vhost_user_msg *m, int64_t deadline,
		     const char **why, struct frame_info *info);

/**
 * frame_vfio_send() - Send @m (header, payload, m->fds)
 *
 * The header is sent as it is (a lying msg_size goes out as such).
 * fds: the caller keeps ownership of m->fds.
 * Return: bytes sent, or chan_send()'s errors, -ENOSPC if the message does
 * not fit the send buffer (FRAME_VFIO_MAX).
 */
int frame_vfio_send(int fd, const struct vfio_user_msg *m,
		    enum frame_split split, int64_t deadline);

/* Largest vfio-user message framed here: a max_data_xfer_size payload of
 * the spec's default plus the largest command header. */
#define FRAME_VFIO_MAX (VFIO_USER_DEFAULT_MAX_DATA_XFER_SIZE + 64)

/**
 * frame_vfio_recv() - Receive one vfio-user message into @buf
 * @buf:	room for @cap bytes; @m->payload points into it afterwards
 * @max_size:	largest msg_size accepted (0: @cap)
 *
 * fds: as frame_vhost_recv(): @m owns them on success only. Once the
 * header has arrived, m->hdr holds it, on error too.
 *
 * Return: msg_size, or -EBADMSG (msg_size below 16), -EMSGSIZE (above
 * @max_size or @cap: the body was not read), -ECONNRESET, -ETIMEDOUT, or
 * another -errno.
 */
int frame_vfio_recv(int fd, struct vfio_user_msg *m, uint8_t *buf, size_t cap,
		    size_t max_size, int64_t deadline, const char **why,
		    struct frame_info *info);

#endif /* VUC_FE_FRAME_H */
