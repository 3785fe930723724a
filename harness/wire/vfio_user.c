// SPDX-License-Identifier: MIT
/*
 * vfio_user.c - the vfio-user wire: rule table, framing, checks, builders,
 * getters and trace lines. See vfio_user.h; spec: specs/vfio-user.rst
 * (0.9.2) and the DMA_MAP access-mode bits of seed 003.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/util.h"
#include "wire/vfio_user.h"
#include "wire/wire_fmt.h"

/* ------------------------------------------------------------------ */
/* Reasons                                                             */
/* ------------------------------------------------------------------ */

/*
 * Formatted reasons live in a small thread-local ring, so that a reason can
 * be built from another one (the outer call quotes the inner) without the
 * two overlapping. A pointer stays valid for the next few calls on the
 * same thread.
 */
#define WHY_RING 4
#define WHY_LEN 200
static _Thread_local char why_ring[WHY_RING][WHY_LEN];
static _Thread_local unsigned int why_next;

VUC_PRINTF(1, 2) static const char *whyf(const char *fmt, ...)
{
	char *b = why_ring[why_next++ % WHY_RING];
	va_list ap;

	va_start(ap, fmt);
	wire_vfmt(b, WHY_LEN, fmt, ap);
	va_end(ap);
	return b;
}

static int fail(const char **why, int err, const char *reason)
{
	if (why)
		*why = reason;
	return err;
}

/* ------------------------------------------------------------------ */
/* Small helpers                                                       */
/* ------------------------------------------------------------------ */

static uint32_t ld32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static uint64_t ld64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static uint64_t ld_width(const uint8_t *p, unsigned int width)
{
	return width == 8 ? ld64(p) : ld32(p);
}

/*
 * True if [base, base + len) runs past 2^64, i.e. its last byte cannot be
 * addressed. A range may end exactly at 2^64.
 */
static bool range_wraps(uint64_t base, uint64_t len)
{
	return len && base > UINT64_MAX - (len - 1);
}

static bool is_pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

static unsigned int popcount32(uint32_t v)
{
	return (unsigned int)__builtin_popcount(v);
}

static bool is_reply(const struct vfio_user_msg *m)
{
	return (m->hdr.flags & VFIO_USER_F_TYPE_MASK) == VFIO_USER_F_TYPE_REPLY;
}

static uint32_t argsz_of(const struct vfio_user_msg *m)
{
	return ld32(m->payload);
}

/* ------------------------------------------------------------------ */
/* The rule table                                                      */
/* ------------------------------------------------------------------ */

#define C2S VFIO_USER_CLIENT_TO_SERVER
#define S2C VFIO_USER_SERVER_TO_CLIENT
#define ANCHOR(slug) "vfio-user#" slug

#define SZ_NONE                             \
	{                                   \
		.rule = VFIO_USER_SIZE_NONE \
	}
#define SZ_EXACT(n)                                        \
	{                                                  \
		.rule = VFIO_USER_SIZE_EXACT, .fixed = (n) \
	}
#define SZ_EXACT2(n, a)                                                \
	{                                                              \
		.rule = VFIO_USER_SIZE_EXACT, .fixed = (n), .alt = (a) \
	}
#define SZ_MIN(n)                                        \
	{                                                \
		.rule = VFIO_USER_SIZE_MIN, .fixed = (n) \
	}
#define SZ_ARGSZ(n, e, off, w)                                           \
	{                                                                \
		.rule = VFIO_USER_SIZE_ARGSZ, .fixed = (n), .elem = (e), \
		.count_off = (off), .count_width = (w)                   \
	}
#define SZ_COUNT(n, e, off, w)                                           \
	{                                                                \
		.rule = VFIO_USER_SIZE_COUNT, .fixed = (n), .elem = (e), \
		.count_off = (off), .count_width = (w)                   \
	}

const struct vfio_user_rule vfio_user_rules[VFIO_USER_CMD_MAX] = {
	[VFIO_USER_VERSION - 1] = {
		.code = VFIO_USER_VERSION,
		.name = "VFIO_USER_VERSION",
		.anchor = ANCHOR("vfio-user-version"),
		.dir = C2S,
		.req = SZ_MIN(4),
		.reply = SZ_MIN(4),
		.req_fds = VFIO_USER_FDS_NONE,
		.reply_fds = VFIO_USER_FDS_TWIN_SOCKET,
		.reply_fds_max = VFIO_USER_FDS_VARIABLE,
		.note = "version data: variable (including terminating NUL). "
			"Optional.",
	},
	[VFIO_USER_DMA_MAP - 1] = {
		.code = VFIO_USER_DMA_MAP,
		.name = "VFIO_USER_DMA_MAP",
		.anchor = ANCHOR("vfio-user-dma-map"),
		.dir = C2S,
		.req = SZ_EXACT(32),
		.reply = SZ_NONE,
		.req_argsz = VFIO_USER_ARGSZ_SELF,
		.req_fds = VFIO_USER_FDS_DMA_MAP,
		.req_fds_max = 1,
		.reply_fds = VFIO_USER_FDS_NONE,
		.note = "If an access mode requiring a file descriptor is "
			"specified, but the client does not provide a file "
			"descriptor, the server must fail the request with "
			"EINVAL.",
	},
	[VFIO_USER_DMA_UNMAP - 1] = {
		.code = VFIO_USER_DMA_UNMAP,
		.name = "VFIO_USER_DMA_UNMAP",
		.anchor = ANCHOR("vfio-user-dma-unmap"),
		.dir = C2S,
		/* 40 with the (legacy) GET_DIRTY_BITMAP struct */
		.req = SZ_EXACT2(24, 40),
		.reply = SZ_MIN(24),
		.req_argsz = VFIO_USER_ARGSZ_REPLY_MAX,
		.reply_argsz = VFIO_USER_ARGSZ_ECHO,
		.req_fds = VFIO_USER_FDS_NONE,
		.reply_fds = VFIO_USER_FDS_NONE,
		.note = "The server responds with the original DMA entry in "
			"the request.",
	},
	[VFIO_USER_DEVICE_GET_INFO - 1] = {
		.code = VFIO_USER_DEVICE_GET_INFO,
		.name = "VFIO_USER_DEVICE_GET_INFO",
		.anchor = ANCHOR("vfio-user-device-get-info"),
		.dir = C2S,
		.req = SZ_EXACT(16),
		.reply = SZ_EXACT(16),
		.req_argsz = VFIO_USER_ARGSZ_REPLY_MAX,
		.reply_argsz = VFIO_USER_ARGSZ_NEEDED,
		.req_fds = VFIO_USER_FDS_NONE,
		.reply_fds = VFIO_USER_FDS_NONE,
		.note = "argsz is the size required for the full reply payload "
			"(16 bytes today)",
	},
	[VFIO_USER_DEVICE_GET_REGION_INFO - 1] = {
		.code = VFIO_USER_DEVICE_GET_REGION_INFO,
		.name = "VFIO_USER_DEVICE_GET_REGION_INFO",
		.anchor = ANCHOR("vfio-user-device-get-region-info"),
		.dir = C2S,
		.req = SZ_EXACT(32),
		.reply = SZ_ARGSZ(32, 0, 0, 0),
		.req_argsz = VFIO_USER_ARGSZ_REPLY_MAX,
		.reply_argsz = VFIO_USER_ARGSZ_NEEDED,
		.req_fds = VFIO_USER_FDS_NONE,
		.reply_fds = VFIO_USER_FDS_REGION_MMAP,
		.reply_fds_max = VFIO_USER_FDS_VARIABLE,
		.note = "VFIO_REGION_INFO_FLAG_MMAP specifies the client can "
			"mmap() the region. When this flag is set, the reply "
			"will include a file descriptor in its meta-data.",
	},
	[VFIO_USER_DEVICE_GET_REGION_IO_FDS - 1] = {
		.code = VFIO_USER_DEVICE_GET_REGION_IO_FDS,
		.name = "VFIO_USER_DEVICE_GET_REGION_IO_FDS",
		.anchor = ANCHOR("vfio-user-device-get-region-io-fds"),
		.dir = C2S,
		.req = SZ_EXACT(16),
		.reply = SZ_ARGSZ(16, 40, 12, 4),
		.req_argsz = VFIO_USER_ARGSZ_REPLY_MAX,
		.reply_argsz = VFIO_USER_ARGSZ_NEEDED,
		.req_fds = VFIO_USER_FDS_NONE,
		.reply_fds = VFIO_USER_FDS_IO_FDS,
		.reply_fds_max = VFIO_USER_FDS_VARIABLE,
		.note = "each array entry \"i\" is at offset i * ((argsz - 32) "
			"/ count). Note that currently this is 40 bytes for "
			"both IO FD types, but this is not to be relied on.",
	},
	[VFIO_USER_DEVICE_GET_IRQ_INFO - 1] = {
		.code = VFIO_USER_DEVICE_GET_IRQ_INFO,
		.name = "VFIO_USER_DEVICE_GET_IRQ_INFO",
		.anchor = ANCHOR("vfio-user-device-get-irq-info"),
		.dir = C2S,
		.req = SZ_EXACT(16),
		.reply = SZ_EXACT(16),
		.req_argsz = VFIO_USER_ARGSZ_REPLY_MAX,
		.reply_argsz = VFIO_USER_ARGSZ_NEEDED,
		.req_fds = VFIO_USER_FDS_NONE,
		.reply_fds = VFIO_USER_FDS_NONE,
		.note = "argsz is the maximum size of the reply payload (16 "
			"bytes today)",
	},
	[VFIO_USER_DEVICE_SET_IRQS - 1] = {
		.code = VFIO_USER_DEVICE_SET_IRQS,
		.name = "VFIO_USER_DEVICE_SET_IRQS",
		.anchor = ANCHOR("vfio-user-device-set-irqs"),
		.dir = C2S,
		/* + count bytes with DATA_BOOL */
		.req = SZ_MIN(20),
		.reply = SZ_NONE,
		.req_argsz = VFIO_USER_ARGSZ_SELF,
		.req_fds = VFIO_USER_FDS_IRQ_SET,
		.req_fds_max = VFIO_USER_FDS_VARIABLE,
		.reply_fds = VFIO_USER_FDS_NONE,
		.note = "argsz is the size of the VFIO IRQ set request "
			"payload, including any data field.",
	},
	[VFIO_USER_REGION_READ - 1] = {
		.code = VFIO_USER_REGION_READ,
		.name = "VFIO_USER_REGION_READ",
		.anchor = ANCHOR("vfio-user-region-read"),
		.dir = C2S,
		.req = SZ_EXACT(16),
		.reply = SZ_COUNT(16, 1, 12, 4),
		.req_fds = VFIO_USER_FDS_NONE,
		.reply_fds = VFIO_USER_FDS_NONE,
		.note = "The count field must not exceed the value of "
			"max_data_xfer_size of the peer, for both reads and "
			"writes.",
	},
	[VFIO_USER_REGION_WRITE - 1] = {
		.code = VFIO_USER_REGION_WRITE,
		.name = "VFIO_USER_REGION_WRITE",
		.anchor = ANCHOR("vfio-user-region-write"),
		.dir = C2S,
		.req = SZ_COUNT(16, 1, 12, 4),
		.reply = SZ_EXACT(16),
		.req_fds = VFIO_USER_FDS_NONE,
		.reply_fds = VFIO_USER_FDS_NONE,
		.note = "The count field must not exceed the value of "
			"max_data_xfer_size of the peer, for both reads and "
			"writes.",
	},
	[VFIO_USER_DMA_READ - 1] = {
		.code = VFIO_USER_DMA_READ,
		.name = "VFIO_USER_DMA_READ",
		.anchor = ANCHOR("vfio-user-dma-read"),
		.dir = S2C,
		.req = SZ_EXACT(16),
		.reply = SZ_COUNT(16, 1, 8, 8),
		.req_fds = VFIO_USER_FDS_NONE,
		.reply_fds = VFIO_USER_FDS_NONE,
		.note = "This message and its reply are passed over the "
			"separate server-to-client socket if twin-socket mode "
			"has been negotiated during connection setup.",
	},
	[VFIO_USER_DMA_WRITE - 1] = {
		.code = VFIO_USER_DMA_WRITE,
		.name = "VFIO_USER_DMA_WRITE",
		.anchor = ANCHOR("vfio-user-dma-write"),
		.dir = S2C,
		.req = SZ_COUNT(16, 1, 8, 8),
		/* the spec draws count as 4 bytes; libvfio-user sends 8 */
		.reply = SZ_EXACT2(12, 16),
		.req_fds = VFIO_USER_FDS_NONE,
		.reply_fds = VFIO_USER_FDS_NONE,
		.note = "Reply: address (offset 0, size 8), count (offset 8, "
			"size 4)",
	},
	[VFIO_USER_DEVICE_RESET - 1] = {
		.code = VFIO_USER_DEVICE_RESET,
		.name = "VFIO_USER_DEVICE_RESET",
		.anchor = ANCHOR("vfio-user-device-reset"),
		.dir = C2S,
		.req = SZ_NONE,
		.reply = SZ_NONE,
		.req_fds = VFIO_USER_FDS_NONE,
		.reply_fds = VFIO_USER_FDS_NONE,
		.note = "Neither the request or reply have a payload.",
	},
	[VFIO_USER_DIRTY_PAGES_RESERVED - 1] = {
		.code = VFIO_USER_DIRTY_PAGES_RESERVED,
		.reserved = true,
		.name = "VFIO_USER_(reserved 14)",
		.anchor = ANCHOR("commands"),
		.dir = C2S,
		.note = "Not in the command table: was VFIO_USER_DIRTY_PAGES "
			"before migration v2; dirty pages now go through "
			"VFIO_USER_DEVICE_FEATURE.",
	},
	[VFIO_USER_REGION_WRITE_MULTI - 1] = {
		.code = VFIO_USER_REGION_WRITE_MULTI,
		.name = "VFIO_USER_REGION_WRITE_MULTI",
		.anchor = ANCHOR("vfio-user-region-write-multi"),
		.dir = C2S,
		.req = SZ_COUNT(8, 24, 0, 8),
		.reply = SZ_EXACT(8),
		.req_fds = VFIO_USER_FDS_NONE,
		.reply_fds = VFIO_USER_FDS_NONE,
		.gate = "write_multiple",
		.note = "This format can only describe writes of 8 bytes or "
			"less.",
	},
	[VFIO_USER_DEVICE_FEATURE - 1] = {
		.code = VFIO_USER_DEVICE_FEATURE,
		.name = "VFIO_USER_DEVICE_FEATURE",
		.anchor = ANCHOR("vfio-user-device-feature"),
		.dir = C2S,
		.req = SZ_MIN(8),
		.reply = SZ_ARGSZ(8, 0, 0, 0),
		.req_argsz = VFIO_USER_ARGSZ_REPLY_MAX,
		.reply_argsz = VFIO_USER_ARGSZ_NEEDED,
		.req_fds = VFIO_USER_FDS_NONE,
		.reply_fds = VFIO_USER_FDS_NONE,
		.note = "The reply payload must be the same as the request "
			"payload for setting or probing a feature. For getting "
			"a feature's data, the data is added in the data "
			"section and its length is added to argsz.",
	},
	[VFIO_USER_MIG_DATA_READ - 1] = {
		.code = VFIO_USER_MIG_DATA_READ,
		.name = "VFIO_USER_MIG_DATA_READ",
		.anchor = ANCHOR("vfio-user-mig-data-read"),
		.dir = C2S,
		.req = SZ_EXACT(8),
		.reply = SZ_COUNT(8, 1, 4, 4),
		.req_argsz = VFIO_USER_ARGSZ_REPLY_MAX,
		.reply_argsz = VFIO_USER_ARGSZ_NEEDED,
		.req_fds = VFIO_USER_FDS_NONE,
		.reply_fds = VFIO_USER_FDS_NONE,
		.note = "size indicates the size of returned migration "
			"data. If this is less than the requested size, there "
			"is no more migration data to read.",
	},
	[VFIO_USER_MIG_DATA_WRITE - 1] = {
		.code = VFIO_USER_MIG_DATA_WRITE,
		.name = "VFIO_USER_MIG_DATA_WRITE",
		.anchor = ANCHOR("vfio-user-mig-data-write"),
		.dir = C2S,
		.req = SZ_COUNT(8, 1, 4, 4),
		.reply = SZ_NONE,
		.req_argsz = VFIO_USER_ARGSZ_REPLY_MAX,
		.req_fds = VFIO_USER_FDS_NONE,
		.reply_fds = VFIO_USER_FDS_NONE,
		.note = "argsz is the maximum size of the reply payload. "
			"(There is no reply payload for this message.)",
	},
};

const struct vfio_user_rule *vfio_user_rule(unsigned int code)
{
	const struct vfio_user_rule *r;

	if (code < 1 || code > VFIO_USER_CMD_MAX)
		return NULL;
	r = &vfio_user_rules[code - 1];
	return r->reserved ? NULL : r;
}

const struct vfio_user_rule *
vfio_user_rule_next(const struct vfio_user_rule *prev)
{
	const struct vfio_user_rule *r = prev ? prev + 1 : vfio_user_rules;

	for (; r < vfio_user_rules + VFIO_USER_CMD_MAX; r++)
		if (!r->reserved)
			return r;
	return NULL;
}

const char *vfio_user_command_name(unsigned int code)
{
	if (code < 1 || code > VFIO_USER_CMD_MAX)
		return "VFIO_USER_(unknown)";
	return vfio_user_rules[code - 1].name;
}

/* ------------------------------------------------------------------ */
/* Envelope, parse, pack                                               */
/* ------------------------------------------------------------------ */

void vfio_user_msg_init(struct vfio_user_msg *msg)
{
	memset(&msg->hdr, 0, sizeof(msg->hdr));
	msg->payload = NULL;
	msg->payload_len = 0;
	/* every byte 0xff: each fd -1, in one call rather than 253 stores */
	memset(msg->fds, 0xff, sizeof(msg->fds));
	msg->nfds = 0;
}

int vfio_user_msg_set_fds(struct vfio_user_msg *msg, const int *fds,
			  unsigned int nfds)
{
	if (nfds > VFIO_USER_MSG_FDS_MAX)
		return -EMSGSIZE;
	if (nfds)
		memcpy(msg->fds, fds, nfds * sizeof(*fds));
	msg->nfds = nfds;
	return 0;
}

int vfio_user_hdr_parse(const uint8_t *buf, size_t len,
			struct vfio_user_hdr *hdr, const char **why)
{
	if (len < VFIO_USER_HDR_SIZE)
		return fail(why, -ENODATA,
			    whyf("%zu bytes are less than the 16-byte header",
				 len));
	memcpy(hdr, buf, sizeof(*hdr));
	return VFIO_USER_HDR_SIZE;
}

int vfio_user_parse(struct vfio_user_msg *msg, const uint8_t *buf, size_t len,
		    size_t max_size, const char **why)
{
	struct vfio_user_hdr hdr;
	int ret;

	ret = vfio_user_hdr_parse(buf, len, &hdr, why);
	if (ret < 0)
		return ret;
	/* "Message size contains the size of the entire message, including
	 * the header." */
	if (hdr.msg_size < VFIO_USER_HDR_SIZE)
		return fail(why, -EBADMSG,
			    whyf("msg_size %u is less than the 16-byte header "
				 "it includes",
				 hdr.msg_size));
	if (hdr.msg_size > INT_MAX || (max_size && hdr.msg_size > max_size))
		return fail(why, -EMSGSIZE,
			    whyf("msg_size %u is more than the %zu accepted",
				 hdr.msg_size,
				 max_size ? max_size : (size_t)INT_MAX));
	if (len < hdr.msg_size)
		return fail(why, -ENODATA,
			    whyf("%zu of the %u bytes msg_size announces", len,
				 hdr.msg_size));
	msg->hdr = hdr;
	msg->payload = buf + VFIO_USER_HDR_SIZE;
	msg->payload_len = hdr.msg_size - VFIO_USER_HDR_SIZE;
	msg->nfds = 0;
	return (int)hdr.msg_size;
}

int vfio_user_pack_raw(uint8_t *out, size_t cap,
		       const struct vfio_user_hdr *hdr, const void *payload,
		       size_t payload_len)
{
	if (payload_len > (size_t)INT_MAX - VFIO_USER_HDR_SIZE)
		return -EMSGSIZE;
	if (cap < VFIO_USER_HDR_SIZE + payload_len)
		return -ENOSPC;
	memcpy(out, hdr, VFIO_USER_HDR_SIZE);
	/* the payload may already be in place (builders write there) */
	if (payload_len)
		memmove(out + VFIO_USER_HDR_SIZE, payload, payload_len);
	return (int)(VFIO_USER_HDR_SIZE + payload_len);
}

int vfio_user_pack(uint8_t *out, size_t cap, const struct vfio_user_msg *msg)
{
	return vfio_user_pack_raw(out, cap, &msg->hdr, msg->payload,
				  msg->payload_len);
}

/* ------------------------------------------------------------------ */
/* Generic rules                                                       */
/* ------------------------------------------------------------------ */

static const char *cmd_name(const struct vfio_user_msg *m)
{
	return vfio_user_command_name(m->hdr.command);
}

/* The message as handed to us must be self-consistent before any rule. */
static int check_envelope(const struct vfio_user_msg *m, const char **why)
{
	if (m->payload_len && !m->payload)
		return fail(why, -EINVAL, "payload_len without a payload");
	if (m->nfds > VFIO_USER_MSG_FDS_MAX)
		return fail(why, -EINVAL, "nfds above VFIO_USER_MSG_FDS_MAX");
	if (m->payload_len > UINT32_MAX - VFIO_USER_HDR_SIZE ||
	    m->hdr.msg_size != VFIO_USER_HDR_SIZE + m->payload_len)
		return fail(why, -EBADMSG,
			    whyf("msg_size %u but 16 + %zu bytes came",
				 m->hdr.msg_size, m->payload_len));
	return 0;
}

static int check_size(const struct vfio_user_msg *m,
		      const struct vfio_user_size *s, const char *what,
		      const char **why)
{
	size_t len = m->payload_len;
	uint64_t count, need;

	switch (s->rule) {
	case VFIO_USER_SIZE_NONE:
		if (len)
			return fail(why, -EBADMSG,
				    whyf("%s %s takes no payload, got %zu "
					 "bytes",
					 cmd_name(m), what, len));
		return 0;
	case VFIO_USER_SIZE_EXACT:
		if (len == s->fixed || (s->alt && len == s->alt))
			return 0;
		if (s->alt)
			return fail(why, -EBADMSG,
				    whyf("payload size %zu is neither %u nor "
					 "%u, the sizes %s %s takes",
					 len, s->fixed, s->alt, cmd_name(m),
					 what));
		return fail(why, -EBADMSG,
			    whyf("payload size %zu is not the %u bytes %s %s "
				 "takes",
				 len, s->fixed, cmd_name(m), what));
	case VFIO_USER_SIZE_MIN:
	case VFIO_USER_SIZE_ARGSZ:
	case VFIO_USER_SIZE_COUNT:
		if (len < s->fixed)
			return fail(why, -EBADMSG,
				    whyf("payload size %zu is less than the "
					 "%u-byte fixed part of %s %s",
					 len, s->fixed, cmd_name(m), what));
		if (s->rule != VFIO_USER_SIZE_COUNT)
			return 0;
		count = ld_width(m->payload + s->count_off, s->count_width);
		if (__builtin_mul_overflow(count, (uint64_t)s->elem, &need) ||
		    __builtin_add_overflow(need, (uint64_t)s->fixed, &need) ||
		    len != need)
			return fail(why, -EBADMSG,
				    whyf("payload size %zu is not %u + %llu "
					 "(count) * %u bytes",
					 len, s->fixed,
					 (unsigned long long)count, s->elem));
		return 0;
	}
	return fail(why, -EINVAL, "bad size rule");
}

static int check_req_argsz(const struct vfio_user_rule *r,
			   const struct vfio_user_msg *m, const char **why)
{
	uint32_t argsz;

	if (r->req_argsz == VFIO_USER_ARGSZ_NONE)
		return 0;
	argsz = argsz_of(m);
	if (r->req_argsz == VFIO_USER_ARGSZ_SELF) {
		if (argsz < r->req.fixed)
			return fail(why, -EBADMSG,
				    whyf("argsz %u is smaller than the %u-byte "
					 "fixed part of %s",
					 argsz, r->req.fixed, r->name));
		if (argsz > m->payload_len)
			return fail(why, -EBADMSG,
				    whyf("argsz %u is larger than the %zu "
					 "payload bytes that came",
					 argsz, m->payload_len));
		if (argsz < m->payload_len)
			return fail(why, -EBADMSG,
				    whyf("argsz %u but %zu payload bytes came",
					 argsz, m->payload_len));
		return 0;
	}
	/* REPLY_MAX: "should be at least the size of the fixed reply payload
	 * headers defined here" */
	if (argsz < r->reply.fixed)
		return fail(why, -EBADMSG,
			    whyf("argsz %u is smaller than the %u-byte reply "
				 "%s needs",
				 argsz, r->reply.fixed, r->name));
	return 0;
}

/*
 * NEEDED: "In a reply, the server sets argsz field to the size needed for
 * a full payload size. This may be less than the requested maximum size.
 * This may be larger than the requested maximum size: in that case, the
 * full payload is not included in the reply".
 */
static int check_reply_argsz(const struct vfio_user_rule *r,
			     const struct vfio_user_msg *cmd,
			     const struct vfio_user_msg *rep, const char **why)
{
	uint32_t req_argsz, argsz;

	if (r->reply_argsz != VFIO_USER_ARGSZ_NEEDED)
		return VFIO_USER_REPLY_OK;
	req_argsz = argsz_of(cmd);
	argsz = argsz_of(rep);
	if (argsz < r->reply.fixed)
		return fail(why, -EBADMSG,
			    whyf("reply argsz %u is smaller than the %u-byte "
				 "fixed reply",
				 argsz, r->reply.fixed));
	if (argsz <= req_argsz) {
		if (rep->payload_len != argsz)
			return fail(why, -EBADMSG,
				    whyf("reply argsz %u but %zu payload "
					 "bytes came",
					 argsz, rep->payload_len));
		return VFIO_USER_REPLY_OK;
	}
	if (rep->payload_len > req_argsz)
		return fail(why, -EBADMSG,
			    whyf("reply payload of %zu bytes is more than the "
				 "request's argsz %u allows",
				 rep->payload_len, req_argsz));
	return VFIO_USER_REPLY_RETRY;
}

static int check_no_fds(const struct vfio_user_msg *m, const char *what,
			const char **why)
{
	if (m->nfds)
		return fail(why, -EBADMSG,
			    whyf("%s %s takes no fds, got %u", cmd_name(m),
				 what, m->nfds));
	return 0;
}

/* "all other fields must be zero": the 32-bit fields at @offs. */
static int check_zero_fields(const struct vfio_user_msg *m,
			     const char *const *names, const uint8_t *offs,
			     const uint8_t *widths, unsigned int n,
			     unsigned int flags, const char **why)
{
	unsigned int i;
	uint64_t v;

	if (flags & VFIO_USER_CHECK_LENIENT_ZERO)
		return 0;
	for (i = 0; i < n; i++) {
		v = ld_width(m->payload + offs[i], widths[i]);
		if (v)
			return fail(why, -EBADMSG,
				    whyf("%s is 0x%llx in %s: \"all other "
					 "fields must be zero\"",
					 names[i], (unsigned long long)v,
					 cmd_name(m)));
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Per-command request rules                                           */
/* ------------------------------------------------------------------ */

/* "version data ... variable (including terminating NUL)" */
static int check_version_data(const struct vfio_user_msg *m, const char **why)
{
	const uint8_t *data = m->payload + sizeof(struct vfio_user_version);
	size_t n = m->payload_len - sizeof(struct vfio_user_version);
	const uint8_t *nul;

	if (!n)
		return 0;
	nul = memchr(data, 0, n);
	if (!nul)
		return fail(why, -EBADMSG,
			    whyf("the %zu bytes of version data have no "
				 "terminating NUL",
				 n));
	if (nul != data + n - 1)
		return fail(why, -EBADMSG,
			    whyf("%zu bytes follow the NUL that ends the "
				 "version data",
				 (size_t)(data + n - 1 - nul)));
	return 0;
}

int vfio_user_dma_map_access(uint32_t flags, unsigned int nfds,
			     const char **why)
{
	uint32_t mode = flags & VFIO_USER_F_DMA_REGION_MODES;

	if (flags & ~VFIO_USER_F_DMA_REGION_ALL)
		return fail(why, -EBADMSG,
			    whyf("unknown DMA_MAP flag bits 0x%x",
				 flags & ~VFIO_USER_F_DMA_REGION_ALL));
	if (nfds > 1)
		return fail(why, -EBADMSG,
			    whyf("DMA_MAP takes at most one fd, got %u", nfds));
	if (mode == VFIO_USER_F_DMA_REGION_MODES)
		return fail(why, -EBADMSG,
			    "both access-mode bits (mmap and file I/O) set");
	if (mode && !nfds)
		return fail(why, -EBADMSG,
			    whyf("access mode %s needs a file descriptor and "
				 "none came",
				 mode == VFIO_USER_F_DMA_REGION_MMAP
					 ? "mmap"
					 : "file I/O"));
	if (mode == VFIO_USER_F_DMA_REGION_MMAP)
		return VFIO_USER_DMA_ACCESS_MMAP;
	if (mode == VFIO_USER_F_DMA_REGION_FILE_IO)
		return VFIO_USER_DMA_ACCESS_FILE_IO;
	/* "If no access mode flag bit is set, the server should use mmap()
	 * based access if the client provided a file descriptor and
	 * message-based access otherwise." */
	return nfds ? VFIO_USER_DMA_ACCESS_MMAP : VFIO_USER_DMA_ACCESS_MSG;
}

static int check_dma_map(const struct vfio_user_msg *m, unsigned int flags,
			 const char **why)
{
	struct vfio_user_dma_map d;
	int ret;

	memcpy(&d, m->payload, sizeof(d));
	ret = vfio_user_dma_map_access(d.flags, m->nfds, why);
	if (ret < 0)
		return ret;
	if (!d.size)
		return fail(why, -EBADMSG, "DMA_MAP of size 0");
	if (range_wraps(d.addr, d.size))
		return fail(why, -EBADMSG,
			    whyf("address 0x%llx + size 0x%llx runs past 2^64",
				 (unsigned long long)d.addr,
				 (unsigned long long)d.size));
	if (m->nfds && range_wraps(d.offset, d.size))
		return fail(why, -EBADMSG,
			    whyf("offset 0x%llx + size 0x%llx runs past 2^64",
				 (unsigned long long)d.offset,
				 (unsigned long long)d.size));
	/* "offset is the file offset ... or zero if the region is not
	 * mappable" */
	if (!m->nfds && d.offset && !(flags & VFIO_USER_CHECK_LENIENT_ZERO))
		return fail(why, -EBADMSG,
			    whyf("offset 0x%llx without an fd: it is zero if "
				 "the region is not mappable",
				 (unsigned long long)d.offset));
	return 0;
}

static int check_dma_unmap(const struct vfio_user_msg *m, const char **why)
{
	const uint32_t known =
		VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP | VFIO_DMA_UNMAP_FLAG_ALL;
	struct vfio_user_dma_unmap u;
	struct vfio_user_bitmap bm;
	bool dirty;
	uint64_t need;

	memcpy(&u, m->payload, sizeof(u));
	dirty = u.flags & VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP;
	if (u.flags & ~known)
		return fail(why, -EBADMSG,
			    whyf("unknown DMA_UNMAP flag bits 0x%x",
				 u.flags & ~known));
	if (u.flags & VFIO_DMA_UNMAP_FLAG_ALL) {
		if (dirty)
			return fail(why, -EBADMSG,
				    "DMA_UNMAP ALL with GET_DIRTY_BITMAP");
		if (u.addr || u.size)
			return fail(why, -EBADMSG,
				    "DMA_UNMAP ALL wants address and size 0");
	} else if (range_wraps(u.addr, u.size)) {
		return fail(why, -EBADMSG,
			    whyf("address 0x%llx + size 0x%llx runs past 2^64",
				 (unsigned long long)u.addr,
				 (unsigned long long)u.size));
	}
	if (!dirty) {
		if (m->payload_len != sizeof(u))
			return fail(why, -EBADMSG,
				    whyf("payload size %zu is not the 24 bytes "
					 "of a DMA_UNMAP without a bitmap",
					 m->payload_len));
		return 0;
	}
	if (m->payload_len != sizeof(u) + sizeof(bm))
		return fail(why, -EBADMSG,
			    whyf("GET_DIRTY_BITMAP needs the 16-byte bitmap "
				 "struct: payload is %zu, not 40",
				 m->payload_len));
	memcpy(&bm, m->payload + sizeof(u), sizeof(bm));
	if (!is_pow2(bm.pgsize))
		return fail(why, -EBADMSG,
			    whyf("bitmap pgsize 0x%llx is not a power of two",
				 (unsigned long long)bm.pgsize));
	if (__builtin_add_overflow(bm.size, (uint64_t)40, &need) ||
	    u.argsz < need)
		return fail(why, -EBADMSG,
			    whyf("argsz %u cannot hold the 40-byte reply and "
				 "its %llu-byte bitmap",
				 u.argsz, (unsigned long long)bm.size));
	return 0;
}

static int check_set_irqs(const struct vfio_user_msg *m, const char **why)
{
	struct vfio_user_irq_set s;
	uint32_t data, action;
	size_t need;

	memcpy(&s, m->payload, sizeof(s));
	data = s.flags & VFIO_IRQ_SET_DATA_TYPE_MASK;
	action = s.flags & VFIO_IRQ_SET_ACTION_TYPE_MASK;
	if (s.flags &
	    ~(VFIO_IRQ_SET_DATA_TYPE_MASK | VFIO_IRQ_SET_ACTION_TYPE_MASK))
		return fail(why, -EBADMSG,
			    whyf("unknown SET_IRQS flag bits 0x%x",
				 s.flags & ~(VFIO_IRQ_SET_DATA_TYPE_MASK |
					     VFIO_IRQ_SET_ACTION_TYPE_MASK)));
	/* "The flags are mutually exclusive for both sets." */
	if (popcount32(data) != 1)
		return fail(why, -EBADMSG,
			    whyf("flags 0x%x: exactly one DATA flag is needed",
				 s.flags));
	if (popcount32(action) != 1)
		return fail(why, -EBADMSG,
			    whyf("flags 0x%x: exactly one ACTION flag is "
				 "needed",
				 s.flags));
	/* "As a special case, a count (and start) of 0, with data flags of
	 * VFIO_IRQ_SET_DATA_NONE disables all interrupts of the index." */
	if (!s.count && (s.start || data != VFIO_IRQ_SET_DATA_NONE))
		return fail(why, -EBADMSG,
			    "count 0 is only defined with start 0 and "
			    "DATA_NONE");
	if (s.count && s.start > UINT32_MAX - (s.count - 1))
		return fail(why, -EBADMSG,
			    whyf("start %u + count %u runs past 2^32", s.start,
				 s.count));
	need = sizeof(s) + (data == VFIO_IRQ_SET_DATA_BOOL ? s.count : 0);
	if (m->payload_len != need)
		return fail(why, -EBADMSG,
			    whyf("payload size %zu is not the %zu bytes of "
				 "SET_IRQS with %s",
				 m->payload_len, need,
				 data == VFIO_IRQ_SET_DATA_BOOL
					 ? "count booleans"
					 : "no data"));
	if (data == VFIO_IRQ_SET_DATA_EVENTFD) {
		/* "If no file descriptors are provided, this de-assigns" */
		if (m->nfds && m->nfds != s.count)
			return fail(why, -EBADMSG,
				    whyf("DATA_EVENTFD with %u fds for count "
					 "%u (0 or count)",
					 m->nfds, s.count));
	} else if (m->nfds) {
		return fail(why, -EBADMSG,
			    whyf("%u fds without DATA_EVENTFD", m->nfds));
	}
	return 0;
}

static int check_region_access_range(const struct vfio_user_msg *m,
				     const char **why)
{
	struct vfio_user_region_access a;

	memcpy(&a, m->payload, sizeof(a));
	if (range_wraps(a.offset, a.count))
		return fail(why, -EBADMSG,
			    whyf("offset 0x%llx + count %u runs past 2^64",
				 (unsigned long long)a.offset, a.count));
	return 0;
}

static int check_dma_access_range(const struct vfio_user_msg *m,
				  const char **why)
{
	struct vfio_user_dma_region_access a;

	memcpy(&a, m->payload, sizeof(a));
	if (range_wraps(a.addr, a.count))
		return fail(why, -EBADMSG,
			    whyf("address 0x%llx + count 0x%llx runs past 2^64",
				 (unsigned long long)a.addr,
				 (unsigned long long)a.count));
	return 0;
}

static int check_write_multi(const struct vfio_user_msg *m, const char **why)
{
	struct vfio_user_write_multi_data w;
	uint64_t n = ld64(m->payload), i;

	for (i = 0; i < n; i++) {
		memcpy(&w, m->payload + 8 + i * sizeof(w), sizeof(w));
		if (w.count > VFIO_USER_MULTI_DATA)
			return fail(why, -EBADMSG,
				    whyf("write %llu has count %u: \"can only "
					 "describe writes of 8 bytes or less\"",
					 (unsigned long long)i, w.count));
		if (range_wraps(w.offset, w.count))
			return fail(why, -EBADMSG,
				    whyf("write %llu: offset 0x%llx + count %u "
					 "runs past 2^64",
					 (unsigned long long)i,
					 (unsigned long long)w.offset,
					 w.count));
	}
	return 0;
}

static const char *feature_name(uint32_t idx)
{
	switch (idx) {
	case VFIO_DEVICE_FEATURE_MIGRATION:
		return "MIGRATION";
	case VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE:
		return "MIG_DEVICE_STATE";
	case VFIO_DEVICE_FEATURE_DMA_LOGGING_START:
		return "DMA_LOGGING_START";
	case VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP:
		return "DMA_LOGGING_STOP";
	case VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT:
		return "DMA_LOGGING_REPORT";
	}
	return NULL;
}

/* GET / SET each feature supports. */
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

uint64_t vfio_user_dirty_bitmap_size(uint64_t length, uint64_t page_size)
{
	uint64_t pages, words;

	if (!page_size)
		return 0;
	pages = length / page_size + (length % page_size != 0);
	words = pages / 64 + (pages % 64 != 0);
	return words * 8;
}

static int check_device_state(uint32_t state, const char **why)
{
	if (state > VFIO_DEVICE_STATE_MAX)
		return fail(why, -EBADMSG,
			    whyf("device_state %u is no VFIO_DEVICE_STATE_*",
				 state));
	if (state == VFIO_DEVICE_STATE_RUNNING_P2P ||
	    state == VFIO_DEVICE_STATE_PRE_COPY_P2P)
		return fail(why, -EPROTO,
			    whyf("device_state %u is a P2P state, \"not used "
				 "in vfio-user\"",
				 state));
	return 0;
}

static int check_logging_control(const uint8_t *data, size_t len,
				 const char **why)
{
	struct vfio_user_device_feature_dma_logging_control c;
	struct vfio_user_device_feature_dma_logging_range rg;
	uint32_t i;

	if (len < sizeof(c))
		return fail(why, -EBADMSG,
			    whyf("DMA_LOGGING_START data of %zu bytes is less "
				 "than 16",
				 len));
	memcpy(&c, data, sizeof(c));
	if ((len - sizeof(c)) / sizeof(rg) != c.num_ranges ||
	    (len - sizeof(c)) % sizeof(rg))
		return fail(why, -EBADMSG,
			    whyf("DMA_LOGGING_START data of %zu bytes is not "
				 "16 + %u ranges * 16",
				 len, c.num_ranges));
	if (!c.page_size)
		return fail(why, -EBADMSG, "DMA_LOGGING_START page_size 0");
	for (i = 0; i < c.num_ranges; i++) {
		memcpy(&rg, data + sizeof(c) + i * sizeof(rg), sizeof(rg));
		if (range_wraps(rg.iova, rg.length))
			return fail(why, -EBADMSG,
				    whyf("range %u: iova 0x%llx + length "
					 "0x%llx runs past 2^64",
					 i, (unsigned long long)rg.iova,
					 (unsigned long long)rg.length));
	}
	return 0;
}

static int check_logging_report(const uint8_t *data, size_t len,
				const char **why)
{
	struct vfio_user_device_feature_dma_logging_report r;

	if (len < sizeof(r))
		return fail(why, -EBADMSG,
			    whyf("DMA_LOGGING_REPORT data of %zu bytes is less "
				 "than 24",
				 len));
	memcpy(&r, data, sizeof(r));
	/* "page_size ... must be a power of two" */
	if (!is_pow2(r.page_size))
		return fail(why, -EBADMSG,
			    whyf("page_size 0x%llx is not a power of two",
				 (unsigned long long)r.page_size));
	if (range_wraps(r.iova, r.length))
		return fail(why, -EBADMSG,
			    whyf("iova 0x%llx + length 0x%llx runs past 2^64",
				 (unsigned long long)r.iova,
				 (unsigned long long)r.length));
	return 0;
}

/* Feature data a GET reply carries; UINT64_MAX if it depends on more. */
static uint64_t feature_get_size(uint32_t idx, const uint8_t *data, size_t len)
{
	struct vfio_user_device_feature_dma_logging_report r;

	switch (idx) {
	case VFIO_DEVICE_FEATURE_MIGRATION:
		return sizeof(struct vfio_user_device_feature_migration);
	case VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE:
		return sizeof(struct vfio_user_device_feature_mig_state);
	case VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT:
		if (len < sizeof(r))
			return UINT64_MAX;
		memcpy(&r, data, sizeof(r));
		return sizeof(r) +
		       vfio_user_dirty_bitmap_size(r.length, r.page_size);
	}
	return 0;
}

static int check_feature(const struct vfio_user_msg *m, unsigned int flags,
			 const char **why)
{
	const uint32_t ops_mask = VFIO_DEVICE_FEATURE_GET |
				  VFIO_DEVICE_FEATURE_SET |
				  VFIO_DEVICE_FEATURE_PROBE;
	struct vfio_user_device_feature f;
	const uint8_t *data = m->payload + sizeof(f);
	size_t len = m->payload_len - sizeof(f);
	struct vfio_user_device_feature_mig_state st;
	uint32_t idx, ops;
	uint64_t need;
	int ret;

	memcpy(&f, m->payload, sizeof(f));
	idx = f.flags & VFIO_DEVICE_FEATURE_MASK;
	ops = f.flags & ops_mask;
	if (f.flags & ~(VFIO_DEVICE_FEATURE_MASK | ops_mask))
		return fail(
			why, -EBADMSG,
			whyf("unknown DEVICE_FEATURE flag bits 0x%x",
			     f.flags & ~(VFIO_DEVICE_FEATURE_MASK | ops_mask)));
	if (!ops)
		return fail(why, -EBADMSG, "none of GET, SET and PROBE set");
	/* "GET and SET are mutually exclusive, except for use with PROBE" */
	if ((ops & VFIO_DEVICE_FEATURE_GET) &&
	    (ops & VFIO_DEVICE_FEATURE_SET) &&
	    !(ops & VFIO_DEVICE_FEATURE_PROBE))
		return fail(why, -EBADMSG,
			    "GET and SET together without PROBE");
	if (!feature_name(idx))
		return fail(why, -ENOTSUP,
			    whyf("unknown feature index %u", idx));
	/* "data ... is not used for probing"; the reply echoes it */
	if (ops & VFIO_DEVICE_FEATURE_PROBE) {
		if (f.argsz < m->payload_len)
			return fail(
				why, -EBADMSG,
				whyf("argsz %u is smaller than the %zu-byte "
				     "reply (the request echoed)",
				     f.argsz, m->payload_len));
		return 0;
	}
	if (!(feature_ops(idx) & ops))
		return fail(
			why, -EPROTO,
			whyf("feature %s does not take %s", feature_name(idx),
			     ops == VFIO_DEVICE_FEATURE_GET ? "GET" : "SET"));
	if (ops == VFIO_DEVICE_FEATURE_SET) {
		switch (idx) {
		case VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE:
			if (len != sizeof(st) &&
			    !(len > sizeof(st) &&
			      (flags & VFIO_USER_CHECK_LENIENT_ZERO)))
				return fail(why, -EBADMSG,
					    whyf("SET MIG_DEVICE_STATE data of "
						 "%zu bytes is not 8",
						 len));
			memcpy(&st, data, sizeof(st));
			ret = check_device_state(st.device_state, why);
			if (ret < 0)
				return ret;
			/* "ERROR cannot be specified as a device state" */
			if (st.device_state == VFIO_DEVICE_STATE_ERROR)
				return fail(why, -EPROTO,
					    "ERROR cannot be specified as a "
					    "device state");
			break;
		case VFIO_DEVICE_FEATURE_DMA_LOGGING_START:
			ret = check_logging_control(data, len, why);
			if (ret < 0)
				return ret;
			break;
		default:
			/* DMA_LOGGING_STOP: the spec's table is shared with
			 * START; the kernel takes no data. Either is fine. */
			break;
		}
		if (f.argsz < m->payload_len)
			return fail(
				why, -EBADMSG,
				whyf("argsz %u is smaller than the %zu-byte "
				     "reply (the request echoed)",
				     f.argsz, m->payload_len));
		return 0;
	}
	/* GET */
	if (idx == VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT) {
		ret = check_logging_report(data, len, why);
		if (ret < 0)
			return ret;
		if (len != 24 && !(flags & VFIO_USER_CHECK_LENIENT_ZERO))
			return fail(why, -EBADMSG,
				    whyf("GET DMA_LOGGING_REPORT data of %zu "
					 "bytes is not 24",
					 len));
	} else if (len && !(flags & VFIO_USER_CHECK_LENIENT_ZERO)) {
		/* "There is no data field of the request message." */
		return fail(why, -EBADMSG,
			    whyf("GET %s carries %zu data bytes; it takes none",
				 feature_name(idx), len));
	}
	need = sizeof(f) + feature_get_size(idx, data, len);
	if (f.argsz < need)
		return fail(why, -EBADMSG,
			    whyf("argsz %u is smaller than the %llu-byte GET "
				 "%s reply",
				 f.argsz, (unsigned long long)need,
				 feature_name(idx)));
	return 0;
}

static int check_mig_data_read(const struct vfio_user_msg *m, const char **why)
{
	struct vfio_user_mig_data d;

	memcpy(&d, m->payload, sizeof(d));
	/* A reply can only carry size bytes if argsz lets it; a shorter one
	 * would read as "no more migration data". */
	if ((uint64_t)d.argsz < (uint64_t)sizeof(d) + d.size)
		return fail(why, -EBADMSG,
			    whyf("argsz %u is smaller than the 8 + %u bytes "
				 "the reply needs",
				 d.argsz, d.size));
	return 0;
}

static int check_fds_generic(const struct vfio_user_rule *r,
			     const struct vfio_user_msg *m, const char **why)
{
	/* DMA_MAP and SET_IRQS judge their own fds */
	if (r->req_fds == VFIO_USER_FDS_NONE)
		return check_no_fds(m, "request", why);
	return 0;
}

static int check_command_payload(const struct vfio_user_rule *r,
				 const struct vfio_user_msg *m,
				 unsigned int flags, const char **why)
{
	static const char *const info_names[] = { "flags", "num_regions",
						  "num_irqs" };
	static const uint8_t info_offs[] = { 4, 8, 12 }, w4x3[] = { 4, 4, 4 };
	static const char *const rinfo_names[] = { "flags", "cap_offset",
						   "size", "offset" };
	static const uint8_t rinfo_offs[] = { 4, 12, 16, 24 },
			     rinfo_w[] = { 4, 4, 8, 8 };
	static const char *const cnt_names[] = { "flags", "count" };
	static const uint8_t cnt_offs[] = { 4, 12 }, w4x2[] = { 4, 4 };
	int ret;

	ret = check_size(m, &r->req, "request", why);
	if (ret < 0)
		return ret;
	ret = check_req_argsz(r, m, why);
	if (ret < 0)
		return ret;
	ret = check_fds_generic(r, m, why);
	if (ret < 0)
		return ret;

	switch (r->code) {
	case VFIO_USER_VERSION:
		return check_version_data(m, why);
	case VFIO_USER_DMA_MAP:
		return check_dma_map(m, flags, why);
	case VFIO_USER_DMA_UNMAP:
		return check_dma_unmap(m, why);
	case VFIO_USER_DEVICE_GET_INFO:
		return check_zero_fields(m, info_names, info_offs, w4x3, 3,
					 flags, why);
	case VFIO_USER_DEVICE_GET_REGION_INFO:
		return check_zero_fields(m, rinfo_names, rinfo_offs, rinfo_w, 4,
					 flags, why);
	case VFIO_USER_DEVICE_GET_REGION_IO_FDS:
		/* "The client must set flags to zero" */
	case VFIO_USER_DEVICE_GET_IRQ_INFO:
		return check_zero_fields(m, cnt_names, cnt_offs, w4x2, 2, flags,
					 why);
	case VFIO_USER_DEVICE_SET_IRQS:
		return check_set_irqs(m, why);
	case VFIO_USER_REGION_READ:
	case VFIO_USER_REGION_WRITE:
		return check_region_access_range(m, why);
	case VFIO_USER_DMA_READ:
	case VFIO_USER_DMA_WRITE:
		return check_dma_access_range(m, why);
	case VFIO_USER_REGION_WRITE_MULTI:
		return check_write_multi(m, why);
	case VFIO_USER_DEVICE_FEATURE:
		return check_feature(m, flags, why);
	case VFIO_USER_MIG_DATA_READ:
		return check_mig_data_read(m, why);
	}
	return 0;
}

static int check_code(const struct vfio_user_msg *m,
		      const struct vfio_user_rule **out, const char **why)
{
	unsigned int code = m->hdr.command;

	*out = vfio_user_rule(code);
	if (*out)
		return 0;
	if (code == VFIO_USER_DIRTY_PAGES_RESERVED)
		return fail(why, -ENOTSUP,
			    "command 14 is not in the command table (it was "
			    "VFIO_USER_DIRTY_PAGES)");
	return fail(why, -ENOTSUP, whyf("unknown command %u", code));
}

int vfio_user_check_command(const struct vfio_user_msg *msg,
			    enum vfio_user_dir dir, unsigned int flags,
			    const char **why)
{
	const struct vfio_user_rule *r;
	uint32_t type = msg->hdr.flags & VFIO_USER_F_TYPE_MASK;
	bool lenient = flags & VFIO_USER_CHECK_LENIENT_HDR;
	int ret;

	ret = check_envelope(msg, why);
	if (ret < 0)
		return ret;
	if (type != VFIO_USER_F_TYPE_COMMAND)
		return fail(
			why, -EBADMSG,
			whyf("type %u where a command (0) was expected", type));
	/* "Error in a reply message indicates ..."; "It is reserved in a
	 * command message." */
	if (!lenient && (msg->hdr.flags & VFIO_USER_F_ERROR))
		return fail(why, -EBADMSG, "Error bit set in a command");
	if (!lenient && msg->hdr.error)
		return fail(why, -EBADMSG,
			    whyf("error field %u in a command, where it is "
				 "reserved",
				 msg->hdr.error));
	if (!lenient && (msg->hdr.flags & VFIO_USER_F_RESERVED))
		return fail(why, -EBADMSG,
			    whyf("undefined flag bits 0x%x",
				 msg->hdr.flags & VFIO_USER_F_RESERVED));
	ret = check_code(msg, &r, why);
	if (ret < 0)
		return ret;
	if (r->dir != dir)
		return fail(why, -EPROTO,
			    whyf("%s goes %s only", r->name,
				 r->dir == C2S ? "client -> server"
					       : "server -> client"));
	return check_command_payload(r, msg, flags, why);
}

/* ------------------------------------------------------------------ */
/* Per-command reply rules                                             */
/* ------------------------------------------------------------------ */

static int check_version_reply(const struct vfio_user_msg *cmd,
			       const struct vfio_user_msg *rep,
			       const char **why)
{
	struct vfio_user_version c, r;

	memcpy(&c, cmd->payload, sizeof(c));
	memcpy(&r, rep->payload, sizeof(r));
	/* "The major version in the reply must be the same as proposed." */
	if (r.major != c.major)
		return fail(why, -EPROTO,
			    whyf("reply major %u is not the proposed %u",
				 r.major, c.major));
	/* "The minor version in the reply must be equal to or less than the
	 * minor version proposed." */
	if (r.minor > c.minor)
		return fail(why, -EPROTO,
			    whyf("reply minor %u is above the proposed %u",
				 r.minor, c.minor));
	return check_version_data(rep, why);
}

static int check_dma_unmap_reply(const struct vfio_user_msg *cmd,
				 const struct vfio_user_msg *rep,
				 const char **why)
{
	struct vfio_user_dma_unmap c, r;
	struct vfio_user_bitmap bm;
	uint64_t need = sizeof(c);

	memcpy(&c, cmd->payload, sizeof(c));
	memcpy(&r, rep->payload, sizeof(r));
	if (r.addr != c.addr || r.size != c.size)
		return fail(why, -EPROTO,
			    whyf("reply entry 0x%llx+0x%llx is not the "
				 "request's 0x%llx+0x%llx",
				 (unsigned long long)r.addr,
				 (unsigned long long)r.size,
				 (unsigned long long)c.addr,
				 (unsigned long long)c.size));
	if (c.flags & VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP) {
		memcpy(&bm, cmd->payload + sizeof(c), sizeof(bm));
		need += sizeof(bm) + bm.size;
	}
	if (rep->payload_len != need)
		return fail(why, -EBADMSG,
			    whyf("reply payload of %zu bytes is not the %llu "
				 "of the echoed entry",
				 rep->payload_len, (unsigned long long)need));
	return 0;
}

static int check_index_echo(const struct vfio_user_msg *cmd,
			    const struct vfio_user_msg *rep, size_t off,
			    const char **why)
{
	uint32_t c = ld32(cmd->payload + off), r = ld32(rep->payload + off);

	if (c != r)
		return fail(
			why, -EPROTO,
			whyf("reply index %u is not the requested %u", r, c));
	return 0;
}

static int check_region_caps(const struct vfio_user_msg *rep,
			     const struct vfio_user_region_info *info,
			     unsigned int flags, uint32_t *nr_areas,
			     const char **why)
{
	struct vfio_user_info_cap_header h;
	struct vfio_user_region_info_cap_sparse_mmap sp;
	struct vfio_user_region_sparse_mmap_area a;
	size_t len = rep->payload_len, steps = 0;
	uint32_t off = info->cap_offset, i;

	*nr_areas = 0;
	if (!(info->flags & VFIO_REGION_INFO_FLAG_CAPS)) {
		if (off && !(flags & VFIO_USER_CHECK_LENIENT_ZERO))
			return fail(
				why, -EBADMSG,
				whyf("cap_offset %u without FLAG_CAPS", off));
		return 0;
	}
	if (!off)
		return fail(why, -EBADMSG, "FLAG_CAPS set but cap_offset is 0");
	while (off) {
		if (off < sizeof(*info))
			return fail(why, -EBADMSG,
				    whyf("capability at %u overlaps the region "
					 "info",
					 off));
		if (off > len || len - off < sizeof(h))
			return fail(why, -EBADMSG,
				    whyf("capability at %u runs past the "
					 "%zu-byte reply",
					 off, len));
		/* every capability takes 8 bytes at least: more of them than
		 * fit means the chain loops */
		if (++steps > len / sizeof(h))
			return fail(why, -EBADMSG, "capability chain loops");
		memcpy(&h, rep->payload + off, sizeof(h));
		if (h.id == VFIO_REGION_INFO_CAP_SPARSE_MMAP) {
			if (len - off < sizeof(sp))
				return fail(why, -EBADMSG,
					    "sparse mmap capability cut short");
			memcpy(&sp, rep->payload + off, sizeof(sp));
			if (h.version != 1)
				return fail(why, -EBADMSG,
					    whyf("sparse mmap capability "
						 "version %u, not 1",
						 h.version));
			if ((len - off - sizeof(sp)) / sizeof(a) < sp.nr_areas)
				return fail(why, -EBADMSG,
					    whyf("%u sparse areas do not fit "
						 "in the reply",
						 sp.nr_areas));
			for (i = 0; i < sp.nr_areas; i++) {
				memcpy(&a,
				       rep->payload + off + sizeof(sp) +
					       (size_t)i * sizeof(a),
				       sizeof(a));
				if (range_wraps(a.offset, a.size) ||
				    a.offset + a.size > info->size)
					return fail(
						why, -EBADMSG,
						whyf("sparse area %u "
						     "0x%llx+0x%llx lies "
						     "outside the region's "
						     "0x%llx bytes",
						     i,
						     (unsigned long long)
							     a.offset,
						     (unsigned long long)a.size,
						     (unsigned long long)
							     info->size));
			}
			*nr_areas += sp.nr_areas;
		} else if (h.id == VFIO_REGION_INFO_CAP_TYPE) {
			if (len - off <
			    sizeof(struct vfio_user_region_info_cap_type))
				return fail(why, -EBADMSG,
					    "type capability cut short");
		}
		/* other VFIO capability ids are legal and skipped */
		off = h.next;
	}
	return 0;
}

static int check_region_info_reply(const struct vfio_user_msg *cmd,
				   const struct vfio_user_msg *rep,
				   unsigned int flags, int kind,
				   const char **why)
{
	const uint32_t known =
		VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE |
		VFIO_REGION_INFO_FLAG_MMAP | VFIO_REGION_INFO_FLAG_CAPS;
	struct vfio_user_region_info info;
	uint32_t nr_areas = 0;
	int ret;

	ret = check_index_echo(cmd, rep, 8, why);
	if (ret < 0)
		return ret;
	memcpy(&info, rep->payload, sizeof(info));
	if ((info.flags & ~known) && !(flags & VFIO_USER_CHECK_LENIENT_HDR))
		return fail(why, -EBADMSG,
			    whyf("unknown region flag bits 0x%x",
				 info.flags & ~known));
	if (kind == VFIO_USER_REPLY_OK) {
		ret = check_region_caps(rep, &info, flags, &nr_areas, why);
		if (ret < 0)
			return ret;
	}
	if (!(info.flags & VFIO_REGION_INFO_FLAG_MMAP)) {
		if (rep->nfds)
			return fail(why, -EBADMSG,
				    whyf("%u fds for a region without "
					 "FLAG_MMAP",
					 rep->nfds));
		return 0;
	}
	if (kind == VFIO_USER_REPLY_RETRY) {
		if (rep->nfds > 1)
			return fail(why, -EBADMSG,
				    whyf("%u fds in a reply cut short by "
					 "argsz",
					 rep->nfds));
		return 0;
	}
	/* "When this flag is set, the reply will include a file descriptor
	 * in its meta-data." libvfio-user sends one per sparse area. */
	if (!rep->nfds)
		return fail(why, -EBADMSG, "FLAG_MMAP but no fd came");
	if (rep->nfds > 1 && rep->nfds != nr_areas)
		return fail(why, -EBADMSG,
			    whyf("%u fds: one per region (or one per sparse "
				 "area, %u) expected",
				 rep->nfds, nr_areas));
	return 0;
}

static int check_io_fds_reply(const struct vfio_user_msg *cmd,
			      const struct vfio_user_msg *rep,
			      unsigned int flags, int kind, const char **why)
{
	struct vfio_user_region_io_fds h;
	struct vfio_user_sub_region_io_fd e;
	size_t body, stride;
	uint32_t i, known;
	int ret;

	ret = check_index_echo(cmd, rep, 8, why);
	if (ret < 0)
		return ret;
	memcpy(&h, rep->payload, sizeof(h));
	/* "flags must be zero" */
	if (h.flags)
		return fail(why, -EBADMSG,
			    whyf("reply flags 0x%x: \"flags must be zero\"",
				 h.flags));
	if (kind == VFIO_USER_REPLY_RETRY)
		return 0;
	body = rep->payload_len - sizeof(h);
	if (!h.count) {
		if (body)
			return fail(why, -EBADMSG,
				    whyf("count 0 but %zu bytes of sub-regions",
					 body));
		if (rep->nfds)
			return fail(
				why, -EBADMSG,
				whyf("%u fds without sub-regions", rep->nfds));
		return 0;
	}
	/*
	 * The spec's "i * ((argsz - 32) / count)" cannot be right: the array
	 * starts at offset 16. Entries are (argsz - 16) / count apart, at
	 * least the 40 bytes of the format ("not to be relied on").
	 */
	stride = body / h.count;
	if (body % h.count || stride < sizeof(e))
		return fail(why, -EBADMSG,
			    whyf("%zu bytes of sub-regions are not %u entries "
				 "of 40 bytes or more",
				 body, h.count));
	if (!rep->nfds)
		return fail(why, -EBADMSG,
			    "sub-regions but no fd: \"will additionally "
			    "include at least one file descriptor\"");
	for (i = 0; i < h.count; i++) {
		memcpy(&e, rep->payload + sizeof(h) + i * stride, sizeof(e));
		if (e.type == VFIO_USER_IO_FD_TYPE_IOEVENTFD) {
			known = KVM_IOEVENTFD_FLAG_DATAMATCH |
				KVM_IOEVENTFD_FLAG_PIO |
				KVM_IOEVENTFD_FLAG_VIRTIO_CCW_NOTIFY;
		} else if (e.type == VFIO_USER_IO_FD_TYPE_IOREGIONFD) {
			known = KVM_IOREGION_PIO | KVM_IOREGION_POSTED_WRITES;
			/* "KVM_IOREGION_POSTED_WRITES must be set in flags in
			 * this case" (size 0) */
			if (!e.size && !(e.flags & KVM_IOREGION_POSTED_WRITES))
				return fail(why, -EBADMSG,
					    whyf("sub-region %u: ioregionfd of "
						 "size 0 without POSTED_WRITES",
						 i));
		} else {
			return fail(why, -EBADMSG,
				    whyf("sub-region %u: unknown type %u", i,
					 e.type));
		}
		if ((e.flags & ~known) &&
		    !(flags & VFIO_USER_CHECK_LENIENT_HDR))
			return fail(why, -EBADMSG,
				    whyf("sub-region %u: unknown flags 0x%x", i,
					 e.flags & ~known));
		if (e.fd_index >= rep->nfds)
			return fail(why, -EBADMSG,
				    whyf("sub-region %u: fd_index %u but %u "
					 "fds came",
					 i, e.fd_index, rep->nfds));
		if (range_wraps(e.offset, e.size))
			return fail(why, -EBADMSG,
				    whyf("sub-region %u: offset 0x%llx + size "
					 "0x%llx runs past 2^64",
					 i, (unsigned long long)e.offset,
					 (unsigned long long)e.size));
	}
	return 0;
}

static int check_region_access_reply(const struct vfio_user_msg *cmd,
				     const struct vfio_user_msg *rep,
				     const char **why)
{
	struct vfio_user_region_access c, r;

	memcpy(&c, cmd->payload, sizeof(c));
	memcpy(&r, rep->payload, sizeof(r));
	if (r.offset != c.offset || r.region != c.region)
		return fail(why, -EPROTO,
			    whyf("reply region %u offset 0x%llx is not the "
				 "request's %u 0x%llx",
				 r.region, (unsigned long long)r.offset,
				 c.region, (unsigned long long)c.offset));
	if (r.count != c.count)
		return fail(why, -EPROTO,
			    whyf("reply count %u is not the requested %u",
				 r.count, c.count));
	return 0;
}

static int check_dma_access_reply(const struct vfio_user_msg *cmd,
				  const struct vfio_user_msg *rep,
				  const char **why)
{
	struct vfio_user_dma_region_access c;
	uint64_t addr, count;

	memcpy(&c, cmd->payload, sizeof(c));
	addr = ld64(rep->payload);
	/* the DMA_WRITE reply's count is 4 bytes in the spec, 8 in
	 * libvfio-user */
	count = ld_width(rep->payload + 8, rep->payload_len == 12 ? 4 : 8);
	if (addr != c.addr)
		return fail(why, -EPROTO,
			    whyf("reply address 0x%llx is not the request's "
				 "0x%llx",
				 (unsigned long long)addr,
				 (unsigned long long)c.addr));
	if (count != c.count)
		return fail(why, -EPROTO,
			    whyf("reply count %llu is not the requested %llu",
				 (unsigned long long)count,
				 (unsigned long long)c.count));
	return 0;
}

static int check_write_multi_reply(const struct vfio_user_msg *cmd,
				   const struct vfio_user_msg *rep,
				   const char **why)
{
	uint64_t c = ld64(cmd->payload), r = ld64(rep->payload);

	/* "wr_cnt is the number of device writes completed" */
	if (r > c)
		return fail(why, -EPROTO,
			    whyf("%llu writes completed of %llu sent",
				 (unsigned long long)r, (unsigned long long)c));
	return 0;
}

static int check_report_bitmap(const uint8_t *data, size_t len,
			       const uint8_t *req, const char **why)
{
	struct vfio_user_device_feature_dma_logging_report c, r;
	uint64_t pages, bytes, word, w;

	memcpy(&c, req, sizeof(c));
	memcpy(&r, data, sizeof(r));
	if (r.iova != c.iova || r.length != c.length ||
	    r.page_size != c.page_size)
		return fail(why, -EPROTO,
			    "REPORT reply iova / length / page_size differ "
			    "from the request (\"identical, except with the "
			    "bitmap added\")");
	bytes = vfio_user_dirty_bitmap_size(c.length, c.page_size);
	if (len != sizeof(r) + bytes)
		return fail(why, -EBADMSG,
			    whyf("REPORT reply data of %zu bytes is not 24 + "
				 "%llu of bitmap",
				 len, (unsigned long long)bytes));
	/* "The bits outside of the requested range must be zero." The
	 * bitmap is host-endian u64 words: page p is bit p % 64 of word
	 * p / 64 (not the spec's formula, which indexes words by page). */
	pages = c.length / c.page_size + (c.length % c.page_size != 0);
	for (w = pages / 64; w < bytes / 8; w++) {
		word = ld64(data + sizeof(r) + w * 8);
		if (w == pages / 64)
			word &= ~0ull << (pages % 64);
		if (word)
			return fail(why, -EPROTO,
				    whyf("bitmap has bits set past the %llu "
					 "pages asked for",
					 (unsigned long long)pages));
	}
	return 0;
}

static int check_feature_reply(const struct vfio_user_msg *cmd,
			       const struct vfio_user_msg *rep,
			       const struct vfio_user_rule *r, int *kind,
			       const char **why)
{
	struct vfio_user_device_feature c, f;
	const uint8_t *cdata = cmd->payload + sizeof(c);
	const uint8_t *data = rep->payload + sizeof(f);
	size_t clen = cmd->payload_len - sizeof(c);
	size_t len = rep->payload_len - sizeof(f);
	struct vfio_user_device_feature_migration mig;
	struct vfio_user_device_feature_mig_state st;
	uint32_t idx;
	size_t skip;
	int ret;

	memcpy(&c, cmd->payload, sizeof(c));
	memcpy(&f, rep->payload, sizeof(f));
	idx = c.flags & VFIO_DEVICE_FEATURE_MASK;
	if (f.flags != c.flags)
		return fail(why, -EPROTO,
			    whyf("reply flags 0x%x are not the request's 0x%x",
				 f.flags, c.flags));
	if (!(c.flags & VFIO_DEVICE_FEATURE_GET) ||
	    (c.flags & VFIO_DEVICE_FEATURE_PROBE)) {
		/* "The reply payload must be the same as the request payload
		 * for setting or probing a feature." START may change
		 * page_size ("unless the page size was changed"). */
		if (f.argsz != c.argsz && f.argsz != rep->payload_len)
			return fail(why, -EBADMSG,
				    whyf("reply argsz %u is neither the "
					 "request's %u nor the payload's %zu",
					 f.argsz, c.argsz, rep->payload_len));
		skip = (idx == VFIO_DEVICE_FEATURE_DMA_LOGGING_START &&
			!(c.flags & VFIO_DEVICE_FEATURE_PROBE) && clen >= 8)
			       ? 8
			       : 0;
		if (len != clen ||
		    memcmp(data + skip, cdata + skip, len - skip))
			return fail(why, -EPROTO,
				    "SET / PROBE reply data differ from the "
				    "request's");
		return 0;
	}
	*kind = check_reply_argsz(r, cmd, rep, why);
	if (*kind != VFIO_USER_REPLY_OK)
		return *kind < 0 ? *kind : 0;
	switch (idx) {
	case VFIO_DEVICE_FEATURE_MIGRATION:
		if (len != sizeof(mig))
			return fail(why, -EBADMSG,
				    whyf("GET MIGRATION data of %zu bytes is "
					 "not 8",
					 len));
		memcpy(&mig, data, sizeof(mig));
		/* "at least VFIO_MIGRATION_STOP_COPY must be set" */
		if (!(mig.flags & VFIO_MIGRATION_STOP_COPY))
			return fail(why, -EPROTO,
				    whyf("migration flags 0x%llx lack "
					 "STOP_COPY",
					 (unsigned long long)mig.flags));
		return 0;
	case VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE:
		if (len != sizeof(st))
			return fail(why, -EBADMSG,
				    whyf("GET MIG_DEVICE_STATE data of %zu "
					 "bytes is not 8",
					 len));
		memcpy(&st, data, sizeof(st));
		ret = check_device_state(st.device_state, why);
		return ret < 0 ? ret : 0;
	case VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT:
		if (len < 24)
			return fail(why, -EBADMSG,
				    whyf("REPORT reply data of %zu bytes is "
					 "less than 24",
					 len));
		return check_report_bitmap(data, len, cdata, why);
	}
	return 0;
}

static int check_reply_fds(const struct vfio_user_rule *r,
			   const struct vfio_user_msg *rep, const char **why)
{
	if (r->reply_fds == VFIO_USER_FDS_NONE)
		return check_no_fds(rep, "reply", why);
	return 0;
}

static int check_reply_payload(const struct vfio_user_rule *r,
			       const struct vfio_user_msg *cmd,
			       const struct vfio_user_msg *rep,
			       unsigned int flags, const char **why)
{
	int kind = VFIO_USER_REPLY_OK, ret;

	ret = check_size(rep, &r->reply, "reply", why);
	if (ret < 0)
		return ret;
	ret = check_reply_fds(r, rep, why);
	if (ret < 0)
		return ret;
	if (r->code != VFIO_USER_DEVICE_FEATURE) {
		kind = check_reply_argsz(r, cmd, rep, why);
		if (kind < 0)
			return kind;
	}

	switch (r->code) {
	case VFIO_USER_VERSION:
		ret = check_version_reply(cmd, rep, why);
		break;
	case VFIO_USER_DMA_UNMAP:
		ret = check_dma_unmap_reply(cmd, rep, why);
		break;
	case VFIO_USER_DEVICE_GET_INFO: {
		struct vfio_user_device_info d;
		const uint32_t known =
			VFIO_DEVICE_FLAGS_RESET | VFIO_DEVICE_FLAGS_PCI;

		memcpy(&d, rep->payload, sizeof(d));
		if ((d.flags & ~known) &&
		    !(flags & VFIO_USER_CHECK_LENIENT_HDR))
			ret = fail(why, -EBADMSG,
				   whyf("unknown device flag bits 0x%x",
					d.flags & ~known));
		/* "This version of the protocol only supports PCI devices." */
		else if (!(d.flags & VFIO_DEVICE_FLAGS_PCI))
			ret = fail(why, -EPROTO,
				   "device flags lack VFIO_DEVICE_FLAGS_PCI");
		break;
	}
	case VFIO_USER_DEVICE_GET_REGION_INFO:
		ret = check_region_info_reply(cmd, rep, flags, kind, why);
		break;
	case VFIO_USER_DEVICE_GET_REGION_IO_FDS:
		ret = check_io_fds_reply(cmd, rep, flags, kind, why);
		break;
	case VFIO_USER_DEVICE_GET_IRQ_INFO: {
		const uint32_t known =
			VFIO_IRQ_INFO_EVENTFD | VFIO_IRQ_INFO_MASKABLE |
			VFIO_IRQ_INFO_AUTOMASKED | VFIO_IRQ_INFO_NORESIZE;
		uint32_t f = ld32(rep->payload + 4);

		ret = check_index_echo(cmd, rep, 8, why);
		if (!ret && (f & ~known) &&
		    !(flags & VFIO_USER_CHECK_LENIENT_HDR))
			ret = fail(why, -EBADMSG,
				   whyf("unknown IRQ info flag bits 0x%x",
					f & ~known));
		break;
	}
	case VFIO_USER_REGION_READ:
	case VFIO_USER_REGION_WRITE:
		ret = check_region_access_reply(cmd, rep, why);
		break;
	case VFIO_USER_DMA_READ:
	case VFIO_USER_DMA_WRITE:
		ret = check_dma_access_reply(cmd, rep, why);
		break;
	case VFIO_USER_REGION_WRITE_MULTI:
		ret = check_write_multi_reply(cmd, rep, why);
		break;
	case VFIO_USER_DEVICE_FEATURE:
		ret = check_feature_reply(cmd, rep, r, &kind, why);
		break;
	case VFIO_USER_MIG_DATA_READ: {
		uint32_t asked = ld32(cmd->payload + 4);
		uint32_t got = ld32(rep->payload + 4);

		if (got > asked)
			ret = fail(why, -EPROTO,
				   whyf("%u bytes of migration data for %u "
					"asked",
					got, asked));
		break;
	}
	}
	return ret < 0 ? ret : kind;
}

int vfio_user_check_reply(const struct vfio_user_msg *cmd,
			  const struct vfio_user_msg *reply, unsigned int flags,
			  const char **why)
{
	const struct vfio_user_rule *r;
	uint32_t type = reply->hdr.flags & VFIO_USER_F_TYPE_MASK;
	bool lenient = flags & VFIO_USER_CHECK_LENIENT_HDR;
	const char *ignored;
	int ret;

	ret = check_envelope(reply, why);
	if (ret < 0)
		return ret;
	if (type != VFIO_USER_F_TYPE_REPLY)
		return fail(
			why, -EBADMSG,
			whyf("type %u where a reply (1) was expected", type));
	if (reply->hdr.flags & VFIO_USER_F_NO_REPLY)
		return fail(why, -EBADMSG, "No_reply set in a reply");
	if (!lenient && (reply->hdr.flags & VFIO_USER_F_RESERVED))
		return fail(why, -EBADMSG,
			    whyf("undefined flag bits 0x%x",
				 reply->hdr.flags & VFIO_USER_F_RESERVED));
	/* "Message ID ... is echoed in the command's reply message." */
	if (reply->hdr.msg_id != cmd->hdr.msg_id)
		return fail(why, -EPROTO,
			    whyf("reply msg_id %u is not the command's %u",
				 reply->hdr.msg_id, cmd->hdr.msg_id));
	/* "Command ... It is also set in the reply header." */
	if (reply->hdr.command != cmd->hdr.command)
		return fail(why, -EPROTO,
			    whyf("reply command %u is not the command's %u",
				 reply->hdr.command, cmd->hdr.command));
	if (cmd->hdr.flags & VFIO_USER_F_NO_REPLY)
		return fail(why, -EPROTO,
			    "a reply to a command sent with No_reply");
	if (reply->hdr.flags & VFIO_USER_F_ERROR) {
		/* "If an error occurs, the reply message must only include
		 * the reply header." The errno "may be zero". */
		if (reply->payload_len)
			return fail(why, -EBADMSG,
				    whyf("error reply with %zu payload bytes: "
					 "it must only include the header",
					 reply->payload_len));
		if (reply->nfds)
			return fail(
				why, -EBADMSG,
				whyf("error reply with %u fds", reply->nfds));
		return VFIO_USER_REPLY_ERROR;
	}
	if (!lenient && reply->hdr.error)
		return fail(why, -EBADMSG,
			    whyf("error field %u without the Error bit",
				 reply->hdr.error));
	ret = check_code(reply, &r, why);
	if (ret < 0)
		return ret;
	/* Judging the payload needs a legal command to compare with. */
	if (vfio_user_check_command(cmd, r->dir, VFIO_USER_CHECK_LENIENT,
				    &ignored) < 0)
		return VFIO_USER_REPLY_OK;
	return check_reply_payload(r, cmd, reply, flags, why);
}

/* ------------------------------------------------------------------ */
/* Data-transfer counts                                                */
/* ------------------------------------------------------------------ */

int vfio_user_xfer_count(const struct vfio_user_msg *msg, uint64_t *count,
			 const char **why)
{
	size_t off, width, need;

	if (msg->hdr.flags & VFIO_USER_F_ERROR)
		return 0;
	switch (msg->hdr.command) {
	case VFIO_USER_REGION_READ:
	case VFIO_USER_REGION_WRITE:
		off = 12, width = 4;
		break;
	case VFIO_USER_DMA_READ:
	case VFIO_USER_DMA_WRITE:
		off = 8;
		width = (is_reply(msg) &&
			 msg->hdr.command == VFIO_USER_DMA_WRITE &&
			 msg->payload_len == 12)
				? 4
				: 8;
		break;
	case VFIO_USER_MIG_DATA_READ:
	case VFIO_USER_MIG_DATA_WRITE:
		off = 4, width = 4;
		break;
	default:
		return 0;
	}
	need = off + width;
	if (msg->payload_len < need)
		return fail(why, -EBADMSG,
			    whyf("%zu payload bytes cannot hold the count of "
				 "%s",
				 msg->payload_len, cmd_name(msg)));
	*count = ld_width(msg->payload + off, (unsigned int)width);
	return 1;
}

int vfio_user_check_xfer(const struct vfio_user_msg *msg,
			 uint64_t max_data_xfer_size, const char **why)
{
	uint64_t count;
	int ret;

	ret = vfio_user_xfer_count(msg, &count, why);
	if (ret <= 0)
		return ret;
	/* "The count field must not exceed the value of max_data_xfer_size
	 * of the peer, for both reads and writes." */
	if (count > max_data_xfer_size)
		return fail(why, -EMSGSIZE,
			    whyf("%s count %llu exceeds max_data_xfer_size "
				 "%llu",
				 cmd_name(msg), (unsigned long long)count,
				 (unsigned long long)max_data_xfer_size));
	return 0;
}

/* ------------------------------------------------------------------ */
/* Builders                                                            */
/* ------------------------------------------------------------------ */

static struct vfio_user_hdr cmd_hdr(uint16_t msg_id, uint16_t command)
{
	struct vfio_user_hdr h = {
		.msg_id = msg_id,
		.command = command,
		.flags = VFIO_USER_F_TYPE_COMMAND,
	};

	return h;
}

static struct vfio_user_hdr reply_hdr(const struct vfio_user_hdr *cmd)
{
	struct vfio_user_hdr h = {
		.msg_id = cmd->msg_id,
		.command = cmd->command,
		.flags = VFIO_USER_F_TYPE_REPLY,
	};

	return h;
}

/*
 * Header, then @fixed, then @tail (zeros if @tail is NULL), into @buf;
 * msg_size set to the total; @msg views it.
 */
static int build(struct vfio_user_msg *msg, uint8_t *buf, size_t cap,
		 const struct vfio_user_hdr *h, const void *fixed,
		 size_t fixed_len, const void *tail, uint64_t tail_len,
		 const int *fds, unsigned int nfds)
{
	struct vfio_user_hdr hdr = *h;
	uint64_t total = VFIO_USER_HDR_SIZE + (uint64_t)fixed_len;

	if (!msg || (!buf && cap) || (nfds && !fds))
		return -EINVAL;
	if (nfds > VFIO_USER_MSG_FDS_MAX)
		return -EMSGSIZE;
	if (tail_len > INT_MAX || total + tail_len > INT_MAX)
		return -EMSGSIZE;
	total += tail_len;
	if (cap < total)
		return -ENOSPC;
	hdr.msg_size = (uint32_t)total;
	memcpy(buf, &hdr, sizeof(hdr));
	if (fixed_len)
		memcpy(buf + VFIO_USER_HDR_SIZE, fixed, fixed_len);
	if (tail_len) {
		if (tail)
			memcpy(buf + VFIO_USER_HDR_SIZE + fixed_len, tail,
			       (size_t)tail_len);
		else
			memset(buf + VFIO_USER_HDR_SIZE + fixed_len, 0,
			       (size_t)tail_len);
	}
	vfio_user_msg_init(msg);
	msg->hdr = hdr;
	msg->payload = buf + VFIO_USER_HDR_SIZE;
	msg->payload_len = (size_t)total - VFIO_USER_HDR_SIZE;
	vfio_user_msg_set_fds(msg, fds, nfds);
	return (int)total;
}

static int build_cmd(struct vfio_user_msg *msg, uint8_t *buf, size_t cap,
		     uint16_t msg_id, uint16_t command, const void *fixed,
		     size_t fixed_len, const void *tail, uint64_t tail_len,
		     const int *fds, unsigned int nfds)
{
	struct vfio_user_hdr h = cmd_hdr(msg_id, command);

	return build(msg, buf, cap, &h, fixed, fixed_len, tail, tail_len, fds,
		     nfds);
}

static int build_rep(struct vfio_user_msg *msg, uint8_t *buf, size_t cap,
		     const struct vfio_user_hdr *cmd, const void *fixed,
		     size_t fixed_len, const void *tail, uint64_t tail_len,
		     const int *fds, unsigned int nfds)
{
	struct vfio_user_hdr h = reply_hdr(cmd);

	return build(msg, buf, cap, &h, fixed, fixed_len, tail, tail_len, fds,
		     nfds);
}

int vfio_user_build_version(struct vfio_user_msg *msg, uint8_t *buf, size_t cap,
			    uint16_t msg_id, uint16_t major, uint16_t minor,
			    const char *json)
{
	struct vfio_user_version v = { .major = major, .minor = minor };

	return build_cmd(msg, buf, cap, msg_id, VFIO_USER_VERSION, &v,
			 sizeof(v), json, json ? strlen(json) + 1 : 0, NULL, 0);
}

int vfio_user_build_dma_map(struct vfio_user_msg *msg, uint8_t *buf, size_t cap,
			    uint16_t msg_id, uint32_t flags, uint64_t offset,
			    uint64_t addr, uint64_t size, int fd)
{
	struct vfio_user_dma_map d = {
		.argsz = sizeof(d),
		.flags = flags,
		.offset = offset,
		.addr = addr,
		.size = size,
	};

	return build_cmd(msg, buf, cap, msg_id, VFIO_USER_DMA_MAP, &d,
			 sizeof(d), NULL, 0, &fd, fd >= 0 ? 1 : 0);
}

int vfio_user_build_dma_unmap(struct vfio_user_msg *msg, uint8_t *buf,
			      size_t cap, uint16_t msg_id, uint32_t flags,
			      uint64_t addr, uint64_t size,
			      const struct vfio_user_bitmap *bitmap)
{
	struct vfio_user_dma_unmap u = {
		.argsz = sizeof(u),
		.flags = flags,
		.addr = addr,
		.size = size,
	};
	uint64_t argsz;

	if (!bitmap)
		return build_cmd(msg, buf, cap, msg_id, VFIO_USER_DMA_UNMAP, &u,
				 sizeof(u), NULL, 0, NULL, 0);
	argsz = sizeof(u) + sizeof(*bitmap) + bitmap->size;
	if (bitmap->size > UINT32_MAX || argsz > UINT32_MAX)
		return -EINVAL;
	u.argsz = (uint32_t)argsz;
	u.flags |= VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP;
	return build_cmd(msg, buf, cap, msg_id, VFIO_USER_DMA_UNMAP, &u,
			 sizeof(u), bitmap, sizeof(*bitmap), NULL, 0);
}

int vfio_user_build_device_get_info(struct vfio_user_msg *msg, uint8_t *buf,
				    size_t cap, uint16_t msg_id, uint32_t argsz)
{
	struct vfio_user_device_info d = {
		.argsz = argsz ? argsz : sizeof(d),
	};

	return build_cmd(msg, buf, cap, msg_id, VFIO_USER_DEVICE_GET_INFO, &d,
			 sizeof(d), NULL, 0, NULL, 0);
}

int vfio_user_build_region_info(struct vfio_user_msg *msg, uint8_t *buf,
				size_t cap, uint16_t msg_id, uint32_t argsz,
				uint32_t index)
{
	struct vfio_user_region_info r = {
		.argsz = argsz ? argsz : sizeof(r),
		.index = index,
	};

	return build_cmd(msg, buf, cap, msg_id,
			 VFIO_USER_DEVICE_GET_REGION_INFO, &r, sizeof(r), NULL,
			 0, NULL, 0);
}

int vfio_user_build_region_io_fds(struct vfio_user_msg *msg, uint8_t *buf,
				  size_t cap, uint16_t msg_id, uint32_t argsz,
				  uint32_t index)
{
	struct vfio_user_region_io_fds r = {
		.argsz = argsz ? argsz : sizeof(r),
		.index = index,
	};

	return build_cmd(msg, buf, cap, msg_id,
			 VFIO_USER_DEVICE_GET_REGION_IO_FDS, &r, sizeof(r),
			 NULL, 0, NULL, 0);
}

int vfio_user_build_irq_info(struct vfio_user_msg *msg, uint8_t *buf,
			     size_t cap, uint16_t msg_id, uint32_t argsz,
			     uint32_t index)
{
	struct vfio_user_irq_info r = {
		.argsz = argsz ? argsz : sizeof(r),
		.index = index,
	};

	return build_cmd(msg, buf, cap, msg_id, VFIO_USER_DEVICE_GET_IRQ_INFO,
			 &r, sizeof(r), NULL, 0, NULL, 0);
}

int vfio_user_build_set_irqs(struct vfio_user_msg *msg, uint8_t *buf,
			     size_t cap, uint16_t msg_id, uint32_t flags,
			     uint32_t index, uint32_t start, uint32_t count,
			     const uint8_t *bools, const int *fds,
			     unsigned int nfds)
{
	bool with_bools = flags & VFIO_IRQ_SET_DATA_BOOL;
	struct vfio_user_irq_set s = {
		.flags = flags,
		.index = index,
		.start = start,
		.count = count,
	};
	uint64_t argsz = sizeof(s) + (with_bools ? (uint64_t)count : 0);

	if (argsz > UINT32_MAX)
		return -EINVAL;
	s.argsz = (uint32_t)argsz;
	return build_cmd(msg, buf, cap, msg_id, VFIO_USER_DEVICE_SET_IRQS, &s,
			 sizeof(s), with_bools ? bools : NULL,
			 with_bools ? count : 0, fds, nfds);
}

int vfio_user_build_region_read(struct vfio_user_msg *msg, uint8_t *buf,
				size_t cap, uint16_t msg_id, uint32_t region,
				uint64_t offset, uint32_t count)
{
	struct vfio_user_region_access a = {
		.offset = offset,
		.region = region,
		.count = count,
	};

	return build_cmd(msg, buf, cap, msg_id, VFIO_USER_REGION_READ, &a,
			 sizeof(a), NULL, 0, NULL, 0);
}

int vfio_user_build_region_write(struct vfio_user_msg *msg, uint8_t *buf,
				 size_t cap, uint16_t msg_id, uint32_t region,
				 uint64_t offset, const void *data,
				 uint32_t count)
{
	struct vfio_user_region_access a = {
		.offset = offset,
		.region = region,
		.count = count,
	};

	return build_cmd(msg, buf, cap, msg_id, VFIO_USER_REGION_WRITE, &a,
			 sizeof(a), data, count, NULL, 0);
}

int vfio_user_build_dma_read(struct vfio_user_msg *msg, uint8_t *buf,
			     size_t cap, uint16_t msg_id, uint64_t addr,
			     uint64_t count)
{
	struct vfio_user_dma_region_access a = { .addr = addr, .count = count };

	return build_cmd(msg, buf, cap, msg_id, VFIO_USER_DMA_READ, &a,
			 sizeof(a), NULL, 0, NULL, 0);
}

int vfio_user_build_dma_write(struct vfio_user_msg *msg, uint8_t *buf,
			      size_t cap, uint16_t msg_id, uint64_t addr,
			      const void *data, uint64_t count)
{
	struct vfio_user_dma_region_access a = { .addr = addr, .count = count };

	return build_cmd(msg, buf, cap, msg_id, VFIO_USER_DMA_WRITE, &a,
			 sizeof(a), data, count, NULL, 0);
}

int vfio_user_build_device_reset(struct vfio_user_msg *msg, uint8_t *buf,
				 size_t cap, uint16_t msg_id)
{
	return build_cmd(msg, buf, cap, msg_id, VFIO_USER_DEVICE_RESET, NULL, 0,
			 NULL, 0, NULL, 0);
}

int vfio_user_build_region_write_multi(
	struct vfio_user_msg *msg, uint8_t *buf, size_t cap, uint16_t msg_id,
	const struct vfio_user_write_multi_data *wrs, uint64_t n)
{
	struct vfio_user_write_multi w = { .wr_cnt = n };

	if (n > INT_MAX / sizeof(*wrs))
		return -EMSGSIZE;
	return build_cmd(msg, buf, cap, msg_id, VFIO_USER_REGION_WRITE_MULTI,
			 &w, sizeof(w), wrs, n * sizeof(*wrs), NULL, 0);
}

int vfio_user_build_device_feature(struct vfio_user_msg *msg, uint8_t *buf,
				   size_t cap, uint16_t msg_id, uint32_t argsz,
				   uint32_t flags, const void *data,
				   size_t data_len)
{
	struct vfio_user_device_feature f = { .argsz = argsz, .flags = flags };
	uint64_t need = sizeof(f) + (uint64_t)data_len;

	if (!argsz) {
		if ((flags & VFIO_DEVICE_FEATURE_GET) &&
		    !(flags & VFIO_DEVICE_FEATURE_PROBE))
			need = sizeof(f) +
			       feature_get_size(
				       flags & VFIO_DEVICE_FEATURE_MASK, data,
				       data_len);
		if (need > UINT32_MAX)
			return -EINVAL;
		f.argsz = (uint32_t)need;
	}
	return build_cmd(msg, buf, cap, msg_id, VFIO_USER_DEVICE_FEATURE, &f,
			 sizeof(f), data, data_len, NULL, 0);
}

int vfio_user_build_mig_state_set(struct vfio_user_msg *msg, uint8_t *buf,
				  size_t cap, uint16_t msg_id,
				  uint32_t device_state)
{
	struct vfio_user_device_feature_mig_state st = {
		.device_state = device_state,
	};

	return vfio_user_build_device_feature(
		msg, buf, cap, msg_id, 0,
		VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE,
		&st, sizeof(st));
}

int vfio_user_build_dma_logging_start(
	struct vfio_user_msg *msg, uint8_t *buf, size_t cap, uint16_t msg_id,
	uint64_t page_size,
	const struct vfio_user_device_feature_dma_logging_range *ranges,
	uint32_t n)
{
	struct {
		struct vfio_user_device_feature f;
		struct vfio_user_device_feature_dma_logging_control c;
	} head = {
		.f.flags = VFIO_DEVICE_FEATURE_SET |
			   VFIO_DEVICE_FEATURE_DMA_LOGGING_START,
		.c.page_size = page_size,
		.c.num_ranges = n,
	};
	uint64_t argsz = sizeof(head) + (uint64_t)n * sizeof(*ranges);

	_Static_assert(sizeof(head) == 24, "no padding");
	if (argsz > UINT32_MAX)
		return -EINVAL;
	head.f.argsz = (uint32_t)argsz;
	return build_cmd(msg, buf, cap, msg_id, VFIO_USER_DEVICE_FEATURE, &head,
			 sizeof(head), ranges, (uint64_t)n * sizeof(*ranges),
			 NULL, 0);
}

int vfio_user_build_dma_logging_report(struct vfio_user_msg *msg, uint8_t *buf,
				       size_t cap, uint16_t msg_id,
				       uint64_t iova, uint64_t length,
				       uint64_t page_size)
{
	struct vfio_user_device_feature_dma_logging_report r = {
		.iova = iova,
		.length = length,
		.page_size = page_size,
	};

	return vfio_user_build_device_feature(
		msg, buf, cap, msg_id, 0,
		VFIO_DEVICE_FEATURE_GET |
			VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT,
		&r, sizeof(r));
}

int vfio_user_build_mig_data_read(struct vfio_user_msg *msg, uint8_t *buf,
				  size_t cap, uint16_t msg_id, uint32_t size)
{
	struct vfio_user_mig_data d = { .size = size };

	if (size > UINT32_MAX - sizeof(d))
		return -EINVAL;
	d.argsz = (uint32_t)sizeof(d) + size;
	return build_cmd(msg, buf, cap, msg_id, VFIO_USER_MIG_DATA_READ, &d,
			 sizeof(d), NULL, 0, NULL, 0);
}

int vfio_user_build_mig_data_write(struct vfio_user_msg *msg, uint8_t *buf,
				   size_t cap, uint16_t msg_id,
				   const void *data, uint32_t size)
{
	struct vfio_user_mig_data d = { .size = size };

	if (size > UINT32_MAX - sizeof(d))
		return -EINVAL;
	d.argsz = (uint32_t)sizeof(d) + size;
	return build_cmd(msg, buf, cap, msg_id, VFIO_USER_MIG_DATA_WRITE, &d,
			 sizeof(d), data, size, NULL, 0);
}

int vfio_user_build_reply(struct vfio_user_msg *msg, uint8_t *buf, size_t cap,
			  const struct vfio_user_hdr *cmd, const void *payload,
			  size_t payload_len, const int *fds, unsigned int nfds)
{
	return build_rep(msg, buf, cap, cmd, NULL, 0, payload, payload_len, fds,
			 nfds);
}

int vfio_user_build_error_reply(struct vfio_user_msg *msg, uint8_t *buf,
				size_t cap, const struct vfio_user_hdr *cmd,
				uint32_t err)
{
	struct vfio_user_hdr h = reply_hdr(cmd);

	h.flags |= VFIO_USER_F_ERROR;
	h.error = err;
	return build(msg, buf, cap, &h, NULL, 0, NULL, 0, NULL, 0);
}

int vfio_user_build_version_reply(struct vfio_user_msg *msg, uint8_t *buf,
				  size_t cap, const struct vfio_user_hdr *cmd,
				  uint16_t major, uint16_t minor,
				  const char *json, const int *fds,
				  unsigned int nfds)
{
	struct vfio_user_version v = { .major = major, .minor = minor };

	return build_rep(msg, buf, cap, cmd, &v, sizeof(v), json,
			 json ? strlen(json) + 1 : 0, fds, nfds);
}

int vfio_user_build_dma_unmap_reply(struct vfio_user_msg *msg, uint8_t *buf,
				    size_t cap, const struct vfio_user_hdr *cmd,
				    const struct vfio_user_dma_unmap *req,
				    const struct vfio_user_bitmap *bitmap,
				    const void *bitmap_data)
{
	struct {
		struct vfio_user_dma_unmap u;
		struct vfio_user_bitmap b;
	} r = { .u = *req };

	_Static_assert(sizeof(r) == 40, "no padding");
	if (!bitmap)
		return build_rep(msg, buf, cap, cmd, &r.u, sizeof(r.u), NULL, 0,
				 NULL, 0);
	r.b = *bitmap;
	return build_rep(msg, buf, cap, cmd, &r, sizeof(r), bitmap_data,
			 bitmap->size, NULL, 0);
}

int vfio_user_build_device_info_reply(struct vfio_user_msg *msg, uint8_t *buf,
				      size_t cap,
				      const struct vfio_user_hdr *cmd,
				      uint32_t flags, uint32_t num_regions,
				      uint32_t num_irqs)
{
	struct vfio_user_device_info d = {
		.argsz = sizeof(d),
		.flags = flags,
		.num_regions = num_regions,
		.num_irqs = num_irqs,
	};

	return build_rep(msg, buf, cap, cmd, &d, sizeof(d), NULL, 0, NULL, 0);
}

int vfio_user_build_region_info_reply(struct vfio_user_msg *msg, uint8_t *buf,
				      size_t cap,
				      const struct vfio_user_hdr *cmd,
				      uint32_t req_argsz,
				      const struct vfio_user_region_info *info,
				      const void *caps, size_t caps_len, int fd)
{
	struct vfio_user_region_info r = *info;
	uint64_t argsz = sizeof(r) + (uint64_t)caps_len;

	if (argsz > UINT32_MAX)
		return -EINVAL;
	r.argsz = (uint32_t)argsz;
	if (argsz > req_argsz) {
		/* "the full payload is not included in the reply, but the
		 * argsz field in the reply indicates the needed size" */
		r.flags &= ~VFIO_REGION_INFO_FLAG_CAPS;
		r.cap_offset = 0;
		return build_rep(msg, buf, cap, cmd, &r, sizeof(r), NULL, 0,
				 NULL, 0);
	}
	r.cap_offset = caps_len ? sizeof(r) : 0;
	if (caps_len)
		r.flags |= VFIO_REGION_INFO_FLAG_CAPS;
	else
		r.flags &= ~VFIO_REGION_INFO_FLAG_CAPS;
	return build_rep(msg, buf, cap, cmd, &r, sizeof(r), caps, caps_len, &fd,
			 fd >= 0 ? 1 : 0);
}

int vfio_user_build_region_io_fds_reply(
	struct vfio_user_msg *msg, uint8_t *buf, size_t cap,
	const struct vfio_user_hdr *cmd, uint32_t req_argsz, uint32_t index,
	const struct vfio_user_sub_region_io_fd *subs, uint32_t count,
	const int *fds, unsigned int nfds)
{
	struct vfio_user_region_io_fds r = { .index = index, .count = count };
	uint64_t argsz = sizeof(r) + (uint64_t)count * sizeof(*subs);

	if (argsz > UINT32_MAX)
		return -EINVAL;
	r.argsz = (uint32_t)argsz;
	if (argsz > req_argsz)
		return build_rep(msg, buf, cap, cmd, &r, sizeof(r), NULL, 0,
				 NULL, 0);
	return build_rep(msg, buf, cap, cmd, &r, sizeof(r), subs,
			 (uint64_t)count * sizeof(*subs), fds, nfds);
}

int vfio_user_build_irq_info_reply(struct vfio_user_msg *msg, uint8_t *buf,
				   size_t cap, const struct vfio_user_hdr *cmd,
				   uint32_t flags, uint32_t index,
				   uint32_t count)
{
	struct vfio_user_irq_info r = {
		.argsz = sizeof(r),
		.flags = flags,
		.index = index,
		.count = count,
	};

	return build_rep(msg, buf, cap, cmd, &r, sizeof(r), NULL, 0, NULL, 0);
}

int vfio_user_build_region_read_reply(struct vfio_user_msg *msg, uint8_t *buf,
				      size_t cap,
				      const struct vfio_user_hdr *cmd,
				      uint32_t region, uint64_t offset,
				      const void *data, uint32_t count)
{
	struct vfio_user_region_access a = {
		.offset = offset,
		.region = region,
		.count = count,
	};

	return build_rep(msg, buf, cap, cmd, &a, sizeof(a), data, count, NULL,
			 0);
}

int vfio_user_build_region_write_reply(struct vfio_user_msg *msg, uint8_t *buf,
				       size_t cap,
				       const struct vfio_user_hdr *cmd,
				       uint32_t region, uint64_t offset,
				       uint32_t count)
{
	struct vfio_user_region_access a = {
		.offset = offset,
		.region = region,
		.count = count,
	};

	return build_rep(msg, buf, cap, cmd, &a, sizeof(a), NULL, 0, NULL, 0);
}

int vfio_user_build_dma_read_reply(struct vfio_user_msg *msg, uint8_t *buf,
				   size_t cap, const struct vfio_user_hdr *cmd,
				   uint64_t addr, const void *data,
				   uint64_t count)
{
	struct vfio_user_dma_region_access a = { .addr = addr, .count = count };

	return build_rep(msg, buf, cap, cmd, &a, sizeof(a), data, count, NULL,
			 0);
}

int vfio_user_build_dma_write_reply(struct vfio_user_msg *msg, uint8_t *buf,
				    size_t cap, const struct vfio_user_hdr *cmd,
				    uint64_t addr, uint64_t count, bool count64)
{
	struct vfio_user_dma_region_access wide = { .addr = addr,
						    .count = count };
	struct vfio_user_dma_write_reply narrow = { .addr = addr,
						    .count = (uint32_t)count };

	if (count64)
		return build_rep(msg, buf, cap, cmd, &wide, sizeof(wide), NULL,
				 0, NULL, 0);
	if (count > UINT32_MAX)
		return -EINVAL;
	return build_rep(msg, buf, cap, cmd, &narrow, sizeof(narrow), NULL, 0,
			 NULL, 0);
}

int vfio_user_build_write_multi_reply(struct vfio_user_msg *msg, uint8_t *buf,
				      size_t cap,
				      const struct vfio_user_hdr *cmd,
				      uint64_t wr_cnt)
{
	struct vfio_user_write_multi w = { .wr_cnt = wr_cnt };

	return build_rep(msg, buf, cap, cmd, &w, sizeof(w), NULL, 0, NULL, 0);
}

int vfio_user_build_device_feature_reply(struct vfio_user_msg *msg,
					 uint8_t *buf, size_t cap,
					 const struct vfio_user_hdr *cmd,
					 uint32_t flags, const void *data,
					 size_t data_len)
{
	struct vfio_user_device_feature f = { .flags = flags };
	uint64_t argsz = sizeof(f) + (uint64_t)data_len;

	if (argsz > UINT32_MAX)
		return -EINVAL;
	f.argsz = (uint32_t)argsz;
	return build_rep(msg, buf, cap, cmd, &f, sizeof(f), data, data_len,
			 NULL, 0);
}

int vfio_user_build_mig_data_read_reply(struct vfio_user_msg *msg, uint8_t *buf,
					size_t cap,
					const struct vfio_user_hdr *cmd,
					const void *data, uint32_t size)
{
	struct vfio_user_mig_data d = { .size = size };

	if (size > UINT32_MAX - sizeof(d))
		return -EINVAL;
	d.argsz = (uint32_t)sizeof(d) + size;
	return build_rep(msg, buf, cap, cmd, &d, sizeof(d), data, size, NULL,
			 0);
}

/* ------------------------------------------------------------------ */
/* Getters                                                             */
/* ------------------------------------------------------------------ */

/* @m is a @command message whose payload fits the rule for its type. */
static int get_msg(const struct vfio_user_msg *m, unsigned int command,
		   const char **why)
{
	const struct vfio_user_rule *r = vfio_user_rule(command);
	bool reply = is_reply(m);

	if (m->hdr.command != command)
		return fail(
			why, -EBADMSG,
			whyf("%s is not a %s message", cmd_name(m), r->name));
	if (m->payload_len && !m->payload)
		return fail(why, -EINVAL, "payload_len without a payload");
	if (reply && (m->hdr.flags & VFIO_USER_F_ERROR))
		return fail(why, -EBADMSG, "an error reply has no payload");
	return check_size(m, reply ? &r->reply : &r->req,
			  reply ? "reply" : "request", why);
}

int vfio_user_get_version(const struct vfio_user_msg *msg,
			  struct vfio_user_version *out, const char **json,
			  size_t *json_len, const char **why)
{
	size_t n;
	int ret;

	ret = get_msg(msg, VFIO_USER_VERSION, why);
	if (ret < 0)
		return ret;
	ret = check_version_data(msg, why);
	if (ret < 0)
		return ret;
	memcpy(out, msg->payload, sizeof(*out));
	n = msg->payload_len - sizeof(*out);
	if (json)
		*json = n ? (const char *)msg->payload + sizeof(*out) : NULL;
	if (json_len)
		*json_len = n ? n - 1 : 0;
	return 0;
}

int vfio_user_get_dma_map(const struct vfio_user_msg *msg,
			  struct vfio_user_dma_map *out, const char **why)
{
	int ret = get_msg(msg, VFIO_USER_DMA_MAP, why);

	if (ret < 0)
		return ret;
	/* "there is no reply payload": a reply passes get_msg() empty. */
	if (msg->payload_len < sizeof(*out))
		return fail(why, -EBADMSG,
			    "no DMA_MAP entry: a DMA_MAP reply has no payload");
	memcpy(out, msg->payload, sizeof(*out));
	return 0;
}

int vfio_user_get_dma_unmap(const struct vfio_user_msg *msg,
			    struct vfio_user_dma_unmap *out,
			    struct vfio_user_bitmap *bitmap,
			    const uint8_t **bitmap_data, const char **why)
{
	const size_t head = sizeof(*out) + sizeof(struct vfio_user_bitmap);
	struct vfio_user_bitmap bm;
	int ret;

	ret = get_msg(msg, VFIO_USER_DMA_UNMAP, why);
	if (ret < 0)
		return ret;
	memcpy(out, msg->payload, sizeof(*out));
	if (!(out->flags & VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP)) {
		if (msg->payload_len != sizeof(*out))
			return fail(why, -EBADMSG,
				    whyf("%zu bytes: 24 without "
					 "GET_DIRTY_BITMAP",
					 msg->payload_len));
		return 0;
	}
	if (msg->payload_len < head)
		return fail(why, -EBADMSG,
			    whyf("GET_DIRTY_BITMAP but %zu bytes, not 40",
				 msg->payload_len));
	memcpy(&bm, msg->payload + sizeof(*out), sizeof(bm));
	if (!is_reply(msg) && msg->payload_len != head)
		return fail(
			why, -EBADMSG,
			whyf("request of %zu bytes, not 40", msg->payload_len));
	if (is_reply(msg) && msg->payload_len - head != bm.size)
		return fail(why, -EBADMSG,
			    whyf("%zu bytes of bitmap data for bitmap size "
				 "%llu",
				 msg->payload_len - head,
				 (unsigned long long)bm.size));
	if (bitmap)
		*bitmap = bm;
	if (bitmap_data)
		*bitmap_data = is_reply(msg) ? msg->payload + head : NULL;
	return 1;
}

int vfio_user_get_device_info(const struct vfio_user_msg *msg,
			      struct vfio_user_device_info *out,
			      const char **why)
{
	int ret = get_msg(msg, VFIO_USER_DEVICE_GET_INFO, why);

	if (ret < 0)
		return ret;
	memcpy(out, msg->payload, sizeof(*out));
	return 0;
}

int vfio_user_get_region_info(const struct vfio_user_msg *msg,
			      struct vfio_user_region_info *out,
			      const char **why)
{
	int ret = get_msg(msg, VFIO_USER_DEVICE_GET_REGION_INFO, why);

	if (ret < 0)
		return ret;
	memcpy(out, msg->payload, sizeof(*out));
	return 0;
}

int vfio_user_get_region_cap(const struct vfio_user_msg *msg, uint32_t off,
			     struct vfio_user_info_cap_header *out,
			     const char **why)
{
	int ret = get_msg(msg, VFIO_USER_DEVICE_GET_REGION_INFO, why);

	if (ret < 0)
		return ret;
	if (off < sizeof(struct vfio_user_region_info) ||
	    off > msg->payload_len || msg->payload_len - off < sizeof(*out))
		return fail(why, -EBADMSG,
			    whyf("no capability header fits at %u of %zu "
				 "bytes",
				 off, msg->payload_len));
	memcpy(out, msg->payload + off, sizeof(*out));
	return 0;
}

int vfio_user_get_sparse_mmap(const struct vfio_user_msg *msg, uint32_t off,
			      struct vfio_user_region_info_cap_sparse_mmap *out,
			      uint32_t area_i,
			      struct vfio_user_region_sparse_mmap_area *area,
			      const char **why)
{
	size_t at;
	int ret;

	ret = vfio_user_get_region_cap(msg, off, &out->header, why);
	if (ret < 0)
		return ret;
	if (out->header.id != VFIO_REGION_INFO_CAP_SPARSE_MMAP)
		return fail(why, -EBADMSG,
			    whyf("capability %u at %u is not SPARSE_MMAP",
				 out->header.id, off));
	if (msg->payload_len - off < sizeof(*out))
		return fail(why, -EBADMSG, "sparse mmap capability cut short");
	memcpy(out, msg->payload + off, sizeof(*out));
	if (!area)
		return 0;
	if (area_i >= out->nr_areas)
		return fail(why, -EINVAL,
			    whyf("area %u of %u", area_i, out->nr_areas));
	at = off + sizeof(*out) + (size_t)area_i * sizeof(*area);
	if (at > msg->payload_len || msg->payload_len - at < sizeof(*area))
		return fail(why, -EBADMSG,
			    whyf("sparse area %u runs past the reply", area_i));
	memcpy(area, msg->payload + at, sizeof(*area));
	return 0;
}

int vfio_user_get_cap_type(const struct vfio_user_msg *msg, uint32_t off,
			   struct vfio_user_region_info_cap_type *out,
			   const char **why)
{
	int ret;

	ret = vfio_user_get_region_cap(msg, off, &out->header, why);
	if (ret < 0)
		return ret;
	if (out->header.id != VFIO_REGION_INFO_CAP_TYPE)
		return fail(why, -EBADMSG,
			    whyf("capability %u at %u is not TYPE",
				 out->header.id, off));
	if (msg->payload_len - off < sizeof(*out))
		return fail(why, -EBADMSG, "type capability cut short");
	memcpy(out, msg->payload + off, sizeof(*out));
	return 0;
}

int vfio_user_get_region_io_fds(const struct vfio_user_msg *msg,
				struct vfio_user_region_io_fds *out,
				const char **why)
{
	int ret = get_msg(msg, VFIO_USER_DEVICE_GET_REGION_IO_FDS, why);

	if (ret < 0)
		return ret;
	memcpy(out, msg->payload, sizeof(*out));
	return 0;
}

int vfio_user_get_sub_region(const struct vfio_user_msg *msg, uint32_t i,
			     struct vfio_user_sub_region_io_fd *out,
			     const char **why)
{
	struct vfio_user_region_io_fds h;
	size_t body, stride;
	int ret;

	ret = vfio_user_get_region_io_fds(msg, &h, why);
	if (ret < 0)
		return ret;
	if (!is_reply(msg))
		return fail(why, -EBADMSG, "a request has no sub-regions");
	if (i >= h.count)
		return fail(why, -EINVAL,
			    whyf("sub-region %u of %u", i, h.count));
	body = msg->payload_len - sizeof(h);
	if (!body)
		return fail(why, -EBADMSG,
			    "no sub-regions in the reply (argsz too small?)");
	stride = body / h.count;
	if (body % h.count || stride < sizeof(*out))
		return fail(why, -EBADMSG,
			    whyf("%zu bytes are not %u sub-regions of 40 bytes "
				 "or more",
				 body, h.count));
	memcpy(out, msg->payload + sizeof(h) + (size_t)i * stride,
	       sizeof(*out));
	return 0;
}

int vfio_user_get_irq_info(const struct vfio_user_msg *msg,
			   struct vfio_user_irq_info *out, const char **why)
{
	int ret = get_msg(msg, VFIO_USER_DEVICE_GET_IRQ_INFO, why);

	if (ret < 0)
		return ret;
	memcpy(out, msg->payload, sizeof(*out));
	return 0;
}

int vfio_user_get_irq_set(const struct vfio_user_msg *msg,
			  struct vfio_user_irq_set *out, const uint8_t **data,
			  size_t *data_len, const char **why)
{
	int ret = get_msg(msg, VFIO_USER_DEVICE_SET_IRQS, why);

	if (ret < 0)
		return ret;
	if (is_reply(msg))
		return fail(why, -EBADMSG, "a SET_IRQS reply has no payload");
	memcpy(out, msg->payload, sizeof(*out));
	if (data)
		*data = msg->payload + sizeof(*out);
	if (data_len)
		*data_len = msg->payload_len - sizeof(*out);
	return 0;
}

int vfio_user_get_region_access(const struct vfio_user_msg *msg,
				struct vfio_user_region_access *out,
				const uint8_t **data, const char **why)
{
	unsigned int cmd = msg->hdr.command;
	bool with_data;
	int ret;

	if (cmd != VFIO_USER_REGION_READ && cmd != VFIO_USER_REGION_WRITE)
		return fail(why, -EBADMSG,
			    whyf("%s is not a region access", cmd_name(msg)));
	ret = get_msg(msg, cmd, why);
	if (ret < 0)
		return ret;
	memcpy(out, msg->payload, sizeof(*out));
	with_data = is_reply(msg) == (cmd == VFIO_USER_REGION_READ);
	if (data)
		*data = with_data ? msg->payload + sizeof(*out) : NULL;
	return 0;
}

int vfio_user_get_dma_access(const struct vfio_user_msg *msg,
			     struct vfio_user_dma_region_access *out,
			     const uint8_t **data, const char **why)
{
	unsigned int cmd = msg->hdr.command;
	bool with_data;
	int ret;

	if (cmd != VFIO_USER_DMA_READ && cmd != VFIO_USER_DMA_WRITE)
		return fail(why, -EBADMSG,
			    whyf("%s is not a DMA access", cmd_name(msg)));
	ret = get_msg(msg, cmd, why);
	if (ret < 0)
		return ret;
	out->addr = ld64(msg->payload);
	out->count = ld_width(msg->payload + 8, msg->payload_len == 12 ? 4 : 8);
	with_data = is_reply(msg) == (cmd == VFIO_USER_DMA_READ);
	if (data)
		*data = with_data ? msg->payload + 16 : NULL;
	return 0;
}

int vfio_user_get_write_multi(const struct vfio_user_msg *msg, uint64_t *wr_cnt,
			      const char **why)
{
	int ret = get_msg(msg, VFIO_USER_REGION_WRITE_MULTI, why);

	if (ret < 0)
		return ret;
	*wr_cnt = ld64(msg->payload);
	return 0;
}

int vfio_user_get_write_multi_entry(const struct vfio_user_msg *msg, uint64_t i,
				    struct vfio_user_write_multi_data *out,
				    const char **why)
{
	uint64_t n;
	int ret;

	ret = vfio_user_get_write_multi(msg, &n, why);
	if (ret < 0)
		return ret;
	if (is_reply(msg))
		return fail(why, -EBADMSG, "a WRITE_MULTI reply has no writes");
	if (i >= n)
		return fail(why, -EINVAL,
			    whyf("write %llu of %llu", (unsigned long long)i,
				 (unsigned long long)n));
	memcpy(out, msg->payload + 8 + i * sizeof(*out), sizeof(*out));
	return 0;
}

int vfio_user_get_device_feature(const struct vfio_user_msg *msg,
				 struct vfio_user_device_feature *out,
				 const uint8_t **data, size_t *data_len,
				 const char **why)
{
	int ret = get_msg(msg, VFIO_USER_DEVICE_FEATURE, why);

	if (ret < 0)
		return ret;
	memcpy(out, msg->payload, sizeof(*out));
	if (data)
		*data = msg->payload + sizeof(*out);
	if (data_len)
		*data_len = msg->payload_len - sizeof(*out);
	return 0;
}

/* The data of a DEVICE_FEATURE message for feature @idx, at least @min. */
static int get_feature_data(const struct vfio_user_msg *msg, uint32_t idx,
			    size_t min, bool exact, const uint8_t **data,
			    size_t *len, const char **why)
{
	struct vfio_user_device_feature f;
	int ret;

	ret = vfio_user_get_device_feature(msg, &f, data, len, why);
	if (ret < 0)
		return ret;
	if ((f.flags & VFIO_DEVICE_FEATURE_MASK) != idx)
		return fail(why, -EBADMSG,
			    whyf("feature %u is not %s",
				 f.flags & VFIO_DEVICE_FEATURE_MASK,
				 feature_name(idx)));
	if (*len < min || (exact && *len != min))
		return fail(why, -EBADMSG,
			    whyf("%s data of %zu bytes is not %s%zu",
				 feature_name(idx), *len,
				 exact ? "" : ">= ", min));
	return 0;
}

int vfio_user_get_mig_state(const struct vfio_user_msg *msg,
			    struct vfio_user_device_feature_mig_state *out,
			    const char **why)
{
	const uint8_t *data;
	size_t len;
	int ret;

	ret = get_feature_data(msg, VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE,
			       sizeof(*out), true, &data, &len, why);
	if (ret < 0)
		return ret;
	memcpy(out, data, sizeof(*out));
	return 0;
}

int vfio_user_get_migration(const struct vfio_user_msg *msg,
			    struct vfio_user_device_feature_migration *out,
			    const char **why)
{
	const uint8_t *data;
	size_t len;
	int ret;

	ret = get_feature_data(msg, VFIO_DEVICE_FEATURE_MIGRATION, sizeof(*out),
			       true, &data, &len, why);
	if (ret < 0)
		return ret;
	memcpy(out, data, sizeof(*out));
	return 0;
}

int vfio_user_get_dma_logging_control(
	const struct vfio_user_msg *msg,
	struct vfio_user_device_feature_dma_logging_control *out, uint32_t i,
	struct vfio_user_device_feature_dma_logging_range *range,
	const char **why)
{
	const uint8_t *data;
	size_t len;
	int ret;

	ret = get_feature_data(msg, VFIO_DEVICE_FEATURE_DMA_LOGGING_START,
			       sizeof(*out), false, &data, &len, why);
	if (ret < 0)
		return ret;
	memcpy(out, data, sizeof(*out));
	if ((len - sizeof(*out)) % 16 ||
	    (len - sizeof(*out)) / 16 != out->num_ranges)
		return fail(why, -EBADMSG,
			    whyf("%zu bytes are not 16 + %u ranges * 16", len,
				 out->num_ranges));
	if (!range)
		return 0;
	if (i >= out->num_ranges)
		return fail(why, -EINVAL,
			    whyf("range %u of %u", i, out->num_ranges));
	memcpy(range, data + sizeof(*out) + (size_t)i * sizeof(*range),
	       sizeof(*range));
	return 0;
}

int vfio_user_get_dma_logging_report(
	const struct vfio_user_msg *msg,
	struct vfio_user_device_feature_dma_logging_report *out,
	const uint8_t **bitmap, size_t *bitmap_len, const char **why)
{
	const uint8_t *data;
	size_t len;
	int ret;

	ret = get_feature_data(msg, VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT,
			       sizeof(*out), false, &data, &len, why);
	if (ret < 0)
		return ret;
	memcpy(out, data, sizeof(*out));
	if (bitmap)
		*bitmap = is_reply(msg) ? data + sizeof(*out) : NULL;
	if (bitmap_len)
		*bitmap_len = is_reply(msg) ? len - sizeof(*out) : 0;
	return 0;
}

int vfio_user_get_mig_data(const struct vfio_user_msg *msg,
			   struct vfio_user_mig_data *out, const uint8_t **data,
			   const char **why)
{
	unsigned int cmd = msg->hdr.command;
	bool with_data;
	int ret;

	if (cmd != VFIO_USER_MIG_DATA_READ && cmd != VFIO_USER_MIG_DATA_WRITE)
		return fail(why, -EBADMSG,
			    whyf("%s is not a migration data message",
				 cmd_name(msg)));
	ret = get_msg(msg, cmd, why);
	if (ret < 0)
		return ret;
	if (is_reply(msg) && cmd == VFIO_USER_MIG_DATA_WRITE)
		return fail(why, -EBADMSG,
			    "a MIG_DATA_WRITE reply has no payload");
	memcpy(out, msg->payload, sizeof(*out));
	with_data = is_reply(msg) == (cmd == VFIO_USER_MIG_DATA_READ);
	if (data)
		*data = with_data ? msg->payload + sizeof(*out) : NULL;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Trace lines                                                         */
/* ------------------------------------------------------------------ */

/* A bounded string builder: never writes past cap, remembers a cut. */
struct sb {
	char *buf;
	size_t cap;
	size_t len;
	bool cut;
};

VUC_PRINTF(2, 3) static void sb_add(struct sb *sb, const char *fmt, ...)
{
	size_t room = sb->cap - sb->len;
	va_list ap;
	int n;

	if (sb->cut)
		return;
	va_start(ap, fmt);
	n = wire_vfmt(sb->buf + sb->len, room, fmt, ap);
	va_end(ap);
	if (n < 0) {
		sb->buf[sb->len] = '\0';
		sb->cut = true;
	} else if ((size_t)n >= room) {
		sb->len = sb->cap - 1;
		sb->cut = true;
	} else {
		sb->len += (size_t)n;
	}
}

/* @n bytes as they are, cut like sb_add() cuts. */
static void sb_put(struct sb *sb, const char *s, size_t n)
{
	size_t room = sb->cap - sb->len;

	if (sb->cut)
		return;
	if (n >= room) {
		n = room - 1;
		sb->cut = true;
	}
	memcpy(sb->buf + sb->len, s, n);
	sb->len += n;
	sb->buf[sb->len] = '\0';
}

static const char sb_hex[] = "0123456789abcdef";

struct bitname {
	uint64_t bit;
	const char *name;
};

static void sb_flags(struct sb *sb, uint64_t v, const struct bitname *names,
		     size_t n)
{
	const char *sep = "";
	size_t i;

	if (!v) {
		sb_add(sb, "0");
		return;
	}
	for (i = 0; i < n; i++) {
		if (!(v & names[i].bit))
			continue;
		sb_add(sb, "%s%s", sep, names[i].name);
		v &= ~names[i].bit;
		sep = "|";
	}
	if (v)
		sb_add(sb, "%s0x%llx", sep, (unsigned long long)v);
}

static void sb_bytes(struct sb *sb, const uint8_t *p, uint64_t n)
{
	uint64_t i, show = n < 8 ? n : 8;

	sb_add(sb, " data=[");
	for (i = 0; i < show; i++) {
		char b[3] = { ' ', sb_hex[p[i] >> 4], sb_hex[p[i] & 15] };

		sb_put(sb, i ? b : b + 1, i ? 3 : 2);
	}
	sb_add(sb, "%s]", n > show ? " ..." : "");
}

/* JSON text, printable bytes as they are, others as \xNN, at most 160. */
static void sb_text(struct sb *sb, const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n && i < 160; i++) {
		unsigned char c = (unsigned char)s[i];
		size_t run = 0;

		/* a run of printable bytes at once */
		while (i + run < n && i + run < 160 && s[i + run] >= 0x20 &&
		       s[i + run] < 0x7f && s[i + run] != '\\')
			run++;
		if (run) {
			sb_put(sb, s + i, run);
			i += run - 1;
		} else {
			char esc[4] = { '\\', 'x', sb_hex[c >> 4],
					sb_hex[c & 15] };

			sb_put(sb, esc, sizeof(esc));
		}
	}
	if (n > 160)
		sb_add(sb, "...");
}

static const struct bitname dma_map_bits[] = {
	{ VFIO_USER_F_DMA_REGION_READ, "R" },
	{ VFIO_USER_F_DMA_REGION_WRITE, "W" },
	{ VFIO_USER_F_DMA_REGION_MMAP, "MMAP" },
	{ VFIO_USER_F_DMA_REGION_FILE_IO, "FILE_IO" },
};
static const struct bitname dma_unmap_bits[] = {
	{ VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP, "GET_DIRTY_BITMAP" },
	{ VFIO_DMA_UNMAP_FLAG_ALL, "ALL" },
};
static const struct bitname device_bits[] = {
	{ VFIO_DEVICE_FLAGS_RESET, "RESET" },
	{ VFIO_DEVICE_FLAGS_PCI, "PCI" },
};
static const struct bitname region_bits[] = {
	{ VFIO_REGION_INFO_FLAG_READ, "READ" },
	{ VFIO_REGION_INFO_FLAG_WRITE, "WRITE" },
	{ VFIO_REGION_INFO_FLAG_MMAP, "MMAP" },
	{ VFIO_REGION_INFO_FLAG_CAPS, "CAPS" },
};
static const struct bitname irq_info_bits[] = {
	{ VFIO_IRQ_INFO_EVENTFD, "EVENTFD" },
	{ VFIO_IRQ_INFO_MASKABLE, "MASKABLE" },
	{ VFIO_IRQ_INFO_AUTOMASKED, "AUTOMASKED" },
	{ VFIO_IRQ_INFO_NORESIZE, "NORESIZE" },
};
static const struct bitname irq_set_bits[] = {
	{ VFIO_IRQ_SET_DATA_NONE, "DATA_NONE" },
	{ VFIO_IRQ_SET_DATA_BOOL, "DATA_BOOL" },
	{ VFIO_IRQ_SET_DATA_EVENTFD, "DATA_EVENTFD" },
	{ VFIO_IRQ_SET_ACTION_MASK, "ACTION_MASK" },
	{ VFIO_IRQ_SET_ACTION_UNMASK, "ACTION_UNMASK" },
	{ VFIO_IRQ_SET_ACTION_TRIGGER, "ACTION_TRIGGER" },
};
static const struct bitname feature_op_bits[] = {
	{ VFIO_DEVICE_FEATURE_GET, "GET" },
	{ VFIO_DEVICE_FEATURE_SET, "SET" },
	{ VFIO_DEVICE_FEATURE_PROBE, "PROBE" },
};
static const struct bitname migration_bits[] = {
	{ VFIO_MIGRATION_STOP_COPY, "STOP_COPY" },
	{ VFIO_MIGRATION_P2P, "P2P" },
	{ VFIO_MIGRATION_PRE_COPY, "PRE_COPY" },
};

static const char *const state_names[] = {
	"ERROR",    "STOP",	   "RUNNING",  "STOP_COPY",
	"RESUMING", "RUNNING_P2P", "PRE_COPY", "PRE_COPY_P2P",
};

static void sb_malformed(struct sb *sb, const char *why)
{
	sb_add(sb, "malformed: %s", why ? why : "?");
}

static void describe_region_caps(struct sb *sb, const struct vfio_user_msg *m,
				 const struct vfio_user_region_info *info)
{
	struct vfio_user_info_cap_header h;
	struct vfio_user_region_info_cap_sparse_mmap sp;
	struct vfio_user_region_info_cap_type t;
	uint32_t off = info->cap_offset;
	const char *sep = "", *why;
	unsigned int n;

	if (!(info->flags & VFIO_REGION_INFO_FLAG_CAPS) || !off ||
	    m->payload_len <= sizeof(*info))
		return;
	sb_add(sb, " caps=[");
	for (n = 0; off && n < 8; n++, sep = " ") {
		if (vfio_user_get_region_cap(m, off, &h, &why) < 0) {
			sb_add(sb, "%s@%u:bad", sep, off);
			break;
		}
		if (h.id == VFIO_REGION_INFO_CAP_SPARSE_MMAP &&
		    !vfio_user_get_sparse_mmap(m, off, &sp, 0, NULL, &why))
			sb_add(sb, "%ssparse_mmap(%u)", sep, sp.nr_areas);
		else if (h.id == VFIO_REGION_INFO_CAP_TYPE &&
			 !vfio_user_get_cap_type(m, off, &t, &why))
			sb_add(sb, "%stype(%u:%u)", sep, t.type, t.subtype);
		else
			sb_add(sb, "%sid%u", sep, h.id);
		off = h.next;
	}
	sb_add(sb, "%s]", off ? " ..." : "");
}

static void describe_feature(struct sb *sb, const struct vfio_user_msg *m)
{
	struct vfio_user_device_feature f;
	struct vfio_user_device_feature_mig_state st;
	struct vfio_user_device_feature_migration mig;
	struct vfio_user_device_feature_dma_logging_control c;
	struct vfio_user_device_feature_dma_logging_report r;
	const uint8_t *data, *bitmap;
	size_t len, blen;
	const char *why, *name;
	uint32_t idx;

	if (vfio_user_get_device_feature(m, &f, &data, &len, &why) < 0) {
		sb_malformed(sb, why);
		return;
	}
	idx = f.flags & VFIO_DEVICE_FEATURE_MASK;
	name = feature_name(idx);
	sb_add(sb, "argsz=%u flags=", f.argsz);
	sb_flags(sb, f.flags & ~VFIO_DEVICE_FEATURE_MASK, feature_op_bits,
		 ARRAY_SIZE(feature_op_bits));
	if (name)
		sb_add(sb, "|%s", name);
	else
		sb_add(sb, "|feature%u", idx);
	if (!len || (f.flags & VFIO_DEVICE_FEATURE_PROBE))
		return;
	if (idx == VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE &&
	    !vfio_user_get_mig_state(m, &st, &why)) {
		if (st.device_state < ARRAY_SIZE(state_names))
			sb_add(sb, " state=%s", state_names[st.device_state]);
		else
			sb_add(sb, " state=%u", st.device_state);
	} else if (idx == VFIO_DEVICE_FEATURE_MIGRATION &&
		   !vfio_user_get_migration(m, &mig, &why)) {
		sb_add(sb, " migration=");
		sb_flags(sb, mig.flags, migration_bits,
			 ARRAY_SIZE(migration_bits));
	} else if (idx == VFIO_DEVICE_FEATURE_DMA_LOGGING_START &&
		   !vfio_user_get_dma_logging_control(m, &c, 0, NULL, &why)) {
		sb_add(sb, " page_size=0x%llx num_ranges=%u",
		       (unsigned long long)c.page_size, c.num_ranges);
	} else if (idx == VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT &&
		   !vfio_user_get_dma_logging_report(m, &r, &bitmap, &blen,
						     &why)) {
		sb_add(sb, " iova=0x%llx length=0x%llx page_size=0x%llx",
		       (unsigned long long)r.iova, (unsigned long long)r.length,
		       (unsigned long long)r.page_size);
		if (bitmap)
			sb_bytes(sb, bitmap, blen);
	} else {
		sb_add(sb, " data=%zu bytes", len);
	}
}

static void describe_payload(struct sb *sb, const struct vfio_user_msg *m)
{
	union {
		struct vfio_user_version v;
		struct vfio_user_dma_map map;
		struct vfio_user_dma_unmap unmap;
		struct vfio_user_device_info dev;
		struct vfio_user_region_info reg;
		struct vfio_user_region_io_fds iofds;
		struct vfio_user_irq_info irq;
		struct vfio_user_irq_set set;
		struct vfio_user_region_access ra;
		struct vfio_user_dma_region_access da;
		struct vfio_user_mig_data md;
	} u;
	struct vfio_user_bitmap bm;
	const uint8_t *data;
	const char *why = NULL, *json;
	size_t n;
	uint64_t cnt;
	int ret = 0;

	switch (m->hdr.command) {
	case VFIO_USER_VERSION:
		ret = vfio_user_get_version(m, &u.v, &json, &n, &why);
		if (ret < 0)
			break;
		sb_add(sb, "major=%u minor=%u", u.v.major, u.v.minor);
		if (json) {
			sb_add(sb, " json=");
			sb_text(sb, json, n);
		}
		break;
	case VFIO_USER_DMA_MAP:
		ret = vfio_user_get_dma_map(m, &u.map, &why);
		if (ret < 0)
			break;
		sb_add(sb, "argsz=%u flags=", u.map.argsz);
		sb_flags(sb, u.map.flags, dma_map_bits,
			 ARRAY_SIZE(dma_map_bits));
		sb_add(sb, " offset=0x%llx addr=0x%llx size=0x%llx",
		       (unsigned long long)u.map.offset,
		       (unsigned long long)u.map.addr,
		       (unsigned long long)u.map.size);
		break;
	case VFIO_USER_DMA_UNMAP:
		ret = vfio_user_get_dma_unmap(m, &u.unmap, &bm, &data, &why);
		if (ret < 0)
			break;
		sb_add(sb, "argsz=%u flags=", u.unmap.argsz);
		sb_flags(sb, u.unmap.flags, dma_unmap_bits,
			 ARRAY_SIZE(dma_unmap_bits));
		sb_add(sb, " addr=0x%llx size=0x%llx",
		       (unsigned long long)u.unmap.addr,
		       (unsigned long long)u.unmap.size);
		if (ret == 1)
			sb_add(sb, " bitmap={pgsize=0x%llx size=%llu}",
			       (unsigned long long)bm.pgsize,
			       (unsigned long long)bm.size);
		break;
	case VFIO_USER_DEVICE_GET_INFO:
		ret = vfio_user_get_device_info(m, &u.dev, &why);
		if (ret < 0)
			break;
		sb_add(sb, "argsz=%u flags=", u.dev.argsz);
		sb_flags(sb, u.dev.flags, device_bits, ARRAY_SIZE(device_bits));
		sb_add(sb, " num_regions=%u num_irqs=%u", u.dev.num_regions,
		       u.dev.num_irqs);
		break;
	case VFIO_USER_DEVICE_GET_REGION_INFO:
		ret = vfio_user_get_region_info(m, &u.reg, &why);
		if (ret < 0)
			break;
		sb_add(sb, "argsz=%u flags=", u.reg.argsz);
		sb_flags(sb, u.reg.flags, region_bits, ARRAY_SIZE(region_bits));
		sb_add(sb, " index=%u cap_offset=%u size=0x%llx offset=0x%llx",
		       u.reg.index, u.reg.cap_offset,
		       (unsigned long long)u.reg.size,
		       (unsigned long long)u.reg.offset);
		if (is_reply(m))
			describe_region_caps(sb, m, &u.reg);
		break;
	case VFIO_USER_DEVICE_GET_REGION_IO_FDS:
		ret = vfio_user_get_region_io_fds(m, &u.iofds, &why);
		if (ret < 0)
			break;
		sb_add(sb, "argsz=%u flags=", u.iofds.argsz);
		sb_flags(sb, u.iofds.flags, NULL, 0);
		sb_add(sb, " index=%u count=%u", u.iofds.index, u.iofds.count);
		if (is_reply(m))
			sb_add(sb, " sub_region_bytes=%zu",
			       m->payload_len - sizeof(u.iofds));
		break;
	case VFIO_USER_DEVICE_GET_IRQ_INFO:
		ret = vfio_user_get_irq_info(m, &u.irq, &why);
		if (ret < 0)
			break;
		sb_add(sb, "argsz=%u flags=", u.irq.argsz);
		sb_flags(sb, u.irq.flags, irq_info_bits,
			 ARRAY_SIZE(irq_info_bits));
		sb_add(sb, " index=%u count=%u", u.irq.index, u.irq.count);
		break;
	case VFIO_USER_DEVICE_SET_IRQS:
		ret = vfio_user_get_irq_set(m, &u.set, &data, &n, &why);
		if (ret < 0)
			break;
		sb_add(sb, "argsz=%u flags=", u.set.argsz);
		sb_flags(sb, u.set.flags, irq_set_bits,
			 ARRAY_SIZE(irq_set_bits));
		sb_add(sb, " index=%u start=%u count=%u", u.set.index,
		       u.set.start, u.set.count);
		if (n)
			sb_bytes(sb, data, n);
		break;
	case VFIO_USER_REGION_READ:
	case VFIO_USER_REGION_WRITE:
		ret = vfio_user_get_region_access(m, &u.ra, &data, &why);
		if (ret < 0)
			break;
		sb_add(sb, "region=%u offset=0x%llx count=%u", u.ra.region,
		       (unsigned long long)u.ra.offset, u.ra.count);
		if (data)
			sb_bytes(sb, data, u.ra.count);
		break;
	case VFIO_USER_DMA_READ:
	case VFIO_USER_DMA_WRITE:
		ret = vfio_user_get_dma_access(m, &u.da, &data, &why);
		if (ret < 0)
			break;
		sb_add(sb, "addr=0x%llx count=%llu",
		       (unsigned long long)u.da.addr,
		       (unsigned long long)u.da.count);
		if (data)
			sb_bytes(sb, data, u.da.count);
		break;
	case VFIO_USER_REGION_WRITE_MULTI:
		ret = vfio_user_get_write_multi(m, &cnt, &why);
		if (ret < 0)
			break;
		sb_add(sb, "wr_cnt=%llu", (unsigned long long)cnt);
		break;
	case VFIO_USER_DEVICE_FEATURE:
		describe_feature(sb, m);
		break;
	case VFIO_USER_MIG_DATA_READ:
	case VFIO_USER_MIG_DATA_WRITE:
		ret = vfio_user_get_mig_data(m, &u.md, &data, &why);
		if (ret < 0)
			break;
		sb_add(sb, "argsz=%u size=%u", u.md.argsz, u.md.size);
		if (data)
			sb_bytes(sb, data, u.md.size);
		break;
	default:
		/* no payload expected (DEVICE_RESET) or unknown command */
		sb_add(sb, "%zu bytes", m->payload_len);
		break;
	}
	if (ret < 0)
		sb_malformed(sb, why);
}

static bool expects_payload(const struct vfio_user_msg *m)
{
	const struct vfio_user_rule *r = vfio_user_rule(m->hdr.command);

	if (m->payload_len)
		return true;
	if (!r || (m->hdr.flags & VFIO_USER_F_ERROR))
		return false;
	return (is_reply(m) ? r->reply.rule : r->req.rule) !=
	       VFIO_USER_SIZE_NONE;
}

int vfio_user_describe(const struct vfio_user_msg *msg, char *buf, size_t cap)
{
	struct sb sb = { .buf = buf, .cap = cap };
	uint32_t type = msg->hdr.flags & VFIO_USER_F_TYPE_MASK;
	const char *ename;

	if (!cap)
		return 0;
	buf[0] = '\0';
	if (vfio_user_rule(msg->hdr.command))
		sb_add(&sb, "%s", cmd_name(msg));
	else
		sb_add(&sb, "%s(%u)", cmd_name(msg), msg->hdr.command);
	sb_add(&sb, " id=%u ", msg->hdr.msg_id);
	if (type == VFIO_USER_F_TYPE_COMMAND)
		sb_add(&sb, "cmd");
	else if (type == VFIO_USER_F_TYPE_REPLY)
		sb_add(&sb, "reply");
	else
		sb_add(&sb, "type=%u", type);
	if (msg->hdr.flags & VFIO_USER_F_NO_REPLY)
		sb_add(&sb, ",no_reply");
	if (msg->hdr.flags & VFIO_USER_F_ERROR) {
		ename = msg->hdr.error ? strerrorname_np((int)msg->hdr.error)
				       : NULL;
		sb_add(&sb, ",error=%u", msg->hdr.error);
		if (ename)
			sb_add(&sb, "(%s)", ename);
	} else if (msg->hdr.error) {
		sb_add(&sb, ",errno=%u", msg->hdr.error);
	}
	if (msg->hdr.flags & VFIO_USER_F_RESERVED)
		sb_add(&sb, ",flags=0x%x", msg->hdr.flags);
	sb_add(&sb, " size=%u", msg->hdr.msg_size);
	if (msg->hdr.msg_size != VFIO_USER_HDR_SIZE + msg->payload_len)
		sb_add(&sb, "(payload %zu)", msg->payload_len);
	if (expects_payload(msg)) {
		sb_add(&sb, " {");
		if (msg->payload_len && !msg->payload)
			sb_malformed(&sb, "payload_len without a payload");
		else
			describe_payload(&sb, msg);
		sb_add(&sb, "}");
	}
	sb_add(&sb, " fds=%u", msg->nfds);
	if (sb.cut && cap >= 4)
		memcpy(buf + cap - 4, "...", 4);
	return (int)strlen(buf);
}
