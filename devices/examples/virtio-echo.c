/* virtio-echo: copy each request's message back into its room. See
 * virtio-echo.h; docs/guide-device-type.md walks through this file. */
#include "devices/examples/virtio-echo.h"

#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/log.h"

/* ---- serving requests ---- */

/* Copy up to limit bytes from the message iovecs to the room iovecs.
 * memmove, not memcpy: a hostile driver may point a readable and a
 * writable buffer at the same guest memory. Returns the bytes copied. */
static size_t echo_copy(const struct iovec *msg, int nmsg, const struct iovec *room, int nroom, size_t limit,
			bool uppercase)
{
	size_t done = 0, moff = 0, roff = 0;
	int m = 0, r = 0;

	while (done < limit && m < nmsg && r < nroom) {
		size_t n = msg[m].iov_len - moff;
		uint8_t *dst = (uint8_t *)room[r].iov_base + roff;

		if (n > room[r].iov_len - roff)
			n = room[r].iov_len - roff;
		if (n > limit - done)
			n = limit - done;
		memmove(dst, (const uint8_t *)msg[m].iov_base + moff, n);
		for (size_t i = 0; uppercase && i < n; i++)
			if (dst[i] >= 'a' && dst[i] <= 'z')
				dst[i] -= 'a' - 'A'; /* ASCII only, whatever the locale */
		done += n;
		moff += n;
		roff += n;
		if (moff == msg[m].iov_len) {
			m++;
			moff = 0;
		}
		if (roff == room[r].iov_len) {
			r++;
			roff = 0;
		}
	}
	return done;
}

/* Serve up to budget requests; dev->lock held (the core calls
 * queue_notify with it). Each request completes before the next is
 * popped. Returns true if the budget ran out with requests left. */
static bool echo_queue_notify(struct virtio_device *dev, unsigned q, unsigned budget)
{
	struct virtio_echo *echo = dev->priv;
	bool uppercase = dev->features & VIRTIO_FEATURE(VIRTIO_ECHO_F_UPPERCASE);
	struct iovec msg[VIRTIO_REQUEST_MAX_BUFS], room[VIRTIO_REQUEST_MAX_BUFS];
	struct virtio_request req;
	unsigned served = 0;

	while (served < budget && virtio_request_pop(dev, q, &req) == 1) {
		if (virtio_request_readable(&req) == 0 || virtio_request_writable(&req) == 0) {
			log_debug(dev->name, "request without a message or without room");
			virtio_request_unpop(&req);
			virtio_device_needs_reset(dev);
			return false;
		}
		int nmsg = virtio_request_iov(&req, false, msg, VIRTIO_REQUEST_MAX_BUFS);
		int nroom = virtio_request_iov(&req, true, room, VIRTIO_REQUEST_MAX_BUFS);
		size_t copied = echo_copy(msg, nmsg, room, nroom, le32toh(echo->config.max_size), uppercase);

		virtio_request_complete_locked(&req, (uint32_t)copied);
		served++;
	}
	return served == budget;
}

/* ---- the virtio side: features and config space ---- */

static uint64_t echo_features(struct virtio_device *dev)
{
	return VIRTIO_FEATURE(VIRTIO_ECHO_F_UPPERCASE);
}

/* Kept little-endian, as the driver reads it. The transport has
 * checked offset + len <= config_size. */
static void echo_config_read(struct virtio_device *dev, size_t offset, void *data, size_t len)
{
	struct virtio_echo *echo = dev->priv;

	memcpy(data, (const uint8_t *)&echo->config + offset, len);
}

static const struct virtio_device_ops echo_ops = {
	.type = "echo",
	.device_id = VIRTIO_ECHO_DEVICE_ID,
	.nr_queues = 1,
	.queue_max_size = VIRTIO_ECHO_QUEUE_SIZE,
	.config_size = sizeof(struct virtio_echo_config),
	.features = echo_features,
	.config_read = echo_config_read,
	.queue_notify = echo_queue_notify,
	/* No .reset: every request completes inside queue_notify, so none is
	 * in flight when the driver resets, and max_size is host policy that
	 * a reset keeps. */
};

/* ---- the device-type table entry: --device echo[,max=BYTES] ---- */

static int echo_parse_max(void *config, const char *value, char *err, size_t errlen)
{
	struct virtio_echo_options *o = config;

	if (!device_parse_positive(value, &o->max_size) || o->max_size > VIRTIO_ECHO_MAX_MAX) {
		snprintf(err, errlen, "max '%s' must be a whole number of bytes from 1 to %u", value,
			 VIRTIO_ECHO_MAX_MAX);
		return -EINVAL;
	}
	return 0;
}

static const struct device_key echo_keys[] = {
	{ "max", "BYTES", "bytes echoed per request (default 4096)", echo_parse_max },
	{ NULL },
};

static struct virtio_device *echo_create(void *state, const void *config, const char *name,
					 const struct guest_mem *mem, struct reactor *reactor, char *err,
					 size_t errlen)
{
	const struct virtio_echo_options *o = config;
	struct virtio_echo *echo = state;

	virtio_device_init(&echo->vdev, &echo_ops, echo, name, mem);
	echo->config.max_size = htole32(o->max_size ? (uint32_t)o->max_size : VIRTIO_ECHO_DEFAULT_MAX);
	return &echo->vdev;
}

const struct device_type virtio_echo_type = {
	.name = "echo",
	.help = "example device: echoes each request (docs/guide-device-type.md)",
	.keys = echo_keys,
	.config_size = sizeof(struct virtio_echo_options),
	.state_size = sizeof(struct virtio_echo),
	.create = echo_create,
};
