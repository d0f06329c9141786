/* libFuzzer target for the SCSI disk's CDB parsing (devices/scsi-commands.c).
 *
 * The input is a hostile initiator: byte 0 picks the disk (read-write
 * with discard, read-only, or a missing LUN) and the data-in buffer size,
 * byte 1 the CDB length, then up to 32 CDB bytes, then the data-out
 * buffer. Each command runs to its end on a small real image through the
 * block backend. The target aborts if a result breaks the contract:
 * a status other than GOOD / CHECK CONDITION, sense that does not decode
 * or is too long, sense with GOOD, or more data-in than the buffer holds.
 * AddressSanitizer catches any access outside the buffers.
 * Build and run: see tests/fuzz/README. Not part of "make check". */
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "devices/scsi-disk.h"

#define BLOCKS 64u
#define BS     512u

static struct scsi_disk *rw, *ro;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static bool finished;
static uint8_t in[64 * BS];

static void done(struct scsi_cmd *c)
{
	pthread_mutex_lock(&lock);
	finished = true;
	pthread_cond_broadcast(&cond);
	pthread_mutex_unlock(&lock);
}

static struct scsi_disk *open_disk(const char *path, bool readonly)
{
	struct scsi_disk_options o = {.path = path, .serial = "FUZZ", .readonly = readonly, .discard = !readonly,
				      .engine = BLK_ENGINE_THREADS};
	struct scsi_disk *d;
	char err[256];

	if (scsi_disk_open(&d, &o, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		abort();
	}
	return d;
}

static void setup(void)
{
	char rw_path[] = "/tmp/fuzz-scsi-rw-XXXXXX", ro_path[] = "/tmp/fuzz-scsi-ro-XXXXXX";
	int a = mkstemp(rw_path), b = mkstemp(ro_path);

	if (a < 0 || b < 0 || ftruncate(a, BLOCKS * BS) < 0 || ftruncate(b, BLOCKS * BS) < 0)
		abort();
	rw = open_disk(rw_path, false);
	ro = open_disk(ro_path, true);
	unlink(rw_path); /* the open descriptors keep them */
	unlink(ro_path);
	close(a);
	close(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint16_t luns[] = {0, 1};
	uint8_t cdb[32] = {0}, out[4 * BS];

	if (!rw)
		setup();
	if (size < 2)
		return 0;
	unsigned which = data[0] % 3, in_len = (data[0] >> 2) * BS / 4, cdb_len = data[1] % 33;
	size_t take = size - 2 < cdb_len ? size - 2 : cdb_len;
	memcpy(cdb, data + 2, take);
	size_t out_len = size - 2 - take > sizeof(out) ? sizeof(out) : size - 2 - take;
	memcpy(out, data + 2 + take, out_len);

	struct iovec in_iov = {in, in_len}, out_iov = {out, out_len};
	struct scsi_cmd c = {.cdb = cdb, .cdb_len = cdb_len, .in = &in_iov, .in_cnt = 1, .out = &out_iov,
			     .out_cnt = 1, .luns = luns, .nr_luns = 2, .done = done};
	struct scsi_disk *d = which == 0 ? rw : which == 1 ? ro : NULL;

	finished = false;
	if (d ? !scsi_disk_command(d, &c) : (scsi_no_lun_command(&c), false)) {
		pthread_mutex_lock(&lock);
		while (!finished)
			pthread_cond_wait(&cond, &lock);
		pthread_mutex_unlock(&lock);
	}

	uint8_t key;
	uint16_t asc;
	if (c.status != SCSI_GOOD && c.status != SCSI_CHECK_CONDITION)
		abort();
	if (c.sense_len > SCSI_SENSE_MAX || (c.status == SCSI_GOOD) != (c.sense_len == 0))
		abort();
	if (c.status == SCSI_CHECK_CONDITION && !scsi_sense_decode(c.sense, c.sense_len, &key, &asc))
		abort();
	if (c.in_written > in_len)
		abort();
	return 0;
}
