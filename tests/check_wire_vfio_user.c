// SPDX-License-Identifier: MIT
/*
 * check_wire_vfio_user.c - unit tests of harness/wire/vfio_user.{h,c} and
 * vfio_user_caps.{h,c}: the rule table against the spec's command table,
 * round trips of every request and reply, truncation at every length,
 * header / argsz / fd / range rules, reply checks, the DMA_MAP access
 * modes of seed 003, trace lines in tiny buffers, and the capabilities
 * JSON (run under ASan / LSan for the json-c paths).
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_util.h"
#include "common/util.h"
#include "wire/vfio_user.h"
#include "wire/vfio_user_caps.h"

static const char *why;

#define CK_CALL(call, want)                                                    \
	do {                                                                   \
		why = NULL;                                                    \
		int r_ = (call);                                               \
		ck_assert_msg(r_ == (want), "%s: got %d (%s), want %d", #call, \
			      r_, why ? why : "no why", (int)(want));          \
	} while (0)

/* A rejection must say why. */
#define CK_REJECT(call, err)                                             \
	do {                                                             \
		CK_CALL(call, err);                                      \
		ck_assert_msg(why != NULL, "%s: rejected without a why", \
			      #call);                                    \
	} while (0)

#define C2S VFIO_USER_CLIENT_TO_SERVER
#define S2C VFIO_USER_SERVER_TO_CLIENT
#define STRICT VFIO_USER_CHECK_STRICT

static int fds_at_start;

static void fd_setup(void)
{
	fds_at_start = count_fds();
}

static void fd_teardown(void)
{
	ck_assert_int_eq(count_fds(), fds_at_start);
}

/* Tests own the bytes the payload views point at. */
static void poke32(struct vfio_user_msg *m, size_t off, uint32_t v)
{
	memcpy((uint8_t *)m->payload + off, &v, sizeof(v));
}

static void poke64(struct vfio_user_msg *m, size_t off, uint64_t v)
{
	memcpy((uint8_t *)m->payload + off, &v, sizeof(v));
}

static void set_len(struct vfio_user_msg *m, size_t n)
{
	m->payload_len = n;
	m->hdr.msg_size = (uint32_t)(VFIO_USER_HDR_SIZE + n);
}

/* ------------------------------------------------------------------ */
/* A correct request and reply for every command                       */
/* ------------------------------------------------------------------ */

#define BUFSZ 4096

struct pair {
	struct vfio_user_msg cmd, rep;
	uint8_t cbuf[BUFSZ], rbuf[BUFSZ];
	int clen, rlen;
};

static const char caps_json[] =
	"{\"capabilities\":{\"max_msg_fds\":8,\"twin_socket\":"
	"{\"supported\":true}}}";
static const char caps_reply_json[] =
	"{\"capabilities\":{\"max_msg_fds\":8,\"twin_socket\":"
	"{\"supported\":true,\"fd_index\":0}}}";

/* A sparse mmap capability (2 areas) then a type capability. */
struct region_caps {
	struct vfio_user_region_info_cap_sparse_mmap sp;
	struct vfio_user_region_sparse_mmap_area areas[2];
	struct vfio_user_region_info_cap_type type;
};

static void make_region_caps(struct region_caps *c)
{
	memset(c, 0, sizeof(*c));
	c->sp.header.id = VFIO_REGION_INFO_CAP_SPARSE_MMAP;
	c->sp.header.version = 1;
	c->sp.header.next = 32 + offsetof(struct region_caps, type);
	c->sp.nr_areas = 2;
	c->areas[0].offset = 0x1000;
	c->areas[0].size = 0x1000;
	c->areas[1].offset = 0x3000;
	c->areas[1].size = 0x1000;
	c->type.header.id = VFIO_REGION_INFO_CAP_TYPE;
	c->type.header.version = 1;
	c->type.type = 3;
	c->type.subtype = 1;
}

static void make_pair(unsigned int code, struct pair *p)
{
	static const uint8_t data[] = { 1, 2, 3, 4, 5, 6, 7, 8, 9 };
	static const int two_fds[] = { 101, 102 };
	const struct vfio_user_hdr *h = &p->cmd.hdr;
	uint8_t *cb = p->cbuf, *rb = p->rbuf;
	int fd = 100;

	memset(p, 0, sizeof(*p));
	switch (code) {
	case VFIO_USER_VERSION:
		p->clen = vfio_user_build_version(&p->cmd, cb, BUFSZ, 1, 0, 2,
						  caps_json);
		p->rlen = vfio_user_build_version_reply(
			&p->rep, rb, BUFSZ, h, 0, 1, caps_reply_json, &fd, 1);
		break;
	case VFIO_USER_DMA_MAP:
		p->clen = vfio_user_build_dma_map(
			&p->cmd, cb, BUFSZ, 2,
			VFIO_USER_F_DMA_REGION_READ |
				VFIO_USER_F_DMA_REGION_WRITE |
				VFIO_USER_F_DMA_REGION_MMAP,
			0x2000, 0x100000, 0x10000, fd);
		p->rlen = vfio_user_build_reply(&p->rep, rb, BUFSZ, h, NULL, 0,
						NULL, 0);
		break;
	case VFIO_USER_DMA_UNMAP: {
		struct vfio_user_bitmap bm = { .pgsize = 4096, .size = 8 };
		struct vfio_user_dma_unmap u;
		uint8_t bits[8] = { 0x5 };

		p->clen = vfio_user_build_dma_unmap(&p->cmd, cb, BUFSZ, 3, 0,
						    0x100000, 0x10000, &bm);
		memcpy(&u, p->cmd.payload, sizeof(u));
		p->rlen = vfio_user_build_dma_unmap_reply(&p->rep, rb, BUFSZ, h,
							  &u, &bm, bits);
		break;
	}
	case VFIO_USER_DEVICE_GET_INFO:
		p->clen = vfio_user_build_device_get_info(&p->cmd, cb, BUFSZ, 4,
							  0);
		p->rlen = vfio_user_build_device_info_reply(
			&p->rep, rb, BUFSZ, h,
			VFIO_DEVICE_FLAGS_PCI | VFIO_DEVICE_FLAGS_RESET, 9, 5);
		break;
	case VFIO_USER_DEVICE_GET_REGION_INFO: {
		struct vfio_user_region_info info = {
			.flags = VFIO_REGION_INFO_FLAG_READ |
				 VFIO_REGION_INFO_FLAG_WRITE |
				 VFIO_REGION_INFO_FLAG_MMAP,
			.index = 0,
			.size = 0x4000,
			.offset = 0,
		};
		struct region_caps caps;

		make_region_caps(&caps);
		p->clen = vfio_user_build_region_info(&p->cmd, cb, BUFSZ, 5,
						      4096, 0);
		p->rlen = vfio_user_build_region_info_reply(
			&p->rep, rb, BUFSZ, h, 4096, &info, &caps, sizeof(caps),
			fd);
		break;
	}
	case VFIO_USER_DEVICE_GET_REGION_IO_FDS: {
		struct vfio_user_sub_region_io_fd subs[2] = {
			{ .offset = 0x100,
			  .size = 4,
			  .fd_index = 0,
			  .type = VFIO_USER_IO_FD_TYPE_IOEVENTFD,
			  .flags = KVM_IOEVENTFD_FLAG_DATAMATCH,
			  .datamatch = 7 },
			{ .offset = 0x200,
			  .size = 0,
			  .fd_index = 1,
			  .type = VFIO_USER_IO_FD_TYPE_IOREGIONFD,
			  .flags = KVM_IOREGION_POSTED_WRITES,
			  .user_data = 9 },
		};

		p->clen = vfio_user_build_region_io_fds(&p->cmd, cb, BUFSZ, 6,
							4096, 0);
		p->rlen = vfio_user_build_region_io_fds_reply(
			&p->rep, rb, BUFSZ, h, 4096, 0, subs, 2, two_fds, 2);
		break;
	}
	case VFIO_USER_DEVICE_GET_IRQ_INFO:
		p->clen = vfio_user_build_irq_info(&p->cmd, cb, BUFSZ, 7, 0,
						   VFIO_PCI_MSIX_IRQ_INDEX);
		p->rlen = vfio_user_build_irq_info_reply(
			&p->rep, rb, BUFSZ, h,
			VFIO_IRQ_INFO_EVENTFD | VFIO_IRQ_INFO_NORESIZE,
			VFIO_PCI_MSIX_IRQ_INDEX, 16);
		break;
	case VFIO_USER_DEVICE_SET_IRQS:
		p->clen = vfio_user_build_set_irqs(
			&p->cmd, cb, BUFSZ, 8,
			VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER,
			VFIO_PCI_MSIX_IRQ_INDEX, 0, 2, NULL, two_fds, 2);
		p->rlen = vfio_user_build_reply(&p->rep, rb, BUFSZ, h, NULL, 0,
						NULL, 0);
		break;
	case VFIO_USER_REGION_READ:
		p->clen = vfio_user_build_region_read(&p->cmd, cb, BUFSZ, 9, 0,
						      0x10, 4);
		p->rlen = vfio_user_build_region_read_reply(
			&p->rep, rb, BUFSZ, h, 0, 0x10, data, 4);
		break;
	case VFIO_USER_REGION_WRITE:
		p->clen = vfio_user_build_region_write(&p->cmd, cb, BUFSZ, 10,
						       1, 0x20, data, 9);
		p->rlen = vfio_user_build_region_write_reply(&p->rep, rb, BUFSZ,
							     h, 1, 0x20, 9);
		break;
	case VFIO_USER_DMA_READ:
		p->clen = vfio_user_build_dma_read(&p->cmd, cb, BUFSZ, 11,
						   0x100800, 3);
		p->rlen = vfio_user_build_dma_read_reply(&p->rep, rb, BUFSZ, h,
							 0x100800, data, 3);
		break;
	case VFIO_USER_DMA_WRITE:
		p->clen = vfio_user_build_dma_write(&p->cmd, cb, BUFSZ, 12,
						    0x100800, data, 5);
		p->rlen = vfio_user_build_dma_write_reply(&p->rep, rb, BUFSZ, h,
							  0x100800, 5, false);
		break;
	case VFIO_USER_DEVICE_RESET:
		p->clen = vfio_user_build_device_reset(&p->cmd, cb, BUFSZ, 13);
		p->rlen = vfio_user_build_reply(&p->rep, rb, BUFSZ, h, NULL, 0,
						NULL, 0);
		break;
	case VFIO_USER_REGION_WRITE_MULTI: {
		struct vfio_user_write_multi_data w[2] = {
			{ .offset = 0x10,
			  .region = 0,
			  .count = 4,
			  .data = { 1, 2, 3, 4 } },
			{ .offset = 0x18,
			  .region = 0,
			  .count = 8,
			  .data = { 8, 7, 6, 5, 4, 3, 2, 1 } },
		};

		p->clen = vfio_user_build_region_write_multi(&p->cmd, cb, BUFSZ,
							     15, w, 2);
		p->rlen = vfio_user_build_write_multi_reply(&p->rep, rb, BUFSZ,
							    h, 2);
		break;
	}
	case VFIO_USER_DEVICE_FEATURE: {
		struct vfio_user_device_feature_mig_state st = {
			.device_state = VFIO_DEVICE_STATE_RUNNING,
		};

		p->clen = vfio_user_build_device_feature(
			&p->cmd, cb, BUFSZ, 16, 0,
			VFIO_DEVICE_FEATURE_GET |
				VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE,
			NULL, 0);
		p->rlen = vfio_user_build_device_feature_reply(
			&p->rep, rb, BUFSZ, h,
			VFIO_DEVICE_FEATURE_GET |
				VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE,
			&st, sizeof(st));
		break;
	}
	case VFIO_USER_MIG_DATA_READ:
		p->clen = vfio_user_build_mig_data_read(&p->cmd, cb, BUFSZ, 17,
							6);
		p->rlen = vfio_user_build_mig_data_read_reply(
			&p->rep, rb, BUFSZ, h, data, 6);
		break;
	case VFIO_USER_MIG_DATA_WRITE:
		p->clen = vfio_user_build_mig_data_write(&p->cmd, cb, BUFSZ, 18,
							 data, 7);
		p->rlen = vfio_user_build_reply(&p->rep, rb, BUFSZ, h, NULL, 0,
						NULL, 0);
		break;
	default:
		ck_abort_msg("no pair for command %u", code);
	}
	ck_assert_msg(p->clen > 0 && p->rlen > 0, "%s: build %d / %d",
		      vfio_user_command_name(code), p->clen, p->rlen);
}

/* ------------------------------------------------------------------ */
/* Header and table                                                    */
/* ------------------------------------------------------------------ */

START_TEST(test_header_layout)
{
	ck_assert_uint_eq(sizeof(struct vfio_user_hdr), 16);
	ck_assert_uint_eq(offsetof(struct vfio_user_hdr, msg_id), 0);
	ck_assert_uint_eq(offsetof(struct vfio_user_hdr, command), 2);
	ck_assert_uint_eq(offsetof(struct vfio_user_hdr, msg_size), 4);
	ck_assert_uint_eq(offsetof(struct vfio_user_hdr, flags), 8);
	ck_assert_uint_eq(offsetof(struct vfio_user_hdr, error), 12);
	ck_assert_uint_eq(VFIO_USER_F_TYPE_MASK, 0xf);
	ck_assert_uint_eq(VFIO_USER_F_TYPE_REPLY, 1);
	ck_assert_uint_eq(VFIO_USER_F_NO_REPLY, 0x10);
	ck_assert_uint_eq(VFIO_USER_F_ERROR, 0x20);
	ck_assert_uint_eq(VFIO_USER_F_RESERVED & 0x3f, 0);
	ck_assert_uint_eq(VFIO_USER_DEFAULT_MAX_MSG_FDS, 1);
	ck_assert_uint_eq(VFIO_USER_DEFAULT_MAX_DATA_XFER_SIZE, 1048576);
	ck_assert_uint_eq(
		offsetof(struct vfio_user_sub_region_io_fd, datamatch), 32);
	ck_assert_uint_eq(offsetof(struct vfio_user_irq_set, count), 16);
	ck_assert_uint_eq(offsetof(struct vfio_user_region_info, offset), 24);
}
END_TEST

/* The spec's command table, verbatim; 14 is absent from it. */
static const char *const spec_names[VFIO_USER_CMD_MAX + 1] = {
	[1] = "VFIO_USER_VERSION",
	[2] = "VFIO_USER_DMA_MAP",
	[3] = "VFIO_USER_DMA_UNMAP",
	[4] = "VFIO_USER_DEVICE_GET_INFO",
	[5] = "VFIO_USER_DEVICE_GET_REGION_INFO",
	[6] = "VFIO_USER_DEVICE_GET_REGION_IO_FDS",
	[7] = "VFIO_USER_DEVICE_GET_IRQ_INFO",
	[8] = "VFIO_USER_DEVICE_SET_IRQS",
	[9] = "VFIO_USER_REGION_READ",
	[10] = "VFIO_USER_REGION_WRITE",
	[11] = "VFIO_USER_DMA_READ",
	[12] = "VFIO_USER_DMA_WRITE",
	[13] = "VFIO_USER_DEVICE_RESET",
	[15] = "VFIO_USER_REGION_WRITE_MULTI",
	[16] = "VFIO_USER_DEVICE_FEATURE",
	[17] = "VFIO_USER_MIG_DATA_READ",
	[18] = "VFIO_USER_MIG_DATA_WRITE",
};

START_TEST(test_rule_table_has_no_gap)
{
	const struct vfio_user_rule *r;
	char slug[64];
	unsigned int code, n = 0;
	size_t i;

	for (code = 1; code <= VFIO_USER_CMD_MAX; code++) {
		r = &vfio_user_rules[code - 1];
		ck_assert_msg(r->code == code, "row %u holds code %u", code,
			      r->code);
		ck_assert_ptr_nonnull(r->name);
		ck_assert_ptr_nonnull(r->anchor);
		ck_assert_ptr_nonnull(r->note);
		ck_assert_msg(!strncmp(r->anchor, "vfio-user#", 10),
			      "anchor %s", r->anchor);
		if (!spec_names[code]) {
			ck_assert_msg(r->reserved, "code %u is not reserved",
				      code);
			ck_assert_ptr_null(vfio_user_rule(code));
			continue;
		}
		ck_assert_msg(!r->reserved, "code %u reserved", code);
		ck_assert_str_eq(r->name, spec_names[code]);
		ck_assert_ptr_eq(vfio_user_rule(code), r);
		ck_assert_str_eq(vfio_user_command_name(code),
				 spec_names[code]);
		/* anchor = RST slug of the heading, which is the name */
		for (i = 0; r->name[i] && i < sizeof(slug) - 1; i++)
			slug[i] = r->name[i] == '_' ? '-'
						    : (char)(r->name[i] | 0x20);
		slug[i] = '\0';
		ck_assert_str_eq(r->anchor + 10, slug);
		ck_assert_int_eq(r->dir,
				 code == VFIO_USER_DMA_READ ||
						 code == VFIO_USER_DMA_WRITE
					 ? S2C
					 : C2S);
	}
	vfio_user_for_each_rule (r)
		n++;
	ck_assert_uint_eq(n, 17);
	ck_assert_ptr_null(vfio_user_rule(0));
	ck_assert_ptr_null(vfio_user_rule(19));
	ck_assert_ptr_null(vfio_user_rule(0xffff));
	ck_assert_str_eq(vfio_user_command_name(0), "VFIO_USER_(unknown)");
	ck_assert_str_eq(vfio_user_command_name(14), "VFIO_USER_(reserved 14)");
	/* fd rules from the spec */
	ck_assert_int_eq(vfio_user_rule(VFIO_USER_DMA_MAP)->req_fds,
			 VFIO_USER_FDS_DMA_MAP);
	ck_assert_uint_eq(vfio_user_rule(VFIO_USER_DMA_MAP)->req_fds_max, 1);
	ck_assert_int_eq(vfio_user_rule(VFIO_USER_DEVICE_SET_IRQS)->req_fds,
			 VFIO_USER_FDS_IRQ_SET);
	ck_assert_int_eq(
		vfio_user_rule(VFIO_USER_DEVICE_GET_REGION_IO_FDS)->reply_fds,
		VFIO_USER_FDS_IO_FDS);
	ck_assert_int_eq(
		vfio_user_rule(VFIO_USER_DEVICE_GET_REGION_INFO)->reply_fds,
		VFIO_USER_FDS_REGION_MMAP);
	ck_assert_str_eq(vfio_user_rule(VFIO_USER_REGION_WRITE_MULTI)->gate,
			 "write_multiple");
}
END_TEST

/* ------------------------------------------------------------------ */
/* Round trips                                                         */
/* ------------------------------------------------------------------ */

static void reparse(const struct vfio_user_msg *m, const uint8_t *wire, int len,
		    struct vfio_user_msg *out)
{
	uint8_t again[BUFSZ];

	vfio_user_msg_init(out);
	CK_CALL(vfio_user_parse(out, wire, (size_t)len, 0, &why), len);
	ck_assert_int_eq(memcmp(&out->hdr, &m->hdr, sizeof(m->hdr)), 0);
	ck_assert_uint_eq(out->payload_len, m->payload_len);
	ck_assert_int_eq(memcmp(out->payload, m->payload, m->payload_len), 0);
	ck_assert_int_eq(vfio_user_msg_set_fds(out, m->fds, m->nfds), 0);
	ck_assert_int_eq(vfio_user_pack(again, sizeof(again), out), len);
	ck_assert_int_eq(memcmp(again, wire, (size_t)len), 0);
}

START_TEST(test_round_trip_every_command)
{
	const struct vfio_user_rule *r;
	struct vfio_user_msg c2, r2;
	static struct pair p;
	char line[512];

	vfio_user_for_each_rule (r) {
		make_pair(r->code, &p);
		ck_assert_uint_eq(p.cmd.hdr.command, r->code);
		ck_assert_uint_eq(p.rep.hdr.msg_id, p.cmd.hdr.msg_id);
		CK_CALL(vfio_user_check_command(&p.cmd, r->dir, STRICT, &why),
			0);
		CK_CALL(vfio_user_check_reply(&p.cmd, &p.rep, STRICT, &why),
			VFIO_USER_REPLY_OK);
		reparse(&p.cmd, p.cbuf, p.clen, &c2);
		reparse(&p.rep, p.rbuf, p.rlen, &r2);
		CK_CALL(vfio_user_check_command(&c2, r->dir, STRICT, &why), 0);
		CK_CALL(vfio_user_check_reply(&c2, &r2, STRICT, &why),
			VFIO_USER_REPLY_OK);
		/* the other direction is refused */
		CK_REJECT(vfio_user_check_command(
				  &c2, r->dir == C2S ? S2C : C2S, STRICT, &why),
			  -EPROTO);
		vfio_user_describe(&c2, line, sizeof(line));
		ck_assert_msg(!strstr(line, "malformed"), "%s", line);
		ck_assert_msg(!strncmp(line, r->name, strlen(r->name)), "%s",
			      line);
		vfio_user_describe(&r2, line, sizeof(line));
		ck_assert_msg(!strstr(line, "malformed"), "%s", line);
		ck_assert_msg(strstr(line, " reply"), "%s", line);
	}
}
END_TEST

START_TEST(test_getters_read_back)
{
	static struct pair p;
	struct vfio_user_version v;
	struct vfio_user_dma_map map;
	struct vfio_user_dma_unmap un;
	struct vfio_user_bitmap bm;
	struct vfio_user_region_info ri;
	struct vfio_user_region_info_cap_sparse_mmap sp;
	struct vfio_user_region_sparse_mmap_area area;
	struct vfio_user_region_info_cap_type ct;
	struct vfio_user_sub_region_io_fd sub;
	struct vfio_user_irq_set set;
	struct vfio_user_region_access ra;
	struct vfio_user_dma_region_access da;
	struct vfio_user_write_multi_data w;
	struct vfio_user_device_feature_mig_state st;
	struct vfio_user_mig_data md;
	const uint8_t *data;
	const char *json;
	size_t n;
	uint64_t cnt;

	make_pair(VFIO_USER_VERSION, &p);
	CK_CALL(vfio_user_get_version(&p.cmd, &v, &json, &n, &why), 0);
	ck_assert_uint_eq(v.major, 0);
	ck_assert_uint_eq(v.minor, 2);
	ck_assert_uint_eq(n, strlen(caps_json));
	ck_assert_str_eq(json, caps_json);

	make_pair(VFIO_USER_DMA_MAP, &p);
	CK_CALL(vfio_user_get_dma_map(&p.cmd, &map, &why), 0);
	ck_assert_uint_eq(map.argsz, 32);
	ck_assert_uint_eq(map.offset, 0x2000);
	ck_assert_uint_eq(map.addr, 0x100000);
	ck_assert_uint_eq(map.size, 0x10000);
	ck_assert_uint_eq(p.cmd.nfds, 1);
	ck_assert_int_eq(p.cmd.fds[0], 100);
	ck_assert_int_eq(p.cmd.fds[1], -1);
	/* the wrong getter says so */
	CK_REJECT(vfio_user_get_region_info(&p.cmd, &ri, &why), -EBADMSG);

	make_pair(VFIO_USER_DMA_UNMAP, &p);
	CK_CALL(vfio_user_get_dma_unmap(&p.cmd, &un, &bm, &data, &why), 1);
	ck_assert_uint_eq(un.argsz, 24 + 16 + 8);
	ck_assert_uint_eq(bm.pgsize, 4096);
	ck_assert_ptr_null(data);
	CK_CALL(vfio_user_get_dma_unmap(&p.rep, &un, &bm, &data, &why), 1);
	ck_assert_uint_eq(data[0], 5);

	make_pair(VFIO_USER_DEVICE_GET_REGION_INFO, &p);
	CK_CALL(vfio_user_get_region_info(&p.rep, &ri, &why), 0);
	ck_assert_uint_eq(ri.argsz, 32 + sizeof(struct region_caps));
	ck_assert_uint_eq(ri.cap_offset, 32);
	ck_assert(ri.flags & VFIO_REGION_INFO_FLAG_CAPS);
	CK_CALL(vfio_user_get_sparse_mmap(&p.rep, ri.cap_offset, &sp, 1, &area,
					  &why),
		0);
	ck_assert_uint_eq(sp.nr_areas, 2);
	ck_assert_uint_eq(area.offset, 0x3000);
	CK_REJECT(vfio_user_get_sparse_mmap(&p.rep, ri.cap_offset, &sp, 2,
					    &area, &why),
		  -EINVAL);
	CK_CALL(vfio_user_get_cap_type(&p.rep, sp.header.next, &ct, &why), 0);
	ck_assert_uint_eq(ct.type, 3);
	CK_REJECT(vfio_user_get_cap_type(&p.rep, ri.cap_offset, &ct, &why),
		  -EBADMSG);
	CK_REJECT(vfio_user_get_region_cap(&p.rep, 4000, &ct.header, &why),
		  -EBADMSG);

	make_pair(VFIO_USER_DEVICE_GET_REGION_IO_FDS, &p);
	CK_CALL(vfio_user_get_sub_region(&p.rep, 1, &sub, &why), 0);
	ck_assert_uint_eq(sub.type, VFIO_USER_IO_FD_TYPE_IOREGIONFD);
	ck_assert_uint_eq(sub.user_data, 9);
	CK_REJECT(vfio_user_get_sub_region(&p.rep, 2, &sub, &why), -EINVAL);

	make_pair(VFIO_USER_DEVICE_SET_IRQS, &p);
	CK_CALL(vfio_user_get_irq_set(&p.cmd, &set, &data, &n, &why), 0);
	ck_assert_uint_eq(set.count, 2);
	ck_assert_uint_eq(n, 0);

	make_pair(VFIO_USER_REGION_READ, &p);
	CK_CALL(vfio_user_get_region_access(&p.cmd, &ra, &data, &why), 0);
	ck_assert_ptr_null(data);
	CK_CALL(vfio_user_get_region_access(&p.rep, &ra, &data, &why), 0);
	ck_assert_uint_eq(ra.count, 4);
	ck_assert_uint_eq(data[3], 4);

	make_pair(VFIO_USER_DMA_WRITE, &p);
	CK_CALL(vfio_user_get_dma_access(&p.cmd, &da, &data, &why), 0);
	ck_assert_uint_eq(da.count, 5);
	ck_assert_uint_eq(data[4], 5);
	CK_CALL(vfio_user_get_dma_access(&p.rep, &da, &data, &why), 0);
	ck_assert_uint_eq(p.rep.payload_len, 12);
	ck_assert_uint_eq(da.count, 5);
	ck_assert_ptr_null(data);

	make_pair(VFIO_USER_REGION_WRITE_MULTI, &p);
	CK_CALL(vfio_user_get_write_multi(&p.cmd, &cnt, &why), 0);
	ck_assert_uint_eq(cnt, 2);
	CK_CALL(vfio_user_get_write_multi_entry(&p.cmd, 1, &w, &why), 0);
	ck_assert_uint_eq(w.data[0], 8);
	CK_REJECT(vfio_user_get_write_multi_entry(&p.cmd, 2, &w, &why),
		  -EINVAL);

	make_pair(VFIO_USER_DEVICE_FEATURE, &p);
	CK_CALL(vfio_user_get_mig_state(&p.rep, &st, &why), 0);
	ck_assert_uint_eq(st.device_state, VFIO_DEVICE_STATE_RUNNING);
	CK_REJECT(vfio_user_get_mig_state(&p.cmd, &st, &why), -EBADMSG);

	make_pair(VFIO_USER_MIG_DATA_READ, &p);
	CK_CALL(vfio_user_get_mig_data(&p.rep, &md, &data, &why), 0);
	ck_assert_uint_eq(md.size, 6);
	ck_assert_uint_eq(md.argsz, 14);
	ck_assert_uint_eq(data[5], 6);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Framing                                                             */
/* ------------------------------------------------------------------ */

/* Every strict prefix of every message is "need more", from a heap buffer
 * of exactly that size so that ASan sees any over-read. */
START_TEST(test_truncated_every_prefix)
{
	const struct vfio_user_rule *r;
	struct vfio_user_msg m;
	static struct pair p;
	uint8_t *copy;
	int side, len, cut;

	vfio_user_for_each_rule (r) {
		make_pair(r->code, &p);
		for (side = 0; side < 2; side++) {
			const uint8_t *wire = side ? p.rbuf : p.cbuf;

			len = side ? p.rlen : p.clen;
			for (cut = 0; cut < len; cut++) {
				copy = malloc(cut ? (size_t)cut : 1);
				ck_assert_ptr_nonnull(copy);
				memcpy(copy, wire, (size_t)cut);
				CK_REJECT(vfio_user_parse(&m, copy, (size_t)cut,
							  0, &why),
					  -ENODATA);
				free(copy);
			}
			copy = malloc((size_t)len);
			ck_assert_ptr_nonnull(copy);
			memcpy(copy, wire, (size_t)len);
			CK_CALL(vfio_user_parse(&m, copy, (size_t)len, 0, &why),
				len);
			free(copy);
		}
	}
}
END_TEST

/*
 * Every shorter payload of every message, in an exact-size heap buffer:
 * checks, getters and describe() must not read past it, and whatever
 * they refuse comes with a why.
 */
START_TEST(test_short_payloads_never_overread)
{
	const struct vfio_user_rule *r;
	static struct pair p;
	struct vfio_user_msg m, c;
	char line[300];
	uint8_t *copy;
	size_t n, full;
	int side, ret;

	vfio_user_for_each_rule (r) {
		make_pair(r->code, &p);
		for (side = 0; side < 2; side++) {
			const struct vfio_user_msg *src =
				side ? &p.rep : &p.cmd;

			full = src->payload_len;
			for (n = 0; n < full; n++) {
				m = *src;
				copy = malloc(n ? n : 1);
				ck_assert_ptr_nonnull(copy);
				memcpy(copy, src->payload, n);
				m.payload = copy;
				set_len(&m, n);
				why = NULL;
				if (side) {
					ret = vfio_user_check_reply(
						&p.cmd, &m, STRICT, &why);
				} else {
					ret = vfio_user_check_command(
						&m, r->dir, STRICT, &why);
					/* and as a command answered */
					c = p.rep;
					vfio_user_check_reply(&m, &c, STRICT,
							      &why);
				}
				ck_assert_msg(ret >= 0 || why,
					      "%s len %zu: no why", r->name, n);
				vfio_user_describe(&m, line, sizeof(line));
				free(copy);
			}
		}
	}
}
END_TEST

START_TEST(test_msg_size_below_header)
{
	struct vfio_user_hdr h = { .msg_id = 1, .command = 1 };
	struct vfio_user_msg m;
	uint8_t buf[64] = { 0 };
	uint32_t sz;

	for (sz = 0; sz < 16; sz++) {
		h.msg_size = sz;
		memcpy(buf, &h, sizeof(h));
		CK_REJECT(vfio_user_parse(&m, buf, sizeof(buf), 0, &why),
			  -EBADMSG);
		/* known as soon as the header is complete */
		CK_REJECT(vfio_user_parse(&m, buf, 16, 0, &why), -EBADMSG);
	}
	CK_REJECT(vfio_user_hdr_parse(buf, 15, &h, &why), -ENODATA);
	CK_CALL(vfio_user_hdr_parse(buf, 16, &h, &why), 16);
}
END_TEST

START_TEST(test_msg_size_huge)
{
	struct vfio_user_hdr h = { .msg_id = 1, .command = 9 };
	struct vfio_user_msg m;
	uint8_t buf[16];

	h.msg_size = UINT32_MAX;
	memcpy(buf, &h, sizeof(h));
	CK_REJECT(vfio_user_parse(&m, buf, sizeof(buf), 0, &why), -EMSGSIZE);
	h.msg_size = 4097;
	memcpy(buf, &h, sizeof(h));
	CK_REJECT(vfio_user_parse(&m, buf, sizeof(buf), 4096, &why), -EMSGSIZE);
	h.msg_size = 4096;
	memcpy(buf, &h, sizeof(h));
	CK_REJECT(vfio_user_parse(&m, buf, sizeof(buf), 4096, &why), -ENODATA);
	ck_assert_uint_eq(VFIO_USER_MSG_SIZE_FOR_XFER(1048576),
			  16 + 16 + 1048576);
}
END_TEST

START_TEST(test_pack_can_lie)
{
	struct vfio_user_hdr h = {
		.msg_id = 7,
		.command = VFIO_USER_DMA_MAP,
		.msg_size = 1000,
		.flags = 0xffffffff,
		.error = 5,
	};
	const uint8_t payload[] = { 0xde, 0xad, 0xbe, 0xef, 0x01 };
	struct vfio_user_msg m;
	uint8_t out[64], small[20];

	CK_CALL(vfio_user_pack_raw(out, sizeof(out), &h, payload,
				   sizeof(payload)),
		21);
	ck_assert_int_eq(memcmp(out, &h, 16), 0);
	ck_assert_int_eq(memcmp(out + 16, payload, sizeof(payload)), 0);
	CK_CALL(vfio_user_pack_raw(small, sizeof(small), &h, payload,
				   sizeof(payload)),
		-ENOSPC);
	/* msg_size 16 with 5 trailing bytes: parse takes 16, leaves 5 */
	h.msg_size = 16;
	h.flags = 0;
	vfio_user_pack_raw(out, sizeof(out), &h, payload, sizeof(payload));
	CK_CALL(vfio_user_parse(&m, out, 21, 0, &why), 16);
	ck_assert_uint_eq(m.payload_len, 0);
	/* a hand-made message whose msg_size lies is refused by the checks */
	m.payload = payload;
	m.payload_len = sizeof(payload);
	CK_REJECT(vfio_user_check_command(&m, C2S, STRICT, &why), -EBADMSG);
	ck_assert_int_eq(
		vfio_user_msg_set_fds(&m, NULL, VFIO_USER_MSG_FDS_MAX + 1),
		-EMSGSIZE);
}
END_TEST

START_TEST(test_builders_refuse_small_buffers)
{
	struct vfio_user_msg m;
	uint8_t buf[64];
	int fds[VFIO_USER_MSG_FDS_MAX + 1] = { 0 };

	CK_CALL(vfio_user_build_dma_map(&m, buf, 47, 1, 0, 0, 0, 1, -1),
		-ENOSPC);
	CK_CALL(vfio_user_build_dma_map(&m, buf, 48, 1, 0, 0, 0, 1, -1), 48);
	CK_CALL(vfio_user_build_region_write(&m, buf, sizeof(buf), 1, 0, 0,
					     NULL, 100),
		-ENOSPC);
	CK_CALL(vfio_user_build_set_irqs(&m, buf, sizeof(buf), 1,
					 VFIO_IRQ_SET_DATA_EVENTFD |
						 VFIO_IRQ_SET_ACTION_TRIGGER,
					 0, 0, 254, NULL, fds, 254),
		-EMSGSIZE);
	CK_CALL(vfio_user_build_error_reply(&m, buf, sizeof(buf), &m.hdr, 22),
		16);
	ck_assert(m.hdr.flags & VFIO_USER_F_ERROR);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Command checks                                                      */
/* ------------------------------------------------------------------ */

START_TEST(test_command_header_rules)
{
	struct vfio_user_msg m;
	uint8_t buf[64];

	vfio_user_build_device_reset(&m, buf, sizeof(buf), 1);
	CK_CALL(vfio_user_check_command(&m, C2S, STRICT, &why), 0);
	m.hdr.flags = VFIO_USER_F_TYPE_REPLY;
	CK_REJECT(vfio_user_check_command(&m, C2S, STRICT, &why), -EBADMSG);
	m.hdr.flags = 2;
	CK_REJECT(vfio_user_check_command(&m, C2S, STRICT, &why), -EBADMSG);
	m.hdr.flags = VFIO_USER_F_NO_REPLY;
	CK_CALL(vfio_user_check_command(&m, C2S, STRICT, &why), 0);
	/* Error bit and error field are reserved in a command */
	m.hdr.flags = VFIO_USER_F_ERROR;
	CK_REJECT(vfio_user_check_command(&m, C2S, STRICT, &why), -EBADMSG);
	CK_CALL(vfio_user_check_command(&m, C2S, VFIO_USER_CHECK_LENIENT_HDR,
					&why),
		0);
	m.hdr.flags = 0;
	m.hdr.error = 22;
	CK_REJECT(vfio_user_check_command(&m, C2S, STRICT, &why), -EBADMSG);
	CK_CALL(vfio_user_check_command(&m, C2S, VFIO_USER_CHECK_LENIENT, &why),
		0);
	m.hdr.error = 0;
	m.hdr.flags = 1u << 6;
	CK_REJECT(vfio_user_check_command(&m, C2S, STRICT, &why), -EBADMSG);
	m.hdr.flags = 0;
	/* DEVICE_RESET takes no payload */
	m.payload = buf + 16;
	set_len(&m, 4);
	CK_REJECT(vfio_user_check_command(&m, C2S, STRICT, &why), -EBADMSG);
	/* no fds on a command that takes none */
	set_len(&m, 0);
	m.nfds = 1;
	m.fds[0] = 5;
	CK_REJECT(vfio_user_check_command(&m, C2S, STRICT, &why), -EBADMSG);
}
END_TEST

START_TEST(test_unknown_and_reserved_commands)
{
	static const unsigned int codes[] = { 0, 14, 19, 0x7fff, 0xffff };
	char line[128];
	struct vfio_user_msg m;
	uint8_t buf[64];
	size_t i;

	for (i = 0; i < ARRAY_SIZE(codes); i++) {
		vfio_user_build_device_reset(&m, buf, sizeof(buf), 1);
		m.hdr.command = (uint16_t)codes[i];
		CK_REJECT(vfio_user_check_command(&m, C2S, STRICT, &why),
			  -ENOTSUP);
		vfio_user_describe(&m, line, sizeof(line));
		ck_assert_msg(strstr(line, codes[i] == 14 ? "reserved 14"
							  : "unknown"),
			      "%s", line);
	}
}
END_TEST

START_TEST(test_direction)
{
	static struct pair p;

	make_pair(VFIO_USER_DMA_READ, &p);
	CK_REJECT(vfio_user_check_command(&p.cmd, C2S, STRICT, &why), -EPROTO);
	CK_CALL(vfio_user_check_command(&p.cmd, S2C, STRICT, &why), 0);
	make_pair(VFIO_USER_VERSION, &p);
	CK_REJECT(vfio_user_check_command(&p.cmd, S2C, STRICT, &why), -EPROTO);
}
END_TEST

START_TEST(test_argsz_rules)
{
	struct vfio_user_msg m;
	uint8_t buf[256];

	/* REPLY_MAX: at least the fixed reply */
	vfio_user_build_device_get_info(&m, buf, sizeof(buf), 1, 15);
	CK_REJECT(vfio_user_check_command(&m, C2S, STRICT, &why), -EBADMSG);
	vfio_user_build_device_get_info(&m, buf, sizeof(buf), 1, 4096);
	CK_CALL(vfio_user_check_command(&m, C2S, STRICT, &why), 0);
	vfio_user_build_region_info(&m, buf, sizeof(buf), 1, 31, 0);
	CK_REJECT(vfio_user_check_command(&m, C2S, STRICT, &why), -EBADMSG);
	vfio_user_build_region_info(&m, buf, sizeof(buf), 1, 32, 0);
	CK_CALL(vfio_user_check_command(&m, C2S, STRICT, &why), 0);
	vfio_user_build_irq_info(&m, buf, sizeof(buf), 1, 8, 0);
	CK_REJECT(vfio_user_check_command(&m, C2S, STRICT, &why), -EBADMSG);

	/* SELF: argsz is the request's own size */
	vfio_user_build_dma_map(&m, buf, sizeof(buf), 1, 0, 0, 0x1000, 0x1000,
				-1);
	poke32(&m, 0, 16);
	CK_REJECT(vfio_user_check_command(&m, C2S, STRICT, &why), -EBADMSG);
	ck_assert_msg(strstr(why, "smaller"), "%s", why);
	poke32(&m, 0, 40);
	CK_REJECT(vfio_user_check_command(&m, C2S, STRICT, &why), -EBADMSG);
	ck_assert_msg(strstr(why, "larger"), "%s", why);
	/* and the payload must be exactly the structure */
	poke32(&m, 0, 32);
	set_len(&m, 31);
	CK_REJECT(vfio_user_check_command(&m, C2S, STRICT, &why), -EBADMSG);

	vfio_user_build_set_irqs(&m, buf, sizeof(buf), 1,
				 VFIO_IRQ_SET_DATA_BOOL |
					 VFIO_IRQ_SET_ACTION_TRIGGER,
				 0, 0, 3, (const uint8_t *)"\1\0\1", NULL, 0);
	CK_CALL(vfio_user_check_command(&m, C2S, STRICT, &why), 0);
	poke32(&m, 0, 22);
	CK_REJECT(vfio_user_check_command(&m, C2S, STRICT, &why), -EBADMSG);
	poke32(&m, 0, 19);
	CK_REJECT(vfio_user_check_command(&m, C2S, STRICT, &why), -EBADMSG);

	/* MIG_DATA_READ: argsz must let size bytes come back */
	vfio_user_build_mig_data_read(&m, buf, sizeof(buf), 1, 64);
	CK_CALL(vfio_user_check_command(&m, C2S, STRICT, &why), 0);
	poke32(&m, 0, 8 + 63);
	CK_REJECT(vfio_user_check_command(&m, C2S, STRICT, &why), -EBADMSG);

	/* "all other fields must be zero" */
	vfio_user_build_region_io_fds(&m, buf, sizeof(buf), 1, 0, 0);
	poke32(&m, 4, 1);
	CK_REJECT(vfio_user_check_command(&m, C2S, STRICT, &why), -EBADMSG);
	CK_CALL(vfio_user_check_command(&m, C2S, VFIO_USER_CHECK_LENIENT_ZERO,
					&why),
		0);
	vfio_user_build_device_get_info(&m, buf, sizeof(buf), 1, 0);
	poke32(&m, 8, 9);
	CK_REJECT(vfio_user_check_command(&m, C2S, STRICT, &why), -EBADMSG);
}
END_TEST

/* Seed 003: the DMA_MAP access-mode bits. */
START_TEST(test_dma_map_access_modes)
{
	static const struct {
		uint32_t flags;
		unsigned int nfds;
		int want;
	} t[] = {
		{ 0, 0, VFIO_USER_DMA_ACCESS_MSG },
		{ 0, 1, VFIO_USER_DMA_ACCESS_MMAP },
		{ VFIO_USER_F_DMA_REGION_READ | VFIO_USER_F_DMA_REGION_WRITE, 0,
		  VFIO_USER_DMA_ACCESS_MSG },
		{ VFIO_USER_F_DMA_REGION_MMAP, 1, VFIO_USER_DMA_ACCESS_MMAP },
		{ VFIO_USER_F_DMA_REGION_MMAP, 0, -EBADMSG },
		{ VFIO_USER_F_DMA_REGION_FILE_IO, 1,
		  VFIO_USER_DMA_ACCESS_FILE_IO },
		{ VFIO_USER_F_DMA_REGION_FILE_IO, 0, -EBADMSG },
		{ VFIO_USER_F_DMA_REGION_MODES, 1, -EBADMSG },
		{ VFIO_USER_F_DMA_REGION_MODES, 0, -EBADMSG },
		{ 1u << 4, 0, -EBADMSG },
		{ 1u << 31, 1, -EBADMSG },
		{ 0, 2, -EBADMSG },
		{ VFIO_USER_F_DMA_REGION_FILE_IO, 2, -EBADMSG },
	};
	struct vfio_user_msg m;
	uint8_t buf[64];
	int fds[2] = { 40, 41 };
	size_t i;

	for (i = 0; i < ARRAY_SIZE(t); i++) {
		why = NULL;
		ck_assert_msg(vfio_user_dma_map_access(t[i].flags, t[i].nfds,
						       &why) == t[i].want,
			      "row %zu", i);
		ck_assert(t[i].want >= 0 || why);
		vfio_user_build_dma_map(&m, buf, sizeof(buf), 1, t[i].flags,
					t[i].nfds ? 0x1000 : 0, 0x100000,
					0x1000, -1);
		vfio_user_msg_set_fds(&m, fds, t[i].nfds);
		if (t[i].want < 0)
			CK_REJECT(
				vfio_user_check_command(&m, C2S, STRICT, &why),
				-EBADMSG);
		else
			CK_CALL(vfio_user_check_command(&m, C2S, STRICT, &why),
				0);
	}
	/* offset without an fd is "zero if the region is not mappable" */
	vfio_user_build_dma_map(&m, buf, sizeof(buf), 1, 0, 0x1000, 0x100000,
				0x1000, -1);
	CK_REJECT(vfio_user_check_command(&m, C2S, STRICT, &why), -EBADMSG);
	CK_CALL(vfio_user_check_command(&m, C2S, VFIO_USER_CHECK_LENIENT_ZERO,
					&why),
		0);
	/* size 0 */
	vfio_user_build_dma_map(&m, buf, sizeof(buf), 1, 0, 0, 0x100000, 0, -1);
	CK_REJECT(vfio_user_check_command(&m, C2S, STRICT, &why), -EBADMSG);
}
END_TEST

START_TEST(test_ranges_past_2_64)
{
	struct vfio_user_msg m;
	uint8_t buf[256];
	struct vfio_user_device_feature_dma_logging_range rg = {
		.iova = UINT64_MAX, .length = 2
	};
	struct vfio_user_write_multi_data w = { .offset = UINT64_MAX,
						.count = 2 };

	/* ending exactly at 2^64 is fine, one byte more is not */
	vfio_user_build_dma_map(&m, buf, sizeof(buf), 1, 0, 0,
				UINT64_MAX - 0xfff, 0x1000, -1);
	CK_CALL(vfio_user_check_command(&m, C2S, STRICT, &why), 0);
	vfio_user_build_dma_map(&m, buf, sizeof(buf), 1, 0, 0,
				UINT64_MAX - 0xfff, 0x1001, -1);
	CK_REJECT(vfio_user_check_command(&m, C2S, STRICT, &why), -EBADMSG);
	vfio_user_build_dma_map(&m, buf, sizeof(buf), 1,
				VFIO_USER_F_DMA_REGION_MMAP, UINT64_MAX - 10,
				0x100000, 0x1000, 3);
	CK_REJECT(vfio_user_check_command(&m, C2S, STRICT, &why), -EBADMSG);
	vfio_user_build_dma_unmap(&m, buf, sizeof(buf), 1, 0, UINT64_MAX, 2,
				  NULL);
	CK_REJECT(vfio_user_check_command(&m, C2S, STRICT, &why), -EBADMSG);
	vfio_user_build_region_read(&m, buf, sizeof(buf), 1, 0, UINT64_MAX, 2);
	CK_REJECT(vfio_user_check_command(&m, C2S, STRICT, &why), -EBADMSG);
	vfio_user_build_region_read(&m, buf, sizeof(buf), 1, 0, UINT64_MAX, 1);
	CK_CALL(vfio_user_check_command(&m, C2S, STRICT, &why), 0);
	vfio_user_build_region_write(&m, buf, sizeof(buf), 1, 0, UINT64_MAX - 2,
				     "abcd", 4);
	CK_REJECT(vfio_user_check_command(&m, C2S, STRICT, &why), -EBADMSG);
	vfio_user_build_dma_read(&m, buf, sizeof(buf), 1, UINT64_MAX - 1, 4);
	CK_REJECT(vfio_user_check_command(&m, S2C, STRICT, &why), -EBADMSG);
	vfio_user_build_set_irqs(&m, buf, sizeof(buf), 1,
				 VFIO_IRQ_SET_DATA_NONE |
					 VFIO_IRQ_SET_ACTION_TRIGGER,
				 0, 2, UINT32_MAX, NULL, NULL, 0);
	CK_REJECT(vfio_user_check_command(&m, C2S, STRICT, &why), -EBADMSG);
	vfio_user_build_region_write_multi(&m, buf, sizeof(buf), 1, &w, 1);
	CK_REJECT(vfio_user_check_command(&m, C2S, STRICT, &why), -EBADMSG);
	vfio_user_build_dma_logging_start(&m, buf, sizeof(buf), 1, 4096, &rg,
					  1);
	CK_REJECT(vfio_user_check_command(&m, C2S, STRICT, &why), -EBADMSG);
	vfio_user_build_dma_logging_report(&m, buf, sizeof(buf), 1,
					   UINT64_MAX - 4095, 8192, 4096);
	CK_REJECT(vfio_user_check_command(&m, C2S, STRICT, &why), -EBADMSG);
}
END_TEST

START_TEST(test_dma_unmap_rules)
{
	struct vfio_user_bitmap bm = { .pgsize = 4096, .size = 8 };
	struct vfio_user_msg m;
	uint8_t buf[128];

	vfio_user_build_dma_unmap(&m, buf, sizeof(buf), 1, 0, 0x1000, 0x1000,
				  NULL);
	CK_CALL(vfio_user_check_command(&m, C2S, STRICT, &why), 0);
	poke32(&m, 4, 1u << 5);
	CK_REJECT(vfio_user_check_command(&m, C2S, STRICT, &why), -EBADMSG);
	/* GET_DIRTY_BITMAP without the bitmap struct */
	poke32(&m, 4, VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP);
	CK_REJECT(vfio_user_check_command(&m, C2S, STRICT, &why), -EBADMSG);
	/* ALL wants address and size 0 */
	vfio_user_build_dma_unmap(&m, buf, sizeof(buf), 1,
				  VFIO_DMA_UNMAP_FLAG_ALL, 0x1000, 0, NULL);
	CK_REJECT(vfio_user_check_command(&m, C2S, STRICT, &why), -EBADMSG);
	vfio_user_build_dma_unmap(&m, buf, sizeof(buf), 1,
				  VFIO_DMA_UNMAP_FLAG_ALL, 0, 0, NULL);
	CK_CALL(vfio_user_check_command(&m, C2S, STRICT, &why), 0);
	/* argsz must hold the bitmap reply */
	vfio_user_build_dma_unmap(&m, buf, sizeof(buf), 1, 0, 0x1000, 0x1000,
				  &bm);
	CK_CALL(vfio_user_check_command(&m, C2S, STRICT, &why), 0);
	poke32(&m, 0, 40);
	CK_REJECT(vfio_user_check_command(&m, C2S, STRICT, &why), -EBADMSG);
	poke32(&m, 0, 48);
	poke64(&m, 24, 3000);
	CK_REJECT(vfio_user_check_command(&m, C2S, STRICT, &why), -EBADMSG);
	/* argsz below the 24-byte echo */
	vfio_user_build_dma_unmap(&m, buf, sizeof(buf), 1, 0, 0x1000, 0x1000,
				  NULL);
	poke32(&m, 0, 16);
	CK_REJECT(vfio_user_check_command(&m, C2S, STRICT, &why), -EBADMSG);
}
END_TEST

START_TEST(test_set_irqs_rules)
{
	struct vfio_user_msg m;
	uint8_t buf[128];
	int fds[3] = { 10, 11, 12 };
	const uint32_t trig = VFIO_IRQ_SET_ACTION_TRIGGER;

	/* DATA_EVENTFD: 0 fds de-assigns, count fds assign, else refused */
	vfio_user_build_set_irqs(&m, buf, sizeof(buf), 1,
				 VFIO_IRQ_SET_DATA_EVENTFD | trig, 0, 1, 3,
				 NULL, fds, 3);
	CK_CALL(vfio_user_check_command(&m, C2S, STRICT, &why), 0);
	m.nfds = 0;
	CK_CALL(vfio_user_check_command(&m, C2S, STRICT, &why), 0);
	m.nfds = 2;
	CK_REJECT(vfio_user_check_command(&m, C2S, STRICT, &why), -EBADMSG);
	/* fds without DATA_EVENTFD */
	vfio_user_build_set_irqs(&m, buf, sizeof(buf), 1,
				 VFIO_IRQ_SET_DATA_NONE | trig, 0, 0, 1, NULL,
				 fds, 1);
	CK_REJECT(vfio_user_check_command(&m, C2S, STRICT, &why), -EBADMSG);
	/* two DATA flags, two ACTION flags, none */
	vfio_user_build_set_irqs(&m, buf, sizeof(buf), 1,
				 VFIO_IRQ_SET_DATA_NONE |
					 VFIO_IRQ_SET_DATA_EVENTFD | trig,
				 0, 0, 1, NULL, NULL, 0);
	CK_REJECT(vfio_user_check_command(&m, C2S, STRICT, &why), -EBADMSG);
	vfio_user_build_set_irqs(&m, buf, sizeof(buf), 1,
				 VFIO_IRQ_SET_DATA_NONE |
					 VFIO_IRQ_SET_ACTION_MASK |
					 VFIO_IRQ_SET_ACTION_UNMASK,
				 0, 0, 1, NULL, NULL, 0);
	CK_REJECT(vfio_user_check_command(&m, C2S, STRICT, &why), -EBADMSG);
	vfio_user_build_set_irqs(&m, buf, sizeof(buf), 1,
				 VFIO_IRQ_SET_DATA_NONE, 0, 0, 1, NULL, NULL,
				 0);
	CK_REJECT(vfio_user_check_command(&m, C2S, STRICT, &why), -EBADMSG);
	/* count 0: only start 0 with DATA_NONE */
	vfio_user_build_set_irqs(&m, buf, sizeof(buf), 1,
				 VFIO_IRQ_SET_DATA_NONE | trig, 0, 0, 0, NULL,
				 NULL, 0);
	CK_CALL(vfio_user_check_command(&m, C2S, STRICT, &why), 0);
	vfio_user_build_set_irqs(&m, buf, sizeof(buf), 1,
				 VFIO_IRQ_SET_DATA_NONE | trig, 0, 1, 0, NULL,
				 NULL, 0);
	CK_REJECT(vfio_user_check_command(&m, C2S, STRICT, &why), -EBADMSG);
	/* DATA_BOOL needs count bytes; DATA_NONE none */
	vfio_user_build_set_irqs(&m, buf, sizeof(buf), 1,
				 VFIO_IRQ_SET_DATA_NONE | trig, 0, 0, 2, NULL,
				 NULL, 0);
	ck_assert_uint_eq(m.payload_len, 20);
	set_len(&m, 22);
	poke32(&m, 0, 22);
	CK_REJECT(vfio_user_check_command(&m, C2S, STRICT, &why), -EBADMSG);
	vfio_user_build_set_irqs(&m, buf, sizeof(buf), 1,
				 VFIO_IRQ_SET_DATA_BOOL | trig, 0, 0, 4,
				 (const uint8_t *)"\1\1\1\1", NULL, 0);
	CK_CALL(vfio_user_check_command(&m, C2S, STRICT, &why), 0);
	set_len(&m, 23);
	poke32(&m, 0, 23);
	CK_REJECT(vfio_user_check_command(&m, C2S, STRICT, &why), -EBADMSG);
}
END_TEST

START_TEST(test_write_multi_rules)
{
	static struct pair p;
	struct vfio_user_write_multi_data w = { .count = 9 };
	struct vfio_user_msg m;
	uint8_t buf[128];

	vfio_user_build_region_write_multi(&m, buf, sizeof(buf), 1, &w, 1);
	CK_REJECT(vfio_user_check_command(&m, C2S, STRICT, &why), -EBADMSG);
	make_pair(VFIO_USER_REGION_WRITE_MULTI, &p);
	poke64(&p.cmd, 0, 3);
	CK_REJECT(vfio_user_check_command(&p.cmd, C2S, STRICT, &why), -EBADMSG);
	poke64(&p.cmd, 0, 2);
	poke64(&p.rep, 0, 3);
	CK_REJECT(vfio_user_check_reply(&p.cmd, &p.rep, STRICT, &why), -EPROTO);
}
END_TEST

START_TEST(test_device_feature_rules)
{
	const uint32_t get = VFIO_DEVICE_FEATURE_GET,
		       set = VFIO_DEVICE_FEATURE_SET,
		       probe = VFIO_DEVICE_FEATURE_PROBE;
	struct vfio_user_device_feature_mig_state st = { 0 };
	struct vfio_user_device_feature_migration mig = { 0 };
	struct vfio_user_device_feature_dma_logging_report rep = {
		.iova = 0, .length = 3 * 4096, .page_size = 4096
	};
	uint8_t rdata[32];
	uint64_t word;
	struct vfio_user_msg m, r;
	uint8_t buf[256], rbuf[256];

	vfio_user_build_device_feature(
		&m, buf, sizeof(buf), 1, 0,
		get | set | VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE, NULL, 0);
	CK_REJECT(vfio_user_check_command(&m, C2S, STRICT, &why), -EBADMSG);
	vfio_user_build_device_feature(
		&m, buf, sizeof(buf), 1, 0,
		get | set | probe | VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE, NULL,
		0);
	CK_CALL(vfio_user_check_command(&m, C2S, STRICT, &why), 0);
	vfio_user_build_device_feature(&m, buf, sizeof(buf), 1, 0,
				       VFIO_DEVICE_FEATURE_MIGRATION, NULL, 0);
	CK_REJECT(vfio_user_check_command(&m, C2S, STRICT, &why), -EBADMSG);
	vfio_user_build_device_feature(&m, buf, sizeof(buf), 1, 0, get | 5,
				       NULL, 0);
	CK_REJECT(vfio_user_check_command(&m, C2S, STRICT, &why), -ENOTSUP);
	vfio_user_build_device_feature(
		&m, buf, sizeof(buf), 1, 0,
		get | (1u << 20) | VFIO_DEVICE_FEATURE_MIGRATION, NULL, 0);
	CK_REJECT(vfio_user_check_command(&m, C2S, STRICT, &why), -EBADMSG);
	/* MIGRATION is GET-only; DMA_LOGGING_START is SET-only */
	vfio_user_build_device_feature(&m, buf, sizeof(buf), 1, 0,
				       set | VFIO_DEVICE_FEATURE_MIGRATION,
				       &mig, sizeof(mig));
	CK_REJECT(vfio_user_check_command(&m, C2S, STRICT, &why), -EPROTO);
	vfio_user_build_device_feature(
		&m, buf, sizeof(buf), 1, 0,
		get | VFIO_DEVICE_FEATURE_DMA_LOGGING_START, NULL, 0);
	CK_REJECT(vfio_user_check_command(&m, C2S, STRICT, &why), -EPROTO);
	/* states: ERROR cannot be set, P2P not used, 9 is no state */
	vfio_user_build_mig_state_set(&m, buf, sizeof(buf), 1,
				      VFIO_DEVICE_STATE_STOP);
	CK_CALL(vfio_user_check_command(&m, C2S, STRICT, &why), 0);
	vfio_user_build_mig_state_set(&m, buf, sizeof(buf), 1,
				      VFIO_DEVICE_STATE_ERROR);
	CK_REJECT(vfio_user_check_command(&m, C2S, STRICT, &why), -EPROTO);
	vfio_user_build_mig_state_set(&m, buf, sizeof(buf), 1,
				      VFIO_DEVICE_STATE_RUNNING_P2P);
	CK_REJECT(vfio_user_check_command(&m, C2S, STRICT, &why), -EPROTO);
	vfio_user_build_mig_state_set(&m, buf, sizeof(buf), 1, 9);
	CK_REJECT(vfio_user_check_command(&m, C2S, STRICT, &why), -EBADMSG);
	/* SET reply echoes the request */
	vfio_user_build_mig_state_set(&m, buf, sizeof(buf), 1,
				      VFIO_DEVICE_STATE_STOP);
	st.device_state = VFIO_DEVICE_STATE_STOP;
	vfio_user_build_device_feature_reply(
		&r, rbuf, sizeof(rbuf), &m.hdr,
		set | VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE, &st, sizeof(st));
	CK_CALL(vfio_user_check_reply(&m, &r, STRICT, &why),
		VFIO_USER_REPLY_OK);
	poke32(&r, 8, VFIO_DEVICE_STATE_RUNNING);
	CK_REJECT(vfio_user_check_reply(&m, &r, STRICT, &why), -EPROTO);
	/* GET argsz must hold the data */
	vfio_user_build_device_feature(&m, buf, sizeof(buf), 1, 12,
				       get | VFIO_DEVICE_FEATURE_MIGRATION,
				       NULL, 0);
	CK_REJECT(vfio_user_check_command(&m, C2S, STRICT, &why), -EBADMSG);
	/* GET MIGRATION reply must have STOP_COPY */
	vfio_user_build_device_feature(&m, buf, sizeof(buf), 1, 0,
				       get | VFIO_DEVICE_FEATURE_MIGRATION,
				       NULL, 0);
	CK_CALL(vfio_user_check_command(&m, C2S, STRICT, &why), 0);
	mig.flags = VFIO_MIGRATION_PRE_COPY;
	vfio_user_build_device_feature_reply(
		&r, rbuf, sizeof(rbuf), &m.hdr,
		get | VFIO_DEVICE_FEATURE_MIGRATION, &mig, sizeof(mig));
	CK_REJECT(vfio_user_check_reply(&m, &r, STRICT, &why), -EPROTO);
	mig.flags |= VFIO_MIGRATION_STOP_COPY;
	vfio_user_build_device_feature_reply(
		&r, rbuf, sizeof(rbuf), &m.hdr,
		get | VFIO_DEVICE_FEATURE_MIGRATION, &mig, sizeof(mig));
	CK_CALL(vfio_user_check_reply(&m, &r, STRICT, &why),
		VFIO_USER_REPLY_OK);
	/* REPORT: page_size a power of two; bits past the range zero */
	vfio_user_build_dma_logging_report(&m, buf, sizeof(buf), 1, 0, 3 * 4096,
					   3000);
	CK_REJECT(vfio_user_check_command(&m, C2S, STRICT, &why), -EBADMSG);
	vfio_user_build_dma_logging_report(&m, buf, sizeof(buf), 1, 0, 3 * 4096,
					   4096);
	CK_CALL(vfio_user_check_command(&m, C2S, STRICT, &why), 0);
	ck_assert_uint_eq(vfio_user_dirty_bitmap_size(3 * 4096, 4096), 8);
	ck_assert_uint_eq(vfio_user_dirty_bitmap_size(65 * 4096, 4096), 16);
	memset(rdata, 0, sizeof(rdata));
	memcpy(rdata, &rep, sizeof(rep));
	word = 0x7; /* pages 0-2 of 3 */
	memcpy(rdata + 24, &word, 8);
	vfio_user_build_device_feature_reply(
		&r, rbuf, sizeof(rbuf), &m.hdr,
		get | VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT, rdata, 32);
	CK_CALL(vfio_user_check_reply(&m, &r, STRICT, &why),
		VFIO_USER_REPLY_OK);
	word = 0xf; /* page 3 is outside */
	memcpy(rdata + 24, &word, 8);
	vfio_user_build_device_feature_reply(
		&r, rbuf, sizeof(rbuf), &m.hdr,
		get | VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT, rdata, 32);
	CK_REJECT(vfio_user_check_reply(&m, &r, STRICT, &why), -EPROTO);
	/* a reply whose argsz asks for more than the request allowed */
	vfio_user_build_device_feature(&m, buf, sizeof(buf), 1, 0,
				       get | VFIO_DEVICE_FEATURE_MIGRATION,
				       NULL, 0);
	vfio_user_build_reply(&r, rbuf, sizeof(rbuf), &m.hdr, m.payload, 8,
			      NULL, 0);
	poke32(&r, 0, 64);
	CK_CALL(vfio_user_check_reply(&m, &r, STRICT, &why),
		VFIO_USER_REPLY_RETRY);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Reply checks                                                        */
/* ------------------------------------------------------------------ */

START_TEST(test_reply_header_rules)
{
	static struct pair p;
	struct vfio_user_msg e;
	uint8_t ebuf[64];
	int fd = 3;

	make_pair(VFIO_USER_DEVICE_GET_INFO, &p);
	p.rep.hdr.msg_id++;
	CK_REJECT(vfio_user_check_reply(&p.cmd, &p.rep, STRICT, &why), -EPROTO);
	p.rep.hdr.msg_id--;
	p.rep.hdr.command = VFIO_USER_DEVICE_GET_IRQ_INFO;
	CK_REJECT(vfio_user_check_reply(&p.cmd, &p.rep, STRICT, &why), -EPROTO);
	p.rep.hdr.command = VFIO_USER_DEVICE_GET_INFO;
	/* missing reply type */
	p.rep.hdr.flags = VFIO_USER_F_TYPE_COMMAND;
	CK_REJECT(vfio_user_check_reply(&p.cmd, &p.rep, STRICT, &why),
		  -EBADMSG);
	p.rep.hdr.flags = 3;
	CK_REJECT(vfio_user_check_reply(&p.cmd, &p.rep, STRICT, &why),
		  -EBADMSG);
	p.rep.hdr.flags = VFIO_USER_F_TYPE_REPLY | VFIO_USER_F_NO_REPLY;
	CK_REJECT(vfio_user_check_reply(&p.cmd, &p.rep, STRICT, &why),
		  -EBADMSG);
	/* Error bit with a payload */
	p.rep.hdr.flags = VFIO_USER_F_TYPE_REPLY | VFIO_USER_F_ERROR;
	p.rep.hdr.error = 22;
	CK_REJECT(vfio_user_check_reply(&p.cmd, &p.rep, STRICT, &why),
		  -EBADMSG);
	/* error field without the Error bit */
	p.rep.hdr.flags = VFIO_USER_F_TYPE_REPLY;
	CK_REJECT(vfio_user_check_reply(&p.cmd, &p.rep, STRICT, &why),
		  -EBADMSG);
	CK_CALL(vfio_user_check_reply(&p.cmd, &p.rep,
				      VFIO_USER_CHECK_LENIENT_HDR, &why),
		VFIO_USER_REPLY_OK);
	p.rep.hdr.error = 0;
	/* a proper error reply, errno may even be 0 */
	vfio_user_build_error_reply(&e, ebuf, sizeof(ebuf), &p.cmd.hdr, 22);
	CK_CALL(vfio_user_check_reply(&p.cmd, &e, STRICT, &why),
		VFIO_USER_REPLY_ERROR);
	vfio_user_build_error_reply(&e, ebuf, sizeof(ebuf), &p.cmd.hdr, 0);
	CK_CALL(vfio_user_check_reply(&p.cmd, &e, STRICT, &why),
		VFIO_USER_REPLY_ERROR);
	vfio_user_msg_set_fds(&e, &fd, 1);
	CK_REJECT(vfio_user_check_reply(&p.cmd, &e, STRICT, &why), -EBADMSG);
	/* no reply is owed to a No_reply command */
	p.cmd.hdr.flags |= VFIO_USER_F_NO_REPLY;
	CK_REJECT(vfio_user_check_reply(&p.cmd, &p.rep, STRICT, &why), -EPROTO);
	p.cmd.hdr.flags &= ~VFIO_USER_F_NO_REPLY;
	/* fds on a reply that takes none */
	vfio_user_msg_set_fds(&p.rep, &fd, 1);
	CK_REJECT(vfio_user_check_reply(&p.cmd, &p.rep, STRICT, &why),
		  -EBADMSG);
	vfio_user_msg_set_fds(&p.rep, NULL, 0);
	/* "This version of the protocol only supports PCI devices." */
	poke32(&p.rep, 4, VFIO_DEVICE_FLAGS_RESET);
	CK_REJECT(vfio_user_check_reply(&p.cmd, &p.rep, STRICT, &why), -EPROTO);
	poke32(&p.rep, 4, VFIO_DEVICE_FLAGS_PCI);
	/* a reply argsz above the request's: "I needed more", retry */
	poke32(&p.rep, 0, 20);
	CK_CALL(vfio_user_check_reply(&p.cmd, &p.rep, STRICT, &why),
		VFIO_USER_REPLY_RETRY);
	/* ... but within it, argsz must be what came */
	poke32(&p.cmd, 0, 4096);
	CK_REJECT(vfio_user_check_reply(&p.cmd, &p.rep, STRICT, &why),
		  -EBADMSG);
	poke32(&p.rep, 0, 8);
	CK_REJECT(vfio_user_check_reply(&p.cmd, &p.rep, STRICT, &why),
		  -EBADMSG);
}
END_TEST

START_TEST(test_version_reply_rules)
{
	static struct pair p;
	uint8_t *data;

	make_pair(VFIO_USER_VERSION, &p);
	poke32(&p.rep, 0, 1 | (1u << 16)); /* major 1 minor 1 */
	CK_REJECT(vfio_user_check_reply(&p.cmd, &p.rep, STRICT, &why), -EPROTO);
	poke32(&p.rep, 0, 0 | (3u << 16)); /* minor 3 > 2 */
	CK_REJECT(vfio_user_check_reply(&p.cmd, &p.rep, STRICT, &why), -EPROTO);
	poke32(&p.rep, 0, 0 | (2u << 16));
	CK_CALL(vfio_user_check_reply(&p.cmd, &p.rep, STRICT, &why),
		VFIO_USER_REPLY_OK);
	/* the JSON must end in its NUL, with nothing after */
	data = (uint8_t *)p.cmd.payload;
	data[p.cmd.payload_len - 1] = '}';
	CK_REJECT(vfio_user_check_command(&p.cmd, C2S, STRICT, &why), -EBADMSG);
	data[p.cmd.payload_len - 1] = 0;
	data[p.cmd.payload_len - 2] = 0;
	CK_REJECT(vfio_user_check_command(&p.cmd, C2S, STRICT, &why), -EBADMSG);
	/* no JSON at all is fine; fewer than 4 bytes is not */
	set_len(&p.cmd, 4);
	CK_CALL(vfio_user_check_command(&p.cmd, C2S, STRICT, &why), 0);
	set_len(&p.cmd, 3);
	CK_REJECT(vfio_user_check_command(&p.cmd, C2S, STRICT, &why), -EBADMSG);
}
END_TEST

START_TEST(test_region_info_replies)
{
	struct vfio_user_region_info info = {
		.flags =
			VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_MMAP,
		.index = 2,
		.size = 0x4000,
	};
	struct region_caps caps;
	struct vfio_user_msg c, r;
	uint8_t cbuf[64], rbuf[256];
	int fds[2] = { 7, 8 };

	make_region_caps(&caps);
	/* argsz too small for the caps: argsz tells, no caps, retry */
	vfio_user_build_region_info(&c, cbuf, sizeof(cbuf), 1, 0, 2);
	vfio_user_build_region_info_reply(&r, rbuf, sizeof(rbuf), &c.hdr, 32,
					  &info, &caps, sizeof(caps), 7);
	ck_assert_uint_eq(r.payload_len, 32);
	ck_assert_uint_eq(r.nfds, 0);
	CK_CALL(vfio_user_check_reply(&c, &r, STRICT, &why),
		VFIO_USER_REPLY_RETRY);
	/* retry with what it said */
	vfio_user_build_region_info(&c, cbuf, sizeof(cbuf), 2,
				    32 + sizeof(caps), 2);
	vfio_user_build_region_info_reply(&r, rbuf, sizeof(rbuf), &c.hdr,
					  32 + sizeof(caps), &info, &caps,
					  sizeof(caps), 7);
	CK_CALL(vfio_user_check_reply(&c, &r, STRICT, &why),
		VFIO_USER_REPLY_OK);
	/* one fd per sparse area is accepted too (libvfio-user) */
	vfio_user_msg_set_fds(&r, fds, 2);
	CK_CALL(vfio_user_check_reply(&c, &r, STRICT, &why),
		VFIO_USER_REPLY_OK);
	/* MMAP without an fd */
	vfio_user_msg_set_fds(&r, fds, 0);
	CK_REJECT(vfio_user_check_reply(&c, &r, STRICT, &why), -EBADMSG);
	vfio_user_msg_set_fds(&r, fds, 1);
	/* index not echoed */
	poke32(&r, 8, 3);
	CK_REJECT(vfio_user_check_reply(&c, &r, STRICT, &why), -EPROTO);
	poke32(&r, 8, 2);
	/* sparse area outside the region */
	poke64(&r, 32 + 16 + 16, 0x3800);
	CK_REJECT(vfio_user_check_reply(&c, &r, STRICT, &why), -EBADMSG);
	poke64(&r, 32 + 16 + 16, 0x3000);
	/* a chain that loops */
	poke32(&r, 32 + offsetof(struct region_caps, type) + 4, 32);
	CK_REJECT(vfio_user_check_reply(&c, &r, STRICT, &why), -EBADMSG);
	/* a chain that leaves the reply */
	poke32(&r, 32 + offsetof(struct region_caps, type) + 4, 4000);
	CK_REJECT(vfio_user_check_reply(&c, &r, STRICT, &why), -EBADMSG);
	poke32(&r, 32 + offsetof(struct region_caps, type) + 4, 0);
	CK_CALL(vfio_user_check_reply(&c, &r, STRICT, &why),
		VFIO_USER_REPLY_OK);
	/* fds for a region that cannot be mapped */
	info.flags = VFIO_REGION_INFO_FLAG_READ;
	vfio_user_build_region_info_reply(&r, rbuf, sizeof(rbuf), &c.hdr, 4096,
					  &info, NULL, 0, 7);
	CK_REJECT(vfio_user_check_reply(&c, &r, STRICT, &why), -EBADMSG);
}
END_TEST

START_TEST(test_io_fds_replies)
{
	static struct pair p;
	struct vfio_user_sub_region_io_fd sub = { .offset = 0x10,
						  .size = 4,
						  .type = 0 };
	struct vfio_user_region_io_fds head = { .argsz = 16 + 2 * 48,
						.count = 2 };
	struct vfio_user_msg c, r;
	uint8_t cbuf[64], rbuf[256], payload[16 + 2 * 48];
	int fd = 9;

	make_pair(VFIO_USER_DEVICE_GET_REGION_IO_FDS, &p);
	/* fd_index past the fds that came */
	vfio_user_msg_set_fds(&p.rep, &fd, 1);
	CK_REJECT(vfio_user_check_reply(&p.cmd, &p.rep, STRICT, &why),
		  -EBADMSG);
	vfio_user_msg_set_fds(&p.rep, p.cmd.fds, 0);
	CK_REJECT(vfio_user_check_reply(&p.cmd, &p.rep, STRICT, &why),
		  -EBADMSG);
	/* unknown type */
	make_pair(VFIO_USER_DEVICE_GET_REGION_IO_FDS, &p);
	poke32(&p.rep, 16 + 20, 7);
	CK_REJECT(vfio_user_check_reply(&p.cmd, &p.rep, STRICT, &why),
		  -EBADMSG);
	/* reply flags must be zero */
	make_pair(VFIO_USER_DEVICE_GET_REGION_IO_FDS, &p);
	poke32(&p.rep, 4, 1);
	CK_REJECT(vfio_user_check_reply(&p.cmd, &p.rep, STRICT, &why),
		  -EBADMSG);
	/* argsz too small: count and argsz, no entries: retry */
	vfio_user_build_region_io_fds(&c, cbuf, sizeof(cbuf), 1, 16, 0);
	vfio_user_build_region_io_fds_reply(&r, rbuf, sizeof(rbuf), &c.hdr, 16,
					    0, &sub, 1, &fd, 1);
	ck_assert_uint_eq(r.payload_len, 16);
	ck_assert_uint_eq(r.nfds, 0);
	CK_CALL(vfio_user_check_reply(&c, &r, STRICT, &why),
		VFIO_USER_REPLY_RETRY);
	/* 48-byte entries (libvfio-user's) at stride (argsz - 16) / count */
	vfio_user_build_region_io_fds(&c, cbuf, sizeof(cbuf), 1, 4096, 0);
	memset(payload, 0, sizeof(payload));
	memcpy(payload, &head, sizeof(head));
	memcpy(payload + 16, &sub, sizeof(sub));
	memcpy(payload + 16 + 48, &sub, sizeof(sub));
	vfio_user_build_reply(&r, rbuf, sizeof(rbuf), &c.hdr, payload,
			      sizeof(payload), &fd, 1);
	CK_CALL(vfio_user_check_reply(&c, &r, STRICT, &why),
		VFIO_USER_REPLY_OK);
	CK_CALL(vfio_user_get_sub_region(&r, 1, &sub, &why), 0);
	ck_assert_uint_eq(sub.offset, 0x10);
	/* ioregionfd of size 0 needs POSTED_WRITES */
	poke32(&r, 16 + 20, VFIO_USER_IO_FD_TYPE_IOREGIONFD);
	poke64(&r, 16 + 8, 0);
	CK_REJECT(vfio_user_check_reply(&c, &r, STRICT, &why), -EBADMSG);
}
END_TEST

START_TEST(test_data_replies)
{
	static struct pair p;
	struct vfio_user_msg r;
	uint8_t rbuf[64];

	make_pair(VFIO_USER_REGION_READ, &p);
	poke32(&p.rep, 12, 3);
	CK_REJECT(vfio_user_check_reply(&p.cmd, &p.rep, STRICT, &why),
		  -EBADMSG);
	set_len(&p.rep, 19);
	CK_REJECT(vfio_user_check_reply(&p.cmd, &p.rep, STRICT, &why), -EPROTO);
	make_pair(VFIO_USER_REGION_WRITE, &p);
	poke64(&p.rep, 0, 0x28);
	CK_REJECT(vfio_user_check_reply(&p.cmd, &p.rep, STRICT, &why), -EPROTO);
	/* DMA_WRITE reply: 12 (spec) and 16 (libvfio-user) bytes, not 0 */
	make_pair(VFIO_USER_DMA_WRITE, &p);
	vfio_user_build_dma_write_reply(&r, rbuf, sizeof(rbuf), &p.cmd.hdr,
					0x100800, 5, true);
	ck_assert_uint_eq(r.payload_len, 16);
	CK_CALL(vfio_user_check_reply(&p.cmd, &r, STRICT, &why),
		VFIO_USER_REPLY_OK);
	vfio_user_build_reply(&r, rbuf, sizeof(rbuf), &p.cmd.hdr, NULL, 0, NULL,
			      0);
	CK_REJECT(vfio_user_check_reply(&p.cmd, &r, STRICT, &why), -EBADMSG);
	/* DMA_READ reply with another address */
	make_pair(VFIO_USER_DMA_READ, &p);
	poke64(&p.rep, 0, 0x100801);
	CK_REJECT(vfio_user_check_reply(&p.cmd, &p.rep, STRICT, &why), -EPROTO);
	/* MIG_DATA_READ: more than asked */
	make_pair(VFIO_USER_MIG_DATA_READ, &p);
	poke32(&p.cmd, 4, 5);
	CK_REJECT(vfio_user_check_reply(&p.cmd, &p.rep, STRICT, &why), -EPROTO);
	/* DMA_UNMAP reply is the echo of the entry */
	make_pair(VFIO_USER_DMA_UNMAP, &p);
	poke64(&p.rep, 16, 0x20000);
	CK_REJECT(vfio_user_check_reply(&p.cmd, &p.rep, STRICT, &why), -EPROTO);
}
END_TEST

START_TEST(test_xfer_limits)
{
	static struct pair p;
	uint64_t count;

	make_pair(VFIO_USER_REGION_WRITE, &p);
	CK_CALL(vfio_user_xfer_count(&p.cmd, &count, &why), 1);
	ck_assert_uint_eq(count, 9);
	CK_CALL(vfio_user_check_xfer(&p.cmd, 9, &why), 0);
	CK_REJECT(vfio_user_check_xfer(&p.cmd, 8, &why), -EMSGSIZE);
	make_pair(VFIO_USER_MIG_DATA_READ, &p);
	CK_REJECT(vfio_user_check_xfer(&p.cmd, 4, &why), -EMSGSIZE);
	CK_REJECT(vfio_user_check_xfer(&p.rep, 4, &why), -EMSGSIZE);
	make_pair(VFIO_USER_DMA_WRITE, &p);
	CK_CALL(vfio_user_xfer_count(&p.rep, &count, &why), 1);
	ck_assert_uint_eq(count, 5);
	make_pair(VFIO_USER_DEVICE_GET_INFO, &p);
	CK_CALL(vfio_user_xfer_count(&p.cmd, &count, &why), 0);
	CK_CALL(vfio_user_check_xfer(&p.cmd, 0, &why), 0);
}
END_TEST

/* The wire layer never opens, closes or dups an fd. */
START_TEST(test_fds_untouched)
{
	static struct pair p;
	struct vfio_user_msg m;
	uint8_t buf[128];
	char line[256];
	int pfd[2];

	ck_assert_int_eq(pipe(pfd), 0);
	vfio_user_build_dma_map(&m, buf, sizeof(buf), 1,
				VFIO_USER_F_DMA_REGION_MMAP, 0, 0x1000, 0x1000,
				pfd[0]);
	CK_CALL(vfio_user_check_command(&m, C2S, STRICT, &why), 0);
	vfio_user_describe(&m, line, sizeof(line));
	make_pair(VFIO_USER_DEVICE_SET_IRQS, &p);
	vfio_user_msg_set_fds(&p.cmd, pfd, 2);
	CK_CALL(vfio_user_check_command(&p.cmd, C2S, STRICT, &why), 0);
	ck_assert_int_ge(fcntl(pfd[0], F_GETFD), 0);
	ck_assert_int_ge(fcntl(pfd[1], F_GETFD), 0);
	ck_assert_int_eq(m.fds[0], pfd[0]);
	close(pfd[0]);
	close(pfd[1]);
}
END_TEST

/* ------------------------------------------------------------------ */
/* describe()                                                          */
/* ------------------------------------------------------------------ */

START_TEST(test_describe_lines)
{
	static struct pair p;
	struct vfio_user_msg m;
	uint8_t buf[128];
	char line[256];

	vfio_user_build_dma_map(&m, buf, sizeof(buf), 3,
				VFIO_USER_F_DMA_REGION_READ |
					VFIO_USER_F_DMA_REGION_WRITE |
					VFIO_USER_F_DMA_REGION_MMAP,
				0, 0x100000, 0x10000, 42);
	vfio_user_describe(&m, line, sizeof(line));
	ck_assert_str_eq(line, "VFIO_USER_DMA_MAP id=3 cmd size=48 {argsz=32 "
			       "flags=R|W|MMAP offset=0x0 addr=0x100000 "
			       "size=0x10000} fds=1");
	set_len(&m, 12);
	vfio_user_describe(&m, line, sizeof(line));
	ck_assert_msg(strstr(line, "{malformed: payload size 12"), "%s", line);
	vfio_user_build_error_reply(&m, buf, sizeof(buf), &m.hdr, EINVAL);
	vfio_user_describe(&m, line, sizeof(line));
	ck_assert_str_eq(line, "VFIO_USER_DMA_MAP id=3 reply,error=22(EINVAL) "
			       "size=16 fds=0");
	make_pair(VFIO_USER_DEVICE_FEATURE, &p);
	vfio_user_describe(&p.rep, line, sizeof(line));
	ck_assert_msg(strstr(line, "flags=GET|MIG_DEVICE_STATE state=RUNNING"),
		      "%s", line);
	make_pair(VFIO_USER_REGION_READ, &p);
	vfio_user_describe(&p.rep, line, sizeof(line));
	ck_assert_msg(strstr(line, "data=[01 02 03 04]"), "%s", line);
	make_pair(VFIO_USER_VERSION, &p);
	vfio_user_describe(&p.cmd, line, sizeof(line));
	ck_assert_msg(strstr(line, "major=0 minor=2 json={\"capabilities\""),
		      "%s", line);
	make_pair(VFIO_USER_DEVICE_RESET, &p);
	vfio_user_describe(&p.cmd, line, sizeof(line));
	ck_assert_str_eq(line, "VFIO_USER_DEVICE_RESET id=13 cmd size=16 "
			       "fds=0");
}
END_TEST

/* Every cap from 0 up, in exact-size heap buffers: never a byte past. */
START_TEST(test_describe_tiny_buffers)
{
	const struct vfio_user_rule *r;
	static struct pair p;
	char full[512], *b;
	size_t cap, flen;
	int side, n;

	vfio_user_for_each_rule (r) {
		make_pair(r->code, &p);
		for (side = 0; side < 2; side++) {
			const struct vfio_user_msg *m = side ? &p.rep : &p.cmd;

			flen = (size_t)vfio_user_describe(m, full,
							  sizeof(full));
			ck_assert_uint_eq(flen, strlen(full));
			ck_assert_uint_lt(flen, sizeof(full) - 1);
			ck_assert_int_eq(vfio_user_describe(m, NULL, 0), 0);
			for (cap = 1; cap <= flen + 1; cap++) {
				b = malloc(cap);
				ck_assert_ptr_nonnull(b);
				n = vfio_user_describe(m, b, cap);
				ck_assert_int_lt(n, (int)cap);
				ck_assert_uint_eq(strlen(b), (size_t)n);
				if (cap == flen + 1)
					ck_assert_str_eq(b, full);
				else if (cap >= 4)
					ck_assert_str_eq(b + n - 3, "...");
				free(b);
			}
		}
	}
}
END_TEST

/* xorshift: the same "random" messages on every run */
static uint32_t rnd_state = 0x2545f491;

static uint32_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 17;
	rnd_state ^= rnd_state << 5;
	return rnd_state;
}

/*
 * Valid messages with a few bytes changed, and plain noise, in exact-size
 * heap buffers: no check, getter or trace line may crash or over-read,
 * and every refusal says why.
 */
START_TEST(test_mutated_messages)
{
	const struct vfio_user_rule *r;
	static struct pair p;
	struct vfio_user_msg m;
	int fds[4] = { 20, 21, 22, 23 };
	char line[96];
	const uint8_t *src;
	uint8_t *wire;
	unsigned int i, k, len, src_len, flips;
	int ret;

	for (i = 0; i < 40000; i++) {
		r = vfio_user_rule(1 + rnd() % VFIO_USER_CMD_MAX);
		if (!r)
			continue;
		make_pair(r->code, &p);
		src = rnd() % 2 ? p.rbuf : p.cbuf;
		src_len = (unsigned int)(src == p.rbuf ? p.rlen : p.clen);
		len = rnd() % 4 ? src_len : 16 + rnd() % 64;
		wire = malloc(len);
		ck_assert_ptr_nonnull(wire);
		for (k = 0; k < len; k++)
			wire[k] = k < src_len ? src[k] : (uint8_t)rnd();
		for (flips = rnd() % 4; flips && len > 16; flips--)
			wire[16 + rnd() % (len - 16)] ^=
				(uint8_t)(1u << rnd() % 8);
		if (rnd() % 8 == 0)
			wire[8 + rnd() % 8] ^= (uint8_t)rnd();
		((struct vfio_user_hdr *)(void *)wire)->msg_size = len;
		vfio_user_msg_init(&m);
		ret = vfio_user_parse(&m, wire, len, 0, &why);
		if (ret > 0) {
			vfio_user_msg_set_fds(&m, fds, rnd() % 4);
			why = NULL;
			ret = vfio_user_check_command(&m, r->dir, STRICT, &why);
			ck_assert_msg(ret >= 0 || why, "command %u: no why",
				      r->code);
			why = NULL;
			ret = vfio_user_check_reply(&p.cmd, &m, STRICT, &why);
			ck_assert_msg(ret >= 0 || why, "reply %u: no why",
				      r->code);
			vfio_user_describe(&m, line, sizeof(line));
		}
		free(wire);
	}
}
END_TEST

/* ------------------------------------------------------------------ */
/* Capabilities JSON                                                   */
/* ------------------------------------------------------------------ */

static int parse_str(struct vfio_user_caps *c, const char *s)
{
	return vfio_user_caps_parse(c, s, strlen(s) + 1, &why);
}

START_TEST(test_caps_good)
{
	static const char full[] =
		"{\"capabilities\":{\"max_msg_fds\":8,"
		"\"max_data_xfer_size\":65536,\"max_dma_maps\":100,"
		"\"pgsizes\":12288,\"write_multiple\":true,"
		"\"twin_socket\":{\"supported\":true,\"fd_index\":0},"
		"\"migration\":{\"pgsize\":4096,\"max_bitmap_size\":1024}}}";
	struct vfio_user_caps c;

	CK_CALL(parse_str(&c, full), 0);
	ck_assert_uint_eq(c.max_msg_fds, 8);
	ck_assert_uint_eq(c.max_data_xfer_size, 65536);
	ck_assert_uint_eq(c.max_dma_maps, 100);
	ck_assert_uint_eq(c.pgsizes, 12288);
	ck_assert(c.write_multiple);
	ck_assert(c.twin_socket_supported);
	ck_assert_uint_eq(c.twin_socket_fd_index, 0);
	ck_assert_uint_eq(c.migration_max_bitmap_size, 1024);
	ck_assert(c.present & VFIO_USER_CAP_TWIN_FD_INDEX);
	ck_assert_uint_eq(c.n_unknown, 0);
	CK_CALL(vfio_user_caps_check(&c, true, &why), 0);
	CK_REJECT(vfio_user_caps_check(&c, false, &why), -EBADMSG);
	/* a full-width number is not truncated */
	CK_CALL(parse_str(&c, "{\"capabilities\":{\"max_data_xfer_size\":"
			      "4294967296}}"),
		0);
	ck_assert_uint_eq(c.max_data_xfer_size, 4294967296ull);
}
END_TEST

START_TEST(test_caps_defaults)
{
	struct vfio_user_caps c;
	static struct pair p;

	CK_CALL(vfio_user_caps_parse(&c, NULL, 0, &why), 0);
	ck_assert_uint_eq(c.present, 0);
	ck_assert_uint_eq(c.max_msg_fds, 1);
	ck_assert_uint_eq(c.max_data_xfer_size, 1048576);
	ck_assert_uint_eq(c.max_dma_maps, 65535);
	ck_assert_uint_eq(c.pgsizes, 4096);
	ck_assert(!c.write_multiple);
	ck_assert(!c.twin_socket_supported);
	CK_CALL(parse_str(&c, "{}"), 0);
	ck_assert_uint_eq(c.present, 0);
	CK_CALL(parse_str(&c, " {\"capabilities\":{}} \n"), 0);
	ck_assert_uint_eq(c.present, VFIO_USER_CAP_OBJECT);
	ck_assert_uint_eq(c.max_msg_fds, 1);
	/* from a VERSION message */
	make_pair(VFIO_USER_VERSION, &p);
	CK_CALL(vfio_user_caps_from_version(&c, &p.cmd, &why), 0);
	ck_assert_uint_eq(c.max_msg_fds, 8);
	set_len(&p.cmd, 4);
	CK_CALL(vfio_user_caps_from_version(&c, &p.cmd, &why), 0);
	ck_assert_uint_eq(c.max_msg_fds, 1);
	make_pair(VFIO_USER_DEVICE_RESET, &p);
	CK_REJECT(vfio_user_caps_from_version(&c, &p.cmd, &why), -EBADMSG);
}
END_TEST

START_TEST(test_caps_unknown_keys_are_reported)
{
	struct vfio_user_caps c;

	CK_CALL(parse_str(&c, "{\"capabilities\":{\"max_msg_fds\":2,"
			      "\"shiny\":[1,2],\"twin_socket\":{\"x\":1},"
			      "\"migration\":{\"y\":null}},\"extra\":1}"),
		0);
	ck_assert_uint_eq(c.max_msg_fds, 2);
	ck_assert_uint_eq(c.n_unknown, 4);
	ck_assert_str_eq(c.unknown[0], "capabilities.shiny");
	ck_assert_str_eq(c.unknown[1], "twin_socket.x");
	ck_assert_str_eq(c.unknown[2], "migration.y");
	ck_assert_str_eq(c.unknown[3], "extra");
}
END_TEST

START_TEST(test_caps_bad_forms)
{
	static const char *const bad[] = {
		"",
		"{",
		"\"",
		"[1]",
		"23",
		"{} x",
		"{}{}",
		"{\"capabilities\":23}",
		"{\"capabilities\":[]}",
		"{\"capabilities\":{\"max_msg_fds\":\"foo\"}}",
		"{\"capabilities\":{\"max_msg_fds\":-1}}",
		"{\"capabilities\":{\"max_msg_fds\":1.5}}",
		"{\"capabilities\":{\"max_msg_fds\":1e3}}",
		"{\"capabilities\":{\"max_msg_fds\":true}}",
		("{\"capabilities\":{\"max_data_xfer_size\":"
		 "18446744073709551616}}"),
		"{\"capabilities\":{\"pgsizes\":null}}",
		"{\"capabilities\":{\"write_multiple\":1}}",
		"{\"capabilities\":{\"twin_socket\":true}}",
		"{\"capabilities\":{\"twin_socket\":{\"supported\":\"yes\"}}}",
		"{\"capabilities\":{\"twin_socket\":{\"fd_index\":-2}}}",
		"{\"capabilities\":{\"migration\":\"23\"}}",
		"{\"capabilities\":{\"migration\":{\"pgsize\":\"foo\"}}}",
		"{\"capabilities\":{\"max_msg_fds\":\"\xff\"}}",
	};
	struct vfio_user_caps c;
	const char no_nul[] = { '{', '}' };
	const char after_nul[] = { '{', '}', 0, 'x', 0 };
	size_t i;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		why = NULL;
		ck_assert_msg(parse_str(&c, bad[i]) == -EBADMSG, "accepted %s",
			      bad[i]);
		ck_assert_msg(why != NULL, "no why for %s", bad[i]);
		/* failure leaves the defaults */
		ck_assert_uint_eq(c.present, 0);
		ck_assert_uint_eq(c.max_msg_fds, 1);
	}
	CK_REJECT(vfio_user_caps_parse(&c, no_nul, sizeof(no_nul), &why),
		  -EBADMSG);
	CK_REJECT(vfio_user_caps_parse(&c, after_nul, sizeof(after_nul), &why),
		  -EBADMSG);
	/* semantic refusals */
	CK_CALL(parse_str(&c, "{\"capabilities\":{\"max_data_xfer_size\":0}}"),
		0);
	CK_REJECT(vfio_user_caps_check(&c, false, &why), -EBADMSG);
	CK_CALL(parse_str(&c, "{\"capabilities\":{\"pgsizes\":0}}"), 0);
	CK_REJECT(vfio_user_caps_check(&c, false, &why), -EBADMSG);
	CK_CALL(parse_str(&c, "{\"capabilities\":{\"migration\":"
			      "{\"pgsize\":4095}}}"),
		0);
	CK_REJECT(vfio_user_caps_check(&c, false, &why), -EBADMSG);
}
END_TEST

START_TEST(test_caps_twin_socket_negotiation)
{
	struct vfio_user_caps want, got;

	CK_CALL(parse_str(&want, "{\"capabilities\":{\"twin_socket\":"
				 "{\"supported\":true}}}"),
		0);
	CK_CALL(parse_str(&got, "{\"capabilities\":{\"twin_socket\":"
				"{\"supported\":true,\"fd_index\":0}}}"),
		0);
	CK_CALL(vfio_user_caps_check_reply(&want, &got, 1, &why), 1);
	CK_REJECT(vfio_user_caps_check_reply(&want, &got, 0, &why), -EPROTO);
	CK_REJECT(vfio_user_caps_check_reply(&want, &got, 2, &why), -EBADMSG);
	CK_CALL(parse_str(&got, "{\"capabilities\":{\"twin_socket\":"
				"{\"supported\":true}}}"),
		0);
	CK_REJECT(vfio_user_caps_check_reply(&want, &got, 1, &why), -EPROTO);
	/* declined: no twin socket, and then no fds either */
	CK_CALL(parse_str(&got, "{\"capabilities\":{}}"), 0);
	CK_CALL(vfio_user_caps_check_reply(&want, &got, 0, &why), 0);
	CK_REJECT(vfio_user_caps_check_reply(&want, &got, 1, &why), -EBADMSG);
	/* not proposed: the server may not enable it, nor write_multiple */
	CK_CALL(parse_str(&want, "{}"), 0);
	CK_CALL(parse_str(&got, "{\"capabilities\":{\"twin_socket\":"
				"{\"supported\":true,\"fd_index\":0}}}"),
		0);
	CK_REJECT(vfio_user_caps_check_reply(&want, &got, 1, &why), -EPROTO);
	CK_CALL(parse_str(&got, "{\"capabilities\":{\"write_multiple\":"
				"true}}"),
		0);
	CK_REJECT(vfio_user_caps_check_reply(&want, &got, 0, &why), -EPROTO);
}
END_TEST

START_TEST(test_caps_to_json)
{
	struct vfio_user_caps c, back;
	char json[512], tiny[8];
	int n;

	vfio_user_caps_init(&c);
	CK_CALL(vfio_user_caps_to_json(&c, NULL, json, sizeof(json)), 2);
	ck_assert_str_eq(json, "{}");
	c.present = VFIO_USER_CAP_MAX_MSG_FDS;
	c.max_msg_fds = 16;
	n = vfio_user_caps_to_json(&c, NULL, json, sizeof(json));
	ck_assert_int_gt(n, 0);
	ck_assert_str_eq(json, "{\"capabilities\":{\"max_msg_fds\":16}}");
	/* everything, and back */
	c.present = ~0u;
	c.max_data_xfer_size = 1u << 20;
	c.max_dma_maps = 7;
	c.pgsizes = 4096 | 2097152;
	c.write_multiple = true;
	c.twin_socket_supported = true;
	c.twin_socket_fd_index = 0;
	c.migration_pgsize = 4096;
	c.migration_max_bitmap_size = 1u << 28;
	n = vfio_user_caps_to_json(&c, NULL, json, sizeof(json));
	ck_assert_int_gt(n, 0);
	CK_CALL(parse_str(&back, json), 0);
	ck_assert_uint_eq(back.present, 0xfff);
	ck_assert_uint_eq(back.max_msg_fds, 16);
	ck_assert_uint_eq(back.pgsizes, 4096 | 2097152);
	ck_assert(back.write_multiple && back.twin_socket_supported);
	ck_assert_uint_eq(back.migration_max_bitmap_size, 1u << 28);
	/* a wrong type pasted in */
	c.present = VFIO_USER_CAP_MAX_DMA_MAPS;
	n = vfio_user_caps_to_json(&c, "\"max_msg_fds\":\"foo\"", json,
				   sizeof(json));
	ck_assert_int_gt(n, 0);
	ck_assert_str_eq(json, "{\"capabilities\":{\"max_dma_maps\":7,"
			       "\"max_msg_fds\":\"foo\"}}");
	CK_REJECT(parse_str(&back, json), -EBADMSG);
	ck_assert_msg(strstr(why, "max_msg_fds"), "%s", why);
	c.present = 0;
	n = vfio_user_caps_to_json(&c, "\"x\":1", json, sizeof(json));
	ck_assert_str_eq(json, "{\"capabilities\":{\"x\":1}}");
	CK_CALL(vfio_user_caps_to_json(&c, NULL, tiny, 2), -ENOSPC);
	c.present = ~0u;
	CK_CALL(vfio_user_caps_to_json(&c, NULL, tiny, sizeof(tiny)), -ENOSPC);
}
END_TEST

static Suite *wire_vfio_user_suite(void)
{
	Suite *s = suite_create("wire_vfio_user");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, fd_setup, fd_teardown);
	tcase_add_test(tc, test_header_layout);
	tcase_add_test(tc, test_rule_table_has_no_gap);
	tcase_add_test(tc, test_round_trip_every_command);
	tcase_add_test(tc, test_getters_read_back);
	tcase_add_test(tc, test_truncated_every_prefix);
	tcase_add_test(tc, test_short_payloads_never_overread);
	tcase_add_test(tc, test_msg_size_below_header);
	tcase_add_test(tc, test_msg_size_huge);
	tcase_add_test(tc, test_pack_can_lie);
	tcase_add_test(tc, test_builders_refuse_small_buffers);
	tcase_add_test(tc, test_command_header_rules);
	tcase_add_test(tc, test_unknown_and_reserved_commands);
	tcase_add_test(tc, test_direction);
	tcase_add_test(tc, test_argsz_rules);
	tcase_add_test(tc, test_dma_map_access_modes);
	tcase_add_test(tc, test_ranges_past_2_64);
	tcase_add_test(tc, test_dma_unmap_rules);
	tcase_add_test(tc, test_set_irqs_rules);
	tcase_add_test(tc, test_write_multi_rules);
	tcase_add_test(tc, test_device_feature_rules);
	tcase_add_test(tc, test_reply_header_rules);
	tcase_add_test(tc, test_version_reply_rules);
	tcase_add_test(tc, test_region_info_replies);
	tcase_add_test(tc, test_io_fds_replies);
	tcase_add_test(tc, test_data_replies);
	tcase_add_test(tc, test_xfer_limits);
	tcase_add_test(tc, test_fds_untouched);
	tcase_add_test(tc, test_describe_lines);
	tcase_add_test(tc, test_describe_tiny_buffers);
	tcase_add_test(tc, test_mutated_messages);
	tcase_add_test(tc, test_caps_good);
	tcase_add_test(tc, test_caps_defaults);
	tcase_add_test(tc, test_caps_unknown_keys_are_reported);
	tcase_add_test(tc, test_caps_bad_forms);
	tcase_add_test(tc, test_caps_twin_socket_negotiation);
	tcase_add_test(tc, test_caps_to_json);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(wire_vfio_user_suite());
}
