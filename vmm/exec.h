/* skiff exec: boot a kernel, run one command in it with skiff's own init,
 * and return its result (docs/exec.md).
 *
 *   skiff exec --kernel K [--initrd I] [run options] [exec options] -- CMD ARGS...
 *
 * CMD's stdout and stderr come out on skiff's, its exit status becomes
 * skiff's, and the ways a guest can fail without CMD's say so each have
 * their own status (vmm/exit-status.h). */
#ifndef SKIFF_EXEC_H
#define SKIFF_EXEC_H

#include <stdbool.h>
#include <stddef.h>

#define EXEC_MAX_COPY_IN   32
#define EXEC_MAX_COPY_OUT  4            /* one virtio-console port each */
#define EXEC_COPY_OUT_MAX_BYTES (1ull << 30) /* file bytes per --copy-out */
#define EXEC_COPY_OUT_MAX_FILES 100000u       /* entries per --copy-out */
#define EXEC_COPY_OUT_GUEST_MAX 1024          /* GUEST's length, with its NUL */
#define EXEC_COPY_MAX      (256u << 20) /* bytes of --copy-in and working directory, in all */
#define EXEC_WORKDIR_MAX   (16u << 20)  /* the working directory is shared only up to this */
#define EXEC_KERNEL_LOG_MAX (16u << 20) /* kernel log kept in memory; past it, dropped */
#define EXEC_LOG_TAIL_LINES 25          /* kernel log lines shown on failure */

enum exec_fail_on { EXEC_FAIL_OOPS = 1, EXEC_FAIL_WARN = 2 };

/* The options skiff exec adds to skiff run's. */
struct exec_options {
	double timeout_s;          /* --timeout; 0 = none */
	const char *kernel_log;    /* --kernel-log FILE, or NULL */
	unsigned fail_on;          /* --fail-on: EXEC_FAIL_* bits */
	bool workdir;              /* share the working directory (default; --no-workdir) */
	const char *copy_in[EXEC_MAX_COPY_IN]; /* HOST:GUEST */
	unsigned nr_copy_in;
	/* --copy-out GUEST:HOST, split at its first ':' (GUEST has none) */
	char copy_out_guest[EXEC_MAX_COPY_OUT][EXEC_COPY_OUT_GUEST_MAX];
	const char *copy_out_host[EXEC_MAX_COPY_OUT];  /* into argv */
	unsigned nr_copy_out;
	const char *junit;         /* --junit FILE: CMD's KTAP/TAP as JUnit XML */
	bool ktap;                 /* --ktap: the KTAP/TAP summary on stderr */
	char **cmd;                /* after "--" */
	int cmd_argc;
};

/* Split argv (after "exec") into exec's own options, skiff run's options
 * (collected into run_argv, which the caller sized argc + 8 and frees),
 * and CMD. 0, or -1 with one line in err. */
int exec_parse(int argc, char **argv, struct exec_options *xo, char **run_argv, int *run_argc, char *err,
	       size_t errlen);

/* The whole of `skiff exec`: returns skiff's exit status. */
int exec_main(int argc, char **argv);

#endif
