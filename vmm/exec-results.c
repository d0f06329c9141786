/* skiff exec --junit / --ktap: see vmm/exec-results.h. */
#include "vmm/exec-results.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/io-thread.h"
#include "vmm/exec-io.h"
#include "vmm/ktap.h"


/* Stdout first, then the copy: CMD's output reaches the user unchanged
 * and as it comes, whatever the parsing. */
static void *relay(void *arg)
{
	struct exec_results *r = arg;
	char chunk[65536];

	for (;;) {
		ssize_t n = read(r->read_fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (!r->write_error) {
			int e = write_all(STDOUT_FILENO, chunk, (size_t)n);
			if (e < 0)
				r->write_error = -e; /* keep reading: the guest must not block on a full pipe */
		}
		size_t room = EXEC_RESULTS_MAX - r->len, take = (size_t)n < room ? (size_t)n : room;
		memcpy(r->buf + r->len, chunk, take);
		r->len += take;
		r->cut |= take < (size_t)n;
	}
	return NULL;
}

int exec_results_start(struct exec_results *r, const char *junit, char *err, size_t errlen)
{
	int p[2];

	memset(r, 0, sizeof(*r));
	r->port_fd = r->read_fd = -1;
	/* Opened now: once the guest runs, the sandbox allows no new files. */
	if (junit && !(r->junit = fopen(junit, "w"))) {
		int e = errno;
		snprintf(err, errlen, "skiff exec: --junit %s: %s", junit, strerror(e));
		return -e;
	}
	r->buf = malloc(EXEC_RESULTS_MAX); /* untouched pages cost nothing */
	if (!r->buf) {
		snprintf(err, errlen, "skiff exec: no memory for CMD's output copy (--junit/--ktap)");
		if (r->junit)
			fclose(r->junit);
		return -ENOMEM;
	}
	if (pipe2(p, O_CLOEXEC) < 0) {
		int e = errno;
		snprintf(err, errlen, "skiff exec: pipe: %s", strerror(e));
		free(r->buf);
		if (r->junit)
			fclose(r->junit);
		return -e;
	}
	r->read_fd = p[0];
	r->port_fd = p[1];
	int e = thread_create(&r->thread, relay, r);
	if (e) {
		snprintf(err, errlen, "skiff exec: cannot start the stdout relay: %s", strerror(e));
		close(p[0]);
		close(p[1]);
		free(r->buf);
		if (r->junit)
			fclose(r->junit);
		return -e;
	}
	r->running = true;
	return 0;
}


int exec_results_finish(struct exec_results *r, const char *junit, bool ktap, const char *suite)
{
	int ret = 0;

	/* The relay sees EOF once the device's copy (closed by machine_destroy) and ours are. */
	close(r->port_fd);
	r->port_fd = -1;
	if (r->running)
		pthread_join(r->thread, NULL);
	close(r->read_fd);
	if (r->write_error)
		fprintf(stderr, "skiff exec: writing CMD's stdout: %s\n", strerror(r->write_error));
	if (r->cut)
		fprintf(stderr, "skiff exec: CMD's stdout passed %u MiB; results parsed from the first %u MiB only\n",
			EXEC_RESULTS_MAX >> 20, EXEC_RESULTS_MAX >> 20);
	struct ktap_report *rep = ktap_parse(r->buf, r->len);
	free(r->buf);
	if (!rep) {
		fprintf(stderr, "skiff exec: no memory to parse CMD's output\n");
		if (r->junit)
			fclose(r->junit);
		r->junit = NULL;
		return -1;
	}
	if (!rep->found)
		fprintf(stderr, "skiff exec: CMD printed no KTAP or TAP%s\n", junit ? "; the JUnit file has no test" : "");
	if (ktap)
		ktap_print_summary(rep, stderr);
	if (r->junit) {
		int e = ktap_write_junit(rep, r->junit, suite);
		if (fclose(r->junit) != 0 && e == 0)
			e = -errno;
		r->junit = NULL;
		if (e < 0) {
			fprintf(stderr, "skiff exec: --junit %s: %s\n", junit, strerror(-e));
			ret = -1;
		}
	}
	ktap_free(rep);
	return ret;
}
