/* Software-KVM workaround 4, the ring-3 `syscall` fix-up: the page-fault
 * trampoline skiff writes into kernel text padding (or, without room for
 * it, the int3 trap that brings every page fault to skiff), the IDT gate
 * that points at it, and the trap's handler. Read swkvm-pf-trap.h and
 * swkvm.h first. */
#include "kvm/x86/swkvm-pf-trap.h"
#include "kvm/x86/swkvm-guest.h"
#include "base/log.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <string.h>

#define MSR_STAR   0xc0000081
#define MSR_LSTAR  0xc0000082
#define MSR_SFMASK 0xc0000084
#define RFLAGS_IF  (1ull << 9)
#define RFLAGS_RF  (1ull << 16)

/* ---- pure helpers ---- */

void swkvm_idt_gate_decode(const uint8_t raw[16], struct idt_gate64 *g)
{
	g->offset = (uint64_t)raw[0] | (uint64_t)raw[1] << 8 | (uint64_t)raw[6] << 16 | (uint64_t)raw[7] << 24 |
		    (uint64_t)raw[8] << 32 | (uint64_t)raw[9] << 40 | (uint64_t)raw[10] << 48 | (uint64_t)raw[11] << 56;
	g->selector = raw[2] | raw[3] << 8;
	g->ist = raw[4] & 7;
	g->type_attr = raw[5];
}

void swkvm_idt_gate_encode(const struct idt_gate64 *g, uint8_t raw[16])
{
	memset(raw, 0, 16);
	raw[0] = g->offset;
	raw[1] = g->offset >> 8;
	raw[2] = g->selector;
	raw[3] = g->selector >> 8;
	raw[4] = g->ist & 7;
	raw[5] = g->type_attr;
	for (int i = 0; i < 6; i++)
		raw[6 + i] = g->offset >> (16 + 8 * i);
}

long swkvm_find_trap_byte(const uint8_t *text, size_t len)
{
	long single = -1;
	for (size_t i = 0; i < len; i++) {
		if (text[i] != 0xcc)
			continue;
		/* A run of int3 is padding the kernel never executes or patches. */
		if (i + 1 < len && text[i + 1] == 0xcc)
			return i;
		if (single < 0)
			single = i;
	}
	return single;
}

/* rel32 from the end of an instruction at offset `end` to target. */
static bool rel32(uint64_t tramp_va, unsigned end, uint64_t target, uint32_t *out)
{
	int64_t rel = (int64_t)(target - (tramp_va + end));
	*out = (uint32_t)(int32_t)rel;
	return rel == (int32_t)rel;
}

bool swkvm_pf_tramp_build(uint8_t out[SWKVM_PF_TRAMP_LEN], uint64_t tramp_va, uint64_t lstar, uint64_t sfmask,
			  uint64_t handler)
{
	uint64_t keep = ~(sfmask | RFLAGS_RF);
	uint32_t to_lstar, to_handler;

	if ((uint64_t)(int64_t)(int32_t)lstar != lstar || (uint64_t)(int64_t)(int32_t)keep != keep ||
	    !(sfmask & RFLAGS_IF) || !rel32(tramp_va, 39, lstar, &to_lstar) ||
	    !rel32(tramp_va, SWKVM_PF_TRAMP_LEN, handler, &to_handler))
		return false;
	uint32_t l = (uint32_t)lstar, k = (uint32_t)keep;
	const uint8_t code[SWKVM_PF_TRAMP_LEN] = {
		0x48, 0x81, 0x7c, 0x24, 0x08, l, l >> 8, l >> 16, l >> 24,  /*  0: cmpq $lstar, 8(%rsp) */
		0x75, 0x1c,                                                /*  9: jne real (+28) */
		0xf6, 0x44, 0x24, 0x10, 0x03,                              /* 11: testb $3, 16(%rsp) */
		0x74, 0x15,                                                /* 16: jz real (+21) */
		0x41, 0x53,                                                /* 18: push %r11 */
		0x48, 0x81, 0x24, 0x24, k, k >> 8, k >> 16, k >> 24,       /* 20: andq $keep, (%rsp) */
		0x9d,                                                      /* 28: popfq */
		0x48, 0x8b, 0x64, 0x24, 0x20,                              /* 29: mov 32(%rsp), %rsp */
		0xe9, to_lstar, to_lstar >> 8, to_lstar >> 16, to_lstar >> 24, /* 34: jmp lstar */
		0xe9, to_handler, to_handler >> 8, to_handler >> 16, to_handler >> 24, /* 39: real: jmp handler */
	};
	memcpy(out, code, sizeof(code));
	return true;
}

long swkvm_find_padding(const uint8_t *text, size_t len, size_t need)
{
	size_t run_start = 0;
	for (size_t i = 0; i < len; i++) {
		if (text[i] != 0xcc) {
			run_start = i + 1;
			continue;
		}
		size_t start = (run_start + 7) & ~(size_t)7; /* 8-byte aligned, inside the run */
		if (start + need <= i + 1)
			return (long)start;
	}
	return -1;
}

bool swkvm_fault_is_broken_syscall(uint64_t frame_rip, uint64_t frame_cs, uint64_t lstar)
{
	return lstar != 0 && frame_rip == lstar && (frame_cs & 3) == 3;
}

static int get_msrs(int vcpu_fd, uint64_t *star, uint64_t *lstar, uint64_t *sfmask)
{
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry e[3];
	} m = { .hdr.nmsrs = 3, .e = { { .index = MSR_STAR }, { .index = MSR_LSTAR }, { .index = MSR_SFMASK } } };
	if (vioctl(vcpu_fd, KVM_GET_MSRS, &m) != 3)
		return -EIO;
	*star = m.e[0].data;
	*lstar = m.e[1].data;
	*sfmask = m.e[2].data;
	return 0;
}

/* ---- on the guest: its text, its IDT, the stopped vCPU ---- */

#define INT3_WORD 0xccccccccccccccccull
#define TRAMP_WORDS ((SWKVM_PF_TRAMP_LEN + 7) / 8)

/* Write the trampoline into int3 padding with one compare-and-swap per
 * 8-byte word, each expecting int3 bytes: if anything changed there since
 * the search (another vCPU, the kernel patching its text), nothing of ours
 * stays behind and false comes back. */
bool swkvm_tramp_write(uint8_t *dst, const uint8_t tramp[SWKVM_PF_TRAMP_LEN])
{
	uint64_t words[TRAMP_WORDS];
	memset(words, 0xcc, sizeof(words));
	memcpy(words, tramp, SWKVM_PF_TRAMP_LEN);
	uint64_t *w = (uint64_t *)dst;
	if ((uintptr_t)dst % 8)
		return false;
	for (unsigned i = 0; i < TRAMP_WORDS; i++) {
		uint64_t expected = INT3_WORD;
		if (!__atomic_compare_exchange_n(&w[i], &expected, words[i], false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
			while (i-- > 0) {
				expected = words[i];
				__atomic_compare_exchange_n(&w[i], &expected, INT3_WORD, false, __ATOMIC_SEQ_CST,
							    __ATOMIC_SEQ_CST);
			}
			return false;
		}
	}
	return true;
}

/* Point an IDT gate at new_offset in one atomic store. A 64-bit gate's
 * offset is split: bits 0-15 in bytes 0-1, 16-31 in bytes 6-7, 32-63 in
 * bytes 8-11. Kernel text lies within one 4 GiB window, so only the first
 * 8 bytes change, and those are written with one compare-and-swap against
 * what was read: a guest CPU never sees half a gate, and a gate the kernel
 * rewrote meanwhile is left alone. */
bool swkvm_idt_gate_swap(uint8_t *gate, const uint8_t expected_raw[16], uint64_t new_offset)
{
	struct idt_gate64 g;
	uint8_t raw[16];
	uint64_t old_lo, new_lo;

	if ((uintptr_t)gate % 8)
		return false;
	swkvm_idt_gate_decode(expected_raw, &g);
	if ((g.offset >> 32) != (new_offset >> 32))
		return false;
	g.offset = new_offset;
	swkvm_idt_gate_encode(&g, raw);
	if (memcmp(raw + 8, expected_raw + 8, 8) != 0)
		return false;
	memcpy(&old_lo, expected_raw, 8);
	memcpy(&new_lo, raw, 8);
	return __atomic_compare_exchange_n((uint64_t *)gate, &old_lo, new_lo, false, __ATOMIC_SEQ_CST,
					   __ATOMIC_SEQ_CST);
}

/* Where to look for int3 padding: [*lo, *hi) guest-physical, containing
 * handler_gpa. The kernel's .text when the loader knew it; otherwise (a
 * bzImage) 4 MiB from the handler on, and only until a trampoline was
 * ever overwritten (then nothing: without bounds skiff cannot tell text
 * from memory the kernel freed). */
static bool search_range(const struct swkvm *sw, uint64_t handler_gpa, uint64_t *lo, uint64_t *hi)
{
	if (sw->text_gpa_hi > sw->text_gpa_lo) {
		if (handler_gpa < sw->text_gpa_lo || handler_gpa >= sw->text_gpa_hi)
			return false; /* a handler outside text: not the kernel we loaded */
		*lo = sw->text_gpa_lo;
		*hi = sw->text_gpa_hi;
		return true;
	}
	if (sw->pf_tramp_spoiled)
		return false;
	*lo = handler_gpa;
	*hi = handler_gpa + (4 << 20);
	return true;
}

/* Keep IDT[14] pointed at our trampoline (or trap byte). The kernel
 * rewrites its IDT a few times while booting (early handlers, then the
 * real ones), so this runs on every tick until user space can exist, and
 * re-points the gate whenever it changed. */
void swkvm_pf_trap_maintain(struct swkvm *sw, int vcpu_fd, const struct guest_mem *mem,
			    const struct kvm_sregs *sregs)
{
	uint8_t raw[16];
	struct idt_gate64 gate;
	uint64_t gate_gpa;

	if (!(sregs->efer & (1 << 10)))
		return; /* not in long mode yet */
	if (sregs->idt.limit < PF_VECTOR * 16 + 15 || sregs->idt.base == 0)
		return; /* no IDT loaded yet */
	uint64_t gate_va = sregs->idt.base + PF_VECTOR * 16;
	uint8_t *gate_host;
	if (swkvm_gva_to_gpa(vcpu_fd, gate_va, &gate_gpa) < 0 || !(gate_host = guest_mem_ptr(mem, gate_gpa, 16)) ||
	    (uintptr_t)gate_host % 8)
		return;
	for (int i = 0; i < 2; i++) {
		uint64_t w = __atomic_load_n((uint64_t *)gate_host + i, __ATOMIC_ACQUIRE);
		memcpy(raw + 8 * i, &w, 8);
	}
	swkvm_idt_gate_decode(raw, &gate);
	if ((gate.type_attr & 0x80) == 0 || gate.offset == 0)
		return; /* gate not present yet */

	uint64_t star, lstar, sfmask;
	if (get_msrs(vcpu_fd, &star, &lstar, &sfmask) < 0 || lstar == 0)
		return; /* no syscall entry yet, so no user space: nothing to fix */

	uint64_t target = atomic_load(&sw->pf_gate_target);
	if (target != 0 && gate.offset == target) {
		bool intact = false;
		if (sw->pf_tramp_va) {
			uint8_t now[SWKVM_PF_TRAMP_LEN];
			intact = swkvm_read_gva(vcpu_fd, mem, sw->pf_tramp_va, now, sizeof(now)) == sizeof(now) &&
				 memcmp(now, sw->pf_tramp, sizeof(now)) == 0;
		} else {
			uint8_t b = 0;
			intact = swkvm_read_gva(vcpu_fd, mem, target, &b, 1) == 1 && b == 0xcc;
		}
		if (intact)
			return;
		/* Our bytes were overwritten: the kernel reused that memory.
		 * Give the page-fault vector back to the kernel at once, and
		 * never write there again. */
		sw->pf_tramp_spoiled = true;
		uint64_t real = atomic_load(&sw->pf_real_handler);
		if (!swkvm_idt_gate_swap(gate_host, raw, real))
			return; /* the gate changed meanwhile: next tick */
		log_warn("swkvm", "the page-fault trampoline at %#llx was overwritten; vector 14 is the kernel's again",
			 (unsigned long long)target);
		atomic_store(&sw->pf_gate_target, 0);
		atomic_store(&sw->pf_trap_va, 0);
		sw->pf_tramp_va = 0;
		gate.offset = real;
		swkvm_idt_gate_encode(&gate, raw);
	}
	uint64_t real = gate.offset;

	/* Kernel text is mapped contiguously, so a byte at guest-physical
	 * distance d from the handler is at virtual distance d too. */
	uint64_t handler_gpa = 0, lo, hi;
	if (swkvm_gva_to_gpa(vcpu_fd, real, &handler_gpa) < 0 || !search_range(sw, handler_gpa, &lo, &hi))
		return;
	uint64_t span = hi - lo;
	const uint8_t *text = NULL;
	while (span >= 4096 && !(text = guest_mem_ptr(mem, lo, span)))
		span /= 2;
	if (!text || handler_gpa >= lo + span)
		return;
	uint64_t text_va = real - (handler_gpa - lo);

	uint64_t tramp_va = 0, trap_va = 0;
	long pad = swkvm_find_padding(text, span, TRAMP_WORDS * 8);
	if (pad >= 0 && swkvm_pf_tramp_build(sw->pf_tramp, text_va + pad, lstar, sfmask, real) &&
	    swkvm_tramp_write((uint8_t *)text + pad, sw->pf_tramp)) {
		tramp_va = text_va + pad;
	} else {
		/* No room for the trampoline: every page fault exits to skiff. */
		long at = swkvm_find_trap_byte(text, span);
		if (at < 0) {
			log_warn("swkvm", "no int3 byte in the %llu KiB of kernel text searched; guest user space will "
					  "not run", (unsigned long long)(span / 1024));
			return;
		}
		trap_va = text_va + at;
	}
	sw->pf_tramp_va = tramp_va;
	atomic_store(&sw->pf_real_handler, real);
	atomic_store(&sw->pf_trap_va, trap_va); /* 0 with the trampoline: nothing exits */
	uint64_t new_target = tramp_va ? tramp_va : trap_va;
	atomic_store(&sw->pf_gate_target, new_target);
	if (!swkvm_idt_gate_swap(gate_host, raw, new_target)) {
		atomic_store(&sw->pf_gate_target, 0);
		atomic_store(&sw->pf_trap_va, 0);
		return; /* gate changed meanwhile (or out of reach): try again next tick */
	}
	log_debug("swkvm", "page-fault vector now %s at %#llx (kernel handler %#llx)",
		  tramp_va ? "goes through the trampoline" : "traps", (unsigned long long)new_target,
		  (unsigned long long)real);
}

/* The vCPU stopped on our int3 (no trampoline: every page fault comes
 * here): the CPU has just delivered a page fault (frame pushed, ring-0 CS
 * loaded from the gate). */
enum swkvm_result swkvm_pf_trap_handle(struct swkvm *sw, int vcpu_fd, const struct guest_mem *mem,
				       struct kvm_regs *regs, char *msg, size_t msglen)
{
	uint64_t frame[6]; /* error code, RIP, CS, RFLAGS, RSP, SS */
	uint64_t star, lstar, sfmask;

	atomic_fetch_add(&sw->nr_page_faults, 1);
	if (swkvm_read_gva(vcpu_fd, mem, regs->rsp, frame, sizeof(frame)) != sizeof(frame) ||
	    get_msrs(vcpu_fd, &star, &lstar, &sfmask) < 0) {
		snprintf(msg, msglen, "page-fault trap: cannot read the exception frame at RSP %#llx",
			 (unsigned long long)regs->rsp);
		return SWKVM_FATAL;
	}

	if (!swkvm_fault_is_broken_syscall(frame[1], frame[2], lstar)) {
		/* An ordinary page fault: let the kernel's handler take it. */
		regs->rip = atomic_load(&sw->pf_real_handler);
		if (vioctl(vcpu_fd, KVM_SET_REGS, regs) < 0)
			goto ioctl_failed;
		return SWKVM_RESUME;
	}

	/* Finish the syscall the host left half-done: enter ring 0 the way
	 * SYSCALL defines it. RCX (return RIP) and R11 (user RFLAGS) were
	 * already set by the host; RSP stays the user's, as entry_SYSCALL_64
	 * expects. The fault frame on the kernel stack is simply dropped. */
	struct kvm_sregs sregs;
	if (vioctl(vcpu_fd, KVM_GET_SREGS, &sregs) < 0)
		goto ioctl_failed;
	uint16_t kernel_cs = (star >> 32) & 0xfffc;
	sregs.cs = (struct kvm_segment){ .selector = kernel_cs, .limit = 0xffffffff, .type = 11, .present = 1,
					 .dpl = 0, .s = 1, .l = 1, .g = 1 };
	sregs.ss = (struct kvm_segment){ .selector = kernel_cs + 8, .limit = 0xffffffff, .type = 3, .present = 1,
					 .dpl = 0, .s = 1, .db = 1, .g = 1 };
	regs->rip = lstar;
	regs->rsp = frame[4];
	regs->rflags = (regs->r11 & ~sfmask & ~RFLAGS_RF) | 2;
	if (vioctl(vcpu_fd, KVM_SET_SREGS, &sregs) < 0 || vioctl(vcpu_fd, KVM_SET_REGS, regs) < 0)
		goto ioctl_failed;
	atomic_fetch_add(&sw->nr_syscalls_fixed, 1);
	return SWKVM_RESUME;

ioctl_failed:
	snprintf(msg, msglen, "page-fault trap: vCPU register update failed: %s", strerror(errno));
	return SWKVM_FATAL;
}
