/* Software-KVM workaround 2, the instructions the host's emulator
 * rejects: the adapter that runs insn-emul.c on a stopped vCPU (registers,
 * FPU and XSAVE state; memory through swkvm-guest.c's page walk). It sits
 * on top of swkvm-pf-trap.c, whose page-fault trap it hands the trap's
 * int3 to, and of swkvm.c, which counts what it emulated. Read swkvm.h
 * first. */
#include "kvm/x86/swkvm.h"
#include "kvm/x86/insn-emul.h"
#include "kvm/x86/swkvm-pf-trap.h"
#include "kvm/x86/swkvm-guest.h"
#include "base/log.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define UNKNOWN_INSN_RETRIES 3 /* another vCPU may be patching that code */

/* ---- workaround 2: instructions the host's emulator rejects ---- */

struct emul_ctx {
	struct swkvm *sw;
	int vcpu_fd;
	struct swkvm_gva_view view; /* guest memory as the instruction sees it */
	bool fpu_dirty;
	struct kvm_fpu fpu;
	bool fpu_loaded;
	bool xsave_loaded;
	struct kvm_xsave xsave;
};

static int emul_read_mem(void *opaque, uint64_t gva, void *buf, size_t len)
{
	struct emul_ctx *c = opaque;
	return swkvm_gva_access(&c->view, gva, buf, len, false) == len ? 0 : -EFAULT;
}

static int emul_write_mem(void *opaque, uint64_t gva, const void *buf, size_t len)
{
	struct emul_ctx *c = opaque;
	return swkvm_gva_access(&c->view, gva, (void *)buf, len, true) == len ? 0 : -EFAULT;
}

static struct kvm_fpu *emul_fpu(struct emul_ctx *c)
{
	if (!c->fpu_loaded) {
		if (vioctl(c->vcpu_fd, KVM_GET_FPU, &c->fpu) < 0)
			memset(&c->fpu, 0, sizeof(c->fpu));
		c->fpu_loaded = true;
	}
	return &c->fpu;
}

static uint32_t emul_get_mxcsr(void *opaque)
{
	return emul_fpu(opaque)->mxcsr;
}

static void emul_set_mxcsr(void *opaque, uint32_t value)
{
	struct emul_ctx *c = opaque;
	emul_fpu(c)->mxcsr = value;
	c->fpu_dirty = true;
}

static void emul_fpu_init(void *opaque)
{
	struct emul_ctx *c = opaque;
	struct kvm_fpu *f = emul_fpu(c);
	f->fcw = 0x37f;
	f->fsw = 0;
	f->ftwx = 0; /* abridged tag word: all registers empty */
	f->last_opcode = 0;
	f->last_ip = 0;
	f->last_dp = 0;
	c->fpu_dirty = true;
}

static int emul_get_xcr(void *opaque, uint32_t index, uint64_t *value)
{
	struct emul_ctx *c = opaque;
	struct kvm_xcrs x;
	if (vioctl(c->vcpu_fd, KVM_GET_XCRS, &x) < 0)
		return -errno;
	for (unsigned i = 0; i < x.nr_xcrs && i < KVM_MAX_XCRS; i++)
		if (x.xcrs[i].xcr == index) {
			*value = x.xcrs[i].value;
			return 0;
		}
	return -ENOENT;
}

static int emul_set_xcr(void *opaque, uint32_t index, uint64_t value)
{
	struct emul_ctx *c = opaque;
	struct kvm_xcrs x = { .nr_xcrs = 1, .xcrs = { { .xcr = index, .value = value } } };
	return vioctl(c->vcpu_fd, KVM_SET_XCRS, &x) < 0 ? -errno : 0;
}

static int emul_get_xstate(void *opaque, uint8_t *image, size_t len)
{
	struct emul_ctx *c = opaque;
	if (len > sizeof(c->xsave.region))
		return -EINVAL;
	if (!c->xsave_loaded && vioctl(c->vcpu_fd, KVM_GET_XSAVE, &c->xsave) < 0)
		return -errno;
	c->xsave_loaded = true;
	memcpy(image, c->xsave.region, len);
	return 0;
}

static int emul_set_xstate(void *opaque, const uint8_t *image, size_t len)
{
	struct emul_ctx *c = opaque;
	if (len > sizeof(c->xsave.region) || !c->xsave_loaded)
		return -EINVAL;
	memcpy(c->xsave.region, image, len);
	return vioctl(c->vcpu_fd, KVM_SET_XSAVE, &c->xsave) < 0 ? -errno : 0;
}

/* KVM's register file and the emulator's use the same GPR order only by
 * name, so copy field by field. */
#define KVM_GPRS(X)                                                                                         \
	X(0, rax) X(1, rcx) X(2, rdx) X(3, rbx) X(4, rsp) X(5, rbp) X(6, rsi) X(7, rdi) X(8, r8) X(9, r9)   \
	X(10, r10) X(11, r11) X(12, r12) X(13, r13) X(14, r14) X(15, r15)

static int inject_page_fault(int vcpu_fd, struct kvm_sregs *sregs, uint64_t cr2, uint32_t error)
{
	sregs->cr2 = cr2;
	if (vioctl(vcpu_fd, KVM_SET_SREGS, sregs) < 0)
		return -errno;
	return swkvm_inject_exception(vcpu_fd, PF_VECTOR, true, error);
}

enum swkvm_result swkvm_handle_emulation_failure(struct swkvm *sw, struct swkvm_vcpu *sv, int vcpu_fd,
						 const struct guest_mem *mem, char *msg, size_t msglen)
{
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	uint8_t bytes[15];
	struct timespec t0, t1;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
	if (vioctl(vcpu_fd, KVM_GET_REGS, &regs) < 0 || vioctl(vcpu_fd, KVM_GET_SREGS, &sregs) < 0) {
		snprintf(msg, msglen, "emulation failure: cannot read vCPU registers: %s", strerror(errno));
		return SWKVM_FATAL;
	}
	uint64_t trap = atomic_load(&sw->pf_trap_va);
	unsigned cpl = sregs.cs.selector & 3;
	if (trap != 0 && regs.rip == trap && cpl == 0)
		return swkvm_pf_trap_handle(sw, vcpu_fd, mem, &regs, msg, msglen);

	/* Outside long mode RIP is an offset into CS. */
	uint64_t pc = sregs.cs.l ? regs.rip : sregs.cs.base + (uint32_t)regs.rip;
	size_t n = swkvm_read_gva(vcpu_fd, mem, pc, bytes, sizeof(bytes));

	struct emul_ctx ctx = {
		.sw = sw,
		.vcpu_fd = vcpu_fd,
		.view = {
			.vcpu_fd = vcpu_fd,
			.mem = mem,
			.walk = (sregs.cr0 & (1ull << 31)) && (sregs.efer & (1 << 10)) && (sregs.cr4 & (1 << 5)),
			.la57 = sregs.cr4 & (1 << 12),
			.wp = sregs.cr0 & (1 << 16),
			.cr3 = sregs.cr3,
		},
	};
	struct insn_cpu cpu = {
		.rip = regs.rip,
		.rflags = regs.rflags,
		.seg_base = { [INSN_SEG_ES] = sregs.es.base, [INSN_SEG_CS] = sregs.cs.base, [INSN_SEG_SS] = sregs.ss.base,
			      [INSN_SEG_DS] = sregs.ds.base, [INSN_SEG_FS] = sregs.fs.base, [INSN_SEG_GS] = sregs.gs.base },
		.cs_l = sregs.cs.l,
		.cs_db = sregs.cs.db,
		.ctx = &ctx,
		.read_mem = emul_read_mem,
		.write_mem = emul_write_mem,
		.get_mxcsr = emul_get_mxcsr,
		.set_mxcsr = emul_set_mxcsr,
		.fpu_init = emul_fpu_init,
		.xlayout = sw->xlayout.size ? &sw->xlayout : NULL,
		.get_xcr = emul_get_xcr,
		.set_xcr = emul_set_xcr,
		.get_xstate = emul_get_xstate,
		.set_xstate = emul_set_xstate,
	};
#define TO_CPU(i, r) cpu.gpr[i] = regs.r;
	KVM_GPRS(TO_CPU)
#undef TO_CPU
	struct insn_outcome out;
	enum insn_result res;

	if (cpl != 0) {
		/* The emulator assumes ring 0 (no privilege checks). A ring-3
		 * instruction the host rejects gets the exception hardware would
		 * most plausibly raise: #BP for int3, #UD for anything else. */
		bool is_int3 = n >= 1 && bytes[0] == 0xcc;
		if (is_int3)
			regs.rip += 1;
		if ((is_int3 && vioctl(vcpu_fd, KVM_SET_REGS, &regs) < 0) ||
		    swkvm_inject_exception(vcpu_fd, is_int3 ? 3 : 6, false, 0) < 0) {
			snprintf(msg, msglen, "CPL %u emulation failure at %#llx: exception injection failed: %s", cpl,
				 (unsigned long long)regs.rip, strerror(errno));
			return SWKVM_FATAL;
		}
		if (atomic_fetch_add(&sw->nr_user_rejected, 1) < 5)
			log_warn("swkvm", "the host rejected a ring-%u instruction at %#llx: injected %s", cpl,
				 (unsigned long long)regs.rip, is_int3 ? "#BP" : "#UD");
		return SWKVM_RESUME;
	}
	res = insn_emulate(&cpu, bytes, n, &out);

	if (res == INSN_UNSUPPORTED) {
		/* With several vCPUs the kernel may have been rewriting this very
		 * code (alternatives, jump labels): run it again a few times. */
		if (sv->retry_rip != regs.rip) {
			sv->retry_rip = regs.rip;
			sv->retry_count = 0;
		}
		if (++sv->retry_count <= UNKNOWN_INSN_RETRIES)
			return SWKVM_RESUME;
		char hex[64];
		insn_format_bytes(bytes, n, hex, sizeof(hex));
		snprintf(msg, msglen, "the host rejected an instruction skiff cannot emulate at RIP %#llx (CPL %u): %s (%s)",
			 (unsigned long long)regs.rip, cpl, n ? hex : "unreadable", out.reason);
		return SWKVM_FATAL;
	}
	sv->retry_rip = 0;
	if (res == INSN_MEM_FAULT) {
		/* What the CPU would do: #PF with CR2 and the error code. The
		 * kernel's exception-table fix-ups (user XSAVE/XRSTOR in signal
		 * delivery and sigreturn) then run as on hardware. */
		uint32_t err = ctx.view.fault_error | (out.fault_write ? SWKVM_PF_W : 0);
		if (inject_page_fault(vcpu_fd, &sregs, out.fault_gva, err) < 0)
			goto inject_failed;
		atomic_fetch_add(&sw->nr_page_faults_injected, 1);
		log_debug("swkvm", "%s at %#llx: #PF at %#llx, error code %#x", out.name,
			  (unsigned long long)regs.rip, (unsigned long long)out.fault_gva, err);
		return SWKVM_RESUME;
	}

#define FROM_CPU(i, r) regs.r = cpu.gpr[i];
	KVM_GPRS(FROM_CPU)
#undef FROM_CPU
	regs.rip = cpu.rip;
	regs.rflags = cpu.rflags;
	if (vioctl(vcpu_fd, KVM_SET_REGS, &regs) < 0 || (ctx.fpu_dirty && vioctl(vcpu_fd, KVM_SET_FPU, &ctx.fpu) < 0)) {
		snprintf(msg, msglen, "emulating %s: vCPU register update failed: %s", out.name, strerror(errno));
		return SWKVM_FATAL;
	}
	if (res == INSN_INJECT_BP && swkvm_inject_exception(vcpu_fd, 3, false, 0) < 0)
		goto inject_failed;
	if (res == INSN_INJECT_GP && swkvm_inject_exception(vcpu_fd, 13, true, 0) < 0)
		goto inject_failed;
	atomic_fetch_add(&sw->nr_emulated, 1);
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t1);
	swkvm_count_insn(sw, out.name, (t1.tv_sec - t0.tv_sec) * 1000000000L + (t1.tv_nsec - t0.tv_nsec));
	log_debug("swkvm", "emulated %s at %#llx", out.name, (unsigned long long)regs.rip);
	return SWKVM_RESUME;

inject_failed:
	snprintf(msg, msglen, "emulating %s: exception injection failed: %s", out.name, strerror(errno));
	return SWKVM_FATAL;
}
