/* vCPU threads and the exit dispatch loop. See vcpu.h.
 *
 * The path of an exit: the guest touches a port or an MMIO address no
 * ioeventfd covers -> KVM_RUN returns with exit_reason KVM_EXIT_IO or
 * KVM_EXIT_MMIO -> vcpu_handle_exit() hands the access to the machine's
 * exit handler (vcpu_env.exits), which gives it to the PIO or MMIO bus ->
 * the bus calls the device that registered the range -> for a read,
 * the device's answer is copied back into kvm_run and the next KVM_RUN
 * delivers it to the guest. */

#include "kvm/vcpu.h"
#include "base/monotonic.h"
#include "base/fd-class.h"
#include "base/io-thread.h"
#include "base/thread-role.h"
#include "kvm/x86/cpu-boot.h"
#include "base/log.h"
#include "base/trace.h"

#include <errno.h>
#include <linux/kvm.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define VCPU_KICK_SIGNAL SIGUSR1
#define WATCHDOG_PERIOD_NS SWKVM_TICK_FAST_NS /* see swkvm.h */

#define MSR_IA32_MISC_ENABLE 0x1a0
#define MSR_MTRR_DEF_TYPE    0x2ff
#define APIC_LVT0 0x350
#define APIC_LVT1 0x360
#define APIC_MODE_EXTINT (7 << 8)
#define APIC_MODE_NMI    (4 << 8)

/* The handler only has to exist: its delivery makes KVM_RUN return EINTR. */
static void vcpu_kick_handler(int sig)
{
	(void)sig;
}

int vcpu_signals_init(void)
{
	struct sigaction sa = { .sa_handler = vcpu_kick_handler };
	sigemptyset(&sa.sa_mask);
	return sigaction(VCPU_KICK_SIGNAL, &sa, NULL) < 0 ? -errno : 0;
}

static int vcpu_set_msrs(struct vcpu *v)
{
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry e[2];
	} m = {
		.hdr.nmsrs = 2,
		.e = {
			{ .index = MSR_IA32_MISC_ENABLE, .data = 1 },     /* fast strings */
			{ .index = MSR_MTRR_DEF_TYPE, .data = (1 << 11) | 6 }, /* MTRRs on, default write-back */
		},
	};
	return ioctl(v->fd, KVM_SET_MSRS, &m) == 2 ? 0 : -EIO;
}

/* What firmware would do: LINT0 receives the PIC (ExtINT), LINT1 is NMI. */
static int vcpu_set_lapic_lints(struct vcpu *v)
{
	struct kvm_lapic_state lapic;
	if (ioctl(v->fd, KVM_GET_LAPIC, &lapic) < 0)
		return -errno;
	uint32_t lvt0 = APIC_MODE_EXTINT, lvt1 = APIC_MODE_NMI;
	memcpy(&lapic.regs[APIC_LVT0], &lvt0, 4);
	memcpy(&lapic.regs[APIC_LVT1], &lvt1, 4);
	return ioctl(v->fd, KVM_SET_LAPIC, &lapic) < 0 ? -errno : 0;
}

int vcpu_create(struct vcpu *v, const struct vcpu_env *env, unsigned index, const struct kvm_cpuid2 *cpuid)
{
	int ret;

	memset(v, 0, sizeof(*v));
	v->index = index;
	v->env = env;
	v->fd = ioctl(env->vm->vm_fd, KVM_CREATE_VCPU, (unsigned long)index);
	if (v->fd < 0)
		return -errno;
	fd_class_note(FD_CLASS_VCPU, v->fd);
	v->run = mmap(NULL, env->vm->vcpu_mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
	if (v->run == MAP_FAILED) {
		ret = -errno;
		v->run = NULL;
		return ret;
	}
	if (ioctl(v->fd, KVM_SET_CPUID2, cpuid) < 0)
		return -errno;
	if ((ret = vcpu_set_msrs(v)) < 0)
		return ret;
	if ((ret = vcpu_set_lapic_lints(v)) < 0)
		return ret;
	return 0;
}

static int vcpu_set_state(struct vcpu *v, bool long_mode, uint64_t entry, uint64_t arg)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	struct kvm_fpu fpu = { .fcw = 0x37f, .mxcsr = 0x1f80 };

	if (ioctl(v->fd, KVM_GET_SREGS, &sregs) < 0)
		return -errno;
	if (long_mode)
		cpu_boot_long_mode(&sregs, &regs, entry, arg);
	else
		cpu_boot_pvh(&sregs, &regs, entry, arg);
	if (ioctl(v->fd, KVM_SET_SREGS, &sregs) < 0 || ioctl(v->fd, KVM_SET_REGS, &regs) < 0 ||
	    ioctl(v->fd, KVM_SET_FPU, &fpu) < 0)
		return -errno;
	return 0;
}

int vcpu_enter_long_mode(struct vcpu *v, uint64_t entry, uint64_t boot_params)
{
	return vcpu_set_state(v, true, entry, boot_params);
}

int vcpu_enter_pvh(struct vcpu *v, uint64_t entry, uint64_t start_info)
{
	return vcpu_set_state(v, false, entry, start_info);
}

static void vcpu_stop_vm(struct vcpu *v, enum stop_reason why, int status)
{
	stop_hook_fire(&v->env->stop, why, status);
}

/* --trace=exit: after the access, so a read shows what the guest got. */
static void vcpu_trace_access(const struct vcpu *v, const char *space, uint64_t addr, const uint8_t *data,
			      unsigned len, bool is_write)
{
	uint64_t value = 0;

	memcpy(&value, data, len < sizeof(value) ? len : sizeof(value)); /* x86: little-endian */
	trace_emit(TRACE_EXIT, NULL, "exit vcpu%u %s %s %#llx size %u value %#llx", v->index, space,
		   is_write ? "write" : "read", (unsigned long long)addr, len, (unsigned long long)value);
}

static void vcpu_handle_io(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	bool is_write = run->io.direction == KVM_EXIT_IO_OUT;

	/* rep ins/outs hand over several items in one exit. */
	for (uint32_t i = 0; i < run->io.count; i++) {
		v->env->exits.pio(v->env->exits.ctx, run->io.port, data, run->io.size, is_write);
		if (trace_on(TRACE_EXIT))
			vcpu_trace_access(v, "pio", run->io.port, data, run->io.size, is_write);
		data += run->io.size;
	}
}

static void vcpu_handle_mmio(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	unsigned len = run->mmio.len <= sizeof(run->mmio.data) ? run->mmio.len : sizeof(run->mmio.data);
	v->env->exits.mmio(v->env->exits.ctx, run->mmio.phys_addr, run->mmio.data, len, run->mmio.is_write);
	if (trace_on(TRACE_EXIT))
		vcpu_trace_access(v, "mmio", run->mmio.phys_addr, run->mmio.data, len, run->mmio.is_write);
}

static void vcpu_handle_internal_error(struct vcpu *v)
{
	char msg[512];
	struct swkvm *sw = v->env->swkvm;

	if (v->run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION && sw && sw->active) {
		if (swkvm_handle_emulation_failure(sw, &v->sw, v->fd, &v->env->vm->mem, msg, sizeof(msg)) == SWKVM_RESUME)
			return;
		log_error("vcpu", "vCPU %u: %s", v->index, msg);
	} else {
		struct kvm_regs regs;
		unsigned long long rip = ioctl(v->fd, KVM_GET_REGS, &regs) == 0 ? regs.rip : 0;
		log_error("vcpu", "vCPU %u: KVM internal error, suberror %u, RIP %#llx%s", v->index,
			  v->run->internal.suberror, rip,
			  v->run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION
				  ? " (the host could not emulate an instruction; try --swkvm=on)"
				  : "");
	}
	vcpu_stop_vm(v, STOP_GUEST_ERROR, 0);
}

const char *const vcpu_exit_kind_names[VCPU_EXIT_KINDS] = {
	[VCPU_EXIT_IO] = "io",
	[VCPU_EXIT_MMIO] = "mmio",
	[VCPU_EXIT_INTR] = "intr",
	[VCPU_EXIT_HLT] = "hlt",
	[VCPU_EXIT_INTERNAL_ERROR] = "internal-error",
	[VCPU_EXIT_SYSTEM_EVENT] = "system-event",
	[VCPU_EXIT_SHUTDOWN] = "shutdown",
	[VCPU_EXIT_OTHER] = "other",
};

static enum vcpu_exit_kind exit_kind(uint32_t reason)
{
	switch (reason) {
	case KVM_EXIT_IO: return VCPU_EXIT_IO;
	case KVM_EXIT_MMIO: return VCPU_EXIT_MMIO;
	case KVM_EXIT_INTR: return VCPU_EXIT_INTR;
	case KVM_EXIT_HLT: return VCPU_EXIT_HLT;
	case KVM_EXIT_INTERNAL_ERROR: return VCPU_EXIT_INTERNAL_ERROR;
	case KVM_EXIT_SYSTEM_EVENT: return VCPU_EXIT_SYSTEM_EVENT;
	case KVM_EXIT_SHUTDOWN: return VCPU_EXIT_SHUTDOWN;
	}
	return VCPU_EXIT_OTHER;
}

/* One exit. Returns false when the vCPU must stop. */
static bool vcpu_handle_exit(struct vcpu *v)
{
	struct kvm_run *run = v->run;

	atomic_fetch_add_explicit(&v->exits[exit_kind(run->exit_reason)], 1, memory_order_relaxed);
	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		vcpu_handle_io(v);
		return true;
	case KVM_EXIT_MMIO:
		vcpu_handle_mmio(v);
		return true;
	case KVM_EXIT_INTR:
		return true;
	case KVM_EXIT_INTERNAL_ERROR:
		vcpu_handle_internal_error(v);
		return !atomic_load(v->env->stopping);
	case KVM_EXIT_SHUTDOWN:
		log_info("vcpu", "vCPU %u: triple fault (KVM_EXIT_SHUTDOWN)", v->index);
		vcpu_stop_vm(v, STOP_TRIPLE_FAULT, 0);
		return false;
	case KVM_EXIT_SYSTEM_EVENT:
		if (run->system_event.type == KVM_SYSTEM_EVENT_RESET)
			vcpu_stop_vm(v, STOP_RESET, 0);
		else
			vcpu_stop_vm(v, STOP_POWEROFF, 0);
		return false;
	case KVM_EXIT_HLT:
		/* Only without an in-kernel LAPIC; ours has one. Treat as idle. */
		usleep(1000);
		return true;
	case KVM_EXIT_FAIL_ENTRY:
		log_error("vcpu", "vCPU %u: KVM could not enter the guest (hardware reason %#llx)", v->index,
			  (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
		vcpu_stop_vm(v, STOP_GUEST_ERROR, 0);
		return false;
	default:
		log_error("vcpu", "vCPU %u: unexpected KVM exit reason %u", v->index, run->exit_reason);
		vcpu_stop_vm(v, STOP_GUEST_ERROR, 0);
		return false;
	}
}

static int vcpu_watchdog_set(struct vcpu *v, long period_ns)
{
	struct itimerspec its = { .it_interval = { period_ns / 1000000000, period_ns % 1000000000 } };
	its.it_value = its.it_interval;
	if (timer_settime(v->watchdog, 0, &its, NULL) < 0)
		return -errno;
	v->watchdog_period_ns = period_ns;
	return 0;
}

static int vcpu_watchdog_start(struct vcpu *v)
{
	struct sigevent sev = { .sigev_notify = SIGEV_THREAD_ID, .sigev_signo = VCPU_KICK_SIGNAL };
	sev._sigev_un._tid = v->tid;
	if (timer_create(CLOCK_MONOTONIC, &sev, &v->watchdog) < 0)
		return -errno;
	v->has_watchdog = true;
	return vcpu_watchdog_set(v, WATCHDOG_PERIOD_NS);
}

/* With -v, say where the vCPU is every few seconds: the first thing to
 * know about a guest that seems stuck. */
static void vcpu_sample_rip(struct vcpu *v)
{
	struct kvm_regs regs;
	int64_t now = monotonic_ns();

	if (log_threshold < LOG_DEBUG || now - v->last_sample_ns < 1000000000LL)
		return;
	v->last_sample_ns = now;
	if (ioctl(v->fd, KVM_GET_REGS, &regs) == 0)
		log_debug("vcpu", "vCPU %u at RIP %#llx", v->index, (unsigned long long)regs.rip);
}

/* ---- pause and resume ---- */

int vcpu_pause_init(struct vcpu_pause *p)
{
	memset(p, 0, sizeof(*p));
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->resumed, NULL);
	p->parked_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	return p->parked_fd < 0 ? -errno : 0;
}

void vcpu_pause_destroy(struct vcpu_pause *p)
{
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->resumed);
	if (p->parked_fd >= 0)
		close(p->parked_fd);
	p->parked_fd = -1;
}

/* On the vCPU thread, outside KVM_RUN: wait here while the VM is paused. */
static void vcpu_park(struct vcpu *v)
{
	struct vcpu_pause *p = v->env->pause;

	pthread_mutex_lock(&p->lock);
	if (p->paused && !atomic_load(v->env->stopping)) {
		p->nr_parked++;
		/* Tell the guest (through kvmclock's PVCLOCK_GUEST_STOPPED flag)
		 * that it was stopped by the host, so its soft-lockup watchdog
		 * does not fire on resume. EINVAL: the guest has no kvmclock
		 * (hidden on software-KVM hosts); nothing to tell then. */
		(void)ioctl(v->fd, KVM_KVMCLOCK_CTRL, 0);
		/* The reactor counts the parked vCPUs (vcpu_pause_all_parked). */
		uint64_t one = 1;
		(void)!write(p->parked_fd, &one, sizeof(one));
		while (p->paused && !atomic_load(v->env->stopping))
			pthread_cond_wait(&p->resumed, &p->lock);
		p->nr_parked--;
	}
	pthread_mutex_unlock(&p->lock);
	v->run->immediate_exit = atomic_load(v->env->stopping);
}

void vcpu_pause_request(struct vcpu_pause *p, struct vcpu *vcpus, unsigned nr)
{
	pthread_mutex_lock(&p->lock);
	p->paused = true;
	atomic_store(&p->requested, true);
	pthread_mutex_unlock(&p->lock);
	for (unsigned i = 0; i < nr; i++)
		vcpu_kick(&vcpus[i]);
}

bool vcpu_pause_all_parked(struct vcpu_pause *p, unsigned nr)
{
	uint64_t count;

	(void)!read(p->parked_fd, &count, sizeof(count)); /* re-arm; the count is nr_parked */
	pthread_mutex_lock(&p->lock);
	bool all = p->paused && p->nr_parked >= nr;
	pthread_mutex_unlock(&p->lock);
	return all;
}

void vcpu_resume_all(struct vcpu_pause *p)
{
	pthread_mutex_lock(&p->lock);
	p->paused = false;
	atomic_store(&p->requested, false);
	pthread_cond_broadcast(&p->resumed);
	pthread_mutex_unlock(&p->lock);
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *v = arg;
	const struct vcpu_env *env = v->env;
	char name[16];
	sigset_t set;

	snprintf(name, sizeof(name), "vcpu%u", v->index);
	pthread_setname_np(pthread_self(), name);
	v->tid = syscall(SYS_gettid);
	sigemptyset(&set);
	sigaddset(&set, VCPU_KICK_SIGNAL);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	if (env->swkvm && env->swkvm->active && vcpu_watchdog_start(v) < 0)
		log_warn("vcpu", "vCPU %u: no watchdog timer (%s); stuck hypercalls will hang", v->index,
			 strerror(errno));
	thread_role_enter(THREAD_ROLE_VCPU); /* after the watchdog: timer_create is set-up */
	atomic_store(&v->thread_ready, true);

	while (!atomic_load(env->stopping)) {
		int64_t zero = 0;
		if (v->index == 0)
			atomic_compare_exchange_strong(env->first_run_ns, &zero, monotonic_ns());
		if (env->pause && atomic_load(&env->pause->requested)) {
			vcpu_park(v);
			continue;
		}
		int ret = ioctl(v->fd, KVM_RUN, 0);
		if (ret < 0) {
			if (errno == EINTR) {
				/* Kicked (stop, pause) or a watchdog tick. */
				atomic_fetch_add_explicit(&v->exits[VCPU_EXIT_INTR], 1, memory_order_relaxed);
				v->run->immediate_exit = atomic_load(env->stopping);
				if (env->swkvm && !atomic_load(env->stopping)) {
					swkvm_tick(env->swkvm, &v->sw, v->fd, &env->vm->mem, v->index == 0);
					/* Slower once the tick has less to do (swkvm.h). */
					long period = swkvm_tick_period_ns(env->swkvm);
					if (v->has_watchdog && period && period != v->watchdog_period_ns)
						vcpu_watchdog_set(v, period);
				}
				vcpu_sample_rip(v);
				continue;
			}
			if (errno == EAGAIN) {
				/* An application processor waiting for INIT/SIPI. */
				usleep(1000);
				continue;
			}
			log_error("vcpu", "vCPU %u: KVM_RUN failed: %s", v->index, strerror(errno));
			vcpu_stop_vm(v, STOP_GUEST_ERROR, 0);
			break;
		}
		if (!vcpu_handle_exit(v))
			break;
	}
	if (v->has_watchdog) {
		timer_delete(v->watchdog);
		v->has_watchdog = false;
	}
	return NULL;
}

int vcpu_start(struct vcpu *v)
{
	int ret = thread_create(&v->thread, vcpu_thread, v);
	if (ret != 0)
		return -ret;
	v->thread_started = true;
	return 0;
}

void vcpu_kick(struct vcpu *v)
{
	if (!v->thread_started)
		return;
	/* immediate_exit covers a kick that lands just before KVM_RUN. */
	if (v->run)
		v->run->immediate_exit = 1;
	pthread_kill(v->thread, VCPU_KICK_SIGNAL);
}

void vcpu_join(struct vcpu *v)
{
	if (v->thread_started) {
		pthread_join(v->thread, NULL);
		v->thread_started = false;
	}
}

void vcpu_log_last_position(const struct vcpu *v)
{
	struct kvm_regs regs;
	unsigned long exits = 0;

	for (unsigned k = 0; k < VCPU_EXIT_KINDS; k++)
		exits += atomic_load_explicit(&v->exits[k], memory_order_relaxed);
	if (ioctl(v->fd, KVM_GET_REGS, &regs) == 0)
		log_info("vcpu", "vCPU %u was at RIP %#llx, RFLAGS %#llx, after %lu exits", v->index,
			 (unsigned long long)regs.rip, (unsigned long long)regs.rflags, exits);
}

void vcpu_destroy(struct vcpu *v)
{
	if (v->run)
		munmap(v->run, v->env->vm->vcpu_mmap_size);
	if (v->fd > 0) {
		fd_class_forget(FD_CLASS_VCPU, v->fd);
		close(v->fd);
	}
	v->run = NULL;
	v->fd = -1;
}
