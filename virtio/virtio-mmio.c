/* virtio-mmio transport, versions 1 and 2: register decoding and the
 * interrupt line. Status and feature negotiation live in
 * virtio/virtio-device.c. See virtio-mmio.h. */
#include "virtio/virtio-mmio.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>
#include <linux/virtio_ring.h>

#include "base/log.h"
#include "base/trace.h"

#define DEFAULT_PAGE_SIZE 4096  /* v1 until the driver says otherwise */
#define DEFAULT_ALIGN     4096

static bool is_power_of_two(uint64_t v)
{
	return v && !(v & (v - 1));
}

/* ---- interrupts ---- */

/* Level-triggered: high exactly while InterruptStatus has a bit set. */
static void vm_update_irq(struct virtio_mmio *vm)
{
	bool level = vm->interrupt_status != 0;

	if (level == vm->irq_level)
		return;
	vm->irq_level = level;
	if (level)
		TRACE(TRACE_IRQ, vm->dev->name, "irq gsi %u raised (interrupt status %#x)", vm->gsi, vm->interrupt_status);
	if (vm->plat && vm->plat->set_irq)
		vm->plat->set_irq(vm->plat->ctx, vm->gsi, level);
}

static void vm_notify_used(struct virtio_device *dev, unsigned q)
{
	struct virtio_mmio *vm = dev->transport_priv;

	vm->interrupt_status |= VIRTIO_MMIO_INT_VRING;
	vm_update_irq(vm);
}

static void vm_notify_config(struct virtio_device *dev)
{
	struct virtio_mmio *vm = dev->transport_priv;

	vm->interrupt_status |= VIRTIO_MMIO_INT_CONFIG;
	vm_update_irq(vm);
}

static const struct virtio_transport_ops vm_transport_ops = {
	.notify_used = vm_notify_used,
	.notify_config = vm_notify_config,
};

/* ---- registers ---- */

static struct virtqueue *vm_selected_queue(struct virtio_mmio *vm)
{
	return vm->queue_sel < vm->dev->ops->nr_queues ? &vm->dev->vqs[vm->queue_sel] : NULL;
}

static void vm_reset(struct virtio_mmio *vm)
{
	virtio_device_reset(vm->dev);
	vm->device_features_sel = 0;
	vm->driver_features_sel = 0;
	vm->queue_sel = 0;
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++) {
		vm->queue_align[q] = DEFAULT_ALIGN;
		vm->queue_pfn[q] = 0;
	}
	vm->interrupt_status = 0;
	vm_update_irq(vm);
}

static uint32_t vm_read_reg(struct virtio_mmio *vm, uint64_t offset)
{
	struct virtio_device *dev = vm->dev;
	struct virtqueue *vq = vm_selected_queue(vm);
	bool v2 = vm->version == 2;

	switch (offset) {
	case VIRTIO_MMIO_MAGIC_VALUE:
		return VIRTIO_MMIO_MAGIC;
	case VIRTIO_MMIO_VERSION:
		return vm->version;
	case VIRTIO_MMIO_DEVICE_ID:
		return dev->ops->device_id;
	case VIRTIO_MMIO_VENDOR_ID:
		return VIRTIO_MMIO_VENDOR;
	case VIRTIO_MMIO_DEVICE_FEATURES:
		return virtio_device_offered_word(dev, vm->device_features_sel);
	case VIRTIO_MMIO_QUEUE_NUM_MAX:
		return vq ? dev->ops->queue_max_size : 0; /* 0: no such queue */
	case VIRTIO_MMIO_QUEUE_NUM:
		return vq ? vq->size : 0;
	case VIRTIO_MMIO_QUEUE_PFN:
		return !v2 && vq ? vm->queue_pfn[vm->queue_sel] : 0;
	case VIRTIO_MMIO_QUEUE_READY:
		return v2 && vq ? vq->ready : 0;
	case VIRTIO_MMIO_INTERRUPT_STATUS:
		return vm->interrupt_status;
	case VIRTIO_MMIO_STATUS:
		return dev->status;
	case VIRTIO_MMIO_CONFIG_GENERATION:
		return v2 ? dev->config_generation : 0;
	case VIRTIO_MMIO_SHM_LEN_LOW:
	case VIRTIO_MMIO_SHM_LEN_HIGH:
	case VIRTIO_MMIO_SHM_BASE_LOW:
	case VIRTIO_MMIO_SHM_BASE_HIGH:
		return v2 ? 0xffffffff : 0; /* all-ones length: no shared memory region */
	}
	if (!vq || !v2)
		return 0;
	switch (offset) {
	case VIRTIO_MMIO_QUEUE_DESC_LOW:
		return (uint32_t)vq->desc_addr;
	case VIRTIO_MMIO_QUEUE_DESC_HIGH:
		return vq->desc_addr >> 32;
	case VIRTIO_MMIO_QUEUE_AVAIL_LOW:
		return (uint32_t)vq->avail_addr;
	case VIRTIO_MMIO_QUEUE_AVAIL_HIGH:
		return vq->avail_addr >> 32;
	case VIRTIO_MMIO_QUEUE_USED_LOW:
		return (uint32_t)vq->used_addr;
	case VIRTIO_MMIO_QUEUE_USED_HIGH:
		return vq->used_addr >> 32;
	default:
		return 0;
	}
}

/* Version 1: the rings are contiguous from PFN * GuestPageSize, the used
 * ring aligned to QueueAlign (Linux's vring_init() layout). */
static void vm_write_pfn(struct virtio_mmio *vm, struct virtqueue *vq, uint32_t pfn)
{
	struct virtio_device *dev = vm->dev;
	unsigned q = vm->queue_sel;
	uint64_t align = vm->queue_align[q];

	if (pfn == 0) {
		virtio_device_disable_queue(dev, q);
		vm->queue_pfn[q] = 0;
		return;
	}
	if (vq->ready)
		return;
	if (!is_power_of_two(vm->guest_page_size) || !is_power_of_two(align)) {
		log_debug(dev->name, "queue %u: page size %u / align %llu not a power of two", q, vm->guest_page_size,
			  (unsigned long long)align);
		virtio_device_needs_reset(dev);
		return;
	}
	vq->desc_addr = (uint64_t)pfn * vm->guest_page_size;
	vq->avail_addr = vq->desc_addr + vq_split_desc_bytes(vq->size);
	vq->used_addr = (vq->avail_addr + vq_split_avail_bytes(vq->size) + align - 1) & ~(align - 1);
	if (virtio_device_enable_queue(dev, q) == 0)
		vm->queue_pfn[q] = pfn;
}

static void set_half(uint64_t *addr, bool high, uint32_t value)
{
	if (high)
		*addr = (*addr & 0xffffffffull) | ((uint64_t)value << 32);
	else
		*addr = (*addr & ~0xffffffffull) | value;
}

/* Queue registers of version 2 (the queue is selected and not live). */
static void vm_write_queue_addr(struct virtqueue *vq, uint64_t offset, uint32_t value)
{
	switch (offset) {
	case VIRTIO_MMIO_QUEUE_DESC_LOW:
	case VIRTIO_MMIO_QUEUE_DESC_HIGH:
		set_half(&vq->desc_addr, offset == VIRTIO_MMIO_QUEUE_DESC_HIGH, value);
		break;
	case VIRTIO_MMIO_QUEUE_AVAIL_LOW:
	case VIRTIO_MMIO_QUEUE_AVAIL_HIGH:
		set_half(&vq->avail_addr, offset == VIRTIO_MMIO_QUEUE_AVAIL_HIGH, value);
		break;
	case VIRTIO_MMIO_QUEUE_USED_LOW:
	case VIRTIO_MMIO_QUEUE_USED_HIGH:
		set_half(&vq->used_addr, offset == VIRTIO_MMIO_QUEUE_USED_HIGH, value);
		break;
	}
}

static void vm_write_reg(struct virtio_mmio *vm, uint64_t offset, uint32_t value)
{
	struct virtio_device *dev = vm->dev;
	struct virtqueue *vq = vm_selected_queue(vm);
	bool v2 = vm->version == 2;

	switch (offset) {
	case VIRTIO_MMIO_DEVICE_FEATURES_SEL:
		vm->device_features_sel = value;
		return;
	case VIRTIO_MMIO_DRIVER_FEATURES_SEL:
		vm->driver_features_sel = value;
		return;
	case VIRTIO_MMIO_DRIVER_FEATURES:
		if (v2)
			virtio_device_write_driver_features(dev, vm->driver_features_sel, value);
		else
			virtio_device_write_legacy_features(dev, vm->driver_features_sel, value);
		return;
	case VIRTIO_MMIO_GUEST_PAGE_SIZE:
		if (!v2)
			vm->guest_page_size = value; /* checked when a PFN is written */
		return;
	case VIRTIO_MMIO_QUEUE_SEL:
		vm->queue_sel = value;
		return;
	case VIRTIO_MMIO_INTERRUPT_ACK:
		vm->interrupt_status &= ~value;
		vm_update_irq(vm);
		return;
	case VIRTIO_MMIO_STATUS:
		if ((value & 0xff) == 0)
			vm_reset(vm);
		else
			virtio_device_set_status(dev, value);
		return;
	}
	if (!vq)
		return;
	switch (offset) {
	case VIRTIO_MMIO_QUEUE_READY:
		if (!v2)
			break;
		if (value == 1)
			virtio_device_enable_queue(dev, vm->queue_sel);
		else if (value == 0)
			virtio_device_disable_queue(dev, vm->queue_sel);
		break;
	case VIRTIO_MMIO_QUEUE_PFN:
		if (!v2)
			vm_write_pfn(vm, vq, value);
		break;
	case VIRTIO_MMIO_QUEUE_ALIGN:
		if (!v2 && !vq->ready)
			vm->queue_align[vm->queue_sel] = value;
		break;
	case VIRTIO_MMIO_QUEUE_NUM:
		/* A live queue's configuration is frozen; checked when started. */
		if (!vq->ready)
			vq->size = value > 0xffff ? 0 : value;
		break;
	default:
		if (v2 && !vq->ready)
			vm_write_queue_addr(vq, offset, value);
		break;
	}
}

static void vm_read(void *opaque, uint64_t offset, uint8_t *data, unsigned len)
{
	struct virtio_mmio *vm = opaque;
	const struct virtio_device_ops *ops = vm->dev->ops;

	memset(data, 0, len);
	pthread_mutex_lock(&vm->dev->lock);
	if (offset >= VIRTIO_MMIO_CONFIG) {
		uint64_t off = offset - VIRTIO_MMIO_CONFIG;
		if (ops->config_read && off < ops->config_size && len <= ops->config_size - off)
			ops->config_read(vm->dev, off, data, len);
	} else if (len == 4 && offset % 4 == 0) {
		bus_store_le(data, 4, vm_read_reg(vm, offset));
	}
	pthread_mutex_unlock(&vm->dev->lock);
}

static void vm_write(void *opaque, uint64_t offset, const uint8_t *data, unsigned len)
{
	struct virtio_mmio *vm = opaque;
	const struct virtio_device_ops *ops = vm->dev->ops;

	/* A kick no ioeventfd caught: the value is the queue index. */
	if (offset == VIRTIO_MMIO_QUEUE_NOTIFY) {
		if (len == 4)
			virtio_device_kick(vm->dev, bus_load_le(data, 4));
		return;
	}
	pthread_mutex_lock(&vm->dev->lock);
	if (offset >= VIRTIO_MMIO_CONFIG) {
		uint64_t off = offset - VIRTIO_MMIO_CONFIG;
		if (ops->config_write && off < ops->config_size && len <= ops->config_size - off)
			ops->config_write(vm->dev, off, data, len);
	} else if (len == 4 && offset % 4 == 0) {
		vm_write_reg(vm, offset, bus_load_le(data, 4));
	}
	pthread_mutex_unlock(&vm->dev->lock);
}

static const struct bus_ops vm_bus_ops = {
	.read = vm_read,
	.write = vm_write,
};

/* ---- notifications ---- */

/* One notifier per queue, matching the queue index written: without the
 * match KVM could not tell which queue's kick eventfd to signal. */
static void vm_notify_add(struct virtio_mmio *vm)
{
	const struct virtio_platform *plat = vm->plat;

	for (unsigned q = 0; q < vm->dev->ops->nr_queues; q++) {
		struct virtio_mmio_notifier *n = &vm->notifier[q];

		/* On failure the write exits and vm_write() serves it. */
		n->registered = plat && plat->notify_add &&
				plat->notify_add(plat->ctx, false, vm->base + VIRTIO_MMIO_QUEUE_NOTIFY, 4, true, q,
						 vm->dev, q) == 0;
	}
}

/* ---- creation ---- */

int virtio_mmio_create(struct virtio_mmio *vm, struct virtio_device *dev, int version, uint64_t base, unsigned gsi,
		       struct bus *mmio_bus, const struct virtio_platform *plat)
{
	const struct virtio_device_ops *ops = dev->ops;
	int ret;

	if ((version != 1 && version != 2) || ops->nr_queues == 0 || ops->nr_queues > VIRTIO_MAX_QUEUES ||
	    ops->config_size > VIRTIO_MMIO_MAX_CONFIG)
		return -EINVAL;
	memset(vm, 0, sizeof(*vm));
	vm->dev = dev;
	vm->version = version;
	vm->base = base;
	vm->gsi = gsi;
	vm->bus = mmio_bus;
	vm->plat = plat;
	vm->guest_page_size = DEFAULT_PAGE_SIZE;

	/* The device's features plus the ring formats we support; only the
	 * modern version has VERSION_1 (and packed rings need it). */
	dev->offered = (ops->features ? ops->features(dev) : 0) | VIRTIO_FEATURE(VIRTIO_RING_F_EVENT_IDX) |
		       VIRTIO_FEATURE(VIRTIO_RING_F_INDIRECT_DESC);
	if (version == 2)
		dev->offered |= VIRTIO_FEATURE(VIRTIO_F_VERSION_1) | VIRTIO_FEATURE(VIRTIO_F_RING_PACKED);
	else
		dev->offered &= ~(VIRTIO_FEATURE(VIRTIO_F_VERSION_1) | VIRTIO_FEATURE(VIRTIO_F_RING_PACKED));

	dev->transport = &vm_transport_ops;
	dev->transport_priv = vm;
	pthread_mutex_lock(&dev->lock);
	vm_reset(vm);
	pthread_mutex_unlock(&dev->lock);

	ret = bus_register(mmio_bus, base, VIRTIO_MMIO_SIZE, &vm_bus_ops, vm, dev->name);
	if (ret < 0) {
		dev->transport = NULL;
		return ret;
	}
	vm_notify_add(vm);
	log_debug(dev->name, "virtio-mmio v%d at %#llx, GSI %u", version, (unsigned long long)base, gsi);
	return 0;
}

void virtio_mmio_destroy(struct virtio_mmio *vm)
{
	const struct virtio_platform *plat = vm->plat;

	for (unsigned q = 0; q < vm->dev->ops->nr_queues; q++) {
		struct virtio_mmio_notifier *n = &vm->notifier[q];

		if (n->registered && plat->notify_del)
			plat->notify_del(plat->ctx, false, vm->base + VIRTIO_MMIO_QUEUE_NOTIFY, 4, true, q);
		n->registered = false;
	}
	bus_unregister(vm->bus, vm->base);
}

int virtio_mmio_cmdline(const struct virtio_mmio *vm, char *buf, size_t len)
{
	return snprintf(buf, len, "virtio_mmio.device=0x%x@0x%llx:%u", VIRTIO_MMIO_SIZE, (unsigned long long)vm->base,
			vm->gsi);
}
