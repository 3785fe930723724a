// SPDX-License-Identifier: MIT
/*
 * main.c - vuc-ref-vfio: the reference vfio-user server, following the
 * spec's "Backend Program Conventions": --socket-path=PATH or --fd=FDNUM,
 * no daemonizing, SIGTERM honoured.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/util.h"
#include "transport/chan.h"
#include "transport/sock.h"
#include "bugs.h"
#include "server.h"

#define EXIT_USAGE 2

/* For the signal handler: the socket file to remove. */
static char sock_path[PATH_MAX];

static void on_term(int sig)
{
	(void)sig;
	/* async-signal-safe: works whatever the server is blocked in */
	if (sock_path[0])
		unlink(sock_path);
	_exit(0);
}

static void usage(FILE *f)
{
	fputs("usage: vuc-ref-vfio (--socket-path=PATH | --fd=FDNUM) "
	      "[options]\n"
	      "  --socket-path=PATH     listen on a UNIX socket at PATH\n"
	      "  --fd=FDNUM             serve an inherited UNIX socket "
	      "(listening or\n"
	      "                         connected)\n"
	      "  --reconnect            after a client leaves, wait for the "
	      "next\n"
	      "  --reset-on-disconnect  reset the device when a client "
	      "leaves\n"
	      "  --no-twin-socket       never offer twin-socket mode\n"
	      "  --bug NAME             enable a seeded bug (repeatable)\n"
	      "  --list-bugs            list the seeded bugs and exit\n"
	      "  --help                 this text\n",
	      f);
}

static void list_bugs(void)
{
	unsigned int i;

	for (i = 0; i < BUG_COUNT; i++) {
		const struct bug_info *b = bugs_info((enum bug)i);

		printf("%-24s %s\n%-24s caught by: %s\n", b->name, b->what, "",
		       b->caught);
	}
}

static int parse_fd(const char *arg)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(arg, &end, 10);
	if (errno || end == arg || *end || v < 0 || v > INT_MAX)
		return -EINVAL;
	return (int)v;
}

static bool is_listening(int fd)
{
	int on = 0;
	socklen_t len = sizeof(on);

	return !getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &len) && on;
}

int main(int argc, char **argv)
{
	enum {
		OPT_SOCKET = 256,
		OPT_FD,
		OPT_RECONNECT,
		OPT_RESET,
		OPT_NO_TWIN,
		OPT_BUG,
		OPT_LIST_BUGS,
		OPT_HELP,
	};
	static const struct option opts[] = {
		{ "socket-path", required_argument, NULL, OPT_SOCKET },
		{ "fd", required_argument, NULL, OPT_FD },
		{ "reconnect", no_argument, NULL, OPT_RECONNECT },
		{ "reset-on-disconnect", no_argument, NULL, OPT_RESET },
		{ "no-twin-socket", no_argument, NULL, OPT_NO_TWIN },
		{ "bug", required_argument, NULL, OPT_BUG },
		{ "list-bugs", no_argument, NULL, OPT_LIST_BUGS },
		{ "help", no_argument, NULL, OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	struct server_opts so = { 0 };
	const char *path = NULL;
	struct server *s = NULL;
	bool reconnect = false;
	struct sigaction sa;
	int fd = -1, lfd = -1, conn, c, ret;
	struct stat st;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case OPT_SOCKET:
			path = optarg;
			break;
		case OPT_FD:
			fd = parse_fd(optarg);
			if (fd < 0) {
				fprintf(stderr,
					"vuc-ref-vfio: --fd=%s: not a file "
					"descriptor number\n",
					optarg);
				return EXIT_USAGE;
			}
			break;
		case OPT_RECONNECT:
			reconnect = true;
			break;
		case OPT_RESET:
			so.reset_on_disconnect = true;
			break;
		case OPT_NO_TWIN:
			so.no_twin_socket = true;
			break;
		case OPT_BUG:
			ret = bugs_by_name(optarg);
			if (ret < 0) {
				fprintf(stderr,
					"vuc-ref-vfio: --bug %s: no such bug "
					"(--list-bugs lists them)\n",
					optarg);
				return EXIT_USAGE;
			}
			so.bugs |= bugs_mask((enum bug)ret);
			break;
		case OPT_LIST_BUGS:
			list_bugs();
			return 0;
		case OPT_HELP:
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "vuc-ref-vfio: unexpected argument '%s'\n",
			argv[optind]);
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!path == (fd < 0)) {
		fprintf(stderr, "vuc-ref-vfio: give exactly one of "
				"--socket-path and --fd\n");
		usage(stderr);
		return EXIT_USAGE;
	}
	if (path && strlen(path) >= sizeof(sock_path)) {
		fprintf(stderr, "vuc-ref-vfio: --socket-path too long\n");
		return EXIT_USAGE;
	}
	if (fd >= 0 && (fstat(fd, &st) < 0 || !S_ISSOCK(st.st_mode))) {
		fprintf(stderr, "vuc-ref-vfio: --fd=%d is not a socket\n", fd);
		return EXIT_USAGE;
	}

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (so.bugs)
		for (c = 0; c < BUG_COUNT; c++)
			if (bugs_on(so.bugs, (enum bug)c))
				fprintf(stderr,
					"vuc-ref-vfio: seeded bug %s is on\n",
					bugs_info((enum bug)c)->name);

	/* The device first, the socket after: a client that connects sees a
	 * server whose own fds are all open already (stable fd counts). */
	ret = server_new(&s, &so);
	if (ret < 0) {
		fprintf(stderr, "vuc-ref-vfio: cannot create the device: %s\n",
			strerror(-ret));
		goto out;
	}
	if (path) {
		lfd = sock_listen(path, 1);
		if (lfd < 0) {
			fprintf(stderr,
				"vuc-ref-vfio: cannot listen on %s: %s\n", path,
				strerror(-lfd));
			ret = lfd;
			lfd = -1;
			goto out;
		}
		strcpy(sock_path, path);
	} else if (is_listening(fd)) {
		lfd = fd;
	}
	do {
		if (lfd >= 0) {
			/* sock_accept() needs a deadline: wait a day at a
			 * time */
			conn = sock_accept(lfd, chan_deadline(86400000));
			if (conn == -ETIMEDOUT)
				continue;
			if (conn < 0) {
				fprintf(stderr,
					"vuc-ref-vfio: accept failed: %s\n",
					strerror(-conn));
				ret = conn;
				break;
			}
		} else {
			conn = fd;
			reconnect = false; /* one connected socket only */
		}
		server_serve(s, conn);
		ret = 0;
	} while (reconnect);

out:
	server_free(s);
	if (lfd >= 0)
		close(lfd);
	if (sock_path[0])
		unlink(sock_path);
	return ret < 0 ? 1 : 0;
}
