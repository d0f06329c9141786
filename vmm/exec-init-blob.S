/* skiff exec's init (vmm/exec-init.c, built to vmm/exec-init.bin in the
 * build tree), embedded as read-only data: exec_init_start..exec_init_end. */
	.section .rodata
	.balign 16
	.globl exec_init_start
	.globl exec_init_end
exec_init_start:
	.incbin "vmm/exec-init.bin"
exec_init_end:
	.section .note.GNU-stack,"",@progbits
