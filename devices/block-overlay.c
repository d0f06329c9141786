/* The copy-on-write overlay: see block-overlay.h. */
#include "devices/block-overlay.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"

struct blk_overlay {
	int base_fd, fd;
	uint64_t size, nr_clusters;
	uint64_t *written;          /* a bit per cluster: its data is in the overlay (atomic) */
	pthread_mutex_t write_lock; /* writes, discards, write-zeroes: one at a time (copy-up) */
	uint8_t *cluster_buf;       /* copy-up buffer, under write_lock */
};

static bool cluster_written(struct blk_overlay *ov, uint64_t c)
{
	return __atomic_load_n(&ov->written[c / 64], __ATOMIC_ACQUIRE) & (1ull << (c % 64));
}

static void mark_written(struct blk_overlay *ov, uint64_t first, uint64_t last)
{
	for (uint64_t c = first; c <= last; c++)
		__atomic_fetch_or(&ov->written[c / 64], 1ull << (c % 64), __ATOMIC_RELEASE);
}

/* An unlinked file in $TMPDIR: O_TMPFILE where the file system has it,
 * else a named file removed at once. */
static int make_temp_file(char *err, size_t errlen)
{
	const char *dir = getenv("TMPDIR");
	char path[4096];

	if (!dir || !*dir)
		dir = "/tmp";
	int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd >= 0)
		return fd;
	if (snprintf(path, sizeof(path), "%s/skiff-snapshot-XXXXXX", dir) >= (int)sizeof(path)) {
		err_printf(err, errlen, "snapshot=on: TMPDIR %s is too long", dir);
		return -ENAMETOOLONG;
	}
	fd = mkostemp(path, O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		err_printf(err, errlen, "snapshot=on: cannot make an overlay file in %s: %s", dir, strerror(e));
		return -e;
	}
	unlink(path);
	return fd;
}

int blk_overlay_create(struct blk_overlay **out, int base_fd, uint64_t size, char *err, size_t errlen)
{
	struct blk_overlay *ov = calloc(1, sizeof(*ov));

	if (!ov) {
		err_printf(err, errlen, "snapshot=on: out of memory");
		return -ENOMEM;
	}
	ov->base_fd = base_fd;
	ov->size = size;
	ov->nr_clusters = (size + BLK_OVERLAY_CLUSTER - 1) / BLK_OVERLAY_CLUSTER;
	ov->written = calloc((size_t)((ov->nr_clusters + 63) / 64), sizeof(uint64_t));
	ov->cluster_buf = malloc(BLK_OVERLAY_CLUSTER);
	pthread_mutex_init(&ov->write_lock, NULL);
	ov->fd = -1;
	if (!ov->written || !ov->cluster_buf) {
		err_printf(err, errlen, "snapshot=on: out of memory for the overlay's bitmap");
		blk_overlay_free(ov);
		return -ENOMEM;
	}
	ov->fd = make_temp_file(err, errlen);
	if (ov->fd < 0) {
		int ret = ov->fd;
		blk_overlay_free(ov);
		return ret;
	}
	if (ftruncate(ov->fd, (off_t)size) < 0) { /* sparse: costs no blocks yet */
		int e = errno;
		err_printf(err, errlen, "snapshot=on: cannot size the overlay file: %s", strerror(e));
		blk_overlay_free(ov);
		return -e;
	}
	*out = ov;
	return 0;
}

void blk_overlay_free(struct blk_overlay *ov)
{
	if (!ov)
		return;
	if (ov->fd >= 0)
		close(ov->fd);
	pthread_mutex_destroy(&ov->write_lock);
	free(ov->written);
	free(ov->cluster_buf);
	free(ov);
}

/* Move len bytes between fd at `off` and the iovecs from byte `skip` on. */
static int transfer(int fd, const struct iovec *iov, unsigned cnt, size_t skip, uint64_t off, uint64_t len, bool write)
{
	for (unsigned i = 0; i < cnt && len; i++) {
		if (skip >= iov[i].iov_len) {
			skip -= iov[i].iov_len;
			continue;
		}
		uint8_t *p = (uint8_t *)iov[i].iov_base + skip;
		size_t n = iov[i].iov_len - skip;
		if (n > len)
			n = (size_t)len;
		skip = 0;
		len -= n;
		while (n) {
			ssize_t r = write ? pwrite(fd, p, n, (off_t)off) : pread(fd, p, n, (off_t)off);
			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0)
				return -errno;
			if (r == 0)
				return -EIO; /* the base shrank under us */
			p += r;
			off += (uint64_t)r;
			n -= (size_t)r;
		}
	}
	return len ? -EIO : 0;
}

int blk_overlay_read(struct blk_overlay *ov, const struct iovec *iov, unsigned iovcnt, uint64_t off, uint64_t len)
{
	uint64_t done = 0;

	/* A run of clusters with the same state comes from one file. */
	while (done < len) {
		uint64_t pos = off + done, c = pos / BLK_OVERLAY_CLUSTER;
		bool in_overlay = cluster_written(ov, c);
		uint64_t end = (c + 1) * BLK_OVERLAY_CLUSTER;
		while (end < off + len && cluster_written(ov, end / BLK_OVERLAY_CLUSTER) == in_overlay)
			end += BLK_OVERLAY_CLUSTER;
		if (end > off + len)
			end = off + len;
		int ret = transfer(in_overlay ? ov->fd : ov->base_fd, iov, iovcnt, (size_t)done, pos, end - pos, false);
		if (ret < 0)
			return ret;
		done = end - off;
	}
	return 0;
}

/* Cluster c is about to be changed in part: bring the base's data over
 * first. write_lock held. */
static int copy_up(struct blk_overlay *ov, uint64_t c)
{
	if (cluster_written(ov, c))
		return 0;
	uint64_t start = c * BLK_OVERLAY_CLUSTER;
	uint64_t n = ov->size - start < BLK_OVERLAY_CLUSTER ? ov->size - start : BLK_OVERLAY_CLUSTER;
	struct iovec buf = {.iov_base = ov->cluster_buf, .iov_len = (size_t)n};
	int ret = transfer(ov->base_fd, &buf, 1, 0, start, n, false);
	if (ret == 0)
		ret = transfer(ov->fd, &buf, 1, 0, start, n, true);
	if (ret == 0)
		mark_written(ov, c, c);
	return ret;
}

/* Copy up the clusters at either end of [off, off + len) that the
 * range covers only in part. */
static int copy_up_edges(struct blk_overlay *ov, uint64_t off, uint64_t len)
{
	uint64_t first = off / BLK_OVERLAY_CLUSTER, last = (off + len - 1) / BLK_OVERLAY_CLUSTER;
	uint64_t last_end = (last + 1) * BLK_OVERLAY_CLUSTER;
	int ret = 0;

	if (last_end > ov->size)
		last_end = ov->size; /* the disk's last cluster may be short */
	if (off % BLK_OVERLAY_CLUSTER)
		ret = copy_up(ov, first);
	if (ret == 0 && off + len < last_end)
		ret = copy_up(ov, last);
	return ret;
}

static bool all_written(struct blk_overlay *ov, uint64_t first, uint64_t last)
{
	for (uint64_t c = first; c <= last; c++)
		if (!cluster_written(ov, c))
			return false;
	return true;
}

int blk_overlay_write(struct blk_overlay *ov, const struct iovec *iov, unsigned iovcnt, uint64_t off, uint64_t len)
{
	if (!len)
		return 0;
	/* Clusters already in the overlay are never copied up again: a write
	 * that touches only those needs no lock (writes then run in parallel). */
	if (all_written(ov, off / BLK_OVERLAY_CLUSTER, (off + len - 1) / BLK_OVERLAY_CLUSTER))
		return transfer(ov->fd, iov, iovcnt, 0, off, len, true);
	pthread_mutex_lock(&ov->write_lock);
	int ret = copy_up_edges(ov, off, len);
	if (ret == 0)
		ret = transfer(ov->fd, iov, iovcnt, 0, off, len, true);
	if (ret == 0)
		mark_written(ov, off / BLK_OVERLAY_CLUSTER, (off + len - 1) / BLK_OVERLAY_CLUSTER);
	pthread_mutex_unlock(&ov->write_lock);
	return ret;
}

static int write_zero_buffers(struct blk_overlay *ov, uint64_t off, uint64_t len)
{
	memset(ov->cluster_buf, 0, BLK_OVERLAY_CLUSTER);
	while (len) {
		uint64_t n = len < BLK_OVERLAY_CLUSTER ? len : BLK_OVERLAY_CLUSTER;
		struct iovec buf = {.iov_base = ov->cluster_buf, .iov_len = (size_t)n};
		int ret = transfer(ov->fd, &buf, 1, 0, off, n, true);
		if (ret < 0)
			return ret;
		off += n;
		len -= n;
	}
	return 0;
}

int blk_overlay_zero(struct blk_overlay *ov, uint64_t off, uint64_t len)
{
	if (!len)
		return 0;
	pthread_mutex_lock(&ov->write_lock);
	int ret = copy_up_edges(ov, off, len);
	/* A hole in the overlay reads as zeroes and gives its blocks back;
	 * the edges' other bytes were copied up just now. */
	if (ret == 0 && fallocate(ov->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len) < 0)
		ret = errno == EOPNOTSUPP ? write_zero_buffers(ov, off, len) : -errno;
	if (ret == 0)
		mark_written(ov, off / BLK_OVERLAY_CLUSTER, (off + len - 1) / BLK_OVERLAY_CLUSTER);
	pthread_mutex_unlock(&ov->write_lock);
	return ret;
}

uint64_t blk_overlay_clusters_written(struct blk_overlay *ov)
{
	uint64_t n = 0;

	for (uint64_t i = 0; i < (ov->nr_clusters + 63) / 64; i++)
		n += (uint64_t)__builtin_popcountll(__atomic_load_n(&ov->written[i], __ATOMIC_ACQUIRE));
	return n;
}

uint64_t blk_overlay_bitmap_bytes(const struct blk_overlay *ov)
{
	return (ov->nr_clusters + 63) / 64 * sizeof(uint64_t);
}
