// SPDX-License-Identifier: MIT
/*
 * peer.c - a vuc-ref-vfio server in a forked child.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/util.h"
#include "transport/fdzoo.h"
#include "server.h"
#include "peer.h"

#define PEER_CONN_MAX 4u

int peer_spawn(struct peer *p, uint64_t bugs, bool no_twin, unsigned int nconn)
{
	int sv[PEER_CONN_MAX][2];
	unsigned int i;
	int ret, fd;

	p->pid = -1;
	p->next = -1;
	if (!nconn || nconn > PEER_CONN_MAX)
		return -EINVAL;
	for (i = 0; i < nconn; i++)
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv[i]) <
		    0)
			return -errno;
	p->pid = fork();
	if (p->pid < 0)
		return -errno;
	if (!p->pid) {
		struct server_opts o = { .bugs = bugs,
					 .no_twin_socket = no_twin };
		struct server *s;

		signal(SIGPIPE, SIG_IGN);
		/* keep only our sockets: a client end inherited from an
		 * earlier peer would hide that client's hang-up */
		for (fd = 3; fd < 1024; fd++) {
			bool keep = false;

			for (i = 0; i < nconn; i++)
				keep |= fd == sv[i][1];
			if (!keep)
				close(fd);
		}
		if (server_new(&s, &o) < 0)
			_exit(99);
		for (i = 0; i < nconn; i++)
			server_serve(s, sv[i][1]);
		server_free(s);
		_exit(0);
	}
	for (i = 0; i < nconn; i++)
		close(sv[i][1]);
	/* the client keeps the first; the others wait in order */
	for (i = 2; i < nconn; i++)
		close(sv[i][0]); /* not used by these tests */
	p->next = nconn > 1 ? sv[1][0] : -1;
	ret = tc_init(&p->c, sv[0][0], PEER_MEM_LEN, PEER_MEM_IOVA);
	return ret;
}

int peer_reconnect(struct peer *p)
{
	size_t len = p->c.mem_len;
	uint64_t iova = p->c.mem_iova;
	int fd = p->next;

	if (fd < 0)
		return -EINVAL;
	p->next = -1;
	tc_fini(&p->c);
	return tc_init(&p->c, fd, len, iova);
}

int peer_fds(const struct peer *p)
{
	return fdzoo_count_open(p->pid);
}

int peer_finish(struct peer *p)
{
	int status = -1;

	tc_fini(&p->c);
	close_fd(&p->next);
	if (p->pid > 0 && waitpid(p->pid, &status, 0) < 0)
		status = -1;
	p->pid = -1;
	return status;
}
