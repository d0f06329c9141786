/* virtio block device (VIRTIO 1.2 section 5.2): device ID 2, one request
 * queue per `queues=N`, on a disk image served by the block backend
 * (devices/block-backend.h: io_uring or worker threads, off the vCPU and
 * reactor threads).
 *
 * A request is one chain: a 16-byte header (type, ioprio, sector) in
 * device-readable buffers, then data (device-readable for writes,
 * device-writable for reads), then one status byte, the chain's last
 * device-writable byte. virtio_blk_parse() checks all of it before any
 * I/O: a range past the end, data that is not whole sectors, a header
 * shorter than 16 bytes or stray bytes answer IOERR; an unknown type
 * answers UNSUPP; a chain with no device-writable byte for the status
 * cannot be answered at all, so the device asks for a reset.
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
#include "devices/device-types.h"
#include "devices/virtio-device.h"

#define VIRTIO_BLK_QUEUE_SIZE   256
#define VIRTIO_BLK_SEG_MAX      (VIRTIO_BLK_QUEUE_SIZE - 2) /* data buffers; + header + status = a full ring */
#define VIRTIO_BLK_SIZE_MAX     (1u << 20)                  /* bytes per data buffer */
#define VIRTIO_BLK_MAX_QUEUES   16
#define VIRTIO_BLK_MAX_DISCARD_SECTORS (1u << 21)           /* 1 GiB per discard / write-zeroes */
#define VIRTIO_BLK_SERIAL_MAX   VIRTIO_BLK_ID_BYTES         /* 20 */

/* --device blk keys, parsed. */
struct virtio_blk_config_opts {
	char *path;                 /* owned (strdup) */
	char serial[VIRTIO_BLK_SERIAL_MAX + 1];
	bool readonly, discard, write_zeroes;
	enum blk_cache cache;
	unsigned queues;            /* 0 = default 1 */
};

/* What the parser needs to know about the disk. */
struct virtio_blk_limits {
	uint64_t capacity;          /* 512-byte sectors */
	unsigned block_size;        /* bytes: reads and writes must be multiples (512 or the O_DIRECT block) */
	bool readonly, discard, write_zeroes;
};

/* A request, decided from its chain before any I/O. */
enum virtio_blk_action {
	BLK_ACTION_IO,       /* hand io_op etc. to the backend */
	BLK_ACTION_GET_ID,   /* write the serial into data_len bytes */
	BLK_ACTION_STATUS,   /* answer `status` at once */
	BLK_ACTION_BROKEN,   /* no status byte: the driver broke the protocol */
};

struct virtio_blk_plan {
	enum virtio_blk_action action;
	uint8_t status;      /* BLK_ACTION_STATUS */
	uint32_t type;       /* VIRTIO_BLK_T_*, from the header */
	enum blk_op op;      /* BLK_ACTION_IO */
	uint64_t offset;     /* bytes */
	uint64_t len;        /* bytes: data (IN/OUT) or range (DISCARD/WRITE_ZEROES) */
	unsigned flags;      /* BLK_IO_UNMAP */
	uint64_t data_off;   /* where data starts: in the out segments (OUT) or in segments (IN, GET_ID) */
	uint64_t data_len;   /* IN/OUT data bytes; GET_ID bytes to fill */
	uint64_t status_off; /* offset of the status byte in the in segments */
};

/* Decide what a popped chain asks for. Reads only the header (and the
 * discard/write-zeroes segment) through vq_chain_read(); every later
 * access stays within what the plan says. Exposed for the unit tests and
 * the fuzz target (tests/fuzz/fuzz-blk-parse.c). */
void virtio_blk_parse(const struct virtio_blk_limits *lim, const struct virtqueue *vq, const struct vq_chain *chain,
		      struct virtio_blk_plan *plan);

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
		    const struct guest_mem *mem, enum blk_engine engine, char *err, size_t errlen);
/* Wait for in-flight I/O, close the image, free the slots. */
void virtio_blk_destroy(struct virtio_blk *blk);

#endif
