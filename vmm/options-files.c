/* The option parser's checks of the files a run names (--kernel,
 * --initrd, --dump-dtb), before anything starts. */
#include "vmm/options.h"
#include "vmm/options-errors.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A file skiff will read: exists, regular, readable, not empty. */
static int check_input_file(const char *opt, const char *path, char *err, size_t errlen)
{
	struct stat st;
	int fd;

	if (stat(path, &st) < 0)
		return options_errorf(err, errlen, "--%s %s: %s", opt, path, strerror(errno));
	if (S_ISDIR(st.st_mode))
		return options_errorf(err, errlen, "--%s %s: %s", opt, path, strerror(EISDIR));
	if (!S_ISREG(st.st_mode))
		return options_errorf(err, errlen, "--%s %s: not a regular file", opt, path);
	/* Opening is the honest readability test (access() uses the real uid). */
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return options_errorf(err, errlen, "--%s %s: %s", opt, path, strerror(errno));
	close(fd);
	if (st.st_size == 0)
		return options_errorf(err, errlen, "--%s %s: file is empty", opt, path);
	return 0;
}

/* --dump-dtb FILE is created later; its directory must exist now, so the
 * mistake shows before the guest boots rather than after. */
static int check_output_file(const char *opt, const char *path, char *err, size_t errlen)
{
	const char *slash = strrchr(path, '/');
	char *dir;
	struct stat st;
	int ret = 0;

	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
		return options_errorf(err, errlen, "--%s %s: %s", opt, path, strerror(EISDIR));

	if (!slash)
		dir = strdup(".");
	else if (slash == path)
		dir = strdup("/");
	else
		dir = strndup(path, slash - path);
	if (!dir)
		return options_errorf(err, errlen, "out of memory");

	if (stat(dir, &st) < 0)
		ret = options_errorf(err, errlen, "--%s %s: directory %s: %s", opt, path, dir, strerror(errno));
	else if (!S_ISDIR(st.st_mode))
		ret = options_errorf(err, errlen, "--%s %s: %s is not a directory", opt, path, dir);
	free(dir);
	return ret;
}

int options_check_files(const struct options *o, char *err, size_t errlen)
{
	if (err && errlen)
		err[0] = '\0';
	if (!o->kernel)
		return options_errorf(err, errlen, "run: --kernel FILE is required");
	if (check_input_file("kernel", o->kernel, err, errlen))
		return -1;
	if (o->initrd && check_input_file("initrd", o->initrd, err, errlen))
		return -1;
	if (o->dump_dtb && check_output_file("dump-dtb", o->dump_dtb, err, errlen))
		return -1;
	return 0;
}
