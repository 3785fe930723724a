// SPDX-License-Identifier: MIT
/*
 * fake_target.c - a purpose-built misbehaving vhost-user back-end for the
 * runner's self-tests. It follows the backend program conventions
 * (--socket-path=PATH or --fd=N) and speaks just enough vhost-user: it
 * answers GET_FEATURES, GET_PROTOCOL_FEATURES, GET_QUEUE_NUM and
 * GET_MAX_MEM_SLOTS, acks what asks for an ack, and otherwise misbehaves as
 * --mode says:
 *
 *	ok		behave
 *	crash		SIGSEGV on the first message
 *	hang		read messages, never answer
 *	leak-fd		dup() an fd for every message (and behave otherwise)
 *	asan		print an AddressSanitizer report and exit 1, as ASan does
 *	exit		exit 3 at start, before listening
 *	unsolicited	answer GET_FEATURES twice
 *	slow-start	wait 300 ms before listening
 *	stubborn	ignore SIGTERM (the runner must escalate to SIGKILL)
 *
 * --client connects to the socket path instead of listening on it (a
 * back-end in client mode, for --listen).
 * --reconnect serves connection after connection (the reuse lifecycle);
 * without it the process exits when its front-end hangs up.
 * --features=N sets the virtio features offered (default VERSION_1 and
 * PROTOCOL_FEATURES), --protocol-features=N the protocol features (0).
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/util.h"
#include "fe/frame.h"
#include "transport/chan.h"
#include "transport/sock.h"

#define VIRTIO_F_VERSION_1 32
#define VHOST_USER_F_PROTOCOL_FEATURES 30

static const char *mode = "ok";
static uint64_t features =
	(1ull << VIRTIO_F_VERSION_1) | (1ull << VHOST_USER_F_PROTOCOL_FEATURES);
static uint64_t protocol_features;

/* Die by SIGSEGV even in a sanitizer build (whose handler would turn it
 * into a report and exit 1): the self-test wants the signal named. */
static void crash(void)
{
	signal(SIGSEGV, SIG_DFL);
	raise(SIGSEGV);
}

static int reply_u64(int fd, uint32_t req, uint64_t v)
{
	struct vhost_user_msg m;

	vhost_user_build_u64(&m, req, v);
	vhost_user_make_reply(&m);
	return frame_vhost_send(fd, &m, FRAME_WHOLE, chan_deadline(1000));
}

/* The reply and an unsolicited copy in one write: both are in the
 * socket by the time the case has read the first, so the runner's check
 * after the case sees the second whatever the scheduling. */
static int reply_u64_twice(int fd, uint32_t req, uint64_t v)
{
	struct vhost_user_msg m;
	uint8_t buf[2 * (VHOST_USER_HDR_SIZE + sizeof(uint64_t))];
	size_t one = VHOST_USER_HDR_SIZE + sizeof(uint64_t);

	vhost_user_build_u64(&m, req, v);
	vhost_user_make_reply(&m);
	memcpy(buf, &m.hdr, VHOST_USER_HDR_SIZE);
	memcpy(buf + VHOST_USER_HDR_SIZE, m.payload, sizeof(v));
	memcpy(buf + one, buf, one);
	return write(fd, buf, sizeof(buf)) == (ssize_t)sizeof(buf) ? 0 : -EIO;
}

/* Serve one connection until the front-end hangs up. */
static void serve(int fd)
{
	static struct vhost_user_msg m;
	int n;

	for (;;) {
		n = frame_vhost_recv(fd, &m, chan_deadline(3600 * 1000), NULL,
				     NULL);
		if (n < 0)
			return;
		close_fds(m.fds, m.nfds);
		if (!strcmp(mode, "crash"))
			crash();
		if (!strcmp(mode, "hang"))
			continue;
		if (!strcmp(mode, "asan")) {
			fprintf(stderr,
				"=============================================="
				"===="
				"===============\n"
				"==%d==ERROR: AddressSanitizer: heap-use-after-"
				"free on address 0x602000000010 at pc "
				"0x55d0c0ffee00 bp 0x7ffc00000000 sp "
				"0x7ffc00000008\n"
				"READ of size 8 at 0x602000000010 thread T0\n"
				"    #0 0x55d0c0ffee00 in handle_msg "
				"fake_target.c:99\n"
				"    #1 0x55d0c0ffee80 in main "
				"fake_target.c:200\n"
				"SUMMARY: AddressSanitizer: "
				"heap-use-after-free "
				"fake_target.c:99 in handle_msg\n",
				(int)getpid());
			_exit(1);
		}
		if (!strcmp(mode, "leak-fd") && dup(2) < 0)
			return;
		switch (m.hdr.request) {
		case VHOST_USER_GET_FEATURES:
			if (!strcmp(mode, "unsolicited"))
				reply_u64_twice(fd, m.hdr.request, features);
			else
				reply_u64(fd, m.hdr.request, features);
			break;
		case VHOST_USER_GET_PROTOCOL_FEATURES:
			reply_u64(fd, m.hdr.request, protocol_features);
			break;
		case VHOST_USER_GET_QUEUE_NUM:
			reply_u64(fd, m.hdr.request, 2);
			break;
		case VHOST_USER_GET_MAX_MEM_SLOTS:
			reply_u64(fd, m.hdr.request, 8);
			break;
		default:
			if (m.hdr.flags & VHOST_USER_NEED_REPLY_MASK)
				reply_u64(fd, m.hdr.request, 0);
			break;
		}
	}
}

int main(int argc, char **argv)
{
	const char *path = NULL;
	bool reconnect = false, client = false;
	int i, fd = -1, lfd;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strncmp(a, "--socket-path=", 14))
			path = a + 14;
		else if (!strncmp(a, "--fd=", 5))
			fd = atoi(a + 5);
		else if (!strncmp(a, "--mode=", 7))
			mode = a + 7;
		else if (!strcmp(a, "--reconnect"))
			reconnect = true;
		else if (!strcmp(a, "--client"))
			client = true;
		else if (!strncmp(a, "--features=", 11))
			features = strtoull(a + 11, NULL, 0);
		else if (!strncmp(a, "--protocol-features=", 20))
			protocol_features = strtoull(a + 20, NULL, 0);
		else if (!strcmp(a, "--print-capabilities")) {
			printf("{\"type\": \"net\"}\n");
			return 0;
		} else {
			fprintf(stderr, "fake_target: unknown argument %s\n",
				a);
			return 2;
		}
	}
	if (!strcmp(mode, "exit")) {
		fprintf(stderr,
			"fake_target: refusing to start (--mode=exit)\n");
		return 3;
	}
	if (!strcmp(mode, "slow-start"))
		usleep(300 * 1000);
	if (!strcmp(mode, "stubborn"))
		signal(SIGTERM, SIG_IGN);
	if (fd >= 0) {
		serve(fd);
		return 0;
	}
	if (!path) {
		fprintf(stderr, "fake_target: --socket-path=PATH or --fd=N\n");
		return 2;
	}
	if (client) {
		do {
			fd = sock_connect(path, 5000);
			if (fd < 0)
				break;
			serve(fd);
			close(fd);
		} while (reconnect);
		return 0;
	}
	lfd = sock_listen(path, 4);
	if (lfd < 0) {
		fprintf(stderr, "fake_target: listen %s: %s\n", path,
			strerror(-lfd));
		return 1;
	}
	do {
		fd = sock_accept(lfd, chan_deadline(3600 * 1000));
		if (fd < 0)
			break;
		serve(fd);
		close(fd);
	} while (reconnect);
	close(lfd);
	unlink(path);
	return 0;
}
