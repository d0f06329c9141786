/* A virtio-rng device driven from the driver side in fake guest RAM,
 * with no transport: for the trace tests and the trace benchmark, which
 * both need real kicks, requests and status changes (rng-rig.c). */
#ifndef SKIFF_TEST_RNG_RIG_H
#define SKIFF_TEST_RNG_RIG_H

#include <stdbool.h>
#include <stdint.h>

#include "base/guest-mem.h"
#include "devices/virtio-rng.h"
#include "virtqueue/driver.h"

struct rng_rig {
	uint8_t *ram;
	struct guest_mem mem;
	struct virtio_rng rng;
	struct vqd d;
	unsigned interrupts; /* notify_used calls */
};

/* 0, or -1 (out of memory, or the device refused the driver). The
 * device is named "virtio-rng0" and live, its one queue enabled. */
int rng_rig_start(struct rng_rig *r);
void rng_rig_stop(struct rng_rig *r);
/* One request of len bytes (at most 4096): add, kick, reap. Returns the
 * bytes the device wrote, or -1 if nothing came back. */
int rng_rig_request(struct rng_rig *r, uint32_t len);

#endif
