/* ELF kernel parsing: an uncompressed x86-64 vmlinux (ELF64, entered at
 * startup_64), or a 32-bit ELF kernel that carries a PVH entry note.
 * Only program headers matter: PT_LOAD segments say what goes where in
 * guest physical memory (p_paddr), PT_NOTE segments hold the Xen notes. */
#ifndef SKIFF_X86_ELF_KERNEL_H
#define SKIFF_X86_ELF_KERNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Xen ELF note (name "Xen") holding the 32-bit PVH entry point. */
#define ELF_NOTE_XEN_NAME          "Xen"
#define XEN_ELFNOTE_PHYS32_ENTRY   18

/* A vmlinux has about 5 PT_LOAD segments; more is suspicious. */
#define ELF_KERNEL_MAX_SEGMENTS    16

struct elf_segment {
	uint64_t offset;  /* in the file */
	uint64_t filesz;  /* bytes copied from the file */
	uint64_t paddr;   /* guest physical load address */
	uint64_t memsz;   /* bytes in memory; memsz - filesz is zeroed (bss) */
};

struct elf_kernel_info {
	bool is_64;       /* ELFCLASS64 (x86-64) or ELFCLASS32 (i386) */
	uint64_t e_entry; /* as in the file */
	uint64_t entry64; /* ELF64: physical startup_64 (= e_entry); else 0 */
	uint64_t pvh_entry; /* XEN_ELFNOTE_PHYS32_ENTRY, 0 if absent */
	unsigned nr_segments;                /* PT_LOADs with memsz > 0 */
	struct elf_segment seg[ELF_KERNEL_MAX_SEGMENTS];
	uint64_t start;   /* lowest p_paddr of those segments */
	uint64_t end;     /* highest p_paddr + p_memsz */
};

/* The ELF header's fields the parser uses, and one program header, both
 * widened to 64 bits for both ELF classes. buf must hold the header of its
 * class (sizeof(Elf64_Ehdr) or Elf32_Ehdr; Elf64_Phdr or Elf32_Phdr);
 * nothing is checked. */
struct elf_kernel_ehdr {
	unsigned type, machine, phentsize, phnum;
	uint64_t phoff, entry;
};
struct elf_kernel_phdr {
	uint32_t type;
	uint64_t offset, paddr, filesz, memsz, align;
};
void elf_kernel_read_ehdr(const uint8_t *buf, bool is_64, struct elf_kernel_ehdr *out);
void elf_kernel_read_phdr(const uint8_t *p, bool is_64, struct elf_kernel_phdr *out);

/* Validate buf[0, len) as a little-endian ET_EXEC ELF kernel: ELF64
 * EM_X86_64, or ELF32 EM_386. Fills *info and returns 0, or returns
 * -ENOEXEC with one line in err. Does not decide how to enter the
 * kernel: an ELF32 without a PVH note parses fine but cannot boot. */
int elf_kernel_parse(const uint8_t *buf, size_t len, struct elf_kernel_info *info, char *err, size_t errlen);

#endif
