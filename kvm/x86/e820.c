/* e820 map and RAM split for skiff's x86 layout. Both are derived from
 * the same two numbers (RAM below the MMIO hole, RAM above 4 GiB), so
 * the map the guest sees always matches the memory KVM was given. */
#include "kvm/x86/e820.h"

#include <errno.h>

#include "kvm/x86/layout.h"

/* RAM that fits below the 32-bit MMIO hole, and what spills above 4 GiB. */
static int ram_split_sizes(uint64_t ram_size, uint64_t *low, uint64_t *high)
{
	/* At least something above 1 MiB, page-granular (KVM memslots are). */
	if (ram_size <= LAYOUT_HIGH_RAM || ram_size % 4096)
		return -EINVAL;
	*low = ram_size < LAYOUT_MMIO_HOLE ? ram_size : LAYOUT_MMIO_HOLE;
	*high = ram_size - *low;
	/* The high part must not wrap past the top of the address space. */
	if (*high > UINT64_MAX - LAYOUT_4G)
		return -EINVAL;
	return 0;
}

static int add_entry(struct e820_entry *out, unsigned max, unsigned *n, uint64_t addr, uint64_t size,
		     enum e820_type type)
{
	if (*n >= max)
		return -ENOSPC;
	out[*n] = (struct e820_entry){ .addr = addr, .size = size, .type = type };
	(*n)++;
	return 0;
}

int e820_build(uint64_t ram_size, struct e820_entry *out, unsigned max)
{
	uint64_t low, high;
	unsigned n = 0;
	int ret;

	ret = ram_split_sizes(ram_size, &low, &high);
	if (ret)
		return ret;
	ret = add_entry(out, max, &n, 0, LAYOUT_EBDA, E820_TYPE_RAM);
	if (!ret)
		ret = add_entry(out, max, &n, LAYOUT_EBDA, LAYOUT_HIGH_RAM - LAYOUT_EBDA, E820_TYPE_RESERVED);
	if (!ret)
		ret = add_entry(out, max, &n, LAYOUT_HIGH_RAM, low - LAYOUT_HIGH_RAM, E820_TYPE_RAM);
	if (!ret && high)
		ret = add_entry(out, max, &n, LAYOUT_4G, high, E820_TYPE_RAM);
	return ret ? ret : (int)n;
}

int e820_split_ram(uint64_t ram_size, struct e820_ram_region out[E820_MAX_RAM_REGIONS])
{
	uint64_t low, high;
	int ret;

	ret = ram_split_sizes(ram_size, &low, &high);
	if (ret)
		return ret;
	out[0] = (struct e820_ram_region){ .gpa = 0, .size = low };
	if (!high)
		return 1;
	out[1] = (struct e820_ram_region){ .gpa = LAYOUT_4G, .size = high };
	return 2;
}
