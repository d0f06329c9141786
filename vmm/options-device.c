/* The device part of the command line: --device TYPE[,KEY=VALUE...],
 * --disk FILE and the device --console virtio adds, each onto the list
 * of device specs, through the device-type table (device-types.h). The
 * rest of the parser (options.c) hands it the list; it knows nothing
 * else of struct options. */
#include "vmm/options-device.h"
#include "vmm/options-errors.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The list being added to, and where an error line goes. */
struct dev_list {
	struct device_spec *devs; /* OPTIONS_MAX_DEVICES entries */
	unsigned *nr;
	char *err;
	size_t errlen;
};

#define DERR(p, ...) options_errorf((p)->err, (p)->errlen, __VA_ARGS__)

/* --console virtio: the table's terminal device (a virtio console whose
 * port 0 is this terminal), after the --device ones. */
static int add_console_device(struct dev_list *p)
{
	struct device_spec dev = { .type = device_type_for_terminal(), .transport = TRANSPORT_PCI };

	if (!dev.type)
		return DERR(p, "--console virtio: no device type serves a virtio console");
	if (*p->nr >= OPTIONS_MAX_DEVICES)
		return DERR(p, "--console virtio: too many devices (at most %d)", OPTIONS_MAX_DEVICES);
	dev.type->terminal(dev.config.bytes);
	p->devs[(*p->nr)++] = dev;
	return 0;
}

static const char *const transport_names[] = {
	[TRANSPORT_PCI] = "pci",
	[TRANSPORT_PCI_LEGACY] = "pci-legacy",
	[TRANSPORT_MMIO] = "mmio",
	[TRANSPORT_MMIO_LEGACY] = "mmio-legacy",
	[TRANSPORT_PCI_MODERN] = "pci-modern",
};

const char *device_transport_name(enum device_transport t)
{
	if ((unsigned)t < sizeof(transport_names) / sizeof(transport_names[0]))
		return transport_names[t];
	return "?";
}

bool device_transport_is_pci(enum device_transport t)
{
	return t == TRANSPORT_PCI || t == TRANSPORT_PCI_LEGACY || t == TRANSPORT_PCI_MODERN;
}

/* transport=, the one key every device type has. */
static int parse_transport(struct dev_list *p, const char *spec, struct device_spec *dev, const char *value)
{
	for (unsigned t = 0; t < sizeof(transport_names) / sizeof(transport_names[0]); t++) {
		if (strcmp(value, transport_names[t]) == 0) {
			dev->transport = t;
			return 0;
		}
	}
	return DERR(p, "--device %s: unknown transport '%s' (known: pci, pci-legacy, pci-modern, mmio, mmio-legacy)",
		    spec, value);
}

/* One KEY=VALUE: the common key, or one from the type's table entry.
 * seen has a bit per key (bit 0 transport, bit i+1 the type's key i). */
static int parse_device_key(struct dev_list *p, const char *spec, struct device_spec *dev, const char *key,
			    const char *value, uint32_t *seen)
{
	const struct device_key *keys = dev->type->keys;
	char why[160];
	unsigned bit = 0;

	if (strcmp(key, "transport") != 0) {
		for (bit = 1; keys && keys[bit - 1].name && strcmp(keys[bit - 1].name, key) != 0; bit++)
			;
		if (!keys || !keys[bit - 1].name) {
			device_type_key_names(dev->type, why, sizeof(why));
			return DERR(p, "--device %s: unknown key '%s' for %s (known: %s)", spec, key, dev->type->name,
				    why);
		}
	}
	if ((*seen & (1u << bit)) && !(bit && keys[bit - 1].repeatable))
		return DERR(p, "--device %s: key '%s' given twice", spec, key);
	*seen |= 1u << bit;
	if (bit == 0)
		return parse_transport(p, spec, dev, value);
	if (keys[bit - 1].parse(dev->config.bytes, value, why, sizeof(why)) < 0)
		return DERR(p, "--device %s: %s", spec, why);
	return 0;
}

/* A device whose keys are all parsed: the type's own checks across keys
 * (e.g. a required key), then onto the list. */
static int add_device(struct dev_list *p, const char *option, const char *spec, struct device_spec *dev,
		      bool transport_given)
{
	char why[256] = "";

	if (dev->type->check && dev->type->check(dev->config.bytes, why, sizeof(why)) < 0)
		return DERR(p, "%s %s: %s", option, spec, why);
	if (dev->type->join) {
		struct device_spec *prev = NULL;
		for (unsigned i = *p->nr; i-- > 0 && !prev;)
			if (p->devs[i].type == dev->type)
				prev = &p->devs[i];
		int joined = dev->type->join(prev ? prev->config.bytes : NULL, dev->config.bytes, transport_given,
					     why, sizeof(why));
		if (joined < 0)
			return DERR(p, "%s %s: %s", option, spec, why);
		if (joined > 0)
			return 0;
	}
	p->devs[(*p->nr)++] = *dev;
	return 0;
}

/* --device TYPE[,KEY=VALUE...], or --device help (returns 2). */
static int parse_device(struct dev_list *p, const char *spec)
{
	struct device_spec dev = { .type = NULL, .transport = TRANSPORT_PCI };
	char *copy, *item, *next, known[160];
	uint32_t seen = 0;
	int ret = 0;

	if (strcmp(spec, "help") == 0)
		return 2;
	if (*p->nr >= OPTIONS_MAX_DEVICES)
		return DERR(p, "--device %s: too many devices (at most %d)", spec, OPTIONS_MAX_DEVICES);

	/* Cut a copy at the commas: "rng,rate=10" -> "rng", "rate=10". */
	copy = strdup(spec);
	if (!copy)
		return DERR(p, "out of memory");
	next = strchr(copy, ',');
	if (next)
		*next++ = '\0';

	device_types_names(known, sizeof(known));
	if (copy[0] == '\0') {
		ret = DERR(p, "--device %s: missing device type (known: %s)", spec, known);
		goto out;
	}
	dev.type = device_type_find(copy);
	if (!dev.type) {
		ret = DERR(p, "--device %s: unknown device type '%s' (known: %s)", spec, copy, known);
		goto out;
	}

	while (next) {
		char *eq;

		item = next;
		next = strchr(item, ',');
		if (next)
			*next++ = '\0';
		eq = strchr(item, '=');
		if (!eq || eq == item) {
			ret = DERR(p, "--device %s: '%s' is not key=value", spec, item);
			goto out;
		}
		*eq = '\0';
		ret = parse_device_key(p, spec, &dev, item, eq + 1, &seen);
		if (ret)
			goto out;
	}
	ret = add_device(p, "--device", spec, &dev, seen & 1);
out:
	if (ret) /* not on the list: what its keys allocated is still ours */
		device_config_free(dev.type, dev.config.bytes);
	free(copy);
	return ret;
}

/* --disk FILE: --device TYPE,KEY=FILE for the table's disk shorthand
 * (its disk_key), except that FILE may hold commas. */
static int parse_disk(struct dev_list *p, const char *file)
{
	struct device_spec dev = { .type = device_type_for_disk(), .transport = TRANSPORT_PCI };
	uint32_t seen = 0;
	int ret;

	if (!*file)
		return DERR(p, "--disk needs a disk image file or block device");
	if (*p->nr >= OPTIONS_MAX_DEVICES)
		return DERR(p, "--disk %s: too many devices (at most %d)", file, OPTIONS_MAX_DEVICES);
	if (!dev.type)
		return DERR(p, "--disk: no device type serves disks");
	ret = parse_device_key(p, file, &dev, dev.type->disk_key, file, &seen);
	if (!ret)
		ret = add_device(p, "--disk", file, &dev, false);
	if (ret)
		device_config_free(dev.type, dev.config.bytes);
	return ret;
}

int options_device_parse(struct device_spec *devs, unsigned *nr, const char *spec, char *err, size_t errlen)
{
	struct dev_list l = { devs, nr, err, errlen };
	return parse_device(&l, spec);
}

int options_disk_parse(struct device_spec *devs, unsigned *nr, const char *file, char *err, size_t errlen)
{
	struct dev_list l = { devs, nr, err, errlen };
	return parse_disk(&l, file);
}

int options_console_device_add(struct device_spec *devs, unsigned *nr, char *err, size_t errlen)
{
	struct dev_list l = { devs, nr, err, errlen };
	return add_console_device(&l);
}
