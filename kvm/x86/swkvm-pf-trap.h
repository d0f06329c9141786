/* Software-KVM workaround 4, the ring-3 `syscall` fix-up (swkvm-pf-trap.c):
 * what the watchdog tick (swkvm-tick.c) and the emulator's adapter
 * (swkvm-emul.c) call, and the pure helpers the unit tests check. Read
 * swkvm.h first. */
#ifndef SKIFF_X86_SWKVM_PF_TRAP_H
#define SKIFF_X86_SWKVM_PF_TRAP_H

#include <linux/kvm.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kvm/x86/swkvm.h"

/* The page-fault trampoline: SWKVM_PF_TRAMP_LEN (44) bytes of ring-0 code
 * skiff writes into kernel text padding (Linux fills gaps in its text with
 * int3) and points IDT[14] at. It finishes the half-done syscall inside the guest, so
 * neither syscalls nor page faults exit to skiff:
 *     cmpq  $LSTAR, 8(%rsp)        ; faulting RIP == LSTAR ...
 *     jne   real
 *     testb $3, 16(%rsp)           ; ... and the fault came from ring 3?
 *     jz    real
 *     push  %r11                   ; yes: RFLAGS = user RFLAGS (R11, saved
 *     andq  $~(SFMASK|RF), (%rsp)  ;   by the host) masked as SYSCALL does
 *     popfq
 *     mov   32(%rsp), %rsp         ; the user's RSP, dropping the fault frame
 *     jmp   LSTAR                  ; enter the kernel's syscall entry
 *   real:
 *     jmp   kernel_handler         ; an ordinary page fault */

/* Keep IDT[14] pointed at the trampoline (or the trap byte); on the boot
 * vCPU's watchdog tick, with its special registers. */
void swkvm_pf_trap_maintain(struct swkvm *sw, int vcpu_fd, const struct guest_mem *mem,
			    const struct kvm_sregs *sregs);

/* The vCPU stopped on the page-fault trap's int3 (swkvm-emul.c sees it
 * first, as an instruction the host rejected). */
enum swkvm_result swkvm_pf_trap_handle(struct swkvm *sw, int vcpu_fd, const struct guest_mem *mem,
				       struct kvm_regs *regs, char *msg, size_t msglen);

/* Pure helpers (swkvm-pf-trap.c), exposed for unit tests. */
struct idt_gate64 {
	uint64_t offset;
	uint16_t selector;
	uint8_t ist, type_attr;
};
void swkvm_idt_gate_decode(const uint8_t raw[16], struct idt_gate64 *gate);
void swkvm_idt_gate_encode(const struct idt_gate64 *gate, uint8_t raw[16]);
/* Index of a good trap byte (0xCC, preferably inside a run of two or
 * more) in text[0..len), or -1. */
long swkvm_find_trap_byte(const uint8_t *text, size_t len);
/* Write the trampoline for its address, MSR_LSTAR/MSR_SYSCALL_MASK and the
 * kernel's handler; false when it cannot be expressed: LSTAR not a
 * sign-extended 32-bit address, a jump target out of rel32 reach, or a
 * SYSCALL_MASK that leaves interrupts on (the trampoline runs on the
 * user's stack for two instructions). */
bool swkvm_pf_tramp_build(uint8_t out[SWKVM_PF_TRAMP_LEN], uint64_t tramp_va, uint64_t lstar, uint64_t sfmask,
			  uint64_t handler);
/* Offset of an 8-byte aligned run of at least need int3 (0xcc) bytes, or -1. */
long swkvm_find_padding(const uint8_t *text, size_t len, size_t need);
/* Copy the trampoline into 8-byte aligned int3 padding at dst, word by
 * word with compare-and-swap; false (and dst as it was) if any word was
 * not int3 padding any more. */
bool swkvm_tramp_write(uint8_t *dst, const uint8_t tramp[SWKVM_PF_TRAMP_LEN]);
/* Re-point the 16-byte IDT gate at gate (8-byte aligned host memory),
 * which must still hold expected_raw, at new_offset: one atomic 8-byte
 * compare-and-swap. False if the gate changed or the new offset differs
 * from the old one above bit 31 (that would need two stores). */
bool swkvm_idt_gate_swap(uint8_t *gate, const uint8_t expected_raw[16], uint64_t new_offset);
/* Does a page-fault frame (saved RIP and CS) mean "half-done syscall"? */
bool swkvm_fault_is_broken_syscall(uint64_t frame_rip, uint64_t frame_cs, uint64_t lstar);

#endif
