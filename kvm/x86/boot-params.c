/* Building the boot information the kernel reads at entry. Structures
 * are assembled in host memory, then copied into the guest with
 * guest_mem_write(), which fails (rather than writes outside RAM) when a
 * range is not wholly guest RAM. */
#include "kvm/x86/boot-params.h"
#include "base/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "kvm/x86/e820.h"
#include "kvm/x86/layout.h"

/* The zero page layout is ABI (Documentation/x86/zero-page.rst). */
_Static_assert(sizeof(struct boot_params) == 4096, "boot_params is one page");
_Static_assert(offsetof(struct boot_params, acpi_rsdp_addr) == 0x070, "acpi_rsdp_addr offset");
_Static_assert(offsetof(struct boot_params, ext_ramdisk_image) == 0x0c0, "ext_ramdisk_image offset");
_Static_assert(offsetof(struct boot_params, ext_ramdisk_size) == 0x0c4, "ext_ramdisk_size offset");
_Static_assert(offsetof(struct boot_params, ext_cmd_line_ptr) == 0x0c8, "ext_cmd_line_ptr offset");
_Static_assert(offsetof(struct boot_params, e820_entries) == 0x1e8, "e820_entries offset");
_Static_assert(offsetof(struct boot_params, hdr) == 0x1f1, "hdr offset");
_Static_assert(offsetof(struct boot_params, hdr.ramdisk_image) == 0x218, "ramdisk_image offset");
_Static_assert(offsetof(struct boot_params, hdr.cmd_line_ptr) == 0x228, "cmd_line_ptr offset");
_Static_assert(offsetof(struct boot_params, hdr.setup_data) == 0x250, "setup_data offset");
_Static_assert(offsetof(struct boot_params, e820_table) == 0x2d0, "e820_table offset");
_Static_assert(sizeof(struct boot_e820_entry) == 20, "boot_e820_entry size");
_Static_assert(sizeof(struct setup_data) == 16, "setup_data header size");

/* PVH start info layout, from start_info.h. */
_Static_assert(offsetof(struct hvm_start_info, modlist_paddr) == 16, "modlist_paddr offset");
_Static_assert(offsetof(struct hvm_start_info, rsdp_paddr) == 32, "rsdp_paddr offset");
_Static_assert(offsetof(struct hvm_start_info, memmap_paddr) == 40, "memmap_paddr offset");
_Static_assert(offsetof(struct hvm_start_info, memmap_entries) == 48, "memmap_entries offset");
_Static_assert(sizeof(struct hvm_start_info) == 56, "hvm_start_info size");
_Static_assert(sizeof(struct hvm_modlist_entry) == 32, "hvm_modlist_entry size");
_Static_assert(sizeof(struct hvm_memmap_table_entry) == 24, "hvm_memmap_table_entry size");
_Static_assert(PVH_MODLIST_OFFSET >= sizeof(struct hvm_start_info), "modlist after start_info");
_Static_assert(PVH_MEMMAP_OFFSET >= PVH_MODLIST_OFFSET + sizeof(struct hvm_modlist_entry), "memmap after modlist");
_Static_assert(PVH_MEMMAP_OFFSET + E820_MAX_ENTRIES * sizeof(struct hvm_memmap_table_entry) <= 0x1000,
	       "PVH structures fit in the boot page");

/* The setup_data area must not overlap anything layout.h places. */
_Static_assert(BOOT_SETUP_DATA >= LAYOUT_CMDLINE + LAYOUT_CMDLINE_MAX, "setup_data above the command line");
_Static_assert(BOOT_SETUP_DATA + BOOT_SETUP_DATA_SIZE <= LAYOUT_EBDA, "setup_data below the EBDA");

void boot_params_default_header(struct setup_header *hdr)
{
	memset(hdr, 0, sizeof(*hdr));
	hdr->boot_flag = 0xaa55;
	hdr->header = 0x53726448; /* "HdrS" */
	hdr->version = 0x020f;
	hdr->vid_mode = 0xffff;   /* "normal" text mode */
	hdr->type_of_loader = 0xff;
	hdr->loadflags = LOADED_HIGH;
	hdr->initrd_addr_max = 0x7fffffff;
	hdr->kernel_alignment = 0x200000;
	hdr->cmdline_size = BOOT_DEFAULT_CMDLINE_SIZE;
}

/* Copy the command line (and its NUL) to LAYOUT_CMDLINE. max is the
 * longest line the kernel accepts, without the NUL. */
static int cmdline_write(struct guest_mem *mem, const char *cmdline, uint32_t max, char *err, size_t errlen)
{
	const char *line = cmdline ? cmdline : "";
	size_t len = strlen(line);

	if (max > LAYOUT_CMDLINE_MAX - 1)
		max = LAYOUT_CMDLINE_MAX - 1;
	if (len > max) {
		err_printf(err, errlen, "kernel command line is %zu bytes; this kernel accepts at most %u", len, max);
		return -E2BIG;
	}
	if (!guest_mem_write(mem, LAYOUT_CMDLINE, line, len + 1)) {
		err_printf(err, errlen, "command line area at 0x%llx is not in guest RAM", LAYOUT_CMDLINE);
		return -EFAULT;
	}
	return 0;
}

/* The initrd must already be loaded, so it must lie in guest RAM. */
static int initrd_check(const struct guest_mem *mem, const struct boot_config *cfg, char *err, size_t errlen)
{
	if (cfg->initrd_size && !guest_mem_ptr(mem, cfg->initrd_addr, cfg->initrd_size)) {
		err_printf(err, errlen, "initrd [0x%llx, +0x%llx) is not in guest RAM", (unsigned long long)cfg->initrd_addr,
			(unsigned long long)cfg->initrd_size);
		return -EINVAL;
	}
	return 0;
}

static int e820_for(const struct boot_config *cfg, struct e820_entry *map, char *err, size_t errlen)
{
	int n = e820_build(cfg->ram_size, map, E820_MAX_ENTRIES);

	if (n < 0)
		err_printf(err, errlen, "cannot build an e820 map for %llu bytes of RAM", (unsigned long long)cfg->ram_size);
	return n;
}

/* What both boot protocols give the kernel alike: the command line
 * (written), the initrd (already loaded: checked) and the e820 map (built
 * into map). Returns the map's entries, or -errno with err set. */
static int common_inputs(struct guest_mem *mem, const struct boot_config *cfg, uint32_t cmdline_max,
			 struct e820_entry *map, char *err, size_t errlen)
{
	int ret = cmdline_write(mem, cfg->cmdline, cmdline_max, err, errlen);
	if (ret)
		return ret;
	ret = initrd_check(mem, cfg, err, errlen);
	if (ret)
		return ret;
	return e820_for(cfg, map, err, errlen);
}

/* Lay the blobs out back to back from BOOT_SETUP_DATA, each a struct
 * setup_data header followed by its data, 8-byte aligned, linked by
 * guest physical address. Returns the first address in *head (0 if none). */
static int setup_data_write(struct guest_mem *mem, const struct boot_config *cfg, uint64_t *head, char *err,
			    size_t errlen)
{
	uint64_t addr = BOOT_SETUP_DATA;
	const uint64_t end = BOOT_SETUP_DATA + BOOT_SETUP_DATA_SIZE;

	*head = 0;
	for (unsigned i = 0; i < cfg->nr_setup_data; i++) {
		const struct boot_setup_data *blob = &cfg->setup_data[i];
		uint64_t size = sizeof(struct setup_data) + (uint64_t)blob->len;
		uint64_t next = (addr + size + 7) & ~7ULL; /* addr < end and len is 32-bit: no overflow */

		if (size > end - addr) {
			err_printf(err, errlen, "setup_data blob %u (%u bytes) does not fit in the %llu KiB area at 0x%llx", i,
				blob->len, BOOT_SETUP_DATA_SIZE >> 10, BOOT_SETUP_DATA);
			return -ENOSPC;
		}
		if (blob->len && !blob->data) {
			err_printf(err, errlen, "setup_data blob %u has no data", i);
			return -EINVAL;
		}
		struct setup_data sd = {
			.next = (i + 1 < cfg->nr_setup_data) ? next : 0,
			.type = blob->type,
			.len = blob->len,
		};
		if (!guest_mem_write(mem, addr, &sd, sizeof(sd)) ||
		    !guest_mem_write(mem, addr + sizeof(sd), blob->data ? blob->data : "", blob->len)) {
			err_printf(err, errlen, "setup_data area at 0x%llx is not in guest RAM", (unsigned long long)addr);
			return -EFAULT;
		}
		if (i == 0)
			*head = addr;
		addr = next;
		/* A following blob starting at or past the end fails its size check. */
		if (addr > end)
			addr = end;
	}
	return 0;
}

int boot_params_build(struct guest_mem *mem, const struct boot_config *cfg, char *err, size_t errlen)
{
	struct boot_params bp;
	struct e820_entry map[E820_MAX_ENTRIES];
	uint64_t setup_data_head;
	int n, ret;

	/* Start from a clean page: only the header comes from the kernel. */
	memset(&bp, 0, sizeof(bp));
	if (cfg->hdr)
		bp.hdr = *cfg->hdr;
	else
		boot_params_default_header(&bp.hdr);

	n = common_inputs(mem, cfg, bp.hdr.cmdline_size, map, err, errlen);
	if (n < 0)
		return n;
	ret = setup_data_write(mem, cfg, &setup_data_head, err, errlen);
	if (ret)
		return ret;

	bp.hdr.type_of_loader = 0xff;
	bp.hdr.cmd_line_ptr = (uint32_t)LAYOUT_CMDLINE;
	bp.ext_cmd_line_ptr = 0;
	if (cfg->initrd_size) {
		/* Low 32 bits in the header, high bits in the ext_ fields. */
		bp.hdr.ramdisk_image = (uint32_t)cfg->initrd_addr;
		bp.ext_ramdisk_image = (uint32_t)(cfg->initrd_addr >> 32);
		bp.hdr.ramdisk_size = (uint32_t)cfg->initrd_size;
		bp.ext_ramdisk_size = (uint32_t)(cfg->initrd_size >> 32);
	} else {
		bp.hdr.ramdisk_image = 0; /* the kernel's header may carry junk here */
		bp.hdr.ramdisk_size = 0;
	}
	bp.hdr.hardware_subarch = X86_SUBARCH_PC;
	bp.hdr.hardware_subarch_data = 0;
	bp.hdr.setup_data = setup_data_head;
	bp.acpi_rsdp_addr = cfg->rsdp_addr; /* protocol 2.14; older kernels scan 0xe0000 */

	bp.e820_entries = (uint8_t)n;
	for (int i = 0; i < n; i++) {
		bp.e820_table[i].addr = map[i].addr;
		bp.e820_table[i].size = map[i].size;
		bp.e820_table[i].type = map[i].type;
	}

	if (!guest_mem_write(mem, LAYOUT_BOOT_PARAMS, &bp, sizeof(bp))) {
		err_printf(err, errlen, "boot_params page at 0x%llx is not in guest RAM", LAYOUT_BOOT_PARAMS);
		return -EFAULT;
	}
	return 0;
}

int initrd_place(uint64_t ram_low_end, uint64_t initrd_addr_max, uint64_t initrd_size, uint64_t kernel_end,
		 uint64_t *addr, char *err, size_t errlen)
{
	const uint64_t page = 4096;
	uint64_t limit = ram_low_end;
	uint64_t floor = kernel_end > LAYOUT_HIGH_RAM ? kernel_end : LAYOUT_HIGH_RAM;

	if (initrd_size == 0) {
		err_printf(err, errlen, "initrd is empty");
		return -EINVAL;
	}
	/* initrd_addr_max is the highest usable byte, hence the + 1. */
	if (initrd_addr_max < UINT64_MAX && initrd_addr_max + 1 < limit)
		limit = initrd_addr_max + 1;
	/* Round the floor up to a page; a floor near 2^64 simply never fits. */
	floor = floor > UINT64_MAX - (page - 1) ? UINT64_MAX & ~(page - 1) : (floor + page - 1) & ~(page - 1);

	if (initrd_size > limit || ((limit - initrd_size) & ~(page - 1)) < floor) {
		err_printf(err, errlen, "initrd (%llu MiB) does not fit below 0x%llx above the kernel (ends 0x%llx); use --mem larger",
			(unsigned long long)((initrd_size + (1 << 20) - 1) >> 20), (unsigned long long)limit,
			(unsigned long long)kernel_end);
		return -ENOMEM;
	}
	*addr = (limit - initrd_size) & ~(page - 1);
	return 0;
}

int pvh_start_info_build(struct guest_mem *mem, const struct boot_config *cfg, char *err, size_t errlen)
{
	const uint64_t base = LAYOUT_BOOT_PARAMS;
	struct hvm_start_info si;
	struct hvm_modlist_entry mod;
	struct hvm_memmap_table_entry memmap[E820_MAX_ENTRIES];
	struct e820_entry map[E820_MAX_ENTRIES];
	int n;

	n = common_inputs(mem, cfg, BOOT_DEFAULT_CMDLINE_SIZE, map, err, errlen);
	if (n < 0)
		return n;

	memset(memmap, 0, sizeof(memmap));
	for (int i = 0; i < n; i++) {
		memmap[i].addr = map[i].addr;
		memmap[i].size = map[i].size;
		memmap[i].type = map[i].type; /* e820 and PVH share type values */
	}
	memset(&mod, 0, sizeof(mod));
	mod.paddr = cfg->initrd_addr;
	mod.size = cfg->initrd_size;

	memset(&si, 0, sizeof(si));
	si.magic = HVM_START_MAGIC;
	si.version = 1;
	si.nr_modules = cfg->initrd_size ? 1 : 0;
	si.modlist_paddr = cfg->initrd_size ? base + PVH_MODLIST_OFFSET : 0;
	si.cmdline_paddr = LAYOUT_CMDLINE;
	si.rsdp_paddr = cfg->rsdp_addr;
	si.memmap_paddr = base + PVH_MEMMAP_OFFSET;
	si.memmap_entries = (uint32_t)n;

	if (!guest_mem_write(mem, base + PVH_START_INFO_OFFSET, &si, sizeof(si)) ||
	    !guest_mem_write(mem, base + PVH_MODLIST_OFFSET, &mod, sizeof(mod)) ||
	    !guest_mem_write(mem, base + PVH_MEMMAP_OFFSET, memmap, (uint64_t)n * sizeof(memmap[0]))) {
		err_printf(err, errlen, "PVH start info page at 0x%llx is not in guest RAM",
			(unsigned long long)base);
		return -EFAULT;
	}
	return 0;
}
