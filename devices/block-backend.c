/* The block backend: see block-backend.h. Three parts: opening and
 * locking the image, the worker pool (synchronous system calls on
 * threads), and the io_uring engine (reads, writes and flushes submitted
 * from the caller's thread, completed on one reaper thread or, when
 * already finished, by the submitter: blk_backend_reap()). */
#include "devices/block-backend.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <liburing.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "devices/block-overlay.h"
#include "devices/block-ring.h"
#include "base/io-thread.h"
#include "base/log.h"

/* ThreadSanitizer cannot see that the kernel orders a request's hand-over
 * through io_uring (prepared on the submitting thread, completed on the
 * reaper): say so in sanitizer builds (./configure --enable-tsan). */
#if defined(__SANITIZE_THREAD__)
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);
#define tsan_hand_over(io) __tsan_release(io)
#define tsan_take_over(io) __tsan_acquire(io)
#else
#define tsan_hand_over(io) ((void)(io))
#define tsan_take_over(io) ((void)(io))
#endif

#define POOL_THREADS_ALONE  4 /* no io_uring: the pool does everything */
#define POOL_THREADS_HELPER 1 /* beside io_uring: discards and write-zeroes only */
#define DEFAULT_QUEUE_DEPTH 256
#define SECTOR              512u

_Static_assert(POOL_THREADS_ALONE * BLK_BOUNCE_CHUNK <= BLK_BOUNCE_MAX_BYTES, "one bounce chunk per pool thread");

struct blk_backend {
	int fd;
	uint64_t size;
	unsigned block_size, physical_block_size, mem_align;
	bool readonly, is_device;
	enum blk_cache cache;
	struct blk_overlay *overlay; /* snapshot=on: writes go here, fd is the read-only base */
	void (*batch_end)(void *opaque);
	void *batch_opaque;

	/* The worker pool. */
	pthread_mutex_t pool_lock;
	pthread_cond_t pool_work;
	struct blk_io *pool_head, **pool_tail;
	bool pool_stop;
	unsigned nr_workers;
	pthread_t workers[POOL_THREADS_ALONE];
	/* Bounce buffers (BLK_BOUNCE_CHUNK each) not in use; made when a
	 * worker first needs one, so never more than there are workers.
	 * Guarded by pool_lock. */
	void *bounce_free[POOL_THREADS_ALONE];
	unsigned nr_bounce_free, nr_bounce;

	/* io_uring (used when has_ring). */
	bool has_ring;
	struct io_uring ring;
	pthread_mutex_t sq_lock; /* submitters share the submission queue */
	pthread_mutex_t cq_lock; /* the reaper and blk_backend_reap() share the completion queue */
	pthread_t reaper;
	bool ring_failed;        /* the reaper met an error it cannot wait through and ended (atomic) */

	/* In flight, for close(); ring_inflight: of them, prepared on the ring
	 * and not yet reaped (lost if the ring fails). */
	pthread_mutex_t inflight_lock;
	pthread_cond_t idle;
	unsigned inflight, ring_inflight;
};

/* ---- facts ---- */

uint64_t blk_backend_size(const struct blk_backend *b) { return b->size; }
unsigned blk_backend_block_size(const struct blk_backend *b) { return b->block_size; }
unsigned blk_backend_physical_block_size(const struct blk_backend *b) { return b->physical_block_size; }
bool blk_backend_readonly(const struct blk_backend *b) { return b->readonly; }
struct blk_overlay *blk_backend_overlay(const struct blk_backend *b) { return b->overlay; }
bool blk_backend_is_device(const struct blk_backend *b) { return b->is_device; }
enum blk_cache blk_backend_cache(const struct blk_backend *b) { return b->cache; }
const char *blk_backend_engine_name(const struct blk_backend *b)
{
	return b->has_ring && !__atomic_load_n(&b->ring_failed, __ATOMIC_ACQUIRE) ? "io_uring" : "threads";
}

bool blk_cache_parse(const char *s, enum blk_cache *out)
{
	static const char *const names[] = {[BLK_CACHE_WRITEBACK] = "writeback", [BLK_CACHE_NONE] = "none",
					    [BLK_CACHE_UNSAFE] = "unsafe"};

	for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(s, names[i]) == 0) {
			*out = (enum blk_cache)i;
			return true;
		}
	return false;
}

/* ---- completion ---- */

static void inflight_add(struct blk_backend *b)
{
	pthread_mutex_lock(&b->inflight_lock);
	b->inflight++;
	pthread_mutex_unlock(&b->inflight_lock);
}

/* What close() waits for: every request finished, but for those a failed
 * ring holds (they never finish). inflight_lock held. */
static bool settled(const struct blk_backend *b)
{
	return b->inflight <= (b->ring_failed ? b->ring_inflight : 0);
}

/* The counts changed (inflight_lock held): wake close() if they now
 * satisfy it. Not only at zero: past a ring failure close() is content
 * with inflight == ring_inflight, and a wake-up kept for zero never comes. */
static void settled_signal(struct blk_backend *b)
{
	if (settled(b))
		pthread_cond_broadcast(&b->idle);
}

/* Hand the result to the caller. The in-flight count drops only after
 * done() returned, so close() cannot free what done() still touches. */
static void io_finish(struct blk_backend *b, struct blk_io *io, int result)
{
	io->done(io, result);
	pthread_mutex_lock(&b->inflight_lock);
	b->inflight--;
	settled_signal(b);
	pthread_mutex_unlock(&b->inflight_lock);
}

static void batch_end(struct blk_backend *b)
{
	if (b->batch_end)
		b->batch_end(b->batch_opaque);
}

/* Drop `n` bytes from the front of an iovec array (after a short
 * transfer); returns the new count, *iov advanced. */
static unsigned iov_advance(struct iovec **iov, unsigned cnt, size_t n)
{
	while (cnt && n >= (*iov)->iov_len) {
		n -= (*iov)->iov_len;
		(*iov)++;
		cnt--;
	}
	if (cnt && n) {
		(*iov)->iov_base = (uint8_t *)(*iov)->iov_base + n;
		(*iov)->iov_len -= n;
	}
	return cnt;
}

/* ---- synchronous operations (the worker pool) ---- */

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
		cnt = iov_advance(&iov, cnt, (size_t)n);
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

size_t blk_backend_bounce_bytes(struct blk_backend *b)
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

		io_finish(b, io, sync_execute(b, io));

		/* End the batch when no work is queued *now*, not when this
		 * request was taken: another worker may have ended its batch
		 * while this one ran, and this completion must not wait for
		 * the next request (there may be none: the guest would hang). */
		pthread_mutex_lock(&b->pool_lock);
		if (!b->pool_head) {
			pthread_mutex_unlock(&b->pool_lock);
			batch_end(b);
			pthread_mutex_lock(&b->pool_lock);
		}
	}
	pthread_mutex_unlock(&b->pool_lock);
	return NULL;
}

static void pool_queue(struct blk_backend *b, struct blk_io *io)
{
	pthread_mutex_lock(&b->pool_lock);
	io->next = NULL;
	*b->pool_tail = io;
	b->pool_tail = &io->next;
	pthread_cond_signal(&b->pool_work);
	pthread_mutex_unlock(&b->pool_lock);
}

/* ---- io_uring ---- */

/* Put io's (remaining) operation on the ring; sq_lock held. */
static int ring_prep(struct blk_backend *b, struct blk_io *io)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&b->ring);

	if (!sqe) {
		/* Full of prepared entries: hand them to the kernel, retry. */
		io_uring_submit(&b->ring);
		sqe = io_uring_get_sqe(&b->ring);
		if (!sqe)
			return -EAGAIN;
	}
	switch (io->op) {
	case BLK_OP_READ:
		io_uring_prep_readv(sqe, b->fd, io->iov, io->iovcnt, io->offset + io->transferred);
		break;
	case BLK_OP_WRITE:
		io_uring_prep_writev(sqe, b->fd, io->iov, io->iovcnt, io->offset + io->transferred);
		break;
	default: /* BLK_OP_FLUSH */
		io_uring_prep_fsync(sqe, b->fd, IORING_FSYNC_DATASYNC);
		break;
	}
	io_uring_sqe_set_data(sqe, io);
	tsan_hand_over(io);
	return 0;
}

static void ring_count(struct blk_backend *b, int delta)
{
	pthread_mutex_lock(&b->inflight_lock);
	b->ring_inflight += (unsigned)delta;
	settled_signal(b); /* a request a failed ring just took is lost too */
	pthread_mutex_unlock(&b->inflight_lock);
}

/* Once prepared, io belongs to the ring: should the kernel refuse the
 * submission for now (-EBUSY, -EAGAIN), the entry stays queued and the
 * reaper submits it after its next batch. */
static int ring_submit(struct blk_backend *b, struct blk_io *io)
{
	ring_count(b, 1); /* before the reaper can see it */
	pthread_mutex_lock(&b->sq_lock);
	int ret = ring_prep(b, io);
	if (ret == 0)
		io_uring_submit(&b->ring);
	pthread_mutex_unlock(&b->sq_lock);
	if (ret < 0)
		ring_count(b, -1);
	return ret;
}

/* The reaper cannot wait on the ring any more (an error other than "try
 * again"): it ends, new requests go to the pool, and close() stops
 * waiting for the requests the ring still holds. Those are lost: the
 * kernel may still complete them into their buffers, so they cannot be
 * failed here. */
static void ring_fail(struct blk_backend *b, int err)
{
	pthread_mutex_lock(&b->inflight_lock);
	log_error("block", "io_uring wait failed: %s; %u request(s) on the ring are lost, the rest go to worker threads",
		  strerror(-err), b->ring_inflight);
	__atomic_store_n(&b->ring_failed, true, __ATOMIC_RELEASE);
	settled_signal(b);
	pthread_mutex_unlock(&b->inflight_lock);
}

static void ring_submit_leftovers(struct blk_backend *b)
{
	pthread_mutex_lock(&b->sq_lock);
	if (io_uring_sq_ready(&b->ring))
		io_uring_submit(&b->ring);
	pthread_mutex_unlock(&b->sq_lock);
}

/* A read or write came back: done, failed, or short (resubmit the rest).
 * Returns true if io is finished. */
static bool ring_complete_rw(struct blk_backend *b, struct blk_io *io, int res, int *result)
{
	if (res < 0) {
		*result = res;
		return true;
	}
	if (res == 0 && io->transferred < io->len) {
		*result = -EIO; /* the image shrank under us */
		return true;
	}
	io->transferred += (uint64_t)res;
	if (io->transferred >= io->len) {
		*result = 0;
		return true;
	}
	io->iovcnt = iov_advance(&io->iov, io->iovcnt, (size_t)res);
	if (ring_submit(b, io) < 0) {
		*result = -EIO; /* no room on the ring: rare enough to fail */
		return true;
	}
	return false;
}

/* Finish every request on the completion queue, on the calling thread.
 * The reaper passes stop and takes close()'s NULL entry as its signal to
 * end; anyone else (stop == NULL) leaves that entry, and all after it,
 * for the reaper. Returns the requests finished. */
static unsigned ring_reap_ready(struct blk_backend *b, bool *stop)
{
	struct io_uring_cqe *cqe;
	unsigned head, seen = 0, finished = 0;

	io_uring_for_each_cqe(&b->ring, head, cqe) {
		struct blk_io *io = io_uring_cqe_get_data(cqe);
		int res = cqe->res, result = res < 0 ? res : 0;
		if (!io && !stop)
			break;
		seen++;
		if (!io) {
			*stop = true;
			continue;
		}
		tsan_take_over(io);
		ring_count(b, -1);
		if (io->op == BLK_OP_FLUSH || ring_complete_rw(b, io, res, &result)) {
			io_finish(b, io, result);
			finished++;
		}
	}
	io_uring_cq_advance(&b->ring, seen);
	return finished;
}

/* The reaper: the thread that waits for completions (blk_backend_reap()
 * takes those that are there at once, without waking it). A NULL
 * user_data is the stop signal from close(). */
static void *ring_reaper(void *arg)
{
	struct blk_backend *b = arg;
	bool stop = false;

	thread_role_enter(THREAD_ROLE_BLOCK_IO);
	while (!stop) {
		struct io_uring_cqe *cqe;
		int ret = io_uring_wait_cqe(&b->ring, &cqe);
		if (ret == -EINTR || ret == -EAGAIN || ret == -EBUSY || ret == -ETIME)
			continue; /* nothing to reap yet: wait again */
		if (ret < 0) {
			ring_fail(b, ret);
			break;
		}
		pthread_mutex_lock(&b->cq_lock);
		unsigned finished = ring_reap_ready(b, &stop);
		pthread_mutex_unlock(&b->cq_lock);
		if (finished)
			batch_end(b);
		if (!stop)
			ring_submit_leftovers(b);
	}
	return NULL;
}

void blk_backend_reap(struct blk_backend *b)
{
	if (!b->has_ring || __atomic_load_n(&b->ring_failed, __ATOMIC_ACQUIRE))
		return;
	/* The lock before the peek: the reaper moves the queue's head under it. */
	if (pthread_mutex_trylock(&b->cq_lock) != 0)
		return; /* the reaper is at it */
	unsigned finished = io_uring_cq_ready(&b->ring) ? ring_reap_ready(b, NULL) : 0;
	pthread_mutex_unlock(&b->cq_lock);
	if (finished)
		batch_end(b);
}

/* ---- submitting ---- */

static bool iov_aligned(const struct blk_io *io, unsigned align)
{
	for (unsigned i = 0; i < io->iovcnt; i++)
		if (((uintptr_t)io->iov[i].iov_base | io->iov[i].iov_len) & (align - 1))
			return false;
	return true;
}

/* Is [offset, offset + len) inside the image (and aligned, under O_DIRECT)? */
static int check_range(const struct blk_backend *b, const struct blk_io *io)
{
	if (io->len > b->size || io->offset > b->size - io->len)
		return -EINVAL;
	if (b->cache == BLK_CACHE_NONE && ((io->offset | io->len) & (b->block_size - 1)))
		return -EINVAL;
	return 0;
}

int blk_backend_submit(struct blk_backend *b, struct blk_io *io)
{
	int ret;

	io->bounced = false;
	io->transferred = 0;
	if (io->op != BLK_OP_READ && io->op != BLK_OP_FLUSH && b->readonly)
		return -EROFS;
	switch (io->op) {
	case BLK_OP_READ:
	case BLK_OP_WRITE:
		io->len = 0;
		for (unsigned i = 0; i < io->iovcnt; i++) {
			if (io->iov[i].iov_len > UINT64_MAX - io->len)
				return -EINVAL;
			io->len += io->iov[i].iov_len;
		}
		if ((ret = check_range(b, io)) < 0)
			return ret;
		/* O_DIRECT wants aligned memory: see BLK_BOUNCE_CHUNK. */
		io->bounced = b->cache == BLK_CACHE_NONE && !iov_aligned(io, b->mem_align);
		break;
	case BLK_OP_DISCARD:
	case BLK_OP_WRITE_ZEROES:
		if ((ret = check_range(b, io)) < 0)
			return ret;
		break;
	case BLK_OP_FLUSH:
		break;
	default:
		return -EINVAL;
	}

	inflight_add(b);
	bool on_ring = b->has_ring && !io->bounced && !__atomic_load_n(&b->ring_failed, __ATOMIC_ACQUIRE) && (io->op == BLK_OP_READ || io->op == BLK_OP_WRITE ||
				       (io->op == BLK_OP_FLUSH && b->cache != BLK_CACHE_UNSAFE));
	if (on_ring && ring_submit(b, io) == 0)
		return 0;
	/* No ring, an operation it does not carry, or the ring refused: the
	 * pool does it (done() must never run inside submit). */
	pool_queue(b, io);
	return 0;
}

/* ---- opening and locking ---- */

/* Does this /proc/PID/fdinfo/FD text list a lock on (maj:min:ino)?
 * Its lines look like "lock:	1: OFDLCK ADVISORY  WRITE -1 fe:00:5678 0 EOF". */
static bool fdinfo_has_lock(const char *path, unsigned maj, unsigned min, unsigned long long ino)
{
	char line[256];
	bool found = false;
	FILE *f = fopen(path, "r");

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		unsigned lmaj, lmin;
		unsigned long long lino;
		found = strncmp(line, "lock:", 5) == 0 &&
			sscanf(line + 5, "%*d: %*s %*s %*s %*d %x:%x:%llu", &lmaj, &lmin, &lino) == 3 && lmaj == maj &&
			lmin == min && lino == ino;
	}
	fclose(f);
	return found;
}

/* The pid holding a lock on fd's file. An OFD lock belongs to an open
 * file description, not a process: F_OFD_GETLK and /proc/locks say pid
 * -1. But each process's /proc/PID/fdinfo lists the locks on the
 * descriptions it has open, so look there (only on a conflict, at start).
 * It may be this very process (the same image given twice). 0 if unknown
 * (e.g. another user's process). */
static long lock_holder_pid(int fd)
{
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
	struct stat st;
	long found = 0;

	if (fcntl(fd, F_OFD_GETLK, &fl) == 0 && fl.l_type != F_UNLCK && fl.l_pid > 0)
		return fl.l_pid;
	if (fstat(fd, &st) < 0)
		return 0;
	DIR *procs = opendir("/proc");
	if (!procs)
		return 0;
	struct dirent *p;
	while (!found && (p = readdir(procs))) {
		char path[300];
		long pid = strtol(p->d_name, NULL, 10);
		if (pid <= 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%ld/fdinfo", pid);
		DIR *fds = opendir(path);
		if (!fds)
			continue;
		struct dirent *d;
		while (!found && (d = readdir(fds))) {
			if (d->d_name[0] == '.' || (pid == getpid() && atoi(d->d_name) == fd))
				continue;
			snprintf(path, sizeof(path), "/proc/%ld/fdinfo/%s", pid, d->d_name);
			if (fdinfo_has_lock(path, major(st.st_dev), minor(st.st_dev), st.st_ino))
				found = pid;
		}
		closedir(fds);
	}
	closedir(procs);
	return found;
}

static int lock_image(struct blk_backend *b, const char *path, char *err, size_t errlen)
{
	struct flock fl = {.l_type = b->readonly ? F_RDLCK : F_WRLCK, .l_whence = SEEK_SET};

	if (fcntl(b->fd, F_OFD_SETLK, &fl) == 0)
		return 0;
	int e = errno;
	if (e != EAGAIN && e != EACCES) {
		err_printf(err, errlen, "%s: cannot lock: %s", path, strerror(e));
		return -e;
	}
	long pid = lock_holder_pid(b->fd);
	const char *how = b->readonly ? "being written" : "in use";
	if (pid > 0)
		err_printf(err, errlen, "%s is %s by another process (pid %ld): it holds a lock on the image", path, how,
			   pid);
	else
		err_printf(err, errlen, "%s is %s by another process: it holds a lock on the image", path, how);
	return -EBUSY;
}

/* Size and block sizes of a file or block device; the O_DIRECT alignment. */
static int probe_geometry(struct blk_backend *b, const struct stat *st, const char *path, char *err, size_t errlen)
{
	b->block_size = SECTOR;
	b->physical_block_size = 4096;
	b->mem_align = SECTOR;
	if (b->is_device) {
		int lbs = 0, pbs = 0;
		if (ioctl(b->fd, BLKGETSIZE64, &b->size) < 0) {
			err_printf(err, errlen, "%s: cannot read the device size: %s", path, strerror(errno));
			return -errno;
		}
		if (ioctl(b->fd, BLKSSZGET, &lbs) == 0 && lbs >= (int)SECTOR)
			b->mem_align = (unsigned)lbs;
		if (ioctl(b->fd, BLKPBSZGET, &pbs) == 0 && pbs >= (int)SECTOR)
			b->physical_block_size = (unsigned)pbs;
		if (b->cache == BLK_CACHE_NONE)
			b->block_size = b->mem_align;
		return 0;
	}
	b->size = (uint64_t)st->st_size;
	if (st->st_blksize >= (blksize_t)SECTOR && !(st->st_blksize & (st->st_blksize - 1)))
		b->physical_block_size = (unsigned)st->st_blksize;
	if (b->cache == BLK_CACHE_NONE) {
		/* The file system's direct-I/O alignment (statx STATX_DIOALIGN,
		 * Linux 6.1), else the safe choice: its block size. */
		struct statx sx;
		if (statx(b->fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &sx) == 0 && (sx.stx_mask & STATX_DIOALIGN) &&
		    sx.stx_dio_offset_align) {
			b->block_size = sx.stx_dio_offset_align < SECTOR ? SECTOR : sx.stx_dio_offset_align;
			b->mem_align = sx.stx_dio_mem_align < SECTOR ? SECTOR : sx.stx_dio_mem_align;
		} else {
			b->block_size = b->mem_align = b->physical_block_size;
		}
	}
	if (b->cache == BLK_CACHE_NONE && b->block_size > BLK_BOUNCE_CHUNK) {
		err_printf(err, errlen, "%s: cache=none: a %u-byte block is larger than a bounce chunk", path,
			   b->block_size);
		return -EINVAL;
	}
	if (b->size < b->block_size) {
		err_printf(err, errlen, "%s: the image is smaller than one %u-byte block", path, b->block_size);
		return -EINVAL;
	}
	return 0;
}

static int open_image(struct blk_backend *b, const struct blk_backend_options *opt, char *err, size_t errlen)
{
	int flags = (b->readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC;
	struct stat st;

	if (opt->cache == BLK_CACHE_NONE)
		flags |= O_DIRECT;
	b->fd = open(opt->path, flags);
	if (b->fd < 0 && errno == EISDIR) {
		err_printf(err, errlen, "%s is a directory, not a disk image", opt->path);
		return -EISDIR;
	}
	if (b->fd < 0 && errno == EINVAL && opt->cache == BLK_CACHE_NONE) {
		err_printf(err, errlen, "%s: cache=none needs O_DIRECT, which its file system does not support",
			   opt->path);
		return -EINVAL;
	}
	if (b->fd < 0) {
		err_printf(err, errlen, "cannot open %s: %s", opt->path, strerror(errno));
		return -errno;
	}
	if (fstat(b->fd, &st) < 0) {
		err_printf(err, errlen, "%s: %s", opt->path, strerror(errno));
		return -errno;
	}
	if (S_ISDIR(st.st_mode)) { /* O_RDONLY opens a directory without EISDIR */
		err_printf(err, errlen, "%s is a directory, not a disk image", opt->path);
		return -EISDIR;
	}
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
		err_printf(err, errlen, "%s is neither a regular file nor a block device", opt->path);
		return -EINVAL;
	}
	b->is_device = S_ISBLK(st.st_mode);
	int ret = lock_image(b, opt->path, err, errlen);
	return ret < 0 ? ret : probe_geometry(b, &st, opt->path, err, errlen);
}

/* snapshot=on: the image opened read-only as the base (so a shared
 * lock: other snapshots may share it, a writer may not), and an overlay.
 * The overlay is plain synchronous file I/O on the worker threads. */
static int open_snapshot(struct blk_backend *b, const struct blk_backend_options *opt, char *err, size_t errlen)
{
	if (opt->readonly) {
		err_printf(err, errlen, "%s: snapshot=on and readonly=on exclude each other", opt->path);
		return -EINVAL;
	}
	if (opt->cache == BLK_CACHE_NONE) {
		err_printf(err, errlen, "%s: snapshot=on cannot use cache=none (the overlay lives in $TMPDIR)",
			   opt->path);
		return -EINVAL;
	}
	if (opt->engine == BLK_ENGINE_IO_URING) {
		err_printf(err, errlen, "%s: snapshot=on runs on worker threads: use aio=auto or aio=threads", opt->path);
		return -EINVAL;
	}
	b->readonly = true;
	int ret = open_image(b, opt, err, errlen);
	if (ret < 0)
		return ret;
	ret = blk_overlay_create(&b->overlay, b->fd, b->size, err, errlen);
	if (ret < 0)
		return ret;
	b->readonly = false;
	return 0;
}

static int start_threads(struct blk_backend *b, const struct blk_backend_options *opt, char *err, size_t errlen)
{
	if (opt->engine != BLK_ENGINE_THREADS && !b->overlay) {
		unsigned depth = opt->queue_depth ? opt->queue_depth : DEFAULT_QUEUE_DEPTH;
		int ret = block_ring_init(&b->ring, depth);
		if (ret == 0) {
			b->has_ring = true;
		} else if (opt->engine == BLK_ENGINE_IO_URING) {
			err_printf(err, errlen, "%s: io_uring unavailable: %s", opt->path, strerror(-ret));
			return ret;
		} else {
			log_debug("block", "io_uring unavailable (%s): using worker threads", strerror(-ret));
		}
	}
	if (b->has_ring && io_thread_create(&b->reaper, ring_reaper, b) != 0) {
		io_uring_queue_exit(&b->ring);
		b->has_ring = false;
	}
	unsigned want = b->has_ring ? POOL_THREADS_HELPER : POOL_THREADS_ALONE;
	for (b->nr_workers = 0; b->nr_workers < want; b->nr_workers++)
		if (io_thread_create(&b->workers[b->nr_workers], pool_worker, b) != 0)
			break;
	if (b->nr_workers == 0) {
		err_printf(err, errlen, "%s: cannot start I/O threads", opt->path);
		return -EAGAIN;
	}
	return 0;
}

int blk_backend_open(struct blk_backend **out, const struct blk_backend_options *opt, char *err, size_t errlen)
{
	struct blk_backend *b = calloc(1, sizeof(*b));
	int ret;

	if (!b) {
		err_printf(err, errlen, "%s: out of memory", opt->path);
		return -ENOMEM;
	}
	b->fd = -1;
	b->readonly = opt->readonly;
	b->cache = opt->cache;
	b->batch_end = opt->batch_end;
	b->batch_opaque = opt->batch_opaque;
	b->pool_tail = &b->pool_head;
	pthread_mutex_init(&b->pool_lock, NULL);
	pthread_cond_init(&b->pool_work, NULL);
	pthread_mutex_init(&b->sq_lock, NULL);
	pthread_mutex_init(&b->cq_lock, NULL);
	pthread_mutex_init(&b->inflight_lock, NULL);
	pthread_cond_init(&b->idle, NULL);

	if (opt->snapshot)
		ret = open_snapshot(b, opt, err, errlen);
	else
		ret = open_image(b, opt, err, errlen);
	if (ret == 0)
		ret = start_threads(b, opt, err, errlen);
	if (ret < 0) {
		blk_backend_close(b);
		return ret;
	}
	*out = b;
	return 0;
}

void blk_backend_close(struct blk_backend *b)
{
	if (!b)
		return;
	/* Every request finishes, but those a failed ring holds never do. */
	pthread_mutex_lock(&b->inflight_lock);
	while (!settled(b))
		pthread_cond_wait(&b->idle, &b->inflight_lock);
	pthread_mutex_unlock(&b->inflight_lock);

	if (b->has_ring) {
		pthread_mutex_lock(&b->sq_lock);
		struct io_uring_sqe *sqe = io_uring_get_sqe(&b->ring);
		if (!sqe) {
			io_uring_submit(&b->ring);
			sqe = io_uring_get_sqe(&b->ring);
		}
		io_uring_prep_nop(sqe);
		io_uring_sqe_set_data(sqe, NULL);
		io_uring_submit(&b->ring);
		pthread_mutex_unlock(&b->sq_lock);
		pthread_join(b->reaper, NULL);
		io_uring_queue_exit(&b->ring);
	}
	pthread_mutex_lock(&b->pool_lock);
	b->pool_stop = true;
	pthread_cond_broadcast(&b->pool_work);
	pthread_mutex_unlock(&b->pool_lock);
	for (unsigned i = 0; i < b->nr_workers; i++)
		pthread_join(b->workers[i], NULL);

	while (b->nr_bounce_free)
		free(b->bounce_free[--b->nr_bounce_free]);
	blk_overlay_free(b->overlay);
	if (b->fd >= 0)
		close(b->fd);
	pthread_mutex_destroy(&b->pool_lock);
	pthread_cond_destroy(&b->pool_work);
	pthread_mutex_destroy(&b->sq_lock);
	pthread_mutex_destroy(&b->cq_lock);
	pthread_mutex_destroy(&b->inflight_lock);
	pthread_cond_destroy(&b->idle);
	free(b);
}
