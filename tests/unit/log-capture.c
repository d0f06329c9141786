/* Counting logged lines in a unit test: see log-capture.h. */
#include "tests/unit/log-capture.h"

#include <check.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"

static int saved_stderr = -1;
static FILE *capture;
static enum log_level saved_threshold;

void log_capture_start(void)
{
	capture = tmpfile();
	ck_assert_ptr_nonnull(capture);
	saved_stderr = dup(STDERR_FILENO);
	ck_assert_int_ge(saved_stderr, 0);
	ck_assert_int_ge(dup2(fileno(capture), STDERR_FILENO), 0);
	saved_threshold = log_threshold;
	log_threshold = LOG_INFO;
}

unsigned log_capture_stop(const char *needle)
{
	char line[1200];
	unsigned n = 0;

	log_threshold = saved_threshold;
	dup2(saved_stderr, STDERR_FILENO);
	close(saved_stderr);
	rewind(capture);
	while (fgets(line, sizeof(line), capture))
		if (strstr(line, needle))
			n++;
	fclose(capture);
	return n;
}
