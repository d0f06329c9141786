/* Benchmark (not a test) of the kernel loader alone: kernel_image_open()
 * and kernel_image_load() of one kernel file into 512 MiB of guest RAM
 * (anonymous memory, no KVM), the part of skiff's start-up that grows
 * with the kernel file. Prints the wall time of ROUNDS rounds (median)
 * and the process's peak RSS; run it under callgrind for instructions:
 *
 *   valgrind --tool=callgrind tests/bench/bench-kernel-load KERNEL 1 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/resource.h>

#include "kvm/x86/kernel-load.h"
#include "tests/bench/bench-common.h"

#define RAM_SIZE (512ull << 20)

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s KERNEL [ROUNDS]\n", argv[0]);
		return 2;
	}
	unsigned rounds = argc > 2 ? (unsigned)atoi(argv[2]) : 20;
	if (rounds == 0 || rounds > 1000)
		rounds = 20;
	void *ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (ram == MAP_FAILED) {
		perror("bench: mmap");
		return 1;
	}
	struct guest_mem mem = {.region = {{.gpa = 0, .size = RAM_SIZE, .host = ram}}, .nr_regions = 1};
	uint64_t ns[1000];
	for (unsigned i = 0; i < rounds; i++) {
		struct kernel_image img;
		struct kernel_entry entry;
		char err[256] = "";
		uint64_t t0 = bench_now_ns();
		int ret = kernel_image_open(argv[1], &img, err, sizeof(err));
		if (ret == 0)
			ret = kernel_image_load(&img, &mem, &entry, err, sizeof(err));
		kernel_image_close(&img);
		ns[i] = bench_now_ns() - t0;
		if (ret < 0) {
			fprintf(stderr, "bench: %s\n", err);
			return 1;
		}
	}
	qsort(ns, rounds, sizeof(ns[0]), cmp_u64);
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	printf("%s: open+load median %.2f ms over %u rounds, peak RSS %ld KiB (guest RAM touched included)\n", argv[1],
	       ns[rounds / 2] / 1e6, rounds, ru.ru_maxrss);
	return 0;
}
