/* IDT, TSS and the exception handler. See trap.h and boot.S. */
#include "trap.h"

struct idt_gate {
	uint16_t off_lo, sel;
	uint8_t ist, type_attr;
	uint16_t off_mid;
	uint32_t off_hi, zero;
} __attribute__((packed));

/* 64-bit TSS followed by the I/O permission bitmap (one bit per port,
 * 0 = allowed) and the required all-ones byte after it. */
struct tss {
	uint32_t reserved0;
	uint64_t rsp[3];
	uint64_t reserved1;
	uint64_t ist[7];
	uint64_t reserved2;
	uint16_t reserved3, iomap_base;
	uint8_t iopb[8192 + 1];
} __attribute__((packed));

extern uint64_t gdt[];
extern const uint64_t isr_table[32];
extern char user_exit_ud2[];
extern long user_call_asm(long (*fn)(void *), void *arg, uint64_t user_rsp);

static struct idt_gate idt[32] __attribute__((aligned(16)));
static struct tss tss __attribute__((aligned(16)));
static uint8_t trap_stack[16384] __attribute__((aligned(16)));
/* The ring-3 stack lives in the user section. */
static uint8_t user_stack[16384] __attribute__((aligned(16), section(".user.bss")));
unsigned user_calls;

static const char *const vector_names[32] = {
	"#DE divide error", "#DB debug", "NMI", "#BP breakpoint", "#OF overflow", "#BR bound", "#UD invalid opcode",
	"#NM no FPU", "#DF double fault", "coprocessor overrun", "#TS invalid TSS", "#NP segment not present",
	"#SS stack fault", "#GP general protection", "#PF page fault", "reserved 15", "#MF x87 error",
	"#AC alignment check", "#MC machine check", "#XM SIMD error", "#VE virtualization", "#CP control protection",
};

void trap_init(void)
{
	for (unsigned v = 0; v < 32; v++) {
		uint64_t a = isr_table[v];
		idt[v] = (struct idt_gate){
			.off_lo = (uint16_t)a, .sel = KCODE_SEL, .ist = 0,
			.type_attr = 0x8e, /* present, DPL 0, 64-bit interrupt gate */
			.off_mid = (uint16_t)(a >> 16), .off_hi = (uint32_t)(a >> 32),
		};
	}
	struct {
		uint16_t limit;
		uint64_t base;
	} __attribute__((packed)) idtr = { sizeof(idt) - 1, (uint64_t)idt };
	__asm__ volatile("lidt %0" ::"m"(idtr));

	memset(&tss, 0, sizeof(tss));
	tss.rsp[0] = (uint64_t)(trap_stack + sizeof(trap_stack));
	tss.iomap_base = __builtin_offsetof(struct tss, iopb);
	memset(tss.iopb, 0xff, sizeof(tss.iopb)); /* everything denied; last byte stays 0xff */

	uint64_t base = (uint64_t)&tss, limit = sizeof(tss) - 1;
	gdt[TSS_SEL / 8] = (limit & 0xffff) | (base & 0xffffff) << 16 | 0x89ull << 40 /* present, 64-bit TSS available */
			   | ((limit >> 16) & 0xf) << 48 | ((base >> 24) & 0xff) << 56;
	gdt[TSS_SEL / 8 + 1] = base >> 32;
	__asm__ volatile("ltr %w0" ::"r"(TSS_SEL));
}

void iopb_allow(uint16_t port, unsigned n)
{
	for (unsigned p = port; p < (unsigned)port + n && p < 65536; p++)
		tss.iopb[p / 8] &= (uint8_t)~(1u << (p % 8));
}

long user_call(long (*fn)(void *), void *arg)
{
	user_calls++;
	return user_call_asm(fn, arg, (uint64_t)(user_stack + sizeof(user_stack)));
}

static uint64_t read_cr2(void)
{
	uint64_t v;
	__asm__ volatile("mov %%cr2, %0" : "=r"(v));
	return v;
}

/* Returns 1 for the planned return from ring 3 (boot.S then resumes
 * user_call_asm's caller); every other exception ends the test. */
int trap_handler(struct trap_frame *f)
{
	unsigned ring = f->cs & 3;

	if (f->vector == 6 && ring == 3 && f->rip == (uint64_t)user_exit_ud2)
		return 1;

	printf("\ntest-guest: unexpected exception %lu (%s) in ring %u: rip 0x%lx error 0x%lx rsp 0x%lx rflags 0x%lx",
	       f->vector, f->vector < 32 && vector_names[f->vector] ? vector_names[f->vector] : "?", ring, f->rip,
	       f->error, f->rsp, f->rflags);
	if (f->vector == 14)
		printf(" cr2 0x%lx", read_cr2());
	printf("\nrax %lx rbx %lx rcx %lx rdx %lx rsi %lx rdi %lx\n", f->rax, f->rbx, f->rcx, f->rdx, f->rsi, f->rdi);
	printf("test-guest: FAIL (exception), debug-exit 0x%x\n", (unsigned)(EXIT_EXCEPTION + (f->vector & 31)));
	debug_exit((uint8_t)(EXIT_EXCEPTION + (f->vector & 31)));
}
