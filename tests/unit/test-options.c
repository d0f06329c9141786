/* Unit tests for skiff's command-line parser (vmm/options.c). */
#include "devices/virtio-balloon.h"
#include "vmm/options.h"
#include "devices/virtio-blk.h"
#include "devices/virtio-console.h"
#include "devices/virtio-scsi.h"
#include "devices/virtio-rng.h"
#include "devices/virtio-net.h"

#include <arpa/inet.h>

#include <check.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A made-up host: 23.5 GiB of RAM, KVM allows 64 vCPUs. */
static const struct options_limits host = {
	.host_mem_bytes = (23ULL << 30) + (512ULL << 20),
	.max_cpus = 64,
};

static struct options o;

/* The rate an rng --device i was given (its type's parsed config). */
static uint64_t rng_rate(unsigned i)
{
	const struct virtio_rng_config *c = (const void *)o.devices[i].config.bytes;
	return c->rate;
}
static char err[256];

static void setup(void)
{
	options_defaults(&o);
	err[0] = '\0';
}

static void teardown(void)
{
	options_free(&o);
}

/* parse_with(&lim, "run", "--kernel", "k"): argv[0] is added. */
#define ARGV(...) ((char *[]){ "skiff", __VA_ARGS__, NULL })
#define ARGC(...) ((int)(sizeof((char *[]){ "skiff", __VA_ARGS__ }) / sizeof(char *)))
#define parse_with(lim, ...) options_parse(ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), (lim), &o, err, sizeof(err))
#define parse(...) parse_with(&host, __VA_ARGS__)

/* Expect a parse error whose message is exactly msg. */
#define ck_parse_error(msg, ...) do { \
	ck_assert_int_eq(parse(__VA_ARGS__), OPTIONS_ERROR); \
	ck_assert_str_eq(err, (msg)); \
} while (0)

/* Expect a parse error whose message contains each of the given pieces. */
#define ck_err_has(piece) ck_assert_msg(strstr(err, (piece)) != NULL, "'%s' not in error '%s'", (piece), err)

/* ---------------- Good command lines ---------------- */

START_TEST(test_defaults)
{
	ck_assert_int_eq(parse("run", "--kernel", "bzImage"), OPTIONS_RUN);
	ck_assert_str_eq(err, "");
	ck_assert_str_eq(o.kernel, "bzImage");
	ck_assert_ptr_null(o.initrd);
	ck_assert_ptr_null(o.cmdline);
	ck_assert(!o.cmdline_replace);
	ck_assert_uint_eq(o.mem_bytes, 256ULL << 20);
	ck_assert_uint_eq(o.cpus, 1);
	ck_assert_int_eq(o.console, CONSOLE_SERIAL);
	ck_assert_int_eq(o.swkvm, SWKVM_AUTO);
	ck_assert_uint_eq(o.nr_devices, 0);
	ck_assert_ptr_null(o.dump_dtb);
	ck_assert_uint_eq(o.debug_exit_port, 0xf4);
	ck_assert_uint_eq(o.verbose, 0);
	ck_assert(!o.quiet);
	ck_assert(o.seccomp);
	ck_assert(o.sandbox);
}
END_TEST

/* The on|off switches: --seccomp, and --sandbox (off wins over --seccomp
 * in the machine). Both spellings, --NAME VALUE and --NAME=VALUE. */
START_TEST(test_on_off_switches)
{
	static const struct {
		char *off, *on, *bad; /* parse() takes argv strings */
		const char *error;
		size_t field;
	} sw[] = {
		{"--seccomp=off", "--seccomp", "--seccomp=maybe", "skiff: --seccomp maybe: must be 'on' or 'off'",
		 offsetof(struct options, seccomp)},
		{"--sandbox=off", "--sandbox", "--sandbox=1", "skiff: --sandbox 1: must be 'on' or 'off'",
		 offsetof(struct options, sandbox)},
	};
	const struct options *po = &o;

	for (unsigned i = 0; i < sizeof(sw) / sizeof(sw[0]); i++) {
		ck_assert_int_eq(parse("run", "--kernel", "k", sw[i].off), OPTIONS_RUN);
		ck_assert(!*(const bool *)((const char *)po + sw[i].field));
		options_free(&o);
		ck_assert_int_eq(parse("run", "--kernel", "k", sw[i].on, "on"), OPTIONS_RUN);
		ck_assert(*(const bool *)((const char *)po + sw[i].field));
		options_free(&o);
		ck_parse_error(sw[i].error, "run", "--kernel", "k", sw[i].bad);
	}
}
END_TEST

/* --user: UID:GID, a UID alone (its passwd group, or GID = UID), a name
 * (root is in every passwd); no --user, no switch. */
START_TEST(test_user)
{
	ck_assert_int_eq(parse("run", "--kernel", "k"), OPTIONS_RUN);
	ck_assert(!o.switch_user);
	options_free(&o);
	ck_assert_int_eq(parse("run", "--kernel", "k", "--user", "65534:65533"), OPTIONS_RUN);
	ck_assert(o.switch_user);
	ck_assert_uint_eq(o.user_uid, 65534);
	ck_assert_uint_eq(o.user_gid, 65533);
	options_free(&o);
	ck_assert_int_eq(parse("run", "--kernel", "k", "--user=4000000"), OPTIONS_RUN);
	ck_assert_uint_eq(o.user_uid, 4000000);
	ck_assert_uint_eq(o.user_gid, 4000000);
	options_free(&o);
	ck_assert_int_eq(parse("run", "--kernel", "k", "--user", "root"), OPTIONS_RUN);
	ck_assert_uint_eq(o.user_uid, 0);
	ck_assert_uint_eq(o.user_gid, 0);
	options_free(&o);
	ck_parse_error("skiff: --user no-such-user-here: neither a user name nor UID[:GID]", "run", "--kernel", "k",
		       "--user", "no-such-user-here");
	ck_parse_error("skiff: --user 12:x: GID must be a number below 4294967295", "run", "--kernel", "k", "--user",
		       "12:x");
	ck_parse_error("skiff: --user 4294967295: neither a user name nor UID[:GID]", "run", "--kernel", "k",
		       "--user", "4294967295");
}
END_TEST

START_TEST(test_all_options)
{
	ck_assert_int_eq(parse("run", "--kernel", "vmlinux", "--initrd", "initrd.img", "--cmdline", "quiet",
			       "--mem", "1G", "--cpus", "4", "--console", "none", "--swkvm", "on",
			       "--device", "rng", "--dump-dtb", "out.dtb", "--debug-exit-port", "0x501", "-v",
			       "--api-sock", "/run/vm.sock"),
			 OPTIONS_RUN);
	ck_assert_str_eq(o.api_sock, "/run/vm.sock");
	ck_assert_str_eq(o.kernel, "vmlinux");
	ck_assert_str_eq(o.initrd, "initrd.img");
	ck_assert_str_eq(o.cmdline, "quiet");
	ck_assert_uint_eq(o.mem_bytes, 1ULL << 30);
	ck_assert_uint_eq(o.cpus, 4);
	ck_assert_int_eq(o.console, CONSOLE_NONE);
	ck_assert_int_eq(o.swkvm, SWKVM_ON);
	ck_assert_uint_eq(o.nr_devices, 1);
	ck_assert_str_eq(o.dump_dtb, "out.dtb");
	ck_assert_uint_eq(o.debug_exit_port, 0x501);
	ck_assert_uint_eq(o.verbose, 1);
}
END_TEST

START_TEST(test_equals_form)
{
	ck_assert_int_eq(parse("run", "--kernel=k", "--mem=2G", "--cmdline=a=b c", "--cpus=2"), OPTIONS_RUN);
	ck_assert_str_eq(o.kernel, "k");
	ck_assert_uint_eq(o.mem_bytes, 2ULL << 30);
	ck_assert_str_eq(o.cmdline, "a=b c");  /* only the first '=' splits */
	ck_assert_uint_eq(o.cpus, 2);
}
END_TEST

/* Every accepted spelling of a size, and what it means in bytes. */
static struct {
	char *text;
	unsigned long long bytes;
} good_sizes[] = {
	{ "256M", 256ULL << 20 },
	{ "2G", 2ULL << 30 },
	{ "1g", 1ULL << 30 },
	{ "512MiB", 512ULL << 20 },
	{ "512mib", 512ULL << 20 },
	{ "512MB", 512ULL << 20 },
	{ "1048576K", 1ULL << 30 },
	{ "65536k", 64ULL << 20 },
	{ "1024", 1ULL << 30 },    /* a plain number is MiB */
	{ "64", 64ULL << 20 },     /* exactly the minimum */
	{ "23G", 23ULL << 30 },    /* just under the host's 23.5G */
};

START_TEST(test_mem_good)
{
	ck_assert_int_eq(parse("run", "--kernel", "k", "--mem", good_sizes[_i].text), OPTIONS_RUN);
	ck_assert_msg(o.mem_bytes == good_sizes[_i].bytes, "--mem %s gave %llu bytes",
		      good_sizes[_i].text, (unsigned long long)o.mem_bytes);
}
END_TEST

START_TEST(test_mem_terabyte_without_host_limit)
{
	/* host_mem_bytes 0 (unknown) and no limits at all: only skiff's own bounds */
	struct options_limits unknown = { 0, 0 };

	ck_assert_int_eq(parse_with(&unknown, "run", "--kernel", "k", "--mem", "1T"), OPTIONS_RUN);
	ck_assert_uint_eq(o.mem_bytes, 1ULL << 40);
	options_free(&o);
	ck_assert_int_eq(parse_with(NULL, "run", "--kernel", "k", "--mem", "2t", "--cpus", "64"), OPTIONS_RUN);
	ck_assert_uint_eq(o.mem_bytes, 2ULL << 40);
}
END_TEST

START_TEST(test_cpus_good)
{
	ck_assert_int_eq(parse("run", "--kernel", "k", "--cpus", "64"), OPTIONS_RUN);
	ck_assert_uint_eq(o.cpus, 64);
}
END_TEST

START_TEST(test_cpus_capped_at_64)
{
	/* KVM may allow hundreds; skiff stops at 64. */
	struct options_limits big = { .host_mem_bytes = 1ULL << 40, .max_cpus = 1024 };

	ck_assert_int_eq(parse_with(&big, "run", "--kernel", "k", "--cpus", "65"), OPTIONS_ERROR);
	ck_assert_str_eq(err, "skiff: --cpus 65: must be between 1 and 64");
}
END_TEST

START_TEST(test_cpus_kvm_limit)
{
	struct options_limits small = { .host_mem_bytes = 1ULL << 30, .max_cpus = 8 };

	ck_assert_int_eq(parse_with(&small, "run", "--kernel", "k", "--cpus", "8"), OPTIONS_RUN);
	options_free(&o);
	ck_assert_int_eq(parse_with(&small, "run", "--kernel", "k", "--cpus", "9"), OPTIONS_ERROR);
	ck_assert_str_eq(err, "skiff: --cpus 9: must be between 1 and 8");
}
END_TEST

START_TEST(test_console_and_swkvm)
{
	ck_assert_int_eq(parse("run", "--kernel", "k", "--console", "serial", "--swkvm", "off"), OPTIONS_RUN);
	ck_assert_int_eq(o.console, CONSOLE_SERIAL);
	ck_assert_int_eq(o.swkvm, SWKVM_OFF);
	options_free(&o);
	ck_assert_int_eq(parse("run", "--kernel", "k", "--swkvm", "auto"), OPTIONS_RUN);
	ck_assert_int_eq(o.swkvm, SWKVM_AUTO);
}
END_TEST

/* --console virtio adds a console device whose port 0 is the terminal,
 * after the --device ones; named ports are repeatable port= keys. */
START_TEST(test_console_virtio)
{
	ck_assert_int_eq(parse("run", "--kernel", "k", "--console", "virtio", "--device",
			       "console,port=a:file=/tmp/a,port=b:socket=/tmp/b.sock,transport=mmio"),
			 OPTIONS_RUN);
	ck_assert_int_eq(o.console, CONSOLE_VIRTIO);
	ck_assert_uint_eq(o.nr_devices, 2);
	const struct virtio_console_config_opts *c = (const void *)o.devices[0].config.bytes;
	ck_assert_ptr_eq(o.devices[0].type, &virtio_console_type);
	ck_assert(!c->stdio);
	ck_assert_uint_eq(c->nports, 2);
	ck_assert_str_eq(c->ports[0]->name, "a");
	ck_assert_int_eq(c->ports[0]->kind, CONSOLE_PORT_FILE);
	ck_assert_str_eq(c->ports[1]->path, "/tmp/b.sock");
	ck_assert_int_eq(c->ports[1]->kind, CONSOLE_PORT_SOCKET);
	c = (const void *)o.devices[1].config.bytes;
	ck_assert_ptr_eq(o.devices[1].type, &virtio_console_type);
	ck_assert(c->stdio);
	ck_assert_uint_eq(c->nports, 0);
	options_free(&o);
	ck_parse_error("skiff: --device console: give at least one port=NAME:file=PATH or port=NAME:socket=PATH",
		       "run", "--kernel", "k", "--device", "console");
	ck_parse_error("skiff: --device console,port=a:pipe=/x: port 'a:pipe=/x' must be NAME:file=PATH, "
		       "NAME:socket=PATH or NAME:fd=N",
		       "run", "--kernel", "k", "--device", "console,port=a:pipe=/x");
	ck_parse_error("skiff: --device console,port=a:file=/x,port=a:file=/y: port name 'a' given twice",
		       "run", "--kernel", "k", "--device", "console,port=a:file=/x,port=a:file=/y");
}
END_TEST

START_TEST(test_cmdline_repeated)
{
	ck_assert_int_eq(parse("run", "--cmdline", "console=ttyS0", "--kernel", "k", "--cmdline", "quiet loglevel=3"),
			 OPTIONS_RUN);
	ck_assert_str_eq(o.cmdline, "console=ttyS0 quiet loglevel=3");
	ck_assert(!o.cmdline_replace);
}
END_TEST

START_TEST(test_cmdline_empty_pieces)
{
	/* An empty --cmdline adds nothing, not a double space. */
	ck_assert_int_eq(parse("run", "--kernel", "k", "--cmdline", "", "--cmdline", "a", "--cmdline", ""),
			 OPTIONS_RUN);
	ck_assert_str_eq(o.cmdline, "a");
}
END_TEST

START_TEST(test_cmdline_replace)
{
	ck_assert_int_eq(parse("run", "--kernel", "k", "--cmdline-replace", "root=/dev/vda"), OPTIONS_RUN);
	ck_assert_str_eq(o.cmdline, "root=/dev/vda");
	ck_assert(o.cmdline_replace);
}
END_TEST

START_TEST(test_device_rng_default)
{
	ck_assert_int_eq(parse("run", "--kernel", "k", "--device", "rng"), OPTIONS_RUN);
	ck_assert_uint_eq(o.nr_devices, 1);
	ck_assert_ptr_eq(o.devices[0].type, &virtio_rng_type);
	ck_assert_int_eq(o.devices[0].transport, TRANSPORT_PCI);
	ck_assert_uint_eq(rng_rate(0), 0);
}
END_TEST

START_TEST(test_device_rng_keys)
{
	ck_assert_int_eq(parse("run", "--kernel", "k", "--device", "rng,transport=mmio-legacy,rate=1024",
			       "--device", "rng,rate=7,transport=pci-legacy", "--device", "rng,transport=mmio",
			       "--device", "rng,transport=pci"),
			 OPTIONS_RUN);
	ck_assert_uint_eq(o.nr_devices, 4);
	ck_assert_int_eq(o.devices[0].transport, TRANSPORT_MMIO_LEGACY);
	ck_assert_uint_eq(rng_rate(0), 1024);
	ck_assert_int_eq(o.devices[1].transport, TRANSPORT_PCI_LEGACY);
	ck_assert_uint_eq(rng_rate(1), 7);
	ck_assert_int_eq(o.devices[2].transport, TRANSPORT_MMIO);
	ck_assert_int_eq(o.devices[3].transport, TRANSPORT_PCI);
	ck_assert_str_eq(device_transport_name(o.devices[0].transport), "mmio-legacy");
	ck_assert_str_eq(o.devices[0].type->name, "rng");
}
END_TEST

/* --device blk keys and the --disk shorthand (a file with a comma in its name). */
START_TEST(test_device_blk_keys)
{
	char image[] = "/var/tmp/skiff-test-options,disk.img";
	FILE *f = fopen(image, "w");
	ck_assert_ptr_nonnull(f);
	fclose(f);
	ck_assert_int_eq(parse("run", "--kernel", "k", "--device",
			       "blk,path=/dev/null,readonly=on,serial=abc,cache=none,discard=on,write-zeroes=on,queues=4,transport=mmio",
			       "--disk", image),
			 OPTIONS_RUN);
	ck_assert_uint_eq(o.nr_devices, 2);
	const struct virtio_blk_config_opts *c = (const void *)o.devices[0].config.bytes;
	ck_assert_ptr_eq(o.devices[0].type, &virtio_blk_type);
	ck_assert_str_eq(c->path, "/dev/null");
	ck_assert(c->readonly && c->discard && c->write_zeroes);
	ck_assert_str_eq(c->serial, "abc");
	ck_assert_int_eq(c->cache, BLK_CACHE_NONE);
	ck_assert_uint_eq(c->queues, 4);
	ck_assert_int_eq(o.devices[0].transport, TRANSPORT_MMIO);
	c = (const void *)o.devices[1].config.bytes;
	ck_assert_ptr_eq(o.devices[1].type, &virtio_blk_type);
	ck_assert_str_eq(c->path, image);
	ck_assert(!c->readonly);
	ck_assert_int_eq(o.devices[1].transport, TRANSPORT_PCI);
	unlink(image);
}
END_TEST

START_TEST(test_device_blk_errors)
{
	ck_parse_error("skiff: --device blk: path=FILE is required", "run", "--kernel", "k", "--device", "blk");
	ck_parse_error("skiff: --device blk,path=/dev/null,queues=0: queues '0' must be a number from 1 to 16",
		       "run", "--kernel", "k", "--device", "blk,path=/dev/null,queues=0");
	ck_parse_error("skiff: --device blk,path=/nonexistent/x: cannot open /nonexistent/x: No such file or directory",
		       "run", "--kernel", "k", "--device", "blk,path=/nonexistent/x");
	ck_parse_error("skiff: --disk /: / is a directory, not a disk image", "run", "--kernel", "k", "--disk", "/");
	ck_parse_error("skiff: --disk needs a disk image file or block device", "run", "--kernel", "k", "--disk", "");
	ck_parse_error("skiff: --device blk,path=/dev/null,readonly=yes: readonly 'yes' must be on or off",
		       "run", "--kernel", "k", "--device", "blk,path=/dev/null,readonly=yes");
}
END_TEST

/* --device scsi: a line without path= is a controller, a line with path=
 * a disk on the last controller (or a new one when there is none). */
START_TEST(test_device_scsi_join)
{
	ck_assert_int_eq(parse("run", "--kernel", "k", "--device", "scsi,path=/dev/null,serial=s0", "--device",
			       "scsi,path=/dev/null,lun=2,readonly=on", "--device", "rng", "--device",
			       "scsi,transport=mmio,queues=2", "--device", "scsi,path=/dev/zero,target=1,discard=on"),
			 OPTIONS_RUN);
	ck_assert_uint_eq(o.nr_devices, 3);
	const struct virtio_scsi_config_opts *c = (const void *)o.devices[0].config.bytes;
	ck_assert_ptr_eq(o.devices[0].type, &virtio_scsi_type);
	ck_assert_int_eq(o.devices[0].transport, TRANSPORT_PCI);
	ck_assert_uint_eq(c->nr_disks, 2);
	ck_assert_str_eq(c->disks[0].serial, "s0");
	ck_assert_uint_eq(c->disks[1].lun, 2);
	ck_assert(c->disks[1].readonly);
	c = (const void *)o.devices[2].config.bytes;
	ck_assert_int_eq(o.devices[2].transport, TRANSPORT_MMIO);
	ck_assert_uint_eq(c->queues, 2);
	ck_assert_uint_eq(c->nr_disks, 1);
	ck_assert_str_eq(c->disks[0].path, "/dev/zero");
	ck_assert_uint_eq(c->disks[0].target, 1);
	ck_assert(c->disks[0].discard);
}
END_TEST

START_TEST(test_device_scsi_errors)
{
	ck_parse_error("skiff: --device scsi,path=/dev/null: target 0 LUN 0 already holds /dev/null", "run", "--kernel",
		       "k", "--device", "scsi,path=/dev/null", "--device", "scsi,path=/dev/null");
	ck_parse_error("skiff: --device scsi,path=/dev/null,lun=256: lun '256' must be a number from 0 to 255", "run",
		       "--kernel", "k", "--device", "scsi,path=/dev/null,lun=256");
	ck_parse_error("skiff: --device scsi,path=/nonexistent/x: cannot open /nonexistent/x: No such file or directory",
		       "run", "--kernel", "k", "--device", "scsi,path=/nonexistent/x");
}
END_TEST

/* Build "skiff run --kernel k" plus n times "--device rng" and parse it. */
static enum options_result parse_n_devices(int n)
{
	char *argv[4 + 2 * 40 + 1];
	int argc = 0;

	argv[argc++] = "skiff";
	argv[argc++] = "run";
	argv[argc++] = "--kernel";
	argv[argc++] = "k";
	for (int i = 0; i < n; i++) {
		argv[argc++] = "--device";
		argv[argc++] = "rng";
	}
	argv[argc] = NULL;
	return options_parse(argc, argv, &host, &o, err, sizeof(err));
}

START_TEST(test_device_32_allowed)
{
	ck_assert_int_eq(parse_n_devices(32), OPTIONS_RUN);
	ck_assert_uint_eq(o.nr_devices, 32);
}
END_TEST

START_TEST(test_debug_exit_port)
{
	ck_assert_int_eq(parse("run", "--kernel", "k", "--debug-exit-port", "0X4F0"), OPTIONS_RUN);
	ck_assert_uint_eq(o.debug_exit_port, 0x4f0);
	options_free(&o);
	ck_assert_int_eq(parse("run", "--kernel", "k", "--debug-exit-port", "65535"), OPTIONS_RUN);
	ck_assert_uint_eq(o.debug_exit_port, 0xffff);
	options_free(&o);
	ck_assert_int_eq(parse("run", "--kernel", "k", "--debug-exit-port", "0"), OPTIONS_RUN);
	ck_assert_uint_eq(o.debug_exit_port, 0);
}
END_TEST

START_TEST(test_verbose_quiet)
{
	ck_assert_int_eq(parse("run", "-vv", "--kernel", "k", "--verbose", "-v"), OPTIONS_RUN);
	ck_assert_uint_eq(o.verbose, 4);
	options_free(&o);
	ck_assert_int_eq(parse("run", "--kernel", "k", "-q"), OPTIONS_RUN);
	ck_assert(o.quiet);
	options_free(&o);
	ck_assert_int_eq(parse("run", "--kernel", "k", "--quiet"), OPTIONS_RUN);
	ck_assert(o.quiet);
}
END_TEST

START_TEST(test_trace)
{
	ck_assert_uint_eq(o.trace.categories, 0); /* off by default */
	ck_assert_int_eq(parse("run", "--kernel", "k", "--trace=virtio-blk0,irq"), OPTIONS_RUN);
	ck_assert_uint_eq(o.trace.categories, 1u << TRACE_IRQ);
	ck_assert_uint_eq(o.trace.nr_devices, 1);
	ck_assert_str_eq(o.trace.devices[0], "virtio-blk0");
	options_free(&o);
	ck_assert_int_eq(parse("run", "--kernel", "k", "--trace", "all"), OPTIONS_RUN);
	ck_assert_uint_eq(o.trace.categories, TRACE_ALL);
	options_free(&o);
	ck_parse_error("skiff: --trace 'irq,IRQ': 'IRQ' is neither a category (exit, kick, request, irq, status, all) "
		       "nor a device name like virtio-blk0",
		       "run", "--kernel", "k", "--trace=irq,IRQ");
	ck_assert_int_eq(parse("run", "--kernel", "k", "--trace=irq", "--trace=kick"), OPTIONS_ERROR);
	ck_err_has("more than once");
}
END_TEST

START_TEST(test_double_dash_at_end)
{
	ck_assert_int_eq(parse("run", "--kernel", "k", "--"), OPTIONS_RUN);
}
END_TEST

START_TEST(test_parse_repeatedly)
{
	/* Nothing leaks from one call into the next. */
	ck_assert_int_eq(parse("run", "--kernel", "a", "--cpus", "2", "--device", "rng"), OPTIONS_RUN);
	options_free(&o);
	ck_assert_int_eq(parse("run", "--kernel", "b"), OPTIONS_RUN);
	ck_assert_str_eq(o.kernel, "b");
	ck_assert_uint_eq(o.cpus, 1);
	ck_assert_uint_eq(o.nr_devices, 0);
}
END_TEST

/* ---------------- --mem errors ---------------- */

START_TEST(test_mem_zero)
{
	ck_parse_error("skiff: --mem 0: must be greater than zero", "run", "--kernel", "k", "--mem", "0");
}
END_TEST

START_TEST(test_mem_below_minimum)
{
	ck_parse_error("skiff: --mem 16M: a Linux guest needs at least 64M", "run", "--kernel", "k", "--mem", "16M");
}
END_TEST

START_TEST(test_mem_fractional)
{
	ck_parse_error("skiff: --mem 1.5G: must be a whole number; use a smaller unit (1536M, not 1.5G)",
		       "run", "--kernel", "k", "--mem", "1.5G");
}
END_TEST

START_TEST(test_mem_negative)
{
	ck_parse_error("skiff: --mem -1G: must be a positive size, e.g. 512M or 2G", "run", "--kernel", "k", "--mem", "-1G");
}
END_TEST

START_TEST(test_mem_bad_suffix)
{
	ck_parse_error("skiff: --mem 12X: unknown size suffix 'X'; use K, M, G or T", "run", "--kernel", "k", "--mem", "12X");
	ck_parse_error("skiff: --mem 12MBx: unknown size suffix 'MBx'; use K, M, G or T", "run", "--kernel", "k", "--mem", "12MBx");
	ck_parse_error("skiff: --mem 512B: unknown size suffix 'B'; use K, M, G or T", "run", "--kernel", "k", "--mem", "512B");
}
END_TEST

START_TEST(test_mem_garbage)
{
	ck_assert_int_eq(parse("run", "--kernel", "k", "--mem", "lots"), OPTIONS_ERROR);
	ck_err_has("--mem lots: not a size");
	ck_assert_int_eq(parse("run", "--kernel", "k", "--mem", ""), OPTIONS_ERROR);
	ck_err_has("--mem : not a size");
	ck_assert_int_eq(parse("run", "--kernel", "k", "--mem", " 256M"), OPTIONS_ERROR);
	ck_err_has("not a size");
}
END_TEST

START_TEST(test_mem_overflow)
{
	/* too many digits for 64 bits */
	ck_parse_error("skiff: --mem 99999999999999999999G: too large", "run", "--kernel", "k", "--mem", "99999999999999999999G");
	/* fits in 64 bits, but not once multiplied by 2^40 */
	ck_parse_error("skiff: --mem 16777216T: too large", "run", "--kernel", "k", "--mem", "16777216T");
}
END_TEST

START_TEST(test_mem_above_host)
{
	ck_parse_error("skiff: --mem 100G: larger than the host's 23G of RAM", "run", "--kernel", "k", "--mem", "100G");
	ck_parse_error("skiff: --mem 24G: larger than the host's 23G of RAM", "run", "--kernel", "k", "--mem", "24G");
}
END_TEST

START_TEST(test_mem_not_page_multiple)
{
	ck_parse_error("skiff: --mem 65537K: must be a multiple of 4K", "run", "--kernel", "k", "--mem", "65537K");
}
END_TEST

/* ---------------- --cpus errors ---------------- */

START_TEST(test_cpus_zero)
{
	ck_parse_error("skiff: --cpus 0: must be between 1 and 64", "run", "--kernel", "k", "--cpus", "0");
}
END_TEST

START_TEST(test_cpus_too_many)
{
	ck_parse_error("skiff: --cpus 65: must be between 1 and 64", "run", "--kernel", "k", "--cpus", "65");
	ck_parse_error("skiff: --cpus 99999999999999999999999: must be between 1 and 64",
		       "run", "--kernel", "k", "--cpus", "99999999999999999999999");
}
END_TEST

START_TEST(test_cpus_not_a_number)
{
	ck_parse_error("skiff: --cpus abc: not a number", "run", "--kernel", "k", "--cpus", "abc");
	ck_parse_error("skiff: --cpus 2x: not a number", "run", "--kernel", "k", "--cpus", "2x");
	ck_parse_error("skiff: --cpus : not a number", "run", "--kernel", "k", "--cpus", "");
}
END_TEST

START_TEST(test_cpus_negative)
{
	ck_parse_error("skiff: --cpus -1: must be between 1 and 64", "run", "--kernel", "k", "--cpus", "-1");
}
END_TEST

/* ---------------- other bad values ---------------- */

START_TEST(test_console_bad)
{
	ck_parse_error("skiff: --console tty: must be 'serial', 'virtio' or 'none'", "run", "--kernel", "k", "--console", "tty");
}
END_TEST

START_TEST(test_poll)
{
	ck_assert_int_eq(parse("run", "--kernel", "k"), OPTIONS_RUN);
	ck_assert_uint_eq(o.poll_us, 0); /* off unless asked for */
	options_free(&o);
	ck_assert_int_eq(parse("run", "--kernel", "k", "--poll", "32"), OPTIONS_RUN);
	ck_assert_uint_eq(o.poll_us, 32);
	options_free(&o);
	ck_assert_int_eq(parse("run", "--kernel", "k", "--poll", "10000"), OPTIONS_RUN);
	ck_assert_uint_eq(o.poll_us, OPTIONS_MAX_POLL_US);
}
END_TEST

START_TEST(test_poll_bad)
{
	ck_parse_error("skiff: --poll 10001: at most 10000 microseconds (0 turns polling off)",
		       "run", "--kernel", "k", "--poll", "10001");
	ck_parse_error("skiff: --poll 99999999999999999999: at most 10000 microseconds (0 turns polling off)",
		       "run", "--kernel", "k", "--poll", "99999999999999999999");
	ck_parse_error("skiff: --poll 32us: not a number of microseconds", "run", "--kernel", "k", "--poll", "32us");
	ck_parse_error("skiff: --poll -1: not a number of microseconds", "run", "--kernel", "k", "--poll", "-1");
	ck_parse_error("skiff: --poll : not a number of microseconds", "run", "--kernel", "k", "--poll", "");
}
END_TEST

START_TEST(test_swkvm_bad)
{
	ck_parse_error("skiff: --swkvm yes: must be 'auto', 'on' or 'off'", "run", "--kernel", "k", "--swkvm", "yes");
}
END_TEST

START_TEST(test_debug_exit_port_bad)
{
	ck_parse_error("skiff: --debug-exit-port 0x10000: must be below 0x10000 (0 disables it)",
		       "run", "--kernel", "k", "--debug-exit-port", "0x10000");
	ck_parse_error("skiff: --debug-exit-port 65536: must be below 0x10000 (0 disables it)",
		       "run", "--kernel", "k", "--debug-exit-port", "65536");
	ck_parse_error("skiff: --debug-exit-port 0x: not a port number (decimal, or hex with 0x)",
		       "run", "--kernel", "k", "--debug-exit-port", "0x");
	ck_parse_error("skiff: --debug-exit-port f4: not a port number (decimal, or hex with 0x)",
		       "run", "--kernel", "k", "--debug-exit-port", "f4");
	ck_parse_error("skiff: --debug-exit-port -1: not a port number (decimal, or hex with 0x)",
		       "run", "--kernel", "k", "--debug-exit-port", "-1");
}
END_TEST

START_TEST(test_empty_file_name)
{
	ck_parse_error("skiff: --kernel: empty file name", "run", "--kernel", "");
	ck_parse_error("skiff: --initrd: empty file name", "run", "--kernel", "k", "--initrd=");
}
END_TEST

/* ---------------- --device errors ---------------- */

START_TEST(test_device_unknown_type)
{
	ck_parse_error("skiff: --device bogus: unknown device type 'bogus' (known: rng, blk, console, scsi, net, balloon)",
		       "run", "--kernel", "k", "--device", "bogus");
	ck_parse_error("skiff: --device ,rate=1: missing device type (known: rng, blk, console, scsi, net, balloon)",
		       "run", "--kernel", "k", "--device", ",rate=1");
}
END_TEST

/* --device net: keys checked on the command line (the rest, like a TAP
 * that cannot be opened or a port in use, before the guest starts). */
START_TEST(test_device_net_keys)
{
	ck_parse_error("skiff: --device net,mac=01:00:00:00:00:01: mac '01:00:00:00:00:01' is a multicast address, not a unicast address",
		       "run", "--kernel", "k", "--device", "net,mac=01:00:00:00:00:01");
	ck_parse_error("skiff: --device net,mac=52:54:00:00:01: mac '52:54:00:00:01' is not a MAC address like 52:54:00:12:34:56",
		       "run", "--kernel", "k", "--device", "net,mac=52:54:00:00:01");
	ck_parse_error("skiff: --device net,backend=user,hostfwd=tcp:8080-:80: hostfwd 'tcp:8080-:80' must look like tcp:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT (or udp:...)",
		       "run", "--kernel", "k", "--device", "net,backend=user,hostfwd=tcp:8080-:80");
	ck_parse_error("skiff: --device net,backend=slirp: backend 'slirp' must be tap or user",
		       "run", "--kernel", "k", "--device", "net,backend=slirp");
	ck_parse_error("skiff: --device net,queues=9: queues '9' must be a number of queue pairs from 1 to 8",
		       "run", "--kernel", "k", "--device", "net,queues=9");
	ck_parse_error("skiff: --device net,mac=52:54:00:00:00:01,mac=52:54:00:00:00:02: key 'mac' given twice",
		       "run", "--kernel", "k", "--device", "net,mac=52:54:00:00:00:01,mac=52:54:00:00:00:02");
	ck_parse_error("skiff: --device net,backend=user,hostfwd=tcp::0-:0: hostfwd 'tcp::0-:0' must look like tcp:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT (or udp:...)",
		       "run", "--kernel", "k", "--device", "net,backend=user,hostfwd=tcp::0-:0");
	/* hostfwd may repeat: both rules kept. Host port 0: pick a free one. */
	options_free(&o);
	options_defaults(&o);
	ck_assert_int_eq(parse("run", "--kernel", "k", "--device",
			       "net,backend=user,hostfwd=tcp:127.0.0.1:2222-:22,hostfwd=udp::5353-10.0.2.15:53,"
			       "hostfwd=tcp::0-:22"), 0);
	const struct virtio_net_options *c = (const void *)o.devices[0].config.bytes;
	ck_assert_uint_eq(c->backend.nr_hostfwd, 3);
	ck_assert_uint_eq(c->backend.hostfwd[2].host_port, 0);
	ck_assert_uint_eq(c->backend.hostfwd[0].host_port, 2222);
	ck_assert_uint_eq(c->backend.hostfwd[0].guest_port, 22);
	ck_assert_uint_eq(c->backend.hostfwd[1].udp, 1);
	ck_assert_uint_eq(c->backend.hostfwd[1].guest_addr, htonl(0x0a00020f));
}
END_TEST

START_TEST(test_device_bad_transport)
{
	ck_parse_error("skiff: --device rng,transport=usb: unknown transport 'usb' (known: pci, pci-legacy, pci-modern, mmio, mmio-legacy)",
		       "run", "--kernel", "k", "--device", "rng,transport=usb");
}
END_TEST

START_TEST(test_device_unknown_key)
{
	ck_parse_error("skiff: --device rng,foo=1: unknown key 'foo' for rng (known: transport, rate)",
		       "run", "--kernel", "k", "--device", "rng,foo=1");
}
END_TEST

START_TEST(test_device_balloon_keys)
{
	ck_assert_int_eq(parse("run", "--kernel", "k", "--device",
			       "balloon,deflate-on-oom=on,free-page-reporting=on,stats-interval=5,transport=mmio"),
			 OPTIONS_RUN);
	const struct balloon_options *b = (const void *)o.devices[0].config.bytes;
	ck_assert(b->deflate_on_oom);
	ck_assert(b->free_page_reporting);
	ck_assert_uint_eq(b->stats_interval_s, 5);
	ck_assert_int_eq(o.devices[0].transport, TRANSPORT_MMIO);
	options_free(&o); /* the next parse starts over without freeing */
	ck_parse_error("skiff: --device balloon,deflate-on-oom=yes: deflate-on-oom 'yes' must be 'on' or 'off'",
		       "run", "--kernel", "k", "--device", "balloon,deflate-on-oom=yes");
	ck_assert_int_eq(parse("run", "--kernel", "k", "--device", "balloon,stats-interval=0"), OPTIONS_ERROR);
	ck_err_has("stats-interval '0'");
	ck_assert_int_eq(parse("run", "--kernel", "k", "--device", "balloon,stats-interval=3601"), OPTIONS_ERROR);
	ck_assert_int_eq(parse("run", "--kernel", "k", "--api-sock", ""), OPTIONS_ERROR);
}
END_TEST

START_TEST(test_device_bad_rate)
{
	ck_parse_error("skiff: --device rng,rate=0: rate '0' must be a positive whole number of bytes per second",
		       "run", "--kernel", "k", "--device", "rng,rate=0");
	ck_assert_int_eq(parse("run", "--kernel", "k", "--device", "rng,rate=-5"), OPTIONS_ERROR);
	ck_err_has("rate '-5'");
	ck_assert_int_eq(parse("run", "--kernel", "k", "--device", "rng,rate=1k"), OPTIONS_ERROR);
	ck_err_has("rate '1k'");
	ck_assert_int_eq(parse("run", "--kernel", "k", "--device", "rng,rate=99999999999999999999999"), OPTIONS_ERROR);
	ck_err_has("rate '99999999999999999999999'");
}
END_TEST

START_TEST(test_device_malformed_items)
{
	ck_parse_error("skiff: --device rng,transport: 'transport' is not key=value",
		       "run", "--kernel", "k", "--device", "rng,transport");
	ck_parse_error("skiff: --device rng,: '' is not key=value", "run", "--kernel", "k", "--device", "rng,");
	ck_parse_error("skiff: --device rng,=pci: '=pci' is not key=value", "run", "--kernel", "k", "--device", "rng,=pci");
	ck_parse_error("skiff: --device rng,rate=1,rate=2: key 'rate' given twice",
		       "run", "--kernel", "k", "--device", "rng,rate=1,rate=2");
}
END_TEST

START_TEST(test_device_too_many)
{
	ck_assert_int_eq(parse_n_devices(33), OPTIONS_ERROR);
	ck_assert_str_eq(err, "skiff: --device rng: too many devices (at most 32)");
}
END_TEST

/* ---------------- command-line structure errors ---------------- */

START_TEST(test_unknown_option)
{
	ck_parse_error("skiff: unknown option '--foo' (try 'skiff run --help')", "run", "--kernel", "k", "--foo");
	ck_parse_error("skiff: unknown option '--foo' (try 'skiff run --help')", "run", "--kernel", "k", "--foo=1");
	ck_parse_error("skiff: unknown option '-x' (try 'skiff run --help')", "run", "--kernel", "k", "-vx");
}
END_TEST

START_TEST(test_no_abbreviations)
{
	ck_parse_error("skiff: unknown option '--ker' (try 'skiff run --help')", "run", "--ker", "k");
}
END_TEST

START_TEST(test_missing_argument)
{
	ck_parse_error("skiff: --kernel: missing FILE", "run", "--kernel");
	ck_parse_error("skiff: --mem: missing SIZE", "run", "--kernel", "k", "--mem");
	/* the next word is an option, not the value */
	ck_parse_error("skiff: --cmdline: missing ARGS", "run", "--cmdline", "--kernel", "k");
}
END_TEST

START_TEST(test_flag_with_value)
{
	ck_parse_error("skiff: --verbose takes no value", "run", "--kernel", "k", "--verbose=2");
}
END_TEST

START_TEST(test_duplicate_single_valued)
{
	ck_parse_error("skiff: --kernel given more than once", "run", "--kernel", "a", "--kernel", "b");
	ck_parse_error("skiff: --mem given more than once", "run", "--kernel", "k", "--mem", "1G", "--mem=1G");
	ck_parse_error("skiff: --cmdline-replace given more than once",
		       "run", "--kernel", "k", "--cmdline-replace", "a", "--cmdline-replace", "b");
}
END_TEST

START_TEST(test_cmdline_conflict)
{
	const char *msg = "skiff: --cmdline and --cmdline-replace can't be used together: "
			  "--cmdline-replace already gives the whole command line";

	ck_parse_error(msg, "run", "--kernel", "k", "--cmdline", "a", "--cmdline-replace", "b");
	ck_parse_error(msg, "run", "--kernel", "k", "--cmdline-replace", "b", "--cmdline", "a");
}
END_TEST

START_TEST(test_verbose_with_quiet)
{
	ck_parse_error("skiff: --verbose and --quiet can't be used together", "run", "--kernel", "k", "-v", "-q");
	ck_parse_error("skiff: --verbose and --quiet can't be used together", "run", "--kernel", "k", "-qv");
}
END_TEST

START_TEST(test_stray_positional)
{
	/* the classic: an unquoted --cmdline */
	ck_parse_error("skiff: unexpected argument 'quiet' (quote --cmdline values that contain spaces)",
		       "run", "--kernel", "k", "--cmdline", "console=ttyS0", "quiet");
	ck_parse_error("skiff: unexpected argument '-' (quote --cmdline values that contain spaces)",
		       "run", "--kernel", "k", "-");
	ck_parse_error("skiff: unexpected argument 'x'", "run", "--kernel", "k", "--", "x");
}
END_TEST

START_TEST(test_no_command)
{
	char *argv[] = { "skiff", NULL };

	ck_assert_int_eq(options_parse(1, argv, &host, &o, err, sizeof(err)), OPTIONS_ERROR);
	ck_assert_str_eq(err, "skiff: missing command: try 'skiff run --kernel FILE' or 'skiff --help'");
}
END_TEST

START_TEST(test_unknown_command)
{
	ck_parse_error("skiff: unknown command 'start' (the commands are 'run', 'exec' and 'ctl')", "start", "--kernel", "k");
	ck_parse_error("skiff: unknown option '--kernel' before the command (try 'skiff --help')", "--kernel", "k", "run");
}
END_TEST

START_TEST(test_kernel_required)
{
	ck_parse_error("skiff: run: --kernel FILE is required", "run");
	ck_parse_error("skiff: run: --kernel FILE is required", "run", "--mem", "1G");
}
END_TEST

START_TEST(test_error_leaves_defaults)
{
	/* a failed parse frees what it had collected and leaves the defaults */
	ck_assert_int_eq(parse("run", "--kernel", "k", "--initrd", "i", "--cmdline", "x", "--cpus", "3",
			       "--device", "rng", "--cpus", "4"),
			 OPTIONS_ERROR);
	ck_assert_ptr_null(o.kernel);
	ck_assert_ptr_null(o.initrd);
	ck_assert_ptr_null(o.cmdline);
	ck_assert_uint_eq(o.cpus, 1);
	ck_assert_uint_eq(o.nr_devices, 0);
}
END_TEST

START_TEST(test_small_error_buffer)
{
	/* messages are cut to the buffer, never overflow it; NULL is allowed */
	char small[12];
	char *argv[] = { "skiff", "run", "--cpus", "0", NULL };

	memset(small, 'X', sizeof(small));
	ck_assert_int_eq(options_parse(4, argv, &host, &o, small, sizeof(small)), OPTIONS_ERROR);
	ck_assert_str_eq(small, "skiff: --cp");
	ck_assert_int_eq(options_parse(4, argv, &host, &o, NULL, 0), OPTIONS_ERROR);
}
END_TEST

/* ---------------- help and version ---------------- */

START_TEST(test_help)
{
	ck_assert_int_eq(parse("--help"), OPTIONS_HELP);
	ck_assert_int_eq(parse("-h"), OPTIONS_HELP);
	ck_assert_int_eq(parse("run", "--help"), OPTIONS_HELP);
	ck_assert_int_eq(parse("run", "--kernel", "k", "-h"), OPTIONS_HELP);
	/* no --kernel needed to ask for help */
	ck_assert_int_eq(parse("run", "--mem", "1G", "--help"), OPTIONS_HELP);
}
END_TEST

START_TEST(test_version)
{
	ck_assert_int_eq(parse("--version"), OPTIONS_VERSION);
	ck_parse_error("skiff: unexpected argument 'run' after --version", "--version", "run");
}
END_TEST

/* Read what a print function writes into a string. */
static char *capture(void (*print)(FILE *))
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	ck_assert_ptr_nonnull(f);
	print(f);
	fclose(f);
	return text;
}

/* --device help: every type of the table, each with the common key and
 * its own keys, and nothing else on the command line is required. */
START_TEST(test_device_help)
{
	ck_assert_int_eq(parse("run", "--device", "help"), OPTIONS_DEVICE_HELP);
	ck_assert_int_eq(parse("run", "--kernel", "k", "--device", "help"), OPTIONS_DEVICE_HELP);
	char *text = capture(device_types_help);
	for (unsigned i = 0; device_types[i]; i++) {
		char line[64];
		snprintf(line, sizeof(line), "\n  %s: ", device_types[i]->name);
		ck_assert_msg(strstr(text, line), "--device help does not list '%s'", device_types[i]->name);
		for (const struct device_key *k = device_types[i]->keys; k && k->name; k++) {
			snprintf(line, sizeof(line), "%s=%s", k->name, k->value);
			ck_assert_msg(strstr(text, line), "--device help does not list '%s'", line);
		}
	}
	ck_assert(strstr(text, "transport=T"));
	ck_assert(strstr(text, "rate=BYTES_PER_SEC"));
	free(text);
}
END_TEST

START_TEST(test_usage_text)
{
	static const char *const must_mention[] = {
		"--kernel FILE", "--initrd FILE", "--cmdline \"ARGS\"", "--cmdline-replace", "--mem SIZE",
		"--cpus N", "--console serial|virtio|none", "--swkvm auto|on|off", "--device SPEC", "transport=",
		"'--device help'", "--dump-dtb FILE", "--debug-exit-port PORT", "--verbose", "--quiet", "--help",
		"Ctrl-A x", "Ctrl-A Ctrl-A", "Exit status", "(VALUE << 1) | 1", "143, 130, 129",
		"a plain number is\n                           MiB",
	};
	char *text = capture(options_usage);

	for (size_t i = 0; i < sizeof(must_mention) / sizeof(must_mention[0]); i++)
		ck_assert_msg(strstr(text, must_mention[i]), "help does not mention '%s'", must_mention[i]);
	/* the help must fit an 80-column terminal */
	for (char *line = text; *line;) {
		char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		ck_assert_msg(len <= 80, "help line too long: %.*s", (int)len, line);
		line += len + (nl != NULL);
	}
	free(text);

	text = capture(options_version);
	ck_assert_msg(strncmp(text, "skiff ", 6) == 0, "version: %s", text);
	free(text);
}
END_TEST

/* ---------------- file checks ---------------- */

static char tmpdir[64];
static char path_kernel[128], path_empty[128], path_missing[128];

/* A scratch directory with a 1-byte "kernel" and an empty file. */
static void files_setup(void)
{
	FILE *f;

	setup();
	strcpy(tmpdir, "/tmp/skiff-test-options-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	snprintf(path_kernel, sizeof(path_kernel), "%s/bzImage", tmpdir);
	snprintf(path_empty, sizeof(path_empty), "%s/empty", tmpdir);
	snprintf(path_missing, sizeof(path_missing), "%s/missing", tmpdir);
	f = fopen(path_kernel, "w");
	ck_assert_ptr_nonnull(f);
	fputc('K', f);
	fclose(f);
	f = fopen(path_empty, "w");
	ck_assert_ptr_nonnull(f);
	fclose(f);
}

static void files_teardown(void)
{
	teardown();
	unlink(path_kernel);
	unlink(path_empty);
	rmdir(tmpdir);
}

/* Parse "run --kernel K" plus extra options, then check the files. */
static int check(const char *kernel, const char *opt, const char *val)
{
	char *argv[] = { "skiff", "run", "--kernel", (char *)kernel, (char *)opt, (char *)val, NULL };
	int argc = opt ? 6 : 4;

	ck_assert_int_eq(options_parse(argc, argv, &host, &o, err, sizeof(err)), OPTIONS_RUN);
	return options_check_files(&o, err, sizeof(err));
}

START_TEST(test_files_ok)
{
	char dtb[160];

	snprintf(dtb, sizeof(dtb), "%s/guest.dtb", tmpdir);
	ck_assert_int_eq(check(path_kernel, "--initrd", path_kernel), 0);
	ck_assert_str_eq(err, "");
	options_free(&o);
	ck_assert_int_eq(check(path_kernel, "--dump-dtb", dtb), 0);
	options_free(&o);
	ck_assert_int_eq(check(path_kernel, "--dump-dtb", "guest.dtb"), 0);  /* current directory */
}
END_TEST

START_TEST(test_files_missing)
{
	char msg[256];

	ck_assert_int_eq(check(path_missing, NULL, NULL), -1);
	snprintf(msg, sizeof(msg), "skiff: --kernel %s: No such file or directory", path_missing);
	ck_assert_str_eq(err, msg);
	options_free(&o);
	ck_assert_int_eq(check(path_kernel, "--initrd", path_missing), -1);
	snprintf(msg, sizeof(msg), "skiff: --initrd %s: No such file or directory", path_missing);
	ck_assert_str_eq(err, msg);
}
END_TEST

START_TEST(test_files_directory)
{
	char msg[256];

	ck_assert_int_eq(check(tmpdir, NULL, NULL), -1);
	snprintf(msg, sizeof(msg), "skiff: --kernel %s: Is a directory", tmpdir);
	ck_assert_str_eq(err, msg);
}
END_TEST

START_TEST(test_files_not_regular)
{
	ck_assert_int_eq(check("/dev/null", NULL, NULL), -1);
	ck_assert_str_eq(err, "skiff: --kernel /dev/null: not a regular file");
}
END_TEST

START_TEST(test_files_empty)
{
	char msg[256];

	ck_assert_int_eq(check(path_kernel, "--initrd", path_empty), -1);
	snprintf(msg, sizeof(msg), "skiff: --initrd %s: file is empty", path_empty);
	ck_assert_str_eq(err, msg);
}
END_TEST

START_TEST(test_files_unreadable)
{
	char msg[256];

	if (geteuid() == 0)
		return;  /* root reads anything: nothing to test */
	ck_assert_int_eq(chmod(path_kernel, 0), 0);
	ck_assert_int_eq(check(path_kernel, NULL, NULL), -1);
	snprintf(msg, sizeof(msg), "skiff: --kernel %s: Permission denied", path_kernel);
	ck_assert_str_eq(err, msg);
}
END_TEST

START_TEST(test_files_dump_dtb_dir)
{
	char dtb[160], msg[400];

	snprintf(dtb, sizeof(dtb), "%s/guest.dtb", path_missing);
	ck_assert_int_eq(check(path_kernel, "--dump-dtb", dtb), -1);
	snprintf(msg, sizeof(msg), "skiff: --dump-dtb %s: directory %s: No such file or directory", dtb, path_missing);
	ck_assert_str_eq(err, msg);
	options_free(&o);

	/* a file where the directory should be */
	snprintf(dtb, sizeof(dtb), "%s/guest.dtb", path_kernel);
	ck_assert_int_eq(check(path_kernel, "--dump-dtb", dtb), -1);
	snprintf(msg, sizeof(msg), "skiff: --dump-dtb %s: %s is not a directory", dtb, path_kernel);
	ck_assert_str_eq(err, msg);
	options_free(&o);

	/* the output itself is a directory */
	ck_assert_int_eq(check(path_kernel, "--dump-dtb", tmpdir), -1);
	snprintf(msg, sizeof(msg), "skiff: --dump-dtb %s: Is a directory", tmpdir);
	ck_assert_str_eq(err, msg);
}
END_TEST

Suite *options_suite(void)
{
	Suite *s = suite_create("options");
	TCase *good = tcase_create("good");
	TCase *bad = tcase_create("bad");
	TCase *usage = tcase_create("usage");
	TCase *files = tcase_create("files");

	tcase_add_checked_fixture(good, setup, teardown);
	tcase_add_test(good, test_defaults);
	tcase_add_test(good, test_user);
	tcase_add_test(good, test_all_options);
	tcase_add_test(good, test_equals_form);
	tcase_add_loop_test(good, test_mem_good, 0, sizeof(good_sizes) / sizeof(good_sizes[0]));
	tcase_add_test(good, test_mem_terabyte_without_host_limit);
	tcase_add_test(good, test_cpus_good);
	tcase_add_test(good, test_cpus_kvm_limit);
	tcase_add_test(good, test_console_and_swkvm);
	tcase_add_test(good, test_cmdline_repeated);
	tcase_add_test(good, test_cmdline_empty_pieces);
	tcase_add_test(good, test_cmdline_replace);
	tcase_add_test(good, test_device_rng_default);
	tcase_add_test(good, test_device_rng_keys);
	tcase_add_test(good, test_device_blk_keys);
	tcase_add_test(good, test_console_virtio);
	tcase_add_test(good, test_device_scsi_join);
	tcase_add_test(good, test_device_32_allowed);
	tcase_add_test(good, test_device_help);
	tcase_add_test(good, test_debug_exit_port);
	tcase_add_test(good, test_poll);
	tcase_add_test(good, test_verbose_quiet);
	tcase_add_test(good, test_trace);
	tcase_add_test(good, test_double_dash_at_end);
	tcase_add_test(good, test_parse_repeatedly);
	suite_add_tcase(s, good);

	tcase_add_checked_fixture(bad, setup, teardown);
	tcase_add_test(bad, test_mem_zero);
	tcase_add_test(bad, test_mem_below_minimum);
	tcase_add_test(bad, test_mem_fractional);
	tcase_add_test(bad, test_mem_negative);
	tcase_add_test(bad, test_mem_bad_suffix);
	tcase_add_test(bad, test_mem_garbage);
	tcase_add_test(bad, test_mem_overflow);
	tcase_add_test(bad, test_mem_above_host);
	tcase_add_test(bad, test_mem_not_page_multiple);
	tcase_add_test(bad, test_cpus_zero);
	tcase_add_test(bad, test_cpus_too_many);
	tcase_add_test(bad, test_cpus_capped_at_64);
	tcase_add_test(bad, test_cpus_not_a_number);
	tcase_add_test(bad, test_cpus_negative);
	tcase_add_test(bad, test_console_bad);
	tcase_add_test(bad, test_swkvm_bad);
	tcase_add_test(bad, test_on_off_switches);
	tcase_add_test(bad, test_debug_exit_port_bad);
	tcase_add_test(bad, test_poll_bad);
	tcase_add_test(bad, test_empty_file_name);
	tcase_add_test(bad, test_device_unknown_type);
	tcase_add_test(bad, test_device_bad_transport);
	tcase_add_test(bad, test_device_net_keys);
	tcase_add_test(bad, test_device_unknown_key);
	tcase_add_test(bad, test_device_blk_errors);
	tcase_add_test(bad, test_device_scsi_errors);
	tcase_add_test(bad, test_device_bad_rate);
	tcase_add_test(bad, test_device_balloon_keys);
	tcase_add_test(bad, test_device_malformed_items);
	tcase_add_test(bad, test_device_too_many);
	tcase_add_test(bad, test_unknown_option);
	tcase_add_test(bad, test_no_abbreviations);
	tcase_add_test(bad, test_missing_argument);
	tcase_add_test(bad, test_flag_with_value);
	tcase_add_test(bad, test_duplicate_single_valued);
	tcase_add_test(bad, test_cmdline_conflict);
	tcase_add_test(bad, test_verbose_with_quiet);
	tcase_add_test(bad, test_stray_positional);
	tcase_add_test(bad, test_no_command);
	tcase_add_test(bad, test_unknown_command);
	tcase_add_test(bad, test_kernel_required);
	tcase_add_test(bad, test_error_leaves_defaults);
	tcase_add_test(bad, test_small_error_buffer);
	suite_add_tcase(s, bad);

	tcase_add_checked_fixture(usage, setup, teardown);
	tcase_add_test(usage, test_help);
	tcase_add_test(usage, test_version);
	tcase_add_test(usage, test_usage_text);
	suite_add_tcase(s, usage);

	tcase_add_checked_fixture(files, files_setup, files_teardown);
	tcase_add_test(files, test_files_ok);
	tcase_add_test(files, test_files_missing);
	tcase_add_test(files, test_files_directory);
	tcase_add_test(files, test_files_not_regular);
	tcase_add_test(files, test_files_empty);
	tcase_add_test(files, test_files_unreadable);
	tcase_add_test(files, test_files_dump_dtb_dir);
	suite_add_tcase(s, files);
	return s;
}

#ifndef SKIFF_UNIT_NO_MAIN
int main(void)
{
	SRunner *sr = srunner_create(options_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
#endif
