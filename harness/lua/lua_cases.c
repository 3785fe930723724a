// SPDX-License-Identifier: MIT
/*
 * lua_cases.c - load case files, run one case body.
 *
 * One Lua state holds a whole loaded set. Each file runs in its own
 * environment (a table whose misses fall back to the globals), so a
 * file's globals never reach another file; cases declared by one file
 * share its locals. A case body runs with:
 *   - a count hook that ends it once the case deadline has passed (a
 *     `while true do end` is an ERROR, not a hang);
 *   - every wait in C cut to the same deadline;
 *   - every fd, mapping and ring it made released when it returns,
 *     whatever the script still holds (no fd outlives its case).
 * A Lua error in a body is the script's fault: ERROR, "file:line: message".
 */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <lualib.h>

#include "common/util.h"
#include "lua/lua_internal.h"
#include "transport/chan.h"

#define LC_DEFAULT_CASE_MS 30000
#define LC_LOAD_MS 10000 /* one file's top level */
#define LC_HOOK_COUNT 1000

/* ---- diagnostics ------------------------------------------------------- */

VUC_PRINTF(2, 3)
static void lc_diag(struct lua_cases_diag *d, const char *fmt, ...)
{
	char **v, *msg;
	va_list ap;
	int ret;

	if (!d)
		return;
	va_start(ap, fmt);
	ret = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (ret < 0)
		return;
	v = realloc(d->msgs, (d->n + 1) * sizeof(*v));
	if (!v) {
		free(msg);
		return;
	}
	d->msgs = v;
	d->msgs[d->n++] = msg;
}

void lua_cases_diag_free(struct lua_cases_diag *d)
{
	size_t i;

	if (!d)
		return;
	for (i = 0; i < d->n; i++)
		free(d->msgs[i]);
	free(d->msgs);
	d->msgs = NULL;
	d->n = 0;
}

/* ---- the deadline hook -------------------------------------------------- */

static void lc_hook(lua_State *L, lua_Debug *ar)
{
	struct lua_cases *lc = lc_of(L);

	(void)ar;
	if (!lc->hook_deadline || chan_now() < lc->hook_deadline)
		return;
	lc->hook_hit = true;
	if (lc->run)
		lc->run->deadline_hit = true;
	/* From now on at every instruction: a body that catches the error
	 * meets it again as soon as its pcall returns. */
	lua_sethook(L, lc_hook, LUA_MASKCOUNT, 1);
	luaL_error(L, "case deadline exceeded");
}

static void lc_hook_arm(struct lua_cases *lc, int64_t deadline)
{
	lc->hook_deadline = deadline;
	lc->hook_hit = false;
	lua_sethook(lc->L, deadline ? lc_hook : NULL,
		    deadline ? LUA_MASKCOUNT : 0, LC_HOOK_COUNT);
}

/* ---- case { ... } ------------------------------------------------------- */

static void lc_case_free_strings(struct vuc_case *c)
{
	free(c->id);
	free(c->spec);
	free(c->quote);
	free(c->protocol);
	free(c->file);
	free(c->needs_device);
	memset(c, 0, sizeof(*c));
}

/* A string field of the declaration, or NULL. */
static const char *lc_decl_str(lua_State *L, const char *k)
{
	const char *s = NULL;

	if (lua_getfield(L, 1, k) == LUA_TSTRING)
		s = lua_tostring(L, -1);
	lua_pop(L, 1); /* the declaration keeps it alive */
	return s;
}

/* Feature names of needs.<k> into a mask; false on a name nobody knows. */
static bool lc_needs_mask(lua_State *L, int needs, const char *k, bool protocol,
			  uint64_t *mask, const char **bad)
{
	lua_Integer i, n;
	bool ok = true;

	*mask = 0;
	if (lua_getfield(L, needs, k) == LUA_TNIL) {
		lua_pop(L, 1);
		return true;
	}
	if (lua_isinteger(L, -1)) {
		*mask = (uint64_t)lua_tointeger(L, -1);
		lua_pop(L, 1);
		return true;
	}
	if (!lua_istable(L, -1)) {
		*bad = "(not a list)";
		lua_pop(L, 1);
		return false;
	}
	n = luaL_len(L, -1);
	for (i = 1; i <= n && ok; i++) {
		int bit = -1;

		lua_geti(L, -1, i);
		if (lua_isinteger(L, -1))
			bit = (int)lua_tointeger(L, -1);
		else if (lua_type(L, -1) == LUA_TSTRING)
			bit = protocol ? lc_protocol_feature_bit(
						 lua_tostring(L, -1))
				       : lc_virtio_feature_bit(
						 lua_tostring(L, -1));
		if (bit < 0 || bit > 63) {
			*bad = lua_type(L, -1) == LUA_TSTRING
				       ? lua_tostring(L, -1)
				       : "(not a name)";
			ok = false;
		} else {
			*mask |= UINT64_C(1) << bit;
		}
		lua_pop(L, 1);
	}
	lua_pop(L, 1);
	return ok;
}

/* The protocol a case id implies, or NULL. */
static const char *lc_protocol_of_id(const char *id)
{
	if (!strncmp(id, "vhost-user/", 11) || !strncmp(id, "virtio/", 7))
		return "vhost-user";
	if (!strncmp(id, "vfio-user/", 10))
		return "vfio-user";
	return NULL;
}

static int lc_add_case(struct lua_cases *lc, const struct vuc_case *c)
{
	struct vuc_case *v;

	if (lc->n == lc->cap) {
		size_t cap = lc->cap ? lc->cap * 2 : 64;

		v = realloc(lc->cases, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		lc->cases = v;
		lc->cap = cap;
	}
	lc->cases[lc->n++] = *c;
	return 0;
}

/*
 * case { id, spec, level, quote, protocol?, needs?, run } - declare a
 * case. A declaration with a problem is reported and dropped; the rest
 * of the file still loads.
 */
static int lc_case_decl(lua_State *L)
{
	struct lua_cases *lc = lc_of(L);
	const char *id, *spec, *quote, *level, *proto, *bad = NULL;
	const char *file = lc->loading ? lc->loading : "?";
	struct vuc_case c = { 0 };
	enum vuc_level lv;
	lua_Debug ar;
	int line = 0, needs;
	size_t i;

	if (!lc->loading || lc->run)
		return luaL_error(L, "case{} declares a case: only at the top "
				     "level of a case file");
	luaL_checktype(L, 1, LUA_TTABLE);
	lua_settop(L, 1);
	if (lua_getstack(L, 1, &ar) && lua_getinfo(L, "l", &ar))
		line = ar.currentline;

	id = lc_decl_str(L, "id");
	if (!id) {
		lc_diag(lc->diag, "%s:%d: case without an id (a string)", file,
			line);
		return 0;
	}
	spec = lc_decl_str(L, "spec");
	quote = lc_decl_str(L, "quote");
	level = lc_decl_str(L, "level");
	if (!spec || !quote || !level) {
		lc_diag(lc->diag, "%s:%d: case \"%s\": missing field '%s'",
			file, line, id,
			!spec	 ? "spec"
			: !level ? "level"
				 : "quote");
		return 0;
	}
	if (vuc_level_parse(level, &lv) < 0) {
		lc_diag(lc->diag,
			"%s:%d: case \"%s\": level \"%s\" is none of MUST, "
			"SHOULD, ROBUST",
			file, line, id, level);
		return 0;
	}
	if (lua_getfield(L, 1, "run") != LUA_TFUNCTION) {
		lc_diag(lc->diag,
			"%s:%d: case \"%s\": missing field 'run' (a function)",
			file, line, id);
		return 0;
	}
	lua_pop(L, 1);
	proto = lc_decl_str(L, "protocol");
	if (!proto)
		proto = lc_protocol_of_id(id);
	if (!proto ||
	    (strcmp(proto, "vhost-user") && strcmp(proto, "vfio-user"))) {
		lc_diag(lc->diag,
			"%s:%d: case \"%s\": protocol is none of vhost-user, "
			"vfio-user (give protocol = or an id starting with "
			"one)",
			file, line, id);
		return 0;
	}
	lua_getfield(L, 1, "needs");
	needs = lua_gettop(L);
	if (!lua_isnil(L, needs) && !lua_istable(L, needs)) {
		lc_diag(lc->diag, "%s:%d: case \"%s\": needs is not a table",
			file, line, id);
		return 0;
	}
	if (lua_istable(L, needs)) {
		if (!lc_needs_mask(L, needs, "protocol_features", true,
				   &c.needs_protocol, &bad) ||
		    !lc_needs_mask(L, needs, "features", false,
				   &c.needs_features, &bad)) {
			lc_diag(lc->diag,
				"%s:%d: case \"%s\": needs an unknown feature "
				"%s",
				file, line, id, bad);
			return 0;
		}
		if (lua_getfield(L, needs, "device") == LUA_TSTRING)
			c.needs_device = strdup(lua_tostring(L, -1));
		lua_pop(L, 1);
		lua_getfield(L, needs, "fresh_process");
		c.fresh_process = lua_toboolean(L, -1);
		lua_pop(L, 1);
		/* needs.profile: checked by the prelude at run time */
		if (lua_getfield(L, needs, "profile") != LUA_TNIL &&
		    lua_type(L, -1) != LUA_TSTRING) {
			lc_diag(lc->diag,
				"%s:%d: case \"%s\": needs.profile is not a "
				"string (a profile name, e.g. "
				"\"libvfio-user\")",
				file, line, id);
			free(c.needs_device);
			return 0;
		}
		lua_pop(L, 1);
	}
	for (i = 0; i < lc->n; i++) {
		if (strcmp(lc->cases[i].id, id))
			continue;
		lc_diag(lc->diag,
			"%s:%d: duplicate case id \"%s\" (first declared at "
			"%s:%d); this one is dropped",
			file, line, id, lc->cases[i].file, lc->cases[i].line);
		free(c.needs_device);
		return 0;
	}
	if (lc->protocol && strcmp(lc->protocol, proto)) {
		free(c.needs_device);
		return 0;
	}
	c.id = strdup(id);
	c.spec = strdup(spec);
	c.quote = strdup(quote);
	c.protocol = strdup(proto);
	c.file = strdup(file);
	c.line = line;
	c.level = lv;
	/* the prelude reads the protocol from the declaration */
	lua_pushstring(L, proto);
	lua_setfield(L, 1, "protocol");
	lua_pushvalue(L, 1);
	c.ref = luaL_ref(L, LUA_REGISTRYINDEX);
	if (!c.id || !c.spec || !c.quote || !c.protocol || !c.file ||
	    lc_add_case(lc, &c) < 0) {
		luaL_unref(L, LUA_REGISTRYINDEX, c.ref);
		lc_case_free_strings(&c);
		return luaL_error(L, "out of memory");
	}
	return 0;
}

/* ---- loading ------------------------------------------------------------ */

struct lc_paths {
	char **v;
	size_t n, cap;
};

static int lc_paths_add(struct lc_paths *p, const char *path)
{
	char **v;

	if (p->n == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 32;

		v = realloc(p->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		p->v = v;
		p->cap = cap;
	}
	p->v[p->n] = strdup(path);
	if (!p->v[p->n])
		return -ENOMEM;
	p->n++;
	return 0;
}

static void lc_paths_free(struct lc_paths *p)
{
	size_t i;

	for (i = 0; i < p->n; i++)
		free(p->v[i]);
	free(p->v);
}

static bool lc_is_lua(const char *name)
{
	size_t n = strlen(name);

	return n > 4 && !strcmp(name + n - 4, ".lua");
}

/* Every *.lua under @dir, recursively, in name order. */
static int lc_collect(struct lc_paths *p, const char *dir)
{
	struct dirent **ents = NULL;
	int i, n, ret = 0;

	n = scandir(dir, &ents, NULL, alphasort);
	if (n < 0)
		return -errno;
	for (i = 0; i < n; i++) {
		const char *name = ents[i]->d_name;
		char *path = NULL;
		struct stat st;

		if (ret < 0 || name[0] == '.')
			goto next;
		if (asprintf(&path, "%s/%s", dir, name) < 0) {
			path = NULL;
			ret = -ENOMEM;
			goto next;
		}
		if (stat(path, &st) < 0)
			goto next;
		if (S_ISDIR(st.st_mode))
			ret = lc_collect(p, path);
		else if (lc_is_lua(name))
			ret = lc_paths_add(p, path);
	next:
		free(path);
		free(ents[i]);
	}
	free(ents);
	return ret;
}

/* Drop the cases declared from index @from on (a file that failed). */
static void lc_drop_from(struct lua_cases *lc, size_t from)
{
	while (lc->n > from) {
		struct vuc_case *c = &lc->cases[--lc->n];

		luaL_unref(lc->L, LUA_REGISTRYINDEX, c->ref);
		lc_case_free_strings(c);
	}
}

static void lc_load_file(struct lua_cases *lc, const char *path)
{
	lua_State *L = lc->L;
	int top = lua_gettop(L), st;

	lc->loading = path;
	lc->file_first = lc->n;
	if (luaL_loadfilex(L, path, "t") != LUA_OK) {
		lc_diag(lc->diag, "%s", lua_tostring(L, -1));
		goto out;
	}
	/* its own environment: globals it sets stay in the file */
	lua_createtable(L, 0, 8);
	lua_createtable(L, 0, 1);
	lua_pushglobaltable(L);
	lua_setfield(L, -2, "__index");
	lua_setmetatable(L, -2);
	lua_setupvalue(L, -2, 1);
	lc_hook_arm(lc, chan_deadline(LC_LOAD_MS));
	st = lua_pcall(L, 0, 0, 0);
	lc_hook_arm(lc, 0);
	if (st != LUA_OK) {
		const char *msg = lua_tostring(L, -1);

		if (lc->hook_hit)
			lc_diag(lc->diag, "%s: top level ran past %d ms", path,
				LC_LOAD_MS);
		else
			lc_diag(lc->diag, "%s",
				msg ? msg : "error object is not a string");
		lc_drop_from(lc, lc->file_first);
	}
out:
	lua_settop(L, top);
	lc->loading = NULL;
}

/* The modules and the prelude. Return: 0, or -EINVAL (the prelude did not
 * load: a build fault, in @diag). */
static int lc_open(struct lua_cases *lc)
{
	lua_State *L = lc->L;

	luaL_openlibs(L);
	lua_newtable(L);
	lua_setglobal(L, "__vuc");
	luaL_requiref(L, "fdzoo", luaopen_vuc_fdzoo, 1);
	luaL_requiref(L, "gmem", luaopen_vuc_gmem, 1);
	luaL_requiref(L, "ring", luaopen_vuc_ring, 1);
	luaL_requiref(L, "vhost", luaopen_vuc_vhost, 1);
	luaL_requiref(L, "vfio", luaopen_vuc_vfio, 1);
	lua_pop(L, 5);
	lc_t_open(L);
	lua_pushcfunction(L, lc_case_decl);
	lua_setglobal(L, "case");
	if (luaL_loadbufferx(L, vuc_lua_prelude, vuc_lua_prelude_len,
			     "=prelude.lua", "t") != LUA_OK ||
	    lua_pcall(L, 0, 0, 0) != LUA_OK) {
		lc_diag(lc->diag, "%s", lua_tostring(L, -1));
		lua_pop(L, 1);
		return -EINVAL;
	}
	return 0;
}

int lua_cases_load(struct lua_cases **out, const char *const *paths,
		   size_t npaths, const char *protocol,
		   struct lua_cases_diag *diag)
{
	struct lc_paths files = { 0 };
	struct lua_cases *lc;
	struct stat st;
	size_t i;
	int ret;

	*out = NULL;
	lc = calloc(1, sizeof(*lc));
	if (!lc)
		return -ENOMEM;
	lc->L = luaL_newstate();
	if (!lc->L) {
		free(lc);
		return -ENOMEM;
	}
	*(struct lua_cases **)lua_getextraspace(lc->L) = lc;
	lc->diag = diag;
	lc->protocol = protocol;
	ret = lc_open(lc);
	if (ret < 0)
		goto fail;
	for (i = 0; i < npaths; i++) {
		if (stat(paths[i], &st) < 0) {
			ret = -errno;
			lc_diag(diag, "%s: %s", paths[i], strerror(errno));
			goto fail;
		}
		ret = S_ISDIR(st.st_mode) ? lc_collect(&files, paths[i])
					  : lc_paths_add(&files, paths[i]);
		if (ret < 0)
			goto fail;
	}
	for (i = 0; i < files.n; i++)
		lc_load_file(lc, files.v[i]);
	lc_paths_free(&files);
	lc->diag = NULL;
	lc->protocol = NULL;
	*out = lc;
	return (int)lc->n;

fail:
	lc_paths_free(&files);
	lc->diag = NULL;
	lua_cases_free(lc);
	return ret;
}

size_t lua_cases_count(const struct lua_cases *lc)
{
	return lc ? lc->n : 0;
}

const struct vuc_case *lua_cases_get(const struct lua_cases *lc, size_t i)
{
	return lc && i < lc->n ? &lc->cases[i] : NULL;
}

void lua_cases_free(struct lua_cases *lc)
{
	size_t i;

	if (!lc)
		return;
	for (i = 0; i < lc->n; i++)
		lc_case_free_strings(&lc->cases[i]);
	free(lc->cases);
	if (lc->L)
		lua_close(lc->L); /* the collector closes file-level fds */
	free(lc);
}

/* ---- running ------------------------------------------------------------ */

/* Message handler: keep the verdict unwinding as it is; make anything
 * else "file:line: message" and note the traceback in the trace. */
static int lc_msgh(lua_State *L)
{
	struct lc_run *run = lc_run_of(L);
	char where[512];
	const char *msg;
	size_t wl;

	if (lua_touserdata(L, 1) == &lc_unwind)
		return 1;
	msg = luaL_tolstring(L, 1, NULL);
	lc_where(L, where, sizeof(where));
	/* errors raised in C functions carry no position: add the case's */
	wl = strcspn(where, ":");
	if (*where && strncmp(msg, where, wl))
		lua_pushfstring(L, "%s: %s", where, msg);
	else
		lua_pushstring(L, msg);
	luaL_traceback(L, L, NULL, 1);
	if (run)
		lc_trace(run, VUC_TRACE_NOTE, lua_tostring(L, -1), NULL, 0,
			 NULL);
	lua_pop(L, 1);
	return 1;
}

int lua_cases_run(struct lua_cases *lc, size_t i, struct lua_case_env *env,
		  struct vuc_result *res)
{
	const struct vuc_case *c = lua_cases_get(lc, i);
	lua_State *L = lc->L;
	struct lc_run *run;
	int top, st, case_ms;

	if (!c)
		return -EINVAL;
	run = calloc(1, sizeof(*run));
	if (!run)
		return -ENOMEM;
	case_ms = env->case_ms > 0 ? env->case_ms : LC_DEFAULT_CASE_MS;
	run->env = env;
	run->res = res;
	run->c = c;
	run->vfio = !strcmp(c->protocol, "vfio-user");
	run->next_msg_id = 1;
	run->has_process = env->target && target_pid(env->target) >= 0;
	run->start = chan_now();
	run->deadline = run->start + (int64_t)case_ms * 1000000;
	res->verdict = VUC_PASS;

	top = lua_gettop(L);
	lc->run = run;
	lua_pushcfunction(L, lc_msgh);
	lua_getglobal(L, "__vuc");
	lua_getfield(L, -1, "run_case");
	lua_remove(L, -2);
	lc_t_push(L, run);
	lua_pushvalue(L, -1);
	run->t_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	lua_rawgeti(L, LUA_REGISTRYINDEX, c->ref);
	lc_hook_arm(lc, run->deadline);
	st = lua_pcall(L, 2, 0, top + 1);
	lc_hook_arm(lc, 0);

	if (run->verdict_set) {
		res->verdict = run->verdict;
	} else if (run->deadline_hit) {
		/* "file:line: case deadline exceeded" from the hook, unless
		 * the body caught it and returned */
		res->verdict = VUC_ERROR;
		free(res->reason);
		if (asprintf(&res->reason, "%s (%d ms)",
			     st != LUA_OK && lua_tostring(L, -1)
				     ? lua_tostring(L, -1)
				     : "case deadline exceeded",
			     case_ms) < 0)
			res->reason = NULL;
	} else if (st != LUA_OK) {
		res->verdict = VUC_ERROR;
		free(res->reason);
		res->reason = strdup(lua_tostring(L, -1) ? lua_tostring(L, -1)
							 : "error");
	}

	/* the case is over: `t` refuses, and what it made is released */
	run->over = true;
	lua_rawgeti(L, LUA_REGISTRYINDEX, run->t_ref);
	lc_t_detach(L, -1);
	luaL_unref(L, LUA_REGISTRYINDEX, run->t_ref);
	lc_run_release_all(run);
	lc->run = NULL;
	lua_settop(L, top);
	lua_gc(L, LUA_GCSTEP, 0);

	res->duration_ms = lc_ms_since(run);
	free(run->rxbuf);
	free(run);
	return 0;
}

int lua_cases_write_reproducer(const struct vuc_case *c,
			       const struct vuc_result *res, const char *path)
{
	return lc_write_reproducer(c, res, NULL, path);
}
