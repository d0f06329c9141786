/* Guest physical memory as the VMM sees it: a few regions of host memory.
 * Every access by guest physical address goes through guest_mem_ptr(),
 * which checks the whole range [gpa, gpa+len) with overflow-safe
 * arithmetic and never returns memory outside guest RAM. */
#ifndef SKIFF_GUEST_MEM_H
#define SKIFF_GUEST_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GUEST_MEM_MAX_REGIONS 2

struct guest_region {
	uint64_t gpa;   /* guest physical start */
	uint64_t size;  /* bytes */
	uint8_t *host;  /* host mapping of the region */
};

struct guest_mem {
	struct guest_region region[GUEST_MEM_MAX_REGIONS];
	unsigned nr_regions;
};

/* Host pointer for [gpa, gpa+len) if it lies wholly in one region, else NULL. */
static inline void *guest_mem_ptr(const struct guest_mem *mem, uint64_t gpa, uint64_t len)
{
	for (unsigned i = 0; i < mem->nr_regions; i++) {
		const struct guest_region *r = &mem->region[i];
		if (gpa < r->gpa)
			continue;
		uint64_t off = gpa - r->gpa;
		if (off > r->size || len > r->size - off)
			continue;
		return r->host + off;
	}
	return NULL;
}

/* Copy helpers: return false (and copy nothing) if the range is not RAM. */
static inline bool guest_mem_read(const struct guest_mem *mem, uint64_t gpa, void *dst, uint64_t len)
{
	void *p = guest_mem_ptr(mem, gpa, len);
	if (!p)
		return false;
	__builtin_memcpy(dst, p, len);
	return true;
}

static inline bool guest_mem_write(const struct guest_mem *mem, uint64_t gpa, const void *src, uint64_t len)
{
	void *p = guest_mem_ptr(mem, gpa, len);
	if (!p)
		return false;
	__builtin_memcpy(p, src, len);
	return true;
}

#endif
