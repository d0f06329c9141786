/* The device-type table. See device-types.h: a new type is one line here. */
#include "devices/device-types.h"

#include <errno.h>
#include <string.h>

#include "devices/virtio-blk.h"
#include "devices/virtio-console.h"
#include "devices/virtio-net.h"
#include "devices/virtio-balloon.h"
#include "devices/virtio-rng.h"
#include "devices/virtio-scsi.h"

const struct device_type *const device_types[] = {
    &virtio_rng_type,
    &virtio_blk_type,
    &virtio_console_type,
    &virtio_scsi_type,
    &virtio_net_type,
    &virtio_balloon_type,
    NULL,
};

const struct device_type *device_type_find(const char *name)
{
	for (unsigned i = 0; device_types[i]; i++)
		if (strcmp(device_types[i]->name, name) == 0)
			return device_types[i];
	return NULL;
}

static void append(char *buf, size_t len, const char *word)
{
	size_t used = strlen(buf);

	if (used < len)
		snprintf(buf + used, len - used, "%s%s", used ? ", " : "", word);
}

const struct device_type *device_type_for_disk(void)
{
	for (unsigned i = 0; device_types[i]; i++)
		if (device_types[i]->disk_key)
			return device_types[i];
	return NULL;
}

const struct device_type *device_type_for_terminal(void)
{
	for (unsigned i = 0; device_types[i]; i++)
		if (device_types[i]->terminal)
			return device_types[i];
	return NULL;
}

void device_types_names(char *buf, size_t len)
{
	buf[0] = '\0';
	for (unsigned i = 0; device_types[i]; i++)
		append(buf, len, device_types[i]->name);
}

void device_type_key_names(const struct device_type *t, char *buf, size_t len)
{
	buf[0] = '\0';
	append(buf, len, "transport");
	for (const struct device_key *k = t->keys; k && k->name; k++)
		append(buf, len, k->name);
}

void device_types_help(FILE *f)
{
	fprintf(f, "Device types for --device TYPE[,KEY=VALUE...] (may repeat):\n");
	for (unsigned i = 0; device_types[i]; i++) {
		const struct device_type *t = device_types[i];

		fprintf(f, "\n  %s: %s\n", t->name, t->help);
		fprintf(f, "    %-22s %s\n", "transport=T", "pci (default), pci-legacy, pci-modern, mmio, mmio-legacy");
		for (const struct device_key *k = t->keys; k && k->name; k++) {
			char key[64];

			snprintf(key, sizeof(key), "%s=%s", k->name, k->value);
			fprintf(f, "    %-22s %s\n", key, k->help);
		}
	}
}

void device_config_free(const struct device_type *t, void *config)
{
	if (!t)
		return;
	if (t->free_config)
		t->free_config(config);
	memset(config, 0, t->config_size);
}

bool device_parse_positive(const char *value, uint64_t *out)
{
	uint64_t n = 0;

	if (!*value)
		return false;
	for (const char *c = value; *c; c++) {
		if (*c < '0' || *c > '9' || n > (UINT64_MAX - (uint64_t)(*c - '0')) / 10)
			return false;
		n = n * 10 + (uint64_t)(*c - '0');
	}
	*out = n;
	return n > 0;
}

int device_parse_on_off(const char *key, const char *value, bool *out, char *err, size_t errlen)
{
	if (strcmp(value, "on") == 0 || strcmp(value, "off") == 0) {
		*out = value[1] == 'n';
		return 0;
	}
	snprintf(err, errlen, "%s '%s' must be on or off", key, value);
	return -EINVAL;
}
