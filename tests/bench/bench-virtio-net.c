/* Benchmark (not a test) of the whole virtio-net path over a TAP without
 * KVM: in one process the driver-side ring code (virtqueue/driver.c) plays
 * the guest and drives the real device model (devices/virtio-net.c) and
 * the real TAP backend (devices/net-tap.c), against a raw TAP read/write
 * loop on a TAP of the same kind (the limit). The process moves into a
 * network namespace of its own (unshare), so its TAPs and everything on
 * them vanish when it exits, whatever the reason.
 *
 *   tests/bench/bench-virtio-net [SECONDS]
 *
 * On each TAP sits the peer: an AF_PACKET socket with PACKET_VNET_HDR
 * (so it can send and receive TSO super-frames). Per case, in batches:
 *   tx  the guest posts frames on tx0 and kicks (calling the device's
 *       notify handler itself, as a vCPU thread does on a doorbell exit);
 *       the device writes them to the TAP; the peer reads them.
 *       raw: write() to the TAP fd, the peer reads them.
 *   rx  the peer sends frames; the device reads the TAP (called as the
 *       reactor's handler would be; the epoll wait is not in it) and
 *       fills the guest's mergeable 4 KiB rx buffers; the guest reaps and
 *       reposts them. raw: read() on the TAP fd.
 * Frames: 64 and 1514 bytes, and a 64 KiB TCP/IPv4 TSO super-frame when
 * the device offers HOST_TSO4 / GUEST_TSO4. Printed per frame: wall time
 * (elapsed / frames, with frames/s), and the median and p99 of each
 * batch's time divided by its frames.
 *
 * Under callgrind (tests/bench/net-device.sh) each case runs a fixed
 * number of frames between CALLGRIND_ZERO_STATS and
 * CALLGRIND_DUMP_STATS_AT("case/path") and prints "callgrind CASE/PATH
 * FRAMES". */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <valgrind/callgrind.h>

#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <linux/virtio_config.h>
#include <linux/virtio_net.h>
#include <linux/virtio_ring.h>

#include "devices/virtio-net.h"
#include "tests/bench/bench-common.h"
#include "virtqueue/driver.h"

#define F(bit)        (1ull << (bit))
#define QSIZE         VIRTIO_NET_QUEUE_SIZE
#define RX_RING       0x100000
#define TX_RING       0x200000
#define TX_SLOT       0x11000 /* 12-byte header + up to 64 KiB frame */
#define TX_BUF        0x400000
#define RX_BUF_SIZE   4096
#define RX_BUF        (TX_BUF + 32 * TX_SLOT)
#define RAM_SIZE      (RX_BUF + QSIZE * RX_BUF_SIZE)
#define MAX_BATCH     32
#define MAX_SAMPLES   (1u << 20)
#define PEER_HDR_LEN  sizeof(struct virtio_net_hdr) /* PACKET_VNET_HDR: 10 bytes */
#define ETHERTYPE     0x88b6                        /* local experimental */
#define TSO_MSS       1448

struct bench_case {
	const char *name;
	bool rx;
	size_t len;       /* Ethernet frame bytes */
	unsigned batch;   /* frames per batch */
	unsigned callgrind_frames;
};

static const struct bench_case cases[] = {
	{"tx-64", false, 64, 32, 3200},
	{"tx-1514", false, 1514, 32, 3200},
	{"tx-64k-tso", false, 65000, 8, 200},
	{"rx-64", true, 64, 32, 3200},
	{"rx-1514", true, 1514, 32, 3200},
	{"rx-64k-tso", true, 65000, 8, 200},
};

/* ---- the namespace, the TAPs and their peers ---- */

static int ctl_sock = -1;

static void write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		(void)!write(fd, text, strlen(text));
		close(fd);
	}
}

/* A network namespace of our own: the TAPs die with the process. No IPv6
 * on new links, so the kernel sends nothing of its own on them. */
static int enter_namespace(void)
{
	if (unshare(CLONE_NEWNET) < 0) {
		printf("virtio-net device path: skipped (unshare(CLONE_NEWNET): %s; needs root)\n", strerror(errno));
		printf("bench-skip|net device path, no KVM|no network namespace (needs root)\n");
		return -1;
	}
	write_file("/proc/sys/net/ipv6/conf/default/disable_ipv6", "1");
	write_file("/proc/sys/net/ipv6/conf/all/disable_ipv6", "1");
	ctl_sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	return ctl_sock < 0 ? -1 : 0;
}

/* Open a TAP as net-tap.c does (vnet header, 12 bytes, non-blocking). */
static int raw_tap_open(const char *ifname)
{
	struct ifreq ifr = {.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR};
	int hdr = NET_BACKEND_HDR_LEN;
	int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);

	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (fd < 0 || ioctl(fd, TUNSETIFF, &ifr) < 0 || ioctl(fd, TUNSETVNETHDRSZ, &hdr) < 0 ||
	    ioctl(fd, TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_TSO4) < 0) {
		fprintf(stderr, "bench: TAP %s: %s\n", ifname, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* Bring ifname up and open its peer: a packet socket with vnet headers. */
static int peer_open(const char *ifname)
{
	struct ifreq ifr = {0};
	int one = 1, buf = 8 << 20;
	struct timeval timeout = {2, 0};

	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	ifr.ifr_flags = IFF_UP;
	if (ioctl(ctl_sock, SIOCSIFFLAGS, &ifr) < 0) {
		fprintf(stderr, "bench: %s up: %s\n", ifname, strerror(errno));
		return -1;
	}
	int s = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
	struct sockaddr_ll sll = {.sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL),
				  .sll_ifindex = (int)if_nametoindex(ifname)};
	if (s < 0 || setsockopt(s, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof(one)) < 0 ||
	    setsockopt(s, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one)) < 0 ||
	    setsockopt(s, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof(buf)) < 0 ||
	    setsockopt(s, SOL_SOCKET, SO_SNDBUFFORCE, &buf, sizeof(buf)) < 0 ||
	    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout)) < 0 ||
	    bind(s, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		fprintf(stderr, "bench: packet socket on %s: %s\n", ifname, strerror(errno));
		if (s >= 0)
			close(s);
		return -1;
	}
	return s;
}

/* ---- frames ---- */

static uint8_t frame[NET_BACKEND_HDR_LEN + NET_MAX_FRAME]; /* 12-byte header, then the frame */
static uint8_t peer_frame[PEER_HDR_LEN + NET_MAX_FRAME], peer_buf[PEER_HDR_LEN + NET_MAX_FRAME];

static uint16_t ip_checksum(const uint8_t *p, size_t len)
{
	uint32_t sum = 0;
	for (size_t i = 0; i < len; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* The case's frame with its header: a plain frame of our EtherType, or a
 * TCP/IPv4 super-frame for the TAP to segment (or pass on whole). */
static void build_frame(const struct bench_case *c)
{
	struct virtio_net_hdr_v1 *h = (struct virtio_net_hdr_v1 *)frame;
	uint8_t *e = frame + NET_BACKEND_HDR_LEN;

	memset(frame, 0, sizeof(frame));
	memcpy(e, "\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01", 12);
	for (size_t i = 14; i < c->len; i++)
		e[i] = (uint8_t)(i * 7);
	if (c->len <= 1514) {
		e[12] = ETHERTYPE >> 8, e[13] = ETHERTYPE & 0xff;
		return;
	}
	uint8_t *ip = e + 14, *tcp = ip + 20;
	uint16_t tot = (uint16_t)(c->len - 14);
	e[12] = 0x08, e[13] = 0x00;
	memset(ip, 0, 40);
	ip[0] = 0x45, ip[2] = tot >> 8, ip[3] = tot & 0xff, ip[8] = 64, ip[9] = 6;
	memcpy(ip + 12, "\x0a\x00\x00\x01\x0a\x00\x00\x02", 8);
	uint16_t sum = ip_checksum(ip, 20);
	ip[10] = sum >> 8, ip[11] = sum & 0xff;
	tcp[0] = 0x30, tcp[1] = 0x39, tcp[2] = 0x30, tcp[3] = 0x3a; /* ports 12345 -> 12346 */
	tcp[12] = 5 << 4, tcp[13] = 0x18; /* PSH ACK */
	tcp[14] = 0xff, tcp[15] = 0xff;
	h->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	h->gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
	h->hdr_len = 54;
	h->gso_size = TSO_MSS;
	h->csum_start = 34;
	h->csum_offset = 16;
}

/* The same frame as the peer sends it. */
static void build_peer_frame(const struct bench_case *c)
{
	memcpy(peer_frame, frame, PEER_HDR_LEN);
	memcpy(peer_frame + PEER_HDR_LEN, frame + NET_BACKEND_HDR_LEN, c->len);
}

/* The peer sends the case's frame (its header is the 10-byte one). */
static void peer_send(int peer, const struct bench_case *c)
{
	if (send(peer, peer_frame, PEER_HDR_LEN + c->len, 0) != (ssize_t)(PEER_HDR_LEN + c->len)) {
		fprintf(stderr, "bench: peer send (%zu bytes): %s\n", c->len, strerror(errno));
		exit(1);
	}
}

/* The peer reads one frame: it must be the case's. */
static void peer_recv(int peer, const struct bench_case *c)
{
	ssize_t n = recv(peer, peer_buf, sizeof(peer_buf), 0);
	if (n != (ssize_t)(PEER_HDR_LEN + c->len)) {
		fprintf(stderr, "bench: peer got %zd bytes, not %zu%s%s\n", n, PEER_HDR_LEN + c->len,
			n < 0 ? ": " : "", n < 0 ? strerror(errno) : "");
		exit(1);
	}
}

/* ---- the guest side, over the real device ---- */

static uint8_t *ram;
static struct guest_mem mem;
static struct virtio_net net;
static struct vqd rxd, txd;
static uint64_t irqs;

static void raise_irq(struct virtio_device *dev, unsigned q) { irqs++; }
static void no_config(struct virtio_device *dev) {}
static const struct virtio_transport_ops transport = {raise_irq, no_config};

static int start_queue(struct virtio_device *dev, unsigned q, struct vqd *d, uint64_t gpa)
{
	int ret = vqd_init_split(d, QSIZE, ram + gpa, gpa, VQD_F_EVENT_IDX);
	dev->vqs[q].size = QSIZE;
	dev->vqs[q].desc_addr = d->desc_gpa;
	dev->vqs[q].avail_addr = d->avail_gpa;
	dev->vqs[q].used_addr = d->used_gpa;
	return ret == 0 ? virtio_device_enable_queue(dev, q) : -EINVAL;
}

static void rx_post(unsigned i)
{
	struct vqd_buf b = {RX_BUF + (uint64_t)i * RX_BUF_SIZE, RX_BUF_SIZE};
	if (vqd_add(&rxd, NULL, 0, &b, 1, (void *)(uintptr_t)(i + 1), false) < 0) {
		fprintf(stderr, "bench: rx ring full\n");
		exit(1);
	}
}

/* Bring the NIC up on TAP ifname as a Linux driver would: mergeable rx
 * buffers, checksum and TSO both ways if offered; rx ring full. */
static int device_start(const char *ifname)
{
	struct net_backend_config cfg = {.kind = NET_BACKEND_TAP};
	struct virtio_net_options o = {.mac = {0x02, 0, 0, 0, 0, 0x10}, .has_mac = true, .queues = 1};
	char err[256] = "";

	snprintf(cfg.ifname, sizeof(cfg.ifname), "%s", ifname);
	struct net_backend *be = net_tap_open(&cfg, 1, "virtio-net0", err, sizeof(err));
	if (!be) {
		fprintf(stderr, "bench: %s\n", err);
		return -1;
	}
	if (virtio_net_init(&net, "virtio-net0", &mem, &o, be, NULL) < 0) {
		fprintf(stderr, "bench: virtio_net_init: out of memory\n");
		return -1;
	}
	struct virtio_device *dev = &net.vdev;
	dev->transport = &transport;
	dev->offered = dev->ops->features(dev) | F(VIRTIO_F_VERSION_1) | F(VIRTIO_RING_F_EVENT_IDX);
	uint64_t want = dev->offered & (F(VIRTIO_F_VERSION_1) | F(VIRTIO_RING_F_EVENT_IDX) | F(VIRTIO_NET_F_MAC) |
					F(VIRTIO_NET_F_MRG_RXBUF) | F(VIRTIO_NET_F_CSUM) | F(VIRTIO_NET_F_HOST_TSO4) |
					F(VIRTIO_NET_F_GUEST_CSUM) | F(VIRTIO_NET_F_GUEST_TSO4));
	uint8_t s = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER;
	pthread_mutex_lock(&dev->lock);
	virtio_device_set_status(dev, s);
	virtio_device_write_driver_features(dev, 0, (uint32_t)want);
	virtio_device_write_driver_features(dev, 1, (uint32_t)(want >> 32));
	virtio_device_set_status(dev, s |= VIRTIO_CONFIG_S_FEATURES_OK);
	int ret = start_queue(dev, 0, &rxd, RX_RING);
	if (ret == 0)
		ret = start_queue(dev, 1, &txd, TX_RING);
	virtio_device_set_status(dev, s | VIRTIO_CONFIG_S_DRIVER_OK);
	pthread_mutex_unlock(&dev->lock);
	if (ret < 0 || !(dev->status & VIRTIO_CONFIG_S_DRIVER_OK)) {
		fprintf(stderr, "bench: the device did not start\n");
		return -1;
	}
	for (unsigned i = 0; i < QSIZE; i++)
		rx_post(i);
	if (vqd_kick_needed(&rxd))
		virtio_device_kick(dev, 0);
	return 0;
}

/* The guest's tx frames sit in its memory (a driver does not copy them). */
static void device_tx_fill(const struct bench_case *c)
{
	for (unsigned i = 0; i < c->batch; i++)
		memcpy(ram + TX_BUF + (uint64_t)i * TX_SLOT, frame, NET_BACKEND_HDR_LEN + c->len);
}

static void device_tx_batch(int peer, const struct bench_case *c)
{
	for (unsigned i = 0; i < c->batch; i++) {
		uint64_t gpa = TX_BUF + (uint64_t)i * TX_SLOT;
		struct vqd_buf b = {gpa, (uint32_t)(NET_BACKEND_HDR_LEN + c->len)};
		if (vqd_add(&txd, &b, 1, NULL, 0, (void *)(uintptr_t)(i + 1), false) < 0) {
			fprintf(stderr, "bench: tx ring full\n");
			exit(1);
		}
	}
	if (vqd_kick_needed(&txd))
		virtio_device_kick(&net.vdev, 1);
	for (unsigned i = 0; i < c->batch; i++)
		peer_recv(peer, c);
	uint32_t len;
	for (unsigned got = 0; got < c->batch; got++)
		if (!vqd_get_used(&txd, &len)) {
			fprintf(stderr, "bench: tx: %u of %u frames came back used\n", got, c->batch);
			exit(1);
		}
}

/* Reap one received frame (num_buffers chains) and repost its buffers.
 * False if none is waiting. */
static bool device_rx_reap(const struct bench_case *c)
{
	uint32_t len, total;
	void *token = vqd_get_used(&rxd, &len);
	if (!token)
		return false;
	unsigned i = (unsigned)(uintptr_t)token - 1;
	struct virtio_net_hdr_v1 h;
	memcpy(&h, ram + RX_BUF + (uint64_t)i * RX_BUF_SIZE, sizeof(h));
	rx_post(i);
	total = len;
	for (unsigned b = 1; b < h.num_buffers; b++) {
		while (!(token = vqd_get_used(&rxd, &len)))
			; /* the device completes a frame's chains at once */
		rx_post((unsigned)(uintptr_t)token - 1);
		total += len;
	}
	if (total != NET_BACKEND_HDR_LEN + c->len) {
		fprintf(stderr, "bench: rx: a %u-byte frame in %u buffers, not %zu (the TAP segmented it?)\n",
			total - NET_BACKEND_HDR_LEN, h.num_buffers, c->len);
		exit(1);
	}
	return true;
}

static void device_rx_batch(int peer, const struct bench_case *c)
{
	for (unsigned i = 0; i < c->batch; i++)
		peer_send(peer, c);
	for (unsigned got = 0; got < c->batch;) {
		virtio_net_backend_ready(&net, 0, 64); /* the reactor's handler; its budget */
		while (device_rx_reap(c))
			got++;
		if (vqd_kick_needed(&rxd))
			virtio_device_kick(&net.vdev, 0);
	}
}

/* ---- the limit: raw read/write on a TAP of the same kind ---- */

static int raw_fd = -1;

static void raw_tx_batch(int peer, const struct bench_case *c)
{
	for (unsigned i = 0; i < c->batch; i++)
		if (write(raw_fd, frame, NET_BACKEND_HDR_LEN + c->len) != (ssize_t)(NET_BACKEND_HDR_LEN + c->len)) {
			fprintf(stderr, "bench: raw TAP write: %s\n", strerror(errno));
			exit(1);
		}
	for (unsigned i = 0; i < c->batch; i++)
		peer_recv(peer, c);
}

static void raw_rx_batch(int peer, const struct bench_case *c)
{
	static uint8_t buf[NET_BACKEND_HDR_LEN + NET_MAX_FRAME];
	for (unsigned i = 0; i < c->batch; i++)
		peer_send(peer, c);
	for (unsigned got = 0; got < c->batch;) {
		ssize_t n = read(raw_fd, buf, sizeof(buf));
		if (n < 0 && errno == EAGAIN)
			continue;
		if (n != (ssize_t)(NET_BACKEND_HDR_LEN + c->len)) {
			fprintf(stderr, "bench: raw TAP read %zd bytes, not %zu\n", n, NET_BACKEND_HDR_LEN + c->len);
			exit(1);
		}
		got++;
	}
}

/* ---- running and printing ---- */

enum path { PATH_RAW, PATH_SKIFF, PATHS };
static const char *const path_names[PATHS] = {"raw TAP", "skiff"};
static int peers[PATHS] = {-1, -1};
static uint64_t *samples;

struct figures {
	double median, p99, per_frame;
};

static void batch(enum path p, const struct bench_case *c)
{
	if (p == PATH_RAW)
		c->rx ? raw_rx_batch(peers[p], c) : raw_tx_batch(peers[p], c);
	else
		c->rx ? device_rx_batch(peers[p], c) : device_tx_batch(peers[p], c);
}

static struct figures measure(enum path p, const struct bench_case *c, double seconds)
{
	bool valgrind = RUNNING_ON_VALGRIND;
	struct figures f = {0};
	uint64_t frames = 0, nsamples = 0;

	build_frame(c);
	build_peer_frame(c);
	if (p == PATH_SKIFF && !c->rx)
		device_tx_fill(c);
	for (int i = 0; i < (valgrind ? 2 : 20); i++)
		batch(p, c); /* warm up: first touches */
	if (valgrind)
		CALLGRIND_ZERO_STATS;
	uint64_t t0 = bench_now_ns(), deadline = t0 + (uint64_t)(seconds * 1e9), now = t0;
	while (valgrind ? frames < c->callgrind_frames : now < deadline) {
		uint64_t start = now;
		batch(p, c);
		frames += c->batch;
		now = bench_now_ns();
		if (nsamples < MAX_SAMPLES)
			samples[nsamples++] = (now - start) / c->batch;
	}
	if (valgrind) {
		char name[64];
		snprintf(name, sizeof(name), "%s/%s", c->name, path_names[p]);
		CALLGRIND_DUMP_STATS_AT(name);
		printf("callgrind %s %llu\n", name, (unsigned long long)frames);
	}
	qsort(samples, nsamples, sizeof(samples[0]), bench_cmp_u64);
	f.median = samples[nsamples / 2];
	f.p99 = samples[(size_t)(nsamples * 0.99)];
	f.per_frame = (double)(now - t0) / frames;
	return f;
}

/* Does the device (and this kernel's TAP) carry the case at all? */
static bool offered(const struct bench_case *c)
{
	if (c->len <= 1514)
		return true;
	return net.vdev.features & F(c->rx ? VIRTIO_NET_F_GUEST_TSO4 : VIRTIO_NET_F_HOST_TSO4);
}

int main(int argc, char **argv)
{
	double seconds = argc > 1 ? atof(argv[1]) : 1.0;

	if (enter_namespace() < 0)
		return 0;
	ram = aligned_alloc(4096, RAM_SIZE);
	samples = malloc(MAX_SAMPLES * sizeof(uint64_t));
	if (!ram || !samples) {
		fprintf(stderr, "bench: out of memory\n");
		return 1;
	}
	memset(ram, 0, RAM_SIZE);
	mem = (struct guest_mem){.region = {{.gpa = 0, .size = RAM_SIZE, .host = ram}}, .nr_regions = 1};
	raw_fd = raw_tap_open("rawtap0");
	if (raw_fd < 0 || (peers[PATH_RAW] = peer_open("rawtap0")) < 0 || device_start("skifftap0") < 0 ||
	    (peers[PATH_SKIFF] = peer_open("skifftap0")) < 0)
		return 1;

	printf("virtio-net device path without KVM, TAP in a namespace of its own, ns per frame\n");
	printf("%-12s %-8s %10s %10s %10s %12s %8s\n", "case", "path", "median", "p99", "wall/frame", "frames/s",
	       "x raw");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct bench_case *c = &cases[i];
		struct figures raw = {0};
		if (!offered(c)) {
			printf("%-12s skipped: the device does not offer TSO4 that way\n", c->name);
			continue;
		}
		for (enum path p = 0; p < PATHS; p++) {
			struct figures f = measure(p, c, seconds);
			if (p == PATH_RAW)
				raw = f;
			printf("%-12s %-8s %10.0f %10.0f %10.0f %12.0f", c->name, path_names[p], f.median, f.p99,
			       f.per_frame, 1e9 / f.per_frame);
			if (p != PATH_RAW)
				printf(" %7.2fx", f.per_frame / raw.per_frame);
			printf("\n");
			/* For make bench's summary table (tests/bench/summary). */
			if (p != PATH_RAW)
				printf("bench-row|net device path, no KVM (limit: raw TAP loop)|%s|ns/frame|lower|%.0f||%.0f\n",
				       c->name, f.per_frame, raw.per_frame);
		}
	}
	virtio_net_destroy(&net);
	return 0;
}
