// SPDX-License-Identifier: MIT
/*
 * lua_ring.c - guest memory (`gmem`) and the driver side of the ring
 * engine (`ring`) for case scripts.
 *
 * Guest memory is memfd-backed regions mapped here; mem:regions() hands
 * out what VHOST_USER_SET_MEM_TABLE carries (a fresh dup of each region's
 * fd, so the table owns nothing a case closes). A ring keeps its memory
 * alive (a user value) and is released before it at the end of a case.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/util.h"
#include "lua/lua_internal.h"
#include "ring/gmem.h"
#include "ring/packed.h"
#include "ring/split.h"

#define LC_GMEM_MT "vuc.gmem"
#define LC_RING_MT "vuc.ring"

struct lc_gmem {
	struct lc_res r;
	struct gmem g;
};

struct lc_ring {
	struct lc_res r;
	bool packed;
	bool live;
	struct lc_gmem *mem;
	union {
		struct vq_split_drv s;
		struct vq_packed_drv p;
	};
};

/* ---- gmem -------------------------------------------------------------- */

static void lc_gmem_release(struct lc_res *r)
{
	gmem_clear(&((struct lc_gmem *)r)->g);
}

static struct lc_gmem *lc_gmem_check(lua_State *L, int idx)
{
	struct lc_gmem *m = luaL_checkudata(L, idx, LC_GMEM_MT);

	if (m->r.released)
		luaL_error(L, "guest memory released at the end of its case");
	return m;
}

/* gmem.new() -> mem */
static int lc_gmem_new(lua_State *L)
{
	struct lc_gmem *m = lua_newuserdatauv(L, sizeof(*m), 0);

	gmem_init(&m->g);
	lc_res_track(L, &m->r, lc_gmem_release);
	luaL_setmetatable(L, LC_GMEM_MT);
	return 1;
}

/* mem:add_region(gpa, size) -> index (1-based) | nil, err */
static int lc_gmem_add_region(lua_State *L)
{
	struct lc_gmem *m = lc_gmem_check(L, 1);
	uint64_t gpa = (uint64_t)luaL_checkinteger(L, 2);
	uint64_t size = (uint64_t)luaL_checkinteger(L, 3);
	unsigned int idx;
	int ret = gmem_add_memfd(&m->g, gpa, size, &idx);

	if (ret < 0) {
		luaL_pushfail(L);
		lua_pushstring(L, strerror(-ret));
		return 2;
	}
	lua_pushinteger(L, idx + 1);
	return 1;
}

/* mem:regions() -> { {guest_addr, size, user_addr, mmap_offset, fd}, ... }
 * Each fd is a dup of the region's: closing it leaves the memory intact. */
static int lc_gmem_regions(lua_State *L)
{
	struct lc_gmem *m = lc_gmem_check(L, 1);
	unsigned int i;

	lua_createtable(L, (int)m->g.n, 0);
	for (i = 0; i < m->g.n; i++) {
		const struct gmem_region *r = &m->g.r[i];
		int fd = r->fd >= 0 ? fcntl(r->fd, F_DUPFD_CLOEXEC, 3) : -1;

		lua_createtable(L, 0, 5);
		lua_pushinteger(L, (lua_Integer)r->gpa);
		lua_setfield(L, -2, "guest_addr");
		lua_pushinteger(L, (lua_Integer)r->size);
		lua_setfield(L, -2, "size");
		lua_pushinteger(L, (lua_Integer)r->uaddr);
		lua_setfield(L, -2, "user_addr");
		lua_pushinteger(L, (lua_Integer)r->mmap_offset);
		lua_setfield(L, -2, "mmap_offset");
		if (fd >= 0) {
			lc_fd_push(L, fd);
			lua_setfield(L, -2, "fd");
		}
		lua_rawseti(L, -2, (lua_Integer)i + 1);
	}
	return 1;
}

/* mem:write(gpa, bytes) -> true | nil, err */
static int lc_gmem_write(lua_State *L)
{
	struct lc_gmem *m = lc_gmem_check(L, 1);
	uint64_t gpa = (uint64_t)luaL_checkinteger(L, 2);
	size_t len;
	const char *s = luaL_checklstring(L, 3, &len);
	void *p = gmem_gpa(&m->g, gpa, len);

	if (!p) {
		luaL_pushfail(L);
		lua_pushliteral(L, "range not inside one region");
		return 2;
	}
	memcpy(p, s, len);
	lua_pushboolean(L, 1);
	return 1;
}

/* mem:read(gpa, len) -> bytes | nil, err */
static int lc_gmem_read(lua_State *L)
{
	struct lc_gmem *m = lc_gmem_check(L, 1);
	uint64_t gpa = (uint64_t)luaL_checkinteger(L, 2);
	lua_Integer len = luaL_checkinteger(L, 3);
	void *p;

	if (len < 0)
		return luaL_argerror(L, 3, "a length >= 0");
	p = gmem_gpa(&m->g, gpa, (uint64_t)len);
	if (!p) {
		luaL_pushfail(L);
		lua_pushliteral(L, "range not inside one region");
		return 2;
	}
	lua_pushlstring(L, p, (size_t)len);
	return 1;
}

/* mem:alloc(len [, align]) -> gpa | nil, err */
static int lc_gmem_alloc(lua_State *L)
{
	struct lc_gmem *m = lc_gmem_check(L, 1);
	uint64_t len = (uint64_t)luaL_checkinteger(L, 2);
	uint64_t align = (uint64_t)luaL_optinteger(L, 3, 16), gpa;
	int ret = gmem_alloc(&m->g, len, align, &gpa);

	if (ret < 0) {
		luaL_pushfail(L);
		lua_pushstring(L, strerror(-ret));
		return 2;
	}
	lua_pushinteger(L, (lua_Integer)gpa);
	return 1;
}

/* mem:uaddr(gpa) -> the front-end virtual address of a guest address */
static int lc_gmem_uaddr(lua_State *L)
{
	struct lc_gmem *m = lc_gmem_check(L, 1);
	uint64_t gpa = (uint64_t)luaL_checkinteger(L, 2);
	unsigned int i;

	for (i = 0; i < m->g.n; i++) {
		const struct gmem_region *r = &m->g.r[i];

		if (gpa >= r->gpa && gpa - r->gpa < r->size) {
			lua_pushinteger(L,
					(lua_Integer)(r->uaddr + gpa - r->gpa));
			return 1;
		}
	}
	luaL_pushfail(L);
	return 1;
}

static int lc_gmem_gc(lua_State *L)
{
	struct lc_gmem *m = luaL_checkudata(L, 1, LC_GMEM_MT);

	lc_res_release(&m->r);
	return 0;
}

static const luaL_Reg lc_gmem_methods[] = {
	{ "add_region", lc_gmem_add_region },
	{ "regions", lc_gmem_regions },
	{ "write", lc_gmem_write },
	{ "read", lc_gmem_read },
	{ "alloc", lc_gmem_alloc },
	{ "uaddr", lc_gmem_uaddr },
	{ NULL, NULL },
};

static const luaL_Reg lc_gmem_funcs[] = {
	{ "new", lc_gmem_new },
	{ NULL, NULL },
};

int luaopen_vuc_gmem(lua_State *L)
{
	luaL_newmetatable(L, LC_GMEM_MT);
	lua_pushcfunction(L, lc_gmem_gc);
	lua_setfield(L, -2, "__gc");
	lua_pushcfunction(L, lc_gmem_gc);
	lua_setfield(L, -2, "__close");
	luaL_newlib(L, lc_gmem_methods);
	lua_setfield(L, -2, "__index");
	lua_pop(L, 1);
	luaL_newlib(L, lc_gmem_funcs);
	return 1;
}

/* ---- rings -------------------------------------------------------------- */

static void lc_ring_release(struct lc_res *r)
{
	struct lc_ring *q = (struct lc_ring *)r;

	if (!q->live)
		return;
	if (q->packed)
		vq_packed_drv_fini(&q->p);
	else
		vq_split_drv_fini(&q->s);
	q->live = false;
}

static struct lc_ring *lc_ring_check(lua_State *L, int idx)
{
	struct lc_ring *q = luaL_checkudata(L, idx, LC_RING_MT);

	if (!q->live || q->mem->r.released)
		luaL_error(L, "ring released at the end of its case");
	return q;
}

static const char *const lc_hostile_names[VQ_HOSTILE_MAX] = {
	[VQ_HOSTILE_LOOP_SELF] = "LOOP_SELF",
	[VQ_HOSTILE_LOOP_NEXT] = "LOOP_NEXT",
	[VQ_HOSTILE_CHAIN_TOO_LONG] = "CHAIN_TOO_LONG",
	[VQ_HOSTILE_INDIRECT_NESTED] = "INDIRECT_NESTED",
	[VQ_HOSTILE_INDIRECT_BAD_LEN] = "INDIRECT_BAD_LEN",
	[VQ_HOSTILE_ADDR_OUTSIDE] = "ADDR_OUTSIDE",
	[VQ_HOSTILE_ADDR_STRADDLE] = "ADDR_STRADDLE",
	[VQ_HOSTILE_ZERO_LEN] = "ZERO_LEN",
	[VQ_HOSTILE_NEXT_OUT_OF_RANGE] = "NEXT_OUT_OF_RANGE",
	[VQ_HOSTILE_AVAIL_JUMP] = "AVAIL_JUMP",
	[VQ_HOSTILE_HEAD_OUT_OF_RANGE] = "HEAD_OUT_OF_RANGE",
	[VQ_HOSTILE_WRAP_LIE] = "WRAP_LIE",
	[VQ_HOSTILE_REWRITE_AFTER_KICK] = "REWRITE_AFTER_KICK",
};

/* ring.split(mem, num [, features [, ind_max]]) / ring.packed(...) */
static int lc_ring_new(lua_State *L, bool packed)
{
	struct lc_gmem *m = lc_gmem_check(L, 1);
	lua_Integer num = luaL_checkinteger(L, 2);
	uint64_t features = (uint64_t)luaL_optinteger(L, 3, 0);
	lua_Integer ind_max = luaL_optinteger(L, 4, 0);
	struct lc_ring *q;
	int ret;

	if (num < 0 || num > VQ_MAX_SIZE || ind_max < 0 ||
	    ind_max > VQ_MAX_SIZE)
		return luaL_error(L, "queue size and ind_max: 0 .. %d",
				  VQ_MAX_SIZE);
	q = lua_newuserdatauv(L, sizeof(*q), 1);
	memset(q, 0, sizeof(*q));
	q->packed = packed;
	q->mem = m;
	lua_pushvalue(L, 1); /* the memory lives as long as the ring */
	lua_setiuservalue(L, -2, 1);
	luaL_setmetatable(L, LC_RING_MT);
	if (packed)
		ret = vq_packed_drv_init(&q->p, &m->g, (unsigned int)num,
					 features, (unsigned int)ind_max);
	else
		ret = vq_split_drv_init(&q->s, &m->g, (unsigned int)num,
					features, (unsigned int)ind_max);
	if (ret < 0) {
		luaL_pushfail(L);
		lua_pushstring(L, strerror(-ret));
		return 2;
	}
	q->live = true;
	lc_res_track(L, &q->r, lc_ring_release);
	return 1;
}

static int lc_ring_split(lua_State *L)
{
	return lc_ring_new(L, false);
}

static int lc_ring_packed(lua_State *L)
{
	return lc_ring_new(L, true);
}

static lua_Integer lc_field_int(lua_State *L, int idx, const char *k,
				lua_Integer dflt)
{
	lua_Integer v;

	if (lua_getfield(L, idx, k) == LUA_TNIL)
		v = dflt;
	else
		v = luaL_checkinteger(L, -1);
	lua_pop(L, 1);
	return v;
}

/* q:add{ {gpa=, len=, write=}, ..., indirect = bool, token = n } -> id */
static int lc_ring_add(lua_State *L)
{
	struct lc_ring *q = lc_ring_check(L, 1);
	struct vq_buf bufs[64];
	lua_Integer n, i;
	bool indirect;
	uint64_t token;
	int ret;

	luaL_checktype(L, 2, LUA_TTABLE);
	n = luaL_len(L, 2);
	if (n < 1 || n > (lua_Integer)ARRAY_SIZE(bufs))
		return luaL_error(L, "a chain of 1 .. %d buffers",
				  (int)ARRAY_SIZE(bufs));
	for (i = 1; i <= n; i++) {
		lua_geti(L, 2, i);
		luaL_checktype(L, -1, LUA_TTABLE);
		bufs[i - 1].gpa = (uint64_t)lc_field_int(L, -1, "gpa", 0);
		bufs[i - 1].len = (uint32_t)lc_field_int(L, -1, "len", 0);
		lua_getfield(L, -1, "write");
		bufs[i - 1].writable = lua_toboolean(L, -1);
		bufs[i - 1].hva = NULL;
		lua_pop(L, 2);
	}
	lua_getfield(L, 2, "indirect");
	indirect = lua_toboolean(L, -1);
	lua_pop(L, 1);
	token = (uint64_t)lc_field_int(L, 2, "token", 0);
	if (q->packed)
		ret = vq_packed_drv_add(&q->p, bufs, (unsigned int)n, indirect,
					token);
	else
		ret = vq_split_drv_add(&q->s, bufs, (unsigned int)n, indirect,
				       token);
	if (ret < 0) {
		luaL_pushfail(L);
		lua_pushstring(L, strerror(-ret));
		return 2;
	}
	lua_pushinteger(L, ret);
	return 1;
}

static int lc_ring_publish(lua_State *L)
{
	struct lc_ring *q = lc_ring_check(L, 1);

	lua_pushinteger(L, q->packed ? vq_packed_drv_publish(&q->p)
				     : vq_split_drv_publish(&q->s));
	return 1;
}

static int lc_ring_kick_needed(lua_State *L)
{
	struct lc_ring *q = lc_ring_check(L, 1);

	lua_pushboolean(L, q->packed ? vq_packed_drv_kick_needed(&q->p)
				     : vq_split_drv_kick_needed(&q->s));
	return 1;
}

/* q:reap() -> token, len | nil (nothing yet) | nil, why (device error) */
static int lc_ring_reap(lua_State *L)
{
	struct lc_ring *q = lc_ring_check(L, 1);
	const char *why = NULL;
	uint64_t token = 0;
	uint32_t len = 0;
	int ret = q->packed ? vq_packed_drv_reap(&q->p, &token, &len, &why)
			    : vq_split_drv_reap(&q->s, &token, &len, &why);

	if (ret == 1) {
		lua_pushinteger(L, (lua_Integer)token);
		lua_pushinteger(L, len);
		return 2;
	}
	luaL_pushfail(L);
	if (ret == 0)
		return 1;
	lua_pushstring(L, why ? why : strerror(-ret));
	return 2;
}

/* q:hostile("LOOP_SELF" [, variant]) -> id | nil, err */
static int lc_ring_hostile(lua_State *L)
{
	struct lc_ring *q = lc_ring_check(L, 1);
	int h = luaL_checkoption(L, 2, NULL, lc_hostile_names);
	unsigned int variant = (unsigned int)luaL_optinteger(L, 3, 0);
	int ret = q->packed ? vq_packed_drv_hostile(&q->p, h, variant)
			    : vq_split_drv_hostile(&q->s, h, variant);

	if (ret < 0) {
		luaL_pushfail(L);
		lua_pushstring(L, strerror(-ret));
		return 2;
	}
	lua_pushinteger(L, ret);
	return 1;
}

/* q:rewrite(id): the second half of REWRITE_AFTER_KICK */
static int lc_ring_rewrite(lua_State *L)
{
	struct lc_ring *q = lc_ring_check(L, 1);
	unsigned int id = (unsigned int)luaL_checkinteger(L, 2);
	int ret = q->packed ? vq_packed_drv_rewrite(&q->p, id)
			    : vq_split_drv_rewrite(&q->s, id);

	lua_pushboolean(L, ret == 0);
	return 1;
}

/* q:set_base(n) -> true | nil, err */
static int lc_ring_set_base(lua_State *L)
{
	struct lc_ring *q = lc_ring_check(L, 1);
	uint32_t base = (uint32_t)luaL_checkinteger(L, 2);
	int ret = q->packed ? vq_packed_drv_set_base(&q->p, base)
			    : vq_split_drv_set_base(&q->s, base);

	if (ret < 0) {
		luaL_pushfail(L);
		lua_pushstring(L, strerror(-ret));
		return 2;
	}
	lua_pushboolean(L, 1);
	return 1;
}

static void lc_set_addr(lua_State *L, const struct gmem *g, const char *k,
			uint64_t gpa)
{
	uint64_t uaddr = 0;
	unsigned int i;

	for (i = 0; i < g->n; i++)
		if (gpa >= g->r[i].gpa && gpa - g->r[i].gpa < g->r[i].size)
			uaddr = g->r[i].uaddr + gpa - g->r[i].gpa;
	lua_pushinteger(L, (lua_Integer)uaddr);
	lua_setfield(L, -2, k);
}

/*
 * q:addrs() -> { desc, avail, used, desc_gpa, avail_gpa, used_gpa, num }:
 * front-end virtual addresses, as VHOST_USER_SET_VRING_ADDR carries them
 * (for a packed ring avail / used are the driver / device areas).
 */
static int lc_ring_addrs(lua_State *L)
{
	struct lc_ring *q = lc_ring_check(L, 1);
	const struct gmem *g = &q->mem->g;
	uint64_t d = q->packed ? q->p.desc_gpa : q->s.desc_gpa;
	uint64_t a = q->packed ? q->p.driver_gpa : q->s.avail_gpa;
	uint64_t u = q->packed ? q->p.device_gpa : q->s.used_gpa;

	lua_createtable(L, 0, 7);
	lc_set_addr(L, g, "desc", d);
	lc_set_addr(L, g, "avail", a);
	lc_set_addr(L, g, "used", u);
	lua_pushinteger(L, (lua_Integer)d);
	lua_setfield(L, -2, "desc_gpa");
	lua_pushinteger(L, (lua_Integer)a);
	lua_setfield(L, -2, "avail_gpa");
	lua_pushinteger(L, (lua_Integer)u);
	lua_setfield(L, -2, "used_gpa");
	lua_pushinteger(L, q->packed ? q->p.size : q->s.num);
	lua_setfield(L, -2, "num");
	return 1;
}

static int lc_ring_gc(lua_State *L)
{
	struct lc_ring *q = luaL_checkudata(L, 1, LC_RING_MT);

	if (q->live)
		lc_res_release(&q->r);
	return 0;
}

static int lc_ring_hostiles(lua_State *L)
{
	int i;

	lua_createtable(L, VQ_HOSTILE_MAX, 0);
	for (i = 0; i < VQ_HOSTILE_MAX; i++) {
		lua_pushstring(L, lc_hostile_names[i]);
		lua_rawseti(L, -2, i + 1);
	}
	return 1;
}

static const luaL_Reg lc_ring_methods[] = {
	{ "add", lc_ring_add },
	{ "publish", lc_ring_publish },
	{ "kick_needed", lc_ring_kick_needed },
	{ "reap", lc_ring_reap },
	{ "hostile", lc_ring_hostile },
	{ "rewrite", lc_ring_rewrite },
	{ "set_base", lc_ring_set_base },
	{ "addrs", lc_ring_addrs },
	{ NULL, NULL },
};

static const luaL_Reg lc_ring_funcs[] = {
	{ "split", lc_ring_split },
	{ "packed", lc_ring_packed },
	{ "hostiles", lc_ring_hostiles },
	{ NULL, NULL },
};

int luaopen_vuc_ring(lua_State *L)
{
	luaL_newmetatable(L, LC_RING_MT);
	lua_pushcfunction(L, lc_ring_gc);
	lua_setfield(L, -2, "__gc");
	lua_pushcfunction(L, lc_ring_gc);
	lua_setfield(L, -2, "__close");
	luaL_newlib(L, lc_ring_methods);
	lua_setfield(L, -2, "__index");
	lua_pop(L, 1);
	luaL_newlib(L, lc_ring_funcs);
	lua_pushinteger(L, VIRTIO_F_INDIRECT_DESC);
	lua_setfield(L, -2, "F_INDIRECT_DESC");
	lua_pushinteger(L, VIRTIO_F_EVENT_IDX);
	lua_setfield(L, -2, "F_EVENT_IDX");
	lua_pushinteger(L, VIRTIO_F_VERSION_1);
	lua_setfield(L, -2, "F_VERSION_1");
	lua_pushinteger(L, VIRTIO_F_RING_PACKED);
	lua_setfield(L, -2, "F_RING_PACKED");
	return 1;
}
