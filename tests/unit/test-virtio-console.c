/* Unit tests of virtio-console (devices/virtio-console.c) played from the
 * driver side with the driver-side virtqueue code: the control queue
 * conversation (DEVICE_READY -> PORT_ADD, PORT_READY -> PORT_NAME and
 * PORT_OPEN), hostile control messages, guest output into a file port,
 * both directions of a socket port, and back-pressure while a socket port
 * has no client. The device's own I/O thread runs as in skiff. */
#include <check.h>
#include "tests/unit/check-run.h"
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <linux/virtio_config.h>

#include "devices/virtio-console.h"
#include "tests/unit/log-capture.h"
#include "virtqueue/driver.h"

#define RAM_SIZE (1u << 20)
#define QSIZE    16
#define NQ       8 /* port 0 pair, control pair, ports 1 and 2 */

static uint8_t *ram;
static struct guest_mem mem;
static char dir[64], file[96], sock[96];
static struct virtio_console *con;
static struct vqd q[NQ];

static void no_irq(struct virtio_device *dev, unsigned qi) {}
static void no_config(struct virtio_device *dev) {}
static const struct virtio_transport_ops transport = {no_irq, no_config};

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)ms * 1000000};
	nanosleep(&ts, NULL);
}

static void setup(void)
{
	ram = aligned_alloc(4096, RAM_SIZE);
	memset(ram, 0, RAM_SIZE);
	mem = (struct guest_mem){.region = {{.gpa = 0, .size = RAM_SIZE, .host = ram}}, .nr_regions = 1};
	strcpy(dir, "/var/tmp/skiff-vcon-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(file, sizeof(file), "%s/log.txt", dir);
	snprintf(sock, sizeof(sock), "%s/echo.sock", dir);

	static struct console_port_spec log_port, echo_port;
	log_port = (struct console_port_spec){.kind = CONSOLE_PORT_FILE, .name = "log", .path = file};
	echo_port = (struct console_port_spec){.kind = CONSOLE_PORT_SOCKET, .name = "echo", .path = sock};
	struct virtio_console_config_opts o = {.nports = 2, .ports = {&log_port, &echo_port}};
	char err[256] = "";
	con = calloc(1, sizeof(*con));
	ck_assert_msg(virtio_console_init(con, &o, "virtio-console0", &mem, err, sizeof(err)) == 0, "%s", err);
	struct virtio_device *dev = &con->vdev;
	ck_assert_uint_eq(dev->ops->nr_queues, NQ);
	dev->transport = &transport;
	dev->offered = dev->ops->features(dev) | VIRTIO_FEATURE(VIRTIO_F_VERSION_1);
	ck_assert(dev->offered & VIRTIO_FEATURE(VIRTIO_CONSOLE_F_MULTIPORT));
	pthread_mutex_lock(&dev->lock);
	virtio_device_set_status(dev, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	virtio_device_write_driver_features(dev, 0, (uint32_t)dev->offered);
	virtio_device_write_driver_features(dev, 1, (uint32_t)(dev->offered >> 32));
	virtio_device_set_status(dev, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK);
	for (unsigned i = 0; i < NQ; i++) {
		uint64_t at = 0x1000 + i * 0x2000;
		ck_assert_int_eq(vqd_init_split(&q[i], QSIZE, ram + at, at, 0), 0);
		dev->vqs[i].size = QSIZE;
		dev->vqs[i].desc_addr = q[i].desc_gpa;
		dev->vqs[i].avail_addr = q[i].avail_gpa;
		dev->vqs[i].used_addr = q[i].used_gpa;
		ck_assert_int_eq(virtio_device_enable_queue(dev, i), 0);
	}
	virtio_device_set_status(dev, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
					      VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK);
	pthread_mutex_unlock(&dev->lock);
	ck_assert_int_eq(virtio_console_start(con), 0);
}

static void teardown(void)
{
	virtio_console_destroy(con);
	free(con);
	unlink(file);
	unlink(sock);
	rmdir(dir);
	free(ram);
}

#define CTRL_RX 2
#define CTRL_TX 3
#define BUF(qi, slot) (0x40000 + (qi) * 0x4000 + (slot) * 0x400)

/* Post n device-writable buffers on queue qi. */
static void post_rx(unsigned qi, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		struct vqd_buf in = {BUF(qi, i), 0x400};
		ck_assert_int_eq(vqd_add(&q[qi], NULL, 0, &in, 1, (void *)(uintptr_t)(BUF(qi, i)), false), 0);
	}
	virtio_device_kick(&con->vdev, qi);
}

static void send_out(unsigned qi, const void *data, uint32_t len, unsigned slot)
{
	memcpy(ram + BUF(qi, slot), data, len);
	struct vqd_buf out = {BUF(qi, slot), len};
	ck_assert_int_eq(vqd_add(&q[qi], &out, 1, NULL, 0, (void *)(uintptr_t)(BUF(qi, slot)), false), 0);
	virtio_device_kick(&con->vdev, qi);
}

static void send_ctrl(uint32_t id, uint16_t event, uint16_t value, unsigned slot)
{
	struct virtio_console_control c = {.id = htole32(id), .event = htole16(event), .value = htole16(value)};
	send_out(CTRL_TX, &c, sizeof(c), slot);
}

/* The next control message from the device (waits up to 2 s); false if none. */
static bool recv_ctrl(struct virtio_console_control *c, char *extra, size_t extra_max)
{
	for (int i = 0; i < 2000; i++) {
		uint32_t len;
		uintptr_t at = (uintptr_t)vqd_get_used(&q[CTRL_RX], &len);
		if (at) {
			ck_assert_uint_ge(len, sizeof(*c));
			memcpy(c, ram + at, sizeof(*c));
			size_t n = len - sizeof(*c) < extra_max - 1 ? len - sizeof(*c) : extra_max - 1;
			memcpy(extra, ram + at + sizeof(*c), n);
			extra[n] = 0;
			return true;
		}
		sleep_ms(1);
	}
	return false;
}

static void expect_ctrl(uint32_t id, uint16_t event, uint16_t value, const char *extra)
{
	struct virtio_console_control c;
	char got[80];
	ck_assert_msg(recv_ctrl(&c, got, sizeof(got)), "no control message (wanted event %u)", event);
	ck_assert_uint_eq(le32toh(c.id), id);
	ck_assert_uint_eq(le16toh(c.event), event);
	ck_assert_uint_eq(le16toh(c.value), value);
	if (extra)
		ck_assert_str_eq(got, extra);
}

/* The driver's start: ports announced, named, the file port open. */
static void handshake(void)
{
	post_rx(CTRL_RX, 8);
	send_ctrl(0, VIRTIO_CONSOLE_DEVICE_READY, 1, 0);
	expect_ctrl(1, VIRTIO_CONSOLE_PORT_ADD, 0, NULL);
	expect_ctrl(2, VIRTIO_CONSOLE_PORT_ADD, 0, NULL);
	send_ctrl(1, VIRTIO_CONSOLE_PORT_READY, 1, 1);
	expect_ctrl(1, VIRTIO_CONSOLE_PORT_NAME, 0, "log");
	expect_ctrl(1, VIRTIO_CONSOLE_PORT_OPEN, 1, NULL);
	send_ctrl(2, VIRTIO_CONSOLE_PORT_READY, 1, 2);
	expect_ctrl(2, VIRTIO_CONSOLE_PORT_NAME, 0, "echo");
}

START_TEST(control_handshake)
{
	struct virtio_console_control c;
	char extra[80];
	handshake();
	/* The socket port has no client: no PORT_OPEN for it yet. */
	ck_assert(!recv_ctrl(&c, extra, sizeof(extra)));
}
END_TEST

/* The guest repeats what makes the device warn: DEVICE_READY without
 * ever taking control messages (the control queue fills up), and
 * DEVICE_READY reporting failure. Each warning shows once, not once per
 * message (the lines after go to debug level). */
START_TEST(control_flood_logs_once)
{
	struct virtio_console_control c;
	char extra[80];

	log_capture_start();
	for (unsigned i = 0; i < 400; i++) {
		uint32_t len;
		send_ctrl(0, VIRTIO_CONSOLE_DEVICE_READY, i % 2, 0);
		for (int t = 0; !vqd_get_used(&q[CTRL_TX], &len); t++) {
			ck_assert_msg(t < 2000, "control message %u not taken", i);
			sleep_ms(1);
		}
	}
	unsigned full = log_capture_stop("control queue full");
	ck_assert_uint_eq(full, 1);
	log_capture_start();
	send_ctrl(0, VIRTIO_CONSOLE_DEVICE_READY, 0, 0);
	ck_assert_uint_eq(log_capture_stop("driver failed"), 0); /* the first came out in the flood above */
	post_rx(CTRL_RX, 8);
	ck_assert(recv_ctrl(&c, extra, sizeof(extra))); /* the queued messages still arrive */
}
END_TEST

/* Hostile control messages: unknown port ids, unknown events, a short
 * message, DEVICE_READY reporting failure. None answers, none breaks. */
START_TEST(control_malformed)
{
	struct virtio_console_control c;
	char extra[80];
	post_rx(CTRL_RX, 8);
	send_ctrl(7, VIRTIO_CONSOLE_PORT_READY, 1, 0);
	send_ctrl(0xffffffff, VIRTIO_CONSOLE_PORT_OPEN, 1, 1);
	send_ctrl(0, VIRTIO_CONSOLE_PORT_READY, 1, 2); /* port 0 does not exist here */
	send_ctrl(1, 999, 1, 3);
	send_ctrl(1, VIRTIO_CONSOLE_RESIZE, 1, 4);     /* the driver cannot send that */
	send_out(CTRL_TX, "ab", 2, 5);                     /* short message */
	send_ctrl(0, VIRTIO_CONSOLE_DEVICE_READY, 0, 6); /* failed */
	ck_assert(!recv_ctrl(&c, extra, sizeof(extra)));
	ck_assert(!(con->vdev.status & VIRTIO_CONFIG_S_NEEDS_RESET));
	handshake(); /* and it still works */
}
END_TEST

static bool file_has(const char *text)
{
	char buf[256] = "";
	for (int i = 0; i < 2000; i++) {
		FILE *f = fopen(file, "r");
		size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
		if (f)
			fclose(f);
		buf[n] = 0;
		if (strstr(buf, text))
			return true;
		sleep_ms(1);
	}
	return false;
}

START_TEST(file_port_output)
{
	handshake();
	send_out(5, "hello ", 6, 0); /* port 1 transmit = queue 5 */
	send_out(5, "file\n", 5, 1);
	ck_assert(file_has("hello file\n"));
	uint32_t len;
	for (int i = 0; i < 2; i++) {
		for (int t = 0; t < 1000 && !vqd_get_used(&q[5], &len); t++)
			sleep_ms(1);
	}
}
END_TEST

static int connect_client(void)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	strcpy(sa.sun_path, sock);
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

/* Output to a socket port without a client is held back (the chain is not
 * returned), then delivered once a client connects. */
START_TEST(socket_port_back_pressure_and_echo)
{
	uint32_t len;
	handshake();
	send_out(7, "early\n", 6, 0); /* port 2 transmit = queue 7 */
	sleep_ms(100);
	ck_assert_ptr_null(vqd_get_used(&q[7], &len));

	int fd = connect_client();
	expect_ctrl(2, VIRTIO_CONSOLE_PORT_OPEN, 1, NULL);
	char buf[64] = "";
	struct pollfd p = {.fd = fd, .events = POLLIN};
	ck_assert_int_eq(poll(&p, 1, 2000), 1);
	ck_assert_int_eq(read(fd, buf, sizeof(buf)), 6);
	ck_assert_int_eq(memcmp(buf, "early\n", 6), 0);

	/* Host -> guest, in order, into receive buffers posted later, and
	 * held while no guest program has the port open (Linux would drop it). */
	ck_assert_int_eq(write(fd, "abc", 3), 3);
	ck_assert_int_eq(write(fd, "def", 3), 3);
	sleep_ms(50);
	post_rx(6, 2); /* port 2 receive = queue 6 */
	sleep_ms(100);
	ck_assert_ptr_null(vqd_get_used(&q[6], &len));
	send_ctrl(2, VIRTIO_CONSOLE_PORT_OPEN, 1, 3);
	char got[16] = "";
	size_t have = 0;
	for (int t = 0; t < 2000 && have < 6; t++) {
		uintptr_t at = (uintptr_t)vqd_get_used(&q[6], &len);
		if (at) {
			memcpy(got + have, ram + at, len);
			have += len;
		} else {
			sleep_ms(1);
		}
	}
	ck_assert_str_eq(got, "abcdef");

	close(fd);
	expect_ctrl(2, VIRTIO_CONSOLE_PORT_OPEN, 0, NULL);
}
END_TEST

/* A socket file nobody listens on (left by a skiff under seccomp) is
 * replaced; one somebody listens on is refused with a clear error. */
START_TEST(socket_stale_and_busy)
{
	char path[128], err[256] = "";
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(path, sizeof(path), "%s/other.sock", dir);
	strcpy(sa.sun_path, path);
	int stale = socket(AF_UNIX, SOCK_STREAM, 0);
	ck_assert_int_eq(bind(stale, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(stale); /* the file stays, nobody listens */

	struct console_port_spec spec = {.kind = CONSOLE_PORT_SOCKET, .name = "x", .path = path};
	struct virtio_console_config_opts o = {.nports = 1, .ports = {&spec}};
	struct virtio_console *other = calloc(1, sizeof(*other));
	ck_assert_msg(virtio_console_init(other, &o, "virtio-console1", &mem, err, sizeof(err)) == 0, "%s", err);

	/* Now it listens: a third one must be refused. */
	struct virtio_console *third = calloc(1, sizeof(*third));
	ck_assert_int_eq(virtio_console_init(third, &o, "virtio-console2", &mem, err, sizeof(err)), -EADDRINUSE);
	ck_assert_ptr_nonnull(strstr(err, "is in use"));
	virtio_console_destroy(third);
	virtio_console_destroy(other);
	free(third);
	free(other);
	unlink(path);
}
END_TEST

static Suite *console_suite(void)
{
	Suite *s = suite_create("virtio-console");
	TCase *tc = tcase_create("ports");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, control_handshake);
	tcase_add_test(tc, control_malformed);
	tcase_add_test(tc, control_flood_logs_once);
	tcase_add_test(tc, file_port_output);
	tcase_add_test(tc, socket_port_back_pressure_and_echo);
	tcase_add_test(tc, socket_stale_and_busy);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return check_run_suite(console_suite());
}
