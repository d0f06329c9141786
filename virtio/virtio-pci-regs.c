/* The virtio PCI transport's register files: the modern common
 * configuration structure and modern BAR (common, ISR, device config,
 * notify), the legacy I/O register block, and the INTx line that
 * follows the ISR. The BAR layout is in virtio-pci-layout.h; the
 * transport that builds the function and places them is virtio-pci.c.
 *
 * The guest may access any register with any size in any order. A
 * register is served only when the access matches it exactly (offset and
 * width, as the spec requires of drivers); anything else reads as zero
 * and is ignored on write. Device config space takes any size. */
#include "virtio/virtio-pci-regs.h"

#include <errno.h>
#include <string.h>

#include <linux/pci_regs.h>
#include <linux/virtio_config.h>
#include <linux/virtio_pci.h>
#include <linux/virtio_ring.h>

#include "base/log.h"

/* ---- little helpers ---- */

/* The MSI-X enable bit (not the function mask) moves the legacy device
 * config from offset 20 to 24. */
bool vp_msix_enabled(struct virtio_pci *vp)
{
	return pci_config_read(&vp->pci, vp->msix.cap_offset + PCI_MSIX_FLAGS, 2) & PCI_MSIX_FLAGS_ENABLE;
}

void vp_update_intx(struct virtio_pci *vp)
{
	bool level = vp->isr != 0;

	if (level != vp->intx) {
		vp->intx = level;
		pci_device_set_intx(&vp->pci, level);
	}
}

/* A vector the device cannot deliver reads back as NO_VECTOR, which is
 * how the driver learns it was refused. */
uint16_t vp_checked_vector(struct virtio_pci *vp, uint16_t vector)
{
	return vector < vp->msix.nr_vectors ? vector : VIRTIO_MSI_NO_VECTOR;
}

struct virtqueue *vp_selected_queue(struct virtio_pci *vp)
{
	return vp->queue_select < vp->dev->ops->nr_queues ? &vp->dev->vqs[vp->queue_select] : NULL;
}

/* ---- registers shared by both interfaces ---- */

void vp_reset(struct virtio_pci *vp)
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

void vp_write_status(struct virtio_pci *vp, uint8_t status)
{
	if (status == 0)
		vp_reset(vp);
	else
		virtio_device_set_status(vp->dev, status);
}

/* Reading ISR acknowledges the interrupt. */
uint8_t vp_read_isr(struct virtio_pci *vp)
{
	uint8_t isr = vp->isr;

	vp->isr = 0;
	vp_update_intx(vp);
	return isr;
}

void vp_config_read(struct virtio_pci *vp, uint64_t offset, uint8_t *data, unsigned len)
{
	const struct virtio_device_ops *ops = vp->dev->ops;

	memset(data, 0, len);
	if (ops->config_read && offset < ops->config_size && len <= ops->config_size - offset)
		ops->config_read(vp->dev, offset, data, len);
}

void vp_config_write(struct virtio_pci *vp, uint64_t offset, const uint8_t *data, unsigned len)
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

const struct bus_ops vp_modern_bar_ops = {
	.read = modern_read,
	.write = modern_write,
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

const struct bus_ops vp_legacy_bar_ops = {
	.read = legacy_bar_read,
	.write = legacy_bar_write,
};
