/* Unit tests of virtio-balloon, driven through the driver-side virtqueue
 * code (virtqueue/driver.c) as the Linux driver would: inflate releases
 * pages (they read back as zero), deflate, PFNs outside guest RAM or in
 * the hole between its two regions are ignored, duplicates are harmless,
 * the stats buffer is held and handed back, free page reporting, the
 * queue numbering that depends on the features, config space, reset. */
#include <check.h>
#include "tests/unit/check-run.h"
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <linux/virtio_config.h>

#include "devices/virtio-balloon.h"
#include "virtqueue/driver.h"

#define REGION_SIZE (1u << 20)        /* two 1 MiB regions ... */
#define HIGH_GPA    (1ull << 32)      /* ... at 0 and at 4 GiB: a hole between */
#define QSIZE       16
#define RING_GPA    (768u << 10)      /* rings and buffers in the top quarter of region 0 */
#define BUF_GPA     (960u << 10)
#define GUARD       4096u             /* host memory right after region 0: must stay intact */
#define GUARD_BYTE  0xa5

static uint8_t *low, *high;
static struct guest_mem mem;
static struct virtio_balloon b;
static struct vqd vq[VIRTIO_BALLOON_MAX_QUEUES];

static void setup(void)
{
	/* Anonymous private mappings, like guest RAM (kvm/kvm.c). */
	low = mmap(NULL, REGION_SIZE + GUARD, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	high = mmap(NULL, REGION_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ck_assert(low != MAP_FAILED && high != MAP_FAILED);
	memset(low + REGION_SIZE, GUARD_BYTE, GUARD);
	mem = (struct guest_mem){ .region = { { .gpa = 0, .size = REGION_SIZE, .host = low },
					      { .gpa = HIGH_GPA, .size = REGION_SIZE, .host = high } },
				  .nr_regions = 2 };
}

static void teardown(void)
{
	for (unsigned i = 0; i < GUARD; i++)
		ck_assert_uint_eq(low[REGION_SIZE + i], GUARD_BYTE);
	munmap(low, REGION_SIZE + GUARD);
	munmap(high, REGION_SIZE);
}

/* What the transport would do for a driver that negotiated features. */
static void start(bool deflate_on_oom, bool reporting, uint64_t features)
{
	struct balloon_options opts = { .deflate_on_oom = deflate_on_oom, .free_page_reporting = reporting };
	struct virtio_device *dev = &b.vdev;

	virtio_balloon_init(&b, "virtio-balloon0", &mem, &opts);
	dev->offered = dev->ops->features(dev) | VIRTIO_FEATURE(VIRTIO_F_VERSION_1);
	ck_assert_uint_eq(features & ~dev->offered, 0);
	dev->features = features | VIRTIO_FEATURE(VIRTIO_F_VERSION_1);
	dev->status = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK |
		      VIRTIO_CONFIG_S_DRIVER_OK;
	for (unsigned q = 0; q < VIRTIO_BALLOON_MAX_QUEUES; q++) {
		uint64_t ring = RING_GPA + q * (vqd_mem_size(QSIZE, false) + 4095) / 4096 * 4096;
		ck_assert_int_eq(vqd_init_split(&vq[q], QSIZE, low + ring, ring, 0), 0);
		dev->vqs[q].size = QSIZE;
		dev->vqs[q].desc_addr = vq[q].desc_gpa;
		dev->vqs[q].avail_addr = vq[q].avail_gpa;
		dev->vqs[q].used_addr = vq[q].used_gpa;
		ck_assert_int_eq(virtio_device_enable_queue(dev, q), 0);
	}
}

/* Send a PFN list on queue q (no kick eventfd: served inline). */
static void send_pfns(unsigned q, const uint32_t *pfns, unsigned n)
{
	memcpy(low + BUF_GPA, pfns, n * 4);
	struct vqd_buf out = { .addr = BUF_GPA, .len = n * 4 };
	ck_assert_int_eq(vqd_add(&vq[q], &out, 1, NULL, 0, &vq[q], false), 0);
	virtio_device_kick(&b.vdev, q);
	uint32_t len;
	ck_assert_ptr_eq(vqd_get_used(&vq[q], &len), &vq[q]);
}

static void fill_page(uint8_t *host, uint8_t v)
{
	memset(host, v, 4096);
}

static bool page_is(const uint8_t *host, uint8_t v)
{
	for (unsigned i = 0; i < 4096; i++)
		if (host[i] != v)
			return false;
	return true;
}

START_TEST(inflate_releases_checked_pages)
{
	start(false, false, 0);
	for (unsigned p = 10; p < 16; p++)
		fill_page(low + p * 4096, 0xa5);
	fill_page(high, 0x5a);
	const uint32_t pfns[] = {
		10, 11, 12,             /* a run of three */
		11,                     /* a duplicate */
		14,                     /* alone */
		REGION_SIZE / 4096,     /* just past region 0: the hole */
		0x80000,                /* 2 GiB: the hole */
		HIGH_GPA / 4096,        /* region 1's first page */
		(HIGH_GPA + REGION_SIZE) / 4096, /* just past the end of RAM */
		0xffffffff,
	};
	send_pfns(0, pfns, sizeof(pfns) / 4);
	ck_assert(page_is(low + 10 * 4096, 0));
	ck_assert(page_is(low + 11 * 4096, 0));
	ck_assert(page_is(low + 12 * 4096, 0));
	ck_assert(page_is(low + 13 * 4096, 0xa5)); /* not ballooned: untouched */
	ck_assert(page_is(low + 14 * 4096, 0));
	ck_assert(page_is(low + 15 * 4096, 0xa5));
	ck_assert(page_is(high, 0));
	ck_assert(page_is(high + 4096, 0));         /* never filled: zero anyway */
	struct virtio_balloon_info info;
	virtio_balloon_get_info(&b, &info);
	ck_assert_uint_eq(info.pages_released, 6);  /* 10, 11, 12, 11, 14, high */
	ck_assert_uint_eq(info.bad_pfns, 4);
	ck_assert_uint_eq(b.vdev.stats.errors, 4);
	ck_assert_uint_eq(b.vdev.stats.requests, 1);
	ck_assert_uint_eq(b.vdev.stats.bytes, sizeof(pfns));

	/* Deflate: the pages are the guest's again (it may write them). */
	const uint32_t back[] = { 10, 11, 0x80000 };
	send_pfns(1, back, 3);
	virtio_balloon_get_info(&b, &info);
	ck_assert_uint_eq(info.pages_deflated, 2);
	ck_assert_uint_eq(info.bad_pfns, 5);
	fill_page(low + 10 * 4096, 0x11);
	ck_assert(page_is(low + 10 * 4096, 0x11));
}
END_TEST

START_TEST(truncated_pfn_buffer)
{
	start(false, false, 0);
	fill_page(low + 20 * 4096, 0xa5);
	fill_page(low + 21 * 4096, 0xa5);
	/* 6 bytes: one whole PFN and half of another, which is ignored. */
	const uint32_t pfns[] = { 20, 21 };
	memcpy(low + BUF_GPA, pfns, 8);
	struct vqd_buf out = { .addr = BUF_GPA, .len = 6 };
	ck_assert_int_eq(vqd_add(&vq[0], &out, 1, NULL, 0, &vq[0], false), 0);
	virtio_device_kick(&b.vdev, 0);
	uint32_t len;
	ck_assert_ptr_eq(vqd_get_used(&vq[0], &len), &vq[0]);
	ck_assert(page_is(low + 20 * 4096, 0));
	ck_assert(page_is(low + 21 * 4096, 0xa5));
}
END_TEST

static void put_stat(uint8_t *p, uint16_t tag, uint64_t val)
{
	memcpy(p, &tag, 2);
	memcpy(p + 2, &val, 8);
}

START_TEST(stats_buffer_held_and_returned)
{
	start(false, false, VIRTIO_FEATURE(VIRTIO_BALLOON_F_STATS_VQ));
	uint8_t *p = low + BUF_GPA;
	put_stat(p, VIRTIO_BALLOON_S_MEMFREE, 123456789);
	put_stat(p + 10, VIRTIO_BALLOON_S_MEMTOT, 512ull << 20);
	put_stat(p + 20, 77, 5); /* a tag this host does not know */
	struct vqd_buf out = { .addr = BUF_GPA, .len = 30 };
	ck_assert_int_eq(vqd_add(&vq[2], &out, 1, NULL, 0, &vq[2], false), 0);
	virtio_device_kick(&b.vdev, 2);
	uint32_t len;
	ck_assert_ptr_null(vqd_get_used(&vq[2], &len)); /* held by the device */
	struct virtio_balloon_info info;
	virtio_balloon_get_info(&b, &info);
	ck_assert_uint_eq(info.nr_stats, 3);
	ck_assert_uint_eq(info.stat_tag[0], VIRTIO_BALLOON_S_MEMFREE);
	ck_assert_uint_eq(info.stat_val[0], 123456789);
	ck_assert_str_eq(virtio_balloon_stat_name(info.stat_tag[0]), "free-memory");
	ck_assert_uint_eq(info.stat_val[1], 512ull << 20);
	ck_assert_ptr_null(virtio_balloon_stat_name(77));
	ck_assert_int_ge(info.stats_age_ms, 0);
	/* The device wants new numbers: the buffer goes back. */
	virtio_balloon_request_stats(&b);
	ck_assert_ptr_eq(vqd_get_used(&vq[2], &len), &vq[2]);
	virtio_balloon_request_stats(&b); /* nothing held: nothing happens */
	ck_assert_ptr_null(vqd_get_used(&vq[2], &len));
	/* The driver refills and sends it again; a reset lets go of it. */
	put_stat(p, VIRTIO_BALLOON_S_MEMFREE, 42);
	ck_assert_int_eq(vqd_add(&vq[2], &out, 1, NULL, 0, &vq[2], false), 0);
	virtio_device_kick(&b.vdev, 2);
	virtio_balloon_get_info(&b, &info);
	ck_assert_uint_eq(info.stat_val[0], 42);
	ck_assert_uint_eq(b.vdev.inflight, 1);
	pthread_mutex_lock(&b.vdev.lock);
	virtio_device_reset(&b.vdev); /* would wait forever on a held request */
	pthread_mutex_unlock(&b.vdev.lock);
	ck_assert_uint_eq(b.vdev.inflight, 0);
}
END_TEST

/* Linux kicks the stats queue before DRIVER_OK: the buffer must still be
 * taken when the driver sets DRIVER_OK. */
/* Point queue q at the driver's rings in d and start it (as the
 * transport does when the driver enables the queue). */
static void queue_enable_at(unsigned q, uint16_t size, const struct vqd *d)
{
	struct virtqueue *v = &b.vdev.vqs[q];

	v->size = size;
	v->desc_addr = d->desc_gpa;
	v->avail_addr = d->avail_gpa;
	v->used_addr = d->used_gpa;
	ck_assert_int_eq(virtio_device_enable_queue(&b.vdev, q), 0);
}

/* Issue 17's reproducer, on the device it was found with: the statistics
 * buffer, a chain of 15 descriptors on a packed queue of 16, is held by
 * the device; the driver stops the queue (MMIO QueueReady=0 or PFN=0 end
 * in virtio_device_disable_queue), restarts it as one slot in the last 16
 * bytes of RAM, the device hands the old buffer back and then serves a
 * new one. Nothing outside the new ring may change. */
START_TEST(stats_held_across_queue_restart)
{
	struct virtio_device *dev = &b.vdev;
	const uint64_t tail = REGION_SIZE - 16; /* the one-slot ring */
	uint64_t ring;                          /* the driver's queue memory */
	struct vqd_buf out[15];
	uint8_t *before = malloc(REGION_SIZE + GUARD);
	uint32_t len;

	ck_assert_ptr_nonnull(before);
	start(false, false, VIRTIO_FEATURE(VIRTIO_BALLOON_F_STATS_VQ));
	ring = vq[2].desc_gpa;
	ck_assert_uint_gt(ring, 0);
	dev->features |= VIRTIO_FEATURE(VIRTIO_F_RING_PACKED);
	virtio_device_disable_queue(dev, 2);
	ck_assert_int_eq(vqd_init_packed(&vq[2], QSIZE, low + ring, ring, 0), 0);
	queue_enable_at(2, QSIZE, &vq[2]);
	ck_assert(dev->vqs[2].packed);
	for (unsigned i = 0; i < 15; i++) {
		put_stat(low + BUF_GPA + 10 * i, VIRTIO_BALLOON_S_MEMFREE, i);
		out[i] = (struct vqd_buf){ .addr = BUF_GPA + 10 * i, .len = 10 };
	}
	ck_assert_int_eq(vqd_add(&vq[2], out, 15, NULL, 0, (void *)1, false), 0);
	virtio_device_kick(dev, 2);
	ck_assert_uint_eq(dev->inflight, 1); /* held */

	virtio_device_disable_queue(dev, 2);
	ck_assert_int_eq(vqd_init_packed(&vq[2], 1, low + ring, ring, 0), 0);
	vq[2].desc = low + tail;
	vq[2].desc_gpa = tail;
	memset(low + tail, 0, 16);
	queue_enable_at(2, 1, &vq[2]);
	memcpy(before, low, REGION_SIZE + GUARD);

	virtio_balloon_request_stats(&b); /* the old buffer goes back */
	ck_assert_int_eq(vqd_add(&vq[2], out, 1, NULL, 0, (void *)2, false), 0);
	virtio_device_kick(dev, 2);
	virtio_balloon_request_stats(&b); /* and the new one */

	ck_assert_int_eq(memcmp(before + REGION_SIZE, low + REGION_SIZE, GUARD), 0);
	ck_assert_int_eq(memcmp(before, low, ring), 0);
	ck_assert_int_eq(memcmp(before + ring + vqd_mem_size(1, true), low + ring + vqd_mem_size(1, true),
				tail - ring - vqd_mem_size(1, true)),
			 0);
	ck_assert_uint_lt(dev->vqs[2].used_idx, dev->vqs[2].size);
	ck_assert_ptr_eq(vqd_get_used(&vq[2], &len), (void *)2);
	ck_assert_ptr_null(vqd_get_used(&vq[2], &len));
	ck_assert(!vq[2].broken);
	ck_assert_uint_eq(dev->status & VIRTIO_CONFIG_S_NEEDS_RESET, 0);
	ck_assert_uint_eq(dev->inflight, 0);
	free(before);
}
END_TEST

START_TEST(stats_kick_before_driver_ok)
{
	start(false, false, VIRTIO_FEATURE(VIRTIO_BALLOON_F_STATS_VQ));
	b.vdev.status &= ~VIRTIO_CONFIG_S_DRIVER_OK;
	put_stat(low + BUF_GPA, VIRTIO_BALLOON_S_MEMFREE, 777);
	struct vqd_buf out = { .addr = BUF_GPA, .len = 10 };
	ck_assert_int_eq(vqd_add(&vq[2], &out, 1, NULL, 0, &vq[2], false), 0);
	virtio_device_kick(&b.vdev, 2); /* ignored: not live yet */
	struct virtio_balloon_info info;
	virtio_balloon_get_info(&b, &info);
	ck_assert_uint_eq(info.nr_stats, 0);
	pthread_mutex_lock(&b.vdev.lock);
	virtio_device_set_status(&b.vdev, b.vdev.status | VIRTIO_CONFIG_S_DRIVER_OK);
	pthread_mutex_unlock(&b.vdev.lock);
	virtio_balloon_get_info(&b, &info);
	ck_assert_uint_eq(info.nr_stats, 1);
	ck_assert_uint_eq(info.stat_val[0], 777);
}
END_TEST

START_TEST(free_page_reporting)
{
	start(false, true, VIRTIO_FEATURE(VIRTIO_BALLOON_F_STATS_VQ) | VIRTIO_FEATURE(VIRTIO_BALLOON_F_REPORTING));
	for (unsigned p = 100; p < 104; p++)
		fill_page(low + p * 4096, 0xcc);
	/* Two free blocks, one of them not page-aligned at its ends. */
	struct vqd_buf in[2] = { { .addr = 100 * 4096, .len = 2 * 4096 },
				 { .addr = 102 * 4096 + 100, .len = 2 * 4096 - 100 } };
	ck_assert_int_eq(vqd_add(&vq[3], NULL, 0, in, 2, &vq[3], false), 0);
	virtio_device_kick(&b.vdev, 3);
	uint32_t len;
	ck_assert_ptr_eq(vqd_get_used(&vq[3], &len), &vq[3]);
	ck_assert_uint_eq(len, 0);
	ck_assert(page_is(low + 100 * 4096, 0));
	ck_assert(page_is(low + 101 * 4096, 0));
	ck_assert_uint_eq(low[102 * 4096 + 99], 0xcc); /* partial page: kept */
	ck_assert(page_is(low + 103 * 4096, 0));
	struct virtio_balloon_info info;
	virtio_balloon_get_info(&b, &info);
	ck_assert_uint_eq(info.bytes_reported, 3 * 4096);
}
END_TEST

START_TEST(queue_roles_follow_features)
{
	uint64_t st = VIRTIO_FEATURE(VIRTIO_BALLOON_F_STATS_VQ), rep = VIRTIO_FEATURE(VIRTIO_BALLOON_F_REPORTING);
	ck_assert_int_eq(virtio_balloon_queue_role(0, 0), BALLOON_Q_INFLATE);
	ck_assert_int_eq(virtio_balloon_queue_role(0, 1), BALLOON_Q_DEFLATE);
	ck_assert_int_eq(virtio_balloon_queue_role(0, 2), BALLOON_Q_NONE);
	ck_assert_int_eq(virtio_balloon_queue_role(st, 2), BALLOON_Q_STATS);
	ck_assert_int_eq(virtio_balloon_queue_role(rep, 2), BALLOON_Q_REPORTING);
	ck_assert_int_eq(virtio_balloon_queue_role(st | rep, 2), BALLOON_Q_STATS);
	ck_assert_int_eq(virtio_balloon_queue_role(st | rep, 3), BALLOON_Q_REPORTING);
	ck_assert_int_eq(virtio_balloon_queue_role(st, 3), BALLOON_Q_NONE);
	/* Without STATS_VQ the reporting queue is the third one. */
	start(false, true, rep);
	fill_page(low + 50 * 4096, 0xcc);
	struct vqd_buf in = { .addr = 50 * 4096, .len = 4096 };
	ck_assert_int_eq(vqd_add(&vq[2], NULL, 0, &in, 1, &vq[2], false), 0);
	virtio_device_kick(&b.vdev, 2);
	ck_assert(page_is(low + 50 * 4096, 0));
}
END_TEST

START_TEST(features_and_config)
{
	start(true, true, 0);
	uint64_t f = b.vdev.ops->features(&b.vdev);
	ck_assert(f & VIRTIO_FEATURE(VIRTIO_BALLOON_F_STATS_VQ));
	ck_assert(f & VIRTIO_FEATURE(VIRTIO_BALLOON_F_DEFLATE_ON_OOM));
	ck_assert(f & VIRTIO_FEATURE(VIRTIO_BALLOON_F_REPORTING));
	start(false, false, 0);
	f = b.vdev.ops->features(&b.vdev);
	ck_assert(!(f & VIRTIO_FEATURE(VIRTIO_BALLOON_F_DEFLATE_ON_OOM)));
	ck_assert(!(f & VIRTIO_FEATURE(VIRTIO_BALLOON_F_REPORTING)));

	virtio_balloon_set_target(&b, 65536);
	uint32_t v = 0;
	b.vdev.ops->config_read(&b.vdev, 0, &v, 4);
	ck_assert_uint_eq(v, 65536);
	ck_assert_uint_eq(b.vdev.config_generation, 1);
	v = 1000;
	b.vdev.ops->config_write(&b.vdev, 4, &v, 4);
	b.vdev.ops->config_write(&b.vdev, 0, &v, 4); /* num_pages is the host's: ignored */
	uint8_t bytes[16];
	b.vdev.ops->config_read(&b.vdev, 0, bytes, 16);
	memcpy(&v, bytes, 4);
	ck_assert_uint_eq(v, 65536);
	memcpy(&v, bytes + 4, 4);
	ck_assert_uint_eq(v, 1000);
	uint8_t hi = 0x01; /* a byte write to actual's second byte */
	b.vdev.ops->config_write(&b.vdev, 5, &hi, 1);
	struct virtio_balloon_info info;
	virtio_balloon_get_info(&b, &info);
	ck_assert_uint_eq(info.actual_pages, (1000 & ~0xff00u) | 0x100);
	ck_assert_uint_eq(info.target_pages, 65536);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("balloon");
	TCase *tc = tcase_create("balloon");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, inflate_releases_checked_pages);
	tcase_add_test(tc, truncated_pfn_buffer);
	tcase_add_test(tc, stats_buffer_held_and_returned);
	tcase_add_test(tc, stats_held_across_queue_restart);
	tcase_add_test(tc, stats_kick_before_driver_ok);
	tcase_add_test(tc, free_page_reporting);
	tcase_add_test(tc, queue_roles_follow_features);
	tcase_add_test(tc, features_and_config);
	suite_add_tcase(s, tc);
	return check_run_suite(s);
}
