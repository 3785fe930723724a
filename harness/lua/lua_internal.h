/* SPDX-License-Identifier: MIT */
/*
 * lua_internal.h - what the files of the Lua layer share: the running
 * case, the objects whose lifetime a case bounds (fds, guest memory,
 * rings), and the module openers. Not for the runner: it sees
 * lua_cases.h only.
 */
#ifndef VUC_LUA_LUA_INTERNAL_H
#define VUC_LUA_LUA_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <lauxlib.h>
#include <lua.h>

#include "lua/lua_cases.h"
#include "wire/vfio_user.h"
#include "wire/vhost_user.h"

/*
 * An object a script made that holds something of the host's: an fd, a
 * mapping, a ring. Made during a case, it is released when the case ends
 * (whatever the script still holds), newest first, so a ring goes before
 * the guest memory it lives in. Made at file level, the garbage collector
 * releases it.
 */
struct lc_res {
	struct lc_res *prev, *next;
	struct lc_run *run; /* the case it belongs to, or NULL */
	bool released;
	void (*release)(struct lc_res *r);
};

/* One running case: everything `t` stands for. */
struct lc_run {
	struct lua_case_env *env;
	struct vuc_result *res;
	const struct vuc_case *c;
	bool vfio;	  /* the case speaks vfio-user */
	int64_t start;	  /* CLOCK_MONOTONIC ns */
	int64_t deadline; /* start + case_ms */
	bool deadline_hit;
	bool over; /* the body has returned: `t` refuses everything */
	/* the run has a process to control (a launched target; it may have
	 * exited since, which target_pid() then no longer shows) */
	bool has_process;

	/* The first verdict a body asked for (t:fail / skip / error / pass)
	 * wins, even if the script catches the unwinding with pcall. */
	bool verdict_set;
	enum vuc_verdict verdict;

	/* vhost-user: protocol features in force, once a SET_PROTOCOL_FEATURES
	 * went out (they decide whether NEED_REPLY brings an ack). */
	bool proto_known;
	uint64_t negotiated;
	/* vfio-user: the next msg_id a message without one gets */
	uint16_t next_msg_id;

	struct lc_res *objs; /* newest first */
	uint8_t *rxbuf;	     /* vfio-user receive buffer, made on demand */
	int t_ref;	     /* registry ref of `t` while the case runs */
};

struct lua_cases {
	lua_State *L;
	struct vuc_case *cases;
	size_t n, cap;
	struct lc_run *run; /* the case running now, or NULL */
	/* while loading: the file and where its cases start */
	const char *loading;
	size_t file_first;
	struct lua_cases_diag *diag;
	const char *protocol;
	/* the count hook ends whatever runs past this (CLOCK_MONOTONIC ns;
	 * 0: no limit) */
	int64_t hook_deadline;
	bool hook_hit;
};

/* The loaded set a state belongs to (kept in the state's extra space). */
static inline struct lua_cases *lc_of(lua_State *L)
{
	return *(struct lua_cases **)lua_getextraspace(L);
}

/* The running case, or NULL outside a body. */
static inline struct lc_run *lc_run_of(lua_State *L)
{
	return lc_of(L)->run;
}

/* lua_res.c-style bookkeeping, in lua_fd.c */
void lc_res_track(lua_State *L, struct lc_res *r,
		  void (*release)(struct lc_res *r));
void lc_res_release(struct lc_res *r);
void lc_run_release_all(struct lc_run *run);

/* fd objects (lua_fd.c) */
#define LC_FD_MT "vuc.fd"
/* Push a new fd object that owns @fd (closed when released). */
void lc_fd_push(lua_State *L, int fd);
/* The fd number at @idx: an fd object (error if released) or an integer
 * (any number, to lie with). */
int lc_fd_check(lua_State *L, int idx);
/* fds of a list at @idx (nil: none) into @fds (room @max). Return: count. */
unsigned int lc_fd_list(lua_State *L, int idx, int *fds, unsigned int max);
/* "eventfd(nonblock), memfd(4096)" of @n fds; "" for none. */
void lc_fds_describe(const int *fds, unsigned int n, char *buf, size_t cap);
int luaopen_vuc_fdzoo(lua_State *L);

/* gmem and rings (lua_ring.c) */
int luaopen_vuc_gmem(lua_State *L);
int luaopen_vuc_ring(lua_State *L);

/* wire (lua_wire.c) */
int luaopen_vuc_vhost(lua_State *L);
int luaopen_vuc_vfio(lua_State *L);

/* Feature bits by name ("REPLY_ACK", "VERSION_1", full spec names too).
 * Return: the bit, or -1 for a name nobody defined. */
int lc_protocol_feature_bit(const char *s);
int lc_virtio_feature_bit(const char *s);

/* A message made ready for the wire from a message table. */
struct lc_wire {
	const uint8_t *buf; /* in a value lc_wire_encode() pushed */
	size_t len;
	size_t hdr_len; /* 12 or 16: where the payload starts */
	bool vfio;
	bool verbatim;
};

/*
 * lc_wire_encode() - The bytes of the message table at @idx
 * @need_reply:	OR VHOST_USER_NEED_REPLY into a vhost-user header
 *
 * Pushes one value that holds the bytes (@w->buf points into it): keep
 * it on the stack while @w is used. A vfio-user message without msg_id
 * gets the run's next one, written back into the table. Raises a Lua
 * error on a table that is no message.
 */
void lc_wire_encode(lua_State *L, int idx, struct lc_run *run, bool need_reply,
		    struct lc_wire *w);
/* One line for a trace of bytes that went out (whatever they hold). */
void lc_wire_describe_sent(const uint8_t *buf, size_t len, bool vfio, char *out,
			   size_t cap);
/* Push a received message as a table; its fds become fd objects. */
void lc_push_vhost_msg(lua_State *L, const struct vhost_user_msg *m);
void lc_push_vfio_msg(lua_State *L, const struct vfio_user_msg *m);

/* How a target reacted to a request (see README: reactions). */
enum lc_kind {
	LC_ACK,	      /* vhost-user ack 0; vfio-user success reply */
	LC_NACK,      /* non-zero ack, empty GET_CONFIG; vfio-user error */
	LC_REPLY,     /* a well-formed explicit reply body (vhost-user) */
	LC_HANGUP,    /* the target closed the connection */
	LC_TIMEOUT,   /* nothing by the deadline */
	LC_MALFORMED, /* something that is no legal answer */
};
const char *lc_kind_name(enum lc_kind k);

/* Judge @reply against the request whose bytes were @req (as sent). */
enum lc_kind lc_vhost_classify(const uint8_t *req, size_t req_len,
			       const struct vhost_user_msg *reply, char *detail,
			       size_t cap);
enum lc_kind lc_vfio_classify(const uint8_t *req, size_t req_len,
			      const struct vfio_user_msg *reply, bool lenient,
			      char *detail, size_t cap);

/* `t` (lua_t.c) */
void lc_t_push(lua_State *L, struct lc_run *run);
void lc_t_open(lua_State *L);
/* The case is over: `t` at @idx refuses everything from now on. */
void lc_t_detach(lua_State *L, int idx);
/* Append a trace entry of the running case; "" text allowed. */
void lc_trace(struct lc_run *run, enum vuc_trace_dir dir, const char *text,
	      const void *bytes, size_t len, const char *fds);
/* Milliseconds since the case started. */
double lc_ms_since(const struct lc_run *run);
/* "file:line" of the innermost case-file frame (not the prelude's). */
void lc_where(lua_State *L, char *buf, size_t cap);
/* Record a verdict (the first one wins) and unwind the body. */
int lc_verdict(lua_State *L, enum vuc_verdict v, const char *reason,
	       const char *expected, const char *actual);
/* The error object that unwinds a body after a verdict. */
extern const char lc_unwind;
/* Write the reproducer of @res (see lua_cases_write_reproducer()). */
int lc_write_reproducer(const struct vuc_case *c, const struct vuc_result *res,
			const char *rerun, const char *path);
/* errno names for vfio-user error replies: "EINVAL", or NULL */
const char *lc_errno_name(int e);
int lc_errno_by_name(const char *s);

/* The embedded prelude (generated from prelude.lua at build time). */
extern const char vuc_lua_prelude[];
extern const size_t vuc_lua_prelude_len;

#endif /* VUC_LUA_LUA_INTERNAL_H */
