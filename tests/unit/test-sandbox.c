/* Unit tests of the sandbox (vmm/sandbox.c, vmm/seccomp.c) and the block
 * backend's restricted io_uring (devices/block-ring.c). Each filter test
 * runs in a forked child that puts the real filters on itself and then
 * tries calls: a forbidden one must end in SIGSYS (or the errno chosen
 * for it), an allowed one must reach the kernel. Without the filter under
 * test every forbidden call here would return instead, and the test fail. */
#include <check.h>
#include "tests/unit/check-run.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <linux/landlock.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <linux/if_tun.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "devices/block-backend.h"
#include "devices/block-ring.h"
#include "base/fd-class.h"
#include "base/thread-role.h"
#include "vmm/sandbox.h"
#include "vmm/seccomp.h"

#define TRAPPED 100 /* a child's exit status after SIGSYS */

static int trap_pipe = -1;

/* Report which call was stopped, and end the child. */
static void on_sigsys(int sig, siginfo_t *info, void *uctx)
{
	int nr = info->si_syscall;
	(void)sig;
	(void)uctx;
	(void)!write(trap_pipe, &nr, sizeof(nr));
	_exit(TRAPPED);
}

/* In the child: the process-wide filter, and this test's SIGSYS reporter
 * (the sandbox's own would end the process with a message), as
 * sandbox_plan() planned it. Plan once: threads started in between
 * already wait on that plan. */
/* Stand-ins for the descriptors ioctl requests are bound to, noted as
 * kvm/ and devices/net-tap.c note the real ones: eventfds, on which
 * every KVM or TAP request that gets through fails with ENOTTY. A call's
 * fd argument names them with these markers (see do_call()). */
enum { FAKE_KVM = -100, FAKE_VM, FAKE_VCPU, FAKE_TAP, FAKE_OTHER, FAKE_END };
static int fake_fd[FAKE_END - FAKE_KVM];

static void note_fake_fds(void)
{
	static const enum fd_class class[] = {FD_CLASS_KVM, FD_CLASS_VM, FD_CLASS_VCPU, FD_CLASS_TAP};

	for (int i = 0; i < FAKE_END - FAKE_KVM; i++) {
		fake_fd[i] = eventfd(0, EFD_CLOEXEC);
		if (fake_fd[i] < 0)
			_exit(5);
		if (i < (int)(sizeof(class) / sizeof(class[0])))
			fd_class_note(class[i], fake_fd[i]);
	}
}

static void child_lock_down_planned(void)
{
	char err[256];

	note_fake_fds();
	if (sandbox_lock_down(err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		_exit(3);
	}
	struct sigaction sa = {.sa_sigaction = on_sigsys, .sa_flags = SA_SIGINFO};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGSYS, &sa, NULL);
}

static void child_lock_down(const struct options *opts)
{
	sandbox_plan(opts);
	child_lock_down_planned();
}

/* ... then the role's filter, through the hook skiff's threads call. */
static void child_enter_sandbox(enum thread_role role, const struct options *opts)
{
	child_lock_down(opts);
	thread_role_enter(role);
}

/* Run fn in a child; returns its exit status, *trapped_nr the call it was
 * stopped on (-1: none). */
static int run_child(void (*fn)(const void *arg), const void *arg, int *trapped_nr)
{
	int fds[2];
	ck_assert_int_eq(pipe(fds), 0);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		close(fds[0]);
		trap_pipe = fds[1];
		fn(arg);
		_exit(0);
	}
	close(fds[1]);
	int status, nr = -1;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	if (read(fds[0], &nr, sizeof(nr)) != sizeof(nr))
		nr = -1;
	close(fds[0]);
	*trapped_nr = nr;
	ck_assert_msg(WIFEXITED(status), "child died of signal %d", WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	return WEXITSTATUS(status);
}

/* ---- one role, one call ---- */

struct call {
	long nr;
	long a[3];
};

struct role_case {
	enum thread_role role;
	struct call allowed; /* must reach the kernel: returns allowed_errno (-1: any result) */
	int allowed_errno;
	struct call forbidden; /* must be stopped */
};

static char tiocsti_byte = 'x';
static const struct sched_param no_priority; /* SCHED_OTHER and SCHED_BATCH take priority 0 */

/* Forbidden for every role: no new sockets, no programs, no typing into
 * the terminal. */
static const struct call forbidden_everywhere[] = {
	{SYS_socket, {AF_INET, SOCK_STREAM, 0}},
	{SYS_execve, {0, 0, 0}},
	{SYS_ioctl, {0, TIOCSTI, 0}}, /* a[2] set at run time */
	{SYS_ptrace, {0, 0, 0}},
	/* No executable memory after start-up, no processes (a clone without
	 * CLONE_THREAD; this one would be EINVAL if it reached the kernel). */
	{SYS_mmap, {0, 4096, PROT_READ | PROT_EXEC}},
	{SYS_mprotect, {0, 4096, PROT_READ | PROT_EXEC}},
	{SYS_clone, {CLONE_SIGHAND, 0, 0}},
	/* The jail's calls are for threads joining it, before their role. */
	{SYS_setns, {-1, 0, 0}},
	{SYS_unshare, {CLONE_FS, 0, 0}},
	{SYS_setresuid, {-1, -1, -1}},
};

static const struct role_case role_cases[] = {
	/* A vCPU runs KVM_RUN, but never serves a socket or a queue. */
	{THREAD_ROLE_VCPU, {SYS_ioctl, {FAKE_VCPU, KVM_RUN, 0}}, ENOTTY, {SYS_accept4, {-1, 0, 0}}},
	{THREAD_ROLE_VCPU, {SYS_ioctl, {FAKE_VM, KVM_IRQ_LINE, 0}}, ENOTTY, {SYS_io_uring_enter, {-1, 0, 0}}},
	/* Each request only on the descriptors of its kind: vCPU requests on
	 * a vCPU, VM requests on the VM, TAP ones on a TAP, terminal ones on
	 * fds 0-2. */
	{THREAD_ROLE_VCPU, {SYS_ioctl, {FAKE_VCPU, KVM_RUN, 0}}, ENOTTY, {SYS_ioctl, {FAKE_VM, KVM_RUN, 0}}},
	{THREAD_ROLE_VCPU, {SYS_ioctl, {FAKE_VCPU, KVM_GET_REGS, 0}}, ENOTTY,
	 {SYS_ioctl, {FAKE_OTHER, KVM_SET_REGS, 0}}},
	{THREAD_ROLE_VCPU, {SYS_ioctl, {FAKE_VM, KVM_IRQ_LINE, 0}}, ENOTTY, {SYS_ioctl, {FAKE_VCPU, KVM_IRQ_LINE, 0}}},
	{THREAD_ROLE_VCPU, {SYS_ioctl, {FAKE_TAP, TUNSETOFFLOAD, 0}}, ENOTTY,
	 {SYS_ioctl, {FAKE_VM, TUNSETOFFLOAD, 0}}},
	{THREAD_ROLE_VCPU, {SYS_ioctl, {0, TIOCGWINSZ, 0}}, -1, {SYS_ioctl, {FAKE_OTHER, TIOCGWINSZ, 0}}},
	{THREAD_ROLE_MAIN, {SYS_ioctl, {FAKE_KVM, KVM_CHECK_EXTENSION, 0}}, ENOTTY,
	 {SYS_ioctl, {FAKE_OTHER, KVM_CHECK_EXTENSION, 0}}},
	/* The main thread reads where the vCPUs stopped, and sets nothing. */
	{THREAD_ROLE_MAIN, {SYS_ioctl, {FAKE_VCPU, KVM_GET_REGS, 0}}, ENOTTY,
	 {SYS_ioctl, {FAKE_VCPU, KVM_SET_REGS, 0}}},
	/* The reactor serves the control socket, but never runs a vCPU. */
	{THREAD_ROLE_REACTOR, {SYS_accept4, {-1, 0, 0}}, EBADF, {SYS_ioctl, {FAKE_VCPU, KVM_RUN, 0}}},
	/* Block I/O syncs and discards, but accepts nothing. */
	{THREAD_ROLE_BLOCK_IO, {SYS_fdatasync, {-1, 0, 0}}, EBADF, {SYS_accept4, {-1, 0, 0}}},
	/* The console accepts its port's client, but never touches a disk. */
	{THREAD_ROLE_CONSOLE_IO, {SYS_accept4, {-1, 0, 0}}, EBADF, {SYS_io_uring_enter, {-1, 0, 0}}},
	/* slirp's thread polls, and never touches a disk or a vCPU. */
	{THREAD_ROLE_NET_USER, {SYS_close, {-1, 0, 0}}, EBADF, {SYS_fdatasync, {-1, 0, 0}}},
	{THREAD_ROLE_NET_USER, {SYS_ioctl, {-1, FIONREAD, 0}}, EBADF, {SYS_ioctl, {FAKE_VCPU, KVM_RUN, 0}}},
	/* The reactor moves itself between SCHED_OTHER and SCHED_BATCH
	 * (base/reactor.c, Streams): no real-time policy, no other thread. */
	{THREAD_ROLE_REACTOR, {SYS_sched_setscheduler, {0, SCHED_BATCH, (long)&no_priority}}, -1,
	 {SYS_sched_setscheduler, {0, SCHED_FIFO, (long)&no_priority}}},
	{THREAD_ROLE_REACTOR, {SYS_sched_setscheduler, {0, SCHED_OTHER, (long)&no_priority}}, -1,
	 {SYS_sched_setscheduler, {1, SCHED_BATCH, (long)&no_priority}}},
	{THREAD_ROLE_REACTOR, {SYS_sched_setscheduler, {0, SCHED_BATCH, (long)&no_priority}}, -1,
	 {SYS_sched_setscheduler, {0, SCHED_BATCH | SCHED_RESET_ON_FORK, (long)&no_priority}}},
	/* No other role changes its policy. */
	{THREAD_ROLE_VCPU, {SYS_ioctl, {FAKE_VCPU, KVM_RUN, 0}}, ENOTTY,
	 {SYS_sched_setscheduler, {0, SCHED_BATCH, (long)&no_priority}}},
	/* The main thread removes its sockets at exit, and starts no thread. */
	{THREAD_ROLE_MAIN, {SYS_unlink, {(long)"/nonexistent/skiff", 0, 0}}, ENOENT, {SYS_pwrite64, {-1, 0, 0}}},
};

#define NR_ROLE_CASES (sizeof(role_cases) / sizeof(role_cases[0]))
#define NR_EVERYWHERE (sizeof(forbidden_everywhere) / sizeof(forbidden_everywhere[0]))

static long do_call(const struct call *c)
{
	long a0 = c->a[0] >= FAKE_KVM && c->a[0] < FAKE_END ? fake_fd[c->a[0] - FAKE_KVM] : c->a[0];
	long a2 = c->nr == SYS_ioctl && c->a[1] == TIOCSTI ? (long)&tiocsti_byte : c->a[2];
	return syscall(c->nr, a0, c->a[1], a2);
}

struct role_run {
	const struct role_case *rc;
	const struct call *forbidden;
};

static void child_role(const void *arg)
{
	const struct role_run *run = arg;
	struct options opts = {.seccomp = true, .sandbox = true};

	child_enter_sandbox(run->rc->role, &opts);
	errno = 0;
	long got = do_call(&run->rc->allowed);
	if (run->rc->allowed_errno >= 0 && (got != -1 || errno != run->rc->allowed_errno))
		_exit(4); /* the allowed call did not reach the kernel */
	do_call(run->forbidden);
	_exit(0); /* not stopped */
}

static void check_role_call(const struct role_case *rc, const struct call *forbidden)
{
	struct role_run run = {rc, forbidden};
	int nr, status = run_child(child_role, &run, &nr);

	ck_assert_msg(status == TRAPPED, "role %d: call %ld was not stopped (child exit %d)", rc->role, forbidden->nr,
		      status);
	ck_assert_int_eq(nr, forbidden->nr);
}

/* Loop index: a role, and its own forbidden call. */
START_TEST(role_stops_its_forbidden_call)
{
	check_role_call(&role_cases[_i], &role_cases[_i].forbidden);
}
END_TEST

/* Loop index: a role x a call no thread may make. */
START_TEST(role_stops_calls_forbidden_everywhere)
{
	check_role_call(&role_cases[_i / NR_EVERYWHERE], &forbidden_everywhere[_i % NR_EVERYWHERE]);
}
END_TEST

/* ---- many vCPUs ---- */

/* 64 vCPU descriptors (skiff's most) in uneven runs, with one-fd gaps
 * after the 1st, 6th, 23rd and 40th: each block the filter compares
 * against must hold noted fds only. */
#define MANY_VCPUS 64
static const unsigned vcpu_gaps[] = {1, 6, 23, 40};
#define NR_VCPU_GAPS (sizeof(vcpu_gaps) / sizeof(vcpu_gaps[0]))

static void child_many_vcpus(const void *arg)
{
	struct options opts = {.seccomp = true, .sandbox = true};
	int vcpu[MANY_VCPUS], gap[NR_VCPU_GAPS];

	for (unsigned i = 0, g = 0; i < MANY_VCPUS; i++) {
		if (g < NR_VCPU_GAPS && i == vcpu_gaps[g] && (gap[g++] = eventfd(0, EFD_CLOEXEC)) < 0)
			_exit(5);
		if ((vcpu[i] = eventfd(0, EFD_CLOEXEC)) < 0)
			_exit(5);
		fd_class_note(FD_CLASS_VCPU, vcpu[i]);
	}
	child_enter_sandbox(THREAD_ROLE_VCPU, &opts);
	for (unsigned i = 0; i < MANY_VCPUS; i++)
		if (ioctl(vcpu[i], KVM_RUN, 0) != -1 || errno != ENOTTY)
			_exit(4);
	ioctl(gap[*(const unsigned *)arg], KVM_RUN, 0);
	_exit(0); /* not stopped */
}

/* Loop index: the gap KVM_RUN is tried on last. */
START_TEST(vcpu_requests_only_on_vcpus)
{
	unsigned which = (unsigned)_i;
	int nr, status = run_child(child_many_vcpus, &which, &nr);

	ck_assert_msg(status == TRAPPED, "KVM_RUN on a non-vCPU fd was not stopped (child exit %d)", status);
	ck_assert_int_eq(nr, SYS_ioctl);
}
END_TEST

/* ---- what threads do before their role ---- */

/* A vCPU thread's start (kvm/vcpu.c) under the process-wide filter alone:
 * its name, its watchdog timer, then its role, and the timer used there. */
static void *vcpu_like_thread(void *arg)
{
	struct sigevent sev = {.sigev_notify = SIGEV_THREAD_ID, .sigev_signo = SIGUSR1};
	struct itimerspec its = {.it_value = {.tv_sec = 1000}};
	timer_t timer;
	int *result = arg;

	sev._sigev_un._tid = gettid();
	pthread_setname_np(pthread_self(), "vcpu0");
	if (timer_create(CLOCK_MONOTONIC, &sev, &timer) < 0) {
		*result = 51;
		return NULL;
	}
	thread_role_enter(THREAD_ROLE_VCPU);
	*result = timer_settime(timer, 0, &its, NULL) < 0 || timer_delete(timer) < 0 ? 52 : 0;
	return NULL;
}

static void child_thread_start(const void *arg)
{
	struct options opts = {.seccomp = true, .sandbox = true};
	pthread_t t;
	int result = 50;

	(void)arg;
	child_lock_down(&opts);
	/* Started from the main thread before its role, as skiff does. */
	if (pthread_create(&t, NULL, vcpu_like_thread, &result) || pthread_join(t, NULL))
		_exit(53);
	_exit(result);
}

START_TEST(threads_start_under_the_process_wide_filter)
{
	int nr, status = run_child(child_thread_start, NULL, &nr);

	ck_assert_msg(status == 0, "child exit %d, system call %d stopped", status, nr);
}
END_TEST

/* ---- opening files ---- */

static bool have_landlock(void)
{
	return syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION) >= 0;
}

#define OPENED_RESOLV_CONF 1
#define OPENED_HOSTNAME    2
#define WRITE_OPEN_REFUSED 4

/* Exit status: which opens worked, as the flags above. */
static void child_open(const void *arg)
{
	const struct options *opts = arg;

	child_enter_sandbox(THREAD_ROLE_REACTOR, opts);
	int w = open("/var/tmp/skiff-sandbox-test", O_WRONLY | O_CREAT, 0600);
	int w_errno = errno;
	int resolv = open("/etc/resolv.conf", O_RDONLY | O_CLOEXEC);
	int hostname = open("/etc/hostname", O_RDONLY | O_CLOEXEC);
	/* In an empty mount namespace (as root) there is nothing to open. */
	bool refused = w < 0 && (w_errno == EACCES || (w_errno == ENOENT && access("/etc", F_OK) < 0));
	_exit((resolv >= 0 ? OPENED_RESOLV_CONF : 0) | (hostname >= 0 ? OPENED_HOSTNAME : 0) |
	      (refused ? WRITE_OPEN_REFUSED : 0));
}

static int open_in_child(const char *device, const char *seccomp)
{
	char *argv[] = {"skiff", "run", "--kernel", "k", "--seccomp", (char *)seccomp, "--device", (char *)device, NULL};
	static struct options opts;
	char err[256];
	int nr, status;

	ck_assert_int_eq(options_parse(device ? 8 : 6, argv, NULL, &opts, err, sizeof(err)), OPTIONS_RUN);
	status = run_child(child_open, &opts, &nr);
	ck_assert_int_eq(nr, -1); /* nothing stopped: opens fail quietly */
	options_free(&opts);
	return status;
}

/* Opens fail with EACCES instead of stopping skiff (glibc's malloc reads
 * /proc on its own). */
START_TEST(opens_fail_quietly)
{
	ck_assert_int_eq(open_in_child(NULL, "on"), WRITE_OPEN_REFUSED);
}
END_TEST

/* backend=user names /etc/resolv.conf (libslirp reads it): the threads
 * that run slirp may open it for reading, and nothing else (Landlock, where
 * the kernel has it; seccomp alone allows every read-only open). */
START_TEST(net_user_reads_only_resolv_conf)
{
	ck_assert_int_eq(open_in_child("net,backend=user", "on"),
			 WRITE_OPEN_REFUSED | OPENED_RESOLV_CONF | (have_landlock() ? 0 : OPENED_HOSTNAME));
}
END_TEST

/* Landlock on its own (--seccomp off): still no writing, no other file. */
START_TEST(landlock_closes_the_file_system)
{
	if (!have_landlock()) {
		fprintf(stderr, "test-sandbox: no Landlock in this kernel: test skipped\n");
		return;
	}
	ck_assert_int_eq(open_in_child("net,backend=user", "off"), WRITE_OPEN_REFUSED | OPENED_RESOLV_CONF);
	ck_assert_int_eq(open_in_child(NULL, "off"), WRITE_OPEN_REFUSED);
}
END_TEST

/* ---- one fate per call ---- */

START_TEST(policy_refuses_two_fates)
{
	struct seccomp_policy p;
	char err[256];

	seccomp_policy_init(&p);
	ck_assert_int_eq(seccomp_policy_allow(&p, "unlink", err, sizeof(err)), 0);
	ck_assert_int_eq(seccomp_policy_fail(&p, "unlink", EACCES, err, sizeof(err)), -EEXIST);
	ck_assert_int_eq(seccomp_policy_fail(&p, "unlinkat", EACCES, err, sizeof(err)), 0);
	ck_assert_int_eq(seccomp_policy_allow(&p, "unlinkat", err, sizeof(err)), -EEXIST);
	ck_assert_int_eq(seccomp_policy_fail(&p, "unlinkat", EPERM, err, sizeof(err)), -EEXIST);
	/* Asked twice for the same fate is fine. */
	ck_assert_int_eq(seccomp_policy_allow(&p, "unlink", err, sizeof(err)), 0);
	ck_assert_int_eq(seccomp_policy_fail(&p, "unlinkat", EACCES, err, sizeof(err)), 0);
	ck_assert_uint_eq(p.nr_allow, 1);
	ck_assert_uint_eq(p.nr_fail, 1);
}
END_TEST

START_TEST(policy_refuses_argument_filtered_names)
{
	static const char *const names[] = {"ioctl", "clone", "clone3", "mmap", "mprotect", "sched_setscheduler"};
	struct seccomp_policy p;
	char err[256];

	seccomp_policy_init(&p);
	for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		ck_assert_int_eq(seccomp_policy_allow(&p, names[i], err, sizeof(err)), -EINVAL);
		ck_assert_int_eq(seccomp_policy_fail(&p, names[i], EPERM, err, sizeof(err)), -EINVAL);
	}
	ck_assert_int_eq(seccomp_policy_fail(&p, "openat", EACCES, err, sizeof(err)), -EINVAL);
	ck_assert(!p.read_only_opens);
	ck_assert_int_eq(seccomp_policy_allow(&p, "openat", err, sizeof(err)), 0);
	ck_assert(p.read_only_opens);
	ck_assert_uint_eq(p.nr_allow, 0);
}
END_TEST

/* ---- every thread ---- */

#define JAIL_UID 65534 /* nobody */
#define JAIL_GID 65533

/* Whether this process may make namespaces (root with CAP_SYS_ADMIN). */
static bool can_unshare(void)
{
	pid_t pid = fork();
	int status;

	if (pid == 0)
		_exit(unshare(CLONE_NEWNS | CLONE_NEWNET) == 0 ? 0 : 1);
	return pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static atomic_int threads_in_role;
static pthread_mutex_t hold_lock = PTHREAD_MUTEX_INITIALIZER;

static void hold(void)
{
	pthread_mutex_lock(&hold_lock); /* stay alive until the child exits */
	pthread_mutex_unlock(&hold_lock);
}

/* A disk's I/O thread, started while the machine is built. */
static void *early_role_thread(void *arg)
{
	*(pid_t *)arg = gettid();
	thread_role_enter(THREAD_ROLE_BLOCK_IO);
	atomic_fetch_add(&threads_in_role, 1);
	hold();
	return NULL;
}

/* The reactor or a vCPU, started once the sandbox is on. */
static void *late_role_thread(void *arg)
{
	*(pid_t *)arg = gettid();
	thread_role_enter(THREAD_ROLE_REACTOR);
	atomic_fetch_add(&threads_in_role, 1);
	hold();
	return NULL;
}

/* A thread that never names a role (as a library's would). */
static void *plain_thread(void *arg)
{
	(void)arg;
	hold();
	return NULL;
}

static int release_pipe = -1; /* the child waits for its EOF */

struct threads_report {
	pid_t role_tid[2]; /* early, late */
	int early_went_on; /* passed thread_role_enter() before lock-down */
};

/* The machine's order: threads, lock-down, more threads. Then report the
 * tids and wait for the parent to look at /proc. */
static void child_all_threads(const void *arg)
{
	const bool *sandbox = arg;
	/* As root, the sandbox also switches the user (--user). */
	struct options opts = {.seccomp = true, .sandbox = *sandbox, .switch_user = *sandbox && geteuid() == 0,
			       .user_uid = JAIL_UID, .user_gid = JAIL_GID};
	struct threads_report r = {{0, 0}, 0};
	pthread_t early, late, plain;
	char err[256], go;

	pthread_mutex_lock(&hold_lock);
	sandbox_plan(&opts);
	if (pthread_create(&early, NULL, early_role_thread, &r.role_tid[0]) ||
	    pthread_create(&plain, NULL, plain_thread, NULL))
		_exit(21);
	usleep(50 * 1000);
	r.early_went_on = atomic_load(&threads_in_role);
	if (sandbox_lock_down(err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		_exit(23);
	}
	if (pthread_create(&late, NULL, late_role_thread, &r.role_tid[1]))
		_exit(24); /* clone refused */
	for (int i = 0; i < 2000 && atomic_load(&threads_in_role) < 2; i++)
		usleep(1000);
	(void)!write(trap_pipe, &r, sizeof(r));
	(void)!read(release_pipe, &go, 1);
	_exit(0);
}

/* "Seccomp:", "NoNewPrivs:" and "Seccomp_filters:" (Linux 5.9+) of one task. */
static void task_status(pid_t pid, const char *tid, int *seccomp, int *nnp, int *filters)
{
	char path[300], line[256];
	snprintf(path, sizeof(path), "/proc/%d/task/%s/status", (int)pid, tid);
	FILE *f = fopen(path, "r");

	*seccomp = *nnp = *filters = -1;
	while (f && fgets(line, sizeof(line), f)) {
		sscanf(line, "Seccomp: %d", seccomp);
		sscanf(line, "NoNewPrivs: %d", nnp);
		sscanf(line, "Seccomp_filters: %d", filters);
	}
	if (f)
		fclose(f);
}

/* The link /proc/PID/task/TID/ns/NAME (PID 0: this process), "" if none. */
static void ns_of(pid_t pid, const char *tid, const char *name, char *out, size_t len)
{
	char path[300];
	ssize_t n;

	if (pid)
		snprintf(path, sizeof(path), "/proc/%d/task/%s/ns/%s", (int)pid, tid, name);
	else
		snprintf(path, sizeof(path), "/proc/self/ns/%s", name);
	n = readlink(path, out, len - 1);
	out[n > 0 ? n : 0] = 0;
}

/* A task's "Uid:" and "Gid:" (all four the same, or -1) and "Groups:". */
static void task_ids(pid_t pid, const char *tid, long *uid, long *gid, char *groups, size_t len)
{
	char path[300], line[256];
	long a, b, c, d;
	snprintf(path, sizeof(path), "/proc/%d/task/%s/status", (int)pid, tid);
	FILE *f = fopen(path, "r");

	*uid = *gid = -2;
	groups[0] = 0;
	while (f && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "Uid: %ld %ld %ld %ld", &a, &b, &c, &d) == 4)
			*uid = a == b && b == c && c == d ? a : -1;
		if (sscanf(line, "Gid: %ld %ld %ld %ld", &a, &b, &c, &d) == 4)
			*gid = a == b && b == c && c == d ? a : -1;
		if (strncmp(line, "Groups:", 7) == 0)
			snprintf(groups, len, "%s", line + 7 + strspn(line + 7, " \t"));
	}
	if (f)
		fclose(f);
	groups[strcspn(groups, " \n")] = 0;
}

/* Root, every thread that named a role (and the main one, and those it
 * started later) has given up root for JAIL_UID:JAIL_GID without groups,
 * and sits in mount and network namespaces of its own, where this host
 * allows them. A thread that never names its role keeps its credentials
 * and namespaces: it is left out here (skiff has none; seccomp, above,
 * covers it all the same). */
static void check_jailed(pid_t pid, const char *tid, bool jailed_ns)
{
	char groups[64], mine[64], its[64];
	long uid, gid;

	task_ids(pid, tid, &uid, &gid, groups, sizeof(groups));
	ck_assert_msg(uid == JAIL_UID && gid == JAIL_GID && !groups[0], "task %s: uid %ld gid %ld groups '%s'", tid,
		      uid, gid, groups);
	for (unsigned i = 0; i < 2 && jailed_ns; i++) {
		const char *name = i ? "net" : "mnt";
		ns_of(0, NULL, name, mine, sizeof(mine));
		ns_of(pid, tid, name, its, sizeof(its));
		ck_assert_msg(its[0] && strcmp(mine, its) != 0, "task %s: %s namespace %s, the host's", tid, name, its);
	}
}

/* The reviewers' measurement, from outside: every task of the child. */
static void check_threads(bool seccomp)
{
	int report[2], release[2];
	struct threads_report r;

	ck_assert_int_eq(pipe(report), 0);
	ck_assert_int_eq(pipe(release), 0);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		close(report[0]);
		close(release[1]);
		trap_pipe = report[1];
		release_pipe = release[0];
		child_all_threads(&seccomp);
	}
	close(report[1]);
	close(release[0]);
	ck_assert_int_eq(read(report[0], &r, sizeof(r)), sizeof(r));
	ck_assert_msg(!r.early_went_on || !seccomp, "a thread went on before the sandbox");
	bool jail = seccomp && geteuid() == 0, jailed_ns = jail && can_unshare();
	if (seccomp && !jailed_ns)
		fprintf(stderr, "test-sandbox: not root with CAP_SYS_ADMIN: %s not checked\n",
			jail ? "namespaces" : "--user and namespaces");

	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	DIR *d = opendir(path);
	struct dirent *e;
	int tasks = 0;
	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		int sc, nnp, filters, tid = atoi(e->d_name);
		bool role = tid == r.role_tid[0] || tid == r.role_tid[1];
		task_status(pid, e->d_name, &sc, &nnp, &filters);
		tasks++;
		ck_assert_msg(sc == (seccomp ? 2 : 0), "task %d: Seccomp: %d", tid, sc);
		if (jail && (role || tid == pid))
			check_jailed(pid, e->d_name, jailed_ns);
		if (!seccomp)
			continue;
		ck_assert_msg(nnp == 1, "task %d: NoNewPrivs: %d", tid, nnp);
		if (filters >= 0) /* a role's own filter on the process-wide one */
			ck_assert_msg(filters == (role ? 2 : 1), "task %d: Seccomp_filters: %d", tid, filters);
	}
	closedir(d);
	/* The test's four threads, and any a sanitizer's runtime started
	 * (ThreadSanitizer has two of its own): every one was checked above. */
	ck_assert_int_ge(tasks, 4);
	close(release[1]);
	int status;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(report[0]);
}

/* Threads started before the sandbox (one with a role, one without), the
 * thread that locks down, and one started after: all end with Seccomp: 2
 * and NoNewPrivs: 1. */
START_TEST(every_thread_is_confined)
{
	check_threads(true);
}
END_TEST

/* --sandbox off: threads that name a role go on at once, unconfined. */
START_TEST(sandbox_off_leaves_threads_alone)
{
	check_threads(false);
}
END_TEST

/* ---- real disk I/O under the filters ---- */

/* Not a test of a fix but of the lists: the block I/O role and the
 * submitting reactor must be enough for every operation, on both engines,
 * with and without cache=none's bounce buffers. A missing call ends the
 * child with SIGSYS and names it. */

static char disk_dir[64], disk_image[96];

static void disk_setup(void)
{
	strcpy(disk_dir, "/var/tmp/skiff-sandbox-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(disk_dir));
	snprintf(disk_image, sizeof(disk_image), "%s/disk.img", disk_dir);
	int fd = open(disk_image, O_RDWR | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, 1 << 20), 0);
	close(fd);
}

static void disk_teardown(void)
{
	unlink(disk_image);
	rmdir(disk_dir);
}

static pthread_mutex_t disk_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t disk_cond = PTHREAD_COND_INITIALIZER;
static int disk_done, disk_result;

static void disk_io_done(struct blk_io *io, int result)
{
	(void)io;
	pthread_mutex_lock(&disk_lock);
	disk_done++;
	if (result)
		disk_result = result;
	pthread_cond_broadcast(&disk_cond);
	pthread_mutex_unlock(&disk_lock);
}

/* Submit and wait; the result, or 1 when the submit was refused. */
static int disk_run(struct blk_backend *b, struct blk_io *io)
{
	io->done = disk_io_done;
	pthread_mutex_lock(&disk_lock);
	int want = disk_done + 1;
	disk_result = 0;
	pthread_mutex_unlock(&disk_lock);
	if (blk_backend_submit(b, io) < 0)
		return 1;
	pthread_mutex_lock(&disk_lock);
	while (disk_done < want)
		pthread_cond_wait(&disk_cond, &disk_lock);
	int ret = disk_result;
	pthread_mutex_unlock(&disk_lock);
	return ret;
}

static void child_disk(const void *arg)
{
	const struct blk_backend_options *bo = arg;
	struct options opts = {.seccomp = true, .sandbox = true};
	struct blk_backend *b;
	char err[256];
	/* Odd offsets into the buffers: cache=none bounces them. */
	static char out[8192 + 1], in[8192 + 1];

	sandbox_plan(&opts);
	if (blk_backend_open(&b, bo, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		_exit(40);
	}
	child_lock_down_planned();
	thread_role_enter(THREAD_ROLE_REACTOR); /* skiff's submitter */
	memset(out, 0x5a, sizeof(out));
	struct iovec wiov = {out + 1, 8192}, riov = {in + 1, 8192};
	struct blk_io w = {.op = BLK_OP_WRITE, .offset = 4096, .iov = &wiov, .iovcnt = 1};
	struct blk_io r = {.op = BLK_OP_READ, .offset = 4096, .iov = &riov, .iovcnt = 1};
	struct blk_io f = {.op = BLK_OP_FLUSH};
	struct blk_io z = {.op = BLK_OP_WRITE_ZEROES, .offset = 65536, .len = 65536};
	struct blk_io d = {.op = BLK_OP_DISCARD, .offset = 131072, .len = 65536};
	if (disk_run(b, &w) || disk_run(b, &f) || disk_run(b, &r) || memcmp(in + 1, out + 1, 8192))
		_exit(41);
	if (disk_run(b, &z) || disk_run(b, &d))
		_exit(42);
	blk_backend_close(b);
	_exit(0);
}

/* Loop index: engine (io_uring, threads) x cache (writeback, none). */
START_TEST(disk_io_runs_under_the_filters)
{
	struct blk_backend_options bo = {.path = disk_image,
					 .engine = _i / 2 ? BLK_ENGINE_THREADS : BLK_ENGINE_AUTO,
					 .cache = _i % 2 ? BLK_CACHE_NONE : BLK_CACHE_WRITEBACK};
	int nr, status = run_child(child_disk, &bo, &nr);

	ck_assert_msg(status == 0, "engine %d cache %d: child exit %d, system call %d stopped", bo.engine, bo.cache,
		      status, nr);
}
END_TEST

/* ---- the block backend's io_uring ---- */

static int ring_run(struct io_uring *ring, void (*prep)(struct io_uring_sqe *sqe, void *arg), void *arg)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
	struct io_uring_cqe *cqe;

	ck_assert_ptr_nonnull(sqe);
	prep(sqe, arg);
	ck_assert_int_eq(io_uring_submit(ring), 1);
	ck_assert_int_eq(io_uring_wait_cqe(ring, &cqe), 0);
	int res = cqe->res;
	io_uring_cqe_seen(ring, cqe);
	return res;
}

static void prep_nop(struct io_uring_sqe *sqe, void *arg)
{
	(void)arg;
	io_uring_prep_nop(sqe);
}

static void prep_readv(struct io_uring_sqe *sqe, void *arg)
{
	static char buf[16];
	static struct iovec iov = {buf, sizeof(buf)};
	io_uring_prep_readv(sqe, *(int *)arg, &iov, 1, 0);
}

static void prep_openat(struct io_uring_sqe *sqe, void *arg)
{
	(void)arg;
	io_uring_prep_openat(sqe, AT_FDCWD, "/etc/hostname", O_RDONLY, 0);
}

static void prep_socket_read(struct io_uring_sqe *sqe, void *arg)
{
	static char buf[16];
	io_uring_prep_recv(sqe, *(int *)arg, buf, sizeof(buf), 0);
}

static void prep_linked_nop(struct io_uring_sqe *sqe, void *arg)
{
	(void)arg;
	io_uring_prep_nop(sqe);
	sqe->flags |= IOSQE_IO_LINK;
}

START_TEST(block_ring_allows_only_its_operations)
{
	struct io_uring ring;
	int ret = block_ring_init(&ring, 8);

	if (ret == -ENOSYS || ret == -EPERM) {
		fprintf(stderr, "test-sandbox: no io_uring here (%s): ring test skipped\n", strerror(-ret));
		return;
	}
	ck_assert_int_eq(ret, 0);
	int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC), sv[2];
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	ck_assert_int_eq(write(sv[1], "hello", 5), 5);

	ck_assert_int_eq(ring_run(&ring, prep_nop, NULL), 0);
	ck_assert_int_eq(ring_run(&ring, prep_readv, &fd), 16);
	ck_assert_int_eq(ring_run(&ring, prep_openat, NULL), -EACCES);
	ck_assert_int_eq(ring_run(&ring, prep_socket_read, &sv[0]), -EACCES);
	ck_assert_int_eq(ring_run(&ring, prep_linked_nop, NULL), -EACCES);
	/* Nothing can be registered any more (e.g. lifting the restrictions). */
	ck_assert_int_lt(syscall(__NR_io_uring_register, ring.ring_fd, IORING_REGISTER_PROBE, NULL, 0), 0);
	ck_assert_int_eq(errno, EACCES);

	io_uring_queue_exit(&ring);
	close(fd);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

static Suite *sandbox_suite(void)
{
	Suite *s = suite_create("sandbox");
	TCase *tc = tcase_create("sandbox");

	tcase_set_timeout(tc, 30);
	tcase_add_loop_test(tc, role_stops_its_forbidden_call, 0, NR_ROLE_CASES);
	tcase_add_loop_test(tc, role_stops_calls_forbidden_everywhere, 0, NR_ROLE_CASES * NR_EVERYWHERE);
	tcase_add_loop_test(tc, vcpu_requests_only_on_vcpus, 0, NR_VCPU_GAPS);
	tcase_add_test(tc, threads_start_under_the_process_wide_filter);
	tcase_add_test(tc, opens_fail_quietly);
	tcase_add_test(tc, net_user_reads_only_resolv_conf);
	tcase_add_test(tc, landlock_closes_the_file_system);
	tcase_add_test(tc, policy_refuses_two_fates);
	tcase_add_test(tc, policy_refuses_argument_filtered_names);
	tcase_add_test(tc, every_thread_is_confined);
	tcase_add_test(tc, sandbox_off_leaves_threads_alone);
	tcase_add_test(tc, block_ring_allows_only_its_operations);
	suite_add_tcase(s, tc);

	TCase *disk = tcase_create("disk");
	tcase_set_timeout(disk, 30);
	tcase_add_checked_fixture(disk, disk_setup, disk_teardown);
	tcase_add_loop_test(disk, disk_io_runs_under_the_filters, 0, 4);
	suite_add_tcase(s, disk);
	return s;
}

int main(void)
{
	return check_run_suite(sandbox_suite());
}
