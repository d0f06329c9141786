/* See landlock.h. The system calls have no C library wrappers. */
#include "vmm/landlock.h"
#include "base/log.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/landlock.h>
#include <stdint.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Rights newer than the uapi headers this is built against (Linux 6.1). */
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14) /* ABI 3 */
#endif
#ifndef LANDLOCK_ACCESS_FS_IOCTL_DEV
#define LANDLOCK_ACCESS_FS_IOCTL_DEV (1ULL << 15) /* ABI 5 */
#endif

#define FS_RIGHTS_ABI1 ((LANDLOCK_ACCESS_FS_MAKE_SYM << 1) - 1) /* EXECUTE .. MAKE_SYM */
/* Every file-system right the running kernel's Landlock ABI handles. */
static uint64_t fs_rights(int abi)
{
	uint64_t rights = FS_RIGHTS_ABI1;

	if (abi >= 2)
		rights |= LANDLOCK_ACCESS_FS_REFER;
	if (abi >= 3)
		rights |= LANDLOCK_ACCESS_FS_TRUNCATE;
	if (abi >= 5)
		rights |= LANDLOCK_ACCESS_FS_IOCTL_DEV;
	return rights;
}

/* Let path be read. A file that is not there is skipped: whoever reads it
 * later finds it missing either way. */
static int allow_read(int ruleset, const char *path, char *err, size_t errlen)
{
	int fd = open(path, O_PATH | O_CLOEXEC);

	if (fd < 0) {
		log_debug("sandbox", "%s: %s; not readable in the sandbox", path, strerror(errno));
		return 0;
	}
	struct landlock_path_beneath_attr rule = {.allowed_access = LANDLOCK_ACCESS_FS_READ_FILE, .parent_fd = fd};
	int ret = syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &rule, 0) < 0 ? -errno : 0;
	if (ret < 0)
		err_printf(err, errlen, "landlock: cannot let %s be read: %s", path, strerror(-ret));
	close(fd);
	return ret;
}

int landlock_ruleset_create(const char *const *readable, bool may_remove, char *err, size_t errlen)
{
	int abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);

	if (abi < 0) {
		err_printf(err, errlen, "Landlock unavailable: %s", strerror(errno));
		return -errno;
	}
	struct landlock_ruleset_attr attr = {.handled_access_fs = fs_rights(abi)};
	if (may_remove)
		attr.handled_access_fs &= ~(uint64_t)LANDLOCK_ACCESS_FS_REMOVE_FILE;
	int ruleset = syscall(SYS_landlock_create_ruleset, &attr, sizeof(attr), 0);
	if (ruleset < 0) {
		err_printf(err, errlen, "landlock: cannot create a ruleset: %s", strerror(errno));
		return -errno;
	}
	for (; readable && *readable; readable++) {
		int ret = allow_read(ruleset, *readable, err, errlen);
		if (ret < 0) {
			close(ruleset);
			return ret;
		}
	}
	return ruleset;
}

int landlock_confine_self(int ruleset_fd)
{
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	return syscall(SYS_landlock_restrict_self, ruleset_fd, 0) < 0 ? -errno : 0;
}
