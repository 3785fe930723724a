// SPDX-License-Identifier: MIT
/*
 * baseline.c - expected verdicts: load, compare, write.
 */
#include "run/baseline.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

static int baseline_add(struct baseline *b, const char *id, enum vuc_verdict v,
			unsigned int accept, const char *reason, int line)
{
	struct baseline_entry *e;

	e = realloc(b->v, (b->n + 1) * sizeof(*e));
	if (!e)
		return -ENOMEM;
	b->v = e;
	e = &b->v[b->n];
	memset(e, 0, sizeof(*e));
	e->id = strdup(id);
	e->reason = strdup(reason);
	if (!e->id || !e->reason) {
		free(e->id);
		free(e->reason);
		return -ENOMEM;
	}
	e->verdict = v;
	e->accept = accept;
	e->line = line;
	b->n++;
	return 0;
}

/*
 * "FAIL" or "FAIL|PASS": the first verdict into @v, all of them into
 * @accept (1u << verdict). Only PASS, FAIL and SKIP, each at most once,
 * no empty part. Cuts @word at each '|'.
 */
static int parse_verdicts(char *word, enum vuc_verdict *v, unsigned int *accept,
			  const char **why)
{
	static const char bad[] = "is not PASS, FAIL or SKIP (or several of "
				  "them joined by '|')";
	enum vuc_verdict one;
	char *w = word, *bar;
	int n = 0;

	*accept = 0;
	for (;;) {
		bar = strchr(w, '|');
		if (bar)
			*bar = '\0';
		if (vuc_verdict_parse(w, &one) < 0 ||
		    (one != VUC_PASS && one != VUC_FAIL && one != VUC_SKIP)) {
			*why = bad;
			return -EBADMSG;
		}
		if (*accept & (1u << one)) {
			*why = "lists a verdict twice";
			return -EBADMSG;
		}
		if (!n++)
			*v = one;
		*accept |= 1u << one;
		if (!bar)
			return n;
		w = bar + 1;
	}
}

int baseline_load(struct baseline *b, const char *path, char *err,
		  size_t errcap)
{
	char *buf = NULL, *p, *id, *word, *reason, *shown = NULL;
	const char *why = NULL;
	enum vuc_verdict v = VUC_PASS;
	unsigned int accept = 0;
	size_t cap = 0;
	int ret = 0, line = 0;
	size_t i;
	FILE *f;

	memset(b, 0, sizeof(*b));
	f = fopen(path, "re");
	if (!f) {
		ret = -errno;
		snprintf(err, errcap, "%s: %s", path, strerror(-ret));
		return ret;
	}
	while (getline(&buf, &cap, f) >= 0) {
		line++;
		p = trim(buf);
		if (!*p || *p == '#')
			continue;
		id = p;
		while (*p && !isspace((unsigned char)*p))
			p++;
		if (*p)
			*p++ = '\0';
		p = trim(p);
		word = p;
		while (*p && !isspace((unsigned char)*p))
			p++;
		if (*p)
			*p++ = '\0';
		reason = trim(p);
		if (!*word) {
			snprintf(err, errcap,
				 "%s:%d: \"%s\" has no verdict (expected "
				 "\"CASE-ID PASS|FAIL|SKIP reason\")",
				 path, line, id);
			ret = -EBADMSG;
			goto out;
		}
		/* parse_verdicts() cuts the word: keep it for the message */
		free(shown);
		shown = strdup(word);
		if (!shown) {
			ret = -ENOMEM;
			snprintf(err, errcap, "%s: out of memory", path);
			goto out;
		}
		ret = parse_verdicts(word, &v, &accept, &why);
		if (ret < 0) {
			snprintf(err, errcap, "%s:%d: verdict \"%s\" %s", path,
				 line, shown, why);
			goto out;
		}
		for (i = 0; i < b->n; i++) {
			if (!strcmp(b->v[i].id, id)) {
				snprintf(err, errcap,
					 "%s:%d: %s is listed already on "
					 "line %d",
					 path, line, id, b->v[i].line);
				ret = -EBADMSG;
				goto out;
			}
		}
		ret = baseline_add(b, id, v, ret > 1 ? accept : 0, reason,
				   line);
		if (ret < 0) {
			snprintf(err, errcap, "%s: out of memory", path);
			goto out;
		}
	}
	if (ferror(f)) {
		ret = -EIO;
		snprintf(err, errcap, "%s: read error", path);
		goto out;
	}
	ret = (int)b->n;
out:
	free(shown);
	free(buf);
	fclose(f);
	if (ret < 0)
		baseline_free(b);
	return ret;
}

struct baseline_entry *baseline_find(struct baseline *b, const char *id)
{
	size_t i;

	for (i = 0; i < b->n; i++) {
		if (!strcmp(b->v[i].id, id)) {
			b->v[i].used = true;
			return &b->v[i];
		}
	}
	return NULL;
}

int baseline_apply(const struct baseline_entry *e, struct vuc_result *r)
{
	if (r->verdict == VUC_ERROR)
		return 0;
	free(r->baseline_reason);
	r->baseline_reason = strdup(e->reason);
	if (!r->baseline_reason)
		return -ENOMEM;
	r->baseline_accept = e->accept & (e->accept - 1) ? e->accept : 0;
	/* FAIL|PASS: the outcome varies from run to run; either is known */
	if (r->verdict < VUC_VERDICT_COUNT &&
	    (e->accept & (1u << r->verdict))) {
		if (r->verdict == VUC_FAIL)
			r->verdict = VUC_XFAIL;
		return 0;
	}
	if (e->verdict == VUC_FAIL && r->verdict == VUC_FAIL) {
		r->verdict = VUC_XFAIL;
	} else if (e->verdict == VUC_FAIL && r->verdict == VUC_PASS) {
		r->verdict = VUC_XPASS;
		r->baseline_diff = true;
	} else if (e->verdict != r->verdict) {
		r->baseline_diff = true;
	}
	return 0;
}

void baseline_write_line(FILE *f, const char *id, const struct vuc_result *r)
{
	/* the order a reviewer writes them in: FAIL|PASS */
	static const enum vuc_verdict order[] = { VUC_FAIL, VUC_PASS,
						  VUC_SKIP };
	enum vuc_verdict v = r->verdict;
	const char *reason = r->reason;
	const char *sep = " ";
	unsigned int accept = r->baseline_accept;
	size_t len, i;

	if (v == VUC_XFAIL)
		v = VUC_FAIL;
	else if (v == VUC_XPASS)
		v = VUC_PASS;
	/* a line with alternatives that this outcome matched is kept as it
	 * was reviewed: one run cannot tell that the outcome varies */
	if (v == VUC_ERROR || !(accept & (1u << v)))
		accept = 0;
	if (v == VUC_PASS && !accept)
		reason = NULL;
	/* a FAIL keeps the reviewed reason of the line it matched */
	if ((v == VUC_FAIL || accept) && r->baseline_reason &&
	    *r->baseline_reason)
		reason = r->baseline_reason;
	if (v == VUC_ERROR) {
		fprintf(f, "# %s ERROR (never expected; not listed)", id);
	} else if (!accept) {
		fprintf(f, "%s %s", id, vuc_verdict_name(v));
	} else {
		fputs(id, f);
		for (i = 0; i < ARRAY_SIZE(order); i++) {
			if (!(accept & (1u << order[i])))
				continue;
			fprintf(f, "%s%s", sep, vuc_verdict_name(order[i]));
			sep = "|";
		}
	}
	/* the reason's first line only */
	len = reason ? strcspn(reason, "\n") : 0;
	if (len)
		fprintf(f, " %.*s", (int)len, reason);
	fputc('\n', f);
}

void baseline_free(struct baseline *b)
{
	size_t i;

	for (i = 0; i < b->n; i++) {
		free(b->v[i].id);
		free(b->v[i].reason);
	}
	free(b->v);
	memset(b, 0, sizeof(*b));
}
