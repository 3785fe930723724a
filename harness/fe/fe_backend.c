// SPDX-License-Identifier: MIT
/*
 * fe_backend.c - the front-end's side of the back-end channel
 * (VHOST_USER_SET_BACKEND_REQ_FD): read the back-end's requests, record
 * them, judge them, answer them as the policy says.
 *
 * Spec: vhost-user.rst, "Back-end communication", "Back-end message
 * types", "REPLY_ACK".
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/util.h"
#include "fe/fe.h"
#include "fe/frame.h"
#include "transport/chan.h"

void fe_backend_close(struct fe *fe, const char *why)
{
	char note[256];

	if (fe->backend_fd < 0)
		return;
	snprintf(note, sizeof(note), "back-end channel closed: %s", why);
	fe_trace_note(&fe->trace, FE_TRACE_BACKEND, note);
	close_fd(&fe->backend_fd);
}

const struct fe_backend_entry *fe_backend_entry(const struct fe *fe,
						uint64_t seq)
{
	if (seq >= fe->backend_count ||
	    fe->backend_count - seq > FE_BACKEND_LOG)
		return NULL;
	return &fe->backend_log[seq % FE_BACKEND_LOG];
}

/* The u64 we answer @req with under the session's policy. */
static uint64_t answer_value(const struct fe *fe,
			     const struct vhost_user_hdr *h)
{
	if (fe->backend_policy == FE_BACKEND_ACK_ERROR)
		return fe->backend_ack_value ? fe->backend_ack_value : 1;
	/* no shared object is known here: a lookup fails, and no fd goes */
	if (h->request == VHOST_USER_BACKEND_SHARED_OBJECT_LOOKUP)
		return 1;
	return 0;
}

/* Answer @e (already recorded) as the policy says. Return: 0 or -errno. */
static int answer(struct fe *fe, struct fe_backend_entry *e,
		  const struct vhost_user_msg *m)
{
	enum fe_backend_policy pol = fe->backend_policy;
	struct vhost_user_msg r;
	int expect, ret;

	expect = vhost_user_reply_expected(VHOST_USER_FROM_BACKEND, &m->hdr,
					   fe->proto_set ? fe->proto : 0);
	if (pol == FE_BACKEND_SILENT)
		return 0;
	if (expect != 1 && pol != FE_BACKEND_ALWAYS_ANSWER)
		return 0;
	e->answer = answer_value(fe, &m->hdr);
	vhost_user_build_ack(&r, m->hdr.request, e->answer);
	switch (pol) {
	case FE_BACKEND_MALFORMED:
		r.hdr.size = 4; /* a u64 cut in half */
		break;
	case FE_BACKEND_WRONG_CODE:
		r.hdr.request = m->hdr.request + 1;
		break;
	case FE_BACKEND_NO_REPLY_FLAG:
		r.hdr.flags &= ~VHOST_USER_REPLY_MASK;
		break;
	default:
		break;
	}
	fe_trace_msg(fe, FE_TRACE_SEND, FE_TRACE_BACKEND,
		     VHOST_USER_FROM_BACKEND, &r, NULL, 0, 0);
	ret = frame_vhost_send(fe->backend_fd, &r, FRAME_WHOLE,
			       chan_deadline(fe->timeout_ms));
	if (ret < 0) {
		fe_backend_close(fe, "the answer could not be sent");
		return ret;
	}
	e->answered = true;
	return 0;
}

/* Read, record and answer one request. Return: 1, or -errno (the channel
 * is closed on -ECONNRESET and on a stream out of step). */
static int serve_one(struct fe *fe)
{
	struct fe_backend_entry *e;
	struct vhost_user_msg m;
	struct frame_info info;
	const char *why = NULL;
	char fdtext[160];
	int ret;

	memset(&info, 0, sizeof(info));
	vhost_user_msg_init(&m);
	ret = frame_vhost_recv(fe->backend_fd, &m,
			       chan_deadline(fe->timeout_ms), &why, &info);
	if (ret == -ECONNRESET) {
		fe_backend_close(fe, info.hdr.got ? "hang-up mid-message"
						  : "the back-end hung up");
		return ret;
	}
	if (ret == -EMSGSIZE && !info.fds_dropped) {
		/* only the header was read */
		fe_backend_close(fe, "a request announces a payload larger "
				     "than any message holds: out of step");
		return ret;
	}
	if (ret < 0 && ret != -EMSGSIZE) {
		/* cut short: the stream is out of step */
		fe_backend_close(fe, why ? why : strerror(-ret));
		return ret;
	}

	e = &fe->backend_log[fe->backend_count % FE_BACKEND_LOG];
	memset(e, 0, sizeof(*e));
	e->seq = fe->backend_count++;
	e->hdr = m.hdr;
	e->payload_len = m.hdr.size;
	memcpy(e->payload, m.payload, VUC_MIN(m.hdr.size, sizeof(e->payload)));
	e->nfds = m.nfds;
	if (fe_trace_fds_text(m.fds, m.nfds, fdtext, sizeof(fdtext)))
		snprintf(e->fds_text, sizeof(e->fds_text), "%s", fdtext);
	vhost_user_describe(&m, VHOST_USER_FROM_BACKEND, e->text,
			    sizeof(e->text));
	fe_trace_msg(fe, FE_TRACE_RECV, FE_TRACE_BACKEND,
		     VHOST_USER_FROM_BACKEND, &m, NULL, 0, 0);
	if (ret == -EMSGSIZE) {
		e->check = -EMSGSIZE;
		snprintf(e->why, sizeof(e->why),
			 "more than %u fds came; they were dropped",
			 VHOST_USER_MAX_FDS);
	} else {
		why = NULL;
		e->check = vhost_user_check_request(
			&m, VHOST_USER_FROM_BACKEND,
			fe->proto_set ? fe->proto : 0, &why);
		if (why && e->check)
			snprintf(e->why, sizeof(e->why), "%s", why);
	}
	if (e->check) {
		char note[224];

		snprintf(note, sizeof(note), "%s back-end request: %s",
			 e->check < 0 ? "bad" : "warning:", e->why);
		fe_trace_note(&fe->trace, FE_TRACE_BACKEND, note);
	}
	/* host notifiers, shared objects: nothing is mapped or kept here */
	close_fds(m.fds, m.nfds);
	answer(fe, e, &m);
	return 1;
}

int fe_backend_poll(struct fe *fe, int timeout_ms)
{
	int64_t deadline = chan_deadline(timeout_ms);
	unsigned int burst =
		fe->backend_burst ? fe->backend_burst : FE_BACKEND_BURST;
	unsigned int n = 0;
	int ret;

	if (fe->backend_fd < 0)
		return -ENOTCONN;
	while (n < burst) {
		/* wait for the first only; then take what is pending */
		ret = chan_poll(fe->backend_fd,
				n ? chan_deadline(0) : deadline);
		if (ret == -ETIMEDOUT)
			break;
		if (ret < 0) {
			fe_backend_close(fe, strerror(-ret));
			return n ? (int)n : ret;
		}
		if (!(ret & CHAN_POLL_DATA)) {
			fe_backend_close(fe, "the back-end hung up");
			return n ? (int)n : -ECONNRESET;
		}
		ret = serve_one(fe);
		if (ret < 0)
			return n ? (int)n : ret;
		n++;
	}
	if (n == burst) {
		char note[96];

		snprintf(note, sizeof(note),
			 "%u back-end requests in one go; more may wait", n);
		fe_trace_note(&fe->trace, FE_TRACE_BACKEND, note);
	}
	return (int)n;
}
