/* A cpio "newc" archive writer, in memory, for skiff exec's extra
 * initramfs (the kernel unpacks archives concatenated after the user's;
 * a later file of the same name replaces the earlier one).
 *
 * Bounded: every add fails with -EFBIG once the archive would pass max. */
#ifndef SKIFF_CPIO_H
#define SKIFF_CPIO_H

#include <stddef.h>
#include <stdint.h>

struct cpio_writer {
	uint8_t *data;
	size_t len, cap;
	size_t max;     /* bytes the archive may grow to */
	uint32_t ino;   /* next inode number */
};

void cpio_init(struct cpio_writer *w, size_t max);
/* One entry: mode has the type (S_IFREG, S_IFDIR, S_IFLNK) and permissions;
 * data is a file's content or a symlink's target. 0 or -errno. */
int cpio_add(struct cpio_writer *w, const char *name, uint32_t mode, const void *data, size_t size);
/* A host file, directory (recursively) or symlink at guest path `name`;
 * other file types are refused. 0, or -errno with one line in err. */
int cpio_add_host_path(struct cpio_writer *w, const char *host, const char *name, char *err, size_t errlen);
/* The trailer; the archive is then data[0..len). 0 or -errno. */
int cpio_finish(struct cpio_writer *w);
void cpio_free(struct cpio_writer *w);

#endif
