/* Fallback x86 instruction emulator. See insn-emul.h for what and why.
 *
 * How an instruction is handled:
 *   1. decode_prefixes(): legacy prefixes (any order), then REX or VEX;
 *   2. find_desc(): look the opcode bytes up in insn_table[];
 *   3. decode_modrm(): if the table entry has a ModRM operand, decode
 *      ModRM, SIB and displacement;
 *   4. the entry's handler does the work; insn_emulate() then moves RIP.
 * To support one more instruction, add a row to insn_table[] and write
 * its handler.
 */
#include "kvm/x86/insn-emul.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

struct insn;

/* A handler emulates one decoded instruction. It must leave *cpu untouched
 * unless it returns INSN_DONE or INSN_INJECT_BP, so a fault never leaves
 * a half-done instruction behind. */
typedef enum insn_result (*insn_handler)(struct insn_cpu *cpu, const struct insn *in,
					 struct insn_outcome *out);

/* The prefix an SSE-style opcode requires (legacy 66/F3/F2, or VEX.pp).
 * The first four values equal the VEX.pp encoding. */
enum prefix_req { PFX_NONE, PFX_66, PFX_F3, PFX_F2, PFX_ANY };

/* What follows the opcode bytes. */
enum modrm_form {
	NO_MODRM,  /* nothing */
	MODRM_ANY, /* a ModRM operand: register or memory */
	MODRM_MEM, /* a ModRM operand that must be memory (mod != 3) */
};

enum insn_encoding { LEGACY, VEX };

struct insn_desc {
	const char *name;
	enum insn_encoding enc;
	enum prefix_req prefix;
	/* Opcode bytes after the prefixes, including 0F escapes and a fixed
	 * ModRM byte where the instruction has one (clac is 0F 01 CA). For
	 * VEX the escape bytes are implied by VEX.mmmmm but still listed. */
	uint8_t opcode[3];
	uint8_t opcode_len;
	enum modrm_form modrm;
	int8_t reg;  /* required ModRM.reg ("/2" in the manuals), or -1 */
	insn_handler handler;
};

/* OPCODE(0x0F, 0x01, 0xCA) fills both .opcode and .opcode_len. */
#define OPCODE(...) { __VA_ARGS__ }, sizeof((uint8_t[]){ __VA_ARGS__ })

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

#define NO_REG (-1)

/* One instruction being decoded. */
struct insn {
	/* input */
	const uint8_t *bytes;
	size_t avail;  /* bytes given by the caller */
	size_t pos;    /* next byte to decode */
	bool mode64;   /* 64-bit code (else 32-bit) */
	struct insn_outcome *out;

	/* legacy prefixes */
	bool lock, opsize_66, addrsize_67;
	uint8_t last_rep;  /* 0xF3 or 0xF2, whichever came last; 0 if none */
	int seg;           /* segment override (enum insn_seg), or -1 */

	/* REX (or the same bits from VEX) */
	bool rex, rex_w, rex_r, rex_x, rex_b;

	/* VEX */
	bool vex;
	uint8_t vex_map;   /* 1 = 0F, 2 = 0F 38, 3 = 0F 3A */
	uint8_t vex_pp;    /* implied prefix, enum prefix_req order */
	uint8_t vex_vvvv;  /* already un-inverted */
	bool vex_l;

	const struct insn_desc *desc;
	unsigned opsize;    /* operand size in bytes: 2, 4 or 8 */
	unsigned addrsize;  /* address size in bytes: 2, 4 or 8 */

	/* ModRM operand */
	uint8_t mod;
	unsigned reg;   /* ModRM.reg with REX.R */
	unsigned rm;    /* register operand (mod == 3), with REX.B */
	bool is_mem;
	int base, index;   /* registers or NO_REG */
	unsigned scale;    /* 1, 2, 4 or 8 */
	int64_t disp;
	bool rip_relative;
	uint64_t addr;     /* linear address of the memory operand */

	unsigned len;  /* total length, known once decoding is finished */
};

/* ---- small helpers ---------------------------------------------------- */

static void set_reason(struct insn_outcome *out, const char *fmt, va_list ap)
{
	vsnprintf(out->reason, sizeof(out->reason), fmt, ap);
}

/* Record why decoding stopped; returns false so callers can `return fail(...)`. */
static bool fail(struct insn *in, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	set_reason(in->out, fmt, ap);
	va_end(ap);
	return false;
}

static enum insn_result unsupported(struct insn_outcome *out, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	set_reason(out, fmt, ap);
	va_end(ap);
	return INSN_UNSUPPORTED;
}

/* The byte at pos, if it exists and lies within the 15-byte limit. */
static bool byte_at(const struct insn *in, size_t pos, uint8_t *b)
{
	if (pos >= INSN_MAX_LEN || pos >= in->avail)
		return false;
	*b = in->bytes[pos];
	return true;
}

/* Explain why byte_at(pos) failed. */
static bool fail_missing(struct insn *in, size_t pos)
{
	if (pos >= INSN_MAX_LEN)
		return fail(in, "longer than %d bytes", INSN_MAX_LEN);
	return fail(in, "truncated: instruction continues past the %zu byte(s) given", in->avail);
}

static bool next_byte(struct insn *in, uint8_t *b)
{
	if (!byte_at(in, in->pos, b))
		return fail_missing(in, in->pos);
	in->pos++;
	return true;
}

/* ---- step 1: prefixes ------------------------------------------------- */

static bool decode_prefixes(struct insn *in)
{
	static const int seg_of_prefix[256] = {
		[0x26] = INSN_SEG_ES + 1, [0x2E] = INSN_SEG_CS + 1, [0x36] = INSN_SEG_SS + 1,
		[0x3E] = INSN_SEG_DS + 1, [0x64] = INSN_SEG_FS + 1, [0x65] = INSN_SEG_GS + 1,
	};  /* +1 so that 0 means "not a segment prefix" */
	uint8_t b;

	in->seg = -1;
	for (;;) {
		if (!byte_at(in, in->pos, &b))
			return fail_missing(in, in->pos);
		if (b == 0xF0) {
			in->lock = true;
		} else if (b == 0xF2 || b == 0xF3) {
			in->last_rep = b;
		} else if (b == 0x66) {
			in->opsize_66 = true;
		} else if (b == 0x67) {
			in->addrsize_67 = true;
		} else if (seg_of_prefix[b]) {
			in->seg = seg_of_prefix[b] - 1;  /* the last one wins */
		} else if (in->mode64 && (b & 0xF0) == 0x40) {
			/* REX; in 32-bit code 40-4F are inc/dec instead */
			in->rex = true;
			in->rex_w = b & 8;
			in->rex_r = b & 4;
			in->rex_x = b & 2;
			in->rex_b = b & 1;
			in->pos++;
			continue;
		} else {
			return true;  /* the opcode (or VEX) starts here */
		}
		/* A REX prefix only counts right before the opcode: one followed
		 * by a legacy prefix is ignored by the CPU. */
		in->rex = in->rex_w = in->rex_r = in->rex_x = in->rex_b = false;
		in->pos++;
	}
}

/* VEX (C5 = two-byte form, C4 = three-byte form) replaces REX, the 0F
 * escapes and the 66/F2/F3 prefixes. */
static bool decode_vex(struct insn *in)
{
	uint8_t b0, b1, b2;

	if (!byte_at(in, in->pos, &b0) || (b0 != 0xC4 && b0 != 0xC5))
		return true;
	if (!byte_at(in, in->pos + 1, &b1))
		return fail_missing(in, in->pos + 1);
	/* In 32-bit code C4/C5 are LES/LDS unless the next byte looks like a
	 * register ModRM (mod == 3), which LES/LDS cannot have. */
	if (!in->mode64 && (b1 & 0xC0) != 0xC0)
		return true;
	if (in->rex || in->opsize_66 || in->last_rep || in->lock)
		return fail(in, "VEX after a 66/F2/F3/F0/REX prefix (#UD)");

	in->vex = true;
	in->rex_r = in->mode64 && !(b1 & 0x80);  /* R, X, B are stored inverted */
	if (b0 == 0xC5) {
		in->vex_map = 1;
		in->vex_vvvv = (~b1 >> 3) & 0xF;
		in->vex_l = b1 & 4;
		in->vex_pp = b1 & 3;
		in->pos += 2;
		return true;
	}
	if (!byte_at(in, in->pos + 2, &b2))
		return fail_missing(in, in->pos + 2);
	in->rex_x = in->mode64 && !(b1 & 0x40);
	in->rex_b = in->mode64 && !(b1 & 0x20);
	in->vex_map = b1 & 0x1F;
	in->vex_vvvv = (~b2 >> 3) & 0xF;
	in->vex_l = b2 & 4;
	in->vex_pp = b2 & 3;
	in->pos += 3;
	if (in->vex_map < 1 || in->vex_map > 3)
		return fail(in, "VEX opcode map %u does not exist (#UD)", in->vex_map);
	return true;
}

/* ---- step 2: the table lookup ----------------------------------------- */

/* Byte i of the opcode as the table spells it: for VEX, first the escape
 * bytes VEX.mmmmm stands for, then the real bytes. */
static bool opcode_byte(const struct insn *in, size_t i, uint8_t *b, size_t *raw_pos)
{
	static const uint8_t vex_escape[4][2] = { { 0 }, { 0x0F }, { 0x0F, 0x38 }, { 0x0F, 0x3A } };
	size_t implied = in->vex ? (in->vex_map == 1 ? 1 : 2) : 0;

	if (i < implied) {
		*b = vex_escape[in->vex_map][i];
		return true;
	}
	*raw_pos = in->pos + (i - implied);
	return byte_at(in, *raw_pos, b);
}

/* The 66/F2/F3 (or VEX.pp) prefix that selects among SSE-style opcodes.
 * F2/F3 take precedence over 66, which then only sets the operand size. */
static enum prefix_req mandatory_prefix(const struct insn *in)
{
	if (in->vex)
		return (enum prefix_req)in->vex_pp;
	if (in->last_rep == 0xF3)
		return PFX_F3;
	if (in->last_rep == 0xF2)
		return PFX_F2;
	return in->opsize_66 ? PFX_66 : PFX_NONE;
}

enum match { NO_MATCH, PARTIAL_MATCH, FULL_MATCH };

/* Does table row d describe the instruction? PARTIAL_MATCH: it might, but
 * the bytes end first; *missing is the first byte we lack. */
static enum match match_desc(const struct insn *in, const struct insn_desc *d, size_t *missing)
{
	size_t raw_pos = in->pos;
	uint8_t b;

	if ((d->enc == VEX) != in->vex)
		return NO_MATCH;
	if (d->prefix != PFX_ANY && d->prefix != mandatory_prefix(in))
		return NO_MATCH;
	for (size_t i = 0; i < d->opcode_len; i++) {
		if (!opcode_byte(in, i, &b, &raw_pos)) {
			*missing = raw_pos;
			return PARTIAL_MATCH;
		}
		if (b != d->opcode[i])
			return NO_MATCH;
	}
	if (d->reg >= 0) {
		if (!opcode_byte(in, d->opcode_len, &b, &raw_pos)) {
			*missing = raw_pos;
			return PARTIAL_MATCH;
		}
		if (((b >> 3) & 7) != d->reg)
			return NO_MATCH;
	}
	return FULL_MATCH;
}

/* Name the opcode we could not find, e.g. "0f 0b" or "0f 38 f0". */
static void describe_opcode(const struct insn *in, char *text, size_t textlen)
{
	uint8_t op[3];
	size_t n = 0, want, raw_pos;

	while (n < 3 && opcode_byte(in, n, &op[n], &raw_pos))
		n++;
	/* one byte, 0F xx, or 0F 38 xx / 0F 3A xx */
	want = (n > 0 && op[0] != 0x0F) ? 1 : (n > 1 && (op[1] == 0x38 || op[1] == 0x3A)) ? 3 : 2;
	insn_format_bytes(op, n < want ? n : want, text, textlen);
}

static bool find_desc(struct insn *in)
{
	const struct insn_desc *best = NULL;
	bool partial = false;
	size_t missing = 0, m = 0;
	char text[16];

	for (size_t i = 0; i < sizeof(insn_table) / sizeof(insn_table[0]); i++) {
		const struct insn_desc *d = &insn_table[i];
		switch (match_desc(in, d, &m)) {
		case FULL_MATCH:
			if (!best || d->opcode_len > best->opcode_len)
				best = d;
			break;
		case PARTIAL_MATCH:
			partial = true;
			missing = m;
			break;
		case NO_MATCH:
			break;
		}
	}
	if (best) {
		in->desc = best;
		in->out->name = best->name;
		/* skip the opcode bytes actually present (not VEX's implied ones) */
		in->pos += best->opcode_len - (in->vex ? (in->vex_map == 1 ? 1 : 2) : 0);
		return true;
	}
	if (partial)
		return fail_missing(in, missing);
	describe_opcode(in, text, sizeof(text));
	return fail(in, "%sopcode %s is not emulated", in->vex ? "VEX " : "", text);
}

/* ---- step 3: the ModRM operand ---------------------------------------- */

static bool decode_modrm(struct insn *in)
{
	uint8_t modrm = 0, sib = 0, b = 0;
	unsigned rm, disp_bytes = 0;

	if (!next_byte(in, &modrm))
		return false;
	in->mod = modrm >> 6;
	in->reg = ((modrm >> 3) & 7) | (in->rex_r ? 8 : 0);
	rm = modrm & 7;
	if (in->mod == 3) {
		in->rm = rm | (in->rex_b ? 8 : 0);
		return true;
	}

	in->is_mem = true;
	if (in->addrsize == 2)
		return fail(in, "16-bit addressing (67 prefix in 32-bit code) is not supported");
	in->base = NO_REG;
	in->index = NO_REG;
	in->scale = 1;
	if (rm == 4) {
		/* a SIB byte follows: base + index * scale */
		if (!next_byte(in, &sib))
			return false;
		unsigned index = ((sib >> 3) & 7) | (in->rex_x ? 8 : 0);
		unsigned base = sib & 7;
		in->scale = 1u << (sib >> 6);
		if (index != INSN_RSP)  /* index 4 means "none"; r12 (REX.X) is usable */
			in->index = (int)index;
		if (base == 5 && in->mod == 0)  /* no base, disp32 (also with REX.B) */
			disp_bytes = 4;
		else
			in->base = (int)(base | (in->rex_b ? 8 : 0));
	} else if (rm == 5 && in->mod == 0) {
		/* disp32 alone: RIP-relative in 64-bit code, absolute in 32-bit */
		disp_bytes = 4;
		in->rip_relative = in->mode64;
	} else {
		in->base = (int)(rm | (in->rex_b ? 8 : 0));
	}
	if (in->mod == 1)
		disp_bytes = 1;
	else if (in->mod == 2)
		disp_bytes = 4;

	/* little-endian, sign-extended */
	uint64_t disp = 0;
	for (unsigned i = 0; i < disp_bytes; i++) {
		if (!next_byte(in, &b))
			return false;
		disp |= (uint64_t)b << (8 * i);
	}
	if (disp_bytes == 1)
		in->disp = (int8_t)disp;
	else if (disp_bytes == 4)
		in->disp = (int32_t)disp;
	return true;
}

static bool decode(struct insn *in)
{
	if (!decode_prefixes(in) || !decode_vex(in) || !find_desc(in))
		return false;

	/* 66 is an operand-size prefix unless the opcode needs it as its
	 * mandatory prefix. REX.W wins over 66. */
	bool size16 = in->opsize_66 && in->desc->prefix != PFX_66;
	if (in->mode64) {
		in->opsize = in->rex_w ? 8 : size16 ? 2 : 4;
		in->addrsize = in->addrsize_67 ? 4 : 8;
	} else {
		in->opsize = size16 ? 2 : 4;
		in->addrsize = in->addrsize_67 ? 2 : 4;
	}

	if (in->desc->modrm != NO_MODRM) {
		if (!decode_modrm(in))
			return false;
		if (in->desc->modrm == MODRM_MEM && !in->is_mem)
			return fail(in, "%s with a register operand (#UD)", in->desc->name);
	}
	/* Immediates would be decoded here, before the length is final. */
	if (in->lock)
		return fail(in, "lock prefix on %s (#UD)", in->desc->name);
	in->len = (unsigned)in->pos;
	return true;
}

/* Linear address of the memory operand; needs the final length because
 * RIP-relative addresses count from the end of the instruction. */
static uint64_t linear_address(const struct insn_cpu *cpu, const struct insn *in)
{
	uint64_t ea = (uint64_t)in->disp;
	int seg;

	if (in->base != NO_REG)
		ea += cpu->gpr[in->base];
	if (in->index != NO_REG)
		ea += cpu->gpr[in->index] * in->scale;
	if (in->rip_relative)
		ea += cpu->rip + in->len;
	if (in->addrsize == 4)
		ea = (uint32_t)ea;

	/* Stack-based addresses default to SS, everything else to DS. */
	if (in->seg >= 0)
		seg = in->seg;
	else if (in->base == INSN_RSP || in->base == INSN_RBP)
		seg = INSN_SEG_SS;
	else
		seg = INSN_SEG_DS;

	if (in->mode64) {
		/* 64-bit code: only FS and GS have a base */
		if (seg == INSN_SEG_FS || seg == INSN_SEG_GS)
			ea += cpu->seg_base[seg];
		return ea;
	}
	return (uint32_t)(ea + cpu->seg_base[seg]);
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
	set_reason(out, fmt, ap);
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
	struct insn in = { .bytes = bytes, .avail = bytes ? len : 0, .mode64 = cpu->cs_l, .out = out };
	enum insn_result r;

	memset(out, 0, sizeof(*out));
	out->name = "?";
	if (!cpu->cs_l && !cpu->cs_db)
		return unsupported(out, "16-bit code (real mode or CS.D=0) is not supported");
	if (!decode(&in))
		return INSN_UNSUPPORTED;
	out->length = in.len;
	if (in.is_mem)
		in.addr = linear_address(cpu, &in);

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

void insn_format_bytes(const uint8_t *b, size_t n, char *out, size_t outlen)
{
	size_t used = 0;

	if (outlen == 0)
		return;
	out[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		size_t need = (i ? 3 : 2) + 1;  /* [space] two digits, NUL */
		if (used + need > outlen)
			break;
		used += (size_t)snprintf(out + used, outlen - used, i ? " %02x" : "%02x", b[i]);
	}
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
