/* The e820 memory map: how skiff tells the guest which physical ranges
 * are RAM. It follows layout.h: low RAM up to the EBDA, a reserved hole
 * up to 1 MiB (EBDA, VGA, ACPI tables, BIOS), RAM up to the 32-bit MMIO
 * hole at 3 GiB, and the rest of RAM moved above 4 GiB. */
#ifndef SKIFF_X86_E820_H
#define SKIFF_X86_E820_H

#include <stdint.h>

/* Range types, as in the ACPI spec (the same values PVH memmaps use). */
enum e820_type {
	E820_TYPE_RAM      = 1,
	E820_TYPE_RESERVED = 2,
	E820_TYPE_ACPI     = 3,
	E820_TYPE_NVS      = 4,
};

struct e820_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type; /* enum e820_type */
};

/* skiff's map never has more than this many entries. */
#define E820_MAX_ENTRIES 4

/* Fill out[0..max) with the map for ram_size bytes of RAM (a multiple
 * of 4 KiB, more than 1 MiB). Returns the number of entries, -EINVAL
 * for a bad ram_size, or -ENOSPC if max is too small. */
int e820_build(uint64_t ram_size, struct e820_entry *out, unsigned max);

/* A guest memory region to back with host memory. The low region
 * starts at 0 and includes the reserved hole below 1 MiB (skiff writes
 * ACPI tables there); the high region, if any, starts at 4 GiB. */
struct e820_ram_region {
	uint64_t gpa;
	uint64_t size;
};

#define E820_MAX_RAM_REGIONS 2

/* Split ram_size into at most E820_MAX_RAM_REGIONS regions. Returns the
 * number of regions (1 or 2) or -EINVAL, like e820_build. */
int e820_split_ram(uint64_t ram_size, struct e820_ram_region out[E820_MAX_RAM_REGIONS]);

#endif
