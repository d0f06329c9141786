/* Benchmark (not a test) of --trace: what a trace point costs when
 * tracing is off, and what tracing costs per request when on. A
 * driver-side virtio-rng (tests/unit/rng-rig.c) serves 64-byte requests
 * (add, kick, pop, fill, complete, reap: three trace points each, kick,
 * pop and done) with tracing
 *   off                    the shipped default
 *   on, another device     every category on, device filter misses
 *   on, to /dev/null       every line formatted and written
 * and a bare disabled TRACE() in a loop. Figures: nanoseconds and, where
 * the host lets us count them (perf_event_open), user+kernel instructions
 * per request. Best of five runs each.
 *
 *   tests/bench/bench-trace [REQUESTS]   (default 200000)
 *   tests/bench/bench-trace REQUESTS off|miss|on|bare
 *       one run_requests() of that kind only, for instruction counts under
 *       callgrind (tests/bench/trace-insns.sh), which are repeatable where
 *       times are not. */
#include <fcntl.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "base/trace.h"
#include "base/monotonic.h"
#include "tests/unit/rng-rig.h"

#define RUNS 5

static int insn_fd = -1;

static void insn_counter_open(void)
{
	struct perf_event_attr a = { .type = PERF_TYPE_HARDWARE, .size = sizeof(a),
				     .config = PERF_COUNT_HW_INSTRUCTIONS, .disabled = 1 };
	insn_fd = (int)syscall(SYS_perf_event_open, &a, 0, -1, -1, 0);
	if (insn_fd < 0) {
		a.exclude_kernel = 1; /* perf_event_paranoid 2: user space only */
		insn_fd = (int)syscall(SYS_perf_event_open, &a, 0, -1, -1, 0);
	}
}

static uint64_t insn_read(void)
{
	uint64_t n = 0;
	return insn_fd >= 0 && read(insn_fd, &n, sizeof(n)) == sizeof(n) ? n : 0;
}

static double now_ns(void)
{
	return (double)monotonic_ns();
}

struct figure {
	double ns, insns; /* per request (or per trace point) */
};

static struct figure best_of(struct figure f, struct figure g)
{
	return (struct figure){ f.ns < g.ns ? f.ns : g.ns, f.insns < g.insns ? f.insns : g.insns };
}

static struct figure run_requests(struct rng_rig *r, unsigned n)
{
	if (insn_fd >= 0)
		ioctl(insn_fd, PERF_EVENT_IOC_RESET, 0), ioctl(insn_fd, PERF_EVENT_IOC_ENABLE, 0);
	uint64_t i0 = insn_read();
	double t0 = now_ns();
	for (unsigned i = 0; i < n; i++)
		if (rng_rig_request(r, 64) != 64) {
			fprintf(stderr, "bench-trace: request %u failed\n", i);
			exit(1);
		}
	double t1 = now_ns();
	uint64_t i1 = insn_read();
	if (insn_fd >= 0)
		ioctl(insn_fd, PERF_EVENT_IOC_DISABLE, 0);
	return (struct figure){ (t1 - t0) / n, insn_fd >= 0 ? (double)(i1 - i0) / n : 0 };
}

static struct figure run_bare_points(unsigned n)
{
	if (insn_fd >= 0)
		ioctl(insn_fd, PERF_EVENT_IOC_RESET, 0), ioctl(insn_fd, PERF_EVENT_IOC_ENABLE, 0);
	uint64_t i0 = insn_read();
	double t0 = now_ns();
	for (unsigned i = 0; i < n; i++) {
		TRACE(TRACE_REQUEST, "virtio-rng0", "request done q%u", i);
		__asm__ volatile("" ::: "memory"); /* keep one load per iteration */
	}
	double t1 = now_ns();
	uint64_t i1 = insn_read();
	if (insn_fd >= 0)
		ioctl(insn_fd, PERF_EVENT_IOC_DISABLE, 0);
	return (struct figure){ (t1 - t0) / n, insn_fd >= 0 ? (double)(i1 - i0) / n : 0 };
}

static void print(const char *what, struct figure f, struct figure base)
{
	printf("  %-34s %8.1f ns", what, f.ns);
	if (insn_fd >= 0)
		printf(" %9.0f insns", f.insns);
	if (base.ns > 0 && insn_fd >= 0)
		printf("   (+%.1f ns, +%.0f insns vs off)", f.ns - base.ns, f.insns - base.insns);
	else if (base.ns > 0)
		printf("   (+%.1f ns vs off)", f.ns - base.ns);
	printf("\n");
}

int main(int argc, char **argv)
{
	unsigned n = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 10) : 200000;
	struct trace_filter all, other;
	struct rng_rig r;
	char err[256];

	if (!n || trace_filter_parse("all", &all, err, sizeof(err)) < 0 ||
	    trace_filter_parse("all,virtio-blk9", &other, err, sizeof(err)) < 0 || rng_rig_start(&r) < 0) {
		fprintf(stderr, "bench-trace: cannot set up\n");
		return 1;
	}
	if (argc > 2) { /* one kind, once, for callgrind */
		trace_set(!strcmp(argv[2], "on") ? &all : !strcmp(argv[2], "miss") ? &other : NULL);
		if (!strcmp(argv[2], "on"))
			dup2(open("/dev/null", O_WRONLY), STDERR_FILENO);
		if (!strcmp(argv[2], "bare"))
			run_bare_points(n);
		else
			run_requests(&r, n);
		rng_rig_stop(&r);
		return 0;
	}
	insn_counter_open();
	/* Trace lines go to stderr: send them to /dev/null, keep our own. */
	int devnull = open("/dev/null", O_WRONLY);
	int saved = dup(STDERR_FILENO);
	struct figure off = { 1e18, 1e18 }, miss = off, on = off, bare = off;

	for (int k = 0; k < RUNS; k++) {
		trace_set(NULL);
		off = best_of(off, run_requests(&r, n));
		bare = best_of(bare, run_bare_points(n * 50));
		trace_set(&other);
		miss = best_of(miss, run_requests(&r, n));
		dup2(devnull, STDERR_FILENO);
		trace_set(&all);
		on = best_of(on, run_requests(&r, n / 4));
		trace_set(NULL);
		dup2(saved, STDERR_FILENO);
	}
	printf("--trace cost: virtio-rng 64-byte requests (kick, pop, done: 3 lines each when on), best of %d\n", RUNS);
	if (insn_fd < 0)
		printf("  (instruction counts unavailable: perf_event_open refused)\n");
	print("per request, tracing off", off, (struct figure){ 0 });
	print("per request, on, device filtered out", miss, off);
	print("per request, on, lines to /dev/null", on, off);
	print("one disabled trace point", bare, (struct figure){ 0 });
	rng_rig_stop(&r);
	return 0;
}
