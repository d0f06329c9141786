/* The block backend's worker pool: every operation as a synchronous
 * system call (preadv/pwritev, fallocate, BLKDISCARD, fdatasync, or the
 * snapshot overlay) on a few threads, and the bounded bounce buffers
 * cache=none needs for unaligned guest memory. Alone when there is no
 * io_uring; beside it, it takes what the ring does not carry. */
#include "devices/block-engine-pool.h"

#include <errno.h>
#include <limits.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "devices/block-engine.h"
#include "devices/block-overlay.h"
#include "base/io-thread.h"

/* ---- synchronous operations ---- */

static int sync_rw(struct blk_backend *b, struct blk_io *io)
{
	struct iovec *iov = io->iov;
	unsigned cnt = io->iovcnt;
	uint64_t off = io->offset, left = io->len;

	while (left) {
		ssize_t n = io->op == BLK_OP_READ ? preadv(b->fd, iov, (int)(cnt > IOV_MAX ? IOV_MAX : cnt), (off_t)off)
						  : pwritev(b->fd, iov, (int)(cnt > IOV_MAX ? IOV_MAX : cnt), (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO; /* the image shrank under us */
		off += (uint64_t)n;
		left -= (uint64_t)n;
		cnt = blk_iov_advance(&iov, cnt, (size_t)n);
	}
	return 0;
}

/* A bounce buffer for this worker: a spare one, or a new one while
 * there are fewer than workers (so at most one each). NULL: no memory. */
static void *bounce_get(struct blk_backend *b)
{
	void *buf = NULL;

	pthread_mutex_lock(&b->pool_lock);
	if (b->nr_bounce_free)
		buf = b->bounce_free[--b->nr_bounce_free];
	else if (b->nr_bounce < POOL_THREADS_ALONE &&
		 posix_memalign(&buf, b->mem_align < 4096 ? 4096 : b->mem_align, BLK_BOUNCE_CHUNK) == 0)
		b->nr_bounce++;
	pthread_mutex_unlock(&b->pool_lock);
	return buf;
}

static void bounce_put(struct blk_backend *b, void *buf)
{
	pthread_mutex_lock(&b->pool_lock);
	b->bounce_free[b->nr_bounce_free++] = buf;
	pthread_mutex_unlock(&b->pool_lock);
}

size_t blk_pool_bounce_bytes(struct blk_backend *b)
{
	pthread_mutex_lock(&b->pool_lock);
	size_t bytes = (size_t)b->nr_bounce * BLK_BOUNCE_CHUNK;
	pthread_mutex_unlock(&b->pool_lock);
	return bytes;
}

/* Copy len bytes between buf and the iovecs, from byte `skip` of the
 * iovecs on. */
static void iov_copy(const struct iovec *iov, unsigned cnt, size_t skip, void *buf, size_t len, bool to_iov)
{
	uint8_t *p = buf;

	for (unsigned i = 0; i < cnt && len; i++) {
		size_t n = iov[i].iov_len;
		if (skip >= n) {
			skip -= n;
			continue;
		}
		n -= skip;
		if (n > len)
			n = len;
		uint8_t *base = (uint8_t *)iov[i].iov_base + skip;
		memcpy(to_iov ? base : p, to_iov ? p : base, n);
		p += n;
		len -= n;
		skip = 0;
	}
}

/* cache=none with unaligned memory: BLK_BOUNCE_CHUNK bytes at a time
 * through this worker's aligned buffer. Offsets and lengths are
 * block-aligned (check_range), and so is every chunk. */
static int sync_rw_bounced(struct blk_backend *b, struct blk_io *io)
{
	void *buf = bounce_get(b);
	uint64_t done = 0;
	int ret = 0;

	if (!buf)
		return -ENOMEM;
	while (done < io->len && ret == 0) {
		size_t n = io->len - done < BLK_BOUNCE_CHUNK ? (size_t)(io->len - done) : BLK_BOUNCE_CHUNK;
		struct iovec chunk = {.iov_base = buf, .iov_len = n};
		struct blk_io part = {.op = io->op, .offset = io->offset + done, .len = n, .iov = &chunk, .iovcnt = 1};
		if (io->op == BLK_OP_WRITE)
			iov_copy(io->iov, io->iovcnt, (size_t)done, buf, n, false);
		ret = sync_rw(b, &part);
		if (ret == 0 && io->op == BLK_OP_READ)
			iov_copy(io->iov, io->iovcnt, (size_t)done, buf, n, true);
		done += n;
	}
	bounce_put(b, buf);
	return ret;
}

/* Zeroes written the slow way, for images whose file system cannot
 * fallocate a zero range. */
static int write_zero_buffers(struct blk_backend *b, uint64_t off, uint64_t len)
{
	const size_t chunk = 1u << 20;
	void *zero;
	int ret = 0;

	if (posix_memalign(&zero, b->mem_align < 4096 ? 4096 : b->mem_align, chunk))
		return -ENOMEM;
	memset(zero, 0, chunk);
	while (len && ret == 0) {
		size_t n = len < chunk ? (size_t)len : chunk;
		ssize_t w = pwrite(b->fd, zero, n, (off_t)off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			ret = w < 0 ? -errno : -EIO;
		else {
			off += (uint64_t)w;
			len -= (uint64_t)w;
		}
	}
	free(zero);
	return ret;
}

static int sync_discard(struct blk_backend *b, struct blk_io *io)
{
	if (b->is_device) {
		uint64_t range[2] = {io->offset, io->len};
		return ioctl(b->fd, BLKDISCARD, range) < 0 ? -errno : 0;
	}
	/* The punched range reads back as zeroes and frees the host blocks. */
	if (fallocate(b->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)io->offset, (off_t)io->len) < 0)
		return -errno;
	return 0;
}

static int sync_write_zeroes(struct blk_backend *b, struct blk_io *io)
{
	/* On files and block devices alike, a punched hole reads as zeroes
	 * and may deallocate; a zero range stays allocated. */
	int mode = (io->flags & BLK_IO_UNMAP) ? FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE
					     : FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE;

	if (fallocate(b->fd, mode, (off_t)io->offset, (off_t)io->len) == 0)
		return 0;
	if (errno != EOPNOTSUPP && errno != EINVAL)
		return -errno;
	return write_zero_buffers(b, io->offset, io->len);
}

static int sync_flush(struct blk_backend *b)
{
	if (b->cache == BLK_CACHE_UNSAFE)
		return 0;
	return fdatasync(b->fd) < 0 ? -errno : 0;
}

/* snapshot=on. FLUSH has nothing to make durable: the overlay is thrown
 * away at close, and the base is never written. */
static int overlay_execute(struct blk_backend *b, struct blk_io *io)
{
	switch (io->op) {
	case BLK_OP_READ:
		return blk_overlay_read(b->overlay, io->iov, io->iovcnt, io->offset, io->len);
	case BLK_OP_WRITE:
		return blk_overlay_write(b->overlay, io->iov, io->iovcnt, io->offset, io->len);
	case BLK_OP_FLUSH:
		return 0;
	case BLK_OP_DISCARD:
	case BLK_OP_WRITE_ZEROES:
		return blk_overlay_zero(b->overlay, io->offset, io->len);
	}
	return -EINVAL;
}

static int sync_execute(struct blk_backend *b, struct blk_io *io)
{
	if (b->overlay)
		return overlay_execute(b, io);
	switch (io->op) {
	case BLK_OP_READ:
	case BLK_OP_WRITE:
		return io->bounced ? sync_rw_bounced(b, io) : sync_rw(b, io);
	case BLK_OP_FLUSH:
		return sync_flush(b);
	case BLK_OP_DISCARD:
		return sync_discard(b, io);
	case BLK_OP_WRITE_ZEROES:
		return sync_write_zeroes(b, io);
	}
	return -EINVAL;
}

/* ---- the workers ---- */

static void *pool_worker(void *arg)
{
	struct blk_backend *b = arg;

	thread_role_enter(THREAD_ROLE_BLOCK_IO);
	pthread_mutex_lock(&b->pool_lock);
	for (;;) {
		while (!b->pool_head && !b->pool_stop)
			pthread_cond_wait(&b->pool_work, &b->pool_lock);
		if (!b->pool_head)
			break; /* stopping, and the queue is drained */
		struct blk_io *io = b->pool_head;
		b->pool_head = io->next;
		if (!b->pool_head)
			b->pool_tail = &b->pool_head;
		pthread_mutex_unlock(&b->pool_lock);

		blk_io_finish(b, io, sync_execute(b, io));

		/* End the batch when no work is queued *now*, not when this
		 * request was taken: another worker may have ended its batch
		 * while this one ran, and this completion must not wait for
		 * the next request (there may be none: the guest would hang). */
		pthread_mutex_lock(&b->pool_lock);
		if (!b->pool_head) {
			pthread_mutex_unlock(&b->pool_lock);
			blk_batch_end(b);
			pthread_mutex_lock(&b->pool_lock);
		}
	}
	pthread_mutex_unlock(&b->pool_lock);
	return NULL;
}

void blk_pool_queue(struct blk_backend *b, struct blk_io *io)
{
	pthread_mutex_lock(&b->pool_lock);
	io->next = NULL;
	*b->pool_tail = io;
	b->pool_tail = &io->next;
	pthread_cond_signal(&b->pool_work);
	pthread_mutex_unlock(&b->pool_lock);
}

unsigned blk_pool_start(struct blk_backend *b, unsigned want)
{
	for (b->nr_workers = 0; b->nr_workers < want; b->nr_workers++)
		if (io_thread_create(&b->workers[b->nr_workers], pool_worker, b) != 0)
			break;
	return b->nr_workers;
}

void blk_pool_stop(struct blk_backend *b)
{
	pthread_mutex_lock(&b->pool_lock);
	b->pool_stop = true;
	pthread_cond_broadcast(&b->pool_work);
	pthread_mutex_unlock(&b->pool_lock);
	for (unsigned i = 0; i < b->nr_workers; i++)
		pthread_join(b->workers[i], NULL);

	while (b->nr_bounce_free)
		free(b->bounce_free[--b->nr_bounce_free]);
}
