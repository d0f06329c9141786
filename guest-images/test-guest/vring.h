/* Driver side of a VIRTIO split virtqueue, freestanding (no libc, no
 * allocation): the test guest's stand-in until the project's shared
 * driver-side ring code (virtqueue/driver.h) can be built in. Used from
 * ring 0 (set-up) and ring 3 (add, kick decision, used-ring polling), so
 * linker.ld places vring.o in the user section.
 *
 * Memory: the caller provides the three ring parts (any addresses that
 * satisfy the alignment rules: desc 16, avail 2, used 4; legacy transports
 * need the contiguous layout that vring_legacy_layout() computes) and, for
 * indirect descriptors, a table per request. Guest addresses = physical
 * (the test guest identity-maps memory). */
#ifndef TG_VRING_H
#define TG_VRING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VRING_DESC_F_NEXT 1
#define VRING_DESC_F_WRITE 2
#define VRING_DESC_F_INDIRECT 4
#define VRING_AVAIL_F_NO_INTERRUPT 1
#define VRING_USED_F_NO_NOTIFY 1

struct vring_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags, next;
};

struct vring_avail {
	uint16_t flags, idx;
	uint16_t ring[]; /* size entries, then used_event */
};

struct vring_used_elem {
	uint32_t id, len;
};

struct vring_used {
	uint16_t flags, idx;
	struct vring_used_elem ring[]; /* size entries, then avail_event */
};

struct vring_buf {
	uint64_t addr;
	uint32_t len;
	bool device_writes;
};

struct vring_drv {
	uint16_t size;
	volatile struct vring_desc *desc;
	volatile struct vring_avail *avail;
	volatile struct vring_used *used;
	bool event_idx;          /* VIRTIO_F_RING_EVENT_IDX negotiated */
	bool indirect;           /* VIRTIO_F_INDIRECT_DESC negotiated */
	uint16_t free_head, num_free;
	uint16_t avail_idx;      /* our copy of avail->idx */
	uint16_t kicked_idx;     /* avail_idx when we last decided about a kick */
	uint16_t last_used;      /* next used entry to read */
	uint16_t chain_len[1024]; /* descriptors per head, to free them (size <= VRING_MAX_SIZE) */
};

#define VRING_MAX_SIZE 1024

/* Bytes of each part for a queue of `size` entries (with the event fields). */
size_t vring_desc_bytes(uint16_t size);
size_t vring_avail_bytes(uint16_t size);
size_t vring_used_bytes(uint16_t size);
/* Legacy layout: desc, avail, then used at the next `align` boundary.
 * Returns the total size; *avail_off and *used_off relative to the start. */
size_t vring_legacy_layout(uint16_t size, size_t align, size_t *avail_off, size_t *used_off);

/* Zero the ring parts and build the free list. size must be a power of
 * two <= VRING_MAX_SIZE. Asks the device for no interrupts. */
void vring_drv_init(struct vring_drv *vq, uint16_t size, void *desc, void *avail, void *used, bool event_idx,
		    bool indirect);
/* Expose one chain: n buffers (driver-readable ones first). With
 * indirect_table (16 * n bytes, needs vq->indirect) the chain goes into
 * that table behind a single ring descriptor. Returns the head id, or -1
 * if the ring is full. The chain is published in avail->idx. */
int vring_drv_add(struct vring_drv *vq, const struct vring_buf *bufs, unsigned n, struct vring_desc *indirect_table);
/* Does the device want a notification for what was added since the last
 * call? (EVENT_IDX: avail_event; otherwise the NO_NOTIFY flag.) */
bool vring_drv_kick_needed(struct vring_drv *vq);
/* Is a used entry waiting? */
bool vring_drv_has_used(const struct vring_drv *vq);
/* Take the next used entry: returns its id (and *len), or -1 if none, or
 * -2 if the device returned an id that is not an outstanding head. */
int vring_drv_get_used(struct vring_drv *vq, uint32_t *len);

#endif
