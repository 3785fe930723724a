// SPDX-License-Identifier: MIT
/*
 * check_run_target.c - launching, reaching, watching and stopping targets,
 * against the fake back-end (FAKE_TARGET): nothing may be left behind.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/util.h"
#include "fe/frame.h"
#include "run/target.h"
#include "transport/chan.h"
#include "transport/fdzoo.h"
#include "transport/sock.h"

/* target_conf.argv is char **, as execvp() wants */
#define A(s) ((char *)(s))

#ifndef FAKE_TARGET
#define FAKE_TARGET "./fake_target"
#endif

static char tmp[256];
static int fds_before;

static void setup(void)
{
	const char *t = getenv("TMPDIR");

	snprintf(tmp, sizeof(tmp), "%s/check-run-XXXXXX", t && *t ? t : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(tmp));
	fds_before = fdzoo_count_open(0);
}

static int entries(const char *dir)
{
	struct dirent *e;
	int n = 0;
	DIR *d = opendir(dir);

	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

static void teardown(void)
{
	/* nothing left on disk, no fd of ours left open */
	ck_assert_int_eq(entries(tmp), 0);
	ck_assert_int_eq(rmdir(tmp), 0);
	ck_assert_int_eq(fdzoo_count_open(0), fds_before);
}

static struct target_conf conf_of(enum target_mode mode, char **argv)
{
	struct target_conf c;

	memset(&c, 0, sizeof(c));
	c.mode = mode;
	c.argv = argv;
	c.connect_ms = 3000;
	c.stop_ms = 300;
	c.tmpdir = tmp;
	return c;
}

/* GET_FEATURES and its reply. Return 0, or the failing call's -errno. */
static int ping(int fd)
{
	struct vhost_user_msg m, r;
	int ret;

	vhost_user_build_empty(&m, VHOST_USER_GET_FEATURES);
	ret = frame_vhost_send(fd, &m, FRAME_WHOLE, chan_deadline(1000));
	if (ret < 0)
		return ret;
	ret = frame_vhost_recv(fd, &r, chan_deadline(1000), NULL, NULL);
	if (ret < 0)
		return ret;
	close_fds(r.fds, r.nfds);
	return r.hdr.request == VHOST_USER_GET_FEATURES ? 0 : -EPROTO;
}

START_TEST(test_spawn_and_stop)
{
	char *argv[] = { A(FAKE_TARGET), NULL };
	struct target_conf c = conf_of(TARGET_SPAWN, argv);
	struct target_status st;
	struct target *t;
	char sock[256];
	pid_t pid;
	int fd;

	ck_assert_int_eq(target_start(&t, &c, &fd), 0);
	ck_assert_int_ge(fd, 0);
	pid = target_pid(t);
	ck_assert_int_gt(pid, 0);
	/* its own process group */
	ck_assert_int_eq(getpgid(pid), pid);
	ck_assert_ptr_nonnull(target_socket_path(t));
	ck_assert_ptr_nonnull(strstr(target_socket_path(t), tmp));
	snprintf(sock, sizeof(sock), "%s", target_socket_path(t));
	ck_assert_int_eq(access(sock, F_OK), 0);
	ck_assert_int_eq(ping(fd), 0);
	target_sample(t, &st);
	ck_assert(st.running);
	ck_assert_int_gt(st.fd_count, 2);
	ck_assert_int_gt(st.rss_kb, 0);
	ck_assert(!st.sanitizer);
	close_fd(&fd);
	target_stop(t);
	ck_assert_int_eq(target_pid(t), -1);
	ck_assert_int_ne(access(sock, F_OK), 0);
	ck_assert_int_eq(kill(pid, 0), -1);
	target_stop(t); /* twice is fine */
	target_free(t);
}
END_TEST

START_TEST(test_missing_program)
{
	char *argv[] = { A("/nonexistent/vuc-no-such-daemon"), NULL };
	struct target_conf c = conf_of(TARGET_SPAWN, argv);
	struct target *t;
	int fd;

	ck_assert_int_eq(target_start(&t, &c, &fd), -ENOENT);
	ck_assert_int_eq(fd, -1);
	target_free(t);
}
END_TEST

START_TEST(test_not_executable)
{
	char path[300], *argv[] = { path, NULL };
	struct target_conf c;
	struct target *t;
	FILE *f;
	int fd;

	snprintf(path, sizeof(path), "%s/not-exec", tmp);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs("#!/bin/sh\n", f);
	fclose(f);
	chmod(path, 0644);
	c = conf_of(TARGET_SPAWN, argv);
	ck_assert_int_eq(target_start(&t, &c, &fd), -EACCES);
	target_free(t);
	unlink(path);
}
END_TEST

START_TEST(test_exit_at_start)
{
	char *argv[] = { A(FAKE_TARGET), A("--mode=exit"), NULL };
	struct target_conf c = conf_of(TARGET_SPAWN, argv);
	struct target_status st;
	struct target *t;
	char tail[256];
	int fd;

	ck_assert_int_eq(target_start(&t, &c, &fd), -ECHILD);
	target_sample(t, &st);
	ck_assert(!st.running);
	ck_assert_int_eq(st.exit_code, 3);
	ck_assert_uint_gt(target_stderr_tail(t, tail, sizeof(tail)), 0);
	ck_assert_ptr_nonnull(strstr(tail, "refusing to start"));
	target_free(t);
}
END_TEST

START_TEST(test_sun_path_too_long)
{
	char *argv[] = { A(FAKE_TARGET), NULL };
	char deep[400];
	struct target_conf c;
	struct target *t;
	int fd;

	snprintf(deep, sizeof(deep), "%s/%0120d", tmp, 0);
	ck_assert_int_eq(mkdir(deep, 0700), 0);
	c = conf_of(TARGET_SPAWN, argv);
	c.tmpdir = deep;
	ck_assert_int_eq(target_start(&t, &c, &fd), -ENAMETOOLONG);
	target_free(t);
	ck_assert_int_eq(entries(deep), 0);
	rmdir(deep);
}
END_TEST

START_TEST(test_fd_placeholder)
{
	char *argv[] = { A(FAKE_TARGET), A("--fd={fd}"), NULL };
	struct target_conf c = conf_of(TARGET_SPAWN, argv);
	struct target *t;
	int fd;

	ck_assert_int_eq(target_start(&t, &c, &fd), 0);
	ck_assert_ptr_null(target_socket_path(t));
	ck_assert_int_eq(ping(fd), 0);
	close_fd(&fd);
	/* it exits when we hang up */
	ck_assert_int_eq(target_wait_exit(t, 2000), 1);
	target_free(t);
}
END_TEST

START_TEST(test_crash_is_seen)
{
	char *argv[] = { A(FAKE_TARGET), A("--mode=crash"), NULL };
	struct target_conf c = conf_of(TARGET_SPAWN, argv);
	struct target_status st;
	struct target *t;
	int fd;

	ck_assert_int_eq(target_start(&t, &c, &fd), 0);
	ck_assert_int_lt(ping(fd), 0);
	ck_assert_int_eq(target_wait_exit(t, 2000), 1);
	target_sample(t, &st);
	ck_assert(!st.running);
	ck_assert_int_eq(st.signal, SIGSEGV);
	close_fd(&fd);
	target_free(t);
}
END_TEST

START_TEST(test_sanitizer_report)
{
	char *argv[] = { A(FAKE_TARGET), A("--mode=asan"), NULL };
	struct target_conf c = conf_of(TARGET_SPAWN, argv);
	struct target_status st;
	struct target *t;
	char rep[512];
	int fd;

	ck_assert_int_eq(target_start(&t, &c, &fd), 0);
	target_mark(t);
	ck_assert(!target_sanitizer_report(t, rep, sizeof(rep)));
	ck_assert_int_lt(ping(fd), 0);
	ck_assert_int_eq(target_wait_exit(t, 2000), 1);
	target_sample(t, &st);
	ck_assert(st.sanitizer);
	ck_assert(target_sanitizer_report(t, rep, sizeof(rep)));
	ck_assert_ptr_nonnull(strstr(rep, "heap-use-after-free"));
	ck_assert_ptr_null(strstr(rep, "====")); /* the rule line is gone */
	/* a new case starts after the report: it is not this case's */
	target_mark(t);
	ck_assert(!target_sanitizer_report(t, NULL, 0));
	close_fd(&fd);
	target_free(t);
}
END_TEST

START_TEST(test_reuse_reconnects)
{
	char *argv[] = { A(FAKE_TARGET), A("--reconnect"), NULL };
	struct target_conf c = conf_of(TARGET_REUSE, argv);
	struct target *t;
	pid_t pid;
	int fd, i;

	ck_assert_int_eq(target_start(&t, &c, &fd), 0);
	pid = target_pid(t);
	for (i = 0; i < 3; i++) {
		ck_assert_int_eq(ping(fd), 0);
		close_fd(&fd);
		ck_assert_int_eq(target_reconnect(t, &fd), 0);
		ck_assert_int_eq(target_pid(t), pid);
	}
	close_fd(&fd);
	target_free(t);
}
END_TEST

START_TEST(test_spawn_reconnect_restarts)
{
	char *argv[] = { A(FAKE_TARGET), NULL };
	struct target_conf c = conf_of(TARGET_SPAWN, argv);
	struct target *t;
	pid_t pid;
	int fd;

	ck_assert_int_eq(target_start(&t, &c, &fd), 0);
	pid = target_pid(t);
	close_fd(&fd);
	ck_assert_int_eq(target_reconnect(t, &fd), 0);
	ck_assert_int_ne(target_pid(t), pid);
	ck_assert_int_eq(ping(fd), 0);
	close_fd(&fd);
	target_free(t);
}
END_TEST

START_TEST(test_stop_escalates)
{
	char *argv[] = { A(FAKE_TARGET), A("--mode=stubborn"), NULL };
	struct target_conf c = conf_of(TARGET_SPAWN, argv);
	struct target_status st;
	struct target *t;
	int64_t t0;
	int fd;

	ck_assert_int_eq(target_start(&t, &c, &fd), 0);
	t0 = chan_now();
	target_stop(t);
	/* SIGTERM ignored: SIGKILL after stop_ms (300), not much later */
	ck_assert_int_lt((chan_now() - t0) / 1000000, 2000);
	target_sample(t, &st);
	ck_assert_int_eq(st.signal, SIGKILL);
	close_fd(&fd);
	target_free(t);
}
END_TEST

START_TEST(test_kill_all)
{
	char *argv[] = { A(FAKE_TARGET), A("--mode=stubborn"), NULL };
	struct target_conf c = conf_of(TARGET_SPAWN, argv);
	struct target *a, *b;
	int fa, fb;

	ck_assert_int_eq(target_start(&a, &c, &fa), 0);
	ck_assert_int_eq(target_start(&b, &c, &fb), 0);
	target_kill_all();
	ck_assert_int_eq(target_wait_exit(a, 2000), 1);
	ck_assert_int_eq(target_wait_exit(b, 2000), 1);
	close_fd(&fa);
	close_fd(&fb);
	target_free(a);
	target_free(b);
}
END_TEST

START_TEST(test_connect_mode)
{
	struct target_conf c = conf_of(TARGET_CONNECT, NULL);
	char path[300];
	struct target *t;
	int lfd, fd, peer;

	snprintf(path, sizeof(path), "%s/daemon.sock", tmp);
	c.path = path;
	ck_assert_int_eq(target_start(&t, &c, &fd), -ENOENT);
	target_free(t);
	lfd = sock_listen(path, 4);
	ck_assert_int_ge(lfd, 0);
	ck_assert_int_eq(target_start(&t, &c, &fd), 0);
	peer = sock_accept(lfd, chan_deadline(1000));
	ck_assert_int_ge(peer, 0);
	ck_assert_int_eq(target_pid(t), -1);
	ck_assert_int_eq(target_signal(t, SIGTERM), -ENOTSUP);
	ck_assert_int_eq(target_wait_exit(t, 10), -ENOTSUP);
	close_fd(&fd);
	target_free(t);
	/* the daemon's socket is not ours to remove */
	ck_assert_int_eq(access(path, F_OK), 0);
	close_fd(&peer);
	close_fd(&lfd);
	unlink(path);
}
END_TEST

START_TEST(test_listen_mode)
{
	char *argv[] = { A(FAKE_TARGET), A("--client"),
			 A("--socket-path={socket}"), NULL };
	struct target_conf c = conf_of(TARGET_LISTEN, argv);
	struct target *t;
	int fd;

	ck_assert_int_eq(target_start(&t, &c, &fd), 0);
	ck_assert_int_eq(ping(fd), 0);
	close_fd(&fd);
	target_free(t);
}
END_TEST

static Suite *run_target_suite(void)
{
	Suite *s = suite_create("run_target");
	TCase *tc = tcase_create("target");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_spawn_and_stop);
	tcase_add_test(tc, test_missing_program);
	tcase_add_test(tc, test_not_executable);
	tcase_add_test(tc, test_exit_at_start);
	tcase_add_test(tc, test_sun_path_too_long);
	tcase_add_test(tc, test_fd_placeholder);
	tcase_add_test(tc, test_crash_is_seen);
	tcase_add_test(tc, test_sanitizer_report);
	tcase_add_test(tc, test_reuse_reconnects);
	tcase_add_test(tc, test_spawn_reconnect_restarts);
	tcase_add_test(tc, test_stop_escalates);
	tcase_add_test(tc, test_kill_all);
	tcase_add_test(tc, test_connect_mode);
	tcase_add_test(tc, test_listen_mode);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(run_target_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
