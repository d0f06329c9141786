/* One seccomp filter from a policy, with libseccomp. See seccomp.h. */
#include "vmm/seccomp.h"
#include "base/log.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdint.h>
#include <seccomp.h>
#include <string.h>
#include <sys/mman.h>

/* Calls this file filters by their arguments: a policy cannot name them. */
static const char *const argument_filtered[] = {"ioctl", "clone", "clone3", "mmap",
						"mprotect", "open", "openat", "sched_setscheduler"};

/* The flags that make an open more than a read. */
static const unsigned long open_write_flags[] = {O_WRONLY, O_RDWR, O_CREAT, O_TRUNC, O_APPEND, __O_TMPFILE};

void seccomp_policy_init(struct seccomp_policy *p)
{
	memset(p, 0, sizeof(*p));
}

static bool is_argument_filtered(const char *name)
{
	for (size_t i = 0; i < sizeof(argument_filtered) / sizeof(argument_filtered[0]); i++)
		if (strcmp(name, argument_filtered[i]) == 0)
			return true;
	return false;
}

static bool in_allow(const struct seccomp_policy *p, int nr)
{
	for (unsigned i = 0; i < p->nr_allow; i++)
		if (p->allow[i] == nr)
			return true;
	return false;
}

static const int *in_fail(const struct seccomp_policy *p, int nr)
{
	for (unsigned i = 0; i < p->nr_fail; i++)
		if (p->fail[i].nr == nr)
			return &p->fail[i].errnum;
	return NULL;
}

/* The call's number, 0 to skip it (not on this architecture), or <0 with
 * err set when a policy may not name it. */
static int resolve(const char *name, const char *what, char *err, size_t errlen)
{
	if (is_argument_filtered(name)) {
		err_printf(err, errlen, "seccomp: %s is filtered by its arguments and cannot be %s by name", name,
			   what);
		return -EINVAL;
	}
	int nr = seccomp_syscall_resolve_name(name);
	return nr == __NR_SCMP_ERROR ? 0 : nr + 1;
}

int seccomp_policy_allow(struct seccomp_policy *p, const char *name, char *err, size_t errlen)
{
	if (strcmp(name, "open") == 0 || strcmp(name, "openat") == 0) {
		p->read_only_opens = true;
		return 0;
	}
	int nr = resolve(name, "allowed", err, errlen);
	if (nr <= 0)
		return nr;
	nr--;
	if (in_fail(p, nr)) {
		err_printf(err, errlen, "seccomp: %s cannot both be allowed and fail quietly", name);
		return -EEXIST;
	}
	if (in_allow(p, nr))
		return 0;
	if (p->nr_allow == SECCOMP_POLICY_MAX_CALLS) {
		err_printf(err, errlen, "seccomp: too many allowed calls (%s)", name);
		return -ENOSPC;
	}
	p->allow[p->nr_allow++] = nr;
	return 0;
}

int seccomp_policy_fail(struct seccomp_policy *p, const char *name, int errnum, char *err, size_t errlen)
{
	int nr = resolve(name, "failed", err, errlen);
	if (nr <= 0)
		return nr;
	nr--;
	const int *had = in_fail(p, nr);
	if (in_allow(p, nr) || (had && *had != errnum)) {
		err_printf(err, errlen, "seccomp: %s cannot both fail quietly and be allowed or fail otherwise", name);
		return -EEXIST;
	}
	if (had)
		return 0;
	if (p->nr_fail == sizeof(p->fail) / sizeof(p->fail[0])) {
		err_printf(err, errlen, "seccomp: too many quietly failing calls (%s)", name);
		return -ENOSPC;
	}
	p->fail[p->nr_fail].nr = nr;
	p->fail[p->nr_fail++].errnum = errnum;
	return 0;
}

int seccomp_policy_allow_ioctl(struct seccomp_policy *p, unsigned long request, const struct seccomp_fds *on,
			       char *err, size_t errlen)
{
	struct seccomp_fds none = {NULL, 0};

	request &= 0xffffffffUL;
	for (unsigned i = 0; i < p->nr_ioctls; i++)
		if (p->ioctls[i].request == request && (p->ioctls[i].any_fd || (on && p->ioctls[i].on.fd == on->fd &&
									      p->ioctls[i].on.n == on->n)))
			return 0;
	if (p->nr_ioctls == SECCOMP_POLICY_MAX_IOCTLS) {
		err_printf(err, errlen, "seccomp: too many ioctl requests (%#lx)", request);
		return -ENOSPC;
	}
	p->ioctls[p->nr_ioctls].request = request;
	p->ioctls[p->nr_ioctls].any_fd = !on;
	p->ioctls[p->nr_ioctls++].on = on ? *on : none;
	return 0;
}

/* ---- building ---- */

/* One rule per aligned block of on's descriptors: the largest block
 * that starts at the run's next fd and stays inside the run. The kernel
 * reads fd as 32 bits, and so does the comparison. */
static int add_ioctl_on_fds(scmp_filter_ctx ctx, const struct seccomp_fds *on, struct scmp_arg_cmp request)
{
	int ret = 0;

	for (unsigned i = 0; i < on->n && ret == 0;) {
		unsigned run = 1;
		while (i + run < on->n && on->fd[i + run] == on->fd[i] + (int)run)
			run++;
		for (uint32_t lo = (uint32_t)on->fd[i], end = lo + run; lo < end && ret == 0;) {
			uint32_t size = lo ? lo & -lo : 1u << 31;
			while (size > end - lo)
				size >>= 1;
			struct scmp_arg_cmp fd = SCMP_A0(SCMP_CMP_MASKED_EQ, 0xffffffffUL & ~(size - 1UL), lo);
			ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 2, fd, request);
			lo += size;
		}
		i += run;
	}
	return ret;
}

static int add_ioctl_rules(scmp_filter_ctx ctx, const struct seccomp_policy *p)
{
	int ret = 0;

	for (unsigned i = 0; i < p->nr_ioctls && ret == 0; i++) {
		/* The kernel reads the request as 32 bits: compare those. */
		struct scmp_arg_cmp request = SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffUL, p->ioctls[i].request);
		if (p->ioctls[i].any_fd)
			ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1, request);
		else
			ret = add_ioctl_on_fds(ctx, &p->ioctls[i].on, request);
	}
	return ret;
}

/* Writing opens fail quietly; reading ones too, or are allowed. The two
 * sets of rules never overlap: one rule per write flag, and an ALLOW only
 * when none of them is set (libseccomp would let an unconditional rule
 * override conditional ones). */
static int add_open_rules(scmp_filter_ctx ctx, int nr, bool read_only_allowed)
{
	unsigned long any_write = 0;
	int ret = 0;

	if (!read_only_allowed)
		return seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EACCES), nr, 0);
	unsigned flags_arg = nr == SCMP_SYS(openat) ? 2 : 1;
	for (size_t i = 0; i < sizeof(open_write_flags) / sizeof(open_write_flags[0]) && ret == 0; i++) {
		unsigned long f = open_write_flags[i];
		struct scmp_arg_cmp has_flag = {flags_arg, SCMP_CMP_MASKED_EQ, f, f};
		any_write |= f;
		ret = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EACCES), nr, 1, has_flag);
	}
	struct scmp_arg_cmp reads_only = {flags_arg, SCMP_CMP_MASKED_EQ, any_write, 0};
	return ret ? ret : seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1, reads_only);
}

static int add_rules(scmp_filter_ctx ctx, const struct seccomp_policy *p)
{
	int ret = 0;

	for (unsigned i = 0; i < p->nr_allow && ret == 0; i++)
		ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, p->allow[i], 0);
	for (unsigned i = 0; i < p->nr_fail && ret == 0; i++)
		ret = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(p->fail[i].errnum), p->fail[i].nr, 0);
	if (ret == 0)
		ret = add_ioctl_rules(ctx, p);
	if (ret == 0)
		ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mmap), 1, SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
	if (ret == 0)
		ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mprotect), 1,
				       SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
	if (ret == 0 && p->threads)
		ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
				       SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD));
	if (ret == 0)
		ret = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
	/* The calling thread (pid 0), between the two policies that only
	 * change how it is woken: never a real-time one. */
	static const int own_policies[] = {SCHED_OTHER, SCHED_BATCH};
	for (size_t i = 0; p->own_batch && ret == 0 && i < sizeof(own_policies) / sizeof(own_policies[0]); i++)
		ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(sched_setscheduler), 2, SCMP_A0(SCMP_CMP_EQ, 0),
				       SCMP_A1(SCMP_CMP_EQ, (scmp_datum_t)own_policies[i]));
	if (ret == 0)
		ret = add_open_rules(ctx, SCMP_SYS(openat), p->read_only_opens);
	if (ret == 0)
		ret = add_open_rules(ctx, SCMP_SYS(open), p->read_only_opens);
	return ret;
}

int seccomp_policy_load(const struct seccomp_policy *p, bool all_threads, char *err, size_t errlen)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_TRAP);
	if (!ctx) {
		err_printf(err, errlen, "seccomp: cannot create a filter");
		return -ENOMEM;
	}
	/* A binary tree of system call numbers instead of a list: every call
	 * skiff makes (KVM_RUN, each eventfd write) walks the filters. Older
	 * libseccomp keeps the list. */
#if SCMP_VER_MAJOR > 2 || (SCMP_VER_MAJOR == 2 && SCMP_VER_MINOR >= 5)
	(void)seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
#endif
	int ret = add_rules(ctx, p);
	if (ret < 0)
		err_printf(err, errlen, "seccomp: cannot add a rule: %s", strerror(-ret));
	if (ret == 0 && all_threads && (ret = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1)) < 0)
		err_printf(err, errlen, "seccomp: cannot ask for every thread (TSYNC): %s", strerror(-ret));
	if (ret == 0 && (ret = seccomp_load(ctx)) < 0)
		err_printf(err, errlen, "seccomp: cannot load the filter: %s", strerror(-ret));
	seccomp_release(ctx);
	return ret;
}
