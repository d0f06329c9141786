/* The virtqueue engine's own view of the rings, shared by its files
 * (virtqueue.c: enable, pop, push, notifications; chain.c: walking a
 * chain's descriptors and copying through it). Private to virtqueue/:
 * nothing outside the engine includes it. The rules the engine enforces
 * on the driver are listed at the top of virtqueue.c. */
#ifndef SKIFF_VIRTQUEUE_RING_H
#define SKIFF_VIRTQUEUE_RING_H

#include <linux/virtio_ring.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "virtqueue/virtqueue.h"

#define DESC_SIZE 16u /* split and packed descriptors are both 16 bytes */

/* Packed descriptor flag bits (the uapi header gives bit numbers). */
#define PACKED_AVAIL (1u << VRING_PACKED_DESC_F_AVAIL)
#define PACKED_USED  (1u << VRING_PACKED_DESC_F_USED)
#define WRAP_BIT     (1u << VRING_PACKED_EVENT_F_WRAP_CTR)

/* ---- shared-memory access ---- */

static inline uint16_t load16(const void *p)
{
	return __atomic_load_n((const uint16_t *)p, __ATOMIC_RELAXED);
}

static inline void store16(void *p, uint16_t v)
{
	__atomic_store_n((uint16_t *)p, v, __ATOMIC_RELAXED);
}

static inline void store32(void *p, uint32_t v)
{
	__atomic_store_n((uint32_t *)p, v, __ATOMIC_RELAXED);
}

/* Copy one descriptor out of guest memory. The compiler barrier keeps the
 * compiler from re-reading guest memory later instead of using the copy.
 * memcpy because indirect tables need not be aligned. */
static inline void read_desc(void *copy, const void *guest)
{
	memcpy(copy, guest, DESC_SIZE);
	__asm__ __volatile__("" ::: "memory");
}

/* vring_need_event() of the spec: has `event` been passed moving from old
 * to new? All in 16-bit wrap-around arithmetic: true if event is in the
 * window [old, new). */
static inline bool need_event(uint16_t event, uint16_t new_idx, uint16_t old_idx)
{
	return (uint16_t)(new_idx - event - 1) < (uint16_t)(new_idx - old_idx);
}

/* Ring entries are reached only through the accessors below, which bound
 * every index by ring_size (the size the rings were mapped with): however
 * an index was computed, no access lands outside the ring. */

/* Split avail ring: flags, idx, ring[size], used_event. `idx` is a
 * free-running index; the ring size is a power of two. */
static inline uint16_t *avail_flags(const struct virtqueue *vq) { return (uint16_t *)vq->avail_host; }
static inline uint16_t *avail_idx(const struct virtqueue *vq) { return (uint16_t *)vq->avail_host + 1; }
static inline uint16_t *avail_ring(const struct virtqueue *vq, uint16_t idx)
{
	return (uint16_t *)vq->avail_host + 2 + (idx & (vq->ring_size - 1));
}
static inline uint16_t *used_event(const struct virtqueue *vq) { return (uint16_t *)vq->avail_host + 2 + vq->ring_size; }

/* Split used ring: flags, idx, ring[size] of {u32 id, u32 len}, avail_event. */
static inline uint16_t *used_flags(const struct virtqueue *vq) { return (uint16_t *)vq->used_host; }
static inline uint16_t *used_idx_field(const struct virtqueue *vq) { return (uint16_t *)vq->used_host + 1; }
static inline uint32_t *used_elem(const struct virtqueue *vq, uint16_t idx)
{
	return (uint32_t *)vq->used_host + 1 + 2 * (idx & (vq->ring_size - 1));
}
static inline uint16_t *avail_event(const struct virtqueue *vq) { return (uint16_t *)vq->used_host + 2 + 4 * vq->ring_size; }

/* Packed: avail_host is the driver's event suppression area, used_host
 * the device's (struct vring_packed_desc_event: off_wrap, flags). */
static inline struct vring_packed_desc_event *driver_event(const struct virtqueue *vq) { return vq->avail_host; }
static inline struct vring_packed_desc_event *device_event(const struct virtqueue *vq) { return vq->used_host; }
/* Packed ring slot, or NULL if `slot` is not in the ring (callers break
 * the queue: a slot index gone wrong is a bug we refuse to write through). */
static inline struct vring_packed_desc *packed_desc(const struct virtqueue *vq, uint16_t slot)
{
	if (slot >= vq->ring_size)
		return NULL;
	return (struct vring_packed_desc *)vq->desc_host + slot;
}

/* Mark the queue broken, keep the first reason in vq->broken_why; returns
 * -EIO (virtqueue.c). */
int vq_break(struct virtqueue *vq, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Walk the chain at `head` of a split ring, or at our slot of a packed
 * ring (its head flags already read with acquire), into *chain; 0, or
 * -EIO with the queue broken (chain.c). */
int vq_split_read_chain(struct virtqueue *vq, uint16_t head, struct vq_chain *chain);
int vq_packed_read_chain(struct virtqueue *vq, uint16_t head_flags, struct vq_chain *chain);

#endif
