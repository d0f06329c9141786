/* A virtio device model as its transports see it. A device knows nothing
 * about PCI or MMIO: it offers features, a config space, some queues, and
 * serves chains when a queue is notified. The transport owns the status
 * register, feature negotiation and queue set-up, and gives the device a
 * way to raise its interrupt.
 *
 * The notification path, end to end:
 *   guest writes the queue's notify register
 *   -> (ioeventfd) the event loop thread, or (no ioeventfd) the vCPU's
 *      MMIO/PIO exit through the transport
 *   -> ops->queue_notify(dev, q)        [device lock held]
 *   -> device: vq_pop(), serve, vq_push()
 *   -> virtio_device_notify_used(dev, q) -> transport->notify_used()
 *   -> MSI-X message through an irqfd, or INTx / MMIO interrupt line
 */
#ifndef SKIFF_VIRTIO_DEVICE_H
#define SKIFF_VIRTIO_DEVICE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kvm/guest-mem.h"
#include "virtqueue/virtqueue.h"

#define VIRTIO_MAX_QUEUES 8

/* Feature bits every device may offer (the transport adds the ring features). */
#define VIRTIO_FEATURE(bit) (1ull << (bit))

struct virtio_device;

struct virtio_device_ops {
	const char *type;        /* "rng", for names like "virtio-rng0" */
	uint32_t device_id;      /* VIRTIO_ID_* */
	unsigned nr_queues;
	uint16_t queue_max_size; /* per queue */
	size_t config_size;      /* bytes of device-specific config space */

	/* Device-specific feature bits (the transport adds VERSION_1,
	 * RING_EVENT_IDX, INDIRECT_DESC, RING_PACKED as it supports them). */
	uint64_t (*features)(struct virtio_device *dev);
	/* Config space access; offset+len <= config_size (checked by the transport). */
	void (*config_read)(struct virtio_device *dev, size_t offset, void *data, size_t len);
	void (*config_write)(struct virtio_device *dev, size_t offset, const void *data, size_t len);
	/* The driver set DRIVER_OK: negotiated features are in dev->features.
	 * Return 0, or <0 to refuse (the transport sets DEVICE_NEEDS_RESET). */
	int (*activate)(struct virtio_device *dev);
	/* The driver kicked queue q (or the event loop saw its ioeventfd). */
	void (*queue_notify)(struct virtio_device *dev, unsigned q);
	/* Device reset by the driver: drop in-flight work, forget state. */
	void (*reset)(struct virtio_device *dev);
};

/* What the transport provides to the device. */
struct virtio_transport_ops {
	void (*notify_used)(struct virtio_device *dev, unsigned q); /* raise the queue's interrupt */
	void (*notify_config)(struct virtio_device *dev);           /* config changed interrupt */
	void (*needs_reset)(struct virtio_device *dev);             /* set DEVICE_NEEDS_RESET + config irq */
};

struct virtio_device {
	const struct virtio_device_ops *ops;
	void *priv;                 /* the device model's own state */
	char name[32];              /* "virtio-rng0" */
	const struct guest_mem *mem;
	pthread_mutex_t lock;       /* serializes the device against the transport */

	uint64_t features;          /* negotiated (driver-acked) features */
	struct virtqueue vqs[VIRTIO_MAX_QUEUES];

	const struct virtio_transport_ops *transport;
	void *transport_priv;
};

/* Called by a device after vq_push(): interrupt the driver if it wants one. */
void virtio_device_notify_used(struct virtio_device *dev, unsigned q);
/* Called by a device (or the engine via the device) on a broken queue. */
void virtio_device_needs_reset(struct virtio_device *dev);
/* Initialize the common part (names queues "NAME.qN", sets mem). */
void virtio_device_init(struct virtio_device *dev, const struct virtio_device_ops *ops, void *priv,
			const char *name, const struct guest_mem *mem);

#endif
