// SPDX-License-Identifier: MIT
/*
 * server.c - the vfio-user session of vuc-ref-vfio.
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/util.h"
#include "fe/frame.h"
#include "transport/chan.h"
#include "transport/sock.h"
#include "bugs.h"
#include "server.h"

#define BUFSZ SERVER_MAX_MSG_SIZE

static void VUC_PRINTF(1, 2) say(const char *fmt, ...)
{
	va_list ap;

	fputs("vuc-ref-vfio: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static bool bug(const struct server *s, enum bug b)
{
	return bugs_on(s->opts.bugs, b);
}

/* A refusal's reason, kept for the log line. */
static int refuse(struct server *s, int err, const char *why)
{
	s->why = why;
	return err;
}

/* ------------------------------------------------------------------ */
/* Server -> client DMA messages                                       */
/* ------------------------------------------------------------------ */

static void queued_free(struct server_queued *q)
{
	close_fds(q->msg.fds, q->msg.nfds);
	q->msg.nfds = 0;
	free(q->buf);
	q->buf = NULL;
}

/* Keep a command that came while a DMA reply was awaited. */
static int enqueue(struct server *s, struct vfio_user_msg *m)
{
	struct server_queued *q;
	size_t len = VFIO_USER_HDR_SIZE + m->payload_len;

	if (s->qlen == SERVER_QUEUE_MAX)
		return -ENOSPC;
	q = &s->queue[(s->qhead + s->qlen) % SERVER_QUEUE_MAX];
	q->buf = malloc(len);
	if (!q->buf)
		return -ENOMEM;
	vfio_user_pack(q->buf, len, m);
	q->msg = *m;
	q->msg.payload = q->buf + VFIO_USER_HDR_SIZE;
	m->nfds = 0; /* the queue owns them now */
	s->qlen++;
	return 0;
}

/* Wait for the reply to @cmd on @fd; commands on the main socket are
 * queued meanwhile. */
static int await_dma_reply(struct server *s, int fd,
			   const struct vfio_user_msg *cmd, void *out)
{
	struct vfio_user_dma_region_access a;
	struct vfio_user_msg rep;
	const char *why = NULL;
	const uint8_t *data;
	int ret;

	for (;;) {
		ret = frame_vfio_recv(fd, &rep, s->aux_rx, BUFSZ, BUFSZ,
				      chan_deadline(SERVER_MSG_TIMEOUT_MS),
				      &why, NULL);
		if (ret < 0) {
			say("no reply to %s id=%u: %s%s%s",
			    vfio_user_command_name(cmd->hdr.command),
			    cmd->hdr.msg_id, strerror(-ret), why ? ": " : "",
			    why ? why : "");
			/* the stream may be out of step now */
			s->closing = true;
			return -EIO;
		}
		if ((rep.hdr.flags & VFIO_USER_F_TYPE_MASK) ==
			    VFIO_USER_F_TYPE_REPLY &&
		    rep.hdr.msg_id == cmd->hdr.msg_id &&
		    rep.hdr.command == cmd->hdr.command)
			break;
		if (fd == s->conn && (rep.hdr.flags & VFIO_USER_F_TYPE_MASK) ==
					     VFIO_USER_F_TYPE_COMMAND) {
			ret = enqueue(s, &rep);
			if (ret < 0) {
				say("too many commands while a DMA reply is "
				    "awaited: closing");
				close_fds(rep.fds, rep.nfds);
				s->closing = true;
				return -EIO;
			}
			continue;
		}
		say("unexpected %s id=%u while awaiting the reply to id=%u: "
		    "dropped",
		    vfio_user_command_name(rep.hdr.command), rep.hdr.msg_id,
		    cmd->hdr.msg_id);
		close_fds(rep.fds, rep.nfds);
	}
	close_fds(rep.fds, rep.nfds);
	/* QEMU answers DMA_WRITE with the header alone; take it. */
	if (cmd->hdr.command == VFIO_USER_DMA_WRITE && !rep.payload_len &&
	    !(rep.hdr.flags & VFIO_USER_F_ERROR))
		return 0;
	ret = vfio_user_check_reply(cmd, &rep, VFIO_USER_CHECK_LENIENT, &why);
	if (ret == VFIO_USER_REPLY_ERROR) {
		if (rep.hdr.error && rep.hdr.error < 4096)
			return -(int)rep.hdr.error;
		return -EIO;
	}
	if (ret != VFIO_USER_REPLY_OK) {
		say("bad reply to %s id=%u: %s",
		    vfio_user_command_name(cmd->hdr.command), cmd->hdr.msg_id,
		    why ? why : "?");
		return -EIO;
	}
	if (cmd->hdr.command == VFIO_USER_DMA_READ) {
		if (vfio_user_get_dma_access(&rep, &a, &data, &why) < 0)
			return -EIO;
		memcpy(out, data, a.count);
	}
	return 0;
}

/* struct dma's message transport: DMA_READ / DMA_WRITE in chunks of the
 * client's max_data_xfer_size, on the twin socket if there is one. */
static int server_msg_xfer(void *opaque, bool write, uint64_t iova, void *buf,
			   uint64_t len)
{
	struct server *s = opaque;
	int fd = s->twin >= 0 ? s->twin : s->conn;
	uint64_t chunk = VUC_MIN(s->xfer_max, (uint64_t)SERVER_MAX_DATA_XFER);
	uint8_t *p = buf;
	struct vfio_user_msg cmd;
	int ret;

	if (fd < 0 || s->closing)
		return -ENOTCONN;
	while (len) {
		uint64_t n = VUC_MIN(len, chunk);
		uint16_t id = s->dma_id++;

		if (write)
			ret = vfio_user_build_dma_write(&cmd, s->aux_tx, BUFSZ,
							id, iova, p, n);
		else
			ret = vfio_user_build_dma_read(&cmd, s->aux_tx, BUFSZ,
						       id, iova, n);
		if (ret < 0)
			return ret;
		ret = frame_vfio_send(fd, &cmd, FRAME_WHOLE,
				      chan_deadline(SERVER_MSG_TIMEOUT_MS));
		if (ret < 0) {
			s->closing = true;
			return -EIO;
		}
		ret = await_dma_reply(s, fd, &cmd, p);
		if (ret < 0)
			return ret;
		iova += n;
		p += n;
		len -= n;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Life cycle                                                          */
/* ------------------------------------------------------------------ */

int server_new(struct server **out, const struct server_opts *opts)
{
	struct server *s = calloc(1, sizeof(*s));
	int ret;

	if (!s)
		return -ENOMEM;
	s->opts = *opts;
	s->conn = s->twin = -1;
	s->rx = malloc(BUFSZ);
	s->tx = malloc(BUFSZ);
	s->aux_rx = malloc(BUFSZ);
	s->aux_tx = malloc(BUFSZ);
	s->scratch = malloc(BUFSZ);
	if (!s->rx || !s->tx || !s->aux_rx || !s->aux_tx || !s->scratch) {
		ret = -ENOMEM;
		goto err;
	}
	dma_init(&s->dma, opts->bugs, server_msg_xfer, s);
	ret = device_init(&s->dev, opts->bugs, &s->dma);
	if (ret < 0)
		goto err;
	vfio_user_caps_init(&s->caps);
	*out = s;
	return 0;

err:
	free(s->rx);
	free(s->tx);
	free(s->aux_rx);
	free(s->aux_tx);
	free(s->scratch);
	free(s);
	return ret;
}

void server_attach(struct server *s, int conn)
{
	s->conn = conn;
	s->twin = -1;
	s->negotiated = false;
	s->closing = false;
	vfio_user_caps_init(&s->caps);
	s->xfer_max = VFIO_USER_DEFAULT_MAX_DATA_XFER_SIZE;
	s->client_max_fds = VFIO_USER_DEFAULT_MAX_MSG_FDS;
	s->write_multiple = false;
}

void server_detach(struct server *s)
{
	while (s->qlen) {
		queued_free(&s->queue[s->qhead]);
		s->qhead = (s->qhead + 1) % SERVER_QUEUE_MAX;
		s->qlen--;
	}
	/* "all client memory regions are unmapped and cleaned up (including
	 * closing any passed file descriptors)"; "all IRQ file descriptors
	 * passed from the old client are closed" */
	dma_unmap_all(&s->dma);
	dma_log_stop(&s->dma);
	if (!bug(s, BUG_IRQ_FD_LEAK_DISCONNECT))
		device_release_irqs(&s->dev);
	if (s->opts.reset_on_disconnect)
		device_reset(&s->dev);
	else
		device_mig_abandon(&s->dev);
	close_fd(&s->twin);
	close_fd(&s->conn);
	s->negotiated = false;
}

void server_free(struct server *s)
{
	if (!s)
		return;
	if (s->conn >= 0)
		server_detach(s);
	device_fini(&s->dev);
	dma_fini(&s->dma);
	free(s->rx);
	free(s->tx);
	free(s->aux_rx);
	free(s->aux_tx);
	free(s->scratch);
	free(s);
}

/* ------------------------------------------------------------------ */
/* Replies                                                             */
/* ------------------------------------------------------------------ */

static int reply_ok(struct server *s, int size)
{
	if (size < 0)
		return size;
	s->have_reply = true;
	return 0;
}

/* An empty success reply. */
static int reply_empty(struct server *s, const struct vfio_user_msg *m)
{
	return reply_ok(s, vfio_user_build_reply(&s->out, s->tx, BUFSZ, &m->hdr,
						 NULL, 0, NULL, 0));
}

static void reply_error(struct server *s, const struct vfio_user_msg *m,
			uint32_t err)
{
	int ret;

	if (bug(s, BUG_ERROR_REPLY_PAYLOAD)) {
		/* the bug: the request's payload rides along */
		ret = vfio_user_build_reply(&s->out, s->tx, BUFSZ, &m->hdr,
					    m->payload, m->payload_len, NULL,
					    0);
		if (ret >= 0) {
			s->out.hdr.flags |= VFIO_USER_F_ERROR;
			s->out.hdr.error = err;
		}
	} else {
		ret = vfio_user_build_error_reply(&s->out, s->tx, BUFSZ,
						  &m->hdr, err);
	}
	if (ret < 0)
		return;
	if (bug(s, BUG_REPLY_TYPE_MISSING))
		s->out.hdr.flags &= ~VFIO_USER_F_TYPE_MASK;
	s->have_reply = true;
}

static int send_reply(struct server *s)
{
	int ret;

	ret = frame_vfio_send(s->conn, &s->out, FRAME_WHOLE,
			      chan_deadline(SERVER_MSG_TIMEOUT_MS));
	if (ret < 0) {
		say("cannot send the reply to %s id=%u: %s",
		    vfio_user_command_name(s->out.hdr.command),
		    s->out.hdr.msg_id, strerror(-ret));
		return ret;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* VFIO_USER_VERSION                                                   */
/* ------------------------------------------------------------------ */

static int handle_version(struct server *s, struct vfio_user_msg *m)
{
	/* "Each command message in Commands_ must be replied to with a reply
	 * message, unless the message sets the *No_Reply* bit": VERSION is
	 * one of them, so a VERSION with No_reply negotiates silently (and
	 * without a twin socket, whose end would have gone with the reply). */
	bool no_reply = (m->hdr.flags & VFIO_USER_F_NO_REPLY) &&
			!bug(s, BUG_NO_REPLY_ANSWERED);
	struct vfio_user_caps ours;
	struct vfio_user_version v;
	const char *json = NULL, *why = NULL;
	char *copy = NULL, text[512];
	size_t json_len = 0;
	int sv[2] = { -1, -1 }, ret;
	uint16_t minor;

	if (s->negotiated)
		return refuse(s, -EINVAL,
			      "VFIO_USER_VERSION after negotiation");
	/* from here on, a failure closes the connection */
	s->closing = true;
	if (bug(s, BUG_JSON_NUL_OPTIONAL) && m->payload_len > sizeof(v)) {
		/* the bug: the data taken as it is, NUL or not */
		memcpy(&v, m->payload, sizeof(v));
		json_len = m->payload_len - sizeof(v);
		copy = calloc(1, json_len + 1);
		if (!copy)
			return -ENOMEM;
		memcpy(copy, m->payload + sizeof(v), json_len);
		json_len = strlen(copy);
		json = copy;
	} else {
		ret = vfio_user_get_version(m, &v, &json, &json_len, &why);
		if (ret < 0)
			return refuse(s, -EINVAL, why);
	}
	/* "If the client does not support the proposed major, it closes
	 * the connection": we speak major 0 only */
	if (v.major != VFIO_USER_MAJOR) {
		free(copy);
		return refuse(s, -EINVAL, "unsupported major version");
	}
	ret = vfio_user_caps_parse(&s->caps, json, json ? json_len + 1 : 0,
				   &why);
	free(copy);
	if (ret < 0)
		return refuse(s, -EINVAL, why);
	ret = vfio_user_caps_check(&s->caps, false, &why);
	if (ret < 0)
		return refuse(s, -EINVAL, why);
	if (s->caps.max_msg_fds > SERVER_CLIENT_MAX_FDS_LIMIT)
		return refuse(s, -EINVAL, "max_msg_fds above 1024");

	s->client_max_fds = s->caps.max_msg_fds;
	/* clamped, never truncated: our own limit is lower anyway */
	s->xfer_max = VUC_MIN(s->caps.max_data_xfer_size,
			      (uint64_t)SERVER_MAX_DATA_XFER);
	s->write_multiple = s->caps.write_multiple;

	vfio_user_caps_init(&ours);
	ours.present = VFIO_USER_CAP_OBJECT | VFIO_USER_CAP_MAX_MSG_FDS |
		       VFIO_USER_CAP_MAX_DATA_XFER_SIZE |
		       VFIO_USER_CAP_MAX_DMA_MAPS | VFIO_USER_CAP_PGSIZES |
		       VFIO_USER_CAP_MIGRATION |
		       VFIO_USER_CAP_MIGRATION_PGSIZE |
		       VFIO_USER_CAP_MIGRATION_MAX_BITMAP_SIZE;
	ours.max_msg_fds = SERVER_MAX_MSG_FDS;
	ours.max_data_xfer_size = SERVER_MAX_DATA_XFER;
	ours.max_dma_maps = DMA_MAX_REGIONS;
	ours.pgsizes = DMA_LOG_PAGE;
	ours.migration_pgsize = DMA_LOG_PAGE;
	ours.migration_max_bitmap_size = SERVER_MAX_DATA_XFER;
	/* "The capability list must be a subset of those proposed" */
	if (s->write_multiple || bug(s, BUG_CAPS_NOT_SUBSET)) {
		ours.present |= VFIO_USER_CAP_WRITE_MULTIPLE;
		ours.write_multiple = true;
	}
	if (s->caps.twin_socket_supported && s->client_max_fds >= 1 &&
	    !s->opts.no_twin_socket && !no_reply) {
		ret = sock_pair(sv);
		if (ret < 0)
			return refuse(s, ret, "cannot make the twin socket");
		ours.present |= VFIO_USER_CAP_TWIN_SOCKET |
				VFIO_USER_CAP_TWIN_SUPPORTED |
				VFIO_USER_CAP_TWIN_FD_INDEX;
		ours.twin_socket_supported = true;
		ours.twin_socket_fd_index = 0;
	}
	ret = vfio_user_caps_to_json(&ours, NULL, text, sizeof(text));
	if (ret < 0)
		goto err;
	/* "The minor version in the reply must be equal to or less than the
	 * minor version proposed." */
	minor = bug(s, BUG_VERSION_MINOR_HIGH)
			? VFIO_USER_MINOR
			: VUC_MIN(v.minor, (uint16_t)VFIO_USER_MINOR);
	ret = vfio_user_build_version_reply(&s->out, s->tx, BUFSZ, &m->hdr,
					    VFIO_USER_MAJOR, minor, text,
					    &sv[1], sv[1] >= 0 ? 1 : 0);
	if (ret < 0)
		goto err;
	s->have_reply = true;
	/* the client's end goes with the reply; keep ours */
	ret = no_reply ? 0 : send_reply(s);
	s->have_reply = false;
	close_fd(&sv[1]);
	if (ret < 0)
		goto err;
	s->twin = sv[0];
	s->negotiated = true;
	s->closing = false;
	return 0;

err:
	close_fds(sv, 2);
	return refuse(s, ret, "cannot build the VERSION reply");
}

/* ------------------------------------------------------------------ */
/* DMA                                                                 */
/* ------------------------------------------------------------------ */

static int handle_dma_map(struct server *s, struct vfio_user_msg *m)
{
	struct vfio_user_dma_map d;
	const char *why = NULL;
	int mode, fd, ret;

	ret = vfio_user_get_dma_map(m, &d, &why);
	if (ret < 0)
		return refuse(s, -EINVAL, why);
	/* "If an access mode requiring a file descriptor is specified, but
	 * the client does not provide a file descriptor, the server must
	 * fail the request with EINVAL." */
	mode = vfio_user_dma_map_access(d.flags, m->nfds, &why);
	if (mode < 0)
		return refuse(s, -EINVAL, why);
	if (bug(s, BUG_MODE_DEFAULT_MSG) &&
	    !(d.flags & VFIO_USER_F_DMA_REGION_MODES))
		mode = VFIO_USER_DMA_ACCESS_MSG;
	fd = m->nfds ? m->fds[0] : -1;
	if (m->nfds)
		m->fds[0] = -1; /* dma_map() takes it */
	ret = dma_map(&s->dma, &d, (enum vfio_user_dma_access)mode, fd);
	if (ret == -EEXIST)
		return refuse(s, ret, "overlaps an existing region");
	if (ret < 0)
		return refuse(s, ret,
			      "region refused (size, fd, file or table full)");
	return reply_empty(s, m);
}

static int handle_dma_unmap(struct server *s, struct vfio_user_msg *m)
{
	struct vfio_user_dma_unmap u;
	const char *why = NULL;
	int ret;

	ret = vfio_user_get_dma_unmap(m, &u, NULL, NULL, &why);
	if (ret < 0)
		return refuse(s, -EINVAL, why);
	/* "flags is unused in this version": the VFIO dirty bitmap of the
	 * old migration protocol is not offered; ALL is */
	if (u.flags & VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP)
		return refuse(s, -ENOTSUP,
			      "GET_DIRTY_BITMAP is not supported (use "
			      "DMA_LOGGING_REPORT)");
	if (u.flags & VFIO_DMA_UNMAP_FLAG_ALL) {
		dma_unmap_all(&s->dma);
	} else {
		ret = dma_unmap(&s->dma, u.addr, u.size);
		if (ret < 0)
			return refuse(s, ret,
				      "the range matches no mapping exactly");
	}
	return reply_ok(s, vfio_user_build_dma_unmap_reply(&s->out, s->tx,
							   BUFSZ, &m->hdr, &u,
							   NULL, NULL));
}

/* ------------------------------------------------------------------ */
/* Device info, regions, IRQs                                          */
/* ------------------------------------------------------------------ */

static int handle_get_info(struct server *s, struct vfio_user_msg *m)
{
	struct vfio_user_device_info info;
	const char *why = NULL;

	if (vfio_user_get_device_info(m, &info, &why) < 0)
		return refuse(s, -EINVAL, why);
	return reply_ok(s,
			vfio_user_build_device_info_reply(
				&s->out, s->tx, BUFSZ, &m->hdr,
				VFIO_DEVICE_FLAGS_RESET | VFIO_DEVICE_FLAGS_PCI,
				DEV_NUM_REGIONS, DEV_NUM_IRQS));
}

/* Region names for the log. Not const: the seeded crash must stay. */
static const char *region_names[DEV_NUM_REGIONS + 1] = {
	"BAR0", "BAR1", "BAR2",	  "BAR3", "BAR4",
	"BAR5", "ROM",	"CONFIG", "VGA",  "INFO",
};

static int handle_region_info(struct server *s, struct vfio_user_msg *m)
{
	struct vfio_user_region_info req, info;
	uint8_t caps[256];
	size_t caps_len = sizeof(caps);
	const char *why = NULL;
	uint32_t argsz;
	int ret, fd;

	if (vfio_user_get_region_info(m, &req, &why) < 0)
		return refuse(s, -EINVAL, why);
	if (bug(s, BUG_REGION_INDEX_CRASH)) {
		/* the bug: > where >= was meant; the slot past the table
		 * holds NULL */
		if (req.index > DEV_NUM_REGIONS)
			return refuse(s, -EINVAL, "no such region");
		if ((*(const char *volatile *)&region_names[req.index])[0] ==
		    '?')
			return refuse(s, -EINVAL, "no such region");
	}
	ret = device_region_info(&s->dev, req.index, &info, caps, &caps_len,
				 &fd, s->client_max_fds >= 1);
	if (ret < 0)
		return refuse(s, -EINVAL, "no such region");
	argsz = bug(s, BUG_REGION_INFO_ARGSZ) ? UINT32_MAX : req.argsz;
	return reply_ok(s, vfio_user_build_region_info_reply(
				   &s->out, s->tx, BUFSZ, &m->hdr, argsz, &info,
				   caps_len ? caps : NULL, caps_len, fd));
}

static int handle_io_fds(struct server *s, struct vfio_user_msg *m)
{
	struct vfio_user_sub_region_io_fd subs[DEV_MAX_IO_FDS];
	struct vfio_user_region_io_fds req;
	int fds[DEV_MAX_IO_FDS];
	unsigned int nfds = 0;
	const char *why = NULL;
	int n;

	if (vfio_user_get_region_io_fds(m, &req, &why) < 0)
		return refuse(s, -EINVAL, why);
	n = device_io_fds(&s->dev, req.index, subs, fds, &nfds);
	if (n < 0)
		return refuse(s, -EINVAL, "no such region");
	/* a client that takes no fds gets no ioeventfds */
	if (nfds > s->client_max_fds) {
		n = 0;
		nfds = 0;
	}
	return reply_ok(s, vfio_user_build_region_io_fds_reply(
				   &s->out, s->tx, BUFSZ, &m->hdr, req.argsz,
				   req.index, subs, (uint32_t)n, fds, nfds));
}

static int handle_irq_info(struct server *s, struct vfio_user_msg *m)
{
	struct vfio_user_irq_info req;
	const char *why = NULL;
	uint32_t flags, count;

	if (vfio_user_get_irq_info(m, &req, &why) < 0)
		return refuse(s, -EINVAL, why);
	if (device_irq_info(&s->dev, req.index, &flags, &count) < 0)
		return refuse(s, -EINVAL, "no such IRQ index");
	return reply_ok(s, vfio_user_build_irq_info_reply(&s->out, s->tx, BUFSZ,
							  &m->hdr, flags,
							  req.index, count));
}

static int handle_set_irqs(struct server *s, struct vfio_user_msg *m)
{
	struct vfio_user_irq_set set;
	const uint8_t *data = NULL;
	size_t len = 0;
	const char *why = NULL;

	if (vfio_user_get_irq_set(m, &set, &data, &len, &why) < 0)
		return refuse(s, -EINVAL, why);
	if (bug(s, BUG_ARGSZ_TRUSTED) && set.argsz >= sizeof(set))
		/* the bug: the booleans counted from argsz (the reads stay
		 * within what came) */
		len = VUC_MIN(len, (size_t)(set.argsz - sizeof(set)));
	if (device_set_irqs(&s->dev, &set, data, len, m->fds, m->nfds) < 0)
		return refuse(s, -EINVAL,
			      "index, range, action or fds not valid");
	return reply_empty(s, m);
}

static int check_count(struct server *s, uint64_t count)
{
	/* the scratch buffer's size is a hard limit, bug or not */
	if (count > SERVER_MAX_DATA_XFER)
		return refuse(s, -EINVAL, "count above max_data_xfer_size");
	/* "The count field must not exceed the value of max_data_xfer_size
	 * of the peer" */
	if (count > s->xfer_max && !bug(s, BUG_XFER_SIZE_IGNORED))
		return refuse(s, -EINVAL, "count above max_data_xfer_size");
	return 0;
}

static int handle_region_rw(struct server *s, struct vfio_user_msg *m)
{
	struct vfio_user_region_access a;
	const uint8_t *data = NULL;
	const char *why = NULL;
	bool write = m->hdr.command == VFIO_USER_REGION_WRITE;
	int ret;

	if (vfio_user_get_region_access(m, &a, &data, &why) < 0)
		return refuse(s, -EINVAL, why);
	ret = check_count(s, a.count);
	if (ret < 0)
		return ret;
	if (write)
		memcpy(s->scratch, data, a.count);
	ret = device_region_access(&s->dev, a.region, a.offset, s->scratch,
				   a.count, write);
	if (ret < 0)
		return refuse(s, ret, "no such region, or out of its range");
	if (s->closing)
		return -ECONNRESET;
	if (write)
		return reply_ok(s, vfio_user_build_region_write_reply(
					   &s->out, s->tx, BUFSZ, &m->hdr,
					   a.region, a.offset, a.count));
	return reply_ok(s, vfio_user_build_region_read_reply(
				   &s->out, s->tx, BUFSZ, &m->hdr, a.region,
				   a.offset, s->scratch, a.count));
}

static int handle_write_multi(struct server *s, struct vfio_user_msg *m)
{
	struct vfio_user_write_multi_data w;
	const char *why = NULL;
	uint64_t n, i;
	int ret;

	if (!s->write_multiple)
		return refuse(s, -EINVAL, "write_multiple was not negotiated");
	if (vfio_user_get_write_multi(m, &n, &why) < 0)
		return refuse(s, -EINVAL, why);
	for (i = 0; i < n; i++) {
		if (vfio_user_get_write_multi_entry(m, i, &w, &why) < 0)
			return refuse(s, -EINVAL, why);
		if (w.count > VFIO_USER_MULTI_DATA)
			return refuse(s, -EINVAL, "a write of more than 8");
		ret = device_region_access(&s->dev, w.region, w.offset, w.data,
					   w.count, true);
		if (ret < 0)
			return refuse(s, ret, "a write out of range");
		if (s->closing)
			return -ECONNRESET;
	}
	return reply_ok(s, vfio_user_build_write_multi_reply(
				   &s->out, s->tx, BUFSZ, &m->hdr, n));
}

static int handle_reset(struct server *s, struct vfio_user_msg *m)
{
	device_reset(&s->dev);
	return reply_empty(s, m);
}

/* ------------------------------------------------------------------ */
/* DEVICE_FEATURE and migration data                                   */
/* ------------------------------------------------------------------ */

static uint32_t feature_ops(uint32_t idx)
{
	switch (idx) {
	case VFIO_DEVICE_FEATURE_MIGRATION:
	case VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT:
		return VFIO_DEVICE_FEATURE_GET;
	case VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE:
		return VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_SET;
	case VFIO_DEVICE_FEATURE_DMA_LOGGING_START:
	case VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP:
		return VFIO_DEVICE_FEATURE_SET;
	}
	return 0;
}

/* SET and PROBE: "The reply payload must be the same as the request
 * payload" (the request's bytes, argsz included). */
static int reply_echo(struct server *s, const struct vfio_user_msg *m,
		      const void *payload)
{
	return reply_ok(s, vfio_user_build_reply(&s->out, s->tx, BUFSZ, &m->hdr,
						 payload, m->payload_len, NULL,
						 0));
}

static int logging_start(struct server *s, struct vfio_user_msg *m)
{
	struct vfio_user_device_feature_dma_logging_control c;
	struct dma_log_range r[DMA_LOG_RANGES_MAX];
	struct vfio_user_device_feature_dma_logging_range rg;
	const char *why = NULL;
	uint32_t i;
	int ret;

	if (vfio_user_get_dma_logging_control(m, &c, 0, NULL, &why) < 0)
		return refuse(s, -EINVAL, why);
	if (!c.page_size || (c.page_size & (c.page_size - 1)))
		return refuse(s, -EINVAL, "page_size not a power of two");
	if (c.num_ranges > DMA_LOG_RANGES_MAX)
		return refuse(s, -E2BIG, "too many ranges");
	for (i = 0; i < c.num_ranges; i++) {
		if (vfio_user_get_dma_logging_control(m, &c, i, &rg, &why) < 0)
			return refuse(s, -EINVAL, why);
		r[i].iova = rg.iova;
		r[i].length = rg.length;
	}
	ret = dma_log_start(&s->dma, r, c.num_ranges);
	if (ret < 0)
		return refuse(s, ret, "logging already started, or bad range");
	/* "On output the device will return the page size it selected" */
	memcpy(s->scratch, m->payload, m->payload_len);
	c.page_size = DMA_LOG_PAGE;
	memcpy(s->scratch + sizeof(struct vfio_user_device_feature),
	       &c.page_size, sizeof(c.page_size));
	return reply_echo(s, m, s->scratch);
}

static int logging_report(struct server *s, struct vfio_user_msg *m,
			  uint32_t flags)
{
	struct vfio_user_device_feature_dma_logging_report r;
	const char *why = NULL;
	uint64_t bm;
	int ret;

	if (vfio_user_get_dma_logging_report(m, &r, NULL, NULL, &why) < 0)
		return refuse(s, -EINVAL, why);
	bm = vfio_user_dirty_bitmap_size(r.length, r.page_size);
	if (bm > SERVER_MAX_DATA_XFER - sizeof(r))
		return refuse(s, -EINVAL, "bitmap larger than a message");
	memcpy(s->scratch, &r, sizeof(r));
	ret = dma_log_report(&s->dma, r.iova, r.length, r.page_size,
			     (uint64_t *)(void *)(s->scratch + sizeof(r)),
			     (size_t)bm);
	if (ret < 0)
		return refuse(s, ret, "logging not started, or bad page_size");
	return reply_ok(s, vfio_user_build_device_feature_reply(
				   &s->out, s->tx, BUFSZ, &m->hdr, flags,
				   s->scratch, sizeof(r) + bm));
}

static int handle_feature(struct server *s, struct vfio_user_msg *m)
{
	const uint32_t ops_mask = VFIO_DEVICE_FEATURE_GET |
				  VFIO_DEVICE_FEATURE_SET |
				  VFIO_DEVICE_FEATURE_PROBE;
	struct vfio_user_device_feature_mig_state st;
	struct vfio_user_device_feature_migration mig;
	struct vfio_user_device_feature f;
	const uint8_t *data = NULL;
	const char *why = NULL;
	uint32_t idx, ops;
	size_t len = 0;
	int ret;

	if (vfio_user_get_device_feature(m, &f, &data, &len, &why) < 0)
		return refuse(s, -EINVAL, why);
	idx = f.flags & VFIO_DEVICE_FEATURE_MASK;
	ops = f.flags & ops_mask;
	if (!feature_ops(idx))
		return refuse(s, -ENOTSUP, "unknown feature");
	if (ops & VFIO_DEVICE_FEATURE_PROBE) {
		/* "the probe will only return success if all of the
		 * indicated methods are supported" */
		if (ops & ~VFIO_DEVICE_FEATURE_PROBE & ~feature_ops(idx))
			return refuse(s, -ENOTSUP,
				      "method not supported by the feature");
		return reply_echo(s, m, m->payload);
	}
	if (ops != VFIO_DEVICE_FEATURE_GET && ops != VFIO_DEVICE_FEATURE_SET)
		return refuse(s, -EINVAL, "GET and SET together");
	if (!(ops & feature_ops(idx)))
		return refuse(s, -EINVAL, "method not supported by feature");

	switch (idx) {
	case VFIO_DEVICE_FEATURE_MIGRATION:
		mig.flags = VFIO_MIGRATION_STOP_COPY | VFIO_MIGRATION_PRE_COPY;
		return reply_ok(s, vfio_user_build_device_feature_reply(
					   &s->out, s->tx, BUFSZ, &m->hdr,
					   f.flags, &mig, sizeof(mig)));
	case VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE:
		if (ops == VFIO_DEVICE_FEATURE_GET) {
			st.device_state = device_mig_state(&s->dev);
			st.data_fd = UINT32_MAX; /* "unused in vfio-user" */
			return reply_ok(s,
					vfio_user_build_device_feature_reply(
						&s->out, s->tx, BUFSZ, &m->hdr,
						f.flags, &st, sizeof(st)));
		}
		if (vfio_user_get_mig_state(m, &st, &why) < 0)
			return refuse(s, -EINVAL, why);
		ret = device_mig_set_state(&s->dev, st.device_state);
		if (ret < 0)
			return refuse(s, ret,
				      "no such transition, or migration data "
				      "invalid");
		return reply_echo(s, m, m->payload);
	case VFIO_DEVICE_FEATURE_DMA_LOGGING_START:
		return logging_start(s, m);
	case VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP:
		dma_log_stop(&s->dma);
		return reply_echo(s, m, m->payload);
	case VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT:
		return logging_report(s, m, f.flags);
	}
	return refuse(s, -ENOTSUP, "unknown feature");
}

static int handle_mig_data(struct server *s, struct vfio_user_msg *m)
{
	struct vfio_user_mig_data d;
	const uint8_t *data = NULL;
	const char *why = NULL;
	int ret;

	if (vfio_user_get_mig_data(m, &d, &data, &why) < 0)
		return refuse(s, -EINVAL, why);
	ret = check_count(s, d.size);
	if (ret < 0)
		return ret;
	if (m->hdr.command == VFIO_USER_MIG_DATA_WRITE) {
		ret = device_mig_write(&s->dev, data, d.size);
		if (ret < 0)
			return refuse(s, ret, "not RESUMING, or too much data");
		return reply_empty(s, m);
	}
	ret = device_mig_read(&s->dev, s->scratch, d.size);
	if (ret < 0)
		return refuse(s, ret, "not in PRE_COPY or STOP_COPY");
	return reply_ok(s, vfio_user_build_mig_data_read_reply(
				   &s->out, s->tx, BUFSZ, &m->hdr, s->scratch,
				   (uint32_t)ret));
}

/* ------------------------------------------------------------------ */
/* Dispatch                                                            */
/* ------------------------------------------------------------------ */

typedef int handler_fn(struct server *s, struct vfio_user_msg *m);

static handler_fn *const handlers[VFIO_USER_CMD_MAX + 1] = {
	[VFIO_USER_VERSION] = handle_version,
	[VFIO_USER_DMA_MAP] = handle_dma_map,
	[VFIO_USER_DMA_UNMAP] = handle_dma_unmap,
	[VFIO_USER_DEVICE_GET_INFO] = handle_get_info,
	[VFIO_USER_DEVICE_GET_REGION_INFO] = handle_region_info,
	[VFIO_USER_DEVICE_GET_REGION_IO_FDS] = handle_io_fds,
	[VFIO_USER_DEVICE_GET_IRQ_INFO] = handle_irq_info,
	[VFIO_USER_DEVICE_SET_IRQS] = handle_set_irqs,
	[VFIO_USER_REGION_READ] = handle_region_rw,
	[VFIO_USER_REGION_WRITE] = handle_region_rw,
	[VFIO_USER_DEVICE_RESET] = handle_reset,
	[VFIO_USER_REGION_WRITE_MULTI] = handle_write_multi,
	[VFIO_USER_DEVICE_FEATURE] = handle_feature,
	[VFIO_USER_MIG_DATA_READ] = handle_mig_data,
	[VFIO_USER_MIG_DATA_WRITE] = handle_mig_data,
};

/* The wire check of @m with field @off (4 or 8 bytes) replaced by @v. */
static bool passes_with(const struct vfio_user_msg *m, size_t off,
			unsigned int width, uint64_t v)
{
	struct vfio_user_msg c = *m;
	uint8_t *p;
	bool ok;

	if (m->payload_len < off + width)
		return false;
	p = malloc(m->payload_len);
	if (!p)
		return false;
	memcpy(p, m->payload, m->payload_len);
	if (width == 4) {
		uint32_t v32 = (uint32_t)v;

		memcpy(p + off, &v32, 4);
	} else {
		memcpy(p + off, &v, 8);
	}
	c.payload = p;
	ok = vfio_user_check_command(&c, VFIO_USER_CLIENT_TO_SERVER,
				     VFIO_USER_CHECK_LENIENT, NULL) >= 0;
	free(p);
	return ok;
}

/* Would a seeded bug let @m past the check it failed? */
static bool bug_excuses(const struct server *s, const struct vfio_user_msg *m)
{
	switch (m->hdr.command) {
	case VFIO_USER_DMA_MAP:
	case VFIO_USER_DEVICE_SET_IRQS:
		if (bug(s, BUG_ARGSZ_TRUSTED) &&
		    passes_with(m, 0, 4, m->payload_len))
			return true;
		return m->hdr.command == VFIO_USER_DEVICE_SET_IRQS &&
		       bug(s, BUG_IRQ_RANGE_WRAP) && passes_with(m, 12, 4, 0);
	case VFIO_USER_REGION_READ:
	case VFIO_USER_REGION_WRITE:
		return bug(s, BUG_OFFSET_WRAP) && passes_with(m, 0, 8, 0);
	case VFIO_USER_VERSION:
		return bug(s, BUG_JSON_NUL_OPTIONAL) &&
		       m->payload_len > sizeof(struct vfio_user_version) &&
		       !memchr(m->payload + sizeof(struct vfio_user_version), 0,
			       m->payload_len -
				       sizeof(struct vfio_user_version));
	}
	return false;
}

static int dispatch(struct server *s, struct vfio_user_msg *m)
{
	uint32_t type = m->hdr.flags & VFIO_USER_F_TYPE_MASK;
	const struct vfio_user_rule *r;
	const char *why = NULL;
	int ret;

	if (type != VFIO_USER_F_TYPE_COMMAND)
		return refuse(s, -EINVAL,
			      type == VFIO_USER_F_TYPE_REPLY
				      ? "a reply where no server command is "
					"outstanding"
				      : "a message type that is neither "
					"command nor reply");
	if (!s->negotiated && m->hdr.command != VFIO_USER_VERSION) {
		/* "the initial client message is VFIO_USER_VERSION" */
		s->closing = true;
		return refuse(s, -EINVAL,
			      "the first message must be "
			      "VFIO_USER_VERSION");
	}
	/* "It is reserved in a command message": Error bit and field are
	 * ignored; fields the sender "must" zero are tolerated. */
	ret = vfio_user_check_command(m, VFIO_USER_CLIENT_TO_SERVER,
				      VFIO_USER_CHECK_LENIENT, &why);
	if (ret < 0 && bug_excuses(s, m)) {
		say("seeded bug lets %s id=%u past the check: %s",
		    vfio_user_command_name(m->hdr.command), m->hdr.msg_id,
		    why ? why : "?");
		ret = 0;
	}
	if (ret < 0) {
		if (m->hdr.command == VFIO_USER_VERSION)
			s->closing = true;
		return refuse(s, ret == -ENOTSUP ? -ENOTSUP : -EINVAL, why);
	}
	r = vfio_user_rule(m->hdr.command);
	if (!r || !handlers[r->code])
		return refuse(s, -ENOTSUP, "no handler");
	return handlers[r->code](s, m);
}

int server_handle(struct server *s, struct vfio_user_msg *m)
{
	bool no_reply = m->hdr.flags & VFIO_USER_F_NO_REPLY;
	const struct vfio_user_rule *r = vfio_user_rule(m->hdr.command);
	int ret, sent = 0;

	s->have_reply = false;
	s->why = NULL;
	s->handled++;
	ret = dispatch(s, m);
	if (ret < 0 && ret != -ECONNRESET) {
		say("%s id=%u refused (%s): %s",
		    vfio_user_command_name(m->hdr.command), m->hdr.msg_id,
		    strerror(-ret), s->why ? s->why : "?");
		if (!(ret == -ENOTSUP && !r && bug(s, BUG_UNKNOWN_CMD_SILENT)))
			reply_error(s, m, (uint32_t)-ret);
	}
	/* fds nobody kept */
	if (m->nfds && bug(s, BUG_STRAY_FDS_KEPT) && r &&
	    r->req_fds == VFIO_USER_FDS_NONE)
		m->nfds = 0; /* the bug: forgotten, never closed */
	close_fds(m->fds, m->nfds);
	m->nfds = 0;
	/* "Each command message ... must be replied to with a reply
	 * message, unless the message sets the No_Reply bit." */
	if (s->have_reply && (!no_reply || bug(s, BUG_NO_REPLY_ANSWERED)))
		sent = send_reply(s);
	s->have_reply = false;
	if (sent < 0)
		return sent;
	return s->closing ? -EPROTO : 0;
}

/* ------------------------------------------------------------------ */
/* Receiving                                                           */
/* ------------------------------------------------------------------ */

/* The seeded split-desync bug: one recv for the body, whatever came. */
static int recv_split_bug(struct server *s, struct vfio_user_msg *m)
{
	int fds[VFIO_USER_MSG_FDS_MAX], more[VFIO_USER_MSG_FDS_MAX];
	unsigned int nfds = ARRAY_SIZE(fds), nmore = ARRAY_SIZE(more);
	struct vfio_user_hdr hdr;
	int ret, got = 0;

	ret = chan_recv(s->conn, s->rx, VFIO_USER_HDR_SIZE, fds, &nfds,
			chan_deadline(SERVER_MSG_TIMEOUT_MS), NULL);
	if (ret < 0)
		return ret;
	vfio_user_hdr_parse(s->rx, VFIO_USER_HDR_SIZE, &hdr, NULL);
	if (hdr.msg_size < VFIO_USER_HDR_SIZE || hdr.msg_size > BUFSZ) {
		close_fds(fds, nfds);
		return -EMSGSIZE;
	}
	if (hdr.msg_size > VFIO_USER_HDR_SIZE) {
		got = chan_recv_some(s->conn, s->rx + VFIO_USER_HDR_SIZE,
				     hdr.msg_size - VFIO_USER_HDR_SIZE, more,
				     &nmore, chan_deadline(CHAN_NOWAIT), NULL);
		if (got < 0) {
			got = 0;
			nmore = 0;
		}
	} else {
		nmore = 0;
	}
	vfio_user_msg_init(m);
	m->hdr = hdr;
	m->payload = s->rx + VFIO_USER_HDR_SIZE;
	m->payload_len = (size_t)got;
	memcpy(m->fds, fds, nfds * sizeof(int));
	memcpy(m->fds + nfds, more,
	       VUC_MIN(nmore, VFIO_USER_MSG_FDS_MAX - nfds) * sizeof(int));
	m->nfds = nfds + VUC_MIN(nmore, VFIO_USER_MSG_FDS_MAX - nfds);
	return (int)hdr.msg_size;
}

int server_recv(struct server *s, struct vfio_user_msg *m)
{
	struct vfio_user_hdr hdr;
	struct vfio_user_msg fake;
	const char *why = NULL;
	int ret;

	if (bug(s, BUG_SPLIT_DESYNC))
		return recv_split_bug(s, m);
	ret = frame_vfio_recv(s->conn, m, s->rx, BUFSZ, BUFSZ,
			      chan_deadline(SERVER_MSG_TIMEOUT_MS), &why, NULL);
	if (ret >= 0 || ret == -ECONNRESET)
		return ret;
	if (ret != -EMSGSIZE && ret != -EBADMSG) {
		say("receive failed: %s", strerror(-ret));
		return ret;
	}
	/* The header is in rx: answer it, then hang up, since the rest of
	 * the stream cannot be framed ("never parsed as headers"). */
	vfio_user_hdr_parse(s->rx, VFIO_USER_HDR_SIZE, &hdr, NULL);
	say("%s id=%u refused: %s (msg_size %u)",
	    vfio_user_command_name(hdr.command), hdr.msg_id,
	    why ? why : "bad size", hdr.msg_size);
	vfio_user_msg_init(&fake);
	fake.hdr = hdr;
	if ((hdr.flags & VFIO_USER_F_TYPE_MASK) == VFIO_USER_F_TYPE_COMMAND &&
	    !(hdr.flags & VFIO_USER_F_NO_REPLY)) {
		s->have_reply = false;
		reply_error(s, &fake, ret == -EMSGSIZE ? EMSGSIZE : EINVAL);
		if (s->have_reply)
			send_reply(s);
		s->have_reply = false;
	}
	if (ret == -EMSGSIZE && bug(s, BUG_OVERSIZE_NO_DRAIN))
		return 0; /* the bug: read on at the body */
	return ret;
}

/* ------------------------------------------------------------------ */
/* The loop                                                            */
/* ------------------------------------------------------------------ */

static int run_queued(struct server *s)
{
	struct server_queued q;
	int ret;

	while (s->qlen) {
		q = s->queue[s->qhead];
		s->queue[s->qhead].buf = NULL;
		s->qhead = (s->qhead + 1) % SERVER_QUEUE_MAX;
		s->qlen--;
		ret = server_handle(s, &q.msg);
		free(q.buf);
		if (ret < 0)
			return ret;
	}
	return 0;
}

int server_serve(struct server *s, int conn)
{
	struct vfio_user_msg m;
	int ret = 0;

	server_attach(s, conn);
	for (;;) {
		struct pollfd p[2] = {
			{ .fd = s->conn, .events = POLLIN },
			{ .fd = s->dev.ioeventfd, .events = POLLIN },
		};

		ret = run_queued(s);
		if (ret < 0)
			break;
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			ret = -errno;
			break;
		}
		if (p[1].revents & POLLIN) {
			device_doorbell(&s->dev);
			if (s->closing) {
				ret = -EPROTO;
				break;
			}
		}
		if (!(p[0].revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		ret = server_recv(s, &m);
		if (ret == -ECONNRESET) {
			ret = 0;
			break;
		}
		if (ret < 0)
			break;
		if (ret == 0)
			continue;
		ret = server_handle(s, &m);
		if (ret < 0)
			break;
	}
	if (ret < 0)
		say("closing the connection: %s", strerror(-ret));
	server_detach(s);
	return ret;
}
