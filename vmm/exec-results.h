/* skiff exec --junit FILE / --ktap: CMD's stdout still goes to skiff's
 * stdout byte for byte; a relay thread keeps a copy (up to
 * EXEC_RESULTS_MAX bytes) that vmm/ktap.c parses once CMD has ended.
 *
 *     struct exec_results r;
 *     exec_results_start(&r, junit_path, err, len);   port fd: r.port_fd
 *     ... the guest runs; its stdout port writes into (a dup of) r.port_fd ...
 *     exec_results_finish(&r, junit_path, ktap, suite);  after machine_destroy */
#ifndef SKIFF_EXEC_RESULTS_H
#define SKIFF_EXEC_RESULTS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stddef.h>

#define EXEC_RESULTS_MAX (64u << 20) /* CMD's stdout kept for parsing; past it, relayed only */

struct exec_results {
	int port_fd;      /* the pipe's write end, for the stdout port; -1 once closed */
	int read_fd;      /* the relay thread's end */
	pthread_t thread;
	bool running;
	char *buf;        /* EXEC_RESULTS_MAX, reserved up front (no allocation while the sandbox is on) */
	size_t len;
	bool cut;         /* more than EXEC_RESULTS_MAX came */
	int write_error;  /* errno of a failed write to stdout, or 0 */
	FILE *junit;      /* --junit's file, opened by start (before the sandbox), or NULL */
};

/* Opens junit (NULL: none) and starts the relay. 0, or -errno with one
 * line in err. */
int exec_results_start(struct exec_results *r, const char *junit, char *err, size_t errlen);
/* Waits for the relay to see the end of CMD's output, then writes the
 * JUnit file (if start opened one; junit names it in messages) and
 * prints the summary on stderr (if ktap).
 * 0, or -1 after one line on stderr (a JUnit file it could not write). */
int exec_results_finish(struct exec_results *r, const char *junit, bool ktap, const char *suite);

#endif
