/* Guest CPUID. See cpuid.h. */
#include "kvm/x86/cpuid.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <sys/ioctl.h>

struct kvm_cpuid2 *cpuid_get_supported(int kvm_fd)
{
	for (unsigned n = 64; n <= 4096; n *= 2) {
		struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + n * sizeof(c->entries[0]));
		if (!c)
			return NULL;
		c->nent = n;
		if (ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, c) == 0)
			return c;
		int e = errno;
		free(c);
		if (e != E2BIG) {
			errno = e;
			return NULL;
		}
	}
	errno = E2BIG;
	return NULL;
}

/* Bits needed to number n things (ceil(log2(n))). */
static unsigned cpuid_order(unsigned n)
{
	unsigned bits = 0;
	while ((1u << bits) < n)
		bits++;
	return bits;
}

void cpuid_apply_policy(struct kvm_cpuid2 *cpuid, const struct cpuid_policy *p)
{
	unsigned apic_id = p->vcpu_index;
	unsigned core_bits = cpuid_order(p->nr_vcpus);

	for (unsigned i = 0; i < cpuid->nent; i++) {
		struct kvm_cpuid_entry2 *e = &cpuid->entries[i];

		switch (e->function) {
		case 1:
			/* EBX[31:24] initial APIC ID, [23:16] logical processors per package. */
			e->ebx = (e->ebx & 0x0000ffff) | (apic_id << 24) | ((p->nr_vcpus & 0xff) << 16);
			if (p->nr_vcpus > 1)
				e->edx |= 1u << 28; /* HTT: the count above is valid */
			else
				e->edx &= ~(1u << 28);
			/* KVM's supported CPUID has neither bit. Without the first,
			 * Linux never looks at KVM's leaves (0x40000000): no
			 * kvm-clock, so it calibrates the TSC against the PIT (which
			 * fails in a nested host: clocksource jiffies). Without the
			 * second it calibrates the APIC timer by waiting for ticks. */
			e->ecx |= CPUID_1_ECX_HYPERVISOR;
			if (p->tsc_deadline)
				e->ecx |= CPUID_1_ECX_TSC_DEADLINE;
			else
				e->ecx &= ~CPUID_1_ECX_TSC_DEADLINE;
			break;
		case 4:
			/* Deterministic cache parameters: EAX[31:26] = cores per package - 1,
			 * [25:14] = logical processors sharing this cache - 1 (one each). */
			if ((e->eax & 0x1f) != 0)
				e->eax = (e->eax & 0x3fff) | ((p->nr_vcpus - 1) << 26);
			break;
		case 0xb:
		case 0x1f:
			/* Extended topology: level 0 = SMT (1 thread per core), level 1 = core. */
			e->edx = apic_id;
			if (e->index == 0) {
				e->eax = 0;
				e->ebx = 1;
				e->ecx = (1u << 8) | 0;
			} else if (e->index == 1) {
				e->eax = core_bits;
				e->ebx = p->nr_vcpus;
				e->ecx = (2u << 8) | 1;
			} else {
				e->eax = e->ebx = 0;
				e->ecx = e->index;
			}
			break;
		case 0x40000001:
			if (p->hide_pv_features)
				e->eax &= ~CPUID_KVM_PV_HIDDEN_MASK;
			break;
		}
	}
}
