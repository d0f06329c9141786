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
#include "devices/virtio-net-state.h"

extern const struct device_type virtio_net_type;

/* Build a NIC on an opened backend (owned from now on). reactor may be
 * NULL (unit tests). 0, or -ENOMEM. */
int virtio_net_init(struct virtio_net *net, const char *name, const struct guest_mem *mem,
		    const struct virtio_net_options *c, struct net_backend *be, struct reactor *reactor);
void virtio_net_destroy(struct virtio_net *net);
/* The backend has frames for queue pair `pair` (the reactor handler; unit
 * tests call it directly). Takes dev->lock. True if budget ran out. With
 * a reactor, tells it whether the backend ran dry after a trickle of
 * frames (base/reactor.h, Streams). */
bool virtio_net_backend_ready(struct virtio_net *net, unsigned pair, unsigned budget);

/* For the command line and tests: "52:54:00:12:34:56" -> mac. */
bool virtio_net_parse_mac(const char *s, uint8_t mac[6]);

#endif
