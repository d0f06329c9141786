/* skiff exec's initramfs: see vmm/exec-initrd.h. */
#include "vmm/exec-initrd.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmm/cpio.h"
#include "vmm/exec-io.h"

/* Add every directory above `path` (relative, no leading '/'). Entries
 * the user's archive already has stay as they are: the kernel's mkdir
 * just fails on them. */
static int add_parents(struct cpio_writer *w, const char *path)
{
	char buf[4096];
	snprintf(buf, sizeof(buf), "%s", path);
	for (char *s = strchr(buf, '/'); s; s = strchr(s + 1, '/')) {
		*s = '\0';
		int ret = cpio_add(w, buf, S_IFDIR | 0755, NULL, 0);
		*s = '/';
		if (ret < 0)
			return ret;
	}
	return 0;
}

const char *exec_guest_path(const char *g)
{
	if (g[0] != '/' || strlen(g) >= 4000)
		return NULL;
	while (*g == '/')
		g++;
	if (!*g)
		return NULL;
	for (const char *c = g; *c;) {
		size_t n = strcspn(c, "/");
		if ((n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.') || n == 0)
			return NULL;
		c += n + (c[n] == '/');
	}
	return g;
}

static int add_copy_in(struct cpio_writer *w, const char *spec, char *err, size_t errlen)
{
	const char *colon = strrchr(spec, ':');
	const char *guest = colon ? exec_guest_path(colon + 1) : NULL;
	if (!guest || colon == spec) {
		snprintf(err, errlen, "skiff exec: --copy-in %s: must be HOST:GUEST with GUEST an absolute path", spec);
		return -EINVAL;
	}
	char *host = strndup(spec, (size_t)(colon - spec));
	char msg[512];
	int ret = host ? add_parents(w, guest) : -ENOMEM;
	if (ret == 0)
		ret = cpio_add_host_path(w, host, guest, msg, sizeof(msg));
	else
		snprintf(msg, sizeof(msg), "%s", strerror(-ret));
	if (ret < 0)
		snprintf(err, errlen, "skiff exec: --copy-in %s", msg);
	free(host);
	return ret;
}

static int add_skiff_files(struct cpio_writer *w, const struct exec_options *xo, char *err, size_t errlen)
{
	size_t argv_len = 0;
	for (int i = 0; i < xo->cmd_argc; i++)
		argv_len += strlen(xo->cmd[i]) + 1;
	char *args = malloc(argv_len ? argv_len : 1), *p = args;
	if (!args)
		return -ENOMEM;
	for (int i = 0; i < xo->cmd_argc; i++)
		p = stpcpy(p, xo->cmd[i]) + 1;
	int ret = cpio_add(w, "skiff", S_IFDIR | 0755, NULL, 0);
	if (ret == 0)
		ret = cpio_add(w, "skiff/init", S_IFREG | 0755, exec_init_start, (size_t)(exec_init_end - exec_init_start));
	if (ret == 0)
		ret = cpio_add(w, "skiff/argv", S_IFREG | 0644, args, argv_len);
	free(args);
	if (ret == 0 && xo->nr_copy_out) {
		char list[EXEC_MAX_COPY_OUT * EXEC_COPY_OUT_GUEST_MAX];
		size_t len = 0;
		for (unsigned i = 0; i < xo->nr_copy_out; i++)
			len += (size_t)(stpcpy(list + len, xo->copy_out_guest[i]) - (list + len)) + 1;
		ret = cpio_add(w, "skiff/copy-out", S_IFREG | 0644, list, len);
	}
	if (ret < 0) {
		if (ret != -EFBIG)
			snprintf(err, errlen, "skiff exec: cannot build the init archive: %s", strerror(-ret));
		return ret;
	}
	if (xo->workdir) {
		/* Its own limit, so a big directory fails clearly here. */
		size_t max = w->max;
		char msg[512];
		w->max = w->len + EXEC_WORKDIR_MAX < max ? w->len + EXEC_WORKDIR_MAX : max;
		ret = cpio_add_host_path(w, ".", "skiff/work", msg, sizeof(msg));
		w->max = max;
		if (ret == -EFBIG)
			snprintf(err, errlen,
				 "skiff exec: the working directory is over the %u MiB limit for sharing it; "
				 "run from a smaller one, or use --no-workdir and --copy-in", EXEC_WORKDIR_MAX >> 20);
		else if (ret < 0)
			snprintf(err, errlen, "skiff exec: cannot share the working directory: %s", msg);
		if (ret < 0)
			return ret;
	} else if ((ret = cpio_add(w, "skiff/work", S_IFDIR | 0755, NULL, 0)) < 0) {
		return ret;
	}
	for (unsigned i = 0; i < xo->nr_copy_in; i++)
		if ((ret = add_copy_in(w, xo->copy_in[i], err, errlen)) < 0)
			return ret;
	return cpio_finish(w);
}


/* The user's archive, then zeros up to a multiple of 4 (the kernel wants
 * each archive to start 4-aligned). */
static int copy_user_initrd(int out, const char *path, char *err, size_t errlen)
{
	int in = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (in < 0 || fstat(in, &st) < 0) {
		snprintf(err, errlen, "skiff exec: --initrd %s: %s", path, strerror(errno));
		if (in >= 0)
			close(in);
		return -errno;
	}
	off_t left = st.st_size;
	while (left > 0) {
		ssize_t n = sendfile(out, in, NULL, (size_t)left);
		if (n <= 0) {
			snprintf(err, errlen, "skiff exec: --initrd %s: %s", path, n < 0 ? strerror(errno) : "shrank");
			close(in);
			return -EIO;
		}
		left -= n;
	}
	close(in);
	static const char zeros[4];
	return write_all(out, zeros, (size_t)((4 - st.st_size % 4) % 4));
}

int exec_initrd_build(const char *user_initrd, const struct exec_options *xo, char *err, size_t errlen)
{
	struct cpio_writer w;
	cpio_init(&w, EXEC_COPY_MAX);
	err[0] = '\0';
	int ret = add_skiff_files(&w, xo, err, errlen);
	if (ret == -EFBIG && !err[0])
		snprintf(err, errlen, "skiff exec: the copied files pass the %u MiB limit", EXEC_COPY_MAX >> 20);
	int fd = ret < 0 ? -1 : memfd_create("skiff-exec-initrd", MFD_CLOEXEC);
	if (ret == 0 && fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "skiff exec: memfd_create: %s", strerror(errno));
	}
	if (ret == 0 && user_initrd)
		ret = copy_user_initrd(fd, user_initrd, err, errlen);
	if (ret == 0 && (ret = write_all(fd, w.data, w.len)) < 0)
		snprintf(err, errlen, "skiff exec: cannot write the initrd: %s", strerror(-ret));
	cpio_free(&w);
	if (ret < 0) {
		if (fd >= 0)
			close(fd);
		return ret;
	}
	return fd;
}
