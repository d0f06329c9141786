/* Unit tests for the virtio transports (virtio-pci modern, transitional
 * and legacy; virtio-mmio versions 1 and 2), the shared status/feature
 * logic and virtio-rng. Everything is driven the way a guest driver
 * would: register accesses through real struct bus instances, PCI config
 * space through ports 0xCF8/0xCFC, rings in a fake guest RAM built with
 * the driver-side ring code (virtqueue/driver.h) or, for the legacy
 * PFN layouts, by hand. A fake platform records ioeventfd-style
 * registrations, interrupt line levels and MSI messages; a guest write
 * that matches a registration runs its handler instead of the bus, as
 * KVM's ioeventfd would. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <linux/pci_regs.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_mmio.h>
#include <linux/virtio_pci.h>
#include <linux/virtio_ring.h>

#include "bus/bus.h"
#include "bus/pci.h"
#include "virtio/virtio-mmio.h"
#include "virtio/virtio-pci.h"
#include "virtio/virtio-device.h"
#include "devices/virtio-rng.h"
#include "virtqueue/driver.h"
#include "base/log.h"
#include "tests/unit/log-capture.h"

#define RAM_SIZE   (8u << 20)
#define RAM_GUARD  4096u         /* host memory right after guest RAM: must stay intact */
#define GUARD_BYTE 0xa5
#define RING_GPA   0x100000ull   /* queue 0 rings */
#define RING1_GPA  0x200000ull   /* queue 1 rings */
#define BUF_GPA    0x400000ull   /* data buffers */
#define MMIO_BASE  0xd0000000ull
#define MMIO_GSI   5

#define F(bit) (1ull << (bit))

/* ---- fake platform ---- */

struct fake_notifier {
	bool active, pio, datamatch;
	uint64_t addr, data;
	unsigned len;
	struct virtio_device *dev; /* the queue KVM would kick */
	unsigned q;
};

#define FAKE_MAX_NOTIFIERS 32
#define FAKE_MAX_MSI 32

struct fake_platform {
	struct virtio_platform ops;
	bool refuse_notify;              /* behave like a host without ioeventfd */
	struct fake_notifier n[FAKE_MAX_NOTIFIERS];
	unsigned adds, dels, fast_kicks;
	int level[64];                   /* per GSI */
	unsigned raises[64];
	unsigned nr_msi;                 /* messages fired */
	uint64_t msi_addr[FAKE_MAX_MSI];
	uint32_t msi_data[FAKE_MAX_MSI];
	unsigned nr_routes, route_updates;
	uint64_t route_addr[FAKE_MAX_MSI];
	uint32_t route_data[FAKE_MAX_MSI];
};

static int fake_notify_add(void *ctx, bool pio, uint64_t addr, unsigned len, bool datamatch, uint64_t data,
			   struct virtio_device *dev, unsigned q)
{
	struct fake_platform *p = ctx;

	if (p->refuse_notify)
		return -ENOSYS;
	for (unsigned i = 0; i < FAKE_MAX_NOTIFIERS; i++) {
		if (!p->n[i].active) {
			p->n[i] = (struct fake_notifier){ true, pio, datamatch, addr, data, len, dev, q };
			p->adds++;
			return 0;
		}
	}
	return -ENOSPC;
}

static void fake_notify_del(void *ctx, bool pio, uint64_t addr, unsigned len, bool datamatch, uint64_t data)
{
	struct fake_platform *p = ctx;

	for (unsigned i = 0; i < FAKE_MAX_NOTIFIERS; i++) {
		struct fake_notifier *n = &p->n[i];
		if (n->active && n->pio == pio && n->addr == addr && n->len == len && n->datamatch == datamatch &&
		    (!datamatch || n->data == data)) {
			n->active = false;
			p->dels++;
		}
	}
}

static void fake_set_irq(void *ctx, unsigned gsi, int level)
{
	struct fake_platform *p = ctx;

	ck_assert_uint_lt(gsi, 64);
	if (level && !p->level[gsi])
		p->raises[gsi]++;
	p->level[gsi] = level;
}

static int fake_msi_route_set(void *ctx, int route, uint64_t address, uint32_t data)
{
	struct fake_platform *p = ctx;

	if (route < 0) {
		if (p->nr_routes == FAKE_MAX_MSI)
			return -ENOSPC;
		route = (int)p->nr_routes++;
	}
	p->route_addr[route] = address;
	p->route_data[route] = data;
	p->route_updates++;
	return route;
}

/* What KVM would inject: the route's message as last set. */
static void fake_msi_route_fire(void *ctx, int route)
{
	struct fake_platform *p = ctx;

	ck_assert_int_ge(route, 0);
	ck_assert_int_lt(route, (int)p->nr_routes);
	if (p->nr_msi < FAKE_MAX_MSI) {
		p->msi_addr[p->nr_msi] = p->route_addr[route];
		p->msi_data[p->nr_msi] = p->route_data[route];
	}
	p->nr_msi++;
}

static const struct fake_notifier *find_notifier(const struct fake_platform *p, bool pio, uint64_t addr,
						 bool datamatch, uint64_t data)
{
	for (unsigned i = 0; i < FAKE_MAX_NOTIFIERS; i++) {
		const struct fake_notifier *n = &p->n[i];
		if (n->active && n->pio == pio && n->addr == addr && n->datamatch == datamatch &&
		    (!datamatch || n->data == data))
			return n;
	}
	return NULL;
}

static unsigned active_notifiers(const struct fake_platform *p)
{
	unsigned count = 0;

	for (unsigned i = 0; i < FAKE_MAX_NOTIFIERS; i++)
		count += p->n[i].active;
	return count;
}

/* ---- a fake device model: two queues, 8 bytes of config, one feature.
 * It answers every chain by writing 4 bytes 0xab into the in buffers. ---- */

#define FAKE_FEATURE  5          /* like VIRTIO_NET_F_MAC */
#define FAKE_QSIZE    16

#define FAKE_HELD_MAX FAKE_QSIZE

struct fake_dev {
	struct virtio_device vdev;
	uint8_t config[8];
	unsigned notified[VIRTIO_MAX_QUEUES];
	unsigned activated, resets;
	int activate_ret;
	/* With hold set, the device keeps what it pops (as blk or the balloon
	 * do) until the test completes it. */
	bool hold;
	unsigned nheld;
	struct virtio_request held[FAKE_HELD_MAX];
};

static uint64_t fake_features(struct virtio_device *dev)
{
	return F(FAKE_FEATURE);
}

static void fake_config_read(struct virtio_device *dev, size_t offset, void *data, size_t len)
{
	struct fake_dev *fd = dev->priv;

	memcpy(data, fd->config + offset, len);
}

static void fake_config_write(struct virtio_device *dev, size_t offset, const void *data, size_t len)
{
	struct fake_dev *fd = dev->priv;

	memcpy(fd->config + offset, data, len);
}

static int fake_activate(struct virtio_device *dev)
{
	struct fake_dev *fd = dev->priv;

	fd->activated++;
	return fd->activate_ret;
}

static bool fake_queue_notify(struct virtio_device *dev, unsigned q, unsigned budget)
{
	struct fake_dev *fd = dev->priv;
	struct vq_chain chain;
	const uint8_t reply[4] = { 0xab, 0xab, 0xab, 0xab };
	bool pushed = false;
	int ret;

	fd->notified[q]++;
	if (fd->hold) {
		while (fd->nheld < FAKE_HELD_MAX && virtio_request_pop(dev, q, &fd->held[fd->nheld]) == 1)
			fd->nheld++;
		return false;
	}
	while ((ret = vq_pop(&dev->vqs[q], &chain)) == 1) {
		vq_push(&dev->vqs[q], &chain, vq_chain_write(&dev->vqs[q], &chain, 0, reply, sizeof(reply)));
		pushed = true;
	}
	if (ret < 0)
		virtio_device_needs_reset(dev);
	if (pushed)
		virtio_device_notify_used(dev, q);
	return false;
}

static void fake_reset(struct virtio_device *dev)
{
	struct fake_dev *fd = dev->priv;

	fd->resets++;
}

static const struct virtio_device_ops fake_ops = {
	.type = "fake",
	.device_id = VIRTIO_ID_NET, /* has a transitional PCI ID */
	.nr_queues = 2,
	.queue_max_size = FAKE_QSIZE,
	.config_size = sizeof(((struct fake_dev *)0)->config),
	.features = fake_features,
	.config_read = fake_config_read,
	.config_write = fake_config_write,
	.activate = fake_activate,
	.queue_notify = fake_queue_notify,
	.reset = fake_reset,
};

/* ---- the world: RAM, buses, PCI host, platform, devices ---- */

struct world {
	uint8_t *ram;
	struct guest_mem mem;
	struct bus pio, mmio;
	struct pci_host host;
	struct fake_platform plat;
	struct fake_dev fd;
	struct virtio_rng rng;
	struct virtio_pci vp;
	struct virtio_mmio vm;
};

static struct world *w;
static int64_t fake_now_ns;

static int64_t fake_clock(void)
{
	return fake_now_ns;
}

static void world_setup(void)
{
	w = calloc(1, sizeof(*w));
	ck_assert_ptr_nonnull(w);
	w->ram = calloc(1, RAM_SIZE + RAM_GUARD);
	ck_assert_ptr_nonnull(w->ram);
	memset(w->ram + RAM_SIZE, GUARD_BYTE, RAM_GUARD);
	w->mem.region[0] = (struct guest_region){ .gpa = 0, .size = RAM_SIZE, .host = w->ram };
	w->mem.nr_regions = 1;
	bus_init(&w->pio, "pio");
	bus_init(&w->mmio, "mmio");
	w->plat.ops = (struct virtio_platform){ .notify_add = fake_notify_add, .notify_del = fake_notify_del,
						.set_irq = fake_set_irq, .msi_route_set = fake_msi_route_set,
						.msi_route_fire = fake_msi_route_fire, .ctx = &w->plat };
	ck_assert_int_eq(pci_host_init(&w->host, &w->pio, &w->mmio, fake_set_irq, &w->plat), 0);
	virtio_device_init(&w->fd.vdev, &fake_ops, &w->fd, "fake0", &w->mem);
}

static void world_teardown(void)
{
	/* No test may see a device write past guest RAM. */
	for (size_t i = 0; i < RAM_GUARD; i++)
		ck_assert_uint_eq(w->ram[RAM_SIZE + i], GUARD_BYTE);
	free(w->ram);
	free(w);
	w = NULL;
}

/* ---- guest accesses ---- */

static uint64_t rd(struct bus *bus, uint64_t addr, unsigned len)
{
	uint8_t data[8];
	uint64_t v = 0;

	bus_dispatch(bus, addr, data, len, false);
	for (unsigned i = 0; i < len; i++)
		v |= (uint64_t)data[i] << (8 * i);
	return v;
}

/* A guest write: an ioeventfd that matches takes it, else the bus. */
static void wr(struct bus *bus, uint64_t addr, unsigned len, uint64_t value)
{
	uint8_t data[8];
	bool pio = bus == &w->pio;

	for (unsigned i = 0; i < FAKE_MAX_NOTIFIERS; i++) {
		const struct fake_notifier *n = &w->plat.n[i];
		if (n->active && n->pio == pio && n->addr == addr && n->len == len &&
		    (!n->datamatch || n->data == value)) {
			w->plat.fast_kicks++;
			virtio_device_kick(n->dev, n->q); /* what the kick eventfd leads to */
			return;
		}
	}
	for (unsigned i = 0; i < len; i++)
		data[i] = value >> (8 * i);
	bus_dispatch(bus, addr, data, len, true);
}

static uint32_t mrd(uint64_t off)
{
	return rd(&w->mmio, MMIO_BASE + off, 4);
}

static void mwr(uint64_t off, uint32_t v)
{
	wr(&w->mmio, MMIO_BASE + off, 4, v);
}

static uint32_t cfg_rd(unsigned slot, unsigned off, unsigned len)
{
	wr(&w->pio, 0xcf8, 4, 0x80000000u | slot << 11 | (off & 0xfc));
	return rd(&w->pio, 0xcfc + (off & 3), len);
}

static void cfg_wr(unsigned slot, unsigned off, unsigned len, uint32_t v)
{
	wr(&w->pio, 0xcf8, 4, 0x80000000u | slot << 11 | (off & 0xfc));
	wr(&w->pio, 0xcfc + (off & 3), len, v);
}

static uint64_t bar_addr(unsigned slot, unsigned bar)
{
	uint32_t reg = cfg_rd(slot, PCI_BASE_ADDRESS_0 + 4 * bar, 4);

	return reg & PCI_BASE_ADDRESS_SPACE_IO ? reg & PCI_BASE_ADDRESS_IO_MASK : reg & PCI_BASE_ADDRESS_MEM_MASK;
}

static void ram_w16(uint64_t gpa, uint16_t v) { memcpy(w->ram + gpa, &v, 2); }
static void ram_w32(uint64_t gpa, uint32_t v) { memcpy(w->ram + gpa, &v, 4); }
static void ram_w64(uint64_t gpa, uint64_t v) { memcpy(w->ram + gpa, &v, 8); }
static uint16_t ram_r16(uint64_t gpa) { uint16_t v; memcpy(&v, w->ram + gpa, 2); return v; }
static uint32_t ram_r32(uint64_t gpa) { uint32_t v; memcpy(&v, w->ram + gpa, 4); return v; }

static bool all_zero(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i])
			return false;
	return true;
}

/* ---- a hand-built split ring, for the legacy PFN layouts ---- */

struct hring {
	uint64_t desc, avail, used;
	uint16_t size, avail_idx, last_used;
};

static void hring_init(struct hring *r, uint64_t base, uint16_t size, uint64_t align)
{
	memset(w->ram + base, 0, 3 * 4096 + 18 * size);
	r->size = size;
	r->desc = base;
	r->avail = base + 16ull * size;
	r->used = (r->avail + 6 + 2ull * size + align - 1) & ~(align - 1);
	r->avail_idx = r->last_used = 0;
}

/* One descriptor per buffer, descriptor i for the i-th buffer. */
static void hring_add(struct hring *r, uint64_t buf, uint32_t len, bool device_writes)
{
	uint16_t i = r->avail_idx % r->size;
	uint64_t d = r->desc + 16ull * i;

	ram_w64(d, buf);
	ram_w32(d + 8, len);
	ram_w16(d + 12, device_writes ? VRING_DESC_F_WRITE : 0);
	ram_w16(d + 14, 0);
	ram_w16(r->avail + 4 + 2 * i, i);
	r->avail_idx++;
	ram_w16(r->avail + 2, r->avail_idx);
}

static bool hring_used(struct hring *r, uint32_t *id, uint32_t *len)
{
	if (ram_r16(r->used + 2) == r->last_used)
		return false;
	uint64_t e = r->used + 4 + 8ull * (r->last_used % r->size);
	*id = ram_r32(e);
	*len = ram_r32(e + 4);
	r->last_used++;
	return true;
}

/* ---- virtio-mmio driver steps ---- */

static void mmio_create(struct virtio_device *dev, int version)
{
	ck_assert_int_eq(virtio_mmio_create(&w->vm, dev, version, MMIO_BASE, MMIO_GSI, &w->mmio, &w->plat.ops), 0);
}

static uint64_t mmio_device_features(void)
{
	mwr(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	uint64_t f = mrd(VIRTIO_MMIO_DEVICE_FEATURES);
	mwr(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	return f | (uint64_t)mrd(VIRTIO_MMIO_DEVICE_FEATURES) << 32;
}

/* ACKNOWLEDGE, DRIVER, features, FEATURES_OK (v2); returns the status read back. */
static uint32_t mmio_negotiate(uint64_t features, bool features_ok)
{
	mwr(VIRTIO_MMIO_STATUS, 0);
	mwr(VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	mwr(VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	mwr(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	mwr(VIRTIO_MMIO_DRIVER_FEATURES, features >> 32);
	mwr(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	mwr(VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)features);
	if (features_ok)
		mwr(VIRTIO_MMIO_STATUS, mrd(VIRTIO_MMIO_STATUS) | VIRTIO_CONFIG_S_FEATURES_OK);
	return mrd(VIRTIO_MMIO_STATUS);
}

static void mmio_driver_ok(void)
{
	mwr(VIRTIO_MMIO_STATUS, mrd(VIRTIO_MMIO_STATUS) | VIRTIO_CONFIG_S_DRIVER_OK);
}

/* Version 2 queue set-up: size and ring addresses, then QueueReady. */
static void mmio_v2_queue_regs(unsigned q, uint16_t size, uint64_t desc, uint64_t avail, uint64_t used)
{
	mwr(VIRTIO_MMIO_QUEUE_SEL, q);
	ck_assert_uint_eq(mrd(VIRTIO_MMIO_QUEUE_READY), 0);
	ck_assert_uint_ge(mrd(VIRTIO_MMIO_QUEUE_NUM_MAX), size);
	mwr(VIRTIO_MMIO_QUEUE_NUM, size);
	mwr(VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)desc);
	mwr(VIRTIO_MMIO_QUEUE_DESC_HIGH, desc >> 32);
	mwr(VIRTIO_MMIO_QUEUE_AVAIL_LOW, (uint32_t)avail);
	mwr(VIRTIO_MMIO_QUEUE_AVAIL_HIGH, avail >> 32);
	mwr(VIRTIO_MMIO_QUEUE_USED_LOW, (uint32_t)used);
	mwr(VIRTIO_MMIO_QUEUE_USED_HIGH, used >> 32);
	mwr(VIRTIO_MMIO_QUEUE_READY, 1);
}

/* Version 2 queue set-up with the driver-side ring code. */
static void mmio_v2_queue(struct vqd *d, unsigned q, uint64_t gpa, uint16_t size, bool packed, uint64_t features)
{
	int ret = packed ? vqd_init_packed(d, size, w->ram + gpa, gpa, features)
			 : vqd_init_split(d, size, w->ram + gpa, gpa, features);
	ck_assert_int_eq(ret, 0);
	mmio_v2_queue_regs(q, size, d->desc_gpa, d->avail_gpa, d->used_gpa);
}

/* Version 1 queue set-up: the ring at a page frame. */
static void mmio_v1_queue(struct hring *r, unsigned q, uint64_t gpa, uint16_t size)
{
	hring_init(r, gpa, size, 4096);
	mwr(VIRTIO_MMIO_GUEST_PAGE_SIZE, 4096);
	mwr(VIRTIO_MMIO_QUEUE_SEL, q);
	ck_assert_uint_eq(mrd(VIRTIO_MMIO_QUEUE_PFN), 0);
	mwr(VIRTIO_MMIO_QUEUE_NUM, size);
	mwr(VIRTIO_MMIO_QUEUE_ALIGN, 4096);
	mwr(VIRTIO_MMIO_QUEUE_PFN, gpa / 4096);
}

/* What Linux's vm_interrupt does: read the status, acknowledge it. */
static uint32_t mmio_ack_interrupt(void)
{
	uint32_t status = mrd(VIRTIO_MMIO_INTERRUPT_STATUS);

	mwr(VIRTIO_MMIO_INTERRUPT_ACK, status);
	return status;
}

/* ---- virtio-pci driver steps ---- */

struct pci_guest {
	unsigned slot;
	uint64_t common, notify, isr, device; /* MMIO addresses of the structures */
	uint32_t notify_mult, device_len;
	uint16_t io;                          /* legacy I/O BAR */
	unsigned msix_cap;
};

/* Walk the capability list for a vendor capability of cfg_type. */
static unsigned find_virtio_cap(unsigned slot, uint8_t cfg_type)
{
	unsigned guard = 0;

	if (!(cfg_rd(slot, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST))
		return 0;
	for (unsigned pos = cfg_rd(slot, PCI_CAPABILITY_LIST, 1); pos && guard < 48; guard++) {
		if (cfg_rd(slot, pos, 1) == PCI_CAP_ID_VNDR && cfg_rd(slot, pos + VIRTIO_PCI_CAP_CFG_TYPE, 1) == cfg_type)
			return pos;
		pos = cfg_rd(slot, pos + PCI_CAP_LIST_NEXT, 1);
	}
	return 0;
}

static unsigned find_cap(unsigned slot, uint8_t id)
{
	unsigned guard = 0;

	for (unsigned pos = cfg_rd(slot, PCI_CAPABILITY_LIST, 1); pos && guard < 48; guard++) {
		if (cfg_rd(slot, pos, 1) == id)
			return pos;
		pos = cfg_rd(slot, pos + PCI_CAP_LIST_NEXT, 1);
	}
	return 0;
}

static uint64_t cap_address(unsigned slot, unsigned cap)
{
	unsigned bar = cfg_rd(slot, cap + VIRTIO_PCI_CAP_BAR, 1);

	return bar_addr(slot, bar) + cfg_rd(slot, cap + VIRTIO_PCI_CAP_OFFSET, 4);
}

static void pci_probe(struct pci_guest *g)
{
	memset(g, 0, sizeof(*g));
	g->slot = w->vp.pci.slot;
	unsigned common = find_virtio_cap(g->slot, VIRTIO_PCI_CAP_COMMON_CFG);
	unsigned notify = find_virtio_cap(g->slot, VIRTIO_PCI_CAP_NOTIFY_CFG);
	unsigned isr = find_virtio_cap(g->slot, VIRTIO_PCI_CAP_ISR_CFG);
	unsigned device = find_virtio_cap(g->slot, VIRTIO_PCI_CAP_DEVICE_CFG);
	if (common) {
		g->common = cap_address(g->slot, common);
		g->notify = cap_address(g->slot, notify);
		g->notify_mult = cfg_rd(g->slot, notify + VIRTIO_PCI_NOTIFY_CAP_MULT, 4);
		g->isr = cap_address(g->slot, isr);
	}
	if (device) {
		g->device = cap_address(g->slot, device);
		g->device_len = cfg_rd(g->slot, device + VIRTIO_PCI_CAP_LENGTH, 4);
	}
	if (w->vp.mode != VIRTIO_PCI_MODERN)
		g->io = bar_addr(g->slot, 0);
	g->msix_cap = find_cap(g->slot, PCI_CAP_ID_MSIX);
}

static uint64_t crd(const struct pci_guest *g, unsigned off, unsigned len)
{
	return rd(&w->mmio, g->common + off, len);
}

static void cwr(const struct pci_guest *g, unsigned off, unsigned len, uint64_t v)
{
	wr(&w->mmio, g->common + off, len, v);
}

static uint8_t pci_negotiate(const struct pci_guest *g, uint64_t features)
{
	cwr(g, VIRTIO_PCI_COMMON_STATUS, 1, 0);
	cwr(g, VIRTIO_PCI_COMMON_STATUS, 1, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	cwr(g, VIRTIO_PCI_COMMON_STATUS, 1, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	cwr(g, VIRTIO_PCI_COMMON_GFSELECT, 4, 0);
	cwr(g, VIRTIO_PCI_COMMON_GF, 4, (uint32_t)features);
	cwr(g, VIRTIO_PCI_COMMON_GFSELECT, 4, 1);
	cwr(g, VIRTIO_PCI_COMMON_GF, 4, features >> 32);
	cwr(g, VIRTIO_PCI_COMMON_STATUS, 1, crd(g, VIRTIO_PCI_COMMON_STATUS, 1) | VIRTIO_CONFIG_S_FEATURES_OK);
	return crd(g, VIRTIO_PCI_COMMON_STATUS, 1);
}

static void pci_driver_ok(const struct pci_guest *g)
{
	cwr(g, VIRTIO_PCI_COMMON_STATUS, 1, crd(g, VIRTIO_PCI_COMMON_STATUS, 1) | VIRTIO_CONFIG_S_DRIVER_OK);
}

/* Modern queue set-up: size and ring addresses, then queue_enable. */
static void pci_modern_queue_regs(const struct pci_guest *g, unsigned q, uint16_t size, uint64_t desc, uint64_t avail,
				  uint64_t used)
{
	cwr(g, VIRTIO_PCI_COMMON_Q_SELECT, 2, q);
	ck_assert_uint_ge(crd(g, VIRTIO_PCI_COMMON_Q_SIZE, 2), size);
	ck_assert_uint_eq(crd(g, VIRTIO_PCI_COMMON_Q_ENABLE, 2), 0);
	cwr(g, VIRTIO_PCI_COMMON_Q_SIZE, 2, size);
	cwr(g, VIRTIO_PCI_COMMON_Q_DESCLO, 4, (uint32_t)desc);
	cwr(g, VIRTIO_PCI_COMMON_Q_DESCHI, 4, desc >> 32);
	cwr(g, VIRTIO_PCI_COMMON_Q_AVAILLO, 4, (uint32_t)avail);
	cwr(g, VIRTIO_PCI_COMMON_Q_AVAILHI, 4, avail >> 32);
	cwr(g, VIRTIO_PCI_COMMON_Q_USEDLO, 4, (uint32_t)used);
	cwr(g, VIRTIO_PCI_COMMON_Q_USEDHI, 4, used >> 32);
	cwr(g, VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1);
}

static void pci_modern_queue(const struct pci_guest *g, struct vqd *d, unsigned q, uint64_t gpa, uint16_t size,
			     uint64_t features)
{
	ck_assert_int_eq(vqd_init_split(d, size, w->ram + gpa, gpa, features), 0);
	pci_modern_queue_regs(g, q, size, d->desc_gpa, d->avail_gpa, d->used_gpa);
}

static void pci_modern_kick(const struct pci_guest *g, unsigned q)
{
	cwr(g, VIRTIO_PCI_COMMON_Q_SELECT, 2, q);
	uint64_t off = crd(g, VIRTIO_PCI_COMMON_Q_NOFF, 2);
	wr(&w->mmio, g->notify + off * g->notify_mult, 2, q);
}

/* Enable MSI-X and program vector v to (0xfee00000 + v * 0x1000, 0x40 + v), unmasked. */
static void pci_msix_setup(const struct pci_guest *g, unsigned nvec)
{
	uint32_t table = cfg_rd(g->slot, g->msix_cap + PCI_MSIX_TABLE, 4);
	uint64_t base = bar_addr(g->slot, table & PCI_MSIX_TABLE_BIR) + (table & PCI_MSIX_TABLE_OFFSET);

	for (unsigned v = 0; v < nvec; v++) {
		wr(&w->mmio, base + 16 * v + PCI_MSIX_ENTRY_LOWER_ADDR, 4, 0xfee00000u + v * 0x1000);
		wr(&w->mmio, base + 16 * v + PCI_MSIX_ENTRY_UPPER_ADDR, 4, 0);
		wr(&w->mmio, base + 16 * v + PCI_MSIX_ENTRY_DATA, 4, 0x40 + v);
		wr(&w->mmio, base + 16 * v + PCI_MSIX_ENTRY_VECTOR_CTRL, 4, 0);
	}
	cfg_wr(g->slot, g->msix_cap + PCI_MSIX_FLAGS, 2, PCI_MSIX_FLAGS_ENABLE);
}

static unsigned pci_gsi(const struct pci_guest *g)
{
	return cfg_rd(g->slot, PCI_INTERRUPT_LINE, 1);
}

/* A fake-device chain: 4 bytes for the device to write. */
static void post_reply_buffer(struct vqd *d, uint64_t gpa, void *token)
{
	struct vqd_buf in = { gpa, 4 };

	memset(w->ram + gpa, 0, 4);
	ck_assert_int_eq(vqd_add(d, NULL, 0, &in, 1, token, false), 0);
}

/* ================= virtio-mmio version 2 ================= */

START_TEST(mmio_v2_identity)
{
	mmio_create(&w->fd.vdev, 2);
	ck_assert_uint_eq(mrd(VIRTIO_MMIO_MAGIC_VALUE), 0x74726976);
	ck_assert_uint_eq(mrd(VIRTIO_MMIO_VERSION), 2);
	ck_assert_uint_eq(mrd(VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_NET);
	ck_assert_uint_eq(mrd(VIRTIO_MMIO_VENDOR_ID), VIRTIO_MMIO_VENDOR);
	mwr(VIRTIO_MMIO_QUEUE_SEL, 1);
	ck_assert_uint_eq(mrd(VIRTIO_MMIO_QUEUE_NUM_MAX), FAKE_QSIZE);
	mwr(VIRTIO_MMIO_QUEUE_SEL, 2); /* no such queue */
	ck_assert_uint_eq(mrd(VIRTIO_MMIO_QUEUE_NUM_MAX), 0);
	/* No shared memory regions: all-ones length. */
	ck_assert_uint_eq(mrd(VIRTIO_MMIO_SHM_LEN_LOW), 0xffffffff);
	/* Beyond the registered window nobody answers. */
	ck_assert(!bus_dispatch(&w->mmio, MMIO_BASE + VIRTIO_MMIO_SIZE, (uint8_t[4]){ 0 }, 4, false));
}
END_TEST

START_TEST(mmio_v2_features)
{
	mmio_create(&w->fd.vdev, 2);
	uint64_t f = mmio_device_features();
	ck_assert(f & F(FAKE_FEATURE));
	ck_assert(f & F(VIRTIO_F_VERSION_1));
	ck_assert(f & F(VIRTIO_RING_F_EVENT_IDX));
	ck_assert(f & F(VIRTIO_RING_F_INDIRECT_DESC));
	ck_assert(f & F(VIRTIO_F_RING_PACKED));
	mwr(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 2);
	ck_assert_uint_eq(mrd(VIRTIO_MMIO_DEVICE_FEATURES), 0);
	/* Features selected with the select register are remembered per word. */
	mwr(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	mwr(VIRTIO_MMIO_DRIVER_FEATURES, 1);
	mwr(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	mwr(VIRTIO_MMIO_DRIVER_FEATURES, F(FAKE_FEATURE));
	ck_assert_uint_eq(w->fd.vdev.driver_features, F(VIRTIO_F_VERSION_1) | F(FAKE_FEATURE));
}
END_TEST

START_TEST(mmio_v2_status_sequence)
{
	struct vqd d;
	uint64_t features = F(VIRTIO_F_VERSION_1) | F(FAKE_FEATURE);

	mmio_create(&w->fd.vdev, 2);
	ck_assert_uint_eq(mrd(VIRTIO_MMIO_STATUS), 0);
	mwr(VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	ck_assert_uint_eq(mrd(VIRTIO_MMIO_STATUS), VIRTIO_CONFIG_S_ACKNOWLEDGE);
	uint32_t status = mmio_negotiate(features, true);
	ck_assert_uint_eq(status, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK);
	ck_assert_uint_eq(w->fd.vdev.features, features);
	mmio_v2_queue(&d, 0, RING_GPA, 8, false, 0);
	ck_assert_uint_eq(w->fd.activated, 0);
	mmio_driver_ok();
	ck_assert_uint_eq(w->fd.activated, 1);
	ck_assert_uint_eq(mrd(VIRTIO_MMIO_STATUS), 0x0f);
	/* Features cannot change after FEATURES_OK. */
	mwr(VIRTIO_MMIO_DRIVER_FEATURES, 0);
	ck_assert_uint_eq(w->fd.vdev.driver_features, features);
}
END_TEST

START_TEST(mmio_v2_features_ok_refused)
{
	mmio_create(&w->fd.vdev, 2);
	/* A bit the device never offered. */
	uint32_t status = mmio_negotiate(F(VIRTIO_F_VERSION_1) | F(FAKE_FEATURE) | F(3), true);
	ck_assert_uint_eq(status & VIRTIO_CONFIG_S_FEATURES_OK, 0);
	/* A modern device without VERSION_1. */
	status = mmio_negotiate(F(FAKE_FEATURE), true);
	ck_assert_uint_eq(status & VIRTIO_CONFIG_S_FEATURES_OK, 0);
	/* DRIVER_OK without FEATURES_OK: the device refuses to run. */
	mmio_driver_ok();
	ck_assert_uint_eq(w->fd.activated, 0);
	ck_assert(mrd(VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET);
	/* And a reset cures it; then the right features are accepted. */
	status = mmio_negotiate(F(VIRTIO_F_VERSION_1), true);
	ck_assert(status & VIRTIO_CONFIG_S_FEATURES_OK);
	ck_assert_uint_eq(status & VIRTIO_CONFIG_S_NEEDS_RESET, 0);
}
END_TEST

START_TEST(mmio_v2_queue_setup)
{
	struct vqd d;
	struct virtqueue *vq = &w->fd.vdev.vqs[1];

	mmio_create(&w->fd.vdev, 2);
	mmio_negotiate(F(VIRTIO_F_VERSION_1) | F(VIRTIO_RING_F_EVENT_IDX), true);
	mmio_v2_queue(&d, 1, RING1_GPA, 8, false, VQD_F_EVENT_IDX);
	ck_assert(vq->ready);
	ck_assert_uint_eq(vq->size, 8);
	ck_assert_uint_eq(vq->desc_addr, d.desc_gpa);
	ck_assert_uint_eq(vq->avail_addr, d.avail_gpa);
	ck_assert_uint_eq(vq->used_addr, d.used_gpa);
	ck_assert(vq->event_idx);
	ck_assert(!vq->packed);
	ck_assert_uint_eq(mrd(VIRTIO_MMIO_QUEUE_READY), 1);
	ck_assert_uint_eq(mrd(VIRTIO_MMIO_QUEUE_DESC_LOW), (uint32_t)d.desc_gpa);
	/* A live queue's configuration is frozen. */
	mwr(VIRTIO_MMIO_QUEUE_DESC_LOW, 0x1000);
	mwr(VIRTIO_MMIO_QUEUE_NUM, 4);
	ck_assert_uint_eq(vq->desc_addr, d.desc_gpa);
	ck_assert_uint_eq(vq->size, 8);
	/* QueueReady 0 stops it (Linux's del_vq reads back 0). */
	mwr(VIRTIO_MMIO_QUEUE_READY, 0);
	ck_assert_uint_eq(mrd(VIRTIO_MMIO_QUEUE_READY), 0);
	ck_assert(!vq->ready);
	ck_assert_uint_eq(vq->desc_addr, d.desc_gpa);
}
END_TEST

START_TEST(mmio_v2_bad_queue_needs_reset)
{
	mmio_create(&w->fd.vdev, 2);
	mmio_negotiate(F(VIRTIO_F_VERSION_1), true);
	mmio_driver_ok();
	ck_assert_int_eq(w->plat.level[MMIO_GSI], 0);
	/* Rings outside guest RAM. */
	mwr(VIRTIO_MMIO_QUEUE_SEL, 0);
	mwr(VIRTIO_MMIO_QUEUE_NUM, 8);
	mwr(VIRTIO_MMIO_QUEUE_DESC_LOW, 0);
	mwr(VIRTIO_MMIO_QUEUE_DESC_HIGH, 0x100);
	mwr(VIRTIO_MMIO_QUEUE_READY, 1);
	ck_assert_uint_eq(mrd(VIRTIO_MMIO_QUEUE_READY), 0);
	ck_assert(mrd(VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET);
	/* After DRIVER_OK the driver hears about it: a config interrupt. */
	ck_assert_int_eq(w->plat.level[MMIO_GSI], 1);
	ck_assert_uint_eq(mmio_ack_interrupt(), VIRTIO_MMIO_INT_CONFIG);
	ck_assert_int_eq(w->plat.level[MMIO_GSI], 0);
	/* The driver cannot clear NEEDS_RESET except by resetting. */
	mwr(VIRTIO_MMIO_STATUS, 0x0f);
	ck_assert(mrd(VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET);
	mwr(VIRTIO_MMIO_STATUS, 0);
	ck_assert_uint_eq(mrd(VIRTIO_MMIO_STATUS), 0);
}
END_TEST

START_TEST(mmio_v2_bad_queue_size)
{
	mmio_create(&w->fd.vdev, 2);
	mmio_negotiate(F(VIRTIO_F_VERSION_1), true);
	mwr(VIRTIO_MMIO_QUEUE_SEL, 0);
	mwr(VIRTIO_MMIO_QUEUE_NUM, 6); /* split rings need a power of two */
	mwr(VIRTIO_MMIO_QUEUE_DESC_LOW, RING_GPA);
	mwr(VIRTIO_MMIO_QUEUE_AVAIL_LOW, RING_GPA + 0x1000);
	mwr(VIRTIO_MMIO_QUEUE_USED_LOW, RING_GPA + 0x2000);
	mwr(VIRTIO_MMIO_QUEUE_READY, 1);
	ck_assert_uint_eq(mrd(VIRTIO_MMIO_QUEUE_READY), 0);
	ck_assert(mrd(VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET);
	/* Before DRIVER_OK: no interrupt. */
	ck_assert_int_eq(w->plat.level[MMIO_GSI], 0);
	/* Too big is refused the same way. */
	mwr(VIRTIO_MMIO_STATUS, 0);
	mmio_negotiate(F(VIRTIO_F_VERSION_1), true);
	mwr(VIRTIO_MMIO_QUEUE_NUM, FAKE_QSIZE * 2);
	mwr(VIRTIO_MMIO_QUEUE_READY, 1);
	ck_assert(mrd(VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET);
}
END_TEST

START_TEST(mmio_v2_reset)
{
	struct vqd d;

	mmio_create(&w->fd.vdev, 2);
	mmio_negotiate(F(VIRTIO_F_VERSION_1) | F(FAKE_FEATURE), true);
	mmio_v2_queue(&d, 0, RING_GPA, 8, false, 0);
	mmio_driver_ok();
	post_reply_buffer(&d, BUF_GPA, (void *)1);
	mwr(VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	ck_assert_int_eq(w->plat.level[MMIO_GSI], 1);
	unsigned resets = w->fd.resets;

	mwr(VIRTIO_MMIO_STATUS, 0);
	ck_assert_uint_eq(w->fd.resets, resets + 1);
	ck_assert_uint_eq(mrd(VIRTIO_MMIO_STATUS), 0);
	ck_assert_uint_eq(mrd(VIRTIO_MMIO_INTERRUPT_STATUS), 0);
	ck_assert_int_eq(w->plat.level[MMIO_GSI], 0);
	ck_assert_uint_eq(w->fd.vdev.features, 0);
	mwr(VIRTIO_MMIO_QUEUE_SEL, 0);
	ck_assert_uint_eq(mrd(VIRTIO_MMIO_QUEUE_READY), 0);
	ck_assert_uint_eq(w->fd.vdev.vqs[0].size, FAKE_QSIZE);
	ck_assert_uint_eq(mrd(VIRTIO_MMIO_QUEUE_DESC_LOW), 0);
	/* Kicks after reset reach nothing. */
	unsigned notified = w->fd.notified[0];
	mwr(VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	ck_assert_uint_eq(w->fd.notified[0], notified);
}
END_TEST

START_TEST(mmio_interrupt_status_ack)
{
	struct vqd d;
	uint32_t len;

	mmio_create(&w->fd.vdev, 2);
	mmio_negotiate(F(VIRTIO_F_VERSION_1), true);
	mmio_v2_queue(&d, 1, RING1_GPA, 8, false, 0);
	mmio_driver_ok();
	post_reply_buffer(&d, BUF_GPA, (void *)1);
	ck_assert(vqd_kick_needed(&d));
	mwr(VIRTIO_MMIO_QUEUE_NOTIFY, 1);
	ck_assert_uint_eq(w->fd.notified[1], 1);
	ck_assert_int_eq(w->plat.level[MMIO_GSI], 1);
	ck_assert_uint_eq(mrd(VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_MMIO_INT_VRING);
	/* Acknowledging a bit that is not set changes nothing. */
	mwr(VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_MMIO_INT_CONFIG);
	ck_assert_int_eq(w->plat.level[MMIO_GSI], 1);
	ck_assert_uint_eq(mmio_ack_interrupt(), VIRTIO_MMIO_INT_VRING);
	ck_assert_int_eq(w->plat.level[MMIO_GSI], 0);
	ck_assert_ptr_eq(vqd_get_used(&d, &len), (void *)1);
	ck_assert_uint_eq(len, 4);
	ck_assert_uint_eq(w->ram[BUF_GPA], 0xab);
	/* The driver asked for no interrupt: none comes. */
	vqd_disable_cb(&d);
	post_reply_buffer(&d, BUF_GPA, (void *)2);
	mwr(VIRTIO_MMIO_QUEUE_NOTIFY, 1);
	ck_assert_int_eq(w->plat.level[MMIO_GSI], 0);
	ck_assert_ptr_eq(vqd_get_used(&d, &len), (void *)2);
}
END_TEST

START_TEST(mmio_config_space_and_generation)
{
	mmio_create(&w->fd.vdev, 2);
	memcpy(w->fd.config, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
	ck_assert_uint_eq(rd(&w->mmio, MMIO_BASE + VIRTIO_MMIO_CONFIG, 1), 0x01);
	ck_assert_uint_eq(rd(&w->mmio, MMIO_BASE + VIRTIO_MMIO_CONFIG + 2, 2), 0x0403);
	ck_assert_uint_eq(rd(&w->mmio, MMIO_BASE + VIRTIO_MMIO_CONFIG + 4, 4), 0x08070605);
	ck_assert_uint_eq(rd(&w->mmio, MMIO_BASE + VIRTIO_MMIO_CONFIG, 8), 0x0807060504030201ull);
	/* Past the end of the config space: zeros, not the neighbour's bytes. */
	ck_assert_uint_eq(rd(&w->mmio, MMIO_BASE + VIRTIO_MMIO_CONFIG + 6, 4), 0);
	wr(&w->mmio, MMIO_BASE + VIRTIO_MMIO_CONFIG + 1, 1, 0xee);
	ck_assert_uint_eq(w->fd.config[1], 0xee);
	wr(&w->mmio, MMIO_BASE + VIRTIO_MMIO_CONFIG + 7, 2, 0xffff); /* straddles the end: ignored */
	ck_assert_uint_eq(w->fd.config[7], 0x08);

	mmio_negotiate(F(VIRTIO_F_VERSION_1), true);
	mmio_driver_ok();
	uint32_t gen = mrd(VIRTIO_MMIO_CONFIG_GENERATION);
	pthread_mutex_lock(&w->fd.vdev.lock);
	w->fd.config[0] = 0x42;
	virtio_device_notify_config(&w->fd.vdev);
	pthread_mutex_unlock(&w->fd.vdev.lock);
	ck_assert_uint_ne(mrd(VIRTIO_MMIO_CONFIG_GENERATION), gen);
	ck_assert_int_eq(w->plat.level[MMIO_GSI], 1);
	ck_assert_uint_eq(mmio_ack_interrupt(), VIRTIO_MMIO_INT_CONFIG);
	ck_assert_int_eq(w->plat.level[MMIO_GSI], 0);
}
END_TEST

START_TEST(mmio_notify_registered)
{
	mmio_create(&w->fd.vdev, 2);
	/* One data-matched notifier per queue at QueueNotify. */
	for (unsigned q = 0; q < 2; q++) {
		const struct fake_notifier *n = find_notifier(&w->plat, false, MMIO_BASE + VIRTIO_MMIO_QUEUE_NOTIFY, true, q);
		ck_assert_ptr_nonnull(n);
		ck_assert_uint_eq(n->len, 4);
	}
	ck_assert_uint_eq(active_notifiers(&w->plat), 2);

	struct vqd d;
	mmio_negotiate(F(VIRTIO_F_VERSION_1), true);
	mmio_v2_queue(&d, 1, RING1_GPA, 8, false, 0);
	mmio_driver_ok();
	mwr(VIRTIO_MMIO_QUEUE_NOTIFY, 1);
	ck_assert_uint_eq(w->plat.fast_kicks, 1);
	ck_assert_uint_eq(w->fd.notified[1], 1);
	ck_assert_uint_eq(w->fd.notified[0], 0); /* queue 0 is not live */

	virtio_mmio_destroy(&w->vm);
	ck_assert_uint_eq(active_notifiers(&w->plat), 0);
	ck_assert_uint_eq(mrd(VIRTIO_MMIO_MAGIC_VALUE), 0xffffffff);
}
END_TEST

START_TEST(mmio_notify_exit_path)
{
	struct vqd d;

	w->plat.refuse_notify = true;
	mmio_create(&w->fd.vdev, 2);
	ck_assert_uint_eq(active_notifiers(&w->plat), 0);
	mmio_negotiate(F(VIRTIO_F_VERSION_1), true);
	mmio_v2_queue(&d, 0, RING_GPA, 8, false, 0);
	/* A modern driver may not kick before DRIVER_OK. */
	mwr(VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	ck_assert_uint_eq(w->fd.notified[0], 0);
	mmio_driver_ok();
	mwr(VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	ck_assert_uint_eq(w->fd.notified[0], 1);
	ck_assert_uint_eq(w->plat.fast_kicks, 0);
	/* Nonsense queue indices and widths are ignored. */
	mwr(VIRTIO_MMIO_QUEUE_NOTIFY, 7);
	mwr(VIRTIO_MMIO_QUEUE_NOTIFY, 0xffffffff);
	wr(&w->mmio, MMIO_BASE + VIRTIO_MMIO_QUEUE_NOTIFY, 2, 0);
	ck_assert_uint_eq(w->fd.notified[0], 1);
}
END_TEST

START_TEST(mmio_bad_widths_ignored)
{
	mmio_create(&w->fd.vdev, 2);
	/* Registers are 32 bits: other widths read 0 and do nothing. */
	ck_assert_uint_eq(rd(&w->mmio, MMIO_BASE + VIRTIO_MMIO_MAGIC_VALUE, 1), 0);
	ck_assert_uint_eq(rd(&w->mmio, MMIO_BASE + VIRTIO_MMIO_MAGIC_VALUE, 2), 0);
	ck_assert_uint_eq(rd(&w->mmio, MMIO_BASE + VIRTIO_MMIO_MAGIC_VALUE + 1, 4), 0);
	wr(&w->mmio, MMIO_BASE + VIRTIO_MMIO_STATUS, 1, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	wr(&w->mmio, MMIO_BASE + VIRTIO_MMIO_STATUS, 8, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	ck_assert_uint_eq(mrd(VIRTIO_MMIO_STATUS), 0);
	/* Reserved registers. */
	ck_assert_uint_eq(mrd(0x0c0), 0);
	mwr(0x0c0, 0xffffffff);
	ck_assert_uint_eq(mrd(VIRTIO_MMIO_STATUS), 0);
}
END_TEST

START_TEST(mmio_create_errors)
{
	ck_assert_int_eq(virtio_mmio_create(&w->vm, &w->fd.vdev, 3, MMIO_BASE, MMIO_GSI, &w->mmio, &w->plat.ops),
			 -EINVAL);
	ck_assert_int_eq(virtio_mmio_create(&w->vm, &w->fd.vdev, 0, MMIO_BASE, MMIO_GSI, &w->mmio, &w->plat.ops),
			 -EINVAL);
	mmio_create(&w->fd.vdev, 2);
	struct virtio_mmio other;
	ck_assert_int_eq(virtio_mmio_create(&other, &w->fd.vdev, 2, MMIO_BASE + 0x100, MMIO_GSI, &w->mmio,
					    &w->plat.ops),
			 -EEXIST);
	char line[80];
	virtio_mmio_cmdline(&w->vm, line, sizeof(line));
	ck_assert_str_eq(line, "virtio_mmio.device=0x200@0xd0000000:5");
}
END_TEST

/* ================= virtio-mmio version 1 ================= */

START_TEST(mmio_v1_identity_and_features)
{
	mmio_create(&w->fd.vdev, 1);
	ck_assert_uint_eq(mrd(VIRTIO_MMIO_VERSION), 1);
	ck_assert_uint_eq(mrd(VIRTIO_MMIO_MAGIC_VALUE), 0x74726976);
	uint64_t f = mmio_device_features();
	ck_assert(f & F(FAKE_FEATURE));
	ck_assert(!(f & F(VIRTIO_F_VERSION_1)));
	ck_assert(!(f & F(VIRTIO_F_RING_PACKED)));
	/* Version 2 registers are not there. */
	ck_assert_uint_eq(mrd(VIRTIO_MMIO_CONFIG_GENERATION), 0);
	ck_assert_uint_eq(mrd(VIRTIO_MMIO_SHM_LEN_LOW), 0);
}
END_TEST

START_TEST(mmio_v1_pfn_setup)
{
	struct hring r;
	struct virtqueue *vq = &w->fd.vdev.vqs[1];

	mmio_create(&w->fd.vdev, 1);
	/* Legacy: no FEATURES_OK; the features take effect as written. */
	uint32_t status = mmio_negotiate(F(FAKE_FEATURE) | F(VIRTIO_RING_F_EVENT_IDX) | F(2), false);
	ck_assert_uint_eq(status, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	ck_assert_uint_eq(w->fd.vdev.features, F(FAKE_FEATURE) | F(VIRTIO_RING_F_EVENT_IDX)); /* bit 2 dropped */
	mmio_v1_queue(&r, 1, RING1_GPA, 8);
	ck_assert(vq->ready);
	ck_assert_uint_eq(vq->size, 8);
	ck_assert_uint_eq(vq->desc_addr, RING1_GPA);
	ck_assert_uint_eq(vq->avail_addr, RING1_GPA + 16 * 8);
	ck_assert_uint_eq(vq->used_addr, RING1_GPA + 4096);
	ck_assert_uint_eq(r.used, vq->used_addr);
	ck_assert(vq->event_idx);
	ck_assert_uint_eq(mrd(VIRTIO_MMIO_QUEUE_PFN), RING1_GPA / 4096);
	ck_assert_uint_eq(mrd(VIRTIO_MMIO_QUEUE_READY), 0); /* a version 2 register */
	mmio_driver_ok();
	ck_assert_uint_eq(w->fd.activated, 1);
	ck_assert_uint_eq(mrd(VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET, 0);

	/* A larger guest page size and used-ring alignment. */
	mwr(VIRTIO_MMIO_QUEUE_SEL, 0);
	mwr(VIRTIO_MMIO_GUEST_PAGE_SIZE, 0x10000);
	mwr(VIRTIO_MMIO_QUEUE_NUM, 4);
	mwr(VIRTIO_MMIO_QUEUE_ALIGN, 0x2000);
	mwr(VIRTIO_MMIO_QUEUE_PFN, RING_GPA / 0x10000);
	ck_assert_uint_eq(w->fd.vdev.vqs[0].desc_addr, RING_GPA);
	ck_assert_uint_eq(w->fd.vdev.vqs[0].used_addr, RING_GPA + 0x2000);

	/* PFN 0 stops the queue (Linux's del_vq). */
	mwr(VIRTIO_MMIO_QUEUE_SEL, 1);
	mwr(VIRTIO_MMIO_QUEUE_PFN, 0);
	ck_assert(!vq->ready);
	ck_assert_uint_eq(mrd(VIRTIO_MMIO_QUEUE_PFN), 0);
}
END_TEST

START_TEST(mmio_v1_bad_page_size)
{
	mmio_create(&w->fd.vdev, 1);
	mmio_negotiate(0, false);
	mmio_driver_ok();
	mwr(VIRTIO_MMIO_GUEST_PAGE_SIZE, 3000);
	mwr(VIRTIO_MMIO_QUEUE_SEL, 0);
	mwr(VIRTIO_MMIO_QUEUE_PFN, RING_GPA / 4096);
	ck_assert(!w->fd.vdev.vqs[0].ready);
	ck_assert(mrd(VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET);
	ck_assert_uint_eq(mmio_ack_interrupt(), VIRTIO_MMIO_INT_CONFIG);
	/* A ring past the end of RAM. */
	mwr(VIRTIO_MMIO_STATUS, 0);
	mmio_negotiate(0, false);
	mwr(VIRTIO_MMIO_GUEST_PAGE_SIZE, 4096);
	mwr(VIRTIO_MMIO_QUEUE_PFN, 0xfffff);
	ck_assert(!w->fd.vdev.vqs[0].ready);
	ck_assert_uint_eq(mrd(VIRTIO_MMIO_QUEUE_PFN), 0);
	ck_assert(mrd(VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET);
}
END_TEST

START_TEST(mmio_v1_legacy_kick_before_driver_ok)
{
	struct hring r;
	uint32_t id, len;

	mmio_create(&w->fd.vdev, 1);
	mmio_negotiate(0, false);
	mmio_v1_queue(&r, 0, RING_GPA, 8);
	/* Legacy drivers may use a queue before DRIVER_OK. */
	hring_add(&r, BUF_GPA, 4, true);
	mwr(VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	ck_assert_uint_eq(w->fd.notified[0], 1);
	ck_assert(hring_used(&r, &id, &len));
	ck_assert_uint_eq(id, 0);
	ck_assert_uint_eq(len, 4);
	ck_assert_int_eq(w->plat.level[MMIO_GSI], 1);
}
END_TEST

/* ================= virtio-pci modern ================= */

static void pci_create(struct virtio_device *dev, enum virtio_pci_mode mode)
{
	ck_assert_int_eq(virtio_pci_create(&w->vp, dev, mode, &w->host, &w->plat.ops), 0);
}

START_TEST(pci_modern_ids)
{
	pci_create(&w->fd.vdev, VIRTIO_PCI_MODERN);
	unsigned slot = w->vp.pci.slot;
	ck_assert_uint_eq(cfg_rd(slot, PCI_VENDOR_ID, 2), 0x1af4);
	ck_assert_uint_eq(cfg_rd(slot, PCI_DEVICE_ID, 2), 0x1040 + VIRTIO_ID_NET);
	ck_assert_uint_eq(cfg_rd(slot, PCI_REVISION_ID, 1), 1);
	ck_assert_uint_eq(cfg_rd(slot, PCI_SUBSYSTEM_VENDOR_ID, 2), 0x1af4);
	ck_assert_uint_ge(cfg_rd(slot, PCI_SUBSYSTEM_ID, 2), 0x40);
	ck_assert_uint_eq(cfg_rd(slot, PCI_CLASS_DEVICE, 2), 0x0200); /* Ethernet */
	ck_assert_uint_eq(cfg_rd(slot, PCI_INTERRUPT_PIN, 1), 1);
	/* No legacy I/O BAR; memory BARs 1 (MSI-X) and 4 (virtio). */
	ck_assert_uint_eq(cfg_rd(slot, PCI_BASE_ADDRESS_0, 4), 0);
	ck_assert_uint_ne(bar_addr(slot, VIRTIO_PCI_MSIX_BAR), 0);
	ck_assert_uint_ne(bar_addr(slot, VIRTIO_PCI_MODERN_BAR), 0);
	ck_assert_uint_eq(cfg_rd(slot, PCI_BASE_ADDRESS_0 + 4 * VIRTIO_PCI_MODERN_BAR, 4) & PCI_BASE_ADDRESS_SPACE_IO, 0);
	/* Modern IDs stop at 0x107f; legacy needs a transitional ID. */
	struct fake_dev other;
	struct virtio_device_ops ops = fake_ops;
	ops.device_id = 0x40;
	virtio_device_init(&other.vdev, &ops, &other, "other", &w->mem);
	struct virtio_pci vp2;
	ck_assert_int_eq(virtio_pci_create(&vp2, &other.vdev, VIRTIO_PCI_MODERN, &w->host, &w->plat.ops), -EINVAL);
	ops.device_id = VIRTIO_ID_GPU;
	ck_assert_int_eq(virtio_pci_create(&vp2, &other.vdev, VIRTIO_PCI_LEGACY, &w->host, &w->plat.ops), -EINVAL);
}
END_TEST

START_TEST(pci_modern_capabilities)
{
	struct pci_guest g;

	pci_create(&w->fd.vdev, VIRTIO_PCI_MODERN);
	pci_probe(&g);
	unsigned common = find_virtio_cap(g.slot, VIRTIO_PCI_CAP_COMMON_CFG);
	unsigned notify = find_virtio_cap(g.slot, VIRTIO_PCI_CAP_NOTIFY_CFG);
	unsigned isr = find_virtio_cap(g.slot, VIRTIO_PCI_CAP_ISR_CFG);
	unsigned device = find_virtio_cap(g.slot, VIRTIO_PCI_CAP_DEVICE_CFG);
	ck_assert_uint_ne(common, 0);
	ck_assert_uint_ne(notify, 0);
	ck_assert_uint_ne(isr, 0);
	ck_assert_uint_ne(device, 0);
	ck_assert_uint_ne(g.msix_cap, 0);
	/* Each as Linux's vp_modern_map_capability checks it. */
	ck_assert_uint_eq(cfg_rd(g.slot, common + VIRTIO_PCI_CAP_LEN, 1), 16);
	ck_assert_uint_eq(cfg_rd(g.slot, notify + VIRTIO_PCI_CAP_LEN, 1), 20);
	ck_assert_uint_eq(cfg_rd(g.slot, common + VIRTIO_PCI_CAP_BAR, 1), VIRTIO_PCI_MODERN_BAR);
	ck_assert_uint_ge(cfg_rd(g.slot, common + VIRTIO_PCI_CAP_LENGTH, 4), 56);
	ck_assert_uint_eq(g.notify_mult, VIRTIO_PCI_NOTIFY_MULTIPLIER);
	ck_assert_uint_ge(cfg_rd(g.slot, notify + VIRTIO_PCI_CAP_LENGTH, 4), g.notify_mult + 2);
	ck_assert_uint_eq(g.device_len, 8);
	ck_assert_uint_eq(g.common % 4, 0);
	/* The structures answer where the capabilities point. */
	ck_assert_uint_eq(crd(&g, VIRTIO_PCI_COMMON_NUMQ, 2), 2);
	w->fd.config[3] = 0x5a;
	ck_assert_uint_eq(rd(&w->mmio, g.device + 3, 1), 0x5a);
	/* MSI-X: one vector per queue plus config. */
	ck_assert_uint_eq((cfg_rd(g.slot, g.msix_cap + PCI_MSIX_FLAGS, 2) & PCI_MSIX_FLAGS_QSIZE) + 1, 3);
}
END_TEST

START_TEST(pci_modern_common_queue_setup)
{
	struct pci_guest g;
	struct vqd d;
	struct virtqueue *vq = &w->fd.vdev.vqs[1];

	pci_create(&w->fd.vdev, VIRTIO_PCI_MODERN);
	pci_probe(&g);
	ck_assert(pci_negotiate(&g, F(VIRTIO_F_VERSION_1) | F(VIRTIO_RING_F_INDIRECT_DESC)) &
		  VIRTIO_CONFIG_S_FEATURES_OK);
	cwr(&g, VIRTIO_PCI_COMMON_Q_SELECT, 2, 1);
	ck_assert_uint_eq(crd(&g, VIRTIO_PCI_COMMON_Q_SELECT, 2), 1);
	ck_assert_uint_eq(crd(&g, VIRTIO_PCI_COMMON_Q_SIZE, 2), FAKE_QSIZE);
	ck_assert_uint_eq(crd(&g, VIRTIO_PCI_COMMON_Q_NOFF, 2), 1);
	ck_assert_uint_eq(crd(&g, VIRTIO_PCI_COMMON_Q_MSIX, 2), VIRTIO_MSI_NO_VECTOR);
	pci_modern_queue(&g, &d, 1, RING1_GPA, 4, VQD_F_INDIRECT_DESC);
	ck_assert(vq->ready);
	ck_assert(vq->indirect);
	ck_assert_uint_eq(vq->size, 4);
	ck_assert_uint_eq(vq->desc_addr, d.desc_gpa);
	ck_assert_uint_eq(vq->avail_addr, d.avail_gpa);
	ck_assert_uint_eq(vq->used_addr, d.used_gpa);
	ck_assert_uint_eq(crd(&g, VIRTIO_PCI_COMMON_Q_ENABLE, 2), 1);
	ck_assert_uint_eq(crd(&g, VIRTIO_PCI_COMMON_Q_USEDLO, 4), (uint32_t)d.used_gpa);
	/* One 64-bit access is two 32-bit registers. */
	ck_assert_uint_eq(crd(&g, VIRTIO_PCI_COMMON_Q_DESCLO, 8), d.desc_gpa);
	/* Frozen while enabled; writing 0 to queue_enable is ignored. */
	cwr(&g, VIRTIO_PCI_COMMON_Q_SIZE, 2, 2);
	cwr(&g, VIRTIO_PCI_COMMON_Q_ENABLE, 2, 0);
	ck_assert_uint_eq(vq->size, 4);
	ck_assert(vq->ready);
	/* An absent queue reads size 0 and ignores writes. */
	cwr(&g, VIRTIO_PCI_COMMON_Q_SELECT, 2, 5);
	ck_assert_uint_eq(crd(&g, VIRTIO_PCI_COMMON_Q_SIZE, 2), 0);
	cwr(&g, VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1);
	ck_assert_uint_eq(crd(&g, VIRTIO_PCI_COMMON_Q_ENABLE, 2), 0);
	/* Wrong widths: nothing. */
	cwr(&g, VIRTIO_PCI_COMMON_Q_SELECT, 4, 0);
	ck_assert_uint_eq(crd(&g, VIRTIO_PCI_COMMON_Q_SELECT, 2), 5);
	ck_assert_uint_eq(crd(&g, VIRTIO_PCI_COMMON_NUMQ, 4), 0);
}
END_TEST

START_TEST(pci_modern_features)
{
	struct pci_guest g;

	pci_create(&w->fd.vdev, VIRTIO_PCI_MODERN);
	pci_probe(&g);
	cwr(&g, VIRTIO_PCI_COMMON_DFSELECT, 4, 0);
	uint64_t f = crd(&g, VIRTIO_PCI_COMMON_DF, 4);
	cwr(&g, VIRTIO_PCI_COMMON_DFSELECT, 4, 1);
	f |= crd(&g, VIRTIO_PCI_COMMON_DF, 4) << 32;
	ck_assert_uint_eq(f, F(FAKE_FEATURE) | F(VIRTIO_F_VERSION_1) | F(VIRTIO_RING_F_EVENT_IDX) |
				     F(VIRTIO_RING_F_INDIRECT_DESC) | F(VIRTIO_F_RING_PACKED));
	cwr(&g, VIRTIO_PCI_COMMON_DFSELECT, 4, 7);
	ck_assert_uint_eq(crd(&g, VIRTIO_PCI_COMMON_DF, 4), 0);

	ck_assert_uint_eq(pci_negotiate(&g, F(VIRTIO_F_VERSION_1) | F(40)) & VIRTIO_CONFIG_S_FEATURES_OK, 0);
	ck_assert_uint_eq(pci_negotiate(&g, F(FAKE_FEATURE)) & VIRTIO_CONFIG_S_FEATURES_OK, 0);
	ck_assert(pci_negotiate(&g, F(VIRTIO_F_VERSION_1) | F(FAKE_FEATURE)) & VIRTIO_CONFIG_S_FEATURES_OK);
	cwr(&g, VIRTIO_PCI_COMMON_GFSELECT, 4, 0);
	ck_assert_uint_eq(crd(&g, VIRTIO_PCI_COMMON_GF, 4), F(FAKE_FEATURE));
	pci_driver_ok(&g);
	ck_assert_uint_eq(w->fd.activated, 1);
	ck_assert_uint_eq(crd(&g, VIRTIO_PCI_COMMON_STATUS, 1), 0x0f);
}
END_TEST

START_TEST(pci_modern_activate_refused)
{
	struct pci_guest g;

	w->fd.activate_ret = -EINVAL;
	pci_create(&w->fd.vdev, VIRTIO_PCI_MODERN);
	pci_probe(&g);
	pci_negotiate(&g, F(VIRTIO_F_VERSION_1));
	pci_driver_ok(&g);
	ck_assert(crd(&g, VIRTIO_PCI_COMMON_STATUS, 1) & VIRTIO_CONFIG_S_NEEDS_RESET);
	/* A config-change interrupt tells the driver (INTx: ISR bit 1). */
	ck_assert_int_eq(w->plat.level[pci_gsi(&g)], 1);
	ck_assert_uint_eq(rd(&w->mmio, g.isr, 1), VIRTIO_PCI_ISR_CONFIG);
	ck_assert_int_eq(w->plat.level[pci_gsi(&g)], 0);
}
END_TEST

START_TEST(pci_modern_notify)
{
	struct pci_guest g;
	struct vqd d;

	pci_create(&w->fd.vdev, VIRTIO_PCI_MODERN);
	pci_probe(&g);
	/* A notifier per queue at its slot, 2 bytes, no data match. */
	for (unsigned q = 0; q < 2; q++) {
		const struct fake_notifier *n = find_notifier(&w->plat, false, g.notify + q * g.notify_mult, false, 0);
		ck_assert_ptr_nonnull(n);
		ck_assert_uint_eq(n->len, 2);
	}
	pci_negotiate(&g, F(VIRTIO_F_VERSION_1));
	pci_modern_queue(&g, &d, 1, RING1_GPA, 8, 0);
	pci_driver_ok(&g);
	pci_modern_kick(&g, 1);
	ck_assert_uint_eq(w->plat.fast_kicks, 1);
	ck_assert_uint_eq(w->fd.notified[1], 1);
	/* The exit path (e.g. a 4-byte write the ioeventfd does not match). */
	wr(&w->mmio, g.notify + g.notify_mult, 4, 1);
	ck_assert_uint_eq(w->fd.notified[1], 2);
	ck_assert_uint_eq(w->plat.fast_kicks, 1);
	/* Slots of absent queues, unaligned writes: ignored. */
	wr(&w->mmio, g.notify + 5 * g.notify_mult, 2, 5);
	wr(&w->mmio, g.notify + g.notify_mult + 1, 1, 1);
	ck_assert_uint_eq(w->fd.notified[1], 2);
	ck_assert_uint_eq(w->fd.notified[0], 0);
}
END_TEST

START_TEST(pci_isr_intx)
{
	struct pci_guest g;
	struct vqd d;
	uint32_t len;

	pci_create(&w->fd.vdev, VIRTIO_PCI_MODERN);
	pci_probe(&g);
	unsigned gsi = pci_gsi(&g);
	ck_assert_uint_ge(gsi, PCI_INTX_GSI_BASE);
	pci_negotiate(&g, F(VIRTIO_F_VERSION_1));
	pci_modern_queue(&g, &d, 0, RING_GPA, 8, 0);
	pci_driver_ok(&g);
	post_reply_buffer(&d, BUF_GPA, (void *)1);
	pci_modern_kick(&g, 0);
	ck_assert_int_eq(w->plat.level[gsi], 1);
	ck_assert(cfg_rd(g.slot, PCI_STATUS, 2) & PCI_STATUS_INTERRUPT);
	/* Reading ISR returns the cause, clears it and lowers the line. */
	ck_assert_uint_eq(rd(&w->mmio, g.isr, 1), 1);
	ck_assert_int_eq(w->plat.level[gsi], 0);
	ck_assert_uint_eq(rd(&w->mmio, g.isr, 1), 0);
	ck_assert_ptr_eq(vqd_get_used(&d, &len), (void *)1);
	ck_assert_uint_eq(len, 4);
	ck_assert_uint_eq(w->plat.nr_msi, 0);
}
END_TEST

START_TEST(pci_msix_vectors)
{
	struct pci_guest g;
	struct vqd d;
	uint32_t len;

	pci_create(&w->fd.vdev, VIRTIO_PCI_MODERN);
	pci_probe(&g);
	pci_msix_setup(&g, 3);
	pci_negotiate(&g, F(VIRTIO_F_VERSION_1));
	/* As Linux does: write the vector, read it back. */
	cwr(&g, VIRTIO_PCI_COMMON_MSIX, 2, 0);
	ck_assert_uint_eq(crd(&g, VIRTIO_PCI_COMMON_MSIX, 2), 0);
	cwr(&g, VIRTIO_PCI_COMMON_Q_SELECT, 2, 1);
	cwr(&g, VIRTIO_PCI_COMMON_Q_MSIX, 2, 9); /* no such vector: refused */
	ck_assert_uint_eq(crd(&g, VIRTIO_PCI_COMMON_Q_MSIX, 2), VIRTIO_MSI_NO_VECTOR);
	cwr(&g, VIRTIO_PCI_COMMON_Q_MSIX, 2, 2);
	ck_assert_uint_eq(crd(&g, VIRTIO_PCI_COMMON_Q_MSIX, 2), 2);
	pci_modern_queue(&g, &d, 1, RING1_GPA, 8, 0);
	pci_driver_ok(&g);
	post_reply_buffer(&d, BUF_GPA, (void *)1);
	pci_modern_kick(&g, 1);
	ck_assert_uint_eq(w->plat.nr_msi, 1);
	ck_assert_uint_eq(w->plat.msi_addr[0], 0xfee02000u);
	ck_assert_uint_eq(w->plat.msi_data[0], 0x42);
	ck_assert_int_eq(w->plat.level[pci_gsi(&g)], 0); /* no INTx with MSI-X */
	ck_assert_uint_eq(rd(&w->mmio, g.isr, 1), 0);
	ck_assert_ptr_eq(vqd_get_used(&d, &len), (void *)1);

	/* Config change: the config vector. */
	pthread_mutex_lock(&w->fd.vdev.lock);
	virtio_device_notify_config(&w->fd.vdev);
	pthread_mutex_unlock(&w->fd.vdev.lock);
	ck_assert_uint_eq(w->plat.nr_msi, 2);
	ck_assert_uint_eq(w->plat.msi_data[1], 0x40);

	/* One route per vector, set when the vector is programmed: more
	 * interrupts reuse it (no routing update on the fast path)... */
	unsigned updates = w->plat.route_updates;
	ck_assert_uint_le(w->plat.nr_routes, 3);
	for (uintptr_t i = 10; i < 14; i++) {
		post_reply_buffer(&d, BUF_GPA, (void *)i);
		pci_modern_kick(&g, 1);
		ck_assert_ptr_eq(vqd_get_used(&d, &len), (void *)i);
	}
	ck_assert_uint_eq(w->plat.nr_msi, 6);
	ck_assert_uint_eq(w->plat.route_updates, updates);
	/* ...and a guest reprogramming the vector updates its route once,
	 * through msix->changed, before the next interrupt. */
	uint32_t table = cfg_rd(g.slot, g.msix_cap + PCI_MSIX_TABLE, 4);
	uint64_t entry2 = bar_addr(g.slot, table & PCI_MSIX_TABLE_BIR) + (table & PCI_MSIX_TABLE_OFFSET) + 2 * 16;
	wr(&w->mmio, entry2 + PCI_MSIX_ENTRY_DATA, 4, 0x77);
	ck_assert_uint_eq(w->plat.route_updates, updates + 1);
	post_reply_buffer(&d, BUF_GPA, (void *)20);
	pci_modern_kick(&g, 1);
	ck_assert_uint_eq(w->plat.nr_msi, 7);
	ck_assert_uint_eq(w->plat.msi_data[6], 0x77);
	ck_assert_uint_eq(w->plat.route_updates, updates + 1);
	ck_assert_ptr_eq(vqd_get_used(&d, &len), (void *)20);

	/* NO_VECTOR: the driver wants no interrupt for this queue. */
	cwr(&g, VIRTIO_PCI_COMMON_Q_SELECT, 2, 1);
	cwr(&g, VIRTIO_PCI_COMMON_Q_MSIX, 2, VIRTIO_MSI_NO_VECTOR);
	post_reply_buffer(&d, BUF_GPA, (void *)2);
	pci_modern_kick(&g, 1);
	ck_assert_uint_eq(w->plat.nr_msi, 7);
	ck_assert_ptr_eq(vqd_get_used(&d, &len), (void *)2);

	/* Reset returns the vectors to NO_VECTOR. */
	cwr(&g, VIRTIO_PCI_COMMON_STATUS, 1, 0);
	ck_assert_uint_eq(crd(&g, VIRTIO_PCI_COMMON_MSIX, 2), VIRTIO_MSI_NO_VECTOR);
}
END_TEST

START_TEST(pci_modern_reset)
{
	struct pci_guest g;
	struct vqd d;

	pci_create(&w->fd.vdev, VIRTIO_PCI_MODERN);
	pci_probe(&g);
	pci_negotiate(&g, F(VIRTIO_F_VERSION_1) | F(FAKE_FEATURE));
	pci_modern_queue(&g, &d, 0, RING_GPA, 8, 0);
	pci_driver_ok(&g);
	post_reply_buffer(&d, BUF_GPA, (void *)1);
	pci_modern_kick(&g, 0);
	ck_assert_int_eq(w->plat.level[pci_gsi(&g)], 1);
	unsigned resets = w->fd.resets;

	cwr(&g, VIRTIO_PCI_COMMON_STATUS, 1, 0);
	ck_assert_uint_eq(crd(&g, VIRTIO_PCI_COMMON_STATUS, 1), 0); /* Linux polls for 0 */
	ck_assert_int_eq(w->plat.level[pci_gsi(&g)], 0);
	ck_assert_uint_eq(w->fd.vdev.features, 0);
	cwr(&g, VIRTIO_PCI_COMMON_Q_SELECT, 2, 0);
	ck_assert_uint_eq(crd(&g, VIRTIO_PCI_COMMON_Q_ENABLE, 2), 0);
	ck_assert_uint_eq(crd(&g, VIRTIO_PCI_COMMON_Q_SIZE, 2), FAKE_QSIZE);
	ck_assert_uint_eq(w->fd.resets, resets + 1);
	/* And the device can be brought up again. */
	ck_assert(pci_negotiate(&g, F(VIRTIO_F_VERSION_1)) & VIRTIO_CONFIG_S_FEATURES_OK);
	pci_modern_queue(&g, &d, 0, RING_GPA, 8, 0);
	pci_driver_ok(&g);
	ck_assert_uint_eq(w->fd.activated, 2);
}
END_TEST

START_TEST(pci_bar_move_follows_notifiers)
{
	struct pci_guest g;

	pci_create(&w->fd.vdev, VIRTIO_PCI_MODERN);
	pci_probe(&g);
	unsigned reg = PCI_BASE_ADDRESS_0 + 4 * VIRTIO_PCI_MODERN_BAR;
	uint64_t old = bar_addr(g.slot, VIRTIO_PCI_MODERN_BAR);
	uint64_t moved = 0xc8000000;
	ck_assert_ptr_nonnull(find_notifier(&w->plat, false, old + VIRTIO_PCI_NOTIFY_OFFSET, false, 0));

	/* Decoding off: no notifier may stay behind. */
	uint16_t cmd = cfg_rd(g.slot, PCI_COMMAND, 2);
	cfg_wr(g.slot, PCI_COMMAND, 2, cmd & ~PCI_COMMAND_MEMORY);
	ck_assert_uint_eq(active_notifiers(&w->plat), 0);
	cfg_wr(g.slot, reg, 4, moved);
	cfg_wr(g.slot, PCI_COMMAND, 2, cmd);
	ck_assert_uint_eq(active_notifiers(&w->plat), 2);
	ck_assert_ptr_null(find_notifier(&w->plat, false, old + VIRTIO_PCI_NOTIFY_OFFSET, false, 0));
	ck_assert_ptr_nonnull(find_notifier(&w->plat, false, moved + VIRTIO_PCI_NOTIFY_OFFSET, false, 0));
	ck_assert_ptr_nonnull(
		find_notifier(&w->plat, false, moved + VIRTIO_PCI_NOTIFY_OFFSET + g.notify_mult, false, 0));
	/* The registers answer at the new place only. */
	pci_probe(&g);
	ck_assert_uint_eq(g.common, moved);
	ck_assert_uint_eq(crd(&g, VIRTIO_PCI_COMMON_NUMQ, 2), 2);
	ck_assert_uint_eq(rd(&w->mmio, old + VIRTIO_PCI_COMMON_NUMQ, 2), 0xffff);

	virtio_pci_destroy(&w->vp);
	ck_assert_uint_eq(active_notifiers(&w->plat), 0);
}
END_TEST

START_TEST(pci_modern_hostile_widths)
{
	struct pci_guest g;

	pci_create(&w->fd.vdev, VIRTIO_PCI_MODERN);
	pci_probe(&g);
	/* Status through a 2-byte write, ISR through a 4-byte read, the
	 * device config past its end: all harmless. */
	cwr(&g, VIRTIO_PCI_COMMON_STATUS, 2, 0x0101);
	ck_assert_uint_eq(crd(&g, VIRTIO_PCI_COMMON_STATUS, 1), 0);
	ck_assert_uint_eq(crd(&g, VIRTIO_PCI_COMMON_STATUS - 1, 2), 0);
	ck_assert_uint_eq(rd(&w->mmio, g.isr + 1, 1), 0);
	ck_assert_uint_eq(rd(&w->mmio, g.device + 6, 4), 0);
	wr(&w->mmio, g.device + 100, 4, 0xffffffff);
	/* The driver may not set NEEDS_RESET itself. */
	cwr(&g, VIRTIO_PCI_COMMON_STATUS, 1, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_NEEDS_RESET);
	ck_assert_uint_eq(crd(&g, VIRTIO_PCI_COMMON_STATUS, 1), VIRTIO_CONFIG_S_ACKNOWLEDGE);
}
END_TEST

/* ================= virtio-pci legacy and transitional ================= */

static void legacy_wr(const struct pci_guest *g, unsigned off, unsigned len, uint32_t v)
{
	wr(&w->pio, g->io + off, len, v);
}

static uint32_t legacy_rd(const struct pci_guest *g, unsigned off, unsigned len)
{
	return rd(&w->pio, g->io + off, len);
}

START_TEST(pci_legacy_ids)
{
	struct pci_guest g;

	pci_create(&w->fd.vdev, VIRTIO_PCI_LEGACY);
	pci_probe(&g);
	ck_assert_uint_eq(cfg_rd(g.slot, PCI_DEVICE_ID, 2), VIRTIO_TRANS_ID_NET);
	ck_assert_uint_eq(cfg_rd(g.slot, PCI_REVISION_ID, 1), 0);
	ck_assert_uint_eq(cfg_rd(g.slot, PCI_SUBSYSTEM_ID, 2), VIRTIO_ID_NET);
	ck_assert(cfg_rd(g.slot, PCI_BASE_ADDRESS_0, 4) & PCI_BASE_ADDRESS_SPACE_IO);
	ck_assert_uint_ge(g.io, PCI_IO_WINDOW_BASE);
	/* No modern structures. */
	ck_assert_uint_eq(find_virtio_cap(g.slot, VIRTIO_PCI_CAP_COMMON_CFG), 0);
	ck_assert_uint_eq(cfg_rd(g.slot, PCI_BASE_ADDRESS_0 + 4 * VIRTIO_PCI_MODERN_BAR, 4), 0);
	/* 32 feature bits, without VERSION_1. */
	uint32_t f = legacy_rd(&g, VIRTIO_PCI_HOST_FEATURES, 4);
	ck_assert(f & F(FAKE_FEATURE));
	ck_assert(f & F(VIRTIO_RING_F_EVENT_IDX));
	ck_assert_uint_eq(w->fd.vdev.offered >> 32, 0);
	/* The legacy notify port, data-matched per queue. */
	ck_assert_ptr_nonnull(find_notifier(&w->plat, true, g.io + VIRTIO_PCI_QUEUE_NOTIFY, true, 0));
	ck_assert_ptr_nonnull(find_notifier(&w->plat, true, g.io + VIRTIO_PCI_QUEUE_NOTIFY, true, 1));
}
END_TEST

START_TEST(pci_legacy_pfn_setup)
{
	struct pci_guest g;
	struct hring r;
	uint32_t id, len;
	struct virtqueue *vq = &w->fd.vdev.vqs[0];

	pci_create(&w->fd.vdev, VIRTIO_PCI_LEGACY);
	pci_probe(&g);
	legacy_wr(&g, VIRTIO_PCI_STATUS, 1, 0);
	legacy_wr(&g, VIRTIO_PCI_STATUS, 1, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	legacy_wr(&g, VIRTIO_PCI_GUEST_FEATURES, 4, F(FAKE_FEATURE) | F(1));
	ck_assert_uint_eq(legacy_rd(&g, VIRTIO_PCI_GUEST_FEATURES, 4), F(FAKE_FEATURE) | F(1));
	ck_assert_uint_eq(w->fd.vdev.features, F(FAKE_FEATURE)); /* bit 1 was never offered */

	legacy_wr(&g, VIRTIO_PCI_QUEUE_SEL, 2, 0);
	ck_assert_uint_eq(legacy_rd(&g, VIRTIO_PCI_QUEUE_NUM, 2), FAKE_QSIZE);
	ck_assert_uint_eq(legacy_rd(&g, VIRTIO_PCI_QUEUE_PFN, 4), 0);
	hring_init(&r, RING_GPA, FAKE_QSIZE, VIRTIO_PCI_VRING_ALIGN);
	legacy_wr(&g, VIRTIO_PCI_QUEUE_PFN, 4, RING_GPA >> VIRTIO_PCI_QUEUE_ADDR_SHIFT);
	ck_assert(vq->ready);
	ck_assert_uint_eq(vq->desc_addr, r.desc);
	ck_assert_uint_eq(vq->avail_addr, r.avail);
	ck_assert_uint_eq(vq->used_addr, r.used);
	ck_assert_uint_eq(legacy_rd(&g, VIRTIO_PCI_QUEUE_PFN, 4), RING_GPA >> 12);
	legacy_wr(&g, VIRTIO_PCI_STATUS, 1, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
						   VIRTIO_CONFIG_S_DRIVER_OK);
	ck_assert_uint_eq(w->fd.activated, 1);
	ck_assert_uint_eq(legacy_rd(&g, VIRTIO_PCI_STATUS, 1), 0x07);

	/* Kick through the data-matched notifier, interrupt through INTx. */
	hring_add(&r, BUF_GPA, 4, true);
	legacy_wr(&g, VIRTIO_PCI_QUEUE_NOTIFY, 2, 0);
	ck_assert_uint_eq(w->plat.fast_kicks, 1);
	ck_assert(hring_used(&r, &id, &len));
	ck_assert_uint_eq(len, 4);
	ck_assert_int_eq(w->plat.level[pci_gsi(&g)], 1);
	ck_assert_uint_eq(legacy_rd(&g, VIRTIO_PCI_ISR, 1), 1);
	ck_assert_int_eq(w->plat.level[pci_gsi(&g)], 0);

	/* Exit path: a queue index no notifier matches. */
	legacy_wr(&g, VIRTIO_PCI_QUEUE_NOTIFY, 2, 9);
	ck_assert_uint_eq(w->fd.notified[0], 1);

	/* PFN 0 stops the queue; reset forgets everything. */
	legacy_wr(&g, VIRTIO_PCI_QUEUE_PFN, 4, 0);
	ck_assert(!vq->ready);
	legacy_wr(&g, VIRTIO_PCI_STATUS, 1, 0);
	ck_assert_uint_eq(legacy_rd(&g, VIRTIO_PCI_STATUS, 1), 0);
	ck_assert_uint_eq(legacy_rd(&g, VIRTIO_PCI_GUEST_FEATURES, 4), 0);
}
END_TEST

START_TEST(pci_legacy_msix_config_shift)
{
	struct pci_guest g;

	pci_create(&w->fd.vdev, VIRTIO_PCI_LEGACY);
	pci_probe(&g);
	memcpy(w->fd.config, "\x11\x22\x33\x44\x55\x66\x77\x88", 8);
	/* Without MSI-X the device config starts at 20. */
	ck_assert_uint_eq(legacy_rd(&g, VIRTIO_PCI_CONFIG_OFF(false), 1), 0x11);
	ck_assert_uint_eq(legacy_rd(&g, VIRTIO_PCI_CONFIG_OFF(false) + 4, 4), 0x88776655);
	legacy_wr(&g, VIRTIO_PCI_CONFIG_OFF(false) + 2, 1, 0x99);
	ck_assert_uint_eq(w->fd.config[2], 0x99);

	/* With MSI-X enabled: the two vector registers, then config at 24. */
	pci_msix_setup(&g, 3);
	ck_assert_uint_eq(legacy_rd(&g, VIRTIO_MSI_CONFIG_VECTOR, 2), VIRTIO_MSI_NO_VECTOR);
	ck_assert_uint_eq(legacy_rd(&g, VIRTIO_PCI_CONFIG_OFF(true), 1), 0x11);
	ck_assert_uint_eq(legacy_rd(&g, VIRTIO_PCI_CONFIG_OFF(true) + 2, 1), 0x99);
	legacy_wr(&g, VIRTIO_MSI_CONFIG_VECTOR, 2, 0);
	ck_assert_uint_eq(legacy_rd(&g, VIRTIO_MSI_CONFIG_VECTOR, 2), 0);
	legacy_wr(&g, VIRTIO_PCI_QUEUE_SEL, 2, 1);
	legacy_wr(&g, VIRTIO_MSI_QUEUE_VECTOR, 2, 1);
	ck_assert_uint_eq(legacy_rd(&g, VIRTIO_MSI_QUEUE_VECTOR, 2), 1);
	legacy_wr(&g, VIRTIO_MSI_QUEUE_VECTOR, 2, 3); /* beyond the table */
	ck_assert_uint_eq(legacy_rd(&g, VIRTIO_MSI_QUEUE_VECTOR, 2), VIRTIO_MSI_NO_VECTOR);

	/* Legacy queue interrupt through MSI-X. */
	struct hring r;
	uint32_t id, len;
	legacy_wr(&g, VIRTIO_MSI_QUEUE_VECTOR, 2, 1);
	legacy_wr(&g, VIRTIO_PCI_GUEST_FEATURES, 4, 0);
	hring_init(&r, RING1_GPA, FAKE_QSIZE, VIRTIO_PCI_VRING_ALIGN);
	legacy_wr(&g, VIRTIO_PCI_QUEUE_PFN, 4, RING1_GPA >> 12);
	legacy_wr(&g, VIRTIO_PCI_STATUS, 1, 0x07);
	hring_add(&r, BUF_GPA, 4, true);
	legacy_wr(&g, VIRTIO_PCI_QUEUE_NOTIFY, 2, 1);
	ck_assert(hring_used(&r, &id, &len));
	ck_assert_uint_eq(w->plat.nr_msi, 1);
	ck_assert_uint_eq(w->plat.msi_data[0], 0x41);
}
END_TEST

START_TEST(pci_transitional_both_interfaces)
{
	struct pci_guest g;
	struct vqd d;
	uint32_t len;

	pci_create(&w->fd.vdev, VIRTIO_PCI_TRANSITIONAL);
	pci_probe(&g);
	ck_assert_uint_eq(cfg_rd(g.slot, PCI_DEVICE_ID, 2), VIRTIO_TRANS_ID_NET);
	ck_assert_uint_eq(cfg_rd(g.slot, PCI_REVISION_ID, 1), 0);
	ck_assert_uint_ne(g.common, 0);
	ck_assert_uint_ne(g.io, 0);
	ck_assert_uint_eq(active_notifiers(&w->plat), 4); /* 2 modern + 2 legacy */

	/* Modern driver (Linux's default). */
	ck_assert(pci_negotiate(&g, F(VIRTIO_F_VERSION_1)) & VIRTIO_CONFIG_S_FEATURES_OK);
	pci_modern_queue(&g, &d, 0, RING_GPA, 8, 0);
	pci_driver_ok(&g);
	post_reply_buffer(&d, BUF_GPA, (void *)1);
	pci_modern_kick(&g, 0);
	ck_assert_ptr_eq(vqd_get_used(&d, &len), (void *)1);
	/* The legacy view shows the same status. */
	ck_assert_uint_eq(legacy_rd(&g, VIRTIO_PCI_STATUS, 1), 0x0f);
	ck_assert_uint_eq(legacy_rd(&g, VIRTIO_PCI_ISR, 1), 1);

	/* Legacy driver (virtio_pci.force_legacy=1) after a reset. */
	struct hring r;
	uint32_t id;
	legacy_wr(&g, VIRTIO_PCI_STATUS, 1, 0);
	legacy_wr(&g, VIRTIO_PCI_STATUS, 1, 0x03);
	legacy_wr(&g, VIRTIO_PCI_GUEST_FEATURES, 4, F(FAKE_FEATURE));
	hring_init(&r, RING1_GPA, FAKE_QSIZE, VIRTIO_PCI_VRING_ALIGN);
	legacy_wr(&g, VIRTIO_PCI_QUEUE_SEL, 2, 0);
	legacy_wr(&g, VIRTIO_PCI_QUEUE_PFN, 4, RING1_GPA >> 12);
	legacy_wr(&g, VIRTIO_PCI_STATUS, 1, 0x07);
	ck_assert_uint_eq(legacy_rd(&g, VIRTIO_PCI_STATUS, 1) & VIRTIO_CONFIG_S_NEEDS_RESET, 0);
	ck_assert_uint_eq(w->fd.activated, 2);
	hring_add(&r, BUF_GPA, 4, true);
	legacy_wr(&g, VIRTIO_PCI_QUEUE_NOTIFY, 2, 0);
	ck_assert(hring_used(&r, &id, &len));
	ck_assert_uint_eq(len, 4);
}
END_TEST

/* ================= hostile guest: random accesses ================= */

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Random register traffic biased toward small values, so some rings land
 * in RAM and some queue sizes are sane: nothing may crash or leak. */
static void fuzz_region(struct bus *bus, uint64_t base, uint64_t size, uint64_t *seed, unsigned rounds)
{
	static const unsigned lens[] = { 1, 2, 4, 8 };

	for (unsigned i = 0; i < rounds; i++) {
		uint64_t r = xorshift(seed);
		unsigned len = lens[r & 3];
		uint64_t off = (r >> 8) % size;
		uint64_t value = xorshift(seed);
		uint8_t data[8];

		if (off + len > size)
			continue;
		switch ((r >> 4) & 3) {
		case 0: value &= 0xff; break;
		case 1: value &= 0x3fffff; break; /* inside RAM */
		case 2: value = 1; break;
		}
		if ((r >> 6) & 1) {
			bus_dispatch(bus, base + off, data, len, false);
		} else {
			for (unsigned b = 0; b < len; b++)
				data[b] = value >> (8 * b);
			bus_dispatch(bus, base + off, data, len, true);
		}
	}
}

START_TEST(fuzz_all_transports)
{
	uint64_t seed = 0x9e3779b97f4a7c15ull;

	for (int version = 1; version <= 2; version++) {
		virtio_rng_init(&w->rng, "virtio-rng0", &w->mem, 0);
		mmio_create(&w->rng.vdev, version);
		fuzz_region(&w->mmio, MMIO_BASE, VIRTIO_MMIO_SIZE, &seed, 20000);
		virtio_mmio_destroy(&w->vm);
	}
	pci_create(&w->fd.vdev, VIRTIO_PCI_TRANSITIONAL);
	uint64_t modern = w->vp.pci.bar[VIRTIO_PCI_MODERN_BAR].addr;
	uint64_t io = w->vp.pci.bar[VIRTIO_PCI_LEGACY_BAR].addr;
	for (unsigned i = 0; i < 20; i++) {
		fuzz_region(&w->mmio, modern, 0x100, &seed, 1000);          /* common config */
		fuzz_region(&w->mmio, modern + 0x1000, 0x3100, &seed, 500); /* ISR, config, notify */
		fuzz_region(&w->pio, io, w->vp.pci.bar[VIRTIO_PCI_LEGACY_BAR].size, &seed, 1000);
	}
	/* Still a working device after a reset. */
	struct pci_guest g;
	pci_probe(&g);
	ck_assert(pci_negotiate(&g, F(VIRTIO_F_VERSION_1)) & VIRTIO_CONFIG_S_FEATURES_OK);

	/* Config space: BARs moved anywhere (often into the window), decoding
	 * toggled. The notifiers must follow what is mapped, exactly. */
	for (unsigned i = 0; i < 3000; i++) {
		uint64_t r = xorshift(&seed);
		unsigned off = (r >> 8) & 0x3c;
		uint32_t value = xorshift(&seed);
		if ((r & 3) == 0)
			value = (uint32_t)(0xc0000000u + (value & 0x0ffff000u));
		else if ((r & 3) == 1)
			value = PCI_IO_WINDOW_BASE + (value & 0x2fe0);
		if (off == PCI_COMMAND && (r & 4))
			value |= PCI_COMMAND_MEMORY | PCI_COMMAND_IO;
		cfg_wr(g.slot, off, 4, value);
	}
	const struct pci_bar *mb = &w->vp.pci.bar[VIRTIO_PCI_MODERN_BAR];
	const struct pci_bar *lb = &w->vp.pci.bar[VIRTIO_PCI_LEGACY_BAR];
	ck_assert_uint_eq(active_notifiers(&w->plat), 2u * mb->mapped + 2u * lb->mapped);
	if (mb->mapped)
		ck_assert_ptr_nonnull(find_notifier(&w->plat, false, mb->addr + VIRTIO_PCI_NOTIFY_OFFSET, false, 0));
	if (lb->mapped)
		ck_assert_ptr_nonnull(find_notifier(&w->plat, true, lb->addr + VIRTIO_PCI_QUEUE_NOTIFY, true, 1));
	virtio_pci_destroy(&w->vp);
	ck_assert_uint_eq(active_notifiers(&w->plat), 0);
}
END_TEST

/* ================= virtio-rng end to end ================= */

#define RNG_REQ 64

/* Post two 64-byte requests with zeroed buffers. */
static void rng_post_vqd(struct vqd *d)
{
	for (unsigned i = 0; i < 2; i++) {
		struct vqd_buf in = { BUF_GPA + i * RNG_REQ, RNG_REQ };
		memset(w->ram + in.addr, 0, RNG_REQ);
		ck_assert_int_eq(vqd_add(d, NULL, 0, &in, 1, (void *)(uintptr_t)(i + 1), false), 0);
	}
}

static void rng_check_vqd(struct vqd *d)
{
	uint32_t len;

	for (unsigned i = 0; i < 2; i++) {
		ck_assert_ptr_eq(vqd_get_used(d, &len), (void *)(uintptr_t)(i + 1));
		ck_assert_uint_eq(len, RNG_REQ);
		ck_assert(!all_zero(w->ram + BUF_GPA + i * RNG_REQ, RNG_REQ));
	}
	ck_assert(memcmp(w->ram + BUF_GPA, w->ram + BUF_GPA + RNG_REQ, RNG_REQ) != 0);
	ck_assert_ptr_null(vqd_get_used(d, &len));
}

static void rng_post_hring(struct hring *r)
{
	for (unsigned i = 0; i < 2; i++) {
		memset(w->ram + BUF_GPA + i * RNG_REQ, 0, RNG_REQ);
		hring_add(r, BUF_GPA + i * RNG_REQ, RNG_REQ, true);
	}
}

static void rng_check_hring(struct hring *r)
{
	uint32_t id, len;

	for (unsigned i = 0; i < 2; i++) {
		ck_assert(hring_used(r, &id, &len));
		ck_assert_uint_eq(id, i);
		ck_assert_uint_eq(len, RNG_REQ);
		ck_assert(!all_zero(w->ram + BUF_GPA + i * RNG_REQ, RNG_REQ));
	}
	ck_assert(!hring_used(r, &id, &len));
}

START_TEST(rng_pci_modern)
{
	struct pci_guest g;
	struct vqd d;
	uint64_t features = F(VIRTIO_F_VERSION_1) | F(VIRTIO_RING_F_EVENT_IDX) | F(VIRTIO_RING_F_INDIRECT_DESC);

	virtio_rng_init(&w->rng, "virtio-rng0", &w->mem, 0);
	pci_create(&w->rng.vdev, VIRTIO_PCI_MODERN);
	pci_probe(&g);
	ck_assert_uint_eq(cfg_rd(g.slot, PCI_DEVICE_ID, 2), 0x1044);
	ck_assert_uint_eq(find_virtio_cap(g.slot, VIRTIO_PCI_CAP_DEVICE_CFG), 0); /* rng has no config */
	ck_assert(pci_negotiate(&g, features) & VIRTIO_CONFIG_S_FEATURES_OK);
	pci_modern_queue(&g, &d, 0, RING_GPA, 64, VQD_F_EVENT_IDX | VQD_F_INDIRECT_DESC);
	pci_driver_ok(&g);
	rng_post_vqd(&d);
	ck_assert(vqd_kick_needed(&d));
	pci_modern_kick(&g, 0);
	ck_assert_int_eq(w->plat.level[pci_gsi(&g)], 1);
	ck_assert_uint_eq(rd(&w->mmio, g.isr, 1), 1);
	rng_check_vqd(&d);
}
END_TEST

START_TEST(rng_pci_legacy)
{
	struct pci_guest g;
	struct hring r;

	virtio_rng_init(&w->rng, "virtio-rng0", &w->mem, 0);
	pci_create(&w->rng.vdev, VIRTIO_PCI_LEGACY);
	pci_probe(&g);
	ck_assert_uint_eq(cfg_rd(g.slot, PCI_DEVICE_ID, 2), 0x1005);
	ck_assert_uint_eq(cfg_rd(g.slot, PCI_SUBSYSTEM_ID, 2), VIRTIO_ID_RNG);
	legacy_wr(&g, VIRTIO_PCI_STATUS, 1, 0);
	legacy_wr(&g, VIRTIO_PCI_STATUS, 1, 0x03);
	legacy_wr(&g, VIRTIO_PCI_GUEST_FEATURES, 4, 0);
	legacy_wr(&g, VIRTIO_PCI_QUEUE_SEL, 2, 0);
	uint16_t size = legacy_rd(&g, VIRTIO_PCI_QUEUE_NUM, 2);
	ck_assert_uint_eq(size, VIRTIO_RNG_QUEUE_SIZE);
	hring_init(&r, RING_GPA, size, VIRTIO_PCI_VRING_ALIGN);
	legacy_wr(&g, VIRTIO_PCI_QUEUE_PFN, 4, RING_GPA >> 12);
	legacy_wr(&g, VIRTIO_PCI_STATUS, 1, 0x07);
	rng_post_hring(&r);
	legacy_wr(&g, VIRTIO_PCI_QUEUE_NOTIFY, 2, 0);
	ck_assert_int_eq(w->plat.level[pci_gsi(&g)], 1);
	ck_assert_uint_eq(legacy_rd(&g, VIRTIO_PCI_ISR, 1), 1);
	rng_check_hring(&r);
}
END_TEST

START_TEST(rng_pci_transitional_packed)
{
	struct pci_guest g;
	struct vqd d;

	virtio_rng_init(&w->rng, "virtio-rng0", &w->mem, 0);
	pci_create(&w->rng.vdev, VIRTIO_PCI_TRANSITIONAL);
	pci_probe(&g);
	ck_assert(pci_negotiate(&g, F(VIRTIO_F_VERSION_1) | F(VIRTIO_F_RING_PACKED)) & VIRTIO_CONFIG_S_FEATURES_OK);
	ck_assert_int_eq(vqd_init_packed(&d, 32, w->ram + RING_GPA, RING_GPA, 0), 0);
	cwr(&g, VIRTIO_PCI_COMMON_Q_SELECT, 2, 0);
	cwr(&g, VIRTIO_PCI_COMMON_Q_SIZE, 2, 32);
	cwr(&g, VIRTIO_PCI_COMMON_Q_DESCLO, 4, (uint32_t)d.desc_gpa);
	cwr(&g, VIRTIO_PCI_COMMON_Q_AVAILLO, 4, (uint32_t)d.avail_gpa);
	cwr(&g, VIRTIO_PCI_COMMON_Q_USEDLO, 4, (uint32_t)d.used_gpa);
	cwr(&g, VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1);
	ck_assert(w->rng.vdev.vqs[0].packed);
	pci_driver_ok(&g);
	rng_post_vqd(&d);
	pci_modern_kick(&g, 0);
	rng_check_vqd(&d);
}
END_TEST

START_TEST(rng_mmio_v2)
{
	struct vqd d;

	virtio_rng_init(&w->rng, "virtio-rng0", &w->mem, 0);
	mmio_create(&w->rng.vdev, 2);
	ck_assert_uint_eq(mrd(VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_RNG);
	ck_assert(mmio_negotiate(F(VIRTIO_F_VERSION_1) | F(VIRTIO_RING_F_EVENT_IDX), true) & VIRTIO_CONFIG_S_FEATURES_OK);
	mmio_v2_queue(&d, 0, RING_GPA, 128, false, VQD_F_EVENT_IDX);
	mmio_driver_ok();
	rng_post_vqd(&d);
	ck_assert(vqd_kick_needed(&d));
	mwr(VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	ck_assert_uint_eq(w->plat.fast_kicks, 1);
	ck_assert_int_eq(w->plat.level[MMIO_GSI], 1);
	ck_assert_uint_eq(mmio_ack_interrupt(), VIRTIO_MMIO_INT_VRING);
	rng_check_vqd(&d);
}
END_TEST

START_TEST(rng_mmio_v1)
{
	struct hring r;

	virtio_rng_init(&w->rng, "virtio-rng0", &w->mem, 0);
	mmio_create(&w->rng.vdev, 1);
	mmio_negotiate(0, false);
	mmio_v1_queue(&r, 0, RING_GPA, 16);
	mmio_driver_ok();
	ck_assert_uint_eq(mrd(VIRTIO_MMIO_STATUS), 0x07);
	rng_post_hring(&r);
	mwr(VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	ck_assert_int_eq(w->plat.level[MMIO_GSI], 1);
	ck_assert_uint_eq(mmio_ack_interrupt(), VIRTIO_MMIO_INT_VRING);
	rng_check_hring(&r);
}
END_TEST

START_TEST(rng_rate_limit)
{
	struct vqd d;
	uint32_t len;

	virtio_rng_init(&w->rng, "virtio-rng0", &w->mem, 100); /* 100 bytes/s, bucket starts full */
	w->rng.clock_ns = fake_clock;
	fake_now_ns = 1000000000;
	w->rng.last_refill_ns = fake_now_ns;
	mmio_create(&w->rng.vdev, 2);
	mmio_negotiate(F(VIRTIO_F_VERSION_1), true);
	mmio_v2_queue(&d, 0, RING_GPA, 16, false, 0);
	mmio_driver_ok();
	for (unsigned i = 0; i < 3; i++) {
		struct vqd_buf in = { BUF_GPA + i * RNG_REQ, RNG_REQ };
		memset(w->ram + in.addr, 0, RNG_REQ);
		ck_assert_int_eq(vqd_add(&d, NULL, 0, &in, 1, (void *)(uintptr_t)(i + 1), false), 0);
	}
	mwr(VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	/* 64 bytes, then the 36 left in the bucket, then nothing. */
	ck_assert_ptr_eq(vqd_get_used(&d, &len), (void *)1);
	ck_assert_uint_eq(len, 64);
	ck_assert_ptr_eq(vqd_get_used(&d, &len), (void *)2);
	ck_assert_uint_eq(len, 36);
	ck_assert(all_zero(w->ram + BUF_GPA + RNG_REQ + 36, RNG_REQ - 36));
	ck_assert_ptr_null(vqd_get_used(&d, &len));
	ck_assert(all_zero(w->ram + BUF_GPA + 2 * RNG_REQ, RNG_REQ));
	/* A kick with an empty bucket does not help. */
	mwr(VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	ck_assert_ptr_null(vqd_get_used(&d, &len));
	/* Half a second later: 50 bytes for the waiting request. */
	fake_now_ns += 500000000;
	mmio_ack_interrupt();
	virtio_rng_poll(&w->rng);
	ck_assert_ptr_eq(vqd_get_used(&d, &len), (void *)3);
	ck_assert_uint_eq(len, 50);
	ck_assert_int_eq(w->plat.level[MMIO_GSI], 1);
	/* Nothing waits now: polling is a no-op. */
	virtio_rng_poll(&w->rng);
	ck_assert_ptr_null(vqd_get_used(&d, &len));
	/* The bucket holds one second at most. */
	fake_now_ns += 10000000000;
	for (unsigned i = 0; i < 3; i++) {
		struct vqd_buf in = { BUF_GPA + i * RNG_REQ, RNG_REQ };
		ck_assert_int_eq(vqd_add(&d, NULL, 0, &in, 1, (void *)(uintptr_t)(i + 1), false), 0);
	}
	mwr(VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	ck_assert_ptr_eq(vqd_get_used(&d, &len), (void *)1);
	ck_assert_uint_eq(len, 64);
	ck_assert_ptr_eq(vqd_get_used(&d, &len), (void *)2);
	ck_assert_uint_eq(len, 36);
	ck_assert_ptr_null(vqd_get_used(&d, &len));
}
END_TEST

START_TEST(rng_out_buffer_needs_reset)
{
	struct vqd d;
	uint32_t len;

	virtio_rng_init(&w->rng, "virtio-rng0", &w->mem, 0);
	mmio_create(&w->rng.vdev, 2);
	mmio_negotiate(F(VIRTIO_F_VERSION_1), true);
	mmio_v2_queue(&d, 0, RING_GPA, 16, false, 0);
	mmio_driver_ok();
	struct vqd_buf out = { BUF_GPA, 16 }, in = { BUF_GPA + 64, 16 };
	ck_assert_int_eq(vqd_add(&d, &out, 1, &in, 1, (void *)1, false), 0);
	mwr(VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	ck_assert(mrd(VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET);
	ck_assert_uint_eq(mmio_ack_interrupt(), VIRTIO_MMIO_INT_CONFIG);
	ck_assert_ptr_null(vqd_get_used(&d, &len));
	/* A broken device serves nothing more until reset. */
	ck_assert_int_eq(vqd_add(&d, NULL, 0, &in, 1, (void *)2, false), 0);
	mwr(VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	ck_assert_ptr_null(vqd_get_used(&d, &len));
}
END_TEST

/* (Re)negotiate and start the rng's queue on MMIO v2, as a driver does
 * after a reset. */
static void rng_mmio_up(struct vqd *d)
{
	mmio_negotiate(F(VIRTIO_F_VERSION_1), true);
	mmio_v2_queue(d, 0, RING_GPA, 16, false, 0);
	mmio_driver_ok();
}

/* Kick with an avail index far ahead of anything posted; the lines
 * logged that contain `needle`. */
static unsigned rng_break_ring(const struct vqd *d, const char *needle)
{
	log_capture_start();
	ram_w16(d->avail_gpa + 2, 100);
	mwr(VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	mwr(VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	ck_assert(mrd(VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET);
	return log_capture_stop(needle);
}

START_TEST(rng_broken_ring_needs_reset)
{
	struct vqd d;

	virtio_rng_init(&w->rng, "virtio-rng0", &w->mem, 0);
	mmio_create(&w->rng.vdev, 2);
	rng_mmio_up(&d);
	/* The core sets NEEDS_RESET, raises the config interrupt and logs
	 * the engine's reason, once. */
	ck_assert_uint_eq(rng_break_ring(&d, "virtio-rng0: driver error, device needs reset: virtio-rng0.q0: avail idx 100"),
			  1);
	ck_assert_uint_eq(w->rng.vdev.stats.needs_reset, 1);
	ck_assert_int_eq(w->plat.level[MMIO_GSI], 1);
	ck_assert_uint_eq(mmio_ack_interrupt(), VIRTIO_MMIO_INT_CONFIG);
	/* Reset and set up again: it works. */
	rng_mmio_up(&d);
	ck_assert_int_eq(w->plat.level[MMIO_GSI], 0);
	rng_post_vqd(&d);
	mwr(VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	rng_check_vqd(&d);
	/* A guest looping through error and reset: reported each time, but
	 * the warning is rate-limited (the first one came out above). */
	for (int i = 0; i < 3; i++) {
		rng_mmio_up(&d);
		ck_assert_uint_eq(rng_break_ring(&d, "device needs reset"), 0);
	}
	ck_assert_uint_eq(w->rng.vdev.stats.needs_reset, 4);
}
END_TEST

/* ================= a queue restarted under a request in flight =================
 * Issue 17: the device holds a request (as blk, scsi or the balloon's
 * statistics queue do); the driver stops the queue (MMIO v2 QueueReady=0,
 * MMIO v1 or legacy PCI PFN=0), shrinks it and starts it again; then the
 * held request completes. It belongs to the old rings: it must reach
 * neither the new ring nor anything past it. */

/* A one-slot packed ring in the last 16 bytes of guest RAM, its event
 * areas and a buffer just below it. */
#define TAIL_RING   (RAM_SIZE - 16)
#define TAIL_EVENTS (RAM_SIZE - 32)  /* driver area, device area 4 bytes on */
#define TAIL_BUF    (RAM_SIZE - 64)
#define OLD_CHAIN   (FAKE_QSIZE - 1) /* descriptors of the held request */

enum restart_way { RESTART_MMIO_V2_READY, RESTART_PCI_LEGACY_PFN };

static void restart_kick(enum restart_way way, const struct pci_guest *g)
{
	if (way == RESTART_MMIO_V2_READY)
		mwr(VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	else
		pci_modern_kick(g, 0);
}

/* Negotiate a packed ring of FAKE_QSIZE on queue 0 and have the device
 * hold one request of OLD_CHAIN descriptors. */
static void packed_hold_request(enum restart_way way, struct pci_guest *g)
{
	const uint64_t features = F(VIRTIO_F_VERSION_1) | F(VIRTIO_F_RING_PACKED);
	struct vqd_buf in[OLD_CHAIN];
	struct vqd d;

	ck_assert_int_eq(vqd_init_packed(&d, FAKE_QSIZE, w->ram + RING_GPA, RING_GPA, 0), 0);
	if (way == RESTART_MMIO_V2_READY) {
		mmio_create(&w->fd.vdev, 2);
		ck_assert(mmio_negotiate(features, true) & VIRTIO_CONFIG_S_FEATURES_OK);
		mmio_v2_queue_regs(0, FAKE_QSIZE, d.desc_gpa, d.avail_gpa, d.used_gpa);
		mmio_driver_ok();
	} else {
		/* The default transitional device: a modern driver negotiated a
		 * packed ring, the legacy registers are still there. */
		pci_create(&w->fd.vdev, VIRTIO_PCI_TRANSITIONAL);
		pci_probe(g);
		ck_assert(pci_negotiate(g, features) & VIRTIO_CONFIG_S_FEATURES_OK);
		pci_modern_queue_regs(g, 0, FAKE_QSIZE, d.desc_gpa, d.avail_gpa, d.used_gpa);
		pci_driver_ok(g);
	}
	ck_assert(w->fd.vdev.vqs[0].packed);
	w->fd.hold = true;
	for (unsigned i = 0; i < OLD_CHAIN; i++)
		in[i] = (struct vqd_buf){ BUF_GPA + 16 * i, 16 };
	ck_assert_int_eq(vqd_add(&d, NULL, 0, in, OLD_CHAIN, (void *)1, false), 0);
	restart_kick(way, g);
	ck_assert_uint_eq(w->fd.nheld, 1);
	ck_assert_uint_eq(w->fd.held[0].chain.ndesc, OLD_CHAIN);
}

/* The reviewer's reproducer: the held request completes into the new
 * one-slot ring, then one fresh request goes through it. */
static void packed_restart_at_ram_end(enum restart_way way)
{
	struct virtqueue *vq = &w->fd.vdev.vqs[0];
	struct pci_guest g;
	uint8_t *before = malloc(RAM_SIZE + RAM_GUARD);
	bool stale_landed;

	ck_assert_ptr_nonnull(before);
	packed_hold_request(way, &g);

	if (way == RESTART_MMIO_V2_READY) {
		mwr(VIRTIO_MMIO_QUEUE_READY, 0);
		mmio_v2_queue_regs(0, 1, TAIL_RING, TAIL_EVENTS, TAIL_EVENTS + 4);
	} else {
		legacy_wr(&g, VIRTIO_PCI_QUEUE_SEL, 2, 0);
		legacy_wr(&g, VIRTIO_PCI_QUEUE_PFN, 4, 0);
		ck_assert(!vq->ready);
		pci_modern_queue_regs(&g, 0, 1, TAIL_RING, TAIL_EVENTS, TAIL_EVENTS + 4);
	}
	ck_assert(vq->ready && vq->packed);
	ck_assert_uint_eq(vq->size, 1);
	memcpy(before, w->ram, RAM_SIZE + RAM_GUARD);

	virtio_request_complete(&w->fd.held[0], 4); /* the stale one */
	stale_landed = !all_zero(w->ram + TAIL_RING, 16);
	/* The driver makes its slot available (wrap counter 1: AVAIL set). */
	ram_w64(TAIL_RING, TAIL_BUF);
	ram_w32(TAIL_RING + 8, 4);
	ram_w16(TAIL_RING + 12, 0);
	ram_w16(TAIL_RING + 14, (1u << VRING_PACKED_DESC_F_AVAIL) | VRING_DESC_F_WRITE);
	restart_kick(way, &g);
	ck_assert_uint_eq(w->fd.nheld, 2);
	virtio_request_complete(&w->fd.held[1], 4);

	/* Nothing changed outside the new ring (and its buffer and event
	 * areas): not in guest RAM, not past it. */
	ck_assert_int_eq(memcmp(before, w->ram, TAIL_BUF), 0);
	ck_assert_int_eq(memcmp(before + RAM_SIZE, w->ram + RAM_SIZE, RAM_GUARD), 0);
	ck_assert_uint_lt(vq->used_idx, vq->size);
	ck_assert(!stale_landed);
	/* The fresh request came back used, in the one slot. */
	ck_assert_uint_eq(ram_r16(TAIL_RING + 14) & ((1u << VRING_PACKED_DESC_F_AVAIL) | (1u << VRING_PACKED_DESC_F_USED)),
			  (1u << VRING_PACKED_DESC_F_AVAIL) | (1u << VRING_PACKED_DESC_F_USED));
	ck_assert_uint_eq(ram_r16(TAIL_RING + 12), 0);
	ck_assert_uint_eq(ram_r32(TAIL_RING + 8), 4);
	ck_assert_uint_eq(w->fd.vdev.status & VIRTIO_CONFIG_S_NEEDS_RESET, 0);
	ck_assert_uint_eq(w->fd.vdev.inflight, 0);
	free(before);
}

START_TEST(restart_packed_mmio_v2_queue_ready_0)
{
	packed_restart_at_ram_end(RESTART_MMIO_V2_READY);
}
END_TEST

START_TEST(restart_packed_pci_legacy_pfn_0)
{
	packed_restart_at_ram_end(RESTART_PCI_LEGACY_PFN);
}
END_TEST

/* Split rings cannot be pushed out of bounds, but a stale completion
 * would hand the driver an id it never made available in the new ring. */
START_TEST(restart_split_mmio_v1_pfn_0)
{
	enum { OLD = 8 };
	struct hring r, fresh;
	uint32_t id, len;

	mmio_create(&w->fd.vdev, 1);
	mmio_negotiate(0, false);
	mmio_v1_queue(&r, 0, RING_GPA, FAKE_QSIZE);
	mmio_driver_ok();
	w->fd.hold = true;
	for (unsigned i = 0; i < OLD; i++)
		hring_add(&r, BUF_GPA + 16 * i, 4, true);
	mwr(VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	ck_assert_uint_eq(w->fd.nheld, OLD);

	mwr(VIRTIO_MMIO_QUEUE_PFN, 0);
	ck_assert(!w->fd.vdev.vqs[0].ready);
	mmio_v1_queue(&fresh, 0, RING1_GPA, 4); /* smaller, elsewhere */
	hring_add(&fresh, BUF_GPA + 0x1000, 4, true);
	mwr(VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	ck_assert_uint_eq(w->fd.nheld, OLD + 1);

	for (unsigned i = 0; i < OLD; i++)
		virtio_request_complete(&w->fd.held[i], 4);
	ck_assert_uint_eq(ram_r16(fresh.used + 2), 0); /* no stale id in the new ring */
	virtio_request_complete(&w->fd.held[OLD], 4);
	ck_assert(hring_used(&fresh, &id, &len));
	ck_assert_uint_eq(id, 0);
	ck_assert_uint_eq(len, 4);
	ck_assert(!hring_used(&fresh, &id, &len));
	ck_assert_uint_eq(ram_r16(r.used + 2), 0); /* nor in the old one, let go */
	ck_assert_uint_eq(w->fd.vdev.status & VIRTIO_CONFIG_S_NEEDS_RESET, 0);
	ck_assert_uint_eq(w->fd.vdev.inflight, 0);
}
END_TEST

/* A device handing back a chain its ring cannot have given out (here a
 * descriptor count past the ring, as a device bug would) gets the queue
 * stopped and DEVICE_NEEDS_RESET raised: nothing is written. */
START_TEST(foreign_chain_needs_reset)
{
	struct virtqueue *vq = &w->fd.vdev.vqs[0];
	struct pci_guest g;
	uint8_t *before = malloc(RAM_SIZE);

	ck_assert_ptr_nonnull(before);
	packed_hold_request(RESTART_MMIO_V2_READY, &g);
	w->fd.held[0].chain.ndesc = 200;
	memcpy(before, w->ram, RAM_SIZE);
	virtio_request_complete(&w->fd.held[0], 4);
	ck_assert(mrd(VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET);
	ck_assert_uint_eq(mmio_ack_interrupt(), VIRTIO_MMIO_INT_CONFIG);
	ck_assert_int_eq(memcmp(before, w->ram, RAM_SIZE), 0);
	ck_assert_uint_lt(vq->used_idx, vq->size);
	ck_assert_uint_eq(w->fd.vdev.inflight, 0);
	ck_assert_uint_eq(w->fd.vdev.stats.errors, 1);
	ck_assert_uint_eq(w->fd.vdev.stats.requests, 0);
	free(before);
}
END_TEST

Suite *virtio_transport_suite(void)
{
	Suite *s = suite_create("virtio-transport");
	TCase *tc;

	tc = tcase_create("virtio-mmio");
	tcase_add_checked_fixture(tc, world_setup, world_teardown);
	tcase_add_test(tc, mmio_v2_identity);
	tcase_add_test(tc, mmio_v2_features);
	tcase_add_test(tc, mmio_v2_status_sequence);
	tcase_add_test(tc, mmio_v2_features_ok_refused);
	tcase_add_test(tc, mmio_v2_queue_setup);
	tcase_add_test(tc, mmio_v2_bad_queue_needs_reset);
	tcase_add_test(tc, mmio_v2_bad_queue_size);
	tcase_add_test(tc, mmio_v2_reset);
	tcase_add_test(tc, mmio_interrupt_status_ack);
	tcase_add_test(tc, mmio_config_space_and_generation);
	tcase_add_test(tc, mmio_notify_registered);
	tcase_add_test(tc, mmio_notify_exit_path);
	tcase_add_test(tc, mmio_bad_widths_ignored);
	tcase_add_test(tc, mmio_create_errors);
	tcase_add_test(tc, mmio_v1_identity_and_features);
	tcase_add_test(tc, mmio_v1_pfn_setup);
	tcase_add_test(tc, mmio_v1_bad_page_size);
	tcase_add_test(tc, mmio_v1_legacy_kick_before_driver_ok);
	suite_add_tcase(s, tc);

	tc = tcase_create("virtio-pci");
	tcase_add_checked_fixture(tc, world_setup, world_teardown);
	tcase_add_test(tc, pci_modern_ids);
	tcase_add_test(tc, pci_modern_capabilities);
	tcase_add_test(tc, pci_modern_common_queue_setup);
	tcase_add_test(tc, pci_modern_features);
	tcase_add_test(tc, pci_modern_activate_refused);
	tcase_add_test(tc, pci_modern_notify);
	tcase_add_test(tc, pci_isr_intx);
	tcase_add_test(tc, pci_msix_vectors);
	tcase_add_test(tc, pci_modern_reset);
	tcase_add_test(tc, pci_bar_move_follows_notifiers);
	tcase_add_test(tc, pci_modern_hostile_widths);
	tcase_add_test(tc, pci_legacy_ids);
	tcase_add_test(tc, pci_legacy_pfn_setup);
	tcase_add_test(tc, pci_legacy_msix_config_shift);
	tcase_add_test(tc, pci_transitional_both_interfaces);
	suite_add_tcase(s, tc);

	tc = tcase_create("hostile");
	tcase_add_checked_fixture(tc, world_setup, world_teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, fuzz_all_transports);
	suite_add_tcase(s, tc);

	tc = tcase_create("queue-restart");
	tcase_add_checked_fixture(tc, world_setup, world_teardown);
	tcase_add_test(tc, restart_packed_mmio_v2_queue_ready_0);
	tcase_add_test(tc, restart_packed_pci_legacy_pfn_0);
	tcase_add_test(tc, restart_split_mmio_v1_pfn_0);
	tcase_add_test(tc, foreign_chain_needs_reset);
	suite_add_tcase(s, tc);

	tc = tcase_create("virtio-rng");
	tcase_add_checked_fixture(tc, world_setup, world_teardown);
	tcase_add_test(tc, rng_pci_modern);
	tcase_add_test(tc, rng_pci_legacy);
	tcase_add_test(tc, rng_pci_transitional_packed);
	tcase_add_test(tc, rng_mmio_v2);
	tcase_add_test(tc, rng_mmio_v1);
	tcase_add_test(tc, rng_rate_limit);
	tcase_add_test(tc, rng_out_buffer_needs_reset);
	tcase_add_test(tc, rng_broken_ring_needs_reset);
	suite_add_tcase(s, tc);
	return s;
}

#ifndef SKIFF_UNIT_NO_MAIN
int main(void)
{
	SRunner *sr = srunner_create(virtio_transport_suite());
	int failed;

	log_threshold = LOG_ERROR; /* the guest errors provoked here log warnings */
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
#endif
