/* Unit tests of virtio-net through the driver-side virtqueue code (the
 * rings as a guest driver fills them) and a fake backend: rx with and
 * without mergeable buffers, a full rx ring (no frame lost, nothing
 * spinning), tx with an offload header, malformed tx chains dropped and
 * counted, the control queue's receive filter, and the reactor pausing the
 * backend fd while the ring is full. */
#include <check.h>
#include "tests/unit/check-run.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <linux/virtio_config.h>
#include <linux/virtio_net.h>

#include "devices/virtio-net.h"
#include "virtqueue/driver.h"
#include "base/reactor.h"

#define RAM_SIZE (4u << 20)
#define QSIZE    16
#define RX_RING  0x10000
#define TX_RING  0x20000
#define CTRL_RING 0x30000
#define BUFS     0x100000 /* driver buffers from here */

#define F(bit) (1ull << (bit))

/* ---- a fake backend: frames queued for rx, frames sent recorded ---- */

#define FAKE_FRAMES 32

struct fake_backend {
	struct net_backend be;
	uint8_t rx[FAKE_FRAMES][NET_BACKEND_HDR_LEN + 4096];
	size_t rx_len[FAKE_FRAMES];
	unsigned rx_head, rx_count, recv_calls;
	int rx_fd;              /* eventfd: readable while rx frames wait */
	uint8_t sent[4][NET_BACKEND_HDR_LEN + 2048];
	size_t sent_len[4];
	unsigned nr_sent;
	unsigned offloads, pairs;
};

static ssize_t fake_recv(struct net_backend *be, unsigned q, void *buf, size_t len)
{
	struct fake_backend *f = (struct fake_backend *)be;
	uint64_t count;

	f->recv_calls++;
	if (f->rx_count == 0)
		return -EAGAIN;
	size_t n = f->rx_len[f->rx_head];
	ck_assert_uint_le(n, len);
	memcpy(buf, f->rx[f->rx_head], n);
	f->rx_head = (f->rx_head + 1) % FAKE_FRAMES;
	if (--f->rx_count == 0 && f->rx_fd >= 0)
		(void)!read(f->rx_fd, &count, sizeof(count));
	return (ssize_t)n;
}

/* The straight read (a TAP's recvv): the frame scattered over iov, or
 * lost with -EMSGSIZE when it does not fit, as TUN does. */
static ssize_t fake_recvv(struct net_backend *be, unsigned q, const struct iovec *iov, unsigned n)
{
	static uint8_t flat[NET_BACKEND_HDR_LEN + NET_MAX_FRAME];
	size_t room = 0;
	ssize_t len = fake_recv(be, q, flat, sizeof(flat));

	ck_assert_uint_ge(iov[0].iov_len, NET_BACKEND_HDR_LEN);
	for (unsigned i = 0; i < n && len > 0; i++) {
		size_t put = (size_t)len - room < iov[i].iov_len ? (size_t)len - room : iov[i].iov_len;

		memcpy(iov[i].iov_base, flat + room, put);
		room += put;
	}
	return len > 0 && (size_t)len > room ? -EMSGSIZE : len;
}

static int fake_send(struct net_backend *be, unsigned q, const void *frame, size_t len)
{
	struct fake_backend *f = (struct fake_backend *)be;

	if (f->nr_sent < 4 && len <= sizeof(f->sent[0])) {
		memcpy(f->sent[f->nr_sent], frame, len);
		f->sent_len[f->nr_sent] = len;
	}
	f->nr_sent++;
	return 0;
}

/* The gathering send: linearize, then record it as fake_send does. */
static int fake_sendv(struct net_backend *be, unsigned q, const struct iovec *iov, unsigned n)
{
	static uint8_t flat[NET_BACKEND_HDR_LEN + NET_MAX_FRAME];
	size_t len = 0;

	ck_assert_uint_ge(n, 1);
	ck_assert_uint_eq(iov[0].iov_len, NET_BACKEND_HDR_LEN);
	for (unsigned i = 0; i < n; i++) {
		ck_assert_uint_le(len + iov[i].iov_len, sizeof(flat));
		memcpy(flat + len, iov[i].iov_base, iov[i].iov_len);
		len += iov[i].iov_len;
	}
	return fake_send(be, q, flat, len);
}

static int fake_rx_fd(struct net_backend *be, unsigned q)
{
	return ((struct fake_backend *)be)->rx_fd;
}

static void fake_set_offloads(struct net_backend *be, unsigned o)
{
	((struct fake_backend *)be)->offloads = o;
}

static void fake_set_pairs(struct net_backend *be, unsigned p)
{
	((struct fake_backend *)be)->pairs = p;
}

static void fake_destroy(struct net_backend *be)
{
	struct fake_backend *f = (struct fake_backend *)be;

	if (f->rx_fd >= 0)
		close(f->rx_fd);
	free(f);
}

static const struct net_backend_ops fake_ops = {
	.recv = fake_recv,
	.send = fake_send,
	.rx_fd = fake_rx_fd,
	.set_offloads = fake_set_offloads,
	.set_queue_pairs = fake_set_pairs,
	.destroy = fake_destroy,
};

/* Queue a frame of len bytes (pattern seeded by tag) with a zero header. */
static void fake_queue_frame(struct fake_backend *f, size_t len, uint8_t tag)
{
	unsigned slot = (f->rx_head + f->rx_count) % FAKE_FRAMES;
	uint8_t *p = f->rx[slot];
	uint64_t one = 1;

	ck_assert_uint_lt(f->rx_count, FAKE_FRAMES);
	memset(p, 0, NET_BACKEND_HDR_LEN);
	for (size_t i = 0; i < len; i++)
		p[NET_BACKEND_HDR_LEN + i] = (uint8_t)(tag + i * 7);
	/* A frame for our MAC, so a filter would let it through. */
	if (len >= 6)
		memcpy(p + NET_BACKEND_HDR_LEN, "\x52\x54\x00\x00\x00\x01", 6);
	f->rx_len[slot] = NET_BACKEND_HDR_LEN + len;
	if (f->rx_count++ == 0 && f->rx_fd >= 0)
		(void)!write(f->rx_fd, &one, sizeof(one));
}

/* ---- fake guest RAM, the device, its queues ---- */

static uint8_t *ram;
static struct guest_mem mem;
static struct virtio_net *net;
static struct fake_backend *fb;
static struct vqd rxq, txq, ctrlq;

static void setup(void)
{
	ram = aligned_alloc(4096, RAM_SIZE);
	ck_assert_ptr_nonnull(ram);
	memset(ram, 0, RAM_SIZE);
	mem = (struct guest_mem){ .region = { { .gpa = 0, .size = RAM_SIZE, .host = ram } }, .nr_regions = 1 };
	net = calloc(1, sizeof(*net));
	fb = calloc(1, sizeof(*fb));
	ck_assert_ptr_nonnull(net);
	ck_assert_ptr_nonnull(fb);
	fb->be.ops = &fake_ops;
	fb->be.queue_pairs = 1;
	fb->rx_fd = -1;
	fb->be.features = F(VIRTIO_NET_F_CSUM) | F(VIRTIO_NET_F_HOST_TSO4) | F(VIRTIO_NET_F_GUEST_CSUM);
}

static void teardown(void)
{
	virtio_net_destroy(net);
	free(net);
	free(ram);
}

static void start_queue(unsigned q, struct vqd *d, uint64_t off)
{
	struct virtqueue *vq = &net->vdev.vqs[q];

	ck_assert_int_eq(vqd_init_split(d, QSIZE, ram + off, off, 0), 0);
	vq->size = QSIZE;
	vq->desc_addr = d->desc_gpa;
	vq->avail_addr = d->avail_gpa;
	vq->used_addr = d->used_gpa;
	ck_assert_int_eq(virtio_device_enable_queue(&net->vdev, q), 0);
}

/* Build the NIC (no reactor unless given), negotiate `features` as a
 * driver would, start rx0, tx0 and the control queue. */
static void bring_up(uint64_t features, struct reactor *reactor)
{
	struct virtio_net_options c = { .mac = { 0x52, 0x54, 0, 0, 0, 1 }, .queues = 1 };

	ck_assert_int_eq(virtio_net_init(net, "virtio-net0", &mem, &c, &fb->be, reactor), 0);
	struct virtio_device *dev = &net->vdev;
	pthread_mutex_lock(&dev->lock);
	dev->offered = dev->ops->features(dev) | F(VIRTIO_F_VERSION_1);
	ck_assert_uint_eq(features & ~dev->offered, 0);
	virtio_device_set_status(dev, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	if (features & F(VIRTIO_F_VERSION_1)) {
		virtio_device_write_driver_features(dev, 0, (uint32_t)features);
		virtio_device_write_driver_features(dev, 1, (uint32_t)(features >> 32));
		virtio_device_set_status(dev, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
						      VIRTIO_CONFIG_S_FEATURES_OK);
	} else {
		virtio_device_write_legacy_features(dev, 0, (uint32_t)features);
	}
	start_queue(0, &rxq, RX_RING);
	start_queue(1, &txq, TX_RING);
	start_queue(2, &ctrlq, CTRL_RING);
	virtio_device_set_status(dev, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
					      VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK);
	ck_assert(!(dev->status & VIRTIO_CONFIG_S_NEEDS_RESET));
	pthread_mutex_unlock(&dev->lock);
}

static void post_rx(unsigned i, uint32_t len)
{
	struct vqd_buf in = { .addr = BUFS + i * 0x10000ull, .len = len };

	ck_assert_int_eq(vqd_add(&rxq, NULL, 0, &in, 1, (void *)(uintptr_t)(i + 1), false), 0);
}

static const uint8_t *rx_buf(unsigned token)
{
	return ram + BUFS + (token - 1) * 0x10000ull;
}

/* ---- rx ---- */

/* _i of the receive tests: 0 reads frames whole (recv), 1 straight into
 * the driver's buffers (recvv). */
static void read_frames(int straight)
{
	static struct net_backend_ops with_recvv;

	with_recvv = fake_ops;
	with_recvv.recvv = fake_recvv;
	fb->be.ops = straight ? &with_recvv : &fake_ops;
}

START_TEST(rx_without_mergeable_buffers)
{
	uint32_t len;

	read_frames(_i);

	bring_up(0, NULL); /* a legacy driver: 10-byte header, no MRG_RXBUF */
	ck_assert_uint_eq(net->vdev.features, 0);
	post_rx(0, 1600);
	post_rx(1, 1600);
	fake_queue_frame(fb, 100, 1);
	fake_queue_frame(fb, 3000, 2); /* larger than any buffer: dropped, counted */
	fake_queue_frame(fb, 60, 3);
	ck_assert(!virtio_net_backend_ready(net, 0, 64));

	void *t = vqd_get_used(&rxq, &len);
	ck_assert_ptr_eq(t, (void *)1);
	ck_assert_uint_eq(len, 10 + 100);
	ck_assert_mem_eq(rx_buf(1) + 10, fb->rx[0] + NET_BACKEND_HDR_LEN, 100);
	t = vqd_get_used(&rxq, &len);
	ck_assert_ptr_eq(t, (void *)2);
	ck_assert_uint_eq(len, 10 + 60);
	ck_assert_mem_eq(rx_buf(2) + 10, fb->rx[2] + NET_BACKEND_HDR_LEN, 60);
	ck_assert_ptr_null(vqd_get_used(&rxq, &len));
	ck_assert_uint_eq(net->stats.rx_frames, 2);
	ck_assert_uint_eq(net->stats.rx_too_big, 1);
}
END_TEST

START_TEST(rx_with_mergeable_buffers)
{
	struct virtio_net_hdr_v1 hdr;
	uint8_t got[3000];
	uint32_t len, lens[4];
	size_t off = 0;

	read_frames(_i);

	bring_up(F(VIRTIO_F_VERSION_1) | F(VIRTIO_NET_F_MRG_RXBUF) | F(VIRTIO_NET_F_GUEST_CSUM), NULL);
	for (unsigned i = 0; i < 5; i++)
		post_rx(i, 1000);
	fake_queue_frame(fb, 3000, 9);
	/* The backend's header travels to the driver (checksum offload). */
	fb->rx[0][0] = VIRTIO_NET_HDR_F_DATA_VALID;
	ck_assert(!virtio_net_backend_ready(net, 0, 64));

	/* 12 + 3000 bytes over 1000-byte buffers: four of them, used at once. */
	for (unsigned i = 0; i < 4; i++) {
		ck_assert_ptr_eq(vqd_get_used(&rxq, &lens[i]), (void *)(uintptr_t)(i + 1));
	}
	ck_assert_ptr_null(vqd_get_used(&rxq, &len));
	ck_assert_uint_eq(lens[0], 1000);
	ck_assert_uint_eq(lens[1], 1000);
	ck_assert_uint_eq(lens[2], 1000);
	ck_assert_uint_eq(lens[3], 12);
	memcpy(&hdr, rx_buf(1), sizeof(hdr));
	ck_assert_uint_eq(hdr.num_buffers, 4);
	ck_assert_uint_eq(hdr.flags, VIRTIO_NET_HDR_F_DATA_VALID);
	for (unsigned i = 0; i < 4; i++) {
		size_t skip = i == 0 ? 12 : 0;
		memcpy(got + off, rx_buf(i + 1) + skip, lens[i] - skip);
		off += lens[i] - skip;
	}
	ck_assert_uint_eq(off, 3000);
	ck_assert_mem_eq(got, fb->rx[0] + NET_BACKEND_HDR_LEN, 3000);
}
END_TEST

/* A frame longer than the room a straight read took first (the length
 * of the one before): its tail is copied into more chains; and when the
 * ring runs out before the frame fits, it waits whole until the driver
 * posts more. Every byte arrives, in order. */
START_TEST(rx_frame_longer_than_the_last)
{
	static const size_t lens[] = { 100, 3000, 2500, 3500 };
	uint32_t len;

	read_frames(_i);
	bring_up(F(VIRTIO_F_VERSION_1) | F(VIRTIO_NET_F_MRG_RXBUF), NULL);
	for (unsigned i = 0; i < 6; i++)
		post_rx(i, 1000);
	for (unsigned i = 0; i < 4; i++)
		fake_queue_frame(fb, lens[i], (uint8_t)(30 * i + 1));
	/* 112 bytes in 1 chain, 3012 in 4; 2512 would need 3 of the 1 left. */
	ck_assert(!virtio_net_backend_ready(net, 0, 64));
	ck_assert_uint_eq(net->stats.rx_frames, 2);
	/* Straight, the third frame took 1 chain for 3012 bytes and the ring
	 * ran out: it waited whole. Now it goes into 3 chains; the fourth
	 * (straight) takes 3 for 2512 bytes, then a 4th for its tail. */
	for (unsigned i = 6; i < 13; i++)
		post_rx(i, 1000);
	virtio_device_kick(&net->vdev, 0);
	ck_assert_uint_eq(net->stats.rx_frames, 4);

	unsigned token = 1;
	for (unsigned f = 0; f < 4; f++) {
		uint8_t got[4000];
		struct virtio_net_hdr_v1 hdr;
		size_t off = 0;

		memcpy(&hdr, rx_buf(token), sizeof(hdr));
		ck_assert_uint_eq(hdr.num_buffers, (12 + lens[f] + 999) / 1000);
		for (unsigned b = 0; b < hdr.num_buffers; b++, token++) {
			size_t skip = b == 0 ? 12 : 0;

			ck_assert_ptr_eq(vqd_get_used(&rxq, &len), (void *)(uintptr_t)token);
			memcpy(got + off, rx_buf(token) + skip, len - skip);
			off += len - skip;
		}
		ck_assert_uint_eq(off, lens[f]);
		ck_assert_mem_eq(got, fb->rx[f] + NET_BACKEND_HDR_LEN, lens[f]);
	}
	ck_assert_ptr_null(vqd_get_used(&rxq, &len));
	ck_assert_uint_eq(net->stats.rx_too_big + net->stats.rx_errors, 0);
}
END_TEST

/* A frame longer than the one buffer a driver without MRG_RXBUF posted is
 * dropped and counted, never delivered cut short, however few bytes it
 * misses (here 2 of a 4-byte frame, both within the part the device
 * reads apart for its receive filter). */
START_TEST(rx_frame_never_truncated)
{
	uint32_t len;

	read_frames(_i);
	bring_up(F(VIRTIO_F_VERSION_1), NULL);
	post_rx(0, 2000);
	fake_queue_frame(fb, 1600, 1); /* long: the next is read straight when _i */
	ck_assert(!virtio_net_backend_ready(net, 0, 64));
	ck_assert_ptr_eq(vqd_get_used(&rxq, &len), (void *)1);
	post_rx(1, 12 + 2);
	fake_queue_frame(fb, 4, 2);
	virtio_device_kick(&net->vdev, 0);
	ck_assert_uint_eq(net->stats.rx_too_big, 1);
	ck_assert_uint_eq(net->stats.rx_frames, 1);
	ck_assert_ptr_null(vqd_get_used(&rxq, &len)); /* the small buffer stays the driver's */
}
END_TEST

/* The ring fills: the frame that does not fit stays with the device, the
 * backend is not read further, the call returns without asking for more
 * (no spinning); the guest's buffers and kick deliver everything in order. */
START_TEST(rx_full_ring_loses_nothing_and_does_not_spin)
{
	uint32_t len;
	unsigned calls;

	read_frames(_i);

	/* Long frames, so that all but the first are read straight when _i. */
	size_t base = _i ? 2000 : 200, buf = _i ? 4000 : 1600;

	bring_up(F(VIRTIO_F_VERSION_1) | F(VIRTIO_NET_F_MRG_RXBUF), NULL);
	post_rx(0, buf);
	post_rx(1, buf);
	for (unsigned i = 0; i < 5; i++)
		fake_queue_frame(fb, base + i, (uint8_t)(10 * i));
	ck_assert(!virtio_net_backend_ready(net, 0, 64)); /* nothing left to do until a kick */
	/* 2 placed, then read whole: 1 held; straight: none read without a buffer. */
	ck_assert_uint_eq(fb->recv_calls, _i ? 2 : 3);
	ck_assert_uint_eq(net->stats.rx_ring_full, 1);
	ck_assert(!net->rx_src[0].watching);              /* backend fd paused */

	/* The backend signals again: nothing is read while the ring is full. */
	calls = fb->recv_calls;
	ck_assert(!virtio_net_backend_ready(net, 0, 64));
	ck_assert_uint_eq(fb->recv_calls, calls);

	for (unsigned i = 2; i < 6; i++)
		post_rx(i, buf);
	virtio_device_kick(&net->vdev, 0); /* no kick fd: served inline */
	ck_assert(net->rx_src[0].watching); /* drained: watching the backend again */
	for (unsigned i = 0; i < 5; i++) {
		ck_assert_ptr_eq(vqd_get_used(&rxq, &len), (void *)(uintptr_t)(i + 1));
		ck_assert_uint_eq(len, 12 + base + i);
		ck_assert_mem_eq(rx_buf(i + 1) + 12, fb->rx[i] + NET_BACKEND_HDR_LEN, base + i);
	}
	ck_assert_uint_eq(net->stats.rx_frames, 5);
	ck_assert_uint_eq(fb->rx_count, 0);
}
END_TEST

/* The same through a real reactor: the backend fd is paused while the
 * ring is full, so the reactor thread sleeps instead of spinning. */
static unsigned wait_used(unsigned want)
{
	for (int i = 0; i < 2000; i++) {
		pthread_mutex_lock(&net->vdev.lock);
		unsigned used = __atomic_load_n((uint16_t *)rxq.used + 1, __ATOMIC_ACQUIRE);
		pthread_mutex_unlock(&net->vdev.lock);
		if (used >= want)
			return used;
		usleep(1000);
	}
	return 0;
}

/* Stop the reactor and the NIC on it (teardown then destroys nothing twice). */
static void end_reactor(struct reactor *r)
{
	reactor_stop(r);
	virtio_net_destroy(net);
	net->reactor = NULL;
	reactor_destroy(r);
	free(r);
}

START_TEST(rx_full_ring_on_the_reactor_sleeps)
{
	struct reactor *r = calloc(1, sizeof(*r));
	unsigned calls;

	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(reactor_init(r), 0);
	read_frames(_i);
	fb->rx_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	bring_up(F(VIRTIO_F_VERSION_1) | F(VIRTIO_NET_F_MRG_RXBUF), r);
	pthread_mutex_lock(&net->vdev.lock);
	post_rx(0, 4000);
	for (unsigned i = 0; i < 3; i++)
		fake_queue_frame(fb, _i ? 2000 : 100, (uint8_t)i); /* long: read straight when _i */
	pthread_mutex_unlock(&net->vdev.lock);
	ck_assert_int_eq(reactor_start(r), 0);
	ck_assert_uint_eq(wait_used(1), 1);
	usleep(100 * 1000);
	pthread_mutex_lock(&net->vdev.lock);
	calls = fb->recv_calls;
	pthread_mutex_unlock(&net->vdev.lock);
	usleep(100 * 1000);
	pthread_mutex_lock(&net->vdev.lock);
	/* The eventfd is still readable (2 frames wait), yet nobody reads. */
	ck_assert_uint_eq(fb->recv_calls, calls);
	ck_assert_uint_eq(calls, _i ? 1 : 2); /* 1 placed (+ 1 held when read whole) */
	post_rx(1, 4000);
	post_rx(2, 4000);
	pthread_mutex_unlock(&net->vdev.lock);
	virtio_device_kick(&net->vdev, 0);
	ck_assert_uint_eq(wait_used(3), 3);
	end_reactor(r);
}
END_TEST

/* After the ring ran dry with frames waiting, a kick that brings one
 * buffer is served a moment later by the refill timer (not at once: one
 * frame per kick was a vCPU exit per frame), and a kick that brings a
 * batch is served at once. The reactor starts only after the first kick,
 * so "not at once" does not depend on timing. */
START_TEST(rx_thin_refill_waits_for_more)
{
	struct reactor *r = calloc(1, sizeof(*r));
	uint32_t len;

	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(reactor_init(r), 0);
	fb->rx_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	bring_up(F(VIRTIO_F_VERSION_1) | F(VIRTIO_NET_F_MRG_RXBUF), r);
	post_rx(0, 1600);
	for (unsigned i = 0; i < 3; i++)
		fake_queue_frame(fb, 100, (uint8_t)i);
	ck_assert(!virtio_net_backend_ready(net, 0, 64));
	ck_assert_uint_eq(wait_used(1), 1); /* ran dry: 2 frames wait */

	pthread_mutex_lock(&net->vdev.lock);
	post_rx(1, 1600);
	pthread_mutex_unlock(&net->vdev.lock);
	virtio_device_kick(&net->vdev, 0);  /* one buffer: served later */
	pthread_mutex_lock(&net->vdev.lock);
	ck_assert(net->rx_src[0].waiting);
	ck_assert_uint_eq(net->stats.rx_frames, 1);
	pthread_mutex_unlock(&net->vdev.lock);

	ck_assert_int_eq(reactor_start(r), 0);
	ck_assert_uint_eq(wait_used(2), 2); /* the timer served it */

	pthread_mutex_lock(&net->vdev.lock);
	for (unsigned i = 0; i < 2; i++) /* the driver takes both: the whole ring is free */
		ck_assert_ptr_nonnull(vqd_get_used(&rxq, &len));
	for (unsigned i = 2; i < 2 + QSIZE; i++)
		post_rx(i, 1600);
	pthread_mutex_unlock(&net->vdev.lock);
	virtio_device_kick(&net->vdev, 0);  /* a batch: served at once */
	pthread_mutex_lock(&net->vdev.lock);
	ck_assert_uint_eq(net->stats.rx_frames, 3);
	pthread_mutex_unlock(&net->vdev.lock);
	end_reactor(r);
}
END_TEST

/* ---- tx ---- */

static void post_tx(const struct vqd_buf *out, unsigned n, void *token)
{
	ck_assert_int_eq(vqd_add(&txq, out, n, NULL, 0, token, false), 0);
}

/* tx_with_offload_header's variants: the backend sends from a linear
 * copy or gathers from guest RAM (sendv); the header in a descriptor of
 * its own, or split across two with the frame's start. */
static const struct {
	bool gather;
	unsigned hdr_split; /* 0: header alone; else header bytes in the first descriptor */
} tx_variants[] = { { false, 0 }, { true, 0 }, { true, 5 }, { false, 5 } };

START_TEST(tx_with_offload_header)
{
	static struct net_backend_ops gather_ops; /* outlives the test: teardown destroys through it */
	struct virtio_net_hdr_v1 hdr = {
		.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
		.gso_type = VIRTIO_NET_HDR_GSO_TCPV4,
		.hdr_len = 54,
		.gso_size = 1448,
		.csum_start = 34,
		.csum_offset = 16,
		.num_buffers = 77, /* meaningless on tx: not passed on */
	};
	uint32_t len;

	gather_ops = fake_ops;
	gather_ops.sendv = fake_sendv;
	if (tx_variants[_i].gather)
		fb->be.ops = &gather_ops;
	bring_up(F(VIRTIO_F_VERSION_1) | F(VIRTIO_NET_F_CSUM) | F(VIRTIO_NET_F_HOST_TSO4), NULL);
	unsigned split = tx_variants[_i].hdr_split;
	uint64_t frame = split ? BUFS + sizeof(hdr) : BUFS + 0x1000; /* split: header and frame contiguous */
	memcpy(ram + BUFS, &hdr, sizeof(hdr));
	for (unsigned i = 0; i < 1500; i++)
		ram[frame + i] = (uint8_t)(i * 3);
	/* Header in one descriptor, the frame in two more; or the header's
	 * first `split` bytes alone, its rest with the frame's first 1000. */
	struct vqd_buf alone[3] = { { BUFS, sizeof(hdr) }, { frame, 1000 }, { frame + 1000, 500 } };
	struct vqd_buf mixed[3] = { { BUFS, split }, { BUFS + split, sizeof(hdr) - split + 1000 }, { frame + 1000, 500 } };
	post_tx(split ? mixed : alone, 3, (void *)1);
	virtio_device_kick(&net->vdev, 1);

	ck_assert_ptr_eq(vqd_get_used(&txq, &len), (void *)1);
	ck_assert_uint_eq(len, 0);
	ck_assert_uint_eq(fb->nr_sent, 1);
	ck_assert_uint_eq(fb->sent_len[0], NET_BACKEND_HDR_LEN + 1500);
	hdr.num_buffers = 0;
	ck_assert_mem_eq(fb->sent[0], &hdr, sizeof(hdr));
	ck_assert_mem_eq(fb->sent[0] + NET_BACKEND_HDR_LEN, ram + frame, 1500);
	ck_assert_uint_eq(net->stats.tx_frames, 1);
}
END_TEST

START_TEST(tx_malformed_chains_dropped_and_counted)
{
	uint32_t len;

	bring_up(F(VIRTIO_F_VERSION_1), NULL);
	struct vqd_buf short_hdr = { BUFS, 5 };
	/* 12-byte header + 65537-byte frame: one byte more than 64 KiB. */
	struct vqd_buf huge[2] = { { BUFS, 12 }, { BUFS + 0x1000, NET_MAX_FRAME + 1 } };
	struct vqd_buf ok[2] = { { BUFS, 12 }, { BUFS + 0x1000, 64 } };
	post_tx(&short_hdr, 1, (void *)1);
	post_tx(huge, 2, (void *)2);
	post_tx(ok, 2, (void *)3);
	virtio_device_kick(&net->vdev, 1);

	for (uintptr_t t = 1; t <= 3; t++) {
		ck_assert_ptr_eq(vqd_get_used(&txq, &len), (void *)t); /* each returned to the driver */
		ck_assert_uint_eq(len, 0);
	}
	ck_assert_uint_eq(net->stats.tx_malformed, 2);
	ck_assert_uint_eq(net->stats.tx_frames, 1);
	ck_assert_uint_eq(fb->nr_sent, 1);
	ck_assert_uint_eq(fb->sent_len[0], 12 + 64);
	ck_assert(!(net->vdev.status & VIRTIO_CONFIG_S_NEEDS_RESET)); /* the device keeps working */
}
END_TEST

/* ---- control queue ---- */

static uint8_t ctrl(uint8_t class, uint8_t cmd, const void *data, uint32_t len)
{
	struct virtio_net_ctrl_hdr hdr = { .class = class, .cmd = cmd };
	uint8_t *ack = ram + BUFS + 0x3000;
	uint32_t used;

	*ack = 0xee;
	memcpy(ram + BUFS + 0x2000, &hdr, sizeof(hdr));
	memcpy(ram + BUFS + 0x2100, data, len);
	struct vqd_buf out[2] = { { BUFS + 0x2000, sizeof(hdr) }, { BUFS + 0x2100, len } };
	struct vqd_buf in = { BUFS + 0x3000, 1 };
	ck_assert_int_eq(vqd_add(&ctrlq, out, len ? 2 : 1, &in, 1, (void *)1, false), 0);
	virtio_device_kick(&net->vdev, 2);
	ck_assert_ptr_eq(vqd_get_used(&ctrlq, &used), (void *)1);
	ck_assert_uint_eq(used, 1);
	return *ack;
}

START_TEST(ctrl_receive_filter)
{
	uint8_t off = 0, on = 1, table[4 + 6 + 4 + 6] = { 0 };
	uint32_t len;

	read_frames(_i);

	bring_up(F(VIRTIO_F_VERSION_1) | F(VIRTIO_NET_F_MRG_RXBUF) | F(VIRTIO_NET_F_CTRL_VQ) | F(VIRTIO_NET_F_CTRL_RX),
		 NULL);
	ck_assert_uint_eq(ctrl(VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, &off, 1), VIRTIO_NET_OK);
	/* One extra unicast address and one multicast address. */
	table[0] = 1;
	memcpy(table + 4, "\x02\x00\x00\x00\x00\x02", 6);
	table[10] = 1;
	memcpy(table + 14, "\x33\x33\x00\x00\x00\x01", 6);
	ck_assert_uint_eq(ctrl(VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET, table, sizeof(table)),
			  VIRTIO_NET_OK);
	/* A table whose count runs past the data is refused. */
	table[0] = 5;
	ck_assert_uint_eq(ctrl(VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET, table, sizeof(table)),
			  VIRTIO_NET_ERR);
	/* A good unicast part with a bad multicast part: refused as a whole,
	 * the unicast table unchanged (not rewritten under its old count). */
	table[0] = 1;
	table[9] = 0x03;
	table[10] = 5;
	ck_assert_uint_eq(ctrl(VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET, table, sizeof(table)),
			  VIRTIO_NET_ERR);
	ck_assert_uint_eq(net->uc_count, 1);
	ck_assert_mem_eq(net->uc[0], "\x02\x00\x00\x00\x00\x02", 6);
	table[9] = 0x02;
	table[10] = 1;
	ck_assert_uint_eq(ctrl(0xff, 0, &on, 1), VIRTIO_NET_ERR);                      /* unknown class */
	ck_assert_uint_eq(ctrl(VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, "\x01\x00", 2),
			  VIRTIO_NET_ERR); /* MQ not negotiated */

	static const char *const dst[] = {
		"\x52\x54\x00\x00\x00\x01", /* ours: in */
		"\x52\x54\x00\x00\x00\x09", /* someone else's: filtered */
		"\x02\x00\x00\x00\x00\x02", /* table unicast: in */
		"\x33\x33\x00\x00\x00\x01", /* table multicast: in */
		"\x33\x33\x00\x00\x00\x07", /* other multicast: filtered */
		"\xff\xff\xff\xff\xff\xff", /* broadcast: in */
	};
	for (unsigned i = 0; i < 6; i++) {
		fake_queue_frame(fb, 64, (uint8_t)i);
		memcpy(fb->rx[i] + NET_BACKEND_HDR_LEN, dst[i], 6);
		post_rx(i, 1600);
	}
	ck_assert(!virtio_net_backend_ready(net, 0, 64));
	ck_assert_uint_eq(net->stats.rx_filtered, 2);
	ck_assert_uint_eq(net->stats.rx_frames, 4);
	static const unsigned in[] = { 0, 2, 3, 5 };
	for (unsigned i = 0; i < 4; i++) {
		ck_assert_ptr_eq(vqd_get_used(&rxq, &len), (void *)(uintptr_t)(i + 1));
		ck_assert_mem_eq(rx_buf(i + 1) + 12, dst[in[i]], 6);
	}
	/* All-multicast lets the other group in too. */
	ck_assert_uint_eq(ctrl(VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_ALLMULTI, &on, 1), VIRTIO_NET_OK);
	fake_queue_frame(fb, 64, 0);
	memcpy(fb->rx[6] + NET_BACKEND_HDR_LEN, dst[4], 6);
	ck_assert(!virtio_net_backend_ready(net, 0, 64));
	ck_assert_uint_eq(net->stats.rx_frames, 5);
}
END_TEST

/* Two queue pairs: the control queue moves to index 4 with MQ, pair 1
 * carries nothing until VQ_PAIRS_SET 2, then its rx queue (2) takes the
 * backend's pair-1 frames and its tx queue (3) sends on backend pair 1. */
static unsigned sent_on_pair;

static int fake_send_pair(struct net_backend *be, unsigned q, const void *frame, size_t len)
{
	sent_on_pair = q;
	return fake_send(be, q, frame, len);
}

START_TEST(multiqueue_pairs)
{
	struct virtio_net_options c = { .mac = { 0x52, 0x54, 0, 0, 0, 1 }, .queues = 2 };
	static struct net_backend_ops ops;
	struct vqd rx1, tx1, ctrl4;
	uint64_t features = F(VIRTIO_F_VERSION_1) | F(VIRTIO_NET_F_MRG_RXBUF) | F(VIRTIO_NET_F_CTRL_VQ) |
			    F(VIRTIO_NET_F_MQ);
	uint16_t pairs = 2;
	uint32_t len;

	ops = fake_ops;
	ops.send = fake_send_pair;
	fb->be.ops = &ops;
	ck_assert_int_eq(virtio_net_init(net, "virtio-net0", &mem, &c, &fb->be, NULL), 0);
	struct virtio_device *dev = &net->vdev;
	ck_assert_uint_eq(dev->ops->nr_queues, 5);
	dev->offered = dev->ops->features(dev) | F(VIRTIO_F_VERSION_1);
	virtio_device_write_driver_features(dev, 0, (uint32_t)features);
	virtio_device_write_driver_features(dev, 1, (uint32_t)(features >> 32));
	virtio_device_set_status(dev, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK);
	start_queue(0, &rxq, RX_RING);
	start_queue(1, &txq, TX_RING);
	start_queue(2, &rx1, 0x40000);
	start_queue(3, &tx1, 0x50000);
	start_queue(4, &ctrl4, CTRL_RING);
	virtio_device_set_status(dev, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
					      VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK);
	ck_assert_uint_eq(fb->pairs, 1); /* one pair until the driver asks for more */

	struct vqd_buf in = { BUFS, 1600 };
	ck_assert_int_eq(vqd_add(&rx1, NULL, 0, &in, 1, (void *)1, false), 0);
	fake_queue_frame(fb, 80, 5);
	ck_assert(!virtio_net_backend_ready(net, 1, 64)); /* pair 1 not in use yet */
	ck_assert_uint_eq(fb->recv_calls, 0);

	/* VQ_PAIRS_SET 2 through the control queue at index 4. */
	struct virtio_net_ctrl_hdr hdr = { .class = VIRTIO_NET_CTRL_MQ, .cmd = VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET };
	memcpy(ram + BUFS + 0x2000, &hdr, sizeof(hdr));
	memcpy(ram + BUFS + 0x2100, &pairs, 2);
	ram[BUFS + 0x3000] = 0xee;
	struct vqd_buf out[2] = { { BUFS + 0x2000, sizeof(hdr) }, { BUFS + 0x2100, 2 } };
	struct vqd_buf ack = { BUFS + 0x3000, 1 };
	ck_assert_int_eq(vqd_add(&ctrl4, out, 2, &ack, 1, (void *)1, false), 0);
	virtio_device_kick(dev, 4);
	ck_assert_ptr_eq(vqd_get_used(&ctrl4, &len), (void *)1);
	ck_assert_uint_eq(ram[BUFS + 0x3000], VIRTIO_NET_OK);
	ck_assert_uint_eq(net->active_pairs, 2);
	ck_assert_uint_eq(fb->pairs, 2);

	ck_assert(!virtio_net_backend_ready(net, 1, 64));
	ck_assert_ptr_eq(vqd_get_used(&rx1, &len), (void *)1);
	ck_assert_uint_eq(len, 12 + 80);

	struct vqd_buf frame[2] = { { BUFS + 0x4000, 12 }, { BUFS + 0x5000, 60 } };
	memset(ram + BUFS + 0x4000, 0, 12);
	ck_assert_int_eq(vqd_add(&tx1, frame, 2, NULL, 0, (void *)1, false), 0);
	virtio_device_kick(dev, 3);
	ck_assert_ptr_eq(vqd_get_used(&tx1, &len), (void *)1);
	ck_assert_uint_eq(fb->nr_sent, 1);
	ck_assert_uint_eq(sent_on_pair, 1);
}
END_TEST

/* Config space: MAC, link status, pairs, MTU as the driver reads them. */
START_TEST(config_space)
{
	struct virtio_net_options c = { .mac = { 0x52, 0x54, 0, 1, 2, 3 }, .mtu = 9000, .queues = 2, .link_down = true };
	uint8_t cfg[12];
	uint16_t v;

	ck_assert_int_eq(virtio_net_init(net, "virtio-net0", &mem, &c, &fb->be, NULL), 0);
	ck_assert_uint_eq(net->vdev.ops->nr_queues, 5);
	net->vdev.ops->config_read(&net->vdev, 0, cfg, sizeof(cfg));
	ck_assert_mem_eq(cfg, c.mac, 6);
	memcpy(&v, cfg + 6, 2);
	ck_assert_uint_eq(v, 0); /* link down */
	memcpy(&v, cfg + 8, 2);
	ck_assert_uint_eq(v, 2);
	memcpy(&v, cfg + 10, 2);
	ck_assert_uint_eq(v, 9000);
	uint64_t f = net->vdev.ops->features(&net->vdev);
	ck_assert(f & F(VIRTIO_NET_F_MQ));
	ck_assert(f & F(VIRTIO_NET_F_MTU));
	ck_assert(f & F(VIRTIO_NET_F_CSUM)); /* from the backend */
	ck_assert(!(f & F(VIRTIO_NET_F_GUEST_TSO4)));
}
END_TEST

START_TEST(mac_parser)
{
	uint8_t mac[6];

	ck_assert(virtio_net_parse_mac("52:54:00:ab:CD:ef", mac));
	ck_assert_mem_eq(mac, "\x52\x54\x00\xab\xcd\xef", 6);
	ck_assert(!virtio_net_parse_mac("52:54:00:ab:cd", mac));
	ck_assert(!virtio_net_parse_mac("52:54:00:ab:cd:ef:01", mac));
	ck_assert(!virtio_net_parse_mac("52-54-00-ab-cd-ef", mac));
	ck_assert(!virtio_net_parse_mac("5:54:00:ab:cd:ef", mac));
	ck_assert(!virtio_net_parse_mac("", mac));
	ck_assert(!virtio_net_parse_mac("52:54:00:ab:cd:eg", mac));
}
END_TEST

static Suite *net_suite(void)
{
	Suite *s = suite_create("virtio-net");
	TCase *tc = tcase_create("net");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, rx_without_mergeable_buffers, 0, 2);
	tcase_add_loop_test(tc, rx_with_mergeable_buffers, 0, 2);
	tcase_add_loop_test(tc, rx_frame_longer_than_the_last, 0, 2);
	tcase_add_loop_test(tc, rx_frame_never_truncated, 0, 2);
	tcase_add_loop_test(tc, rx_full_ring_loses_nothing_and_does_not_spin, 0, 2);
	tcase_add_loop_test(tc, rx_full_ring_on_the_reactor_sleeps, 0, 2);
	tcase_add_test(tc, rx_thin_refill_waits_for_more);
	tcase_add_loop_test(tc, tx_with_offload_header, 0, sizeof(tx_variants) / sizeof(tx_variants[0]));
	tcase_add_test(tc, tx_malformed_chains_dropped_and_counted);
	tcase_add_loop_test(tc, ctrl_receive_filter, 0, 2);
	tcase_add_test(tc, multiqueue_pairs);
	tcase_add_test(tc, config_space);
	tcase_add_test(tc, mac_parser);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return check_run_suite(net_suite());
}
