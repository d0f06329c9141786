/* Boot CPU state. See cpu-boot.h. */
#include "kvm/x86/cpu-boot.h"
#include "kvm/x86/layout.h"

#include <errno.h>
#include <linux/kvm.h>
#include <string.h>

/* GDT slots: the Linux boot protocol wants __BOOT_CS = 0x10 and
 * __BOOT_DS = 0x18; PVH only needs some flat 32-bit code/data. */
#define GDT_CODE64 2
#define GDT_DATA   3
#define GDT_CODE32 4
#define GDT_ENTRIES 5

#define CR0_PE (1ull << 0)
#define CR0_ET (1ull << 4)
#define CR0_NE (1ull << 5)
#define CR0_PG (1ull << 31)
#define CR4_PAE (1ull << 5)
#define EFER_LME (1ull << 8)
#define EFER_LMA (1ull << 10)

/* Descriptor bits: 0x9b/0x93 = present ring-0 code/data; the 0xa/0xc
 * nibble sets G plus L (64-bit code) or D (32-bit). */
static const uint64_t boot_gdt[GDT_ENTRIES] = {
	[GDT_CODE64] = 0x00af9b000000ffffull, /* present, ring 0, code, L=1, G=1 */
	[GDT_DATA] = 0x00cf93000000ffffull,   /* present, ring 0, data, D=1, G=1 */
	[GDT_CODE32] = 0x00cf9b000000ffffull, /* present, ring 0, code, D=1, G=1 */
};

int cpu_boot_write_tables(struct guest_mem *mem)
{
	if (!guest_mem_write(mem, LAYOUT_GDT, boot_gdt, sizeof(boot_gdt)))
		return -EFAULT;

	uint64_t *pml4 = guest_mem_ptr(mem, LAYOUT_PML4, 4096);
	uint64_t *pdpt = guest_mem_ptr(mem, LAYOUT_PDPT, 4096);
	uint64_t *pd = guest_mem_ptr(mem, LAYOUT_PD, 4 * 4096);
	if (!pml4 || !pdpt || !pd)
		return -EFAULT;
	memset(pml4, 0, 4096);
	memset(pdpt, 0, 4096);
	pml4[0] = LAYOUT_PDPT | 0x3; /* present, writable */
	for (uint64_t i = 0; i < 4; i++)
		pdpt[i] = (LAYOUT_PD + i * 4096) | 0x3;
	for (uint64_t i = 0; i < 4 * 512; i++)
		pd[i] = (i << 21) | 0x83; /* present, writable, 2 MiB page */
	return 0;
}

/* A segment register as KVM wants it, derived from the same GDT entry. */
static struct kvm_segment segment_from_gdt(unsigned index)
{
	uint64_t d = boot_gdt[index];
	return (struct kvm_segment){
		.base = 0,
		.limit = 0xffffffff,
		.selector = index * 8,
		.type = (d >> 40) & 0xf,
		.present = (d >> 47) & 1,
		.dpl = (d >> 45) & 3,
		.db = (d >> 54) & 1,
		.s = (d >> 44) & 1,
		.l = (d >> 53) & 1,
		.g = (d >> 55) & 1,
	};
}

static void cpu_boot_common(struct kvm_sregs *sregs, unsigned code_index)
{
	sregs->gdt.base = LAYOUT_GDT;
	sregs->gdt.limit = sizeof(boot_gdt) - 1;
	sregs->idt.base = 0;
	sregs->idt.limit = 0;
	sregs->cs = segment_from_gdt(code_index);
	sregs->ds = sregs->es = sregs->fs = sregs->gs = sregs->ss = segment_from_gdt(GDT_DATA);
}

void cpu_boot_long_mode(struct kvm_sregs *sregs, struct kvm_regs *regs, uint64_t entry, uint64_t boot_params)
{
	cpu_boot_common(sregs, GDT_CODE64);
	sregs->cr3 = LAYOUT_PML4;
	sregs->cr4 = CR4_PAE;
	sregs->cr0 = CR0_PE | CR0_ET | CR0_NE | CR0_PG;
	sregs->efer = EFER_LME | EFER_LMA;

	memset(regs, 0, sizeof(*regs));
	regs->rflags = 2; /* bit 1 is always set; interrupts off */
	regs->rip = entry;
	regs->rsi = boot_params;
}

void cpu_boot_pvh(struct kvm_sregs *sregs, struct kvm_regs *regs, uint64_t entry, uint64_t start_info)
{
	cpu_boot_common(sregs, GDT_CODE32);
	sregs->cr0 = CR0_PE | CR0_ET | CR0_NE;
	sregs->cr4 = 0;
	sregs->efer = 0;

	memset(regs, 0, sizeof(*regs));
	regs->rflags = 2;
	regs->rip = entry;
	regs->rbx = start_info;
}
