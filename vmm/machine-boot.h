/* What the guest kernel is handed (machine-boot.c): its command line and
 * its initrd, and with --dump-dtb the machine as a device tree. Steps of
 * machine_create(); on failure err holds one line. */
#ifndef SKIFF_MACHINE_BOOT_H
#define SKIFF_MACHINE_BOOT_H

#include <stddef.h>
#include <stdint.h>

#include "kvm/x86/kernel-load.h"
#include "vmm/machine-state.h"

/* skiff's defaults, the software-KVM switches, then --cmdline; malloc'd,
 * NULL without memory. */
char *machine_build_cmdline(const struct machine *m);
/* --dump-dtb: write the machine as a device tree. */
int machine_dump_dtb(const struct machine *m, const char *cmdline, char *err, size_t errlen);
/* --initrd into guest memory where entry allows; its place and size. */
int machine_load_initrd(struct machine *m, const struct kernel_entry *entry, uint64_t *addr, uint64_t *size,
			char *err, size_t errlen);

#endif
