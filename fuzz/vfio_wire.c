// SPDX-License-Identifier: MIT
/*
 * vfio_wire.c - fuzz the vfio-user wire layer (harness/wire/vfio_user.h
 * and vfio_user_caps.h): framing, the rule-table checks, the getters,
 * describe, and the VERSION capabilities JSON.
 *
 * Input: byte 0: bit 0 the message travels server to client, bits 1-2 the
 * check flags (strict / lenient header / lenient zero), bits 3-6 how many
 * fds came (counted only); bit 7: the rest is bare capabilities JSON (no
 * framing). Otherwise the rest is a message and, after it, its reply;
 * each message's msg_id picks a getter of another command (getters()).
 *
 * Oracles: nothing reads past its input (ASan); parse consumes msg_size
 * bytes and pack gives them back; every refusal names its rule; describe
 * stays in its buffer; capabilities that parse and pass the check print
 * as JSON that parses to the same values.
 */
#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "wire/vfio_user.h"
#include "wire/vfio_user_caps.h"

static void caps_round_trip(const struct vfio_user_caps *caps, bool reply)
{
	static char json[2048];
	struct vfio_user_caps again;
	const char *why = NULL;
	int n;

	if (vfio_user_caps_check(caps, reply, &why) < 0) {
		assert(why);
		return;
	}
	n = vfio_user_caps_to_json(caps, NULL, json, sizeof(json));
	if (n < 0 || (size_t)n >= sizeof(json))
		return;
	vfio_user_caps_init(&again);
	assert(vfio_user_caps_parse(&again, json, strlen(json) + 1, &why) == 0);
	assert(again.max_msg_fds == caps->max_msg_fds);
	assert(again.max_data_xfer_size == caps->max_data_xfer_size);
	assert(again.pgsizes == caps->pgsizes);
	assert(again.write_multiple == caps->write_multiple);
}

/*
 * Each getter first checks the command (get_msg()): on any other message it
 * refuses at that one check, the same code for all of them. So each input
 * runs the getters of its own command, plus one other picked by @pick
 * (the message's msg_id, which the input chooses): every refusal path is still reached, at a
 * fraction of the formatted reasons. Every refusal still names its rule.
 */
#define N_GETTERS 13

static bool want(const struct vfio_user_msg *m, unsigned int i,
		 unsigned int pick, unsigned int c1, unsigned int c2)
{
	return i == pick || m->hdr.command == c1 || m->hdr.command == c2;
}

#define REFUSED(call)                         \
	do {                                  \
		why = NULL;                   \
		if ((call) < 0 && !why)       \
			fz_fail("%s", #call); \
	} while (0)

static void getters(const struct vfio_user_msg *m, unsigned int pick)
{
	union {
		struct vfio_user_version v;
		struct vfio_user_dma_map map;
		struct vfio_user_dma_unmap unmap;
		struct vfio_user_device_info info;
		struct vfio_user_region_info region;
		struct vfio_user_region_io_fds iofds;
		struct vfio_user_sub_region_io_fd sub;
		struct vfio_user_irq_info irq;
		struct vfio_user_irq_set irqs;
		struct vfio_user_region_access ra;
		struct vfio_user_dma_region_access da;
		struct vfio_user_write_multi_data wm;
		struct vfio_user_device_feature df;
		struct vfio_user_device_feature_mig_state ms;
		struct vfio_user_device_feature_migration mig;
		struct vfio_user_mig_data md;
		struct vfio_user_info_cap_header cap;
		struct vfio_user_device_feature_dma_logging_report rep;
	} u;
	struct vfio_user_device_feature_dma_logging_control ctl;
	struct vfio_user_device_feature_dma_logging_range range;
	struct vfio_user_region_info_cap_sparse_mmap sparse;
	struct vfio_user_region_sparse_mmap_area area;
	struct vfio_user_bitmap bitmap;
	const uint8_t *p;
	const char *why, *json;
	size_t len;
	uint64_t cnt;
	int ret;

	pick %= N_GETTERS;
	if (want(m, 0, pick, VFIO_USER_VERSION, VFIO_USER_VERSION)) {
		why = NULL;
		ret = vfio_user_get_version(m, &u.v, &json, &len, &why);
		if (!ret && json)
			assert(strlen(json) == len);
		assert(ret == 0 || why);
	}
	/* corpus/vfio_wire/crash-get-dma-map-reply-overread: the getter
	 * once copied 32 bytes out of a DMA_MAP reply's empty payload. */
	if (want(m, 1, pick, VFIO_USER_DMA_MAP, VFIO_USER_DMA_MAP))
		REFUSED(vfio_user_get_dma_map(m, &u.map, &why));
	if (want(m, 2, pick, VFIO_USER_DMA_UNMAP, VFIO_USER_DMA_UNMAP))
		REFUSED(vfio_user_get_dma_unmap(m, &u.unmap, &bitmap, &p,
						&why));
	if (want(m, 3, pick, VFIO_USER_DEVICE_GET_INFO,
		 VFIO_USER_DEVICE_GET_INFO))
		REFUSED(vfio_user_get_device_info(m, &u.info, &why));
	if (want(m, 4, pick, VFIO_USER_DEVICE_GET_REGION_INFO,
		 VFIO_USER_DEVICE_GET_REGION_INFO)) {
		why = NULL;
		if (!vfio_user_get_region_info(m, &u.region, &why)) {
			REFUSED(vfio_user_get_region_cap(m, u.region.cap_offset,
							 &u.cap, &why));
			REFUSED(vfio_user_get_sparse_mmap(
				m, u.region.cap_offset, &sparse, 0, &area,
				&why));
		} else {
			assert(why);
		}
	}
	if (want(m, 5, pick, VFIO_USER_DEVICE_GET_REGION_IO_FDS,
		 VFIO_USER_DEVICE_GET_REGION_IO_FDS)) {
		why = NULL;
		if (!vfio_user_get_region_io_fds(m, &u.iofds, &why))
			REFUSED(vfio_user_get_sub_region(m, 0, &u.sub, &why));
		else
			assert(why);
	}
	if (want(m, 6, pick, VFIO_USER_DEVICE_GET_IRQ_INFO,
		 VFIO_USER_DEVICE_GET_IRQ_INFO))
		REFUSED(vfio_user_get_irq_info(m, &u.irq, &why));
	if (want(m, 7, pick, VFIO_USER_DEVICE_SET_IRQS,
		 VFIO_USER_DEVICE_SET_IRQS))
		REFUSED(vfio_user_get_irq_set(m, &u.irqs, &p, &len, &why));
	if (want(m, 8, pick, VFIO_USER_REGION_READ, VFIO_USER_REGION_WRITE))
		REFUSED(vfio_user_get_region_access(m, &u.ra, &p, &why));
	if (want(m, 9, pick, VFIO_USER_DMA_READ, VFIO_USER_DMA_WRITE))
		REFUSED(vfio_user_get_dma_access(m, &u.da, &p, &why));
	if (want(m, 10, pick, VFIO_USER_REGION_WRITE_MULTI,
		 VFIO_USER_REGION_WRITE_MULTI)) {
		why = NULL;
		if (!vfio_user_get_write_multi(m, &cnt, &why)) {
			if (cnt)
				REFUSED(vfio_user_get_write_multi_entry(
					m, cnt - 1, &u.wm, &why));
		} else {
			assert(why);
		}
	}
	if (want(m, 11, pick, VFIO_USER_DEVICE_FEATURE,
		 VFIO_USER_DEVICE_FEATURE)) {
		REFUSED(vfio_user_get_device_feature(m, &u.df, &p, &len, &why));
		REFUSED(vfio_user_get_mig_state(m, &u.ms, &why));
		REFUSED(vfio_user_get_migration(m, &u.mig, &why));
		REFUSED(vfio_user_get_dma_logging_control(m, &ctl, 0, &range,
							  &why));
		REFUSED(vfio_user_get_dma_logging_report(m, &u.rep, &p, &len,
							 &why));
	}
	if (want(m, 12, pick, VFIO_USER_MIG_DATA_READ,
		 VFIO_USER_MIG_DATA_WRITE))
		REFUSED(vfio_user_get_mig_data(m, &u.md, &p, &why));
	/* these two take any command */
	REFUSED(vfio_user_xfer_count(m, &cnt, &why));
	REFUSED(vfio_user_check_xfer(m, VFIO_USER_DEFAULT_MAX_DATA_XFER_SIZE,
				     &why));
}

static void describe(const struct vfio_user_msg *m)
{
	char line[160];
	int n;

	n = vfio_user_describe(m, line, sizeof(line));
	assert(n >= 0 && (size_t)n < sizeof(line));
	assert(strlen(line) == (size_t)n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t out[4096 + 64];
	struct vfio_user_msg m, reply;
	struct vfio_user_caps caps;
	struct fz_in in = { data, size };
	unsigned int flags, nfds, i;
	const char *why = NULL;
	enum vfio_user_dir dir;
	uint8_t sel;
	int used, ret;

	sel = fz_u8(&in);
	if (sel & 0x80) {
		vfio_user_caps_init(&caps);
		if (vfio_user_caps_parse(&caps, in.p, in.n, &why) < 0) {
			assert(why);
			return 0;
		}
		caps_round_trip(&caps, sel & 1);
		return 0;
	}
	dir = sel & 1 ? VFIO_USER_SERVER_TO_CLIENT : VFIO_USER_CLIENT_TO_SERVER;
	flags = (sel >> 1) & 3;
	nfds = (sel >> 3) & 0x0f;

	used = vfio_user_parse(&m, in.p, in.n, 4096 + 64, &why);
	if (used < 0) {
		assert(used == -ENODATA || used == -EBADMSG ||
		       used == -EMSGSIZE);
		assert(why);
		return 0;
	}
	assert((size_t)used <= in.n && (size_t)used == m.hdr.msg_size);
	ret = vfio_user_pack(out, sizeof(out), &m);
	assert(ret == used && !memcmp(out, in.p, (size_t)used));
	for (i = 0; i < nfds; i++)
		m.fds[i] = 1000 + (int)i; /* counted only */
	m.nfds = nfds;

	why = NULL;
	ret = vfio_user_check_command(&m, dir, flags, &why);
	assert(ret >= 0 || why);
	if (vfio_user_rule(m.hdr.command))
		assert(vfio_user_command_name(m.hdr.command));
	getters(&m, m.hdr.msg_id);
	describe(&m);
	vfio_user_caps_init(&caps);
	why = NULL;
	if (vfio_user_caps_from_version(&caps, &m, &why) < 0)
		assert(why);
	else
		caps_round_trip(&caps, dir == VFIO_USER_SERVER_TO_CLIENT);

	in.p += used;
	in.n -= (size_t)used;
	if (vfio_user_parse(&reply, in.p, in.n, 4096 + 64, NULL) < 0)
		return 0;
	why = NULL;
	ret = vfio_user_check_reply(&m, &reply, flags, &why);
	assert(ret >= 0 || why);
	getters(&reply, reply.hdr.msg_id);
	describe(&reply);
	return 0;
}
