/* Unit tests for the software-KVM glue (kvm/x86/swkvm*.c) with a faked
 * vCPU: swkvm_vcpu_ioctl is pointed at fake_ioctl(), which serves the
 * register, event, FPU/XSAVE/XCR and translation ioctls from struct
 * fakevcpu, and guest memory is an 8 MiB buffer at guest physical 0.
 *
 * Guest virtual layout of the fake:
 *   KBASE + x  -> physical x  (kernel: text at 1-2 MiB, IDT at 64 KiB)
 *   0x400000   -> 0x500000 writable, 0x401000 -> 0x501000 read-only,
 *   0x402000   not present (4-level page tables at 128 KiB, for the
 *   emulator's page walk); KVM_TRANSLATE maps low addresses 1:1. */
#include <check.h>
#include <elf.h>
#include <errno.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>

#include "kvm/x86/swkvm.h"
#include "kvm/x86/swkvm-pf-trap.h"

#define KBASE 0xffffffff80000000ull
#define MEM_SIZE (8u << 20)
#define TEXT_LO 0x100000ull
#define TEXT_HI 0x200000ull
#define IDT_PA 0x10000ull
#define HANDLER_PA (TEXT_LO + 0x1000)
#define LSTAR_PA (TEXT_LO + 0x800)
#define INSN_PA (TEXT_LO + 0x100)
#define PT_BASE 0x20000ull
#define USER_RW 0x400000ull
#define USER_RO 0x401000ull
#define USER_NP 0x402000ull
#define FAKE_FD 42

struct fakevcpu {
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_fpu fpu;
	struct kvm_xsave xsave;
	uint64_t xcr0;
	uint64_t star, lstar, sfmask;
	bool injected;
	struct kvm_vcpu_events ev;
	int nr_set_regs;
	unsigned long fail_req; /* this ioctl fails with EIO */
};

static struct fakevcpu fv;
static uint8_t *gmem;
static struct guest_mem mem;
static struct swkvm sw;
static struct swkvm_vcpu sv;

static int fake_ioctl(int fd, unsigned long req, void *arg)
{
	ck_assert_int_eq(fd, FAKE_FD);
	if (req == fv.fail_req) {
		errno = EIO;
		return -1;
	}
	switch (req) {
	case KVM_GET_REGS:
		*(struct kvm_regs *)arg = fv.regs;
		return 0;
	case KVM_SET_REGS:
		fv.regs = *(struct kvm_regs *)arg;
		fv.nr_set_regs++;
		return 0;
	case KVM_GET_SREGS:
		*(struct kvm_sregs *)arg = fv.sregs;
		return 0;
	case KVM_SET_SREGS:
		fv.sregs = *(struct kvm_sregs *)arg;
		return 0;
	case KVM_GET_FPU:
		*(struct kvm_fpu *)arg = fv.fpu;
		return 0;
	case KVM_SET_FPU:
		fv.fpu = *(struct kvm_fpu *)arg;
		return 0;
	case KVM_GET_XSAVE:
		*(struct kvm_xsave *)arg = fv.xsave;
		return 0;
	case KVM_SET_XSAVE:
		fv.xsave = *(struct kvm_xsave *)arg;
		return 0;
	case KVM_GET_XCRS: {
		struct kvm_xcrs *x = arg;
		memset(x, 0, sizeof(*x));
		x->nr_xcrs = 1;
		x->xcrs[0].value = fv.xcr0;
		return 0;
	}
	case KVM_SET_XCRS: {
		struct kvm_xcrs *x = arg;
		if (x->nr_xcrs != 1 || x->xcrs[0].xcr != 0 || !(x->xcrs[0].value & 1)) {
			errno = EINVAL;
			return -1;
		}
		fv.xcr0 = x->xcrs[0].value;
		return 0;
	}
	case KVM_GET_VCPU_EVENTS:
		*(struct kvm_vcpu_events *)arg = fv.ev;
		return 0;
	case KVM_SET_VCPU_EVENTS:
		fv.ev = *(struct kvm_vcpu_events *)arg;
		fv.injected = fv.ev.exception.injected;
		return 0;
	case KVM_GET_MSRS: {
		struct kvm_msrs *m = arg;
		for (unsigned i = 0; i < m->nmsrs; i++) {
			uint32_t idx = m->entries[i].index;
			m->entries[i].data = idx == 0xc0000081 ? fv.star : idx == 0xc0000082 ? fv.lstar : fv.sfmask;
		}
		return (int)m->nmsrs;
	}
	case KVM_TRANSLATE: {
		struct kvm_translation *t = arg;
		uint64_t va = t->linear_address;
		uint64_t pa = va >= KBASE ? va - KBASE : va;
		t->valid = pa < MEM_SIZE;
		t->physical_address = pa;
		return 0;
	}
	}
	errno = ENOTTY;
	return -1;
}

static void put64(uint64_t pa, uint64_t v)
{
	memcpy(gmem + pa, &v, 8);
}

static uint64_t get64(uint64_t pa)
{
	uint64_t v;
	memcpy(&v, gmem + pa, 8);
	return v;
}

/* PML4 -> PDPT -> PD -> PT for the user pages at 4 MiB. */
static void build_page_tables(void)
{
	put64(PT_BASE + 0x0000, (PT_BASE + 0x1000) | 7);
	put64(PT_BASE + 0x1000, (PT_BASE + 0x2000) | 7);
	put64(PT_BASE + 0x2000 + 2 * 8, (PT_BASE + 0x3000) | 7);       /* 4 MiB / 2 MiB = entry 2 */
	put64(PT_BASE + 0x3000 + 0 * 8, 0x500000 | 7);                  /* present, RW, user */
	put64(PT_BASE + 0x3000 + 1 * 8, 0x501000 | 5);                  /* present, read-only */
	put64(PT_BASE + 0x3000 + 2 * 8, 0x502000 | 6);                  /* not present */
}

static void set_gate(uint64_t offset)
{
	uint8_t raw[16];
	struct idt_gate64 g = { .offset = offset, .selector = 0x10, .type_attr = 0x8e };
	swkvm_idt_gate_encode(&g, raw);
	memcpy(gmem + IDT_PA + 14 * 16, raw, 16);
}

static uint64_t gate_offset(void)
{
	struct idt_gate64 g;
	swkvm_idt_gate_decode(gmem + IDT_PA + 14 * 16, &g);
	return g.offset;
}

static void set_cpl(unsigned cpl)
{
	fv.sregs.cs.selector = cpl ? 0x33 : 0x10;
	fv.sregs.cs.dpl = cpl;
	fv.sregs.ss.selector = cpl ? 0x2b : 0x18;
}

static void setup(void)
{
	gmem = aligned_alloc(4096, MEM_SIZE);
	ck_assert_ptr_nonnull(gmem);
	memset(gmem, 0, MEM_SIZE);
	mem = (struct guest_mem){ .region = { { .gpa = 0, .size = MEM_SIZE, .host = gmem } }, .nr_regions = 1 };
	memset(gmem + TEXT_LO, 0x90, TEXT_HI - TEXT_LO); /* nops: no padding unless a test adds some */
	build_page_tables();

	memset(&fv, 0, sizeof(fv));
	fv.sregs.cr0 = 0x80010001;                  /* PG, WP, PE */
	fv.sregs.cr4 = 1 << 5;                      /* PAE */
	fv.sregs.efer = (1 << 10) | (1 << 8);       /* LMA, LME */
	fv.sregs.cr3 = PT_BASE;
	fv.sregs.cs.l = 1;
	fv.sregs.idt.base = KBASE + IDT_PA;
	fv.sregs.idt.limit = 256 * 16 - 1;
	set_cpl(0);
	fv.regs.rflags = 2;
	fv.regs.rip = KBASE + INSN_PA;
	fv.xcr0 = 3;
	fv.star = 0x0023001000000000ull;
	fv.lstar = KBASE + LSTAR_PA;
	fv.sfmask = 0x47700;
	for (unsigned i = 0; i < 512; i++)
		((uint8_t *)fv.xsave.region)[i] = (uint8_t)(i + 1);
	memset((uint8_t *)fv.xsave.region + 512, 0, 64);
	fv.xsave.region[128] = 3;                     /* XSTATE_BV: x87, SSE */
	fv.xsave.region[6] = 0x1f80;                  /* MXCSR */
	fv.xsave.region[7] = 0xffff;                  /* MXCSR_MASK */
	set_gate(KBASE + HANDLER_PA);

	swkvm_vcpu_ioctl = fake_ioctl;
	swkvm_init(&sw, SWKVM_ON);
	memset(&sv, 0, sizeof(sv));
}

static void teardown(void)
{
	free(gmem);
}

static void put_insn(uint64_t pa, const uint8_t *b, size_t n)
{
	memcpy(gmem + pa, b, n);
}
#define INSN(pa, ...) put_insn((pa), (const uint8_t[]){ __VA_ARGS__ }, sizeof((uint8_t[]){ __VA_ARGS__ }))

static enum swkvm_result emulate(char *msg, size_t len)
{
	return swkvm_handle_emulation_failure(&sw, &sv, FAKE_FD, &mem, msg, len);
}

/* ---- emulation failures ---- */

START_TEST(xsave_to_user_memory_through_the_page_tables)
{
	char msg[256];
	if (!sw.xlayout.size)
		return; /* host CPU without XSAVE: nothing to emulate */
	INSN(INSN_PA, 0x48, 0x0f, 0xae, 0x27); /* xsave64 (%rdi) */
	fv.regs.rdi = USER_RW;
	fv.regs.rax = fv.regs.rdx = 0xffffffff;
	ck_assert_int_eq(emulate(msg, sizeof(msg)), SWKVM_RESUME);
	ck_assert_uint_eq(fv.regs.rip, KBASE + INSN_PA + 4);
	ck_assert_mem_eq(gmem + 0x500000, fv.xsave.region, 416);
	ck_assert_uint_eq(get64(0x500000 + 512), 3);
	ck_assert(!fv.injected);
	/* the CPU's Accessed and Dirty bits */
	ck_assert_uint_eq(get64(PT_BASE + 0x3000) & 0x60, 0x60);
	ck_assert_uint_eq(sw.nr_emulated, 1);
}
END_TEST

START_TEST(xsave_to_read_only_page_injects_protection_fault)
{
	char msg[256];
	if (!sw.xlayout.size)
		return;
	INSN(INSN_PA, 0x48, 0x0f, 0xae, 0x27);
	fv.regs.rdi = USER_RO;
	fv.regs.rax = fv.regs.rdx = 0xffffffff;
	memset(gmem + 0x501000, 0x77, 4096);
	ck_assert_int_eq(emulate(msg, sizeof(msg)), SWKVM_RESUME);
	ck_assert(fv.injected);
	ck_assert_uint_eq(fv.ev.exception.nr, 14);
	ck_assert(fv.ev.exception.has_error_code);
	ck_assert_uint_eq(fv.ev.exception.error_code, 3); /* present | write */
	ck_assert_uint_ge(fv.sregs.cr2, USER_RO);
	ck_assert_uint_lt(fv.sregs.cr2, USER_RO + 4096);
	ck_assert_uint_eq(fv.regs.rip, KBASE + INSN_PA); /* a fault: RIP stays */
	for (int i = 0; i < 4096; i++)                   /* copy-on-write page untouched */
		ck_assert_uint_eq(gmem[0x501000 + i], 0x77);
	ck_assert_uint_eq(sw.nr_page_faults_injected, 1);
}
END_TEST

START_TEST(xrstor_from_missing_page_injects_not_present_fault)
{
	char msg[256];
	if (!sw.xlayout.size)
		return;
	INSN(INSN_PA, 0x48, 0x0f, 0xae, 0x2f); /* xrstor64 (%rdi) */
	fv.regs.rdi = USER_NP;
	fv.regs.rax = fv.regs.rdx = 0xffffffff;
	struct kvm_xsave before = fv.xsave;
	ck_assert_int_eq(emulate(msg, sizeof(msg)), SWKVM_RESUME);
	ck_assert(fv.injected);
	ck_assert_uint_eq(fv.ev.exception.nr, 14);
	ck_assert_uint_eq(fv.ev.exception.error_code, 0); /* not present, read, supervisor */
	ck_assert_uint_eq(fv.sregs.cr2, USER_NP + 512);   /* the header is read first */
	ck_assert_mem_eq(&fv.xsave, &before, sizeof(before));
}
END_TEST

START_TEST(xsetbv_refused_by_kvm_gets_gp)
{
	char msg[256];
	if (!sw.xlayout.size)
		return;
	INSN(INSN_PA, 0x0f, 0x01, 0xd1);
	fv.regs.rcx = 0;
	fv.regs.rax = 3;
	ck_assert_int_eq(emulate(msg, sizeof(msg)), SWKVM_RESUME);
	ck_assert_uint_eq(fv.xcr0, 3);
	ck_assert_uint_eq(fv.regs.rip, KBASE + INSN_PA + 3);
	fv.regs.rip = KBASE + INSN_PA;
	fv.regs.rax = 2; /* x87 off: #GP */
	ck_assert_int_eq(emulate(msg, sizeof(msg)), SWKVM_RESUME);
	ck_assert(fv.injected);
	ck_assert_uint_eq(fv.ev.exception.nr, 13);
	ck_assert_uint_eq(fv.regs.rip, KBASE + INSN_PA);
}
END_TEST

START_TEST(ring3_rejections_get_exceptions_not_emulation)
{
	char msg[256];
	INSN(0x600000, 0xf3, 0x0f, 0xb8, 0xc0); /* popcnt %eax, %eax */
	set_cpl(3);
	fv.regs.rip = 0x600000;
	fv.regs.rax = 0xff;
	ck_assert_int_eq(emulate(msg, sizeof(msg)), SWKVM_RESUME);
	ck_assert_uint_eq(fv.regs.rax, 0xff); /* not emulated */
	ck_assert(fv.injected);
	ck_assert_uint_eq(fv.ev.exception.nr, 6);
	ck_assert_uint_eq(fv.regs.rip, 0x600000);

	INSN(0x600010, 0xcc);
	fv.regs.rip = 0x600010;
	ck_assert_int_eq(emulate(msg, sizeof(msg)), SWKVM_RESUME);
	ck_assert_uint_eq(fv.ev.exception.nr, 3);
	ck_assert_uint_eq(fv.regs.rip, 0x600011);
	ck_assert_uint_eq(sw.nr_emulated, 0);
	ck_assert_uint_eq(sw.nr_user_rejected, 2);
}
END_TEST

START_TEST(unknown_instruction_retried_then_fatal)
{
	char msg[256];
	INSN(INSN_PA, 0x0f, 0x0b); /* ud2 */
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(emulate(msg, sizeof(msg)), SWKVM_RESUME);
	ck_assert_int_eq(emulate(msg, sizeof(msg)), SWKVM_FATAL);
	ck_assert_ptr_nonnull(strstr(msg, "0f 0b"));
	ck_assert_ptr_nonnull(strstr(msg, "CPL 0"));
}
END_TEST

START_TEST(register_read_failure_is_fatal_not_a_crash)
{
	char msg[256];
	fv.fail_req = KVM_GET_SREGS;
	ck_assert_int_eq(emulate(msg, sizeof(msg)), SWKVM_FATAL);
	ck_assert_ptr_nonnull(strstr(msg, "cannot read vCPU registers"));
}
END_TEST

/* ---- the watchdog tick ---- */

START_TEST(tick_skips_stuck_hypercall_in_ring0)
{
	INSN(INSN_PA, 0x0f, 0x01, 0xc1); /* vmcall */
	fv.regs.rax = 11;
	swkvm_tick(&sw, &sv, FAKE_FD, &mem, false);
	ck_assert_uint_eq(fv.regs.rip, KBASE + INSN_PA); /* first sighting: wait */
	swkvm_tick(&sw, &sv, FAKE_FD, &mem, false);
	ck_assert_uint_eq(fv.regs.rip, KBASE + INSN_PA + 3);
	ck_assert_uint_eq(fv.regs.rax, (uint64_t)-1000);
	ck_assert_uint_eq(sw.nr_hypercalls_skipped, 1);
}
END_TEST

START_TEST(tick_leaves_ring3_alone)
{
	INSN(0x600000, 0x0f, 0x01, 0xc1);
	set_cpl(3);
	fv.regs.rip = 0x600000;
	for (int i = 0; i < 3; i++)
		swkvm_tick(&sw, &sv, FAKE_FD, &mem, false);
	ck_assert_uint_eq(fv.regs.rip, 0x600000);
	ck_assert_int_eq(fv.nr_set_regs, 0);
}
END_TEST

START_TEST(tick_installs_trampoline_inside_text_only)
{
	swkvm_set_kernel_text(&sw, TEXT_LO, TEXT_HI);
	memset(gmem + TEXT_HI + 0x100, 0xcc, 256); /* padding just past .text: must not be used */
	swkvm_tick(&sw, &sv, FAKE_FD, &mem, true);
	ck_assert_uint_eq(gate_offset(), KBASE + HANDLER_PA);
	ck_assert_uint_eq(gmem[TEXT_HI + 0x100], 0xcc);

	memset(gmem + TEXT_LO + 0x8000, 0xcc, 64); /* padding inside .text */
	swkvm_tick(&sw, &sv, FAKE_FD, &mem, true);
	ck_assert_uint_eq(gate_offset(), KBASE + TEXT_LO + 0x8000);
	ck_assert_mem_eq(gmem + TEXT_LO + 0x8000, sw.pf_tramp, SWKVM_PF_TRAMP_LEN);
	ck_assert_uint_eq(sw.pf_real_handler, KBASE + HANDLER_PA);
	/* gate type, selector, IST and the high offset untouched */
	ck_assert_uint_eq(gmem[IDT_PA + 14 * 16 + 5], 0x8e);
	ck_assert_uint_eq(gmem[IDT_PA + 14 * 16 + 2], 0x10);
	ck_assert_uint_eq(get64(IDT_PA + 14 * 16 + 8), 0xffffffff);
	/* stable: another tick changes nothing */
	swkvm_tick(&sw, &sv, FAKE_FD, &mem, true);
	ck_assert_uint_eq(gate_offset(), KBASE + TEXT_LO + 0x8000);
}
END_TEST

START_TEST(tick_never_rewrites_a_spoiled_trampoline)
{
	swkvm_set_kernel_text(&sw, TEXT_LO, TEXT_HI);
	memset(gmem + TEXT_LO + 0x8000, 0xcc, 64);
	memset(gmem + TEXT_LO + 0xa000, 0xcc, 64);
	swkvm_tick(&sw, &sv, FAKE_FD, &mem, true);
	ck_assert_uint_eq(gate_offset(), KBASE + TEXT_LO + 0x8000);
	memset(gmem + TEXT_LO + 0x8000, 0x55, 64); /* someone else's bytes now */
	swkvm_tick(&sw, &sv, FAKE_FD, &mem, true);
	ck_assert(sw.pf_tramp_spoiled);
	ck_assert_uint_eq(gmem[TEXT_LO + 0x8000], 0x55);
	ck_assert_uint_eq(gate_offset(), KBASE + TEXT_LO + 0xa000);
}
END_TEST

START_TEST(tick_without_text_bounds_stops_after_spoil)
{
	memset(gmem + TEXT_LO + 0x8000, 0xcc, 64);
	memset(gmem + TEXT_LO + 0xa000, 0xcc, 64);
	swkvm_tick(&sw, &sv, FAKE_FD, &mem, true);
	ck_assert_uint_eq(gate_offset(), KBASE + TEXT_LO + 0x8000);
	memset(gmem + TEXT_LO + 0x8000, 0x55, 64);
	swkvm_tick(&sw, &sv, FAKE_FD, &mem, true);
	ck_assert_uint_eq(gate_offset(), KBASE + HANDLER_PA); /* the kernel's again, nothing new written */
	ck_assert_uint_eq(gmem[TEXT_LO + 0xa000], 0xcc);
}
END_TEST

START_TEST(tick_waits_for_lstar)
{
	memset(gmem + TEXT_LO + 0x8000, 0xcc, 64);
	fv.lstar = 0;
	swkvm_tick(&sw, &sv, FAKE_FD, &mem, true);
	ck_assert_uint_eq(gate_offset(), KBASE + HANDLER_PA);
	ck_assert_uint_eq(gmem[TEXT_LO + 0x8000], 0xcc);
}
END_TEST

/* ---- pure pieces ---- */

START_TEST(gate_swap_is_compare_and_swap)
{
	uint8_t gate[16] __attribute__((aligned(16))), seen[16];
	struct idt_gate64 g = { .offset = 0xffffffff81001000ull, .selector = 0x10, .type_attr = 0x8e };
	swkvm_idt_gate_encode(&g, gate);
	memcpy(seen, gate, 16);
	ck_assert(swkvm_idt_gate_swap(gate, seen, 0xffffffff81234568ull));
	swkvm_idt_gate_decode(gate, &g);
	ck_assert_uint_eq(g.offset, 0xffffffff81234568ull);
	ck_assert_uint_eq(g.selector, 0x10);
	/* the gate changed since it was read: leave it */
	ck_assert(!swkvm_idt_gate_swap(gate, seen, 0xffffffff81000000ull));
	/* would need the high half too: refuse */
	memcpy(seen, gate, 16);
	ck_assert(!swkvm_idt_gate_swap(gate, seen, 0x81000000ull));
}
END_TEST

START_TEST(tramp_write_needs_int3_padding)
{
	uint8_t text[64] __attribute__((aligned(8))), tramp[SWKVM_PF_TRAMP_LEN];
	memset(tramp, 0x42, sizeof(tramp));
	memset(text, 0xcc, sizeof(text));
	text[40] = 0x90; /* the last word is not padding any more */
	ck_assert(!swkvm_tramp_write(text, tramp));
	for (int i = 0; i < 64; i++)
		ck_assert_uint_eq(text[i], i == 40 ? 0x90 : 0xcc);
	text[40] = 0xcc;
	ck_assert(swkvm_tramp_write(text, tramp));
	ck_assert_mem_eq(text, tramp, sizeof(tramp));
	ck_assert_uint_eq(text[SWKVM_PF_TRAMP_LEN], 0xcc);
	ck_assert(!swkvm_tramp_write(text + 1, tramp)); /* unaligned */
}
END_TEST

START_TEST(walk_levels_permissions_and_huge_pages)
{
	uint64_t gpa;
	uint32_t err;
	ck_assert_int_eq(swkvm_walk(&mem, PT_BASE, false, true, USER_RW + 0x123, true, &gpa, &err), 0);
	ck_assert_uint_eq(gpa, 0x500123);
	ck_assert_int_eq(swkvm_walk(&mem, PT_BASE, false, true, USER_RO, false, &gpa, &err), 0);
	ck_assert_int_lt(swkvm_walk(&mem, PT_BASE, false, true, USER_RO, true, &gpa, &err), 0);
	ck_assert_uint_eq(err, 3);
	/* CR0.WP clear: ring 0 may write read-only pages */
	ck_assert_int_eq(swkvm_walk(&mem, PT_BASE, false, false, USER_RO, true, &gpa, &err), 0);
	ck_assert_int_lt(swkvm_walk(&mem, PT_BASE, false, true, USER_NP, false, &gpa, &err), 0);
	ck_assert_uint_eq(err, 0);
	ck_assert_int_lt(swkvm_walk(&mem, PT_BASE, false, true, 0x0000800000000000ull, false, &gpa, &err), 0);
	/* a 2 MiB page at 6 MiB -> 0x600000 */
	put64(PT_BASE + 0x2000 + 3 * 8, 0x600000 | 0x83);
	ck_assert_int_eq(swkvm_walk(&mem, PT_BASE, false, true, 0x6abcde, true, &gpa, &err), 0);
	ck_assert_uint_eq(gpa, 0x6abcde);
	ck_assert_uint_eq(get64(PT_BASE + 0x2000 + 3 * 8) & 0x60, 0x60);
	/* tables outside guest RAM: not present, no crash */
	ck_assert_int_lt(swkvm_walk(&mem, 0x7ffff000000ull, false, true, USER_RW, false, &gpa, &err), 0);
}
END_TEST

/* A minimal vmlinux: one PT_LOAD, sections null, .text, .shstrtab. */
static size_t make_elf(uint8_t *buf, size_t cap)
{
	static const char strtab[] = "\0.text\0.shstrtab";
	memset(buf, 0, cap);
	Elf64_Ehdr eh = { .e_ident = { ELFMAG0, ELFMAG1, ELFMAG2, ELFMAG3, ELFCLASS64, ELFDATA2LSB, EV_CURRENT },
			  .e_type = ET_EXEC, .e_machine = EM_X86_64, .e_phoff = 64, .e_phnum = 1,
			  .e_phentsize = sizeof(Elf64_Phdr), .e_shoff = 256, .e_shnum = 3,
			  .e_shentsize = sizeof(Elf64_Shdr), .e_shstrndx = 2 };
	Elf64_Phdr ph = { .p_type = PT_LOAD, .p_vaddr = 0xffffffff81000000ull, .p_paddr = 0x1000000,
			  .p_memsz = 0x200000, .p_filesz = 0 };
	Elf64_Shdr sh[3] = {
		{ 0 },
		{ .sh_name = 1, .sh_type = SHT_PROGBITS, .sh_flags = SHF_ALLOC | SHF_EXECINSTR,
		  .sh_addr = 0xffffffff81000000ull, .sh_size = 0x123000 },
		{ .sh_name = 7, .sh_type = SHT_STRTAB, .sh_offset = 200, .sh_size = sizeof(strtab) },
	};
	memcpy(buf, &eh, sizeof(eh));
	memcpy(buf + 64, &ph, sizeof(ph));
	memcpy(buf + 200, strtab, sizeof(strtab));
	memcpy(buf + 256, sh, sizeof(sh));
	return 256 + sizeof(sh);
}

START_TEST(elf_text_range_from_section_headers)
{
	uint8_t elf[512];
	uint64_t lo = 0, hi = 0;
	size_t n = make_elf(elf, sizeof(elf));
	ck_assert(swkvm_elf_text_range(elf, n, &lo, &hi));
	ck_assert_uint_eq(lo, 0x1000000);
	ck_assert_uint_eq(hi, 0x1123000);
	/* truncated, or .text outside every PT_LOAD, or a bad string index */
	ck_assert(!swkvm_elf_text_range(elf, n - 1, &lo, &hi));
	ck_assert(!swkvm_elf_text_range(NULL, 0, &lo, &hi));
	Elf64_Shdr sh;
	memcpy(&sh, elf + 256 + sizeof(sh), sizeof(sh));
	sh.sh_size = 0x300000;
	memcpy(elf + 256 + sizeof(sh), &sh, sizeof(sh));
	ck_assert(!swkvm_elf_text_range(elf, n, &lo, &hi));
	n = make_elf(elf, sizeof(elf));
	sh.sh_size = 0x100, sh.sh_name = 0xffff;
	memcpy(elf + 256 + sizeof(sh), &sh, sizeof(sh));
	ck_assert(!swkvm_elf_text_range(elf, n, &lo, &hi));
}
END_TEST

Suite *swkvm_suite(void)
{
	Suite *s = suite_create("swkvm");
	TCase *emul = tcase_create("emulation-failure");
	tcase_add_checked_fixture(emul, setup, teardown);
	tcase_add_test(emul, xsave_to_user_memory_through_the_page_tables);
	tcase_add_test(emul, xsave_to_read_only_page_injects_protection_fault);
	tcase_add_test(emul, xrstor_from_missing_page_injects_not_present_fault);
	tcase_add_test(emul, xsetbv_refused_by_kvm_gets_gp);
	tcase_add_test(emul, ring3_rejections_get_exceptions_not_emulation);
	tcase_add_test(emul, unknown_instruction_retried_then_fatal);
	tcase_add_test(emul, register_read_failure_is_fatal_not_a_crash);
	TCase *tick = tcase_create("tick");
	tcase_add_checked_fixture(tick, setup, teardown);
	tcase_add_test(tick, tick_skips_stuck_hypercall_in_ring0);
	tcase_add_test(tick, tick_leaves_ring3_alone);
	tcase_add_test(tick, tick_installs_trampoline_inside_text_only);
	tcase_add_test(tick, tick_never_rewrites_a_spoiled_trampoline);
	tcase_add_test(tick, tick_without_text_bounds_stops_after_spoil);
	tcase_add_test(tick, tick_waits_for_lstar);
	TCase *pure = tcase_create("pure");
	tcase_add_checked_fixture(pure, setup, teardown);
	tcase_add_test(pure, gate_swap_is_compare_and_swap);
	tcase_add_test(pure, tramp_write_needs_int3_padding);
	tcase_add_test(pure, walk_levels_permissions_and_huge_pages);
	tcase_add_test(pure, elf_text_range_from_section_headers);
	suite_add_tcase(s, emul);
	suite_add_tcase(s, tick);
	suite_add_tcase(s, pure);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(swkvm_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
