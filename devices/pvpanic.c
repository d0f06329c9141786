/* pvpanic: the guest's "I panicked" doorbell. Event bits as in Linux's
 * include/uapi/misc/pvpanic.h, written by drivers/misc/pvpanic/pvpanic.c. */
#include "devices/pvpanic.h"

#include <string.h>

#include "base/log.h"

#define LOG_NAME "pvpanic"
#define PVPANIC_EVENTS (PVPANIC_PANICKED | PVPANIC_CRASH_LOADED)

/* One register at offset 0; other byte lanes of a wide access read 0xff
 * and are ignored on write. */
static void pvpanic_read(void *opaque, uint64_t offset, uint8_t *data, unsigned len)
{
	memset(data, 0xff, len);
	if (offset == 0)
		data[0] = PVPANIC_EVENTS;
}

static void pvpanic_write(void *opaque, uint64_t offset, const uint8_t *data, unsigned len)
{
	struct pvpanic *p = opaque;
	uint8_t events;

	if (offset != 0)
		return;
	events = data[0];
	if (events & PVPANIC_PANICKED) {
		log_debug(LOG_NAME, "guest kernel panicked");
		stop_hook_fire(&p->stop, STOP_PANIC, 0);
	} else if (events & PVPANIC_CRASH_LOADED) {
		log_limited(&p->log_crash_loaded, LOG_INFO, LOG_NAME, "guest kernel panicked; its crash kernel takes over");
	}
}

const struct bus_ops pvpanic_ops = {
	.read = pvpanic_read,
	.write = pvpanic_write,
};

void pvpanic_init(struct pvpanic *p, struct stop_hook stop)
{
	memset(p, 0, sizeof(*p));
	p->stop = stop;
}
