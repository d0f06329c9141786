/* Opening a block image: the file or block device, its lock (and, on a
 * conflict, who holds it), its size and block sizes, and for
 * snapshot=on the read-only base with its overlay. Run once, before any
 * engine starts. */
#include "devices/block-open.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "devices/block-engine.h"
#include "devices/block-overlay.h"
#include "base/log.h"

#define SECTOR 512u

/* Does this /proc/PID/fdinfo/FD text list a lock on (maj:min:ino)?
 * Its lines look like "lock:	1: OFDLCK ADVISORY  WRITE -1 fe:00:5678 0 EOF". */
static bool fdinfo_has_lock(const char *path, unsigned maj, unsigned min, unsigned long long ino)
{
	char line[256];
	bool found = false;
	FILE *f = fopen(path, "r");

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		unsigned lmaj, lmin;
		unsigned long long lino;
		found = strncmp(line, "lock:", 5) == 0 &&
			sscanf(line + 5, "%*d: %*s %*s %*s %*d %x:%x:%llu", &lmaj, &lmin, &lino) == 3 && lmaj == maj &&
			lmin == min && lino == ino;
	}
	fclose(f);
	return found;
}

/* The pid holding a lock on fd's file. An OFD lock belongs to an open
 * file description, not a process: F_OFD_GETLK and /proc/locks say pid
 * -1. But each process's /proc/PID/fdinfo lists the locks on the
 * descriptions it has open, so look there (only on a conflict, at start).
 * It may be this very process (the same image given twice). 0 if unknown
 * (e.g. another user's process). */
static long lock_holder_pid(int fd)
{
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
	struct stat st;
	long found = 0;

	if (fcntl(fd, F_OFD_GETLK, &fl) == 0 && fl.l_type != F_UNLCK && fl.l_pid > 0)
		return fl.l_pid;
	if (fstat(fd, &st) < 0)
		return 0;
	DIR *procs = opendir("/proc");
	if (!procs)
		return 0;
	struct dirent *p;
	while (!found && (p = readdir(procs))) {
		char path[300];
		long pid = strtol(p->d_name, NULL, 10);
		if (pid <= 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%ld/fdinfo", pid);
		DIR *fds = opendir(path);
		if (!fds)
			continue;
		struct dirent *d;
		while (!found && (d = readdir(fds))) {
			if (d->d_name[0] == '.' || (pid == getpid() && atoi(d->d_name) == fd))
				continue;
			snprintf(path, sizeof(path), "/proc/%ld/fdinfo/%s", pid, d->d_name);
			if (fdinfo_has_lock(path, major(st.st_dev), minor(st.st_dev), st.st_ino))
				found = pid;
		}
		closedir(fds);
	}
	closedir(procs);
	return found;
}

static int lock_image(struct blk_backend *b, const char *path, char *err, size_t errlen)
{
	struct flock fl = {.l_type = b->readonly ? F_RDLCK : F_WRLCK, .l_whence = SEEK_SET};

	if (fcntl(b->fd, F_OFD_SETLK, &fl) == 0)
		return 0;
	int e = errno;
	if (e != EAGAIN && e != EACCES) {
		err_printf(err, errlen, "%s: cannot lock: %s", path, strerror(e));
		return -e;
	}
	long pid = lock_holder_pid(b->fd);
	const char *how = b->readonly ? "being written" : "in use";
	if (pid > 0)
		err_printf(err, errlen, "%s is %s by another process (pid %ld): it holds a lock on the image", path, how,
			   pid);
	else
		err_printf(err, errlen, "%s is %s by another process: it holds a lock on the image", path, how);
	return -EBUSY;
}

/* Size and block sizes of a file or block device; the O_DIRECT alignment. */
static int probe_geometry(struct blk_backend *b, const struct stat *st, const char *path, char *err, size_t errlen)
{
	b->block_size = SECTOR;
	b->physical_block_size = 4096;
	b->mem_align = SECTOR;
	if (b->is_device) {
		int lbs = 0, pbs = 0;
		if (ioctl(b->fd, BLKGETSIZE64, &b->size) < 0) {
			err_printf(err, errlen, "%s: cannot read the device size: %s", path, strerror(errno));
			return -errno;
		}
		if (ioctl(b->fd, BLKSSZGET, &lbs) == 0 && lbs >= (int)SECTOR)
			b->mem_align = (unsigned)lbs;
		if (ioctl(b->fd, BLKPBSZGET, &pbs) == 0 && pbs >= (int)SECTOR)
			b->physical_block_size = (unsigned)pbs;
		if (b->cache == BLK_CACHE_NONE)
			b->block_size = b->mem_align;
		return 0;
	}
	b->size = (uint64_t)st->st_size;
	if (st->st_blksize >= (blksize_t)SECTOR && !(st->st_blksize & (st->st_blksize - 1)))
		b->physical_block_size = (unsigned)st->st_blksize;
	if (b->cache == BLK_CACHE_NONE) {
		/* The file system's direct-I/O alignment (statx STATX_DIOALIGN,
		 * Linux 6.1), else the safe choice: its block size. */
		struct statx sx;
		if (statx(b->fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &sx) == 0 && (sx.stx_mask & STATX_DIOALIGN) &&
		    sx.stx_dio_offset_align) {
			b->block_size = sx.stx_dio_offset_align < SECTOR ? SECTOR : sx.stx_dio_offset_align;
			b->mem_align = sx.stx_dio_mem_align < SECTOR ? SECTOR : sx.stx_dio_mem_align;
		} else {
			b->block_size = b->mem_align = b->physical_block_size;
		}
	}
	if (b->cache == BLK_CACHE_NONE && b->block_size > BLK_BOUNCE_CHUNK) {
		err_printf(err, errlen, "%s: cache=none: a %u-byte block is larger than a bounce chunk", path,
			   b->block_size);
		return -EINVAL;
	}
	if (b->size < b->block_size) {
		err_printf(err, errlen, "%s: the image is smaller than one %u-byte block", path, b->block_size);
		return -EINVAL;
	}
	return 0;
}

static int open_image(struct blk_backend *b, const struct blk_backend_options *opt, char *err, size_t errlen)
{
	int flags = (b->readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC;
	struct stat st;

	if (opt->cache == BLK_CACHE_NONE)
		flags |= O_DIRECT;
	b->fd = open(opt->path, flags);
	if (b->fd < 0 && errno == EISDIR) {
		err_printf(err, errlen, "%s is a directory, not a disk image", opt->path);
		return -EISDIR;
	}
	if (b->fd < 0 && errno == EINVAL && opt->cache == BLK_CACHE_NONE) {
		err_printf(err, errlen, "%s: cache=none needs O_DIRECT, which its file system does not support",
			   opt->path);
		return -EINVAL;
	}
	if (b->fd < 0) {
		err_printf(err, errlen, "cannot open %s: %s", opt->path, strerror(errno));
		return -errno;
	}
	if (fstat(b->fd, &st) < 0) {
		err_printf(err, errlen, "%s: %s", opt->path, strerror(errno));
		return -errno;
	}
	if (S_ISDIR(st.st_mode)) { /* O_RDONLY opens a directory without EISDIR */
		err_printf(err, errlen, "%s is a directory, not a disk image", opt->path);
		return -EISDIR;
	}
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
		err_printf(err, errlen, "%s is neither a regular file nor a block device", opt->path);
		return -EINVAL;
	}
	b->is_device = S_ISBLK(st.st_mode);
	int ret = lock_image(b, opt->path, err, errlen);
	return ret < 0 ? ret : probe_geometry(b, &st, opt->path, err, errlen);
}

/* snapshot=on: the image opened read-only as the base (so a shared
 * lock: other snapshots may share it, a writer may not), and an overlay.
 * The overlay is plain synchronous file I/O on the worker threads. */
static int open_snapshot(struct blk_backend *b, const struct blk_backend_options *opt, char *err, size_t errlen)
{
	if (opt->readonly) {
		err_printf(err, errlen, "%s: snapshot=on and readonly=on exclude each other", opt->path);
		return -EINVAL;
	}
	if (opt->cache == BLK_CACHE_NONE) {
		err_printf(err, errlen, "%s: snapshot=on cannot use cache=none (the overlay lives in $TMPDIR)",
			   opt->path);
		return -EINVAL;
	}
	if (opt->engine == BLK_ENGINE_IO_URING) {
		err_printf(err, errlen, "%s: snapshot=on runs on worker threads: use aio=auto or aio=threads", opt->path);
		return -EINVAL;
	}
	b->readonly = true;
	int ret = open_image(b, opt, err, errlen);
	if (ret < 0)
		return ret;
	ret = blk_overlay_create(&b->overlay, b->fd, b->size, err, errlen);
	if (ret < 0)
		return ret;
	b->readonly = false;
	return 0;
}

int blk_open(struct blk_backend *b, const struct blk_backend_options *opt, char *err, size_t errlen)
{
	return opt->snapshot ? open_snapshot(b, opt, err, errlen) : open_image(b, opt, err, errlen);
}
