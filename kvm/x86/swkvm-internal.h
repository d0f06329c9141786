/* What swkvm-emul.c (the emulator's adapter) takes from swkvm.c (the
 * other workarounds); nothing else includes it. */
#ifndef SKIFF_SWKVM_INTERNAL_H
#define SKIFF_SWKVM_INTERNAL_H

#include <linux/kvm.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kvm/x86/swkvm.h"

/* swkvm.c: the vCPU stopped on the page-fault trap's int3. */
enum swkvm_result swkvm_pf_trap_handle(struct swkvm *sw, int vcpu_fd, const struct guest_mem *mem,
				       struct kvm_regs *regs, char *msg, size_t msglen);

#endif
