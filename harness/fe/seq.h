/* SPDX-License-Identifier: MIT */
/*
 * seq.h - vhost-user message *sequences* as fuzz inputs: one byte format,
 * one decoder and the wire oracles any conformant back-end satisfies,
 * shared by the in-process sequence target (fuzz/vhost_backend.c) and the
 * black-box fuzzer (vu-conform fuzz, harness/run/fuzz.c).
 *
 * Format (fuzz/README.md): byte 0 is a setup byte (bit 0 blk, bit 1 two
 * queue pairs: the in-process target's choice of back-end; a real daemon
 * ignores it), then ops, each one op byte o, kind o % 16:
 *
 *   0-8   MSG	code u8, flags u8, [size u16 if flags & 0x02],
 *			[fds u8 if flags & 0x04: count low nibble (max 12),
 *			kind high nibble, enum seq_fdk], then the payload:
 *			with a size, that many bytes (at most 4096 are sent);
 *			else shaped by the rule (its size; SET_MEM_TABLE:
 *			nregions u8 % 9 first; config: offset u32, size u8,
 *			flags u32 first)
 *		flags: 0x01 need_reply, 0x08 version (flags >> 4 & 3),
 *		0x40 reply bit, 0x80 flag bit 31
 *   9     SPLIT	cut u8, then as MSG: sent in two sendmsg() calls cut
 *		at byte 1 + cut % (length - 1), the fds on the second
 *   10    KICK	u8: signal the n-th eventfd sent (n % 8)
 *   11    GUEST	offset u16, len u8, bytes: write guest memory
 *   12    SHRINK	u8: ftruncate the last memfd sent to u8 * 256 bytes
 *   13    CLOSE	close our end of the last pipe / socket sent
 *   14    RAW	len u8, bytes: sent as they are, then a hang-up; the
 *		sequence ends
 *   15    FEED	u8: bit 0 a valid state blob (else len u8 + bytes),
 *		into the last pipe write end kept, which is then closed
 *
 * Fields past the end of the input read as zero: every input decodes.
 */
#ifndef VUC_FE_SEQ_H
#define VUC_FE_SEQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "transport/fdzoo.h"
#include "wire/vhost_user.h"

#define SEQ_MAX_OPS 24 /* ops run per input at most */
#define SEQ_MAX_FDS 12 /* fds one MSG op may ask for */
/* Guest memory size the harnesses map (what vu-conform's front-end maps). */
#define SEQ_GUEST_SIZE 0x100000u

enum seq_op_kind {
	SEQ_MSG,
	SEQ_SPLIT,
	SEQ_KICK,
	SEQ_GUEST,
	SEQ_SHRINK,
	SEQ_CLOSE,
	SEQ_RAW,
	SEQ_FEED,
};

/* The fd kinds an input can ask for (high nibble of the fds byte). */
enum seq_fdk {
	SEQ_FDK_DEFAULT, /* the kind the request wants */
	SEQ_FDK_EVENTFD,
	SEQ_FDK_PIPE_R,
	SEQ_FDK_PIPE_W,
	SEQ_FDK_PKT_PIPE_R,
	SEQ_FDK_PKT_PIPE_W,
	SEQ_FDK_MEMFD,
	SEQ_FDK_MEMFD_EMPTY,
	SEQ_FDK_MEMFD_SEALED,
	SEQ_FDK_SOCKET,
	SEQ_FDK_SOCKET_WIDOWED,
	SEQ_FDK_DEV_NULL,
	SEQ_FDK_DEV_FULL,
	SEQ_FDK_WIDOWED_PIPE_W,
	SEQ_FDK_GUEST, /* the harness's guest memory (shared, not closed) */
	SEQ_FDK_WIDOWED_PIPE_R,
};

/* A cursor over an input. */
struct seq_in {
	const uint8_t *p;
	size_t n;
};

/* One decoded op. */
struct seq_op {
	enum seq_op_kind kind;
	size_t at, len; /* its bytes in the input, the op byte included */
	/* MSG, SPLIT: the message as it goes out (m.nfds is 0: the
	 * executor makes the fds) */
	struct vhost_user_msg m;
	size_t wire_len;   /* bytes sent: header + hdr.size if it fits */
	uint8_t cut;	   /* SPLIT */
	unsigned int nfds; /* fds to make and attach */
	enum seq_fdk fdk;  /* their kind, never SEQ_FDK_DEFAULT */
	/* KICK, SHRINK, FEED (mode): the u8; GUEST: the offset */
	unsigned int n;
	/* GUEST, RAW, FEED (bytes mode): the bytes, pointing into the input */
	const uint8_t *data;
	size_t data_len;
	size_t data_want; /* the length the op says: zeros past data_len */
};

uint8_t seq_u8(struct seq_in *in);
uint16_t seq_u16(struct seq_in *in);
uint32_t seq_u32(struct seq_in *in);

/**
 * seq_next() - Decode the next op of @in
 * @base:	the start of the whole input (for op->at)
 * @proto:	protocol features in force (an fd some requests carry only
 *		with a feature)
 *
 * Return: true with @op filled, false when the input has ended.
 */
bool seq_next(struct seq_in *in, const uint8_t *base, struct seq_op *op,
	      uint64_t proto);

/**
 * seq_op_data() - The bytes of a GUEST, RAW or FEED op: what the input has,
 * then zeros up to the length the op says
 * @buf:	room for 255 bytes
 * Return: that length.
 */
size_t seq_op_data(const struct seq_op *op, uint8_t *buf);

/**
 * seq_fdk_zoo() - How to make an fd of @k: its fdzoo kind and size
 * @widow:	out: close the other end at once (a widowed socket)
 * Return: the fdzoo kind (FDZOO_CLOSED for SEQ_FDK_GUEST / DEFAULT: the
 * harness's guest memory fd).
 */
enum fdzoo_kind seq_fdk_zoo(enum seq_fdk k, size_t *size, bool *widow);

/* What was sent, for the oracles. */
struct seq_sent {
	struct vhost_user_msg m; /* as sent (fds: numbers only) */
	unsigned int nfds;	 /* as sent, possibly more than m.nfds */
	enum fdzoo_kind kind;	 /* of the first fd */
	uint64_t proto;		 /* in force when it was sent */
	bool fail;		 /* no back-end may carry it out */
	bool vring_exists;	 /* its vring index names a vring the
				    back-end has (judge SET_VRING_CALL) */
};

/**
 * seq_must_fail() - Is this request, as sent, something no back-end may
 * carry out? (the wire rules refuse it, fds were lost to MSG_CTRUNC, a
 * vring index past @nvrings (0: unknown), a region past the end of its
 * file)
 */
bool seq_must_fail(const struct vhost_user_msg *m, unsigned int nfds_sent,
		   uint64_t proto, unsigned int nvrings);

/** seq_reply_success() - Does this reply say "done" rather than "failed"? */
bool seq_reply_success(const struct vhost_user_msg *rep);

/*
 * The oracles' names (finding kinds of the black-box fuzzer).
 */
#define SEQ_ORACLE_EXTRA_REPLY "extra-reply"
#define SEQ_ORACLE_MISSING_REPLY "missing-reply"
#define SEQ_ORACLE_UNSOLICITED "unsolicited-reply"
#define SEQ_ORACLE_BAD_REPLY "bad-reply"
#define SEQ_ORACLE_REFUSED_ACKED "refused-request-acked"
#define SEQ_ORACLE_CALL_REFUSED "call-fd-refused"

/**
 * seq_judge() - The wire oracles on the replies to @s
 * @reps:	the replies that came (their fds already closed)
 * @closed:	the back-end hung up before answering
 * @oracle:	out: the name of the oracle that fired (SEQ_ORACLE_...)
 * @why:	out: what it saw (a thread-local buffer)
 *
 * Every reply passes vhost_user_check_reply(); replies come exactly when
 * vhost_user_reply_expected() says (none missing unless the back-end hung
 * up or the request must fail, none unsolicited unless the request must
 * fail, never two); a request that must fail never gets a success answer;
 * a SET_VRING_CALL with a legal fd for a vring that exists is not refused.
 *
 * Return: 0 when all hold, -EPROTO when one fired.
 */
int seq_judge(const struct seq_sent *s, const struct vhost_user_msg *reps,
	      unsigned int nrep, bool closed, const char **oracle,
	      const char **why);

#endif /* VUC_FE_SEQ_H */
