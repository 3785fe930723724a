/* SPDX-License-Identifier: MIT */
/*
 * backend.h - the reference vhost-user back-end as a library: one session
 * with one front-end, its message dispatch, its poll loop.
 *
 * Every request is first judged against the wire layer's rule table
 * (vhost_user_check_request(): size, fds, version, gating features), then
 * by its handler (indices, ranges, state). A refused request is answered
 * with a non-zero u64 when REPLY_ACK was asked for, or with the failure
 * its own reply body can say (GET_CONFIG: size 0; SET_DEVICE_STATE_FD:
 * error bits; CHECK_DEVICE_STATE: non-zero); otherwise the connection is
 * closed. One line on stderr says why.
 *
 * Guest memory may shrink under us (a memfd without F_SEAL_SHRINK): every
 * access to it runs under a SIGBUS guard (sigsetjmp); a fault breaks the
 * ring it happened on, never the process.
 *
 * Single-threaded: the caller drives everything with backend_poll_once().
 */
#ifndef VUC_VHOST_BACKEND_H
#define VUC_VHOST_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ring/gmem.h"
#include "vring.h"
#include "wire/vhost_user.h"

enum backend_device {
	BACKEND_DEV_NET, /* loopback: TX frames come back on RX */
	BACKEND_DEV_BLK, /* RAM disk */
};

struct backend_conf {
	enum backend_device device;
	/* net: queue pairs (2 vrings each); blk: request queues */
	unsigned int queues;
	uint64_t blk_size; /* bytes, a multiple of 512 */
	bool verbose;	   /* log every request, not only refusals */
	/*
	 * > 0: no wait for the peer lasts longer than this (ms): the rest of
	 * a message, a reply's send, an ack on the back-end channel,
	 * CHECK_DEVICE_STATE finishing a transfer. In-process fuzzing sets it:
	 * the front-end runs on the same thread, so whatever it sent is
	 * there already and a wait can only stall. 0: the limits below.
	 */
	unsigned int wait_max_ms;
};

/* Limits. */
#define BACKEND_MAX_QUEUES 64	      /* vrings; an 8-bit index must fit */
#define BACKEND_MAX_MEM_SLOTS 509     /* GET_MAX_MEM_SLOTS, as QEMU's */
#define BACKEND_CONFIG_SIZE 256	      /* config space bytes we keep */
#define BACKEND_MSG_TIMEOUT_MS 2000   /* rest of a message, once started */
#define BACKEND_REPLY_TIMEOUT_MS 1000 /* front-end's answer on the channel */

/* Seeded-bug reservation: vrings up to this index are PROT_NONE past the
 * real ones, so an unchecked index faults at once (see bugs.h). */
#define BACKEND_VRING_RESERVE 65536

struct dev_ops;
struct req;

/*
 * Replies taken by backend_dispatch() instead of sent on the connection
 * (each one packed and parsed again, as the front-end would read it).
 */
struct backend_capture {
	struct vhost_user_msg *reps; /* room for @cap; fds: the caller's */
	unsigned int cap;
	unsigned int n;	 /* replies made, possibly more than @cap */
	int err;	 /* first reply that is not a message: -errno */
	const char *why; /* ... and why */
};

/* Device-state transfer in progress (SET_DEVICE_STATE_FD). */
struct backend_xfer {
	int fd;	      /* -1: none */
	bool load;    /* direction: true LOAD, false SAVE */
	bool done;    /* finished (EOF read / everything written) */
	int error;    /* first error (-errno), 0 if none */
	uint8_t *buf; /* SAVE: the blob; LOAD: what came so far */
	size_t len, cap;
	size_t off;   /* SAVE: bytes written */
	bool checked; /* a transfer happened since the last CHECK */
};

struct backend {
	struct backend_conf conf;
	const struct dev_ops *dev;
	void *dev_priv;

	int conn;    /* the vhost-user socket; -1 once closed */
	int wake_fd; /* optional: readable means "stop polling" (-1) */
	bool closed; /* the session is over (peer left or violation) */

	/* negotiation */
	uint64_t features_offered;
	uint64_t features; /* acked with SET_FEATURES */
	bool features_set;
	uint64_t proto_offered;
	uint64_t proto; /* acked with SET_PROTOCOL_FEATURES */
	bool owner;
	uint8_t status; /* SET_STATUS */

	struct gmem *mem;
	unsigned int nvrings;
	struct vring *vq; /* nvrings entries, then a PROT_NONE reserve */
	size_t vq_map_len;
	struct vq_buf *bufs; /* scratch: one chain, VQ_MAX_SIZE buffers */
	bool used_any;	     /* processing pushed something (tests) */

	int backend_fd; /* SET_BACKEND_REQ_FD channel, -1: none */
	bool config_change_pending;

	/* dirty log (SET_LOG_BASE) */
	uint8_t *log;
	uint64_t log_size;
	void *log_map;
	size_t log_map_len;
	int log_fd; /* SET_LOG_FD */

	/* inflight buffer (GET / SET_INFLIGHT_FD) */
	uint8_t *inflight;
	size_t inflight_len, inflight_delta; /* mapping: inflight - delta */
	uint16_t inflight_nq, inflight_qs;
	size_t inflight_per_q;

	uint8_t config[BACKEND_CONFIG_SIZE];
	uint32_t config_len; /* the device's config space size */

	struct backend_xfer xfer;

	struct backend_capture *capture; /* backend_dispatch() only */

	/* Made once, reused for every message (no allocation per message:
	 * under ASan each would be fresh pages, zeroed and faulted in). */
	struct req *req;	   /* backend_handle()'s request state */
	struct vhost_user_msg *rx; /* the message being received */
	struct gmem *mem_spare;	   /* SET_MEM_TABLE builds the new table
				      * here, then swaps it with @mem */
};

/* What a device implements (dev_net.c, dev_blk.c). */
struct dev_ops {
	const char *name;  /* "net", "blk": --print-capabilities "type" */
	uint64_t features; /* device feature bits offered */
	/* config space defaults; return its size */
	uint32_t (*config_init)(struct backend *be);
	int (*init)(struct backend *be);  /* once, in backend_new() */
	void (*fini)(struct backend *be); /* once, in backend_free() */
	/* back to the initial state; @wipe: the media too (a new session,
	 * not RESET_DEVICE) */
	void (*reset)(struct backend *be, bool wipe);
	/* run the device on a started ring (runs guarded; rings it pushes
	 * to are notified afterwards) */
	void (*process)(struct backend *be, struct vring *vq);
	/* writable config bytes for SET_CONFIG without the live migration
	 * flag: return whether [off, off + len) is writable */
	bool (*config_writable)(uint32_t off, uint32_t len);
	/* a config change (SIGUSR1 in the program) */
	void (*config_change)(struct backend *be);
	/* device state beyond config: append to / take from a blob */
	int (*state_save)(struct backend *be, uint8_t **buf, size_t *len,
			  size_t *cap);
	int (*state_load)(struct backend *be, const uint8_t *p, size_t len);
};

extern const struct dev_ops dev_net_ops;
extern const struct dev_ops dev_blk_ops;

/**
 * backend_new() - A back-end with no connection yet
 * Return: 0 and *@out, -EINVAL (bad @conf), -ENOMEM.
 */
int backend_new(struct backend **out, const struct backend_conf *conf);

/**
 * backend_attach() - Start a session on connected socket @fd
 *
 * fds: @fd is taken (closed by backend_detach() / backend_free()).
 * Every session starts from the initial state.
 */
void backend_attach(struct backend *be, int fd);

/**
 * backend_detach() - End the session: close the connection and every fd
 * the session holds, unmap guest memory, forget negotiation.
 */
void backend_detach(struct backend *be);

/**
 * backend_release() - backend_detach(), except that the connection is
 * handed back instead of closed (a caller that runs session after session
 * on one socketpair, and knows nothing is left in it)
 *
 * fds: the returned connection is the caller's.
 * Return: the connection, or -1 if the session had none (it ended: the
 * peer left or a violation closed it).
 */
int backend_release(struct backend *be);

/** backend_free() - backend_detach() and release everything. */
void backend_free(struct backend *be);

/**
 * backend_handle() - Judge and execute one request from the front-end,
 * and send its reply on the connection
 * @m:		the request; fds: all of m->fds are taken (kept by the
 *		session or closed), and m->nfds is 0 afterwards
 *
 * Return: 0 to go on, or < 0 when the session must end (a violation that
 * could not be answered, the connection lost): backend->closed is set.
 */
int backend_handle(struct backend *be, struct vhost_user_msg *m);

/**
 * backend_dispatch() - backend_handle() without the socket: judge and
 * execute @m, and put the replies into @cap instead of the connection;
 * then run the rings and the pending config change as backend_poll_once()
 * does after a message
 * @m:		the request; fds: all of m->fds are taken (kept by the
 *		session or closed), and m->nfds is 0 afterwards
 * @cap:	cap->n and cap->err are set here; fds of the replies kept in
 *		cap->reps are the caller's (duplicates) and must be closed
 *
 * For in-process fuzzing: the receive path (framing, MSG_CTRUNC) is not
 * exercised. A hang-up still closes the connection.
 * Return: as backend_handle().
 */
int backend_dispatch(struct backend *be, struct vhost_user_msg *m,
		     struct backend_capture *cap);

/**
 * backend_poll_once() - Wait until @deadline for one event (a message, a
 * kick, the device-state fd, the back-end channel) and handle it
 * @deadline:	absolute CLOCK_MONOTONIC ns (chan_deadline())
 *
 * Return: 1 if something was handled, 0 on timeout, -ECONNRESET when the
 * session ended (backend->closed), -EINTR when wake_fd became readable.
 */
int backend_poll_once(struct backend *be, int64_t deadline);

/**
 * backend_config_change() - The device's config changed: tell the
 * front-end with VHOST_USER_BACKEND_CONFIG_CHANGE_MSG when it can hear it
 * (BACKEND_REQ and CONFIG negotiated, channel set, device not suspended;
 * otherwise the message waits until it can be sent).
 */
void backend_config_change(struct backend *be);

/** backend_suspended() - Return: whether every vring is stopped. */
bool backend_suspended(const struct backend *be);

/**
 * backend_wait_ms() - The bound for a wait for the peer of @ms
 * Return: @ms, or conf.wait_max_ms if that is set and shorter.
 */
int backend_wait_ms(const struct backend *be, int ms);

/**
 * backend_log() - One line on stderr, "vuc-ref-vhost: ..."
 */
void backend_log(const struct backend *be, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/**
 * backend_guarded() - Run @fn(@be, @arg) with the SIGBUS guard armed
 * Return: @fn's return, or -EFAULT if guest memory faulted under it.
 */
int backend_guarded(struct backend *be, int (*fn)(struct backend *, void *),
		    void *arg);

/**
 * backend_log_write() - Mark [@gpa, @gpa + @len) dirty in the log when
 * VHOST_F_LOG_ALL is negotiated and a log is set (pages outside the log
 * are refused and reported, never written).
 */
void backend_log_write(struct backend *be, uint64_t gpa, uint64_t len);

/**
 * backend_send_backend_req() - Send a back-end request on the channel;
 * wait (bounded) for the ack when REPLY_ACK is negotiated
 * Return: 0, -ENOTCONN (no channel), or the send / receive error.
 */
int backend_send_backend_req(struct backend *be, struct vhost_user_msg *m);

/* ---- device state (state.c) -------------------------------------------- */

/**
 * state_save_blob() - Serialise the device state
 * Return: 0 with a malloc'd *@buf of *@len bytes, or -ENOMEM.
 */
int state_save_blob(struct backend *be, uint8_t **buf, size_t *len);

/**
 * state_load_blob() - Deserialise and apply the device state
 * Return: 0, or -EBADMSG with @why (magic, version, device, size, sum).
 */
int state_load_blob(struct backend *be, const uint8_t *buf, size_t len,
		    const char **why);

/**
 * state_xfer_start() - Begin a transfer on @fd (SET_DEVICE_STATE_FD)
 * fds: @fd is taken.
 * Return: 0, or -EPROTO (device not suspended) / -ENOMEM; @fd is closed
 * on error.
 */
int state_xfer_start(struct backend *be, int fd, bool load);

/**
 * state_xfer_step() - Move what can move now without blocking
 * Return: 1 if the transfer finished (or failed) now, 0 otherwise.
 */
int state_xfer_step(struct backend *be);

/**
 * state_xfer_check() - CHECK_DEVICE_STATE: finish the transfer (bounded
 * wait) and report
 * Return: 0 if it succeeded, else a non-zero status to answer with.
 */
uint64_t state_xfer_check(struct backend *be);

/** state_xfer_abort() - Drop a transfer in progress. */
void state_xfer_abort(struct backend *be);

#endif /* VUC_VHOST_BACKEND_H */
