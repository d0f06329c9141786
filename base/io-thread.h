/* Starting a device's own I/O thread. The thread names its role to the
 * sandbox first thing (thread_role_enter()). */
#ifndef SKIFF_IO_THREAD_H
#define SKIFF_IO_THREAD_H

#include <pthread.h>
#include <signal.h>

#include "base/thread-role.h"

/* pthread_create with every signal blocked in the new thread: skiff takes
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
	int ret = pthread_create(t, NULL, fn, arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return ret;
}

#endif
