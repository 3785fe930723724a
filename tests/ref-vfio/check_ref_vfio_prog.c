// SPDX-License-Identifier: MIT
/*
 * check_ref_vfio_prog.c - the program build/bin/vuc-ref-vfio (path in
 * $VUC_REF_VFIO): options and their errors, --socket-path, --fd,
 * --reconnect, SIGTERM, --list-bugs, and a migration round trip between
 * two server processes.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/util.h"
#include "transport/chan.h"
#include "transport/sock.h"
#include "../check_util.h"
#include "device.h"
#include "tclient.h"

static const char *prog;
static char dir[64];
static int fds_before;

static void setup(void)
{
	prog = getenv("VUC_REF_VFIO");
	ck_assert_msg(prog && *prog, "set VUC_REF_VFIO to the program");
	strcpy(dir, "/tmp/vuc-ref-vfio-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	fds_before = count_fds();
}

static void teardown(void)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/a", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/b", dir);
	unlink(path);
	rmdir(dir);
	ck_assert_int_eq(count_fds(), fds_before);
}

/* Start the program with @argv (NULL-terminated, without argv[0]);
 * @keep_fd is left open in the child as fd 3 (-1: none). */
static pid_t run(const char *const *args, int keep_fd)
{
	const char *argv[16] = { prog };
	unsigned int i;
	pid_t pid;

	for (i = 0; args[i] && i + 2 < ARRAY_SIZE(argv); i++)
		argv[i + 1] = args[i];
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (!pid) {
		if (keep_fd >= 0) {
			if (dup2(keep_fd, 3) < 0)
				_exit(127);
		}
		execv(prog, (char *const *)(uintptr_t)argv);
		_exit(127);
	}
	return pid;
}

/* Wait for @pid at most @ms; kill it if it outlives that. */
static int reap(pid_t pid, int ms)
{
	int64_t deadline = chan_deadline(ms);
	int status;

	while (chan_now() < deadline) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return status;
		chan_sleep_until(chan_now() + 5000000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	ck_abort_msg("the server did not exit within %d ms", ms);
	return -1;
}

static int exit_code(pid_t pid)
{
	int st = reap(pid, 5000);

	ck_assert(WIFEXITED(st));
	return WEXITSTATUS(st);
}

START_TEST(t_bad_options)
{
	static const char *const none[] = { NULL };
	static const char *const both[] = { "--socket-path=/tmp/x", "--fd=3",
					    NULL };
	static const char *const badfd[] = { "--fd=abc", NULL };
	static const char *const badbug[] = { "--socket-path=/tmp/x", "--bug",
					      "no-such-bug", NULL };
	static const char *const unknown[] = { "--frobnicate", NULL };
	static const char *const extra[] = { "--socket-path=/tmp/x", "extra",
					     NULL };
	static const char *const notsock[] = { "--fd=3", NULL };
	int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);

	ck_assert_int_eq(exit_code(run(none, -1)), 2);
	ck_assert_int_eq(exit_code(run(both, -1)), 2);
	ck_assert_int_eq(exit_code(run(badfd, -1)), 2);
	ck_assert_int_eq(exit_code(run(badbug, -1)), 2);
	ck_assert_int_eq(exit_code(run(unknown, -1)), 2);
	ck_assert_int_eq(exit_code(run(extra, -1)), 2);
	ck_assert_int_eq(exit_code(run(notsock, devnull)), 2);
	close(devnull);
}
END_TEST

START_TEST(t_list_bugs)
{
	char cmd[512], line[512];
	unsigned int names = 0;
	FILE *f;

	snprintf(cmd, sizeof(cmd), "%s --list-bugs", prog);
	f = popen(cmd, "r");
	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f))
		if (line[0] != ' ')
			names++;
	ck_assert_int_eq(pclose(f), 0);
	ck_assert_uint_ge(names, 15);
}
END_TEST

/* Connect to the server at @name in the temp dir and negotiate. */
static void connect_to(struct tc *c, const char *name)
{
	char path[128];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = sock_connect(path, 5000);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(tc_init(c, fd, 0, 0), 0);
	ck_assert_int_eq(tc_version(c, NULL), 0);
}

static pid_t serve_at(const char *name, const char *extra)
{
	char opt[160];
	const char *args[] = { opt, extra, NULL };

	snprintf(opt, sizeof(opt), "--socket-path=%s/%s", dir, name);
	return run(args, -1);
}

START_TEST(t_socket_path)
{
	char path[128];
	struct stat st;
	struct tc c;
	uint32_t v;
	pid_t pid;

	pid = serve_at("a", NULL);
	connect_to(&c, "a");
	ck_assert_int_eq(tc_reg32(&c, DEV_REG_ID, &v), 0);
	ck_assert_uint_eq(v, DEV_ID_VALUE);
	tc_fini(&c);
	/* the client left: exit 0, socket file gone */
	ck_assert_int_eq(exit_code(pid), 0);
	snprintf(path, sizeof(path), "%s/a", dir);
	ck_assert_int_ne(stat(path, &st), 0);
}
END_TEST

START_TEST(t_sigterm)
{
	struct vfio_user_hdr h = { .msg_id = 1,
				   .command = VFIO_USER_DEVICE_GET_INFO,
				   .msg_size = 32 };
	char path[128];
	struct stat st;
	struct tc c;
	unsigned int i;
	pid_t pid;

	/* idle, waiting for a client */
	pid = serve_at("a", NULL);
	snprintf(path, sizeof(path), "%s/a", dir);
	for (i = 0; i < 500 && stat(path, &st); i++)
		chan_sleep_until(chan_now() + 10000000);
	ck_assert_int_eq(stat(path, &st), 0);
	kill(pid, SIGTERM);
	ck_assert_int_eq(WEXITSTATUS(reap(pid, 1000)), 0);
	ck_assert_int_ne(stat(path, &st), 0);

	/* in the middle of a message: header sent, body never comes */
	pid = serve_at("b", NULL);
	connect_to(&c, "b");
	ck_assert_int_eq(
		chan_send_buf(c.fd, &h, 16, NULL, 0, chan_deadline(1000)), 16);
	chan_sleep_until(chan_now() + 50000000);
	kill(pid, SIGTERM);
	ck_assert(WIFEXITED(reap(pid, 1000)));
	snprintf(path, sizeof(path), "%s/b", dir);
	ck_assert_int_ne(stat(path, &st), 0);
	tc_fini(&c);
}
END_TEST

START_TEST(t_fd_and_reconnect)
{
	const char *args[] = { "--fd=3", NULL };
	struct tc c;
	uint32_t v;
	int sv[2];
	pid_t pid;

	/* a connected socket */
	ck_assert_int_eq(sock_pair(sv), 0);
	pid = run(args, sv[1]);
	close(sv[1]);
	ck_assert_int_eq(tc_init(&c, sv[0], 0, 0), 0);
	ck_assert_int_eq(tc_version(&c, NULL), 0);
	ck_assert_int_eq(tc_reg32(&c, DEV_REG_ID, &v), 0);
	tc_fini(&c);
	ck_assert_int_eq(exit_code(pid), 0);

	/* --reconnect: state kept across clients, SIGTERM ends it */
	pid = serve_at("a", "--reconnect");
	connect_to(&c, "a");
	ck_assert_int_eq(tc_set_reg32(&c, DEV_REG_SCRATCH, 42), 0);
	tc_fini(&c);
	connect_to(&c, "a");
	ck_assert_int_eq(tc_reg32(&c, DEV_REG_SCRATCH, &v), 0);
	ck_assert_uint_eq(v, 42);
	tc_fini(&c);
	kill(pid, SIGTERM);
	ck_assert_int_eq(exit_code(pid), 0);
}
END_TEST

START_TEST(t_migration_two_processes)
{
	uint8_t buf[128], pattern[256], back[256], *stream, *wbuf;
	struct vfio_user_mig_data d;
	struct vfio_user_msg m, rep;
	const uint8_t *data = NULL;
	struct tc src, dst;
	size_t len = 0, off;
	pid_t ps, pd;
	unsigned int i;
	uint32_t v;

	ps = serve_at("a", NULL);
	pd = serve_at("b", NULL);
	connect_to(&src, "a");
	connect_to(&dst, "b");
	for (i = 0; i < sizeof(pattern); i++)
		pattern[i] = (uint8_t)(i * 13);
	ck_assert_int_eq(tc_set_reg32(&src, DEV_REG_SCRATCH, 0xfeed), 0);
	ck_assert_int_eq(tc_region_write(&src, VFIO_PCI_BAR2_REGION_INDEX,
					 0xf000, pattern, sizeof(pattern)),
			 0);
	ck_assert_int_eq(tc_mig_state(&src, VFIO_DEVICE_STATE_STOP_COPY), 0);
	stream = malloc(1u << 20);
	do {
		vfio_user_build_mig_data_read(&m, buf, sizeof(buf),
					      tc_next_id(&src), 32768);
		ck_assert_int_ge(tc_call(&src, &m, &rep), 0);
		ck_assert_int_eq(tc_errno(&rep), 0);
		ck_assert_int_eq(vfio_user_get_mig_data(&rep, &d, &data, NULL),
				 0);
		memcpy(stream + len, data, d.size);
		len += d.size;
	} while (d.size == 32768);
	ck_assert_int_eq(tc_mig_state(&src, VFIO_DEVICE_STATE_STOP), 0);

	ck_assert_int_eq(tc_mig_state(&dst, VFIO_DEVICE_STATE_RESUMING), 0);
	wbuf = malloc(32768 + 64);
	for (off = 0; off < len; off += 32768) {
		uint32_t n = (uint32_t)VUC_MIN(len - off, (size_t)32768);

		vfio_user_build_mig_data_write(&m, wbuf, 32768 + 64,
					       tc_next_id(&dst), stream + off,
					       n);
		ck_assert_int_ge(tc_call(&dst, &m, &rep), 0);
		ck_assert_int_eq(tc_errno(&rep), 0);
	}
	free(wbuf);
	free(stream);
	ck_assert_int_eq(tc_mig_state(&dst, VFIO_DEVICE_STATE_RUNNING), 0);
	ck_assert_int_eq(tc_reg32(&dst, DEV_REG_SCRATCH, &v), 0);
	ck_assert_uint_eq(v, 0xfeed);
	ck_assert_int_eq(tc_region_read(&dst, VFIO_PCI_BAR2_REGION_INDEX,
					0xf000, back, sizeof(back)),
			 0);
	ck_assert_mem_eq(back, pattern, sizeof(pattern));
	tc_fini(&src);
	tc_fini(&dst);
	ck_assert_int_eq(exit_code(ps), 0);
	ck_assert_int_eq(exit_code(pd), 0);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("ref-vfio-prog");
	TCase *tc = tcase_create("program");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, t_bad_options);
	tcase_add_test(tc, t_list_bugs);
	tcase_add_test(tc, t_socket_path);
	tcase_add_test(tc, t_sigterm);
	tcase_add_test(tc, t_fd_and_reconnect);
	tcase_add_test(tc, t_migration_two_processes);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	return run_suite(suite());
}
