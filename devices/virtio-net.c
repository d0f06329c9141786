/* virtio-net: the device model. See virtio-net.h; backends are in
 * net-tap.c and net-user.c, the command-line keys in net-options.c. */
#include "devices/virtio-net.h"
#include "devices/virtio-net-rx.h"

#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <linux/virtio_ids.h>
#include <linux/virtio_net.h>

#include "base/log.h"

#define F(bit) VIRTIO_FEATURE(bit)

/* Offloads the driver takes on receive, from the negotiated features. */
static unsigned guest_offloads(uint64_t features)
{
	unsigned o = 0;

	if (features & F(VIRTIO_NET_F_GUEST_CSUM))
		o |= NET_OFFLOAD_CSUM;
	if (features & F(VIRTIO_NET_F_GUEST_TSO4))
		o |= NET_OFFLOAD_TSO4;
	if (features & F(VIRTIO_NET_F_GUEST_TSO6))
		o |= NET_OFFLOAD_TSO6;
	return o;
}

static unsigned ctrl_queue(const struct virtio_net *net)
{
	return (net->vdev.features & F(VIRTIO_NET_F_MQ)) ? 2 * net->max_pairs : 2;
}

bool virtio_net_backend_ready(struct virtio_net *net, unsigned pair, unsigned budget)
{
	bool more, trickle;

	pthread_mutex_lock(&net->vdev.lock);
	more = pair < net->max_pairs && !net->vdev.resetting && virtio_net_rx_pump(net, pair, budget);
	trickle = pair < net->max_pairs && net->rx_src[pair].trickle;
	pthread_mutex_unlock(&net->vdev.lock);
	/* Frames from the backend are a stream the reactor may batch
	 * (base/reactor.h, Streams). */
	if (net->reactor)
		reactor_note_stream(net->reactor, trickle);
	return more;
}

/* The reactor's handler for a pair's backend fd (virtio-net-rx.c
 * watches and pauses it). */
static enum reactor_result rx_source_ready(void *opaque, uint32_t events, unsigned budget)
{
	struct virtio_net_rx_source *src = opaque;

	return virtio_net_backend_ready(src->net, src->pair, budget) ? REACTOR_MORE : REACTOR_DONE;
}

/* ---- transmit ---- */

/* Hand the frame to the backend as iovecs into guest RAM, after our copy
 * of the header: no copy of the frame in user space (a 64 KiB TSO frame
 * cost ~65,000 instructions to linearize). */
static int tx_sendv(struct virtio_net *net, unsigned q, const struct virtio_request *req,
		    const struct virtio_net_hdr_v1 *hdr, size_t hdr_len)
{
	struct iovec *iov = net->tx_iov;
	int n = virtio_request_iov(req, false, iov + 1, VIRTIO_REQUEST_MAX_BUFS);
	unsigned first = 1;

	if (n < 0)
		return n;
	/* Skip the driver's header, wherever its descriptors split it. */
	for (size_t skip = hdr_len; skip;) {
		if (iov[first].iov_len <= skip) {
			skip -= iov[first++].iov_len;
		} else {
			iov[first].iov_base = (uint8_t *)iov[first].iov_base + skip;
			iov[first].iov_len -= skip;
			skip = 0;
		}
	}
	iov[--first] = (struct iovec){ (void *)hdr, NET_BACKEND_HDR_LEN };
	return net->be->ops->sendv(net->be, q / 2, iov + first, (unsigned)n + 1 - first);
}

/* Send one tx request's frame to the backend, or drop it if malformed. */
static void tx_send(struct virtio_net *net, unsigned q, const struct virtio_request *req)
{
	size_t hdr_len = virtio_net_guest_hdr_len(net);
	uint64_t sent = virtio_request_readable(req);
	size_t frame_len = sent - (sent < hdr_len ? sent : hdr_len);

	if (sent < hdr_len || frame_len > NET_MAX_FRAME || frame_len == 0) {
		/* Header cut short or a frame no Ethernet carries: drop it. */
		net->stats.tx_malformed++;
		return;
	}
	/* The backend's header is the 12-byte one: copy the driver's
	 * (10 or 12 bytes) and clear what it did not send. */
	struct virtio_net_hdr_v1 hdr = { 0 };
	virtio_request_read(req, 0, &hdr, hdr_len);
	hdr.num_buffers = 0;
	int ret;
	if (net->be->ops->sendv) {
		ret = tx_sendv(net, q, req, &hdr, hdr_len);
	} else {
		memcpy(net->tx_buf, &hdr, NET_BACKEND_HDR_LEN);
		virtio_request_read(req, hdr_len, net->tx_buf + NET_BACKEND_HDR_LEN, frame_len);
		ret = net->be->ops->send(net->be, q / 2, net->tx_buf, NET_BACKEND_HDR_LEN + frame_len);
	}
	if (ret < 0)
		net->stats.tx_backend_errors++;
	else
		net->stats.tx_frames++;
}

/* Sent chains go back to the driver in batches: one used-index update and
 * at most one interrupt for up to VIRTIO_REQUEST_BATCH_MAX frames. */
static bool tx_serve(struct virtio_net *net, unsigned q, unsigned budget)
{
	static const uint32_t nothing_written[VIRTIO_REQUEST_BATCH_MAX];
	unsigned served = 0, n = 0;

	while (served < budget && virtio_request_pop(&net->vdev, q, &net->reqs[n]) == 1) {
		served++;
		tx_send(net, q, &net->reqs[n]);
		if (++n == VIRTIO_REQUEST_BATCH_MAX) {
			virtio_request_complete_batch_locked(net->reqs, nothing_written, n);
			n = 0;
		}
	}
	virtio_request_complete_batch_locked(net->reqs, nothing_written, n);
	return served == budget;
}

/* ---- control queue ---- */

/* A MAC table command with generous lists; fits the tx buffer it borrows. */
#define CTRL_MAX_DATA (2 * (4 + 6 * 1024))
_Static_assert(CTRL_MAX_DATA <= NET_MAX_FRAME, "control data borrows tx_buf");

/* VIRTIO_NET_CTRL_MAC_TABLE_SET: two tables, unicast then multicast, each
 * a 32-bit little-endian count and that many addresses; nothing may be
 * left over. All or nothing: both tables are checked before either
 * changes, so a refused command leaves the filter as it was. */
static int ctrl_mac_table(struct virtio_net *net, const uint8_t *data, size_t len)
{
	uint32_t counts[2];
	size_t at[2], off = 0;

	for (int t = 0; t < 2; t++) {
		if (len - off < 4)
			return -1;
		memcpy(&counts[t], data + off, 4);
		counts[t] = le32toh(counts[t]);
		off += 4;
		if (counts[t] > (len - off) / 6)
			return -1;
		at[t] = off;
		off += counts[t] * 6u;
	}
	if (off != len)
		return -1;
	for (int t = 0; t < 2; t++) {
		unsigned keep = counts[t] < VIRTIO_NET_MAC_TABLE ? counts[t] : VIRTIO_NET_MAC_TABLE;
		memcpy(t == 0 ? net->uc : net->mc, data + at[t], keep * 6u);
	}
	net->uc_count = counts[0];
	net->mc_count = counts[1];
	return 0;
}

static int ctrl_command(struct virtio_net *net, uint8_t class, uint8_t cmd, const uint8_t *data, size_t len)
{
	uint64_t f = net->vdev.features;

	switch (class) {
	case VIRTIO_NET_CTRL_RX:
		if (!(f & F(VIRTIO_NET_F_CTRL_RX)) || len != 1)
			return -1;
		if (cmd == VIRTIO_NET_CTRL_RX_PROMISC)
			net->promisc = data[0];
		else if (cmd == VIRTIO_NET_CTRL_RX_ALLMULTI)
			net->allmulti = data[0];
		else
			return -1; /* CTRL_RX_EXTRA is not offered */
		return 0;
	case VIRTIO_NET_CTRL_MAC:
		if (cmd == VIRTIO_NET_CTRL_MAC_TABLE_SET && (f & F(VIRTIO_NET_F_CTRL_RX)))
			return ctrl_mac_table(net, data, len);
		if (cmd == VIRTIO_NET_CTRL_MAC_ADDR_SET && (f & F(VIRTIO_NET_F_CTRL_MAC_ADDR)) && len == 6) {
			memcpy(net->mac, data, 6);
			return 0;
		}
		return -1;
	case VIRTIO_NET_CTRL_ANNOUNCE:
		if (cmd != VIRTIO_NET_CTRL_ANNOUNCE_ACK || !(f & F(VIRTIO_NET_F_GUEST_ANNOUNCE)))
			return -1;
		net->status &= (uint16_t)~VIRTIO_NET_S_ANNOUNCE;
		return 0;
	case VIRTIO_NET_CTRL_MQ: {
		uint16_t pairs;

		if (cmd != VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET || !(f & F(VIRTIO_NET_F_MQ)) || len != 2)
			return -1;
		memcpy(&pairs, data, 2);
		if (pairs < VIRTIO_NET_CTRL_MQ_VQ_PAIRS_MIN || pairs > net->max_pairs)
			return -1;
		net->active_pairs = pairs;
		net->be->ops->set_queue_pairs(net->be, pairs);
		for (unsigned p = 0; p < net->max_pairs; p++)
			virtio_net_rx_watch(net, p, p < pairs);
		return 0;
	}
	case VIRTIO_NET_CTRL_GUEST_OFFLOADS: {
		uint64_t offloads;

		if (cmd != VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET || !(f & F(VIRTIO_NET_F_CTRL_GUEST_OFFLOADS)) || len != 8)
			return -1;
		memcpy(&offloads, data, 8);
		if (offloads & ~f) /* only what was negotiated */
			return -1;
		net->be->ops->set_offloads(net->be, guest_offloads(offloads));
		return 0;
	}
	default:
		return -1;
	}
}

static bool ctrl_serve(struct virtio_net *net, unsigned q, unsigned budget)
{
	uint8_t *data = net->tx_buf; /* tx and ctrl are both served under dev->lock, never at once */
	struct virtio_request req;
	unsigned served = 0;

	while (served < budget && virtio_request_pop(&net->vdev, q, &req) == 1) {
		uint64_t sent = virtio_request_readable(&req);
		struct virtio_net_ctrl_hdr hdr;
		uint8_t ack = VIRTIO_NET_ERR;
		size_t len;

		served++;
		/* Header readable, data readable, one writable ack byte at least. */
		if (sent < sizeof(hdr) || sent - sizeof(hdr) > CTRL_MAX_DATA || virtio_request_writable(&req) < 1) {
			net->stats.ctrl_errors++;
			virtio_request_complete_locked(&req, 0);
			continue;
		}
		len = sent - sizeof(hdr);
		virtio_request_read(&req, 0, &hdr, sizeof(hdr));
		virtio_request_read(&req, sizeof(hdr), data, len);
		if (ctrl_command(net, hdr.class, hdr.cmd, data, len) == 0)
			ack = VIRTIO_NET_OK;
		else
			net->stats.ctrl_errors++;
		virtio_request_write(&req, 0, &ack, 1);
		virtio_request_complete_locked(&req, 1);
	}
	return served == budget;
}

/* ---- virtio_device_ops ---- */

static bool net_queue_notify(struct virtio_device *dev, unsigned q, unsigned budget)
{
	struct virtio_net *net = dev->priv;

	if (q == ctrl_queue(net))
		return ctrl_serve(net, q, budget);
	if (q / 2 >= net->max_pairs)
		return false; /* a pair's queue beyond what MQ negotiated */
	if (q % 2)
		return tx_serve(net, q, budget);
	/* The driver posted rx buffers: place what waits, then read on. */
	return virtio_net_rx_kick(net, q / 2, budget);
}

static uint64_t net_features(struct virtio_device *dev)
{
	struct virtio_net *net = dev->priv;
	uint64_t f = F(VIRTIO_NET_F_MAC) | F(VIRTIO_NET_F_STATUS) | F(VIRTIO_NET_F_MRG_RXBUF) |
		     F(VIRTIO_NET_F_CTRL_VQ) | F(VIRTIO_NET_F_CTRL_RX) | F(VIRTIO_NET_F_CTRL_MAC_ADDR) |
		     F(VIRTIO_NET_F_GUEST_ANNOUNCE) | net->be->features;

	if (net->be->features & F(VIRTIO_NET_F_GUEST_CSUM))
		f |= F(VIRTIO_NET_F_CTRL_GUEST_OFFLOADS);
	if (net->max_pairs > 1)
		f |= F(VIRTIO_NET_F_MQ);
	if (net->mtu)
		f |= F(VIRTIO_NET_F_MTU);
	return f;
}

/* Config space: mac[6], status, max_virtqueue_pairs, mtu (struct virtio_net_options's start). */
static void net_config_bytes(const struct virtio_net *net, uint8_t *cfg)
{
	uint16_t pairs = (uint16_t)net->max_pairs;

	memcpy(cfg, net->mac, 6);
	memcpy(cfg + 6, &net->status, 2);
	memcpy(cfg + 8, &pairs, 2);
	memcpy(cfg + 10, &net->mtu, 2);
}

#define NET_CONFIG_SIZE 12

static void net_config_read(struct virtio_device *dev, size_t offset, void *data, size_t len)
{
	uint8_t cfg[NET_CONFIG_SIZE];

	net_config_bytes(dev->priv, cfg);
	memcpy(data, cfg + offset, len);
}

static void net_config_write(struct virtio_device *dev, size_t offset, const void *data, size_t len)
{
	struct virtio_net *net = dev->priv;

	/* Legacy drivers without CTRL_MAC_ADDR set the MAC here; the rest is read-only. */
	if (offset < 6 && offset + len <= 6)
		memcpy(net->mac + offset, data, len);
}

static int net_activate(struct virtio_device *dev)
{
	struct virtio_net *net = dev->priv;

	log_debug(dev->name, "features %#llx: %zu-byte header, receive offloads %#x",
		  (unsigned long long)dev->features, virtio_net_guest_hdr_len(net), guest_offloads(dev->features));
	net->be->ops->set_offloads(net->be, guest_offloads(dev->features));
	/* Until VQ_PAIRS_SET the driver uses pair 0 only (spec 5.1.6.5.5). */
	net->active_pairs = 1;
	net->be->ops->set_queue_pairs(net->be, 1);
	virtio_net_rx_watch(net, 0, true);
	if ((dev->features & F(VIRTIO_NET_F_GUEST_ANNOUNCE)) && (net->status & VIRTIO_NET_S_LINK_UP)) {
		/* Tell the network where we are (gratuitous ARP, IPv6 NA). */
		net->status |= VIRTIO_NET_S_ANNOUNCE;
		virtio_device_notify_config(dev);
	}
	return 0;
}

static void net_reset(struct virtio_device *dev)
{
	struct virtio_net *net = dev->priv;

	for (unsigned p = 0; p < net->max_pairs; p++) {
		virtio_net_rx_watch(net, p, false);
		virtio_net_rx_wait_cancel(net, p);
		net->rx_len[p] = 0; /* the driver's rings are gone: so is the frame for them */
	}
	net->status &= (uint16_t)~VIRTIO_NET_S_ANNOUNCE;
	net->promisc = true; /* until the driver sets its filter */
	net->allmulti = false;
	net->uc_count = net->mc_count = 0;
	net->active_pairs = 1;
}

static const struct virtio_device_ops net_ops_template = {
	.type = "net",
	.device_id = VIRTIO_ID_NET,
	.queue_max_size = VIRTIO_NET_QUEUE_SIZE,
	.config_size = NET_CONFIG_SIZE,
	.features = net_features,
	.config_read = net_config_read,
	.config_write = net_config_write,
	.activate = net_activate,
	.queue_notify = net_queue_notify,
	.reset = net_reset,
};

int virtio_net_init(struct virtio_net *net, const char *name, const struct guest_mem *mem,
		    const struct virtio_net_options *c, struct net_backend *be, struct reactor *reactor)
{
	unsigned pairs = c->queues ? c->queues : 1;

	net->ops = net_ops_template;
	net->ops.nr_queues = 2 * pairs + 1;
	virtio_device_init(&net->vdev, &net->ops, net, name, mem);
	for (unsigned p = 0; p < NET_MAX_QUEUE_PAIRS; p++) /* destroy after a failed init removes nothing */
		net->rx_src[p] = (struct virtio_net_rx_source){ .id = -1, .wait_fd = -1, .wait_id = -1 };
	net->be = be;
	net->reactor = reactor;
	net->max_pairs = pairs;
	net->active_pairs = 1;
	net->mtu = c->mtu;
	net->status = c->link_down ? 0 : VIRTIO_NET_S_LINK_UP;
	net->promisc = true;
	memcpy(net->mac, c->mac, 6);
	net->tx_buf = malloc(NET_BACKEND_HDR_LEN + NET_MAX_FRAME);
	net->tx_iov = calloc(1 + VIRTIO_REQUEST_MAX_BUFS, sizeof(*net->tx_iov));
	net->reqs = calloc(VIRTIO_REQUEST_BATCH_MAX, sizeof(*net->reqs));
	if (!net->tx_buf || !net->tx_iov || !net->reqs)
		return -ENOMEM;
	for (unsigned p = 0; p < pairs; p++) {
		struct virtio_net_rx_source *src = &net->rx_src[p];
		int fd = be->ops->rx_fd(be, p);

		src->net = net;
		src->pair = p;
		if (!(net->rx_frame[p] = malloc(VIRTIO_NET_RX_BUF)))
			return -ENOMEM;
		/* Registered paused: activate (DRIVER_OK) starts watching. */
		if (reactor && fd >= 0) {
			src->id = reactor_add(reactor, fd, 0, 0, rx_source_ready, src, 0);
			if (src->id < 0)
				return src->id;
			/* The refill wait of virtio_net_rx_kick(). */
			src->wait_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
			if (src->wait_fd < 0)
				return -errno;
			src->wait_id = reactor_add(reactor, src->wait_fd, EPOLLIN, 0, virtio_net_rx_wait_done, src, 0);
			if (src->wait_id < 0)
				return src->wait_id;
		}
	}
	return 0;
}

void virtio_net_destroy(struct virtio_net *net)
{
	const struct virtio_net_stats *s = &net->stats;

	if (s->rx_too_big || s->rx_errors || s->tx_malformed || s->tx_backend_errors)
		log_info(net->vdev.name,
			 "rx %llu frames (%llu too big for the driver's buffers, %llu errors), tx %llu frames "
			 "(%llu malformed, %llu refused by the backend)",
			 (unsigned long long)s->rx_frames, (unsigned long long)s->rx_too_big,
			 (unsigned long long)s->rx_errors, (unsigned long long)s->tx_frames,
			 (unsigned long long)s->tx_malformed, (unsigned long long)s->tx_backend_errors);
	for (unsigned p = 0; p < net->max_pairs; p++) {
		struct virtio_net_rx_source *src = &net->rx_src[p];

		if (net->reactor && src->id >= 0)
			reactor_remove(net->reactor, src->id);
		if (net->reactor && src->wait_id >= 0)
			reactor_remove(net->reactor, src->wait_id);
		if (src->wait_fd >= 0)
			close(src->wait_fd);
		src->id = src->wait_id = src->wait_fd = -1;
		free(net->rx_frame[p]);
		net->rx_frame[p] = NULL;
	}
	if (net->be)
		net->be->ops->destroy(net->be);
	free(net->tx_buf);
	free(net->tx_iov);
	free(net->reqs);
	net->be = NULL;
	net->tx_buf = NULL;
	net->tx_iov = NULL;
	net->reqs = NULL;
	memset(&net->stats, 0, sizeof(net->stats)); /* destroying twice is harmless */
}
