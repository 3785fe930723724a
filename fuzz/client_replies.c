// SPDX-License-Identifier: MIT
/*
 * client_replies.c - fuzz the vfio-user client session (harness/fe/client.h)
 * with a hostile server: the replies to its commands and the DMA_READ /
 * DMA_WRITE requests the server makes of it (on the main socket or the
 * twin socket) come from the input, fds included.
 *
 * The client talks to a socketpair. Each time it is about to send a
 * command (its trace hook sees that first), the harness writes the next
 * scripted answer into the peer end: the server's own requests first, then
 * the reply, so the client serves the requests while it waits. An answer
 * never promises bytes it does not send (a header too big to read on is
 * followed by a hang-up), so a step only waits when the script gives no
 * reply where one is due (client timeout 1 ms, a backstop).
 *
 * Guest memory: one memfd region of GMEM_SIZE bytes at GMEM_GPA, filled
 * with a pattern before each input; the client maps parts of it for DMA.
 *
 * Input (also in fuzz/README.md): ops until the input ends (at most
 * MAX_OPS), each:
 *   op u8	the step ((op & 0x3f) % 24, see step()), its arguments from
 *		the input; op & 0x40 a variant (VERSION: propose the twin
 *		socket; 22: a new DMA policy first: how u8 (bits 0-1
 *		enum client_serve_how, bit 2 the 16-byte DMA_WRITE reply,
 *		bit 3 any_region), error u8, short_by u8); op & 0x80 sends
 *		the command with No_reply (a bend)
 *   answer	for every command the step sends, one mode byte a:
 *		a % 4 == 0: (a >> 5) server requests (see dma_req()), then a
 *		  reply: command u8 if a & 0x04 (else the command's), flags
 *		  u32 and error u32 if a & 0x08 (else a reply, no error),
 *		  size u16 (% 4200; past 4096 only the header goes), that
 *		  many bytes, fds u8 if a & 0x10 (count % 4, kind bits 2-3);
 *		1: len u8 raw bytes, then hang up; 2: nothing (hang up if a
 *		  reply is due); 3: as 0, then a mode byte (bits 2-4 as
 *		  above) and a second reply (unsolicited)
 *   server request (dma_req()): sel u8 (bit 0 DMA_WRITE, bit 1 on the
 *	twin socket, bit 2 No_reply, bit 3 the address is a u64, bit 4 a
 *	msg_size u16 follows, bit 5 a reply type (a lie)), the address (u64,
 *	or a u16 offset from GMEM_GPA), count u16 % 4200, msg_id u16, the
 *	DMA_WRITE data, the msg_size
 *
 * Oracles: no crash, hang or leak; no fd left open after client_fini();
 * a step returns >= 0 or a -errno; once the session is broken no step
 * that talks succeeds; the client's DMA answers: a DMA_READ or DMA_WRITE
 * it answers with success lies inside one region it mapped in message
 * mode (any mode under the any_region policy) with that permission, and
 * the data it returns is guest memory's (short only as the policy says);
 * guest memory changes only inside such regions mapped writable (checked
 * at every trace event and after every step).
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/util.h"
#include "fe/client.h"
#include "fuzz_util.h"
#include "ring/gmem.h"
#include "transport/chan.h"
#include "transport/fdzoo.h"
#include "wire/vfio_user.h"

#define MAX_OPS 24
#define GMEM_GPA 0x100000ull
#define GMEM_SIZE 8192u
#define VERSION_FDS 3
/* the step an op byte asks for: bits 0-5 (% 24); bit 6 is the step's
 * own variant, bit 7 the No_reply bend */
#define STEP(op) (((op)&0x3fu) % 24)

static struct fz_in in;
static struct gmem gm;
static uint8_t *mem;		  /* gm's only region */
static uint8_t shadow[GMEM_SIZE]; /* what mem must hold outside writes */
static int peer = -1, twin_peer = -1;
static int version_others[VERSION_FDS] = { -1, -1, -1 };
static bool hung_up, checking, verbose;
static struct client cl;

/* ---- guest memory oracle ------------------------------------------------ */

/* Is [addr, addr + count) inside one region mapped in message mode with
 * @flag? (As the client must judge it; no sum may overflow.) */
static bool mapped(uint64_t addr, uint64_t count, uint32_t flag)
{
	unsigned int i;

	for (i = 0; i < cl.ndma; i++) {
		const struct client_dma *d = &cl.dma[i];

		/* fd-backed regions too if the policy says so */
		if ((d->mode == VFIO_USER_DMA_ACCESS_MSG ||
		     cl.policy.any_region) &&
		    (d->flags & flag) && addr >= d->addr && count <= d->size &&
		    addr - d->addr <= d->size - count)
			return true;
	}
	return false;
}

/* Bytes the client may have written are taken as they are; any other
 * byte must still be what it was. */
static void mem_check(const char *when)
{
	uint64_t i;

	if (!memcmp(mem, shadow, GMEM_SIZE))
		return;
	for (i = 0; i < GMEM_SIZE; i++) {
		if (mem[i] == shadow[i])
			continue;
		if (!mapped(GMEM_GPA + i, 1, VFIO_USER_F_DMA_REGION_WRITE))
			fz_fail("%s: guest memory at 0x%llx changed outside "
				"every region mapped writable in message mode",
				when, (unsigned long long)(GMEM_GPA + i));
		shadow[i] = mem[i];
	}
}

/* The client answers a DMA_READ / DMA_WRITE of ours: judge a success. */
static void judge_dma_answer(const uint8_t *bytes, size_t len)
{
	struct vfio_user_dma_region_access acc;
	struct vfio_user_hdr h;
	uint64_t n;

	if (len < VFIO_USER_HDR_SIZE)
		return;
	memcpy(&h, bytes, sizeof(h));
	if ((h.flags & VFIO_USER_F_TYPE_MASK) != VFIO_USER_F_TYPE_REPLY ||
	    (h.flags & VFIO_USER_F_ERROR))
		return;
	if (h.command != VFIO_USER_DMA_READ && h.command != VFIO_USER_DMA_WRITE)
		fz_fail("the client sent a success reply to %s",
			vfio_user_command_name(h.command));
	if (len < VFIO_USER_HDR_SIZE + 12)
		fz_fail("a %zu-byte success reply to %s", len,
			vfio_user_command_name(h.command));
	memcpy(&acc.addr, bytes + VFIO_USER_HDR_SIZE, 8);
	if (h.command == VFIO_USER_DMA_WRITE) {
		uint32_t count;

		memcpy(&count, bytes + VFIO_USER_HDR_SIZE + 8, 4);
		if (!mapped(acc.addr, count, VFIO_USER_F_DMA_REGION_WRITE))
			fz_fail("DMA_WRITE of %u bytes at 0x%llx answered with "
				"success outside the writable mappings",
				count, (unsigned long long)acc.addr);
		return;
	}
	if (len < VFIO_USER_HDR_SIZE + 16)
		fz_fail("a %zu-byte DMA_READ success reply", len);
	memcpy(&acc.count, bytes + VFIO_USER_HDR_SIZE + 8, 8);
	if (!mapped(acc.addr, acc.count, VFIO_USER_F_DMA_REGION_READ))
		fz_fail("DMA_READ of %llu bytes at 0x%llx answered with "
			"success outside the readable mappings",
			(unsigned long long)acc.count,
			(unsigned long long)acc.addr);
	/* the data is guest memory's, short only by what the policy says */
	n = acc.count;
	if (cl.policy.how == CLIENT_SERVE_SHORT)
		n = cl.policy.short_by < n ? n - cl.policy.short_by : 0;
	if (len != VFIO_USER_HDR_SIZE + 16 + n)
		fz_fail("DMA_READ of %llu bytes answered with %zu bytes",
			(unsigned long long)acc.count, len);
	if (acc.addr >= GMEM_GPA && acc.addr - GMEM_GPA <= GMEM_SIZE &&
	    acc.count <= GMEM_SIZE - (acc.addr - GMEM_GPA) &&
	    memcmp(bytes + VFIO_USER_HDR_SIZE + 16, mem + (acc.addr - GMEM_GPA),
		   (size_t)n))
		fz_fail("DMA_READ data is not guest memory");
}

/* ---- the scripted server ------------------------------------------------ */

static void hang_up(void)
{
	shutdown(peer, SHUT_WR);
	hung_up = true;
}

/* fds to send: @f % 4 of kind (@f >> 2) & 3; their other ends to
 * @others (or -1). Return: how many were made. */
static unsigned int make_fds(uint8_t f, int *fds, int *others)
{
	static const enum fdzoo_kind kinds[4] = { FDZOO_SOCKET, FDZOO_EVENTFD,
						  FDZOO_MEMFD,
						  FDZOO_PIPE_READ };
	unsigned int i;

	for (i = 0; i < f % 4u; i++) {
		others[i] = -1;
		fds[i] = fdzoo_new(kinds[(f >> 2) & 3], 4096, &others[i]);
		if (fds[i] < 0)
			break;
	}
	return i;
}

/* One DMA_READ / DMA_WRITE of the server's, written where it goes. */
static void dma_req(void)
{
	static uint8_t buf[VFIO_USER_HDR_SIZE + 16 + 4200];
	struct vfio_user_hdr h = { 0 };
	uint8_t sel = fz_u8(&in);
	uint64_t addr, count;
	size_t len;
	int to;

	addr = sel & 0x08 ? fz_u64(&in) : GMEM_GPA + fz_u16(&in);
	count = fz_u16(&in) % 4200;
	h.msg_id = fz_u16(&in);
	h.command = sel & 1 ? VFIO_USER_DMA_WRITE : VFIO_USER_DMA_READ;
	h.flags = (sel & 0x20 ? VFIO_USER_F_TYPE_REPLY
			      : VFIO_USER_F_TYPE_COMMAND) |
		  (sel & 0x04 ? VFIO_USER_F_NO_REPLY : 0);
	memcpy(buf + VFIO_USER_HDR_SIZE, &addr, 8);
	memcpy(buf + VFIO_USER_HDR_SIZE + 8, &count, 8);
	len = VFIO_USER_HDR_SIZE + 16;
	if (sel & 1) {
		fz_bytes(&in, buf + len, (size_t)count);
		len += (size_t)count;
	}
	h.msg_size = sel & 0x10 ? fz_u16(&in) : (uint32_t)len;
	memcpy(buf, &h, sizeof(h));
	to = sel & 0x02 && twin_peer >= 0 ? twin_peer : peer;
	if (to == peer && hung_up)
		return;
	chan_send_buf(to, buf, len, NULL, 0, chan_deadline(CHAN_NOWAIT));
	/* a msg_size that promises more than came leaves the stream out
	 * of step: nothing more can follow it there */
	if (h.msg_size > len) {
		if (to == peer)
			hang_up();
		else
			shutdown(twin_peer, SHUT_WR);
	}
}

/* The reply to @cmd (or an unsolicited one): from the input. */
static bool reply(const struct vfio_user_hdr *cmd, uint8_t a)
{
	static uint8_t buf[VFIO_USER_HDR_SIZE + 4200];
	int fds[4], others[4];
	struct vfio_user_hdr h = *cmd;
	unsigned int nfds = 0, i;
	uint16_t size;
	size_t len;

	if (a & 0x04)
		h.command = fz_u8(&in);
	h.flags = VFIO_USER_F_TYPE_REPLY;
	h.error = 0;
	if (a & 0x08) {
		h.flags = fz_u32(&in);
		h.error = fz_u32(&in);
	}
	size = fz_u16(&in) % 4200;
	h.msg_size = VFIO_USER_HDR_SIZE + size;
	memcpy(buf, &h, sizeof(h));
	len = sizeof(h);
	if (size <= 4096) {
		fz_bytes(&in, buf + len, size);
		len += size;
	}
	if (a & 0x10)
		nfds = make_fds(fz_u8(&in), fds, others);
	chan_send_buf(peer, buf, len, fds, nfds, chan_deadline(CHAN_NOWAIT));
	for (i = 0; i < nfds; i++) {
		close(fds[i]);
		/* a socket sent with a VERSION reply may become the twin:
		 * keep our end of it */
		if (cmd->command == VFIO_USER_VERSION && i < VERSION_FDS &&
		    version_others[i] < 0 && others[i] >= 0) {
			version_others[i] = others[i];
			continue;
		}
		close_fd(&others[i]);
	}
	if (size > 4096) {
		hang_up(); /* the client stops reading there */
		return false;
	}
	return true;
}

static void answer(const struct vfio_user_hdr *cmd)
{
	uint8_t buf[256];
	uint8_t a = fz_u8(&in);
	unsigned int n;
	size_t len;

	if (hung_up)
		return;
	switch (a & 3) {
	case 1:
		len = fz_u8(&in);
		fz_bytes(&in, buf, len);
		if (len)
			chan_send_buf(peer, buf, len, NULL, 0,
				      chan_deadline(CHAN_NOWAIT));
		hang_up();
		return;
	case 2:
		/* no answer where one is due would only make the step wait
		 * out its deadline: hang up instead */
		if (!(cmd->flags & VFIO_USER_F_NO_REPLY))
			hang_up();
		return;
	default:
		for (n = a >> 5; n && !hung_up; n--)
			dma_req();
		if (hung_up)
			return;
		if (!reply(cmd, a) || (a & 3) != 3)
			return;
		reply(cmd, fz_u8(&in) & ~3u);
	}
}

/* The trace hook: every event checks guest memory; a command the client
 * is about to send gets its answer; a reply it sends is judged. */
static void on_event(void *ctx, const struct fe_trace_event *ev)
{
	struct vfio_user_hdr h = { 0 };

	(void)ctx;
	if (!checking)
		return;
	if (verbose) /* VUC_FUZZ_VERBOSE=1: the session's trace */
		fprintf(fz_err, "%s %s: %s\n",
			ev->chan == FE_TRACE_MAIN ? "main" : "twin",
			ev->dir == FE_TRACE_SEND   ? "->"
			: ev->dir == FE_TRACE_RECV ? "<-"
						   : "note",
			ev->text);
	mem_check(ev->text);
	if (ev->dir != FE_TRACE_SEND)
		return;
	if (ev->bytes && ev->len >= sizeof(h))
		memcpy(&h, ev->bytes, sizeof(h));
	if ((h.flags & VFIO_USER_F_TYPE_MASK) != VFIO_USER_F_TYPE_COMMAND) {
		judge_dma_answer(ev->bytes, ev->len);
		return;
	}
	if (ev->chan != FE_TRACE_MAIN)
		return;
	/* what the client sent before: read and dropped (fds closed) */
	chan_drain(peer, chan_deadline(CHAN_NOWAIT));
	if (twin_peer >= 0)
		chan_drain(twin_peer, chan_deadline(CHAN_NOWAIT));
	answer(&h);
}

/* The twin socket the client took, if any: our end of it. */
static void find_twin(void)
{
	uint64_t i = cl.server.twin_socket_fd_index;

	if (cl.twin_fd < 0 || twin_peer >= 0 || i >= VERSION_FDS)
		return;
	twin_peer = version_others[i];
	version_others[i] = -1;
}

/* ---- the steps ----------------------------------------------------------- */

static int step(uint8_t op)
{
	static uint8_t data[1024], out[1024];
	struct client_bend bend = { .set = CLIENT_BEND_FLAGS,
				    .flags = VFIO_USER_F_TYPE_COMMAND |
					     VFIO_USER_F_NO_REPLY };
	const struct client_bend *b = op & 0x80 ? &bend : NULL;
	union {
		struct vfio_user_device_info info;
		struct vfio_user_region_info region;
		struct vfio_user_irq_info irq;
		struct vfio_user_sub_region_io_fd subs[8];
		struct vfio_user_write_multi_data wm[2];
		struct vfio_user_device_feature_dma_logging_range range;
	} u;
	struct vfio_user_caps caps;
	int fds[8] = { -1, -1, -1, -1, -1, -1, -1, -1 }, efd[2] = { -1, -1 };
	unsigned int nfds = ARRAY_SIZE(fds), i;
	int ret;
	uint32_t n32, idx;
	uint64_t v, gpa, size;
	size_t len;

	switch (STEP(op)) {
	case 0:
		client_caps_default(&caps);
		if (op & 0x40) {
			caps.present |= VFIO_USER_CAP_TWIN_SOCKET |
					VFIO_USER_CAP_TWIN_SUPPORTED;
			caps.twin_socket_supported = true;
		}
		ret = client_version(&cl, &caps, b);
		find_twin();
		return ret;
	case 1:
	case 2:
		/* a slice of guest memory (or past it), in 256-byte units */
		gpa = GMEM_GPA + (uint64_t)fz_u8(&in) * 256 - 1024;
		size = ((uint64_t)fz_u8(&in) % 40 + 1) * 256;
		v = fz_u8(&in);
		return client_dma_map(&cl, gpa, size,
				      STEP(op) == 1 ? VFIO_USER_DMA_ACCESS_MSG
				      : v & 4 ? VFIO_USER_DMA_ACCESS_FILE_IO
					      : VFIO_USER_DMA_ACCESS_MMAP,
				      (uint32_t)v & 3, b);
	case 3:
		v = fz_u8(&in);
		if (cl.ndma && !(v & 0x80)) {
			gpa = cl.dma[v % cl.ndma].addr;
			size = cl.dma[v % cl.ndma].size;
		} else {
			gpa = GMEM_GPA + (uint64_t)fz_u8(&in) * 256;
			size = (uint64_t)fz_u8(&in) * 256;
		}
		return client_dma_unmap(&cl, gpa, size,
					v & 0x40 ? VFIO_DMA_UNMAP_FLAG_ALL : 0,
					4096, v & 0x20 ? out : NULL, 8, b);
	case 4:
		return client_get_info(&cl, &u.info, b);
	case 5:
		len = sizeof(data);
		ret = client_region_info(&cl, fz_u8(&in) % 10, &u.region, data,
					 &len, fds, &nfds, b);
		if (ret >= 0)
			close_fds(fds, VUC_MIN(nfds, ARRAY_SIZE(fds)));
		return ret;
	case 6:
		n32 = ARRAY_SIZE(u.subs);
		ret = client_region_io_fds(&cl, fz_u8(&in) % 10, u.subs, &n32,
					   fds, &nfds, b);
		if (ret >= 0)
			close_fds(fds, VUC_MIN(nfds, ARRAY_SIZE(fds)));
		return ret;
	case 7:
		return client_irq_info(&cl, fz_u8(&in) % 6, &u.irq, b);
	case 8:
		v = fz_u8(&in);
		n32 = (uint32_t)(v % 3);
		idx = fz_u8(&in) % 6;
		if (v & 0x80)
			return client_set_irqs(
				&cl,
				VFIO_IRQ_SET_DATA_BOOL |
					VFIO_IRQ_SET_ACTION_TRIGGER,
				idx, 0, n32, (const uint8_t *)"\1\0", NULL, 0,
				b);
		for (i = 0; i < n32; i++)
			efd[i] = fdzoo_new(FDZOO_EVENTFD, 0, NULL);
		ret = client_set_irqs(&cl,
				      VFIO_IRQ_SET_DATA_EVENTFD |
					      VFIO_IRQ_SET_ACTION_TRIGGER,
				      idx, 0, n32, NULL, efd, n32, b);
		close_fds(efd, 2);
		return ret;
	case 9:
		idx = fz_u8(&in) % 10;
		v = fz_u16(&in);
		return client_region_read(&cl, idx, v & 0xff, out,
					  (uint32_t)(v >> 8) * 4 + 1, b);
	case 10:
		idx = fz_u8(&in) % 10;
		len = fz_u8(&in) + 1u;
		fz_bytes(&in, data, len);
		return client_region_write(&cl, idx, fz_u8(&in), data,
					   (uint32_t)len, b);
	case 11:
		memset(u.wm, 0, sizeof(u.wm));
		for (i = 0; i < 2; i++) {
			u.wm[i].region = fz_u8(&in) % 10;
			u.wm[i].offset = fz_u8(&in);
			u.wm[i].count = fz_u8(&in) % 9;
		}
		return client_region_write_multi(&cl, u.wm, 1 + (op & 1), b);
	case 12:
		return client_reset(&cl, b);
	case 13:
		n32 = fz_u32(&in);
		len = fz_u8(&in) % 32;
		fz_bytes(&in, data, len);
		return client_feature(&cl, n32, data, len, out, 64, b);
	case 14:
		return client_migration_flags(&cl, &v, b);
	case 15:
		return client_mig_state(&cl, fz_u8(&in) % 10, b);
	case 16:
		return client_mig_state_get(&cl, &n32, b);
	case 17:
		u.range.iova = GMEM_GPA;
		u.range.length = GMEM_SIZE;
		return client_dirty_start(&cl, 4096, &u.range, 1, b);
	case 18:
		return client_dirty_stop(&cl, b);
	case 19:
		return client_dirty_report(&cl, GMEM_GPA, GMEM_SIZE, 4096, out,
					   sizeof(out), b);
	case 20:
		return client_mig_data_read(&cl, out, fz_u16(&in) % 1024, b);
	case 21:
		len = fz_u8(&in);
		fz_bytes(&in, data, len);
		return client_mig_data_write(&cl, data, (uint32_t)len, b);
	case 22:
		if (op & 0x40) {
			/* how the client answers DMA from now on */
			struct client_dma_policy p = { 0 };

			v = fz_u8(&in);
			p.how = (enum client_serve_how)(v & 3);
			p.error = fz_u8(&in);
			p.short_by = fz_u8(&in);
			p.write_reply16 = v & 0x04;
			p.any_region = v & 0x08;
			client_set_policy(&cl, &p);
		}
		/* requests of the server's own, nothing of ours waiting */
		for (i = fz_u8(&in) % 4; i && !hung_up; i--)
			dma_req();
		return client_serve(&cl, 4, 0);
	default:
		/* raw bytes from the server, then whatever comes of them */
		len = fz_u8(&in);
		fz_bytes(&in, data, len);
		if (len && !hung_up)
			chan_send_buf(peer, data, len, NULL, 0,
				      chan_deadline(CHAN_NOWAIT));
		return client_serve(&cl, 4, 0);
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fz_quiet();
	verbose = getenv("VUC_FUZZ_VERBOSE");
	gmem_init(&gm);
	if (gmem_add_memfd(&gm, GMEM_GPA, GMEM_SIZE, NULL) < 0)
		abort();
	mem = gmem_gpa(&gm, GMEM_GPA, GMEM_SIZE);
	if (!mem)
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* 1 ms: a backstop, no step should wait at all; 16 KiB: above every
	 * message the script sends (otherwise a 1 MiB buffer per receive) */
	static const struct client_opts opts = { .timeout_ms = 1,
						 .max_msg_size = 16384 };
	struct fe_trace_hook hook = { .fn = on_event };
	int sv[2], base, now, ret, broken = 0;
	unsigned int ops, i;

	if (!fz_err)
		LLVMFuzzerInitialize(NULL, NULL);
	base = fz_count_fds();
	in = (struct fz_in){ data, size };
	for (i = 0; i < GMEM_SIZE; i++)
		mem[i] = (uint8_t)(i * 7 + 3);
	memcpy(shadow, mem, GMEM_SIZE);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		abort();
	peer = sv[1];
	twin_peer = -1;
	hung_up = false;
	if (client_init(&cl, sv[0], &gm, &opts, &hook) < 0)
		abort();
	checking = true;

	for (ops = 0; in.n && ops < MAX_OPS; ops++) {
		uint8_t op = fz_u8(&in);

		ret = step(op);
		if (ret < -4095)
			fz_fail("step %u returned %d, not a -errno", STEP(op),
				ret);
		/* a broken stream fails every call that talks (22 and 23
		 * only serve: 0 requests served is no success) */
		if (broken && ret >= 0 && STEP(op) < 22)
			fz_fail("step %u returned %d on a broken session (%s)",
				STEP(op), ret, client_error(&cl));
		mem_check("after a step");
		broken = cl.broken;
	}

	checking = false;
	client_fini(&cl);
	close_fd(&sv[0]);
	close_fd(&peer);
	close_fd(&twin_peer);
	close_fds(version_others, VERSION_FDS);
	now = fz_count_fds();
	if (now != base)
		fz_fail("%d fds open after the session, %d before: the "
			"client leaked %d",
			now, base, now - base);
	return 0;
}
