/* Software-KVM hosts: the workarounds that let an unmodified Linux guest
 * boot on a host whose KVM has no hardware virtualization behind it (guest
 * ring 0 runs in the host kernel's instruction emulator, ring 3 natively).
 * Everything skiff does differently on such hosts is in swkvm.c (setting
 * up, workaround 1, the counters), swkvm-emul.c (workaround 2),
 * swkvm-tick.c (workaround 3), swkvm-pf-trap.c (workaround 4) and
 * swkvm-guest.c (guest access through a stopped vCPU, under all of them),
 * with the reason next to each piece. On hardware KVM none of it runs.
 *
 * The four workarounds:
 *  1. Kernel command-line switches that keep the guest away from CPU
 *     features the emulator cannot handle (CPUID filtering does not hide
 *     them on these hosts; the command line does).
 *  2. A fallback emulator for the instructions the host rejects
 *     (KVM_EXIT_INTERNAL_ERROR / emulation failure): see insn-emul.c.
 *  3. A watchdog for hypercalls that never complete: a vCPU sitting on the
 *     same vmcall for two ticks gets -KVM_ENOSYS and moves on.
 *  4. The ring-3 `syscall` fix-up: the host performs only half of a
 *     syscall (RIP = LSTAR, RCX/R11 set, but the CPU stays in ring 3), so
 *     the guest page-faults at LSTAR. skiff points the guest's page-fault
 *     vector at an int3 byte in kernel text; the host rejects that int3,
 *     skiff gets control on every guest page fault, completes the syscall
 *     when the fault is that half-done syscall, and otherwise resumes at
 *     the kernel's real page-fault handler.
 */
#ifndef SKIFF_X86_SWKVM_H
#define SKIFF_X86_SWKVM_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/guest-mem.h"
#include "kvm/x86/insn.h" /* struct insn_xstate_layout */
#include "kvm/x86/swkvm-guest.h"

enum swkvm_mode { SWKVM_AUTO, SWKVM_ON, SWKVM_OFF };

/* The page-fault trampoline's size (workaround 4): see swkvm-pf-trap.h. */
#define SWKVM_PF_TRAMP_LEN 44

/* Shared by all vCPUs of one VM. */
struct swkvm {
	bool active;
	/* Page-fault trap (workaround 4). All are guest virtual addresses. */
	_Atomic uint64_t pf_gate_target;  /* what IDT[14] points at now; 0 = not installed */
	_Atomic uint64_t pf_trap_va;      /* the int3 that makes the vCPU exit to skiff */
	_Atomic uint64_t pf_real_handler; /* the kernel's own page-fault handler */
	uint64_t pf_tramp_va;             /* the trampoline in kernel text padding, 0 = none
					     (then every page fault exits, see pf_trap_handle) */
	uint8_t pf_tramp[SWKVM_PF_TRAMP_LEN]; /* the bytes written there */
	/* Guest-physical range of the kernel's .text (from the vmlinux loaded;
	 * 0/0 = unknown, e.g. a bzImage). The trampoline goes only there:
	 * other kernel memory (init text, data) may be freed and reused. */
	uint64_t text_gpa_lo, text_gpa_hi;
	bool pf_tramp_spoiled; /* a trampoline was overwritten under us */
	bool fast_tick;        /* SKIFF_SWKVM_FAST_TICK: always tick at 100 Hz */
	/* The host's standard XSAVE layout, for emulating the XSAVE family. */
	struct insn_xstate_layout xlayout;
	/* Counters for the closing log line. */
	_Atomic unsigned long nr_emulated, nr_syscalls_fixed, nr_page_faults, nr_hypercalls_skipped;
	_Atomic unsigned long nr_page_faults_injected, nr_user_rejected, nr_ticks;
	/* Emulated instructions by mnemonic (first SWKVM_INSN_KINDS names). */
#define SWKVM_INSN_KINDS 16
	const char *_Atomic insn_name[SWKVM_INSN_KINDS];
	_Atomic unsigned long insn_count[SWKVM_INSN_KINDS];
	_Atomic unsigned long insn_ns[SWKVM_INSN_KINDS]; /* CPU time skiff spent emulating them */
};

/* Per-vCPU state. */
struct swkvm_vcpu {
	uint64_t hypercall_rip;  /* RIP of a vmcall seen on the previous tick */
	uint64_t retry_rip;      /* RIP of the last unknown instruction */
	unsigned retry_count;
};

/* True if this host's CPU has no VMX/SVM, i.e. KVM is a software
 * implementation. why gets a short human-readable reason. */
bool swkvm_detect(char *why, size_t whylen);
/* Pure part of the detection, for tests: does /proc/cpuinfo text list vmx or svm? */
bool swkvm_cpuinfo_has_hw_virt(const char *cpuinfo);

/* Decide from --swkvm and detection; logs one line saying which mode. */
void swkvm_init(struct swkvm *sw, enum swkvm_mode mode);

/* Guest kernel command-line switches for these hosts (workaround 1). */
extern const char swkvm_cmdline[];

/* Outcome of handling an exit. */
enum swkvm_result {
	SWKVM_RESUME, /* handled: run the vCPU again */
	SWKVM_FATAL,  /* cannot continue: msg says why (RIP and instruction bytes) */
};

/* The kernel's .text, where the page-fault trampoline may go (swkvm.c):
 * the guest-physical range of .text in an x86-64 vmlinux (ELF section
 * headers); false if it has none or the file is malformed. */
bool swkvm_elf_text_range(const uint8_t *elf, size_t len, uint64_t *lo, uint64_t *hi);
void swkvm_set_kernel_text(struct swkvm *sw, uint64_t gpa_lo, uint64_t gpa_hi);

/* One log line: what was emulated, how often (for the closing summary). */
void swkvm_log_stats(struct swkvm *sw);
void swkvm_count_insn(struct swkvm *sw, const char *name, long ns);

/* Workaround 2 (swkvm-emul.c): KVM_EXIT_INTERNAL_ERROR with suberror
 * "emulation failure". */
enum swkvm_result swkvm_handle_emulation_failure(struct swkvm *sw, struct swkvm_vcpu *sv, int vcpu_fd,
						 const struct guest_mem *mem, char *msg, size_t msglen);

/* Workaround 3 and the upkeep of 4 (swkvm-tick.c): called on every
 * watchdog tick (KVM_RUN interrupted by the vCPU's timer). */
void swkvm_tick(struct swkvm *sw, struct swkvm_vcpu *sv, int vcpu_fd, const struct guest_mem *mem,
		bool boot_vcpu);

/* How often the watchdog should tick now. Every 10 ms until the
 * page-fault trampoline is in place (the kernel rewrites its IDT while it
 * boots, and user space needs the gate); then every 100 ms: the tick's
 * only remaining jobs are hypercalls that never complete (the hidden PV
 * features leave none on a normal boot: 0 skipped in the small kernel's
 * boots) and checking the trampoline is intact. Each tick interrupts
 * KVM_RUN, in ring 3 too, where an exit costs ~60 us here. */
#define SWKVM_TICK_FAST_NS (10 * 1000 * 1000)
#define SWKVM_TICK_SLOW_NS (100 * 1000 * 1000)
long swkvm_tick_period_ns(const struct swkvm *sw);

/* vmcall (0f 01 c1) or vmmcall (0f 01 d9)? */
bool swkvm_is_hypercall(const uint8_t *insn, size_t len);

#endif
