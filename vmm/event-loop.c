/* The event loop thread. See event-loop.h. */
#include "vmm/event-loop.h"
#include "vmm/log.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

int event_loop_init(struct event_loop *loop)
{
	memset(loop, 0, sizeof(*loop));
	pthread_mutex_init(&loop->lock, NULL);
	loop->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	loop->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (loop->epoll_fd < 0 || loop->wake_fd < 0)
		return -errno;
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
	return epoll_ctl(loop->epoll_fd, EPOLL_CTL_ADD, loop->wake_fd, &ev) < 0 ? -errno : 0;
}

int event_loop_add(struct event_loop *loop, int fd, void (*handler)(void *), void *opaque)
{
	int ret = -ENOSPC;

	pthread_mutex_lock(&loop->lock);
	for (unsigned i = 0; i < EVENT_LOOP_MAX_SOURCES; i++) {
		struct event_source *s = &loop->sources[i];
		if (s->in_use)
			continue;
		*s = (struct event_source){ .fd = fd, .handler = handler, .opaque = opaque, .in_use = true };
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = s };
		ret = epoll_ctl(loop->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
		if (ret < 0)
			s->in_use = false;
		break;
	}
	pthread_mutex_unlock(&loop->lock);
	return ret;
}

void event_loop_remove(struct event_loop *loop, int fd)
{
	pthread_mutex_lock(&loop->lock);
	for (unsigned i = 0; i < EVENT_LOOP_MAX_SOURCES; i++) {
		struct event_source *s = &loop->sources[i];
		if (s->in_use && s->fd == fd) {
			epoll_ctl(loop->epoll_fd, EPOLL_CTL_DEL, fd, NULL);
			s->in_use = false;
		}
	}
	pthread_mutex_unlock(&loop->lock);
}

static void *event_loop_thread(void *arg)
{
	struct event_loop *loop = arg;
	struct epoll_event events[16];

	pthread_setname_np(pthread_self(), "events");
	while (!loop->stopping) {
		int n = epoll_wait(loop->epoll_fd, events, 16, loop->tick_ms ? (int)loop->tick_ms : -1);
		if (n < 0 && errno != EINTR) {
			log_error("events", "epoll_wait: %s", strerror(errno));
			break;
		}
		for (int i = 0; i < n; i++) {
			struct event_source *s = events[i].data.ptr;
			uint64_t count;
			if (!s)
				continue; /* the wake-up eventfd */
			/* Drain first: a kick arriving while the handler runs re-arms it. */
			while (read(s->fd, &count, sizeof(count)) == sizeof(count))
				;
			s->handler(s->opaque);
		}
		if (loop->tick)
			loop->tick(loop->tick_opaque);
	}
	return NULL;
}

int event_loop_start(struct event_loop *loop)
{
	int ret = pthread_create(&loop->thread, NULL, event_loop_thread, loop);
	if (ret != 0)
		return -ret;
	loop->running = true;
	return 0;
}

void event_loop_stop(struct event_loop *loop)
{
	uint64_t one = 1;

	if (!loop->running)
		return;
	loop->stopping = true;
	(void)!write(loop->wake_fd, &one, sizeof(one));
	pthread_join(loop->thread, NULL);
	loop->running = false;
}

void event_loop_destroy(struct event_loop *loop)
{
	event_loop_stop(loop);
	if (loop->epoll_fd >= 0)
		close(loop->epoll_fd);
	if (loop->wake_fd >= 0)
		close(loop->wake_fd);
	loop->epoll_fd = loop->wake_fd = -1;
}
