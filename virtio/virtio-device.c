/* The transport-independent half of a virtio device: the status register
 * state machine, feature negotiation, queue start/stop, and the path from
 * a device's vq_push() to the transport's interrupt. PCI and MMIO only
 * decode their own registers and call in here. See virtio-device.h. */
#include "virtio/virtio-device.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>

#include "base/log.h"
#include "base/trace.h"

void virtio_device_init(struct virtio_device *dev, const struct virtio_device_ops *ops, void *priv,
			const char *name, const struct guest_mem *mem)
{
	memset(dev, 0, sizeof(*dev));
	dev->ops = ops;
	dev->priv = priv;
	dev->mem = mem;
	snprintf(dev->name, sizeof(dev->name), "%s", name);
	pthread_mutex_init(&dev->lock, NULL);
	pthread_cond_init(&dev->quiesced, NULL);
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++) {
		dev->kick_fd[q] = -1;
		struct virtqueue *vq = &dev->vqs[q];

		snprintf(dev->vq_names[q], sizeof(dev->vq_names[q]), "%s.q%u", dev->name, q);
		vq->mem = mem;
		vq->name = dev->vq_names[q];
		vq_reset(vq);
		/* The driver reads the maximum size until it writes its own. */
		vq->size = ops->queue_max_size;
	}
}

void virtio_device_set_max_chain(struct virtio_device *dev, unsigned q, uint16_t bufs)
{
	if (q < VIRTIO_MAX_QUEUES)
		dev->vqs[q].max_chain = bufs;
}

void virtio_device_notify_used(struct virtio_device *dev, unsigned q)
{
	if (q >= dev->ops->nr_queues || !dev->transport)
		return;
	/* EVENT_IDX or VRING_AVAIL_F_NO_INTERRUPT may say "not now". */
	if (vq_needs_interrupt(&dev->vqs[q]))
		dev->transport->notify_used(dev, q);
}

/* Set DEVICE_NEEDS_RESET, saying why if the engine knows (a broken ring). */
static void needs_reset_because(struct virtio_device *dev, const struct virtqueue *vq)
{
	if (dev->status & VIRTIO_CONFIG_S_NEEDS_RESET)
		return; /* already reported; one interrupt is enough */
	dev->stats.needs_reset++;
	TRACE(TRACE_STATUS, dev->name, "status needs-reset (%s)", vq && vq->broken ? vq->broken_why : "driver error");
	dev->status |= VIRTIO_CONFIG_S_NEEDS_RESET;
	if (vq && vq->broken)
		log_limited(&dev->needs_reset_log, LOG_WARN, dev->name, "driver error, device needs reset: %s: %s",
			    vq->name, vq->broken_why);
	else
		log_limited(&dev->needs_reset_log, LOG_WARN, dev->name, "driver error, device needs reset");
	/* Before DRIVER_OK the driver is not listening for interrupts. */
	if ((dev->status & VIRTIO_CONFIG_S_DRIVER_OK) && dev->transport)
		dev->transport->notify_config(dev);
}

void virtio_device_needs_reset(struct virtio_device *dev)
{
	needs_reset_because(dev, NULL);
}

void virtio_device_notify_config(struct virtio_device *dev)
{
	/* A driver reading config in several accesses re-reads when the
	 * generation moved under it. */
	dev->config_generation++;
	if (dev->transport)
		dev->transport->notify_config(dev);
}

/* The driver lets go of queue q's rings (reset or queue disable): start a
 * new epoch for q. Requests popped from q before now complete into
 * nothing, so a late completion can never land in, or run past, the rings
 * the driver sets up next. */
static void queue_new_epoch(struct virtio_device *dev, unsigned q)
{
	dev->queue_epoch[q]++;
}

static bool request_current(const struct virtio_request *req)
{
	return req->epoch == req->dev->queue_epoch[req->q];
}

void virtio_device_reset(struct virtio_device *dev)
{
	TRACE(TRACE_STATUS, dev->name, "status %#x -> 0 (reset)", dev->status);
	dev->status = 0;
	dev->features = 0;
	dev->driver_features = 0;
	dev->legacy_features = false;
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
		queue_new_epoch(dev, q);
	dev->resetting = true; /* nothing is served while we wait */
	if (dev->ops->reset)
		dev->ops->reset(dev);
	/* Quiesce: the device's threads may still be writing into guest
	 * buffers of the old requests. Wait (dev->lock released) until they
	 * have all completed or been cancelled. */
	while (dev->inflight)
		pthread_cond_wait(&dev->quiesced, &dev->lock);
	dev->resetting = false;
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++) {
		vq_reset(&dev->vqs[q]);
		dev->vqs[q].size = dev->ops->queue_max_size;
	}
}

/* ---- requests ---- */

int virtio_request_pop(struct virtio_device *dev, unsigned q, struct virtio_request *req)
{
	if (q >= dev->ops->nr_queues)
		return 0;
	int ret = vq_pop(&dev->vqs[q], &req->chain);
	if (ret < 0) {
		dev->stats.errors++;
		needs_reset_because(dev, &dev->vqs[q]); /* the engine found a broken ring */
		return ret;
	}
	if (ret == 0)
		return 0;
	req->dev = dev;
	req->q = q;
	req->epoch = dev->queue_epoch[q];
	dev->inflight++;
	TRACE(TRACE_REQUEST, dev->name, "request pop q%u head %u out %llu in %llu", q, req->chain.id,
	      (unsigned long long)req->chain.out_bytes, (unsigned long long)req->chain.in_bytes);
	return 1;
}

/* dev->lock held. Only a reset waits for the count to reach 0: no
 * broadcast on every request otherwise (20 instructions each). */
static void request_done(struct virtio_device *dev)
{
	if (--dev->inflight == 0 && dev->resetting)
		pthread_cond_broadcast(&dev->quiesced);
}

static void trace_completed(const struct virtio_request *req, uint32_t written)
{
	TRACE(TRACE_REQUEST, req->dev->name, "request done q%u head %u written %u", req->q, req->chain.id, written);
}

/* The engine refused to take a chain back (it cannot be from this ring)
 * and stopped the queue: a device bug or a stale chain, never written. */
static void ring_refused_chain(struct virtio_device *dev, unsigned q)
{
	dev->stats.errors++;
	needs_reset_because(dev, &dev->vqs[q]);
}

unsigned virtio_request_available(struct virtio_device *dev, unsigned q, unsigned max)
{
	return q < dev->ops->nr_queues ? vq_avail_at_least(&dev->vqs[q], max) : 0;
}

void virtio_request_unpop(struct virtio_request *req)
{
	struct virtio_device *dev = req->dev;

	if (request_current(req) && vq_unpop(&dev->vqs[req->q], &req->chain) < 0)
		ring_refused_chain(dev, req->q);
	request_done(dev);
}

int virtio_request_iov(const struct virtio_request *req, bool writable, struct iovec *iov, unsigned max)
{
	return vq_chain_iov(&req->dev->vqs[req->q], &req->chain, writable, iov, max);
}

unsigned virtio_request_nbufs(const struct virtio_request *req, bool writable)
{
	return writable ? req->chain.nin : req->chain.nout;
}

uint32_t virtio_request_buf_len(const struct virtio_request *req, bool writable, unsigned i)
{
	return writable ? req->chain.in[i].len : req->chain.out[i].len;
}

size_t virtio_request_read(const struct virtio_request *req, size_t offset, void *dst, size_t len)
{
	return vq_chain_read(&req->dev->vqs[req->q], &req->chain, offset, dst, len);
}

size_t virtio_request_write(const struct virtio_request *req, size_t offset, const void *src, size_t len)
{
	return vq_chain_write(&req->dev->vqs[req->q], &req->chain, offset, src, len);
}

void virtio_request_push_locked(struct virtio_request *req, uint32_t written)
{
	struct virtio_device *dev = req->dev;

	if (request_current(req)) {
		if (vq_push(&dev->vqs[req->q], &req->chain, written) < 0) {
			ring_refused_chain(dev, req->q);
		} else {
			dev->stats.requests++;
			dev->stats.bytes += req->chain.out_bytes + written;
			trace_completed(req, written);
		}
	}
	request_done(dev);
}

void virtio_request_complete_locked(struct virtio_request *req, uint32_t written)
{
	struct virtio_device *dev = req->dev;
	bool current = request_current(req);

	virtio_request_push_locked(req, written);
	if (current)
		virtio_device_notify_used(dev, req->q);
}

void virtio_request_complete_batch_locked(struct virtio_request *reqs, const uint32_t *written, unsigned n)
{
	const struct vq_chain *chains[VIRTIO_REQUEST_BATCH_MAX];
	struct virtio_device *dev;
	unsigned live = 0;

	if (n == 0)
		return;
	dev = reqs[0].dev;
	for (unsigned i = 0; i < n && i < VIRTIO_REQUEST_BATCH_MAX; i++)
		if (request_current(&reqs[i]))
			chains[live++] = &reqs[i].chain;
	/* Popped in one go under dev->lock: all of one epoch, or none. */
	if (live == n) {
		if (vq_push_batch(&dev->vqs[reqs[0].q], chains, written, n) < 0) {
			ring_refused_chain(dev, reqs[0].q);
		} else {
			for (unsigned i = 0; i < n; i++) {
				dev->stats.requests++;
				dev->stats.bytes += reqs[i].chain.out_bytes + written[i];
				trace_completed(&reqs[i], written[i]);
			}
		}
		virtio_device_notify_used(dev, reqs[0].q);
	}
	for (unsigned i = 0; i < n; i++)
		request_done(dev);
}

void virtio_request_complete(struct virtio_request *req, uint32_t written)
{
	struct virtio_device *dev = req->dev;

	pthread_mutex_lock(&dev->lock);
	virtio_request_complete_locked(req, written);
	pthread_mutex_unlock(&dev->lock);
}

/* Copy the ring-format features into the queues not yet started (a
 * running queue's format must not change under the engine). */
static void apply_ring_features(struct virtio_device *dev)
{
	for (unsigned q = 0; q < dev->ops->nr_queues; q++) {
		struct virtqueue *vq = &dev->vqs[q];

		if (vq->ready)
			continue;
		vq->packed = dev->features & VIRTIO_FEATURE(VIRTIO_F_RING_PACKED);
		vq->event_idx = dev->features & VIRTIO_FEATURE(VIRTIO_RING_F_EVENT_IDX);
		vq->indirect = dev->features & VIRTIO_FEATURE(VIRTIO_RING_F_INDIRECT_DESC);
	}
}

/* May the device work with these driver features? Nothing it did not
 * offer, and VERSION_1 whenever it was offered: a modern interface
 * without it is a legacy driver on the wrong registers. */
static bool features_acceptable(const struct virtio_device *dev, uint64_t features)
{
	if (features & ~dev->offered)
		return false;
	if ((dev->offered & VIRTIO_FEATURE(VIRTIO_F_VERSION_1)) && !(features & VIRTIO_FEATURE(VIRTIO_F_VERSION_1)))
		return false;
	return true;
}

/* Is the driver using a legacy interface? Either the device has nothing
 * else (VERSION_1 not offered) or the driver wrote the legacy features. */
static bool legacy_driver(const struct virtio_device *dev)
{
	return !(dev->offered & VIRTIO_FEATURE(VIRTIO_F_VERSION_1)) || dev->legacy_features;
}

void virtio_device_set_status(struct virtio_device *dev, uint8_t status)
{
	uint8_t old = dev->status;
	/* NEEDS_RESET belongs to the device: the driver can neither set nor clear it. */
	uint8_t next = (status & ~VIRTIO_CONFIG_S_NEEDS_RESET) | (old & VIRTIO_CONFIG_S_NEEDS_RESET);
	uint8_t newly = next & ~old;

	if (newly & VIRTIO_CONFIG_S_FEATURES_OK) {
		if (features_acceptable(dev, dev->driver_features)) {
			dev->features = dev->driver_features;
			apply_ring_features(dev);
		} else {
			/* The driver reads status back and sees it refused. */
			log_debug(dev->name, "refusing features %#llx (offered %#llx)",
				  (unsigned long long)dev->driver_features, (unsigned long long)dev->offered);
			next &= ~VIRTIO_CONFIG_S_FEATURES_OK;
		}
	}
	if (next != old)
		TRACE(TRACE_STATUS, dev->name, "status %#x -> %#x", old, next);
	dev->status = next;

	if (newly & VIRTIO_CONFIG_S_DRIVER_OK) {
		/* A modern driver must have completed FEATURES_OK; a legacy one
		 * has no such step. Either must have said DRIVER first. */
		bool ready = (next & VIRTIO_CONFIG_S_DRIVER) &&
			     (legacy_driver(dev) || (next & VIRTIO_CONFIG_S_FEATURES_OK));
		if (!ready || (dev->ops->activate && dev->ops->activate(dev) < 0))
			virtio_device_needs_reset(dev);
	}
}

void virtio_device_write_driver_features(struct virtio_device *dev, uint32_t sel, uint32_t value)
{
	if (sel > 1 || (dev->status & VIRTIO_CONFIG_S_FEATURES_OK))
		return; /* no such word / too late to change: ignored per spec */
	dev->driver_features &= ~(0xffffffffull << (32 * sel));
	dev->driver_features |= (uint64_t)value << (32 * sel);
}

void virtio_device_write_legacy_features(struct virtio_device *dev, uint32_t sel, uint32_t value)
{
	if (sel > 1 || (dev->status & VIRTIO_CONFIG_S_DRIVER_OK))
		return;
	dev->driver_features &= ~(0xffffffffull << (32 * sel));
	dev->driver_features |= (uint64_t)value << (32 * sel);
	/* Legacy has no way to refuse: use what we offered of it. VERSION_1
	 * cannot be negotiated through a legacy interface. */
	dev->legacy_features = true;
	dev->features = dev->driver_features & dev->offered & ~VIRTIO_FEATURE(VIRTIO_F_VERSION_1) &
			~VIRTIO_FEATURE(VIRTIO_F_RING_PACKED);
	apply_ring_features(dev);
}

uint32_t virtio_device_offered_word(const struct virtio_device *dev, uint32_t sel)
{
	return sel <= 1 ? (uint32_t)(dev->offered >> (32 * sel)) : 0;
}

int virtio_device_enable_queue(struct virtio_device *dev, unsigned q)
{
	struct virtqueue *vq;
	int ret;

	if (q >= dev->ops->nr_queues)
		return -EINVAL;
	vq = &dev->vqs[q];
	if (vq->ready)
		return 0;
	apply_ring_features(dev);
	/* Split rings index with "& (size - 1)": the size must be a power of two. */
	if (vq->size == 0 || vq->size > dev->ops->queue_max_size ||
	    (!vq->packed && (vq->size & (vq->size - 1)))) {
		log_debug(dev->name, "queue %u: bad size %u", q, vq->size);
		virtio_device_needs_reset(dev);
		return -EINVAL;
	}
	ret = vq_enable(vq);
	if (ret < 0) {
		needs_reset_because(dev, vq);
	}
	return ret;
}

void virtio_device_disable_queue(struct virtio_device *dev, unsigned q)
{
	struct virtqueue *vq;
	uint16_t size;
	uint64_t desc, avail, used;

	if (q >= dev->ops->nr_queues)
		return;
	queue_new_epoch(dev, q);
	vq = &dev->vqs[q];
	size = vq->size;
	desc = vq->desc_addr;
	avail = vq->avail_addr;
	used = vq->used_addr;
	vq_reset(vq);
	vq->size = size;
	vq->desc_addr = desc;
	vq->avail_addr = avail;
	vq->used_addr = used;
}

/* Legacy drivers often kicked before DRIVER_OK (the spec allows for it);
 * modern drivers may not, and a device that needs a reset serves nothing. */
bool virtio_device_queue_live(const struct virtio_device *dev, unsigned q)
{
	if (q >= dev->ops->nr_queues || !dev->vqs[q].ready || dev->resetting)
		return false;
	if (dev->status & (VIRTIO_CONFIG_S_NEEDS_RESET | VIRTIO_CONFIG_S_FAILED))
		return false;
	return legacy_driver(dev) || (dev->status & VIRTIO_CONFIG_S_DRIVER_OK);
}

void virtio_device_kick(struct virtio_device *dev, unsigned q)
{
	uint64_t one = 1;

	if (q >= dev->ops->nr_queues)
		return; /* a guest writing a queue index that does not exist */
	if (dev->kick_fd[q] >= 0) {
		/* The same eventfd KVM signals: one path into the device (and
		 * one trace line, where the platform serves it). */
		(void)!write(dev->kick_fd[q], &one, sizeof(one));
		return;
	}
	TRACE(TRACE_KICK, dev->name, "kick q%u", q);
	while (virtio_device_service(dev, q, UINT32_MAX))
		;
}

bool virtio_device_has_requests(struct virtio_device *dev, unsigned q)
{
	bool has = false;

	if (pthread_mutex_trylock(&dev->lock) != 0)
		return false;
	if (virtio_device_queue_live(dev, q))
		has = vq_avail_at_least(&dev->vqs[q], 1) > 0;
	pthread_mutex_unlock(&dev->lock);
	return has;
}

bool virtio_device_set_polled(struct virtio_device *dev, unsigned q, bool on)
{
	bool arrived = false;

	pthread_mutex_lock(&dev->lock);
	if (q < dev->ops->nr_queues)
		arrived = vq_enable_notify(&dev->vqs[q], !on);
	pthread_mutex_unlock(&dev->lock);
	return arrived;
}

bool virtio_device_service(struct virtio_device *dev, unsigned q, unsigned budget)
{
	bool more = false;

	pthread_mutex_lock(&dev->lock);
	if (virtio_device_queue_live(dev, q) && dev->ops->queue_notify)
		more = dev->ops->queue_notify(dev, q, budget);
	pthread_mutex_unlock(&dev->lock);
	if (dev->ops->queue_served)
		dev->ops->queue_served(dev, q);
	return more;
}
