// SPDX-License-Identifier: MIT
/*
 * client.c - the scripted vfio-user client (see client.h).
 *
 * Sending: a message is copied, bent as asked, cut into chunks and sent;
 * unless it carries No_reply the bytes as sent are kept as "pending", so
 * that the reply is judged against what really went out. Receiving: one
 * message at a time from whichever socket has one (main or twin); replies
 * are matched to the oldest pending command ("The server will process
 * commands in the order they are received"), server commands are served
 * at once, anything else is counted, traced and its fds closed.
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "fe/client.h"
#include "fe/frame.h"
#include "transport/chan.h"

struct client_pending {
	uint16_t id;
	bool replied;
	uint8_t *cmd; /* the bytes as sent */
	size_t cmd_len;
	unsigned int cmd_nfds;
	struct client_reply reply;
};

#define DEFAULT_TIMEOUT_MS 1000
#define DEFAULT_MAX_SERVER_REQS 1024
/* Room beyond the data for region caps, IO fd entries and the like. */
#define RECV_SLACK 65536u

/* ------------------------------------------------------------------ */
/* Errors and trace                                                    */
/* ------------------------------------------------------------------ */

static int VUC_PRINTF(3, 4)
	set_err(struct client *c, int ret, const char *fmt, ...)
{
	char note[sizeof(c->err) + 8];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->err, sizeof(c->err), fmt, ap);
	va_end(ap);
	snprintf(note, sizeof(note), "error: %s", c->err);
	fe_trace_note(&c->trace, FE_TRACE_MAIN, note);
	return ret;
}

static void VUC_PRINTF(3, 4)
	note(struct client *c, enum fe_trace_chan ch, const char *fmt, ...)
{
	char text[320];
	va_list ap;

	if (!c->trace.fn)
		return;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	fe_trace_note(&c->trace, ch, text);
}

static void trace_bytes(struct client *c, enum fe_trace_dir dir,
			enum fe_trace_chan ch, const uint8_t *bytes, size_t len,
			const int *fds, unsigned int nfds, const size_t *cuts,
			unsigned int ncuts, unsigned int fds_chunk)
{
	char text[512], fdt[512];
	struct vfio_user_msg m;
	struct fe_trace_event ev = {
		.dir = dir,
		.chan = ch,
		.text = text,
		.bytes = bytes,
		.len = len,
		.fds = fds,
		.nfds = nfds,
		.chunks = ncuts ? cuts : NULL,
		.nchunks = ncuts,
		.fds_chunk = fds_chunk,
	};

	if (!c->trace.fn)
		return;
	vfio_user_msg_init(&m);
	if (len >= VFIO_USER_HDR_SIZE) {
		vfio_user_hdr_parse(bytes, len, &m.hdr, NULL);
		m.payload = bytes + VFIO_USER_HDR_SIZE;
		m.payload_len = len - VFIO_USER_HDR_SIZE;
		m.nfds = VUC_MIN(nfds, VFIO_USER_MSG_FDS_MAX);
		vfio_user_describe(&m, text, sizeof(text));
	} else {
		snprintf(text, sizeof(text), "%zu bytes (less than a header)",
			 len);
	}
	ev.fds_text = fe_trace_fds_text(fds, nfds, fdt, sizeof(fdt));
	fe_trace_emit(&c->trace, &ev);
}

static enum fe_trace_chan chan_of(const struct client *c, int sock)
{
	return sock == c->twin_fd ? FE_TRACE_BACKEND : FE_TRACE_MAIN;
}

/* ------------------------------------------------------------------ */
/* Set-up                                                              */
/* ------------------------------------------------------------------ */

void client_caps_default(struct vfio_user_caps *caps)
{
	vfio_user_caps_init(caps);
	caps->present = VFIO_USER_CAP_OBJECT | VFIO_USER_CAP_MAX_MSG_FDS |
			VFIO_USER_CAP_MAX_DATA_XFER_SIZE |
			VFIO_USER_CAP_PGSIZES | VFIO_USER_CAP_WRITE_MULTIPLE |
			VFIO_USER_CAP_MIGRATION |
			VFIO_USER_CAP_MIGRATION_PGSIZE;
	caps->max_msg_fds = 8;
	caps->max_data_xfer_size = VFIO_USER_DEFAULT_MAX_DATA_XFER_SIZE;
	caps->pgsizes = VFIO_USER_DEFAULT_PGSIZES;
	caps->write_multiple = true;
	caps->migration_pgsize = VFIO_USER_DEFAULT_MIGRATION_PGSIZE;
}

/* The largest message we accept: our max_data_xfer_size plus room for
 * headers, caps and entries, never above CLIENT_RECV_HARD_MAX. */
static void set_recv_max(struct client *c)
{
	uint64_t x = c->proposed.max_data_xfer_size;

	if (c->opts.max_msg_size) {
		c->recv_max = VUC_MIN(c->opts.max_msg_size,
				      (size_t)CLIENT_RECV_HARD_MAX);
		return;
	}
	if (x > CLIENT_RECV_HARD_MAX)
		x = CLIENT_RECV_HARD_MAX;
	c->recv_max = VUC_MIN(VFIO_USER_MSG_SIZE_FOR_XFER(x) + RECV_SLACK,
			      (size_t)CLIENT_RECV_HARD_MAX);
}

int client_init(struct client *c, int fd, struct gmem *gmem,
		const struct client_opts *opts,
		const struct fe_trace_hook *trace)
{
	memset(c, 0, sizeof(*c));
	c->pending = calloc(CLIENT_PENDING_MAX, sizeof(*c->pending));
	if (!c->pending)
		return -ENOMEM;
	c->fd = fd;
	c->twin_fd = -1;
	c->next_id = 1;
	c->gmem = gmem;
	if (opts)
		c->opts = *opts;
	if (c->opts.timeout_ms <= 0)
		c->opts.timeout_ms = DEFAULT_TIMEOUT_MS;
	if (!c->opts.max_server_reqs)
		c->opts.max_server_reqs = DEFAULT_MAX_SERVER_REQS;
	if (trace)
		c->trace = *trace;
	vfio_user_caps_init(&c->proposed);
	vfio_user_caps_init(&c->server);
	set_recv_max(c);
	return 0;
}

void client_reply_free(struct client_reply *r)
{
	close_fds(r->msg.fds, r->msg.nfds);
	r->msg.nfds = 0;
	r->msg.payload = NULL;
	r->msg.payload_len = 0;
	free(r->buf);
	r->buf = NULL;
}

static void pending_drop(struct client *c, unsigned int i)
{
	struct client_pending *p = &c->pending[i];

	free(p->cmd);
	client_reply_free(&p->reply);
	memmove(p, p + 1, (c->npending - i - 1) * sizeof(*p));
	c->npending--;
	memset(&c->pending[c->npending], 0, sizeof(*p));
}

void client_fini(struct client *c)
{
	if (c->pending) {
		while (c->npending)
			pending_drop(c, c->npending - 1);
		free(c->pending);
		c->pending = NULL;
	}
	close_fd(&c->twin_fd);
}

const char *client_error(const struct client *c)
{
	return c->err;
}

void client_set_policy(struct client *c, const struct client_dma_policy *p)
{
	if (p)
		c->policy = *p;
	else
		memset(&c->policy, 0, sizeof(c->policy));
}

static int timeout_of(const struct client *c, const struct client_bend *b)
{
	return b && b->timeout_ms > 0 ? b->timeout_ms : c->opts.timeout_ms;
}

/* ------------------------------------------------------------------ */
/* Sending                                                             */
/* ------------------------------------------------------------------ */

/* Send @len bytes in the chunks @cuts says, @fds on chunk @fds_chunk;
 * trace them. A send that stopped half-way leaves the stream out of step:
 * the session is broken then. */
static int send_bytes(struct client *c, int sock, const uint8_t *bytes,
		      size_t len, const int *fds, unsigned int nfds,
		      const size_t *cuts, unsigned int ncuts,
		      unsigned int fds_chunk, int delay_ms, int64_t deadline)
{
	struct chan_chunk ch[CLIENT_BEND_CUTS_MAX + 1];
	size_t at = 0, sent = 0;
	unsigned int i;
	int ret;

	if (ncuts > CLIENT_BEND_CUTS_MAX || (nfds && fds_chunk > ncuts))
		return set_err(c, -EINVAL, "bend: %u cuts, fds on chunk %u",
			       ncuts, fds_chunk);
	for (i = 0; i <= ncuts; i++) {
		size_t end = i < ncuts ? cuts[i] : len;

		if (end <= at || end > len)
			return set_err(c, -EINVAL,
				       "bend: chunk cut %zu is not inside the "
				       "%zu-byte message after %zu",
				       end, len, at);
		ch[i] = (struct chan_chunk){
			.buf = bytes + at,
			.len = end - at,
			.fds = i == fds_chunk ? fds : NULL,
			.nfds = i == fds_chunk ? nfds : 0,
			.delay_ms = i ? delay_ms : 0,
		};
		at = end;
	}
	trace_bytes(c, FE_TRACE_SEND, chan_of(c, sock), bytes, len, fds, nfds,
		    cuts, ncuts, fds_chunk);
	ret = chan_send_progress(sock, ch, ncuts + 1, deadline, &sent);
	if (ret < 0) {
		if (sent && sent < len && !c->broken)
			c->broken = ret;
		if (ret == -EPIPE)
			ret = -ECONNRESET;
		return set_err(c, ret, "send of %zu bytes failed after %zu: %s",
			       len, sent, strerror(-ret));
	}
	return ret;
}

static int pending_add(struct client *c, const uint8_t *bytes, size_t len,
		       unsigned int nfds)
{
	struct client_pending *p;

	if (c->npending >= CLIENT_PENDING_MAX)
		return set_err(c, -ENOSPC, "%u commands already waiting",
			       c->npending);
	p = &c->pending[c->npending];
	memset(p, 0, sizeof(*p));
	p->cmd = malloc(len);
	if (!p->cmd)
		return -ENOMEM;
	memcpy(p->cmd, bytes, len);
	p->cmd_len = len;
	p->cmd_nfds = nfds;
	vfio_user_msg_init(&p->reply.msg);
	memcpy(&p->id, bytes, sizeof(p->id)); /* msg_id is the first u16 */
	c->npending++;
	return 0;
}

/* Make the zoo fds a bend asks for; the caller closes @fds[0..*n) and
 * @others[0..*n). */
static int make_zoo(struct client *c, const struct client_bend *b, int *fds,
		    int *others, unsigned int *n)
{
	size_t size = b->zoo_size ? b->zoo_size : 4096;
	unsigned int i;
	int fd;

	for (i = 0; i < b->nzoo && i < CLIENT_BEND_ZOO_MAX; i++) {
		fd = fdzoo_new(b->zoo[i], size, &others[i]);
		if (fd < 0)
			return set_err(c, fd, "bend: no %s fd: %s",
				       fdzoo_kind_name(b->zoo[i]),
				       strerror(-fd));
		fds[i] = fd;
		*n = i + 1;
	}
	return 0;
}

/*
 * Send @msg bent by @b, 1 + @b->repeat times. *@waits: how many replies
 * to wait for (0 with No_reply). Return: the msg_id or -errno.
 */
static int send_cmd(struct client *c, const struct vfio_user_msg *msg,
		    const struct client_bend *b, unsigned int *waits)
{
	static const struct client_bend none;
	int zfds[CLIENT_BEND_ZOO_MAX], zother[CLIENT_BEND_ZOO_MAX];
	unsigned int set, nz = 0, nfds = msg->nfds, i, times;
	size_t plen, total, hdr_len = VFIO_USER_HDR_SIZE;
	const int *fds = msg->fds;
	struct vfio_user_hdr h = msg->hdr;
	int64_t deadline;
	uint8_t *buf = NULL;
	bool no_reply;
	int ret;

	*waits = 0;
	if (!b)
		b = &none;
	set = b->set;
	if (c->broken)
		return set_err(c, c->broken, "the session is broken (%s)",
			       strerror(-c->broken));
	for (i = 0; i < CLIENT_BEND_ZOO_MAX; i++)
		zfds[i] = zother[i] = -1;
	plen = set & CLIENT_BEND_PAYLOAD_LEN ? b->payload_len
					     : msg->payload_len;
	total = plen;
	if (b->patch && b->patch_len) {
		if (b->patch_off > SIZE_MAX - b->patch_len - hdr_len)
			return set_err(c, -EINVAL, "bend: patch offset");
		total = VUC_MAX(total, b->patch_off + b->patch_len);
	}
	if (total > CLIENT_RECV_HARD_MAX * 4)
		return set_err(c, -EMSGSIZE, "bend: %zu payload bytes", total);
	buf = calloc(1, hdr_len + total);
	if (!buf)
		return -ENOMEM;
	memcpy(buf + hdr_len, msg->payload, VUC_MIN(plen, msg->payload_len));
	if (b->patch && b->patch_len)
		memcpy(buf + hdr_len + b->patch_off, b->patch, b->patch_len);

	h.msg_id = set & CLIENT_BEND_MSG_ID ? b->msg_id : c->next_id++;
	if (set & CLIENT_BEND_COMMAND)
		h.command = b->command;
	if (set & CLIENT_BEND_FLAGS)
		h.flags = b->flags;
	if (set & CLIENT_BEND_ERROR)
		h.error = b->error;
	h.msg_size = set & CLIENT_BEND_MSG_SIZE ? b->msg_size
						: (uint32_t)(hdr_len + total);
	memcpy(buf, &h, sizeof(h));

	if (set & CLIENT_BEND_FDS) {
		fds = b->fds;
		nfds = b->nfds;
	} else if (set & CLIENT_BEND_ZOO) {
		ret = make_zoo(c, b, zfds, zother, &nz);
		if (ret < 0)
			goto out;
		fds = zfds;
		nfds = nz;
	}

	no_reply = h.flags & VFIO_USER_F_NO_REPLY;
	times = 1 + b->repeat;
	deadline = chan_deadline(timeout_of(c, b));
	for (i = 0; i < times; i++) {
		if (!no_reply) {
			ret = pending_add(c, buf, hdr_len + total, nfds);
			if (ret < 0)
				goto out;
		}
		ret = send_bytes(c, c->fd, buf, hdr_len + total, fds, nfds,
				 b->cuts, b->ncuts, b->fds_chunk, b->delay_ms,
				 deadline);
		if (ret < 0) {
			if (!no_reply)
				pending_drop(c, c->npending - 1);
			goto out;
		}
		if (!no_reply)
			(*waits)++;
	}
	ret = h.msg_id;
out:
	close_fds(zfds, ARRAY_SIZE(zfds));
	close_fds(zother, ARRAY_SIZE(zother));
	free(buf);
	return ret;
}

int client_send(struct client *c, const struct vfio_user_msg *msg,
		const struct client_bend *b)
{
	unsigned int waits;

	if (b && b->skip) {
		note(c, FE_TRACE_MAIN, "skipped: %s",
		     vfio_user_command_name(msg->hdr.command));
		return 0;
	}
	return send_cmd(c, msg, b, &waits);
}

int client_send_raw(struct client *c, const void *bytes, size_t len,
		    const int *fds, unsigned int nfds,
		    const struct client_bend *b)
{
	const uint8_t *p = bytes;
	size_t at = 0;
	int ret;

	if (c->broken)
		return set_err(c, c->broken, "the session is broken");
	if (!len)
		return set_err(c, -EINVAL, "nothing to send");
	/* Register every whole command inside, so its reply is matched. */
	while (at < len) {
		struct vfio_user_msg m;

		ret = vfio_user_parse(&m, p + at, len - at, 0, NULL);
		if (ret < 0)
			break;
		if ((m.hdr.flags & VFIO_USER_F_TYPE_MASK) ==
			    VFIO_USER_F_TYPE_COMMAND &&
		    !(m.hdr.flags & VFIO_USER_F_NO_REPLY)) {
			ret = pending_add(c, p + at, (size_t)ret,
					  at ? 0 : nfds);
			if (ret < 0)
				return ret;
		}
		at += m.hdr.msg_size;
	}
	return send_bytes(c, c->fd, p, len, fds, nfds, b ? b->cuts : NULL,
			  b ? b->ncuts : 0, b ? b->fds_chunk : 0,
			  b ? b->delay_ms : 0, chan_deadline(timeout_of(c, b)));
}

/* ------------------------------------------------------------------ */
/* Receiving                                                           */
/* ------------------------------------------------------------------ */

/* One message from @sock into @r (fds owned by @r). A stream left out of
 * step (anything read, then a failure) breaks the session. */
static int recv_one(struct client *c, int sock, struct client_reply *r,
		    int64_t deadline)
{
	enum fe_trace_chan ch = chan_of(c, sock);
	struct frame_info info;
	const char *why = NULL;
	uint8_t *buf, *small;
	int ret;

	memset(r, 0, sizeof(*r));
	vfio_user_msg_init(&r->msg);
	buf = malloc(c->recv_max);
	if (!buf)
		return -ENOMEM;
	ret = frame_vfio_recv(sock, &r->msg, buf, c->recv_max, 0, deadline,
			      &why, &info);
	if (ret < 0) {
		size_t got = info.hdr.got + info.payload.got;
		struct vfio_user_hdr h = r->msg.hdr; /* set once it came */
		char what[96] = "";

		free(buf);
		vfio_user_msg_init(&r->msg);
		if (ret == -ETIMEDOUT && !got)
			return ret;
		if (info.hdr.got >= VFIO_USER_HDR_SIZE)
			snprintf(what, sizeof(what),
				 " (%s msg_id %u msg_size %u)",
				 vfio_user_command_name(h.command), h.msg_id,
				 h.msg_size);
		/* Something was read: the stream is out of step for good. */
		c->broken = ret;
		if (ret == -ECONNRESET && !got)
			return set_err(c, ret, "the server hung up (%s socket)",
				       ch == FE_TRACE_MAIN ? "main" : "twin");
		if (ret == -ECONNRESET || ret == -ETIMEDOUT)
			return set_err(c, ret,
				       "%s after %zu bytes of a message%s",
				       ret == -ETIMEDOUT ? "timed out"
							 : "the server hung up",
				       got, what);
		return set_err(c, ret, "unreadable message%s: %s", what,
			       why ? why : strerror(-ret));
	}
	if (info.fds_dropped) {
		c->stats.fds_closed += info.fds_dropped;
		note(c, ch, "%u fds beyond %u closed on arrival",
		     info.fds_dropped, VFIO_USER_MSG_FDS_MAX);
	}
	/* Keep only what came: recv_max may be megabytes. */
	small = realloc(buf, (size_t)ret);
	if (small) {
		r->msg.payload = small + VFIO_USER_HDR_SIZE;
		buf = small;
	}
	r->buf = buf;
	trace_bytes(c, FE_TRACE_RECV, ch, buf, (size_t)ret, r->msg.fds,
		    r->msg.nfds, NULL, 0, 0);
	return ret;
}

static void drop_fds(struct client *c, struct client_reply *r, const char *why)
{
	unsigned int i, n = 0;

	for (i = 0; i < r->msg.nfds; i++)
		n += r->msg.fds[i] >= 0;
	close_fds(r->msg.fds, r->msg.nfds);
	r->msg.nfds = 0;
	if (!n)
		return;
	c->stats.fds_closed += n;
	note(c, FE_TRACE_MAIN, "%u fds closed: %s", n, why);
}

/* A reply came: the oldest waiting command should be the one it answers. */
static int take_reply(struct client *c, struct client_reply *r)
{
	uint16_t id = r->msg.hdr.msg_id;
	unsigned int i, head = c->npending;
	int ret;

	for (i = 0; i < c->npending; i++) {
		if (c->pending[i].replied)
			continue;
		if (head == c->npending)
			head = i;
		if (c->pending[i].id == id)
			break;
	}
	if (i == c->npending) {
		c->stats.stray_replies++;
		drop_fds(c, r, "a reply to nothing");
		ret = set_err(c, -EPROTO,
			      "a reply (msg_id %u, %s) to no command waiting",
			      id, vfio_user_command_name(r->msg.hdr.command));
		client_reply_free(r);
		return ret;
	}
	c->pending[i].reply = *r;
	c->pending[i].replied = true;
	memset(r, 0, sizeof(*r));
	if (i != head)
		return set_err(c, -EPROTO,
			       "the reply to msg_id %u came before the reply "
			       "to msg_id %u: commands are answered in the "
			       "order they are received",
			       id, c->pending[head].id);
	return 0;
}

static int send_reply_msg(struct client *c, int sock,
			  const struct vfio_user_msg *m)
{
	uint8_t *buf;
	size_t len = VFIO_USER_HDR_SIZE + m->payload_len;
	int ret;

	buf = malloc(len);
	if (!buf)
		return -ENOMEM;
	ret = vfio_user_pack(buf, len, m);
	if (ret >= 0)
		ret = send_bytes(c, sock, buf, len, NULL, 0, NULL, 0, 0, 0,
				 chan_deadline(c->opts.timeout_ms));
	free(buf);
	return ret < 0 ? ret : 0;
}

static int send_error(struct client *c, int sock, const struct vfio_user_hdr *h,
		      uint32_t err, const char *why)
{
	struct vfio_user_msg m;
	uint8_t buf[VFIO_USER_HDR_SIZE];

	note(c, chan_of(c, sock), "refused %s msg_id %u with errno %u: %s",
	     vfio_user_command_name(h->command), h->msg_id, err, why);
	if (h->flags & VFIO_USER_F_NO_REPLY)
		return 0;
	vfio_user_build_error_reply(&m, buf, sizeof(buf), h, err);
	return send_reply_msg(c, sock, &m);
}

/* An error reply to a DMA request, counted. */
static int refuse(struct client *c, int sock, const struct vfio_user_hdr *h,
		  uint32_t err, const char *why)
{
	c->stats.dma_refused++;
	return send_error(c, sock, h, err, why);
}

static const struct client_dma *dma_find(const struct client *c, uint64_t addr,
					 uint64_t count)
{
	unsigned int i;

	for (i = 0; i < c->ndma; i++) {
		const struct client_dma *d = &c->dma[i];

		/* Written so that no sum can overflow. */
		if (addr >= d->addr && count <= d->size &&
		    addr - d->addr <= d->size - count)
			return d;
	}
	return NULL;
}

/* DMA_READ / DMA_WRITE from the server: bounds, permissions, policy. */
static int serve(struct client *c, int sock, struct client_reply *r)
{
	const struct client_dma_policy *p = &c->policy;
	const struct vfio_user_hdr *h = &r->msg.hdr;
	struct vfio_user_dma_region_access acc;
	const struct client_dma *d;
	const uint8_t *data = NULL;
	const char *why = NULL;
	struct vfio_user_msg m;
	uint64_t count;
	uint8_t *out = NULL;
	void *mem;
	int ret;

	if (h->command != VFIO_USER_DMA_READ &&
	    h->command != VFIO_USER_DMA_WRITE) {
		c->stats.server_bad++;
		drop_fds(c, r, "on a server command");
		return send_error(c, sock, h, EINVAL,
				  "a server sends only DMA_READ and DMA_WRITE");
	}
	if (p->delay_ms > 0)
		chan_sleep_until(chan_now() + (int64_t)p->delay_ms * 1000000);
	if (p->how == CLIENT_SERVE_IGNORE) {
		note(c, chan_of(c, sock), "policy: %s msg_id %u not answered",
		     vfio_user_command_name(h->command), h->msg_id);
		return 0;
	}
	if (p->how == CLIENT_SERVE_ERROR)
		return refuse(c, sock, h, p->error, "policy");
	ret = vfio_user_check_command(&r->msg, VFIO_USER_SERVER_TO_CLIENT,
				      c->opts.check_flags, &why);
	if (ret < 0) {
		drop_fds(c, r, "on a malformed server command");
		return refuse(c, sock, h, EINVAL, why ? why : "malformed");
	}
	if (vfio_user_check_xfer(&r->msg, c->proposed.max_data_xfer_size,
				 &why) < 0)
		return refuse(c, sock, h, E2BIG, why ? why : "too big");
	if (vfio_user_get_dma_access(&r->msg, &acc, &data, &why) < 0)
		return refuse(c, sock, h, EINVAL, why ? why : "malformed");
	count = acc.count;
	/* A DMA_READ is small whatever it asks for: bound our reply even if
	 * a case proposed a huge max_data_xfer_size. */
	if (count > CLIENT_RECV_HARD_MAX)
		return refuse(c, sock, h, E2BIG, "count above our limit");
	d = dma_find(c, acc.addr, count);
	if (!d)
		return refuse(c, sock, h, EFAULT,
			      "not inside one mapped DMA region");
	if (d->mode != VFIO_USER_DMA_ACCESS_MSG && !p->any_region)
		return refuse(c, sock, h, EFAULT,
			      "the region was shared with an fd: the server "
			      "accesses it directly");
	if (h->command == VFIO_USER_DMA_READ &&
	    !(d->flags & VFIO_USER_F_DMA_REGION_READ))
		return refuse(c, sock, h, EPERM, "region not readable");
	if (h->command == VFIO_USER_DMA_WRITE &&
	    !(d->flags & VFIO_USER_F_DMA_REGION_WRITE))
		return refuse(c, sock, h, EPERM, "region not writeable");
	mem = c->gmem ? gmem_gpa(c->gmem, acc.addr, count) : NULL;
	if (!mem)
		return refuse(c, sock, h, EFAULT, "not in guest memory");
	if (h->flags & VFIO_USER_F_NO_REPLY)
		note(c, chan_of(c, sock), "No_reply on a server command");

	if (h->command == VFIO_USER_DMA_READ) {
		uint64_t n = count;
		size_t cap = 2 * VFIO_USER_HDR_SIZE + (size_t)count;

		if (p->how == CLIENT_SERVE_SHORT)
			n = p->short_by < count ? count - p->short_by : 0;
		out = malloc(cap);
		if (!out)
			return -ENOMEM;
		ret = vfio_user_build_dma_read_reply(&m, out, cap, h, acc.addr,
						     mem, n);
		if (ret >= 0 && n != count) /* count says all, data is short */
			memcpy(out + VFIO_USER_HDR_SIZE + 8, &count,
			       sizeof(count));
		c->stats.dma_reads++;
	} else {
		uint8_t small[64];
		uint64_t n = count;

		memcpy(mem, data, count);
		if (p->how == CLIENT_SERVE_SHORT)
			n = p->short_by < count ? count - p->short_by : 0;
		ret = vfio_user_build_dma_write_reply(&m, small, sizeof(small),
						      h, acc.addr, n,
						      p->write_reply16);
		if (ret >= 0 && !(h->flags & VFIO_USER_F_NO_REPLY))
			ret = send_reply_msg(c, sock, &m);
		c->stats.dma_writes++;
		c->stats.dma_bytes += count;
		return ret < 0 ? ret : 0;
	}
	c->stats.dma_bytes += count;
	if (ret >= 0 && !(h->flags & VFIO_USER_F_NO_REPLY))
		ret = send_reply_msg(c, sock, &m);
	free(out);
	return ret < 0 ? ret : 0;
}

/* A message from the server: a reply, or a command to serve. */
static int dispatch(struct client *c, int sock, struct client_reply *r,
		    unsigned int *served)
{
	uint32_t type = r->msg.hdr.flags & VFIO_USER_F_TYPE_MASK;
	int ret;

	if (sock == c->fd && type == VFIO_USER_F_TYPE_REPLY)
		return take_reply(c, r);
	if (type != VFIO_USER_F_TYPE_COMMAND) {
		c->stats.server_bad++;
		drop_fds(c, r, "on a message of a wrong type");
		note(c, chan_of(c, sock), "dropped: type %u on the %s socket",
		     type, sock == c->fd ? "main" : "twin");
		client_reply_free(r);
		return 0;
	}
	if (sock == c->fd && c->twin_fd >= 0) {
		/* "This message and its reply are passed over the separate
		 * server-to-client socket if twin-socket mode has been
		 * negotiated". */
		c->stats.dma_on_main++;
		note(c, FE_TRACE_MAIN,
		     "server command on the main socket in twin-socket mode");
	}
	if (++*served > c->opts.max_server_reqs) {
		client_reply_free(r);
		return set_err(c, -EPROTO,
			       "a flood: more than %u server requests while "
			       "waiting",
			       c->opts.max_server_reqs);
	}
	ret = serve(c, sock, r);
	client_reply_free(r);
	return ret;
}

/* Wait for one message on either socket and handle it. */
static int pump(struct client *c, int64_t deadline, unsigned int *served)
{
	struct pollfd pfd[2] = {
		{ .fd = c->twin_fd, .events = POLLIN },
		{ .fd = c->fd, .events = POLLIN },
	};
	struct client_reply r;
	int sock, ret;

	if (c->broken)
		return set_err(c, c->broken, "the session is broken (%s)",
			       strerror(-c->broken));
	do {
		ret = poll(pfd, 2, chan_remaining_ms(deadline));
	} while (ret < 0 && errno == EINTR);
	if (ret < 0)
		return -errno;
	if (!ret)
		return -ETIMEDOUT;
	/* Server commands first: the server may wait for them before it
	 * answers ours. */
	sock = pfd[0].revents ? c->twin_fd : c->fd;
	ret = recv_one(c, sock, &r, deadline);
	if (ret < 0)
		return ret;
	return dispatch(c, sock, &r, served);
}

static int find_pending(const struct client *c, int id)
{
	unsigned int i;

	for (i = 0; i < c->npending; i++)
		if (c->pending[i].id == (uint16_t)id)
			return (int)i;
	return -ENOENT;
}

/* Judge pending @i's reply, hand it to @out, forget the command. */
static int finish(struct client *c, unsigned int i, struct client_reply *out)
{
	struct client_pending *p = &c->pending[i];
	struct client_reply *r = &p->reply;
	const char *why = NULL;
	struct vfio_user_msg cmd;
	int kind;

	vfio_user_msg_init(&cmd);
	vfio_user_hdr_parse(p->cmd, p->cmd_len, &cmd.hdr, NULL);
	cmd.payload = p->cmd + VFIO_USER_HDR_SIZE;
	cmd.payload_len = p->cmd_len - VFIO_USER_HDR_SIZE;
	cmd.nfds = p->cmd_nfds; /* counted by the rules; values unused */

	kind = vfio_user_check_reply(&cmd, &r->msg, c->opts.check_flags, &why);
	if (kind >= 0 && c->negotiated &&
	    r->msg.nfds > c->proposed.max_msg_fds) {
		why = "more fds than our max_msg_fds";
		kind = -EBADMSG;
	}
	/* Data the server sends us: "must not exceed the value of
	 * max_data_xfer_size of the peer". */
	if (kind == VFIO_USER_REPLY_OK &&
	    (cmd.hdr.command == VFIO_USER_REGION_READ ||
	     cmd.hdr.command == VFIO_USER_MIG_DATA_READ) &&
	    vfio_user_check_xfer(&r->msg, c->proposed.max_data_xfer_size,
				 &why) < 0)
		kind = -EMSGSIZE;
	if (kind < 0) {
		drop_fds(c, r, "on a reply that broke a rule");
		set_err(c, kind, "reply to %s msg_id %u: %s",
			vfio_user_command_name(cmd.hdr.command), cmd.hdr.msg_id,
			why ? why : "malformed");
	} else if (kind == VFIO_USER_REPLY_ERROR) {
		c->server_errno = r->msg.hdr.error;
	}
	r->kind = kind;
	if (out) {
		*out = *r;
		memset(r, 0, sizeof(*r));
	}
	pending_drop(c, i);
	return kind;
}

int client_wait(struct client *c, int id, struct client_reply *out,
		int timeout_ms)
{
	int64_t deadline;
	unsigned int served = 0;
	int i, ret;

	if (out) {
		memset(out, 0, sizeof(*out));
		vfio_user_msg_init(&out->msg);
	}
	if (timeout_ms <= 0)
		timeout_ms = c->opts.timeout_ms;
	deadline = chan_deadline(timeout_ms);
	i = find_pending(c, id);
	if (i < 0)
		return set_err(c, -ENOENT, "no command with msg_id %d waits",
			       id);
	for (;;) {
		/* The oldest command with @id: pump() never reorders. */
		i = find_pending(c, id);
		if (c->pending[i].replied)
			return finish(c, (unsigned int)i, out);
		ret = pump(c, deadline, &served);
		if (ret == -ETIMEDOUT)
			return set_err(c, ret,
				       "no reply to msg_id %d within %d ms", id,
				       timeout_ms);
		if (ret < 0)
			return ret;
	}
}

int client_call(struct client *c, const struct vfio_user_msg *msg,
		const struct client_bend *b, struct client_reply *out)
{
	unsigned int waits, i;
	int id, ret = 0;

	if (out) {
		memset(out, 0, sizeof(*out));
		vfio_user_msg_init(&out->msg);
	}
	if (b && b->skip)
		return client_send(c, msg, b);
	id = send_cmd(c, msg, b, &waits);
	if (id < 0 || (b && b->no_wait))
		return id;
	for (i = 0; i < waits; i++) {
		/* Earlier replies of a repeat are judged and dropped. */
		if (out)
			client_reply_free(out);
		ret = client_wait(c, id, out, timeout_of(c, b));
		if (ret < 0)
			return ret;
	}
	return ret;
}

int client_recv_any(struct client *c, struct client_reply *out, int timeout_ms)
{
	int i, ret;

	if (timeout_ms <= 0)
		timeout_ms = c->opts.timeout_ms;
	if (c->broken) {
		memset(out, 0, sizeof(*out));
		vfio_user_msg_init(&out->msg);
		return set_err(c, c->broken, "the session is broken");
	}
	ret = recv_one(c, c->fd, out, chan_deadline(timeout_ms));
	if (ret < 0)
		return ret;
	if ((out->msg.hdr.flags & VFIO_USER_F_TYPE_MASK) ==
	    VFIO_USER_F_TYPE_REPLY) {
		i = find_pending(c, out->msg.hdr.msg_id);
		if (i >= 0 && !c->pending[i].replied)
			pending_drop(c, (unsigned int)i);
	}
	return ret;
}

int client_serve(struct client *c, unsigned int max, int timeout_ms)
{
	int64_t deadline = chan_deadline(timeout_ms);
	unsigned int served = 0;
	int ret;

	while (served < max) {
		ret = pump(c, deadline, &served);
		if (ret == -ETIMEDOUT)
			break;
		if (ret < 0)
			return ret;
	}
	return (int)served;
}

/* ------------------------------------------------------------------ */
/* Commands                                                            */
/* ------------------------------------------------------------------ */

/* helper_call(): nothing to look at (skip, no_wait, No_reply). */
#define NOTHING_TO_READ 3

/*
 * client_call() for the helpers. Return: NOTHING_TO_READ (*@id then holds
 * what client_call() said), 0 for a complete reply in @r,
 * VFIO_USER_REPLY_RETRY, or -errno (-EREMOTEIO for an error reply).
 */
static int helper_call(struct client *c, const struct vfio_user_msg *m,
		       const struct client_bend *b, struct client_reply *r,
		       int *id)
{
	int ret;

	ret = client_call(c, m, b, r);
	*id = ret;
	if (ret < 0) {
		client_reply_free(r); /* a reply that broke a rule */
		return ret;
	}
	if ((b && (b->skip || b->no_wait)) || !r->buf)
		return NOTHING_TO_READ;
	if (ret == VFIO_USER_REPLY_ERROR) {
		set_err(c, -EREMOTEIO, "%s: the server replied with errno %u",
			vfio_user_command_name(m->hdr.command),
			r->msg.hdr.error);
		client_reply_free(r);
		return -EREMOTEIO;
	}
	return ret;
}

/* Treat an argsz retry as an error where the command has no caps. */
static int simple_call(struct client *c, const struct vfio_user_msg *m,
		       const struct client_bend *b, struct client_reply *r,
		       int *id)
{
	int ret = helper_call(c, m, b, r, id);

	if (ret == VFIO_USER_REPLY_RETRY) {
		client_reply_free(r);
		return set_err(c, -EPROTO,
			       "%s: the server asks for a larger argsz",
			       vfio_user_command_name(m->hdr.command));
	}
	return ret;
}

static int bad_reply(struct client *c, struct client_reply *r, const char *what,
		     const char *why)
{
	client_reply_free(r);
	return set_err(c, -EBADMSG, "%s reply: %s", what,
		       why ? why : "malformed");
}

int client_version(struct client *c, const struct vfio_user_caps *proposal,
		   const struct client_bend *b)
{
	struct vfio_user_caps caps, srv;
	struct client_reply r;
	struct vfio_user_msg m;
	const char *why = NULL;
	char json[1024];
	uint8_t buf[1100];
	int ret, id, twin;

	if (proposal)
		caps = *proposal;
	else
		client_caps_default(&caps);
	ret = vfio_user_caps_to_json(&caps, NULL, json, sizeof(json));
	if (ret < 0)
		return set_err(c, ret, "capabilities do not fit as JSON");
	ret = vfio_user_build_version(&m, buf, sizeof(buf), 0, VFIO_USER_MAJOR,
				      VFIO_USER_MINOR,
				      caps.present ? json : NULL);
	if (ret < 0)
		return ret;
	c->proposed = caps;
	set_recv_max(c);
	ret = simple_call(c, &m, b, &r, &id);
	if (ret)
		return ret > 0 ? id : ret;
	ret = vfio_user_caps_from_version(&srv, &r.msg, &why);
	if (ret < 0)
		return bad_reply(c, &r, "VERSION", why);
	if (vfio_user_caps_check(&srv, true, &why) < 0)
		return bad_reply(c, &r, "VERSION", why);
	twin = vfio_user_caps_check_reply(&caps, &srv, r.msg.nfds, &why);
	if (twin < 0) {
		client_reply_free(&r);
		/* "The client must abort and close the connection". */
		return set_err(c, twin, "VERSION reply: %s",
			       why ? why : "inconsistent");
	}
	if (twin) {
		int *fd = &r.msg.fds[srv.twin_socket_fd_index];
		enum fdzoo_kind k = fdzoo_kind_of(*fd);

		if (k != FDZOO_SOCKET) {
			ret = set_err(c, -EBADMSG,
				      "VERSION reply: the twin socket is a %s",
				      fdzoo_kind_name(k));
			client_reply_free(&r);
			return ret;
		}
		close_fd(&c->twin_fd);
		c->twin_fd = *fd;
		*fd = -1;
		note(c, FE_TRACE_BACKEND, "twin socket set up");
	}
	drop_fds(c, &r, "on the VERSION reply, not the twin socket");
	client_reply_free(&r);
	c->server = srv;
	c->negotiated = true;
	return 0;
}

static const struct gmem_region *gmem_region_of(const struct gmem *g,
						uint64_t gpa, uint64_t size)
{
	unsigned int i;

	if (!g || !size)
		return NULL;
	for (i = 0; i < g->n; i++) {
		const struct gmem_region *r = &g->r[i];

		if (gpa >= r->gpa && size <= r->size &&
		    gpa - r->gpa <= r->size - size)
			return r;
	}
	return NULL;
}

int client_dma_map(struct client *c, uint64_t gpa, uint64_t size,
		   enum vfio_user_dma_access mode, uint32_t flags,
		   const struct client_bend *b)
{
	const struct gmem_region *g = gmem_region_of(c->gmem, gpa, size);
	struct client_reply r;
	struct vfio_user_msg m;
	uint8_t buf[64];
	uint64_t off = 0;
	int fd = -1, ret, id;

	if (mode > VFIO_USER_DMA_ACCESS_FILE_IO)
		return set_err(c, -EINVAL, "DMA access mode %d", (int)mode);
	if (!g && !b)
		return set_err(c, -EFAULT,
			       "[0x%llx, +0x%llx) is not inside one region of "
			       "guest memory",
			       (unsigned long long)gpa,
			       (unsigned long long)size);
	if (mode != VFIO_USER_DMA_ACCESS_MSG && g) {
		if (g->fd < 0 && !b)
			return set_err(c, -EFAULT, "the region keeps no fd");
		fd = g->fd;
		off = g->mmap_offset + (gpa - g->gpa);
	}
	if (mode == VFIO_USER_DMA_ACCESS_FILE_IO)
		flags |= VFIO_USER_F_DMA_REGION_FILE_IO;
	ret = vfio_user_build_dma_map(&m, buf, sizeof(buf), 0, flags, off, gpa,
				      size, fd);
	if (ret < 0)
		return set_err(c, ret, "DMA_MAP does not build");
	ret = simple_call(c, &m, b, &r, &id);
	if (ret)
		return ret > 0 ? id : ret;
	client_reply_free(&r);
	if (c->ndma < CLIENT_DMA_MAX)
		c->dma[c->ndma++] = (struct client_dma){
			.addr = gpa, .size = size, .flags = flags, .mode = mode
		};
	return 0;
}

static void dma_forget(struct client *c, uint64_t addr, uint64_t size, bool all)
{
	unsigned int i = 0;

	while (i < c->ndma) {
		if (all || (c->dma[i].addr == addr && c->dma[i].size == size)) {
			memmove(&c->dma[i], &c->dma[i + 1],
				(c->ndma - i - 1) * sizeof(c->dma[0]));
			c->ndma--;
		} else {
			i++;
		}
	}
}

int client_dma_unmap(struct client *c, uint64_t addr, uint64_t size,
		     uint32_t flags, uint64_t pgsize, void *bitmap,
		     uint64_t bitmap_size, const struct client_bend *b)
{
	struct vfio_user_bitmap bm = { .pgsize = pgsize, .size = bitmap_size };
	struct vfio_user_dma_unmap u;
	const uint8_t *data = NULL;
	const char *why = NULL;
	struct client_reply r;
	struct vfio_user_msg m;
	uint8_t buf[128];
	int ret, id;

	ret = vfio_user_build_dma_unmap(&m, buf, sizeof(buf), 0, flags, addr,
					size, bitmap ? &bm : NULL);
	if (ret < 0)
		return set_err(c, ret, "DMA_UNMAP does not build");
	ret = simple_call(c, &m, b, &r, &id);
	if (ret)
		return ret > 0 ? id : ret;
	ret = vfio_user_get_dma_unmap(&r.msg, &u, &bm, &data, &why);
	if (ret < 0)
		return bad_reply(c, &r, "DMA_UNMAP", why);
	if (bitmap && ret == 1 && data)
		memcpy(bitmap, data, (size_t)VUC_MIN(bm.size, bitmap_size));
	client_reply_free(&r);
	dma_forget(c, addr, size, flags & VFIO_DMA_UNMAP_FLAG_ALL);
	return 0;
}

int client_get_info(struct client *c, struct vfio_user_device_info *info,
		    const struct client_bend *b)
{
	struct client_reply r;
	struct vfio_user_msg m;
	const char *why = NULL;
	uint8_t buf[64];
	int ret, id;

	vfio_user_build_device_get_info(&m, buf, sizeof(buf), 0, 0);
	ret = simple_call(c, &m, b, &r, &id);
	if (ret)
		return ret > 0 ? id : ret;
	if (vfio_user_get_device_info(&r.msg, info, &why) < 0)
		return bad_reply(c, &r, "DEVICE_GET_INFO", why);
	client_reply_free(&r);
	return 0;
}

/* Hand @r's fds to the caller: up to *@nfds of them, the rest closed. */
static void take_fds(struct client *c, struct client_reply *r, int *fds,
		     unsigned int *nfds)
{
	unsigned int room = nfds ? *nfds : 0, i;

	for (i = 0; i < r->msg.nfds && i < room; i++) {
		fds[i] = r->msg.fds[i];
		r->msg.fds[i] = -1;
	}
	if (nfds)
		*nfds = i;
	if (r->msg.nfds > room)
		note(c, FE_TRACE_MAIN, "%u fds beyond the caller's room closed",
		     r->msg.nfds - room);
}

/*
 * An argsz-retry call: @build makes the request with a given argsz. The
 * first try uses @b and the fixed argsz; a retry is the correct path with
 * the argsz the server asked for. On 0, @r holds the complete reply.
 */
static int argsz_call(struct client *c, uint32_t argsz, uint32_t index,
		      int (*build)(struct vfio_user_msg *, uint8_t *, size_t,
				   uint16_t, uint32_t, uint32_t),
		      const struct client_bend *b, struct client_reply *r,
		      int *id)
{
	struct vfio_user_msg m;
	uint8_t buf[64];
	int ret, tries;

	for (tries = 0; tries < 2; tries++) {
		build(&m, buf, sizeof(buf), 0, argsz, index);
		ret = helper_call(c, &m, tries ? NULL : b, r, id);
		if (ret != VFIO_USER_REPLY_RETRY)
			return ret;
		/* "the argsz field in the reply indicates the needed size" */
		memcpy(&argsz, r->msg.payload, sizeof(argsz));
		client_reply_free(r);
		if (VFIO_USER_HDR_SIZE + (size_t)argsz > c->recv_max)
			return set_err(c, -EMSGSIZE,
				       "%s: the server needs argsz %u, above "
				       "our %zu-byte messages",
				       vfio_user_command_name(m.hdr.command),
				       argsz, c->recv_max);
	}
	return set_err(c, -EPROTO,
		       "%s: the server asked for a larger argsz twice",
		       vfio_user_command_name(m.hdr.command));
}

int client_region_info(struct client *c, uint32_t index,
		       struct vfio_user_region_info *info, void *caps,
		       size_t *caps_len, int *fds, unsigned int *nfds,
		       const struct client_bend *b)
{
	const char *why = NULL;
	struct client_reply r;
	size_t n, room = caps_len ? *caps_len : 0;
	int ret, id;

	ret = argsz_call(c, sizeof(*info), index, vfio_user_build_region_info,
			 b, &r, &id);
	if (ret)
		return ret > 0 ? id : ret;
	if (vfio_user_get_region_info(&r.msg, info, &why) < 0)
		return bad_reply(c, &r, "DEVICE_GET_REGION_INFO", why);
	n = r.msg.payload_len - sizeof(*info);
	if (caps_len)
		*caps_len = n;
	if (caps && n > room) {
		client_reply_free(&r);
		return set_err(c, -ENOSPC,
			       "%zu bytes of region caps, room for %zu", n,
			       room);
	}
	if (caps && n)
		memcpy(caps, r.msg.payload + sizeof(*info), n);
	take_fds(c, &r, fds, nfds);
	client_reply_free(&r);
	return 0;
}

int client_region_io_fds(struct client *c, uint32_t index,
			 struct vfio_user_sub_region_io_fd *subs,
			 uint32_t *nsubs, int *fds, unsigned int *nfds,
			 const struct client_bend *b)
{
	struct vfio_user_region_io_fds head;
	const char *why = NULL;
	struct client_reply r;
	uint32_t i, room = *nsubs;
	int ret, id;

	ret = argsz_call(c, sizeof(head), index, vfio_user_build_region_io_fds,
			 b, &r, &id);
	if (ret)
		return ret > 0 ? id : ret;
	if (vfio_user_get_region_io_fds(&r.msg, &head, &why) < 0)
		return bad_reply(c, &r, "DEVICE_GET_REGION_IO_FDS", why);
	*nsubs = head.count;
	if (head.count > room) {
		client_reply_free(&r);
		return set_err(c, -ENOSPC, "%u sub-regions, room for %u",
			       head.count, room);
	}
	for (i = 0; i < head.count; i++)
		if (vfio_user_get_sub_region(&r.msg, i, &subs[i], &why) < 0)
			return bad_reply(c, &r, "DEVICE_GET_REGION_IO_FDS",
					 why);
	take_fds(c, &r, fds, nfds);
	client_reply_free(&r);
	return 0;
}

int client_irq_info(struct client *c, uint32_t index,
		    struct vfio_user_irq_info *info,
		    const struct client_bend *b)
{
	struct client_reply r;
	struct vfio_user_msg m;
	const char *why = NULL;
	uint8_t buf[64];
	int ret, id;

	vfio_user_build_irq_info(&m, buf, sizeof(buf), 0, 0, index);
	ret = simple_call(c, &m, b, &r, &id);
	if (ret)
		return ret > 0 ? id : ret;
	if (vfio_user_get_irq_info(&r.msg, info, &why) < 0)
		return bad_reply(c, &r, "DEVICE_GET_IRQ_INFO", why);
	client_reply_free(&r);
	return 0;
}

static int set_irqs_one(struct client *c, uint32_t flags, uint32_t index,
			uint32_t start, uint32_t count, const uint8_t *bools,
			const int *fds, unsigned int nfds,
			const struct client_bend *b)
{
	size_t cap = 64;
	struct client_reply r;
	struct vfio_user_msg m;
	uint8_t *buf;
	int ret, id;

	if (flags & VFIO_IRQ_SET_DATA_BOOL) {
		if (count > 65536)
			return set_err(c, -EINVAL, "%u DATA_BOOL bytes", count);
		cap += count;
	}
	buf = malloc(cap);
	if (!buf)
		return -ENOMEM;
	ret = vfio_user_build_set_irqs(&m, buf, cap, 0, flags, index, start,
				       count, bools, fds, nfds);
	if (ret < 0) {
		free(buf);
		return set_err(c, ret, "DEVICE_SET_IRQS does not build");
	}
	ret = simple_call(c, &m, b, &r, &id);
	free(buf);
	if (ret)
		return ret > 0 ? id : ret;
	client_reply_free(&r);
	return 0;
}

int client_set_irqs(struct client *c, uint32_t flags, uint32_t index,
		    uint32_t start, uint32_t count, const uint8_t *bools,
		    const int *fds, unsigned int nfds,
		    const struct client_bend *b)
{
	uint64_t max = c->server.max_msg_fds;
	unsigned int done = 0, n;
	int ret;

	if (b || !(flags & VFIO_IRQ_SET_DATA_EVENTFD) || nfds <= max ||
	    nfds != count)
		return set_irqs_one(c, flags, index, start, count, bools, fds,
				    nfds, b);
	/* The server takes at most max_msg_fds per message: in batches. */
	while (done < nfds) {
		n = (unsigned int)VUC_MIN((uint64_t)(nfds - done),
					  max ? max : 1);
		ret = set_irqs_one(c, flags, index, start + done, n, NULL,
				   fds + done, n, NULL);
		if (ret < 0)
			return ret;
		done += n;
	}
	return 0;
}

static int xfer_ok(struct client *c, const struct client_bend *b,
		   uint64_t count)
{
	if (!b && c->negotiated && count > c->server.max_data_xfer_size)
		return set_err(
			c, -EMSGSIZE,
			"%llu bytes, above the server's "
			"max_data_xfer_size %llu",
			(unsigned long long)count,
			(unsigned long long)c->server.max_data_xfer_size);
	return 0;
}

int client_region_read(struct client *c, uint32_t region, uint64_t offset,
		       void *buf, uint32_t count, const struct client_bend *b)
{
	struct vfio_user_region_access acc;
	const uint8_t *data = NULL;
	const char *why = NULL;
	struct client_reply r;
	struct vfio_user_msg m;
	uint8_t mbuf[64];
	int ret, id;

	ret = xfer_ok(c, b, count);
	if (ret < 0)
		return ret;
	vfio_user_build_region_read(&m, mbuf, sizeof(mbuf), 0, region, offset,
				    count);
	ret = simple_call(c, &m, b, &r, &id);
	if (ret)
		return ret > 0 ? id : ret;
	if (vfio_user_get_region_access(&r.msg, &acc, &data, &why) < 0)
		return bad_reply(c, &r, "REGION_READ", why);
	if (acc.count > count)
		return bad_reply(c, &r, "REGION_READ", "more data than asked");
	if (data && acc.count)
		memcpy(buf, data, acc.count);
	client_reply_free(&r);
	return (int)acc.count;
}

int client_region_write(struct client *c, uint32_t region, uint64_t offset,
			const void *data, uint32_t count,
			const struct client_bend *b)
{
	size_t cap = 64 + (size_t)count;
	struct client_reply r;
	struct vfio_user_msg m;
	uint8_t *buf;
	int ret, id;

	ret = xfer_ok(c, b, count);
	if (ret < 0)
		return ret;
	buf = malloc(cap);
	if (!buf)
		return -ENOMEM;
	ret = vfio_user_build_region_write(&m, buf, cap, 0, region, offset,
					   data, count);
	if (ret >= 0)
		ret = simple_call(c, &m, b, &r, &id);
	free(buf);
	if (ret)
		return ret > 0 ? id : ret;
	client_reply_free(&r);
	return 0;
}

int client_region_write_multi(struct client *c,
			      const struct vfio_user_write_multi_data *wrs,
			      uint64_t n, const struct client_bend *b)
{
	const char *why = NULL;
	struct client_reply r;
	struct vfio_user_msg m;
	uint64_t wr_cnt = 0;
	size_t cap;
	uint8_t *buf;
	int ret, id;

	if (!b && !c->server.write_multiple)
		return set_err(c, -EPROTO,
			       "the server did not offer write_multiple");
	if (n > 65536)
		return set_err(c, -EINVAL, "%llu writes",
			       (unsigned long long)n);
	cap = 64 + (size_t)n * sizeof(*wrs);
	buf = malloc(cap);
	if (!buf)
		return -ENOMEM;
	ret = vfio_user_build_region_write_multi(&m, buf, cap, 0, wrs, n);
	if (ret >= 0)
		ret = simple_call(c, &m, b, &r, &id);
	free(buf);
	if (ret)
		return ret > 0 ? id : ret;
	if (vfio_user_get_write_multi(&r.msg, &wr_cnt, &why) < 0)
		return bad_reply(c, &r, "REGION_WRITE_MULTI", why);
	client_reply_free(&r);
	return (int)VUC_MIN(wr_cnt, (uint64_t)INT32_MAX);
}

int client_reset(struct client *c, const struct client_bend *b)
{
	struct client_reply r;
	struct vfio_user_msg m;
	uint8_t buf[VFIO_USER_HDR_SIZE];
	int ret, id;

	vfio_user_build_device_reset(&m, buf, sizeof(buf), 0);
	ret = simple_call(c, &m, b, &r, &id);
	if (ret)
		return ret > 0 ? id : ret;
	client_reply_free(&r);
	return 0;
}

/* DEVICE_FEATURE from a built message: reply data into @out. */
static int feature_call(struct client *c, const struct vfio_user_msg *m,
			void *out, size_t out_cap, const struct client_bend *b)
{
	struct vfio_user_device_feature hd;
	const uint8_t *data = NULL;
	const char *why = NULL;
	struct client_reply r;
	size_t dl = 0;
	int ret, id;

	ret = simple_call(c, m, b, &r, &id);
	if (ret)
		return ret > 0 ? id : ret;
	if (vfio_user_get_device_feature(&r.msg, &hd, &data, &dl, &why) < 0)
		return bad_reply(c, &r, "DEVICE_FEATURE", why);
	if (dl > out_cap && out) {
		client_reply_free(&r);
		return set_err(c, -ENOSPC,
			       "%zu bytes of feature data, room for %zu", dl,
			       out_cap);
	}
	if (out && dl)
		memcpy(out, data, dl);
	client_reply_free(&r);
	return (int)VUC_MIN(dl, (size_t)INT32_MAX);
}

int client_feature(struct client *c, uint32_t flags, const void *data,
		   size_t len, void *out, size_t out_cap,
		   const struct client_bend *b)
{
	struct vfio_user_msg m;
	size_t cap = 64 + len;
	uint32_t argsz = 0;
	uint8_t *buf;
	int ret;

	if (len > 65536 || out_cap > CLIENT_RECV_HARD_MAX)
		return set_err(c, -EINVAL, "feature data of %zu bytes", len);
	/* GET: argsz is the reply room ("Message sizes"). */
	if (flags & VFIO_DEVICE_FEATURE_GET &&
	    !(flags & VFIO_DEVICE_FEATURE_PROBE))
		argsz = (uint32_t)(sizeof(struct vfio_user_device_feature) +
				   VUC_MAX(out_cap, len));
	buf = malloc(cap);
	if (!buf)
		return -ENOMEM;
	ret = vfio_user_build_device_feature(&m, buf, cap, 0, argsz, flags,
					     data, len);
	if (ret < 0)
		ret = set_err(c, ret, "DEVICE_FEATURE does not build");
	else
		ret = feature_call(c, &m, out, out_cap, b);
	free(buf);
	return ret;
}

int client_migration_flags(struct client *c, uint64_t *flags,
			   const struct client_bend *b)
{
	struct vfio_user_device_feature_migration mig = { 0 };
	int ret;

	ret = client_feature(
		c, VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_MIGRATION,
		NULL, 0, &mig, sizeof(mig), b);
	if (ret < 0 || (b && (b->skip || b->no_wait)))
		return ret;
	if (ret != sizeof(mig))
		return set_err(c, -EBADMSG, "MIGRATION data of %d bytes", ret);
	*flags = mig.flags;
	return 0;
}

int client_mig_state(struct client *c, uint32_t state,
		     const struct client_bend *b)
{
	struct vfio_user_msg m;
	uint8_t buf[64];
	int ret;

	ret = vfio_user_build_mig_state_set(&m, buf, sizeof(buf), 0, state);
	if (ret < 0)
		return set_err(c, ret, "MIG_DEVICE_STATE does not build");
	ret = feature_call(c, &m, NULL, 0, b);
	return ret > 0 && !(b && (b->skip || b->no_wait)) ? 0 : ret;
}

int client_mig_state_get(struct client *c, uint32_t *state,
			 const struct client_bend *b)
{
	struct vfio_user_device_feature_mig_state st = { 0 };
	int ret;

	ret = client_feature(c,
			     VFIO_DEVICE_FEATURE_GET |
				     VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE,
			     NULL, 0, &st, sizeof(st), b);
	if (ret < 0 || (b && (b->skip || b->no_wait)))
		return ret;
	if (ret != sizeof(st))
		return set_err(c, -EBADMSG, "MIG_DEVICE_STATE data of %d bytes",
			       ret);
	*state = st.device_state;
	return 0;
}

int client_dirty_start(
	struct client *c, uint64_t page_size,
	const struct vfio_user_device_feature_dma_logging_range *ranges,
	uint32_t n, const struct client_bend *b)
{
	struct vfio_user_msg m;
	size_t cap;
	uint8_t *buf;
	int ret;

	if (n > 4096)
		return set_err(c, -EINVAL, "%u ranges", n);
	cap = 64 + (size_t)n * sizeof(*ranges);
	buf = malloc(cap);
	if (!buf)
		return -ENOMEM;
	ret = vfio_user_build_dma_logging_start(&m, buf, cap, 0, page_size,
						ranges, n);
	if (ret < 0)
		ret = set_err(c, ret, "DMA_LOGGING_START does not build");
	else
		ret = feature_call(c, &m, NULL, 0, b);
	free(buf);
	return ret > 0 && !(b && (b->skip || b->no_wait)) ? 0 : ret;
}

int client_dirty_stop(struct client *c, const struct client_bend *b)
{
	int ret;

	ret = client_feature(c,
			     VFIO_DEVICE_FEATURE_SET |
				     VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP,
			     NULL, 0, NULL, 0, b);
	return ret > 0 && !(b && (b->skip || b->no_wait)) ? 0 : ret;
}

int client_dirty_report(struct client *c, uint64_t iova, uint64_t length,
			uint64_t page_size, void *bitmap, size_t cap,
			const struct client_bend *b)
{
	struct vfio_user_device_feature_dma_logging_report rep;
	const uint8_t *bm = NULL;
	const char *why = NULL;
	struct client_reply r;
	struct vfio_user_msg m;
	size_t bml = 0;
	uint8_t buf[128];
	int ret, id;

	ret = vfio_user_build_dma_logging_report(&m, buf, sizeof(buf), 0, iova,
						 length, page_size);
	if (ret < 0)
		return set_err(c, ret, "DMA_LOGGING_REPORT does not build");
	ret = simple_call(c, &m, b, &r, &id);
	if (ret)
		return ret > 0 ? id : ret;
	if (vfio_user_get_dma_logging_report(&r.msg, &rep, &bm, &bml, &why) < 0)
		return bad_reply(c, &r, "DMA_LOGGING_REPORT", why);
	if (bml > cap) {
		client_reply_free(&r);
		return set_err(c, -ENOSPC, "%zu bitmap bytes, room for %zu",
			       bml, cap);
	}
	if (bml)
		memcpy(bitmap, bm, bml);
	client_reply_free(&r);
	return 0;
}

int client_mig_data_read(struct client *c, void *buf, uint32_t size,
			 const struct client_bend *b)
{
	struct vfio_user_mig_data md;
	const uint8_t *data = NULL;
	const char *why = NULL;
	struct client_reply r;
	struct vfio_user_msg m;
	uint8_t mbuf[64];
	int ret, id;

	ret = xfer_ok(c, b, size);
	if (ret < 0)
		return ret;
	vfio_user_build_mig_data_read(&m, mbuf, sizeof(mbuf), 0, size);
	ret = simple_call(c, &m, b, &r, &id);
	if (ret)
		return ret > 0 ? id : ret;
	if (vfio_user_get_mig_data(&r.msg, &md, &data, &why) < 0)
		return bad_reply(c, &r, "MIG_DATA_READ", why);
	if (md.size > size)
		return bad_reply(c, &r, "MIG_DATA_READ",
				 "more data than asked");
	if (md.size && data)
		memcpy(buf, data, md.size);
	client_reply_free(&r);
	return (int)md.size;
}

int client_mig_data_write(struct client *c, const void *data, uint32_t size,
			  const struct client_bend *b)
{
	size_t cap = 64 + (size_t)size;
	struct client_reply r;
	struct vfio_user_msg m;
	uint8_t *buf;
	int ret, id;

	ret = xfer_ok(c, b, size);
	if (ret < 0)
		return ret;
	buf = malloc(cap);
	if (!buf)
		return -ENOMEM;
	ret = vfio_user_build_mig_data_write(&m, buf, cap, 0, data, size);
	if (ret >= 0)
		ret = simple_call(c, &m, b, &r, &id);
	free(buf);
	if (ret)
		return ret > 0 ? id : ret;
	client_reply_free(&r);
	return 0;
}
