/* virtio-net's receive path: frames from the backend into the driver's rx
 * buffers (see virtio-net-rx.h).
 *
 * A frame goes into "room": chains popped from the rx queue, their
 * device-writable bytes seen as one run, the driver's header first. One
 * chain holds it without MRG_RXBUF; with it, as many as the frame needs,
 * and num_buffers in the header says how many.
 *
 * Two ways in:
 * - straight, while the frames are long (GSO super-frames: the copy is
 *   what costs; backends with recvv, i.e. a TAP): room for a frame as
 *   long as the last one is popped, and the backend reads the frame into
 *   it, with this pair's own buffer (rx_frame) behind it for whatever is
 *   longer. Only the header, the first 6 bytes (the destination MAC, for
 *   the receive filter) and such an overflow are copied in user space.
 * - whole, into rx_frame, then copied into room: short frames, the user
 *   backend, and a frame that has to wait for room.
 * A frame the ring cannot take yet waits in rx_frame and the backend is
 * not read further until the driver's next rx kick: nothing is lost to a
 * slow guest, and nothing spins while the ring is full.
 */
#include "devices/virtio-net-rx.h"

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <linux/virtio_net.h>

#include "base/log.h"

#define F(bit) VIRTIO_FEATURE(bit)

/* The backend's header and the frame's destination MAC, read into the
 * device's own memory so the filter reads bytes the guest cannot change. */
#define RX_HEAD_LEN (NET_BACKEND_HDR_LEN + 6)
/* iovecs for one straight read: the head, the room's buffers, rx_frame. */
#define RX_IOV_MAX 130
/* Frames are read straight only while the last one was longer than an
 * Ethernet frame of the usual 1500-byte MTU: up to that size, copying
 * costs fewer instructions than mapping the room into iovecs (callgrind,
 * tests/bench/bench-virtio-net: 1,280 against 1,509 per 1514-byte frame;
 * 17,144 against 11,371 per 64 KiB one). */
#define RX_STRAIGHT_OVER 1514
/* A pump that read the backend dry after this many frames or fewer found
 * a trickle (what the reactor's Streams, base/reactor.h, count). */
#define RX_TRICKLE 4

size_t virtio_net_guest_hdr_len(const struct virtio_net *net)
{
	uint64_t f = net->vdev.features;

	return (f & (F(VIRTIO_F_VERSION_1) | F(VIRTIO_NET_F_MRG_RXBUF))) ? sizeof(struct virtio_net_hdr_v1) :
									    sizeof(struct virtio_net_hdr);
}

void virtio_net_rx_watch(struct virtio_net *net, unsigned pair, bool on)
{
	struct virtio_net_rx_source *src = &net->rx_src[pair];

	if (src->watching == on)
		return;
	src->watching = on;
	if (net->reactor && src->id >= 0)
		(void)reactor_set_events(net->reactor, src->id, on ? EPOLLIN : 0);
}

/* ---- the receive filter (CTRL_RX) ---- */

static bool mac_in(const uint8_t (*table)[6], unsigned count, const uint8_t *mac)
{
	for (unsigned i = 0; i < count && i < VIRTIO_NET_MAC_TABLE; i++)
		if (memcmp(table[i], mac, 6) == 0)
			return true;
	return false;
}

/* Does the driver want this frame? len bytes of frame are readable. */
static bool rx_accept(const struct virtio_net *net, const uint8_t *frame, size_t len)
{
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

	if (!(net->vdev.features & F(VIRTIO_NET_F_CTRL_RX)) || net->promisc || len < 6)
		return true;
	if (memcmp(frame, bcast, 6) == 0)
		return true;
	if (frame[0] & 1)
		return net->allmulti || net->mc_count > VIRTIO_NET_MAC_TABLE || mac_in(net->mc, net->mc_count, frame);
	return memcmp(frame, net->mac, 6) == 0 || net->uc_count > VIRTIO_NET_MAC_TABLE ||
	       mac_in(net->uc, net->uc_count, frame);
}

/* ---- room: chains popped for one frame ---- */

/* net->reqs[0..n), popped from rx queue q, `bytes` device-writable bytes
 * in all (the driver's header at offset 0, then the frame). */
struct rx_room {
	unsigned q, n;
	size_t bytes;
};

/* Give back the chains past the first `keep`, newest first (the order
 * virtio_request_unpop wants). */
static void room_give_back(struct virtio_net *net, struct rx_room *r, unsigned keep)
{
	while (r->n > keep) {
		struct virtio_request *req = &net->reqs[--r->n];

		r->bytes -= virtio_request_writable(req);
		virtio_request_unpop(req);
	}
}

/* Pop chains until the room holds `need` bytes. 1 = it does; 0 = the
 * ring ran out first (what was popped stays popped); -EMSGSIZE = it never
 * can (the driver's buffers are too small for this frame: one chain
 * without MRG_RXBUF, at most VIRTIO_REQUEST_BATCH_MAX with it); -EIO =
 * the driver broke the ring (the room is given back). */
static int room_take(struct virtio_net *net, struct rx_room *r, size_t need)
{
	unsigned max = (net->vdev.features & F(VIRTIO_NET_F_MRG_RXBUF)) ? VIRTIO_REQUEST_BATCH_MAX : 1;

	while (r->bytes < need) {
		if (r->n == max)
			return -EMSGSIZE;
		struct virtio_request *req = &net->reqs[r->n];
		int ret = virtio_request_pop(&net->vdev, r->q, req);

		if (ret < 0)
			room_give_back(net, r, 0);
		if (ret <= 0)
			return ret;
		r->n++;
		r->bytes += virtio_request_writable(req);
		if (virtio_request_readable(req) || (r->n == 1 && r->bytes < virtio_net_guest_hdr_len(net))) {
			/* rx buffers are device-writable and hold at least a header. */
			log_debug(net->vdev.name, "rx queue %u: malformed buffer", r->q);
			room_give_back(net, r, 0);
			virtio_device_needs_reset(&net->vdev);
			return -EIO;
		}
	}
	return 1;
}

/* Copy len bytes into the room at offset `at`, across its chains. */
static void room_put(struct virtio_net *net, const struct rx_room *r, size_t at, const void *src, size_t len)
{
	for (unsigned i = 0; i < r->n && len; i++) {
		size_t cap = virtio_request_writable(&net->reqs[i]);

		if (at >= cap) {
			at -= cap;
			continue;
		}
		size_t put = virtio_request_write(&net->reqs[i], at, src, len);
		src = (const uint8_t *)src + put;
		len -= put;
		at = 0;
	}
}

/* Copy len bytes out of the room at offset `at` (what a straight read put
 * there, for a frame that has to wait after all). */
static void room_get(struct virtio_net *net, const struct rx_room *r, size_t at, uint8_t *dst, size_t len)
{
	struct iovec iov[VIRTIO_REQUEST_MAX_BUFS];

	for (unsigned i = 0; i < r->n && len; i++) {
		int k = virtio_request_iov(&net->reqs[i], true, iov, VIRTIO_REQUEST_MAX_BUFS);

		for (int j = 0; j < k && len; j++) {
			if (at >= iov[j].iov_len) {
				at -= iov[j].iov_len;
				continue;
			}
			size_t get = iov[j].iov_len - at < len ? iov[j].iov_len - at : len;
			memcpy(dst, (const uint8_t *)iov[j].iov_base + at, get);
			dst += get;
			len -= get;
			at = 0;
		}
	}
}

/* The frame will be `total` bytes with the driver's header: give back the
 * chains past those it needs. Returns how many it keeps. */
static unsigned room_trim(struct virtio_net *net, struct rx_room *r, size_t total)
{
	unsigned used = 0;

	for (size_t have = 0; have < total && used < r->n; used++)
		have += virtio_request_writable(&net->reqs[used]);
	room_give_back(net, r, used);
	return used;
}

/* The frame, `total` bytes with its header, is in the room's chains:
 * return them to the driver as one batch. */
static void room_complete(struct virtio_net *net, struct rx_room *r, size_t total)
{
	uint32_t written[VIRTIO_REQUEST_BATCH_MAX];

	for (unsigned i = 0; i < r->n; i++) {
		size_t cap = virtio_request_writable(&net->reqs[i]);

		written[i] = (uint32_t)(total < cap ? total : cap);
		total -= written[i];
	}
	virtio_request_complete_batch_locked(net->reqs, written, r->n);
	r->n = 0;
	r->bytes = 0;
	net->stats.rx_frames++;
}

/* The driver's header for a frame in `chains` chains: the backend's, with
 * num_buffers (little-endian on x86, as both interfaces want). */
static void guest_hdr(struct virtio_net_hdr_v1 *hdr, const uint8_t *backend_hdr, unsigned chains)
{
	memcpy(hdr, backend_hdr, sizeof(*hdr));
	hdr->num_buffers = (uint16_t)chains;
}

/* ---- the two ways in ---- */

/* Place the frame waiting in rx_frame (backend header first, len bytes;
 * the header is rewritten in place as the driver's) into rx queue q.
 * 1 = placed, or dropped for good (too big for the driver's buffers);
 * 0 = no room yet; -EIO = the driver broke the ring. */
static int rx_place(struct virtio_net *net, unsigned q, uint8_t *frame, size_t len)
{
	struct rx_room r = { .q = q };
	size_t hdr_len = virtio_net_guest_hdr_len(net), plen = len - NET_BACKEND_HDR_LEN;
	int ret = room_take(net, &r, hdr_len + plen);
	struct virtio_net_hdr_v1 hdr;

	if (ret == -EMSGSIZE) {
		room_give_back(net, &r, 0);
		net->stats.rx_too_big++;
		return 1;
	}
	if (ret <= 0) {
		room_give_back(net, &r, 0);
		return ret;
	}
	/* The driver's header right before the frame, then all in one copy
	 * (room_take took just the chains it needs). */
	guest_hdr(&hdr, frame, r.n);
	uint8_t *start = frame + NET_BACKEND_HDR_LEN - hdr_len;
	memcpy(start, &hdr, hdr_len);
	room_put(net, &r, 0, start, hdr_len + plen);
	room_complete(net, &r, hdr_len + plen);
	return 1;
}

/* Drop the first `bytes` bytes of iov[0..n); returns how many iovecs are left. */
static unsigned iov_drop_front(struct iovec *iov, unsigned n, size_t bytes)
{
	unsigned i = 0;

	while (i < n && bytes >= iov[i].iov_len)
		bytes -= iov[i++].iov_len;
	if (i < n) {
		iov[i].iov_base = (uint8_t *)iov[i].iov_base + bytes;
		iov[i].iov_len -= bytes;
	}
	memmove(iov, iov + i, (n - i) * sizeof(*iov));
	return n - i;
}

/* Read the backend's next frame into rx_frame. 0 = it is there, waiting
 * to be placed (rx_len set), 1 = it was dealt with (filtered or lost),
 * -EAGAIN = none is waiting. */
static int rx_read_whole(struct virtio_net *net, unsigned pair)
{
	ssize_t n = net->be->ops->recv(net->be, pair, net->rx_frame[pair], VIRTIO_NET_RX_BUF);

	if (n == -EAGAIN)
		return -EAGAIN;
	if (n < NET_BACKEND_HDR_LEN) {
		net->stats.rx_errors++;
		return 1;
	}
	if (!rx_accept(net, net->rx_frame[pair] + NET_BACKEND_HDR_LEN, (size_t)n - NET_BACKEND_HDR_LEN)) {
		net->stats.rx_filtered++;
		return 1;
	}
	net->rx_len[pair] = (size_t)n;
	net->rx_expect[pair] = (size_t)n - NET_BACKEND_HDR_LEN;
	return 0;
}

/* Read the backend's next frame for `pair` straight into room as long as
 * the last frame (that is what the driver posts buffers for, too). Returns 1
 * when a frame was dealt with (placed, filtered or lost), 0 when it was
 * read but must wait for room (it is in rx_frame, rx_len set), -EAGAIN
 * when none is waiting, -ENOBUFS when the ring has no chain to read into
 * (nothing was read), -EIO when the driver broke the ring. */
static int rx_read_straight(struct virtio_net *net, unsigned pair)
{
	struct rx_room r = { .q = 2 * pair };
	size_t hdr_len = virtio_net_guest_hdr_len(net), expect = net->rx_expect[pair];
	uint8_t head[RX_HEAD_LEN], *frame = net->rx_frame[pair];
	struct iovec iov[RX_IOV_MAX];
	unsigned niov = 1;
	int ret = room_take(net, &r, hdr_len + expect);

	if (ret == -EIO)
		return ret;
	if (r.n == 0)
		return -ENOBUFS;

	/* The head, then the room past the header and the MAC, then rx_frame
	 * for the part of a longer frame the room cannot hold. */
	iov[0] = (struct iovec){ head, sizeof(head) };
	for (unsigned i = 0; i < r.n; i++) {
		int k = virtio_request_iov(&net->reqs[i], true, iov + niov, RX_IOV_MAX - 1 - niov);

		if (k < 0) { /* too many buffers for one read: use fewer chains */
			room_give_back(net, &r, i);
			break;
		}
		niov += (unsigned)k;
	}
	if (r.n == 0) /* the first chain alone has too many: the other way in */
		return rx_read_whole(net, pair);
	niov = 1 + iov_drop_front(iov + 1, niov - 1, hdr_len + 6);
	/* The frame's bytes [0, 6) go to the head, [6, spill) to the room,
	 * [spill, NET_MAX_FRAME) to rx_frame. */
	size_t room_frame = r.bytes - hdr_len, spill = room_frame > 6 ? room_frame : 6;
	if (spill < NET_MAX_FRAME)
		iov[niov++] = (struct iovec){ frame + NET_BACKEND_HDR_LEN + spill, NET_MAX_FRAME - spill };

	ssize_t n = net->be->ops->recvv(net->be, pair, iov, niov);
	if (n == -EAGAIN || n < NET_BACKEND_HDR_LEN) {
		room_give_back(net, &r, 0);
		if (n == -EAGAIN)
			return -EAGAIN;
		net->stats.rx_errors++; /* lost in the backend (e.g. too long) */
		return 1;
	}
	size_t plen = (size_t)n - NET_BACKEND_HDR_LEN, in_head = plen < 6 ? plen : 6;
	if (!rx_accept(net, head + NET_BACKEND_HDR_LEN, plen)) {
		room_give_back(net, &r, 0);
		net->stats.rx_filtered++;
		return 1;
	}
	net->rx_expect[pair] = plen;
	if (plen > room_frame) {
		/* Longer than the room: its tail is in rx_frame. More room, or wait. */
		ret = room_take(net, &r, hdr_len + plen);
		if (ret == -EIO)
			return ret;
		if (ret == -EMSGSIZE) {
			room_give_back(net, &r, 0);
			net->stats.rx_too_big++;
			return 1;
		}
		if (ret == 0) {
			/* Gather the frame into rx_frame: it waits there for room. */
			memcpy(frame, head, NET_BACKEND_HDR_LEN + in_head);
			room_get(net, &r, hdr_len + 6, frame + NET_BACKEND_HDR_LEN + 6, spill - 6);
			room_give_back(net, &r, 0);
			net->rx_len[pair] = (size_t)n;
			return 0;
		}
		if (plen > spill)
			room_put(net, &r, hdr_len + spill, frame + NET_BACKEND_HDR_LEN + spill, plen - spill);
	}
	/* The driver's header and the frame's first bytes, in one copy. */
	uint8_t start[sizeof(struct virtio_net_hdr_v1) + 6];
	struct virtio_net_hdr_v1 hdr;

	guest_hdr(&hdr, head, room_trim(net, &r, hdr_len + plen));
	memcpy(start, &hdr, hdr_len);
	memcpy(start + hdr_len, head + NET_BACKEND_HDR_LEN, in_head);
	room_put(net, &r, 0, start, hdr_len + in_head);
	room_complete(net, &r, hdr_len + plen);
	return 1;
}

bool virtio_net_rx_pump(struct virtio_net *net, unsigned pair, unsigned budget)
{
	unsigned q = 2 * pair;
	int ret;

	net->rx_src[pair].starved = false;
	net->rx_src[pair].trickle = false;
	if (pair >= net->active_pairs || !virtio_device_queue_live(&net->vdev, q)) {
		virtio_net_rx_watch(net, pair, false); /* activate or the rx kick resumes it */
		return false;
	}
	for (unsigned done = 0; done < budget; done++) {
		if (!net->rx_len[pair]) {
			bool straight = net->be->ops->recvv && net->rx_expect[pair] > RX_STRAIGHT_OVER;

			ret = straight ? rx_read_straight(net, pair) : rx_read_whole(net, pair);
			if (ret == -EAGAIN) {
				net->rx_src[pair].trickle = done >= 1 && done <= RX_TRICKLE;
				virtio_net_rx_watch(net, pair, true); /* drained: wait for the fd */
				return false;
			}
			if (ret == -ENOBUFS) {
				/* No buffers to read into: frames wait in the backend. */
				net->stats.rx_ring_full++;
				net->rx_src[pair].starved = true;
				virtio_net_rx_watch(net, pair, false);
				return false;
			}
			if (ret < 0) {
				virtio_net_rx_watch(net, pair, false);
				return false;
			}
			if (!net->rx_len[pair])
				continue; /* dealt with */
		}
		ret = rx_place(net, q, net->rx_frame[pair], net->rx_len[pair]);
		if (ret == 0) {
			/* Ring full: keep the frame, stop reading, wait for the kick. */
			net->stats.rx_ring_full++;
			net->rx_src[pair].starved = true;
			virtio_net_rx_watch(net, pair, false);
			return false;
		}
		net->rx_len[pair] = 0;
		if (ret < 0) {
			virtio_net_rx_watch(net, pair, false);
			return false;
		}
	}
	return true;
}


/* ---- kicks after the ring ran dry ----
 *
 * A driver that refills its rx ring one buffer at a time, each time
 * kicking (the ring had run dry, so the device asked for the next kick),
 * got one frame per kick: a vCPU exit and a reactor wake-up a frame. In
 * the nested test host that was 0.18x QEMU's rx rate (QEMU, slower to
 * wake, found more buffers each time). So a kick on a starved queue that
 * brought fewer than RX_REFILL_BATCH buffers is served RX_REFILL_WAIT_NS
 * later, from a one-shot timerfd on the reactor, with whatever the driver
 * posted meanwhile (without kicking again: its avail_event is behind). A
 * batch refill, as Linux's NAPI does, is served at once. (Asking for the
 * next kick at RX_REFILL_BATCH buffers through avail_event instead was
 * measured too: smaller batches, and slower.)
 */
#define RX_REFILL_BATCH   16
#define RX_REFILL_WAIT_NS 200000

static void wait_arm(struct virtio_net_rx_source *src, long ns)
{
	struct itimerspec t = { .it_value = { .tv_sec = 0, .tv_nsec = ns } };

	if (timerfd_settime(src->wait_fd, 0, &t, NULL) == 0)
		src->waiting = ns != 0;
}

bool virtio_net_rx_kick(struct virtio_net *net, unsigned pair, unsigned budget)
{
	struct virtio_net_rx_source *src = &net->rx_src[pair];

	if (src->starved && src->wait_fd >= 0 &&
	    virtio_request_available(&net->vdev, 2 * pair, RX_REFILL_BATCH) < RX_REFILL_BATCH) {
		if (!src->waiting)
			wait_arm(src, RX_REFILL_WAIT_NS);
		if (src->waiting)
			return false;
	}
	return virtio_net_rx_pump(net, pair, budget);
}

enum reactor_result virtio_net_rx_wait_done(void *opaque, uint32_t events, unsigned budget)
{
	struct virtio_net_rx_source *src = opaque;
	struct virtio_net *net = src->net;
	uint64_t expirations;
	bool more = false;

	pthread_mutex_lock(&net->vdev.lock);
	if (read(src->wait_fd, &expirations, sizeof(expirations)) > 0 || src->waiting) {
		more = !net->vdev.resetting && virtio_net_rx_pump(net, src->pair, budget);
		src->waiting = more; /* its budget ran out: the reactor calls again */
	}
	pthread_mutex_unlock(&net->vdev.lock);
	return more ? REACTOR_MORE : REACTOR_DONE;
}

void virtio_net_rx_wait_cancel(struct virtio_net *net, unsigned pair)
{
	struct virtio_net_rx_source *src = &net->rx_src[pair];

	if (src->waiting)
		wait_arm(src, 0);
	src->waiting = src->starved = false;
}
