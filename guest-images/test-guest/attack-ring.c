/* Attacks on the rings and the transports' queue and status registers,
 * driven on virtio-rng (every transport): bad descriptors and indirect
 * tables, rings at the end of RAM or outside it, queue sizes, features,
 * queues restarted under requests in flight, reset storms. */
#include "attack.h"

#define F_INDIRECT VIRTIO_F_INDIRECT_DESC
#define MMIO_QUEUE_NOTIFY 0x050

/* reset .. DRIVER_OK with queue 0 of 8 entries (rings at base, 0: pool). */
static bool start_at(struct target *t, struct aq *a, uint64_t want, uint64_t base)
{
	return dev_begin(t, want) && aq_setup(t, a, 0, 8, base) && dev_ready(t);
}

static bool start(struct target *t, struct aq *a, uint64_t want) { return start_at(t, a, want, 0); }

static uint64_t buffer(uint32_t len) { return (uint64_t)(uintptr_t)dma_alloc(len, 64); }

/* What came back for one bad chain at head 0: at most that one entry. */
static int outcome(struct target *t, struct aq *a)
{
	uint32_t id = 0, len = 0;
	volatile struct vring_used *u = (volatile struct vring_used *)(uintptr_t)a->used;
	bool got = aq_wait(a, 300, &id, &len);
	uint16_t more = (uint16_t)(u->idx - a->last_used);
	if (got && (id != 0 || more)) {
		note("used ring holds id %u and %u more entries: only head 0 was posted", id, more);
		return -1;
	}
	if (got)
		note("chain returned, used len %u", len, 0);
	else if (dev_status(t) & VIRTIO_STATUS_NEEDS_RESET)
		note("chain refused: DEVICE_NEEDS_RESET", 0, 0);
	else
		note("chain not returned, no NEEDS_RESET", 0, 0);
	return 0;
}

/* One descriptor at head 0 as given, published and kicked. */
static int one_desc(struct target *t, uint64_t want, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	struct aq a;
	if (!start(t, &a, want))
		return -1;
	volatile struct vring_desc *d = &AQ_DESC(&a, 0);
	d->addr = addr, d->len = len, d->flags = flags, d->next = next;
	aq_publish(&a, 0);
	aq_kick(&a);
	return outcome(t, &a);
}

static int desc_into_mmio(struct target *t) { return one_desc(t, 0, 0xfee00000, 64, VRING_DESC_F_WRITE, 0); }
static int desc_past_ram(struct target *t) { return one_desc(t, 0, ram_top - 32, 64, VRING_DESC_F_WRITE, 0); }
static int desc_wrap(struct target *t) { return one_desc(t, 0, ~0ull - 15, 64, VRING_DESC_F_WRITE, 0); }
static int desc_len0(struct target *t) { return one_desc(t, 0, buffer(64), 0, VRING_DESC_F_WRITE, 0); }
static int desc_len_4g(struct target *t) { return one_desc(t, 0, SCRATCH, 0xffffffff, VRING_DESC_F_WRITE, 0); }
static int next_out_of_range(struct target *t)
{
	return one_desc(t, 0, buffer(64), 64, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 0xffff);
}
static int indirect_unnegotiated(struct target *t)
{
	struct vring_desc *tab = dma_alloc(16, 16);
	*tab = (struct vring_desc){ buffer(64), 64, VRING_DESC_F_WRITE, 0 };
	return one_desc(t, 0, (uint64_t)(uintptr_t)tab, 16, VRING_DESC_F_INDIRECT, 0);
}
static int indirect_huge(struct target *t)
{
	return one_desc(t, F_INDIRECT, buffer(4096), 0xfffffff0, VRING_DESC_F_INDIRECT, 0);
}
static int indirect_bad_len(struct target *t)
{
	return one_desc(t, F_INDIRECT, buffer(64), 17, VRING_DESC_F_INDIRECT, 0);
}

static int chain_loop(struct target *t)
{
	struct aq a;
	if (!start(t, &a, 0))
		return -1;
	uint64_t b = buffer(64);
	AQ_DESC(&a, 0) = (struct vring_desc){ b, 32, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 1 };
	AQ_DESC(&a, 1) = (struct vring_desc){ b + 32, 32, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 0 };
	aq_publish(&a, 0);
	aq_kick(&a);
	return outcome(t, &a);
}

/* An indirect table whose entries link in a circle, or hold another
 * INDIRECT descriptor (nesting is forbidden). */
static int indirect_table(struct target *t, bool nested)
{
	struct aq a;
	if (!start(t, &a, F_INDIRECT))
		return -1;
	if (!(dev_features(t) & F_INDIRECT)) {
		note("INDIRECT_DESC not offered", 0, 0);
		return -1;
	}
	struct vring_desc *tab = dma_alloc(4 * 16, 16);
	uint64_t b = buffer(64), ta = (uint64_t)(uintptr_t)tab;
	for (unsigned i = 0; i < 4; i++)
		tab[i] = (struct vring_desc){ b + 16 * i, 16, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT,
					      (uint16_t)((i + 1) % 4) };
	if (nested)
		tab[1] = (struct vring_desc){ ta, 64, VRING_DESC_F_INDIRECT, 0 };
	AQ_DESC(&a, 0) = (struct vring_desc){ ta, 64, VRING_DESC_F_INDIRECT, 0 };
	aq_publish(&a, 0);
	aq_kick(&a);
	return outcome(t, &a);
}
static int indirect_loop(struct target *t) { return indirect_table(t, false); }
static int indirect_nested(struct target *t) { return indirect_table(t, true); }

static int avail_idx_jump(struct target *t)
{
	struct aq a;
	if (!start(t, &a, 0))
		return -1;
	volatile struct vring_avail *av = (volatile struct vring_avail *)(uintptr_t)a.avail;
	av->idx = 1000; /* 1000 new entries in a ring of 8 */
	aq_kick(&a);
	return outcome(t, &a);
}

static int head_out_of_range(struct target *t)
{
	struct aq a;
	if (!start(t, &a, 0))
		return -1;
	volatile struct vring_avail *av = (volatile struct vring_avail *)(uintptr_t)a.avail;
	av->ring[0] = 0xffff;
	av->idx = 1;
	aq_kick(&a);
	return outcome(t, &a);
}

/* Rings ending on the last byte of RAM below 4 GiB: legal, must serve. */
static int ring_end_of_ram(struct target *t)
{
	struct aq a;
	uint16_t size = t->d.transport == TRANSPORT_PCI_LEGACY ? (tq_select(t, 0), tq_max(t)) : 8;
	uint64_t bytes = aq_bytes(t, size), base = (ram_top - bytes) & ~4095ull;
	if (t->d.transport & MODERN_TRANSPORTS)
		base = (ram_top - bytes) & ~15ull;
	if (!start_at(t, &a, 0, base))
		return -1;
	for (unsigned i = 0; i < 3; i++) {
		struct abuf b = { buffer(64), 64, true };
		if (!aq_request(&a, &b, 1, 1000, 0)) {
			note("ring at 0x%lx (end of RAM): request %u not served", base, i);
			return -1;
		}
	}
	note("rings at 0x%lx..0x%lx served 3 requests", base, base + bytes - 1);
	return 0;
}

/* Rings whose used ring runs 8 bytes past the end of RAM (into the MMIO
 * hole when RAM fills the 3 GiB below it), or that sit in MMIO. */
static int ring_outside(struct target *t, uint64_t base)
{
	if (!dev_begin(t, 0))
		return -1;
	tq_select(t, 0);
	uint16_t size = t->d.transport == TRANSPORT_PCI_LEGACY ? tq_max(t) : 8;
	uint64_t avail_off, used_off;
	aq_layout(t, size, &avail_off, &used_off);
	struct aq a = { .t = t, .size = size, .desc = base, .avail = base + avail_off, .used = base + used_off };
	tq_num(t, size);
	tq_addrs(t, a.desc, a.avail, a.used);
	tq_enable(t, true);
	bool enabled = tq_enabled(t);
	bool ready = dev_ready(t);
	t->d.ops->queue_notify(&t->d, 0, &a.kick);
	aq_kick(&a);
	mdelay(50);
	note("queue enable %s, DRIVER_OK %s", (uint64_t)(uintptr_t)(enabled ? "kept" : "refused"),
	     (uint64_t)(uintptr_t)(ready ? "accepted" : "refused"));
	return 0;
}
static int ring_past_ram(struct target *t)
{
	uint64_t bytes = aq_bytes(t, t->d.transport == TRANSPORT_PCI_LEGACY ? (tq_select(t, 0), tq_max(t)) : 8);
	/* modern: aligned down to 16, the used ring still ends 16..31 bytes past RAM */
	uint64_t base = t->d.transport & MODERN_TRANSPORTS ? (ram_top - bytes + 31) & ~15ull : ram_top - 4096;
	int r = ring_outside(t, base);
	if (!r && ram_top == 0xc0000000)
		printf("attack: ring at 0x%lx runs across the RAM / MMIO hole boundary\n", base);
	return r;
}
static int ring_in_mmio(struct target *t) { return ring_outside(t, 0xfee00000); }

static int ring_misaligned(struct target *t)
{
	uint64_t base = buffer(8192) + 2;
	return ring_outside(t, base);
}

/* Queue sizes: not a power of two, zero, past the maximum. */
static int queue_size(struct target *t, uint16_t (*pick)(uint16_t max))
{
	if (!dev_begin(t, 0))
		return -1;
	tq_select(t, 0);
	uint16_t max = tq_max(t), n = pick(max);
	uint64_t ring = buffer(65536 + 4096) + 4095;
	ring &= ~4095ull;
	tq_num(t, n);
	tq_addrs(t, ring, ring + 16ull * n, (ring + 16ull * n + 6 + 2ull * n + 4095) & ~4095ull);
	tq_enable(t, true);
	bool enabled = tq_enabled(t);
	bool ready = dev_ready(t);
	struct aq a = { .t = t, .size = n ? n : 1, .desc = ring };
	t->d.ops->queue_notify(&t->d, 0, &a.kick);
	aq_kick(&a);
	mdelay(20);
	note("size %u (max %u)", n, max);
	(void)enabled, (void)ready;
	return 0;
}
static uint16_t pick_three(uint16_t max) { (void)max; return 3; }
static uint16_t pick_zero(uint16_t max) { (void)max; return 0; }
static uint16_t pick_over(uint16_t max) { return max >= 0x8000 ? 0xffff : (uint16_t)(max * 2); }
static int qsize_not_pow2(struct target *t) { return queue_size(t, pick_three); }
static int qsize_zero(struct target *t) { return queue_size(t, pick_zero); }
static int qsize_over_max(struct target *t) { return queue_size(t, pick_over); }

/* QueueNum written while the queue runs, then more requests: a live
 * queue keeps its size (or is stopped), never runs with the new one. */
static int qsize_live(struct target *t)
{
	struct aq a;
	if (!start(t, &a, 0))
		return -1;
	struct abuf b = { buffer(64), 64, true };
	aq_request(&a, &b, 1, 1000, 0);
	tq_select(t, 0);
	tq_num(t, 2);
	tq_num(t, 3);
	tq_num(t, 0x8000);
	for (unsigned i = 0; i < 4; i++)
		aq_publish(&a, aq_chain(&a, &b, 1));
	aq_kick(&a);
	mdelay(100);
	volatile struct vring_used *u = (volatile struct vring_used *)(uintptr_t)a.used;
	uint16_t done = (uint16_t)(u->idx - a.last_used);
	note("%u of 4 requests returned after QueueNum 2, 3, 0x8000 were written to the live queue", done, 0);
	return done == 4 || (done < 4 && (dev_status(t) & VIRTIO_STATUS_NEEDS_RESET)) ? 0 : -1;
}

/* Features rewritten after DRIVER_OK; then a request must still be served. */
static int features_after_driver_ok(struct target *t)
{
	struct aq a;
	if (!start(t, &a, F_INDIRECT))
		return -1;
	t->d.ops->set_features(&t->d, 0);
	t->d.ops->set_features(&t->d, ~0ull);
	t->d.ops->set_status(&t->d, (uint8_t)(dev_status(t) & ~VIRTIO_STATUS_FEATURES_OK));
	struct abuf b = { buffer(64), 64, true };
	bool served = aq_request(&a, &b, 1, 1000, 0);
	note("request after renegotiation %s", (uint64_t)(uintptr_t)(served ? "served" : "not served"), 0);
	return 0;
}

/* FEATURES_OK with bits the device never offered: must not be accepted. */
static int features_ok_unoffered(struct target *t)
{
	const struct vdev_ops *ops = t->d.ops;
	dev_reset(t);
	ops->set_status(&t->d, VIRTIO_STATUS_ACK | VIRTIO_STATUS_DRIVER);
	uint64_t offered = ops->get_features(&t->d);
	ops->set_features(&t->d, ~offered | VIRTIO_F_VERSION_1);
	ops->set_status(&t->d, VIRTIO_STATUS_ACK | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
	uint8_t st = dev_status(t);
	if (st & VIRTIO_STATUS_FEATURES_OK) {
		note("FEATURES_OK accepted with unoffered bits 0x%lx", ~offered, 0);
		return -1;
	}
	note("FEATURES_OK refused (offered 0x%lx)", offered, 0);
	return 0;
}

/* Status values no driver writes: DRIVER_OK alone, all bits, FAILED. */
static int status_bogus(struct target *t)
{
	struct aq a;
	dev_reset(t);
	t->d.ops->set_status(&t->d, VIRTIO_STATUS_DRIVER_OK);
	t->d.ops->set_status(&t->d, 0xff);
	if (dev_begin(t, 0) && aq_setup(t, &a, 0, 8, 0)) {
		t->d.ops->set_status(&t->d, 0x7f);
		t->d.ops->set_status(&t->d, VIRTIO_STATUS_FAILED);
		aq_kick(&a);
	}
	note("status 0x%x after DRIVER_OK alone, 0xff, 0x7f, FAILED", dev_status(t), 0);
	return 0;
}

/* Queue registers of a queue the device does not have; notifies for it. */
static int queue_select_out_of_range(struct target *t)
{
	struct aq a;
	if (!start(t, &a, 0))
		return -1;
	for (unsigned q = 1; q < 0x10000; q = q * 4 + 3) {
		tq_select(t, q);
		tq_num(t, 8);
		tq_addrs(t, a.desc, a.avail, a.used);
		tq_enable(t, true);
		struct vnotify n;
		t->d.ops->queue_notify(&t->d, q, &n);
		if (t->d.transport == TRANSPORT_PCI)
			n = a.kick, n.value = q; /* the notify offset of q 0 with a bad index */
		vnotify_kick(&n);
	}
	struct abuf b = { buffer(64), 64, true };
	bool served = aq_request(&a, &b, 1, 1000, 0);
	note("queue 0 %s after queues 1..0xffff were written and notified",
	     (uint64_t)(uintptr_t)(served ? "served" : "not served"), 0);
	return 0;
}

/* ---- requests in flight while the queue goes away ---- */

/* The shrunk queue's rings end on the last bytes of RAM: a completion
 * pushed with stale indexes would land past the end of guest memory. */
static uint64_t restart_base(struct target *t, uint16_t size)
{
	uint64_t bytes = aq_bytes(t, size);
	return t->d.transport & MODERN_TRANSPORTS ? (ram_top - bytes) & ~15ull : (ram_top - bytes) & ~4095ull;
}

/* Queue 0 of a rate-limited rng: 3 requests kept waiting, the queue
 * disabled the transport's way (QueueReady=0, PFN=0, queue_enable=0), shrunk
 * to 1 entry at the end of RAM, enabled, one new request. The old ones
 * must never come back, and the new one must be served (a device that
 * pushed stale ones would break the new ring: NEEDS_RESET). The rng
 * unpops what it cannot serve yet, so nothing is in flight here: a
 * request held across the restart is balloon-stats-restart's case. */
static int queue_restart(struct target *t)
{
	struct aq a;
	if (!start(t, &a, 0))
		return -1;
	for (unsigned i = 0; i < 3; i++) {
		struct abuf b = { buffer(64), 64, true };
		aq_publish(&a, aq_chain(&a, &b, 1));
	}
	aq_kick(&a);
	mdelay(30);
	tq_select(t, 0);
	tq_enable(t, false);
	if (tq_enabled(t)) {
		/* Modern PCI: queue_enable=0 is forbidden to drivers and ignored;
		 * the held requests must still come back on the old ring. */
		uint32_t id, len;
		bool back = aq_wait(&a, 2500, &id, &len);
		note("queue_enable=0 ignored; a held request %s on the old ring",
		     (uint64_t)(uintptr_t)(back ? "came back" : "did not come back"), 0);
		return back && id < 8 ? 0 : -1;
	}
	uint16_t size = t->d.transport == TRANSPORT_PCI_LEGACY ? tq_max(t) : 1;
	uint64_t base = restart_base(t, size);
	struct aq n;
	if (!aq_setup(t, &n, 0, size, base)) {
		note("queue of %u at 0x%lx (end of RAM) not re-enabled", size, base);
		return -1;
	}
	struct abuf b = { buffer(64), 64, true };
	aq_publish(&n, aq_chain(&n, &b, 1));
	aq_kick(&n);
	/* rate=1: the held requests go first, about one a second */
	uint32_t id = 0, len = 0;
	bool served = aq_wait(&n, 6000, &id, &len);
	mdelay(1500); /* time for a stale completion to follow */
	volatile struct vring_used *u = (volatile struct vring_used *)(uintptr_t)n.used;
	uint16_t back = u->idx;
	if (back > 1 || (served && id != 0)) {
		note("stale completions after the restart: used idx %u, first id %u", back, id);
		return -1;
	}
	if (!served || (dev_status(t) & VIRTIO_STATUS_NEEDS_RESET)) {
		note("the new request was not served (status 0x%x, used idx %u)", dev_status(t), back);
		return -1;
	}
	note("ring of %u at 0x%lx: the new request served, no stale completion", size, base);
	return 0;
}

/* The same on a transitional device with a packed ring negotiated through
 * its modern interface, disabled through the legacy PFN register. */
static int queue_restart_packed(struct target *t)
{
	struct target *legacy = attack_twin(t);
	if (!legacy) {
		note("no legacy interface on this function", 0, 0);
		return -1;
	}
	if (!dev_begin(t, VIRTIO_F_RING_PACKED) || !(dev_features(t) & VIRTIO_F_RING_PACKED)) {
		note("RING_PACKED not negotiated", 0, 0);
		return -1;
	}
	struct vqd *q = dma_alloc(sizeof(*q), 64);
	void *mem = dma_alloc(vqd_mem_size(8, true), 4096);
	if (vqd_init_packed(q, 8, mem, (uint64_t)(uintptr_t)mem, 0) < 0)
		return -1;
	tq_select(t, 0);
	tq_num(t, 8);
	tq_addrs(t, q->desc_gpa, q->avail_gpa, q->used_gpa);
	tq_enable(t, true);
	if (!dev_ready(t))
		return -1;
	struct vnotify kick;
	t->d.ops->queue_notify(&t->d, 0, &kick);
	for (unsigned i = 0; i < 3; i++) {
		struct vqd_buf b = { buffer(64), 64 };
		vqd_add(q, 0, 0, &b, 1, (void *)(uintptr_t)(i + 1), false);
	}
	vnotify_kick(&kick);
	mdelay(30);
	tq_select(legacy, 0);
	outl((uint16_t)(legacy->d.io + 0x08), 0); /* legacy QUEUE_PFN = 0 */
	/* One packed descriptor in the last 16 bytes of RAM, event areas before it. */
	uint64_t desc = ram_top - 16;
	struct packed_desc {
		uint64_t addr;
		uint32_t len;
		uint16_t id, flags;
	};
	volatile struct packed_desc *d = (volatile struct packed_desc *)(uintptr_t)desc;
	tq_select(t, 0);
	tq_num(t, 1);
	tq_addrs(t, desc, desc - 16, desc - 8);
	d->addr = buffer(64), d->len = 64, d->id = 0;
	barrier();
	d->flags = (uint16_t)(VRING_DESC_F_WRITE | 1u << 7); /* AVAIL=1, USED=0: wrap counter 1 */
	tq_enable(t, true);
	vnotify_kick(&kick);
	uint64_t end = rdtsc() + 6000ull * 3000000;
	while (((d->flags >> 7) & 1) != ((d->flags >> 15) & 1) && rdtsc() < end)
		__asm__ volatile("pause");
	mdelay(1500); /* time for a stale completion to follow */
	uint16_t f = d->flags;
	bool used = ((f >> 7) & 1) == ((f >> 15) & 1);
	if (used && (d->id != 0 || d->len > 64)) {
		note("stale completion in the new ring: id %u len %u", d->id, d->len);
		return -1;
	}
	if (!used || (dev_status(t) & VIRTIO_STATUS_NEEDS_RESET)) {
		note("the new request was not served (status 0x%x, flags 0x%x)", dev_status(t), f);
		return -1;
	}
	note("packed ring of 1 at 0x%lx: the new request served, no stale completion", desc, 0);
	return 0;
}

/* Thousands of status=0 writes, each while requests are in flight. */
static int reset_storm(struct target *t)
{
	unsigned resets = 0;
	for (unsigned round = 0; round < 20; round++) {
		size_t mark = dma_mark();
		struct aq a;
		if (start(t, &a, 0)) {
			for (unsigned i = 0; i < 7; i++) {
				struct abuf b = { buffer(64), 64, true };
				aq_publish(&a, aq_chain(&a, &b, 1));
			}
			aq_kick(&a);
		}
		for (unsigned i = 0; i < 100; i++, resets++)
			t->d.ops->set_status(&t->d, 0);
		dma_release(mark);
	}
	note("%u resets in 20 rounds of 7 requests in flight", resets, 0);
	return 0;
}

/* Notifies for queues the device does not have, as fast as the guest can. */
static int notify_storm(struct target *t)
{
	struct aq a;
	if (!start(t, &a, 0))
		return -1;
	struct vnotify n = a.kick;
	for (unsigned i = 0; i < 3000; i++) {
		n.value = i & 1 ? 0xffff : 63;
		vnotify_kick(&n);
	}
	note("3000 notifies for queues 63 and 0xffff", 0, 0);
	return 0;
}

const struct attack ring_attacks[] = {
	{ "desc-into-mmio", VIRTIO_ID_RNG, ALL_TRANSPORTS, 0, desc_into_mmio },
	{ "desc-past-ram", VIRTIO_ID_RNG, ALL_TRANSPORTS, 0, desc_past_ram },
	{ "desc-wrap-2^64", VIRTIO_ID_RNG, ALL_TRANSPORTS, 0, desc_wrap },
	{ "desc-len-0", VIRTIO_ID_RNG, ALL_TRANSPORTS, 0, desc_len0 },
	{ "desc-len-4GiB", VIRTIO_ID_RNG, ALL_TRANSPORTS, 0, desc_len_4g },
	{ "chain-loop", VIRTIO_ID_RNG, ALL_TRANSPORTS, 0, chain_loop },
	{ "chain-next-out-of-range", VIRTIO_ID_RNG, ALL_TRANSPORTS, 0, next_out_of_range },
	{ "indirect-unnegotiated", VIRTIO_ID_RNG, ALL_TRANSPORTS, 0, indirect_unnegotiated },
	{ "indirect-nested", VIRTIO_ID_RNG, ALL_TRANSPORTS, 0, indirect_nested },
	{ "indirect-loop", VIRTIO_ID_RNG, ALL_TRANSPORTS, 0, indirect_loop },
	{ "indirect-len-4GiB", VIRTIO_ID_RNG, ALL_TRANSPORTS, 0, indirect_huge },
	{ "indirect-len-17", VIRTIO_ID_RNG, ALL_TRANSPORTS, 0, indirect_bad_len },
	{ "avail-idx-jump", VIRTIO_ID_RNG, ALL_TRANSPORTS, 0, avail_idx_jump },
	{ "avail-head-out-of-range", VIRTIO_ID_RNG, ALL_TRANSPORTS, 0, head_out_of_range },
	{ "ring-end-of-ram", VIRTIO_ID_RNG, ALL_TRANSPORTS, 0, ring_end_of_ram },
	{ "ring-past-ram", VIRTIO_ID_RNG, ALL_TRANSPORTS, 0, ring_past_ram },
	{ "ring-in-mmio", VIRTIO_ID_RNG, ALL_TRANSPORTS, 0, ring_in_mmio },
	{ "ring-misaligned", VIRTIO_ID_RNG, MODERN_TRANSPORTS, 0, ring_misaligned },
	{ "qsize-not-pow2", VIRTIO_ID_RNG, MODERN_TRANSPORTS | TRANSPORT_MMIO_LEGACY, 0, qsize_not_pow2 },
	{ "qsize-zero", VIRTIO_ID_RNG, MODERN_TRANSPORTS | TRANSPORT_MMIO_LEGACY, 0, qsize_zero },
	{ "qsize-over-max", VIRTIO_ID_RNG, MODERN_TRANSPORTS | TRANSPORT_MMIO_LEGACY, 0, qsize_over_max },
	{ "qsize-live", VIRTIO_ID_RNG, MODERN_TRANSPORTS | TRANSPORT_MMIO_LEGACY, 0, qsize_live },
	{ "features-after-driver-ok", VIRTIO_ID_RNG, MODERN_TRANSPORTS, 0, features_after_driver_ok },
	{ "features-ok-unoffered", VIRTIO_ID_RNG, MODERN_TRANSPORTS, 0, features_ok_unoffered },
	{ "status-bogus", VIRTIO_ID_RNG, ALL_TRANSPORTS, 0, status_bogus },
	{ "queue-select-out-of-range", VIRTIO_ID_RNG, ALL_TRANSPORTS, 0, queue_select_out_of_range },
	{ "notify-storm", VIRTIO_ID_RNG, ALL_TRANSPORTS, 0, notify_storm },
	{ "queue-restart-in-flight", VIRTIO_ID_RNG, ALL_TRANSPORTS, A_SLOW, queue_restart },
	{ "queue-restart-packed-legacy-pfn", VIRTIO_ID_RNG, TRANSPORT_PCI, A_SLOW | A_TRANSITIONAL, queue_restart_packed },
	{ "reset-storm", VIRTIO_ID_RNG, ALL_TRANSPORTS, A_SLOW, reset_storm },
};
const unsigned nr_ring_attacks = sizeof(ring_attacks) / sizeof(ring_attacks[0]);
