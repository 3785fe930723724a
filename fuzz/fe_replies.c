// SPDX-License-Identifier: MIT
/*
 * fe_replies.c - fuzz the front-end session (harness/fe/fe.h) with a
 * hostile back-end: the replies to its requests, and the requests the
 * back-end makes on its own channel, come from the input.
 *
 * The session talks to a socketpair. Each time it is about to send on the
 * main socket (its trace hook sees that first), the harness writes the
 * next scripted answer into the peer end, so the session reads it as the
 * reply; an answer never promises bytes it does not send (a header too
 * big to read on is followed by a hang-up), so a step only waits when the
 * script gives no answer where one is due (fe.timeout_ms, 5 ms).
 *
 * Input (also in fuzz/README.md): ops until the input ends, each:
 *   op u8	the step (op % 16, see step()), its arguments from the input
 *   answer	for every request the step sends, one mode byte a:
 *		a % 4 == 0: a reply: code u8 if a & 0x04 (else the
 *		  request's), flags u32 if a & 0x08 (else 0x5), size u16
 *		  (% 4200; past 4096 only the header goes), that many bytes,
 *		  fds u8 if a & 0x10 (count % 4, kind: bits 2-3);
 *		1: len u8 raw bytes, then hang up; 2: nothing (a
 *		  request with no reply due);
 *		3: a reply as 0, then a second message (unsolicited)
 *   op 12 writes len u8 raw bytes of back-end requests on the channel
 *   the session handed over (SET_BACKEND_REQ_FD), then polls it.
 *
 * Oracles: no crash, hang or leak; no fd left open after fe_fini(); a
 * step returns >= 0 or a -errno; once the session is dead every step
 * fails at once.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/util.h"
#include "fe/fe.h"
#include "fuzz_util.h"
#include "transport/chan.h"
#include "transport/fdzoo.h"
#include "wire/vhost_user.h"

#define MAX_OPS 24

static struct fz_in in;
static int peer = -1, chan = -1;
static bool hung_up;

static void hang_up(void)
{
	shutdown(peer, SHUT_WR);
	hung_up = true;
}

static void answer(const struct fe *fe, const struct vhost_user_hdr *req)
{
	uint8_t buf[VHOST_USER_MSG_MAX];
	int fds[4], others[4];
	unsigned int nfds = 0, i, rounds;
	uint8_t a = fz_u8(&in);
	struct vhost_user_hdr h;
	uint16_t size;
	size_t len;

	if (hung_up)
		return;
	if ((a & 3) == 1) {
		len = fz_u8(&in);
		fz_bytes(&in, buf, len);
		if (len)
			chan_send_buf(peer, buf, len, NULL, 0,
				      chan_deadline(CHAN_NOWAIT));
		hang_up();
		return;
	}
	if ((a & 3) == 2) {
		/* no answer where one is due would only make the step wait
		 * out its deadline: hang up instead */
		if (vhost_user_reply_expected(VHOST_USER_FROM_FRONTEND, req,
					      fe->proto_set ? fe->proto : 0) ==
		    1)
			hang_up();
		return;
	}
	rounds = (a & 3) == 3 ? 2 : 1;
	while (rounds--) {
		h.request = a & 0x04 ? fz_u8(&in) : req->request;
		h.flags = a & 0x08 ? fz_u32(&in) : 0x5;
		size = fz_u16(&in) % 4200;
		h.size = size;
		memcpy(buf, &h, sizeof(h));
		len = sizeof(h);
		if (size <= VHOST_USER_PAYLOAD_MAX) {
			fz_bytes(&in, buf + len, size);
			len += size;
		}
		nfds = 0;
		if (a & 0x10) {
			static const enum fdzoo_kind kinds[4] = {
				FDZOO_EVENTFD, FDZOO_MEMFD, FDZOO_PIPE_READ,
				FDZOO_SOCKET
			};
			uint8_t f = fz_u8(&in);

			for (i = 0; i < f % 4u; i++) {
				fds[i] = fdzoo_new(kinds[(f >> 2) & 3], 4096,
						   &others[i]);
				if (fds[i] < 0)
					break;
			}
			nfds = i;
		}
		chan_send_buf(peer, buf, len, fds, nfds,
			      chan_deadline(CHAN_NOWAIT));
		for (i = 0; i < nfds; i++) {
			close(fds[i]);
			close_fd(&others[i]);
		}
		if (size > VHOST_USER_PAYLOAD_MAX) {
			hang_up(); /* the session stops reading there */
			return;
		}
	}
}

/* The trace hook: the session is about to send on @ev->chan. */
static void on_event(void *ctx, const struct fe_trace_event *ev)
{
	struct vhost_user_hdr req = { 0 };

	if (ev->dir != FE_TRACE_SEND || ev->chan != FE_TRACE_MAIN)
		return;
	/* what the session sent before: read and dropped (fds closed) */
	chan_drain(peer, chan_deadline(CHAN_NOWAIT));
	if (ev->bytes && ev->len >= sizeof(req))
		memcpy(&req, ev->bytes, sizeof(req));
	/* the back-end channel: keep our own copy of the end sent to us */
	if (req.request == VHOST_USER_SET_BACKEND_REQ_FD && ev->nfds == 1 &&
	    chan < 0)
		chan = fcntl(ev->fds[0], F_DUPFD_CLOEXEC, 0);
	answer(ctx, &req);
}

static int step(struct fe *fe, uint8_t op)
{
	uint8_t cfg[VHOST_USER_MAX_CONFIG_SIZE], buf[256];
	uint64_t v = 0;
	uint32_t base;
	uint8_t st;
	size_t len;

	switch (op % 16) {
	case 0:
		return fe_get_features(fe, &v, NULL);
	case 1:
		return fe_set_features(fe, fz_u64(&in), NULL);
	case 2:
		return fe_get_protocol_features(fe, &v, NULL);
	case 3:
		return fe_set_protocol_features(fe, fz_u64(&in), NULL);
	case 4:
		return fe_set_owner(fe, NULL);
	case 5:
		return fe_get_queue_num(fe, &v, NULL);
	case 6:
		return fe_get_max_mem_slots(fe, &v, NULL);
	case 7:
		return fe_get_config(fe, fz_u8(&in), fz_u8(&in), 0, cfg, NULL);
	case 8:
		return fe_get_inflight_fd(fe, fz_u8(&in) % 4, 256, NULL);
	case 9:
		return fe_get_vring_base(fe, fz_u8(&in) % 4, &base, NULL);
	case 10:
		return fe_get_status(fe, &st, NULL);
	case 11:
		return fe_set_backend_req_fd(fe, NULL);
	case 12:
		len = fz_u8(&in);
		fz_bytes(&in, buf, len);
		if (chan >= 0 && len)
			chan_send_buf(chan, buf, len, NULL, 0,
				      chan_deadline(CHAN_NOWAIT));
		return fe_backend_poll(fe, 0);
	case 13:
		return fe_set_device_state_fd(fe, fz_u8(&in) & 1, 0, NULL);
	case 14:
		return fe_check_device_state(fe, &v, NULL);
	default:
		return fe_set_vring_num(fe, fz_u8(&in) % 4, 256, NULL);
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fz_quiet();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fe fe;
	int sv[2], base, now, ret, dead = 0;
	unsigned int ops;

	if (!fz_err)
		LLVMFuzzerInitialize(NULL, NULL);
	base = fz_count_fds();
	in = (struct fz_in){ data, size };
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		abort();
	peer = sv[1];
	chan = -1;
	hung_up = false;
	if (fe_init(&fe, sv[0], NULL) < 0)
		abort();
	fe.timeout_ms = 5; /* a backstop: no step should wait at all */
	fe.trace.fn = on_event;
	fe.trace.ctx = &fe;

	for (ops = 0; in.n && ops < MAX_OPS; ops++) {
		uint8_t op = fz_u8(&in);

		ret = step(&fe, op);
		if (ret < -4095)
			fz_fail("step %u returned %d, not a -errno", op % 16,
				ret);
		/* the back-end channel (12) lives on its own */
		if (dead && ret >= 0 && op % 16 != 12)
			fz_fail("step %u succeeded on a dead session (%s)",
				op % 16, fe_error(&fe));
		dead = fe.dead;
	}

	fe_fini(&fe);
	close_fd(&peer);
	close_fd(&chan);
	now = fz_count_fds();
	if (now != base)
		fz_fail("%d fds open after the session, %d before: the "
			"front-end leaked %d",
			now, base, now - base);
	return 0;
}
