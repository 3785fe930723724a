/* SPDX-License-Identifier: MIT */
/*
 * peer.h - a vuc-ref-vfio server in a forked child, and a tclient on it.
 */
#ifndef VUC_TESTS_REFVFIO_PEER_H
#define VUC_TESTS_REFVFIO_PEER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "tclient.h"

#define PEER_MEM_LEN 65536u
#define PEER_MEM_IOVA 0x100000u

struct peer {
	pid_t pid;
	struct tc c;
	int next; /* the client end of the next connection, or -1 */
};

/**
 * peer_spawn() - Fork a server with @bugs serving @nconn connections one
 * after the other; connect a tclient to the first.
 * Return: 0 or -errno.
 */
int peer_spawn(struct peer *p, uint64_t bugs, bool no_twin, unsigned int nconn);

/**
 * peer_reconnect() - Close the current connection, take the next.
 * Return: 0 or -errno.
 */
int peer_reconnect(struct peer *p);

/** peer_fds() - The server's open fd count. */
int peer_fds(const struct peer *p);

/**
 * peer_finish() - Close the client, reap the server
 * Return: the wait status.
 */
int peer_finish(struct peer *p);

#endif /* VUC_TESTS_REFVFIO_PEER_H */
