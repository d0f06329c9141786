/* Unit tests of the example device of docs/guide-device-type.md
 * (devices/examples/virtio-echo.c), driven through the driver-side ring
 * code (virtqueue/driver.c) as a guest driver would: messages and rooms
 * split over several buffers, the feature bit, the max= key through the
 * type's own parser, a room smaller than the message, buffers that
 * overlap, driver errors; and once end to end through the virtio-mmio
 * transport's registers, to show the device needs nothing to sit on it. */
#include <check.h>
#include "tests/unit/check-run.h"
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>

#include "bus/bus.h"
#include "virtio/virtio-mmio.h"
#include "devices/examples/virtio-echo.h"
#include "virtqueue/driver.h"

#define RAM_SIZE  (1u << 20)
#define RING_GPA  0x10000u
#define MSG_GPA   0x40000u       /* the driver's message buffers */
#define ROOM_GPA  0x80000u       /* and the room for the echo */
#define QSIZE     16
#define MMIO_BASE 0xd0000000ull

static uint8_t *ram;
static struct guest_mem mem;
static struct virtio_echo echo;
static struct vqd vq;

static void setup(void)
{
	ram = aligned_alloc(4096, RAM_SIZE);
	ck_assert_ptr_nonnull(ram);
	memset(ram, 0, RAM_SIZE);
	mem = (struct guest_mem){ .region = { { .gpa = 0, .size = RAM_SIZE, .host = ram } }, .nr_regions = 1 };
}

static void teardown(void)
{
	free(ram);
}

/* Build the device through its table entry, as vmm/virtio-devices.c does
 * for --device echo,max=... (max NULL: no key given). */
static void create(const char *max)
{
	struct virtio_echo_options opts = { 0 };
	char err[128] = "";

	if (max)
		ck_assert_int_eq(virtio_echo_type.keys[0].parse(&opts, max, err, sizeof(err)), 0);
	memset(&echo, 0, sizeof(echo));
	ck_assert_ptr_eq(virtio_echo_type.create(&echo, &opts, "virtio-echo0", &mem, NULL, err, sizeof(err)),
			 &echo.vdev);
}

/* What a transport does once a modern driver negotiated `features` and
 * set up queue 0 (no kick eventfd: a kick is served inline). */
static void start(uint64_t features)
{
	struct virtio_device *dev = &echo.vdev;

	dev->offered = dev->ops->features(dev) | VIRTIO_FEATURE(VIRTIO_F_VERSION_1);
	dev->driver_features = features | VIRTIO_FEATURE(VIRTIO_F_VERSION_1);
	virtio_device_set_status(dev, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
					      VIRTIO_CONFIG_S_FEATURES_OK);
	ck_assert_int_eq(vqd_init_split(&vq, QSIZE, ram + RING_GPA, RING_GPA, 0), 0);
	dev->vqs[0].size = QSIZE;
	dev->vqs[0].desc_addr = vq.desc_gpa;
	dev->vqs[0].avail_addr = vq.avail_gpa;
	dev->vqs[0].used_addr = vq.used_gpa;
	ck_assert_int_eq(virtio_device_enable_queue(dev, 0), 0);
	virtio_device_set_status(dev, dev->status | VIRTIO_CONFIG_S_DRIVER_OK);
	ck_assert_uint_eq(dev->status & VIRTIO_CONFIG_S_NEEDS_RESET, 0);
}

/* Post one request (message parts, then room parts), kick, and return
 * the bytes the device says it wrote; -1 if it returned nothing. */
static long request(const struct vqd_buf *msg, unsigned nmsg, const struct vqd_buf *room, unsigned nroom)
{
	uint32_t len;

	ck_assert_int_eq(vqd_add(&vq, msg, nmsg, room, nroom, &vq, false), 0);
	virtio_device_kick(&echo.vdev, 0);
	return vqd_get_used(&vq, &len) == &vq ? (long)len : -1;
}

static void put(uint32_t gpa, const char *s)
{
	memcpy(ram + gpa, s, strlen(s));
}

START_TEST(echo_across_buffers)
{
	create(NULL);
	start(0);
	put(MSG_GPA, "hello, ");
	put(MSG_GPA + 0x100, "world");
	const struct vqd_buf msg[] = { { MSG_GPA, 7 }, { MSG_GPA + 0x100, 5 } };
	const struct vqd_buf room[] = { { ROOM_GPA, 3 }, { ROOM_GPA + 0x100, 4 }, { ROOM_GPA + 0x200, 64 } };

	ck_assert_int_eq(request(msg, 2, room, 3), 12);
	ck_assert_int_eq(memcmp(ram + ROOM_GPA, "hel", 3), 0);
	ck_assert_int_eq(memcmp(ram + ROOM_GPA + 0x100, "lo, ", 4), 0);
	ck_assert_int_eq(memcmp(ram + ROOM_GPA + 0x200, "world", 5), 0);
	ck_assert_uint_eq(ram[ROOM_GPA + 0x205], 0); /* nothing past the echo */
	ck_assert_uint_eq(echo.vdev.stats.requests, 1);
}
END_TEST

START_TEST(uppercase_only_when_negotiated)
{
	const struct vqd_buf msg = { MSG_GPA, 6 }, room = { ROOM_GPA, 6 };

	create(NULL);
	ck_assert(echo.vdev.ops->features(&echo.vdev) & VIRTIO_FEATURE(VIRTIO_ECHO_F_UPPERCASE));
	start(0);
	put(MSG_GPA, "skiff!");
	ck_assert_int_eq(request(&msg, 1, &room, 1), 6);
	ck_assert_int_eq(memcmp(ram + ROOM_GPA, "skiff!", 6), 0);

	create(NULL);
	start(VIRTIO_FEATURE(VIRTIO_ECHO_F_UPPERCASE));
	ck_assert_int_eq(request(&msg, 1, &room, 1), 6);
	ck_assert_int_eq(memcmp(ram + ROOM_GPA, "SKIFF!", 6), 0);
}
END_TEST

START_TEST(short_room_and_max_size)
{
	const struct vqd_buf msg = { MSG_GPA, 10 }, room = { ROOM_GPA, 4 }, big_room = { ROOM_GPA, 64 };

	create(NULL);
	start(0);
	put(MSG_GPA, "0123456789");
	ck_assert_int_eq(request(&msg, 1, &room, 1), 4);    /* the room decides */
	ck_assert_uint_eq(ram[ROOM_GPA + 4], 0);

	create("5");
	ck_assert_uint_eq(le32toh(echo.config.max_size), 5);
	start(0);
	ck_assert_int_eq(request(&msg, 1, &big_room, 1), 5); /* max= decides */
	ck_assert_int_eq(memcmp(ram + ROOM_GPA, "01234", 5), 0);
}
END_TEST

/* A hostile driver may hand the same memory as message and room. */
START_TEST(overlapping_buffers)
{
	const char *text = "overlapping message";
	size_t n = strlen(text);
	const struct vqd_buf msg = { MSG_GPA, (uint32_t)n }, room = { MSG_GPA + 3, (uint32_t)n };

	create(NULL);
	start(0);
	put(MSG_GPA, text);
	ck_assert_int_eq(request(&msg, 1, &room, 1), (long)n);
	ck_assert_int_eq(memcmp(ram + MSG_GPA + 3, text, n), 0);
}
END_TEST

START_TEST(no_message_or_no_room_needs_reset)
{
	const struct vqd_buf buf = { MSG_GPA, 8 };

	create(NULL);
	start(0);
	ck_assert_int_eq(request(NULL, 0, &buf, 1), -1);
	ck_assert(echo.vdev.status & VIRTIO_CONFIG_S_NEEDS_RESET);
	ck_assert_uint_eq(echo.vdev.inflight, 0);

	/* The driver resets and starts over; a message without room breaks it again. */
	pthread_mutex_lock(&echo.vdev.lock);
	virtio_device_reset(&echo.vdev);
	pthread_mutex_unlock(&echo.vdev.lock);
	start(0);
	ck_assert_int_eq(request(&buf, 1, NULL, 0), -1);
	ck_assert(echo.vdev.status & VIRTIO_CONFIG_S_NEEDS_RESET);
}
END_TEST

START_TEST(max_key_checked)
{
	struct virtio_echo_options opts = { 0 };
	char err[128];

	ck_assert_str_eq(virtio_echo_type.keys[0].name, "max");
	ck_assert_int_eq(virtio_echo_type.keys[0].parse(&opts, "0", err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(virtio_echo_type.keys[0].parse(&opts, "65537", err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(virtio_echo_type.keys[0].parse(&opts, "4k", err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "max '4k' must be a whole number of bytes from 1 to 65536");
	ck_assert_int_eq(virtio_echo_type.keys[0].parse(&opts, "65536", err, sizeof(err)), 0);
	ck_assert_uint_eq(opts.max_size, 65536);
}
END_TEST

/* ---- end to end through virtio-mmio version 2 ---- */

static struct bus mmio_bus;

static uint32_t mrd(uint64_t reg)
{
	uint8_t data[4];

	bus_dispatch(&mmio_bus, MMIO_BASE + reg, data, 4, false);
	return bus_load_le(data, 4);
}

static void mwr(uint64_t reg, uint32_t value)
{
	uint8_t data[4];

	bus_store_le(data, 4, value);
	bus_dispatch(&mmio_bus, MMIO_BASE + reg, data, 4, true);
}

START_TEST(over_virtio_mmio)
{
	struct virtio_mmio vm;

	create("8");
	bus_init(&mmio_bus, "mmio");
	/* No platform: no ioeventfd (kicks exit and are served inline), no IRQ line. */
	ck_assert_int_eq(virtio_mmio_create(&vm, &echo.vdev, 2, MMIO_BASE, 5, &mmio_bus, NULL), 0);
	ck_assert_uint_eq(mrd(VIRTIO_MMIO_DEVICE_ID), VIRTIO_ECHO_DEVICE_ID);
	ck_assert_uint_eq(mrd(VIRTIO_MMIO_CONFIG), 8); /* max_size, little-endian */

	/* The driver's side of VIRTIO 1.x "Device Initialization". */
	mwr(VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	mwr(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	ck_assert(mrd(VIRTIO_MMIO_DEVICE_FEATURES) & VIRTIO_FEATURE(VIRTIO_ECHO_F_UPPERCASE));
	mwr(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	mwr(VIRTIO_MMIO_DRIVER_FEATURES, VIRTIO_FEATURE(VIRTIO_ECHO_F_UPPERCASE));
	mwr(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	mwr(VIRTIO_MMIO_DRIVER_FEATURES, VIRTIO_FEATURE(VIRTIO_F_VERSION_1 - 32));
	mwr(VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK);
	ck_assert(mrd(VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_FEATURES_OK);

	ck_assert_int_eq(vqd_init_split(&vq, QSIZE, ram + RING_GPA, RING_GPA, 0), 0);
	mwr(VIRTIO_MMIO_QUEUE_SEL, 0);
	ck_assert_uint_eq(mrd(VIRTIO_MMIO_QUEUE_NUM_MAX), VIRTIO_ECHO_QUEUE_SIZE);
	mwr(VIRTIO_MMIO_QUEUE_NUM, QSIZE);
	mwr(VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)vq.desc_gpa);
	mwr(VIRTIO_MMIO_QUEUE_AVAIL_LOW, (uint32_t)vq.avail_gpa);
	mwr(VIRTIO_MMIO_QUEUE_USED_LOW, (uint32_t)vq.used_gpa);
	mwr(VIRTIO_MMIO_QUEUE_READY, 1);
	mwr(VIRTIO_MMIO_STATUS, mrd(VIRTIO_MMIO_STATUS) | VIRTIO_CONFIG_S_DRIVER_OK);

	put(MSG_GPA, "through mmio");
	const struct vqd_buf msg = { MSG_GPA, 12 }, room = { ROOM_GPA, 64 };
	uint32_t len;
	ck_assert_int_eq(vqd_add(&vq, &msg, 1, &room, 1, &vq, false), 0);
	ck_assert(vqd_kick_needed(&vq));
	mwr(VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	ck_assert_ptr_eq(vqd_get_used(&vq, &len), &vq);
	ck_assert_uint_eq(len, 8);
	ck_assert_int_eq(memcmp(ram + ROOM_GPA, "THROUGH ", 8), 0);
	ck_assert_uint_eq(mrd(VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_MMIO_INT_VRING);
	virtio_mmio_destroy(&vm);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("example-echo");
	TCase *tc = tcase_create("echo");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, echo_across_buffers);
	tcase_add_test(tc, uppercase_only_when_negotiated);
	tcase_add_test(tc, short_room_and_max_size);
	tcase_add_test(tc, overlapping_buffers);
	tcase_add_test(tc, no_message_or_no_room_needs_reset);
	tcase_add_test(tc, max_key_checked);
	tcase_add_test(tc, over_virtio_mmio);
	suite_add_tcase(s, tc);
	return check_run_suite(s);
}
