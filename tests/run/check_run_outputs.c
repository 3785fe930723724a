// SPDX-License-Identifier: MIT
/*
 * check_run_outputs.c - verdict names, traces, the JSON form of a result
 * (the -j pipe and the report), TAP lines, JUnit, baselines.
 */
#include <check.h>
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/util.h"
#include "run/baseline.h"
#include "run/outputs.h"
#include "run/result.h"
#include "transport/fdzoo.h"

static int fds_before;

static void setup(void)
{
	fds_before = fdzoo_count_open(0);
}

static void teardown(void)
{
	ck_assert_int_eq(fdzoo_count_open(0), fds_before);
}

static struct vuc_case mkcase(const char *id, enum vuc_level level)
{
	struct vuc_case c;

	memset(&c, 0, sizeof(c));
	c.id = (char *)id;
	c.spec = (char *)"vhost-user#ring-states";
	c.quote = (char *)"The back-end MUST ...";
	c.level = level;
	c.file = (char *)"cases/x.lua";
	c.line = 7;
	return c;
}

/* What outputs_tap_case() prints, in a malloc'd string. */
static char *tap_of(const struct vuc_case *c, const struct vuc_result *r)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	ck_assert_ptr_nonnull(f);
	outputs_tap_case(f, 3, c, r);
	fclose(f);
	return buf;
}

START_TEST(test_names)
{
	enum vuc_verdict v;
	enum vuc_level l;
	int i;

	for (i = 0; i < VUC_VERDICT_COUNT; i++) {
		ck_assert_int_eq(vuc_verdict_parse(vuc_verdict_name(i), &v), 0);
		ck_assert_int_eq(v, i);
	}
	ck_assert_int_eq(vuc_verdict_parse("xfail", &v), 0);
	ck_assert_int_eq(v, VUC_XFAIL);
	ck_assert_int_eq(vuc_verdict_parse("MAYBE", &v), -EINVAL);
	ck_assert_int_eq(vuc_level_parse("should", &l), 0);
	ck_assert_int_eq(l, VUC_SHOULD);
	ck_assert_int_eq(vuc_level_parse("may", &l), -EINVAL);
	ck_assert_str_eq(vuc_verdict_name(VUC_VERDICT_COUNT), "invalid");
}
END_TEST

START_TEST(test_trace_fds_sent)
{
	struct vuc_trace t = { NULL, 0, 0 };
	uint8_t b[4] = { 1, 2, 3, 4 };

	ck_assert_int_eq(vuc_trace_add(&t, VUC_TRACE_SEND, 0.5, "A", b, 4,
				       "memfd(sealed,4096), eventfd"),
			 0);
	ck_assert_int_eq(vuc_trace_add(&t, VUC_TRACE_RECV, 1, "B", b, 4,
				       "eventfd(nonblock)"),
			 0);
	ck_assert_int_eq(vuc_trace_add(&t, VUC_TRACE_SEND, 2, "C", NULL, 0,
				       "pipe(w,packet)"),
			 0);
	ck_assert_uint_eq(t.n, 3);
	ck_assert_mem_eq(t.v[0].bytes, b, 4);
	/* received fds do not count; commas inside parentheses do not */
	ck_assert_uint_eq(vuc_trace_fds_sent(&t), 3);
	vuc_trace_free(&t);
	ck_assert_uint_eq(t.n, 0);
}
END_TEST

START_TEST(test_result_json_roundtrip)
{
	struct vuc_case c = mkcase("a/b/c", VUC_MUST);
	struct vuc_result r, back;
	struct json_object *o, *again;
	uint8_t b[3] = { 0x00, 0xff, 0x7f };

	memset(&r, 0, sizeof(r));
	r.verdict = VUC_FAIL;
	r.reason = strdup("ack 1\nsecond line");
	r.expected = strdup("ack 0");
	r.stderr_tail = strdup("bad \xff byte");
	r.duration_ms = 12.5;
	r.lenient = true;
	r.watch.fd_start = 5;
	r.watch.fd_end = 9;
	r.watch.signal = 11;
	vuc_trace_add(&r.trace, VUC_TRACE_SEND, 1.25, "X", b, 3, "eventfd");
	vuc_trace_add(&r.trace, VUC_TRACE_NOTE, 2, "hang-up", NULL, 0, NULL);
	o = outputs_result_json(&c, &r);
	ck_assert_ptr_nonnull(o);
	/* through text, as over the pipe */
	again = json_tokener_parse(json_object_to_json_string(o));
	ck_assert_ptr_nonnull(again);
	ck_assert_int_eq(outputs_result_parse(again, &back), 0);
	ck_assert_int_eq(back.verdict, VUC_FAIL);
	ck_assert_str_eq(back.reason, r.reason);
	ck_assert_str_eq(back.expected, "ack 0");
	ck_assert_ptr_null(back.actual);
	/* invalid UTF-8 is made '?', so the report stays valid JSON */
	ck_assert_str_eq(back.stderr_tail, "bad ? byte");
	ck_assert(back.lenient);
	ck_assert_int_eq(back.watch.fd_end, 9);
	ck_assert_int_eq(back.watch.signal, 11);
	ck_assert_uint_eq(back.trace.n, 2);
	ck_assert_int_eq(back.trace.v[0].dir, VUC_TRACE_SEND);
	ck_assert_uint_eq(back.trace.v[0].len, 3);
	ck_assert_mem_eq(back.trace.v[0].bytes, b, 3);
	ck_assert_str_eq(back.trace.v[0].fds, "eventfd");
	ck_assert_int_eq(back.trace.v[1].dir, VUC_TRACE_NOTE);
	ck_assert_double_eq_tol(back.trace.v[0].t_ms, 1.25, 1e-9);
	json_object_put(o);
	json_object_put(again);
	vuc_result_free(&r);
	vuc_result_free(&back);

	o = json_object_new_object();
	ck_assert_int_eq(outputs_result_parse(o, &back), -EBADMSG);
	json_object_put(o);
}
END_TEST

START_TEST(test_tap_lines)
{
	struct vuc_case c = mkcase("vhost-user/x/y", VUC_MUST);
	struct vuc_result r;
	char *s;

	memset(&r, 0, sizeof(r));
	r.verdict = VUC_PASS;
	s = tap_of(&c, &r);
	ck_assert_str_eq(s, "ok 3 - vhost-user/x/y\n");
	free(s);

	r.verdict = VUC_SKIP;
	r.reason = strdup("needs a blk device\nmore");
	s = tap_of(&c, &r);
	ck_assert_str_eq(s,
			 "ok 3 - vhost-user/x/y # SKIP needs a blk device\n");
	free(s);
	free(r.reason);

	r.verdict = VUC_FAIL;
	r.reason = strdup("got ack 1\nline two");
	r.rerun = strdup("vu-conform --filter vhost-user/x/y");
	s = tap_of(&c, &r);
	ck_assert(!strncmp(s,
			   "not ok 3 - vhost-user/x/y\n# FAIL: got ack 1\n"
			   "#   line two\n",
			   strlen("not ok 3 - vhost-user/x/y\n# FAIL: got ack "
				  "1\n#   line two\n")));
	ck_assert_ptr_nonnull(strstr(s, "# rerun: vu-conform --filter "));
	ck_assert(outputs_fails_run(&r));
	free(s);

	/* a SHOULD failure without --strict: TODO, does not fail the run */
	r.lenient = true;
	s = tap_of(&c, &r);
	ck_assert_ptr_nonnull(strstr(s, "not ok 3 - vhost-user/x/y # TODO"));
	ck_assert(!outputs_fails_run(&r));
	free(s);
	r.lenient = false;

	r.verdict = VUC_XFAIL;
	r.baseline_reason = strdup("bug 7");
	s = tap_of(&c, &r);
	ck_assert_ptr_nonnull(strstr(s, "# TODO expected failure (baseline: "
					"bug 7)"));
	ck_assert(!outputs_fails_run(&r));
	free(s);

	r.verdict = VUC_XPASS;
	r.baseline_diff = true;
	s = tap_of(&c, &r);
	ck_assert(!strncmp(s, "not ok 3", 8));
	ck_assert(outputs_fails_run(&r));
	free(s);

	r.verdict = VUC_ERROR;
	r.baseline_diff = false;
	s = tap_of(&c, &r);
	ck_assert_ptr_nonnull(strstr(s, "# ERROR: got ack 1"));
	ck_assert(outputs_fails_run(&r));
	free(s);
	vuc_result_free(&r);
}
END_TEST

START_TEST(test_reports)
{
	struct vuc_case c0 = mkcase("g/one", VUC_MUST);
	struct vuc_case c1 = mkcase("g/two", VUC_SHOULD);
	struct vuc_case c2 = mkcase("h/three<&>", VUC_ROBUST);
	const struct vuc_case *cases[] = { &c0, &c1, &c2 };
	const char *argv[] = { "daemon", "--x", NULL };
	struct vuc_result r[3];
	struct outputs_run run;
	char path[] = "/tmp/check-run-json-XXXXXX";
	struct json_object *o, *v, *sum;
	char *xml;
	size_t len;
	FILE *f;
	int fd;

	memset(r, 0, sizeof(r));
	memset(&run, 0, sizeof(run));
	r[0].verdict = VUC_PASS;
	r[1].verdict = VUC_FAIL;
	r[1].reason = strdup("bad <reply> & \x01 worse");
	r[2].verdict = VUC_SKIP;
	r[2].reason = strdup("not offered");
	run.version = "0.1.0";
	run.protocol = "vhost-user";
	run.mode = "spawn";
	run.argv = argv;

	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	close(fd);
	ck_assert_int_eq(outputs_write_json(path, &run, cases, r, 3), 0);
	o = json_object_from_file(path);
	ck_assert_ptr_nonnull(o);
	ck_assert(json_object_object_get_ex(o, "tool", &v));
	ck_assert_str_eq(json_object_get_string(v), "vu-conform");
	ck_assert(json_object_object_get_ex(o, "summary", &sum));
	ck_assert(json_object_object_get_ex(sum, "fail", &v));
	ck_assert_int_eq(json_object_get_int(v), 1);
	ck_assert(json_object_object_get_ex(sum, "skip", &v));
	ck_assert_int_eq(json_object_get_int(v), 1);
	ck_assert(json_object_object_get_ex(o, "cases", &v));
	ck_assert_uint_eq(json_object_array_length(v), 3);
	v = json_object_array_get_idx(v, 1);
	ck_assert(json_object_object_get_ex(v, "level", &v));
	ck_assert_str_eq(json_object_get_string(v), "SHOULD");
	json_object_put(o);

	ck_assert_int_eq(outputs_write_junit(path, &run, cases, r, 3), 0);
	f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	xml = NULL;
	len = 0;
	ck_assert_int_gt(getdelim(&xml, &len, '\0', f), 0);
	fclose(f);
	ck_assert_ptr_nonnull(strstr(xml, "<testsuites name=\"vu-conform\" "
					  "tests=\"3\" failures=\"1\" "
					  "errors=\"0\" skipped=\"1\""));
	ck_assert_ptr_nonnull(strstr(xml, "<testsuite name=\"g\" tests=\"2\""));
	ck_assert_ptr_nonnull(strstr(xml, "name=\"three&lt;&amp;&gt;\""));
	ck_assert_ptr_nonnull(strstr(xml, "bad &lt;reply&gt; &amp; ? worse"));
	ck_assert_ptr_nonnull(strstr(xml, "<skipped type=\"SKIP\""));
	free(xml);
	unlink(path);
	vuc_result_free(&r[1]);
	vuc_result_free(&r[2]);
}
END_TEST

static const char *write_tmp(const char *text)
{
	static char path[64];
	FILE *f;
	int fd;

	snprintf(path, sizeof(path), "/tmp/check-run-base-XXXXXX");
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	f = fdopen(fd, "w");
	fputs(text, f);
	fclose(f);
	return path;
}

START_TEST(test_baseline_load)
{
	struct baseline b;
	char err[256];
	const char *p;

	p = write_tmp("# comment\n\n  a/b FAIL bug 12: leaks\nc/d pass\n"
		      "e/f SKIP\n");
	ck_assert_int_eq(baseline_load(&b, p, err, sizeof(err)), 3);
	ck_assert_str_eq(b.v[0].id, "a/b");
	ck_assert_int_eq(b.v[0].verdict, VUC_FAIL);
	ck_assert_str_eq(b.v[0].reason, "bug 12: leaks");
	ck_assert_int_eq(b.v[0].line, 3);
	ck_assert_int_eq(b.v[1].verdict, VUC_PASS);
	ck_assert_str_eq(b.v[2].reason, "");
	ck_assert_ptr_nonnull(baseline_find(&b, "c/d"));
	ck_assert(b.v[1].used);
	ck_assert_ptr_null(baseline_find(&b, "zz"));
	baseline_free(&b);
	unlink(p);

	p = write_tmp("a/b FAIL x\na/c MAYBE y\n");
	ck_assert_int_eq(baseline_load(&b, p, err, sizeof(err)), -EBADMSG);
	ck_assert_ptr_nonnull(strstr(err, ":2: verdict \"MAYBE\""));
	ck_assert_uint_eq(b.n, 0);
	unlink(p);

	p = write_tmp("a/b ERROR x\n");
	ck_assert_int_eq(baseline_load(&b, p, err, sizeof(err)), -EBADMSG);
	unlink(p);

	p = write_tmp("a/b FAIL x\na/b PASS\n");
	ck_assert_int_eq(baseline_load(&b, p, err, sizeof(err)), -EBADMSG);
	ck_assert_ptr_nonnull(strstr(err, "listed already on line 1"));
	unlink(p);

	/* FAIL|PASS: a case whose outcome on the target is random */
	p = write_tmp("a/b FAIL|PASS heap layout\nc/d skip|Pass|FAIL\n");
	ck_assert_int_eq(baseline_load(&b, p, err, sizeof(err)), 2);
	ck_assert_int_eq(b.v[0].verdict, VUC_FAIL);
	ck_assert_uint_eq(b.v[0].accept, 1u << VUC_FAIL | 1u << VUC_PASS);
	ck_assert_str_eq(b.v[0].reason, "heap layout");
	ck_assert_int_eq(b.v[1].verdict, VUC_SKIP);
	ck_assert_uint_eq(b.v[1].accept,
			  1u << VUC_FAIL | 1u << VUC_PASS | 1u << VUC_SKIP);
	baseline_free(&b);
	unlink(p);

	/* a single verdict keeps accept 0 (the verdict alone) */
	p = write_tmp("a/b FAIL x\n");
	ck_assert_int_eq(baseline_load(&b, p, err, sizeof(err)), 1);
	ck_assert_uint_eq(b.v[0].accept, 0);
	baseline_free(&b);
	unlink(p);

	{
		static const char *const bad[] = {
			"a/b FAIL|FAIL x\n",  "a/b FAIL| x\n",
			"a/b |PASS x\n",      "a/b FAIL||PASS x\n",
			"a/b FAIL|ERROR x\n", "a/b PASS|XFAIL x\n",
		};
		size_t i;

		for (i = 0; i < ARRAY_SIZE(bad); i++) {
			p = write_tmp(bad[i]);
			ck_assert_int_eq(baseline_load(&b, p, err, sizeof(err)),
					 -EBADMSG);
			ck_assert_ptr_nonnull(strstr(err, ":1: verdict \""));
			ck_assert_uint_eq(b.n, 0);
			unlink(p);
		}
		p = write_tmp("a/b FAIL|FAIL x\n");
		ck_assert_int_eq(baseline_load(&b, p, err, sizeof(err)),
				 -EBADMSG);
		ck_assert_ptr_nonnull(
			strstr(err, "verdict \"FAIL|FAIL\" lists a verdict "
				    "twice"));
		unlink(p);
	}

	p = write_tmp("lonely\n");
	ck_assert_int_eq(baseline_load(&b, p, err, sizeof(err)), -EBADMSG);
	ck_assert_ptr_nonnull(strstr(err, "has no verdict"));
	unlink(p);

	ck_assert_int_eq(
		baseline_load(&b, "/nonexistent/base.txt", err, sizeof(err)),
		-ENOENT);
	ck_assert_ptr_nonnull(strstr(err, "/nonexistent/base.txt"));
}
END_TEST

/* @accept: the line's alternatives (0: @first alone) */
static void apply_alt(enum vuc_verdict first, unsigned int accept,
		      enum vuc_verdict got, enum vuc_verdict want, bool diff)
{
	struct baseline_entry e = {
		.id = (char *)"x",
		.verdict = first,
		.reason = (char *)"why",
		.line = 1,
		.accept = accept,
	};
	struct vuc_result r;

	memset(&r, 0, sizeof(r));
	r.verdict = got;
	ck_assert_int_eq(baseline_apply(&e, &r), 0);
	ck_assert_int_eq(r.verdict, want);
	ck_assert_int_eq(r.baseline_diff, diff);
	if (got != VUC_ERROR) {
		ck_assert_str_eq(r.baseline_reason, "why");
		/* kept for --write-baseline only when there are several */
		ck_assert_uint_eq(r.baseline_accept,
				  accept & (accept - 1) ? accept : 0);
	}
	vuc_result_free(&r);
}

static void apply(enum vuc_verdict line, enum vuc_verdict got,
		  enum vuc_verdict want, bool diff)
{
	apply_alt(line, 0, got, want, diff);
}

START_TEST(test_baseline_apply)
{
	const unsigned int fail_pass = 1u << VUC_FAIL | 1u << VUC_PASS;

	apply(VUC_FAIL, VUC_FAIL, VUC_XFAIL, false);
	apply(VUC_FAIL, VUC_PASS, VUC_XPASS, true);
	apply(VUC_FAIL, VUC_SKIP, VUC_SKIP, true);
	apply(VUC_PASS, VUC_PASS, VUC_PASS, false);
	apply(VUC_PASS, VUC_FAIL, VUC_FAIL, true);
	apply(VUC_SKIP, VUC_SKIP, VUC_SKIP, false);
	apply(VUC_SKIP, VUC_PASS, VUC_PASS, true);
	apply(VUC_PASS, VUC_ERROR, VUC_ERROR, false);
	/* FAIL|PASS: either matches (FAIL shown as XFAIL, PASS not as
	 * XPASS); SKIP is not listed: a difference */
	apply_alt(VUC_FAIL, fail_pass, VUC_FAIL, VUC_XFAIL, false);
	apply_alt(VUC_FAIL, fail_pass, VUC_PASS, VUC_PASS, false);
	apply_alt(VUC_FAIL, fail_pass, VUC_SKIP, VUC_SKIP, true);
	apply_alt(VUC_FAIL, fail_pass, VUC_ERROR, VUC_ERROR, false);
	apply_alt(VUC_PASS, 1u << VUC_PASS | 1u << VUC_SKIP, VUC_FAIL, VUC_FAIL,
		  true);
	apply_alt(VUC_PASS, 1u << VUC_PASS | 1u << VUC_SKIP, VUC_SKIP, VUC_SKIP,
		  false);
}
END_TEST

START_TEST(test_baseline_write)
{
	struct vuc_result r;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	memset(&r, 0, sizeof(r));
	r.verdict = VUC_XFAIL;
	r.reason = strdup("leaked 3 fds\ndetails");
	r.baseline_reason = strdup("bug 9");
	baseline_write_line(f, "a/b", &r);
	r.verdict = VUC_XPASS;
	baseline_write_line(f, "a/c", &r);
	r.verdict = VUC_SKIP;
	baseline_write_line(f, "a/d", &r);
	r.verdict = VUC_ERROR;
	baseline_write_line(f, "a/e", &r);
	/* a FAIL|PASS line that matched is written back whole */
	r.baseline_accept = 1u << VUC_PASS | 1u << VUC_FAIL;
	r.verdict = VUC_XFAIL;
	baseline_write_line(f, "a/f", &r);
	r.verdict = VUC_PASS;
	baseline_write_line(f, "a/g", &r);
	r.verdict = VUC_SKIP; /* not one of them: the run's own verdict */
	baseline_write_line(f, "a/h", &r);
	fclose(f);
	ck_assert_str_eq(buf, "a/b FAIL bug 9\na/c PASS\n"
			      "a/d SKIP leaked 3 fds\n"
			      "# a/e ERROR (never expected; not listed) leaked "
			      "3 fds\n"
			      "a/f FAIL|PASS bug 9\na/g FAIL|PASS bug 9\n"
			      "a/h SKIP leaked 3 fds\n");
	free(buf);
	vuc_result_free(&r);
}
END_TEST

START_TEST(test_case_path)
{
	char *p = outputs_case_path("/out", "vhost-user/a/b", ".lua");

	ck_assert_str_eq(p, "/out/vhost-user__a__b.lua");
	free(p);
}
END_TEST

static Suite *run_outputs_suite(void)
{
	Suite *s = suite_create("run_outputs");
	TCase *tc = tcase_create("outputs");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_names);
	tcase_add_test(tc, test_trace_fds_sent);
	tcase_add_test(tc, test_result_json_roundtrip);
	tcase_add_test(tc, test_tap_lines);
	tcase_add_test(tc, test_reports);
	tcase_add_test(tc, test_baseline_load);
	tcase_add_test(tc, test_baseline_apply);
	tcase_add_test(tc, test_baseline_write);
	tcase_add_test(tc, test_case_path);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(run_outputs_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
