// SPDX-License-Identifier: MIT
/*
 * check_run_misc.c - launch-line splitting and quoting, target
 * descriptions, the watchdog's judgement.
 */
#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "run/tdesc.h"
#include "run/watchdog.h"
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

START_TEST(test_split)
{
	const char *why;
	char **v;

	ck_assert_int_eq(
		tdesc_split("  a 'b c'  \"d \\\" e\" f\\ g ''", &v, &why), 5);
	ck_assert_str_eq(v[0], "a");
	ck_assert_str_eq(v[1], "b c");
	ck_assert_str_eq(v[2], "d \" e");
	ck_assert_str_eq(v[3], "f g");
	ck_assert_str_eq(v[4], "");
	ck_assert_ptr_null(v[5]);
	tdesc_argv_free(v);
	/* no expansion: $HOME and * stay as they are */
	ck_assert_int_eq(tdesc_split("x $HOME *", &v, &why), 3);
	ck_assert_str_eq(v[1], "$HOME");
	tdesc_argv_free(v);
	ck_assert_int_eq(tdesc_split("", &v, &why), 0);
	tdesc_argv_free(v);
	ck_assert_int_eq(tdesc_split("a 'b", &v, &why), -EBADMSG);
	ck_assert_str_eq(why, "unterminated ' quote");
	ck_assert_ptr_null(v);
	ck_assert_int_eq(tdesc_split("a \"b", &v, &why), -EBADMSG);
	ck_assert_int_eq(tdesc_split("a \\", &v, &why), -EBADMSG);
}
END_TEST

START_TEST(test_quote_roundtrip)
{
	static const char *const words[] = {
		"plain", "with space", "it's", "", "a\"b", "$x", "--f=a,b",
	};
	const char *why;
	unsigned int i;
	char **v;

	for (i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		char *q = tdesc_quote(words[i]);

		ck_assert_int_eq(tdesc_split(q, &v, &why), 1);
		ck_assert_str_eq(v[0], words[i]);
		tdesc_argv_free(v);
		free(q);
	}
	v = NULL;
	{
		char *q = tdesc_quote("--f=a,b");

		ck_assert_str_eq(q, "--f=a,b"); /* needs no quotes */
		free(q);
	}
}
END_TEST

static char dir[64];

static const char *write_desc(const char *name, const char *text)
{
	static char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
	return path;
}

START_TEST(test_desc)
{
	struct tdesc d;
	char err[256], want[200];
	const char *p;

	snprintf(dir, sizeof(dir), "/tmp/check-run-desc-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));

	p = write_desc("a.target",
		       "# a comment\nname = ref net\nprotocol = vhost-user\n"
		       "device = net\nlifecycle = reuse\n"
		       "launch = {bindir}/vuc-ref-vhost --device net "
		       "'--x=a b'\nnotes = one\nnotes = two\n"
		       "connect-timeout = 250\n");
	ck_assert_int_eq(tdesc_load(&d, p, "/opt/vuc/bin", err, sizeof(err)),
			 0);
	ck_assert_str_eq(d.name, "ref net");
	ck_assert_str_eq(d.protocol, "vhost-user");
	ck_assert_str_eq(d.device, "net");
	ck_assert(d.reuse);
	ck_assert_str_eq(d.argv[0], "/opt/vuc/bin/vuc-ref-vhost");
	ck_assert_str_eq(d.argv[3], "--x=a b");
	ck_assert_str_eq(d.notes, "one\ntwo");
	ck_assert_int_eq(d.connect_ms, 250);
	tdesc_free(&d);

	/* a relative path with a '/' is the description's directory's */
	p = write_desc("b.target", "launch = ./bin/daemon --flag\n");
	ck_assert_int_eq(tdesc_load(&d, p, "/x", err, sizeof(err)), 0);
	snprintf(want, sizeof(want), "%s/./bin/daemon", dir);
	ck_assert_str_eq(d.argv[0], want);
	ck_assert(!d.reuse);
	ck_assert_ptr_null(d.protocol);
	tdesc_free(&d);
	unlink(p);

	/* a bare name is left for PATH */
	p = write_desc("c.target", "launch = virtiofsd --x\n");
	ck_assert_int_eq(tdesc_load(&d, p, "/x", err, sizeof(err)), 0);
	ck_assert_str_eq(d.argv[0], "virtiofsd");
	tdesc_free(&d);
	unlink(p);

	p = write_desc("d.target", "launch = x\ncolour = blue\n");
	ck_assert_int_eq(tdesc_load(&d, p, "/x", err, sizeof(err)), -EBADMSG);
	ck_assert_ptr_nonnull(strstr(err, ":2: unknown key \"colour\""));
	unlink(p);
	p = write_desc("e.target", "lifecycle = forever\nlaunch = x\n");
	ck_assert_int_eq(tdesc_load(&d, p, "/x", err, sizeof(err)), -EBADMSG);
	unlink(p);
	p = write_desc("f.target", "name = nothing to run\n");
	ck_assert_int_eq(tdesc_load(&d, p, "/x", err, sizeof(err)), -EBADMSG);
	ck_assert_ptr_nonnull(strstr(err, "no \"launch = ...\" line"));
	unlink(p);
	p = write_desc("g.target", "launch = x 'y\n");
	ck_assert_int_eq(tdesc_load(&d, p, "/x", err, sizeof(err)), -EBADMSG);
	unlink(p);
	ck_assert_int_eq(
		tdesc_load(&d, "/nonexistent.target", "/x", err, sizeof(err)),
		-ENOENT);
	unlink(write_desc("a.target", ""));
	ck_assert_int_eq(rmdir(dir), 0);
}
END_TEST

START_TEST(test_sanitizer_scan)
{
	static const char text[] =
		"starting\n==42==ERROR: AddressSanitizer: heap-buffer-overflow "
		"on address 0x1\nWRITE of size 4\n\n    #0 0x1 in f a.c:3\n"
		"    #1 0x2 in g a.c:4\n    #2 0x3 in h a.c:5\n"
		"    #3 0x4 in i a.c:6\n    #4 0x5 in j a.c:7\n";
	char out[512];
	long at;

	ck_assert_int_eq(watchdog_sanitizer_find("all fine\n", 9), -1);
	at = watchdog_sanitizer_find(text, sizeof(text) - 1);
	ck_assert_int_eq(at, 9); /* the start of the marker's line */
	watchdog_sanitizer_excerpt(text + at, sizeof(text) - 1 - (size_t)at,
				   out, sizeof(out));
	ck_assert(!strncmp(out, "ERROR: AddressSanitizer: heap-buffer-overflow",
			   45));
	ck_assert_ptr_nonnull(strstr(out, "#3 0x4 in i a.c:6"));
	ck_assert_ptr_null(strstr(out, "#4")); /* six lines at most */
	ck_assert_int_ge(watchdog_sanitizer_find("x.c:3:5: runtime error: "
						 "signed integer overflow",
						 48),
			 0);
	watchdog_sanitizer_excerpt(text + at, sizeof(text) - 1 - (size_t)at,
				   out, 10);
	ck_assert_uint_eq(strlen(out), 9);
	ck_assert_str_eq(watchdog_signal_name(SIGSEGV), "SIGSEGV");
}
END_TEST

static const struct watchdog_conf wconf = { 4, true };

static struct watchdog_obs obs_ok(void)
{
	struct watchdog_obs o;

	memset(&o, 0, sizeof(o));
	o.process = true;
	o.fd_start = 10;
	o.fd_end = 10;
	return o;
}

static int judge(enum vuc_verdict v, const struct watchdog_obs *o,
		 bool expect_exit, enum vuc_verdict want, const char *needle)
{
	struct vuc_result r;
	int ret;

	memset(&r, 0, sizeof(r));
	r.verdict = v;
	r.expect_exit = expect_exit;
	r.reason = v == VUC_PASS ? NULL : strdup("the case's reason");
	ret = watchdog_apply(&r, o, &wconf);
	ck_assert_int_eq(r.verdict, want);
	if (needle) {
		ck_assert_ptr_nonnull(r.reason);
		ck_assert_msg(strstr(r.reason, needle), "reason \"%s\"",
			      r.reason);
	}
	vuc_result_free(&r);
	return ret;
}

START_TEST(test_watchdog)
{
	struct watchdog_obs o = obs_ok();

	ck_assert_int_eq(judge(VUC_PASS, &o, false, VUC_PASS, NULL), 0);

	o.ended = true;
	o.signal = SIGSEGV;
	ck_assert_int_eq(judge(VUC_PASS, &o, false, VUC_FAIL,
			       "target killed by SIGSEGV"),
			 1);
	ck_assert_int_eq(judge(VUC_SKIP, &o, false, VUC_FAIL, "SIGSEGV"), 1);
	ck_assert_int_eq(judge(VUC_FAIL, &o, false, VUC_FAIL,
			       "the case said: the case's reason"),
			 1);
	/* the case provoked it */
	ck_assert_int_eq(judge(VUC_PASS, &o, true, VUC_PASS, NULL), 0);
	/* never blamed on the target, but reported */
	ck_assert_int_eq(judge(VUC_ERROR, &o, false, VUC_ERROR,
			       "also seen: target killed by SIGSEGV"),
			 0);

	o = obs_ok();
	o.stop_signal = SIGTERM;
	ck_assert_int_eq(judge(VUC_PASS, &o, false, VUC_PASS, NULL), 0);
	o.stop_signal = SIGABRT;
	ck_assert_int_eq(
		judge(VUC_PASS, &o, false, VUC_FAIL, "SIGABRT while stopping"),
		1);

	o = obs_ok();
	o.sanitizer = true;
	snprintf(o.report, sizeof(o.report), "ERROR: LeakSanitizer: x");
	ck_assert_int_eq(judge(VUC_PASS, &o, false, VUC_FAIL,
			       "sanitizer report on stderr:\nERROR: "
			       "LeakSanitizer"),
			 1);

	/* fds: growth beyond what the case passed plus the tolerance */
	o = obs_ok();
	o.fd_end = 14;
	ck_assert_int_eq(judge(VUC_PASS, &o, false, VUC_PASS, NULL), 0);
	o.fd_end = 30;
	ck_assert_int_eq(judge(VUC_PASS, &o, false, VUC_FAIL, "leaked 20 fds"),
			 1);
	o.fds_sent = 18;
	ck_assert_int_eq(judge(VUC_PASS, &o, false, VUC_PASS, NULL), 0);
	o.fds_sent = 0;
	/* only a PASS is judged on fds; an unknown count is no finding */
	ck_assert_int_eq(judge(VUC_SKIP, &o, false, VUC_SKIP, NULL), 0);
	o.fd_start = -1;
	ck_assert_int_eq(judge(VUC_PASS, &o, false, VUC_PASS, NULL), 0);

	o = obs_ok();
	o.unsolicited = 2;
	snprintf(o.unsolicited_text, sizeof(o.unsolicited_text), "REPLY X");
	ck_assert_int_eq(
		judge(VUC_PASS, &o, false, VUC_FAIL, "2 unsolicited messages"),
		1);

	/* no process (--connect): nothing to judge */
	o = obs_ok();
	o.process = false;
	o.ended = true;
	o.signal = SIGSEGV;
	ck_assert_int_eq(judge(VUC_PASS, &o, false, VUC_PASS, NULL), 0);
}
END_TEST

static Suite *run_misc_suite(void)
{
	Suite *s = suite_create("run_misc");
	TCase *tc = tcase_create("misc");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_split);
	tcase_add_test(tc, test_quote_roundtrip);
	tcase_add_test(tc, test_desc);
	tcase_add_test(tc, test_sanitizer_scan);
	tcase_add_test(tc, test_watchdog);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(run_misc_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
