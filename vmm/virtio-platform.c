/* Transport services on KVM. See virtio-platform.h. */
#include "vmm/virtio-platform.h"
#include "vmm/log.h"

#include <errno.h>
#include <linux/kvm.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

static int platform_notify_add(void *ctx, bool pio, uint64_t addr, unsigned len, bool datamatch, uint64_t data,
			       void (*handler)(void *), void *opaque)
{
	struct kvm_platform *p = ctx;
	struct kvm_notifier *n = NULL;

	if (!p->use_ioeventfd)
		return -ENOSYS;
	for (unsigned i = 0; i < KVM_PLATFORM_MAX_NOTIFIERS && !n; i++)
		if (!p->notifier[i].used)
			n = &p->notifier[i];
	if (!n)
		return -ENOSPC;
	int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (fd < 0)
		return -errno;
	int ret = kvm_ioeventfd(p->vm, fd, pio, addr, len, datamatch, data, false);
	if (ret == 0) {
		ret = event_loop_add(p->loop, fd, handler, opaque);
		if (ret < 0)
			kvm_ioeventfd(p->vm, fd, pio, addr, len, datamatch, data, true);
	}
	if (ret < 0) {
		close(fd);
		return ret;
	}
	*n = (struct kvm_notifier){ .used = true, .pio = pio, .datamatch = datamatch, .addr = addr, .data = data,
				    .len = len, .fd = fd };
	return 0;
}

static void platform_notify_del(void *ctx, bool pio, uint64_t addr, unsigned len, bool datamatch, uint64_t data)
{
	struct kvm_platform *p = ctx;

	for (unsigned i = 0; i < KVM_PLATFORM_MAX_NOTIFIERS; i++) {
		struct kvm_notifier *n = &p->notifier[i];
		if (!n->used || n->pio != pio || n->addr != addr || n->len != len || n->datamatch != datamatch ||
		    (datamatch && n->data != data))
			continue;
		event_loop_remove(p->loop, n->fd);
		kvm_ioeventfd(p->vm, n->fd, pio, addr, len, datamatch, data, true);
		close(n->fd);
		n->used = false;
	}
}

static void platform_set_irq(void *ctx, unsigned gsi, int level)
{
	struct kvm_platform *p = ctx;
	kvm_vm_irq_line(p->vm, gsi, level);
}

static void platform_send_msi(void *ctx, uint64_t address, uint32_t data)
{
	struct kvm_platform *p = ctx;
	int ret = irq_routing_send_msi(p->routing, address, data);
	if (ret < 0)
		log_warn("irq", "MSI %#llx/%#x not delivered: %s", (unsigned long long)address, data, strerror(-ret));
}

void kvm_platform_init(struct kvm_platform *p, struct kvm_vm *vm, struct event_loop *loop,
		       struct irq_routing *routing)
{
	memset(p, 0, sizeof(*p));
	p->vm = vm;
	p->loop = loop;
	p->routing = routing;
	p->use_ioeventfd = kvm_vm_check_extension(vm, KVM_CAP_IOEVENTFD) > 0;
	if (!p->use_ioeventfd)
		log_info(NULL, "KVM has no ioeventfd: virtqueue kicks go through vCPU exits");
	p->ops = (struct virtio_platform){
		.notify_add = platform_notify_add,
		.notify_del = platform_notify_del,
		.set_irq = platform_set_irq,
		.send_msi = platform_send_msi,
		.ctx = p,
	};
}

void kvm_platform_destroy(struct kvm_platform *p)
{
	for (unsigned i = 0; i < KVM_PLATFORM_MAX_NOTIFIERS; i++) {
		struct kvm_notifier *n = &p->notifier[i];
		if (n->used)
			platform_notify_del(p, n->pio, n->addr, n->len, n->datamatch, n->data);
	}
}
