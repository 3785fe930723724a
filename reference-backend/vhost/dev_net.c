// SPDX-License-Identifier: MIT
/*
 * dev_net.c - virtio-net loopback: every frame the driver transmits on a
 * TX queue (2k + 1) comes back, with a virtio-net header, on the RX queue
 * of the same pair (2k).
 *
 * Spec: specs/virtio/ (virtio-net device, "Device Operation"), and
 * vhost-user.rst "Ring states": "in the disabled state the back-end must
 * not supply any new RX packets, but must process and discard any TX
 * packets".
 *
 * One RX chain per frame: without mergeable buffers a frame that does not
 * fit its RX chain is dropped (the chain is returned with length 0).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "bugs.h"
#include "common/util.h"

#define F(bit) (UINT64_C(1) << (bit))

#define VIRTIO_NET_F_MTU 3
#define VIRTIO_NET_F_MAC 5
#define VIRTIO_NET_F_MRG_RXBUF 15
#define VIRTIO_NET_F_STATUS 16
#define VIRTIO_NET_S_LINK_UP 1

/* struct virtio_net_config: mac, status, max_virtqueue_pairs, mtu */
#define NET_CONFIG_SIZE 12
#define NET_MTU 1500
/* Largest frame taken from TX: 64 KiB of packet after the header. */
#define NET_FRAME_MAX (65536 + 12)

struct net_priv {
	uint8_t frame[NET_FRAME_MAX];
	uint64_t tx, rx, dropped;
};

static uint32_t net_config_init(struct backend *be)
{
	static const uint8_t mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
	uint16_t status = VIRTIO_NET_S_LINK_UP, pairs = be->conf.queues;
	uint16_t mtu = NET_MTU;

	memcpy(be->config, mac, sizeof(mac));
	memcpy(be->config + 6, &status, 2);
	memcpy(be->config + 8, &pairs, 2);
	memcpy(be->config + 10, &mtu, 2);
	return NET_CONFIG_SIZE;
}

static int net_init(struct backend *be)
{
	be->dev_priv = calloc(1, sizeof(struct net_priv));
	return be->dev_priv ? 0 : -ENOMEM;
}

static void net_reset(struct backend *be, bool wipe)
{
	struct net_priv *np = be->dev_priv;

	(void)wipe;
	np->tx = np->rx = np->dropped = 0;
}

static void net_fini(struct backend *be)
{
	free(be->dev_priv);
	be->dev_priv = NULL;
}

/* "VIRTIO_F_VERSION_1 ... the header is 12 bytes" (num_buffers always) */
static size_t net_hdr_len(const struct backend *be)
{
	return be->features & (F(VIRTIO_F_VERSION_1) |
			       F(VIRTIO_NET_F_MRG_RXBUF))
		       ? 12
		       : 10;
}

static void net_deliver(struct backend *be, struct vring *rx,
			const uint8_t *frame, size_t len)
{
	struct net_priv *np = be->dev_priv;
	size_t hl = net_hdr_len(be);
	struct vq_chain c;
	uint16_t nbufs = 1;
	uint8_t hdr[12];

	if (!vring_runnable(be, rx) ||
	    (!rx->enabled && !bug_on(BUG_PROCESS_WHILE_DISABLED))) {
		np->dropped++;
		return;
	}
	if (vring_pop(be, rx, &c) <= 0) {
		np->dropped++; /* no RX buffer (or a broken ring) */
		return;
	}
	if (c.writable_len < hl + len) {
		np->dropped++;
		vring_push(be, rx, &c, 0);
		return;
	}
	memset(hdr, 0, sizeof(hdr));
	if (hl == 12)
		memcpy(hdr + 10, &nbufs, sizeof(nbufs)); /* num_buffers */
	vring_chain_write(be, &c, 0, hdr, hl);
	vring_chain_write(be, &c, hl, frame, len);
	vring_push(be, rx, &c, (uint32_t)(hl + len));
	np->rx++;
}

static void net_process(struct backend *be, struct vring *vq)
{
	struct net_priv *np = be->dev_priv;
	size_t hl = net_hdr_len(be);
	struct vring *rx;
	struct vq_chain c;
	unsigned int budget;

	if (!(vq->index & 1))
		return; /* RX buffers wait for frames */
	rx = &be->vq[vq->index - 1];
	/* A bounded batch per call: kicks and messages stay served. */
	for (budget = 4 * vq->num; budget; budget--) {
		uint64_t len;

		if (vring_pop(be, vq, &c) <= 0)
			return;
		len = c.readable_len;
		if (len < hl || len > NET_FRAME_MAX) {
			/* CVE-2022-2132 class: a chain shorter than the
			 * header is refused, never read past. */
			np->dropped++;
			vring_push(be, vq, &c, 0);
			continue;
		}
		vring_chain_read(&c, 0, np->frame, len);
		/* The device writes nothing into a TX buffer. */
		vring_push(be, vq, &c, 0);
		np->tx++;
		if (!vq->enabled && !bug_on(BUG_PROCESS_WHILE_DISABLED)) {
			np->dropped++; /* "process and discard" */
			continue;
		}
		net_deliver(be, rx, np->frame + hl, (size_t)(len - hl));
	}
	vq->more = true;
}

static bool net_config_writable(uint32_t off, uint32_t len)
{
	(void)off;
	(void)len;
	return false; /* every virtio-net field here is device-owned */
}

static void net_config_change(struct backend *be)
{
	uint16_t status;

	memcpy(&status, be->config + 6, 2);
	status ^= VIRTIO_NET_S_LINK_UP;
	memcpy(be->config + 6, &status, 2);
	backend_config_change(be);
}

static int net_state_save(struct backend *be, uint8_t **buf, size_t *len,
			  size_t *cap)
{
	(void)be;
	(void)buf;
	(void)len;
	(void)cap;
	return 0; /* the config space is all the state a loopback has */
}

static int net_state_load(struct backend *be, const uint8_t *p, size_t len)
{
	(void)be;
	(void)p;
	return len ? -EBADMSG : 0;
}

const struct dev_ops dev_net_ops = {
	.name = "net",
	.features = F(VIRTIO_NET_F_MAC) | F(VIRTIO_NET_F_STATUS) |
		    F(VIRTIO_NET_F_MRG_RXBUF) | F(VIRTIO_NET_F_MTU),
	.config_init = net_config_init,
	.init = net_init,
	.fini = net_fini,
	.reset = net_reset,
	.process = net_process,
	.config_writable = net_config_writable,
	.config_change = net_config_change,
	.state_save = net_state_save,
	.state_load = net_state_load,
};
