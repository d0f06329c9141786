/* The sandbox: what each of skiff's threads may do once the machine runs,
 * and putting it in place. See sandbox.h.
 *
 * The union of the lists is what strace found over boots of Linux and the
 * test guest with every device (the first, single filter), plus the C
 * library's own needs for threads and malloc; its split into roles comes
 * from reading each thread's code paths and what the libraries running on
 * them import (nm -D libslirp.so: its UDP receive asks FIONREAD). A call
 * a role lacks stops skiff with a message naming it: add it here, to the
 * narrowest group that explains it. */
#include "vmm/sandbox.h"
#include "devices/device-types.h"
#include "devices/virtio-console.h"
#include "vmm/exit-status.h"
#include "vmm/jail.h"
#include "vmm/landlock.h"
#include "base/fd-class.h"
#include "base/log.h"
#include "vmm/seccomp.h"
#include "base/terminal.h"

#include <errno.h>
#include <linux/fs.h>
#include <linux/if_tun.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

/* ---- what the roles may do ---- */

enum call_group {
	CALLS_CORE,         /* every thread: I/O on fds it holds, memory, futexes, signals, clocks */
	CALLS_EVENTS,       /* epoll and the eventfds/timerfds on it (the reactor's API) */
	CALLS_VCPU_TIMER,   /* a vCPU's watchdog (created before its role filter) */
	CALLS_DISK_SUBMIT,  /* io_uring submissions: the reactor, the reaper, a disk's close */
	CALLS_DISK_SYNC,    /* the block worker pool's synchronous I/O */
	CALLS_SOCKET_SERVE, /* the control socket's clients (--api-sock) */
	CALLS_ACCEPT,       /* a console port's socket client */
	CALLS_REMOVE_FILES, /* sockets removed at exit (--api-sock, console ports) */
	CALLS_SETUP,        /* the process-wide filter only: what threads do before their role */
	NR_CALL_GROUPS
};

static const char *const call_groups[NR_CALL_GROUPS][40] = {
	[CALLS_CORE] = {"read", "write", "readv", "writev", "close", "poll", "ppoll", "futex", "exit", "exit_group",
			"gettid", "getpid", "tgkill", "rt_sigreturn", "rt_sigprocmask", "rt_sigaction", "sigaltstack",
			"restart_syscall", "clock_gettime", "clock_nanosleep", "nanosleep", "sched_yield",
			"sched_getaffinity", "munmap", "madvise", "brk", "mremap", "getrandom", "set_robust_list",
			"rseq", "prlimit64",
			/* time() and gettimeofday() (jansson's hash seed) where the vDSO is missing */
			"time", "gettimeofday",
			/* glibc's qsort() (virtio-balloon's PFN batches) asks for the RAM size */
			"sysinfo",
			/* stdio's checks on stdout/stderr */
			"fstat", "newfstatat", "lseek"},
	[CALLS_EVENTS] = {"epoll_wait", "epoll_pwait", "epoll_ctl", "eventfd2", "timerfd_create", "timerfd_settime"},
	[CALLS_VCPU_TIMER] = {"timer_settime", "timer_delete"},
	[CALLS_DISK_SUBMIT] = {"io_uring_enter"},
	[CALLS_DISK_SYNC] = {"preadv", "pwritev", "pread64", "pwrite64", "fdatasync", "fallocate"},
	[CALLS_SOCKET_SERVE] = {"accept4", "recvfrom", "sendto"},
	[CALLS_ACCEPT] = {"accept4"},
	[CALLS_REMOVE_FILES] = {"unlink"},
	/* libseccomp's load: no_new_privs, then seccomp(); pthread_setname_np;
	 * each thread's Landlock ruleset; a vCPU's watchdog timer; a thread
	 * started during set-up joining the jail (vmm/jail.c) */
	[CALLS_SETUP] = {"prctl", "seccomp", "landlock_restrict_self", "timer_create", "unshare", "setns",
			 "setgroups", "setresgid", "setresuid", "getresuid", "getresgid", "getgroups", "geteuid"},
};

/* ioctl requests after set-up, by what they act on. TIOCSTI is in none. */
enum ioctl_group {
	IOCTLS_TERMINAL,  /* isatty(), raw mode restored on any exit, the console's size */
	IOCTLS_VCPU,      /* a vCPU's own state (KVM_RUN, and swkvm's emulation) */
	IOCTLS_VCPU_REGS, /* where the vCPUs stopped, logged by the main thread at exit */
	IOCTLS_IRQ,       /* interrupts and their routes, from every thread that completes requests */
	IOCTLS_PROBE,     /* the VM's capabilities, asked of /dev/kvm on hosts too old to ask the VM */
	IOCTLS_CLOCK,     /* pause and resume (--api-sock) */
	IOCTLS_TAP,       /* offloads and queues the guest negotiates (devices/net-tap.c) */
	IOCTLS_DISCARD,   /* discards on a block device (devices/block-engine-pool.c) */
	IOCTLS_SOCKET,    /* bytes waiting on a socket: libslirp's UDP receive */
	NR_IOCTL_GROUPS
};

/* The descriptors each group's requests are allowed on. The disks' and
 * slirp's sockets are not noted anywhere (nor known at lock-down, for
 * slirp): their requests are harmless on other descriptors. */
enum fd_kind {
	ON_TERMINAL = FD_CLASS_COUNT, /* fds 0-2 */
	ON_ANY,
};

static const int ioctl_group_fds[NR_IOCTL_GROUPS] = {
	[IOCTLS_TERMINAL] = ON_TERMINAL, [IOCTLS_VCPU] = FD_CLASS_VCPU, [IOCTLS_VCPU_REGS] = FD_CLASS_VCPU,
	[IOCTLS_IRQ] = FD_CLASS_VM,      [IOCTLS_PROBE] = FD_CLASS_KVM, [IOCTLS_CLOCK] = FD_CLASS_VM,
	[IOCTLS_TAP] = FD_CLASS_TAP,     [IOCTLS_DISCARD] = ON_ANY,     [IOCTLS_SOCKET] = ON_ANY,
};

static const unsigned long ioctl_groups[NR_IOCTL_GROUPS][24] = {
	[IOCTLS_TERMINAL] = {TCGETS, TCSETS, TCSETSW, TCSETSF, TIOCGWINSZ},
	[IOCTLS_VCPU] = {KVM_RUN, KVM_GET_REGS, KVM_SET_REGS, KVM_GET_SREGS, KVM_SET_SREGS, KVM_GET_FPU, KVM_SET_FPU,
			 KVM_TRANSLATE, KVM_GET_MSRS, KVM_SET_MSRS, KVM_GET_VCPU_EVENTS, KVM_SET_VCPU_EVENTS,
			 KVM_GET_XCRS, KVM_SET_XCRS, KVM_GET_XSAVE, KVM_SET_XSAVE, KVM_GET_LAPIC, KVM_SET_LAPIC,
			 KVM_KVMCLOCK_CTRL},
	[IOCTLS_VCPU_REGS] = {KVM_GET_REGS},
	[IOCTLS_IRQ] = {KVM_IRQ_LINE, KVM_SIGNAL_MSI, KVM_IRQFD, KVM_IOEVENTFD, KVM_SET_GSI_ROUTING,
			KVM_CHECK_EXTENSION},
	[IOCTLS_PROBE] = {KVM_CHECK_EXTENSION},
	[IOCTLS_CLOCK] = {KVM_GET_CLOCK, KVM_SET_CLOCK},
	[IOCTLS_TAP] = {TUNSETOFFLOAD, TUNSETQUEUE},
	[IOCTLS_DISCARD] = {BLKDISCARD},
	[IOCTLS_SOCKET] = {FIONREAD},
};

#define BIT(n) (1u << (n))
/* Interrupts, with the capability checks behind them. */
#define IOCTLS_INTERRUPTS (BIT(IOCTLS_IRQ) | BIT(IOCTLS_PROBE))

struct role_policy {
	const char *name;
	unsigned calls, ioctls; /* BIT(enum call_group), BIT(enum ioctl_group) */
	bool device_calls;      /* runs device models: gets what devices asked for */
	bool own_batch;         /* may move itself to SCHED_BATCH and back (base/reactor.c) */
};

static const struct role_policy roles[THREAD_ROLE_COUNT] = {
	/* The console loop (UART input), then stopping and tearing down. */
	[THREAD_ROLE_MAIN] = {"main", BIT(CALLS_CORE) | BIT(CALLS_EVENTS) | BIT(CALLS_DISK_SUBMIT) |
				      BIT(CALLS_REMOVE_FILES),
			      BIT(IOCTLS_TERMINAL) | BIT(IOCTLS_VCPU_REGS) | IOCTLS_INTERRUPTS, false},
	/* Register exits only: a kick becomes a write to the queue's eventfd
	 * and the reactor serves the queue (virtio/kvm-platform.c), so no
	 * disk submissions and no device's extra calls (slirp's sockets). */
	[THREAD_ROLE_VCPU] = {"vcpu", BIT(CALLS_CORE) | BIT(CALLS_EVENTS) | BIT(CALLS_VCPU_TIMER),
			      BIT(IOCTLS_TERMINAL) | BIT(IOCTLS_VCPU) | IOCTLS_INTERRUPTS | BIT(IOCTLS_TAP), false},
	[THREAD_ROLE_REACTOR] = {"reactor", BIT(CALLS_CORE) | BIT(CALLS_EVENTS) | BIT(CALLS_DISK_SUBMIT) |
					    BIT(CALLS_SOCKET_SERVE),
				 BIT(IOCTLS_TERMINAL) | IOCTLS_INTERRUPTS | BIT(IOCTLS_CLOCK) | BIT(IOCTLS_TAP) |
					 BIT(IOCTLS_SOCKET),
				 true, true},
	[THREAD_ROLE_BLOCK_IO] = {"block I/O", BIT(CALLS_CORE) | BIT(CALLS_DISK_SUBMIT) | BIT(CALLS_DISK_SYNC),
				  BIT(IOCTLS_TERMINAL) | IOCTLS_INTERRUPTS | BIT(IOCTLS_DISCARD), false},
	[THREAD_ROLE_CONSOLE_IO] = {"console I/O", BIT(CALLS_CORE) | BIT(CALLS_ACCEPT),
				    BIT(IOCTLS_TERMINAL) | IOCTLS_INTERRUPTS, false},
	[THREAD_ROLE_NET_USER] = {"slirp", BIT(CALLS_CORE), BIT(IOCTLS_TERMINAL) | IOCTLS_INTERRUPTS | BIT(IOCTLS_SOCKET),
				  true},
};

/* Fail instead of stopping skiff. glibc's malloc opens
 * /proc/sys/vm/overcommit_memory the first time it trims a thread's heap,
 * at a moment nobody can predict, and copes without it: open and openat
 * fail with EACCES (vmm/seccomp.c); removing files by directory fd too. */
static const char *const fail_quietly[] = {"unlinkat"};

/* ---- what the devices ask for ---- */

static const struct options *sandbox_opts;
static bool use_seccomp, use_landlock;

#define MAX_DEVICE_READS 16

/* The files devices read while the guest runs (device_type.reads). */
static unsigned device_reads(const char *out[MAX_DEVICE_READS + 1])
{
	unsigned n = 0;

	for (unsigned d = 0; sandbox_opts && d < sandbox_opts->nr_devices; d++) {
		const struct device_spec *spec = &sandbox_opts->devices[d];
		const char *const *reads = spec->type->reads ? spec->type->reads(spec->config.bytes) : NULL;

		for (; reads && *reads && n < MAX_DEVICE_READS; reads++)
			out[n++] = *reads;
	}
	out[n] = NULL;
	return n;
}

/* ---- which descriptors ioctl requests act on ---- */

static int kind_fd[ON_TERMINAL + 1][FD_CLASS_MAX];
static struct seccomp_fds kind_fds[ON_TERMINAL + 1];

/* The classes' descriptors as they are now: at lock-down, when every
 * one is open. 0, or -ENOSPC with err set. */
static int note_fds(char *err, size_t errlen)
{
	for (int k = 0; k < FD_CLASS_COUNT; k++) {
		int n = fd_class_list(k, kind_fd[k]);
		if (n < 0) {
			err_printf(err, errlen, "seccomp: more than %d descriptors of one kind to bind ioctls to",
				   FD_CLASS_MAX);
			return n;
		}
		kind_fds[k] = (struct seccomp_fds){kind_fd[k], (unsigned)n};
	}
	for (int fd = 0; fd < 3; fd++)
		kind_fd[ON_TERMINAL][fd] = fd;
	kind_fds[ON_TERMINAL] = (struct seccomp_fds){kind_fd[ON_TERMINAL], 3};
	return 0;
}

static const struct seccomp_fds *group_fds(enum ioctl_group g)
{
	return ioctl_group_fds[g] == ON_ANY ? NULL : &kind_fds[ioctl_group_fds[g]];
}

/* ---- building a seccomp policy ---- */

static int policy_add_role(struct seccomp_policy *p, const struct role_policy *role, char *err, size_t errlen)
{
	const char *reads[MAX_DEVICE_READS + 1];
	int ret = 0;

	for (unsigned g = 0; g < NR_CALL_GROUPS; g++)
		for (unsigned i = 0; (role->calls & BIT(g)) && call_groups[g][i] && ret == 0; i++)
			ret = seccomp_policy_allow(p, call_groups[g][i], err, errlen);
	for (unsigned g = 0; g < NR_IOCTL_GROUPS; g++)
		for (unsigned i = 0; (role->ioctls & BIT(g)) && ioctl_groups[g][i] && ret == 0; i++)
			ret = seccomp_policy_allow_ioctl(p, ioctl_groups[g][i], group_fds(g), err, errlen);
	for (unsigned d = 0; role->device_calls && sandbox_opts && d < sandbox_opts->nr_devices && ret == 0; d++) {
		const struct device_spec *spec = &sandbox_opts->devices[d];
		const char *const *extra = spec->type->syscalls ? spec->type->syscalls(spec->config.bytes) : NULL;

		for (; extra && *extra && ret == 0; extra++)
			ret = seccomp_policy_allow(p, *extra, err, errlen);
	}
	if (role->own_batch)
		p->own_batch = true;
	/* Which files may be opened is Landlock's to say (read-only here). */
	if (ret == 0 && role->device_calls && device_reads(reads))
		ret = seccomp_policy_allow(p, "openat", err, errlen);
	for (size_t i = 0; i < sizeof(fail_quietly) / sizeof(fail_quietly[0]) && ret == 0; i++)
		ret = seccomp_policy_fail(p, fail_quietly[i], EACCES, err, errlen);
	return ret;
}

/* Every role's calls, and stacking the role filters. */
static int policy_process_wide(struct seccomp_policy *p, char *err, size_t errlen)
{
	struct role_policy setup = {"set-up", BIT(CALLS_SETUP), 0, false};
	int ret = policy_add_role(p, &setup, err, errlen);

	for (unsigned r = 0; r < THREAD_ROLE_COUNT && ret == 0; r++)
		ret = policy_add_role(p, &roles[r], err, errlen);
	p->threads = true; /* vCPUs, the reactor and devices start after it */
	return ret;
}

/* ---- Landlock ---- */

static int landlock_fd[THREAD_ROLE_COUNT] = {-1, -1, -1, -1, -1, -1};

/* One ruleset per role: the threads that run device models may read what
 * the devices named; the main thread may still remove its sockets at exit
 * (seccomp allows unlink there only); nothing else anywhere. */
static void landlock_forget(void)
{
	for (unsigned r = 0; r < THREAD_ROLE_COUNT; r++) {
		if (landlock_fd[r] >= 0)
			close(landlock_fd[r]);
		landlock_fd[r] = -1;
	}
}

static int landlock_prepare(char *err, size_t errlen)
{
	const char *reads[MAX_DEVICE_READS + 1];
	int ret = 0;

	device_reads(reads);
	for (unsigned r = 0; r < THREAD_ROLE_COUNT && ret == 0; r++) {
		int fd = landlock_ruleset_create(roles[r].device_calls ? reads : NULL, r == THREAD_ROLE_MAIN, err, errlen);
		if (fd < 0)
			ret = fd;
		else
			landlock_fd[r] = fd;
	}
	if (ret < 0)
		landlock_forget();
	if (ret == -ENOSYS || ret == -EOPNOTSUPP) {
		log_warn(NULL, "%s: no file-system sandbox (it needs Linux 5.13+ with Landlock enabled)", err);
		return 0;
	}
	return ret;
}

/* ---- the jail ---- */

/* A device that opens sockets of its own (backend=user) needs the host's
 * network; TAP descriptors work from any namespace. */
static bool needs_host_network(void)
{
	for (unsigned d = 0; d < sandbox_opts->nr_devices; d++) {
		const struct device_spec *spec = &sandbox_opts->devices[d];
		const char *const *extra = spec->type->syscalls ? spec->type->syscalls(spec->config.bytes) : NULL;

		for (; extra && *extra; extra++)
			if (strcmp(*extra, "socket") == 0)
				return true;
	}
	return false;
}

/* Sockets skiff made are removed by path at exit: the control socket and
 * a console's socket ports. */
static bool removes_files_at_exit(void)
{
	bool sockets = sandbox_opts->api_sock != NULL;

	for (unsigned d = 0; d < sandbox_opts->nr_devices && !sockets; d++) {
		const struct device_spec *spec = &sandbox_opts->devices[d];
		const struct virtio_console_config_opts *c = (const void *)spec->config.bytes;

		for (unsigned i = 0; spec->type == &virtio_console_type && i < c->nports; i++)
			sockets |= c->ports[i]->kind == CONSOLE_PORT_SOCKET;
	}
	return sockets;
}

/* The main thread's namespaces, where the devices allow them. They need
 * root: without, a debug line; as root a failure (no CAP_SYS_ADMIN in a
 * container, a kernel without them) is one warning line. */
static void jail_namespaces(void)
{
	const char *reads[MAX_DEVICE_READS + 1];
	bool mount = device_reads(reads) == 0 && !removes_files_at_exit();
	bool net = !needs_host_network();
	char err[200];

	if (geteuid() != 0)
		log_debug(NULL, "no mount or network namespaces: skiff was not started as root");
	else if ((mount || net) && jail_enter_namespaces(mount, net, err, sizeof(err)) < 0)
		log_warn(NULL, "%s: skiff goes on in the host's", err);
}

/* ---- a thread's own confinement ---- */

/* A thread that must not go on unconfined: stop skiff, as on SIGSYS. */
static void jail_failed(enum thread_role role, const char *why)
{
	log_error(NULL, "%s thread: %s", roles[role].name, why);
	terminal_restore();
	_exit(EXIT_ERROR);
}

/* The jail, Landlock, then the role's seccomp filter (which has no
 * Landlock calls). */
static int confine_thread(enum thread_role role, char *err, size_t errlen)
{
	struct seccomp_policy p;
	int ret = jail_join();

	if (ret < 0) {
		err_printf(err, errlen, "cannot join the namespaces: %s", strerror(-ret));
		jail_failed(role, err);
	}
	if (sandbox_opts->switch_user &&
	    jail_switch_user(sandbox_opts->user_uid, sandbox_opts->user_gid, err, errlen) < 0)
		jail_failed(role, err);
	if (landlock_fd[role] >= 0 && (ret = landlock_confine_self(landlock_fd[role])) < 0)
		err_printf(err, errlen, "landlock: %s", strerror(-ret));
	if (ret == 0 && use_seccomp) {
		seccomp_policy_init(&p);
		ret = policy_add_role(&p, &roles[role], err, errlen);
		if (ret == 0)
			ret = seccomp_policy_load(&p, false, err, errlen);
	}
	return ret;
}

/* ---- SIGSYS ---- */

/* A blocked call is a skiff bug, not a guest's doing: say which call,
 * leave the terminal usable, and stop. Async-signal-safe only. */
static void sandbox_sigsys(int sig, siginfo_t *info, void *uctx)
{
	char msg[160];
	(void)sig;
	(void)uctx;
	int n = snprintf(msg, sizeof(msg),
			 "\r\nskiff: seccomp blocked system call %d in thread %d; this is a skiff bug (--seccomp off)\r\n",
			 info->si_syscall, (int)gettid());
	terminal_restore();
	if (n > 0)
		(void)!write(STDERR_FILENO, msg, n);
	_exit(EXIT_VCPU_ERROR);
}

static int seccomp_lock_down(char *err, size_t errlen)
{
	struct seccomp_policy p;
	struct sigaction sa = {.sa_sigaction = sandbox_sigsys, .sa_flags = SA_SIGINFO};

	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSYS, &sa, NULL) < 0) {
		err_printf(err, errlen, "seccomp: cannot handle SIGSYS: %s", strerror(errno));
		return -errno;
	}
	seccomp_policy_init(&p);
	int ret = note_fds(err, errlen);
	if (ret == 0)
		ret = policy_process_wide(&p, err, errlen);
	return ret < 0 ? ret : seccomp_policy_load(&p, true, err, errlen);
}

/* ---- the gate ---- */

static enum { SANDBOX_UNPLANNED, SANDBOX_PENDING, SANDBOX_ON, SANDBOX_OFF } sandbox_state;
static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_open = PTHREAD_COND_INITIALIZER;

static void set_state(int state)
{
	pthread_mutex_lock(&gate_lock);
	sandbox_state = state;
	pthread_cond_broadcast(&gate_open);
	pthread_mutex_unlock(&gate_lock);
}

/* thread_role_enter() once planned. */
static void sandbox_thread_enter(enum thread_role role)
{
	char err[256];

	pthread_mutex_lock(&gate_lock);
	while (sandbox_state == SANDBOX_PENDING)
		pthread_cond_wait(&gate_open, &gate_lock);
	bool on = sandbox_state == SANDBOX_ON;
	pthread_mutex_unlock(&gate_lock);
	/* On failure the thread still has the process-wide filter. */
	if (on && confine_thread(role, err, sizeof(err)) < 0)
		log_error(NULL, "%s thread: %s", roles[role].name, err);
}

void sandbox_plan(const struct options *opts)
{
	sandbox_opts = opts;
	landlock_forget();
	use_seccomp = opts->sandbox && opts->seccomp;
	use_landlock = opts->sandbox;
	set_state(use_seccomp || use_landlock || opts->switch_user ? SANDBOX_PENDING : SANDBOX_OFF);
	thread_role_set_hook(sandbox_thread_enter);
}

void sandbox_release(void)
{
	pthread_mutex_lock(&gate_lock);
	if (sandbox_state == SANDBOX_PENDING)
		sandbox_state = SANDBOX_OFF;
	pthread_cond_broadcast(&gate_open);
	pthread_mutex_unlock(&gate_lock);
	jail_forget();
}

int sandbox_lock_down(char *err, size_t errlen)
{
	int ret = 0;

	pthread_mutex_lock(&gate_lock);
	bool pending = sandbox_state == SANDBOX_PENDING;
	pthread_mutex_unlock(&gate_lock);
	if (!pending)
		return 0; /* --sandbox off, no --user */
	/* Let the C library do its lazy file reads now: the first gmtime_r()
	 * (the CMOS clock) reads /etc/localtime. */
	tzset();
	/* The rulesets first: the process-wide filter has no Landlock set-up calls. */
	if (use_landlock)
		ret = landlock_prepare(err, errlen);
	/* Then the jail: namespaces while still root, root given up last. */
	if (ret == 0 && sandbox_opts->sandbox)
		jail_namespaces();
	if (ret == 0 && sandbox_opts->switch_user)
		ret = jail_switch_user(sandbox_opts->user_uid, sandbox_opts->user_gid, err, errlen);
	if (ret == 0 && use_seccomp)
		ret = seccomp_lock_down(err, errlen);
	set_state(ret == 0 ? SANDBOX_ON : SANDBOX_OFF);
	return ret;
}
