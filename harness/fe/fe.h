/* SPDX-License-Identifier: MIT */
/*
 * fe.h - a vhost-user front-end session: what a real front-end does, step
 * by step or in one call, correctly by default and wrongly on request.
 *
 * A session owns one connected socket to a back-end, guest memory (the ring
 * engine's struct gmem), the driver side of each queue with its kick, call
 * and err eventfds, the back-end channel it handed over with
 * VHOST_USER_SET_BACKEND_REQ_FD, and a trace hook that sees every message
 * both ways (fe_trace.h).
 *
 * Every step takes an optional struct fe_bend: NULL is the correct message;
 * a bend overrides header fields, patches the payload, replaces fds, cuts
 * the message into chunks, or changes whether a reply is awaited. Skipping,
 * repeating or reordering steps is up to the caller; fe_send_raw() and
 * fe_recv() say anything at all.
 *
 * Replies are judged with vhost_user_check_reply(). Whatever the back-end
 * does (oversized sizes, bogus fds, a reply to nothing, a wrong code, a
 * hang-up mid-reply, a flood on its own channel) becomes a -errno and a
 * reason in fe_error(), never a crash or a wait past the session deadline.
 * After a hang-up or once the stream is out of step, every step returns the
 * same error at once (the session is "dead").
 *
 * Spec: vhost-user.rst, "Communication", "Ring states", "REPLY_ACK",
 * "Migrating back-end state", "Inflight I/O tracking", "Migration" (dirty
 * log), "Back-end communication".
 */
#ifndef VUC_FE_FE_H
#define VUC_FE_FE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fe/fe_trace.h"
#include "ring/gmem.h"
#include "ring/packed.h"
#include "ring/split.h"
#include "wire/vhost_user.h"

/* Queues a session drives (vring indices 0 .. FE_MAX_QUEUES - 1). */
#define FE_MAX_QUEUES 16
/* Back-end requests remembered (the newest ones). */
#define FE_BACKEND_LOG 32
/* Back-end requests served by one fe_backend_poll() at most (a flood). */
#define FE_BACKEND_BURST 64
/* Largest message fe_send_raw() and a bent step send (header included). */
#define FE_SEND_MAX (1u << 20)
/* Device state the session reads or writes at most. */
#define FE_STATE_MAX (16u << 20)
/* fds a session keeps alive for the zoo (the other ends of pipes) */
#define FE_ZOO_KEEP 32

/* Default deadline of a step. */
#define FE_TIMEOUT_MS 2000

enum fe_layout {
	FE_SPLIT,
	FE_PACKED,
};

/* Whether a step waits for a reply. */
enum fe_reply_mode {
	FE_REPLY_AUTO = 0, /* as the spec says for what was sent */
	FE_REPLY_NONE,	   /* never wait (no_reply_wait) */
	FE_REPLY_WAIT,	   /* wait even if none is due */
};

/*
 * How to bend one step. Zero-initialise and set what you want: a zeroed
 * bend (or NULL) sends the correct message.
 */
struct fe_bend {
	/* Header overrides, applied after the correct message is built
	 * (need_reply included). */
	bool set_request;
	uint32_t request;
	bool set_flags;
	uint32_t flags;
	bool set_size;
	uint32_t size; /* what the header says */
	/* Payload bytes sent after the header: by default the (final)
	 * header size, zero-filled past what was built. Set to say a size
	 * and send another number of bytes. */
	bool set_payload_len;
	size_t payload_len;
	/* Write @patch_len bytes of @patch at payload offset @patch_at
	 * (before the payload is cut to its length; the payload grows when
	 * the patch runs past it and the header size is not overridden). */
	const void *patch;
	size_t patch_len;
	size_t patch_at;

	/* fds: replace the whole list (@set_fds: @fds[0..@nfds), which
	 * the caller keeps owning), or replace one or all with a new fd of
	 * a zoo kind (@zoo_kind > 0, an enum fdzoo_kind; @zoo_index -1: every
	 * fd; @zoo_size: memfd / file size, 0 for the replaced region's). */
	bool set_fds;
	const int *fds;
	unsigned int nfds;
	int zoo_kind;
	int zoo_index;
	size_t zoo_size;

	/* Chunks: cut the message at @cuts[0..@ncuts) (increasing byte
	 * offsets inside it), the fds ride on chunk @fds_chunk (0: the
	 * first), @delay_ms between chunks. */
	const size_t *cuts;
	unsigned int ncuts;
	unsigned int fds_chunk;
	int delay_ms;

	enum fe_reply_mode reply;
	int timeout_ms; /* 0: the session's */
};

/* What the session does when the back-end asks on its channel. */
enum fe_backend_policy {
	FE_BACKEND_ACK = 0,	  /* answer as the spec says, ack 0 */
	FE_BACKEND_ACK_ERROR,	  /* answer, with backend_ack_value (!= 0) */
	FE_BACKEND_SILENT,	  /* never answer */
	FE_BACKEND_MALFORMED,	  /* answer with a 4-byte payload */
	FE_BACKEND_WRONG_CODE,	  /* answer with another request code */
	FE_BACKEND_NO_REPLY_FLAG, /* answer without the reply flag */
	FE_BACKEND_ALWAYS_ANSWER, /* ack 0 even when no reply was asked */
};

/* One request the back-end made on its channel. */
struct fe_backend_entry {
	uint64_t seq; /* 0, 1, 2, ... in arrival order */
	struct vhost_user_hdr hdr;
	uint8_t payload[48]; /* its first bytes */
	uint32_t payload_len;
	unsigned int nfds; /* fds that came (closed by the session) */
	int check;	   /* vhost_user_check_request(): 0, > 0 warnings,
			      -errno */
	char why[160];	   /* the check's reason, or "" */
	char text[256];	   /* decoded */
	char fds_text[160];
	bool answered;
	uint64_t answer; /* the u64 sent back */
};

struct fe_queue {
	bool ready; /* laid out in guest memory */
	enum fe_layout layout;
	unsigned int num;
	struct vq_split_drv split;
	struct vq_packed_drv packed;
	int kick_fd, call_fd, err_fd; /* our ends: eventfds, or -1 */
	bool started;		      /* kick fd set and not stopped since */
	bool enabled;
	uint32_t base; /* the last GET_VRING_BASE answer */
};

struct fe {
	int fd; /* the connection, owned */
	struct gmem *mem;
	bool own_mem;
	int timeout_ms;
	struct fe_trace_hook trace;

	/* Negotiation (0 until done). */
	uint64_t features_offered, features; /* features: as SET_FEATURES */
	uint64_t proto_offered, proto;	     /* proto: as SET_PROTOCOL_... */
	bool proto_set;			     /* SET_PROTOCOL_FEATURES sent */
	bool reply_ack;			     /* use need_reply when we can
						(default true) */
	uint64_t queue_num;		     /* GET_QUEUE_NUM answer */
	uint64_t max_mem_slots;		     /* GET_MAX_MEM_SLOTS answer */

	struct fe_queue q[FE_MAX_QUEUES];

	/* The back-end channel: our end of the socketpair. */
	int backend_fd;
	enum fe_backend_policy backend_policy;
	uint64_t backend_ack_value;
	unsigned int backend_burst; /* most per fe_backend_poll() */
	struct fe_backend_entry backend_log[FE_BACKEND_LOG];
	uint64_t backend_count; /* requests seen in all */

	/* Dirty log (SET_LOG_BASE) */
	int log_fd;
	uint8_t *log;
	uint64_t log_size;

	/* Inflight area (GET_INFLIGHT_FD reply) */
	int inflight_fd;
	struct vhost_user_inflight inflight;
	void *inflight_map;

	/* Device state transfer: our end of the channel, and the data */
	int state_fd;
	uint32_t state_direction;
	uint8_t *state_buf;
	size_t state_len;

	int zoo_keep[FE_ZOO_KEEP];

	int dead; /* 0, or the error every step now returns */
	char err[512];
};

/* ---- Session -------------------------------------------------------- */

/**
 * fe_init() - Start a session on connected socket @fd
 * @mem:	guest memory the session lays rings in and describes in
 *		SET_MEM_TABLE (borrowed; must outlive the session), or NULL
 *		for an empty one owned by the session (fe->mem)
 *
 * fds: the session owns @fd from here on, also on failure.
 * Return: 0 or -ENOMEM.
 */
int fe_init(struct fe *fe, int fd, struct gmem *mem);

/**
 * fe_connect() - fe_init() on a connection to the socket at @path
 *
 * Return: 0, or sock_connect()'s / fe_init()'s errors.
 */
int fe_connect(struct fe *fe, const char *path, int timeout_ms,
	       struct gmem *mem);

/** fe_fini() - Close every fd, unmap, free; @fe may be initialised again. */
void fe_fini(struct fe *fe);

/** fe_error() - Why the last failing call failed ("" if none did). */
const char *fe_error(const struct fe *fe);

/* ---- Generic requests ------------------------------------------------ */

/**
 * fe_request() - Send @req (bent by @b), and receive and judge its reply
 * @req:	a built message; need_reply is set here when REPLY_ACK is
 *		negotiated and fe->reply_ack, for requests answered only on
 *		need_reply (unless @b sets the flags)
 * @reply:	out: the reply (may be NULL); its fds belong to the caller
 *		on success (none on error)
 *
 * While waiting, back-end requests on the back-end channel are served
 * (a back-end may need an answer there before it replies here). A message
 * waiting on the socket before the send is a reply to nothing: it is read,
 * traced and reported (-EPROTO) without sending.
 *
 * fds: @req->fds stay the caller's.
 * Return: the reply's payload size (>= 0; 0 also when no reply was
 * awaited), or -EPROTO (reply code differs, unsolicited message, ack
 * non-zero), -EBADMSG (the reply breaks a rule), -EMSGSIZE (reply too big:
 * the session is dead), -ECONNRESET (hang-up: dead), -ETIMEDOUT, -EINVAL.
 */
int fe_request(struct fe *fe, struct vhost_user_msg *req,
	       const struct fe_bend *b, struct vhost_user_msg *reply);

/**
 * fe_send_raw() - Send @len bytes as they are, with @fds on chunk
 *		   @b->fds_chunk (only the chunk fields and timeout of @b
 *		   count), and wait for nothing
 *
 * fds: the caller keeps @fds.
 * Return: bytes sent, or chan_send()'s errors.
 */
int fe_send_raw(struct fe *fe, const void *buf, size_t len, const int *fds,
		unsigned int nfds, const struct fe_bend *b);

/**
 * fe_recv() - Receive one message from the back-end on the main socket
 *
 * fds: on success @m owns what came (caller closes).
 * Return: 12 + payload, or frame_vhost_recv()'s errors (the session is
 * dead after -ECONNRESET, an oversized header or a partial message).
 */
int fe_recv(struct fe *fe, struct vhost_user_msg *m, int timeout_ms);

/**
 * fe_expect_quiet() - Check that the back-end says nothing for @timeout_ms
 *
 * Return: 0 if nothing came, -EPROTO if a message came (read, traced,
 * fds closed), -ECONNRESET on a hang-up.
 */
int fe_expect_quiet(struct fe *fe, int timeout_ms);

/* ---- Steps ------------------------------------------------------------ */
/* Each: Return: >= 0 or -errno as fe_request(); @b may be NULL. */

int fe_get_features(struct fe *fe, uint64_t *features, const struct fe_bend *b);
/* Also records @features as fe->features. */
int fe_set_features(struct fe *fe, uint64_t features, const struct fe_bend *b);
int fe_get_protocol_features(struct fe *fe, uint64_t *proto,
			     const struct fe_bend *b);
/* Also records @proto as fe->proto (REPLY_ACK is used from now on). */
int fe_set_protocol_features(struct fe *fe, uint64_t proto,
			     const struct fe_bend *b);
int fe_set_owner(struct fe *fe, const struct fe_bend *b);
int fe_reset_owner(struct fe *fe, const struct fe_bend *b);
int fe_get_queue_num(struct fe *fe, uint64_t *n, const struct fe_bend *b);
int fe_get_max_mem_slots(struct fe *fe, uint64_t *n, const struct fe_bend *b);

/* Every region of fe->mem (at most 8), with its fd. */
int fe_set_mem_table(struct fe *fe, const struct fe_bend *b);
/* Region @idx of fe->mem: ADD_MEM_REG with its fd, REM_MEM_REG without. */
int fe_add_mem_reg(struct fe *fe, unsigned int idx, const struct fe_bend *b);
int fe_rem_mem_reg(struct fe *fe, unsigned int idx, const struct fe_bend *b);

int fe_set_vring_num(struct fe *fe, unsigned int idx, unsigned int num,
		     const struct fe_bend *b);
/* The addresses of queue @idx as laid out (fe_queue_setup()), as front-end
 * virtual addresses; @log: set VHOST_VRING_F_LOG with the used ring's
 * guest address as log_guest_addr. */
int fe_set_vring_addr(struct fe *fe, unsigned int idx, bool log,
		      const struct fe_bend *b);
int fe_set_vring_base(struct fe *fe, unsigned int idx, uint32_t base,
		      const struct fe_bend *b);
/* Stops the ring; *@base (may be NULL) and q->base get the answer. */
int fe_get_vring_base(struct fe *fe, unsigned int idx, uint32_t *base,
		      const struct fe_bend *b);
/* Send the queue's own eventfd (made on first use); @nofd: the NOFD bit
 * and no fd (polling). */
int fe_set_vring_kick(struct fe *fe, unsigned int idx, bool nofd,
		      const struct fe_bend *b);
int fe_set_vring_call(struct fe *fe, unsigned int idx, bool nofd,
		      const struct fe_bend *b);
int fe_set_vring_err(struct fe *fe, unsigned int idx, bool nofd,
		     const struct fe_bend *b);
int fe_set_vring_enable(struct fe *fe, unsigned int idx, bool enable,
			const struct fe_bend *b);

/* @buf gets the config bytes (@size <= 256). */
int fe_get_config(struct fe *fe, uint32_t offset, uint32_t size, uint32_t flags,
		  void *buf, const struct fe_bend *b);
int fe_set_config(struct fe *fe, uint32_t offset, uint32_t size, uint32_t flags,
		  const void *data, const struct fe_bend *b);

/**
 * fe_set_log_base() - SET_LOG_BASE with a new memfd log of @size bytes
 *		       (0: enough for every guest address of fe->mem)
 *
 * The log is mapped here (fe->log, fe->log_size); fe_log_dirty() reads it.
 * Return: as fe_request().
 */
int fe_set_log_base(struct fe *fe, uint64_t size, const struct fe_bend *b);
/* SET_LOG_FD with a new eventfd (kept by the session). */
int fe_set_log_fd(struct fe *fe, const struct fe_bend *b);
/**
 * fe_log_dirty() - Is the page of guest address @gpa marked in the log?
 * Return: 1, 0, or -EINVAL (no log, or @gpa past it).
 */
int fe_log_dirty(const struct fe *fe, uint64_t gpa);
/** fe_log_clear() - Clear the whole log. */
void fe_log_clear(struct fe *fe);

/**
 * fe_get_inflight_fd() - GET_INFLIGHT_FD for @num_queues of @queue_size
 *
 * The area (fe->inflight_fd, fe->inflight) is kept and mapped after its
 * size was checked against the file (a lying size is an error, not a
 * SIGBUS).
 */
int fe_get_inflight_fd(struct fe *fe, uint16_t num_queues, uint16_t queue_size,
		       const struct fe_bend *b);
/* SET_INFLIGHT_FD with the area fe_get_inflight_fd() got. */
int fe_set_inflight_fd(struct fe *fe, const struct fe_bend *b);

int fe_set_status(struct fe *fe, uint8_t status, const struct fe_bend *b);
int fe_get_status(struct fe *fe, uint8_t *status, const struct fe_bend *b);
int fe_reset_device(struct fe *fe, const struct fe_bend *b);

/**
 * fe_set_backend_req_fd() - Make the back-end channel and hand one end over
 *
 * Closes any earlier channel. The session keeps the other end
 * (fe->backend_fd) and serves it in fe_backend_poll() and while waiting.
 */
int fe_set_backend_req_fd(struct fe *fe, const struct fe_bend *b);

/**
 * fe_set_device_state_fd() - Open the state transfer channel (a pipe)
 * @direction:	VHOST_USER_TRANSFER_STATE_DIRECTION_SAVE (the back-end
 *		writes, we read) or _LOAD (we write)
 *
 * Sends the back-end its pipe end; keeps ours (or the back-end's own fd
 * if the reply brings one: the spec says the front-end must then use
 * it). A status (bits 0-7) that is not 0 is -EPROTO.
 */
int fe_set_device_state_fd(struct fe *fe, uint32_t direction, uint32_t phase,
			   const struct fe_bend *b);
/**
 * fe_transfer_device_state() - Move the state through the channel
 *
 * SAVE: read to EOF into fe->state_buf / state_len (at most
 * FE_STATE_MAX). LOAD: write @data (@len bytes), then close our end.
 * Either way our end is closed afterwards.
 * Return: bytes moved, -EFBIG (more than FE_STATE_MAX), -ETIMEDOUT, -EPIPE,
 * -EBADF (no channel open).
 */
int fe_transfer_device_state(struct fe *fe, const void *data, size_t len,
			     int timeout_ms);
/* CHECK_DEVICE_STATE; a non-zero answer is -EPROTO (*@result has it). */
int fe_check_device_state(struct fe *fe, uint64_t *result,
			  const struct fe_bend *b);

/* ---- Composites ------------------------------------------------------- */

/**
 * fe_negotiate() - The handshake a front-end opens a session with
 * @features:	virtio features wanted (AND with the offer)
 * @proto:	protocol features wanted (AND with the offer)
 *
 * SET_OWNER, GET_FEATURES, and if VHOST_USER_F_PROTOCOL_FEATURES is
 * offered GET_PROTOCOL_FEATURES and SET_PROTOCOL_FEATURES, GET_QUEUE_NUM
 * (MQ), GET_MAX_MEM_SLOTS (CONFIGURE_MEM_SLOTS), SET_BACKEND_REQ_FD
 * (BACKEND_REQ); then SET_FEATURES (with bit 30 when protocol features are
 * in use).
 * Return: 0 or the first failing step's error.
 */
int fe_negotiate(struct fe *fe, uint64_t features, uint64_t proto);

/**
 * fe_queue_setup() - Lay queue @idx out in fe->mem (no message)
 * Return: 0, -EINVAL, -ENOMEM (add a region to fe->mem first).
 */
int fe_queue_setup(struct fe *fe, unsigned int idx, unsigned int num,
		   enum fe_layout layout);

/**
 * fe_start_queue() - fe_queue_setup() if needed, then SET_VRING_NUM,
 *		      SET_VRING_BASE 0, SET_VRING_ADDR, SET_VRING_CALL,
 *		      SET_VRING_KICK, and SET_VRING_ENABLE 1 when protocol
 *		      features are in use
 */
int fe_start_queue(struct fe *fe, unsigned int idx, unsigned int num,
		   enum fe_layout layout);

/* fe_get_vring_base(): the ring stops; *@base (may be NULL) the answer. */
int fe_stop_queue(struct fe *fe, unsigned int idx, uint32_t *base);

/**
 * fe_queue_add() - Add a chain to queue @idx and publish it (no kick)
 * Return: the head / buffer id, or the ring engine's -errno.
 */
int fe_queue_add(struct fe *fe, unsigned int idx, const struct vq_buf *bufs,
		 unsigned int n, uint64_t token);

/** fe_kick() - Write the kick eventfd (or send VHOST_USER_VRING_KICK in
 * band when the queue has no kick fd). Return: 0 or -errno. */
int fe_kick(struct fe *fe, unsigned int idx);

/**
 * fe_wait_call() - Wait until the call eventfd of queue @idx fires (or the
 *		    back-end sends BACKEND_VRING_CALL for it)
 *
 * Serves the back-end channel meanwhile.
 * Return: 0, -ETIMEDOUT, -EBADF (no call fd), -ECONNRESET.
 */
int fe_wait_call(struct fe *fe, unsigned int idx, int timeout_ms);

/**
 * fe_queue_reap() - Take the next used entry of queue @idx
 * Return: as vq_split_drv_reap() / vq_packed_drv_reap() (1 with one, 0
 * none); the reason is in fe_error() on error.
 */
int fe_queue_reap(struct fe *fe, unsigned int idx, uint64_t *token,
		  uint32_t *len);

/* ---- Back-end channel ------------------------------------------------- */

/**
 * fe_backend_poll() - Serve the back-end's requests
 * @timeout_ms:	how long to wait for the first one (0: only what is
 *		pending)
 *
 * Reads, records (fe->backend_log), judges and answers (per
 * fe->backend_policy) at most fe->backend_burst requests: a flood cannot
 * keep the caller here. fds that came are described, then closed.
 *
 * Return: requests served (>= 0), -ENOTCONN (no channel), -ECONNRESET
 * (the back-end closed it: the channel is closed here too), -EMSGSIZE (an
 * oversized request: the channel is out of step and closed).
 */
int fe_backend_poll(struct fe *fe, int timeout_ms);

/**
 * fe_backend_entry() - Back-end request number @seq (0 = first ever)
 * Return: the entry, or NULL if never seen or no longer remembered.
 */
const struct fe_backend_entry *fe_backend_entry(const struct fe *fe,
						uint64_t seq);

/* ---- Internal: shared by fe.c and fe_backend.c only ------------------- */

/* Set fe->err from @fmt, note it in the trace, return @err. */
int fe_fail(struct fe *fe, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Trace one message on @chan (@vdir: whose request it is, for decoding;
 * @cuts as in struct fe_trace_event). */
void fe_trace_msg(struct fe *fe, enum fe_trace_dir dir, enum fe_trace_chan chan,
		  enum vhost_user_dir vdir, const struct vhost_user_msg *m,
		  const size_t *cuts, unsigned int ncuts,
		  unsigned int fds_chunk);

/* Close the back-end channel (it hung up or went out of step). */
void fe_backend_close(struct fe *fe, const char *why);

#endif /* VUC_FE_FE_H */
