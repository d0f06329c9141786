/* Building the --device list into device models on transports. See
 * virtio-devices.h. Device types come from the table in
 * devices/device-types.c: nothing here names one. */
#include "vmm/virtio-devices.h"
#include "kvm/x86/layout.h"
#include "base/log.h"

#include <errno.h>
#include <stddef.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const unsigned mmio_gsis[VIRTIO_MMIO_MAX_DEVICES] = { 20, 21, 22, 23, 10, 11, 5, 6, 7 };

static void pci_set_irq(void *ctx, unsigned gsi, int level)
{
	struct virtio_devices *vd = ctx;
	kvm_vm_irq_line(vd->vm, gsi, level);
}

/* "virtio-rng1": the type's name and how many of that type came before. */
static void slot_name(struct virtio_devices *vd, struct virtio_slot *s)
{
	unsigned index = 0;

	for (unsigned i = 0; i < vd->nr_slots; i++)
		index += vd->slot[i].spec->type == s->spec->type;
	snprintf(s->name, sizeof(s->name), "virtio-%s%u", s->spec->type->name, index);
}

static enum reactor_result slot_timer(void *opaque, uint32_t events, unsigned budget)
{
	struct virtio_slot *s = opaque;

	s->spec->type->timer(s->state);
	return REACTOR_DONE;
}

/* The device model: allocate, build, give its queues kick eventfds, and
 * start its timer if the type has one. */
static int model_create(struct virtio_devices *vd, struct virtio_slot *s, char *err, size_t errlen)
{
	const struct device_type *type = s->spec->type;
	int ret;

	s->timer = -1;
	s->state = calloc(1, type->state_size);
	if (!s->state)
		return -ENOMEM;
	char why[200] = "";

	s->vdev = type->create(s->state, s->spec->config.bytes, s->name, &vd->vm->mem, vd->reactor, why, sizeof(why));
	if (!s->vdev) {
		snprintf(err, errlen, "--device %s: %s", type->name, why[0] ? why : "cannot create the device");
		return -EINVAL;
	}
	if ((ret = kvm_platform_attach_queues(&vd->platform, s->vdev)) < 0) {
		snprintf(err, errlen, "%s: cannot set up queue notifications: %s", s->name, strerror(-ret));
		return ret;
	}
	unsigned period = type->timer_ms ? type->timer_ms(s->spec->config.bytes) : 0;
	if (period && (s->timer = reactor_add_timer(vd->reactor, period, slot_timer, s)) < 0) {
		ret = s->timer;
		snprintf(err, errlen, "%s: cannot start its timer: %s", s->name, strerror(-ret));
		return ret;
	}
	return 0;
}

static int transport_create(struct virtio_devices *vd, struct virtio_slot *s, struct bus *mmio, char *err,
			    size_t errlen)
{
	const struct virtio_platform *plat = &vd->platform.ops;
	enum device_transport transport = s->spec->transport;
	const char *tname = device_transport_name(transport);
	const char *type = s->spec->type->name;
	int ret;

	if (device_transport_is_pci(transport)) {
		enum virtio_pci_mode mode = transport == TRANSPORT_PCI	      ? VIRTIO_PCI_TRANSITIONAL :
					    transport == TRANSPORT_PCI_LEGACY ? VIRTIO_PCI_LEGACY :
										VIRTIO_PCI_MODERN;
		s->on_pci = true;
		ret = virtio_pci_create(&s->transport.pci, s->vdev, mode, &vd->pci, plat);
		if (ret == -ENOSPC)
			snprintf(err, errlen, "--device %s,transport=%s: too many PCI devices (the bus has %d slots)",
				 type, tname, PCI_MAX_SLOTS - 1);
		else if (ret < 0)
			snprintf(err, errlen, "--device %s,transport=%s: %s", type, tname, strerror(-ret));
		return ret;
	}
	if (vd->nr_mmio == VIRTIO_MMIO_MAX_DEVICES) {
		snprintf(err, errlen, "--device %s,transport=%s: too many virtio-mmio devices (at most %d)", type, tname,
			 VIRTIO_MMIO_MAX_DEVICES);
		return -ENOSPC;
	}
	uint64_t base = LAYOUT_VIRTIO_MMIO + vd->nr_mmio * LAYOUT_VIRTIO_MMIO_SLOT;
	unsigned gsi = mmio_gsis[vd->nr_mmio];
	ret = virtio_mmio_create(&s->transport.mmio, s->vdev, transport == TRANSPORT_MMIO ? 2 : 1, base, gsi, mmio,
				 plat);
	if (ret < 0) {
		snprintf(err, errlen, "--device %s,transport=%s at %#llx: %s", type, tname, (unsigned long long)base,
			 strerror(-ret));
		return ret;
	}
	vd->mmio_acpi[vd->nr_mmio++] = (struct acpi_virtio_mmio){ .base = base, .size = VIRTIO_MMIO_SIZE, .gsi = gsi };
	return 0;
}

/* The shared parts: MSI routing, the KVM platform, and the PCI
 * host bridge -- always there: Linux probes configuration space at boot
 * and says "PCI: Fatal: No config space access function found" without it. */
static int shared_create(struct virtio_devices *vd, struct kvm_vm *vm, struct bus *pio, struct bus *mmio, char *err,
			 size_t errlen)
{
	struct kvm_vm_ioctl kvm = { .ioctl = kvm_vm_ioctl_real, .ctx = vm };
	int ret;

	if ((ret = irq_routing_init(&vd->routing, &kvm)) < 0)
		goto fail;
	vd->routing_ready = true;
	kvm_platform_init(&vd->platform, &kvm, kvm_vm_check_extension(vm, KVM_CAP_IOEVENTFD) > 0, vd->reactor,
			  &vd->routing);
	if ((ret = pci_host_init(&vd->pci, pio, mmio, pci_set_irq, vd)) < 0) {
		snprintf(err, errlen, "cannot create the PCI host bridge: %s", strerror(-ret));
		return ret;
	}
	return 0;
fail:
	snprintf(err, errlen, "cannot set up device notifications: %s", strerror(-ret));
	return ret;
}

int virtio_devices_create(struct virtio_devices *vd, struct kvm_vm *vm, struct reactor *reactor, struct bus *pio,
			  struct bus *mmio, const struct options *opts, char *err, size_t errlen)
{
	int ret;

	/* Clear all but the slots this machine will not use: 32 slots of
	 * ~15 KiB each, whose pages then stay untouched. */
	memset(vd, 0, offsetof(struct virtio_devices, slot) + opts->nr_devices * sizeof(vd->slot[0]));
	vd->vm = vm;
	vd->reactor = reactor;
	if ((ret = shared_create(vd, vm, pio, mmio, err, errlen)) < 0)
		return ret;
	for (unsigned i = 0; i < opts->nr_devices; i++) {
		struct virtio_slot *s = &vd->slot[vd->nr_slots];

		s->spec = &opts->devices[i];
		slot_name(vd, s);
		vd->nr_slots++; /* from here destroy cleans it up */
		if ((ret = model_create(vd, s, err, errlen)) < 0)
			return ret;
		if ((ret = transport_create(vd, s, mmio, err, errlen)) < 0)
			return ret;
		s->has_transport = true;
		log_debug(s->name, "on %s", device_transport_name(s->spec->transport));
	}
	return 0;
}

void virtio_devices_describe(const struct virtio_devices *vd, struct acpi_config *acpi)
{
	acpi->nr_virtio_mmio = vd->nr_mmio;
	memcpy(acpi->virtio_mmio, vd->mmio_acpi, vd->nr_mmio * sizeof(vd->mmio_acpi[0]));
	acpi->pci = (struct acpi_pci){ .enabled = true, .ecam = true, .io_base = PCI_IO_WINDOW_BASE,
				       .io_size = PCI_IO_WINDOW_SIZE, .intx_gsi_base = PCI_INTX_GSI_BASE };
}

void virtio_devices_set_stop_hook(struct virtio_devices *vd, struct stop_hook hook)
{
	for (unsigned i = 0; i < vd->nr_slots; i++)
		if (vd->slot[i].spec->type->set_stop && vd->slot[i].vdev)
			vd->slot[i].spec->type->set_stop(vd->slot[i].state, hook);
}

int virtio_devices_start(struct virtio_devices *vd)
{
	int ret = 0;

	for (unsigned i = 0; i < vd->nr_slots && ret == 0; i++)
		if (vd->slot[i].spec->type->start)
			ret = vd->slot[i].spec->type->start(vd->slot[i].state);
	return ret;
}

void virtio_devices_destroy(struct virtio_devices *vd)
{
	for (unsigned i = 0; i < vd->nr_slots; i++) {
		struct virtio_slot *s = &vd->slot[i];

		if (s->timer >= 0)
			reactor_remove(vd->reactor, s->timer);
		if (s->has_transport && s->on_pci)
			virtio_pci_destroy(&s->transport.pci);
		else if (s->has_transport)
			virtio_mmio_destroy(&s->transport.mmio);
	}
	kvm_platform_destroy(&vd->platform);
	for (unsigned i = 0; i < vd->nr_slots; i++) {
		struct virtio_slot *s = &vd->slot[i];

		if (s->state && s->spec->type->destroy)
			s->spec->type->destroy(s->state);
		free(s->state);
		s->state = NULL;
	}
	vd->nr_slots = 0;
	if (vd->routing_ready)
		irq_routing_destroy(&vd->routing);
	vd->routing_ready = false;
}
