/* The reactor thread. See reactor.h. */
#include "base/reactor.h"
#include "base/monotonic.h"
#include "base/io-thread.h"
#include "base/thread-role.h"
#include "base/log.h"

#include <errno.h>
#include <sched.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#define WAKE_TAG UINT64_MAX /* epoll data of the wake-up eventfd */

/* Slot index and generation travel together in the epoll data, so an
 * event queued before a removal cannot reach the slot's next owner. */
static uint64_t source_tag(unsigned index, uint32_t generation)
{
	return (uint64_t)generation << 32 | index;
}

int reactor_init(struct reactor *r)
{
	memset(r, 0, sizeof(*r));
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->idle, NULL);
	r->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	r->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (r->epoll_fd < 0 || r->wake_fd < 0)
		return -errno;
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = WAKE_TAG};
	return epoll_ctl(r->epoll_fd, EPOLL_CTL_ADD, r->wake_fd, &ev) < 0 ? -errno : 0;
}

static int reactor_add_source(struct reactor *r, const struct reactor_source *proto, uint32_t events, unsigned flags)
{
	int ret = -ENOSPC;

	pthread_mutex_lock(&r->lock);
	for (unsigned i = 0; i < REACTOR_MAX_SOURCES; i++) {
		struct reactor_source *s = &r->sources[i];
		if (s->in_use || s->busy)
			continue; /* a busy slot's old handler is still running */
		uint32_t generation = s->generation;
		*s = *proto;
		s->generation = generation;
		s->in_use = true;
		struct epoll_event ev = {.events = events | ((flags & REACTOR_EDGE) ? EPOLLET : 0),
		                         .data.u64 = source_tag(i, generation)};
		if (epoll_ctl(r->epoll_fd, EPOLL_CTL_ADD, proto->fd, &ev) < 0) {
			ret = -errno;
			s->in_use = false;
		} else {
			ret = (int)i;
			if (i >= r->nr_slots)
				r->nr_slots = i + 1;
		}
		break;
	}
	pthread_mutex_unlock(&r->lock);
	return ret;
}

int reactor_add(struct reactor *r, int fd, uint32_t events, unsigned flags, reactor_handler handler, void *opaque,
                unsigned budget)
{
	struct reactor_source proto = {
	    .fd = fd, .handler = handler, .opaque = opaque, .budget = budget ? budget : REACTOR_DEFAULT_BUDGET};

	return reactor_add_source(r, &proto, events, flags);
}

int reactor_set_poll(struct reactor *r, int id, const struct reactor_poll_ops *ops)
{
	int ret = -ENOENT;

	if (id < 0 || id >= REACTOR_MAX_SOURCES)
		return -EINVAL;
	pthread_mutex_lock(&r->lock);
	if (r->sources[id].in_use && !r->sources[id].timer) {
		r->sources[id].poll = ops;
		ret = 0;
	}
	pthread_mutex_unlock(&r->lock);
	return ret;
}

void reactor_set_poll_ns(struct reactor *r, uint64_t poll_ns)
{
	__atomic_store_n(&r->poll_ns, poll_ns, __ATOMIC_RELAXED);
}

int reactor_add_timer(struct reactor *r, unsigned period_ms, reactor_handler handler, void *opaque)
{
	struct timespec period = {.tv_sec = period_ms / 1000, .tv_nsec = (long)(period_ms % 1000) * 1000000};
	struct itimerspec its = {.it_interval = period, .it_value = period};
	int fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	int ret;

	if (fd < 0)
		return -errno;
	if (period_ms == 0 || timerfd_settime(fd, 0, &its, NULL) < 0) {
		ret = period_ms ? -errno : -EINVAL;
		goto fail;
	}
	struct reactor_source proto = {.fd = fd,
	                               .handler = handler,
	                               .opaque = opaque,
	                               .budget = REACTOR_DEFAULT_BUDGET,
	                               .owns_fd = true,
	                               .timer = true};
	ret = reactor_add_source(r, &proto, EPOLLIN, 0);
	if (ret >= 0)
		return ret;
fail:
	close(fd);
	return ret;
}

void reactor_remove(struct reactor *r, int id)
{
	if (id < 0 || id >= REACTOR_MAX_SOURCES)
		return;
	pthread_mutex_lock(&r->lock);
	struct reactor_source *s = &r->sources[id];
	if (s->in_use) {
		int fd = s->fd;
		bool owns_fd = s->owns_fd;

		epoll_ctl(r->epoll_fd, EPOLL_CTL_DEL, fd, NULL);
		s->in_use = false;
		s->more = false;
		s->generation++;
		/* From another thread: wait until the handler is out, so the
		 * caller may free what it was using. */
		bool on_reactor = r->running && pthread_equal(pthread_self(), r->thread);
		while (s->busy && !on_reactor)
			pthread_cond_wait(&r->idle, &r->lock);
		if (owns_fd)
			close(fd);
	}
	pthread_mutex_unlock(&r->lock);
}

int reactor_set_events(struct reactor *r, int id, uint32_t events)
{
	int ret = -ENOENT;

	if (id < 0 || id >= REACTOR_MAX_SOURCES)
		return -EINVAL;
	pthread_mutex_lock(&r->lock);
	struct reactor_source *s = &r->sources[id];
	if (s->in_use && !s->timer) {
		struct epoll_event ev = {.events = events, .data.u64 = source_tag((unsigned)id, s->generation)};
		ret = epoll_ctl(r->epoll_fd, EPOLL_CTL_MOD, s->fd, &ev) < 0 ? -errno : 0;
		if (!events)
			s->more = false; /* paused: no extra turns either */
	}
	pthread_mutex_unlock(&r->lock);
	return ret;
}

/* Take source index for its handler if it is still the source the event
 * (or the poll) was for: busy, so reactor_remove() from another thread
 * waits for it. False if it was removed (and maybe reused) meanwhile, or
 * is already running. */
static bool reactor_claim(struct reactor *r, unsigned index, uint32_t generation, struct reactor_source *copy)
{
	struct reactor_source *s = &r->sources[index];
	bool claimed;

	pthread_mutex_lock(&r->lock);
	claimed = s->in_use && s->generation == generation && !s->busy;
	if (claimed) {
		*copy = *s;
		s->busy = true;
	}
	pthread_mutex_unlock(&r->lock);
	return claimed;
}

/* The handler is out (ran: it was called and returned res). */
static void reactor_release(struct reactor *r, unsigned index, uint32_t generation, bool ran, enum reactor_result res)
{
	struct reactor_source *s = &r->sources[index];

	pthread_mutex_lock(&r->lock);
	s->busy = false;
	if (ran && s->in_use && s->generation == generation)
		s->more = res == REACTOR_MORE;
	pthread_cond_broadcast(&r->idle);
	pthread_mutex_unlock(&r->lock);
}

/* ---- streams (see reactor.h) ---- */

void reactor_note_stream(struct reactor *r, bool trickle)
{
	r->stream = trickle ? REACTOR_STREAM_TRICKLE : REACTOR_STREAM_FULL;
}

static void reactor_set_batch(struct reactor *r, bool on)
{
	struct sched_param none = {0};

	if (sched_setscheduler(0, on ? SCHED_BATCH : SCHED_OTHER, &none) == 0)
		r->batch = on;
	else
		r->trickle_run = 0; /* not allowed here: try again after another run */
}

/* After a handler ran: count the stream's trickles, or leave batching. */
static void reactor_after_handler(struct reactor *r)
{
	switch (r->stream) {
	case REACTOR_STREAM_TRICKLE:
		if (++r->trickle_run >= REACTOR_TRICKLE_RUN && !r->batch)
			reactor_set_batch(r, true);
		break;
	case REACTOR_STREAM_FULL:
		if (!r->batch)
			r->trickle_run = 0;
		break;
	case REACTOR_NOT_STREAM:
		r->trickle_run = 0;
		if (r->batch)
			reactor_set_batch(r, false);
		break;
	}
	r->stream = REACTOR_NOT_STREAM;
}

/* Run source index's handler if it is still the source the event was for. */
static void reactor_dispatch(struct reactor *r, unsigned index, uint32_t generation, uint32_t events)
{
	struct reactor_source copy;

	if (!reactor_claim(r, index, generation, &copy))
		return;
	if (copy.timer && events) {
		uint64_t expirations;
		if (read(copy.fd, &expirations, sizeof(expirations)) != sizeof(expirations))
			events = 0; /* spurious: nothing expired */
	}
	enum reactor_result res = events || !copy.timer ? copy.handler(copy.opaque, events, copy.budget) : REACTOR_DONE;
	reactor_release(r, index, generation, true, res);
	reactor_after_handler(r);
}

/* Ask source index whether it has work and if so run its handler, as if
 * its fd had fired. Returns whether it ran. */
static bool reactor_poll_source(struct reactor *r, unsigned index, uint32_t generation)
{
	struct reactor_source copy;

	if (!reactor_claim(r, index, generation, &copy))
		return false;
	bool ready = copy.poll->ready(copy.opaque);
	enum reactor_result res = ready ? copy.handler(copy.opaque, 0, copy.budget) : REACTOR_DONE;
	reactor_release(r, index, generation, ready, res);
	if (ready)
		reactor_after_handler(r);
	return ready;
}

static bool reactor_pending(struct reactor *r, bool *stopping);

/* Tell a polled source that polling starts or ends; at the end, did
 * work come while its fd was silent? */
static bool reactor_tell_source(struct reactor *r, unsigned index, uint32_t generation, bool on)
{
	struct reactor_source copy;
	bool arrived = false;

	if (!reactor_claim(r, index, generation, &copy))
		return false;
	if (copy.poll->polling)
		arrived = copy.poll->polling(copy.opaque, on);
	reactor_release(r, index, generation, false, REACTOR_DONE);
	return arrived;
}

/* The polled sources as they are now (generations with them, as for
 * epoll events), the poll time, and whether the reactor is stopping. */
struct poll_round {
	unsigned n;
	unsigned index[REACTOR_MAX_SOURCES];
	uint32_t generation[REACTOR_MAX_SOURCES];
	uint64_t poll_ns;
	bool stopping;
};

static void reactor_poll_snapshot(struct reactor *r, struct poll_round *round)
{
	pthread_mutex_lock(&r->lock);
	round->n = 0;
	round->poll_ns = __atomic_load_n(&r->poll_ns, __ATOMIC_RELAXED);
	round->stopping = r->stopping;
	for (unsigned i = 0; i < r->nr_slots; i++) {
		if (r->sources[i].in_use && r->sources[i].poll) {
			round->index[round->n] = i;
			round->generation[round->n++] = r->sources[i].generation;
		}
	}
	pthread_mutex_unlock(&r->lock);
}

/* Polling starts (on) or ends (off: the reactor will sleep, or stops,
 * and every polled source makes its fd fire again). At the end, did work
 * come meanwhile? */
static bool reactor_poll_tell_all(struct reactor *r, const struct poll_round *round, bool on)
{
	bool arrived = false;

	for (unsigned i = 0; i < round->n; i++)
		arrived |= reactor_tell_source(r, round->index[i], round->generation[i], on);
	r->polling = on;
	return arrived;
}

/* Nothing is left to do: poll before sleeping (see reactor.h). Returns
 * true if the reactor must not sleep now: it ran handlers for poll_ns
 * and owes the fd sources a look, work came as polling ended, or a
 * handler left work behind. False: sleep in epoll. */
static bool reactor_poll(struct reactor *r)
{
	struct poll_round round;
	bool stopping;

	/* Polling off: no lock, no scan, as before polling existed. */
	if (!r->polling && __atomic_load_n(&r->poll_ns, __ATOMIC_RELAXED) == 0)
		return false;
	reactor_poll_snapshot(r, &round);
	if (round.poll_ns == 0 || round.n == 0 || round.stopping)
		return r->polling && reactor_poll_tell_all(r, &round, false);
	if (!r->polling)
		reactor_poll_tell_all(r, &round, true);
	uint64_t start = monotonic_ns(), idle_since = start;
	for (;;) {
		bool ran = false;
		for (unsigned i = 0; i < round.n; i++)
			ran |= reactor_poll_source(r, round.index[i], round.generation[i]);
		uint64_t now = monotonic_ns();
		if (ran)
			idle_since = now;
		if (ran && now - start >= round.poll_ns)
			return true; /* still polling; epoll's turn */
		if (!ran && now - idle_since >= round.poll_ns)
			break;
		reactor_poll_snapshot(r, &round); /* sources come and go */
		if (round.n == 0 || round.stopping || round.poll_ns == 0)
			break;
	}
	bool arrived = reactor_poll_tell_all(r, &round, false);
	return arrived || reactor_pending(r, &stopping);
}

/* The thread stops: no source may stay silent. */
static void reactor_poll_quit(struct reactor *r)
{
	struct poll_round round;

	if (!r->polling)
		return;
	reactor_poll_snapshot(r, &round);
	reactor_poll_tell_all(r, &round, false);
}

/* Sources that stopped on their budget get another turn, after everyone
 * epoll woke this round. Returns whether any still wants more. */
static void reactor_run_leftovers(struct reactor *r, const bool *ran)
{
	uint32_t generation[REACTOR_MAX_SOURCES];
	bool again[REACTOR_MAX_SOURCES];
	unsigned n;

	pthread_mutex_lock(&r->lock);
	n = r->nr_slots;
	for (unsigned i = 0; i < n; i++) {
		again[i] = r->sources[i].in_use && r->sources[i].more && !ran[i];
		generation[i] = r->sources[i].generation;
	}
	pthread_mutex_unlock(&r->lock);
	for (unsigned i = 0; i < n; i++)
		if (again[i])
			reactor_dispatch(r, i, generation[i], 0);
}

static bool reactor_pending(struct reactor *r, bool *stopping)
{
	bool more = false;

	pthread_mutex_lock(&r->lock);
	*stopping = r->stopping;
	for (unsigned i = 0; i < r->nr_slots && !more; i++)
		more = r->sources[i].in_use && r->sources[i].more;
	pthread_mutex_unlock(&r->lock);
	return more;
}

static void *reactor_thread(void *arg)
{
	struct reactor *r = arg;
	struct epoll_event events[32];
	bool stopping;

	pthread_setname_np(pthread_self(), "reactor");
	r->batch = false; /* a new thread: SCHED_OTHER, as its creator */
	r->trickle_run = 0;
	thread_role_enter(THREAD_ROLE_REACTOR);
	for (;;) {
		bool more = reactor_pending(r, &stopping);
		if (stopping)
			break;
		if (!more)
			more = reactor_poll(r);
		int n = epoll_wait(r->epoll_fd, events, 32, more ? 0 : -1);
		if (n < 0 && errno != EINTR) {
			log_error("reactor", "epoll_wait: %s", strerror(errno));
			break;
		}
		bool ran[REACTOR_MAX_SOURCES] = {false};
		for (int i = 0; i < n; i++) {
			uint64_t tag = events[i].data.u64, count;
			if (tag == WAKE_TAG) {
				(void)!read(r->wake_fd, &count, sizeof(count));
				continue;
			}
			ran[(uint32_t)tag] = true;
			reactor_dispatch(r, (uint32_t)tag, (uint32_t)(tag >> 32), events[i].events);
		}
		reactor_run_leftovers(r, ran);
	}
	reactor_poll_quit(r);
	return NULL;
}

int reactor_start(struct reactor *r)
{
	pthread_mutex_lock(&r->lock);
	r->stopping = false;
	int ret = thread_create(&r->thread, reactor_thread, r);
	if (ret == 0)
		r->running = true;
	pthread_mutex_unlock(&r->lock);
	return -ret;
}

void reactor_stop(struct reactor *r)
{
	uint64_t one = 1;

	pthread_mutex_lock(&r->lock);
	bool running = r->running;
	r->stopping = true;
	pthread_mutex_unlock(&r->lock);
	if (!running)
		return;
	(void)!write(r->wake_fd, &one, sizeof(one));
	pthread_join(r->thread, NULL);
	pthread_mutex_lock(&r->lock);
	r->running = false;
	pthread_mutex_unlock(&r->lock);
}

void reactor_destroy(struct reactor *r)
{
	reactor_stop(r);
	for (int i = 0; i < REACTOR_MAX_SOURCES; i++)
		reactor_remove(r, i);
	if (r->epoll_fd > 0)
		close(r->epoll_fd);
	if (r->wake_fd > 0)
		close(r->wake_fd);
	r->epoll_fd = r->wake_fd = -1;
}
