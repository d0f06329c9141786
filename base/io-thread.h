/* Starting skiff's threads: thread_create() for every thread, and
 * io_thread_create() for a device's own I/O thread. The thread names its
 * role to the sandbox first thing (thread_role_enter()). */
#ifndef SKIFF_IO_THREAD_H
#define SKIFF_IO_THREAD_H

#include <pthread.h>
#include <signal.h>

#include "base/thread-role.h"

/* A thread's stack: 1 MiB, not glibc's 8 MiB. skiff's deepest frames
 * hold a few tens of KiB (a 16 KiB vq_chain, an 8 KiB iovec array); and
 * a stack under 2 MiB can never get a transparent huge page where THP is
 * "always" (the nested test host's L1: each 8 MiB stack held a 2 MiB page
 * for the few KiB it used). */
#define THREAD_STACK_SIZE (1u << 20)

/* pthread_create with a THREAD_STACK_SIZE stack. Returns 0 or an errno
 * value, as pthread_create. */
static inline int thread_create(pthread_t *t, void *(*fn)(void *), void *arg)
{
	pthread_attr_t attr;
	int ret = pthread_attr_init(&attr);

	if (ret)
		return ret;
	if (!(ret = pthread_attr_setstacksize(&attr, THREAD_STACK_SIZE)))
		ret = pthread_create(t, &attr, fn, arg);
	pthread_attr_destroy(&attr);
	return ret;
}

/* thread_create with every signal blocked in the new thread: skiff takes
 * SIGTERM & co. through a signalfd in its main thread, and a process
 * signal picked up by an I/O thread would act with its default (kill the
 * process). All but SIGSYS: a call the sandbox stops must reach its
 * handler (which names the call and restores the terminal); blocked, the
 * kernel kills the process without a word. Returns 0 or an errno value,
 * as pthread_create. */
static inline int io_thread_create(pthread_t *t, void *(*fn)(void *), void *arg)
{
	sigset_t all, old;

	sigfillset(&all);
	sigdelset(&all, SIGSYS);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int ret = thread_create(t, fn, arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return ret;
}

#endif
