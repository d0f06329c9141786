/* Building the --device list into device models on transports. See
 * virtio-devices.h. The machine core calls only the functions below and
 * never names a device type: adding a device type means a constructor
 * here and nothing else in vmm/. */
#include "vmm/virtio-devices.h"
#include "kvm/x86/layout.h"
#include "vmm/log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static const unsigned mmio_gsis[VIRTIO_MMIO_MAX_DEVICES] = { 20, 21, 22, 23, 10, 11, 5, 6, 7 };

static void pci_set_irq(void *ctx, unsigned gsi, int level)
{
	struct virtio_devices *vd = ctx;
	kvm_vm_irq_line(vd->vm, gsi, level);
}

/* Device models: construct one and return its virtio_device. */
static struct virtio_device *model_create(struct virtio_devices *vd, struct virtio_slot *s)
{
	switch (s->spec->type) {
	case DEVICE_RNG:
		virtio_rng_init(&s->model.rng, &vd->vm->mem, s->spec->rate);
		return &s->model.rng.vdev;
	}
	return NULL;
}

/* Rate-limited devices need a periodic nudge (see virtio_rng_poll). */
static void virtio_devices_tick(void *opaque)
{
	struct virtio_devices *vd = opaque;
	for (unsigned i = 0; i < vd->nr_slots; i++)
		if (vd->slot[i].spec->type == DEVICE_RNG && vd->slot[i].spec->rate)
			virtio_rng_poll(&vd->slot[i].model.rng);
}

static int transport_create(struct virtio_devices *vd, struct virtio_slot *s, struct virtio_device *dev,
			    struct bus *mmio, char *err, size_t errlen)
{
	const struct virtio_platform *plat = &vd->platform.ops;
	const char *tname = device_transport_name(s->spec->transport);
	int ret;

	switch (s->spec->transport) {
	case TRANSPORT_PCI:
	case TRANSPORT_PCI_LEGACY:
	case TRANSPORT_PCI_MODERN: {
		enum virtio_pci_mode mode = s->spec->transport == TRANSPORT_PCI	       ? VIRTIO_PCI_TRANSITIONAL :
					    s->spec->transport == TRANSPORT_PCI_LEGACY ? VIRTIO_PCI_LEGACY :
											 VIRTIO_PCI_MODERN;
		s->on_pci = true;
		ret = virtio_pci_create(&s->transport.pci, dev, mode, &vd->pci, plat);
		if (ret == -ENOSPC)
			snprintf(err, errlen, "--device %s,transport=%s: too many PCI devices (the bus has %d slots)",
				 device_type_name(s->spec->type), tname, PCI_MAX_SLOTS - 1);
		else if (ret < 0)
			snprintf(err, errlen, "--device %s,transport=%s: %s", device_type_name(s->spec->type), tname,
				 strerror(-ret));
		return ret;
	}
	case TRANSPORT_MMIO:
	case TRANSPORT_MMIO_LEGACY: {
		if (vd->nr_mmio == VIRTIO_MMIO_MAX_DEVICES) {
			snprintf(err, errlen, "--device %s,transport=%s: too many virtio-mmio devices (at most %d)",
				 device_type_name(s->spec->type), tname, VIRTIO_MMIO_MAX_DEVICES);
			return -ENOSPC;
		}
		uint64_t base = LAYOUT_VIRTIO_MMIO + vd->nr_mmio * LAYOUT_VIRTIO_MMIO_SLOT;
		unsigned gsi = mmio_gsis[vd->nr_mmio];
		ret = virtio_mmio_create(&s->transport.mmio, dev, s->spec->transport == TRANSPORT_MMIO ? 2 : 1, base, gsi,
					 mmio, plat);
		if (ret < 0) {
			snprintf(err, errlen, "--device %s,transport=%s at %#llx: %s", device_type_name(s->spec->type),
				 tname, (unsigned long long)base, strerror(-ret));
			return ret;
		}
		vd->mmio_acpi[vd->nr_mmio++] = (struct acpi_virtio_mmio){ .base = base, .size = VIRTIO_MMIO_SIZE, .gsi = gsi };
		return 0;
	}
	}
	return -EINVAL;
}

int virtio_devices_create(struct virtio_devices *vd, struct kvm_vm *vm, struct bus *pio, struct bus *mmio,
			  const struct options *opts, char *err, size_t errlen)
{
	int ret;

	memset(vd, 0, sizeof(*vd));
	vd->vm = vm;
	if ((ret = event_loop_init(&vd->loop)) < 0 || (ret = irq_routing_init(&vd->routing, vm)) < 0) {
		snprintf(err, errlen, "cannot set up device notifications: %s", strerror(-ret));
		return ret;
	}
	vd->loop.tick = virtio_devices_tick;
	vd->loop.tick_opaque = vd;
	kvm_platform_init(&vd->platform, vm, &vd->loop, &vd->routing);

	for (unsigned i = 0; i < opts->nr_devices; i++) {
		const struct device_spec *spec = &opts->devices[i];
		if (spec->type == DEVICE_RNG && spec->rate)
			vd->loop.tick_ms = 20;
		bool pci = spec->transport == TRANSPORT_PCI || spec->transport == TRANSPORT_PCI_LEGACY ||
			   spec->transport == TRANSPORT_PCI_MODERN;
		if (pci && !vd->have_pci) {
			/* The host bridge exists only when some device needs it:
			 * scanning an empty bus still costs the guest boot time. */
			if ((ret = pci_host_init(&vd->pci, pio, mmio, pci_set_irq, vd)) < 0) {
				snprintf(err, errlen, "cannot create the PCI host bridge: %s", strerror(-ret));
				return ret;
			}
			vd->have_pci = true;
		}
		struct virtio_slot *s = &vd->slot[vd->nr_slots];
		s->spec = spec;
		struct virtio_device *dev = model_create(vd, s);
		if (!dev) {
			snprintf(err, errlen, "--device %s: no such device model", device_type_name(spec->type));
			return -EINVAL;
		}
		if ((ret = transport_create(vd, s, dev, mmio, err, errlen)) < 0)
			return ret;
		vd->nr_slots++;
		log_debug(NULL, "%s on %s", dev->name, device_transport_name(spec->transport));
	}
	return 0;
}

void virtio_devices_describe(const struct virtio_devices *vd, struct acpi_config *acpi)
{
	acpi->nr_virtio_mmio = vd->nr_mmio;
	memcpy(acpi->virtio_mmio, vd->mmio_acpi, vd->nr_mmio * sizeof(vd->mmio_acpi[0]));
	if (vd->have_pci)
		acpi->pci = (struct acpi_pci){ .enabled = true, .ecam = true, .io_base = PCI_IO_WINDOW_BASE,
					       .io_size = PCI_IO_WINDOW_SIZE, .intx_gsi_base = PCI_INTX_GSI_BASE };
}

int virtio_devices_start(struct virtio_devices *vd)
{
	return event_loop_start(&vd->loop);
}

void virtio_devices_stop(struct virtio_devices *vd)
{
	event_loop_stop(&vd->loop);
}

void virtio_devices_destroy(struct virtio_devices *vd)
{
	virtio_devices_stop(vd);
	for (unsigned i = 0; i < vd->nr_slots; i++) {
		if (vd->slot[i].on_pci)
			virtio_pci_destroy(&vd->slot[i].transport.pci);
		else
			virtio_mmio_destroy(&vd->slot[i].transport.mmio);
	}
	vd->nr_slots = 0;
	kvm_platform_destroy(&vd->platform);
	irq_routing_destroy(&vd->routing);
	event_loop_destroy(&vd->loop);
}
