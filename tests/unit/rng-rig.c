/* A driver-side virtio-rng for tests and benchmarks: see rng-rig.h. */
#include "tests/unit/rng-rig.h"

#include <stdlib.h>
#include <string.h>

#include <linux/virtio_config.h>

#define RIG_RAM   (1u << 20)
#define RIG_QSIZE 16
#define RING_GPA  0x1000
#define BUF_GPA   0x80000

static void rig_notify_used(struct virtio_device *dev, unsigned q)
{
	(void)q;
	struct rng_rig *r = (struct rng_rig *)((char *)dev - offsetof(struct rng_rig, rng.vdev));
	r->interrupts++;
}

static void rig_notify_config(struct virtio_device *dev)
{
	(void)dev;
}

static const struct virtio_transport_ops rig_transport = { rig_notify_used, rig_notify_config };

int rng_rig_start(struct rng_rig *r)
{
	const uint8_t steps[] = { VIRTIO_CONFIG_S_ACKNOWLEDGE, VIRTIO_CONFIG_S_DRIVER, VIRTIO_CONFIG_S_FEATURES_OK };
	struct virtio_device *dev = &r->rng.vdev;
	uint8_t status = 0;
	int ret = 0;

	memset(r, 0, sizeof(*r));
	r->ram = aligned_alloc(4096, RIG_RAM);
	if (!r->ram)
		return -1;
	memset(r->ram, 0, RIG_RAM);
	r->mem = (struct guest_mem){ .region = { { .gpa = 0, .size = RIG_RAM, .host = r->ram } }, .nr_regions = 1 };
	virtio_rng_init(&r->rng, "virtio-rng0", &r->mem, 0);
	dev->transport = &rig_transport;
	dev->offered = VIRTIO_FEATURE(VIRTIO_F_VERSION_1);
	pthread_mutex_lock(&dev->lock);
	for (unsigned i = 0; i < sizeof(steps); i++) {
		virtio_device_set_status(dev, status |= steps[i]);
		if (i == 1)
			virtio_device_write_driver_features(dev, 1, 1); /* VERSION_1 */
	}
	if (vqd_init_split(&r->d, RIG_QSIZE, r->ram + RING_GPA, RING_GPA, 0) < 0) {
		ret = -1;
	} else {
		dev->vqs[0].size = RIG_QSIZE;
		dev->vqs[0].desc_addr = r->d.desc_gpa;
		dev->vqs[0].avail_addr = r->d.avail_gpa;
		dev->vqs[0].used_addr = r->d.used_gpa;
		ret = virtio_device_enable_queue(dev, 0);
		virtio_device_set_status(dev, status | VIRTIO_CONFIG_S_DRIVER_OK);
		if (!(dev->status & VIRTIO_CONFIG_S_DRIVER_OK) || (dev->status & VIRTIO_CONFIG_S_NEEDS_RESET))
			ret = -1;
	}
	pthread_mutex_unlock(&dev->lock);
	return ret < 0 ? -1 : 0;
}

void rng_rig_stop(struct rng_rig *r)
{
	free(r->ram);
	r->ram = NULL;
}

int rng_rig_request(struct rng_rig *r, uint32_t len)
{
	struct vqd_buf in = { .addr = BUF_GPA, .len = len > 4096 ? 4096 : len };
	uint32_t written = 0;

	if (vqd_add(&r->d, NULL, 0, &in, 1, r, false) < 0)
		return -1;
	virtio_device_kick(&r->rng.vdev, 0); /* no kick eventfd: served here */
	return vqd_get_used(&r->d, &written) == r ? (int)written : -1;
}
