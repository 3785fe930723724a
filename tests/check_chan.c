/* SPDX-License-Identifier: MIT */
/*
 * check_chan.c - unit tests of the transport: deadlines, chunked sends with
 * fds on any chunk, reassembling receives, fd ownership on every error,
 * MSG_CTRUNC, hung-up peers, and AF_UNIX sockets on a path.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check_util.h"
#include "common/util.h"
#include "transport/chan.h"
#include "transport/fdzoo.h"
#include "transport/sock.h"

#define MS 1000000LL /* ns */

static int open_fds(void)
{
	int n = fdzoo_count_open(0);

	ck_assert_int_ge(n, 3);
	return n;
}

static long long elapsed_ms(int64_t since)
{
	return (long long)((chan_now() - since) / MS);
}

/* Whether @a and @b refer to the same open file. */
static int same_file(int a, int b)
{
	struct stat sa, sb;

	if (fstat(a, &sa) < 0 || fstat(b, &sb) < 0)
		return 0;
	return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

static void pair(int sv[2])
{
	ck_assert_int_eq(sock_pair(sv), 0);
}

/* Reap @pid and check it exited with 0. */
static void reap(pid_t pid)
{
	int status;

	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 0);
}

START_TEST(test_deadline)
{
	int64_t d;

	ck_assert_int_eq(chan_remaining_ms(chan_deadline(CHAN_NOWAIT)), 0);
	ck_assert_int_eq(chan_remaining_ms(chan_deadline(-5)), 0);
	ck_assert_int_eq(chan_remaining_ms(chan_now() - 1000 * MS), 0);

	d = chan_deadline(1000);
	ck_assert_int_le(chan_remaining_ms(d), 1000);
	ck_assert_int_ge(chan_remaining_ms(d), 990);

	/* Rounded up: 1 ns left is still 1 ms to wait. */
	ck_assert_int_eq(chan_remaining_ms(chan_now() + MS / 2), 1);

	/* The longest timeout neither overflows nor goes negative. */
	ck_assert_int_gt(chan_remaining_ms(chan_deadline(INT_MAX)),
			 INT_MAX - 1000);
}
END_TEST

/*
 * Where the sender puts fds in the chunked message: a 12-byte header split
 * 5 + 7, a 64-byte payload in three pieces, with delays in between.
 */
enum fd_place { FDS_NONE, FDS_HEADER, FDS_HEADER_2ND, FDS_PAYLOAD, FDS_BOTH };

static void chunked_round(enum fd_place place)
{
	char hdr[12], payload[64], rhdr[12], rpayload[64];
	int hfds[1], pfds[2], rfds[8], sv[2], i, before;
	unsigned int nfds;
	struct chan_recv_info info;
	struct chan_chunk chunks[5];
	pid_t pid;

	before = open_fds();
	for (i = 0; i < (int)sizeof(hdr); i++)
		hdr[i] = (char)(0xa0 + i);
	for (i = 0; i < (int)sizeof(payload); i++)
		payload[i] = (char)i;
	hfds[0] = fdzoo_eventfd(0, 0);
	pfds[0] = fdzoo_memfd(4096, 0);
	pfds[1] = fdzoo_widowed_pipe_write();
	ck_assert_int_ge(hfds[0], 0);
	ck_assert_int_ge(pfds[0], 0);
	ck_assert_int_ge(pfds[1], 0);

	memset(chunks, 0, sizeof(chunks));
	chunks[0] = (struct chan_chunk){ .buf = hdr, .len = 5 };
	chunks[1] =
		(struct chan_chunk){ .buf = hdr + 5, .len = 7, .delay_ms = 20 };
	chunks[2] = (struct chan_chunk){ .buf = payload,
					 .len = 10,
					 .delay_ms = 10 };
	chunks[3] = (struct chan_chunk){ .buf = payload + 10,
					 .len = 30,
					 .delay_ms = 10 };
	chunks[4] = (struct chan_chunk){ .buf = payload + 40, .len = 24 };
	if (place == FDS_HEADER || place == FDS_BOTH) {
		chunks[0].fds = hfds;
		chunks[0].nfds = 1;
	}
	if (place == FDS_HEADER_2ND) {
		chunks[1].fds = hfds;
		chunks[1].nfds = 1;
	}
	if (place == FDS_PAYLOAD || place == FDS_BOTH) {
		chunks[2].fds = pfds;
		chunks[2].nfds = 2;
	}

	pair(sv);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int r = chan_send(sv[0], chunks, 5, chan_deadline(2000));

		_exit(r == (int)(sizeof(hdr) + sizeof(payload)) ? 0 : 1);
	}
	close_fd(&sv[0]);

	/* The receiver waits while the pieces trickle in. */
	nfds = ARRAY_SIZE(rfds);
	ck_assert_int_eq(chan_recv(sv[1], rhdr, sizeof(rhdr), rfds, &nfds,
				   chan_deadline(2000), &info),
			 (int)sizeof(rhdr));
	ck_assert_mem_eq(rhdr, hdr, sizeof(hdr));
	ck_assert_uint_eq(info.got, sizeof(hdr));
	ck_assert_uint_eq(info.flags, 0);
	if (place == FDS_HEADER || place == FDS_BOTH ||
	    place == FDS_HEADER_2ND) {
		ck_assert_uint_eq(nfds, 1);
		ck_assert_uint_eq(info.fds_seen, 1);
		ck_assert_uint_eq(info.fds_at, place == FDS_HEADER_2ND ? 5 : 0);
		ck_assert(same_file(rfds[0], hfds[0]));
		ck_assert(fcntl(rfds[0], F_GETFD) & FD_CLOEXEC);
		close_fds(rfds, nfds);
	} else {
		ck_assert_uint_eq(nfds, 0);
		ck_assert_uint_eq(info.fds_seen, 0);
	}

	nfds = ARRAY_SIZE(rfds);
	ck_assert_int_eq(chan_recv(sv[1], rpayload, sizeof(rpayload), rfds,
				   &nfds, chan_deadline(2000), &info),
			 (int)sizeof(rpayload));
	ck_assert_mem_eq(rpayload, payload, sizeof(payload));
	if (place == FDS_PAYLOAD || place == FDS_BOTH) {
		ck_assert_uint_eq(nfds, 2);
		ck_assert_uint_eq(info.fds_at, 0);
		ck_assert(same_file(rfds[0], pfds[0]));
		ck_assert(same_file(rfds[1], pfds[1]));
		ck_assert_int_eq(fdzoo_kind_of(rfds[0]), FDZOO_MEMFD);
		close_fds(rfds, nfds);
	} else {
		ck_assert_uint_eq(nfds, 0);
	}

	reap(pid);
	/* Nothing more: the peer is gone. */
	ck_assert_int_eq(chan_poll(sv[1], chan_deadline(1000)), CHAN_POLL_HUP);
	close_fd(&sv[1]);
	close_fd(&hfds[0]);
	close_fds(pfds, 2);
	ck_assert_int_eq(open_fds(), before);
}

START_TEST(test_chunked_no_fds)
{
	chunked_round(FDS_NONE);
}
END_TEST

START_TEST(test_chunked_fds_on_header)
{
	chunked_round(FDS_HEADER);
}
END_TEST

START_TEST(test_chunked_fds_on_header_second_piece)
{
	chunked_round(FDS_HEADER_2ND);
}
END_TEST

START_TEST(test_chunked_fds_on_payload)
{
	chunked_round(FDS_PAYLOAD);
}
END_TEST

START_TEST(test_chunked_fds_on_both)
{
	chunked_round(FDS_BOTH);
}
END_TEST

START_TEST(test_several_messages_one_write)
{
	char buf[48], msg[16];
	int sv[2], efd, rfd[4], i, before = open_fds();
	unsigned int nfds;

	for (i = 0; i < (int)sizeof(buf); i++)
		buf[i] = (char)(i * 7);
	efd = fdzoo_eventfd(0, EFD_NONBLOCK);
	ck_assert_int_ge(efd, 0);
	pair(sv);

	/* Three 16-byte messages in one sendmsg, one fd with them. */
	ck_assert_int_eq(chan_send_buf(sv[0], buf, sizeof(buf), &efd, 1,
				       chan_deadline(1000)),
			 (int)sizeof(buf));
	for (i = 0; i < 3; i++) {
		nfds = ARRAY_SIZE(rfd);
		ck_assert_int_eq(chan_recv(sv[1], msg, sizeof(msg), rfd, &nfds,
					   chan_deadline(1000), NULL),
				 (int)sizeof(msg));
		ck_assert_mem_eq(msg, buf + 16 * i, sizeof(msg));
		/* The fd belongs to the first byte of the write. */
		ck_assert_uint_eq(nfds, i == 0 ? 1 : 0);
		if (nfds) {
			ck_assert(same_file(rfd[0], efd));
			close_fds(rfd, nfds);
		}
	}
	close_fds(sv, 2);
	close_fd(&efd);
	ck_assert_int_eq(open_fds(), before);
}
END_TEST

/*
 * A chunk far larger than the socket buffer goes out in many partial
 * sendmsg() calls; its fds must travel once, with the first.
 */
START_TEST(test_partial_writes_carry_fds_once)
{
	size_t len = 4u << 20, i;
	char *big = malloc(len), *got = malloc(len);
	int sv[2], efd, rfd[8], before = open_fds();
	unsigned int nfds = ARRAY_SIZE(rfd);
	struct chan_recv_info info;
	pid_t pid;

	ck_assert_ptr_nonnull(big);
	ck_assert_ptr_nonnull(got);
	for (i = 0; i < len; i++)
		big[i] = (char)(i * 31 + (i >> 12));
	efd = fdzoo_eventfd(0, 0);
	pair(sv);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int r = chan_send_buf(sv[0], big, len, &efd, 1,
				      chan_deadline(3000));

		_exit(r == (int)len ? 0 : 1);
	}
	close_fd(&sv[0]);
	ck_assert_int_eq(chan_recv(sv[1], got, len, rfd, &nfds,
				   chan_deadline(3000), &info),
			 (int)len);
	ck_assert(!memcmp(got, big, len));
	ck_assert_uint_eq(nfds, 1);
	ck_assert_uint_eq(info.fds_seen, 1);
	ck_assert_uint_eq(info.fds_at, 0);
	ck_assert(same_file(rfd[0], efd));
	close_fds(rfd, nfds);
	reap(pid);
	close_fd(&sv[1]);
	close_fd(&efd);
	free(big);
	free(got);
	ck_assert_int_eq(open_fds(), before);
}
END_TEST

START_TEST(test_recv_timeout)
{
	char buf[12] = "hello world";
	int sv[2], efd, rfd[2], before = open_fds();
	unsigned int nfds = ARRAY_SIZE(rfd);
	struct chan_recv_info info;
	int64_t t0;

	pair(sv);
	t0 = chan_now();
	ck_assert_int_eq(chan_recv(sv[1], buf, sizeof(buf), rfd, &nfds,
				   chan_deadline(100), &info),
			 -ETIMEDOUT);
	ck_assert_int_ge(elapsed_ms(t0), 99);
	ck_assert_int_lt(elapsed_ms(t0), 1000);
	ck_assert_uint_eq(info.got, 0);
	ck_assert_uint_eq(nfds, 0);

	/* Part of a message with an fd, then silence: the fd is not kept. */
	efd = fdzoo_eventfd(0, 0);
	ck_assert_int_eq(
		chan_send_buf(sv[0], buf, 5, &efd, 1, chan_deadline(1000)), 5);
	close_fd(&efd);
	nfds = ARRAY_SIZE(rfd);
	t0 = chan_now();
	ck_assert_int_eq(chan_recv(sv[1], buf, sizeof(buf), rfd, &nfds,
				   chan_deadline(100), &info),
			 -ETIMEDOUT);
	ck_assert_int_lt(elapsed_ms(t0), 1000);
	ck_assert_uint_eq(info.got, 5);
	ck_assert_uint_eq(info.fds_seen, 1);
	ck_assert_uint_eq(nfds, 0);

	/* CHAN_NOWAIT: one look, no wait. */
	t0 = chan_now();
	ck_assert_int_eq(chan_recv(sv[1], buf, 1, NULL, NULL,
				   chan_deadline(CHAN_NOWAIT), NULL),
			 -ETIMEDOUT);
	ck_assert_int_lt(elapsed_ms(t0), 50);

	close_fds(sv, 2);
	ck_assert_int_eq(open_fds(), before);
}
END_TEST

START_TEST(test_eof_mid_message)
{
	char buf[12] = "abcdefghijk";
	int sv[2], fds[2], rfd[4], before = open_fds();
	unsigned int nfds = ARRAY_SIZE(rfd);
	struct chan_recv_info info;

	fds[0] = fdzoo_dev_null();
	fds[1] = fdzoo_eventfd(0, 0);
	pair(sv);
	ck_assert_int_eq(
		chan_send_buf(sv[0], buf, 5, fds, 2, chan_deadline(1000)), 5);
	close_fd(&sv[0]);
	close_fds(fds, 2);

	ck_assert_int_eq(chan_recv(sv[1], buf, sizeof(buf), rfd, &nfds,
				   chan_deadline(1000), &info),
			 -ECONNRESET);
	ck_assert_uint_eq(info.got, 5);
	ck_assert_uint_eq(info.fds_seen, 2);
	ck_assert_uint_eq(nfds, 0); /* both closed: the caller owns nothing */
	ck_assert_mem_eq(buf, "abcde", 5);

	/* And a plain EOF. */
	nfds = ARRAY_SIZE(rfd);
	ck_assert_int_eq(chan_recv(sv[1], buf, 1, rfd, &nfds,
				   chan_deadline(1000), &info),
			 -ECONNRESET);
	ck_assert_uint_eq(info.got, 0);
	close_fd(&sv[1]);
	ck_assert_int_eq(open_fds(), before);
}
END_TEST

START_TEST(test_too_many_fds)
{
	int sv[2], efd, fds[CHAN_MAX_FDS], rfd[CHAN_MAX_FDS], i, before;
	char msg[16] = "253 fds, 8 room", got[16];
	unsigned int nfds;
	struct chan_recv_info info;

	before = open_fds();
	efd = fdzoo_eventfd(0, 0);
	ck_assert_int_ge(efd, 0);
	for (i = 0; i < CHAN_MAX_FDS; i++)
		fds[i] = efd; /* the kernel installs a new fd for each */
	pair(sv);

	ck_assert_int_eq(chan_send_buf(sv[0], msg, sizeof(msg), fds,
				       CHAN_MAX_FDS, chan_deadline(1000)),
			 (int)sizeof(msg));
	nfds = 8;
	ck_assert_int_eq(chan_recv(sv[1], got, sizeof(got), rfd, &nfds,
				   chan_deadline(1000), &info),
			 -EMSGSIZE);
	/* The bytes still came, the report says why, no fd is kept. */
	ck_assert_mem_eq(got, msg, sizeof(msg));
	ck_assert_uint_eq(info.got, sizeof(msg));
	ck_assert_uint_eq(info.fds_seen, CHAN_MAX_FDS);
	ck_assert(info.flags & CHAN_RECV_TOO_MANY_FDS);
	ck_assert(!(info.flags & CHAN_RECV_CTRUNC));
	ck_assert_uint_eq(nfds, 0);
	ck_assert_int_eq(open_fds(), before + 3);

	/* The stream is still in step. */
	ck_assert_int_eq(
		chan_send_buf(sv[0], "next", 4, &efd, 1, chan_deadline(1000)),
		4);
	nfds = 8;
	ck_assert_int_eq(chan_recv(sv[1], got, 4, rfd, &nfds,
				   chan_deadline(1000), &info),
			 4);
	ck_assert_mem_eq(got, "next", 4);
	ck_assert_uint_eq(nfds, 1);
	close_fds(rfd, nfds);

	/* With room for all 253, all are kept and all are the same file. */
	ck_assert_int_eq(chan_send_buf(sv[0], msg, sizeof(msg), fds,
				       CHAN_MAX_FDS, chan_deadline(1000)),
			 (int)sizeof(msg));
	nfds = CHAN_MAX_FDS;
	ck_assert_int_eq(chan_recv(sv[1], got, sizeof(got), rfd, &nfds,
				   chan_deadline(1000), &info),
			 (int)sizeof(got));
	ck_assert_uint_eq(nfds, CHAN_MAX_FDS);
	for (i = 0; i < CHAN_MAX_FDS; i++)
		ck_assert(same_file(rfd[i], efd));
	close_fds(rfd, nfds);

	/* No room at all (fds NULL): still reported, still closed. */
	ck_assert_int_eq(chan_send_buf(sv[0], msg, sizeof(msg), fds, 3,
				       chan_deadline(1000)),
			 (int)sizeof(msg));
	ck_assert_int_eq(chan_recv(sv[1], got, sizeof(got), NULL, NULL,
				   chan_deadline(1000), &info),
			 -EMSGSIZE);
	ck_assert_uint_eq(info.fds_seen, 3);

	/* 254 cannot be said in one sendmsg(). */
	ck_assert_int_eq(chan_send_buf(sv[0], msg, sizeof(msg), fds,
				       CHAN_MAX_FDS + 1, chan_deadline(1000)),
			 -EINVAL);

	close_fds(sv, 2);
	close_fd(&efd);
	ck_assert_int_eq(open_fds(), before);
}
END_TEST

/*
 * A kernel-side MSG_CTRUNC: with SO_PASSCRED the credentials take part of
 * the control buffer, so 253 fds no longer fit and the kernel drops some.
 */
START_TEST(test_ctrunc)
{
	int sv[2], efd, fds[CHAN_MAX_FDS], rfd[CHAN_MAX_FDS], i, one = 1;
	char got[4];
	unsigned int nfds = ARRAY_SIZE(rfd);
	struct chan_recv_info info;
	int before = open_fds();

	efd = fdzoo_eventfd(0, 0);
	for (i = 0; i < CHAN_MAX_FDS; i++)
		fds[i] = efd;
	pair(sv);
	ck_assert_int_eq(
		setsockopt(sv[1], SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)),
		0);
	ck_assert_int_eq(chan_send_buf(sv[0], "ctrn", 4, fds, CHAN_MAX_FDS,
				       chan_deadline(1000)),
			 4);
	ck_assert_int_eq(chan_recv(sv[1], got, sizeof(got), rfd, &nfds,
				   chan_deadline(1000), &info),
			 -EMSGSIZE);
	ck_assert(info.flags & CHAN_RECV_CTRUNC);
	ck_assert_uint_lt(info.fds_seen, CHAN_MAX_FDS);
	ck_assert_uint_eq(nfds, 0);
	ck_assert_mem_eq(got, "ctrn", 4);

	close_fds(sv, 2);
	close_fd(&efd);
	ck_assert_int_eq(open_fds(), before);
}
END_TEST

START_TEST(test_send_to_closed_peer)
{
	int sv[2], efd, ret, before = open_fds();
	struct sigaction dfl = { .sa_handler = SIG_DFL }, old;
	size_t sent = 1;
	struct chan_chunk c = { .buf = "x", .len = 1 };

	/* SIGPIPE at its default action: a missing MSG_NOSIGNAL kills us. */
	ck_assert_int_eq(sigaction(SIGPIPE, &dfl, &old), 0);
	efd = fdzoo_eventfd(0, 0);
	pair(sv);
	close_fd(&sv[1]);

	ret = chan_send_buf(sv[0], "hello", 5, &efd, 1, chan_deadline(1000));
	ck_assert_msg(ret == -EPIPE || ret == -ECONNRESET, "got %d", ret);
	ret = chan_send_progress(sv[0], &c, 1, chan_deadline(1000), &sent);
	ck_assert_msg(ret == -EPIPE || ret == -ECONNRESET, "got %d", ret);
	ck_assert_uint_eq(sent, 0);

	ck_assert_int_eq(sigaction(SIGPIPE, &old, NULL), 0);
	close_fd(&sv[0]);
	close_fd(&efd);
	ck_assert_int_eq(open_fds(), before);
}
END_TEST

START_TEST(test_peer_stops_reading)
{
	size_t len = 8u << 20, sent = 0;
	char *big = calloc(1, len);
	struct chan_chunk c = { .buf = big, .len = len };
	int sv[2];
	int64_t t0;

	ck_assert_ptr_nonnull(big);
	pair(sv);
	t0 = chan_now();
	ck_assert_int_eq(
		chan_send_progress(sv[0], &c, 1, chan_deadline(100), &sent),
		-ETIMEDOUT);
	ck_assert_int_ge(elapsed_ms(t0), 99);
	ck_assert_int_lt(elapsed_ms(t0), 1000);
	ck_assert_uint_gt(sent, 0);
	ck_assert_uint_lt(sent, len);
	close_fds(sv, 2);
	free(big);
}
END_TEST

START_TEST(test_send_chunk_rules)
{
	int sv[2], efd, before = open_fds();
	char got[8];
	struct chan_chunk pause[2] = {
		{ .len = 0, .delay_ms = 30 },
		{ .buf = "abc", .len = 3 },
	};
	struct chan_chunk fds_no_bytes = { .buf = "", .len = 0, .nfds = 1 };
	struct chan_chunk slow = { .buf = "z", .len = 1, .delay_ms = 5000 };
	size_t sent = 99;
	int64_t t0;

	efd = fdzoo_eventfd(0, 0);
	fds_no_bytes.fds = &efd;
	pair(sv);

	/* fds need a byte to ride on; nothing at all is sent. */
	ck_assert_int_eq(chan_send_progress(sv[0], &fds_no_bytes, 1,
					    chan_deadline(100), &sent),
			 -EINVAL);
	ck_assert_uint_eq(sent, 0);
	ck_assert_int_eq(chan_poll(sv[1], chan_deadline(CHAN_NOWAIT)),
			 -ETIMEDOUT);

	/* A zero-length chunk without fds is a pause. */
	t0 = chan_now();
	ck_assert_int_eq(chan_send(sv[0], pause, 2, chan_deadline(1000)), 3);
	ck_assert_int_ge(elapsed_ms(t0), 29);
	ck_assert_int_eq(
		chan_recv(sv[1], got, 3, NULL, NULL, chan_deadline(1000), NULL),
		3);
	ck_assert_mem_eq(got, "abc", 3);

	/* A delay longer than the deadline gives up at the deadline. */
	t0 = chan_now();
	ck_assert_int_eq(chan_send(sv[0], &slow, 1, chan_deadline(50)),
			 -ETIMEDOUT);
	ck_assert_int_lt(elapsed_ms(t0), 1000);

	close_fds(sv, 2);
	close_fd(&efd);
	ck_assert_int_eq(open_fds(), before);
}
END_TEST

START_TEST(test_poll)
{
	int sv[2], p[2], i, before = open_fds();
	int64_t t0;

	pair(sv);
	t0 = chan_now();
	ck_assert_int_eq(chan_poll(sv[1], chan_deadline(50)), -ETIMEDOUT);
	ck_assert_int_ge(elapsed_ms(t0), 49);

	ck_assert_int_eq(
		chan_send_buf(sv[0], "x", 1, NULL, 0, chan_deadline(100)), 1);
	ck_assert_int_eq(chan_poll(sv[1], chan_deadline(100)), CHAN_POLL_DATA);
	/* Peeking consumed nothing. */
	ck_assert_int_eq(chan_poll(sv[1], chan_deadline(100)), CHAN_POLL_DATA);

	/* Hung up with data still pending: read it before the EOF. */
	close_fd(&sv[0]);
	ck_assert_int_eq(chan_poll(sv[1], chan_deadline(100)),
			 CHAN_POLL_DATA | CHAN_POLL_HUP);
	ck_assert_int_eq(chan_drain(sv[1], chan_deadline(100)), -ECONNRESET);
	ck_assert_int_eq(chan_poll(sv[1], chan_deadline(100)), CHAN_POLL_HUP);
	i = sv[1];
	close_fd(&sv[1]);
	ck_assert_int_eq(chan_poll(i, chan_deadline(10)), -EBADF);

	/* Not a socket: a pipe. */
	ck_assert_int_eq(fdzoo_pipe(p, 0), 0);
	ck_assert_int_eq(chan_poll(p[0], chan_deadline(10)), -ETIMEDOUT);
	ck_assert_int_eq(write(p[1], "12345678", 8), 8);
	ck_assert_int_eq(chan_poll(p[0], chan_deadline(10)), CHAN_POLL_DATA);
	close_fd(&p[1]);
	ck_assert_int_eq(chan_drain(p[0], chan_deadline(100)), -ECONNRESET);
	ck_assert_int_eq(chan_poll(p[0], chan_deadline(10)), CHAN_POLL_HUP);
	close_fd(&p[0]);
	ck_assert_int_eq(open_fds(), before);
}
END_TEST

START_TEST(test_drain)
{
	int sv[2], p[2], efd, fds[3], i, before = open_fds();
	uint64_t one = 1;

	efd = fdzoo_eventfd(0, 0);
	for (i = 0; i < 3; i++)
		fds[i] = efd;
	pair(sv);
	ck_assert_int_eq(chan_drain(sv[1], chan_deadline(10)), 0);
	for (i = 0; i < 3; i++)
		ck_assert_int_eq(chan_send_buf(sv[0], "0123456789", 10, fds,
					       (unsigned int)i + 1,
					       chan_deadline(100)),
				 10);
	ck_assert_int_eq(chan_drain(sv[1], chan_deadline(1000)), 30);
	ck_assert_int_eq(chan_poll(sv[1], chan_deadline(CHAN_NOWAIT)),
			 -ETIMEDOUT);
	/* Every fd that came with the bytes is closed. */
	ck_assert_int_eq(open_fds(), before + 3);
	close_fd(&sv[0]);
	ck_assert_int_eq(chan_drain(sv[1], chan_deadline(100)), -ECONNRESET);
	close_fd(&sv[1]);

	/* A blocking pipe read end (a call fd being watched). */
	ck_assert_int_eq(fdzoo_pipe(p, 0), 0);
	for (i = 0; i < 3; i++)
		ck_assert_int_eq(write(p[1], &one, sizeof(one)), 8);
	ck_assert_int_eq(chan_drain(p[0], chan_deadline(1000)), 24);
	ck_assert_int_eq(chan_drain(p[0], chan_deadline(1000)), 0);
	close_fds(p, 2);

	/* A blocking eventfd: one read empties it. */
	ck_assert_int_eq(write(efd, &one, sizeof(one)), 8);
	ck_assert_int_eq(chan_drain(efd, chan_deadline(1000)), 8);
	ck_assert_int_eq(chan_drain(efd, chan_deadline(1000)), 0);
	close_fd(&efd);
	ck_assert_int_eq(open_fds(), before);
}
END_TEST

START_TEST(test_recv_some)
{
	int sv[2], efd, rfd[2], before = open_fds();
	char buf[100];
	unsigned int nfds = ARRAY_SIZE(rfd);
	struct chan_recv_info info;

	efd = fdzoo_eventfd(0, 0);
	pair(sv);
	ck_assert_int_eq(chan_send_buf(sv[0], "0123456789", 10, &efd, 1,
				       chan_deadline(100)),
			 10);
	ck_assert_int_eq(chan_recv_some(sv[1], buf, sizeof(buf), rfd, &nfds,
					chan_deadline(100), &info),
			 10);
	ck_assert_mem_eq(buf, "0123456789", 10);
	ck_assert_uint_eq(nfds, 1);
	ck_assert(same_file(rfd[0], efd));
	close_fds(rfd, nfds);
	nfds = ARRAY_SIZE(rfd);
	ck_assert_int_eq(chan_recv_some(sv[1], buf, sizeof(buf), rfd, &nfds,
					chan_deadline(20), &info),
			 -ETIMEDOUT);
	close_fd(&sv[0]);
	ck_assert_int_eq(chan_recv_some(sv[1], buf, sizeof(buf), rfd, &nfds,
					chan_deadline(100), &info),
			 -ECONNRESET);
	ck_assert_uint_eq(nfds, 0);
	close_fd(&sv[1]);
	close_fd(&efd);
	ck_assert_int_eq(open_fds(), before);
}
END_TEST

/* A private directory for socket paths, removed by sock_dir_done(). */
static char sock_dir[64];

static const char *sock_path(const char *name)
{
	static char path[128];

	if (!*sock_dir) {
		snprintf(sock_dir, sizeof(sock_dir), "/tmp/vuc-chan-XXXXXX");
		ck_assert_ptr_nonnull(mkdtemp(sock_dir));
	}
	snprintf(path, sizeof(path), "%s/%s", sock_dir, name);
	return path;
}

static void sock_dir_done(void)
{
	if (*sock_dir)
		rmdir(sock_dir);
	*sock_dir = '\0';
}

START_TEST(test_sock_connect_retry)
{
	char path[128], c = 0;
	int fd, before = open_fds();
	int64_t t0;
	pid_t pid;

	snprintf(path, sizeof(path), "%s", sock_path("late.sock"));
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		/* A daemon that takes 100 ms to start listening. */
		int lfd, cfd;

		chan_sleep_until(chan_deadline(100));
		lfd = sock_listen(path, 4);
		if (lfd < 0)
			_exit(1);
		cfd = sock_accept(lfd, chan_deadline(2000));
		if (cfd < 0)
			_exit(2);
		if (chan_send_buf(cfd, "!", 1, NULL, 0, chan_deadline(1000)) !=
		    1)
			_exit(3);
		_exit(0);
	}
	t0 = chan_now();
	fd = sock_connect(path, 3000);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_ge(elapsed_ms(t0), 90);
	ck_assert_int_lt(elapsed_ms(t0), 2000);
	ck_assert(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	ck_assert(!(fcntl(fd, F_GETFL) & O_NONBLOCK));
	ck_assert_int_eq(
		chan_recv(fd, &c, 1, NULL, NULL, chan_deadline(2000), NULL), 1);
	ck_assert_int_eq(c, '!');
	reap(pid);
	close_fd(&fd);
	unlink(path);
	sock_dir_done();
	ck_assert_int_eq(open_fds(), before);
}
END_TEST

START_TEST(test_sock_connect_errors)
{
	char path[sizeof(((struct sockaddr_un *)0)->sun_path) + 8];
	int before = open_fds();
	int64_t t0;

	/* One byte too long for sun_path (it needs its NUL). */
	memset(path, 'a', sizeof(path));
	path[0] = '/';
	path[sizeof(((struct sockaddr_un *)0)->sun_path)] = '\0';
	ck_assert_int_eq(sock_connect(path, 100), -ENAMETOOLONG);
	ck_assert_int_eq(sock_listen(path, 1), -ENAMETOOLONG);
	ck_assert_int_eq(sock_connect("", 100), -EINVAL);
	ck_assert_int_eq(open_fds(), before);

	/* Nobody ever listens: give up at the deadline. */
	t0 = chan_now();
	ck_assert_int_eq(sock_connect(sock_path("never.sock"), 150),
			 -ETIMEDOUT);
	ck_assert_int_ge(elapsed_ms(t0), 149);
	ck_assert_int_lt(elapsed_ms(t0), 1000);
	t0 = chan_now();
	ck_assert_int_eq(sock_connect(sock_path("never.sock"), 0), -ETIMEDOUT);
	ck_assert_int_lt(elapsed_ms(t0), 50);
	/* Not a directory: no waiting helps. */
	ck_assert_int_eq(sock_connect("/dev/null/x.sock", 5000), -ENOTDIR);
	sock_dir_done();
	ck_assert_int_eq(open_fds(), before);
}
END_TEST

START_TEST(test_sock_listen_accept)
{
	char path[128];
	int lfd, cfd, afd, f, sv[2], before = open_fds();
	struct stat st;
	int64_t t0;

	snprintf(path, sizeof(path), "%s", sock_path("l.sock"));

	/* A stale socket file from a dead listener is replaced. */
	lfd = sock_listen(path, 4);
	ck_assert_int_ge(lfd, 0);
	close_fd(&lfd);
	ck_assert_int_eq(lstat(path, &st), 0);
	ck_assert(S_ISSOCK(st.st_mode));
	lfd = sock_listen(path, 4);
	ck_assert_int_ge(lfd, 0);
	ck_assert(fcntl(lfd, F_GETFD) & FD_CLOEXEC);

	t0 = chan_now();
	ck_assert_int_eq(sock_accept(lfd, chan_deadline(50)), -ETIMEDOUT);
	ck_assert_int_ge(elapsed_ms(t0), 49);

	cfd = sock_connect(path, 1000);
	ck_assert_int_ge(cfd, 0);
	afd = sock_accept(lfd, chan_deadline(1000));
	ck_assert_int_ge(afd, 0);
	ck_assert(fcntl(afd, F_GETFD) & FD_CLOEXEC);
	ck_assert(!(fcntl(afd, F_GETFL) & O_NONBLOCK));
	ck_assert_int_eq(
		chan_send_buf(cfd, "ping", 4, NULL, 0, chan_deadline(100)), 4);
	ck_assert_int_eq(chan_poll(afd, chan_deadline(100)), CHAN_POLL_DATA);
	close_fd(&cfd);
	close_fd(&afd);
	close_fd(&lfd);
	unlink(path);

	/* Anything but a socket at the path is left alone. */
	f = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	ck_assert_int_ge(f, 0);
	close_fd(&f);
	ck_assert_int_eq(sock_listen(path, 4), -EADDRINUSE);
	ck_assert_int_eq(lstat(path, &st), 0);
	ck_assert(S_ISREG(st.st_mode));
	unlink(path);
	sock_dir_done();

	/* socketpair ends are close-on-exec until asked otherwise. */
	pair(sv);
	ck_assert(fcntl(sv[0], F_GETFD) & FD_CLOEXEC);
	ck_assert(fcntl(sv[1], F_GETFD) & FD_CLOEXEC);
	ck_assert_int_eq(sock_set_cloexec(sv[1], false), 0);
	ck_assert(!(fcntl(sv[1], F_GETFD) & FD_CLOEXEC));
	ck_assert_int_eq(sock_set_cloexec(sv[1], true), 0);
	ck_assert(fcntl(sv[1], F_GETFD) & FD_CLOEXEC);
	close_fds(sv, 2);
	ck_assert_int_eq(sock_set_cloexec(sv[0], false), -EBADF);
	ck_assert_int_eq(open_fds(), before);
}
END_TEST

static Suite *chan_suite(void)
{
	Suite *s = suite_create("chan");
	TCase *tc = tcase_create("chan");

	tcase_add_test(tc, test_deadline);
	tcase_add_test(tc, test_chunked_no_fds);
	tcase_add_test(tc, test_chunked_fds_on_header);
	tcase_add_test(tc, test_chunked_fds_on_header_second_piece);
	tcase_add_test(tc, test_chunked_fds_on_payload);
	tcase_add_test(tc, test_chunked_fds_on_both);
	tcase_add_test(tc, test_several_messages_one_write);
	tcase_add_test(tc, test_partial_writes_carry_fds_once);
	tcase_add_test(tc, test_recv_timeout);
	tcase_add_test(tc, test_eof_mid_message);
	tcase_add_test(tc, test_too_many_fds);
	tcase_add_test(tc, test_ctrunc);
	tcase_add_test(tc, test_send_to_closed_peer);
	tcase_add_test(tc, test_peer_stops_reading);
	tcase_add_test(tc, test_send_chunk_rules);
	tcase_add_test(tc, test_poll);
	tcase_add_test(tc, test_drain);
	tcase_add_test(tc, test_recv_some);
	suite_add_tcase(s, tc);

	tc = tcase_create("sock");
	tcase_add_test(tc, test_sock_connect_retry);
	tcase_add_test(tc, test_sock_connect_errors);
	tcase_add_test(tc, test_sock_listen_accept);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(chan_suite());
}
