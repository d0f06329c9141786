/* A vCPU: its KVM file descriptor, its shared kvm_run page, and the thread
 * that sits in KVM_RUN and dispatches every exit. */
#ifndef SKIFF_VCPU_H
#define SKIFF_VCPU_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "base/hooks.h"
#include "kvm/kvm.h"
#include "kvm/x86/swkvm.h"

struct kvm_run;
struct kvm_cpuid2;

/* Pausing the VM (the control socket's pause/resume): every vCPU thread
 * leaves KVM_RUN and parks on `resumed` until `paused` is cleared. Nobody
 * waits for the vCPUs to park: each one that parks writes parked_fd, which
 * the reactor watches (vmm/machine-control.c), so a vCPU slow to stop
 * holds up no device and no other control client. */
struct vcpu_pause {
	pthread_mutex_t lock;
	pthread_cond_t resumed;        /* paused cleared (or the VM stops) */
	int parked_fd;                 /* eventfd, written by each vCPU that parks */
	bool paused;
	unsigned nr_parked;
	atomic_bool requested;         /* read by vCPUs without the lock */
};

/* Exits counted per reason, for the control socket's `stats`. */
enum vcpu_exit_kind {
	VCPU_EXIT_IO,
	VCPU_EXIT_MMIO,
	VCPU_EXIT_INTR,           /* a signal: kick, watchdog tick, pause */
	VCPU_EXIT_HLT,
	VCPU_EXIT_INTERNAL_ERROR, /* on software-KVM hosts: emulation failures skiff handles */
	VCPU_EXIT_SYSTEM_EVENT,
	VCPU_EXIT_SHUTDOWN,
	VCPU_EXIT_OTHER,
	VCPU_EXIT_KINDS,
};
extern const char *const vcpu_exit_kind_names[VCPU_EXIT_KINDS];

/* Where a vCPU hands the guest's port and MMIO accesses: the machine
 * points these at its buses, so the vCPU loop names no device and no bus.
 * data holds len bytes: the value written, or room for the value read. */
struct vcpu_exit_handler {
	void (*pio)(void *ctx, uint16_t port, uint8_t *data, unsigned len, bool is_write);
	void (*mmio)(void *ctx, uint64_t addr, uint8_t *data, unsigned len, bool is_write);
	void *ctx;
};

/* What every vCPU's run loop needs from the machine around it. */
struct vcpu_env {
	struct kvm_vm *vm;
	struct vcpu_exit_handler exits;
	struct stop_hook stop;      /* ends the VM with a reason */
	atomic_bool *stopping;      /* set once the VM is stopping */
	struct swkvm *swkvm;        /* software-KVM workarounds (inactive on hardware KVM) */
	_Atomic int64_t *first_run_ns; /* CLOCK_MONOTONIC of the first KVM_RUN (0 until then) */
	struct vcpu_pause *pause;   /* NULL: the VM is never paused */
};

struct vcpu {
	unsigned index;             /* also the APIC ID */
	int fd;
	struct kvm_run *run;
	const struct vcpu_env *env;
	pthread_t thread;
	bool thread_started;
	atomic_bool thread_ready;   /* tid is valid, signal handling set up */
	pid_t tid;
	timer_t watchdog;           /* software-KVM tick, SIGEV_THREAD_ID */
	bool has_watchdog;
	long watchdog_period_ns;     /* current period (swkvm_tick_period_ns) */
	struct swkvm_vcpu sw;
	int64_t last_sample_ns;     /* -v: when RIP was last logged */
	_Atomic unsigned long exits[VCPU_EXIT_KINDS];
};

/* KVM_CREATE_VCPU, map kvm_run, set CPUID, MSRs and the local APIC's LINT pins. */
__attribute__((warn_unused_result)) int vcpu_create(struct vcpu *v, const struct vcpu_env *env, unsigned index,
						    const struct kvm_cpuid2 *cpuid);
/* Boot vCPU only: the kernel's entry state (see kvm/x86/cpu-boot.h).
 * The other vCPUs stay in KVM's INIT state until the guest sends INIT/SIPI. */
__attribute__((warn_unused_result)) int vcpu_enter_long_mode(struct vcpu *v, uint64_t entry, uint64_t boot_params);
__attribute__((warn_unused_result)) int vcpu_enter_pvh(struct vcpu *v, uint64_t entry, uint64_t start_info);
int vcpu_start(struct vcpu *v);
/* Make the vCPU leave KVM_RUN soon (used to stop the VM). */
void vcpu_kick(struct vcpu *v);
void vcpu_join(struct vcpu *v);
/* After vcpu_join: log where the guest was and how often it exited, the
 * first thing to know about a guest stopped because it seemed stuck. */
void vcpu_log_last_position(const struct vcpu *v);
void vcpu_destroy(struct vcpu *v);

/* 0, or -errno (no eventfd). */
__attribute__((warn_unused_result)) int vcpu_pause_init(struct vcpu_pause *p);
void vcpu_pause_destroy(struct vcpu_pause *p);
/* Ask the nr vCPUs of vcpus[] to park and kick them out of KVM_RUN;
 * returns at once. Each vCPU that parks then writes p->parked_fd. */
void vcpu_pause_request(struct vcpu_pause *p, struct vcpu *vcpus, unsigned nr);
/* After parked_fd fired (it is drained here): true once a pause is
 * requested and nr vCPUs are parked. Never waits. */
bool vcpu_pause_all_parked(struct vcpu_pause *p, unsigned nr);
/* Let parked vCPUs run again (also used when the VM stops while paused). */
void vcpu_resume_all(struct vcpu_pause *p);

/* The signal used to interrupt KVM_RUN; install once per process. */
int vcpu_signals_init(void);

#endif
