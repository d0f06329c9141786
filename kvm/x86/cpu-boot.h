/* The CPU state a kernel expects at its entry point, built without any
 * firmware or real-mode code (which software-KVM hosts emulate slowly). */
#ifndef SKIFF_X86_CPU_BOOT_H
#define SKIFF_X86_CPU_BOOT_H

#include <stdint.h>

#include "base/guest-mem.h"

struct kvm_regs;
struct kvm_sregs;

/* Write the boot GDT and identity-mapped page tables (4 GiB, 2 MiB pages)
 * into guest memory. 0 or -EFAULT if the layout is not RAM. */
int cpu_boot_write_tables(struct guest_mem *mem);

/* Linux 64-bit boot protocol: long mode, paging on, flat __BOOT_CS/__BOOT_DS,
 * RSI = boot_params, RIP = entry. */
void cpu_boot_long_mode(struct kvm_sregs *sregs, struct kvm_regs *regs, uint64_t entry, uint64_t boot_params);

/* Xen PVH entry: 32-bit flat protected mode, paging off, EBX = start_info. */
void cpu_boot_pvh(struct kvm_sregs *sregs, struct kvm_regs *regs, uint64_t entry, uint64_t start_info);

#endif
