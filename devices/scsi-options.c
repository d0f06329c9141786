/* virtio-scsi's --device grammar and its device-type table entry: the
 * controller's keys and the disk keys (a line with path= adds a disk to
 * the last controller), checked and joined here; the device itself is
 * virtio-scsi.c. */
#include "devices/virtio-scsi.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devices/disk-options.h"

static int parse_path(void *config, const char *value, char *err, size_t errlen)
{
	struct virtio_scsi_config_opts *c = config;

	return disk_parse_path(&c->disk.path, value, err, errlen);
}

static int parse_number(const char *key, const char *value, unsigned max, unsigned *out, char *err, size_t errlen)
{
	uint64_t n = 0;

	if (strcmp(value, "0") == 0 || (device_parse_positive(value, &n) && n <= max)) {
		*out = (unsigned)n;
		return 0;
	}
	snprintf(err, errlen, "%s '%s' must be a number from 0 to %u", key, value, max);
	return -EINVAL;
}

static int parse_target(void *config, const char *value, char *err, size_t errlen)
{
	struct virtio_scsi_config_opts *c = config;
	c->has_disk_keys = true;
	return parse_number("target", value, SCSI_TARGET_MAX, &c->disk.target, err, errlen);
}

static int parse_lun(void *config, const char *value, char *err, size_t errlen)
{
	struct virtio_scsi_config_opts *c = config;
	c->has_disk_keys = true;
	return parse_number("lun", value, SCSI_LUN_MAX, &c->disk.lun, err, errlen);
}

static int parse_readonly(void *config, const char *value, char *err, size_t errlen)
{
	struct virtio_scsi_config_opts *c = config;
	c->has_disk_keys = true;
	return device_parse_on_off("readonly", value, &c->disk.readonly, err, errlen);
}

static int parse_snapshot(void *config, const char *value, char *err, size_t errlen)
{
	struct virtio_scsi_config_opts *c = config;
	c->has_disk_keys = true;
	return device_parse_on_off("snapshot", value, &c->disk.snapshot, err, errlen);
}

static int parse_discard(void *config, const char *value, char *err, size_t errlen)
{
	struct virtio_scsi_config_opts *c = config;
	c->has_disk_keys = true;
	return device_parse_on_off("discard", value, &c->disk.discard, err, errlen);
}

static int parse_serial(void *config, const char *value, char *err, size_t errlen)
{
	struct virtio_scsi_config_opts *c = config;
	char *copy;
	int ret;

	c->has_disk_keys = true;
	if ((ret = disk_check_serial(value, SCSI_SERIAL_MAX, true, err, errlen)) < 0)
		return ret;
	if (!(copy = strdup(value)))
		return -ENOMEM;
	free(c->disk.serial); /* a repeated serial= replaces the earlier one */
	c->disk.serial = copy;
	return 0;
}

static int parse_cache(void *config, const char *value, char *err, size_t errlen)
{
	struct virtio_scsi_config_opts *c = config;

	c->has_disk_keys = true;
	return disk_parse_cache(value, &c->disk.cache, err, errlen);
}

static int parse_queues(void *config, const char *value, char *err, size_t errlen)
{
	struct virtio_scsi_config_opts *c = config;
	uint64_t n;

	if (!device_parse_positive(value, &n) || n > VIRTIO_SCSI_MAX_QUEUES) {
		snprintf(err, errlen, "queues '%s' must be a number from 1 to %d", value, VIRTIO_SCSI_MAX_QUEUES);
		return -EINVAL;
	}
	c->queues = (unsigned)n;
	return 0;
}

static const struct device_key scsi_keys[] = {
	{"queues", "N", "controller: request queues, 1-16 (default 1)", parse_queues},
	{"path", "FILE", "a disk: raw image or block device (on the last controller)", parse_path},
	{"target", "T", "disk: target 0-255 (default 0)", parse_target},
	{"lun", "L", "disk: LUN 0-255 (default 0)", parse_lun},
	{"readonly", "on|off", "disk: read-only, writes get DATA PROTECT (default off)", parse_readonly},
	{"snapshot", "on|off", "disk: writes go to a private overlay, the image is never written (default off)",
	 parse_snapshot},
	{"serial", "STRING", "disk: unit serial number, VPD page 80h (up to 64 bytes)", parse_serial},
	{"discard", "on|off", "disk: UNMAP and WRITE SAME punch holes (default off)", parse_discard},
	{"cache", "MODE", "disk: writeback (default), none (O_DIRECT), unsafe", parse_cache},
	{NULL},
};

static int scsi_check(const void *config, char *err, size_t errlen)
{
	const struct virtio_scsi_config_opts *c = config;

	if (!c->disk.path) {
		if (c->has_disk_keys) {
			snprintf(err, errlen, "target=, lun=, readonly=, snapshot=, serial=, discard= and cache= describe a disk: "
					      "add path=FILE");
			return -EINVAL;
		}
		return 0;
	}
	return disk_check_path(c->disk.path, err, errlen);
}

static int add_disk(struct virtio_scsi_config_opts *c, const struct virtio_scsi_disk_opts *disk, char *err,
		    size_t errlen)
{
	for (unsigned i = 0; i < c->nr_disks; i++)
		if (c->disks[i].target == disk->target && c->disks[i].lun == disk->lun) {
			snprintf(err, errlen, "target %u LUN %u already holds %s", disk->target, disk->lun,
				 c->disks[i].path);
			return -EINVAL;
		}
	if (c->nr_disks == VIRTIO_SCSI_MAX_DISKS) {
		snprintf(err, errlen, "too many disks on one controller (at most %d)", VIRTIO_SCSI_MAX_DISKS);
		return -EINVAL;
	}
	struct virtio_scsi_disk_opts *d = realloc(c->disks, (c->nr_disks + 1) * sizeof(*d));
	if (!d)
		return -ENOMEM;
	c->disks = d;
	c->disks[c->nr_disks++] = *disk;
	return 0;
}

/* A line with path= is a disk: it joins the last controller, or starts
 * one if there is none. A line without path= is a new controller. */
static int scsi_join(void *prev_config, void *config, bool transport_given, char *err, size_t errlen)
{
	struct virtio_scsi_config_opts *prev = prev_config, *c = config;

	if (!c->disk.path)
		return 0;
	if (!prev) /* the first disk brings its controller */
		return add_disk(c, &c->disk, err, errlen) < 0 ? -EINVAL : 0;
	if (transport_given || c->queues) {
		snprintf(err, errlen, "transport= and queues= belong to a controller; this disk joins the "
				      "controller before it (start a new one with --device scsi[,transport=T])");
		return -EINVAL;
	}
	return add_disk(prev, &c->disk, err, errlen) < 0 ? -EINVAL : 1;
}

static void disk_opts_free(struct virtio_scsi_disk_opts *d)
{
	free(d->path);
	free(d->serial);
}

/* A controller line's own disk is also disks[0] once it joined. */
static void scsi_free_config(void *config)
{
	struct virtio_scsi_config_opts *c = config;
	bool own_disk_listed = c->nr_disks && c->disks[0].path == c->disk.path;

	for (unsigned i = 0; i < c->nr_disks; i++)
		disk_opts_free(&c->disks[i]);
	free(c->disks);
	if (!own_disk_listed)
		disk_opts_free(&c->disk);
}

static struct virtio_device *scsi_create(void *state, const void *config, const char *name,
				       const struct guest_mem *mem, struct reactor *reactor, char *err, size_t errlen)
{
	struct virtio_scsi *s = state;

	/* The reactor serves the queues and reaps the disks' io_uring. */
	if (virtio_scsi_init(s, config, name, mem, BLK_ENGINE_AUTO, reactor, err, errlen) < 0)
		return NULL;
	return &s->vdev;
}

static void scsi_destroy(void *state)
{
	virtio_scsi_destroy(state);
}

const struct device_type virtio_scsi_type = {
	.name = "scsi",
	.help = "virtio SCSI controller, and disks on it (a line with path= adds a disk to the last controller)",
	.keys = scsi_keys,
	.config_size = sizeof(struct virtio_scsi_config_opts),
	.state_size = sizeof(struct virtio_scsi),
	.check = scsi_check,
	.join = scsi_join,
	.free_config = scsi_free_config,
	.create = scsi_create,
	.destroy = scsi_destroy,
};
