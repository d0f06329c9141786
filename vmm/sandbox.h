/* skiff's seccomp sandbox: once the machine is built, skiff needs only a
 * small set of system calls (KVM ioctls, reads and writes on descriptors
 * it already holds, memory management, timers). A guest that found a bug
 * in a device model should find nothing more there: no new files, no
 * programs, no sockets -- unless a device asks for them
 * (device_type.syscalls: backend=user's libslirp opens sockets).
 *
 * Two layers:
 *  - the process-wide filter, the union of what every thread may do, put
 *    on every thread at once (TSYNC) when set-up is over: no thread is
 *    left out, whoever started it;
 *  - one narrower filter per thread role (base/thread-role.h), stacked
 *    by each thread on itself when it starts (the kernel applies both).
 *    Threads started during set-up (a disk's I/O threads, the console's)
 *    wait in thread_role_enter() until the sandbox goes on.
 *
 * The order, from the machine: sandbox_plan() before the first thread,
 * sandbox_lock_down() once everything is open, sandbox_release() on the
 * way out (threads still waiting go on unconfined and can be joined). */
#ifndef SKIFF_SANDBOX_H
#define SKIFF_SANDBOX_H

#include <stddef.h>

#include "base/thread-role.h"
#include "vmm/options.h"

/* With opts->seccomp, threads that enter a role from now on wait for
 * sandbox_lock_down(); without, they go on at once. opts must outlive
 * the machine (device_type.syscalls are read from it). */
void sandbox_plan(const struct options *opts);
/* Put the process-wide filter on every thread, then let the waiting
 * threads confine themselves. 0, or <0 with one line in err (the
 * waiting threads are released unconfined: the caller stops). */
int sandbox_lock_down(char *err, size_t errlen);
/* Release threads still waiting (set-up failed before lock-down); the
 * hook stays off from here. Safe to call more than once. */
void sandbox_release(void);

#endif
