/* Interrupts and notifications that bypass the VMM's threads:
 *  - ioeventfd: a guest write to an address/port signals an eventfd
 *    inside the host kernel, without an exit to skiff;
 *  - MSI through KVM's GSI routing table and an irqfd: writing 1 to the
 *    eventfd injects the message, from any thread, without an ioctl.
 * KVM replaces the whole routing table on every change, so this keeps a
 * copy: the IOAPIC/PIC pins, then one entry per MSI message in use. */
#ifndef SKIFF_IRQ_ROUTING_H
#define SKIFF_IRQ_ROUTING_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "kvm/kvm.h"

#define IRQ_NR_IOAPIC_PINS 24
#define IRQ_MSI_SLOTS 64          /* distinct MSI messages cached at once */
#define IRQ_MSI_GSI_BASE IRQ_NR_IOAPIC_PINS

struct irq_msi_slot {
	bool used;
	uint64_t address;
	uint32_t data;
	int irqfd;                /* eventfd bound to GSI IRQ_MSI_GSI_BASE + index */
	uint64_t last_use;
};

struct irq_routing {
	struct kvm_vm *vm;
	pthread_mutex_t lock;
	bool msi_via_irqfd;       /* KVM has GSI routing + irqfd; else KVM_SIGNAL_MSI */
	struct irq_msi_slot msi[IRQ_MSI_SLOTS];
	uint64_t clock;
};

__attribute__((warn_unused_result)) int irq_routing_init(struct irq_routing *r, struct kvm_vm *vm);
void irq_routing_destroy(struct irq_routing *r);
/* Deliver one MSI message (address/data as programmed by the guest). */
int irq_routing_send_msi(struct irq_routing *r, uint64_t address, uint32_t data);

/* KVM_IOEVENTFD: fd (an eventfd) fires on guest writes to [addr, addr+len). */
int kvm_ioeventfd(struct kvm_vm *vm, int fd, bool pio, uint64_t addr, unsigned len, bool datamatch, uint64_t data,
		  bool deassign);

#endif
