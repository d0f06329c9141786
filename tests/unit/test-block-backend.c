/* Unit tests of the block backend (devices/block-backend.c) on real files
 * in a temporary directory, on both engines (io_uring and the worker
 * pool): reads and writes in flight together (submitted one by one, or
 * queued and started by an unplug), short and unaligned
 * buffers, cache=none bounce buffers, flush, discard freeing host blocks,
 * write-zeroes, range and read-only refusals, the image lock, the bound on
 * bounce memory, an io_uring that fails under the reaper, and io_uring
 * completions reaped on a reactor (as in skiff) instead of a reaper
 * thread, also when close() comes after the reactor stopped. */
#include <check.h>
#include <time.h>
#include "tests/unit/check-run.h"
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <liburing.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "devices/block-backend.h"
#include "base/reactor.h"
#include "tests/unit/alloc-watch.h"

#define IMAGE_SIZE (4u << 20)
#define NR_IOS     64
#define IO_SIZE    (16u << 10)

static char dir[64], image[96];

static void setup(void)
{
	strcpy(dir, "/var/tmp/skiff-blkbe-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(image, sizeof(image), "%s/disk.img", dir);
	int fd = open(image, O_RDWR | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, IMAGE_SIZE), 0);
	close(fd);
}

static void teardown(void)
{
	unlink(image);
	rmdir(dir);
}

/* ---- completions ---- */

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static unsigned completed, batches, covered; /* covered: completions a batch end came after */
static int last_result;
/* With a reactor: done() may run on it or on the test's own thread (a
 * request finished inside its unplug), nowhere else (no reaper thread). */
static struct reactor *use_reactor;
static pthread_t test_thread;
static unsigned strays;

static void on_done(struct blk_io *io, int result)
{
	pthread_mutex_lock(&lock);
	if (use_reactor && !pthread_equal(pthread_self(), use_reactor->thread) &&
	    !pthread_equal(pthread_self(), test_thread))
		strays++;
	completed++;
	if (result)
		last_result = result;
	*(int *)io->opaque = result;
	pthread_cond_broadcast(&cond);
	pthread_mutex_unlock(&lock);
}

static void on_batch(void *opaque)
{
	pthread_mutex_lock(&lock);
	batches++;
	covered = completed;
	pthread_cond_broadcast(&cond);
	pthread_mutex_unlock(&lock);
}

static void wait_completed(unsigned n)
{
	pthread_mutex_lock(&lock);
	while (completed < n)
		pthread_cond_wait(&cond, &lock);
	pthread_mutex_unlock(&lock);
}

static struct blk_backend *open_ok(enum blk_engine engine, enum blk_cache cache, bool readonly)
{
	struct blk_backend_options opt = {.path = image, .readonly = readonly, .cache = cache, .engine = engine,
					  .reactor = use_reactor, .batch_end = on_batch};
	struct blk_backend *b = NULL;
	char err[256] = "";

	completed = batches = covered = strays = 0;
	last_result = 0;
	ck_assert_msg(blk_backend_open(&b, &opt, err, sizeof(err)) == 0, "open: %s", err);
	return b;
}

/* Submitted at once, or queued and started by an unplug (plugged). */
static int submit_io(struct blk_backend *b, struct blk_io *io, bool plugged)
{
	return plugged ? blk_backend_queue(b, io) : blk_backend_submit(b, io);
}

/* Submit one request and wait for it; returns its result. */
static int run_io_as(struct blk_backend *b, struct blk_io *io, bool plugged)
{
	static int result;
	unsigned before = completed;

	io->done = on_done;
	io->opaque = &result;
	int ret = submit_io(b, io, plugged);
	if (ret < 0)
		return ret;
	if (plugged)
		blk_backend_unplug(b);
	wait_completed(before + 1);
	return result;
}

static int run_io(struct blk_backend *b, struct blk_io *io)
{
	return run_io_as(b, io, false);
}

static int rw(struct blk_backend *b, enum blk_op op, uint64_t off, void *buf, size_t len)
{
	struct iovec iov = {.iov_base = buf, .iov_len = len};
	struct blk_io io = {.op = op, .offset = off, .iov = &iov, .iovcnt = 1};
	return run_io(b, &io);
}

/* ---- many requests in flight at once ---- */

/* plugged: each run of requests queued, then started by one unplug (as
 * virtio-blk does per kick); a request the kernel does not finish inside
 * the unplug must still reach the reaper, or the wait below never ends. */
static void many_in_flight(enum blk_engine engine, enum blk_cache cache, bool plugged)
{
	struct blk_backend *b = open_ok(engine, cache, false);
	static uint8_t bufs[NR_IOS][IO_SIZE] __attribute__((aligned(4096)));
	static struct blk_io ios[NR_IOS];
	static struct iovec iovs[NR_IOS][2];
	static int results[NR_IOS];

	/* Writes, two segments each, all submitted before any completes. */
	for (unsigned i = 0; i < NR_IOS; i++) {
		memset(bufs[i], (int)(i + 1), IO_SIZE);
		iovs[i][0] = (struct iovec){bufs[i], IO_SIZE / 4};
		iovs[i][1] = (struct iovec){bufs[i] + IO_SIZE / 4, IO_SIZE - IO_SIZE / 4};
		ios[i] = (struct blk_io){.op = BLK_OP_WRITE, .offset = (uint64_t)i * IO_SIZE, .iov = iovs[i], .iovcnt = 2,
					 .done = on_done, .opaque = &results[i]};
		ck_assert_int_eq(submit_io(b, &ios[i], plugged), 0);
	}
	if (plugged)
		blk_backend_unplug(b);
	wait_completed(NR_IOS);
	ck_assert_int_eq(last_result, 0);
	struct blk_io flush = {.op = BLK_OP_FLUSH}; /* never finished inside the submit */
	ck_assert_int_eq(run_io_as(b, &flush, plugged), 0);

	/* Read back in reverse order into cleared buffers. */
	memset(bufs, 0, sizeof(bufs));
	for (unsigned i = NR_IOS; i-- > 0;) {
		iovs[i][0] = (struct iovec){bufs[i], IO_SIZE};
		ios[i] = (struct blk_io){.op = BLK_OP_READ, .offset = (uint64_t)i * IO_SIZE, .iov = iovs[i], .iovcnt = 1,
					 .done = on_done, .opaque = &results[i]};
		ck_assert_int_eq(submit_io(b, &ios[i], plugged), 0);
	}
	if (plugged)
		blk_backend_unplug(b);
	wait_completed(2 * NR_IOS + 1);
	ck_assert_int_eq(last_result, 0);
	for (unsigned i = 0; i < NR_IOS; i++) {
		ck_assert_uint_eq(ios[i].len, IO_SIZE);
		for (unsigned j = 0; j < IO_SIZE; j += 511)
			ck_assert_uint_eq(bufs[i][j], i + 1);
	}
	/* Every completion is followed by a batch end: a device publishes
	 * its used entries there, so a missing one strands a request. The
	 * counters belong to the lock: a worker may still be ending its batch. */
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 2;
	pthread_mutex_lock(&lock);
	while (covered < completed && pthread_cond_timedwait(&cond, &lock, &until) == 0)
		;
	ck_assert_uint_eq(covered, completed);
	ck_assert_uint_gt(batches, 0);
	pthread_mutex_unlock(&lock);
	blk_backend_close(b);
}

START_TEST(rw_io_uring) { many_in_flight(BLK_ENGINE_IO_URING, BLK_CACHE_WRITEBACK, false); }
END_TEST
START_TEST(rw_threads) { many_in_flight(BLK_ENGINE_THREADS, BLK_CACHE_WRITEBACK, false); }
END_TEST
START_TEST(rw_direct_io_uring) { many_in_flight(BLK_ENGINE_IO_URING, BLK_CACHE_NONE, false); }
END_TEST
START_TEST(rw_direct_threads) { many_in_flight(BLK_ENGINE_THREADS, BLK_CACHE_NONE, false); }
END_TEST
START_TEST(rw_plugged_io_uring) { many_in_flight(BLK_ENGINE_IO_URING, BLK_CACHE_WRITEBACK, true); }
END_TEST
START_TEST(rw_plugged_threads) { many_in_flight(BLK_ENGINE_THREADS, BLK_CACHE_WRITEBACK, true); }
END_TEST
START_TEST(rw_direct_plugged_io_uring) { many_in_flight(BLK_ENGINE_IO_URING, BLK_CACHE_NONE, true); }
END_TEST

/* Every completion is followed by a batch end, also when another worker
 * ended its batch while this one still ran: io1's done() finishes only
 * after io2's batch ended (as a device's done() that is slow to take its
 * lock), so a pool that decided "last of the batch" when it took io1
 * would never publish io1. */
static unsigned dones, covered;

static void cover_batch(void *opaque)
{
	pthread_mutex_lock(&lock);
	covered = dones;
	pthread_cond_broadcast(&cond);
	pthread_mutex_unlock(&lock);
}

static void late_done(struct blk_io *io, int result)
{
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 1;
	pthread_mutex_lock(&lock);
	while (covered == 0 && pthread_cond_timedwait(&cond, &lock, &until) == 0)
		;
	dones++;
	pthread_mutex_unlock(&lock);
}

static void quick_done(struct blk_io *io, int result)
{
	pthread_mutex_lock(&lock);
	dones++;
	pthread_mutex_unlock(&lock);
}

START_TEST(batch_end_after_every_completion)
{
	for (unsigned round = 0; round < 20; round++) {
		struct blk_backend_options opt = {.path = image, .engine = BLK_ENGINE_THREADS, .batch_end = cover_batch};
		struct blk_backend *b;
		char err[256], buf[2][512];
		struct iovec iov[2] = {{buf[0], 512}, {buf[1], 512}};
		struct blk_io io[2] = {{.op = BLK_OP_READ, .iov = &iov[0], .iovcnt = 1, .done = late_done},
				       {.op = BLK_OP_READ, .offset = 4096, .iov = &iov[1], .iovcnt = 1, .done = quick_done}};

		dones = covered = 0;
		ck_assert_msg(blk_backend_open(&b, &opt, err, sizeof(err)) == 0, "open: %s", err);
		ck_assert_int_eq(blk_backend_submit(b, &io[0]), 0);
		ck_assert_int_eq(blk_backend_submit(b, &io[1]), 0);
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += 3;
		pthread_mutex_lock(&lock);
		while ((dones < 2 || covered < 2) && pthread_cond_timedwait(&cond, &lock, &until) == 0)
			;
		unsigned d = dones, c = covered;
		pthread_mutex_unlock(&lock);
		ck_assert_msg(d == 2 && c == 2, "round %u: %u completions, the last batch end covered %u", round, d, c);
		blk_backend_close(b);
	}
}
END_TEST

START_TEST(engine_names)
{
	struct blk_backend *b = open_ok(BLK_ENGINE_THREADS, BLK_CACHE_WRITEBACK, false);
	ck_assert_str_eq(blk_backend_engine_name(b), "threads");
	ck_assert_uint_eq(blk_backend_size(b), IMAGE_SIZE);
	ck_assert_uint_eq(blk_backend_block_size(b), 512);
	ck_assert(!blk_backend_is_device(b));
	blk_backend_close(b);
	b = open_ok(BLK_ENGINE_IO_URING, BLK_CACHE_WRITEBACK, false);
	ck_assert_str_eq(blk_backend_engine_name(b), "io_uring");
	blk_backend_close(b);
}
END_TEST

/* cache=none: guest buffers at odd addresses go through a bounce buffer;
 * offsets that are not block-aligned are refused. */
START_TEST(direct_unaligned_memory)
{
	struct blk_backend *b = open_ok(BLK_ENGINE_AUTO, BLK_CACHE_NONE, false);
	unsigned bs = blk_backend_block_size(b);
	/* C11's aligned_alloc wants a size that is a multiple of the alignment. */
	uint8_t *raw = malloc(2 * bs + 1), *odd = raw + 1, *back = aligned_alloc(4096, (2 * bs + 4095) / 4096 * 4096);

	ck_assert_uint_ge(bs, 512);
	for (unsigned i = 0; i < 2 * bs; i++)
		odd[i] = (uint8_t)(i * 7);
	ck_assert_int_eq(rw(b, BLK_OP_WRITE, bs, odd, 2 * bs), 0);
	memset(odd, 0, 2 * bs);
	ck_assert_int_eq(rw(b, BLK_OP_READ, bs, odd, 2 * bs), 0);
	for (unsigned i = 0; i < 2 * bs; i++)
		ck_assert_uint_eq(odd[i], (uint8_t)(i * 7));
	ck_assert_int_eq(rw(b, BLK_OP_READ, bs, back, 2 * bs), 0);
	ck_assert_int_eq(memcmp(back, odd, 2 * bs), 0);
	/* Not aligned on the device: refused before any I/O. */
	ck_assert_int_eq(rw(b, BLK_OP_READ, bs / 2, back, bs), -EINVAL);
	ck_assert_int_eq(rw(b, BLK_OP_READ, 0, back, bs / 2), -EINVAL);
	free(raw);
	free(back);
	blk_backend_close(b);
}
END_TEST

START_TEST(range_checks)
{
	struct blk_backend *b = open_ok(BLK_ENGINE_AUTO, BLK_CACHE_WRITEBACK, false);
	uint8_t buf[1024];

	ck_assert_int_eq(rw(b, BLK_OP_READ, IMAGE_SIZE - 512, buf, 512), 0);
	ck_assert_int_eq(rw(b, BLK_OP_READ, IMAGE_SIZE - 512, buf, 1024), -EINVAL);
	ck_assert_int_eq(rw(b, BLK_OP_WRITE, IMAGE_SIZE, buf, 512), -EINVAL);
	ck_assert_int_eq(rw(b, BLK_OP_READ, UINT64_MAX - 100, buf, 512), -EINVAL);
	struct blk_io d = {.op = BLK_OP_DISCARD, .offset = 512, .len = UINT64_MAX - 100};
	ck_assert_int_eq(run_io(b, &d), -EINVAL);
	blk_backend_close(b);
}
END_TEST

START_TEST(readonly_refuses_writes)
{
	struct blk_backend *b = open_ok(BLK_ENGINE_AUTO, BLK_CACHE_WRITEBACK, true);
	uint8_t buf[512] = {0};

	ck_assert(blk_backend_readonly(b));
	ck_assert_int_eq(rw(b, BLK_OP_READ, 0, buf, 512), 0);
	ck_assert_int_eq(rw(b, BLK_OP_WRITE, 0, buf, 512), -EROFS);
	struct blk_io z = {.op = BLK_OP_WRITE_ZEROES, .offset = 0, .len = 512};
	ck_assert_int_eq(run_io(b, &z), -EROFS);
	struct blk_io flush = {.op = BLK_OP_FLUSH};
	ck_assert_int_eq(run_io(b, &flush), 0);
	blk_backend_close(b);
}
END_TEST

static long long allocated_bytes(void)
{
	struct stat st;
	ck_assert_int_eq(stat(image, &st), 0);
	return (long long)st.st_blocks * 512;
}

/* Discard punches a hole: the host frees the blocks. Write-zeroes reads
 * back as zeroes with or without unmap. */
START_TEST(discard_and_write_zeroes)
{
	struct blk_backend *b = open_ok(BLK_ENGINE_AUTO, BLK_CACHE_WRITEBACK, false);
	static uint8_t buf[1u << 20];

	memset(buf, 0xa5, sizeof(buf));
	ck_assert_int_eq(rw(b, BLK_OP_WRITE, 0, buf, sizeof(buf)), 0);
	ck_assert_int_eq(rw(b, BLK_OP_WRITE, 2u << 20, buf, sizeof(buf)), 0);
	struct blk_io flush = {.op = BLK_OP_FLUSH};
	ck_assert_int_eq(run_io(b, &flush), 0);
	long long before = allocated_bytes();
	ck_assert_int_ge(before, 2 << 20);

	struct blk_io d = {.op = BLK_OP_DISCARD, .offset = 0, .len = 1u << 20};
	ck_assert_int_eq(run_io(b, &d), 0);
	ck_assert_int_le(allocated_bytes(), before - (1 << 20));

	struct blk_io z = {.op = BLK_OP_WRITE_ZEROES, .offset = (2u << 20) + 4096, .len = 8192};
	ck_assert_int_eq(run_io(b, &z), 0);
	struct blk_io zu = {.op = BLK_OP_WRITE_ZEROES, .flags = BLK_IO_UNMAP, .offset = (2u << 20) + 65536,
			    .len = 65536};
	ck_assert_int_eq(run_io(b, &zu), 0);
	ck_assert_int_eq(rw(b, BLK_OP_READ, 2u << 20, buf, sizeof(buf)), 0);
	for (unsigned i = 0; i < sizeof(buf); i++) {
		int zero = (i >= 4096 && i < 4096 + 8192) || (i >= 65536 && i < 2 * 65536);
		ck_assert_uint_eq(buf[i], zero ? 0 : 0xa5);
	}
	blk_backend_close(b);
}
END_TEST

/* ---- opening errors and the lock ---- */

static int open_err(const char *path, bool readonly, char *err, size_t errlen)
{
	struct blk_backend_options opt = {.path = path, .readonly = readonly};
	struct blk_backend *b = NULL;
	int ret = blk_backend_open(&b, &opt, err, errlen);
	if (ret == 0)
		blk_backend_close(b);
	return ret;
}

START_TEST(open_errors)
{
	char err[256], missing[128];

	snprintf(missing, sizeof(missing), "%s/missing.img", dir);
	ck_assert_int_eq(open_err(missing, false, err, sizeof(err)), -ENOENT);
	ck_assert_ptr_nonnull(strstr(err, "missing.img"));
	ck_assert_int_eq(open_err(dir, false, err, sizeof(err)), -EISDIR);
	ck_assert_ptr_nonnull(strstr(err, "is a directory"));
	ck_assert_int_eq(open_err(dir, true, err, sizeof(err)), -EISDIR);
	ck_assert_int_lt(open_err("/dev/null", false, err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(strstr(err, "neither a regular file nor a block device"));
	struct blk_cache_case { const char *s; bool ok; } cases[] = {{"writeback", 1}, {"none", 1}, {"unsafe", 1}, {"directsync", 0}};
	for (unsigned i = 0; i < 4; i++) {
		enum blk_cache c;
		ck_assert(blk_cache_parse(cases[i].s, &c) == cases[i].ok);
	}
}
END_TEST

/* A child process holds the image; we must be refused, with its pid named. */
static void refused_by_child(bool child_readonly, bool we_readonly, bool expect_refusal)
{
	int ready[2], quit[2];
	char c = 0, err[256] = "";

	ck_assert_int_eq(pipe(ready), 0);
	ck_assert_int_eq(pipe(quit), 0);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct blk_backend_options opt = {.path = image, .readonly = child_readonly, .engine = BLK_ENGINE_THREADS};
		struct blk_backend *b;
		if (blk_backend_open(&b, &opt, err, sizeof(err)) < 0)
			_exit(1);
		(void)!write(ready[1], "r", 1);
		(void)!read(quit[0], &c, 1);
		_exit(0);
	}
	ck_assert_int_eq(read(ready[0], &c, 1), 1);
	int ret = open_err(image, we_readonly, err, sizeof(err));
	if (expect_refusal) {
		char want[32];
		ck_assert_int_eq(ret, -EBUSY);
		snprintf(want, sizeof(want), "(pid %d)", (int)pid);
		ck_assert_msg(strstr(err, want) != NULL, "error without the holder's pid: %s", err);
		ck_assert_ptr_nonnull(strstr(err, image));
	} else {
		ck_assert_int_eq(ret, 0);
	}
	(void)!write(quit[1], "q", 1);
	int status;
	waitpid(pid, &status, 0);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(ready[0]), close(ready[1]), close(quit[0]), close(quit[1]);
}

START_TEST(lock_writer_excludes_writer) { refused_by_child(false, false, true); }
END_TEST
START_TEST(lock_writer_excludes_reader) { refused_by_child(false, true, true); }
END_TEST
START_TEST(lock_reader_excludes_writer) { refused_by_child(true, false, true); }
END_TEST
START_TEST(lock_readers_share) { refused_by_child(true, true, false); }
END_TEST

/* The lock goes with the backend: after close, another open succeeds. */
START_TEST(lock_released_on_close)
{
	char err[256];
	struct blk_backend *b = open_ok(BLK_ENGINE_AUTO, BLK_CACHE_WRITEBACK, false);
	blk_backend_close(b);
	ck_assert_int_eq(open_err(image, false, err, sizeof(err)), 0);
}
END_TEST

/* ---- bounce memory (cache=none) ---- */

#define HOSTILE_IOS  16
#define HOSTILE_SIZE (2u << 20) /* two bounce chunks each */

/* A hostile guest under cache=none: many large requests at once, every
 * one in unaligned memory cut at odd places. Before the bound each took
 * a bounce buffer of its whole length (here 32 MiB at once); now they
 * share at most BLK_BOUNCE_MAX_BYTES, and the data still arrives intact. */
static void bounce_memory_bounded(enum blk_engine engine)
{
	ck_assert_int_eq(truncate(image, (off_t)HOSTILE_IOS * HOSTILE_SIZE), 0);
	struct blk_backend *b = open_ok(engine, BLK_CACHE_NONE, false);
	static struct blk_io ios[HOSTILE_IOS];
	static struct iovec iovs[HOSTILE_IOS][3];
	static int results[HOSTILE_IOS];
	uint8_t *raw = malloc((size_t)HOSTILE_IOS * HOSTILE_SIZE + 1), *odd = raw + 1;

	ck_assert_ptr_nonnull(raw);
	alloc_watch_start();
	for (int pass = 0; pass < 2; pass++) {
		enum blk_op op = pass ? BLK_OP_READ : BLK_OP_WRITE;
		for (size_t i = 0; i < (size_t)HOSTILE_IOS * HOSTILE_SIZE; i++)
			odd[i] = pass ? 0 : (uint8_t)(i * 13 + i / 4099);
		for (unsigned i = 0; i < HOSTILE_IOS; i++) {
			uint8_t *p = odd + (size_t)i * HOSTILE_SIZE;
			/* Three parts whose ends fall inside a chunk and a sector. */
			iovs[i][0] = (struct iovec){p, 1000};
			iovs[i][1] = (struct iovec){p + 1000, BLK_BOUNCE_CHUNK + 77};
			iovs[i][2] = (struct iovec){p + 1077 + BLK_BOUNCE_CHUNK, HOSTILE_SIZE - 1077 - BLK_BOUNCE_CHUNK};
			ios[i] = (struct blk_io){.op = op, .offset = (uint64_t)i * HOSTILE_SIZE, .iov = iovs[i],
						 .iovcnt = 3, .done = on_done, .opaque = &results[i]};
			ck_assert_int_eq(blk_backend_submit(b, &ios[i]), 0);
		}
		wait_completed((pass + 1) * HOSTILE_IOS);
		ck_assert_int_eq(last_result, 0);
		ck_assert_uint_le(blk_backend_bounce_bytes(b), BLK_BOUNCE_MAX_BYTES);
	}
	for (size_t i = 0; i < (size_t)HOSTILE_IOS * HOSTILE_SIZE; i++)
		if (odd[i] != (uint8_t)(i * 13 + i / 4099))
			ck_abort_msg("byte %zu read back wrong", i);
	size_t grew = alloc_watch_growth();
	ck_assert_msg(grew <= BLK_BOUNCE_MAX_BYTES, "bounce memory grew by %zu bytes, limit %u", grew,
		      BLK_BOUNCE_MAX_BYTES);
	blk_backend_close(b);
	free(raw);
}

START_TEST(bounce_bounded_io_uring) { bounce_memory_bounded(BLK_ENGINE_IO_URING); }
END_TEST

START_TEST(bounce_bounded_threads) { bounce_memory_bounded(BLK_ENGINE_THREADS); }
END_TEST

/* ---- the io_uring reaper meets an error ---- */

/* The reaper's wait, wrapped (--wrap=block_ring_wait): once armed, the
 * next wait holds until released, then fails with EFAULT, as a broken
 * ring would. */
int __real_block_ring_wait(struct io_uring *ring);

static bool wait_armed, wait_held, wait_released;

int __wrap_block_ring_wait(struct io_uring *ring)
{
	pthread_mutex_lock(&lock);
	bool fail = wait_armed;
	if (fail) {
		wait_held = true;
		pthread_cond_broadcast(&cond);
		while (!wait_released)
			pthread_cond_wait(&cond, &lock);
	}
	pthread_mutex_unlock(&lock);
	return fail ? -EFAULT : __real_block_ring_wait(ring);
}

/* Does thread tid of this process sleep (state S in its stat)? */
static bool thread_sleeps(pid_t tid)
{
	char path[64], line[512] = "";
	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", (int)tid);
	FILE *f = fopen(path, "r");
	if (!f)
		return false;
	(void)!fgets(line, sizeof(line), f);
	fclose(f);
	const char *end = strrchr(line, ')'); /* after the name, which may hold anything */
	return end && end[1] == ' ' && end[2] == 'S';
}

static pid_t closer_tid; /* the thread that calls close(), once it is about to */

/* done() of the last request before close(): it returns (and the request
 * leaves the in-flight count) only once the closing thread sleeps, which
 * is in close(), waiting for this very request. So close() always sees
 * the count drop while it waits and needs its wake-up; left to chance,
 * close() mostly came too late for that (a hang in 1 run of 3 to 10).
 * Bounded waits: a backend that needs no wake-up passes all the same. */
static void done_once_close_waits(struct blk_io *io, int result)
{
	struct timespec until, ms = {0, 1000000};

	on_done(io, result);
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 2;
	pthread_mutex_lock(&lock);
	while (!closer_tid && pthread_cond_timedwait(&cond, &lock, &until) == 0)
		;
	pid_t tid = closer_tid;
	pthread_mutex_unlock(&lock);
	for (int i = 0; tid && i < 2000 && !thread_sleeps(tid); i++)
		nanosleep(&ms, NULL);
}

/* ---- reaped on a reactor ---- */

static struct reactor reactor;

static void reactor_up(void)
{
	ck_assert_int_eq(reactor_init(&reactor), 0);
	ck_assert_int_eq(reactor_start(&reactor), 0);
	use_reactor = &reactor;
	test_thread = pthread_self();
}

static void reactor_down(void)
{
	reactor_destroy(&reactor);
	use_reactor = NULL;
}

/* Without the reactor's handler on the ring's fd, requests that did not
 * finish inside their submit would never complete: the waits time out. */
static void many_on_reactor(enum blk_cache cache, bool plugged)
{
	reactor_up();
	many_in_flight(BLK_ENGINE_IO_URING, cache, plugged);
	ck_assert_uint_eq(strays, 0);
	reactor_down();
}

START_TEST(rw_reactor_io_uring) { many_on_reactor(BLK_CACHE_WRITEBACK, false); }
END_TEST
START_TEST(rw_plugged_reactor_io_uring) { many_on_reactor(BLK_CACHE_WRITEBACK, true); }
END_TEST
START_TEST(rw_direct_plugged_reactor_io_uring) { many_on_reactor(BLK_CACHE_NONE, true); }
END_TEST

/* skiff stops its reactor before it closes the disks: close() must then
 * reap what is still on the ring itself, every done() called, not hang.
 * The reactor stops before the requests start, so that whatever the
 * unplug does not finish (O_DIRECT writes rarely finish inside it) is
 * left for close() alone. */
START_TEST(close_after_reactor_stopped)
{
	static uint8_t bufs[NR_IOS][IO_SIZE] __attribute__((aligned(4096)));
	static struct iovec iovs[NR_IOS];
	static struct blk_io ios[NR_IOS];
	static int results[NR_IOS];

	reactor_up();
	struct blk_backend *b = open_ok(BLK_ENGINE_IO_URING, BLK_CACHE_NONE, false);
	ck_assert_str_eq(blk_backend_engine_name(b), "io_uring");
	for (unsigned i = 0; i < NR_IOS; i++) {
		memset(bufs[i], (int)(i + 1), IO_SIZE);
		iovs[i] = (struct iovec){bufs[i], IO_SIZE};
		ios[i] = (struct blk_io){.op = BLK_OP_WRITE, .offset = (uint64_t)i * IO_SIZE, .iov = &iovs[i],
					 .iovcnt = 1, .done = on_done, .opaque = &results[i]};
		results[i] = 1;
		ck_assert_int_eq(blk_backend_queue(b, &ios[i]), 0);
	}
	reactor_stop(&reactor);
	blk_backend_unplug(b);
	blk_backend_close(b); /* the test's timeout catches a hang */
	ck_assert_uint_eq(completed, NR_IOS);
	for (unsigned i = 0; i < NR_IOS; i++)
		ck_assert_int_eq(results[i], 0);
	ck_assert_uint_eq(covered, completed);
	reactor_down();
}
END_TEST

/* The ring fails with a request on it: later requests are still served
 * (by the pool), and close() returns instead of waiting for the lost
 * one. Before the fix the reaper just ended: the next request went to
 * the dead ring, never completed, and close() waited forever. */
START_TEST(reaper_error_is_survived)
{
	struct blk_backend *b = open_ok(BLK_ENGINE_IO_URING, BLK_CACHE_WRITEBACK, false);
	static uint8_t buf[3][4096];
	static struct iovec iov[3];
	static struct blk_io io[3];
	static int results[3];

	pthread_mutex_lock(&lock);
	wait_armed = true;
	pthread_mutex_unlock(&lock);
	/* The reaper either waits already (then this request wakes it and
	 * its next wait holds) or has yet to start waiting (then it holds at
	 * once, and the request stays on the ring). */
	for (unsigned i = 0; i < 2; i++) {
		iov[i] = (struct iovec){buf[i], 4096};
		io[i] = (struct blk_io){.op = BLK_OP_READ, .offset = 4096 * i, .iov = &iov[i], .iovcnt = 1,
					.done = on_done, .opaque = &results[i]};
		ck_assert_int_eq(blk_backend_submit(b, &io[i]), 0);
		pthread_mutex_lock(&lock);
		while (!wait_held) /* the second request is on the ring when it fails */
			pthread_cond_wait(&cond, &lock);
		pthread_mutex_unlock(&lock);
	}
	pthread_mutex_lock(&lock);
	wait_released = true;
	pthread_cond_broadcast(&cond);
	pthread_mutex_unlock(&lock);
	/* The backend says it stopped using the ring ... */
	for (int i = 0; strcmp(blk_backend_engine_name(b), "threads") != 0; i++) {
		struct timespec ms = {0, 1000000};
		ck_assert_msg(i < 2000, "the backend still uses the failed ring");
		nanosleep(&ms, NULL);
	}
	/* ... and serves what comes next. */
	unsigned before = completed;
	iov[2] = (struct iovec){buf[2], 4096};
	io[2] = (struct blk_io){.op = BLK_OP_READ, .offset = 4096, .iov = &iov[2], .iovcnt = 1,
				.done = done_once_close_waits, .opaque = &results[2]};
	ck_assert_int_eq(blk_backend_submit(b, &io[2]), 0);
	wait_completed(before + 1);
	ck_assert_int_eq(results[2], 0);
	/* io[2] is still in flight (its done() has not returned): close()
	 * waits for it, and must wake when it leaves, with the lost ring
	 * request(s) still counted. Before the fix it woke only at a count of
	 * zero, which a lost request never lets come: a hang, every run. */
	pthread_mutex_lock(&lock);
	closer_tid = gettid();
	pthread_cond_broadcast(&cond);
	pthread_mutex_unlock(&lock);
	blk_backend_close(b); /* the test's timeout catches a hang */
}
END_TEST

static Suite *block_backend_suite(void)
{
	Suite *s = suite_create("block-backend");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, rw_io_uring);
	tcase_add_test(tc, rw_threads);
	tcase_add_test(tc, rw_direct_io_uring);
	tcase_add_test(tc, rw_direct_threads);
	tcase_add_test(tc, rw_plugged_io_uring);
	tcase_add_test(tc, rw_plugged_threads);
	tcase_add_test(tc, rw_direct_plugged_io_uring);
	tcase_add_test(tc, rw_reactor_io_uring);
	tcase_add_test(tc, rw_plugged_reactor_io_uring);
	tcase_add_test(tc, rw_direct_plugged_reactor_io_uring);
	tcase_add_test(tc, close_after_reactor_stopped);
	tcase_add_test(tc, engine_names);
	tcase_add_test(tc, batch_end_after_every_completion);
	tcase_add_test(tc, direct_unaligned_memory);
	tcase_add_test(tc, range_checks);
	tcase_add_test(tc, readonly_refuses_writes);
	tcase_add_test(tc, discard_and_write_zeroes);
	tcase_add_test(tc, open_errors);
	tcase_add_test(tc, lock_writer_excludes_writer);
	tcase_add_test(tc, lock_writer_excludes_reader);
	tcase_add_test(tc, lock_reader_excludes_writer);
	tcase_add_test(tc, lock_readers_share);
	tcase_add_test(tc, lock_released_on_close);
	tcase_add_test(tc, bounce_bounded_io_uring);
	tcase_add_test(tc, bounce_bounded_threads);
	tcase_add_test(tc, reaper_error_is_survived);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return check_run_suite(block_backend_suite());
}
