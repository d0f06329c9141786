/* skiff's implementation of struct virtio_platform (bus/virtio-platform.h)
 * on KVM: ioeventfd + the event loop for queue kicks, KVM_IRQ_LINE for
 * level interrupts, GSI routing + irqfd for MSI. */
#ifndef SKIFF_VMM_VIRTIO_PLATFORM_H
#define SKIFF_VMM_VIRTIO_PLATFORM_H

#include "bus/virtio-platform.h"
#include "kvm/irq-routing.h"
#include "kvm/kvm.h"
#include "vmm/event-loop.h"

#define KVM_PLATFORM_MAX_NOTIFIERS 64

struct kvm_notifier {
	bool used, pio, datamatch;
	uint64_t addr, data;
	unsigned len;
	int fd;
};

struct kvm_platform {
	struct kvm_vm *vm;
	struct event_loop *loop;
	struct irq_routing *routing;
	bool use_ioeventfd;
	struct kvm_notifier notifier[KVM_PLATFORM_MAX_NOTIFIERS];
	struct virtio_platform ops; /* what transports get: ops.ctx = this */
};

void kvm_platform_init(struct kvm_platform *p, struct kvm_vm *vm, struct event_loop *loop,
		       struct irq_routing *routing);
void kvm_platform_destroy(struct kvm_platform *p);

#endif
