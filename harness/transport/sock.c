/* SPDX-License-Identifier: MIT */
/*
 * sock.c - AF_UNIX stream sockets on a path, with deadlines.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/util.h"
#include "transport/chan.h"
#include "transport/sock.h"

#define SOCK_BACKOFF_MAX_MS 50

/* Fill @sa for @path; the path and its NUL must fit in sun_path. */
static int sock_addr(struct sockaddr_un *sa, const char *path)
{
	size_t len;

	if (!path || !*path)
		return -EINVAL;
	len = strlen(path);
	if (len >= sizeof(sa->sun_path))
		return -ENAMETOOLONG;
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	memcpy(sa->sun_path, path, len + 1);
	return 0;
}

static int sock_set_blocking(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0)
		return -errno;
	return 0;
}

/*
 * One non-blocking connect. AF_UNIX connects complete at once or fail;
 * EINPROGRESS is handled anyway, bounded by @deadline.
 * Return: the fd, or -errno (the socket is closed).
 */
static int sock_try_connect(const struct sockaddr_un *sa, int64_t deadline)
{
	int fd, ret, err;
	socklen_t elen = sizeof(err);

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;

	if (connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0)
		goto connected;
	if (errno != EINPROGRESS) {
		ret = -errno;
		goto err_close;
	}

	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLOUT };

		ret = poll(&pfd, 1, chan_remaining_ms(deadline));
		if (ret > 0)
			break;
		if (ret < 0 && errno != EINTR) {
			ret = -errno;
			goto err_close;
		}
		if (ret == 0 && chan_now() >= deadline) {
			ret = -ETIMEDOUT;
			goto err_close;
		}
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0) {
		ret = -errno;
		goto err_close;
	}
	if (err) {
		ret = -err;
		goto err_close;
	}

connected:
	ret = sock_set_blocking(fd);
	if (ret < 0)
		goto err_close;
	return fd;

err_close:
	close_fd(&fd);
	return ret;
}

int sock_connect(const char *path, int timeout_ms)
{
	struct sockaddr_un sa;
	int64_t deadline = chan_deadline(timeout_ms);
	int backoff_ms = 1;
	int ret;

	ret = sock_addr(&sa, path);
	if (ret < 0)
		return ret;

	for (;;) {
		int64_t until;

		ret = sock_try_connect(&sa, deadline);
		if (ret >= 0)
			return ret;
		/* Not there yet, not listening yet, or busy: a daemon is
		 * starting. Anything else will not go away by waiting. */
		if (ret != -ENOENT && ret != -ECONNREFUSED && ret != -EAGAIN)
			return ret;
		if (chan_now() >= deadline)
			return -ETIMEDOUT;

		until = chan_deadline(backoff_ms);
		chan_sleep_until(until < deadline ? until : deadline);
		backoff_ms = VUC_MIN(backoff_ms * 2, SOCK_BACKOFF_MAX_MS);
	}
}

int sock_listen(const char *path, int backlog)
{
	struct sockaddr_un sa;
	struct stat st;
	int fd = -1, ret;

	ret = sock_addr(&sa, path);
	if (ret < 0)
		return ret;

	/* A socket file outlives its listener: remove only that kind. */
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode))
			return -EADDRINUSE;
		if (unlink(path) < 0 && errno != ENOENT)
			return -errno;
	}

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (const struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(fd, backlog) < 0) {
		ret = -errno;
		goto err_close;
	}
	return fd;

err_close:
	close_fd(&fd);
	return ret;
}

int sock_accept(int listen_fd, int64_t deadline)
{
	int fd, ret;

	for (;;) {
		struct pollfd pfd = { .fd = listen_fd, .events = POLLIN };

		/* Poll first: a blocking listener must not block accept(). */
		ret = poll(&pfd, 1, chan_remaining_ms(deadline));
		if (ret < 0 && errno != EINTR)
			return -errno;
		if (ret <= 0) {
			if (chan_now() >= deadline)
				return -ETIMEDOUT;
			continue;
		}
		if (pfd.revents & POLLNVAL)
			return -EBADF;

		fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd >= 0)
			return fd;
		if (errno != EINTR && errno != ECONNABORTED &&
		    errno != EAGAIN && errno != EWOULDBLOCK)
			return -errno;
	}
}

int sock_pair(int sv[2])
{
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		sv[0] = sv[1] = -1;
		return -errno;
	}
	return 0;
}

int sock_set_cloexec(int fd, bool on)
{
	int fl = fcntl(fd, F_GETFD);

	if (fl < 0)
		return -errno;
	fl = on ? fl | FD_CLOEXEC : fl & ~FD_CLOEXEC;
	if (fcntl(fd, F_SETFD, fl) < 0)
		return -errno;
	return 0;
}
