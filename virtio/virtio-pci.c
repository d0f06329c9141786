/* virtio PCI transport: lays out the function (IDs, BARs, the modern
 * capability structures, MSI-X), follows its BARs with ioeventfds, and
 * turns "queue used" into MSI-X or INTx. The registers themselves, modern
 * and legacy, are decoded in virtio-pci-regs.c.
 * Status and feature negotiation live in virtio/virtio-device.c. See
 * virtio-pci.h for the layout. */
#include "virtio/virtio-pci.h"

#include <errno.h>
#include <string.h>

#include <linux/pci_regs.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_pci.h>
#include <linux/virtio_ring.h>

#include "base/log.h"
#include "base/trace.h"
#include "virtio/virtio-pci-regs.h"

#define PCI_VENDOR_ID_REDHAT_QUMRANET 0x1af4  /* the virtio vendor ID */
#define VIRTIO_PCI_MODERN_ID_BASE     0x1040
#define VIRTIO_PCI_SUBSYS_MODERN      0x1100  /* spec: 0x40 or higher; QEMU's value */
#define VIRTIO_PCI_ISR_QUEUE          0x1     /* ISR bit 0 (bit 1 is VIRTIO_PCI_ISR_CONFIG) */

/* ---- little helpers ---- */

static struct virtio_pci *to_vp(struct virtio_device *dev)
{
	return dev->transport_priv;
}

/* ---- interrupts ---- */

/* INTx is a level: high while an ISR bit is set (the PCI code keeps the
 * pin quiet while MSI-X is on). */
/* With MSI-X enabled, send the vector (NO_VECTOR sends nothing); without,
 * set the ISR bit and raise INTx (spec 4.1.5.3, 4.1.5.4). */
static void vp_interrupt(struct virtio_pci *vp, uint16_t vector, uint8_t isr_bit)
{
	if (pci_msix_notify(&vp->pci, vector))
		return; /* traced in vp_msix_deliver(), if sent */
	vp->isr |= isr_bit;
	if (!vp->intx)
		TRACE(TRACE_IRQ, vp->dev->name, "irq intx raised (isr %#x)", vp->isr);
	vp_update_intx(vp);
}

static void vp_notify_used(struct virtio_device *dev, unsigned q)
{
	struct virtio_pci *vp = to_vp(dev);

	vp_interrupt(vp, vp->queue_vector[q], VIRTIO_PCI_ISR_QUEUE);
}

static void vp_notify_config(struct virtio_device *dev)
{
	struct virtio_pci *vp = to_vp(dev);

	vp_interrupt(vp, vp->config_vector, VIRTIO_PCI_ISR_CONFIG);
}

static const struct virtio_transport_ops vp_transport_ops = {
	.notify_used = vp_notify_used,
	.notify_config = vp_notify_config,
};

/* Keep vector's route pointing at its current message (msi_lock held).
 * Returns the route, or <0 if there is none. Runs only when the guest
 * changed the vector, or for the first message of a vector. */
static int vp_msix_route_update(struct virtio_pci *vp, unsigned vector, uint64_t address, uint32_t data)
{
	struct virtio_pci_msi_route *mr = &vp->msi_route[vector];

	if (mr->route >= 0 && mr->address == address && mr->data == data)
		return mr->route;
	int route = vp->plat->msi_route_set(vp->plat->ctx, mr->route, address, data);
	if (route < 0)
		return route;
	*mr = (struct virtio_pci_msi_route){ .route = route, .address = address, .data = data };
	return route;
}

/* The PCI code delivers an unmasked vector: fire its route. The message
 * is passed in too, so a change not yet seen through msix->changed is
 * caught here (one slow-path update) instead of firing a stale route. */
static void vp_msix_deliver(void *ctx, unsigned vector, uint64_t address, uint32_t data)
{
	struct virtio_pci *vp = ctx;

	if (!vp->plat || !vp->plat->msi_route_set || vector >= PCI_MSIX_MAX_VECTORS)
		return;
	pthread_mutex_lock(&vp->msi_lock);
	int route = vp_msix_route_update(vp, vector, address, data);
	pthread_mutex_unlock(&vp->msi_lock);
	TRACE(TRACE_IRQ, vp->dev->name, "irq msix vector %u", vector);
	if (route >= 0)
		vp->plat->msi_route_fire(vp->plat->ctx, route);
}

/* The guest reprogrammed vector (or toggled masks): update its route now,
 * off the interrupt path. */
static void vp_msix_changed(void *ctx, unsigned vector)
{
	struct virtio_pci *vp = ctx;
	uint64_t address = 0;
	uint32_t data = 0;

	if (!vp->plat || !vp->plat->msi_route_set || vector >= PCI_MSIX_MAX_VECTORS)
		return;
	pci_msix_get_message(&vp->pci, vector, &address, &data);
	if (address == 0)
		return; /* not programmed yet */
	pthread_mutex_lock(&vp->msi_lock);
	vp_msix_route_update(vp, vector, address, data);
	pthread_mutex_unlock(&vp->msi_lock);
}

/* ---- MSI-X BAR: the PCI code owns the table and PBA ---- */

static void msix_bar_read(void *opaque, uint64_t offset, uint8_t *data, unsigned len)
{
	struct virtio_pci *vp = opaque;

	if (!pci_msix_bar_read(&vp->pci, offset, data, len))
		memset(data, 0, len);
}

static void msix_bar_write(void *opaque, uint64_t offset, const uint8_t *data, unsigned len)
{
	struct virtio_pci *vp = opaque;

	pci_msix_bar_write(&vp->pci, offset, data, len);
}

static const struct bus_ops msix_bar_ops = {
	.read = msix_bar_read,
	.write = msix_bar_write,
};

/* ---- ioeventfd registrations, following the BARs ---- */

/* Modern: one 2-byte slot per queue, no data match (the slot is the
 * queue). Legacy: one shared port, the value written is the queue. */
static void notifier_where(struct virtio_pci *vp, bool legacy, uint64_t bar_addr, unsigned q, uint64_t *addr,
			   bool *datamatch)
{
	if (legacy) {
		*addr = bar_addr + VIRTIO_PCI_QUEUE_NOTIFY;
		*datamatch = true;
	} else {
		*addr = bar_addr + VIRTIO_PCI_NOTIFY_OFFSET + q * VIRTIO_PCI_NOTIFY_MULTIPLIER;
		*datamatch = false;
	}
}

static void notify_bar_del(struct virtio_pci *vp, struct virtio_pci_notify_bar *nb, bool legacy)
{
	const struct virtio_platform *plat = vp->plat;

	for (unsigned q = 0; q < vp->dev->ops->nr_queues; q++) {
		struct virtio_pci_notifier *n = &nb->queue[q];
		uint64_t addr;
		bool datamatch;

		if (!n->registered)
			continue;
		notifier_where(vp, legacy, nb->addr, q, &addr, &datamatch);
		if (plat->notify_del)
			plat->notify_del(plat->ctx, legacy, addr, 2, datamatch, q);
		n->registered = false;
	}
	nb->registered = false;
}

static void notify_bar_add(struct virtio_pci *vp, struct virtio_pci_notify_bar *nb, bool legacy, uint64_t bar_addr)
{
	const struct virtio_platform *plat = vp->plat;

	nb->addr = bar_addr;
	nb->registered = true;
	for (unsigned q = 0; q < vp->dev->ops->nr_queues; q++) {
		struct virtio_pci_notifier *n = &nb->queue[q];
		uint64_t addr;
		bool datamatch;

		notifier_where(vp, legacy, bar_addr, q, &addr, &datamatch);
		/* On failure the write exits and the BAR handler serves it. */
		n->registered = plat->notify_add &&
				plat->notify_add(plat->ctx, legacy, addr, 2, datamatch, q, vp->dev, q) == 0;
	}
}

/* Register while the BAR decodes at an address; move with it. A stale
 * registration would swallow writes meant for whatever is there now. */
static void notify_bar_sync(struct virtio_pci *vp, struct virtio_pci_notify_bar *nb, bool legacy, bool mapped,
			    uint64_t addr)
{
	if (nb->registered && (!mapped || addr != nb->addr))
		notify_bar_del(vp, nb, legacy);
	if (mapped && !nb->registered)
		notify_bar_add(vp, nb, legacy, addr);
}

/* The PCI code tells us when a BAR starts or stops decoding (placement,
 * the guest moving it, the command register). Runs without its lock. */
static void vp_bar_changed(struct pci_device *pci, unsigned index, bool mapped, uint64_t addr)
{
	struct virtio_pci *vp = pci->opaque;

	if (!vp->plat)
		return;
	pthread_mutex_lock(&vp->notify_lock);
	if (index == VIRTIO_PCI_MODERN_BAR && vp->mode != VIRTIO_PCI_LEGACY)
		notify_bar_sync(vp, &vp->modern_notify, false, mapped, addr);
	else if (index == VIRTIO_PCI_LEGACY_BAR && vp->mode != VIRTIO_PCI_MODERN)
		notify_bar_sync(vp, &vp->legacy_notify, true, mapped, addr);
	pthread_mutex_unlock(&vp->notify_lock);
}

/* ---- creation ---- */

/* Legacy and transitional devices exist only for these (spec 4.1.2.1). */
static uint16_t transitional_device_id(uint32_t virtio_id)
{
	switch (virtio_id) {
	case VIRTIO_ID_NET:     return VIRTIO_TRANS_ID_NET;
	case VIRTIO_ID_BLOCK:   return VIRTIO_TRANS_ID_BLOCK;
	case VIRTIO_ID_BALLOON: return VIRTIO_TRANS_ID_BALLOON;
	case VIRTIO_ID_CONSOLE: return VIRTIO_TRANS_ID_CONSOLE;
	case VIRTIO_ID_SCSI:    return VIRTIO_TRANS_ID_SCSI;
	case VIRTIO_ID_RNG:     return VIRTIO_TRANS_ID_RNG;
	case VIRTIO_ID_9P:      return VIRTIO_TRANS_ID_9P;
	default:                return 0;
	}
}

/* PCI class code (class << 16 | subclass << 8 | prog-if), for lspci. */
static uint32_t class_code(uint32_t virtio_id)
{
	switch (virtio_id) {
	case VIRTIO_ID_NET:     return 0x020000; /* Ethernet */
	case VIRTIO_ID_BLOCK:
	case VIRTIO_ID_SCSI:    return 0x010000; /* SCSI storage */
	case VIRTIO_ID_CONSOLE: return 0x078000; /* other communication */
	default:                return 0xff0000; /* unclassified */
	}
}

/* A vendor-specific capability pointing at a structure in the modern BAR
 * (struct virtio_pci_cap, plus notify_off_multiplier for NOTIFY_CFG). */
static int add_virtio_cap(struct pci_device *pci, uint8_t cfg_type, uint32_t offset, uint32_t length)
{
	uint8_t body[18] = { 0 };
	unsigned body_len = cfg_type == VIRTIO_PCI_CAP_NOTIFY_CFG ? 18 : 14;

	body[0] = body_len + 2; /* cap_len counts the id and next bytes too */
	body[1] = cfg_type;
	body[2] = VIRTIO_PCI_MODERN_BAR;
	bus_store_le(&body[6], 4, offset);
	bus_store_le(&body[10], 4, length);
	if (cfg_type == VIRTIO_PCI_CAP_NOTIFY_CFG)
		bus_store_le(&body[14], 4, VIRTIO_PCI_NOTIFY_MULTIPLIER);
	return pci_device_add_capability(pci, PCI_CAP_ID_VNDR, body, body_len);
}

static int add_modern_structures(struct virtio_pci *vp)
{
	const struct virtio_device_ops *ops = vp->dev->ops;
	int ret;

	ret = pci_device_set_bar(&vp->pci, VIRTIO_PCI_MODERN_BAR, VIRTIO_PCI_MODERN_BAR_SIZE, false, &vp_modern_bar_ops,
				 vp);
	if (ret < 0)
		return ret;
	if ((ret = add_virtio_cap(&vp->pci, VIRTIO_PCI_CAP_COMMON_CFG, VIRTIO_PCI_COMMON_OFFSET, COMMON_CFG_LENGTH)) < 0 ||
	    (ret = add_virtio_cap(&vp->pci, VIRTIO_PCI_CAP_NOTIFY_CFG, VIRTIO_PCI_NOTIFY_OFFSET,
				  ops->nr_queues * VIRTIO_PCI_NOTIFY_MULTIPLIER)) < 0 ||
	    (ret = add_virtio_cap(&vp->pci, VIRTIO_PCI_CAP_ISR_CFG, VIRTIO_PCI_ISR_OFFSET, 1)) < 0)
		return ret;
	/* Only devices with a config space have the (optional) device structure. */
	if (ops->config_size &&
	    (ret = add_virtio_cap(&vp->pci, VIRTIO_PCI_CAP_DEVICE_CFG, VIRTIO_PCI_DEVICE_OFFSET, ops->config_size)) < 0)
		return ret;
	return 0;
}

static int add_legacy_bar(struct virtio_pci *vp)
{
	uint64_t need = LEGACY_HEADER_SIZE_MSIX + vp->dev->ops->config_size;
	uint64_t size = 32;

	while (size < need)
		size *= 2; /* BARs are powers of two */
	return pci_device_set_bar(&vp->pci, VIRTIO_PCI_LEGACY_BAR, size, true, &vp_legacy_bar_ops, vp);
}

int virtio_pci_create(struct virtio_pci *vp, struct virtio_device *dev, enum virtio_pci_mode mode,
		      struct pci_host *host, const struct virtio_platform *plat)
{
	const struct virtio_device_ops *ops = dev->ops;
	uint64_t ring_features = VIRTIO_FEATURE(VIRTIO_RING_F_EVENT_IDX) | VIRTIO_FEATURE(VIRTIO_RING_F_INDIRECT_DESC);
	uint16_t device_id, subsys_id;
	uint8_t revision;
	int ret;

	if (ops->nr_queues == 0 || ops->nr_queues > VIRTIO_MAX_QUEUES ||
	    ops->config_size > VIRTIO_PCI_MAX_CONFIG)
		return -EINVAL;
	memset(vp, 0, sizeof(*vp));
	vp->dev = dev;
	vp->mode = mode;
	vp->plat = plat;
	pthread_mutex_init(&vp->notify_lock, NULL);
	pthread_mutex_init(&vp->msi_lock, NULL);
	for (unsigned v = 0; v < PCI_MSIX_MAX_VECTORS; v++)
		vp->msi_route[v].route = -1;

	if (mode == VIRTIO_PCI_MODERN) {
		if (ops->device_id > 0x3f)
			return -EINVAL; /* modern IDs stop at 0x107f */
		device_id = VIRTIO_PCI_MODERN_ID_BASE + ops->device_id;
		subsys_id = VIRTIO_PCI_SUBSYS_MODERN;
		revision = 1;
	} else {
		device_id = transitional_device_id(ops->device_id);
		if (!device_id)
			return -EINVAL;
		subsys_id = ops->device_id; /* legacy drivers identify the device by it */
		revision = 0;
	}
	pci_device_init(&vp->pci, dev->name, PCI_VENDOR_ID_REDHAT_QUMRANET, device_id, PCI_VENDOR_ID_REDHAT_QUMRANET,
			subsys_id, class_code(ops->device_id), revision);

	/* What the device offers: its own features plus the ring formats we
	 * support. A legacy interface shows only 32 bits and has no VERSION_1. */
	dev->offered = (ops->features ? ops->features(dev) : 0) | ring_features;
	if (mode == VIRTIO_PCI_LEGACY)
		dev->offered &= 0xffffffffull;
	else
		dev->offered |= VIRTIO_FEATURE(VIRTIO_F_VERSION_1) | VIRTIO_FEATURE(VIRTIO_F_RING_PACKED);

	if (mode != VIRTIO_PCI_MODERN && (ret = add_legacy_bar(vp)) < 0)
		return ret;
	ret = pci_device_set_bar(&vp->pci, VIRTIO_PCI_MSIX_BAR, VIRTIO_PCI_MSIX_BAR_SIZE, false, &msix_bar_ops, vp);
	if (ret < 0)
		return ret;
	if (mode != VIRTIO_PCI_LEGACY && (ret = add_modern_structures(vp)) < 0)
		return ret;
	vp->msix.deliver = vp_msix_deliver;
	vp->msix.changed = vp_msix_changed;
	vp->msix.ctx = vp;
	/* A vector per queue plus config; with more queues than the table
	 * holds, the driver shares vectors (Linux falls back by itself). */
	unsigned nr_vectors = ops->nr_queues + 1 < PCI_MSIX_MAX_VECTORS ? ops->nr_queues + 1 : PCI_MSIX_MAX_VECTORS;
	ret = pci_msix_init(&vp->pci, &vp->msix, nr_vectors, VIRTIO_PCI_MSIX_BAR, VIRTIO_PCI_MSIX_TABLE_OFFSET,
			    VIRTIO_PCI_MSIX_PBA_OFFSET);
	if (ret < 0)
		return ret;
	vp->pci.bar_changed = vp_bar_changed;
	vp->pci.opaque = vp;

	dev->transport = &vp_transport_ops;
	dev->transport_priv = vp;
	pthread_mutex_lock(&dev->lock);
	vp_reset(vp);
	pthread_mutex_unlock(&dev->lock);

	ret = pci_host_add_device(host, &vp->pci);
	if (ret < 0) {
		dev->transport = NULL;
		return ret;
	}
	log_debug(dev->name, "virtio-pci %s, device %04x, slot %u",
		  mode == VIRTIO_PCI_MODERN ? "modern" : mode == VIRTIO_PCI_TRANSITIONAL ? "transitional" : "legacy",
		  device_id, vp->pci.slot);
	return 0;
}

void virtio_pci_destroy(struct virtio_pci *vp)
{
	if (!vp->plat)
		return;
	pthread_mutex_lock(&vp->notify_lock);
	if (vp->modern_notify.registered)
		notify_bar_del(vp, &vp->modern_notify, false);
	if (vp->legacy_notify.registered)
		notify_bar_del(vp, &vp->legacy_notify, true);
	pthread_mutex_unlock(&vp->notify_lock);
}
