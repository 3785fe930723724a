/* SPDX-License-Identifier: MIT */
/*
 * vfio_user_caps.h - the VFIO_USER_VERSION capabilities JSON.
 *
 * specs/vfio-user.rst, "VFIO_USER_VERSION": the version data is "an
 * optional UTF-8 encoded JSON byte array" with a "capabilities" object:
 * max_msg_fds, max_data_xfer_size, max_dma_maps, pgsizes, twin_socket
 * {supported, fd_index}, write_multiple; plus migration {pgsize,
 * max_bitmap_size}, which QEMU, libvfio-user and rust-vmm use although the
 * spec's table omits it.
 *
 * Parsing is strict about what is there (types, signs, the NUL, trailing
 * bytes) and lenient about what is unknown: unknown keys are ignored, as
 * forward compatibility wants, but listed so that a case can report them.
 * The JSON writer emits exactly the keys a case marks present, and pastes
 * raw text in when a case wants to send a wrong type.
 */
#ifndef VUC_WIRE_VFIO_USER_CAPS_H
#define VUC_WIRE_VFIO_USER_CAPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wire/vfio_user.h"

/* Keys of a capability set: which were parsed, or which to write. */
enum vfio_user_cap_key {
	VFIO_USER_CAP_OBJECT = 1u << 0, /* "capabilities" itself */
	VFIO_USER_CAP_MAX_MSG_FDS = 1u << 1,
	VFIO_USER_CAP_MAX_DATA_XFER_SIZE = 1u << 2,
	VFIO_USER_CAP_MAX_DMA_MAPS = 1u << 3,
	VFIO_USER_CAP_PGSIZES = 1u << 4,
	VFIO_USER_CAP_WRITE_MULTIPLE = 1u << 5,
	VFIO_USER_CAP_TWIN_SOCKET = 1u << 6, /* the twin_socket object */
	VFIO_USER_CAP_TWIN_SUPPORTED = 1u << 7,
	VFIO_USER_CAP_TWIN_FD_INDEX = 1u << 8,
	VFIO_USER_CAP_MIGRATION = 1u << 9, /* the migration object */
	VFIO_USER_CAP_MIGRATION_PGSIZE = 1u << 10,
	VFIO_USER_CAP_MIGRATION_MAX_BITMAP_SIZE = 1u << 11,
};

#define VFIO_USER_CAPS_UNKNOWN_MAX 8
#define VFIO_USER_CAPS_NAME_MAX 48

/*
 * A capability set. Fields hold the spec's defaults unless @present says
 * the JSON had the key. Numbers are kept at full width so that a value
 * like 2^32 is never silently truncated.
 */
struct vfio_user_caps {
	unsigned int present;		    /* enum vfio_user_cap_key bits */
	uint64_t max_msg_fds;		    /* default 1 */
	uint64_t max_data_xfer_size;	    /* default 1048576 */
	uint64_t max_dma_maps;		    /* default 65535 */
	uint64_t pgsizes;		    /* default 4096 */
	bool write_multiple;		    /* default false */
	bool twin_socket_supported;	    /* default false */
	uint64_t twin_socket_fd_index;	    /* only if present */
	uint64_t migration_pgsize;	    /* de-facto default 4096 */
	uint64_t migration_max_bitmap_size; /* de-facto default 256 MiB */
	/* Keys nobody defined ("capabilities.foo", "twin_socket.bar", or a
	 * top-level "baz"): ignored, counted, the first few named. */
	unsigned int n_unknown;
	char unknown[VFIO_USER_CAPS_UNKNOWN_MAX][VFIO_USER_CAPS_NAME_MAX];
};

/**
 * vfio_user_caps_init() - The spec's defaults, nothing present
 */
void vfio_user_caps_init(struct vfio_user_caps *caps);

/**
 * vfio_user_caps_parse() - Parse VERSION data (the bytes after major and
 * minor) into @caps
 * @data:	the version data, its terminating NUL included
 * @len:	bytes of @data; 0 means "no version data": all defaults
 *
 * Refused: no NUL, bytes after the NUL, text that is not UTF-8 JSON, a
 * value after the JSON, a top level that is not an object,
 * "capabilities" / "twin_socket" / "migration" that are not objects,
 * numbers that are not non-negative integers, booleans that are not
 * booleans. Unknown keys are not errors (see struct vfio_user_caps).
 * On failure @caps holds the defaults again.
 *
 * Return: 0, -EBADMSG with *@why, -EMSGSIZE if @len is above INT_MAX,
 * -ENOMEM.
 */
int vfio_user_caps_parse(struct vfio_user_caps *caps, const void *data,
			 size_t len, const char **why);

/**
 * vfio_user_caps_from_version() - vfio_user_caps_parse() of a VERSION
 * request's or reply's version data
 *
 * Return: as vfio_user_caps_parse(), or -EBADMSG if @msg is no VERSION.
 */
int vfio_user_caps_from_version(struct vfio_user_caps *caps,
				const struct vfio_user_msg *msg,
				const char **why);

/**
 * vfio_user_caps_check() - Values that parse but cannot work
 * @is_reply:	@caps came in the server's reply
 *
 * max_data_xfer_size 0, pgsizes 0, a migration pgsize that is not a power
 * of two, and twin_socket.fd_index in a request ("Optional, only valid in
 * the reply message").
 *
 * Return: 0 or -EBADMSG with *@why.
 */
int vfio_user_caps_check(const struct vfio_user_caps *caps, bool is_reply,
			 const char **why);

/**
 * vfio_user_caps_check_reply() - The server's capabilities against the
 * client's proposal
 * @nfds:	fds that came with the VERSION reply
 *
 * "The capability list must be a subset of those proposed": write_multiple
 * and twin_socket.supported may only be true if proposed true. Twin
 * socket: "If twin_socket.supported is true and twin_socket.fd_index is
 * present and refers to a valid file descriptor, twin-socket mode
 * negotiation has succeeded ... Otherwise, the reply from the server is
 * inconsistent." fds that no capability explains are refused too.
 *
 * Return: 1 if twin-socket mode was set up (the socket is fd
 * twin_socket_fd_index), 0 if not, -EPROTO or -EBADMSG with *@why.
 */
int vfio_user_caps_check_reply(const struct vfio_user_caps *proposed,
			       const struct vfio_user_caps *reply,
			       unsigned int nfds, const char **why);

/**
 * vfio_user_caps_to_json() - Write @caps as JSON, NUL-terminated
 * @extra:	NULL, or raw text pasted verbatim inside the "capabilities"
 *		object after the keys written, e.g. "\"max_msg_fds\":\"foo\"",
 *		so that a case can send any type, even broken JSON
 *
 * Writes exactly the keys in caps->present: {} when nothing is present,
 * else {"capabilities":{...}}.
 *
 * Return: the length written (NUL excluded), -ENOSPC if @cap is too
 * small, -ENOMEM.
 */
int vfio_user_caps_to_json(const struct vfio_user_caps *caps, const char *extra,
			   char *buf, size_t cap);

#endif /* VUC_WIRE_VFIO_USER_CAPS_H */
