/* Parsing a virtio-blk request (VIRTIO 1.2 section 5.2.6): what a chain
 * asks for, decided from its header and lengths before any I/O. Its own
 * file so that the fuzz target (tests/fuzz/fuzz-blk-request.c) and the
 * unit tests can drive it without a disk.
 *
 * The layout: a 16-byte header (type, ioprio, sector) in device-readable
 * buffers; then data (device-readable for OUT, device-writable for IN and
 * GET_ID; for DISCARD / WRITE_ZEROES one 16-byte range segment); then one
 * status byte, the chain's last device-writable byte. Checked: a header
 * shorter than 16 bytes, stray bytes in either direction, data that is not
 * whole blocks, a range past the end of the disk (overflow-safe), a
 * segment count or size beyond the config's limits -> IOERR; unknown
 * types, unknown range flags, a type not negotiated -> UNSUPP; no
 * device-writable byte at all -> nothing can be answered (BROKEN).
 */
#ifndef SKIFF_VIRTIO_BLK_REQUEST_H
#define SKIFF_VIRTIO_BLK_REQUEST_H

#include <stdbool.h>
#include <stdint.h>

#include <linux/virtio_blk.h>

#include "devices/block-backend.h"
#include "virtio/virtio-request.h"

#define VIRTIO_BLK_MAX_DISCARD_SECTORS (1u << 21) /* 1 GiB per discard / write-zeroes (one segment) */

/* What the parser needs to know about the disk. */
struct virtio_blk_limits {
	uint64_t capacity;          /* 512-byte sectors */
	unsigned block_size;        /* bytes: reads and writes must be multiples (512 or the O_DIRECT block) */
	/* The config's size_max and seg_max (5.2.4): the most data bytes in
	 * one buffer and the most buffers holding data in one request. The
	 * config space is built from these, so what is advertised is what
	 * is enforced. */
	uint32_t size_max, seg_max;
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

/* Decide what a popped request asks for. Reads only the header (and the
 * discard/write-zeroes segment) through virtio_request_read(); every later
 * access stays within what the plan says. Exposed for the unit tests and
 * the fuzz target (tests/fuzz/fuzz-blk-request.c). */
void virtio_blk_parse(const struct virtio_blk_limits *lim, const struct virtio_request *req, struct virtio_blk_plan *plan);

#endif
