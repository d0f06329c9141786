/* backend=tap: frames go to and from a host TAP device, one file
 * descriptor per queue pair (IFF_MULTI_QUEUE when there are several).
 * With IFF_VNET_HDR the kernel reads and writes the virtio-net header
 * itself, so checksum and segmentation offloads pass straight through:
 * TUNSETOFFLOAD says which ones the guest takes on receive. See
 * net-backend.h for the interface. */
#include "devices/net-backend.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <linux/if.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>

#include "base/fd-class.h"
#include "base/log.h"

struct net_tap {
	struct net_backend be;
	char name[32];       /* the device's, for log lines */
	char ifname[IFNAMSIZ];
	int fd[NET_MAX_QUEUE_PAIRS];
	unsigned nr_fds;
	bool vnet_hdr;       /* the kernel speaks the virtio-net header */
	bool multi_queue;
	/* The driver sets offloads and queue pairs as often as it likes. */
	struct log_limit log_offload, log_queue;
};

#define TAP(be) ((struct net_tap *)(be))

/* The frame read straight into iov[0..n) (the device's buffers in guest
 * RAM); iov[0] holds at least the header. Without IFF_VNET_HDR, room for
 * the header is kept free at the start and zeroed. */
static ssize_t tap_recvv(struct net_backend *be, unsigned q, const struct iovec *iov, unsigned n)
{
	struct net_tap *t = TAP(be);
	const struct iovec *use = iov;
	size_t room = 0;
	ssize_t got;

	if (q >= t->nr_fds || n == 0 || n > UIO_MAXIOV || iov[0].iov_len < NET_BACKEND_HDR_LEN)
		return -EINVAL;
	for (unsigned i = 0; i < n; i++)
		room += iov[i].iov_len;
	struct iovec plain[t->vnet_hdr ? 1 : n];
	if (!t->vnet_hdr) {
		/* No offloads: a zero header, and the frame read after it. */
		memset(iov[0].iov_base, 0, NET_BACKEND_HDR_LEN);
		memcpy(plain, iov, n * sizeof(*iov));
		plain[0].iov_base = (uint8_t *)plain[0].iov_base + NET_BACKEND_HDR_LEN;
		plain[0].iov_len -= NET_BACKEND_HDR_LEN;
		room -= NET_BACKEND_HDR_LEN;
		use = plain;
	}
	do
		got = readv(t->fd[q], use, (int)n);
	while (got < 0 && errno == EINTR);
	if (got < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	/* TUN returns a frame's whole length even when it did not fit (the
	 * rest is gone): such a frame is lost, never half-delivered. */
	if ((size_t)got > room)
		return -EMSGSIZE;
	return got + (t->vnet_hdr ? 0 : NET_BACKEND_HDR_LEN);
}

/* The same read into one flat buffer. */
static ssize_t tap_recv(struct net_backend *be, unsigned q, void *buf, size_t len)
{
	struct iovec one = { .iov_base = buf, .iov_len = len };

	return tap_recvv(be, q, &one, 1);
}

static int tap_send(struct net_backend *be, unsigned q, const void *frame, size_t len)
{
	struct net_tap *t = TAP(be);
	size_t skip = t->vnet_hdr ? 0 : NET_BACKEND_HDR_LEN;
	ssize_t n;

	if (q >= t->nr_fds)
		q = 0;
	if (len < NET_BACKEND_HDR_LEN)
		return -EINVAL;
	do
		n = write(t->fd[q], (const uint8_t *)frame + skip, len - skip);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : 0;
}

static int tap_sendv(struct net_backend *be, unsigned q, const struct iovec *iov, unsigned n)
{
	struct net_tap *t = TAP(be);
	unsigned skip = t->vnet_hdr ? 0 : 1; /* iov[0] is the header */
	ssize_t ret;

	if (q >= t->nr_fds)
		q = 0;
	if (n <= skip)
		return -EINVAL;
	do
		ret = writev(t->fd[q], iov + skip, (int)(n - skip));
	while (ret < 0 && errno == EINTR);
	return ret < 0 ? -errno : 0;
}

static int tap_rx_fd(struct net_backend *be, unsigned q)
{
	struct net_tap *t = TAP(be);

	return q < t->nr_fds ? t->fd[q] : -1;
}

static void tap_set_offloads(struct net_backend *be, unsigned offloads)
{
	struct net_tap *t = TAP(be);
	unsigned flags = 0;

	if (!t->vnet_hdr)
		return;
	if (offloads & NET_OFFLOAD_CSUM) {
		flags |= TUN_F_CSUM;
		/* Segmentation offloads need checksum offload (as in the spec). */
		flags |= (offloads & NET_OFFLOAD_TSO4 ? TUN_F_TSO4 : 0) | (offloads & NET_OFFLOAD_TSO6 ? TUN_F_TSO6 : 0);
	}
	if (ioctl(t->fd[0], TUNSETOFFLOAD, flags) < 0)
		log_limited(&t->log_offload, LOG_WARN, t->name, "TUNSETOFFLOAD %#x on %s: %s", flags, t->ifname,
			    strerror(errno));
}

static void tap_set_queue_pairs(struct net_backend *be, unsigned pairs)
{
	struct net_tap *t = TAP(be);

	if (!t->multi_queue)
		return;
	/* The kernel steers frames to attached queues only: detach the ones
	 * the driver does not use, or their frames would wait forever. */
	for (unsigned q = 0; q < t->nr_fds; q++) {
		struct ifreq ifr = { .ifr_flags = q < pairs ? IFF_ATTACH_QUEUE : IFF_DETACH_QUEUE };

		if (ioctl(t->fd[q], TUNSETQUEUE, &ifr) < 0 && errno != EINVAL)
			log_limited(&t->log_queue, LOG_WARN, t->name, "TUNSETQUEUE %u on %s: %s", q, t->ifname,
				    strerror(errno));
	}
}

static void tap_destroy(struct net_backend *be)
{
	struct net_tap *t = TAP(be);

	for (unsigned q = 0; q < t->nr_fds; q++) {
		fd_class_forget(FD_CLASS_TAP, t->fd[q]);
		close(t->fd[q]);
	}
	free(t);
}

static const struct net_backend_ops tap_ops = {
	.recv = tap_recv,
	.recvv = tap_recvv,
	.send = tap_send,
	.sendv = tap_sendv,
	.rx_fd = tap_rx_fd,
	.set_offloads = tap_set_offloads,
	.set_queue_pairs = tap_set_queue_pairs,
	.destroy = tap_destroy,
};

/* Open (or create) queue q of TAP ifname. */
static int tap_open_queue(struct net_tap *t, const char *ifname, unsigned pairs, char *err, size_t errlen)
{
	struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | (pairs > 1 ? IFF_MULTI_QUEUE : 0) };
	int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);

	if (fd < 0) {
		snprintf(err, errlen, "backend=tap: cannot open or create TAP device '%s': /dev/net/tun: %s", ifname, strerror(errno));
		return -errno;
	}
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		int e = errno;

		snprintf(err, errlen,
			 "backend=tap: cannot open or create TAP device '%s': %s%s", ifname, strerror(e),
			 e == EPERM ? " (create it beforehand with `ip tuntap add dev NAME mode tap user USER"
				      "` and multi_queue for queues>1, or run as root)" :
			 e == EINVAL ? " (is it a TAP device, and multi_queue iff queues>1?)" : "");
		close(fd);
		return -e;
	}
	fd_class_note(FD_CLASS_TAP, fd);
	t->fd[t->nr_fds++] = fd;
	return 0;
}

/* fd=N: a TAP the parent opened. It must be a TAP without packet info. */
static int tap_adopt_fd(struct net_tap *t, int fd, char *err, size_t errlen)
{
	struct ifreq ifr = { 0 };
	struct stat st;
	int flags;

	if (fstat(fd, &st) < 0) {
		snprintf(err, errlen, "backend=tap,fd=%d: %s", fd, strerror(errno));
		return -EBADF;
	}
	if (ioctl(fd, TUNGETIFF, &ifr) < 0 || !(ifr.ifr_flags & IFF_TAP) || !(ifr.ifr_flags & IFF_NO_PI)) {
		snprintf(err, errlen, "backend=tap,fd=%d: not a TAP device opened with IFF_TAP|IFF_NO_PI", fd);
		return -EINVAL;
	}
	flags = fcntl(fd, F_GETFL);
	if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0 || fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
		snprintf(err, errlen, "backend=tap,fd=%d: %s", fd, strerror(errno));
		return -errno;
	}
	/* All queues of one TAP agree; the first one decides. */
	if (t->nr_fds == 0) {
		t->vnet_hdr = ifr.ifr_flags & IFF_VNET_HDR;
		t->multi_queue = ifr.ifr_flags & IFF_MULTI_QUEUE;
		snprintf(t->ifname, sizeof(t->ifname), "%s", ifr.ifr_name);
	}
	fd_class_note(FD_CLASS_TAP, fd);
	t->fd[t->nr_fds++] = fd;
	return 0;
}

struct net_backend *net_tap_open(const struct net_backend_config *c, unsigned pairs, const char *name, char *err,
				 size_t errlen)
{
	struct net_tap *t = calloc(1, sizeof(*t));
	int hdr_len = NET_BACKEND_HDR_LEN;

	if (!t) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	t->be.ops = &tap_ops;
	t->be.queue_pairs = pairs;
	snprintf(t->name, sizeof(t->name), "%s", name);
	if (c->nr_fds) {
		if (c->nr_fds != pairs) {
			snprintf(err, errlen, "backend=tap: %u fds given for queues=%u (one fd per queue pair: fd=N:N...)",
				 c->nr_fds, pairs);
			goto fail;
		}
		for (unsigned q = 0; q < c->nr_fds; q++)
			if (tap_adopt_fd(t, c->fds[q], err, errlen) < 0)
				goto fail;
	} else {
		snprintf(t->ifname, sizeof(t->ifname), "%s", c->ifname);
		t->vnet_hdr = true;
		t->multi_queue = pairs > 1;
		for (unsigned q = 0; q < pairs; q++)
			if (tap_open_queue(t, c->ifname, pairs, err, errlen) < 0)
				goto fail;
	}
	if (t->vnet_hdr && ioctl(t->fd[0], TUNSETVNETHDRSZ, &hdr_len) < 0) {
		snprintf(err, errlen, "backend=tap: TUNSETVNETHDRSZ on %s: %s", t->ifname, strerror(errno));
		goto fail;
	}
	if (t->vnet_hdr) {
		/* Offer the guest what this kernel's TAP can carry: try the
		 * receive offloads once, then start with none until the driver
		 * says what it takes. */
		t->be.features = (1ull << VIRTIO_NET_F_CSUM) | (1ull << VIRTIO_NET_F_HOST_TSO4) |
				 (1ull << VIRTIO_NET_F_HOST_TSO6);
		if (ioctl(t->fd[0], TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6) == 0)
			t->be.features |= (1ull << VIRTIO_NET_F_GUEST_CSUM) | (1ull << VIRTIO_NET_F_GUEST_TSO4) |
					  (1ull << VIRTIO_NET_F_GUEST_TSO6);
		else
			log_info(name, "TAP %s takes no receive offloads: %s", t->ifname, strerror(errno));
		(void)!ioctl(t->fd[0], TUNSETOFFLOAD, 0);
	}
	log_debug(name, "TAP %s, %u queue(s), vnet header %s", t->ifname, t->nr_fds, t->vnet_hdr ? "on" : "off");
	return &t->be;
fail:
	tap_destroy(&t->be);
	return NULL;
}
