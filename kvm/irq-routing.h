/* Interrupts and notifications that bypass the VMM's threads:
 *  - ioeventfd: a guest write to an address/port signals an eventfd
 *    inside the host kernel, without an exit to skiff;
 *  - MSI through KVM's GSI routing table and an irqfd: writing 1 to the
 *    eventfd injects the message, from any thread, without an ioctl.
 *
 * One route per MSI-X vector: a transport asks for a route when a vector
 * is first programmed and updates it when the guest changes the vector's
 * address/data (msix->changed). Only such a change costs a
 * KVM_SET_GSI_ROUTING (KVM replaces the whole table, so this keeps a
 * copy: the PIC/IOAPIC pins, then every route). Firing a route is one
 * eventfd write. A route's irqfd is created with the route and never
 * changes or closes until irq_routing_destroy(), so irq_msi_route_fire()
 * may use it without the lock: no other message can ever be behind it.
 *
 * Every ioctl goes through struct kvm_vm_ioctl, so the unit tests can
 * put a fake KVM behind it.
 */
#ifndef SKIFF_IRQ_ROUTING_H
#define SKIFF_IRQ_ROUTING_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "kvm/kvm.h"

#define IRQ_NR_IOAPIC_PINS 24
#define IRQ_MSI_ROUTES 512        /* MSI-X vectors of all devices together */
#define IRQ_MSI_GSI_BASE IRQ_NR_IOAPIC_PINS
#define IRQ_TIMER_GSI 0           /* what KVM's in-kernel PIT raises */
#define IRQ_PIC_CASCADE_GSI 2     /* the slave 8259A's input on the master: no route */

/* The VM ioctls this file needs: 0 (or a non-negative result) or -errno. */
struct kvm_vm_ioctl {
	int (*ioctl)(void *ctx, unsigned long request, void *arg);
	void *ctx;
};
/* The real thing: ctx is a struct kvm_vm. */
int kvm_vm_ioctl_real(void *ctx, unsigned long request, void *arg);

struct irq_msi_route {
	bool used;
	uint64_t address;
	uint32_t data;
	int irqfd;                /* eventfd bound to GSI IRQ_MSI_GSI_BASE + index; fixed for life */
};

struct irq_routing {
	struct kvm_vm_ioctl kvm;
	pthread_mutex_t lock;     /* guards route[] and nr_routes; fire needs none */
	bool msi_via_irqfd;       /* KVM has GSI routing + irqfd; else KVM_SIGNAL_MSI */
	unsigned nr_routes;
	unsigned table_updates;   /* KVM_SET_GSI_ROUTING calls (tests check the fast path has none) */
	struct irq_msi_route route[IRQ_MSI_ROUTES];
};

__attribute__((warn_unused_result)) int irq_routing_init(struct irq_routing *r, const struct kvm_vm_ioctl *kvm);
void irq_routing_destroy(struct irq_routing *r);
/* Point route at (address, data); route < 0 allocates a new one. Returns
 * the route (>= 0) or -errno. Updates KVM's table only if the message changed. */
int irq_msi_route_set(struct irq_routing *r, int route, uint64_t address, uint32_t data);
/* Inject the route's message. Safe from any thread, lock-free with irqfd. */
int irq_msi_route_fire(struct irq_routing *r, int route);

/* KVM_IOEVENTFD: fd (an eventfd) fires on guest writes to [addr, addr+len). */
int kvm_ioeventfd(const struct kvm_vm_ioctl *kvm, int fd, bool pio, uint64_t addr, unsigned len, bool datamatch,
		  uint64_t data, bool deassign);

#endif
