/* virtio-pci: the modern interface (vendor capabilities -> common config,
 * notify, ISR, device config in memory BARs) and the legacy one (registers
 * in I/O BAR 0, queue given as a page frame number). Ring 0. */
#include "trap.h"
#include "virtio.h"

/* ---- modern ---- */
#define PCI_CAP_VENDOR 0x09
enum { CFG_COMMON = 1, CFG_NOTIFY = 2, CFG_ISR = 3, CFG_DEVICE = 4, CFG_PCI = 5 };

/* common configuration structure */
#define COMMON_DFSELECT 0x00
#define COMMON_DF 0x04
#define COMMON_GFSELECT 0x08
#define COMMON_GF 0x0c
#define COMMON_MSIX 0x10
#define COMMON_NUMQ 0x12
#define COMMON_STATUS 0x14
#define COMMON_CFGGEN 0x15
#define COMMON_Q_SELECT 0x16
#define COMMON_Q_SIZE 0x18
#define COMMON_Q_MSIX 0x1a
#define COMMON_Q_ENABLE 0x1c
#define COMMON_Q_NOFF 0x1e
#define COMMON_Q_DESCLO 0x20
#define COMMON_Q_DESCHI 0x24
#define COMMON_Q_AVAILLO 0x28
#define COMMON_Q_AVAILHI 0x2c
#define COMMON_Q_USEDLO 0x30
#define COMMON_Q_USEDHI 0x34

static uint8_t m_get_status(struct vdev *d) { return mmio_read8(d->common + COMMON_STATUS); }
static void m_set_status(struct vdev *d, uint8_t s) { mmio_write8(d->common + COMMON_STATUS, s); }

static uint64_t m_get_features(struct vdev *d)
{
	mmio_write32(d->common + COMMON_DFSELECT, 0);
	uint64_t lo = mmio_read32(d->common + COMMON_DF);
	mmio_write32(d->common + COMMON_DFSELECT, 1);
	return lo | (uint64_t)mmio_read32(d->common + COMMON_DF) << 32;
}

static void m_set_features(struct vdev *d, uint64_t f)
{
	mmio_write32(d->common + COMMON_GFSELECT, 0);
	mmio_write32(d->common + COMMON_GF, (uint32_t)f);
	mmio_write32(d->common + COMMON_GFSELECT, 1);
	mmio_write32(d->common + COMMON_GF, (uint32_t)(f >> 32));
}

static unsigned m_queue_max(struct vdev *d, unsigned q)
{
	if (q >= mmio_read16(d->common + COMMON_NUMQ))
		return 0;
	mmio_write16(d->common + COMMON_Q_SELECT, (uint16_t)q);
	return mmio_read16(d->common + COMMON_Q_SIZE);
}

static int m_queue_setup(struct vdev *d, unsigned q, uint16_t size, uint64_t desc, uint64_t avail, uint64_t used)
{
	uint64_t c = d->common;
	mmio_write16(c + COMMON_Q_SELECT, (uint16_t)q);
	mmio_write16(c + COMMON_Q_SIZE, size);
	mmio_write16(c + COMMON_Q_MSIX, 0xffff); /* no vector: we poll */
	mmio_write32(c + COMMON_Q_DESCLO, (uint32_t)desc);
	mmio_write32(c + COMMON_Q_DESCHI, (uint32_t)(desc >> 32));
	mmio_write32(c + COMMON_Q_AVAILLO, (uint32_t)avail);
	mmio_write32(c + COMMON_Q_AVAILHI, (uint32_t)(avail >> 32));
	mmio_write32(c + COMMON_Q_USEDLO, (uint32_t)used);
	mmio_write32(c + COMMON_Q_USEDHI, (uint32_t)(used >> 32));
	mmio_write16(c + COMMON_Q_ENABLE, 1);
	if (mmio_read16(c + COMMON_Q_ENABLE) != 1) {
		printf("virtio-rng pci %s: FAIL queue_enable reads back 0\n", d->where);
		return -1;
	}
	return 0;
}

static void m_queue_notify(struct vdev *d, unsigned q, struct vnotify *n)
{
	mmio_write16(d->common + COMMON_Q_SELECT, (uint16_t)q);
	uint16_t off = mmio_read16(d->common + COMMON_Q_NOFF);
	n->kind = NOTIFY_MMIO16;
	n->addr = d->notify_base + (uint64_t)off * d->notify_mult;
	n->value = q;
}

static const struct vdev_ops modern_ops = {
	.legacy = false,
	.get_status = m_get_status,
	.set_status = m_set_status,
	.get_features = m_get_features,
	.set_features = m_set_features,
	.queue_max = m_queue_max,
	.queue_setup = m_queue_setup,
	.queue_notify = m_queue_notify,
};

/* Walk the vendor capabilities; fill common/notify/isr/devcfg. */
static bool modern_caps(struct vdev *d)
{
	const struct pci_func *f = d->pci;
	bool have_common = false, have_notify = false;

	for (unsigned cap = pci_find_cap(f, PCI_CAP_VENDOR, 0); cap; cap = pci_find_cap(f, PCI_CAP_VENDOR, cap)) {
		uint8_t type = pci_read8(f, cap + 3), bar = pci_read8(f, cap + 4);
		uint32_t offset = pci_read32(f, cap + 8), length = pci_read32(f, cap + 12);
		if (type == CFG_PCI || bar > 5)
			continue;
		bool io;
		uint64_t size, base = pci_bar(f, bar, &io, &size);
		if (!base || io || (uint64_t)offset + length > size) {
			printf("virtio pci %s: capability type %u: BAR%u 0x%lx (%s, %lu bytes) cannot hold 0x%x+0x%x\n",
			       d->where, type, bar, base, io ? "I/O" : "memory", size, offset, length);
			continue;
		}
		uint64_t addr = base + offset;
		switch (type) {
		case CFG_COMMON:
			if (!have_common)
				d->common = addr, have_common = true;
			break;
		case CFG_NOTIFY:
			if (!have_notify) {
				d->notify_base = addr, have_notify = true;
				d->notify_mult = pci_read32(f, cap + 16);
			}
			break;
		case CFG_ISR:
			if (!d->isr)
				d->isr = addr;
			break;
		case CFG_DEVICE:
			if (!d->devcfg)
				d->devcfg = addr;
			break;
		}
	}
	return have_common && have_notify;
}

/* ---- legacy ---- */
#define L_HOST_FEATURES 0x00
#define L_GUEST_FEATURES 0x04
#define L_QUEUE_PFN 0x08
#define L_QUEUE_NUM 0x0c
#define L_QUEUE_SEL 0x0e
#define L_QUEUE_NOTIFY 0x10
#define L_STATUS 0x12
#define L_ISR 0x13

static uint8_t l_get_status(struct vdev *d) { return inb((uint16_t)(d->io + L_STATUS)); }
static void l_set_status(struct vdev *d, uint8_t s) { outb((uint16_t)(d->io + L_STATUS), s); }
static uint64_t l_get_features(struct vdev *d) { return inl((uint16_t)(d->io + L_HOST_FEATURES)); }
static void l_set_features(struct vdev *d, uint64_t f) { outl((uint16_t)(d->io + L_GUEST_FEATURES), (uint32_t)f); }

static unsigned l_queue_max(struct vdev *d, unsigned q)
{
	outw((uint16_t)(d->io + L_QUEUE_SEL), (uint16_t)q);
	if (inl((uint16_t)(d->io + L_QUEUE_PFN)) != 0)
		return 0; /* already in use */
	return inw((uint16_t)(d->io + L_QUEUE_NUM));
}

static int l_queue_setup(struct vdev *d, unsigned q, uint16_t size, uint64_t desc, uint64_t avail, uint64_t used)
{
	(void)size, (void)avail, (void)used; /* legacy: fixed size, layout implied by desc */
	outw((uint16_t)(d->io + L_QUEUE_SEL), (uint16_t)q);
	outl((uint16_t)(d->io + L_QUEUE_PFN), (uint32_t)(desc >> 12));
	if (inl((uint16_t)(d->io + L_QUEUE_PFN)) != (uint32_t)(desc >> 12)) {
		printf("virtio-rng pci-legacy %s: FAIL queue PFN reads back 0x%x\n", d->where,
		       inl((uint16_t)(d->io + L_QUEUE_PFN)));
		return -1;
	}
	return 0;
}

static void l_queue_notify(struct vdev *d, unsigned q, struct vnotify *n)
{
	n->kind = NOTIFY_PIO16;
	n->addr = (uint16_t)(d->io + L_QUEUE_NOTIFY);
	n->value = q;
	iopb_allow((uint16_t)n->addr, 2); /* ring 3 kicks with `out` */
}

static const struct vdev_ops legacy_ops = {
	.legacy = true,
	.queue_size_fixed = true,
	.get_status = l_get_status,
	.set_status = l_set_status,
	.get_features = l_get_features,
	.set_features = l_set_features,
	.queue_max = l_queue_max,
	.queue_setup = l_queue_setup,
	.queue_notify = l_queue_notify,
};

static void where_bdf(struct vdev *d, const struct pci_func *f)
{
	static const char hex[] = "0123456789abcdef";
	char *w = d->where;
	w[0] = hex[f->bus >> 4], w[1] = hex[f->bus & 15], w[2] = ':';
	w[3] = hex[f->slot >> 4], w[4] = hex[f->slot & 15], w[5] = '.';
	w[6] = hex[f->fn & 7], w[7] = 0;
}

void virtio_pci_probe(const struct pci_func *funcs, unsigned n, unsigned *found, unsigned *passed)
{
	for (unsigned i = 0; i < n; i++) {
		const struct pci_func *f = &funcs[i];
		if (f->vendor != 0x1af4 || f->device < 0x1000 || f->device > 0x107f)
			continue;
		bool transitional = f->device < 0x1040;
		unsigned type = transitional ? f->subsys_id : f->device - 0x1040u;
		bool bench = type == VIRTIO_ID_BLOCK && opt.bench_ms;
		bool net_bench = type == VIRTIO_ID_NET && opt.net_bench_ms;
		if (type != VIRTIO_ID_RNG && !bench && !net_bench)
			continue;
		pci_enable(f);
		if (net_bench) {
			/* Like the blk benchmark: the modern interface only. */
			struct vdev d = { .ops = &modern_ops, .transport = TRANSPORT_PCI, .pci = f, .kind = "virtio-net" };
			where_bdf(&d, f);
			if (modern_caps(&d))
				virtio_net_bench(&d);
			else
				printf("virtio-net pci %s: skipped (no modern interface)\n", d.where);
			continue;
		}
		if (bench) {
			/* The benchmark drives the modern interface only. */
			struct vdev d = { .ops = &modern_ops, .transport = TRANSPORT_PCI, .pci = f, .kind = "virtio-blk" };
			where_bdf(&d, f);
			if (modern_caps(&d))
				virtio_blk_bench(&d);
			else
				printf("virtio-blk pci %s: skipped (no modern interface)\n", d.where);
			continue;
		}

		if (transitional) {
			/* The legacy interface: I/O BAR 0. */
			struct vdev d = { .ops = &legacy_ops, .transport = TRANSPORT_PCI_LEGACY, .pci = f };
			where_bdf(&d, f);
			*found |= TRANSPORT_PCI_LEGACY;
			bool io;
			uint64_t size, base = pci_bar(f, 0, &io, &size);
			if (!base || !io || size < 0x14) {
				printf("virtio-rng pci-legacy %s: FAIL BAR0 is not an I/O BAR (0x%lx, %lu bytes)\n", d.where,
				       base, size);
				result_fail();
			} else {
				d.io = (uint16_t)base;
				if (virtio_rng_test(&d))
					*passed |= TRANSPORT_PCI_LEGACY;
			}
		}
		/* The modern interface: a modern device, or a transitional one
		 * that also has the vendor capabilities. */
		struct vdev d = { .ops = &modern_ops, .transport = TRANSPORT_PCI, .pci = f };
		where_bdf(&d, f);
		if (!modern_caps(&d)) {
			if (!transitional) {
				*found |= TRANSPORT_PCI;
				printf("virtio-rng pci %s: FAIL no common/notify capability\n", d.where);
				result_fail();
			}
			continue;
		}
		*found |= TRANSPORT_PCI;
		if (virtio_rng_test(&d))
			*passed |= TRANSPORT_PCI;
	}
}

bool virtio_pci_interface(const struct pci_func *f, bool legacy, struct vdev *d)
{
	*d = (struct vdev){ .ops = legacy ? &legacy_ops : &modern_ops, .pci = f,
			    .transport = legacy ? TRANSPORT_PCI_LEGACY : TRANSPORT_PCI };
	where_bdf(d, f);
	pci_enable(f);
	if (!legacy)
		return modern_caps(d);
	bool io;
	uint64_t size, base = pci_bar(f, 0, &io, &size);
	if (!base || !io || size < 0x14)
		return false;
	d->io = (uint16_t)base;
	return true;
}
