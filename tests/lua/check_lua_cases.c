// SPDX-License-Identifier: MIT
/*
 * check_lua_cases.c - the Lua layer: loading case files (good, syntax
 * error, runtime error, duplicate id, missing fields), every verdict path
 * (PASS, FAIL with expected / actual, SKIP, ERROR on a Lua error, ERROR on
 * the deadline hook), target control without a target, chunked sends with
 * fds where declared, the trace, and reproducers written, loaded and run.
 *
 * Cases run against an in-process fake peer: a thread on the other end of
 * a socketpair that answers vhost-user (or vfio-user) messages the way it
 * is told to (correctly, saying yes to everything, hanging up on what is
 * wrong, or never answering), and records what arrived.
 */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/util.h"
#include "fe/frame.h"
#include "lua/lua_cases.h"
#include "transport/chan.h"
#include "transport/fdzoo.h"
#include "transport/sock.h"
#include "wire/vfio_user.h"
#include "wire/vhost_user.h"

/* ---- the fake peer ------------------------------------------------------ */

enum peer_mode {
	PEER_GOOD,   /* acks what is legal, nacks the rest (need_reply) */
	PEER_YES,    /* acks 0 to everything, legal or not */
	PEER_HANGUP, /* hangs up on anything illegal */
	PEER_SILENT, /* reads, never answers */
	PEER_QUIET,  /* answers GET_FEATURES only (a barrier for tests) */
};

struct peer_rec {
	uint32_t request;
	uint32_t size;
	unsigned int nfds;
	unsigned int hdr_fds, payload_fds; /* where they arrived */
	enum fdzoo_kind kind0;
};

struct peer {
	int fd;
	bool vfio;
	enum peer_mode mode;
	uint64_t features, protocol;
	uint64_t negotiated;
	pthread_t th;
	struct peer_rec rec[64];
	int nrec;
};

static void peer_reply_u64(struct peer *p, uint32_t req, uint64_t v)
{
	struct vhost_user_msg r;

	vhost_user_build_u64(&r, req, v);
	vhost_user_make_reply(&r);
	frame_vhost_send(p->fd, &r, FRAME_WHOLE, chan_deadline(1000));
}

static void *peer_vhost(struct peer *p)
{
	static __thread struct vhost_user_msg m;
	struct frame_info info;
	const char *why;
	uint64_t v;
	int ret;

	for (;;) {
		ret = frame_vhost_recv(p->fd, &m, chan_deadline(5000), &why,
				       &info);
		if (ret < 0)
			break;
		if (p->nrec < (int)ARRAY_SIZE(p->rec)) {
			struct peer_rec *r = &p->rec[p->nrec++];

			r->request = m.hdr.request;
			r->size = m.hdr.size;
			r->nfds = m.nfds;
			r->hdr_fds = info.hdr.fds_seen;
			r->payload_fds = info.payload.fds_seen;
			r->kind0 =
				m.nfds ? fdzoo_kind_of(m.fds[0]) : FDZOO_CLOSED;
		}
		close_fds(m.fds, m.nfds);
		if (p->mode == PEER_SILENT ||
		    (p->mode == PEER_QUIET &&
		     m.hdr.request != VHOST_USER_GET_FEATURES))
			continue;
		ret = vhost_user_check_request(&m, VHOST_USER_FROM_FRONTEND,
					       p->negotiated, &why);
		if (ret < 0 && p->mode == PEER_HANGUP) {
			shutdown(p->fd, SHUT_RDWR);
			break;
		}
		if (ret >= 0 &&
		    m.hdr.request == VHOST_USER_SET_PROTOCOL_FEATURES &&
		    !vhost_user_get_u64(&m, &v, NULL))
			p->negotiated = v;
		if (m.hdr.request == VHOST_USER_GET_FEATURES) {
			peer_reply_u64(p, m.hdr.request, p->features);
			continue;
		}
		if (m.hdr.request == VHOST_USER_GET_PROTOCOL_FEATURES) {
			peer_reply_u64(p, m.hdr.request, p->protocol);
			continue;
		}
		if (!(m.hdr.flags & VHOST_USER_NEED_REPLY))
			continue;
		peer_reply_u64(p, m.hdr.request,
			       ret < 0 && p->mode != PEER_YES ? 1 : 0);
	}
	return NULL;
}

static void *peer_vfio(struct peer *p)
{
	static __thread uint8_t buf[65536], out[4096];
	struct vfio_user_msg m, r;
	const char *why;
	int ret;

	for (;;) {
		ret = frame_vfio_recv(p->fd, &m, buf, sizeof(buf), 0,
				      chan_deadline(5000), &why, NULL);
		if (ret < 0)
			break;
		if (p->nrec < (int)ARRAY_SIZE(p->rec)) {
			p->rec[p->nrec].request = m.hdr.command;
			p->rec[p->nrec++].nfds = m.nfds;
		}
		close_fds(m.fds, m.nfds);
		if (p->mode == PEER_SILENT)
			continue;
		if (m.hdr.command == VFIO_USER_VERSION)
			ret = vfio_user_build_version_reply(
				&r, out, sizeof(out), &m.hdr, 0, 2,
				"{\"capabilities\":{\"max_msg_fds\":8}}", NULL,
				0);
		else if (m.hdr.command == VFIO_USER_DEVICE_GET_INFO)
			ret = vfio_user_build_device_info_reply(
				&r, out, sizeof(out), &m.hdr,
				VFIO_DEVICE_FLAGS_PCI, 9, 5);
		else if (p->mode == PEER_YES)
			ret = vfio_user_build_reply(&r, out, sizeof(out),
						    &m.hdr, NULL, 0, NULL, 0);
		else
			ret = vfio_user_build_error_reply(&r, out, sizeof(out),
							  &m.hdr, EINVAL);
		if (ret >= 0)
			frame_vfio_send(p->fd, &r, FRAME_WHOLE,
					chan_deadline(1000));
	}
	return NULL;
}

static void *peer_main(void *arg)
{
	struct peer *p = arg;

	return p->vfio ? peer_vfio(p) : peer_vhost(p);
}

/* Start @p on one end of a socketpair; return the other end. */
static int peer_start(struct peer *p)
{
	int sv[2];

	ck_assert_int_eq(sock_pair(sv), 0);
	p->fd = sv[1];
	if (!p->features)
		p->features = UINT64_C(1) << 32 | UINT64_C(1) << 30;
	ck_assert_int_eq(pthread_create(&p->th, NULL, peer_main, p), 0);
	return sv[0];
}

static void peer_stop(struct peer *p, int *conn)
{
	close_fd(conn); /* the peer sees EOF and ends */
	pthread_join(p->th, NULL);
	close_fd(&p->fd);
}

/* ---- case files --------------------------------------------------------- */

static char dir[64];
static int fds_before;

static void setup(void)
{
	strcpy(dir, "/tmp/check_lua_XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	fds_before = fdzoo_count_open(0);
}

static void rm_rf(const char *d)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d);
	ck_assert_int_eq(system(cmd), 0);
}

static void teardown(void)
{
	rm_rf(dir);
	/* no test may leak an fd */
	ck_assert_int_eq(fdzoo_count_open(0), fds_before);
}

static void put(const char *name, const char *text)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

static struct lua_cases *load(struct lua_cases_diag *d, int expect)
{
	const char *paths[] = { dir };
	struct lua_cases *lc = NULL;
	int n = lua_cases_load(&lc, paths, 1, NULL, d);

	ck_assert_int_eq(n, expect);
	ck_assert_ptr_nonnull(lc);
	return lc;
}

static size_t find(struct lua_cases *lc, const char *id)
{
	size_t i;

	for (i = 0; i < lua_cases_count(lc); i++)
		if (!strcmp(lua_cases_get(lc, i)->id, id))
			return i;
	ck_abort_msg("no case %s", id);
	return 0;
}

/* Run case @id against @p (already configured), case deadline @case_ms. */
static void run(struct lua_cases *lc, const char *id, struct peer *p,
		struct vuc_result *res, int case_ms)
{
	struct lua_case_env env = { 0 };

	memset(res, 0, sizeof(*res));
	env.conn = peer_start(p);
	env.timeout_ms = 300;
	env.case_ms = case_ms;
	ck_assert_int_eq(lua_cases_run(lc, find(lc, id), &env, res), 0);
	peer_stop(p, &env.conn);
}

static bool diag_has(const struct lua_cases_diag *d, const char *s)
{
	size_t i;

	for (i = 0; i < d->n; i++)
		if (strstr(d->msgs[i], s))
			return true;
	return false;
}

static const struct vuc_trace_entry *trace_find(const struct vuc_result *r,
						enum vuc_trace_dir dir_,
						const char *text)
{
	size_t i;

	for (i = 0; i < r->trace.n; i++)
		if (r->trace.v[i].dir == dir_ && r->trace.v[i].text &&
		    strstr(r->trace.v[i].text, text))
			return &r->trace.v[i];
	return NULL;
}

static const char good_file[] =
	"-- two cases\n"
	"case {\n"
	"  id = 'vhost-user/test/one', spec = 'vhost-user#header',\n"
	"  level = 'MUST', quote = [[q]],\n"
	"  needs = { protocol_features = { 'REPLY_ACK', 'MQ' },\n"
	"            features = { 'VERSION_1' }, device = 'net',\n"
	"            fresh_process = true },\n"
	"  run = function(t) end,\n"
	"}\n"
	"for _, n in ipairs({ 'a', 'b' }) do\n"
	"  case { id = 'vfio-user/test/' .. n, spec = 'vfio-user#x',\n"
	"         level = 'robust', quote = 'q', run = function(t) end }\n"
	"end\n";

/* ---- loading ------------------------------------------------------------ */

START_TEST(load_good)
{
	struct lua_cases_diag d = { 0 };
	struct lua_cases *lc;
	const struct vuc_case *c;

	put("good.lua", good_file);
	put("notes.txt", "not lua {{{");
	lc = load(&d, 3);
	ck_assert_uint_eq(d.n, 0);
	c = lua_cases_get(lc, 0);
	ck_assert_str_eq(c->id, "vhost-user/test/one");
	ck_assert_str_eq(c->protocol, "vhost-user");
	ck_assert_int_eq(c->level, VUC_MUST);
	ck_assert_int_eq(c->line, 2);
	ck_assert_ptr_nonnull(strstr(c->file, "good.lua"));
	ck_assert_uint_eq(c->needs_protocol, VHOST_USER_PROTO_BIT(REPLY_ACK) |
						     VHOST_USER_PROTO_BIT(MQ));
	ck_assert_uint_eq(c->needs_features, UINT64_C(1) << 32);
	ck_assert_str_eq(c->needs_device, "net");
	ck_assert(c->fresh_process);
	c = lua_cases_get(lc, 2);
	ck_assert_str_eq(c->id, "vfio-user/test/b");
	ck_assert_str_eq(c->protocol, "vfio-user");
	ck_assert_int_eq(c->level, VUC_ROBUST);
	ck_assert_ptr_null(lua_cases_get(lc, 3));
	lua_cases_free(lc);

	/* the protocol filter keeps one protocol */
	{
		const char *paths[] = { dir };

		ck_assert_int_eq(lua_cases_load(&lc, paths, 1, "vfio-user", &d),
				 2);
		ck_assert_str_eq(lua_cases_get(lc, 0)->id, "vfio-user/test/a");
		lua_cases_free(lc);
	}
	lua_cases_diag_free(&d);
}
END_TEST

START_TEST(load_errors_isolated)
{
	struct lua_cases_diag d = { 0 };
	struct lua_cases *lc;
	char want[256];

	put("a-syntax.lua",
	    "case {\n id = 'vhost-user/a',\n run = function(\n");
	put("b-good.lua", good_file);
	put("c-runtime.lua",
	    "case { id = 'vhost-user/c/1', spec = 's', level = 'MUST',\n"
	    "       quote = 'q', run = function(t) end }\n"
	    "local x = nil\n"
	    "x.boom = 1\n");
	put("d-missing.lua",
	    "case { id = 'vhost-user/d/no-spec', level = 'MUST',\n"
	    "       quote = 'q', run = function(t) end }\n"
	    "case { id = 'vhost-user/d/no-run', spec = 's', level = 'MUST',\n"
	    "       quote = 'q' }\n"
	    "case { id = 'vhost-user/d/bad-level', spec = 's', level = 'MAY',\n"
	    "       quote = 'q', run = function(t) end }\n"
	    "case { id = 'other/d/no-proto', spec = 's', level = 'MUST',\n"
	    "       quote = 'q', run = function(t) end }\n"
	    "case { id = 'vhost-user/d/bad-feature', spec = 's',\n"
	    "       level = 'MUST', quote = 'q',\n"
	    "       needs = { protocol_features = { 'NO_SUCH' } },\n"
	    "       run = function(t) end }\n"
	    "case { id = 'vhost-user/d/ok', spec = 's', level = 'SHOULD',\n"
	    "       quote = 'q', run = function(t) end }\n");
	put("e-dup.lua",
	    "case { id = 'vhost-user/test/one', spec = 's', level = 'MUST',\n"
	    "       quote = 'q', run = function(t) end }\n");
	mkdir(strcat(strcpy(want, dir), "/sub"), 0700);
	put("sub/f.lua",
	    "case { id = 'vhost-user/sub/f', spec = 's', level = 'MUST',\n"
	    "       quote = 'q', run = function(t) end }\n");

	/* good (3) + d/ok + sub/f; the syntax and runtime files load none */
	lc = load(&d, 5);
	snprintf(want, sizeof(want), "%s/a-syntax.lua:4:", dir);
	ck_assert_msg(diag_has(&d, want), "no syntax diag %s", want);
	snprintf(want, sizeof(want), "%s/c-runtime.lua:4:", dir);
	ck_assert_msg(diag_has(&d, want), "no runtime diag");
	ck_assert(diag_has(&d, "missing field 'spec'"));
	ck_assert(diag_has(&d, "missing field 'run'"));
	ck_assert(diag_has(&d, "\"MAY\""));
	ck_assert(diag_has(&d, "other/d/no-proto"));
	ck_assert(diag_has(&d, "NO_SUCH"));
	ck_assert(diag_has(&d, "duplicate case id \"vhost-user/test/one\""));
	snprintf(want, sizeof(want), "%s/d-missing.lua:1:", dir);
	ck_assert(diag_has(&d, want));
	ck_assert_uint_eq(d.n, 8);
	/* the first declaration of the duplicate is the one kept */
	ck_assert_ptr_nonnull(
		strstr(lua_cases_get(lc, find(lc, "vhost-user/test/one"))->file,
		       "b-good.lua"));
	find(lc, "vhost-user/sub/f");
	find(lc, "vhost-user/d/ok");
	lua_cases_free(lc);
	lua_cases_diag_free(&d);

	{
		const char *paths[] = { "/nonexistent/cases" };

		ck_assert_int_eq(lua_cases_load(&lc, paths, 1, NULL, &d),
				 -ENOENT);
		ck_assert_ptr_null(lc);
		lua_cases_diag_free(&d);
	}
}
END_TEST

/* ---- verdicts ----------------------------------------------------------- */

static const char verdict_file[] =
	"local C = function(id, body, needs)\n"
	"  case { id = 'vhost-user/v/' .. id, spec = 'vhost-user#x',\n"
	"         level = 'MUST', quote = 'q', needs = needs, run = body }\n"
	"end\n"
	"C('pass', function(t)\n"
	"  local r = assert(t:call(vhost.msg('GET_FEATURES')))\n"
	"  t:check(r.u64 == (1 << 32 | 1 << 30), 'the offered features',\n"
	"          r.u64)\n"
	"end)\n"
	"C('refusal', function(t)\n"
	"  local m = vhost.msg('SET_VRING_NUM', { index = 0, num = 256 })\n"
	"  m.size = 4\n"
	"  t:expect_refusal(m)\n"
	"  t:expect_alive()\n"
	"end, { protocol_features = { 'REPLY_ACK' } })\n"
	"C('unknown', function(t)\n"
	"  t:expect_refusal(vhost.raw{ request = 99, flags = 1 | 8 })\n"
	"end, { protocol_features = { 'REPLY_ACK' } })\n"
	"C('skip', function(t) error('not reached') end,\n"
	"  { protocol_features = { 'INFLIGHT_SHMFD' } })\n"
	"C('lua-error', function(t)\n"
	"  local x = nil\n"
	"  return x.field\n"
	"end)\n"
	"C('deadline', function(t)\n"
	"  local fd = fdzoo.new('eventfd')\n"
	"  while true do end\n"
	"end)\n"
	"C('caught-deadline', function(t)\n"
	"  for i = 1, 1e9 do pcall(function() while true do end end) end\n"
	"end)\n"
	"C('no-target', function(t) t:restart() end)\n"
	"C('caught-fail', function(t)\n"
	"  pcall(t.fail, t, { expected = 'e', actual = 'a' })\n"
	"end)\n"
	"C('no-reply', function(t)\n"
	"  t:expect_no_reply(vhost.msg('SET_OWNER'), { timeout = 50 })\n"
	"end)\n";

START_TEST(verdicts)
{
	struct lua_cases_diag d = { 0 };
	struct peer p = { 0 };
	struct vuc_result r;
	struct lua_cases *lc;
	int64_t t0;

	put("v.lua", verdict_file);
	lc = load(&d, 10);

	p.protocol = VHOST_USER_PROTO_BIT(REPLY_ACK);
	run(lc, "vhost-user/v/pass", &p, &r, 2000);
	ck_assert_msg(r.verdict == VUC_PASS, "%s", r.reason);
	ck_assert_ptr_null(r.reason);
	ck_assert_uint_eq(p.nrec, 1);
	vuc_result_free(&r);

	/* a correct peer refuses a size lie, and ... */
	memset(&p, 0, sizeof(p));
	p.protocol = VHOST_USER_PROTO_BIT(REPLY_ACK);
	run(lc, "vhost-user/v/refusal", &p, &r, 2000);
	ck_assert_msg(r.verdict == VUC_PASS, "%s", r.reason);
	ck_assert_ptr_nonnull(trace_find(&r, VUC_TRACE_NOTE,
					 "no target "
					 "process"));
	vuc_result_free(&r);

	/* ... a peer that says yes to everything fails, expected vs actual */
	memset(&p, 0, sizeof(p));
	p.protocol = VHOST_USER_PROTO_BIT(REPLY_ACK);
	p.mode = PEER_YES;
	run(lc, "vhost-user/v/refusal", &p, &r, 2000);
	ck_assert_int_eq(r.verdict, VUC_FAIL);
	ck_assert_str_eq(r.actual, "ack 0");
	ck_assert_ptr_nonnull(strstr(r.expected, "error reply"));
	ck_assert_ptr_nonnull(strstr(r.expected, "hang-up"));
	ck_assert_msg(strstr(r.reason, "v.lua:13: expected"), "%s", r.reason);
	vuc_result_free(&r);

	/* an unknown request: a hang-up is a refusal too */
	memset(&p, 0, sizeof(p));
	p.protocol = VHOST_USER_PROTO_BIT(REPLY_ACK);
	p.mode = PEER_HANGUP;
	run(lc, "vhost-user/v/unknown", &p, &r, 2000);
	ck_assert_msg(r.verdict == VUC_PASS, "%s", r.reason);
	ck_assert_ptr_nonnull(trace_find(&r, VUC_TRACE_NOTE, "hangup"));
	vuc_result_free(&r);

	/* silence past the deadline is not a refusal */
	memset(&p, 0, sizeof(p));
	p.protocol = VHOST_USER_PROTO_BIT(REPLY_ACK);
	p.mode = PEER_SILENT;
	p.features = UINT64_C(1) << 32; /* no protocol features at all */
	run(lc, "vhost-user/v/unknown", &p, &r, 2000);
	ck_assert_int_eq(r.verdict, VUC_FAIL);
	ck_assert_ptr_nonnull(strstr(r.reason, "a VHOST_USER_GET_FEATURES"));
	vuc_result_free(&r);

	/* a protocol feature that is not offered: SKIP, saying which */
	memset(&p, 0, sizeof(p));
	p.protocol = VHOST_USER_PROTO_BIT(REPLY_ACK);
	run(lc, "vhost-user/v/skip", &p, &r, 2000);
	ck_assert_int_eq(r.verdict, VUC_SKIP);
	ck_assert_msg(strstr(r.reason, "INFLIGHT_SHMFD"), "%s", r.reason);
	ck_assert_msg(strstr(r.reason, "offered: REPLY_ACK"), "%s", r.reason);
	vuc_result_free(&r);

	/* a Lua error is the script's: ERROR, file:line: message */
	memset(&p, 0, sizeof(p));
	run(lc, "vhost-user/v/lua-error", &p, &r, 2000);
	ck_assert_int_eq(r.verdict, VUC_ERROR);
	ck_assert_msg(strstr(r.reason, "v.lua:23: attempt to index"), "%s",
		      r.reason);
	vuc_result_free(&r);

	/* an endless body ends at the case deadline, its fd closed */
	memset(&p, 0, sizeof(p));
	t0 = chan_now();
	run(lc, "vhost-user/v/deadline", &p, &r, 150);
	ck_assert_int_eq(r.verdict, VUC_ERROR);
	ck_assert_msg(strstr(r.reason, "case deadline exceeded"), "%s",
		      r.reason);
	ck_assert_int_lt(chan_now() - t0, 2000 * 1000000LL);
	vuc_result_free(&r);

	memset(&p, 0, sizeof(p));
	t0 = chan_now();
	run(lc, "vhost-user/v/caught-deadline", &p, &r, 150);
	ck_assert_int_eq(r.verdict, VUC_ERROR);
	ck_assert_msg(strstr(r.reason, "case deadline exceeded"), "%s",
		      r.reason);
	ck_assert_int_lt(chan_now() - t0, 2000 * 1000000LL);
	vuc_result_free(&r);

	/* target control without a target: a clear ERROR */
	memset(&p, 0, sizeof(p));
	run(lc, "vhost-user/v/no-target", &p, &r, 2000);
	ck_assert_int_eq(r.verdict, VUC_ERROR);
	ck_assert_msg(strstr(r.reason, "no target process"), "%s", r.reason);
	vuc_result_free(&r);

	/* a verdict stands even when the body catches the unwinding */
	memset(&p, 0, sizeof(p));
	run(lc, "vhost-user/v/caught-fail", &p, &r, 2000);
	ck_assert_int_eq(r.verdict, VUC_FAIL);
	ck_assert_str_eq(r.expected, "e");
	ck_assert_str_eq(r.actual, "a");
	vuc_result_free(&r);

	/* no reply expected, none came */
	memset(&p, 0, sizeof(p));
	run(lc, "vhost-user/v/no-reply", &p, &r, 2000);
	ck_assert_msg(r.verdict == VUC_PASS, "%s", r.reason);
	ck_assert_ptr_nonnull(trace_find(&r, VUC_TRACE_NOTE, "timeout"));
	vuc_result_free(&r);

	lua_cases_free(lc);
	lua_cases_diag_free(&d);
}
END_TEST

/* ---- sends, fds, trace -------------------------------------------------- */

static const char wire_file[] =
	"local C = function(id, body)\n"
	"  case { id = 'vhost-user/w/' .. id, spec = 'vhost-user#x',\n"
	"         level = 'MUST', quote = 'q', run = body }\n"
	"end\n"
	"C('chunks', function(t)\n"
	"  local kick = fdzoo.new('eventfd-nonblock')\n"
	"  local m = vhost.msg('SET_VRING_KICK', { index = 1, fd = kick })\n"
	"  t:check(m.payload == string.pack('<I8', 1), 'no NOFD bit')\n"
	"  assert(t:send(m, { split = { 5, 12 }, fds_on = 3,\n"
	"                     delay_ms = 5 }))\n"
	"  local call, rd = fdzoo.new('pipe-write')\n"
	"  assert(t:send(vhost.msg('SET_VRING_CALL', { index = 0 }),\n"
	"                { fds = { call }, fds_on = 'payload' }))\n"
	"  local lie = vhost.msg('SET_VRING_NUM', { index = 0, num = 8 })\n"
	"  lie.size = 4\n"
	"  assert(t:send(lie))\n"
	"  assert(t:send_many{ vhost.msg('SET_OWNER'),\n"
	"                      vhost.raw{ request = 3, flags = 5 } })\n"
	"  local mem = gmem.new()\n"
	"  assert(mem:add_region(0, 1 << 20))\n"
	"  assert(t:send(vhost.msg('SET_MEM_TABLE',\n"
	"                          { regions = mem:regions() })))\n"
	"  local q = ring.split(mem, 64)\n"
	"  local a = q:addrs()\n"
	"  t:check(a.desc ~= 0 and a.num == 64, 'ring addresses')\n"
	"  assert(q:add{ { gpa = a.desc_gpa + 8192, len = 64 } })\n"
	"  t:check(q:publish() == 1, 'one chain published')\n"
	"  t:check(rd:kind() == 'pipe-read', 'the other end', rd:kind())\n"
	"  local leak = fdzoo.new('memfd', 4096)\n"
	"  LEAKED = leak\n"
	"  assert(t:call(vhost.msg('GET_FEATURES'))) -- the peer saw it all\n"
	"end)\n"
	"C('after', function(t)\n"
	"  t:check(LEAKED:fd() == -1, 'an fd kept past its case is closed')\n"
	"end)\n";

START_TEST(chunks_fds_trace)
{
	struct lua_cases_diag d = { 0 };
	const struct vuc_trace_entry *e;
	struct peer p = { 0 };
	struct vuc_result r;
	struct lua_cases *lc;

	put("w.lua", wire_file);
	lc = load(&d, 2);
	p.mode = PEER_QUIET;
	run(lc, "vhost-user/w/chunks", &p, &r, 3000);
	ck_assert_msg(r.verdict == VUC_PASS, "%s", r.reason);

	ck_assert_int_ge(p.nrec, 6);
	/* the kick fd rode on the third chunk: in the payload's read */
	ck_assert_uint_eq(p.rec[0].request, VHOST_USER_SET_VRING_KICK);
	ck_assert_uint_eq(p.rec[0].nfds, 1);
	ck_assert_uint_eq(p.rec[0].hdr_fds, 0);
	ck_assert_uint_eq(p.rec[0].payload_fds, 1);
	ck_assert_int_eq(p.rec[0].kind0, FDZOO_EVENTFD_NONBLOCK);
	ck_assert_uint_eq(p.rec[1].payload_fds, 1);
	ck_assert_int_eq(p.rec[1].kind0, FDZOO_PIPE_WRITE);
	/* the size lie went out well framed: 4 payload bytes */
	ck_assert_uint_eq(p.rec[2].request, VHOST_USER_SET_VRING_NUM);
	ck_assert_uint_eq(p.rec[2].size, 4);
	ck_assert_uint_eq(p.rec[3].request, VHOST_USER_SET_OWNER);
	ck_assert_uint_eq(p.rec[4].request, VHOST_USER_SET_OWNER);
	ck_assert_uint_eq(p.rec[5].request, VHOST_USER_SET_MEM_TABLE);
	ck_assert_uint_eq(p.rec[5].nfds, 1);
	/* gmem seals its memfds against shrinking: either memfd kind */
	ck_assert(p.rec[5].kind0 == FDZOO_MEMFD ||
		  p.rec[5].kind0 == FDZOO_MEMFD_SEALED);

	/* the trace: decoded text, raw bytes, fd kinds, chunk boundaries */
	e = trace_find(&r, VUC_TRACE_SEND, "VHOST_USER_SET_VRING_KICK");
	ck_assert_ptr_nonnull(e);
	ck_assert_uint_eq(e->len, 20);
	ck_assert_str_eq(e->fds, "eventfd(nonblock)");
	ck_assert_uint_eq(e->nchunks, 3);
	ck_assert_uint_eq(e->chunks[1], 5);
	ck_assert_uint_eq(e->chunks[2], 12);
	ck_assert_msg(strstr(e->text, "[split at 5,12; fds on chunk 3; 5 ms "
				      "apart]"),
		      "%s", e->text);
	e = trace_find(&r, VUC_TRACE_SEND, "VHOST_USER_SET_VRING_NUM");
	ck_assert_ptr_nonnull(e);
	ck_assert_uint_eq(e->len, 16);
	e = trace_find(&r, VUC_TRACE_SEND, " + VHOST_USER_SET_OWNER");
	ck_assert_ptr_nonnull(e);
	ck_assert_uint_eq(e->len, 24);
	e = trace_find(&r, VUC_TRACE_SEND, "VHOST_USER_SET_MEM_TABLE");
	ck_assert_ptr_nonnull(e);
	ck_assert_ptr_nonnull(strstr(e->fds, "memfd("));
	vuc_result_free(&r);

	memset(&p, 0, sizeof(p));
	run(lc, "vhost-user/w/after", &p, &r, 1000);
	ck_assert_msg(r.verdict == VUC_PASS, "%s", r.reason);
	vuc_result_free(&r);
	lua_cases_free(lc);
	lua_cases_diag_free(&d);
}
END_TEST

/* ---- reproducers -------------------------------------------------------- */

START_TEST(reproducer)
{
	struct lua_cases_diag d = { 0 };
	struct lua_cases *lc, *rlc;
	struct peer p = { 0 };
	struct vuc_result r, rr;
	char rdir[128], path[192];
	const char *paths[1];
	FILE *f;
	char text[16384];
	size_t n;

	put("v.lua", verdict_file);
	lc = load(&d, 10);
	p.protocol = VHOST_USER_PROTO_BIT(REPLY_ACK);
	p.mode = PEER_YES;
	run(lc, "vhost-user/v/refusal", &p, &r, 2000);
	ck_assert_int_eq(r.verdict, VUC_FAIL);

	snprintf(rdir, sizeof(rdir), "%s/repro", dir);
	ck_assert_int_eq(mkdir(rdir, 0700), 0);
	snprintf(path, sizeof(path), "%s/refusal.lua", rdir);
	ck_assert_int_eq(lua_cases_write_reproducer(
				 lua_cases_get(lc, find(lc, "vhost-user/v/"
							    "refusal")),
				 &r, path),
			 0);
	f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	n = fread(text, 1, sizeof(text) - 1, f);
	text[n] = '\0';
	fclose(f);
	ck_assert_ptr_nonnull(strstr(text, "t:replay"));
	ck_assert_ptr_nonnull(strstr(text, "accept = \"nack|hangup\""));
	ck_assert_ptr_nonnull(strstr(text, "kind = \"ack\""));

	/* it loads alone, as `vu-conform run FILE` would load it ... */
	paths[0] = path;
	ck_assert_int_eq(lua_cases_load(&rlc, paths, 1, NULL, &d), 1);
	ck_assert_uint_eq(d.n, 0);
	ck_assert_str_eq(lua_cases_get(rlc, 0)->id,
			 "vhost-user/v/refusal/repro");

	/* ... fails again against the same peer ... */
	memset(&p, 0, sizeof(p));
	p.protocol = VHOST_USER_PROTO_BIT(REPLY_ACK);
	p.mode = PEER_YES;
	run(rlc, "vhost-user/v/refusal/repro", &p, &rr, 3000);
	ck_assert_msg(rr.verdict == VUC_FAIL, "%s", rr.reason);
	ck_assert_str_eq(rr.actual, "ack 0");
	ck_assert_int_ge(p.nrec, 6); /* the handshake was replayed too */
	vuc_result_free(&rr);

	/* ... and passes against a fixed one */
	memset(&p, 0, sizeof(p));
	p.protocol = VHOST_USER_PROTO_BIT(REPLY_ACK);
	run(rlc, "vhost-user/v/refusal/repro", &p, &rr, 3000);
	ck_assert_msg(rr.verdict == VUC_PASS, "%s", rr.reason);
	vuc_result_free(&rr);

	lua_cases_free(rlc);
	vuc_result_free(&r);
	lua_cases_free(lc);
	lua_cases_diag_free(&d);
}
END_TEST

/* ---- vfio-user, the rule tables, the shipped cases ----------------------- */

static const char vfio_file[] =
	"case { id = 'vfio-user/t/version', spec = 'vfio-user#x',\n"
	"  level = 'MUST', quote = 'q', run = function(t)\n"
	"    local v = vfio.version(t, { max_msg_fds = 4 })\n"
	"    t:check(v.major == 0 and v.minor == 2, 'version 0.2')\n"
	"    t:check(v.caps.max_msg_fds == 8, 'max_msg_fds 8',\n"
	"            v.caps.max_msg_fds)\n"
	"    local r = t:expect_success(vfio.msg('DEVICE_GET_INFO'))\n"
	"    t:check(r.info.num_regions == 9, '9 regions')\n"
	"    t:expect_error(vfio.msg('DMA_UNMAP', { addr = 0, size = 4096 }),\n"
	"                   'EINVAL')\n"
	"    t:expect_refusal(vfio.raw{ command = 200 })\n"
	"  end }\n"
	"case { id = 'vfio-user/t/rules', spec = 'vfio-user#x',\n"
	"  level = 'MUST', quote = 'q', run = function(t)\n"
	"    local n = 0\n"
	"    for _, r in ipairs(vfio.rules()) do n = n + 1 end\n"
	"    t:check(n == 17, '17 commands', n)\n"
	"    local v = {}\n"
	"    for _, r in ipairs(vhost.rules()) do v[r.name] = r end\n"
	"    local s = v.VHOST_USER_SET_VRING_NUM\n"
	"    t:check(s.code == 8 and s.size == 8 and s.fds == 'none' and\n"
	"            s.reply == 'if_acked', 'the SET_VRING_NUM rule')\n"
	"    t:check(v.VHOST_USER_GET_INFLIGHT_FD.gate[1] ==\n"
	"            'INFLIGHT_SHMFD', 'gates by name')\n"
	"    t:check(fdzoo.available('eventfd'), 'eventfds')\n"
	"  end }\n";

START_TEST(vfio_and_rules)
{
	struct lua_cases_diag d = { 0 };
	struct peer p = { 0 };
	struct vuc_result r;
	struct lua_cases *lc;

	put("f.lua", vfio_file);
	lc = load(&d, 2);
	p.vfio = true;
	run(lc, "vfio-user/t/version", &p, &r, 2000);
	ck_assert_msg(r.verdict == VUC_PASS, "%s", r.reason);
	ck_assert_int_eq(p.nrec, 4);
	vuc_result_free(&r);

	memset(&p, 0, sizeof(p));
	p.vfio = true;
	p.mode = PEER_YES;
	run(lc, "vfio-user/t/version", &p, &r, 2000);
	ck_assert_int_eq(r.verdict, VUC_FAIL);
	ck_assert_msg(strstr(r.expected, "error reply"), "%s", r.expected);
	vuc_result_free(&r);

	memset(&p, 0, sizeof(p));
	p.vfio = true;
	run(lc, "vfio-user/t/rules", &p, &r, 2000);
	ck_assert_msg(r.verdict == VUC_PASS, "%s", r.reason);
	vuc_result_free(&r);
	lua_cases_free(lc);
	lua_cases_diag_free(&d);
}
END_TEST

START_TEST(shipped_cases_load)
{
	const char *paths[] = { VUC_SOURCE_DIR "/cases" };
	struct lua_cases_diag d = { 0 };
	struct lua_cases *lc = NULL;
	size_t i;
	int n = lua_cases_load(&lc, paths, 1, NULL, &d);

	for (i = 0; i < d.n; i++)
		fprintf(stderr, "%s\n", d.msgs[i]);
	ck_assert_uint_eq(d.n, 0);
	ck_assert_int_gt(n, 8);
	lua_cases_free(lc);
	lua_cases_diag_free(&d);
}
END_TEST

static Suite *lua_cases_suite(void)
{
	Suite *s = suite_create("lua_cases");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, load_good);
	tcase_add_test(tc, load_errors_isolated);
	tcase_add_test(tc, verdicts);
	tcase_add_test(tc, chunks_fds_trace);
	tcase_add_test(tc, reproducer);
	tcase_add_test(tc, vfio_and_rules);
	tcase_add_test(tc, shipped_cases_load);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(lua_cases_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
