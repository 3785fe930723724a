/* SPDX-License-Identifier: MIT */
/*
 * fake_server.h - a small vfio-user server in a thread, for the client's
 * tests: a correct tiny PCI device by default, and misbehaving on purpose
 * in the modes below (wrong ids, replies to nothing, oversized sizes,
 * bogus fds, hang-ups mid-reply, floods of DMA requests, silence).
 *
 * Device: 9 regions (BAR0: 4 KiB of RAM, mmappable with a sparse-mmap
 * capability and a memfd; config space: 256 bytes), 5 IRQ indexes
 * (INTx 1, MSI 1, MSI-X 8, ERR 1, REQ 1), migration and dirty logging.
 * A REGION_WRITE of a struct fake_doorbell at BAR0 offset
 * FAKE_DOORBELL makes the server DMA (on the twin socket when there is
 * one) before it replies.
 */
#ifndef VUC_TESTS_CLIENT_FAKE_SERVER_H
#define VUC_TESTS_CLIENT_FAKE_SERVER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "transport/fdzoo.h"
#include "wire/vfio_user.h"

enum fake_mode {
	FAKE_OK,
	FAKE_RAW,	      /* records reads only, never answers */
	FAKE_WRONG_ID,	      /* replies with another msg_id */
	FAKE_STRAY,	      /* a reply to nothing before each reply */
	FAKE_OVERSIZE,	      /* a reply header announcing 256 MiB */
	FAKE_BOGUS_FDS,	      /* an eventfd on replies that take none */
	FAKE_HANGUP_MID,      /* half a reply, then close */
	FAKE_FLOOD,	      /* 200 DMA_READs before each reply */
	FAKE_SILENT,	      /* never replies */
	FAKE_OUT_OF_ORDER,    /* the 1st and 2nd replies swapped */
	FAKE_ERROR_PAYLOAD,   /* error replies carrying a payload */
	FAKE_SERVER_CMD,      /* sends a VERSION command to the client first */
	FAKE_TWIN_NOT_SOCKET, /* passes an eventfd as the twin socket */
};

#define FAKE_DOORBELL 0x100u
#define FAKE_DMA_WRITE 1u /* write a pattern (0xa5 + i) */
#define FAKE_DMA_READ 2u  /* read it back */

struct fake_doorbell {
	uint64_t addr;
	uint32_t count;
	uint32_t op;
};

#define FAKE_LOG_MAX 64
#define FAKE_READS_MAX 32

/* One command as the server saw it. */
struct fake_log {
	struct vfio_user_hdr hdr;
	uint8_t payload[64];
	size_t payload_len;
	unsigned int nfds;
	enum fdzoo_kind kinds[4];
};

struct fake {
	int fd;	  /* the server's end */
	int peer; /* the client's end (the test owns it after start) */
	int twin; /* the server's end of the twin socket, or -1 */
	enum fake_mode mode;
	uint64_t max_msg_fds; /* what the VERSION reply offers */
	bool twin_ok;	      /* offer the twin socket when asked */
	pthread_t th;
	pthread_mutex_t lock;
	/* what came */
	struct fake_log log[FAKE_LOG_MAX];
	unsigned int nlog;
	size_t reads[FAKE_READS_MAX]; /* FAKE_RAW: bytes per recvmsg() */
	unsigned int nreads;
	int read_with_fds; /* FAKE_RAW: index of the read with fds, or -1 */
	uint8_t raw[512];  /* FAKE_RAW: the bytes */
	size_t nraw;
	/* server DMA results */
	int dma_err;		 /* 0, the client's errno, or -ETIMEDOUT */
	bool dma_match;		 /* the data read back was the pattern */
	uint64_t dma_read_count; /* count field of the DMA_READ reply */
	size_t dma_read_data;	 /* data bytes in it */
	uint32_t client_err;	 /* FAKE_SERVER_CMD: the client's errno */
	/* device */
	uint8_t bar0[4096];
	uint8_t cfg[256];
	int bar0_fd;
	uint32_t mig_state;
	struct {
		uint64_t addr, size;
	} maps[16];
	unsigned int nmaps;
	int held; /* FAKE_OUT_OF_ORDER */
};

/** fake_start() - Start a server thread on a fresh socketpair; the client
 * end is f->peer. Return: 0 or -errno. */
int fake_start(struct fake *f, enum fake_mode mode);

/** fake_stop() - Close f->peer (if still open), join, free everything. */
void fake_stop(struct fake *f);

/** fake_log_count() - Commands seen so far (under the lock). */
unsigned int fake_log_count(struct fake *f);

/** fake_wait_raw() - FAKE_RAW: wait up to @ms until @n bytes came.
 * Return: bytes seen. */
size_t fake_wait_raw(struct fake *f, size_t n, int ms);

#endif /* VUC_TESTS_CLIENT_FAKE_SERVER_H */
