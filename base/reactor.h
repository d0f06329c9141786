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

enum reactor_result {
	REACTOR_DONE, /* nothing left until the fd fires again */
	REACTOR_MORE, /* budget used up with work left: call me again soon */
};

/* events: EPOLLIN/EPOLLOUT/EPOLLERR/EPOLLHUP as epoll reported them, or 0
 * when the reactor calls again after REACTOR_MORE. */
typedef enum reactor_result (*reactor_handler)(void *opaque, uint32_t events, unsigned budget);

/* Registration flags. */
#define REACTOR_EDGE 1u /* EPOLLET: the handler must drain until EAGAIN */

struct reactor_source {
	int fd;
	reactor_handler handler;
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
