/* Attacks through device requests (virtio-blk at and past its advertised
 * limits, SCSI CDBs, balloon PFNs, console control messages, net frames)
 * and through PCI (BARs moved while I/O is in flight, MSI-X messages to
 * anywhere, config-space writes). */
#include "attack.h"

/* ---- device config space, on every transport ---- */
static uint64_t cfg_mem(struct target *t)
{
	return t->d.transport == TRANSPORT_PCI ? t->d.devcfg : t->d.mmio + 0x100;
}

static uint32_t cfg_read32(struct target *t, unsigned off)
{
	if (t->d.transport == TRANSPORT_PCI_LEGACY)
		return inl((uint16_t)(t->d.io + 0x14 + off)); /* MSI-X off: config at 0x14 */
	return mmio_read32(cfg_mem(t) + off);
}

static void cfg_write8(struct target *t, unsigned off, uint8_t v)
{
	if (t->d.transport == TRANSPORT_PCI_LEGACY)
		outb((uint16_t)(t->d.io + 0x14 + off), v);
	else
		mmio_write8(cfg_mem(t) + off, v);
}

static uint64_t buffer(uint32_t len) { return (uint64_t)(uintptr_t)dma_alloc(len, 64); }

/* Post a chain, kick, wait; the note says how it ended. */
static bool post(struct aq *a, const struct abuf *b, unsigned n, unsigned ms, uint32_t *len)
{
	return aq_request(a, b, n, ms, len);
}

/* ---- virtio-blk ---- */
#define BLK_F_SIZE_MAX (1ull << 1)
#define BLK_F_SEG_MAX (1ull << 2)

struct blk {
	struct aq a;
	uint64_t capacity;
	uint32_t size_max, seg_max;
	uint8_t *hdr; /* 16-byte header, then the status byte at +16 */
};

static bool blk_start(struct target *t, struct blk *b)
{
	if (!dev_begin(t, BLK_F_SIZE_MAX | BLK_F_SEG_MAX | VIRTIO_F_INDIRECT_DESC) || !aq_setup(t, &b->a, 0, 256, 0) || !dev_ready(t))
		return false;
	b->capacity = cfg_read32(t, 0) | (uint64_t)cfg_read32(t, 4) << 32;
	b->size_max = dev_features(t) & BLK_F_SIZE_MAX ? cfg_read32(t, 8) : 0;
	b->seg_max = dev_features(t) & BLK_F_SEG_MAX ? cfg_read32(t, 12) : 0;
	b->hdr = dma_alloc(32, 16);
	return true;
}

/* A read of `nseg` segments of seg_len bytes each, from sector, in one
 * indirect table (a chain longer than the ring fits there); returns the
 * status byte (0xff: not returned in time). */
static uint8_t blk_read(struct blk *b, uint64_t sector, unsigned nseg, uint32_t seg_len)
{
	unsigned n = nseg + 2;
	struct vring_desc *tab = dma_alloc(16ull * n, 16);
	if (!tab || !(dev_features(b->a.t) & VIRTIO_F_INDIRECT_DESC))
		return 0xfe;
	memset(b->hdr, 0, 16);
	*(uint64_t *)(b->hdr + 8) = sector;
	b->hdr[16] = 0xff;
	tab[0] = (struct vring_desc){ (uint64_t)(uintptr_t)b->hdr, 16, VRING_DESC_F_NEXT, 1 };
	for (unsigned i = 1; i <= nseg; i++)
		tab[i] = (struct vring_desc){ SCRATCH + (uint64_t)(i - 1) * seg_len % SCRATCH_SIZE, seg_len,
					      VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, (uint16_t)(i + 1) };
	tab[n - 1] = (struct vring_desc){ (uint64_t)(uintptr_t)b->hdr + 16, 1, VRING_DESC_F_WRITE, 0 };
	struct aq *a = &b->a;
	uint16_t head = (uint16_t)(a->next_desc++ % a->size);
	AQ_DESC(a, head) = (struct vring_desc){ (uint64_t)(uintptr_t)tab, 16 * n, VRING_DESC_F_INDIRECT, 0 };
	aq_publish(a, head);
	aq_kick(a);
	uint32_t id, len;
	if (!aq_wait(a, 2000, &id, &len))
		return 0xff;
	return b->hdr[16];
}

static int blk_size_max(struct target *t)
{
	struct blk b;
	if (!blk_start(t, &b))
		return -1;
	if (!b.size_max || b.size_max + 512ull > SCRATCH_SIZE) {
		note("size_max %u not usable here", b.size_max, 0);
		return -1;
	}
	uint32_t at = b.size_max & ~511u;
	uint8_t ok = blk_read(&b, 0, 1, at);
	uint8_t past = blk_read(&b, 0, 1, at + 512);
	note("one segment of size_max %u bytes, then of 512 more: status %04x (ff: refused)", at, (uint64_t)ok << 8 | past);
	if (ok != 0 && b.capacity * 512 >= at) {
		note("a read of size_max (%u bytes) failed: status %u", at, ok);
		return -1;
	}
	if (past == 0) {
		note("a segment past size_max (%u bytes) was served: the limit is not enforced", at + 512, 0);
		return -1;
	}
	return 0;
}

static int blk_seg_max(struct target *t)
{
	struct blk b;
	if (!blk_start(t, &b))
		return -1;
	if (!b.seg_max || b.seg_max > 4096) {
		note("seg_max %u not usable here", b.seg_max, 0);
		return -1;
	}
	uint8_t ok = blk_read(&b, 0, b.seg_max, 512);
	uint8_t past = blk_read(&b, 0, b.seg_max + 1, 512);
	note("seg_max %u segments, then one more: status %04x (ff: refused)", b.seg_max, (uint64_t)ok << 8 | past);
	if (ok != 0) {
		note("a read of seg_max (%u) segments failed: status %u", b.seg_max, ok);
		return -1;
	}
	if (past == 0) {
		note("seg_max + 1 (%u) segments were served: the limit is not enforced", b.seg_max + 1, 0);
		return -1;
	}
	return 0;
}

static int blk_sector_past_end(struct target *t)
{
	struct blk b;
	if (!blk_start(t, &b))
		return -1;
	uint8_t at_end = blk_read(&b, b.capacity, 1, 512);
	uint8_t last = blk_read(&b, b.capacity - 1, 1, 1024);
	uint8_t huge = blk_read(&b, ~0ull >> 1, 1, 512);
	note("capacity %lu sectors; read at capacity / crossing it / at 2^63: status %x", b.capacity,
	     (uint64_t)at_end << 16 | (uint64_t)last << 8 | huge);
	if (!at_end || !last || !huge) {
		note("a read past the end of the disk was served (status %x)", (uint64_t)at_end << 16 | last << 8 | huge, 0);
		return -1;
	}
	return 0;
}

/* The header descriptor 2 GiB long, 8 bytes short, and 4 GiB - 1 long. */
static int blk_huge_header(struct target *t)
{
	struct blk b;
	if (!blk_start(t, &b))
		return -1;
	uint8_t st[3];
	uint32_t lens[3] = { 0x80000000u, 8, 0xffffffffu };
	for (unsigned i = 0; i < 3; i++) {
		memset(b.hdr, 0, 16);
		b.hdr[16] = 0xff;
		struct abuf c[3] = { { (uint64_t)(uintptr_t)b.hdr, lens[i], false }, { SCRATCH, 512, true },
				     { (uint64_t)(uintptr_t)b.hdr + 16, 1, true } };
		st[i] = post(&b.a, c, 3, 500, 0) ? b.hdr[16] : 0xff;
		if (dev_status(t) & VIRTIO_STATUS_NEEDS_RESET) {
			dev_reset(t);
			if (!blk_start(t, &b))
				return -1;
		}
	}
	note("header of 2 GiB / 8 bytes / 4 GiB-1: status %x (ff: refused or NEEDS_RESET)",
	     (uint64_t)st[0] << 16 | (uint64_t)st[1] << 8 | st[2], 0);
	if (st[1] == 0) {
		note("an 8-byte header was served", 0, 0);
		return -1;
	}
	return 0;
}

/* Device config written (read-only fields included) under requests. */
static int blk_config_write_in_flight(struct target *t)
{
	struct blk b;
	if (!blk_start(t, &b))
		return -1;
	uint64_t cap = b.capacity;
	for (unsigned i = 0; i < 16; i++) {
		memset(b.hdr, 0, 16);
		struct abuf c[3] = { { (uint64_t)(uintptr_t)b.hdr, 16, false }, { SCRATCH + 4096ull * i, 4096, true },
				     { (uint64_t)(uintptr_t)b.hdr + 16, 1, true } };
		aq_publish(&b.a, aq_chain(&b.a, c, 3));
	}
	aq_kick(&b.a);
	for (unsigned off = 0; off < 0x100; off++)
		cfg_write8(t, off, 0xff);
	mdelay(50);
	uint64_t after = cfg_read32(t, 0) | (uint64_t)cfg_read32(t, 4) << 32;
	note("capacity %lu after 256 config bytes written with 0xff (was %lu)", after, cap);
	return after == cap ? 0 : -1;
}

/* ---- virtio-scsi (request queue 2; cmd_req with a 32-byte CDB) ---- */
static uint8_t scsi_cmd(struct aq *a, const uint8_t lun[8], const uint8_t *cdb, unsigned cdb_len, uint32_t data_len,
			bool data_out, uint8_t *status)
{
	uint8_t *req = dma_alloc(51 + 108, 16);
	memcpy(req, lun, 8);
	memcpy(req + 19, cdb, cdb_len);
	req[51 + 11] = 0xff;
	/* virtio-scsi's order: request, data-out, response, data-in */
	struct abuf data = { SCRATCH, data_len, !data_out }, resp = { (uint64_t)(uintptr_t)req + 51, 108, true };
	struct abuf b[3] = { { (uint64_t)(uintptr_t)req, 51, false }, data_out ? data : resp, data_out ? resp : data };
	if (!post(a, b, 3, 2000, 0))
		return 0xff;
	*status = req[51 + 10];
	return req[51 + 11];
}

static bool scsi_start(struct target *t, struct aq *a)
{
	return dev_begin(t, 0) && aq_setup(t, a, 2, 8, 0) && dev_ready(t);
}

static int scsi_huge_transfer(struct target *t)
{
	struct aq a;
	if (!scsi_start(t, &a))
		return -1;
	static const uint8_t lun0[8] = { 1, 0, 0, 0 };
	/* READ(16), LBA 0, 0xffffffff blocks; WRITE(16) the same; READ(16) at LBA 2^64-1 */
	uint8_t rd[16] = { 0x88, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0 };
	uint8_t wr[16] = { 0x8a, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0 };
	uint8_t end[16] = { 0x88, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 1, 0, 0 };
	uint8_t s1 = 0, s2 = 0, s3 = 0;
	uint8_t r1 = scsi_cmd(&a, lun0, rd, 16, 65536, false, &s1);
	uint8_t r2 = scsi_cmd(&a, lun0, wr, 16, 4096, true, &s2);
	uint8_t r3 = scsi_cmd(&a, lun0, end, 16, 512, false, &s3);
	note("READ(16)/WRITE(16) of 2^32-1 blocks, READ(16) at LBA 2^64-1: response/status %x, %x",
	     (uint64_t)r1 << 24 | (uint64_t)s1 << 16 | (uint64_t)r2 << 8 | s2, (uint64_t)r3 << 8 | s3);
	if ((r1 == 0 && s1 == 0) || (r2 == 0 && s2 == 0) || (r3 == 0 && s3 == 0)) {
		note("a transfer the disk cannot hold returned GOOD", 0, 0);
		return -1;
	}
	return 0;
}

static int scsi_bad_lun(struct target *t)
{
	struct aq a;
	if (!scsi_start(t, &a))
		return -1;
	static const uint8_t luns[3][8] = { { 1, 7, 0, 0 }, { 1, 0, 0x7f, 0xff }, { 2, 0xff, 0xff, 0xff } };
	uint8_t tur[6] = { 0 }, inq[6] = { 0x12, 0, 0, 0, 96, 0 };
	unsigned good = 0;
	for (unsigned i = 0; i < 3; i++) {
		uint8_t s = 0xff;
		uint8_t r = scsi_cmd(&a, luns[i], i & 1 ? inq : tur, 6, 96, false, &s);
		if (r == 0xff)
			continue; /* refused */
		if (r == 0 && s == 0 && i != 1)
			good++;
	}
	note("3 bad LUNs: %u answered GOOD", good, 0);
	return good ? -1 : 0;
}

/* ---- virtio-balloon: PFNs outside RAM, in the hole, duplicated ---- */
static int balloon_bad_pfns(struct target *t)
{
	struct aq in, de;
	if (!dev_begin(t, 0) || !aq_setup(t, &in, 0, 8, 0) || !aq_setup(t, &de, 1, 8, 0) || !dev_ready(t))
		return -1;
	uint32_t *pfns = dma_alloc(256 * 4, 16);
	uint32_t own = (uint32_t)(buffer(4096) >> 12);
	unsigned n = 0;
	pfns[n++] = 0xffffffff;
	pfns[n++] = (uint32_t)(ram_top >> 12);           /* first page past RAM */
	pfns[n++] = (uint32_t)(ram_top >> 12) + 4096;
	pfns[n++] = 0xc0000;                            /* the MMIO hole */
	pfns[n++] = 0xfee00;                            /* the LAPIC */
	pfns[n++] = 0xa0;                               /* the legacy hole below 1 MiB */
	while (n < 256)
		pfns[n++] = own;                        /* one page 250 times */
	struct abuf b = { (uint64_t)(uintptr_t)pfns, 256 * 4, false };
	bool inflated = post(&in, &b, 1, 2000, 0);
	bool deflated = post(&de, &b, 1, 2000, 0);
	note("256 PFNs inflated %s, deflated %s", (uint64_t)(uintptr_t)(inflated ? "(returned)" : "(not returned)"),
	     (uint64_t)(uintptr_t)(deflated ? "(returned)" : "(not returned)"));
	return 0;
}

/* Issue 17's reproducer as an attack: the balloon holds the driver's
 * statistics buffer (stats queue 2) until it wants new figures
 * (stats-interval=1: every second). The queue is disabled under it
 * (QueueReady=0 / PFN=0), shrunk to one entry in the last bytes of RAM
 * and enabled empty. The held buffer belongs to the old ring: it must
 * never be pushed into the new one (the engine would refuse it there,
 * NEEDS_RESET; before its bounds, it wrote past guest RAM). */
#define BALLOON_F_STATS_VQ (1ull << 1)
static int balloon_stats_restart(struct target *t)
{
	struct aq q[3];
	if (!dev_begin(t, BALLOON_F_STATS_VQ) || !(dev_features(t) & BALLOON_F_STATS_VQ)) {
		note("STATS_VQ not offered (stats-interval= not set?)", 0, 0);
		return -1;
	}
	for (unsigned i = 0; i < 3; i++)
		if (!aq_setup(t, &q[i], i, 8, 0))
			return -1;
	if (!dev_ready(t))
		return -1;
	struct abuf b = { buffer(10 * 8), 10 * 8, false };
	aq_publish(&q[2], aq_chain(&q[2], &b, 1));
	aq_kick(&q[2]);
	mdelay(100); /* popped and held */
	tq_select(t, 2);
	tq_enable(t, false);
	if (tq_enabled(t)) {
		note("the stats queue cannot be disabled on this transport", 0, 0);
		return 0;
	}
	uint16_t size = t->d.transport == TRANSPORT_PCI_LEGACY ? tq_max(t) : 1;
	uint64_t bytes = aq_bytes(t, size);
	uint64_t base = (ram_top - bytes) & (t->d.transport == TRANSPORT_MMIO ? ~15ull : ~4095ull);
	struct aq n;
	if (!aq_setup(t, &n, 2, size, base)) {
		note("stats queue of %u at 0x%lx not re-enabled", size, base);
		return -1;
	}
	mdelay(2500); /* two stats intervals */
	volatile struct vring_used *u = (volatile struct vring_used *)(uintptr_t)n.used;
	uint16_t back = u->idx;
	if (back || (dev_status(t) & VIRTIO_STATUS_NEEDS_RESET)) {
		note("the held stats buffer came back into the new ring (used idx %u, status 0x%x)", back, dev_status(t));
		return -1;
	}
	note("stats ring of %u at 0x%lx: the held buffer never came back", size, base);
	return 0;
}

/* ---- virtio-console: a control-queue flood ---- */
static int console_control_flood(struct target *t)
{
	struct aq q[4];
	if (!dev_begin(t, CONSOLE_F_MULTIPORT) || !(dev_features(t) & CONSOLE_F_MULTIPORT)) {
		note("MULTIPORT not offered", 0, 0);
		return -1;
	}
	for (unsigned i = 0; i < 4; i++)
		if (!aq_setup(t, &q[i], i, 8, 0))
			return -1;
	if (!dev_ready(t))
		return -1;
	/* No buffers on the control receive queue (2): every answer the device
	 * owes (PORT_ADD, PORT_NAME, ...) finds it full. */
	uint8_t *msg = dma_alloc(8 * 8, 8);
	unsigned sent = 0;
	for (unsigned round = 0; round < 250; round++) {
		for (unsigned i = 0; i < 8; i++) {
			uint32_t *m = (uint32_t *)(msg + 8 * i);
			m[0] = i & 1;                           /* port id */
			*(uint16_t *)(m + 1) = i & 2 ? 3 : 0;   /* PORT_READY or DEVICE_READY */
			*(uint16_t *)((uint8_t *)m + 6) = 1;
			struct abuf b = { (uint64_t)(uintptr_t)m, 8, false };
			aq_publish(&q[3], aq_chain(&q[3], &b, 1));
		}
		aq_kick(&q[3]);
		uint32_t id, len;
		for (unsigned i = 0; i < 8; i++)
			if (aq_wait(&q[3], 200, &id, &len))
				sent++;
	}
	note("%u control messages sent, control receive queue left empty", sent, 0);
	return 0;
}

/* ---- virtio-net: frames of 0 and of 65,536+ bytes ---- */
static int net_tx_sizes(struct target *t)
{
	struct aq rx, tx;
	if (!dev_begin(t, 0) || !aq_setup(t, &rx, 0, 8, 0) || !aq_setup(t, &tx, 1, 8, 0) || !dev_ready(t))
		return -1;
	uint32_t hdr = t->d.transport & (TRANSPORT_PCI_LEGACY | TRANSPORT_MMIO_LEGACY) ? 10 : 12;
	memset((void *)(uintptr_t)SCRATCH, 0, 70000 + 12);
	struct abuf cases[][2] = {
		{ { SCRATCH, hdr, false }, { 0, 0, false } },               /* header only: a 0-byte frame */
		{ { SCRATCH, 4, false }, { 0, 0, false } },                 /* shorter than the header */
		{ { SCRATCH, hdr + 65536, false }, { 0, 0, false } },       /* 65,536 bytes */
		{ { SCRATCH, hdr, false }, { SCRATCH + 4096, 70000, false } }, /* 70,000 bytes */
		{ { SCRATCH, 0, false }, { SCRATCH, 0, false } },            /* two empty descriptors */
	};
	unsigned back = 0;
	for (unsigned i = 0; i < 5; i++) {
		unsigned n = cases[i][1].len || i == 4 ? 2 : 1;
		if (post(&tx, cases[i], n, 500, 0))
			back++;
		if (dev_status(t) & VIRTIO_STATUS_NEEDS_RESET)
			break;
	}
	note("tx frames of 0, -8, 65536, 70000 bytes and an empty chain: %u of 5 returned", back, 0);
	return 0;
}

/* ---- PCI: BARs, MSI-X, config space ---- */
static unsigned bar_of(struct target *t, uint64_t addr)
{
	for (unsigned i = 0; i < 6; i++) {
		bool io;
		uint64_t size, base = pci_bar(t->pci, i, &io, &size);
		if (base && !io && addr >= base && addr < base + size)
			return i;
	}
	return 6;
}

/* Move t's modern BAR onto `to` while requests are in flight, touch the
 * registers there, and put it back. */
static int bar_move(struct target *t, uint64_t to, const char *onto)
{
	struct aq a;
	unsigned bar = bar_of(t, t->d.common);
	if (bar == 6 || !dev_begin(t, 0) || !aq_setup(t, &a, 0, 8, 0) || !dev_ready(t))
		return -1;
	for (unsigned i = 0; i < 7; i++) {
		struct abuf b = { buffer(64), 64, true };
		aq_publish(&a, aq_chain(&a, &b, 1));
	}
	unsigned off = 0x10 + 4 * bar;
	uint32_t lo = pci_read32(t->pci, off), hi = pci_read32(t->pci, off + 4);
	pci_write32(t->pci, off, (uint32_t)to | (lo & 15));
	if ((lo & 6) == 4)
		pci_write32(t->pci, off + 4, (uint32_t)(to >> 32));
	aq_kick(&a); /* the notify register is elsewhere now: lands on what is at `to` */
	volatile uint32_t sink = mmio_read32(to + 0x14) + mmio_read32(to);
	(void)sink;
	mdelay(20);
	pci_write32(t->pci, off, lo);
	pci_write32(t->pci, off + 4, hi);
	note("modern BAR%u moved onto %s with 7 requests in flight, moved back", bar, (uint64_t)(uintptr_t)onto);
	return 0;
}

static int bar_onto_neighbour(struct target *t)
{
	struct target *n = attack_other_pci(t, false);
	if (!n)
		return -1;
	unsigned nb = bar_of(n, n->d.common);
	bool io;
	uint64_t size;
	return nb == 6 ? -1 : bar_move(t, pci_bar(n->pci, nb, &io, &size), "another device's BAR");
}

static int bar_onto_ram(struct target *t) { return bar_move(t, SCRATCH, "guest RAM"); }

/* The legacy I/O BAR onto another device's, with a request in flight. */
static int io_bar_onto_neighbour(struct target *t)
{
	struct target *n = attack_other_pci(t, true);
	struct aq a;
	if (!n || !dev_begin(t, 0) || !aq_setup(t, &a, 0, 8, 0) || !dev_ready(t))
		return -1;
	struct abuf b = { buffer(64), 64, true };
	aq_publish(&a, aq_chain(&a, &b, 1));
	uint32_t lo = pci_read32(t->pci, 0x10);
	pci_write32(t->pci, 0x10, (uint32_t)n->d.io | 1);
	aq_kick(&a);
	volatile uint8_t sink = inb((uint16_t)(n->d.io + 0x12));
	(void)sink;
	pci_write32(t->pci, 0x10, lo);
	note("I/O BAR 0 moved onto 0x%x (another device's) and back", n->d.io, 0);
	return 0;
}

/* MSI-X entries pointing at RAM, at the LAPIC with vector 0, at 2^64-16;
 * requests complete with interrupts wanted. */
static int msix_anywhere(struct target *t)
{
	unsigned cap = pci_find_cap(t->pci, 0x11, 0);
	if (!cap)
		return -1;
	uint32_t tbl = pci_read32(t->pci, cap + 4);
	bool io;
	uint64_t size, base = pci_bar(t->pci, tbl & 7, &io, &size);
	if (!base || io)
		return -1;
	uint64_t table = base + (tbl & ~7u);
	static const uint64_t addrs[3] = { 0x1000, 0xfee00000, ~0ull - 15 };
	unsigned served = 0;
	for (unsigned i = 0; i < 3; i++) {
		struct aq a;
		mmio_write32(table + 0, (uint32_t)addrs[i]);
		mmio_write32(table + 4, (uint32_t)(addrs[i] >> 32));
		mmio_write32(table + 8, 0); /* vector 0 */
		mmio_write32(table + 12, 0); /* unmasked */
		pci_write16(t->pci, cap + 2, (uint16_t)(pci_read16(t->pci, cap + 2) | 0x8000));
		if (!dev_begin(t, 0))
			return -1;
		mmio_write16(t->d.common + 0x10, 0); /* config vector 0 */
		tq_select(t, 0);
		mmio_write16(t->d.common + 0x1a, 0); /* queue 0 vector 0 */
		if (!aq_setup(t, &a, 0, 8, 0) || !dev_ready(t))
			return -1;
		struct abuf b = { buffer(64), 64, true };
		served += aq_request(&a, &b, 1, 1000, 0);
		pci_write16(t->pci, cap + 2, (uint16_t)(pci_read16(t->pci, cap + 2) & ~0x8000));
		dev_reset(t);
	}
	note("MSI-X entry 0 at 0x1000, the LAPIC with vector 0, 2^64-16: %u of 3 requests served", served, 0);
	return 0;
}

/* Junk written over the read-only parts of the PCI header and the
 * capability list while a request is in flight; command restored. */
static int pci_config_junk(struct target *t)
{
	struct aq a;
	if (!dev_begin(t, 0) || !aq_setup(t, &a, 0, 8, 0) || !dev_ready(t))
		return -1;
	struct abuf b = { buffer(64), 64, true };
	aq_publish(&a, aq_chain(&a, &b, 1));
	uint16_t cmd = pci_read16(t->pci, 4);
	unsigned msix = pci_find_cap(t->pci, 0x11, 0);
	uint16_t msix_ctl = msix ? pci_read16(t->pci, msix + 2) : 0;
	static const unsigned offs[] = { 0x00, 0x08, 0x2c, 0x34, 0x3c, 0x40, 0x44, 0x48, 0x50, 0x60, 0x70, 0x80, 0xfc };
	for (unsigned i = 0; i < sizeof(offs) / sizeof(offs[0]); i++)
		pci_write32(t->pci, offs[i], 0xffffffff);
	pci_write16(t->pci, 4, cmd);
	if (msix)
		pci_write16(t->pci, msix + 2, msix_ctl);
	aq_kick(&a);
	uint32_t id, len;
	bool back = aq_wait(&a, 1000, &id, &len);
	note("13 config dwords overwritten; request %s", (uint64_t)(uintptr_t)(back ? "served" : "not served"), 0);
	return 0;
}

#define PCI_MODERN TRANSPORT_PCI
const struct attack dev_attacks[] = {
	{ "blk-size-max", VIRTIO_ID_BLOCK, ALL_TRANSPORTS, A_ONCE, blk_size_max },
	{ "blk-seg-max", VIRTIO_ID_BLOCK, ALL_TRANSPORTS, A_ONCE, blk_seg_max },
	{ "blk-sector-past-end", VIRTIO_ID_BLOCK, ALL_TRANSPORTS, A_ONCE, blk_sector_past_end },
	{ "blk-huge-header", VIRTIO_ID_BLOCK, ALL_TRANSPORTS, A_ONCE, blk_huge_header },
	{ "blk-config-write-in-flight", VIRTIO_ID_BLOCK, ALL_TRANSPORTS, A_ONCE, blk_config_write_in_flight },
	{ "scsi-huge-transfer", VIRTIO_ID_SCSI, ALL_TRANSPORTS, A_ONCE, scsi_huge_transfer },
	{ "scsi-bad-lun", VIRTIO_ID_SCSI, ALL_TRANSPORTS, A_ONCE, scsi_bad_lun },
	{ "balloon-bad-pfns", VIRTIO_ID_BALLOON, ALL_TRANSPORTS, A_ONCE, balloon_bad_pfns },
	{ "balloon-stats-restart", VIRTIO_ID_BALLOON, ALL_TRANSPORTS & ~TRANSPORT_PCI, 0, balloon_stats_restart },
	{ "console-control-flood", VIRTIO_ID_CONSOLE, ALL_TRANSPORTS, A_ONCE, console_control_flood },
	{ "net-tx-0-and-64k", VIRTIO_ID_NET, ALL_TRANSPORTS, A_ONCE, net_tx_sizes },
	{ "pci-bar-onto-neighbour", VIRTIO_ID_RNG, PCI_MODERN, A_ONCE, bar_onto_neighbour },
	{ "pci-bar-onto-ram", VIRTIO_ID_RNG, PCI_MODERN, A_ONCE, bar_onto_ram },
	{ "pci-io-bar-onto-neighbour", VIRTIO_ID_RNG, TRANSPORT_PCI_LEGACY, A_ONCE, io_bar_onto_neighbour },
	{ "pci-msix-anywhere", VIRTIO_ID_RNG, PCI_MODERN, A_ONCE, msix_anywhere },
	{ "pci-config-junk", VIRTIO_ID_RNG, PCI_MODERN | TRANSPORT_PCI_LEGACY, A_ONCE, pci_config_junk },
};
const unsigned nr_dev_attacks = sizeof(dev_attacks) / sizeof(dev_attacks[0]);
