/* --trace: the filter and the slow path. See trace.h. */
#include "base/trace.h"
#include "base/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *const trace_category_names[TRACE_CATEGORIES] = {
	[TRACE_EXIT] = "exit",
	[TRACE_KICK] = "kick",
	[TRACE_REQUEST] = "request",
	[TRACE_IRQ] = "irq",
	[TRACE_STATUS] = "status",
};

_Atomic unsigned trace_mask;

/* The device names of the filter in force. Read on the slow path only,
 * by any thread that emits; written by trace_set(). */
static pthread_rwlock_t filter_lock = PTHREAD_RWLOCK_INITIALIZER;
static struct trace_filter filter;

static int category_named(const char *name, size_t len)
{
	for (int c = 0; c < TRACE_CATEGORIES; c++)
		if (strlen(trace_category_names[c]) == len && !strncmp(trace_category_names[c], name, len))
			return c;
	return -1;
}

static bool device_name_ok(const char *name, size_t len)
{
	if (len == 0 || len >= TRACE_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char ch = name[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '.'))
			return false;
	}
	return true;
}

int trace_filter_parse(const char *spec, struct trace_filter *f, char *err, size_t errlen)
{
	bool all = false;

	memset(f, 0, sizeof(*f));
	if (!spec || !*spec) {
		err_printf(err, errlen, "empty trace filter (try 'all', or e.g. 'virtio-blk0,irq')");
		return -EINVAL;
	}
	for (const char *p = spec;;) {
		size_t len = strcspn(p, ",");
		int c = category_named(p, len);

		if (len == 3 && !strncmp(p, "all", 3)) {
			all = true;
		} else if (c >= 0) {
			f->categories |= 1u << c;
		} else if (!device_name_ok(p, len)) {
			err_printf(err, errlen, "'%s': '%.*s' is neither a category (exit, kick, request, irq, status, all) nor a device name like virtio-blk0",
				   spec, (int)len, p);
			return -EINVAL;
		} else if (f->nr_devices == TRACE_MAX_DEVICES) {
			err_printf(err, errlen, "'%s': at most %d devices", spec, TRACE_MAX_DEVICES);
			return -EINVAL;
		} else {
			memcpy(f->devices[f->nr_devices], p, len);
			f->devices[f->nr_devices++][len] = '\0';
		}
		if (!p[len])
			break;
		p += len + 1;
	}
	if (all)
		f->categories = TRACE_ALL;
	else if (!f->categories)
		f->categories = TRACE_ALL & ~(1u << TRACE_EXIT); /* exits belong to no device */
	return 0;
}

void trace_filter_describe(const struct trace_filter *f, char *buf, size_t len)
{
	size_t n = 0;

	if (!len)
		return;
	buf[0] = '\0';
	for (int c = 0; c < TRACE_CATEGORIES; c++)
		if (f->categories & (1u << c) && n < len)
			n += snprintf(buf + n, len - n, "%s%s", n ? "," : "", trace_category_names[c]);
	if (n < len)
		n += snprintf(buf + n, len - n, "%s", f->nr_devices ? " of" : " of every device");
	for (unsigned i = 0; i < f->nr_devices && n < len; i++)
		n += snprintf(buf + n, len - n, "%s%s", i ? ", " : " ", f->devices[i]);
}

void trace_set(const struct trace_filter *f)
{
	pthread_rwlock_wrlock(&filter_lock);
	if (f)
		filter = *f;
	else
		memset(&filter, 0, sizeof(filter));
	atomic_store_explicit(&trace_mask, filter.categories, memory_order_relaxed);
	pthread_rwlock_unlock(&filter_lock);
}

static bool device_selected(const char *device)
{
	bool selected = !device || filter.nr_devices == 0;

	for (unsigned i = 0; i < filter.nr_devices && !selected; i++)
		selected = !strcmp(filter.devices[i], device);
	return selected;
}

void trace_emit(enum trace_category c, const char *device, const char *fmt, ...)
{
	va_list ap;

	pthread_rwlock_rdlock(&filter_lock);
	/* The mask may have changed since the caller's check. */
	bool selected = (filter.categories & (1u << c)) && device_selected(device);
	pthread_rwlock_unlock(&filter_lock);
	if (!selected)
		return;
	va_start(ap, fmt);
	log_vtagged("trace", device, fmt, ap);
	va_end(ap);
}
