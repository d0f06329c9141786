/* The decoder of the fallback x86 instruction emulator: the table row
 * that describes one instruction (struct insn_desc) and the decoded
 * instruction (struct insn). The decoder matches bytes against the table
 * its caller hands it, so it does not know the handlers: insn-emul.c owns
 * the table and includes this header, never the other way round.
 * Nothing but insn-emul.c includes it. */
#ifndef SKIFF_X86_INSN_DECODE_H
#define SKIFF_X86_INSN_DECODE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kvm/x86/insn.h"

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

#define NO_REG (-1)

/* One instruction being decoded. */
struct insn {
	/* input */
	const uint8_t *bytes;
	size_t avail;  /* bytes given by the caller */
	size_t pos;    /* next byte to decode */
	bool mode64;   /* 64-bit code (else 32-bit) */
	const struct insn_desc *table;  /* the instructions we may decode */
	size_t table_len;
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

/* Steps 1 to 3 (see insn-emul.c), against in->table. False with
 * in->out->reason set if the instruction is not one we emulate. */
bool insn_decode(struct insn *in);
/* Linear address of the memory operand; needs the final length because
 * RIP-relative addresses count from the end of the instruction. */
uint64_t insn_linear_address(const struct insn_cpu *cpu, const struct insn *in);
void insn_set_reason(struct insn_outcome *out, const char *fmt, va_list ap);

#endif
