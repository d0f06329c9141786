/* Unit tests for the fallback instruction emulator (kvm/x86/insn-emul.c).
 * Guest memory is a small buffer at a fake guest virtual address; MXCSR
 * and the x87 reset go to fields of the same fake. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "kvm/x86/insn-emul.h"

#define MEM_BASE 0x200000ull /* guest virtual address of fake.mem[0] */
#define MEM_SIZE 0x1000
#define KERNEL_RIP 0xffffffff81000000ull

struct fake {
	uint8_t mem[MEM_SIZE];
	uint32_t mxcsr;
	int fpu_inits;
	uint64_t last_gva;
};

static struct fake fake;

static bool fake_range_ok(uint64_t gva, size_t len)
{
	return gva >= MEM_BASE && gva - MEM_BASE <= MEM_SIZE && len <= MEM_SIZE - (gva - MEM_BASE);
}

static int fake_read(void *ctx, uint64_t gva, void *buf, size_t len)
{
	struct fake *f = ctx;
	f->last_gva = gva;
	if (!fake_range_ok(gva, len))
		return -1;
	memcpy(buf, f->mem + (gva - MEM_BASE), len);
	return 0;
}

static int fake_write(void *ctx, uint64_t gva, const void *buf, size_t len)
{
	struct fake *f = ctx;
	f->last_gva = gva;
	if (!fake_range_ok(gva, len))
		return -1;
	memcpy(f->mem + (gva - MEM_BASE), buf, len);
	return 0;
}

static uint32_t fake_get_mxcsr(void *ctx)
{
	return ((struct fake *)ctx)->mxcsr;
}

static void fake_set_mxcsr(void *ctx, uint32_t v)
{
	((struct fake *)ctx)->mxcsr = v;
}

static void fake_fpu_init(void *ctx)
{
	((struct fake *)ctx)->fpu_inits++;
}

/* A 64-bit ring-0 vCPU wired to the fake. */
static struct insn_cpu new_cpu(void)
{
	memset(&fake, 0, sizeof(fake));
	fake.mxcsr = 0x1f80;
	struct insn_cpu cpu = {
		.rip = KERNEL_RIP,
		.rflags = 0x2,
		.cs_l = true,
		.ctx = &fake,
		.read_mem = fake_read,
		.write_mem = fake_write,
		.get_mxcsr = fake_get_mxcsr,
		.set_mxcsr = fake_set_mxcsr,
		.fpu_init = fake_fpu_init,
	};
	return cpu;
}

static void put32(uint64_t gva, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		fake.mem[gva - MEM_BASE + i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(uint64_t gva)
{
	uint32_t v = 0;
	for (int i = 3; i >= 0; i--)
		v = (v << 8) | fake.mem[gva - MEM_BASE + i];
	return v;
}

static void put64(uint64_t gva, uint64_t v)
{
	put32(gva, (uint32_t)v);
	put32(gva + 4, (uint32_t)(v >> 32));
}

/* RUN(&cpu, &out, 0x0f, 0x0b) emulates the listed bytes. */
#define BYTES(...) (const uint8_t[]){ __VA_ARGS__ }, sizeof((uint8_t[]){ __VA_ARGS__ })
#define RUN(cpu, out, ...) insn_emulate((cpu), BYTES(__VA_ARGS__), (out))

/* The emulator must leave the registers alone when it does not finish. */
static void assert_cpu_unchanged(const struct insn_cpu *a, const struct insn_cpu *b)
{
	ck_assert_mem_eq(a->gpr, b->gpr, sizeof(a->gpr));
	ck_assert_uint_eq(a->rip, b->rip);
	ck_assert_uint_eq(a->rflags, b->rflags);
}

/* ---- int3, fwait, fninit, finit, clac, stac ------------------------- */

START_TEST(test_int3)
{
	struct insn_cpu cpu = new_cpu();
	struct insn_outcome out;

	ck_assert_int_eq(RUN(&cpu, &out, 0xcc), INSN_INJECT_BP);
	ck_assert_str_eq(out.name, "int3");
	ck_assert_uint_eq(out.length, 1);
	ck_assert_uint_eq(out.vector, 3);
	ck_assert(!out.has_error_code);
	ck_assert_uint_eq(cpu.rip, KERNEL_RIP + 1); /* trap: RIP past the int3 */
}
END_TEST

START_TEST(test_int3_followed_by_other_bytes)
{
	/* The caller usually reads 15 bytes; only the first counts. */
	struct insn_cpu cpu = new_cpu();
	struct insn_outcome out;

	ck_assert_int_eq(RUN(&cpu, &out, 0xcc, 0x0f, 0x0b, 0x90, 0x90), INSN_INJECT_BP);
	ck_assert_uint_eq(out.length, 1);
}
END_TEST

START_TEST(test_fwait)
{
	struct insn_cpu cpu = new_cpu();
	struct insn_cpu before = cpu;
	struct insn_outcome out;

	ck_assert_int_eq(RUN(&cpu, &out, 0x9b, 0xc3), INSN_DONE);
	ck_assert_str_eq(out.name, "fwait");
	ck_assert_uint_eq(out.length, 1);
	ck_assert_uint_eq(cpu.rip, KERNEL_RIP + 1);
	ck_assert_uint_eq(cpu.rflags, before.rflags);
	ck_assert_int_eq(fake.fpu_inits, 0);
}
END_TEST

START_TEST(test_fninit)
{
	struct insn_cpu cpu = new_cpu();
	struct insn_outcome out;

	ck_assert_int_eq(RUN(&cpu, &out, 0xdb, 0xe3), INSN_DONE);
	ck_assert_str_eq(out.name, "fninit");
	ck_assert_uint_eq(out.length, 2);
	ck_assert_int_eq(fake.fpu_inits, 1);
	ck_assert_uint_eq(cpu.rip, KERNEL_RIP + 2);
}
END_TEST

START_TEST(test_finit_is_one_instruction)
{
	struct insn_cpu cpu = new_cpu();
	struct insn_outcome out;

	ck_assert_int_eq(RUN(&cpu, &out, 0x9b, 0xdb, 0xe3), INSN_DONE);
	ck_assert_str_eq(out.name, "finit");
	ck_assert_uint_eq(out.length, 3);
	ck_assert_int_eq(fake.fpu_inits, 1);
	ck_assert_uint_eq(cpu.rip, KERNEL_RIP + 3);
}
END_TEST

START_TEST(test_finit_cut_off_is_fwait)
{
	/* 9B alone is a complete fwait; the fninit comes on the next exit. */
	struct insn_cpu cpu = new_cpu();
	struct insn_outcome out;

	ck_assert_int_eq(RUN(&cpu, &out, 0x9b, 0xdb), INSN_DONE);
	ck_assert_str_eq(out.name, "fwait");
	ck_assert_uint_eq(out.length, 1);
	ck_assert_int_eq(fake.fpu_inits, 0);
}
END_TEST

START_TEST(test_fninit_without_callback)
{
	struct insn_cpu cpu = new_cpu();
	struct insn_cpu before;
	struct insn_outcome out;

	cpu.fpu_init = NULL;
	before = cpu;
	ck_assert_int_eq(RUN(&cpu, &out, 0xdb, 0xe3), INSN_UNSUPPORTED);
	ck_assert_ptr_nonnull(strstr(out.reason, "fpu_init"));
	assert_cpu_unchanged(&cpu, &before);
}
END_TEST

START_TEST(test_clac)
{
	struct insn_cpu cpu = new_cpu();
	struct insn_outcome out;

	cpu.rflags = INSN_RFLAGS_AC | INSN_RFLAGS_ZF | INSN_RFLAGS_CF | 0x2;
	ck_assert_int_eq(RUN(&cpu, &out, 0x0f, 0x01, 0xca), INSN_DONE);
	ck_assert_str_eq(out.name, "clac");
	ck_assert_uint_eq(out.length, 3);
	ck_assert_uint_eq(cpu.rflags, INSN_RFLAGS_ZF | INSN_RFLAGS_CF | 0x2);
	ck_assert_uint_eq(cpu.rip, KERNEL_RIP + 3);
}
END_TEST

START_TEST(test_stac)
{
	struct insn_cpu cpu = new_cpu();
	struct insn_outcome out;

	cpu.rflags = INSN_RFLAGS_SF | 0x2;
	ck_assert_int_eq(RUN(&cpu, &out, 0x0f, 0x01, 0xcb), INSN_DONE);
	ck_assert_str_eq(out.name, "stac");
	ck_assert_uint_eq(cpu.rflags, INSN_RFLAGS_AC | INSN_RFLAGS_SF | 0x2);
	ck_assert_uint_eq(cpu.rip, KERNEL_RIP + 3);
}
END_TEST

START_TEST(test_completed_instruction_clears_rf)
{
	struct insn_cpu cpu = new_cpu();
	struct insn_outcome out;

	cpu.rflags = INSN_RFLAGS_RF | 0x2;
	ck_assert_int_eq(RUN(&cpu, &out, 0x0f, 0x01, 0xcb), INSN_DONE);
	ck_assert_uint_eq(cpu.rflags, INSN_RFLAGS_AC | 0x2);
}
END_TEST

/* ---- popcnt --------------------------------------------------------- */

START_TEST(test_popcnt32_reg)
{
	/* popcnt ecx -> eax: only the low 32 bits count, and the 32-bit write
	 * clears the upper half of rax */
	struct insn_cpu cpu = new_cpu();
	struct insn_outcome out;

	cpu.gpr[INSN_RAX] = 0xdeadbeefdeadbeefull;
	cpu.gpr[INSN_RCX] = 0xffffffff000000f0ull;
	ck_assert_int_eq(RUN(&cpu, &out, 0xf3, 0x0f, 0xb8, 0xc1), INSN_DONE);
	ck_assert_str_eq(out.name, "popcnt");
	ck_assert_uint_eq(out.length, 4);
	ck_assert_uint_eq(cpu.gpr[INSN_RAX], 4);
	ck_assert_uint_eq(cpu.rip, KERNEL_RIP + 4);
}
END_TEST

START_TEST(test_popcnt64_reg)
{
	struct insn_cpu cpu = new_cpu();
	struct insn_outcome out;

	cpu.gpr[INSN_RCX] = 0xffffffff000000f0ull;
	ck_assert_int_eq(RUN(&cpu, &out, 0xf3, 0x48, 0x0f, 0xb8, 0xc1), INSN_DONE);
	ck_assert_uint_eq(out.length, 5);
	ck_assert_uint_eq(cpu.gpr[INSN_RAX], 36);
}
END_TEST

START_TEST(test_popcnt16_reg_keeps_upper_bits)
{
	/* 66 is the operand size, F3 the mandatory prefix, in either order */
	static const uint8_t forms[2][5] = {
		{ 0x66, 0xf3, 0x0f, 0xb8, 0xc1 },
		{ 0xf3, 0x66, 0x0f, 0xb8, 0xc1 },
	};
	for (int i = 0; i < 2; i++) {
		struct insn_cpu cpu = new_cpu();
		struct insn_outcome out;

		cpu.gpr[INSN_RAX] = 0x1111222233334444ull;
		cpu.gpr[INSN_RCX] = 0xffffffffffff0007ull;
		ck_assert_int_eq(insn_emulate(&cpu, forms[i], 5, &out), INSN_DONE);
		ck_assert_uint_eq(out.length, 5);
		ck_assert_uint_eq(cpu.gpr[INSN_RAX], 0x1111222233330003ull);
	}
}
END_TEST

START_TEST(test_popcnt_high_registers)
{
	/* REX 4D = W, R, B: popcnt r8, r15 */
	struct insn_cpu cpu = new_cpu();
	struct insn_outcome out;

	cpu.gpr[INSN_R15] = 0x8000000000000001ull;
	cpu.gpr[INSN_RAX] = 0x55;
	cpu.gpr[INSN_RDI] = 0x77;
	ck_assert_int_eq(RUN(&cpu, &out, 0xf3, 0x4d, 0x0f, 0xb8, 0xc7), INSN_DONE);
	ck_assert_uint_eq(cpu.gpr[INSN_R8], 2);
	ck_assert_uint_eq(cpu.gpr[INSN_RAX], 0x55);  /* not rax (no REX.R) */
	ck_assert_uint_eq(cpu.gpr[INSN_RDI], 0x77);
}
END_TEST

START_TEST(test_popcnt_rex_before_legacy_prefix_is_ignored)
{
	/* 41 F3 ...: the REX is not next to the opcode, so ecx, not r9 */
	struct insn_cpu cpu = new_cpu();
	struct insn_outcome out;

	cpu.gpr[INSN_RCX] = 0x3;
	cpu.gpr[INSN_R9] = 0xff;
	ck_assert_int_eq(RUN(&cpu, &out, 0x41, 0xf3, 0x0f, 0xb8, 0xc1), INSN_DONE);
	ck_assert_uint_eq(cpu.gpr[INSN_RAX], 2);
}
END_TEST

START_TEST(test_popcnt_zero_sets_zf_only)
{
	struct insn_cpu cpu = new_cpu();
	struct insn_outcome out;
	const uint64_t arith = INSN_RFLAGS_CF | INSN_RFLAGS_PF | INSN_RFLAGS_AF | INSN_RFLAGS_SF |
			       INSN_RFLAGS_OF;

	cpu.gpr[INSN_RAX] = 99;
	cpu.gpr[INSN_RCX] = 0;
	cpu.rflags = arith | INSN_RFLAGS_AC | 0x2;
	ck_assert_int_eq(RUN(&cpu, &out, 0xf3, 0x48, 0x0f, 0xb8, 0xc1), INSN_DONE);
	ck_assert_uint_eq(cpu.gpr[INSN_RAX], 0);
	ck_assert_uint_eq(cpu.rflags, INSN_RFLAGS_ZF | INSN_RFLAGS_AC | 0x2);
}
END_TEST

START_TEST(test_popcnt_nonzero_clears_zf)
{
	struct insn_cpu cpu = new_cpu();
	struct insn_outcome out;

	cpu.gpr[INSN_RCX] = 0x80;
	cpu.rflags = INSN_RFLAGS_ZF | INSN_RFLAGS_CF | 0x2;
	ck_assert_int_eq(RUN(&cpu, &out, 0xf3, 0x0f, 0xb8, 0xc1), INSN_DONE);
	ck_assert_uint_eq(cpu.gpr[INSN_RAX], 1);
	ck_assert_uint_eq(cpu.rflags, 0x2);
}
END_TEST

START_TEST(test_popcnt_mem32)
{
	/* popcnt ecx, [rax] */
	struct insn_cpu cpu = new_cpu();
	struct insn_outcome out;

	put64(MEM_BASE + 0x10, 0xffffffff0000000full);
	cpu.gpr[INSN_RAX] = MEM_BASE + 0x10;
	ck_assert_int_eq(RUN(&cpu, &out, 0xf3, 0x0f, 0xb8, 0x08), INSN_DONE);
	ck_assert_uint_eq(out.length, 4);
	ck_assert_uint_eq(cpu.gpr[INSN_RCX], 4);  /* only 4 bytes read */
}
END_TEST

START_TEST(test_popcnt_mem64_rip_relative)
{
	/* popcnt rax, [rip+0x20]: relative to the end of the 9-byte insn */
	struct insn_cpu cpu = new_cpu();
	struct insn_outcome out;

	cpu.rip = MEM_BASE + 0x100;
	put64(MEM_BASE + 0x100 + 9 + 0x20, 0xffffffff0000000full);
	ck_assert_int_eq(RUN(&cpu, &out, 0xf3, 0x48, 0x0f, 0xb8, 0x05, 0x20, 0x00, 0x00, 0x00),
			 INSN_DONE);
	ck_assert_uint_eq(out.length, 9);
	ck_assert_uint_eq(cpu.gpr[INSN_RAX], 36);
	ck_assert_uint_eq(cpu.rip, MEM_BASE + 0x100 + 9);
}
END_TEST

START_TEST(test_popcnt_mem_read_fails)
{
	struct insn_cpu cpu = new_cpu();
	struct insn_cpu before;
	struct insn_outcome out;

	cpu.gpr[INSN_RAX] = 0x1234000;  /* outside the fake memory */
	before = cpu;
	ck_assert_int_eq(RUN(&cpu, &out, 0xf3, 0x0f, 0xb8, 0x08), INSN_MEM_FAULT);
	ck_assert_uint_eq(out.fault_gva, 0x1234000);
	ck_assert_str_eq(out.name, "popcnt");
	ck_assert_ptr_nonnull(strstr(out.reason, "0x1234000"));
	assert_cpu_unchanged(&cpu, &before);
}
END_TEST

/* ---- ldmxcsr / stmxcsr and the addressing modes --------------------- */

START_TEST(test_ldmxcsr_rax)
{
	struct insn_cpu cpu = new_cpu();
	struct insn_outcome out;

	put32(MEM_BASE + 0x40, 0x9f80);  /* flush-to-zero, all exceptions masked */
	cpu.gpr[INSN_RAX] = MEM_BASE + 0x40;
	ck_assert_int_eq(RUN(&cpu, &out, 0x0f, 0xae, 0x10), INSN_DONE);
	ck_assert_str_eq(out.name, "ldmxcsr");
	ck_assert_uint_eq(out.length, 3);
	ck_assert_uint_eq(fake.mxcsr, 0x9f80);
	ck_assert_uint_eq(cpu.rip, KERNEL_RIP + 3);
}
END_TEST

START_TEST(test_stmxcsr_rax)
{
	struct insn_cpu cpu = new_cpu();
	struct insn_outcome out;

	fake.mxcsr = 0x1fa0;
	cpu.gpr[INSN_RAX] = MEM_BASE + 0x44;
	ck_assert_int_eq(RUN(&cpu, &out, 0x0f, 0xae, 0x18), INSN_DONE);
	ck_assert_str_eq(out.name, "stmxcsr");
	ck_assert_uint_eq(get32(MEM_BASE + 0x44), 0x1fa0);
	ck_assert_uint_eq(fake.mem[0x48], 0);  /* exactly 4 bytes written */
}
END_TEST

START_TEST(test_ldmxcsr_rip_relative)
{
	/* ldmxcsr [rip-0x10]; the instruction is 7 bytes long */
	struct insn_cpu cpu = new_cpu();
	struct insn_outcome out;

	cpu.rip = MEM_BASE + 0x200;
	put32(MEM_BASE + 0x200 + 7 - 0x10, 0x1f00);
	ck_assert_int_eq(RUN(&cpu, &out, 0x0f, 0xae, 0x15, 0xf0, 0xff, 0xff, 0xff), INSN_DONE);
	ck_assert_uint_eq(out.length, 7);
	ck_assert_uint_eq(fake.mxcsr, 0x1f00);
}
END_TEST

START_TEST(test_stmxcsr_rsp_disp8)
{
	/* stmxcsr [rsp+8]: SIB with base rsp and no index */
	struct insn_cpu cpu = new_cpu();
	struct insn_outcome out;

	fake.mxcsr = 0x1f81;
	cpu.gpr[INSN_RSP] = MEM_BASE + 0x300;
	ck_assert_int_eq(RUN(&cpu, &out, 0x0f, 0xae, 0x5c, 0x24, 0x08), INSN_DONE);
	ck_assert_uint_eq(out.length, 5);
	ck_assert_uint_eq(get32(MEM_BASE + 0x308), 0x1f81);
}
END_TEST

START_TEST(test_ldmxcsr_negative_disp8)
{
	/* ldmxcsr [rbp-4] */
	struct insn_cpu cpu = new_cpu();
	struct insn_outcome out;

	cpu.gpr[INSN_RBP] = MEM_BASE + 0x80;
	put32(MEM_BASE + 0x7c, 0x1f82);
	ck_assert_int_eq(RUN(&cpu, &out, 0x0f, 0xae, 0x55, 0xfc), INSN_DONE);
	ck_assert_uint_eq(fake.mxcsr, 0x1f82);
}
END_TEST

START_TEST(test_ldmxcsr_base_index_scale_disp32)
{
	/* ldmxcsr [rbx+rcx*8+0x100] */
	struct insn_cpu cpu = new_cpu();
	struct insn_outcome out;

	cpu.gpr[INSN_RBX] = MEM_BASE + 0x10;
	cpu.gpr[INSN_RCX] = 3;
	put32(MEM_BASE + 0x10 + 24 + 0x100, 0x1f83);
	ck_assert_int_eq(RUN(&cpu, &out, 0x0f, 0xae, 0x94, 0xcb, 0x00, 0x01, 0x00, 0x00), INSN_DONE);
	ck_assert_uint_eq(out.length, 8);
	ck_assert_uint_eq(fake.mxcsr, 0x1f83);
}
END_TEST

START_TEST(test_ldmxcsr_rex_x_b_r12_r13)
{
	/* REX.X+B: ldmxcsr [r12+r13*2]; base 100 with REX.B is r12, not "SIB" */
	struct insn_cpu cpu = new_cpu();
	struct insn_outcome out;

	cpu.gpr[INSN_R12] = MEM_BASE + 0x20;
	cpu.gpr[INSN_R13] = 0x10;
	cpu.gpr[INSN_RSP] = 0xbad;
	cpu.gpr[INSN_RBP] = 0xbad;
	put32(MEM_BASE + 0x40, 0x1f84);
	ck_assert_int_eq(RUN(&cpu, &out, 0x43, 0x0f, 0xae, 0x14, 0x6c), INSN_DONE);
	ck_assert_uint_eq(fake.mxcsr, 0x1f84);
}
END_TEST

START_TEST(test_ldmxcsr_index_r12_is_not_none)
{
	/* index field 100 means "none", but with REX.X it is r12 */
	struct insn_cpu cpu = new_cpu();
	struct insn_outcome out;

	cpu.gpr[INSN_RAX] = MEM_BASE;
	cpu.gpr[INSN_R12] = 0x50;
	put32(MEM_BASE + 0x50, 0x1f85);
	ck_assert_int_eq(RUN(&cpu, &out, 0x42, 0x0f, 0xae, 0x14, 0x20), INSN_DONE);
	ck_assert_uint_eq(fake.mxcsr, 0x1f85);
}
END_TEST

START_TEST(test_ldmxcsr_sib_disp32_without_base)
{
	/* SIB base 101 with mod 0 is "no base, disp32", even with REX.B:
	 * ldmxcsr [0x200060] */
	static const uint8_t plain[] = { 0x0f, 0xae, 0x14, 0x25, 0x60, 0x00, 0x20, 0x00 };
	static const uint8_t rex_b[] = { 0x41, 0x0f, 0xae, 0x14, 0x25, 0x60, 0x00, 0x20, 0x00 };
	struct insn_cpu cpu = new_cpu();
	struct insn_outcome out;

	cpu.gpr[INSN_RBP] = 0xbad;
	cpu.gpr[INSN_R13] = 0xbad;
	put32(MEM_BASE + 0x60, 0x1f86);
	ck_assert_int_eq(insn_emulate(&cpu, plain, sizeof(plain), &out), INSN_DONE);
	ck_assert_uint_eq(out.length, 8);
	ck_assert_uint_eq(fake.mxcsr, 0x1f86);

	put32(MEM_BASE + 0x60, 0x1f87);
	ck_assert_int_eq(insn_emulate(&cpu, rex_b, sizeof(rex_b), &out), INSN_DONE);
	ck_assert_uint_eq(out.length, 9);
	ck_assert_uint_eq(fake.mxcsr, 0x1f87);
}
END_TEST

START_TEST(test_ldmxcsr_gs_prefix_adds_gs_base)
{
	struct insn_cpu cpu = new_cpu();
	struct insn_outcome out;

	cpu.seg_base[INSN_SEG_GS] = MEM_BASE + 0x400;
	cpu.seg_base[INSN_SEG_FS] = 0xbad0000;
	cpu.gpr[INSN_RAX] = 0x8;
	put32(MEM_BASE + 0x408, 0x1f87);
	ck_assert_int_eq(RUN(&cpu, &out, 0x65, 0x0f, 0xae, 0x10), INSN_DONE);
	ck_assert_uint_eq(out.length, 4);
	ck_assert_uint_eq(fake.mxcsr, 0x1f87);
}
END_TEST

START_TEST(test_stmxcsr_fs_then_gs_last_wins)
{
	struct insn_cpu cpu = new_cpu();
	struct insn_outcome out;

	fake.mxcsr = 0x1f88;
	cpu.seg_base[INSN_SEG_FS] = 0xbad0000;
	cpu.seg_base[INSN_SEG_GS] = MEM_BASE + 0x400;
	cpu.gpr[INSN_RAX] = 0x10;
	ck_assert_int_eq(RUN(&cpu, &out, 0x64, 0x65, 0x0f, 0xae, 0x18), INSN_DONE);
	ck_assert_uint_eq(get32(MEM_BASE + 0x410), 0x1f88);
}
END_TEST

START_TEST(test_ds_override_has_no_base_in_64bit)
{
	struct insn_cpu cpu = new_cpu();
	struct insn_outcome out;

	cpu.seg_base[INSN_SEG_DS] = 0x1000;
	cpu.seg_base[INSN_SEG_SS] = 0x1000;
	cpu.gpr[INSN_RAX] = MEM_BASE + 0x20;
	put32(MEM_BASE + 0x20, 0x1f89);
	ck_assert_int_eq(RUN(&cpu, &out, 0x3e, 0x0f, 0xae, 0x10), INSN_DONE);
	ck_assert_uint_eq(fake.mxcsr, 0x1f89);
}
END_TEST

START_TEST(test_addr_size_prefix_truncates)
{
	/* 67: ldmxcsr [eax]; the upper half of rax is dropped */
	struct insn_cpu cpu = new_cpu();
	struct insn_outcome out;

	cpu.gpr[INSN_RAX] = 0xffffffff00000000ull | (MEM_BASE + 0x30);
	put32(MEM_BASE + 0x30, 0x1f8a);
	ck_assert_int_eq(RUN(&cpu, &out, 0x67, 0x0f, 0xae, 0x10), INSN_DONE);
	ck_assert_uint_eq(fake.last_gva, MEM_BASE + 0x30);
	ck_assert_uint_eq(fake.mxcsr, 0x1f8a);
}
END_TEST

START_TEST(test_ldmxcsr_reserved_bits_gp)
{
	struct insn_cpu cpu = new_cpu();
	struct insn_cpu before;
	struct insn_outcome out;

	put32(MEM_BASE, 0x10000 | 0x1f80);
	cpu.gpr[INSN_RAX] = MEM_BASE;
	before = cpu;
	ck_assert_int_eq(RUN(&cpu, &out, 0x0f, 0xae, 0x10), INSN_INJECT_GP);
	ck_assert_uint_eq(out.vector, 13);
	ck_assert(out.has_error_code);
	ck_assert_uint_eq(out.error_code, 0);
	ck_assert_uint_eq(fake.mxcsr, 0x1f80);  /* unchanged */
	assert_cpu_unchanged(&cpu, &before);    /* a fault: RIP stays */
}
END_TEST

START_TEST(test_ldmxcsr_daz_depends_on_mask)
{
	struct insn_cpu cpu = new_cpu();
	struct insn_outcome out;

	put32(MEM_BASE, 0x1f80 | 0x40);  /* DAZ */
	cpu.gpr[INSN_RAX] = MEM_BASE;
	ck_assert_int_eq(RUN(&cpu, &out, 0x0f, 0xae, 0x10), INSN_INJECT_GP);  /* default 0xFFBF */
	cpu.mxcsr_mask = 0xffff;
	ck_assert_int_eq(RUN(&cpu, &out, 0x0f, 0xae, 0x10), INSN_DONE);
	ck_assert_uint_eq(fake.mxcsr, 0x1fc0);
}
END_TEST

START_TEST(test_stmxcsr_write_fails)
{
	struct insn_cpu cpu = new_cpu();
	struct insn_cpu before;
	struct insn_outcome out;

	cpu.gpr[INSN_RAX] = MEM_BASE + MEM_SIZE - 2;  /* crosses the end */
	before = cpu;
	ck_assert_int_eq(RUN(&cpu, &out, 0x0f, 0xae, 0x18), INSN_MEM_FAULT);
	ck_assert_uint_eq(out.fault_gva, MEM_BASE + MEM_SIZE - 2);
	ck_assert_ptr_nonnull(strstr(out.reason, "write"));
	assert_cpu_unchanged(&cpu, &before);
}
END_TEST

START_TEST(test_ldmxcsr_register_operand_unsupported)
{
	/* 0F AE D0 (mod 3, /2) is not ldmxcsr */
	struct insn_cpu cpu = new_cpu();
	struct insn_outcome out;

	ck_assert_int_eq(RUN(&cpu, &out, 0x0f, 0xae, 0xd0), INSN_UNSUPPORTED);
	ck_assert_ptr_nonnull(strstr(out.reason, "register operand"));
}
END_TEST

START_TEST(test_vex_ldmxcsr_stmxcsr)
{
	struct insn_cpu cpu = new_cpu();
	struct insn_outcome out;

	put32(MEM_BASE, 0x1f8b);
	cpu.gpr[INSN_RAX] = MEM_BASE;
	cpu.gpr[INSN_RCX] = MEM_BASE + 8;
	/* vldmxcsr [rax], two-byte VEX */
	ck_assert_int_eq(RUN(&cpu, &out, 0xc5, 0xf8, 0xae, 0x10), INSN_DONE);
	ck_assert_str_eq(out.name, "vldmxcsr");
	ck_assert_uint_eq(out.length, 4);
	ck_assert_uint_eq(fake.mxcsr, 0x1f8b);
	/* vstmxcsr [rcx], three-byte VEX */
	ck_assert_int_eq(RUN(&cpu, &out, 0xc4, 0xe1, 0x78, 0xae, 0x19), INSN_DONE);
	ck_assert_str_eq(out.name, "vstmxcsr");
	ck_assert_uint_eq(out.length, 5);
	ck_assert_uint_eq(get32(MEM_BASE + 8), 0x1f8b);
	/* three-byte VEX with inverted B=0 selects r9 as the base */
	cpu.gpr[INSN_R9] = MEM_BASE + 16;
	ck_assert_int_eq(RUN(&cpu, &out, 0xc4, 0xc1, 0x78, 0xae, 0x19), INSN_DONE);
	ck_assert_uint_eq(get32(MEM_BASE + 16), 0x1f8b);
	ck_assert_uint_eq(cpu.rip, KERNEL_RIP + 14);
}
END_TEST

START_TEST(test_vex_with_vvvv_unsupported)
{
	/* vvvv must be 1111 (C5 F8); C5 F0 names xmm1 and is #UD */
	struct insn_cpu cpu = new_cpu();
	struct insn_outcome out;

	cpu.gpr[INSN_RAX] = MEM_BASE;
	ck_assert_int_eq(RUN(&cpu, &out, 0xc5, 0xf0, 0xae, 0x10), INSN_UNSUPPORTED);
	ck_assert_int_eq(RUN(&cpu, &out, 0xc5, 0xfc, 0xae, 0x10), INSN_UNSUPPORTED); /* L=1 */
	ck_assert_int_eq(RUN(&cpu, &out, 0x66, 0xc5, 0xf8, 0xae, 0x10), INSN_UNSUPPORTED);
	ck_assert_uint_eq(cpu.rip, KERNEL_RIP);
}
END_TEST

/* ---- what must be refused ------------------------------------------- */

START_TEST(test_ud2_unsupported)
{
	struct insn_cpu cpu = new_cpu();
	struct insn_cpu before = cpu;
	struct insn_outcome out;

	ck_assert_int_eq(RUN(&cpu, &out, 0x0f, 0x0b, 0x90), INSN_UNSUPPORTED);
	ck_assert_str_eq(out.name, "?");
	ck_assert_uint_eq(out.length, 0);
	ck_assert_str_eq(out.reason, "opcode 0f 0b is not emulated");
	assert_cpu_unchanged(&cpu, &before);
}
END_TEST

START_TEST(test_0f38_opcode_unsupported)
{
	/* movbe eax, [rcx]: a three-byte opcode */
	struct insn_cpu cpu = new_cpu();
	struct insn_outcome out;

	ck_assert_int_eq(RUN(&cpu, &out, 0x0f, 0x38, 0xf0, 0x01), INSN_UNSUPPORTED);
	ck_assert_str_eq(out.reason, "opcode 0f 38 f0 is not emulated");
}
END_TEST

START_TEST(test_hlt_and_wrong_prefix_unsupported)
{
	struct insn_cpu cpu = new_cpu();
	struct insn_outcome out;

	ck_assert_int_eq(RUN(&cpu, &out, 0xf4), INSN_UNSUPPORTED);
	ck_assert_str_eq(out.reason, "opcode f4 is not emulated");
	/* 0F B8 without F3 is jmpe, not popcnt */
	ck_assert_int_eq(RUN(&cpu, &out, 0x0f, 0xb8, 0xc1), INSN_UNSUPPORTED);
	/* 0F 01 CC is not clac/stac */
	ck_assert_int_eq(RUN(&cpu, &out, 0x0f, 0x01, 0xcc), INSN_UNSUPPORTED);
	ck_assert_uint_eq(cpu.rip, KERNEL_RIP);
}
END_TEST

START_TEST(test_lock_prefix_unsupported)
{
	struct insn_cpu cpu = new_cpu();
	struct insn_outcome out;

	cpu.gpr[INSN_RAX] = MEM_BASE;
	ck_assert_int_eq(RUN(&cpu, &out, 0xf0, 0x0f, 0xae, 0x10), INSN_UNSUPPORTED);
	ck_assert_ptr_nonnull(strstr(out.reason, "lock"));
}
END_TEST

START_TEST(test_truncated_instructions)
{
	/* Every strict prefix of a valid instruction is reported as truncated. */
	static const struct {
		uint8_t b[INSN_MAX_LEN];
		size_t len;
	} cases[] = {
		{ { 0x0f, 0x01, 0xca }, 3 },                                      /* clac */
		{ { 0xdb, 0xe3 }, 2 },                                            /* fninit */
		{ { 0xf3, 0x48, 0x0f, 0xb8, 0x05, 0x20, 0x00, 0x00, 0x00 }, 9 }, /* popcnt rip-rel */
		{ { 0x0f, 0xae, 0x94, 0xcb, 0x00, 0x01, 0x00, 0x00 }, 8 },       /* ldmxcsr SIB+disp32 */
		{ { 0x65, 0x0f, 0xae, 0x5c, 0x24, 0x08 }, 6 },                   /* stmxcsr gs:[rsp+8] */
		{ { 0xc4, 0xe1, 0x78, 0xae, 0x18 }, 5 },                         /* vstmxcsr [rax] */
	};

	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		for (size_t n = 0; n < cases[c].len; n++) {
			struct insn_cpu cpu = new_cpu();
			struct insn_cpu before;
			struct insn_outcome out;
			uint8_t *copy = malloc(n ? n : 1); /* exact size: valgrind sees over-reads */

			memcpy(copy, cases[c].b, n);
			cpu.gpr[INSN_RAX] = cpu.gpr[INSN_RBX] = cpu.gpr[INSN_RSP] = MEM_BASE;
			cpu.gpr[INSN_RCX] = 0;
			before = cpu;
			ck_assert_int_eq(insn_emulate(&cpu, copy, n, &out), INSN_UNSUPPORTED);
			ck_assert_msg(strstr(out.reason, "truncated") != NULL, "case %zu len %zu: %s", c, n,
				      out.reason);
			assert_cpu_unchanged(&cpu, &before);
			free(copy);
		}
		/* and the whole instruction works */
		struct insn_cpu cpu = new_cpu();
		struct insn_outcome out;
		cpu.gpr[INSN_RAX] = cpu.gpr[INSN_RBX] = cpu.gpr[INSN_RSP] = MEM_BASE;
		cpu.gpr[INSN_RCX] = 0;
		cpu.seg_base[INSN_SEG_GS] = 0;
		cpu.rip = MEM_BASE;
		ck_assert_int_eq(insn_emulate(&cpu, cases[c].b, cases[c].len, &out), INSN_DONE);
		ck_assert_uint_eq(out.length, cases[c].len);
	}
}
END_TEST

START_TEST(test_null_or_empty_bytes)
{
	struct insn_cpu cpu = new_cpu();
	struct insn_outcome out;

	ck_assert_int_eq(insn_emulate(&cpu, NULL, 5, &out), INSN_UNSUPPORTED);
	ck_assert_ptr_nonnull(strstr(out.reason, "truncated"));
}
END_TEST

START_TEST(test_fifteen_bytes_ok_sixteen_too_long)
{
	uint8_t b[16];
	struct insn_cpu cpu = new_cpu();
	struct insn_outcome out;

	/* 14 prefixes + int3 = 15 bytes: legal */
	memset(b, 0x66, sizeof(b));
	b[14] = 0xcc;
	ck_assert_int_eq(insn_emulate(&cpu, b, 15, &out), INSN_INJECT_BP);
	ck_assert_uint_eq(out.length, 15);

	/* 15 prefixes + int3 = 16 bytes: too long */
	cpu = new_cpu();
	memset(b, 0x66, sizeof(b));
	b[15] = 0xcc;
	ck_assert_int_eq(insn_emulate(&cpu, b, 16, &out), INSN_UNSUPPORTED);
	ck_assert_str_eq(out.reason, "longer than 15 bytes");
	ck_assert_uint_eq(cpu.rip, KERNEL_RIP);

	/* 16 prefix bytes and no opcode at all */
	memset(b, 0x2e, sizeof(b));
	ck_assert_int_eq(insn_emulate(&cpu, b, 16, &out), INSN_UNSUPPORTED);
	ck_assert_str_eq(out.reason, "longer than 15 bytes");
}
END_TEST

START_TEST(test_disp_past_fifteen_bytes_too_long)
{
	/* 9 prefixes + ldmxcsr [rbx+rcx*8+disp32] (8 bytes) = 17 bytes */
	uint8_t b[17];
	struct insn_cpu cpu = new_cpu();
	struct insn_outcome out;
	static const uint8_t tail[8] = { 0x0f, 0xae, 0x94, 0xcb, 0x00, 0x01, 0x00, 0x00 };

	memset(b, 0x3e, 9);
	memcpy(b + 9, tail, 8);
	ck_assert_int_eq(insn_emulate(&cpu, b, sizeof(b), &out), INSN_UNSUPPORTED);
	ck_assert_str_eq(out.reason, "longer than 15 bytes");
}
END_TEST

/* ---- 32-bit code ---------------------------------------------------- */

static struct insn_cpu new_cpu32(void)
{
	struct insn_cpu cpu = new_cpu();
	cpu.cs_l = false;
	cpu.cs_db = true;
	cpu.rip = 0x100000;
	return cpu;
}

START_TEST(test_32bit_no_rex)
{
	/* In 32-bit code 0x41 is "inc ecx", not REX.B */
	struct insn_cpu cpu = new_cpu32();
	struct insn_outcome out;

	ck_assert_int_eq(RUN(&cpu, &out, 0x41, 0x0f, 0x01, 0xca), INSN_UNSUPPORTED);
	ck_assert_str_eq(out.reason, "opcode 41 is not emulated");
	ck_assert_int_eq(RUN(&cpu, &out, 0x0f, 0x01, 0xcb), INSN_DONE);
	ck_assert_uint_eq(cpu.rip, 0x100003);
}
END_TEST

START_TEST(test_32bit_popcnt_and_absolute_disp32)
{
	struct insn_cpu cpu = new_cpu32();
	struct insn_outcome out;

	/* popcnt ax, cx (16-bit) */
	cpu.gpr[INSN_RAX] = 0xabcd0000;
	cpu.gpr[INSN_RCX] = 0xff;
	ck_assert_int_eq(RUN(&cpu, &out, 0x66, 0xf3, 0x0f, 0xb8, 0xc1), INSN_DONE);
	ck_assert_uint_eq(cpu.gpr[INSN_RAX], 0xabcd0008);
	/* ldmxcsr [0x200010]: mod 0 rm 5 is absolute, not RIP-relative */
	put32(MEM_BASE + 0x10, 0x1f8c);
	ck_assert_int_eq(RUN(&cpu, &out, 0x0f, 0xae, 0x15, 0x10, 0x00, 0x20, 0x00), INSN_DONE);
	ck_assert_uint_eq(fake.mxcsr, 0x1f8c);
}
END_TEST

START_TEST(test_32bit_segment_bases)
{
	struct insn_cpu cpu = new_cpu32();
	struct insn_outcome out;

	cpu.seg_base[INSN_SEG_DS] = MEM_BASE;
	cpu.seg_base[INSN_SEG_SS] = MEM_BASE + 0x100;
	cpu.seg_base[INSN_SEG_FS] = MEM_BASE + 0x200;
	cpu.gpr[INSN_RAX] = 0x10;
	cpu.gpr[INSN_RBP] = 0x10;
	put32(MEM_BASE + 0x10, 0x1f8d);
	put32(MEM_BASE + 0x110, 0x1f8e);
	put32(MEM_BASE + 0x210, 0x1f8f);
	ck_assert_int_eq(RUN(&cpu, &out, 0x0f, 0xae, 0x10), INSN_DONE);  /* ds:[eax] */
	ck_assert_uint_eq(fake.mxcsr, 0x1f8d);
	ck_assert_int_eq(RUN(&cpu, &out, 0x0f, 0xae, 0x55, 0x00), INSN_DONE);  /* ss:[ebp+0] */
	ck_assert_uint_eq(fake.mxcsr, 0x1f8e);
	ck_assert_int_eq(RUN(&cpu, &out, 0x64, 0x0f, 0xae, 0x10), INSN_DONE);  /* fs:[eax] */
	ck_assert_uint_eq(fake.mxcsr, 0x1f8f);
}
END_TEST

START_TEST(test_32bit_vex_vs_les)
{
	struct insn_cpu cpu = new_cpu32();
	struct insn_outcome out;

	/* C4 followed by a memory ModRM is LES in 32-bit code */
	ck_assert_int_eq(RUN(&cpu, &out, 0xc4, 0x01), INSN_UNSUPPORTED);
	ck_assert_str_eq(out.reason, "opcode c4 is not emulated");
	/* C5 F8 is VEX: vldmxcsr [eax] */
	put32(MEM_BASE, 0x1f90);
	cpu.gpr[INSN_RAX] = MEM_BASE;
	ck_assert_int_eq(RUN(&cpu, &out, 0xc5, 0xf8, 0xae, 0x10), INSN_DONE);
	ck_assert_uint_eq(fake.mxcsr, 0x1f90);
}
END_TEST

START_TEST(test_16bit_code_and_addressing_unsupported)
{
	struct insn_cpu cpu = new_cpu32();
	struct insn_outcome out;

	/* 67 in 32-bit code selects 16-bit addressing */
	ck_assert_int_eq(RUN(&cpu, &out, 0x67, 0x0f, 0xae, 0x10), INSN_UNSUPPORTED);
	ck_assert_ptr_nonnull(strstr(out.reason, "16-bit addressing"));
	/* ...but register operands do not care */
	ck_assert_int_eq(RUN(&cpu, &out, 0x67, 0xf3, 0x0f, 0xb8, 0xc1), INSN_DONE);

	cpu.cs_db = false;  /* real mode / 16-bit protected mode */
	ck_assert_int_eq(RUN(&cpu, &out, 0xcc), INSN_UNSUPPORTED);
	ck_assert_ptr_nonnull(strstr(out.reason, "16-bit code"));
}
END_TEST

START_TEST(test_32bit_eip_wraps)
{
	struct insn_cpu cpu = new_cpu32();
	struct insn_outcome out;

	cpu.rip = 0xffffffff;
	ck_assert_int_eq(RUN(&cpu, &out, 0x9b), INSN_DONE);
	ck_assert_uint_eq(cpu.rip, 0);
}
END_TEST

/* ---- helpers -------------------------------------------------------- */

START_TEST(test_format_bytes)
{
	static const uint8_t b[] = { 0x0f, 0x0b, 0x90, 0xff };
	char s[32];

	insn_format_bytes(b, 4, s, sizeof(s));
	ck_assert_str_eq(s, "0f 0b 90 ff");
	insn_format_bytes(b, 0, s, sizeof(s));
	ck_assert_str_eq(s, "");
	/* cut at whole bytes: "0f 0b" needs 6 chars with the NUL */
	insn_format_bytes(b, 4, s, 8);
	ck_assert_str_eq(s, "0f 0b");
	insn_format_bytes(b, 4, s, 6);
	ck_assert_str_eq(s, "0f 0b");
	insn_format_bytes(b, 4, s, 2);
	ck_assert_str_eq(s, "");
	s[0] = 'x';
	insn_format_bytes(b, 4, s, 0);  /* writes nothing */
	ck_assert_int_eq(s[0], 'x');
}
END_TEST

START_TEST(test_result_names)
{
	ck_assert_str_eq(insn_result_name(INSN_DONE), "done");
	ck_assert_str_eq(insn_result_name(INSN_UNSUPPORTED), "unsupported");
	ck_assert_str_eq(insn_result_name(INSN_INJECT_GP), "inject #GP");
}
END_TEST

/* ---- XSAVE family ---------------------------------------------------- */

/* A small CPU: x87, SSE and AVX (YMM_Hi128 at 576, 256 bytes): 832 bytes. */
static const struct insn_xstate_layout xs_layout = {
	.supported = 7, .size = 832, .offset = { [2] = 576 }, .length = { [2] = 256 },
};

static struct {
	uint64_t xcr0;
	bool refuse_xcr;
	uint8_t image[832];
	int sets;
} xs;

static int xs_get_xcr(void *ctx, uint32_t i, uint64_t *v)
{
	(void)ctx;
	if (i != 0)
		return -1;
	*v = xs.xcr0;
	return 0;
}

static int xs_set_xcr(void *ctx, uint32_t i, uint64_t v)
{
	(void)ctx;
	if (xs.refuse_xcr || i != 0)
		return -1;
	xs.xcr0 = v;
	return 0;
}

static int xs_get_xstate(void *ctx, uint8_t *image, size_t len)
{
	(void)ctx;
	ck_assert_uint_eq(len, sizeof(xs.image));
	memcpy(image, xs.image, len);
	return 0;
}

static int xs_set_xstate(void *ctx, const uint8_t *image, size_t len)
{
	(void)ctx;
	ck_assert_uint_eq(len, sizeof(xs.image));
	memcpy(xs.image, image, len);
	xs.sets++;
	return 0;
}

static void img_put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t img_get64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* The vCPU's state: every byte of every component distinct, all in use. */
static struct insn_cpu xs_cpu(void)
{
	struct insn_cpu cpu = new_cpu();
	memset(&xs, 0, sizeof(xs));
	xs.xcr0 = 7;
	for (unsigned i = 0; i < sizeof(xs.image); i++)
		xs.image[i] = (uint8_t)(i * 7 + 1);
	memset(xs.image + 512, 0, 64);
	img_put64(xs.image + 512, 7);                  /* XSTATE_BV */
	img_put64(xs.image + 24, 0x0000ffff00001f80ull); /* MXCSR, MXCSR_MASK */
	cpu.xlayout = &xs_layout;
	cpu.get_xcr = xs_get_xcr;
	cpu.set_xcr = xs_set_xcr;
	cpu.get_xstate = xs_get_xstate;
	cpu.set_xstate = xs_set_xstate;
	cpu.gpr[INSN_RAX] = 0xffffffff;
	cpu.gpr[INSN_RDX] = 0xffffffff;
	cpu.gpr[INSN_RDI] = MEM_BASE + 0x100; /* 64-byte aligned */
	return cpu;
}

START_TEST(test_xsetbv_xgetbv)
{
	struct insn_cpu cpu = xs_cpu();
	struct insn_outcome out;

	cpu.gpr[INSN_RCX] = 0;
	cpu.gpr[INSN_RAX] = 0xffffffff00000003ull; /* upper half of RAX ignored */
	cpu.gpr[INSN_RDX] = 0;
	ck_assert_int_eq(RUN(&cpu, &out, 0x0f, 0x01, 0xd1), INSN_DONE);
	ck_assert_uint_eq(xs.xcr0, 3);
	ck_assert_uint_eq(cpu.rip, KERNEL_RIP + 3);
	cpu.gpr[INSN_RAX] = 0x1234567800000000ull;
	ck_assert_int_eq(RUN(&cpu, &out, 0x0f, 0x01, 0xd0), INSN_DONE);
	ck_assert_uint_eq(cpu.gpr[INSN_RAX], 3);
	ck_assert_uint_eq(cpu.gpr[INSN_RDX], 0);
	/* XINUSE (ECX=1): XSTATE_BV & XCR0 */
	cpu.gpr[INSN_RCX] = 1;
	ck_assert_int_eq(RUN(&cpu, &out, 0x0f, 0x01, 0xd0), INSN_DONE);
	ck_assert_uint_eq(cpu.gpr[INSN_RAX], 3);
	cpu.gpr[INSN_RCX] = 2;
	ck_assert_int_eq(RUN(&cpu, &out, 0x0f, 0x01, 0xd0), INSN_INJECT_GP);
}
END_TEST

START_TEST(test_xsetbv_invalid_values_gp)
{
	struct insn_cpu cpu = xs_cpu();
	struct insn_outcome out;
	static const uint64_t bad[] = { 0, 2, 5, 8, 0x27, 0x1ull << 32 };

	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct insn_cpu before = cpu;
		cpu.gpr[INSN_RCX] = 0;
		cpu.gpr[INSN_RAX] = (uint32_t)bad[i];
		cpu.gpr[INSN_RDX] = bad[i] >> 32;
		before = cpu;
		ck_assert_int_eq(RUN(&cpu, &out, 0x0f, 0x01, 0xd1), INSN_INJECT_GP);
		ck_assert_uint_eq(out.vector, 13);
		assert_cpu_unchanged(&before, &cpu);
		ck_assert_uint_eq(xs.xcr0, 7);
	}
	cpu.gpr[INSN_RAX] = 7;
	cpu.gpr[INSN_RCX] = 1; /* no XCR1 to set */
	ck_assert_int_eq(RUN(&cpu, &out, 0x0f, 0x01, 0xd1), INSN_INJECT_GP);
	cpu.gpr[INSN_RCX] = 0;
	xs.refuse_xcr = true;
	ck_assert_int_eq(RUN(&cpu, &out, 0x0f, 0x01, 0xd1), INSN_INJECT_GP);
}
END_TEST

START_TEST(test_xsave_standard_layout)
{
	struct insn_cpu cpu = xs_cpu();
	struct insn_outcome out;
	uint8_t *m = fake.mem + 0x100;

	memset(m, 0xee, 832);
	/* xsave64 (%rdi): 48 0f ae 27 */
	ck_assert_int_eq(RUN(&cpu, &out, 0x48, 0x0f, 0xae, 0x27), INSN_DONE);
	ck_assert_str_eq(out.name, "xsave");
	ck_assert_uint_eq(cpu.rip, KERNEL_RIP + 4);
	ck_assert_mem_eq(m, xs.image, 416);             /* x87, MXCSR, XMM */
	for (int i = 416; i < 512; i++)                 /* software-available bytes untouched */
		ck_assert_uint_eq(m[i], 0xee);
	ck_assert_uint_eq(img_get64(m + 512), 0xeeeeeeeeeeeeeee8ull | 7);
	for (int i = 520; i < 576; i++)                 /* rest of the header untouched */
		ck_assert_uint_eq(m[i], 0xee);
	ck_assert_mem_eq(m + 576, xs.image + 576, 256); /* YMM_Hi128 */
}
END_TEST

START_TEST(test_xsave_rfbm_and_init_components)
{
	struct insn_cpu cpu = xs_cpu();
	struct insn_outcome out;
	uint8_t *m = fake.mem + 0x100;

	memset(m, 0xee, 832);
	img_put64(m + 512, 0);
	img_put64(xs.image + 512, 3); /* AVX in its initial state */
	cpu.gpr[INSN_RAX] = 5;        /* EDX:EAX asks for x87 and AVX only */
	cpu.gpr[INSN_RDX] = 0;
	ck_assert_int_eq(RUN(&cpu, &out, 0x0f, 0xae, 0x27), INSN_DONE);
	ck_assert_mem_eq(m, xs.image, 24);              /* x87 */
	ck_assert_uint_eq(m[24], 0x80);                 /* MXCSR saved: RFBM has AVX */
	ck_assert_uint_eq(m[160], 0xee);                /* XMM not requested */
	ck_assert_uint_eq(img_get64(m + 512), 1);       /* XSTATE_BV: x87 in use, AVX init */
	for (int i = 576; i < 832; i++)                 /* init AVX written as zeros */
		ck_assert_uint_eq(m[i], 0);
	/* XCR0 limits RFBM too */
	xs.xcr0 = 3;
	memset(m + 576, 0xee, 256);
	ck_assert_int_eq(RUN(&cpu, &out, 0x0f, 0xae, 0x27), INSN_DONE);
	ck_assert_uint_eq(m[576], 0xee);
}
END_TEST

START_TEST(test_xsave_misaligned_gp)
{
	struct insn_cpu cpu = xs_cpu(), before;
	struct insn_outcome out;

	cpu.gpr[INSN_RDI] += 16;
	before = cpu;
	ck_assert_int_eq(RUN(&cpu, &out, 0x0f, 0xae, 0x27), INSN_INJECT_GP);
	ck_assert_int_eq(RUN(&cpu, &out, 0x0f, 0xae, 0x2f), INSN_INJECT_GP); /* xrstor */
	assert_cpu_unchanged(&before, &cpu);
	ck_assert_int_eq(xs.sets, 0);
}
END_TEST

START_TEST(test_xsave_write_fault)
{
	struct insn_cpu cpu = xs_cpu(), before;
	struct insn_outcome out;

	cpu.gpr[INSN_RDI] = MEM_BASE + MEM_SIZE - 512; /* header and AVX fall off the end */
	before = cpu;
	ck_assert_int_eq(RUN(&cpu, &out, 0x0f, 0xae, 0x27), INSN_MEM_FAULT);
	ck_assert(out.fault_write);
	ck_assert_uint_ge(out.fault_gva, MEM_BASE + MEM_SIZE);
	assert_cpu_unchanged(&before, &cpu);
}
END_TEST

START_TEST(test_xrstor_roundtrip_and_init)
{
	struct insn_cpu cpu = xs_cpu();
	struct insn_outcome out;
	uint8_t *m = fake.mem + 0x100;

	/* xsave, change the vCPU, xrstor: back to what was saved */
	ck_assert_int_eq(RUN(&cpu, &out, 0x0f, 0xae, 0x27), INSN_DONE);
	uint8_t saved[832];
	memcpy(saved, xs.image, sizeof(saved));
	memset(xs.image, 0x11, 24);
	memset(xs.image + 32, 0x11, 512 - 32); /* MXCSR_MASK (28-31) is read-only */
	memset(xs.image + 576, 0x22, 256);
	ck_assert_int_eq(RUN(&cpu, &out, 0x0f, 0xae, 0x2f), INSN_DONE);
	ck_assert_str_eq(out.name, "xrstor");
	ck_assert_int_eq(xs.sets, 1);
	ck_assert_mem_eq(xs.image, saved, 416);
	ck_assert_mem_eq(xs.image + 576, saved + 576, 256);

	/* XSTATE_BV without AVX and x87: those go to their initial state */
	img_put64(m + 512, 2);
	memset(xs.image + 576, 0x22, 256);
	ck_assert_int_eq(RUN(&cpu, &out, 0x0f, 0xae, 0x2f), INSN_DONE);
	for (int i = 576; i < 832; i++)
		ck_assert_uint_eq(xs.image[i], 0);
	ck_assert_uint_eq(xs.image[0], 0x7f); /* FCW 0x037f */
	ck_assert_uint_eq(xs.image[1], 0x03);
	ck_assert_uint_eq(xs.image[2], 0);
	ck_assert_uint_eq(img_get64(xs.image + 512) & 4, 0);
}
END_TEST

START_TEST(test_xrstor_rfbm_leaves_others)
{
	struct insn_cpu cpu = xs_cpu();
	struct insn_outcome out;
	uint8_t *m = fake.mem + 0x100;

	memset(m, 0x33, 832);
	memset(m + 512, 0, 64);
	img_put64(m + 512, 7);
	img_put64(m + 24, 0x1f80);
	uint8_t before[832];
	memcpy(before, xs.image, sizeof(before));
	cpu.gpr[INSN_RAX] = 4; /* only AVX */
	cpu.gpr[INSN_RDX] = 0;
	ck_assert_int_eq(RUN(&cpu, &out, 0x0f, 0xae, 0x2f), INSN_DONE);
	ck_assert_mem_eq(xs.image + 32, before + 32, 416 - 32); /* x87 rest and XMM untouched */
	ck_assert_uint_eq(xs.image[576], 0x33);
}
END_TEST

START_TEST(test_xrstor_bad_header_gp)
{
	struct insn_cpu cpu = xs_cpu(), before;
	struct insn_outcome out;
	uint8_t *m = fake.mem + 0x100;

	before = cpu;
	memset(m + 512, 0, 64);
	img_put64(m + 512, 8); /* a component outside XCR0 */
	ck_assert_int_eq(RUN(&cpu, &out, 0x0f, 0xae, 0x2f), INSN_INJECT_GP);
	img_put64(m + 512, 3);
	img_put64(m + 520, 1ull << 63 | 3); /* compacted */
	ck_assert_int_eq(RUN(&cpu, &out, 0x0f, 0xae, 0x2f), INSN_INJECT_GP);
	img_put64(m + 520, 0);
	m[540] = 1; /* reserved header byte */
	ck_assert_int_eq(RUN(&cpu, &out, 0x0f, 0xae, 0x2f), INSN_INJECT_GP);
	m[540] = 0;
	img_put64(m + 24, 0xffffffffull); /* MXCSR reserved bits */
	ck_assert_int_eq(RUN(&cpu, &out, 0x0f, 0xae, 0x2f), INSN_INJECT_GP);
	assert_cpu_unchanged(&before, &cpu);
	ck_assert_int_eq(xs.sets, 0);
}
END_TEST

START_TEST(test_xrstor_read_fault_changes_nothing)
{
	struct insn_cpu cpu = xs_cpu();
	struct insn_outcome out;

	cpu.gpr[INSN_RDI] = MEM_BASE + MEM_SIZE - 576; /* header readable, AVX not */
	memset(fake.mem + MEM_SIZE - 64, 0, 64);
	img_put64(fake.mem + MEM_SIZE - 64, 7);
	img_put64(fake.mem + MEM_SIZE - 576 + 24, 0x1f80);
	ck_assert_int_eq(RUN(&cpu, &out, 0x0f, 0xae, 0x2f), INSN_MEM_FAULT);
	ck_assert(!out.fault_write);
	ck_assert_uint_eq(out.fault_gva, MEM_BASE + MEM_SIZE);
	ck_assert_int_eq(xs.sets, 0);
}
END_TEST

START_TEST(test_xsave_without_callbacks_unsupported)
{
	struct insn_cpu cpu = new_cpu();
	struct insn_outcome out;

	cpu.gpr[INSN_RDI] = MEM_BASE;
	ck_assert_int_eq(RUN(&cpu, &out, 0x0f, 0xae, 0x27), INSN_UNSUPPORTED);
	ck_assert_int_eq(RUN(&cpu, &out, 0x0f, 0xae, 0x2f), INSN_UNSUPPORTED);
	ck_assert_int_eq(RUN(&cpu, &out, 0x0f, 0x01, 0xd1), INSN_UNSUPPORTED);
	/* lfence (0f ae e8) is xrstor's register form: not ours */
	ck_assert_int_eq(RUN(&cpu, &out, 0x0f, 0xae, 0xe8), INSN_UNSUPPORTED);
}
END_TEST

Suite *insn_emul_suite(void)
{
	Suite *s = suite_create("insn-emul");
	TCase *simple = tcase_create("simple");
	TCase *popcnt = tcase_create("popcnt");
	TCase *mxcsr = tcase_create("mxcsr-and-addressing");
	TCase *refused = tcase_create("refused");
	TCase *mode32 = tcase_create("32-bit");
	TCase *helpers = tcase_create("helpers");
	TCase *xsave = tcase_create("xsave");

	tcase_add_test(simple, test_int3);
	tcase_add_test(simple, test_int3_followed_by_other_bytes);
	tcase_add_test(simple, test_fwait);
	tcase_add_test(simple, test_fninit);
	tcase_add_test(simple, test_finit_is_one_instruction);
	tcase_add_test(simple, test_finit_cut_off_is_fwait);
	tcase_add_test(simple, test_fninit_without_callback);
	tcase_add_test(simple, test_clac);
	tcase_add_test(simple, test_stac);
	tcase_add_test(simple, test_completed_instruction_clears_rf);

	tcase_add_test(popcnt, test_popcnt32_reg);
	tcase_add_test(popcnt, test_popcnt64_reg);
	tcase_add_test(popcnt, test_popcnt16_reg_keeps_upper_bits);
	tcase_add_test(popcnt, test_popcnt_high_registers);
	tcase_add_test(popcnt, test_popcnt_rex_before_legacy_prefix_is_ignored);
	tcase_add_test(popcnt, test_popcnt_zero_sets_zf_only);
	tcase_add_test(popcnt, test_popcnt_nonzero_clears_zf);
	tcase_add_test(popcnt, test_popcnt_mem32);
	tcase_add_test(popcnt, test_popcnt_mem64_rip_relative);
	tcase_add_test(popcnt, test_popcnt_mem_read_fails);

	tcase_add_test(mxcsr, test_ldmxcsr_rax);
	tcase_add_test(mxcsr, test_stmxcsr_rax);
	tcase_add_test(mxcsr, test_ldmxcsr_rip_relative);
	tcase_add_test(mxcsr, test_stmxcsr_rsp_disp8);
	tcase_add_test(mxcsr, test_ldmxcsr_negative_disp8);
	tcase_add_test(mxcsr, test_ldmxcsr_base_index_scale_disp32);
	tcase_add_test(mxcsr, test_ldmxcsr_rex_x_b_r12_r13);
	tcase_add_test(mxcsr, test_ldmxcsr_index_r12_is_not_none);
	tcase_add_test(mxcsr, test_ldmxcsr_sib_disp32_without_base);
	tcase_add_test(mxcsr, test_ldmxcsr_gs_prefix_adds_gs_base);
	tcase_add_test(mxcsr, test_stmxcsr_fs_then_gs_last_wins);
	tcase_add_test(mxcsr, test_ds_override_has_no_base_in_64bit);
	tcase_add_test(mxcsr, test_addr_size_prefix_truncates);
	tcase_add_test(mxcsr, test_ldmxcsr_reserved_bits_gp);
	tcase_add_test(mxcsr, test_ldmxcsr_daz_depends_on_mask);
	tcase_add_test(mxcsr, test_stmxcsr_write_fails);
	tcase_add_test(mxcsr, test_ldmxcsr_register_operand_unsupported);
	tcase_add_test(mxcsr, test_vex_ldmxcsr_stmxcsr);
	tcase_add_test(mxcsr, test_vex_with_vvvv_unsupported);

	tcase_add_test(refused, test_ud2_unsupported);
	tcase_add_test(refused, test_0f38_opcode_unsupported);
	tcase_add_test(refused, test_hlt_and_wrong_prefix_unsupported);
	tcase_add_test(refused, test_lock_prefix_unsupported);
	tcase_add_test(refused, test_truncated_instructions);
	tcase_add_test(refused, test_null_or_empty_bytes);
	tcase_add_test(refused, test_fifteen_bytes_ok_sixteen_too_long);
	tcase_add_test(refused, test_disp_past_fifteen_bytes_too_long);

	tcase_add_test(mode32, test_32bit_no_rex);
	tcase_add_test(mode32, test_32bit_popcnt_and_absolute_disp32);
	tcase_add_test(mode32, test_32bit_segment_bases);
	tcase_add_test(mode32, test_32bit_vex_vs_les);
	tcase_add_test(mode32, test_16bit_code_and_addressing_unsupported);
	tcase_add_test(mode32, test_32bit_eip_wraps);

	tcase_add_test(xsave, test_xsetbv_xgetbv);
	tcase_add_test(xsave, test_xsetbv_invalid_values_gp);
	tcase_add_test(xsave, test_xsave_standard_layout);
	tcase_add_test(xsave, test_xsave_rfbm_and_init_components);
	tcase_add_test(xsave, test_xsave_misaligned_gp);
	tcase_add_test(xsave, test_xsave_write_fault);
	tcase_add_test(xsave, test_xrstor_roundtrip_and_init);
	tcase_add_test(xsave, test_xrstor_rfbm_leaves_others);
	tcase_add_test(xsave, test_xrstor_bad_header_gp);
	tcase_add_test(xsave, test_xrstor_read_fault_changes_nothing);
	tcase_add_test(xsave, test_xsave_without_callbacks_unsupported);

	tcase_add_test(helpers, test_format_bytes);
	tcase_add_test(helpers, test_result_names);

	suite_add_tcase(s, simple);
	suite_add_tcase(s, popcnt);
	suite_add_tcase(s, mxcsr);
	suite_add_tcase(s, refused);
	suite_add_tcase(s, mode32);
	suite_add_tcase(s, xsave);
	suite_add_tcase(s, helpers);
	return s;
}

#ifndef SKIFF_UNIT_NO_MAIN
int main(void)
{
	SRunner *sr = srunner_create(insn_emul_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
#endif
