/* What the block backend's two engines (block-engine-pool.c, the worker
 * threads; block-engine-uring.c, io_uring) and its front (block-backend.c)
 * share: the backend's state, and how a request finishes (done(), the
 * in-flight count close() waits for, batch_end()). The engines stand on
 * this file and never on each other or on the front. */
#ifndef SKIFF_BLOCK_ENGINE_H
#define SKIFF_BLOCK_ENGINE_H

#include <liburing.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "devices/block-io.h"

#define POOL_THREADS_ALONE  4 /* no io_uring: the pool does everything */

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

	/* io_uring (used when has_ring). Completions are reaped by the
	 * reactor, watching the ring's fd (source ring_source), when the
	 * device gave one; else by the reaper thread. */
	bool has_ring;
	struct io_uring ring;
	pthread_mutex_t sq_lock; /* submitters share the submission queue */
	pthread_mutex_t cq_lock; /* the reaper (or reactor) and blk_backend_unplug() share the completion queue */
	struct reactor *reactor;
	int ring_source;
	pthread_t reaper;
	bool ring_failed;        /* a wait on the ring (the reaper's, or close()'s) met an error it cannot wait through (atomic) */
	/* The reaper sleeps on ring_work while nothing is on the ring
	 * (reaper_idle), unless reaper_stays: the last requests did not
	 * finish inside their submit. Guarded by inflight_lock, as is
	 * ring_stopping. */
	pthread_cond_t ring_work;
	bool reaper_idle, reaper_stays, ring_stopping;

	/* In flight, for close(); ring_inflight: of them, prepared on the ring
	 * and not yet reaped (lost if the ring fails). */
	pthread_mutex_t inflight_lock;
	pthread_cond_t idle;
	unsigned inflight, ring_inflight;
};

/* A request was accepted: close() now waits for it. */
void blk_inflight_add(struct blk_backend *b);
/* What close() waits for: every request finished, but for those a failed
 * ring holds (they never finish). inflight_lock held. */
bool blk_settled(const struct blk_backend *b);
/* The counts changed (inflight_lock held): wake close() if now settled. */
void blk_settled_signal(struct blk_backend *b);
/* Hand the result to the caller, then drop the in-flight count. */
void blk_io_finish(struct blk_backend *b, struct blk_io *io, int result);
/* After a run of blk_io_finish(): the caller's batch_end(), if any. */
void blk_batch_end(struct blk_backend *b);
/* Drop `n` bytes from the front of an iovec array (after a short
 * transfer); returns the new count, *iov advanced. */
unsigned blk_iov_advance(struct iovec **iov, unsigned cnt, size_t n);

#endif
