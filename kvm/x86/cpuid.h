/* CPUID for the guest: what KVM supports, with the topology of an
 * N-vCPU machine (one package, N cores, one thread each) written in, and
 * the two bits KVM leaves to the VMM: "a hypervisor is present" and the
 * TSC-deadline timer. */
#ifndef SKIFF_X86_CPUID_H
#define SKIFF_X86_CPUID_H

#include <stdbool.h>
#include <stdint.h>

struct kvm_cpuid2;

/* KVM's supported CPUID (caller frees). NULL with errno on failure. */
struct kvm_cpuid2 *cpuid_get_supported(int kvm_fd);

struct cpuid_policy {
	unsigned vcpu_index;   /* = APIC ID */
	unsigned nr_vcpus;
	bool hide_pv_features; /* clear PV unhalt/TLB flush/IPI/sched-yield (software-KVM hosts) */
	bool tsc_deadline;     /* KVM emulates the TSC-deadline timer (KVM_CAP_TSC_DEADLINE_TIMER) */
};

/* Rewrite a copy of the supported CPUID for one vCPU, in place. Pure:
 * works on the array only, so unit tests can feed it a fake table. */
void cpuid_apply_policy(struct kvm_cpuid2 *cpuid, const struct cpuid_policy *policy);

/* Bits of KVM_CPUID_FEATURES (leaf 0x40000001 EAX) that need hypercalls
 * or IPIs a software-KVM host never completes. */
/* Leaf 1 ECX. */
#define CPUID_1_ECX_TSC_DEADLINE (1u << 24)
#define CPUID_1_ECX_HYPERVISOR (1u << 31)

#define CPUID_KVM_PV_HIDDEN_MASK                                                                          \
	((1u << 7) /* KVM_FEATURE_PV_UNHALT */ | (1u << 9) /* PV_TLB_FLUSH */ | (1u << 11) /* PV_SEND_IPI */ | \
	 (1u << 13) /* PV_SCHED_YIELD */)

#endif
