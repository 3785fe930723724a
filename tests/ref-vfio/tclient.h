/* SPDX-License-Identifier: MIT */
/*
 * tclient.h - a small vfio-user client for the tests of vuc-ref-vfio.
 *
 * It sends commands, waits for their replies and meanwhile serves the
 * server's DMA_READ / DMA_WRITE (on the main or the twin socket) from its
 * own guest memory: a memfd of @mem_len bytes at client address
 * @mem_iova, also mapped here so that tests can look at it.
 */
#ifndef VUC_TESTS_REFVFIO_TCLIENT_H
#define VUC_TESTS_REFVFIO_TCLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "wire/vfio_user.h"

struct tc {
	int fd;	  /* main socket */
	int twin; /* twin socket, or -1 */
	uint16_t id;
	uint8_t *rx, *tx, *aux;
	int mem_fd;
	uint8_t *mem;
	size_t mem_len;
	uint64_t mem_iova;
	unsigned int dma_reads, dma_writes; /* requests served */
	unsigned int dma_main;		    /* ... of them on the main socket */
	int dma_error;			    /* errno to answer DMA with, or 0 */
};

/**
 * tc_init() - A client on the connected socket @fd (taken) with guest
 * memory. Return: 0 or -errno.
 */
int tc_init(struct tc *c, int fd, size_t mem_len, uint64_t mem_iova);

/** tc_fini() - Close the sockets and the guest memory. */
void tc_fini(struct tc *c);

/**
 * tc_send() - Send @m as it is, in one write
 * Return: bytes sent or -errno.
 */
int tc_send(struct tc *c, const struct vfio_user_msg *m);

/**
 * tc_recv() - The next reply on the main socket, serving DMA requests
 * meanwhile
 *
 * fds: the reply's fds belong to the caller. Payload valid until the next
 * call.
 *
 * Return: msg_size, -ETIMEDOUT (nothing within @timeout_ms),
 * -ECONNRESET (the server hung up), or -errno.
 */
int tc_recv(struct tc *c, struct vfio_user_msg *rep, int timeout_ms);

/**
 * tc_call() - tc_send() then tc_recv() with a 5 s timeout
 * Return: as tc_recv().
 */
int tc_call(struct tc *c, const struct vfio_user_msg *m,
	    struct vfio_user_msg *rep);

/** tc_next_id() - A fresh msg_id. */
uint16_t tc_next_id(struct tc *c);

/**
 * tc_version() - Negotiate with @json (NULL: none); takes the twin socket
 * if the server set one up. Return: 0 or -errno.
 */
int tc_version(struct tc *c, const char *json);

/** tc_errno() - The errno of an error reply, 0 for a success reply. */
int tc_errno(const struct vfio_user_msg *rep);

/* Helpers for common commands; each returns 0, the reply's errno as
 * a positive value, or -errno if no reply came. */
int tc_dma_map(struct tc *c, uint32_t flags, uint64_t offset, uint64_t addr,
	       uint64_t size, int fd);
int tc_dma_unmap(struct tc *c, uint64_t addr, uint64_t size);
int tc_region_write(struct tc *c, uint32_t region, uint64_t offset,
		    const void *data, uint32_t count);
int tc_region_read(struct tc *c, uint32_t region, uint64_t offset, void *data,
		   uint32_t count);
int tc_set_irqs(struct tc *c, uint32_t flags, uint32_t index, uint32_t start,
		uint32_t count, const uint8_t *bools, const int *fds,
		unsigned int nfds);
int tc_mig_state(struct tc *c, uint32_t state);
int tc_get_mig_state(struct tc *c, uint32_t *state);
int tc_reg32(struct tc *c, uint32_t reg, uint32_t *val);
int tc_set_reg32(struct tc *c, uint32_t reg, uint32_t val);
int tc_set_reg64(struct tc *c, uint32_t reg, uint64_t val);

/**
 * tc_copy() - Program the device's DMA engine and start it
 * Return: as the helpers; *@result gets DMA_RESULT.
 */
int tc_copy(struct tc *c, uint64_t src, uint64_t dst, uint32_t len,
	    uint32_t *result);

/** tc_eventfd_count() - Read (and reset) an eventfd's counter; 0 if it
 * was not signalled. */
uint64_t tc_eventfd_count(int efd);

#endif /* VUC_TESTS_REFVFIO_TCLIENT_H */
