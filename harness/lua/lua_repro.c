// SPDX-License-Identifier: MIT
/*
 * lua_repro.c - a failed case's wire exchange as a stand-alone script.
 *
 * The reproducer is a plain case file (`vu-conform run FILE --target ...`
 * runs it) whose body calls t:replay{...} (prelude.lua) with the trace's
 * steps: every SEND with its bytes, chunk boundaries, the kinds of its fds
 * (fresh fds of the same kinds are made) and its time; every reaction the
 * target had then (a reply, a hang-up, a timeout, a malformed answer) with
 * its kind; restarts and signals. The replay sends what was sent, waits
 * where the case waited, and judges the target's last reaction now: by
 * the kinds the case accepted when the case said them (its verdict note),
 * else by whether the target still reacts as it did when the case failed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "lua/lua_internal.h"
#include "run/outputs.h"

static void lc_put_cstr(FILE *f, const char *s)
{
	if (s)
		outputs_lua_str(f, s, strlen(s));
	else
		fputs("nil", f);
}

/* One "-- " comment line per line of @s. */
static void lc_put_comment(FILE *f, const char *label, const char *s)
{
	const char *nl;

	if (!s)
		return;
	fprintf(f, "-- %s: ", label);
	while ((nl = strchr(s, '\n'))) {
		fprintf(f, "%.*s\n--   ", (int)(nl - s), s);
		s = nl + 1;
	}
	fprintf(f, "%s\n", s);
}

/* The kind of reaction a NOTE records, or NULL for other notes. */
static const char *lc_note_kind(const char *text)
{
	static const char *const kinds[] = { "hangup", "timeout", "malformed" };
	size_t i, n;

	for (i = 0; i < ARRAY_SIZE(kinds); i++) {
		n = strlen(kinds[i]);
		if (!strncmp(text, kinds[i], n) &&
		    (text[n] == ':' || text[n] == ' '))
			return kinds[i];
	}
	return NULL;
}

/* How many fds a trace's fds string names ("a, b(x,y), c": 3). */
static unsigned int lc_count_fds(const char *s)
{
	unsigned int n = 1;

	if (!s || !*s)
		return 0;
	for (; (s = strstr(s, ", ")); s += 2)
		n++;
	return n;
}

/* The kind of a recorded reply, judged against the SEND before it. */
static const char *lc_recv_kind(const struct vuc_trace_entry *send,
				const struct vuc_trace_entry *recv, bool vfio)
{
	char detail[512];
	unsigned int nfds = lc_count_fds(recv->fds);

	if (!send)
		return NULL;
	if (vfio) {
		struct vfio_user_msg m;

		if (vfio_user_parse(&m, recv->bytes, recv->len, 0, NULL) < 0)
			return "malformed";
		m.nfds = VUC_MIN(nfds, VFIO_USER_MSG_FDS_MAX);
		return lc_kind_name(lc_vfio_classify(send->bytes, send->len, &m,
						     false, detail,
						     sizeof(detail)));
	} else {
		static __thread struct vhost_user_msg m;

		if (vhost_user_parse(&m, recv->bytes, recv->len, NULL) < 0)
			return "malformed";
		m.nfds = VUC_MIN(nfds, VHOST_USER_MAX_FDS);
		return lc_kind_name(lc_vhost_classify(
			send->bytes, send->len, &m, detail, sizeof(detail)));
	}
}

/* The fds of a SEND as a list of descriptions for fdzoo.like(). */
static void lc_put_fds(FILE *f, const char *fds)
{
	const char *s = fds, *e;

	fputs("{ ", f);
	while (s && *s) {
		e = strstr(s, ", ");
		outputs_lua_str(f, s, e ? (size_t)(e - s) : strlen(s));
		fputs(", ", f);
		s = e ? e + 2 : NULL;
	}
	fputs("}", f);
}

static void lc_put_send(FILE *f, const struct vuc_trace_entry *e)
{
	const char *p;
	unsigned int i;

	fprintf(f, "\t\t\t{ at = %.3f, send = ", e->t_ms);
	outputs_lua_str(f, e->bytes, e->len);
	if (e->nchunks > 1) {
		fputs(", split = { ", f);
		for (i = 1; i < e->nchunks; i++)
			fprintf(f, "%zu, ", e->chunks[i]);
		fputs("}", f);
	}
	if (e->fds) {
		fputs(", fds = ", f);
		lc_put_fds(f, e->fds);
	}
	/* what lc_send_bytes() wrote after the decoded text */
	p = e->text ? strstr(e->text, "; fds on chunk ") : NULL;
	if (p)
		fprintf(f, ", fds_on = %u",
			(unsigned int)strtoul(p + 15, NULL, 10));
	p = e->text ? strstr(e->text, " ms apart]") : NULL;
	if (p) {
		while (p > e->text && p[-1] >= '0' && p[-1] <= '9')
			p--;
		fprintf(f, ", delay_ms = %d", atoi(p));
	}
	fputs(",\n\t\t\t  text = ", f);
	lc_put_cstr(f, e->text);
	fputs(" },\n", f);
}

int lc_write_reproducer(const struct vuc_case *c, const struct vuc_result *res,
			const char *rerun, const char *path)
{
	const struct vuc_trace_entry *send = NULL;
	const char *accept = NULL;
	bool vfio = !strcmp(c->protocol, "vfio-user");
	size_t i;
	FILE *f;
	int ret = 0;

	f = fopen(path, "we");
	if (!f)
		return -errno;
	fprintf(f, "-- SPDX-License-Identifier: MIT\n");
	fprintf(f,
		"-- vu-conform reproducer of %s (%s), written from the "
		"wire trace\n",
		c->id, vuc_verdict_name(res->verdict));
	fprintf(f, "-- of the failing run. It replays that exchange (fresh "
		   "fds of the same\n-- kinds) and judges what the target "
		   "does now.\n");
	fprintf(f, "-- Run: vu-conform run %s --target CMD ...\n", path);
	lc_put_comment(f, "rerun the case", rerun ? rerun : res->rerun);
	fprintf(f, "-- case: %s:%d\n", c->file, c->line);
	lc_put_comment(f, "reason", res->reason);
	lc_put_comment(f, "expected", res->expected);
	lc_put_comment(f, "actual", res->actual);
	fputs("\ncase {\n\tid = ", f);
	fprintf(f, "\"%s/repro\",\n", c->id);
	fprintf(f, "\tprotocol = \"%s\",\n", c->protocol);
	fputs("\tspec = ", f);
	lc_put_cstr(f, c->spec);
	fprintf(f,
		",\n\tlevel = \"%s\",\n\tquote = ", vuc_level_name(c->level));
	lc_put_cstr(f, c->quote);
	fprintf(f, ",\n\tneeds = { fresh_process = %s },\n",
		c->fresh_process ? "true" : "false");
	fputs("\trun = function(t)\n\t\tt:replay({\n", f);

	for (i = 0; i < res->trace.n; i++) {
		const struct vuc_trace_entry *e = &res->trace.v[i];
		const char *k;

		switch (e->dir) {
		case VUC_TRACE_SEND:
			lc_put_send(f, e);
			send = e;
			break;
		case VUC_TRACE_RECV:
			fprintf(f, "\t\t\t{ at = %.3f, recv = ", e->t_ms);
			outputs_lua_str(f, e->bytes, e->len);
			k = lc_recv_kind(send, e, vfio);
			if (k)
				fprintf(f, ", kind = \"%s\"", k);
			fputs(",\n\t\t\t  text = ", f);
			lc_put_cstr(f, e->text);
			fputs(" },\n", f);
			send = NULL; /* one reaction per send */
			break;
		case VUC_TRACE_NOTE:
			if (!e->text ||
			    !strncmp(e->text, "stack traceback", 15))
				break;
			if (!strncmp(e->text, "expect ", 7))
				accept = e->text + 7;
			fprintf(f, "\t\t\t{ at = %.3f, note = ", e->t_ms);
			lc_put_cstr(f, e->text);
			k = lc_note_kind(e->text);
			if (k)
				fprintf(f, ", kind = \"%s\"", k);
			fputs(" },\n", f);
			if (k)
				send = NULL;
			break;
		}
	}
	fputs("\t\t}, {\n", f);
	if (accept) {
		/* "expect nack|hangup; got ..." */
		size_t n = strcspn(accept, ";");

		fputs("\t\t\taccept = ", f);
		outputs_lua_str(f, accept, n);
		fputs(",\n", f);
	}
	fputs("\t\t\texpected = ", f);
	lc_put_cstr(f, res->expected);
	fputs(",\n\t\t\tactual = ", f);
	lc_put_cstr(f, res->actual ? res->actual : res->reason);
	fputs(",\n\t\t})\n\tend,\n}\n", f);
	if (ferror(f))
		ret = -EIO;
	if (fclose(f) && !ret)
		ret = -errno;
	return ret;
}
