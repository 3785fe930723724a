/* SPDX-License-Identifier: MIT */
/*
 * ring_device.h - the input format of the ring_device fuzz target, shared
 * with the seed generator that writes corpus/ring_device/.
 *
 * An input is a 16-byte header and then the bytes of guest memory region
 * 0, which the fuzzer controls entirely (rings, tables, buffers):
 *
 *   0	    flags: RD_F_PACKED, RD_F_EVENT_IDX, RD_F_INDIRECT
 *   1	    how the device answers: RD_P_NO_PUSH, RD_P_WRITE
 *   2..3   queue size (le16)
 *   4..5   descriptor ring offset in region 0 (le16)
 *   6..7   avail ring / driver area offset (le16)
 *   8..9   used ring / device area offset (le16)
 *   10..13 SET_VRING_BASE value (le32)
 *   14..15 reserved
 *   16..   region 0 (at most RD_REGION0_SIZE bytes; the rest is zero)
 *
 * Region 1 follows region 0 in guest-physical space with no gap, so a
 * buffer that straddles the two is expressible (and must be refused).
 */
#ifndef VUC_FUZZ_RING_DEVICE_H
#define VUC_FUZZ_RING_DEVICE_H

#define RD_HDR_SIZE 16
#define RD_REGION0_GPA 0x10000ull
#define RD_REGION0_SIZE 0x10000ull
#define RD_REGION1_GPA (RD_REGION0_GPA + RD_REGION0_SIZE)
#define RD_REGION1_SIZE 0x1000ull

#define RD_F_PACKED 0x1
#define RD_F_EVENT_IDX 0x2
#define RD_F_INDIRECT 0x4

#define RD_P_NO_PUSH 0x1 /* pop only: the queue fills up */
#define RD_P_WRITE 0x2	 /* write every writable buffer before pushing */

#endif /* VUC_FUZZ_RING_DEVICE_H */
