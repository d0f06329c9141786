/* Unit tests of virtio-scsi (devices/virtio-scsi.c) played from the
 * driver side: command, control and event chains built with the
 * driver-side virtqueue code (virtqueue/driver.c) in a fake guest RAM,
 * kicked, and answered by the controller over real image files. Covers
 * addressing (targets, LUNs, missing ones), data in both directions,
 * config space (cdb_size, sense_size), task management, events, and
 * malformed chains; plus the command-line rules (which line makes a
 * controller, which joins one). */
#include <check.h>
#include "tests/unit/check-run.h"
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>

#include "devices/virtio-scsi.h"
#include "virtqueue/driver.h"

#define RAM_SIZE  (4u << 20)
#define QSIZE     64
#define REQ_GPA   0x10000
#define RESP_GPA  0x20000
#define DATA_GPA  0x100000
#define EVENT_GPA 0x30000
#define BS        512u
#define BLOCKS0   2048u  /* target 0 LUN 0 */
#define BLOCKS3   64u    /* target 0 LUN 3 */
#define REQ_LEN   (19 + 32)
#define RESP_LEN  (12 + 96)

static uint8_t *ram;
static struct guest_mem mem;
static char dir[64], image0[96], image3[96];
static struct virtio_scsi *scsi;
static struct vqd ctrlq, eventq, reqq;
static const uint64_t ring_gpa[3] = {0x380000, 0x390000, 0x3a0000}; /* 19 KiB each with indirect tables */

static void no_irq(struct virtio_device *dev, unsigned q) {}
static void no_config(struct virtio_device *dev) {}
static const struct virtio_transport_ops transport = {no_irq, no_config};

static void make_image(char *path, const char *name, unsigned blocks)
{
	snprintf(path, 96, "%s/%s", dir, name);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	uint8_t *pattern = malloc(blocks * BS);
	for (unsigned i = 0; i < blocks * BS; i++)
		pattern[i] = (uint8_t)(i / BS + 1);
	ck_assert_int_eq(pwrite(fd, pattern, blocks * BS, 0), blocks * BS);
	free(pattern);
	close(fd);
}

static void setup(void)
{
	ram = aligned_alloc(4096, RAM_SIZE);
	ck_assert_ptr_nonnull(ram);
	memset(ram, 0, RAM_SIZE);
	mem = (struct guest_mem){.region = {{.gpa = 0, .size = RAM_SIZE, .host = ram}}, .nr_regions = 1};
	strcpy(dir, "/var/tmp/skiff-vscsi-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	make_image(image0, "lun0.img", BLOCKS0);
	make_image(image3, "lun3.img", BLOCKS3);

	struct virtio_scsi_disk_opts disks[2] = {
		{.path = image0, .serial = "SER-LUN0", .target = 0, .lun = 0, .discard = true},
		{.path = image3, .serial = NULL, .target = 0, .lun = 3, .readonly = true},
	};
	struct virtio_scsi_config_opts o = {.queues = 1, .disks = disks, .nr_disks = 2};
	char err[256] = "";
	scsi = calloc(1, sizeof(*scsi));
	ck_assert_msg(virtio_scsi_init(scsi, &o, "virtio-scsi0", &mem, BLK_ENGINE_AUTO, NULL, err, sizeof(err)) == 0, "%s",
		      err);

	struct virtio_device *dev = &scsi->vdev;
	struct vqd *q[3] = {&ctrlq, &eventq, &reqq};
	dev->transport = &transport;
	dev->offered = dev->ops->features(dev) | VIRTIO_FEATURE(VIRTIO_F_VERSION_1);
	pthread_mutex_lock(&dev->lock);
	virtio_device_set_status(dev, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	virtio_device_write_driver_features(dev, 0, (uint32_t)dev->offered);
	virtio_device_write_driver_features(dev, 1, (uint32_t)(dev->offered >> 32));
	virtio_device_set_status(dev, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK);
	ck_assert(dev->status & VIRTIO_CONFIG_S_FEATURES_OK);
	for (unsigned i = 0; i < 3; i++) {
		ck_assert_int_eq(vqd_init_split(q[i], QSIZE, ram + ring_gpa[i], ring_gpa[i], 0), 0);
		dev->vqs[i].size = QSIZE;
		dev->vqs[i].desc_addr = q[i]->desc_gpa;
		dev->vqs[i].avail_addr = q[i]->avail_gpa;
		dev->vqs[i].used_addr = q[i]->used_gpa;
		ck_assert_int_eq(virtio_device_enable_queue(dev, i), 0);
	}
	virtio_device_set_status(dev, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
					      VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK);
	pthread_mutex_unlock(&dev->lock);
}

static void teardown(void)
{
	virtio_scsi_destroy(scsi);
	free(scsi);
	unlink(image0);
	unlink(image3);
	rmdir(dir);
	free(ram);
}

static void *wait_used(struct vqd *q, uint32_t *len)
{
	for (int i = 0; i < 5000; i++) {
		void *t = vqd_get_used(q, len);
		if (t)
			return t;
		struct timespec ts = {0, 1000000};
		nanosleep(&ts, NULL);
	}
	ck_abort_msg("no used buffer");
	return NULL;
}

static struct virtio_scsi_cmd_resp *resp(void) { return (struct virtio_scsi_cmd_resp *)(ram + RESP_GPA); }

/* One command to target/lun: cdb, out_len bytes of data-out (at
 * DATA_GPA), in_len bytes of data-in (at DATA_GPA + 1 MiB). req_len and
 * resp_len are the header parts the chain offers. Returns the virtio
 * response byte, or -2 if the device asked for a reset. */
static int command_ex(unsigned target, unsigned lun, const uint8_t *cdb, size_t cdb_len, uint32_t out_len,
		      uint32_t in_len, uint32_t req_len, uint32_t resp_len, uint32_t *used)
{
	struct virtio_scsi_cmd_req req = {0};
	struct vqd_buf out[2], in[2];
	unsigned nout = 0, nin = 0;
	uint32_t len;

	req.lun[0] = 1;
	req.lun[1] = (uint8_t)target;
	req.lun[2] = (uint8_t)(0x40 | lun >> 8);
	req.lun[3] = (uint8_t)lun;
	req.tag = htole64(0x1234);
	memcpy(req.cdb, cdb, cdb_len);
	memcpy(ram + REQ_GPA, &req, sizeof(req));
	memset(ram + RESP_GPA, 0xee, 256);
	if (req_len)
		out[nout++] = (struct vqd_buf){REQ_GPA, req_len};
	if (out_len)
		out[nout++] = (struct vqd_buf){DATA_GPA, out_len};
	if (resp_len)
		in[nin++] = (struct vqd_buf){RESP_GPA, resp_len};
	if (in_len)
		in[nin++] = (struct vqd_buf){DATA_GPA + (1u << 20), in_len};
	ck_assert_int_eq(vqd_add(&reqq, out, nout, in, nin, (void *)1, false), 0);
	virtio_device_kick(&scsi->vdev, 2);
	if (scsi->vdev.status & VIRTIO_CONFIG_S_NEEDS_RESET)
		return -2;
	wait_used(&reqq, &len);
	if (used)
		*used = len;
	return resp()->response;
}

static int command(unsigned lun, const uint8_t *cdb, size_t cdb_len, uint32_t out_len, uint32_t in_len)
{
	return command_ex(0, lun, cdb, cdb_len, out_len, in_len, REQ_LEN, RESP_LEN, NULL);
}

static uint8_t *data_in(void) { return ram + DATA_GPA + (1u << 20); }

static void assert_sense(uint8_t key, uint16_t asc)
{
	uint8_t k;
	uint16_t a;
	ck_assert_uint_eq(resp()->status, SCSI_CHECK_CONDITION);
	ck_assert(scsi_sense_decode(resp()->sense, le32toh(resp()->sense_len), &k, &a));
	ck_assert_uint_eq(k, key);
	ck_assert_uint_eq(a, asc);
}

START_TEST(inquiry_and_serial)
{
	const uint8_t inq[6] = {0x12, 0, 0, 0, 96, 0}, vpd80[6] = {0x12, 1, 0x80, 0, 255, 0};
	uint32_t used;

	ck_assert_int_eq(command_ex(0, 0, inq, 6, 0, 96, REQ_LEN, RESP_LEN, &used), VIRTIO_SCSI_S_OK);
	ck_assert_uint_eq(resp()->status, SCSI_GOOD);
	ck_assert_uint_eq(le32toh(resp()->sense_len), 0);
	ck_assert_uint_eq(le32toh(resp()->resid), 96 - 36);
	ck_assert_uint_eq(used, RESP_LEN + 36);
	ck_assert_uint_eq(data_in()[0], 0);
	ck_assert_mem_eq(data_in() + 8, "SKIFF   ", 8);
	ck_assert_int_eq(command(0, vpd80, 6, 0, 255), VIRTIO_SCSI_S_OK);
	ck_assert_uint_eq(data_in()[3], 8);
	ck_assert_mem_eq(data_in() + 4, "SER-LUN0", 8);
}
END_TEST

START_TEST(read_write_through_chain)
{
	const uint8_t rd[10] = {0x28, 0, 0, 0, 0, 5, 0, 0, 2, 0}, wr[10] = {0x2a, 0, 0, 0, 0, 9, 0, 0, 1, 0};
	uint8_t buf[BS];

	ck_assert_int_eq(command(0, rd, 10, 0, 2 * BS), VIRTIO_SCSI_S_OK);
	ck_assert_uint_eq(resp()->status, SCSI_GOOD);
	ck_assert_uint_eq(le32toh(resp()->resid), 0);
	ck_assert_uint_eq(data_in()[0], 6);
	ck_assert_uint_eq(data_in()[BS], 7);
	memset(ram + DATA_GPA, 0x77, BS);
	ck_assert_int_eq(command(0, wr, 10, BS, 0), VIRTIO_SCSI_S_OK);
	ck_assert_uint_eq(resp()->status, SCSI_GOOD);
	int fd = open(image0, O_RDONLY);
	ck_assert_int_eq(pread(fd, buf, BS, 9 * BS), BS);
	close(fd);
	ck_assert_uint_eq(buf[0], 0x77);
	ck_assert_uint_eq(buf[BS - 1], 0x77);
}
END_TEST

START_TEST(second_lun_and_readonly)
{
	const uint8_t cap[10] = {0x25}, wr[10] = {0x2a, 0, 0, 0, 0, 1, 0, 0, 1, 0};
	const uint8_t luns[12] = {0xa0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0};

	ck_assert_int_eq(command(3, cap, 10, 0, 8), VIRTIO_SCSI_S_OK);
	ck_assert_uint_eq(data_in()[3], BLOCKS3 - 1);
	ck_assert_int_eq(command(3, wr, 10, BS, 0), VIRTIO_SCSI_S_OK);
	assert_sense(SENSE_DATA_PROTECT, ASC_WRITE_PROTECTED);
	ck_assert_uint_eq(le32toh(resp()->resid), BS); /* nothing of the data-out was taken */
	ck_assert_int_eq(command(0, luns, 12, 0, 64), VIRTIO_SCSI_S_OK);
	ck_assert_uint_eq(data_in()[3], 16);
	ck_assert_uint_eq(data_in()[9], 0);
	ck_assert_uint_eq(data_in()[17], 3);
}
END_TEST

START_TEST(missing_lun_and_target)
{
	const uint8_t inq[6] = {0x12, 0, 0, 0, 36, 0}, tur[6] = {0};

	ck_assert_int_eq(command(1, inq, 6, 0, 36), VIRTIO_SCSI_S_OK);
	ck_assert_uint_eq(resp()->status, SCSI_GOOD);
	ck_assert_uint_eq(data_in()[0], 0x7f);
	ck_assert_int_eq(command(1, tur, 6, 0, 0), VIRTIO_SCSI_S_OK);
	assert_sense(SENSE_ILLEGAL_REQUEST, ASC_LUN_NOT_SUPPORTED);
	ck_assert_int_eq(command(300, tur, 6, 0, 0), VIRTIO_SCSI_S_OK); /* past the LUNs we address */
	assert_sense(SENSE_ILLEGAL_REQUEST, ASC_LUN_NOT_SUPPORTED);
	ck_assert_int_eq(command_ex(1, 0, tur, 6, 0, 0, REQ_LEN, RESP_LEN, NULL), VIRTIO_SCSI_S_BAD_TARGET);
	/* LUN bytes not in the single-level format */
	memset(ram + REQ_GPA, 0, REQ_LEN);
	ram[REQ_GPA] = 2;
	struct vqd_buf out = {REQ_GPA, REQ_LEN}, in = {RESP_GPA, RESP_LEN};
	uint32_t len;
	ck_assert_int_eq(vqd_add(&reqq, &out, 1, &in, 1, (void *)1, false), 0);
	virtio_device_kick(&scsi->vdev, 2);
	wait_used(&reqq, &len);
	ck_assert_uint_eq(resp()->response, VIRTIO_SCSI_S_BAD_TARGET);
}
END_TEST

START_TEST(overrun_short_data_in)
{
	const uint8_t rd[10] = {0x28, 0, 0, 0, 0, 0, 0, 0, 4, 0};

	ck_assert_int_eq(command(0, rd, 10, 0, BS), VIRTIO_SCSI_S_OVERRUN);
}
END_TEST

START_TEST(sense_and_cdb_size_from_config)
{
	struct virtio_device *dev = &scsi->vdev;
	struct virtio_scsi_config c;
	uint32_t v = htole32(8);
	const uint8_t bad[6] = {0x01};
	const uint8_t rd[10] = {0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0};

	dev->ops->config_read(dev, 0, &c, sizeof(c));
	ck_assert_uint_eq(le32toh(c.num_queues), 1);
	ck_assert_uint_eq(le32toh(c.seg_max), VIRTIO_SCSI_SEG_MAX);
	ck_assert_uint_eq(le32toh(c.cdb_size), 32);
	ck_assert_uint_eq(le32toh(c.sense_size), 96);
	ck_assert_uint_eq(le16toh(c.max_target), 0);
	ck_assert_uint_eq(le32toh(c.max_lun), 255);
	/* num_queues is read-only */
	dev->ops->config_write(dev, offsetof(struct virtio_scsi_config, num_queues), &v, 4);
	dev->ops->config_read(dev, 0, &c, sizeof(c));
	ck_assert_uint_eq(le32toh(c.num_queues), 1);

	/* sense_size 8: the 18-byte fixed sense is cut to 8 */
	dev->ops->config_write(dev, offsetof(struct virtio_scsi_config, sense_size), &v, 4);
	ck_assert_int_eq(command_ex(0, 0, bad, 6, 0, 0, REQ_LEN, 12 + 8, NULL), VIRTIO_SCSI_S_OK);
	ck_assert_uint_eq(resp()->status, SCSI_CHECK_CONDITION);
	ck_assert_uint_eq(le32toh(resp()->sense_len), 8);
	ck_assert_uint_eq(resp()->sense[0], 0x70);
	ck_assert_uint_eq(resp()->sense[8], 0xee); /* nothing past the room */
	/* cdb_size 6: a 10-byte CDB cannot be carried */
	v = htole32(6);
	dev->ops->config_write(dev, offsetof(struct virtio_scsi_config, cdb_size), &v, 4);
	v = htole32(96);
	dev->ops->config_write(dev, offsetof(struct virtio_scsi_config, sense_size), &v, 4);
	ck_assert_int_eq(command_ex(0, 0, rd, 10, 0, BS, 19 + 6, RESP_LEN, NULL), VIRTIO_SCSI_S_OK);
	assert_sense(SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
	/* a reset puts both back */
	pthread_mutex_lock(&dev->lock);
	virtio_device_reset(dev);
	pthread_mutex_unlock(&dev->lock);
	dev->ops->config_read(dev, 0, &c, sizeof(c));
	ck_assert_uint_eq(le32toh(c.cdb_size), 32);
	ck_assert_uint_eq(le32toh(c.sense_size), 96);
}
END_TEST

START_TEST(bad_short_headers)
{
	const uint8_t tur[6] = {0};

	/* request header without its whole CDB */
	ck_assert_int_eq(command_ex(0, 0, tur, 6, 0, 0, 19, RESP_LEN, NULL), VIRTIO_SCSI_S_FAILURE);
	/* response with room for the fixed part but not the sense */
	ck_assert_int_eq(command_ex(0, 0, tur, 6, 0, 0, REQ_LEN, 12, NULL), VIRTIO_SCSI_S_FAILURE);
	/* no room for a response at all: the device needs a reset */
	ck_assert_int_eq(command_ex(0, 0, tur, 6, 0, 0, REQ_LEN, 11, NULL), -2);
}
END_TEST

START_TEST(bad_no_writable_part)
{
	const uint8_t tur[6] = {0};

	ck_assert_int_eq(command_ex(0, 0, tur, 6, 0, 0, REQ_LEN, 0, NULL), -2);
}
END_TEST

/* One control request: out bytes, in room; returns the used length. */
static uint32_t control(const void *req, uint32_t out_len, uint32_t in_len)
{
	struct vqd_buf out = {REQ_GPA, out_len}, in = {RESP_GPA, in_len};
	uint32_t len;

	memcpy(ram + REQ_GPA, req, out_len);
	memset(ram + RESP_GPA, 0xee, 16);
	ck_assert_int_eq(vqd_add(&ctrlq, &out, 1, &in, 1, (void *)1, false), 0);
	virtio_device_kick(&scsi->vdev, 0);
	wait_used(&ctrlq, &len);
	return len;
}

static uint8_t tmf(uint32_t subtype, unsigned target, unsigned lun, uint64_t tag)
{
	struct virtio_scsi_ctrl_tmf_req r = {.type = htole32(VIRTIO_SCSI_T_TMF), .subtype = htole32(subtype),
					     .lun = {1, (uint8_t)target, 0x40, (uint8_t)lun}, .tag = htole64(tag)};
	ck_assert_uint_eq(control(&r, sizeof(r), 1), 1);
	return ram[RESP_GPA];
}

START_TEST(task_management)
{
	const uint8_t sel[6 + 24] = {0x15, 0x10, 0, 0, 24, 0};

	ck_assert_uint_eq(tmf(VIRTIO_SCSI_T_TMF_ABORT_TASK, 0, 0, 99), VIRTIO_SCSI_S_OK); /* no such task: done */
	ck_assert_uint_eq(tmf(VIRTIO_SCSI_T_TMF_ABORT_TASK_SET, 0, 0, 0), VIRTIO_SCSI_S_OK);
	ck_assert_uint_eq(tmf(VIRTIO_SCSI_T_TMF_I_T_NEXUS_RESET, 0, 0, 0), VIRTIO_SCSI_S_OK);
	ck_assert_uint_eq(tmf(VIRTIO_SCSI_T_TMF_LOGICAL_UNIT_RESET, 0, 1, 0), VIRTIO_SCSI_S_INCORRECT_LUN);
	ck_assert_uint_eq(tmf(VIRTIO_SCSI_T_TMF_LOGICAL_UNIT_RESET, 5, 0, 0), VIRTIO_SCSI_S_BAD_TARGET);
	ck_assert_uint_eq(tmf(99, 0, 0, 0), VIRTIO_SCSI_S_FUNCTION_REJECTED);

	/* LUN reset puts WCE back on after MODE SELECT turned it off */
	uint8_t page[24] = {0, 0, 0, 0, 0x08, 0x12, 0};
	memcpy(ram + DATA_GPA, page, sizeof(page));
	ck_assert_int_eq(command(0, sel, 6, 24, 0), VIRTIO_SCSI_S_OK);
	ck_assert_uint_eq(resp()->status, SCSI_GOOD);
	const uint8_t sense[6] = {0x1a, 0x08, 0x08, 0, 255, 0};
	ck_assert_int_eq(command(0, sense, 6, 0, 255), VIRTIO_SCSI_S_OK);
	ck_assert_uint_eq(data_in()[6], 0x00);
	ck_assert_uint_eq(tmf(VIRTIO_SCSI_T_TMF_LOGICAL_UNIT_RESET, 0, 0, 0), VIRTIO_SCSI_S_OK);
	ck_assert_int_eq(command(0, sense, 6, 0, 255), VIRTIO_SCSI_S_OK);
	ck_assert_uint_eq(data_in()[6], 0x04);

	/* asynchronous notification: none supported */
	struct virtio_scsi_ctrl_an_req an = {.type = htole32(VIRTIO_SCSI_T_AN_QUERY), .lun = {1, 0, 0x40, 0},
					     .event_requested = htole32(0xffffffff)};
	ck_assert_uint_eq(control(&an, sizeof(an), 5), 5);
	ck_assert_uint_eq(le32toh(*(uint32_t *)(ram + RESP_GPA)), 0);
	ck_assert_uint_eq(ram[RESP_GPA + 4], VIRTIO_SCSI_S_OK);
	/* short or unknown control requests: nothing written, no crash */
	ck_assert_uint_eq(control(&an, 2, 5), 0);
	uint32_t unknown = htole32(77);
	ck_assert_uint_eq(control(&unknown, 4, 5), 0);
	ck_assert_uint_eq(control(&an, sizeof(an), 2), 0);
}
END_TEST

/* Nothing sends hotplug or parameter-change events: neither is offered. */
START_TEST(no_hotplug_or_change_offered)
{
	uint64_t f = scsi->vdev.ops->features(&scsi->vdev);
	ck_assert_uint_eq(f & (VIRTIO_FEATURE(VIRTIO_SCSI_F_HOTPLUG) | VIRTIO_FEATURE(VIRTIO_SCSI_F_CHANGE)), 0);
}
END_TEST

START_TEST(events)
{
	struct virtio_device *dev = &scsi->vdev;
	struct vqd_buf in = {EVENT_GPA, 16};
	struct virtio_scsi_event *ev = (struct virtio_scsi_event *)(ram + EVENT_GPA);
	uint32_t len;

	/* no buffer posted: the event is missed, and said so later */
	pthread_mutex_lock(&dev->lock);
	virtio_scsi_lun_event(scsi, 0, 3, false);
	pthread_mutex_unlock(&dev->lock);
	ck_assert_ptr_null(vqd_get_used(&eventq, &len));
	ck_assert_int_eq(vqd_add(&eventq, NULL, 0, &in, 1, (void *)1, false), 0);
	virtio_device_kick(dev, 1);
	wait_used(&eventq, &len);
	ck_assert_uint_eq(len, 16);
	ck_assert_uint_eq(le32toh(ev->event), VIRTIO_SCSI_T_TRANSPORT_RESET | VIRTIO_SCSI_T_EVENTS_MISSED);

	ck_assert_int_eq(vqd_add(&eventq, NULL, 0, &in, 1, (void *)1, false), 0);
	virtio_device_kick(dev, 1);
	ck_assert_ptr_null(vqd_get_used(&eventq, &len)); /* held until an event */
	pthread_mutex_lock(&dev->lock);
	virtio_scsi_lun_event(scsi, 0, 3, true);
	pthread_mutex_unlock(&dev->lock);
	wait_used(&eventq, &len);
	ck_assert_uint_eq(le32toh(ev->event), VIRTIO_SCSI_T_TRANSPORT_RESET);
	ck_assert_uint_eq(le32toh(ev->reason), VIRTIO_SCSI_EVT_RESET_REMOVED);
	ck_assert_uint_eq(ev->lun[0], 1);
	ck_assert_uint_eq(ev->lun[3], 3);
}
END_TEST

/* Many commands in flight at once, completed on backend threads. */
START_TEST(many_in_flight)
{
	enum { N = 20 }; /* 3 descriptors each: 60 of the 64 */
	struct vqd_buf out[N], in[N][2];
	uint32_t len;

	for (unsigned i = 0; i < N; i++) {
		struct virtio_scsi_cmd_req req = {.lun = {1, 0, 0x40, 0}, .tag = htole64(i),
						  .cdb = {0x28, 0, 0, 0, 0, (uint8_t)i, 0, 0, 1, 0}};
		memcpy(ram + REQ_GPA + i * 64, &req, sizeof(req));
		out[i] = (struct vqd_buf){REQ_GPA + i * 64, REQ_LEN};
		in[i][0] = (struct vqd_buf){RESP_GPA + i * 128, RESP_LEN};
		in[i][1] = (struct vqd_buf){DATA_GPA + i * BS, BS};
		ck_assert_int_eq(vqd_add(&reqq, &out[i], 1, in[i], 2, (void *)(uintptr_t)(i + 1), false), 0);
	}
	virtio_device_kick(&scsi->vdev, 2);
	for (unsigned n = 0; n < N; n++) {
		unsigned i = (unsigned)(uintptr_t)wait_used(&reqq, &len) - 1;
		ck_assert_uint_eq(len, RESP_LEN + BS);
		ck_assert_uint_eq(ram[RESP_GPA + i * 128 + 10], SCSI_GOOD);
		ck_assert_uint_eq(ram[DATA_GPA + i * BS], (uint8_t)(i + 1));
	}
}
END_TEST

/* ---- the command line: which line is a controller, which joins one ---- */

/* As vmm/options.c does: a line that fails frees what its keys allocated. */
static int parse_line(struct virtio_scsi_config_opts *c, const char *const *kv)
{
	char err[256];
	int ret = 0;

	memset(c, 0, sizeof(*c));
	for (; *kv && ret == 0; kv += 2) {
		const struct device_key *k = virtio_scsi_type.keys;
		while (k->name && strcmp(k->name, kv[0]) != 0)
			k++;
		ck_assert_ptr_nonnull(k->name);
		if (k->parse(c, kv[1], err, sizeof(err)) < 0)
			ret = -1;
	}
	if (ret == 0)
		ret = virtio_scsi_type.check(c, err, sizeof(err));
	if (ret < 0)
		device_config_free(&virtio_scsi_type, c);
	return ret;
}

START_TEST(command_line_rules)
{
	struct virtio_scsi_config_opts ctl, a, b, dup, bad;
	char err[256];

	ck_assert_int_eq(parse_line(&a, (const char *const[]){"path", image0, NULL}), 0);
	/* the first disk brings its controller */
	ck_assert_int_eq(virtio_scsi_type.join(NULL, &a, false, err, sizeof(err)), 0);
	ck_assert_uint_eq(a.nr_disks, 1);
	ck_assert_int_eq(parse_line(&b, (const char *const[]){"path", image3, "lun", "3", "serial", "X1", NULL}), 0);
	ck_assert_int_eq(virtio_scsi_type.join(&a, &b, false, err, sizeof(err)), 1);
	ck_assert_uint_eq(a.nr_disks, 2);
	ck_assert_uint_eq(a.disks[1].lun, 3);
	/* the same address twice */
	ck_assert_int_eq(parse_line(&dup, (const char *const[]){"path", image3, "lun", "3", NULL}), 0);
	ck_assert_int_eq(virtio_scsi_type.join(&a, &dup, false, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "target 0 LUN 3 already holds"));
	device_config_free(&virtio_scsi_type, &dup); /* refused: still its own */
	/* transport= on a joining disk */
	ck_assert_int_eq(parse_line(&dup, (const char *const[]){"path", image3, "lun", "4", NULL}), 0);
	ck_assert_int_eq(virtio_scsi_type.join(&a, &dup, true, err, sizeof(err)), -EINVAL);
	device_config_free(&virtio_scsi_type, &dup);
	/* a controller line stands alone */
	ck_assert_int_eq(parse_line(&ctl, (const char *const[]){"queues", "2", NULL}), 0);
	ck_assert_int_eq(virtio_scsi_type.join(&a, &ctl, true, err, sizeof(err)), 0);
	/* bad values */
	ck_assert_int_eq(parse_line(&bad, (const char *const[]){"path", image0, "lun", "256", NULL}), -1);
	ck_assert_int_eq(parse_line(&bad, (const char *const[]){"path", image0, "target", "-1", NULL}), -1);
	ck_assert_int_eq(parse_line(&bad, (const char *const[]){"path", "/nonexistent/disk.img", NULL}), -EINVAL);
	ck_assert_int_eq(parse_line(&bad, (const char *const[]){"lun", "2", NULL}), -EINVAL);
	ck_assert_int_eq(parse_line(&bad, (const char *const[]){"path", image0, "serial", "a b", NULL}), -1);
	device_config_free(&virtio_scsi_type, &ctl);
	device_config_free(&virtio_scsi_type, &a); /* its own disk and b's */
}
END_TEST

static Suite *scsi_suite(void)
{
	Suite *s = suite_create("virtio-scsi");
	TCase *tc = tcase_create("requests");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, inquiry_and_serial);
	tcase_add_test(tc, read_write_through_chain);
	tcase_add_test(tc, second_lun_and_readonly);
	tcase_add_test(tc, missing_lun_and_target);
	tcase_add_test(tc, overrun_short_data_in);
	tcase_add_test(tc, sense_and_cdb_size_from_config);
	tcase_add_test(tc, bad_short_headers);
	tcase_add_test(tc, bad_no_writable_part);
	tcase_add_test(tc, task_management);
	tcase_add_test(tc, events);
	tcase_add_test(tc, no_hotplug_or_change_offered);
	tcase_add_test(tc, many_in_flight);
	tcase_add_test(tc, command_line_rules);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return check_run_suite(scsi_suite());
}
