/* What a device model may ask of the machine around it, as callbacks the
 * machine hands in. Devices never name the VM, the vCPUs or a transport. */
#ifndef SKIFF_DEVICE_HOOKS_H
#define SKIFF_DEVICE_HOOKS_H

/* An interrupt line (edge or level: set(ctx, 1) then set(ctx, 0) is a pulse). */
struct irq_line {
	void (*set)(void *ctx, int level);
	void *ctx;
};

static inline void irq_line_set(const struct irq_line *irq, int level)
{
	if (irq->set)
		irq->set(irq->ctx, level);
}

/* Why the machine stops; the machine maps this to skiff's exit status. */
enum stop_reason {
	STOP_POWEROFF,     /* ACPI S5 from the guest */
	STOP_RESET,        /* reset request (i8042 pulse, triple fault handled as reset) */
	STOP_DEBUG_EXIT,   /* guest chose the status via the debug-exit port */
	STOP_PANIC,        /* guest kernel reported a panic (pvpanic) */
	STOP_TRIPLE_FAULT, /* KVM_EXIT_SHUTDOWN */
	STOP_GUEST_ERROR,  /* vCPU could not continue (unemulatable instruction, internal error) */
	STOP_SIGNAL,       /* SIGTERM/SIGINT/SIGHUP to skiff, or Ctrl-A x */
};

struct stop_hook {
	void (*stop)(void *ctx, enum stop_reason why, int status);
	void *ctx;
};

static inline void stop_hook_fire(const struct stop_hook *h, enum stop_reason why, int status)
{
	if (h->stop)
		h->stop(h->ctx, why, status);
}

#endif
