/* SPDX-License-Identifier: MIT */
/*
 * util.h - small helpers shared by every layer: no protocol, no I/O.
 */
#ifndef VUC_COMMON_UTIL_H
#define VUC_COMMON_UTIL_H

#include <errno.h>
#include <stddef.h>
#include <unistd.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define VUC_MIN(a, b) ((a) < (b) ? (a) : (b))
#define VUC_MAX(a, b) ((a) > (b) ? (a) : (b))

#define VUC_UNUSED __attribute__((unused))
#define VUC_PRINTF(f, a) __attribute__((format(printf, f, a)))

/**
 * close_fd() - Close *@fd if it is open, and mark it closed
 *
 * Safe to call twice: the second call sees -1 and does nothing. Keeps errno
 * as it was, so an error path can close and still report the first failure.
 */
static inline void close_fd(int *fd)
{
	int saved = errno;

	if (*fd >= 0)
		close(*fd);
	*fd = -1;
	errno = saved;
}

/** close_fds() - close_fd() on each of @n fds. */
static inline void close_fds(int *fds, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		close_fd(&fds[i]);
}

#endif /* VUC_COMMON_UTIL_H */
