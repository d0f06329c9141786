/* The driver side of VIRTIO split and packed rings: what a guest driver
 * does to hand buffers to a device and get them back (VIRTIO 1.2, 2.7
 * "Split Virtqueues" and 2.8 "Packed Virtqueues": "Supplying Buffers to
 * The Device", "Receiving Used Buffers From The Device").
 *
 * It needs no C library (only <stdint.h>, <stddef.h>, <stdbool.h>) so the
 * same file builds into a freestanding test guest and into the host unit
 * tests. It works on one block of memory the caller provides:
 *   mem      where the code reaches that memory (a pointer), and
 *   mem_gpa  where the device finds it (a guest physical address).
 * A guest with an identity mapping passes mem_gpa == (uintptr_t)mem; the
 * unit tests pass a piece of their fake guest RAM and its fake address.
 * The rings, the indirect tables and the driver's own bookkeeping all live
 * in that block (vqd_mem_size() bytes, 16-byte aligned).
 *
 * Buffers are given by guest physical address (struct vqd_buf): the
 * caller translates. Each buffer handed to vqd_add() carries a token (any
 * non-NULL pointer) that vqd_get_used() returns when the device is done.
 *
 * Not thread-safe: one user at a time, as with the device side.
 */
#ifndef SKIFF_VIRTQUEUE_DRIVER_H
#define SKIFF_VIRTQUEUE_DRIVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Feature bits this code understands (the VIRTIO bit numbers). */
#define VQD_F_INDIRECT_DESC (1ull << 28)
#define VQD_F_EVENT_IDX     (1ull << 29)

/* Negative return values, equal to the Linux errno numbers. */
#define VQD_EINVAL 22
#define VQD_ENOSPC 28

/* Descriptors in one indirect table (one table per buffer id). */
#define VQD_INDIRECT_MAX 16

struct vqd_buf {
	uint64_t addr; /* guest physical */
	uint32_t len;
};

/* Private per-entry bookkeeping (split: per descriptor; packed: per id). */
struct vqd_slot {
	void *token;    /* non-NULL while the device owns the buffer */
	uint16_t ndesc; /* ring descriptors the buffer uses */
	uint16_t next;  /* free list link */
};

struct vqd {
	uint16_t size;
	bool packed, event_idx, indirect;
	bool broken;         /* the device returned an impossible id */

	/* What the transport tells the device (queue_desc/driver/device). */
	uint64_t desc_gpa, avail_gpa, used_gpa;

	/* Internal state. */
	uint8_t *mem;
	uint64_t mem_gpa;
	void *desc, *avail, *used;     /* shared ring parts (packed: event areas) */
	uint8_t *tables;               /* indirect tables */
	struct vqd_slot *slot;
	uint16_t free_head;            /* free list of descriptors (split) / ids (packed) */
	uint16_t num_free;             /* free descriptors (split) / ring slots (packed) */
	uint16_t avail_idx;            /* split: next avail index; packed: next slot */
	bool avail_wrap;               /* packed driver wrap counter */
	uint16_t last_used;            /* split: next used index; packed: next slot */
	bool used_wrap;                /* packed: wrap counter of last_used */
	uint32_t num_added;            /* split: buffers, packed: ring slots added since the last kick check */
	bool cb_enabled;               /* we want used-buffer interrupts */
};

/* Bytes of memory a queue of this size needs. */
size_t vqd_mem_size(uint16_t size, bool packed);

/* Lay out and zero a queue in mem. features: VQD_F_* bits that were
 * negotiated. -VQD_EINVAL for a bad size (split: power of two) or
 * misaligned memory. Interrupts start enabled. */
int vqd_init_split(struct vqd *q, uint16_t size, void *mem, uint64_t mem_gpa, uint64_t features);
int vqd_init_packed(struct vqd *q, uint16_t size, void *mem, uint64_t mem_gpa, uint64_t features);

/* Make one buffer available: nout device-readable parts then nin
 * device-writable parts. With use_indirect (and the feature, and at most
 * VQD_INDIRECT_MAX parts) the parts go into an indirect table and take a
 * single ring descriptor. Returns 0, -VQD_ENOSPC if the ring is full, or
 * -VQD_EINVAL (no parts, NULL token). */
int vqd_add(struct vqd *q, const struct vqd_buf *out, unsigned nout, const struct vqd_buf *in, unsigned nin,
	    void *token, bool use_indirect);

/* After one or more vqd_add(): does the device want a notification? */
bool vqd_kick_needed(struct vqd *q);

/* Next used buffer: its token and, in *len, the bytes the device wrote;
 * NULL if none (or the device misbehaved: q->broken). Finding none
 * re-arms the interrupt when enabled, so "drain, then wait" is safe. */
void *vqd_get_used(struct vqd *q, uint32_t *len);

/* Used-buffer interrupt suppression (only a hint to the device).
 * vqd_enable_cb() returns true if used buffers are already waiting. */
bool vqd_enable_cb(struct vqd *q);
void vqd_disable_cb(struct vqd *q);

#endif
