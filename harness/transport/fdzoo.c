/* SPDX-License-Identifier: MIT */
/*
 * fdzoo.c - the fd zoo: make each kind of fd a case may pass, and name the
 * kind of any fd by looking at it (DESIGN.md section 4).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "common/util.h"
#include "transport/fdzoo.h"

static const char *const fdzoo_names[FDZOO_KIND_COUNT] = {
	[FDZOO_CLOSED] = "closed",
	[FDZOO_OTHER] = "other",
	[FDZOO_EVENTFD] = "eventfd",
	[FDZOO_EVENTFD_NONBLOCK] = "eventfd-nonblock",
	[FDZOO_EVENTFD_SEMAPHORE] = "eventfd-semaphore",
	[FDZOO_PIPE_READ] = "pipe-read",
	[FDZOO_PIPE_WRITE] = "pipe-write",
	[FDZOO_PACKET_PIPE_READ] = "packet-pipe-read",
	[FDZOO_PACKET_PIPE_WRITE] = "packet-pipe-write",
	[FDZOO_NOTIFICATION_PIPE_READ] = "notification-pipe-read",
	[FDZOO_NOTIFICATION_PIPE_WRITE] = "notification-pipe-write",
	[FDZOO_WIDOWED_PIPE_READ] = "widowed-pipe-read",
	[FDZOO_WIDOWED_PIPE_WRITE] = "widowed-pipe-write",
	[FDZOO_MEMFD] = "memfd",
	[FDZOO_MEMFD_SEALED] = "memfd-sealed",
	[FDZOO_FILE_RO] = "file-ro",
	[FDZOO_FILE_WO] = "file-wo",
	[FDZOO_FILE_RW] = "file-rw",
	[FDZOO_SOCKET] = "socket",
	[FDZOO_DIR] = "dir",
	[FDZOO_OPATH] = "o-path",
	[FDZOO_DEV_NULL] = "dev-null",
	[FDZOO_DEV_FULL] = "dev-full",
};

/* $TMPDIR if set and not empty, else /tmp. */
static const char *fdzoo_tmpdir(void)
{
	const char *dir = getenv("TMPDIR");

	return dir && *dir ? dir : "/tmp";
}

int fdzoo_eventfd(unsigned int initval, int flags)
{
	int fd;

	if (flags & ~(EFD_NONBLOCK | EFD_SEMAPHORE))
		return -EINVAL;
	fd = eventfd(initval, flags | EFD_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

int fdzoo_pipe(int fds[2], int flags)
{
	fds[0] = fds[1] = -1;
	if (flags & ~(O_NONBLOCK | O_DIRECT | O_NOTIFICATION_PIPE))
		return -EINVAL;
	if (pipe2(fds, flags | O_CLOEXEC) < 0) {
		fds[0] = fds[1] = -1;
		return -errno;
	}
	return 0;
}

int fdzoo_packet_pipe(int fds[2])
{
	return fdzoo_pipe(fds, O_DIRECT);
}

int fdzoo_notification_pipe(int fds[2])
{
	/* Whatever the kernel says is the answer: callers skip on error. */
	return fdzoo_pipe(fds, O_NOTIFICATION_PIPE);
}

/* A pipe with end @close_end closed; returns the other end. */
static int fdzoo_widowed(int close_end)
{
	int fds[2], ret;

	ret = fdzoo_pipe(fds, 0);
	if (ret < 0)
		return ret;
	close_fd(&fds[close_end]);
	return fds[!close_end];
}

int fdzoo_widowed_pipe_write(void)
{
	return fdzoo_widowed(0);
}

int fdzoo_widowed_pipe_read(void)
{
	return fdzoo_widowed(1);
}

int fdzoo_memfd(size_t size, unsigned int seals)
{
	int fd, ret;

	if (size > (size_t)INT64_MAX)
		return -EFBIG;
	/* ALLOW_SEALING even when unsealed: otherwise the kernel reports
	 * F_SEAL_SEAL, and the fd would not look unsealed. */
	fd = memfd_create("vuc-fdzoo", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)size) < 0) {
		ret = -errno;
		goto err_close;
	}
	if (seals && fcntl(fd, F_ADD_SEALS, (int)seals) < 0) {
		ret = -errno;
		goto err_close;
	}
	return fd;

err_close:
	close_fd(&fd);
	return ret;
}

/*
 * An unlinked file through mkostemp() and unlink(), for file systems
 * without O_TMPFILE.
 */
static int fdzoo_file_mkstemp(size_t size, int accmode)
{
	char path[PATH_MAX];
	int fd = -1, nfd = -1, ret;

	ret = snprintf(path, sizeof(path), "%s/vuc-fdzoo-XXXXXX",
		       fdzoo_tmpdir());
	if (ret < 0 || (size_t)ret >= sizeof(path))
		return -ENAMETOOLONG;

	fd = mkostemp(path, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)size) < 0) {
		ret = -errno;
		goto out;
	}
	if (accmode == O_RDWR) {
		nfd = fd;
		fd = -1;
	} else {
		nfd = open(path, accmode | O_CLOEXEC);
		ret = nfd < 0 ? -errno : 0;
	}

out:
	unlink(path);
	close_fd(&fd);
	return nfd >= 0 ? nfd : ret;
}

int fdzoo_file(size_t size, int accmode)
{
	char path[64];
	int fd = -1, nfd, ret;

	if (accmode != O_RDONLY && accmode != O_WRONLY && accmode != O_RDWR)
		return -EINVAL;
	if (size > (size_t)INT64_MAX)
		return -EFBIG;

	fd = open(fdzoo_tmpdir(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd < 0) {
		if (errno == EOPNOTSUPP || errno == EISDIR)
			return fdzoo_file_mkstemp(size, accmode);
		return -errno;
	}
	if (ftruncate(fd, (off_t)size) < 0) {
		ret = -errno;
		goto err_close;
	}
	if (accmode == O_RDWR)
		return fd;

	/* O_TMPFILE needs a writable open; reopen with the mode we want. */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	nfd = open(path, accmode | O_CLOEXEC);
	if (nfd < 0) {
		ret = -errno;
		goto err_close;
	}
	close_fd(&fd);
	return nfd;

err_close:
	close_fd(&fd);
	return ret;
}

int fdzoo_socket(int *peer)
{
	int sv[2];

	if (peer)
		*peer = -1;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	if (peer)
		*peer = sv[1];
	else
		close_fd(&sv[1]);
	return sv[0];
}

static int fdzoo_open(const char *path, int flags)
{
	int fd = open(path, flags | O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

int fdzoo_dir(void)
{
	return fdzoo_open(fdzoo_tmpdir(), O_RDONLY | O_DIRECTORY);
}

int fdzoo_opath(void)
{
	return fdzoo_open(fdzoo_tmpdir(), O_PATH);
}

int fdzoo_dev_null(void)
{
	return fdzoo_open("/dev/null", O_RDWR);
}

int fdzoo_dev_full(void)
{
	return fdzoo_open("/dev/full", O_RDWR);
}

/* A pipe made with @flags: return end @end, hand the other to @other. */
static int fdzoo_pipe_end(int flags, int end, int *other)
{
	int fds[2], ret;

	ret = fdzoo_pipe(fds, flags);
	if (ret < 0)
		return ret;
	*other = fds[!end];
	return fds[end];
}

int fdzoo_new(enum fdzoo_kind kind, size_t size, int *other)
{
	if (other)
		*other = -1;

	switch (kind) {
	case FDZOO_PIPE_READ:
	case FDZOO_PIPE_WRITE:
	case FDZOO_PACKET_PIPE_READ:
	case FDZOO_PACKET_PIPE_WRITE:
	case FDZOO_NOTIFICATION_PIPE_READ:
	case FDZOO_NOTIFICATION_PIPE_WRITE:
	case FDZOO_SOCKET:
		/* Closing the other end would make a widowed kind instead. */
		if (!other)
			return -EINVAL;
		break;
	default:
		break;
	}

	switch (kind) {
	case FDZOO_EVENTFD:
		return fdzoo_eventfd(0, 0);
	case FDZOO_EVENTFD_NONBLOCK:
		return fdzoo_eventfd(0, EFD_NONBLOCK);
	case FDZOO_EVENTFD_SEMAPHORE:
		return fdzoo_eventfd(0, EFD_SEMAPHORE);
	case FDZOO_PIPE_READ:
		return fdzoo_pipe_end(0, 0, other);
	case FDZOO_PIPE_WRITE:
		return fdzoo_pipe_end(0, 1, other);
	case FDZOO_PACKET_PIPE_READ:
		return fdzoo_pipe_end(O_DIRECT, 0, other);
	case FDZOO_PACKET_PIPE_WRITE:
		return fdzoo_pipe_end(O_DIRECT, 1, other);
	case FDZOO_NOTIFICATION_PIPE_READ:
		return fdzoo_pipe_end(O_NOTIFICATION_PIPE, 0, other);
	case FDZOO_NOTIFICATION_PIPE_WRITE:
		return fdzoo_pipe_end(O_NOTIFICATION_PIPE, 1, other);
	case FDZOO_WIDOWED_PIPE_READ:
		return fdzoo_widowed_pipe_read();
	case FDZOO_WIDOWED_PIPE_WRITE:
		return fdzoo_widowed_pipe_write();
	case FDZOO_MEMFD:
		return fdzoo_memfd(size, 0);
	case FDZOO_MEMFD_SEALED:
		return fdzoo_memfd(size, FDZOO_SEALS_ALL);
	case FDZOO_FILE_RO:
		return fdzoo_file(size, O_RDONLY);
	case FDZOO_FILE_WO:
		return fdzoo_file(size, O_WRONLY);
	case FDZOO_FILE_RW:
		return fdzoo_file(size, O_RDWR);
	case FDZOO_SOCKET:
		return fdzoo_socket(other);
	case FDZOO_DIR:
		return fdzoo_dir();
	case FDZOO_OPATH:
		return fdzoo_opath();
	case FDZOO_DEV_NULL:
		return fdzoo_dev_null();
	case FDZOO_DEV_FULL:
		return fdzoo_dev_full();
	case FDZOO_CLOSED:
	case FDZOO_OTHER:
	case FDZOO_KIND_COUNT:
		break;
	}
	return -EINVAL;
}

/* What inspection found out about an fd. */
struct fdzoo_facts {
	enum fdzoo_kind kind;
	int fl;		/* F_GETFL */
	struct stat st; /* valid unless kind is FDZOO_CLOSED */
	char link[128]; /* readlink of /proc/self/fd/N, maybe truncated */
	int seals;	/* memfd: F_GET_SEALS */
	int semaphore;	/* eventfd: 1, 0, or -1 unknown */
	int widowed;	/* pipe: the other end is closed */
};

/* The eventfd-semaphore line of fdinfo (Linux 6.4+); -1 if absent. */
static int fdzoo_eventfd_semaphore(int fd)
{
	char path[64], buf[512];
	const char *p;
	ssize_t n;
	int ifd;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	ifd = open(path, O_RDONLY | O_CLOEXEC);
	if (ifd < 0)
		return -1;
	n = read(ifd, buf, sizeof(buf) - 1);
	close_fd(&ifd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	p = strstr(buf, "eventfd-semaphore:");
	if (!p)
		return -1;
	p += strlen("eventfd-semaphore:");
	while (*p == ' ' || *p == '\t')
		p++;
	return *p == '1';
}

/* Whether the other end of pipe end @fd is closed: a poll that never waits. */
static int fdzoo_pipe_widowed(int fd, int accmode)
{
	struct pollfd pfd = { .fd = fd };

	pfd.events = accmode == O_WRONLY ? POLLOUT : POLLIN;
	if (poll(&pfd, 1, 0) <= 0)
		return 0;
	/* No writers: POLLHUP on the read end. No readers: POLLERR on the
	 * write end. */
	if (accmode == O_WRONLY)
		return !!(pfd.revents & POLLERR);
	return !!(pfd.revents & POLLHUP);
}

static enum fdzoo_kind fdzoo_pipe_kind(struct fdzoo_facts *f, int fd)
{
	int acc = f->fl & O_ACCMODE;

	if (acc != O_RDONLY && acc != O_WRONLY)
		return FDZOO_OTHER; /* a FIFO opened O_RDWR */
	f->widowed = fdzoo_pipe_widowed(fd, acc);
	if (acc == O_RDONLY)
		return f->widowed ? FDZOO_WIDOWED_PIPE_READ : FDZOO_PIPE_READ;
	if (f->widowed)
		return FDZOO_WIDOWED_PIPE_WRITE;
	return f->fl & O_DIRECT ? FDZOO_PACKET_PIPE_WRITE : FDZOO_PIPE_WRITE;
}

static enum fdzoo_kind fdzoo_reg_kind(struct fdzoo_facts *f, int fd)
{
	static const char memfd_prefix[] = "/memfd:";

	if (!strncmp(f->link, memfd_prefix, sizeof(memfd_prefix) - 1)) {
		f->seals = fcntl(fd, F_GET_SEALS);
		if (f->seals < 0)
			f->seals = 0;
		return f->seals ? FDZOO_MEMFD_SEALED : FDZOO_MEMFD;
	}
	switch (f->fl & O_ACCMODE) {
	case O_RDONLY:
		return FDZOO_FILE_RO;
	case O_WRONLY:
		return FDZOO_FILE_WO;
	case O_RDWR:
		return FDZOO_FILE_RW;
	}
	return FDZOO_OTHER;
}

static void fdzoo_inspect(int fd, struct fdzoo_facts *f)
{
	char path[64];
	ssize_t n;

	memset(f, 0, sizeof(*f));
	f->semaphore = -1;

	f->fl = fcntl(fd, F_GETFL);
	if (f->fl < 0) {
		f->kind = FDZOO_CLOSED;
		return;
	}
	if (fstat(fd, &f->st) < 0) {
		f->kind = FDZOO_OTHER;
		return;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, f->link, sizeof(f->link) - 1);
	f->link[n > 0 ? n : 0] = '\0';

	if (f->fl & O_PATH) {
		f->kind = FDZOO_OPATH;
		return;
	}
	/* Anonymous inodes have no file type bits worth trusting. */
	if (!strcmp(f->link, "anon_inode:[eventfd]")) {
		f->semaphore = fdzoo_eventfd_semaphore(fd);
		if (f->semaphore == 1)
			f->kind = FDZOO_EVENTFD_SEMAPHORE;
		else if (f->fl & O_NONBLOCK)
			f->kind = FDZOO_EVENTFD_NONBLOCK;
		else
			f->kind = FDZOO_EVENTFD;
		return;
	}

	switch (f->st.st_mode & S_IFMT) {
	case S_IFIFO:
		f->kind = fdzoo_pipe_kind(f, fd);
		break;
	case S_IFSOCK:
		f->kind = FDZOO_SOCKET;
		break;
	case S_IFDIR:
		f->kind = FDZOO_DIR;
		break;
	case S_IFCHR:
		/* The memory devices: 1:3 is null, 1:7 is full. */
		if (f->st.st_rdev == makedev(1, 3))
			f->kind = FDZOO_DEV_NULL;
		else if (f->st.st_rdev == makedev(1, 7))
			f->kind = FDZOO_DEV_FULL;
		else
			f->kind = FDZOO_OTHER;
		break;
	case S_IFREG:
		f->kind = fdzoo_reg_kind(f, fd);
		break;
	default:
		f->kind = FDZOO_OTHER;
		break;
	}
}

enum fdzoo_kind fdzoo_kind_of(int fd)
{
	struct fdzoo_facts f;

	fdzoo_inspect(fd, &f);
	return f.kind;
}

const char *fdzoo_kind_name(enum fdzoo_kind kind)
{
	if ((unsigned int)kind >= FDZOO_KIND_COUNT)
		return "invalid";
	return fdzoo_names[kind];
}

int fdzoo_kind_by_name(const char *name)
{
	size_t i;

	if (!name)
		return -EINVAL;
	for (i = 0; i < ARRAY_SIZE(fdzoo_names); i++)
		if (!strcmp(fdzoo_names[i], name))
			return (int)i;
	return -EINVAL;
}

/* "shrink|grow|write|seal": the seals in @seals, or "sealed" for all four. */
static void fdzoo_seal_names(int seals, char *buf, size_t cap)
{
	static const struct {
		int bit;
		const char *name;
	} names[] = {
		{ F_SEAL_SHRINK, "shrink" },
		{ F_SEAL_GROW, "grow" },
		{ F_SEAL_WRITE, "write" },
		{ F_SEAL_SEAL, "seal" },
#ifdef F_SEAL_FUTURE_WRITE
		{ F_SEAL_FUTURE_WRITE, "future_write" },
#endif
	};
	size_t i, len = 0;

	buf[0] = '\0';
	if (seals == FDZOO_SEALS_ALL) {
		snprintf(buf, cap, "sealed");
		return;
	}
	for (i = 0; i < ARRAY_SIZE(names) && len < cap; i++) {
		int n;

		if (!(seals & names[i].bit))
			continue;
		n = snprintf(buf + len, cap - len, "%s%s",
			     len ? "|" : "seals=", names[i].name);
		if (n < 0)
			break;
		len += (size_t)n;
	}
}

static const char *fdzoo_sock_domain(int domain)
{
	switch (domain) {
	case AF_UNIX:
		return "unix";
	case AF_INET:
		return "inet";
	case AF_INET6:
		return "inet6";
	case AF_NETLINK:
		return "netlink";
	}
	return "other";
}

static const char *fdzoo_sock_type(int type)
{
	switch (type) {
	case SOCK_STREAM:
		return "stream";
	case SOCK_DGRAM:
		return "dgram";
	case SOCK_SEQPACKET:
		return "seqpacket";
	case SOCK_RAW:
		return "raw";
	}
	return "other";
}

/* Describe into @out (large enough); fdzoo_describe() truncates. */
static void fdzoo_describe_facts(int fd, const struct fdzoo_facts *f, char *out,
				 size_t cap)
{
	long long size = (long long)f->st.st_size;
	const char *nb = f->fl & O_NONBLOCK ? ",nonblock" : "";
	char seals[64];

	switch (f->kind) {
	case FDZOO_CLOSED:
		snprintf(out, cap, "closed");
		break;
	case FDZOO_OPATH:
		snprintf(out, cap, "o_path(%s)",
			 S_ISDIR(f->st.st_mode)	  ? "dir"
			 : S_ISREG(f->st.st_mode) ? "file"
						  : "other");
		break;
	case FDZOO_EVENTFD:
	case FDZOO_EVENTFD_NONBLOCK:
	case FDZOO_EVENTFD_SEMAPHORE:
		if ((f->fl & O_NONBLOCK) && f->semaphore == 1)
			snprintf(out, cap, "eventfd(nonblock,semaphore)");
		else if (f->fl & O_NONBLOCK)
			snprintf(out, cap, "eventfd(nonblock)");
		else if (f->semaphore == 1)
			snprintf(out, cap, "eventfd(semaphore)");
		else
			snprintf(out, cap, "eventfd");
		break;
	case FDZOO_PIPE_READ:
	case FDZOO_WIDOWED_PIPE_READ:
		snprintf(out, cap, "pipe(r%s%s)", nb,
			 f->widowed ? ",widowed" : "");
		break;
	case FDZOO_PIPE_WRITE:
	case FDZOO_PACKET_PIPE_WRITE:
	case FDZOO_WIDOWED_PIPE_WRITE:
		snprintf(out, cap, "pipe(w%s%s%s)", nb,
			 f->fl & O_DIRECT ? ",packet" : "",
			 f->widowed ? ",widowed" : "");
		break;
	case FDZOO_MEMFD:
	case FDZOO_MEMFD_SEALED:
		fdzoo_seal_names(f->seals, seals, sizeof(seals));
		snprintf(out, cap, "memfd(%s%s%lld)", seals, *seals ? "," : "",
			 size);
		break;
	case FDZOO_FILE_RO:
		snprintf(out, cap, "file(ro,%lld)", size);
		break;
	case FDZOO_FILE_WO:
		snprintf(out, cap, "file(wo,%lld)", size);
		break;
	case FDZOO_FILE_RW:
		snprintf(out, cap, "file(rw,%lld)", size);
		break;
	case FDZOO_SOCKET: {
		int domain = -1, type = -1;
		socklen_t len = sizeof(domain);

		getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len);
		len = sizeof(type);
		getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len);
		snprintf(out, cap, "socket(%s,%s)", fdzoo_sock_domain(domain),
			 fdzoo_sock_type(type));
		break;
	}
	case FDZOO_DIR:
		snprintf(out, cap, "dir");
		break;
	case FDZOO_DEV_NULL:
		snprintf(out, cap, "/dev/null");
		break;
	case FDZOO_DEV_FULL:
		snprintf(out, cap, "/dev/full");
		break;
	default:
		if (S_ISFIFO(f->st.st_mode))
			snprintf(out, cap, "pipe(rw%s)", nb);
		else if (S_ISCHR(f->st.st_mode))
			snprintf(out, cap, "chardev(%u:%u)",
				 major(f->st.st_rdev), minor(f->st.st_rdev));
		else
			snprintf(out, cap, "other(%s)",
				 *f->link ? f->link : "?");
		break;
	}
}

const char *fdzoo_describe(int fd, char *buf, size_t cap)
{
	struct fdzoo_facts f;
	char out[256];

	if (!buf || !cap)
		return "";
	fdzoo_inspect(fd, &f);
	fdzoo_describe_facts(fd, &f, out, sizeof(out));
	snprintf(buf, cap, "%s", out);
	return buf;
}

int fdzoo_count_open(pid_t pid)
{
	char path[64];
	struct dirent *de;
	DIR *d;
	int n = 0, self, ret;

	if (pid < 0)
		return -EINVAL;
	if (pid == 0)
		snprintf(path, sizeof(path), "/proc/self/fd");
	else
		snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);

	d = opendir(path);
	if (!d)
		return -errno;
	/* Our own listing shows the fd that reads it: leave that out. */
	self = pid == 0 || pid == getpid() ? dirfd(d) : -1;

	for (;;) {
		errno = 0;
		de = readdir(d);
		if (!de)
			break;
		if (de->d_name[0] == '.')
			continue;
		if (self >= 0 && atoi(de->d_name) == self)
			continue;
		n++;
	}
	ret = errno ? -errno : n;
	closedir(d);
	return ret;
}
