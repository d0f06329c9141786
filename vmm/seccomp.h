/* skiff's seccomp filter: once the machine is built, skiff needs only a
 * small set of system calls (KVM ioctls, reads and writes on descriptors
 * it already holds, memory management, threads, timers). A guest that
 * found a bug in a device model should find nothing more there: no new
 * files, no programs, no sockets -- unless a device asks for them
 * (device_type.syscalls: backend=user's libslirp opens sockets). */
#ifndef SKIFF_SECCOMP_H
#define SKIFF_SECCOMP_H

#include <stddef.h>

#include "vmm/options.h"

/* Install the filter in this thread (threads created later inherit it),
 * with what opts's devices need on top. 0, or <0 with one line in err. */
int seccomp_install(const struct options *opts, char *err, size_t errlen);

#endif
