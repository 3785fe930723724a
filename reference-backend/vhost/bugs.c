// SPDX-License-Identifier: MIT
/*
 * bugs.c - the seeded-bug table: names, what each does, and the switches.
 */
#include "bugs.h"

#include <errno.h>
#include <string.h>

#include "common/util.h"

struct bug_info {
	const char *name;
	const char *desc;
};

/* Indexed by enum bug. The text says what makes each one observable. */
static const struct bug_info bug_table[BUG_COUNT] = {
	[BUG_FD_LEAK_NO_FD_MSG] = { "fd-leak-no-fd-msg",
				    "fds attached to a request that takes none "
				    "are rejected but "
				    "never closed (CVE-2019-14818 class): the "
				    "fd count grows" },
	[BUG_FD_LEAK_VRING_ERROR] = { "fd-leak-vring-error",
				      "SET_VRING_KICK/CALL/ERR refused for a "
				      "bad index or fd kind "
				      "keeps the fd open (DPDK bc900f86aa "
				      "class): fd count grows" },
	[BUG_VRING_INDEX_UNCHECKED] = { "vring-index-unchecked",
					"SET_VRING_NUM/ADDR/BASE/ENABLE and "
					"GET_VRING_BASE index is "
					"not checked against the queue count "
					"(CVE-2020-10723, "
					"rust-vmm #211): out-of-range index "
					"crashes (SIGSEGV)" },
	[BUG_NO_ACK_MEM_TABLE] = { "no-ack-mem-table",
				   "SET_MEM_TABLE is never answered, even with "
				   "need_reply and "
				   "REPLY_ACK negotiated: the front-end times "
				   "out" },
	[BUG_ACK_SUCCESS_ON_ERROR] = { "ack-success-on-error",
				       "a request refused by a handler is "
				       "still acked with 0 "
				       "(success) when need_reply is set" },
	[BUG_HEADER_SPLIT_DESYNC] = { "header-split-desync",
				      "the header is read with one recvmsg() "
				      "whose length is not "
				      "checked (libvhost-user's default "
				      "reader): a header split "
				      "over two writes is misparsed and the "
				      "stream desyncs" },
	[BUG_PAYLOAD_SHORT_READ_ABORT] = { "payload-short-read-abort",
					   "the payload is read with one "
					   "read() and a short read "
					   "aborts the process "
					   "(libvhost-user's assert(rc == "
					   "size)): a "
					   "payload sent after a pause crashes "
					   "it (SIGABRT)" },
	[BUG_RING_LOOP_HANG] = { "ring-loop-hang",
				 "split-ring chains are walked without a "
				 "bound: a descriptor "
				 "whose next is itself hangs the back-end (no "
				 "more replies)" },
	[BUG_MEM_TABLE_FD_MISMATCH] = { "mem-table-fd-mismatch",
					"SET_MEM_TABLE does not compare "
					"nregions with the fds that "
					"came: regions without an fd are "
					"skipped, extra fds leak, "
					"and the table is acked 0" },
	[BUG_GET_VRING_BASE_AVAIL_IDX] = { "get-vring-base-avail-idx",
					   "GET_VRING_BASE returns the "
					   "driver's avail->idx from guest "
					   "memory, not the next entry the "
					   "back-end will process: "
					   "buffers published but not kicked "
					   "are reported as done" },
	[BUG_PROCESS_WHILE_DISABLED] = { "process-while-disabled",
					 "a started but disabled ring is "
					 "processed as if enabled: a "
					 "disabled RX queue receives frames, a "
					 "disabled blk queue "
					 "executes requests" },
	[BUG_NO_STOP_ON_GET_VRING_BASE] = { "no-stop-on-get-vring-base",
					    "GET_VRING_BASE does not stop the "
					    "ring: it is still "
					    "processed afterwards (guest "
					    "memory written while the "
					    "device should be suspended)" },
	[BUG_CALL_EVENTFD_ONLY] = { "call-eventfd-only",
				    "SET_VRING_CALL refuses anything but an "
				    "eventfd, so the "
				    "pipe fallback of seed 000 (write end as "
				    "call fd) fails" },
	[BUG_KICK_SELF_WRITE_PANIC] = { "kick-self-write-panic",
					"SET_VRING_KICK writes to the new kick "
					"fd to wake itself and "
					"aborts when that fails: a pipe read "
					"end as kick fd (seed "
					"000) crashes it (SIGABRT)" },
	[BUG_STATE_SHORT_READ] = { "state-short-read",
				   "device state is loaded with 512-byte reads "
				   "and not "
				   "verified: a packetized pipe (seed 002) "
				   "silently loses data, "
				   "yet CHECK_DEVICE_STATE says 0" },
	[BUG_STATE_SIGPIPE] = { "state-sigpipe",
				"SIGPIPE is not ignored while the state is "
				"saved: a "
				"front-end that closes its read end early "
				"kills the process "
				"(SIGPIPE)" },
	[BUG_STATE_WRITE_ERROR_IGNORED] = { "state-write-error-ignored",
					    "errors writing the saved state "
					    "(EXDEV from a notification "
					    "pipe, seed 004; EBADF; ENOSPC) "
					    "are ignored and "
					    "CHECK_DEVICE_STATE says 0" },
	[BUG_INFLIGHT_LEAK] = { "inflight-leak", "GET_INFLIGHT_FD never "
						 "releases the previous buffer "
						 "(CVE-2020-10726): one fd and "
						 "one mapping leak per call" },
	[BUG_INFLIGHT_NUMQ_UNCHECKED] = { "inflight-numq-unchecked",
					  "SET_INFLIGHT_FD num_queues is not "
					  "checked against the queue "
					  "count (CVE-2021-3839 class): too "
					  "many queues crash it "
					  "(SIGSEGV)" },
	[BUG_LOG_MAP_FAILED] = { "log-map-failed",
				 "SET_LOG_BASE acks 0 when the log cannot be "
				 "mapped and keeps "
				 "MAP_FAILED as the log: the first dirty page "
				 "written crashes "
				 "it (SIGSEGV)" },
	[BUG_MEM_PAST_EOF] = { "mem-past-eof",
			       "memory regions are mapped without checking the "
			       "file is "
			       "long enough: a region past the end of its "
			       "memfd is acked, "
			       "the first access to it crashes (SIGBUS)" },
	[BUG_SET_FEATURES_UNCHECKED] = { "set-features-unchecked",
					 "SET_FEATURES accepts bits that "
					 "GET_FEATURES never offered" },
	[BUG_INBAND_WITHOUT_REPLY_ACK] = { "inband-without-reply-ack",
					   "SET_PROTOCOL_FEATURES accepts "
					   "INBAND_NOTIFICATIONS without "
					   "BACKEND_REQ and REPLY_ACK instead "
					   "of closing the connection" },
	[BUG_NO_FEATURE_GATING] = { "no-feature-gating",
				    "requests gated on a protocol feature that "
				    "was not "
				    "negotiated are processed anyway "
				    "(GET_QUEUE_NUM without MQ, "
				    "GET_CONFIG without CONFIG, ...)" },
	[BUG_VRING_NUM_UNCHECKED] = { "vring-num-unchecked",
				      "SET_VRING_NUM accepts 0, sizes that are "
				      "not a power of two "
				      "and sizes above 32768, and acks them "
				      "0" },
	[BUG_UNSOLICITED_REPLY] = { "unsolicited-reply",
				    "SET_VRING_CALL probes the new fd with a "
				    "write and, when it "
				    "fails, sends a reply nobody asked for "
				    "(libvhost-user S8)" },
	[BUG_REPLY_FLAG_MISSING] = { "reply-flag-missing",
				     "replies are sent without the reply flag "
				     "(bit 2)" },
	[BUG_CONFIG_WHOLE_STRUCT] = { "config-whole-struct",
				      "GET_CONFIG ignores offset and size and "
				      "returns the whole "
				      "config space (vhost-device #150, "
				      "cloud-hypervisor #7615)" },
	[BUG_SET_CONFIG_READONLY] = { "set-config-readonly",
				      "SET_CONFIG writes read-only fields "
				      "without the live "
				      "migration flag, and acks 0" },
	[BUG_REM_MEM_REG_FD_LEAK] = { "rem-mem-reg-fd-leak",
				      "an fd sent with REM_MEM_REG is never "
				      "closed (QEMU "
				      "fa3d5483f0): the fd count grows" },
	[BUG_CTRUNC_IGNORED] = { "ctrunc-ignored",
				 "a message that came with more fds than fit "
				 "(the rest closed "
				 "by the kernel or the reader) is processed as "
				 "if whole "
				 "(DPDK 218daf1664): SET_MEM_TABLE with 9 fds "
				 "is acked 0" },
	[BUG_BLK_NO_BOUNDS] = { "blk-no-bounds",
				"virtio-blk read and write sectors are not "
				"checked against "
				"the capacity: a request past the end crashes "
				"(SIGSEGV)" },
	[BUG_USED_LEN_TOTAL] = { "used-len-total",
				 "the used length is the whole chain (readable "
				 "+ writable "
				 "bytes), not the bytes written: TX and blk "
				 "write requests "
				 "report lengths above their writable size" },
	[BUG_INFLIGHT_NOT_RESUBMITTED] = { "inflight-not-resubmitted",
					   "after a reconnect with "
					   "SET_INFLIGHT_FD the heads still "
					   "marked "
					   "inflight are not resubmitted and "
					   "the avail ring resumes at "
					   "SET_VRING_BASE (the in-order "
					   "assumption): requests completed "
					   "out of order are used twice, the "
					   "others never" },
	[BUG_INFLIGHT_NOT_MARKED] = { "inflight-not-marked",
				      "popped heads are never marked inflight "
				      "in the region: after "
				      "a reconnect nothing is resubmitted "
				      "(requests lost, others "
				      "used twice)" },
	[BUG_INFLIGHT_NOT_CLEARED] = { "inflight-not-cleared",
				       "used heads keep their inflight flag in "
				       "the region: after a "
				       "reconnect completed requests are "
				       "resubmitted (used twice)" },
};

static bool bug_state[BUG_COUNT];

int bug_set(const char *name)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(bug_table); i++) {
		if (!strcmp(bug_table[i].name, name)) {
			bug_state[i] = true;
			return 0;
		}
	}
	return -ENOENT;
}

void bug_clear_all(void)
{
	memset(bug_state, 0, sizeof(bug_state));
}

bool bug_on(enum bug b)
{
	return (unsigned int)b < BUG_COUNT && bug_state[b];
}

const char *bug_name(enum bug b)
{
	return (unsigned int)b < BUG_COUNT ? bug_table[b].name : "?";
}

void bug_list(FILE *out)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(bug_table); i++)
		fprintf(out, "%s  %s\n", bug_table[i].name, bug_table[i].desc);
}
