/* Fallback x86 instruction emulator. See insn-emul.h for what and why.
 *
 * How an instruction is handled:
 *   1. decode_prefixes(): legacy prefixes (any order), then REX or VEX;
 *   2. find_desc(): look the opcode bytes up in insn_table[];
 *   3. decode_modrm(): if the table entry has a ModRM operand, decode
 *      ModRM, SIB and displacement;
 *   4. the entry's handler does the work; insn_emulate() then moves RIP.
 * Steps 1 to 3 are in insn-decode.c, which matches against the table it
 * is handed (struct insn.table); the table and step 4 are here, so the
 * decoder never reaches up to this file.
 * To support one more instruction, add a row to insn_table[] and write
 * its handler.
 */
#include "kvm/x86/insn-emul.h"
#include "kvm/x86/insn-decode.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static enum insn_result emul_int3(struct insn_cpu *, const struct insn *, struct insn_outcome *);
static enum insn_result emul_fwait(struct insn_cpu *, const struct insn *, struct insn_outcome *);
static enum insn_result emul_fninit(struct insn_cpu *, const struct insn *, struct insn_outcome *);
static enum insn_result emul_clac(struct insn_cpu *, const struct insn *, struct insn_outcome *);
static enum insn_result emul_stac(struct insn_cpu *, const struct insn *, struct insn_outcome *);
static enum insn_result emul_popcnt(struct insn_cpu *, const struct insn *, struct insn_outcome *);
static enum insn_result emul_ldmxcsr(struct insn_cpu *, const struct insn *, struct insn_outcome *);
static enum insn_result emul_stmxcsr(struct insn_cpu *, const struct insn *, struct insn_outcome *);
static enum insn_result emul_xsetbv(struct insn_cpu *, const struct insn *, struct insn_outcome *);
static enum insn_result emul_xgetbv(struct insn_cpu *, const struct insn *, struct insn_outcome *);
static enum insn_result emul_xsave(struct insn_cpu *, const struct insn *, struct insn_outcome *);
static enum insn_result emul_xrstor(struct insn_cpu *, const struct insn *, struct insn_outcome *);

/* OPCODE(0x0F, 0x01, 0xCA) fills both .opcode and .opcode_len. */
#define OPCODE(...) { __VA_ARGS__ }, sizeof((uint8_t[]){ __VA_ARGS__ })

/* Every instruction we emulate. When several rows match, the one with the
 * longest opcode wins (finit 9B DB E3 over fwait 9B), so order is free. */
static const struct insn_desc insn_table[] = {
	/* name       enc     prefix    opcode bytes               operand    reg  handler */
	{ "int3",     LEGACY, PFX_ANY,  OPCODE(0xCC),              NO_MODRM,  -1, emul_int3 },
	{ "fwait",    LEGACY, PFX_ANY,  OPCODE(0x9B),              NO_MODRM,  -1, emul_fwait },
	{ "finit",    LEGACY, PFX_ANY,  OPCODE(0x9B, 0xDB, 0xE3),  NO_MODRM,  -1, emul_fninit },
	{ "fninit",   LEGACY, PFX_ANY,  OPCODE(0xDB, 0xE3),        NO_MODRM,  -1, emul_fninit },
	{ "clac",     LEGACY, PFX_NONE, OPCODE(0x0F, 0x01, 0xCA),  NO_MODRM,  -1, emul_clac },
	{ "stac",     LEGACY, PFX_NONE, OPCODE(0x0F, 0x01, 0xCB),  NO_MODRM,  -1, emul_stac },
	{ "popcnt",   LEGACY, PFX_F3,   OPCODE(0x0F, 0xB8),        MODRM_ANY, -1, emul_popcnt },
	{ "ldmxcsr",  LEGACY, PFX_NONE, OPCODE(0x0F, 0xAE),        MODRM_MEM,  2, emul_ldmxcsr },
	{ "stmxcsr",  LEGACY, PFX_NONE, OPCODE(0x0F, 0xAE),        MODRM_MEM,  3, emul_stmxcsr },
	{ "vldmxcsr", VEX,    PFX_NONE, OPCODE(0x0F, 0xAE),        MODRM_MEM,  2, emul_ldmxcsr },
	{ "vstmxcsr", VEX,    PFX_NONE, OPCODE(0x0F, 0xAE),        MODRM_MEM,  3, emul_stmxcsr },
	{ "xgetbv",   LEGACY, PFX_NONE, OPCODE(0x0F, 0x01, 0xD0),  NO_MODRM,  -1, emul_xgetbv },
	{ "xsetbv",   LEGACY, PFX_NONE, OPCODE(0x0F, 0x01, 0xD1),  NO_MODRM,  -1, emul_xsetbv },
	{ "xsave",    LEGACY, PFX_NONE, OPCODE(0x0F, 0xAE),        MODRM_MEM,  4, emul_xsave },
	{ "xrstor",   LEGACY, PFX_NONE, OPCODE(0x0F, 0xAE),        MODRM_MEM,  5, emul_xrstor },
	/* xsaveopt may skip unmodified components; saving all is allowed. */
	{ "xsaveopt", LEGACY, PFX_NONE, OPCODE(0x0F, 0xAE),        MODRM_MEM,  6, emul_xsave },
};
static const size_t insn_table_len = sizeof(insn_table) / sizeof(insn_table[0]);

static enum insn_result unsupported(struct insn_outcome *out, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	insn_set_reason(out, fmt, ap);
	va_end(ap);
	return INSN_UNSUPPORTED;
}

/* ---- step 4: the handlers --------------------------------------------- */

static enum insn_result mem_fault(struct insn_outcome *out, uint64_t gva, unsigned size,
				  const char *what)
{
	out->fault_gva = gva;
	out->fault_write = what[0] == 'w';
	snprintf(out->reason, sizeof(out->reason), "%s: %s of %u bytes at 0x%llx failed", out->name,
		 what, size, (unsigned long long)gva);
	return INSN_MEM_FAULT;
}

/* Read size (<= 8) bytes of guest memory; INSN_DONE means success. */
static enum insn_result read_guest(struct insn_cpu *cpu, uint64_t gva, unsigned size, uint64_t *val,
				   struct insn_outcome *out)
{
	uint8_t buf[8];

	if (!cpu->read_mem)
		return unsupported(out, "%s: no read_mem callback", out->name);
	if (cpu->read_mem(cpu->ctx, gva, buf, size) != 0)
		return mem_fault(out, gva, size, "read");
	*val = 0;
	for (unsigned i = size; i-- > 0;)  /* guest memory is little-endian */
		*val = (*val << 8) | buf[i];
	return INSN_DONE;
}

static enum insn_result write_guest(struct insn_cpu *cpu, uint64_t gva, unsigned size, uint64_t val,
				    struct insn_outcome *out)
{
	uint8_t buf[8];

	if (!cpu->write_mem)
		return unsupported(out, "%s: no write_mem callback", out->name);
	for (unsigned i = 0; i < size; i++)
		buf[i] = (uint8_t)(val >> (8 * i));
	if (cpu->write_mem(cpu->ctx, gva, buf, size) != 0)
		return mem_fault(out, gva, size, "write");
	return INSN_DONE;
}

/* Value of the ModRM r/m operand, register or memory. */
static enum insn_result read_rm(struct insn_cpu *cpu, const struct insn *in, uint64_t *val,
				struct insn_outcome *out)
{
	if (in->is_mem)
		return read_guest(cpu, in->addr, in->opsize, val, out);
	*val = cpu->gpr[in->rm];
	if (in->opsize < 8)
		*val &= (1ull << (8 * in->opsize)) - 1;
	return INSN_DONE;
}

/* Write a register the way the CPU does: a 32-bit write clears the upper
 * half, a 16-bit write keeps the other bits. */
static void write_gpr(struct insn_cpu *cpu, unsigned reg, unsigned size, uint64_t val)
{
	if (size == 2)
		cpu->gpr[reg] = (cpu->gpr[reg] & ~0xFFFFull) | (val & 0xFFFF);
	else if (size == 4)
		cpu->gpr[reg] = (uint32_t)val;
	else
		cpu->gpr[reg] = val;
}

static enum insn_result emul_int3(struct insn_cpu *cpu, const struct insn *in, struct insn_outcome *out)
{
	/* #BP is a trap: the guest's handler expects RIP after the int3,
	 * which insn_emulate() sets because we return INSN_INJECT_BP. */
	out->vector = 3;
	snprintf(out->reason, sizeof(out->reason), "int3: inject #BP");
	return INSN_INJECT_BP;
}

static enum insn_result emul_fwait(struct insn_cpu *cpu, const struct insn *in, struct insn_outcome *out)
{
	/* fwait only waits for (and reports) pending x87 exceptions; the
	 * kernel has none pending here, so it is a no-op. */
	return INSN_DONE;
}

static enum insn_result emul_fninit(struct insn_cpu *cpu, const struct insn *in, struct insn_outcome *out)
{
	/* finit is fwait + fninit; the fwait part is a no-op as above. */
	if (!cpu->fpu_init)
		return unsupported(out, "%s: no fpu_init callback", out->name);
	cpu->fpu_init(cpu->ctx);
	return INSN_DONE;
}

static enum insn_result emul_clac(struct insn_cpu *cpu, const struct insn *in, struct insn_outcome *out)
{
	cpu->rflags &= ~INSN_RFLAGS_AC;
	return INSN_DONE;
}

static enum insn_result emul_stac(struct insn_cpu *cpu, const struct insn *in, struct insn_outcome *out)
{
	cpu->rflags |= INSN_RFLAGS_AC;
	return INSN_DONE;
}

static enum insn_result emul_popcnt(struct insn_cpu *cpu, const struct insn *in, struct insn_outcome *out)
{
	uint64_t src = 0, bits;
	unsigned count = 0;
	enum insn_result r = read_rm(cpu, in, &src, out);

	if (r != INSN_DONE)
		return r;
	for (bits = src; bits; bits &= bits - 1)  /* clears the lowest set bit */
		count++;
	write_gpr(cpu, in->reg, in->opsize, count);
	cpu->rflags &= ~(INSN_RFLAGS_CF | INSN_RFLAGS_PF | INSN_RFLAGS_AF | INSN_RFLAGS_ZF |
			 INSN_RFLAGS_SF | INSN_RFLAGS_OF);
	if (src == 0)
		cpu->rflags |= INSN_RFLAGS_ZF;
	return INSN_DONE;
}

/* vldmxcsr/vstmxcsr have no register operand in VEX: vvvv must be 1111
 * (0 once un-inverted) and L must be 0, else the CPU raises #UD. */
static bool vex_operands_ok(const struct insn *in)
{
	return !in->vex || (in->vex_vvvv == 0 && !in->vex_l);
}

static enum insn_result emul_ldmxcsr(struct insn_cpu *cpu, const struct insn *in, struct insn_outcome *out)
{
	uint32_t mask = cpu->mxcsr_mask ? cpu->mxcsr_mask : INSN_MXCSR_MASK_DEFAULT;
	uint64_t val = 0;
	enum insn_result r;

	if (!vex_operands_ok(in))
		return unsupported(out, "%s with VEX.vvvv != 1111 or VEX.L = 1 (#UD)", out->name);
	if (!cpu->set_mxcsr)
		return unsupported(out, "%s: no set_mxcsr callback", out->name);
	r = read_guest(cpu, in->addr, 4, &val, out);
	if (r != INSN_DONE)
		return r;
	if (val & ~(uint64_t)mask) {
		out->vector = 13;
		out->has_error_code = true;
		out->error_code = 0;
		snprintf(out->reason, sizeof(out->reason),
			 "%s: reserved bits in 0x%08x (MXCSR_MASK 0x%04x): inject #GP(0)", out->name,
			 (unsigned)val, (unsigned)mask);
		return INSN_INJECT_GP;
	}
	cpu->set_mxcsr(cpu->ctx, (uint32_t)val);
	return INSN_DONE;
}

static enum insn_result emul_stmxcsr(struct insn_cpu *cpu, const struct insn *in, struct insn_outcome *out)
{
	if (!vex_operands_ok(in))
		return unsupported(out, "%s with VEX.vvvv != 1111 or VEX.L = 1 (#UD)", out->name);
	if (!cpu->get_mxcsr)
		return unsupported(out, "%s: no get_mxcsr callback", out->name);
	return write_guest(cpu, in->addr, 4, cpu->get_mxcsr(cpu->ctx), out);
}

/* ---- XSAVE family ----------------------------------------------------- */

#define XS_X87 (1ull << 0)
#define XS_SSE (1ull << 1)
#define XS_AVX (1ull << 2)
#define XS_AVX512 (7ull << 5) /* opmask, ZMM_Hi256, Hi16_ZMM */
#define XS_MPX (3ull << 3)
/* Legacy region: x87 is bytes 0-159 minus MXCSR/MXCSR_MASK (24-31), SSE
 * is the XMM registers at 160-415; 416-511 are never touched (Linux keeps
 * its signal-frame magic there). */
#define LEG_MXCSR 24
#define LEG_XMM 160
#define LEG_XMM_END 416

static enum insn_result inject_gp(struct insn_outcome *out, const char *fmt, ...)
{
	va_list ap;
	out->vector = 13;
	out->has_error_code = true;
	out->error_code = 0;
	va_start(ap, fmt);
	insn_set_reason(out, fmt, ap);
	va_end(ap);
	return INSN_INJECT_GP;
}

static uint64_t rd64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 8; i-- > 0;)
		v = v << 8 | p[i];
	return v;
}

static void wr64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* Byte ranges [start, end) of component i in a standard-format image; one
 * or two ranges (x87 is split around MXCSR). Returns how many. */
static int component_ranges(const struct insn_xstate_layout *l, unsigned i, uint32_t r[2][2])
{
	if (i == 0) {
		r[0][0] = 0, r[0][1] = LEG_MXCSR;
		r[1][0] = LEG_MXCSR + 8, r[1][1] = LEG_XMM;
		return 2;
	}
	if (i == 1) {
		r[0][0] = LEG_XMM, r[0][1] = LEG_XMM_END;
		return 1;
	}
	r[0][0] = l->offset[i], r[0][1] = l->offset[i] + l->length[i];
	return 1;
}

/* Put component i's initial configuration into an image. */
static void init_component(const struct insn_xstate_layout *l, unsigned i, uint8_t *image)
{
	uint32_t r[2][2];
	int n = component_ranges(l, i, r);
	for (int k = 0; k < n; k++)
		memset(image + r[k][0], 0, r[k][1] - r[k][0]);
	if (i == 0) {  /* FCW = 0x37F; FSW, abridged FTW (all empty), FOP, FIP, FDP = 0 */
		image[0] = INSN_FNINIT_FCW & 0xFF;
		image[1] = INSN_FNINIT_FCW >> 8;
	}
}

static bool xsave_usable(struct insn_cpu *cpu, struct insn_outcome *out, enum insn_result *r)
{
	const struct insn_xstate_layout *l = cpu->xlayout;
	if (!l || !cpu->get_xcr || !cpu->get_xstate || l->size < INSN_XSAVE_HDR_OFFSET + 64 ||
	    l->size > INSN_XSAVE_MAX_SIZE) {
		*r = unsupported(out, "%s: no extended-state callbacks or layout", out->name);
		return false;
	}
	for (unsigned i = 2; i < 64; i++)
		if ((l->supported >> i & 1) && (l->offset[i] < INSN_XSAVE_HDR_OFFSET + 64 ||
						 l->offset[i] + (uint64_t)l->length[i] > l->size)) {
			*r = unsupported(out, "%s: component %u lies outside the %u-byte image", out->name, i,
					 l->size);
			return false;
		}
	return true;
}

/* XCR0 is what the component masks are relative to. */
static bool read_xcr0(struct insn_cpu *cpu, uint64_t *xcr0, struct insn_outcome *out, enum insn_result *r)
{
	if (cpu->get_xcr(cpu->ctx, 0, xcr0) != 0) {
		*r = unsupported(out, "%s: cannot read XCR0", out->name);
		return false;
	}
	return true;
}

static enum insn_result emul_xgetbv(struct insn_cpu *cpu, const struct insn *in, struct insn_outcome *out)
{
	uint64_t v = 0, xcr0 = 0;
	uint8_t image[INSN_XSAVE_MAX_SIZE];
	enum insn_result r;
	uint32_t ecx = (uint32_t)cpu->gpr[INSN_RCX];

	if (!cpu->get_xcr)
		return unsupported(out, "xgetbv: no get_xcr callback");
	if (ecx == 1) {
		/* XINUSE: the components not in their initial configuration */
		if (!xsave_usable(cpu, out, &r) || !read_xcr0(cpu, &xcr0, out, &r))
			return r;
		if (cpu->get_xstate(cpu->ctx, image, cpu->xlayout->size) != 0)
			return unsupported(out, "xgetbv: cannot read the extended state");
		v = xcr0 & rd64(image + INSN_XSAVE_HDR_OFFSET);
	} else if (ecx != 0 || cpu->get_xcr(cpu->ctx, 0, &v) != 0) {
		return inject_gp(out, "xgetbv: XCR%u does not exist: inject #GP(0)", ecx);
	}
	cpu->gpr[INSN_RAX] = (uint32_t)v;
	cpu->gpr[INSN_RDX] = v >> 32;
	return INSN_DONE;
}

static enum insn_result emul_xsetbv(struct insn_cpu *cpu, const struct insn *in, struct insn_outcome *out)
{
	uint32_t ecx = (uint32_t)cpu->gpr[INSN_RCX];
	uint64_t v = (uint32_t)cpu->gpr[INSN_RAX] | (uint64_t)(uint32_t)cpu->gpr[INSN_RDX] << 32;
	uint64_t supported = cpu->xlayout ? cpu->xlayout->supported : ~0ull;

	if (!cpu->set_xcr)
		return unsupported(out, "xsetbv: no set_xcr callback");
	/* The architectural rules (SDM XSETBV), then whatever the vCPU refuses. */
	if (ecx != 0 || !(v & XS_X87) || (v & ~supported) || ((v & XS_AVX) && !(v & XS_SSE)) ||
	    ((v & XS_AVX512) && (v & XS_AVX512) != XS_AVX512) || ((v & XS_AVX512) && !(v & XS_AVX)) ||
	    ((v & XS_MPX) && (v & XS_MPX) != XS_MPX))
		return inject_gp(out, "xsetbv: XCR%u = %#llx is invalid: inject #GP(0)", ecx, (unsigned long long)v);
	if (cpu->set_xcr(cpu->ctx, ecx, v) != 0)
		return inject_gp(out, "xsetbv: the vCPU refused XCR0 = %#llx: inject #GP(0)", (unsigned long long)v);
	return INSN_DONE;
}

/* What xsave and xrstor check first: callbacks, XCR0, a 64-byte aligned
 * operand. False with *r set when the instruction cannot go on. */
static bool xsave_prologue(struct insn_cpu *cpu, const struct insn *in, struct insn_outcome *out, uint64_t *xcr0,
			   enum insn_result *r)
{
	if (!xsave_usable(cpu, out, r) || !read_xcr0(cpu, xcr0, out, r))
		return false;
	if (!cpu->read_mem || !cpu->write_mem || !cpu->set_xstate) {
		*r = unsupported(out, "%s: no memory or set_xstate callback", out->name);
		return false;
	}
	if (in->addr % INSN_XSAVE_ALIGN) {
		*r = inject_gp(out, "%s: operand %#llx is not 64-byte aligned: inject #GP(0)", out->name,
			       (unsigned long long)in->addr);
		return false;
	}
	return true;
}

/* Requested-feature bitmap: XCR0 & EDX:EAX. */
static uint64_t rfbm(const struct insn_cpu *cpu, uint64_t xcr0)
{
	return xcr0 & ((uint32_t)cpu->gpr[INSN_RAX] | (uint64_t)(uint32_t)cpu->gpr[INSN_RDX] << 32);
}

static enum insn_result emul_xsave(struct insn_cpu *cpu, const struct insn *in, struct insn_outcome *out)
{
	uint8_t image[INSN_XSAVE_MAX_SIZE], hdr[8];
	uint64_t xcr0 = 0;
	enum insn_result r;
	uint32_t rg[2][2];

	if (!xsave_prologue(cpu, in, out, &xcr0, &r))
		return r;
	const struct insn_xstate_layout *l = cpu->xlayout;
	if (cpu->get_xstate(cpu->ctx, image, l->size) != 0)
		return unsupported(out, "%s: cannot read the vCPU's extended state", out->name);
	uint64_t mask = rfbm(cpu, xcr0), inuse = rd64(image + INSN_XSAVE_HDR_OFFSET);

	/* Read-modify-write of XSTATE_BV first: it also probes the header. */
	if (cpu->read_mem(cpu->ctx, in->addr + INSN_XSAVE_HDR_OFFSET, hdr, 8) != 0)
		return mem_fault(out, in->addr + INSN_XSAVE_HDR_OFFSET, 8, "write");
	for (unsigned i = 0; i < 64; i++) {
		if (!(mask >> i & 1))
			continue;
		if (!(inuse >> i & 1))
			init_component(l, i, image);  /* KVM's copy should already be, but be sure */
		int n = component_ranges(l, i, rg);
		for (int k = 0; k < n; k++)
			if (cpu->write_mem(cpu->ctx, in->addr + rg[k][0], image + rg[k][0], rg[k][1] - rg[k][0]) != 0)
				return mem_fault(out, in->addr + rg[k][0], rg[k][1] - rg[k][0], "write");
	}
	if ((mask & (XS_SSE | XS_AVX)) &&
	    cpu->write_mem(cpu->ctx, in->addr + LEG_MXCSR, image + LEG_MXCSR, 8) != 0)
		return mem_fault(out, in->addr + LEG_MXCSR, 8, "write");
	/* XSTATE_BV[i] = XINUSE[i] for i in RFBM; its other bits and the rest
	 * of the header are left as they were. */
	wr64(hdr, (rd64(hdr) & ~mask) | (inuse & mask));
	if (cpu->write_mem(cpu->ctx, in->addr + INSN_XSAVE_HDR_OFFSET, hdr, 8) != 0)
		return mem_fault(out, in->addr + INSN_XSAVE_HDR_OFFSET, 8, "write");
	return INSN_DONE;
}

static enum insn_result emul_xrstor(struct insn_cpu *cpu, const struct insn *in, struct insn_outcome *out)
{
	uint8_t image[INSN_XSAVE_MAX_SIZE], mem[INSN_XSAVE_MAX_SIZE], hdr[64];
	uint64_t xcr0 = 0;
	enum insn_result r;
	uint32_t rg[2][2];

	if (!xsave_prologue(cpu, in, out, &xcr0, &r))
		return r;
	const struct insn_xstate_layout *l = cpu->xlayout;
	uint64_t mask = rfbm(cpu, xcr0);

	if (cpu->read_mem(cpu->ctx, in->addr + INSN_XSAVE_HDR_OFFSET, hdr, 64) != 0)
		return mem_fault(out, in->addr + INSN_XSAVE_HDR_OFFSET, 64, "read");
	uint64_t bv = rd64(hdr), comp = rd64(hdr + 8);
	if (comp >> 63)
		return inject_gp(out, "%s: compacted format (XCOMP_BV %#llx) is not emulated: inject #GP(0)",
				 out->name, (unsigned long long)comp);
	for (int k = 8; k < 64; k++)
		if (hdr[k])
			return inject_gp(out, "%s: reserved header byte %d is not zero: inject #GP(0)", out->name, k);
	if (bv & ~xcr0)
		return inject_gp(out, "%s: XSTATE_BV %#llx has bits outside XCR0 %#llx: inject #GP(0)", out->name,
				 (unsigned long long)bv, (unsigned long long)xcr0);

	/* Read everything first, so a fault changes nothing. */
	uint64_t load = mask & bv;
	for (unsigned i = 0; i < 64; i++) {
		if (!(load >> i & 1))
			continue;
		int n = component_ranges(l, i, rg);
		for (int k = 0; k < n; k++)
			if (cpu->read_mem(cpu->ctx, in->addr + rg[k][0], mem + rg[k][0], rg[k][1] - rg[k][0]) != 0)
				return mem_fault(out, in->addr + rg[k][0], rg[k][1] - rg[k][0], "read");
	}
	bool want_mxcsr = mask & (XS_SSE | XS_AVX);
	if (want_mxcsr && cpu->read_mem(cpu->ctx, in->addr + LEG_MXCSR, mem + LEG_MXCSR, 4) != 0)
		return mem_fault(out, in->addr + LEG_MXCSR, 4, "read");

	if (cpu->get_xstate(cpu->ctx, image, l->size) != 0)
		return unsupported(out, "%s: cannot read the vCPU's extended state", out->name);
	if (want_mxcsr) {
		uint32_t m = (uint32_t)rd64(mem + LEG_MXCSR), mm = (uint32_t)(rd64(image + LEG_MXCSR) >> 32);
		if (!mm)
			mm = INSN_MXCSR_MASK_DEFAULT;
		if (m & ~mm)
			return inject_gp(out, "%s: MXCSR %#x has reserved bits (mask %#x): inject #GP(0)", out->name,
					 m, mm);
		memcpy(image + LEG_MXCSR, mem + LEG_MXCSR, 4);
	}
	uint64_t ibv = rd64(image + INSN_XSAVE_HDR_OFFSET);
	for (unsigned i = 0; i < 64; i++) {
		if (!(mask >> i & 1))
			continue;
		if (load >> i & 1) {
			int n = component_ranges(l, i, rg);
			for (int k = 0; k < n; k++)
				memcpy(image + rg[k][0], mem + rg[k][0], rg[k][1] - rg[k][0]);
		} else {
			init_component(l, i, image);
		}
		/* x87/SSE stay marked in use (with initial values if so): a KVM
		 * image takes MXCSR only along with them. Others follow XSTATE_BV. */
		if (i < 2 || (load >> i & 1))
			ibv |= 1ull << i;
		else
			ibv &= ~(1ull << i);
	}
	wr64(image + INSN_XSAVE_HDR_OFFSET, ibv);
	if (cpu->set_xstate(cpu->ctx, image, l->size) != 0)
		return unsupported(out, "%s: the vCPU refused the new extended state", out->name);
	return INSN_DONE;
}

/* ---- public API ------------------------------------------------------- */

enum insn_result insn_emulate(struct insn_cpu *cpu, const uint8_t *bytes, size_t len,
			      struct insn_outcome *out)
{
	struct insn in = { .bytes = bytes, .avail = bytes ? len : 0, .mode64 = cpu->cs_l,
			   .table = insn_table, .table_len = insn_table_len, .out = out };
	enum insn_result r;

	memset(out, 0, sizeof(*out));
	out->name = "?";
	if (!cpu->cs_l && !cpu->cs_db)
		return unsupported(out, "16-bit code (real mode or CS.D=0) is not supported");
	if (!insn_decode(&in))
		return INSN_UNSUPPORTED;
	out->length = in.len;
	if (in.is_mem)
		in.addr = insn_linear_address(cpu, &in);

	r = in.desc->handler(cpu, &in, out);
	if (r == INSN_DONE || r == INSN_INJECT_BP) {
		cpu->rip += in.len;
		if (!cpu->cs_l)
			cpu->rip = (uint32_t)cpu->rip;  /* EIP wraps at 4 GiB */
		/* The CPU clears RF after every completed instruction. */
		cpu->rflags &= ~INSN_RFLAGS_RF;
	}
	return r;
}

const char *insn_result_name(enum insn_result r)
{
	switch (r) {
	case INSN_DONE:
		return "done";
	case INSN_INJECT_BP:
		return "inject #BP";
	case INSN_INJECT_GP:
		return "inject #GP";
	case INSN_MEM_FAULT:
		return "memory fault";
	case INSN_UNSUPPORTED:
		return "unsupported";
	}
	return "?";
}
