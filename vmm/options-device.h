/* A device on the command line, parsed (struct device_spec), and the
 * parser of --device, --disk and --console virtio (options-device.c).
 * options.h includes it; struct options holds the list. */
#ifndef SKIFF_OPTIONS_DEVICE_H
#define SKIFF_OPTIONS_DEVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/device-types.h"

#define OPTIONS_MAX_DEVICES 32

enum device_transport {
	TRANSPORT_PCI,          /* virtio-pci, modern (virtio 1.x) */
	TRANSPORT_PCI_LEGACY,   /* virtio-pci, legacy (virtio 0.9.5) */
	TRANSPORT_MMIO,         /* virtio-mmio version 2 */
	TRANSPORT_MMIO_LEGACY,  /* virtio-mmio version 1 */
	TRANSPORT_PCI_MODERN,   /* virtio-pci, modern only (no legacy I/O BAR) */
};

/* One --device, parsed: its type from the table, the common keys, and
 * the type's own keys in config (as the type's key parsers left them). */
struct device_spec {
	const struct device_type *type;
	enum device_transport transport;  /* default TRANSPORT_PCI */
	union {
		unsigned char bytes[DEVICE_CONFIG_MAX];
		uint64_t align;
	} config;
};

/* Names for messages and logs, e.g. "pci-legacy". */
const char *device_transport_name(enum device_transport t);
bool device_transport_is_pci(enum device_transport t);

/* Each adds one device to devs[0..*nr) (at most OPTIONS_MAX_DEVICES), or
 * joins it to an earlier one of its type: 0, or -1 with one line in err.
 * --device TYPE[,KEY=VALUE...]; "help" returns 2 and adds nothing. */
int options_device_parse(struct device_spec *devs, unsigned *nr, const char *spec, char *err, size_t errlen);
/* --disk FILE: the table's disk type with FILE as its disk key. */
int options_disk_parse(struct device_spec *devs, unsigned *nr, const char *file, char *err, size_t errlen);
/* --console virtio: the table's terminal device, port 0 on our terminal. */
int options_console_device_add(struct device_spec *devs, unsigned *nr, char *err, size_t errlen);

#endif
