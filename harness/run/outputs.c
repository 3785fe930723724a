// SPDX-License-Identifier: MIT
/*
 * outputs.c - TAP, JSON, JUnit, trace files and baselines.
 */
#include "run/outputs.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "run/baseline.h"

bool outputs_fails_run(const struct vuc_result *r)
{
	return r->verdict == VUC_ERROR ||
	       (r->verdict == VUC_FAIL && !r->lenient) || r->baseline_diff;
}

void outputs_count(const struct vuc_result *results, size_t n,
		   size_t counts[VUC_VERDICT_COUNT])
{
	size_t i;

	memset(counts, 0, VUC_VERDICT_COUNT * sizeof(counts[0]));
	for (i = 0; i < n; i++)
		if ((unsigned int)results[i].verdict < VUC_VERDICT_COUNT)
			counts[results[i].verdict]++;
}

/* ---- TAP ------------------------------------------------------------- */

void outputs_tap_plan(FILE *f, size_t n)
{
	fprintf(f, "TAP version 13\n1..%zu\n", n);
}

/* "# label: text", each further line of @text as "#   line". */
static void tap_comment(FILE *f, const char *label, const char *text)
{
	const char *p = text;

	if (!text || !*text)
		return;
	fprintf(f, "# %s: ", label);
	for (; *p; p++) {
		fputc(*p, f);
		if (*p == '\n' && p[1])
			fputs("#   ", f);
	}
	if (p[-1] != '\n')
		fputc('\n', f);
}

/* The first line of @s, for a TAP directive. */
static int first_line_len(const char *s)
{
	return s ? (int)strcspn(s, "\n") : 0;
}

void outputs_tap_case(FILE *f, size_t num, const struct vuc_case *c,
		      const struct vuc_result *r)
{
	bool bad = outputs_fails_run(r);
	const char *reason = r->reason ? r->reason : "";
	/* TAP's "not ok ... # TODO" is a failure that does not count:
	 * expected failures and SHOULD failures without --strict. */
	bool not_ok = bad || r->verdict == VUC_FAIL || r->verdict == VUC_XFAIL;

	fprintf(f, "%s %zu - %s", not_ok ? "not ok" : "ok", num, c->id);
	if (r->verdict == VUC_SKIP && !bad)
		fprintf(f, " # SKIP %.*s", first_line_len(reason), reason);
	else if (r->verdict == VUC_XFAIL && !bad)
		fprintf(f, " # TODO expected failure (baseline: %s)",
			r->baseline_reason && *r->baseline_reason
				? r->baseline_reason
				: "listed as FAIL");
	else if (r->verdict == VUC_FAIL && r->lenient && !bad)
		fprintf(f, " # TODO SHOULD-level: fails the run only with "
			   "--strict");
	fputc('\n', f);
	if (r->verdict == VUC_PASS && !bad)
		return;
	if (r->verdict == VUC_SKIP && !bad)
		return;
	tap_comment(f, vuc_verdict_name(r->verdict),
		    *reason		      ? reason
		    : r->verdict == VUC_XPASS ? "the case passed"
					      : "(no reason given)");
	if (r->baseline_diff)
		fprintf(f, "# baseline: differs from the baseline's line%s%s\n",
			r->baseline_reason && *r->baseline_reason ? ": " : "",
			r->baseline_reason ? r->baseline_reason : "");
	if (r->verdict == VUC_FAIL || r->verdict == VUC_XFAIL) {
		tap_comment(f, "level", vuc_level_name(c->level));
		tap_comment(f, "spec", c->spec);
		tap_comment(f, "expected", r->expected);
		tap_comment(f, "actual", r->actual);
	}
	tap_comment(f, "rerun", r->rerun);
	tap_comment(f, "reproducer", r->reproducer);
}

void outputs_tap_summary(FILE *f, const struct vuc_result *results, size_t n,
			 double duration_ms)
{
	size_t counts[VUC_VERDICT_COUNT], bad = 0, i;

	outputs_count(results, n, counts);
	for (i = 0; i < n; i++)
		bad += outputs_fails_run(&results[i]);
	fprintf(f,
		"# %zu cases in %.1f s: %zu pass, %zu fail, %zu skip, %zu "
		"xfail, %zu xpass, %zu error\n",
		n, duration_ms / 1000.0, counts[VUC_PASS], counts[VUC_FAIL],
		counts[VUC_SKIP], counts[VUC_XFAIL], counts[VUC_XPASS],
		counts[VUC_ERROR]);
	fprintf(f, "# %s\n",
		bad ? "FAILED: see the \"not ok\" lines above" : "PASSED");
}

/* ---- JSON ------------------------------------------------------------ */

/* Length of the valid UTF-8 sequence at @s, or 0. */
static size_t utf8_len(const unsigned char *s)
{
	size_t n, i;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4;
	else
		return 0;
	for (i = 1; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

/* A copy of @s where invalid UTF-8 became '?': JSON and XML must be
 * valid whatever a target writes on stderr. */
static char *clean_text(const char *s)
{
	size_t len = strlen(s), i = 0, o = 0;
	char *out = malloc(len + 1);

	if (!out)
		return NULL;
	while (i < len) {
		size_t n = utf8_len((const unsigned char *)s + i);

		if (!n) {
			out[o++] = '?';
			i++;
			continue;
		}
		memcpy(out + o, s + i, n);
		o += n;
		i += n;
	}
	out[o] = '\0';
	return out;
}

static struct json_object *jstr(const char *s)
{
	struct json_object *o;
	char *c;

	if (!s)
		return NULL;
	c = clean_text(s);
	if (!c)
		return NULL;
	o = json_object_new_string(c);
	free(c);
	return o;
}

static void jadd(struct json_object *o, const char *key, struct json_object *v)
{
	json_object_object_add(o, key, v);
}

static char *hex_of(const uint8_t *b, size_t len)
{
	static const char digits[] = "0123456789abcdef";
	char *s = malloc(len * 2 + 1);
	size_t i;

	if (!s)
		return NULL;
	for (i = 0; i < len; i++) {
		s[2 * i] = digits[b[i] >> 4];
		s[2 * i + 1] = digits[b[i] & 15];
	}
	s[2 * len] = '\0';
	return s;
}

static int unhex(const char *s, uint8_t **out, size_t *len)
{
	size_t n = strlen(s), i;
	uint8_t *b;

	*out = NULL;
	*len = 0;
	if (n % 2)
		return -EBADMSG;
	if (!n)
		return 0;
	b = malloc(n / 2);
	if (!b)
		return -ENOMEM;
	for (i = 0; i < n / 2; i++) {
		unsigned int v;

		if (sscanf(s + 2 * i, "%2x", &v) != 1) {
			free(b);
			return -EBADMSG;
		}
		b[i] = (uint8_t)v;
	}
	*out = b;
	*len = n / 2;
	return 0;
}

static const char *const trace_dirs[] = {
	[VUC_TRACE_SEND] = "send",
	[VUC_TRACE_RECV] = "recv",
	[VUC_TRACE_NOTE] = "note",
};

static struct json_object *trace_json(const struct vuc_trace *t)
{
	struct json_object *a = json_object_new_array();
	size_t i;

	if (!a)
		return NULL;
	for (i = 0; i < t->n; i++) {
		const struct vuc_trace_entry *e = &t->v[i];
		struct json_object *o = json_object_new_object();
		char *hex = hex_of(e->bytes, e->len);

		if (!o || !hex) {
			json_object_put(o);
			free(hex);
			json_object_put(a);
			return NULL;
		}
		jadd(o, "dir",
		     json_object_new_string((unsigned int)e->dir < 3
						    ? trace_dirs[e->dir]
						    : "note"));
		jadd(o, "t_ms", json_object_new_double(e->t_ms));
		jadd(o, "text", jstr(e->text ? e->text : ""));
		jadd(o, "hex", json_object_new_string(hex));
		jadd(o, "fds", jstr(e->fds));
		free(hex);
		json_object_array_add(a, o);
	}
	return a;
}

struct json_object *outputs_result_json(const struct vuc_case *c,
					const struct vuc_result *r)
{
	struct json_object *o = json_object_new_object(), *w, *tr;

	if (!o)
		return NULL;
	jadd(o, "id", jstr(c->id));
	jadd(o, "spec", jstr(c->spec));
	jadd(o, "level", json_object_new_string(vuc_level_name(c->level)));
	jadd(o, "verdict",
	     json_object_new_string(vuc_verdict_name(r->verdict)));
	jadd(o, "reason", jstr(r->reason));
	jadd(o, "duration_ms", json_object_new_double(r->duration_ms));
	tr = trace_json(&r->trace);
	if (!tr) {
		json_object_put(o);
		return NULL;
	}
	jadd(o, "trace", tr);
	jadd(o, "stderr_tail", jstr(r->stderr_tail));
	jadd(o, "quote", jstr(c->quote));
	jadd(o, "expected", jstr(r->expected));
	jadd(o, "actual", jstr(r->actual));
	jadd(o, "rerun", jstr(r->rerun));
	jadd(o, "reproducer", jstr(r->reproducer));
	jadd(o, "file", jstr(c->file));
	jadd(o, "line", json_object_new_int(c->line));
	jadd(o, "baseline_reason", jstr(r->baseline_reason));
	jadd(o, "baseline_diff", json_object_new_boolean(r->baseline_diff));
	jadd(o, "lenient", json_object_new_boolean(r->lenient));
	jadd(o, "expect_exit", json_object_new_boolean(r->expect_exit));
	w = json_object_new_object();
	if (!w) {
		json_object_put(o);
		return NULL;
	}
	jadd(w, "fd_start", json_object_new_int(r->watch.fd_start));
	jadd(w, "fd_end", json_object_new_int(r->watch.fd_end));
	jadd(w, "rss_start_kb", json_object_new_int64(r->watch.rss_start_kb));
	jadd(w, "rss_end_kb", json_object_new_int64(r->watch.rss_end_kb));
	jadd(w, "exited", json_object_new_boolean(r->watch.exited));
	jadd(w, "exit_code", json_object_new_int(r->watch.exit_code));
	jadd(w, "signal", json_object_new_int(r->watch.signal));
	jadd(w, "fds_sent", json_object_new_int((int)r->watch.fds_sent));
	jadd(w, "unsolicited", json_object_new_int((int)r->watch.unsolicited));
	jadd(o, "watchdog", w);
	return o;
}

/* A string member, copied; NULL when absent or null. */
static int get_str(struct json_object *o, const char *key, char **out)
{
	struct json_object *v;

	*out = NULL;
	if (!json_object_object_get_ex(o, key, &v) || !v)
		return 0;
	if (!json_object_is_type(v, json_type_string))
		return -EBADMSG;
	*out = strdup(json_object_get_string(v));
	return *out ? 0 : -ENOMEM;
}

static int64_t get_int(struct json_object *o, const char *key, int64_t def)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !v)
		return def;
	return json_object_get_int64(v);
}

static bool get_bool(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) && v &&
	       json_object_get_boolean(v);
}

static int parse_trace(struct json_object *a, struct vuc_trace *t)
{
	size_t i, n;

	if (!json_object_is_type(a, json_type_array))
		return -EBADMSG;
	n = json_object_array_length(a);
	for (i = 0; i < n; i++) {
		struct json_object *e = json_object_array_get_idx(a, i), *v;
		enum vuc_trace_dir dir = VUC_TRACE_NOTE;
		const char *d = "", *text = NULL, *fds = NULL;
		uint8_t *bytes = NULL;
		double t_ms = 0;
		size_t len = 0;
		int ret;

		if (json_object_object_get_ex(e, "dir", &v))
			d = json_object_get_string(v);
		if (!strcmp(d, "send"))
			dir = VUC_TRACE_SEND;
		else if (!strcmp(d, "recv"))
			dir = VUC_TRACE_RECV;
		if (json_object_object_get_ex(e, "t_ms", &v))
			t_ms = json_object_get_double(v);
		if (json_object_object_get_ex(e, "text", &v) && v)
			text = json_object_get_string(v);
		if (json_object_object_get_ex(e, "fds", &v) && v)
			fds = json_object_get_string(v);
		if (json_object_object_get_ex(e, "hex", &v) && v) {
			ret = unhex(json_object_get_string(v), &bytes, &len);
			if (ret < 0)
				return ret;
		}
		ret = vuc_trace_add(t, dir, t_ms, text, bytes, len, fds);
		free(bytes);
		if (ret < 0)
			return ret;
	}
	return 0;
}

int outputs_result_parse(struct json_object *o, struct vuc_result *r)
{
	struct json_object *v, *w;
	const char *s;
	int ret;

	memset(r, 0, sizeof(*r));
	if (!json_object_is_type(o, json_type_object) ||
	    !json_object_object_get_ex(o, "verdict", &v))
		return -EBADMSG;
	s = json_object_get_string(v);
	if (!s || vuc_verdict_parse(s, &r->verdict) < 0)
		return -EBADMSG;
	if ((ret = get_str(o, "reason", &r->reason)) < 0 ||
	    (ret = get_str(o, "expected", &r->expected)) < 0 ||
	    (ret = get_str(o, "actual", &r->actual)) < 0 ||
	    (ret = get_str(o, "stderr_tail", &r->stderr_tail)) < 0 ||
	    (ret = get_str(o, "reproducer", &r->reproducer)) < 0 ||
	    (ret = get_str(o, "rerun", &r->rerun)) < 0 ||
	    (ret = get_str(o, "baseline_reason", &r->baseline_reason)) < 0)
		return ret;
	if (json_object_object_get_ex(o, "duration_ms", &v))
		r->duration_ms = json_object_get_double(v);
	r->baseline_diff = get_bool(o, "baseline_diff");
	r->lenient = get_bool(o, "lenient");
	r->expect_exit = get_bool(o, "expect_exit");
	if (json_object_object_get_ex(o, "trace", &v)) {
		ret = parse_trace(v, &r->trace);
		if (ret < 0)
			return ret;
	}
	if (json_object_object_get_ex(o, "watchdog", &w)) {
		r->watch.fd_start = (int)get_int(w, "fd_start", -1);
		r->watch.fd_end = (int)get_int(w, "fd_end", -1);
		r->watch.rss_start_kb = (long)get_int(w, "rss_start_kb", -1);
		r->watch.rss_end_kb = (long)get_int(w, "rss_end_kb", -1);
		r->watch.exited = get_bool(w, "exited");
		r->watch.exit_code = (int)get_int(w, "exit_code", 0);
		r->watch.signal = (int)get_int(w, "signal", 0);
		r->watch.fds_sent = (unsigned int)get_int(w, "fds_sent", 0);
		r->watch.unsolicited =
			(unsigned int)get_int(w, "unsolicited", 0);
	}
	return 0;
}

static FILE *open_out(const char *path)
{
	if (!strcmp(path, "-"))
		return stdout;
	return fopen(path, "we");
}

static int close_out(FILE *f)
{
	int ret = 0;

	if (fflush(f) || ferror(f))
		ret = -EIO;
	if (f != stdout && fclose(f) && !ret)
		ret = -EIO;
	return ret;
}

int outputs_write_json(const char *path, const struct outputs_run *run,
		       const struct vuc_case *const *cases,
		       const struct vuc_result *results, size_t n)
{
	struct json_object *root = json_object_new_object(), *t, *sum, *arr;
	size_t counts[VUC_VERDICT_COUNT], i;
	const char *text;
	int ret = -ENOMEM;
	FILE *f;

	if (!root)
		return -ENOMEM;
	jadd(root, "tool", json_object_new_string("vu-conform"));
	jadd(root, "version", jstr(run->version));
	jadd(root, "protocol", jstr(run->protocol));
	t = json_object_new_object();
	if (!t)
		goto out;
	jadd(root, "target", t);
	jadd(t, "name", jstr(run->target_name));
	jadd(t, "description", jstr(run->target_file));
	jadd(t, "mode", jstr(run->mode));
	if (run->argv) {
		struct json_object *a = json_object_new_array();

		if (!a)
			goto out;
		for (i = 0; run->argv[i]; i++)
			json_object_array_add(a, jstr(run->argv[i]));
		jadd(t, "argv", a);
	} else {
		jadd(t, "argv", NULL);
	}
	jadd(t, "path", jstr(run->path));
	jadd(t, "device", jstr(run->device));
	jadd(t, "notes", jstr(run->notes));
	jadd(root, "strict", json_object_new_boolean(run->strict));
	jadd(root, "duration_ms", json_object_new_double(run->duration_ms));
	outputs_count(results, n, counts);
	sum = json_object_new_object();
	if (!sum)
		goto out;
	jadd(root, "summary", sum);
	jadd(sum, "pass", json_object_new_int64((int64_t)counts[VUC_PASS]));
	jadd(sum, "fail", json_object_new_int64((int64_t)counts[VUC_FAIL]));
	jadd(sum, "skip", json_object_new_int64((int64_t)counts[VUC_SKIP]));
	jadd(sum, "xfail", json_object_new_int64((int64_t)counts[VUC_XFAIL]));
	jadd(sum, "xpass", json_object_new_int64((int64_t)counts[VUC_XPASS]));
	jadd(sum, "error", json_object_new_int64((int64_t)counts[VUC_ERROR]));
	arr = json_object_new_array();
	if (!arr)
		goto out;
	jadd(root, "cases", arr);
	for (i = 0; i < n; i++) {
		struct json_object *c =
			outputs_result_json(cases[i], &results[i]);

		if (!c)
			goto out;
		json_object_array_add(arr, c);
	}
	text = json_object_to_json_string_ext(
		root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
			      JSON_C_TO_STRING_NOSLASHESCAPE);
	f = open_out(path);
	if (!f) {
		ret = -errno;
		goto out;
	}
	fputs(text, f);
	fputc('\n', f);
	ret = close_out(f);
out:
	json_object_put(root);
	return ret;
}

/* ---- JUnit ----------------------------------------------------------- */

/* XML character data: escaped, control characters and invalid UTF-8
 * (not allowed in XML 1.0) made '?'. */
static void xml_text(FILE *f, const char *s)
{
	char *c;
	const char *p;

	if (!s)
		return;
	c = clean_text(s);
	for (p = c ? c : ""; *p; p++) {
		unsigned char ch = (unsigned char)*p;

		if (ch == '<')
			fputs("&lt;", f);
		else if (ch == '>')
			fputs("&gt;", f);
		else if (ch == '&')
			fputs("&amp;", f);
		else if (ch == '"')
			fputs("&quot;", f);
		else if (ch < 0x20 && ch != '\n' && ch != '\t')
			fputc('?', f);
		else
			fputc(*p, f);
	}
	free(c);
}

/* "vhost-user/mem-table/x" -> group "vhost-user/mem-table", name "x" */
static size_t group_len(const char *id)
{
	const char *slash = strrchr(id, '/');

	return slash ? (size_t)(slash - id) : 0;
}

static bool same_group(const char *a, const char *b)
{
	size_t la = group_len(a);

	return la == group_len(b) && !strncmp(a, b, la);
}

static void junit_case(FILE *f, const struct vuc_case *c,
		       const struct vuc_result *r)
{
	size_t gl = group_len(c->id), i;
	const char *reason = r->reason ? r->reason : "";
	const char *tag = NULL, *type = vuc_verdict_name(r->verdict);
	char *first = strndup(reason, strcspn(reason, "\n"));

	fputs("    <testcase classname=\"", f);
	for (i = 0; i < gl; i++)
		fputc(c->id[i] == '/' ? '.' : c->id[i], f);
	fputs("\" name=\"", f);
	xml_text(f, c->id + (gl ? gl + 1 : 0));
	fprintf(f, "\" time=\"%.3f\">\n", r->duration_ms / 1000.0);
	if (r->verdict == VUC_ERROR)
		tag = "error";
	else if (outputs_fails_run(r))
		tag = "failure";
	else if (r->verdict != VUC_PASS)
		tag = "skipped";
	if (tag) {
		fprintf(f, "      <%s type=\"%s\" message=\"", tag, type);
		if (r->verdict == VUC_XFAIL)
			fputs("expected failure (baseline): ", f);
		else if (r->verdict == VUC_FAIL && r->lenient)
			fputs("SHOULD-level failure, not counted without "
			      "--strict: ",
			      f);
		else if (r->verdict == VUC_XPASS)
			fputs("passed, but the baseline expects FAIL: ", f);
		xml_text(f, first ? first : "");
		fputs("\">", f);
		xml_text(f, reason);
		if (r->expected) {
			fputs("\nexpected: ", f);
			xml_text(f, r->expected);
		}
		if (r->actual) {
			fputs("\nactual: ", f);
			xml_text(f, r->actual);
		}
		if (c->spec) {
			fputs("\nspec: ", f);
			xml_text(f, c->spec);
		}
		if (r->rerun) {
			fputs("\nrerun: ", f);
			xml_text(f, r->rerun);
		}
		if (r->reproducer) {
			fputs("\nreproducer: ", f);
			xml_text(f, r->reproducer);
		}
		fprintf(f, "</%s>\n", tag);
	}
	if (r->trace.n) {
		char *buf = NULL;
		size_t len = 0;
		FILE *m = open_memstream(&buf, &len);

		if (m) {
			outputs_trace_text(m, &r->trace);
			fclose(m);
			fputs("      <system-out>", f);
			xml_text(f, buf);
			fputs("</system-out>\n", f);
		}
		free(buf);
	}
	if (r->stderr_tail && *r->stderr_tail) {
		fputs("      <system-err>", f);
		xml_text(f, r->stderr_tail);
		fputs("</system-err>\n", f);
	}
	fputs("    </testcase>\n", f);
	free(first);
}

int outputs_write_junit(const char *path, const struct outputs_run *run,
			const struct vuc_case *const *cases,
			const struct vuc_result *results, size_t n)
{
	size_t i, j, fails = 0, errors = 0, skipped = 0;
	bool *done;
	FILE *f;

	done = calloc(n + 1, sizeof(*done));
	if (!done)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		if (results[i].verdict == VUC_ERROR)
			errors++;
		else if (outputs_fails_run(&results[i]))
			fails++;
		else if (results[i].verdict != VUC_PASS)
			skipped++;
	}
	f = open_out(path);
	if (!f) {
		int err = -errno;

		free(done);
		return err;
	}
	fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n", f);
	fprintf(f,
		"<testsuites name=\"vu-conform\" tests=\"%zu\" "
		"failures=\"%zu\" errors=\"%zu\" skipped=\"%zu\" "
		"time=\"%.3f\">\n",
		n, fails, errors, skipped, run->duration_ms / 1000.0);
	/* one testsuite per group of ids, in order of first appearance */
	for (i = 0; i < n; i++) {
		size_t t = 0, fl = 0, er = 0, sk = 0;
		double time = 0;

		if (done[i])
			continue;
		for (j = i; j < n; j++) {
			if (done[j] || !same_group(cases[i]->id, cases[j]->id))
				continue;
			t++;
			time += results[j].duration_ms;
			if (results[j].verdict == VUC_ERROR)
				er++;
			else if (outputs_fails_run(&results[j]))
				fl++;
			else if (results[j].verdict != VUC_PASS)
				sk++;
		}
		fputs("  <testsuite name=\"", f);
		if (group_len(cases[i]->id)) {
			char *g =
				strndup(cases[i]->id, group_len(cases[i]->id));

			xml_text(f, g ? g : "");
			free(g);
		} else {
			xml_text(f, run->protocol ? run->protocol : "cases");
		}
		fprintf(f,
			"\" tests=\"%zu\" failures=\"%zu\" errors=\"%zu\" "
			"skipped=\"%zu\" time=\"%.3f\">\n",
			t, fl, er, sk, time / 1000.0);
		for (j = i; j < n; j++) {
			if (done[j] || !same_group(cases[i]->id, cases[j]->id))
				continue;
			done[j] = true;
			junit_case(f, cases[j], &results[j]);
		}
		fputs("  </testsuite>\n", f);
	}
	fputs("</testsuites>\n", f);
	free(done);
	return close_out(f);
}

/* ---- Traces and baselines ------------------------------------------- */

void outputs_trace_text(FILE *f, const struct vuc_trace *t)
{
	static const char *const arrows[] = { ">>", "<<", "--" };
	size_t i, j;

	for (i = 0; i < t->n; i++) {
		const struct vuc_trace_entry *e = &t->v[i];

		fprintf(f, "%10.3f ms %s %s", e->t_ms,
			arrows[(unsigned int)e->dir < 3 ? e->dir : 2],
			e->text ? e->text : "");
		if (e->fds)
			fprintf(f, "  [fds: %s]", e->fds);
		fputc('\n', f);
		for (j = 0; j < e->len; j++) {
			if (j % 16 == 0)
				fprintf(f, "%16s%04zx:", "", j);
			fprintf(f, " %02x", e->bytes[j]);
			if (j % 16 == 15 || j + 1 == e->len)
				fputc('\n', f);
		}
	}
}

char *outputs_case_path(const char *dir, const char *id, const char *ext)
{
	size_t n = strlen(dir) + 2 * strlen(id) + strlen(ext) + 2, o;
	char *s = malloc(n);
	const char *p;

	if (!s)
		return NULL;
	o = (size_t)snprintf(s, n, "%s/", dir);
	for (p = id; *p; p++) {
		if (*p == '/') {
			s[o++] = '_';
			s[o++] = '_';
		} else {
			s[o++] = *p;
		}
	}
	snprintf(s + o, n - o, "%s", ext);
	return s;
}

int outputs_write_trace(const char *path, const struct vuc_case *c,
			const struct vuc_result *r)
{
	FILE *f = fopen(path, "we");

	if (!f)
		return -errno;
	fprintf(f, "case: %s\nspec: %s\nlevel: %s\nverdict: %s\n", c->id,
		c->spec ? c->spec : "", vuc_level_name(c->level),
		vuc_verdict_name(r->verdict));
	if (r->reason)
		fprintf(f, "reason: %s\n", r->reason);
	if (r->expected)
		fprintf(f, "expected: %s\n", r->expected);
	if (r->actual)
		fprintf(f, "actual: %s\n", r->actual);
	if (r->rerun)
		fprintf(f, "rerun: %s\n", r->rerun);
	fputs("\ntrace:\n", f);
	outputs_trace_text(f, &r->trace);
	if (r->stderr_tail && *r->stderr_tail)
		fprintf(f, "\ntarget output (tail):\n%s\n", r->stderr_tail);
	return close_out(f);
}

int outputs_write_baseline(const char *path,
			   const struct vuc_case *const *cases,
			   const struct vuc_result *results, size_t n)
{
	FILE *f = open_out(path);
	size_t i;

	if (!f)
		return -errno;
	fputs("# vu-conform baseline: CASE-ID VERDICT REASON (PASS, FAIL or "
	      "SKIP).\n# Review it; run with --baseline FILE to fail only on "
	      "a difference.\n",
	      f);
	for (i = 0; i < n; i++)
		baseline_write_line(f, cases[i]->id, &results[i]);
	return close_out(f);
}

void outputs_lua_str(FILE *f, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	size_t i;

	fputc('"', f);
	for (i = 0; i < len; i++) {
		if (p[i] == '"' || p[i] == '\\')
			fprintf(f, "\\%c", p[i]);
		else if (p[i] >= 0x20 && p[i] < 0x7f)
			fputc(p[i], f);
		else
			fprintf(f, "\\x%02x", p[i]);
	}
	fputc('"', f);
}

void outputs_lua_comment(FILE *f, const char *label, const char *s)
{
	char last = '\0';

	fprintf(f, "-- %s", label);
	for (; *s; s++) {
		fputc(*s, f);
		if (*s == '\n' && s[1])
			fputs("--   ", f);
		last = *s;
	}
	if (last != '\n')
		fputc('\n', f);
}

int outputs_write_file(const char *path, const void *buf, size_t len)
{
	FILE *f = fopen(path, "we");
	int ret = 0;

	if (!f)
		return -errno;
	if (fwrite(buf, 1, len, f) != len)
		ret = -EIO;
	if (fclose(f) && !ret)
		ret = -errno;
	return ret;
}
