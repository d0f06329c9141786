/* Unit tests of snapshot=on (devices/block-overlay.c and its use by the
 * block backend) on real files: partial-cluster writes, reads spanning
 * written and unwritten clusters, discard and write-zeroes, the base
 * unchanged byte for byte, two overlays on one base, the short last
 * cluster, the bitmap's size, and the options snapshot=on refuses. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "devices/block-backend.h"
#include "devices/block-overlay.h"
#include "tests/unit/check-run.h"

#define C          BLK_OVERLAY_CLUSTER
#define BASE_SIZE  (16u * C + 4096) /* a short last cluster */

static char dir[64], image[96];
static uint8_t *pristine; /* the base's bytes as written by setup() */

/* A base whose every byte depends on its offset, so misplaced data shows. */
static uint8_t base_byte(uint64_t off) { return (uint8_t)(off * 7 + off / 4096 + 1); }

static void setup(void)
{
	strcpy(dir, "/var/tmp/skiff-overlay-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(image, sizeof(image), "%s/base.img", dir);
	pristine = malloc(BASE_SIZE);
	for (uint64_t i = 0; i < BASE_SIZE; i++)
		pristine[i] = base_byte(i);
	int fd = open(image, O_RDWR | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, pristine, BASE_SIZE), BASE_SIZE);
	close(fd);
	setenv("TMPDIR", dir, 1); /* the overlay's file, unlinked at once */
}

static void teardown(void)
{
	unlink(image);
	ck_assert_int_eq(rmdir(dir), 0); /* no overlay file left behind */
	free(pristine);
}

static void base_unchanged(void)
{
	uint8_t *now = malloc(BASE_SIZE);
	int fd = open(image, O_RDONLY);
	ck_assert_int_eq(read(fd, now, BASE_SIZE), BASE_SIZE);
	close(fd);
	ck_assert_msg(memcmp(now, pristine, BASE_SIZE) == 0, "the base image changed");
	free(now);
}

static int ov_rw(struct blk_overlay *ov, bool write, uint64_t off, void *buf, size_t len)
{
	struct iovec iov = {.iov_base = buf, .iov_len = len};
	return write ? blk_overlay_write(ov, &iov, 1, off, len) : blk_overlay_read(ov, &iov, 1, off, len);
}

static struct blk_overlay *overlay_on(int *base_fd)
{
	struct blk_overlay *ov = NULL;
	char err[256] = "";

	*base_fd = open(image, O_RDONLY);
	ck_assert_int_ge(*base_fd, 0);
	ck_assert_msg(blk_overlay_create(&ov, *base_fd, BASE_SIZE, err, sizeof(err)) == 0, "%s", err);
	return ov;
}

/* The whole disk as the overlay shows it equals `expect`. */
static void reads_as(struct blk_overlay *ov, const uint8_t *expect)
{
	uint8_t *got = malloc(BASE_SIZE);
	/* Two segments, split off a cluster boundary, to cross runs. */
	struct iovec iov[2] = {{got, 3 * C + 100}, {got + 3 * C + 100, BASE_SIZE - 3 * C - 100}};
	ck_assert_int_eq(blk_overlay_read(ov, iov, 2, 0, BASE_SIZE), 0);
	if (memcmp(got, expect, BASE_SIZE) != 0) {
		uint64_t i = 0;
		while (got[i] == expect[i])
			i++;
		ck_abort_msg("byte %llu: %u, expected %u", (unsigned long long)i, got[i], expect[i]);
	}
	free(got);
}

START_TEST(partial_cluster_writes_keep_the_rest)
{
	int base_fd;
	struct blk_overlay *ov = overlay_on(&base_fd);
	uint8_t *expect = malloc(BASE_SIZE), buf[3 * C];
	memcpy(expect, pristine, BASE_SIZE);

	/* 512 bytes in the middle of cluster 1; a write straddling clusters
	 * 3-5 unaligned at both ends; a whole cluster 8; the short tail. */
	memset(buf, 0xA1, 512);
	ck_assert_int_eq(ov_rw(ov, true, C + 1024, buf, 512), 0);
	memset(expect + C + 1024, 0xA1, 512);
	memset(buf, 0xB2, 2 * C + 10);
	ck_assert_int_eq(ov_rw(ov, true, 3 * C + C / 2, buf, 2 * C + 10), 0);
	memset(expect + 3 * C + C / 2, 0xB2, 2 * C + 10);
	memset(buf, 0xC3, C);
	ck_assert_int_eq(ov_rw(ov, true, 8 * C, buf, C), 0);
	memset(expect + 8 * C, 0xC3, C);
	memset(buf, 0xD4, 100);
	ck_assert_int_eq(ov_rw(ov, true, BASE_SIZE - 100, buf, 100), 0);
	memset(expect + BASE_SIZE - 100, 0xD4, 100);
	/* Again into cluster 1, now in the overlay: no copy-up, the first
	 * write's bytes stay. */
	memset(buf, 0xE5, 300);
	ck_assert_int_eq(ov_rw(ov, true, C + 1300, buf, 300), 0);
	memset(expect + C + 1300, 0xE5, 300);

	reads_as(ov, expect);
	ck_assert_uint_eq(blk_overlay_clusters_written(ov), 1 + 3 + 1 + 1);
	/* An unaligned read inside one written cluster and across a run. */
	uint8_t small[C];
	ck_assert_int_eq(ov_rw(ov, false, C + 1000, small, 600), 0);
	ck_assert_int_eq(memcmp(small, expect + C + 1000, 600), 0);
	ck_assert_int_eq(ov_rw(ov, false, 2 * C - 300, small, C), 0);
	ck_assert_int_eq(memcmp(small, expect + 2 * C - 300, C), 0);

	blk_overlay_free(ov);
	close(base_fd);
	base_unchanged();
	free(expect);
}
END_TEST

START_TEST(zeroes_over_written_and_unwritten_clusters)
{
	int base_fd;
	struct blk_overlay *ov = overlay_on(&base_fd);
	uint8_t *expect = malloc(BASE_SIZE), buf[C];
	memcpy(expect, pristine, BASE_SIZE);

	memset(buf, 0xEE, C);
	ck_assert_int_eq(ov_rw(ov, true, 2 * C, buf, C), 0);
	memset(expect + 2 * C, 0xEE, C);
	/* From inside cluster 1 (unwritten) over 2 (written) to inside 4. */
	ck_assert_int_eq(blk_overlay_zero(ov, C + 4096, 3 * C), 0);
	memset(expect + C + 4096, 0, 3 * C);
	/* All of cluster 10, never written: must not show the base. */
	ck_assert_int_eq(blk_overlay_zero(ov, 10 * C, C), 0);
	memset(expect + 10 * C, 0, C);
	reads_as(ov, expect);

	blk_overlay_free(ov);
	close(base_fd);
	base_unchanged();
	free(expect);
}
END_TEST

START_TEST(two_overlays_on_one_base)
{
	int fd1, fd2;
	struct blk_overlay *a = overlay_on(&fd1), *b = overlay_on(&fd2);
	uint8_t *expect_a = malloc(BASE_SIZE), *expect_b = malloc(BASE_SIZE), buf[C];
	memcpy(expect_a, pristine, BASE_SIZE);
	memcpy(expect_b, pristine, BASE_SIZE);

	memset(buf, 0x11, C);
	ck_assert_int_eq(ov_rw(a, true, 5 * C + 7, buf, C), 0);
	memset(expect_a + 5 * C + 7, 0x11, C);
	memset(buf, 0x22, 4096);
	ck_assert_int_eq(ov_rw(b, true, 5 * C + 4096, buf, 4096), 0);
	memset(expect_b + 5 * C + 4096, 0x22, 4096);
	reads_as(a, expect_a);
	reads_as(b, expect_b);

	blk_overlay_free(a);
	blk_overlay_free(b);
	close(fd1);
	close(fd2);
	base_unchanged();
	free(expect_a);
	free(expect_b);
}
END_TEST

START_TEST(bitmap_is_a_bit_per_cluster)
{
	int base_fd = open(image, O_RDONLY);
	struct blk_overlay *ov = NULL;
	char err[256];
	const uint64_t one_tib = 1ull << 40;

	/* A 1 TiB overlay (sparse: no blocks) over a small base costs 2 MiB. */
	ck_assert_int_eq(blk_overlay_create(&ov, base_fd, one_tib, err, sizeof(err)), 0);
	ck_assert_uint_eq(blk_overlay_bitmap_bytes(ov), one_tib / C / 8);
	blk_overlay_free(ov);
	close(base_fd);
}
END_TEST

/* ---- through the block backend ---- */

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static int result;
static bool finished;

static void on_done(struct blk_io *io, int res)
{
	(void)io;
	pthread_mutex_lock(&lock);
	result = res;
	finished = true;
	pthread_cond_broadcast(&cond);
	pthread_mutex_unlock(&lock);
}

static unsigned finished_count;

static void on_done_count(struct blk_io *io, int res)
{
	(void)io;
	ck_assert_int_eq(res, 0);
	pthread_mutex_lock(&lock);
	finished_count++;
	pthread_cond_broadcast(&cond);
	pthread_mutex_unlock(&lock);
}

static int backend_io(struct blk_backend *b, enum blk_op op, uint64_t off, void *buf, size_t len)
{
	struct iovec iov = {.iov_base = buf, .iov_len = len};
	struct blk_io io = {.op = op, .offset = off, .len = len, .iov = &iov, .iovcnt = 1, .done = on_done};

	finished = false;
	int ret = blk_backend_submit(b, &io);
	if (ret < 0)
		return ret;
	pthread_mutex_lock(&lock);
	while (!finished)
		pthread_cond_wait(&cond, &lock);
	pthread_mutex_unlock(&lock);
	return result;
}

static int open_snapshot(struct blk_backend **b, enum blk_engine engine, enum blk_cache cache, bool readonly,
			 char *err)
{
	struct blk_backend_options opt = {.path = image, .snapshot = true, .readonly = readonly, .cache = cache,
					  .engine = engine};
	return blk_backend_open(b, &opt, err, 256);
}

START_TEST(backend_snapshot_end_to_end)
{
	struct blk_backend *b1, *b2, *writer;
	char err[256] = "";
	uint8_t buf[8192];

	ck_assert_msg(open_snapshot(&b1, BLK_ENGINE_AUTO, BLK_CACHE_WRITEBACK, false, err) == 0, "%s", err);
	ck_assert_msg(open_snapshot(&b2, BLK_ENGINE_THREADS, BLK_CACHE_UNSAFE, false, err) == 0, "%s", err);
	ck_assert_str_eq(blk_backend_engine_name(b1), "threads");
	ck_assert(!blk_backend_readonly(b1));
	ck_assert_ptr_nonnull(blk_backend_overlay(b1));
	/* The base is shared-locked: a writer is kept out while snapshots run. */
	struct blk_backend_options wopt = {.path = image};
	ck_assert_int_eq(blk_backend_open(&writer, &wopt, err, sizeof(err)), -EBUSY);

	memset(buf, 0x5A, sizeof(buf));
	ck_assert_int_eq(backend_io(b1, BLK_OP_WRITE, 512, buf, sizeof(buf)), 0);
	ck_assert_int_eq(backend_io(b1, BLK_OP_FLUSH, 0, NULL, 0), 0);
	memset(buf, 0, sizeof(buf));
	ck_assert_int_eq(backend_io(b1, BLK_OP_READ, 0, buf, sizeof(buf)), 0);
	ck_assert_int_eq(memcmp(buf, pristine, 512), 0);
	for (unsigned i = 512; i < sizeof(buf); i++)
		ck_assert_uint_eq(buf[i], 0x5A);
	ck_assert_int_eq(backend_io(b2, BLK_OP_READ, 0, buf, sizeof(buf)), 0);
	ck_assert_int_eq(memcmp(buf, pristine, sizeof(buf)), 0);
	ck_assert_int_eq(backend_io(b2, BLK_OP_DISCARD, 0, NULL, 4096), 0);
	ck_assert_int_eq(backend_io(b2, BLK_OP_READ, 0, buf, 4096), 0);
	for (unsigned i = 0; i < 4096; i++)
		ck_assert_uint_eq(buf[i], 0);
	/* Past the end is refused as on any disk. */
	ck_assert_int_eq(backend_io(b1, BLK_OP_WRITE, BASE_SIZE, buf, 512), -EINVAL);

	blk_backend_close(b1);
	blk_backend_close(b2);
	base_unchanged();
}
END_TEST

/* 16 writes into different parts of one cluster, in flight together on
 * the backend's four worker threads: each needs the cluster copied up,
 * and none may copy the base over another's data. */
START_TEST(concurrent_partial_writes_to_one_cluster)
{
	enum { N = 16, PART = 2048 };
	static uint8_t bufs[N][PART];
	static struct iovec iovs[N];
	static struct blk_io ios[N];
	struct blk_backend *b;
	char err[256] = "";

	for (unsigned round = 0; round < 20; round++) {
		ck_assert_msg(open_snapshot(&b, BLK_ENGINE_THREADS, BLK_CACHE_WRITEBACK, false, err) == 0, "%s", err);
		pthread_mutex_lock(&lock);
		finished_count = 0;
		pthread_mutex_unlock(&lock);
		for (unsigned i = 0; i < N; i++) {
			memset(bufs[i], 0x40 + i, PART);
			iovs[i] = (struct iovec){bufs[i], PART};
			/* every other 2 KiB slot of cluster 7, so base bytes stay between them */
			ios[i] = (struct blk_io){.op = BLK_OP_WRITE, .offset = 7 * C + 2 * i * PART, .iov = &iovs[i],
						 .iovcnt = 1, .done = on_done_count};
			ck_assert_int_eq(blk_backend_submit(b, &ios[i]), 0);
		}
		pthread_mutex_lock(&lock);
		while (finished_count < N)
			pthread_cond_wait(&cond, &lock);
		pthread_mutex_unlock(&lock);
		uint8_t got[C];
		ck_assert_int_eq(backend_io(b, BLK_OP_READ, 7 * C, got, C), 0);
		for (unsigned i = 0; i < N; i++) {
			ck_assert_msg(memcmp(got + 2 * i * PART, bufs[i], PART) == 0, "round %u: write %u lost", round, i);
			ck_assert_msg(memcmp(got + (2 * i + 1) * PART, pristine + 7 * C + (2 * i + 1) * PART, PART) == 0,
				      "round %u: base bytes after write %u lost", round, i);
		}
		blk_backend_close(b);
	}
	base_unchanged();
}
END_TEST

START_TEST(backend_snapshot_refusals)
{
	struct blk_backend *b = NULL;
	char err[256] = "";

	ck_assert_int_eq(open_snapshot(&b, BLK_ENGINE_IO_URING, BLK_CACHE_WRITEBACK, false, err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "aio=auto or aio=threads"));
	ck_assert_int_eq(open_snapshot(&b, BLK_ENGINE_AUTO, BLK_CACHE_NONE, false, err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "cache=none"));
	ck_assert_int_eq(open_snapshot(&b, BLK_ENGINE_AUTO, BLK_CACHE_WRITEBACK, true, err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "readonly=on"));
	/* A TMPDIR that does not exist: one line naming it. */
	setenv("TMPDIR", "/nonexistent-skiff-dir", 1);
	ck_assert_int_lt(open_snapshot(&b, BLK_ENGINE_AUTO, BLK_CACHE_WRITEBACK, false, err), 0);
	ck_assert_ptr_nonnull(strstr(err, "/nonexistent-skiff-dir"));
}
END_TEST

static Suite *block_overlay_suite(void)
{
	Suite *s = suite_create("block-overlay");
	TCase *tc = tcase_create("overlay");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30); /* a hang guard: 20 backend opens on a loaded host */
	tcase_add_test(tc, partial_cluster_writes_keep_the_rest);
	tcase_add_test(tc, zeroes_over_written_and_unwritten_clusters);
	tcase_add_test(tc, two_overlays_on_one_base);
	tcase_add_test(tc, bitmap_is_a_bit_per_cluster);
	tcase_add_test(tc, backend_snapshot_end_to_end);
	tcase_add_test(tc, concurrent_partial_writes_to_one_cluster);
	tcase_add_test(tc, backend_snapshot_refusals);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return check_run_suite(block_overlay_suite());
}
