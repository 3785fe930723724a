// SPDX-License-Identifier: MIT
/*
 * state.c - the back-end's device state, saved and loaded through the
 * channel SET_DEVICE_STATE_FD hands over, and CHECK_DEVICE_STATE.
 *
 * Spec: vhost-user.rst, "Migrating back-end state", SET_DEVICE_STATE_FD
 * and CHECK_DEVICE_STATE.
 *
 * The transfer never blocks the message loop ("Front-end never closes the
 * LOAD writer: back-end must keep serving messages"): the fd is made
 * non-blocking and moved a piece at a time from the poll loop. A read
 * buffer of 64 KiB never cuts a packet of a packetized pipe (seed 002,
 * packets are at most a page), so no data is lost to short reads. Errors
 * (EXDEV from a notification pipe, seed 004; EBADF from the wrong end;
 * ENOSPC from /dev/full; EPIPE) are kept and reported by
 * CHECK_DEVICE_STATE.
 *
 * Blob: "VUCSTATE", u32 version 1, u32 device, u32 config length, u8
 * status, 3 bytes 0, the config bytes, u64 device data length, the device
 * data (blk: the disk), u64 FNV-1a of everything before it.
 */
#include "backend.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bugs.h"
#include "common/util.h"
#include "transport/chan.h"

#define STATE_MAGIC "VUCSTATE"
#define STATE_VERSION 1u
#define STATE_HDR 24u
#define STATE_READ_CHUNK 65536u
#define STATE_BUGGY_CHUNK 512u
#define STATE_CHECK_TIMEOUT_MS 2000
/* Reads per step: an fd that never runs dry (/dev/full, /dev/zero) must
 * not keep the message loop from the next request. */
#define STATE_STEP_READS 16u

/*
 * Not instrumented for coverage: one branch per byte of the blob (the blk
 * disk) tells a fuzzer nothing, and tracing it was most of a save's cost
 * (not inlined either: inlined, it would be instrumented as its caller).
 */
#if defined(__clang__)
#define STATE_NOCOV __attribute__((no_sanitize("coverage"), noinline))
#else
#define STATE_NOCOV
#endif

STATE_NOCOV static uint64_t fnv1a(const uint8_t *p, size_t len)
{
	uint64_t h = UINT64_C(0xcbf29ce484222325);
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= p[i];
		h *= UINT64_C(0x100000001b3);
	}
	return h;
}

static int put(uint8_t **buf, size_t *len, size_t *cap, const void *p, size_t n)
{
	if (*len + n > *cap) {
		size_t c = VUC_MAX(*cap * 2, *len + n + 256);
		uint8_t *b = realloc(*buf, c);

		if (!b)
			return -ENOMEM;
		*buf = b;
		*cap = c;
	}
	memcpy(*buf + *len, p, n);
	*len += n;
	return 0;
}

int state_save_blob(struct backend *be, uint8_t **out, size_t *out_len)
{
	uint32_t v32[3] = { STATE_VERSION, (uint32_t)be->conf.device,
			    be->config_len };
	uint8_t st[4] = { be->status, 0, 0, 0 };
	uint8_t *buf = NULL;
	size_t len = 0, cap = 0, mark;
	uint64_t sum, dlen = 0;
	int ret;

	ret = put(&buf, &len, &cap, STATE_MAGIC, 8);
	if (!ret)
		ret = put(&buf, &len, &cap, v32, sizeof(v32));
	if (!ret)
		ret = put(&buf, &len, &cap, st, sizeof(st));
	if (!ret)
		ret = put(&buf, &len, &cap, be->config, be->config_len);
	mark = len;
	if (!ret)
		ret = put(&buf, &len, &cap, &dlen, sizeof(dlen));
	if (!ret)
		ret = be->dev->state_save(be, &buf, &len, &cap);
	if (ret < 0) {
		free(buf);
		return ret;
	}
	dlen = len - mark - sizeof(dlen);
	memcpy(buf + mark, &dlen, sizeof(dlen));
	sum = fnv1a(buf, len);
	ret = put(&buf, &len, &cap, &sum, sizeof(sum));
	if (ret < 0) {
		free(buf);
		return ret;
	}
	*out = buf;
	*out_len = len;
	return 0;
}

int state_load_blob(struct backend *be, const uint8_t *buf, size_t len,
		    const char **why)
{
	bool lax = bug_on(BUG_STATE_SHORT_READ);
	uint32_t v32[3];
	uint64_t dlen, sum;
	size_t off;

	if (len < STATE_HDR || memcmp(buf, STATE_MAGIC, 8)) {
		*why = "no device state header";
		return -EBADMSG;
	}
	memcpy(v32, buf + 8, sizeof(v32));
	if (v32[0] != STATE_VERSION || v32[1] != (uint32_t)be->conf.device ||
	    v32[2] != be->config_len) {
		*why = "device state of another version or device";
		return -EBADMSG;
	}
	off = STATE_HDR + be->config_len;
	if (len < off + 8) {
		*why = "device state truncated";
		return -EBADMSG;
	}
	memcpy(&dlen, buf + off, sizeof(dlen));
	if (!lax) {
		if (dlen != len - off - 16) {
			*why = "device state length does not match what came";
			return -EBADMSG;
		}
		memcpy(&sum, buf + len - 8, sizeof(sum));
		if (sum != fnv1a(buf, len - 8)) {
			*why = "device state checksum mismatch";
			return -EBADMSG;
		}
	} else {
		/* The seeded bug trusts whatever came. */
		dlen = VUC_MIN(dlen, len - off - 8);
	}
	if (be->dev->state_load(be, buf + off + 8, (size_t)dlen) < 0 && !lax) {
		*why = "device data refused";
		return -EBADMSG;
	}
	be->status = buf[20];
	memcpy(be->config, buf + STATE_HDR, be->config_len);
	return 0;
}

void state_xfer_abort(struct backend *be)
{
	close_fd(&be->xfer.fd);
	free(be->xfer.buf);
	be->xfer.buf = NULL;
	be->xfer.len = be->xfer.cap = be->xfer.off = 0;
	be->xfer.done = false;
	be->xfer.error = 0;
}

int state_xfer_start(struct backend *be, int fd, bool load)
{
	int fl, ret;

	state_xfer_abort(be);
	be->xfer.fd = fd;
	be->xfer.load = load;
	be->xfer.checked = true;
	fl = fcntl(fd, F_GETFL);
	if (fl >= 0)
		fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	if (!load) {
		ret = state_save_blob(be, &be->xfer.buf, &be->xfer.len);
		if (ret < 0) {
			state_xfer_abort(be);
			return ret;
		}
		if (bug_on(BUG_STATE_SIGPIPE))
			signal(SIGPIPE, SIG_DFL);
	}
	state_xfer_step(be);
	return 0;
}

static void xfer_finish(struct backend *be, int error)
{
	if (error && bug_on(BUG_STATE_WRITE_ERROR_IGNORED) && !be->xfer.load)
		error = 0;
	if (error && !be->xfer.error) {
		be->xfer.error = error;
		backend_log(be, "device state %s failed: %s",
			    be->xfer.load ? "load" : "save", strerror(-error));
	}
	be->xfer.done = true;
	/* Closing the writing end "signals the end of transfer". */
	close_fd(&be->xfer.fd);
}

static int step_save(struct backend *be)
{
	struct backend_xfer *x = &be->xfer;

	while (x->off < x->len) {
		size_t n = VUC_MIN(x->len - x->off, (size_t)STATE_READ_CHUNK);
		ssize_t w;

		if (bug_on(BUG_STATE_SIGPIPE))
			w = write(x->fd, x->buf + x->off, n);
		else
			w = vring_nosig_write(x->fd, x->buf + x->off, n);
		if (w < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return 0;
			xfer_finish(be, -errno);
			return 1;
		}
		if (!w) {
			xfer_finish(be, -EIO);
			return 1;
		}
		x->off += (size_t)w;
	}
	xfer_finish(be, 0);
	return 1;
}

/*
 * The largest blob this device can load: what its own save writes (the
 * header, config space, device data: blk the whole disk, net none, and the
 * checksum). More than that cannot be valid, so the transfer fails at once
 * instead of buffering whatever an endless fd gives.
 */
static size_t state_max(const struct backend *be)
{
	size_t dev = be->conf.device == BACKEND_DEV_BLK ? be->conf.blk_size : 0;

	return STATE_HDR + BACKEND_CONFIG_SIZE + 16 + dev;
}

static int step_load(struct backend *be)
{
	struct backend_xfer *x = &be->xfer;
	size_t chunk = bug_on(BUG_STATE_SHORT_READ) ? STATE_BUGGY_CHUNK
						    : STATE_READ_CHUNK;
	const char *why = NULL;
	unsigned int reads;

	for (reads = 0; reads < STATE_STEP_READS; reads++) {
		ssize_t r;
		int ret;

		if (x->len > state_max(be)) {
			backend_log(be,
				    "device state load: more than the "
				    "%zu bytes a state of this device "
				    "takes",
				    state_max(be));
			xfer_finish(be, -EFBIG);
			return 1;
		}
		if (x->cap - x->len < chunk) {
			size_t c = VUC_MAX(x->cap * 2, x->len + chunk);
			uint8_t *b;

			b = realloc(x->buf, c);
			if (!b) {
				xfer_finish(be, -ENOMEM);
				return 1;
			}
			x->buf = b;
			x->cap = c;
		}
		/*
		 * The seeded bug reads 512 bytes at a time; on a packetized
		 * pipe each short read discards the rest of its packet.
		 */
		r = read(x->fd, x->buf + x->len, chunk);
		if (r < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return 0;
			xfer_finish(be, -errno);
			return 1;
		}
		if (r > 0) {
			x->len += (size_t)r;
			continue;
		}
		/* "The end of file signals the end of the transfer." */
		ret = state_load_blob(be, x->buf, x->len, &why);
		if (ret < 0)
			backend_log(be, "device state load: %s", why);
		xfer_finish(be, ret);
		return 1;
	}
	return 0; /* more later: back to the message loop */
}

int state_xfer_step(struct backend *be)
{
	if (be->xfer.fd < 0 || be->xfer.done)
		return 0;
	return be->xfer.load ? step_load(be) : step_save(be);
}

uint64_t state_xfer_check(struct backend *be)
{
	int64_t deadline =
		chan_deadline(backend_wait_ms(be, STATE_CHECK_TIMEOUT_MS));
	uint64_t status;

	if (!be->xfer.checked) {
		backend_log(be, "CHECK_DEVICE_STATE without a transfer");
		return 1;
	}
	/* The front-end has closed its end or read ours to the end by now;
	 * what is still in the pipe is finished here, within a bound. */
	while (be->xfer.fd >= 0 && !be->xfer.done) {
		struct pollfd p = { .fd = be->xfer.fd,
				    .events =
					    be->xfer.load ? POLLIN : POLLOUT };

		if (state_xfer_step(be))
			break;
		if (chan_remaining_ms(deadline) <= 0) {
			xfer_finish(be, -ETIMEDOUT);
			break;
		}
		poll(&p, 1, chan_remaining_ms(deadline));
	}
	status = be->xfer.error ? 1 : 0;
	state_xfer_abort(be);
	be->xfer.checked = false;
	return status;
}
