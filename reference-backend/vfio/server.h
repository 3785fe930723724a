/* SPDX-License-Identifier: MIT */
/*
 * server.h - the vfio-user server session of vuc-ref-vfio: version and
 * capability negotiation, the rule-table gate, dispatch to the device and
 * the DMA table, replies, and the server -> client DMA messages.
 *
 * The server never trusts the client: every command passes
 * vfio_user_check_command() (lenient only about what the spec calls
 * reserved) and then its handler's own checks against the device; fds that
 * are not kept are closed; a message split over several writes is
 * reassembled; an oversized message is refused without reading its body,
 * and the connection is closed since the stream is then out of step.
 *
 * In-process use (tests, the fuzz target): server_new(), server_attach()
 * to a connected socket, then server_handle() per message (or
 * server_serve() for the whole loop). Replies go out on the attached
 * socket; so do DMA_READ / DMA_WRITE, unless twin-socket mode was
 * negotiated.
 */
#ifndef VUC_REFVFIO_SERVER_H
#define VUC_REFVFIO_SERVER_H

#include <stdbool.h>
#include <stdint.h>

#include "wire/vfio_user.h"
#include "wire/vfio_user_caps.h"
#include "device.h"
#include "dma.h"

/* What the server advertises in its VERSION reply. */
#define SERVER_MAX_MSG_FDS 8u
#define SERVER_MAX_DATA_XFER VFIO_USER_DEFAULT_MAX_DATA_XFER_SIZE
/* Largest message accepted: a full data transfer plus its headers. */
#define SERVER_MAX_MSG_SIZE VFIO_USER_MSG_SIZE_FOR_XFER(SERVER_MAX_DATA_XFER)
/* How long the rest of a message may take once its first byte came, and
 * how long the client may take to answer a DMA_READ / DMA_WRITE. */
#define SERVER_MSG_TIMEOUT_MS 5000
/* Commands that may arrive while a DMA reply is awaited on the main
 * socket; they are run afterwards, in order. */
#define SERVER_QUEUE_MAX 16u
/* A client's max_msg_fds above this is refused. */
#define SERVER_CLIENT_MAX_FDS_LIMIT 1024u

struct server_opts {
	uint64_t bugs;		  /* enum bug mask */
	bool no_twin_socket;	  /* never offer twin-socket mode */
	bool reset_on_disconnect; /* full device reset when a client leaves */
};

struct server_queued {
	struct vfio_user_msg msg;
	uint8_t *buf; /* header + payload; msg.payload points into it */
};

struct server {
	struct server_opts opts;
	int conn; /* owned while attached */
	int twin; /* server end of the twin socket, or -1 */
	bool negotiated;
	bool closing; /* close the connection after this message */
	struct vfio_user_caps caps; /* the client's */
	uint64_t xfer_max;	    /* the smaller max_data_xfer_size */
	uint64_t client_max_fds;
	bool write_multiple;
	uint16_t dma_id; /* msg_id of the next DMA_READ / _WRITE */
	struct dma dma;
	struct device dev;
	/* buffers: a command and its reply; a DMA command and its reply */
	uint8_t *rx, *tx, *aux_rx, *aux_tx, *scratch;
	struct vfio_user_msg out; /* the reply being built, in tx */
	bool have_reply;
	const char *why; /* reason of the last refusal */
	struct server_queued queue[SERVER_QUEUE_MAX];
	unsigned int qhead, qlen;
	unsigned long handled; /* commands handled, for tests */
};

/**
 * server_new() - A server with its device in the reset state, unattached
 * Return: 0 with *@out set, or -errno.
 */
int server_new(struct server **out, const struct server_opts *opts);

/** server_free() - Detach if attached and free everything. */
void server_free(struct server *s);

/**
 * server_attach() - Start a session on the connected socket @conn
 *
 * fds: @conn is owned by the server until server_detach().
 */
void server_attach(struct server *s, int conn);

/**
 * server_detach() - The client left: "all client memory regions are
 * unmapped and cleaned up", its IRQ fds closed, the twin socket and @conn
 * closed, queued commands dropped. Device state is otherwise kept (unless
 * opts.reset_on_disconnect); a migration in progress is abandoned.
 */
void server_detach(struct server *s);

/**
 * server_handle() - Handle one message from the client and send its reply
 * @m:	the message (header, payload, fds)
 *
 * fds: all of @m's fds are taken: kept (a DMA region, an IRQ) or closed.
 *
 * Return: 0 to go on, or -errno when the connection must be closed (a
 * failed VERSION, a stream out of step, the client gone).
 */
int server_handle(struct server *s, struct vfio_user_msg *m);

/**
 * server_recv() - Receive the next message from the attached client
 * @m:	filled on success; payload in the server's receive buffer
 *
 * Refuses an oversized or undersized message (answering it with an error
 * where its header allows) without parsing its body.
 *
 * fds: on success @m owns the fds that came (pass it to server_handle()).
 *
 * Return: msg_size, 0 if the message was refused but the stream is still
 * in step, -ECONNRESET when the client hung up, or -errno when the
 * connection must be closed.
 */
int server_recv(struct server *s, struct vfio_user_msg *m);

/**
 * server_serve() - Attach @conn and serve it until the client leaves or
 * the connection must be closed; then detach.
 *
 * Also runs the device's ioeventfd and the commands queued while a DMA
 * reply was awaited.
 *
 * fds: takes @conn (closed on return).
 *
 * Return: 0 when the client hung up, -errno when the server closed the
 * connection.
 */
int server_serve(struct server *s, int conn);

#endif /* VUC_REFVFIO_SERVER_H */
