/* Guest access through a stopped vCPU (swkvm-guest.c): the ground the
 * software-KVM workarounds (swkvm-tick.c, swkvm-pf-trap.c) and the
 * emulator's adapter (swkvm-emul.c) stand on. Nothing here knows struct
 * swkvm. */
#ifndef SKIFF_X86_SWKVM_GUEST_H
#define SKIFF_X86_SWKVM_GUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/guest-mem.h"

/* Page-fault error code bits. */
#define SWKVM_PF_P 1u /* the page was present: a protection fault */
#define SWKVM_PF_W 2u /* a write */
/* Translate gva for a ring-0 access through the guest's long-mode page
 * tables at cr3 (5 levels with la57), honouring CR0.WP for writes, and set
 * the Accessed/Dirty bits. 0 and *gpa, or -EFAULT and the #PF error code. */
int swkvm_walk(const struct guest_mem *mem, uint64_t cr3, bool la57, bool wp, uint64_t gva, bool write,
	       uint64_t *gpa, uint32_t *pf_error);

/* All vCPU ioctls of the software-KVM code go through this (ioctl(2) by
 * default); unit tests point it at a faked vCPU. */
extern int (*swkvm_vcpu_ioctl)(int fd, unsigned long req, void *arg);

/* Short for swkvm_vcpu_ioctl (tests/unit/test-swkvm.c fakes it). */
#define vioctl(fd, req, arg) swkvm_vcpu_ioctl((fd), (req), (arg))

#define PF_VECTOR 14 /* #PF */

/* The vCPU's KVM_TRANSLATE; 0, or -EFAULT if gva is not mapped. */
int swkvm_gva_to_gpa(int vcpu_fd, uint64_t gva, uint64_t *gpa);
int swkvm_inject_exception(int vcpu_fd, unsigned vector, bool has_error_code, uint32_t error_code);

/* Guest virtual memory as one instruction sees it. */
struct swkvm_gva_view {
	int vcpu_fd;
	const struct guest_mem *mem;
	/* paging, for swkvm_walk; KVM_TRANSLATE outside long mode */
	bool walk, la57, wp;
	uint64_t cr3;
	uint32_t fault_error; /* page-fault error code of the last failed access */
};

/* Copy len bytes between buf and guest virtual memory, page by page.
 * Returns how many bytes were copied: short at the first page that is not
 * mapped (or not writable, for a write), with v->fault_error set. */
size_t swkvm_gva_access(struct swkvm_gva_view *v, uint64_t gva, void *buf, size_t len, bool write);
/* Read through KVM_TRANSLATE (kernel text, the IDT, exception frames). */
size_t swkvm_read_gva(int vcpu_fd, const struct guest_mem *mem, uint64_t gva, void *buf, size_t len);

#endif
