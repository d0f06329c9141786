/* Building and loading one seccomp filter with libseccomp, from a policy
 * that gives every system call exactly one fate: allowed, failing with an
 * errno, allowed only with certain arguments, or (everything else) stopped
 * with SIGSYS. libseccomp itself would take two rules for one call and
 * silently let the ALLOW win; a policy refuses the second rule instead.
 *
 * Some calls are always filtered by their arguments and cannot be named:
 * ioctl (only the requests the policy lists, each on the descriptors
 * the policy names for it), clone (threads only; clone3,
 * whose flags a filter cannot read, fails with ENOSYS and the C library
 * falls back to clone), mmap and mprotect (never PROT_EXEC), open and
 * openat (writing always fails quietly with EACCES; reading too, unless
 * the policy allows "openat", which then means read-only opens), and
 * sched_setscheduler (only where the policy says, and then only a thread
 * moving itself between SCHED_OTHER and SCHED_BATCH).
 *
 * Which policy each of skiff's threads gets is vmm/sandbox.c's business. */
#ifndef SKIFF_SECCOMP_H
#define SKIFF_SECCOMP_H

#include <stdbool.h>
#include <stddef.h>

#define SECCOMP_POLICY_MAX_CALLS  128
#define SECCOMP_POLICY_MAX_IOCTLS 96

/* Descriptors an ioctl request is allowed on, ascending. The filter
 * compares the low 32 bits of the fd argument, as the kernel reads it,
 * against power-of-two aligned blocks of them: a run of consecutive fds
 * (the vCPUs, created one after the other) costs a few comparisons, not
 * one each. */
struct seccomp_fds {
	const int *fd; /* the caller's, until the filter is loaded */
	unsigned n;
};

struct seccomp_policy {
	int allow[SECCOMP_POLICY_MAX_CALLS]; /* system call numbers */
	unsigned nr_allow;
	struct {
		int nr, errnum;
	} fail[16];
	unsigned nr_fail;
	struct {
		unsigned long request;
		bool any_fd;            /* else only on `on` */
		struct seccomp_fds on;
	} ioctls[SECCOMP_POLICY_MAX_IOCTLS];
	unsigned nr_ioctls;
	bool threads;         /* clone with CLONE_THREAD (pthread_create) */
	bool read_only_opens; /* open/openat for reading */
	bool own_batch;       /* sched_setscheduler(0, SCHED_OTHER or SCHED_BATCH) */
};

void seccomp_policy_init(struct seccomp_policy *p);
/* Allow a call by name ("openat": read-only opens). Names this
 * architecture lacks are ignored. 0, or -EEXIST/-EINVAL/-ENOSPC with one
 * line in err when the call already has another fate or is one only
 * allowed by its arguments. */
int seccomp_policy_allow(struct seccomp_policy *p, const char *name, char *err, size_t errlen);
/* Make a call fail with errnum instead of stopping skiff; same errors. */
int seccomp_policy_fail(struct seccomp_policy *p, const char *name, int errnum, char *err, size_t errlen);
/* Allow ioctl with this request number (its low 32 bits, as the kernel
 * reads it) on the descriptors in on (NULL: on any). A request may be
 * allowed on several sets. 0 or -ENOSPC. */
int seccomp_policy_allow_ioctl(struct seccomp_policy *p, unsigned long request, const struct seccomp_fds *on,
			       char *err, size_t errlen);

/* Build the filter (default action: SIGSYS) and load it in this thread,
 * or with all_threads in every thread of the process at once (TSYNC;
 * their filters must all be ancestors of this thread's). Sets
 * no_new_privs. 0, or <0 with one line in err. */
int seccomp_policy_load(const struct seccomp_policy *p, bool all_threads, char *err, size_t errlen);

#endif
