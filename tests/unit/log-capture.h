/* Counting the lines skiff logs during part of a unit test, to show that
 * a hostile guest cannot flood the log: log-capture.c. */
#ifndef SKIFF_TEST_LOG_CAPTURE_H
#define SKIFF_TEST_LOG_CAPTURE_H

/* From now on, stderr goes to a temporary file and info lines show. */
void log_capture_start(void);
/* Stop; the number of captured lines that contain `needle`. */
unsigned log_capture_stop(const char *needle);

#endif
