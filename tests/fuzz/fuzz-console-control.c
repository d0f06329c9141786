/* libFuzzer target for the virtio-console control queue
 * (virtio_console_control() in devices/virtio-console.c).
 *
 * The input is a hostile driver: a MULTIPORT console with two named file
 * ports (on /dev/null) whose control queues' rings, descriptors and
 * messages all come from the input (a 16 KiB fake guest RAM, the rings at
 * fixed places in its first KiB, everything else as the input says). The target serves the
 * control queue a few times and checks that the device's state stays
 * sane: only existing ports change, the outgoing message queue stays in
 * bounds, and every reply lands in guest RAM (AddressSanitizer watches
 * every access). Build and run: see tests/fuzz/README. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "devices/virtio-console.h"
#include "virtqueue/virtqueue.h"

#define RAM_SIZE (16u << 10)
#define QSIZE    16

static uint8_t ram[RAM_SIZE] __attribute__((aligned(4096)));

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct guest_mem mem;
	static struct virtio_console con;
	static bool built;
	static struct console_port_spec a = {.kind = CONSOLE_PORT_FILE, .name = "a", .path = "/dev/null"};
	static struct console_port_spec b = {.kind = CONSOLE_PORT_FILE, .name = "b", .path = "/dev/null"};
	char err[256];

	mem = (struct guest_mem){.region = {{.gpa = 0, .size = RAM_SIZE, .host = ram}}, .nr_regions = 1};
	if (!built) {
		struct virtio_console_config_opts o = {.nports = 2, .ports = {&a, &b}};
		if (virtio_console_init(&con, &o, "fuzz-console", &mem, err, sizeof(err)) < 0)
			abort();
		built = true;
	}
	memset(ram, 0, sizeof(ram));
	memcpy(ram, data, size < RAM_SIZE ? size : RAM_SIZE);

	struct virtio_device *dev = &con.vdev;
	pthread_mutex_lock(&dev->lock);
	virtio_device_reset(dev);
	dev->status = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK |
		      VIRTIO_CONFIG_S_DRIVER_OK;
	dev->features = VIRTIO_FEATURE(VIRTIO_CONSOLE_F_MULTIPORT) | VIRTIO_FEATURE(VIRTIO_F_VERSION_1);
	/* The driver's (transmit) rings first, at 0x000, so that short inputs
	 * reach them; the receive rings at 0x200 (split, 16 entries each:
	 * descriptors, avail at +0x100, used at +0x180). Descriptors point
	 * anywhere the input likes. */
	for (unsigned qi = 2; qi <= 3; qi++) {
		struct virtqueue *vq = &dev->vqs[qi];
		uint64_t base = qi == 3 ? 0 : 0x200;
		vq->size = QSIZE;
		vq->desc_addr = base;
		vq->avail_addr = base + 0x100;
		vq->used_addr = base + 0x180;
		virtio_device_enable_queue(dev, qi);
	}
	for (int round = 0; round < 3; round++)
		virtio_console_control(&con);
	if (con.ctrl_count > VIRTIO_CONSOLE_CTRL_QUEUE || con.ctrl_head >= VIRTIO_CONSOLE_CTRL_QUEUE)
		abort();
	for (unsigned i = con.nports; i < VIRTIO_CONSOLE_MAX_PORTS; i++)
		if (con.port[i].ready || con.port[i].guest_open)
			abort(); /* a port that does not exist changed */
	if (con.port[0].ready || con.port[0].guest_open)
		abort(); /* port 0 does not exist on this device */
	pthread_mutex_unlock(&dev->lock);
	return 0;
}
