/* SPDX-License-Identifier: MIT */
/*
 * bugs.h - the seeded bugs of the reference vhost-user back-end.
 *
 * Each is a realistic defect taken from the bug classes of
 * research/vhost-user-cases.md, switched on with --bug NAME. Each is
 * observable from outside the process: a crash, a hang, a wrong or missing
 * reply, a leaked fd, or wrong data in guest memory. The conformance cases
 * prove themselves by catching every one (DESIGN.md section 9).
 */
#ifndef VUC_VHOST_BUGS_H
#define VUC_VHOST_BUGS_H

#include <stdbool.h>
#include <stdio.h>

enum bug {
	BUG_FD_LEAK_NO_FD_MSG,
	BUG_FD_LEAK_VRING_ERROR,
	BUG_VRING_INDEX_UNCHECKED,
	BUG_NO_ACK_MEM_TABLE,
	BUG_ACK_SUCCESS_ON_ERROR,
	BUG_HEADER_SPLIT_DESYNC,
	BUG_PAYLOAD_SHORT_READ_ABORT,
	BUG_RING_LOOP_HANG,
	BUG_MEM_TABLE_FD_MISMATCH,
	BUG_GET_VRING_BASE_AVAIL_IDX,
	BUG_PROCESS_WHILE_DISABLED,
	BUG_NO_STOP_ON_GET_VRING_BASE,
	BUG_CALL_EVENTFD_ONLY,
	BUG_KICK_SELF_WRITE_PANIC,
	BUG_STATE_SHORT_READ,
	BUG_STATE_SIGPIPE,
	BUG_STATE_WRITE_ERROR_IGNORED,
	BUG_INFLIGHT_LEAK,
	BUG_INFLIGHT_NUMQ_UNCHECKED,
	BUG_LOG_MAP_FAILED,
	BUG_MEM_PAST_EOF,
	BUG_SET_FEATURES_UNCHECKED,
	BUG_INBAND_WITHOUT_REPLY_ACK,
	BUG_NO_FEATURE_GATING,
	BUG_VRING_NUM_UNCHECKED,
	BUG_UNSOLICITED_REPLY,
	BUG_REPLY_FLAG_MISSING,
	BUG_CONFIG_WHOLE_STRUCT,
	BUG_SET_CONFIG_READONLY,
	BUG_REM_MEM_REG_FD_LEAK,
	BUG_CTRUNC_IGNORED,
	BUG_BLK_NO_BOUNDS,
	BUG_USED_LEN_TOTAL,
	BUG_INFLIGHT_NOT_RESUBMITTED,
	BUG_INFLIGHT_NOT_MARKED,
	BUG_INFLIGHT_NOT_CLEARED,
	BUG_COUNT
};

/**
 * bug_set() - Switch a seeded bug on by its name
 * Return: 0, or -ENOENT for a name that is not in the table.
 */
int bug_set(const char *name);

/** bug_clear_all() - Switch every seeded bug off (tests). */
void bug_clear_all(void);

/** bug_on() - Return: whether seeded bug @b is switched on. */
bool bug_on(enum bug b);

/** bug_name() - Return: the --bug name of @b ("?" when out of range). */
const char *bug_name(enum bug b);

/** bug_list() - Write "NAME  description" per line to @out. */
void bug_list(FILE *out);

#endif /* VUC_VHOST_BUGS_H */
