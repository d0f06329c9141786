/* net-peer: the host end of the virtio-net benchmark (tests/bench/net-guest.sh).
 * It sits on the TAP device (in the benchmark's own network namespace)
 * with a raw AF_PACKET socket and answers the freestanding test guest's
 * control frames (net-bench=MS, see guest-images/test-guest/net-bench.c
 * for the protocol):
 *   'P' seq  -> 'Q' seq         the echo for the round-trip time
 *   'S'      -> 'A'             remember the TAP's rx counters
 *   'E'      -> 'R' frames bytes  data frames/bytes the TAP took from the
 *                               VMM since 'S' (the kernel's counters, so the
 *                               peer never reads the data frames themselves)
 *   'B' size ms -> data frames to the guest for ms, then 'F' sent
 * Exits after SECONDS (default 600, a safety net) or on SIGTERM.
 *
 *   net-peer IFNAME [SECONDS [WINDOW]]
 * WINDOW: frames in flight at most while sending to the guest (default:
 * half the TAP's tx_queue_len).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <sys/prctl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define ETH_CTRL 0x88b5
#define ETH_DATA 0x88b6

struct ctrl {
	uint8_t op, pad[3];
	uint32_t a, b;
	uint64_t x, y;
} __attribute__((packed));

static const char *ifname;

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* One of the TAP's counters (/sys/class/net/IF/statistics/NAME), through
 * a descriptor kept open: pread at offset 0 reads a fresh value. */
struct counter {
	int fd;
};

static struct counter counter_open(const char *name)
{
	char path[128];
	snprintf(path, sizeof(path), "/sys/class/net/%s/statistics/%s", ifname, name);
	struct counter c = { open(path, O_RDONLY | O_CLOEXEC) };
	if (c.fd < 0) {
		fprintf(stderr, "net-peer: %s: %s\n", path, strerror(errno));
		exit(2);
	}
	return c;
}

static uint64_t counter_read(struct counter c)
{
	char buf[32];
	ssize_t n = pread(c.fd, buf, sizeof(buf) - 1, 0);
	if (n <= 0) {
		fprintf(stderr, "net-peer: reading a counter of %s: %s\n", ifname, n ? strerror(errno) : "empty");
		exit(2);
	}
	buf[n] = 0;
	return strtoull(buf, 0, 10);
}

static void send_frame(int fd, const struct sockaddr_ll *to, const void *frame, size_t len)
{
	if (sendto(fd, frame, len, 0, (const struct sockaddr *)to, sizeof(*to)) < 0 && errno != ENOBUFS)
		perror("net-peer: sendto");
}

/* A control frame to the guest (dst = its MAC). */
static void reply(int fd, const struct sockaddr_ll *to, const uint8_t *guest, const uint8_t *own, uint8_t op,
		  uint32_t a, uint64_t x, uint64_t y)
{
	uint8_t f[60] = { 0 };
	struct ctrl c = { .op = op, .a = a, .x = x, .y = y };
	memcpy(f, guest, 6);
	memcpy(f + 6, own, 6);
	f[12] = ETH_CTRL >> 8, f[13] = ETH_CTRL & 0xff;
	memcpy(f + 14, &c, sizeof(c));
	send_frame(fd, to, f, sizeof(f));
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: net-peer IFNAME [SECONDS [WINDOW]]\n");
		return 2;
	}
	ifname = argv[1];
	uint64_t deadline = now_ns() + (argc > 2 ? strtoull(argv[2], 0, 10) : 600) * 1000000000ull;
	unsigned idx = if_nametoindex(ifname);
	int fd = socket(AF_PACKET, SOCK_RAW, htons(ETH_CTRL));
	if (!idx || fd < 0) {
		fprintf(stderr, "net-peer: %s: %s\n", ifname, idx ? strerror(errno) : "no such interface");
		return 2;
	}
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_CTRL), .sll_ifindex = (int)idx };
	if (bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		perror("net-peer: bind");
		return 2;
	}
	/* Data frames go out with their own EtherType, through the same socket. */
	struct sockaddr_ll to = { .sll_family = AF_PACKET, .sll_ifindex = (int)idx, .sll_halen = 6 };
	prctl(PR_SET_TIMERSLACK, 1000UL); /* short sleeps while pacing (see 'B') */
	int one = 1;
	(void)setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one));
	/* The TAP queues up to tx_queue_len frames for its reader; keep half. */
	char qpath[128];
	unsigned long window = 0;
	snprintf(qpath, sizeof(qpath), "/sys/class/net/%s/tx_queue_len", ifname);
	FILE *qf = fopen(qpath, "r");
	if (!qf || fscanf(qf, "%lu", &window) != 1 || window < 64) {
		fprintf(stderr, "net-peer: %s unreadable or under 64\n", qpath);
		return 2;
	}
	fclose(qf);
	window = argc > 3 ? strtoul(argv[3], 0, 10) : window / 2;
	uint8_t own[6] = { 0x02, 0, 0, 0, 0, 0x01 };
	uint64_t base_frames = 0, base_bytes = 0, end_frames = 0, end_bytes = 0;
	struct counter rx_packets = counter_open("rx_packets"), rx_bytes = counter_open("rx_bytes");
	struct counter tx_packets = counter_open("tx_packets"), tx_dropped = counter_open("tx_dropped");
	fprintf(stderr, "net-peer: on %s (ifindex %u), %lu frames in flight at most\n", ifname, idx, window);

	while (now_ns() < deadline) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (poll(&p, 1, 1000) <= 0)
			continue;
		uint8_t f[2048];
		ssize_t n = recv(fd, f, sizeof(f), 0);
		if (n < 14 + (ssize_t)sizeof(struct ctrl) || f[12] != (ETH_CTRL >> 8) || f[13] != (ETH_CTRL & 0xff))
			continue;
		const uint8_t *guest = f + 6;
		struct ctrl c;
		memcpy(&c, f + 14, sizeof(c));
		switch (c.op) {
		case 'P':
			reply(fd, &to, guest, own, 'Q', c.a, 0, 0);
			break;
		case 'S':
			base_frames = counter_read(rx_packets);
			base_bytes = counter_read(rx_bytes);
			end_frames = end_bytes = 0;
			reply(fd, &to, guest, own, 'A', 0, 0, 0);
			break;
		case 'E':
			/* The counters include the 'E' frames themselves (a retried
			 * 'E' is one more). */
			end_frames++;
			end_bytes += (uint64_t)n;
			reply(fd, &to, guest, own, 'R', 0, counter_read(rx_packets) - base_frames - end_frames,
			      counter_read(rx_bytes) - base_bytes - end_bytes);
			break;
		case 'B': {
			uint32_t size = c.a < 60 ? 60 : c.a > 1514 ? 1514 : c.a;
			uint8_t d[1514];
			memcpy(d, guest, 6);
			memcpy(d + 6, own, 6);
			d[12] = ETH_DATA >> 8, d[13] = ETH_DATA & 0xff;
			for (unsigned i = 14; i < size; i++)
				d[i] = (uint8_t)i;
			/* Paced: at most `window` frames between us and the VMM (sent,
			 * less what the VMM read from the TAP or the TAP dropped), so
			 * that the TAP's queue never overflows and the peer leaves the
			 * CPU to the VMM instead of spinning on drops. It sleeps while
			 * the window is full: spinning on sched_yield() halved the
			 * VMM's rate in some runs (peer and VMM thread on one core). A
			 * full window lasts ~1 ms even at 500k frames/s, far longer than
			 * the ~10-60 us sleep. */
			uint64_t read0 = counter_read(tx_packets), dropped0 = counter_read(tx_dropped), sent = 0;
			uint64_t t0 = now_ns(), end = t0 + (uint64_t)c.b * 1000000u;
			do {
				uint64_t gone = counter_read(tx_packets) - read0 + counter_read(tx_dropped) - dropped0;
				if (sent - gone + 32 > window) {
					nanosleep(&(struct timespec){ .tv_nsec = 10000 }, 0);
					continue;
				}
				for (unsigned i = 0; i < 32; i++, sent++)
					send_frame(fd, &to, d, size);
			} while (now_ns() < end);
			/* Let the VMM drain the TAP's queue before the end marker,
			 * which would otherwise be dropped with the surplus. */
			usleep(300000);
			uint64_t dropped = counter_read(tx_dropped) - dropped0;
			reply(fd, &to, guest, own, 'F', 0, sent, dropped);
			fprintf(stderr, "net-peer: sent %llu frames of %u bytes in %u ms, the TAP dropped %llu\n",
				(unsigned long long)sent, size, c.b, (unsigned long long)dropped);
			break;
		}
		}
	}
	return 0;
}
