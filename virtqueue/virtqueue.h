/* The virtqueue engine: the device side of VIRTIO split and packed rings,
 * shared by every device model in skiff.
 *
 * A device model sees chains of buffers: vq_pop() gives the next chain the
 * driver made available, split into driver-to-device ("out") and
 * device-to-driver ("in") segments; vq_chain_read()/vq_chain_write() copy
 * data through them; vq_push() hands the chain back as used with the
 * number of bytes written; vq_needs_interrupt() says whether the driver
 * wants an interrupt now (EVENT_IDX or the NO_INTERRUPT flag).
 *
 * The guest is hostile: every address is checked (start and end, overflow
 * safe) against guest RAM, chains are bounded by the queue size, indices
 * are range-checked, indirect tables must be a non-zero multiple of 16
 * bytes and may not nest, a device-readable descriptor may not follow a
 * device-writable one, and each descriptor is read from guest memory
 * exactly once (the rules, with the spec sections, are in virtqueue.c).
 * Any violation marks the queue broken: vq_pop() returns -EIO from then on,
 * vq->broken_why says what the driver did, and the device core sets
 * DEVICE_NEEDS_RESET (and logs it, rate-limited). Nothing outside guest RAM is
 * ever touched, and the engine's ring writes cannot leave the rings: each
 * ring index is checked against the size the rings were mapped with.
 *
 * The usual device loop never misses a kick:
 *     while ((ret = vq_pop(vq, &chain)) == 1) { serve; vq_push(...); }
 *     if (vq_needs_interrupt(vq)) interrupt the driver;
 * because vq_pop() finding the ring empty re-arms notifications (with
 * EVENT_IDX it publishes avail_event and re-checks the ring).
 *
 * Locking: a virtqueue is used by one thread at a time (the device's
 * lock); the engine orders its own guest-memory accesses with fences.
 */
#ifndef SKIFF_VIRTQUEUE_H
#define SKIFF_VIRTQUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "base/guest-mem.h"

#define VQ_MAX_SIZE 32768     /* the specification's limit */
/* Buffers per direction a chain may hold (the storage in struct vq_chain).
 * A device advertising seg_max must keep seg_max + its header/status
 * descriptors at or below this; a longer chain breaks the queue. */
#define VQ_MAX_SEGS 512

struct vq_seg {
	uint64_t addr; /* guest physical, already checked: [addr, addr+len) is RAM */
	uint32_t len;
};

struct vq_chain {
	uint16_t id;        /* head index (split) or buffer id (packed) */
	uint16_t ndesc;     /* ring slots the chain used (an indirect table counts 1) */
	unsigned nout, nin;
	struct vq_seg out[VQ_MAX_SEGS]; /* driver -> device, readable */
	struct vq_seg in[VQ_MAX_SEGS];  /* device -> driver, writable */
	uint64_t out_bytes, in_bytes;   /* totals */
};

struct virtqueue {
	const struct guest_mem *mem;
	const char *name;    /* for log lines, e.g. "virtio-rng0.q0" */

	/* Set by the transport from the driver's configuration. */
	uint16_t size;       /* number of entries */
	uint64_t desc_addr;  /* descriptor table (split) / descriptor ring (packed) */
	uint64_t avail_addr; /* available ring (split) / driver event suppression (packed) */
	uint64_t used_addr;  /* used ring (split) / device event suppression (packed) */
	/* Negotiated features that change the ring format or behaviour. */
	bool packed;         /* VIRTIO_F_RING_PACKED */
	bool event_idx;      /* VIRTIO_F_RING_EVENT_IDX */
	bool indirect;       /* VIRTIO_F_INDIRECT_DESC */
	/* Set by the device from its config: the longest chain it accepts, in
	 * descriptors holding buffers (e.g. virtio-blk seg_max + 2). Linux
	 * builds indirect tables of that length even when the ring is
	 * shorter. 0 = the queue size (the spec's rule). Kept across vq_reset(). */
	uint16_t max_chain;

	/* Set by vq_enable() when the rings checked out; transports read it. */
	bool ready;

	/* Engine state (do not touch from devices/transports). */
	uint16_t ring_size;    /* `size` as vq_enable() checked and mapped it: every
				  ring access is bounded by this, never by `size` */
	bool broken;
	char broken_why[120];  /* what the driver did, for the log line of whoever asks for the reset */
	bool want_notify;      /* device wants kicks (vq_enable_notify) */
	void *desc_host;       /* host pointers to the rings, checked by vq_enable() */
	void *avail_host;
	void *used_host;
	uint16_t last_avail;   /* split: next avail index to read; packed: next descriptor slot */
	bool avail_wrap;       /* packed: driver wrap counter we expect */
	uint16_t used_idx;     /* split: next used index; packed: next used slot */
	bool used_wrap;        /* packed: device wrap counter */
	unsigned pending_used; /* used entries (split) / ring slots (packed) written
				  since the last vq_needs_interrupt() */
	uint32_t slots_out;    /* ring descriptors popped and not yet pushed */
};

/* Check the ring addresses against guest RAM and start using the queue
 * (the driver set queue_enable / DRIVER_OK): sets vq->ready. -EINVAL for
 * a bad size or misaligned ring, -EFAULT if a ring is not RAM; on error
 * the queue is broken (vq_pop() returns -EIO) until vq_reset(). */
int vq_enable(struct virtqueue *vq);
/* Forget all state (device reset); keeps mem and name. */
void vq_reset(struct virtqueue *vq);

/* Next available chain: 1 = *chain filled, 0 = none available, -EIO =
 * the driver broke the rules (queue is now broken, vq->broken_why says why). */
int vq_pop(struct virtqueue *vq, struct vq_chain *chain);
/* Give the most recently popped chain back unused (e.g. no room to serve
 * it yet): the next vq_pop() returns it again. 0, or -EIO if this ring
 * cannot have given the chain out (the queue is then broken, as for
 * vq_push()). */
int vq_unpop(struct virtqueue *vq, const struct vq_chain *chain);

/* Copy between a chain's segments and a host buffer, starting at byte
 * offset within the out (read) or in (write) segments. Return bytes copied. */
size_t vq_chain_read(const struct virtqueue *vq, const struct vq_chain *chain, size_t offset, void *dst, size_t len);
size_t vq_chain_write(const struct virtqueue *vq, const struct vq_chain *chain, size_t offset, const void *src,
		      size_t len);

/* The chain's device-readable (writable = false) or device-writable
 * segments as host iovecs pointing into guest RAM, for readv/writev or
 * io_uring without copying. Returns the number filled, or -ENOSPC if max
 * is too small. The pointers stay valid while the guest's RAM is mapped
 * (the whole run); the guest may change the bytes under us at any time. */
int vq_chain_iov(const struct virtqueue *vq, const struct vq_chain *chain, bool writable, struct iovec *iov,
		 unsigned max);

/* Return a chain as used with `written` bytes written into its in segments
 * (clamped to chain->in_bytes). Ignored on a broken or stopped queue.
 * A chain this ring cannot have given out (id or descriptor count beyond
 * the ring, more descriptors than are out: e.g. one popped before the
 * queue was restarted) writes nothing and breaks the queue: -EIO, and the
 * caller sets DEVICE_NEEDS_RESET. 0 otherwise. */
int vq_push(struct virtqueue *vq, const struct vq_chain *chain, uint32_t written);

/* Return n chains as used at once: the driver sees all of them or none
 * (virtio-net's mergeable rx buffers: one frame over several chains).
 * Checked as vq_push(), all chains before anything is written. */
int vq_push_batch(struct virtqueue *vq, const struct vq_chain *const *chains, const uint32_t *written, unsigned n);

/* After one or more vq_push(): does the driver want an interrupt now? */
bool vq_needs_interrupt(struct virtqueue *vq);

/* How many buffers the driver has made available that vq_pop() has not
 * taken yet, counted up to max: chains on a split ring, descriptors on a
 * packed one. Reads the ring, changes nothing. */
unsigned vq_avail_at_least(const struct virtqueue *vq, unsigned max);

/* Device-side notification suppression: ask the driver not to kick us
 * (false) while we are polling, or to kick again (true). With EVENT_IDX,
 * enabling also publishes avail_event. Returns true if more buffers
 * arrived meanwhile (so the caller should poll again). */
bool vq_enable_notify(struct virtqueue *vq, bool enable);

/* Sizes of the split ring parts (with the EVENT_IDX fields), for
 * transports computing legacy layouts. */
size_t vq_split_desc_bytes(uint16_t size);
size_t vq_split_avail_bytes(uint16_t size);
size_t vq_split_used_bytes(uint16_t size);

#endif
