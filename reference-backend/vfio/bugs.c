// SPDX-License-Identifier: MIT
/*
 * bugs.c - the table of seeded bugs.
 */
#include <errno.h>
#include <string.h>

#include "common/util.h"
#include "bugs.h"

static const struct bug_info bug_table[BUG_COUNT] = {
	{ BUG_ARGSZ_TRUSTED, "argsz-trusted",
	  "DMA_MAP and SET_IRQS take argsz as the payload size without "
	  "comparing it with msg_size",
	  "a DMA_MAP whose argsz disagrees with its 32-byte payload gets a "
	  "success reply, not EINVAL" },
	{ BUG_OFFSET_WRAP, "offset-wrap",
	  "REGION_READ/WRITE bound check is offset + count > size, which "
	  "wraps past 2^64",
	  "offset 2^64-4, count 8 gets a success reply (data taken modulo "
	  "the region), not EINVAL" },
	{ BUG_FD_LEAK_DMA_ERROR, "fd-leak-dma-error",
	  "a DMA_MAP refused by the map table (overlap, unusable fd, file too "
	  "short) keeps its fd",
	  "the server's open fd count grows by one per refused map" },
	{ BUG_OVERLAP_EINVAL, "overlap-einval",
	  "a DMA_MAP over an existing region fails with EINVAL",
	  "the error reply carries EINVAL where the spec says EEXIST" },
	{ BUG_MODE_DEFAULT_MSG, "mode-default-msg",
	  "DMA_MAP with an fd and no access-mode bit picks message access",
	  "a device DMA to such a region sends DMA_READ/DMA_WRITE to the "
	  "client instead of touching the shared memory" },
	{ BUG_REPLY_TYPE_MISSING, "reply-type-missing",
	  "error replies are sent with Type 0 (command), not 1 (reply)",
	  "an error reply's flags have Type 0" },
	{ BUG_NO_REPLY_ANSWERED, "no-reply-answered",
	  "commands with the No_reply bit are answered anyway",
	  "an extra reply arrives for a No_reply command" },
	{ BUG_REGION_INDEX_CRASH, "region-index-crash",
	  "GET_REGION_INFO checks index > num_regions instead of >=, and "
	  "the slot after the table is NULL",
	  "index == num_regions crashes the server (SIGSEGV)" },
	{ BUG_IRQ_RANGE_WRAP, "irq-range-wrap",
	  "SET_IRQS checks start + count > irq count in 32 bits, which wraps",
	  "start 1, count 0xffffffff gets a success reply, not EINVAL" },
	{ BUG_UNMAP_INEXACT, "unmap-inexact",
	  "DMA_UNMAP of a range inside a mapping removes the whole mapping",
	  "an unmap that matches no mapping exactly gets a success reply" },
	{ BUG_VERSION_MINOR_HIGH, "version-minor-high",
	  "the VERSION reply always carries the server's own minor (2)",
	  "a client proposing 0.0 gets minor 2 back, above its proposal" },
	{ BUG_CAPS_NOT_SUBSET, "caps-not-subset",
	  "the VERSION reply offers write_multiple even when not proposed",
	  "the reply's capabilities are not a subset of the proposal" },
	{ BUG_JSON_NUL_OPTIONAL, "json-nul-optional",
	  "version data without its terminating NUL is accepted",
	  "a VERSION whose JSON lacks the NUL gets a success reply" },
	{ BUG_OVERSIZE_NO_DRAIN, "oversize-no-drain",
	  "after refusing an oversized message the server reads on at its "
	  "body, parsing it as headers",
	  "a command hidden in the body of an oversized message is "
	  "answered" },
	{ BUG_SPLIT_DESYNC, "split-desync",
	  "the body is read with a single recv(): a message split over "
	  "several writes is not reassembled",
	  "a correct message sent header first, body later, is refused" },
	{ BUG_DMA_WRITE_READONLY, "dma-write-readonly",
	  "the DMA engine writes to regions mapped without the WRITE flag",
	  "the client's read-only memory changes (or a DMA_WRITE arrives "
	  "for it)" },
	{ BUG_XFER_SIZE_IGNORED, "xfer-size-ignored",
	  "REGION_READ/WRITE counts are not checked against "
	  "max_data_xfer_size",
	  "a read above the negotiated max_data_xfer_size is served" },
	{ BUG_MIG_STOPCOPY_PRECOPY, "mig-stopcopy-precopy",
	  "the STOP_COPY -> PRE_COPY arc is allowed",
	  "SET MIG_DEVICE_STATE PRE_COPY from STOP_COPY succeeds" },
	{ BUG_IRQ_FD_LEAK_DISCONNECT, "irq-fd-leak-disconnect",
	  "IRQ eventfds of a client that disconnected are not closed",
	  "with --reconnect the server's fd count grows per client" },
	{ BUG_STRAY_FDS_KEPT, "stray-fds-kept",
	  "fds that come with a command that takes none are never closed",
	  "the server's fd count grows by the fds sent" },
	{ BUG_ERROR_REPLY_PAYLOAD, "error-reply-payload",
	  "error replies echo the request payload after the header",
	  "an error reply with msg_size above 16" },
	{ BUG_UNKNOWN_CMD_SILENT, "unknown-cmd-silent",
	  "commands outside the table are dropped without a reply",
	  "no reply to command 0, 14, 19 or 0xffff" },
	{ BUG_MIG_STATE_INCOMPLETE, "mig-state-incomplete",
	  "the migration data leaves out BAR0's SCRATCH register",
	  "after a migration the destination's SCRATCH reads 0" },
	{ BUG_REGION_INFO_ARGSZ, "region-info-argsz",
	  "GET_REGION_INFO sends caps and fd even when argsz is too small",
	  "a reply longer than the request's argsz" },
	{ BUG_DIRTY_NOT_LOGGED, "dirty-not-logged",
	  "DMA writes of the device are not marked in the dirty log",
	  "DMA_LOGGING_REPORT shows no dirty page after a device DMA" },
};

const struct bug_info *bugs_info(enum bug id)
{
	if ((unsigned int)id >= ARRAY_SIZE(bug_table))
		return NULL;
	return &bug_table[id];
}

int bugs_by_name(const char *name)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(bug_table); i++)
		if (!strcmp(bug_table[i].name, name))
			return (int)bug_table[i].id;
	return -EINVAL;
}
