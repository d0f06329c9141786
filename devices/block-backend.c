/* The block backend's front: see block-backend.h. It checks and routes
 * each request to an engine, and opens and closes the whole. The parts:
 *   block-open.c          opening and locking the image;
 *   block-engine-pool.c   the worker pool (synchronous system calls);
 *   block-engine-uring.c  io_uring (reads, writes, flushes; a reaper);
 *   block-engine.c        the state and completion both engines share.
 * This file stands on all four; the engines and block-open.c on
 * block-engine.c alone, never on each other. */
#include "devices/block-backend.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "devices/block-engine.h"
#include "devices/block-engine-pool.h"
#include "devices/block-engine-uring.h"
#include "devices/block-open.h"
#include "devices/block-overlay.h"
#include "base/log.h"

#define POOL_THREADS_HELPER 1 /* beside io_uring: discards and write-zeroes only */
#define DEFAULT_QUEUE_DEPTH 256

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

size_t blk_backend_bounce_bytes(struct blk_backend *b)
{
	return blk_pool_bounce_bytes(b);
}

void blk_backend_unplug(struct blk_backend *b)
{
	if (b->has_ring)
		blk_ring_unplug(b);
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

static int submit(struct blk_backend *b, struct blk_io *io, bool now)
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

	blk_inflight_add(b);
	bool on_ring = b->has_ring && !io->bounced && !__atomic_load_n(&b->ring_failed, __ATOMIC_ACQUIRE) && (io->op == BLK_OP_READ || io->op == BLK_OP_WRITE ||
				       (io->op == BLK_OP_FLUSH && b->cache != BLK_CACHE_UNSAFE));
	if (on_ring && blk_ring_submit(b, io, now) == 0)
		return 0;
	/* No ring, an operation it does not carry, or the ring refused: the
	 * pool does it (done() must never run inside submit). */
	blk_pool_queue(b, io);
	return 0;
}

int blk_backend_submit(struct blk_backend *b, struct blk_io *io)
{
	return submit(b, io, true);
}

int blk_backend_queue(struct blk_backend *b, struct blk_io *io)
{
	return submit(b, io, false);
}

static int start_threads(struct blk_backend *b, const struct blk_backend_options *opt, char *err, size_t errlen)
{
	if (opt->engine != BLK_ENGINE_THREADS && !b->overlay) {
		unsigned depth = opt->queue_depth ? opt->queue_depth : DEFAULT_QUEUE_DEPTH;
		int ret = blk_ring_start(b, depth, opt->reactor);
		if (ret == 0) {
			/* running, or the pool alone if its reaper did not start */
		} else if (opt->engine == BLK_ENGINE_IO_URING) {
			err_printf(err, errlen, "%s: io_uring unavailable: %s", opt->path, strerror(-ret));
			return ret;
		} else {
			log_debug("block", "io_uring unavailable (%s): using worker threads", strerror(-ret));
		}
	}
	unsigned want = b->has_ring ? POOL_THREADS_HELPER : POOL_THREADS_ALONE;
	if (blk_pool_start(b, want) == 0) {
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
	pthread_cond_init(&b->ring_work, NULL);

	ret = blk_open(b, opt, err, errlen);
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
	if (b->has_ring)
		blk_ring_detach(b);
	/* Every request finishes, but those a failed ring holds never do. */
	pthread_mutex_lock(&b->inflight_lock);
	while (!blk_settled(b))
		pthread_cond_wait(&b->idle, &b->inflight_lock);
	pthread_mutex_unlock(&b->inflight_lock);

	if (b->has_ring)
		blk_ring_stop(b);
	blk_pool_stop(b);
	blk_overlay_free(b->overlay);
	if (b->fd >= 0)
		close(b->fd);
	pthread_mutex_destroy(&b->pool_lock);
	pthread_cond_destroy(&b->pool_work);
	pthread_mutex_destroy(&b->sq_lock);
	pthread_mutex_destroy(&b->cq_lock);
	pthread_mutex_destroy(&b->inflight_lock);
	pthread_cond_destroy(&b->idle);
	pthread_cond_destroy(&b->ring_work);
	free(b);
}
