// SPDX-License-Identifier: MIT
/*
 * vfio_user_caps.c - the VFIO_USER_VERSION capabilities JSON, with json-c.
 * See vfio_user_caps.h; spec: specs/vfio-user.rst, "VFIO_USER_VERSION".
 *
 * Every json-c object made here is released on every path: parse holds a
 * tokener and a root, the writer a root; each function has one exit.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "common/util.h"
#include "wire/vfio_user_caps.h"
#include "wire/wire_fmt.h"

#define WHY_LEN 200
static _Thread_local char why_buf[WHY_LEN];

VUC_PRINTF(1, 2) static const char *whyf(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	wire_vfmt(why_buf, sizeof(why_buf), fmt, ap);
	va_end(ap);
	return why_buf;
}

static int fail(const char **why, int err, const char *reason)
{
	if (why)
		*why = reason;
	return err;
}

void vfio_user_caps_init(struct vfio_user_caps *caps)
{
	memset(caps, 0, sizeof(*caps));
	caps->max_msg_fds = VFIO_USER_DEFAULT_MAX_MSG_FDS;
	caps->max_data_xfer_size = VFIO_USER_DEFAULT_MAX_DATA_XFER_SIZE;
	caps->max_dma_maps = VFIO_USER_DEFAULT_MAX_DMA_MAPS;
	caps->pgsizes = VFIO_USER_DEFAULT_PGSIZES;
	caps->migration_pgsize = VFIO_USER_DEFAULT_MIGRATION_PGSIZE;
	caps->migration_max_bitmap_size = VFIO_USER_DEFAULT_MAX_BITMAP_SIZE;
}

/* ------------------------------------------------------------------ */
/* Parse                                                               */
/* ------------------------------------------------------------------ */

static void note_unknown(struct vfio_user_caps *caps, const char *prefix,
			 const char *key)
{
	if (caps->n_unknown < VFIO_USER_CAPS_UNKNOWN_MAX)
		snprintf(caps->unknown[caps->n_unknown],
			 VFIO_USER_CAPS_NAME_MAX, "%s%s", prefix, key);
	caps->n_unknown++;
}

/* A JSON "number" that must be a non-negative integer. */
static int get_uint(struct json_object *val, const char *name, uint64_t *out,
		    const char **why)
{
	enum json_type t = json_object_get_type(val);

	if (t == json_type_double)
		return fail(why, -EBADMSG,
			    whyf("%s is %s, not an integer", name,
				 json_object_to_json_string_ext(
					 val, JSON_C_TO_STRING_PLAIN)));
	if (t != json_type_int)
		return fail(why, -EBADMSG,
			    whyf("%s is a JSON %s, not a number", name,
				 json_type_to_name(t)));
	if (json_object_get_int64(val) < 0)
		return fail(why, -EBADMSG,
			    whyf("%s is negative (%lld)", name,
				 (long long)json_object_get_int64(val)));
	*out = json_object_get_uint64(val);
	/* json-c clamps anything above 2^64 - 1 to it: refuse the edge rather
	 * than take a number that was not sent */
	if (*out == UINT64_MAX)
		return fail(why, -EBADMSG,
			    whyf("%s is 2^64 - 1 or more: out of range", name));
	return 0;
}

static int get_bool(struct json_object *val, const char *name, bool *out,
		    const char **why)
{
	enum json_type t = json_object_get_type(val);

	if (t != json_type_boolean)
		return fail(why, -EBADMSG,
			    whyf("%s is a JSON %s, not a boolean", name,
				 json_type_to_name(t)));
	*out = json_object_get_boolean(val);
	return 0;
}

static int want_object(struct json_object *val, const char *name,
		       const char **why)
{
	enum json_type t = json_object_get_type(val);

	if (t != json_type_object)
		return fail(why, -EBADMSG,
			    whyf("%s is a JSON %s, not an object", name,
				 json_type_to_name(t)));
	return 0;
}

static int parse_twin_socket(struct vfio_user_caps *caps,
			     struct json_object *obj, const char **why)
{
	struct json_object_iterator it = json_object_iter_begin(obj);
	struct json_object_iterator end = json_object_iter_end(obj);
	struct json_object *val;
	const char *key;
	int ret = 0;

	caps->present |= VFIO_USER_CAP_TWIN_SOCKET;
	for (; !json_object_iter_equal(&it, &end) && !ret;
	     json_object_iter_next(&it)) {
		key = json_object_iter_peek_name(&it);
		val = json_object_iter_peek_value(&it);
		if (!strcmp(key, "supported")) {
			ret = get_bool(val, "twin_socket.supported",
				       &caps->twin_socket_supported, why);
			caps->present |= VFIO_USER_CAP_TWIN_SUPPORTED;
		} else if (!strcmp(key, "fd_index")) {
			ret = get_uint(val, "twin_socket.fd_index",
				       &caps->twin_socket_fd_index, why);
			caps->present |= VFIO_USER_CAP_TWIN_FD_INDEX;
		} else {
			note_unknown(caps, "twin_socket.", key);
		}
	}
	return ret;
}

static int parse_migration(struct vfio_user_caps *caps, struct json_object *obj,
			   const char **why)
{
	struct json_object_iterator it = json_object_iter_begin(obj);
	struct json_object_iterator end = json_object_iter_end(obj);
	struct json_object *val;
	const char *key;
	int ret = 0;

	caps->present |= VFIO_USER_CAP_MIGRATION;
	for (; !json_object_iter_equal(&it, &end) && !ret;
	     json_object_iter_next(&it)) {
		key = json_object_iter_peek_name(&it);
		val = json_object_iter_peek_value(&it);
		if (!strcmp(key, "pgsize")) {
			ret = get_uint(val, "migration.pgsize",
				       &caps->migration_pgsize, why);
			caps->present |= VFIO_USER_CAP_MIGRATION_PGSIZE;
		} else if (!strcmp(key, "max_bitmap_size")) {
			ret = get_uint(val, "migration.max_bitmap_size",
				       &caps->migration_max_bitmap_size, why);
			caps->present |=
				VFIO_USER_CAP_MIGRATION_MAX_BITMAP_SIZE;
		} else {
			note_unknown(caps, "migration.", key);
		}
	}
	return ret;
}

/* The number-valued capabilities: name, presence bit, field. */
struct num_cap {
	const char *name;
	unsigned int bit;
	size_t off;
};

static const struct num_cap num_caps[] = {
	{ "max_msg_fds", VFIO_USER_CAP_MAX_MSG_FDS,
	  offsetof(struct vfio_user_caps, max_msg_fds) },
	{ "max_data_xfer_size", VFIO_USER_CAP_MAX_DATA_XFER_SIZE,
	  offsetof(struct vfio_user_caps, max_data_xfer_size) },
	{ "max_dma_maps", VFIO_USER_CAP_MAX_DMA_MAPS,
	  offsetof(struct vfio_user_caps, max_dma_maps) },
	{ "pgsizes", VFIO_USER_CAP_PGSIZES,
	  offsetof(struct vfio_user_caps, pgsizes) },
};

static int parse_capabilities(struct vfio_user_caps *caps,
			      struct json_object *obj, const char **why)
{
	struct json_object_iterator it = json_object_iter_begin(obj);
	struct json_object_iterator end = json_object_iter_end(obj);
	struct json_object *val;
	const char *key;
	size_t i;
	int ret = 0;

	caps->present |= VFIO_USER_CAP_OBJECT;
	for (; !json_object_iter_equal(&it, &end) && !ret;
	     json_object_iter_next(&it)) {
		key = json_object_iter_peek_name(&it);
		val = json_object_iter_peek_value(&it);
		for (i = 0; i < ARRAY_SIZE(num_caps); i++)
			if (!strcmp(key, num_caps[i].name))
				break;
		if (i < ARRAY_SIZE(num_caps)) {
			ret = get_uint(
				val, num_caps[i].name,
				(uint64_t *)((char *)caps + num_caps[i].off),
				why);
			caps->present |= num_caps[i].bit;
		} else if (!strcmp(key, "write_multiple")) {
			ret = get_bool(val, "write_multiple",
				       &caps->write_multiple, why);
			caps->present |= VFIO_USER_CAP_WRITE_MULTIPLE;
		} else if (!strcmp(key, "twin_socket")) {
			ret = want_object(val, "twin_socket", why);
			if (!ret)
				ret = parse_twin_socket(caps, val, why);
		} else if (!strcmp(key, "migration")) {
			ret = want_object(val, "migration", why);
			if (!ret)
				ret = parse_migration(caps, val, why);
		} else {
			note_unknown(caps, "capabilities.", key);
		}
	}
	return ret;
}

static int parse_root(struct vfio_user_caps *caps, struct json_object *root,
		      const char **why)
{
	struct json_object_iterator it, end;
	struct json_object *val;
	const char *key;
	int ret = 0;

	ret = want_object(root, "the version data", why);
	if (ret < 0)
		return ret;
	it = json_object_iter_begin(root);
	end = json_object_iter_end(root);
	for (; !json_object_iter_equal(&it, &end) && !ret;
	     json_object_iter_next(&it)) {
		key = json_object_iter_peek_name(&it);
		val = json_object_iter_peek_value(&it);
		if (!strcmp(key, "capabilities")) {
			ret = want_object(val, "capabilities", why);
			if (!ret)
				ret = parse_capabilities(caps, val, why);
		} else {
			note_unknown(caps, "", key);
		}
	}
	return ret;
}

int vfio_user_caps_parse(struct vfio_user_caps *caps, const void *data,
			 size_t len, const char **why)
{
	const char *text = data;
	struct json_tokener *tok = NULL;
	struct json_object *root = NULL;
	enum json_tokener_error jerr;
	const char *nul;
	size_t end;
	int ret = 0;

	vfio_user_caps_init(caps);
	if (!len)
		return 0;
	/* "variable (including terminating NUL)" */
	nul = memchr(text, '\0', len);
	if (!nul)
		return fail(why, -EBADMSG,
			    "version data without a terminating NUL");
	if (nul != text + len - 1)
		return fail(why, -EBADMSG,
			    whyf("%zu bytes after the NUL that ends the JSON",
				 (size_t)(text + len - 1 - nul)));
	if (len - 1 > INT_MAX)
		return fail(why, -EMSGSIZE, "version data above INT_MAX");
	tok = json_tokener_new();
	if (!tok) {
		ret = -ENOMEM;
		goto out;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
					    JSON_TOKENER_VALIDATE_UTF8);
	root = json_tokener_parse_ex(tok, text, (int)(len - 1));
	jerr = json_tokener_get_error(tok);
	if (jerr == json_tokener_continue) {
		ret = fail(why, -EBADMSG,
			   len == 1 ? "version data is an empty string"
				    : "version data: the JSON ends early");
		goto out;
	}
	if (jerr != json_tokener_success) {
		ret = fail(why, -EBADMSG,
			   whyf("version data is not JSON: %s at byte %zu",
				json_tokener_error_desc(jerr),
				json_tokener_get_parse_end(tok)));
		goto out;
	}
	/* strict mode already refuses most; catch anything after the value */
	for (end = json_tokener_get_parse_end(tok); end < len - 1; end++)
		if (!strchr(" \t\r\n", text[end])) {
			ret = fail(why, -EBADMSG,
				   whyf("bytes after the JSON value, at %zu",
					end));
			goto out;
		}
	ret = parse_root(caps, root, why);
out:
	json_object_put(root);
	if (tok)
		json_tokener_free(tok);
	if (ret < 0)
		vfio_user_caps_init(caps);
	return ret;
}

int vfio_user_caps_from_version(struct vfio_user_caps *caps,
				const struct vfio_user_msg *msg,
				const char **why)
{
	const size_t head = sizeof(struct vfio_user_version);

	if (msg->hdr.command != VFIO_USER_VERSION || msg->payload_len < head ||
	    !msg->payload) {
		vfio_user_caps_init(caps);
		return fail(why, -EBADMSG,
			    "not a VFIO_USER_VERSION message with its 4 "
			    "bytes of version");
	}
	return vfio_user_caps_parse(caps, msg->payload + head,
				    msg->payload_len - head, why);
}

/* ------------------------------------------------------------------ */
/* Judge                                                               */
/* ------------------------------------------------------------------ */

int vfio_user_caps_check(const struct vfio_user_caps *caps, bool is_reply,
			 const char **why)
{
	uint64_t pg = caps->migration_pgsize;

	if (!caps->max_data_xfer_size)
		return fail(why, -EBADMSG,
			    "max_data_xfer_size 0 allows no data transfer");
	if (!caps->pgsizes)
		return fail(why, -EBADMSG, "pgsizes 0 names no page size");
	if (!pg || (pg & (pg - 1)))
		return fail(why, -EBADMSG,
			    whyf("migration.pgsize %llu is not a power of two",
				 (unsigned long long)pg));
	/* fd_index: "Optional, only valid in the reply message." */
	if (!is_reply && (caps->present & VFIO_USER_CAP_TWIN_FD_INDEX))
		return fail(why, -EBADMSG,
			    "twin_socket.fd_index in a request: only valid in "
			    "the reply");
	return 0;
}

int vfio_user_caps_check_reply(const struct vfio_user_caps *proposed,
			       const struct vfio_user_caps *reply,
			       unsigned int nfds, const char **why)
{
	/* "The capability list must be a subset of those proposed." */
	if (reply->write_multiple && !proposed->write_multiple)
		return fail(why, -EPROTO,
			    "write_multiple in the reply but not proposed");
	/* "If and only if the client has indicated support for twin-socket
	 * mode ... the server may optionally set up a separate command
	 * channel" */
	if (reply->twin_socket_supported && !proposed->twin_socket_supported)
		return fail(why, -EPROTO,
			    "twin_socket.supported in the reply but not "
			    "proposed");
	if (!reply->twin_socket_supported) {
		if (nfds)
			return fail(why, -EBADMSG,
				    whyf("%u fds in a VERSION reply without "
					 "twin-socket mode",
					 nfds));
		return 0;
	}
	if (!(reply->present & VFIO_USER_CAP_TWIN_FD_INDEX))
		return fail(why, -EPROTO,
			    "twin_socket.supported without fd_index: the "
			    "reply is inconsistent");
	if (reply->twin_socket_fd_index >= nfds)
		return fail(
			why, -EPROTO,
			whyf("twin_socket.fd_index %llu but %u fds came",
			     (unsigned long long)reply->twin_socket_fd_index,
			     nfds));
	if (nfds > 1)
		return fail(why, -EBADMSG,
			    whyf("%u fds in a VERSION reply; the twin socket "
				 "is the only one",
				 nfds));
	return 1;
}

/* ------------------------------------------------------------------ */
/* Write                                                               */
/* ------------------------------------------------------------------ */

/* Add @key = @val to @obj; json-c takes @val, also on failure. */
static int add(struct json_object *obj, const char *key,
	       struct json_object *val)
{
	if (!val)
		return -ENOMEM;
	if (json_object_object_add(obj, key, val)) {
		json_object_put(val);
		return -ENOMEM;
	}
	return 0;
}

static int add_uint(struct json_object *obj, const char *key, uint64_t v)
{
	return add(obj, key, json_object_new_uint64(v));
}

static int build_twin(const struct vfio_user_caps *caps,
		      struct json_object *obj)
{
	int ret = 0;

	if (caps->present & VFIO_USER_CAP_TWIN_SUPPORTED)
		ret = add(obj, "supported",
			  json_object_new_boolean(caps->twin_socket_supported));
	if (!ret && (caps->present & VFIO_USER_CAP_TWIN_FD_INDEX))
		ret = add_uint(obj, "fd_index", caps->twin_socket_fd_index);
	return ret;
}

static int build_migration(const struct vfio_user_caps *caps,
			   struct json_object *obj)
{
	int ret = 0;

	if (caps->present & VFIO_USER_CAP_MIGRATION_PGSIZE)
		ret = add_uint(obj, "pgsize", caps->migration_pgsize);
	if (!ret && (caps->present & VFIO_USER_CAP_MIGRATION_MAX_BITMAP_SIZE))
		ret = add_uint(obj, "max_bitmap_size",
			       caps->migration_max_bitmap_size);
	return ret;
}

static int build_capabilities(const struct vfio_user_caps *caps,
			      struct json_object *obj)
{
	const unsigned int twin = VFIO_USER_CAP_TWIN_SOCKET |
				  VFIO_USER_CAP_TWIN_SUPPORTED |
				  VFIO_USER_CAP_TWIN_FD_INDEX;
	const unsigned int mig = VFIO_USER_CAP_MIGRATION |
				 VFIO_USER_CAP_MIGRATION_PGSIZE |
				 VFIO_USER_CAP_MIGRATION_MAX_BITMAP_SIZE;
	struct json_object *sub;
	size_t i;
	int ret = 0;

	for (i = 0; i < ARRAY_SIZE(num_caps) && !ret; i++)
		if (caps->present & num_caps[i].bit)
			ret = add_uint(obj, num_caps[i].name,
				       *(const uint64_t *)((const char *)caps +
							   num_caps[i].off));
	if (!ret && (caps->present & VFIO_USER_CAP_WRITE_MULTIPLE))
		ret = add(obj, "write_multiple",
			  json_object_new_boolean(caps->write_multiple));
	if (!ret && (caps->present & twin)) {
		sub = json_object_new_object();
		ret = add(obj, "twin_socket", sub);
		if (!ret)
			ret = build_twin(caps, sub);
	}
	if (!ret && (caps->present & mig)) {
		sub = json_object_new_object();
		ret = add(obj, "migration", sub);
		if (!ret)
			ret = build_migration(caps, sub);
	}
	return ret;
}

int vfio_user_caps_to_json(const struct vfio_user_caps *caps, const char *extra,
			   char *buf, size_t cap)
{
	struct json_object *root, *obj;
	const char *s;
	size_t len, elen = extra ? strlen(extra) : 0, at;
	bool comma;
	int ret;

	root = json_object_new_object();
	if (!root)
		return -ENOMEM;
	if (caps->present || elen) {
		obj = json_object_new_object();
		ret = add(root, "capabilities", obj);
		if (!ret)
			ret = build_capabilities(caps, obj);
		if (ret < 0)
			goto out;
	}
	s = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN);
	if (!s) {
		ret = -ENOMEM;
		goto out;
	}
	len = strlen(s);
	/* "{"capabilities":{...}}": @extra goes before the inner '}' */
	comma = elen && len >= 3 && s[len - 3] != '{';
	if (len + elen + comma + 1 > cap || len + elen + comma > INT_MAX) {
		ret = -ENOSPC;
		goto out;
	}
	if (!elen) {
		memcpy(buf, s, len + 1);
		ret = (int)len;
		goto out;
	}
	at = len - 2;
	memcpy(buf, s, at);
	if (comma)
		buf[at++] = ',';
	memcpy(buf + at, extra, elen);
	at += elen;
	memcpy(buf + at, "}}", 3);
	ret = (int)(at + 2);
out:
	json_object_put(root);
	return ret;
}
