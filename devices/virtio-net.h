/* virtio-net: an Ethernet NIC whose frames go to a backend (a host TAP
 * device, or user-mode networking through libslirp; devices/net-backend.h).
 *
 * Queues: rx0, tx0, rx1, tx1, ... for `queues=N` pairs, then the control
 * queue (index 2N with MQ negotiated, 2 without).
 *
 * Features: MAC (mac= or a stable generated one), STATUS (link=up|down),
 * MTU (mtu=), MRG_RXBUF, the checksum and segmentation offloads the
 * backend carries (CSUM, GUEST_CSUM, HOST_TSO4/6, GUEST_TSO4/6 on a TAP
 * with IFF_VNET_HDR), CTRL_VQ with CTRL_RX (promiscuous, all-multicast,
 * MAC filter table), CTRL_MAC_ADDR, CTRL_GUEST_OFFLOADS, GUEST_ANNOUNCE,
 * and MQ.
 *
 * Receiving, without losing frames to a slow guest: each queue pair's
 * backend fd is a reactor source. Its handler reads a frame only when it
 * can place it; when the rx ring has no room the frame is kept, the fd is
 * paused (reactor_set_events 0) and the guest's next rx kick delivers it
 * and resumes the fd. Nothing spins while the ring is full.
 *
 * Transmitting: a tx kick pops chains (header, then the frame), checks
 * them (header complete, frame at most NET_MAX_FRAME bytes) and hands the
 * frame to the backend (as iovecs into guest RAM when it has sendv, so
 * the frame is not copied in user space); malformed chains are returned
 * unused and counted.
 *
 * Locks: everything runs under dev->lock (rx handler, kicks, control
 * queue); the backend's own lock, if any, nests inside it.
 */
#ifndef SKIFF_VIRTIO_NET_H
#define SKIFF_VIRTIO_NET_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/device-types.h"
#include "devices/net-backend.h"
#include "virtio/virtio-device.h"
#include "base/reactor.h"

#define VIRTIO_NET_QUEUE_SIZE 256
#define VIRTIO_NET_MAC_TABLE  64 /* filter entries per kind; more = accept all of that kind */
#define VIRTIO_NET_RX_BUF     (NET_BACKEND_HDR_LEN + NET_MAX_FRAME)

struct virtio_net_options {
	struct net_backend_config backend;
	uint8_t mac[6];
	bool has_mac;
	bool link_down;
	uint16_t mtu;       /* 0: no MTU feature */
	unsigned queues;    /* queue pairs, 0 = 1 */
};

struct virtio_net_stats {
	uint64_t rx_frames, rx_filtered, rx_too_big, rx_errors;
	uint64_t tx_frames, tx_malformed, tx_backend_errors;
	uint64_t rx_ring_full;   /* times a frame had to wait for the guest */
	uint64_t ctrl_errors;
};

struct virtio_net;

/* One queue pair's backend fd on the reactor. */
struct virtio_net_rx_source {
	struct virtio_net *net;
	unsigned pair;
	int id;          /* reactor source, -1 = none */
	bool watching;   /* the reactor polls the fd */
	/* A thin refill after the ring ran dry is served a moment later
	 * (virtio-net-rx.c: virtio_net_rx_kick). */
	bool starved;    /* the last pump stopped for want of buffers, frames waiting */
	bool waiting;    /* a pump is due from wait_fd's handler (armed, or its budget ran out) */
	int wait_fd;     /* timerfd, -1 = none (no reactor: served at once) */
	int wait_id;     /* its reactor source, -1 = none */
};

struct virtio_net {
	struct virtio_device vdev;          /* hand &vdev to a transport */
	struct virtio_device_ops ops;       /* per instance: nr_queues depends on queues= */
	struct net_backend *be;
	struct reactor *reactor;            /* NULL in unit tests: they call virtio_net_backend_ready() */
	unsigned max_pairs, active_pairs;

	/* Config space. */
	uint8_t mac[6];
	uint16_t status;                    /* VIRTIO_NET_S_LINK_UP, _ANNOUNCE */
	uint16_t mtu;

	/* Receive filter (CTRL_RX). */
	bool promisc, allmulti;
	unsigned uc_count, mc_count;        /* > VIRTIO_NET_MAC_TABLE: overflowed, accept all */
	uint8_t uc[VIRTIO_NET_MAC_TABLE][6], mc[VIRTIO_NET_MAC_TABLE][6];

	/* A frame read from the backend that waits for rx ring space. */
	uint8_t *rx_frame[NET_MAX_QUEUE_PAIRS];
	size_t rx_len[NET_MAX_QUEUE_PAIRS];  /* 0 = none waiting */
	size_t rx_expect[NET_MAX_QUEUE_PAIRS]; /* the last frame's length: the room a straight read takes */
	struct virtio_net_rx_source rx_src[NET_MAX_QUEUE_PAIRS];

	uint8_t *tx_buf;                     /* header + frame, linearized */
	struct iovec *tx_iov;                /* header + frame's buffers, for a backend's sendv */
	/* VIRTIO_REQUEST_BATCH_MAX requests, used under vdev.lock for one
	 * batch: the chains of one mergeable rx frame, or tx frames sent and
	 * not yet given back. */
	struct virtio_request *reqs;
	struct virtio_net_stats stats;
};

extern const struct device_type virtio_net_type;

/* Build a NIC on an opened backend (owned from now on). reactor may be
 * NULL (unit tests). 0, or -ENOMEM. */
int virtio_net_init(struct virtio_net *net, const char *name, const struct guest_mem *mem,
		    const struct virtio_net_options *c, struct net_backend *be, struct reactor *reactor);
void virtio_net_destroy(struct virtio_net *net);
/* The backend has frames for queue pair `pair` (the reactor handler; unit
 * tests call it directly). Takes dev->lock. True if budget ran out. */
bool virtio_net_backend_ready(struct virtio_net *net, unsigned pair, unsigned budget);

/* For the command line and tests: "52:54:00:12:34:56" -> mac. */
bool virtio_net_parse_mac(const char *s, uint8_t mac[6]);

#endif
