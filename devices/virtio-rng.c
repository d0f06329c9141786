/* virtio-rng: fill the driver's buffers with host randomness, optionally
 * rate-limited. See virtio-rng.h. */
#include "devices/virtio-rng.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <linux/virtio_ids.h>

#include "vmm/log.h"

#define RNG_CHUNK 256 /* bytes per getrandom() call */

static uint64_t monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* ---- token bucket ---- */

static void bucket_refill(struct virtio_rng *rng)
{
	uint64_t now = rng->clock_ns();
	double capacity = (double)rng->rate; /* one second's worth */

	if (now > rng->last_refill_ns) {
		rng->tokens += (double)rng->rate * (double)(now - rng->last_refill_ns) / 1e9;
		if (rng->tokens > capacity)
			rng->tokens = capacity;
	}
	rng->last_refill_ns = now;
}

/* How many of `want` bytes may go out now (taken from the bucket). */
static size_t bucket_take(struct virtio_rng *rng, size_t want)
{
	size_t grant;

	if (rng->rate == 0)
		return want;
	bucket_refill(rng);
	grant = rng->tokens < (double)want ? (size_t)rng->tokens : want;
	rng->tokens -= (double)grant;
	return grant;
}

static void bucket_give_back(struct virtio_rng *rng, size_t unused)
{
	if (rng->rate)
		rng->tokens += (double)unused;
}

/* ---- serving requests ---- */

/* Write up to len random bytes into the chain's in segments. Returns the
 * bytes written, or -EAGAIN if the host has no entropy to give yet. */
static long fill_chain(struct virtqueue *vq, const struct vq_chain *chain, size_t len)
{
	uint8_t buf[RNG_CHUNK];
	size_t done = 0;

	while (done < len) {
		size_t n = len - done < sizeof(buf) ? len - done : sizeof(buf);
		ssize_t got = getrandom(buf, n, GRND_NONBLOCK);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			break; /* EAGAIN: pool not initialized yet */
		size_t copied = vq_chain_write(vq, chain, done, buf, got);
		done += copied;
		if (copied < (size_t)got)
			break; /* end of the buffers (cannot happen: len <= in_bytes) */
	}
	memset(buf, 0, sizeof(buf)); /* don't leave the bytes on the stack */
	return done == 0 && len > 0 ? -EAGAIN : (long)done;
}

/* Serve every available chain we can; dev->lock held. */
static void rng_serve(struct virtio_rng *rng)
{
	struct virtio_device *dev = &rng->vdev;
	struct virtqueue *vq = &dev->vqs[0];
	struct vq_chain chain;
	bool pushed = false;
	int ret;

	rng->waiting = false;
	while ((ret = vq_pop(vq, &chain)) == 1) {
		size_t want, grant;
		long written;

		if (chain.nout) {
			/* Entropy requests are device-writable only. */
			log_debug(dev->name, "request with device-readable buffers");
			virtio_device_needs_reset(dev);
			break;
		}
		want = chain.in_bytes < VIRTIO_RNG_MAX_REQUEST ? chain.in_bytes : VIRTIO_RNG_MAX_REQUEST;
		grant = bucket_take(rng, want);
		written = grant ? fill_chain(vq, &chain, grant) : 0;
		if ((want && !grant) || written < 0) {
			/* Nothing to give right now: keep the request for later. */
			bucket_give_back(rng, grant);
			vq_unpop(vq, &chain);
			rng->waiting = true;
			break;
		}
		bucket_give_back(rng, grant - written);
		vq_push(vq, &chain, written);
		pushed = true;
	}
	if (ret < 0)
		virtio_device_needs_reset(dev); /* the engine found a broken ring */
	if (pushed)
		virtio_device_notify_used(dev, 0);
}

static void rng_queue_notify(struct virtio_device *dev, unsigned q)
{
	rng_serve(dev->priv);
}

static void rng_reset(struct virtio_device *dev)
{
	struct virtio_rng *rng = dev->priv;

	/* The bucket is host policy: a reset does not refill it. */
	rng->waiting = false;
}

static const struct virtio_device_ops rng_ops = {
	.type = "rng",
	.device_id = VIRTIO_ID_RNG,
	.nr_queues = 1,
	.queue_max_size = VIRTIO_RNG_QUEUE_SIZE,
	.config_size = 0,
	.queue_notify = rng_queue_notify,
	.reset = rng_reset,
};

void virtio_rng_init(struct virtio_rng *rng, const struct guest_mem *mem, uint64_t rate)
{
	virtio_device_init(&rng->vdev, &rng_ops, rng, "virtio-rng0", mem);
	rng->rate = rate;
	rng->tokens = (double)rate; /* start with a full bucket */
	rng->clock_ns = monotonic_ns;
	rng->last_refill_ns = monotonic_ns();
	rng->waiting = false;
}

void virtio_rng_poll(struct virtio_rng *rng)
{
	pthread_mutex_lock(&rng->vdev.lock);
	if (rng->waiting && virtio_device_queue_live(&rng->vdev, 0))
		rng_serve(rng);
	pthread_mutex_unlock(&rng->vdev.lock);
}
