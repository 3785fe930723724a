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
 * the session lives; every reply passes vfio_user_check_reply(). Then the
 * black-box fuzzer's (harness/fe/vseq.h, as harness/run/fuzz_vfio.c uses
 * them): vseq_judge() on each reply to a command, with the session model
 * vseq_learn() keeps (stood down where a reply that would tell was not
 * seen: No_reply, a hang-up), and the server's DMA_READ / DMA_WRITE
 * requests judged as they are read back: well formed, within our
 * max_data_xfer_size, no DMA_WRITE into a region mapped without WRITE,
 * (SHOULD) none for a region mapped with an fd. The DMA answers stay
 * those the input wrote up front: the server reads them inside
 * server_handle(), before the harness sees its requests, so the oracles
 * judge the requests, not the answers. A session still up at the end
 * gets the black-box fuzzer's DEVICE_GET_INFO probe. The device's facts
 * (num_regions, IRQ counts) are learnt once at start-up, so every input
 * is judged the same way whatever ran before it.
 *
 * SHOULD-level oracles (VSEQ_ORACLE_DMA_FD, VSEQ_ORACLE_MIG_ARC) fire only
 * with VUC_FUZZ_STRICT=1 in the environment (read at start-up).
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bugs.h"
#include "common/util.h"
#include "fe/frame.h"
#include "fe/vseq.h"
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
static bool strict;		/* VUC_FUZZ_STRICT=1: SHOULD-level too */
static struct vseq_device dev0; /* learnt at start-up */
static struct vseq_device dev;	/* this input's */
static struct vseq_model mo;	/* this session's */

static int set_bug(const char *name)
{
	int b = bugs_by_name(name);

	if (b < 0)
		return b;
	bug_mask |= bugs_mask((enum bug)b);
	return 0;
}

/* A SHOULD-level oracle: judged only when asked for. */
static bool should_level(const char *oracle)
{
	return !strcmp(oracle, VSEQ_ORACLE_DMA_FD) ||
	       !strcmp(oracle, VSEQ_ORACLE_MIG_ARC);
}

/* An oracle fired: one line naming it and what it saw, then abort(). */
static void VUC_PRINTF(2, 3) fire(const char *oracle, const char *fmt, ...)
{
	char what[512];
	va_list ap;

	if (should_level(oracle) && !strict)
		return;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	fz_fail("%s: %s", oracle, what);
}

/* Send @m to the server and learn from its one reply (setup only). */
static void setup_cmd(struct vfio_user_msg *m)
{
	struct vfio_user_msg rep;
	int ret;

	if (server_handle(srv, m) < 0)
		return;
	ret = frame_vfio_recv(fe, &rep, rx, sizeof(rx), 0,
			      chan_deadline(CHAN_NOWAIT), NULL, NULL);
	if (ret < 0)
		return;
	close_fds(rep.fds, rep.nfds);
	vseq_learn(&mo, &dev0, m, &rep);
}

/*
 * The device's facts (num_regions, each IRQ index's count) from its own
 * replies, once: the same for every input, so an input's verdict does
 * not depend on what ran before it.
 */
static void learn_device(void)
{
	uint8_t buf[VFIO_USER_HDR_SIZE + 64];
	struct vfio_user_msg m;
	uint16_t id = 1;
	uint32_t i;
	int sv[2];

	vseq_device_init(&dev0);
	vseq_model_init(&mo);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		abort();
	server_attach(srv, sv[0]);
	fe = sv[1];
	if (vfio_user_build_version(&m, buf, sizeof(buf), id++, VFIO_USER_MAJOR,
				    VFIO_USER_MINOR, "{}") >= 0)
		setup_cmd(&m);
	if (vfio_user_build_device_get_info(&m, buf, sizeof(buf), id++, 0) >= 0)
		setup_cmd(&m);
	for (i = 0; i < VSEQ_MAX_IRQ_INDEX; i++)
		if (vfio_user_build_irq_info(&m, buf, sizeof(buf), id++, 0,
					     i) >= 0)
			setup_cmd(&m);
	server_detach(srv);
	close_fd(&fe);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct server_opts o = { .reset_on_disconnect = true,
				 .no_twin_socket = true };
	const char *env = getenv("VUC_FUZZ_STRICT");

	(void)argc;
	(void)argv;
	fz_quiet();
	fz_bugs_from_env(set_bug);
	strict = env && !strcmp(env, "1");
	/* as vuc-ref-vfio's main(): a write to a pipe nobody reads (an IRQ
	 * "eventfd" that is a pipe) fails with EPIPE instead of killing */
	signal(SIGPIPE, SIG_IGN);
	o.bugs = bug_mask;
	if (server_new(&srv, &o) < 0)
		abort();
	learn_device();
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

/* A DMA_READ / DMA_WRITE of the server's, judged against the model as it
 * stood before the command that caused it (as fuzz_vfio.c serves it). */
static void judge_dma(const struct vfio_user_msg *m)
{
	const char *oracle, *why;
	int err;

	if (vseq_judge_dma(&mo, m, &oracle, &why, &err) < 0)
		fire(oracle, "%s", why);
}

/* Read what the server said; judge replies to @cmd (as sent: its fd
 * count) and learn from them. @gone: server_handle() failed, the server
 * closes the connection (a hang-up: a reply may be lost). */
static void replies(const struct vfio_user_msg *cmd, bool gone)
{
	struct vfio_user_msg rep;
	const char *why = NULL, *oracle;
	bool command = (cmd->hdr.flags & VFIO_USER_F_TYPE_MASK) ==
		       VFIO_USER_F_TYPE_COMMAND;
	bool no_reply = cmd->hdr.flags & VFIO_USER_F_NO_REPLY;
	unsigned int n = 0;
	int ret;

	for (;;) {
		ret = frame_vfio_recv(fe, &rep, rx, sizeof(rx), 0,
				      chan_deadline(CHAN_NOWAIT), &why, NULL);
		if (ret == -ETIMEDOUT || ret == -ECONNRESET)
			break;
		if (ret < 0)
			fz_fail("%s: the server sent something that is not a "
				"message (%s): %s",
				VSEQ_ORACLE_BAD_REPLY, strerror(-ret),
				why ? why : "-");
		close_fds(rep.fds, rep.nfds);
		/* a DMA_READ / DMA_WRITE of the server's own; any other
		 * command-typed message is judged as the reply it stands
		 * for (fuzz_vfio.c does the same) */
		if ((rep.hdr.flags & VFIO_USER_F_TYPE_MASK) ==
			    VFIO_USER_F_TYPE_COMMAND &&
		    (rep.hdr.command == VFIO_USER_DMA_READ ||
		     rep.hdr.command == VFIO_USER_DMA_WRITE)) {
			judge_dma(&rep);
			continue;
		}
		n++;
		why = NULL;
		if (vfio_user_check_reply(cmd, &rep, VFIO_USER_CHECK_STRICT,
					  &why) < 0)
			fz_fail("%s: reply to %s id=%u: %s",
				VSEQ_ORACLE_BAD_REPLY,
				vfio_user_command_name(cmd->hdr.command),
				cmd->hdr.msg_id, why ? why : "?");
		/* a reply where one is due, the first: judge, then learn
		 * (a Reply-type lie or a No_reply command is not judged,
		 * as in fuzz_vfio.c; a second reply fails below) */
		if (!command || no_reply || n > 1)
			continue;
		if (vseq_judge(&mo, &dev, cmd, &rep, &oracle, &why) < 0)
			fire(oracle, "%s id=%u: %s",
			     vfio_user_command_name(cmd->hdr.command),
			     cmd->hdr.msg_id, why);
		vseq_learn(&mo, &dev, cmd, &rep);
	}
	/* corpus/vfio_server/crash-version-no-reply-answered: VERSION is
	 * no exception ("Each command message in Commands_ must be replied
	 * to ..., unless the message sets the No_Reply bit") */
	if (no_reply) {
		if (n)
			fz_fail("%s: %u replies to a No_reply command",
				VSEQ_ORACLE_EXTRA_REPLY, n);
	} else if (n > 1) {
		fz_fail("%s: %u replies to one command",
			VSEQ_ORACLE_EXTRA_REPLY, n);
	} else if (!n && !gone && !srv->closing && srv->conn >= 0) {
		fz_fail("%s: no reply to %s id=%u", VSEQ_ORACLE_MISSING_REPLY,
			vfio_user_command_name(cmd->hdr.command),
			cmd->hdr.msg_id);
	}
	/* what came of it unseen (No_reply, a hang-up): the model stands
	 * down where it would have told */
	if (!n)
		vseq_learn(&mo, &dev, cmd, NULL);
}

static int one_command(struct fz_in *in, uint16_t id)
{
	static uint8_t buf[VFIO_USER_HDR_SIZE + MAX_PAYLOAD];
	struct vfio_user_msg m, sent;
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
	/* the command as sent: server_handle() takes the fds (and clears
	 * the count), the rules judge their count */
	sent = m;
	/* server_handle() takes the fds; keep the rest of our side open
	 * until it returns (a widowed pipe is another kind) */
	ret = server_handle(srv, &m);
	for (i = 0; i < nfds; i++)
		close_fd(&others[i]);
	/* a reply bigger than the socket buffer cannot get out (we read
	 * only once server_handle() is back): the send fails, the server
	 * hangs up (seen: a DEVICE_FEATURE reply, 5 s, then none) */
	replies(&sent, ret < 0);
	return ret;
}

/* The black-box fuzzer's probe after a session that is still up: a
 * DEVICE_GET_INFO answered by its own reply, judged like the rest. */
static void probe(void)
{
	uint8_t buf[VFIO_USER_HDR_SIZE + 16];
	struct vfio_user_msg m, sent;

	if (vfio_user_build_device_get_info(&m, buf, sizeof(buf), VSEQ_PROBE_ID,
					    0) < 0)
		return;
	sent = m;
	replies(&sent, server_handle(srv, &m) < 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_in in = { data, size };
	unsigned int n;
	int sv[2], now, ret = 0;

	if (!srv)
		LLVMFuzzerInitialize(NULL, NULL);
	base_fds = fz_count_fds();
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		abort();
	server_attach(srv, sv[0]);
	srv->dma_id = 0; /* so the answers written up front match */
	fe = sv[1];
	vseq_model_init(&mo);
	dev = dev0;
	dma_answers(&in);
	for (n = 0; in.n && n < MAX_CMDS; n++)
		if ((ret = one_command(&in, (uint16_t)(n + 1))) < 0)
			break;
	if (!ret && srv->conn >= 0 && !srv->closing)
		probe();
	server_detach(srv);
	close_fd(&fe);
	now = fz_count_fds();
	if (now != base_fds)
		fz_fail("%d fds open after the client left, %d before: the "
			"server leaked %d",
			now, base_fds, now - base_fds);
	return 0;
}
