// SPDX-License-Identifier: MIT
/*
 * fe_e2e.c - the front-end session against real vhost-user back-ends from
 * Debian: the handshake, a memory table, rings started, a request and its
 * call, a clean stop.
 *
 *   fe_e2e testpmd     DPDK testpmd's vhost PMD (dpdk-dev)
 *   fe_e2e qsd         qemu-storage-daemon's vhost-user-blk export
 *   fe_e2e virtiofsd   /usr/lib/qemu/virtiofsd (qemu-system-common)
 *
 * Exit 0 passed, 1 failed, 77 skipped (the daemon is not installed). The
 * daemon runs in its own process group in a private temporary directory;
 * both are gone when this exits, whatever happened.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/util.h"
#include "fe/fe.h"
#include "ring/vq.h"
#include "transport/chan.h"

#define SKIP 77
#define MEM_SIZE (4u << 20)

static char dir[256], sock_path[300], log_path[300], share[300];
static pid_t daemon_pid = -1;
static int daemon_stdin = -1;

static void trace_print(void *ctx, const struct fe_trace_event *ev)
{
	static const char *const arrow[] = { "->", "<-", "--" };

	(void)ctx;
	printf("  %s%s %s%s%s%s\n", ev->chan == FE_TRACE_BACKEND ? "be " : "",
	       arrow[ev->dir], ev->text, ev->fds_text ? " [" : "",
	       ev->fds_text ? ev->fds_text : "", ev->fds_text ? "]" : "");
}

static void daemon_log_tail(void)
{
	char line[512];
	FILE *f = fopen(log_path, "r");

	if (!f)
		return;
	printf("---- daemon output ----\n");
	while (fgets(line, sizeof(line), f))
		fputs(line, stdout);
	fclose(f);
}

static void cleanup(void)
{
	int i, st;

	if (daemon_pid > 0) {
		kill(-daemon_pid, SIGTERM);
		for (i = 0; i < 200; i++) {
			if (waitpid(daemon_pid, &st, WNOHANG) == daemon_pid)
				break;
			usleep(10000);
		}
		if (i == 200) {
			kill(-daemon_pid, SIGKILL);
			waitpid(daemon_pid, &st, 0);
		}
		/* anything left in its group */
		kill(-daemon_pid, SIGKILL);
		daemon_pid = -1;
	}
	close_fd(&daemon_stdin);
	if (dir[0]) {
		unlink(sock_path);
		unlink(log_path);
		if (share[0])
			rmdir(share);
		/* DPDK may leave runtime files under the private dir */
		{
			char cmd[600];

			snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
			if (system(cmd) != 0)
				rmdir(dir);
		}
		dir[0] = '\0';
	}
}

static int spawn(char *const argv[])
{
	int p[2], out;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	daemon_pid = fork();
	if (daemon_pid < 0)
		return -errno;
	if (!daemon_pid) {
		setsid();
		out = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		dup2(p[0], 0);
		if (out >= 0) {
			dup2(out, 1);
			dup2(out, 2);
		}
		execv(argv[0], argv);
		_exit(127);
	}
	close(p[0]);
	daemon_stdin = p[1]; /* testpmd exits when its stdin closes */
	return 0;
}

static int fail(struct fe *fe, const char *what, int ret)
{
	printf("FAIL: %s: %s: %s\n", what, strerror(-ret),
	       fe ? fe_error(fe) : "");
	daemon_log_tail();
	return 1;
}

#define CHECK(fe, what, expr)                        \
	do {                                         \
		int ret_ = (expr);                   \
		if (ret_ < 0)                        \
			return fail(fe, what, ret_); \
	} while (0)

/* A buffer of @len bytes in guest memory; *@hva where it is mapped here. */
static int buffer(struct fe *fe, uint32_t len, uint64_t *gpa, void **hva)
{
	int ret = gmem_alloc(fe->mem, len, 16, gpa);

	if (ret < 0)
		return ret;
	*hva = gmem_gpa(fe->mem, *gpa, len);
	memset(*hva, 0, len);
	return 0;
}

/* Wait for the call of @q and reap one entry; *@len is what the device
 * wrote. */
static int wait_used(struct fe *fe, unsigned int q, uint64_t token,
		     uint32_t *len)
{
	int64_t deadline = chan_deadline(5000);
	uint64_t tok = 0;
	int ret;

	for (;;) {
		ret = fe_queue_reap(fe, q, &tok, len);
		if (ret < 0)
			return ret;
		if (ret == 1) {
			if (tok != token)
				return fe_fail(fe, -EPROTO,
					       "used token %llu, not %llu",
					       (unsigned long long)tok,
					       (unsigned long long)token);
			return 0;
		}
		if (chan_remaining_ms(deadline) == 0)
			return fe_fail(fe, -ETIMEDOUT, "queue %u: nothing used",
				       q);
		ret = fe_wait_call(fe, q, chan_remaining_ms(deadline));
		if (ret < 0 && ret != -ETIMEDOUT)
			return ret;
	}
}

/* ---- virtio-blk through qemu-storage-daemon ---------------------------- */

struct blk_outhdr {
	uint32_t type;
	uint32_t reserved;
	uint64_t sector;
};

static int run_blk(struct fe *fe)
{
	const uint64_t feats = 1ull << VIRTIO_F_VERSION_1;
	struct vq_buf bufs[3];
	struct blk_outhdr *h;
	uint8_t *data, *status, cfg[8];
	uint64_t capacity;
	uint32_t len, base;
	void *p;

	CHECK(fe, "negotiate",
	      fe_negotiate(fe, feats,
			   VHOST_USER_PROTO_BIT(REPLY_ACK) |
				   VHOST_USER_PROTO_BIT(CONFIG) |
				   VHOST_USER_PROTO_BIT(MQ)));
	printf("features 0x%llx protocol 0x%llx\n",
	       (unsigned long long)fe->features, (unsigned long long)fe->proto);
	CHECK(fe, "guest memory", gmem_add_memfd(fe->mem, 0, MEM_SIZE, NULL));
	CHECK(fe, "SET_MEM_TABLE", fe_set_mem_table(fe, NULL));
	if (fe->proto & VHOST_USER_PROTO_BIT(CONFIG)) {
		CHECK(fe, "GET_CONFIG", fe_get_config(fe, 0, 8, 0, cfg, NULL));
		memcpy(&capacity, cfg, 8);
		printf("capacity %llu sectors\n", (unsigned long long)capacity);
	}
	CHECK(fe, "start queue 0", fe_start_queue(fe, 0, 128, FE_SPLIT));

	/* VIRTIO_BLK_T_IN of sector 0: header, 512 bytes, status */
	CHECK(fe, "alloc", buffer(fe, sizeof(*h), &bufs[0].gpa, &p));
	h = p;
	h->type = 0;
	h->sector = 0;
	CHECK(fe, "alloc", buffer(fe, 512, &bufs[1].gpa, &p));
	data = p;
	memset(data, 0xaa, 512);
	CHECK(fe, "alloc", buffer(fe, 1, &bufs[2].gpa, &p));
	status = p;
	*status = 0xff;
	bufs[0].len = sizeof(*h);
	bufs[0].writable = false;
	bufs[1].len = 512;
	bufs[1].writable = true;
	bufs[2].len = 1;
	bufs[2].writable = true;
	CHECK(fe, "add", fe_queue_add(fe, 0, bufs, 3, 1));
	CHECK(fe, "kick", fe_kick(fe, 0));
	CHECK(fe, "used", wait_used(fe, 0, 1, &len));
	printf("read done: len %u status %u first byte 0x%02x\n", len, *status,
	       data[0]);
	if (*status != 0 || data[0] != 0)
		return fail(fe, "virtio-blk read", -EIO);
	CHECK(fe, "GET_VRING_BASE", fe_stop_queue(fe, 0, &base));
	printf("stopped at %u\n", base);
	if (base != 1)
		return fail(fe, "vring base after one request", -EPROTO);
	return 0;
}

/* ---- virtio-net through testpmd's vhost PMD ------------------------------ */

static int run_net(struct fe *fe)
{
	const uint64_t feats = 1ull << VIRTIO_F_VERSION_1;
	uint8_t *frame, *rx;
	struct vq_buf b;
	uint32_t len, base0, base1;
	void *p;

	CHECK(fe, "negotiate",
	      fe_negotiate(fe, feats,
			   VHOST_USER_PROTO_BIT(REPLY_ACK) |
				   VHOST_USER_PROTO_BIT(MQ)));
	printf("features 0x%llx protocol 0x%llx\n",
	       (unsigned long long)fe->features, (unsigned long long)fe->proto);
	CHECK(fe, "guest memory", gmem_add_memfd(fe->mem, 0, MEM_SIZE, NULL));
	CHECK(fe, "SET_MEM_TABLE", fe_set_mem_table(fe, NULL));
	CHECK(fe, "start rx", fe_start_queue(fe, 0, 256, FE_SPLIT));
	CHECK(fe, "start tx", fe_start_queue(fe, 1, 256, FE_SPLIT));

	/* a receive buffer: testpmd forwards what it gets back out */
	CHECK(fe, "alloc", buffer(fe, 2048, &b.gpa, &p));
	rx = p;
	b.len = 2048;
	b.writable = true;
	CHECK(fe, "add rx", fe_queue_add(fe, 0, &b, 1, 10));
	CHECK(fe, "kick rx", fe_kick(fe, 0));

	/* virtio_net_hdr_mrg_rxbuf (12 bytes with VERSION_1) + a frame */
	CHECK(fe, "alloc", buffer(fe, 12 + 64, &b.gpa, &p));
	frame = p;
	memset(frame + 12, 0xff, 6); /* broadcast */
	memcpy(frame + 18, "\x02\x00\x00\x00\x00\x01", 6);
	frame[30] = 0x88; /* an experimental ethertype */
	frame[31] = 0xb5;
	memcpy(frame + 32, "vu-conform", 10);
	b.len = 12 + 64;
	b.writable = false;
	CHECK(fe, "add tx", fe_queue_add(fe, 1, &b, 1, 20));
	CHECK(fe, "kick tx", fe_kick(fe, 1));
	CHECK(fe, "tx used", wait_used(fe, 1, 20, &len));
	printf("tx done\n");
	if (!wait_used(fe, 0, 10, &len)) {
		printf("rx: %u bytes, %s\n", len,
		       len >= 12 + 64 && !memcmp(rx + 32, "vu-conform", 10)
			       ? "our frame came back"
			       : "another frame");
	} else {
		/* forwarding is testpmd's business; the exchange with the
		 * vhost PMD is what this test is about */
		printf("rx: nothing came back (%s)\n", fe_error(fe));
	}
	CHECK(fe, "GET_VRING_BASE 0", fe_stop_queue(fe, 0, &base0));
	CHECK(fe, "GET_VRING_BASE 1", fe_stop_queue(fe, 1, &base1));
	printf("stopped at %u / %u\n", base0, base1);
	if (base1 != 1)
		return fail(fe, "tx vring base after one frame", -EPROTO);
	return 0;
}

/* ---- virtio-fs through virtiofsd ----------------------------------------- */

struct fuse_in_header {
	uint32_t len, opcode;
	uint64_t unique, nodeid;
	uint32_t uid, gid, pid;
	uint16_t total_extlen, padding;
};

struct fuse_init_in {
	uint32_t major, minor, max_readahead, flags;
};

struct fuse_out_header {
	uint32_t len;
	int32_t error;
	uint64_t unique;
};

static int run_fs(struct fe *fe)
{
	const uint64_t feats = 1ull << VIRTIO_F_VERSION_1;
	struct fuse_in_header *in;
	struct fuse_init_in *init;
	struct fuse_out_header *out;
	struct vq_buf bufs[2];
	uint32_t len, base;
	void *p;

	CHECK(fe, "negotiate",
	      fe_negotiate(fe, feats,
			   VHOST_USER_PROTO_BIT(REPLY_ACK) |
				   VHOST_USER_PROTO_BIT(MQ)));
	printf("features 0x%llx protocol 0x%llx\n",
	       (unsigned long long)fe->features, (unsigned long long)fe->proto);
	CHECK(fe, "guest memory", gmem_add_memfd(fe->mem, 0, MEM_SIZE, NULL));
	CHECK(fe, "SET_MEM_TABLE", fe_set_mem_table(fe, NULL));
	CHECK(fe, "start hiprio", fe_start_queue(fe, 0, 128, FE_SPLIT));
	CHECK(fe, "start requests", fe_start_queue(fe, 1, 128, FE_SPLIT));

	/* FUSE_INIT (opcode 26), protocol 7.31 */
	CHECK(fe, "alloc",
	      buffer(fe, sizeof(*in) + sizeof(*init), &bufs[0].gpa, &p));
	in = p;
	init = (struct fuse_init_in *)(in + 1);
	in->len = sizeof(*in) + sizeof(*init);
	in->opcode = 26;
	in->unique = 2;
	init->major = 7;
	init->minor = 31;
	CHECK(fe, "alloc", buffer(fe, 256, &bufs[1].gpa, &p));
	out = p;
	bufs[0].len = sizeof(*in) + sizeof(*init);
	bufs[0].writable = false;
	bufs[1].len = 256;
	bufs[1].writable = true;
	CHECK(fe, "add", fe_queue_add(fe, 1, bufs, 2, 5));
	CHECK(fe, "kick", fe_kick(fe, 1));
	CHECK(fe, "used", wait_used(fe, 1, 5, &len));
	printf("FUSE_INIT: used len %u, out len %u error %d unique %llu\n", len,
	       out->len, out->error, (unsigned long long)out->unique);
	if (out->unique != 2 || out->error != 0)
		return fail(fe, "FUSE_INIT reply", -EPROTO);
	CHECK(fe, "GET_VRING_BASE 0", fe_stop_queue(fe, 0, NULL));
	CHECK(fe, "GET_VRING_BASE 1", fe_stop_queue(fe, 1, &base));
	printf("stopped at %u\n", base);
	return 0;
}

int main(int argc, char **argv)
{
	const char *kind = argc > 1 ? argv[1] : "";
	const char *tmp = getenv("TMPDIR");
	char arg1[400], arg2[400];
	char *args[16];
	struct fe fe;
	int ret, rc = 1;

	setvbuf(stdout, NULL, _IOLBF, 0);
	snprintf(dir, sizeof(dir), "%s/vuc-fe-e2e-XXXXXX",
		 tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(sock_path, sizeof(sock_path), "%s/sock", dir);
	snprintf(log_path, sizeof(log_path), "%s/log", dir);

	if (!strcmp(kind, "qsd")) {
		const char *bin = "/usr/bin/qemu-storage-daemon";

		if (access(bin, X_OK)) {
			printf("SKIP: %s not installed\n", bin);
			cleanup();
			return SKIP;
		}
		snprintf(arg1, sizeof(arg1),
			 "type=vhost-user-blk,id=e0,node-name=n0,"
			 "addr.type=unix,addr.path=%s,writable=on",
			 sock_path);
		args[0] = (char *)bin;
		args[1] = (char *)"--blockdev";
		args[2] = (char *)"driver=null-co,node-name=n0,read-zeroes=on";
		args[3] = (char *)"--export";
		args[4] = arg1;
		args[5] = NULL;
	} else if (!strcmp(kind, "testpmd")) {
		const char *bin = "/usr/bin/dpdk-testpmd";

		if (access(bin, X_OK)) {
			printf("SKIP: %s not installed\n", bin);
			cleanup();
			return SKIP;
		}
		snprintf(arg1, sizeof(arg1), "--file-prefix=vuc%d",
			 (int)getpid());
		snprintf(arg2, sizeof(arg2), "net_vhost0,iface=%s,queues=1",
			 sock_path);
		args[0] = (char *)bin;
		args[1] = (char *)"--no-huge";
		args[2] = (char *)"-m";
		args[3] = (char *)"256";
		args[4] = (char *)"--no-pci";
		args[5] = arg1;
		args[6] = (char *)"--vdev";
		args[7] = arg2;
		args[8] = (char *)"--";
		args[9] = (char *)"--no-mlockall";
		args[10] = (char *)"--total-num-mbufs=2048";
		args[11] = NULL;
		/* DPDK's runtime files go under our private dir */
		setenv("XDG_RUNTIME_DIR", dir, 1);
	} else if (!strcmp(kind, "virtiofsd")) {
		const char *bin = "/usr/lib/qemu/virtiofsd";

		if (access(bin, X_OK)) {
			printf("SKIP: %s not installed\n", bin);
			cleanup();
			return SKIP;
		}
		snprintf(share, sizeof(share), "%s/share", dir);
		mkdir(share, 0700);
		snprintf(arg1, sizeof(arg1), "--socket-path=%s", sock_path);
		snprintf(arg2, sizeof(arg2), "source=%s,sandbox=chroot", share);
		args[0] = (char *)bin;
		args[1] = arg1;
		args[2] = (char *)"-o";
		args[3] = arg2;
		args[4] = NULL;
	} else if (!strcmp(kind, "ref-net") || !strcmp(kind, "ref-blk")) {
		/* The bundled reference back-end; its path comes from ctest. */
		const char *bin = argc > 2 ? argv[2] : "";

		if (access(bin, X_OK)) {
			printf("SKIP: reference back-end \"%s\" not built\n",
			       bin);
			cleanup();
			return SKIP;
		}
		snprintf(arg1, sizeof(arg1), "--socket-path=%s", sock_path);
		args[0] = (char *)bin;
		args[1] = arg1;
		args[2] = (char *)"--device";
		args[3] = (char *)(kind[4] == 'n' ? "net" : "blk");
		args[4] = NULL;
	} else {
		fprintf(stderr,
			"usage: %s testpmd|qsd|virtiofsd|ref-net BIN|ref-blk "
			"BIN\n",
			argv[0]);
		cleanup();
		return 2;
	}

	ret = spawn(args);
	if (ret < 0) {
		printf("FAIL: spawn: %s\n", strerror(-ret));
		cleanup();
		return 1;
	}
	ret = fe_connect(&fe, sock_path, 10000, NULL);
	if (ret < 0) {
		printf("FAIL: %s\n", fe_error(&fe));
		daemon_log_tail();
		cleanup();
		return 1;
	}
	fe.trace.fn = trace_print;
	fe.timeout_ms = 5000;
	if (!strcmp(kind, "qsd") || !strcmp(kind, "ref-blk"))
		rc = run_blk(&fe);
	else if (!strcmp(kind, "testpmd") || !strcmp(kind, "ref-net"))
		rc = run_net(&fe);
	else
		rc = run_fs(&fe);
	fe_fini(&fe);
	if (!rc)
		printf("PASS: %s\n", kind);
	cleanup();
	return rc;
}
