/* net-bench=MS: a virtio-net benchmark from inside the guest (the same PVH
 * file under skiff and QEMU), against tests/bench/net-peer.c, a raw-socket
 * program on the host end of the TAP. Ring 0 sets the device up (modern
 * PCI, queues 0 rx and 1 tx, no offloads, no MRG_RXBUF: one 12-byte header
 * and one frame per buffer); the loops run in ring 3 (section .user.text),
 * natively even on a software-KVM host, polling the used rings.
 *
 * Two EtherTypes from the IEEE "local experimental" pair: 0x88b5 carries
 * control frames (op byte, then little-endian fields), 0x88b6 data frames,
 * which the peer never reads (it counts them from the TAP's statistics).
 *   guest -> peer  'P' seq        echo request; the peer answers 'Q' seq
 *                  'S'            start counting; the peer answers 'A'
 *                  'E'            stop; the peer answers 'R' frames bytes:
 *                                 data frames the TAP took from the VMM
 *                  'B' size ms    the peer sends size-byte data frames
 *                                 for ms milliseconds, then 'F' sent
 * "ping RTT" is therefore an Ethernet-level echo through the VMM, the TAP
 * and a user-space responder, not ICMP.
 *
 * One line per figure:
 *   virtio-net pci <bdf>: ping-rtt <ns> ns (...)
 *   virtio-net pci <bdf>: tx-64|rx-64 <N> pps (...)
 *   virtio-net pci <bdf>: tx-1514|rx-1514 <N> MB/s (...)   (Ethernet frame bytes) */
#include "trap.h"
#include "virtio.h"

#define NET_QSIZE 256
#define NET_HDR 12          /* struct virtio_net_hdr_v1 (VERSION_1) */
#define NET_BUF 1536        /* header + a 1514-byte frame, rounded up */
#define ETH_CTRL 0x88b5
#define ETH_DATA 0x88b6
#define VIRTIO_NET_F_MAC (1ull << 5)

/* Receive buffers: one per rx descriptor. Not from dma_alloc(), which
 * zeroes in ring 0 (emulated on a software-KVM host). */
static uint8_t rx_bufs[NET_QSIZE * NET_BUF] __attribute__((aligned(4096), section(".user.bss")));

enum { OP_POST, OP_PING, OP_TX, OP_RX };

/* A control frame's fields after the 14-byte Ethernet header. */
struct ctrl {
	uint8_t op, pad[3];
	uint32_t a, b;
	uint64_t x, y;
} __attribute__((packed));

struct net_job {
	struct vqd *rx, *tx;
	struct vnotify rx_kick, tx_kick;
	uint8_t *rx_bufs;
	uint8_t *ctrl_buf;      /* header + 60-byte control frame */
	uint8_t *data_buf;      /* header + data frame (all tx descriptors share it) */
	int op;
	uint32_t size;          /* frame bytes (Ethernet header included) */
	uint32_t ms;
	uint64_t run_cycles, timeout_cycles, quiet_cycles;
	unsigned tx_inflight;
	struct ctrl reply;
	/* results */
	uint64_t frames, bytes, cycles;            /* guest side */
	uint64_t rx_frames, rx_bytes;              /* data frames recv_ctrl() saw */
	uint64_t host_frames, host_bytes;          /* what the peer counted */
	uint64_t rtt_min, rtt_max, rtt_sum, rtts;
	unsigned retries;
	int error;              /* 0; -1 timeout; -2 device returned a bad token; -3 ring full */
};

#define U __attribute__((section(".user.text")))

static U void rx_post(struct net_job *j, uint8_t *buf)
{
	struct vqd_buf b = { (uint64_t)(uintptr_t)buf, NET_BUF };
	if (vqd_add(j->rx, 0, 0, &b, 1, buf, false) < 0)
		j->error = -3;
}

static U void tx_reap(struct net_job *j)
{
	uint32_t len;
	while (j->tx_inflight && vqd_get_used(j->tx, &len))
		j->tx_inflight--;
}

/* Queue one frame (buf = header + frame); no kick. */
static U int tx_add(struct net_job *j, uint8_t *buf, uint32_t frame_len)
{
	struct vqd_buf b = { (uint64_t)(uintptr_t)buf, NET_HDR + frame_len };
	if (vqd_add(j->tx, &b, 1, 0, 0, buf, false) < 0)
		return -1;
	j->tx_inflight++;
	return 0;
}

static U void tx_kick(struct net_job *j)
{
	if (vqd_kick_needed(j->tx))
		vnotify_kick(&j->tx_kick);
}

/* Wait until the device has taken every queued frame. */
static U int tx_drain(struct net_job *j)
{
	uint64_t t0 = u_rdtsc();
	while (j->tx_inflight) {
		tx_reap(j);
		if (j->tx->broken)
			return j->error = -2;
		if (u_rdtsc() - t0 > j->timeout_cycles)
			return j->error = -1;
	}
	return 0;
}

/* Send a control frame and wait until the device took it. */
static U int send_ctrl(struct net_job *j, uint8_t op, uint32_t a, uint32_t b)
{
	struct ctrl *c = (struct ctrl *)(j->ctrl_buf + NET_HDR + 14);
	if (tx_drain(j) < 0)
		return -1;
	c->op = op, c->a = a, c->b = b, c->x = c->y = 0;
	if (tx_add(j, j->ctrl_buf, 60) < 0)
		return j->error = -3;
	tx_kick(j);
	return tx_drain(j);
}

/* Poll the rx ring until a control frame `op` (with a == seq for 'Q')
 * arrives, counting data frames on the way (first and last arrival time
 * in *first / *last). Returns 0 (reply in j->reply), -1 after `wait`
 * cycles (or, once data has arrived, after quiet_cycles without any). */
static U int recv_ctrl(struct net_job *j, uint8_t op, uint32_t seq, uint64_t wait, uint64_t *first, uint64_t *last)
{
	uint64_t t0 = u_rdtsc(), seen = t0;
	for (;;) {
		uint32_t len;
		uint8_t *buf = vqd_get_used(j->rx, &len);
		uint64_t now = u_rdtsc();
		if (!buf) {
			if (j->rx->broken)
				return j->error = -2;
			if (now - t0 > wait || (j->rx_frames && now - seen > j->quiet_cycles))
				return -1;
			__asm__ volatile("pause");
			continue;
		}
		if (buf < j->rx_bufs || buf >= j->rx_bufs + NET_QSIZE * NET_BUF ||
		    (uint64_t)(buf - j->rx_bufs) % NET_BUF)
			return j->error = -2;
		seen = now;
		const uint8_t *f = buf + NET_HDR;
		uint32_t flen = len > NET_HDR ? len - NET_HDR : 0;
		uint16_t type = flen >= 14 ? (uint16_t)(f[12] << 8 | f[13]) : 0;
		bool found = false;
		if (type == ETH_DATA) {
			if (!j->rx_frames && first)
				*first = now;
			if (last)
				*last = now;
			j->rx_frames++;
			j->rx_bytes += flen;
		} else if (type == ETH_CTRL && flen >= 14 + sizeof(struct ctrl)) {
			const struct ctrl *c = (const struct ctrl *)(f + 14);
			if (c->op == op && (op != 'Q' || c->a == seq)) {
				j->reply = *c;
				found = true;
			}
		}
		rx_post(j, buf);
		if (vqd_kick_needed(j->rx))
			vnotify_kick(&j->rx_kick);
		if (j->error)
			return j->error;
		if (found)
			return 0;
	}
}

/* A control request with a reply, retried (the medium may drop frames:
 * a full socket buffer on the host). */
static U int request(struct net_job *j, uint8_t op, uint32_t a, uint32_t b, uint8_t reply)
{
	for (unsigned i = 0; i < 10; i++) {
		if (send_ctrl(j, op, a, b) < 0)
			return -1;
		if (recv_ctrl(j, reply, a, j->timeout_cycles / 10, 0, 0) == 0)
			return 0;
		if (j->error)
			return -1;
		j->retries++;
	}
	return j->error = -1;
}

static U long op_ping(struct net_job *j)
{
	/* The first exchange also waits for the peer to be there. */
	if (request(j, 'P', 0, 0, 'Q') < 0)
		return j->error;
	j->rtt_min = ~0ull;
	uint64_t start = u_rdtsc();
	for (uint32_t seq = 1; u_rdtsc() - start < j->run_cycles; seq++) {
		uint64_t t0 = u_rdtsc();
		if (send_ctrl(j, 'P', seq, 0) < 0)
			return j->error;
		if (recv_ctrl(j, 'Q', seq, j->timeout_cycles, 0, 0) < 0)
			return j->error ? j->error : (j->error = -1);
		uint64_t rtt = u_rdtsc() - t0;
		j->rtt_sum += rtt;
		j->rtts++;
		if (rtt < j->rtt_min)
			j->rtt_min = rtt;
		if (rtt > j->rtt_max)
			j->rtt_max = rtt;
	}
	return 0;
}

/* Guest to host: as many data frames as the ring takes, for run_cycles. */
static U long op_tx(struct net_job *j)
{
	if (request(j, 'S', 0, 0, 'A') < 0)
		return j->error;
	uint64_t start = u_rdtsc();
	while (u_rdtsc() - start < j->run_cycles) {
		tx_reap(j);
		if (j->tx->broken)
			return j->error = -2;
		unsigned added = 0;
		while (j->tx_inflight < NET_QSIZE && tx_add(j, j->data_buf, j->size) == 0)
			added++;
		if (added) {
			j->frames += added;
			j->bytes += (uint64_t)added * j->size;
			tx_kick(j);
		} else {
			__asm__ volatile("pause");
		}
	}
	if (tx_drain(j) < 0)
		return j->error;
	j->cycles = u_rdtsc() - start;
	if (request(j, 'E', 0, 0, 'R') < 0)
		return j->error;
	j->host_frames = j->reply.x;
	j->host_bytes = j->reply.y;
	return 0;
}

/* Host to guest: the peer sends for j->ms; count until its 'F' (or until
 * the line goes quiet, should 'F' be lost). */
static U long op_rx(struct net_job *j)
{
	uint64_t first = 0, last = 0;
	if (send_ctrl(j, 'B', j->size, j->ms) < 0)
		return j->error;
	int r = recv_ctrl(j, 'F', 0, j->run_cycles + j->timeout_cycles, &first, &last);
	j->frames = j->rx_frames, j->bytes = j->rx_bytes;
	if (r < 0 && j->error)
		return j->error;
	if (!j->frames)
		return j->error = -1;
	if (r == 0)
		j->host_frames = j->reply.x;
	j->cycles = last - first;
	return 0;
}

static U long net_user_run(void *arg)
{
	struct net_job *j = arg;
	switch (j->op) {
	case OP_POST:
		for (unsigned i = 0; i < NET_QSIZE && !j->error; i++)
			rx_post(j, j->rx_bufs + (size_t)i * NET_BUF);
		vnotify_kick(&j->rx_kick);
		return j->error;
	case OP_PING:
		return op_ping(j);
	case OP_TX:
		return op_tx(j);
	case OP_RX:
		return op_rx(j);
	}
	return -1;
}

/* Ethernet header: destination, the device's MAC as source, EtherType. */
static void eth_header(uint8_t *f, const uint8_t *mac, uint16_t type)
{
	for (unsigned i = 0; i < 6; i++)
		f[i] = 0xff, f[6 + i] = mac[i];
	f[12] = (uint8_t)(type >> 8), f[13] = (uint8_t)type;
}

bool virtio_net_bench(struct vdev *d)
{
	static const struct {
		const char *name;
		int op;
		uint32_t size;
	} tests[] = {
		{ "ping-rtt", OP_PING, 60 },
		{ "tx-64", OP_TX, 64 },
		{ "tx-1514", OP_TX, 1514 },
		{ "rx-64", OP_RX, 64 },
		{ "rx-1514", OP_RX, 1514 },
	};
	struct vqueue q[2];
	const char *tn = transport_name(d->transport);
	bool ok = true;

	d->kind = "virtio-net";
	uint64_t hz = tsc_hz();
	if (!virtio_queues_init(d, VIRTIO_NET_F_MAC, NET_QSIZE, q, 2))
		goto out;
	if (!q[0].vqd || q[0].size != NET_QSIZE || q[1].size != NET_QSIZE) {
		printf("virtio-net %s %s: FAIL queues of %u/%u entries (%u needed)\n", tn, d->where, q[0].size,
		       q[1].size, NET_QSIZE);
		ok = false;
		goto reset;
	}
	uint8_t mac[6];
	for (unsigned i = 0; i < 6; i++)
		mac[i] = mmio_read8(d->devcfg + i);
	struct net_job *j = dma_alloc(sizeof(*j), 64);
	uint8_t *ctrl_buf = dma_alloc(NET_HDR + 60, 64);
	uint8_t *data_buf = dma_alloc(NET_BUF, 64);
	if (!j || !ctrl_buf || !data_buf) {
		printf("virtio-net %s %s: FAIL out of DMA memory\n", tn, d->where);
		ok = false;
		goto reset;
	}
	eth_header(ctrl_buf + NET_HDR, mac, ETH_CTRL);
	eth_header(data_buf + NET_HDR, mac, ETH_DATA);
	for (unsigned i = 14; i < 1514; i++)
		data_buf[NET_HDR + i] = (uint8_t)i;
	printf("virtio-net %s %s: MAC %02x:%02x:%02x:%02x:%02x:%02x, TSC %lu MHz, %u ms a figure\n", tn, d->where,
	       mac[0], mac[1], mac[2], mac[3], mac[4], mac[5], hz / 1000000, opt.net_bench_ms);

	j->rx = q[0].vqd, j->tx = q[1].vqd;
	d->ops->queue_notify(d, 0, &j->rx_kick);
	d->ops->queue_notify(d, 1, &j->tx_kick);
	j->rx_bufs = rx_bufs, j->ctrl_buf = ctrl_buf, j->data_buf = data_buf;
	j->timeout_cycles = hz * 5;
	j->quiet_cycles = hz / 2;
	j->op = OP_POST;
	if (user_call(net_user_run, j) != 0) {
		printf("virtio-net %s %s: FAIL posting receive buffers: error %d\n", tn, d->where, j->error);
		ok = false;
		goto reset;
	}
	for (unsigned t = 0; t < sizeof(tests) / sizeof(tests[0]) && ok; t++) {
		j->op = tests[t].op, j->size = tests[t].size, j->ms = opt.net_bench_ms;
		j->run_cycles = hz / 1000 * opt.net_bench_ms;
		j->frames = j->bytes = j->cycles = j->host_frames = j->host_bytes = 0;
		j->rx_frames = j->rx_bytes = 0;
		j->rtt_min = j->rtt_max = j->rtt_sum = j->rtts = 0;
		j->retries = 0;
		long r = user_call(net_user_run, j);
		if (r != 0) {
			printf("virtio-net %s %s: FAIL %s: error %ld (%s), %lu frames, %u retries\n", tn, d->where,
			       tests[t].name, r, r == -1 ? "timeout: is tests/bench/net-peer running on the TAP?" : "ring",
			       j->frames, j->retries);
			ok = false;
			break;
		}
		uint64_t cycles = j->cycles ? j->cycles : 1;
		if (tests[t].op == OP_PING) {
			printf("virtio-net %s %s: ping-rtt %lu ns (min %lu, max %lu ns, %lu round trips)\n", tn, d->where,
			       j->rtt_sum / j->rtts * 1000000000 / hz, j->rtt_min * 1000000000 / hz,
			       j->rtt_max * 1000000000 / hz, j->rtts);
		} else if (tests[t].op == OP_TX) {
			/* What the host's TAP took, over the guest's time. */
			if (j->host_frames != j->frames)
				printf("virtio-net %s %s: %s: the guest sent %lu frames, the TAP took %lu\n", tn, d->where,
				       tests[t].name, j->frames, j->host_frames);
			uint64_t n = j->host_frames < j->frames ? j->host_frames : j->frames;
			uint64_t b = j->host_bytes < j->bytes ? j->host_bytes : j->bytes;
			if (tests[t].size < 1000)
				printf("virtio-net %s %s: %s %lu pps (%lu frames in %lu ms)\n", tn, d->where, tests[t].name,
				       n * hz / cycles, n, cycles * 1000 / hz);
			else
				printf("virtio-net %s %s: %s %lu MB/s (%lu frames in %lu ms)\n", tn, d->where,
				       tests[t].name, b * hz / cycles / 1000000, n, cycles * 1000 / hz);
		} else {
			/* Frames between the first and the last arrival. */
			uint64_t n = j->frames - 1;
			if (tests[t].size < 1000)
				printf("virtio-net %s %s: %s %lu pps (%lu frames received of %lu sent, %lu ms)\n", tn,
				       d->where, tests[t].name, n * hz / cycles, j->frames, j->host_frames,
				       cycles * 1000 / hz);
			else
				printf("virtio-net %s %s: %s %lu MB/s (%lu frames received of %lu sent, %lu ms)\n", tn,
				       d->where, tests[t].name, n * tests[t].size * hz / cycles / 1000000, j->frames,
				       j->host_frames, cycles * 1000 / hz);
		}
	}
reset:
	d->ops->set_status(d, 0);
out:
	if (ok)
		result_pass();
	else
		result_fail();
	return ok;
}
