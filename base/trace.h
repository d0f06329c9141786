/* --trace: one line per event, for people learning how a VMM works and
 * for debugging a driver. Events come in categories (a guest exit, a
 * queue kick, a request popped or completed, an interrupt, a status
 * change) and, except exits, belong to a device ("virtio-blk0").
 *
 * Free when off: every trace point is one relaxed atomic load of a
 * global mask and a branch predicted not taken; only an enabled
 * category formats anything (trace.c). Lines go through base/log.c as
 * one write() each, so threads never interleave mid-line. */
#ifndef SKIFF_TRACE_H
#define SKIFF_TRACE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

enum trace_category {
	TRACE_EXIT,    /* a guest port/MMIO access that left KVM_RUN (vCPU, no device) */
	TRACE_KICK,    /* the driver notified a queue */
	TRACE_REQUEST, /* a request popped from / completed into a queue */
	TRACE_IRQ,     /* an interrupt raised: MSI-X vector or line */
	TRACE_STATUS,  /* device status changed, reset, needs-reset */
	TRACE_CATEGORIES
};

#define TRACE_ALL ((1u << TRACE_CATEGORIES) - 1)
#define TRACE_MAX_DEVICES 8
#define TRACE_NAME_MAX 32

/* What --trace=SPEC or `ctl trace on SPEC` asked for. */
struct trace_filter {
	unsigned categories; /* bit per enum trace_category */
	unsigned nr_devices; /* 0: every device */
	char devices[TRACE_MAX_DEVICES][TRACE_NAME_MAX];
};

extern const char *const trace_category_names[TRACE_CATEGORIES];

/* The categories being traced now; 0 when tracing is off. */
extern _Atomic unsigned trace_mask;

static inline bool trace_on(enum trace_category c)
{
	return __builtin_expect((atomic_load_explicit(&trace_mask, memory_order_relaxed) >> c) & 1, 0);
}

/* Comma-separated categories and device names, or "all". Naming only
 * devices selects all their events but exits (which belong to no device);
 * naming only categories selects them for every device. 0, or -EINVAL with
 * a one-line reason in err. */
int trace_filter_parse(const char *spec, struct trace_filter *f, char *err, size_t errlen);
/* "exit,irq virtio-blk0": what f selects, for messages and `ctl`. */
void trace_filter_describe(const struct trace_filter *f, char *buf, size_t len);

/* Start tracing what f selects (replacing any earlier filter), or stop
 * (f NULL). Any thread, at any time. */
void trace_set(const struct trace_filter *f);

/* Log one event if device passes the filter (device may be NULL). Call
 * through TRACE(), which checks the category first. */
void trace_emit(enum trace_category c, const char *device, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#define TRACE(cat, device, ...)                              \
	do {                                                 \
		if (trace_on(cat))                           \
			trace_emit(cat, device, __VA_ARGS__); \
	} while (0)

#endif
