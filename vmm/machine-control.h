/* The control socket's commands carried out on a running machine: the
 * control_ops behind --api-sock (vmm/control-protocol.h). Everything here
 * runs on the reactor thread.
 *
 *   pause    parks every vCPU outside KVM_RUN (kvm/vcpu.c), saves the
 *            VM's kvmclock (KVM_GET_CLOCK) and sets each vCPU's
 *            PVCLOCK_GUEST_STOPPED (KVM_KVMCLOCK_CTRL, so the guest's
 *            watchdogs do not blame the pause on a lockup); resume puts
 *            the saved kvmclock back (KVM_SET_CLOCK), so a guest whose
 *            clocksource is kvm-clock sees no jump. A guest that switched
 *            to the TSC (Linux does once it trusts it, as the small kernel
 *            does here) sees its clock move on by the pause: the TSC keeps
 *            counting and skiff does not rewrite it (QEMU does not either).
 *   shutdown presses the ACPI power button (devices/acpi-pm.c) and stops
 *            the VM if the guest has not powered off after the timeout
 *   kill     stops the VM at once (exit status 128+SIGKILL, 137) */
#ifndef SKIFF_MACHINE_CONTROL_H
#define SKIFF_MACHINE_CONTROL_H

#include "base/trace.h"
#include "vmm/control-protocol.h"

struct machine;

/* control_ops.run for ctx = struct machine *. */
int machine_control_run(void *machine, enum control_command cmd, uint64_t arg, const char *text, json_t *reply,
			char *err, size_t errlen);

/* 0 if every device f names is one of m's (a filter naming none of them
 * would select nothing), else -EINVAL with one line in err. */
int machine_trace_devices_check(const struct machine *m, const struct trace_filter *f, char *err, size_t errlen);

#endif
