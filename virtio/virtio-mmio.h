/* virtio over MMIO (VIRTIO 1.x section 4.2): a virtio device as a block of
 * 32-bit registers at a fixed guest physical address, with one level
 * interrupt line. No discovery protocol: the guest learns base and GSI
 * from the kernel command line ("virtio_mmio.device=0x200@0xd0000000:5",
 * see virtio_mmio_cmdline()), a device tree or ACPI.
 *
 *   version 2 (modern): QueueReady and 64-bit queue addresses in
 *             QueueDesc/Driver/Device Low/High; VIRTIO_F_VERSION_1 required.
 *   version 1 (legacy): GuestPageSize, QueueAlign and QueuePFN; the rings
 *             lie at PFN * GuestPageSize: descriptors, available ring, and
 *             the used ring at the next QueueAlign boundary.
 *
 * Registers are 32 bits wide and must be accessed so (other widths read 0
 * and are ignored); the device config space at 0x100 takes any width.
 * Kicks (QueueNotify, 0x50) go to the platform as one data-matched
 * notifier per queue. The interrupt line is high while InterruptStatus
 * is non-zero: bit 0 used buffers, bit 1 config change.
 */
#ifndef SKIFF_VIRTIO_MMIO_H
#define SKIFF_VIRTIO_MMIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bus/bus.h"
#include "virtio/platform.h"
#include "virtio/virtio-device.h"

#define VIRTIO_MMIO_SIZE        0x200       /* registers + 256 bytes of config */
#define VIRTIO_MMIO_MAGIC       0x74726976  /* "virt" */
#define VIRTIO_MMIO_VENDOR      0x46494b53  /* "SKIF" */
#define VIRTIO_MMIO_MAX_CONFIG  (VIRTIO_MMIO_SIZE - 0x100)

struct virtio_mmio;

struct virtio_mmio_notifier {
	bool registered;  /* notify_add() succeeded: must notify_del() */
};

struct virtio_mmio {
	struct virtio_device *dev;
	int version;                 /* 1 (legacy) or 2 */
	uint64_t base;
	unsigned gsi;
	struct bus *bus;
	const struct virtio_platform *plat;

	/* Registers (guarded by dev->lock). */
	uint32_t device_features_sel, driver_features_sel;
	uint32_t queue_sel;
	uint32_t interrupt_status;
	bool irq_level;              /* what we drive on the line */
	uint32_t guest_page_size;    /* v1; survives device reset (Linux sets it once) */
	uint32_t queue_align[VIRTIO_MAX_QUEUES]; /* v1 */
	uint32_t queue_pfn[VIRTIO_MAX_QUEUES];   /* v1, as written */

	struct virtio_mmio_notifier notifier[VIRTIO_MAX_QUEUES];
};

/* Put dev (set up with virtio_device_init()) at [base, base +
 * VIRTIO_MMIO_SIZE) of mmio_bus, interrupting on gsi through plat. 0,
 * -EINVAL (version not 1 or 2, too many queues or too much config), or
 * the error from bus_register(). */
int virtio_mmio_create(struct virtio_mmio *vm, struct virtio_device *dev, int version, uint64_t base, unsigned gsi,
		       struct bus *mmio_bus, const struct virtio_platform *plat);
/* Unregister from the bus and the platform. */
void virtio_mmio_destroy(struct virtio_mmio *vm);

/* The Linux command-line word that declares this device
 * (CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES). Returns snprintf's result. */
int virtio_mmio_cmdline(const struct virtio_mmio *vm, char *buf, size_t len);

#endif
