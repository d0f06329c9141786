/* cpio newc unpacker for guest-sent streams: see vmm/cpio-unpack.h. */
#include "vmm/cpio-unpack.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmm/exec-io.h"

#define NEWC_HEADER 110

void cpio_unpack_init(struct cpio_unpacker *u, int dirfd, uint64_t max_bytes, uint64_t max_entries)
{
	memset(u, 0, sizeof(*u));
	u->dirfd = dirfd;
	u->max_bytes = max_bytes;
	u->max_entries = max_entries;
	u->out = -1;
	u->state = CPIO_HEADER;
}

__attribute__((format(printf, 3, 4))) static int fail(struct cpio_unpacker *u, int error, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(u->err, sizeof(u->err), fmt, ap);
	va_end(ap);
	u->error = error;
	u->state = CPIO_FAILED;
	if (u->out >= 0)
		close(u->out);
	u->out = -1;
	return error;
}

/* Field i (0 = ino, after the 6-byte magic) as 8 hex digits. */
static bool field(const char *head, int i, uint32_t *v)
{
	*v = 0;
	for (int k = 0; k < 8; k++) {
		char c = head[6 + 8 * i + k];
		int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
		if (d < 0)
			return false;
		*v = *v << 4 | (uint32_t)d;
	}
	return true;
}

static int parse_header(struct cpio_unpacker *u)
{
	uint32_t v;
	if (memcmp(u->head, "070701", 6) != 0 && memcmp(u->head, "070702", 6) != 0)
		return fail(u, -EBADMSG, "not a cpio newc stream (bad magic)");
	for (int i = 0; i < 13; i++)
		if (!field(u->head, i, &v))
			return fail(u, -EBADMSG, "bad cpio header (not hex)");
	field(u->head, 1, &u->mode);
	field(u->head, 6, &u->filesize);
	field(u->head, 11, &u->namesize);
	if (u->namesize < 2 || u->namesize > CPIO_NAME_MAX)
		return fail(u, -EBADMSG, "bad cpio name size %u", u->namesize);
	u->state = CPIO_NAME;
	u->got = 0;
	return 0;
}

/* Relative, no ".", ".." or empty components (a lone "." is the top). */
static bool name_ok(const char *name)
{
	if (name[0] == '/')
		return false;
	if (strcmp(name, ".") == 0)
		return true;
	for (const char *c = name;;) {
		size_t n = strcspn(c, "/");
		if (n == 0 || (n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
			return false;
		if (!c[n])
			return true;
		c += n + 1;
	}
}

/* Opens the directory holding `name` (walking it component by component,
 * never through a symlink) and points *leaf at the last component. */
static int open_parent(struct cpio_unpacker *u, char *name, const char **leaf)
{
	int fd = dup(u->dirfd);
	char *c = name;
	if (fd < 0)
		return -errno;
	for (char *slash; (slash = strchr(c, '/'));) {
		*slash = '\0';
		int next = openat(fd, c, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		int e = errno;
		*slash = '/';
		close(fd);
		if (next < 0)
			return -e;
		fd = next;
		c = slash + 1;
	}
	*leaf = c;
	return fd;
}

/* The entry's header and name are in: create it (a file stays open for its data). */
static int start_entry(struct cpio_unpacker *u)
{
	if (u->name[u->namesize - 1] != '\0' || strlen(u->name) != u->namesize - 1)
		return fail(u, -EBADMSG, "bad cpio name (not NUL-terminated)");
	if (strcmp(u->name, "TRAILER!!!") == 0) {
		u->state = CPIO_DONE;
		return 0;
	}
	if (!name_ok(u->name))
		return fail(u, -EBADMSG, "refused the name \"%.200s\": it would leave the directory", u->name);
	if (++u->entries > u->max_entries)
		return fail(u, -EFBIG, "more than %llu files", (unsigned long long)u->max_entries);
	uint32_t type = u->mode & S_IFMT, perm = u->mode & 0777;
	if (type == S_IFREG && u->filesize > u->max_bytes - u->bytes)
		return fail(u, -EFBIG, "%.200s: the files pass the %llu MiB limit", u->name,
			    (unsigned long long)(u->max_bytes >> 20));
	if (type == S_IFDIR && u->filesize)
		return fail(u, -EBADMSG, "%.200s: a directory with data", u->name);
	if (type == S_IFLNK && (u->filesize == 0 || u->filesize >= CPIO_NAME_MAX))
		return fail(u, -EBADMSG, "%.200s: bad symlink target size %u", u->name, u->filesize);
	if (type != S_IFREG && type != S_IFDIR && type != S_IFLNK)
		return fail(u, -EBADMSG, "%.200s: only files, directories and symlinks are copied out", u->name);

	u->bytes += type == S_IFREG ? u->filesize : 0;
	u->got = 0;
	u->left = u->filesize;
	if (type == S_IFLNK)
		return 0; /* created once its target is in */
	if (strcmp(u->name, ".") == 0) {
		if (type != S_IFDIR)
			return fail(u, -EBADMSG, "\".\" is not a directory");
		return 0;
	}
	const char *leaf;
	int dir = open_parent(u, u->name, &leaf), ret = 0;
	if (dir < 0)
		return fail(u, dir, "%.200s: %s", u->name, strerror(-dir));
	if (type == S_IFDIR) {
		struct stat st;
		if (mkdirat(dir, leaf, perm | 0700) < 0 &&
		    (errno != EEXIST || fstatat(dir, leaf, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode)))
			ret = -(errno ? errno : EEXIST);
	} else {
		u->out = openat(dir, leaf, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, perm);
		if (u->out < 0)
			ret = -errno;
	}
	close(dir);
	if (ret < 0)
		return fail(u, ret, "%.200s: %s", u->name, strerror(-ret));
	return 0;
}

static int end_entry(struct cpio_unpacker *u)
{
	if ((u->mode & S_IFMT) == S_IFLNK) {
		u->target[u->filesize] = '\0';
		if (memchr(u->target, '\0', u->filesize))
			return fail(u, -EBADMSG, "%.200s: NUL in a symlink target", u->name);
		const char *leaf;
		int dir = open_parent(u, u->name, &leaf);
		if (dir < 0)
			return fail(u, dir, "%.200s: %s", u->name, strerror(-dir));
		int ret = symlinkat(u->target, dir, leaf) < 0 ? -errno : 0;
		close(dir);
		if (ret < 0)
			return fail(u, ret, "%.200s: %s", u->name, strerror(-ret));
	}
	if (u->out >= 0 && close(u->out) < 0) {
		u->out = -1;
		return fail(u, -errno, "%.200s: %s", u->name, strerror(errno));
	}
	u->out = -1;
	u->pad = (4 - u->filesize % 4) % 4;
	u->state = CPIO_PAD;
	return 0;
}

/* Takes what the current state needs from *p; returns bytes used or -errno. */
static long step(struct cpio_unpacker *u, const char *p, size_t n)
{
	size_t take;
	switch (u->state) {
	case CPIO_HEADER:
		take = NEWC_HEADER - u->got < n ? NEWC_HEADER - u->got : n;
		memcpy(u->head + u->got, p, take);
		u->got += take;
		if (u->got == NEWC_HEADER && parse_header(u) < 0)
			return u->error;
		return (long)take;
	case CPIO_NAME:
		take = u->namesize - u->got < n ? u->namesize - u->got : n;
		memcpy(u->name + u->got, p, take);
		u->got += take;
		if (u->got == u->namesize) {
			if (start_entry(u) < 0)
				return u->error;
			if (u->state == CPIO_NAME) {
				u->state = CPIO_DATA;
				u->pad = (4 - (NEWC_HEADER + u->namesize) % 4) % 4; /* before the data */
			}
		}
		return (long)take;
	case CPIO_DATA:
		if (u->pad) { /* the name's padding */
			take = u->pad < n ? u->pad : n;
			u->pad -= take;
			return (long)take;
		}
		take = u->left < n ? u->left : n;
		if ((u->mode & S_IFMT) == S_IFLNK)
			memcpy(u->target + u->got, p, take);
		else if (u->out >= 0 && take) {
			int ret = write_all(u->out, p, take);
			if (ret < 0)
				return fail(u, ret, "%.200s: %s", u->name, strerror(-ret));
		}
		u->got += take;
		u->left -= (uint32_t)take;
		if (u->left == 0 && end_entry(u) < 0)
			return u->error;
		return (long)take;
	case CPIO_PAD:
		take = u->pad < n ? u->pad : n;
		u->pad -= take;
		if (u->pad == 0) {
			u->state = CPIO_HEADER;
			u->got = 0;
		}
		return (long)take;
	case CPIO_DONE:
		return (long)n; /* zeros after the trailer (padding to a block) */
	case CPIO_FAILED:
		break;
	}
	return u->error;
}

int cpio_unpack_feed(struct cpio_unpacker *u, const void *buf, size_t n)
{
	const char *p = buf;
	while (n || (u->state == CPIO_DATA && !u->pad && u->left == 0) || (u->state == CPIO_PAD && !u->pad)) {
		long used = step(u, p, n);
		if (used < 0)
			return (int)used;
		p += used;
		n -= (size_t)used;
	}
	return u->state == CPIO_FAILED ? u->error : 0;
}

int cpio_unpack_end(struct cpio_unpacker *u)
{
	if (u->state == CPIO_FAILED)
		return u->error;
	if (u->state != CPIO_DONE)
		return fail(u, -EBADMSG, "the cpio stream ended before its trailer (truncated)");
	return 0;
}
