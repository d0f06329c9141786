/* Unit tests of the KTAP/TAP parser and the JUnit writer (vmm/ktap.c) on
 * samples written in the formats kunit, kselftest's runner and its
 * harness print (Documentation/dev-tools/ktap.rst, TAP 13/14): nesting,
 * SKIP/TODO/TIMEOUT directives, diagnostics, a crash in kernel log noise,
 * a missing plan, and hostile input (binary, huge, deep, endless lines).
 * Where xmllint is installed, every JUnit file must pass `xmllint --noout`. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/unit/check-run.h"
#include "vmm/ktap.h"

/* kunit as Linux 6.1 prints it: four spaces a level, parameterised tests
 * as a third level, diagnostics before the result they explain. */
static const char kunit_sample[] =
	"KTAP version 1\n"
	"1..2\n"
	"    KTAP version 1\n"
	"    # Subtest: example\n"
	"    # module: kunit_example_test\n"
	"    1..4\n"
	"    # example_simple_test: initializing\n"
	"    ok 1 example_simple_test\n"
	"    ok 2 example_skip_test # SKIP this test should be skipped\n"
	"    # example_fail_test: EXPECTATION FAILED at lib/kunit/kunit-example-test.c:42\n"
	"    Expected 1 + 1 == 3, but\n"
	"        1 + 1 == 2\n"
	"    not ok 3 example_fail_test\n"
	"        KTAP version 1\n"
	"        # Subtest: example_params_test\n"
	"        ok 1 example value 3\n"
	"        ok 2 example value 2 # SKIP unsupported\n"
	"    # example_params_test: pass:1 fail:0 skip:1 total:2\n"
	"    ok 4 example_params_test\n"
	"# example: pass:2 fail:1 skip:1 total:4\n"
	"not ok 1 example\n"
	"    KTAP version 1\n"
	"    # Subtest: other\n"
	"    1..1\n"
	"    ok 1 other_test\n"
	"ok 2 other\n";

/* kselftest's runner (TAP 13): each program's own output is prefixed
 * with "# " and so stays diagnostics of the program's result. */
static const char kselftest_sample[] =
	"TAP version 13\n"
	"1..4\n"
	"# selftests: net: reuseport_bpf\n"
	"# ---- IPv4 UDP ----\n"
	"ok 1 selftests: net: reuseport_bpf\n"
	"# selftests: net: tls\n"
	"# TAP version 13\n"
	"# 1..2\n"
	"# ok 1 tls.basic\n"
	"# not ok 2 tls.sendfile\n"
	"not ok 2 selftests: net: tls # exit=1\n"
	"# selftests: net: udpgso_bench.sh\n"
	"not ok 3 selftests: net: udpgso_bench.sh # TIMEOUT 45 seconds\n"
	"ok 4 selftests: net: ipv6_flowlabel # SKIP\n";

/* kselftest_harness.h run alone. */
static const char harness_sample[] =
	"TAP version 13\n"
	"1..2\n"
	"# Starting 2 tests from 1 test cases.\n"
	"#  RUN           global.a ...\n"
	"#            OK  global.a\n"
	"ok 1 global.a\n"
	"#  RUN           global.b ...\n"
	"# b.c:10:b:Expected 0 (0) == 1 (1)\n"
	"#          FAIL  global.b\n"
	"not ok 2 global.b\n"
	"# FAILED: 1 / 2 tests passed.\n"
	"# Totals: pass:1 fail:1 xfail:0 xpass:0 skip:0 error:0\n";

/* kunit read from the console: timestamps, a crash, then nothing. */
static const char crash_sample[] =
	"[    0.500000] Run /init as init process\n"
	"[    0.500100] KTAP version 1\n"
	"[    0.500101] 1..1\n"
	"[    0.500102]     KTAP version 1\n"
	"[    0.500103]     # Subtest: crashy\n"
	"[    0.500104][    T1]     1..3\n"
	"[    0.500105]     ok 1 first\n"
	"<1>[    0.500110] BUG: kernel NULL pointer dereference, address: 0000000000000000\n"
	"[    0.500111] Oops: 0000 [#1] PREEMPT SMP\n"
	"[    0.500112] RIP: 0010:crashy_test+0x10/0x20\n";

static char *junit_of(const struct ktap_report *r, const char *suite)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	ck_assert_int_eq(ktap_write_junit(r, f, suite), 0);
	fclose(f);
	return buf;
}

static char *summary_of(const struct ktap_report *r)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	ktap_print_summary(r, f);
	fclose(f);
	return buf;
}

/* xmllint --noout on the JUnit text: true if it accepts it or is not
 * installed (said once on stderr). */
static bool xmllint_accepts(const char *xml)
{
	static int have = -1;
	char path[] = "/var/tmp/skiff-ktap-XXXXXX";

	if (have < 0) {
		have = system("command -v xmllint >/dev/null 2>&1") == 0;
		if (!have)
			fprintf(stderr, "test-ktap: xmllint not installed (libxml2-utils): XML validity not checked\n");
	}
	if (!have)
		return true;
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, xml, strlen(xml)), (ssize_t)strlen(xml));
	close(fd);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "xmllint --noout %s", path);
	int st = system(cmd);
	unlink(path);
	return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

static struct ktap_report *parse_str(const char *s) { return ktap_parse(s, strlen(s)); }

static void counts_are(const struct ktap_report *r, unsigned pass, unsigned fail, unsigned skip, unsigned err)
{
	ck_assert_msg(r->passed == pass && r->failed == fail && r->skipped == skip && r->errors == err,
		      "passed %u failed %u skipped %u errors %u; expected %u %u %u %u", r->passed, r->failed,
		      r->skipped, r->errors, pass, fail, skip, err);
}

START_TEST(kunit_nested)
{
	struct ktap_report *r = parse_str(kunit_sample);
	counts_are(r, 3, 1, 2, 0); /* the parents are class paths, not cases */
	char *xml = junit_of(r, "kunit");
	ck_assert_ptr_nonnull(strstr(xml, "<testcase name=\"example_fail_test\" classname=\"kunit.example\">"));
	ck_assert_ptr_nonnull(strstr(xml, "EXPECTATION FAILED at lib/kunit/kunit-example-test.c:42"));
	ck_assert_ptr_nonnull(
		strstr(xml, "<testcase name=\"example value 2\" classname=\"kunit.example.example_params_test\">"));
	ck_assert_ptr_nonnull(strstr(xml, "<skipped message=\"SKIP unsupported\"/>"));
	ck_assert_ptr_nonnull(strstr(xml, "<testcase name=\"other_test\" classname=\"kunit.other\"/>"));
	ck_assert_ptr_null(strstr(xml, "name=\"example\""));
	ck_assert_ptr_nonnull(strstr(xml, "tests=\"6\" failures=\"1\" errors=\"0\" skipped=\"2\""));
	ck_assert(xmllint_accepts(xml));
	char *sum = summary_of(r);
	ck_assert_str_eq(sum, "ktap: 6 tests: 3 passed, 1 failed, 2 skipped, 0 errors\n"
			      "ktap: not ok: example.example_fail_test\n");
	free(sum);
	free(xml);
	ktap_free(r);
}
END_TEST

/* ktap.rst's own indentation: two spaces a level. */
START_TEST(two_space_indentation)
{
	struct ktap_report *r = parse_str("KTAP version 1\n1..1\n  KTAP version 1\n  1..2\n  ok 1 a\n"
					  "  not ok 2 b\nnot ok 1 parent\n");
	counts_are(r, 1, 1, 0, 0);
	char *xml = junit_of(r, "s");
	ck_assert_ptr_nonnull(strstr(xml, "<testcase name=\"b\" classname=\"s.parent\">"));
	free(xml);
	ktap_free(r);
}
END_TEST

START_TEST(kselftest_runner)
{
	struct ktap_report *r = parse_str(kselftest_sample);
	counts_are(r, 1, 2, 1, 0);
	char *xml = junit_of(r, "kselftest");
	ck_assert_ptr_nonnull(strstr(xml, "<failure message=\"exit=1\"># selftests: net: tls&#10;"));
	ck_assert_ptr_nonnull(strstr(xml, "# not ok 2 tls.sendfile&#10;</failure>"));
	ck_assert_ptr_nonnull(strstr(xml, "<failure message=\"TIMEOUT 45 seconds\">"));
	ck_assert_ptr_nonnull(strstr(xml, "name=\"selftests: net: ipv6_flowlabel\""));
	ck_assert(xmllint_accepts(xml));
	free(xml);
	ktap_free(r);
}
END_TEST

START_TEST(kselftest_harness)
{
	struct ktap_report *r = parse_str(harness_sample);
	counts_are(r, 1, 1, 0, 0);
	char *xml = junit_of(r, "harness");
	ck_assert_ptr_nonnull(strstr(xml, "# b.c:10:b:Expected 0 (0) == 1 (1)&#10;"));
	ck_assert(xmllint_accepts(xml));
	free(xml);
	ktap_free(r);
}
END_TEST

START_TEST(crash_in_kernel_log)
{
	struct ktap_report *r = parse_str(crash_sample);
	counts_are(r, 1, 0, 0, 1);
	char *sum = summary_of(r);
	ck_assert_str_eq(sum, "ktap: 2 tests: 1 passed, 0 failed, 0 skipped, 1 errors\n"
			      "ktap: error: crashy.(missing results) # 2 of 3 planned tests have no result: crashed, or the output ended\n");
	char *xml = junit_of(r, "kunit");
	ck_assert_ptr_nonnull(strstr(xml, "<testcase name=\"first\" classname=\"kunit.crashy\"/>"));
	ck_assert(xmllint_accepts(xml));
	free(xml);
	free(sum);
	ktap_free(r);
}
END_TEST

/* The output stops inside a subtest with no plan: the subtest is the error. */
START_TEST(crash_without_plan)
{
	struct ktap_report *r = parse_str("KTAP version 1\n    # Subtest: lost\n    ok 1 a\n");
	counts_are(r, 1, 0, 0, 1);
	char *xml = junit_of(r, "k");
	ck_assert_ptr_nonnull(strstr(xml, "<testcase name=\"lost\" classname=\"k\">"));
	ck_assert_ptr_nonnull(strstr(xml, "no result line: the test crashed or the output ended"));
	free(xml);
	ktap_free(r);
}
END_TEST

START_TEST(tap14_todo_and_no_plan)
{
	struct ktap_report *r =
		parse_str("TAP version 14\nok 1 - a\nnot ok 2 - b # TODO not yet\nok 3 - c # todo passes now\n"
			  "ok 4 - has \\# in its name\nnot ok 5\nBail out! database gone\n");
	counts_are(r, 3, 1, 1, 1);
	ck_assert(r->bailed_out);
	char *xml = junit_of(r, "t");
	ck_assert_ptr_nonnull(strstr(xml, "name=\"has \\# in its name\""));
	ck_assert_ptr_nonnull(strstr(xml, "<testcase name=\"(unnamed)\""));
	ck_assert(xmllint_accepts(xml));
	free(xml);
	ktap_free(r);
}
END_TEST

START_TEST(skipped_plan_and_nothing_found)
{
	/* A plan at the very end of the buffer, no newline: nothing is read
	 * past len (ASan checks this in the sanitizer run). */
	char *tail = malloc(19);
	memcpy(tail, "TAP version 13\n1..7", 19);
	struct ktap_report *t = ktap_parse(tail, 19);
	counts_are(t, 0, 0, 0, 1); /* 7 planned, none came */
	ktap_free(t);
	free(tail);

	struct ktap_report *r = parse_str("TAP version 13\n1..0 # SKIP no hardware\n");
	counts_are(r, 0, 0, 1, 0);
	ktap_free(r);

	r = parse_str("just a kernel log\n[ 1.0] nothing here\n");
	ck_assert(!r->found);
	counts_are(r, 0, 0, 0, 0);
	char *sum = summary_of(r), *xml = junit_of(r, "none");
	ck_assert_str_eq(sum, "ktap: no KTAP or TAP output found\n");
	ck_assert_ptr_nonnull(strstr(xml, "<system-err>no KTAP or TAP output found</system-err>"));
	ck_assert(xmllint_accepts(xml));
	free(sum);
	free(xml);
	ktap_free(r);
}
END_TEST

/* The kernel's own kunit parser test data (tools/testing/kunit/test_data
 * in the Linux source setup unpacks), read where it is: real console
 * captures with panics, prefixes and noise. Skipped if it is not there. */
START_TEST(kernel_test_data)
{
	static const struct {
		const char *file;
		unsigned pass, fail, skip, err;
	} want[] = {
		{"test_is_test_passed-all_passed_nested.log", 7, 0, 0, 0},
		{"test_is_test_passed-failure.log", 9, 1, 0, 0},
		{"test_kernel_panic_interrupt.log", 8, 0, 0, 1},
		{"test_multiple_prefixes.log", 10, 0, 0, 0},
		{"test_skip_tests.log", 4, 0, 1, 0},
		{"test_skip_all_tests.log", 0, 0, 5, 0},
		{"test_is_test_passed-kselftest.log", 2, 0, 0, 0},
	};
	const char *dir = getenv("KUNIT_TEST_DATA");
	char path[512];

	if (!dir)
		dir = "/var/cache/skiff/linux-source-6.1/tools/testing/kunit/test_data";
	snprintf(path, sizeof(path), "%s/%s", dir, want[0].file);
	if (access(path, R_OK) != 0) {
		fprintf(stderr, "test-ktap: %s not found (guest-images/build-small-kernel.sh unpacks the Linux source there): kernel samples not checked\n", dir);
		return;
	}
	for (unsigned i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, want[i].file);
		FILE *f = fopen(path, "rb");
		ck_assert_msg(f, "%s", path);
		static char text[1 << 20];
		size_t len = fread(text, 1, sizeof(text), f);
		fclose(f);
		struct ktap_report *r = ktap_parse(text, len);
		ck_assert_msg(r->passed == want[i].pass && r->failed == want[i].fail && r->skipped == want[i].skip &&
				      r->errors == want[i].err,
			      "%s: %u %u %u %u", want[i].file, r->passed, r->failed, r->skipped, r->errors);
		char *xml = junit_of(r, want[i].file);
		ck_assert_msg(xmllint_accepts(xml), "%s", want[i].file);
		free(xml);
		ktap_free(r);
	}
}
END_TEST

/* ---- hostile input ---- */

START_TEST(binary_and_markup_in_names)
{
	static const char text[] = "TAP version 13\nnot ok 1 a<b>&\"c'\x01\x1b[31m\xff\xc3\xa9\xed\xa0\x80 # SKIP <x>\n"
				   "# diag \x00 with a NUL\nnot ok 2 z\n";
	struct ktap_report *r = ktap_parse(text, sizeof(text) - 1);
	counts_are(r, 0, 1, 1, 0);
	char *xml = junit_of(r, "s<&>");
	ck_assert_ptr_nonnull(strstr(xml, "a&lt;b&gt;&amp;&quot;c&apos;??[31m?\xc3\xa9???"));
	ck_assert(xmllint_accepts(xml));
	char *sum = summary_of(r);
	ck_assert_ptr_null(strchr(sum, '\x1b')); /* no escape sequences to the terminal */
	free(sum);
	free(xml);
	ktap_free(r);
}
END_TEST

START_TEST(random_bytes)
{
	size_t len = 4u << 20;
	char *text = malloc(len);
	srandom(19);
	for (size_t i = 0; i < len; i++) {
		long v = random();
		/* Mostly noise, with KTAP words and newlines mixed in. */
		text[i] = (v & 0xff) < 8 ? '\n' : (v & 0xff) < 12 ? ' ' : (char)(v >> 8);
		if ((v & 0xfff) == 1 && i + 8 < len)
			i += (size_t)snprintf(text + i, 9, "\nnot ok ") - 1;
	}
	struct ktap_report *r = ktap_parse(text, len);
	ck_assert_ptr_nonnull(r);
	char *xml = junit_of(r, "random");
	ck_assert(xmllint_accepts(xml));
	free(xml);
	ktap_free(r);
	free(text);
}
END_TEST

START_TEST(huge_output_is_bounded)
{
	const unsigned n = KTAP_RECORDS_MAX + 1000;
	size_t cap = (size_t)n * 32 + (20u << 20), len = 0;
	char *text = malloc(cap);
	len += (size_t)sprintf(text, "TAP version 13\n");
	for (unsigned i = 1; i <= n; i++)
		len += (size_t)sprintf(text + len, "ok %u t%u\n", i, i);
	/* 20 MiB of diagnostics without a result to go with them, */
	while (len + 64 < cap - 1)
		len += (size_t)sprintf(text + len, "# %060u\n", 0);
	struct ktap_report *r = ktap_parse(text, len);
	ck_assert_uint_eq(r->nr_records, KTAP_RECORDS_MAX);
	ck_assert_uint_eq(r->dropped, 1000);
	ck_assert_uint_le(r->diag_bytes, KTAP_DIAG_TOTAL_MAX);
	char *sum = summary_of(r);
	ck_assert_ptr_nonnull(strstr(sum, "ktap: 1000 more results were not kept (limit 65536)"));
	free(sum);
	ktap_free(r);

	/* One 64 MiB line. */
	memset(text, 'x', cap);
	memcpy(text, "ok 1 ", 5);
	r = ktap_parse(text, cap);
	counts_are(r, 1, 0, 0, 0);
	ktap_free(r);
	free(text);
}
END_TEST

START_TEST(deep_nesting_is_bounded)
{
	const unsigned levels = 5000;
	size_t cap = 2 * (size_t)levels * (levels + 40), len = 0;
	char *text = malloc(cap);
	for (unsigned i = 0; i < levels; i++)
		len += (size_t)sprintf(text + len, "%*sKTAP version 1\n%*s# Subtest: s%u\n", (int)i, "", (int)i, "", i);
	for (unsigned i = levels; i-- > 0;)
		len += (size_t)sprintf(text + len, "%*sok 1 t%u\n", (int)i, "", i);
	struct ktap_report *r = ktap_parse(text, len);
	ck_assert_ptr_nonnull(r);
	ck_assert_uint_ge(r->passed, 1);
	/* Depth is capped: at most one record per level opened, and no more
	 * class path components than KTAP_DEPTH_MAX. */
	ck_assert_uint_le(r->nr_records, 2 * levels);
	char *xml = junit_of(r, "deep");
	ck_assert(xmllint_accepts(xml));
	free(xml);
	ktap_free(r);
	free(text);
}
END_TEST

static Suite *ktap_suite(void)
{
	Suite *s = suite_create("ktap");
	TCase *tc = tcase_create("ktap");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, kunit_nested);
	tcase_add_test(tc, two_space_indentation);
	tcase_add_test(tc, kselftest_runner);
	tcase_add_test(tc, kselftest_harness);
	tcase_add_test(tc, crash_in_kernel_log);
	tcase_add_test(tc, crash_without_plan);
	tcase_add_test(tc, tap14_todo_and_no_plan);
	tcase_add_test(tc, skipped_plan_and_nothing_found);
	tcase_add_test(tc, kernel_test_data);
	tcase_add_test(tc, binary_and_markup_in_names);
	tcase_add_test(tc, random_bytes);
	tcase_add_test(tc, huge_output_is_bounded);
	tcase_add_test(tc, deep_nesting_is_bounded);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return check_run_suite(ktap_suite());
}
