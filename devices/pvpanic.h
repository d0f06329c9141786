/* QEMU's pvpanic ISA device: one byte-wide port (PORT_PVPANIC, 0x505) the
 * guest kernel writes when it panics, so skiff can tell a crash from a
 * clean shutdown. The guest finds it through an ACPI "QEMU0001" device.
 *
 *   read   the events we support: PVPANIC_PANICKED | PVPANIC_CRASH_LOADED
 *   write  bit 0 (PANICKED): stop the VM with STOP_PANIC, status 0
 *          bit 1 (CRASH_LOADED): the guest panicked but will boot its
 *          kdump kernel itself; logged and the VM keeps running
 */
#ifndef SKIFF_PVPANIC_H
#define SKIFF_PVPANIC_H


#include "bus/bus.h"
#include "base/hooks.h"
#include "base/log.h"

#define PVPANIC_PANICKED      0x01
#define PVPANIC_CRASH_LOADED  0x02

struct pvpanic {
	struct stop_hook stop;
	struct log_limit log_crash_loaded; /* the guest may write that event again and again */
};

void pvpanic_init(struct pvpanic *p, struct stop_hook stop);

extern const struct bus_ops pvpanic_ops; /* opaque = struct pvpanic * */

#endif
