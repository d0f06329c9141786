/* The KEY=VALUE grammar every disk type shares (blk, and the disks on a
 * scsi controller): path=, readonly=, discard=, cache=, serial=. One copy,
 * so the two types cannot drift apart; each type's key table keeps its own
 * help line and calls these from its parse hooks. */
#ifndef SKIFF_DISK_OPTIONS_H
#define SKIFF_DISK_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>

#include "devices/block-backend.h"

/* path=FILE: a non-empty name, copied into *path (owned; a repeated
 * path= frees the earlier copy). */
int disk_parse_path(char **path, const char *value, char *err, size_t errlen);
/* readonly=, discard=, write-zeroes= are on|off: device_parse_on_off(). */
/* cache=writeback|none|unsafe. */
int disk_parse_cache(const char *value, enum blk_cache *out, char *err, size_t errlen);
/* serial=: at most max bytes; printable = also printable ASCII without
 * spaces (SCSI's VPD page 80h). 0, or -EINVAL with the reason in err. */
int disk_check_serial(const char *value, size_t max, bool printable, char *err, size_t errlen);
/* For check hooks: does path name something a disk can be opened from
 * (exists, not a directory)? The usual mistakes, before anything starts;
 * the rest (locks, permissions) when it is opened. */
int disk_check_path(const char *path, char *err, size_t errlen);

#endif
