/* The control socket's commands on a running machine. See machine-control.h. */
#include "vmm/machine-control.h"
#include "base/monotonic.h"

#include <errno.h>
#include <linux/virtio_config.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>

#include "devices/virtio-balloon.h"
#include "vmm/exit-status.h"
#include "base/log.h"
#include "base/trace.h"
#include "vmm/machine-run.h" /* struct machine, machine_stop */

#define LOG_NAME "api-sock"
#define PAUSE_TIMEOUT_MS 5000
#define PAGES_PER_MIB (1u << (20 - VIRTIO_BALLOON_PFN_SHIFT))

static int fail(char *err, size_t errlen, int ret, const char *msg)
{
	snprintf(err, errlen, "%s", msg);
	return ret;
}

static struct virtio_balloon *find_balloon(struct machine *m)
{
	for (unsigned i = 0; i < m->virtio.nr_slots; i++)
		if (m->virtio.slot[i].spec->type == &virtio_balloon_type)
			return m->virtio.slot[i].state;
	return NULL;
}

static json_t *balloon_sizes(struct virtio_balloon *b)
{
	struct virtio_balloon_info info;

	virtio_balloon_get_info(b, &info);
	return json_pack("{s:I, s:I}", "target_mib", (json_int_t)(info.target_pages / PAGES_PER_MIB), "actual_mib",
			 (json_int_t)(info.actual_pages / PAGES_PER_MIB));
}

static int do_status(struct machine *m, json_t *reply)
{
	json_t *devices = json_array();

	for (unsigned i = 0; i < m->virtio.nr_slots; i++) {
		const struct virtio_slot *s = &m->virtio.slot[i];
		json_array_append_new(devices,
				      json_pack("{s:s, s:s, s:s}", "name", s->name, "type", s->spec->type->name,
						"transport", device_transport_name(s->spec->transport)));
	}
	json_object_set_new(reply, "state", json_string(m->paused ? "paused" : m->pausing ? "pausing" : "running"));
	json_object_set_new(reply, "uptime_s", json_real((monotonic_ns() - m->start_ns) / 1e9));
	json_object_set_new(reply, "vcpus", json_integer(m->nr_vcpus_created));
	json_object_set_new(reply, "memory_mib", json_integer((json_int_t)(m->opts->mem_bytes >> 20)));
	json_object_set_new(reply, "devices", devices);
	struct virtio_balloon *b = find_balloon(m);
	if (b)
		json_object_set_new(reply, "balloon", balloon_sizes(b));
	return 0;
}

static void remove_source(struct machine *m, int *source)
{
	if (*source >= 0)
		reactor_remove(&m->reactor, *source);
	*source = -1;
}

/* The pause asked for is over: paused (ret 0), or the vCPUs run on (ret
 * <0, why says why); every client waiting for it gets its reply. */
static void pause_settle(struct machine *m, int ret, const char *why)
{
	remove_source(m, &m->pause_parked_source);
	remove_source(m, &m->pause_timer);
	m->pausing = false;
	if (ret == 0) {
		/* Freeze the guest's kvmclock: resume sets it back to this value. */
		m->clock_saved = ioctl(m->vm.vm_fd, KVM_GET_CLOCK, &m->paused_clock) == 0;
		m->paused = true;
		log_info(LOG_NAME, "guest paused");
	} else {
		vcpu_resume_all(&m->pause);
		log_warn(LOG_NAME, "pause: %s", why);
	}
	if (m->control_open)
		control_socket_finish(&m->control, CONTROL_PAUSE, ret, why);
}

/* A vCPU parked (pause.parked_fd). */
static enum reactor_result pause_parked(void *opaque, uint32_t events, unsigned budget)
{
	struct machine *m = opaque;
	(void)events;
	(void)budget;

	if (vcpu_pause_all_parked(&m->pause, m->nr_vcpus_created))
		pause_settle(m, 0, NULL);
	return REACTOR_DONE;
}

static enum reactor_result pause_timed_out(void *opaque, uint32_t events, unsigned budget)
{
	(void)events;
	(void)budget;
	pause_settle(opaque, -ETIMEDOUT, "the vCPUs did not stop in time; still running");
	return REACTOR_DONE;
}

/* Ask the vCPUs to park and answer once they have (CONTROL_LATER): the
 * reactor serves everything else meanwhile. A timer ends a pause the
 * vCPUs do not finish. */
static int do_pause(struct machine *m, char *err, size_t errlen)
{
	if (m->paused)
		return 0;
	if (m->pausing)
		return CONTROL_LATER;
	m->pause_parked_source = reactor_add(&m->reactor, m->pause.parked_fd, EPOLLIN, 0, pause_parked, m, 1);
	if (m->pause_parked_source < 0)
		return fail(err, errlen, m->pause_parked_source, "cannot watch the vCPUs park");
	m->pause_timer = reactor_add_timer(&m->reactor, m->pause_timeout_ms ? m->pause_timeout_ms : PAUSE_TIMEOUT_MS,
					   pause_timed_out, m);
	if (m->pause_timer < 0) {
		int ret = m->pause_timer;
		remove_source(m, &m->pause_parked_source);
		return fail(err, errlen, ret, "cannot start the pause timer");
	}
	m->pausing = true;
	vcpu_pause_request(&m->pause, m->vcpus, m->nr_vcpus_created);
	if (vcpu_pause_all_parked(&m->pause, m->nr_vcpus_created)) {
		pause_settle(m, 0, NULL); /* no vCPU to wait for */
		return 0;
	}
	return CONTROL_LATER;
}

static void do_resume(struct machine *m)
{
	if (m->pausing)
		pause_settle(m, -ECANCELED, "resumed before the vCPUs stopped; still running");
	if (!m->paused)
		return;
	if (m->clock_saved) {
		struct kvm_clock_data clock = { .clock = m->paused_clock.clock };
		if (ioctl(m->vm.vm_fd, KVM_SET_CLOCK, &clock) < 0)
			log_warn(LOG_NAME, "KVM_SET_CLOCK: %s; the guest's kvmclock jumps", strerror(errno));
	}
	m->paused = false;
	vcpu_resume_all(&m->pause);
	log_info(LOG_NAME, "guest resumed");
}

static enum reactor_result shutdown_timeout(void *opaque, uint32_t events, unsigned budget)
{
	struct machine *m = opaque;
	(void)events;
	(void)budget;

	log_warn(LOG_NAME, "the guest did not power off in time after the power button; stopping it");
	reactor_remove(&m->reactor, m->shutdown_timer);
	m->shutdown_timer = -1;
	machine_stop(m, STOP_SIGNAL, EXIT_SIGNAL(SIGKILL));
	return REACTOR_DONE;
}

static int do_shutdown(struct machine *m, uint64_t timeout_s, json_t *reply, char *err, size_t errlen)
{
	do_resume(m); /* a paused guest cannot see the button */
	acpi_pm_press_power_button(&m->acpi_pm);
	log_info(LOG_NAME, "ACPI power button pressed; waiting up to %llu s", (unsigned long long)timeout_s);
	if (m->shutdown_timer < 0) {
		if (timeout_s == 0) {
			machine_stop(m, STOP_SIGNAL, EXIT_SIGNAL(SIGKILL));
		} else {
			m->shutdown_timer = reactor_add_timer(&m->reactor, (unsigned)timeout_s * 1000,
							      shutdown_timeout, m);
			if (m->shutdown_timer < 0)
				return fail(err, errlen, m->shutdown_timer, "cannot start the shutdown timer");
		}
	}
	json_object_set_new(reply, "timeout_s", json_integer((json_int_t)timeout_s));
	return 0;
}

static int do_balloon_set(struct machine *m, uint64_t mib, json_t *reply, char *err, size_t errlen)
{
	struct virtio_balloon *b = find_balloon(m);

	if (!b)
		return fail(err, errlen, -ENODEV, "no balloon device (add --device balloon)");
	if (mib > m->opts->mem_bytes >> 20) {
		snprintf(err, errlen, "balloon-set %llu: larger than the guest's %llu MiB", (unsigned long long)mib,
			 (unsigned long long)(m->opts->mem_bytes >> 20));
		return -EINVAL;
	}
	virtio_balloon_set_target(b, (uint32_t)(mib * PAGES_PER_MIB));
	json_object_set_new(reply, "balloon", balloon_sizes(b));
	return 0;
}

static int do_balloon_stats(struct machine *m, json_t *reply, char *err, size_t errlen)
{
	struct virtio_balloon *b = find_balloon(m);
	struct virtio_balloon_info info;

	if (!b)
		return fail(err, errlen, -ENODEV, "no balloon device (add --device balloon)");
	virtio_balloon_get_info(b, &info);
	/* Ask for fresh numbers for next time; these are the latest the guest sent. */
	virtio_balloon_request_stats(b);
	json_t *stats = json_object();
	for (unsigned i = 0; i < info.nr_stats; i++) {
		const char *name = virtio_balloon_stat_name(info.stat_tag[i]);
		char unknown[32];
		if (!name) {
			snprintf(unknown, sizeof(unknown), "tag-%u", info.stat_tag[i]);
			name = unknown;
		}
		json_object_set_new(stats, name, json_integer((json_int_t)info.stat_val[i]));
	}
	json_object_set_new(reply, "stats", stats);
	json_object_set_new(reply, "stats_age_ms", json_integer(info.stats_age_ms));
	json_object_set_new(reply, "target_mib", json_integer(info.target_pages / PAGES_PER_MIB));
	json_object_set_new(reply, "actual_mib", json_integer(info.actual_pages / PAGES_PER_MIB));
	json_object_set_new(reply, "pages_released", json_integer((json_int_t)info.pages_released));
	json_object_set_new(reply, "pages_deflated", json_integer((json_int_t)info.pages_deflated));
	json_object_set_new(reply, "reported_mib", json_integer((json_int_t)(info.bytes_reported >> 20)));
	json_object_set_new(reply, "bad_pfns", json_integer((json_int_t)info.bad_pfns));
	return 0;
}

static int do_stats(struct machine *m, json_t *reply)
{
	json_t *devices = json_object(), *exits = json_object();

	for (unsigned i = 0; i < m->virtio.nr_slots; i++) {
		struct virtio_device *dev = m->virtio.slot[i].vdev;
		pthread_mutex_lock(&dev->lock);
		struct virtio_device_stats st = dev->stats;
		bool needs_reset_now = dev->status & VIRTIO_CONFIG_S_NEEDS_RESET;
		pthread_mutex_unlock(&dev->lock);
		json_object_set_new(devices, m->virtio.slot[i].name,
				    json_pack("{s:I, s:I, s:I, s:I, s:b}", "requests", (json_int_t)st.requests, "bytes",
					      (json_int_t)st.bytes, "errors", (json_int_t)st.errors, "needs_reset",
					      (json_int_t)st.needs_reset, "needs_reset_now", needs_reset_now));
	}
	for (unsigned k = 0; k < VCPU_EXIT_KINDS; k++) {
		unsigned long n = 0;
		for (unsigned i = 0; i < m->nr_vcpus_created; i++)
			n += atomic_load(&m->vcpus[i].exits[k]);
		json_object_set_new(exits, vcpu_exit_kind_names[k], json_integer((json_int_t)n));
	}
	json_object_set_new(reply, "devices", devices);
	json_object_set_new(reply, "exits", exits);
	if (m->swkvm.active) {
		json_t *emulated = json_object();
		for (unsigned i = 0; i < SWKVM_INSN_KINDS; i++) {
			const char *name = atomic_load(&m->swkvm.insn_name[i]);
			if (!name)
				break;
			json_object_set_new(emulated, name, json_integer((json_int_t)atomic_load(&m->swkvm.insn_count[i])));
		}
		json_object_set_new(reply, "swkvm_emulated", emulated);
		json_object_set_new(reply, "swkvm_emulated_total",
				    json_integer((json_int_t)atomic_load(&m->swkvm.nr_emulated)));
		json_object_set_new(reply, "swkvm_hypercalls_skipped",
				    json_integer((json_int_t)atomic_load(&m->swkvm.nr_hypercalls_skipped)));
	}
	return 0;
}

int machine_trace_devices_check(const struct machine *m, const struct trace_filter *f, char *err, size_t errlen)
{
	for (unsigned i = 0; i < f->nr_devices; i++) {
		bool known = false;
		for (unsigned s = 0; s < m->virtio.nr_slots && !known; s++)
			known = !strcmp(m->virtio.slot[s].name, f->devices[i]);
		if (!known) {
			snprintf(err, errlen, "trace: no device named '%s' (virtio devices are named like virtio-blk0)",
				 f->devices[i]);
			return -EINVAL;
		}
	}
	return 0;
}

/* "off", or a filter as for --trace. */
static int do_trace(struct machine *m, const char *text, json_t *reply, char *err, size_t errlen)
{
	struct trace_filter f;
	char what[512];

	if (strcmp(text, "off") == 0) {
		trace_set(NULL);
		log_info(LOG_NAME, "trace off");
		json_object_set_new(reply, "trace", json_string("off"));
		return 0;
	}
	if (trace_filter_parse(text, &f, err, errlen) < 0 || machine_trace_devices_check(m, &f, err, errlen) < 0)
		return -EINVAL;
	trace_set(&f);
	trace_filter_describe(&f, what, sizeof(what));
	log_info(LOG_NAME, "trace on: %s", what);
	json_object_set_new(reply, "trace", json_string(what));
	return 0;
}

int machine_control_run(void *machine, enum control_command cmd, uint64_t arg, const char *text, json_t *reply,
			char *err, size_t errlen)
{
	struct machine *m = machine;

	switch (cmd) {
	case CONTROL_STATUS:
		return do_status(m, reply);
	case CONTROL_PAUSE:
		return do_pause(m, err, errlen);
	case CONTROL_RESUME:
		do_resume(m);
		return 0;
	case CONTROL_SHUTDOWN:
		return do_shutdown(m, arg, reply, err, errlen);
	case CONTROL_KILL:
		log_info(LOG_NAME, "kill: stopping the guest");
		if (m->pausing)
			pause_settle(m, -ECANCELED, "the guest is being killed");
		machine_stop(m, STOP_SIGNAL, EXIT_SIGNAL(SIGKILL));
		return 0;
	case CONTROL_BALLOON_SET:
		return do_balloon_set(m, arg, reply, err, errlen);
	case CONTROL_BALLOON_STATS:
		return do_balloon_stats(m, reply, err, errlen);
	case CONTROL_STATS:
		return do_stats(m, reply);
	case CONTROL_TRACE:
		return do_trace(m, text, reply, err, errlen);
	}
	return fail(err, errlen, -EINVAL, "command not handled");
}
