/* skiff's process exit statuses, in one place so main(), the machine and
 * the documentation (options_usage(), skiff.1) agree. Scripts and CI jobs
 * depend on these numbers: do not renumber them. */
#ifndef SKIFF_EXIT_STATUS_H
#define SKIFF_EXIT_STATUS_H

enum exit_status {
	EXIT_GUEST_OK     = 0, /* guest powered off or rebooted */
	EXIT_ERROR        = 2, /* bad command line, or skiff failed to start */
	EXIT_GUEST_PANIC  = 4, /* guest kernel panicked (pvpanic) */
	EXIT_TRIPLE_FAULT = 6, /* guest triple-faulted */
	EXIT_VCPU_ERROR   = 8, /* a vCPU stopped on an instruction or error skiff can't handle */
};

/*
 * Not in the enum because they are computed:
 *
 * Debug exit: a guest write of VALUE to the debug-exit port ends skiff with
 * status (VALUE << 1) | 1, like QEMU's isa-debug-exit. Those statuses are
 * always odd, so they never collide with skiff's own even statuses above.
 * The shell only sees the low 8 bits of the status.
 */
#define EXIT_DEBUG_EXIT(value) ((int)((((unsigned)(value) << 1) | 1u) & 0xffu))

/*
 * Signals: SIGTERM, SIGINT and SIGHUP stop the guest and skiff exits with
 * 128 + the signal number, as a shell reports a process killed by it:
 * 143 (SIGTERM), 130 (SIGINT), 129 (SIGHUP).
 */
#define EXIT_SIGNAL(signo) (128 + (signo))

#endif
