/* mem-helper: the guest side of the balloon boot test, as one static
 * program (each exec costs ~0.6 s on a software-KVM host, and busybox
 * has no tool that touches memory or prints every 100 ms).
 *
 *   mem-helper touch MIB   map MIB MiB, write every page, report the time,
 *                          and give it all back (exit 0), or exit 1 if the
 *                          memory cannot be had (or die by the OOM killer).
 *                          It uses 2 MiB huge pages (reserved through
 *                          /proc/sys/vm/nr_hugepages, released again after):
 *                          on a software-KVM host each 4 KiB page fault
 *                          costs milliseconds of emulated ring 0, so 300 MiB
 *                          of small pages take minutes, huge pages seconds.
 *                          Without enough huge pages it falls back to small
 *                          ones.
 *   mem-helper tick        print "skiff-tick N" every 100 ms, forever */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

#define NR_HUGEPAGES "/proc/sys/vm/nr_hugepages"

static void set_hugepages(unsigned long n)
{
	FILE *f = fopen(NR_HUGEPAGES, "w");

	if (f) {
		fprintf(f, "%lu\n", n);
		fclose(f);
	}
}

static unsigned long get_hugepages(void)
{
	FILE *f = fopen(NR_HUGEPAGES, "r");
	unsigned long n = 0;

	if (f) {
		if (fscanf(f, "%lu", &n) != 1)
			n = 0;
		fclose(f);
	}
	return n;
}

static int touch(unsigned long mib)
{
	size_t len = mib << 20;
	double start = now_s();
	unsigned long want = (mib + 1) / 2;
	int huge = 0;
	unsigned char *p = MAP_FAILED;

	set_hugepages(want);
	if (get_hugepages() >= want) {
		len = want << 21;
		p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
		huge = p != MAP_FAILED;
	}
	if (!huge) {
		set_hugepages(0);
		len = mib << 20;
		p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	}
	if (p == MAP_FAILED) {
		perror("mem-helper: mmap");
		return 1;
	}
	for (size_t off = 0; off < len; off += 4096)
		p[off] = (unsigned char)(off >> 12) | 1; /* non-zero: a real, private page */
	unsigned long sum = 0;
	for (size_t off = 0; off < len; off += 4096)
		sum += p[off] != 0;
	printf("skiff-guest: mem-helper touched %lu MiB (%lu pages ok, %s pages) in %.1f s\n", mib, sum,
	       huge ? "2 MiB" : "4 KiB", now_s() - start);
	fflush(stdout);
	munmap(p, len);
	if (huge)
		set_hugepages(0); /* back to the page allocator */
	return sum == len / 4096 ? 0 : 1;
}

static _Noreturn void tick(void)
{
	struct timespec period = { 0, 100 * 1000 * 1000 };

	for (unsigned long n = 0;; n++) {
		printf("skiff-tick %lu\n", n);
		fflush(stdout);
		nanosleep(&period, NULL);
	}
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "touch") == 0)
		return touch(strtoul(argv[2], NULL, 10));
	if (argc == 2 && strcmp(argv[1], "tick") == 0)
		tick();
	fprintf(stderr, "usage: mem-helper touch MIB | tick\n");
	return 2;
}
