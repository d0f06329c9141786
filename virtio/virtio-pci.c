/* virtio PCI transport: decodes the modern capability structures and the
 * legacy I/O register block, and turns "queue used" into MSI-X or INTx.
 * Status and feature negotiation live in virtio/virtio-device.c. See
 * virtio-pci.h for the layout.
 *
 * The guest may access any register with any size in any order. A
 * register is served only when the access matches it exactly (offset and
 * width, as the spec requires of drivers); anything else reads as zero
 * and is ignored on write. Device config space takes any size. */
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

#define PCI_VENDOR_ID_REDHAT_QUMRANET 0x1af4  /* the virtio vendor ID */
#define VIRTIO_PCI_MODERN_ID_BASE     0x1040
#define VIRTIO_PCI_SUBSYS_MODERN      0x1100  /* spec: 0x40 or higher; QEMU's value */
#define LEGACY_HEADER_SIZE            20      /* up to the ISR; MSI-X adds 4 */
#define LEGACY_HEADER_SIZE_MSIX       24
#define MODERN_REGION_SIZE            0x1000  /* each structure owns 4 KiB of the BAR */
#define COMMON_CFG_LENGTH             (VIRTIO_PCI_COMMON_Q_RESET + 2)
#define VIRTIO_PCI_ISR_QUEUE          0x1     /* ISR bit 0 (bit 1 is VIRTIO_PCI_ISR_CONFIG) */

/* ---- little helpers ---- */

static struct virtio_pci *to_vp(struct virtio_device *dev)
{
	return dev->transport_priv;
}

/* The MSI-X enable bit (not the function mask) moves the legacy device
 * config from offset 20 to 24. */
static bool vp_msix_enabled(struct virtio_pci *vp)
{
	return pci_config_read(&vp->pci, vp->msix.cap_offset + PCI_MSIX_FLAGS, 2) & PCI_MSIX_FLAGS_ENABLE;
}

/* A vector the device cannot deliver reads back as NO_VECTOR, which is
 * how the driver learns it was refused. */
static uint16_t vp_checked_vector(struct virtio_pci *vp, uint16_t vector)
{
	return vector < vp->msix.nr_vectors ? vector : VIRTIO_MSI_NO_VECTOR;
}

static struct virtqueue *vp_selected_queue(struct virtio_pci *vp)
{
	return vp->queue_select < vp->dev->ops->nr_queues ? &vp->dev->vqs[vp->queue_select] : NULL;
}

/* ---- interrupts ---- */

/* INTx is a level: high while an ISR bit is set (the PCI code keeps the
 * pin quiet while MSI-X is on). */
static void vp_update_intx(struct virtio_pci *vp)
{
	bool level = vp->isr != 0;

	if (level != vp->intx) {
		vp->intx = level;
		pci_device_set_intx(&vp->pci, level);
	}
}

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

/* ---- registers shared by both interfaces ---- */

static void vp_reset(struct virtio_pci *vp)
{
	virtio_device_reset(vp->dev);
	vp->device_feature_select = 0;
	vp->driver_feature_select = 0;
	vp->queue_select = 0;
	vp->config_vector = VIRTIO_MSI_NO_VECTOR;
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
		vp->queue_vector[q] = VIRTIO_MSI_NO_VECTOR;
	vp->isr = 0;
	vp_update_intx(vp);
}

static void vp_write_status(struct virtio_pci *vp, uint8_t status)
{
	if (status == 0)
		vp_reset(vp);
	else
		virtio_device_set_status(vp->dev, status);
}

/* Reading ISR acknowledges the interrupt. */
static uint8_t vp_read_isr(struct virtio_pci *vp)
{
	uint8_t isr = vp->isr;

	vp->isr = 0;
	vp_update_intx(vp);
	return isr;
}

static void vp_config_read(struct virtio_pci *vp, uint64_t offset, uint8_t *data, unsigned len)
{
	const struct virtio_device_ops *ops = vp->dev->ops;

	memset(data, 0, len);
	if (ops->config_read && offset < ops->config_size && len <= ops->config_size - offset)
		ops->config_read(vp->dev, offset, data, len);
}

static void vp_config_write(struct virtio_pci *vp, uint64_t offset, const uint8_t *data, unsigned len)
{
	const struct virtio_device_ops *ops = vp->dev->ops;

	if (ops->config_write && offset < ops->config_size && len <= ops->config_size - offset)
		ops->config_write(vp->dev, offset, data, len);
}

/* ---- modern: common configuration structure ---- */

static unsigned common_field_size(uint64_t offset)
{
	switch (offset) {
	case VIRTIO_PCI_COMMON_DFSELECT:
	case VIRTIO_PCI_COMMON_DF:
	case VIRTIO_PCI_COMMON_GFSELECT:
	case VIRTIO_PCI_COMMON_GF:
	case VIRTIO_PCI_COMMON_Q_DESCLO:
	case VIRTIO_PCI_COMMON_Q_DESCHI:
	case VIRTIO_PCI_COMMON_Q_AVAILLO:
	case VIRTIO_PCI_COMMON_Q_AVAILHI:
	case VIRTIO_PCI_COMMON_Q_USEDLO:
	case VIRTIO_PCI_COMMON_Q_USEDHI:
		return 4;
	case VIRTIO_PCI_COMMON_MSIX:
	case VIRTIO_PCI_COMMON_NUMQ:
	case VIRTIO_PCI_COMMON_Q_SELECT:
	case VIRTIO_PCI_COMMON_Q_SIZE:
	case VIRTIO_PCI_COMMON_Q_MSIX:
	case VIRTIO_PCI_COMMON_Q_ENABLE:
	case VIRTIO_PCI_COMMON_Q_NOFF:
	case VIRTIO_PCI_COMMON_Q_NDATA:
	case VIRTIO_PCI_COMMON_Q_RESET:
		return 2;
	case VIRTIO_PCI_COMMON_STATUS:
	case VIRTIO_PCI_COMMON_CFGGENERATION:
		return 1;
	default:
		return 0;
	}
}

static uint32_t common_read(struct virtio_pci *vp, uint64_t offset)
{
	struct virtio_device *dev = vp->dev;
	struct virtqueue *vq = vp_selected_queue(vp);

	switch (offset) {
	case VIRTIO_PCI_COMMON_DFSELECT:
		return vp->device_feature_select;
	case VIRTIO_PCI_COMMON_DF:
		return virtio_device_offered_word(dev, vp->device_feature_select);
	case VIRTIO_PCI_COMMON_GFSELECT:
		return vp->driver_feature_select;
	case VIRTIO_PCI_COMMON_GF:
		return vp->driver_feature_select <= 1 ? (uint32_t)(dev->driver_features >> (32 * vp->driver_feature_select))
						      : 0;
	case VIRTIO_PCI_COMMON_MSIX:
		return vp->config_vector;
	case VIRTIO_PCI_COMMON_NUMQ:
		return dev->ops->nr_queues;
	case VIRTIO_PCI_COMMON_STATUS:
		return dev->status;
	case VIRTIO_PCI_COMMON_CFGGENERATION:
		return (uint8_t)dev->config_generation;
	case VIRTIO_PCI_COMMON_Q_SELECT:
		return vp->queue_select;
	}
	if (!vq)
		return 0; /* no such queue: size 0 says "unavailable" */
	switch (offset) {
	case VIRTIO_PCI_COMMON_Q_SIZE:
		return vq->size;
	case VIRTIO_PCI_COMMON_Q_MSIX:
		return vp->queue_vector[vp->queue_select];
	case VIRTIO_PCI_COMMON_Q_ENABLE:
		return vq->ready;
	case VIRTIO_PCI_COMMON_Q_NOFF:
		return vp->queue_select; /* slot q of the notify region */
	case VIRTIO_PCI_COMMON_Q_DESCLO:
		return (uint32_t)vq->desc_addr;
	case VIRTIO_PCI_COMMON_Q_DESCHI:
		return vq->desc_addr >> 32;
	case VIRTIO_PCI_COMMON_Q_AVAILLO:
		return (uint32_t)vq->avail_addr;
	case VIRTIO_PCI_COMMON_Q_AVAILHI:
		return vq->avail_addr >> 32;
	case VIRTIO_PCI_COMMON_Q_USEDLO:
		return (uint32_t)vq->used_addr;
	case VIRTIO_PCI_COMMON_Q_USEDHI:
		return vq->used_addr >> 32;
	default:
		return 0; /* queue_notify_data, queue_reset: features not offered */
	}
}

/* Replace the low or high half of a 64-bit ring address. */
static void set_half(uint64_t *addr, bool high, uint32_t value)
{
	if (high)
		*addr = (*addr & 0xffffffffull) | ((uint64_t)value << 32);
	else
		*addr = (*addr & ~0xffffffffull) | value;
}

static void common_write(struct virtio_pci *vp, uint64_t offset, uint32_t value)
{
	struct virtio_device *dev = vp->dev;
	struct virtqueue *vq = vp_selected_queue(vp);

	switch (offset) {
	case VIRTIO_PCI_COMMON_DFSELECT:
		vp->device_feature_select = value;
		return;
	case VIRTIO_PCI_COMMON_GFSELECT:
		vp->driver_feature_select = value;
		return;
	case VIRTIO_PCI_COMMON_GF:
		virtio_device_write_driver_features(dev, vp->driver_feature_select, value);
		return;
	case VIRTIO_PCI_COMMON_MSIX:
		vp->config_vector = vp_checked_vector(vp, value);
		return;
	case VIRTIO_PCI_COMMON_STATUS:
		vp_write_status(vp, value);
		return;
	case VIRTIO_PCI_COMMON_Q_SELECT:
		vp->queue_select = value;
		return;
	}
	if (!vq)
		return;
	if (offset == VIRTIO_PCI_COMMON_Q_MSIX) {
		vp->queue_vector[vp->queue_select] = vp_checked_vector(vp, value);
		return;
	}
	/* A live queue's configuration is frozen (the driver may not change
	 * it, and the engine relies on it). */
	if (vq->ready)
		return;
	switch (offset) {
	case VIRTIO_PCI_COMMON_Q_SIZE:
		vq->size = value; /* checked when the queue is enabled */
		break;
	case VIRTIO_PCI_COMMON_Q_ENABLE:
		/* Writing 0 is forbidden to drivers; ignore it. */
		if (value == 1)
			virtio_device_enable_queue(dev, vp->queue_select);
		break;
	case VIRTIO_PCI_COMMON_Q_DESCLO:
	case VIRTIO_PCI_COMMON_Q_DESCHI:
		set_half(&vq->desc_addr, offset == VIRTIO_PCI_COMMON_Q_DESCHI, value);
		break;
	case VIRTIO_PCI_COMMON_Q_AVAILLO:
	case VIRTIO_PCI_COMMON_Q_AVAILHI:
		set_half(&vq->avail_addr, offset == VIRTIO_PCI_COMMON_Q_AVAILHI, value);
		break;
	case VIRTIO_PCI_COMMON_Q_USEDLO:
	case VIRTIO_PCI_COMMON_Q_USEDHI:
		set_half(&vq->used_addr, offset == VIRTIO_PCI_COMMON_Q_USEDHI, value);
		break;
	}
}

/* ---- modern BAR: common, ISR, device config, notify ---- */

static void modern_read_locked(struct virtio_pci *vp, uint64_t offset, uint8_t *data, unsigned len)
{
	uint64_t region = offset / MODERN_REGION_SIZE * MODERN_REGION_SIZE;
	uint64_t off = offset - region;

	switch (region) {
	case VIRTIO_PCI_COMMON_OFFSET:
		if (len == 8) { /* two dword registers at once */
			modern_read_locked(vp, offset, data, 4);
			modern_read_locked(vp, offset + 4, data + 4, 4);
		} else if (common_field_size(off) == len) {
			bus_store_le(data, len, common_read(vp, off));
		}
		break;
	case VIRTIO_PCI_ISR_OFFSET:
		if (off == 0)
			data[0] = vp_read_isr(vp);
		break;
	case VIRTIO_PCI_DEVICE_OFFSET:
		vp_config_read(vp, off, data, len);
		break;
	}
}

static void modern_read(void *opaque, uint64_t offset, uint8_t *data, unsigned len)
{
	struct virtio_pci *vp = opaque;

	memset(data, 0, len);
	pthread_mutex_lock(&vp->dev->lock);
	modern_read_locked(vp, offset, data, len);
	pthread_mutex_unlock(&vp->dev->lock);
}

static void modern_write_locked(struct virtio_pci *vp, uint64_t offset, const uint8_t *data, unsigned len)
{
	uint64_t region = offset / MODERN_REGION_SIZE * MODERN_REGION_SIZE;
	uint64_t off = offset - region;

	switch (region) {
	case VIRTIO_PCI_COMMON_OFFSET:
		if (len == 8) {
			modern_write_locked(vp, offset, data, 4);
			modern_write_locked(vp, offset + 4, data + 4, 4);
		} else if (common_field_size(off) == len) {
			common_write(vp, off, bus_load_le(data, len));
		}
		break;
	case VIRTIO_PCI_DEVICE_OFFSET:
		vp_config_write(vp, off, data, len);
		break;
	}
}

static void modern_write(void *opaque, uint64_t offset, const uint8_t *data, unsigned len)
{
	struct virtio_pci *vp = opaque;

	/* A kick that was not caught by an ioeventfd: the slot says which
	 * queue (the value written is its index too, but the slot decides). */
	if (offset >= VIRTIO_PCI_NOTIFY_OFFSET && offset < VIRTIO_PCI_NOTIFY_OFFSET + MODERN_REGION_SIZE) {
		uint64_t off = offset - VIRTIO_PCI_NOTIFY_OFFSET;
		if (off % VIRTIO_PCI_NOTIFY_MULTIPLIER == 0)
			virtio_device_kick(vp->dev, off / VIRTIO_PCI_NOTIFY_MULTIPLIER);
		return;
	}
	pthread_mutex_lock(&vp->dev->lock);
	modern_write_locked(vp, offset, data, len);
	pthread_mutex_unlock(&vp->dev->lock);
}

static const struct bus_ops modern_bar_ops = {
	.read = modern_read,
	.write = modern_write,
};

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

/* ---- legacy I/O BAR ---- */

static unsigned legacy_header_size(struct virtio_pci *vp)
{
	return vp_msix_enabled(vp) ? LEGACY_HEADER_SIZE_MSIX : LEGACY_HEADER_SIZE;
}

static unsigned legacy_field_size(struct virtio_pci *vp, uint64_t offset)
{
	switch (offset) {
	case VIRTIO_PCI_HOST_FEATURES:
	case VIRTIO_PCI_GUEST_FEATURES:
	case VIRTIO_PCI_QUEUE_PFN:
		return 4;
	case VIRTIO_PCI_QUEUE_NUM:
	case VIRTIO_PCI_QUEUE_SEL:
	case VIRTIO_PCI_QUEUE_NOTIFY:
		return 2;
	case VIRTIO_PCI_STATUS:
	case VIRTIO_PCI_ISR:
		return 1;
	case VIRTIO_MSI_CONFIG_VECTOR:
	case VIRTIO_MSI_QUEUE_VECTOR:
		return vp_msix_enabled(vp) ? 2 : 0;
	default:
		return 0;
	}
}

static uint32_t legacy_read(struct virtio_pci *vp, uint64_t offset)
{
	struct virtio_device *dev = vp->dev;
	struct virtqueue *vq = vp_selected_queue(vp);

	switch (offset) {
	case VIRTIO_PCI_HOST_FEATURES:
		return virtio_device_offered_word(dev, 0);
	case VIRTIO_PCI_GUEST_FEATURES:
		return (uint32_t)dev->driver_features;
	case VIRTIO_PCI_QUEUE_PFN:
		return vq && vq->ready ? vq->desc_addr >> VIRTIO_PCI_QUEUE_ADDR_SHIFT : 0;
	case VIRTIO_PCI_QUEUE_NUM:
		return vq ? dev->ops->queue_max_size : 0; /* legacy queues have a fixed size */
	case VIRTIO_PCI_QUEUE_SEL:
		return vp->queue_select;
	case VIRTIO_PCI_STATUS:
		return dev->status;
	case VIRTIO_PCI_ISR:
		return vp_read_isr(vp);
	case VIRTIO_MSI_CONFIG_VECTOR:
		return vp->config_vector;
	case VIRTIO_MSI_QUEUE_VECTOR:
		return vq ? vp->queue_vector[vp->queue_select] : VIRTIO_MSI_NO_VECTOR;
	default:
		return 0;
	}
}

/* Legacy rings live at PFN << 12: descriptors, then the available ring,
 * then the used ring at the next 4 KiB boundary (VIRTIO_PCI_VRING_ALIGN). */
static void legacy_write_pfn(struct virtio_pci *vp, struct virtqueue *vq, uint32_t pfn)
{
	struct virtio_device *dev = vp->dev;
	unsigned q = vp->queue_select;

	if (pfn == 0) {
		virtio_device_disable_queue(dev, q);
		return;
	}
	if (vq->ready)
		return;
	vq->size = dev->ops->queue_max_size;
	vq->desc_addr = (uint64_t)pfn << VIRTIO_PCI_QUEUE_ADDR_SHIFT;
	vq->avail_addr = vq->desc_addr + vq_split_desc_bytes(vq->size);
	vq->used_addr = vq->avail_addr + vq_split_avail_bytes(vq->size);
	vq->used_addr = (vq->used_addr + VIRTIO_PCI_VRING_ALIGN - 1) & ~(uint64_t)(VIRTIO_PCI_VRING_ALIGN - 1);
	virtio_device_enable_queue(dev, q);
}

static void legacy_write(struct virtio_pci *vp, uint64_t offset, uint32_t value)
{
	struct virtqueue *vq = vp_selected_queue(vp);

	switch (offset) {
	case VIRTIO_PCI_GUEST_FEATURES:
		virtio_device_write_legacy_features(vp->dev, 0, value);
		break;
	case VIRTIO_PCI_QUEUE_PFN:
		if (vq)
			legacy_write_pfn(vp, vq, value);
		break;
	case VIRTIO_PCI_QUEUE_SEL:
		vp->queue_select = value;
		break;
	case VIRTIO_PCI_STATUS:
		vp_write_status(vp, value);
		break;
	case VIRTIO_MSI_CONFIG_VECTOR:
		vp->config_vector = vp_checked_vector(vp, value);
		break;
	case VIRTIO_MSI_QUEUE_VECTOR:
		if (vq)
			vp->queue_vector[vp->queue_select] = vp_checked_vector(vp, value);
		break;
	}
}

static void legacy_bar_read(void *opaque, uint64_t offset, uint8_t *data, unsigned len)
{
	struct virtio_pci *vp = opaque;
	unsigned header;

	memset(data, 0, len);
	pthread_mutex_lock(&vp->dev->lock);
	header = legacy_header_size(vp);
	if (offset >= header)
		vp_config_read(vp, offset - header, data, len);
	else if (legacy_field_size(vp, offset) == len)
		bus_store_le(data, len, legacy_read(vp, offset));
	pthread_mutex_unlock(&vp->dev->lock);
}

static void legacy_bar_write(void *opaque, uint64_t offset, const uint8_t *data, unsigned len)
{
	struct virtio_pci *vp = opaque;
	unsigned header;

	if (offset == VIRTIO_PCI_QUEUE_NOTIFY && len == 2) {
		virtio_device_kick(vp->dev, bus_load_le(data, len)); /* value = queue index */
		return;
	}
	pthread_mutex_lock(&vp->dev->lock);
	header = legacy_header_size(vp);
	if (offset >= header)
		vp_config_write(vp, offset - header, data, len);
	else if (legacy_field_size(vp, offset) == len)
		legacy_write(vp, offset, bus_load_le(data, len));
	pthread_mutex_unlock(&vp->dev->lock);
}

static const struct bus_ops legacy_bar_ops = {
	.read = legacy_bar_read,
	.write = legacy_bar_write,
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

	ret = pci_device_set_bar(&vp->pci, VIRTIO_PCI_MODERN_BAR, VIRTIO_PCI_MODERN_BAR_SIZE, false, &modern_bar_ops,
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
	return pci_device_set_bar(&vp->pci, VIRTIO_PCI_LEGACY_BAR, size, true, &legacy_bar_ops, vp);
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
