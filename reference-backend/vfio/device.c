// SPDX-License-Identifier: MIT
/*
 * device.c - the PCI device model of vuc-ref-vfio.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/util.h"
#include "bugs.h"
#include "device.h"

/* PCI config space offsets and bits (PCI Local Bus 3.0, PCIe 4.0) */
#define PCI_VENDOR_ID 0x00
#define PCI_DEVICE_ID 0x02
#define PCI_COMMAND 0x04
#define PCI_COMMAND_INTX_DISABLE 0x400
#define PCI_STATUS 0x06
#define PCI_STATUS_INTERRUPT 0x08
#define PCI_STATUS_CAP_LIST 0x10
#define PCI_REVISION_ID 0x08
#define PCI_CLASS_PROG 0x09
#define PCI_HEADER_TYPE 0x0e
#define PCI_BASE_ADDRESS_0 0x10
#define PCI_BASE_ADDRESS_2 0x18
#define PCI_SUBSYSTEM_VENDOR_ID 0x2c
#define PCI_SUBSYSTEM_ID 0x2e
#define PCI_CAPABILITY_LIST 0x34
#define PCI_INTERRUPT_LINE 0x3c
#define PCI_INTERRUPT_PIN 0x3d
#define PCI_CAP_ID_PM 0x01
#define PCI_CAP_ID_MSI 0x05
#define PCI_CAP_ID_EXP 0x10
#define PCI_CAP_ID_MSIX 0x11
#define PCI_EXT_CAP_ID_DSN 0x0003
#define PCI_MSI_FLAGS_ENABLE 0x0001
#define PCI_MSIX_FLAGS_ENABLE 0x8000
#define PCI_MSIX_FLAGS_MASKALL 0x4000

/* ------------------------------------------------------------------ */
/* Little-endian byte arrays with write masks                          */
/* ------------------------------------------------------------------ */

static void put(uint8_t *a, uint32_t off, uint64_t v, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		a[off + i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get(const uint8_t *a, uint32_t off, unsigned int n)
{
	uint64_t v = 0;
	unsigned int i;

	for (i = 0; i < n; i++)
		v |= (uint64_t)a[off + i] << (8 * i);
	return v;
}

static void cfg_init(struct device *dev)
{
	uint8_t *c = dev->cfg, *w = dev->cfg_wmask;

	memset(c, 0, DEV_CFG_SIZE);
	memset(w, 0, DEV_CFG_SIZE);
	put(c, PCI_VENDOR_ID, DEV_VENDOR_ID, 2);
	put(c, PCI_DEVICE_ID, DEV_DEVICE_ID, 2);
	/* I/O, memory, bus master, parity, SERR, INTx disable */
	put(w, PCI_COMMAND, 0x0547, 2);
	put(c, PCI_STATUS, PCI_STATUS_CAP_LIST, 2);
	put(c, PCI_REVISION_ID, 1, 1);
	put(c, PCI_CLASS_PROG, 0xff0000, 3); /* "does not fit any class" */
	put(c, PCI_HEADER_TYPE, 0, 1);
	/* BAR0: 32-bit memory, 4 KiB; BAR2: 64-bit prefetchable, 64 KiB.
	 * Writing all ones reads back the size mask, as on hardware. */
	put(w, PCI_BASE_ADDRESS_0, ~(uint32_t)(DEV_BAR0_SIZE - 1), 4);
	put(c, PCI_BASE_ADDRESS_2, 0xc, 4);
	put(w, PCI_BASE_ADDRESS_2, ~(uint32_t)(DEV_BAR2_SIZE - 1), 4);
	put(w, PCI_BASE_ADDRESS_2 + 4, 0xffffffff, 4);
	put(c, PCI_SUBSYSTEM_VENDOR_ID, DEV_VENDOR_ID, 2);
	put(c, PCI_SUBSYSTEM_ID, 1, 2);
	put(c, PCI_CAPABILITY_LIST, DEV_CAP_PM, 1);
	put(w, PCI_INTERRUPT_LINE, 0xff, 1);
	put(c, PCI_INTERRUPT_PIN, 1, 1); /* INTA# */

	/* Power management, version 3; PMCSR power state writeable */
	put(c, DEV_CAP_PM, PCI_CAP_ID_PM, 1);
	put(c, DEV_CAP_PM + 1, DEV_CAP_MSI, 1);
	put(c, DEV_CAP_PM + 2, 0x0003, 2);
	put(w, DEV_CAP_PM + 4, 0x0003, 2);

	/* MSI: one vector, 64-bit address, per-vector masking */
	put(c, DEV_CAP_MSI, PCI_CAP_ID_MSI, 1);
	put(c, DEV_CAP_MSI + 1, DEV_CAP_MSIX, 1);
	put(c, DEV_CAP_MSI + 2, 0x0180, 2);
	put(w, DEV_CAP_MSI + 2, 0x0071, 2);
	put(w, DEV_CAP_MSI + 4, 0xfffffffc, 4);
	put(w, DEV_CAP_MSI + 8, 0xffffffff, 4);
	put(w, DEV_CAP_MSI + 12, 0xffff, 2);
	put(w, DEV_CAP_MSI + 16, 0x1, 4);

	/* MSI-X: 4 vectors, table and PBA in BAR0 */
	put(c, DEV_CAP_MSIX, PCI_CAP_ID_MSIX, 1);
	put(c, DEV_CAP_MSIX + 1, DEV_CAP_EXP, 1);
	put(c, DEV_CAP_MSIX + 2, DEV_MSIX_VECTORS - 1, 2);
	put(w, DEV_CAP_MSIX + 2, PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL,
	    2);
	put(c, DEV_CAP_MSIX + 4, DEV_MSIX_TABLE | 0, 4);
	put(c, DEV_CAP_MSIX + 8, DEV_MSIX_PBA | 0, 4);

	/* PCI Express v2, endpoint; device control (2) writeable */
	put(c, DEV_CAP_EXP, PCI_CAP_ID_EXP, 1);
	put(c, DEV_CAP_EXP + 1, 0, 1);
	put(c, DEV_CAP_EXP + 2, 0x0002, 2);
	put(w, DEV_CAP_EXP + 8, 0x7fff, 2);
	put(w, DEV_CAP_EXP + 0x28, 0x001f, 2);

	/* Extended capability: device serial number, the last one */
	put(c, DEV_ECAP_DSN, PCI_EXT_CAP_ID_DSN | (1u << 16), 4);
	put(c, DEV_ECAP_DSN + 4, DEV_DSN_VALUE, 8);
}

static void bar0_init(struct device *dev)
{
	uint8_t *b = dev->bar0, *w = dev->bar0_wmask;
	unsigned int i;

	memset(b, 0, DEV_BAR0_SIZE);
	memset(w, 0, DEV_BAR0_SIZE);
	put(b, DEV_REG_ID, DEV_ID_VALUE, 4);
	memset(w + DEV_REG_DMA_SRC, 0xff, 8);
	memset(w + DEV_REG_DMA_DST, 0xff, 8);
	memset(w + DEV_REG_DMA_LEN, 0xff, 4);
	memset(w + DEV_REG_SCRATCH, 0xff, 4);
	memset(w + DEV_MSIX_TABLE, 0xff, DEV_MSIX_VECTORS * 16);
	/* vector control: masked at reset */
	for (i = 0; i < DEV_MSIX_VECTORS; i++)
		put(b, DEV_MSIX_TABLE + 16 * i + 12, 1, 4);
}

static void irq_init(struct device *dev)
{
	static const struct {
		uint32_t count, flags;
	} kind[DEV_NUM_IRQS] = {
		[VFIO_PCI_INTX_IRQ_INDEX] = { 1,
					      VFIO_IRQ_INFO_EVENTFD |
						      VFIO_IRQ_INFO_MASKABLE |
						      VFIO_IRQ_INFO_AUTOMASKED },
		[VFIO_PCI_MSI_IRQ_INDEX] = { 1,
					     VFIO_IRQ_INFO_EVENTFD |
						     VFIO_IRQ_INFO_NORESIZE },
		[VFIO_PCI_MSIX_IRQ_INDEX] = { DEV_MSIX_VECTORS,
					      VFIO_IRQ_INFO_EVENTFD |
						      VFIO_IRQ_INFO_MASKABLE },
		[VFIO_PCI_ERR_IRQ_INDEX] = { 1, VFIO_IRQ_INFO_EVENTFD },
		[VFIO_PCI_REQ_IRQ_INDEX] = { 1, VFIO_IRQ_INFO_EVENTFD },
	};
	unsigned int i, j;

	for (i = 0; i < DEV_NUM_IRQS; i++) {
		dev->irq[i].count = kind[i].count;
		dev->irq[i].flags = kind[i].flags;
		for (j = 0; j < DEV_MAX_VECTORS; j++)
			dev->irq[i].v[j] = (struct dev_vec){ .trigger = -1,
							     .mask_fd = -1,
							     .unmask_fd = -1 };
	}
}

static int info_region_init(struct device *dev)
{
	char text[DEV_INFO_SIZE];
	int fd, n;
	void *p;

	n = snprintf(text, sizeof(text),
		     "vuc-ref-vfio: reference vfio-user PCI device %04x:%04x\n"
		     "BAR0 registers (DMA copy engine), BAR2 64 KiB memory,\n"
		     "INTx, MSI, MSI-X x%u, migration with PRE_COPY\n",
		     DEV_VENDOR_ID, DEV_DEVICE_ID, DEV_MSIX_VECTORS);
	fd = memfd_create("vuc-ref-vfio-info", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, DEV_INFO_SIZE) < 0 ||
	    pwrite(fd, text, (size_t)n, 0) != n ||
	    fcntl(fd, F_ADD_SEALS,
		  F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL) <
		    0) {
		n = -errno;
		close(fd);
		return n;
	}
	p = mmap(NULL, DEV_INFO_SIZE, PROT_READ, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		n = -errno;
		close(fd);
		return n;
	}
	dev->info_fd = fd;
	dev->info = p;
	return 0;
}

static int bar2_init(struct device *dev)
{
	int fd, ret;
	void *p;

	fd = memfd_create("vuc-ref-vfio-bar2", MFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, DEV_BAR2_SIZE) < 0)
		goto err;
	p = mmap(NULL, DEV_BAR2_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		 0);
	if (p == MAP_FAILED)
		goto err;
	dev->bar2_fd = fd;
	dev->bar2 = p;
	return 0;

err:
	ret = -errno;
	close(fd);
	return ret;
}

int device_init(struct device *dev, uint64_t bugs, struct dma *dma)
{
	int ret;

	memset(dev, 0, sizeof(*dev));
	dev->bugs = bugs;
	dev->dma = dma;
	dev->bar2_fd = dev->info_fd = dev->ioeventfd = -1;
	irq_init(dev);
	cfg_init(dev);
	bar0_init(dev);
	dev->mig_state = VFIO_DEVICE_STATE_RUNNING;
	ret = bar2_init(dev);
	if (ret < 0)
		goto err;
	ret = info_region_init(dev);
	if (ret < 0)
		goto err;
	dev->ioeventfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (dev->ioeventfd < 0) {
		ret = -errno;
		goto err;
	}
	return 0;

err:
	device_fini(dev);
	return ret;
}

static void mig_discard(struct device *dev)
{
	free(dev->mig_out);
	dev->mig_out = NULL;
	dev->mig_out_len = dev->mig_out_pos = 0;
	free(dev->mig_in);
	dev->mig_in = NULL;
	dev->mig_in_len = 0;
}

void device_release_irqs(struct device *dev)
{
	unsigned int i, j;

	for (i = 0; i < DEV_NUM_IRQS; i++) {
		for (j = 0; j < DEV_MAX_VECTORS; j++) {
			struct dev_vec *v = &dev->irq[i].v[j];

			close_fd(&v->trigger);
			close_fd(&v->mask_fd);
			close_fd(&v->unmask_fd);
		}
	}
}

void device_fini(struct device *dev)
{
	device_release_irqs(dev);
	if (dev->bar2)
		munmap(dev->bar2, DEV_BAR2_SIZE);
	dev->bar2 = NULL;
	if (dev->info)
		munmap((void *)(uintptr_t)dev->info, DEV_INFO_SIZE);
	dev->info = NULL;
	close_fd(&dev->bar2_fd);
	close_fd(&dev->info_fd);
	close_fd(&dev->ioeventfd);
	mig_discard(dev);
}

void device_reset(struct device *dev)
{
	unsigned int i, j;

	cfg_init(dev);
	bar0_init(dev);
	for (i = 0; i < DEV_NUM_IRQS; i++) {
		for (j = 0; j < DEV_MAX_VECTORS; j++) {
			dev->irq[i].v[j].masked = false;
			dev->irq[i].v[j].pending = false;
		}
	}
	mig_discard(dev);
	/* "To recover from ERROR, VFIO_USER_DEVICE_RESET must be used to
	 * return back to RUNNING." */
	dev->mig_state = VFIO_DEVICE_STATE_RUNNING;
}

/* ------------------------------------------------------------------ */
/* Interrupts                                                          */
/* ------------------------------------------------------------------ */

/* Write 1 to an eventfd (or 8 bytes to a pipe); never block. */
static void signal_fd(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLOUT };
	uint64_t one = 1;

	if (fd < 0)
		return;
	if (poll(&p, 1, 0) != 1 || !(p.revents & POLLOUT) ||
	    write(fd, &one, sizeof(one)) != sizeof(one))
		fprintf(stderr, "vuc-ref-vfio: cannot signal fd %d\n", fd);
}

static bool intx_asserted(const struct device *dev)
{
	return get(dev->bar0, DEV_REG_IRQ_STATUS, 4) &&
	       !(get(dev->cfg, PCI_COMMAND, 2) & PCI_COMMAND_INTX_DISABLE);
}

static void vec_fire(struct device *dev, uint32_t index, uint32_t sub)
{
	struct dev_vec *v = &dev->irq[index].v[sub];

	if (v->masked) {
		v->pending = true;
		return;
	}
	v->pending = false;
	signal_fd(v->trigger);
	/* "VFIO_IRQ_INFO_AUTOMASKED indicates the IRQ type masks itself
	 * after being triggered" */
	if (dev->irq[index].flags & VFIO_IRQ_INFO_AUTOMASKED) {
		v->masked = true;
		signal_fd(v->mask_fd);
	}
}

static void vec_mask(struct device *dev, uint32_t index, uint32_t sub,
		     bool mask)
{
	struct dev_vec *v = &dev->irq[index].v[sub];

	if (v->masked == mask)
		return;
	v->masked = mask;
	signal_fd(mask ? v->mask_fd : v->unmask_fd);
	if (mask)
		return;
	/* level-triggered INTx fires again while still asserted */
	if (v->pending ||
	    (index == VFIO_PCI_INTX_IRQ_INDEX && intx_asserted(dev)))
		vec_fire(dev, index, sub);
}

/* Raise vector @n of the interrupt mode the guest enabled. */
static void raise_irq(struct device *dev, uint32_t n)
{
	uint32_t msix = (uint32_t)get(dev->cfg, DEV_CAP_MSIX + 2, 2);
	uint32_t msi = (uint32_t)get(dev->cfg, DEV_CAP_MSI + 2, 2);

	if (msix & PCI_MSIX_FLAGS_ENABLE) {
		if (n < DEV_MSIX_VECTORS && !(msix & PCI_MSIX_FLAGS_MASKALL))
			vec_fire(dev, VFIO_PCI_MSIX_IRQ_INDEX, n);
	} else if (msi & PCI_MSI_FLAGS_ENABLE) {
		if (!n)
			vec_fire(dev, VFIO_PCI_MSI_IRQ_INDEX, 0);
	} else if (!n && intx_asserted(dev)) {
		vec_fire(dev, VFIO_PCI_INTX_IRQ_INDEX, 0);
	}
}

int device_irq_info(const struct device *dev, uint32_t index, uint32_t *flags,
		    uint32_t *count)
{
	if (index >= DEV_NUM_IRQS)
		return -EINVAL;
	*flags = dev->irq[index].flags;
	*count = dev->irq[index].count;
	return 0;
}

/* An fd we can signal: not O_PATH, not read-only, no file or directory. */
static bool signalable(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	struct stat st;

	if (fl < 0 || (fl & O_PATH) || (fl & O_ACCMODE) == O_RDONLY)
		return false;
	if (fstat(fd, &st) < 0 || S_ISREG(st.st_mode) || S_ISDIR(st.st_mode) ||
	    S_ISBLK(st.st_mode))
		return false;
	return true;
}

static int *vec_slot(struct dev_vec *v, uint32_t action)
{
	if (action == VFIO_IRQ_SET_ACTION_MASK)
		return &v->mask_fd;
	if (action == VFIO_IRQ_SET_ACTION_UNMASK)
		return &v->unmask_fd;
	return &v->trigger;
}

int device_set_irqs(struct device *dev, const struct vfio_user_irq_set *set,
		    const uint8_t *bools, size_t nbools, int *fds,
		    unsigned int nfds)
{
	uint32_t data = set->flags & VFIO_IRQ_SET_DATA_TYPE_MASK;
	uint32_t action = set->flags & VFIO_IRQ_SET_ACTION_TYPE_MASK;
	struct dev_irq *irq;
	uint32_t i, n;

	if (set->index >= DEV_NUM_IRQS)
		return -EINVAL;
	irq = &dev->irq[set->index];
	if (__builtin_popcount(data) != 1 || __builtin_popcount(action) != 1)
		return -EINVAL;
	/* ERR and REQ only trigger */
	if (action != VFIO_IRQ_SET_ACTION_TRIGGER &&
	    !(irq->flags & VFIO_IRQ_INFO_MASKABLE))
		return -EINVAL;
	if (!set->count) {
		/* "a count (and start) of 0, with data flags of
		 * VFIO_IRQ_SET_DATA_NONE disables all interrupts of the
		 * index" */
		if (set->start || data != VFIO_IRQ_SET_DATA_NONE ||
		    action != VFIO_IRQ_SET_ACTION_TRIGGER || nfds)
			return -EINVAL;
		for (i = 0; i < irq->count; i++) {
			close_fd(&irq->v[i].trigger);
			close_fd(&irq->v[i].mask_fd);
			close_fd(&irq->v[i].unmask_fd);
			irq->v[i].masked = irq->v[i].pending = false;
		}
		return 0;
	}
	if (bugs_on(dev->bugs, BUG_IRQ_RANGE_WRAP)) {
		/* the bug: 32-bit sum, wraps for start 1, count 2^32-1 */
		if (set->start + set->count > irq->count)
			return -EINVAL;
	} else if ((uint64_t)set->start + set->count > irq->count) {
		return -EINVAL;
	}
	/* the loop bound keeps even the buggy check inside the table */
	n = irq->count - VUC_MIN(set->start, irq->count);
	n = VUC_MIN(n, set->count);

	if (data == VFIO_IRQ_SET_DATA_EVENTFD) {
		if (nfds && nfds != set->count)
			return -EINVAL;
		for (i = 0; i < nfds; i++)
			if (!signalable(fds[i]))
				return -EINVAL;
		/* no fds: "this de-assigns the specified previously
		 * configured interrupts" */
		for (i = 0; i < n; i++) {
			int *slot = vec_slot(&irq->v[set->start + i], action);

			close_fd(slot);
			if (nfds) {
				*slot = fds[i];
				fds[i] = -1;
			}
		}
		return 0;
	}
	if (nfds)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		uint32_t sub = set->start + i;

		if (data == VFIO_IRQ_SET_DATA_BOOL &&
		    (i >= nbools || !bools[i]))
			continue;
		if (action == VFIO_IRQ_SET_ACTION_TRIGGER)
			vec_fire(dev, set->index, sub);
		else
			vec_mask(dev, set->index, sub,
				 action == VFIO_IRQ_SET_ACTION_MASK);
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* DMA engine                                                          */
/* ------------------------------------------------------------------ */

static bool running(const struct device *dev)
{
	return dev->mig_state == VFIO_DEVICE_STATE_RUNNING ||
	       dev->mig_state == VFIO_DEVICE_STATE_PRE_COPY;
}

static void dma_run(struct device *dev)
{
	uint64_t src = get(dev->bar0, DEV_REG_DMA_SRC, 8);
	uint64_t dst = get(dev->bar0, DEV_REG_DMA_DST, 8);
	uint32_t len = (uint32_t)get(dev->bar0, DEV_REG_DMA_LEN, 4);
	uint8_t *buf = NULL;
	int ret;

	if (!running(dev)) {
		/* a stopped device "does not change the internal or
		 * external state": refuse, no interrupt */
		put(dev->bar0, DEV_REG_STATUS, DEV_STATUS_ERROR, 4);
		put(dev->bar0, DEV_REG_DMA_RESULT, EBUSY, 4);
		return;
	}
	if (!len || len > DEV_DMA_LEN_MAX) {
		ret = -EINVAL;
		goto done;
	}
	buf = malloc(len);
	if (!buf) {
		ret = -ENOMEM;
		goto done;
	}
	ret = dma_read(dev->dma, src, buf, len);
	if (!ret)
		ret = dma_write(dev->dma, dst, buf, len);
done:
	free(buf);
	if (ret < 0)
		fprintf(stderr,
			"vuc-ref-vfio: DMA copy 0x%llx -> 0x%llx (%u bytes) "
			"failed: %s\n",
			(unsigned long long)src, (unsigned long long)dst, len,
			strerror(-ret));
	put(dev->bar0, DEV_REG_STATUS,
	    ret < 0 ? DEV_STATUS_ERROR : DEV_STATUS_DONE, 4);
	put(dev->bar0, DEV_REG_DMA_RESULT, ret < 0 ? (uint32_t)-ret : 0, 4);
	if (!ret)
		put(dev->bar0, DEV_REG_DMA_COUNT,
		    get(dev->bar0, DEV_REG_DMA_COUNT, 4) + 1, 4);
	put(dev->bar0, DEV_REG_IRQ_STATUS,
	    get(dev->bar0, DEV_REG_IRQ_STATUS, 4) | DEV_IRQ_STATUS_DMA, 4);
	raise_irq(dev, 0);
}

void device_doorbell(struct device *dev)
{
	uint64_t v;

	if (read(dev->ioeventfd, &v, sizeof(v)) == sizeof(v))
		dma_run(dev);
}

/* ------------------------------------------------------------------ */
/* Regions                                                             */
/* ------------------------------------------------------------------ */

struct region_desc {
	uint64_t size;
	uint32_t flags;
};

static struct region_desc region_desc(uint32_t index)
{
	switch (index) {
	case VFIO_PCI_BAR0_REGION_INDEX:
		return (struct region_desc){
			DEV_BAR0_SIZE,
			VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE
		};
	case VFIO_PCI_BAR2_REGION_INDEX:
		return (struct region_desc){
			DEV_BAR2_SIZE,
			VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE
		};
	case VFIO_PCI_CONFIG_REGION_INDEX:
		return (struct region_desc){
			DEV_CFG_SIZE,
			VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE
		};
	case DEV_INFO_REGION_INDEX:
		return (struct region_desc){ DEV_INFO_SIZE,
					     VFIO_REGION_INFO_FLAG_READ };
	}
	return (struct region_desc){ 0, 0 };
}

static size_t put_sparse(uint8_t *caps, size_t at, uint32_t next,
			 const struct vfio_user_region_sparse_mmap_area *areas,
			 uint32_t n)
{
	struct vfio_user_region_info_cap_sparse_mmap sp = {
		.header = { .id = VFIO_REGION_INFO_CAP_SPARSE_MMAP,
			    .version = 1,
			    .next = next },
		.nr_areas = n,
	};

	memcpy(caps + at, &sp, sizeof(sp));
	memcpy(caps + at + sizeof(sp), areas, n * sizeof(*areas));
	return sizeof(sp) + n * sizeof(*areas);
}

int device_region_info(struct device *dev, uint32_t index,
		       struct vfio_user_region_info *info, uint8_t *caps,
		       size_t *caps_len, int *fd, bool fds_ok)
{
	static const struct vfio_user_region_sparse_mmap_area bar2_areas[] = {
		{ DEV_BAR2_AREA0_OFF, DEV_BAR2_AREA0_SIZE },
		{ DEV_BAR2_AREA1_OFF, DEV_BAR2_AREA1_SIZE },
	};
	static const struct vfio_user_region_sparse_mmap_area info_area[] = {
		{ 0, DEV_INFO_SIZE },
	};
	const size_t base = sizeof(struct vfio_user_region_info);
	struct region_desc d;
	size_t room = *caps_len, len = 0;

	*caps_len = 0;
	*fd = -1;
	if (index >= DEV_NUM_REGIONS)
		return -EINVAL;
	d = region_desc(index);
	memset(info, 0, sizeof(*info));
	info->index = index;
	info->size = d.size;
	info->flags = d.flags;
	if (room < 128)
		return -ENOSPC;
	switch (index) {
	case VFIO_PCI_BAR0_REGION_INDEX: {
		/* the MSI-X table lives here, and may be mapped */
		struct vfio_user_info_cap_header h = {
			.id = VFIO_REGION_INFO_CAP_MSIX_MAPPABLE,
			.version = 1,
		};

		memcpy(caps, &h, sizeof(h));
		len = sizeof(h);
		break;
	}
	case VFIO_PCI_BAR2_REGION_INDEX:
		if (!fds_ok)
			break;
		info->flags |= VFIO_REGION_INFO_FLAG_MMAP;
		len = put_sparse(caps, 0, 0, bar2_areas,
				 ARRAY_SIZE(bar2_areas));
		*fd = dev->bar2_fd;
		break;
	case DEV_INFO_REGION_INDEX: {
		struct vfio_user_region_info_cap_type t = {
			.header = { .id = VFIO_REGION_INFO_CAP_TYPE,
				    .version = 1 },
			.type = DEV_INFO_REGION_TYPE,
			.subtype = DEV_INFO_REGION_SUBTYPE,
		};

		len = sizeof(t);
		if (fds_ok) {
			info->flags |= VFIO_REGION_INFO_FLAG_MMAP;
			t.header.next = (uint32_t)(base + sizeof(t));
			len += put_sparse(caps, sizeof(t), 0, info_area, 1);
			*fd = dev->info_fd;
		}
		memcpy(caps, &t, sizeof(t));
		break;
	}
	}
	*caps_len = len;
	return 0;
}

/* BAR0 write of one byte @v at @off, with the registers' side effects
 * collected in @cmd / @raise (written bytes of DMA_CMD / IRQ_RAISE). */
static void bar0_write_byte(struct device *dev, uint32_t off, uint8_t v,
			    uint8_t *cmd, uint8_t *raise, unsigned int *touched)
{
	if (off >= DEV_REG_DMA_CMD && off < DEV_REG_DMA_CMD + 4) {
		cmd[off - DEV_REG_DMA_CMD] = v;
		*touched |= 1;
	} else if (off >= DEV_REG_IRQ_RAISE && off < DEV_REG_IRQ_RAISE + 4) {
		raise[off - DEV_REG_IRQ_RAISE] = v;
		*touched |= 2;
	} else if (off >= DEV_REG_IRQ_STATUS && off < DEV_REG_IRQ_STATUS + 4) {
		dev->bar0[off] &= (uint8_t)~v; /* write 1 to clear */
	} else {
		dev->bar0[off] =
			(uint8_t)((dev->bar0[off] & ~dev->bar0_wmask[off]) |
				  (v & dev->bar0_wmask[off]));
	}
}

int device_region_access(struct device *dev, uint32_t index, uint64_t offset,
			 void *buf, uint32_t count, bool write)
{
	struct region_desc d;
	uint8_t cmd[4] = { 0 }, raise[4] = { 0 }, *p = buf;
	unsigned int touched = 0;
	uint32_t i;

	if (index >= DEV_NUM_REGIONS)
		return -EINVAL;
	d = region_desc(index);
	if (!d.size)
		return -EINVAL;
	if (!(d.flags & (write ? VFIO_REGION_INFO_FLAG_WRITE
			       : VFIO_REGION_INFO_FLAG_READ)))
		return -EINVAL;
	if (bugs_on(dev->bugs, BUG_OFFSET_WRAP)) {
		/* the bug: the sum wraps for offsets near 2^64 */
		if (offset + count > d.size)
			return -EINVAL;
	} else if (offset > d.size || count > d.size - offset) {
		return -EINVAL;
	}
	/* In range, (offset + i) % size is offset + i; with the bug it
	 * wraps around the region instead of running off its end. */
	for (i = 0; i < count; i++) {
		uint32_t off = (uint32_t)((offset + i) % d.size);

		switch (index) {
		case VFIO_PCI_BAR0_REGION_INDEX:
			if (write)
				bar0_write_byte(dev, off, p[i], cmd, raise,
						&touched);
			else if ((off >= DEV_REG_DMA_CMD &&
				  off < DEV_REG_DMA_CMD + 4) ||
				 (off >= DEV_REG_IRQ_RAISE &&
				  off < DEV_REG_IRQ_RAISE + 4))
				p[i] = 0; /* write-only */
			else
				p[i] = dev->bar0[off];
			break;
		case VFIO_PCI_BAR2_REGION_INDEX:
			if (write)
				dev->bar2[off] = p[i];
			else
				p[i] = dev->bar2[off];
			break;
		case VFIO_PCI_CONFIG_REGION_INDEX:
			if (write)
				dev->cfg[off] =
					(uint8_t)((dev->cfg[off] &
						   ~dev->cfg_wmask[off]) |
						  (p[i] & dev->cfg_wmask[off]));
			else
				p[i] = dev->cfg[off];
			break;
		default:
			p[i] = dev->info[off];
			break;
		}
	}
	/* the status register's interrupt bit follows INTx */
	if (index == VFIO_PCI_CONFIG_REGION_INDEX) {
		uint16_t st = (uint16_t)get(dev->cfg, PCI_STATUS, 2);

		st = intx_asserted(dev) ? st | PCI_STATUS_INTERRUPT
					: st & ~PCI_STATUS_INTERRUPT;
		put(dev->cfg, PCI_STATUS, st, 2);
		if (!write)
			for (i = 0; i < count; i++)
				if (((offset + i) % d.size) == PCI_STATUS)
					p[i] = (uint8_t)st;
	}
	if ((touched & 1) && (get(cmd, 0, 4) & DEV_DMA_CMD_START))
		dma_run(dev);
	if (touched & 2) {
		put(dev->bar0, DEV_REG_IRQ_STATUS,
		    get(dev->bar0, DEV_REG_IRQ_STATUS, 4) | DEV_IRQ_STATUS_SW,
		    4);
		raise_irq(dev, (uint32_t)get(raise, 0, 4));
	}
	return 0;
}

int device_io_fds(struct device *dev, uint32_t index,
		  struct vfio_user_sub_region_io_fd *subs, int *fds,
		  unsigned int *nfds)
{
	*nfds = 0;
	if (index >= DEV_NUM_REGIONS)
		return -EINVAL;
	if (index != VFIO_PCI_BAR0_REGION_INDEX)
		return 0;
	/* DMA_CMD as a doorbell: a 4-byte write of 1 */
	subs[0] = (struct vfio_user_sub_region_io_fd){
		.offset = DEV_REG_DMA_CMD,
		.size = 4,
		.fd_index = 0,
		.type = VFIO_USER_IO_FD_TYPE_IOEVENTFD,
		.flags = KVM_IOEVENTFD_FLAG_DATAMATCH,
		.datamatch = DEV_DMA_CMD_START,
	};
	fds[0] = dev->ioeventfd;
	*nfds = 1;
	return 1;
}

/* ------------------------------------------------------------------ */
/* Migration                                                           */
/* ------------------------------------------------------------------ */

/* One record of the migration stream: this header, then the state. */
struct mig_hdr {
	uint32_t magic;
	uint32_t version;
	uint32_t len;
	uint32_t sum; /* FNV-1a of the state bytes */
};
#define MIG_MAGIC 0x4d435556u /* "VUCM" */
#define MIG_VERSION 1u
#define MIG_STATE_LEN (DEV_CFG_SIZE + DEV_BAR0_SIZE + DEV_BAR2_SIZE)
#define MIG_RECORD_LEN (sizeof(struct mig_hdr) + MIG_STATE_LEN)
/* PRE_COPY and STOP_COPY each send one record; allow a few more. */
#define MIG_IN_MAX (8 * MIG_RECORD_LEN)

static uint32_t fnv1a(const uint8_t *p, size_t n)
{
	uint32_t h = 2166136261u;

	while (n--)
		h = (h ^ *p++) * 16777619u;
	return h;
}

/* Append a record of the current state to the outgoing stream. */
static int mig_save(struct device *dev)
{
	size_t left = dev->mig_out_len - dev->mig_out_pos;
	uint8_t *out = malloc(left + MIG_RECORD_LEN), *st;
	struct mig_hdr h = { MIG_MAGIC, MIG_VERSION, MIG_STATE_LEN, 0 };

	if (!out)
		return -ENOMEM;
	if (left)
		memcpy(out, dev->mig_out + dev->mig_out_pos, left);
	st = out + left + sizeof(h);
	memcpy(st, dev->cfg, DEV_CFG_SIZE);
	memcpy(st + DEV_CFG_SIZE, dev->bar0, DEV_BAR0_SIZE);
	memcpy(st + DEV_CFG_SIZE + DEV_BAR0_SIZE, dev->bar2, DEV_BAR2_SIZE);
	if (bugs_on(dev->bugs, BUG_MIG_STATE_INCOMPLETE))
		memset(st + DEV_CFG_SIZE + DEV_REG_SCRATCH, 0, 4);
	h.sum = fnv1a(st, MIG_STATE_LEN);
	memcpy(out + left, &h, sizeof(h));
	free(dev->mig_out);
	dev->mig_out = out;
	dev->mig_out_len = left + MIG_RECORD_LEN;
	dev->mig_out_pos = 0;
	return 0;
}

/* Check every record of the incoming stream, then load the last one. */
static int mig_load(struct device *dev)
{
	const uint8_t *last = NULL;
	size_t pos = 0;
	struct mig_hdr h;

	while (pos < dev->mig_in_len) {
		if (dev->mig_in_len - pos < MIG_RECORD_LEN)
			return -EINVAL;
		memcpy(&h, dev->mig_in + pos, sizeof(h));
		if (h.magic != MIG_MAGIC || h.version != MIG_VERSION ||
		    h.len != MIG_STATE_LEN ||
		    h.sum !=
			    fnv1a(dev->mig_in + pos + sizeof(h), MIG_STATE_LEN))
			return -EINVAL;
		last = dev->mig_in + pos + sizeof(h);
		pos += MIG_RECORD_LEN;
	}
	if (!last)
		return -EINVAL;
	memcpy(dev->cfg, last, DEV_CFG_SIZE);
	memcpy(dev->bar0, last + DEV_CFG_SIZE, DEV_BAR0_SIZE);
	memcpy(dev->bar2, last + DEV_CFG_SIZE + DEV_BAR0_SIZE, DEV_BAR2_SIZE);
	return 0;
}

void device_mig_abandon(struct device *dev)
{
	if (dev->mig_state == VFIO_DEVICE_STATE_ERROR) {
		device_reset(dev);
		return;
	}
	mig_discard(dev);
	dev->mig_state = VFIO_DEVICE_STATE_RUNNING;
}

uint32_t device_mig_state(const struct device *dev)
{
	return dev->mig_state;
}

static bool saving(uint32_t s)
{
	return s == VFIO_DEVICE_STATE_PRE_COPY ||
	       s == VFIO_DEVICE_STATE_STOP_COPY;
}

/* The direct arcs of "Direct State Transitions". */
static bool arc(uint32_t from, uint32_t to)
{
	switch (from) {
	case VFIO_DEVICE_STATE_RUNNING:
		return to == VFIO_DEVICE_STATE_STOP ||
		       to == VFIO_DEVICE_STATE_PRE_COPY;
	case VFIO_DEVICE_STATE_STOP:
		return to == VFIO_DEVICE_STATE_RUNNING ||
		       to == VFIO_DEVICE_STATE_STOP_COPY ||
		       to == VFIO_DEVICE_STATE_RESUMING;
	case VFIO_DEVICE_STATE_STOP_COPY:
	case VFIO_DEVICE_STATE_RESUMING:
		return to == VFIO_DEVICE_STATE_STOP;
	case VFIO_DEVICE_STATE_PRE_COPY:
		return to == VFIO_DEVICE_STATE_RUNNING ||
		       to == VFIO_DEVICE_STATE_STOP_COPY;
	}
	return false;
}

/* The action on the arc @from -> @to. */
static int take_arc(struct device *dev, uint32_t from, uint32_t to)
{
	int ret = 0;

	if (to == VFIO_DEVICE_STATE_PRE_COPY ||
	    to == VFIO_DEVICE_STATE_STOP_COPY) {
		ret = mig_save(dev);
	} else if (to == VFIO_DEVICE_STATE_RESUMING) {
		free(dev->mig_in);
		dev->mig_in = NULL;
		dev->mig_in_len = 0;
	} else if (from == VFIO_DEVICE_STATE_RESUMING) {
		ret = mig_load(dev);
		free(dev->mig_in);
		dev->mig_in = NULL;
		dev->mig_in_len = 0;
	} else if (saving(from)) {
		/* "terminates the data transfer session" */
		free(dev->mig_out);
		dev->mig_out = NULL;
		dev->mig_out_len = dev->mig_out_pos = 0;
	}
	if (ret < 0)
		return ret;
	dev->mig_state = to;
	return 0;
}

#define MIG_NSTATES (VFIO_DEVICE_STATE_MAX + 1)

int device_mig_set_state(struct device *dev, uint32_t state)
{
	uint32_t prev[MIG_NSTATES], queue[MIG_NSTATES], path[MIG_NSTATES];
	uint32_t from = dev->mig_state, head = 0, tail = 0, n = 0, s, t;
	bool seen[MIG_NSTATES] = { false };
	int ret;

	if (state >= MIG_NSTATES || state == VFIO_DEVICE_STATE_ERROR ||
	    state == VFIO_DEVICE_STATE_RUNNING_P2P ||
	    state == VFIO_DEVICE_STATE_PRE_COPY_P2P)
		return -EINVAL;
	if (from == VFIO_DEVICE_STATE_ERROR)
		return -EINVAL; /* only a reset leaves ERROR */
	if (from == state)
		return 0;
	/* "The STOP_COPY -> PRE_COPY transition is explicitly not allowed" */
	if (from == VFIO_DEVICE_STATE_STOP_COPY &&
	    state == VFIO_DEVICE_STATE_PRE_COPY &&
	    !bugs_on(dev->bugs, BUG_MIG_STOPCOPY_PRECOPY))
		return -EINVAL;
	/* Shortest path; saving-group states may only start or end it. */
	seen[from] = true;
	queue[tail++] = from;
	while (head < tail && !seen[state]) {
		s = queue[head++];
		if (s != from && saving(s))
			continue;
		for (t = 0; t < MIG_NSTATES; t++) {
			if (seen[t] || !arc(s, t))
				continue;
			seen[t] = true;
			prev[t] = s;
			queue[tail++] = t;
		}
	}
	if (!seen[state])
		return -EINVAL;
	for (s = state; s != from; s = prev[s])
		path[n++] = s;
	while (n--) {
		ret = take_arc(dev, dev->mig_state, path[n]);
		if (ret < 0) {
			/* "fail the SET command and optionally transition to
			 * the ERROR state" */
			dev->mig_state = VFIO_DEVICE_STATE_ERROR;
			return -EINVAL;
		}
	}
	return 0;
}

int device_mig_read(struct device *dev, void *buf, uint32_t size)
{
	size_t n;

	if (!saving(dev->mig_state))
		return -EINVAL;
	n = VUC_MIN((size_t)size, dev->mig_out_len - dev->mig_out_pos);
	if (n)
		memcpy(buf, dev->mig_out + dev->mig_out_pos, n);
	dev->mig_out_pos += n;
	return (int)n;
}

int device_mig_write(struct device *dev, const void *buf, uint32_t size)
{
	uint8_t *in;

	if (dev->mig_state != VFIO_DEVICE_STATE_RESUMING)
		return -EINVAL;
	if (size > MIG_IN_MAX - dev->mig_in_len)
		return -ENOSPC;
	if (!size)
		return 0;
	in = realloc(dev->mig_in, dev->mig_in_len + size);
	if (!in)
		return -ENOMEM;
	memcpy(in + dev->mig_in_len, buf, size);
	dev->mig_in = in;
	dev->mig_in_len += size;
	return 0;
}
