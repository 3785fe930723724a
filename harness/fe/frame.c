// SPDX-License-Identifier: MIT
/*
 * frame.c - whole vhost-user and vfio-user messages over a stream socket.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "fe/frame.h"

static int send_split(int fd, const uint8_t *buf, size_t len, size_t hdr,
		      const int *fds, unsigned int nfds, enum frame_split split,
		      int64_t deadline)
{
	struct chan_chunk c[2] = {
		{ .buf = buf, .len = len, .fds = fds, .nfds = nfds },
	};

	if (split == FRAME_HDR_PAYLOAD && len > hdr) {
		c[0].len = hdr;
		c[0].fds = NULL;
		c[0].nfds = 0;
		c[1] = (struct chan_chunk){ .buf = buf + hdr,
					    .len = len - hdr,
					    .fds = fds,
					    .nfds = nfds };
		return chan_send(fd, c, 2, deadline);
	}
	return chan_send(fd, c, 1, deadline);
}

int frame_vhost_send(int fd, const struct vhost_user_msg *m,
		     enum frame_split split, int64_t deadline)
{
	uint8_t buf[VHOST_USER_HDR_SIZE + VHOST_USER_PAYLOAD_MAX];
	int len;

	len = vhost_user_pack(m, buf, sizeof(buf));
	if (len < 0)
		return len;
	return send_split(fd, buf, (size_t)len, VHOST_USER_HDR_SIZE, m->fds,
			  m->nfds, split, deadline);
}

/*
 * Receive @len bytes into @buf, appending the fds that come to @fds (room
 * for @room in all, *@n taken). fds beyond the room are closed and counted.
 */
static int recv_part(int fd, void *buf, size_t len, int *fds, unsigned int room,
		     unsigned int *n, int64_t deadline,
		     struct chan_recv_info *ri, unsigned int *dropped)
{
	int more[CHAN_MAX_FDS];
	unsigned int got = ARRAY_SIZE(more), i;
	int ret;

	ret = chan_recv(fd, buf, len, more, &got, deadline, ri);
	if (ret < 0 && ret != -EMSGSIZE)
		return ret;
	for (i = 0; i < got; i++) {
		if (*n < room) {
			fds[(*n)++] = more[i];
		} else {
			close_fd(&more[i]);
			(*dropped)++;
		}
	}
	if (ret == -EMSGSIZE)
		*dropped += ri->fds_seen - got;
	return 0;
}

int frame_vhost_recv(int fd, struct vhost_user_msg *m, int64_t deadline,
		     const char **why, struct frame_info *info)
{
	uint8_t buf[VHOST_USER_HDR_SIZE + VHOST_USER_PAYLOAD_MAX];
	struct frame_info local;
	int fds[VHOST_USER_MAX_FDS];
	unsigned int nfds = 0;
	struct vhost_user_hdr hdr;
	const char *reason = NULL;
	int ret;

	if (!info)
		info = &local;
	memset(info, 0, sizeof(*info));
	ret = recv_part(fd, buf, VHOST_USER_HDR_SIZE, fds, ARRAY_SIZE(fds),
			&nfds, deadline, &info->hdr, &info->fds_dropped);
	if (ret < 0)
		goto err_close;
	vhost_user_hdr_parse(buf, VHOST_USER_HDR_SIZE, &hdr, NULL);
	m->hdr = hdr; /* so that a refusal can say what was announced */
	if (hdr.size > VHOST_USER_PAYLOAD_MAX) {
		reason = "announced payload larger than any message's";
		ret = -EMSGSIZE;
		goto err_close;
	}
	ret = recv_part(fd, buf + VHOST_USER_HDR_SIZE, hdr.size, fds,
			ARRAY_SIZE(fds), &nfds, deadline, &info->payload,
			&info->fds_dropped);
	if (ret < 0)
		goto err_close;
	ret = vhost_user_parse(m, buf, VHOST_USER_HDR_SIZE + hdr.size, &reason);
	if (ret < 0)
		goto err_close;
	vhost_user_msg_attach_fds(m, fds, nfds);
	if (info->fds_dropped) {
		/* The message is whole; what did not fit is gone. */
		reason = "more fds than a vhost-user message carries";
		if (why)
			*why = reason;
		return -EMSGSIZE;
	}
	return ret;

err_close:
	close_fds(fds, nfds);
	if (why)
		*why = reason;
	return ret;
}

int frame_vfio_send(int fd, const struct vfio_user_msg *m,
		    enum frame_split split, int64_t deadline)
{
	size_t len = 16 + m->payload_len;
	uint8_t *buf;
	int ret;

	if (len > FRAME_VFIO_MAX)
		return -ENOSPC;
	buf = malloc(len);
	if (!buf)
		return -ENOMEM;
	ret = vfio_user_pack(buf, len, m);
	if (ret >= 0)
		ret = send_split(fd, buf, (size_t)ret, 16, m->fds, m->nfds,
				 split, deadline);
	free(buf);
	return ret;
}

int frame_vfio_recv(int fd, struct vfio_user_msg *m, uint8_t *buf, size_t cap,
		    size_t max_size, int64_t deadline, const char **why,
		    struct frame_info *info)
{
	int fds[VFIO_USER_MSG_FDS_MAX];
	struct frame_info local;
	struct vfio_user_hdr hdr;
	const char *reason = NULL;
	unsigned int nfds = 0;
	int ret;

	if (!info)
		info = &local;
	memset(info, 0, sizeof(*info));
	if (!max_size || max_size > cap)
		max_size = cap;
	if (cap < 16)
		return -ENOSPC;
	ret = recv_part(fd, buf, 16, fds, ARRAY_SIZE(fds), &nfds, deadline,
			&info->hdr, &info->fds_dropped);
	if (ret < 0)
		goto err_close;
	vfio_user_hdr_parse(buf, 16, &hdr, NULL);
	m->hdr = hdr; /* so that a refusal can say what was announced */
	if (hdr.msg_size < 16) {
		reason = "msg_size smaller than the 16-byte header";
		ret = -EBADMSG;
		goto err_close;
	}
	if (hdr.msg_size > max_size) {
		reason = "msg_size larger than the largest message accepted";
		ret = -EMSGSIZE;
		goto err_close;
	}
	ret = recv_part(fd, buf + 16, hdr.msg_size - 16, fds, ARRAY_SIZE(fds),
			&nfds, deadline, &info->payload, &info->fds_dropped);
	if (ret < 0)
		goto err_close;
	ret = vfio_user_parse(m, buf, hdr.msg_size, max_size, &reason);
	if (ret < 0)
		goto err_close;
	vfio_user_msg_set_fds(m, fds, nfds);
	return ret;

err_close:
	close_fds(fds, nfds);
	if (why)
		*why = reason;
	return ret;
}
