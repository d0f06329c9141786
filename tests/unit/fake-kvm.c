/* See fake-kvm.h. */
#include "tests/unit/fake-kvm.h"

#include <errno.h>
#include <string.h>

static bool same_ioeventfd(const struct fake_ioeventfd *e, const struct kvm_ioeventfd *io)
{
	bool pio = io->flags & KVM_IOEVENTFD_FLAG_PIO, datamatch = io->flags & KVM_IOEVENTFD_FLAG_DATAMATCH;

	return e->used && e->pio == pio && e->addr == io->addr && e->len == io->len && e->datamatch == datamatch &&
	       (!datamatch || e->data == io->datamatch);
}

static int fake_ioeventfd(struct fake_kvm *k, const struct kvm_ioeventfd *io)
{
	struct fake_ioeventfd *free_slot = NULL;

	for (unsigned i = 0; i < FAKE_KVM_IOEVENTFDS; i++) {
		struct fake_ioeventfd *e = &k->ioeventfd[i];
		if (same_ioeventfd(e, io)) {
			if (io->flags & KVM_IOEVENTFD_FLAG_DEASSIGN) {
				e->used = false;
				return 0;
			}
			k->errors++;
			return -EEXIST;
		}
		if (!e->used && !free_slot)
			free_slot = e;
	}
	if ((io->flags & KVM_IOEVENTFD_FLAG_DEASSIGN) || !free_slot) {
		k->errors++;
		return -ENOENT;
	}
	*free_slot = (struct fake_ioeventfd){.used = true,
	                                     .pio = io->flags & KVM_IOEVENTFD_FLAG_PIO,
	                                     .datamatch = io->flags & KVM_IOEVENTFD_FLAG_DATAMATCH,
	                                     .addr = io->addr,
	                                     .data = io->datamatch,
	                                     .len = io->len,
	                                     .fd = io->fd};
	return 0;
}

static int fake_ioctl_locked(struct fake_kvm *k, unsigned long request, void *arg)
{
	switch (request) {
	case KVM_CHECK_EXTENSION:
		if ((long)arg == KVM_CAP_IRQFD && k->no_irqfd)
			return 0;
		return 1;
	case KVM_IOEVENTFD:
		return fake_ioeventfd(k, arg);
	case KVM_SET_GSI_ROUTING: {
		const struct kvm_irq_routing *table = arg;
		if (table->nr > sizeof(k->entry) / sizeof(k->entry[0]))
			return -EINVAL;
		k->set_gsi_routing++;
		k->nr_entries = table->nr;
		memcpy(k->entry, table->entries, table->nr * sizeof(table->entries[0]));
		return 0;
	}
	case KVM_IRQFD:
		if (k->nr_irqfds == FAKE_KVM_IRQFDS)
			return -ENOSPC;
		k->irqfd[k->nr_irqfds++] = *(const struct kvm_irqfd *)arg;
		return 0;
	case KVM_SIGNAL_MSI:
		k->signal_msi++;
		k->last_msi = *(const struct kvm_msi *)arg;
		return 1;
	case KVM_IRQ_LINE: {
		const struct kvm_irq_level *l = arg;
		if (l->irq < 64)
			k->level[l->irq] = (int)l->level;
		return 0;
	}
	}
	return -ENOTTY;
}

static int fake_ioctl(void *ctx, unsigned long request, void *arg)
{
	struct fake_kvm *k = ctx;

	pthread_mutex_lock(&k->lock);
	int ret = fake_ioctl_locked(k, request, arg);
	pthread_mutex_unlock(&k->lock);
	return ret;
}

void fake_kvm_init(struct fake_kvm *k)
{
	memset(k, 0, sizeof(*k));
	pthread_mutex_init(&k->lock, NULL);
}

struct kvm_vm_ioctl fake_kvm_ops(struct fake_kvm *k)
{
	return (struct kvm_vm_ioctl){.ioctl = fake_ioctl, .ctx = k};
}

unsigned fake_kvm_ioeventfds(struct fake_kvm *k)
{
	unsigned n = 0;

	pthread_mutex_lock(&k->lock);
	for (unsigned i = 0; i < FAKE_KVM_IOEVENTFDS; i++)
		n += k->ioeventfd[i].used;
	pthread_mutex_unlock(&k->lock);
	return n;
}

const struct kvm_irq_routing_entry *fake_kvm_route(struct fake_kvm *k, unsigned gsi)
{
	for (unsigned i = 0; i < k->nr_entries; i++)
		if (k->entry[i].gsi == gsi && k->entry[i].type == KVM_IRQ_ROUTING_MSI)
			return &k->entry[i];
	return NULL;
}
