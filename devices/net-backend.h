/* Where a virtio-net device's frames go: the small interface between the
 * device model (devices/virtio-net.c) and its backends (net-tap.c, a host
 * TAP device; net-user.c, user-mode networking through libslirp).
 *
 * Every frame crossing this interface starts with a struct
 * virtio_net_hdr_v1 (NET_BACKEND_HDR_LEN bytes: flags, gso_type, hdr_len,
 * gso_size, csum_start, csum_offset, num_buffers). The TAP kernel driver
 * speaks that header itself (IFF_VNET_HDR with TUNSETVNETHDRSZ 12); a
 * backend without offloads writes a zero header and ignores the one it
 * gets. num_buffers is the device's business: backends ignore it.
 *
 * Flow control: the device reads frames (recv) only while its rx ring has
 * room. When the ring is full it stops watching rx_fd() on the reactor;
 * the frame the backend holds stays there (in the TAP's kernel queue or
 * the slirp backend's own queue) until the guest posts buffers and kicks.
 * So rx_fd() must stay readable while frames are waiting (level-triggered).
 *
 * Threads: recv, send and set_* run on the reactor thread with the
 * device's lock held. A backend with its own thread (user) must never
 * take the device lock.
 */
#ifndef SKIFF_NET_BACKEND_H
#define SKIFF_NET_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#define NET_BACKEND_HDR_LEN 12     /* sizeof(struct virtio_net_hdr_v1) */
#define NET_MAX_QUEUE_PAIRS 8
#define NET_MAX_FRAME       65536  /* Ethernet frame incl. GSO super-frames (64 KiB), without header */
#define NET_MAX_HOSTFWD     32

/* Guest-bound offloads the driver accepted (TUN_F_* meaning). */
#define NET_OFFLOAD_CSUM 1u
#define NET_OFFLOAD_TSO4 2u
#define NET_OFFLOAD_TSO6 4u

struct net_backend;

struct net_backend_ops {
	/* One waiting frame for queue pair q, header first, into buf.
	 * Returns its length, -EAGAIN if none is waiting, or -EMSGSIZE /
	 * other -errno for a frame that was lost (counted by the device). */
	ssize_t (*recv)(struct net_backend *be, unsigned q, void *buf, size_t len);
	/* The same into iov[0..n) (the device's buffers in guest RAM, so the
	 * frame is not copied in user space); iov[0] holds at least the
	 * header. -EMSGSIZE: the frame was longer than the iovecs, and lost.
	 * Optional: without it the device reads into a buffer and copies. */
	ssize_t (*recvv)(struct net_backend *be, unsigned q, const struct iovec *iov, unsigned n);
	/* Send one frame (header first) from queue pair q. 0, or -errno if
	 * the backend dropped it. */
	int (*send)(struct net_backend *be, unsigned q, const void *frame, size_t len);
	/* The same frame in pieces straight from guest RAM: iov[0] is the
	 * header (NET_BACKEND_HDR_LEN bytes), the rest the frame, sent
	 * without copying it in user space. Optional: without it the device
	 * linearizes the frame and calls send. */
	int (*sendv)(struct net_backend *be, unsigned q, const struct iovec *iov, unsigned n);
	/* The fd the reactor watches for queue pair q's frames (readable
	 * while frames are waiting), or -1 if q has none (user backend: q > 0). */
	int (*rx_fd)(struct net_backend *be, unsigned q);
	/* Which offloads the guest takes in received frames (NET_OFFLOAD_*). */
	void (*set_offloads)(struct net_backend *be, unsigned offloads);
	/* The driver uses this many queue pairs (MQ): a multi-queue TAP stops
	 * steering frames to the others. */
	void (*set_queue_pairs)(struct net_backend *be, unsigned pairs);
	/* Start any thread of its own (after the device is fully built). */
	int (*start)(struct net_backend *be);
	void (*destroy)(struct net_backend *be);
};

struct net_backend {
	const struct net_backend_ops *ops;
	uint64_t features;  /* VIRTIO_NET_F_* offload bits it can carry both ways */
	unsigned queue_pairs;
};

enum net_backend_kind { NET_BACKEND_NONE, NET_BACKEND_TAP, NET_BACKEND_USER };

/* backend=user hostfwd=PROTO:[HADDR]:HPORT-[GADDR]:GPORT */
struct net_hostfwd {
	uint8_t udp;
	uint32_t host_addr, guest_addr; /* network byte order; 0 = any / the DHCP address */
	uint16_t host_port, guest_port; /* host byte order */
};

/* The parsed --device net keys that concern the backend. */
struct net_backend_config {
	enum net_backend_kind kind;
	char ifname[16];                  /* tap: IFNAMSIZ */
	int fds[NET_MAX_QUEUE_PAIRS];     /* tap fd=N[:N...] */
	unsigned nr_fds;
	uint32_t net_addr, net_prefix;    /* user: net=ADDR/PREFIX, network byte order address */
	unsigned nr_hostfwd;
	struct net_hostfwd hostfwd[NET_MAX_HOSTFWD];
};

/* Open the backend for `pairs` queue pairs. NULL with one line in err. */
struct net_backend *net_tap_open(const struct net_backend_config *c, unsigned pairs, const char *name, char *err,
				 size_t errlen);
struct net_backend *net_user_open(const struct net_backend_config *c, unsigned pairs, const char *name, char *err,
				  size_t errlen);

#endif
