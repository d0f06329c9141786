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

/*
 * skiff exec (docs/exec.md): CMD's own exit status passes through, so
 * skiff's failures take numbers near timeout(1)'s, which shells and CI
 * scripts already read as "the tool failed, not the command". A CMD that
 * itself exits with one of these is indistinguishable: the message on
 * stderr (one line, starting "skiff exec:") says which it was.
 */
enum exec_exit_status {
	EXIT_EXEC_COPY_MISSING = 118, /* --copy-out: GUEST is not there in the guest */
	EXIT_EXEC_COPY_BAD   = 119, /* --copy-out: the guest's stream was refused (malformed, escaping, past a limit) or could not be written */
	EXIT_EXEC_CMD_SIGNAL = 120, /* CMD was killed by a signal */
	EXIT_EXEC_NO_INIT    = 121, /* the guest never reached skiff's init */
	EXIT_EXEC_PANIC      = 122, /* kernel panic (or a reset/stop before CMD's status arrived) */
	EXIT_EXEC_OOPS       = 123, /* --fail-on: an oops/BUG/KASAN or WARNING in the kernel log */
	EXIT_EXEC_TIMEOUT    = 124, /* --timeout ran out (as timeout(1)) */
	EXIT_EXEC_ERROR      = 125, /* bad command line, or skiff failed (as timeout(1)) */
	EXIT_EXEC_CANNOT_RUN = 126, /* CMD found but not executable (as a shell) */
	EXIT_EXEC_NOT_FOUND  = 127, /* CMD not found (as a shell) */
};

#endif
