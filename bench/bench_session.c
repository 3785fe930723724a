// SPDX-License-Identifier: MIT
/*
 * bench_session.c - request / reply round trips per second of one session
 * (GET_FEATURES in a loop) next to a raw socketpair ping-pong of the same
 * message sizes (12-byte request, 20-byte reply), as a ratio in one run.
 *
 * A responder thread answers on one end of a socketpair with plain
 * read() / write(). The driver side runs twice: once with raw write() /
 * read() of the bytes, once through the path cases use:
 * vhost_user_build_empty() + frame_vhost_send() + frame_vhost_recv() +
 * vhost_user_check_reply(). The aim: the session reaches at least 70% of
 * the raw rate.
 *
 * Usage: bench_session [ROUND_TRIPS]   (default 200000)
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/util.h"
#include "fe/frame.h"
#include "transport/chan.h"
#include "transport/sock.h"

static int read_full(int fd, void *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(fd, (char *)buf + got, len - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		got += (size_t)n;
	}
	return 0;
}

/* Answer every GET_FEATURES with a u64 reply until the peer leaves. */
static void *responder(void *arg)
{
	int fd = *(int *)arg;
	struct vhost_user_hdr h;
	uint8_t reply[20];
	uint64_t features = 1ull << 32;

	while (read_full(fd, &h, sizeof(h)) == 0) {
		uint8_t skip[64];

		if (h.size &&
		    (h.size > sizeof(skip) || read_full(fd, skip, h.size) < 0))
			break;
		h.flags = VHOST_USER_VERSION | VHOST_USER_REPLY_MASK;
		h.size = 8;
		memcpy(reply, &h, sizeof(h));
		memcpy(reply + 12, &features, 8);
		if (write(fd, reply, sizeof(reply)) != (ssize_t)sizeof(reply))
			break;
	}
	return NULL;
}

static double seconds(int64_t ns)
{
	return (double)ns / 1e9;
}

static int run_raw(int fd, long n, double *rate)
{
	struct vhost_user_hdr h = { VHOST_USER_GET_FEATURES, VHOST_USER_VERSION,
				    0 };
	uint8_t reply[20];
	int64_t t0 = chan_now();
	long i;

	for (i = 0; i < n; i++) {
		if (write(fd, &h, sizeof(h)) != (ssize_t)sizeof(h) ||
		    read_full(fd, reply, sizeof(reply)) < 0)
			return -1;
	}
	*rate = (double)n / seconds(chan_now() - t0);
	return 0;
}

static int run_session(int fd, long n, double *rate)
{
	static struct vhost_user_msg req, rep;
	int64_t t0 = chan_now();
	const char *why;
	long i;

	for (i = 0; i < n; i++) {
		int64_t deadline = chan_deadline(1000);

		vhost_user_build_empty(&req, VHOST_USER_GET_FEATURES);
		if (frame_vhost_send(fd, &req, FRAME_WHOLE, deadline) < 0 ||
		    frame_vhost_recv(fd, &rep, deadline, &why, NULL) < 0)
			return -1;
		if (vhost_user_check_reply(VHOST_USER_FROM_FRONTEND, &req.hdr,
					   &rep, &why) < 0) {
			fprintf(stderr, "bench_session: bad reply: %s\n", why);
			return -1;
		}
	}
	*rate = (double)n / seconds(chan_now() - t0);
	return 0;
}

/* One measurement on a fresh socketpair and responder. */
static int measure(bool session, long n, double *rate)
{
	pthread_t th;
	int sv[2], ret;

	if (sock_pair(sv) < 0)
		return -1;
	if (pthread_create(&th, NULL, responder, &sv[1])) {
		close_fds(sv, 2);
		return -1;
	}
	ret = session ? run_session(sv[0], n, rate) : run_raw(sv[0], n, rate);
	close_fd(&sv[0]);
	pthread_join(th, NULL);
	close_fd(&sv[1]);
	return ret;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 200000;
	double raw = 0, ses = 0, best_raw = 0, best_ses = 0;
	int round;

	if (n <= 0) {
		fprintf(stderr, "usage: bench_session [ROUND_TRIPS]\n");
		return 2;
	}
	/* interleave, best of three each: the two share the machine's
	 * noise alike */
	for (round = 0; round < 3; round++) {
		if (measure(false, n, &raw) < 0 || measure(true, n, &ses) < 0) {
			fprintf(stderr, "bench_session: a round trip failed\n");
			return 1;
		}
		best_raw = VUC_MAX(best_raw, raw);
		best_ses = VUC_MAX(best_ses, ses);
	}
	printf("round trips: %ld per run, best of 3\n", n);
	printf("raw socketpair ping-pong (12 B request, 20 B reply): "
	       "%.0f round trips/s\n",
	       best_raw);
	printf("session GET_FEATURES (frame_vhost_send/recv + "
	       "vhost_user_check_reply): %.0f round trips/s\n",
	       best_ses);
	printf("ratio session/raw: %.1f%% (aim: >= 70%%: %s)\n",
	       100.0 * best_ses / best_raw,
	       best_ses >= 0.7 * best_raw ? "met" : "NOT met");
	return 0;
}
