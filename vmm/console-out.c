/* Guest console output without blocking: see console-out.h. */
#include "vmm/console-out.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

int console_out_init(struct console_out *c, int fd)
{
	struct stat st;
	char path[32];

	*c = (struct console_out){.fd = fd, .source = -1};
	c->buf = mmap(NULL, CONSOLE_OUT_BUFFER, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1,
		      0);
	if (c->buf == MAP_FAILED) {
		c->buf = NULL;
		return -errno;
	}
	int ret = pthread_mutex_init(&c->lock, NULL);
	if (ret)
		return -ret;
	if (fstat(fd, &st) < 0 || S_ISREG(st.st_mode))
		return 0;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	int nb = open(path, O_WRONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (nb >= 0) {
		c->fd = nb;
		c->own_fd = true;
		return 0;
	}
	/* A socket cannot be reopened (nor anything without /proc): make
	 * the shared description non-blocking rather than let a stalled
	 * reader hold up the vCPU. Not undone at exit (the sandbox allows
	 * no fcntl then); a terminal is left alone, as the shell needs it
	 * blocking. */
	int flags = fcntl(fd, F_GETFL);
	if (!isatty(fd) && flags >= 0 && (flags & O_NONBLOCK || fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0)) {
		c->nonblocking = true;
		return 0;
	}
	log_warn("serial", "cannot make stdout non-blocking (%s): a stalled reader will hold up the guest",
		 strerror(errno));
	return 0;
}

/* Write from the ring until it is empty or fd is full (lock held). */
static void flush_locked(struct console_out *c)
{
	while (c->len) {
		size_t run = c->head + c->len <= CONSOLE_OUT_BUFFER ? c->len : CONSOLE_OUT_BUFFER - c->head;
		ssize_t w = write(c->fd, c->buf + c->head, run);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			if (w < 0 && errno != EAGAIN) {
				c->dropped += c->len; /* stdout is gone: nothing will take these */
				c->head = c->len = 0;
			}
			return;
		}
		c->head = (c->head + (size_t)w) % CONSOLE_OUT_BUFFER;
		c->len -= (size_t)w;
	}
	c->head = 0;
}

static enum reactor_result on_writable(void *opaque, uint32_t events, unsigned budget)
{
	struct console_out *c = opaque;

	(void)events;
	(void)budget;
	pthread_mutex_lock(&c->lock);
	flush_locked(c); /* until empty or EAGAIN, as edge triggering wants */
	pthread_mutex_unlock(&c->lock);
	return REACTOR_DONE;
}

int console_out_attach(struct console_out *c, struct reactor *r)
{
	if (!c->own_fd && !c->nonblocking)
		return 0; /* a regular file or a blocking stdout: nothing ever waits */
	/* Edge-triggered: an event each time stdout gets room after being
	 * full, so a vCPU that buffered bytes never has to ask for one. */
	int id = reactor_add(r, c->fd, EPOLLOUT, REACTOR_EDGE, on_writable, c, 0);
	if (id == -EPERM)
		return 0; /* epoll refuses files that are always ready (/dev/null): nothing ever waits */
	if (id < 0)
		return id;
	c->reactor = r;
	c->source = id;
	on_writable(c, EPOLLOUT, 0); /* anything written before */
	return 0;
}

void console_out_write(struct console_out *c, const uint8_t *buf, size_t n)
{
	pthread_mutex_lock(&c->lock);
	flush_locked(c); /* older bytes first */
	while (n && !c->len) {
		ssize_t w = write(c->fd, buf, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno != EAGAIN) {
			c->dropped += n; /* stdout is gone */
			n = 0;
		}
		if (w <= 0)
			break;
		buf += w;
		n -= (size_t)w;
	}
	size_t room = CONSOLE_OUT_BUFFER - c->len, keep = n < room ? n : room;
	for (size_t i = 0; i < keep; i++)
		c->buf[(c->head + c->len + i) % CONSOLE_OUT_BUFFER] = buf[i];
	c->len += keep;
	if (keep < n) {
		c->dropped += n - keep;
		log_limited(&c->log_dropped, LOG_WARN, "serial", "stdout is not taking guest output: %llu bytes dropped",
			    (unsigned long long)c->dropped);
	}
	pthread_mutex_unlock(&c->lock);
}

uint64_t console_out_dropped(struct console_out *c)
{
	pthread_mutex_lock(&c->lock);
	uint64_t n = c->dropped;
	pthread_mutex_unlock(&c->lock);
	return n;
}

void console_out_destroy(struct console_out *c)
{
	int64_t left_ms = CONSOLE_OUT_FINAL_FLUSH_MS;

	if (c->source >= 0)
		reactor_remove(c->reactor, c->source);
	c->source = -1;
	/* The guest is gone: give a slow reader a moment for the last lines
	 * (a test harness reading them, say), no more. */
	pthread_mutex_lock(&c->lock);
	for (flush_locked(c); c->len && left_ms > 0; flush_locked(c)) {
		struct pollfd p = {.fd = c->fd, .events = POLLOUT};
		struct timespec t0, t1;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		if (poll(&p, 1, (int)left_ms) <= 0 && errno != EINTR)
			break;
		clock_gettime(CLOCK_MONOTONIC, &t1);
		left_ms -= (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	}
	c->dropped += c->len;
	c->len = 0;
	pthread_mutex_unlock(&c->lock);
	if (c->dropped)
		log_info("serial", "%llu bytes of guest output dropped: stdout did not take them",
			 (unsigned long long)c->dropped);
	if (c->own_fd)
		close(c->fd);
	pthread_mutex_destroy(&c->lock);
	if (c->buf)
		munmap(c->buf, CONSOLE_OUT_BUFFER);
	c->buf = NULL;
}
