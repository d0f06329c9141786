/* The disk keys blk and scsi share. See disk-options.h. */
#include "devices/disk-options.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>


int disk_parse_path(char **path, const char *value, char *err, size_t errlen)
{
	char *copy;

	if (!*value) {
		snprintf(err, errlen, "path= needs a disk image file or block device");
		return -EINVAL;
	}
	if (!(copy = strdup(value)))
		return -ENOMEM;
	free(*path);
	*path = copy;
	return 0;
}

int disk_parse_cache(const char *value, enum blk_cache *out, char *err, size_t errlen)
{
	if (blk_cache_parse(value, out))
		return 0;
	snprintf(err, errlen, "cache '%s' must be writeback, none or unsafe", value);
	return -EINVAL;
}

int disk_check_serial(const char *value, size_t max, bool printable, char *err, size_t errlen)
{
	for (const char *p = value; printable && *p; p++)
		if (*p < 0x21 || *p > 0x7e) {
			snprintf(err, errlen, "serial '%s' must be printable ASCII without spaces", value);
			return -EINVAL;
		}
	if (strlen(value) > max) {
		snprintf(err, errlen, "serial '%s' is longer than %zu bytes", value, max);
		return -EINVAL;
	}
	return 0;
}

int disk_check_path(const char *path, char *err, size_t errlen)
{
	struct stat st;

	if (stat(path, &st) < 0) {
		snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
		return -EINVAL;
	}
	if (S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "%s is a directory, not a disk image", path);
		return -EINVAL;
	}
	return 0;
}
