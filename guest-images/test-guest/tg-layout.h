/* test-guest memory layout and selectors (shared by boot.S and the C code;
 * linker.ld repeats the addresses and asserts them). */
#ifndef TG_LAYOUT_H
#define TG_LAYOUT_H

#define KERNEL_BASE 0x200000     /* ring-0 image: text, data, page tables, stacks */
#define USER_BASE   0x400000     /* ring-3 section: code, data, stack, DMA pool */
#define USER_END    0x800000     /* two 2 MiB pages with the user bit */
#define MMIO_HOLE   0xc0000000   /* 0xc0000000-0xffffffff: user bit too */

#define KCODE_SEL 0x08
#define KDATA_SEL 0x10
#define UDATA_SEL 0x1b           /* GDT entry 3, RPL 3 */
#define UCODE_SEL 0x23           /* GDT entry 4, RPL 3 */
#define TSS_SEL   0x28

#endif
