// SPDX-License-Identifier: MIT
/*
 * wire_demo.c - a decoded vhost-user and vfio-user exchange over a
 * socketpair, built only from the wire and transport layers.
 *
 * One process plays both sides in turn: a front-end (client) sends a
 * request the way a case would (header and payload in separate chunks, fds
 * on the payload chunk), the other side reassembles it with deadlines,
 * decodes it, checks it against the rule table, names the kinds of the fds
 * that came, and answers. Every message both ways is printed decoded: this
 * is the trace format the runner builds on. Exit status 0 when every step
 * checked out, 1 otherwise.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>

#include "common/util.h"
#include "fe/frame.h"
#include "transport/chan.h"
#include "transport/fdzoo.h"
#include "transport/sock.h"
#include "wire/vfio_user.h"
#include "wire/vfio_user_caps.h"
#include "wire/vhost_user.h"

#define TIMEOUT_MS 2000

static int failures;

static void step_failed(const char *what, int err, const char *why)
{
	failures++;
	printf("  FAILED: %s: %s%s%s\n", what, strerror(-err), why ? ": " : "",
	       why ? why : "");
}

/* "fds=[eventfd(nonblock), memfd(4096)]" for a trace line. */
static void print_fds(const int *fds, unsigned int n)
{
	char kind[64];
	unsigned int i;

	if (!n)
		return;
	printf("      fds=[");
	for (i = 0; i < n; i++)
		printf("%s%s", i ? ", " : "",
		       fdzoo_describe(fds[i], kind, sizeof(kind)));
	printf("]\n");
}

static void trace_vhost(const char *arrow, const struct vhost_user_msg *m,
			enum vhost_user_dir dir)
{
	char line[512];

	vhost_user_describe(m, dir, line, sizeof(line));
	printf("  %s %s\n", arrow, line);
	print_fds(m->fds, m->nfds);
}

/*
 * One request from the front-end, checked and answered by the back-end.
 * Return: what the back-end's check of the request said (0 or -errno); a
 * failure to move the bytes is counted as a failure here.
 */
static int vhost_exchange(int fe, int be, struct vhost_user_msg *req,
			  uint64_t proto, uint64_t answer)
{
	const struct vhost_user_rule *rule;
	struct vhost_user_msg got, reply;
	const char *why = NULL;
	int ret, checked = 0;

	trace_vhost("front-end ->", req, VHOST_USER_FROM_FRONTEND);
	ret = frame_vhost_send(fe, req, FRAME_HDR_PAYLOAD,
			       chan_deadline(TIMEOUT_MS));
	if (ret < 0) {
		step_failed("send", ret, NULL);
		return ret;
	}
	ret = frame_vhost_recv(be, &got, chan_deadline(TIMEOUT_MS), &why, NULL);
	if (ret < 0) {
		step_failed("receive", ret, why);
		return ret;
	}
	checked = vhost_user_check_request(&got, VHOST_USER_FROM_FRONTEND,
					   proto, &why);
	printf("     back-end: %s\n",
	       checked < 0 ? why : "request follows the rules");
	if (checked < 0)
		goto out; /* a real back-end would answer or hang up here */

	rule = vhost_user_rule_find(VHOST_USER_FROM_FRONTEND, got.hdr.request);
	if (!vhost_user_reply_expected(VHOST_USER_FROM_FRONTEND, &got.hdr,
				       proto))
		goto out;
	if (rule && rule->code == VHOST_USER_GET_VRING_BASE)
		vhost_user_build_vring_state(&reply, got.hdr.request, 0,
					     (uint32_t)answer);
	else if (got.hdr.flags & VHOST_USER_NEED_REPLY_MASK &&
		 rule->code != VHOST_USER_GET_FEATURES &&
		 rule->code != VHOST_USER_GET_PROTOCOL_FEATURES)
		vhost_user_build_ack(&reply, got.hdr.request, 0);
	else
		vhost_user_build_u64(&reply, got.hdr.request, answer);
	vhost_user_make_reply(&reply);
	trace_vhost("back-end  ->", &reply, VHOST_USER_FROM_FRONTEND);
	ret = frame_vhost_send(be, &reply, FRAME_HDR_PAYLOAD,
			       chan_deadline(TIMEOUT_MS));
	if (ret < 0) {
		step_failed("send reply", ret, NULL);
		goto out;
	}
	ret = frame_vhost_recv(fe, &reply, chan_deadline(TIMEOUT_MS), &why,
			       NULL);
	if (ret < 0) {
		step_failed("receive reply", ret, why);
		goto out;
	}
	ret = vhost_user_check_reply(VHOST_USER_FROM_FRONTEND, &req->hdr,
				     &reply, &why);
	printf("     front-end: %s\n",
	       ret < 0 ? why : "reply follows the rules");
	if (ret < 0)
		step_failed("check reply", ret, why);
	close_fds(reply.fds, reply.nfds);
out:
	close_fds(got.fds, got.nfds);
	return checked;
}

static void expect_ok(int checked)
{
	if (checked < 0)
		step_failed("a correct request was refused", checked, NULL);
}

static void vhost_user_demo(void)
{
	const uint64_t proto = 1ull << VHOST_USER_PROTOCOL_F_MQ |
			       1ull << VHOST_USER_PROTOCOL_F_REPLY_ACK;
	struct vhost_user_mem_region region = {
		.guest_addr = 0,
		.size = 1 << 20,
		.user_addr = 0x7f0000000000ull,
		.mmap_offset = 0,
	};
	struct vhost_user_msg m;
	int sv[2], mem = -1, kick = -1;

	printf("vhost-user (front-end <-> back-end over a socketpair)\n");
	if (sock_pair(sv) < 0) {
		step_failed("socketpair", -errno, NULL);
		return;
	}

	vhost_user_build_empty(&m, VHOST_USER_GET_FEATURES);
	expect_ok(vhost_exchange(
		sv[0], sv[1], &m, 0,
		1ull << 32 | 1ull << VHOST_USER_F_PROTOCOL_FEATURES));
	vhost_user_build_empty(&m, VHOST_USER_GET_PROTOCOL_FEATURES);
	expect_ok(vhost_exchange(sv[0], sv[1], &m, 0, proto));
	vhost_user_build_u64(&m, VHOST_USER_SET_PROTOCOL_FEATURES, proto);
	expect_ok(vhost_exchange(sv[0], sv[1], &m, 0, 0));
	vhost_user_build_empty(&m, VHOST_USER_SET_OWNER);
	m.hdr.flags |= VHOST_USER_NEED_REPLY_MASK;
	expect_ok(vhost_exchange(sv[0], sv[1], &m, proto, 0));

	/* One region backed by a memfd from the fd zoo. */
	mem = fdzoo_memfd(region.size, 0);
	if (mem < 0) {
		step_failed("memfd", mem, NULL);
		goto out;
	}
	vhost_user_build_mem_table(&m, VHOST_USER_SET_MEM_TABLE, &region, 1);
	vhost_user_msg_attach_fds(&m, &mem, 1);
	m.hdr.flags |= VHOST_USER_NEED_REPLY_MASK;
	expect_ok(vhost_exchange(sv[0], sv[1], &m, proto, 0));

	vhost_user_build_vring_state(&m, VHOST_USER_SET_VRING_NUM, 0, 256);
	expect_ok(vhost_exchange(sv[0], sv[1], &m, proto, 0));
	kick = fdzoo_eventfd(0, EFD_NONBLOCK);
	if (kick < 0) {
		step_failed("eventfd", kick, NULL);
		goto out;
	}
	vhost_user_build_u64(&m, VHOST_USER_SET_VRING_KICK, 0);
	vhost_user_msg_attach_fds(&m, &kick, 1);
	expect_ok(vhost_exchange(sv[0], sv[1], &m, proto, 0));
	vhost_user_build_vring_state(&m, VHOST_USER_GET_VRING_BASE, 0, 0);
	expect_ok(vhost_exchange(sv[0], sv[1], &m, proto, 42));

	/* A lie: SET_VRING_NUM with a 4-byte payload. The rules catch it. */
	printf("  (a malformed request, on purpose: it must be refused)\n");
	vhost_user_build_vring_state(&m, VHOST_USER_SET_VRING_NUM, 0, 256);
	m.hdr.size = 4;
	if (vhost_exchange(sv[0], sv[1], &m, proto, 0) != -EBADMSG)
		step_failed("a 4-byte SET_VRING_NUM was not refused", -EPROTO,
			    NULL);
out:
	close_fd(&kick);
	close_fd(&mem);
	close_fds(sv, 2);
}

/* ---- vfio-user ------------------------------------------------------- */

#define VFIO_DEMO_MAX 4096

static void trace_vfio(const char *arrow, const struct vfio_user_msg *m)
{
	char line[512];

	vfio_user_describe(m, line, sizeof(line));
	printf("  %s %s\n", arrow, line);
	print_fds(m->fds, m->nfds);
}

/*
 * One command from the client, checked by the server and answered with
 * @reply_json for VERSION, an empty success reply when the command follows
 * the rules, an error reply (EINVAL) when it does not.
 * Return: what the server's check said (0 or -errno).
 */
static int vfio_exchange(int client, int server,
			 const struct vfio_user_msg *cmd,
			 const char *reply_json)
{
	uint8_t in[VFIO_DEMO_MAX], out[VFIO_DEMO_MAX], back[VFIO_DEMO_MAX];
	struct vfio_user_msg got, reply, answer;
	const char *why = NULL;
	int ret, checked = 0;

	trace_vfio("client ->", cmd);
	ret = frame_vfio_send(client, cmd, FRAME_HDR_PAYLOAD,
			      chan_deadline(TIMEOUT_MS));
	if (ret < 0) {
		step_failed("send", ret, NULL);
		return ret;
	}
	ret = frame_vfio_recv(server, &got, in, sizeof(in), 0,
			      chan_deadline(TIMEOUT_MS), &why, NULL);
	if (ret < 0) {
		step_failed("receive", ret, why);
		return ret;
	}
	checked = vfio_user_check_command(&got, VFIO_USER_CLIENT_TO_SERVER,
					  VFIO_USER_CHECK_STRICT, &why);
	printf("     server: %s\n",
	       checked < 0 ? why : "command follows the rules");
	if (checked < 0)
		ret = vfio_user_build_error_reply(&reply, out, sizeof(out),
						  &got.hdr, EINVAL);
	else if (got.hdr.command == VFIO_USER_VERSION)
		ret = vfio_user_build_version_reply(&reply, out, sizeof(out),
						    &got.hdr, 0, 1, reply_json,
						    NULL, 0);
	else
		ret = vfio_user_build_reply(&reply, out, sizeof(out), &got.hdr,
					    NULL, 0, NULL, 0);
	if (ret < 0) {
		step_failed("build reply", ret, NULL);
		goto out;
	}
	trace_vfio("server ->", &reply);
	ret = frame_vfio_send(server, &reply, FRAME_HDR_PAYLOAD,
			      chan_deadline(TIMEOUT_MS));
	if (ret < 0) {
		step_failed("send reply", ret, NULL);
		goto out;
	}
	ret = frame_vfio_recv(client, &answer, back, sizeof(back), 0,
			      chan_deadline(TIMEOUT_MS), &why, NULL);
	if (ret < 0) {
		step_failed("receive reply", ret, why);
		goto out;
	}
	ret = vfio_user_check_reply(cmd, &answer, VFIO_USER_CHECK_STRICT, &why);
	printf("     client: %s\n", ret < 0 ? why : "reply follows the rules");
	if (ret < 0)
		step_failed("check reply", ret, why);
	close_fds(answer.fds, answer.nfds);
out:
	close_fds(got.fds, got.nfds);
	return checked;
}

static void vfio_user_demo(void)
{
	uint8_t buf[VFIO_DEMO_MAX];
	struct vfio_user_caps caps;
	struct vfio_user_msg m;
	char json[256];
	int sv[2], mem = -1, ret;

	printf("\nvfio-user (client <-> server over a socketpair)\n");
	if (sock_pair(sv) < 0) {
		step_failed("socketpair", -errno, NULL);
		return;
	}
	vfio_user_caps_init(&caps);
	caps.present = VFIO_USER_CAP_OBJECT | VFIO_USER_CAP_MAX_MSG_FDS |
		       VFIO_USER_CAP_MAX_DATA_XFER_SIZE;
	caps.max_msg_fds = 8;
	ret = vfio_user_caps_to_json(&caps, NULL, json, sizeof(json));
	if (ret < 0) {
		step_failed("capabilities JSON", ret, NULL);
		goto out;
	}
	vfio_user_build_version(&m, buf, sizeof(buf), 1, 0, 1, json);
	expect_ok(vfio_exchange(sv[0], sv[1], &m, json));

	/* A region the server may mmap(): the fd comes with it. */
	mem = fdzoo_memfd(1 << 20, 0);
	if (mem < 0) {
		step_failed("memfd", mem, NULL);
		goto out;
	}
	vfio_user_build_dma_map(&m, buf, sizeof(buf), 2,
				VFIO_USER_F_DMA_REGION_READ |
					VFIO_USER_F_DMA_REGION_WRITE |
					VFIO_USER_F_DMA_REGION_MMAP,
				0, 0x100000, 1 << 20, mem);
	expect_ok(vfio_exchange(sv[0], sv[1], &m, NULL));

	/* Seed 003: an access mode that needs an fd, but no fd. */
	printf("  (mmap access mode without an fd, on purpose: it must be "
	       "refused)\n");
	vfio_user_build_dma_map(&m, buf, sizeof(buf), 3,
				VFIO_USER_F_DMA_REGION_READ |
					VFIO_USER_F_DMA_REGION_MMAP,
				0, 0x200000, 1 << 20, -1);
	if (vfio_exchange(sv[0], sv[1], &m, NULL) >= 0)
		step_failed("a DMA_MAP in mmap mode without an fd was accepted",
			    -EPROTO, NULL);
out:
	close_fd(&mem);
	close_fds(sv, 2);
}

int main(void)
{
	vhost_user_demo();
	vfio_user_demo();
	printf("\n%s: %d unexpected result%s\n", failures ? "FAILED" : "ok",
	       failures, failures == 1 ? "" : "s");
	return failures ? 1 : 0;
}
