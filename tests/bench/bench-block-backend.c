/* Benchmark (not a test) of the block backend's two engines, io_uring and
 * the worker-thread pool, on one image file: 4 KiB random reads at queue
 * depth 1 and 32, 1 MiB sequential reads and writes at depth 4, for each
 * cache mode that matters (writeback: the host page cache, so this shows
 * the engine's own overhead; none: O_DIRECT, the disk underneath).
 *
 *   tests/bench/bench-block-backend [FILE [SECONDS]]
 *
 * FILE (default /var/tmp/skiff-bench.img) is created with 256 MiB of
 * data if it is smaller; each figure runs SECONDS (default 2). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "devices/block-backend.h"
#include "base/monotonic.h"
#include "tests/bench/bench-common.h"

#define IMAGE_SIZE BENCH_IMAGE_SIZE
#define MAX_QD     32

struct job {
	struct blk_backend *b;
	enum blk_op op;
	size_t bs;
	bool random;
	atomic_bool stop;
	atomic_uint_fast64_t done, inflight, errors;
	atomic_uint_fast64_t next_seq;
	struct slot {
		struct blk_io io;
		struct iovec iov;
		void *buf;
		uint64_t rng;
	} slots[MAX_QD];
};

static double now(void)
{
	return monotonic_ns() / 1e9;
}

static void submit(struct job *j, struct slot *s);

/* The job pointer travels in a static: one job at a time. */
static struct job *current;

static void done_cb(struct blk_io *io, int result)
{
	struct slot *s = io->opaque;
	if (result)
		atomic_fetch_add(&current->errors, 1);
	atomic_fetch_add(&current->done, 1);
	if (atomic_load(&current->stop)) {
		atomic_fetch_sub(&current->inflight, 1);
		return;
	}
	submit(current, s);
}

static void submit(struct job *j, struct slot *s)
{
	uint64_t blocks = IMAGE_SIZE / j->bs;
	uint64_t blk = j->random ? bench_xorshift(&s->rng) % blocks : atomic_fetch_add(&j->next_seq, 1) % blocks;
	s->iov = (struct iovec){.iov_base = s->buf, .iov_len = j->bs};
	s->io = (struct blk_io){.op = j->op, .offset = blk * j->bs, .iov = &s->iov, .iovcnt = 1, .done = done_cb,
				.opaque = s};
	if (blk_backend_submit(j->b, &s->io) < 0) {
		atomic_fetch_add(&j->errors, 1);
		atomic_fetch_sub(&j->inflight, 1);
	}
}

static double run(struct blk_backend *b, enum blk_op op, size_t bs, bool random, unsigned qd, double seconds,
		  double *per_sec)
{
	static struct job j;
	memset(&j, 0, sizeof(j));
	j.b = b;
	j.op = op;
	j.bs = bs;
	j.random = random;
	current = &j;
	for (unsigned i = 0; i < qd; i++) {
		if (posix_memalign(&j.slots[i].buf, 4096, bs))
			exit(1);
		memset(j.slots[i].buf, 0x5a, bs);
		j.slots[i].rng = 0x9e3779b97f4a7c15ull * (i + 1);
	}
	double t0 = now();
	atomic_store(&j.inflight, qd);
	for (unsigned i = 0; i < qd; i++)
		submit(&j, &j.slots[i]);
	struct timespec ts = {.tv_sec = (time_t)seconds, .tv_nsec = (long)((seconds - (time_t)seconds) * 1e9)};
	nanosleep(&ts, NULL);
	atomic_store(&j.stop, true);
	while (atomic_load(&j.inflight))
		usleep(1000);
	double t = now() - t0;
	for (unsigned i = 0; i < qd; i++)
		free(j.slots[i].buf);
	if (j.errors)
		fprintf(stderr, "bench: %llu errors\n", (unsigned long long)j.errors);
	*per_sec = (double)j.done / t;
	return t;
}

int main(int argc, char **argv)
{
	const char *path = argc > 1 ? argv[1] : "/var/tmp/skiff-bench.img";
	double seconds = argc > 2 ? atof(argv[2]) : 2.0;
	static const struct {
		const char *name;
		enum blk_op op;
		size_t bs;
		bool random;
		unsigned qd;
		bool mbps;
	} tests[] = {
		{"4k randread QD1", BLK_OP_READ, 4096, true, 1, false},
		{"4k randread QD32", BLK_OP_READ, 4096, true, 32, false},
		{"1M seqread QD4", BLK_OP_READ, 1 << 20, false, 4, true},
		{"1M seqwrite QD4", BLK_OP_WRITE, 1 << 20, false, 4, true},
	};
	static const enum blk_cache caches[] = {BLK_CACHE_WRITEBACK, BLK_CACHE_NONE};
	static const char *const cache_names[] = {"writeback", "none"};

	if (bench_prepare_image(path) < 0) {
		fprintf(stderr, "bench: cannot create %s\n", path);
		return 2;
	}
	printf("%-10s %-18s %14s %14s %8s\n", "cache", "test", "io_uring", "threads", "ratio");
	for (unsigned c = 0; c < 2; c++) {
		for (unsigned t = 0; t < sizeof(tests) / sizeof(tests[0]); t++) {
			double r[2];
			for (unsigned e = 0; e < 2; e++) {
				struct blk_backend_options o = {.path = path, .cache = caches[c],
								.engine = e ? BLK_ENGINE_THREADS : BLK_ENGINE_IO_URING};
				struct blk_backend *b;
				char err[256];
				if (blk_backend_open(&b, &o, err, sizeof(err)) < 0) {
					fprintf(stderr, "bench: %s\n", err);
					return 2;
				}
				run(b, tests[t].op, tests[t].bs, tests[t].random, tests[t].qd, seconds, &r[e]);
				blk_backend_close(b);
				if (tests[t].mbps)
					r[e] = r[e] * (double)tests[t].bs / 1e6;
			}
			printf("%-10s %-18s %10.0f %-3s %10.0f %-3s %7.2fx\n", cache_names[c], tests[t].name, r[0],
			       tests[t].mbps ? "MB/s" : "IOPS", r[1], tests[t].mbps ? "MB/s" : "IOPS", r[0] / r[1]);
			fflush(stdout);
		}
	}
	return 0;
}
