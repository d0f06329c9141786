/* Driver side of a split virtqueue. See vring.h. */
#include "vring.h"

/* x86 is TSO: stores are not reordered with stores, loads not with
 * loads, so compiler barriers order those; a store followed by a load
 * of another location needs mfence (the kick decision). */
#define wmb() __asm__ volatile("" ::: "memory")
#define rmb() __asm__ volatile("" ::: "memory")
#define mb() __asm__ volatile("mfence" ::: "memory")

size_t vring_desc_bytes(uint16_t size) { return 16u * size; }
size_t vring_avail_bytes(uint16_t size) { return 6u + 2u * size; }
size_t vring_used_bytes(uint16_t size) { return 6u + 8u * size; }

size_t vring_legacy_layout(uint16_t size, size_t align, size_t *avail_off, size_t *used_off)
{
	*avail_off = vring_desc_bytes(size);
	*used_off = (*avail_off + vring_avail_bytes(size) + align - 1) & ~(align - 1);
	return *used_off + vring_used_bytes(size);
}

static volatile uint16_t *used_event(struct vring_drv *vq) { return &vq->avail->ring[vq->size]; }
static volatile uint16_t *avail_event(struct vring_drv *vq) { return (volatile uint16_t *)&vq->used->ring[vq->size]; }

void vring_drv_init(struct vring_drv *vq, uint16_t size, void *desc, void *avail, void *used, bool event_idx,
		    bool indirect)
{
	vq->size = size;
	vq->desc = desc;
	vq->avail = avail;
	vq->used = used;
	vq->event_idx = event_idx;
	vq->indirect = indirect;
	for (size_t i = 0; i < vring_desc_bytes(size); i++)
		((volatile uint8_t *)desc)[i] = 0;
	for (size_t i = 0; i < vring_avail_bytes(size); i++)
		((volatile uint8_t *)avail)[i] = 0;
	for (size_t i = 0; i < vring_used_bytes(size); i++)
		((volatile uint8_t *)used)[i] = 0;
	for (uint16_t i = 0; i < size; i++) {
		vq->desc[i].next = (uint16_t)(i + 1);
		vq->chain_len[i] = 0;
	}
	vq->free_head = 0;
	vq->num_free = size;
	vq->avail_idx = vq->kicked_idx = vq->last_used = 0;
	/* We poll: no interrupts please. With EVENT_IDX the flag is ignored and
	 * used_event decides; one behind our position means "not before the
	 * index wraps all the way round". */
	vq->avail->flags = VRING_AVAIL_F_NO_INTERRUPT;
	if (event_idx)
		*used_event(vq) = (uint16_t)(vq->last_used - 1);
}

int vring_drv_add(struct vring_drv *vq, const struct vring_buf *bufs, unsigned n, struct vring_desc *indirect_table)
{
	unsigned need = indirect_table ? 1 : n;

	if (n == 0 || need > vq->num_free || (indirect_table && !vq->indirect))
		return -1;
	uint16_t head = vq->free_head, d = head;
	if (indirect_table) {
		for (unsigned i = 0; i < n; i++) {
			indirect_table[i].addr = bufs[i].addr;
			indirect_table[i].len = bufs[i].len;
			indirect_table[i].flags = (uint16_t)((bufs[i].device_writes ? VRING_DESC_F_WRITE : 0) |
							    (i + 1 < n ? VRING_DESC_F_NEXT : 0));
			indirect_table[i].next = (uint16_t)(i + 1);
		}
		vq->desc[d].addr = (uint64_t)(uintptr_t)indirect_table;
		vq->desc[d].len = (uint32_t)(16 * n);
		vq->desc[d].flags = VRING_DESC_F_INDIRECT;
		vq->free_head = vq->desc[d].next;
	} else {
		for (unsigned i = 0; i < n; i++) {
			vq->desc[d].addr = bufs[i].addr;
			vq->desc[d].len = bufs[i].len;
			vq->desc[d].flags = (uint16_t)((bufs[i].device_writes ? VRING_DESC_F_WRITE : 0) |
						       (i + 1 < n ? VRING_DESC_F_NEXT : 0));
			if (i + 1 < n)
				d = vq->desc[d].next;
		}
		vq->free_head = vq->desc[d].next;
	}
	vq->num_free = (uint16_t)(vq->num_free - need);
	vq->chain_len[head] = (uint16_t)need;

	vq->avail->ring[vq->avail_idx & (vq->size - 1)] = head;
	wmb(); /* descriptors and ring entry before the index */
	vq->avail_idx++;
	vq->avail->idx = vq->avail_idx;
	return head;
}

bool vring_drv_kick_needed(struct vring_drv *vq)
{
	uint16_t old = vq->kicked_idx, new = vq->avail_idx;

	mb(); /* the avail->idx store must be visible before we read the device's wishes */
	vq->kicked_idx = new;
	if (vq->event_idx) {
		uint16_t event = *avail_event(vq);
		return (uint16_t)(new - event - 1) < (uint16_t)(new - old);
	}
	return !(vq->used->flags & VRING_USED_F_NO_NOTIFY);
}

bool vring_drv_has_used(const struct vring_drv *vq)
{
	return vq->used->idx != vq->last_used;
}

int vring_drv_get_used(struct vring_drv *vq, uint32_t *len)
{
	if (vq->used->idx == vq->last_used)
		return -1;
	rmb(); /* the index before the entry it covers */
	volatile struct vring_used_elem *e = &vq->used->ring[vq->last_used & (vq->size - 1)];
	uint32_t id = e->id;
	*len = e->len;
	vq->last_used++;
	if (vq->event_idx)
		*used_event(vq) = (uint16_t)(vq->last_used - 1);
	if (id >= vq->size || vq->chain_len[id] == 0)
		return -2;

	/* Free the chain: walk `chain_len` descriptors from the head. */
	uint16_t n = vq->chain_len[id], d = (uint16_t)id;
	for (uint16_t i = 1; i < n; i++)
		d = vq->desc[d].next;
	vq->desc[d].next = vq->free_head;
	vq->free_head = (uint16_t)id;
	vq->num_free = (uint16_t)(vq->num_free + n);
	vq->chain_len[id] = 0;
	return (int)id;
}
