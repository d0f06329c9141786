/* The driver side of split and packed virtqueues, without libc (see
 * driver.h). Spec references are section titles in VIRTIO 1.2, chapter
 * 2.7 (split virtqueues) and 2.8 (packed virtqueues).
 *
 * The ring formats, written out here rather than taken from a header so
 * a freestanding build needs nothing but the compiler:
 *   descriptor (split)   u64 addr, u32 len, u16 flags, u16 next
 *   descriptor (packed)  u64 addr, u32 len, u16 id,    u16 flags
 *   avail ring (split)   u16 flags, u16 idx, u16 ring[size], u16 used_event
 *   used ring (split)    u16 flags, u16 idx, {u32 id, u32 len}[size], u16 avail_event
 *   event area (packed)  u16 off_wrap, u16 flags
 */
#include "virtqueue/driver.h"

#define DESC_F_NEXT     1u
#define DESC_F_WRITE    2u
#define DESC_F_INDIRECT 4u
#define DESC_F_AVAIL    (1u << 7)  /* packed */
#define DESC_F_USED     (1u << 15) /* packed */

#define AVAIL_F_NO_INTERRUPT 1u /* split avail->flags */
#define USED_F_NO_NOTIFY     1u /* split used->flags */

#define EVENT_ENABLE  0u /* packed event area flags */
#define EVENT_DISABLE 1u
#define EVENT_DESC    2u
#define EVENT_WRAP    (1u << 15)

struct split_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

struct packed_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t id;
	uint16_t flags;
};

struct event_area {
	uint16_t off_wrap;
	uint16_t flags;
};

/* ---- small helpers (no libc) ---- */

static void zero(void *p, size_t n)
{
	/* volatile: keeps the compiler from turning the loop into memset(). */
	volatile uint8_t *b = p;

	while (n--)
		*b++ = 0;
}

static size_t align_up(size_t x, size_t a)
{
	return (x + a - 1) & ~(a - 1);
}

static uint16_t load16(const void *p)
{
	return __atomic_load_n((const uint16_t *)p, __ATOMIC_RELAXED);
}

static void store16(void *p, uint16_t v)
{
	__atomic_store_n((uint16_t *)p, v, __ATOMIC_RELAXED);
}

/* Between publishing our own field and reading the device's (a store then
 * a load) only a full fence keeps both sides from missing each other. */
static void full_fence(void)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

/* The spec's vring_need_event(): is event in [old, new) (mod 2^16)? */
static bool need_event(uint16_t event, uint16_t new_idx, uint16_t old_idx)
{
	return (uint16_t)(new_idx - event - 1) < (uint16_t)(new_idx - old_idx);
}

static uint64_t gpa_of(const struct vqd *q, const void *p)
{
	return q->mem_gpa + (uint64_t)((const uint8_t *)p - q->mem);
}

/* Split ring fields. */
static struct split_desc *split_desc(const struct vqd *q) { return q->desc; }
static uint16_t *avail_flags(const struct vqd *q) { return (uint16_t *)q->avail; }
static uint16_t *avail_idx(const struct vqd *q) { return (uint16_t *)q->avail + 1; }
static uint16_t *avail_ring(const struct vqd *q) { return (uint16_t *)q->avail + 2; }
static uint16_t *used_event(const struct vqd *q) { return (uint16_t *)q->avail + 2 + q->size; }
static uint16_t *used_flags(const struct vqd *q) { return (uint16_t *)q->used; }
static uint16_t *used_idx(const struct vqd *q) { return (uint16_t *)q->used + 1; }
static uint32_t *used_elem(const struct vqd *q, uint16_t i) { return (uint32_t *)q->used + 1 + 2 * i; }
static uint16_t *avail_event(const struct vqd *q) { return (uint16_t *)q->used + 2 + 4 * q->size; }

/* Packed ring: avail = driver event area, used = device event area. */
static struct packed_desc *packed_desc(const struct vqd *q) { return q->desc; }
static struct event_area *driver_event(const struct vqd *q) { return q->avail; }
static struct event_area *device_event(const struct vqd *q) { return q->used; }

static uint8_t *table_of(const struct vqd *q, uint16_t i)
{
	return q->tables + (size_t)i * VQD_INDIRECT_MAX * sizeof(struct split_desc);
}

/* ---- layout ---- */

struct layout {
	size_t avail, used, tables, slots, total;
};

static void layout(uint16_t size, bool packed, struct layout *l)
{
	size_t end;

	l->avail = 16 * (size_t)size; /* after the descriptors, 16-aligned */
	if (packed) {
		l->used = l->avail + sizeof(struct event_area);
		end = l->used + sizeof(struct event_area);
	} else {
		l->used = align_up(l->avail + 6 + 2 * (size_t)size, 4);
		end = l->used + 6 + 8 * (size_t)size;
	}
	l->tables = align_up(end, 16);
	l->slots = l->tables + (size_t)size * VQD_INDIRECT_MAX * sizeof(struct split_desc);
	l->total = l->slots + (size_t)size * sizeof(struct vqd_slot);
}

size_t vqd_mem_size(uint16_t size, bool packed)
{
	struct layout l;

	layout(size, packed, &l);
	return l.total;
}

static int init(struct vqd *q, uint16_t size, bool packed, void *mem, uint64_t mem_gpa, uint64_t features)
{
	struct layout l;

	if (size == 0 || size > 32768 || (!packed && (size & (size - 1))))
		return -VQD_EINVAL;
	if (((uintptr_t)mem & 15) || (mem_gpa & 15))
		return -VQD_EINVAL;

	layout(size, packed, &l);
	zero(q, sizeof(*q));
	zero(mem, l.total);
	q->size = size;
	q->packed = packed;
	q->event_idx = features & VQD_F_EVENT_IDX;
	q->indirect = features & VQD_F_INDIRECT_DESC;
	q->mem = mem;
	q->mem_gpa = mem_gpa;
	q->desc = q->mem;
	q->avail = q->mem + l.avail;
	q->used = q->mem + l.used;
	q->tables = q->mem + l.tables;
	q->slot = (struct vqd_slot *)(q->mem + l.slots);
	q->desc_gpa = mem_gpa;
	q->avail_gpa = mem_gpa + l.avail;
	q->used_gpa = mem_gpa + l.used;

	/* Everything is free: chain the free list 0 -> 1 -> ... */
	for (uint16_t i = 0; i < size; i++)
		q->slot[i].next = i + 1;
	q->free_head = 0;
	q->num_free = size;
	q->avail_wrap = q->used_wrap = true; /* packed wrap counters start at 1 */
	q->cb_enabled = true;
	/* Zeroed memory already means "interrupts on" (flags 0, used_event 0,
	 * packed EVENT_ENABLE); with EVENT_IDX on packed ask per descriptor. */
	if (packed && q->event_idx) {
		store16(&driver_event(q)->off_wrap, EVENT_WRAP);
		store16(&driver_event(q)->flags, EVENT_DESC);
	}
	return 0;
}

int vqd_init_split(struct vqd *q, uint16_t size, void *mem, uint64_t mem_gpa, uint64_t features)
{
	return init(q, size, false, mem, mem_gpa, features);
}

int vqd_init_packed(struct vqd *q, uint16_t size, void *mem, uint64_t mem_gpa, uint64_t features)
{
	return init(q, size, true, mem, mem_gpa, features);
}

/* ---- adding buffers ---- */

/* The i-th part of a buffer given as out[] then in[]. */
static const struct vqd_buf *part(const struct vqd_buf *out, unsigned nout, const struct vqd_buf *in, unsigned i)
{
	return i < nout ? &out[i] : &in[i - nout];
}

/* Fill an indirect table (same 16-byte layout for split and packed; in a
 * packed table NEXT is not used, the entries simply follow each other). */
static uint32_t fill_table(const struct vqd *q, uint8_t *table, const struct vqd_buf *out, unsigned nout,
			   const struct vqd_buf *in, unsigned total)
{
	for (unsigned i = 0; i < total; i++) {
		const struct vqd_buf *b = part(out, nout, in, i);
		uint16_t flags = i >= nout ? DESC_F_WRITE : 0;

		if (q->packed) {
			struct packed_desc *d = (struct packed_desc *)table + i;
			d->addr = b->addr;
			d->len = b->len;
			d->id = 0;
			d->flags = flags;
		} else {
			struct split_desc *d = (struct split_desc *)table + i;
			d->addr = b->addr;
			d->len = b->len;
			d->flags = flags | (i + 1 < total ? DESC_F_NEXT : 0);
			d->next = (uint16_t)(i + 1);
		}
	}
	return total * (uint32_t)sizeof(struct split_desc);
}

/* "Supplying Buffers to The Device" (split): descriptors, then the avail
 * ring entry, then (after a release fence) the avail index publishing it. */
static void split_add(struct vqd *q, const struct vqd_buf *out, unsigned nout, const struct vqd_buf *in,
		      unsigned total, void *token, bool indirect)
{
	uint16_t head = q->free_head, i = head, last = head;
	unsigned ndesc = indirect ? 1 : total;

	if (indirect) {
		struct split_desc *d = &split_desc(q)[head];
		uint8_t *table = table_of(q, head);

		d->len = fill_table(q, table, out, nout, in, total);
		d->addr = gpa_of(q, table);
		d->flags = DESC_F_INDIRECT;
	} else {
		for (unsigned k = 0; k < total; k++) {
			struct split_desc *d = &split_desc(q)[i];
			const struct vqd_buf *b = part(out, nout, in, k);

			d->addr = b->addr;
			d->len = b->len;
			d->flags = (k >= nout ? DESC_F_WRITE : 0) | (k + 1 < total ? DESC_F_NEXT : 0);
			d->next = q->slot[i].next;
			last = i;
			i = q->slot[i].next;
		}
	}
	q->free_head = q->slot[last].next;
	q->num_free -= ndesc;
	q->slot[head].token = token;
	q->slot[head].ndesc = ndesc;

	store16(&avail_ring(q)[q->avail_idx & (q->size - 1)], head);
	q->avail_idx++;
	/* Release: the descriptors and the ring entry before the index. */
	__atomic_store_n((uint16_t *)avail_idx(q), q->avail_idx, __ATOMIC_RELEASE);
}

/* "Supplying Buffers to The Device" (packed): write every descriptor, the
 * head's flags last with release, so the device never sees half a chain. */
static void packed_add(struct vqd *q, const struct vqd_buf *out, unsigned nout, const struct vqd_buf *in,
		       unsigned total, void *token, bool indirect)
{
	uint16_t id = q->free_head;
	uint16_t head = q->avail_idx, slot = head;
	bool wrap = q->avail_wrap;
	unsigned ndesc = indirect ? 1 : total;
	uint16_t head_flags = 0;

	for (unsigned k = 0; k < ndesc; k++) {
		struct packed_desc *d = &packed_desc(q)[slot];
		/* Available in lap `wrap`: AVAIL = wrap, USED = !wrap. */
		uint16_t flags = wrap ? DESC_F_AVAIL : DESC_F_USED;

		if (indirect) {
			uint8_t *table = table_of(q, id);

			d->len = fill_table(q, table, out, nout, in, total);
			d->addr = gpa_of(q, table);
			flags |= DESC_F_INDIRECT;
		} else {
			const struct vqd_buf *b = part(out, nout, in, k);

			d->addr = b->addr;
			d->len = b->len;
			flags |= (k >= nout ? DESC_F_WRITE : 0) | (k + 1 < ndesc ? DESC_F_NEXT : 0);
		}
		d->id = id; /* the device reads it from the last one */
		if (k == 0)
			head_flags = flags;
		else
			store16(&d->flags, flags);
		if (++slot == q->size) {
			slot = 0;
			wrap = !wrap;
		}
	}
	q->free_head = q->slot[id].next;
	q->num_free -= ndesc;
	q->slot[id].token = token;
	q->slot[id].ndesc = ndesc;
	q->avail_idx = slot;
	q->avail_wrap = wrap;
	__atomic_store_n(&packed_desc(q)[head].flags, head_flags, __ATOMIC_RELEASE);
}

int vqd_add(struct vqd *q, const struct vqd_buf *out, unsigned nout, const struct vqd_buf *in, unsigned nin,
	    void *token, bool use_indirect)
{
	unsigned total = nout + nin;
	bool indirect = use_indirect && q->indirect && total <= VQD_INDIRECT_MAX;
	unsigned ndesc = indirect ? 1 : total;

	if (total == 0 || !token || q->broken)
		return -VQD_EINVAL;
	if (ndesc > q->num_free)
		return -VQD_ENOSPC;
	if (q->packed)
		packed_add(q, out, nout, in, total, token, indirect);
	else
		split_add(q, out, nout, in, total, token, indirect);
	/* What avail_event / the device event area count: avail ring
	 * entries (one per buffer) on a split ring, ring slots on a packed one. */
	q->num_added += q->packed ? ndesc : 1;
	return 0;
}

/* "Available Buffer Notification Suppression" (split), "Event Suppression
 * Structure Format" (packed): the NO_NOTIFY flag, or with EVENT_IDX
 * avail_event (split) / the device event area (packed). */
bool vqd_kick_needed(struct vqd *q)
{
	uint32_t added = q->num_added;
	uint16_t new_idx = q->avail_idx;

	if (added == 0)
		return false;
	q->num_added = 0;
	full_fence(); /* our avail index out before we read the device's wish */

	if (!q->packed) {
		if (!q->event_idx)
			return !(load16(used_flags(q)) & USED_F_NO_NOTIFY);
		return added > 0xffff || need_event(load16(avail_event(q)), new_idx, (uint16_t)(new_idx - added));
	}

	uint16_t flags = load16(&device_event(q)->flags);
	if (flags == EVENT_DISABLE)
		return false;
	if (flags != EVENT_DESC || !q->event_idx)
		return true;
	__atomic_thread_fence(__ATOMIC_ACQUIRE); /* the device wrote off_wrap before flags */
	uint16_t off_wrap = load16(&device_event(q)->off_wrap);
	uint16_t event = (uint16_t)(off_wrap & ~EVENT_WRAP);
	if (added >= q->size)
		return true;
	/* An event in the previous lap lies `size` slots before ours. */
	if (!!(off_wrap & EVENT_WRAP) != q->avail_wrap)
		event -= q->size;
	return need_event(event, new_idx, (uint16_t)(new_idx - added));
}

/* ---- used buffers ---- */

/* Ask for an interrupt at the next used buffer (EVENT_IDX only). */
static void publish_used_event(struct vqd *q)
{
	if (!q->packed)
		store16(used_event(q), q->last_used);
	else
		store16(&driver_event(q)->off_wrap, q->last_used | (q->used_wrap ? EVENT_WRAP : 0));
}

static bool packed_is_used(const struct vqd *q, uint16_t flags)
{
	return !!(flags & DESC_F_AVAIL) == q->used_wrap && !!(flags & DESC_F_USED) == q->used_wrap;
}

static bool more_used(const struct vqd *q)
{
	if (!q->packed) /* acquire: pairs with the device's release store of used->idx */
		return __atomic_load_n(used_idx(q), __ATOMIC_ACQUIRE) != q->last_used;
	return packed_is_used(q, __atomic_load_n(&packed_desc(q)[q->last_used].flags, __ATOMIC_ACQUIRE));
}

/* Take back a buffer the device says it used; its id must be ours. */
static void *reclaim(struct vqd *q, uint32_t id)
{
	void *token;
	uint16_t ndesc;

	if (id >= q->size || !q->slot[id].token) {
		q->broken = true;
		return 0;
	}
	token = q->slot[id].token;
	ndesc = q->slot[id].ndesc;
	q->slot[id].token = 0;
	q->num_free += ndesc;
	if (!q->packed) {
		/* Put the chain's descriptors back on the free list. */
		uint16_t last = (uint16_t)id;
		for (uint16_t k = 1; k < ndesc; k++)
			last = q->slot[last].next;
		q->slot[last].next = q->free_head;
	} else {
		q->slot[id].next = q->free_head;
		/* The device skipped the chain's slots; so do we. */
		q->last_used += ndesc;
		if (q->last_used >= q->size) {
			q->last_used -= q->size;
			q->used_wrap = !q->used_wrap;
		}
	}
	q->free_head = (uint16_t)id;
	return token;
}

void *vqd_get_used(struct vqd *q, uint32_t *len)
{
	uint32_t id;

	if (q->broken)
		return 0;
	if (!more_used(q)) {
		if (!q->cb_enabled || !q->event_idx)
			return 0;
		/* Going to wait: ask for an interrupt at the next buffer, then
		 * look once more in case it came before the device saw that. */
		publish_used_event(q);
		full_fence();
		if (!more_used(q))
			return 0;
	}
	/* Read the entry only after seeing the index/flags that cover it. */
	__atomic_thread_fence(__ATOMIC_ACQUIRE);

	if (!q->packed) {
		uint32_t *elem = used_elem(q, q->last_used & (q->size - 1));
		id = __atomic_load_n(&elem[0], __ATOMIC_RELAXED);
		*len = __atomic_load_n(&elem[1], __ATOMIC_RELAXED);
		q->last_used++;
	} else {
		struct packed_desc *d = &packed_desc(q)[q->last_used];
		id = __atomic_load_n(&d->id, __ATOMIC_RELAXED);
		*len = __atomic_load_n(&d->len, __ATOMIC_RELAXED);
	}
	return reclaim(q, id);
}

/* "Used Buffer Notification Suppression" (split), "Event Suppression
 * Structure Format" (packed): the NO_INTERRUPT flag, or with EVENT_IDX
 * used_event / the driver event area. */
bool vqd_enable_cb(struct vqd *q)
{
	q->cb_enabled = true;
	if (q->event_idx)
		publish_used_event(q);
	if (!q->packed) {
		if (!q->event_idx)
			store16(avail_flags(q), 0);
	} else {
		__atomic_thread_fence(__ATOMIC_RELEASE); /* off_wrap before flags */
		store16(&driver_event(q)->flags, q->event_idx ? EVENT_DESC : EVENT_ENABLE);
	}
	full_fence();
	return more_used(q);
}

void vqd_disable_cb(struct vqd *q)
{
	q->cb_enabled = false;
	if (q->packed)
		store16(&driver_event(q)->flags, EVENT_DISABLE);
	else if (!q->event_idx)
		store16(avail_flags(q), AVAIL_F_NO_INTERRUPT);
	/* Split with EVENT_IDX: used_event simply stays behind, so the
	 * device interrupts at most once more. */
}
