/* A virtio device model as its transports see it. A device knows nothing
 * about PCI or MMIO: it offers features, a config space, some queues, and
 * serves chains when a queue is notified. The transport owns the status
 * register, feature negotiation and queue set-up, and gives the device a
 * way to raise its interrupt.
 *
 * The notification path, end to end:
 *   guest writes the queue's notify register
 *   -> KVM signals the queue's kick eventfd (ioeventfd, no vCPU exit), or
 *      the write exits, the transport decodes it and virtio_device_kick()
 *      signals the same eventfd (device code never runs on a vCPU thread)
 *   -> the reactor thread (base/reactor.c) wakes and calls
 *      virtio_device_service(dev, q, budget)     [takes dev->lock]
 *      (with --poll on a request queue the guest need not kick: the
 *      reactor, polling, sees the ring through virtio_device_has_requests
 *      and calls the same)
 *   -> ops->queue_notify(dev, q, budget): the device pops at most budget
 *      requests (virtio_request_pop) and serves them, now or later, on
 *      any thread (virtio_request_complete)
 *   -> the core: vq_push() + virtio_device_notify_used(dev, q) -> transport->notify_used()
 *   -> MSI-X route (irqfd), or INTx / virtio-mmio interrupt line
 *
 * What a new device must implement (see devices/virtio-rng.c, and
 * devices/device-types.h for the table line):
 *   - a struct virtio_device_ops: device_id, nr_queues, queue_max_size,
 *     config_size, and queue_notify; features/config_read/config_write/
 *     activate/reset as it needs them;
 *   - queue_notify pops at most `budget` requests and returns true if it
 *     left work behind (the reactor calls again after the other devices);
 *   - requests served later keep their struct virtio_request and end with
 *     virtio_request_complete() from any thread, in any order;
 *   - reset must make every in-flight request complete soon (finish or
 *     cancel it): virtio_device_reset() waits for all of them;
 *   - limits from its config: virtio_device_set_max_chain() (e.g. seg_max
 *     + 2), at most VIRTIO_REQUEST_MAX_BUFS buffers per direction, at
 *     most VIRTIO_MAX_QUEUES queues.
 *
 * Locks: dev->lock serializes the transport's registers, the queues and
 * the device model's state. A device's own locks (if it has an I/O
 * thread) nest inside dev->lock and are never held while calling
 * virtio_request_complete(). The whole map is in vmm/virtio-devices.h.
 */
#ifndef SKIFF_VIRTIO_DEVICE_H
#define SKIFF_VIRTIO_DEVICE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/guest-mem.h"
#include "base/log.h"
#include "virtio/virtio-request.h"
#include "virtqueue/virtqueue.h"

#define VIRTIO_MAX_QUEUES 64 /* net/blk multiqueue: many queue pairs */

/* Feature bits every device may offer (the transport adds the ring features). */
#define VIRTIO_FEATURE(bit) (1ull << (bit))

struct virtio_device;

struct virtio_device_ops {
	const char *type;        /* "rng", for names like "virtio-rng0" */
	uint32_t device_id;      /* VIRTIO_ID_* */
	unsigned nr_queues;
	uint16_t queue_max_size; /* per queue */
	size_t config_size;      /* bytes of device-specific config space */

	/* Device-specific feature bits (the transport adds VERSION_1,
	 * RING_EVENT_IDX, INDIRECT_DESC, RING_PACKED as it supports them). */
	uint64_t (*features)(struct virtio_device *dev);
	/* Config space access; offset+len <= config_size (checked by the transport). */
	void (*config_read)(struct virtio_device *dev, size_t offset, void *data, size_t len);
	void (*config_write)(struct virtio_device *dev, size_t offset, const void *data, size_t len);
	/* The driver set DRIVER_OK: negotiated features are in dev->features.
	 * Return 0, or <0 to refuse (the device then needs a reset). */
	int (*activate)(struct virtio_device *dev);
	/* Queue q was kicked (on the reactor thread, dev->lock held). Pop at
	 * most `budget` requests; return true if more are waiting. */
	bool (*queue_notify)(struct virtio_device *dev, unsigned q, unsigned budget);
	/* Optional: right after queue_notify, on the same thread, dev->lock
	 * released: finish what the requests just started finished at once. */
	void (*queue_served)(struct virtio_device *dev, unsigned q);
	/* Optional: may the reactor poll queue q's ring (reactor.h,
	 * "Polling")? Yes for request queues, where every buffer the driver
	 * makes available is work; not for receive or event queues, where
	 * buffers wait for data and a full ring is the normal state. */
	bool (*queue_polled)(const struct virtio_device *dev, unsigned q);
	/* Device reset by the driver (dev->lock held): forget state and make
	 * in-flight requests complete soon (finish or cancel them); the
	 * reset then waits for them with dev->lock released. */
	void (*reset)(struct virtio_device *dev);
};

/* What the transport provides to the device. */
struct virtio_transport_ops {
	void (*notify_used)(struct virtio_device *dev, unsigned q); /* raise the queue's interrupt */
	void (*notify_config)(struct virtio_device *dev);           /* config changed interrupt */
};

/* Counters for the control socket's `stats` (guarded by dev->lock). */
struct virtio_device_stats {
	uint64_t requests;     /* chains completed */
	uint64_t bytes;        /* their bytes: read by the device plus written */
	uint64_t errors;       /* broken rings and requests the device refused */
	uint64_t needs_reset;  /* times DEVICE_NEEDS_RESET was raised */
};

struct virtio_device {
	const struct virtio_device_ops *ops;
	void *priv;                 /* the device model's own state */
	char name[32];              /* "virtio-rng0" */
	const struct guest_mem *mem;
	pthread_mutex_t lock;       /* serializes the device against the transport */

	uint64_t features;          /* negotiated (driver-acked) features */
	struct virtqueue vqs[VIRTIO_MAX_QUEUES];

	const struct virtio_transport_ops *transport;
	void *transport_priv;

	/* State every transport shares (status and feature negotiation are
	 * the same on PCI and MMIO, only the registers differ). The
	 * transport fills `offered` at creation; the rest is guarded by lock. */
	uint64_t offered;           /* device features + the transport's ring features */
	uint64_t driver_features;   /* as last written by the driver */
	bool legacy_features;       /* the driver negotiated through a legacy interface */
	uint8_t status;             /* VIRTIO_CONFIG_S_* */
	uint32_t config_generation; /* bumped by virtio_device_notify_config() */
	struct log_limit needs_reset_log; /* a guest looping through error and reset must not flood the log */

	/* Kicks: the eventfd of each queue, signalled by KVM (ioeventfd) or
	 * by virtio_device_kick(); the machine sets them and serves them on
	 * its reactor. -1: no reactor, kicks are served inline (unit tests). */
	int kick_fd[VIRTIO_MAX_QUEUES];

	/* Asynchronous requests (guarded by lock). */
	unsigned inflight;          /* popped, not yet completed (void ones too) */
	/* Bumped for queue q whenever its rings are let go (device reset,
	 * queue disabled): requests popped before are void, their
	 * completions never reach the rings the driver may set up next. */
	uint32_t queue_epoch[VIRTIO_MAX_QUEUES];
	bool resetting;             /* a reset waits for in-flight requests */
	pthread_cond_t quiesced;    /* inflight dropped to 0 */
	char vq_names[VIRTIO_MAX_QUEUES][48]; /* storage for vqs[q].name */
	struct virtio_device_stats stats;
};

/* After a batch of virtio_request_push_locked(): interrupt the driver if it wants one.
 * Called with dev->lock held (as in queue_notify). */
void virtio_device_notify_used(struct virtio_device *dev, unsigned q);
/* The driver broke the protocol (a device model's check, or the engine's
 * on a ring): the one place that sets DEVICE_NEEDS_RESET, logs it (rate
 * limited) and raises the config-change interrupt. Transports only read
 * the status. Called with dev->lock held. */
void virtio_device_needs_reset(struct virtio_device *dev);
/* Called by a device after changing its config space (dev->lock held):
 * bumps config_generation and raises the config-change interrupt. */
void virtio_device_notify_config(struct virtio_device *dev);
/* The longest chain queue q accepts, in buffers (e.g. virtio-blk seg_max
 * + 2 for header and status); kept across resets. 0 = the queue size. */
void virtio_device_set_max_chain(struct virtio_device *dev, unsigned q, uint16_t bufs);
/* Initialize the common part (names queues "NAME.qN", sets mem). */
void virtio_device_init(struct virtio_device *dev, const struct virtio_device_ops *ops, void *priv,
			const char *name, const struct guest_mem *mem);

/* ---- helpers for transports (dev->lock held, except virtio_device_kick) ---- */

/* The driver wrote 0 to the status register: forget negotiated features,
 * reset the device model, wait (dev->lock released meanwhile) until no
 * request is in flight, then reset every queue (sizes back to the maximum). */
void virtio_device_reset(struct virtio_device *dev);
/* The driver wrote a non-zero status. Handles FEATURES_OK (kept clear if
 * the driver's features are refused) and DRIVER_OK (activates the device). */
void virtio_device_set_status(struct virtio_device *dev, uint8_t status);
/* Driver features written through a modern interface: 32 bits at word
 * `sel`; checked when the driver sets FEATURES_OK. Ignored after it. */
void virtio_device_write_driver_features(struct virtio_device *dev, uint32_t sel, uint32_t value);
/* Driver features written through a legacy interface (which has no
 * FEATURES_OK): bits not offered are dropped, the rest take effect now. */
void virtio_device_write_legacy_features(struct virtio_device *dev, uint32_t sel, uint32_t value);
/* 32 offered feature bits at word sel (0 beyond the second word). */
uint32_t virtio_device_offered_word(const struct virtio_device *dev, uint32_t sel);
/* Start queue q with the addresses and size in dev->vqs[q]: checks the
 * size, applies the negotiated ring features, vq_enable(). On a bad
 * queue, sets DEVICE_NEEDS_RESET and returns <0. */
int virtio_device_enable_queue(struct virtio_device *dev, unsigned q);
/* Stop queue q but keep its size and addresses (MMIO QueueReady = 0,
 * legacy PFN = 0). Requests of q still in flight become void, as on a
 * reset: their completions are dropped, never pushed into the rings the
 * driver enables next (which may be smaller, or elsewhere). A device
 * reset still waits for them. */
void virtio_device_disable_queue(struct virtio_device *dev, unsigned q);
/* May queue q be served now? Started, device not failed or needing a
 * reset, and DRIVER_OK (legacy drivers: not required). dev->lock held. */
bool virtio_device_queue_live(const struct virtio_device *dev, unsigned q);
/* The driver kicked queue q (a vCPU exit the ioeventfd did not catch):
 * signal the queue's kick eventfd, so the device runs on the reactor, not
 * on the vCPU. Without a kick eventfd, serve it here. dev->lock not held. */
void virtio_device_kick(struct virtio_device *dev, unsigned q);
/* For the reactor's polling: does live queue q hold buffers the device
 * has not popped? Reads the ring only. Never waits for dev->lock: false
 * if another thread holds it (the poll asks again). */
bool virtio_device_has_requests(struct virtio_device *dev, unsigned q);
/* The reactor polls queue q's ring (on): the driver is asked not to kick
 * it; or stops (off): the driver is asked to kick again, and the return
 * says whether requests came meanwhile. Takes dev->lock. */
bool virtio_device_set_polled(struct virtio_device *dev, unsigned q, bool on);
/* Serve queue q with at most budget requests if it is live (the reactor's
 * handler for the kick eventfd). Takes dev->lock. True if work is left. */
bool virtio_device_service(struct virtio_device *dev, unsigned q, unsigned budget);

#endif
