/* A cpio "newc" reader that unpacks a stream into a host directory, for
 * skiff exec --copy-out. The stream comes from the guest, so it is not
 * trusted:
 * - names stay under the directory: no absolute names, no "." or ".."
 *   components, no empty ones; every directory on the way is opened with
 *   openat(O_NOFOLLOW | O_DIRECTORY) from the directory's fd, so a symlink
 *   (sent earlier, or already there) is never followed;
 * - files are created with O_NOFOLLOW, modes keep only 0777 (no set-id);
 *   symlinks are written as symlinks, never followed; other types refused;
 * - bytes of file data and the number of entries are bounded;
 * - anything else (bad magic, bad numbers, a stream that ends before its
 *   trailer) is an error, never a crash.
 *
 * Bytes are fed as they come (any split); errors stick.
 *
 *     struct cpio_unpacker u;
 *     cpio_unpack_init(&u, dirfd, max_bytes, max_entries);
 *     cpio_unpack_feed(&u, buf, n)...     0 or -errno, message in u.err
 *     cpio_unpack_end(&u)                 0 once the trailer came */
#ifndef SKIFF_CPIO_UNPACK_H
#define SKIFF_CPIO_UNPACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CPIO_NAME_MAX 4096

enum cpio_unpack_state { CPIO_HEADER, CPIO_NAME, CPIO_DATA, CPIO_PAD, CPIO_DONE, CPIO_FAILED };

struct cpio_unpacker {
	int dirfd;                 /* HOST, borrowed */
	uint64_t max_bytes, max_entries;
	uint64_t bytes, entries;   /* so far */
	enum cpio_unpack_state state;
	char head[110];
	size_t got;                /* bytes of the current header, name or link target */
	uint32_t mode, namesize, filesize;
	size_t pad;                /* zero bytes still to skip */
	uint32_t left;             /* data bytes still to come */
	char name[CPIO_NAME_MAX];
	char target[CPIO_NAME_MAX]; /* a symlink's */
	int out;                   /* the regular file being written, or -1 */
	int error;                 /* the first -errno */
	char err[256];             /* its one line */
};

void cpio_unpack_init(struct cpio_unpacker *u, int dirfd, uint64_t max_bytes, uint64_t max_entries);
/* 0, or -errno: -EBADMSG malformed or hostile, -EFBIG past a limit,
 * other -errno from the host file system. */
int cpio_unpack_feed(struct cpio_unpacker *u, const void *buf, size_t n);
/* The stream ended: 0 if its trailer came, else -EBADMSG (truncated) or
 * the earlier error. Closes any file left open. */
int cpio_unpack_end(struct cpio_unpacker *u);

#endif
