/* Unit tests of --trace (base/trace.c): the filter parser, and the gating
 * at real trace points: a line appears exactly when its category is on
 * and its device passes the filter, and none at all when tracing is off.
 * The trace points are exercised through a driver-side virtio-rng
 * (rng-rig.c): status changes, kicks, requests popped and completed. */
#include <check.h>
#include "tests/unit/check-run.h"
#include <string.h>

#include "base/trace.h"
#include "tests/unit/log-capture.h"
#include "tests/unit/rng-rig.h"

static struct trace_filter parsed(const char *spec)
{
	struct trace_filter f;
	char err[256] = "";

	ck_assert_msg(trace_filter_parse(spec, &f, err, sizeof(err)) == 0, "%s: %s", spec, err);
	return f;
}

static void expect_refused(const char *spec, const char *fragment)
{
	struct trace_filter f;
	char err[256] = "";

	ck_assert_int_lt(trace_filter_parse(spec, &f, err, sizeof(err)), 0);
	ck_assert_msg(strstr(err, fragment), "'%s': error '%s' lacks '%s'", spec, err, fragment);
}

START_TEST(filter_parser)
{
	struct trace_filter f = parsed("all");
	ck_assert_uint_eq(f.categories, TRACE_ALL);
	ck_assert_uint_eq(f.nr_devices, 0);

	f = parsed("virtio-blk0,irq");
	ck_assert_uint_eq(f.categories, 1u << TRACE_IRQ);
	ck_assert_uint_eq(f.nr_devices, 1);
	ck_assert_str_eq(f.devices[0], "virtio-blk0");

	/* Only devices: all their events; exits belong to no device. */
	f = parsed("virtio-blk0,virtio-net1");
	ck_assert_uint_eq(f.categories, TRACE_ALL & ~(1u << TRACE_EXIT));
	ck_assert_uint_eq(f.nr_devices, 2);
	ck_assert_str_eq(f.devices[1], "virtio-net1");

	f = parsed("exit,kick,request,irq,status");
	ck_assert_uint_eq(f.categories, TRACE_ALL);
	f = parsed("all,virtio-rng0");
	ck_assert_uint_eq(f.categories, TRACE_ALL);
	ck_assert_uint_eq(f.nr_devices, 1);

	char desc[256];
	f = parsed("irq,kick,virtio-blk0");
	trace_filter_describe(&f, desc, sizeof(desc));
	ck_assert_str_eq(desc, "kick,irq of virtio-blk0");
	f = parsed("exit");
	trace_filter_describe(&f, desc, sizeof(desc));
	ck_assert_str_eq(desc, "exit of every device");

	expect_refused("", "empty");
	expect_refused(",", "''");
	expect_refused("irq,", "''");
	expect_refused("Virtio-Blk0", "neither a category");
	expect_refused("irq;kick", "neither a category");
	expect_refused("a,b,c,d,e,f,g,h,i", "at most 8 devices");
	expect_refused("virtio-blk0-with-a-name-far-too-long", "neither");
}
END_TEST

/* Trace lines from the filter spec (NULL: off) during one rig request. */
static unsigned lines_during_request(struct rng_rig *r, const char *spec, const char *needle)
{
	struct trace_filter f;

	if (spec)
		f = parsed(spec);
	log_capture_start();
	trace_set(spec ? &f : NULL);
	ck_assert_int_eq(rng_rig_request(r, 64), 64);
	trace_set(NULL);
	return log_capture_stop(needle);
}

START_TEST(gating_at_real_trace_points)
{
	static const struct {
		const char *spec; /* NULL: tracing off */
		const char *needle;
		unsigned lines;
	} cases[] = {
		/* Off: nothing, and nothing from any category. */
		{ NULL, "trace", 0 },
		/* One kick, one pop, one completion. */
		{ "all", "trace: virtio-rng0: kick q0", 1 },
		{ "all", "trace: virtio-rng0: request pop q0 head ", 1 },
		{ "all", "trace: virtio-rng0: request done q0 head ", 1 },
		{ "all", " in 64", 1 },
		{ "all", "written 64", 1 },
		{ "all", "trace", 3 },
		/* By category. */
		{ "kick", "trace", 1 },
		{ "request", "trace", 2 },
		{ "irq,status,exit", "trace", 0 },
		/* By device. */
		{ "virtio-rng0", "trace", 3 },
		{ "virtio-rng0,kick", "trace", 1 },
		{ "virtio-blk0", "trace", 0 },
		{ "virtio-blk0,virtio-rng0,request", "trace", 2 },
		/* Off again. */
		{ NULL, "trace", 0 },
	};
	struct rng_rig r;

	ck_assert_int_eq(rng_rig_start(&r), 0);
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		unsigned n = lines_during_request(&r, cases[i].spec, cases[i].needle);
		ck_assert_msg(n == cases[i].lines, "--trace=%s: %u lines with '%s', expected %u",
			      cases[i].spec ? cases[i].spec : "(off)", n, cases[i].needle, cases[i].lines);
	}
	rng_rig_stop(&r);
}
END_TEST

START_TEST(status_changes)
{
	struct rng_rig r;
	struct trace_filter f = parsed("status");

	log_capture_start();
	trace_set(&f);
	ck_assert_int_eq(rng_rig_start(&r), 0);
	pthread_mutex_lock(&r.rng.vdev.lock);
	virtio_device_needs_reset(&r.rng.vdev);
	virtio_device_reset(&r.rng.vdev);
	pthread_mutex_unlock(&r.rng.vdev.lock);
	trace_set(NULL);
	/* ACKNOWLEDGE, DRIVER, FEATURES_OK, DRIVER_OK; needs-reset; reset. */
	unsigned all = log_capture_stop("trace: virtio-rng0: status ");
	ck_assert_uint_eq(all, 6);

	log_capture_start();
	trace_set(&f);
	pthread_mutex_lock(&r.rng.vdev.lock);
	virtio_device_set_status(&r.rng.vdev, 1);
	pthread_mutex_unlock(&r.rng.vdev.lock);
	trace_set(NULL);
	ck_assert_uint_eq(log_capture_stop("trace: virtio-rng0: status 0 -> 0x1"), 1);
	rng_rig_stop(&r);
}
END_TEST

/* A plain trace point: off costs nothing but the mask test. */
START_TEST(emit_filters_by_device_and_category)
{
	struct trace_filter f = parsed("virtio-blk0,irq");

	log_capture_start();
	trace_set(&f);
	TRACE(TRACE_IRQ, "virtio-blk0", "irq msix vector %u", 3);   /* in */
	TRACE(TRACE_IRQ, "virtio-rng0", "irq msix vector %u", 4);   /* other device */
	TRACE(TRACE_KICK, "virtio-blk0", "kick q%u", 0);            /* other category */
	TRACE(TRACE_EXIT, NULL, "exit vcpu0 pio write 0x3f8 size 1 value 0x41"); /* not asked */
	trace_set(NULL);
	TRACE(TRACE_IRQ, "virtio-blk0", "irq msix vector %u", 5);   /* off */
	ck_assert_uint_eq(log_capture_stop("skiff: trace: virtio-blk0: irq msix vector 3"), 1);

	log_capture_start();
	trace_set(&f);
	TRACE(TRACE_IRQ, "virtio-blk0", "irq msix vector %u", 3);
	TRACE(TRACE_IRQ, "virtio-rng0", "irq msix vector %u", 4);
	TRACE(TRACE_KICK, "virtio-blk0", "kick q%u", 0);
	trace_set(NULL);
	TRACE(TRACE_IRQ, "virtio-blk0", "irq msix vector %u", 5);
	ck_assert_uint_eq(log_capture_stop("trace"), 1);

	/* Exits carry no device: shown with exit or all, whatever devices. */
	f = parsed("exit,virtio-blk0");
	log_capture_start();
	trace_set(&f);
	TRACE(TRACE_EXIT, NULL, "exit vcpu0 mmio read 0xd0000000 size 4 value 0x74726976");
	trace_set(NULL);
	ck_assert_uint_eq(log_capture_stop("skiff: trace: exit vcpu0 mmio read 0xd0000000 size 4 value 0x74726976"), 1);
}
END_TEST

static Suite *trace_suite(void)
{
	Suite *s = suite_create("trace");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, filter_parser);
	tcase_add_test(tc, gating_at_real_trace_points);
	tcase_add_test(tc, status_changes);
	tcase_add_test(tc, emit_filters_by_device_and_category);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return check_run_suite(trace_suite());
}
