/* A fake KVM VM behind struct kvm_vm_ioctl (kvm/irq-routing.h): it keeps
 * what a real VM would (ioeventfds, the GSI routing table, irqfds, IRQ
 * line levels) and refuses what KVM refuses (a duplicate ioeventfd, a
 * deassign of one that does not exist), counting those as errors. */
#ifndef SKIFF_TEST_FAKE_KVM_H
#define SKIFF_TEST_FAKE_KVM_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <linux/kvm.h>

#include "kvm/irq-routing.h"

#define FAKE_KVM_IOEVENTFDS 64
#define FAKE_KVM_IRQFDS     64

struct fake_ioeventfd {
	bool used, pio, datamatch;
	uint64_t addr, data;
	unsigned len;
	int fd;
};

struct fake_kvm {
	pthread_mutex_t lock;
	bool no_irqfd; /* report no KVM_CAP_IRQFD */
	struct fake_ioeventfd ioeventfd[FAKE_KVM_IOEVENTFDS];
	unsigned errors;          /* requests real KVM would refuse */
	unsigned set_gsi_routing; /* KVM_SET_GSI_ROUTING calls */
	unsigned nr_entries;      /* entries of the last table */
	struct kvm_irq_routing_entry entry[1024];
	unsigned nr_irqfds;
	struct kvm_irqfd irqfd[FAKE_KVM_IRQFDS];
	unsigned signal_msi; /* KVM_SIGNAL_MSI calls */
	struct kvm_msi last_msi;
	int level[64]; /* KVM_IRQ_LINE */
};

void fake_kvm_init(struct fake_kvm *k);
struct kvm_vm_ioctl fake_kvm_ops(struct fake_kvm *k);
/* Registered ioeventfds now. */
unsigned fake_kvm_ioeventfds(struct fake_kvm *k);
/* The MSI routing entry for gsi in the last table, or NULL. */
const struct kvm_irq_routing_entry *fake_kvm_route(struct fake_kvm *k, unsigned gsi);

#endif
