/* virtio-net's receive path (virtio-net-rx.c), for virtio-net.c: frames
 * from the backend into the driver's rx buffers. Everything here runs
 * with dev->lock held. */
#ifndef SKIFF_VIRTIO_NET_RX_H
#define SKIFF_VIRTIO_NET_RX_H

#include <stdbool.h>
#include <stddef.h>

#include "base/reactor.h"
#include "devices/virtio-net-state.h"

/* The driver's header: 12 bytes with VERSION_1 or MRG_RXBUF, else the
 * legacy 10 (no num_buffers). */
size_t virtio_net_guest_hdr_len(const struct virtio_net *net);

/* Watch queue pair `pair`'s backend fd on the reactor, or pause it. */
void virtio_net_rx_watch(struct virtio_net *net, unsigned pair, bool on);

/* Move frames from the backend to rx queue pair `pair` until the backend
 * is empty, the ring is full, or the budget is spent. True if the budget
 * ran out with frames left. */
bool virtio_net_rx_pump(struct virtio_net *net, unsigned pair, unsigned budget);

/* The driver kicked rx queue pair `pair`'s rx queue: serve it now, or a
 * moment later when it had run dry and the kick brought few buffers. */
bool virtio_net_rx_kick(struct virtio_net *net, unsigned pair, unsigned budget);

/* The reactor handler of a pair's wait_fd (opaque: its rx source). */
enum reactor_result virtio_net_rx_wait_done(void *opaque, uint32_t events, unsigned budget);

/* Disarm the wait (reset). */
void virtio_net_rx_wait_cancel(struct virtio_net *net, unsigned pair);

#endif
