/* libFuzzer target for the virtio-scsi request path (devices/virtio-scsi.c
 * over devices/scsi-disk.c and the block backend).
 *
 * The input is a hostile driver: its first 8 bytes set config space
 * (cdb_size, sense_size as the driver may write them) and ring features;
 * the rest becomes a 64 KiB guest RAM holding the control, event and
 * request rings (at fixed places), the descriptors, request headers,
 * CDBs and data. The target enables the queues, kicks all three, lets
 * every command finish on the backend threads (the device reset waits
 * for them), and starts over for the next input. Nothing may crash;
 * AddressSanitizer catches accesses outside guest RAM or the device.
 * Build and run: see tests/fuzz/README. Not part of "make check". */
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>

#include "devices/virtio-scsi.h"

#define RAM_SIZE (64u << 10)
#define QSIZE    16
#define RING(q)  (0x1000u * (q))   /* desc; avail at +0x100, used at +0x200 */

static uint8_t ram[RAM_SIZE] __attribute__((aligned(4096)));
static struct guest_mem mem = {.region = {{.gpa = 0, .size = RAM_SIZE, .host = ram}}, .nr_regions = 1};
static struct virtio_scsi *scsi;

static void no_irq(struct virtio_device *dev, unsigned q) {}
static void no_config(struct virtio_device *dev) {}
static const struct virtio_transport_ops transport = {no_irq, no_config};

static void setup(void)
{
	char a[] = "/tmp/fuzz-vscsi-a-XXXXXX", b[] = "/tmp/fuzz-vscsi-b-XXXXXX";
	int fa = mkstemp(a), fb = mkstemp(b);

	if (fa < 0 || fb < 0 || ftruncate(fa, 128 << 10) < 0 || ftruncate(fb, 64 << 10) < 0)
		abort();
	struct virtio_scsi_disk_opts disks[2] = {
		{.path = a, .serial = "FZ0", .target = 0, .lun = 0, .discard = true},
		{.path = b, .target = 0, .lun = 2, .readonly = true},
	};
	struct virtio_scsi_config_opts o = {.queues = 1, .disks = disks, .nr_disks = 2};
	char err[256];

	scsi = calloc(1, sizeof(*scsi));
	if (!scsi || virtio_scsi_init(scsi, &o, "virtio-scsi0", &mem, BLK_ENGINE_THREADS, NULL, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		abort();
	}
	unlink(a);
	unlink(b);
	close(fa);
	close(fb);
	scsi->vdev.transport = &transport;
	scsi->vdev.offered = scsi->vdev.ops->features(&scsi->vdev) | VIRTIO_FEATURE(VIRTIO_F_VERSION_1) |
			     VIRTIO_FEATURE(VIRTIO_RING_F_EVENT_IDX) | VIRTIO_FEATURE(VIRTIO_RING_F_INDIRECT_DESC);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct virtio_device *dev;
	uint32_t cdb_size, sense_size;

	if (!scsi)
		setup();
	dev = &scsi->vdev;
	if (size < 9)
		return 0;
	memcpy(&cdb_size, data, 4);
	memcpy(&sense_size, data + 4, 4);
	cdb_size %= 300;   /* small and huge, but not so huge that every chain is short */
	sense_size %= 300;
	uint64_t features = dev->offered & ~((data[8] & 1) ? 0 : VIRTIO_FEATURE(VIRTIO_RING_F_EVENT_IDX)) &
			    ~((data[8] & 2) ? 0 : VIRTIO_FEATURE(VIRTIO_RING_F_INDIRECT_DESC));
	memset(ram, 0, sizeof(ram));
	memcpy(ram, data + 9, size - 9 < sizeof(ram) ? size - 9 : sizeof(ram));

	pthread_mutex_lock(&dev->lock);
	virtio_device_set_status(dev, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	virtio_device_write_driver_features(dev, 0, (uint32_t)features);
	virtio_device_write_driver_features(dev, 1, (uint32_t)(features >> 32));
	virtio_device_set_status(dev, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK);
	for (unsigned q = 0; q < 3; q++) {
		dev->vqs[q].size = QSIZE;
		dev->vqs[q].desc_addr = RING(q);
		dev->vqs[q].avail_addr = RING(q) + 0x100;
		dev->vqs[q].used_addr = RING(q) + 0x200;
		virtio_device_enable_queue(dev, q);
	}
	virtio_device_set_status(dev, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
					      VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK);
	pthread_mutex_unlock(&dev->lock);
	dev->ops->config_write(dev, offsetof(struct virtio_scsi_config, cdb_size), &cdb_size, 4);
	dev->ops->config_write(dev, offsetof(struct virtio_scsi_config, sense_size), &sense_size, 4);

	virtio_device_kick(dev, 2);
	virtio_device_kick(dev, 0);
	virtio_device_kick(dev, 1);
	pthread_mutex_lock(&dev->lock);
	virtio_scsi_lun_event(scsi, 0, 2, false);
	virtio_device_reset(dev); /* waits for every command still at the backend */
	pthread_mutex_unlock(&dev->lock);
	return 0;
}
