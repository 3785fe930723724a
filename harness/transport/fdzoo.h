/* SPDX-License-Identifier: MIT */
/*
 * fdzoo.h - every kind of fd a case may pass, and naming any fd by looking.
 *
 * Protocols name fds by role (kick, call, memory region, device state);
 * back-ends assume kinds (an eventfd, a mappable file). The zoo makes the
 * kinds a front-end may legally or plausibly send, including the ones that
 * refuse writes, mapping or splicing, so cases can check that a back-end
 * copes: see DESIGN.md section 4 and research/vhost-user-cases.md section 4.
 *
 * Every constructor returns new fds that the caller owns, all close-on-exec;
 * on failure it returns -errno and leaves no fd open. Temporary files live
 * under $TMPDIR (or /tmp) and are unlinked at once: nothing is left behind.
 */
#ifndef VUC_TRANSPORT_FDZOO_H
#define VUC_TRANSPORT_FDZOO_H

#include <fcntl.h>
#include <stddef.h>
#include <sys/types.h>

/* O_NOTIFICATION_PIPE is O_EXCL (linux/watch_queue.h, which clashes with
 * glibc's fcntl.h). */
#ifndef O_NOTIFICATION_PIPE
#define O_NOTIFICATION_PIPE O_EXCL
#endif

/*
 * The kinds. fdzoo_new() makes each one; fdzoo_kind_of() tells each one
 * apart by inspection, except where the kernel keeps no trace: the read end
 * of a packetized pipe and both ends of a notification pipe are seen as
 * plain pipe ends (pipe2() sets O_DIRECT on the write end only, and
 * O_NOTIFICATION_PIPE on neither).
 */
enum fdzoo_kind {
	FDZOO_CLOSED,		       /* not an open fd */
	FDZOO_OTHER,		       /* open, but none of the kinds below */
	FDZOO_EVENTFD,		       /* blocking */
	FDZOO_EVENTFD_NONBLOCK,	       /* EFD_NONBLOCK */
	FDZOO_EVENTFD_SEMAPHORE,       /* EFD_SEMAPHORE (blocking or not) */
	FDZOO_PIPE_READ,	       /* read end, write end still open */
	FDZOO_PIPE_WRITE,	       /* write end, read end still open */
	FDZOO_PACKET_PIPE_READ,	       /* pipe2(O_DIRECT) read end */
	FDZOO_PACKET_PIPE_WRITE,       /* pipe2(O_DIRECT) write end */
	FDZOO_NOTIFICATION_PIPE_READ,  /* pipe2(O_NOTIFICATION_PIPE) */
	FDZOO_NOTIFICATION_PIPE_WRITE, /* writes fail with EXDEV */
	FDZOO_WIDOWED_PIPE_READ,       /* write end closed: reads give EOF */
	FDZOO_WIDOWED_PIPE_WRITE,      /* read end closed: writes give EPIPE */
	FDZOO_MEMFD,		       /* no seals */
	FDZOO_MEMFD_SEALED,	       /* any seal (fdzoo_new(): all four) */
	FDZOO_FILE_RO,		       /* O_RDONLY: mmap writable: EACCES */
	FDZOO_FILE_WO,		       /* O_WRONLY: no mapping at all */
	FDZOO_FILE_RW,		       /* an ordinary regular file */
	FDZOO_SOCKET,		       /* one end of an AF_UNIX socketpair */
	FDZOO_DIR,		       /* a directory opened O_RDONLY */
	FDZOO_OPATH,		       /* O_PATH: no I/O, no mmap (EBADF) */
	FDZOO_DEV_NULL,		       /* /dev/null */
	FDZOO_DEV_FULL,		       /* /dev/full: writes give ENOSPC */
	FDZOO_KIND_COUNT
};

/* The four seals that make a memfd immutable in size and content. */
#define FDZOO_SEALS_ALL \
	(F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL)

/**
 * fdzoo_new() - Make an fd of @kind
 * @size:	size in bytes of a memfd or a file (ignored for other kinds);
 *		"shorter than the region" is just a smaller @size
 * @other:	out: the other end of a pipe or socket kind, which the caller
 *		then owns too; required (-EINVAL if NULL) for those kinds, as
 *		closing the other end would make a different kind. For every
 *		other kind it is set to -1 if not NULL.
 *
 * fds: the caller owns the returned fd and *@other.
 *
 * Return: the new fd, or -EINVAL (@kind is FDZOO_CLOSED, FDZOO_OTHER or
 * out of range, or @other missing), or the constructor's error (see
 * fdzoo_notification_pipe() for the kinds a kernel may lack).
 */
int fdzoo_new(enum fdzoo_kind kind, size_t size, int *other);

/**
 * fdzoo_eventfd() - An eventfd
 * @initval:	initial counter
 * @flags:	0, EFD_NONBLOCK and/or EFD_SEMAPHORE (EFD_CLOEXEC is implied)
 *
 * Return: the fd (caller owns it) or -errno.
 */
int fdzoo_eventfd(unsigned int initval, int flags);

/**
 * fdzoo_pipe() - A pipe, both ends
 * @fds:	out: [0] the read end, [1] the write end; { -1, -1 } on error
 * @flags:	0, O_NONBLOCK, O_DIRECT (packetized), O_NOTIFICATION_PIPE
 *		(O_CLOEXEC is implied)
 *
 * To pass the write end as a call fd and watch it, send @fds[1] and keep
 * @fds[0] (seed 000: front-ends without eventfd do exactly this).
 *
 * Return: 0 (the caller owns both ends) or -errno.
 */
int fdzoo_pipe(int fds[2], int flags);

/**
 * fdzoo_packet_pipe() - A packetized pipe: pipe2(O_DIRECT)
 *
 * Each write() is one packet; a read() shorter than the packet discards
 * the rest of it (seed 002).
 *
 * Return: 0 (the caller owns both ends) or -errno.
 */
int fdzoo_packet_pipe(int fds[2]);

/**
 * fdzoo_notification_pipe() - A notification pipe: pipe2(O_NOTIFICATION_PIPE)
 *
 * write() fails with EXDEV and splice() refuses it (seed 004). Many kernels
 * lack it: callers skip the case on any error, which is the kernel's own:
 * -ENOPKG (built without CONFIG_WATCH_QUEUE), -EINVAL (before Linux 5.8),
 * -EPERM or -ENOSYS (a seccomp filter refused it).
 *
 * Return: 0 (the caller owns both ends) or one of those -errno.
 */
int fdzoo_notification_pipe(int fds[2]);

/**
 * fdzoo_widowed_pipe_write() - A pipe's write end whose read end is closed
 *
 * Writes fail with EPIPE (and raise SIGPIPE in the writer).
 *
 * Return: the fd (caller owns it) or -errno.
 */
int fdzoo_widowed_pipe_write(void);

/**
 * fdzoo_widowed_pipe_read() - A pipe's read end whose write end is closed
 *
 * Reads give EOF at once.
 *
 * Return: the fd (caller owns it) or -errno.
 */
int fdzoo_widowed_pipe_read(void);

/**
 * fdzoo_memfd() - A memfd of @size bytes (zero-filled) with @seals added
 * @seals:	0 (unsealed, sealing still allowed), FDZOO_SEALS_ALL, or any
 *		mix of F_SEAL_* (F_SEAL_WRITE: no writable shared mapping,
 *		mmap gives EPERM)
 *
 * Return: the fd (caller owns it) or -errno.
 */
int fdzoo_memfd(size_t size, unsigned int seals);

/**
 * fdzoo_file() - An unlinked regular file of @size bytes (zero-filled)
 * @accmode:	O_RDONLY, O_WRONLY or O_RDWR
 *
 * Made under $TMPDIR, or /tmp if $TMPDIR is unset or empty.
 *
 * Return: the fd (caller owns it) or -errno.
 */
int fdzoo_file(size_t size, int accmode);

/**
 * fdzoo_socket() - One end of an AF_UNIX stream socketpair
 * @peer:	out: the other end (caller owns it); if NULL it is closed
 *
 * Return: the fd (caller owns it) or -errno.
 */
int fdzoo_socket(int *peer);

/**
 * fdzoo_dir() - The temporary directory ($TMPDIR or /tmp), O_RDONLY
 *
 * Return: the fd (caller owns it) or -errno.
 */
int fdzoo_dir(void);

/**
 * fdzoo_opath() - An O_PATH fd (of the temporary directory)
 *
 * Return: the fd (caller owns it) or -errno.
 */
int fdzoo_opath(void);

/**
 * fdzoo_dev_null() - /dev/null, read-write
 *
 * Return: the fd (caller owns it) or -errno.
 */
int fdzoo_dev_null(void);

/**
 * fdzoo_dev_full() - /dev/full, read-write: every write fails with ENOSPC
 *
 * Return: the fd (caller owns it) or -errno.
 */
int fdzoo_dev_full(void);

/**
 * fdzoo_kind_of() - Name the kind of any fd by inspection
 *
 * Looks only: fcntl(F_GETFL), fstat(), /proc/self/fd and fdinfo,
 * F_GET_SEALS, a poll() with no wait (a widowed pipe end). Reads and
 * writes nothing. See enum fdzoo_kind for what cannot be told apart.
 *
 * Return: the kind; FDZOO_CLOSED for an fd that is not open.
 */
enum fdzoo_kind fdzoo_kind_of(int fd);

/**
 * fdzoo_kind_name() - A short stable name for @kind: "eventfd-nonblock",
 * "pipe-write", "memfd-sealed", "dev-full", ...
 *
 * Return: a static string; "invalid" for a value out of range.
 */
const char *fdzoo_kind_name(enum fdzoo_kind kind);

/**
 * fdzoo_kind_by_name() - The kind fdzoo_kind_name() calls @name
 *
 * Return: the kind, or -EINVAL for an unknown name.
 */
int fdzoo_kind_by_name(const char *name);

/**
 * fdzoo_describe() - A short description of @fd for traces
 * @buf:	out: NUL-terminated, truncated to fit @cap (nothing written if
 *		@cap is 0)
 *
 * Such as "eventfd(nonblock,semaphore)", "pipe(w,packet)",
 * "memfd(sealed,4096)", "file(ro,4096)", "socket(unix,stream)", "closed".
 *
 * Return: @buf, or "" if @cap is 0.
 */
const char *fdzoo_describe(int fd, char *buf, size_t cap);

/**
 * fdzoo_count_open() - The number of fds process @pid has open
 * @pid:	0 for the calling process
 *
 * Counts /proc/PID/fd (for the caller, without the fd used to read it).
 *
 * Return: the count, or -errno (-ENOENT: no such process; -EACCES).
 */
int fdzoo_count_open(pid_t pid);

#endif /* VUC_TRANSPORT_FDZOO_H */
