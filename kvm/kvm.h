/* The VM: thin wrappers over the KVM ioctls that act on /dev/kvm and on a
 * VM file descriptor. Guest RAM lives here too. */
#ifndef SKIFF_KVM_H
#define SKIFF_KVM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/guest-mem.h"

struct kvm_vm {
	int kvm_fd;             /* /dev/kvm */
	int vm_fd;              /* KVM_CREATE_VM */
	size_t vcpu_mmap_size;  /* size of each vCPU's struct kvm_run mapping */
	unsigned max_vcpus;     /* KVM_CAP_MAX_VCPUS */
	unsigned nr_slots;      /* memory slots in use */
	struct guest_mem mem;   /* guest RAM as mapped in this process */
};

/* Open /dev/kvm and create a VM. Returns 0 or -errno; err gets one line. */
__attribute__((warn_unused_result)) int kvm_vm_create(struct kvm_vm *vm, char *err, size_t errlen);
void kvm_vm_destroy(struct kvm_vm *vm);

/* Map size bytes of anonymous memory (MAP_NORESERVE: the host commits
 * pages only when the guest touches them) and give it to the guest at gpa. */
__attribute__((warn_unused_result)) int kvm_vm_add_ram(struct kvm_vm *vm, uint64_t gpa, uint64_t size);

/* In-kernel LAPIC/IOAPIC/PIC and PIT, the way a PC has them. */
__attribute__((warn_unused_result)) int kvm_vm_create_irqchip(struct kvm_vm *vm);

/* Drive an interrupt line (IOAPIC pin and PIC input) to level. */
int kvm_vm_irq_line(struct kvm_vm *vm, unsigned gsi, int level);

/* KVM_CHECK_EXTENSION on the VM (falls back to /dev/kvm). */
int kvm_vm_check_extension(struct kvm_vm *vm, long cap);

/* Open /dev/kvm just to ask how many vCPUs a VM may have (for option checks). */
unsigned kvm_max_vcpus_probe(void);

#endif
