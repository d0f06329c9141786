/* Address-space dispatch for PIO and MMIO exits. See bus.h. */
#include "bus/bus.h"

#include <errno.h>
#include <string.h>

void bus_init(struct bus *bus, const char *name)
{
	memset(bus, 0, sizeof(*bus));
	bus->name = name;
	pthread_rwlock_init(&bus->lock, NULL);
}

/* Index of the first range whose end lies above addr (ranges are sorted). */
static unsigned bus_lower_bound(const struct bus *bus, uint64_t addr)
{
	unsigned lo = 0, hi = bus->nr_ranges;

	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;
		const struct bus_range *r = &bus->range[mid];
		if (r->base + r->len <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int bus_register(struct bus *bus, uint64_t base, uint64_t len, const struct bus_ops *ops, void *opaque,
		 const char *name)
{
	int ret = 0;

	if (len == 0 || base + len < base)
		return -EINVAL;
	pthread_rwlock_wrlock(&bus->lock);
	unsigned i = bus_lower_bound(bus, base);
	if (i < bus->nr_ranges && bus->range[i].base < base + len) {
		ret = -EEXIST;
	} else if (bus->nr_ranges == BUS_MAX_RANGES) {
		ret = -ENOSPC;
	} else {
		memmove(&bus->range[i + 1], &bus->range[i], (bus->nr_ranges - i) * sizeof(bus->range[0]));
		bus->range[i] = (struct bus_range){ .base = base, .len = len, .ops = ops, .opaque = opaque, .name = name };
		bus->nr_ranges++;
	}
	pthread_rwlock_unlock(&bus->lock);
	return ret;
}

int bus_unregister(struct bus *bus, uint64_t base)
{
	int ret = -ENOENT;

	pthread_rwlock_wrlock(&bus->lock);
	unsigned i = bus_lower_bound(bus, base);
	if (i < bus->nr_ranges && bus->range[i].base == base) {
		memmove(&bus->range[i], &bus->range[i + 1], (bus->nr_ranges - i - 1) * sizeof(bus->range[0]));
		bus->nr_ranges--;
		ret = 0;
	}
	pthread_rwlock_unlock(&bus->lock);
	return ret;
}

bool bus_dispatch(struct bus *bus, uint64_t addr, uint8_t *data, unsigned len, bool is_write)
{
	bool claimed = false;

	if (!is_write)
		memset(data, 0xff, len);
	pthread_rwlock_rdlock(&bus->lock);
	unsigned i = bus_lower_bound(bus, addr);
	if (i < bus->nr_ranges) {
		const struct bus_range *r = &bus->range[i];
		/* The access must fall wholly inside one device's range. */
		if (addr >= r->base && len <= r->len && addr - r->base <= r->len - len) {
			if (is_write) {
				if (r->ops->write)
					r->ops->write(r->opaque, addr - r->base, data, len);
			} else if (r->ops->read) {
				r->ops->read(r->opaque, addr - r->base, data, len);
			}
			claimed = true;
		}
	}
	pthread_rwlock_unlock(&bus->lock);
	return claimed;
}
