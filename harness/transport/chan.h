/* SPDX-License-Identifier: MIT */
/*
 * chan.h - bytes and fds over an AF_UNIX stream socket, with deadlines.
 *
 * Knows nothing of vhost-user or vfio-user: it moves bytes and SCM_RIGHTS
 * fds, lets a caller say anything the kernel lets a socket say (a header
 * split over several sendmsg() calls, fds on any chunk, delays between
 * chunks, several messages in one write), and never blocks past a deadline.
 *
 * Deadlines are absolute CLOCK_MONOTONIC times in nanoseconds (int64_t).
 * There is no "wait forever": chan_deadline(0) means "try once, do not
 * wait", and every operation makes at least one attempt even when its
 * deadline has already passed.
 */
#ifndef VUC_TRANSPORT_CHAN_H
#define VUC_TRANSPORT_CHAN_H

#include <stddef.h>
#include <stdint.h>

/* SCM_MAX_FD: the most fds Linux carries in one sendmsg(). */
#define CHAN_MAX_FDS 253

/* Timeout for chan_deadline(): make one attempt, do not wait. */
#define CHAN_NOWAIT 0

/**
 * chan_now() - The current CLOCK_MONOTONIC time
 *
 * Return: nanoseconds since an arbitrary fixed point.
 */
int64_t chan_now(void);

/**
 * chan_deadline() - The absolute deadline @timeout_ms from now
 * @timeout_ms:	milliseconds; 0 (CHAN_NOWAIT) or less means "now": one
 *		attempt without waiting. There is no infinite timeout.
 *
 * Return: an absolute CLOCK_MONOTONIC time in nanoseconds.
 */
int64_t chan_deadline(int timeout_ms);

/**
 * chan_remaining_ms() - Milliseconds left until @deadline, for poll()
 *
 * Rounded up, so that waiting this long never wakes before the deadline.
 *
 * Return: 0 if the deadline has passed, else 1 .. INT_MAX.
 */
int chan_remaining_ms(int64_t deadline);

/**
 * chan_sleep_until() - Sleep until @until (CLOCK_MONOTONIC ns)
 *
 * Retries on EINTR. Returns at once if @until has passed.
 */
void chan_sleep_until(int64_t until);

/*
 * One piece of a send: each chunk goes out in its own sendmsg() (more than
 * one if the socket takes it in parts), @delay_ms after the previous chunk.
 * @fds ride on the chunk's first byte. A chunk with @len 0 and no fds is a
 * pure pause. To put several messages in one write, concatenate them into
 * one chunk: nothing here looks inside the bytes.
 */
struct chan_chunk {
	const void *buf;
	size_t len;
	const int *fds;
	unsigned int nfds;
	int delay_ms;
};

/**
 * chan_send() - Send @nchunks chunks, each with its own sendmsg()
 * @fd:		a connected AF_UNIX stream socket
 * @chunks:	what to send, in order
 * @nchunks:	how many
 * @deadline:	absolute deadline for the whole send, delays included
 *
 * Only the first sendmsg() of a chunk carries its fds; partial writes are
 * completed without them. MSG_NOSIGNAL everywhere: a peer that hung up
 * gives -EPIPE or -ECONNRESET, never SIGPIPE.
 *
 * fds: the caller keeps ownership of every fd in @chunks (the kernel
 * duplicates what it sends).
 *
 * Return: bytes sent (all of them), or -EINVAL (a chunk with fds but no
 * bytes: a zero-byte sendmsg() on a Linux stream socket sends nothing and
 * silently drops its fds, so it cannot be said; or more than CHAN_MAX_FDS
 * fds on one chunk), -EMSGSIZE (more than INT_MAX bytes in all),
 * -ETIMEDOUT (the peer stopped reading, or the delays outlast @deadline),
 * -EPIPE / -ECONNRESET (peer gone), or another -errno from sendmsg().
 */
int chan_send(int fd, const struct chan_chunk *chunks, unsigned int nchunks,
	      int64_t deadline);

/**
 * chan_send_progress() - chan_send() that also says how far it got
 * @sent:	out: bytes that left (set on success and on failure); may be
 *		NULL
 *
 * Return: as chan_send().
 */
int chan_send_progress(int fd, const struct chan_chunk *chunks,
		       unsigned int nchunks, int64_t deadline, size_t *sent);

/**
 * chan_send_buf() - chan_send() of a single chunk without delay
 *
 * fds: the caller keeps ownership of @fds.
 *
 * Return: as chan_send().
 */
int chan_send_buf(int fd, const void *buf, size_t len, const int *fds,
		  unsigned int nfds, int64_t deadline);

/* chan_recv_info.flags */
enum {
	/* The kernel set MSG_CTRUNC: it closed fds that did not fit in our
	 * control buffer (more than CHAN_MAX_FDS, an LSM refusing the
	 * transfer, or credentials taking room). Their number is unknown. */
	CHAN_RECV_CTRUNC = 1u << 0,
	/* More fds arrived than the caller had room for. */
	CHAN_RECV_TOO_MANY_FDS = 1u << 1,
};

/*
 * What a receive saw, valid on success and on every error: a case can tell
 * "the peer sent more fds than fit" from other failures, and how many bytes
 * came before an EOF or a timeout.
 */
struct chan_recv_info {
	size_t got;	       /* bytes received (they are in the buffer) */
	unsigned int fds_seen; /* fds that arrived, kept or not */
	size_t fds_at;	       /* offset of the read with the 1st fd */
	unsigned int flags;    /* CHAN_RECV_* */
};

/**
 * chan_recv() - Receive exactly @len bytes and every fd that comes with them
 * @fd:		a connected AF_UNIX stream socket
 * @buf:	room for @len bytes
 * @len:	bytes to receive; 0 returns 0 at once
 * @fds:	room for received fds; may be NULL
 * @nfds:	in: room in @fds; out: fds received (0 on any error); may be
 *		NULL (room 0)
 * @deadline:	absolute deadline
 * @info:	out: what happened (see struct chan_recv_info); may be NULL
 *
 * Partial reads are reassembled; fds arriving on any of them are collected,
 * received with MSG_CMSG_CLOEXEC.
 *
 * fds: on success the caller owns the *@nfds fds in @fds. On any error the
 * caller owns nothing: every fd received was closed and *@nfds is 0.
 *
 * Return: @len on success, or
 * -EMSGSIZE:	all @len bytes arrived (they are in @buf) but the fds did not
 *		fit: more than the room (CHAN_RECV_TOO_MANY_FDS) or the kernel
 *		truncated them (CHAN_RECV_CTRUNC);
 * -ECONNRESET:	EOF (or reset) after info->got bytes;
 * -ETIMEDOUT:	@deadline passed after info->got bytes (the stream is now out
 *		of step: the caller should give up on it);
 * -EINVAL:	@len above INT_MAX; another -errno from recvmsg() (-ENOTSOCK
 *		if @fd is not a socket).
 */
int chan_recv(int fd, void *buf, size_t len, int *fds, unsigned int *nfds,
	      int64_t deadline, struct chan_recv_info *info);

/**
 * chan_recv_some() - Receive whatever one read brings: 1 to @cap bytes
 *
 * Waits up to @deadline for something to read, then makes one recvmsg(),
 * which never spans two sendmsg() calls that carried fds.
 *
 * fds: as chan_recv(): the caller owns them on success only.
 *
 * Return: bytes received (> 0), or the errors of chan_recv() (-EMSGSIZE
 * with the bytes in @buf and their count in info->got).
 */
int chan_recv_some(int fd, void *buf, size_t cap, int *fds, unsigned int *nfds,
		   int64_t deadline, struct chan_recv_info *info);

/* chan_poll() result bits */
enum {
	CHAN_POLL_DATA = 1u << 0, /* bytes are waiting to be read */
	CHAN_POLL_HUP = 1u << 1,  /* the peer has closed or shut down its
				     writing side: after any data, EOF */
};

/**
 * chan_poll() - Has the peer said something, or hung up, by @deadline?
 *
 * Tells "the peer closed the connection" (CHAN_POLL_HUP without
 * CHAN_POLL_DATA) from "the peer hangs" (-ETIMEDOUT). Consumes nothing.
 * Works on any pollable fd; on a socket, pending data is confirmed with a
 * MSG_PEEK of one byte.
 *
 * Return: CHAN_POLL_DATA and/or CHAN_POLL_HUP (> 0), -ETIMEDOUT, -EBADF,
 * or another -errno.
 */
int chan_poll(int fd, int64_t deadline);

/**
 * chan_drain() - Read and discard what is pending now
 *
 * Reads until nothing is left to read at once (it does not wait for more
 * to arrive), closing every fd that came with the bytes. Works on a socket
 * and on any other readable fd (the read end of a notification pipe, an
 * eventfd), blocking or not.
 *
 * fds: every fd received is closed.
 *
 * Return: bytes discarded (clamped to INT_MAX) if the peer is still there,
 * -ECONNRESET if EOF was reached, -ETIMEDOUT if data kept coming until
 * @deadline, or another -errno.
 */
int chan_drain(int fd, int64_t deadline);

#endif /* VUC_TRANSPORT_CHAN_H */
