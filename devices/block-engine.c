/* How a block request finishes, for both engines: see block-engine.h. */
#include "devices/block-engine.h"

#include <pthread.h>

void blk_inflight_add(struct blk_backend *b)
{
	pthread_mutex_lock(&b->inflight_lock);
	b->inflight++;
	pthread_mutex_unlock(&b->inflight_lock);
}

/* What close() waits for: every request finished, but for those a failed
 * ring holds (they never finish). inflight_lock held. */
bool blk_settled(const struct blk_backend *b)
{
	return b->inflight <= (b->ring_failed ? b->ring_inflight : 0);
}

/* The counts changed (inflight_lock held): wake close() if they now
 * satisfy it. Not only at zero: past a ring failure close() is content
 * with inflight == ring_inflight, and a wake-up kept for zero never comes. */
void blk_settled_signal(struct blk_backend *b)
{
	if (blk_settled(b))
		pthread_cond_broadcast(&b->idle);
}

/* Hand the result to the caller. The in-flight count drops only after
 * done() returned, so close() cannot free what done() still touches. */
void blk_io_finish(struct blk_backend *b, struct blk_io *io, int result)
{
	io->done(io, result);
	pthread_mutex_lock(&b->inflight_lock);
	b->inflight--;
	blk_settled_signal(b);
	pthread_mutex_unlock(&b->inflight_lock);
}

void blk_batch_end(struct blk_backend *b)
{
	if (b->batch_end)
		b->batch_end(b->batch_opaque);
}

unsigned blk_iov_advance(struct iovec **iov, unsigned cnt, size_t n)
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
