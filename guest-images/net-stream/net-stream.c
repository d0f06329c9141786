/* net-stream: bulk TCP and small UDP exchanges for the network boot
 * tests' guest side, as one static program the initramfs carries.
 *
 *   net-stream recv ADDR PORT        connect, read until EOF, print
 *                                    "net-stream: received N bytes md5 X in S s"
 *   net-stream send ADDR PORT MIB SEED
 *                                    connect, send MIB MiB of a reproducible
 *                                    stream (xorshift64* from SEED), print
 *                                    "net-stream: sent N bytes md5 X in S s"
 *   net-stream udp-echo PORT SECONDS answer the first UDP datagram to PORT
 *                                    with "udp-echo: " and its text, print
 *                                    "net-stream: udp from ADDR:PORT 'TEXT'";
 *                                    exit 1 if none came in SECONDS
 *   net-stream udp-ask ADDR PORT TEXT SECONDS
 *                                    send TEXT in a UDP datagram, print
 *                                    "net-stream: udp answer from ADDR:PORT 'TEXT'"
 *
 * Why not busybox nc: it moves ~1 KiB per read() and pipes it on to
 * md5sum, so each KiB costs a guest several system calls and a context
 * switch, all of it kernel code that a software-KVM host emulates. The
 * receiver then drains its socket slowly, its window opens a few segments
 * at a time and every TCP packet carries only ~2.9 KB. Here one read()
 * takes whatever the socket holds (up to 1 MiB), and the checksum (MD5,
 * from libmd, so it matches the host's md5sum) runs in ring 3, natively.
 * With the TSO settings the tests choose (checks/nettap.sh, net-tap.sh)
 * the transfer then moves few, large packets: ~37 KB each, ~2 MiB/s. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <md5.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define CHUNK (1u << 20)

static unsigned char buffer[CHUNK];

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
	fprintf(stderr, "net-stream: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* ADDR and PORT from the command line, or exit 2. */
static struct sockaddr_in peer_address(const char *addr, const char *port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };

	sin.sin_port = htons((uint16_t)atoi(port));
	if (inet_pton(AF_INET, addr, &sin.sin_addr) != 1) {
		fprintf(stderr, "net-stream: '%s' is not an IPv4 address\n", addr);
		exit(2);
	}
	return sin;
}

static int connect_to(const char *addr, const char *port)
{
	struct sockaddr_in sin = peer_address(addr, port);
	int fd, size = 4 << 20;

	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		die("socket");
	/* Ask for 4 MiB either way; the kernel caps it at net.core.[rw]mem_max
	 * (and a fixed size turns off autotuning). Measured here: ~2 MiB/s
	 * each way with the default caps. */
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0)
		die("connect");
	return fd;
}

static void write_all(int fd, const unsigned char *p, size_t n)
{
	while (n > 0) {
		ssize_t done = write(fd, p, n);

		if (done < 0 && errno == EINTR)
			continue;
		if (done <= 0)
			die("write");
		p += done;
		n -= (size_t)done;
	}
}

/* xorshift64*: the same bytes for the same seed. n is a multiple of 8
 * (the stream is whole MiB). */
static void fill(unsigned char *p, size_t n, uint64_t *state)
{
	for (size_t i = 0; i < n; i += 8) {
		uint64_t x = *state;

		x ^= x >> 12;
		x ^= x << 25;
		x ^= x >> 27;
		*state = x;
		x *= 0x2545f4914f6cdd1dull;
		memcpy(p + i, &x, 8);
	}
}

static void report(const char *verb, unsigned long long bytes, MD5_CTX *md5, double start)
{
	unsigned char digest[MD5_DIGEST_LENGTH];
	char hex[2 * MD5_DIGEST_LENGTH + 1];
	double seconds = now_s() - start;

	MD5Final(digest, md5);
	for (int i = 0; i < MD5_DIGEST_LENGTH; i++)
		sprintf(hex + 2 * i, "%02x", digest[i]);
	printf("net-stream: %s %llu bytes md5 %s in %.1f s (%.0f KiB/s)\n", verb, bytes, hex,
	       seconds, seconds > 0 ? bytes / 1024.0 / seconds : 0.0);
	fflush(stdout);
}

static int do_recv(const char *addr, const char *port)
{
	int fd = connect_to(addr, port);
	unsigned long long bytes = 0;
	double start = now_s();
	MD5_CTX md5;
	ssize_t n;

	MD5Init(&md5);
	while ((n = read(fd, buffer, sizeof(buffer))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die("read");
		MD5Update(&md5, buffer, (size_t)n);
		bytes += (unsigned long long)n;
	}
	report("received", bytes, &md5, start);
	return 0;
}

static int do_send(const char *addr, const char *port, unsigned long mib, uint64_t seed)
{
	int fd = connect_to(addr, port);
	unsigned long long bytes = 0, limit = (unsigned long long)mib << 20;
	double start = now_s();
	MD5_CTX md5;

	MD5Init(&md5);
	while (bytes < limit) {
		size_t n = limit - bytes < CHUNK ? (size_t)(limit - bytes) : CHUNK;

		fill(buffer, n, &seed);
		MD5Update(&md5, buffer, n);
		write_all(fd, buffer, n);
		bytes += n;
	}
	/* A half close: the peer sees EOF once everything has arrived, and
	 * closes in turn. */
	if (shutdown(fd, SHUT_WR) < 0)
		die("shutdown");
	while (read(fd, buffer, sizeof(buffer)) > 0)
		;
	report("sent", bytes, &md5, start);
	return 0;
}

static int udp_socket(unsigned short port, const char *seconds)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_ANY) };
	struct timeval wait = { .tv_sec = atoi(seconds) };
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	if (fd < 0)
		die("socket");
	sin.sin_port = htons(port);
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0)
		die("bind");
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof(wait));
	return fd;
}

/* One datagram's text, without trailing newlines; its sender in *from. */
static void udp_receive(int fd, char *text, size_t size, struct sockaddr_in *from)
{
	socklen_t from_len = sizeof(*from);
	ssize_t n = recvfrom(fd, text, size - 1, 0, (struct sockaddr *)from, &from_len);

	if (n < 0)
		die("recvfrom");
	while (n > 0 && text[n - 1] == '\n')
		n--;
	text[n] = 0;
}

static int do_udp_echo(const char *port, const char *seconds)
{
	int fd = udp_socket((unsigned short)atoi(port), seconds);
	char text[512], reply[sizeof(text) + 16];
	struct sockaddr_in from;

	udp_receive(fd, text, sizeof(text), &from);
	snprintf(reply, sizeof(reply), "udp-echo: %s\n", text);
	if (sendto(fd, reply, strlen(reply), 0, (struct sockaddr *)&from, sizeof(from)) < 0)
		die("sendto");
	printf("net-stream: udp from %s:%u '%s'\n", inet_ntoa(from.sin_addr), ntohs(from.sin_port),
	       text);
	return 0;
}

static int do_udp_ask(const char *addr, const char *port, const char *question,
		      const char *seconds)
{
	struct sockaddr_in to = peer_address(addr, port), from;
	int fd = udp_socket(0, seconds);
	char text[512];

	if (sendto(fd, question, strlen(question), 0, (struct sockaddr *)&to, sizeof(to)) < 0)
		die("sendto");
	udp_receive(fd, text, sizeof(text), &from);
	printf("net-stream: udp answer from %s:%u '%s'\n", inet_ntoa(from.sin_addr),
	       ntohs(from.sin_port), text);
	return 0;
}

static uint64_t parse_seed(const char *s)
{
	/* xorshift must not start from 0; distinct seeds, distinct streams. */
	return 2 * strtoull(s, NULL, 0) + 1;
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "recv"))
		return do_recv(argv[2], argv[3]);
	if (argc == 6 && !strcmp(argv[1], "send"))
		return do_send(argv[2], argv[3], strtoul(argv[4], NULL, 0), parse_seed(argv[5]));
	if (argc == 4 && !strcmp(argv[1], "udp-echo"))
		return do_udp_echo(argv[2], argv[3]);
	if (argc == 6 && !strcmp(argv[1], "udp-ask"))
		return do_udp_ask(argv[2], argv[3], argv[4], argv[5]);
	fprintf(stderr, "usage: net-stream recv ADDR PORT | send ADDR PORT MIB SEED |"
			" udp-echo PORT SECONDS | udp-ask ADDR PORT TEXT SECONDS\n");
	return 2;
}
