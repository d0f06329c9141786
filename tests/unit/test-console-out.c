/* Unit tests of the serial console's output to stdout
 * (vmm/console-out.c): a stalled reader never blocks the writer (the
 * vCPU, in skiff), what it cannot take waits in a bounded buffer and
 * arrives in order once it reads again, and the excess is dropped and
 * counted; a reader that keeps reading loses nothing. */
#include <check.h>
#include "tests/unit/check-run.h"
#include <fcntl.h>
#include <pthread.h>
#include <sys/socket.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vmm/console-out.h"
#include "base/reactor.h"

#define TOTAL (4 * CONSOLE_OUT_BUFFER)

static uint8_t byte_at(size_t i) { return (uint8_t)(i * 7 + i / 251); }

static double seconds(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

/* Four buffers' worth into a pipe (loop 0) or a socket (loop 1, which
 * cannot be reopened) nobody reads: every write returns at once; then
 * the reader wakes up and gets exactly the bytes that were not dropped,
 * in order, delivered by the reactor. */
START_TEST(stalled_reader_never_blocks)
{
	static struct console_out out;
	static struct reactor r;
	static uint8_t chunk[4096], got[TOTAL];
	int p[2];

	if (_i == 0)
		ck_assert_int_eq(pipe(p), 0);
	else
		ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, p), 0);
	ck_assert_int_eq(console_out_init(&out, p[1]), 0);
	ck_assert_int_eq(reactor_init(&r), 0);
	ck_assert_int_eq(console_out_attach(&out, &r), 0);
	ck_assert_int_eq(reactor_start(&r), 0);

	double t0 = seconds();
	for (size_t off = 0; off < TOTAL; off += sizeof(chunk)) {
		for (size_t i = 0; i < sizeof(chunk); i++)
			chunk[i] = byte_at(off + i);
		console_out_write(&out, chunk, sizeof(chunk));
	}
	ck_assert_msg(seconds() - t0 < 2.0, "the writer was held up");
	uint64_t dropped = console_out_dropped(&out);
	ck_assert_uint_gt(dropped, 0);
	/* Held at most: the pipe's own buffer and ours. */
	if (_i == 0)
		ck_assert_uint_ge(dropped, TOTAL - (uint64_t)fcntl(p[1], F_GETPIPE_SZ) - CONSOLE_OUT_BUFFER);

	size_t want = TOTAL - (size_t)dropped, have = 0;
	for (t0 = seconds(); have < want && seconds() - t0 < 5;) {
		ssize_t n = read(p[0], got + have, want - have);
		ck_assert_int_gt(n, 0);
		have += (size_t)n;
	}
	ck_assert_uint_eq(have, want);
	for (size_t i = 0; i < want; i++)
		if (got[i] != byte_at(i))
			ck_abort_msg("byte %zu out of order", i);

	console_out_destroy(&out);
	reactor_destroy(&r);
	close(p[0]);
	close(p[1]);
}
END_TEST

/* A reader that keeps reading gets every byte, in order, though the
 * guest writes faster than it reads and more than the buffer holds: one
 * byte a call, as the UART hands them over. */
#define STEADY_TOTAL (CONSOLE_OUT_BUFFER + CONSOLE_OUT_BUFFER / 2)

struct steady_reader {
	int fd;
	uint8_t *got;
	size_t have;
};

static void *read_to_eof(void *arg)
{
	struct steady_reader *rd = arg;
	ssize_t n;

	while (rd->have < STEADY_TOTAL && (n = read(rd->fd, rd->got + rd->have, STEADY_TOTAL - rd->have)) > 0)
		rd->have += (size_t)n;
	return NULL;
}

START_TEST(steady_reader_gets_every_byte)
{
	static struct console_out out;
	static struct reactor r;
	static uint8_t got[STEADY_TOTAL];
	struct steady_reader rd = {.got = got};
	pthread_t reader;
	int p[2];

	ck_assert_int_eq(pipe(p), 0);
	rd.fd = p[0];
	ck_assert_int_eq(console_out_init(&out, p[1]), 0);
	ck_assert_int_eq(reactor_init(&r), 0);
	ck_assert_int_eq(console_out_attach(&out, &r), 0);
	ck_assert_int_eq(reactor_start(&r), 0);
	ck_assert_int_eq(pthread_create(&reader, NULL, read_to_eof, &rd), 0);

	for (size_t i = 0; i < STEADY_TOTAL; i++) {
		uint8_t b = byte_at(i);
		console_out_write(&out, &b, 1);
	}
	console_out_destroy(&out); /* the rest, as at skiff's exit */
	close(p[1]);
	ck_assert_int_eq(pthread_join(reader, NULL), 0);
	ck_assert_uint_eq(out.dropped, 0); /* destroyed: no lock to take */
	ck_assert_uint_eq(rd.have, STEADY_TOTAL);
	for (size_t i = 0; i < STEADY_TOTAL; i++)
		if (got[i] != byte_at(i))
			ck_abort_msg("byte %zu out of order", i);
	reactor_destroy(&r);
	close(p[0]);
}
END_TEST

/* A regular file is written straight through: nothing is dropped. */
START_TEST(regular_file_takes_everything)
{
	static struct console_out out;
	char path[] = "/var/tmp/skiff-conout-XXXXXX";
	int fd = mkstemp(path);
	uint8_t buf[1000];

	ck_assert_int_ge(fd, 0);
	unlink(path);
	memset(buf, 'x', sizeof(buf));
	ck_assert_int_eq(console_out_init(&out, fd), 0);
	for (int i = 0; i < 100; i++)
		console_out_write(&out, buf, sizeof(buf));
	ck_assert_uint_eq(console_out_dropped(&out), 0);
	console_out_destroy(&out);
	ck_assert_int_eq(lseek(fd, 0, SEEK_END), 100 * (off_t)sizeof(buf));
	close(fd);
}
END_TEST

/* stdout on /dev/null (a CI job discarding the console): epoll refuses
 * it, yet skiff starts and the bytes go. Found when `skiff run >
 * /dev/null` stopped with "cannot watch the console output". */
START_TEST(dev_null_is_accepted)
{
	static struct console_out out;
	static struct reactor r;
	uint8_t buf[1000];
	int fd = open("/dev/null", O_WRONLY);

	ck_assert_int_ge(fd, 0);
	memset(buf, 'x', sizeof(buf));
	ck_assert_int_eq(console_out_init(&out, fd), 0);
	ck_assert_int_eq(reactor_init(&r), 0);
	ck_assert_int_eq(console_out_attach(&out, &r), 0);
	for (int i = 0; i < 100; i++)
		console_out_write(&out, buf, sizeof(buf));
	ck_assert_uint_eq(console_out_dropped(&out), 0);
	console_out_destroy(&out);
	reactor_destroy(&r);
	close(fd);
}
END_TEST

static Suite *console_out_suite(void)
{
	Suite *s = suite_create("console-out");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 20);
	tcase_add_loop_test(tc, stalled_reader_never_blocks, 0, 2);
	tcase_add_test(tc, steady_reader_gets_every_byte);
	tcase_add_test(tc, regular_file_takes_everything);
	tcase_add_test(tc, dev_null_is_accepted);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return check_run_suite(console_out_suite());
}
