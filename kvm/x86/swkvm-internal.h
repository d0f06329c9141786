/* What swkvm.c (the workarounds) and swkvm-emul.c (the emulator's
 * adapter and page walk) share; nothing else includes it. */
#ifndef SKIFF_SWKVM_INTERNAL_H
#define SKIFF_SWKVM_INTERNAL_H

#include <linux/kvm.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kvm/x86/swkvm.h"

/* Every vCPU ioctl goes through swkvm_vcpu_ioctl, so unit tests can put a
 * faked vCPU behind it (tests/unit/test-swkvm.c). */
#define vioctl(fd, req, arg) swkvm_vcpu_ioctl((fd), (req), (arg))

#define PF_VECTOR 14

/* swkvm-emul.c */
int swkvm_gva_to_gpa(int vcpu_fd, uint64_t gva, uint64_t *gpa);
/* Read through KVM_TRANSLATE (kernel text, the IDT, exception frames). */
size_t swkvm_read_gva(int vcpu_fd, const struct guest_mem *mem, uint64_t gva, void *buf, size_t len);
int swkvm_inject_exception(int vcpu_fd, unsigned vector, bool has_error_code, uint32_t error_code);
/* The standard XSAVE layout of this CPU (CPUID leaf 0xD). */
void swkvm_xstate_layout_init(struct insn_xstate_layout *l);

/* swkvm.c: the vCPU stopped on the page-fault trap's int3. */
enum swkvm_result swkvm_pf_trap_handle(struct swkvm *sw, int vcpu_fd, const struct guest_mem *mem,
				       struct kvm_regs *regs, char *msg, size_t msglen);

#endif
