/* The seccomp filter, built with libseccomp. See seccomp.h. */
#include "vmm/seccomp.h"
#include "vmm/exit-status.h"
#include "vmm/log.h"
#include "devices/device-types.h"
#include "vmm/terminal.h"

#include <errno.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Everything skiff does after start-up, found with strace over boots of
 * Linux and the test guest with every device, plus the C library's own
 * needs for threads and malloc. */
static const char *const allowed[] = {
	/* vCPUs, devices, the reactor, the console */
	"ioctl", "read", "write", "readv", "writev", "close", "poll", "ppoll", "epoll_wait", "epoll_pwait",
	"epoll_ctl", "eventfd2", "getrandom",
	/* threads, signals, timers */
	"clone", "clone3", "set_robust_list", "rseq", "prctl", "futex", "exit", "exit_group", "gettid", "getpid",
	"tgkill", "rt_sigreturn", "rt_sigprocmask", "rt_sigaction", "sigaltstack", "restart_syscall",
	"timer_create", "timer_settime", "timer_delete", "timerfd_create", "timerfd_settime", "clock_gettime", "clock_nanosleep", "nanosleep",
	"sched_yield", "sched_getaffinity", "prlimit64",
	/* memory */
	"mmap", "munmap", "mprotect", "madvise", "brk", "mremap",
	/* disk images (devices/block-backend.c): io_uring, or the worker pool */
	"io_uring_enter", "preadv", "pwritev", "pread64", "pwrite64", "fdatasync", "fallocate",
	/* the control socket (--api-sock): clients, and removing the socket file at exit */
	"accept4", "recvfrom", "sendto", "unlink",
	/* glibc's qsort() (virtio-balloon's PFN batches) asks for the RAM size */
	"sysinfo",
	/* stdio's checks on stdout/stderr */
	"fstat", "newfstatat", "lseek",
};

/* Calls that fail with EACCES rather than stop skiff (see below). */
static const char *const fail_quietly[] = {"open", "openat", "unlink", "unlinkat"};

/* A blocked call is a skiff bug, not a guest's doing: say which call,
 * leave the terminal usable, and stop. Async-signal-safe only. */
static void seccomp_sigsys(int sig, siginfo_t *info, void *uctx)
{
	char msg[128];
	(void)sig;
	(void)uctx;
	int n = snprintf(msg, sizeof(msg), "\r\nskiff: seccomp blocked system call %d; this is a skiff bug (--seccomp off)\r\n",
			 info->si_syscall);
	terminal_restore();
	if (n > 0)
		(void)!write(STDERR_FILENO, msg, n);
	_exit(EXIT_VCPU_ERROR);
}

static int allow(scmp_filter_ctx ctx, const char *name, char *err, size_t errlen)
{
	int nr = seccomp_syscall_resolve_name(name);
	int ret;

	if (nr == __NR_SCMP_ERROR)
		return 0; /* not a system call on this architecture */
	ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
	if (ret < 0)
		err_printf(err, errlen, "seccomp: cannot allow %s: %s", name, strerror(-ret));
	return ret;
}

int seccomp_install(const struct options *opts, char *err, size_t errlen)
{
	/* Let the C library do its lazy file reads now: the first gmtime_r()
	 * (the CMOS clock) reads /etc/localtime. */
	tzset();

	struct sigaction sa = { .sa_sigaction = seccomp_sigsys, .sa_flags = SA_SIGINFO };
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSYS, &sa, NULL) < 0) {
		err_printf(err, errlen, "seccomp: cannot handle SIGSYS: %s", strerror(errno));
		return -errno;
	}

	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_TRAP);
	if (!ctx) {
		err_printf(err, errlen, "seccomp: cannot create a filter");
		return -ENOMEM;
	}
	int ret = 0;
	for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]) && ret == 0; i++)
		ret = allow(ctx, allowed[i], err, errlen);
	/* What the devices asked for need (e.g. backend=user's sockets). */
	for (unsigned d = 0; d < opts->nr_devices && ret == 0; d++) {
		const struct device_spec *spec = &opts->devices[d];
		const char *const *extra = spec->type->syscalls ? spec->type->syscalls(spec->config.bytes) : NULL;

		for (; extra && *extra && ret == 0; extra++)
			ret = allow(ctx, *extra, err, errlen);
	}
	/* Opening files fails quietly (EACCES) instead of trapping: glibc's
	 * malloc reads /proc/sys/vm/overcommit_memory the first time it
	 * trims a thread's heap (e.g. after a disk's I/O threads freed
	 * buffers), at a moment nobody can predict, and copes without it.
	 * skiff itself opens every file before the filter goes on. Removing
	 * files fails the same way: a console's socket stays behind at exit
	 * and the next skiff replaces it (devices/virtio-console.c). */
	for (size_t i = 0; i < sizeof(fail_quietly) / sizeof(fail_quietly[0]) && ret == 0; i++) {
		int nr = seccomp_syscall_resolve_name(fail_quietly[i]);
		if (nr == __NR_SCMP_ERROR)
			continue;
		ret = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EACCES), nr, 0);
		if (ret < 0)
			err_printf(err, errlen, "seccomp: cannot add a rule for %s: %s", fail_quietly[i], strerror(-ret));
	}
	if (ret == 0 && (ret = seccomp_load(ctx)) < 0)
		err_printf(err, errlen, "seccomp: cannot load the filter: %s", strerror(-ret));
	seccomp_release(ctx);
	return ret;
}
