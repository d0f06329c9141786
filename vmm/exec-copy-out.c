/* skiff exec --copy-out: see vmm/exec-copy-out.h. */
#include "vmm/exec-copy-out.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmm/cpio-unpack.h"
#include "vmm/exec-io.h"
#include "vmm/exit-status.h"

/* The helper: unpack until the trailer or an error, send the result
 * ("0", "M guest path missing" or "B message"), then keep reading to EOF
 * so the device never writes into a closed pipe. */
static void helper(int in, int dirfd, int result, const char *guest)
{
	static struct cpio_unpacker u;
	static char buf[65536];
	char line[400];
	int ret = 0;
	bool told = false;

	cpio_unpack_init(&u, dirfd, EXEC_COPY_OUT_MAX_BYTES, EXEC_COPY_OUT_MAX_FILES);
	for (;;) {
		ssize_t n = read(in, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 && !told)
			ret = cpio_unpack_end(&u);
		else if (n > 0 && !told)
			ret = cpio_unpack_feed(&u, buf, (size_t)n);
		if (!told && (ret < 0 || u.state == CPIO_DONE || n <= 0)) {
			if (ret < 0)
				snprintf(line, sizeof(line), "B%s", u.err);
			else if (u.entries == 0)
				snprintf(line, sizeof(line), "M%s: not in the guest (or not readable there)", guest);
			else
				snprintf(line, sizeof(line), "0");
			(void)!write_all(result, line, strlen(line));
			close(result);
			told = true;
		}
		if (n <= 0)
			break;
	}
	_exit(0);
}

static bool keep(int fd, const int *fds, int n)
{
	for (int i = 0; i < n; i++)
		if (fds[i] == fd)
			return true;
	return false;
}

static int start_one(struct exec_copy_out *co, unsigned i, char *err, size_t errlen)
{
	const char *guest = co->xo->copy_out_guest[i], *host = co->xo->copy_out_host[i];
	int stream[2], result[2];

	if (mkdir(host, 0755) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "skiff exec: --copy-out %s:%s: %s", guest, host, strerror(errno));
		return -errno;
	}
	int dirfd = open(host, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0) {
		snprintf(err, errlen, "skiff exec: --copy-out %s:%s: %s", guest, host, strerror(errno));
		return -errno;
	}
	if (pipe2(stream, O_CLOEXEC) < 0 || pipe2(result, O_CLOEXEC) < 0) {
		snprintf(err, errlen, "skiff exec: pipe: %s", strerror(errno));
		close(dirfd);
		return -errno;
	}
	pid_t pid = fork();
	if (pid == 0) {
		/* Only its own ends: a write end kept here would hide the EOF
		 * another helper (or the stdout relay) waits for. */
		int mine[] = {stream[0], result[1], dirfd, 0, 1, 2};
		long max = sysconf(_SC_OPEN_MAX);
		for (int fd = 0; fd < (max > 0 && max < 65536 ? max : 65536); fd++)
			if (!keep(fd, mine, 6))
				close(fd);
		helper(stream[0], dirfd, result[1], guest);
	}
	int e = errno;
	close(stream[0]);
	close(result[1]);
	close(dirfd);
	if (pid < 0) {
		close(stream[1]);
		close(result[0]);
		snprintf(err, errlen, "skiff exec: fork: %s", strerror(e));
		return -e;
	}
	co->port_fd[i] = stream[1];
	co->result_fd[i] = result[0];
	co->pid[i] = pid;
	co->nr = i + 1;
	return 0;
}

int exec_copy_out_start(struct exec_copy_out *co, const struct exec_options *xo, char *err, size_t errlen)
{
	memset(co, 0, sizeof(*co));
	co->xo = xo;
	for (unsigned i = 0; i < xo->nr_copy_out; i++) {
		int ret = start_one(co, i, err, errlen);
		if (ret < 0) {
			exec_copy_out_finish(co, false);
			return ret;
		}
	}
	return 0;
}

int exec_copy_out_finish(struct exec_copy_out *co, bool report)
{
	int status = 0;
	for (unsigned i = 0; i < co->nr; i++)
		if (co->port_fd[i] >= 0)
			close(co->port_fd[i]);
	for (unsigned i = 0; i < co->nr; i++) {
		char line[400];
		size_t got = 0;
		for (;;) {
			ssize_t n = read(co->result_fd[i], line + got, sizeof(line) - 1 - got);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				break;
			got += (size_t)n;
		}
		close(co->result_fd[i]);
		line[got] = '\0';
		if ((got && line[0] == '0') || !report)
			continue;
		const char *spec = co->xo->copy_out_guest[i];
		if (got && line[0] == 'M') {
			fprintf(stderr, "skiff exec: --copy-out %s\n", line + 1);
			status = status ? status : EXIT_EXEC_COPY_MISSING;
		} else {
			fprintf(stderr, "skiff exec: --copy-out %s: %s\n", spec, got ? line + 1 : "the copy helper died");
			status = status ? status : EXIT_EXEC_COPY_BAD;
		}
	}
	co->nr = 0;
	return status;
}
