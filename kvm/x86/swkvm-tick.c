/* Software-KVM workaround 3, and the upkeep of 4: the watchdog tick that
 * steps a vCPU over a hypercall the host never completes, and keeps the
 * page-fault vector pointed at the trampoline (swkvm-pf-trap.c). Read
 * swkvm.h first. */
#include "kvm/x86/swkvm.h"
#include "kvm/x86/swkvm-guest.h"
#include "kvm/x86/swkvm-pf-trap.h"
#include "base/log.h"

#include <linux/kvm.h>

#define HYPERCALL_ENOSYS ((uint64_t)-1000) /* -KVM_ENOSYS */

bool swkvm_is_hypercall(const uint8_t *b, size_t len)
{
	return len >= 3 && b[0] == 0x0f && b[1] == 0x01 && (b[2] == 0xc1 || b[2] == 0xd9);
}

long swkvm_tick_period_ns(const struct swkvm *sw)
{
	if (!sw->active)
		return 0;
	return atomic_load(&sw->pf_gate_target) && !sw->fast_tick ? SWKVM_TICK_SLOW_NS : SWKVM_TICK_FAST_NS;
}

void swkvm_tick(struct swkvm *sw, struct swkvm_vcpu *sv, int vcpu_fd, const struct guest_mem *mem, bool boot_vcpu)
{
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	uint8_t insn[3];

	if (!sw->active)
		return;
	atomic_fetch_add(&sw->nr_ticks, 1);
	if (vioctl(vcpu_fd, KVM_GET_REGS, &regs) < 0 || vioctl(vcpu_fd, KVM_GET_SREGS, &sregs) < 0)
		return;
	if (boot_vcpu)
		swkvm_pf_trap_maintain(sw, vcpu_fd, mem, &sregs);
	if ((sregs.cs.selector & 3) != 0) {
		sv->hypercall_rip = 0; /* hypercalls are skipped only for the kernel */
		return;
	}

	uint64_t pc = sregs.cs.l ? regs.rip : sregs.cs.base + (uint32_t)regs.rip;
	if (swkvm_read_gva(vcpu_fd, mem, pc, insn, 3) != 3 || !swkvm_is_hypercall(insn, 3)) {
		sv->hypercall_rip = 0;
		return;
	}
	if (sv->hypercall_rip != regs.rip) {
		sv->hypercall_rip = regs.rip; /* first sighting: give it one more tick */
		return;
	}
	/* Two ticks on the same hypercall: the host will never complete it. */
	unsigned long nr = regs.rax;
	regs.rax = HYPERCALL_ENOSYS;
	regs.rip += 3;
	if (vioctl(vcpu_fd, KVM_SET_REGS, &regs) == 0 && atomic_fetch_add(&sw->nr_hypercalls_skipped, 1) < 5)
		log_info("swkvm", "hypercall %lu at %#llx never completed; returned -KVM_ENOSYS", nr,
			 (unsigned long long)(regs.rip - 3));
	sv->hypercall_rip = 0;
}
