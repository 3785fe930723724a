/* SPDX-License-Identifier: MIT */
/*
 * chan.c - bytes and fds over an AF_UNIX stream socket, with deadlines.
 *
 * Every wait is a poll() bounded by an absolute CLOCK_MONOTONIC deadline;
 * every socket call is non-blocking (MSG_DONTWAIT), so the blocking mode
 * of the fd does not matter and nothing can sleep past the deadline.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "common/util.h"
#include "transport/chan.h"

#define NSEC_PER_MSEC 1000000LL
#define NSEC_PER_SEC 1000000000LL

/* Room for exactly one full SCM_RIGHTS message. */
union chan_cmsg {
	struct cmsghdr align;
	char buf[CMSG_SPACE(sizeof(int) * CHAN_MAX_FDS)];
};

int64_t chan_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

int64_t chan_deadline(int timeout_ms)
{
	int64_t now = chan_now();

	if (timeout_ms <= 0)
		return now;
	return now + (int64_t)timeout_ms * NSEC_PER_MSEC;
}

int chan_remaining_ms(int64_t deadline)
{
	int64_t left = deadline - chan_now();

	if (left <= 0)
		return 0;
	left = (left + NSEC_PER_MSEC - 1) / NSEC_PER_MSEC;
	return left > INT_MAX ? INT_MAX : (int)left;
}

void chan_sleep_until(int64_t until)
{
	struct timespec ts = {
		.tv_sec = until / NSEC_PER_SEC,
		.tv_nsec = until % NSEC_PER_SEC,
	};

	if (until <= 0)
		return;
	/* Absolute time: an EINTR retry sleeps only what is left. */
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) ==
	       EINTR)
		;
}

/*
 * Wait until @fd reports one of @events or @deadline passes. Polls at least
 * once, so a passed deadline still sees what is ready now.
 * Return: the revents (> 0), or -ETIMEDOUT, or -errno from poll().
 */
static int chan_wait(int fd, short events, int64_t deadline)
{
	struct pollfd pfd = { .fd = fd, .events = events };
	int ret;

	for (;;) {
		ret = poll(&pfd, 1, chan_remaining_ms(deadline));
		if (ret > 0)
			return pfd.revents;
		if (ret < 0 && errno != EINTR)
			return -errno;
		if (ret == 0 && chan_now() >= deadline)
			return -ETIMEDOUT;
	}
}

/* Send one chunk, completing partial writes; fds go with the first part. */
static int chan_send_chunk(int fd, const struct chan_chunk *c, int64_t deadline,
			   size_t *sent)
{
	union chan_cmsg u;
	const char *p = c->buf;
	size_t off = 0;
	int ret;

	while (off < c->len) {
		struct iovec iov = { .iov_base = (void *)(p + off),
				     .iov_len = c->len - off };
		struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
		ssize_t n;

		if (off == 0 && c->nfds) {
			struct cmsghdr *cmsg;

			memset(&u, 0, sizeof(u));
			msg.msg_control = u.buf;
			msg.msg_controllen = CMSG_SPACE(sizeof(int) * c->nfds);
			cmsg = CMSG_FIRSTHDR(&msg);
			cmsg->cmsg_level = SOL_SOCKET;
			cmsg->cmsg_type = SCM_RIGHTS;
			cmsg->cmsg_len = CMSG_LEN(sizeof(int) * c->nfds);
			memcpy(CMSG_DATA(cmsg), c->fds, sizeof(int) * c->nfds);
		}

		n = sendmsg(fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0) {
			off += (size_t)n;
			*sent += (size_t)n;
			continue;
		}
		if (n == 0)
			continue; /* nothing went out: try again */
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return -errno;

		/* The peer is not reading fast enough: wait for room. */
		ret = chan_wait(fd, POLLOUT, deadline);
		if (ret < 0)
			return ret;
		/* POLLERR/POLLHUP: the next sendmsg() names the error. */
	}
	return 0;
}

int chan_send_progress(int fd, const struct chan_chunk *chunks,
		       unsigned int nchunks, int64_t deadline, size_t *sent)
{
	size_t total = 0, done = 0;
	unsigned int i;
	int ret = 0;

	for (i = 0; i < nchunks; i++) {
		const struct chan_chunk *c = &chunks[i];

		/* A zero-byte sendmsg() on a stream socket drops its fds. */
		if (c->nfds && (!c->len || !c->fds)) {
			ret = -EINVAL;
			goto out;
		}
		if (c->nfds > CHAN_MAX_FDS || (c->len && !c->buf)) {
			ret = -EINVAL;
			goto out;
		}
		if (c->len > (size_t)INT_MAX - total) {
			ret = -EMSGSIZE;
			goto out;
		}
		total += c->len;
	}

	for (i = 0; i < nchunks; i++) {
		const struct chan_chunk *c = &chunks[i];

		if (c->delay_ms > 0) {
			int64_t until = chan_deadline(c->delay_ms);

			if (until > deadline) {
				chan_sleep_until(deadline);
				ret = -ETIMEDOUT;
				goto out;
			}
			chan_sleep_until(until);
		}
		ret = chan_send_chunk(fd, c, deadline, &done);
		if (ret < 0)
			goto out;
	}
	ret = (int)done;

out:
	if (sent)
		*sent = done;
	return ret;
}

int chan_send(int fd, const struct chan_chunk *chunks, unsigned int nchunks,
	      int64_t deadline)
{
	return chan_send_progress(fd, chunks, nchunks, deadline, NULL);
}

int chan_send_buf(int fd, const void *buf, size_t len, const int *fds,
		  unsigned int nfds, int64_t deadline)
{
	struct chan_chunk c = {
		.buf = buf,
		.len = len,
		.fds = fds,
		.nfds = nfds,
	};

	return chan_send(fd, &c, 1, deadline);
}

/*
 * Take the fds out of a received control buffer: keep what fits in
 * @fds[*kept .. room), close the rest. Never leaks.
 */
static void chan_take_fds(struct msghdr *msg, int *fds, unsigned int room,
			  unsigned int *kept, struct chan_recv_info *info,
			  size_t at)
{
	struct cmsghdr *cmsg;

	if (msg->msg_flags & MSG_CTRUNC)
		info->flags |= CHAN_RECV_CTRUNC;

	for (cmsg = CMSG_FIRSTHDR(msg); cmsg; cmsg = CMSG_NXTHDR(msg, cmsg)) {
		size_t i, n;

		if (cmsg->cmsg_level != SOL_SOCKET ||
		    cmsg->cmsg_type != SCM_RIGHTS ||
		    cmsg->cmsg_len < CMSG_LEN(0))
			continue;
		n = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < n; i++) {
			int rfd;

			memcpy(&rfd, CMSG_DATA(cmsg) + i * sizeof(int),
			       sizeof(rfd));
			if (!info->fds_seen)
				info->fds_at = at;
			info->fds_seen++;
			if (*kept < room) {
				fds[(*kept)++] = rfd;
			} else {
				close(rfd); /* never leak what we cannot hold */
				info->flags |= CHAN_RECV_TOO_MANY_FDS;
			}
		}
	}
}

/*
 * One recvmsg() into @buf[0 .. cap), waiting up to @deadline for data.
 * Return: bytes (> 0), -ECONNRESET on EOF, -ETIMEDOUT, or -errno.
 */
static int chan_recv_once(int fd, void *buf, size_t cap, int *fds,
			  unsigned int room, unsigned int *kept,
			  int64_t deadline, struct chan_recv_info *info)
{
	union chan_cmsg u;
	struct iovec iov = { .iov_base = buf, .iov_len = cap };
	struct msghdr msg;
	ssize_t n;
	int ret;

	for (;;) {
		memset(&msg, 0, sizeof(msg));
		msg.msg_iov = &iov;
		msg.msg_iovlen = 1;
		msg.msg_control = u.buf;
		msg.msg_controllen = sizeof(u.buf);

		n = recvmsg(fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		if (n >= 0)
			break;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return -errno;
		ret = chan_wait(fd, POLLIN, deadline);
		if (ret < 0)
			return ret;
	}

	/* Never leave fds unaccounted, whatever came with the bytes. */
	chan_take_fds(&msg, fds, room, kept, info, info->got);
	if (n == 0)
		return -ECONNRESET;
	info->got += (size_t)n;
	return (int)n;
}

/* The end of every receive: on error the caller owns no fd. */
static int chan_recv_finish(int ret, int *fds, unsigned int *kept,
			    unsigned int *nfds)
{
	if (ret < 0) {
		close_fds(fds, *kept);
		*kept = 0;
	}
	if (nfds)
		*nfds = *kept;
	return ret;
}

int chan_recv(int fd, void *buf, size_t len, int *fds, unsigned int *nfds,
	      int64_t deadline, struct chan_recv_info *info)
{
	struct chan_recv_info local;
	unsigned int room = fds && nfds ? *nfds : 0, kept = 0;
	char *p = buf;
	int ret = 0;

	if (!info)
		info = &local;
	memset(info, 0, sizeof(*info));

	if (len > INT_MAX || (len && !buf)) {
		ret = -EINVAL;
		goto out;
	}

	while (info->got < len) {
		ret = chan_recv_once(fd, p + info->got, len - info->got, fds,
				     room, &kept, deadline, info);
		if (ret < 0)
			goto out;
	}
	ret = (int)len;
	if (info->flags & (CHAN_RECV_CTRUNC | CHAN_RECV_TOO_MANY_FDS))
		ret = -EMSGSIZE;

out:
	return chan_recv_finish(ret, fds, &kept, nfds);
}

int chan_recv_some(int fd, void *buf, size_t cap, int *fds, unsigned int *nfds,
		   int64_t deadline, struct chan_recv_info *info)
{
	struct chan_recv_info local;
	unsigned int room = fds && nfds ? *nfds : 0, kept = 0;
	int ret;

	if (!info)
		info = &local;
	memset(info, 0, sizeof(*info));

	if (!cap || !buf) {
		ret = -EINVAL;
		goto out;
	}
	if (cap > INT_MAX)
		cap = INT_MAX;

	ret = chan_recv_once(fd, buf, cap, fds, room, &kept, deadline, info);
	if (ret > 0 &&
	    info->flags & (CHAN_RECV_CTRUNC | CHAN_RECV_TOO_MANY_FDS))
		ret = -EMSGSIZE;

out:
	return chan_recv_finish(ret, fds, &kept, nfds);
}

int chan_poll(int fd, int64_t deadline)
{
	char c;
	ssize_t n;
	int rev;

	for (;;) {
		rev = chan_wait(fd, POLLIN | POLLRDHUP, deadline);
		if (rev < 0)
			return rev;
		if (rev & POLLNVAL)
			return -EBADF;

		n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
		if (n > 0)
			return CHAN_POLL_DATA |
			       (rev & (POLLHUP | POLLRDHUP) ? CHAN_POLL_HUP
							    : 0);
		if (n == 0)
			return CHAN_POLL_HUP;
		if (errno == ENOTSOCK) {
			/* A pipe, an eventfd, ...: poll() has to do. */
			int ret = 0;

			if (rev & POLLIN)
				ret |= CHAN_POLL_DATA;
			if (rev & (POLLHUP | POLLRDHUP | POLLERR))
				ret |= CHAN_POLL_HUP;
			if (ret)
				return ret;
		} else if (errno == ECONNRESET || errno == EPIPE) {
			return CHAN_POLL_HUP;
		} else if (errno != EAGAIN && errno != EWOULDBLOCK &&
			   errno != EINTR) {
			return -errno;
		}
		/* Woken without anything to read: wait on. */
		if (chan_now() >= deadline)
			return -ETIMEDOUT;
	}
}

/* Discard what is pending on a non-socket fd: poll() then read(). */
static int chan_drain_plain(int fd, int64_t deadline, size_t *total)
{
	char buf[4096];
	ssize_t n;

	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int ret = poll(&pfd, 1, 0);

		if (ret < 0 && errno == EINTR)
			continue;
		if (ret < 0)
			return -errno;
		if (ret == 0)
			return 0;
		if (pfd.revents & POLLNVAL)
			return -EBADF;
		if (!(pfd.revents & POLLIN))
			return pfd.revents & POLLHUP ? -ECONNRESET : 0;

		n = read(fd, buf, sizeof(buf));
		if (n == 0)
			return -ECONNRESET;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			return -errno;
		}
		*total += (size_t)n;
		if (chan_now() >= deadline)
			return -ETIMEDOUT;
	}
}

int chan_drain(int fd, int64_t deadline)
{
	char buf[4096];
	size_t total = 0;
	int ret;

	for (;;) {
		union chan_cmsg u;
		struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
		struct msghdr msg = {
			.msg_iov = &iov,
			.msg_iovlen = 1,
			.msg_control = u.buf,
			.msg_controllen = sizeof(u.buf),
		};
		struct chan_recv_info info = { 0 };
		unsigned int kept = 0;
		ssize_t n;

		n = recvmsg(fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				ret = 0;
				goto out;
			}
			if (errno == ENOTSOCK) {
				ret = chan_drain_plain(fd, deadline, &total);
				goto out;
			}
			ret = errno == EPIPE ? -ECONNRESET : -errno;
			goto out;
		}
		chan_take_fds(&msg, NULL, 0, &kept, &info, 0); /* closes all */
		if (n == 0) {
			ret = -ECONNRESET;
			goto out;
		}
		total += (size_t)n;
		if (chan_now() >= deadline) {
			ret = -ETIMEDOUT;
			goto out;
		}
	}

out:
	if (ret < 0)
		return ret;
	return total > INT_MAX ? INT_MAX : (int)total;
}
