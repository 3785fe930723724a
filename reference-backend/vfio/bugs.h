/* SPDX-License-Identifier: MIT */
/*
 * bugs.h - the seeded bugs of vuc-ref-vfio (--bug NAME, --list-bugs).
 *
 * Each bug is a realistic defect taken from research/vfio-user-assertions.md
 * and must be visible from outside the process: a wrong reply or errno, a
 * missing or extra reply, a leaked fd (the fd count of the process), a real
 * crash, or wrong data. The vfio-user conformance cases prove themselves by
 * catching every one of them.
 */
#ifndef VUC_REFVFIO_BUGS_H
#define VUC_REFVFIO_BUGS_H

#include <stdbool.h>
#include <stdint.h>

enum bug {
	BUG_ARGSZ_TRUSTED,	    /* argsz believed over the payload size */
	BUG_OFFSET_WRAP,	    /* region offset + count wraps past 2^64 */
	BUG_FD_LEAK_DMA_ERROR,	    /* refused DMA_MAP leaks its fd */
	BUG_OVERLAP_EINVAL,	    /* overlapping map: EINVAL, not EEXIST */
	BUG_MODE_DEFAULT_MSG,	    /* no mode bit + fd: message access */
	BUG_REPLY_TYPE_MISSING,	    /* error replies lack the Reply type */
	BUG_NO_REPLY_ANSWERED,	    /* No_reply commands answered */
	BUG_REGION_INDEX_CRASH,	    /* index == num_regions: NULL deref */
	BUG_IRQ_RANGE_WRAP,	    /* SET_IRQS start + count wraps */
	BUG_UNMAP_INEXACT,	    /* DMA_UNMAP of a sub-range accepted */
	BUG_VERSION_MINOR_HIGH,	    /* reply minor above the proposal */
	BUG_CAPS_NOT_SUBSET,	    /* write_multiple offered unasked */
	BUG_JSON_NUL_OPTIONAL,	    /* version data without NUL accepted */
	BUG_OVERSIZE_NO_DRAIN,	    /* oversized body parsed as headers */
	BUG_SPLIT_DESYNC,	    /* a message split over writes breaks */
	BUG_DMA_WRITE_READONLY,	    /* DMA engine writes read-only maps */
	BUG_XFER_SIZE_IGNORED,	    /* count > max_data_xfer_size served */
	BUG_MIG_STOPCOPY_PRECOPY,   /* STOP_COPY -> PRE_COPY allowed */
	BUG_IRQ_FD_LEAK_DISCONNECT, /* IRQ fds kept after a disconnect */
	BUG_STRAY_FDS_KEPT,	    /* fds on fd-less commands leaked */
	BUG_ERROR_REPLY_PAYLOAD,    /* error replies echo the payload */
	BUG_UNKNOWN_CMD_SILENT,	    /* unknown command not answered */
	BUG_MIG_STATE_INCOMPLETE,   /* SCRATCH register not migrated */
	BUG_REGION_INFO_ARGSZ,	    /* caps and fd sent past argsz */
	BUG_DIRTY_NOT_LOGGED,	    /* DMA writes not marked dirty */
	BUG_COUNT
};

struct bug_info {
	enum bug id;
	const char *name;   /* the --bug NAME */
	const char *what;   /* the defect */
	const char *caught; /* what makes it observable */
};

/** bugs_info() - The table row of bug @id, or NULL if out of range. */
const struct bug_info *bugs_info(enum bug id);

/**
 * bugs_by_name() - The bug called @name
 *
 * Return: the enum bug value, or -EINVAL if no bug has that name.
 */
int bugs_by_name(const char *name);

/** bugs_mask() - The bit of bug @id in a mask of enabled bugs. */
static inline uint64_t bugs_mask(enum bug id)
{
	return (uint64_t)1 << id;
}

/** bugs_on() - Is bug @id enabled in @mask? */
static inline bool bugs_on(uint64_t mask, enum bug id)
{
	return mask & bugs_mask(id);
}

#endif /* VUC_REFVFIO_BUGS_H */
