/* The virtio device initialisation sequence, shared by the four
 * transports, and the virtio-rng test run on each device found. */
#ifndef TG_VIRTIO_H
#define TG_VIRTIO_H

#include "pci.h"
#include "tg.h"
#include "virtqueue/driver.h"
#include "vring.h"

#define VIRTIO_STATUS_ACK 1
#define VIRTIO_STATUS_DRIVER 2
#define VIRTIO_STATUS_DRIVER_OK 4
#define VIRTIO_STATUS_FEATURES_OK 8
#define VIRTIO_STATUS_NEEDS_RESET 64
#define VIRTIO_STATUS_FAILED 128

#define VIRTIO_F_INDIRECT_DESC (1ull << 28)
#define VIRTIO_F_EVENT_IDX (1ull << 29)
#define VIRTIO_F_VERSION_1 (1ull << 32)
#define VIRTIO_F_RING_PACKED (1ull << 34)

#define VIRTIO_ID_RNG 4
#define VIRTIO_ID_BLOCK 2
#define VIRTIO_ID_NET 1

/* How ring 3 notifies the device (the kick). */
enum { NOTIFY_MMIO16, NOTIFY_MMIO32, NOTIFY_PIO16 };
struct vnotify {
	int kind;
	uint64_t addr;
	uint32_t value;
};

/* Notify the device (ring 3: user-rng.c is in the user section). */
void vnotify_kick(const struct vnotify *n);

/* The TSC, from ring 3 code (the ring-0 rdtsc() lives in tg.h, outside
 * the user section). */
static inline uint64_t u_rdtsc(void)
{
	uint32_t lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
}

struct vdev;
struct vdev_ops {
	bool legacy;           /* no FEATURES_OK, 32 feature bits, contiguous page-aligned ring */
	bool queue_size_fixed; /* legacy PCI: the device's queue size is the only one */
	uint8_t (*get_status)(struct vdev *d);
	void (*set_status)(struct vdev *d, uint8_t status);
	uint64_t (*get_features)(struct vdev *d);
	void (*set_features)(struct vdev *d, uint64_t features);
	/* Select queue q; its maximum size (0: no such queue, or in use). */
	unsigned (*queue_max)(struct vdev *d, unsigned q);
	/* Program queue q (selected) and enable it. 0 or <0 with a message printed. */
	int (*queue_setup)(struct vdev *d, unsigned q, uint16_t size, uint64_t desc, uint64_t avail, uint64_t used);
	void (*queue_notify)(struct vdev *d, unsigned q, struct vnotify *n);
};

struct vdev {
	const struct vdev_ops *ops;
	const char *kind;      /* for messages: "virtio-rng" (default), "virtio-blk" */
	unsigned transport;    /* TRANSPORT_* */
	char where[32];        /* "00:03.0" or "0xd0000000" */
	const struct pci_func *pci;
	uint64_t mmio;         /* virtio-mmio registers */
	uint16_t io;           /* legacy PCI: I/O BAR 0 */
	uint64_t common, notify_base, isr, devcfg; /* modern PCI structures */
	uint32_t notify_mult;
};

/* Bump allocator over the DMA pool (user section, zeroed). */
void *dma_alloc(size_t size, size_t align);
/* Give back everything allocated since dma_mark() (attack.c: each attack
 * starts from the same pool). */
size_t dma_mark(void);
void dma_release(size_t mark);

/* The queue a device was set up with. */
struct vqueue {
	struct vqd *vqd;      /* modern transports: the shared driver-side ring */
	struct vring_drv *vq; /* legacy transports: vring.c */
	unsigned size;
};

/* reset, ACKNOWLEDGE, DRIVER, features (the ring features plus
 * device_features where offered), FEATURES_OK, queue 0 of at most
 * max_size entries, DRIVER_OK. Prints a FAIL line and returns false on error. */
bool virtio_queue_init(struct vdev *d, uint64_t device_features, unsigned max_size, struct vqueue *rq);
/* The same for queues 0 .. nq-1 (rqs[nq]) before DRIVER_OK. */
bool virtio_queues_init(struct vdev *d, uint64_t device_features, unsigned max_size, struct vqueue *rqs, unsigned nq);

/* TSC ticks per second, timed against the CMOS clock (blk-bench.c; ring 0). */
uint64_t tsc_hz(void);

/* Benchmark a virtio-blk device (blk-bench=MS): 4 KiB random reads at
 * queue depth 1 and 32, 1 MiB sequential reads and writes; one line each. */
bool virtio_blk_bench(struct vdev *d);

/* Benchmark a virtio-net device (net-bench=MS) against the host-side peer
 * tests/bench/net-peer.c: echo round trip, 64- and 1514-byte frames each
 * way; one line each. */
bool virtio_net_bench(struct vdev *d);

/* Initialise d as a virtio-rng device, run the ring-3 requests, check and
 * print the result line, reset the device. Returns true if it passed. */
bool virtio_rng_test(struct vdev *d);

/* Transports: find and test devices. They add to tests_passed/failed
 * and set the TRANSPORT_* bits of transports that had a passing rng. */
void virtio_pci_probe(const struct pci_func *funcs, unsigned n, unsigned *found, unsigned *passed);
void virtio_mmio_probe(unsigned *found, unsigned *passed);
/* Fill d for one interface without testing it (attack.c): PCI function f
 * through its legacy I/O BAR or its modern capabilities (enables the
 * function; false if it has no such interface), or the virtio-mmio slot
 * at addr (false if none; *id the device ID, 0 for an empty slot). */
bool virtio_pci_interface(const struct pci_func *f, bool legacy, struct vdev *d);
bool virtio_mmio_interface(uint64_t addr, struct vdev *d, uint32_t *id);

/* ring 3 (user-rng.c) */
#define RNG_MAX_REQ 1024
struct rng_job {
	/* One of the two ring implementations: the project's shared driver
	 * side (virtqueue/driver.c: split or packed, modern transports) or
	 * vring.c (split with the legacy 4 KiB-aligned layout). */
	struct vqd *vqd;
	struct vring_drv *vq;
	struct vnotify notify;
	unsigned nreq;
	uint32_t req_len;
	uint8_t *bufs;               /* nreq * req_len */
	struct vring_desc *indirect; /* 2 entries per request, or NULL */
	uint64_t timeout_cycles;
	/* results */
	int error;                   /* 0; -1 timeout; -2 bad used id/token; -3 ring full */
	unsigned err_req;
	unsigned kicks;
	uint64_t cycles;
	uint32_t used_len[RNG_MAX_REQ];
};
long rng_user_run(void *job);

#endif
