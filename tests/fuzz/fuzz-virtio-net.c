/* libFuzzer target for virtio-net's tx path and control queue
 * (devices/virtio-net.c), the parts that parse what a hostile driver
 * writes: tx headers and frames of any length and split, control commands
 * with any class, command and data. The rings themselves are laid out
 * correctly by the driver-side code (virtqueue/driver.c; the engine has
 * its own target, fuzz-virtqueue.c): the input decides the features, the
 * chains (how many readable and writable segments, their lengths) and
 * every byte in them. A fake backend records what tx hands it and checks
 * its length limits; ASan catches any access outside the fake RAM.
 *
 *   clang -g -O1 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined -I. tests/fuzz/fuzz-virtio-net.c \
 *       devices/virtio-net.c virtio/virtio-device.c virtqueue/virtqueue.c virtqueue/chain.c \
 *       virtqueue/driver.c base/reactor.c base/log.c -o fuzz-virtio-net
 *   ./fuzz-virtio-net -max_len=70000 -max_total_time=600 corpus-net/
 *
 * Input: byte 0 = features switch (see F_*), byte 1 = which queue (even:
 * tx, odd: control), then chains: [nout][nin] then nout+nin 16-bit
 * lengths, then the readable bytes (taken from the input, zero-padded). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <linux/virtio_config.h>
#include <linux/virtio_net.h>

#include "devices/virtio-net.h"
#include "virtqueue/driver.h"

#define RAM_SIZE (1u << 20)
#define RING     0x1000
#define BUFS     0x10000
#define QSIZE    16

static uint8_t ram[RAM_SIZE] __attribute__((aligned(4096)));

static ssize_t fz_recv(struct net_backend *be, unsigned q, void *buf, size_t len) { return -EAGAIN; }
static int fz_send(struct net_backend *be, unsigned q, const void *frame, size_t len)
{
	/* The device promised: a whole header, a frame of 1..64 KiB. */
	if (len <= NET_BACKEND_HDR_LEN || len > NET_BACKEND_HDR_LEN + NET_MAX_FRAME)
		abort();
	return 0;
}
static int fz_rx_fd(struct net_backend *be, unsigned q) { return -1; }
static void fz_offloads(struct net_backend *be, unsigned o) {}
static void fz_pairs(struct net_backend *be, unsigned p) {}
static void fz_destroy(struct net_backend *be) {}
static const struct net_backend_ops fz_ops = { fz_recv, fz_send, fz_rx_fd, fz_offloads, fz_pairs, NULL, fz_destroy };

#define F_VERSION_1 0x01
#define F_CTRL_RX   0x02
#define F_MQ        0x04
#define F_OFFLOADS  0x08
#define F_ANNOUNCE  0x10

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct virtio_net net;
	static struct net_backend be = { .ops = &fz_ops };
	struct guest_mem mem = { .region = { { .gpa = 0, .size = RAM_SIZE, .host = ram } }, .nr_regions = 1 };
	struct virtio_net_options c = { .mac = { 0x52, 0x54, 0, 0, 0, 1 }, .queues = 2 };
	struct vqd d;
	size_t pos = 2, buf = BUFS;

	if (size < 2)
		return 0;
	be.features = (1ull << VIRTIO_NET_F_CSUM) | (1ull << VIRTIO_NET_F_GUEST_CSUM) | (1ull << VIRTIO_NET_F_HOST_TSO4);
	memset(&net, 0, sizeof(net));
	if (virtio_net_init(&net, "fuzz-net0", &mem, &c, &be, NULL) < 0)
		abort();
	struct virtio_device *dev = &net.vdev;
	uint64_t f = (1ull << VIRTIO_NET_F_CTRL_VQ) | (1ull << VIRTIO_NET_F_MRG_RXBUF);
	f |= data[0] & F_VERSION_1 ? 1ull << VIRTIO_F_VERSION_1 : 0;
	f |= data[0] & F_CTRL_RX ? (1ull << VIRTIO_NET_F_CTRL_RX) | (1ull << VIRTIO_NET_F_CTRL_MAC_ADDR) : 0;
	f |= data[0] & F_MQ ? 1ull << VIRTIO_NET_F_MQ : 0;
	f |= data[0] & F_OFFLOADS ? (1ull << VIRTIO_NET_F_CTRL_GUEST_OFFLOADS) | be.features : 0;
	f |= data[0] & F_ANNOUNCE ? 1ull << VIRTIO_NET_F_GUEST_ANNOUNCE : 0;
	dev->offered = dev->ops->features(dev) | (1ull << VIRTIO_F_VERSION_1);
	dev->driver_features = f & dev->offered;
	virtio_device_set_status(dev, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK);

	/* tx queue 1, or the control queue (4 with MQ, 2 without). */
	unsigned q = data[1] & 1 ? ((f & (1ull << VIRTIO_NET_F_MQ)) ? 4 : 2) : 1;
	memset(ram, 0, BUFS);
	if (vqd_init_split(&d, QSIZE, ram + RING, RING, 0) < 0)
		abort();
	struct virtqueue *vq = &dev->vqs[q];
	vq->size = QSIZE;
	vq->desc_addr = d.desc_gpa;
	vq->avail_addr = d.avail_gpa;
	vq->used_addr = d.used_gpa;
	if (virtio_device_enable_queue(dev, q) < 0)
		abort();
	virtio_device_set_status(dev, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
					      VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK);

	for (unsigned chains = 0; chains < QSIZE && pos + 2 <= size; chains++) {
		unsigned nout = data[pos] % 5, nin = data[pos + 1] % 3;
		struct vqd_buf out[4], in[2];

		pos += 2;
		if (nout + nin == 0)
			break;
		for (unsigned i = 0; i < nout + nin; i++) {
			uint32_t len = 1;

			if (pos + 2 <= size) {
				len = (uint32_t)(data[pos] | data[pos + 1] << 8) % 0x11000 + 1; /* up to 68 KiB */
				pos += 2;
			}
			if (buf + len > RAM_SIZE)
				goto out;
			(i < nout ? &out[i] : &in[i - nout])->addr = buf;
			(i < nout ? &out[i] : &in[i - nout])->len = len;
			if (i < nout) {
				size_t take = size - pos < len ? size - pos : len;
				memcpy(ram + buf, data + pos, take);
				memset(ram + buf + take, 0, len - take);
				pos += take;
			}
			buf += len;
		}
		if (vqd_add(&d, out, nout, in, nin, (void *)(uintptr_t)(chains + 1), false) < 0)
			break;
	}
	virtio_device_kick(dev, q); /* no kick fd: served right here */
	uint32_t len;
	while (vqd_get_used(&d, &len))
		;
out:
	virtio_net_destroy(&net);
	return 0;
}
