/* Unit tests of skiff exec's host side: the cpio newc writer (vmm/cpio.c),
 * the status protocol parser (vmm/exec-status.c) and the command-line
 * split (vmm/exec.c). No KVM. */
#include "vmm/cpio.h"
#include "vmm/exec-results.h"
#include "vmm/exec-status.h"
#include "vmm/exec.h"

#include <check.h>
#include "tests/unit/check-run.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- a newc reader, to check what the writer wrote ---- */

struct entry {
	char name[256];
	unsigned mode, size, nlink;
	const unsigned char *data;
};

static unsigned hex8(const unsigned char *p)
{
	char buf[9];
	memcpy(buf, p, 8);
	buf[8] = '\0';
	return (unsigned)strtoul(buf, NULL, 16);
}

/* Entries of data[0..len) into e[]; returns their count, trailer excluded,
 * or -1 if the archive is malformed (magic, padding, bounds). */
static int read_archive(const unsigned char *data, size_t len, struct entry *e, int max)
{
	size_t off = 0;
	int n = 0;
	while (off + 110 <= len && n < max) {
		if (memcmp(data + off, "070701", 6) != 0 || off % 4)
			return -1;
		unsigned mode = hex8(data + off + 14), nlink = hex8(data + off + 38), size = hex8(data + off + 54);
		unsigned namesize = hex8(data + off + 94);
		size_t name_off = off + 110, data_off = (name_off + namesize + 3) & ~(size_t)3;
		if (namesize == 0 || namesize > sizeof(e->name) || data_off + size > len || data[name_off + namesize - 1])
			return -1;
		memcpy(e[n].name, data + name_off, namesize);
		if (strcmp(e[n].name, "TRAILER!!!") == 0)
			return (data_off + size + 3) / 4 * 4 == len ? n : -1;
		e[n].mode = mode;
		e[n].nlink = nlink;
		e[n].size = size;
		e[n].data = data + data_off;
		n++;
		off = (data_off + size + 3) & ~(size_t)3;
	}
	return -1;
}

START_TEST(cpio_entries_round_trip)
{
	struct cpio_writer w;
	struct entry e[8];
	cpio_init(&w, 1 << 20);
	ck_assert_int_eq(cpio_add(&w, "skiff", S_IFDIR | 0755, NULL, 0), 0);
	ck_assert_int_eq(cpio_add(&w, "skiff/argv", S_IFREG | 0644, "sh\0-c\0true", 11), 0);
	ck_assert_int_eq(cpio_add(&w, "skiff/odd", S_IFREG | 0600, "abc", 3), 0);
	ck_assert_int_eq(cpio_add(&w, "link", S_IFLNK | 0777, "skiff/odd", 9), 0);
	ck_assert_int_eq(cpio_finish(&w), 0);
	ck_assert_int_eq(w.len % 4, 0);
	ck_assert_int_eq(read_archive(w.data, w.len, e, 8), 4);
	ck_assert_str_eq(e[0].name, "skiff");
	ck_assert_uint_eq(e[0].mode, S_IFDIR | 0755);
	ck_assert_uint_eq(e[0].nlink, 2);
	ck_assert_str_eq(e[1].name, "skiff/argv");
	ck_assert_uint_eq(e[1].size, 11);
	ck_assert_mem_eq(e[1].data, "sh\0-c\0true", 11);
	ck_assert_uint_eq(e[2].mode, S_IFREG | 0600);
	ck_assert_mem_eq(e[2].data, "abc", 3);
	ck_assert_uint_eq(e[3].mode, S_IFLNK | 0777);
	ck_assert_mem_eq(e[3].data, "skiff/odd", 9);
	cpio_free(&w);
}
END_TEST

START_TEST(cpio_is_bounded)
{
	struct cpio_writer w;
	static char big[8192];
	cpio_init(&w, 4096);
	ck_assert_int_eq(cpio_add(&w, "big", S_IFREG | 0644, big, sizeof(big)), -EFBIG);
	ck_assert_int_eq(cpio_add(&w, "small", S_IFREG | 0644, big, 100), 0);
	size_t len = w.len;
	while (cpio_add(&w, "more", S_IFREG | 0644, big, 1000) == 0)
		ck_assert_uint_le(w.len, 4096);
	ck_assert_uint_ge(w.len, len);
	ck_assert_uint_le(w.len, 4096);
	cpio_free(&w);
}
END_TEST

START_TEST(cpio_host_tree)
{
	char dir[] = "/tmp/skiff-test-cpio-XXXXXX", path[256], err[256] = "";
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/sub", dir);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/sub/f", dir);
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs("content\n", f);
	fclose(f);
	snprintf(path, sizeof(path), "%s/l", dir);
	ck_assert_int_eq(symlink("sub/f", path), 0);

	struct cpio_writer w;
	struct entry e[8];
	cpio_init(&w, 1 << 20);
	ck_assert_int_eq(cpio_add_host_path(&w, dir, "in", err, sizeof(err)), 0);
	ck_assert_int_eq(cpio_finish(&w), 0);
	int n = read_archive(w.data, w.len, e, 8);
	ck_assert_int_eq(n, 4);
	bool saw_file = false, saw_link = false;
	for (int i = 0; i < n; i++) {
		if (strcmp(e[i].name, "in/sub/f") == 0) {
			saw_file = e[i].mode == (S_IFREG | 0644) || (e[i].mode & S_IFMT) == S_IFREG;
			ck_assert_mem_eq(e[i].data, "content\n", 8);
		}
		if (strcmp(e[i].name, "in/l") == 0)
			saw_link = (e[i].mode & S_IFMT) == S_IFLNK && memcmp(e[i].data, "sub/f", 5) == 0;
	}
	ck_assert(saw_file && saw_link);
	cpio_free(&w);

	/* Device nodes are refused, with the path in the message. */
	cpio_init(&w, 1 << 20);
	ck_assert_int_eq(cpio_add_host_path(&w, "/dev/null", "x", err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "/dev/null"));
	/* Past the bound: -EFBIG. */
	cpio_free(&w);
	cpio_init(&w, 200);
	ck_assert_int_eq(cpio_add_host_path(&w, dir, "in", err, sizeof(err)), -EFBIG);
	cpio_free(&w);

	snprintf(path, sizeof(path), "rm -rf %s", dir);
	ck_assert_int_eq(system(path), 0);
}
END_TEST

static enum exec_msg feed(struct exec_status_parser *p, const char *s, int *value)
{
	enum exec_msg m = EXEC_MSG_NONE;
	for (; *s; s++) {
		enum exec_msg got = exec_status_byte(p, *s, value);
		if (got != EXEC_MSG_NONE)
			m = got;
	}
	return m;
}

START_TEST(status_lines)
{
	struct exec_status_parser p = {0};
	int v = -1;
	ck_assert_int_eq(feed(&p, "hello\n", &v), EXEC_MSG_HELLO);
	ck_assert_int_eq(feed(&p, "exit 0\n", &v), EXEC_MSG_EXIT);
	ck_assert_int_eq(v, 0);
	ck_assert_int_eq(feed(&p, "exit 255\n", &v), EXEC_MSG_EXIT);
	ck_assert_int_eq(v, 255);
	ck_assert_int_eq(feed(&p, "signal 9\n", &v), EXEC_MSG_SIGNAL);
	ck_assert_int_eq(v, 9);
	/* Split across reads: nothing until the newline. */
	ck_assert_int_eq(feed(&p, "exi", &v), EXEC_MSG_NONE);
	ck_assert_int_eq(feed(&p, "t 7\n", &v), EXEC_MSG_EXIT);
	ck_assert_int_eq(v, 7);
}
END_TEST

START_TEST(status_hostile_lines)
{
	static const char *const bad[] = {"exit 256\n", "exit -1\n", "exit\n", "exit 1x\n", "signal 0\n",
					  "signal 128\n", "exit 0001\n", "goodbye\n", "\n", "exit  1\n"};
	struct exec_status_parser p = {0};
	int v;
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(feed(&p, bad[i], &v) == EXEC_MSG_BAD, "accepted %s", bad[i]);
	/* A NUL inside, and an endless line: bad, and the parser recovers. */
	ck_assert_int_eq(exec_status_byte(&p, 'e', &v), EXEC_MSG_NONE);
	ck_assert_int_eq(exec_status_byte(&p, '\0', &v), EXEC_MSG_NONE);
	ck_assert_int_eq(exec_status_byte(&p, '\n', &v), EXEC_MSG_BAD);
	for (int i = 0; i < 100000; i++)
		ck_assert_int_eq(exec_status_byte(&p, '1', &v), EXEC_MSG_NONE);
	ck_assert_uint_le(p.len, EXEC_STATUS_LINE_MAX);
	ck_assert_int_eq(exec_status_byte(&p, '\n', &v), EXEC_MSG_BAD);
	ck_assert_int_eq(feed(&p, "exit 3\n", &v), EXEC_MSG_EXIT);
	ck_assert_int_eq(v, 3);
}
END_TEST

START_TEST(parse_splits_options_and_command)
{
	char *argv[] = {"--kernel", "K", "--timeout", "30", "--mem", "512M", "--copy-in", "a:/b", "--fail-on",
			"oops,warn", "--no-workdir", "--ktap", "--junit", "j.xml", "--", "sh", "-c", "exit 3", NULL};
	int argc = 18, run_argc;
	char *run_argv[32], err[256];
	struct exec_options xo;
	ck_assert_int_eq(exec_parse(argc, argv, &xo, run_argv, &run_argc, err, sizeof(err)), 0);
	ck_assert_int_eq(run_argc, 8);
	ck_assert_str_eq(run_argv[1], "run");
	/* skiff's own --cmdline first, so the user's comes after and wins */
	ck_assert_str_eq(run_argv[2], "--cmdline");
	ck_assert_ptr_nonnull(strstr(run_argv[3], "rdinit=/skiff/init"));
	ck_assert_ptr_nonnull(strstr(run_argv[3], "loglevel=5"));
	ck_assert_str_eq(run_argv[4], "--kernel");
	ck_assert_str_eq(run_argv[7], "512M");
	ck_assert(xo.timeout_s == 30);
	ck_assert_uint_eq(xo.fail_on, EXEC_FAIL_OOPS | EXEC_FAIL_WARN);
	ck_assert_uint_eq(xo.nr_copy_in, 1);
	ck_assert(!xo.workdir);
	ck_assert(xo.ktap);
	ck_assert_str_eq(xo.junit, "j.xml");
	ck_assert_int_eq(xo.cmd_argc, 3);
	ck_assert_str_eq(xo.cmd[2], "exit 3");
}
END_TEST

START_TEST(parse_copy_out)
{
	char *good[] = {"--copy-out", "/tmp/res:out:dir", "--copy-out", "/x:y", "--", "true"};
	static const char *const bad[] = {"tmp/res:out", "/tmp/../etc:out", "/tmp/res", "/tmp/res:", ":out"};
	char *run_argv[16], err[256];
	int run_argc;
	struct exec_options xo;
	ck_assert_int_eq(exec_parse(6, good, &xo, run_argv, &run_argc, err, sizeof(err)), 0);
	ck_assert_int_eq(xo.nr_copy_out, 2);
	ck_assert_str_eq(xo.copy_out_guest[0], "/tmp/res");
	ck_assert_str_eq(xo.copy_out_host[0], "out:dir"); /* split at the first ':' */
	ck_assert_str_eq(xo.copy_out_guest[1], "/x");
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *argv[] = {"--copy-out", (char *)bad[i], "--", "true"};
		ck_assert_msg(exec_parse(4, argv, &xo, run_argv, &run_argc, err, sizeof(err)) == -1, "%s", bad[i]);
		ck_assert_ptr_nonnull(strstr(err, "--copy-out"));
	}
	char *five[] = {"--copy-out", "/a:b", "--copy-out", "/a:b", "--copy-out", "/a:b", "--copy-out", "/a:b",
			"--copy-out", "/a:b", "--", "true"};
	ck_assert_int_eq(exec_parse(12, five, &xo, run_argv, &run_argc, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "at most 4"));
}
END_TEST

START_TEST(parse_errors)
{
	char *no_cmd[] = {"--kernel", "K"};
	char *bad_timeout[] = {"--timeout", "0", "--", "true"};
	char *bad_fail[] = {"--fail-on", "oops,panic", "--", "true"};
	char *console[] = {"--console", "serial", "--", "true"};
	char *missing[] = {"--timeout"};
	char *run_argv[16], err[256];
	int run_argc;
	struct exec_options xo;
	ck_assert_int_eq(exec_parse(2, no_cmd, &xo, run_argv, &run_argc, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "no command"));
	ck_assert_int_eq(exec_parse(4, bad_timeout, &xo, run_argv, &run_argc, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "--timeout 0"));
	ck_assert_int_eq(exec_parse(4, bad_fail, &xo, run_argv, &run_argc, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "oops,panic"));
	ck_assert_int_eq(exec_parse(4, console, &xo, run_argv, &run_argc, err, sizeof(err)), -1);
	ck_assert_int_eq(exec_parse(1, missing, &xo, run_argv, &run_argc, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "needs a value"));
}
END_TEST

static char *slurp(const char *path)
{
	static char buf[65536];
	FILE *f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = 0;
	fclose(f);
	return buf;
}

/* --junit/--ktap: CMD's stdout passes through unchanged while a copy is
 * turned into JUnit; the device writes into its own dup of the port fd. */
START_TEST(results_relay_and_junit)
{
	static const char ktap[] = "boot noise\nKTAP version 1\n1..2\nok 1 first\n# why\nnot ok 2 second\n";
	char out_path[] = "/tmp/skiff-exec-out.XXXXXX", junit_path[] = "/tmp/skiff-exec-junit.XXXXXX", err[256];
	int out = mkstemp(out_path), jfd = mkstemp(junit_path);
	ck_assert_int_ge(out, 0);
	ck_assert_int_ge(jfd, 0);
	close(jfd);
	fflush(stdout);
	int saved = dup(STDOUT_FILENO);
	ck_assert_int_eq(dup2(out, STDOUT_FILENO), STDOUT_FILENO);

	struct exec_results r;
	ck_assert_int_eq(exec_results_start(&r, junit_path, err, sizeof(err)), 0);
	int device = dup(r.port_fd);
	for (size_t off = 0, len = strlen(ktap); off < len; off += 7) { /* in pieces, as a port writes */
		size_t piece = len - off < 7 ? len - off : 7;
		ck_assert_int_eq(write(device, ktap + off, piece), (ssize_t)piece);
	}
	close(device);
	ck_assert_int_eq(exec_results_finish(&r, junit_path, true, "suite"), 0);
	dup2(saved, STDOUT_FILENO);
	close(saved);
	close(out);

	ck_assert_str_eq(slurp(out_path), ktap);
	const char *xml = slurp(junit_path);
	ck_assert_ptr_nonnull(strstr(xml, "<testsuite"));
	ck_assert_ptr_nonnull(strstr(xml, "\"first\""));
	ck_assert_ptr_nonnull(strstr(xml, "<failure"));
	/* An unwritable JUnit file is an error before anything runs. */
	ck_assert_int_eq(exec_results_start(&r, "/nonexistent/dir/j.xml", err, sizeof(err)), -ENOENT);
	ck_assert_ptr_nonnull(strstr(err, "--junit /nonexistent/dir/j.xml"));
	unlink(out_path);
	unlink(junit_path);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("exec");
	TCase *tc = tcase_create("exec");
	tcase_add_test(tc, cpio_entries_round_trip);
	tcase_add_test(tc, cpio_is_bounded);
	tcase_add_test(tc, cpio_host_tree);
	tcase_add_test(tc, status_lines);
	tcase_add_test(tc, status_hostile_lines);
	tcase_add_test(tc, parse_splits_options_and_command);
	tcase_add_test(tc, parse_errors);
	tcase_add_test(tc, parse_copy_out);
	tcase_add_test(tc, results_relay_and_junit);
	suite_add_tcase(s, tc);
	return check_run_suite(s);
}
