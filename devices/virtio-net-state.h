/* The state of a virtio-net NIC: data only, shared by the device model
 * (virtio-net.c, which owns it; see virtio-net.h) and its receive path
 * (virtio-net-rx.c), so that neither has to include the other. */
#ifndef SKIFF_VIRTIO_NET_STATE_H
#define SKIFF_VIRTIO_NET_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "base/reactor.h"
#include "devices/net-backend.h"
#include "virtio/virtio-device.h"

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
	bool trickle;    /* the last pump read the backend dry after a few frames (virtio_net_rx_pump) */
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

#endif
