// SPDX-License-Identifier: MIT
/*
 * lua_fd.c - fds as Lua objects, the `fdzoo` module, and the bookkeeping
 * that releases whatever a case made when the case ends.
 *
 * An fd object owns its fd: :close(), a to-be-closed variable, the end of
 * the case it was made in, or the garbage collector closes it, whichever
 * comes first, exactly once. Wherever the API takes an fd it also takes a
 * plain integer, so that a case can send fd numbers it does not own (0, a
 * closed number): the lie stays possible.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "common/util.h"
#include "lua/lua_internal.h"
#include "transport/chan.h"
#include "transport/fdzoo.h"

/* ---- Objects a case releases ------------------------------------------ */

void lc_res_track(lua_State *L, struct lc_res *r,
		  void (*release)(struct lc_res *r))
{
	struct lc_run *run = lc_run_of(L);

	r->release = release;
	r->released = false;
	r->prev = NULL;
	r->next = NULL;
	r->run = run;
	if (!run)
		return;
	r->next = run->objs;
	if (run->objs)
		run->objs->prev = r;
	run->objs = r;
}

void lc_res_release(struct lc_res *r)
{
	if (r->released)
		return;
	r->released = true;
	if (r->run) {
		if (r->prev)
			r->prev->next = r->next;
		else
			r->run->objs = r->next;
		if (r->next)
			r->next->prev = r->prev;
		r->run = NULL;
		r->prev = r->next = NULL;
	}
	r->release(r);
}

void lc_run_release_all(struct lc_run *run)
{
	while (run->objs)
		lc_res_release(run->objs);
}

/* ---- fd objects --------------------------------------------------------- */

struct lc_fd {
	struct lc_res r;
	int fd;
};

static void lc_fd_release(struct lc_res *r)
{
	struct lc_fd *f = (struct lc_fd *)r;

	close_fd(&f->fd);
}

void lc_fd_push(lua_State *L, int fd)
{
	struct lc_fd *f = lua_newuserdatauv(L, sizeof(*f), 0);

	f->fd = fd;
	lc_res_track(L, &f->r, lc_fd_release);
	luaL_setmetatable(L, LC_FD_MT);
}

static struct lc_fd *lc_fd_obj(lua_State *L, int idx)
{
	return luaL_checkudata(L, idx, LC_FD_MT);
}

int lc_fd_check(lua_State *L, int idx)
{
	struct lc_fd *f;

	if (lua_isinteger(L, idx))
		return (int)lua_tointeger(L, idx);
	f = luaL_testudata(L, idx, LC_FD_MT);
	if (!f)
		luaL_error(L,
			   "expected an fd (an fdzoo object or a number), "
			   "got %s",
			   luaL_typename(L, idx));
	if (f->fd < 0)
		luaL_error(L, "fd already closed");
	return f->fd;
}

unsigned int lc_fd_list(lua_State *L, int idx, int *fds, unsigned int max)
{
	lua_Integer i, n;

	idx = lua_absindex(L, idx);
	if (lua_isnoneornil(L, idx))
		return 0;
	if (!lua_istable(L, idx)) {
		/* a single fd is a list of one */
		if (max < 1)
			luaL_error(L, "too many fds");
		fds[0] = lc_fd_check(L, idx);
		return 1;
	}
	n = luaL_len(L, idx);
	if (n > (lua_Integer)max)
		luaL_error(L, "too many fds: %d (at most %u in one send)",
			   (int)n, max);
	for (i = 1; i <= n; i++) {
		lua_geti(L, idx, i);
		fds[i - 1] = lc_fd_check(L, -1);
		lua_pop(L, 1);
	}
	return (unsigned int)n;
}

void lc_fds_describe(const int *fds, unsigned int n, char *buf, size_t cap)
{
	char one[96];
	size_t used = 0;
	unsigned int i;

	if (!cap)
		return;
	buf[0] = '\0';
	for (i = 0; i < n && used < cap; i++) {
		fdzoo_describe(fds[i], one, sizeof(one));
		used += (size_t)snprintf(buf + used, cap - used, "%s%s",
					 i ? ", " : "", one);
	}
}

static int lc_fd_close(lua_State *L)
{
	struct lc_fd *f = lc_fd_obj(L, 1);

	lc_res_release(&f->r);
	return 0;
}

static int lc_fd_num(lua_State *L)
{
	struct lc_fd *f = lc_fd_obj(L, 1);

	lua_pushinteger(L, f->fd);
	return 1;
}

static int lc_fd_kind_m(lua_State *L)
{
	lua_pushstring(L, fdzoo_kind_name(fdzoo_kind_of(lc_fd_obj(L, 1)->fd)));
	return 1;
}

static int lc_fd_describe_m(lua_State *L)
{
	char buf[128];

	lua_pushstring(L,
		       fdzoo_describe(lc_fd_obj(L, 1)->fd, buf, sizeof(buf)));
	return 1;
}

static int lc_fd_tostring(lua_State *L)
{
	struct lc_fd *f = lc_fd_obj(L, 1);
	char buf[128];

	if (f->fd < 0)
		lua_pushliteral(L, "fd(closed)");
	else
		lua_pushfstring(L, "fd %d: %s", f->fd,
				fdzoo_describe(f->fd, buf, sizeof(buf)));
	return 1;
}

/* Milliseconds a blocking call may wait: its own bound, cut to the case's
 * deadline. */
static int lc_wait_ms(lua_State *L, int ms)
{
	struct lc_run *run = lc_run_of(L);
	int left;

	if (!run)
		return ms;
	left = chan_remaining_ms(run->deadline);
	return ms < left ? ms : left;
}

/* fd:write(bytes) -> n | nil, err. Non-blocking in effect: one write. */
static int lc_fd_write(lua_State *L)
{
	struct lc_fd *f = lc_fd_obj(L, 1);
	size_t len;
	const char *s = luaL_checklstring(L, 2, &len);
	ssize_t n;

	if (f->fd < 0)
		return luaL_error(L, "fd already closed");
	n = write(f->fd, s, len);
	if (n < 0) {
		luaL_pushfail(L);
		lua_pushstring(L, strerror(errno));
		return 2;
	}
	lua_pushinteger(L, n);
	return 1;
}

/* fd:read(max [, timeout_ms]) -> bytes | nil, "timeout" / "eof" / err */
static int lc_fd_read(lua_State *L)
{
	struct lc_fd *f = lc_fd_obj(L, 1);
	lua_Integer max = luaL_optinteger(L, 2, 4096);
	int ms = (int)luaL_optinteger(L, 3, 0);
	struct pollfd p;
	char *buf;
	ssize_t n;

	if (f->fd < 0)
		return luaL_error(L, "fd already closed");
	if (max <= 0 || max > (1 << 24))
		return luaL_argerror(L, 2, "1 .. 16 MiB");
	p.fd = f->fd;
	p.events = POLLIN;
	if (poll(&p, 1, lc_wait_ms(L, ms)) == 0) {
		luaL_pushfail(L);
		lua_pushliteral(L, "timeout");
		return 2;
	}
	buf = malloc((size_t)max);
	if (!buf)
		return luaL_error(L, "out of memory");
	n = read(f->fd, buf, (size_t)max);
	if (n <= 0) {
		free(buf);
		luaL_pushfail(L);
		lua_pushstring(L, n == 0 ? "eof" : strerror(errno));
		return 2;
	}
	lua_pushlstring(L, buf, (size_t)n);
	free(buf);
	return 1;
}

/* fd:poll([timeout_ms]) -> true when readable within the time */
static int lc_fd_poll(lua_State *L)
{
	struct lc_fd *f = lc_fd_obj(L, 1);
	int ms = (int)luaL_optinteger(L, 2, 0);
	struct pollfd p = { .fd = f->fd, .events = POLLIN };

	if (f->fd < 0)
		return luaL_error(L, "fd already closed");
	lua_pushboolean(L, poll(&p, 1, lc_wait_ms(L, ms)) > 0);
	return 1;
}

/* fd:signal([n]) -> eventfd_write(n or 1): a kick or a call */
static int lc_fd_signal(lua_State *L)
{
	struct lc_fd *f = lc_fd_obj(L, 1);
	uint64_t v = (uint64_t)luaL_optinteger(L, 2, 1);

	if (f->fd < 0)
		return luaL_error(L, "fd already closed");
	if (write(f->fd, &v, sizeof(v)) != (ssize_t)sizeof(v)) {
		luaL_pushfail(L);
		lua_pushstring(L, strerror(errno));
		return 2;
	}
	lua_pushboolean(L, 1);
	return 1;
}

static int lc_fd_gc(lua_State *L)
{
	struct lc_fd *f = luaL_checkudata(L, 1, LC_FD_MT);

	lc_res_release(&f->r);
	return 0;
}

static const luaL_Reg lc_fd_methods[] = {
	{ "close", lc_fd_close }, { "fd", lc_fd_num },
	{ "kind", lc_fd_kind_m }, { "describe", lc_fd_describe_m },
	{ "write", lc_fd_write }, { "read", lc_fd_read },
	{ "poll", lc_fd_poll },	  { "signal", lc_fd_signal },
	{ NULL, NULL },
};

static const luaL_Reg lc_fd_meta[] = {
	{ "__gc", lc_fd_gc },
	{ "__close", lc_fd_gc },
	{ "__tostring", lc_fd_tostring },
	{ NULL, NULL },
};

/* ---- fdzoo module ------------------------------------------------------- */

/* The kinds fdzoo_new() makes with two ends. */
static bool lc_kind_has_other(enum fdzoo_kind k)
{
	switch (k) {
	case FDZOO_PIPE_READ:
	case FDZOO_PIPE_WRITE:
	case FDZOO_PACKET_PIPE_READ:
	case FDZOO_PACKET_PIPE_WRITE:
	case FDZOO_NOTIFICATION_PIPE_READ:
	case FDZOO_NOTIFICATION_PIPE_WRITE:
	case FDZOO_SOCKET:
		return true;
	default:
		return false;
	}
}

static int lc_kind_check(lua_State *L, int idx)
{
	const char *name = luaL_checkstring(L, idx);
	int k = fdzoo_kind_by_name(name);

	if (k < 0 || k == FDZOO_CLOSED || k == FDZOO_OTHER)
		luaL_error(L,
			   "unknown fd kind \"%s\" (fdzoo.kinds() lists them)",
			   name);
	return k;
}

/* fdzoo.new(kind [, size]) -> fd [, other end] | nil, err */
static int lc_fdzoo_new(lua_State *L)
{
	enum fdzoo_kind k = lc_kind_check(L, 1);
	lua_Integer size = luaL_optinteger(L, 2, 4096);
	int other = -1, fd;

	if (size < 0)
		return luaL_argerror(L, 2, "a size >= 0");
	fd = fdzoo_new(k, (size_t)size, &other);
	if (fd < 0) {
		luaL_pushfail(L);
		lua_pushfstring(L, "%s: %s", fdzoo_kind_name(k), strerror(-fd));
		return 2;
	}
	lc_fd_push(L, fd);
	if (!lc_kind_has_other(k))
		return 1;
	lc_fd_push(L, other);
	return 2;
}

/* fdzoo.available(kind) -> true | false, why (a probe; nothing kept) */
static int lc_fdzoo_available(lua_State *L)
{
	enum fdzoo_kind k = lc_kind_check(L, 1);
	int other = -1, fd = fdzoo_new(k, 4096, &other);

	if (fd < 0) {
		lua_pushboolean(L, 0);
		lua_pushfstring(L, "%s: %s", fdzoo_kind_name(k), strerror(-fd));
		return 2;
	}
	close_fd(&fd);
	close_fd(&other);
	lua_pushboolean(L, 1);
	return 1;
}

static int lc_fdzoo_kind(lua_State *L)
{
	lua_pushstring(L, fdzoo_kind_name(fdzoo_kind_of(lc_fd_check(L, 1))));
	return 1;
}

static int lc_fdzoo_describe(lua_State *L)
{
	char buf[128];

	lua_pushstring(L, fdzoo_describe(lc_fd_check(L, 1), buf, sizeof(buf)));
	return 1;
}

static int lc_fdzoo_kinds(lua_State *L)
{
	int k, i = 1;

	lua_newtable(L);
	for (k = FDZOO_EVENTFD; k < FDZOO_KIND_COUNT; k++) {
		lua_pushstring(L, fdzoo_kind_name(k));
		lua_rawseti(L, -2, i++);
	}
	return 1;
}

/*
 * The kind an fdzoo_describe() line names, for reproducers that make
 * fresh fds of the kinds a case sent. Kinds the zoo cannot make (a
 * character device, "other") come back as /dev/null, the most inert fd.
 */
static enum fdzoo_kind lc_kind_of_description(const char *d, size_t *size)
{
	const char *num = strrchr(d, ',');

	*size = 4096;
	if (!num)
		num = strchr(d, '(');
	if (num && num[1] >= '0' && num[1] <= '9')
		*size = strtoull(num + 1, NULL, 10);
	if (!strncmp(d, "eventfd", 7))
		return strstr(d, "semaphore")  ? FDZOO_EVENTFD_SEMAPHORE
		       : strstr(d, "nonblock") ? FDZOO_EVENTFD_NONBLOCK
					       : FDZOO_EVENTFD;
	if (!strncmp(d, "pipe(r", 6))
		return strstr(d, "widowed") ? FDZOO_WIDOWED_PIPE_READ
					    : FDZOO_PIPE_READ;
	if (!strncmp(d, "pipe(w", 6))
		return strstr(d, "widowed")  ? FDZOO_WIDOWED_PIPE_WRITE
		       : strstr(d, "packet") ? FDZOO_PACKET_PIPE_WRITE
					     : FDZOO_PIPE_WRITE;
	if (!strncmp(d, "memfd(", 6))
		return d[6] >= '0' && d[6] <= '9' ? FDZOO_MEMFD
						  : FDZOO_MEMFD_SEALED;
	if (!strncmp(d, "file(ro", 7))
		return FDZOO_FILE_RO;
	if (!strncmp(d, "file(wo", 7))
		return FDZOO_FILE_WO;
	if (!strncmp(d, "file(", 5))
		return FDZOO_FILE_RW;
	if (!strncmp(d, "socket", 6))
		return FDZOO_SOCKET;
	if (!strcmp(d, "dir"))
		return FDZOO_DIR;
	if (!strncmp(d, "o_path", 6))
		return FDZOO_OPATH;
	if (!strcmp(d, "/dev/full"))
		return FDZOO_DEV_FULL;
	return FDZOO_DEV_NULL;
}

/* fdzoo.like(description) -> a fresh fd of the kind it names (reproducers;
 * the other end of a pipe or socket is kept open beside it, in the case) */
static int lc_fdzoo_like(lua_State *L)
{
	size_t size;
	enum fdzoo_kind k =
		lc_kind_of_description(luaL_checkstring(L, 1), &size);
	int other = -1, fd = fdzoo_new(k, size, &other);

	if (fd < 0) {
		luaL_pushfail(L);
		lua_pushfstring(L, "%s: %s", fdzoo_kind_name(k), strerror(-fd));
		return 2;
	}
	lc_fd_push(L, fd);
	if (other >= 0) {
		lc_fd_push(L, other);
		return 2;
	}
	return 1;
}

/* fdzoo.eventfd([initval [, "nonblock" / "semaphore" ...]]) */
static int lc_fdzoo_eventfd(lua_State *L)
{
	unsigned int init = (unsigned int)luaL_optinteger(L, 1, 0);
	int flags = 0, i, fd;

	for (i = 2; i <= lua_gettop(L); i++) {
		const char *f = luaL_checkstring(L, i);

		if (!strcmp(f, "nonblock"))
			flags |= EFD_NONBLOCK;
		else if (!strcmp(f, "semaphore"))
			flags |= EFD_SEMAPHORE;
		else
			return luaL_argerror(L, i, "nonblock or semaphore");
	}
	fd = fdzoo_eventfd(init, flags);
	if (fd < 0) {
		luaL_pushfail(L);
		lua_pushstring(L, strerror(-fd));
		return 2;
	}
	lc_fd_push(L, fd);
	return 1;
}

/* fdzoo.count_open() -> fds this process has open (tests of leaks) */
static int lc_fdzoo_count_open(lua_State *L)
{
	lua_pushinteger(L, fdzoo_count_open(0));
	return 1;
}

static const luaL_Reg lc_fdzoo_funcs[] = {
	{ "new", lc_fdzoo_new },
	{ "available", lc_fdzoo_available },
	{ "kind", lc_fdzoo_kind },
	{ "describe", lc_fdzoo_describe },
	{ "kinds", lc_fdzoo_kinds },
	{ "like", lc_fdzoo_like },
	{ "eventfd", lc_fdzoo_eventfd },
	{ "count_open", lc_fdzoo_count_open },
	{ NULL, NULL },
};

int luaopen_vuc_fdzoo(lua_State *L)
{
	luaL_newmetatable(L, LC_FD_MT);
	luaL_setfuncs(L, lc_fd_meta, 0);
	luaL_newlib(L, lc_fd_methods);
	lua_setfield(L, -2, "__index");
	lua_pop(L, 1);
	luaL_newlib(L, lc_fdzoo_funcs);
	return 1;
}
