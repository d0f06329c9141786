/* virtio block device (VIRTIO 1.2 section 5.2): device ID 2, one request
 * queue per `queues=N`, on a disk image served by the block backend
 * (devices/block-backend.h: io_uring or worker threads, off the vCPU and
 * reactor threads).
 *
 * A request is one chain: a 16-byte header (type, ioprio, sector) in
 * device-readable buffers, then data (device-readable for writes,
 * device-writable for reads), then one status byte, the chain's last
 * device-writable byte. virtio_blk_parse() (virtio-blk-request.c) checks
 * all of it before any I/O; a chain with no device-writable byte for the
 * status cannot be answered at all, so the device asks for a reset.
 *
 * Requests run concurrently and complete in any order. Finished requests
 * are collected and published together once per backend batch (one lock,
 * one used-index update and at most one interrupt per queue, EVENT_IDX
 * permitting).
 *
 * FLUSH completes only after fdatasync() returned (cache=unsafe: at
 * once). With CONFIG_WCE the driver may switch the cache to
 * write-through (writeback = 0): every write is then followed by a flush
 * before it completes.
 */
#ifndef SKIFF_VIRTIO_BLK_H
#define SKIFF_VIRTIO_BLK_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <linux/virtio_blk.h>

#include "devices/block-backend.h"
#include "devices/virtio-blk-request.h"
#include "devices/device-types.h"
#include "virtio/virtio-device.h"

#define VIRTIO_BLK_QUEUE_SIZE   256
/* seg_max and size_max, advertised and enforced (virtio-blk-request.c):
 * data buffers per request (+ header + status = a full ring) and data
 * bytes per buffer. Together they bound one request to 254 MiB; without
 * them a guest's buffers may overlap, and one request of 256 buffers of
 * 4 GiB each would ask the host for a terabyte. */
#define VIRTIO_BLK_SEG_MAX      (VIRTIO_BLK_QUEUE_SIZE - 2)
#define VIRTIO_BLK_SIZE_MAX     (1u << 20)
#define VIRTIO_BLK_MAX_QUEUES   16
#define VIRTIO_BLK_SERIAL_MAX   VIRTIO_BLK_ID_BYTES         /* 20 */

/* --device blk keys, parsed. */
struct virtio_blk_config_opts {
	char *path;                 /* owned (strdup) */
	char serial[VIRTIO_BLK_SERIAL_MAX + 1];
	bool readonly, discard, write_zeroes;
	bool snapshot;              /* copy-on-write overlay, the image is never written */
	enum blk_cache cache;
	enum blk_engine engine;     /* aio=: auto (io_uring if allowed), io_uring, threads */
	unsigned queues;            /* 0 = default 1 */
};

struct blk_request;

struct virtio_blk {
	struct virtio_device vdev;      /* hand &vdev to a transport */
	struct virtio_device_ops ops;   /* per instance: nr_queues = queues= */
	struct blk_backend *backend;
	struct virtio_blk_limits limits;
	char serial[VIRTIO_BLK_SERIAL_MAX + 1];
	unsigned queues;
	struct virtio_blk_config config; /* little-endian, as the driver reads it */

	/* Guarded by vdev.lock: */
	bool writeback;                 /* config.wce as the driver set it */
	struct blk_request *free;       /* request slots for reuse */

	/* Finished requests waiting to be published (done_lock nests inside
	 * vdev.lock and is never held while taking it). */
	pthread_mutex_t done_lock;
	struct blk_request *done_head;
};

extern const struct device_type virtio_blk_type;

/* Open the image of `opts` and build the device model `name`. 0, or
 * -errno with one line in err (the image cannot be opened or locked). */
int virtio_blk_init(struct virtio_blk *blk, const struct virtio_blk_config_opts *opts, const char *name,
		    const struct guest_mem *mem, enum blk_engine engine, struct reactor *reactor, char *err,
		    size_t errlen);
/* Wait for in-flight I/O, close the image, free the slots. */
void virtio_blk_destroy(struct virtio_blk *blk);

#endif
