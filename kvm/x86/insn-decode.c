/* The fallback x86 instruction emulator's decoder: steps 1 to 3 of
 * insn-emul.c (prefixes, the table lookup, the ModRM operand). See
 * insn-emul.h for what and why. */
#include "kvm/x86/insn-decode.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* ---- small helpers ---------------------------------------------------- */

void insn_set_reason(struct insn_outcome *out, const char *fmt, va_list ap)
{
	vsnprintf(out->reason, sizeof(out->reason), fmt, ap);
}

/* Record why decoding stopped; returns false so callers can `return fail(...)`. */
static bool fail(struct insn *in, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	insn_set_reason(in->out, fmt, ap);
	va_end(ap);
	return false;
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

	for (size_t i = 0; i < in->table_len; i++) {
		const struct insn_desc *d = &in->table[i];
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

bool insn_decode(struct insn *in)
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
uint64_t insn_linear_address(const struct insn_cpu *cpu, const struct insn *in)
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
