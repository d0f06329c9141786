/* The block backend's io_uring engine: reads, writes and flushes
 * submitted from the caller's thread. A read the page cache holds is
 * finished inside the submitting system call; the submitter completes
 * those itself (blk_backend_unplug()). The rest are completed:
 * - by the device's reactor, when it gave one (a device in skiff): it
 *   watches the ring's fd, readable while completions wait, as it
 *   watches a TAP. A read that missed the page cache then wakes one
 *   thread, the reactor, which submitted it and already runs the
 *   kernel's completion work for it; a second thread would be woken
 *   only to be handed the result;
 * - else by one reaper thread (benchmarks, tests), which waits on the
 *   ring only while something is outstanding: were it always waiting
 *   there, every request finished inside the submit would wake it for
 *   nothing, one thread wake-up per request.
 * The ring itself, restricted to those operations, is made in
 * block-ring.c. */
#include "devices/block-engine-uring.h"

#include <errno.h>
#include <liburing.h>
#include <pthread.h>
#include <string.h>
#include <sys/epoll.h>

#include "devices/block-engine.h"
#include "devices/block-ring.h"
#include "base/io-thread.h"
#include "base/reactor.h"
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

/* Send the reaper to wait on the ring if it sleeps while requests are
 * outstanding (or the ring is stopping); inflight_lock held. */
static void reaper_wake_locked(struct blk_backend *b)
{
	if (b->reaper_idle && (b->ring_inflight || b->ring_stopping)) {
		b->reaper_idle = false;
		pthread_cond_signal(&b->ring_work);
	}
}

/* Count requests onto the ring (+1) or off it (-1). A request submitted
 * at once (wake) is the reaper's to wait for, so it is sent to the ring. */
static void ring_count(struct blk_backend *b, int delta, bool wake)
{
	pthread_mutex_lock(&b->inflight_lock);
	b->ring_inflight += (unsigned)delta;
	blk_settled_signal(b); /* past a ring failure, close() waits for the count to match */
	if (wake) {
		b->reaper_stays = true; /* nobody else will reap it */
		reaper_wake_locked(b);
	}
	pthread_mutex_unlock(&b->inflight_lock);
}

/* The reaper: sleep until something is outstanding on the ring, unless
 * the requests lately went past their submitter: then the next is
 * likely to as well, and the reaper already waiting on the ring is
 * woken once per completion instead of twice. */
static void reaper_await_work(struct blk_backend *b)
{
	pthread_mutex_lock(&b->inflight_lock);
	while (!b->ring_inflight && !b->ring_stopping && !b->reaper_stays) {
		b->reaper_idle = true;
		pthread_cond_wait(&b->ring_work, &b->inflight_lock);
	}
	b->reaper_idle = false;
	pthread_mutex_unlock(&b->inflight_lock);
}

/* Once prepared, io belongs to the ring: should the kernel refuse the
 * submission for now (-EBUSY, -EAGAIN), the entry stays queued and the
 * reaper submits it after its next batch. With !now the entry waits for
 * blk_ring_unplug(), and the reaper is not woken for it. */
int blk_ring_submit(struct blk_backend *b, struct blk_io *io, bool now)
{
	/* Counted before the reaper can see it; a reactor needs no wake-up. */
	ring_count(b, +1, now && !b->reactor);
	pthread_mutex_lock(&b->sq_lock);
	int ret = ring_prep(b, io);
	if (ret == 0 && now)
		io_uring_submit(&b->ring);
	pthread_mutex_unlock(&b->sq_lock);
	if (ret < 0)
		ring_count(b, -1, false);
	return ret;
}

/* The reaper (or close(), reaping after the reactor) cannot wait on the
 * ring any more (an error other than "try again"): it stops waiting, new
 * requests go to the pool, and close() stops waiting for the requests
 * the ring still holds. Those are lost: the kernel may still complete
 * them into their buffers, so they cannot be failed here. */
static void ring_fail(struct blk_backend *b, int err)
{
	pthread_mutex_lock(&b->inflight_lock);
	log_error("block", "io_uring wait failed: %s; %u request(s) on the ring are lost, the rest go to worker threads",
		  strerror(-err), b->ring_inflight);
	__atomic_store_n(&b->ring_failed, true, __ATOMIC_RELEASE);
	blk_settled_signal(b);
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
	io->iovcnt = blk_iov_advance(&io->iov, io->iovcnt, (size_t)res);
	if (blk_ring_submit(b, io, true) < 0) {
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
		ring_count(b, -1, false);
		if (io->op == BLK_OP_FLUSH || ring_complete_rw(b, io, res, &result)) {
			blk_io_finish(b, io, result);
			finished++;
		}
	}
	io_uring_cq_advance(&b->ring, seen);
	return finished;
}

/* Reap what the completion queue holds now, then submit what the ring
 * refused before (unless this was the reaper's stop); cq_lock not held.
 * stop: as for ring_reap_ready(). */
static void ring_reap_now(struct blk_backend *b, bool *stop)
{
	pthread_mutex_lock(&b->cq_lock);
	unsigned finished = ring_reap_ready(b, stop);
	pthread_mutex_unlock(&b->cq_lock);
	if (finished)
		blk_batch_end(b);
	if (!stop || !*stop)
		ring_submit_leftovers(b);
}

/* A wait on the ring that returned nothing to reap yet: wait again. Any
 * other error means the ring cannot be waited on any more. */
static bool ring_wait_again(int ret)
{
	return ret == -EINTR || ret == -EAGAIN || ret == -EBUSY || ret == -ETIME;
}

/* The reactor's handler for the ring's fd, readable while completions
 * wait (level-triggered: more posted meanwhile wake it again). */
static enum reactor_result ring_on_reactor(void *opaque, uint32_t events, unsigned budget)
{
	(void)events;
	(void)budget; /* bounded anyway: at most the queue's entries */
	ring_reap_now(opaque, NULL);
	return REACTOR_DONE;
}

/* Polling (base/reactor.h): completions wait on the ring. */
static bool ring_ready(void *opaque)
{
	struct blk_backend *b = opaque;

	return block_ring_has_completions(&b->ring);
}

static const struct reactor_poll_ops ring_poll = {.ready = ring_ready};

/* The reaper: the thread that waits for completions the submitter did
 * not find at once. A NULL user_data is the stop signal from close(). */
static void *ring_reaper(void *arg)
{
	struct blk_backend *b = arg;
	bool stop = false;

	thread_role_enter(THREAD_ROLE_BLOCK_IO);
	while (!stop) {
		reaper_await_work(b);
		int ret = block_ring_wait(&b->ring);
		if (ring_wait_again(ret))
			continue;
		if (ret < 0) {
			ring_fail(b, ret);
			break;
		}
		ring_reap_now(b, &stop);
	}
	return NULL;
}

void blk_ring_unplug(struct blk_backend *b)
{
	if (__atomic_load_n(&b->ring_failed, __ATOMIC_ACQUIRE))
		return;
	ring_submit_leftovers(b);
	/* The lock before the peek: the reaper moves the queue's head under
	 * it. If the reaper holds it, it is awake and reaps these too. */
	if (pthread_mutex_trylock(&b->cq_lock) == 0) {
		unsigned finished = io_uring_cq_ready(&b->ring) ? ring_reap_ready(b, NULL) : 0;
		pthread_mutex_unlock(&b->cq_lock);
		if (finished)
			blk_batch_end(b);
	}
	if (b->reactor)
		return; /* the rest make the ring's fd readable for the reactor */
	/* What did not finish inside the submit is the reaper's to wait for. */
	pthread_mutex_lock(&b->inflight_lock);
	b->reaper_stays = b->ring_inflight > 0;
	reaper_wake_locked(b);
	pthread_mutex_unlock(&b->inflight_lock);
}

int blk_ring_start(struct blk_backend *b, unsigned depth, struct reactor *reactor)
{
	int ret = block_ring_init(&b->ring, depth);

	if (ret < 0)
		return ret;
	b->ring_source = reactor ? reactor_add(reactor, b->ring.ring_fd, EPOLLIN, 0, ring_on_reactor, b, 0) : -1;
	if (b->ring_source >= 0) {
		(void)reactor_set_poll(reactor, b->ring_source, &ring_poll); /* cannot fail: the source is ours */
		b->reactor = reactor;
		b->has_ring = true;
		return 0;
	}
	if (io_thread_create(&b->reaper, ring_reaper, b) != 0) {
		io_uring_queue_exit(&b->ring);
		return 0; /* no reaper: the pool does everything */
	}
	b->has_ring = true;
	return 0;
}

void blk_ring_detach(struct blk_backend *b)
{
	if (!b->reactor)
		return;
	reactor_remove(b->reactor, b->ring_source); /* waits for its handler */
	for (;;) {
		ring_submit_leftovers(b);
		pthread_mutex_lock(&b->inflight_lock);
		bool left = b->ring_inflight && !__atomic_load_n(&b->ring_failed, __ATOMIC_ACQUIRE);
		pthread_mutex_unlock(&b->inflight_lock);
		if (!left)
			return;
		int ret = block_ring_wait(&b->ring);
		if (ret < 0 && !ring_wait_again(ret)) {
			ring_fail(b, ret);
			return;
		}
		ring_reap_now(b, NULL);
	}
}

void blk_ring_stop(struct blk_backend *b)
{
	if (b->ring_source >= 0) { /* no reaper: blk_ring_detach() reaped */
		io_uring_queue_exit(&b->ring);
		return;
	}
	pthread_mutex_lock(&b->inflight_lock);
	b->ring_stopping = true; /* the reaper waits on the ring for the nop */
	reaper_wake_locked(b);
	pthread_mutex_unlock(&b->inflight_lock);
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
