/* Benchmark (not a test) of the whole virtio-blk path without KVM: in one
 * process the driver-side ring code (virtqueue/driver.c) plays the guest
 * and drives the real device model (devices/virtio-blk.c), the real block
 * backend and a real image file, against raw liburing on the same file
 * (the host's limit). It prints, per request, the latency from making the
 * buffer available to finding it used (median and p99), the wall time
 * per request (elapsed / requests: at QD32 the inverse of throughput),
 * and the CPU time the process's other threads spent per request (the
 * device side and the kernel's io-wq workers; what polling costs).
 *
 *   tests/bench/bench-virtio-blk [FILE [SECONDS [CASE]]]
 *
 * CASE runs that case alone; CASE/PATH ("4k-randread-qd1/skiff io_uring")
 * one path of it, with no ratio (for profiling one path).
 * FILE (default /var/tmp/skiff-bench.img, 256 MiB, created if smaller),
 * cache=writeback (skiff's default: the data sits in the page cache, so
 * the figures are the software's own cost). The path is skiff's: the
 * guest thread kicks by signalling the queue's kick eventfd (what KVM's
 * ioeventfd does on a doorbell write), skiff's reactor thread serves the
 * queue from it (virtio/kvm-platform.c) and reaps the io_uring
 * completions that did not come back inside the submit; the guest, when
 * the used ring holds nothing new, keeps looking for up to 200 us (KVM's
 * halt polling) and then sleeps on an eventfd that the interrupt callback
 * signals, as a halted vCPU waits for its irqfd. The raw loop spins on
 * its completion queue as long. "skiff uring+poll" is the same with the
 * reactor polling (--poll, base/reactor.h): the guest is then asked not
 * to kick, and the reactor finds its requests in the ring.
 *
 * Under callgrind (tests/bench/blk-device.sh does this) nothing spins:
 * valgrind runs one thread at a time, and a spinning one would count
 * instructions while the others wait. Each case runs a fixed number of
 * requests between CALLGRIND_ZERO_STATS and
 * CALLGRIND_DUMP_STATS_AT("case"), and prints "callgrind CASE REQUESTS"
 * so that the script can divide instructions by requests. */
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <valgrind/callgrind.h>

#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>

#include "base/reactor.h"
#include "devices/virtio-blk.h"
#include "tests/bench/bench-common.h"
#include "virtio/kvm-platform.h"
#include "virtqueue/driver.h"

#define MAX_QD      32
#define MAX_BS      (1u << 20)
#define QSIZE       128
#define RING_GPA    0x1000
#define HDR_GPA     0x100000 /* one 16-byte header per slot */
#define STATUS_GPA  0x110000 /* one status byte per slot */
#define DATA_GPA    0x200000 /* one MAX_BS buffer per slot */
#define RAM_SIZE    (DATA_GPA + MAX_QD * MAX_BS)
#define MAX_SAMPLES (1u << 21)

struct bench_case {
	const char *name;
	bool write, random;
	size_t bs;
	unsigned qd;
	unsigned callgrind_requests;
};

static const struct bench_case cases[] = {
	{"4k-randread-qd1", false, true, 4096, 1, 4000},
	{"4k-randread-qd32", false, true, 4096, 32, 4000},
	{"4k-randwrite-qd1", true, true, 4096, 1, 4000},
	{"4k-randwrite-qd32", true, true, 4096, 32, 4000},
	{"1m-seqread-qd1", false, false, MAX_BS, 1, 200},
	{"1m-seqwrite-qd1", true, false, MAX_BS, 1, 200},
};

/* One running case: where the next request goes, and what was measured. */
struct run {
	const struct bench_case *c;
	uint64_t rng, next_seq;
	uint64_t start_ns[MAX_QD];
	uint64_t *samples;
	unsigned nsamples;
	uint64_t done, target; /* requests completed, requests wanted (0: until the deadline) */
	uint64_t deadline_ns;
	bool stopping;
};

static uint64_t next_offset(struct run *r)
{
	uint64_t blocks = BENCH_IMAGE_SIZE / r->c->bs;
	uint64_t blk = r->c->random ? bench_xorshift(&r->rng) % blocks : r->next_seq++ % blocks;
	return blk * r->c->bs;
}

/* A request came back: note its latency; false when the run is over. */
static bool record(struct run *r, unsigned slot, uint64_t now)
{
	if (r->nsamples < MAX_SAMPLES)
		r->samples[r->nsamples++] = now - r->start_ns[slot];
	r->done++;
	if (r->target ? r->done >= r->target : now >= r->deadline_ns)
		r->stopping = true;
	return !r->stopping;
}

/* ---- the guest side, over the real device ---- */

static uint8_t *ram;
static uint64_t *samples; /* latencies of the current run */
static struct guest_mem mem;
static struct vqd drv;
static int irq_fd = -1;
static struct reactor reactor;
static struct kvm_platform platform; /* the queue's kick eventfd on the reactor */
/* How long the guest looks at the used ring before it sleeps on the
 * interrupt: KVM's halt polling, which spins a halted vCPU's thread in
 * the host for up to halt_poll_ns (x86 default 200 us) before it
 * sleeps. 0 under callgrind. */
#define GUEST_HALT_POLL_NS 200000
/* The reactor's polling time on the polled path (skiff's --poll takes
 * the user's): QEMU's IOThreads poll up to 32 us by default (poll-max-ns). */
#define REACTOR_POLL_NS 32000
static uint64_t halt_poll_ns;

static void raise_irq(struct virtio_device *dev, unsigned q)
{
	uint64_t one = 1;
	if (write(irq_fd, &one, sizeof(one)) < 0)
		perror("bench: eventfd");
}
static void no_config(struct virtio_device *dev) {}
static const struct virtio_transport_ops transport = {raise_irq, no_config};

/* Bring the device up as a driver does: features, one queue, DRIVER_OK. */
static int device_start(struct virtio_blk *blk, const char *path, enum blk_engine engine)
{
	struct virtio_blk_config_opts o = {.path = (char *)path, .queues = 1};
	char err[256] = "";

	if (virtio_blk_init(blk, &o, "virtio-blk0", &mem, engine, &reactor, err, sizeof(err)) < 0) {
		fprintf(stderr, "bench: %s\n", err);
		return -1;
	}
	kvm_platform_init(&platform, &(struct kvm_vm_ioctl){0}, true, &reactor, NULL);
	if (kvm_platform_attach_queues(&platform, &blk->vdev) < 0) {
		fprintf(stderr, "bench: no kick eventfd\n");
		kvm_platform_destroy(&platform);
		virtio_blk_destroy(blk);
		return -1;
	}
	struct virtio_device *dev = &blk->vdev;
	dev->transport = &transport;
	dev->offered = dev->ops->features(dev) | VIRTIO_FEATURE(VIRTIO_F_VERSION_1) |
		       VIRTIO_FEATURE(VIRTIO_RING_F_EVENT_IDX);
	uint64_t want = dev->offered;
	uint8_t s = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER;
	pthread_mutex_lock(&dev->lock);
	virtio_device_set_status(dev, s);
	virtio_device_write_driver_features(dev, 0, (uint32_t)want);
	virtio_device_write_driver_features(dev, 1, (uint32_t)(want >> 32));
	virtio_device_set_status(dev, s |= VIRTIO_CONFIG_S_FEATURES_OK);
	int ret = vqd_init_split(&drv, QSIZE, ram + RING_GPA, RING_GPA, VQD_F_EVENT_IDX);
	dev->vqs[0].size = QSIZE;
	dev->vqs[0].desc_addr = drv.desc_gpa;
	dev->vqs[0].avail_addr = drv.avail_gpa;
	dev->vqs[0].used_addr = drv.used_gpa;
	if (ret == 0)
		ret = virtio_device_enable_queue(dev, 0);
	virtio_device_set_status(dev, s | VIRTIO_CONFIG_S_DRIVER_OK);
	pthread_mutex_unlock(&dev->lock);
	if (ret < 0 || !(dev->status & VIRTIO_CONFIG_S_DRIVER_OK)) {
		fprintf(stderr, "bench: the device did not start\n");
		kvm_platform_destroy(&platform);
		virtio_blk_destroy(blk);
		return -1;
	}
	return 0;
}

static void device_add(struct run *r, unsigned slot)
{
	struct virtio_blk_outhdr h = {.type = htole32(r->c->write ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN),
				      .sector = htole64(next_offset(r) / 512)};
	memcpy(ram + HDR_GPA + slot * 16, &h, sizeof(h));
	struct vqd_buf hdr = {HDR_GPA + slot * 16, sizeof(h)};
	struct vqd_buf data = {DATA_GPA + (uint64_t)slot * MAX_BS, (uint32_t)r->c->bs};
	struct vqd_buf status = {STATUS_GPA + slot, 1};
	struct vqd_buf in[2] = {data, status};
	r->start_ns[slot] = bench_now_ns();
	int ret = r->c->write ? vqd_add(&drv, (struct vqd_buf[]){hdr, data}, 2, &status, 1, (void *)(uintptr_t)(slot + 1), false)
			      : vqd_add(&drv, &hdr, 1, in, 2, (void *)(uintptr_t)(slot + 1), false);
	if (ret < 0) {
		fprintf(stderr, "bench: vqd_add: %d\n", ret);
		exit(1);
	}
}

static void device_kick(struct virtio_blk *blk)
{
	if (vqd_kick_needed(&drv))
		virtio_device_kick(&blk->vdev, 0);
}

/* The guest's loop. It looks at the used ring before it sleeps: a vCPU
 * whose interrupt arrived while it was out on the kick's exit (a read the
 * page cache served inside the submit) finds it pending on re-entry and
 * never halts, so no wake-up belongs in its path. Then it halt-polls
 * (above) before sleeping on the interrupt. */
static void device_run(struct virtio_blk *blk, struct run *r)
{
	unsigned inflight = r->c->qd;
	uint64_t last_used_ns = bench_now_ns();
	for (unsigned i = 0; i < r->c->qd; i++)
		device_add(r, i);
	device_kick(blk);
	while (inflight) {
		uint32_t len;
		void *token;
		bool found = false;
		while ((token = vqd_get_used(&drv, &len))) {
			unsigned slot = (unsigned)(uintptr_t)token - 1;
			found = true;
			if (ram[STATUS_GPA + slot] != VIRTIO_BLK_S_OK) {
				fprintf(stderr, "bench: request failed (status %u)\n", ram[STATUS_GPA + slot]);
				exit(1);
			}
			if (record(r, slot, bench_now_ns()))
				device_add(r, slot);
			else
				inflight--;
		}
		if (found) {
			device_kick(blk);
			if (halt_poll_ns)
				last_used_ns = bench_now_ns();
			continue;
		}
		if (halt_poll_ns && bench_now_ns() - last_used_ns < halt_poll_ns)
			continue; /* the interrupt's eventfd is drained when we do sleep */
		uint64_t n; /* nothing used yet: halt until the interrupt */
		if (read(irq_fd, &n, sizeof(n)) < 0 && errno != EINTR) {
			perror("bench: eventfd");
			exit(1);
		}
	}
}

/* ---- the host's limit: raw liburing on the same file ---- */

static struct io_uring raw_ring;
static int raw_fd = -1;
static struct iovec raw_iov[MAX_QD];

static void raw_add(struct run *r, unsigned slot)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&raw_ring);
	raw_iov[slot] = (struct iovec){ram + DATA_GPA + (uint64_t)slot * MAX_BS, r->c->bs};
	if (r->c->write)
		io_uring_prep_writev(sqe, raw_fd, &raw_iov[slot], 1, next_offset(r));
	else
		io_uring_prep_readv(sqe, raw_fd, &raw_iov[slot], 1, next_offset(r));
	io_uring_sqe_set_data(sqe, (void *)(uintptr_t)slot);
	r->start_ns[slot] = bench_now_ns();
}

/* The next completion. Given the guest's halt-polling time, the host's
 * limit spins on the completion queue as long before it sleeps: the
 * device path must not win by polling where the reference sleeps. */
static int raw_wait(struct io_uring_cqe **cqe)
{
	if (halt_poll_ns) {
		uint64_t until = bench_now_ns() + halt_poll_ns;
		do {
			if (io_uring_peek_cqe(&raw_ring, cqe) == 0)
				return 0;
		} while (bench_now_ns() < until);
	}
	return io_uring_wait_cqe(&raw_ring, cqe);
}

static void raw_run(struct run *r)
{
	unsigned inflight = r->c->qd;
	for (unsigned i = 0; i < r->c->qd; i++)
		raw_add(r, i);
	io_uring_submit(&raw_ring);
	while (inflight) {
		struct io_uring_cqe *cqe;
		int ret = raw_wait(&cqe);
		if (ret == -EINTR)
			continue;
		if (ret < 0 || cqe->res != (int)r->c->bs) {
			fprintf(stderr, "bench: raw io_uring: %s\n", strerror(ret < 0 ? -ret : cqe->res < 0 ? -cqe->res : EIO));
			exit(1);
		}
		unsigned head, seen = 0;
		io_uring_for_each_cqe(&raw_ring, head, cqe) {
			unsigned slot = (unsigned)(uintptr_t)io_uring_cqe_get_data(cqe);
			if (record(r, slot, bench_now_ns()))
				raw_add(r, slot);
			else
				inflight--;
			seen++;
		}
		io_uring_cq_advance(&raw_ring, seen);
		io_uring_submit(&raw_ring);
	}
}

/* ---- running and printing ---- */

enum path { PATH_RAW, PATH_URING, PATH_URING_POLLED, PATH_THREADS, PATHS };
static const char *const path_names[PATHS] = {"raw io_uring", "skiff io_uring", "skiff uring+poll", "skiff threads"};

struct figures {
	bool ran;
	double median, p99, per_req;
	double cpu_per_req; /* CPU time of every thread but the guest's (the loop's) */
};

/* CPU time of the process's threads but this one (the guest, or the raw
 * loop): the reactor, the reaper or the pool, and io_uring's io-wq
 * workers, which count as the process's threads. What a request costs
 * the host besides the guest, polling included. */
static int64_t others_cpu_ns(void)
{
	struct timespec all, self;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &self);
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &all);
	return (int64_t)(all.tv_sec - self.tv_sec) * 1000000000 + (all.tv_nsec - self.tv_nsec);
}

static struct figures measure(const char *image, enum path p, const struct bench_case *c, double seconds)
{
	static struct run r;
	static struct virtio_blk blk;
	struct figures f = {0};
	bool valgrind = RUNNING_ON_VALGRIND;

	if (p == PATH_RAW) {
		raw_fd = open(image, O_RDWR);
		if (raw_fd < 0 || io_uring_queue_init(64, &raw_ring, 0) < 0) {
			fprintf(stderr, "bench: raw io_uring on %s: %s\n", image, strerror(errno));
			return f;
		}
	} else {
		memset(&blk, 0, sizeof(blk));
		if (device_start(&blk, image, p == PATH_THREADS ? BLK_ENGINE_THREADS : BLK_ENGINE_IO_URING) < 0)
			return f;
		/* Not under callgrind: its threads take turns, so a spinning
		 * one would count instructions while the others wait. */
		reactor_set_poll_ns(&reactor, p == PATH_URING_POLLED && !valgrind ? REACTOR_POLL_NS : 0);
	}
	halt_poll_ns = valgrind ? 0 : GUEST_HALT_POLL_NS; /* the raw loop spins as long */
	r = (struct run){.c = c, .rng = 0x9e3779b97f4a7c15ull, .samples = samples};
	/* Warm up (first touches, thread start), then measure. */
	r.target = valgrind ? 20 : 200;
	p == PATH_RAW ? raw_run(&r) : device_run(&blk, &r);
	r = (struct run){.c = c, .rng = r.rng, .next_seq = r.next_seq, .samples = samples};
	if (valgrind) {
		r.target = c->callgrind_requests;
		CALLGRIND_ZERO_STATS;
	} else {
		r.deadline_ns = bench_now_ns() + (uint64_t)(seconds * 1e9);
	}
	uint64_t t0 = bench_now_ns();
	int64_t others0 = others_cpu_ns();
	p == PATH_RAW ? raw_run(&r) : device_run(&blk, &r);
	uint64_t elapsed = bench_now_ns() - t0;
	/* The two clocks are read apart: with no other thread at work the
	 * difference may come out a hair below zero. */
	int64_t others = others_cpu_ns() - others0;
	if (others < 0)
		others = 0;
	if (valgrind) {
		char name[96];
		snprintf(name, sizeof(name), "%s/%s", c->name, path_names[p]);
		CALLGRIND_DUMP_STATS_AT(name);
		printf("callgrind %s %llu\n", name, (unsigned long long)r.done);
	}
	if (p == PATH_RAW) {
		io_uring_queue_exit(&raw_ring);
		close(raw_fd);
	} else {
		if (blk.vdev.status & VIRTIO_CONFIG_S_NEEDS_RESET) {
			fprintf(stderr, "bench: the device asked for a reset\n");
			exit(1);
		}
		kvm_platform_destroy(&platform);
		virtio_blk_destroy(&blk);
	}
	qsort(r.samples, r.nsamples, sizeof(r.samples[0]), bench_cmp_u64);
	f.ran = r.nsamples > 0;
	if (f.ran) {
		f.median = r.samples[r.nsamples / 2];
		f.p99 = r.samples[(size_t)(r.nsamples * 0.99)];
		f.per_req = (double)elapsed / r.done;
		f.cpu_per_req = (double)others / r.done;
	}
	return f;
}

int main(int argc, char **argv)
{
	const char *image = argc > 1 ? argv[1] : BENCH_IMAGE_PATH;
	double seconds = argc > 2 ? atof(argv[2]) : 1.0;
	const char *only = argc > 3 ? argv[3] : NULL;

	if (bench_prepare_image(image) < 0) {
		fprintf(stderr, "bench: cannot create %s\n", image);
		return 1;
	}
	ram = aligned_alloc(4096, RAM_SIZE);
	irq_fd = eventfd(0, EFD_CLOEXEC);
	samples = malloc(MAX_SAMPLES * sizeof(uint64_t));
	if (!ram || irq_fd < 0 || !samples) {
		fprintf(stderr, "bench: out of memory\n");
		return 1;
	}
	if (reactor_init(&reactor) < 0 || reactor_start(&reactor) < 0) {
		fprintf(stderr, "bench: cannot start a reactor\n");
		return 1;
	}
	memset(ram, 0, RAM_SIZE);
	mem = (struct guest_mem){.region = {{.gpa = 0, .size = RAM_SIZE, .host = ram}}, .nr_regions = 1};

	printf("virtio-blk device path without KVM, %s, cache=writeback, ns per request\n", image);
	printf("%-18s %-15s %10s %10s %10s %8s %9s\n", "case", "path", "median", "p99", "wall/req", "x raw", "cpu/req");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct figures raw = {0};
		size_t name_len = strlen(cases[i].name);
		if (only && (strncmp(only, cases[i].name, name_len) != 0 || (only[name_len] && only[name_len] != '/')))
			continue;
		for (enum path p = 0; p < PATHS; p++) {
			if (only && only[name_len] == '/' && strcmp(only + name_len + 1, path_names[p]) != 0)
				continue;
			struct figures f = measure(image, p, &cases[i], seconds);
			if (p == PATH_RAW)
				raw = f;
			if (!f.ran) {
				printf("%-18s %-15s did not run (see above)\n", cases[i].name, path_names[p]);
				continue;
			}
			printf("%-18s %-15s %10.0f %10.0f %10.0f", cases[i].name, path_names[p], f.median, f.p99, f.per_req);
			if (raw.ran && p != PATH_RAW)
				printf(" %7.2fx", f.per_req / raw.per_req);
			else
				printf(" %8s", "");
			printf(" %9.0f\n", f.cpu_per_req);
			/* For make bench's summary table (tests/bench/summary). */
			if (raw.ran && p != PATH_RAW)
				printf("bench-row|blk device path, no KVM (limit: raw io_uring)|%s %s|ns/req|lower|%.0f||%.0f\n",
				       cases[i].name, path_names[p], f.per_req, raw.per_req);
		}
	}
	reactor_destroy(&reactor);
	return 0;
}
