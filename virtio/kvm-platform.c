/* Transport services on KVM. See virtio-platform.h. */
#include "virtio/kvm-platform.h"
#include "base/log.h"
#include "base/trace.h"

#include <errno.h>
#include <linux/kvm.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

/* ---- queue kicks ---- */

/* The reactor saw a queue's kick eventfd: drain it, then let the device
 * serve at most budget requests. A kick arriving after the read re-arms
 * the eventfd, so none is lost. */
static enum reactor_result queue_kicked(void *opaque, uint32_t events, unsigned budget)
{
	struct kvm_queue_kick *k = opaque;
	uint64_t count;

	if (events) {
		(void)!read(k->fd, &count, sizeof(count));
		TRACE(TRACE_KICK, k->dev->name, "kick q%u (ioeventfd, %llu since last served)", k->q,
		      (unsigned long long)count);
	}
	return virtio_device_service(k->dev, k->q, budget) ? REACTOR_MORE : REACTOR_DONE;
}

/* Polling (base/reactor.h): the ring holds requests, kicked or not. */
static bool queue_has_requests(void *opaque)
{
	struct kvm_queue_kick *k = opaque;

	return virtio_device_has_requests(k->dev, k->q);
}

/* While the reactor polls the ring, the driver need not kick. */
static bool queue_polled(void *opaque, bool on)
{
	struct kvm_queue_kick *k = opaque;

	return virtio_device_set_polled(k->dev, k->q, on);
}

static const struct reactor_poll_ops queue_poll = {.ready = queue_has_requests, .polling = queue_polled};

int kvm_platform_attach_queues(struct kvm_platform *p, struct virtio_device *dev)
{
	for (unsigned q = 0; q < dev->ops->nr_queues; q++) {
		if (p->nr_kicks == KVM_PLATFORM_MAX_QUEUES)
			return -ENOSPC;
		struct kvm_queue_kick *k = &p->kick[p->nr_kicks];
		*k = (struct kvm_queue_kick){ .dev = dev, .q = q, .fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK),
					      .source = -1 };
		if (k->fd < 0)
			return -errno;
		k->source = reactor_add(p->reactor, k->fd, EPOLLIN, 0, queue_kicked, k, 0);
		if (k->source < 0) {
			int ret = k->source;
			close(k->fd);
			return ret;
		}
		dev->kick_fd[q] = k->fd;
		p->nr_kicks++;
		if (dev->ops->queue_polled && dev->ops->queue_polled(dev, q)) {
			int ret = reactor_set_poll(p->reactor, k->source, &queue_poll);
			if (ret < 0)
				return ret;
		}
	}
	return 0;
}

/* ---- the notifier table ---- */

static bool notifier_matches(const struct kvm_notifier *n, bool pio, uint64_t addr, unsigned len, bool datamatch,
			     uint64_t data)
{
	return n->used && n->pio == pio && n->addr == addr && n->len == len && n->datamatch == datamatch &&
	       (!datamatch || n->data == data);
}

static int platform_notify_add(void *ctx, bool pio, uint64_t addr, unsigned len, bool datamatch, uint64_t data,
			       struct virtio_device *dev, unsigned q)
{
	struct kvm_platform *p = ctx;
	int ret = -ENOSPC;

	if (!p->use_ioeventfd || q >= VIRTIO_MAX_QUEUES || dev->kick_fd[q] < 0)
		return -ENOSYS; /* the write exits; the transport kicks from there */
	pthread_mutex_lock(&p->notifier_lock);
	for (unsigned i = 0; i < KVM_PLATFORM_MAX_NOTIFIERS; i++) {
		struct kvm_notifier *n = &p->notifier[i];
		if (n->used)
			continue;
		ret = kvm_ioeventfd(&p->kvm, dev->kick_fd[q], pio, addr, len, datamatch, data, false);
		if (ret == 0)
			*n = (struct kvm_notifier){ .used = true, .pio = pio, .datamatch = datamatch, .addr = addr,
						    .data = data, .len = len, .fd = dev->kick_fd[q] };
		break;
	}
	pthread_mutex_unlock(&p->notifier_lock);
	return ret;
}

static void platform_notify_del(void *ctx, bool pio, uint64_t addr, unsigned len, bool datamatch, uint64_t data)
{
	struct kvm_platform *p = ctx;

	pthread_mutex_lock(&p->notifier_lock);
	for (unsigned i = 0; i < KVM_PLATFORM_MAX_NOTIFIERS; i++) {
		struct kvm_notifier *n = &p->notifier[i];
		if (!notifier_matches(n, pio, addr, len, datamatch, data))
			continue;
		/* The eventfd belongs to the queue and stays open: a kick already
		 * signalled on it is still served, and nothing can reuse it. */
		kvm_ioeventfd(&p->kvm, n->fd, pio, addr, len, datamatch, data, true);
		n->used = false;
	}
	pthread_mutex_unlock(&p->notifier_lock);
}

unsigned kvm_platform_notifiers(struct kvm_platform *p)
{
	unsigned count = 0;

	pthread_mutex_lock(&p->notifier_lock);
	for (unsigned i = 0; i < KVM_PLATFORM_MAX_NOTIFIERS; i++)
		count += p->notifier[i].used;
	pthread_mutex_unlock(&p->notifier_lock);
	return count;
}

/* ---- interrupts ---- */

static void platform_set_irq(void *ctx, unsigned gsi, int level)
{
	struct kvm_platform *p = ctx;
	struct kvm_irq_level irq = { .irq = gsi, .level = (uint32_t)level };

	p->kvm.ioctl(p->kvm.ctx, KVM_IRQ_LINE, &irq);
}

static int platform_msi_route_set(void *ctx, int route, uint64_t address, uint32_t data)
{
	struct kvm_platform *p = ctx;
	int ret = irq_msi_route_set(p->routing, route, address, data);

	if (ret < 0)
		log_limited(&p->log_route_set, LOG_WARN, "irq", "MSI route for %#llx/%#x: %s", (unsigned long long)address,
			    data, strerror(-ret));
	return ret;
}

static void platform_msi_route_fire(void *ctx, int route)
{
	struct kvm_platform *p = ctx;
	int ret = irq_msi_route_fire(p->routing, route);

	if (ret < 0)
		log_limited(&p->log_route_fire, LOG_WARN, "irq", "MSI route %d not delivered: %s", route, strerror(-ret));
}

void kvm_platform_init(struct kvm_platform *p, const struct kvm_vm_ioctl *kvm, bool use_ioeventfd,
		       struct reactor *reactor, struct irq_routing *routing)
{
	memset(p, 0, sizeof(*p));
	p->kvm = *kvm;
	p->reactor = reactor;
	p->routing = routing;
	p->use_ioeventfd = use_ioeventfd;
	pthread_mutex_init(&p->notifier_lock, NULL);
	if (!use_ioeventfd)
		log_info(NULL, "KVM has no ioeventfd: virtqueue kicks go through vCPU exits");
	p->ops = (struct virtio_platform){
		.notify_add = platform_notify_add,
		.notify_del = platform_notify_del,
		.set_irq = platform_set_irq,
		.msi_route_set = platform_msi_route_set,
		.msi_route_fire = platform_msi_route_fire,
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
	for (unsigned i = 0; i < p->nr_kicks; i++) {
		struct kvm_queue_kick *k = &p->kick[i];
		reactor_remove(p->reactor, k->source);
		k->dev->kick_fd[k->q] = -1;
		close(k->fd);
	}
	p->nr_kicks = 0;
}
