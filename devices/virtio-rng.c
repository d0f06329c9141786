/* virtio-rng: fill the driver's buffers with host randomness, optionally
 * rate-limited. See virtio-rng.h. */
#include "devices/virtio-rng.h"
#include "base/monotonic.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <linux/virtio_ids.h>

#include "base/log.h"

#define RNG_CHUNK 256 /* bytes per getrandom() call */

/* ---- token bucket ---- */

static void bucket_refill(struct virtio_rng *rng)
{
	int64_t now = rng->clock_ns();
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

/* Fill up to len bytes of the request's device-writable buffers straight
 * from getrandom(): the iovecs point into guest RAM, nothing is copied.
 * Returns the bytes written, or -EAGAIN if the host has no entropy yet. */
static long fill_request(const struct virtio_request *req, size_t len)
{
	struct iovec iov[VIRTIO_REQUEST_MAX_BUFS];
	int n = virtio_request_iov(req, true, iov, VIRTIO_REQUEST_MAX_BUFS);
	size_t done = 0;

	for (int i = 0; i < n && done < len; i++) {
		size_t off = 0, want = iov[i].iov_len < len - done ? iov[i].iov_len : len - done;
		while (off < want) {
			size_t chunk = want - off < RNG_CHUNK ? want - off : RNG_CHUNK;
			ssize_t got = getrandom((uint8_t *)iov[i].iov_base + off, chunk, GRND_NONBLOCK);
			if (got < 0 && errno == EINTR)
				continue;
			if (got <= 0)
				goto out; /* EAGAIN: pool not initialized yet */
			off += (size_t)got;
		}
		done += off;
	}
out:
	return done == 0 && len > 0 ? -EAGAIN : (long)done;
}

/* Serve up to budget requests; dev->lock held. Returns true if requests
 * are left in the ring (budget used up). Entropy requests are tiny and
 * synchronous: each completes before the next is popped. */
static bool rng_serve(struct virtio_rng *rng, unsigned budget)
{
	struct virtio_device *dev = &rng->vdev;
	struct virtio_request req;
	unsigned served = 0;

	rng->waiting = false;
	while (served < budget && virtio_request_pop(dev, 0, &req) == 1) {
		size_t want, grant;
		long written;

		if (virtio_request_readable(&req)) {
			/* Entropy requests are device-writable only. */
			log_debug(dev->name, "request with device-readable buffers");
			virtio_request_unpop(&req);
			virtio_device_needs_reset(dev);
			return false;
		}
		want = virtio_request_writable(&req) < VIRTIO_RNG_MAX_REQUEST ? virtio_request_writable(&req) : VIRTIO_RNG_MAX_REQUEST;
		grant = bucket_take(rng, want);
		written = grant ? fill_request(&req, grant) : 0;
		if ((want && !grant) || written < 0) {
			/* Nothing to give right now: keep the request for later. */
			bucket_give_back(rng, grant);
			virtio_request_unpop(&req);
			rng->waiting = true;
			return false;
		}
		bucket_give_back(rng, grant - (size_t)written);
		virtio_request_complete_locked(&req, (uint32_t)written);
		served++;
	}
	return served == budget;
}

static bool rng_queue_notify(struct virtio_device *dev, unsigned q, unsigned budget)
{
	return rng_serve(dev->priv, budget);
}

static void rng_reset(struct virtio_device *dev)
{
	struct virtio_rng *rng = dev->priv;

	/* The bucket is host policy: a reset does not refill it. Requests are
	 * completed synchronously, so none is in flight here. */
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

void virtio_rng_init(struct virtio_rng *rng, const char *name, const struct guest_mem *mem, uint64_t rate)
{
	virtio_device_init(&rng->vdev, &rng_ops, rng, name, mem);
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
		rng_serve(rng, VIRTIO_RNG_QUEUE_SIZE);
	pthread_mutex_unlock(&rng->vdev.lock);
}

/* ---- the device-type table entry ---- */

static int rng_parse_rate(void *config, const char *value, char *err, size_t errlen)
{
	struct virtio_rng_config *c = config;

	if (!device_parse_positive(value, &c->rate)) {
		snprintf(err, errlen, "rate '%s' must be a positive whole number of bytes per second", value);
		return -EINVAL;
	}
	return 0;
}

static const struct device_key rng_keys[] = {
	{ "rate", "BYTES_PER_SEC", "rate limit (default unlimited)", rng_parse_rate },
	{ NULL },
};

static struct virtio_device *rng_create(void *state, const void *config, const char *name,
					const struct guest_mem *mem, struct reactor *reactor, char *err, size_t errlen)
{
	const struct virtio_rng_config *c = config;
	struct virtio_rng *rng = state;

	virtio_rng_init(rng, name, mem, c->rate);
	return &rng->vdev;
}

/* Held-back requests are retried this often while rate-limited. */
static unsigned rng_timer_ms(const void *config)
{
	const struct virtio_rng_config *c = config;

	return c->rate ? 20 : 0;
}

static void rng_timer(void *state)
{
	virtio_rng_poll(state);
}

const struct device_type virtio_rng_type = {
	.name = "rng",
	.help = "virtio entropy source (host getrandom)",
	.keys = rng_keys,
	.config_size = sizeof(struct virtio_rng_config),
	.state_size = sizeof(struct virtio_rng),
	.create = rng_create,
	.timer_ms = rng_timer_ms,
	.timer = rng_timer,
};
