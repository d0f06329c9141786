/* QEMU's isa-debug-exit device: a port a test guest writes to end the VM
 * with a status of its choosing (default PORT_DEBUG_EXIT, 0xf4).
 *
 * A write of value v stops the VM with STOP_DEBUG_EXIT and status
 * ((v << 1) | 1) & 0xff: QEMU exits with (v << 1) | 1, and a process exit
 * status keeps only its low 8 bits, so we truncate here and the hook gets
 * exactly what the shell will see (0 -> 1, 1 -> 3, 0x10 -> 0x21,
 * 0x7f -> 0xff, 0x80 -> 1 again). Statuses are odd, so they never look like
 * a clean 0. Reads return all-ones. */
#ifndef SKIFF_DEBUG_EXIT_H
#define SKIFF_DEBUG_EXIT_H

#include <stdint.h>

#include "bus/bus.h"
#include "base/hooks.h"

struct debug_exit {
	struct stop_hook stop;
	unsigned width; /* port size in bytes: 1, 2 or 4; register that many */
};

/* 0, or -EINVAL if width is not 1, 2 or 4. */
int debug_exit_init(struct debug_exit *d, unsigned width, struct stop_hook stop);

/* The status a write of value ends the VM with. */
int debug_exit_status(uint32_t value);

extern const struct bus_ops debug_exit_ops; /* opaque = struct debug_exit * */

#endif
