/* The jail around the sandbox: what a process started as root can still
 * give up once the machine is built, as Firecracker's jailer does from the
 * outside -- empty mount and network namespaces, and root itself
 * (--user). Seccomp and Landlock (vmm/sandbox.c) come after.
 *
 * Namespaces and credentials belong to each thread, not to the process:
 * the main thread makes the namespaces and switches its user, threads it
 * starts afterwards inherit both, and threads started during set-up
 * (waiting at the sandbox's gate, still root) join and switch themselves
 * with jail_join() and jail_switch_user(). */
#ifndef SKIFF_JAIL_H
#define SKIFF_JAIL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* --user: NAME, UID or UID:GID. A name's or a UID's passwd entry gives
 * the group when none is named; a UID without one gets GID = UID. 0, or
 * -EINVAL with one line in err. */
int jail_parse_user(const char *spec, uid_t *uid, gid_t *gid, char *err, size_t errlen);

/* Main thread, once everything is open: move into a new mount namespace
 * holding only an empty read-only tmpfs (with mount) and a new network
 * namespace holding only a down loopback (with net). 0, or -errno with
 * one line in err: nothing more is tried, and whatever was done stays
 * (the caller warns and goes on; a half-made mount namespace is a
 * private copy of the host's). */
int jail_enter_namespaces(bool mount, bool net, char *err, size_t errlen);

/* A thread started before jail_enter_namespaces(): join its namespaces.
 * A thread without root (started after the user switch) inherited them
 * and does nothing. 0 or -errno. */
int jail_join(void);

/* The calling thread only: no supplementary groups, then gid, then uid,
 * each checked to have stuck, and root checked to be gone for good. A
 * thread already there does nothing. 0, or -errno with one line in err.
 * (The C library's setuid() would switch every thread at once, the ones
 * waiting to join the namespaces included, which then could not.) */
int jail_switch_user(uid_t uid, gid_t gid, char *err, size_t errlen);

/* Close the namespace descriptors jail_join() uses. */
void jail_forget(void);

#endif
