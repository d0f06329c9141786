/* MSI routing and ioeventfd registration. See irq-routing.h. */
#include "kvm/irq-routing.h"
#include "vmm/log.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

int kvm_ioeventfd(struct kvm_vm *vm, int fd, bool pio, uint64_t addr, unsigned len, bool datamatch, uint64_t data,
		  bool deassign)
{
	struct kvm_ioeventfd io = {
		.datamatch = data,
		.addr = addr,
		.len = len,
		.fd = fd,
		.flags = (pio ? KVM_IOEVENTFD_FLAG_PIO : 0) | (datamatch ? KVM_IOEVENTFD_FLAG_DATAMATCH : 0) |
			 (deassign ? KVM_IOEVENTFD_FLAG_DEASSIGN : 0),
	};
	return ioctl(vm->vm_fd, KVM_IOEVENTFD, &io) < 0 ? -errno : 0;
}

/* Push the whole table: the 24 IOAPIC pins (and the PIC's 16, which KVM
 * wires to the same GSIs), then every cached MSI message. */
static int irq_routing_commit(struct irq_routing *r)
{
	unsigned n = 0, max = 16 + IRQ_NR_IOAPIC_PINS + IRQ_MSI_SLOTS;
	struct kvm_irq_routing *table = calloc(1, sizeof(*table) + max * sizeof(table->entries[0]));
	if (!table)
		return -ENOMEM;
	for (unsigned gsi = 0; gsi < IRQ_NR_IOAPIC_PINS; gsi++) {
		if (gsi < 16) {
			table->entries[n++] = (struct kvm_irq_routing_entry){
				.gsi = gsi, .type = KVM_IRQ_ROUTING_IRQCHIP,
				.u.irqchip = { .irqchip = gsi < 8 ? KVM_IRQCHIP_PIC_MASTER : KVM_IRQCHIP_PIC_SLAVE,
					       .pin = gsi % 8 } };
		}
		table->entries[n++] = (struct kvm_irq_routing_entry){
			.gsi = gsi, .type = KVM_IRQ_ROUTING_IRQCHIP,
			.u.irqchip = { .irqchip = KVM_IRQCHIP_IOAPIC, .pin = gsi } };
	}
	for (unsigned i = 0; i < IRQ_MSI_SLOTS; i++) {
		if (!r->msi[i].used)
			continue;
		table->entries[n++] = (struct kvm_irq_routing_entry){
			.gsi = IRQ_MSI_GSI_BASE + i, .type = KVM_IRQ_ROUTING_MSI,
			.u.msi = { .address_lo = (uint32_t)r->msi[i].address,
				   .address_hi = (uint32_t)(r->msi[i].address >> 32),
				   .data = r->msi[i].data } };
	}
	table->nr = n;
	int ret = ioctl(r->vm->vm_fd, KVM_SET_GSI_ROUTING, table) < 0 ? -errno : 0;
	free(table);
	return ret;
}

int irq_routing_init(struct irq_routing *r, struct kvm_vm *vm)
{
	memset(r, 0, sizeof(*r));
	r->vm = vm;
	pthread_mutex_init(&r->lock, NULL);
	for (unsigned i = 0; i < IRQ_MSI_SLOTS; i++)
		r->msi[i].irqfd = -1;
	r->msi_via_irqfd = kvm_vm_check_extension(vm, KVM_CAP_IRQ_ROUTING) > 0 &&
			   kvm_vm_check_extension(vm, KVM_CAP_IRQFD) > 0;
	if (!r->msi_via_irqfd && kvm_vm_check_extension(vm, KVM_CAP_SIGNAL_MSI) <= 0)
		log_warn("irq", "KVM offers neither irqfd routing nor KVM_SIGNAL_MSI: MSI-X will not work");
	return r->msi_via_irqfd ? irq_routing_commit(r) : 0;
}

void irq_routing_destroy(struct irq_routing *r)
{
	if (!r->vm)
		return; /* never initialized */
	for (unsigned i = 0; i < IRQ_MSI_SLOTS; i++)
		if (r->msi[i].irqfd >= 0)
			close(r->msi[i].irqfd);
}

/* The slot for (address, data): found, or a free one, or the least
 * recently used one re-pointed at the new message. */
static int irq_msi_slot_get(struct irq_routing *r, uint64_t address, uint32_t data)
{
	int free_slot = -1, lru = 0;

	for (unsigned i = 0; i < IRQ_MSI_SLOTS; i++) {
		struct irq_msi_slot *s = &r->msi[i];
		if (s->used && s->address == address && s->data == data) {
			s->last_use = ++r->clock;
			return i;
		}
		if (!s->used && free_slot < 0)
			free_slot = i;
		if (s->last_use < r->msi[lru].last_use)
			lru = i;
	}
	int i = free_slot >= 0 ? free_slot : lru;
	struct irq_msi_slot *s = &r->msi[i];
	if (s->irqfd < 0) {
		s->irqfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		struct kvm_irqfd irqfd = { .fd = s->irqfd, .gsi = IRQ_MSI_GSI_BASE + i };
		if (s->irqfd < 0 || ioctl(r->vm->vm_fd, KVM_IRQFD, &irqfd) < 0) {
			int ret = -errno;
			if (s->irqfd >= 0)
				close(s->irqfd);
			s->irqfd = -1;
			return ret;
		}
	}
	s->used = true;
	s->address = address;
	s->data = data;
	s->last_use = ++r->clock;
	int ret = irq_routing_commit(r);
	return ret < 0 ? ret : i;
}

int irq_routing_send_msi(struct irq_routing *r, uint64_t address, uint32_t data)
{
	if (!r->msi_via_irqfd) {
		struct kvm_msi msi = { .address_lo = (uint32_t)address, .address_hi = address >> 32, .data = data };
		return ioctl(r->vm->vm_fd, KVM_SIGNAL_MSI, &msi) < 0 ? -errno : 0;
	}
	pthread_mutex_lock(&r->lock);
	int i = irq_msi_slot_get(r, address, data);
	int fd = i >= 0 ? r->msi[i].irqfd : -1;
	pthread_mutex_unlock(&r->lock);
	if (fd < 0)
		return i;
	uint64_t one = 1;
	return write(fd, &one, sizeof(one)) == sizeof(one) ? 0 : -errno;
}
