/* An emulated SCSI disk (SBC-3 / SPC-4 subset) on the block backend. It
 * knows nothing about virtio: a transport hands it a CDB and the data
 * buffers as iovecs, and gets back a status, sense data and the number
 * of data-in bytes. virtio-scsi (devices/virtio-scsi.c) is one such
 * transport; the unit tests are another.
 *
 * Commands: TEST UNIT READY, REQUEST SENSE, INQUIRY (standard data and
 * VPD pages 00h, 80h, 83h, B0h, B1h, B2h), READ CAPACITY(10/16), GET LBA
 * STATUS, READ and WRITE (6/10/12/16), VERIFY(10/16), SYNCHRONIZE
 * CACHE(10/16), MODE SENSE(6/10) and MODE SELECT(6/10) (pages 01h, 08h,
 * 0Ah; WCE and D_SENSE are changeable), START STOP UNIT, REPORT LUNS, and
 * WRITE SAME(16) and UNMAP when discard is on. Anything else: CHECK
 * CONDITION, ILLEGAL REQUEST / INVALID COMMAND OPERATION CODE.
 *
 * Sense data comes in fixed format, or descriptor format when the control
 * mode page's D_SENSE bit is set (or REQUEST SENSE asks with DESC=1).
 *
 * Threads: scsi_disk_command() runs on the caller's thread (virtio-scsi:
 * the reactor). Emulated commands finish there; media commands go to the
 * block backend and finish on a backend thread with cmd->done(). The
 * disk's own state (WCE, D_SENSE) is guarded by its lock.
 */
#ifndef SKIFF_SCSI_DISK_H
#define SKIFF_SCSI_DISK_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "devices/block-backend.h"

#define SCSI_SENSE_MAX   96  /* the virtio-scsi default sense_size */
#define SCSI_SERIAL_MAX  64  /* bytes of a unit serial number (VPD 80h) */
#define SCSI_LUN_MAX     255 /* LUNs 0..255: peripheral-device addressing */
#define SCSI_TARGET_MAX  255

/* Status codes (SAM-5). */
#define SCSI_GOOD            0x00
#define SCSI_CHECK_CONDITION 0x02
#define SCSI_TASK_SET_FULL   0x28 /* no resources now: the initiator retries later */

/* VERIFY with BYTCHK=1 and WRITE SAME with a pattern copy through host
 * buffers (up to 1 MiB and 64 KiB per command), and the guest decides how
 * many commands are in flight (up to 256 per queue, 16 queues): their
 * total per disk is capped here. A command that would pass the cap gets
 * TASK SET FULL without allocating, and Linux requeues it. 8 MiB is eight
 * of the largest VERIFYs at once, far more than a guest's disk tools ask. */
#define SCSI_DISK_BUFFER_BYTES_MAX (8u << 20)

/* Sense keys. */
#define SENSE_NO_SENSE        0x0
#define SENSE_NOT_READY       0x2
#define SENSE_MEDIUM_ERROR    0x3
#define SENSE_HARDWARE_ERROR  0x4
#define SENSE_ILLEGAL_REQUEST 0x5
#define SENSE_DATA_PROTECT    0x7
#define SENSE_ABORTED_COMMAND 0xb
#define SENSE_MISCOMPARE      0xe

/* Additional sense code and qualifier, as one number: ASC << 8 | ASCQ. */
#define ASC_NONE                    0x0000
#define ASC_WRITE_ERROR             0x0c00
#define ASC_READ_ERROR              0x1100
#define ASC_PARAM_LIST_LENGTH       0x1a00
#define ASC_MISCOMPARE_VERIFY       0x1d00
#define ASC_INVALID_OPCODE          0x2000
#define ASC_LBA_OUT_OF_RANGE        0x2100
#define ASC_INVALID_FIELD_IN_CDB    0x2400
#define ASC_LUN_NOT_SUPPORTED       0x2500
#define ASC_INVALID_FIELD_IN_PARAMS 0x2600
#define ASC_WRITE_PROTECTED         0x2700
#define ASC_SPACE_ALLOC_FAILED      0x2707
#define ASC_SAVING_NOT_SUPPORTED    0x3900

/* How a disk is made. */
struct scsi_disk_options {
	const char *path;      /* raw image or block device */
	const char *serial;    /* VPD 80h; NULL or "" = no serial page */
	bool readonly;         /* write commands: DATA PROTECT */
	bool snapshot;         /* copy-on-write overlay (block-backend.h) */
	bool discard;          /* UNMAP and WRITE SAME(16), thin provisioning */
	enum blk_cache cache;
	enum blk_engine engine;
	struct reactor *reactor; /* optional: reaps the image's io_uring (block-io.h) */
	unsigned target, lun;  /* for the device identifier (VPD 83h) */
	void (*batch_end)(void *opaque); /* see block-backend.h "Batching" */
	void *batch_opaque;
};

struct scsi_disk;

/* One command. The caller fills the first part, keeps the struct (and
 * the iovecs, which the disk may shorten in place) until it finishes. */
struct scsi_cmd {
	const uint8_t *cdb;
	unsigned cdb_len;        /* bytes available at cdb (>= the opcode's CDB size) */
	struct iovec *out;       /* data-out: initiator -> disk */
	unsigned out_cnt;
	struct iovec *in;        /* data-in: disk -> initiator */
	unsigned in_cnt;
	const uint16_t *luns;    /* REPORT LUNS: the LUNs of this target, ascending */
	unsigned nr_luns;
	void (*done)(struct scsi_cmd *cmd); /* asynchronous completion (backend thread) */
	void *opaque;

	/* Results. */
	uint8_t status;          /* SCSI_GOOD, SCSI_CHECK_CONDITION or SCSI_TASK_SET_FULL */
	uint8_t sense[SCSI_SENSE_MAX];
	unsigned sense_len;
	uint64_t in_written;     /* data-in bytes produced (residual = in bytes - this) */
	bool overrun;            /* the command moves more data than the buffers hold */

	/* Private to the disk. */
	struct scsi_disk *disk;
	struct blk_io io;
	int step;                /* what the next backend completion continues */
	bool fua;                /* flush after the write (FUA, or WCE off) */
	bool desc_sense;
	uint64_t lba, blocks;    /* the range still to do (WRITE SAME, VERIFY) */
	uint8_t *bounce;         /* WRITE SAME pattern, VERIFY data */
	size_t bounce_bytes;     /* its size, counted against SCSI_DISK_BUFFER_BYTES_MAX */
	struct iovec bounce_iov;
};

/* Open the image (block backend) and build the disk: 0, or -errno with
 * one line in err. */
int scsi_disk_open(struct scsi_disk **out, const struct scsi_disk_options *opt, char *err, size_t errlen);
/* Waits for in-flight commands, then closes the image. */
void scsi_disk_close(struct scsi_disk *d);

/* Run one command. true = finished now (cmd->done is NOT called); false =
 * it went to the block backend and cmd->done(cmd) follows on a backend
 * thread. */
bool scsi_disk_command(struct scsi_disk *d, struct scsi_cmd *cmd);
/* A LUN with no disk behind it (SPC-4 "incorrect logical unit"): INQUIRY
 * answers peripheral qualifier 011b, REPORT LUNS and REQUEST SENSE work,
 * anything else is LOGICAL UNIT NOT SUPPORTED. Always finishes now. */
void scsi_no_lun_command(struct scsi_cmd *cmd);
/* Logical unit reset: mode pages back to their defaults. */
void scsi_disk_reset(struct scsi_disk *d);

uint64_t scsi_disk_blocks(const struct scsi_disk *d);
unsigned scsi_disk_block_size(const struct scsi_disk *d);

/* Decoding results (tests, logs): the sense key and ASC << 8 | ASCQ of
 * fixed or descriptor sense data; false if there is none. */
bool scsi_sense_decode(const uint8_t *sense, unsigned len, uint8_t *key, uint16_t *asc);
/* The CDB size the opcode's group defines (6, 10, 12, 16), 0 if none. */
unsigned scsi_cdb_size(uint8_t opcode);

#endif
