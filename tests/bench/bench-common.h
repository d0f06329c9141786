/* What the block benchmarks share: the image file they run on, a cheap
 * random number generator and a clock. */
#ifndef SKIFF_BENCH_COMMON_H
#define SKIFF_BENCH_COMMON_H

#include <stdint.h>

#define BENCH_IMAGE_SIZE (256ull << 20)
#define BENCH_IMAGE_PATH "/var/tmp/skiff-bench.img"

/* Create path with BENCH_IMAGE_SIZE bytes of data unless it is already
 * that large. 0 or -errno. */
int bench_prepare_image(const char *path);

uint64_t bench_xorshift(uint64_t *state);
/* monotonic_ns() as the benches keep it: unsigned. */
uint64_t bench_now_ns(void);
/* qsort comparator for uint64_t. */
int bench_cmp_u64(const void *a, const void *b);

#endif
