/* The virtio devices of a machine, as asked for with --device: each one a
 * device model (from the device-type table, devices/device-types.c) on a
 * transport (virtio-pci in one of three modes, or virtio-mmio v2/v1),
 * plus what they share: the PCI host bridge (always present, so the guest
 * finds configuration space even with no PCI device), the reactor that
 * serves queue kicks and timers, and MSI routing.
 *
 * Threads and locks
 * -----------------
 * Threads:
 *  - vCPU threads (kvm/vcpu.c): run KVM_RUN and serve exits: register
 *    accesses of the transports, PCI config space, legacy devices. A
 *    queue kick that arrives as an exit only signals the queue's kick
 *    eventfd (virtio_device_kick): device code never runs on a vCPU.
 *  - the reactor thread (base/reactor.c, "reactor"): every kick eventfd
 *    (signalled by KVM's ioeventfd or by a vCPU), device timers, and any
 *    fd a device registers (TAP, sockets, the slirp hand-over eventfd, a
 *    disk's io_uring: its completions, devices/block-engine-uring.c).
 *    Each handler gets a budget per wake-up.
 *  - the block backend's worker threads (devices/block-engine-pool.c):
 *    without io_uring they do the I/O and complete the requests; beside
 *    it, discards and write-zeroes.
 *  - per-device I/O threads, where a device needs one (blocking file
 *    I/O): created and joined by the device; they finish requests with
 *    virtio_request_complete(). virtio-net's backend=user runs libslirp's
 *    poll loop on its own thread ("slirp"); it never takes dev->lock and
 *    hands frames over through a queue and an eventfd the reactor watches.
 *  - the main thread: set-up, then waits for the vCPUs; tear-down.
 *
 * Locks, outermost first (never take an earlier one while holding a later one):
 *  1. bus->lock (bus/bus.c, a rwlock read-held while an exit is dispatched);
 *  2. dev->lock, one per virtio device: transport registers, queues,
 *     device state. Taken by vCPUs (register accesses), the reactor
 *     (virtio_device_service), I/O threads (virtio_request_complete).
 *     A device reset waits on dev->quiesced with it released.
 *  3. vp->notify_lock (virtio-pci: which notify addresses are registered)
 *     and vp->msi_lock (virtio-pci: MSI route per vector);
 *  4. pci host->lock (config space, BARs, MSI-X table): taken and
 *     released inside pci_* calls; its callbacks run without it;
 *  5. platform->notifier_lock (the ioeventfd table), irq_routing->lock
 *     (the GSI routing copy), reactor->lock (the source table): leaves,
 *     nothing is called with them held but the kernel.
 * A device's own locks nest inside dev->lock and are never held across
 * virtio_request_complete() (e.g. the slirp backend's lock, taken by the
 * reactor under dev->lock for tx and rx).
 */
#ifndef SKIFF_VIRTIO_DEVICES_H
#define SKIFF_VIRTIO_DEVICES_H

#include <stdbool.h>

#include "bus/pci.h"
#include "virtio/virtio-mmio.h"
#include "virtio/virtio-pci.h"
#include "devices/device-types.h"
#include "kvm/irq-routing.h"
#include "kvm/kvm.h"
#include "kvm/x86/acpi.h"
#include "vmm/options.h"
#include "base/reactor.h"
#include "virtio/kvm-platform.h"

/* IOAPIC pins for virtio-mmio devices, one each: the pure IOAPIC pins
 * 20-23 first (16-19 carry PCI INTx), then ISA IRQs no legacy device uses. */
#define VIRTIO_MMIO_MAX_DEVICES 9

struct virtio_slot {
	const struct device_spec *spec;
	char name[32];              /* "virtio-rng1": type name + per-type index */
	void *state;                /* the device model, type->state_size bytes */
	struct virtio_device *vdev;
	int timer;                  /* reactor source of the type's timer, or -1 */
	bool on_pci;
	bool has_transport;         /* created: destroy must undo it */
	union {
		struct virtio_pci pci;
		struct virtio_mmio mmio;
	} transport;
};

struct virtio_devices {
	struct kvm_vm *vm;
	struct reactor *reactor;    /* the machine's */
	struct irq_routing routing;
	struct kvm_platform platform;
	struct pci_host pci;
	bool routing_ready;
	unsigned nr_slots, nr_mmio;
	struct acpi_virtio_mmio mmio_acpi[VIRTIO_MMIO_MAX_DEVICES];
	struct virtio_slot slot[OPTIONS_MAX_DEVICES]; /* last: only those in use are cleared */
};

/* Create the PCI host bridge and every --device on its transport. err
 * gets one line on failure. */
__attribute__((warn_unused_result)) int virtio_devices_create(struct virtio_devices *vd, struct kvm_vm *vm,
							      struct reactor *reactor, struct bus *pio, struct bus *mmio,
							      const struct options *opts, char *err, size_t errlen);
/* Describe them in the ACPI configuration (PCI host bridge, LNRO0005 devices). */
void virtio_devices_describe(const struct virtio_devices *vd, struct acpi_config *acpi);
/* Hand the machine's stop request to the devices that want it. */
void virtio_devices_set_stop_hook(struct virtio_devices *vd, struct stop_hook hook);
/* The device types' own threads (after the machine's reactor started). */
int virtio_devices_start(struct virtio_devices *vd);
void virtio_devices_destroy(struct virtio_devices *vd);

#endif
