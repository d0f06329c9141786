/* The reactor: one thread that waits on file descriptors with epoll and
 * runs their handlers.
 *
 * Any fd fits: eventfds (queue kicks, a backend's hand-over), TAP devices,
 * sockets, timerfds, a disk's io_uring (readable while completions wait,
 * devices/block-engine-uring.c). A handler gets the epoll event mask and decides for
 * itself whether and how to drain its fd (an eventfd is read, a TAP is
 * read until EAGAIN, an EPOLLOUT means "the socket has room again").
 *
 * Budget: a handler is told how much work it may do per wake-up (e.g.
 * chains served). If it stops with work left it returns REACTOR_MORE and
 * the reactor calls it again after every other ready source had its turn,
 * without waiting in epoll: one busy device cannot starve the others.
 *
 * Timers: reactor_add_timer() runs a handler every period_ms from its own
 * timerfd (one per source, not one global tick).
 *
 * Polling: a source may also tell, without a system call, whether it has
 * work (reactor_set_poll(): a virtqueue holding requests, an io_uring
 * holding completions). When nothing is left to do, the reactor spins
 * asking those sources before it sleeps in epoll, and runs a ready one's
 * handler at once (events 0). The thread that made the work (a vCPU, the
 * kernel completing I/O) then wakes no one; on a host where waking a
 * thread costs microseconds that is most of a request's latency. While
 * it polls, a source may stop its fd from firing (a virtqueue asks the
 * driver not to kick: no exit, no eventfd) and must start it again before
 * the reactor sleeps. The reactor sleeps once poll_ns passed with no
 * work, and looks at epoll (without waiting) at least every poll_ns while
 * there is work. The price is a CPU spinning for poll_ns after each burst
 * of work, so it only pays where another CPU runs the guest: with one CPU
 * the spin delays the very thread it waits for. 0 (the default) turns
 * polling off.
 *
 * Streams: a handler serving a stream another thread feeds (frames on a
 * TAP) says so with reactor_note_stream(), and whether this wake-up found
 * only a trickle (the fd ran dry after a few items). On a CPU shared with
 * the feeding thread, Linux lets the woken reactor preempt it at every
 * item once the reactor is a little behind in CPU time, and then it stays
 * that way: the reactor reads 3 or 4 items a wake-up, and both threads
 * spend twice the CPU an item on switches (tests/bench/README, "Why
 * skiff's rx is behind"). So after REACTOR_TRICKLE_RUN trickles in a row
 * the reactor thread makes itself SCHED_BATCH, whose wake-ups never
 * preempt: it drains a batch when the feeder's time slice ends instead.
 * The first dispatch that is not the stream's (a kick, a completion, a
 * timer) makes it SCHED_OTHER again, so what comes next is served at
 * once as before; a kick that arrives while it is batch waits at most
 * for the running thread's slice, and only where a CPU is contended.
 *
 * Removal is safe while the loop runs: each source has a generation,
 * carried in the epoll data with its slot index. The loop looks the slot
 * up under the lock and ignores an event whose generation is stale (the
 * source was removed, the slot possibly reused). reactor_remove() called
 * from another thread waits until a handler running for that source has
 * returned; after it returns the caller may free the opaque and close the
 * fd. Called from inside a handler (the reactor thread) it does not wait.
 *
 * Locking: reactor->lock guards the source table only; handlers run
 * without it, so they may add and remove sources.
 */
#ifndef SKIFF_REACTOR_H
#define SKIFF_REACTOR_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define REACTOR_MAX_SOURCES    1024 /* every queue's kick eventfd, timers, device fds */
#define REACTOR_DEFAULT_BUDGET 64
#define REACTOR_TRICKLE_RUN    32   /* trickles in a row before the reactor batches (see the top) */

enum reactor_result {
	REACTOR_DONE, /* nothing left until the fd fires again */
	REACTOR_MORE, /* budget used up with work left: call me again soon */
};

/* events: EPOLLIN/EPOLLOUT/EPOLLERR/EPOLLHUP as epoll reported them, or 0
 * when the reactor calls again after REACTOR_MORE. */
typedef enum reactor_result (*reactor_handler)(void *opaque, uint32_t events, unsigned budget);
/* A polled source's callbacks (see the top), on the reactor thread,
 * never while its handler runs. */
struct reactor_poll_ops {
	/* Does the source have work now? Called often: cheap, no system
	 * call, no waiting for a lock. */
	bool (*ready)(void *opaque);
	/* Optional: polling starts (on) or ends before the reactor sleeps
	 * (off). A source that silenced its fd while polled must make it
	 * fire again at off, and return whether work came meanwhile. */
	bool (*polling)(void *opaque, bool on);
};

/* Registration flags. */
#define REACTOR_EDGE 1u /* EPOLLET: the handler must drain until EAGAIN */

struct reactor_source {
	int fd;
	reactor_handler handler;
	const struct reactor_poll_ops *poll; /* NULL: not polled */
	void *opaque;
	unsigned budget;
	uint32_t generation; /* bumped on removal: stale events are ignored */
	bool in_use;
	bool owns_fd; /* timers: the reactor closes the timerfd */
	bool timer;   /* the reactor reads the expiration count itself */
	bool more;    /* returned REACTOR_MORE: call again without waiting */
	bool busy;    /* its handler is running on the reactor thread */
};

struct reactor {
	int epoll_fd;
	int wake_fd; /* eventfd that makes the thread look at `stopping` */
	pthread_t thread;
	bool running;
	bool stopping; /* guarded by lock */
	uint64_t poll_ns; /* atomic; 0: sleep in epoll at once */
	bool polling;     /* reactor thread only: polled sources were told "on" */
	/* Reactor thread only (see Streams at the top): what the running
	 * handler noted, trickles in a row, and whether it is SCHED_BATCH. */
	enum { REACTOR_NOT_STREAM, REACTOR_STREAM_TRICKLE, REACTOR_STREAM_FULL } stream;
	unsigned trickle_run;
	bool batch;
	pthread_mutex_t lock;
	pthread_cond_t idle; /* signalled when a handler returns */
	/* One past the highest slot ever used (slots are taken lowest
	 * first): the thread's scans for leftover work stop there instead
	 * of walking all REACTOR_MAX_SOURCES slots on every wake-up. */
	unsigned nr_slots;
	struct reactor_source sources[REACTOR_MAX_SOURCES];
};

__attribute__((warn_unused_result)) int reactor_init(struct reactor *r);
/* Watch fd for events (EPOLLIN and/or EPOLLOUT); flags REACTOR_EDGE or 0;
 * budget 0 means REACTOR_DEFAULT_BUDGET. Returns a source id (>= 0) for
 * reactor_remove(), or -errno. The caller keeps owning fd. */
__attribute__((warn_unused_result)) int reactor_add(struct reactor *r, int fd, uint32_t events, unsigned flags,
                                                    reactor_handler handler, void *opaque, unsigned budget);
/* Pause (events 0) or resume watching a source's fd, e.g. a device that
 * stops reading its TAP while the guest's ring is full and resumes on
 * the guest's kick. Level-triggered only. 0, or -errno. */
int reactor_set_events(struct reactor *r, int id, uint32_t events);
/* Let the reactor poll source id (see the top); ops must outlive it.
 * 0 or -errno. */
int reactor_set_poll(struct reactor *r, int id, const struct reactor_poll_ops *ops);
/* How long to poll the ready() sources before sleeping; 0 = never. */
void reactor_set_poll_ns(struct reactor *r, uint64_t poll_ns);
/* From a handler, on the reactor thread: this dispatch served a stream,
 * and found only a trickle of it or not (see Streams at the top). */
void reactor_note_stream(struct reactor *r, bool trickle);
/* Call handler(opaque, EPOLLIN, budget) every period_ms. Returns a source id or -errno. */
__attribute__((warn_unused_result)) int reactor_add_timer(struct reactor *r, unsigned period_ms,
                                                          reactor_handler handler, void *opaque);
/* Stop watching source id. Waits for its running handler (unless called
 * from the reactor thread). Unknown ids are ignored. */
void reactor_remove(struct reactor *r, int id);
__attribute__((warn_unused_result)) int reactor_start(struct reactor *r);
void reactor_stop(struct reactor *r);
/* Stops the thread, removes every source, closes the reactor's fds. */
void reactor_destroy(struct reactor *r);

#endif
