/* Landlock rulesets for skiff's threads: once the machine is built, no
 * file-system access beyond the descriptors already open, but for a few
 * named files a device reads while the guest runs (libslirp's
 * /etc/resolv.conf). Landlock sees paths, which seccomp cannot: seccomp
 * decides that a thread may open a file read-only, Landlock which file.
 *
 * A ruleset is made once (by the main thread, before its seccomp filter)
 * and put on a thread by the thread itself: Landlock, like seccomp
 * without TSYNC, confines only the calling thread and what it starts. */
#ifndef SKIFF_LANDLOCK_H
#define SKIFF_LANDLOCK_H

#include <stdbool.h>
#include <stddef.h>

/* A ruleset fd handling every file-system right this kernel knows: the
 * files in `readable` (NULL-terminated, may be NULL) may be read, nothing
 * else may be done; with may_remove files may still be removed (sockets
 * at exit). -ENOSYS/-EOPNOTSUPP when the kernel has no Landlock, other
 * -errno with one line in err. */
int landlock_ruleset_create(const char *const *readable, bool may_remove, char *err, size_t errlen);

/* Confine the calling thread (no_new_privs first, as Landlock requires).
 * 0 or -errno. */
int landlock_confine_self(int ruleset_fd);

#endif
