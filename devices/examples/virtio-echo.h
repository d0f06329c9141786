/* virtio-echo: the worked example of docs/guide-device-type.md. A small
 * but complete device type: one request queue, a config space, one
 * feature bit, a KEY=VALUE of its own, and a device-type table entry.
 *
 * Each request is a chain of device-readable buffers (the message) then
 * device-writable buffers (room for the echo). The device copies the
 * message into the room, up to the smaller of the two and of max_size
 * bytes, and returns the chain with that many bytes written. With
 * VIRTIO_ECHO_F_UPPERCASE negotiated, ASCII letters come back upper case.
 *
 * Config space (little-endian, read-only): le32 max_size, the most bytes
 * one request echoes (the driver sizes its buffers by it).
 *
 * Driver errors: a chain without a message or without room puts the
 * device in DEVICE_NEEDS_RESET (the driver broke the protocol); the ring
 * engine already rejects everything malformed below that.
 *
 * The device ID is NOT an assigned virtio ID (one day it may be another
 * type's, and a guest would bind that driver), so the example is built
 * and tested in `make check` (tests/unit/test-example-echo.c) but kept
 * out of the device-type table (devices/device-types.c): skiff never
 * shows it to a guest. A real new type first gets an ID reserved by the
 * VIRTIO TC.
 */
#ifndef SKIFF_VIRTIO_ECHO_H
#define SKIFF_VIRTIO_ECHO_H

#include <stdint.h>

#include "devices/device-types.h"
#include "virtio/virtio-device.h"

#define VIRTIO_ECHO_DEVICE_ID   0x3f   /* unassigned: see above */
#define VIRTIO_ECHO_F_UPPERCASE 0      /* device feature bit 0 */
#define VIRTIO_ECHO_QUEUE_SIZE  64
#define VIRTIO_ECHO_DEFAULT_MAX 4096   /* bytes echoed per request */
#define VIRTIO_ECHO_MAX_MAX     65536  /* the largest max= accepted */

/* The config space as the driver sees it. */
struct virtio_echo_config {
	uint32_t max_size;           /* le32 */
} __attribute__((packed));

struct virtio_echo {
	struct virtio_device vdev;   /* hand &vdev to a transport */
	struct virtio_echo_config config;
};

/* --device echo keys, parsed. All-zero means the defaults. */
struct virtio_echo_options {
	uint64_t max_size;           /* max=BYTES; 0 = VIRTIO_ECHO_DEFAULT_MAX */
};

/* The table entry, for the guide: deliberately not in device_types[]. */
extern const struct device_type virtio_echo_type;

#endif
