/* KTAP and TAP results: parse a test program's output (kselftest, kunit,
 * any TAP 13/14 producer), print a summary, write JUnit XML for CI.
 *
 *     struct ktap_report *r = ktap_parse(text, len);   NULL: out of memory
 *     ktap_print_summary(r, stderr);
 *     ktap_write_junit(r, file, "kselftest");          0 or -errno
 *     ktap_free(r);
 *
 * What the parser understands (Documentation/dev-tools/ktap.rst, TAP 14):
 *   - version lines ("KTAP version 1", "TAP version 13/14"), plans
 *     ("1..N", "1..0 # SKIP why"), result lines ("ok N - name # SKIP why",
 *     "not ok N name # TODO why"), "Bail out!", diagnostics ("# ..."),
 *     which go with the next result line, and "# Subtest: name" headers;
 *   - subtests nested by indentation (4 spaces a level): a test with
 *     subtests becomes a class path ("suite.parent.child"); only leaves
 *     are test cases, plus a parent that failed while its subtests did not;
 *   - kernel log noise: a leading "[  12.345678] " timestamp or "<6>"
 *     level is dropped, and lines that are no KTAP are ignored;
 *   - a crash: a subtest level that never got its parent's result line is
 *     an error named after its "# Subtest:" header, and a plan with fewer
 *     results than it promised adds one error saying how many are missing;
 *   - a missing plan is fine (nothing is checked against it).
 * Hostile input is bounded: lines past KTAP_LINE_MAX bytes are cut, depth
 * past KTAP_DEPTH_MAX is counted as that depth, at most KTAP_RECORDS_MAX
 * results are kept (the rest counted in `dropped`), and diagnostics keep
 * at most KTAP_DIAG_MAX bytes per test and KTAP_DIAG_TOTAL_MAX in all. No
 * recursion. Bytes that are not valid UTF-8 become '?' in the XML. */
#ifndef SKIFF_KTAP_H
#define SKIFF_KTAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define KTAP_LINE_MAX       4096
#define KTAP_NAME_MAX       256
#define KTAP_DEPTH_MAX      32
#define KTAP_RECORDS_MAX    65536
#define KTAP_DIAG_MAX       2048
#define KTAP_DIAG_TOTAL_MAX (8u << 20)

enum ktap_result {
	KTAP_PASS,
	KTAP_FAIL,
	KTAP_SKIP,  /* "# SKIP", or "not ok ... # TODO" (a known failure) */
	KTAP_ERROR, /* no result line: crashed, or the output ended */
};

struct ktap_record; /* one result line (or a missing one), see ktap.c */

struct ktap_report {
	/* Test cases (leaves; see above) by result. */
	unsigned passed, failed, skipped, errors;
	unsigned dropped;     /* results past KTAP_RECORDS_MAX, not kept */
	bool found;           /* any KTAP/TAP line at all */
	bool bailed_out;      /* "Bail out!" */
	struct ktap_record *records;
	unsigned nr_records, records_cap;
	size_t diag_bytes;
};

struct ktap_report *ktap_parse(const char *text, size_t len);
/* JUnit XML: <testsuites><testsuite name=suite><testcase .../>... 0 or -errno. */
int ktap_write_junit(const struct ktap_report *r, FILE *out, const char *suite);
/* "ktap: 12 tests: 10 passed, 1 failed, 1 skipped, 0 errors" and a line per failure (up to 20). */
void ktap_print_summary(const struct ktap_report *r, FILE *out);
void ktap_free(struct ktap_report *r);

#endif
