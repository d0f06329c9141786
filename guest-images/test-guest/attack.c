/* The attack harness: finds the targets, runs each attack and after it
 * checks that skiff still serves (a neighbouring virtio-rng on another
 * transport returns bytes, the attacked device works again after a reset),
 * and prints one line per attack. Also the raw ring driver and register
 * access the attacks share. See attack.h. */
#include "attack.h"

#include "trap.h"

uint64_t ram_top;

/* ---- transport registers ---- */
#define MMIO_QUEUE_SEL 0x030
#define MMIO_QUEUE_NUM_MAX 0x034
#define MMIO_QUEUE_NUM 0x038
#define MMIO_QUEUE_ALIGN 0x03c
#define MMIO_QUEUE_PFN 0x040
#define MMIO_QUEUE_READY 0x044
#define MMIO_GUEST_PAGE_SIZE 0x028
#define MMIO_INTERRUPT_STATUS 0x060
#define MMIO_INTERRUPT_ACK 0x064
#define MMIO_QUEUE_DESC 0x080
#define MMIO_QUEUE_DRIVER 0x090
#define MMIO_QUEUE_DEVICE 0x0a0
#define COMMON_Q_SELECT 0x16
#define COMMON_Q_SIZE 0x18
#define COMMON_Q_ENABLE 0x1c
#define COMMON_Q_DESC 0x20
#define COMMON_Q_AVAIL 0x28
#define COMMON_Q_USED 0x30
#define LEGACY_PFN 0x08
#define LEGACY_NUM 0x0c
#define LEGACY_SEL 0x0e

static bool is_legacy(const struct target *t) { return t->d.ops->legacy; }

void mdelay(unsigned ms)
{
	uint64_t end = rdtsc() + (uint64_t)ms * 3000000;
	while (rdtsc() < end)
		__asm__ volatile("pause");
}

void tq_select(struct target *t, unsigned q)
{
	switch (t->d.transport) {
	case TRANSPORT_PCI: mmio_write16(t->d.common + COMMON_Q_SELECT, (uint16_t)q); break;
	case TRANSPORT_PCI_LEGACY: outw((uint16_t)(t->d.io + LEGACY_SEL), (uint16_t)q); break;
	default: mmio_write32(t->d.mmio + MMIO_QUEUE_SEL, q); break;
	}
}

uint16_t tq_max(struct target *t)
{
	switch (t->d.transport) {
	case TRANSPORT_PCI: return mmio_read16(t->d.common + COMMON_Q_SIZE);
	case TRANSPORT_PCI_LEGACY: return inw((uint16_t)(t->d.io + LEGACY_NUM));
	default: return (uint16_t)mmio_read32(t->d.mmio + MMIO_QUEUE_NUM_MAX);
	}
}

void tq_num(struct target *t, uint16_t n)
{
	if (t->d.transport == TRANSPORT_PCI)
		mmio_write16(t->d.common + COMMON_Q_SIZE, n);
	else if (t->d.transport != TRANSPORT_PCI_LEGACY)
		mmio_write32(t->d.mmio + MMIO_QUEUE_NUM, n);
	/* legacy PCI: the size is the device's, read-only */
}

static void mmio_write64(uint64_t reg, uint64_t v)
{
	mmio_write32(reg, (uint32_t)v);
	mmio_write32(reg + 4, (uint32_t)(v >> 32));
}

void tq_addrs(struct target *t, uint64_t desc, uint64_t avail, uint64_t used)
{
	t->legacy_desc = desc;
	if (t->d.transport == TRANSPORT_PCI) {
		mmio_write64(t->d.common + COMMON_Q_DESC, desc);
		mmio_write64(t->d.common + COMMON_Q_AVAIL, avail);
		mmio_write64(t->d.common + COMMON_Q_USED, used);
	} else if (t->d.transport == TRANSPORT_MMIO) {
		mmio_write64(t->d.mmio + MMIO_QUEUE_DESC, desc);
		mmio_write64(t->d.mmio + MMIO_QUEUE_DRIVER, avail);
		mmio_write64(t->d.mmio + MMIO_QUEUE_DEVICE, used);
	} else if (t->d.transport == TRANSPORT_MMIO_LEGACY) {
		mmio_write32(t->d.mmio + MMIO_GUEST_PAGE_SIZE, 4096);
		mmio_write32(t->d.mmio + MMIO_QUEUE_ALIGN, 4096);
	}
}

void tq_enable(struct target *t, bool on)
{
	uint32_t pfn = on ? (uint32_t)(t->legacy_desc >> 12) : 0;
	switch (t->d.transport) {
	case TRANSPORT_PCI: mmio_write16(t->d.common + COMMON_Q_ENABLE, on); break;
	case TRANSPORT_PCI_LEGACY: outl((uint16_t)(t->d.io + LEGACY_PFN), pfn); break;
	case TRANSPORT_MMIO: mmio_write32(t->d.mmio + MMIO_QUEUE_READY, on); break;
	default: mmio_write32(t->d.mmio + MMIO_QUEUE_PFN, pfn); break;
	}
}

bool tq_enabled(struct target *t)
{
	switch (t->d.transport) {
	case TRANSPORT_PCI: return mmio_read16(t->d.common + COMMON_Q_ENABLE) != 0;
	case TRANSPORT_PCI_LEGACY: return inl((uint16_t)(t->d.io + LEGACY_PFN)) != 0;
	case TRANSPORT_MMIO: return mmio_read32(t->d.mmio + MMIO_QUEUE_READY) != 0;
	default: return mmio_read32(t->d.mmio + MMIO_QUEUE_PFN) != 0;
	}
}

/* ---- status and features ---- */
static uint64_t accepted;

uint8_t dev_status(struct target *t) { return t->d.ops->get_status(&t->d); }
uint64_t dev_features(struct target *t) { (void)t; return accepted; }

void dev_reset(struct target *t)
{
	t->d.ops->set_status(&t->d, 0);
	for (unsigned i = 0; i < 1000 && dev_status(t) != 0; i++)
		mdelay(1);
	if (t->d.transport & (TRANSPORT_MMIO | TRANSPORT_MMIO_LEGACY))
		mmio_write32(t->d.mmio + MMIO_INTERRUPT_ACK, mmio_read32(t->d.mmio + MMIO_INTERRUPT_STATUS));
}

bool dev_begin(struct target *t, uint64_t want)
{
	const struct vdev_ops *ops = t->d.ops;
	dev_reset(t);
	if (dev_status(t) != 0) {
		note("device does not reset (status 0x%x)", dev_status(t), 0);
		return false;
	}
	ops->set_status(&t->d, VIRTIO_STATUS_ACK);
	ops->set_status(&t->d, VIRTIO_STATUS_ACK | VIRTIO_STATUS_DRIVER);
	uint64_t offered = ops->get_features(&t->d);
	if (!ops->legacy)
		want |= VIRTIO_F_VERSION_1;
	accepted = offered & want;
	ops->set_features(&t->d, accepted);
	if (ops->legacy)
		return true;
	ops->set_status(&t->d, VIRTIO_STATUS_ACK | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
	if (!(dev_status(t) & VIRTIO_STATUS_FEATURES_OK)) {
		note("FEATURES_OK refused for 0x%lx", accepted, 0);
		return false;
	}
	return true;
}

bool dev_ready(struct target *t)
{
	uint8_t st = VIRTIO_STATUS_ACK | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_DRIVER_OK;
	if (!is_legacy(t))
		st |= VIRTIO_STATUS_FEATURES_OK;
	t->d.ops->set_status(&t->d, st);
	uint8_t now = dev_status(t);
	return (now & VIRTIO_STATUS_DRIVER_OK) && !(now & (VIRTIO_STATUS_NEEDS_RESET | VIRTIO_STATUS_FAILED));
}

/* ---- the raw split ring ---- */
uint64_t aq_layout(struct target *t, uint16_t size, uint64_t *avail_off, uint64_t *used_off)
{
	*avail_off = 16ull * size;
	uint64_t align = is_legacy(t) ? 4096 : 4;
	*used_off = (*avail_off + 6 + 2ull * size + align - 1) & ~(align - 1);
	return *used_off + 6 + 8ull * size;
}

uint64_t aq_bytes(struct target *t, uint16_t size)
{
	uint64_t a, u;
	return aq_layout(t, size, &a, &u);
}

bool aq_setup(struct target *t, struct aq *a, unsigned q, uint16_t size, uint64_t base)
{
	tq_select(t, q);
	uint16_t max = tq_max(t);
	if (t->d.transport == TRANSPORT_PCI_LEGACY || size > max)
		size = max;
	if (!size) {
		note("queue %u has no size", q, 0);
		return false;
	}
	uint64_t avail_off, used_off, bytes = aq_layout(t, size, &avail_off, &used_off);
	if (!base)
		base = (uint64_t)(uintptr_t)dma_alloc(bytes, 4096);
	if (!base) {
		note("out of DMA memory", 0, 0);
		return false;
	}
	memset((void *)(uintptr_t)base, 0, bytes);
	*a = (struct aq){ .t = t, .q = q, .size = size, .desc = base, .avail = base + avail_off,
			  .used = base + used_off };
	tq_num(t, size);
	tq_addrs(t, a->desc, a->avail, a->used);
	tq_enable(t, true);
	t->d.ops->queue_notify(&t->d, q, &a->kick);
	if (!tq_enabled(t)) {
		note("queue %u not enabled by the device", q, 0);
		return false;
	}
	return true;
}

uint16_t aq_chain(struct aq *a, const struct abuf *b, unsigned n)
{
	uint16_t head = (uint16_t)(a->next_desc % a->size);
	for (unsigned i = 0; i < n; i++) {
		uint16_t slot = (uint16_t)((a->next_desc + i) % a->size);
		volatile struct vring_desc *d = &AQ_DESC(a, slot);
		d->addr = b[i].addr;
		d->len = b[i].len;
		d->flags = (uint16_t)((b[i].write ? VRING_DESC_F_WRITE : 0) | (i + 1 < n ? VRING_DESC_F_NEXT : 0));
		d->next = (uint16_t)((slot + 1) % a->size);
	}
	a->next_desc = (uint16_t)((a->next_desc + n) % a->size);
	return head;
}

void aq_publish(struct aq *a, uint16_t head)
{
	volatile struct vring_avail *av = (volatile struct vring_avail *)(uintptr_t)a->avail;
	av->ring[a->avail_idx % a->size] = head;
	barrier();
	a->avail_idx++;
	av->idx = a->avail_idx;
	mb();
}

void aq_kick(struct aq *a) { vnotify_kick(&a->kick); }

bool aq_wait(struct aq *a, unsigned ms, uint32_t *id, uint32_t *len)
{
	volatile struct vring_used *u = (volatile struct vring_used *)(uintptr_t)a->used;
	uint64_t end = rdtsc() + (uint64_t)ms * 3000000;
	while (u->idx == a->last_used) {
		if (rdtsc() > end)
			return false;
		__asm__ volatile("pause");
	}
	barrier();
	volatile struct vring_used_elem *e = &u->ring[a->last_used % a->size];
	*id = e->id;
	*len = e->len;
	a->last_used++;
	return true;
}

bool aq_request(struct aq *a, const struct abuf *b, unsigned n, unsigned ms, uint32_t *len)
{
	uint32_t id, l;
	uint16_t head = aq_chain(a, b, n);
	aq_publish(a, head);
	aq_kick(a);
	if (!aq_wait(a, ms, &id, &l) || id != head)
		return false;
	if (len)
		*len = l;
	return true;
}

/* ---- verdicts ---- */
static const char *note_fmt;
static uint64_t note_a, note_b;

void note(const char *fmt, uint64_t a, uint64_t b)
{
	note_fmt = fmt, note_a = a, note_b = b;
}

/* ---- targets ---- */
#define MAX_TARGETS 48
static struct target targets[MAX_TARGETS];
static unsigned nr_targets;

static void add_target(const struct vdev *d, unsigned type, struct pci_func *f, bool transitional)
{
	if (nr_targets == MAX_TARGETS)
		return;
	struct target *t = &targets[nr_targets++];
	*t = (struct target){ .d = *d, .type = type, .pci = f, .transitional = transitional };
	t->d.pci = f;
}

static void find_targets(struct pci_func *funcs, unsigned nfunc)
{
	for (unsigned i = 0; i < nfunc; i++) {
		struct pci_func *f = &funcs[i];
		if (f->vendor != 0x1af4 || f->device < 0x1000 || f->device > 0x107f)
			continue;
		bool old_id = f->device < 0x1040;
		unsigned type = old_id ? f->subsys_id : f->device - 0x1040u;
		struct vdev legacy, modern;
		bool has_legacy = old_id && virtio_pci_interface(f, true, &legacy);
		bool has_modern = virtio_pci_interface(f, false, &modern);
		if (has_legacy)
			add_target(&legacy, type, f, has_modern);
		if (has_modern)
			add_target(&modern, type, f, has_legacy);
	}
	for (unsigned n = 0; n < 32; n++) {
		struct vdev d;
		uint32_t id;
		if (virtio_mmio_interface(0xd0000000ull + n * 0x1000, &d, &id) && id)
			add_target(&d, id, 0, false);
	}
}

static const char *type_name(unsigned type)
{
	switch (type) {
	case VIRTIO_ID_NET: return "net";
	case VIRTIO_ID_BLOCK: return "blk";
	case VIRTIO_ID_CONSOLE: return "console";
	case VIRTIO_ID_RNG: return "rng";
	case VIRTIO_ID_BALLOON: return "balloon";
	case VIRTIO_ID_SCSI: return "scsi";
	}
	return "?";
}

/* A rate-limited rng (rate=1 on skiff's side) serves one byte, then keeps
 * requests waiting about a second each (in the ring: it unpops them).
 * Classified once, by one 64-byte request. */
static void classify_rng(struct target *t)
{
	struct aq a;
	uint64_t buf = (uint64_t)(uintptr_t)dma_alloc(64, 64);
	uint32_t len = 0;
	struct abuf b = { buf, 64, true };
	bool served = dev_begin(t, 0) && aq_setup(t, &a, 0, 8, 0) && dev_ready(t) && aq_request(&a, &b, 1, 300, &len);
	t->slow = !served || len < 64;
	dev_reset(t);
}

static bool same_device(const struct target *a, const struct target *b)
{
	return a->pci ? a->pci == b->pci : a->d.mmio == b->d.mmio && !b->pci;
}

/* A fast rng on another transport (or at least another device). */
static struct target *neighbour_of(const struct target *t)
{
	struct target *other = 0;
	for (unsigned i = 0; i < nr_targets; i++) {
		struct target *n = &targets[i];
		if (n->type != VIRTIO_ID_RNG || n->slow || same_device(n, t))
			continue;
		if (n->d.transport != t->d.transport)
			return n;
		if (!other)
			other = n;
	}
	return other;
}

struct target *attack_other_pci(const struct target *t, bool legacy)
{
	for (unsigned i = 0; i < nr_targets; i++) {
		struct target *n = &targets[i];
		if (n->pci && !same_device(n, t) && is_legacy(n) == legacy)
			return n;
	}
	return 0;
}

struct target *attack_twin(const struct target *t)
{
	for (unsigned i = 0; i < nr_targets; i++)
		if (&targets[i] != t && t->pci && targets[i].pci == t->pci)
			return &targets[i];
	return 0;
}

/* ---- the check after each attack: does the device serve again? ---- */
static bool rng_works(struct target *t, struct aq *a)
{
	uint64_t buf = (uint64_t)(uintptr_t)dma_alloc(64, 64);
	struct abuf b = { buf, 64, true };
	uint32_t len = 0;
	return aq_request(a, &b, 1, t->slow ? 3000 : 1000, &len) && len > 0 && len <= 64;
}

static bool blk_works(struct aq *a)
{
	uint8_t *hdr = dma_alloc(16 + 512 + 1, 16);
	memset(hdr, 0, 16);
	hdr[528] = 0xff;
	struct abuf b[3] = { { (uint64_t)(uintptr_t)hdr, 16, false }, { (uint64_t)(uintptr_t)hdr + 16, 512, true },
			     { (uint64_t)(uintptr_t)hdr + 528, 1, true } };
	return aq_request(a, b, 3, 1000, 0) && hdr[528] == 0;
}

static bool scsi_works(struct aq *a)
{
	uint8_t *req = dma_alloc(51 + 108, 16); /* cmd_req (cdb 32), cmd_resp (sense 96) */
	req[0] = 1; /* LUN: target 0, LUN 0; CDB 0 = TEST UNIT READY */
	req[51 + 11] = 0xff;
	struct abuf b[2] = { { (uint64_t)(uintptr_t)req, 51, false }, { (uint64_t)(uintptr_t)req + 51, 108, true } };
	return aq_request(a, b, 2, 1000, 0) && req[51 + 11] == 0; /* response VIRTIO_SCSI_S_OK */
}

static bool one_buffer_works(struct aq *a, uint32_t len, bool write)
{
	uint8_t *p = dma_alloc(len, 64);
	struct abuf b = { (uint64_t)(uintptr_t)p, len, write };
	return aq_request(a, &b, 1, 1000, 0);
}


/* Output to the first named port (port 1: queues 4 and 5, MULTIPORT) or,
 * without MULTIPORT, to port 0. Port 0 of a console with named ports has
 * no host side: skiff takes nothing from its transmit queue. */
static bool console_works(struct target *t, struct aq *a)
{
	bool multiport = dev_features(t) & CONSOLE_F_MULTIPORT;
	unsigned nq = multiport ? 6 : 2;
	for (unsigned q = 0; q < nq; q++)
		if (!aq_setup(t, &a[q], q, 8, 0))
			return false;
	return dev_ready(t) && one_buffer_works(&a[nq - 1], 4, false);
}

bool target_works(struct target *t)
{
	struct aq a[6];
	bool ok = dev_begin(t, t->type == VIRTIO_ID_CONSOLE ? CONSOLE_F_MULTIPORT : 0);
	switch (t->type) {
	case VIRTIO_ID_RNG:
		ok = ok && aq_setup(t, &a[0], 0, 8, 0) && dev_ready(t) && rng_works(t, &a[0]);
		break;
	case VIRTIO_ID_BLOCK:
		ok = ok && aq_setup(t, &a[0], 0, 8, 0) && dev_ready(t) && blk_works(&a[0]);
		break;
	case VIRTIO_ID_SCSI:
		ok = ok && aq_setup(t, &a[2], 2, 8, 0) && dev_ready(t) && scsi_works(&a[2]);
		break;
	case VIRTIO_ID_NET: /* a 60-byte frame after the 12-byte header (VERSION_1) or 10 (legacy) */
		ok = ok && aq_setup(t, &a[0], 0, 8, 0) && aq_setup(t, &a[1], 1, 8, 0) && dev_ready(t) &&
		     one_buffer_works(&a[1], is_legacy(t) ? 70 : 72, false);
		break;
	case VIRTIO_ID_CONSOLE:
		ok = ok && console_works(t, a);
		break;
	case VIRTIO_ID_BALLOON: {
		/* inflate one page of ours, then deflate it */
		uint32_t *pfn = dma_alloc(4, 4);
		*pfn = (uint32_t)((uint64_t)(uintptr_t)dma_alloc(4096, 4096) >> 12);
		struct abuf b = { (uint64_t)(uintptr_t)pfn, 4, false };
		ok = ok && aq_setup(t, &a[0], 0, 8, 0) && aq_setup(t, &a[1], 1, 8, 0) && dev_ready(t) &&
		     aq_request(&a[0], &b, 1, 1000, 0) && aq_request(&a[1], &b, 1, 1000, 0);
		break;
	}
	default:
		ok = false;
	}
	dev_reset(t);
	return ok;
}

/* ---- running ---- */
static bool selected(const char *name)
{
	const char *s = opt.attack;
	size_t n = strlen(name);
	while (*s && *s != ' ') {
		const char *w = s;
		while (*s && *s != ' ' && *s != ',')
			s++;
		size_t len = (size_t)(s - w);
		if ((len == 3 && strncmp(w, "all", 3) == 0) || (len == n && strncmp(w, name, n) == 0))
			return true;
		if (*s == ',')
			s++;
	}
	return false;
}

static bool fits(const struct attack *at, const struct target *t, unsigned transport)
{
	if (t->type != at->type || t->d.transport != transport)
		return false;
	if (at->type == VIRTIO_ID_RNG && t->slow != ((at->flags & A_SLOW) != 0))
		return false;
	return !(at->flags & A_TRANSITIONAL) || t->transitional;
}

/* One attack on one target, then the checks; prints the result line. */
static bool run_one(const struct attack *at, struct target *t)
{
	size_t mark = dma_mark();
	note_fmt = 0;
	int r = at->run(t);
	uint8_t st = dev_status(t);
	const char *why = 0;
	struct target *nb = neighbour_of(t);
	if (r < 0)
		why = "the attack's own check";
	else if (!nb)
		why = "no neighbouring virtio-rng to check";
	else if (!target_works(nb))
		why = "the neighbouring virtio-rng no longer serves";
	else if (!target_works(t))
		why = "the attacked device does not work after a reset";
	dma_release(mark);

	printf("attack %s/%s: %s (", at->name, transport_name(t->d.transport), why ? "FAILED" : "survived");
	if (note_fmt) {
		printf(note_fmt, note_a, note_b);
		printf("; ");
	}
	printf("%s %s %s, status 0x%x after%s", type_name(t->type), transport_name(t->d.transport), t->d.where, st,
	       st & VIRTIO_STATUS_NEEDS_RESET ? " (NEEDS_RESET)" : "");
	if (why)
		printf("; %s", why);
	else
		printf("; works after reset; neighbour rng %s %s served", transport_name(nb->d.transport), nb->d.where);
	printf(")\n");
	return !why;
}

static void run_table(const struct attack *table, unsigned n, unsigned *passed, unsigned *failed)
{
	for (unsigned i = 0; i < n; i++) {
		const struct attack *at = &table[i];
		if (!selected(at->name))
			continue;
		unsigned ran = 0;
		for (unsigned tr = 1; tr <= TRANSPORT_MMIO_LEGACY; tr <<= 1) {
			if (!(at->transports & tr) || (ran && (at->flags & A_ONCE)))
				continue;
			for (unsigned k = 0; k < nr_targets; k++) {
				if (!fits(at, &targets[k], tr))
					continue;
				if (run_one(at, &targets[k]))
					(*passed)++;
				else
					(*failed)++;
				ran++;
				break;
			}
		}
		if (!ran)
			printf("attack %s: skipped (no %s%s%s target on its transports)\n", at->name,
			       at->flags & A_SLOW ? "rate-limited " : "", at->flags & A_TRANSITIONAL ? "transitional " : "",
			       type_name(at->type));
	}
}

unsigned attack_main(struct pci_func *funcs, unsigned nfunc, const struct attack_table *tables, unsigned nr_tables)
{
	find_targets(funcs, nfunc);
	size_t mark = dma_mark();
	for (unsigned i = 0; i < nr_targets; i++) {
		struct target *t = &targets[i];
		if (t->type == VIRTIO_ID_RNG)
			classify_rng(t);
		printf("attack: target %s %s %s%s%s\n", type_name(t->type), transport_name(t->d.transport), t->d.where,
		       t->transitional ? " (transitional)" : "", t->slow ? " (rate-limited: keeps requests waiting)" : "");
	}
	dma_release(mark);
	printf("attack: guest RAM below 4 GiB ends at 0x%lx\n", ram_top);

	unsigned passed = 0, failed = 0;
	for (unsigned i = 0; i < nr_tables; i++)
		run_table(tables[i].attacks, tables[i].n, &passed, &failed);
	printf("attack: %u survived, %u failed\n", passed, failed);
	return failed;
}
