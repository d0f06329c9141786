/* cpio newc writer: see vmm/cpio.h. */
#include "vmm/cpio.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NEWC_HEADER 110

void cpio_init(struct cpio_writer *w, size_t max)
{
	memset(w, 0, sizeof(*w));
	w->max = max;
	w->ino = 1;
}

static int reserve(struct cpio_writer *w, size_t more)
{
	if (more > w->max - w->len)
		return -EFBIG;
	if (w->len + more <= w->cap)
		return 0;
	size_t cap = w->cap ? w->cap : 4096;
	while (cap < w->len + more)
		cap *= 2;
	uint8_t *p = realloc(w->data, cap);
	if (!p)
		return -ENOMEM;
	w->data = p;
	w->cap = cap;
	return 0;
}

static void pad4(struct cpio_writer *w)
{
	while (w->len % 4)
		w->data[w->len++] = 0;
}

int cpio_add(struct cpio_writer *w, const char *name, uint32_t mode, const void *data, size_t size)
{
	size_t namesize = strlen(name) + 1;
	if (size > UINT32_MAX || namesize > 4096)
		return -EINVAL;
	int ret = reserve(w, NEWC_HEADER + namesize + 3 + size + 3);
	if (ret < 0)
		return ret;
	uint32_t nlink = (mode & S_IFMT) == S_IFDIR ? 2 : 1;
	/* c_magic, ino, mode, uid, gid, nlink, mtime, filesize, devmajor,
	 * devminor, rdevmajor, rdevminor, namesize, check */
	int n = snprintf((char *)w->data + w->len, NEWC_HEADER + 1,
			 "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X", w->ino++, mode, 0u, 0u, nlink, 0u,
			 (uint32_t)size, 0u, 0u, 0u, 0u, (uint32_t)namesize, 0u);
	if (n != NEWC_HEADER)
		return -EINVAL;
	w->len += NEWC_HEADER;
	memcpy(w->data + w->len, name, namesize);
	w->len += namesize;
	pad4(w);
	if (size)
		memcpy(w->data + w->len, data, size);
	w->len += size;
	pad4(w);
	return 0;
}

static int add_file(struct cpio_writer *w, const char *host, const char *name, const struct stat *st, char *err,
		    size_t errlen)
{
	if ((uint64_t)st->st_size > w->max - w->len) {
		snprintf(err, errlen, "%s: the copied files pass the %zu MiB limit", host, w->max >> 20);
		return -EFBIG;
	}
	int fd = open(host, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	uint8_t *buf = malloc(st->st_size ? (size_t)st->st_size : 1);
	ssize_t got = fd >= 0 && buf ? pread(fd, buf, (size_t)st->st_size, 0) : -1;
	/* A file that shrinks while we read it (another job writing in the
	 * same folder) is taken as far as it went: a snapshot, never an error. */
	int ret = got >= 0 ? cpio_add(w, name, S_IFREG | (st->st_mode & 07777), buf, (size_t)got) : -EIO;
	if (got < 0)
		ret = -errno;
	if (ret < 0)
		snprintf(err, errlen, "%s: %s", host, ret == -EFBIG ? "the copied files pass the limit" : strerror(-ret));
	free(buf);
	if (fd >= 0)
		close(fd);
	return ret;
}

int cpio_add_host_path(struct cpio_writer *w, const char *host, const char *name, char *err, size_t errlen)
{
	struct stat st;
	int ret;

	if (lstat(host, &st) < 0) {
		snprintf(err, errlen, "%s: %s", host, strerror(errno));
		return -errno;
	}
	if (S_ISREG(st.st_mode))
		return add_file(w, host, name, &st, err, errlen);
	if (S_ISLNK(st.st_mode)) {
		char target[4096];
		ssize_t n = readlink(host, target, sizeof(target));
		if (n < 0 || (size_t)n == sizeof(target)) {
			snprintf(err, errlen, "%s: cannot read the link", host);
			return -EIO;
		}
		return cpio_add(w, name, S_IFLNK | 0777, target, (size_t)n);
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "%s: only files, directories and symlinks can be copied", host);
		return -EINVAL;
	}
	if ((ret = cpio_add(w, name, S_IFDIR | (st.st_mode & 07777), NULL, 0)) < 0) {
		snprintf(err, errlen, "%s: the copied files pass the limit", host);
		return ret;
	}
	DIR *d = opendir(host);
	if (!d) {
		snprintf(err, errlen, "%s: %s", host, strerror(errno));
		return -errno;
	}
	struct dirent *e;
	while (ret == 0 && (e = readdir(d))) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		char *h = NULL, *g = NULL;
		if (asprintf(&h, "%s/%s", host, e->d_name) < 0 || asprintf(&g, "%s/%s", name, e->d_name) < 0)
			ret = -ENOMEM;
		else
			ret = cpio_add_host_path(w, h, g, err, errlen);
		free(h);
		free(g);
	}
	closedir(d);
	return ret;
}

int cpio_finish(struct cpio_writer *w)
{
	return cpio_add(w, "TRAILER!!!", 0, NULL, 0);
}

void cpio_free(struct cpio_writer *w)
{
	free(w->data);
	w->data = NULL;
	w->len = w->cap = 0;
}
