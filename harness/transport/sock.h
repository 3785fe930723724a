/* SPDX-License-Identifier: MIT */
/*
 * sock.h - AF_UNIX stream sockets on a path: connect (retrying while a
 * daemon starts), listen, accept with a deadline, socketpairs.
 *
 * Every fd made here is close-on-exec; sock_set_cloexec() clears the flag
 * on the one fd a child must inherit (the runner's --fd=N).
 */
#ifndef VUC_TRANSPORT_SOCK_H
#define VUC_TRANSPORT_SOCK_H

#include <stdbool.h>
#include <stdint.h>

/**
 * sock_connect() - Connect to the AF_UNIX stream socket at @path
 * @path:	file system path (no abstract names)
 * @timeout_ms:	how long to keep trying; 0 means one attempt
 *
 * While the path does not exist yet (ENOENT), nobody listens on it
 * (ECONNREFUSED) or the listener's backlog is full (EAGAIN), retries with a
 * short backoff (1 ms doubling to 50 ms) until the deadline: the daemon is
 * starting. Other errors are returned at once.
 *
 * fds: on success the caller owns the returned fd (blocking mode,
 * close-on-exec); on failure no fd is left open.
 *
 * Return: the connected fd, or -ENAMETOOLONG (@path does not fit in
 * sun_path), -EINVAL (@path NULL or empty), -ETIMEDOUT (still absent or
 * refusing at the deadline), or another -errno from socket() / connect().
 */
int sock_connect(const char *path, int timeout_ms);

/**
 * sock_listen() - Listen on @path
 * @backlog:	as for listen(2)
 *
 * A stale socket file at @path is unlinked first; anything else there is
 * left alone and the call fails.
 *
 * fds: the caller owns the returned fd (non-blocking, close-on-exec). The
 * caller also owns the socket file and unlinks it when done.
 *
 * Return: the listening fd, or -ENAMETOOLONG, -EINVAL, -EADDRINUSE (@path
 * exists and is not a socket), or another -errno.
 */
int sock_listen(const char *path, int backlog);

/**
 * sock_accept() - Accept one connection on @listen_fd by @deadline
 * @deadline:	absolute CLOCK_MONOTONIC ns (see chan_deadline())
 *
 * fds: on success the caller owns the returned fd (blocking mode,
 * close-on-exec).
 *
 * Return: the connected fd, -ETIMEDOUT, or another -errno.
 */
int sock_accept(int listen_fd, int64_t deadline);

/**
 * sock_pair() - A connected pair of AF_UNIX stream sockets
 * @sv:	out: the two ends, both close-on-exec
 *
 * fds: on success the caller owns both; on failure @sv is { -1, -1 }.
 *
 * Return: 0 or -errno.
 */
int sock_pair(int sv[2]);

/**
 * sock_set_cloexec() - Set or clear FD_CLOEXEC on @fd
 *
 * Clear it on the fd a child must inherit (e.g. --fd=N), after fork() in
 * the child or just before exec, so no other child inherits it by accident.
 *
 * Return: 0 or -errno.
 */
int sock_set_cloexec(int fd, bool on);

#endif /* VUC_TRANSPORT_SOCK_H */
