// SPDX-License-Identifier: MIT
/*
 * lua_t.c - `t`, what a case body gets: the connection to the target
 * (sends in chunks with fds, receives with deadlines, reactions), target
 * control, verdicts, and the trace of everything that happened.
 *
 * Every wait is cut to the case's deadline, so nothing here outlives it.
 * Every send and receive goes into the case's trace: decoded text, raw
 * bytes, the kinds of the fds that travelled, chunk boundaries; hang-ups,
 * timeouts, restarts and signals as notes.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/util.h"
#include "fe/frame.h"
#include "lua/lua_internal.h"
#include "transport/chan.h"
#include "transport/fdzoo.h"

#define LC_T_MT "vuc.t"
#define LC_MAX_CHUNKS 64

const char lc_unwind = 0;

struct lc_t {
	struct lc_run *run; /* NULL once the case is over */
};

/* ---- trace -------------------------------------------------------------- */

double lc_ms_since(const struct lc_run *run)
{
	return (double)(chan_now() - run->start) / 1e6;
}

void lc_trace(struct lc_run *run, enum vuc_trace_dir dir, const char *text,
	      const void *bytes, size_t len, const char *fds)
{
	if (!run || !run->res)
		return;
	/* A trace that cannot grow loses a line, not the case. */
	vuc_trace_add(&run->res->trace, dir, lc_ms_since(run), text, bytes, len,
		      fds && *fds ? fds : NULL);
}

static struct vuc_trace_entry *lc_trace_last(struct lc_run *run)
{
	struct vuc_trace *t = &run->res->trace;

	return t->n ? &t->v[t->n - 1] : NULL;
}

void lc_where(lua_State *L, char *buf, size_t cap)
{
	lua_Debug ar;
	int lv;

	buf[0] = '\0';
	for (lv = 0; lua_getstack(L, lv, &ar); lv++) {
		lua_getinfo(L, "Sl", &ar);
		if (ar.currentline <= 0 || !strcmp(ar.short_src, "prelude.lua"))
			continue;
		snprintf(buf, cap, "%s:%d",
			 ar.source[0] == '@' ? ar.source + 1 : ar.short_src,
			 ar.currentline);
		return;
	}
}

/* ---- the object --------------------------------------------------------- */

static struct lc_run *lc_t_run(lua_State *L)
{
	struct lc_t *t = luaL_checkudata(L, 1, LC_T_MT);

	if (!t->run || t->run->over)
		luaL_error(L,
			   "this case is over: `t` is only valid in its body");
	return t->run;
}

static int lc_t_index(lua_State *L)
{
	/* methods first, then the fields the case and the prelude set */
	lua_pushvalue(L, 2);
	if (lua_rawget(L, lua_upvalueindex(1)) != LUA_TNIL)
		return 1;
	lua_pop(L, 1);
	lua_getiuservalue(L, 1, 1);
	lua_pushvalue(L, 2);
	lua_rawget(L, -2);
	return 1;
}

static int lc_t_newindex(lua_State *L)
{
	lua_getiuservalue(L, 1, 1);
	lua_pushvalue(L, 2);
	lua_pushvalue(L, 3);
	lua_rawset(L, -3);
	return 0;
}

/*
 * t.profiles: the de-facto profiles selected with vu-conform --profile
 * (harness/run/main.c passes them in $VUC_PROFILES, comma-separated), as
 * a set { ["libvfio-user"] = true, ... }. Cases that declare needs.profile
 * are skipped unless theirs is in it (prelude.lua).
 */
static void lc_push_profiles(lua_State *L)
{
	const char *s = getenv("VUC_PROFILES"), *end;

	lua_newtable(L);
	while (s && *s) {
		end = strchr(s, ',');
		if (!end)
			end = s + strlen(s);
		if (end > s) {
			lua_pushlstring(L, s, (size_t)(end - s));
			lua_pushboolean(L, 1);
			lua_rawset(L, -3);
		}
		s = *end ? end + 1 : end;
	}
}

void lc_t_push(lua_State *L, struct lc_run *run)
{
	struct lc_t *t = lua_newuserdatauv(L, sizeof(*t), 1);
	const struct vuc_case *c = run->c;

	t->run = run;
	lua_createtable(L, 0, 8);
	lua_pushstring(L, c->id);
	lua_setfield(L, -2, "id");
	lua_pushstring(L, c->protocol);
	lua_setfield(L, -2, "protocol");
	lua_pushstring(L, c->spec);
	lua_setfield(L, -2, "spec");
	lua_pushstring(L, vuc_level_name(c->level));
	lua_setfield(L, -2, "level");
	if (run->env->device) {
		lua_pushstring(L, run->env->device);
		lua_setfield(L, -2, "device");
	}
	lua_pushinteger(L, run->env->timeout_ms);
	lua_setfield(L, -2, "timeout_ms");
	lua_pushinteger(L, run->env->case_ms);
	lua_setfield(L, -2, "case_ms");
	lc_push_profiles(L);
	lua_setfield(L, -2, "profiles");
	lua_setiuservalue(L, -2, 1);
	luaL_setmetatable(L, LC_T_MT);
}

void lc_t_detach(lua_State *L, int idx)
{
	struct lc_t *t = luaL_testudata(L, idx, LC_T_MT);

	if (t)
		t->run = NULL;
}

/* Milliseconds from now a wait may last: @ms, cut to the case's end. */
static int lc_cut_ms(const struct lc_run *run, int ms)
{
	int left = chan_remaining_ms(run->deadline);

	if (ms < 0)
		ms = 0;
	return ms < left ? ms : left;
}

static int lc_opt_int(lua_State *L, int idx, const char *k, int dflt)
{
	int v = dflt;

	if (lua_type(L, idx) != LUA_TTABLE)
		return dflt;
	if (lua_getfield(L, idx, k) != LUA_TNIL)
		v = (int)luaL_checkinteger(L, -1);
	lua_pop(L, 1);
	return v;
}

/* ---- sending ------------------------------------------------------------ */

struct lc_send {
	int fds[CHAN_MAX_FDS];
	unsigned int nfds;
	size_t cuts[LC_MAX_CHUNKS]; /* chunk starts after the first */
	unsigned int ncuts;
	unsigned int fds_chunk; /* 0-based */
	int delay_ms;
	int timeout_ms;
};

/* Read the send options at @opt (may be nil) for a message of @len bytes
 * whose payload starts at @hdr_len; @msg (0: none) may carry fds. */
static void lc_send_opts(lua_State *L, struct lc_run *run, int opt, int msg,
			 size_t len, size_t hdr_len, struct lc_send *s)
{
	bool has_opts = lua_type(L, opt) == LUA_TTABLE;
	const char *on = NULL;
	unsigned int i;

	memset(s, 0, sizeof(*s));
	s->timeout_ms = lc_opt_int(L, opt, "timeout", run->env->timeout_ms);
	s->delay_ms = lc_opt_int(L, opt, "delay_ms", 0);
	if (has_opts && lua_getfield(L, opt, "fds") != LUA_TNIL) {
		s->nfds = lc_fd_list(L, -1, s->fds, CHAN_MAX_FDS);
		lua_pop(L, 1);
	} else {
		if (has_opts)
			lua_pop(L, 1);
		if (msg && lua_getfield(L, msg, "fds") != LUA_TNIL)
			s->nfds = lc_fd_list(L, -1, s->fds, CHAN_MAX_FDS);
		if (msg)
			lua_pop(L, 1);
	}
	if (has_opts && lua_getfield(L, opt, "split") != LUA_TNIL) {
		if (lua_type(L, -1) == LUA_TSTRING) {
			const char *sp = lua_tostring(L, -1);

			if (!strcmp(sp, "hdr")) {
				if (len > hdr_len)
					s->cuts[s->ncuts++] = hdr_len;
			} else if (strcmp(sp, "whole")) {
				luaL_error(L, "split: \"whole\", \"hdr\" or a "
					      "list of byte offsets");
			}
		} else {
			lua_Integer n, k;

			luaL_checktype(L, -1, LUA_TTABLE);
			n = luaL_len(L, -1);
			if (n >= LC_MAX_CHUNKS)
				luaL_error(L, "split: at most %d cuts",
					   LC_MAX_CHUNKS - 1);
			for (k = 1; k <= n; k++) {
				lua_Integer at;

				lua_geti(L, -1, k);
				at = luaL_checkinteger(L, -1);
				lua_pop(L, 1);
				if (at <= 0 || (size_t)at >= len ||
				    (s->ncuts &&
				     (size_t)at <= s->cuts[s->ncuts - 1]))
					luaL_error(L,
						   "split: offsets must rise "
						   "inside the %d bytes sent",
						   (int)len);
				s->cuts[s->ncuts++] = (size_t)at;
			}
		}
	}
	if (has_opts)
		lua_pop(L, 1);
	if (has_opts && lua_getfield(L, opt, "fds_on") != LUA_TNIL) {
		if (lua_isinteger(L, -1)) {
			lua_Integer n = lua_tointeger(L, -1);

			if (n < 1 || n > (lua_Integer)s->ncuts + 1)
				luaL_error(L, "fds_on: chunk %d of %d", (int)n,
					   (int)s->ncuts + 1);
			s->fds_chunk = (unsigned int)n - 1;
		} else {
			on = luaL_checkstring(L, -1);
		}
	}
	if (has_opts)
		lua_pop(L, 1);
	if (on && !strcmp(on, "payload")) {
		/* the chunk that starts the payload; cut there if needed */
		if (len <= hdr_len)
			luaL_error(L, "fds_on = \"payload\": no payload");
		for (i = 0; i < s->ncuts && s->cuts[i] < hdr_len; i++)
			;
		if (i == s->ncuts || s->cuts[i] != hdr_len) {
			if (s->ncuts + 1 >= LC_MAX_CHUNKS)
				luaL_error(L, "too many chunks");
			memmove(&s->cuts[i + 1], &s->cuts[i],
				(s->ncuts - i) * sizeof(s->cuts[0]));
			s->cuts[i] = hdr_len;
			s->ncuts++;
		}
		s->fds_chunk = i + 1;
	} else if (on && strcmp(on, "hdr")) {
		luaL_error(L, "fds_on: \"hdr\", \"payload\" or a chunk number");
	}
}

/* Remember what a SET_PROTOCOL_FEATURES said: it decides acks. */
static void lc_sniff(struct lc_run *run, const uint8_t *buf, size_t len)
{
	struct vhost_user_hdr h;
	uint64_t v;

	if (run->vfio || len < VHOST_USER_HDR_SIZE + 8)
		return;
	memcpy(&h, buf, sizeof(h));
	if (h.request != VHOST_USER_SET_PROTOCOL_FEATURES || h.size != 8)
		return;
	memcpy(&v, buf + VHOST_USER_HDR_SIZE, sizeof(v));
	run->proto_known = true;
	run->negotiated = v;
}

/*
 * Send @len bytes as @s says and trace them.
 * Return: 0, or -errno of the send (-EPIPE / -ECONNRESET: hung up).
 */
static int lc_send_bytes(struct lc_run *run, const uint8_t *buf, size_t len,
			 const struct lc_send *s, const char *text)
{
	struct chan_chunk ch[LC_MAX_CHUNKS];
	char fds[512], line[1024], extra[256];
	size_t sent = 0, off = 0, used;
	unsigned int i, n = s->ncuts + 1;
	struct vuc_trace_entry *e;
	int ret, ms;

	for (i = 0; i < n; i++) {
		size_t end = i < s->ncuts ? s->cuts[i] : len;

		ch[i].buf = buf + off;
		ch[i].len = end - off;
		ch[i].fds = i == s->fds_chunk ? s->fds : NULL;
		ch[i].nfds = i == s->fds_chunk ? s->nfds : 0;
		ch[i].delay_ms = i ? s->delay_ms : 0;
		off = end;
	}
	ms = s->timeout_ms + s->delay_ms * (int)s->ncuts;
	ret = chan_send_progress(run->env->conn, ch, n,
				 chan_deadline(lc_cut_ms(run, ms)), &sent);

	lc_fds_describe(s->fds, s->nfds, fds, sizeof(fds));
	extra[0] = '\0';
	used = 0;
	if (s->ncuts) {
		used += (size_t)snprintf(extra + used, sizeof(extra) - used,
					 " [split at");
		for (i = 0; i < s->ncuts && used < sizeof(extra); i++)
			used += (size_t)snprintf(extra + used,
						 sizeof(extra) - used, "%s%zu",
						 i ? "," : " ", s->cuts[i]);
		if (s->nfds && s->fds_chunk && used < sizeof(extra))
			used += (size_t)snprintf(
				extra + used, sizeof(extra) - used,
				"; fds on chunk %u", s->fds_chunk + 1);
		if (s->delay_ms && used < sizeof(extra))
			used += (size_t)snprintf(extra + used,
						 sizeof(extra) - used,
						 "; %d ms apart", s->delay_ms);
		if (used < sizeof(extra))
			snprintf(extra + used, sizeof(extra) - used, "]");
	}
	snprintf(line, sizeof(line), "%s%s", text, extra);
	lc_trace(run, VUC_TRACE_SEND, line, buf, len, fds);
	e = lc_trace_last(run);
	if (e && s->ncuts && !e->chunks) {
		e->chunks = calloc(n, sizeof(*e->chunks));
		if (e->chunks) {
			e->nchunks = n;
			for (i = 1; i < n; i++)
				e->chunks[i] = s->cuts[i - 1];
		}
	}
	if (ret < 0) {
		snprintf(line, sizeof(line),
			 "%s while sending (%zu of %zu "
			 "bytes went out): %s",
			 ret == -EPIPE || ret == -ECONNRESET ? "hangup"
			 : ret == -ETIMEDOUT		     ? "timeout"
							     : "error",
			 sent, len, strerror(-ret));
		lc_trace(run, VUC_TRACE_NOTE, line, NULL, 0, NULL);
		return ret;
	}
	lc_sniff(run, buf, len);
	return 0;
}

static const char *lc_send_err(int ret)
{
	if (ret == -EPIPE || ret == -ECONNRESET)
		return "hangup";
	if (ret == -ETIMEDOUT)
		return "timeout";
	return strerror(-ret);
}

/* The bytes of the message (table or string) at @idx. */
static void lc_encode_any(lua_State *L, struct lc_run *run, int idx,
			  bool need_reply, struct lc_wire *w)
{
	size_t len;
	const char *s;

	if (lua_type(L, idx) != LUA_TSTRING) {
		lc_wire_encode(L, idx, run, need_reply, w);
		return;
	}
	lua_pushvalue(L, idx);
	s = lua_tolstring(L, -1, &len);
	memset(w, 0, sizeof(*w));
	w->buf = (const uint8_t *)s;
	w->len = len;
	w->vfio = run->vfio;
	w->verbatim = true;
	w->hdr_len = run->vfio ? VFIO_USER_HDR_SIZE : VHOST_USER_HDR_SIZE;
}

/* Whether "auto" need_reply adds the flag: a vhost-user request whose ack
 * depends on it, with REPLY_ACK negotiated (or negotiation unknown). */
static bool lc_auto_need_reply(lua_State *L, struct lc_run *run, int idx)
{
	const struct vhost_user_rule *rule;
	bool verbatim;

	if (run->vfio || lua_type(L, idx) != LUA_TTABLE)
		return false;
	lua_getfield(L, idx, "verbatim");
	verbatim = lua_toboolean(L, -1);
	lua_pop(L, 1);
	if (verbatim)
		return false;
	if (lua_getfield(L, idx, "request") != LUA_TNUMBER) {
		lua_pop(L, 1);
		return false;
	}
	rule = vhost_user_rule_find(VHOST_USER_FROM_FRONTEND,
				    (uint32_t)lua_tointeger(L, -1));
	lua_pop(L, 1);
	if (rule && rule->reply == VHOST_USER_REPLY_ALWAYS)
		return false;
	return !run->proto_known ||
	       (run->negotiated & VHOST_USER_PROTO_BIT(REPLY_ACK));
}

static bool lc_need_reply(lua_State *L, struct lc_run *run, int msg, int opt)
{
	bool v = false;

	if (lua_type(L, opt) != LUA_TTABLE)
		return false;
	switch (lua_getfield(L, opt, "need_reply")) {
	case LUA_TSTRING:
		v = !strcmp(lua_tostring(L, -1), "auto") &&
		    lc_auto_need_reply(L, run, msg);
		break;
	default:
		v = lua_toboolean(L, -1);
		break;
	}
	lua_pop(L, 1);
	return v;
}

/* t:send(m [, opts]) -> true | nil, "hangup" / "timeout" / err */
static int lc_t_send(lua_State *L)
{
	struct lc_run *run = lc_t_run(L);
	struct lc_send s;
	struct lc_wire w;
	char text[768];
	int ret;

	luaL_checkany(L, 2);
	lc_encode_any(L, run, 2, lc_need_reply(L, run, 2, 3), &w);
	lc_send_opts(L, run, 3, lua_istable(L, 2) ? 2 : 0, w.len, w.hdr_len,
		     &s);
	lc_wire_describe_sent(w.buf, w.len, w.vfio, text, sizeof(text));
	ret = lc_send_bytes(run, w.buf, w.len, &s, text);
	if (ret < 0) {
		luaL_pushfail(L);
		lua_pushstring(L, lc_send_err(ret));
		return 2;
	}
	lua_pushboolean(L, 1);
	return 1;
}

/* t:send_many{ m1, m2, ... } [, opts]: all in one write */
static int lc_t_send_many(lua_State *L)
{
	struct lc_run *run = lc_t_run(L);
	char text[1024], one[512];
	size_t used = 0, len;
	lua_Integer i, n;
	struct lc_send s;
	const char *bytes;
	int ret;

	luaL_checktype(L, 2, LUA_TTABLE);
	n = luaL_len(L, 2);
	if (n < 1)
		return luaL_error(L, "send_many: no messages");
	luaL_checkstack(L, (int)n + 4, "send_many: too many messages");
	text[0] = '\0';
	for (i = 1; i <= n; i++) {
		struct lc_wire w;

		lua_geti(L, 2, i);
		lc_encode_any(L, run, lua_gettop(L), false, &w);
		lc_wire_describe_sent(w.buf, w.len, w.vfio, one, sizeof(one));
		if (used < sizeof(text))
			used += (size_t)snprintf(text + used,
						 sizeof(text) - used, "%s%s",
						 i > 1 ? " + " : "", one);
		lua_pushlstring(L, (const char *)w.buf, w.len);
		lua_replace(L, -3);
		lua_pop(L, 1);
	}
	lua_concat(L, (int)n);
	bytes = lua_tolstring(L, -1, &len);
	lc_send_opts(L, run, 3, 0, len,
		     run->vfio ? VFIO_USER_HDR_SIZE : VHOST_USER_HDR_SIZE, &s);
	ret = lc_send_bytes(run, (const uint8_t *)bytes, len, &s, text);
	if (ret < 0) {
		luaL_pushfail(L);
		lua_pushstring(L, lc_send_err(ret));
		return 2;
	}
	lua_pushboolean(L, 1);
	return 1;
}

/* t:send_bytes(str [, opts]) */
static int lc_t_send_bytes(lua_State *L)
{
	luaL_checkstring(L, 2);
	return lc_t_send(L);
}

/* ---- receiving ---------------------------------------------------------- */

union lc_rx {
	struct vhost_user_msg vh;
	struct vfio_user_msg vf;
};

/*
 * Receive one message within @ms. Return: 0 with the message in @rx (its
 * fds owned by @rx), or LC_HANGUP / LC_TIMEOUT / LC_MALFORMED with @why.
 * Traced either way.
 */
static int lc_recv_one(struct lc_run *run, int ms, union lc_rx *rx, char *why,
		       size_t cap)
{
	struct frame_info info;
	const char *w = NULL;
	char text[768], fds[512];
	int ret, got;

	memset(&info, 0, sizeof(info));
	if (run->vfio) {
		if (!run->rxbuf) {
			run->rxbuf = malloc(FRAME_VFIO_MAX);
			if (!run->rxbuf) {
				snprintf(why, cap, "out of memory");
				return LC_MALFORMED;
			}
		}
		vfio_user_msg_init(&rx->vf);
		ret = frame_vfio_recv(
			run->env->conn, &rx->vf, run->rxbuf, FRAME_VFIO_MAX, 0,
			chan_deadline(lc_cut_ms(run, ms)), &w, &info);
	} else {
		vhost_user_msg_init(&rx->vh);
		ret = frame_vhost_recv(run->env->conn, &rx->vh,
				       chan_deadline(lc_cut_ms(run, ms)), &w,
				       &info);
	}
	got = (int)(info.hdr.got + info.payload.got);
	if (ret >= 0) {
		if (run->vfio) {
			vfio_user_describe(&rx->vf, text, sizeof(text));
			lc_fds_describe(rx->vf.fds, rx->vf.nfds, fds,
					sizeof(fds));
			lc_trace(run, VUC_TRACE_RECV, text, run->rxbuf,
				 (size_t)ret, fds);
		} else {
			uint8_t raw[VHOST_USER_MSG_MAX];
			int n = vhost_user_pack(&rx->vh, raw, sizeof(raw));

			vhost_user_describe(&rx->vh, VHOST_USER_FROM_FRONTEND,
					    text, sizeof(text));
			lc_fds_describe(rx->vh.fds, rx->vh.nfds, fds,
					sizeof(fds));
			lc_trace(run, VUC_TRACE_RECV, text, raw,
				 n > 0 ? (size_t)n : 0, fds);
		}
		return 0;
	}
	if (ret == -ECONNRESET || ret == -EPIPE) {
		if (got)
			snprintf(why, cap,
				 "hang-up after %d bytes of a message", got);
		else
			snprintf(why, cap, "hang-up");
		ret = LC_HANGUP;
	} else if (ret == -ETIMEDOUT && !got) {
		snprintf(why, cap, "no reply within %d ms", lc_cut_ms(run, ms));
		if (chan_remaining_ms(run->deadline) == 0)
			snprintf(why, cap, "no reply before the case deadline");
		ret = LC_TIMEOUT;
	} else if (ret == -ETIMEDOUT) {
		snprintf(why, cap,
			 "malformed: %d bytes of a message, then "
			 "nothing",
			 got);
		ret = LC_MALFORMED;
	} else {
		snprintf(why, cap, "malformed: %s", w ? w : strerror(-ret));
		ret = LC_MALFORMED;
	}
	snprintf(text, sizeof(text), "%s: %s", lc_kind_name(ret), why);
	lc_trace(run, VUC_TRACE_NOTE, text, NULL, 0, NULL);
	return ret;
}

static void lc_push_rx(lua_State *L, struct lc_run *run, union lc_rx *rx)
{
	if (run->vfio)
		lc_push_vfio_msg(L, &rx->vf);
	else
		lc_push_vhost_msg(L, &rx->vh);
}

/* t:recv{ timeout = ms } -> message | nil, "hangup" / "timeout" /
 * "malformed: why" */
static int lc_t_recv(lua_State *L)
{
	struct lc_run *run = lc_t_run(L);
	int ms = lc_opt_int(L, 2, "timeout", run->env->timeout_ms);
	union lc_rx *rx = lua_newuserdatauv(L, sizeof(*rx), 0);
	char why[256];
	int k = lc_recv_one(run, ms, rx, why, sizeof(why));

	if (k) {
		luaL_pushfail(L);
		lua_pushstring(L, k == LC_MALFORMED ? why : lc_kind_name(k));
		return 2;
	}
	lc_push_rx(L, run, rx);
	return 1;
}

/* t:recv_raw{ timeout, max } -> bytes, fds | nil, "hangup" / "timeout" */
static int lc_t_recv_raw(lua_State *L)
{
	struct lc_run *run = lc_t_run(L);
	int ms = lc_opt_int(L, 2, "timeout", run->env->timeout_ms);
	int max = lc_opt_int(L, 2, "max", 65536);
	int fds[CHAN_MAX_FDS];
	unsigned int nfds = CHAN_MAX_FDS, i;
	char fdtext[512];
	uint8_t *buf;
	int ret;

	if (max < 1 || max > (1 << 24))
		return luaL_error(L, "max: 1 .. 16 MiB");
	buf = lua_newuserdatauv(L, (size_t)max, 0);
	ret = chan_recv_some(run->env->conn, buf, (size_t)max, fds, &nfds,
			     chan_deadline(lc_cut_ms(run, ms)), NULL);
	if (ret < 0) {
		const char *k = ret == -ETIMEDOUT ? "timeout" : "hangup";

		lc_trace(run, VUC_TRACE_NOTE, k, NULL, 0, NULL);
		luaL_pushfail(L);
		lua_pushstring(L, k);
		return 2;
	}
	lc_fds_describe(fds, nfds, fdtext, sizeof(fdtext));
	lc_trace(run, VUC_TRACE_RECV, "raw bytes", buf, (size_t)ret, fdtext);
	lua_pushlstring(L, (const char *)buf, (size_t)ret);
	lua_createtable(L, (int)nfds, 0);
	for (i = 0; i < nfds; i++) {
		lc_fd_push(L, fds[i]);
		lua_rawseti(L, -2, i + 1);
	}
	return 2;
}

/*
 * t:react(m [, opts]) -> kind, reply | nil, detail
 *
 * Send @m, wait for one message, and say what kind of reaction it was:
 * "ack", "nack", "reply", "hangup", "timeout" or "malformed".
 */
static int lc_t_react(lua_State *L)
{
	struct lc_run *run = lc_t_run(L);
	union lc_rx *rx;
	struct lc_send s;
	struct lc_wire w;
	char text[768], detail[768];
	enum lc_kind k;
	int ret, ms;

	luaL_checkany(L, 2);
	lc_encode_any(L, run, 2, lc_need_reply(L, run, 2, 3), &w);
	lc_send_opts(L, run, 3, lua_istable(L, 2) ? 2 : 0, w.len, w.hdr_len,
		     &s);
	ms = lc_opt_int(L, 3, "timeout", run->env->timeout_ms);
	lc_wire_describe_sent(w.buf, w.len, w.vfio, text, sizeof(text));
	ret = lc_send_bytes(run, w.buf, w.len, &s, text);
	if (ret < 0) {
		k = ret == -ETIMEDOUT ? LC_TIMEOUT : LC_HANGUP;
		lua_pushstring(L, lc_kind_name(k));
		luaL_pushfail(L);
		lua_pushstring(L, k == LC_HANGUP
					  ? "hang-up (the message could not "
					    "be sent)"
					  : "the target stopped reading");
		return 3;
	}
	rx = lua_newuserdatauv(L, sizeof(*rx), 0);
	ret = lc_recv_one(run, ms, rx, detail, sizeof(detail));
	if (ret) {
		lua_pushstring(L, lc_kind_name(ret));
		luaL_pushfail(L);
		lua_pushstring(L, detail);
		return 3;
	}
	if (run->vfio) {
		bool lenient = false;

		if (lua_istable(L, 3)) {
			lua_getfield(L, 3, "lenient");
			lenient = lua_toboolean(L, -1);
			lua_pop(L, 1);
		}
		k = lc_vfio_classify(w.buf, w.len, &rx->vf, lenient, detail,
				     sizeof(detail));
	} else {
		k = lc_vhost_classify(w.buf, w.len, &rx->vh, detail,
				      sizeof(detail));
	}
	lua_pushstring(L, lc_kind_name(k));
	lc_push_rx(L, run, rx);
	lua_pushstring(L, detail);
	return 3;
}

/* t:call(m [, opts]) -> reply, kind | nil, "hangup" / "timeout" /
 * "malformed: why". NEED_REPLY is added where an ack depends on it. */
static int lc_t_call(lua_State *L)
{
	const char *kind;

	lua_settop(L, 3);
	if (lua_isnil(L, 3)) {
		lua_newtable(L);
		lua_replace(L, 3);
	}
	if (lua_getfield(L, 3, "need_reply") == LUA_TNIL) {
		lua_pushliteral(L, "auto");
		lua_setfield(L, 3, "need_reply");
	}
	lua_pop(L, 1);
	lc_t_react(L); /* kind, reply | nil, detail */
	kind = lua_tostring(L, -3);
	if (!strcmp(kind, "ack") || !strcmp(kind, "nack") ||
	    !strcmp(kind, "reply")) {
		lua_pushvalue(L, -2);
		lua_pushstring(L, kind);
		return 2;
	}
	luaL_pushfail(L);
	if (!strcmp(kind, "malformed"))
		lua_pushvalue(L, -2); /* the detail says why */
	else
		lua_pushstring(L, kind);
	return 2;
}

/* ---- time, notes -------------------------------------------------------- */

static int lc_t_sleep(lua_State *L)
{
	struct lc_run *run = lc_t_run(L);
	int ms = (int)luaL_checkinteger(L, 2);

	chan_sleep_until(chan_deadline(lc_cut_ms(run, ms)));
	return 0;
}

static int lc_t_now_ms(lua_State *L)
{
	lua_pushnumber(L, lc_ms_since(lc_t_run(L)));
	return 1;
}

static int lc_t_note(lua_State *L)
{
	lc_trace(lc_t_run(L), VUC_TRACE_NOTE, luaL_checkstring(L, 2), NULL, 0,
		 NULL);
	return 0;
}

/* t:negotiated() -> the protocol features in force, or nil if unknown */
static int lc_t_negotiated(lua_State *L)
{
	struct lc_run *run = lc_t_run(L);

	if (!run->proto_known)
		luaL_pushfail(L);
	else
		lua_pushinteger(L, (lua_Integer)run->negotiated);
	return 1;
}

static int lc_t_set_negotiated(lua_State *L)
{
	struct lc_run *run = lc_t_run(L);

	run->proto_known = !lua_isnil(L, 2);
	run->negotiated = (uint64_t)luaL_optinteger(L, 2, 0);
	return 0;
}

static int lc_t_conn(lua_State *L)
{
	lua_pushinteger(L, lc_t_run(L)->env->conn);
	return 1;
}

/* t:shutdown("write" | "read" | "both"): half-close our side */
static int lc_t_shutdown(lua_State *L)
{
	static const char *const how[] = { "read", "write", "both", NULL };
	static const int hv[] = { SHUT_RD, SHUT_WR, SHUT_RDWR };
	struct lc_run *run = lc_t_run(L);
	int h = luaL_checkoption(L, 2, "write", how);
	char note[64];

	shutdown(run->env->conn, hv[h]);
	snprintf(note, sizeof(note), "shutdown %s", how[h]);
	lc_trace(run, VUC_TRACE_NOTE, note, NULL, 0, NULL);
	return 0;
}

/* ---- verdicts ----------------------------------------------------------- */

static char *lc_strdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

int lc_verdict(lua_State *L, enum vuc_verdict v, const char *reason,
	       const char *expected, const char *actual)
{
	struct lc_run *run = lc_run_of(L);

	if (run && !run->verdict_set) {
		run->verdict_set = true;
		run->verdict = v;
		free(run->res->reason);
		free(run->res->expected);
		free(run->res->actual);
		run->res->reason = lc_strdup(reason);
		run->res->expected = lc_strdup(expected);
		run->res->actual = lc_strdup(actual);
	}
	lua_pushlightuserdata(L, (void *)&lc_unwind);
	return lua_error(L);
}

/* t:fail("why") or t:fail{ expected = ..., actual = ..., reason = ... } */
static int lc_t_fail(lua_State *L)
{
	const char *exp = NULL, *act = NULL, *why = NULL;
	char where[512], reason[2048];

	lc_t_run(L);
	lc_where(L, where, sizeof(where));
	if (lua_istable(L, 2)) {
		lua_getfield(L, 2, "expected");
		exp = luaL_optstring(L, -1, NULL);
		lua_getfield(L, 2, "actual");
		act = luaL_optstring(L, -1, NULL);
		lua_getfield(L, 2, "reason");
		why = luaL_optstring(L, -1, NULL);
	} else {
		why = luaL_optstring(L, 2, "failed");
	}
	if (why)
		snprintf(reason, sizeof(reason), "%s%s%s", where,
			 *where ? ": " : "", why);
	else
		snprintf(reason, sizeof(reason), "%s%sexpected %s, got %s",
			 where, *where ? ": " : "", exp ? exp : "?",
			 act ? act : "?");
	return lc_verdict(L, VUC_FAIL, reason, exp, act);
}

static int lc_t_simple_verdict(lua_State *L, enum vuc_verdict v,
			       const char *dflt)
{
	char where[512], reason[2048];

	lc_t_run(L);
	lc_where(L, where, sizeof(where));
	if (v == VUC_SKIP) /* a skip is no fault: no position */
		snprintf(reason, sizeof(reason), "%s",
			 luaL_optstring(L, 2, dflt));
	else
		snprintf(reason, sizeof(reason), "%s%s%s", where,
			 *where ? ": " : "", luaL_optstring(L, 2, dflt));
	return lc_verdict(L, v, v == VUC_PASS ? NULL : reason, NULL, NULL);
}

static int lc_t_skip(lua_State *L)
{
	return lc_t_simple_verdict(L, VUC_SKIP, "skipped");
}

static int lc_t_error(lua_State *L)
{
	return lc_t_simple_verdict(L, VUC_ERROR, "harness error");
}

static int lc_t_pass(lua_State *L)
{
	return lc_t_simple_verdict(L, VUC_PASS, NULL);
}

/* t:check(cond, expected, actual) -> cond, or FAIL */
static int lc_t_check(lua_State *L)
{
	lc_t_run(L);
	if (lua_toboolean(L, 2)) {
		lua_pushvalue(L, 2);
		return 1;
	}
	lua_settop(L, 4);
	lua_createtable(L, 0, 2);
	lua_pushstring(L, luaL_optstring(L, 3, "the check to hold"));
	lua_setfield(L, -2, "expected");
	if (lua_isnil(L, 4))
		lua_pushliteral(L, "it did not");
	else
		luaL_tolstring(L, 4, NULL);
	lua_setfield(L, -2, "actual");
	lua_replace(L, 2);
	lua_settop(L, 2);
	return lc_t_fail(L);
}

/* ---- target control ----------------------------------------------------- */

static struct target *lc_target(lua_State *L, struct lc_run *run, bool proc)
{
	struct target *t = run->env->target;

	if (!t)
		luaL_error(L, "no target process: this run has no target "
			      "handle (target control needs --target)");
	if (proc && !run->has_process)
		luaL_error(L, "no target process: the target was reached "
			      "with --connect / --listen");
	return t;
}

static int lc_t_has_process(lua_State *L)
{
	struct lc_run *run = lc_t_run(L);

	lua_pushboolean(L, run->has_process);
	return 1;
}

/* t:restart(): a new connection (and, per-case targets, a new process) */
static int lc_t_restart(lua_State *L)
{
	struct lc_run *run = lc_t_run(L);
	struct target *t = lc_target(L, run, false);
	int fd = -1, ret = target_reconnect(t, &fd);

	if (ret < 0)
		return luaL_error(L, "restart failed: %s", strerror(-ret));
	/* The runner owns the connection; the old one is replaced. */
	close_fd(&run->env->conn);
	run->env->conn = fd;
	run->proto_known = false;
	run->negotiated = 0;
	run->next_msg_id = 1;
	lc_trace(run, VUC_TRACE_NOTE, "restart", NULL, 0, NULL);
	return 0;
}

static const struct {
	int sig;
	const char *name;
} lc_sigs[] = {
	{ SIGHUP, "HUP" },   { SIGINT, "INT" },	  { SIGQUIT, "QUIT" },
	{ SIGILL, "ILL" },   { SIGTRAP, "TRAP" }, { SIGABRT, "ABRT" },
	{ SIGBUS, "BUS" },   { SIGFPE, "FPE" },	  { SIGKILL, "KILL" },
	{ SIGUSR1, "USR1" }, { SIGSEGV, "SEGV" }, { SIGUSR2, "USR2" },
	{ SIGPIPE, "PIPE" }, { SIGALRM, "ALRM" }, { SIGTERM, "TERM" },
	{ SIGCHLD, "CHLD" }, { SIGCONT, "CONT" }, { SIGSTOP, "STOP" },
	{ SIGTSTP, "TSTP" }, { SIGSYS, "SYS" },
};

static const char *lc_sig_name(int sig)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(lc_sigs); i++)
		if (lc_sigs[i].sig == sig)
			return lc_sigs[i].name;
	return NULL;
}

/* t:signal("TERM" | "SIGTERM" | 15) */
static int lc_t_signal(lua_State *L)
{
	struct lc_run *run = lc_t_run(L);
	struct target *t = lc_target(L, run, true);
	const char *name;
	int sig = -1, ret;
	char note[64];
	size_t i;

	if (lua_isinteger(L, 2)) {
		sig = (int)lua_tointeger(L, 2);
	} else {
		const char *s = luaL_checkstring(L, 2);

		if (!strncmp(s, "SIG", 3))
			s += 3;
		for (i = 0; i < ARRAY_SIZE(lc_sigs); i++)
			if (!strcmp(lc_sigs[i].name, s))
				sig = lc_sigs[i].sig;
		if (sig < 0)
			return luaL_error(L, "unknown signal \"%s\"", s);
	}
	ret = target_signal(t, sig);
	if (ret == -ESRCH) { /* it is gone already: the case judges that */
		luaL_pushfail(L);
		lua_pushliteral(L, "no such process");
		return 2;
	}
	if (ret < 0)
		return luaL_error(L, "signal: %s", strerror(-ret));
	/* the case provokes what follows: the watchdog must not blame it */
	run->res->expect_exit = true;
	name = lc_sig_name(sig);
	snprintf(note, sizeof(note), "signal %s", name ? name : "?");
	lc_trace(run, VUC_TRACE_NOTE, note, NULL, 0, NULL);
	lua_pushboolean(L, 1);
	return 1;
}

/* t:expect_exit([bool]): the target's exit is what this case provokes */
static int lc_t_expect_exit(lua_State *L)
{
	struct lc_run *run = lc_t_run(L);

	run->res->expect_exit = lua_isnone(L, 2) || lua_toboolean(L, 2);
	return 0;
}

/* Push "exit N" / "signal SEGV" and the number for a stopped target. */
static int lc_push_exit(lua_State *L, const struct target_status *st)
{
	if (st->signal) {
		const char *n = lc_sig_name(st->signal);

		if (n)
			lua_pushfstring(L, "signal %s", n);
		else
			lua_pushfstring(L, "signal %d", st->signal);
		lua_pushinteger(L, st->signal);
	} else {
		lua_pushfstring(L, "exit %d", st->exit_code);
		lua_pushinteger(L, st->exit_code);
	}
	return 2;
}

/* t:alive() -> true | false, "exit N" / "signal NAME". After a hang-up
 * the process gets a moment to finish dying: its socket closes before its
 * exit can be seen. */
static int lc_t_alive(lua_State *L)
{
	struct lc_run *run = lc_t_run(L);
	struct target *t = lc_target(L, run, true);
	struct target_status st;
	int p = chan_poll(run->env->conn, chan_deadline(CHAN_NOWAIT));

	if (p > 0 && (p & CHAN_POLL_HUP) && !(p & CHAN_POLL_DATA))
		target_wait_exit(t, lc_cut_ms(run, 50));
	target_sample(t, &st);
	lua_pushboolean(L, st.running);
	if (st.running)
		return 1;
	lc_push_exit(L, &st);
	lua_pop(L, 1);
	return 2;
}

/* t:wait_exit(ms) -> "exit N" / "signal NAME", number | nil, "running" */
static int lc_t_wait_exit(lua_State *L)
{
	struct lc_run *run = lc_t_run(L);
	struct target *t = lc_target(L, run, true);
	int ms = (int)luaL_optinteger(L, 2, 0);
	struct target_status st;
	int ret = target_wait_exit(t, lc_cut_ms(run, ms));
	char note[64];

	if (ret < 0)
		return luaL_error(L, "wait_exit: %s", strerror(-ret));
	if (ret == 0) {
		luaL_pushfail(L);
		lua_pushliteral(L, "running");
		return 2;
	}
	target_sample(t, &st);
	lc_push_exit(L, &st);
	snprintf(note, sizeof(note), "exited: %s", lua_tostring(L, -2));
	lc_trace(run, VUC_TRACE_NOTE, note, NULL, 0, NULL);
	return 2;
}

/* t:status() -> { running, exit, signal, fd_count, rss_kb, sanitizer } */
static int lc_t_status(lua_State *L)
{
	struct lc_run *run = lc_t_run(L);
	struct target_status st;

	target_sample(lc_target(L, run, true), &st);
	lua_createtable(L, 0, 6);
	lua_pushboolean(L, st.running);
	lua_setfield(L, -2, "running");
	if (!st.running) {
		lc_push_exit(L, &st);
		lua_pop(L, 1);
		lua_setfield(L, -2, "exit");
	}
	lua_pushinteger(L, st.fd_count);
	lua_setfield(L, -2, "fd_count");
	lua_pushinteger(L, st.rss_kb);
	lua_setfield(L, -2, "rss_kb");
	lua_pushboolean(L, st.sanitizer);
	lua_setfield(L, -2, "sanitizer");
	return 1;
}

static int lc_t_fd_count(lua_State *L)
{
	struct lc_run *run = lc_t_run(L);
	struct target_status st;

	target_sample(lc_target(L, run, true), &st);
	if (st.fd_count < 0)
		luaL_pushfail(L);
	else
		lua_pushinteger(L, st.fd_count);
	return 1;
}

static int lc_t_stderr(lua_State *L)
{
	struct lc_run *run = lc_t_run(L);
	struct target *t = lc_target(L, run, false);
	char *buf = lua_newuserdatauv(L, 65536, 0);
	size_t n = target_stderr_tail(t, buf, 65536);

	lua_pushlstring(L, buf, n);
	return 1;
}

static int lc_t_socket_path(lua_State *L)
{
	struct lc_run *run = lc_t_run(L);
	const char *p = target_socket_path(lc_target(L, run, false));

	if (p)
		lua_pushstring(L, p);
	else
		luaL_pushfail(L);
	return 1;
}

static int lc_t_pid(lua_State *L)
{
	struct lc_run *run = lc_t_run(L);
	pid_t pid = target_pid(lc_target(L, run, true));

	if (pid < 0)
		luaL_pushfail(L);
	else
		lua_pushinteger(L, pid);
	return 1;
}

/* ---- t:run_program: the target's program with other arguments ---------- */

/*
 * The vhost-user "Backend program conventions" are about the program, not
 * a session: --print-capabilities, --fd=FDNUM, failing early on bad
 * options. t:run_program() runs the running target's executable again
 * (/proc/PID/exe) with the arguments a case gives, in its own process
 * group, stdin /dev/null, stdout and stderr captured, and waits for it to
 * end within its timeout (cut to the case's deadline); past that the group
 * is killed. Nothing outlives the call.
 */
#define LC_PROG_MAX_ARGS 32
#define LC_PROG_MAX_OUT (64 * 1024)
#define LC_PROG_CHILD_FD 3

/* What one run collected: stdout, stderr, bytes from the socket. */
struct lc_prog_buf {
	char data[LC_PROG_MAX_OUT];
	size_t len;
};

static int lc_prog_exe(lua_State *L, struct lc_run *run, char *buf, size_t cap)
{
	pid_t pid = target_pid(lc_target(L, run, true));
	char link[64];
	ssize_t n;

	if (pid < 0)
		return -ESRCH;
	snprintf(link, sizeof(link), "/proc/%d/exe", (int)pid);
	n = readlink(link, buf, cap - 1);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return 0;
}

/* t:program() -> { exe = "/path", argv = { ... } } of the running target,
 * or nil, why */
static int lc_t_program(lua_State *L)
{
	struct lc_run *run = lc_t_run(L);
	pid_t pid = target_pid(lc_target(L, run, true));
	char path[PATH_MAX], cmd[4096];
	ssize_t n = -1;
	int fd, ret, i = 1;
	char *p;

	ret = lc_prog_exe(L, run, path, sizeof(path));
	if (ret < 0) {
		luaL_pushfail(L);
		lua_pushstring(L, strerror(-ret));
		return 2;
	}
	snprintf(cmd, sizeof(cmd), "/proc/%d/cmdline", (int)pid);
	fd = open(cmd, O_RDONLY | O_CLOEXEC);
	if (fd >= 0)
		n = read(fd, cmd, sizeof(cmd) - 1);
	close_fd(&fd);
	if (n < 0)
		n = 0;
	cmd[n] = '\0';
	lua_createtable(L, 0, 2);
	lua_pushstring(L, path);
	lua_setfield(L, -2, "exe");
	lua_newtable(L);
	for (p = cmd; p < cmd + n; p += strlen(p) + 1) {
		lua_pushstring(L, p);
		lua_rawseti(L, -2, i++);
	}
	lua_setfield(L, -2, "argv");
	return 1;
}

/* Read what is there from *@fd into @b; *@fd becomes -1 at end of file. */
static void lc_prog_drain(int *fd, struct lc_prog_buf *b)
{
	char buf[4096];
	ssize_t n = read(*fd, buf, sizeof(buf));
	size_t room = sizeof(b->data) - b->len;

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		close_fd(fd);
		return;
	}
	if ((size_t)n < room)
		room = (size_t)n;
	memcpy(b->data + b->len, buf, room);
	b->len += room;
}

/* A listening socket in @dir (sv[1], for the child) and our connection to
 * it (sv[0]; the kernel queues it until the child accepts). The socket
 * file is removed at once: both ends exist already. Return: 0 or -errno. */
static int lc_prog_listener(const char *dir, int sv[2])
{
	static unsigned int seq;
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int ret = 0;

	if (!dir)
		return -ENOENT;
	if ((size_t)snprintf(a.sun_path, sizeof(a.sun_path), "%s/prog-%u.sock",
			     dir, seq++) >= sizeof(a.sun_path))
		return -ENAMETOOLONG;
	sv[1] = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	sv[0] = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (sv[0] < 0 || sv[1] < 0 ||
	    bind(sv[1], (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    listen(sv[1], 1) < 0 ||
	    connect(sv[0], (struct sockaddr *)&a, sizeof(a)) < 0)
		ret = -errno;
	unlink(a.sun_path);
	return ret;
}

/* fork + exec @argv with stdin /dev/null, stdout @out, stderr @err and, if
 * @sock >= 0, @sock as fd LC_PROG_CHILD_FD. Return: the pid, or -errno. */
static pid_t lc_prog_spawn(char **argv, int out, int err, int sock)
{
	pid_t pid = fork();
	int nul, fd;

	if (pid < 0)
		return -errno;
	if (pid > 0)
		return pid;
	/* the child: async-signal-safe calls only */
	setpgid(0, 0);
	nul = open("/dev/null", O_RDONLY);
	if (nul < 0 || dup2(nul, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)
		_exit(127);
	if (sock >= 0 && dup2(sock, LC_PROG_CHILD_FD) < 0)
		_exit(127);
	for (fd = sock >= 0 ? LC_PROG_CHILD_FD + 1 : LC_PROG_CHILD_FD;
	     fd < 1024; fd++)
		close(fd);
	signal(SIGPIPE, SIG_DFL);
	execv(argv[0], argv);
	_exit(127);
}

/* Wait for @pid and collect its output until it ended and its pipes are
 * at end of file, or @deadline. Return: true if it ended in time. */
static bool lc_prog_wait(pid_t pid, int *fds, struct lc_prog_buf **bufs,
			 const char *data, size_t data_len, size_t reply_bytes,
			 int64_t deadline, int *wstatus)
{
	size_t sent = 0;
	bool reaped = false;

	while (!reaped || fds[0] >= 0 || fds[1] >= 0) {
		struct pollfd p[3];
		int i, left = chan_remaining_ms(deadline);

		if (!reaped && waitpid(pid, wstatus, WNOHANG) == pid)
			reaped = true;
		if (left <= 0)
			return reaped;
		for (i = 0; i < 3; i++) {
			p[i].fd = fds[i];
			p[i].events = POLLIN;
			p[i].revents = 0;
		}
		if (fds[2] >= 0 && sent < data_len)
			p[2].events |= POLLOUT;
		if (reaped && fds[0] < 0 && fds[1] < 0)
			break;
		/* poll in short steps: the child's exit has no fd here */
		if (poll(p, 3, left < 20 ? left : 20) < 0 && errno != EINTR)
			return reaped;
		if (p[0].revents)
			lc_prog_drain(&fds[0], bufs[0]);
		if (p[1].revents)
			lc_prog_drain(&fds[1], bufs[1]);
		if (fds[2] >= 0 && (p[2].revents & POLLOUT)) {
			ssize_t n = send(fds[2], data + sent, data_len - sent,
					 MSG_NOSIGNAL | MSG_DONTWAIT);

			if (n > 0)
				sent += (size_t)n;
			else if (n < 0 && errno != EAGAIN && errno != EINTR)
				close_fd(&fds[2]);
		}
		if (fds[2] >= 0 && (p[2].revents & (POLLIN | POLLHUP)))
			lc_prog_drain(&fds[2], bufs[2]);
		/* the answer is in: hang up, as a front-end leaving does */
		if (fds[2] >= 0 && sent == data_len &&
		    bufs[2]->len >= reply_bytes)
			close_fd(&fds[2]);
	}
	return true;
}

/*
 * t:run_program(args [, opts]) -> { status = "exit N" | "signal NAME" |
 *   "timeout", code, stdout, stderr, reply, ms }
 * Runs the target's own executable with @args (strings; "{dir}" becomes
 * the target's private directory, "{fd}" the number of the connected
 * socket the program inherits with opts.send). opts.timeout (ms, default
 * 3000, cut to the case deadline); opts.send: bytes written to that socket
 * once the program runs; opts.listen: that socket is a listening one
 * (we are its first connection) instead of a connected one;
 * opts.reply_bytes (default 1): our end of the socket is closed once that
 * many bytes came back.
 */
static int lc_t_run_program(lua_State *L)
{
	struct lc_run *run = lc_t_run(L);
	const char *dir = target_dir(lc_target(L, run, true));
	const char *send = NULL, *nm;
	char exe[PATH_MAX], *argv[LC_PROG_MAX_ARGS + 2], note[768];
	int outp[2] = { -1, -1 }, errp[2] = { -1, -1 }, sv[2] = { -1, -1 };
	int fds[3], ms, ret, nargs, i, k, wstatus = 0;
	size_t send_len = 0, used;
	struct lc_prog_buf *bufs[3] = { NULL, NULL, NULL };
	int64_t t0 = chan_now();
	bool ended, listening = false;
	pid_t pid;

	luaL_checktype(L, 2, LUA_TTABLE);
	ms = lc_opt_int(L, 3, "timeout", 3000);
	i = lc_opt_int(L, 3, "reply_bytes", 1);
	if (lua_type(L, 3) == LUA_TTABLE) {
		/* the string stays referenced by opts until we return */
		lua_getfield(L, 3, "send");
		if (!lua_isnil(L, -1))
			send = luaL_checklstring(L, -1, &send_len);
		lua_pop(L, 1);
	}
	if (lua_type(L, 3) == LUA_TTABLE) {
		lua_getfield(L, 3, "listen");
		listening = lua_toboolean(L, -1);
		lua_pop(L, 1);
	}
	ret = lc_prog_exe(L, run, exe, sizeof(exe));
	if (ret < 0)
		return luaL_error(L, "run_program: the target's program: %s",
				  strerror(-ret));
	nargs = (int)luaL_len(L, 2);
	if (nargs > LC_PROG_MAX_ARGS)
		return luaL_error(L, "run_program: at most %d arguments",
				  LC_PROG_MAX_ARGS);
	luaL_checkstack(L, 4 * nargs + 8, "run_program arguments");
	argv[0] = exe;
	used = (size_t)snprintf(note, sizeof(note), "run_program:");
	for (k = 1; k <= nargs; k++) {
		lua_geti(L, 2, k);
		luaL_checkstring(L, -1);
		luaL_gsub(L, lua_tostring(L, -1), "{dir}", dir ? dir : ".");
		lua_pushfstring(L, "%d", LC_PROG_CHILD_FD);
		/* the strings stay on the stack until we return */
		argv[k] = (char *)luaL_gsub(L, lua_tostring(L, -2), "{fd}",
					    lua_tostring(L, -1));
		if (used < sizeof(note))
			used += (size_t)snprintf(note + used,
						 sizeof(note) - used, " %s",
						 argv[k]);
	}
	argv[nargs + 1] = NULL;
	if (used < sizeof(note) && send)
		used += (size_t)snprintf(
			note + used, sizeof(note) - used,
			" [%s socket as fd %d, %zu bytes sent]",
			listening ? "listening" : "connected", LC_PROG_CHILD_FD,
			send_len);
	lc_trace(run, VUC_TRACE_NOTE, note, NULL, 0, NULL);

	for (k = 0; k < 3; k++) {
		bufs[k] = calloc(1, sizeof(*bufs[k]));
		if (!bufs[k]) {
			ret = -ENOMEM;
			goto out;
		}
	}
	if (pipe2(outp, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0) {
		ret = -errno;
		goto out;
	}
	if (send && listening)
		ret = lc_prog_listener(dir, sv);
	else if (send &&
		 socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		ret = -errno;
	if (ret < 0)
		goto out;
	pid = lc_prog_spawn(argv, outp[1], errp[1], sv[1]);
	if (pid < 0) {
		ret = (int)pid;
		goto out;
	}
	close_fd(&outp[1]);
	close_fd(&errp[1]);
	close_fd(&sv[1]);
	fds[0] = outp[0];
	fds[1] = errp[0];
	fds[2] = sv[0];
	ended = lc_prog_wait(pid, fds, bufs, send, send_len,
			     i > 0 ? (size_t)i : 1,
			     chan_deadline(lc_cut_ms(run, ms)), &wstatus);
	outp[0] = fds[0];
	errp[0] = fds[1];
	sv[0] = fds[2];
	if (!ended) {
		/* its whole group: whatever it forked goes too */
		kill(-pid, SIGKILL);
		kill(pid, SIGKILL);
		while (waitpid(pid, &wstatus, 0) < 0 && errno == EINTR)
			;
	}
	lua_createtable(L, 0, 6);
	if (!ended) {
		lua_pushliteral(L, "timeout");
	} else if (WIFSIGNALED(wstatus)) {
		nm = lc_sig_name(WTERMSIG(wstatus));
		if (nm)
			lua_pushfstring(L, "signal %s", nm);
		else
			lua_pushfstring(L, "signal %d", WTERMSIG(wstatus));
		lua_pushinteger(L, WTERMSIG(wstatus));
		lua_setfield(L, -3, "code");
	} else {
		lua_pushfstring(L, "exit %d", WEXITSTATUS(wstatus));
		lua_pushinteger(L, WEXITSTATUS(wstatus));
		lua_setfield(L, -3, "code");
	}
	snprintf(note, sizeof(note), "run_program: %s after %.0f ms",
		 lua_tostring(L, -1), (double)(chan_now() - t0) / 1e6);
	lc_trace(run, VUC_TRACE_NOTE, note, NULL, 0, NULL);
	lua_setfield(L, -2, "status");
	lua_pushlstring(L, bufs[0]->data, bufs[0]->len);
	lua_setfield(L, -2, "stdout");
	lua_pushlstring(L, bufs[1]->data, bufs[1]->len);
	lua_setfield(L, -2, "stderr");
	lua_pushlstring(L, bufs[2]->data, bufs[2]->len);
	lua_setfield(L, -2, "reply");
	lua_pushnumber(L, (double)(chan_now() - t0) / 1e6);
	lua_setfield(L, -2, "ms");
	ret = 0;
out:
	close_fd(&outp[0]);
	close_fd(&outp[1]);
	close_fd(&errp[0]);
	close_fd(&errp[1]);
	close_fd(&sv[0]);
	close_fd(&sv[1]);
	for (k = 0; k < 3; k++)
		free(bufs[k]);
	if (ret < 0)
		return luaL_error(L, "run_program: %s", strerror(-ret));
	return 1;
}

static int lc_t_tostring(lua_State *L)
{
	struct lc_t *t = luaL_checkudata(L, 1, LC_T_MT);

	lua_pushfstring(L, "t(%s)", t->run ? t->run->c->id : "over");
	return 1;
}

static const luaL_Reg lc_t_methods[] = {
	{ "send", lc_t_send },
	{ "send_many", lc_t_send_many },
	{ "send_bytes", lc_t_send_bytes },
	{ "recv", lc_t_recv },
	{ "recv_raw", lc_t_recv_raw },
	{ "react", lc_t_react },
	{ "call", lc_t_call },
	{ "sleep", lc_t_sleep },
	{ "now_ms", lc_t_now_ms },
	{ "note", lc_t_note },
	{ "negotiated", lc_t_negotiated },
	{ "set_negotiated", lc_t_set_negotiated },
	{ "conn", lc_t_conn },
	{ "shutdown", lc_t_shutdown },
	{ "fail", lc_t_fail },
	{ "skip", lc_t_skip },
	{ "error", lc_t_error },
	{ "pass", lc_t_pass },
	{ "check", lc_t_check },
	{ "has_process", lc_t_has_process },
	{ "restart", lc_t_restart },
	{ "signal", lc_t_signal },
	{ "alive", lc_t_alive },
	{ "expect_exit", lc_t_expect_exit },
	{ "wait_exit", lc_t_wait_exit },
	{ "status", lc_t_status },
	{ "fd_count", lc_t_fd_count },
	{ "stderr", lc_t_stderr },
	{ "socket_path", lc_t_socket_path },
	{ "pid", lc_t_pid },
	{ "program", lc_t_program },
	{ "run_program", lc_t_run_program },
	{ NULL, NULL },
};

void lc_t_open(lua_State *L)
{
	luaL_newmetatable(L, LC_T_MT);
	/* the methods table: C here, Lua ones added by the prelude */
	luaL_newlib(L, lc_t_methods);
	lua_getglobal(L, "__vuc");
	lua_pushvalue(L, -2);
	lua_setfield(L, -2, "T");
	lua_pop(L, 1);
	lua_pushcclosure(L, lc_t_index, 1);
	lua_setfield(L, -2, "__index");
	lua_pushcfunction(L, lc_t_newindex);
	lua_setfield(L, -2, "__newindex");
	lua_pushcfunction(L, lc_t_tostring);
	lua_setfield(L, -2, "__tostring");
	lua_pop(L, 1);
}
