/* skiff's command line. A small hand-written parser rather than
 * getopt_long: it keeps no global state (the tests call it many times),
 * it does not accept abbreviations like "--ker", and every error is worded
 * here, as one line naming the option and the value. The device options
 * (--device, --disk, --console virtio's device) are parsed in
 * options-device.c, onto the list in struct options. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "vmm/options.h"
#include "vmm/jail.h"
#include "vmm/options-errors.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "0.1.0"
#endif

#define PAGE_SIZE 4096ULL

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
	OPT_POLL,
	OPT_SECCOMP,
	OPT_SANDBOX,
	OPT_USER,
	OPT_TRACE,
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
	{ "poll",            0,   "USEC",  false, OPT_POLL },
	{ "seccomp",         0,   "MODE",  false, OPT_SECCOMP },
	{ "sandbox",         0,   "MODE",  false, OPT_SANDBOX },
	{ "user",            0,   "USER",  false, OPT_USER },
	{ "trace",           0,   "FILTER", false, OPT_TRACE },
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

#define PERR(p, ...) options_errorf((p)->err, (p)->errlen, __VA_ARGS__)

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

static int parse_poll(struct parser *p, const char *val)
{
	uint64_t n;

	if (!all_digits(val))
		return PERR(p, "--poll %s: not a number of microseconds", val);
	if (!digits_to_u64(val, 10, &n) || n > OPTIONS_MAX_POLL_US)
		return PERR(p, "--poll %s: at most %u microseconds (0 turns polling off)", val, OPTIONS_MAX_POLL_US);
	p->o->poll_us = (unsigned)n;
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
		return options_device_parse(p->o->devices, &p->o->nr_devices, val, p->err, p->errlen);
	case OPT_DISK:
		return options_disk_parse(p->o->devices, &p->o->nr_devices, val, p->err, p->errlen);
	case OPT_DEBUG_EXIT_PORT:
		return parse_debug_exit_port(p, val);
	case OPT_POLL:
		return parse_poll(p, val);
	case OPT_SECCOMP:
		return parse_on_off(p, "seccomp", val, &o->seccomp);
	case OPT_SANDBOX:
		return parse_on_off(p, "sandbox", val, &o->sandbox);
	case OPT_USER: {
		char why[160];
		if (jail_parse_user(val, &o->user_uid, &o->user_gid, why, sizeof(why)) < 0)
			return PERR(p, "%s", why);
		o->switch_user = true;
		return 0;
	}
	case OPT_TRACE: {
		char why[256];
		return trace_filter_parse(val, &o->trace, why, sizeof(why)) < 0 ? PERR(p, "--trace %s", why) : 0;
	}
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
		return options_console_device_add(p->o->devices, &p->o->nr_devices, p->err, p->errlen);
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
		options_errorf(err, errlen, "missing command: try 'skiff run --kernel FILE' or 'skiff --help'");
		return OPTIONS_ERROR;
	}
	cmd = argv[1];

	if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "--version") == 0) {
		if (argc > 2) {
			options_errorf(err, errlen, "unexpected argument '%s' after %s", argv[2], cmd);
			return OPTIONS_ERROR;
		}
		return strcmp(cmd, "--version") == 0 ? OPTIONS_VERSION : OPTIONS_HELP;
	}
	if (strcmp(cmd, "run") != 0) {
		if (cmd[0] == '-')
			options_errorf(err, errlen, "unknown option '%s' before the command (try 'skiff --help')", cmd);
		else
			options_errorf(err, errlen, "unknown command '%s' (the commands are 'run', 'exec' and 'ctl')", cmd);
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
