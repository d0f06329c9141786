/* What a skiff machine holds: the VM with its RAM and vCPUs, the two buses
 * and the legacy devices on them, the reactor and the virtio devices, the
 * control socket's pause state, and how it stops. machine.c builds it and
 * tears it down; machine-board.c, machine-boot.c, machine-run.c and
 * machine-control.c fill in or use their parts of it. */
#ifndef SKIFF_MACHINE_STATE_H
#define SKIFF_MACHINE_STATE_H

#include <stdatomic.h>
#include <stdint.h>
#include <linux/kvm.h>

#include "bus/bus.h"
#include "devices/acpi-pm.h"
#include "devices/cmos-rtc.h"
#include "devices/debug-exit.h"
#include "devices/i8042.h"
#include "devices/pvpanic.h"
#include "devices/uart-8250.h"
#include "kvm/kvm.h"
#include "kvm/vcpu.h"
#include "kvm/x86/kernel-load.h"
#include "kvm/x86/swkvm.h"
#include "vmm/console-out.h"
#include "vmm/control-socket.h"
#include "vmm/options.h"
#include "vmm/virtio-devices.h"

struct machine;

/* An extra job for the main thread while the guest runs (skiff exec):
 * on_readable when fd is readable (or hung up), on_deadline once
 * CLOCK_MONOTONIC passes deadline_ns (which it may set again). */
struct machine_watch {
	int fd;              /* -1: none */
	int64_t deadline_ns; /* 0: none */
	void (*on_readable)(void *ctx, struct machine *m);
	void (*on_deadline)(void *ctx, struct machine *m);
	void *ctx;
};

struct machine {
	const struct options *opts;
	int64_t start_ns;             /* when skiff started (CLOCK_MONOTONIC) */
	_Atomic int64_t first_run_ns; /* first KVM_RUN of the boot vCPU */

	struct kernel_image kernel;
	struct kvm_vm vm;
	struct bus pio, mmio;
	struct swkvm swkvm;
	struct vcpu_env vcpu_env;
	struct vcpu vcpus[OPTIONS_MAX_CPUS];
	unsigned nr_vcpus_created;

	struct uart_8250 uart;
	struct console_out console_out; /* the UART's output: stdout, never blocking */
	bool console_out_ready;
	struct i8042 i8042;
	struct cmos_rtc cmos;
	struct debug_exit debug_exit;
	struct acpi_pm acpi_pm;
	struct pvpanic pvpanic;

	/* The event loop thread every device, the console and the control
	 * socket hand their file descriptors to (base/reactor.h). */
	struct reactor reactor;
	bool reactor_ready;

	struct virtio_devices virtio; /* --device ... */
	bool virtio_created;

	/* --api-sock (vmm/machine-control.c); reactor thread only, except pause. */
	struct control_socket control;
	bool control_open;
	struct vcpu_pause pause;
	bool pausing;                 /* asked the vCPUs to park; the reply waits */
	int pause_parked_source;      /* reactor source on pause.parked_fd, -1 = none */
	int pause_timer;              /* reactor source, -1 = none */
	unsigned pause_timeout_ms;    /* 0: the default (machine-control.c) */
	bool paused;
	bool clock_saved;
	struct kvm_clock_data paused_clock; /* kvmclock when paused */
	int shutdown_timer;                 /* reactor source, -1 = none */

	/* Stopping: the first request wins; the main thread is woken. */
	atomic_bool stopping;
	enum stop_reason stop_reason;
	int stop_status;
	int stop_eventfd;

	struct machine_watch watch;   /* set between machine_create and machine_run */
};

#endif
