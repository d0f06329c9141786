/* See jail.h. */
#include "vmm/jail.h"
#include "base/log.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <unistd.h>

/* ---- --user ---- */

static bool parse_id(const char *s, size_t len, unsigned long *out)
{
	char *end;

	if (len == 0 || len > 10 || s[0] < '0' || s[0] > '9')
		return false;
	errno = 0;
	*out = strtoul(s, &end, 10);
	/* (uid_t)-1 means "leave unchanged" to the set*id calls */
	return errno == 0 && (size_t)(end - s) == len && *out < UINT_MAX;
}

int jail_parse_user(const char *spec, uid_t *uid, gid_t *gid, char *err, size_t errlen)
{
	const char *colon = strchr(spec, ':');
	size_t uid_len = colon ? (size_t)(colon - spec) : strlen(spec);
	unsigned long u, g;

	if (parse_id(spec, uid_len, &u)) {
		if (colon && !parse_id(colon + 1, strlen(colon + 1), &g)) {
			err_printf(err, errlen, "--user %s: GID must be a number below %u", spec, UINT_MAX);
			return -EINVAL;
		}
		if (!colon) {
			const struct passwd *pw = getpwuid((uid_t)u);
			g = pw ? pw->pw_gid : u;
		}
	} else {
		const struct passwd *pw = colon ? NULL : getpwnam(spec);
		if (!pw) {
			err_printf(err, errlen, "--user %s: neither a user name nor UID[:GID]", spec);
			return -EINVAL;
		}
		u = pw->pw_uid;
		g = pw->pw_gid;
	}
	*uid = (uid_t)u;
	*gid = (gid_t)g;
	return 0;
}

/* ---- the calling thread's credentials ---- */

static bool has_credentials(uid_t uid, gid_t gid)
{
	uid_t ru, eu, su;
	gid_t rg, eg, sg;

	return getresuid(&ru, &eu, &su) == 0 && getresgid(&rg, &eg, &sg) == 0 && ru == uid && eu == uid &&
	       su == uid && rg == gid && eg == gid && sg == gid && getgroups(0, NULL) == 0;
}

int jail_switch_user(uid_t uid, gid_t gid, char *err, size_t errlen)
{
	if (has_credentials(uid, gid))
		return 0;
	/* Raw calls: they change the calling thread only (see jail.h). */
	if (syscall(SYS_setgroups, 0, NULL) < 0 || syscall(SYS_setresgid, gid, gid, gid) < 0 ||
	    syscall(SYS_setresuid, uid, uid, uid) < 0) {
		int e = errno;
		err_printf(err, errlen, "--user %u:%u: cannot switch to it: %s", (unsigned)uid, (unsigned)gid,
			   strerror(e));
		return -e;
	}
	/* Root must not come back: setresuid(0) succeeds only with a
	 * capability left behind. */
	if (!has_credentials(uid, gid) || (uid != 0 && syscall(SYS_setresuid, 0, 0, 0) == 0)) {
		err_printf(err, errlen, "--user %u:%u: the switch did not stick", (unsigned)uid, (unsigned)gid);
		return -EPERM;
	}
	return 0;
}

/* ---- namespaces ---- */

static int mount_ns_fd = -1, net_ns_fd = -1;

void jail_forget(void)
{
	if (mount_ns_fd >= 0)
		close(mount_ns_fd);
	if (net_ns_fd >= 0)
		close(net_ns_fd);
	mount_ns_fd = net_ns_fd = -1;
}

static int fail(const char *what, char *err, size_t errlen)
{
	int e = errno;
	err_printf(err, errlen, "namespaces: %s: %s", what, strerror(e));
	return -e;
}

/* The new mount namespace's root becomes an empty read-only tmpfs, the
 * old root is detached: nothing of the host's file system is left to
 * name. The tmpfs is mounted over /proc for a moment (a directory every
 * Linux has; in this namespace only), and made the root in place. */
static int empty_root(char *err, size_t errlen)
{
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return fail("making mounts private", err, errlen);
	if (mount("skiff-empty", "/proc", "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
		  "size=4k,nr_inodes=1,mode=0555") < 0)
		return fail("mounting an empty tmpfs", err, errlen);
	if (chdir("/proc") < 0)
		return fail("chdir", err, errlen);
	/* pivot_root(".", "."): the old root ends up on top, detached next. */
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		return fail("pivot_root", err, errlen);
	if (umount2(".", MNT_DETACH) < 0)
		return fail("detaching the old root", err, errlen);
	return chdir("/") < 0 ? fail("chdir", err, errlen) : 0;
}

int jail_enter_namespaces(bool mount_ns, bool net_ns, char *err, size_t errlen)
{
	jail_forget();
	if (mount_ns && unshare(CLONE_NEWNS) < 0)
		return fail("a mount namespace", err, errlen);
	if (net_ns && unshare(CLONE_NEWNET) < 0)
		return fail("a network namespace", err, errlen);
	/* Through /proc, before it is gone. */
	if (mount_ns && (mount_ns_fd = open("/proc/thread-self/ns/mnt", O_RDONLY | O_CLOEXEC)) < 0)
		return fail("/proc/thread-self/ns/mnt", err, errlen);
	if (net_ns && (net_ns_fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)) < 0)
		return fail("/proc/thread-self/ns/net", err, errlen);
	return mount_ns ? empty_root(err, errlen) : 0;
}

int jail_join(void)
{
	if (geteuid() != 0)
		return 0;
	/* A mount namespace is joined by a thread with a file-system context
	 * (root, cwd) of its own. */
	if (mount_ns_fd >= 0 && (unshare(CLONE_FS) < 0 || setns(mount_ns_fd, CLONE_NEWNS) < 0))
		return -errno;
	if (net_ns_fd >= 0 && setns(net_ns_fd, CLONE_NEWNET) < 0)
		return -errno;
	return 0;
}
