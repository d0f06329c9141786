/* MSI routes and ioeventfd registration. See irq-routing.h. */
#include "kvm/irq-routing.h"
#include "base/log.h"
#include "kvm/x86/layout.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

int kvm_vm_ioctl_real(void *ctx, unsigned long request, void *arg)
{
	struct kvm_vm *vm = ctx;

	if (request == KVM_CHECK_EXTENSION)
		return kvm_vm_check_extension(vm, (long)arg); /* falls back to /dev/kvm on old hosts */
	int ret = ioctl(vm->vm_fd, request, arg);
	return ret < 0 ? -errno : ret;
}

static int vm_check_extension(const struct kvm_vm_ioctl *kvm, long cap)
{
	return kvm->ioctl(kvm->ctx, KVM_CHECK_EXTENSION, (void *)cap);
}

int kvm_ioeventfd(const struct kvm_vm_ioctl *kvm, int fd, bool pio, uint64_t addr, unsigned len, bool datamatch,
		  uint64_t data, bool deassign)
{
	struct kvm_ioeventfd io = {
		.datamatch = data,
		.addr = addr,
		.len = len,
		.fd = fd,
		.flags = (pio ? KVM_IOEVENTFD_FLAG_PIO : 0) | (datamatch ? KVM_IOEVENTFD_FLAG_DATAMATCH : 0) |
			 (deassign ? KVM_IOEVENTFD_FLAG_DEASSIGN : 0),
	};
	int ret = kvm->ioctl(kvm->ctx, KVM_IOEVENTFD, &io);
	return ret < 0 ? ret : 0;
}

/* The ISA and IOAPIC part of the table, as a PC wires it and as the MADT
 * (kvm/x86/acpi.c) tells the guest: GSI n reaches PIC pin n (n < 16) and
 * IOAPIC pin n, except the timer. The in-kernel PIT raises GSI 0, and the
 * MADT's interrupt source override says ISA IRQ 0 arrives on IOAPIC pin 2,
 * so GSI 0 goes to pin 2. GSI 2 is the PICs' cascade and routes nowhere.
 * (KVM's default table sends GSI 0 to pin 0: Linux then finds no timer on
 * the pin the MADT names and falls back to ExtINT through the 8259A.) */
static unsigned irq_routing_pins(struct kvm_irq_routing_entry *e)
{
	unsigned n = 0;

	for (unsigned gsi = 0; gsi < IRQ_NR_IOAPIC_PINS; gsi++) {
		if (gsi == IRQ_PIC_CASCADE_GSI)
			continue;
		if (gsi < 16)
			e[n++] = (struct kvm_irq_routing_entry){
				.gsi = gsi, .type = KVM_IRQ_ROUTING_IRQCHIP,
				.u.irqchip = { .irqchip = gsi < 8 ? KVM_IRQCHIP_PIC_MASTER : KVM_IRQCHIP_PIC_SLAVE,
					       .pin = gsi % 8 } };
		e[n++] = (struct kvm_irq_routing_entry){
			.gsi = gsi, .type = KVM_IRQ_ROUTING_IRQCHIP,
			.u.irqchip = { .irqchip = KVM_IRQCHIP_IOAPIC,
				       .pin = gsi == IRQ_TIMER_GSI ? IRQ_TIMER_IOAPIC_PIN : gsi } };
	}
	return n;
}

/* Push the whole table (r->lock held): the pins, then every MSI route. */
static int irq_routing_commit(struct irq_routing *r)
{
	unsigned max = 16 + IRQ_NR_IOAPIC_PINS + IRQ_MSI_ROUTES;
	struct kvm_irq_routing *table = calloc(1, sizeof(*table) + max * sizeof(table->entries[0]));
	if (!table)
		return -ENOMEM;
	unsigned n = irq_routing_pins(table->entries);
	for (unsigned i = 0; i < r->nr_routes; i++) {
		if (!r->route[i].used)
			continue;
		table->entries[n++] = (struct kvm_irq_routing_entry){
			.gsi = IRQ_MSI_GSI_BASE + i, .type = KVM_IRQ_ROUTING_MSI,
			.u.msi = { .address_lo = (uint32_t)r->route[i].address,
				   .address_hi = (uint32_t)(r->route[i].address >> 32),
				   .data = r->route[i].data } };
	}
	table->nr = n;
	r->table_updates++;
	int ret = r->kvm.ioctl(r->kvm.ctx, KVM_SET_GSI_ROUTING, table);
	free(table);
	return ret < 0 ? ret : 0;
}

int irq_routing_init(struct irq_routing *r, const struct kvm_vm_ioctl *kvm)
{
	int ret = 0;

	memset(r, 0, sizeof(*r));
	r->kvm = *kvm;
	pthread_mutex_init(&r->lock, NULL);
	for (unsigned i = 0; i < IRQ_MSI_ROUTES; i++)
		r->route[i].irqfd = -1;
	/* KVM_SET_GSI_ROUTING works: the pins follow the MADT */
	bool has_routing = vm_check_extension(kvm, KVM_CAP_IRQ_ROUTING) > 0;
	r->msi_via_irqfd = has_routing && vm_check_extension(kvm, KVM_CAP_IRQFD) > 0;
	if (!r->msi_via_irqfd && vm_check_extension(kvm, KVM_CAP_SIGNAL_MSI) <= 0)
		log_warn("irq", "KVM offers neither irqfd routing nor KVM_SIGNAL_MSI: MSI-X will not work");
	if (!has_routing)
		log_warn("irq", "KVM has no GSI routing: the timer stays on IOAPIC pin 0, not the pin the MADT names");
	if (has_routing) {
		pthread_mutex_lock(&r->lock);
		ret = irq_routing_commit(r);
		pthread_mutex_unlock(&r->lock);
	}
	return ret;
}

void irq_routing_destroy(struct irq_routing *r)
{
	if (!r->kvm.ioctl)
		return; /* never initialized */
	for (unsigned i = 0; i < IRQ_MSI_ROUTES; i++)
		if (r->route[i].irqfd >= 0)
			close(r->route[i].irqfd);
	r->nr_routes = 0;
}

/* A new route with its irqfd bound to its GSI (r->lock held). */
static int irq_msi_route_alloc(struct irq_routing *r)
{
	if (r->nr_routes == IRQ_MSI_ROUTES)
		return -ENOSPC;
	int i = (int)r->nr_routes;
	if (r->msi_via_irqfd) {
		int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (fd < 0)
			return -errno;
		struct kvm_irqfd irqfd = { .fd = (uint32_t)fd, .gsi = IRQ_MSI_GSI_BASE + (uint32_t)i };
		int ret = r->kvm.ioctl(r->kvm.ctx, KVM_IRQFD, &irqfd);
		if (ret < 0) {
			close(fd);
			return ret;
		}
		/* Published once; fire reads it without the lock. */
		__atomic_store_n(&r->route[i].irqfd, fd, __ATOMIC_RELEASE);
	}
	r->nr_routes++;
	return i;
}

int irq_msi_route_set(struct irq_routing *r, int route, uint64_t address, uint32_t data)
{
	int ret = 0;

	pthread_mutex_lock(&r->lock);
	if (route < 0)
		ret = route = irq_msi_route_alloc(r);
	else if ((unsigned)route >= r->nr_routes)
		ret = -EINVAL;
	if (ret >= 0) {
		struct irq_msi_route *m = &r->route[route];
		if (!m->used || m->address != address || m->data != data) {
			m->used = true;
			m->address = address;
			m->data = data;
			ret = r->msi_via_irqfd ? irq_routing_commit(r) : 0; /* else fire copies the message */
		}
	}
	pthread_mutex_unlock(&r->lock);
	return ret < 0 ? ret : route;
}

int irq_msi_route_fire(struct irq_routing *r, int route)
{
	uint64_t one = 1;

	if (route < 0 || route >= IRQ_MSI_ROUTES)
		return -EINVAL;
	if (r->msi_via_irqfd) {
		int fd = __atomic_load_n(&r->route[route].irqfd, __ATOMIC_ACQUIRE);
		if (fd < 0)
			return -EINVAL;
		return write(fd, &one, sizeof(one)) == sizeof(one) ? 0 : -errno;
	}
	/* No irqfd: KVM_SIGNAL_MSI with the message copied under the lock. */
	pthread_mutex_lock(&r->lock);
	struct kvm_msi msi = { .address_lo = (uint32_t)r->route[route].address,
			       .address_hi = (uint32_t)(r->route[route].address >> 32),
			       .data = r->route[route].data };
	bool used = (unsigned)route < r->nr_routes && r->route[route].used;
	pthread_mutex_unlock(&r->lock);
	if (!used)
		return -EINVAL;
	int ret = r->kvm.ioctl(r->kvm.ctx, KVM_SIGNAL_MSI, &msi);
	return ret < 0 ? ret : 0;
}
