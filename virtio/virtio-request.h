/* A request: one chain the driver made available, as a device model sees
 * it. It has a device-readable part (what the driver sent) and a
 * device-writable part (room for the answer); the device reads and
 * writes them by byte offset, or asks for iovecs into guest RAM for
 * zero-copy I/O, and completes the request with the number of bytes it
 * wrote. Device models use these calls only: the ring formats, the
 * chain's buffers and the checks against guest RAM stay in the virtio
 * core and the virtqueue engine below it.
 *
 * Lifetime: virtio_request_pop() (dev->lock held, e.g. in queue_notify)
 * -> read / write / iov, now or later on any thread
 * -> virtio_request_complete*() exactly once (or virtio_request_unpop()).
 */
#ifndef SKIFF_VIRTIO_REQUEST_H
#define SKIFF_VIRTIO_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "virtqueue/virtqueue.h"

/* Buffers per direction a request may hold: iovec arrays for
 * virtio_request_iov() of this size always suffice. */
#define VIRTIO_REQUEST_MAX_BUFS VQ_MAX_SEGS

struct virtio_device;

/* One popped chain, kept by the device until it completes it. The fields
 * belong to the virtio core: use the calls below. */
struct virtio_request {
	struct virtio_device *dev;
	unsigned q;
	uint32_t epoch;            /* dev->queue_epoch[q] when popped */
	struct vq_chain chain;     /* buffers, already checked against guest RAM */
};

/* Pop the next chain of queue q into req (dev->lock held, e.g. in
 * queue_notify). 1 = popped (now in flight), 0 = queue empty, -EIO = the
 * driver broke the ring (the device now needs a reset). */
int virtio_request_pop(struct virtio_device *dev, unsigned q, struct virtio_request *req);
/* How many requests (at most max) queue q holds that the device has not
 * popped, for a device deciding whether a kick brought enough to serve
 * now (dev->lock held). A packed ring counts descriptors. */
unsigned virtio_request_available(struct virtio_device *dev, unsigned q, unsigned max);
/* Give the most recently popped request back unserved (dev->lock held). */
void virtio_request_unpop(struct virtio_request *req);

/* Bytes the driver gave: device-readable (sent by the driver) and
 * device-writable (room for the answer). Inline: the receive path asks
 * several times per chain. */
static inline uint64_t virtio_request_readable(const struct virtio_request *req)
{
	return req->chain.out_bytes;
}
static inline uint64_t virtio_request_writable(const struct virtio_request *req)
{
	return req->chain.in_bytes;
}
/* The lengths of its buffers, in order (for limits such as seg_max and
 * size_max): how many there are in one direction, and buffer i's bytes. */
unsigned virtio_request_nbufs(const struct virtio_request *req, bool writable);
uint32_t virtio_request_buf_len(const struct virtio_request *req, bool writable, unsigned i);

/* Copy len bytes from offset of the readable part into dst, or from src
 * into the writable part at offset. Return the bytes copied (fewer when
 * the part ends first). */
size_t virtio_request_read(const struct virtio_request *req, size_t offset, void *dst, size_t len);
size_t virtio_request_write(const struct virtio_request *req, size_t offset, const void *src, size_t len);
/* The readable (writable = false) or writable buffers as iovecs into
 * guest RAM, for readv/writev or io_uring without copying. Returns the
 * number filled, or -ENOSPC if max is too small. The guest may change the
 * bytes under us at any time. */
int virtio_request_iov(const struct virtio_request *req, bool writable, struct iovec *iov, unsigned max);

/* Done: return it as used with `written` bytes and interrupt the driver
 * if it wants one. Any thread, any order; dev->lock must NOT be held (it
 * is taken here). A request popped before a reset, or before its queue
 * was disabled, is dropped silently: its rings are gone. */
void virtio_request_complete(struct virtio_request *req, uint32_t written);
/* The same from inside queue_notify (dev->lock held). */
void virtio_request_complete_locked(struct virtio_request *req, uint32_t written);
/* Batched completion (dev->lock held): return it as used without an
 * interrupt; after the batch, call virtio_device_notify_used() once for
 * each queue it touched (EVENT_IDX then decides on one interrupt). */
void virtio_request_push_locked(struct virtio_request *req, uint32_t written);
/* Complete n requests of one queue, popped together under dev->lock, as
 * one batch: the driver sees all of them used or none (virtio-net spreads
 * one received frame over several chains). n <= VIRTIO_REQUEST_BATCH_MAX. */
#define VIRTIO_REQUEST_BATCH_MAX 64
void virtio_request_complete_batch_locked(struct virtio_request *reqs, const uint32_t *written, unsigned n);

#endif
