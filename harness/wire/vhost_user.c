/* SPDX-License-Identifier: MIT */
/*
 * vhost_user.c - vhost-user messages: the rule table, parse / pack,
 * request and reply checks, builders, getters and one-line traces.
 *
 * Spec: vhost-user.rst, "Message Specification", "Communication",
 * "Front-end message types", "Back-end message types", "Protocol
 * features", "VHOST_USER_PROTOCOL_F_REPLY_ACK", "In-band notifications".
 *
 * Where the spec's own tables and what every implementation puts on the
 * wire disagree, the rule follows the wire and says so in a comment.
 */
#include "wire/vhost_user.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/util.h"
#include "wire/wire_fmt.h"

/* ---- Reasons ---------------------------------------------------------- */

/* Formatted reasons live here until the next call on this thread. */
static _Thread_local char why_buf[256];

static int VUC_PRINTF(3, 4)
	fail(const char **why, int err, const char *fmt, ...)
{
	va_list ap;

	/* nobody asked why: nothing to format */
	if (!why)
		return err;
	va_start(ap, fmt);
	wire_vfmt(why_buf, sizeof(why_buf), fmt, ap);
	va_end(ap);
	*why = why_buf;
	return err;
}

/* Record a warning: the first one names the reason. */
static void add_warning(unsigned int *mask, const char **first,
			unsigned int bit, const char *reason)
{
	if (!*mask)
		*first = reason;
	*mask |= bit;
}

/* ---- The rule table --------------------------------------------------- */

#define FE(c)                                                   \
	.code = c, .dir = VHOST_USER_FROM_FRONTEND, .name = #c, \
	.anchor = "vhost-user#front-end-message-types"
#define BE(c)                                                  \
	.code = c, .dir = VHOST_USER_FROM_BACKEND, .name = #c, \
	.anchor = "vhost-user#back-end-message-types"
/* request payload: layout, size rule, size */
#define REQ(l, rule, sz)                                                      \
	.layout = VHOST_USER_LAYOUT_##l, .size_rule = VHOST_USER_SIZE_##rule, \
	.size = (sz)
#define FDS(rule, max) .fds = VHOST_USER_FDS_##rule, .max_fds = (max)
/* reply body: layout, size rule, size, fd rule, most fds */
#define BODY(l, rule, sz, fdr, max)                                    \
	.reply_layout = VHOST_USER_LAYOUT_##l,                         \
	.reply_size_rule = VHOST_USER_SIZE_##rule, .reply_size = (sz), \
	.reply_fds = VHOST_USER_FDS_##fdr, .reply_max_fds = (max)
/* answered only with REPLY_ACK and need_reply: a u64 */
#define ACKED .reply = VHOST_USER_REPLY_IF_ACKED, BODY(U64, EXACT, 8, NONE, 0)
#define ALWAYS(l, rule, sz, fdr, max) \
	.reply = VHOST_USER_REPLY_ALWAYS, BODY(l, rule, sz, fdr, max)
#define PF(f) VHOST_USER_PROTO_BIT(f)
#define VF(bit) (UINT64_C(1) << (bit))

const struct vhost_user_rule vhost_user_rules[] = {
	/* ---- front-end -> back-end ---- */
	{
		FE(VHOST_USER_GET_FEATURES),
		REQ(EMPTY, EXACT, 0),
		FDS(NONE, 0),
		ALWAYS(U64, EXACT, 8, NONE, 0),
	},
	{
		FE(VHOST_USER_SET_FEATURES),
		REQ(U64, EXACT, 8),
		FDS(NONE, 0),
		ACKED,
		.see = "vhost-user#ring-states",
	},
	{
		FE(VHOST_USER_SET_OWNER),
		REQ(EMPTY, EXACT, 0),
		FDS(NONE, 0),
		ACKED,
	},
	{
		/* "Deprecated ... This is no longer used." */
		FE(VHOST_USER_RESET_OWNER),
		REQ(EMPTY, EXACT, 0),
		FDS(NONE, 0),
		ACKED,
		.flags = VHOST_USER_RULE_DEPRECATED,
	},
	{
		/*
		 * "an array of file descriptors for each memory mapped region.
		 * The size and ordering of the fds matches the number and
		 * ordering of memory regions." Size is 8 + 32 * nregions
		 * (QEMU sends only the regions in use). In postcopy the
		 * back-end answers with the table, same size.
		 */
		FE(VHOST_USER_SET_MEM_TABLE),
		REQ(MEM_TABLE, MEM_TABLE, 8),
		FDS(PER_REGION, VHOST_USER_MAX_MEM_REGIONS),
		ACKED,
		.flags = VHOST_USER_RULE_REPLY_MAY_ECHO,
		.see = "vhost-user#memory-access",
	},
	{
		/*
		 * The entry says "request payload: u64", but its text says
		 * "the size and offset of shared memory area provided in the
		 * message", and QEMU sends the log description (16 bytes),
		 * which libvhost-user and DPDK require. The fd comes "when the
		 * back-end has VHOST_USER_PROTOCOL_F_LOG_SHMFD", and only then
		 * is the request answered ("Communication"): libvhost-user
		 * answers a u64, DPDK an empty payload (QEMU reads either).
		 */
		FE(VHOST_USER_SET_LOG_BASE),
		REQ(LOG, EXACT, 16),
		FDS(ONE_IF_FEATURE, 1),
		.fd_feature = VHOST_USER_PROTOCOL_F_LOG_SHMFD,
		.reply = VHOST_USER_REPLY_IF_FEATURE,
		.reply_feature = VHOST_USER_PROTOCOL_F_LOG_SHMFD,
		BODY(U64, EXACT, 8, NONE, 0),
		.flags = VHOST_USER_RULE_REPLY_MAY_BE_EMPTY,
		.see = "vhost-user#migration",
	},
	{
		FE(VHOST_USER_SET_LOG_FD),
		REQ(EMPTY, EXACT, 0),
		FDS(ONE, 1),
		ACKED,
		.see = "vhost-user#migration",
	},
	{
		FE(VHOST_USER_SET_VRING_NUM),
		REQ(VRING_STATE, EXACT, 8),
		FDS(NONE, 0),
		ACKED,
		.flags = VHOST_USER_RULE_VRING_INDEX,
	},
	{
		FE(VHOST_USER_SET_VRING_ADDR),
		REQ(VRING_ADDR, EXACT, 40),
		FDS(NONE, 0),
		ACKED,
		.flags = VHOST_USER_RULE_VRING_INDEX,
	},
	{
		FE(VHOST_USER_SET_VRING_BASE),
		REQ(VRING_BASE, EXACT, 8),
		FDS(NONE, 0),
		ACKED,
		.flags = VHOST_USER_RULE_VRING_INDEX,
	},
	{
		/* "The request payload's num field is currently reserved and
		 * must be set to 0." */
		FE(VHOST_USER_GET_VRING_BASE),
		REQ(VRING_STATE, EXACT, 8),
		FDS(NONE, 0),
		ALWAYS(VRING_BASE, EXACT, 8, NONE, 0),
		.flags = VHOST_USER_RULE_VRING_INDEX |
			 VHOST_USER_RULE_NUM_RESERVED,
		.see = "vhost-user#ring-states",
	},
	{
		/* "Bit 8 is the invalid FD flag. This flag is set when there
		 * is no file descriptor in the ancillary data." */
		FE(VHOST_USER_SET_VRING_KICK),
		REQ(VRING_FD, EXACT, 8),
		FDS(ONE_UNLESS_NOFD, 1),
		ACKED,
		.flags = VHOST_USER_RULE_VRING_INDEX,
		.see = "vhost-user#ring-states",
	},
	{
		FE(VHOST_USER_SET_VRING_CALL),
		REQ(VRING_FD, EXACT, 8),
		FDS(ONE_UNLESS_NOFD, 1),
		ACKED,
		.flags = VHOST_USER_RULE_VRING_INDEX,
	},
	{
		FE(VHOST_USER_SET_VRING_ERR),
		REQ(VRING_FD, EXACT, 8),
		FDS(ONE_UNLESS_NOFD, 1),
		ACKED,
		.flags = VHOST_USER_RULE_VRING_INDEX,
	},
	{
		/* "Only legal if feature bit VHOST_USER_F_PROTOCOL_FEATURES
		 * is present in VHOST_USER_GET_FEATURES" (offered, not
		 * necessarily acknowledged by SET_FEATURES) */
		FE(VHOST_USER_GET_PROTOCOL_FEATURES),
		REQ(EMPTY, EXACT, 0),
		FDS(NONE, 0),
		ALWAYS(PROTOCOL_FEATURES, EXACT, 8, NONE, 0),
		.features = VF(VHOST_USER_F_PROTOCOL_FEATURES),
	},
	{
		FE(VHOST_USER_SET_PROTOCOL_FEATURES),
		REQ(PROTOCOL_FEATURES, EXACT, 8),
		FDS(NONE, 0),
		ACKED,
		.features = VF(VHOST_USER_F_PROTOCOL_FEATURES),
		.see = "vhost-user#in-band-notifications",
	},
	{
		/* "should be sent only when VHOST_USER_PROTOCOL_F_MQ is set" */
		FE(VHOST_USER_GET_QUEUE_NUM),
		REQ(EMPTY, EXACT, 0),
		FDS(NONE, 0),
		ALWAYS(U64, EXACT, 8, NONE, 0),
		.gate = PF(MQ),
		.see = "vhost-user#multiple-queue-support",
	},
	{
		/* "should be sent only when VHOST_USER_F_PROTOCOL_FEATURES
		 * has been negotiated" */
		FE(VHOST_USER_SET_VRING_ENABLE),
		REQ(VRING_STATE, EXACT, 8),
		FDS(NONE, 0),
		ACKED,
		.features = VF(VHOST_USER_F_PROTOCOL_FEATURES),
		.flags = VHOST_USER_RULE_VRING_INDEX,
		.see = "vhost-user#ring-states",
	},
	{
		/* "The first 6 bytes of the payload contain the mac address" */
		FE(VHOST_USER_SEND_RARP),
		REQ(MAC, EXACT, 8),
		FDS(NONE, 0),
		ACKED,
		.gate = PF(RARP),
		.features = VF(VHOST_USER_F_PROTOCOL_FEATURES),
	},
	{
		/* the entry spells the bit VHOST_USER_PROTOCOL_F_NET_MTU */
		FE(VHOST_USER_NET_SET_MTU),
		REQ(U64, EXACT, 8),
		FDS(NONE, 0),
		ACKED,
		.gate = PF(MTU),
		.features = VF(VHOST_USER_VIRTIO_NET_F_MTU) |
			    VF(VHOST_USER_F_PROTOCOL_FEATURES),
	},
	{
		FE(VHOST_USER_SET_BACKEND_REQ_FD),
		.alias = "VHOST_USER_SET_SLAVE_REQ_FD",
		REQ(EMPTY, EXACT, 0),
		FDS(ONE, 1),
		ACKED,
		.gate = PF(BACKEND_REQ),
		.features = VF(VHOST_USER_F_PROTOCOL_FEATURES),
		.see = "vhost-user#back-end-communication",
	},
	{
		/*
		 * "The back-end has to acknowledge the request with sending
		 * zero as u64 payload for success": answered always. The
		 * payload is the kernel's struct vhost_iotlb_msg, 32 bytes
		 * with its tail padding (see struct vhost_user_iotlb).
		 */
		FE(VHOST_USER_IOTLB_MSG),
		REQ(IOTLB, EXACT, 32),
		FDS(NONE, 0),
		ALWAYS(U64, EXACT, 8, NONE, 0),
		.features = VF(VHOST_USER_VIRTIO_F_IOMMU_PLATFORM),
		.see = "vhost-user#iommu-support",
	},
	{
		/* "Little-endian is indicated with state.num set to 0 and
		 * big-endian ... 1. Other values are invalid." */
		FE(VHOST_USER_SET_VRING_ENDIAN),
		REQ(VRING_STATE, EXACT, 8),
		FDS(NONE, 0),
		ACKED,
		.gate = PF(CROSS_ENDIAN),
		.flags = VHOST_USER_RULE_VRING_INDEX,
	},
	{
		/* "back-end's payload size MUST match the front-end's request,
		 * vhost-user back-end uses zero length of payload to indicate
		 * an error" */
		FE(VHOST_USER_GET_CONFIG),
		REQ(CONFIG, CONFIG, VHOST_USER_CONFIG_HDR_SIZE),
		FDS(NONE, 0),
		ALWAYS(CONFIG, OF_REQUEST, 0, NONE, 0),
		.gate = PF(CONFIG),
		.flags = VHOST_USER_RULE_REPLY_MAY_BE_EMPTY,
	},
	{
		FE(VHOST_USER_SET_CONFIG),
		REQ(CONFIG, CONFIG, VHOST_USER_CONFIG_HDR_SIZE),
		FDS(NONE, 0),
		ACKED,
		.gate = PF(CONFIG),
	},
	{
		/*
		 * "crypto session description": named, never laid out. QEMU
		 * sends its own struct (op code, then algorithm parameters
		 * and keys) and wants the same size back; at least the 8-byte
		 * op code / session id is always there.
		 */
		FE(VHOST_USER_CREATE_CRYPTO_SESSION),
		REQ(CRYPTO_SESSION, MIN, 8),
		FDS(NONE, 0),
		ALWAYS(CRYPTO_SESSION, OF_REQUEST, 0, NONE, 0),
		.gate = PF(CRYPTO_SESSION),
	},
	{
		FE(VHOST_USER_CLOSE_CRYPTO_SESSION),
		REQ(U64, EXACT, 8),
		FDS(NONE, 0),
		ACKED,
		.gate = PF(CRYPTO_SESSION),
	},
	{
		/* "reply payload: userfault fd": an empty payload (QEMU
		 * rejects any other size) with the fd beside it */
		FE(VHOST_USER_POSTCOPY_ADVISE),
		REQ(EMPTY, EXACT, 0),
		FDS(NONE, 0),
		ALWAYS(EMPTY, EXACT, 0, ONE, 1),
		.gate = PF(PAGEFAULT),
		.see = "vhost-user#migration",
	},
	{
		FE(VHOST_USER_POSTCOPY_LISTEN),
		REQ(EMPTY, EXACT, 0),
		FDS(NONE, 0),
		ACKED,
		.gate = PF(PAGEFAULT),
		.see = "vhost-user#migration",
	},
	{
		/* "The value returned is an error indication; 0 is success." */
		FE(VHOST_USER_POSTCOPY_END),
		REQ(EMPTY, EXACT, 0),
		FDS(NONE, 0),
		ALWAYS(U64, EXACT, 8, NONE, 0),
		.gate = PF(PAGEFAULT),
		.see = "vhost-user#migration",
	},
	{
		/*
		 * The entry says "reply payload: N/A", but "Communication"
		 * lists it among the answered requests "(if
		 * VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD)", and every peer
		 * answers with the inflight description (24 bytes, tail
		 * padding counted) and the buffer's fd. mmap_size 0 means no
		 * buffer: QEMU then takes no fd.
		 */
		FE(VHOST_USER_GET_INFLIGHT_FD),
		REQ(INFLIGHT, EXACT, 24),
		FDS(NONE, 0),
		.reply = VHOST_USER_REPLY_IF_FEATURE,
		.reply_feature = VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD,
		BODY(INFLIGHT, EXACT, 24, ONE_UNLESS_EMPTY, 1),
		.gate = PF(INFLIGHT_SHMFD),
		.see = "vhost-user#inflight-i-o-tracking",
	},
	{
		FE(VHOST_USER_SET_INFLIGHT_FD),
		REQ(INFLIGHT, EXACT, 24),
		FDS(ONE, 1),
		ACKED,
		.gate = PF(INFLIGHT_SHMFD),
		.see = "vhost-user#inflight-i-o-tracking",
	},
	{
		FE(VHOST_USER_GPU_SET_SOCKET),
		REQ(EMPTY, EXACT, 0),
		FDS(ONE, 1),
		ACKED,
	},
	{
		FE(VHOST_USER_RESET_DEVICE),
		REQ(EMPTY, EXACT, 0),
		FDS(NONE, 0),
		ACKED,
		.gate = PF(RESET_DEVICE),
	},
	{
		/* "The state.num field is currently reserved and must be set
		 * to 0." */
		FE(VHOST_USER_VRING_KICK),
		REQ(VRING_STATE, EXACT, 8),
		FDS(NONE, 0),
		ACKED,
		.gate = PF(INBAND_NOTIFICATIONS),
		.flags = VHOST_USER_RULE_VRING_INDEX |
			 VHOST_USER_RULE_NUM_RESERVED,
		.see = "vhost-user#in-band-notifications",
	},
	{
		FE(VHOST_USER_GET_MAX_MEM_SLOTS),
		REQ(EMPTY, EXACT, 0),
		FDS(NONE, 0),
		ALWAYS(U64, EXACT, 8, NONE, 0),
		.gate = PF(CONFIGURE_MEM_SLOTS),
	},
	{
		/*
		 * The entry swaps its payload lines ("request payload: N/A"),
		 * but the text is plain: "The message payload contains a
		 * memory region descriptor struct" and "Exactly one file
		 * descriptor ... is passed". In postcopy the reply echoes it.
		 */
		FE(VHOST_USER_ADD_MEM_REG),
		REQ(MEM_REGION, MEM_REGION, 40),
		FDS(ONE, 1),
		ACKED,
		.gate = PF(CONFIGURE_MEM_SLOTS),
		.flags = VHOST_USER_RULE_REPLY_MAY_ECHO,
		.see = "vhost-user#memory-access",
	},
	{
		/* "No file descriptors SHOULD be passed ... the back-end MAY
		 * accept messages with one file descriptor." */
		FE(VHOST_USER_REM_MEM_REG),
		REQ(MEM_REGION, MEM_REGION, 40),
		FDS(NONE_TOLERATE_ONE, 1),
		ACKED,
		.gate = PF(CONFIGURE_MEM_SLOTS),
		.flags = VHOST_USER_RULE_REPLY_MAY_ECHO,
		.see = "vhost-user#memory-access",
	},
	{
		FE(VHOST_USER_SET_STATUS),
		REQ(U64, EXACT, 8),
		FDS(NONE, 0),
		ACKED,
		.gate = PF(STATUS),
	},
	{
		FE(VHOST_USER_GET_STATUS),
		REQ(EMPTY, EXACT, 0),
		FDS(NONE, 0),
		ALWAYS(U64, EXACT, 8, NONE, 0),
		.gate = PF(STATUS),
	},
	{
		/*
		 * "Back-end will reply passing the fd when the operation is
		 * successful, or no fd otherwise." The reply has no defined
		 * body: libvhost-user echoes the request (16 bytes), others
		 * send a u64 or nothing, so up to 16 bytes are accepted.
		 */
		FE(VHOST_USER_GET_SHARED_OBJECT),
		REQ(SHARED, EXACT, 16),
		FDS(NONE, 0),
		ALWAYS(OPAQUE, MAX, 16, OPTIONAL, 1),
		.gate = PF(SHARED_OBJECT),
	},
	{
		/*
		 * "Bits 0-7 are 0 on success, and non-zero on error. Bit 8 is
		 * the invalid FD flag ... The back-end must not both indicate
		 * an error and return a file descriptor."
		 */
		FE(VHOST_USER_SET_DEVICE_STATE_FD),
		REQ(DEVICE_STATE, EXACT, 8),
		FDS(ONE, 1),
		ALWAYS(U64, EXACT, 8, ONE_UNLESS_NOFD, 1),
		.gate = PF(DEVICE_STATE),
		.see = "vhost-user#migrating-back-end-state",
	},
	{
		FE(VHOST_USER_CHECK_DEVICE_STATE),
		REQ(EMPTY, EXACT, 0),
		FDS(NONE, 0),
		ALWAYS(U64, EXACT, 8, NONE, 0),
		.gate = PF(DEVICE_STATE),
		.see = "vhost-user#migrating-back-end-state",
	},

	/*
	 * ---- back-end -> front-end ----
	 * All of them travel on the channel SET_BACKEND_REQ_FD sets up, so
	 * all need BACKEND_REQ; fds need BACKEND_SEND_FD ("back-end can send
	 * file descriptors ... if ... BACKEND_SEND_FD ... is negotiated").
	 */
	{
		BE(VHOST_USER_BACKEND_IOTLB_MSG),
		.alias = "VHOST_USER_SLAVE_IOTLB_MSG",
		REQ(IOTLB, EXACT, 32),
		FDS(NONE, 0),
		ACKED,
		.gate = PF(BACKEND_REQ),
		.features = VF(VHOST_USER_VIRTIO_F_IOMMU_PLATFORM),
		.see = "vhost-user#iommu-support",
	},
	{
		BE(VHOST_USER_BACKEND_CONFIG_CHANGE_MSG),
		.alias = "VHOST_USER_SLAVE_CONFIG_CHANGE_MSG",
		REQ(EMPTY, EXACT, 0),
		FDS(NONE, 0),
		ACKED,
		.gate = PF(BACKEND_REQ) | PF(CONFIG),
	},
	{
		/*
		 * "register the new notifier if the request is sent with a
		 * file descriptor"; QEMU and DPDK say "no fd" with the NOFD
		 * bit in the area's u64, as for SET_VRING_KICK.
		 */
		BE(VHOST_USER_BACKEND_VRING_HOST_NOTIFIER_MSG),
		.alias = "VHOST_USER_SLAVE_VRING_HOST_NOTIFIER_MSG",
		REQ(VRING_AREA, EXACT, 24),
		FDS(ONE_UNLESS_NOFD, 1),
		ACKED,
		.gate = PF(BACKEND_REQ) | PF(HOST_NOTIFIER),
		.flags = VHOST_USER_RULE_VRING_INDEX |
			 VHOST_USER_RULE_FDS_NEED_SEND_FD,
	},
	{
		BE(VHOST_USER_BACKEND_VRING_CALL),
		.alias = "VHOST_USER_SLAVE_VRING_CALL",
		REQ(VRING_STATE, EXACT, 8),
		FDS(NONE, 0),
		ACKED,
		.gate = PF(BACKEND_REQ) | PF(INBAND_NOTIFICATIONS),
		.flags = VHOST_USER_RULE_VRING_INDEX |
			 VHOST_USER_RULE_NUM_RESERVED,
		.see = "vhost-user#in-band-notifications",
	},
	{
		BE(VHOST_USER_BACKEND_VRING_ERR),
		.alias = "VHOST_USER_SLAVE_VRING_ERR",
		REQ(VRING_STATE, EXACT, 8),
		FDS(NONE, 0),
		ACKED,
		.gate = PF(BACKEND_REQ) | PF(INBAND_NOTIFICATIONS),
		.flags = VHOST_USER_RULE_VRING_INDEX |
			 VHOST_USER_RULE_NUM_RESERVED,
		.see = "vhost-user#in-band-notifications",
	},
	{
		BE(VHOST_USER_BACKEND_SHARED_OBJECT_ADD),
		REQ(SHARED, EXACT, 16),
		FDS(NONE, 0),
		ACKED,
		.gate = PF(BACKEND_REQ) | PF(SHARED_OBJECT),
	},
	{
		BE(VHOST_USER_BACKEND_SHARED_OBJECT_REMOVE),
		REQ(SHARED, EXACT, 16),
		FDS(NONE, 0),
		ACKED,
		.gate = PF(BACKEND_REQ) | PF(SHARED_OBJECT),
	},
	{
		/* "reply payload: dmabuf fd and u64" ... "if the operation
		 * fails, no fd is sent to the backend" */
		BE(VHOST_USER_BACKEND_SHARED_OBJECT_LOOKUP),
		REQ(SHARED, EXACT, 16),
		FDS(NONE, 0),
		ALWAYS(U64, EXACT, 8, OPTIONAL, 1),
		.gate = PF(BACKEND_REQ) | PF(SHARED_OBJECT),
	},
};

const size_t vhost_user_rule_count = ARRAY_SIZE(vhost_user_rules);

_Static_assert(ARRAY_SIZE(vhost_user_rules) ==
		       (VHOST_USER_MAX - 1) + (VHOST_USER_BACKEND_MAX - 1),
	       "one rule per request of either direction");

#undef FE
#undef BE
#undef REQ
#undef FDS
#undef BODY
#undef ACKED
#undef ALWAYS
#undef PF
#undef VF

const struct vhost_user_rule *vhost_user_rule_find(enum vhost_user_dir dir,
						   uint32_t code)
{
	const struct vhost_user_rule *r;

	/* The table holds each direction's codes in order, from 1, without
	 * a gap (checked by the unit tests): index, do not search. */
	if (dir == VHOST_USER_FROM_FRONTEND && code >= 1 &&
	    code < VHOST_USER_MAX)
		r = &vhost_user_rules[code - 1];
	else if (dir == VHOST_USER_FROM_BACKEND && code >= 1 &&
		 code < VHOST_USER_BACKEND_MAX)
		r = &vhost_user_rules[VHOST_USER_MAX - 1 + code - 1];
	else
		return NULL;
	assert(r->dir == dir && r->code == code);
	return r;
}

const char *vhost_user_request_name(enum vhost_user_dir dir, uint32_t code)
{
	const struct vhost_user_rule *r = vhost_user_rule_find(dir, code);

	return r ? r->name : NULL;
}

static const char *const protocol_feature_names[] = {
	[VHOST_USER_PROTOCOL_F_MQ] = "VHOST_USER_PROTOCOL_F_MQ",
	[VHOST_USER_PROTOCOL_F_LOG_SHMFD] = "VHOST_USER_PROTOCOL_F_LOG_SHMFD",
	[VHOST_USER_PROTOCOL_F_RARP] = "VHOST_USER_PROTOCOL_F_RARP",
	[VHOST_USER_PROTOCOL_F_REPLY_ACK] = "VHOST_USER_PROTOCOL_F_REPLY_ACK",
	[VHOST_USER_PROTOCOL_F_MTU] = "VHOST_USER_PROTOCOL_F_MTU",
	[VHOST_USER_PROTOCOL_F_BACKEND_REQ] =
		"VHOST_USER_PROTOCOL_F_BACKEND_REQ",
	[VHOST_USER_PROTOCOL_F_CROSS_ENDIAN] =
		"VHOST_USER_PROTOCOL_F_CROSS_ENDIAN",
	[VHOST_USER_PROTOCOL_F_CRYPTO_SESSION] =
		"VHOST_USER_PROTOCOL_F_CRYPTO_SESSION",
	[VHOST_USER_PROTOCOL_F_PAGEFAULT] = "VHOST_USER_PROTOCOL_F_PAGEFAULT",
	[VHOST_USER_PROTOCOL_F_CONFIG] = "VHOST_USER_PROTOCOL_F_CONFIG",
	[VHOST_USER_PROTOCOL_F_BACKEND_SEND_FD] =
		"VHOST_USER_PROTOCOL_F_BACKEND_SEND_FD",
	[VHOST_USER_PROTOCOL_F_HOST_NOTIFIER] =
		"VHOST_USER_PROTOCOL_F_HOST_NOTIFIER",
	[VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD] =
		"VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD",
	[VHOST_USER_PROTOCOL_F_RESET_DEVICE] =
		"VHOST_USER_PROTOCOL_F_RESET_DEVICE",
	[VHOST_USER_PROTOCOL_F_INBAND_NOTIFICATIONS] =
		"VHOST_USER_PROTOCOL_F_INBAND_NOTIFICATIONS",
	[VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS] =
		"VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS",
	[VHOST_USER_PROTOCOL_F_STATUS] = "VHOST_USER_PROTOCOL_F_STATUS",
	[VHOST_USER_PROTOCOL_F_XEN_MMAP] = "VHOST_USER_PROTOCOL_F_XEN_MMAP",
	[VHOST_USER_PROTOCOL_F_SHARED_OBJECT] =
		"VHOST_USER_PROTOCOL_F_SHARED_OBJECT",
	[VHOST_USER_PROTOCOL_F_DEVICE_STATE] =
		"VHOST_USER_PROTOCOL_F_DEVICE_STATE",
};
_Static_assert(ARRAY_SIZE(protocol_feature_names) == VHOST_USER_PROTOCOL_F_MAX,
	       "a name per protocol feature");

const char *vhost_user_protocol_feature_name(unsigned int bit)
{
	if (bit >= ARRAY_SIZE(protocol_feature_names))
		return NULL;
	return protocol_feature_names[bit];
}

static const char *const layout_names[] = {
	[VHOST_USER_LAYOUT_EMPTY] = "empty",
	[VHOST_USER_LAYOUT_U64] = "u64",
	[VHOST_USER_LAYOUT_PROTOCOL_FEATURES] = "protocol features",
	[VHOST_USER_LAYOUT_MAC] = "mac address",
	[VHOST_USER_LAYOUT_VRING_FD] = "vring index and fd flag",
	[VHOST_USER_LAYOUT_VRING_STATE] = "vring state",
	[VHOST_USER_LAYOUT_VRING_BASE] = "vring descriptor index",
	[VHOST_USER_LAYOUT_VRING_ADDR] = "vring address",
	[VHOST_USER_LAYOUT_MEM_TABLE] = "memory regions",
	[VHOST_USER_LAYOUT_MEM_REGION] = "single memory region",
	[VHOST_USER_LAYOUT_LOG] = "log",
	[VHOST_USER_LAYOUT_IOTLB] = "iotlb",
	[VHOST_USER_LAYOUT_CONFIG] = "config space",
	[VHOST_USER_LAYOUT_CRYPTO_SESSION] = "crypto session",
	[VHOST_USER_LAYOUT_VRING_AREA] = "vring area",
	[VHOST_USER_LAYOUT_INFLIGHT] = "inflight",
	[VHOST_USER_LAYOUT_SHARED] = "shared object",
	[VHOST_USER_LAYOUT_DEVICE_STATE] = "device state transfer",
	[VHOST_USER_LAYOUT_OPAQUE] = "opaque",
};
_Static_assert(ARRAY_SIZE(layout_names) == VHOST_USER_LAYOUT_COUNT,
	       "a name per layout");

const char *vhost_user_layout_name(enum vhost_user_layout layout)
{
	if ((unsigned int)layout >= ARRAY_SIZE(layout_names))
		return "?";
	return layout_names[layout];
}

/* ---- Envelope, parse, pack -------------------------------------------- */

void vhost_user_msg_init(struct vhost_user_msg *m)
{
	unsigned int i;

	memset(&m->hdr, 0, sizeof(m->hdr));
	memset(m->payload, 0, sizeof(m->payload));
	for (i = 0; i < VHOST_USER_MAX_FDS; i++)
		m->fds[i] = -1;
	m->nfds = 0;
}

int vhost_user_msg_attach_fds(struct vhost_user_msg *m, const int *fds,
			      unsigned int n)
{
	unsigned int i;

	if (n > VHOST_USER_MAX_FDS)
		return -EINVAL;
	for (i = 0; i < VHOST_USER_MAX_FDS; i++)
		m->fds[i] = i < n ? fds[i] : -1;
	m->nfds = n;
	return 0;
}

int vhost_user_hdr_parse(const void *buf, size_t len,
			 struct vhost_user_hdr *hdr, const char **why)
{
	if (len < VHOST_USER_HDR_SIZE)
		return fail(why, -ENODATA,
			    "%zu bytes are less than the 12-byte header", len);
	memcpy(hdr, buf, VHOST_USER_HDR_SIZE);
	return VHOST_USER_HDR_SIZE;
}

int vhost_user_parse(struct vhost_user_msg *m, const void *buf, size_t len,
		     const char **why)
{
	const uint8_t *p = buf;
	unsigned int i;
	int ret;

	ret = vhost_user_hdr_parse(buf, len, &m->hdr, why);
	if (ret < 0)
		return ret;
	for (i = 0; i < VHOST_USER_MAX_FDS; i++)
		m->fds[i] = -1;
	m->nfds = 0;

	if (m->hdr.size > VHOST_USER_PAYLOAD_MAX)
		return fail(why, -EMSGSIZE,
			    "payload size %" PRIu32
			    " is past the %u-byte maximum",
			    m->hdr.size, VHOST_USER_PAYLOAD_MAX);
	/* Written so that nothing can overflow: len >= 12 here. */
	if (len - VHOST_USER_HDR_SIZE < m->hdr.size)
		return fail(why, -ENODATA,
			    "%zu payload bytes of the %" PRIu32
			    " the header announces",
			    len - VHOST_USER_HDR_SIZE, m->hdr.size);

	memcpy(m->payload, p + VHOST_USER_HDR_SIZE, m->hdr.size);
	memset(m->payload + m->hdr.size, 0,
	       VHOST_USER_PAYLOAD_MAX - m->hdr.size);
	return (int)(VHOST_USER_HDR_SIZE + m->hdr.size);
}

int vhost_user_pack_raw(const struct vhost_user_hdr *hdr, const void *payload,
			size_t payload_len, void *out, size_t cap)
{
	uint8_t *o = out;

	if (payload_len > (size_t)INT_MAX - VHOST_USER_HDR_SIZE)
		return -EMSGSIZE;
	if (cap < VHOST_USER_HDR_SIZE ||
	    cap - VHOST_USER_HDR_SIZE < payload_len)
		return -ENOSPC;

	memcpy(o, hdr, VHOST_USER_HDR_SIZE);
	if (payload)
		memcpy(o + VHOST_USER_HDR_SIZE, payload, payload_len);
	else
		memset(o + VHOST_USER_HDR_SIZE, 0, payload_len);
	return (int)(VHOST_USER_HDR_SIZE + payload_len);
}

int vhost_user_pack(const struct vhost_user_msg *m, void *out, size_t cap)
{
	/* We can only reproduce bytes the envelope holds. */
	if (m->hdr.size > VHOST_USER_PAYLOAD_MAX)
		return -EMSGSIZE;
	return vhost_user_pack_raw(&m->hdr, m->payload, m->hdr.size, out, cap);
}

/* ---- Size and fd rules ------------------------------------------------ */

/* Payload fields, copied out: the payload sits at an unaligned offset. */
static uint64_t load64(const struct vhost_user_msg *m, size_t off)
{
	uint64_t v;

	memcpy(&v, m->payload + off, sizeof(v));
	return v;
}

static uint32_t load32(const struct vhost_user_msg *m, size_t off)
{
	uint32_t v;

	memcpy(&v, m->payload + off, sizeof(v));
	return v;
}

static uint16_t load16(const struct vhost_user_msg *m, size_t off)
{
	uint16_t v;

	memcpy(&v, m->payload + off, sizeof(v));
	return v;
}

/* "When the VHOST_USER_PROTOCOL_F_XEN_MMAP protocol feature has been
 * successfully negotiated, the memory region description contains two
 * extra fields at the end." */
static uint32_t region_size(uint64_t negotiated)
{
	return negotiated & VHOST_USER_PROTO_BIT(XEN_MMAP) ? 40 : 32;
}

/*
 * The payload sizes a size rule accepts, [*lo, *hi], for message @m (whose
 * counts MEM_TABLE and CONFIG read). @pre and @name say whose rule it is.
 */
static int size_bounds(enum vhost_user_size_rule rule, uint32_t base,
		       const struct vhost_user_msg *m, uint64_t negotiated,
		       uint32_t req_size, const char *pre, const char *name,
		       uint32_t *lo, uint32_t *hi, const char **why)
{
	uint32_t n;

	switch (rule) {
	case VHOST_USER_SIZE_EXACT:
		*lo = *hi = base;
		return 0;
	case VHOST_USER_SIZE_MIN:
		*lo = base;
		*hi = VHOST_USER_PAYLOAD_MAX;
		return 0;
	case VHOST_USER_SIZE_MAX:
		*lo = 0;
		*hi = base;
		return 0;
	case VHOST_USER_SIZE_MEM_TABLE:
		if (m->hdr.size < 8)
			return fail(why, -EBADMSG,
				    "payload size %" PRIu32
				    " is too short for the 8-byte region count "
				    "of %s%s",
				    m->hdr.size, pre, name);
		n = load32(m, 0);
		if (n > VHOST_USER_MAX_MEM_REGIONS)
			return fail(why, -EBADMSG,
				    "%s%s has %" PRIu32
				    " regions, more than the %u a table holds",
				    pre, name, n, VHOST_USER_MAX_MEM_REGIONS);
		*lo = *hi = 8 + n * region_size(negotiated);
		return 0;
	case VHOST_USER_SIZE_MEM_REGION:
		*lo = *hi = 8 + region_size(negotiated);
		return 0;
	case VHOST_USER_SIZE_CONFIG:
		if (m->hdr.size < VHOST_USER_CONFIG_HDR_SIZE)
			return fail(why, -EBADMSG,
				    "payload size %" PRIu32
				    " is too short for the 12-byte config "
				    "header of %s%s",
				    m->hdr.size, pre, name);
		n = load32(m, 4);
		if (n > VHOST_USER_MAX_CONFIG_SIZE)
			return fail(why, -EBADMSG,
				    "%s%s config size %" PRIu32
				    " is more than the %u bytes it carries",
				    pre, name, n, VHOST_USER_MAX_CONFIG_SIZE);
		*lo = *hi = VHOST_USER_CONFIG_HDR_SIZE + n;
		return 0;
	case VHOST_USER_SIZE_OF_REQUEST:
		*lo = *hi = req_size;
		return 0;
	}
	return fail(why, -EINVAL, "unknown size rule %d", (int)rule);
}

static int check_size(enum vhost_user_size_rule rule, uint32_t base,
		      const struct vhost_user_msg *m, uint64_t negotiated,
		      uint32_t req_size, const char *pre, const char *name,
		      const char **why)
{
	uint32_t lo, hi, size = m->hdr.size;
	int ret;

	ret = size_bounds(rule, base, m, negotiated, req_size, pre, name, &lo,
			  &hi, why);
	if (ret < 0)
		return ret;
	if (size >= lo && size <= hi)
		return 0;

	switch (rule) {
	case VHOST_USER_SIZE_MIN:
		return fail(why, -EBADMSG,
			    "payload size %" PRIu32 " is less than the %" PRIu32
			    " bytes %s%s needs at least",
			    size, lo, pre, name);
	case VHOST_USER_SIZE_MAX:
		return fail(why, -EBADMSG,
			    "payload size %" PRIu32 " is more than the %" PRIu32
			    " bytes %s%s carries at most",
			    size, hi, pre, name);
	case VHOST_USER_SIZE_MEM_TABLE:
		return fail(why, -EBADMSG,
			    "payload size %" PRIu32 " is not the %" PRIu32
			    " bytes (8 + %" PRIu32 " * %" PRIu32
			    " regions) %s%s takes",
			    size, lo, region_size(negotiated), load32(m, 0),
			    pre, name);
	case VHOST_USER_SIZE_CONFIG:
		return fail(why, -EBADMSG,
			    "payload size %" PRIu32 " is not the %" PRIu32
			    " bytes (12 + config size %" PRIu32 ") %s%s takes",
			    size, lo, load32(m, 4), pre, name);
	case VHOST_USER_SIZE_OF_REQUEST:
		return fail(why, -EBADMSG,
			    "payload size %" PRIu32 " is not the %" PRIu32
			    " bytes of the request, which %s%s must match",
			    size, lo, pre, name);
	default:
		return fail(why, -EBADMSG,
			    "payload size %" PRIu32 " is not the %" PRIu32
			    " bytes %s%s takes",
			    size, lo, pre, name);
	}
}

static int check_fds(enum vhost_user_fd_rule rule, uint8_t max,
		     uint8_t fd_feature, const struct vhost_user_msg *m,
		     uint64_t negotiated, const char *pre, const char *name,
		     unsigned int *warns, const char **wfirst, const char **why)
{
	unsigned int n = m->nfds;
	uint64_t u64;

	/* The table's own bound first: nothing legal carries more. */
	if (n > max)
		return fail(why, -EBADMSG,
			    "%u fds on %s%s, which carries at most %u", n, pre,
			    name, max);

	switch (rule) {
	case VHOST_USER_FDS_NONE:
		return 0; /* max is 0 */
	case VHOST_USER_FDS_ONE:
		if (n != 1)
			return fail(why, -EBADMSG,
				    "%s%s takes exactly one fd, got %u", pre,
				    name, n);
		return 0;
	case VHOST_USER_FDS_ONE_UNLESS_NOFD:
		if (m->hdr.size < 8)
			return fail(why, -EBADMSG,
				    "%s%s has no u64 to hold the NOFD bit", pre,
				    name);
		u64 = load64(m, 0);
		if ((u64 & VHOST_USER_VRING_NOFD_MASK) && n)
			return fail(
				why, -EBADMSG,
				"%s%s sets the NOFD bit (bit 8) but carries "
				"%u fd(s)",
				pre, name, n);
		if (!(u64 & VHOST_USER_VRING_NOFD_MASK) && n != 1)
			return fail(why, -EBADMSG,
				    "%s%s without the NOFD bit (bit 8) takes "
				    "exactly one fd, got %u",
				    pre, name, n);
		return 0;
	case VHOST_USER_FDS_PER_REGION:
		if (m->hdr.size < 8)
			return fail(why, -EBADMSG, "%s%s has no region count",
				    pre, name);
		if (load32(m, 0) != n)
			return fail(why, -EBADMSG,
				    "%s%s has %" PRIu32
				    " regions but %u fds: the fds match the "
				    "regions one for one",
				    pre, name, load32(m, 0), n);
		return 0;
	case VHOST_USER_FDS_ONE_IF_FEATURE:
		if (negotiated & (UINT64_C(1) << fd_feature)) {
			if (n != 1)
				return fail(why, -EBADMSG,
					    "%s%s takes one fd with %s, got %u",
					    pre, name,
					    vhost_user_protocol_feature_name(
						    fd_feature),
					    n);
		} else if (n) {
			return fail(
				why, -EBADMSG,
				"%u fd(s) on %s%s, which takes none "
				"without %s",
				n, pre, name,
				vhost_user_protocol_feature_name(fd_feature));
		}
		return 0;
	case VHOST_USER_FDS_OPTIONAL:
		return 0; /* max is 1 */
	case VHOST_USER_FDS_NONE_TOLERATE_ONE:
		if (n == 1)
			add_warning(warns, wfirst, VHOST_USER_WARN_TOLERATED_FD,
				    "an fd came with a request that SHOULD "
				    "have none "
				    "(the receiver MAY accept it, and must "
				    "close it)");
		return 0;
	case VHOST_USER_FDS_ONE_UNLESS_EMPTY:
		if (m->hdr.size < 8)
			return fail(why, -EBADMSG, "%s%s has no mmap size", pre,
				    name);
		if (load64(m, 0) == 0 && n)
			return fail(why, -EBADMSG,
				    "%s%s says mmap size 0 (no buffer) but "
				    "carries %u fd(s)",
				    pre, name, n);
		if (load64(m, 0) != 0 && n != 1)
			return fail(why, -EBADMSG,
				    "%s%s with a buffer (mmap size %" PRIu64
				    ") takes exactly one fd, got %u",
				    pre, name, load64(m, 0), n);
		return 0;
	}
	return fail(why, -EINVAL, "unknown fd rule %d", (int)rule);
}

int vhost_user_expected_size(const struct vhost_user_rule *r,
			     const struct vhost_user_msg *m,
			     uint64_t negotiated, const char **why)
{
	uint32_t lo, hi;
	int ret;

	ret = size_bounds(r->size_rule, r->size, m, negotiated, m->hdr.size, "",
			  r->name, &lo, &hi, why);
	if (ret < 0)
		return ret;
	return (int)(r->size_rule == VHOST_USER_SIZE_MAX ? hi : lo);
}

/* ---- Field values ----------------------------------------------------- */

static void check_xen_flags(uint32_t flags, unsigned int *warns,
			    const char **wfirst)
{
	if (flags & ~VHOST_USER_XEN_MMAP_FLAGS_KNOWN)
		add_warning(warns, wfirst, VHOST_USER_WARN_RESERVED_FIELD,
			    "xen mmap flags has bits other than 0, 1 and 8");
	if ((flags & VHOST_USER_XEN_MMAP_FOREIGN) &&
	    (flags & VHOST_USER_XEN_MMAP_GRANT))
		add_warning(warns, wfirst, VHOST_USER_WARN_RESERVED_FIELD,
			    "xen mmap flags asks for both foreign and grant "
			    "mapping");
}

/* Values the spec enumerates; reserved fields and bits (warnings). */
static int check_request_fields(const struct vhost_user_rule *r,
				const struct vhost_user_msg *m,
				uint64_t negotiated, unsigned int *warns,
				const char **wfirst, const char **why)
{
	bool xen = region_size(negotiated) == 40;
	uint32_t i, n, v;
	uint8_t perm, type;

	switch (r->layout) {
	case VHOST_USER_LAYOUT_VRING_FD:
	case VHOST_USER_LAYOUT_VRING_AREA:
		if (load64(m, 0) & ~(uint64_t)(VHOST_USER_VRING_IDX_MASK |
					       VHOST_USER_VRING_NOFD_MASK))
			add_warning(warns, wfirst,
				    VHOST_USER_WARN_RESERVED_FIELD,
				    "bits 9-63 of the vring index u64 are not "
				    "zero");
		break;
	case VHOST_USER_LAYOUT_VRING_STATE:
		v = load32(m, 4);
		if ((r->flags & VHOST_USER_RULE_NUM_RESERVED) && v)
			add_warning(warns, wfirst,
				    VHOST_USER_WARN_RESERVED_FIELD,
				    "the num field is reserved and must be 0");
		if (r->dir == VHOST_USER_FROM_FRONTEND &&
		    r->code == VHOST_USER_SET_VRING_ENDIAN && v > 1)
			return fail(why, -EBADMSG,
				    "VHOST_USER_SET_VRING_ENDIAN num %" PRIu32
				    " is neither 0 (little) nor 1 (big endian)",
				    v);
		break;
	case VHOST_USER_LAYOUT_VRING_ADDR:
		if (load32(m, 4) & ~VHOST_USER_VRING_F_LOG_MASK)
			add_warning(warns, wfirst,
				    VHOST_USER_WARN_RESERVED_FIELD,
				    "vring address flags has bits other than "
				    "VHOST_VRING_F_LOG");
		break;
	case VHOST_USER_LAYOUT_MEM_TABLE:
		if (load32(m, 4))
			add_warning(warns, wfirst,
				    VHOST_USER_WARN_RESERVED_FIELD,
				    "memory table padding is not zero");
		n = load32(m, 0);
		for (i = 0; xen && i < n; i++)
			check_xen_flags(load32(m, 8 + i * 40 + 32), warns,
					wfirst);
		break;
	case VHOST_USER_LAYOUT_MEM_REGION:
		if (load64(m, 0))
			add_warning(warns, wfirst,
				    VHOST_USER_WARN_RESERVED_FIELD,
				    "single memory region padding is not zero");
		if (xen)
			check_xen_flags(load32(m, 8 + 32), warns, wfirst);
		break;
	case VHOST_USER_LAYOUT_IOTLB:
		perm = m->payload[24];
		type = m->payload[25];
		/* "The front-end sends such requests to update and
		 * invalidate entries"; the back-end's are "an IOTLB miss, or
		 * an IOTLB access failure". */
		if (r->dir == VHOST_USER_FROM_FRONTEND &&
		    type != VHOST_IOTLB_UPDATE &&
		    type != VHOST_IOTLB_INVALIDATE)
			return fail(why, -EBADMSG,
				    "IOTLB type %u: the front-end sends update "
				    "(2) or invalidate (3)",
				    type);
		if (r->dir == VHOST_USER_FROM_BACKEND &&
		    type != VHOST_IOTLB_MISS && type != VHOST_IOTLB_ACCESS_FAIL)
			return fail(
				why, -EBADMSG,
				"IOTLB type %u: the back-end sends miss (1) "
				"or access fail (4)",
				type);
		if (perm > VHOST_ACCESS_RW)
			return fail(why, -EBADMSG,
				    "IOTLB permissions %u are not 0-3", perm);
		break;
	case VHOST_USER_LAYOUT_CONFIG:
		if (load32(m, 8) > VHOST_USER_CONFIG_LIVE_MIGRATION)
			add_warning(warns, wfirst,
				    VHOST_USER_WARN_RESERVED_FIELD,
				    "config flags is neither 0 (writable "
				    "fields) nor "
				    "1 (live migration)");
		break;
	case VHOST_USER_LAYOUT_DEVICE_STATE:
		v = load32(m, 0);
		if (v > VHOST_USER_TRANSFER_STATE_DIRECTION_LOAD)
			return fail(why, -EBADMSG,
				    "transfer direction %" PRIu32
				    " is neither 0 (save) nor 1 (load)",
				    v);
		v = load32(m, 4);
		if (v != VHOST_USER_TRANSFER_STATE_PHASE_STOPPED)
			return fail(why, -EBADMSG,
				    "migration phase %" PRIu32
				    " is not 0 (stopped), the only phase",
				    v);
		break;
	case VHOST_USER_LAYOUT_PROTOCOL_FEATURES:
		if (load64(m, 0) & ~VHOST_USER_PROTOCOL_F_ALL)
			add_warning(
				warns, wfirst, VHOST_USER_WARN_RESERVED_FIELD,
				"protocol feature bits past 19 are set, which "
				"this spec does not define");
		break;
	default:
		break;
	}
	return 0;
}

int vhost_user_protocol_features_check(uint64_t features, const char **why)
{
	const uint64_t need = VHOST_USER_PROTO_BIT(BACKEND_REQ) |
			      VHOST_USER_PROTO_BIT(REPLY_ACK);

	/* "It is also considered an error to negotiate this feature without
	 * also negotiating VHOST_USER_PROTOCOL_F_BACKEND_REQ and
	 * VHOST_USER_PROTOCOL_F_REPLY_ACK" */
	if ((features & VHOST_USER_PROTO_BIT(INBAND_NOTIFICATIONS)) &&
	    (features & need) != need)
		return fail(why, -EPROTO,
			    "INBAND_NOTIFICATIONS without %s is an error",
			    !(features & VHOST_USER_PROTO_BIT(BACKEND_REQ))
				    ? "BACKEND_REQ"
				    : "REPLY_ACK");
	return 0;
}

/* ---- Requests --------------------------------------------------------- */

static const char *dir_word(enum vhost_user_dir dir)
{
	return dir == VHOST_USER_FROM_FRONTEND ? "front-end" : "back-end";
}

/* Lowest protocol feature of @mask, by name. */
static const char *first_feature_name(uint64_t mask)
{
	unsigned int bit;

	for (bit = 0; bit < 64; bit++) {
		if (mask & (UINT64_C(1) << bit)) {
			const char *s = vhost_user_protocol_feature_name(bit);

			return s ? s : "an unknown protocol feature";
		}
	}
	return "nothing";
}

/* Envelope sanity and header flags shared by requests and replies. */
static int check_envelope(const struct vhost_user_msg *m, const char **why)
{
	uint32_t version = m->hdr.flags & VHOST_USER_VERSION_MASK;

	if (m->hdr.size > VHOST_USER_PAYLOAD_MAX)
		return fail(why, -EMSGSIZE,
			    "payload size %" PRIu32
			    " is past the %u-byte maximum",
			    m->hdr.size, VHOST_USER_PAYLOAD_MAX);
	if (m->nfds > VHOST_USER_MAX_FDS)
		return fail(why, -EINVAL,
			    "nfds %u is past the envelope's %u fd slots",
			    m->nfds, VHOST_USER_MAX_FDS);
	if (version != VHOST_USER_VERSION)
		return fail(why, -EBADMSG,
			    "version %" PRIu32 " in flags 0x%" PRIx32
			    ": the protocol is version 1",
			    version, m->hdr.flags);
	return 0;
}

int vhost_user_check_request(const struct vhost_user_msg *m,
			     enum vhost_user_dir dir, uint64_t negotiated,
			     const char **why)
{
	const struct vhost_user_rule *r;
	const char *wfirst = NULL;
	unsigned int warns = 0;
	uint64_t missing;
	int ret;

	ret = check_envelope(m, why);
	if (ret < 0)
		return ret;
	/* "Bit 2 is the reply flag - needs to be sent on each reply" */
	if (m->hdr.flags & VHOST_USER_REPLY_MASK)
		return fail(
			why, -EBADMSG,
			"reply flag (bit 2) set on a request (flags 0x%" PRIx32
			")",
			m->hdr.flags);

	r = vhost_user_rule_find(dir, m->hdr.request);
	if (!r)
		return fail(why, -ENOTSUP,
			    "request code %" PRIu32
			    " is not a %s request the spec defines",
			    m->hdr.request, dir_word(dir));

	ret = check_size(r->size_rule, r->size, m, negotiated, 0, "", r->name,
			 why);
	if (ret < 0)
		return ret;
	ret = check_fds(r->fds, r->max_fds, r->fd_feature, m, negotiated, "",
			r->name, &warns, &wfirst, why);
	if (ret < 0)
		return ret;
	ret = check_request_fields(r, m, negotiated, &warns, &wfirst, why);
	if (ret < 0)
		return ret;

	missing = r->gate & ~negotiated;
	if (missing)
		return fail(why, -EPROTO,
			    "%s needs %s, which is not negotiated", r->name,
			    first_feature_name(missing));
	if (m->nfds && (r->flags & VHOST_USER_RULE_FDS_NEED_SEND_FD) &&
	    !(negotiated & VHOST_USER_PROTO_BIT(BACKEND_SEND_FD)))
		return fail(why, -EPROTO,
			    "%s carries an fd, but the back-end may send fds "
			    "only with VHOST_USER_PROTOCOL_F_BACKEND_SEND_FD",
			    r->name);
	if (r->dir == VHOST_USER_FROM_FRONTEND &&
	    r->code == VHOST_USER_SET_PROTOCOL_FEATURES) {
		ret = vhost_user_protocol_features_check(load64(m, 0), why);
		if (ret < 0)
			return ret;
	}

	/* The spec defines flag bits 0-3; what others mean is open. */
	if (m->hdr.flags & VHOST_USER_RESERVED_FLAGS_MASK)
		add_warning(&warns, &wfirst, VHOST_USER_WARN_RESERVED_FLAGS,
			    "flag bits 4-31 are set; the spec defines bits 0-3 "
			    "only");
	/* "With this protocol extension negotiated, the sender ... can set
	 * the need_reply [Bit 3] flag" */
	if ((m->hdr.flags & VHOST_USER_NEED_REPLY_MASK) &&
	    !(negotiated & VHOST_USER_PROTO_BIT(REPLY_ACK)))
		add_warning(
			&warns, &wfirst,
			VHOST_USER_WARN_NEED_REPLY_UNNEGOTIATED,
			"need_reply is set but REPLY_ACK is not negotiated");
	if (r->flags & VHOST_USER_RULE_DEPRECATED)
		add_warning(&warns, &wfirst, VHOST_USER_WARN_DEPRECATED,
			    "the spec deprecates this request");

	if (warns && why)
		*why = wfirst;
	return (int)warns;
}

/* ---- Replies ---------------------------------------------------------- */

int vhost_user_reply_expected(enum vhost_user_dir dir,
			      const struct vhost_user_hdr *req,
			      uint64_t negotiated)
{
	const struct vhost_user_rule *r =
		vhost_user_rule_find(dir, req->request);
	bool acked;

	if (!r)
		return -ENOTSUP;
	acked = (req->flags & VHOST_USER_NEED_REPLY_MASK) &&
		(negotiated & VHOST_USER_PROTO_BIT(REPLY_ACK));
	switch (r->reply) {
	case VHOST_USER_REPLY_ALWAYS:
		return 1;
	case VHOST_USER_REPLY_IF_FEATURE:
		return (negotiated & (UINT64_C(1) << r->reply_feature)) ||
		       acked;
	case VHOST_USER_REPLY_IF_ACKED:
		return acked;
	}
	return -ENOTSUP;
}

int vhost_user_check_reply(enum vhost_user_dir dir,
			   const struct vhost_user_hdr *req,
			   const struct vhost_user_msg *reply, const char **why)
{
	static const char pre[] = "the reply to ";
	const struct vhost_user_rule *r;
	const char *wfirst = NULL;
	unsigned int warns = 0;
	uint32_t size = reply->hdr.size;
	uint64_t u64;
	int ret;

	r = vhost_user_rule_find(dir, req->request);
	if (!r)
		return fail(why, -ENOTSUP,
			    "request code %" PRIu32
			    " is not a %s request the spec defines",
			    req->request, dir_word(dir));
	if (reply->hdr.request != req->request)
		return fail(why, -EPROTO,
			    "the reply carries code %" PRIu32
			    ", the request was %s (%" PRIu32 ")",
			    reply->hdr.request, r->name, req->request);
	ret = check_envelope(reply, why);
	if (ret < 0)
		return ret;
	if (!(reply->hdr.flags & VHOST_USER_REPLY_MASK))
		return fail(why, -EBADMSG,
			    "the reply flag (bit 2) is not set on the reply "
			    "to %s (flags 0x%" PRIx32 ")",
			    r->name, reply->hdr.flags);

	if ((r->flags & VHOST_USER_RULE_REPLY_MAY_BE_EMPTY) && size == 0) {
		/* GET_CONFIG's error, DPDK's SET_LOG_BASE answer */
		if (reply->nfds)
			return fail(why, -EBADMSG,
				    "%u fd(s) on the empty reply to %s",
				    reply->nfds, r->name);
	} else if ((r->flags & VHOST_USER_RULE_REPLY_MAY_ECHO) &&
		   size == req->size && size != r->reply_size) {
		/* postcopy: "replies with the bases of the memory mapped
		 * regions", in the request's own layout and size */
		if (reply->nfds)
			return fail(why, -EBADMSG,
				    "%u fd(s) on the postcopy reply to %s",
				    reply->nfds, r->name);
	} else {
		ret = check_size(r->reply_size_rule, r->reply_size, reply, 0,
				 req->size, pre, r->name, why);
		if (ret < 0)
			return ret;
		/* "The back-end must not both indicate an error and return
		 * a file descriptor." (before the NOFD rule: clearer) */
		if (dir == VHOST_USER_FROM_FRONTEND &&
		    r->code == VHOST_USER_SET_DEVICE_STATE_FD &&
		    (load64(reply, 0) & VHOST_USER_DEVICE_STATE_STATUS_MASK) &&
		    reply->nfds)
			return fail(why, -EBADMSG,
				    "the reply to %s reports an error and "
				    "returns an fd",
				    r->name);
		ret = check_fds(r->reply_fds, r->reply_max_fds, 0, reply, 0,
				pre, r->name, &warns, &wfirst, why);
		if (ret < 0)
			return ret;
		if (r->reply_layout == VHOST_USER_LAYOUT_CONFIG &&
		    (size < VHOST_USER_CONFIG_HDR_SIZE ||
		     load32(reply, 4) != size - VHOST_USER_CONFIG_HDR_SIZE))
			return fail(why, -EBADMSG,
				    "the reply to %s says config size %" PRIu32
				    " in a %" PRIu32 "-byte payload",
				    r->name, load32(reply, 4), size);
		/* "if the operation fails, no fd is sent to the backend" */
		u64 = size >= 8 ? load64(reply, 0) : 0;
		if (dir == VHOST_USER_FROM_BACKEND &&
		    r->code == VHOST_USER_BACKEND_SHARED_OBJECT_LOOKUP && u64 &&
		    reply->nfds)
			return fail(why, -EBADMSG,
				    "the reply to %s reports failure (%" PRIu64
				    ") and carries an fd",
				    r->name, u64);
	}

	if (reply->hdr.flags & VHOST_USER_RESERVED_FLAGS_MASK)
		add_warning(
			&warns, &wfirst, VHOST_USER_WARN_RESERVED_FLAGS,
			"flag bits 4-31 are set on a reply; the spec defines "
			"bits 0-3 only (QEMU refuses such replies)");
	/* Bit 3 is defined for "the sender" of a request; the spec says
	 * nothing of it on a reply (libvhost-user echoes the request's
	 * flags, QEMU's front-end refuses them): legal, but worth a word. */
	if (reply->hdr.flags & VHOST_USER_NEED_REPLY_MASK)
		add_warning(&warns, &wfirst,
			    VHOST_USER_WARN_NEED_REPLY_ON_REPLY,
			    "need_reply (bit 3) is set on a reply; the spec "
			    "defines it for requests (QEMU refuses such "
			    "replies)");
	if (warns && why)
		*why = wfirst;
	return (int)warns;
}

/* ---- Builders --------------------------------------------------------- */

static int build(struct vhost_user_msg *m, uint32_t req, const void *payload,
		 size_t len)
{
	if (len > VHOST_USER_PAYLOAD_MAX)
		return -EINVAL;
	vhost_user_msg_init(m);
	m->hdr.request = req;
	m->hdr.flags = VHOST_USER_VERSION;
	m->hdr.size = (uint32_t)len;
	if (payload && len)
		memcpy(m->payload, payload, len);
	return (int)len;
}

int vhost_user_build_empty(struct vhost_user_msg *m, uint32_t req)
{
	return build(m, req, NULL, 0);
}

int vhost_user_build_u64(struct vhost_user_msg *m, uint32_t req, uint64_t v)
{
	return build(m, req, &v, sizeof(v));
}

int vhost_user_build_vring_state(struct vhost_user_msg *m, uint32_t req,
				 uint32_t index, uint32_t num)
{
	struct vhost_user_vring_state s = { .index = index, .num = num };

	return build(m, req, &s, sizeof(s));
}

int vhost_user_build_vring_addr(struct vhost_user_msg *m, uint32_t req,
				const struct vhost_user_vring_addr *a)
{
	return build(m, req, a, sizeof(*a));
}

int vhost_user_build_mem_table(struct vhost_user_msg *m, uint32_t req,
			       const struct vhost_user_mem_region *regions,
			       unsigned int n)
{
	struct vhost_user_mem_table t = { .nregions = n };

	if (n > VHOST_USER_MAX_MEM_REGIONS)
		return -EINVAL;
	if (n)
		memcpy(t.regions, regions, n * sizeof(*regions));
	return build(m, req, &t, 8 + n * sizeof(*regions));
}

int vhost_user_build_mem_table_xen(
	struct vhost_user_msg *m, uint32_t req,
	const struct vhost_user_mem_region_xen *regions, unsigned int n)
{
	struct vhost_user_mem_table_xen t = { .nregions = n };

	if (n > VHOST_USER_MAX_MEM_REGIONS)
		return -EINVAL;
	if (n)
		memcpy(t.regions, regions, n * sizeof(*regions));
	return build(m, req, &t, 8 + n * sizeof(*regions));
}

int vhost_user_build_mem_region(struct vhost_user_msg *m, uint32_t req,
				const struct vhost_user_mem_region *region)
{
	struct vhost_user_single_mem_region s = { .region = *region };

	return build(m, req, &s, sizeof(s));
}

int vhost_user_build_mem_region_xen(
	struct vhost_user_msg *m, uint32_t req,
	const struct vhost_user_mem_region_xen *region)
{
	struct vhost_user_single_mem_region_xen s = { .region = *region };

	return build(m, req, &s, sizeof(s));
}

int vhost_user_build_log(struct vhost_user_msg *m, uint32_t req,
			 uint64_t mmap_size, uint64_t mmap_offset)
{
	struct vhost_user_log l = {
		.mmap_size = mmap_size,
		.mmap_offset = mmap_offset,
	};

	return build(m, req, &l, sizeof(l));
}

int vhost_user_build_iotlb(struct vhost_user_msg *m, uint32_t req,
			   const struct vhost_user_iotlb *iotlb)
{
	return build(m, req, iotlb, sizeof(*iotlb));
}

int vhost_user_build_config(struct vhost_user_msg *m, uint32_t req,
			    uint32_t offset, uint32_t size, uint32_t flags,
			    const void *data)
{
	struct vhost_user_config c = {
		.offset = offset,
		.size = size,
		.flags = flags,
	};

	if (size > VHOST_USER_MAX_CONFIG_SIZE)
		return -EINVAL;
	if (data && size)
		memcpy(c.data, data, size);
	return build(m, req, &c, VHOST_USER_CONFIG_HDR_SIZE + size);
}

int vhost_user_build_vring_area(struct vhost_user_msg *m, uint32_t req,
				uint64_t u64, uint64_t size, uint64_t offset)
{
	struct vhost_user_vring_area a = {
		.u64 = u64,
		.size = size,
		.offset = offset,
	};

	return build(m, req, &a, sizeof(a));
}

int vhost_user_build_inflight(struct vhost_user_msg *m, uint32_t req,
			      uint64_t mmap_size, uint64_t mmap_offset,
			      uint16_t num_queues, uint16_t queue_size)
{
	struct vhost_user_inflight i = {
		.mmap_size = mmap_size,
		.mmap_offset = mmap_offset,
		.num_queues = num_queues,
		.queue_size = queue_size,
	};

	return build(m, req, &i, sizeof(i));
}

int vhost_user_build_shared(struct vhost_user_msg *m, uint32_t req,
			    const uint8_t uuid[16])
{
	return build(m, req, uuid, sizeof(struct vhost_user_shared));
}

int vhost_user_build_device_state(struct vhost_user_msg *m, uint32_t req,
				  uint32_t direction, uint32_t phase)
{
	struct vhost_user_device_state d = {
		.direction = direction,
		.phase = phase,
	};

	return build(m, req, &d, sizeof(d));
}

int vhost_user_build_raw(struct vhost_user_msg *m, uint32_t req,
			 const void *payload, size_t len)
{
	return build(m, req, payload, len);
}

void vhost_user_make_reply(struct vhost_user_msg *m)
{
	m->hdr.flags |= VHOST_USER_REPLY_MASK;
	m->hdr.flags &= ~VHOST_USER_NEED_REPLY_MASK;
}

int vhost_user_build_ack(struct vhost_user_msg *m, uint32_t req,
			 uint64_t status)
{
	int ret = vhost_user_build_u64(m, req, status);

	vhost_user_make_reply(m);
	return ret;
}

/* ---- Getters ---------------------------------------------------------- */

static int get_exact(const struct vhost_user_msg *m, void *out, size_t len,
		     const char *what, const char **why)
{
	if (m->hdr.size != len)
		return fail(why, -EBADMSG,
			    "payload size %" PRIu32
			    " is not the %zu bytes of %s",
			    m->hdr.size, len, what);
	memcpy(out, m->payload, len);
	return 0;
}

int vhost_user_get_u64(const struct vhost_user_msg *m, uint64_t *v,
		       const char **why)
{
	return get_exact(m, v, sizeof(*v), "a u64", why);
}

int vhost_user_get_vring_state(const struct vhost_user_msg *m,
			       struct vhost_user_vring_state *s,
			       const char **why)
{
	return get_exact(m, s, sizeof(*s), "a vring state", why);
}

int vhost_user_get_vring_addr(const struct vhost_user_msg *m,
			      struct vhost_user_vring_addr *a, const char **why)
{
	return get_exact(m, a, sizeof(*a), "a vring address", why);
}

/* Region table of @rsz-byte regions into @out (@out_size bytes). */
static int get_table(const struct vhost_user_msg *m, void *out, size_t out_size,
		     uint32_t rsz, const char **why)
{
	uint32_t n;

	if (m->hdr.size < 8)
		return fail(why, -EBADMSG,
			    "payload size %" PRIu32
			    " is too short for a memory table",
			    m->hdr.size);
	n = load32(m, 0);
	if (n > VHOST_USER_MAX_MEM_REGIONS)
		return fail(why, -EBADMSG,
			    "%" PRIu32
			    " regions, more than the %u a table holds",
			    n, VHOST_USER_MAX_MEM_REGIONS);
	if (m->hdr.size != 8 + n * rsz)
		return fail(why, -EBADMSG,
			    "payload size %" PRIu32 " is not the %" PRIu32
			    " bytes of %" PRIu32 " %" PRIu32 "-byte regions",
			    m->hdr.size, 8 + n * rsz, n, rsz);
	memset(out, 0, out_size);
	memcpy(out, m->payload, m->hdr.size);
	return 0;
}

int vhost_user_get_mem_table(const struct vhost_user_msg *m,
			     struct vhost_user_mem_table *t, const char **why)
{
	return get_table(m, t, sizeof(*t), 32, why);
}

int vhost_user_get_mem_table_xen(const struct vhost_user_msg *m,
				 struct vhost_user_mem_table_xen *t,
				 const char **why)
{
	return get_table(m, t, sizeof(*t), 40, why);
}

int vhost_user_get_mem_region(const struct vhost_user_msg *m,
			      struct vhost_user_single_mem_region *r,
			      const char **why)
{
	return get_exact(m, r, sizeof(*r), "a single memory region", why);
}

int vhost_user_get_mem_region_xen(const struct vhost_user_msg *m,
				  struct vhost_user_single_mem_region_xen *r,
				  const char **why)
{
	return get_exact(m, r, sizeof(*r), "a single Xen memory region", why);
}

int vhost_user_get_log(const struct vhost_user_msg *m, struct vhost_user_log *l,
		       const char **why)
{
	return get_exact(m, l, sizeof(*l), "a log description", why);
}

int vhost_user_get_iotlb(const struct vhost_user_msg *m,
			 struct vhost_user_iotlb *i, const char **why)
{
	return get_exact(m, i, sizeof(*i), "an IOTLB message", why);
}

int vhost_user_get_config(const struct vhost_user_msg *m,
			  struct vhost_user_config *c, const char **why)
{
	uint32_t n;

	if (m->hdr.size < VHOST_USER_CONFIG_HDR_SIZE)
		return fail(why, -EBADMSG,
			    "payload size %" PRIu32
			    " is too short for the 12-byte config header",
			    m->hdr.size);
	n = load32(m, 4);
	if (n > VHOST_USER_MAX_CONFIG_SIZE)
		return fail(why, -EBADMSG,
			    "config size %" PRIu32
			    " is more than the %u bytes it carries",
			    n, VHOST_USER_MAX_CONFIG_SIZE);
	if (m->hdr.size != VHOST_USER_CONFIG_HDR_SIZE + n)
		return fail(why, -EBADMSG,
			    "payload size %" PRIu32 " is not the %" PRIu32
			    " bytes (12 + config size)",
			    m->hdr.size, VHOST_USER_CONFIG_HDR_SIZE + n);
	memset(c, 0, sizeof(*c));
	memcpy(c, m->payload, m->hdr.size);
	return 0;
}

int vhost_user_get_vring_area(const struct vhost_user_msg *m,
			      struct vhost_user_vring_area *a, const char **why)
{
	return get_exact(m, a, sizeof(*a), "a vring area", why);
}

int vhost_user_get_inflight(const struct vhost_user_msg *m,
			    struct vhost_user_inflight *i, const char **why)
{
	return get_exact(m, i, sizeof(*i), "an inflight description", why);
}

int vhost_user_get_shared(const struct vhost_user_msg *m,
			  struct vhost_user_shared *s, const char **why)
{
	return get_exact(m, s, sizeof(*s), "a shared object UUID", why);
}

int vhost_user_get_device_state(const struct vhost_user_msg *m,
				struct vhost_user_device_state *d,
				const char **why)
{
	return get_exact(m, d, sizeof(*d), "device state transfer parameters",
			 why);
}

/* ---- Traces ----------------------------------------------------------- */

/* snprintf into a fixed buffer, counting what did not fit as well. */
struct sbuf {
	char *buf;
	size_t cap;
	size_t len; /* as if nothing were cut */
};

static void VUC_PRINTF(2, 3) put(struct sbuf *s, const char *fmt, ...)
{
	size_t room = s->len < s->cap ? s->cap - s->len : 0;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = wire_vfmt(room ? s->buf + s->len : NULL, room, fmt, ap);
	va_end(ap);
	if (n > 0)
		s->len += (size_t)n;
}

static void put_hex(struct sbuf *s, const uint8_t *p, size_t len, size_t max)
{
	static const char hex[] = "0123456789abcdef";
	char two[3] = { 0 };
	size_t i;

	/* two digits a byte, without a format call for each */
	for (i = 0; i < len && i < max; i++) {
		two[0] = hex[p[i] >> 4];
		two[1] = hex[p[i] & 15];
		put(s, "%s", two);
	}
	if (len > max)
		put(s, "...");
}

static void put_region(struct sbuf *s, const struct vhost_user_msg *m,
		       size_t off, bool xen)
{
	put(s,
	    "gpa=0x%" PRIx64 " size=0x%" PRIx64 " uaddr=0x%" PRIx64
	    " offset=0x%" PRIx64,
	    load64(m, off), load64(m, off + 8), load64(m, off + 16),
	    load64(m, off + 24));
	if (xen)
		put(s, " xen_flags=0x%" PRIx32 " domid=%" PRIu32,
		    load32(m, off + 32), load32(m, off + 36));
}

static const char *iotlb_type_name(uint8_t type)
{
	switch (type) {
	case VHOST_IOTLB_MISS:
		return "miss";
	case VHOST_IOTLB_UPDATE:
		return "update";
	case VHOST_IOTLB_INVALIDATE:
		return "invalidate";
	case VHOST_IOTLB_ACCESS_FAIL:
		return "access-fail";
	default:
		return NULL;
	}
}

static void put_payload(struct sbuf *s, enum vhost_user_layout layout,
			const struct vhost_user_msg *m, bool xen)
{
	static const char *const perms[] = { "none", "ro", "wo", "rw" };
	uint32_t i, n, size = m->hdr.size;
	const char *t;
	uint64_t u64;

	switch (layout) {
	case VHOST_USER_LAYOUT_EMPTY:
		put(s, "{}");
		return;
	case VHOST_USER_LAYOUT_U64:
		put(s, "{u64=0x%" PRIx64 "}", load64(m, 0));
		return;
	case VHOST_USER_LAYOUT_PROTOCOL_FEATURES:
		u64 = load64(m, 0);
		put(s, "{u64=0x%" PRIx64, u64);
		for (i = 0, t = " "; i < VHOST_USER_PROTOCOL_F_MAX; i++) {
			if (!(u64 & (UINT64_C(1) << i)))
				continue;
			/* short names: drop "VHOST_USER_PROTOCOL_F_" */
			put(s, "%s%s", t,
			    vhost_user_protocol_feature_name(i) +
				    strlen("VHOST_USER_PROTOCOL_F_"));
			t = "|";
		}
		if (u64 & ~VHOST_USER_PROTOCOL_F_ALL)
			put(s, "%s0x%" PRIx64, t,
			    u64 & ~VHOST_USER_PROTOCOL_F_ALL);
		put(s, "}");
		return;
	case VHOST_USER_LAYOUT_MAC:
		put(s, "{mac=%02x:%02x:%02x:%02x:%02x:%02x}", m->payload[0],
		    m->payload[1], m->payload[2], m->payload[3], m->payload[4],
		    m->payload[5]);
		return;
	case VHOST_USER_LAYOUT_VRING_FD:
		u64 = load64(m, 0);
		put(s, "{index=%" PRIu64 "%s", u64 & VHOST_USER_VRING_IDX_MASK,
		    u64 & VHOST_USER_VRING_NOFD_MASK ? " nofd" : "");
		if (u64 & ~(uint64_t)(VHOST_USER_VRING_IDX_MASK |
				      VHOST_USER_VRING_NOFD_MASK))
			put(s, " u64=0x%" PRIx64, u64);
		put(s, "}");
		return;
	case VHOST_USER_LAYOUT_VRING_STATE:
		put(s, "{index=%" PRIu32 " num=%" PRIu32 "}", load32(m, 0),
		    load32(m, 4));
		return;
	case VHOST_USER_LAYOUT_VRING_BASE: {
		struct vhost_user_packed_base b;

		n = load32(m, 4);
		put(s, "{index=%" PRIu32 " num=%" PRIu32, load32(m, 0), n);
		/* split rings use 16 bits; more can only be packed */
		if (n > VHOST_USER_SPLIT_BASE_MASK) {
			vhost_user_packed_base_unpack(n, &b);
			put(s, " packed(avail=%u wrap=%d used=%u wrap=%d)",
			    b.avail_idx, b.avail_wrap, b.used_idx, b.used_wrap);
		}
		put(s, "}");
		return;
	}
	case VHOST_USER_LAYOUT_VRING_ADDR:
		put(s,
		    "{index=%" PRIu32 " flags=0x%" PRIx32 " desc=0x%" PRIx64
		    " used=0x%" PRIx64 " avail=0x%" PRIx64 " log=0x%" PRIx64
		    "}",
		    load32(m, 0), load32(m, 4), load64(m, 8), load64(m, 16),
		    load64(m, 24), load64(m, 32));
		return;
	case VHOST_USER_LAYOUT_MEM_TABLE:
		n = load32(m, 0);
		put(s, "{nregions=%" PRIu32, n);
		if (load32(m, 4))
			put(s, " padding=0x%" PRIx32, load32(m, 4));
		for (i = 0; i < n; i++) {
			put(s, " [");
			put_region(s, m, 8 + i * (xen ? 40 : 32), xen);
			put(s, "]");
		}
		put(s, "}");
		return;
	case VHOST_USER_LAYOUT_MEM_REGION:
		put(s, "{");
		if (load64(m, 0))
			put(s, "padding=0x%" PRIx64 " ", load64(m, 0));
		put_region(s, m, 8, xen);
		put(s, "}");
		return;
	case VHOST_USER_LAYOUT_LOG:
		put(s, "{mmap_size=0x%" PRIx64 " mmap_offset=0x%" PRIx64 "}",
		    load64(m, 0), load64(m, 8));
		return;
	case VHOST_USER_LAYOUT_IOTLB:
		put(s,
		    "{iova=0x%" PRIx64 " size=0x%" PRIx64 " uaddr=0x%" PRIx64,
		    load64(m, 0), load64(m, 8), load64(m, 16));
		if (m->payload[24] < ARRAY_SIZE(perms))
			put(s, " perm=%s", perms[m->payload[24]]);
		else
			put(s, " perm=0x%x", m->payload[24]);
		t = iotlb_type_name(m->payload[25]);
		if (t)
			put(s, " type=%s}", t);
		else
			put(s, " type=%u}", m->payload[25]);
		return;
	case VHOST_USER_LAYOUT_CONFIG:
		put(s,
		    "{offset=%" PRIu32 " size=%" PRIu32 " flags=%" PRIu32
		    " data=",
		    load32(m, 0), load32(m, 4), load32(m, 8));
		put_hex(s, m->payload + VHOST_USER_CONFIG_HDR_SIZE,
			size - VHOST_USER_CONFIG_HDR_SIZE, 16);
		put(s, "}");
		return;
	case VHOST_USER_LAYOUT_CRYPTO_SESSION:
		put(s, "{%" PRIu32 " opaque bytes}", size);
		return;
	case VHOST_USER_LAYOUT_VRING_AREA:
		u64 = load64(m, 0);
		put(s,
		    "{index=%" PRIu64 "%s size=0x%" PRIx64 " offset=0x%" PRIx64
		    "}",
		    u64 & VHOST_USER_VRING_IDX_MASK,
		    u64 & VHOST_USER_VRING_NOFD_MASK ? " nofd" : "",
		    load64(m, 8), load64(m, 16));
		return;
	case VHOST_USER_LAYOUT_INFLIGHT:
		put(s,
		    "{mmap_size=0x%" PRIx64 " mmap_offset=0x%" PRIx64
		    " num_queues=%u queue_size=%u}",
		    load64(m, 0), load64(m, 8), load16(m, 16), load16(m, 18));
		return;
	case VHOST_USER_LAYOUT_SHARED: {
		const uint8_t *u = m->payload;

		put(s,
		    "{uuid=%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
		    "%02x%02x%02x%02x%02x%02x}",
		    u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9],
		    u[10], u[11], u[12], u[13], u[14], u[15]);
		return;
	}
	case VHOST_USER_LAYOUT_DEVICE_STATE:
		n = load32(m, 0);
		if (n <= VHOST_USER_TRANSFER_STATE_DIRECTION_LOAD)
			put(s, "{direction=%s", n ? "load" : "save");
		else
			put(s, "{direction=%" PRIu32, n);
		n = load32(m, 4);
		if (n == VHOST_USER_TRANSFER_STATE_PHASE_STOPPED)
			put(s, " phase=stopped}");
		else
			put(s, " phase=%" PRIu32 "}", n);
		return;
	case VHOST_USER_LAYOUT_OPAQUE:
	case VHOST_USER_LAYOUT_COUNT:
		break;
	}
	put(s, "{");
	put_hex(s, m->payload, size, 16);
	put(s, "}");
}

/*
 * Without the negotiated features, a region table's region size comes from
 * the payload: 8 + 32 * n, or else 8 + 40 * n (XEN_MMAP).
 */
static bool looks_xen(enum vhost_user_size_rule rule,
		      const struct vhost_user_msg *m)
{
	uint32_t n;

	if (rule == VHOST_USER_SIZE_MEM_REGION)
		return m->hdr.size == 8 + 40;
	if (rule != VHOST_USER_SIZE_MEM_TABLE || m->hdr.size < 8)
		return false;
	n = load32(m, 0);
	return n <= VHOST_USER_MAX_MEM_REGIONS && m->hdr.size != 8 + n * 32 &&
	       m->hdr.size == 8 + n * 40;
}

int vhost_user_describe(const struct vhost_user_msg *m, enum vhost_user_dir dir,
			char *buf, size_t cap)
{
	struct sbuf s = { .buf = buf, .cap = cap, .len = 0 };
	const struct vhost_user_rule *r;
	enum vhost_user_layout layout;
	enum vhost_user_size_rule rule;
	bool is_reply, ack, xen;
	const char *why = NULL;
	uint32_t base;

	if (!buf)
		s.cap = 0; /* measure only */
	else if (cap)
		buf[0] = '\0';
	r = vhost_user_rule_find(dir, m->hdr.request);
	if (r)
		put(&s, "%s", r->name);
	else
		put(&s, "UNKNOWN(%" PRIu32 ")", m->hdr.request);
	put(&s, " flags=0x%" PRIx32 " size=%" PRIu32, m->hdr.flags,
	    m->hdr.size);
	if (m->hdr.size > VHOST_USER_PAYLOAD_MAX) {
		put(&s, " malformed: payload size past the %u-byte maximum",
		    VHOST_USER_PAYLOAD_MAX);
		goto fds;
	}
	put(&s, " ");
	if (!r) {
		put_payload(&s, VHOST_USER_LAYOUT_OPAQUE, m, false);
		goto fds;
	}

	is_reply = m->hdr.flags & VHOST_USER_REPLY_MASK;
	ack = is_reply && r->reply == VHOST_USER_REPLY_IF_ACKED &&
	      m->hdr.size == 8;
	layout = is_reply ? r->reply_layout : r->layout;
	rule = is_reply ? r->reply_size_rule : r->size_rule;
	base = is_reply ? r->reply_size : r->size;
	if (is_reply && (r->flags & VHOST_USER_RULE_REPLY_MAY_ECHO) && !ack) {
		layout = r->layout; /* postcopy echo */
		rule = r->size_rule;
		base = r->size;
	}
	if (is_reply && rule == VHOST_USER_SIZE_OF_REQUEST) {
		/* the request is not at hand: judge the reply on its own */
		rule = layout == VHOST_USER_LAYOUT_CONFIG
			       ? VHOST_USER_SIZE_CONFIG
			       : VHOST_USER_SIZE_MIN;
		base = layout == VHOST_USER_LAYOUT_CONFIG
			       ? VHOST_USER_CONFIG_HDR_SIZE
			       : 0;
	}
	if (is_reply && (r->flags & VHOST_USER_RULE_REPLY_MAY_BE_EMPTY) &&
	    m->hdr.size == 0) {
		put(&s, "{}");
		goto fds;
	}

	xen = looks_xen(rule, m);
	if (check_size(rule, base, m, xen ? VHOST_USER_PROTO_BIT(XEN_MMAP) : 0,
		       0, "", r->name, &why) < 0) {
		put(&s, "malformed: %s", why);
		goto fds;
	}
	if (ack)
		put(&s, "{ack=%" PRIu64 "}", load64(m, 0));
	else
		put_payload(&s, layout, m, xen);
fds:
	if (m->nfds)
		put(&s, " fds=%u", m->nfds);
	return s.len > INT_MAX ? INT_MAX : (int)s.len;
}
