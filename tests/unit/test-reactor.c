/* Unit tests of the reactor (base/reactor.c): event masks, level and edge
 * triggering, timers, the per-wake-up budget, and removing sources while
 * the loop runs. Real threads, real eventfds; no KVM. */
#include "base/reactor.h"

#include <check.h>
#include "tests/unit/check-run.h"
#include <errno.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};
	nanosleep(&ts, NULL);
}

/* Wait up to 2 s for *counter to reach at least want. */
static bool wait_for(atomic_uint *counter, unsigned want)
{
	for (int i = 0; i < 2000; i++) {
		if (atomic_load(counter) >= want)
			return true;
		sleep_ms(1);
	}
	return false;
}

static void kick(int fd)
{
	uint64_t one = 1;
	ck_assert_int_eq(write(fd, &one, sizeof(one)), sizeof(one));
}

struct probe {
	int fd;
	atomic_uint calls;
	atomic_uint last_events;
	atomic_uint last_budget;
	bool drain;
	atomic_bool keep_busy; /* return REACTOR_MORE while set */
};

static enum reactor_result probe_handler(void *opaque, uint32_t events, unsigned budget)
{
	struct probe *p = opaque;
	uint64_t count;

	if (p->drain && (events & EPOLLIN))
		(void)!read(p->fd, &count, sizeof(count));
	atomic_store(&p->last_budget, budget);
	atomic_store(&p->last_events, events);
	atomic_fetch_add(&p->calls, 1);
	return atomic_load(&p->keep_busy) ? REACTOR_MORE : REACTOR_DONE;
}

static struct reactor r;

static void setup(void)
{
	ck_assert_int_eq(reactor_init(&r), 0);
}

static void teardown(void)
{
	reactor_destroy(&r);
}

/* ---- streams: batching a trickle (reactor.h, Streams) ---- */

/* A source that plays a stream (or other work): each dispatch drains its
 * eventfd, notes what it found, and records the reactor thread's policy
 * as it ran. */
#define STREAM_CALLS (3 * REACTOR_TRICKLE_RUN)
struct streamer {
	int fd;
	bool stream, trickle;
	atomic_uint calls;
	atomic_int policy[STREAM_CALLS];
};

static enum reactor_result stream_handler(void *opaque, uint32_t events, unsigned budget)
{
	struct streamer *s = opaque;
	unsigned n = atomic_load(&s->calls);
	uint64_t count;

	(void)!read(s->fd, &count, sizeof(count));
	if (n < STREAM_CALLS)
		atomic_store(&s->policy[n], sched_getscheduler(0));
	if (s->stream)
		reactor_note_stream(&r, s->trickle);
	atomic_fetch_add(&s->calls, 1);
	return REACTOR_DONE;
}

static void streamer_add(struct streamer *s, bool stream, bool trickle)
{
	s->fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	ck_assert_int_ge(s->fd, 0);
	s->stream = stream, s->trickle = trickle;
	ck_assert_int_ge(reactor_add(&r, s->fd, EPOLLIN, 0, stream_handler, s, 0), 0);
}

/* n dispatches of s, one at a time: each kick waits for its handler. */
static void dispatch(struct streamer *s, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		unsigned want = atomic_load(&s->calls) + 1;
		kick(s->fd);
		ck_assert(wait_for(&s->calls, want));
	}
}

/* The policy s's handler saw at its calls [from, to). */
static void ck_policy(struct streamer *s, unsigned from, unsigned to, int policy)
{
	for (unsigned i = from; i < to; i++)
		ck_assert_msg(atomic_load(&s->policy[i]) == policy, "call %u ran under policy %d, not %d", i,
			      atomic_load(&s->policy[i]), policy);
}

START_TEST(trickles_in_a_row_batch_until_other_work)
{
	static struct streamer tap, kicks;

	streamer_add(&tap, true, true);
	streamer_add(&kicks, false, false);
	ck_assert_int_eq(reactor_start(&r), 0);
	dispatch(&tap, REACTOR_TRICKLE_RUN + 1);
	ck_policy(&tap, 0, REACTOR_TRICKLE_RUN, SCHED_OTHER);
	ck_policy(&tap, REACTOR_TRICKLE_RUN, REACTOR_TRICKLE_RUN + 1, SCHED_BATCH);
	/* Other work ends it: that dispatch still ran batch, the next not. */
	dispatch(&kicks, 1);
	dispatch(&tap, 1);
	ck_policy(&kicks, 0, 1, SCHED_BATCH);
	ck_policy(&tap, REACTOR_TRICKLE_RUN + 1, REACTOR_TRICKLE_RUN + 2, SCHED_OTHER);
}
END_TEST

START_TEST(other_work_restarts_the_count)
{
	static struct streamer tap, kicks;

	streamer_add(&tap, true, true);
	streamer_add(&kicks, false, false);
	ck_assert_int_eq(reactor_start(&r), 0);
	dispatch(&tap, REACTOR_TRICKLE_RUN - 1);
	dispatch(&kicks, 1);
	dispatch(&tap, REACTOR_TRICKLE_RUN - 1);
	ck_policy(&tap, 0, 2 * REACTOR_TRICKLE_RUN - 2, SCHED_OTHER);
	ck_policy(&kicks, 0, 1, SCHED_OTHER);
}
END_TEST

START_TEST(full_wakeups_keep_batching_and_do_not_start_it)
{
	static struct streamer trickle, full;

	streamer_add(&trickle, true, true);
	streamer_add(&full, true, false);
	ck_assert_int_eq(reactor_start(&r), 0);
	/* A full wake-up between trickles restarts their count... */
	dispatch(&trickle, REACTOR_TRICKLE_RUN - 1);
	dispatch(&full, 1);
	dispatch(&trickle, 1);
	ck_policy(&trickle, 0, REACTOR_TRICKLE_RUN, SCHED_OTHER);
	/* ...but once batching, full wake-ups are the stream flowing. */
	dispatch(&trickle, REACTOR_TRICKLE_RUN);
	dispatch(&full, 2);
	ck_policy(&full, 1, 3, SCHED_BATCH);
}
END_TEST

START_TEST(handler_gets_event_mask_and_budget)
{
	struct probe in = {.fd = eventfd(0, EFD_NONBLOCK), .drain = true};
	int pipefd[2];
	ck_assert_int_eq(pipe(pipefd), 0);
	struct probe out = {.fd = pipefd[1]};

	ck_assert_int_ge(reactor_add(&r, in.fd, EPOLLIN, 0, probe_handler, &in, 7), 0);
	int out_id = reactor_add(&r, out.fd, EPOLLOUT, REACTOR_EDGE, probe_handler, &out, 0);
	ck_assert_int_ge(out_id, 0);
	ck_assert_int_eq(reactor_start(&r), 0);
	kick(in.fd);
	ck_assert(wait_for(&in.calls, 1));
	ck_assert(wait_for(&out.calls, 1));
	ck_assert_uint_eq(atomic_load(&in.last_events) & EPOLLIN, EPOLLIN);
	ck_assert_uint_eq(atomic_load(&in.last_budget), 7);
	/* A writable pipe reports EPOLLOUT, not EPOLLIN. */
	ck_assert_uint_eq(atomic_load(&out.last_events) & (EPOLLIN | EPOLLOUT), EPOLLOUT);
	ck_assert_uint_eq(atomic_load(&out.last_budget), REACTOR_DEFAULT_BUDGET);
	reactor_remove(&r, out_id);
	close(pipefd[0]);
	close(pipefd[1]);
	reactor_stop(&r);
	close(in.fd);
}
END_TEST

/* Level-triggered and not drained: called again and again. Edge-triggered
 * and not drained: called once per edge. */
START_TEST(level_and_edge_triggering)
{
	struct probe level = {.fd = eventfd(0, EFD_NONBLOCK)};
	struct probe edge = {.fd = eventfd(0, EFD_NONBLOCK)};

	int level_id = reactor_add(&r, level.fd, EPOLLIN, 0, probe_handler, &level, 0);
	ck_assert_int_ge(level_id, 0);
	ck_assert_int_ge(reactor_add(&r, edge.fd, EPOLLIN, REACTOR_EDGE, probe_handler, &edge, 0), 0);
	ck_assert_int_eq(reactor_start(&r), 0);
	kick(edge.fd);
	ck_assert(wait_for(&edge.calls, 1));
	kick(level.fd);
	ck_assert(wait_for(&level.calls, 50));
	reactor_remove(&r, level_id);
	ck_assert_uint_eq(atomic_load(&edge.calls), 1);
	kick(edge.fd); /* a new edge */
	ck_assert(wait_for(&edge.calls, 2));
	sleep_ms(20);
	ck_assert_uint_eq(atomic_load(&edge.calls), 2);
	reactor_stop(&r);
	close(level.fd);
	close(edge.fd);
}
END_TEST

static enum reactor_result count_tick(void *opaque, uint32_t events, unsigned budget)
{
	atomic_fetch_add((atomic_uint *)opaque, 1);
	return REACTOR_DONE;
}

START_TEST(timers_fire_per_source)
{
	atomic_uint fast = 0, slow = 0;

	int fast_id = reactor_add_timer(&r, 5, count_tick, &fast);
	ck_assert_int_ge(fast_id, 0);
	ck_assert_int_ge(reactor_add_timer(&r, 100, count_tick, &slow), 0);
	ck_assert_int_eq(reactor_add_timer(&r, 0, count_tick, &slow), -EINVAL);
	ck_assert_int_eq(reactor_start(&r), 0);
	ck_assert(wait_for(&fast, 10));
	ck_assert_uint_le(atomic_load(&slow), 1); /* ~50 ms have passed, not 200 */
	reactor_remove(&r, fast_id);
	unsigned after = atomic_load(&fast);
	sleep_ms(30);
	ck_assert_uint_eq(atomic_load(&fast), after); /* removed: no more ticks */
	reactor_stop(&r);
}
END_TEST

/* A source that always has more work must not starve a second one. */
START_TEST(budget_lets_others_run)
{
	struct probe hog = {.fd = eventfd(0, EFD_NONBLOCK), .drain = true, .keep_busy = true};
	struct probe quiet = {.fd = eventfd(0, EFD_NONBLOCK), .drain = true};

	ck_assert_int_ge(reactor_add(&r, hog.fd, EPOLLIN, 0, probe_handler, &hog, 4), 0);
	ck_assert_int_ge(reactor_add(&r, quiet.fd, EPOLLIN, 0, probe_handler, &quiet, 0), 0);
	ck_assert_int_eq(reactor_start(&r), 0);
	kick(hog.fd); /* drained at once, but it keeps returning MORE */
	ck_assert(wait_for(&hog.calls, 100));
	kick(quiet.fd);
	ck_assert(wait_for(&quiet.calls, 1));
	ck_assert_uint_eq(atomic_load(&hog.last_budget), 4);
	/* The hog was called again without its fd firing: REACTOR_MORE works. */
	atomic_store(&hog.keep_busy, false);
	unsigned calls = atomic_load(&hog.calls);
	sleep_ms(20);
	ck_assert_uint_le(atomic_load(&hog.calls), calls + 1);
	reactor_stop(&r);
	close(hog.fd);
	close(quiet.fd);
}
END_TEST

/* Removal from another thread waits for the running handler; after it
 * returns the opaque may be freed and is never touched again. */
struct slow {
	int fd;
	atomic_bool inside, finished;
	atomic_uint calls;
	unsigned magic;
};

#define SLOW_LIVE 0x11fe
#define SLOW_DEAD 0xdead

static enum reactor_result slow_handler(void *opaque, uint32_t events, unsigned budget)
{
	struct slow *s = opaque;
	uint64_t count;

	ck_assert_uint_eq(s->magic, SLOW_LIVE); /* never called on a removed source */
	(void)!read(s->fd, &count, sizeof(count));
	atomic_store(&s->inside, true);
	sleep_ms(30);
	atomic_store(&s->finished, true);
	atomic_fetch_add(&s->calls, 1);
	return REACTOR_DONE;
}

START_TEST(remove_waits_for_running_handler)
{
	struct slow *s = calloc(1, sizeof(*s));
	s->fd = eventfd(0, EFD_NONBLOCK);
	s->magic = SLOW_LIVE;

	int id = reactor_add(&r, s->fd, EPOLLIN, 0, slow_handler, s, 0);
	ck_assert_int_ge(id, 0);
	ck_assert_int_eq(reactor_start(&r), 0);
	kick(s->fd);
	while (!atomic_load(&s->inside))
		sleep_ms(1);
	reactor_remove(&r, id);
	ck_assert(atomic_load(&s->finished)); /* remove returned after the handler */
	s->magic = SLOW_DEAD;
	kick(s->fd);
	sleep_ms(20);
	ck_assert_uint_eq(atomic_load(&s->calls), 1);
	reactor_stop(&r);
	close(s->fd);
	free(s);
}
END_TEST

/* Churn: sources added and removed from one thread while another keeps
 * their fds firing. A handler must never see a freed (dead) opaque, and
 * a reused slot must never get its previous owner's events. */
struct churn {
	int fd;
	unsigned magic;
	atomic_uint calls;
};

static enum reactor_result churn_handler(void *opaque, uint32_t events, unsigned budget)
{
	struct churn *c = opaque;
	uint64_t count;

	ck_assert_uint_eq(c->magic, SLOW_LIVE);
	(void)!read(c->fd, &count, sizeof(count));
	atomic_fetch_add(&c->calls, 1);
	return REACTOR_DONE;
}

#define CHURN_FDS 8
static int churn_fds[CHURN_FDS];
static atomic_bool churn_stop;

static void *churn_kicker(void *arg)
{
	while (!atomic_load(&churn_stop))
		for (unsigned i = 0; i < CHURN_FDS; i++)
			kick(churn_fds[i]);
	return NULL;
}

START_TEST(add_remove_while_running)
{
	pthread_t kicker;
	unsigned total = 0;

	for (unsigned i = 0; i < CHURN_FDS; i++)
		churn_fds[i] = eventfd(0, EFD_NONBLOCK);
	ck_assert_int_eq(reactor_start(&r), 0);
	atomic_store(&churn_stop, false);
	pthread_create(&kicker, NULL, churn_kicker, NULL);
	for (unsigned round = 0; round < 300; round++) {
		struct churn *c = calloc(1, sizeof(*c));
		c->fd = churn_fds[round % CHURN_FDS];
		c->magic = SLOW_LIVE;
		int id = reactor_add(&r, c->fd, EPOLLIN, 0, churn_handler, c, 0);
		ck_assert_int_ge(id, 0);
		/* Every third source lives until its handler has run (the kicker
		 * keeps its fd readable): the others are removed at once, racing
		 * the reactor. Waiting for the call, not sleeping a fixed time,
		 * keeps this true on a loaded host (a 1 ms sleep once saw no
		 * call at all in 100 rounds at load 11 on 2 cores). */
		if (round % 3 == 0)
			ck_assert(wait_for(&c->calls, 1));
		reactor_remove(&r, id);
		total += atomic_load(&c->calls);
		c->magic = SLOW_DEAD; /* what a use after free would see */
		free(c);
	}
	atomic_store(&churn_stop, true);
	pthread_join(kicker, NULL);
	ck_assert_uint_ge(total, 100); /* the handlers did run meanwhile */
	reactor_stop(&r);
	for (unsigned i = 0; i < CHURN_FDS; i++)
		close(churn_fds[i]);
}
END_TEST

/* A handler may remove its own source (no wait, no deadlock). */
struct self_remover {
	int fd, id;
	atomic_uint calls;
};

static enum reactor_result self_remove_handler(void *opaque, uint32_t events, unsigned budget)
{
	struct self_remover *s = opaque;

	reactor_remove(&r, s->id);
	atomic_fetch_add(&s->calls, 1);
	return REACTOR_MORE; /* ignored: the source is gone */
}

START_TEST(handler_removes_itself)
{
	struct self_remover s = {.fd = eventfd(0, EFD_NONBLOCK)};

	s.id = reactor_add(&r, s.fd, EPOLLIN, 0, self_remove_handler, &s, 0);
	ck_assert_int_ge(s.id, 0);
	ck_assert_int_eq(reactor_start(&r), 0);
	kick(s.fd); /* level-triggered and never drained */
	ck_assert(wait_for(&s.calls, 1));
	sleep_ms(20);
	ck_assert_uint_eq(atomic_load(&s.calls), 1);
	reactor_stop(&r);
	close(s.fd);
}
END_TEST

START_TEST(table_full_is_enospc)
{
	int fd = eventfd(0, EFD_NONBLOCK);
	struct probe p = {.fd = fd};
	static int fds[REACTOR_MAX_SOURCES];
	struct rlimit nofile;

	/* One fd per source: make sure the process may open that many. */
	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &nofile), 0);
	if (nofile.rlim_cur < REACTOR_MAX_SOURCES + 64) {
		nofile.rlim_cur = REACTOR_MAX_SOURCES + 64;
		ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &nofile), 0);
	}

	for (unsigned i = 0; i < REACTOR_MAX_SOURCES; i++) {
		fds[i] = dup(fd);
		ck_assert_int_ge(reactor_add(&r, fds[i], EPOLLIN, 0, probe_handler, &p, 0), 0);
	}
	int extra = dup(fd);
	ck_assert_int_eq(reactor_add(&r, extra, EPOLLIN, 0, probe_handler, &p, 0), -ENOSPC);
	reactor_remove(&r, 5);
	ck_assert_int_eq(reactor_add(&r, extra, EPOLLIN, 0, probe_handler, &p, 0), 5);
	reactor_destroy(&r);
	for (unsigned i = 0; i < REACTOR_MAX_SOURCES; i++)
		close(fds[i]);
	close(extra);
	close(fd);
	ck_assert_int_eq(reactor_init(&r), 0); /* for teardown */
}
END_TEST

/* Polling: a source whose work shows without its fd firing (as a
 * virtqueue the driver was asked not to kick). */
struct polled {
	int fd;                /* never written: only the poll can find work */
	atomic_uint magic;
	atomic_bool work;      /* what ready() reports; the handler takes it */
	atomic_bool arrive_at_off; /* polling(off) finds work once */
	atomic_uint calls, ready_calls, on_calls, off_calls;
	atomic_uint last_events;
	atomic_bool told_on;   /* between polling(on) and polling(off) */
};

static bool polled_ready(void *opaque)
{
	struct polled *p = opaque;

	ck_assert_uint_eq(atomic_load(&p->magic), SLOW_LIVE);
	atomic_fetch_add(&p->ready_calls, 1);
	return atomic_load(&p->work);
}

static bool polled_polling(void *opaque, bool on)
{
	struct polled *p = opaque;

	ck_assert_uint_eq(atomic_load(&p->magic), SLOW_LIVE);
	atomic_store(&p->told_on, on);
	atomic_fetch_add(on ? &p->on_calls : &p->off_calls, 1);
	if (!on && atomic_exchange(&p->arrive_at_off, false)) {
		atomic_store(&p->work, true);
		return true;
	}
	return false;
}

static enum reactor_result polled_handler(void *opaque, uint32_t events, unsigned budget)
{
	struct polled *p = opaque;

	ck_assert_uint_eq(atomic_load(&p->magic), SLOW_LIVE);
	atomic_store(&p->last_events, events);
	atomic_store(&p->work, false);
	atomic_fetch_add(&p->calls, 1);
	return REACTOR_DONE;
}

static const struct reactor_poll_ops polled_ops = {.ready = polled_ready, .polling = polled_polling};

static struct polled *polled_add(int *id)
{
	struct polled *p = calloc(1, sizeof(*p));

	p->fd = eventfd(0, EFD_NONBLOCK);
	atomic_store(&p->magic, SLOW_LIVE);
	*id = reactor_add(&r, p->fd, EPOLLIN, 0, polled_handler, p, 0);
	ck_assert_int_ge(*id, 0);
	ck_assert_int_eq(reactor_set_poll(&r, *id, &polled_ops), 0);
	return p;
}

/* Stop the reactor, then drop the source. */
static void polled_done(struct polled *p, int id)
{
	reactor_stop(&r);
	reactor_remove(&r, id);
	close(p->fd);
	free(p);
}

/* Work that no fd announces is found by the poll and served with events
 * 0; once poll_ns passes with nothing to do, the source is told to fire
 * again before the reactor sleeps. */
START_TEST(poll_finds_work_without_fd)
{
	int id;
	struct polled *p = polled_add(&id);

	atomic_store(&p->work, true); /* before the start: only the poll can find it */
	reactor_set_poll_ns(&r, 100 * 1000 * 1000);
	ck_assert_int_eq(reactor_start(&r), 0);
	ck_assert(wait_for(&p->calls, 1));
	ck_assert_uint_ge(atomic_load(&p->on_calls), 1);
	ck_assert_uint_eq(atomic_load(&p->last_events), 0);
	ck_assert(wait_for(&p->off_calls, 1)); /* 100 ms idle: polling ends */
	ck_assert(!atomic_load(&p->told_on));
	sleep_ms(50);
	unsigned asked = atomic_load(&p->ready_calls);
	sleep_ms(50);
	ck_assert_uint_eq(atomic_load(&p->ready_calls), asked); /* asleep in epoll, not spinning */
	polled_done(p, id);
}
END_TEST

/* Without a poll time nothing is polled: work only an fd could announce
 * waits. */
START_TEST(no_poll_time_no_polling)
{
	int id;
	struct polled *p = polled_add(&id);

	ck_assert_int_eq(reactor_start(&r), 0);
	atomic_store(&p->work, true);
	sleep_ms(50);
	ck_assert_uint_eq(atomic_load(&p->calls), 0);
	ck_assert_uint_eq(atomic_load(&p->ready_calls), 0);
	ck_assert_uint_eq(atomic_load(&p->on_calls), 0);
	polled_done(p, id);
}
END_TEST

/* Work that came while the source was silent, found as polling ends:
 * the reactor must not sleep on it. */
START_TEST(work_arriving_at_poll_end_is_served)
{
	int id;
	struct polled *p = polled_add(&id);

	atomic_store(&p->arrive_at_off, true);
	reactor_set_poll_ns(&r, 1000 * 1000); /* 1 ms */
	ck_assert_int_eq(reactor_start(&r), 0);
	ck_assert(wait_for(&p->calls, 1));
	ck_assert(wait_for(&p->off_calls, 2)); /* and then it sleeps, told to fire */
	ck_assert(!atomic_load(&p->told_on));
	polled_done(p, id);
}
END_TEST

/* Removing a polled source from another thread while the reactor spins:
 * once reactor_remove() returns, nothing of it is called again. */
START_TEST(remove_while_polled)
{
	int id;
	struct polled *p = polled_add(&id);

	reactor_set_poll_ns(&r, 10ull * 1000 * 1000 * 1000); /* polling until the end */
	ck_assert_int_eq(reactor_start(&r), 0);
	ck_assert(wait_for(&p->ready_calls, 100));
	reactor_remove(&r, id);
	atomic_store(&p->magic, SLOW_DEAD); /* any later call fails the test */
	sleep_ms(50);
	polled_done(p, id); /* removing it again does nothing */
}
END_TEST

/* A reactor that stops while polling tells its sources first: none may
 * stay silent with nobody polling it. */
START_TEST(stop_ends_polling)
{
	int id;
	struct polled *p = polled_add(&id);

	reactor_set_poll_ns(&r, 10ull * 1000 * 1000 * 1000); /* polling until the stop */
	ck_assert_int_eq(reactor_start(&r), 0);
	ck_assert(wait_for(&p->on_calls, 1));
	reactor_stop(&r);
	ck_assert_uint_eq(atomic_load(&p->off_calls), 1);
	ck_assert(!atomic_load(&p->told_on));
	polled_done(p, id);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("reactor");
	TCase *tc = tcase_create("reactor");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, handler_gets_event_mask_and_budget);
	tcase_add_test(tc, level_and_edge_triggering);
	tcase_add_test(tc, timers_fire_per_source);
	tcase_add_test(tc, budget_lets_others_run);
	tcase_add_test(tc, remove_waits_for_running_handler);
	tcase_add_test(tc, add_remove_while_running);
	tcase_add_test(tc, handler_removes_itself);
	tcase_add_test(tc, table_full_is_enospc);
	tcase_add_test(tc, poll_finds_work_without_fd);
	tcase_add_test(tc, no_poll_time_no_polling);
	tcase_add_test(tc, work_arriving_at_poll_end_is_served);
	tcase_add_test(tc, remove_while_polled);
	tcase_add_test(tc, stop_ends_polling);
	tcase_add_test(tc, trickles_in_a_row_batch_until_other_work);
	tcase_add_test(tc, other_work_restarts_the_count);
	tcase_add_test(tc, full_wakeups_keep_batching_and_do_not_start_it);
	suite_add_tcase(s, tc);
	return check_run_suite(s);
}
