/* The device-type table: every kind of device `--device TYPE,...` can
 * create, with its option keys, help text, and how to build it.
 *
 * Adding a device type = one file in devices/ that defines a
 * `const struct device_type` and one line in device_types[] (device-types.c).
 * The command line (vmm/options-device.c) and the machine (vmm/virtio-devices.c)
 * only walk this table; neither names a device type.
 *
 * Every config that holds memory of its own (strdup'd paths, port lists)
 * has a free_config hook: options_free() frees each config through its
 * type, and the option tests run under LeakSanitizer (--enable-asan).
 *
 * Keys common to every type (transport=) are parsed by vmm/options.c once;
 * a type lists only its own keys here.
 */
#ifndef SKIFF_DEVICE_TYPES_H
#define SKIFF_DEVICE_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "base/hooks.h"
#include "virtio/virtio-device.h"
#include "base/guest-mem.h"

#define DEVICE_CONFIG_MAX 1024/* bytes of parsed options a type may keep */

/* One KEY=VALUE a type accepts. */
struct device_key {
	const char *name;  /* "rate" */
	const char *value; /* what VALUE looks like in the help: "BYTES_PER_SEC" */
	const char *help;  /* one line: "rate limit (default unlimited)" */
	/* Store value into config. 0, or -EINVAL with the reason in err
	 * (without any "--device ..." prefix: the caller adds it). */
	int (*parse)(void *config, const char *value, char *err, size_t errlen);
	bool repeatable;   /* may be given several times (each call adds one) */
};

struct reactor;

struct device_type {
	const char *name;              /* "rng": --device rng; instances virtio-rng0, virtio-rng1, ... */
	const char *help;              /* one line for --device help */
	const struct device_key *keys; /* ends with a { NULL } entry */
	size_t config_size;            /* parsed options, <= DEVICE_CONFIG_MAX; all-zero = defaults */
	size_t state_size;             /* the device model; the core allocates it zeroed */
	/* Build the model in state. name is the instance's ("virtio-rng1");
	 * fds the device watches go on reactor (not running yet). Returns the
	 * virtio_device the transport will drive, or NULL with one line in err
	 * (bad host resources: a TAP that cannot be opened, a port in use). */
	struct virtio_device *(*create)(void *state, const void *config, const char *name, const struct guest_mem *mem,
					struct reactor *reactor, char *err, size_t errlen);
	/* Optional: start the device's own threads, once the reactor runs
	 * (after the process-wide seccomp filter is in place, so they inherit
	 * it; each names its role with thread_role_enter()). */
	int (*start)(void *state);
	/* Optional: system calls the device needs beyond the VMM's own (NULL-
	 * terminated), for the seccomp filters of the threads that run device
	 * models (reactor, slirp); ioctl, clone and opens cannot be asked for
	 * (vmm/seccomp.h). config as parsed. */
	const char *const *(*syscalls)(const void *config);
	/* Optional: files the device opens for reading while the guest runs
	 * (NULL-terminated paths), the only ones the sandbox lets those
	 * threads open (Landlock; seccomp then allows read-only opens). */
	const char *const *(*reads)(const void *config);
	/* Optional: the machine's stop request (e.g. Ctrl-A x typed on a
	 * console the device owns), handed in after create. */
	void (*set_stop)(void *state, struct stop_hook hook);
	/* Optional: after all KEY=VALUEs are parsed, check them together
	 * (e.g. a required key). -EINVAL with the reason in err. */
	int (*check)(const void *config, char *err, size_t errlen);
	/* Optional: a line that joins an earlier device instead of making
	 * one (a disk on a SCSI controller). prev_config is the last earlier
	 * device of this type, or NULL; transport_given says the line had
	 * transport=. 1 = merged into prev_config (no new device), 0 = a
	 * device of its own, -EINVAL with the reason in err. */
	int (*join)(void *prev_config, void *config, bool transport_given, char *err, size_t errlen);
	/* Optional: free what the key parsers allocated inside config (paths,
	 * port lists); the config owns it from the parse on. Called through
	 * device_config_free(). What join() moved into prev_config belongs to
	 * prev_config: the merged line's config is then not freed. */
	void (*free_config)(void *config);
	void (*destroy)(void *state); /* optional; after its transport is gone */
	/* Optional shorthands the command line offers, so vmm/ names no type.
	 * disk_key: `--disk FILE` is this type with KEY=FILE (FILE may hold
	 * commas). The first type in the table that sets it serves --disk. */
	const char *disk_key;
	/* terminal: `--console virtio` adds one device of this type, set up
	 * by this hook to put the guest's console on skiff's terminal. */
	void (*terminal)(void *config);
	/* Optional periodic work on the reactor thread (e.g. refilling a rate
	 * limiter): every timer_ms(config) milliseconds, 0 = none. */
	unsigned (*timer_ms)(const void *config);
	void (*timer)(void *state);
};

/* The table, NULL-terminated. */
extern const struct device_type *const device_types[];

const struct device_type *device_type_find(const char *name);
/* "rng, ..." for error messages: the known type names, comma-separated. */
void device_types_names(char *buf, size_t len);
/* "transport, rate" for error messages: the keys of t, common key first. */
void device_type_key_names(const struct device_type *t, char *buf, size_t len);
/* Print every type and its keys (for `--device help`). */
void device_types_help(FILE *f);

/* The type `--disk FILE` makes (its disk_key), and the type `--console
 * virtio` adds (its terminal hook); NULL if no type offers it. */
const struct device_type *device_type_for_disk(void);
const struct device_type *device_type_for_terminal(void);

/* Free what config owns (t->free_config) and clear it to the defaults
 * (all zero), so a second call frees nothing. */
void device_config_free(const struct device_type *t, void *config);

/* For key parsers: a positive whole decimal number. */
bool device_parse_positive(const char *value, uint64_t *out);
/* For key parsers: "on" or "off" into *out; else -EINVAL, "KEY 'VALUE' must be on or off". */
int device_parse_on_off(const char *key, const char *value, bool *out, char *err, size_t errlen);

#endif
