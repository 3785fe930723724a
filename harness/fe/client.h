/* SPDX-License-Identifier: MIT */
/*
 * client.h - the scripted vfio-user client: one session with a server.
 *
 * specs/vfio-user.rst from the client's side: VERSION and capabilities
 * (twin socket included), msg ids (reuse and pipelining: "A client may
 * pipeline multiple commands without waiting for previous command
 * replies"), DMA_MAP / DMA_UNMAP in the three access modes of seed 003
 * (message, mmap, file I/O), serving the server's DMA_READ / DMA_WRITE
 * from guest memory, regions, IO fds, IRQs, reset, DEVICE_FEATURE
 * (migration, dirty logging) and MIG_DATA.
 *
 * Every call speaks correctly by default. A struct client_bend makes it
 * lie: any header field, any payload byte, other fds (or fd-zoo kinds),
 * a message in chunks with delays, a step skipped or repeated or left
 * unanswered so that others can be sent out of order.
 *
 * "vfio-user clients should not trust servers": a reply is judged by
 * vfio_user_check_reply() against the command as it was sent; a reply to
 * nothing, a reply out of order, a size above our limit, fds where none
 * may travel, a hang-up mid-message and a flood of server requests are
 * errors of the call (with the reason in client_error() and the trace),
 * never a crash or a hang: every wait has a deadline. fds that no caller
 * asked for are closed at once.
 *
 * Everything sent and received is reported through the trace hook
 * (fe/fe_trace.h): FE_TRACE_MAIN for the main socket, FE_TRACE_BACKEND
 * for the twin socket (the server-to-client command channel).
 */
#ifndef VUC_FE_CLIENT_H
#define VUC_FE_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fe/fe_trace.h"
#include "ring/gmem.h"
#include "transport/fdzoo.h"
#include "wire/vfio_user.h"
#include "wire/vfio_user_caps.h"

/* Commands sent and not yet answered (pipelining depth). */
#define CLIENT_PENDING_MAX 256
/* DMA regions the client keeps track of. */
#define CLIENT_DMA_MAX 512
/* Chunk cuts and zoo fds a bend can ask for. */
#define CLIENT_BEND_CUTS_MAX 16
#define CLIENT_BEND_ZOO_MAX 16
/* Incoming messages are never larger than this, whatever was negotiated. */
#define CLIENT_RECV_HARD_MAX (16u * 1024 * 1024 + 4096)

/* What struct client_bend overrides (bits of @set). */
enum client_bend_set {
	CLIENT_BEND_MSG_ID = 1u << 0,
	CLIENT_BEND_COMMAND = 1u << 1,
	CLIENT_BEND_MSG_SIZE = 1u << 2, /* else 16 + payload sent */
	CLIENT_BEND_FLAGS = 1u << 3,	/* the whole flags word */
	CLIENT_BEND_ERROR = 1u << 4,
	CLIENT_BEND_PAYLOAD_LEN = 1u << 5, /* cut, or zero-extend */
	CLIENT_BEND_FDS = 1u << 6,	   /* @fds instead of the real ones */
	CLIENT_BEND_ZOO = 1u << 7,	   /* fresh fds of @zoo kinds instead */
};

/*
 * How to send one message wrongly. Zero-initialised means "correct";
 * a NULL bend pointer too. Order of application: payload length, patch,
 * header fields (msg_size last, so it can disagree with the bytes), fds,
 * chunks.
 */
struct client_bend {
	unsigned int set; /* enum client_bend_set */
	uint16_t msg_id;
	uint16_t command;
	uint32_t msg_size;
	uint32_t flags;
	uint32_t error;
	size_t payload_len;
	/* @patch_len bytes of @patch written at payload offset @patch_off
	 * (the payload grows, zero-filled, if they reach past its end) */
	size_t patch_off;
	const void *patch;
	size_t patch_len;
	/* CLIENT_BEND_FDS: sent instead (the caller keeps them) */
	const int *fds;
	unsigned int nfds;
	/* CLIENT_BEND_ZOO: made, sent, closed; memfds / files get
	 * @zoo_size bytes (0: 4096) */
	enum fdzoo_kind zoo[CLIENT_BEND_ZOO_MAX];
	unsigned int nzoo;
	size_t zoo_size;
	/* Chunks: byte offsets (increasing, inside the message) where a new
	 * sendmsg() starts, @delay_ms apart; the fds ride on chunk
	 * @fds_chunk (0: with the first byte). */
	size_t cuts[CLIENT_BEND_CUTS_MAX];
	unsigned int ncuts;
	unsigned int fds_chunk;
	int delay_ms;
	/* Steps: not sent at all; sent 1 + @repeat times (the call judges
	 * every reply and returns what the last one says); sent and not
	 * waited for (the call returns the msg_id: see client_wait()). */
	bool skip;
	unsigned int repeat;
	bool no_wait;
	int timeout_ms; /* 0: the client's */
};

/* How the client answers the server's DMA_READ / DMA_WRITE. */
enum client_serve_how {
	CLIENT_SERVE_OK = 0, /* correct: data, bounds and permissions */
	CLIENT_SERVE_ERROR,  /* an error reply with @error, whatever comes */
	CLIENT_SERVE_SHORT,  /* @short_by bytes fewer than asked: DMA_READ
				data is short (count says all), DMA_WRITE
				reply count is short */
	CLIENT_SERVE_IGNORE, /* no answer at all */
};

struct client_dma_policy {
	enum client_serve_how how;
	uint32_t error;
	uint64_t short_by;
	int delay_ms;	    /* before each answer */
	bool write_reply16; /* DMA_WRITE reply with a u64 count (16 bytes,
			       libvfio-user) instead of the spec's 12 */
	bool any_region;    /* serve fd-backed (mmap / file I/O) regions too;
			       by default only message-mode ones: "If the
			       client has not shared mappable memory" */
};

struct client_opts {
	int timeout_ms;		      /* a reply's deadline; 0: 1000 */
	size_t max_msg_size;	      /* largest incoming msg_size; 0: from
					the proposed max_data_xfer_size */
	unsigned int check_flags;     /* enum vfio_user_check_flags */
	unsigned int max_server_reqs; /* per wait before "flood"; 0: 1024 */
};

/* What the server did that did not fail a call; cases judge it. */
struct client_stats {
	unsigned int dma_reads, dma_writes; /* served correctly */
	uint64_t dma_bytes;
	unsigned int dma_refused;   /* answered with an error: bounds,
				       permissions, malformed, policy */
	unsigned int dma_on_main;   /* requests on the main socket although
				       twin-socket mode is active */
	unsigned int server_bad;    /* commands other than DMA_READ/WRITE,
				       or of a wrong type */
	unsigned int stray_replies; /* replies that answered nothing */
	unsigned int fds_closed;    /* fds that came where none belong */
};

/* A DMA region as mapped (after the server said yes). */
struct client_dma {
	uint64_t addr, size;
	uint32_t flags;
	enum vfio_user_dma_access mode;
};

/* A reply, owned by whoever holds it: free with client_reply_free(). */
struct client_reply {
	struct vfio_user_msg msg; /* payload points into @buf; the fds in
				     msg.fds are owned by the reply */
	uint8_t *buf;
	int kind; /* enum vfio_user_reply_kind, or the check's -errno */
};

struct client_pending; /* a command waiting for its reply (client.c) */

/*
 * One session. Read-only outside client.c; use the functions below. The
 * main socket belongs to the caller; the twin socket to the client.
 */
struct client {
	int fd;
	int twin_fd; /* -1 unless twin-socket mode was negotiated */
	uint16_t next_id;
	struct gmem *gmem; /* guest memory DMA is served from; not owned */
	struct vfio_user_caps proposed, server;
	bool negotiated;
	struct client_dma dma[CLIENT_DMA_MAX];
	unsigned int ndma;
	struct client_pending *pending; /* oldest first */
	unsigned int npending;
	struct fe_trace_hook trace;
	struct client_dma_policy policy;
	struct client_opts opts;
	struct client_stats stats;
	size_t recv_max;
	int broken;	       /* 0, or the -errno that broke the stream */
	uint32_t server_errno; /* of the last error reply */
	char err[256];
};

/**
 * client_init() - A session on connected socket @fd
 * @gmem:	guest memory DMA regions come from (may be NULL: no DMA)
 * @opts:	NULL for the defaults
 * @trace:	NULL for no trace (the hook is copied)
 *
 * fds: @fd stays the caller's; the client never closes it.
 *
 * Return: 0 or -ENOMEM.
 */
int client_init(struct client *c, int fd, struct gmem *gmem,
		const struct client_opts *opts,
		const struct fe_trace_hook *trace);

/** client_fini() - Close the twin socket, drop every pending command and
 * reply (closing their fds). @c may be init'ed again. */
void client_fini(struct client *c);

/** client_error() - Why the last call failed, "" if none. */
const char *client_error(const struct client *c);

/** client_set_policy() - How DMA_READ / DMA_WRITE are answered from now
 * on (NULL: correctly). */
void client_set_policy(struct client *c, const struct client_dma_policy *p);

/** client_caps_default() - What the client proposes by default:
 * max_msg_fds 8, max_data_xfer_size 1 MiB, pgsizes 4096, write_multiple,
 * migration {pgsize 4096}; no twin socket. */
void client_caps_default(struct vfio_user_caps *caps);

/**
 * client_reply_free() - Close a reply's fds and free its bytes
 *
 * Safe on a zeroed reply and twice.
 */
void client_reply_free(struct client_reply *r);

/* ------------------------------------------------------------------ */
/* The generic path                                                    */
/* ------------------------------------------------------------------ */

/**
 * client_send() - Send @msg (bent by @b) and register it as waiting
 *
 * The header's msg_id is the client's next one unless @b sets it. A
 * command sent with No_reply is not waited for. @b->repeat sends it
 * again, with the same id.
 *
 * fds: @msg's fds stay the caller's.
 *
 * Return: the msg_id (>= 0), 0 if @b->skip, or -errno: the send's
 * (-ECONNRESET / -EPIPE / -ETIMEDOUT: the session is broken if part of
 * the message left), -EINVAL (a bad bend), -ENOSPC (too many pending).
 */
int client_send(struct client *c, const struct vfio_user_msg *msg,
		const struct client_bend *b);

/**
 * client_send_raw() - Send bytes verbatim, in @b's chunks with @fds
 *
 * Every whole command found in @bytes (without No_reply) is registered
 * as waiting, so that its reply is matched. Only @b's chunk, delay and
 * timeout fields are used.
 *
 * fds: stay the caller's.
 *
 * Return: bytes sent, or as client_send().
 */
int client_send_raw(struct client *c, const void *bytes, size_t len,
		    const int *fds, unsigned int nfds,
		    const struct client_bend *b);

/**
 * client_wait() - Wait for the reply to the oldest waiting command @id
 * @out:	the reply (may be NULL: dropped), filled whenever a reply
 *		came, also when it failed the checks (its fds are then
 *		closed); free it with client_reply_free()
 * @timeout_ms:	0: the client's
 *
 * Meanwhile serves the server's DMA_READ / DMA_WRITE on either socket.
 * An error reply sets client->server_errno.
 *
 * Return: enum vfio_user_reply_kind (OK, RETRY, ERROR), or -EBADMSG /
 * -EPROTO (the reply broke a rule; or a reply to nothing, or one out of
 * order, came meanwhile: the command stays waiting), -ENOENT (no command
 * @id is waiting), -ETIMEDOUT, -ECONNRESET (hang-up, also mid-message),
 * -EMSGSIZE (msg_size above our limit: the session is broken), -EPROTO
 * (a flood of server requests).
 */
int client_wait(struct client *c, int id, struct client_reply *out,
		int timeout_ms);

/**
 * client_call() - client_send() then client_wait()
 *
 * With @b->no_wait it returns the msg_id at once; with @b->skip, 0.
 *
 * Return: as client_wait().
 */
int client_call(struct client *c, const struct vfio_user_msg *msg,
		const struct client_bend *b, struct client_reply *out);

/**
 * client_recv_any() - The next message on the main socket, unjudged
 *
 * For cases that sent garbage: whatever comes back is handed over as it
 * is (a waiting command with its id is taken off the list).
 *
 * Return: msg_size, or -ETIMEDOUT, -ECONNRESET (hang-up), -EMSGSIZE,
 * -EBADMSG.
 */
int client_recv_any(struct client *c, struct client_reply *out, int timeout_ms);

/**
 * client_serve() - Serve server requests for @timeout_ms or until @max
 * have been served (replies that come meanwhile are kept for their
 * waiters)
 *
 * Return: how many were served (0 when none came), or -ECONNRESET,
 * -EMSGSIZE, -EPROTO (a reply to nothing).
 */
int client_serve(struct client *c, unsigned int max, int timeout_ms);

/* ------------------------------------------------------------------ */
/* Commands. Each returns 0 (or the count said) on a success reply,     */
/* -EREMOTEIO on an error reply (client->server_errno has its errno),  */
/* the msg_id with @b->no_wait, 0 with @b->skip, or client_wait()'s    */
/* errors. Local refusals (the correct path cannot say it): -EINVAL,   */
/* -EFAULT (not in guest memory), -EMSGSIZE (above the server's         */
/* max_data_xfer_size), -EPROTO (not negotiated).                      */
/* ------------------------------------------------------------------ */

/**
 * client_version() - VERSION with @proposal (NULL: client_caps_default())
 *
 * Keeps the server's caps in client->server; sets up the twin socket
 * when the server passed one (which must be a socket).
 *
 * Return: 0 or -errno (-EBADMSG / -EPROTO: inconsistent capabilities).
 */
int client_version(struct client *c, const struct vfio_user_caps *proposal,
		   const struct client_bend *b);

/**
 * client_dma_map() - DMA_MAP [@gpa, @gpa + @size) of client->gmem
 * @mode:	MSG: no fd, the client serves DMA_READ / DMA_WRITE; MMAP:
 *		the region's fd, no mode bit (seed 003: "If no access mode
 *		flag bit is set, the server should use mmap()"); FILE_IO:
 *		the fd with VFIO_USER_F_DMA_REGION_FILE_IO
 * @flags:	READ / WRITE (and any bit a case wants on top)
 *
 * fds: the region's fd stays the gmem's.
 *
 * Return: 0 or -errno (-EFAULT: not inside one gmem region).
 */
int client_dma_map(struct client *c, uint64_t gpa, uint64_t size,
		   enum vfio_user_dma_access mode, uint32_t flags,
		   const struct client_bend *b);

/**
 * client_dma_unmap() - DMA_UNMAP; with @bitmap non-NULL the legacy
 * GET_DIRTY_BITMAP of @bitmap_size bytes at @pgsize granularity lands in
 * @bitmap. VFIO_DMA_UNMAP_FLAG_ALL in @flags unmaps everything.
 *
 * Return: 0 or -errno.
 */
int client_dma_unmap(struct client *c, uint64_t addr, uint64_t size,
		     uint32_t flags, uint64_t pgsize, void *bitmap,
		     uint64_t bitmap_size, const struct client_bend *b);

/** client_get_info() - DEVICE_GET_INFO. Return: 0 or -errno. */
int client_get_info(struct client *c, struct vfio_user_device_info *info,
		    const struct client_bend *b);

/**
 * client_region_info() - DEVICE_GET_REGION_INFO with the argsz retry
 * @caps:	out: the capability bytes that follow the 32-byte struct
 *		(cap_offset 32 is @caps[0]); may be NULL
 * @caps_len:	in: room in @caps; out: bytes the server sent
 * @fds:	out: the fds that came (the region's for FLAG_MMAP)
 * @nfds:	in: room; out: how many (more are closed); may be NULL
 *
 * fds: the caller owns the *@nfds fds on success.
 *
 * Return: 0 or -errno (-ENOSPC: @caps too small, fds closed).
 */
int client_region_info(struct client *c, uint32_t index,
		       struct vfio_user_region_info *info, void *caps,
		       size_t *caps_len, int *fds, unsigned int *nfds,
		       const struct client_bend *b);

/**
 * client_region_io_fds() - DEVICE_GET_REGION_IO_FDS with the argsz retry
 * @subs:	out: up to *@nsubs entries
 * @nsubs:	in: room; out: count in the reply
 *
 * fds: as client_region_info().
 *
 * Return: 0 or -errno (-ENOSPC: more entries than room, fds closed).
 */
int client_region_io_fds(struct client *c, uint32_t index,
			 struct vfio_user_sub_region_io_fd *subs,
			 uint32_t *nsubs, int *fds, unsigned int *nfds,
			 const struct client_bend *b);

/** client_irq_info() - DEVICE_GET_IRQ_INFO. Return: 0 or -errno. */
int client_irq_info(struct client *c, uint32_t index,
		    struct vfio_user_irq_info *info,
		    const struct client_bend *b);

/**
 * client_set_irqs() - DEVICE_SET_IRQS
 * @flags:	one DATA_* and one ACTION_* bit
 * @bools:	@count bytes with DATA_BOOL
 * @fds:	@nfds eventfds with DATA_EVENTFD (0 de-assigns)
 *
 * On the correct path more fds than the server's max_msg_fds are sent in
 * several messages with increasing start (SCM_MAX_FD lessons of
 * cloud-hypervisor).
 *
 * fds: stay the caller's.
 *
 * Return: 0 or -errno.
 */
int client_set_irqs(struct client *c, uint32_t flags, uint32_t index,
		    uint32_t start, uint32_t count, const uint8_t *bools,
		    const int *fds, unsigned int nfds,
		    const struct client_bend *b);

/** client_region_read() - REGION_READ of @count bytes into @buf.
 * Return: bytes read (= @count) or -errno. */
int client_region_read(struct client *c, uint32_t region, uint64_t offset,
		       void *buf, uint32_t count, const struct client_bend *b);

/** client_region_write() - REGION_WRITE of @count bytes of @data.
 * Return: 0 or -errno. */
int client_region_write(struct client *c, uint32_t region, uint64_t offset,
			const void *data, uint32_t count,
			const struct client_bend *b);

/** client_region_write_multi() - REGION_WRITE_MULTI (needs the server's
 * write_multiple on the correct path). Return: wr_cnt or -errno. */
int client_region_write_multi(struct client *c,
			      const struct vfio_user_write_multi_data *wrs,
			      uint64_t n, const struct client_bend *b);

/** client_reset() - DEVICE_RESET. Return: 0 or -errno. */
int client_reset(struct client *c, const struct client_bend *b);

/**
 * client_feature() - DEVICE_FEATURE
 * @flags:	feature index | GET / SET / PROBE
 * @data:	request data (SET / PROBE), @len bytes
 * @out:	GET reply data, up to @out_cap bytes (argsz is 8 + @out_cap)
 *
 * Return: bytes of reply data after the 8-byte head, or -errno.
 */
int client_feature(struct client *c, uint32_t flags, const void *data,
		   size_t len, void *out, size_t out_cap,
		   const struct client_bend *b);

/** client_migration_flags() - GET MIGRATION. Return: 0 or -errno. */
int client_migration_flags(struct client *c, uint64_t *flags,
			   const struct client_bend *b);

/** client_mig_state() - SET MIG_DEVICE_STATE @state. Return: 0 or -errno. */
int client_mig_state(struct client *c, uint32_t state,
		     const struct client_bend *b);

/** client_mig_state_get() - GET MIG_DEVICE_STATE. Return: 0 or -errno. */
int client_mig_state_get(struct client *c, uint32_t *state,
			 const struct client_bend *b);

/** client_dirty_start() - SET DMA_LOGGING_START. Return: 0 or -errno. */
int client_dirty_start(
	struct client *c, uint64_t page_size,
	const struct vfio_user_device_feature_dma_logging_range *ranges,
	uint32_t n, const struct client_bend *b);

/** client_dirty_stop() - SET DMA_LOGGING_STOP. Return: 0 or -errno. */
int client_dirty_stop(struct client *c, const struct client_bend *b);

/** client_dirty_report() - GET DMA_LOGGING_REPORT into @bitmap (room
 * @cap, at least vfio_user_dirty_bitmap_size()). Return: 0 or -errno. */
int client_dirty_report(struct client *c, uint64_t iova, uint64_t length,
			uint64_t page_size, void *bitmap, size_t cap,
			const struct client_bend *b);

/** client_mig_data_read() - MIG_DATA_READ of up to @size bytes; fewer
 * means the end of the stream. Return: bytes read or -errno. */
int client_mig_data_read(struct client *c, void *buf, uint32_t size,
			 const struct client_bend *b);

/** client_mig_data_write() - MIG_DATA_WRITE. Return: 0 or -errno. */
int client_mig_data_write(struct client *c, const void *data, uint32_t size,
			  const struct client_bend *b);

#endif /* VUC_FE_CLIENT_H */
