/* Test helper: the ELF file header of a kernel (ELF64 x86-64 vmlinux or
 * ELF32 i386), program headers right after it, for tests that build
 * kernels in memory. eh is an Elf64_Ehdr * or Elf32_Ehdr *. */
#ifndef SKIFF_TEST_ELF_HEADER_H
#define SKIFF_TEST_ELF_HEADER_H

#include <elf.h>
#include <string.h>

#define ELF_KERNEL_HEADER(eh, class, machine, entry, phdr_size, phnum)                                                 \
	do {                                                                                                           \
		memset((eh), 0, sizeof(*(eh)));                                                                        \
		memcpy((eh)->e_ident, ELFMAG, SELFMAG);                                                                \
		(eh)->e_ident[EI_CLASS] = (class);                                                                     \
		(eh)->e_ident[EI_DATA] = ELFDATA2LSB;                                                                  \
		(eh)->e_ident[EI_VERSION] = EV_CURRENT;                                                                \
		(eh)->e_type = ET_EXEC;                                                                                \
		(eh)->e_machine = (machine);                                                                           \
		(eh)->e_version = EV_CURRENT;                                                                          \
		(eh)->e_entry = (entry);                                                                               \
		(eh)->e_phoff = sizeof(*(eh));                                                                         \
		(eh)->e_ehsize = sizeof(*(eh));                                                                        \
		(eh)->e_phentsize = (phdr_size);                                                                       \
		(eh)->e_phnum = (phnum);                                                                               \
	} while (0)

#define ELF64_KERNEL_HEADER(eh, entry, phnum)                                                                          \
	ELF_KERNEL_HEADER(eh, ELFCLASS64, EM_X86_64, entry, sizeof(Elf64_Phdr), phnum)

#endif
