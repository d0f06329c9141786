/* The emulator's vocabulary: the register copy it works on (struct
 * insn_cpu), what it reports (struct insn_outcome, enum insn_result) and
 * the limits of x86 code it knows. Kept apart from insn-emul.h so the
 * decoder (insn-decode.c) can use these types without including the
 * emulator that sits above it. */
#ifndef SKIFF_X86_INSN_H
#define SKIFF_X86_INSN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The longest legal x86 instruction; longer ones fault on hardware. */
#define INSN_MAX_LEN 15

/* RFLAGS bits the emulator reads or writes. */
#define INSN_RFLAGS_CF (1ull << 0)
#define INSN_RFLAGS_PF (1ull << 2)
#define INSN_RFLAGS_AF (1ull << 4)
#define INSN_RFLAGS_ZF (1ull << 6)
#define INSN_RFLAGS_SF (1ull << 7)
#define INSN_RFLAGS_OF (1ull << 11)
#define INSN_RFLAGS_RF (1ull << 16)
#define INSN_RFLAGS_AC (1ull << 18)

/* The x87 state fninit leaves behind; fpu_init() must install it:
 * FCW=0x37F, FSW=0, all registers tagged empty (0 in the abridged tag
 * word of fxsave / struct kvm_fpu.ftwx, 0xFFFF in the full tag word),
 * and last-instruction opcode/pointers (FOP, FIP, FDP) zero.
 * MXCSR and the XMM registers are left alone. */
#define INSN_FNINIT_FCW 0x037F
#define INSN_FNINIT_FSW 0x0000
#define INSN_FNINIT_FTW_ABRIDGED 0x00

/* MXCSR bits ldmxcsr may set when the CPU reports MXCSR_MASK as 0
 * (Intel SDM: then assume 0xFFBF, i.e. no DAZ bit). */
#define INSN_MXCSR_MASK_DEFAULT 0xFFBF

/* XSAVE family. The emulator reaches the vCPU's extended state only as a
 * whole standard-format (non-compacted) XSAVE image, which is what
 * KVM_GET_XSAVE/KVM_SET_XSAVE exchange: legacy region (512 bytes), header
 * (64 bytes), then component i at offset[i] (CPUID leaf 0xD). */
#define INSN_XSAVE_MAX_SIZE 4096
#define INSN_XSAVE_HDR_OFFSET 512
#define INSN_XSAVE_ALIGN 64
struct insn_xstate_layout {
	uint64_t supported;    /* components the CPU has (CPUID.(0xD,0) EDX:EAX) */
	uint32_t size;         /* bytes in an image with every supported component */
	uint32_t offset[64];   /* component i (i >= 2): offset and size in the image */
	uint32_t length[64];
};

/* General-purpose registers in hardware encoding order (note: not the
 * order of struct kvm_regs). */
enum insn_gpr {
	INSN_RAX, INSN_RCX, INSN_RDX, INSN_RBX, INSN_RSP, INSN_RBP, INSN_RSI, INSN_RDI,
	INSN_R8, INSN_R9, INSN_R10, INSN_R11, INSN_R12, INSN_R13, INSN_R14, INSN_R15,
};

/* Segment registers in hardware encoding order. */
enum insn_seg { INSN_SEG_ES, INSN_SEG_CS, INSN_SEG_SS, INSN_SEG_DS, INSN_SEG_FS, INSN_SEG_GS, INSN_SEG_COUNT };

/* The vCPU as the emulator sees it. The caller fills it from
 * KVM_GET_REGS/KVM_GET_SREGS and writes gpr, rip and rflags back when the
 * result is INSN_DONE or INSN_INJECT_BP (other results change nothing). */
struct insn_cpu {
	uint64_t gpr[16];  /* indexed by enum insn_gpr */
	uint64_t rip;
	uint64_t rflags;
	/* Segment bases. In 64-bit code only FS and GS are used (the CPU
	 * treats the others as zero there); 32-bit code uses all of them. */
	uint64_t seg_base[INSN_SEG_COUNT];
	bool cs_l;          /* CS.L: 64-bit code */
	bool cs_db;         /* CS.D (when !cs_l): 32-bit rather than 16-bit code */
	uint32_t mxcsr_mask; /* MXCSR_MASK from fxsave; 0 means INSN_MXCSR_MASK_DEFAULT */

	/* Callbacks. Memory is addressed by guest *linear* (virtual) address;
	 * the callbacks translate it. They return 0 on success, anything else
	 * on failure (e.g. the address is not mapped). */
	void *ctx;
	int (*read_mem)(void *ctx, uint64_t gva, void *buf, size_t len);
	int (*write_mem)(void *ctx, uint64_t gva, const void *buf, size_t len);
	uint32_t (*get_mxcsr)(void *ctx);
	void (*set_mxcsr)(void *ctx, uint32_t mxcsr);
	void (*fpu_init)(void *ctx);  /* reset the x87 unit, see INSN_FNINIT_* */
	/* XSAVE family (all optional; without them those instructions are
	 * unsupported). get_xcr/set_xcr: extended control register index
	 * (only 0, XCR0); set_xcr returns nonzero when the value is refused
	 * (the guest then gets #GP). get_xstate/set_xstate: the whole
	 * standard-format image of xlayout->size bytes. */
	const struct insn_xstate_layout *xlayout;
	int (*get_xcr)(void *ctx, uint32_t index, uint64_t *value);
	int (*set_xcr)(void *ctx, uint32_t index, uint64_t value);
	int (*get_xstate)(void *ctx, uint8_t *image, size_t len);
	int (*set_xstate)(void *ctx, const uint8_t *image, size_t len);
};

enum insn_result {
	/* Emulated: gpr/rip/rflags updated (RIP is past the instruction).
	 * Write them back and resume the guest. */
	INSN_DONE,
	/* int3: RIP already points past the int3. Inject vector 3 as a
	 * software exception (KVM_SET_VCPU_EVENTS), then resume. */
	INSN_INJECT_BP,
	/* General-protection fault, error code 0 (e.g. ldmxcsr with reserved
	 * bits). Nothing changed; RIP still points at the instruction. */
	INSN_INJECT_GP,
	/* A memory operand could not be read or written: out->fault_gva holds
	 * the address. Nothing changed. The caller decides (stop the VM, or
	 * inject #PF with CR2 = fault_gva if it knows the error code). */
	INSN_MEM_FAULT,
	/* Not an instruction this emulator handles, or not decodable from
	 * the bytes given (truncated, longer than 15 bytes): out->reason says
	 * which. Nothing changed. */
	INSN_UNSUPPORTED,
};

struct insn_outcome {
	const char *name;     /* mnemonic ("popcnt"), or "?" if not recognised */
	unsigned length;      /* instruction length in bytes, 0 if not decoded */
	uint8_t vector;       /* INSN_INJECT_*: exception vector (3 or 13) */
	bool has_error_code;  /* INSN_INJECT_GP: true, error code below */
	uint32_t error_code;
	uint64_t fault_gva;   /* INSN_MEM_FAULT: the address that failed */
	bool fault_write;     /* INSN_MEM_FAULT: it was a write */
	char reason[128];     /* human-readable why, for every result but INSN_DONE */
};

/* insn-decode.c */
/* "0f 0b 90": bytes as lowercase hex separated by spaces, cut at whole
 * bytes to fit outlen (always NUL-terminated when outlen > 0). */
void insn_format_bytes(const uint8_t *b, size_t n, char *out, size_t outlen);

#endif
