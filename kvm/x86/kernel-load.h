/* Kernel loading front end: read a kernel file, recognise its format
 * (bzImage or ELF), optionally unpack a bzImage's ELF on the host, copy
 * the kernel into guest memory and say how to enter it.
 *
 * Placement rules:
 *   bzImage  The protected-mode part goes at pref_address (16 MiB for a
 *            typical kernel; 16 MiB if it has none) if [addr, addr +
 *            init_size) is RAM in one region, above 1 MiB and below
 *            4 GiB. A relocatable kernel that does not fit there goes at
 *            1 MiB rounded up to kernel_alignment instead; a fixed one is
 *            an error. Entry: 64-bit boot protocol at addr + 0x200.
 *   ELF      Each PT_LOAD at its p_paddr (at or above 1 MiB), bss
 *            zeroed. ELF64 vmlinux: 64-bit boot protocol at e_entry
 *            (even if it also has a PVH note). ELF32: PVH entry note. */
#ifndef SKIFF_X86_KERNEL_LOAD_H
#define SKIFF_X86_KERNEL_LOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/guest-mem.h"
#include "kvm/x86/bzimage.h"
#include "kvm/x86/elf-kernel.h"

#define KERNEL_FILE_MAX (512ULL << 20) /* refuse larger kernel files */

enum kernel_format {
	KERNEL_FORMAT_BZIMAGE,
	KERNEL_FORMAT_ELF,
};

struct kernel_image {
	uint8_t *data;           /* the whole file (malloc'd), the ELF unpacked
				  * from it (kernel_image_unpack; malloc'd),
				  * or, for an ELF file, see sparse */
	size_t size;
	enum kernel_format format;
	struct bzimage_info bz;     /* KERNEL_FORMAT_BZIMAGE, or unpacked */
	struct elf_kernel_info elf; /* KERNEL_FORMAT_ELF */
	bool unpacked;           /* an ELF unpacked from a bzImage: bz keeps
				  * its setup header for boot_params */
	bool sparse;             /* an ELF file: data (mmap'd) holds only its
				  * headers and notes; the segments are read
				  * from fd (open) when loaded */
	int fd;
};

enum kernel_entry_mode {
	/* 64-bit boot protocol: long mode, paging on (identity map),
	 * RIP = rip, RSI = boot_info (struct boot_params). */
	ENTRY_LINUX64,
	/* PVH: 32-bit protected mode, paging off, EIP = rip,
	 * EBX = boot_info (struct hvm_start_info). */
	ENTRY_PVH32,
};

/* Default for kernels without a setup header (ELF): Linux's own
 * default initrd_addr_max. */
#define KERNEL_DEFAULT_INITRD_ADDR_MAX 0x7fffffffu

struct kernel_entry {
	enum kernel_entry_mode mode;
	uint64_t rip;             /* entry point (guest physical) */
	uint64_t boot_info;       /* LAYOUT_BOOT_PARAMS: zero page or start_info */
	uint64_t start, end;      /* guest physical [start, end) the kernel may
				   * use while booting: keep the initrd out */
	uint32_t initrd_addr_max; /* highest byte the initrd may occupy */
	bool has_setup_header;    /* bzImage: hdr is valid */
	struct setup_header hdr;  /* bzImage header for boot_params, with
				   * code32_start and type_of_loader set */
};

/* Read and parse a kernel file. Returns 0, or a negative errno with one
 * line in err. On success, free with kernel_image_close(). */
int kernel_image_open(const char *path, struct kernel_image *img, char *err, size_t errlen);

/* Turn an opened bzImage into the ELF vmlinux inside its compressed
 * payload, decompressed on the host (bzimage-unpack.h says why), keeping
 * the bzImage's setup header for boot_params. Logs one line either way.
 * Returns 0, or a negative errno with img unchanged: booting it as a
 * bzImage (in-guest decompression) still works. */
int kernel_image_unpack(struct kernel_image *img);

/* Copy the kernel into guest memory and fill *entry. Nothing else in
 * guest memory is touched. Returns 0, or a negative errno with err set. */
int kernel_image_load(const struct kernel_image *img, struct guest_mem *mem, struct kernel_entry *entry,
		      char *err, size_t errlen);

/* Free the file contents; safe to call twice or on a zeroed image. */
void kernel_image_close(struct kernel_image *img);

#endif
