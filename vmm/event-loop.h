/* One thread that waits on file descriptors (ioeventfds, mostly) and runs
 * their handlers: a guest's queue kick lands here without a vCPU exit. */
#ifndef SKIFF_EVENT_LOOP_H
#define SKIFF_EVENT_LOOP_H

#include <pthread.h>
#include <stdbool.h>

#define EVENT_LOOP_MAX_SOURCES 128

struct event_source {
	int fd;
	void (*handler)(void *opaque); /* called after the eventfd was drained */
	void *opaque;
	bool in_use;
};

struct event_loop {
	int epoll_fd;
	int wake_fd;                   /* eventfd that makes the thread look at `stopping` */
	pthread_t thread;
	bool running;
	volatile bool stopping;
	pthread_mutex_t lock;
	struct event_source sources[EVENT_LOOP_MAX_SOURCES];
	/* Called about every tick_ms (0 = never), e.g. to refill rate limiters. */
	void (*tick)(void *opaque);
	void *tick_opaque;
	unsigned tick_ms;
};

__attribute__((warn_unused_result)) int event_loop_init(struct event_loop *loop);
/* Watch an eventfd: when readable, read it (to reset it) and call handler. */
__attribute__((warn_unused_result)) int event_loop_add(struct event_loop *loop, int fd, void (*handler)(void *),
						       void *opaque);
void event_loop_remove(struct event_loop *loop, int fd);
__attribute__((warn_unused_result)) int event_loop_start(struct event_loop *loop);
void event_loop_stop(struct event_loop *loop);
void event_loop_destroy(struct event_loop *loop);

#endif
