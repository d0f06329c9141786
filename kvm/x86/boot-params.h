/* What the guest kernel finds in memory at entry: the Linux "zero page"
 * (struct boot_params) for the 64-bit boot protocol, or struct
 * hvm_start_info for PVH, plus the command line and setup_data.
 *
 * Where things go (see also layout.h):
 *   LAYOUT_BOOT_PARAMS  0x7000   boot_params (4 KiB), or for PVH:
 *                       0x7000   hvm_start_info (56 bytes)
 *                       0x7040   hvm_modlist_entry[1] (the initrd)
 *                       0x7080   hvm_memmap_table_entry[], to 0x8000
 *   LAYOUT_CMDLINE      0x20000  command line, NUL-terminated
 *   BOOT_SETUP_DATA     0x30000  setup_data list, up to 256 KiB, ending
 *                                well below the EBDA at 0x9fc00. It is
 *                                e820 RAM: Linux reserves setup_data
 *                                itself before using that memory.
 *
 * Register state at entry (set up by the vCPU code, not here):
 *   64-bit boot protocol: long mode, paging on with an identity map of
 *     the kernel, zero page and command line; GDT with flat __BOOT_CS
 *     (0x10, execute/read) and __BOOT_DS (0x18, read/write); CS=0x10,
 *     DS=ES=SS=0x18; interrupts off; RSI = LAYOUT_BOOT_PARAMS.
 *   PVH (32-bit): protected mode (CR0.PE=1, all other writable CR0 bits
 *     and CR4 clear, so paging off); CS a flat 32-bit execute/read
 *     segment, DS/ES flat 32-bit read/write, base 0 limit 4 GiB; a
 *     32-bit TSS; EFLAGS.IF/TF/VM clear; EBX = start_info address;
 *     EIP = the PVH entry from the ELF note. */
#ifndef SKIFF_X86_BOOT_PARAMS_H
#define SKIFF_X86_BOOT_PARAMS_H

#include <stddef.h>
#include <stdint.h>

#include <asm/bootparam.h>

#include "base/guest-mem.h"

#define BOOT_SETUP_DATA      0x30000ULL
#define BOOT_SETUP_DATA_SIZE 0x40000ULL

/* Kernels without a setup header (ELF) get x86's COMMAND_LINE_SIZE - 1. */
#define BOOT_DEFAULT_CMDLINE_SIZE 2047u

/* PVH structures inside the LAYOUT_BOOT_PARAMS page. */
#define PVH_START_INFO_OFFSET 0x0
#define PVH_MODLIST_OFFSET    0x40
#define PVH_MEMMAP_OFFSET     0x80

/* One setup_data blob (e.g. SETUP_DTB with a device tree). */
struct boot_setup_data {
	uint32_t type;       /* SETUP_* from <asm/bootparam.h> */
	const void *data;
	uint32_t len;
};

struct boot_config {
	const struct setup_header *hdr; /* bzImage header, NULL to synthesize one (ELF) */
	const char *cmdline;            /* NULL means empty */
	uint64_t ram_size;              /* total guest RAM, as given to e820_build */
	uint64_t initrd_addr;           /* guest physical, already loaded */
	uint64_t initrd_size;           /* 0: no initrd */
	uint64_t rsdp_addr;             /* ACPI RSDP, 0: none */
	const struct boot_setup_data *setup_data; /* boot_params only */
	unsigned nr_setup_data;
};

/* Write the zero page at LAYOUT_BOOT_PARAMS, the command line at
 * LAYOUT_CMDLINE and any setup_data at BOOT_SETUP_DATA. Returns 0, or a
 * negative errno with one line in err (e.g. -E2BIG for a command line
 * longer than the kernel's cmdline_size). */
int boot_params_build(struct guest_mem *mem, const struct boot_config *cfg, char *err, size_t errlen);

/* Fill *hdr with the header a bzImage would carry, for kernels that have
 * none (ELF vmlinux): protocol 2.15, LOADED_HIGH, default limits. */
void boot_params_default_header(struct setup_header *hdr);

/* Choose the initrd address: the highest 4 KiB-aligned address where
 * initrd_size bytes end at or below min(initrd_addr_max + 1, ram_low_end)
 * and start at or above kernel_end (and 1 MiB). Returns 0 and *addr, or
 * -ENOMEM with one line in err. */
int initrd_place(uint64_t ram_low_end, uint64_t initrd_addr_max, uint64_t initrd_size, uint64_t kernel_end,
		 uint64_t *addr, char *err, size_t errlen);

/* PVH boot information (xen/interface/hvm/start_info.h, version 1). */
#define HVM_START_MAGIC 0x336ec578

struct hvm_start_info {
	uint32_t magic;
	uint32_t version;
	uint32_t flags;
	uint32_t nr_modules;
	uint64_t modlist_paddr;
	uint64_t cmdline_paddr;
	uint64_t rsdp_paddr;
	uint64_t memmap_paddr;   /* version 1 */
	uint32_t memmap_entries; /* version 1 */
	uint32_t reserved;
};

struct hvm_modlist_entry {
	uint64_t paddr;
	uint64_t size;
	uint64_t cmdline_paddr;
	uint64_t reserved;
};

struct hvm_memmap_table_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type; /* e820 type values */
	uint32_t reserved;
};

/* Write hvm_start_info, its module list (the initrd) and memory map at
 * LAYOUT_BOOT_PARAMS, and the command line at LAYOUT_CMDLINE. cfg->hdr
 * and cfg->setup_data are ignored. Returns 0 or a negative errno. */
int pvh_start_info_build(struct guest_mem *mem, const struct boot_config *cfg, char *err, size_t errlen);

#endif
