/* Unit tests of the guest-stream cpio unpacker (vmm/cpio-unpack.c), fed by
 * the writer (vmm/cpio.c) and by hand-made hostile streams. No KVM. */
#include "vmm/cpio-unpack.h"
#include "vmm/cpio.h"

#include <check.h>
#include "tests/unit/check-run.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char top[PATH_MAX]; /* a scratch directory per test */
static int topfd = -1;

static void setup(void)
{
	snprintf(top, sizeof(top), "%s/skiff-unpack-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(top));
	topfd = open(top, O_RDONLY | O_DIRECTORY);
	ck_assert_int_ge(topfd, 0);
}

static void teardown(void)
{
	char cmd[PATH_MAX + 16];
	close(topfd);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", top);
	ck_assert_int_eq(system(cmd), 0);
}

/* Feeds the whole archive in pieces of `piece` bytes; the unpacker's result. */
static int unpack(const struct cpio_writer *w, size_t piece, struct cpio_unpacker *u, uint64_t max_bytes,
		  uint64_t max_entries)
{
	cpio_unpack_init(u, topfd, max_bytes, max_entries);
	for (size_t off = 0; off < w->len; off += piece) {
		size_t n = w->len - off < piece ? w->len - off : piece;
		int ret = cpio_unpack_feed(u, w->data + off, n);
		if (ret < 0)
			return ret;
	}
	return cpio_unpack_end(u);
}

static void read_back(const char *rel, char *buf, size_t len)
{
	int fd = openat(topfd, rel, O_RDONLY);
	ck_assert_msg(fd >= 0, "%s: %s", rel, strerror(errno));
	ssize_t n = read(fd, buf, len - 1);
	ck_assert_int_ge(n, 0);
	buf[n] = '\0';
	close(fd);
}

START_TEST(files_dirs_and_links_arrive)
{
	static const size_t pieces[] = {1, 3, 7, 110, 4096};
	struct cpio_writer w;
	cpio_init(&w, 1 << 20);
	ck_assert_int_eq(cpio_add(&w, "out", S_IFDIR | 0755, NULL, 0), 0);
	ck_assert_int_eq(cpio_add(&w, "out/a.txt", S_IFREG | 06755, "hello\n", 6), 0);
	ck_assert_int_eq(cpio_add(&w, "out/empty", S_IFREG | 0600, NULL, 0), 0);
	ck_assert_int_eq(cpio_add(&w, "out/sub", S_IFDIR | 0700, NULL, 0), 0);
	ck_assert_int_eq(cpio_add(&w, "out/sub/b", S_IFREG | 0644, "12345", 5), 0);
	ck_assert_int_eq(cpio_add(&w, "out/link", S_IFLNK | 0777, "/etc/passwd", 11), 0);
	ck_assert_int_eq(cpio_finish(&w), 0);
	for (unsigned i = 0; i < sizeof(pieces) / sizeof(pieces[0]); i++) {
		struct cpio_unpacker u;
		char buf[64];
		struct stat st;
		if (i)
			ck_assert_int_eq(unlinkat(topfd, "out/link", 0), 0); /* a second symlink is refused: EEXIST */
		ck_assert_msg(unpack(&w, pieces[i], &u, 1 << 20, 100) == 0, "piece %zu: %s", pieces[i], u.err);
		read_back("out/a.txt", buf, sizeof(buf));
		ck_assert_str_eq(buf, "hello\n");
		read_back("out/sub/b", buf, sizeof(buf));
		ck_assert_str_eq(buf, "12345");
		read_back("out/empty", buf, sizeof(buf));
		ck_assert_str_eq(buf, "");
		ck_assert_int_eq(fstatat(topfd, "out/a.txt", &st, 0), 0);
		ck_assert_int_eq(st.st_mode & 07777, 0755); /* set-id bits dropped */
		ssize_t n = readlinkat(topfd, "out/link", buf, sizeof(buf));
		ck_assert_int_eq(n, 11); /* written as a link, never followed */
		ck_assert_int_eq(u.entries, 6);
		ck_assert_int_eq(u.bytes, 11);
	}
	cpio_free(&w);
}
END_TEST

/* One entry then the trailer; the unpacker's result, with u->err. */
static int one_entry(struct cpio_unpacker *u, const char *name, uint32_t mode, const char *data)
{
	struct cpio_writer w;
	cpio_init(&w, 1 << 20);
	ck_assert_int_eq(cpio_add(&w, name, mode, data, data ? strlen(data) : 0), 0);
	ck_assert_int_eq(cpio_finish(&w), 0);
	int ret = unpack(&w, 4096, u, 1 << 20, 100);
	cpio_free(&w);
	return ret;
}

START_TEST(names_never_leave_the_directory)
{
	static const char *const bad[] = {"/etc/x", "..", "../x", "a/../../x", "a/./b", "a//b", "a/", ""};
	struct cpio_unpacker u;
	ck_assert_int_eq(mkdirat(topfd, "a", 0755), 0);
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int ret = one_entry(&u, bad[i], S_IFREG | 0644, "x");
		ck_assert_msg(ret == -EBADMSG, "\"%s\": %d", bad[i], ret);
		ck_assert_ptr_nonnull(strstr(u.err, bad[i][0] ? "leave the directory" : "name size"));
	}
	ck_assert_int_eq(access("/etc/x", F_OK), -1);
}
END_TEST

START_TEST(symlinks_are_never_followed)
{
	struct cpio_unpacker u;
	struct cpio_writer w;
	char outside[PATH_MAX + 8];
	snprintf(outside, sizeof(outside), "%s-out", top);
	ck_assert_int_eq(mkdir(outside, 0755), 0);

	/* A link sent first, then a file "through" it. */
	cpio_init(&w, 1 << 20);
	ck_assert_int_eq(cpio_add(&w, "esc", S_IFLNK | 0777, outside, strlen(outside)), 0);
	ck_assert_int_eq(cpio_add(&w, "esc/pwned", S_IFREG | 0644, "x", 1), 0);
	ck_assert_int_eq(cpio_finish(&w), 0);
	ck_assert_int_lt(unpack(&w, 4096, &u, 1 << 20, 100), 0);
	ck_assert_ptr_nonnull(strstr(u.err, "esc/pwned"));
	cpio_free(&w);

	/* A file whose name is an existing link (to a file outside). */
	char victim[PATH_MAX + 16];
	snprintf(victim, sizeof(victim), "%s/victim", outside);
	int fd = open(victim, O_WRONLY | O_CREAT, 0644);
	ck_assert_int_ge(fd, 0);
	close(fd);
	ck_assert_int_eq(symlinkat(victim, topfd, "f"), 0);
	ck_assert_int_lt(one_entry(&u, "f", S_IFREG | 0644, "overwritten"), 0);
	/* A directory whose name is an existing link. */
	ck_assert_int_eq(symlinkat(outside, topfd, "d"), 0);
	ck_assert_int_lt(one_entry(&u, "d", S_IFDIR | 0755, NULL), 0);

	struct stat st;
	ck_assert_int_eq(stat(victim, &st), 0);
	ck_assert_int_eq(st.st_size, 0);
	snprintf(victim, sizeof(victim), "%s/pwned", outside);
	ck_assert_int_eq(access(victim, F_OK), -1);
	char cmd[PATH_MAX + 32];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", outside);
	ck_assert_int_eq(system(cmd), 0);
}
END_TEST

START_TEST(limits_hold)
{
	struct cpio_unpacker u;
	struct cpio_writer w;
	cpio_init(&w, 1 << 20);
	ck_assert_int_eq(cpio_add(&w, "a", S_IFREG | 0644, "0123456789", 10), 0);
	ck_assert_int_eq(cpio_add(&w, "b", S_IFREG | 0644, "0123456789", 10), 0);
	ck_assert_int_eq(cpio_finish(&w), 0);
	ck_assert_int_eq(unpack(&w, 4096, &u, 20, 2), 0);       /* exactly at both limits */
	ck_assert_int_eq(unpack(&w, 4096, &u, 19, 100), -EFBIG); /* one byte over */
	ck_assert_ptr_nonnull(strstr(u.err, "limit"));
	ck_assert_int_eq(unpack(&w, 4096, &u, 1 << 20, 1), -EFBIG); /* one file over */
	ck_assert_ptr_nonnull(strstr(u.err, "more than 1 files"));
	cpio_free(&w);
}
END_TEST

START_TEST(malformed_streams_fail)
{
	struct cpio_unpacker u;
	struct cpio_writer w;
	cpio_init(&w, 1 << 20);
	ck_assert_int_eq(cpio_add(&w, "a", S_IFREG | 0644, "0123456789", 10), 0);
	ck_assert_int_eq(cpio_finish(&w), 0);

	/* Cut anywhere before the trailer's end: truncated, never success. */
	for (size_t cut = 0; cut < w.len - 4; cut++) {
		cpio_unpack_init(&u, topfd, 1 << 20, 100);
		ck_assert_int_eq(cpio_unpack_feed(&u, w.data, cut), 0);
		ck_assert_msg(cpio_unpack_end(&u) == -EBADMSG, "cut at %zu", cut);
	}
	ck_assert_ptr_nonnull(strstr(u.err, "truncated"));

	/* Bad magic, a non-hex digit, a name without its NUL, a huge name. */
	static const struct { size_t off; char c; const char *msg; } pokes[] = {
		{0, 'X', "magic"}, {20, 'g', "not hex"}, {110 + 1, 'x', "NUL"}, {94, 'F', "name size"},
	};
	for (unsigned i = 0; i < sizeof(pokes) / sizeof(pokes[0]); i++) {
		char was = (char)w.data[pokes[i].off];
		w.data[pokes[i].off] = (unsigned char)pokes[i].c;
		ck_assert_int_eq(unpack(&w, 4096, &u, 1 << 20, 100), -EBADMSG);
		ck_assert_msg(strstr(u.err, pokes[i].msg), "%s: %s", pokes[i].msg, u.err);
		w.data[pokes[i].off] = (unsigned char)was;
	}
	cpio_free(&w);

	/* Device nodes and FIFOs are refused, and so is a directory with data. */
	ck_assert_int_eq(one_entry(&u, "dev", S_IFCHR | 0644, NULL), -EBADMSG);
	ck_assert_int_eq(one_entry(&u, "fifo", S_IFIFO | 0644, NULL), -EBADMSG);
	ck_assert_int_eq(one_entry(&u, "dir", S_IFDIR | 0755, "data"), -EBADMSG);
	ck_assert_int_eq(faccessat(topfd, "dev", F_OK, AT_SYMLINK_NOFOLLOW), -1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("cpio-unpack");
	TCase *tc = tcase_create("unpack");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, files_dirs_and_links_arrive);
	tcase_add_test(tc, names_never_leave_the_directory);
	tcase_add_test(tc, symlinks_are_never_followed);
	tcase_add_test(tc, limits_hold);
	tcase_add_test(tc, malformed_streams_fail);
	suite_add_tcase(s, tc);
	return check_run_suite(s);
}
