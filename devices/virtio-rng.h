/* virtio entropy device (VIRTIO 1.x section 5.4): device ID 4, one
 * request queue, no config space, no feature bits. The driver posts
 * device-writable buffers; the device fills them with random bytes from
 * the host's getrandom(2) and returns them.
 *
 * getrandom() is called with GRND_NONBLOCK: the reactor thread serves
 * every device and must never sleep waiting for the host's entropy pool. Before the pool is initialized (early host boot only) the chain
 * stays in the queue and is retried by virtio_rng_poll().
 *
 * Rate limit (optional): a token bucket of `rate` bytes per second,
 * holding at most one second's worth. A request gets at most what the
 * bucket holds (the spec lets the device fill a buffer partly); with an
 * empty bucket the chain is put back (virtio_request_unpop) and served by a later
 * virtio_rng_poll(). The type's timer (20 ms, on the reactor) calls
 * virtio_rng_poll() when rate is non-zero; it is cheap when nothing waits.
 *
 * A chain with device-readable (out) buffers is a driver error: the
 * device then needs a reset.
 */
#ifndef SKIFF_VIRTIO_RNG_H
#define SKIFF_VIRTIO_RNG_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/device-types.h"
#include "virtio/virtio-device.h"

#define VIRTIO_RNG_QUEUE_SIZE   256
#define VIRTIO_RNG_MAX_REQUEST  65536  /* bytes served per chain at most */

struct virtio_rng {
	struct virtio_device vdev;   /* hand &vdev to a transport */
	uint64_t rate;               /* bytes per second; 0 = unlimited */
	/* Guarded by vdev.lock: */
	double tokens;               /* bytes we may hand out now */
	int64_t last_refill_ns;
	bool waiting;                /* a chain was held back: poll serves it */
	int64_t (*clock_ns)(void);   /* monotonic_ns; tests substitute their own */
};

/* --device rng keys, parsed. */
struct virtio_rng_config {
	uint64_t rate;               /* bytes per second; 0 = unlimited */
};

/* The device-type table entry (devices/device-types.c). */
extern const struct device_type virtio_rng_type;

/* Set up the device model `name` ("virtio-rng0") over guest memory mem.
 * Then give &rng->vdev to virtio_pci_create() or virtio_mmio_create(). */
void virtio_rng_init(struct virtio_rng *rng, const char *name, const struct guest_mem *mem, uint64_t rate);

/* Serve requests that were held back (rate limit, no entropy yet). */
void virtio_rng_poll(struct virtio_rng *rng);

#endif
