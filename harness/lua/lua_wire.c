// SPDX-License-Identifier: MIT
/*
 * lua_wire.c - the `vhost` and `vfio` modules: messages as Lua tables,
 * built from the wire layer's builders by spec name, raw forms that can
 * lie in every field, the rule tables, received messages decoded, and the
 * judgement of a reply (what kind of reaction it is).
 *
 * A message table is plain data a case may edit before sending:
 *   vhost-user: { proto = "vhost-user", request, flags, size, payload,
 *		   fds = { ... }, verbatim = bool }
 *   vfio-user:  { proto = "vfio-user", command, msg_id, msg_size, flags,
 *		   error, payload, fds, verbatim }
 * Unless verbatim, the payload sent is cut or zero-padded to what the
 * header says (size, msg_size - 16), so an edited size is a well-framed
 * lie; verbatim sends the header and payload exactly as they are.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "lua/lua_internal.h"
#include "transport/fdzoo.h"
#include "wire/vfio_user_caps.h"

/* Zero padding of a lying vfio-user msg_size stops here (1 MiB). */
#define LC_VFIO_PAD_MAX (1u << 20)

/* ---- small helpers ------------------------------------------------------ */

static bool lc_has(lua_State *L, int idx, const char *k)
{
	bool has = lua_getfield(L, idx, k) != LUA_TNIL;

	lua_pop(L, 1);
	return has;
}

/* Integer field @k (or @alt) of the table at @idx, @dflt when absent. A
 * missing table (@idx 0) gives @dflt. */
static uint64_t lc_u64(lua_State *L, int idx, const char *k, const char *alt,
		       uint64_t dflt)
{
	uint64_t v = dflt;
	int t;

	if (!idx)
		return dflt;
	t = lua_getfield(L, idx, k);
	if (t == LUA_TNIL && alt) {
		lua_pop(L, 1);
		t = lua_getfield(L, idx, alt);
	}
	if (t == LUA_TBOOLEAN)
		v = lua_toboolean(L, -1);
	else if (t != LUA_TNIL) {
		if (!lua_isinteger(L, -1) && !lua_isnumber(L, -1))
			luaL_error(L, "field '%s': expected an integer, got %s",
				   k, luaL_typename(L, -1));
		v = lua_isinteger(L, -1) ? (uint64_t)lua_tointeger(L, -1)
					 : (uint64_t)lua_tonumber(L, -1);
	}
	lua_pop(L, 1);
	return v;
}

/* String field; NULL when absent. Valid while the table holds it. */
static const char *lc_str(lua_State *L, int idx, const char *k, size_t *len)
{
	const char *s = NULL;

	if (!idx)
		return NULL;
	if (lua_getfield(L, idx, k) != LUA_TNIL)
		s = luaL_checklstring(L, -1, len);
	lua_pop(L, 1); /* the table keeps the string alive */
	return s;
}

static void lc_setint(lua_State *L, const char *k, uint64_t v)
{
	lua_pushinteger(L, (lua_Integer)v);
	lua_setfield(L, -2, k);
}

static void lc_setstr(lua_State *L, const char *k, const char *v)
{
	lua_pushstring(L, v);
	lua_setfield(L, -2, k);
}

/* Strip "VHOST_USER_" / "VFIO_USER_" so short names work too. */
static bool lc_name_eq(const char *full, const char *prefix, const char *s)
{
	size_t n = strlen(prefix);

	if (!full)
		return false;
	if (!strcasecmp(full, s))
		return true;
	return !strncmp(full, prefix, n) && !strcasecmp(full + n, s);
}

/* ---- errno names (vfio-user error replies) ----------------------------- */

static const struct {
	int e;
	const char *name;
} lc_errnos[] = {
	{ EPERM, "EPERM" },
	{ ENOENT, "ENOENT" },
	{ EIO, "EIO" },
	{ ENXIO, "ENXIO" },
	{ E2BIG, "E2BIG" },
	{ EBADF, "EBADF" },
	{ EAGAIN, "EAGAIN" },
	{ ENOMEM, "ENOMEM" },
	{ EACCES, "EACCES" },
	{ EFAULT, "EFAULT" },
	{ EBUSY, "EBUSY" },
	{ EEXIST, "EEXIST" },
	{ ENODEV, "ENODEV" },
	{ EINVAL, "EINVAL" },
	{ ENOSPC, "ENOSPC" },
	{ ERANGE, "ERANGE" },
	{ ENOSYS, "ENOSYS" },
	{ ENOTSUP, "ENOTSUP" },
	{ EPROTO, "EPROTO" },
	{ EBADMSG, "EBADMSG" },
	{ EOVERFLOW, "EOVERFLOW" },
	{ EMSGSIZE, "EMSGSIZE" },
	{ ENOTTY, "ENOTTY" },
	{ ETIMEDOUT, "ETIMEDOUT" },
	{ ECONNRESET, "ECONNRESET" },
};

const char *lc_errno_name(int e)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(lc_errnos); i++)
		if (lc_errnos[i].e == e)
			return lc_errnos[i].name;
	return NULL;
}

int lc_errno_by_name(const char *s)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(lc_errnos); i++)
		if (!strcmp(lc_errnos[i].name, s))
			return lc_errnos[i].e;
	return -1;
}

/* ---- vhost-user: names and rules --------------------------------------- */

static const struct vhost_user_rule *lc_vhost_rule_by_name(const char *s)
{
	const struct vhost_user_rule *r;

	vhost_user_for_each_rule (r) {
		if (lc_name_eq(r->name, "VHOST_USER_", s) ||
		    lc_name_eq(r->alias, "VHOST_USER_", s))
			return r;
	}
	return NULL;
}

/* A request at @idx: a spec name (either direction) or a code (front-end
 * space). Return: the code; *@rule is its rule or NULL. */
static uint32_t lc_vhost_request(lua_State *L, int idx,
				 const struct vhost_user_rule **rule)
{
	if (lua_type(L, idx) == LUA_TSTRING) {
		*rule = lc_vhost_rule_by_name(lua_tostring(L, idx));
		if (!*rule)
			luaL_error(L, "no vhost-user request is called \"%s\"",
				   lua_tostring(L, idx));
		return (*rule)->code;
	}
	if (!lua_isinteger(L, idx))
		luaL_error(L, "request: a spec name or a number, got %s",
			   luaL_typename(L, idx));
	*rule = vhost_user_rule_find(VHOST_USER_FROM_FRONTEND,
				     (uint32_t)lua_tointeger(L, idx));
	return (uint32_t)lua_tointeger(L, idx);
}

static int lc_protocol_bit(const char *s)
{
	unsigned int b;

	for (b = 0; b < VHOST_USER_PROTOCOL_F_MAX; b++)
		if (lc_name_eq(vhost_user_protocol_feature_name(b),
			       "VHOST_USER_PROTOCOL_F_", s))
			return (int)b;
	if (!strcasecmp(s, "SLAVE_REQ"))
		return VHOST_USER_PROTOCOL_F_BACKEND_REQ;
	if (!strcasecmp(s, "SLAVE_SEND_FD"))
		return VHOST_USER_PROTOCOL_F_BACKEND_SEND_FD;
	return -1;
}

/* The virtio feature bits cases name; numbers work for the rest. */
static const struct {
	const char *name;
	int bit;
} lc_virtio_features[] = {
	{ "NOTIFY_ON_EMPTY", 24 }, { "LOG_ALL", 26 },
	{ "ANY_LAYOUT", 27 },	   { "INDIRECT_DESC", 28 },
	{ "EVENT_IDX", 29 },	   { "PROTOCOL_FEATURES", 30 },
	{ "VERSION_1", 32 },	   { "ACCESS_PLATFORM", 33 },
	{ "IOMMU_PLATFORM", 33 },  { "RING_PACKED", 34 },
	{ "IN_ORDER", 35 },	   { "ORDER_PLATFORM", 36 },
	{ "SR_IOV", 37 },	   { "NOTIFICATION_DATA", 38 },
	{ "RING_RESET", 40 },
};

int lc_virtio_feature_bit(const char *s)
{
	const char *p = s;
	size_t i;

	if (!strncasecmp(p, "VIRTIO_F_", 9))
		p += 9;
	else if (!strncasecmp(p, "VHOST_USER_F_", 13))
		p += 13;
	else if (!strncasecmp(p, "VHOST_F_", 8))
		p += 8;
	for (i = 0; i < ARRAY_SIZE(lc_virtio_features); i++)
		if (!strcasecmp(lc_virtio_features[i].name, p))
			return lc_virtio_features[i].bit;
	return -1;
}

int lc_protocol_feature_bit(const char *s)
{
	return lc_protocol_bit(s);
}

/* A feature mask at @idx: a number, or a list of names / bit numbers. */
static uint64_t lc_feature_mask(lua_State *L, int idx, bool protocol)
{
	uint64_t mask = 0;
	lua_Integer i, n;

	idx = lua_absindex(L, idx);
	if (lua_isinteger(L, idx))
		return (uint64_t)lua_tointeger(L, idx);
	luaL_checktype(L, idx, LUA_TTABLE);
	n = luaL_len(L, idx);
	for (i = 1; i <= n; i++) {
		int bit;

		lua_geti(L, idx, i);
		if (lua_isinteger(L, -1))
			bit = (int)lua_tointeger(L, -1);
		else if (protocol)
			bit = lc_protocol_bit(luaL_checkstring(L, -1));
		else
			bit = lc_virtio_feature_bit(luaL_checkstring(L, -1));
		if (bit < 0 || bit > 63)
			luaL_error(L, "unknown %sfeature \"%s\"",
				   protocol ? "protocol " : "",
				   lua_tostring(L, -1));
		mask |= UINT64_C(1) << bit;
		lua_pop(L, 1);
	}
	return mask;
}

/* vhost.features(list) / vhost.protocol_features(list) -> mask */
static int lc_vhost_features(lua_State *L)
{
	lua_pushinteger(L, (lua_Integer)lc_feature_mask(L, 1, false));
	return 1;
}

static int lc_vhost_protocol_features(lua_State *L)
{
	lua_pushinteger(L, (lua_Integer)lc_feature_mask(L, 1, true));
	return 1;
}

/* vhost.protocol_feature_names(mask) -> { "REPLY_ACK", ... } */
static int lc_vhost_protocol_names(lua_State *L)
{
	uint64_t mask = (uint64_t)luaL_checkinteger(L, 1);
	unsigned int b;
	int i = 1;

	lua_newtable(L);
	for (b = 0; b < 64; b++) {
		const char *n;

		if (!(mask & (UINT64_C(1) << b)))
			continue;
		n = vhost_user_protocol_feature_name(b);
		if (n && !strncmp(n, "VHOST_USER_PROTOCOL_F_", 22))
			lua_pushstring(L, n + 22);
		else
			lua_pushfstring(L, "bit %d", (int)b);
		lua_rawseti(L, -2, i++);
	}
	return 1;
}

static int lc_vhost_code(lua_State *L)
{
	const struct vhost_user_rule *r;

	lua_pushinteger(L, lc_vhost_request(L, 1, &r));
	return 1;
}

static int lc_vhost_name(lua_State *L)
{
	const char *n = vhost_user_request_name(
		VHOST_USER_FROM_FRONTEND, (uint32_t)luaL_checkinteger(L, 1));

	if (n)
		lua_pushstring(L, n);
	else
		luaL_pushfail(L);
	return 1;
}

static const char *const lc_size_rule_names[] = {
	"exact",      "min",	"max",	      "mem_table",
	"mem_region", "config", "of_request",
};
static const char *const lc_fd_rule_names[] = {
	"none",		  "one",      "one_unless_nofd",   "per_region",
	"one_if_feature", "optional", "none_tolerate_one", "one_unless_empty",
};
static const char *const lc_reply_rule_names[] = {
	"always",
	"if_acked",
	"if_feature",
};

static void lc_push_protocol_list(lua_State *L, uint64_t mask)
{
	lua_pushcfunction(L, lc_vhost_protocol_names);
	lua_pushinteger(L, (lua_Integer)mask);
	lua_call(L, 1, 1);
}

/* vhost.rules() -> one table per request of both directions */
static int lc_vhost_rules(lua_State *L)
{
	const struct vhost_user_rule *r;
	int i = 1;

	lua_createtable(L, (int)vhost_user_rule_count, 0);
	vhost_user_for_each_rule (r) {
		lua_createtable(L, 0, 20);
		lc_setstr(L, "name", r->name);
		if (r->alias)
			lc_setstr(L, "alias", r->alias);
		lc_setint(L, "code", r->code);
		lc_setstr(L, "dir",
			  r->dir == VHOST_USER_FROM_FRONTEND ? "front-end"
							     : "back-end");
		lc_setstr(L, "layout", vhost_user_layout_name(r->layout));
		lc_setstr(L, "size_rule", lc_size_rule_names[r->size_rule]);
		lc_setint(L, "size", r->size);
		lc_setstr(L, "fds", lc_fd_rule_names[r->fds]);
		lc_setint(L, "max_fds", r->max_fds);
		lc_setstr(L, "reply", lc_reply_rule_names[r->reply]);
		lc_setstr(L, "reply_layout",
			  vhost_user_layout_name(r->reply_layout));
		lc_setint(L, "gate_bits", r->gate);
		lc_push_protocol_list(L, r->gate);
		lua_setfield(L, -2, "gate");
		lc_setint(L, "features", r->features);
		lua_pushboolean(L, r->flags & VHOST_USER_RULE_DEPRECATED);
		lua_setfield(L, -2, "deprecated");
		lua_pushboolean(L, r->flags & VHOST_USER_RULE_VRING_INDEX);
		lua_setfield(L, -2, "vring_index");
		if (r->anchor)
			lc_setstr(L, "anchor", r->anchor);
		if (r->see)
			lc_setstr(L, "see", r->see);
		lua_rawseti(L, -2, i++);
	}
	return 1;
}

/* ---- vhost-user: building ---------------------------------------------- */

/* Push the message table of @m (fds not included). */
static void lc_push_vhost_table(lua_State *L, const struct vhost_user_msg *m,
				bool verbatim)
{
	const char *n = vhost_user_request_name(VHOST_USER_FROM_FRONTEND,
						m->hdr.request);
	size_t plen = m->hdr.size <= VHOST_USER_PAYLOAD_MAX
			      ? m->hdr.size
			      : VHOST_USER_PAYLOAD_MAX;

	lua_createtable(L, 0, 10);
	lc_setstr(L, "proto", "vhost-user");
	lc_setint(L, "request", m->hdr.request);
	if (n)
		lc_setstr(L, "name", n);
	lc_setint(L, "flags", m->hdr.flags);
	lc_setint(L, "size", m->hdr.size);
	lua_pushlstring(L, (const char *)m->payload, plen);
	lua_setfield(L, -2, "payload");
	if (verbatim) {
		lua_pushboolean(L, 1);
		lua_setfield(L, -2, "verbatim");
	}
}

/* Append fd values to the "fds" list of the table on top. */
static void lc_append_fd(lua_State *L, int fdval)
{
	lua_Integer n;

	fdval = lua_absindex(L, fdval);
	if (lua_getfield(L, -1, "fds") == LUA_TNIL) {
		lua_pop(L, 1);
		lua_newtable(L);
		lua_pushvalue(L, -1);
		lua_setfield(L, -3, "fds");
	}
	n = luaL_len(L, -1);
	lua_pushvalue(L, fdval);
	lua_rawseti(L, -2, n + 1);
	lua_pop(L, 1);
}

static void lc_read_region(lua_State *L, int idx,
			   struct vhost_user_mem_region *r)
{
	r->guest_addr = lc_u64(L, idx, "guest_addr", "gpa", 0);
	r->size = lc_u64(L, idx, "size", NULL, 0);
	r->user_addr = lc_u64(L, idx, "user_addr", "uaddr", 0);
	r->mmap_offset = lc_u64(L, idx, "mmap_offset", "offset", 0);
}

/* vhost.msg(name, fields) -> message table */
static int lc_vhost_msg(lua_State *L)
{
	const struct vhost_user_rule *rule;
	uint32_t req = lc_vhost_request(L, 1, &rule);
	int f = lua_istable(L, 2) ? 2 : 0;
	struct vhost_user_msg *m;
	const char *s;
	size_t len = 0;
	int ret = 0;
	uint64_t u;

	if (!rule)
		return luaL_error(L, "request %d has no layout: use vhost.raw",
				  (int)req);
	m = lua_newuserdatauv(L, sizeof(*m), 0); /* scratch, collected */
	vhost_user_msg_init(m);
	s = lc_str(L, f, "payload", &len);
	if (s) {
		ret = vhost_user_build_raw(m, req, s, len);
		goto built;
	}
	switch (rule->layout) {
	case VHOST_USER_LAYOUT_EMPTY:
		ret = vhost_user_build_empty(m, req);
		break;
	case VHOST_USER_LAYOUT_U64:
	case VHOST_USER_LAYOUT_MAC:
	case VHOST_USER_LAYOUT_PROTOCOL_FEATURES:
		u = lc_u64(L, f, "u64", "value", 0);
		if (f && lua_getfield(L, f, "features") != LUA_TNIL)
			u = lc_feature_mask(
				L, -1,
				rule->layout ==
					VHOST_USER_LAYOUT_PROTOCOL_FEATURES);
		if (f)
			lua_pop(L, 1);
		ret = vhost_user_build_u64(m, req, u);
		break;
	case VHOST_USER_LAYOUT_VRING_FD:
		u = lc_u64(L, f, "index", NULL, 0) & VHOST_USER_VRING_IDX_MASK;
		/* No fd given: say so with the NOFD bit, unless told. */
		if ((f && lc_has(L, f, "nofd"))
			    ? lc_u64(L, f, "nofd", NULL, 0) != 0
			    : !(f && lc_has(L, f, "fd")))
			u |= VHOST_USER_VRING_NOFD_MASK;
		u = lc_u64(L, f, "u64", NULL, u);
		ret = vhost_user_build_u64(m, req, u);
		break;
	case VHOST_USER_LAYOUT_VRING_STATE:
	case VHOST_USER_LAYOUT_VRING_BASE:
		ret = vhost_user_build_vring_state(
			m, req, (uint32_t)lc_u64(L, f, "index", NULL, 0),
			(uint32_t)lc_u64(L, f, "num", NULL, 0));
		break;
	case VHOST_USER_LAYOUT_VRING_ADDR: {
		struct vhost_user_vring_addr a = {
			.index = (uint32_t)lc_u64(L, f, "index", NULL, 0),
			.flags = (uint32_t)lc_u64(L, f, "flags", NULL, 0),
			.desc = lc_u64(L, f, "desc", NULL, 0),
			.used = lc_u64(L, f, "used", NULL, 0),
			.avail = lc_u64(L, f, "avail", NULL, 0),
			.log = lc_u64(L, f, "log", NULL, 0),
		};

		ret = vhost_user_build_vring_addr(m, req, &a);
		break;
	}
	case VHOST_USER_LAYOUT_MEM_TABLE: {
		struct vhost_user_mem_region regs[VHOST_USER_MAX_MEM_REGIONS];
		lua_Integer i, n = 0;

		if (f && lua_getfield(L, f, "regions") == LUA_TTABLE) {
			n = luaL_len(L, -1);
			if (n > VHOST_USER_MAX_MEM_REGIONS)
				return luaL_error(L,
						  "more than %d regions: "
						  "build it with vhost.raw",
						  VHOST_USER_MAX_MEM_REGIONS);
			for (i = 1; i <= n; i++) {
				lua_geti(L, -1, i);
				lc_read_region(L, lua_gettop(L), &regs[i - 1]);
				lua_pop(L, 1);
			}
		}
		if (f)
			lua_pop(L, 1);
		ret = vhost_user_build_mem_table(m, req, regs, (unsigned int)n);
		break;
	}
	case VHOST_USER_LAYOUT_MEM_REGION: {
		struct vhost_user_mem_region r;

		if (f && lua_getfield(L, f, "region") == LUA_TTABLE)
			lc_read_region(L, lua_gettop(L), &r);
		else
			lc_read_region(L, f, &r);
		if (f)
			lua_pop(L, 1);
		ret = vhost_user_build_mem_region(m, req, &r);
		break;
	}
	case VHOST_USER_LAYOUT_LOG:
		ret = vhost_user_build_log(
			m, req, lc_u64(L, f, "mmap_size", NULL, 0),
			lc_u64(L, f, "mmap_offset", NULL, 0));
		break;
	case VHOST_USER_LAYOUT_IOTLB: {
		struct vhost_user_iotlb io = {
			.iova = lc_u64(L, f, "iova", NULL, 0),
			.size = lc_u64(L, f, "size", NULL, 0),
			.user_addr = lc_u64(L, f, "user_addr", "uaddr", 0),
			.perm = (uint8_t)lc_u64(L, f, "perm", NULL, 0),
			.type = (uint8_t)lc_u64(L, f, "type", NULL, 0),
		};

		ret = vhost_user_build_iotlb(m, req, &io);
		break;
	}
	case VHOST_USER_LAYOUT_CONFIG: {
		size_t dlen = 0;
		const char *d = lc_str(L, f, "data", &dlen);
		uint64_t sz = lc_u64(L, f, "size", NULL, d ? dlen : 0);

		if (d && dlen < sz)
			return luaL_error(L, "config data shorter than size");
		ret = vhost_user_build_config(
			m, req, (uint32_t)lc_u64(L, f, "offset", NULL, 0),
			(uint32_t)sz, (uint32_t)lc_u64(L, f, "flags", NULL, 0),
			d);
		break;
	}
	case VHOST_USER_LAYOUT_VRING_AREA:
		u = lc_u64(L, f, "index", NULL, 0) & VHOST_USER_VRING_IDX_MASK;
		if (lc_u64(L, f, "nofd", NULL, 0))
			u |= VHOST_USER_VRING_NOFD_MASK;
		ret = vhost_user_build_vring_area(
			m, req, lc_u64(L, f, "u64", NULL, u),
			lc_u64(L, f, "size", NULL, 0),
			lc_u64(L, f, "offset", NULL, 0));
		break;
	case VHOST_USER_LAYOUT_INFLIGHT:
		ret = vhost_user_build_inflight(
			m, req, lc_u64(L, f, "mmap_size", NULL, 0),
			lc_u64(L, f, "mmap_offset", NULL, 0),
			(uint16_t)lc_u64(L, f, "num_queues", NULL, 0),
			(uint16_t)lc_u64(L, f, "queue_size", NULL, 0));
		break;
	case VHOST_USER_LAYOUT_SHARED: {
		uint8_t uuid[16] = { 0 };
		size_t ulen = 0;
		const char *us = lc_str(L, f, "uuid", &ulen);

		if (us)
			memcpy(uuid, us, VUC_MIN(ulen, sizeof(uuid)));
		ret = vhost_user_build_shared(m, req, uuid);
		break;
	}
	case VHOST_USER_LAYOUT_DEVICE_STATE:
		ret = vhost_user_build_device_state(
			m, req, (uint32_t)lc_u64(L, f, "direction", NULL, 0),
			(uint32_t)lc_u64(L, f, "phase", NULL, 0));
		break;
	default: /* crypto session, opaque: bytes only */
		ret = vhost_user_build_raw(m, req, NULL, 0);
		break;
	}
built:
	if (ret < 0)
		return luaL_error(L, "%s: these fields do not fit its layout",
				  rule->name);
	if (lc_u64(L, f, "need_reply", NULL, 0))
		m->hdr.flags |= VHOST_USER_NEED_REPLY;
	lc_push_vhost_table(L, m, false);
	/* fds: the regions' own, then fd, then the fds list */
	if (f && rule->layout == VHOST_USER_LAYOUT_MEM_TABLE &&
	    lua_getfield(L, f, "regions") == LUA_TTABLE) {
		lua_Integer i, n = luaL_len(L, -1);

		for (i = 1; i <= n; i++) {
			lua_geti(L, -1, i);
			if (lua_getfield(L, -1, "fd") != LUA_TNIL) {
				lua_pushvalue(L, -4); /* the message */
				lc_append_fd(L, -2);
				lua_pop(L, 1);
			}
			lua_pop(L, 2);
		}
		lua_pop(L, 1);
	} else if (f && rule->layout == VHOST_USER_LAYOUT_MEM_TABLE) {
		lua_pop(L, 1);
	}
	if (f && rule->layout == VHOST_USER_LAYOUT_MEM_REGION &&
	    lua_getfield(L, f, "region") == LUA_TTABLE) {
		if (lua_getfield(L, -1, "fd") != LUA_TNIL) {
			lua_pushvalue(L, -3);
			lc_append_fd(L, -2);
			lua_pop(L, 1);
		}
		lua_pop(L, 2);
	} else if (f && rule->layout == VHOST_USER_LAYOUT_MEM_REGION) {
		lua_pop(L, 1);
	}
	if (f && lua_getfield(L, f, "fd") != LUA_TNIL) {
		lua_pushvalue(L, -2);
		lc_append_fd(L, -2);
		lua_pop(L, 1);
	}
	if (f)
		lua_pop(L, 1);
	if (f && lua_getfield(L, f, "fds") == LUA_TTABLE) {
		lua_Integer i, n = luaL_len(L, -1);

		for (i = 1; i <= n; i++) {
			lua_geti(L, -1, i);
			lua_pushvalue(L, -3);
			lc_append_fd(L, -2);
			lua_pop(L, 2);
		}
	}
	if (f)
		lua_pop(L, 1);
	return 1;
}

/* vhost.raw{ request, flags, size, payload, fds } -> verbatim message */
static int lc_vhost_raw(lua_State *L)
{
	const struct vhost_user_rule *rule;
	struct vhost_user_msg *m;
	size_t len = 0;
	const char *p;

	luaL_checktype(L, 1, LUA_TTABLE);
	m = lua_newuserdatauv(L, sizeof(*m), 0);
	vhost_user_msg_init(m);
	if (lua_getfield(L, 1, "request") == LUA_TNIL)
		return luaL_error(L, "vhost.raw: request is missing");
	m->hdr.request = lc_vhost_request(L, -1, &rule);
	lua_pop(L, 1);
	p = lc_str(L, 1, "payload", &len);
	m->hdr.flags =
		(uint32_t)lc_u64(L, 1, "flags", NULL, VHOST_USER_VERSION);
	m->hdr.size = (uint32_t)lc_u64(L, 1, "size", NULL, p ? len : 0);
	lc_push_vhost_table(L, m, true);
	/* the payload as given, not cut to size: it is raw */
	if (p)
		lua_pushlstring(L, p, len);
	else
		lua_pushlstring(L, "", 0);
	lua_setfield(L, -2, "payload");
	if (!p && m->hdr.size) {
		/* no payload given: size zero bytes, up to the maximum */
		size_t n = VUC_MIN(m->hdr.size, VHOST_USER_PAYLOAD_MAX);
		char *z = calloc(1, n);

		if (!z)
			return luaL_error(L, "out of memory");
		lua_pushlstring(L, z, n);
		free(z);
		lua_setfield(L, -2, "payload");
	}
	if (lua_getfield(L, 1, "fds") != LUA_TNIL) {
		lua_setfield(L, -2, "fds");
	} else {
		lua_pop(L, 1);
	}
	return 1;
}

/* ---- vfio-user: names, rules, building --------------------------------- */

static const struct vfio_user_rule *lc_vfio_rule_by_name(const char *s)
{
	const struct vfio_user_rule *r;

	vfio_user_for_each_rule (r) {
		if (lc_name_eq(r->name, "VFIO_USER_", s))
			return r;
	}
	/* short forms people use: GET_INFO for DEVICE_GET_INFO, ... */
	vfio_user_for_each_rule (r) {
		if (lc_name_eq(r->name, "VFIO_USER_DEVICE_", s))
			return r;
	}
	return NULL;
}

static uint16_t lc_vfio_command(lua_State *L, int idx,
				const struct vfio_user_rule **rule)
{
	if (lua_type(L, idx) == LUA_TSTRING) {
		*rule = lc_vfio_rule_by_name(lua_tostring(L, idx));
		if (!*rule)
			luaL_error(L, "no vfio-user command is called \"%s\"",
				   lua_tostring(L, idx));
		return (*rule)->code;
	}
	if (!lua_isinteger(L, idx))
		luaL_error(L, "command: a spec name or a number, got %s",
			   luaL_typename(L, idx));
	*rule = vfio_user_rule((unsigned int)lua_tointeger(L, idx));
	return (uint16_t)lua_tointeger(L, idx);
}

static int lc_vfio_code(lua_State *L)
{
	const struct vfio_user_rule *r;

	lua_pushinteger(L, lc_vfio_command(L, 1, &r));
	return 1;
}

static int lc_vfio_name(lua_State *L)
{
	lua_pushstring(L, vfio_user_command_name(
				  (unsigned int)luaL_checkinteger(L, 1)));
	return 1;
}

static const char *const lc_vsize_names[] = { "none", "exact", "min", "argsz",
					      "count" };
static const char *const lc_vfd_names[] = { "none",	   "dma_map",
					    "irq_set",	   "twin_socket",
					    "region_mmap", "io_fds" };

static void lc_push_vsize(lua_State *L, const struct vfio_user_size *s)
{
	lua_createtable(L, 0, 4);
	lc_setstr(L, "rule", lc_vsize_names[s->rule]);
	lc_setint(L, "fixed", s->fixed);
	if (s->alt)
		lc_setint(L, "alt", s->alt);
	if (s->elem)
		lc_setint(L, "elem", s->elem);
}

/* vfio.rules() -> one table per command */
static int lc_vfio_rules(lua_State *L)
{
	const struct vfio_user_rule *r;
	int i = 1;

	lua_newtable(L);
	vfio_user_for_each_rule (r) {
		lua_createtable(L, 0, 12);
		lc_setstr(L, "name", r->name);
		lc_setint(L, "code", r->code);
		lc_setstr(L, "anchor", r->anchor);
		lc_setstr(L, "dir",
			  r->dir == VFIO_USER_CLIENT_TO_SERVER
				  ? "client-to-server"
				  : "server-to-client");
		lc_push_vsize(L, &r->req);
		lua_setfield(L, -2, "req");
		lc_push_vsize(L, &r->reply);
		lua_setfield(L, -2, "reply");
		lc_setstr(L, "fds", lc_vfd_names[r->req_fds]);
		lc_setint(L, "max_fds", r->req_fds_max);
		lc_setstr(L, "reply_fds", lc_vfd_names[r->reply_fds]);
		if (r->gate)
			lc_setstr(L, "gate", r->gate);
		if (r->note)
			lc_setstr(L, "note", r->note);
		lua_rawseti(L, -2, i++);
	}
	return 1;
}

static void lc_push_vfio_table(lua_State *L, const struct vfio_user_hdr *h,
			       const void *payload, size_t plen, bool verbatim,
			       bool has_id)
{
	lua_createtable(L, 0, 10);
	lc_setstr(L, "proto", "vfio-user");
	lc_setint(L, "command", h->command);
	lc_setstr(L, "name", vfio_user_command_name(h->command));
	if (has_id)
		lc_setint(L, "msg_id", h->msg_id);
	lc_setint(L, "msg_size", h->msg_size);
	lc_setint(L, "flags", h->flags);
	lc_setint(L, "error", h->error);
	lua_pushlstring(L, payload ? payload : "", plen);
	lua_setfield(L, -2, "payload");
	if (verbatim) {
		lua_pushboolean(L, 1);
		lua_setfield(L, -2, "verbatim");
	}
}

/* vfio.caps_json(caps [, extra]) -> JSON text for VERSION */
static int lc_vfio_caps_json(lua_State *L)
{
	struct vfio_user_caps c;
	const char *extra = luaL_optstring(L, 2, NULL);
	char buf[2048];
	int f = lua_istable(L, 1) ? 1 : 0, ret;
	static const struct {
		const char *k;
		unsigned int bit;
	} keys[] = {
		{ "max_msg_fds", VFIO_USER_CAP_MAX_MSG_FDS },
		{ "max_data_xfer_size", VFIO_USER_CAP_MAX_DATA_XFER_SIZE },
		{ "max_dma_maps", VFIO_USER_CAP_MAX_DMA_MAPS },
		{ "pgsizes", VFIO_USER_CAP_PGSIZES },
		{ "write_multiple", VFIO_USER_CAP_WRITE_MULTIPLE },
	};
	size_t i;

	vfio_user_caps_init(&c);
	if (f) {
		c.present |= VFIO_USER_CAP_OBJECT;
		for (i = 0; i < ARRAY_SIZE(keys); i++)
			if (lc_has(L, f, keys[i].k))
				c.present |= keys[i].bit;
		c.max_msg_fds = lc_u64(L, f, "max_msg_fds", NULL, 1);
		c.max_data_xfer_size = lc_u64(L, f, "max_data_xfer_size", NULL,
					      c.max_data_xfer_size);
		c.max_dma_maps =
			lc_u64(L, f, "max_dma_maps", NULL, c.max_dma_maps);
		c.pgsizes = lc_u64(L, f, "pgsizes", NULL, c.pgsizes);
		c.write_multiple = lc_u64(L, f, "write_multiple", NULL, 0);
		if (lc_has(L, f, "twin_socket")) {
			c.present |= VFIO_USER_CAP_TWIN_SOCKET |
				     VFIO_USER_CAP_TWIN_SUPPORTED;
			c.twin_socket_supported =
				lc_u64(L, f, "twin_socket", NULL, 0);
		}
	}
	ret = vfio_user_caps_to_json(&c, extra, buf, sizeof(buf));
	if (ret < 0)
		return luaL_error(L, "capabilities JSON: %s", strerror(-ret));
	lua_pushlstring(L, buf, (size_t)ret);
	return 1;
}

static void lc_push_caps(lua_State *L, const struct vfio_user_caps *c)
{
	unsigned int i;

	lua_createtable(L, 0, 10);
	lc_setint(L, "max_msg_fds", c->max_msg_fds);
	lc_setint(L, "max_data_xfer_size", c->max_data_xfer_size);
	lc_setint(L, "max_dma_maps", c->max_dma_maps);
	lc_setint(L, "pgsizes", c->pgsizes);
	lua_pushboolean(L, c->write_multiple);
	lua_setfield(L, -2, "write_multiple");
	lua_pushboolean(L, c->twin_socket_supported);
	lua_setfield(L, -2, "twin_socket");
	lc_setint(L, "present", c->present);
	lua_createtable(L, (int)c->n_unknown, 0);
	for (i = 0; i < c->n_unknown && i < VFIO_USER_CAPS_UNKNOWN_MAX; i++) {
		lua_pushstring(L, c->unknown[i]);
		lua_rawseti(L, -2, i + 1);
	}
	lua_setfield(L, -2, "unknown");
}

/* vfio.caps_parse(json_with_nul) -> caps table | nil, why */
static int lc_vfio_caps_parse(lua_State *L)
{
	size_t len;
	const char *s = luaL_checklstring(L, 1, &len);
	struct vfio_user_caps c;
	const char *why = NULL;
	int ret = vfio_user_caps_parse(&c, s, len, &why);

	if (ret < 0) {
		luaL_pushfail(L);
		lua_pushstring(L, why ? why : strerror(-ret));
		return 2;
	}
	lc_push_caps(L, &c);
	return 1;
}

/* vfio.msg(name, fields) -> message table (msg_id assigned when sent,
 * unless given) */
static int lc_vfio_msg(lua_State *L)
{
	const struct vfio_user_rule *rule;
	uint16_t cmd = lc_vfio_command(L, 1, &rule);
	int f = lua_istable(L, 2) ? 2 : 0;
	size_t dlen = 0, cap;
	const char *data = lc_str(L, f, "data", &dlen);
	size_t plen = 0;
	const char *payload = lc_str(L, f, "payload", &plen);
	size_t jlen = 0;
	const char *json = lc_str(L, f, "json", &jlen);
	int fds[VFIO_USER_MSG_FDS_MAX];
	unsigned int nfds = 0;
	struct vfio_user_msg *m;
	uint8_t *buf;
	int ret;

	if (f && lua_getfield(L, f, "fds") != LUA_TNIL)
		nfds = lc_fd_list(L, -1, fds, VFIO_USER_MSG_FDS_MAX);
	if (f)
		lua_pop(L, 1);
	cap = 4096 + dlen + plen + jlen;
	buf = lua_newuserdatauv(L, cap, 0); /* scratch, collected */
	m = lua_newuserdatauv(L, sizeof(*m), 0);
	vfio_user_msg_init(m);
	if (payload) {
		struct vfio_user_hdr h = { .command = cmd,
					   .msg_size = (uint32_t)(16 + plen) };

		ret = vfio_user_pack_raw(buf, cap, &h, payload, plen);
		if (ret >= 0)
			ret = vfio_user_parse(m, buf, (size_t)ret, 0, NULL);
		goto built;
	}
	switch (cmd) {
	case VFIO_USER_VERSION:
		if (!json && f && lua_getfield(L, f, "caps") != LUA_TNIL) {
			lua_pushcfunction(L, lc_vfio_caps_json);
			lua_insert(L, -2);
			lua_call(L, 1, 1);
			json = lua_tostring(L, -1); /* kept on the stack */
		} else if (f && !json) {
			lua_pop(L, 1);
		}
		ret = vfio_user_build_version(
			m, buf, cap, 0,
			(uint16_t)lc_u64(L, f, "major", NULL, VFIO_USER_MAJOR),
			(uint16_t)lc_u64(L, f, "minor", NULL, VFIO_USER_MINOR),
			json);
		break;
	case VFIO_USER_DMA_MAP:
		if (f && lc_has(L, f, "fd") && !nfds) {
			lua_getfield(L, f, "fd");
			fds[0] = lc_fd_check(L, -1);
			lua_pop(L, 1);
			nfds = 1;
		}
		ret = vfio_user_build_dma_map(
			m, buf, cap, 0,
			(uint32_t)lc_u64(L, f, "flags", NULL,
					 VFIO_USER_F_DMA_REGION_READ |
						 VFIO_USER_F_DMA_REGION_WRITE),
			lc_u64(L, f, "offset", NULL, 0),
			lc_u64(L, f, "addr", NULL, 0),
			lc_u64(L, f, "size", NULL, 0), nfds ? fds[0] : -1);
		break;
	case VFIO_USER_DMA_UNMAP:
		ret = vfio_user_build_dma_unmap(
			m, buf, cap, 0,
			(uint32_t)lc_u64(L, f, "flags", NULL, 0),
			lc_u64(L, f, "addr", NULL, 0),
			lc_u64(L, f, "size", NULL, 0), NULL);
		break;
	case VFIO_USER_DEVICE_GET_INFO:
		ret = vfio_user_build_device_get_info(
			m, buf, cap, 0,
			(uint32_t)lc_u64(L, f, "argsz", NULL, 0));
		break;
	case VFIO_USER_DEVICE_GET_REGION_INFO:
		ret = vfio_user_build_region_info(
			m, buf, cap, 0,
			(uint32_t)lc_u64(L, f, "argsz", NULL, 0),
			(uint32_t)lc_u64(L, f, "index", NULL, 0));
		break;
	case VFIO_USER_DEVICE_GET_REGION_IO_FDS:
		ret = vfio_user_build_region_io_fds(
			m, buf, cap, 0,
			(uint32_t)lc_u64(L, f, "argsz", NULL, 0),
			(uint32_t)lc_u64(L, f, "index", NULL, 0));
		break;
	case VFIO_USER_DEVICE_GET_IRQ_INFO:
		ret = vfio_user_build_irq_info(
			m, buf, cap, 0,
			(uint32_t)lc_u64(L, f, "argsz", NULL, 0),
			(uint32_t)lc_u64(L, f, "index", NULL, 0));
		break;
	case VFIO_USER_DEVICE_SET_IRQS: {
		size_t blen = 0;
		const char *bools = lc_str(L, f, "bools", &blen);

		ret = vfio_user_build_set_irqs(
			m, buf, cap, 0,
			(uint32_t)lc_u64(L, f, "flags", NULL, 0),
			(uint32_t)lc_u64(L, f, "index", NULL, 0),
			(uint32_t)lc_u64(L, f, "start", NULL, 0),
			(uint32_t)lc_u64(L, f, "count", NULL,
					 bools ? blen : nfds),
			(const uint8_t *)bools, fds, nfds);
		break;
	}
	case VFIO_USER_REGION_READ:
		ret = vfio_user_build_region_read(
			m, buf, cap, 0,
			(uint32_t)lc_u64(L, f, "region", NULL, 0),
			lc_u64(L, f, "offset", NULL, 0),
			(uint32_t)lc_u64(L, f, "count", NULL, 0));
		break;
	case VFIO_USER_REGION_WRITE:
		ret = vfio_user_build_region_write(
			m, buf, cap, 0,
			(uint32_t)lc_u64(L, f, "region", NULL, 0),
			lc_u64(L, f, "offset", NULL, 0), data,
			(uint32_t)lc_u64(L, f, "count", NULL, dlen));
		break;
	case VFIO_USER_DEVICE_RESET:
		ret = vfio_user_build_device_reset(m, buf, cap, 0);
		break;
	case VFIO_USER_DEVICE_FEATURE:
		ret = vfio_user_build_device_feature(
			m, buf, cap, 0,
			(uint32_t)lc_u64(L, f, "argsz", NULL, 0),
			(uint32_t)lc_u64(L, f, "flags", NULL, 0), data, dlen);
		break;
	case VFIO_USER_MIG_DATA_READ:
		ret = vfio_user_build_mig_data_read(
			m, buf, cap, 0,
			(uint32_t)lc_u64(L, f, "size", NULL, 0));
		break;
	case VFIO_USER_MIG_DATA_WRITE:
		ret = vfio_user_build_mig_data_write(m, buf, cap, 0, data,
						     (uint32_t)dlen);
		break;
	default:
		return luaL_error(L,
				  "%s: no builder here; give payload = "
				  "... or use vfio.raw",
				  vfio_user_command_name(cmd));
	}
built:
	if (ret < 0)
		return luaL_error(L,
				  "%s: these fields do not make a message "
				  "(%s)",
				  vfio_user_command_name(cmd), strerror(-ret));
	if (lc_u64(L, f, "no_reply", NULL, 0))
		m->hdr.flags |= VFIO_USER_F_NO_REPLY;
	lc_push_vfio_table(L, &m->hdr, m->payload, m->payload_len, false,
			   f && lc_has(L, f, "msg_id"));
	if (f && lc_has(L, f, "msg_id"))
		lc_setint(L, "msg_id", lc_u64(L, f, "msg_id", NULL, 0));
	if (f && lua_getfield(L, f, "fds") != LUA_TNIL) {
		lua_setfield(L, -2, "fds");
	} else {
		if (f)
			lua_pop(L, 1);
		if (f && lua_getfield(L, f, "fd") != LUA_TNIL) {
			lua_pushvalue(L, -2);
			lc_append_fd(L, -2);
			lua_pop(L, 1);
		}
		if (f)
			lua_pop(L, 1);
	}
	return 1;
}

/* vfio.raw{ command, msg_id, msg_size, flags, error, payload, fds } */
static int lc_vfio_raw(lua_State *L)
{
	const struct vfio_user_rule *rule;
	struct vfio_user_hdr h = { 0 };
	size_t len = 0;
	const char *p;

	luaL_checktype(L, 1, LUA_TTABLE);
	if (lua_getfield(L, 1, "command") == LUA_TNIL)
		return luaL_error(L, "vfio.raw: command is missing");
	h.command = lc_vfio_command(L, -1, &rule);
	lua_pop(L, 1);
	p = lc_str(L, 1, "payload", &len);
	h.msg_size = (uint32_t)lc_u64(L, 1, "msg_size", NULL, 16 + len);
	h.flags = (uint32_t)lc_u64(L, 1, "flags", NULL, 0);
	h.error = (uint32_t)lc_u64(L, 1, "error", NULL, 0);
	h.msg_id = (uint16_t)lc_u64(L, 1, "msg_id", NULL, 0);
	lc_push_vfio_table(L, &h, p, p ? len : 0, true, lc_has(L, 1, "msg_id"));
	if (lua_getfield(L, 1, "fds") != LUA_TNIL)
		lua_setfield(L, -2, "fds");
	else
		lua_pop(L, 1);
	return 1;
}

/* ---- encoding a message table ------------------------------------------ */

void lc_wire_encode(lua_State *L, int idx, struct lc_run *run, bool need_reply,
		    struct lc_wire *w)
{
	const char *proto, *p;
	size_t plen = 0, want, total;
	uint8_t *out;
	bool vfio;

	idx = lua_absindex(L, idx);
	luaL_checktype(L, idx, LUA_TTABLE);
	memset(w, 0, sizeof(*w));
	lua_getfield(L, idx, "proto");
	proto = lua_tostring(L, -1);
	lua_pop(L, 1);
	if (!proto)
		proto = lc_has(L, idx, "command") ? "vfio-user" : "vhost-user";
	vfio = !strcmp(proto, "vfio-user");
	p = lc_str(L, idx, "payload", &plen);
	lua_getfield(L, idx, "verbatim");
	w->verbatim = lua_toboolean(L, -1);
	lua_pop(L, 1);
	w->vfio = vfio;
	if (!vfio) {
		struct vhost_user_hdr h;
		const struct vhost_user_rule *rule;

		if (lua_getfield(L, idx, "request") == LUA_TNIL)
			luaL_error(L, "message: request is missing");
		h.request = lc_vhost_request(L, -1, &rule);
		lua_pop(L, 1);
		h.flags = (uint32_t)lc_u64(L, idx, "flags", NULL,
					   VHOST_USER_VERSION);
		if (need_reply)
			h.flags |= VHOST_USER_NEED_REPLY;
		h.size = (uint32_t)lc_u64(L, idx, "size", NULL, plen);
		w->hdr_len = VHOST_USER_HDR_SIZE;
		/* a lying size is padded with zeros no further than the
		 * largest payload anyone accepts */
		want = w->verbatim ? plen
				   : VUC_MIN((size_t)h.size,
					     (size_t)VHOST_USER_PAYLOAD_MAX);
		if (!w->verbatim && h.size > VHOST_USER_PAYLOAD_MAX &&
		    plen > want)
			want = plen;
		total = VHOST_USER_HDR_SIZE + want;
		out = lua_newuserdatauv(L, total, 0);
		memset(out, 0, total);
		memcpy(out, &h, sizeof(h));
		if (p)
			memcpy(out + VHOST_USER_HDR_SIZE, p,
			       VUC_MIN(plen, want));
		w->buf = out;
		w->len = total;
		return;
	} else {
		struct vfio_user_hdr h;
		const struct vfio_user_rule *rule;

		if (lua_getfield(L, idx, "command") == LUA_TNIL)
			luaL_error(L, "message: command is missing");
		h.command = lc_vfio_command(L, -1, &rule);
		lua_pop(L, 1);
		if (lc_has(L, idx, "msg_id")) {
			h.msg_id = (uint16_t)lc_u64(L, idx, "msg_id", NULL, 0);
		} else {
			h.msg_id = run ? run->next_msg_id++ : 0;
			lua_pushinteger(L, h.msg_id);
			lua_setfield(L, idx, "msg_id");
		}
		h.msg_size =
			(uint32_t)lc_u64(L, idx, "msg_size", NULL, 16 + plen);
		h.flags = (uint32_t)lc_u64(L, idx, "flags", NULL, 0);
		h.error = (uint32_t)lc_u64(L, idx, "error", NULL, 0);
		w->hdr_len = VFIO_USER_HDR_SIZE;
		if (w->verbatim)
			want = plen;
		else if (h.msg_size < VFIO_USER_HDR_SIZE)
			want = 0;
		else
			want = h.msg_size - VFIO_USER_HDR_SIZE;
		if (!w->verbatim && want > LC_VFIO_PAD_MAX && plen < want)
			want = plen; /* no gigabytes of padding */
		total = VFIO_USER_HDR_SIZE + want;
		out = lua_newuserdatauv(L, total ? total : 1, 0);
		memset(out, 0, total);
		memcpy(out, &h, sizeof(h));
		if (p)
			memcpy(out + VFIO_USER_HDR_SIZE, p,
			       VUC_MIN(plen, want));
		w->buf = out;
		w->len = total;
	}
}

void lc_wire_describe_sent(const uint8_t *buf, size_t len, bool vfio, char *out,
			   size_t cap)
{
	size_t used;

	if (!vfio) {
		struct vhost_user_msg m;
		size_t have;

		if (len < VHOST_USER_HDR_SIZE) {
			snprintf(out, cap, "%zu bytes (part of a header)", len);
			return;
		}
		vhost_user_msg_init(&m);
		memcpy(&m.hdr, buf, sizeof(m.hdr));
		have = len - VHOST_USER_HDR_SIZE;
		memcpy(m.payload, buf + VHOST_USER_HDR_SIZE,
		       VUC_MIN(have, (size_t)VHOST_USER_PAYLOAD_MAX));
		vhost_user_describe(&m, VHOST_USER_FROM_FRONTEND, out, cap);
		used = strlen(out);
		if (have < m.hdr.size)
			snprintf(out + used, cap - used,
				 " (only %zu payload bytes sent)", have);
		else if (have > m.hdr.size)
			snprintf(out + used, cap - used,
				 " (+%zu bytes past size)", have - m.hdr.size);
		return;
	}
	{
		struct vfio_user_msg m;
		struct vfio_user_hdr h;

		if (len < VFIO_USER_HDR_SIZE) {
			snprintf(out, cap, "%zu bytes (part of a header)", len);
			return;
		}
		memcpy(&h, buf, sizeof(h));
		vfio_user_msg_init(&m);
		m.hdr = h;
		m.payload = buf + VFIO_USER_HDR_SIZE;
		m.payload_len = len - VFIO_USER_HDR_SIZE;
		vfio_user_describe(&m, out, cap);
		used = strlen(out);
		if (h.msg_size != len && used < cap)
			snprintf(out + used, cap - used, " (%zu bytes sent)",
				 len);
	}
}

/* ---- received messages ------------------------------------------------- */

static void lc_push_fds(lua_State *L, const int *fds, unsigned int n)
{
	char kind[96];
	unsigned int i;

	/* kinds first: the fd objects own the fds from here on */
	lua_createtable(L, (int)n, 0);
	for (i = 0; i < n; i++) {
		lua_pushstring(L, fdzoo_kind_name(fdzoo_kind_of(fds[i])));
		lua_rawseti(L, -2, i + 1);
	}
	lua_setfield(L, -2, "fd_kinds");
	lua_createtable(L, (int)n, 0);
	for (i = 0; i < n; i++) {
		fdzoo_describe(fds[i], kind, sizeof(kind));
		lua_pushstring(L, kind);
		lua_rawseti(L, -2, i + 1);
	}
	lua_setfield(L, -2, "fd_descriptions");
	lua_createtable(L, (int)n, 0);
	for (i = 0; i < n; i++) {
		lc_fd_push(L, fds[i]);
		lua_rawseti(L, -2, i + 1);
	}
	lua_setfield(L, -2, "fds");
}

void lc_push_vhost_msg(lua_State *L, const struct vhost_user_msg *m)
{
	const char *why = NULL;
	char text[512];

	lc_push_vhost_table(L, m, false);
	vhost_user_describe(m, VHOST_USER_FROM_FRONTEND, text, sizeof(text));
	lc_setstr(L, "text", text);
	lua_pushboolean(L, m->hdr.flags & VHOST_USER_REPLY_MASK);
	lua_setfield(L, -2, "reply");
	lua_pushboolean(L, m->hdr.flags & VHOST_USER_NEED_REPLY_MASK);
	lua_setfield(L, -2, "need_reply");
	lc_setint(L, "version", m->hdr.flags & VHOST_USER_VERSION_MASK);
	if (m->hdr.size == 8) {
		uint64_t v;

		if (!vhost_user_get_u64(m, &v, &why)) {
			lc_setint(L, "u64", v);
			lc_setint(L, "ack", v);
		}
	}
	if (m->hdr.size == sizeof(struct vhost_user_vring_state)) {
		struct vhost_user_vring_state s;

		if (!vhost_user_get_vring_state(m, &s, &why)) {
			lc_setint(L, "index", s.index);
			lc_setint(L, "num", s.num);
		}
	}
	if (m->hdr.request == VHOST_USER_GET_CONFIG) {
		struct vhost_user_config c;

		if (!vhost_user_get_config(m, &c, &why)) {
			lua_createtable(L, 0, 4);
			lc_setint(L, "offset", c.offset);
			lc_setint(L, "size", c.size);
			lc_setint(L, "flags", c.flags);
			lua_pushlstring(L, (const char *)c.data, c.size);
			lua_setfield(L, -2, "data");
			lua_setfield(L, -2, "config");
		}
	}
	if (m->hdr.request == VHOST_USER_GET_INFLIGHT_FD) {
		struct vhost_user_inflight in;

		if (!vhost_user_get_inflight(m, &in, &why)) {
			lua_createtable(L, 0, 4);
			lc_setint(L, "mmap_size", in.mmap_size);
			lc_setint(L, "mmap_offset", in.mmap_offset);
			lc_setint(L, "num_queues", in.num_queues);
			lc_setint(L, "queue_size", in.queue_size);
			lua_setfield(L, -2, "inflight");
		}
	}
	lc_push_fds(L, m->fds, m->nfds);
}

void lc_push_vfio_msg(lua_State *L, const struct vfio_user_msg *m)
{
	const char *why = NULL;
	char text[512];
	bool reply = (m->hdr.flags & VFIO_USER_F_TYPE_MASK) ==
		     VFIO_USER_F_TYPE_REPLY;

	lc_push_vfio_table(L, &m->hdr, m->payload, m->payload_len, false, true);
	vfio_user_describe(m, text, sizeof(text));
	lc_setstr(L, "text", text);
	lua_pushboolean(L, reply);
	lua_setfield(L, -2, "reply");
	lua_pushboolean(L, m->hdr.flags & VFIO_USER_F_ERROR);
	lua_setfield(L, -2, "is_error");
	if ((m->hdr.flags & VFIO_USER_F_ERROR) &&
	    lc_errno_name((int)m->hdr.error))
		lc_setstr(L, "error_name", lc_errno_name((int)m->hdr.error));
	if (reply && m->hdr.command == VFIO_USER_VERSION &&
	    !(m->hdr.flags & VFIO_USER_F_ERROR)) {
		struct vfio_user_version v;
		const char *json = NULL;
		size_t jlen = 0;

		if (!vfio_user_get_version(m, &v, &json, &jlen, &why)) {
			struct vfio_user_caps c;

			lc_setint(L, "major", v.major);
			lc_setint(L, "minor", v.minor);
			if (json) {
				lua_pushlstring(L, json, jlen);
				lua_setfield(L, -2, "json");
			}
			if (!vfio_user_caps_from_version(&c, m, &why)) {
				lc_push_caps(L, &c);
				lua_setfield(L, -2, "caps");
			}
		}
	}
	if (reply && m->hdr.command == VFIO_USER_DEVICE_GET_INFO) {
		struct vfio_user_device_info d;

		if (!vfio_user_get_device_info(m, &d, &why)) {
			lua_createtable(L, 0, 4);
			lc_setint(L, "argsz", d.argsz);
			lc_setint(L, "flags", d.flags);
			lc_setint(L, "num_regions", d.num_regions);
			lc_setint(L, "num_irqs", d.num_irqs);
			lua_setfield(L, -2, "info");
		}
	}
	if (reply && m->hdr.command == VFIO_USER_DEVICE_GET_REGION_INFO) {
		struct vfio_user_region_info r;

		if (!vfio_user_get_region_info(m, &r, &why)) {
			lua_createtable(L, 0, 6);
			lc_setint(L, "argsz", r.argsz);
			lc_setint(L, "flags", r.flags);
			lc_setint(L, "index", r.index);
			lc_setint(L, "cap_offset", r.cap_offset);
			lc_setint(L, "size", r.size);
			lc_setint(L, "offset", r.offset);
			lua_setfield(L, -2, "region");
		}
	}
	if (reply && m->hdr.command == VFIO_USER_REGION_READ) {
		struct vfio_user_region_access a;
		const uint8_t *data = NULL;

		if (!vfio_user_get_region_access(m, &a, &data, &why) && data) {
			lua_pushlstring(L, (const char *)data, a.count);
			lua_setfield(L, -2, "data");
		}
	}
	lc_push_fds(L, m->fds, m->nfds);
}

/* ---- judging a reply --------------------------------------------------- */

const char *lc_kind_name(enum lc_kind k)
{
	static const char *const names[] = {
		[LC_ACK] = "ack",	  [LC_NACK] = "nack",
		[LC_REPLY] = "reply",	  [LC_HANGUP] = "hangup",
		[LC_TIMEOUT] = "timeout", [LC_MALFORMED] = "malformed",
	};

	return names[k];
}

enum lc_kind lc_vhost_classify(const uint8_t *req, size_t req_len,
			       const struct vhost_user_msg *r, char *detail,
			       size_t cap)
{
	const struct vhost_user_rule *rule;
	struct vhost_user_hdr h;
	const char *why = NULL;
	uint64_t v;
	int ret;

	if (req_len < sizeof(h)) {
		snprintf(detail, cap, "a message, but no request was sent");
		return LC_MALFORMED;
	}
	memcpy(&h, req, sizeof(h));
	rule = vhost_user_rule_find(VHOST_USER_FROM_FRONTEND, h.request);
	if (!rule) {
		/* An unknown request has no reply rule; an ack-shaped
		 * answer (same code, reply flag, u64) is the only sane one. */
		if (r->hdr.request == h.request &&
		    (r->hdr.flags & VHOST_USER_REPLY_MASK) &&
		    r->hdr.size == 8 && !r->nfds &&
		    !vhost_user_get_u64(r, &v, &why)) {
			snprintf(detail, cap, "ack %" PRIu64, v);
			return v ? LC_NACK : LC_ACK;
		}
		snprintf(detail, cap,
			 "malformed reply to request %" PRIu32 ": not a u64 "
			 "ack with the reply flag",
			 h.request);
		return LC_MALFORMED;
	}
	ret = vhost_user_check_reply(VHOST_USER_FROM_FRONTEND, &h, r, &why);
	if (ret < 0) {
		snprintf(detail, cap, "malformed reply: %s",
			 why ? why : strerror(-ret));
		return LC_MALFORMED;
	}
	if (rule->reply == VHOST_USER_REPLY_ALWAYS) {
		if (!r->hdr.size &&
		    (rule->flags & VHOST_USER_RULE_REPLY_MAY_BE_EMPTY)) {
			snprintf(detail, cap, "empty reply (an error)");
			return LC_NACK;
		}
		vhost_user_describe(r, VHOST_USER_FROM_FRONTEND, detail, cap);
		return LC_REPLY;
	}
	if (r->hdr.size == 8 && !vhost_user_get_u64(r, &v, &why)) {
		snprintf(detail, cap, "ack %" PRIu64, v);
		return v ? LC_NACK : LC_ACK;
	}
	vhost_user_describe(r, VHOST_USER_FROM_FRONTEND, detail, cap);
	return LC_REPLY;
}

enum lc_kind lc_vfio_classify(const uint8_t *req, size_t req_len,
			      const struct vfio_user_msg *r, bool lenient,
			      char *detail, size_t cap)
{
	struct vfio_user_msg cmd;
	const char *why = NULL, *en;
	int ret;

	if (req_len < VFIO_USER_HDR_SIZE) {
		snprintf(detail, cap, "a message, but no command was sent");
		return LC_MALFORMED;
	}
	vfio_user_msg_init(&cmd);
	memcpy(&cmd.hdr, req, VFIO_USER_HDR_SIZE);
	cmd.payload = req + VFIO_USER_HDR_SIZE;
	cmd.payload_len = req_len - VFIO_USER_HDR_SIZE;
	ret = vfio_user_check_reply(&cmd, r,
				    lenient ? VFIO_USER_CHECK_LENIENT
					    : VFIO_USER_CHECK_STRICT,
				    &why);
	if (ret == -ENOTSUP && (r->hdr.flags & VFIO_USER_F_ERROR) &&
	    r->hdr.msg_id == cmd.hdr.msg_id &&
	    r->hdr.command == cmd.hdr.command)
		ret = VFIO_USER_REPLY_ERROR; /* an unknown command refused */
	if (ret < 0) {
		snprintf(detail, cap, "malformed reply: %s",
			 why ? why : strerror(-ret));
		return LC_MALFORMED;
	}
	if (ret == VFIO_USER_REPLY_ERROR) {
		en = lc_errno_name((int)r->hdr.error);
		if (en)
			snprintf(detail, cap, "error reply %s", en);
		else
			snprintf(detail, cap, "error reply %" PRIu32,
				 r->hdr.error);
		return LC_NACK;
	}
	vfio_user_describe(r, detail, cap);
	return LC_ACK;
}

/* ---- module tables ----------------------------------------------------- */

static int lc_vhost_describe(lua_State *L)
{
	struct lc_wire w;
	char text[512];

	lc_wire_encode(L, 1, NULL, false, &w);
	lc_wire_describe_sent(w.buf, w.len, w.vfio, text, sizeof(text));
	lua_pushstring(L, text);
	return 1;
}

/* vhost.bytes(m) / vfio.bytes(m) -> the bytes that would go out */
static int lc_msg_bytes(lua_State *L)
{
	struct lc_wire w;

	lc_wire_encode(L, 1, lc_run_of(L), false, &w);
	lua_pushlstring(L, (const char *)w.buf, w.len);
	return 1;
}

static const luaL_Reg lc_vhost_funcs[] = {
	{ "msg", lc_vhost_msg },
	{ "raw", lc_vhost_raw },
	{ "rules", lc_vhost_rules },
	{ "code", lc_vhost_code },
	{ "name", lc_vhost_name },
	{ "features", lc_vhost_features },
	{ "protocol_features", lc_vhost_protocol_features },
	{ "protocol_feature_names", lc_vhost_protocol_names },
	{ "describe", lc_vhost_describe },
	{ "bytes", lc_msg_bytes },
	{ NULL, NULL },
};

int luaopen_vuc_vhost(lua_State *L)
{
	unsigned int b;

	luaL_newlib(L, lc_vhost_funcs);
	lc_setint(L, "VERSION", VHOST_USER_VERSION);
	lc_setint(L, "REPLY", VHOST_USER_REPLY_MASK);
	lc_setint(L, "NEED_REPLY", VHOST_USER_NEED_REPLY);
	lc_setint(L, "NOFD", VHOST_USER_VRING_NOFD_MASK);
	lc_setint(L, "HDR_SIZE", VHOST_USER_HDR_SIZE);
	lc_setint(L, "PAYLOAD_MAX", VHOST_USER_PAYLOAD_MAX);
	lc_setint(L, "MAX_FDS", VHOST_USER_MAX_FDS);
	lc_setint(L, "F_PROTOCOL_FEATURES", VHOST_USER_F_PROTOCOL_FEATURES);
	/* PF.REPLY_ACK == 3: protocol feature bit numbers by short name */
	lua_newtable(L);
	for (b = 0; b < VHOST_USER_PROTOCOL_F_MAX; b++) {
		const char *n = vhost_user_protocol_feature_name(b);

		if (n && !strncmp(n, "VHOST_USER_PROTOCOL_F_", 22)) {
			lua_pushinteger(L, b);
			lua_setfield(L, -2, n + 22);
		}
	}
	lua_setfield(L, -2, "PF");
	return 1;
}

static int lc_vfio_errno(lua_State *L)
{
	if (lua_isinteger(L, 1)) {
		const char *n = lc_errno_name((int)lua_tointeger(L, 1));

		if (n)
			lua_pushstring(L, n);
		else
			luaL_pushfail(L);
	} else {
		int e = lc_errno_by_name(luaL_checkstring(L, 1));

		if (e < 0)
			luaL_pushfail(L);
		else
			lua_pushinteger(L, e);
	}
	return 1;
}

static const luaL_Reg lc_vfio_funcs[] = {
	{ "msg", lc_vfio_msg },
	{ "raw", lc_vfio_raw },
	{ "rules", lc_vfio_rules },
	{ "code", lc_vfio_code },
	{ "name", lc_vfio_name },
	{ "caps_json", lc_vfio_caps_json },
	{ "caps_parse", lc_vfio_caps_parse },
	{ "errno", lc_vfio_errno },
	{ "describe", lc_vhost_describe },
	{ "bytes", lc_msg_bytes },
	{ NULL, NULL },
};

int luaopen_vuc_vfio(lua_State *L)
{
	luaL_newlib(L, lc_vfio_funcs);
	lc_setint(L, "HDR_SIZE", VFIO_USER_HDR_SIZE);
	lc_setint(L, "REPLY", VFIO_USER_F_TYPE_REPLY);
	lc_setint(L, "NO_REPLY", VFIO_USER_F_NO_REPLY);
	lc_setint(L, "ERROR", VFIO_USER_F_ERROR);
	lc_setint(L, "DMA_READ", VFIO_USER_F_DMA_REGION_READ);
	lc_setint(L, "DMA_WRITE", VFIO_USER_F_DMA_REGION_WRITE);
	lc_setint(L, "DMA_MMAP", VFIO_USER_F_DMA_REGION_MMAP);
	lc_setint(L, "DMA_FILE_IO", VFIO_USER_F_DMA_REGION_FILE_IO);
	lc_setint(L, "MAJOR", VFIO_USER_MAJOR);
	lc_setint(L, "MINOR", VFIO_USER_MINOR);
	return 1;
}
