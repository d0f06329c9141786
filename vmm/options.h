/* skiff's command line: `skiff run [OPTIONS]`, `skiff --help`,
 * `skiff --version`, `skiff run --help`.
 *
 * The parser reads argv and the host limits the caller passes in, prints
 * nothing and keeps no global state, so the unit tests can call it over
 * and over. It opens no files, but device types' check hooks may look at
 * the file system (disk_check_path() stats a disk's path=, so a
 * missing image is refused with the option that named it). Errors come
 * back as one line in a caller-supplied buffer ("skiff: --cpus 0: must
 * be between 1 and 64"); the caller prints it to stderr and exits with
 * EXIT_ERROR. The kernel, initrd and --dump-dtb files are checked
 * separately (options_check_files()). */
#ifndef SKIFF_OPTIONS_H
#define SKIFF_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "base/trace.h"
#include "devices/device-types.h"
#include "vmm/options-device.h"
#include "kvm/x86/swkvm.h"  /* enum swkvm_mode: SWKVM_AUTO, SWKVM_ON, SWKVM_OFF */

#define OPTIONS_DEFAULT_MEM        (256ULL << 20)  /* 256 MiB */
#define OPTIONS_MIN_MEM            (64ULL << 20)   /* below this Linux won't boot usefully */
#define OPTIONS_MAX_CPUS           64              /* skiff's own cap, whatever KVM allows */
#define OPTIONS_DEFAULT_DEBUG_EXIT 0xf4            /* QEMU's isa-debug-exit port */
#define OPTIONS_MAX_POLL_US        10000           /* a 10 ms spin after each burst is already a lot */

/* Facts about the host that bound the options. The caller fills them in
 * (tests use made-up values). 0 means "unknown": no limit from it. */
struct options_limits {
	uint64_t host_mem_bytes;  /* MemTotal from /proc/meminfo, in bytes */
	unsigned max_cpus;        /* KVM_CAP_MAX_VCPUS; capped at OPTIONS_MAX_CPUS */
};

enum console_mode {
	CONSOLE_SERIAL,  /* guest's COM1 <-> our stdin/stdout */
	CONSOLE_NONE,    /* guest output is discarded, no input */
	CONSOLE_VIRTIO,  /* a virtio-console (hvc0) <-> our stdin/stdout; COM1 output still shown */
	CONSOLE_LOG,     /* skiff exec: COM1's output to console_fd, no input, no raw terminal */
};

struct options {
	char *kernel;           /* --kernel, required */
	char *initrd;           /* --initrd, or NULL */
	char *cmdline;          /* the --cmdline texts joined by spaces, or the
	                           --cmdline-replace text; NULL if neither */
	bool cmdline_replace;   /* true: use cmdline alone, without skiff's defaults */
	uint64_t mem_bytes;     /* --mem, default OPTIONS_DEFAULT_MEM; a multiple of 4 KiB */
	unsigned cpus;          /* --cpus, default 1 */
	enum console_mode console;
	int console_fd;         /* CONSOLE_LOG: where COM1's output goes */
	enum swkvm_mode swkvm;  /* default SWKVM_AUTO: workarounds if the host lacks VMX/SVM */
	struct device_spec devices[OPTIONS_MAX_DEVICES];
	unsigned nr_devices;    /* in command-line order */
	char *dump_dtb;         /* --dump-dtb, or NULL */
	char *api_sock;         /* --api-sock, or NULL */
	unsigned debug_exit_port; /* default 0xf4; 0 = no debug-exit device */
	unsigned poll_us;       /* --poll: the device reactor's polling time; default 0 = off */
	bool seccomp;           /* --seccomp on (default) / off */
	bool sandbox;           /* --sandbox on (default: seccomp and Landlock) / off (neither) */
	bool switch_user;       /* --user given: run as user_uid:user_gid once set up */
	uid_t user_uid;
	gid_t user_gid;
	struct trace_filter trace; /* --trace; categories 0: off */
	unsigned verbose;       /* number of -v */
	bool quiet;             /* -q; never together with -v */
};

enum options_result {
	OPTIONS_RUN,      /* *out is filled in: start the VM */
	OPTIONS_HELP,     /* print options_usage(stdout), exit 0 */
	OPTIONS_VERSION,  /* print options_version(stdout), exit 0 */
	OPTIONS_DEVICE_HELP, /* --device help: print device_types_help(stdout), exit 0 */
	OPTIONS_ERROR,    /* err holds one line; print it to stderr, exit EXIT_ERROR */
};

/* Fill *o with the defaults (owns no memory). */
void options_defaults(struct options *o);

/* Parse argv (argv[0] is the program name). lim may be NULL (no limits but
 * skiff's own). *out is always left valid: on OPTIONS_ERROR it holds just
 * the defaults. Call options_free() on it when done. */
enum options_result options_parse(int argc, char **argv, const struct options_limits *lim,
				  struct options *out, char *err, size_t errlen);

/* Check --kernel/--initrd are readable non-empty regular files and that
 * --dump-dtb's directory exists. 0, or -1 with one line in err. */
int options_check_files(const struct options *o, char *err, size_t errlen);

void options_usage(FILE *f);
void options_version(FILE *f);

/* Free what options_parse() allocated and reset *o to the defaults.
 * Safe to call twice. */
void options_free(struct options *o);


#endif
