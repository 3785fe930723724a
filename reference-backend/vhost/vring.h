/* SPDX-License-Identifier: MIT */
/*
 * vring.h - one virtqueue of the reference back-end: its vhost-user
 * configuration (num, addresses, base, kick / call / err fds), its two
 * states ("Ring states": started / stopped, enabled / disabled) and the
 * ring engine's device side that runs it.
 *
 * Spec: vhost-user.rst, "Ring states", SET_VRING_* and GET_VRING_BASE.
 */
#ifndef VUC_VHOST_VRING_H
#define VUC_VHOST_VRING_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "ring/packed.h"
#include "ring/split.h"
#include "wire/vhost_user.h"

struct backend;

struct vring {
	unsigned int index;
	uint32_t num;  /* 0 until SET_VRING_NUM */
	bool addr_set; /* SET_VRING_ADDR accepted */
	struct vhost_user_vring_addr addr;
	uint32_t base; /* SET_VRING_BASE value, applied when ready */
	bool ready;    /* the engine below is set up from addr */
	bool packed;   /* which member of q is in use */
	union {
		struct vq_split_dev split;
		struct vq_packed_dev packed;
	} q;
	int kick_fd;	   /* -1: none */
	bool kick_polling; /* SET_VRING_KICK with the NOFD bit: poll */
	int call_fd;	   /* -1: none */
	int err_fd;	   /* -1: none */
	bool started;
	bool enabled;
	bool broken;	  /* the driver broke the ring; not run until reset */
	bool kick_dead;	  /* the kick fd gave EOF or an error */
	bool pushed;	  /* used buffers not yet judged for a notification */
	bool more;	  /* a batch ended with work left: run again soon */
	uint64_t counter; /* inflight: order of popped heads */
	/* Inflight I/O tracking and deferred completion (split rings). */
	bool inflight_checked; /* this session's region read (resubmission) */
	bool replayed;	       /* vring_pop() gave a chain popped before */
	uint16_t *held;	       /* popped heads completed after a kick */
	unsigned int nheld;
	uint16_t *replay; /* heads to pop again, before the avail ring */
	unsigned int nreplay, replay_pos;
	void *scratch; /* inflight_resume()'s, freed by vring_reset() too */
	int pk_entry;  /* packed: region entry of the chain popped last */
	struct pvirtq_desc *pk_fake; /* packed: a ring to pop entries again */
};

/**
 * vring_inflight_init() - Initialise one queue's region of a new inflight
 * buffer: version 1, desc_num @qs; packed, the free list (entry i links
 * to i + 1) and both wrap counters 1.
 * @region:	the queue's region, at least the layout's size for @qs
 */
void vring_inflight_init(uint8_t *region, uint16_t qs, bool packed);

/**
 * vring_init() - A vring in its initial state: stopped, disabled, no fds
 */
void vring_init(struct vring *vq, unsigned int index);

/**
 * vring_reset() - Back to the initial state; closes the kick, call and
 * err fds it owns.
 */
void vring_reset(struct vring *vq);

/**
 * vring_setup() - (Re)build the engine from the saved addresses, keeping
 * the indices the ring already has (or the SET_VRING_BASE value)
 * @why:	out: the reason on failure
 *
 * Called when the addresses, the memory table or the features change.
 * Reads guest memory (the split used index): call it guarded.
 * Return: 0 (ready), or -EFAULT / -EINVAL with @why (not ready).
 */
int vring_setup(struct backend *be, struct vring *vq, const char **why);

/**
 * vring_get_base() - What GET_VRING_BASE answers
 * Return: the split next avail index, or the packed indices.
 */
uint32_t vring_get_base(const struct backend *be, const struct vring *vq);

/**
 * vring_kicked() - An available buffer notification arrived (kick fd,
 * VHOST_USER_VRING_KICK or a polling round): the chains vring_hold()
 * deferred are due and vring_pop() gives them again first.
 */
void vring_kicked(struct vring *vq);

/**
 * vring_drain_kick() - Read everything pending on the kick fd
 *
 * Reads until nothing is left (a pipe may hold many 8-byte kicks, a
 * packetized pipe one kick per read), at most a bounded number of reads.
 * A kick fd at EOF or in error is marked dead and not polled again.
 * Return: 1 if a kick was seen, 0 if none.
 */
int vring_drain_kick(struct backend *be, struct vring *vq);

/**
 * vring_notify() - Send a used buffer notification: the call fd, or
 * VHOST_USER_BACKEND_VRING_CALL with in-band notifications.
 *
 * Never blocks: a full pipe coalesces the notification.
 */
void vring_notify(struct backend *be, struct vring *vq);

/**
 * vring_error() - Signal an error on the ring (err fd or
 * VHOST_USER_BACKEND_VRING_ERR) and mark it broken.
 */
void vring_error(struct backend *be, struct vring *vq, const char *why);

/**
 * vring_process() - Run the device on a started ring, guarded against
 * SIGBUS from guest memory, and notify if anything was used.
 */
void vring_process(struct backend *be, struct vring *vq);

/**
 * vring_runnable() - Return: whether the ring may be processed now
 * (started, set up, not broken).
 */
bool vring_runnable(const struct backend *be, const struct vring *vq);

/* ---- Used by the devices --------------------------------------------- */

/**
 * vring_pop() - Take the next chain of @vq into @c (c->bufs set by the
 * caller, room for the queue size)
 *
 * Chains to pop again come first (the inflight heads of a previous
 * session, in the order of their counters, then chains held since the
 * last kick); vq->replayed says which. Packed rings take them from the
 * inflight region's copies of their descriptors.
 * Return: 1 with a chain, 0 if none, < 0 if the ring is broken (already
 * signalled through vring_error()).
 */
int vring_pop(struct backend *be, struct vring *vq, struct vq_chain *c);

/**
 * vring_hold() - Defer a popped chain: it stays inflight (not used) and
 * vring_pop() gives it again after the next vring_kicked(), with
 * vq->replayed set. Packed rings only with an inflight region (the
 * chain's descriptors are taken again from it).
 * Return: 0, -ENOTSUP (packed ring without a region), -ENOMEM, -ENOSPC
 * (a queue size of chains held already).
 */
int vring_hold(struct vring *vq, const struct vq_chain *c);

/**
 * vring_push() - Return a popped chain used with @len bytes written, and
 * log the used ring when dirty logging asks for it.
 * Return: 0 or -EINVAL.
 */
int vring_push(struct backend *be, struct vring *vq, const struct vq_chain *c,
	       uint32_t len);

/**
 * vring_chain_read() - Copy @len bytes at offset @off of the chain's
 * device-readable bytes into @dst
 * Return: bytes copied (less than @len if the readable part is shorter).
 */
uint64_t vring_chain_read(const struct vq_chain *c, uint64_t off, void *dst,
			  uint64_t len);

/**
 * vring_chain_write() - Copy @len bytes from @src to offset @off of the
 * chain's device-writable bytes, logging the pages written when dirty
 * logging is on
 * Return: bytes copied (less than @len if the writable part is shorter).
 */
uint64_t vring_chain_write(struct backend *be, const struct vq_chain *c,
			   uint64_t off, const void *src, uint64_t len);

/**
 * vring_nosig_write() - write() that never raises SIGPIPE (blocked around
 * the call, a pending one consumed): a reader that left is just -EPIPE
 * Return: as write().
 */
ssize_t vring_nosig_write(int fd, const void *buf, size_t len);

#endif /* VUC_VHOST_VRING_H */
