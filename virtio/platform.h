/* What a virtio transport needs from the machine: fast notifications and
 * interrupts. The machine implements these with KVM (ioeventfd + an event
 * loop thread, irqfd + GSI routing, KVM_IRQ_LINE); unit tests implement
 * them with plain functions. Transports never call KVM themselves. */
#ifndef SKIFF_VIRTIO_PLATFORM_H
#define SKIFF_VIRTIO_PLATFORM_H

#include <stdbool.h>
#include <stdint.h>

struct virtio_device;

struct virtio_platform {
	/* Kick queue q of dev (as virtio_device_kick() would) whenever the
	 * guest writes to [addr, addr+len) (in port space if pio), optionally
	 * only when the value written equals data. Returns 0 when the write
	 * will no longer cause a vCPU exit (KVM signals the queue's kick
	 * eventfd), or <0 when it could not be set up: the transport then
	 * serves the write from the exit as usual. A transport must handle
	 * the write from an exit correctly in both cases. */
	int (*notify_add)(void *ctx, bool pio, uint64_t addr, unsigned len, bool datamatch, uint64_t data,
			  struct virtio_device *dev, unsigned q);
	void (*notify_del)(void *ctx, bool pio, uint64_t addr, unsigned len, bool datamatch, uint64_t data);
	/* Drive an IOAPIC interrupt line (INTx, virtio-mmio). */
	void (*set_irq)(void *ctx, unsigned gsi, int level);
	/* MSI routes, one per MSI-X vector: point route at (address, data)
	 * (route < 0: a new one); returns the route or -errno. Only a changed
	 * message costs anything. */
	int (*msi_route_set)(void *ctx, int route, uint64_t address, uint32_t data);
	/* Send the route's message; any thread, no lock. */
	void (*msi_route_fire)(void *ctx, int route);
	void *ctx;
};

#endif
