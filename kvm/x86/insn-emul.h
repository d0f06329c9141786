/* Fallback emulator for the few x86 instructions a software-KVM host
 * rejects (KVM_EXIT_INTERNAL_ERROR, suberror "emulation failure"; see
 * PLATFORM.md and swkvm.h).
 *
 * It is pure: it decodes the instruction bytes the caller read at RIP,
 * updates the register copy in struct insn_cpu, and reaches guest memory,
 * MXCSR and the x87 unit only through the callbacks in that struct. So it
 * needs no KVM and is unit-tested on its own.
 *
 * What it emulates (the table in insn-emul.c is the place to add more):
 *   int3, fwait, fninit, finit, clac, stac, popcnt,
 *   ldmxcsr, stmxcsr, vldmxcsr, vstmxcsr,
 *   xsetbv, xgetbv, xsave, xsaveopt, xrstor (standard, non-compacted
 *   format only; REX.W forms alike).
 * Code modes: 64-bit (CS.L=1) and 32-bit protected/compatibility mode
 * (CS.L=0, CS.D=1). 16-bit code is reported as unsupported.
 *
 * Assumptions, because only guest ring-0 code ever reaches this emulator
 * on such a host (swkvm-emul.c calls it only at CPL 0): no privilege check (CPL), no CR0.TS/EM or CR4.OSFXSR
 * check, no x87 pending-exception (#MF) check in fwait, no single-step
 * (RFLAGS.TF) trap after the instruction, no segment limit checks.
 */
#ifndef SKIFF_X86_INSN_EMUL_H
#define SKIFF_X86_INSN_EMUL_H

#include "kvm/x86/insn.h"

/* Decode and emulate the instruction in bytes[0..len) at cpu->rip.
 * len may be shorter than 15 (the page ended): decoding never reads past
 * it and reports a truncated instruction as INSN_UNSUPPORTED. */
enum insn_result insn_emulate(struct insn_cpu *cpu, const uint8_t *bytes, size_t len,
			      struct insn_outcome *out);

/* Short name of a result, for log lines ("done", "unsupported", ...). */
const char *insn_result_name(enum insn_result r);

#endif
