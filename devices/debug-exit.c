/* isa-debug-exit: write a value, the VM stops. */
#include "devices/debug-exit.h"

#include <errno.h>
#include <string.h>

int debug_exit_status(uint32_t value)
{
	return (int)((((uint64_t)value << 1) | 1) & 0xff);
}

static void debug_exit_read(void *opaque, uint64_t offset, uint8_t *data, unsigned len)
{
	memset(data, 0xff, len);
}

/* Like QEMU, the value is whatever was written, at any offset and width
 * (little-endian); only its low 7 bits survive in the status anyway. */
static void debug_exit_write(void *opaque, uint64_t offset, const uint8_t *data, unsigned len)
{
	struct debug_exit *d = opaque;
	uint32_t value = 0;

	for (unsigned i = 0; i < len && i < sizeof(value); i++)
		value |= (uint32_t)data[i] << (8 * i);
	stop_hook_fire(&d->stop, STOP_DEBUG_EXIT, debug_exit_status(value));
}

const struct bus_ops debug_exit_ops = {
	.read = debug_exit_read,
	.write = debug_exit_write,
};

int debug_exit_init(struct debug_exit *d, unsigned width, struct stop_hook stop)
{
	if (width != 1 && width != 2 && width != 4)
		return -EINVAL;
	d->stop = stop;
	d->width = width;
	return 0;
}
