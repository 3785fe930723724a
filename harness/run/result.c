// SPDX-License-Identifier: MIT
/*
 * result.c - verdict and level names, wire traces, results.
 */
#include "run/result.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const level_names[] = {
	[VUC_MUST] = "MUST",
	[VUC_SHOULD] = "SHOULD",
	[VUC_ROBUST] = "ROBUST",
};

static const char *const verdict_names[] = {
	[VUC_PASS] = "PASS",   [VUC_FAIL] = "FAIL",   [VUC_SKIP] = "SKIP",
	[VUC_XFAIL] = "XFAIL", [VUC_XPASS] = "XPASS", [VUC_ERROR] = "ERROR",
};

const char *vuc_level_name(enum vuc_level l)
{
	if ((unsigned int)l >= sizeof(level_names) / sizeof(level_names[0]))
		return "invalid";
	return level_names[l];
}

const char *vuc_verdict_name(enum vuc_verdict v)
{
	if ((unsigned int)v >= VUC_VERDICT_COUNT)
		return "invalid";
	return verdict_names[v];
}

int vuc_level_parse(const char *s, enum vuc_level *l)
{
	unsigned int i;

	if (!s)
		return -EINVAL;
	for (i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (!strcasecmp(s, level_names[i])) {
			*l = (enum vuc_level)i;
			return 0;
		}
	}
	return -EINVAL;
}

int vuc_verdict_parse(const char *s, enum vuc_verdict *v)
{
	unsigned int i;

	if (!s)
		return -EINVAL;
	for (i = 0; i < VUC_VERDICT_COUNT; i++) {
		if (!strcasecmp(s, verdict_names[i])) {
			*v = (enum vuc_verdict)i;
			return 0;
		}
	}
	return -EINVAL;
}

static void trace_entry_free(struct vuc_trace_entry *e)
{
	free(e->text);
	free(e->bytes);
	free(e->fds);
	free(e->chunks);
	memset(e, 0, sizeof(*e));
}

int vuc_trace_add(struct vuc_trace *t, enum vuc_trace_dir dir, double t_ms,
		  const char *text, const void *bytes, size_t len,
		  const char *fds)
{
	struct vuc_trace_entry *e;

	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16;
		struct vuc_trace_entry *v = realloc(t->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		t->v = v;
		t->cap = cap;
	}
	e = &t->v[t->n];
	memset(e, 0, sizeof(*e));
	e->dir = dir;
	e->t_ms = t_ms;
	if (text && !(e->text = strdup(text)))
		goto nomem;
	if (len) {
		e->bytes = malloc(len);
		if (!e->bytes)
			goto nomem;
		if (bytes)
			memcpy(e->bytes, bytes, len);
		else
			memset(e->bytes, 0, len);
		e->len = len;
	}
	if (fds && !(e->fds = strdup(fds)))
		goto nomem;
	t->n++;
	return 0;
nomem:
	trace_entry_free(e);
	return -ENOMEM;
}

void vuc_trace_free(struct vuc_trace *t)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		trace_entry_free(&t->v[i]);
	free(t->v);
	memset(t, 0, sizeof(*t));
}

unsigned int vuc_trace_fds_sent(const struct vuc_trace *t)
{
	unsigned int total = 0;
	size_t i;

	for (i = 0; i < t->n; i++) {
		const char *p = t->v[i].fds;
		int depth = 0;

		if (t->v[i].dir != VUC_TRACE_SEND || !p || !*p)
			continue;
		/* "eventfd(nonblock), memfd(sealed,4096)": items are
		 * separated by commas outside parentheses. */
		total++;
		for (; *p; p++) {
			if (*p == '(')
				depth++;
			else if (*p == ')' && depth > 0)
				depth--;
			else if (*p == ',' && depth == 0)
				total++;
		}
	}
	return total;
}

void vuc_result_free(struct vuc_result *r)
{
	if (!r)
		return;
	free(r->reason);
	free(r->expected);
	free(r->actual);
	vuc_trace_free(&r->trace);
	free(r->stderr_tail);
	free(r->reproducer);
	free(r->baseline_reason);
	free(r->rerun);
	memset(r, 0, sizeof(*r));
}
