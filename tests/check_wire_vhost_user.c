/* SPDX-License-Identifier: MIT */
/*
 * check_wire_vhost_user.c - unit tests of harness/wire/vhost_user.
 *
 * The table is complete and exact, every request of either direction
 * survives pack / parse / check, and every malformed input is refused with
 * a reason, never read past or crashed on.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_util.h"
#include "common/util.h"
#include "wire/vhost_user.h"
#include "wire/wire_fmt.h"

#define FE VHOST_USER_FROM_FRONTEND
#define BE VHOST_USER_FROM_BACKEND
#define ALL VHOST_USER_PROTOCOL_F_ALL
#define BIT(f) VHOST_USER_PROTO_BIT(f)
/* fd numbers only: the wire layer never touches the fds themselves */
#define FAKE_FD 1000

/* The spec's names, by id: the table must say exactly these. */
static const char *const fe_names[] = {
	NULL,
	"VHOST_USER_GET_FEATURES",
	"VHOST_USER_SET_FEATURES",
	"VHOST_USER_SET_OWNER",
	"VHOST_USER_RESET_OWNER",
	"VHOST_USER_SET_MEM_TABLE",
	"VHOST_USER_SET_LOG_BASE",
	"VHOST_USER_SET_LOG_FD",
	"VHOST_USER_SET_VRING_NUM",
	"VHOST_USER_SET_VRING_ADDR",
	"VHOST_USER_SET_VRING_BASE",
	"VHOST_USER_GET_VRING_BASE",
	"VHOST_USER_SET_VRING_KICK",
	"VHOST_USER_SET_VRING_CALL",
	"VHOST_USER_SET_VRING_ERR",
	"VHOST_USER_GET_PROTOCOL_FEATURES",
	"VHOST_USER_SET_PROTOCOL_FEATURES",
	"VHOST_USER_GET_QUEUE_NUM",
	"VHOST_USER_SET_VRING_ENABLE",
	"VHOST_USER_SEND_RARP",
	"VHOST_USER_NET_SET_MTU",
	"VHOST_USER_SET_BACKEND_REQ_FD",
	"VHOST_USER_IOTLB_MSG",
	"VHOST_USER_SET_VRING_ENDIAN",
	"VHOST_USER_GET_CONFIG",
	"VHOST_USER_SET_CONFIG",
	"VHOST_USER_CREATE_CRYPTO_SESSION",
	"VHOST_USER_CLOSE_CRYPTO_SESSION",
	"VHOST_USER_POSTCOPY_ADVISE",
	"VHOST_USER_POSTCOPY_LISTEN",
	"VHOST_USER_POSTCOPY_END",
	"VHOST_USER_GET_INFLIGHT_FD",
	"VHOST_USER_SET_INFLIGHT_FD",
	"VHOST_USER_GPU_SET_SOCKET",
	"VHOST_USER_RESET_DEVICE",
	"VHOST_USER_VRING_KICK",
	"VHOST_USER_GET_MAX_MEM_SLOTS",
	"VHOST_USER_ADD_MEM_REG",
	"VHOST_USER_REM_MEM_REG",
	"VHOST_USER_SET_STATUS",
	"VHOST_USER_GET_STATUS",
	"VHOST_USER_GET_SHARED_OBJECT",
	"VHOST_USER_SET_DEVICE_STATE_FD",
	"VHOST_USER_CHECK_DEVICE_STATE",
};

static const char *const be_names[] = {
	NULL,
	"VHOST_USER_BACKEND_IOTLB_MSG",
	"VHOST_USER_BACKEND_CONFIG_CHANGE_MSG",
	"VHOST_USER_BACKEND_VRING_HOST_NOTIFIER_MSG",
	"VHOST_USER_BACKEND_VRING_CALL",
	"VHOST_USER_BACKEND_VRING_ERR",
	"VHOST_USER_BACKEND_SHARED_OBJECT_ADD",
	"VHOST_USER_BACKEND_SHARED_OBJECT_REMOVE",
	"VHOST_USER_BACKEND_SHARED_OBJECT_LOOKUP",
};

static const char *const be_aliases[] = {
	NULL,
	"VHOST_USER_SLAVE_IOTLB_MSG",
	"VHOST_USER_SLAVE_CONFIG_CHANGE_MSG",
	"VHOST_USER_SLAVE_VRING_HOST_NOTIFIER_MSG",
	"VHOST_USER_SLAVE_VRING_CALL",
	"VHOST_USER_SLAVE_VRING_ERR",
	NULL,
	NULL,
	NULL,
};

/* ---- fd leak fixture ---- */

static int fds_at_start;

static void fd_setup(void)
{
	fds_at_start = count_fds();
}

static void fd_teardown(void)
{
	ck_assert_int_eq(count_fds(), fds_at_start);
}

/* ---- helpers ---- */

static void attach_fake_fds(struct vhost_user_msg *m, unsigned int n)
{
	int fds[VHOST_USER_MAX_FDS];
	unsigned int i;

	for (i = 0; i < n; i++)
		fds[i] = FAKE_FD + (int)i;
	ck_assert_int_eq(vhost_user_msg_attach_fds(m, fds, n), 0);
}

static const uint8_t test_uuid[16] = { 0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc,
				       0xde, 0xf0, 0x01, 0x23, 0x45, 0x67,
				       0x89, 0xab, 0xcd, 0xef };

static void build_regions(struct vhost_user_msg *m, uint32_t code, bool xen,
			  unsigned int n)
{
	struct vhost_user_mem_region r[VHOST_USER_MAX_MEM_REGIONS];
	struct vhost_user_mem_region_xen x[VHOST_USER_MAX_MEM_REGIONS];
	unsigned int i;

	for (i = 0; i < n; i++) {
		r[i] = (struct vhost_user_mem_region){
			.guest_addr = 0x100000 * i,
			.size = 0x100000,
			.user_addr = 0x7f0000000000 + 0x100000 * i,
			.mmap_offset = 0,
		};
		x[i] = (struct vhost_user_mem_region_xen){
			.guest_addr = r[i].guest_addr,
			.size = r[i].size,
			.user_addr = r[i].user_addr,
			.xen_mmap_flags = VHOST_USER_XEN_MMAP_FOREIGN,
			.domid = 7,
		};
	}
	if (xen)
		ck_assert_int_eq(vhost_user_build_mem_table_xen(m, code, x, n),
				 8 + 40 * n);
	else
		ck_assert_int_eq(vhost_user_build_mem_table(m, code, r, n),
				 8 + 32 * n);
}

/*
 * A correct request for @r under @neg, with the fds it takes attached.
 * Return: the number of fds attached.
 */
static unsigned int build_valid(const struct vhost_user_rule *r,
				struct vhost_user_msg *m, uint64_t neg)
{
	bool xen = neg & BIT(XEN_MMAP);
	uint8_t bytes[64];
	unsigned int nfds = 0, i;
	uint64_t u64;
	int ret = -1;

	switch (r->layout) {
	case VHOST_USER_LAYOUT_EMPTY:
		ret = vhost_user_build_empty(m, r->code);
		break;
	case VHOST_USER_LAYOUT_U64:
		ret = vhost_user_build_u64(m, r->code, 0x1234);
		break;
	case VHOST_USER_LAYOUT_PROTOCOL_FEATURES:
		ret = vhost_user_build_u64(m, r->code,
					   BIT(MQ) | BIT(REPLY_ACK));
		break;
	case VHOST_USER_LAYOUT_MAC: {
		const uint8_t mac[8] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };

		memcpy(&u64, mac, sizeof(u64));
		ret = vhost_user_build_u64(m, r->code, u64);
		break;
	}
	case VHOST_USER_LAYOUT_VRING_FD:
		ret = vhost_user_build_u64(m, r->code, 1);
		break;
	case VHOST_USER_LAYOUT_VRING_STATE:
		if (r->flags & VHOST_USER_RULE_NUM_RESERVED)
			ret = vhost_user_build_vring_state(m, r->code, 1, 0);
		else if (r->dir == FE && r->code == VHOST_USER_SET_VRING_ENDIAN)
			ret = vhost_user_build_vring_state(m, r->code, 1, 1);
		else
			ret = vhost_user_build_vring_state(m, r->code, 1, 256);
		break;
	case VHOST_USER_LAYOUT_VRING_BASE:
		ret = vhost_user_build_vring_state(m, r->code, 1, 42);
		break;
	case VHOST_USER_LAYOUT_VRING_ADDR: {
		struct vhost_user_vring_addr a = {
			.index = 1,
			.flags = VHOST_USER_VRING_F_LOG_MASK,
			.desc = 0x1000,
			.used = 0x2000,
			.avail = 0x3000,
			.log = 0x4000,
		};

		ret = vhost_user_build_vring_addr(m, r->code, &a);
		break;
	}
	case VHOST_USER_LAYOUT_MEM_TABLE:
		build_regions(m, r->code, xen, 2);
		ret = 0;
		break;
	case VHOST_USER_LAYOUT_MEM_REGION: {
		struct vhost_user_mem_region reg = {
			.guest_addr = 0x200000,
			.size = 0x100000,
			.user_addr = 0x7f0000200000,
		};
		struct vhost_user_mem_region_xen xr = {
			.guest_addr = 0x200000,
			.size = 0x100000,
			.user_addr = 0x7f0000200000,
			.xen_mmap_flags = VHOST_USER_XEN_MMAP_GRANT,
		};

		ret = xen ? vhost_user_build_mem_region_xen(m, r->code, &xr)
			  : vhost_user_build_mem_region(m, r->code, &reg);
		break;
	}
	case VHOST_USER_LAYOUT_LOG:
		ret = vhost_user_build_log(m, r->code, 0x1000, 0);
		break;
	case VHOST_USER_LAYOUT_IOTLB: {
		struct vhost_user_iotlb io = {
			.iova = 0x1000,
			.size = 0x1000,
			.user_addr = 0x7f0000001000,
			.perm = r->dir == FE ? VHOST_ACCESS_RW
					     : VHOST_ACCESS_RO,
			.type = r->dir == FE ? VHOST_IOTLB_UPDATE
					     : VHOST_IOTLB_MISS,
		};

		ret = vhost_user_build_iotlb(m, r->code, &io);
		break;
	}
	case VHOST_USER_LAYOUT_CONFIG: {
		const uint8_t data[4] = { 1, 2, 3, 4 };

		ret = vhost_user_build_config(m, r->code, 0, 4,
					      VHOST_USER_CONFIG_WRITABLE, data);
		break;
	}
	case VHOST_USER_LAYOUT_CRYPTO_SESSION:
		for (i = 0; i < sizeof(bytes); i++)
			bytes[i] = (uint8_t)i;
		ret = vhost_user_build_raw(m, r->code, bytes, sizeof(bytes));
		break;
	case VHOST_USER_LAYOUT_VRING_AREA:
		ret = vhost_user_build_vring_area(m, r->code, 1, 4096, 0);
		break;
	case VHOST_USER_LAYOUT_INFLIGHT:
		ret = vhost_user_build_inflight(m, r->code, 0x2000, 0, 2, 256);
		break;
	case VHOST_USER_LAYOUT_SHARED:
		ret = vhost_user_build_shared(m, r->code, test_uuid);
		break;
	case VHOST_USER_LAYOUT_DEVICE_STATE:
		ret = vhost_user_build_device_state(
			m, r->code, VHOST_USER_TRANSFER_STATE_DIRECTION_SAVE,
			VHOST_USER_TRANSFER_STATE_PHASE_STOPPED);
		break;
	case VHOST_USER_LAYOUT_OPAQUE:
	case VHOST_USER_LAYOUT_COUNT:
		ck_abort_msg("%s: no request has layout %d", r->name,
			     (int)r->layout);
	}
	ck_assert_msg(ret >= 0, "%s: builder failed (%d)", r->name, ret);

	switch (r->fds) {
	case VHOST_USER_FDS_NONE:
	case VHOST_USER_FDS_OPTIONAL:
	case VHOST_USER_FDS_NONE_TOLERATE_ONE:
		nfds = 0;
		break;
	case VHOST_USER_FDS_ONE:
	case VHOST_USER_FDS_ONE_UNLESS_NOFD: /* built without NOFD */
	case VHOST_USER_FDS_ONE_UNLESS_EMPTY:
		nfds = 1;
		break;
	case VHOST_USER_FDS_PER_REGION:
		nfds = 2;
		break;
	case VHOST_USER_FDS_ONE_IF_FEATURE:
		nfds = (neg >> r->fd_feature) & 1 ? 1 : 0;
		break;
	}
	attach_fake_fds(m, nfds);
	return nfds;
}

/* A correct reply to @req (built by build_valid for @r). */
static void build_valid_reply(const struct vhost_user_rule *r,
			      const struct vhost_user_msg *req,
			      struct vhost_user_msg *m)
{
	unsigned int nfds = 0;
	int ret = -1;

	if (r->reply == VHOST_USER_REPLY_IF_ACKED) {
		ck_assert_int_eq(vhost_user_build_ack(m, r->code, 0), 8);
		return;
	}
	switch (r->reply_layout) {
	case VHOST_USER_LAYOUT_U64:
		if (r->reply_fds == VHOST_USER_FDS_ONE_UNLESS_NOFD) {
			ret = vhost_user_build_u64(m, r->code,
						   VHOST_USER_VRING_NOFD_MASK);
		} else {
			ret = vhost_user_build_u64(m, r->code, 0);
			nfds = r->reply_fds == VHOST_USER_FDS_OPTIONAL;
		}
		break;
	case VHOST_USER_LAYOUT_PROTOCOL_FEATURES:
		ret = vhost_user_build_u64(m, r->code, ALL);
		break;
	case VHOST_USER_LAYOUT_VRING_BASE:
		ret = vhost_user_build_vring_state(m, r->code, 1, 42);
		break;
	case VHOST_USER_LAYOUT_CONFIG:
	case VHOST_USER_LAYOUT_CRYPTO_SESSION:
		/* same size and layout as the request */
		ret = vhost_user_build_raw(m, r->code, req->payload,
					   req->hdr.size);
		break;
	case VHOST_USER_LAYOUT_EMPTY:
	case VHOST_USER_LAYOUT_OPAQUE:
		ret = vhost_user_build_empty(m, r->code);
		nfds = 1;
		break;
	case VHOST_USER_LAYOUT_INFLIGHT:
		ret = vhost_user_build_inflight(m, r->code, 0x4000, 0, 2, 256);
		nfds = 1;
		break;
	default:
		ck_abort_msg("%s: no reply builder for layout %d", r->name,
			     (int)r->reply_layout);
	}
	ck_assert_msg(ret >= 0, "%s: reply builder failed", r->name);
	vhost_user_make_reply(m);
	attach_fake_fds(m, nfds);
}

static int expected_clean(const struct vhost_user_rule *r)
{
	return r->flags & VHOST_USER_RULE_DEPRECATED
		       ? VHOST_USER_WARN_DEPRECATED
		       : 0;
}

/* The rule, or a clean failure (not a NULL dereference). */
static const struct vhost_user_rule *must_find(enum vhost_user_dir dir,
					       uint32_t code)
{
	const struct vhost_user_rule *r = vhost_user_rule_find(dir, code);

	ck_assert_msg(r != NULL, "no rule for %s code %u",
		      dir == FE ? "front-end" : "back-end", code);
	return r;
}

/* ---- the table ---- */

START_TEST(test_table_complete)
{
	const struct vhost_user_rule *r;
	uint32_t code;
	size_t seen = 0;

	ck_assert_uint_eq(ARRAY_SIZE(fe_names), VHOST_USER_MAX);
	ck_assert_uint_eq(ARRAY_SIZE(be_names), VHOST_USER_BACKEND_MAX);
	ck_assert_uint_eq(vhost_user_rule_count, 43 + 8);

	/* no gaps, no extras, in either code space */
	for (code = 0; code <= VHOST_USER_MAX; code++) {
		r = vhost_user_rule_find(FE, code);
		if (code == 0 || code == VHOST_USER_MAX) {
			ck_assert_ptr_null(r);
			ck_assert_ptr_null(vhost_user_request_name(FE, code));
			continue;
		}
		ck_assert_msg(r, "front-end code %u missing", code);
		ck_assert_uint_eq(r->code, code);
		ck_assert_int_eq(r->dir, FE);
		ck_assert_str_eq(r->name, fe_names[code]);
		ck_assert_str_eq(vhost_user_request_name(FE, code),
				 fe_names[code]);
		ck_assert_str_eq(r->anchor,
				 "vhost-user#front-end-message-types");
		if (code == VHOST_USER_SET_BACKEND_REQ_FD)
			ck_assert_str_eq(r->alias,
					 "VHOST_USER_SET_SLAVE_REQ_FD");
		else
			ck_assert_ptr_null(r->alias);
	}
	for (code = 0; code <= VHOST_USER_BACKEND_MAX; code++) {
		r = vhost_user_rule_find(BE, code);
		if (code == 0 || code == VHOST_USER_BACKEND_MAX) {
			ck_assert_ptr_null(r);
			continue;
		}
		ck_assert_msg(r, "back-end code %u missing", code);
		ck_assert_uint_eq(r->code, code);
		ck_assert_int_eq(r->dir, BE);
		ck_assert_str_eq(r->name, be_names[code]);
		ck_assert_str_eq(r->anchor,
				 "vhost-user#back-end-message-types");
		if (be_aliases[code])
			ck_assert_str_eq(r->alias, be_aliases[code]);
		else
			ck_assert_ptr_null(r->alias);
		/* the channel exists only with BACKEND_REQ */
		ck_assert(r->gate & BIT(BACKEND_REQ));
	}
	ck_assert_ptr_null(vhost_user_rule_find(FE, UINT32_MAX));

	/* enumeration visits each (direction, code) exactly once */
	vhost_user_for_each_rule (r) {
		ck_assert_ptr_eq(vhost_user_rule_find(r->dir, r->code), r);
		ck_assert_ptr_nonnull(r->name);
		ck_assert(strncmp(r->name, "VHOST_USER_", 11) == 0);
		ck_assert(strncmp(r->anchor, "vhost-user#", 11) == 0);
		ck_assert(!r->see || strncmp(r->see, "vhost-user#", 11) == 0);
		ck_assert_uint_le(r->max_fds, VHOST_USER_MAX_FDS);
		ck_assert_uint_le(r->reply_max_fds, VHOST_USER_MAX_FDS);
		ck_assert_int_eq(r->fds == VHOST_USER_FDS_NONE,
				 r->max_fds == 0);
		ck_assert_int_eq(r->reply_fds == VHOST_USER_FDS_NONE,
				 r->reply_max_fds == 0);
		ck_assert_uint_eq(r->gate & ~ALL, 0);
		ck_assert_str_ne(vhost_user_layout_name(r->layout), "?");
		seen++;
	}
	ck_assert_uint_eq(seen, vhost_user_rule_count);

	/* the old names are the same codes */
	ck_assert_int_eq(VHOST_USER_SET_SLAVE_REQ_FD, 21);
	ck_assert_int_eq(VHOST_USER_SLAVE_IOTLB_MSG, 1);
	ck_assert_int_eq(VHOST_USER_SLAVE_VRING_ERR, 5);
}
END_TEST

START_TEST(test_table_facts)
{
	const struct vhost_user_rule *r;

	/* "Communication": the requests that are answered */
	ck_assert_int_eq(must_find(FE, VHOST_USER_GET_FEATURES)->reply,
			 VHOST_USER_REPLY_ALWAYS);
	ck_assert_int_eq(must_find(FE, VHOST_USER_GET_VRING_BASE)->reply,
			 VHOST_USER_REPLY_ALWAYS);
	r = must_find(FE, VHOST_USER_SET_LOG_BASE);
	ck_assert_int_eq(r->reply, VHOST_USER_REPLY_IF_FEATURE);
	ck_assert_int_eq(r->reply_feature, VHOST_USER_PROTOCOL_F_LOG_SHMFD);
	ck_assert_int_eq(r->fds, VHOST_USER_FDS_ONE_IF_FEATURE);
	r = must_find(FE, VHOST_USER_GET_INFLIGHT_FD);
	ck_assert_int_eq(r->reply, VHOST_USER_REPLY_IF_FEATURE);
	ck_assert_int_eq(r->reply_feature,
			 VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD);
	ck_assert_int_eq(r->size, 24);
	ck_assert_int_eq(must_find(FE, VHOST_USER_SET_VRING_NUM)->reply,
			 VHOST_USER_REPLY_IF_ACKED);
	/* "Communication": the requests that carry fds */
	ck_assert_int_eq(must_find(FE, VHOST_USER_SET_MEM_TABLE)->fds,
			 VHOST_USER_FDS_PER_REGION);
	ck_assert_int_eq(must_find(FE, VHOST_USER_SET_MEM_TABLE)->max_fds, 8);
	ck_assert_int_eq(must_find(FE, VHOST_USER_ADD_MEM_REG)->fds,
			 VHOST_USER_FDS_ONE);
	ck_assert_int_eq(must_find(FE, VHOST_USER_SET_VRING_CALL)->fds,
			 VHOST_USER_FDS_ONE_UNLESS_NOFD);
	ck_assert_int_eq(must_find(FE, VHOST_USER_SET_BACKEND_REQ_FD)->fds,
			 VHOST_USER_FDS_ONE);
	ck_assert_int_eq(must_find(FE, VHOST_USER_IOTLB_MSG)->size, 32);
	ck_assert_int_eq(must_find(FE, VHOST_USER_SET_VRING_ADDR)->size, 40);
	ck_assert_uint_eq(must_find(FE, VHOST_USER_VRING_KICK)->gate,
			  BIT(INBAND_NOTIFICATIONS));
	ck_assert_uint_eq(must_find(FE, VHOST_USER_GET_FEATURES)->gate, 0);
}
END_TEST

START_TEST(test_protocol_feature_names)
{
	static const char *const names[] = {
		"MQ",
		"LOG_SHMFD",
		"RARP",
		"REPLY_ACK",
		"MTU",
		"BACKEND_REQ",
		"CROSS_ENDIAN",
		"CRYPTO_SESSION",
		"PAGEFAULT",
		"CONFIG",
		"BACKEND_SEND_FD",
		"HOST_NOTIFIER",
		"INFLIGHT_SHMFD",
		"RESET_DEVICE",
		"INBAND_NOTIFICATIONS",
		"CONFIGURE_MEM_SLOTS",
		"STATUS",
		"XEN_MMAP",
		"SHARED_OBJECT",
		"DEVICE_STATE",
	};
	unsigned int bit;
	char want[64];

	ck_assert_uint_eq(ARRAY_SIZE(names), VHOST_USER_PROTOCOL_F_MAX);
	for (bit = 0; bit < ARRAY_SIZE(names); bit++) {
		snprintf(want, sizeof(want), "VHOST_USER_PROTOCOL_F_%s",
			 names[bit]);
		ck_assert_str_eq(vhost_user_protocol_feature_name(bit), want);
	}
	ck_assert_ptr_null(vhost_user_protocol_feature_name(20));
	ck_assert_ptr_null(vhost_user_protocol_feature_name(63));
	ck_assert_int_eq(VHOST_USER_PROTOCOL_F_SLAVE_REQ, 5);
	ck_assert_int_eq(VHOST_USER_PROTOCOL_F_SLAVE_SEND_FD, 10);
	ck_assert_int_eq(VHOST_USER_PROTOCOL_F_NET_MTU, 4);
	ck_assert_uint_eq(ALL, 0xfffff);
	ck_assert_int_eq(VHOST_USER_F_PROTOCOL_FEATURES, 30);
}
END_TEST

/* ---- round trips ---- */

static void round_trip(const struct vhost_user_rule *r, uint64_t neg)
{
	static struct vhost_user_msg m, m2, rep, rep2;
	static uint8_t out[VHOST_USER_MSG_MAX], out2[VHOST_USER_MSG_MAX];
	const char *why = NULL;
	unsigned int nfds;
	char line[512];
	int len, len2;

	nfds = build_valid(r, &m, neg);
	ck_assert_uint_eq(m.hdr.request, r->code);
	ck_assert_uint_eq(m.hdr.flags, VHOST_USER_VERSION);
	ck_assert_int_eq(vhost_user_expected_size(r, &m, neg, &why),
			 r->size_rule == VHOST_USER_SIZE_MIN ? (int)r->size
							     : (int)m.hdr.size);

	len = vhost_user_pack(&m, out, sizeof(out));
	ck_assert_int_eq(len, (int)(VHOST_USER_HDR_SIZE + m.hdr.size));
	memset(&m2, 0x5a, sizeof(m2));
	ck_assert_int_eq(vhost_user_parse(&m2, out, (size_t)len, &why), len);
	ck_assert_uint_eq(m2.nfds, 0); /* parse starts a fresh envelope */
	ck_assert_int_eq(m2.fds[0], -1);
	ck_assert_mem_eq(&m2.hdr, &m.hdr, sizeof(m.hdr));
	ck_assert_mem_eq(m2.payload, m.payload, m.hdr.size);
	len2 = vhost_user_pack(&m2, out2, sizeof(out2));
	ck_assert_int_eq(len2, len);
	ck_assert_mem_eq(out2, out, (size_t)len);

	attach_fake_fds(&m2, nfds);
	why = NULL;
	ck_assert_msg(vhost_user_check_request(&m2, r->dir, neg, &why) ==
			      expected_clean(r),
		      "%s refused: %s", r->name, why ? why : "(no reason)");
	if (!expected_clean(r))
		ck_assert_ptr_null(why);

	/* the trace line names it and decodes it */
	vhost_user_describe(&m2, r->dir, line, sizeof(line));
	ck_assert_msg(strncmp(line, r->name, strlen(r->name)) == 0, "%s", line);
	ck_assert_msg(!strstr(line, "malformed"), "%s", line);
	ck_assert_msg(strstr(line, " flags=0x1 size=") != NULL, "%s", line);
	ck_assert_int_eq(strstr(line, "fds=") != NULL, nfds > 0);

	/* its reply, the same way */
	build_valid_reply(r, &m, &rep);
	why = NULL;
	ck_assert_msg(vhost_user_check_reply(r->dir, &m.hdr, &rep, &why) == 0,
		      "reply to %s refused: %s", r->name,
		      why ? why : "(no reason)");
	len = vhost_user_pack(&rep, out, sizeof(out));
	ck_assert_int_ge(len, (int)VHOST_USER_HDR_SIZE);
	ck_assert_int_eq(vhost_user_parse(&rep2, out, (size_t)len, &why), len);
	ck_assert_mem_eq(rep2.payload, rep.payload, rep.hdr.size);
	attach_fake_fds(&rep2, rep.nfds);
	ck_assert_int_eq(vhost_user_check_reply(r->dir, &m.hdr, &rep2, &why),
			 0);
	vhost_user_describe(&rep2, r->dir, line, sizeof(line));
	ck_assert_msg(!strstr(line, "malformed"), "%s", line);
	ck_assert_msg(strncmp(line, r->name, strlen(r->name)) == 0, "%s", line);
}

START_TEST(test_round_trip_every_request)
{
	const struct vhost_user_rule *r;

	vhost_user_for_each_rule (r) {
		round_trip(r, ALL);
		round_trip(r, ALL & ~BIT(XEN_MMAP));
		round_trip(r, ALL & ~BIT(LOG_SHMFD));
	}
}
END_TEST

/* ---- parse ---- */

START_TEST(test_truncated_prefixes)
{
	static struct vhost_user_msg m, m2;
	static uint8_t out[VHOST_USER_MSG_MAX];
	const struct vhost_user_rule *r;
	struct vhost_user_hdr h;
	const char *why;
	size_t i;
	int len;

	vhost_user_for_each_rule (r) {
		build_valid(r, &m, ALL);
		len = vhost_user_pack(&m, out, sizeof(out));
		ck_assert_int_gt(len, 0);
		for (i = 0; i < (size_t)len; i++) {
			/* a copy of exactly i bytes: ASan sees any overread */
			uint8_t *p = malloc(i ? i : 1);

			ck_assert_ptr_nonnull(p);
			memcpy(p, out, i);
			why = NULL;
			ck_assert_int_eq(vhost_user_parse(&m2, p, i, &why),
					 -ENODATA);
			ck_assert_ptr_nonnull(why);
			if (i < VHOST_USER_HDR_SIZE)
				ck_assert_int_eq(
					vhost_user_hdr_parse(p, i, &h, &why),
					-ENODATA);
			free(p);
		}
		ck_assert_int_eq(vhost_user_parse(&m2, out, (size_t)len, &why),
				 len);
	}
	ck_assert_int_eq(
		vhost_user_hdr_parse(out, VHOST_USER_HDR_SIZE, &h, NULL),
		(int)VHOST_USER_HDR_SIZE);
}
END_TEST

START_TEST(test_oversized)
{
	static struct vhost_user_msg m;
	static uint8_t out[VHOST_USER_MSG_MAX + 16];
	struct vhost_user_hdr h = {
		.request = VHOST_USER_SET_VRING_NUM,
		.flags = VHOST_USER_VERSION,
		.size = VHOST_USER_PAYLOAD_MAX + 1,
	};
	const char *why = NULL;
	char line[256];

	/* the header alone is enough to know it is too big */
	ck_assert_int_eq(vhost_user_parse(&m, &h, sizeof(h), &why), -EMSGSIZE);
	ck_assert_ptr_nonnull(why);
	h.size = UINT32_MAX;
	why = NULL;
	ck_assert_int_eq(vhost_user_parse(&m, &h, sizeof(h), &why), -EMSGSIZE);
	ck_assert_ptr_nonnull(why);

	/* exactly the maximum parses */
	h.size = VHOST_USER_PAYLOAD_MAX;
	ck_assert_int_eq(
		vhost_user_pack_raw(&h, NULL, h.size, out, sizeof(out)),
		(int)VHOST_USER_MSG_MAX);
	ck_assert_int_eq(vhost_user_parse(&m, out, VHOST_USER_MSG_MAX, &why),
			 (int)VHOST_USER_MSG_MAX);
	why = NULL;
	ck_assert_int_eq(vhost_user_check_request(&m, FE, ALL, &why), -EBADMSG);
	ck_assert_ptr_nonnull(why);

	/* an envelope that lies past its capacity */
	m.hdr.size = VHOST_USER_PAYLOAD_MAX + 1;
	why = NULL;
	ck_assert_int_eq(vhost_user_check_request(&m, FE, ALL, &why),
			 -EMSGSIZE);
	ck_assert_ptr_nonnull(why);
	ck_assert_int_eq(vhost_user_pack(&m, out, sizeof(out)), -EMSGSIZE);
	vhost_user_describe(&m, FE, line, sizeof(line));
	ck_assert_ptr_nonnull(strstr(line, "malformed"));
}
END_TEST

START_TEST(test_pack_raw_and_lies)
{
	static struct vhost_user_msg m;
	uint8_t out[64], garbage[12];
	struct vhost_user_hdr h = {
		.request = VHOST_USER_SET_FEATURES,
		.flags = VHOST_USER_VERSION,
		.size = 8,
	};
	const char *why;
	size_t i;

	for (i = 0; i < sizeof(garbage); i++)
		garbage[i] = (uint8_t)(0xa0 + i);

	/* trailing garbage: parse takes 12 + 8 and leaves the rest */
	ck_assert_int_eq(vhost_user_pack_raw(&h, garbage, 12, out, sizeof(out)),
			 24);
	ck_assert_int_eq(vhost_user_parse(&m, out, 24, &why), 20);
	ck_assert_mem_eq(m.payload, garbage, 8);
	ck_assert_uint_eq(m.payload[8], 0); /* zeroed past size */

	/* short payload: the header promises more than follows */
	ck_assert_int_eq(vhost_user_pack_raw(&h, garbage, 4, out, sizeof(out)),
			 16);
	why = NULL;
	ck_assert_int_eq(vhost_user_parse(&m, out, 16, &why), -ENODATA);
	ck_assert_ptr_nonnull(why);

	/* NULL payload is zeros; cap too small is -ENOSPC */
	memset(out, 0xff, sizeof(out));
	ck_assert_int_eq(vhost_user_pack_raw(&h, NULL, 8, out, sizeof(out)),
			 20);
	for (i = 12; i < 20; i++)
		ck_assert_uint_eq(out[i], 0);
	ck_assert_int_eq(vhost_user_pack_raw(&h, NULL, 8, out, 19), -ENOSPC);
	ck_assert_int_eq(vhost_user_pack_raw(&h, NULL, 0, out, 11), -ENOSPC);

	/* a lying hdr.size is reproduced byte for byte */
	ck_assert_int_eq(vhost_user_build_u64(&m, VHOST_USER_SET_FEATURES,
					      0x1122334455667788ULL),
			 8);
	m.hdr.size = 4;
	ck_assert_int_eq(vhost_user_pack(&m, out, sizeof(out)), 16);
	ck_assert_mem_eq(out + 12, m.payload, 4);
	{
		struct vhost_user_hdr h2;

		memcpy(&h2, out, sizeof(h2));
		ck_assert_uint_eq(h2.size, 4);
	}
	ck_assert_int_eq(vhost_user_pack(&m, out, 15), -ENOSPC);
	why = NULL;
	ck_assert_int_eq(vhost_user_check_request(&m, FE, ALL, &why), -EBADMSG);
	ck_assert_ptr_nonnull(strstr(why, "VHOST_USER_SET_FEATURES"));
}
END_TEST

/* ---- request checks ---- */

START_TEST(test_size_off_by_one)
{
	static struct vhost_user_msg m;
	const struct vhost_user_rule *r;
	const char *why;
	uint32_t good;

	vhost_user_for_each_rule (r) {
		build_valid(r, &m, ALL);
		good = m.hdr.size;
		m.hdr.size = good + 1;
		why = NULL;
		ck_assert_msg(vhost_user_check_request(&m, r->dir, ALL, &why) ==
				      (r->size_rule == VHOST_USER_SIZE_MIN
					       ? expected_clean(r)
					       : -EBADMSG),
			      "%s with size %u", r->name, m.hdr.size);
		if (r->size_rule != VHOST_USER_SIZE_MIN) {
			ck_assert_ptr_nonnull(why);
			ck_assert_msg(strstr(why, r->name) != NULL, "%s", why);
		}
		if (good == 0)
			continue;
		m.hdr.size = good - 1;
		why = NULL;
		ck_assert_msg(vhost_user_check_request(&m, r->dir, ALL, &why) ==
				      (r->size_rule == VHOST_USER_SIZE_MIN &&
						       good > r->size
					       ? expected_clean(r)
					       : -EBADMSG),
			      "%s with size %u", r->name, m.hdr.size);
		ck_assert(why != NULL || r->size_rule == VHOST_USER_SIZE_MIN);
	}

	/* the minimum itself, and one short of it */
	r = vhost_user_rule_find(FE, VHOST_USER_CREATE_CRYPTO_SESSION);
	ck_assert_int_eq(vhost_user_build_raw(&m, r->code, NULL, 8), 8);
	ck_assert_int_eq(vhost_user_check_request(&m, FE, ALL, NULL), 0);
	m.hdr.size = 7;
	ck_assert_int_eq(vhost_user_check_request(&m, FE, ALL, &why), -EBADMSG);

	/* XEN_MMAP decides the region size: a 32-byte region is wrong then */
	r = vhost_user_rule_find(FE, VHOST_USER_ADD_MEM_REG);
	build_valid(r, &m, ALL & ~BIT(XEN_MMAP));
	ck_assert_int_eq(vhost_user_check_request(&m, FE, ALL, &why), -EBADMSG);
	build_valid(r, &m, ALL);
	ck_assert_int_eq(
		vhost_user_check_request(&m, FE, ALL & ~BIT(XEN_MMAP), &why),
		-EBADMSG);

	/* config: 12 + config.size */
	r = vhost_user_rule_find(FE, VHOST_USER_SET_CONFIG);
	ck_assert_int_eq(vhost_user_build_config(&m, r->code, 0, 256, 0, NULL),
			 268);
	ck_assert_int_eq(vhost_user_check_request(&m, FE, ALL, NULL), 0);
	m.payload[4] = 1; /* config.size 257 (little or big: not 256) */
	m.payload[5] = 1;
	why = NULL;
	ck_assert_int_eq(vhost_user_check_request(&m, FE, ALL, &why), -EBADMSG);
	ck_assert_ptr_nonnull(why);
	m.hdr.size = 11; /* shorter than the config header */
	ck_assert_int_eq(vhost_user_check_request(&m, FE, ALL, &why), -EBADMSG);
}
END_TEST

START_TEST(test_version_and_reply_bit)
{
	static struct vhost_user_msg m;
	const struct vhost_user_rule *r;
	const char *why;
	uint32_t v;

	vhost_user_for_each_rule (r) {
		for (v = 0; v <= 3; v++) {
			if (v == VHOST_USER_VERSION)
				continue;
			build_valid(r, &m, ALL);
			m.hdr.flags = v;
			why = NULL;
			ck_assert_int_eq(
				vhost_user_check_request(&m, r->dir, ALL, &why),
				-EBADMSG);
			ck_assert_ptr_nonnull(why);
		}
		build_valid(r, &m, ALL);
		m.hdr.flags |= VHOST_USER_REPLY_MASK;
		why = NULL;
		ck_assert_int_eq(
			vhost_user_check_request(&m, r->dir, ALL, &why),
			-EBADMSG);
		ck_assert_ptr_nonnull(why);
	}
}
END_TEST

START_TEST(test_reserved_flags)
{
	static struct vhost_user_msg m;
	const char *why = NULL;

	vhost_user_build_vring_state(&m, VHOST_USER_SET_VRING_NUM, 0, 256);
	m.hdr.flags |= 1u << 4;
	ck_assert_int_eq(vhost_user_check_request(&m, FE, ALL, &why),
			 VHOST_USER_WARN_RESERVED_FLAGS);
	ck_assert_ptr_nonnull(why);
	m.hdr.flags = VHOST_USER_VERSION | 0x80000000u;
	why = NULL;
	ck_assert_int_eq(vhost_user_check_request(&m, FE, ALL, &why),
			 VHOST_USER_WARN_RESERVED_FLAGS);
	ck_assert_ptr_nonnull(why);

	/* deprecated request: its own warning */
	vhost_user_build_empty(&m, VHOST_USER_RESET_OWNER);
	why = NULL;
	ck_assert_int_eq(vhost_user_check_request(&m, FE, ALL, &why),
			 VHOST_USER_WARN_DEPRECATED);
	ck_assert_ptr_nonnull(why);
}
END_TEST

START_TEST(test_unknown_codes)
{
	static const uint32_t fe_bad[] = { 0, VHOST_USER_MAX, 1000,
					   UINT32_MAX };
	static const uint32_t be_bad[] = { 0, VHOST_USER_BACKEND_MAX, 22 };
	static struct vhost_user_msg m;
	const char *why;
	char line[128];
	size_t i;

	for (i = 0; i < ARRAY_SIZE(fe_bad); i++) {
		vhost_user_build_empty(&m, fe_bad[i]);
		why = NULL;
		ck_assert_int_eq(vhost_user_check_request(&m, FE, ALL, &why),
				 -ENOTSUP);
		ck_assert_ptr_nonnull(why);
		ck_assert_ptr_null(vhost_user_request_name(FE, fe_bad[i]));
	}
	for (i = 0; i < ARRAY_SIZE(be_bad); i++) {
		vhost_user_build_empty(&m, be_bad[i]);
		why = NULL;
		ck_assert_int_eq(vhost_user_check_request(&m, BE, ALL, &why),
				 -ENOTSUP);
		ck_assert_ptr_nonnull(why);
	}
	vhost_user_build_u64(&m, 44, 0xab);
	vhost_user_describe(&m, FE, line, sizeof(line));
	ck_assert_str_eq(line,
			 "UNKNOWN(44) flags=0x1 size=8 {ab00000000000000}");
}
END_TEST

START_TEST(test_fd_rules)
{
	static struct vhost_user_msg m;
	const uint64_t no_shmfd = ALL & ~BIT(LOG_SHMFD);
	const char *why;
	unsigned int n;

	/* SET_MEM_TABLE: one fd per region, at most 8 regions */
	build_regions(&m, VHOST_USER_SET_MEM_TABLE, false, 2);
	attach_fake_fds(&m, 1);
	why = NULL;
	ck_assert_int_eq(vhost_user_check_request(
				 &m, FE, no_shmfd & ~BIT(XEN_MMAP), &why),
			 -EBADMSG);
	ck_assert_ptr_nonnull(why);
	attach_fake_fds(&m, 3);
	ck_assert_int_eq(
		vhost_user_check_request(&m, FE, ALL & ~BIT(XEN_MMAP), &why),
		-EBADMSG);
	for (n = 0; n <= VHOST_USER_MAX_MEM_REGIONS; n++) {
		build_regions(&m, VHOST_USER_SET_MEM_TABLE, false, n);
		attach_fake_fds(&m, n);
		ck_assert_int_eq(vhost_user_check_request(
					 &m, FE, ALL & ~BIT(XEN_MMAP), NULL),
				 0);
	}
	/* nine regions claimed, with the size nine would take */
	build_regions(&m, VHOST_USER_SET_MEM_TABLE, false, 8);
	{
		uint32_t nine = 9;

		memcpy(m.payload, &nine, sizeof(nine)); /* nregions */
	}
	m.hdr.size = 8 + 9 * 32;
	attach_fake_fds(&m, 8);
	why = NULL;
	ck_assert_int_eq(
		vhost_user_check_request(&m, FE, ALL & ~BIT(XEN_MMAP), &why),
		-EBADMSG);
	ck_assert_ptr_nonnull(strstr(why, "9"));

	/* fds on a request that takes none */
	vhost_user_build_empty(&m, VHOST_USER_GET_FEATURES);
	attach_fake_fds(&m, 1);
	why = NULL;
	ck_assert_int_eq(vhost_user_check_request(&m, FE, ALL, &why), -EBADMSG);
	ck_assert_ptr_nonnull(why);

	/* NOFD bit with and without an fd */
	vhost_user_build_u64(&m, VHOST_USER_SET_VRING_KICK,
			     0 | VHOST_USER_VRING_NOFD_MASK);
	ck_assert_int_eq(vhost_user_check_request(&m, FE, ALL, NULL), 0);
	attach_fake_fds(&m, 1);
	why = NULL;
	ck_assert_int_eq(vhost_user_check_request(&m, FE, ALL, &why), -EBADMSG);
	ck_assert_ptr_nonnull(why);
	vhost_user_build_u64(&m, VHOST_USER_SET_VRING_CALL, 0);
	why = NULL;
	ck_assert_int_eq(vhost_user_check_request(&m, FE, ALL, &why), -EBADMSG);
	ck_assert_ptr_nonnull(why);
	attach_fake_fds(&m, 2);
	ck_assert_int_eq(vhost_user_check_request(&m, FE, ALL, &why), -EBADMSG);
	attach_fake_fds(&m, 1);
	ck_assert_int_eq(vhost_user_check_request(&m, FE, ALL, &why), 0);

	/* REM_MEM_REG: SHOULD have none, MAY be accepted with one */
	{
		struct vhost_user_mem_region reg = { .size = 0x1000 };

		vhost_user_build_mem_region(&m, VHOST_USER_REM_MEM_REG, &reg);
	}
	ck_assert_int_eq(
		vhost_user_check_request(&m, FE, ALL & ~BIT(XEN_MMAP), NULL),
		0);
	attach_fake_fds(&m, 1);
	why = NULL;
	ck_assert_int_eq(
		vhost_user_check_request(&m, FE, ALL & ~BIT(XEN_MMAP), &why),
		VHOST_USER_WARN_TOLERATED_FD);
	ck_assert_ptr_nonnull(why);
	attach_fake_fds(&m, 2);
	ck_assert_int_eq(
		vhost_user_check_request(&m, FE, ALL & ~BIT(XEN_MMAP), &why),
		-EBADMSG);

	/* SET_LOG_BASE: the fd comes with LOG_SHMFD, and only then */
	vhost_user_build_log(&m, VHOST_USER_SET_LOG_BASE, 0x1000, 0);
	ck_assert_int_eq(vhost_user_check_request(&m, FE, ALL, &why), -EBADMSG);
	ck_assert_int_eq(vhost_user_check_request(&m, FE, no_shmfd, NULL), 0);
	attach_fake_fds(&m, 1);
	ck_assert_int_eq(vhost_user_check_request(&m, FE, ALL, NULL), 0);
	ck_assert_int_eq(vhost_user_check_request(&m, FE, no_shmfd, &why),
			 -EBADMSG);

	/* back-end fds need BACKEND_SEND_FD */
	vhost_user_build_vring_area(
		&m, VHOST_USER_BACKEND_VRING_HOST_NOTIFIER_MSG, 0, 4096, 0);
	attach_fake_fds(&m, 1);
	ck_assert_int_eq(vhost_user_check_request(&m, BE, ALL, NULL), 0);
	why = NULL;
	ck_assert_int_eq(vhost_user_check_request(
				 &m, BE, ALL & ~BIT(BACKEND_SEND_FD), &why),
			 -EPROTO);
	ck_assert_ptr_nonnull(why);
	vhost_user_build_vring_area(&m,
				    VHOST_USER_BACKEND_VRING_HOST_NOTIFIER_MSG,
				    VHOST_USER_VRING_NOFD_MASK, 0, 0);
	ck_assert_int_eq(vhost_user_check_request(
				 &m, BE, ALL & ~BIT(BACKEND_SEND_FD), NULL),
			 0);

	/* an envelope claiming more fds than it has slots */
	vhost_user_build_empty(&m, VHOST_USER_GET_FEATURES);
	m.nfds = VHOST_USER_MAX_FDS + 1;
	why = NULL;
	ck_assert_int_eq(vhost_user_check_request(&m, FE, ALL, &why), -EINVAL);
	ck_assert_ptr_nonnull(why);
	ck_assert_int_eq(vhost_user_msg_attach_fds(&m, NULL, 9), -EINVAL);
}
END_TEST

START_TEST(test_feature_gating)
{
	static struct vhost_user_msg m;
	const struct vhost_user_rule *r;
	const char *why;
	unsigned int bit;
	int gated = 0;

	vhost_user_for_each_rule (r) {
		for (bit = 0; bit < VHOST_USER_PROTOCOL_F_MAX; bit++) {
			uint64_t neg = ALL & ~(UINT64_C(1) << bit);

			if (!(r->gate & (UINT64_C(1) << bit)))
				continue;
			build_valid(r, &m, ALL);
			why = NULL;
			ck_assert_msg(vhost_user_check_request(&m, r->dir, neg,
							       &why) == -EPROTO,
				      "%s without bit %u", r->name, bit);
			ck_assert_ptr_nonnull(why);
			ck_assert_msg(
				strstr(why, vhost_user_protocol_feature_name(
						    bit)) != NULL,
				"%s", why);
			gated++;
		}
	}
	ck_assert_int_ge(gated, 30);
}
END_TEST

START_TEST(test_need_reply_and_inband)
{
	static struct vhost_user_msg m;
	const uint64_t inband = BIT(INBAND_NOTIFICATIONS);
	const char *why = NULL;

	vhost_user_build_vring_state(&m, VHOST_USER_SET_VRING_NUM, 0, 256);
	m.hdr.flags |= VHOST_USER_NEED_REPLY_MASK;
	ck_assert_int_eq(vhost_user_check_request(&m, FE, ALL, NULL), 0);
	ck_assert_int_eq(
		vhost_user_check_request(&m, FE, ALL & ~BIT(REPLY_ACK), &why),
		VHOST_USER_WARN_NEED_REPLY_UNNEGOTIATED);
	ck_assert_ptr_nonnull(why);

	/* INBAND_NOTIFICATIONS without BACKEND_REQ and REPLY_ACK */
	ck_assert_int_eq(vhost_user_protocol_features_check(inband, &why),
			 -EPROTO);
	ck_assert_int_eq(vhost_user_protocol_features_check(
				 inband | BIT(BACKEND_REQ), &why),
			 -EPROTO);
	ck_assert_int_eq(vhost_user_protocol_features_check(
				 inband | BIT(REPLY_ACK), &why),
			 -EPROTO);
	ck_assert_int_eq(
		vhost_user_protocol_features_check(
			inband | BIT(REPLY_ACK) | BIT(BACKEND_REQ), NULL),
		0);
	ck_assert_int_eq(vhost_user_protocol_features_check(BIT(MQ), NULL), 0);
	vhost_user_build_u64(&m, VHOST_USER_SET_PROTOCOL_FEATURES,
			     inband | BIT(REPLY_ACK));
	why = NULL;
	ck_assert_int_eq(vhost_user_check_request(&m, FE, 0, &why), -EPROTO);
	ck_assert_ptr_nonnull(why);
	vhost_user_build_u64(&m, VHOST_USER_SET_PROTOCOL_FEATURES,
			     UINT64_C(1) << 40);
	ck_assert_int_eq(vhost_user_check_request(&m, FE, 0, NULL),
			 VHOST_USER_WARN_RESERVED_FIELD);
}
END_TEST

START_TEST(test_field_values)
{
	static struct vhost_user_msg m;
	struct vhost_user_iotlb io = { .iova = 0x1000, .size = 0x1000 };
	const char *why;

	/* IOTLB types belong to one direction each */
	io.type = VHOST_IOTLB_MISS;
	vhost_user_build_iotlb(&m, VHOST_USER_IOTLB_MSG, &io);
	why = NULL;
	ck_assert_int_eq(vhost_user_check_request(&m, FE, ALL, &why), -EBADMSG);
	ck_assert_ptr_nonnull(why);
	io.type = VHOST_IOTLB_INVALIDATE;
	vhost_user_build_iotlb(&m, VHOST_USER_IOTLB_MSG, &io);
	ck_assert_int_eq(vhost_user_check_request(&m, FE, ALL, NULL), 0);
	vhost_user_build_iotlb(&m, VHOST_USER_BACKEND_IOTLB_MSG, &io);
	ck_assert_int_eq(vhost_user_check_request(&m, BE, ALL, &why), -EBADMSG);
	io.type = VHOST_IOTLB_ACCESS_FAIL;
	io.perm = VHOST_ACCESS_WO;
	vhost_user_build_iotlb(&m, VHOST_USER_BACKEND_IOTLB_MSG, &io);
	ck_assert_int_eq(vhost_user_check_request(&m, BE, ALL, NULL), 0);
	io.perm = 4;
	vhost_user_build_iotlb(&m, VHOST_USER_BACKEND_IOTLB_MSG, &io);
	ck_assert_int_eq(vhost_user_check_request(&m, BE, ALL, &why), -EBADMSG);

	/* "Other values are invalid." */
	vhost_user_build_vring_state(&m, VHOST_USER_SET_VRING_ENDIAN, 0, 2);
	ck_assert_int_eq(vhost_user_check_request(&m, FE, ALL, &why), -EBADMSG);

	/* device state direction and phase */
	vhost_user_build_device_state(&m, VHOST_USER_SET_DEVICE_STATE_FD, 2, 0);
	attach_fake_fds(&m, 1);
	ck_assert_int_eq(vhost_user_check_request(&m, FE, ALL, &why), -EBADMSG);
	vhost_user_build_device_state(&m, VHOST_USER_SET_DEVICE_STATE_FD, 1, 1);
	attach_fake_fds(&m, 1);
	ck_assert_int_eq(vhost_user_check_request(&m, FE, ALL, &why), -EBADMSG);

	/* reserved fields: warnings */
	vhost_user_build_vring_state(&m, VHOST_USER_GET_VRING_BASE, 0, 1);
	ck_assert_int_eq(vhost_user_check_request(&m, FE, ALL, NULL),
			 VHOST_USER_WARN_RESERVED_FIELD);
	vhost_user_build_vring_state(&m, VHOST_USER_BACKEND_VRING_CALL, 0, 1);
	ck_assert_int_eq(vhost_user_check_request(&m, BE, ALL, NULL),
			 VHOST_USER_WARN_RESERVED_FIELD);
	vhost_user_build_u64(&m, VHOST_USER_SET_VRING_ERR,
			     (UINT64_C(1) << 20) | VHOST_USER_VRING_NOFD_MASK);
	ck_assert_int_eq(vhost_user_check_request(&m, FE, ALL, NULL),
			 VHOST_USER_WARN_RESERVED_FIELD);
	vhost_user_build_config(&m, VHOST_USER_SET_CONFIG, 0, 1, 2, NULL);
	ck_assert_int_eq(vhost_user_check_request(&m, FE, ALL, NULL),
			 VHOST_USER_WARN_RESERVED_FIELD);
	{
		struct vhost_user_vring_addr a = { .flags = 0x2 };

		vhost_user_build_vring_addr(&m, VHOST_USER_SET_VRING_ADDR, &a);
		ck_assert_int_eq(vhost_user_check_request(&m, FE, ALL, NULL),
				 VHOST_USER_WARN_RESERVED_FIELD);
	}
	build_regions(&m, VHOST_USER_SET_MEM_TABLE, true, 1);
	attach_fake_fds(&m, 1);
	ck_assert_int_eq(vhost_user_check_request(&m, FE, ALL, NULL), 0);
	m.payload[4] = 1; /* padding */
	ck_assert_int_eq(vhost_user_check_request(&m, FE, ALL, NULL),
			 VHOST_USER_WARN_RESERVED_FIELD);
	m.payload[4] = 0;
	m.payload[8 + 32] |= 0x3; /* foreign and grant at once */
	ck_assert_int_eq(vhost_user_check_request(&m, FE, ALL, NULL),
			 VHOST_USER_WARN_RESERVED_FIELD);
}
END_TEST

/* ---- replies ---- */

START_TEST(test_check_reply)
{
	static struct vhost_user_msg req, rep;
	const char *why;

	/* the ack of an ack-only request */
	vhost_user_build_vring_state(&req, VHOST_USER_SET_VRING_NUM, 0, 256);
	req.hdr.flags |= VHOST_USER_NEED_REPLY_MASK;
	vhost_user_build_ack(&rep, VHOST_USER_SET_VRING_NUM, 0);
	ck_assert_int_eq(vhost_user_check_reply(FE, &req.hdr, &rep, NULL), 0);
	rep.hdr.size = 4;
	why = NULL;
	ck_assert_int_eq(vhost_user_check_reply(FE, &req.hdr, &rep, &why),
			 -EBADMSG);
	ck_assert_ptr_nonnull(why);

	/* GET_FEATURES: u64, the code, the flags */
	vhost_user_build_empty(&req, VHOST_USER_GET_FEATURES);
	vhost_user_build_u64(&rep, VHOST_USER_GET_FEATURES, 1ULL << 30);
	why = NULL;
	ck_assert_int_eq(vhost_user_check_reply(FE, &req.hdr, &rep, &why),
			 -EBADMSG); /* no reply flag */
	ck_assert_ptr_nonnull(why);
	vhost_user_make_reply(&rep);
	ck_assert_int_eq(vhost_user_check_reply(FE, &req.hdr, &rep, NULL), 0);
	rep.hdr.size = 16;
	ck_assert_int_eq(vhost_user_check_reply(FE, &req.hdr, &rep, &why),
			 -EBADMSG);
	rep.hdr.size = 8;
	rep.hdr.flags |= VHOST_USER_NEED_REPLY_MASK;
	why = NULL;
	ck_assert_int_eq(vhost_user_check_reply(FE, &req.hdr, &rep, &why),
			 VHOST_USER_WARN_NEED_REPLY_ON_REPLY);
	ck_assert_ptr_nonnull(why);
	rep.hdr.flags = VHOST_USER_REPLY_MASK; /* version 0 */
	ck_assert_int_eq(vhost_user_check_reply(FE, &req.hdr, &rep, &why),
			 -EBADMSG);
	rep.hdr.flags = VHOST_USER_REPLY_MASK | VHOST_USER_VERSION | 0x100;
	why = NULL;
	ck_assert_int_eq(vhost_user_check_reply(FE, &req.hdr, &rep, &why),
			 VHOST_USER_WARN_RESERVED_FLAGS);
	ck_assert_ptr_nonnull(why);
	rep.hdr.flags = VHOST_USER_REPLY_MASK | VHOST_USER_VERSION;
	rep.hdr.request = VHOST_USER_GET_PROTOCOL_FEATURES;
	why = NULL;
	ck_assert_int_eq(vhost_user_check_reply(FE, &req.hdr, &rep, &why),
			 -EPROTO);
	ck_assert_ptr_nonnull(why);
	rep.hdr.request = VHOST_USER_GET_FEATURES;
	attach_fake_fds(&rep, 1);
	ck_assert_int_eq(vhost_user_check_reply(FE, &req.hdr, &rep, &why),
			 -EBADMSG);
	req.hdr.request = 99;
	ck_assert_int_eq(vhost_user_check_reply(FE, &req.hdr, &rep, &why),
			 -ENOTSUP);

	/* GET_INFLIGHT_FD: one fd unless mmap_size is 0 */
	vhost_user_build_inflight(&req, VHOST_USER_GET_INFLIGHT_FD, 0, 0, 2,
				  256);
	vhost_user_build_inflight(&rep, VHOST_USER_GET_INFLIGHT_FD, 0x1000, 0,
				  2, 256);
	vhost_user_make_reply(&rep);
	why = NULL;
	ck_assert_int_eq(vhost_user_check_reply(FE, &req.hdr, &rep, &why),
			 -EBADMSG);
	ck_assert_ptr_nonnull(why);
	attach_fake_fds(&rep, 1);
	ck_assert_int_eq(vhost_user_check_reply(FE, &req.hdr, &rep, NULL), 0);
	vhost_user_build_inflight(&rep, VHOST_USER_GET_INFLIGHT_FD, 0, 0, 0, 0);
	vhost_user_make_reply(&rep);
	ck_assert_int_eq(vhost_user_check_reply(FE, &req.hdr, &rep, NULL), 0);
	attach_fake_fds(&rep, 1); /* "no buffer", yet an fd */
	why = NULL;
	ck_assert_int_eq(vhost_user_check_reply(FE, &req.hdr, &rep, &why),
			 -EBADMSG);
	ck_assert_ptr_nonnull(why);
	attach_fake_fds(&rep, 0);
	rep.hdr.size = 20; /* fields without the tail padding */
	ck_assert_int_eq(vhost_user_check_reply(FE, &req.hdr, &rep, &why),
			 -EBADMSG);

	/* GET_CONFIG: the request's size, or empty for an error */
	vhost_user_build_config(&req, VHOST_USER_GET_CONFIG, 0, 8, 0, NULL);
	vhost_user_build_config(&rep, VHOST_USER_GET_CONFIG, 0, 8, 0,
				"abcdefgh");
	vhost_user_make_reply(&rep);
	ck_assert_int_eq(vhost_user_check_reply(FE, &req.hdr, &rep, NULL), 0);
	vhost_user_build_config(&rep, VHOST_USER_GET_CONFIG, 0, 4, 0, NULL);
	vhost_user_make_reply(&rep);
	ck_assert_int_eq(vhost_user_check_reply(FE, &req.hdr, &rep, &why),
			 -EBADMSG);
	rep.hdr.size = 20; /* right size, inner size still 4 */
	ck_assert_int_eq(vhost_user_check_reply(FE, &req.hdr, &rep, &why),
			 -EBADMSG);
	vhost_user_build_empty(&rep, VHOST_USER_GET_CONFIG);
	vhost_user_make_reply(&rep);
	ck_assert_int_eq(vhost_user_check_reply(FE, &req.hdr, &rep, NULL), 0);

	/* SET_DEVICE_STATE_FD: fd iff no NOFD bit; never with an error */
	vhost_user_build_device_state(&req, VHOST_USER_SET_DEVICE_STATE_FD, 0,
				      0);
	vhost_user_build_ack(&rep, VHOST_USER_SET_DEVICE_STATE_FD, 0);
	attach_fake_fds(&rep, 1);
	ck_assert_int_eq(vhost_user_check_reply(FE, &req.hdr, &rep, NULL), 0);
	vhost_user_build_ack(&rep, VHOST_USER_SET_DEVICE_STATE_FD,
			     VHOST_USER_VRING_NOFD_MASK);
	ck_assert_int_eq(vhost_user_check_reply(FE, &req.hdr, &rep, NULL), 0);
	attach_fake_fds(&rep, 1);
	ck_assert_int_eq(vhost_user_check_reply(FE, &req.hdr, &rep, &why),
			 -EBADMSG);
	vhost_user_build_ack(&rep, VHOST_USER_SET_DEVICE_STATE_FD, 1);
	attach_fake_fds(&rep, 1);
	why = NULL;
	ck_assert_int_eq(vhost_user_check_reply(FE, &req.hdr, &rep, &why),
			 -EBADMSG);
	ck_assert_ptr_nonnull(strstr(why, "error"));

	/* POSTCOPY_ADVISE: empty, with the userfaultfd */
	vhost_user_build_empty(&req, VHOST_USER_POSTCOPY_ADVISE);
	vhost_user_build_empty(&rep, VHOST_USER_POSTCOPY_ADVISE);
	vhost_user_make_reply(&rep);
	ck_assert_int_eq(vhost_user_check_reply(FE, &req.hdr, &rep, &why),
			 -EBADMSG);
	attach_fake_fds(&rep, 1);
	ck_assert_int_eq(vhost_user_check_reply(FE, &req.hdr, &rep, NULL), 0);
	rep.hdr.size = 8;
	ck_assert_int_eq(vhost_user_check_reply(FE, &req.hdr, &rep, &why),
			 -EBADMSG);

	/* SET_LOG_BASE: u64 or empty */
	vhost_user_build_log(&req, VHOST_USER_SET_LOG_BASE, 0x1000, 0);
	vhost_user_build_empty(&rep, VHOST_USER_SET_LOG_BASE);
	vhost_user_make_reply(&rep);
	ck_assert_int_eq(vhost_user_check_reply(FE, &req.hdr, &rep, NULL), 0);
	vhost_user_build_ack(&rep, VHOST_USER_SET_LOG_BASE, 0);
	ck_assert_int_eq(vhost_user_check_reply(FE, &req.hdr, &rep, NULL), 0);
	rep.hdr.size = 4;
	ck_assert_int_eq(vhost_user_check_reply(FE, &req.hdr, &rep, &why),
			 -EBADMSG);

	/* postcopy: SET_MEM_TABLE answered with the table itself */
	build_regions(&req, VHOST_USER_SET_MEM_TABLE, false, 2);
	build_regions(&rep, VHOST_USER_SET_MEM_TABLE, false, 2);
	vhost_user_make_reply(&rep);
	ck_assert_int_eq(vhost_user_check_reply(FE, &req.hdr, &rep, NULL), 0);
	rep.hdr.size = req.hdr.size - 1;
	ck_assert_int_eq(vhost_user_check_reply(FE, &req.hdr, &rep, &why),
			 -EBADMSG);

	/* back-end LOOKUP: fd only on success */
	vhost_user_build_shared(&req, VHOST_USER_BACKEND_SHARED_OBJECT_LOOKUP,
				test_uuid);
	vhost_user_build_ack(&rep, VHOST_USER_BACKEND_SHARED_OBJECT_LOOKUP, 0);
	attach_fake_fds(&rep, 1);
	ck_assert_int_eq(vhost_user_check_reply(BE, &req.hdr, &rep, NULL), 0);
	vhost_user_build_ack(&rep, VHOST_USER_BACKEND_SHARED_OBJECT_LOOKUP,
			     (uint64_t)-EINVAL);
	ck_assert_int_eq(vhost_user_check_reply(BE, &req.hdr, &rep, NULL), 0);
	attach_fake_fds(&rep, 1);
	why = NULL;
	ck_assert_int_eq(vhost_user_check_reply(BE, &req.hdr, &rep, &why),
			 -EBADMSG);
	ck_assert_ptr_nonnull(why);

	/* GET_VRING_BASE: vring state, 8 bytes */
	vhost_user_build_vring_state(&req, VHOST_USER_GET_VRING_BASE, 0, 0);
	vhost_user_build_vring_state(&rep, VHOST_USER_GET_VRING_BASE, 0, 17);
	vhost_user_make_reply(&rep);
	ck_assert_int_eq(vhost_user_check_reply(FE, &req.hdr, &rep, NULL), 0);
	rep.hdr.size = 4;
	ck_assert_int_eq(vhost_user_check_reply(FE, &req.hdr, &rep, &why),
			 -EBADMSG);
}
END_TEST

START_TEST(test_reply_expected)
{
	struct vhost_user_hdr h = { .flags = VHOST_USER_VERSION };

	h.request = VHOST_USER_GET_FEATURES;
	ck_assert_int_eq(vhost_user_reply_expected(FE, &h, 0), 1);
	h.request = VHOST_USER_SET_VRING_NUM;
	ck_assert_int_eq(vhost_user_reply_expected(FE, &h, ALL), 0);
	h.flags |= VHOST_USER_NEED_REPLY_MASK;
	ck_assert_int_eq(vhost_user_reply_expected(FE, &h, ALL), 1);
	ck_assert_int_eq(
		vhost_user_reply_expected(FE, &h, ALL & ~BIT(REPLY_ACK)), 0);
	h.flags = VHOST_USER_VERSION;
	h.request = VHOST_USER_SET_LOG_BASE;
	ck_assert_int_eq(vhost_user_reply_expected(FE, &h, BIT(LOG_SHMFD)), 1);
	ck_assert_int_eq(vhost_user_reply_expected(FE, &h, BIT(REPLY_ACK)), 0);
	h.flags |= VHOST_USER_NEED_REPLY_MASK;
	ck_assert_int_eq(vhost_user_reply_expected(FE, &h, BIT(REPLY_ACK)), 1);
	h.request = VHOST_USER_BACKEND_SHARED_OBJECT_LOOKUP;
	ck_assert_int_eq(vhost_user_reply_expected(BE, &h, 0), 1);
	h.request = 77;
	ck_assert_int_eq(vhost_user_reply_expected(BE, &h, 0), -ENOTSUP);
}
END_TEST

/* ---- builders and getters ---- */

START_TEST(test_getters)
{
	static struct vhost_user_msg m;
	struct vhost_user_vring_state s;
	struct vhost_user_vring_addr a, a2 = { 3, 1, 16, 32, 48, 64 };
	struct vhost_user_mem_table t;
	struct vhost_user_mem_table_xen tx;
	struct vhost_user_single_mem_region sr;
	struct vhost_user_single_mem_region_xen srx;
	struct vhost_user_mem_region reg = { 1, 2, 3, 4 };
	struct vhost_user_mem_region_xen regx = { 1, 2, 3, 4, 5, 6 };
	struct vhost_user_log l;
	struct vhost_user_iotlb io,
		io2 = { 1, 2, 3, VHOST_ACCESS_RW, VHOST_IOTLB_UPDATE, { 0 } };
	struct vhost_user_config c;
	struct vhost_user_vring_area ar;
	struct vhost_user_inflight in;
	struct vhost_user_shared sh;
	struct vhost_user_device_state ds;
	const char *why;
	uint64_t v;

	vhost_user_build_u64(&m, VHOST_USER_SET_FEATURES, 42);
	ck_assert_int_eq(vhost_user_get_u64(&m, &v, NULL), 0);
	ck_assert_uint_eq(v, 42);
	m.hdr.size = 7;
	why = NULL;
	ck_assert_int_eq(vhost_user_get_u64(&m, &v, &why), -EBADMSG);
	ck_assert_ptr_nonnull(why);
	ck_assert_int_eq(vhost_user_get_vring_state(&m, &s, &why), -EBADMSG);

	vhost_user_build_vring_state(&m, VHOST_USER_SET_VRING_NUM, 5, 128);
	ck_assert_int_eq(vhost_user_get_vring_state(&m, &s, NULL), 0);
	ck_assert_uint_eq(s.index, 5);
	ck_assert_uint_eq(s.num, 128);

	vhost_user_build_vring_addr(&m, VHOST_USER_SET_VRING_ADDR, &a2);
	ck_assert_int_eq(vhost_user_get_vring_addr(&m, &a, NULL), 0);
	ck_assert_mem_eq(&a, &a2, sizeof(a));

	vhost_user_build_mem_table(&m, VHOST_USER_SET_MEM_TABLE, &reg, 1);
	ck_assert_int_eq(vhost_user_get_mem_table(&m, &t, NULL), 0);
	ck_assert_uint_eq(t.nregions, 1);
	ck_assert_mem_eq(&t.regions[0], &reg, sizeof(reg));
	ck_assert_uint_eq(t.regions[1].size, 0);
	ck_assert_int_eq(vhost_user_get_mem_table_xen(&m, &tx, &why), -EBADMSG);
	m.payload[0] = 9;
	ck_assert_int_eq(vhost_user_get_mem_table(&m, &t, &why), -EBADMSG);
	m.hdr.size = 4;
	ck_assert_int_eq(vhost_user_get_mem_table(&m, &t, &why), -EBADMSG);
	vhost_user_build_mem_table_xen(&m, VHOST_USER_SET_MEM_TABLE, &regx, 1);
	ck_assert_int_eq(vhost_user_get_mem_table_xen(&m, &tx, NULL), 0);
	ck_assert_uint_eq(tx.regions[0].domid, 6);

	vhost_user_build_mem_region(&m, VHOST_USER_ADD_MEM_REG, &reg);
	ck_assert_int_eq(vhost_user_get_mem_region(&m, &sr, NULL), 0);
	ck_assert_uint_eq(sr.region.mmap_offset, 4);
	ck_assert_int_eq(vhost_user_get_mem_region_xen(&m, &srx, &why),
			 -EBADMSG);
	vhost_user_build_mem_region_xen(&m, VHOST_USER_ADD_MEM_REG, &regx);
	ck_assert_int_eq(vhost_user_get_mem_region_xen(&m, &srx, NULL), 0);
	ck_assert_uint_eq(srx.region.xen_mmap_flags, 5);

	vhost_user_build_log(&m, VHOST_USER_SET_LOG_BASE, 0x1000, 0x20);
	ck_assert_int_eq(vhost_user_get_log(&m, &l, NULL), 0);
	ck_assert_uint_eq(l.mmap_offset, 0x20);

	vhost_user_build_iotlb(&m, VHOST_USER_IOTLB_MSG, &io2);
	ck_assert_uint_eq(m.hdr.size, 32);
	ck_assert_int_eq(vhost_user_get_iotlb(&m, &io, NULL), 0);
	ck_assert_uint_eq(io.type, VHOST_IOTLB_UPDATE);
	m.hdr.size = 26; /* the packed field sum: not what peers send */
	ck_assert_int_eq(vhost_user_get_iotlb(&m, &io, &why), -EBADMSG);

	vhost_user_build_config(&m, VHOST_USER_SET_CONFIG, 4, 3, 1, "xyz");
	ck_assert_int_eq(vhost_user_get_config(&m, &c, NULL), 0);
	ck_assert_uint_eq(c.offset, 4);
	ck_assert_uint_eq(c.size, 3);
	ck_assert_mem_eq(c.data, "xyz", 3);
	ck_assert_uint_eq(c.data[3], 0);
	m.hdr.size = 16;
	ck_assert_int_eq(vhost_user_get_config(&m, &c, &why), -EBADMSG);

	vhost_user_build_vring_area(&m, 3, 2, 4096, 8);
	ck_assert_int_eq(vhost_user_get_vring_area(&m, &ar, NULL), 0);
	ck_assert_uint_eq(ar.offset, 8);

	vhost_user_build_inflight(&m, VHOST_USER_SET_INFLIGHT_FD, 1, 2, 3, 4);
	ck_assert_uint_eq(m.hdr.size, 24);
	ck_assert_int_eq(vhost_user_get_inflight(&m, &in, NULL), 0);
	ck_assert_uint_eq(in.num_queues, 3);
	ck_assert_uint_eq(in.queue_size, 4);

	vhost_user_build_shared(&m, VHOST_USER_GET_SHARED_OBJECT, test_uuid);
	ck_assert_int_eq(vhost_user_get_shared(&m, &sh, NULL), 0);
	ck_assert_mem_eq(sh.uuid, test_uuid, 16);

	vhost_user_build_device_state(&m, VHOST_USER_SET_DEVICE_STATE_FD, 1, 0);
	ck_assert_int_eq(vhost_user_get_device_state(&m, &ds, NULL), 0);
	ck_assert_uint_eq(ds.direction, 1);
	m.hdr.size = 0;
	ck_assert_int_eq(vhost_user_get_device_state(&m, &ds, &why), -EBADMSG);

	/* builders refuse what does not fit */
	ck_assert_int_eq(vhost_user_build_mem_table(&m, 5, &reg, 9), -EINVAL);
	ck_assert_int_eq(vhost_user_build_mem_table_xen(&m, 5, &regx, 9),
			 -EINVAL);
	ck_assert_int_eq(vhost_user_build_config(&m, 25, 0, 257, 0, NULL),
			 -EINVAL);
	ck_assert_int_eq(
		vhost_user_build_raw(&m, 26, NULL, VHOST_USER_PAYLOAD_MAX + 1),
		-EINVAL);
	ck_assert_int_eq(
		vhost_user_build_raw(&m, 26, NULL, VHOST_USER_PAYLOAD_MAX),
		(int)VHOST_USER_PAYLOAD_MAX);
}
END_TEST

START_TEST(test_packed_base)
{
	struct vhost_user_packed_base b = { .avail_idx = 0x1234,
					    .avail_wrap = true,
					    .used_idx = 0x7fff,
					    .used_wrap = false },
				      b2;
	uint32_t num = vhost_user_packed_base_pack(&b);

	ck_assert_uint_eq(num, 0x1234u | 1u << 15 | 0x7fffu << 16);
	vhost_user_packed_base_unpack(num, &b2);
	ck_assert_uint_eq(b2.avail_idx, 0x1234);
	ck_assert(b2.avail_wrap);
	ck_assert_uint_eq(b2.used_idx, 0x7fff);
	ck_assert(!b2.used_wrap);

	vhost_user_packed_base_unpack(0x80000000u, &b2);
	ck_assert(b2.used_wrap);
	ck_assert(!b2.avail_wrap);
	ck_assert_uint_eq(b2.avail_idx, 0);
	ck_assert_uint_eq(b2.used_idx, 0);

	/* 15-bit fields: a 16th bit does not leak into the wrap counter */
	b.avail_idx = 0xffff;
	b.avail_wrap = false;
	b.used_idx = 0;
	ck_assert_uint_eq(vhost_user_packed_base_pack(&b), 0x7fff);
}
END_TEST

/* ---- traces ---- */

START_TEST(test_describe_examples)
{
	static struct vhost_user_msg m;
	char line[256];
	int len;

	vhost_user_build_vring_state(&m, VHOST_USER_SET_VRING_NUM, 0, 256);
	len = vhost_user_describe(&m, FE, line, sizeof(line));
	ck_assert_str_eq(line, "VHOST_USER_SET_VRING_NUM flags=0x1 size=8 "
			       "{index=0 num=256}");
	ck_assert_int_eq(len, (int)strlen(line));
	ck_assert_int_eq(vhost_user_describe(&m, FE, NULL, 0), len);
	ck_assert_int_eq(vhost_user_describe(&m, FE, NULL, 64), len);

	vhost_user_build_u64(&m, VHOST_USER_SET_VRING_KICK,
			     3 | VHOST_USER_VRING_NOFD_MASK);
	vhost_user_describe(&m, FE, line, sizeof(line));
	ck_assert_str_eq(line, "VHOST_USER_SET_VRING_KICK flags=0x1 size=8 "
			       "{index=3 nofd}");
	vhost_user_build_u64(&m, VHOST_USER_SET_VRING_CALL, 2);
	attach_fake_fds(&m, 1);
	vhost_user_describe(&m, FE, line, sizeof(line));
	ck_assert_str_eq(line, "VHOST_USER_SET_VRING_CALL flags=0x1 size=8 "
			       "{index=2} fds=1");

	vhost_user_build_u64(&m, VHOST_USER_SET_PROTOCOL_FEATURES,
			     BIT(MQ) | BIT(REPLY_ACK));
	vhost_user_describe(&m, FE, line, sizeof(line));
	ck_assert_str_eq(line,
			 "VHOST_USER_SET_PROTOCOL_FEATURES flags=0x1 size=8 "
			 "{u64=0x9 MQ|REPLY_ACK}");

	vhost_user_build_ack(&m, VHOST_USER_SET_VRING_NUM, 0);
	vhost_user_describe(&m, FE, line, sizeof(line));
	ck_assert_str_eq(line,
			 "VHOST_USER_SET_VRING_NUM flags=0x5 size=8 {ack=0}");

	vhost_user_build_vring_state(&m, VHOST_USER_SET_VRING_NUM, 0, 256);
	m.hdr.size = 4;
	vhost_user_describe(&m, FE, line, sizeof(line));
	ck_assert_str_eq(line,
			 "VHOST_USER_SET_VRING_NUM flags=0x1 size=4 malformed: "
			 "payload size 4 is not the 8 bytes "
			 "VHOST_USER_SET_VRING_NUM takes");

	vhost_user_build_device_state(&m, VHOST_USER_SET_DEVICE_STATE_FD, 1, 0);
	vhost_user_describe(&m, FE, line, sizeof(line));
	ck_assert_ptr_nonnull(strstr(line, "{direction=load phase=stopped}"));

	{
		struct vhost_user_iotlb io = {
			0x1000,		 0x2000,	   0x3000,
			VHOST_ACCESS_RO, VHOST_IOTLB_MISS, { 0 }
		};

		vhost_user_build_iotlb(&m, VHOST_USER_BACKEND_IOTLB_MSG, &io);
		vhost_user_describe(&m, BE, line, sizeof(line));
		ck_assert_str_eq(line, "VHOST_USER_BACKEND_IOTLB_MSG flags=0x1 "
				       "size=32 {iova=0x1000 size=0x2000 "
				       "uaddr=0x3000 perm=ro type=miss}");
	}
}
END_TEST

START_TEST(test_describe_every_request_and_small_buffers)
{
	static struct vhost_user_msg m;
	static const size_t caps[] = { 1, 8, 16 };
	const struct vhost_user_rule *r;
	char full[512], small[64];
	size_t i, j;
	int len;

	vhost_user_for_each_rule (r) {
		uint32_t bad;

		build_valid(r, &m, ALL);
		len = vhost_user_describe(&m, r->dir, full, sizeof(full));
		ck_assert_int_eq(len, (int)strlen(full));
		for (i = 0; i < ARRAY_SIZE(caps); i++) {
			memset(small, 0xaa, sizeof(small));
			ck_assert_int_eq(
				vhost_user_describe(&m, r->dir, small, caps[i]),
				len);
			ck_assert_uint_lt(strnlen(small, caps[i]), caps[i]);
			ck_assert(strncmp(small, full, caps[i] - 1) == 0);
			for (j = caps[i]; j < sizeof(small); j++)
				ck_assert_uint_eq((uint8_t)small[j], 0xaa);
		}

		/* malformed: a size no rule of this request takes */
		bad = r->layout == VHOST_USER_LAYOUT_EMPTY  ? 3
		      : r->size_rule == VHOST_USER_SIZE_MIN ? r->size - 1
							    : 1;
		m.hdr.size = bad;
		vhost_user_describe(&m, r->dir, full, sizeof(full));
		ck_assert_msg(strstr(full, " malformed: ") != NULL, "%s", full);
		for (i = 0; i < ARRAY_SIZE(caps); i++) {
			memset(small, 0xaa, sizeof(small));
			vhost_user_describe(&m, r->dir, small, caps[i]);
			ck_assert_uint_lt(strnlen(small, caps[i]), caps[i]);
			for (j = caps[i]; j < sizeof(small); j++)
				ck_assert_uint_eq((uint8_t)small[j], 0xaa);
		}
	}
}
END_TEST

/* rule_find() indexes the table: it must find what a search finds. */
START_TEST(test_rule_find_index)
{
	const struct vhost_user_rule *r, *found;
	uint32_t code;
	int d;

	vhost_user_for_each_rule (r)
		ck_assert_ptr_eq(vhost_user_rule_find(r->dir, r->code), r);
	for (d = 0; d < 2; d++) {
		enum vhost_user_dir dir = d ? BE : FE;

		for (code = 0; code < 80; code++) {
			found = NULL;
			vhost_user_for_each_rule (r)
				if (r->dir == dir && r->code == code)
					found = r;
			ck_assert_ptr_eq(vhost_user_rule_find(dir, code),
					 found);
		}
		ck_assert_ptr_null(vhost_user_rule_find(dir, UINT32_MAX));
		ck_assert_ptr_null(vhost_user_rule_find(dir, 0x80000001u));
	}
	ck_assert_ptr_null(vhost_user_rule_find((enum vhost_user_dir)7, 1));
}
END_TEST

/*
 * wire_fmt() writes what snprintf() writes and returns what it returns,
 * at every buffer size, for the conversions it does itself and for those
 * it hands over.
 */
static int VUC_PRINTF(3, 4) ref_fmt(char *buf, size_t cap, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, cap, fmt, ap);
	va_end(ap);
	return n;
}

#define FMT_SAME(...)                                                      \
	do {                                                               \
		char want[96], got[96];                                    \
		size_t cap;                                                \
		int nw, ng;                                                \
                                                                           \
		nw = ref_fmt(want, sizeof(want), __VA_ARGS__);             \
		ng = wire_fmt(got, sizeof(got), __VA_ARGS__);              \
		ck_assert_int_eq(ng, nw);                                  \
		ck_assert_str_eq(got, want);                               \
		for (cap = 0; cap < 12; cap++) {                           \
			memset(want, 0x5a, sizeof(want));                  \
			memset(got, 0x5a, sizeof(got));                    \
			nw = ref_fmt(cap ? want : NULL, cap, __VA_ARGS__); \
			ng = wire_fmt(cap ? got : NULL, cap, __VA_ARGS__); \
			ck_assert_int_eq(ng, nw);                          \
			ck_assert_mem_eq(got, want, sizeof(got));          \
		}                                                          \
	} while (0)

START_TEST(test_wire_fmt)
{
	volatile unsigned int wide = 0x1abcdu;
	volatile int swide = 0x18081; /* negative once narrowed */
	const char *null = NULL;

	FMT_SAME("plain text, no conversion");
	FMT_SAME("%%");
	FMT_SAME("%d %d %d %i", 0, -1, INT32_MIN, INT32_MAX);
	FMT_SAME("%u %x %X %#x %#x %08x %#010x", 0u, 0xdeadbeefu, 0xabcu, 0u,
		 0x1fu, 0x12u, 0x34u);
	FMT_SAME("%02x%02x%2x|%5u|%05d|%5d", 0u, 0xffu, 3u, 42u, -42, -7);
	FMT_SAME("%hhu %hhx %hu %hd %hhd", (unsigned char)wide,
		 (unsigned char)wide, (unsigned short)wide, (short)swide,
		 (signed char)swide);
	FMT_SAME("%lu %ld %llx %lld %llu", (unsigned long)UINT64_MAX, -5L,
		 0x0123456789abcdefULL, (long long)INT64_MIN,
		 (unsigned long long)UINT64_MAX);
	FMT_SAME("%" PRIu32 " %" PRIx32 " %" PRIu64 " 0x%" PRIx64, UINT32_MAX,
		 0xcafeu, UINT64_MAX, (uint64_t)0x8000000000000000ULL);
	FMT_SAME("%zu %zx %jd %ju %td %tu", (size_t)SIZE_MAX, (size_t)0x10,
		 (intmax_t)-9, (uintmax_t)9, (ptrdiff_t)-3, (ptrdiff_t)3);
	FMT_SAME("%s|%10s|%3s|%s", "abc", "right", "longer", "");
	FMT_SAME("[%c%c] %3c", (char)'a', (char)'Z', (char)'q');
	/* handed to vsnprintf() */
	FMT_SAME("%-6s|%.2s|%+d|% d|%*d|%p|%.3u", "ab", "abcdef", 5, 6, 4, 7,
		 (const void *)null, 1u);
	FMT_SAME("%-#8x|%lld", 0x10u, -1LL);
	FMT_SAME("%5.1f %%", 2.25);
}
END_TEST

static Suite *wire_vhost_user_suite(void)
{
	Suite *s = suite_create("wire_vhost_user");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, fd_setup, fd_teardown);
	tcase_add_test(tc, test_table_complete);
	tcase_add_test(tc, test_table_facts);
	tcase_add_test(tc, test_rule_find_index);
	tcase_add_test(tc, test_wire_fmt);
	tcase_add_test(tc, test_protocol_feature_names);
	tcase_add_test(tc, test_round_trip_every_request);
	tcase_add_test(tc, test_truncated_prefixes);
	tcase_add_test(tc, test_oversized);
	tcase_add_test(tc, test_pack_raw_and_lies);
	tcase_add_test(tc, test_size_off_by_one);
	tcase_add_test(tc, test_version_and_reply_bit);
	tcase_add_test(tc, test_reserved_flags);
	tcase_add_test(tc, test_unknown_codes);
	tcase_add_test(tc, test_fd_rules);
	tcase_add_test(tc, test_feature_gating);
	tcase_add_test(tc, test_need_reply_and_inband);
	tcase_add_test(tc, test_field_values);
	tcase_add_test(tc, test_check_reply);
	tcase_add_test(tc, test_reply_expected);
	tcase_add_test(tc, test_getters);
	tcase_add_test(tc, test_packed_base);
	tcase_add_test(tc, test_describe_examples);
	tcase_add_test(tc, test_describe_every_request_and_small_buffers);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(wire_vhost_user_suite());
}
