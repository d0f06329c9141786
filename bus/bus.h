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

/* The ISA bus splits a wider access to 8-bit registers into byte accesses
 * to consecutive ports (so a 16-bit write to an index port also writes
 * the data port after it). Port offset + i goes to the callback while it
 * is below nr_ports; beyond, reads return 0xff and writes are dropped. */
static inline void bus_isa_split_read(uint64_t offset, uint8_t *data, unsigned len, uint64_t nr_ports,
				      uint8_t (*read_port)(void *opaque, unsigned port), void *opaque)
{
	for (unsigned i = 0; i < len; i++) {
		uint64_t port = offset + i;

		data[i] = port < nr_ports ? read_port(opaque, (unsigned)port) : 0xff;
	}
}

static inline void bus_isa_split_write(uint64_t offset, const uint8_t *data, unsigned len, uint64_t nr_ports,
				       void (*write_port)(void *opaque, unsigned port, uint8_t v), void *opaque)
{
	for (unsigned i = 0; i < len; i++) {
		uint64_t port = offset + i;

		if (port < nr_ports)
			write_port(opaque, (unsigned)port, data[i]);
	}
}

void bus_init(struct bus *bus, const char *name);
/* 0, or -EEXIST if [base, base+len) overlaps a registered range, -ENOSPC when full, -EINVAL for len 0/overflow. */
__attribute__((warn_unused_result)) int bus_register(struct bus *bus, uint64_t base, uint64_t len,
						       const struct bus_ops *ops, void *opaque, const char *name);
int bus_unregister(struct bus *bus, uint64_t base);
/* true if a device claimed the access. Unclaimed reads return all-ones. */
bool bus_dispatch(struct bus *bus, uint64_t addr, uint8_t *data, unsigned len, bool is_write);

#endif
