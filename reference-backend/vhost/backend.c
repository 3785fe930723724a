// SPDX-License-Identifier: MIT
/*
 * backend.c - the reference vhost-user back-end: session state, dispatch
 * over the rule table, the request handlers, the poll loop.
 *
 * Spec: vhost-user.rst, "Communication", "Ring states", "Multiple queue
 * support", "Migration", "Memory access", "Back-end communication",
 * "Inflight I/O tracking", "In-band notifications", "Front-end message
 * types", "VHOST_USER_PROTOCOL_F_REPLY_ACK".
 */
#include "backend.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bugs.h"
#include "common/util.h"
#include "fe/frame.h"
#include "transport/chan.h"
#include "transport/fdzoo.h"

#define F(bit) (UINT64_C(1) << (bit))
#define PAGE_SIZE_GUESS 4096u

/* Kick polling (SET_VRING_KICK with the NOFD bit): how often. */
#define POLLING_INTERVAL_MS 10

/* ---- logging ----------------------------------------------------------- */

int backend_wait_ms(const struct backend *be, int ms)
{
	if (be->conf.wait_max_ms && (unsigned int)ms > be->conf.wait_max_ms)
		return (int)be->conf.wait_max_ms;
	return ms;
}

void backend_log(const struct backend *be, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	(void)be;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fprintf(stderr, "vuc-ref-vhost: %s\n", line);
}

/* ---- SIGBUS guard -------------------------------------------------------- */

/*
 * A front-end may shrink a memfd it did not seal after we mapped it; an
 * access past the new end raises SIGBUS. Every guest access runs inside
 * backend_guarded(): the handler jumps back out and the access fails with
 * -EFAULT. Outside a guarded section SIGBUS keeps its default action.
 */
static sigjmp_buf guard_jmp;
static volatile sig_atomic_t guard_armed;
static bool guard_installed;

static void guard_handler(int sig)
{
	if (guard_armed) {
		guard_armed = 0;
		siglongjmp(guard_jmp, 1);
	}
	signal(sig, SIG_DFL);
	raise(sig);
}

static void guard_install(void)
{
	struct sigaction sa;

	if (guard_installed)
		return;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = guard_handler;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_NODEFER;
	sigaction(SIGBUS, &sa, NULL);
	guard_installed = true;
}

int backend_guarded(struct backend *be, int (*fn)(struct backend *, void *),
		    void *arg)
{
	volatile int ret = 0;

	/* The seeded mem-past-eof bug must really crash: no guard. */
	if (bug_on(BUG_MEM_PAST_EOF))
		return fn(be, arg);
	if (sigsetjmp(guard_jmp, 1)) {
		guard_armed = 0;
		return -EFAULT;
	}
	guard_armed = 1;
	ret = fn(be, arg);
	guard_armed = 0;
	return ret;
}

/* ---- dirty log ----------------------------------------------------------- */

void backend_log_write(struct backend *be, uint64_t gpa, uint64_t len)
{
	uint64_t page, last;

	if (!len || !be->log ||
	    !(be->features & F(VHOST_USER_VIRTIO_F_LOG_ALL)))
		return;
	page = gpa / VHOST_LOG_PAGE;
	last = (gpa + len - 1) / VHOST_LOG_PAGE;
	if (gpa + len - 1 < gpa)
		last = UINT64_MAX / VHOST_LOG_PAGE;
	for (; page <= last; page++) {
		/* "log[page / 8] |= 1 << page % 8", atomically: "the log
		 * may be concurrently manipulated" */
		if (page / 8 >= be->log_size) {
			backend_log(be,
				    "dirty page 0x%" PRIx64 " is past the "
				    "%" PRIu64 "-byte log; not marked",
				    page, be->log_size);
			return;
		}
		__atomic_fetch_or(&be->log[page / 8], (uint8_t)(1u << page % 8),
				  __ATOMIC_RELAXED);
		if (page == UINT64_MAX)
			break;
	}
}

/* ---- back-end channel ---------------------------------------------------- */

int backend_send_backend_req(struct backend *be, struct vhost_user_msg *m)
{
	struct vhost_user_msg r;
	const char *why = NULL;
	uint64_t status = 0;
	bool ack = be->proto & VHOST_USER_PROTO_BIT(REPLY_ACK);
	int ret;

	if (be->backend_fd < 0)
		return -ENOTCONN;
	m->hdr.flags = VHOST_USER_VERSION | (ack ? VHOST_USER_NEED_REPLY : 0);
	if (be->conf.verbose) {
		char line[256];

		vhost_user_describe(m, VHOST_USER_FROM_BACKEND, line,
				    sizeof(line));
		backend_log(be, "-> %s", line);
	}
	ret = frame_vhost_send(
		be->backend_fd, m, FRAME_WHOLE,
		chan_deadline(backend_wait_ms(be, BACKEND_REPLY_TIMEOUT_MS)));
	if (ret < 0)
		goto err;
	if (!ack)
		return 0;
	ret = frame_vhost_recv(
		be->backend_fd, &r,
		chan_deadline(backend_wait_ms(be, BACKEND_REPLY_TIMEOUT_MS)),
		&why, NULL);
	if (ret < 0)
		goto err;
	close_fds(r.fds, r.nfds);
	ret = vhost_user_check_reply(VHOST_USER_FROM_BACKEND, &m->hdr, &r,
				     &why);
	if (ret < 0) {
		backend_log(be, "bad reply on the back-end channel: %s", why);
		return ret;
	}
	vhost_user_get_u64(&r, &status, NULL);
	return status ? -EIO : 0;

err:
	backend_log(be, "back-end channel: %s; closed", strerror(-ret));
	close_fd(&be->backend_fd);
	return ret;
}

static void try_config_change(struct backend *be)
{
	struct vhost_user_msg m;

	if (!be->config_change_pending || be->backend_fd < 0 ||
	    !(be->proto & VHOST_USER_PROTO_BIT(CONFIG)) ||
	    backend_suspended(be))
		return;
	/* "While all vrings are stopped ... not send any messages to the
	 * front-end": checked above; the message waits until then. */
	be->config_change_pending = false;
	vhost_user_build_empty(&m, VHOST_USER_BACKEND_CONFIG_CHANGE_MSG);
	backend_send_backend_req(be, &m);
}

void backend_config_change(struct backend *be)
{
	be->config_change_pending = true;
	try_config_change(be);
}

bool backend_suspended(const struct backend *be)
{
	unsigned int i;

	for (i = 0; i < be->nvrings; i++)
		if (be->vq[i].started)
			return false;
	return true;
}

/* ---- life cycle ---------------------------------------------------------- */

/* One request being handled (be->req). */
struct req {
	struct vhost_user_msg *m;
	struct vhost_user_msg reply;
	bool has_reply;	 /* reply holds a body to send */
	int reply_fd;	 /* sent with the body, then closed; -1 */
	uint64_t proto;	 /* protocol features when it arrived */
	const char *why; /* reason of a refusal */
};

static void log_unmap(struct backend *be)
{
	if (be->log_map && be->log_map != MAP_FAILED)
		munmap(be->log_map, be->log_map_len);
	be->log_map = NULL;
	be->log = NULL;
	be->log_size = 0;
}

static void inflight_unmap(struct backend *be)
{
	if (be->inflight)
		munmap(be->inflight - be->inflight_delta, be->inflight_len);
	be->inflight = NULL;
	be->inflight_delta = 0;
	be->inflight_len = 0;
	be->inflight_nq = be->inflight_qs = 0;
}

static void device_defaults(struct backend *be)
{
	memset(be->config, 0, sizeof(be->config));
	be->config_len = be->dev->config_init(be);
}

int backend_new(struct backend **out, const struct backend_conf *conf)
{
	struct backend *be;
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t rw = 0, total;
	unsigned int n, i;
	uint8_t *map;

	if (conf->queues < 1 ||
	    (conf->device == BACKEND_DEV_NET &&
	     conf->queues * 2 > BACKEND_MAX_QUEUES) ||
	    (conf->device == BACKEND_DEV_BLK &&
	     conf->queues > BACKEND_MAX_QUEUES))
		return -EINVAL;
	if (conf->device == BACKEND_DEV_BLK &&
	    (!conf->blk_size || conf->blk_size % 512))
		return -EINVAL;
	be = calloc(1, sizeof(*be));
	if (!be)
		return -ENOMEM;
	be->conf = *conf;
	be->conn = be->wake_fd = be->backend_fd = be->log_fd = -1;
	be->xfer.fd = -1;
	be->closed = true;
	be->dev = conf->device == BACKEND_DEV_NET ? &dev_net_ops : &dev_blk_ops;
	n = conf->device == BACKEND_DEV_NET ? conf->queues * 2 : conf->queues;
	be->nvrings = n;
	be->mem = calloc(1, sizeof(*be->mem));
	be->mem_spare = calloc(1, sizeof(*be->mem_spare));
	be->bufs = calloc(VQ_MAX_SIZE, sizeof(*be->bufs));
	be->req = calloc(1, sizeof(*be->req));
	be->rx = calloc(1, sizeof(*be->rx));
	if (!be->mem || !be->mem_spare || !be->bufs || !be->req || !be->rx)
		goto err;
	gmem_init(be->mem);
	gmem_init(be->mem_spare);

	/*
	 * The vrings end exactly at a page boundary, followed by an
	 * inaccessible reserve: a seeded unchecked index faults at once
	 * instead of corrupting memory quietly.
	 */
	rw = (n * sizeof(struct vring) + page - 1) / page * page;
	total = rw + ((size_t)BACKEND_VRING_RESERVE * sizeof(struct vring) +
		      page - 1) /
			     page * page;
	map = mmap(NULL, total, PROT_NONE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (map == MAP_FAILED)
		goto err;
	if (mprotect(map, rw, PROT_READ | PROT_WRITE)) {
		munmap(map, total);
		goto err;
	}
	be->vq_map_len = total;
	be->vq = (struct vring *)(void *)(map + rw - n * sizeof(struct vring));
	for (i = 0; i < n; i++)
		vring_init(&be->vq[i], i);

	be->features_offered =
		F(VIRTIO_F_VERSION_1) | F(VIRTIO_F_RING_PACKED) |
		F(VIRTIO_F_EVENT_IDX) | F(VIRTIO_F_INDIRECT_DESC) |
		F(VHOST_USER_F_PROTOCOL_FEATURES) |
		F(VHOST_USER_VIRTIO_F_LOG_ALL) | be->dev->features;
	if (conf->device == BACKEND_DEV_BLK && conf->queues > 1)
		be->features_offered |= F(12); /* VIRTIO_BLK_F_MQ */
	be->proto_offered = VHOST_USER_PROTO_BIT(MQ) |
			    VHOST_USER_PROTO_BIT(LOG_SHMFD) |
			    VHOST_USER_PROTO_BIT(REPLY_ACK) |
			    VHOST_USER_PROTO_BIT(BACKEND_REQ) |
			    VHOST_USER_PROTO_BIT(CONFIG) |
			    VHOST_USER_PROTO_BIT(INFLIGHT_SHMFD) |
			    VHOST_USER_PROTO_BIT(RESET_DEVICE) |
			    VHOST_USER_PROTO_BIT(INBAND_NOTIFICATIONS) |
			    VHOST_USER_PROTO_BIT(CONFIGURE_MEM_SLOTS) |
			    VHOST_USER_PROTO_BIT(STATUS) |
			    VHOST_USER_PROTO_BIT(DEVICE_STATE);
	if (be->dev->init(be) < 0)
		goto err;
	device_defaults(be);
	guard_install();
	*out = be;
	return 0;

err:
	if (be->vq)
		munmap((uint8_t *)be->vq + n * sizeof(struct vring) - rw,
		       be->vq_map_len);
	free(be->rx);
	free(be->req);
	free(be->bufs);
	free(be->mem_spare);
	free(be->mem);
	free(be);
	return -ENOMEM;
}

void backend_attach(struct backend *be, int fd)
{
	backend_detach(be);
	be->conn = fd;
	be->closed = false;
}

void backend_detach(struct backend *be)
{
	unsigned int i;

	close_fd(&be->conn);
	be->closed = true;
	for (i = 0; i < be->nvrings; i++)
		vring_reset(&be->vq[i]);
	gmem_clear(be->mem);
	close_fd(&be->backend_fd);
	close_fd(&be->log_fd);
	log_unmap(be);
	inflight_unmap(be);
	state_xfer_abort(be);
	be->xfer.checked = false;
	be->features = 0;
	be->features_set = false;
	be->proto = 0;
	be->owner = false;
	be->status = 0;
	be->config_change_pending = false;
	be->used_any = false;
	be->dev->reset(be, true);
	device_defaults(be);
}

int backend_release(struct backend *be)
{
	int fd = be->closed ? -1 : be->conn;

	if (fd >= 0)
		be->conn = -1;
	backend_detach(be);
	return fd;
}

void backend_free(struct backend *be)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t rw;

	if (!be)
		return;
	backend_detach(be);
	be->dev->fini(be);
	rw = (be->nvrings * sizeof(struct vring) + page - 1) / page * page;
	munmap((uint8_t *)be->vq + be->nvrings * sizeof(struct vring) - rw,
	       be->vq_map_len);
	free(be->rx);
	free(be->req);
	free(be->bufs);
	free(be->mem_spare);
	free(be->mem);
	free(be);
}

/* ---- request handling ------------------------------------------------------ */

static int put_reply(struct backend *be, const struct vhost_user_msg *r,
		     int64_t deadline);

static int refuse_why(struct req *rq, int err, const char *why)
{
	rq->why = why;
	return err;
}

/* The vring an index names; NULL (and why) if out of range. */
static struct vring *vring_at(struct backend *be, struct req *rq,
			      uint32_t index)
{
	if (index < be->nvrings || bug_on(BUG_VRING_INDEX_UNCHECKED))
		return &be->vq[index];
	rq->why = "vring index out of range";
	return NULL;
}

static int setup_guarded(struct backend *be, void *arg)
{
	const char **why = arg;
	unsigned int i;
	int ret = 0;

	for (i = 0; i < be->nvrings; i++) {
		int r = vring_setup(be, &be->vq[i], why);

		if (r < 0)
			ret = r;
	}
	return ret;
}

struct setup_arg {
	struct vring *vq;
	const char *why;
};

static int setup_one_guarded(struct backend *be, void *p)
{
	struct setup_arg *a = p;

	return vring_setup(be, a->vq, &a->why);
}

/* vring_setup() of one ring under the SIGBUS guard. */
static int setup_one(struct backend *be, struct vring *vq, const char **why)
{
	struct setup_arg a = { .vq = vq };
	int ret;

	ret = backend_guarded(be, setup_one_guarded, &a);
	*why = ret == -EFAULT && !a.why ? "guest memory faulted (SIGBUS)"
					: a.why;
	return ret;
}

/* Rebuild every ring after memory or features changed. */
static void vrings_resetup(struct backend *be)
{
	const char *why = NULL;

	if (backend_guarded(be, setup_guarded, &why) < 0 && why)
		backend_log(be, "a vring is no longer usable: %s", why);
}

static void reply_u64(struct req *rq, uint64_t v)
{
	vhost_user_build_u64(&rq->reply, rq->m->hdr.request, v);
	rq->has_reply = true;
}

static int h_get_features(struct backend *be, struct req *rq)
{
	reply_u64(rq, be->features_offered);
	return 0;
}

static int h_set_features(struct backend *be, struct req *rq)
{
	uint64_t v, changed;
	unsigned int i;

	vhost_user_get_u64(rq->m, &v, NULL);
	if ((v & ~be->features_offered) && !bug_on(BUG_SET_FEATURES_UNCHECKED))
		return refuse_why(rq, -EPROTO,
				  "feature bits that GET_FEATURES did not "
				  "offer");
	changed = v ^ be->features;
	if ((changed & F(VIRTIO_F_RING_PACKED)) && !backend_suspended(be))
		return refuse_why(rq, -EPROTO,
				  "ring layout changed while a ring is "
				  "started");
	be->features = v;
	be->features_set = true;
	/* "upon receiving a VHOST_USER_SET_FEATURES message from the
	 * front-end without VHOST_USER_F_PROTOCOL_FEATURES set, the
	 * back-end must enable all rings immediately" */
	if (!(v & F(VHOST_USER_F_PROTOCOL_FEATURES)))
		for (i = 0; i < be->nvrings; i++)
			be->vq[i].enabled = true;
	vrings_resetup(be);
	return 0;
}

static int h_get_protocol_features(struct backend *be, struct req *rq)
{
	reply_u64(rq, be->proto_offered);
	return 0;
}

static int h_set_protocol_features(struct backend *be, struct req *rq)
{
	uint64_t v;

	vhost_user_get_u64(rq->m, &v, NULL);
	if (v & ~be->proto_offered)
		return refuse_why(rq, -EPROTO,
				  "protocol feature bits that were not "
				  "offered");
	be->proto = v;
	try_config_change(be);
	return 0;
}

static int h_set_owner(struct backend *be, struct req *rq)
{
	/* As VHOST_SET_OWNER in the kernel (EBUSY): one owner a session. */
	if (be->owner)
		return refuse_why(rq, -EPROTO,
				  "the session already has an "
				  "owner");
	be->owner = true;
	return 0;
}

static int h_reset_owner(struct backend *be, struct req *rq)
{
	unsigned int i;

	(void)rq;
	/* "It is recommended that back-ends either ignore this message, or
	 * use it to disable all rings." */
	for (i = 0; i < be->nvrings; i++)
		be->vq[i].enabled = false;
	return 0;
}

/* Map one region into @g; @fd is taken. */
static int map_region(struct backend *be, struct gmem *g, int fd,
		      const struct vhost_user_mem_region *r, const char **why)
{
	struct gmem_region *gr;
	uint64_t len;
	void *p;

	(void)be;
	if (!bug_on(BUG_MEM_PAST_EOF))
		return gmem_add_fd(g, fd, r->guest_addr, r->size, r->user_addr,
				   r->mmap_offset, PROT_READ | PROT_WRITE, why);
	/* The seeded bug: map what is asked, never look at the file. */
	len = r->mmap_offset + r->size;
	if (g->n >= GMEM_MAX_REGIONS || !r->size || len < r->size) {
		close(fd);
		*why = "bad region";
		return -EINVAL;
	}
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		close(fd);
		*why = "mmap failed";
		return -EINVAL;
	}
	gr = &g->r[g->n++];
	memset(gr, 0, sizeof(*gr));
	gr->gpa = r->guest_addr;
	gr->size = r->size;
	gr->uaddr = r->user_addr;
	gr->mmap_offset = r->mmap_offset;
	gr->map_base = p;
	gr->map_len = len;
	gr->hva = (uint8_t *)p + r->mmap_offset;
	gr->fd = fd;
	return 0;
}

static int h_set_mem_table(struct backend *be, struct req *rq)
{
	struct vhost_user_msg *m = rq->m;
	struct vhost_user_mem_table t;
	struct gmem *g, *old;
	unsigned int i;
	int ret;

	ret = vhost_user_get_mem_table(m, &t, &rq->why);
	if (ret < 0)
		return ret;
	if (!t.nregions)
		return refuse_why(rq, -EBADMSG,
				  "a memory table with no "
				  "regions");
	g = be->mem_spare;
	gmem_init(g);
	for (i = 0; i < t.nregions; i++) {
		int fd;

		/* Only the seeded bug gets here with fewer fds. */
		if (i >= m->nfds)
			continue;
		fd = m->fds[i];
		m->fds[i] = -1;
		ret = map_region(be, g, fd, &t.regions[i], &rq->why);
		if (ret < 0) {
			gmem_clear(g);
			return ret;
		}
	}
	if (bug_on(BUG_MEM_TABLE_FD_MISMATCH))
		for (; i < m->nfds; i++)
			m->fds[i] = -1; /* extra fds: forgotten, not closed */
	old = be->mem;
	be->mem = g;
	vrings_resetup(be);
	gmem_clear(old);
	be->mem_spare = old;
	return 0;
}

static int h_get_max_mem_slots(struct backend *be, struct req *rq)
{
	(void)be;
	reply_u64(rq, BACKEND_MAX_MEM_SLOTS);
	return 0;
}

static int h_add_mem_reg(struct backend *be, struct req *rq)
{
	struct vhost_user_single_mem_region r;
	int ret, fd;

	ret = vhost_user_get_mem_region(rq->m, &r, &rq->why);
	if (ret < 0)
		return ret;
	if (be->mem->n >= BACKEND_MAX_MEM_SLOTS)
		return refuse_why(rq, -ENOSPC, "every memory slot is in use");
	fd = rq->m->fds[0];
	rq->m->fds[0] = -1;
	ret = map_region(be, be->mem, fd, &r.region, &rq->why);
	if (ret < 0)
		return ret;
	vrings_resetup(be);
	return 0;
}

static int h_rem_mem_reg(struct backend *be, struct req *rq)
{
	struct vhost_user_single_mem_region r;
	unsigned int i;
	int ret;

	ret = vhost_user_get_mem_region(rq->m, &r, &rq->why);
	if (ret < 0)
		return ret;
	/* "If a file descriptor is passed, the back-end MUST close it" */
	if (rq->m->nfds && bug_on(BUG_REM_MEM_REG_FD_LEAK))
		rq->m->fds[0] = -1;
	/* "identified by its guest address, user address and size" */
	for (i = 0; i < be->mem->n; i++) {
		const struct gmem_region *g = &be->mem->r[i];

		if (g->gpa == r.region.guest_addr && g->size == r.region.size &&
		    g->uaddr == r.region.user_addr)
			break;
	}
	if (i == be->mem->n)
		return refuse_why(rq, -ENOENT,
				  "no region with that guest "
				  "address, user address and "
				  "size");
	/* Rings must stop pointing into it before it goes. */
	for (ret = 0; ret < (int)be->nvrings; ret++)
		be->vq[ret].ready = false;
	gmem_remove(be->mem, i);
	vrings_resetup(be);
	return 0;
}

static int h_set_log_base(struct backend *be, struct req *rq)
{
	struct vhost_user_log l;
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	uint64_t aligned, delta;
	struct stat st;
	void *p;
	int ret;

	if (!(be->proto & VHOST_USER_PROTO_BIT(LOG_SHMFD)))
		return refuse_why(rq, -ENOTSUP,
				  "only shared-memory logging "
				  "(VHOST_USER_PROTOCOL_F_LOG_SHMFD) is "
				  "supported");
	ret = vhost_user_get_log(rq->m, &l, &rq->why);
	if (ret < 0)
		return ret;
	if (!l.mmap_size || l.mmap_offset + l.mmap_size < l.mmap_offset ||
	    l.mmap_size > SIZE_MAX / 2)
		return refuse_why(rq, -EINVAL,
				  "log size 0 or offset + size "
				  "wraps");
	aligned = l.mmap_offset & ~(uint64_t)(page - 1);
	delta = l.mmap_offset - aligned;
	p = MAP_FAILED;
	/* A file shorter than the log would SIGBUS on the first mark. */
	if (!fstat(rq->m->fds[0], &st) && S_ISREG(st.st_mode) &&
	    (uint64_t)st.st_size < l.mmap_offset + l.mmap_size)
		rq->why = "the log runs past the end of its file";
	else
		p = mmap(NULL, delta + l.mmap_size, PROT_READ | PROT_WRITE,
			 MAP_SHARED, rq->m->fds[0], (off_t)aligned);
	if (p == MAP_FAILED && !bug_on(BUG_LOG_MAP_FAILED)) {
		if (!rq->why)
			rq->why = "the log fd cannot be mapped shared and "
				  "writable";
		return -EINVAL;
	}
	log_unmap(be);
	be->log_map = p;
	be->log_map_len = delta + l.mmap_size;
	be->log = p == MAP_FAILED ? (uint8_t *)p : (uint8_t *)p + delta;
	be->log_size = l.mmap_size;
	reply_u64(rq, 0);
	return 0;
}

enum fd_class { FD_OTHER, FD_EVENTFD, FD_SOCKET, FD_PIPE_READ, FD_PIPE_WRITE };

/*
 * What @fd is, as far as a notifier or channel cares: fdzoo_kind_of()'s
 * answer without what no caller here looks at (eventfd flags from fdinfo,
 * whether a pipe is widowed): two system calls, three for an eventfd,
 * where fdzoo_kind_of() makes six. A FIFO opened O_RDWR and an O_PATH fd
 * are neither end.
 */
static enum fd_class fd_class_of(int fd)
{
	static const char eventfd_link[] = "anon_inode:[eventfd]";
	char path[40], link[sizeof(eventfd_link)];
	struct stat st;
	ssize_t n;
	int fl;

	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || (fl & O_PATH) || fstat(fd, &st) < 0)
		return FD_OTHER;
	switch (st.st_mode & S_IFMT) {
	case S_IFSOCK:
		return FD_SOCKET;
	case S_IFIFO:
		if ((fl & O_ACCMODE) == O_RDONLY)
			return FD_PIPE_READ;
		return (fl & O_ACCMODE) == O_WRONLY ? FD_PIPE_WRITE : FD_OTHER;
	case S_IFDIR:
	case S_IFCHR:
	case S_IFBLK:
	case S_IFLNK:
		return FD_OTHER;
	default:
		break;
	}
	/* an anonymous inode: only its link says what it is */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, link, sizeof(link));
	if (n == (ssize_t)sizeof(eventfd_link) - 1 &&
	    !memcmp(link, eventfd_link, (size_t)n))
		return FD_EVENTFD;
	return FD_OTHER;
}

/* Kinds of fd a notifier may be: eventfd or pipe (or a socket). */
static bool notifier_kind_ok(int fd, bool reader)
{
	switch (fd_class_of(fd)) {
	case FD_EVENTFD:
	case FD_SOCKET:
		return true;
	case FD_PIPE_READ:
		return reader;
	case FD_PIPE_WRITE:
		return !reader;
	default:
		return false;
	}
}

static int h_set_log_fd(struct backend *be, struct req *rq)
{
	if (!notifier_kind_ok(rq->m->fds[0], false))
		return refuse_why(rq, -EBADF,
				  "the log fd is neither an "
				  "eventfd nor a pipe write end");
	close_fd(&be->log_fd);
	be->log_fd = rq->m->fds[0];
	rq->m->fds[0] = -1;
	return 0;
}

static int h_set_vring_num(struct backend *be, struct req *rq)
{
	struct vhost_user_vring_state s;
	bool packed = be->features & F(VIRTIO_F_RING_PACKED);
	struct vring *vq;

	vhost_user_get_vring_state(rq->m, &s, NULL);
	vq = vring_at(be, rq, s.index);
	if (!vq)
		return -EINVAL;
	if (!bug_on(BUG_VRING_NUM_UNCHECKED) &&
	    (packed ? !vq_packed_size_ok(s.num) : !vq_split_size_ok(s.num)))
		return refuse_why(rq, -EINVAL,
				  packed ? "queue size is not 1..32768"
					 : "queue size is not a power of two "
					   "from 1 to 32768");
	if (vq->started)
		return refuse_why(rq, -EPROTO, "the ring is started");
	vq->num = s.num;
	vq->ready = false;
	vrings_resetup(be);
	return 0;
}

static int h_set_vring_addr(struct backend *be, struct req *rq)
{
	struct vhost_user_vring_addr a;
	const char *why = NULL;
	struct vring *vq;
	int ret;

	vhost_user_get_vring_addr(rq->m, &a, NULL);
	vq = vring_at(be, rq, a.index);
	if (!vq)
		return -EINVAL;
	if (a.flags & ~VHOST_USER_VRING_F_LOG_MASK)
		return refuse_why(rq, -EINVAL,
				  "vring flags other than "
				  "VHOST_VRING_F_LOG");
	if (!vq->num)
		return refuse_why(rq, -EPROTO,
				  "SET_VRING_ADDR before "
				  "SET_VRING_NUM");
	if (!be->mem->n)
		return refuse_why(rq, -EPROTO,
				  "no memory table to translate "
				  "ring addresses with");
	vq->addr = a;
	vq->addr_set = true;
	ret = setup_one(be, vq, &why);
	if (ret < 0) {
		vq->addr_set = false;
		return refuse_why(rq, ret, why);
	}
	return 0;
}

static int h_set_vring_base(struct backend *be, struct req *rq)
{
	struct vhost_user_vring_state s;
	const char *why = NULL;
	struct vring *vq;
	uint32_t old;
	int ret;

	vhost_user_get_vring_state(rq->m, &s, NULL);
	vq = vring_at(be, rq, s.index);
	if (!vq)
		return -EINVAL;
	if (vq->started)
		return refuse_why(rq, -EPROTO, "the ring is started");
	if (!(be->features & F(VIRTIO_F_RING_PACKED)) &&
	    (s.num & ~VHOST_USER_SPLIT_BASE_MASK))
		return refuse_why(rq, -EINVAL,
				  "split ring base has bits "
				  "16-31 set (reserved)");
	old = vq->base;
	vq->base = s.num;
	if (vq->ready) {
		/* Re-set up from the new base, not the engine's. */
		vq->ready = false;
		ret = setup_one(be, vq, &why);
		if (ret < 0) {
			vq->base = old;
			setup_one(be, vq, &why);
			return refuse_why(rq, ret, "base refused by the ring");
		}
	}
	return 0;
}

struct base_arg {
	struct vring *vq;
	uint32_t base;
};

static int get_base_guarded(struct backend *be, void *p)
{
	struct base_arg *a = p;

	a->base = vring_get_base(be, a->vq);
	/* The seeded bug reads the driver's index, not ours. */
	if (bug_on(BUG_GET_VRING_BASE_AVAIL_IDX) && a->vq->ready &&
	    !a->vq->packed)
		a->base = vq_load16(&a->vq->q.split.avail->idx);
	return 0;
}

static int h_get_vring_base(struct backend *be, struct req *rq)
{
	struct vhost_user_vring_state s;
	struct base_arg a;
	struct vring *vq;

	vhost_user_get_vring_state(rq->m, &s, NULL);
	vq = vring_at(be, rq, s.index);
	if (!vq)
		return -EINVAL;
	/* Kicks that came before the stop must not restart the ring. */
	vring_drain_kick(be, vq);
	if (!bug_on(BUG_NO_STOP_ON_GET_VRING_BASE))
		vq->started = false;
	a.vq = vq;
	a.base = vq->base;
	if (backend_guarded(be, get_base_guarded, &a) < 0)
		a.base = vq->base;
	vhost_user_build_vring_state(&rq->reply, VHOST_USER_GET_VRING_BASE,
				     s.index, a.base);
	rq->has_reply = true;
	return 0;
}

static int h_set_vring_fd(struct backend *be, struct req *rq)
{
	struct vhost_user_msg *m = rq->m;
	uint32_t code = m->hdr.request;
	bool kick = code == VHOST_USER_SET_VRING_KICK;
	struct vring *vq;
	uint64_t v, one = 1;
	int fd, *slot;

	vhost_user_get_u64(m, &v, NULL);
	fd = (v & VHOST_USER_VRING_NOFD_MASK) ? -1 : m->fds[0];
	vq = vring_at(be, rq, (uint32_t)(v & VHOST_USER_VRING_IDX_MASK));
	if (!vq)
		goto refused;
	if (fd >= 0 && !notifier_kind_ok(fd, kick)) {
		rq->why = kick ? "the kick fd is not a readable eventfd, pipe "
				 "read end or socket"
			       : "the call / err fd is not a writable eventfd, "
				 "pipe write end or socket";
		goto refused;
	}
	if (fd >= 0 && code == VHOST_USER_SET_VRING_CALL &&
	    bug_on(BUG_CALL_EVENTFD_ONLY)) {
		enum fdzoo_kind k = fdzoo_kind_of(fd);

		if (k != FDZOO_EVENTFD && k != FDZOO_EVENTFD_NONBLOCK &&
		    k != FDZOO_EVENTFD_SEMAPHORE) {
			rq->why = "the call fd is not an eventfd";
			goto refused;
		}
	}
	if (fd >= 0 && kick && bug_on(BUG_KICK_SELF_WRITE_PANIC) &&
	    vring_nosig_write(fd, &one, sizeof(one)) != sizeof(one)) {
		backend_log(be, "panic: kick eventfd_write(): %s",
			    strerror(errno));
		abort();
	}
	if (fd >= 0 && code == VHOST_USER_SET_VRING_CALL &&
	    bug_on(BUG_UNSOLICITED_REPLY) &&
	    vring_nosig_write(fd, &one, sizeof(one)) != sizeof(one)) {
		struct vhost_user_msg r;

		vhost_user_build_ack(&r, code, 1);
		put_reply(be, &r, chan_deadline(backend_wait_ms(be, 100)));
	}
	slot = kick				   ? &vq->kick_fd
	       : code == VHOST_USER_SET_VRING_CALL ? &vq->call_fd
						   : &vq->err_fd;
	close_fd(slot);
	*slot = fd;
	if (fd >= 0)
		m->fds[0] = -1;
	if (kick) {
		vq->kick_dead = false;
		/* "This signals that polling should be used instead of
		 * waiting for the kick": a polled ring is started now. */
		vq->kick_polling = fd < 0;
		if (vq->kick_polling)
			vq->started = true;
	}
	return 0;

refused:
	if (fd >= 0 && bug_on(BUG_FD_LEAK_VRING_ERROR))
		m->fds[0] = -1; /* forgotten, never closed */
	if (!rq->why)
		rq->why = "refused";
	return -EINVAL;
}

static int h_get_queue_num(struct backend *be, struct req *rq)
{
	reply_u64(rq, be->conf.queues);
	return 0;
}

static int h_set_vring_enable(struct backend *be, struct req *rq)
{
	struct vhost_user_vring_state s;
	struct vring *vq;

	vhost_user_get_vring_state(rq->m, &s, NULL);
	vq = vring_at(be, rq, s.index);
	if (!vq)
		return -EINVAL;
	/* "This request should be sent only when
	 * VHOST_USER_F_PROTOCOL_FEATURES has been negotiated." */
	if (!(be->features & F(VHOST_USER_F_PROTOCOL_FEATURES)))
		return refuse_why(rq, -EPROTO,
				  "VHOST_USER_F_PROTOCOL_FEATURES is not "
				  "negotiated");
	if (s.num > 1)
		return refuse_why(rq, -EINVAL, "enable is neither 0 nor 1");
	vq->enabled = s.num;
	return 0;
}

static int h_set_backend_req_fd(struct backend *be, struct req *rq)
{
	if (fd_class_of(rq->m->fds[0]) != FD_SOCKET)
		return refuse_why(rq, -EBADF,
				  "the back-end channel is not a "
				  "socket");
	close_fd(&be->backend_fd);
	be->backend_fd = rq->m->fds[0];
	rq->m->fds[0] = -1;
	try_config_change(be);
	return 0;
}

static int h_iotlb_msg(struct backend *be, struct req *rq)
{
	(void)be;
	/* We never offer VIRTIO_F_IOMMU_PLATFORM: "non-zero otherwise". */
	return refuse_why(rq, -EPROTO,
			  "VIRTIO_F_IOMMU_PLATFORM is not negotiated");
}

static int h_get_config(struct backend *be, struct req *rq)
{
	struct vhost_user_config c;
	int ret;

	ret = vhost_user_get_config(rq->m, &c, &rq->why);
	if (ret < 0)
		return ret;
	if (bug_on(BUG_CONFIG_WHOLE_STRUCT)) {
		vhost_user_build_config(&rq->reply, VHOST_USER_GET_CONFIG, 0,
					be->config_len, c.flags, be->config);
		rq->has_reply = true;
		return 0;
	}
	/* Bytes past the device's own fields read as 0, up to the most a
	 * message carries; the reply's size "MUST match the request". */
	if (!c.size || c.offset > VHOST_USER_MAX_CONFIG_SIZE ||
	    c.size > VHOST_USER_MAX_CONFIG_SIZE - c.offset)
		return refuse_why(rq, -EINVAL,
				  "config offset + size is 0 or "
				  "past 256 bytes");
	vhost_user_build_config(&rq->reply, VHOST_USER_GET_CONFIG, c.offset,
				c.size, c.flags, be->config + c.offset);
	rq->has_reply = true;
	return 0;
}

static int h_set_config(struct backend *be, struct req *rq)
{
	struct vhost_user_config c;
	int ret;

	ret = vhost_user_get_config(rq->m, &c, &rq->why);
	if (ret < 0)
		return ret;
	if (!c.size || c.offset > be->config_len ||
	    c.size > be->config_len - c.offset)
		return refuse_why(rq, -EINVAL,
				  "config offset + size is 0 or "
				  "past the device's config");
	if (c.flags > VHOST_USER_CONFIG_LIVE_MIGRATION)
		return refuse_why(rq, -EINVAL,
				  "config flags is neither 0 nor "
				  "1");
	/* "back-ends MUST NOT accept SET_CONFIG for read-only
	 * configuration space fields unless the live migration bit is
	 * set" */
	if (c.flags != VHOST_USER_CONFIG_LIVE_MIGRATION &&
	    !be->dev->config_writable(c.offset, c.size) &&
	    !bug_on(BUG_SET_CONFIG_READONLY))
		return refuse_why(rq, -EPERM,
				  "read-only config field without "
				  "the live migration flag");
	memcpy(be->config + c.offset, c.data, c.size);
	return 0;
}

/* Bytes of one queue's inflight region ("Inflight I/O tracking"). */
static size_t inflight_per_queue(bool packed, uint16_t qs)
{
	size_t n = packed ? 32 + 32 * (size_t)qs : 16 + 16 * (size_t)qs;

	return (n + 63) & ~(size_t)63;
}

static int h_get_inflight_fd(struct backend *be, struct req *rq)
{
	bool packed = be->features & F(VIRTIO_F_RING_PACKED);
	struct vhost_user_inflight in;
	size_t per, len, q;
	uint8_t *p;
	int fd;

	vhost_user_get_inflight(rq->m, &in, NULL);
	if (!in.num_queues || in.num_queues > be->nvrings)
		return refuse_why(rq, -EINVAL,
				  "num_queues is 0 or more than "
				  "the device has");
	if (packed ? !vq_packed_size_ok(in.queue_size)
		   : !vq_split_size_ok(in.queue_size))
		return refuse_why(rq, -EINVAL,
				  "queue_size is not a legal "
				  "queue size");
	per = inflight_per_queue(packed, in.queue_size);
	len = per * in.num_queues;
	fd = memfd_create("vuc-ref-vhost-inflight",
			  MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return refuse_why(rq, -errno, "memfd_create failed");
	if (ftruncate(fd, (off_t)len) ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL)) {
		close(fd);
		return refuse_why(rq, -errno, "inflight buffer set-up failed");
	}
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		close(fd);
		return refuse_why(rq, -errno, "inflight buffer mmap failed");
	}
	/* The previous buffer goes (CVE-2020-10726: it used to leak). */
	if (bug_on(BUG_INFLIGHT_LEAK)) {
		if (dup(fd) < 0) /* forgotten on purpose */
			backend_log(be, "dup: %s", strerror(errno));
		be->inflight = NULL;
	}
	inflight_unmap(be);
	/* "version ... It's 1 currently"; desc_num is the queue size;
	 * packed, the free list */
	for (q = 0; q < in.num_queues; q++)
		vring_inflight_init(p + q * per, in.queue_size, packed);
	be->inflight = p;
	be->inflight_len = len;
	be->inflight_nq = in.num_queues;
	be->inflight_qs = in.queue_size;
	be->inflight_per_q = per;
	vhost_user_build_inflight(&rq->reply, VHOST_USER_GET_INFLIGHT_FD, len,
				  0, in.num_queues, in.queue_size);
	rq->has_reply = true;
	rq->reply_fd = fd;
	return 0;
}

static int h_set_inflight_fd(struct backend *be, struct req *rq)
{
	bool packed = be->features & F(VIRTIO_F_RING_PACKED);
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	struct vhost_user_inflight in;
	uint64_t aligned, delta;
	struct stat st;
	size_t per;
	unsigned int q;
	uint8_t *p;

	vhost_user_get_inflight(rq->m, &in, NULL);
	if ((!in.num_queues || in.num_queues > be->nvrings) &&
	    !bug_on(BUG_INFLIGHT_NUMQ_UNCHECKED))
		return refuse_why(rq, -EINVAL,
				  "num_queues is 0 or more than "
				  "the device has");
	if (packed ? !vq_packed_size_ok(in.queue_size)
		   : !vq_split_size_ok(in.queue_size))
		return refuse_why(rq, -EINVAL,
				  "queue_size is not a legal "
				  "queue size");
	per = inflight_per_queue(packed, in.queue_size);
	if (in.mmap_size < per * in.num_queues ||
	    in.mmap_offset + in.mmap_size < in.mmap_offset ||
	    in.mmap_size > SIZE_MAX / 2)
		return refuse_why(rq, -EINVAL,
				  "mmap_size is smaller than "
				  "num_queues regions, or wraps");
	if (fstat(rq->m->fds[0], &st) ||
	    (S_ISREG(st.st_mode) &&
	     (uint64_t)st.st_size < in.mmap_offset + in.mmap_size))
		return refuse_why(rq, -EINVAL,
				  "the inflight buffer runs past "
				  "the end of its file");
	aligned = in.mmap_offset & ~(uint64_t)(page - 1);
	delta = in.mmap_offset - aligned;
	p = mmap(NULL, delta + in.mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		 rq->m->fds[0], (off_t)aligned);
	if (p == MAP_FAILED)
		return refuse_why(rq, -EINVAL,
				  "the inflight fd cannot be "
				  "mapped shared and writable");
	/* Each queue now tracks into its region (the seeded bug walks the
	 * vrings by the front-end's count). */
	for (q = 0; q < in.num_queues; q++)
		be->vq[q].counter = 0;
	inflight_unmap(be);
	be->inflight = p + delta;
	be->inflight_delta = delta;
	be->inflight_len = delta + in.mmap_size;
	be->inflight_nq = in.num_queues;
	be->inflight_qs = in.queue_size;
	be->inflight_per_q = per;
	return 0;
}

static void device_reset(struct backend *be)
{
	unsigned int i;

	for (i = 0; i < be->nvrings; i++)
		vring_reset(&be->vq[i]);
	be->features = 0;
	be->features_set = false;
	be->status = 0;
	be->config_change_pending = false;
	state_xfer_abort(be);
	be->dev->reset(be, false);
	device_defaults(be);
}

static int h_reset_device(struct backend *be, struct req *rq)
{
	(void)rq;
	/* "disable all rings and reset all internal device state to the
	 * initial state ... The back-end retains ownership": negotiated
	 * protocol features, memory, log and channels are session state
	 * and stay. */
	device_reset(be);
	return 0;
}

static int h_vring_kick(struct backend *be, struct req *rq)
{
	struct vhost_user_vring_state s;
	struct vring *vq;

	vhost_user_get_vring_state(rq->m, &s, NULL);
	vq = vring_at(be, rq, s.index);
	if (!vq)
		return -EINVAL;
	/* "the ring is also started on the VHOST_USER_VRING_KICK message" */
	vq->started = true;
	vring_kicked(vq);
	vring_process(be, vq);
	return 0;
}

static int h_set_status(struct backend *be, struct req *rq)
{
	uint64_t v;

	vhost_user_get_u64(rq->m, &v, NULL);
	if (v > 0xff)
		return refuse_why(rq, -EINVAL,
				  "device status does not fit 8 "
				  "bits");
	/* Recorded only: the rings follow the vhost-user messages (QEMU
	 * sends status 0 before GET_VRING_BASE on stop). */
	be->status = (uint8_t)v;
	return 0;
}

static int h_get_status(struct backend *be, struct req *rq)
{
	reply_u64(rq, be->status);
	return 0;
}

static int h_set_device_state_fd(struct backend *be, struct req *rq)
{
	struct vhost_user_device_state d;
	int fd, ret;

	vhost_user_get_device_state(rq->m, &d, NULL);
	/* Phase "Stopped": "the vhost-user device is suspended" */
	if (!backend_suspended(be))
		return refuse_why(rq, -EPROTO,
				  "device state transfer while a "
				  "ring is started");
	fd = rq->m->fds[0];
	rq->m->fds[0] = -1;
	ret = state_xfer_start(
		be, fd,
		d.direction == VHOST_USER_TRANSFER_STATE_DIRECTION_LOAD);
	if (ret < 0)
		return refuse_why(rq, ret, "device state transfer refused");
	/* "Bit 8 is the invalid FD flag": we use the front-end's channel */
	reply_u64(rq, VHOST_USER_VRING_NOFD_MASK);
	return 0;
}

static int h_check_device_state(struct backend *be, struct req *rq)
{
	reply_u64(rq, state_xfer_check(be));
	return 0;
}

static int h_unsupported(struct backend *be, struct req *rq)
{
	(void)be;
	return refuse_why(rq, -ENOTSUP, "not supported by this back-end");
}

typedef int (*handler_fn)(struct backend *, struct req *);

static const handler_fn handlers[VHOST_USER_MAX] = {
	[VHOST_USER_GET_FEATURES] = h_get_features,
	[VHOST_USER_SET_FEATURES] = h_set_features,
	[VHOST_USER_SET_OWNER] = h_set_owner,
	[VHOST_USER_RESET_OWNER] = h_reset_owner,
	[VHOST_USER_SET_MEM_TABLE] = h_set_mem_table,
	[VHOST_USER_SET_LOG_BASE] = h_set_log_base,
	[VHOST_USER_SET_LOG_FD] = h_set_log_fd,
	[VHOST_USER_SET_VRING_NUM] = h_set_vring_num,
	[VHOST_USER_SET_VRING_ADDR] = h_set_vring_addr,
	[VHOST_USER_SET_VRING_BASE] = h_set_vring_base,
	[VHOST_USER_GET_VRING_BASE] = h_get_vring_base,
	[VHOST_USER_SET_VRING_KICK] = h_set_vring_fd,
	[VHOST_USER_SET_VRING_CALL] = h_set_vring_fd,
	[VHOST_USER_SET_VRING_ERR] = h_set_vring_fd,
	[VHOST_USER_GET_PROTOCOL_FEATURES] = h_get_protocol_features,
	[VHOST_USER_SET_PROTOCOL_FEATURES] = h_set_protocol_features,
	[VHOST_USER_GET_QUEUE_NUM] = h_get_queue_num,
	[VHOST_USER_SET_VRING_ENABLE] = h_set_vring_enable,
	[VHOST_USER_SET_BACKEND_REQ_FD] = h_set_backend_req_fd,
	[VHOST_USER_IOTLB_MSG] = h_iotlb_msg,
	[VHOST_USER_GET_CONFIG] = h_get_config,
	[VHOST_USER_SET_CONFIG] = h_set_config,
	[VHOST_USER_GET_INFLIGHT_FD] = h_get_inflight_fd,
	[VHOST_USER_SET_INFLIGHT_FD] = h_set_inflight_fd,
	[VHOST_USER_RESET_DEVICE] = h_reset_device,
	[VHOST_USER_VRING_KICK] = h_vring_kick,
	[VHOST_USER_GET_MAX_MEM_SLOTS] = h_get_max_mem_slots,
	[VHOST_USER_ADD_MEM_REG] = h_add_mem_reg,
	[VHOST_USER_REM_MEM_REG] = h_rem_mem_reg,
	[VHOST_USER_SET_STATUS] = h_set_status,
	[VHOST_USER_GET_STATUS] = h_get_status,
	[VHOST_USER_SET_DEVICE_STATE_FD] = h_set_device_state_fd,
	[VHOST_USER_CHECK_DEVICE_STATE] = h_check_device_state,
};

/* ---- dispatch ------------------------------------------------------------- */

/*
 * Send @r on the connection, or keep it in be->capture (backend_dispatch()):
 * packed and parsed again, so that a reply that is no message still shows.
 */
static int put_reply(struct backend *be, const struct vhost_user_msg *r,
		     int64_t deadline)
{
	struct backend_capture *cap = be->capture;
	uint8_t buf[VHOST_USER_HDR_SIZE + VHOST_USER_PAYLOAD_MAX];
	struct vhost_user_msg *k;
	unsigned int i;
	int len, ret;

	if (!cap)
		return frame_vhost_send(be->conn, r, FRAME_WHOLE, deadline);
	if (be->conn < 0)
		return -ECONNRESET;
	if (cap->n++ >= cap->cap)
		return 0;
	k = &cap->reps[cap->n - 1];
	len = vhost_user_pack(r, buf, sizeof(buf));
	ret = len < 0 ? len : vhost_user_parse(k, buf, (size_t)len, &cap->why);
	if (ret < 0) {
		if (!cap->err)
			cap->err = ret;
		cap->n--;
		return 0;
	}
	k->nfds = 0;
	for (i = 0; i < r->nfds; i++) {
		int fd = fcntl(r->fds[i], F_DUPFD_CLOEXEC, 0);

		if (fd >= 0)
			k->fds[k->nfds++] = fd;
	}
	return 0;
}

static int send_reply(struct backend *be, const struct vhost_user_msg *req,
		      struct vhost_user_msg *r)
{
	int ret;

	r->hdr.request = req->hdr.request;
	r->hdr.flags = VHOST_USER_VERSION | VHOST_USER_REPLY_MASK;
	if (bug_on(BUG_REPLY_FLAG_MISSING))
		r->hdr.flags = VHOST_USER_VERSION;
	ret = put_reply(
		be, r,
		chan_deadline(backend_wait_ms(be, BACKEND_MSG_TIMEOUT_MS)));
	if (ret < 0) {
		backend_log(be, "reply to %s: %s; closing",
			    vhost_user_request_name(VHOST_USER_FROM_FRONTEND,
						    req->hdr.request),
			    strerror(-ret));
		return ret;
	}
	return 0;
}

static void end_session(struct backend *be)
{
	be->closed = true;
	close_fd(&be->conn);
}

static const char *req_name(uint32_t code)
{
	const char *n = vhost_user_request_name(VHOST_USER_FROM_FRONTEND, code);

	return n ? n : "an unknown request";
}

/*
 * A refused request: answered where the protocol can say "failed",
 * otherwise the connection is closed ("If back-end detects some error
 * ... it may also close the connection").
 */
static int refuse(struct backend *be, struct req *rq, int err)
{
	struct vhost_user_msg *m = rq->m;
	const struct vhost_user_rule *r =
		vhost_user_rule_find(VHOST_USER_FROM_FRONTEND, m->hdr.request);
	bool ack_asked = (m->hdr.flags & VHOST_USER_NEED_REPLY_MASK) &&
			 (rq->proto & VHOST_USER_PROTO_BIT(REPLY_ACK));
	struct vhost_user_msg reply;
	uint64_t status = 1;

	backend_log(be, "refused %s (%s): %s", req_name(m->hdr.request),
		    strerror(-err), rq->why ? rq->why : "?");
	vhost_user_msg_init(&reply);
	switch (r ? r->code : 0) {
	case VHOST_USER_GET_CONFIG:
		/* "uses zero length of payload to indicate an error" */
		vhost_user_build_empty(&reply, VHOST_USER_GET_CONFIG);
		break;
	case VHOST_USER_SET_DEVICE_STATE_FD:
		/* error in bits 0-7, and no fd (bit 8) */
		vhost_user_build_u64(&reply, m->hdr.request,
				     VHOST_USER_VRING_NOFD_MASK | 1);
		break;
	case VHOST_USER_IOTLB_MSG:
	case VHOST_USER_CHECK_DEVICE_STATE:
		vhost_user_build_u64(&reply, m->hdr.request, 1);
		break;
	case VHOST_USER_SET_LOG_BASE:
		if (rq->proto & VHOST_USER_PROTO_BIT(LOG_SHMFD)) {
			vhost_user_build_u64(&reply, m->hdr.request, 1);
			break;
		}
		/* fall through */
	default:
		if (!ack_asked || (r && r->reply == VHOST_USER_REPLY_ALWAYS) ||
		    (r && r->reply == VHOST_USER_REPLY_IF_FEATURE &&
		     (rq->proto & (UINT64_C(1) << r->reply_feature)))) {
			backend_log(be, "closing the connection");
			end_session(be);
			return -EPROTO;
		}
		if (bug_on(BUG_ACK_SUCCESS_ON_ERROR))
			status = 0;
		vhost_user_build_ack(&reply, m->hdr.request, status);
		break;
	}
	if (send_reply(be, m, &reply) < 0) {
		end_session(be);
		return -ECONNRESET;
	}
	return 0;
}

/* Which check_request() refusals a seeded bug lets through. */
static bool bug_lets_through(const struct vhost_user_msg *m, int chk)
{
	uint32_t code = m->hdr.request;

	if (chk == -EPROTO && code == VHOST_USER_SET_PROTOCOL_FEATURES)
		return bug_on(BUG_INBAND_WITHOUT_REPLY_ACK);
	if (chk == -EPROTO)
		return bug_on(BUG_NO_FEATURE_GATING);
	if (chk == -EBADMSG && code == VHOST_USER_SET_MEM_TABLE &&
	    bug_on(BUG_MEM_TABLE_FD_MISMATCH))
		return true;
	return false;
}

int backend_handle(struct backend *be, struct vhost_user_msg *m)
{
	const struct vhost_user_rule *r;
	struct req *rq;
	bool ack_asked, body;
	int chk, ret;

	if (be->closed) {
		close_fds(m->fds, m->nfds);
		m->nfds = 0;
		return -ECONNRESET;
	}
	/* not re-entered: no handler handles another request */
	rq = be->req;
	rq->m = m;
	rq->has_reply = false;
	rq->reply_fd = -1;
	rq->proto = be->proto;
	rq->why = NULL;
	vhost_user_msg_init(&rq->reply);
	if (be->conf.verbose) {
		char line[256];

		vhost_user_describe(m, VHOST_USER_FROM_FRONTEND, line,
				    sizeof(line));
		backend_log(be, "<- %s", line);
	}
	r = vhost_user_rule_find(VHOST_USER_FROM_FRONTEND, m->hdr.request);

	chk = vhost_user_check_request(m, VHOST_USER_FROM_FRONTEND, be->proto,
				       &rq->why);
	if (chk < 0 && !bug_lets_through(m, chk)) {
		/* The seeded leak: fds on a request that takes none stay. */
		if (r && r->fds == VHOST_USER_FDS_NONE && m->nfds &&
		    bug_on(BUG_FD_LEAK_NO_FD_MSG))
			m->nfds = 0;
		ret = refuse(be, rq, chk);
		goto out;
	}
	if (!r || r->code >= VHOST_USER_MAX || !handlers[r->code])
		ret = h_unsupported(be, rq);
	else
		ret = handlers[r->code](be, rq);
	if (ret < 0) {
		close_fd(&rq->reply_fd);
		ret = refuse(be, rq, ret);
		goto out;
	}

	body = r->reply == VHOST_USER_REPLY_ALWAYS ||
	       (r->reply == VHOST_USER_REPLY_IF_FEATURE &&
		(rq->proto & (UINT64_C(1) << r->reply_feature)));
	ack_asked = (m->hdr.flags & VHOST_USER_NEED_REPLY_MASK) &&
		    (rq->proto & VHOST_USER_PROTO_BIT(REPLY_ACK));
	if (r->code == VHOST_USER_SET_MEM_TABLE && bug_on(BUG_NO_ACK_MEM_TABLE))
		ack_asked = false;
	if (body && rq->has_reply) {
		if (rq->reply_fd >= 0)
			vhost_user_msg_attach_fds(&rq->reply, &rq->reply_fd, 1);
		ret = send_reply(be, m, &rq->reply);
	} else if (!body && ack_asked) {
		/* "the back-end MUST respond with a Payload VhostUserMsg
		 * indicating success or failure" */
		vhost_user_build_ack(&rq->reply, m->hdr.request, 0);
		ret = send_reply(be, m, &rq->reply);
	} else {
		ret = 0;
	}
	close_fd(&rq->reply_fd);
	if (ret < 0)
		end_session(be);

out:
	/* Every fd handed and not kept is closed here. */
	close_fds(m->fds, m->nfds);
	m->nfds = 0;
	return be->closed ? -ECONNRESET : 0;
}

int backend_dispatch(struct backend *be, struct vhost_user_msg *m,
		     struct backend_capture *cap)
{
	unsigned int i;

	cap->n = 0;
	cap->err = 0;
	cap->why = NULL;
	be->capture = cap;
	backend_handle(be, m);
	be->capture = NULL;
	/* as backend_poll_once() after a message */
	for (i = 0; i < be->nvrings && !be->closed; i++)
		if (vring_runnable(be, &be->vq[i]))
			vring_process(be, &be->vq[i]);
	if (!be->closed)
		try_config_change(be);
	return be->closed ? -ECONNRESET : 0;
}

/* ---- receiving -------------------------------------------------------------- */

/* The seeded readers: one recvmsg() for the header, one for the payload. */
static int naive_recv(struct backend *be, struct vhost_user_msg *m)
{
	uint8_t buf[VHOST_USER_MSG_MAX];
	char cbuf[CMSG_SPACE(sizeof(int) * VHOST_USER_MAX_FDS)];
	struct iovec iov = { .iov_base = buf, .iov_len = VHOST_USER_HDR_SIZE };
	struct msghdr mh = { .msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = cbuf,
			     .msg_controllen = sizeof(cbuf) };
	int fds[VHOST_USER_MAX_FDS];
	unsigned int nfds = 0;
	struct cmsghdr *c;
	size_t got = 0;
	uint32_t size;
	ssize_t n;

	memset(buf, 0, sizeof(buf));
	n = recvmsg(be->conn, &mh, MSG_CMSG_CLOEXEC);
	if (n <= 0)
		return -ECONNRESET;
	for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		unsigned int k, cnt;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		cnt = (unsigned int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		for (k = 0; k < cnt && nfds < VHOST_USER_MAX_FDS; k++)
			memcpy(&fds[nfds++], CMSG_DATA(c) + k * sizeof(int),
			       sizeof(int));
	}
	got = (size_t)n;
	/* libvhost-user's reader: the length of that read is not checked. */
	while (got < VHOST_USER_HDR_SIZE && !bug_on(BUG_HEADER_SPLIT_DESYNC)) {
		n = recv(be->conn, buf + got, VHOST_USER_HDR_SIZE - got, 0);
		if (n <= 0)
			goto err;
		got += (size_t)n;
	}
	memcpy(&size, buf + 8, sizeof(size));
	if (size > VHOST_USER_PAYLOAD_MAX)
		goto err;
	got = 0;
	while (got < size) {
		n = recv(be->conn, buf + VHOST_USER_HDR_SIZE + got, size - got,
			 MSG_DONTWAIT);
		if (n < (ssize_t)(size - got) &&
		    bug_on(BUG_PAYLOAD_SHORT_READ_ABORT)) {
			backend_log(be, "payload: read %zd of %u bytes", n,
				    size);
			abort();
		}
		if (n == 0)
			goto err;
		if (n < 0) {
			struct pollfd p = { .fd = be->conn, .events = POLLIN };

			if (errno != EAGAIN ||
			    poll(&p, 1,
				 backend_wait_ms(be, BACKEND_MSG_TIMEOUT_MS)) <=
				    0)
				goto err;
			continue;
		}
		got += (size_t)n;
	}
	vhost_user_parse(m, buf, VHOST_USER_HDR_SIZE + size, NULL);
	vhost_user_msg_attach_fds(m, fds, nfds);
	return 0;

err:
	close_fds(fds, nfds);
	return -ECONNRESET;
}

static int recv_and_handle(struct backend *be)
{
	struct vhost_user_msg *m;
	struct frame_info info;
	const char *why = NULL;
	int ret;

	m = be->rx;
	vhost_user_msg_init(m);
	if (bug_on(BUG_HEADER_SPLIT_DESYNC) ||
	    bug_on(BUG_PAYLOAD_SHORT_READ_ABORT)) {
		ret = naive_recv(be, m);
		if (ret < 0) {
			end_session(be);
			goto out;
		}
		ret = backend_handle(be, m);
		goto out;
	}
	ret = frame_vhost_recv(
		be->conn, m,
		chan_deadline(backend_wait_ms(be, BACKEND_MSG_TIMEOUT_MS)),
		&why, &info);
	if (ret == -EMSGSIZE &&
	    (info.fds_dropped ||
	     ((info.hdr.flags | info.payload.flags) & CHAN_RECV_CTRUNC))) {
		if (bug_on(BUG_CTRUNC_IGNORED)) {
			ret = backend_handle(be, m);
			goto out;
		}
		/* The message is whole; the fds that did not fit are gone,
		 * so it cannot be carried out. */
		struct req rq = { .m = m,
				  .reply_fd = -1,
				  .proto = be->proto,
				  .why = "more fds than a message carries" };

		ret = refuse(be, &rq, -EMSGSIZE);
		close_fds(m->fds, m->nfds);
		m->nfds = 0;
		goto out;
	}
	if (ret == -ECONNRESET) {
		if (be->conf.verbose)
			backend_log(be, "the front-end hung up");
		end_session(be);
		goto out;
	}
	if (ret < 0) {
		backend_log(be, "receive failed (%s): %s; closing",
			    strerror(-ret), why ? why : "-");
		end_session(be);
		goto out;
	}
	ret = backend_handle(be, m);
out:
	return be->closed ? -ECONNRESET : 0;
}

/* ---- the loop ----------------------------------------------------------------- */

enum pfd_kind { PFD_CONN, PFD_WAKE, PFD_CHAN, PFD_XFER, PFD_KICK };

int backend_poll_once(struct backend *be, int64_t deadline)
{
	struct pollfd pfd[4 + BACKEND_MAX_QUEUES];
	int kind[4 + BACKEND_MAX_QUEUES], which[4 + BACKEND_MAX_QUEUES];
	bool polling = false;
	unsigned int n = 0, i;
	int timeout, ret, handled = 0;

	if (be->closed)
		return -ECONNRESET;
#define ADD(f, ev, k, w)                                               \
	do {                                                           \
		pfd[n] = (struct pollfd){ .fd = (f), .events = (ev) }; \
		kind[n] = (k);                                         \
		which[n] = (w);                                        \
		n++;                                                   \
	} while (0)
	ADD(be->conn, POLLIN, PFD_CONN, 0);
	if (be->wake_fd >= 0)
		ADD(be->wake_fd, POLLIN, PFD_WAKE, 0);
	/* The channel only carries answers to our own requests, read where
	 * they are awaited: here only a hang-up is watched for. */
	if (be->backend_fd >= 0)
		ADD(be->backend_fd, 0, PFD_CHAN, 0);
	if (be->xfer.fd >= 0 && !be->xfer.done)
		ADD(be->xfer.fd, be->xfer.load ? POLLIN : POLLOUT, PFD_XFER, 0);
	for (i = 0; i < be->nvrings; i++) {
		struct vring *vq = &be->vq[i];

		if (vq->kick_fd >= 0 && !vq->kick_dead)
			ADD(vq->kick_fd, POLLIN, PFD_KICK, (int)i);
		if ((vq->kick_polling || vq->more) && vring_runnable(be, vq))
			polling = true;
	}
#undef ADD
	timeout = chan_remaining_ms(deadline);
	if (polling && timeout > POLLING_INTERVAL_MS)
		timeout = POLLING_INTERVAL_MS;
	ret = poll(pfd, n, timeout);
	if (ret < 0)
		return errno == EINTR ? 0 : -errno;
	for (i = 0; i < be->nvrings && polling; i++) {
		struct vring *vq = &be->vq[i];

		if (vq->kick_polling || vq->more) {
			/* polling: each round stands for a kick */
			if (vq->kick_polling)
				vring_kicked(vq);
			vq->more = false;
			vring_process(be, vq);
		}
	}
	for (i = 0; i < n && ret > 0; i++) {
		short rev = pfd[i].revents;
		struct vring *vq;

		if (!rev)
			continue;
		handled = 1;
		switch (kind[i]) {
		case PFD_WAKE:
			return -EINTR;
		case PFD_KICK:
			vq = &be->vq[which[i]];
			/* "The back-end must start a ring upon receiving a
			 * kick (that is, detecting that file descriptor is
			 * readable)" */
			if (vring_drain_kick(be, vq)) {
				vq->started = true;
				vring_kicked(vq);
			}
			vring_process(be, vq);
			break;
		case PFD_XFER:
			state_xfer_step(be);
			break;
		case PFD_CHAN:
			if (rev & (POLLHUP | POLLERR | POLLNVAL))
				close_fd(&be->backend_fd);
			break;
		default:
			break;
		}
	}
	/* The message last: kicks that came with it were sent before. */
	if (pfd[0].revents) {
		handled = 1;
		recv_and_handle(be);
		/* A started ring may be processed at any time: after a
		 * message (an enable, new memory) is when work may appear. */
		for (i = 0; i < be->nvrings && !be->closed; i++)
			if (vring_runnable(be, &be->vq[i]))
				vring_process(be, &be->vq[i]);
	}
	if (!be->closed)
		try_config_change(be);
	return be->closed ? -ECONNRESET : handled;
}
