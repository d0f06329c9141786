/* The virtio devices of a machine, as asked for with --device: each one a
 * device model on a transport (virtio-pci in one of three modes, or
 * virtio-mmio v2/v1), plus what they share: the PCI host bridge, the
 * event loop that serves ioeventfd kicks, and MSI routing. */
#ifndef SKIFF_VIRTIO_DEVICES_H
#define SKIFF_VIRTIO_DEVICES_H

#include <stdbool.h>

#include "bus/pci.h"
#include "bus/virtio-mmio.h"
#include "bus/virtio-pci.h"
#include "devices/virtio-rng.h"
#include "kvm/irq-routing.h"
#include "kvm/kvm.h"
#include "kvm/x86/acpi.h"
#include "vmm/event-loop.h"
#include "vmm/options.h"
#include "vmm/virtio-platform.h"

/* IOAPIC pins for virtio-mmio devices, one each: the pure IOAPIC pins
 * 20-23 first (16-19 carry PCI INTx), then ISA IRQs no legacy device uses. */
#define VIRTIO_MMIO_MAX_DEVICES 9

struct virtio_slot {
	const struct device_spec *spec;
	bool on_pci;
	union {
		struct virtio_rng rng;
	} model;
	union {
		struct virtio_pci pci;
		struct virtio_mmio mmio;
	} transport;
};

struct virtio_devices {
	struct kvm_vm *vm;
	struct event_loop loop;
	struct irq_routing routing;
	struct kvm_platform platform;
	bool have_pci;
	struct pci_host pci;
	unsigned nr_slots, nr_mmio;
	struct virtio_slot slot[OPTIONS_MAX_DEVICES];
	struct acpi_virtio_mmio mmio_acpi[VIRTIO_MMIO_MAX_DEVICES];
};

/* Create every --device on its transport. err gets one line on failure. */
__attribute__((warn_unused_result)) int virtio_devices_create(struct virtio_devices *vd, struct kvm_vm *vm,
							      struct bus *pio, struct bus *mmio,
							      const struct options *opts, char *err, size_t errlen);
/* Describe them in the ACPI configuration (PCI host bridge, LNRO0005 devices). */
void virtio_devices_describe(const struct virtio_devices *vd, struct acpi_config *acpi);
int virtio_devices_start(struct virtio_devices *vd);
void virtio_devices_stop(struct virtio_devices *vd);
void virtio_devices_destroy(struct virtio_devices *vd);

#endif
