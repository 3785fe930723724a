// SPDX-License-Identifier: MIT
/*
 * fe.c - the vhost-user front-end session: steps, composites, bending,
 * replies judged, everything traced. The back-end channel is in
 * fe_backend.c.
 */
#include "fe/fe.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/util.h"
#include "fe/frame.h"
#include "transport/chan.h"
#include "transport/fdzoo.h"
#include "transport/sock.h"

/* An inflight area bigger than this is a lie, not something to map. */
#define FE_INFLIGHT_MAX (256ull << 20)

/* ---- Errors and trace ------------------------------------------------ */

int fe_fail(struct fe *fe, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(fe->err, sizeof(fe->err), fmt, ap);
	va_end(ap);
	fe_trace_note(&fe->trace, FE_TRACE_MAIN, fe->err);
	return err;
}

/* Every later step returns @err at once: the stream can no longer be
 * trusted (hang-up, a message cut short, a size past any legal one). */
static int fe_die(struct fe *fe, int err)
{
	if (!fe->dead)
		fe->dead = err;
	return err;
}

static int fe_dead(struct fe *fe)
{
	/* fe->err still says why it died; say it again in the trace */
	fe_trace_note(&fe->trace, FE_TRACE_MAIN, "session is dead");
	return fe->dead;
}

static void trace_raw(struct fe *fe, enum fe_trace_dir dir,
		      enum fe_trace_chan chan, const char *text,
		      const void *bytes, size_t len, const int *fds,
		      unsigned int nfds, const size_t *cuts, unsigned int ncuts,
		      unsigned int fds_chunk)
{
	char fdtext[256];
	struct fe_trace_event ev = {
		.dir = dir,
		.chan = chan,
		.text = text,
		.bytes = bytes,
		.len = len,
		.fds = fds,
		.nfds = nfds,
		.chunks = cuts,
		.nchunks = ncuts,
		.fds_chunk = fds_chunk,
	};

	if (!fe->trace.fn)
		return;
	ev.fds_text = fe_trace_fds_text(fds, nfds, fdtext, sizeof(fdtext));
	fe_trace_emit(&fe->trace, &ev);
}

void fe_trace_msg(struct fe *fe, enum fe_trace_dir dir, enum fe_trace_chan chan,
		  enum vhost_user_dir vdir, const struct vhost_user_msg *m,
		  const size_t *cuts, unsigned int ncuts,
		  unsigned int fds_chunk)
{
	uint8_t bytes[VHOST_USER_MSG_MAX];
	char text[512];
	int len;

	if (!fe->trace.fn)
		return;
	vhost_user_describe(m, vdir, text, sizeof(text));
	len = vhost_user_pack(m, bytes, sizeof(bytes));
	trace_raw(fe, dir, chan, text, bytes, len > 0 ? (size_t)len : 0, m->fds,
		  m->nfds, cuts, ncuts, fds_chunk);
}

const char *fe_error(const struct fe *fe)
{
	return fe->err;
}

/* ---- Session ---------------------------------------------------------- */

int fe_init(struct fe *fe, int fd, struct gmem *mem)
{
	unsigned int i;

	memset(fe, 0, sizeof(*fe));
	fe->fd = fd;
	fe->timeout_ms = FE_TIMEOUT_MS;
	fe->reply_ack = true;
	fe->backend_fd = -1;
	fe->backend_burst = FE_BACKEND_BURST;
	fe->log_fd = -1;
	fe->inflight_fd = -1;
	fe->state_fd = -1;
	for (i = 0; i < FE_ZOO_KEEP; i++)
		fe->zoo_keep[i] = -1;
	for (i = 0; i < FE_MAX_QUEUES; i++) {
		fe->q[i].kick_fd = -1;
		fe->q[i].call_fd = -1;
		fe->q[i].err_fd = -1;
	}
	if (mem) {
		fe->mem = mem;
		return 0;
	}
	fe->mem = malloc(sizeof(*fe->mem));
	if (!fe->mem) {
		close_fd(&fe->fd);
		return fe_fail(fe, -ENOMEM, "no memory for guest memory");
	}
	gmem_init(fe->mem);
	fe->own_mem = true;
	return 0;
}

int fe_connect(struct fe *fe, const char *path, int timeout_ms,
	       struct gmem *mem)
{
	int fd = sock_connect(path, timeout_ms);

	if (fd < 0) {
		memset(fe, 0, sizeof(*fe));
		fe->fd = -1;
		fe->backend_fd = -1;
		fe->log_fd = -1;
		fe->inflight_fd = -1;
		fe->state_fd = -1;
		return fe_fail(fe, fd, "connect to %s: %s", path,
			       strerror(-fd));
	}
	return fe_init(fe, fd, mem);
}

static void queue_fini(struct fe_queue *q)
{
	if (q->ready) {
		if (q->layout == FE_SPLIT)
			vq_split_drv_fini(&q->split);
		else
			vq_packed_drv_fini(&q->packed);
	}
	q->ready = false;
	close_fd(&q->kick_fd);
	close_fd(&q->call_fd);
	close_fd(&q->err_fd);
}

static void log_drop(struct fe *fe)
{
	if (fe->log)
		munmap(fe->log, fe->log_size);
	fe->log = NULL;
	fe->log_size = 0;
	close_fd(&fe->log_fd);
}

static void inflight_drop(struct fe *fe)
{
	if (fe->inflight_map)
		munmap(fe->inflight_map, fe->inflight.mmap_size);
	fe->inflight_map = NULL;
	memset(&fe->inflight, 0, sizeof(fe->inflight));
	close_fd(&fe->inflight_fd);
}

void fe_fini(struct fe *fe)
{
	unsigned int i;

	for (i = 0; i < FE_MAX_QUEUES; i++)
		queue_fini(&fe->q[i]);
	log_drop(fe);
	inflight_drop(fe);
	close_fd(&fe->state_fd);
	free(fe->state_buf);
	fe->state_buf = NULL;
	close_fds(fe->zoo_keep, FE_ZOO_KEEP);
	close_fd(&fe->backend_fd);
	close_fd(&fe->fd);
	if (fe->own_mem && fe->mem) {
		gmem_clear(fe->mem);
		free(fe->mem);
	}
	fe->mem = NULL;
	fe->own_mem = false;
}

/* Steps without an explicit reply body say 0 on success. */
static int zero_or_err(int ret)
{
	return ret < 0 ? ret : 0;
}

static int64_t step_deadline(const struct fe *fe, const struct fe_bend *b)
{
	return chan_deadline(b && b->timeout_ms ? b->timeout_ms
						: fe->timeout_ms);
}

static const char *req_name(uint32_t code)
{
	const char *n = vhost_user_request_name(VHOST_USER_FROM_FRONTEND, code);

	return n ? n : "UNKNOWN";
}

/* ---- Sending ---------------------------------------------------------- */

/* Keep the other end of a zoo pipe or socket so the kind stays what it is
 * while the back-end holds its end. */
static void zoo_keep(struct fe *fe, int fd)
{
	unsigned int i;

	if (fd < 0)
		return;
	for (i = 0; i < FE_ZOO_KEEP; i++) {
		if (fe->zoo_keep[i] < 0) {
			fe->zoo_keep[i] = fd;
			return;
		}
	}
	/* full: the oldest goes */
	close_fd(&fe->zoo_keep[0]);
	memmove(fe->zoo_keep, fe->zoo_keep + 1,
		(FE_ZOO_KEEP - 1) * sizeof(int));
	fe->zoo_keep[FE_ZOO_KEEP - 1] = fd;
}

/* The fds a bent message carries: @out (room CHAN_MAX_FDS) gets them,
 * @made gets the ones made here (closed by the caller after the send). */
static int bend_fds(struct fe *fe, const struct vhost_user_msg *m,
		    const struct fe_bend *b, int *out, unsigned int *nout,
		    int *made, unsigned int *nmade)
{
	const int *src = m->fds;
	unsigned int n = m->nfds, i;

	*nmade = 0;
	if (b && b->set_fds) {
		if (b->nfds > CHAN_MAX_FDS)
			return fe_fail(fe, -EINVAL, "bend: %u fds, at most %u",
				       b->nfds, CHAN_MAX_FDS);
		src = b->fds;
		n = b->nfds;
	}
	for (i = 0; i < n; i++)
		out[i] = src[i];
	if (b && b->zoo_kind > 0) {
		unsigned int first = 0, last = n;

		if (b->zoo_index >= 0) {
			if ((unsigned int)b->zoo_index >= CHAN_MAX_FDS)
				return fe_fail(fe, -EINVAL,
					       "bend: fd index %d out of range",
					       b->zoo_index);
			first = (unsigned int)b->zoo_index;
			last = first + 1;
			/* an fd where none was: fill up to it */
			for (i = n; i < last; i++)
				out[i] = -1;
			if (last > n)
				n = last;
		}
		for (i = first; i < last; i++) {
			size_t size = b->zoo_size;
			struct stat st;
			int other = -1, fd;

			if (!size && out[i] >= 0 && !fstat(out[i], &st) &&
			    st.st_size > 0)
				size = (size_t)st.st_size;
			if (!size)
				size = 4096;
			fd = fdzoo_new((enum fdzoo_kind)b->zoo_kind, size,
				       &other);
			if (fd < 0) {
				close_fds(made, *nmade);
				*nmade = 0;
				return fe_fail(fe, fd,
					       "bend: fdzoo kind %s: %s",
					       fdzoo_kind_name(b->zoo_kind),
					       strerror(-fd));
			}
			zoo_keep(fe, other);
			made[(*nmade)++] = fd;
			out[i] = fd;
		}
	}
	*nout = n;
	return 0;
}

/*
 * Send @m bent by @b. @sent gets the header as it went out. The session
 * dies when a send stops part way (the back-end holds half a message).
 */
static int send_bent(struct fe *fe, const struct vhost_user_msg *m,
		     const struct fe_bend *b, struct vhost_user_hdr *sent,
		     int64_t deadline)
{
	struct chan_chunk chunks[256];
	struct vhost_user_hdr hdr = m->hdr;
	int fds[CHAN_MAX_FDS], made[CHAN_MAX_FDS];
	unsigned int nfds = 0, nmade = 0, nchunks, fds_chunk = 0, i;
	size_t base_len = VUC_MIN(m->hdr.size, VHOST_USER_PAYLOAD_MAX);
	size_t plen, total, sent_bytes = 0, at;
	uint8_t *buf = NULL;
	char text[640];
	int ret;

	if (b && b->patch && b->patch_len && !b->set_size &&
	    b->patch_at + b->patch_len > hdr.size)
		hdr.size = (uint32_t)VUC_MIN(b->patch_at + b->patch_len,
					     (size_t)UINT32_MAX);
	if (b && b->set_request)
		hdr.request = b->request;
	if (b && b->set_flags)
		hdr.flags = b->flags;
	if (b && b->set_size)
		hdr.size = b->size;
	plen = b && b->set_payload_len ? b->payload_len : hdr.size;
	if (plen > FE_SEND_MAX - VHOST_USER_HDR_SIZE)
		return fe_fail(fe, -EMSGSIZE,
			       "bend: %zu payload bytes, more than the %u a "
			       "send holds",
			       plen, FE_SEND_MAX - VHOST_USER_HDR_SIZE);
	total = VHOST_USER_HDR_SIZE + plen;
	buf = calloc(1, total);
	if (!buf)
		return fe_fail(fe, -ENOMEM, "no memory for a send");
	memcpy(buf, &hdr, VHOST_USER_HDR_SIZE);
	memcpy(buf + VHOST_USER_HDR_SIZE, m->payload, VUC_MIN(plen, base_len));
	if (b && b->patch && b->patch_at < plen)
		memcpy(buf + VHOST_USER_HDR_SIZE + b->patch_at, b->patch,
		       VUC_MIN(b->patch_len, plen - b->patch_at));

	ret = bend_fds(fe, m, b, fds, &nfds, made, &nmade);
	if (ret < 0)
		goto out;

	/* chunks */
	nchunks = 1;
	if (b && b->ncuts) {
		if (b->ncuts >= ARRAY_SIZE(chunks)) {
			ret = fe_fail(fe, -EINVAL, "bend: %u cuts, too many",
				      b->ncuts);
			goto out;
		}
		for (i = 0; i < b->ncuts; i++) {
			if (!b->cuts[i] || b->cuts[i] >= total ||
			    (i && b->cuts[i] <= b->cuts[i - 1])) {
				ret = fe_fail(fe, -EINVAL,
					      "bend: cut %u at %zu is not "
					      "inside the %zu bytes, in order",
					      i, b->cuts[i], total);
				goto out;
			}
		}
		nchunks = b->ncuts + 1;
	}
	if (b)
		fds_chunk = VUC_MIN(b->fds_chunk, nchunks - 1);
	at = 0;
	for (i = 0; i < nchunks; i++) {
		size_t end = i < nchunks - 1 ? b->cuts[i] : total;

		chunks[i] = (struct chan_chunk){
			.buf = buf + at,
			.len = end - at,
			.fds = i == fds_chunk ? fds : NULL,
			.nfds = i == fds_chunk ? nfds : 0,
			.delay_ms = i && b ? b->delay_ms : 0,
		};
		at = end;
	}

	/* trace what goes out, decoded as far as it decodes */
	if (fe->trace.fn) {
		struct vhost_user_msg tm;

		vhost_user_msg_init(&tm);
		tm.hdr = hdr;
		memcpy(tm.payload, buf + VHOST_USER_HDR_SIZE,
		       VUC_MIN(plen, VHOST_USER_PAYLOAD_MAX));
		tm.nfds = VUC_MIN(nfds, VHOST_USER_MAX_FDS);
		if (hdr.size > VHOST_USER_PAYLOAD_MAX || plen != hdr.size) {
			/* describe() judges hdr.size bytes: say what the
			 * header says, and what really went */
			snprintf(text, sizeof(text),
				 "%s flags=0x%x size=%u (%zu payload bytes "
				 "sent) fds=%u",
				 req_name(hdr.request), hdr.flags, hdr.size,
				 plen, nfds);
		} else {
			vhost_user_describe(&tm, VHOST_USER_FROM_FRONTEND, text,
					    sizeof(text));
		}
		trace_raw(fe, FE_TRACE_SEND, FE_TRACE_MAIN, text, buf, total,
			  fds, nfds, b ? b->cuts : NULL, nchunks - 1,
			  fds_chunk);
	}

	ret = chan_send_progress(fe->fd, chunks, nchunks, deadline,
				 &sent_bytes);
	if (ret < 0) {
		if (ret == -EINVAL)
			fe_fail(fe, ret,
				"send %s: fds on a chunk with no bytes, or "
				"too many fds",
				req_name(hdr.request));
		else
			fe_fail(fe, ret, "send %s: %s after %zu of %zu bytes",
				req_name(hdr.request), strerror(-ret),
				sent_bytes, total);
		if (ret == -EPIPE || ret == -ECONNRESET)
			ret = fe_die(fe, -ECONNRESET);
		else if (sent_bytes)
			fe_die(fe, ret);
		goto out;
	}
	*sent = hdr;
out:
	close_fds(made, nmade);
	free(buf);
	return ret;
}

int fe_send_raw(struct fe *fe, const void *buf, size_t len, const int *fds,
		unsigned int nfds, const struct fe_bend *b)
{
	struct chan_chunk chunks[64];
	unsigned int nchunks = 1, fds_chunk = 0, i;
	size_t at = 0, sent = 0;
	struct vhost_user_msg tm;
	char text[512];
	int ret;

	if (fe->dead)
		return fe_dead(fe);
	if (nfds > CHAN_MAX_FDS || !len)
		return fe_fail(fe, -EINVAL, "raw send: %zu bytes, %u fds", len,
			       nfds);
	if (b && b->ncuts) {
		if (b->ncuts >= ARRAY_SIZE(chunks))
			return fe_fail(fe, -EINVAL, "raw send: too many cuts");
		for (i = 0; i < b->ncuts; i++)
			if (!b->cuts[i] || b->cuts[i] >= len ||
			    (i && b->cuts[i] <= b->cuts[i - 1]))
				return fe_fail(fe, -EINVAL,
					       "raw send: cut %u at %zu is not "
					       "inside the %zu bytes, in order",
					       i, b->cuts[i], len);
		nchunks = b->ncuts + 1;
		fds_chunk = VUC_MIN(b->fds_chunk, nchunks - 1);
	}
	for (i = 0; i < nchunks; i++) {
		size_t end = i < nchunks - 1 ? b->cuts[i] : len;

		chunks[i] = (struct chan_chunk){
			.buf = (const uint8_t *)buf + at,
			.len = end - at,
			.fds = i == fds_chunk ? fds : NULL,
			.nfds = i == fds_chunk ? nfds : 0,
			.delay_ms = i && b ? b->delay_ms : 0,
		};
		at = end;
	}
	if (fe->trace.fn) {
		/* decode the first message in the bytes, if one is there */
		if (vhost_user_parse(&tm, buf, len, NULL) > 0) {
			int n = vhost_user_describe(&tm,
						    VHOST_USER_FROM_FRONTEND,
						    text, sizeof(text));

			if (n > 0 && (size_t)n < sizeof(text) &&
			    len != VHOST_USER_HDR_SIZE + tm.hdr.size)
				snprintf(text + n, sizeof(text) - (size_t)n,
					 " (raw, %zu bytes in all)", len);
		} else {
			snprintf(text, sizeof(text), "raw %zu bytes", len);
		}
		trace_raw(fe, FE_TRACE_SEND, FE_TRACE_MAIN, text, buf, len, fds,
			  nfds, b ? b->cuts : NULL, nchunks - 1, fds_chunk);
	}
	ret = chan_send_progress(fe->fd, chunks, nchunks, step_deadline(fe, b),
				 &sent);
	if (ret < 0) {
		fe_fail(fe, ret, "raw send: %s after %zu of %zu bytes",
			strerror(-ret), sent, len);
		if (ret == -EPIPE || ret == -ECONNRESET)
			return fe_die(fe, -ECONNRESET);
	}
	return ret;
}

/* ---- Receiving -------------------------------------------------------- */

/*
 * Wait until the main socket has something (or hangs up), serving the
 * back-end channel meanwhile. Return: 0 readable, -ETIMEDOUT.
 */
static int wait_main(struct fe *fe, int64_t deadline)
{
	for (;;) {
		struct pollfd p[2] = {
			{ .fd = fe->fd, .events = POLLIN },
			{ .fd = fe->backend_fd, .events = POLLIN },
		};
		int n = fe->backend_fd >= 0 ? 2 : 1;
		int ret;

		ret = poll(p, (nfds_t)n, chan_remaining_ms(deadline));
		if (ret < 0 && errno == EINTR)
			continue;
		if (ret < 0)
			return -errno;
		if (p[0].revents)
			return 0;
		if (n == 2 && p[1].revents) {
			/* a back-end may wait for our answer there before
			 * it replies here */
			fe_backend_poll(fe, 0);
			continue;
		}
		if (!ret)
			return -ETIMEDOUT;
	}
}

/* Receive one message on the main socket, trace it; dies on a broken
 * stream. @what names the exchange for the reason. */
static int recv_main(struct fe *fe, struct vhost_user_msg *m, int64_t deadline,
		     const char *what)
{
	struct frame_info info;
	const char *why = NULL;
	int ret;

	ret = wait_main(fe, deadline);
	if (ret == -ETIMEDOUT)
		return fe_fail(fe, ret, "%s: no reply in time", what);
	if (ret < 0)
		return fe_fail(fe, ret, "%s: poll: %s", what, strerror(-ret));
	memset(&info, 0, sizeof(info));
	vhost_user_msg_init(m);
	ret = frame_vhost_recv(fe->fd, m, deadline, &why, &info);
	if (ret >= 0) {
		fe_trace_msg(fe, FE_TRACE_RECV, FE_TRACE_MAIN,
			     VHOST_USER_FROM_FRONTEND, m, NULL, 0, 0);
		return ret;
	}
	switch (ret) {
	case -ECONNRESET:
		if (info.hdr.got || info.payload.got)
			fe_fail(fe, ret,
				"%s: back-end hung up mid-message after %zu "
				"bytes",
				what, info.hdr.got + info.payload.got);
		else
			fe_fail(fe, ret, "%s: back-end hung up", what);
		return fe_die(fe, ret);
	case -ETIMEDOUT:
		fe_fail(fe, ret,
			"%s: message cut short: %zu bytes, then "
			"nothing",
			what, info.hdr.got + info.payload.got);
		return fe_die(fe, ret);
	case -EMSGSIZE:
		if (!info.fds_dropped) {
			/* frame_vhost_recv() read the header only */
			fe_fail(fe, ret,
				"%s: a message announces a payload larger than "
				"any message holds (%u bytes): the stream is "
				"out of step",
				what, VHOST_USER_PAYLOAD_MAX);
			return fe_die(fe, ret);
		}
		fe_trace_msg(fe, FE_TRACE_RECV, FE_TRACE_MAIN,
			     VHOST_USER_FROM_FRONTEND, m, NULL, 0, 0);
		return fe_fail(fe, ret, "%s: %u fds came, more than %u (%s)",
			       what, info.hdr.fds_seen + info.payload.fds_seen,
			       VHOST_USER_MAX_FDS, why ? why : "dropped");
	default:
		fe_fail(fe, ret, "%s: receive: %s%s%s", what, strerror(-ret),
			why ? ": " : "", why ? why : "");
		if (info.hdr.got || info.payload.got)
			fe_die(fe, ret);
		return ret;
	}
}

int fe_recv(struct fe *fe, struct vhost_user_msg *m, int timeout_ms)
{
	if (fe->dead)
		return fe_dead(fe);
	return recv_main(fe, m, chan_deadline(timeout_ms), "receive");
}

/* Something arrived though nothing was asked: read it, report it. */
static int unsolicited(struct fe *fe, const char *before)
{
	struct vhost_user_msg m;
	int ret;

	ret = recv_main(fe, &m, chan_deadline(fe->timeout_ms), before);
	if (ret < 0)
		return ret;
	close_fds(m.fds, m.nfds);
	return fe_fail(fe, -EPROTO,
		       "%s: the back-end sent %s (flags 0x%x, %u bytes) that "
		       "answers no request",
		       before, req_name(m.hdr.request), m.hdr.flags,
		       m.hdr.size);
}

int fe_expect_quiet(struct fe *fe, int timeout_ms)
{
	int ret;

	if (fe->dead)
		return fe_dead(fe);
	ret = wait_main(fe, chan_deadline(timeout_ms));
	if (ret == -ETIMEDOUT)
		return 0;
	if (ret < 0)
		return fe_fail(fe, ret, "poll: %s", strerror(-ret));
	ret = chan_poll(fe->fd, chan_deadline(0));
	if (ret > 0 && !(ret & CHAN_POLL_DATA)) {
		fe_fail(fe, -ECONNRESET, "back-end hung up");
		return fe_die(fe, -ECONNRESET);
	}
	return unsolicited(fe, "while quiet");
}

/* ---- Requests --------------------------------------------------------- */

static bool proto_has(const struct fe *fe, unsigned int bit)
{
	return fe->proto_set && (fe->proto >> bit & 1);
}

/* Is the reply to @hdr only an ack that need_reply asked for? */
static bool reply_is_ack(const struct fe *fe, const struct vhost_user_hdr *hdr)
{
	const struct vhost_user_rule *r;

	r = vhost_user_rule_find(VHOST_USER_FROM_FRONTEND, hdr->request);
	if (!r)
		return false;
	if (r->reply == VHOST_USER_REPLY_IF_ACKED)
		return true;
	return r->reply == VHOST_USER_REPLY_IF_FEATURE &&
	       !proto_has(fe, r->reply_feature);
}

int fe_request(struct fe *fe, struct vhost_user_msg *req,
	       const struct fe_bend *b, struct vhost_user_msg *reply)
{
	enum fe_reply_mode mode = b ? b->reply : FE_REPLY_AUTO;
	int64_t deadline = step_deadline(fe, b);
	struct vhost_user_hdr sent;
	struct vhost_user_msg r;
	const char *why = NULL;
	char what[96];
	int ret, expect;
	uint64_t ack;

	if (reply)
		vhost_user_msg_init(reply);
	if (fe->dead)
		return fe_dead(fe);
	snprintf(what, sizeof(what), "%s", req_name(req->hdr.request));

	/* REPLY_ACK: "the sender ... can set the need_reply flag to any
	 * command"; we set it where it is the only way to hear back */
	if (fe->reply_ack && proto_has(fe, VHOST_USER_PROTOCOL_F_REPLY_ACK) &&
	    reply_is_ack(fe, &req->hdr))
		req->hdr.flags |= VHOST_USER_NEED_REPLY_MASK;

	/* a message waiting now answers nothing we said */
	ret = chan_poll(fe->fd, chan_deadline(0));
	if (ret > 0 && (ret & CHAN_POLL_DATA))
		return unsolicited(fe, what);

	ret = send_bent(fe, req, b, &sent, deadline);
	if (ret < 0)
		return ret;

	if (mode == FE_REPLY_NONE)
		return 0;
	expect = vhost_user_reply_expected(VHOST_USER_FROM_FRONTEND, &sent,
					   fe->proto_set ? fe->proto : 0);
	if (mode != FE_REPLY_WAIT && expect != 1)
		return 0;

	ret = recv_main(fe, &r, deadline, what);
	if (ret < 0)
		return ret;
	ret = vhost_user_check_reply(VHOST_USER_FROM_FRONTEND, &sent, &r, &why);
	if (ret < 0) {
		close_fds(r.fds, r.nfds);
		return fe_fail(fe, ret, "reply to %s: %s", what,
			       why ? why : "breaks a rule");
	}
	if (ret > 0) {
		char note[320];

		snprintf(note, sizeof(note), "warning: reply to %s: %s", what,
			 why ? why : "suspicious");
		fe_trace_note(&fe->trace, FE_TRACE_MAIN, note);
	}
	if ((sent.flags & VHOST_USER_NEED_REPLY_MASK) &&
	    reply_is_ack(fe, &sent) && r.hdr.size == 8 &&
	    !vhost_user_get_u64(&r, &ack, NULL) && ack) {
		close_fds(r.fds, r.nfds);
		return fe_fail(fe, -EPROTO,
			       "%s: the back-end acked with %llu (failure)",
			       what, (unsigned long long)ack);
	}
	if (reply)
		*reply = r;
	else
		close_fds(r.fds, r.nfds);
	return (int)r.hdr.size;
}

/* fe_request() that wants a u64 reply. */
static int request_u64(struct fe *fe, struct vhost_user_msg *m,
		       const struct fe_bend *b, uint64_t *v)
{
	struct vhost_user_msg r;
	const char *why = NULL;
	int ret;

	ret = fe_request(fe, m, b, &r);
	if (ret < 0)
		return ret;
	close_fds(r.fds, r.nfds);
	if (b && b->reply == FE_REPLY_NONE)
		return 0;
	ret = vhost_user_get_u64(&r, v, &why);
	if (ret < 0)
		return fe_fail(fe, ret, "reply to %s: %s",
			       req_name(m->hdr.request), why);
	return 0;
}

/* ---- Steps ------------------------------------------------------------ */

static int simple(struct fe *fe, uint32_t code, const struct fe_bend *b)
{
	struct vhost_user_msg m;

	vhost_user_build_empty(&m, code);
	return zero_or_err(fe_request(fe, &m, b, NULL));
}

static int simple_u64(struct fe *fe, uint32_t code, uint64_t v,
		      const struct fe_bend *b)
{
	struct vhost_user_msg m;

	vhost_user_build_u64(&m, code, v);
	return zero_or_err(fe_request(fe, &m, b, NULL));
}

static int get_u64(struct fe *fe, uint32_t code, uint64_t *v,
		   const struct fe_bend *b)
{
	struct vhost_user_msg m;
	uint64_t tmp = 0;
	int ret;

	vhost_user_build_empty(&m, code);
	ret = request_u64(fe, &m, b, &tmp);
	if (ret >= 0 && v)
		*v = tmp;
	return ret;
}

int fe_get_features(struct fe *fe, uint64_t *features, const struct fe_bend *b)
{
	uint64_t v = 0;
	int ret = get_u64(fe, VHOST_USER_GET_FEATURES, &v, b);

	if (ret >= 0) {
		fe->features_offered = v;
		if (features)
			*features = v;
	}
	return ret;
}

int fe_set_features(struct fe *fe, uint64_t features, const struct fe_bend *b)
{
	int ret = simple_u64(fe, VHOST_USER_SET_FEATURES, features, b);

	if (ret >= 0)
		fe->features = features;
	return ret;
}

int fe_get_protocol_features(struct fe *fe, uint64_t *proto,
			     const struct fe_bend *b)
{
	uint64_t v = 0;
	int ret = get_u64(fe, VHOST_USER_GET_PROTOCOL_FEATURES, &v, b);

	if (ret >= 0) {
		fe->proto_offered = v;
		if (proto)
			*proto = v;
	}
	return ret;
}

int fe_set_protocol_features(struct fe *fe, uint64_t proto,
			     const struct fe_bend *b)
{
	int ret = simple_u64(fe, VHOST_USER_SET_PROTOCOL_FEATURES, proto, b);

	/* in force from the next message on, whatever the ack said */
	if (ret >= 0 || ret == -EPROTO) {
		fe->proto = proto;
		fe->proto_set = true;
	}
	return ret;
}

int fe_set_owner(struct fe *fe, const struct fe_bend *b)
{
	return simple(fe, VHOST_USER_SET_OWNER, b);
}

int fe_reset_owner(struct fe *fe, const struct fe_bend *b)
{
	return simple(fe, VHOST_USER_RESET_OWNER, b);
}

int fe_get_queue_num(struct fe *fe, uint64_t *n, const struct fe_bend *b)
{
	uint64_t v = 0;
	int ret = get_u64(fe, VHOST_USER_GET_QUEUE_NUM, &v, b);

	if (ret >= 0) {
		fe->queue_num = v;
		if (n)
			*n = v;
	}
	return ret;
}

int fe_get_max_mem_slots(struct fe *fe, uint64_t *n, const struct fe_bend *b)
{
	uint64_t v = 0;
	int ret = get_u64(fe, VHOST_USER_GET_MAX_MEM_SLOTS, &v, b);

	if (ret >= 0) {
		fe->max_mem_slots = v;
		if (n)
			*n = v;
	}
	return ret;
}

static void region_of(const struct gmem_region *g,
		      struct vhost_user_mem_region *r)
{
	r->guest_addr = g->gpa;
	r->size = g->size;
	r->user_addr = g->uaddr;
	r->mmap_offset = g->mmap_offset;
}

int fe_set_mem_table(struct fe *fe, const struct fe_bend *b)
{
	struct vhost_user_mem_region regions[VHOST_USER_MAX_MEM_REGIONS];
	int fds[VHOST_USER_MAX_MEM_REGIONS];
	struct vhost_user_msg m;
	unsigned int i, n = fe->mem->n;

	if (n > VHOST_USER_MAX_MEM_REGIONS)
		return fe_fail(fe, -EINVAL,
			       "guest memory has %u regions; SET_MEM_TABLE "
			       "carries at most %u (use ADD_MEM_REG)",
			       n, VHOST_USER_MAX_MEM_REGIONS);
	for (i = 0; i < n; i++) {
		region_of(&fe->mem->r[i], &regions[i]);
		fds[i] = fe->mem->r[i].fd;
	}
	vhost_user_build_mem_table(&m, VHOST_USER_SET_MEM_TABLE, regions, n);
	vhost_user_msg_attach_fds(&m, fds, n);
	return zero_or_err(fe_request(fe, &m, b, NULL));
}

static int mem_reg(struct fe *fe, uint32_t code, unsigned int idx,
		   const struct fe_bend *b)
{
	struct vhost_user_mem_region region;
	struct vhost_user_msg m;

	if (idx >= fe->mem->n)
		return fe_fail(fe, -EINVAL, "no guest memory region %u", idx);
	region_of(&fe->mem->r[idx], &region);
	vhost_user_build_mem_region(&m, code, &region);
	/* REM_MEM_REG: "No file descriptors SHOULD be passed" */
	if (code == VHOST_USER_ADD_MEM_REG)
		vhost_user_msg_attach_fds(&m, &fe->mem->r[idx].fd, 1);
	return zero_or_err(fe_request(fe, &m, b, NULL));
}

int fe_add_mem_reg(struct fe *fe, unsigned int idx, const struct fe_bend *b)
{
	return mem_reg(fe, VHOST_USER_ADD_MEM_REG, idx, b);
}

int fe_rem_mem_reg(struct fe *fe, unsigned int idx, const struct fe_bend *b)
{
	return mem_reg(fe, VHOST_USER_REM_MEM_REG, idx, b);
}

static int check_idx(struct fe *fe, unsigned int idx)
{
	if (idx >= FE_MAX_QUEUES)
		return fe_fail(fe, -EINVAL,
			       "queue %u: a session drives queues 0..%u (bend "
			       "the index to say more)",
			       idx, FE_MAX_QUEUES - 1);
	return 0;
}

int fe_set_vring_num(struct fe *fe, unsigned int idx, unsigned int num,
		     const struct fe_bend *b)
{
	struct vhost_user_msg m;

	vhost_user_build_vring_state(&m, VHOST_USER_SET_VRING_NUM, idx, num);
	return zero_or_err(fe_request(fe, &m, b, NULL));
}

/* The front-end virtual address of guest address @gpa. */
static uint64_t gpa_to_uva(const struct gmem *g, uint64_t gpa)
{
	unsigned int i;

	for (i = 0; i < g->n; i++)
		if (gpa >= g->r[i].gpa && gpa - g->r[i].gpa < g->r[i].size)
			return g->r[i].uaddr + (gpa - g->r[i].gpa);
	return gpa; /* not in guest memory: say it as it is */
}

int fe_set_vring_addr(struct fe *fe, unsigned int idx, bool log,
		      const struct fe_bend *b)
{
	struct vhost_user_vring_addr a = { .index = idx };
	struct vhost_user_msg m;
	struct fe_queue *q;
	int ret = check_idx(fe, idx);

	if (ret < 0)
		return ret;
	q = &fe->q[idx];
	if (!q->ready)
		return fe_fail(fe, -EINVAL,
			       "queue %u is not laid out (fe_queue_setup())",
			       idx);
	if (q->layout == FE_SPLIT) {
		a.desc = gpa_to_uva(fe->mem, q->split.desc_gpa);
		a.avail = gpa_to_uva(fe->mem, q->split.avail_gpa);
		a.used = gpa_to_uva(fe->mem, q->split.used_gpa);
		a.log = q->split.used_gpa;
	} else {
		/* packed: descriptor ring, driver area, device area */
		a.desc = gpa_to_uva(fe->mem, q->packed.desc_gpa);
		a.avail = gpa_to_uva(fe->mem, q->packed.driver_gpa);
		a.used = gpa_to_uva(fe->mem, q->packed.device_gpa);
		a.log = q->packed.device_gpa;
	}
	if (log)
		a.flags = VHOST_USER_VRING_F_LOG_MASK;
	vhost_user_build_vring_addr(&m, VHOST_USER_SET_VRING_ADDR, &a);
	return zero_or_err(fe_request(fe, &m, b, NULL));
}

int fe_set_vring_base(struct fe *fe, unsigned int idx, uint32_t base,
		      const struct fe_bend *b)
{
	struct vhost_user_msg m;

	vhost_user_build_vring_state(&m, VHOST_USER_SET_VRING_BASE, idx, base);
	return zero_or_err(fe_request(fe, &m, b, NULL));
}

int fe_get_vring_base(struct fe *fe, unsigned int idx, uint32_t *base,
		      const struct fe_bend *b)
{
	struct vhost_user_vring_state s;
	struct vhost_user_msg m, r;
	const char *why = NULL;
	int ret;

	/* "The request payload's num field is currently reserved and must
	 * be set to 0." */
	vhost_user_build_vring_state(&m, VHOST_USER_GET_VRING_BASE, idx, 0);
	ret = fe_request(fe, &m, b, &r);
	if (ret < 0)
		return ret;
	close_fds(r.fds, r.nfds);
	if (b && b->reply == FE_REPLY_NONE)
		return 0;
	ret = vhost_user_get_vring_state(&r, &s, &why);
	if (ret < 0)
		return fe_fail(fe, ret, "reply to GET_VRING_BASE: %s", why);
	if (s.index != idx) {
		char note[128];

		snprintf(note, sizeof(note),
			 "warning: GET_VRING_BASE for vring %u answered for "
			 "vring %u",
			 idx, s.index);
		fe_trace_note(&fe->trace, FE_TRACE_MAIN, note);
	}
	if (idx < FE_MAX_QUEUES) {
		fe->q[idx].base = s.num;
		fe->q[idx].started = false;
	}
	if (base)
		*base = s.num;
	return 0;
}

/* SET_VRING_KICK / CALL / ERR with the queue's own eventfd in @slot. */
static int vring_fd(struct fe *fe, uint32_t code, unsigned int idx, bool nofd,
		    int *slot, const struct fe_bend *b)
{
	struct vhost_user_msg m;
	int ret = check_idx(fe, idx);

	if (ret < 0)
		return ret;
	if (!nofd && *slot < 0) {
		*slot = fdzoo_eventfd(0, EFD_NONBLOCK);
		if (*slot < 0)
			return fe_fail(fe, *slot, "eventfd: %s",
				       strerror(-*slot));
	}
	vhost_user_build_u64(&m, code,
			     (idx & VHOST_USER_VRING_IDX_MASK) |
				     (nofd ? VHOST_USER_VRING_NOFD_MASK : 0));
	if (!nofd)
		vhost_user_msg_attach_fds(&m, slot, 1);
	return zero_or_err(fe_request(fe, &m, b, NULL));
}

int fe_set_vring_kick(struct fe *fe, unsigned int idx, bool nofd,
		      const struct fe_bend *b)
{
	int ret;

	if (check_idx(fe, idx) < 0)
		return -EINVAL;
	ret = vring_fd(fe, VHOST_USER_SET_VRING_KICK, idx, nofd,
		       &fe->q[idx].kick_fd, b);
	if (ret >= 0)
		fe->q[idx].started = true;
	return ret;
}

int fe_set_vring_call(struct fe *fe, unsigned int idx, bool nofd,
		      const struct fe_bend *b)
{
	if (check_idx(fe, idx) < 0)
		return -EINVAL;
	return vring_fd(fe, VHOST_USER_SET_VRING_CALL, idx, nofd,
			&fe->q[idx].call_fd, b);
}

int fe_set_vring_err(struct fe *fe, unsigned int idx, bool nofd,
		     const struct fe_bend *b)
{
	if (check_idx(fe, idx) < 0)
		return -EINVAL;
	return vring_fd(fe, VHOST_USER_SET_VRING_ERR, idx, nofd,
			&fe->q[idx].err_fd, b);
}

int fe_set_vring_enable(struct fe *fe, unsigned int idx, bool enable,
			const struct fe_bend *b)
{
	struct vhost_user_msg m;
	int ret;

	vhost_user_build_vring_state(&m, VHOST_USER_SET_VRING_ENABLE, idx,
				     enable);
	ret = fe_request(fe, &m, b, NULL);
	if (ret >= 0 && idx < FE_MAX_QUEUES)
		fe->q[idx].enabled = enable;
	return zero_or_err(ret);
}

int fe_get_config(struct fe *fe, uint32_t offset, uint32_t size, uint32_t flags,
		  void *buf, const struct fe_bend *b)
{
	struct vhost_user_config c;
	struct vhost_user_msg m, r;
	const char *why = NULL;
	int ret;

	if (size > VHOST_USER_MAX_CONFIG_SIZE)
		return fe_fail(fe, -EINVAL,
			       "GET_CONFIG of %u bytes: at most %u", size,
			       VHOST_USER_MAX_CONFIG_SIZE);
	vhost_user_build_config(&m, VHOST_USER_GET_CONFIG, offset, size, flags,
				NULL);
	ret = fe_request(fe, &m, b, &r);
	if (ret < 0)
		return ret;
	close_fds(r.fds, r.nfds);
	if (b && b->reply == FE_REPLY_NONE)
		return 0;
	/* "uses zero length of payload to indicate an error" */
	if (!r.hdr.size)
		return fe_fail(fe, -EPROTO,
			       "GET_CONFIG: the back-end answered with an "
			       "empty payload (its error)");
	ret = vhost_user_get_config(&r, &c, &why);
	if (ret < 0)
		return fe_fail(fe, ret, "reply to GET_CONFIG: %s", why);
	if (buf)
		memcpy(buf, c.data, VUC_MIN(size, c.size));
	return (int)c.size;
}

int fe_set_config(struct fe *fe, uint32_t offset, uint32_t size, uint32_t flags,
		  const void *data, const struct fe_bend *b)
{
	struct vhost_user_msg m;

	if (vhost_user_build_config(&m, VHOST_USER_SET_CONFIG, offset, size,
				    flags, data) < 0)
		return fe_fail(fe, -EINVAL,
			       "SET_CONFIG of %u bytes: at most %u", size,
			       VHOST_USER_MAX_CONFIG_SIZE);
	return zero_or_err(fe_request(fe, &m, b, NULL));
}

int fe_set_log_base(struct fe *fe, uint64_t size, const struct fe_bend *b)
{
	struct vhost_user_msg m;
	unsigned int i;
	void *p;
	int fd, ret;

	if (!size) {
		/* "The log covers from address 0 to the maximum of guest
		 * regions": one bit per page */
		uint64_t top = 0, pages;

		for (i = 0; i < fe->mem->n; i++)
			top = VUC_MAX(top,
				      fe->mem->r[i].gpa + fe->mem->r[i].size);
		pages = (top + VHOST_LOG_PAGE - 1) / VHOST_LOG_PAGE;
		size = (pages + 7) / 8;
		size = (size + 4095) & ~(uint64_t)4095;
		if (!size)
			size = 4096;
	}
	if (size > (1ull << 30))
		return fe_fail(fe, -EINVAL, "a log of %llu bytes is too big",
			       (unsigned long long)size);
	fd = fdzoo_memfd((size_t)size, 0);
	if (fd < 0)
		return fe_fail(fe, fd, "log memfd: %s", strerror(-fd));
	p = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		ret = -errno;
		close_fd(&fd);
		return fe_fail(fe, ret, "log mmap: %s", strerror(-ret));
	}
	vhost_user_build_log(&m, VHOST_USER_SET_LOG_BASE, size, 0);
	vhost_user_msg_attach_fds(&m, &fd, 1);
	ret = fe_request(fe, &m, b, NULL);
	if (ret < 0) {
		munmap(p, (size_t)size);
		close_fd(&fd);
		return ret;
	}
	log_drop(fe);
	fe->log_fd = fd;
	fe->log = p;
	fe->log_size = size;
	return 0;
}

int fe_set_log_fd(struct fe *fe, const struct fe_bend *b)
{
	struct vhost_user_msg m;
	int fd = fdzoo_eventfd(0, EFD_NONBLOCK), ret;

	if (fd < 0)
		return fe_fail(fe, fd, "eventfd: %s", strerror(-fd));
	vhost_user_build_empty(&m, VHOST_USER_SET_LOG_FD);
	vhost_user_msg_attach_fds(&m, &fd, 1);
	ret = fe_request(fe, &m, b, NULL);
	zoo_keep(fe, fd); /* kept: the back-end may signal it */
	return zero_or_err(ret);
}

int fe_log_dirty(const struct fe *fe, uint64_t gpa)
{
	uint64_t page = gpa / VHOST_LOG_PAGE;

	if (!fe->log || page / 8 >= fe->log_size)
		return -EINVAL;
	return __atomic_load_n(&fe->log[page / 8], __ATOMIC_RELAXED) >>
		       (page % 8) &
	       1;
}

void fe_log_clear(struct fe *fe)
{
	if (fe->log)
		memset(fe->log, 0, fe->log_size);
}

int fe_get_inflight_fd(struct fe *fe, uint16_t num_queues, uint16_t queue_size,
		       const struct fe_bend *b)
{
	struct vhost_user_inflight in;
	struct vhost_user_msg m, r;
	const char *why = NULL;
	struct stat st;
	void *p = NULL;
	int ret;

	vhost_user_build_inflight(&m, VHOST_USER_GET_INFLIGHT_FD, 0, 0,
				  num_queues, queue_size);
	ret = fe_request(fe, &m, b, &r);
	if (ret < 0)
		return ret;
	if (b && b->reply == FE_REPLY_NONE)
		return 0;
	ret = vhost_user_get_inflight(&r, &in, &why);
	if (ret < 0) {
		fe_fail(fe, ret, "reply to GET_INFLIGHT_FD: %s", why);
		goto fail;
	}
	if (in.mmap_size) {
		if (r.nfds != 1) {
			ret = fe_fail(fe, -EBADMSG,
				      "GET_INFLIGHT_FD: %llu bytes but %u fds",
				      (unsigned long long)in.mmap_size, r.nfds);
			goto fail;
		}
		if (in.mmap_size > FE_INFLIGHT_MAX ||
		    in.mmap_offset > FE_INFLIGHT_MAX) {
			ret = fe_fail(fe, -EBADMSG,
				      "GET_INFLIGHT_FD: mmap_size %llu at "
				      "offset %llu is past any sane area",
				      (unsigned long long)in.mmap_size,
				      (unsigned long long)in.mmap_offset);
			goto fail;
		}
		/* a file shorter than the area would SIGBUS us on access */
		if (fstat(r.fds[0], &st) < 0 ||
		    (S_ISREG(st.st_mode) &&
		     (uint64_t)st.st_size < in.mmap_offset + in.mmap_size)) {
			ret = fe_fail(fe, -EBADMSG,
				      "GET_INFLIGHT_FD: the fd holds less than "
				      "offset %llu + size %llu",
				      (unsigned long long)in.mmap_offset,
				      (unsigned long long)in.mmap_size);
			goto fail;
		}
		p = mmap(NULL, (size_t)in.mmap_size, PROT_READ | PROT_WRITE,
			 MAP_SHARED, r.fds[0], (off_t)in.mmap_offset);
		if (p == MAP_FAILED) {
			ret = -errno;
			fe_fail(fe, ret,
				"GET_INFLIGHT_FD: mmap of the area: %s",
				strerror(-ret));
			goto fail;
		}
	}
	inflight_drop(fe);
	fe->inflight = in;
	fe->inflight_map = p;
	fe->inflight_fd = r.nfds ? r.fds[0] : -1;
	return 0;
fail:
	close_fds(r.fds, r.nfds);
	return ret;
}

int fe_set_inflight_fd(struct fe *fe, const struct fe_bend *b)
{
	struct vhost_user_msg m;

	vhost_user_build_inflight(
		&m, VHOST_USER_SET_INFLIGHT_FD, fe->inflight.mmap_size,
		fe->inflight.mmap_offset, fe->inflight.num_queues,
		fe->inflight.queue_size);
	if (fe->inflight_fd >= 0)
		vhost_user_msg_attach_fds(&m, &fe->inflight_fd, 1);
	return zero_or_err(fe_request(fe, &m, b, NULL));
}

int fe_set_status(struct fe *fe, uint8_t status, const struct fe_bend *b)
{
	return simple_u64(fe, VHOST_USER_SET_STATUS, status, b);
}

int fe_get_status(struct fe *fe, uint8_t *status, const struct fe_bend *b)
{
	uint64_t v = 0;
	int ret = get_u64(fe, VHOST_USER_GET_STATUS, &v, b);

	if (ret < 0)
		return ret;
	if (v > 0xff)
		return fe_fail(fe, -EBADMSG,
			       "GET_STATUS: 0x%llx does not fit the 8-bit "
			       "device status",
			       (unsigned long long)v);
	if (status)
		*status = (uint8_t)v;
	return 0;
}

int fe_reset_device(struct fe *fe, const struct fe_bend *b)
{
	return simple(fe, VHOST_USER_RESET_DEVICE, b);
}

int fe_set_backend_req_fd(struct fe *fe, const struct fe_bend *b)
{
	struct vhost_user_msg m;
	int sv[2], ret;

	ret = sock_pair(sv);
	if (ret < 0)
		return fe_fail(fe, ret, "socketpair: %s", strerror(-ret));
	vhost_user_build_empty(&m, VHOST_USER_SET_BACKEND_REQ_FD);
	vhost_user_msg_attach_fds(&m, &sv[1], 1);
	if (fe->backend_fd >= 0)
		fe_backend_close(fe, "replaced by a new channel");
	/* ours before the request goes: the back-end may use it at once */
	fe->backend_fd = sv[0];
	ret = fe_request(fe, &m, b, NULL);
	close_fd(&sv[1]);
	return zero_or_err(ret);
}

int fe_set_device_state_fd(struct fe *fe, uint32_t direction, uint32_t phase,
			   const struct fe_bend *b)
{
	struct vhost_user_msg m, r;
	const char *why = NULL;
	uint64_t v = 0;
	int p[2], ours, theirs, ret;

	ret = fdzoo_pipe(p, 0);
	if (ret < 0)
		return fe_fail(fe, ret, "pipe: %s", strerror(-ret));
	/* SAVE: the back-end writes, we read; LOAD: the other way */
	ours = direction == VHOST_USER_TRANSFER_STATE_DIRECTION_SAVE ? p[0]
								     : p[1];
	theirs = ours == p[0] ? p[1] : p[0];
	vhost_user_build_device_state(&m, VHOST_USER_SET_DEVICE_STATE_FD,
				      direction, phase);
	vhost_user_msg_attach_fds(&m, &theirs, 1);
	ret = fe_request(fe, &m, b, &r);
	close_fd(&theirs);
	if (ret < 0 || (b && b->reply == FE_REPLY_NONE)) {
		if (ret >= 0)
			goto keep; /* no answer awaited: use our pipe */
		close_fd(&ours);
		return ret;
	}
	ret = vhost_user_get_u64(&r, &v, &why);
	if (ret < 0) {
		close_fds(r.fds, r.nfds);
		close_fd(&ours);
		return fe_fail(fe, ret, "reply to SET_DEVICE_STATE_FD: %s",
			       why);
	}
	if (v & VHOST_USER_DEVICE_STATE_STATUS_MASK) {
		close_fds(r.fds, r.nfds);
		close_fd(&ours);
		return fe_fail(fe, -EPROTO,
			       "SET_DEVICE_STATE_FD: the back-end refused "
			       "(status 0x%llx)",
			       (unsigned long long)v);
	}
	if (!(v & VHOST_USER_VRING_NOFD_MASK) && r.nfds == 1) {
		/* "the front-end must use the returned file descriptor" */
		close_fd(&ours);
		ours = r.fds[0];
	}
keep:
	close_fd(&fe->state_fd);
	fe->state_fd = ours;
	fe->state_direction = direction;
	return 0;
}

/* write() to a pipe whose reader is gone raises SIGPIPE: block it around
 * the write and swallow the one that came. */
static ssize_t write_nosig(int fd, const void *buf, size_t len)
{
	sigset_t set, old;
	struct timespec zero = { 0, 0 };
	ssize_t n;
	int saved;

	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &set, &old);
	n = write(fd, buf, len);
	saved = errno;
	if (n < 0 && errno == EPIPE)
		while (sigtimedwait(&set, NULL, &zero) < 0 && errno == EINTR)
			;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	errno = saved;
	return n;
}

int fe_transfer_device_state(struct fe *fe, const void *data, size_t len,
			     int timeout_ms)
{
	int64_t deadline = chan_deadline(timeout_ms);
	bool save =
		fe->state_direction == VHOST_USER_TRANSFER_STATE_DIRECTION_SAVE;
	size_t done = 0, cap = 0;
	int ret = 0, fl;

	if (fe->state_fd < 0)
		return fe_fail(fe, -EBADF, "no device state channel open");
	fl = fcntl(fe->state_fd, F_GETFL);
	if (fl >= 0)
		fcntl(fe->state_fd, F_SETFL, fl | O_NONBLOCK);
	if (save) {
		free(fe->state_buf);
		fe->state_buf = NULL;
		fe->state_len = 0;
	}
	for (;;) {
		struct pollfd p = { .fd = fe->state_fd,
				    .events = save ? POLLIN : POLLOUT };
		ssize_t n;

		if (!save && done == len)
			break;
		ret = poll(&p, 1, chan_remaining_ms(deadline));
		if (ret < 0 && errno == EINTR)
			continue;
		if (ret < 0) {
			ret = fe_fail(fe, -errno, "device state: poll: %s",
				      strerror(errno));
			goto out;
		}
		if (!ret) {
			ret = fe_fail(fe, -ETIMEDOUT,
				      "device state: %zu bytes moved, then "
				      "nothing (no EOF)",
				      done);
			goto out;
		}
		if (save) {
			if (cap - done < 65536) {
				uint8_t *nb;

				if (cap >= FE_STATE_MAX) {
					ret = fe_fail(fe, -EFBIG,
						      "device state: more than "
						      "%u bytes",
						      FE_STATE_MAX);
					goto out;
				}
				nb = realloc(fe->state_buf, cap + 65536);
				if (!nb) {
					ret = fe_fail(
						fe, -ENOMEM,
						"device state: no memory");
					goto out;
				}
				fe->state_buf = nb;
				cap += 65536;
			}
			n = read(fe->state_fd, fe->state_buf + done,
				 cap - done);
			if (!n)
				break; /* EOF: "signalling the end of data" */
		} else {
			n = write_nosig(fe->state_fd,
					(const uint8_t *)data + done,
					len - done);
		}
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n < 0) {
			ret = fe_fail(fe, -errno,
				      "device state: %s after %zu bytes",
				      strerror(errno), done);
			goto out;
		}
		done += (size_t)n;
		if (save)
			fe->state_len = done;
	}
	ret = (int)VUC_MIN(done, (size_t)INT32_MAX);
out:
	/* closing our end ends the transfer (LOAD) or is done with it */
	close_fd(&fe->state_fd);
	return ret;
}

int fe_check_device_state(struct fe *fe, uint64_t *result,
			  const struct fe_bend *b)
{
	uint64_t v = 0;
	int ret = get_u64(fe, VHOST_USER_CHECK_DEVICE_STATE, &v, b);

	if (ret < 0)
		return ret;
	if (result)
		*result = v;
	if (v)
		return fe_fail(fe, -EPROTO,
			       "CHECK_DEVICE_STATE: the back-end reports %llu "
			       "(failure)",
			       (unsigned long long)v);
	return 0;
}

/* ---- Composites ------------------------------------------------------- */

int fe_negotiate(struct fe *fe, uint64_t features, uint64_t proto)
{
	const uint64_t pf = UINT64_C(1) << VHOST_USER_F_PROTOCOL_FEATURES;
	uint64_t offered = 0, poffered = 0, want;
	int ret;

	ret = fe_set_owner(fe, NULL);
	if (ret < 0)
		return ret;
	ret = fe_get_features(fe, &offered, NULL);
	if (ret < 0)
		return ret;
	want = offered & features & ~pf;
	if (offered & pf) {
		ret = fe_get_protocol_features(fe, &poffered, NULL);
		if (ret < 0)
			return ret;
		ret = fe_set_protocol_features(fe, poffered & proto, NULL);
		if (ret < 0)
			return ret;
		/* the back-end must not enable rings on SET_FEATURES */
		want |= pf;
		if (proto_has(fe, VHOST_USER_PROTOCOL_F_MQ)) {
			ret = fe_get_queue_num(fe, NULL, NULL);
			if (ret < 0)
				return ret;
		}
		if (proto_has(fe, VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS)) {
			ret = fe_get_max_mem_slots(fe, NULL, NULL);
			if (ret < 0)
				return ret;
		}
		if (proto_has(fe, VHOST_USER_PROTOCOL_F_BACKEND_REQ)) {
			ret = fe_set_backend_req_fd(fe, NULL);
			if (ret < 0)
				return ret;
		}
	}
	ret = fe_set_features(fe, want, NULL);
	return ret < 0 ? ret : 0;
}

int fe_queue_setup(struct fe *fe, unsigned int idx, unsigned int num,
		   enum fe_layout layout)
{
	struct fe_queue *q;
	int ret = check_idx(fe, idx);

	if (ret < 0)
		return ret;
	q = &fe->q[idx];
	if (q->ready) {
		if (q->layout == FE_SPLIT)
			vq_split_drv_fini(&q->split);
		else
			vq_packed_drv_fini(&q->packed);
		q->ready = false;
	}
	if (layout == FE_SPLIT)
		ret = vq_split_drv_init(&q->split, fe->mem, num, fe->features,
					0);
	else
		ret = vq_packed_drv_init(&q->packed, fe->mem, num, fe->features,
					 0);
	if (ret < 0)
		return fe_fail(fe, ret, "queue %u: laying out %u entries: %s%s",
			       idx, num, strerror(-ret),
			       ret == -ENOMEM ? " (add guest memory)" : "");
	q->ready = true;
	q->layout = layout;
	q->num = num;
	return 0;
}

int fe_start_queue(struct fe *fe, unsigned int idx, unsigned int num,
		   enum fe_layout layout)
{
	int ret = check_idx(fe, idx);

	if (ret < 0)
		return ret;
	if (!fe->q[idx].ready || fe->q[idx].num != num ||
	    fe->q[idx].layout != layout) {
		ret = fe_queue_setup(fe, idx, num, layout);
		if (ret < 0)
			return ret;
	}
	ret = fe_set_vring_num(fe, idx, num, NULL);
	if (ret >= 0)
		ret = fe_set_vring_base(fe, idx, 0, NULL);
	if (ret >= 0)
		ret = fe_set_vring_addr(fe, idx, false, NULL);
	/* call before kick: a back-end may start the ring on the kick fd */
	if (ret >= 0)
		ret = fe_set_vring_call(fe, idx, false, NULL);
	if (ret >= 0)
		ret = fe_set_vring_kick(fe, idx, false, NULL);
	if (ret >= 0 && (fe->features >> VHOST_USER_F_PROTOCOL_FEATURES & 1))
		ret = fe_set_vring_enable(fe, idx, true, NULL);
	return ret < 0 ? ret : 0;
}

int fe_stop_queue(struct fe *fe, unsigned int idx, uint32_t *base)
{
	return fe_get_vring_base(fe, idx, base, NULL);
}

static struct fe_queue *ready_queue(struct fe *fe, unsigned int idx)
{
	if (check_idx(fe, idx) < 0)
		return NULL;
	if (!fe->q[idx].ready) {
		fe_fail(fe, -EINVAL, "queue %u is not laid out", idx);
		return NULL;
	}
	return &fe->q[idx];
}

int fe_queue_add(struct fe *fe, unsigned int idx, const struct vq_buf *bufs,
		 unsigned int n, uint64_t token)
{
	struct fe_queue *q = ready_queue(fe, idx);
	int ret;

	if (!q)
		return -EINVAL;
	if (q->layout == FE_SPLIT) {
		ret = vq_split_drv_add(&q->split, bufs, n, false, token);
		if (ret >= 0)
			vq_split_drv_publish(&q->split);
	} else {
		ret = vq_packed_drv_add(&q->packed, bufs, n, false, token);
		if (ret >= 0)
			vq_packed_drv_publish(&q->packed);
	}
	if (ret < 0)
		return fe_fail(fe, ret, "queue %u: add: %s", idx,
			       strerror(-ret));
	return ret;
}

int fe_kick(struct fe *fe, unsigned int idx)
{
	struct vhost_user_msg m;
	uint64_t one = 1;
	struct fe_queue *q;

	if (check_idx(fe, idx) < 0)
		return -EINVAL;
	q = &fe->q[idx];
	if (q->kick_fd >= 0) {
		char note[64];

		if (write(q->kick_fd, &one, sizeof(one)) != sizeof(one))
			return fe_fail(fe, -errno, "kick queue %u: %s", idx,
				       strerror(errno));
		snprintf(note, sizeof(note), "kick queue %u (eventfd)", idx);
		fe_trace_note(&fe->trace, FE_TRACE_MAIN, note);
		return 0;
	}
	if (proto_has(fe, VHOST_USER_PROTOCOL_F_INBAND_NOTIFICATIONS)) {
		vhost_user_build_vring_state(&m, VHOST_USER_VRING_KICK, idx, 0);
		return zero_or_err(fe_request(fe, &m, NULL, NULL));
	}
	return fe_fail(fe, -EBADF, "queue %u has no kick fd", idx);
}

/* Did a BACKEND_VRING_CALL for @idx come since request @from? */
static bool inband_call_since(const struct fe *fe, uint64_t from,
			      unsigned int idx)
{
	uint64_t s;

	for (s = from; s < fe->backend_count; s++) {
		const struct fe_backend_entry *e = fe_backend_entry(fe, s);
		uint32_t vidx;

		if (!e || e->hdr.request != VHOST_USER_BACKEND_VRING_CALL ||
		    e->payload_len < 4)
			continue;
		memcpy(&vidx, e->payload, sizeof(vidx));
		if (vidx == idx)
			return true;
	}
	return false;
}

int fe_wait_call(struct fe *fe, unsigned int idx, int timeout_ms)
{
	int64_t deadline = chan_deadline(timeout_ms);
	uint64_t from = fe->backend_count, v;
	struct fe_queue *q;

	if (check_idx(fe, idx) < 0)
		return -EINVAL;
	q = &fe->q[idx];
	if (q->call_fd < 0 && fe->backend_fd < 0)
		return fe_fail(fe, -EBADF, "queue %u has no call fd", idx);
	for (;;) {
		struct pollfd p[3] = {
			{ .fd = q->call_fd, .events = POLLIN },
			{ .fd = fe->backend_fd, .events = POLLIN },
			{ .fd = fe->fd, .events = POLLRDHUP },
		};
		int ret = poll(p, 3, chan_remaining_ms(deadline));

		if (ret < 0 && errno == EINTR)
			continue;
		if (ret < 0)
			return fe_fail(fe, -errno, "poll: %s", strerror(errno));
		if (p[0].revents & POLLIN) {
			if (read(q->call_fd, &v, sizeof(v)) == sizeof(v)) {
				char note[64];

				snprintf(note, sizeof(note),
					 "call queue %u (eventfd)", idx);
				fe_trace_note(&fe->trace, FE_TRACE_MAIN, note);
				return 0;
			}
		}
		if (p[1].revents) {
			fe_backend_poll(fe, 0);
			if (inband_call_since(fe, from, idx))
				return 0;
		}
		if (p[2].revents & (POLLRDHUP | POLLHUP)) {
			fe_fail(fe, -ECONNRESET,
				"back-end hung up while queue %u waited for a "
				"call",
				idx);
			return fe_die(fe, -ECONNRESET);
		}
		if (!ret)
			return fe_fail(fe, -ETIMEDOUT,
				       "queue %u: no call within %d ms", idx,
				       timeout_ms);
	}
}

int fe_queue_reap(struct fe *fe, unsigned int idx, uint64_t *token,
		  uint32_t *len)
{
	struct fe_queue *q = ready_queue(fe, idx);
	const char *why = NULL;
	int ret;

	if (!q)
		return -EINVAL;
	if (q->layout == FE_SPLIT)
		ret = vq_split_drv_reap(&q->split, token, len, &why);
	else
		ret = vq_packed_drv_reap(&q->packed, token, len, &why);
	if (ret < 0)
		return fe_fail(fe, ret, "queue %u: the device's used entry: %s",
			       idx, why ? why : strerror(-ret));
	return ret;
}
