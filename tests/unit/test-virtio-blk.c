/* Unit tests of virtio-blk (devices/virtio-blk.c) played from the driver
 * side: requests built with the driver-side virtqueue code
 * (virtqueue/driver.c) in a fake guest RAM, kicked, and answered by the
 * device over a real image file through the block backend. Every request
 * type, the config space, and malformed requests (each must get IOERR or
 * UNSUPP, or a device reset when no status byte exists, and never touch
 * the image outside the disk). */
#include <check.h>
#include "tests/unit/check-run.h"
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>

#include "base/reactor.h"
#include "devices/virtio-blk.h"
#include "virtio/kvm-platform.h"
#include "virtqueue/driver.h"

#define RAM_SIZE   (4u << 20)
#define QSIZE      64
#define RING_GPA   0x1000
#define HDR_GPA    0x10000
#define DATA_GPA   0x100000
#define STATUS_GPA 0x20000
#define DISK_SIZE  (1u << 20)
#define SECTORS    (DISK_SIZE / 512)

static uint8_t *ram;
static struct guest_mem mem;
static char dir[64], image[96];
static struct virtio_blk *blk;
static struct vqd d;
static unsigned interrupts;
static enum blk_engine engine = BLK_ENGINE_AUTO;
static struct reactor *reactor; /* NULL: kicks served inline, a reaper thread */

static void count_irq(struct virtio_device *dev, unsigned q) { __atomic_add_fetch(&interrupts, 1, __ATOMIC_SEQ_CST); }
static void no_config(struct virtio_device *dev) {}
static const struct virtio_transport_ops transport = {count_irq, no_config};

static void make_image(void)
{
	strcpy(dir, "/var/tmp/skiff-vblk-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(image, sizeof(image), "%s/disk.img", dir);
	int fd = open(image, O_RDWR | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	uint8_t *pattern = malloc(DISK_SIZE);
	for (unsigned i = 0; i < DISK_SIZE; i++)
		pattern[i] = (uint8_t)(i / 512 + 1);
	ck_assert_int_eq(pwrite(fd, pattern, DISK_SIZE, 0), DISK_SIZE);
	free(pattern);
	close(fd);
}

/* Bring up the device with the given options as a driver would:
 * features (with EVENT_IDX when asked), one queue, DRIVER_OK. */
static void start(bool readonly, bool discard, bool event_idx)
{
	struct virtio_blk_config_opts o = {.path = image, .readonly = readonly, .discard = discard,
					   .write_zeroes = discard, .queues = 1};
	char err[256] = "";

	strcpy(o.serial, "skiff-serial-123");
	blk = calloc(1, sizeof(*blk));
	ck_assert_msg(virtio_blk_init(blk, &o, "virtio-blk0", &mem, engine, reactor, err, sizeof(err)) == 0, "%s", err);
	struct virtio_device *dev = &blk->vdev;
	dev->transport = &transport;
	dev->offered = dev->ops->features(dev) | VIRTIO_FEATURE(VIRTIO_F_VERSION_1) |
		       VIRTIO_FEATURE(VIRTIO_RING_F_EVENT_IDX);
	uint64_t want = dev->offered & ~(event_idx ? 0 : VIRTIO_FEATURE(VIRTIO_RING_F_EVENT_IDX));
	pthread_mutex_lock(&dev->lock);
	virtio_device_set_status(dev, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	virtio_device_write_driver_features(dev, 0, (uint32_t)want);
	virtio_device_write_driver_features(dev, 1, (uint32_t)(want >> 32));
	virtio_device_set_status(dev, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK);
	ck_assert(dev->status & VIRTIO_CONFIG_S_FEATURES_OK);
	ck_assert_int_eq(vqd_init_split(&d, QSIZE, ram + RING_GPA, RING_GPA, event_idx ? VQD_F_EVENT_IDX : 0), 0);
	dev->vqs[0].size = QSIZE;
	dev->vqs[0].desc_addr = d.desc_gpa;
	dev->vqs[0].avail_addr = d.avail_gpa;
	dev->vqs[0].used_addr = d.used_gpa;
	ck_assert_int_eq(virtio_device_enable_queue(dev, 0), 0);
	virtio_device_set_status(dev, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
					      VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK);
	pthread_mutex_unlock(&dev->lock);
	interrupts = 0;
}

static void setup(void)
{
	ram = aligned_alloc(4096, RAM_SIZE);
	ck_assert_ptr_nonnull(ram);
	memset(ram, 0, RAM_SIZE);
	mem = (struct guest_mem){.region = {{.gpa = 0, .size = RAM_SIZE, .host = ram}}, .nr_regions = 1};
	make_image();
	start(false, true, true);
}

static void teardown(void)
{
	virtio_blk_destroy(blk);
	free(blk);
	unlink(image);
	rmdir(dir);
	free(ram);
}

static void restart(bool readonly, bool discard, bool event_idx)
{
	virtio_blk_destroy(blk);
	free(blk);
	start(readonly, discard, event_idx);
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)ms * 1000000};
	nanosleep(&ts, NULL);
}

/* Wait for one used buffer; its token and length. */
static void *wait_used(uint32_t *len)
{
	for (int i = 0; i < 5000; i++) {
		void *t = vqd_get_used(&d, len);
		if (t)
			return t;
		sleep_ms(1);
	}
	ck_abort_msg("no used buffer");
	return NULL;
}

static void kick(void)
{
	virtio_device_kick(&blk->vdev, 0);
}

static void put_header(uint32_t type, uint64_t sector)
{
	struct virtio_blk_outhdr h = {.type = htole32(type), .ioprio = 0, .sector = htole64(sector)};
	memcpy(ram + HDR_GPA, &h, sizeof(h));
}

/* One request: header (hdr_len bytes of it) + out_len bytes of data
 * readable, in_len bytes of data + status_len status bytes writable.
 * Returns the status byte (or -1 if none was asked for), *used the used length. */
static int request_ex(uint32_t type, uint64_t sector, uint32_t hdr_len, uint32_t out_len, uint32_t in_len,
		      uint32_t status_len, uint32_t *used)
{
	struct vqd_buf out[2], in[2];
	unsigned nout = 0, nin = 0;
	uint32_t len = 0;

	put_header(type, sector);
	ram[STATUS_GPA] = 0xee;
	if (hdr_len)
		out[nout++] = (struct vqd_buf){HDR_GPA, hdr_len};
	if (out_len)
		out[nout++] = (struct vqd_buf){DATA_GPA, out_len};
	if (in_len)
		in[nin++] = (struct vqd_buf){DATA_GPA, in_len};
	if (status_len)
		in[nin++] = (struct vqd_buf){STATUS_GPA, status_len};
	ck_assert_int_eq(vqd_add(&d, out, nout, in, nin, (void *)1, false), 0);
	kick();
	if (blk->vdev.status & VIRTIO_CONFIG_S_NEEDS_RESET)
		return -2;
	wait_used(&len);
	if (used)
		*used = len;
	return status_len ? ram[STATUS_GPA + status_len - 1] : -1;
}

static int request(uint32_t type, uint64_t sector, uint32_t out_len, uint32_t in_len)
{
	return request_ex(type, sector, 16, out_len, in_len, 1, NULL);
}

static void read_image(uint64_t off, void *buf, size_t len)
{
	int fd = open(image, O_RDONLY);
	ck_assert_int_eq(pread(fd, buf, len, (off_t)off), (ssize_t)len);
	close(fd);
}

static void put_range(uint64_t sector, uint32_t sectors, uint32_t flags)
{
	struct virtio_blk_discard_write_zeroes r = {.sector = htole64(sector), .num_sectors = htole32(sectors),
						    .flags = htole32(flags)};
	memcpy(ram + DATA_GPA, &r, sizeof(r));
}

/* ---- every request type ---- */

START_TEST(read_sectors)
{
	uint32_t used;
	ck_assert_int_eq(request_ex(VIRTIO_BLK_T_IN, 3, 16, 0, 2048, 1, &used), VIRTIO_BLK_S_OK);
	ck_assert_uint_eq(used, 2049);
	for (unsigned i = 0; i < 2048; i++)
		ck_assert_uint_eq(ram[DATA_GPA + i], 3 + i / 512 + 1);
}
END_TEST

START_TEST(write_sectors)
{
	uint8_t back[1024];
	memset(ram + DATA_GPA, 0x5a, 1024);
	ck_assert_int_eq(request(VIRTIO_BLK_T_OUT, 10, 1024, 0), VIRTIO_BLK_S_OK);
	read_image(10 * 512, back, sizeof(back));
	for (unsigned i = 0; i < sizeof(back); i++)
		ck_assert_uint_eq(back[i], 0x5a);
	read_image(12 * 512, back, 1);
	ck_assert_uint_eq(back[0], 13); /* the next sector untouched */
}
END_TEST

START_TEST(flush)
{
	ck_assert_int_eq(request(VIRTIO_BLK_T_FLUSH, 0, 0, 0), VIRTIO_BLK_S_OK);
}
END_TEST

START_TEST(get_id)
{
	uint32_t used;
	memset(ram + DATA_GPA, 0xff, 32);
	ck_assert_int_eq(request_ex(VIRTIO_BLK_T_GET_ID, 0, 16, 0, VIRTIO_BLK_ID_BYTES, 1, &used), VIRTIO_BLK_S_OK);
	ck_assert_str_eq((char *)ram + DATA_GPA, "skiff-serial-123");
	ck_assert_uint_eq(ram[DATA_GPA + 19], 0);
	/* A shorter buffer gets the serial's first bytes. */
	memset(ram + DATA_GPA, 0xff, 32);
	ck_assert_int_eq(request_ex(VIRTIO_BLK_T_GET_ID, 0, 16, 0, 5, 1, NULL), VIRTIO_BLK_S_OK);
	ck_assert_int_eq(memcmp(ram + DATA_GPA, "skiff", 5), 0);
	ck_assert_uint_eq(ram[DATA_GPA + 5], 0xff);
}
END_TEST

START_TEST(discard_punches_hole)
{
	struct stat before, after;
	ck_assert_int_eq(stat(image, &before), 0);
	put_range(0, SECTORS / 2, 0);
	ck_assert_int_eq(request(VIRTIO_BLK_T_DISCARD, 0, 16, 0), VIRTIO_BLK_S_OK);
	ck_assert_int_eq(stat(image, &after), 0);
	ck_assert_int_lt(after.st_blocks, before.st_blocks);
}
END_TEST

START_TEST(write_zeroes)
{
	uint8_t back[4096];
	put_range(8, 8, 0);
	ck_assert_int_eq(request(VIRTIO_BLK_T_WRITE_ZEROES, 0, 16, 0), VIRTIO_BLK_S_OK);
	put_range(24, 8, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP);
	ck_assert_int_eq(request(VIRTIO_BLK_T_WRITE_ZEROES, 0, 16, 0), VIRTIO_BLK_S_OK);
	read_image(8 * 512, back, sizeof(back));
	for (unsigned i = 0; i < sizeof(back); i++)
		ck_assert_uint_eq(back[i], 0);
	read_image(24 * 512, back, sizeof(back));
	for (unsigned i = 0; i < sizeof(back); i++)
		ck_assert_uint_eq(back[i], 0);
	read_image(16 * 512, back, 1);
	ck_assert_uint_eq(back[0], 17);
}
END_TEST

/* Many reads in flight from one kick: each answered once, right data.
 * Run on both engines (the thread pool once stranded the last requests
 * of a burst: completed, never published). */
static void many_in_flight_on(enum blk_engine e)
{
	engine = e;
	restart(false, true, true);
	engine = BLK_ENGINE_AUTO;
	enum { N = 21 }; /* 3 descriptors each in a 64-entry ring */
	struct vqd_buf out = {HDR_GPA, 16}, in[2];
	for (unsigned i = 0; i < N; i++) {
		struct virtio_blk_outhdr h = {.type = htole32(VIRTIO_BLK_T_IN), .sector = htole64(i * 8)};
		memcpy(ram + HDR_GPA + i * 16, &h, 16);
		out.addr = HDR_GPA + i * 16;
		in[0] = (struct vqd_buf){DATA_GPA + i * 4096, 4096};
		in[1] = (struct vqd_buf){STATUS_GPA + i, 1};
		ram[STATUS_GPA + i] = 0xee;
		ck_assert_int_eq(vqd_add(&d, &out, 1, in, 2, (void *)(uintptr_t)(i + 1), false), 0);
	}
	kick();
	bool seen[N] = {false};
	for (unsigned n = 0; n < N; n++) {
		uint32_t len;
		uintptr_t t = (uintptr_t)wait_used(&len);
		ck_assert(t >= 1 && t <= N && !seen[t - 1]);
		seen[t - 1] = true;
		ck_assert_uint_eq(len, 4097);
	}
	for (unsigned i = 0; i < N; i++) {
		ck_assert_uint_eq(ram[STATUS_GPA + i], VIRTIO_BLK_S_OK);
		ck_assert_uint_eq(ram[DATA_GPA + i * 4096 + 4095], i * 8 + 7 + 1);
	}
	unsigned irqs = __atomic_load_n(&interrupts, __ATOMIC_SEQ_CST); /* counted on the reaper thread */
	ck_assert_uint_ge(irqs, 1);
	ck_assert_uint_le(irqs, N);
}

START_TEST(many_in_flight_io_uring)
{
	for (int round = 0; round < 20; round++)
		many_in_flight_on(BLK_ENGINE_IO_URING);
}
END_TEST

START_TEST(many_in_flight_threads)
{
	for (int round = 0; round < 20; round++)
		many_in_flight_on(BLK_ENGINE_THREADS);
}
END_TEST

/* Write-through (CONFIG_WCE, wce = 0): writes still complete, and the
 * config reads back what the driver wrote. */
START_TEST(write_through)
{
	struct virtio_device *dev = &blk->vdev;
	uint8_t zero = 0, wce = 1;
	size_t off = offsetof(struct virtio_blk_config, wce);
	dev->ops->config_write(dev, off, &zero, 1);
	dev->ops->config_read(dev, off, &wce, 1);
	ck_assert_uint_eq(wce, 0);
	memset(ram + DATA_GPA, 0x77, 512);
	ck_assert_int_eq(request(VIRTIO_BLK_T_OUT, 1, 512, 0), VIRTIO_BLK_S_OK);
	uint8_t back;
	read_image(512, &back, 1);
	ck_assert_uint_eq(back, 0x77);
}
END_TEST

START_TEST(config_space)
{
	struct virtio_device *dev = &blk->vdev;
	struct virtio_blk_config c;
	dev->ops->config_read(dev, 0, &c, dev->ops->config_size);
	ck_assert_uint_eq(le64toh(c.capacity), SECTORS);
	ck_assert_uint_eq(le32toh(c.blk_size), 512);
	ck_assert_uint_eq(le32toh(c.seg_max), VIRTIO_BLK_SEG_MAX);
	ck_assert_uint_eq(le32toh(c.size_max), VIRTIO_BLK_SIZE_MAX);
	ck_assert_uint_eq(c.wce, 1);
	ck_assert_uint_eq(le32toh(c.max_discard_seg), 1);
	uint64_t f = dev->ops->features(dev);
	ck_assert(f & VIRTIO_FEATURE(VIRTIO_BLK_F_FLUSH));
	ck_assert(f & VIRTIO_FEATURE(VIRTIO_BLK_F_DISCARD));
	ck_assert(!(f & VIRTIO_FEATURE(VIRTIO_BLK_F_RO)));
	ck_assert(!(f & VIRTIO_FEATURE(VIRTIO_BLK_F_MQ)));
	restart(true, false, false); /* a new device: dev pointed into the one freed */
	dev = &blk->vdev;
	f = dev->ops->features(dev);
	ck_assert(f & VIRTIO_FEATURE(VIRTIO_BLK_F_RO));
	ck_assert(!(f & VIRTIO_FEATURE(VIRTIO_BLK_F_DISCARD)));
}
END_TEST

/* ---- malformed requests ---- */

START_TEST(bad_unknown_type_unsupp)
{
	ck_assert_int_eq(request(77, 0, 0, 0), VIRTIO_BLK_S_UNSUPP);
	ck_assert_int_eq(request(VIRTIO_BLK_T_SCSI_CMD, 0, 0, 0), VIRTIO_BLK_S_UNSUPP);
	ck_assert_int_eq(request(VIRTIO_BLK_T_SECURE_ERASE, 0, 16, 0), VIRTIO_BLK_S_UNSUPP);
}
END_TEST

START_TEST(bad_read_past_end)
{
	ck_assert_int_eq(request(VIRTIO_BLK_T_IN, SECTORS - 1, 0, 1024), VIRTIO_BLK_S_IOERR);
	ck_assert_int_eq(request(VIRTIO_BLK_T_IN, SECTORS, 0, 512), VIRTIO_BLK_S_IOERR);
	ck_assert_int_eq(request(VIRTIO_BLK_T_IN, SECTORS - 1, 0, 512), VIRTIO_BLK_S_OK);
}
END_TEST

START_TEST(bad_write_past_end_overflow)
{
	struct stat st;
	ck_assert_int_eq(request(VIRTIO_BLK_T_OUT, UINT64_MAX, 512, 0), VIRTIO_BLK_S_IOERR);
	ck_assert_int_eq(request(VIRTIO_BLK_T_OUT, UINT64_MAX / 512 + 1, 512, 0), VIRTIO_BLK_S_IOERR);
	ck_assert_int_eq(request(VIRTIO_BLK_T_OUT, SECTORS, 512, 0), VIRTIO_BLK_S_IOERR);
	ck_assert_int_eq(stat(image, &st), 0);
	ck_assert_int_eq(st.st_size, DISK_SIZE); /* never grown */
}
END_TEST

START_TEST(bad_partial_sector)
{
	ck_assert_int_eq(request(VIRTIO_BLK_T_IN, 0, 0, 100), VIRTIO_BLK_S_IOERR);
	ck_assert_int_eq(request(VIRTIO_BLK_T_OUT, 0, 513, 0), VIRTIO_BLK_S_IOERR);
}
END_TEST

START_TEST(bad_short_header)
{
	ck_assert_int_eq(request_ex(VIRTIO_BLK_T_IN, 0, 8, 0, 512, 1, NULL), VIRTIO_BLK_S_IOERR);
	/* No readable header at all: it sits in a writable buffer. */
	ck_assert_int_eq(request_ex(VIRTIO_BLK_T_IN, 0, 0, 0, 512, 1, NULL), VIRTIO_BLK_S_IOERR);
}
END_TEST

START_TEST(bad_long_status)
{
	/* OUT with two writable bytes: the status is the last, the request wrong. */
	ck_assert_int_eq(request_ex(VIRTIO_BLK_T_OUT, 0, 16, 512, 0, 2, NULL), VIRTIO_BLK_S_IOERR);
	/* IN with readable data after the header. */
	ck_assert_int_eq(request_ex(VIRTIO_BLK_T_IN, 0, 16, 512, 512, 1, NULL), VIRTIO_BLK_S_IOERR);
	/* FLUSH carrying data. */
	ck_assert_int_eq(request_ex(VIRTIO_BLK_T_FLUSH, 0, 16, 512, 0, 1, NULL), VIRTIO_BLK_S_IOERR);
}
END_TEST

/* No device-writable byte: the status would sit in a device-readable
 * buffer. Nothing can be answered: the device asks for a reset. */
START_TEST(bad_no_status_byte_resets)
{
	ck_assert_int_eq(request_ex(VIRTIO_BLK_T_OUT, 0, 16, 512, 0, 0, NULL), -2);
	ck_assert(blk->vdev.status & VIRTIO_CONFIG_S_NEEDS_RESET);
}
END_TEST

START_TEST(bad_readonly_write)
{
	uint8_t back;
	restart(true, false, false);
	memset(ram + DATA_GPA, 0x11, 512);
	ck_assert_int_eq(request(VIRTIO_BLK_T_OUT, 0, 512, 0), VIRTIO_BLK_S_IOERR);
	read_image(0, &back, 1);
	ck_assert_uint_eq(back, 1);
	ck_assert_int_eq(request(VIRTIO_BLK_T_IN, 0, 0, 512), VIRTIO_BLK_S_OK);
	ck_assert_int_eq(request(VIRTIO_BLK_T_FLUSH, 0, 0, 0), VIRTIO_BLK_S_OK);
}
END_TEST

START_TEST(bad_discard_not_offered)
{
	restart(false, false, true);
	put_range(0, 8, 0);
	ck_assert_int_eq(request(VIRTIO_BLK_T_DISCARD, 0, 16, 0), VIRTIO_BLK_S_UNSUPP);
	ck_assert_int_eq(request(VIRTIO_BLK_T_WRITE_ZEROES, 0, 16, 0), VIRTIO_BLK_S_UNSUPP);
}
END_TEST

START_TEST(bad_discard_segments)
{
	put_range(0, 8, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP); /* unmap on a discard */
	ck_assert_int_eq(request(VIRTIO_BLK_T_DISCARD, 0, 16, 0), VIRTIO_BLK_S_UNSUPP);
	put_range(0, 8, 0x80); /* reserved flag */
	ck_assert_int_eq(request(VIRTIO_BLK_T_WRITE_ZEROES, 0, 16, 0), VIRTIO_BLK_S_UNSUPP);
	put_range(0, 0, 0); /* no sectors */
	ck_assert_int_eq(request(VIRTIO_BLK_T_DISCARD, 0, 16, 0), VIRTIO_BLK_S_IOERR);
	put_range(SECTORS - 4, 8, 0); /* past the end */
	ck_assert_int_eq(request(VIRTIO_BLK_T_DISCARD, 0, 16, 0), VIRTIO_BLK_S_IOERR);
	put_range(UINT64_MAX - 2, 8, 0); /* overflowing */
	ck_assert_int_eq(request(VIRTIO_BLK_T_WRITE_ZEROES, 0, 16, 0), VIRTIO_BLK_S_IOERR);
	put_range(0, 8, 0); /* two segments (max_discard_seg is 1) */
	ck_assert_int_eq(request(VIRTIO_BLK_T_DISCARD, 0, 32, 0), VIRTIO_BLK_S_IOERR);
	ck_assert_int_eq(request(VIRTIO_BLK_T_DISCARD, 0, 8, 0), VIRTIO_BLK_S_IOERR); /* short segment */
	put_range(0, VIRTIO_BLK_MAX_DISCARD_SECTORS + 8, 0);
	ck_assert_int_eq(request(VIRTIO_BLK_T_DISCARD, 0, 16, 0), VIRTIO_BLK_S_IOERR);
}
END_TEST

/* The device keeps serving after every malformed request. */
START_TEST(bad_then_good)
{
	ck_assert_int_eq(request(99, 0, 0, 0), VIRTIO_BLK_S_UNSUPP);
	ck_assert_int_eq(request(VIRTIO_BLK_T_IN, SECTORS + 5, 0, 512), VIRTIO_BLK_S_IOERR);
	ck_assert_int_eq(request(VIRTIO_BLK_T_IN, 0, 0, 512), VIRTIO_BLK_S_OK);
	ck_assert_uint_eq(ram[DATA_GPA], 1);
}
END_TEST

/* ---- the advertised size_max and seg_max ---- */

/* Parse req's chain as a request of queue 0 of a bare device (the parser
 * reads the header through it). */
static void parse_request(const struct virtio_blk_limits *lim, struct virtio_request *req, struct virtio_blk_plan *plan)
{
	static struct virtio_device dev;

	dev.vqs[0].mem = &mem;
	req->dev = &dev;
	req->q = 0;
	virtio_blk_parse(lim, req, plan);
}

/* Parse a req.chain of a 16-byte header, `nseg` data buffers of seg_len bytes
 * each (all on the same guest bytes: a guest may overlap them) and a
 * status byte; read or write. */
static struct virtio_blk_plan parse_segments(bool write, unsigned nseg, uint32_t seg_len)
{
	static struct virtio_request req;
	struct virtio_blk_limits lim = {.capacity = 1ull << 40, .block_size = 512, .size_max = VIRTIO_BLK_SIZE_MAX,
					.seg_max = VIRTIO_BLK_SEG_MAX};
	struct virtio_blk_plan plan;
	struct vq_seg *data = write ? req.chain.out : req.chain.in;
	unsigned *n = write ? &req.chain.nout : &req.chain.nin;
	uint64_t *bytes = write ? &req.chain.out_bytes : &req.chain.in_bytes;

	memset(&req.chain, 0, sizeof(req.chain));
	put_header(write ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN, 0);
	req.chain.out[req.chain.nout++] = (struct vq_seg){HDR_GPA, 16};
	req.chain.out_bytes = 16;
	for (unsigned i = 0; i < nseg; i++) {
		data[(*n)++] = (struct vq_seg){DATA_GPA, seg_len};
		*bytes += seg_len;
	}
	req.chain.in[req.chain.nin++] = (struct vq_seg){STATUS_GPA, 1};
	req.chain.in_bytes++;
	parse_request(&lim, &req, &plan);
	return plan;
}

static void assert_limits_enforced(bool write)
{
	struct virtio_blk_plan plan = parse_segments(write, VIRTIO_BLK_SEG_MAX, 512);
	ck_assert_int_eq(plan.action, BLK_ACTION_IO); /* seg_max buffers: served */
	plan = parse_segments(write, VIRTIO_BLK_SEG_MAX + 1, 512);
	ck_assert_int_eq(plan.action, BLK_ACTION_STATUS);
	ck_assert_int_eq(plan.status, VIRTIO_BLK_S_IOERR);
	plan = parse_segments(write, 1, VIRTIO_BLK_SIZE_MAX); /* size_max bytes: served */
	ck_assert_int_eq(plan.action, BLK_ACTION_IO);
	plan = parse_segments(write, 1, VIRTIO_BLK_SIZE_MAX + 512);
	ck_assert_int_eq(plan.action, BLK_ACTION_STATUS);
	ck_assert_int_eq(plan.status, VIRTIO_BLK_S_IOERR);
	/* The largest request there may be: seg_max buffers of size_max. */
	plan = parse_segments(write, VIRTIO_BLK_SEG_MAX, VIRTIO_BLK_SIZE_MAX);
	ck_assert_int_eq(plan.action, BLK_ACTION_IO);
	ck_assert_uint_eq(plan.len, (uint64_t)VIRTIO_BLK_SEG_MAX * VIRTIO_BLK_SIZE_MAX);
}

START_TEST(limits_read) { assert_limits_enforced(false); }
END_TEST

START_TEST(limits_write) { assert_limits_enforced(true); }
END_TEST

/* The header and the status may share a buffer with data: only the data
 * bytes count against size_max. */
START_TEST(limits_count_data_bytes_only)
{
	static struct virtio_request req;
	struct virtio_blk_limits lim = {.capacity = 1ull << 40, .block_size = 512, .size_max = 4096, .seg_max = 1};
	struct virtio_blk_plan plan;

	memset(&req.chain, 0, sizeof(req.chain));
	put_header(VIRTIO_BLK_T_OUT, 0);
	req.chain.out[req.chain.nout++] = (struct vq_seg){HDR_GPA, 16 + 4096}; /* header + size_max of data */
	req.chain.out_bytes = 16 + 4096;
	req.chain.in[req.chain.nin++] = (struct vq_seg){STATUS_GPA, 1};
	req.chain.in_bytes = 1;
	parse_request(&lim, &req, &plan);
	ck_assert_int_eq(plan.action, BLK_ACTION_IO);
	req.chain.out[0].len += 512;
	req.chain.out_bytes += 512;
	parse_request(&lim, &req, &plan);
	ck_assert_int_eq(plan.action, BLK_ACTION_STATUS);
}
END_TEST

/* Through the device: a read of one size_max buffer works, one 512 bytes
 * longer gets IOERR, and the disk stays readable. */
START_TEST(limits_size_max_on_the_device)
{
	ck_assert_int_eq(truncate(image, 4u << 20), 0);
	restart(false, true, true);
	ck_assert_int_eq(request(VIRTIO_BLK_T_IN, 0, 0, VIRTIO_BLK_SIZE_MAX), VIRTIO_BLK_S_OK);
	ck_assert_int_eq(request(VIRTIO_BLK_T_IN, 0, 0, VIRTIO_BLK_SIZE_MAX + 512), VIRTIO_BLK_S_IOERR);
	ck_assert_int_eq(request(VIRTIO_BLK_T_OUT, 0, VIRTIO_BLK_SIZE_MAX + 512, 0), VIRTIO_BLK_S_IOERR);
	ck_assert_int_eq(request(VIRTIO_BLK_T_IN, 0, 0, 512), VIRTIO_BLK_S_OK);
	ck_assert_uint_eq(ram[DATA_GPA], 1);
}
END_TEST

/* A chain of more than 4 GiB of device-writable buffers (overlapping, in
 * a sparse second RAM region): the used length says "all of it" as far as
 * 32 bits go, not the count modulo 4 GiB. */
START_TEST(used_len_of_a_huge_chain)
{
	const uint64_t big_gpa = 1ull << 32, seg = 3ull << 30; /* two 3 GiB buffers */
	uint8_t *big = mmap(NULL, seg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	ck_assert(big != MAP_FAILED);
	mem.region[1] = (struct guest_region){.gpa = big_gpa, .size = seg, .host = big};
	mem.nr_regions = 2;
	struct vqd_buf out = {HDR_GPA, 16}, in[2] = {{big_gpa, (uint32_t)seg}, {big_gpa, (uint32_t)seg}};
	uint32_t len = 0;

	put_header(VIRTIO_BLK_T_IN, 0);
	ck_assert_int_eq(vqd_add(&d, &out, 1, in, 2, (void *)1, false), 0);
	kick();
	wait_used(&len);
	ck_assert_uint_eq(big[seg - 1], VIRTIO_BLK_S_IOERR); /* past size_max */
	ck_assert_uint_eq(len, UINT32_MAX);
	mem.nr_regions = 1;
	munmap(big, seg);
}
END_TEST

/* Is the device asking the driver not to kick queue 0? */
static bool kicks_off(void)
{
	pthread_mutex_lock(&blk->vdev.lock);
	bool off = !blk->vdev.vqs[0].want_notify;
	pthread_mutex_unlock(&blk->vdev.lock);
	return off;
}

/* A polling reactor (--poll) serves the queue from its ring: once it
 * polls, the driver's ring code is told not to kick (with EVENT_IDX one
 * kick may still be due, as the spec allows), and requests it does not
 * kick for complete all the same. The kick eventfd holds only that one. */
static void polled_queue_on(bool event_idx)
{
	static struct reactor rx;
	static struct kvm_platform platform;
	enum { N = 40 };
	unsigned kicks = 0;

	ck_assert_int_eq(reactor_init(&rx), 0);
	/* 30 s: polling throughout, however slowly a loaded host runs the test */
	reactor_set_poll_ns(&rx, 30000ull * 1000 * 1000);
	reactor = &rx;
	engine = BLK_ENGINE_IO_URING;
	restart(false, true, event_idx);
	engine = BLK_ENGINE_AUTO;
	kvm_platform_init(&platform, &(struct kvm_vm_ioctl){0}, true, &rx, NULL);
	ck_assert_int_eq(kvm_platform_attach_queues(&platform, &blk->vdev), 0);
	ck_assert_int_eq(reactor_start(&rx), 0);
	for (int i = 0; i < 2000 && !kicks_off(); i++)
		sleep_ms(1);
	ck_assert(kicks_off());
	for (unsigned i = 0; i < N; i++) {
		struct virtio_blk_outhdr h = {.type = htole32(VIRTIO_BLK_T_IN), .sector = htole64(i)};
		memcpy(ram + HDR_GPA, &h, sizeof(h));
		struct vqd_buf out = {HDR_GPA, 16}, in[2] = {{DATA_GPA, 512}, {STATUS_GPA, 1}};
		ram[STATUS_GPA] = 0xee;
		ck_assert_int_eq(vqd_add(&d, &out, 1, in, 2, (void *)1, false), 0);
		if (vqd_kick_needed(&d)) {
			kicks++;
			kick();
		}
		uint32_t len;
		ck_assert_ptr_eq(wait_used(&len), (void *)1);
		ck_assert_uint_eq(ram[STATUS_GPA], VIRTIO_BLK_S_OK);
		ck_assert_uint_eq(ram[DATA_GPA + 511], i + 1);
	}
	ck_assert_uint_le(kicks, (event_idx ? 1 : 0));
	uint64_t count = 0; /* the eventfd holds those kicks, none other (EAGAIN: none) */
	ck_assert_int_eq(read(blk->vdev.kick_fd[0], &count, sizeof(count)), kicks ? (int)sizeof(count) : -1);
	ck_assert_uint_eq(count, kicks);
	reactor_stop(&rx);
	ck_assert(!kicks_off()); /* a stopped reactor leaves the driver kicking */
	kvm_platform_destroy(&platform);
	restart(false, true, true); /* without the reactor, for teardown */
	reactor_destroy(&rx);
	reactor = NULL;
}

START_TEST(polled_queue_event_idx) { polled_queue_on(true); }
END_TEST

START_TEST(polled_queue_no_event_idx) { polled_queue_on(false); }
END_TEST

static Suite *blk_suite(void)
{
	Suite *s = suite_create("virtio-blk");
	TCase *tc = tcase_create("requests");
	TCase *bad = tcase_create("malformed");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_checked_fixture(bad, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_set_timeout(bad, 30);
	tcase_add_test(tc, read_sectors);
	tcase_add_test(tc, write_sectors);
	tcase_add_test(tc, flush);
	tcase_add_test(tc, get_id);
	tcase_add_test(tc, discard_punches_hole);
	tcase_add_test(tc, write_zeroes);
	tcase_add_test(tc, many_in_flight_io_uring);
	tcase_add_test(tc, many_in_flight_threads);
	tcase_add_test(tc, write_through);
	tcase_add_test(tc, config_space);
	tcase_add_test(tc, polled_queue_event_idx);
	tcase_add_test(tc, polled_queue_no_event_idx);
	tcase_add_test(bad, bad_unknown_type_unsupp);
	tcase_add_test(bad, bad_read_past_end);
	tcase_add_test(bad, bad_write_past_end_overflow);
	tcase_add_test(bad, bad_partial_sector);
	tcase_add_test(bad, bad_short_header);
	tcase_add_test(bad, bad_long_status);
	tcase_add_test(bad, bad_no_status_byte_resets);
	tcase_add_test(bad, bad_readonly_write);
	tcase_add_test(bad, bad_discard_not_offered);
	tcase_add_test(bad, bad_discard_segments);
	tcase_add_test(bad, bad_then_good);
	tcase_add_test(bad, limits_read);
	tcase_add_test(bad, limits_write);
	tcase_add_test(bad, limits_count_data_bytes_only);
	tcase_add_test(bad, limits_size_max_on_the_device);
	tcase_add_test(bad, used_len_of_a_huge_chain);
	suite_add_tcase(s, tc);
	suite_add_tcase(s, bad);
	return s;
}

int main(void)
{
	return check_run_suite(blk_suite());
}
