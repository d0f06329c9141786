/* The virtqueue engine, device side (VIRTIO 1.2 §2.7 split rings, §2.8
 * packed rings). The driver runs on other CPUs and may be hostile.
 *
 * Rules we enforce on the driver; breaking any one stops the queue:
 *  - rings: size 1..32768 (a power of two for split), aligned as the spec
 *    says (descriptors 16, split avail 2, split used 4, packed event
 *    areas 4), wholly inside guest RAM;
 *  - split: the avail index never runs more than `size` ahead of us, the
 *    head and every `next` are inside their table;
 *  - every non-empty buffer [addr, addr+len) is guest RAM (zero-length
 *    buffers are allowed and simply skipped);
 *  - a chain holds at most `size` descriptors, counting the ones in an
 *    indirect table ("A driver MUST NOT create a descriptor chain longer
 *    than the Queue Size"), or the device's max_chain if that is larger:
 *    Linux sizes indirect tables by the device's seg_max, not by the
 *    ring; either bound also ends cyclic chains;
 *  - at most VQ_MAX_SEGS buffers per direction;
 *  - device-readable buffers come first ("The driver MUST place any
 *    device-writable descriptor elements after any device-readable ones");
 *  - indirect descriptors only if VIRTIO_F_INDIRECT_DESC was negotiated,
 *    table length a non-zero multiple of 16, no INDIRECT inside a table,
 *    and never INDIRECT together with NEXT (the spec forbids the
 *    combination; an INDIRECT descriptor may end a split chain of direct
 *    ones, as the spec requires devices to accept, but in a packed ring it
 *    must stand alone);
 *  - packed: the buffer id (taken from the chain's last descriptor, where
 *    the spec puts it) is < size.
 *
 * And on the device, because a device bug or a chain held across a queue
 * restart must never become a write outside the ring: a chain handed back
 * (vq_push, vq_unpop) has an id < size, 1..size descriptors, and no more
 * descriptors than the ring has out. The ring accessors bound every index
 * by ring_size, the size the rings were mapped with.
 *
 * Each descriptor is copied out of guest memory once and only the copy is
 * checked and used, so a driver changing it under us cannot slip a value
 * past the checks (no "double fetch").
 *
 * Memory ordering with the driver (x86 makes most fences free, but the
 * compiler must not reorder either):
 *  - split pop: read avail->idx with acquire, then ring entry/descriptors;
 *  - split push: used element, then used->idx with release;
 *  - packed pop: descriptor flags with acquire, then the rest;
 *  - packed push: id/len, then flags with release;
 *  - publishing a suppression field and then reading the other side's
 *    index is a store followed by a load: that needs a full fence, or
 *    both sides can miss each other's update and stall forever.
 * The indices and flags themselves carry acquire and release rather than
 * separate fences: the same instructions on x86, and ThreadSanitizer,
 * which does not model fences, then sees the hand-over too (a polling
 * device reads a ring no system call ordered for it).
 */
#include "virtqueue/virtqueue.h"

#include <errno.h>
#include <linux/virtio_ring.h>
#include <string.h>

#include "virtqueue/ring.h"

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

/* vring_need_event() of the spec: has `event` been passed moving from old
 * to new? All in 16-bit wrap-around arithmetic: true if event is in the
 * window [old, new). */
static bool need_event(uint16_t event, uint16_t new_idx, uint16_t old_idx)
{
	return (uint16_t)(new_idx - event - 1) < (uint16_t)(new_idx - old_idx);
}

/* Ring entries are reached only through the accessors below, which bound
 * every index by ring_size (the size the rings were mapped with): however
 * an index was computed, no access lands outside the ring. */

/* Split avail ring: flags, idx, ring[size], used_event. `idx` is a
 * free-running index; the ring size is a power of two. */
static uint16_t *avail_flags(const struct virtqueue *vq) { return (uint16_t *)vq->avail_host; }
static uint16_t *avail_idx(const struct virtqueue *vq) { return (uint16_t *)vq->avail_host + 1; }
static uint16_t *avail_ring(const struct virtqueue *vq, uint16_t idx)
{
	return (uint16_t *)vq->avail_host + 2 + (idx & (vq->ring_size - 1));
}
static uint16_t *used_event(const struct virtqueue *vq) { return (uint16_t *)vq->avail_host + 2 + vq->ring_size; }

/* Split used ring: flags, idx, ring[size] of {u32 id, u32 len}, avail_event. */
static uint16_t *used_flags(const struct virtqueue *vq) { return (uint16_t *)vq->used_host; }
static uint16_t *used_idx_field(const struct virtqueue *vq) { return (uint16_t *)vq->used_host + 1; }
static uint32_t *used_elem(const struct virtqueue *vq, uint16_t idx)
{
	return (uint32_t *)vq->used_host + 1 + 2 * (idx & (vq->ring_size - 1));
}
static uint16_t *avail_event(const struct virtqueue *vq) { return (uint16_t *)vq->used_host + 2 + 4 * vq->ring_size; }

/* Packed: avail_host is the driver's event suppression area, used_host
 * the device's (struct vring_packed_desc_event: off_wrap, flags). */
static struct vring_packed_desc_event *driver_event(const struct virtqueue *vq) { return vq->avail_host; }
static struct vring_packed_desc_event *device_event(const struct virtqueue *vq) { return vq->used_host; }

/* ---- ring layout ---- */

size_t vq_split_desc_bytes(uint16_t size)
{
	return (size_t)DESC_SIZE * size;
}

size_t vq_split_avail_bytes(uint16_t size)
{
	return 2 + 2 + 2 * (size_t)size + 2; /* flags, idx, ring[], used_event */
}

size_t vq_split_used_bytes(uint16_t size)
{
	return 2 + 2 + 8 * (size_t)size + 2; /* flags, idx, ring[], avail_event */
}

/* ---- enable / reset ---- */

/* Host pointer for a ring part, or NULL if it is not RAM. The host
 * pointer must be aligned like the guest address (it is, for page-aligned
 * mappings) so the atomic accesses above are aligned. */
static void *map_ring(const struct virtqueue *vq, uint64_t gpa, size_t len, size_t align)
{
	void *p = guest_mem_ptr(vq->mem, gpa, len);

	if (!p || ((uintptr_t)p & (align - 1)))
		return NULL;
	return p;
}

void vq_reset(struct virtqueue *vq)
{
	const struct guest_mem *mem = vq->mem;
	const char *name = vq->name;
	uint16_t max_chain = vq->max_chain; /* device policy, not driver state */

	memset(vq, 0, sizeof(*vq));
	vq->mem = mem;
	vq->name = name;
	vq->max_chain = max_chain;
}

int vq_enable(struct virtqueue *vq)
{
	size_t avail_len, used_len;

	/* Start from a clean engine state; the configuration stays. */
	vq->ready = false;
	vq->broken = false;
	vq->desc_host = vq->avail_host = vq->used_host = NULL;
	vq->last_avail = vq->used_idx = 0;
	vq->avail_wrap = vq->used_wrap = true; /* packed wrap counters start at 1 */
	vq->pending_used = 0;
	vq->slots_out = 0;
	vq->want_notify = true;
	vq->ring_size = 0; /* set once the rings are checked and mapped */

	if (vq->size == 0 || vq->size > VQ_MAX_SIZE || (!vq->packed && (vq->size & (vq->size - 1)))) {
		vq_break(vq, "bad queue size %u", vq->size);
		return -EINVAL;
	}
	if ((vq->desc_addr & 15) || (vq->packed ? (vq->avail_addr | vq->used_addr) & 3
						 : (vq->avail_addr & 1) || (vq->used_addr & 3))) {
		vq_break(vq, "misaligned ring (desc %#llx avail %#llx used %#llx)", (unsigned long long)vq->desc_addr,
			 (unsigned long long)vq->avail_addr, (unsigned long long)vq->used_addr);
		return -EINVAL;
	}

	/* From here on the engine uses this copy: a transport changing `size`
	 * later cannot move a ring access past what is mapped below. */
	vq->ring_size = vq->size;
	if (vq->packed) {
		avail_len = used_len = sizeof(struct vring_packed_desc_event);
	} else {
		/* The EVENT_IDX fields exist only when negotiated. */
		avail_len = vq_split_avail_bytes(vq->ring_size) - (vq->event_idx ? 0 : 2);
		used_len = vq_split_used_bytes(vq->ring_size) - (vq->event_idx ? 0 : 2);
	}
	vq->desc_host = map_ring(vq, vq->desc_addr, (size_t)DESC_SIZE * vq->ring_size, 16);
	vq->avail_host = map_ring(vq, vq->avail_addr, avail_len, vq->packed ? 4 : 2);
	vq->used_host = map_ring(vq, vq->used_addr, used_len, 4);
	if (!vq->desc_host || !vq->avail_host || !vq->used_host) {
		vq_break(vq, "ring outside guest RAM (desc %#llx avail %#llx used %#llx, size %u)",
			 (unsigned long long)vq->desc_addr, (unsigned long long)vq->avail_addr,
			 (unsigned long long)vq->used_addr, vq->ring_size);
		return -EFAULT;
	}

	/* The device owns these fields: say "kick us" from the first buffer. */
	if (vq->packed) {
		store16(&device_event(vq)->off_wrap, 0 | WRAP_BIT);
		store16(&device_event(vq)->flags,
			vq->event_idx ? VRING_PACKED_EVENT_FLAG_DESC : VRING_PACKED_EVENT_FLAG_ENABLE);
	} else {
		store16(used_flags(vq), 0);
		if (vq->event_idx)
			store16(avail_event(vq), 0);
	}
	vq->ready = true;
	return 0;
}

/* The driver's available index, with acquire: the ring entry and the
 * descriptors it covers are read after it. */
static uint16_t split_avail_idx(const struct virtqueue *vq)
{
	return __atomic_load_n((const uint16_t *)avail_idx(vq), __ATOMIC_ACQUIRE);
}

static int split_pop(struct virtqueue *vq, struct vq_chain *chain)
{
	uint16_t avail = split_avail_idx(vq);
	uint16_t head;

	if ((uint16_t)(avail - vq->last_avail) > vq->ring_size)
		return vq_break(vq, "avail idx %u is more than %u ahead of %u", avail, vq->ring_size, vq->last_avail);
	if (avail == vq->last_avail) {
		if (!vq->event_idx || !vq->want_notify)
			return 0;
		/* Going idle: ask for a kick at the next buffer, then look
		 * once more in case it came before the driver saw our request. */
		store16(avail_event(vq), vq->last_avail);
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		avail = split_avail_idx(vq);
		if (avail == vq->last_avail)
			return 0;
		if ((uint16_t)(avail - vq->last_avail) > vq->ring_size)
			return vq_break(vq, "avail idx %u is more than %u ahead of %u", avail, vq->ring_size,
					vq->last_avail);
	}
	head = load16(avail_ring(vq, vq->last_avail));
	if (head >= vq->ring_size)
		return vq_break(vq, "head index %u, queue size %u", head, vq->ring_size);
	chain->id = head;
	if (vq_split_read_chain(vq, head, chain) < 0)
		return -EIO;
	vq->last_avail++;
	vq->slots_out += chain->ndesc;
	return 1;
}

/* Is the packed descriptor at our slot available? (spec "Driver and
 * Device Ring Wrap Counters": AVAIL == our wrap counter, USED != it.) */
static bool packed_is_avail(const struct virtqueue *vq, uint16_t flags)
{
	return !!(flags & PACKED_AVAIL) == vq->avail_wrap && !!(flags & PACKED_USED) != vq->avail_wrap;
}

static int packed_pop(struct virtqueue *vq, struct vq_chain *chain)
{
	struct vring_packed_desc *head = packed_desc(vq, vq->last_avail);
	uint16_t flags;

	if (!head)
		return vq_break(vq, "packed slot %u outside a ring of %u", vq->last_avail, vq->ring_size);
	flags = __atomic_load_n(&head->flags, __ATOMIC_ACQUIRE);
	if (!packed_is_avail(vq, flags)) {
		if (!vq->event_idx || !vq->want_notify)
			return 0;
		/* Going idle: ask for a kick at this slot, then look again. */
		store16(&device_event(vq)->off_wrap, vq->last_avail | (vq->avail_wrap ? WRAP_BIT : 0));
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		flags = __atomic_load_n(&head->flags, __ATOMIC_ACQUIRE);
		if (!packed_is_avail(vq, flags))
			return 0;
	}
	if (vq_packed_read_chain(vq, flags, chain) < 0)
		return -EIO;
	vq->slots_out += chain->ndesc;
	vq->last_avail += chain->ndesc;
	if (vq->last_avail >= vq->ring_size) {
		vq->last_avail -= vq->ring_size;
		vq->avail_wrap = !vq->avail_wrap;
	}
	return 1;
}

int vq_pop(struct virtqueue *vq, struct vq_chain *chain)
{
	if (vq->broken)
		return -EIO;
	if (!vq->ready)
		return 0;
	chain->nout = chain->nin = 0;
	chain->out_bytes = chain->in_bytes = 0;
	return vq->packed ? packed_pop(vq, chain) : split_pop(vq, chain);
}

/* Could this ring have given out these n chains, still out? Every id and
 * descriptor count inside the ring, and no more descriptors than are out.
 * Checked before a chain moves an index: a chain popped before the queue
 * was restarted (its ring is gone) or any bug that would carry the used
 * index past the ring stops the queue instead of writing. */
static int chains_given_out(struct virtqueue *vq, const struct vq_chain *const *chains, unsigned n)
{
	uint64_t slots = 0;

	for (unsigned i = 0; i < n; i++) {
		const struct vq_chain *c = chains[i];

		if (c->id >= vq->ring_size || c->ndesc == 0 || c->ndesc > vq->ring_size)
			return vq_break(vq, "chain id %u of %u descriptors handed back to a ring of %u", c->id,
					c->ndesc, vq->ring_size);
		slots += c->ndesc;
	}
	if (slots > vq->slots_out)
		return vq_break(vq, "%llu descriptors handed back, %u were out", (unsigned long long)slots,
				vq->slots_out);
	vq->slots_out -= (uint32_t)slots;
	return 0;
}

int vq_unpop(struct virtqueue *vq, const struct vq_chain *chain)
{
	if (vq->broken || !vq->ready)
		return 0;
	if (chains_given_out(vq, &chain, 1) < 0)
		return -EIO;
	if (!vq->packed) {
		vq->last_avail--;
		return 0;
	}
	/* Step back over the chain's slots, into the previous lap if need be. */
	if (vq->last_avail < chain->ndesc) {
		vq->last_avail += vq->ring_size;
		vq->avail_wrap = !vq->avail_wrap;
	}
	vq->last_avail -= chain->ndesc;
	return 0;
}

/* ---- used buffers and interrupts ---- */

int vq_push(struct virtqueue *vq, const struct vq_chain *chain, uint32_t written)
{
	return vq_push_batch(vq, &chain, &written, 1);
}

int vq_push_batch(struct virtqueue *vq, const struct vq_chain *const *chains, const uint32_t *written, unsigned n)
{
	if (vq->broken || !vq->ready || n == 0)
		return 0;
	if (chains_given_out(vq, chains, n) < 0)
		return -EIO;

	if (!vq->packed) {
		/* Every element first, then one index update that covers them. */
		for (unsigned i = 0; i < n; i++) {
			uint32_t *elem = used_elem(vq, (uint16_t)(vq->used_idx + i));
			uint32_t len = written[i] > chains[i]->in_bytes ? (uint32_t)chains[i]->in_bytes : written[i];

			store32(&elem[0], chains[i]->id);
			store32(&elem[1], len); /* never claim more than the driver gave */
		}
		/* The elements (and the data written into the buffers before
		 * this push) must be visible before the index that covers them:
		 * a release store, which ThreadSanitizer understands (it does
		 * not model a lone fence). */
		vq->used_idx += n;
		__atomic_store_n(used_idx_field(vq), vq->used_idx, __ATOMIC_RELEASE);
	} else {
		/* The driver reads a batch from its first slot on: hand that slot
		 * back last, so it never sees the batch half written. */
		struct vring_packed_desc *first = packed_desc(vq, vq->used_idx);
		uint16_t first_flags = vq->used_wrap ? PACKED_AVAIL | PACKED_USED : 0;

		for (unsigned i = 0; i < n; i++) {
			struct vring_packed_desc *d = packed_desc(vq, vq->used_idx);
			uint16_t flags = vq->used_wrap ? PACKED_AVAIL | PACKED_USED : 0;
			uint32_t len = written[i] > chains[i]->in_bytes ? (uint32_t)chains[i]->in_bytes : written[i];

			/* Cannot happen after chains_given_out(); never write through it. */
			if (!d)
				return vq_break(vq, "used slot %u outside a ring of %u", vq->used_idx, vq->ring_size);
			store16(&d->id, chains[i]->id);
			store32(&d->len, len);
			/* id and len before the flags that hand the slot back. */
			if (i > 0)
				__atomic_store_n(&d->flags, flags, __ATOMIC_RELEASE);
			/* A used element stands for the whole chain: skip its slots. */
			vq->used_idx += chains[i]->ndesc;
			if (vq->used_idx >= vq->ring_size) {
				vq->used_idx -= vq->ring_size;
				vq->used_wrap = !vq->used_wrap;
			}
		}
		__atomic_store_n(&first->flags, first_flags, __ATOMIC_RELEASE);
	}
	/* For vq_needs_interrupt(); past 65536 it only matters that it is a lot. */
	for (unsigned i = 0; i < n && vq->pending_used <= UINT16_MAX; i++)
		vq->pending_used += vq->packed ? chains[i]->ndesc : 1;
	return 0;
}

/* Packed ring, driver asked for an interrupt at a given slot (spec "Event
 * Suppression Structure Format"). Like need_event() with the slot turned
 * into a 16-bit position: an event from the previous lap lies `size`
 * before ours. */
static bool packed_need_event(const struct virtqueue *vq, uint16_t off_wrap, unsigned pending)
{
	uint16_t event = (uint16_t)(off_wrap & ~WRAP_BIT);
	bool event_wrap = off_wrap & WRAP_BIT;
	uint16_t new_idx = vq->used_idx;

	if (pending >= vq->ring_size)
		return true; /* a whole lap since we last looked: surely passed */
	if (event_wrap != vq->used_wrap)
		event -= vq->ring_size;
	return need_event(event, new_idx, (uint16_t)(new_idx - pending));
}

bool vq_needs_interrupt(struct virtqueue *vq)
{
	unsigned pending = vq->pending_used;

	if (vq->broken || !vq->ready || pending == 0)
		return false;
	vq->pending_used = 0;
	/* Our used index store must be visible before we read the driver's
	 * wish; otherwise the driver may re-enable interrupts, miss our
	 * index, and wait for an interrupt we then decide not to send. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);

	if (!vq->packed) {
		if (!vq->event_idx)
			return !(load16(avail_flags(vq)) & VRING_AVAIL_F_NO_INTERRUPT);
		if (pending > UINT16_MAX)
			return true;
		return need_event(load16(used_event(vq)), vq->used_idx, (uint16_t)(vq->used_idx - pending));
	}

	uint16_t flags = load16(&driver_event(vq)->flags);
	if (flags == VRING_PACKED_EVENT_FLAG_DISABLE)
		return false;
	if (flags == VRING_PACKED_EVENT_FLAG_DESC && vq->event_idx) {
		/* Read off_wrap after flags: the driver writes it first. */
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		return packed_need_event(vq, load16(&driver_event(vq)->off_wrap), pending);
	}
	return true; /* ENABLE, or a value we do not know: better interrupt */
}

/* Has the driver made a buffer available that we have not popped? */
static bool more_avail(const struct virtqueue *vq)
{
	if (!vq->packed)
		return load16(avail_idx(vq)) != vq->last_avail;
	return packed_is_avail(vq, __atomic_load_n(&packed_desc(vq, vq->last_avail)->flags, __ATOMIC_ACQUIRE));
}

unsigned vq_avail_at_least(const struct virtqueue *vq, unsigned max)
{
	if (vq->broken || !vq->ready)
		return 0;
	if (!vq->packed) {
		uint16_t n = (uint16_t)(load16(avail_idx(vq)) - vq->last_avail);

		if (n > vq->ring_size)
			return max; /* a bad index: vq_pop() will say so */
		return n < max ? n : max;
	}
	unsigned n = 0;
	uint16_t i = vq->last_avail;
	bool wrap = vq->avail_wrap;

	while (n < max && n < vq->ring_size) {
		uint16_t flags = __atomic_load_n(&packed_desc(vq, i)->flags, __ATOMIC_ACQUIRE);

		if (!!(flags & PACKED_AVAIL) != wrap || !!(flags & PACKED_USED) == wrap)
			break;
		n++;
		if (++i == vq->ring_size) {
			i = 0;
			wrap = !wrap;
		}
	}
	return n;
}

bool vq_enable_notify(struct virtqueue *vq, bool enable)
{
	vq->want_notify = enable;
	if (vq->broken || !vq->ready)
		return false;

	if (!vq->packed) {
		if (!vq->event_idx)
			store16(used_flags(vq), enable ? 0 : VRING_USED_F_NO_NOTIFY);
		else if (enable)
			store16(avail_event(vq), vq->last_avail);
		/* With EVENT_IDX, disabling is just not moving avail_event:
		 * the driver kicks at most once more. */
	} else if (!enable) {
		store16(&device_event(vq)->flags, VRING_PACKED_EVENT_FLAG_DISABLE);
	} else if (vq->event_idx) {
		store16(&device_event(vq)->off_wrap, vq->last_avail | (vq->avail_wrap ? WRAP_BIT : 0));
		__atomic_thread_fence(__ATOMIC_RELEASE); /* off_wrap before flags */
		store16(&device_event(vq)->flags, VRING_PACKED_EVENT_FLAG_DESC);
	} else {
		store16(&device_event(vq)->flags, VRING_PACKED_EVENT_FLAG_ENABLE);
	}
	if (!enable)
		return false;
	/* Store then load: see the top of the file. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return more_avail(vq);
}
