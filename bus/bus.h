/* Address-space dispatch: a guest access to a port (PIO) or a physical
 * address (MMIO) that KVM hands back to us is routed to the device that
 * registered the range. Ranges are registered at start-up (and, for PCI
 * BARs, re-registered when the guest moves them), looked up on every exit. */
#ifndef SKIFF_BUS_H
#define SKIFF_BUS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

/* A device's handlers. offset is relative to the registered base; len is
 * 1, 2, 4 or 8; data is little-endian guest data. Reads of unclaimed bytes
 * must fill data (the bus pre-fills it with 0xff). */
struct bus_ops {
	void (*read)(void *opaque, uint64_t offset, uint8_t *data, unsigned len);
	void (*write)(void *opaque, uint64_t offset, const uint8_t *data, unsigned len);
};

struct bus_range {
	uint64_t base, len;
	const struct bus_ops *ops;
	void *opaque;
	const char *name;
};

#define BUS_MAX_RANGES 128

struct bus {
	const char *name; /* "pio" or "mmio" */
	pthread_rwlock_t lock;
	unsigned nr_ranges;
	struct bus_range range[BUS_MAX_RANGES]; /* sorted by base, non-overlapping */
};

/* Register values travel as little-endian byte arrays (data above). */
static inline uint64_t bus_load_le(const uint8_t *data, unsigned len)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < len && i < 8; i++)
		v |= (uint64_t)data[i] << (8 * i);
	return v;
}

static inline void bus_store_le(uint8_t *data, unsigned len, uint64_t v)
{
	for (unsigned i = 0; i < len && i < 8; i++)
		data[i] = v >> (8 * i);
}

void bus_init(struct bus *bus, const char *name);
/* 0, or -EEXIST if [base, base+len) overlaps a registered range, -ENOSPC when full, -EINVAL for len 0/overflow. */
__attribute__((warn_unused_result)) int bus_register(struct bus *bus, uint64_t base, uint64_t len,
						       const struct bus_ops *ops, void *opaque, const char *name);
int bus_unregister(struct bus *bus, uint64_t base);
/* true if a device claimed the access. Unclaimed reads return all-ones. */
bool bus_dispatch(struct bus *bus, uint64_t addr, uint8_t *data, unsigned len, bool is_write);

#endif
