/* What the virtqueue engine's two files share. Private to virtqueue/:
 * nothing outside the engine includes it. virtqueue.c (enable, pop, push,
 * notifications: the ring indices) calls down into chain.c (walking a
 * chain's descriptors, copying through it, breaking the queue), never the
 * other way. The rules the engine enforces on the driver are listed at
 * the top of virtqueue.c. */
#ifndef SKIFF_VIRTQUEUE_RING_H
#define SKIFF_VIRTQUEUE_RING_H

#include <linux/virtio_ring.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "virtqueue/virtqueue.h"

#define DESC_SIZE 16u /* split and packed descriptors are both 16 bytes */

/* Packed ring slot, or NULL if `slot` is not in the ring (callers break
 * the queue: a slot index gone wrong is a bug we refuse to write through). */
static inline struct vring_packed_desc *packed_desc(const struct virtqueue *vq, uint16_t slot)
{
	if (slot >= vq->ring_size)
		return NULL;
	return (struct vring_packed_desc *)vq->desc_host + slot;
}

/* Mark the queue broken, keep the first reason in vq->broken_why; returns
 * -EIO. */
int vq_break(struct virtqueue *vq, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Walk the chain at `head` of a split ring, or at our slot of a packed
 * ring (its head flags already read with acquire), into *chain; 0, or
 * -EIO with the queue broken (chain.c). */
int vq_split_read_chain(struct virtqueue *vq, uint16_t head, struct vq_chain *chain);
int vq_packed_read_chain(struct virtqueue *vq, uint16_t head_flags, struct vq_chain *chain);

#endif
