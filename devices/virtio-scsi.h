/* virtio-scsi: a SCSI host controller whose targets and LUNs are
 * emulated disks (devices/scsi-disk.c) on the block backend.
 *
 * Queues: 0 control (task management, async notification), 1 event,
 * 2.. request queues (queues=N). A request chain is
 *     out: virtio_scsi_cmd_req (19 bytes + cdb_size), data-out
 *     in:  virtio_scsi_cmd_resp (12 bytes + sense_size), data-in
 * with cdb_size and sense_size from config space (the driver may change
 * them). A chain too short for its header gets VIRTIO_SCSI_S_FAILURE; one
 * with no room for the response's fixed part resets the device; a
 * command that moves more data than the chain holds gets
 * VIRTIO_SCSI_S_OVERRUN.
 *
 * Addressing: LUN bytes {1, target, 0x40 | lun >> 8, lun & 0xff, 0...}.
 * An unknown target answers VIRTIO_SCSI_S_BAD_TARGET; a missing LUN on a
 * known target gets the SPC answer (see scsi_no_lun_command()).
 *
 * Command line (see the device-type entry and README):
 *   --device scsi[,queues=N]             a controller
 *   --device scsi,path=FILE[,target=T][,lun=L][,readonly=on][,snapshot=on][,serial=S][,discard=on][,cache=M]
 *                                        a disk on the last controller (or a new one)
 */
#ifndef SKIFF_VIRTIO_SCSI_H
#define SKIFF_VIRTIO_SCSI_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <linux/virtio_scsi.h>

#include "devices/device-types.h"
#include "devices/scsi-disk.h"
#include "virtio/virtio-device.h"

#define VIRTIO_SCSI_QUEUE_SIZE  256
#define VIRTIO_SCSI_SEG_MAX     (VIRTIO_SCSI_QUEUE_SIZE - 2) /* data buffers; + request + response */
#define VIRTIO_SCSI_MAX_QUEUES  16                           /* request queues */
#define VIRTIO_SCSI_MAX_DISKS   64                           /* per controller */
#define VIRTIO_SCSI_CDB_MAX     256                          /* bytes of a CDB we look at */
#define VIRTIO_SCSI_FIRST_REQUEST_QUEUE 2

/* One disk as the command line gave it. */
struct virtio_scsi_disk_opts {
	char *path;            /* owned (strdup) */
	char *serial;          /* owned, or NULL */
	unsigned target, lun;
	bool readonly, discard, snapshot;
	enum blk_cache cache;
};

/* A --device scsi line, parsed; disks joined from later lines in disks[]. */
struct virtio_scsi_config_opts {
	unsigned queues;                    /* 0 = 1 */
	bool has_disk_keys;                 /* a key other than path= describes a disk */
	struct virtio_scsi_disk_opts disk;  /* this line's own disk, if path= */
	struct virtio_scsi_disk_opts *disks; /* the controller's disks (owned) */
	unsigned nr_disks;
};

struct scsi_request;

struct virtio_scsi_lun {
	unsigned target, lun;
	struct scsi_disk *disk;
};

struct virtio_scsi {
	struct virtio_device vdev;
	struct virtio_device_ops ops;       /* per instance: nr_queues = 2 + queues */
	struct virtio_scsi_config config;   /* little-endian, as the driver reads it */
	unsigned queues;
	struct virtio_scsi_lun luns[VIRTIO_SCSI_MAX_DISKS];
	unsigned nr_luns;
	unsigned max_target;
	bool events_missed;                 /* an event found no buffer: say so with the next */

	/* Guarded by vdev.lock. */
	struct scsi_request *free;          /* request slots for reuse */
	struct scsi_request *inflight;      /* at the block backend (ABORT TASK looks here) */

	pthread_mutex_t done_lock;          /* finished on backend threads, not yet used */
	struct scsi_request *done_head;
};

extern const struct device_type virtio_scsi_type;

/* Build a controller with the disks in opts: 0, or -errno with one line
 * in err (an image that cannot be opened, two disks at one address). */
int virtio_scsi_init(struct virtio_scsi *s, const struct virtio_scsi_config_opts *opts, const char *name,
		     const struct guest_mem *mem, enum blk_engine engine, struct reactor *reactor, char *err,
		     size_t errlen);
void virtio_scsi_destroy(struct virtio_scsi *s);
/* Tell the driver that the LUNs of target changed (a transport reset
 * event, reason RESCAN or REMOVED). dev->lock held. Only the tests call
 * it so far, so VIRTIO_SCSI_F_HOTPLUG is not offered. */
void virtio_scsi_lun_event(struct virtio_scsi *s, unsigned target, unsigned lun, bool removed);

#endif
