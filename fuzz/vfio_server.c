// SPDX-License-Identifier: MIT
/*
 * vfio_server.c - fuzz the reference vfio-user server (vuc_ref_vfio) with a
 * sequence of client commands and the fds they carry, through its own
 * dispatch (server_handle()), replies read back over a socketpair.
 *
 * The server reaches client memory with DMA_READ / DMA_WRITE messages when
 * a region was mapped without an fd, and waits for the answers on the
 * socket: the input writes those answers up front, then the harness closes
 * its sending side, so an unanswered DMA fails at once instead of waiting.
 *
 * Input (also in fuzz/README.md):
 *   byte 0		DMA answers k = byte % 4; each: u8 bit 0 WRITE (else
 *			READ), len u8, len payload bytes (ids 0, 1, ...)
 *   then commands, each:
 *   command u8	(% 20: unknown codes too)
 *   flags u8	0x01 No_reply, 0x02 Error bit, 0x04 Reply type (a lie),
 *			0x08 fds u8 follows (count low nibble % 9, kind high
 *			nibble), 0x10 argsz := payload size
 *   len u16		payload size % 1025, then the payload bytes
 *
 * Oracles: no crash, hang or leak; no fd left open after the client
 * left; each command gets exactly one reply, or none with No_reply, while
 * the session lives; every reply passes vfio_user_check_reply().
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bugs.h"
#include "common/util.h"
#include "fe/frame.h"
#include "fuzz_util.h"
#include "server.h"
#include "transport/chan.h"
#include "transport/fdzoo.h"
#include "wire/vfio_user.h"

#define MAX_CMDS 24
#define MAX_PAYLOAD 1024u

static struct server *srv;
static uint64_t bug_mask;
static int base_fds;
static int fe = -1;
static uint8_t rx[FRAME_VFIO_MAX];

static int set_bug(const char *name)
{
	int b = bugs_by_name(name);

	if (b < 0)
		return b;
	bug_mask |= bugs_mask((enum bug)b);
	return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct server_opts o = { .reset_on_disconnect = true,
				 .no_twin_socket = true };

	(void)argc;
	(void)argv;
	fz_quiet();
	fz_bugs_from_env(set_bug);
	o.bugs = bug_mask;
	if (server_new(&srv, &o) < 0)
		abort();
	return 0;
}

/* The answers to the server's DMA messages, written before they are due. */
static void dma_answers(struct fz_in *in)
{
	unsigned int k = fz_u8(in) % 4, i;
	uint8_t buf[VFIO_USER_HDR_SIZE + 256];

	for (i = 0; i < k; i++) {
		uint8_t how = fz_u8(in), len = fz_u8(in);
		struct vfio_user_hdr h = {
			.msg_id = (uint16_t)i,
			.command = how & 1 ? VFIO_USER_DMA_WRITE
					   : VFIO_USER_DMA_READ,
			.msg_size = VFIO_USER_HDR_SIZE + len,
			.flags = VFIO_USER_F_TYPE_REPLY,
		};

		memcpy(buf, &h, sizeof(h));
		fz_bytes(in, buf + sizeof(h), len);
		chan_send_buf(fe, buf, h.msg_size, NULL, 0,
			      chan_deadline(CHAN_NOWAIT));
	}
	shutdown(fe, SHUT_WR);
}

static int make_fd(unsigned int kind, int *other)
{
	static const enum fdzoo_kind kinds[8] = {
		FDZOO_EVENTFD,	 FDZOO_MEMFD,	     FDZOO_MEMFD,
		FDZOO_PIPE_READ, FDZOO_PIPE_WRITE,   FDZOO_SOCKET,
		FDZOO_DEV_NULL,	 FDZOO_MEMFD_SEALED,
	};
	size_t size = kind % 8 == 2 ? 0x100 : 0x10000;

	return fdzoo_new(kinds[kind % 8], size, other);
}

/* The fds the command's rule wants, as the payload describes them. */
static unsigned int default_fds(uint16_t cmd, const uint8_t *p, size_t len,
				unsigned int *kind)
{
	uint32_t flags, count;

	*kind = 0;
	if (cmd == VFIO_USER_DMA_MAP && len >= 8) {
		memcpy(&flags, p + 4, sizeof(flags));
		*kind = 1;
		return flags & VFIO_USER_F_DMA_REGION_MODES ? 1 : 0;
	}
	if (cmd == VFIO_USER_DEVICE_SET_IRQS && len >= 20) {
		memcpy(&flags, p + 4, sizeof(flags));
		memcpy(&count, p + 16, sizeof(count));
		if (!(flags & VFIO_IRQ_SET_DATA_EVENTFD))
			return 0;
		return count > 8 ? 8 : count;
	}
	return 0;
}

/* Read what the server said; judge replies to @cmd. */
static void replies(const struct vfio_user_msg *cmd)
{
	struct vfio_user_msg rep;
	const char *why = NULL;
	unsigned int n = 0;
	int ret;

	for (;;) {
		ret = frame_vfio_recv(fe, &rep, rx, sizeof(rx), 0,
				      chan_deadline(CHAN_NOWAIT), &why, NULL);
		if (ret == -ETIMEDOUT || ret == -ECONNRESET)
			break;
		if (ret < 0)
			fz_fail("the server sent something that is not a "
				"message (%s): %s",
				strerror(-ret), why ? why : "-");
		close_fds(rep.fds, rep.nfds);
		/* a DMA_READ / DMA_WRITE of the server's own */
		if ((rep.hdr.flags & VFIO_USER_F_TYPE_MASK) ==
		    VFIO_USER_F_TYPE_COMMAND)
			continue;
		n++;
		why = NULL;
		if (vfio_user_check_reply(cmd, &rep, VFIO_USER_CHECK_STRICT,
					  &why) < 0)
			fz_fail("reply to %s id=%u: %s",
				vfio_user_command_name(cmd->hdr.command),
				cmd->hdr.msg_id, why ? why : "?");
	}
	/* corpus/vfio_server/crash-version-no-reply-answered: VERSION is
	 * no exception ("Each command message in Commands_ must be replied
	 * to ..., unless the message sets the No_Reply bit") */
	if (cmd->hdr.flags & VFIO_USER_F_NO_REPLY) {
		if (n)
			fz_fail("%u replies to a No_reply command", n);
	} else if (n > 1) {
		fz_fail("%u replies to one command", n);
	} else if (!n && !srv->closing && srv->conn >= 0) {
		fz_fail("no reply to %s id=%u",
			vfio_user_command_name(cmd->hdr.command),
			cmd->hdr.msg_id);
	}
}

static int one_command(struct fz_in *in, uint16_t id)
{
	static uint8_t buf[VFIO_USER_HDR_SIZE + MAX_PAYLOAD];
	struct vfio_user_msg m;
	int fds[8], others[8];
	unsigned int nfds, kind, i;
	uint8_t cmd = fz_u8(in), flags = fz_u8(in);
	size_t len = fz_u16(in) % (MAX_PAYLOAD + 1);
	uint32_t argsz = (uint32_t)len;
	int ret;

	nfds = 0;
	kind = 0;
	if (flags & 0x08) {
		uint8_t f = fz_u8(in);

		nfds = (f & 0x0f) % 9;
		kind = f >> 4;
	}
	vfio_user_msg_init(&m);
	m.hdr.msg_id = id;
	m.hdr.command = cmd % 20;
	m.hdr.msg_size = (uint32_t)(VFIO_USER_HDR_SIZE + len);
	m.hdr.flags = (flags & 0x01 ? VFIO_USER_F_NO_REPLY : 0) |
		      (flags & 0x02 ? VFIO_USER_F_ERROR : 0) |
		      (flags & 0x04 ? VFIO_USER_F_TYPE_REPLY : 0);
	fz_bytes(in, buf + VFIO_USER_HDR_SIZE, len);
	if ((flags & 0x10) && len >= 4)
		memcpy(buf + VFIO_USER_HDR_SIZE, &argsz, sizeof(argsz));
	memcpy(buf, &m.hdr, sizeof(m.hdr));
	m.payload = buf + VFIO_USER_HDR_SIZE;
	m.payload_len = len;
	if (!(flags & 0x08))
		nfds = default_fds(m.hdr.command, m.payload, len, &kind);
	for (i = 0; i < nfds; i++) {
		others[i] = -1;
		fds[i] = make_fd(kind, &others[i]);
		if (fds[i] < 0)
			break;
	}
	nfds = i;
	vfio_user_msg_set_fds(&m, fds, nfds);
	/* server_handle() takes the fds; keep the rest of our side open
	 * until it returns (a widowed pipe is another kind) */
	ret = server_handle(srv, &m);
	for (i = 0; i < nfds; i++)
		close_fd(&others[i]);
	replies(&m);
	return ret;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_in in = { data, size };
	unsigned int n;
	int sv[2], now;

	if (!srv)
		LLVMFuzzerInitialize(NULL, NULL);
	base_fds = fz_count_fds();
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		abort();
	server_attach(srv, sv[0]);
	srv->dma_id = 0; /* so the answers written up front match */
	fe = sv[1];
	dma_answers(&in);
	for (n = 0; in.n && n < MAX_CMDS; n++)
		if (one_command(&in, (uint16_t)(n + 1)) < 0)
			break;
	server_detach(srv);
	close_fd(&fe);
	now = fz_count_fds();
	if (now != base_fds)
		fz_fail("%d fds open after the client left, %d before: the "
			"server leaked %d",
			now, base_fds, now - base_fds);
	return 0;
}
