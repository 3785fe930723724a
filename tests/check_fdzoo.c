/* SPDX-License-Identifier: MIT */
/*
 * check_fdzoo.c - unit tests of the fd zoo: every kind made and named back
 * by inspection, each kind behaves as its name promises (ENOSPC, EPIPE,
 * EACCES, EPERM, EXDEV, ...), no constructor leaks on any error path, and
 * describe() never overflows.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check_util.h"
#include "common/util.h"
#include "transport/fdzoo.h"

#define SIZE 4096

static int open_fds(void)
{
	int n = fdzoo_count_open(0);

	ck_assert_int_ge(n, 3);
	return n;
}

/* Whether this kernel shows eventfd-semaphore in fdinfo (Linux 6.4+). */
static int kernel_shows_semaphore(void)
{
	char path[64], buf[512];
	int efd = eventfd(0, EFD_CLOEXEC), fd;
	ssize_t n = 0;

	ck_assert_int_ge(efd, 0);
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", efd);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
	}
	close(efd);
	buf[n > 0 ? n : 0] = '\0';
	return strstr(buf, "eventfd-semaphore:") != NULL;
}

/* What a constructor's kind looks like to fdzoo_kind_of(), and to a trace. */
static const struct {
	enum fdzoo_kind kind, seen;
	const char *desc;
} zoo[] = {
	{ FDZOO_EVENTFD, FDZOO_EVENTFD, "eventfd" },
	{ FDZOO_EVENTFD_NONBLOCK, FDZOO_EVENTFD_NONBLOCK, "eventfd(nonblock)" },
	{ FDZOO_EVENTFD_SEMAPHORE, FDZOO_EVENTFD_SEMAPHORE,
	  "eventfd(semaphore)" },
	{ FDZOO_PIPE_READ, FDZOO_PIPE_READ, "pipe(r)" },
	{ FDZOO_PIPE_WRITE, FDZOO_PIPE_WRITE, "pipe(w)" },
	/* The kernel keeps O_DIRECT on the write end only. */
	{ FDZOO_PACKET_PIPE_READ, FDZOO_PIPE_READ, "pipe(r)" },
	{ FDZOO_PACKET_PIPE_WRITE, FDZOO_PACKET_PIPE_WRITE, "pipe(w,packet)" },
	/* And O_NOTIFICATION_PIPE on neither. */
	{ FDZOO_NOTIFICATION_PIPE_READ, FDZOO_PIPE_READ, "pipe(r)" },
	{ FDZOO_NOTIFICATION_PIPE_WRITE, FDZOO_PIPE_WRITE, "pipe(w)" },
	{ FDZOO_WIDOWED_PIPE_READ, FDZOO_WIDOWED_PIPE_READ, "pipe(r,widowed)" },
	{ FDZOO_WIDOWED_PIPE_WRITE, FDZOO_WIDOWED_PIPE_WRITE,
	  "pipe(w,widowed)" },
	{ FDZOO_MEMFD, FDZOO_MEMFD, "memfd(4096)" },
	{ FDZOO_MEMFD_SEALED, FDZOO_MEMFD_SEALED, "memfd(sealed,4096)" },
	{ FDZOO_FILE_RO, FDZOO_FILE_RO, "file(ro,4096)" },
	{ FDZOO_FILE_WO, FDZOO_FILE_WO, "file(wo,4096)" },
	{ FDZOO_FILE_RW, FDZOO_FILE_RW, "file(rw,4096)" },
	{ FDZOO_SOCKET, FDZOO_SOCKET, "socket(unix,stream)" },
	{ FDZOO_DIR, FDZOO_DIR, "dir" },
	{ FDZOO_OPATH, FDZOO_OPATH, "o_path(dir)" },
	{ FDZOO_DEV_NULL, FDZOO_DEV_NULL, "/dev/null" },
	{ FDZOO_DEV_FULL, FDZOO_DEV_FULL, "/dev/full" },
};

static int is_notification(enum fdzoo_kind k)
{
	return k == FDZOO_NOTIFICATION_PIPE_READ ||
	       k == FDZOO_NOTIFICATION_PIPE_WRITE;
}

/* The errors fdzoo_notification_pipe() documents. */
static int notification_error_ok(int err)
{
	return err == -ENOPKG || err == -EINVAL || err == -EPERM ||
	       err == -ENOSYS;
}

START_TEST(test_round_trip)
{
	int before = open_fds(), sem = kernel_shows_semaphore();
	unsigned int covered = 0;
	size_t i;

	/* The table covers every kind a constructor makes. */
	ck_assert_uint_eq(ARRAY_SIZE(zoo), FDZOO_KIND_COUNT - 2);

	for (i = 0; i < ARRAY_SIZE(zoo); i++) {
		enum fdzoo_kind seen = zoo[i].seen;
		const char *desc = zoo[i].desc;
		char buf[128];
		int other = 123, fd;

		fd = fdzoo_new(zoo[i].kind, SIZE, &other);
		if (fd < 0 && is_notification(zoo[i].kind)) {
			ck_assert_msg(notification_error_ok(fd), "%s: %d",
				      fdzoo_kind_name(zoo[i].kind), fd);
			ck_assert_int_eq(other, -1);
			continue;
		}
		ck_assert_msg(fd >= 0, "%s: %d", fdzoo_kind_name(zoo[i].kind),
			      fd);
		if (zoo[i].kind == FDZOO_EVENTFD_SEMAPHORE && !sem) {
			seen = FDZOO_EVENTFD;
			desc = "eventfd";
		}
		ck_assert_msg(fdzoo_kind_of(fd) == seen, "%s seen as %s",
			      fdzoo_kind_name(zoo[i].kind),
			      fdzoo_kind_name(fdzoo_kind_of(fd)));
		ck_assert_str_eq(fdzoo_describe(fd, buf, sizeof(buf)), desc);
		ck_assert(fcntl(fd, F_GETFD) & FD_CLOEXEC);
		if (other >= 0)
			ck_assert(fcntl(other, F_GETFD) & FD_CLOEXEC);
		close_fd(&fd);
		close_fd(&other);
		covered++;
	}
	ck_assert_uint_ge(covered, ARRAY_SIZE(zoo) - 2);
	ck_assert_int_eq(open_fds(), before);
}
END_TEST

START_TEST(test_names)
{
	int k;

	for (k = 0; k < FDZOO_KIND_COUNT; k++) {
		const char *name = fdzoo_kind_name((enum fdzoo_kind)k);

		ck_assert_str_ne(name, "invalid");
		ck_assert_int_eq(fdzoo_kind_by_name(name), k);
	}
	ck_assert_str_eq(fdzoo_kind_name(FDZOO_KIND_COUNT), "invalid");
	ck_assert_str_eq(fdzoo_kind_name((enum fdzoo_kind) - 1), "invalid");
	ck_assert_int_eq(fdzoo_kind_by_name("pipe"), -EINVAL);
	ck_assert_int_eq(fdzoo_kind_by_name(NULL), -EINVAL);
	ck_assert_int_eq(fdzoo_kind_by_name("dev-full"), FDZOO_DEV_FULL);
}
END_TEST

START_TEST(test_kind_of_strangers)
{
	char buf[128];
	int fd, p[2], n, before = open_fds();

	/* Not open. */
	ck_assert_int_eq(fdzoo_kind_of(-1), FDZOO_CLOSED);
	fd = fdzoo_dev_null();
	n = fd;
	close_fd(&fd);
	ck_assert_int_eq(fdzoo_kind_of(n), FDZOO_CLOSED);
	ck_assert_str_eq(fdzoo_describe(n, buf, sizeof(buf)), "closed");

	/* Open, but none of ours. */
	fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(fdzoo_kind_of(fd), FDZOO_OTHER);
	ck_assert_str_eq(fdzoo_describe(fd, buf, sizeof(buf)),
			 "other(anon_inode:[timerfd])");
	close_fd(&fd);
	fd = open("/dev/zero", O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(fdzoo_kind_of(fd), FDZOO_OTHER);
	ck_assert_str_eq(fdzoo_describe(fd, buf, sizeof(buf)), "chardev(1:5)");
	close_fd(&fd);

	/* Flags show in the description. */
	ck_assert_int_eq(fdzoo_pipe(p, O_NONBLOCK | O_DIRECT), 0);
	ck_assert_str_eq(fdzoo_describe(p[0], buf, sizeof(buf)),
			 "pipe(r,nonblock)");
	ck_assert_str_eq(fdzoo_describe(p[1], buf, sizeof(buf)),
			 "pipe(w,nonblock,packet)");
	close_fd(&p[0]);
	ck_assert_int_eq(fdzoo_kind_of(p[1]), FDZOO_WIDOWED_PIPE_WRITE);
	ck_assert_str_eq(fdzoo_describe(p[1], buf, sizeof(buf)),
			 "pipe(w,nonblock,packet,widowed)");
	close_fd(&p[1]);

	fd = fdzoo_eventfd(0, EFD_NONBLOCK | EFD_SEMAPHORE);
	if (kernel_shows_semaphore()) {
		ck_assert_int_eq(fdzoo_kind_of(fd), FDZOO_EVENTFD_SEMAPHORE);
		ck_assert_str_eq(fdzoo_describe(fd, buf, sizeof(buf)),
				 "eventfd(nonblock,semaphore)");
	}
	close_fd(&fd);

	/* A memfd with some seals is sealed, and says which. */
	fd = fdzoo_memfd(8192, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(fdzoo_kind_of(fd), FDZOO_MEMFD_SEALED);
	ck_assert_str_eq(fdzoo_describe(fd, buf, sizeof(buf)),
			 "memfd(seals=shrink|grow|seal,8192)");
	close_fd(&fd);
	/* A memfd reopened read-only through /proc is still a memfd. */
	fd = fdzoo_memfd(0, 0);
	snprintf(buf, sizeof(buf), "/proc/self/fd/%d", fd);
	n = open(buf, O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(n, 0);
	ck_assert_int_eq(fdzoo_kind_of(n), FDZOO_MEMFD);
	ck_assert_str_eq(fdzoo_describe(n, buf, sizeof(buf)), "memfd(0)");
	close(n);
	close_fd(&fd);
	ck_assert_int_eq(open_fds(), before);
}
END_TEST

START_TEST(test_behaviour)
{
	char c = 'x', buf[16];
	uint64_t v = 3;
	sigset_t pipe_set, old;
	struct timespec zero = { 0 };
	int fd, p[2], before = open_fds();
	void *m;

	/* /dev/full: every write fails with ENOSPC. */
	fd = fdzoo_dev_full();
	ck_assert_int_eq(write(fd, &c, 1), -1);
	ck_assert_int_eq(errno, ENOSPC);
	close_fd(&fd);

	/* /dev/null: writes vanish, reads give EOF. */
	fd = fdzoo_dev_null();
	ck_assert_int_eq(write(fd, &c, 1), 1);
	ck_assert_int_eq(read(fd, buf, 1), 0);
	close_fd(&fd);

	/* Widowed write end: EPIPE (SIGPIPE blocked, then taken back). */
	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	ck_assert_int_eq(sigprocmask(SIG_BLOCK, &pipe_set, &old), 0);
	fd = fdzoo_widowed_pipe_write();
	ck_assert_int_eq(write(fd, &c, 1), -1);
	ck_assert_int_eq(errno, EPIPE);
	ck_assert_int_eq(sigtimedwait(&pipe_set, NULL, &zero), SIGPIPE);
	ck_assert_int_eq(sigprocmask(SIG_SETMASK, &old, NULL), 0);
	close_fd(&fd);

	/* Widowed read end: EOF at once. */
	fd = fdzoo_widowed_pipe_read();
	ck_assert_int_eq(read(fd, buf, sizeof(buf)), 0);
	close_fd(&fd);

	/* Packetized pipe: one read, one packet. */
	ck_assert_int_eq(fdzoo_packet_pipe(p), 0);
	ck_assert_int_eq(write(p[1], "aaaaaaaa", 8), 8);
	ck_assert_int_eq(write(p[1], "bbbbbbbb", 8), 8);
	ck_assert_int_eq(read(p[0], buf, sizeof(buf)), 8);
	ck_assert_int_eq(read(p[0], buf, sizeof(buf)), 8);
	ck_assert_int_eq(buf[0], 'b');
	close_fds(p, 2);

	/* Notification pipe: writes give EXDEV, or the kernel lacks it. */
	fd = fdzoo_notification_pipe(p);
	if (fd == 0) {
		ck_assert_int_eq(write(p[1], &c, 1), -1);
		ck_assert_int_eq(errno, EXDEV);
		close_fds(p, 2);
	} else {
		ck_assert_msg(notification_error_ok(fd), "got %d", fd);
		ck_assert_int_eq(p[0], -1);
		ck_assert_int_eq(p[1], -1);
	}

	/* Read-only file: no writable shared mapping, no writes. */
	fd = fdzoo_file(SIZE, O_RDONLY);
	m = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ck_assert(m == MAP_FAILED);
	ck_assert_int_eq(errno, EACCES);
	m = mmap(NULL, SIZE, PROT_READ, MAP_SHARED, fd, 0);
	ck_assert(m != MAP_FAILED);
	ck_assert_int_eq(((char *)m)[SIZE - 1], 0);
	munmap(m, SIZE);
	ck_assert_int_eq(write(fd, &c, 1), -1);
	ck_assert_int_eq(errno, EBADF);
	close_fd(&fd);

	/* Write-only file: no mapping at all. */
	fd = fdzoo_file(SIZE, O_WRONLY);
	m = mmap(NULL, SIZE, PROT_READ, MAP_SHARED, fd, 0);
	ck_assert(m == MAP_FAILED);
	ck_assert_int_eq(errno, EACCES);
	close_fd(&fd);

	/* Sealed memfd: no writable shared mapping, no resize. */
	fd = fdzoo_memfd(SIZE, FDZOO_SEALS_ALL);
	ck_assert_int_eq(fcntl(fd, F_GET_SEALS), FDZOO_SEALS_ALL);
	m = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ck_assert(m == MAP_FAILED);
	ck_assert_int_eq(errno, EPERM);
	ck_assert_int_eq(ftruncate(fd, SIZE / 2), -1);
	ck_assert_int_eq(errno, EPERM);
	close_fd(&fd);

	/* Unsealed memfd: mappable, the size asked for, sealing allowed. */
	fd = fdzoo_memfd(SIZE, 0);
	ck_assert_int_eq(fcntl(fd, F_GET_SEALS), 0);
	m = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ck_assert(m != MAP_FAILED);
	((char *)m)[0] = 1;
	munmap(m, SIZE);
	ck_assert_int_eq(lseek(fd, 0, SEEK_END), SIZE);
	close_fd(&fd);

	/* O_PATH: no I/O, no mapping. */
	fd = fdzoo_opath();
	ck_assert_int_eq(read(fd, buf, 1), -1);
	ck_assert_int_eq(errno, EBADF);
	ck_assert(mmap(NULL, SIZE, PROT_READ, MAP_SHARED, fd, 0) == MAP_FAILED);
	ck_assert_int_eq(errno, EBADF);
	close_fd(&fd);

	/* A directory cannot be read as a file. */
	fd = fdzoo_dir();
	ck_assert_int_eq(read(fd, buf, 1), -1);
	ck_assert_int_eq(errno, EISDIR);
	close_fd(&fd);

	/* eventfd flavours. */
	fd = fdzoo_eventfd(0, EFD_SEMAPHORE | EFD_NONBLOCK);
	ck_assert_int_eq(write(fd, &v, sizeof(v)), 8);
	ck_assert_int_eq(read(fd, &v, sizeof(v)), 8);
	ck_assert_uint_eq(v, 1);
	close_fd(&fd);
	fd = fdzoo_eventfd(0, EFD_NONBLOCK);
	ck_assert_int_eq(read(fd, &v, sizeof(v)), -1);
	ck_assert_int_eq(errno, EAGAIN);
	close_fd(&fd);
	fd = fdzoo_eventfd(5, 0);
	ck_assert_int_eq(read(fd, &v, sizeof(v)), 8);
	ck_assert_uint_eq(v, 5);
	close_fd(&fd);

	/* A socket with its peer. */
	fd = fdzoo_socket(&p[1]);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(p[1], "s", 1), 1);
	ck_assert_int_eq(read(fd, buf, 1), 1);
	close_fd(&fd);
	close_fd(&p[1]);
	fd = fdzoo_socket(NULL);
	ck_assert_int_eq(fdzoo_kind_of(fd), FDZOO_SOCKET);
	close_fd(&fd);

	ck_assert_int_eq(open_fds(), before);
}
END_TEST

START_TEST(test_errors_leak_nothing)
{
	const char *saved = getenv("TMPDIR");
	char *tmpdir = saved ? strdup(saved) : NULL;
	int p[2] = { 7, 7 }, other = 7, before = open_fds();

	ck_assert_int_eq(fdzoo_memfd(SIZE, 0x8000), -EINVAL); /* bad seal */
	ck_assert_int_eq(fdzoo_memfd(SIZE_MAX, 0), -EFBIG);
	ck_assert_int_eq(fdzoo_file(SIZE, O_APPEND), -EINVAL);
	ck_assert_int_eq(fdzoo_eventfd(0, EFD_CLOEXEC << 1), -EINVAL);
	ck_assert_int_eq(fdzoo_pipe(p, O_APPEND), -EINVAL);
	ck_assert_int_eq(p[0], -1);
	ck_assert_int_eq(p[1], -1);

	/* Kinds with a second end need somewhere to put it. */
	ck_assert_int_eq(fdzoo_new(FDZOO_PIPE_WRITE, 0, NULL), -EINVAL);
	ck_assert_int_eq(fdzoo_new(FDZOO_SOCKET, 0, NULL), -EINVAL);
	ck_assert_int_eq(fdzoo_new(FDZOO_CLOSED, 0, &other), -EINVAL);
	ck_assert_int_eq(other, -1);
	ck_assert_int_eq(fdzoo_new(FDZOO_OTHER, 0, NULL), -EINVAL);
	ck_assert_int_eq(fdzoo_new(FDZOO_KIND_COUNT, 0, NULL), -EINVAL);

	/* A temporary directory that is not there. */
	ck_assert_int_eq(setenv("TMPDIR", "/nonexistent/vuc", 1), 0);
	ck_assert_int_eq(fdzoo_file(SIZE, O_RDONLY), -ENOENT);
	ck_assert_int_eq(fdzoo_dir(), -ENOENT);
	ck_assert_int_eq(fdzoo_opath(), -ENOENT);
	/* One without O_TMPFILE, where the mkstemp fallback fails too. */
	ck_assert_int_eq(setenv("TMPDIR", "/proc", 1), 0);
	ck_assert_int_lt(fdzoo_file(SIZE, O_RDONLY), 0);
	if (tmpdir)
		setenv("TMPDIR", tmpdir, 1);
	else
		unsetenv("TMPDIR");
	free(tmpdir);

	ck_assert_int_eq(open_fds(), before);
}
END_TEST

/* The number the next new fd would get. */
static int lowest_free_fd(void)
{
	int fd = fcntl(0, F_DUPFD_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	close(fd);
	return fd;
}

/*
 * Run out of fd numbers half-way through each constructor: with
 * RLIMIT_NOFILE at the lowest free fd + @room, at most @room new fds fit.
 * Whatever fails, nothing stays open.
 */
START_TEST(test_emfile_leaks_nothing)
{
	struct rlimit saved, tight;
	int before = open_fds(), emfile = 0, room, ret;
	size_t i;

	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &saved), 0);
	for (i = 0; i < ARRAY_SIZE(zoo); i++) {
		for (room = 0; room < 3; room++) {
			int other = -1;

			tight = saved;
			tight.rlim_cur = (rlim_t)(lowest_free_fd() + room);
			ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &tight), 0);
			ret = fdzoo_new(zoo[i].kind, SIZE, &other);
			ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &saved), 0);

			if (ret == -EMFILE)
				emfile++;
			else if (ret < 0)
				ck_assert_msg(
					is_notification(zoo[i].kind), "%s: %d",
					fdzoo_kind_name(zoo[i].kind), ret);
			if (ret >= 0)
				close(ret);
			close_fd(&other);
			ck_assert_msg(open_fds() == before, "%s, room %d",
				      fdzoo_kind_name(zoo[i].kind), room);
		}
	}
	ck_assert_int_gt(emfile, 0);
}
END_TEST

START_TEST(test_describe_tiny_buffers)
{
	int before = open_fds();
	size_t i, cap, j;

	for (i = 0; i < ARRAY_SIZE(zoo); i++) {
		char full[128], buf[24];
		int other = -1, fd;

		fd = fdzoo_new(zoo[i].kind, SIZE, &other);
		if (fd < 0)
			continue;
		fdzoo_describe(fd, full, sizeof(full));
		for (cap = 0; cap < 12; cap++) {
			const char *r;

			memset(buf, 'Z', sizeof(buf));
			r = fdzoo_describe(fd, buf, cap);
			for (j = cap; j < sizeof(buf); j++)
				ck_assert_int_eq(buf[j], 'Z');
			if (!cap) {
				ck_assert_str_eq(r, "");
				continue;
			}
			ck_assert_ptr_eq(r, buf);
			ck_assert_uint_lt(strlen(buf), cap);
			ck_assert(!strncmp(buf, full, strlen(buf)));
		}
		close_fd(&fd);
		close_fd(&other);
	}
	ck_assert_str_eq(fdzoo_describe(0, NULL, 0), "");
	ck_assert_int_eq(open_fds(), before);
}
END_TEST

START_TEST(test_count_open)
{
	int fds[5], p[2], i, before = open_fds(), child_n;
	pid_t pid;
	char c;

	ck_assert_int_eq(fdzoo_count_open(getpid()), before);
	for (i = 0; i < 5; i++)
		fds[i] = fdzoo_dev_null();
	ck_assert_int_eq(open_fds(), before + 5);
	close_fds(fds, 5);
	ck_assert_int_eq(open_fds(), before);

	/* Another process: a child that waits on a pipe. */
	ck_assert_int_eq(fdzoo_pipe(p, 0), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		close(p[1]);
		_exit(read(p[0], &c, 1) == 0 ? 0 : 1);
	}
	close_fd(&p[0]);
	/* The child holds what we held and the read end. */
	for (i = 0; i < 200; i++) {
		child_n = fdzoo_count_open(pid);
		if (child_n == before + 1)
			break;
		usleep(5000);
	}
	ck_assert_int_eq(child_n, before + 1);
	close_fd(&p[1]);
	ck_assert_int_eq(waitpid(pid, &i, 0), pid);
	ck_assert(WIFEXITED(i) && WEXITSTATUS(i) == 0);

	ck_assert_int_eq(fdzoo_count_open(-1), -EINVAL);
	ck_assert_int_eq(fdzoo_count_open(pid), -ENOENT); /* reaped */
	ck_assert_int_eq(open_fds(), before);
}
END_TEST

static Suite *fdzoo_suite(void)
{
	Suite *s = suite_create("fdzoo");
	TCase *tc = tcase_create("fdzoo");

	tcase_add_test(tc, test_round_trip);
	tcase_add_test(tc, test_names);
	tcase_add_test(tc, test_kind_of_strangers);
	tcase_add_test(tc, test_behaviour);
	tcase_add_test(tc, test_errors_leak_nothing);
	tcase_add_test(tc, test_emfile_leaks_nothing);
	tcase_add_test(tc, test_describe_tiny_buffers);
	tcase_add_test(tc, test_count_open);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(fdzoo_suite());
}
