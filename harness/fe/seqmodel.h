/* SPDX-License-Identifier: MIT */
/*
 * seqmodel.h - a light model of a vhost-user back-end's rings and config
 * space, built from the messages a sequence (fe/seq.h) sends, and the
 * data-path oracles it allows. Shared by the in-process sequence target
 * (fuzz/vhost_backend.c) and the black-box fuzzer (vu-conform fuzz): both
 * own the guest memory (SEQ_FDK_GUEST), so both can read the used rings.
 *
 * The model knows, per vring: its size, its addresses (user addresses of
 * SET_VRING_ADDR, translated through the memory table the session sent
 * with the guest memory fd), the bases set, whether it is surely stopped
 * ("Ring states": initialised stopped, started by a kick, stopped by
 * GET_VRING_BASE) and surely disabled (a SET_VRING_ENABLE 0 acked 0).
 * Where it cannot be sure (a reset, a state load, a packed ring, a kick fd
 * of another kind, an in-order device) it stands down: no false alarm.
 *
 * Oracles are judged at *synchronisation points* only (a reply to a later
 * request; in-process, after each op): a multi-threaded back-end may
 * process a ring a moment after the kick, never after the reply that
 * stopped it.
 *
 * Seeds: seqmodel_seed() writes sessions that reach each judged state,
 * for both fuzzers (fuzz/gen_vhost_backend_seeds.c writes them into
 * corpus/vhost_backend/; vu-conform fuzz adds them as built-in seeds).
 *
 * Inflight I/O tracking ("Inflight I/O tracking": SHOULD-level, "the queue
 * region should be processed as follows"). A SET_INFLIGHT_FD acked 0 whose
 * fd is the guest memory puts the back-end's region where the model reads
 * it (at mmap_offset; queue q's at q * the stride a GET_INFLIGHT_FD for the
 * same queue count and size told, mmap_size / num_queues; else queue 0
 * only). A split ring of the region's queue size, set going by
 * SET_VRING_KICK before any kick, with its used idx equal to the base set,
 * is *tracked* from there; in *resume* mode the region held what a previous
 * session leaves (version 1, its used_idx the used ring's, heads marked
 * inflight, the avail idx the used idx plus their count: the state QEMU
 * hands back after a back-end crash, base = used idx), which "When
 * reconnecting" says to resubmit (the avail ring resumes at used idx plus
 * their count: libvhost-user's used_idx + inuse and DPDK's base + count
 * agree there). The oracles, each judged only while
 * nothing but the back-end wrote the ring and the region since:
 *  - inflight-used-again (resume): every used entry is a head marked
 *    inflight not used yet (a head completed before is not used again);
 *  - inflight-not-cleared: once everything popped has been used (seen at
 *    two sync points in a row), those heads' inflight flags are 0;
 *  - inflight-not-marked: at the sync point after GET_VRING_BASE, each
 *    head popped (avail positions before the answer, and resumed heads)
 *    and not used is marked 1 (chains the model cannot walk excluded).
 * One session reaches all three (seqmodel_seed() INFLIGHT_*: the region in
 * guest memory, pre-marked by GUEST ops; blk's ioprio "HOLD" keeps a
 * request of vuc-ref-vhost inflight until the next kick, another device
 * may complete it at once, which is legal and then not judged).
 */
#ifndef VUC_FE_SEQMODEL_H
#define VUC_FE_SEQMODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fe/seq.h"

#define SEQMODEL_RINGS 8
#define SEQMODEL_BASES 8

/* The oracles' names (finding kinds of the black-box fuzzer). */
#define SEQMODEL_ORACLE_USED_LEN "used-len-past-writable"
#define SEQMODEL_ORACLE_STOPPED "used-while-stopped"
#define SEQMODEL_ORACLE_BASE "vring-base-not-set-base"
#define SEQMODEL_ORACLE_RX_DISABLED "rx-while-disabled"
#define SEQMODEL_ORACLE_CONFIG_RO "readonly-config-changed"
#define SEQMODEL_ORACLE_INF_AGAIN "inflight-used-again"
#define SEQMODEL_ORACLE_INF_CLEARED "inflight-not-cleared"
#define SEQMODEL_ORACLE_INF_MARKED "inflight-not-marked"

/* Largest queue size whose inflight region the model follows. */
#define SEQMODEL_INF_QMAX 256

enum seqmodel_dev {
	SEQMODEL_DEV_UNKNOWN,
	SEQMODEL_DEV_NET,
	SEQMODEL_DEV_BLK,
};

/* What a reproducer re-checks where a model oracle fired. */
enum seqmodel_check_kind {
	SEQMODEL_CHECK_NONE,
	SEQMODEL_CHECK_U16_EQ,	  /* guest u16 at off must still be val */
	SEQMODEL_CHECK_U32_MAX,	  /* guest u32 at off must be <= val */
	SEQMODEL_CHECK_BASE_IN,	  /* the reply's num must be one of set[] */
	SEQMODEL_CHECK_CONFIG,	  /* the reply's config data starts bytes[] */
	SEQMODEL_CHECK_U8_EQ,	  /* guest u8 at off must be val, unless the
				   u16 at off2 is no longer val2 */
	SEQMODEL_CHECK_USED_HEAD, /* used ring at off (num entries): head val
				     at most max times from position val2 */
};

struct seqmodel_check {
	enum seqmodel_check_kind kind;
	uint64_t off;
	uint32_t val;
	uint32_t set[2 * SEQMODEL_BASES + 1];
	unsigned int nset;
	uint8_t bytes[8];
	unsigned int nbytes;
	uint64_t off2;
	uint32_t val2, num, max;
};

enum seqmodel_kick {
	SEQMODEL_KICK_NONE,    /* no kick fd sent yet */
	SEQMODEL_KICK_EVENTFD, /* ours: polled for a kick not yet taken */
	SEQMODEL_KICK_OTHER,   /* polling (NOFD) or another kind: unsure */
};

struct seqmodel_ring {
	bool num_known;
	uint32_t num;
	bool addr_known;
	uint64_t desc_ua, avail_ua, used_ua;
	enum seqmodel_kick kick;
	int kick_fd;	    /* KICK_EVENTFD: our copy (not owned) */
	bool ever_kicked;   /* a kick may have reached it this session */
	bool stopped;	    /* surely stopped ... */
	uint32_t stop_gen;  /* ... since this sync point */
	bool disabled;	    /* surely disabled (SET_VRING_ENABLE 0 acked 0) */
	uint32_t dis_gen;   /* ... since this sync point */
	bool seen_valid;    /* used_seen holds */
	uint16_t used_seen; /* the used idx already judged */
	bool desc_unsure; /* its descriptors changed since it may have started:
			     a used entry may describe the old chain */
	uint32_t bases[SEQMODEL_BASES]; /* legal GET_VRING_BASE answers */
	unsigned int nbases;		/* 0: no SET_VRING_BASE yet */
	/* inflight I/O tracking (see the top of this file) */
	bool base_acked;      /* the last SET_VRING_BASE was acked 0 ... */
	uint32_t base_val;    /* ... and set this */
	bool inf_on;	      /* tracked since it was set going */
	bool inf_resume;      /* ... from a previous session's region */
	uint64_t inf_at;      /* its queue region in guest memory */
	uint16_t inf_u0;      /* used idx when it was set going */
	uint16_t inf_p0;      /* first avail position it pops */
	uint16_t inf_k;	      /* heads marked inflight then */
	uint16_t inf_seen;    /* used entries judged up to here */
	bool inf_rec;	      /* all popped was used at the last sync ... */
	uint16_t inf_rec_idx; /* ... with this used idx */
	bool inf_base;	      /* GET_VRING_BASE answered, judge next sync */
	uint16_t inf_base_n;
	uint32_t inf_base_gen;
	uint8_t inf_left[SEQMODEL_INF_QMAX];   /* resume: uses still legal */
	uint8_t inf_marked[SEQMODEL_INF_QMAX]; /* resume: marked at start */
};

struct seqmodel {
	const uint8_t *guest;
	size_t guest_size;
	enum seqmodel_dev dev;
	bool ring_unsure; /* packed or unknown layout: rings not judged */
	bool in_order;	  /* VIRTIO_F_IN_ORDER maybe: lens not judged */
	bool table_known; /* the regions below are the back-end's */
	unsigned int nreg;
	struct vhost_user_mem_region reg[VHOST_USER_MAX_MEM_REGIONS];
	struct seqmodel_ring ring[SEQMODEL_RINGS];
	uint32_t epoch; /* guest writes so far */
	uint32_t gen;	/* sync points so far */
	/* the device's read-only config prefix (net mac, blk capacity) */
	bool ro_known, ro_written;
	uint8_t ro[8];
	/* the inflight region: an acked SET_INFLIGHT_FD of the guest fd */
	bool inf_known;
	uint64_t inf_off, inf_size, inf_stride; /* stride 0: queue 0 only */
	uint16_t inf_nq, inf_qs;
	bool get_known; /* the last GET_INFLIGHT_FD's answer */
	uint16_t get_nq, get_qs;
	uint64_t get_size;
	struct seqmodel_check check; /* where the last oracle fired */
	char why[256];
};

/**
 * seqmodel_init() - Start a session's model
 * @guest:	the guest memory the harness hands over as SEQ_FDK_GUEST
 *		(read only here; NULL: no ring oracle)
 * @dev:	the device type, SEQMODEL_DEV_UNKNOWN if not known (no config
 *		or RX oracle then)
 */
void seqmodel_init(struct seqmodel *m, const uint8_t *guest, size_t size,
		   enum seqmodel_dev dev);

/**
 * seqmodel_dev_parse() - "net" / "blk" / anything else (unknown)
 * Return: the device type.
 */
enum seqmodel_dev seqmodel_dev_parse(const char *name);

/**
 * seqmodel_op() - A non-message op (GUEST, KICK, SHRINK, CLOSE, FEED) ran.
 */
void seqmodel_op(struct seqmodel *m, const struct seq_op *op);

/**
 * seqmodel_msg() - Learn from a message sent and its replies
 * @s:		the message as sent
 * @fds:	the fds sent with it (s->nfds of them; numbers only: the
 *		caller keeps them open until the session ends, the model
 *		never closes them)
 * @guest_fds:	they are the guest memory (SEQ_FDK_GUEST)
 * @reps:	the replies that came
 *
 * Judges what a reply alone tells (GET_VRING_BASE of a ring never started,
 * GET_CONFIG after a SET_CONFIG of read-only bytes); call seqmodel_sync()
 * after it when the replies make this a synchronisation point.
 *
 * Return: 0, or -EPROTO when an oracle fired (@oracle, @why, m->check).
 */
int seqmodel_msg(struct seqmodel *m, const struct seq_sent *s, const int *fds,
		 bool guest_fds, const struct vhost_user_msg *reps,
		 unsigned int nrep, const char **oracle, const char **why);

/**
 * seqmodel_sync() - A synchronisation point: read the used rings and judge
 * every new used entry (its len, the ring's state).
 *
 * Return: 0, or -EPROTO when an oracle fired (@oracle, @why, m->check).
 */
int seqmodel_sync(struct seqmodel *m, const char **oracle, const char **why);

/* Seeds reaching each judged state (see seqmodel_seed()). */
enum seqmodel_seed_kind {
	SEQMODEL_SEED_USED_LEN,	     /* a request whose chain writes <= 1 */
	SEQMODEL_SEED_BASE_UNKICKED, /* published, not kicked: GET_VRING_BASE */
	SEQMODEL_SEED_STOP,	     /* processed, stopped, published again */
	SEQMODEL_SEED_RX_DISABLED,   /* net: RX disabled, a frame sent */
	SEQMODEL_SEED_CONFIG_RO,     /* GET, SET (no LM flag), GET config */
	/* states no model oracle judges: a crash or a hang tells */
	SEQMODEL_SEED_RING_LOOP,       /* a chain whose next is itself */
	SEQMODEL_SEED_BLK_PAST_END,    /* blk: a read far past the capacity */
	SEQMODEL_SEED_INFLIGHT_QUEUES, /* SET_INFLIGHT_FD: 200 queues */
	SEQMODEL_SEED_STATE_LOAD, /* a state LOADed through a packet pipe */
	/* inflight tracking in guest memory (judged) */
	SEQMODEL_SEED_INFLIGHT_RESUBMIT, /* a previous session's region */
	SEQMODEL_SEED_INFLIGHT_CLEAR,	 /* a request used: flag cleared */
	SEQMODEL_SEED_INFLIGHT_HOLD,	 /* blk: a request held: marked */
	/* a state saved twice, loaded (packet pipe), saved again */
	SEQMODEL_SEED_STATE_ROUNDTRIP,
	SEQMODEL_SEED_COUNT,
};

/**
 * seqmodel_seed() - Write a session (fe/seq.h format) that reaches @kind
 * on a device of type @dev (byte 0 says blk or net, one queue pair)
 * @name:	out: a short name for it (static)
 *
 * Return: its length (at most 1024 bytes), 0 if @kind does not apply to
 * @dev, -ENOSPC if @cap is too small.
 */
int seqmodel_seed(enum seqmodel_seed_kind kind, enum seqmodel_dev dev,
		  uint8_t *out, size_t cap, const char **name);

#endif /* VUC_FE_SEQMODEL_H */
