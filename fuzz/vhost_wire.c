// SPDX-License-Identifier: MIT
/*
 * vhost_wire.c - fuzz the vhost-user wire layer (harness/wire/vhost_user.h):
 * parse, the rule-table checks, the getters, describe and pack.
 *
 * Input: byte 0 selects the direction (bit 0: back-end requests) and how
 * many fds "came" (bits 1-4, up to 15: only counted, never touched),
 * bits 5-7 with the top 4 bits of the features pick a getter (below);
 * bytes 1-8 the protocol features in force (u64); the rest is a message
 * and, after it, the peer's reply to it.
 *
 * Oracles: nothing reads past its input (ASan, exact-size heap copies);
 * parse consumes what the header says and pack gives the same bytes
 * back; every refusal names its rule (why != NULL); describe writes a
 * NUL-terminated line no longer than the buffer; check_request and
 * expected_size agree on well-formed sizes.
 */
#include <assert.h>
#include <stdbool.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "wire/vhost_user.h"

/*
 * Most getters check one thing, the payload size against their struct
 * (get_exact()): on any other size each refuses at that one check, the
 * same code for all. So each input runs the getters whose size it has,
 * the two with logic of their own (tables, config) always, and one other
 * picked by @pick (which the input chooses): every refusal path is still
 * reached, at a fraction of the formatted reasons. Every refusal still
 * names its rule.
 */
#define N_EXACT 11

static bool want(const struct vhost_user_msg *m, unsigned int i,
		 unsigned int pick, size_t size)
{
	return i == pick || m->hdr.size == size;
}

static void getters(const struct vhost_user_msg *m, unsigned int pick)
{
	union {
		uint64_t u64;
		struct vhost_user_vring_state s;
		struct vhost_user_vring_addr a;
		struct vhost_user_mem_table t;
		struct vhost_user_mem_table_xen tx;
		struct vhost_user_single_mem_region r;
		struct vhost_user_single_mem_region_xen rx;
		struct vhost_user_log l;
		struct vhost_user_iotlb i;
		struct vhost_user_config c;
		struct vhost_user_vring_area va;
		struct vhost_user_inflight inf;
		struct vhost_user_shared sh;
		struct vhost_user_device_state ds;
	} u;
	const char *why = NULL;

#define GET(i, fn, field)                                               \
	do {                                                            \
		if ((i) >= 0 &&                                         \
		    !want(m, (unsigned int)(i), pick, sizeof(u.field))) \
			break;                                          \
		why = NULL;                                             \
		if (fn(m, &u.field, &why) < 0)                          \
			assert(why);                                    \
	} while (0)
	pick %= N_EXACT;
	GET(0, vhost_user_get_u64, u64);
	GET(1, vhost_user_get_vring_state, s);
	GET(2, vhost_user_get_vring_addr, a);
	GET(-1, vhost_user_get_mem_table, t);
	GET(-1, vhost_user_get_mem_table_xen, tx);
	GET(3, vhost_user_get_mem_region, r);
	GET(4, vhost_user_get_mem_region_xen, rx);
	GET(5, vhost_user_get_log, l);
	GET(6, vhost_user_get_iotlb, i);
	GET(-1, vhost_user_get_config, c);
	GET(7, vhost_user_get_vring_area, va);
	GET(8, vhost_user_get_inflight, inf);
	GET(9, vhost_user_get_shared, sh);
	GET(10, vhost_user_get_device_state, ds);
#undef GET
	if (!vhost_user_get_config(m, &u.c, NULL))
		assert(u.c.size <= VHOST_USER_MAX_CONFIG_SIZE);
	if (!vhost_user_get_mem_table(m, &u.t, NULL))
		assert(u.t.nregions <= VHOST_USER_MAX_MEM_REGIONS);
}

static void describe(const struct vhost_user_msg *m, enum vhost_user_dir dir)
{
	char line[160];
	int n;

	n = vhost_user_describe(m, dir, line, sizeof(line));
	assert(n >= 0);
	assert(strlen(line) < sizeof(line));
	assert((size_t)n >= strlen(line));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct vhost_user_msg m, reply;
	static uint8_t out[VHOST_USER_MSG_MAX];
	struct fz_in in = { data, size };
	const struct vhost_user_rule *r;
	const char *why = NULL;
	enum vhost_user_dir dir;
	unsigned int nfds, i;
	uint64_t proto;
	uint8_t sel;
	int used, ret;

	sel = fz_u8(&in);
	proto = fz_u64(&in);
	dir = sel & 1 ? VHOST_USER_FROM_BACKEND : VHOST_USER_FROM_FRONTEND;
	nfds = (sel >> 1) & 0x0f;

	used = vhost_user_parse(&m, in.p, in.n, &why);
	if (used < 0) {
		assert(used == -ENODATA || used == -EMSGSIZE);
		assert(why);
		return 0;
	}
	assert((size_t)used <= in.n);
	assert((size_t)used == VHOST_USER_HDR_SIZE + m.hdr.size);
	ret = vhost_user_pack(&m, out, sizeof(out));
	assert(ret == used && !memcmp(out, in.p, (size_t)used));
	for (i = 0; i < nfds && i < VHOST_USER_MAX_FDS; i++)
		m.fds[i] = 1000 + (int)i; /* counted only */
	m.nfds = nfds > VHOST_USER_MAX_FDS ? VHOST_USER_MAX_FDS : nfds;

	why = NULL;
	ret = vhost_user_check_request(&m, dir, proto, &why);
	assert(ret == 0 || why);
	r = vhost_user_rule_find(dir, m.hdr.request);
	assert(ret != -ENOTSUP || !r);
	if (r) {
		why = NULL;
		if (vhost_user_expected_size(r, &m, proto, &why) < 0)
			assert(why);
		assert(vhost_user_request_name(dir, m.hdr.request));
	}
	vhost_user_reply_expected(dir, &m.hdr, proto);
	getters(&m, (sel >> 5) + (unsigned int)(proto >> 60));
	describe(&m, dir);

	/* what follows is the reply */
	in.p += used;
	in.n -= (size_t)used;
	if (vhost_user_parse(&reply, in.p, in.n, NULL) < 0)
		return 0;
	reply.nfds = m.nfds;
	for (i = 0; i < reply.nfds; i++)
		reply.fds[i] = m.fds[i];
	why = NULL;
	ret = vhost_user_check_reply(dir, &m.hdr, &reply, &why);
	assert(ret == 0 || why);
	getters(&reply, (sel >> 5) + (unsigned int)(proto >> 60));
	describe(&reply, dir);
	return 0;
}
