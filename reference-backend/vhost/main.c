// SPDX-License-Identifier: MIT
/*
 * main.c - vuc-ref-vhost: the reference vhost-user back-end program.
 *
 * Follows vhost-user.rst "Backend program conventions": --socket-path=PATH
 * or --fd=FDNUM, --print-capabilities, no daemonizing, a prompt exit with
 * status 0 on SIGTERM, a non-zero status and a message for bad options.
 * One front-end at a time; after it leaves the program exits 0, or with
 * --reconnect waits for the next one with a fresh device.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "backend.h"
#include "bugs.h"
#include "common/util.h"
#include "transport/chan.h"
#include "transport/sock.h"

#define DEFAULT_BLK_SIZE (UINT64_C(16) << 20)

static int wake_pipe[2] = { -1, -1 };
static volatile sig_atomic_t got_term, got_usr1;

static void on_signal(int sig)
{
	int saved = errno;
	char c = 1;

	if (sig == SIGUSR1)
		got_usr1 = 1;
	else
		got_term = 1;
	if (write(wake_pipe[1], &c, 1) < 0) {
		/* full: a wake-up is already pending */
	}
	errno = saved;
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: vuc-ref-vhost (--socket-path=PATH | --fd=FDNUM) "
		"[options]\n"
		"       vuc-ref-vhost --print-capabilities | --list-bugs\n"
		"  --device net|blk   net: TX loops back to RX; blk: RAM disk "
		"(default net)\n"
		"  --queues N         net: queue pairs; blk: request queues "
		"(default 1)\n"
		"  --size BYTES       blk disk size, K/M/G suffixes (default "
		"16M)\n"
		"  --reconnect        serve the next front-end after one "
		"leaves\n"
		"  --bug NAME         switch a seeded bug on (repeatable; see "
		"--list-bugs)\n"
		"  --verbose          log every request\n");
}

static int parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s)
		return -EINVAL;
	switch (*end) {
	case 'k':
	case 'K':
		v <<= 10;
		end++;
		break;
	case 'm':
	case 'M':
		v <<= 20;
		end++;
		break;
	case 'g':
	case 'G':
		v <<= 30;
		end++;
		break;
	default:
		break;
	}
	if (*end)
		return -EINVAL;
	*out = v;
	return 0;
}

static void drain_wake(void)
{
	char buf[64];

	while (read(wake_pipe[0], buf, sizeof(buf)) > 0)
		;
}

/* Accept one front-end, or -EINTR on SIGTERM. */
static int accept_one(int lfd)
{
	for (;;) {
		struct pollfd p[2] = { { .fd = lfd, .events = POLLIN },
				       { .fd = wake_pipe[0],
					 .events = POLLIN } };

		if (got_term)
			return -EINTR;
		if (poll(p, 2, -1) < 0 && errno != EINTR)
			return -errno;
		if (p[1].revents)
			drain_wake();
		if (got_term)
			return -EINTR;
		if (p[0].revents & POLLIN) {
			int fd = sock_accept(lfd, chan_deadline(0));

			if (fd >= 0 || fd != -ETIMEDOUT)
				return fd;
		}
	}
}

/* Serve one session until it ends or SIGTERM: 0, or -EINTR. */
static int serve(struct backend *be, int fd)
{
	backend_attach(be, fd);
	while (!be->closed) {
		int ret = backend_poll_once(be, chan_deadline(1000));

		if (ret == -EINTR) {
			drain_wake();
			if (got_term)
				break;
		}
		if (got_usr1) {
			got_usr1 = 0;
			be->dev->config_change(be);
		}
	}
	backend_detach(be);
	return got_term ? -EINTR : 0;
}

static int backend_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket-path", required_argument, NULL, 's' },
		{ "fd", required_argument, NULL, 'f' },
		{ "print-capabilities", no_argument, NULL, 'p' },
		{ "device", required_argument, NULL, 'd' },
		{ "queues", required_argument, NULL, 'q' },
		{ "size", required_argument, NULL, 'z' },
		{ "bug", required_argument, NULL, 'b' },
		{ "list-bugs", no_argument, NULL, 'l' },
		{ "reconnect", no_argument, NULL, 'r' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct backend_conf conf = { .device = BACKEND_DEV_NET,
				     .queues = 1,
				     .blk_size = DEFAULT_BLK_SIZE };
	const char *path = NULL, *err = NULL;
	bool caps = false, reconnect = false, listening = false;
	struct sigaction sa;
	struct backend *be = NULL;
	int fd = -1, lfd = -1, c, ret, status = 0;
	unsigned long v;
	char *end;

	/* "--print-capabilities ... Other options and arguments should be
	 * ignored": looked for before anything is judged. */
	for (c = 1; c < argc; c++) {
		if (!strcmp(argv[c], "--device=blk") ||
		    (!strcmp(argv[c], "--device") && c + 1 < argc &&
		     !strcmp(argv[c + 1], "blk")))
			conf.device = BACKEND_DEV_BLK;
		if (!strcmp(argv[c], "--print-capabilities"))
			caps = true;
	}
	if (caps) {
		printf("{\n  \"type\": \"%s\",\n  \"features\": []\n}\n",
		       conf.device == BACKEND_DEV_BLK ? "blk" : "net");
		return 0;
	}

	opterr = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			path = optarg;
			break;
		case 'f':
			errno = 0;
			v = strtoul(optarg, &end, 10);
			if (errno || *end || end == optarg || v > INT32_MAX)
				err = "--fd needs a file descriptor number";
			else
				fd = (int)v;
			break;
		case 'p':
			caps = true;
			break;
		case 'd':
			if (!strcmp(optarg, "net"))
				conf.device = BACKEND_DEV_NET;
			else if (!strcmp(optarg, "blk"))
				conf.device = BACKEND_DEV_BLK;
			else
				err = "--device is net or blk";
			break;
		case 'q':
			errno = 0;
			v = strtoul(optarg, &end, 10);
			if (errno || *end || !v || v > BACKEND_MAX_QUEUES)
				err = "--queues needs 1 .. 64 (net: 1 .. 32)";
			else
				conf.queues = (unsigned int)v;
			break;
		case 'z':
			if (parse_size(optarg, &conf.blk_size) ||
			    !conf.blk_size || conf.blk_size % 512)
				err = "--size needs a non-zero multiple of 512";
			break;
		case 'b':
			if (bug_set(optarg)) {
				fprintf(stderr,
					"vuc-ref-vhost: unknown bug '%s' (see "
					"--list-bugs)\n",
					optarg);
				return 2;
			}
			break;
		case 'l':
			bug_list(stdout);
			return 0;
		case 'r':
			reconnect = true;
			break;
		case 'v':
			conf.verbose = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			fprintf(stderr, "vuc-ref-vhost: unknown option '%s'\n",
				argv[optind - 1]);
			usage(stderr);
			return 2;
		}
	}
	if (!err && optind < argc)
		err = "unexpected argument";
	if (!err && (path ? 1 : 0) + (fd >= 0 ? 1 : 0) != 1)
		err = "exactly one of --socket-path and --fd is needed";
	if (!err && conf.device == BACKEND_DEV_NET &&
	    conf.queues * 2 > BACKEND_MAX_QUEUES)
		err = "--queues for net is 1 .. 32 pairs";
	if (err) {
		fprintf(stderr, "vuc-ref-vhost: %s\n", err);
		usage(stderr);
		return 2;
	}

	if (pipe2(wake_pipe, O_CLOEXEC | O_NONBLOCK)) {
		perror("vuc-ref-vhost: pipe2");
		return 1;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	/* A front-end that hangs up must not kill us through a write. */
	signal(SIGPIPE, SIG_IGN);

	/* The device first, the socket after: a front-end that connects sees
	 * a back-end whose own fds are all open already (stable fd counts). */
	ret = backend_new(&be, &conf);
	if (ret < 0) {
		fprintf(stderr, "vuc-ref-vhost: %s\n", strerror(-ret));
		status = 1;
		goto out;
	}
	be->wake_fd = wake_pipe[0];
	if (path) {
		lfd = sock_listen(path, 1);
		if (lfd < 0) {
			fprintf(stderr, "vuc-ref-vhost: listen on %s: %s\n",
				path, strerror(-lfd));
			status = 1;
			goto out;
		}
		listening = true;
	} else {
		int on = 0;
		socklen_t len = sizeof(on);

		if (fcntl(fd, F_GETFD) < 0) {
			fprintf(stderr, "vuc-ref-vhost: --fd=%d is not open\n",
				fd);
			status = 2;
			goto out;
		}
		fcntl(fd, F_SETFD, FD_CLOEXEC);
		/* A listening socket is accepted on; a connected one is
		 * the session. */
		if (!getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &len) &&
		    on) {
			lfd = fd;
			fd = -1;
			listening = true;
		}
	}
	do {
		if (listening) {
			fd = accept_one(lfd);
			if (fd == -EINTR)
				break;
			if (fd < 0) {
				fprintf(stderr, "vuc-ref-vhost: accept: %s\n",
					strerror(-fd));
				status = 1;
				break;
			}
		}
		ret = serve(be, fd);
		fd = -1;
	} while (ret == 0 && reconnect && listening);

out:
	backend_free(be);
	close_fd(&fd);
	close_fd(&lfd);
	if (path && listening)
		unlink(path);
	close_fds(wake_pipe, 2);
	return status;
}

int main(int argc, char **argv)
{
	return backend_main(argc, argv);
}
