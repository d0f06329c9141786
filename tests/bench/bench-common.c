/* See bench-common.h. */
#include "tests/bench/bench-common.h"
#include "base/monotonic.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int bench_prepare_image(const char *path)
{
	struct stat st;
	if (stat(path, &st) == 0 && (uint64_t)st.st_size >= BENCH_IMAGE_SIZE)
		return 0;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		return -errno;
	static char buf[1 << 20];
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (char)(i * 31 + 7);
	for (uint64_t off = 0; off < BENCH_IMAGE_SIZE; off += sizeof(buf))
		if (pwrite(fd, buf, sizeof(buf), (off_t)off) != (ssize_t)sizeof(buf)) {
			close(fd);
			return -EIO;
		}
	fsync(fd);
	close(fd);
	return 0;
}

uint64_t bench_xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

uint64_t bench_now_ns(void)
{
	return (uint64_t)monotonic_ns();
}

int bench_cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}
