/* skiff's implementation of struct virtio_platform (virtio/platform.h)
 * on KVM:
 *  - queue kicks: each queue of each device has one kick eventfd, served
 *    by the reactor (kvm_platform_attach_queues). A transport's notify
 *    registers become KVM ioeventfds on that same eventfd, so moving a
 *    BAR only re-points KVM registrations: the reactor source, its fd and
 *    its handler never change while the guest runs;
 *  - the notifier table (guest address -> kick eventfd) is locked: two
 *    vCPUs moving BARs of two devices cannot claim one slot;
 *  - KVM_IRQ_LINE for level interrupts; one MSI route per MSI-X vector
 *    (kvm/irq-routing.c) for MSI-X.
 * Every ioctl goes through struct kvm_vm_ioctl (faked in unit tests).
 */
#ifndef SKIFF_VMM_VIRTIO_PLATFORM_H
#define SKIFF_VMM_VIRTIO_PLATFORM_H

#include <pthread.h>

#include "virtio/platform.h"
#include "virtio/virtio-device.h"
#include "kvm/irq-routing.h"
#include "base/log.h"
#include "base/reactor.h"

#define KVM_PLATFORM_MAX_NOTIFIERS 1024
#define KVM_PLATFORM_MAX_QUEUES 1024

/* One guest address whose writes KVM turns into a queue kick. */
struct kvm_notifier {
	bool used, pio, datamatch;
	uint64_t addr, data;
	unsigned len;
	int fd;                 /* the queue's kick eventfd (owned by the queue) */
};

/* One queue's kick eventfd on the reactor. */
struct kvm_queue_kick {
	struct virtio_device *dev;
	unsigned q;
	int fd;
	int source;             /* reactor source id */
};

struct kvm_platform {
	struct kvm_vm_ioctl kvm;
	struct reactor *reactor;
	struct irq_routing *routing;
	bool use_ioeventfd;
	pthread_mutex_t notifier_lock; /* guards notifier[] (vCPU threads move BARs) */
	struct kvm_notifier notifier[KVM_PLATFORM_MAX_NOTIFIERS];
	unsigned nr_kicks;             /* set up before the guest runs; no lock */
	struct kvm_queue_kick kick[KVM_PLATFORM_MAX_QUEUES];
	struct virtio_platform ops;    /* what transports get: ops.ctx = this */
	/* The guest programs MSI-X entries and fires vectors at will. */
	struct log_limit log_route_set, log_route_fire;
};

/* use_ioeventfd: KVM_CAP_IOEVENTFD (without it every kick is an exit). */
void kvm_platform_init(struct kvm_platform *p, const struct kvm_vm_ioctl *kvm, bool use_ioeventfd,
		       struct reactor *reactor, struct irq_routing *routing);
/* Give each queue of dev a kick eventfd served on the reactor (before the
 * transport is created, so its notify registers can use them). */
__attribute__((warn_unused_result)) int kvm_platform_attach_queues(struct kvm_platform *p,
								   struct virtio_device *dev);
/* Active notifier registrations (for tests and leak checks). */
unsigned kvm_platform_notifiers(struct kvm_platform *p);
/* Drop every registration and kick eventfd (the reactor is stopped). */
void kvm_platform_destroy(struct kvm_platform *p);

#endif
