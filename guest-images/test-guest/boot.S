/* test-guest: PVH entry, long-mode switch, exception stubs, ring-3 round trip.
 *
 * Entered (skiff or QEMU) in 32-bit flat protected mode, paging off,
 * EBX = physical address of struct hvm_start_info. We load our own GDT,
 * switch on PAE paging with static page tables identity-mapping 4 GiB in
 * 2 MiB pages, enter long mode and call kmain(start_info) in C.
 *
 * Page-table user bit: set only on the 2 MiB pages holding the ring-3
 * section (USER_BASE..USER_END, see linker.ld) and on the MMIO hole
 * 0xc0000000-0xffffffff (PCI BARs, virtio-mmio, ECAM). Everything else is
 * supervisor-only, so a stray ring-3 access to ring-0 data is a #PF.
 */
#include "tg-layout.h"

	.altmacro

/* ---- the PVH note: XEN_ELFNOTE_PHYS32_ENTRY (18), name "Xen" ---- */
	.section .note.pvh, "a", @note
	.balign 4
	.long 4                 /* namesz */
	.long 4                 /* descsz: a 32-bit entry address */
	.long 18                /* XEN_ELFNOTE_PHYS32_ENTRY */
	.asciz "Xen"
	.long pvh_entry

/* ---- 32-bit entry ---- */
	.section .boot32, "ax"
	.code32
	.globl pvh_entry
pvh_entry:
	cli
	cld
	lgdt gdt_ptr
	mov $KDATA_SEL, %eax
	mov %eax, %ds
	mov %eax, %es
	mov %eax, %ss
	mov $boot_stack_top, %esp

	mov $pml4, %eax
	mov %eax, %cr3
	mov %cr4, %eax
	or $0x20, %eax          /* PAE */
	mov %eax, %cr4
	mov $0xc0000080, %ecx   /* EFER */
	rdmsr
	or $0x100, %eax         /* LME */
	wrmsr
	mov %cr0, %eax
	or $0x80010001, %eax    /* PG | WP | PE */
	mov %eax, %cr0
	ljmp $KCODE_SEL, $long_entry

	.code64
long_entry:
	mov $KDATA_SEL, %eax
	mov %eax, %ds
	mov %eax, %es
	mov %eax, %ss
	xor %eax, %eax
	mov %eax, %fs
	mov %eax, %gs
	mov $kernel_stack_top, %rsp
	mov %ebx, %edi          /* zero-extends: start_info address */
	call kmain
1:	hlt
	jmp 1b

/* ---- ring 0 <-> ring 3 ----
 * long user_call_asm(long (*fn)(void *), void *arg, uint64_t user_rsp)
 * Saves the callee-saved registers and RSP, then iretq to ring 3 at
 * user_trampoline, which calls fn(arg) and executes ud2 at user_exit_ud2.
 * The #UD handler recognises that address (trap.c) and isr_common resumes
 * here with fn's return value in RAX. */
	.text
	.globl user_call_asm
user_call_asm:
	push %rbx
	push %rbp
	push %r12
	push %r13
	push %r14
	push %r15
	mov %rsp, kernel_saved_rsp(%rip)
	pushq $UDATA_SEL        /* SS */
	push %rdx               /* RSP */
	pushq $0x2              /* RFLAGS: IF=0, IOPL=0 */
	pushq $UCODE_SEL        /* CS */
	lea user_trampoline(%rip), %rax
	push %rax               /* RIP */
	xor %eax, %eax
	xor %ebx, %ebx
	xor %ebp, %ebp
	xor %edx, %edx
	xor %ecx, %ecx
	iretq

/* ---- exception stubs: push a dummy error code where the CPU pushes none ---- */
	.macro ISR vec
	.balign 16
isr_\vec:
	.if (\vec == 8) || (\vec == 10) || (\vec == 11) || (\vec == 12) || (\vec == 13) || (\vec == 14) || (\vec == 17) || (\vec == 21) || (\vec == 29) || (\vec == 30)
	pushq $\vec
	.else
	pushq $0
	pushq $\vec
	.endif
	jmp isr_common
	.endm

	.set v, 0
	.rept 32
	ISR %v
	.set v, v + 1
	.endr

/* Never executed. On software-KVM hosts skiff points IDT[14] at an int3
 * byte near the guest's page-fault handler (its ring-3 `syscall`
 * workaround) and resumes at the real handler; it prefers a run of two.
 * Without this pair it picks a 0xcc inside some instruction. */
	int3
	int3

/* Frame on the stack (struct trap_frame in trap.h): r15..rax, vector,
 * error code, rip, cs, rflags, rsp, ss. 15*8 + 7*8 = 176 bytes; the CPU
 * aligned RSP to 16 before pushing, so RSP is 16-aligned at the call. */
isr_common:
	push %rax
	push %rbx
	push %rcx
	push %rdx
	push %rsi
	push %rdi
	push %rbp
	push %r8
	push %r9
	push %r10
	push %r11
	push %r12
	push %r13
	push %r14
	push %r15
	mov %rsp, %rdi
	cld
	call trap_handler
	test %eax, %eax
	jnz 2f
	pop %r15
	pop %r14
	pop %r13
	pop %r12
	pop %r11
	pop %r10
	pop %r9
	pop %r8
	pop %rbp
	pop %rdi
	pop %rsi
	pop %rdx
	pop %rcx
	pop %rbx
	pop %rax
	add $16, %rsp
	iretq
2:	/* the planned return from ring 3: result is the user's RAX */
	mov 14*8(%rsp), %rax
	mov kernel_saved_rsp(%rip), %rsp
	mov $KDATA_SEL, %ecx
	mov %ecx, %ds
	mov %ecx, %es
	mov %ecx, %ss
	pop %r15
	pop %r14
	pop %r13
	pop %r12
	pop %rbp
	pop %rbx
	ret

	.section .rodata
	.balign 8
	.globl isr_table
isr_table:
	.macro ISR_ENTRY vec
	.quad isr_\vec
	.endm
	.set v, 0
	.rept 32
	ISR_ENTRY %v
	.set v, v + 1
	.endr

/* ---- ring-3 code: lives in the user section ---- */
	.section .user.text, "ax"
	.globl user_trampoline, user_exit_ud2
user_trampoline:
	mov %rdi, %rax
	mov %rsi, %rdi
	call *%rax
user_exit_ud2:
	ud2
	jmp user_exit_ud2

/* ---- GDT, static page tables ---- */
	.data
	.balign 16
	.globl gdt
gdt:
	.quad 0                         /* 0x00 null */
	.quad 0x00af9b000000ffff        /* 0x08 ring-0 code, 64-bit */
	.quad 0x00cf93000000ffff        /* 0x10 ring-0 data */
	.quad 0x00cff3000000ffff        /* 0x18 ring-3 data (selector 0x1b) */
	.quad 0x00affb000000ffff        /* 0x20 ring-3 code, 64-bit (selector 0x23) */
	.quad 0, 0                      /* 0x28 64-bit TSS: filled in by trap.c */
gdt_end:
	.balign 8
	.word 0, 0, 0
gdt_ptr:
	.word gdt_end - gdt - 1
	.quad gdt

	.globl kernel_saved_rsp
kernel_saved_rsp:
	.quad 0

	.section .pagetables, "aw"
	.balign 4096
pml4:
	.quad pdpt + 0x7                /* present, writable, user */
	.fill 511, 8, 0
pdpt:
	.quad pd + 0x7
	.quad pd + 0x1000 + 0x7
	.quad pd + 0x2000 + 0x7
	.quad pd + 0x3000 + 0x7
	.fill 508, 8, 0
pd:	/* 2048 x 2 MiB: present, writable, PS; user on the user section and MMIO hole */
	.set i, 0
	.rept 2048
	.if ((i >= (USER_BASE >> 21)) && (i < (USER_END >> 21))) || (i >= (MMIO_HOLE >> 21))
	.quad (i << 21) | 0x87
	.else
	.quad (i << 21) | 0x83
	.endif
	.set i, i + 1
	.endr

	.bss
	.balign 16
	.space 4096
boot_stack_top:
	.space 16384
	.globl kernel_stack_top
kernel_stack_top:

	.section .note.GNU-stack, "", @progbits
