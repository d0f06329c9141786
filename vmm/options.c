/* skiff's command line. A small hand-written parser rather than
 * getopt_long: it keeps no global state (the tests call it many times),
 * it does not accept abbreviations like "--ker", and every error is worded
 * here, as one line naming the option and the value. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "vmm/options.h"
#include "devices/virtio-console.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "0.1.0"
#endif

#define PAGE_SIZE 4096ULL

/* Write "skiff: MESSAGE" into err. Always returns -1 so callers can write
 * `return errorf(...)`. */
static int errorf(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int errorf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!err || errlen == 0)
		return -1;
	n = snprintf(err, errlen, "skiff: ");
	if (n < 0 || (size_t)n >= errlen)
		return -1;
	va_start(ap, fmt);
	vsnprintf(err + n, errlen - n, fmt, ap);
	va_end(ap);
	return -1;
}

/* ---- The option table ---- */

enum opt_id {
	OPT_KERNEL,
	OPT_INITRD,
	OPT_CMDLINE,
	OPT_CMDLINE_REPLACE,
	OPT_MEM,
	OPT_CPUS,
	OPT_CONSOLE,
	OPT_SWKVM,
	OPT_DEVICE,
	OPT_DISK,
	OPT_DUMP_DTB,
	OPT_API_SOCK,
	OPT_DEBUG_EXIT_PORT,
	OPT_SECCOMP,
	OPT_SANDBOX,
	OPT_VERBOSE,
	OPT_QUIET,
	OPT_HELP,
};

struct opt_def {
	const char *name;   /* long name, without "--" */
	char short_name;    /* 0 if none */
	const char *arg;    /* what the value is called in messages; NULL: a flag */
	bool repeatable;    /* may be given more than once */
	enum opt_id id;
};

static const struct opt_def opt_defs[] = {
	{ "kernel",          0,   "FILE",  false, OPT_KERNEL },
	{ "initrd",          0,   "FILE",  false, OPT_INITRD },
	{ "cmdline",         0,   "ARGS",  true,  OPT_CMDLINE },
	{ "cmdline-replace", 0,   "ARGS",  false, OPT_CMDLINE_REPLACE },
	{ "mem",             0,   "SIZE",  false, OPT_MEM },
	{ "cpus",            0,   "N",     false, OPT_CPUS },
	{ "console",         0,   "MODE",  false, OPT_CONSOLE },
	{ "swkvm",           0,   "MODE",  false, OPT_SWKVM },
	{ "device",          0,   "SPEC",  true,  OPT_DEVICE },
	{ "disk",            0,   "FILE",  true,  OPT_DISK },
	{ "dump-dtb",        0,   "FILE",  false, OPT_DUMP_DTB },
	{ "api-sock",        0,   "PATH",  false, OPT_API_SOCK },
	{ "debug-exit-port", 0,   "PORT",  false, OPT_DEBUG_EXIT_PORT },
	{ "seccomp",         0,   "MODE",  false, OPT_SECCOMP },
	{ "sandbox",         0,   "MODE",  false, OPT_SANDBOX },
	{ "verbose",         'v', NULL,    true,  OPT_VERBOSE },
	{ "quiet",           'q', NULL,    true,  OPT_QUIET },
	{ "help",            'h', NULL,    true,  OPT_HELP },
};

#define NR_OPT_DEFS (sizeof(opt_defs) / sizeof(opt_defs[0]))

/* Exact match only: "--ker" is an error, not "--kernel". */
static const struct opt_def *find_long(const char *name, size_t len)
{
	for (size_t i = 0; i < NR_OPT_DEFS; i++)
		if (strlen(opt_defs[i].name) == len && strncmp(opt_defs[i].name, name, len) == 0)
			return &opt_defs[i];
	return NULL;
}

static const struct opt_def *find_short(char c)
{
	for (size_t i = 0; i < NR_OPT_DEFS; i++)
		if (opt_defs[i].short_name == c)
			return &opt_defs[i];
	return NULL;
}

/* Parser state for one call of options_parse(). */
struct parser {
	struct options *o;
	const struct options_limits *lim;
	char *err;
	size_t errlen;
	bool seen[NR_OPT_DEFS];  /* to refuse a single-valued option given twice */
};

#define PERR(p, ...) errorf((p)->err, (p)->errlen, __VA_ARGS__)

/* ---- Values ---- */

/* Only plain digits: strtoull alone would accept " 12", "+12" and even
 * "-1" (as a huge number). */
static bool all_digits_in_base(const char *s, int base)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (base == 16 ? !isxdigit((unsigned char)*s) : !isdigit((unsigned char)*s))
			return false;
	return true;
}

static bool all_digits(const char *s)
{
	return all_digits_in_base(s, 10);
}

/* Digits (checked by all_digits_in_base()) into *out; false on overflow. */
static bool digits_to_u64(const char *s, int base, uint64_t *out)
{
	char *end;

	errno = 0;
	*out = strtoull(s, &end, base);
	return errno == 0 && *end == '\0';
}

/* Bytes as the largest whole unit that fits, rounded down: "23G", "512M". */
static void format_size(uint64_t bytes, char *buf, size_t len)
{
	static const char units[] = "KMGT";
	int i;

	for (i = 3; i >= 0; i--) {
		unsigned shift = 10 * (i + 1);
		if (bytes >> shift) {
			snprintf(buf, len, "%" PRIu64 "%c", bytes >> shift, units[i]);
			return;
		}
	}
	snprintf(buf, len, "%" PRIu64 "B", bytes);
}

/* SIZE: whole number, optional K/M/G/T (any case, binary), optionally
 * followed by B or iB. No suffix means MiB, since guests are sized in MiB
 * and "--mem 512" meaning 512 bytes would never be what anyone wants. */
static int parse_mem(struct parser *p, const char *val)
{
	const char *digits_end = val;
	const char *suffix;
	char number[32];
	unsigned shift;
	uint64_t n, bytes;
	char host[32], min[32];

	while (isdigit((unsigned char)*digits_end))
		digits_end++;
	if (digits_end == val) {
		if (val[0] == '-' && isdigit((unsigned char)val[1]))
			return PERR(p, "--mem %s: must be a positive size, e.g. 512M or 2G", val);
		return PERR(p, "--mem %s: not a size; use a whole number with an optional K, M, G or T suffix, e.g. 512M", val);
	}
	if (*digits_end == '.' || *digits_end == ',')
		return PERR(p, "--mem %s: must be a whole number; use a smaller unit (1536M, not 1.5G)", val);
	if ((size_t)(digits_end - val) >= sizeof(number))
		return PERR(p, "--mem %s: too large", val);
	memcpy(number, val, digits_end - val);
	number[digits_end - val] = '\0';
	if (!digits_to_u64(number, 10, &n))
		return PERR(p, "--mem %s: too large", val);

	suffix = digits_end;
	switch (toupper((unsigned char)*suffix)) {
	case '\0': shift = 20; break;  /* plain number: MiB */
	case 'K': shift = 10; suffix++; break;
	case 'M': shift = 20; suffix++; break;
	case 'G': shift = 30; suffix++; break;
	case 'T': shift = 40; suffix++; break;
	default:
		return PERR(p, "--mem %s: unknown size suffix '%s'; use K, M, G or T", val, digits_end);
	}
	if (*suffix && strcasecmp(suffix, "B") != 0 && strcasecmp(suffix, "iB") != 0)
		return PERR(p, "--mem %s: unknown size suffix '%s'; use K, M, G or T", val, digits_end);

	if (n > (UINT64_MAX >> shift))
		return PERR(p, "--mem %s: too large", val);
	bytes = n << shift;

	if (bytes == 0)
		return PERR(p, "--mem %s: must be greater than zero", val);
	/* KVM maps guest RAM in whole pages. */
	if (bytes % PAGE_SIZE)
		return PERR(p, "--mem %s: must be a multiple of 4K", val);
	if (bytes < OPTIONS_MIN_MEM) {
		format_size(OPTIONS_MIN_MEM, min, sizeof(min));
		return PERR(p, "--mem %s: a Linux guest needs at least %s", val, min);
	}
	if (p->lim && p->lim->host_mem_bytes && bytes > p->lim->host_mem_bytes) {
		format_size(p->lim->host_mem_bytes, host, sizeof(host));
		return PERR(p, "--mem %s: larger than the host's %s of RAM", val, host);
	}
	p->o->mem_bytes = bytes;
	return 0;
}

static unsigned max_cpus(const struct options_limits *lim)
{
	if (lim && lim->max_cpus && lim->max_cpus < OPTIONS_MAX_CPUS)
		return lim->max_cpus;
	return OPTIONS_MAX_CPUS;
}

static int parse_cpus(struct parser *p, const char *val)
{
	unsigned max = max_cpus(p->lim);
	uint64_t n;
	/* "-1" is a number, just out of range: say so rather than "not a number". */
	bool negative = val[0] == '-' && all_digits(val + 1);

	if (!negative && !all_digits(val))
		return PERR(p, "--cpus %s: not a number", val);
	if (negative || !digits_to_u64(val, 10, &n) || n < 1 || n > max)
		return PERR(p, "--cpus %s: must be between 1 and %u", val, max);
	p->o->cpus = (unsigned)n;
	return 0;
}

static int parse_console(struct parser *p, const char *val)
{
	if (strcmp(val, "serial") == 0)
		p->o->console = CONSOLE_SERIAL;
	else if (strcmp(val, "none") == 0)
		p->o->console = CONSOLE_NONE;
	else if (strcmp(val, "virtio") == 0)
		p->o->console = CONSOLE_VIRTIO;
	else
		return PERR(p, "--console %s: must be 'serial', 'virtio' or 'none'", val);
	return 0;
}

/* --console virtio: a virtio-console device whose port 0 is this
 * terminal, after the --device ones. */
static int add_virtio_console(struct parser *p)
{
	struct device_spec dev = { .type = device_type_find("console"), .transport = TRANSPORT_PCI };
	struct virtio_console_config_opts *c = (void *)dev.config.bytes;

	if (p->o->nr_devices >= OPTIONS_MAX_DEVICES)
		return PERR(p, "--console virtio: too many devices (at most %d)", OPTIONS_MAX_DEVICES);
	c->stdio = true;
	p->o->devices[p->o->nr_devices++] = dev;
	return 0;
}

static int parse_swkvm(struct parser *p, const char *val)
{
	if (strcmp(val, "auto") == 0)
		p->o->swkvm = SWKVM_AUTO;
	else if (strcmp(val, "on") == 0)
		p->o->swkvm = SWKVM_ON;
	else if (strcmp(val, "off") == 0)
		p->o->swkvm = SWKVM_OFF;
	else
		return PERR(p, "--swkvm %s: must be 'auto', 'on' or 'off'", val);
	return 0;
}

/* PORT: decimal, or hex with 0x. (No octal: "0244" meaning 164 would
 * surprise everyone.) */
static int parse_on_off(struct parser *p, const char *option, const char *val, bool *out)
{
	if (strcmp(val, "on") != 0 && strcmp(val, "off") != 0)
		return PERR(p, "--%s %s: must be 'on' or 'off'", option, val);
	*out = strcmp(val, "on") == 0;
	return 0;
}

static int parse_debug_exit_port(struct parser *p, const char *val)
{
	const char *digits = val;
	int base = 10;
	uint64_t n;

	if (val[0] == '0' && (val[1] == 'x' || val[1] == 'X')) {
		digits = val + 2;
		base = 16;
	}
	if (!all_digits_in_base(digits, base))
		return PERR(p, "--debug-exit-port %s: not a port number (decimal, or hex with 0x)", val);
	if (!digits_to_u64(digits, base, &n) || n > 0xffff)
		return PERR(p, "--debug-exit-port %s: must be below 0x10000 (0 disables it)", val);
	p->o->debug_exit_port = (unsigned)n;
	return 0;
}

/* ---- --device TYPE[,key=value...] ---- */

static const char *const transport_names[] = {
	[TRANSPORT_PCI] = "pci",
	[TRANSPORT_PCI_LEGACY] = "pci-legacy",
	[TRANSPORT_MMIO] = "mmio",
	[TRANSPORT_MMIO_LEGACY] = "mmio-legacy",
	[TRANSPORT_PCI_MODERN] = "pci-modern",
};

const char *device_transport_name(enum device_transport t)
{
	if ((unsigned)t < sizeof(transport_names) / sizeof(transport_names[0]))
		return transport_names[t];
	return "?";
}

bool device_transport_is_pci(enum device_transport t)
{
	return t == TRANSPORT_PCI || t == TRANSPORT_PCI_LEGACY || t == TRANSPORT_PCI_MODERN;
}

/* transport=, the one key every device type has. */
static int parse_transport(struct parser *p, const char *spec, struct device_spec *dev, const char *value)
{
	for (unsigned t = 0; t < sizeof(transport_names) / sizeof(transport_names[0]); t++) {
		if (strcmp(value, transport_names[t]) == 0) {
			dev->transport = t;
			return 0;
		}
	}
	return PERR(p, "--device %s: unknown transport '%s' (known: pci, pci-legacy, pci-modern, mmio, mmio-legacy)",
		    spec, value);
}

/* One KEY=VALUE: the common key, or one from the type's table entry.
 * seen has a bit per key (bit 0 transport, bit i+1 the type's key i). */
static int parse_device_key(struct parser *p, const char *spec, struct device_spec *dev, const char *key,
			    const char *value, uint32_t *seen)
{
	const struct device_key *keys = dev->type->keys;
	char why[160];
	unsigned bit = 0;

	if (strcmp(key, "transport") != 0) {
		for (bit = 1; keys && keys[bit - 1].name && strcmp(keys[bit - 1].name, key) != 0; bit++)
			;
		if (!keys || !keys[bit - 1].name) {
			device_type_key_names(dev->type, why, sizeof(why));
			return PERR(p, "--device %s: unknown key '%s' for %s (known: %s)", spec, key, dev->type->name,
				    why);
		}
	}
	if ((*seen & (1u << bit)) && !(bit && keys[bit - 1].repeatable))
		return PERR(p, "--device %s: key '%s' given twice", spec, key);
	*seen |= 1u << bit;
	if (bit == 0)
		return parse_transport(p, spec, dev, value);
	if (keys[bit - 1].parse(dev->config.bytes, value, why, sizeof(why)) < 0)
		return PERR(p, "--device %s: %s", spec, why);
	return 0;
}

/* A device whose keys are all parsed: the type's own checks across keys
 * (e.g. a required key), then onto the list. */
static int add_device(struct parser *p, const char *option, const char *spec, struct device_spec *dev,
		      bool transport_given)
{
	char why[256] = "";

	if (dev->type->check && dev->type->check(dev->config.bytes, why, sizeof(why)) < 0)
		return PERR(p, "%s %s: %s", option, spec, why);
	if (dev->type->join) {
		struct device_spec *prev = NULL;
		for (unsigned i = p->o->nr_devices; i-- > 0 && !prev;)
			if (p->o->devices[i].type == dev->type)
				prev = &p->o->devices[i];
		int joined = dev->type->join(prev ? prev->config.bytes : NULL, dev->config.bytes, transport_given,
					     why, sizeof(why));
		if (joined < 0)
			return PERR(p, "%s %s: %s", option, spec, why);
		if (joined > 0)
			return 0;
	}
	p->o->devices[p->o->nr_devices++] = *dev;
	return 0;
}

/* --device TYPE[,KEY=VALUE...], or --device help (returns 2). */
static int parse_device(struct parser *p, const char *spec)
{
	struct device_spec dev = { .type = NULL, .transport = TRANSPORT_PCI };
	char *copy, *item, *next, known[160];
	uint32_t seen = 0;
	int ret = 0;

	if (strcmp(spec, "help") == 0)
		return 2;
	if (p->o->nr_devices >= OPTIONS_MAX_DEVICES)
		return PERR(p, "--device %s: too many devices (at most %d)", spec, OPTIONS_MAX_DEVICES);

	/* Cut a copy at the commas: "rng,rate=10" -> "rng", "rate=10". */
	copy = strdup(spec);
	if (!copy)
		return PERR(p, "out of memory");
	next = strchr(copy, ',');
	if (next)
		*next++ = '\0';

	device_types_names(known, sizeof(known));
	if (copy[0] == '\0') {
		ret = PERR(p, "--device %s: missing device type (known: %s)", spec, known);
		goto out;
	}
	dev.type = device_type_find(copy);
	if (!dev.type) {
		ret = PERR(p, "--device %s: unknown device type '%s' (known: %s)", spec, copy, known);
		goto out;
	}

	while (next) {
		char *eq;

		item = next;
		next = strchr(item, ',');
		if (next)
			*next++ = '\0';
		eq = strchr(item, '=');
		if (!eq || eq == item) {
			ret = PERR(p, "--device %s: '%s' is not key=value", spec, item);
			goto out;
		}
		*eq = '\0';
		ret = parse_device_key(p, spec, &dev, item, eq + 1, &seen);
		if (ret)
			goto out;
	}
	ret = add_device(p, "--device", spec, &dev, seen & 1);
out:
	if (ret) /* not on the list: what its keys allocated is still ours */
		device_config_free(dev.type, dev.config.bytes);
	free(copy);
	return ret;
}

/* --disk FILE: --device blk,path=FILE, except that FILE may hold commas. */
static int parse_disk(struct parser *p, const char *file)
{
	struct device_spec dev = { .type = device_type_find("blk"), .transport = TRANSPORT_PCI };
	uint32_t seen = 0;
	int ret;

	if (!*file)
		return PERR(p, "--disk needs a disk image file or block device");
	if (p->o->nr_devices >= OPTIONS_MAX_DEVICES)
		return PERR(p, "--disk %s: too many devices (at most %d)", file, OPTIONS_MAX_DEVICES);
	ret = parse_device_key(p, file, &dev, "path", file, &seen);
	if (!ret)
		ret = add_device(p, "--disk", file, &dev, false);
	if (ret)
		device_config_free(dev.type, dev.config.bytes);
	return ret;
}

/* ---- Strings ---- */

/* Store a copy of a file-name option; empty names are refused here because
 * "--kernel : No such file or directory" later would be confusing. */
static int set_path(struct parser *p, const char *opt, char **slot, const char *val)
{
	if (val[0] == '\0')
		return PERR(p, "--%s: empty file name", opt);
	*slot = strdup(val);
	if (!*slot)
		return PERR(p, "out of memory");
	return 0;
}

/* --cmdline may repeat: join the texts with single spaces. */
static int append_cmdline(struct parser *p, const char *val)
{
	struct options *o = p->o;
	size_t old = o->cmdline ? strlen(o->cmdline) : 0;
	bool space = old > 0 && val[0] != '\0';
	char *joined = realloc(o->cmdline, old + space + strlen(val) + 1);

	if (!joined)
		return PERR(p, "out of memory");
	if (space)
		joined[old++] = ' ';
	strcpy(joined + old, val);
	o->cmdline = joined;
	return 0;
}

static int cmdline_conflict(struct parser *p)
{
	return PERR(p, "--cmdline and --cmdline-replace can't be used together: "
		       "--cmdline-replace already gives the whole command line");
}

/* ---- The run command ---- */

/* 0 to go on, 1 for --help, -1 on error. */
static int apply(struct parser *p, const struct opt_def *d, const char *val)
{
	struct options *o = p->o;

	if (!d->repeatable) {
		if (p->seen[d - opt_defs])
			return PERR(p, "--%s given more than once", d->name);
		p->seen[d - opt_defs] = true;
	}

	switch (d->id) {
	case OPT_KERNEL:
		return set_path(p, d->name, &o->kernel, val);
	case OPT_INITRD:
		return set_path(p, d->name, &o->initrd, val);
	case OPT_DUMP_DTB:
		return set_path(p, d->name, &o->dump_dtb, val);
	case OPT_API_SOCK:
		return set_path(p, d->name, &o->api_sock, val);
	case OPT_CMDLINE:
		if (o->cmdline_replace)
			return cmdline_conflict(p);
		return append_cmdline(p, val);
	case OPT_CMDLINE_REPLACE:
		if (o->cmdline)
			return cmdline_conflict(p);
		o->cmdline_replace = true;
		return append_cmdline(p, val);
	case OPT_MEM:
		return parse_mem(p, val);
	case OPT_CPUS:
		return parse_cpus(p, val);
	case OPT_CONSOLE:
		return parse_console(p, val);
	case OPT_SWKVM:
		return parse_swkvm(p, val);
	case OPT_DEVICE:
		return parse_device(p, val);
	case OPT_DISK:
		return parse_disk(p, val);
	case OPT_DEBUG_EXIT_PORT:
		return parse_debug_exit_port(p, val);
	case OPT_SECCOMP:
		return parse_on_off(p, "seccomp", val, &o->seccomp);
	case OPT_SANDBOX:
		return parse_on_off(p, "sandbox", val, &o->sandbox);
	case OPT_VERBOSE:
		if (o->quiet)
			return PERR(p, "--verbose and --quiet can't be used together");
		o->verbose++;
		return 0;
	case OPT_QUIET:
		if (o->verbose)
			return PERR(p, "--verbose and --quiet can't be used together");
		o->quiet = true;
		return 0;
	case OPT_HELP:
		return 1;
	}
	return PERR(p, "internal error: option --%s not handled", d->name);
}

/* "--cmdline quiet --kernel x" must not take "--kernel" as the value of
 * --cmdline... but "--mem -1G" should reach parse_mem() to be refused
 * properly. So only a known long option counts as "no value given". */
static bool looks_like_option(const char *arg)
{
	const char *eq;

	if (strncmp(arg, "--", 2) != 0 || arg[2] == '\0')
		return false;
	eq = strchr(arg + 2, '=');
	return find_long(arg + 2, eq ? (size_t)(eq - arg - 2) : strlen(arg + 2)) != NULL;
}

static int parse_run(struct parser *p, int argc, char **argv)
{
	for (int i = 0; i < argc; i++) {
		const char *arg = argv[i];
		int ret;

		if (strcmp(arg, "--") == 0) {
			/* skiff run takes no positional arguments at all */
			if (i + 1 < argc)
				return PERR(p, "unexpected argument '%s'", argv[i + 1]);
			break;
		}

		if (strncmp(arg, "--", 2) == 0) {
			const char *name = arg + 2;
			const char *eq = strchr(name, '=');
			size_t len = eq ? (size_t)(eq - name) : strlen(name);
			const struct opt_def *d = find_long(name, len);
			const char *val = NULL;

			if (!d)
				return PERR(p, "unknown option '--%.*s' (try 'skiff run --help')", (int)len, name);
			if (!d->arg && eq)
				return PERR(p, "--%s takes no value", d->name);
			if (d->arg) {
				if (eq)
					val = eq + 1;
				else if (i + 1 < argc && !looks_like_option(argv[i + 1]))
					val = argv[++i];
				else
					return PERR(p, "--%s: missing %s", d->name, d->arg);
			}
			ret = apply(p, d, val);
		} else if (arg[0] == '-' && arg[1] != '\0') {
			/* Short flags, possibly bundled: -vv. None takes a value. */
			ret = 0;
			for (const char *c = arg + 1; *c && ret == 0; c++) {
				const struct opt_def *d = find_short(*c);
				if (!d)
					return PERR(p, "unknown option '-%c' (try 'skiff run --help')", *c);
				ret = apply(p, d, NULL);
			}
		} else {
			return PERR(p, "unexpected argument '%s' (quote --cmdline values that contain spaces)", arg);
		}
		if (ret != 0)
			return ret;
	}

	if (!p->o->kernel)
		return PERR(p, "run: --kernel FILE is required");
	if (p->o->console == CONSOLE_VIRTIO)
		return add_virtio_console(p);
	return 0;
}

/* ---- Public functions ---- */

void options_defaults(struct options *o)
{
	memset(o, 0, sizeof(*o));
	o->mem_bytes = OPTIONS_DEFAULT_MEM;
	o->cpus = 1;
	o->console = CONSOLE_SERIAL;
	o->swkvm = SWKVM_AUTO;
	o->seccomp = true;
	o->sandbox = true;
	o->debug_exit_port = OPTIONS_DEFAULT_DEBUG_EXIT;
}

void options_free(struct options *o)
{
	free(o->kernel);
	free(o->initrd);
	free(o->cmdline);
	free(o->dump_dtb);
	free(o->api_sock);
	for (unsigned i = 0; i < o->nr_devices; i++)
		device_config_free(o->devices[i].type, o->devices[i].config.bytes);
	options_defaults(o);
}

enum options_result options_parse(int argc, char **argv, const struct options_limits *lim,
				  struct options *out, char *err, size_t errlen)
{
	struct parser p = { .o = out, .lim = lim, .err = err, .errlen = errlen };
	const char *cmd;
	int ret;

	options_defaults(out);
	if (err && errlen)
		err[0] = '\0';

	if (argc < 2) {
		errorf(err, errlen, "missing command: try 'skiff run --kernel FILE' or 'skiff --help'");
		return OPTIONS_ERROR;
	}
	cmd = argv[1];

	if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "--version") == 0) {
		if (argc > 2) {
			errorf(err, errlen, "unexpected argument '%s' after %s", argv[2], cmd);
			return OPTIONS_ERROR;
		}
		return strcmp(cmd, "--version") == 0 ? OPTIONS_VERSION : OPTIONS_HELP;
	}
	if (strcmp(cmd, "run") != 0) {
		if (cmd[0] == '-')
			errorf(err, errlen, "unknown option '%s' before the command (try 'skiff --help')", cmd);
		else
			errorf(err, errlen, "unknown command '%s' (the commands are 'run', 'exec' and 'ctl')", cmd);
		return OPTIONS_ERROR;
	}

	ret = parse_run(&p, argc - 2, argv + 2);
	if (ret == 1 || ret == 2) {
		options_free(out);
		return ret == 1 ? OPTIONS_HELP : OPTIONS_DEVICE_HELP;
	}
	if (ret < 0) {
		options_free(out);
		return OPTIONS_ERROR;
	}
	return OPTIONS_RUN;
}

/* ---- File checks ---- */

/* A file skiff will read: exists, regular, readable, not empty. */
static int check_input_file(const char *opt, const char *path, char *err, size_t errlen)
{
	struct stat st;
	int fd;

	if (stat(path, &st) < 0)
		return errorf(err, errlen, "--%s %s: %s", opt, path, strerror(errno));
	if (S_ISDIR(st.st_mode))
		return errorf(err, errlen, "--%s %s: %s", opt, path, strerror(EISDIR));
	if (!S_ISREG(st.st_mode))
		return errorf(err, errlen, "--%s %s: not a regular file", opt, path);
	/* Opening is the honest readability test (access() uses the real uid). */
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errorf(err, errlen, "--%s %s: %s", opt, path, strerror(errno));
	close(fd);
	if (st.st_size == 0)
		return errorf(err, errlen, "--%s %s: file is empty", opt, path);
	return 0;
}

/* --dump-dtb FILE is created later; its directory must exist now, so the
 * mistake shows before the guest boots rather than after. */
static int check_output_file(const char *opt, const char *path, char *err, size_t errlen)
{
	const char *slash = strrchr(path, '/');
	char *dir;
	struct stat st;
	int ret = 0;

	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
		return errorf(err, errlen, "--%s %s: %s", opt, path, strerror(EISDIR));

	if (!slash)
		dir = strdup(".");
	else if (slash == path)
		dir = strdup("/");
	else
		dir = strndup(path, slash - path);
	if (!dir)
		return errorf(err, errlen, "out of memory");

	if (stat(dir, &st) < 0)
		ret = errorf(err, errlen, "--%s %s: directory %s: %s", opt, path, dir, strerror(errno));
	else if (!S_ISDIR(st.st_mode))
		ret = errorf(err, errlen, "--%s %s: %s is not a directory", opt, path, dir);
	free(dir);
	return ret;
}

int options_check_files(const struct options *o, char *err, size_t errlen)
{
	if (err && errlen)
		err[0] = '\0';
	if (!o->kernel)
		return errorf(err, errlen, "run: --kernel FILE is required");
	if (check_input_file("kernel", o->kernel, err, errlen))
		return -1;
	if (o->initrd && check_input_file("initrd", o->initrd, err, errlen))
		return -1;
	if (o->dump_dtb && check_output_file("dump-dtb", o->dump_dtb, err, errlen))
		return -1;
	return 0;
}

/* ---- Help ---- */

void options_version(FILE *f)
{
	fprintf(f, "skiff %s\n", PACKAGE_VERSION);
}

/* Keep in step with skiff.1. */
void options_usage(FILE *f)
{
	fputs(
"Usage: skiff run --kernel FILE [OPTIONS]\n"
"       skiff run --help\n"
"       skiff exec --kernel FILE [OPTIONS] -- CMD [ARGS...]   (docs/exec.md)\n"
"       skiff ctl [--json] PATH COMMAND [ARG]   (see 'skiff ctl --help')\n"
"       skiff --help | --version\n"
"\n"
"Boot a Linux kernel in a minimal KVM virtual machine.\n"
"\n"
"Options of 'run':\n"
"  --kernel FILE            kernel to boot: a bzImage or an uncompressed\n"
"                           vmlinux ELF (required)\n"
"  --initrd FILE            initial ramdisk\n"
"  --cmdline \"ARGS\"         append ARGS to skiff's default kernel command line;\n"
"                           may be repeated (joined with spaces)\n"
"  --cmdline-replace \"ARGS\" use exactly ARGS as the kernel command line, without\n"
"                           skiff's defaults (not together with --cmdline)\n"
"  --mem SIZE               guest RAM (default 256M). SIZE is a whole number with\n"
"                           a suffix K, M, G or T (powers of 1024, any case, may\n"
"                           end in B or iB: 512M, 2g, 512MiB); a plain number is\n"
"                           MiB. At least 64M, at most the host's RAM.\n"
"  --cpus N                 number of vCPUs (default 1; at most 64, or KVM's\n"
"                           limit if lower)\n"
"  --console serial|virtio|none\n"
"                           serial: the guest's serial console on this terminal\n"
"                           (default); virtio: a virtio console (hvc0) on this\n"
"                           terminal, console=hvc0; none: discard guest output,\n"
"                           send no input\n"
"  --swkvm auto|on|off      workarounds for hosts without hardware virtualization\n"
"                           (default auto: on when such a host is detected)\n"
"  --device SPEC            add a device; may be repeated, up to 32 times.\n"
"                           SPEC is TYPE[,KEY=VALUE...]; every type takes\n"
"                           transport=pci|pci-legacy|pci-modern|mmio|mmio-legacy\n"
"                           (default pci). '--device help' lists the types\n"
"                           and their keys.\n"
"  --disk FILE              a virtio block device on FILE (a raw image or a\n"
"                           block device): short for --device blk,path=FILE\n"
"  --dump-dtb FILE          write the guest's device tree (as skiff builds it)\n"
"                           to FILE\n"
"  --api-sock PATH          serve the control socket (JSON, see 'skiff ctl')\n"
"                           at PATH, owner-only; a stale socket there is\n"
"                           replaced, one a running skiff listens on is refused\n"
"  --debug-exit-port PORT   I/O port of the debug-exit device, decimal or 0x hex\n"
"                           (default 0xf4; 0 = no debug-exit device)\n"
"  --seccomp on|off         confine every thread to the system calls its role\n"
"                           needs while the guest runs (default on)\n"
"  --sandbox on|off         off: no seccomp and no Landlock, for debugging\n"
"                           (default on: the file system is closed to skiff\n"
"                           once the machine is built)\n"
"  -v, --verbose            more messages; repeat for even more\n"
"  -q, --quiet              errors only\n"
"  -h, --help               show this help and exit\n"
"\n"
"Console keys (with --console serial):\n"
"  Ctrl-A x                 stop the guest and quit\n"
"  Ctrl-A Ctrl-A            send Ctrl-A to the guest\n"
"\n"
"Exit status:\n"
"  0                        the guest powered off or rebooted\n"
"  1, 3, 5, ...             the guest wrote VALUE to the debug-exit port:\n"
"                           status (VALUE << 1) | 1, as QEMU's isa-debug-exit\n"
"  2                        bad command line, or skiff failed to start\n"
"  4                        the guest kernel panicked\n"
"  6                        the guest triple-faulted\n"
"  8                        a vCPU stopped on an instruction or error skiff\n"
"                           can't handle\n"
"  143, 130, 129            stopped by SIGTERM, SIGINT, SIGHUP\n"
"\n"
"'exec' runs CMD in the guest with skiff's own init; CMD's stdout and\n"
"stderr on skiff's, the kernel log apart. It takes run's options (not\n"
"--console, --cmdline-replace, --api-sock) and:\n"
"  --timeout S              stop after S seconds (tasks dumped via sysrq)\n"
"  --kernel-log FILE        keep the kernel log (default: shown on failure)\n"
"  --fail-on oops,warn      fail if the kernel log has an oops or WARNING\n"
"  --copy-in HOST:GUEST     copy a file or directory in (may repeat)\n"
"  --no-workdir             don't share the working directory (/skiff/work)\n"
"Exit status of 'exec': CMD's; 120 CMD killed by a signal, 121 never reached\n"
"init, 122 kernel panic, 123 --fail-on matched, 124 timeout, 125 skiff\n"
"failed or bad command line, 126/127 CMD not executable/not found.\n"
"\n"
"See skiff(1) for details.\n", f);
}
