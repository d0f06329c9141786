/* Unit tests of the emulated SCSI disk (devices/scsi-*.c) without any
 * transport: a table of CDBs, each with the status, sense key, ASC/ASCQ
 * and data it must produce, run in order against real image files
 * through the block backend (rows may depend on earlier writes and mode
 * changes). Malformed CDBs are rows too. */
#include <check.h>
#include "tests/unit/check-run.h"
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "devices/scsi-disk.h"
#include "tests/unit/alloc-watch.h"

#define BLOCKS   2048u
#define BS       512u
#define SERIAL   "SKIFF-SER-01"
#define IN_MAX   (256u * BS)

enum disk_kind { RW, RO, NOLUN };

struct row {
	const char *name;
	enum disk_kind disk;
	uint8_t cdb[16];
	unsigned cdb_len;          /* 0 = the opcode's size (use -1u for an empty CDB) */
	const uint8_t *out;        /* data-out, or NULL to fill out_len bytes with out_fill */
	unsigned out_len;
	uint8_t out_fill;
	unsigned in_len;           /* data-in buffer size */
	uint8_t status, key;
	uint16_t asc;
	bool desc;                 /* sense expected in descriptor format */
	int in_written;            /* -1 = not checked */
	bool overrun;
	unsigned expect_off;       /* data-in bytes expected at expect_off */
	const uint8_t *expect;
	unsigned expect_len;
	int fill;                  /* byte + 1: the whole data-in (in_written bytes) is that byte; 0 = unchecked */
};

#define CDB(...) .cdb = {__VA_ARGS__}
#define EXPECT(off, ...) .expect_off = (off), .expect = (const uint8_t[]){__VA_ARGS__}, \
	.expect_len = sizeof((const uint8_t[]){__VA_ARGS__})
#define FILL(b) .fill = (b) + 1
#define PARAM(...) .out = (const uint8_t[]){__VA_ARGS__}, .out_len = sizeof((const uint8_t[]){__VA_ARGS__})
#define CHECK_COND(k, a) .status = SCSI_CHECK_CONDITION, .key = (k), .asc = (a), .in_written = -1
#define GOOD_IN(n) .status = SCSI_GOOD, .in_written = (n)
#define ILLEGAL(a) CHECK_COND(SENSE_ILLEGAL_REQUEST, a)

/* Block b of the image holds (b + 1) & 0xff in every byte. The image is a
 * file on a file system with 4 KiB blocks: 8 logical blocks per physical. */
static const struct row rows[] = {
	{"test unit ready", RW, CDB(0x00), GOOD_IN(0)},
	{"inquiry standard", RW, CDB(0x12, 0, 0, 0, 96), .in_len = 96, GOOD_IN(36),
	 EXPECT(0, 0x00, 0x00, 0x06, 0x12, 31, 0, 0, 0x02, 'S', 'K', 'I', 'F', 'F', ' ', ' ', ' ')},
	{"inquiry cut by allocation length", RW, CDB(0x12, 0, 0, 0, 5), .in_len = 96, GOOD_IN(5)},
	{"inquiry cut by the buffer", RW, CDB(0x12, 0, 0, 0, 96), .in_len = 8, GOOD_IN(8)},
	{"vpd supported pages", RW, CDB(0x12, 1, 0x00, 0, 255), .in_len = 255, GOOD_IN(10),
	 EXPECT(0, 0, 0x00, 0, 6, 0x00, 0x80, 0x83, 0xb0, 0xb1, 0xb2)},
	{"vpd unit serial number", RW, CDB(0x12, 1, 0x80, 0, 255), .in_len = 255, GOOD_IN(16),
	 EXPECT(0, 0, 0x80, 0, 12, 'S', 'K', 'I', 'F', 'F', '-', 'S', 'E', 'R', '-', '0', '1')},
	{"vpd device identification: NAA first", RW, CDB(0x12, 1, 0x83, 0, 255), .in_len = 255, GOOD_IN(-1),
	 EXPECT(0, 0, 0x83, 0, 36, 0x01, 0x03, 0, 8)},
	{"vpd device identification: T10 vendor id", RW, CDB(0x12, 1, 0x83, 0, 255), .in_len = 255, GOOD_IN(40),
	 EXPECT(16, 0x02, 0x01, 0, 20, 'S', 'K', 'I', 'F', 'F', ' ', ' ', ' ', 'S', 'K', 'I')},
	{"vpd block limits", RW, CDB(0x12, 1, 0xb0, 0, 255), .in_len = 255, GOOD_IN(64),
	 EXPECT(0, 0, 0xb0, 0, 0x3c, 0, 0, 0, 8, 0, 1, 0, 0)},
	{"vpd block limits: unmap", RW, CDB(0x12, 1, 0xb0, 0, 255), .in_len = 255, GOOD_IN(64),
	 EXPECT(20, 0, 0x20, 0, 0, 0, 0, 0, 1)},
	{"vpd block device characteristics", RW, CDB(0x12, 1, 0xb1, 0, 255), .in_len = 255, GOOD_IN(64),
	 EXPECT(0, 0, 0xb1, 0, 0x3c, 0, 1)},
	{"vpd logical block provisioning", RW, CDB(0x12, 1, 0xb2, 0, 255), .in_len = 255, GOOD_IN(8),
	 EXPECT(0, 0, 0xb2, 0, 4, 0, 0xc0, 0x02)},
	{"vpd unknown page", RW, CDB(0x12, 1, 0x81, 0, 255), .in_len = 255, ILLEGAL(ASC_INVALID_FIELD_IN_CDB)},
	{"inquiry page code without EVPD", RW, CDB(0x12, 0, 0x80, 0, 255), .in_len = 255,
	 ILLEGAL(ASC_INVALID_FIELD_IN_CDB)},
	{"read capacity(10)", RW, CDB(0x25), .in_len = 8, GOOD_IN(8), EXPECT(0, 0, 0, 0x07, 0xff, 0, 0, 0x02, 0)},
	{"read capacity(16)", RW, CDB(0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32), .in_len = 32, GOOD_IN(32),
	 EXPECT(0, 0, 0, 0, 0, 0, 0, 0x07, 0xff, 0, 0, 0x02, 0, 0, 3, 0x80)},
	{"get lba status", RW, CDB(0x9e, 0x12, 0, 0, 0, 0, 0, 0, 0, 10, 0, 0, 0, 24), .in_len = 24, GOOD_IN(24),
	 EXPECT(0, 0, 0, 0, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 10, 0, 0, 0x07, 0xf6, 0)},
	{"get lba status past the end", RW, CDB(0x9e, 0x12, 0, 0, 0, 0, 0, 0, 0x08, 0, 0, 0, 0, 24), .in_len = 24,
	 ILLEGAL(ASC_LBA_OUT_OF_RANGE)},
	{"service action in: unknown action", RW, CDB(0x9e, 0x1f, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 24), .in_len = 24,
	 ILLEGAL(ASC_INVALID_FIELD_IN_CDB)},
	{"read(10)", RW, CDB(0x28, 0, 0, 0, 0, 3, 0, 0, 1, 0), .in_len = BS, GOOD_IN(BS), FILL(4)},
	{"read(6)", RW, CDB(0x08, 0, 0, 5, 1, 0), .in_len = BS, GOOD_IN(BS), FILL(6)},
	{"read(12)", RW, CDB(0xa8, 0, 0, 0, 0, 7, 0, 0, 0, 2, 0, 0), .in_len = 2 * BS, GOOD_IN(2 * BS), EXPECT(BS, 9)},
	{"read(16) last block", RW, CDB(0x88, 0, 0, 0, 0, 0, 0, 0, 0x07, 0xff, 0, 0, 0, 1, 0, 0), .in_len = BS,
	 GOOD_IN(BS), FILL(0)},
	{"read(10) past the end", RW, CDB(0x28, 0, 0, 0, 0x08, 0, 0, 0, 1, 0), .in_len = BS,
	 ILLEGAL(ASC_LBA_OUT_OF_RANGE)},
	{"read(16) across the end", RW, CDB(0x88, 0, 0, 0, 0, 0, 0, 0, 0x07, 0xff, 0, 0, 0, 2, 0, 0), .in_len = 2 * BS,
	 ILLEGAL(ASC_LBA_OUT_OF_RANGE)},
	{"read(16) lba overflow", RW, CDB(0x88, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 2, 0, 0),
	 .in_len = 2 * BS, ILLEGAL(ASC_LBA_OUT_OF_RANGE)},
	{"read(10) into a short buffer", RW, CDB(0x28, 0, 0, 0, 0, 0, 0, 0, 2, 0), .in_len = BS,
	 ILLEGAL(ASC_INVALID_FIELD_IN_CDB), .overrun = true},
	{"read(10) of no blocks", RW, CDB(0x28, 0, 0, 0, 0, 0, 0, 0, 0, 0), .in_len = BS, GOOD_IN(0)},
	{"write(10)", RW, CDB(0x2a, 0, 0, 0, 0, 100, 0, 0, 1, 0), .out_len = BS, .out_fill = 0xab, GOOD_IN(0)},
	{"read back write(10)", RW, CDB(0x28, 0, 0, 0, 0, 100, 0, 0, 1, 0), .in_len = BS, GOOD_IN(BS),
	 FILL(0xab)},
	{"write(6)", RW, CDB(0x0a, 0, 0, 101, 1, 0), .out_len = BS, .out_fill = 0xac, GOOD_IN(0)},
	{"write(12)", RW, CDB(0xaa, 0, 0, 0, 0, 102, 0, 0, 0, 1, 0, 0), .out_len = BS, .out_fill = 0xad, GOOD_IN(0)},
	{"write(16) with FUA", RW, CDB(0x8a, 0x08, 0, 0, 0, 0, 0, 0, 0, 103, 0, 0, 0, 1, 0, 0), .out_len = BS,
	 .out_fill = 0xae, GOOD_IN(0)},
	{"read back writes 6/12/16", RW, CDB(0x88, 0, 0, 0, 0, 0, 0, 0, 0, 101, 0, 0, 0, 3, 0, 0), .in_len = 3 * BS,
	 GOOD_IN(3 * BS), EXPECT(0, 0xac)},
	{"write(10) past the end", RW, CDB(0x2a, 0, 0, 0, 0x08, 0, 0, 0, 1, 0), .out_len = BS, .out_fill = 1,
	 ILLEGAL(ASC_LBA_OUT_OF_RANGE)},
	{"write(10) from a short buffer", RW, CDB(0x2a, 0, 0, 0, 0, 0, 0, 0, 4, 0), .out_len = BS, .out_fill = 1,
	 ILLEGAL(ASC_INVALID_FIELD_IN_CDB), .overrun = true},
	{"verify(10) bytchk 0", RW, CDB(0x2f, 0, 0, 0, 0, 0, 0, 0, 16, 0), GOOD_IN(0)},
	{"verify(10) bytchk 1 matching", RW, CDB(0x2f, 0x02, 0, 0, 0, 100, 0, 0, 1, 0), .out_len = BS,
	 .out_fill = 0xab, GOOD_IN(0)},
	{"verify(16) bytchk 1 miscompare", RW, CDB(0x8f, 0x02, 0, 0, 0, 0, 0, 0, 0, 100, 0, 0, 0, 1, 0, 0),
	 .out_len = BS, .out_fill = 0x00, CHECK_COND(SENSE_MISCOMPARE, ASC_MISCOMPARE_VERIFY)},
	{"verify(10) past the end", RW, CDB(0x2f, 0, 0, 0, 0x07, 0xff, 0, 0, 2, 0), ILLEGAL(ASC_LBA_OUT_OF_RANGE)},
	{"verify(10) bytchk 2", RW, CDB(0x2f, 0x04, 0, 0, 0, 0, 0, 0, 1, 0), ILLEGAL(ASC_INVALID_FIELD_IN_CDB)},
	{"synchronize cache(10)", RW, CDB(0x35), GOOD_IN(0)},
	{"synchronize cache(16)", RW, CDB(0x91), GOOD_IN(0)},
	{"synchronize cache(10) past the end", RW, CDB(0x35, 0, 0, 0, 0x09, 0, 0, 0, 1, 0),
	 ILLEGAL(ASC_LBA_OUT_OF_RANGE)},
	{"mode sense(6) caching", RW, CDB(0x1a, 0, 0x08, 0, 255, 0), .in_len = 255, GOOD_IN(32),
	 EXPECT(0, 31, 0, 0x10, 8, 0, 0, 0x08, 0, 0, 0, 0x02, 0, 0x08, 0x12, 0x04)},
	{"mode sense(10) all pages, no block descriptor", RW, CDB(0x5a, 0x08, 0x3f, 0, 0, 0, 0, 1, 0, 0), .in_len = 255,
	 GOOD_IN(52), EXPECT(0, 0, 50, 0, 0x10, 0, 0, 0, 0, 0x01, 0x0a, 0xc0)},
	{"mode sense(6) changeable caching", RW, CDB(0x1a, 0x08, 0x48, 0, 255, 0), .in_len = 255, GOOD_IN(24),
	 EXPECT(4, 0x08, 0x12, 0x04)},
	{"mode sense(6) saved values", RW, CDB(0x1a, 0, 0xc8, 0, 255, 0), .in_len = 255,
	 ILLEGAL(ASC_SAVING_NOT_SUPPORTED)},
	{"mode sense(6) unknown page", RW, CDB(0x1a, 0, 0x1c, 0, 255, 0), .in_len = 255,
	 ILLEGAL(ASC_INVALID_FIELD_IN_CDB)},
	{"mode select(6) WCE off", RW, CDB(0x15, 0x10, 0, 0, 24, 0),
	 PARAM(0, 0, 0, 0, 0x08, 0x12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0), GOOD_IN(0)},
	{"mode sense(6) shows WCE off", RW, CDB(0x1a, 0x08, 0x08, 0, 255, 0), .in_len = 255, GOOD_IN(24),
	 EXPECT(4, 0x08, 0x12, 0x00)},
	{"write(10) write-through", RW, CDB(0x2a, 0, 0, 0, 0, 110, 0, 0, 1, 0), .out_len = BS, .out_fill = 0x11,
	 GOOD_IN(0)},
	{"mode select(6) a fixed field changed", RW, CDB(0x15, 0x10, 0, 0, 24, 0),
	 PARAM(0, 0, 0, 0, 0x08, 0x12, 0x05, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0),
	 ILLEGAL(ASC_INVALID_FIELD_IN_PARAMS)},
	{"mode select(6) save pages", RW, CDB(0x15, 0x11, 0, 0, 24, 0), .out_len = 24,
	 ILLEGAL(ASC_INVALID_FIELD_IN_CDB)},
	{"mode select(6) list longer than the buffer", RW, CDB(0x15, 0x10, 0, 0, 40, 0), .out_len = 8,
	 ILLEGAL(ASC_PARAM_LIST_LENGTH), .overrun = true},
	{"mode select(6) wrong block length", RW, CDB(0x15, 0x10, 0, 0, 12, 0),
	 PARAM(0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0x10, 0), ILLEGAL(ASC_INVALID_FIELD_IN_PARAMS)},
	{"mode select(10) D_SENSE on, WCE back on", RW, CDB(0x55, 0x10, 0, 0, 0, 0, 0, 0, 40, 0),
	 PARAM(0, 0, 0, 0, 0, 0, 0, 0, 0x0a, 0x0a, 0x04, 0x10, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 0x08, 0x12, 0x04, 0, 0,
	       0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0),
	 GOOD_IN(0)},
	{"unknown opcode: descriptor sense", RW, CDB(0x01), ILLEGAL(ASC_INVALID_OPCODE), .desc = true},
	{"read past the end: descriptor sense", RW, CDB(0x28, 0, 0, 0, 0x08, 0, 0, 0, 1, 0), .in_len = BS,
	 ILLEGAL(ASC_LBA_OUT_OF_RANGE), .desc = true},
	{"mode select(6) D_SENSE off", RW, CDB(0x15, 0x10, 0, 0, 16, 0),
	 PARAM(0, 0, 0, 0, 0x0a, 0x0a, 0, 0x10, 0, 0, 0, 0, 0xff, 0xff, 0, 0), GOOD_IN(0)},
	{"request sense fixed", RW, CDB(0x03, 0, 0, 0, 252, 0), .in_len = 252, GOOD_IN(18),
	 EXPECT(0, 0x70, 0, 0)},
	{"request sense descriptor", RW, CDB(0x03, 1, 0, 0, 252, 0), .in_len = 252, GOOD_IN(8),
	 EXPECT(0, 0x72, 0, 0, 0)},
	{"report luns", RW, CDB(0xa0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0), .in_len = 256, GOOD_IN(24),
	 EXPECT(0, 0, 0, 0, 16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0)},
	{"report luns with allocation length 8", RW, CDB(0xa0, 0, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0), .in_len = 256,
	 ILLEGAL(ASC_INVALID_FIELD_IN_CDB)},
	{"report luns select report 3", RW, CDB(0xa0, 0, 3, 0, 0, 0, 0, 0, 1, 0, 0, 0), .in_len = 256,
	 ILLEGAL(ASC_INVALID_FIELD_IN_CDB)},
	{"start stop unit", RW, CDB(0x1b, 0, 0, 0, 1, 0), GOOD_IN(0)},
	{"start stop unit eject", RW, CDB(0x1b, 0, 0, 0, 2, 0), ILLEGAL(ASC_INVALID_FIELD_IN_CDB)},
	{"write same(16) unmap zeroes", RW, CDB(0x93, 0x08, 0, 0, 0, 0, 0, 0, 0, 200, 0, 0, 0, 4, 0, 0), .out_len = BS,
	 .out_fill = 0, GOOD_IN(0)},
	{"read back write same zeroes", RW, CDB(0x28, 0, 0, 0, 0, 203, 0, 0, 1, 0), .in_len = BS, GOOD_IN(BS),
	 FILL(0)},
	{"write same(16) pattern, chunked", RW, CDB(0x93, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x2c, 0, 0, 0, 200, 0, 0),
	 .out_len = BS, .out_fill = 0x5a, GOOD_IN(0)},
	{"read back write same pattern", RW, CDB(0x28, 0, 0, 0, 0x01, 0xf3, 0, 0, 1, 0), .in_len = BS, GOOD_IN(BS),
	 FILL(0x5a)},
	{"write same(16) past the end", RW, CDB(0x93, 0x08, 0, 0, 0, 0, 0, 0, 0x07, 0xff, 0, 0, 0, 2, 0, 0),
	 .out_len = BS, ILLEGAL(ASC_LBA_OUT_OF_RANGE)},
	{"write same(16) without data", RW, CDB(0x93, 0x08, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0),
	 ILLEGAL(ASC_INVALID_FIELD_IN_CDB), .overrun = true},
	{"unmap one range", RW, CDB(0x42, 0, 0, 0, 0, 0, 0, 0, 24, 0),
	 PARAM(0, 22, 0, 16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x90, 0, 0, 0, 8, 0, 0, 0, 0), GOOD_IN(0)},
	{"unmap past the end", RW, CDB(0x42, 0, 0, 0, 0, 0, 0, 0, 24, 0),
	 PARAM(0, 22, 0, 16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x07, 0xff, 0, 0, 0, 8, 0, 0, 0, 0),
	 ILLEGAL(ASC_LBA_OUT_OF_RANGE)},
	{"unmap two ranges", RW, CDB(0x42, 0, 0, 0, 0, 0, 0, 0, 40, 0),
	 PARAM(0, 38, 0, 32, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0,
	       0, 1, 0, 0, 0, 0),
	 ILLEGAL(ASC_INVALID_FIELD_IN_PARAMS)},
	{"unmap short header", RW, CDB(0x42, 0, 0, 0, 0, 0, 0, 0, 4, 0), PARAM(0, 2, 0, 0),
	 ILLEGAL(ASC_PARAM_LIST_LENGTH)},
	{"opcode of an unused group", RW, CDB(0xc0), ILLEGAL(ASC_INVALID_OPCODE)},
	{"unknown opcode: report supported opcodes", RW, CDB(0xa3, 0x0c, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0), .in_len = 512,
	 ILLEGAL(ASC_INVALID_OPCODE)},
	{"cdb shorter than its opcode's", RW, CDB(0x88, 0, 0, 0, 0, 0, 0, 0, 0, 0), .cdb_len = 10, .in_len = BS,
	 ILLEGAL(ASC_INVALID_FIELD_IN_CDB)},
	{"empty cdb", RW, CDB(0), .cdb_len = -1u, ILLEGAL(ASC_INVALID_OPCODE)},
	{"control byte LINK", RW, CDB(0x00, 0, 0, 0, 0, 0x01), ILLEGAL(ASC_INVALID_FIELD_IN_CDB)},
	{"control byte NACA", RW, CDB(0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0x04), .in_len = BS,
	 ILLEGAL(ASC_INVALID_FIELD_IN_CDB)},

	{"read-only: write(10)", RO, CDB(0x2a, 0, 0, 0, 0, 1, 0, 0, 1, 0), .out_len = BS, .out_fill = 1,
	 CHECK_COND(SENSE_DATA_PROTECT, ASC_WRITE_PROTECTED)},
	{"read-only: write(16)", RO, CDB(0x8a, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0), .out_len = BS,
	 .out_fill = 1, CHECK_COND(SENSE_DATA_PROTECT, ASC_WRITE_PROTECTED)},
	{"read-only: read(10)", RO, CDB(0x28, 0, 0, 0, 0, 1, 0, 0, 1, 0), .in_len = BS, GOOD_IN(BS), FILL(2)},
	{"read-only: mode sense WP", RO, CDB(0x1a, 0x08, 0x08, 0, 255, 0), .in_len = 255, GOOD_IN(24),
	 EXPECT(0, 23, 0, 0x90, 0)},
	{"read-only: no serial page", RO, CDB(0x12, 1, 0x00, 0, 255), .in_len = 255, GOOD_IN(9),
	 EXPECT(0, 0, 0x00, 0, 5, 0x00, 0x83)},
	{"read-only without discard: unmap", RO, CDB(0x42, 0, 0, 0, 0, 0, 0, 0, 24, 0), .out_len = 24,
	 ILLEGAL(ASC_INVALID_OPCODE)},
	{"read-only without discard: write same", RO, CDB(0x93, 0x08, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0),
	 .out_len = BS, ILLEGAL(ASC_INVALID_OPCODE)},
	{"read-only: no provisioning in read capacity(16)", RO,
	 CDB(0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32), .in_len = 32, GOOD_IN(32), EXPECT(14, 0)},

	{"missing lun: inquiry qualifier 011b", NOLUN, CDB(0x12, 0, 0, 0, 36), .in_len = 36, GOOD_IN(36),
	 EXPECT(0, 0x7f)},
	{"missing lun: test unit ready", NOLUN, CDB(0x00), ILLEGAL(ASC_LUN_NOT_SUPPORTED)},
	{"missing lun: read(10)", NOLUN, CDB(0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0), .in_len = BS,
	 ILLEGAL(ASC_LUN_NOT_SUPPORTED)},
	{"missing lun: vpd page", NOLUN, CDB(0x12, 1, 0x80, 0, 255), .in_len = 255, ILLEGAL(ASC_LUN_NOT_SUPPORTED)},
	{"missing lun: report luns", NOLUN, CDB(0xa0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0), .in_len = 256, GOOD_IN(24),
	 EXPECT(3, 16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)},
	{"missing lun: request sense", NOLUN, CDB(0x03, 0, 0, 0, 18, 0), .in_len = 18, GOOD_IN(18),
	 EXPECT(0, 0x70, 0, SENSE_ILLEGAL_REQUEST, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x25, 0)},
};

static char dir[64], image[96];
static struct scsi_disk *rw_disk, *ro_disk;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static bool finished;

static void done(struct scsi_cmd *cmd)
{
	pthread_mutex_lock(&lock);
	finished = true;
	pthread_cond_broadcast(&cond);
	pthread_mutex_unlock(&lock);
}

static void make_image(void)
{
	strcpy(dir, "/var/tmp/skiff-scsi-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(image, sizeof(image), "%s/disk.img", dir);
	int fd = open(image, O_RDWR | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	uint8_t *pattern = malloc(BLOCKS * BS);
	for (unsigned i = 0; i < BLOCKS * BS; i++)
		pattern[i] = (uint8_t)(i / BS + 1);
	ck_assert_int_eq(pwrite(fd, pattern, BLOCKS * BS, 0), BLOCKS * BS);
	free(pattern);
	close(fd);
}

static struct scsi_disk *open_disk_snapshot(bool readonly, enum blk_engine engine, bool snapshot)
{
	struct scsi_disk_options o = {.path = image, .serial = readonly ? NULL : SERIAL, .readonly = readonly,
				      .discard = !readonly, .engine = engine, .snapshot = snapshot};
	struct scsi_disk *d;
	char err[256] = "";

	ck_assert_msg(scsi_disk_open(&d, &o, err, sizeof(err)) == 0, "%s", err);
	return d;
}

static struct scsi_disk *open_disk(bool readonly, enum blk_engine engine)
{
	return open_disk_snapshot(readonly, engine, false);
}

/* Run one command to its end, on whichever path it takes. */
static void run(struct scsi_disk *d, struct scsi_cmd *c)
{
	finished = false;
	c->done = done;
	if (d ? scsi_disk_command(d, c) : (scsi_no_lun_command(c), true))
		return;
	pthread_mutex_lock(&lock);
	while (!finished)
		pthread_cond_wait(&cond, &lock);
	pthread_mutex_unlock(&lock);
}

static void run_row(const struct row *r)
{
	static uint8_t in[IN_MAX], out[IN_MAX];
	static const uint16_t luns[] = {0, 3};
	struct iovec in_iov = {in, r->in_len}, out_iov = {out, r->out_len};
	struct scsi_cmd c = {.cdb = r->cdb, .cdb_len = r->cdb_len == -1u ? 0 : r->cdb_len ? r->cdb_len : scsi_cdb_size(r->cdb[0]),
			     .in = &in_iov, .in_cnt = r->in_len ? 1 : 0, .out = &out_iov, .out_cnt = r->out_len ? 1 : 0,
			     .luns = luns, .nr_luns = 2};
	if (!c.cdb_len && r->cdb_len != -1u)
		c.cdb_len = 16;
	memset(in, 0xee, sizeof(in));
	if (r->out)
		memcpy(out, r->out, r->out_len);
	else
		memset(out, r->out_fill, r->out_len);

	run(r->disk == RW ? rw_disk : r->disk == RO ? ro_disk : NULL, &c);

	ck_assert_msg(c.status == r->status, "%s: status %#x, want %#x", r->name, c.status, r->status);
	if (r->status == SCSI_CHECK_CONDITION) {
		uint8_t key;
		uint16_t asc;
		ck_assert_msg(scsi_sense_decode(c.sense, c.sense_len, &key, &asc), "%s: no sense", r->name);
		ck_assert_msg(key == r->key && asc == r->asc, "%s: sense %x/%04x, want %x/%04x", r->name, key, asc,
			      r->key, r->asc);
		ck_assert_msg((c.sense[0] == 0x72) == r->desc, "%s: sense format %#x", r->name, c.sense[0]);
	} else {
		ck_assert_msg(c.sense_len == 0, "%s: sense with GOOD", r->name);
	}
	ck_assert_msg(c.overrun == r->overrun, "%s: overrun %d", r->name, c.overrun);
	if (r->in_written >= 0)
		ck_assert_msg(c.in_written == (uint64_t)r->in_written, "%s: %llu data-in bytes, want %d", r->name,
			      (unsigned long long)c.in_written, r->in_written);
	if (r->expect)
		ck_assert_msg(memcmp(in + r->expect_off, r->expect, r->expect_len) == 0, "%s: data differs", r->name);
	if (r->fill) {
		ck_assert_msg(c.in_written > 0, "%s: no data", r->name);
		for (uint64_t i = 0; i < c.in_written; i++)
			ck_assert_msg(in[i] == r->fill - 1, "%s: byte %llu is %#x, want %#x", r->name,
				      (unsigned long long)i, in[i], r->fill - 1);
	}
	ck_assert_msg(c.in_written <= r->in_len, "%s: wrote past the buffer", r->name);
	if (r->in_len < sizeof(in))
		ck_assert_msg(in[r->in_len] == 0xee, "%s: wrote past the buffer", r->name);
}

static void run_table(enum blk_engine engine)
{
	make_image();
	rw_disk = open_disk(false, engine);
	ck_assert_uint_eq(scsi_disk_blocks(rw_disk), BLOCKS);
	ck_assert_uint_eq(scsi_disk_block_size(rw_disk), BS);
	for (unsigned i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		if (rows[i].disk == RO && !ro_disk) {
			scsi_disk_close(rw_disk);
			rw_disk = NULL;
			ro_disk = open_disk(true, engine);
		}
		run_row(&rows[i]);
	}
	scsi_disk_close(ro_disk);
	ro_disk = NULL;
	unlink(image);
	rmdir(dir);
}

START_TEST(cdb_table_io_uring)
{
	ck_assert_uint_ge(sizeof(rows) / sizeof(rows[0]), 40);
	run_table(BLK_ENGINE_AUTO);
}
END_TEST

START_TEST(cdb_table_threads)
{
	run_table(BLK_ENGINE_THREADS);
}
END_TEST

/* The disk's data really changed on the image, and WCE=0 (write-through)
 * and FUA writes went through the flush path without error. */
START_TEST(writes_reach_the_image)
{
	uint8_t buf[BS];

	make_image();
	rw_disk = open_disk(false, BLK_ENGINE_AUTO);
	for (unsigned i = 0; i < sizeof(rows) / sizeof(rows[0]) && rows[i].disk == RW; i++)
		run_row(&rows[i]);
	scsi_disk_close(rw_disk);
	int fd = open(image, O_RDONLY);
	ck_assert_int_eq(pread(fd, buf, BS, 100 * BS), BS);
	ck_assert_uint_eq(buf[0], 0xab);
	ck_assert_int_eq(pread(fd, buf, BS, 110 * BS), BS);
	ck_assert_uint_eq(buf[511], 0x11);
	ck_assert_int_eq(pread(fd, buf, BS, 499 * BS), BS);
	ck_assert_uint_eq(buf[7], 0x5a);
	ck_assert_int_eq(pread(fd, buf, BS, 500 * BS), BS);
	ck_assert_uint_eq(buf[7], (500 + 1) & 0xff); /* WRITE SAME stopped at its last block */
	close(fd);
	unlink(image);
	rmdir(dir);
}
END_TEST

/* snapshot=on: the same writes, WRITE SAME and UNMAP, read back as the
 * table expects, and the image keeps its pattern byte for byte. */
START_TEST(snapshot_leaves_the_image_alone)
{
	uint8_t buf[BS];

	make_image();
	setenv("TMPDIR", dir, 1);
	rw_disk = open_disk_snapshot(false, BLK_ENGINE_AUTO, true);
	for (unsigned i = 0; i < sizeof(rows) / sizeof(rows[0]) && rows[i].disk == RW; i++)
		run_row(&rows[i]);
	scsi_disk_close(rw_disk);
	int fd = open(image, O_RDONLY);
	for (unsigned b = 0; b < BLOCKS; b++) {
		ck_assert_int_eq(pread(fd, buf, BS, (off_t)b * BS), BS);
		for (unsigned j = 0; j < BS; j++)
			if (buf[j] != (uint8_t)(b + 1))
				ck_abort_msg("block %u byte %u changed", b, j);
	}
	close(fd);
	unsetenv("TMPDIR");
	unlink(image);
	ck_assert_int_eq(rmdir(dir), 0); /* the overlay left no file */
}
END_TEST

/* Sense decoding rejects what is not sense data. */
START_TEST(sense_decode)
{
	uint8_t junk[18] = {0x00}, key;
	uint16_t asc;

	ck_assert(!scsi_sense_decode(junk, sizeof(junk), &key, &asc));
	ck_assert(!scsi_sense_decode(junk, 0, &key, &asc));
	junk[0] = 0x70;
	ck_assert(!scsi_sense_decode(junk, 13, &key, &asc));
}
END_TEST

/* ---- memory a hostile initiator can make the host spend ---- */

/* The worker threads' reads, held while the gate is shut (the binary is
 * linked with --wrap=preadv): commands stay in flight as long as the
 * test needs. */
ssize_t __real_preadv(int fd, const struct iovec *iov, int cnt, off_t off);
static bool gate_shut;

ssize_t __wrap_preadv(int fd, const struct iovec *iov, int cnt, off_t off)
{
	pthread_mutex_lock(&lock);
	while (gate_shut)
		pthread_cond_wait(&cond, &lock);
	pthread_mutex_unlock(&lock);
	return __real_preadv(fd, iov, cnt, off);
}

static unsigned nr_done;

static void count_done(struct scsi_cmd *cmd)
{
	pthread_mutex_lock(&lock);
	nr_done++;
	pthread_cond_broadcast(&cond);
	pthread_mutex_unlock(&lock);
}

static struct scsi_disk *open_image(enum blk_cache cache, enum blk_engine engine)
{
	struct scsi_disk_options o = {.path = image, .cache = cache, .engine = engine};
	struct scsi_disk *d;
	char err[256] = "";

	ck_assert_msg(scsi_disk_open(&d, &o, err, sizeof(err)) == 0, "%s", err);
	return d;
}

#define MAX_TRANSFER (1u << 16) /* blocks: the block limits page's maximum transfer length */

/* READ(16) of the largest transfer into unaligned memory under
 * cache=none: it works, and the host's bounce memory stays within the
 * block backend's bound (it used to be the whole 32 MiB). One block more
 * is refused before anything is allocated. */
START_TEST(largest_transfer_bounded)
{
	make_image();
	ck_assert_int_eq(truncate(image, (off_t)(MAX_TRANSFER + 8) * BS), 0);
	struct scsi_disk *d = open_image(BLK_CACHE_NONE, BLK_ENGINE_AUTO);
	uint8_t *raw = malloc((size_t)MAX_TRANSFER * BS + BS + 1);
	uint8_t cdb[16] = {0x88};
	struct iovec in = {raw + 1, (size_t)MAX_TRANSFER * BS + BS};
	struct scsi_cmd c = {.cdb = cdb, .cdb_len = 16, .in = &in, .in_cnt = 1};

	ck_assert_ptr_nonnull(raw);
	alloc_watch_start();
	cdb[10] = MAX_TRANSFER >> 24;
	cdb[11] = (MAX_TRANSFER >> 16) & 0xff;
	run(d, &c);
	ck_assert_uint_eq(c.status, SCSI_GOOD);
	ck_assert_uint_eq(c.in_written, (uint64_t)MAX_TRANSFER * BS);
	ck_assert_uint_eq(raw[1], 1);              /* block 0 */
	ck_assert_uint_eq(raw[1 + 2047 * BS], 0);  /* block 2047: (2047 + 1) & 0xff */
	ck_assert_uint_le(alloc_watch_growth(), BLK_BOUNCE_MAX_BYTES);

	alloc_watch_start();
	cdb[13] = 1; /* MAX_TRANSFER + 1 blocks */
	run(d, &c);
	ck_assert_uint_eq(c.status, SCSI_CHECK_CONDITION);
	ck_assert_uint_eq(alloc_watch_growth(), 0);
	scsi_disk_close(d);
	free(raw);
	unlink(image);
	rmdir(dir);
}
END_TEST

#define VERIFY_BLOCKS (1024u * 1024 / BS) /* the largest VERIFY BYTCHK=1: 1 MiB */
#define VERIFY_FIT    (SCSI_DISK_BUFFER_BYTES_MAX / (VERIFY_BLOCKS * BS))

/* VERIFY BYTCHK=1 commands held in flight: as many as the disk's buffer
 * cap holds are accepted, the next gets TASK SET FULL without a byte
 * more allocated, and once they finish the next is accepted again.
 * Before the cap every one allocated 1 MiB, without end. */
START_TEST(verify_buffers_capped)
{
	static struct scsi_cmd c[VERIFY_FIT + 2];
	static uint8_t cdb[16] = {0x8f, 0x02};
	static struct iovec out;
	uint8_t *data = malloc(VERIFY_BLOCKS * BS);

	make_image();
	struct scsi_disk *d = open_image(BLK_CACHE_WRITEBACK, BLK_ENGINE_THREADS);
	cdb[12] = (VERIFY_BLOCKS >> 8) & 0xff;
	cdb[13] = VERIFY_BLOCKS & 0xff;
	out = (struct iovec){data, VERIFY_BLOCKS * BS};
	nr_done = 0;
	gate_shut = true;
	for (unsigned i = 0; i < VERIFY_FIT + 2; i++)
		c[i] = (struct scsi_cmd){.cdb = cdb, .cdb_len = 16, .out = &out, .out_cnt = 1, .done = count_done};

	alloc_watch_start();
	for (unsigned i = 0; i < VERIFY_FIT; i++)
		ck_assert_msg(!scsi_disk_command(d, &c[i]), "VERIFY %u did not go to the backend", i);
	size_t held = alloc_watch_growth();
	ck_assert_uint_ge(held, SCSI_DISK_BUFFER_BYTES_MAX);
	ck_assert(scsi_disk_command(d, &c[VERIFY_FIT])); /* finished at once ... */
	ck_assert_uint_eq(c[VERIFY_FIT].status, SCSI_TASK_SET_FULL); /* ... refused ... */
	ck_assert_uint_eq(alloc_watch_growth(), held); /* ... and nothing allocated */

	pthread_mutex_lock(&lock);
	gate_shut = false;
	pthread_cond_broadcast(&cond);
	while (nr_done < VERIFY_FIT)
		pthread_cond_wait(&cond, &lock);
	pthread_mutex_unlock(&lock);
	for (unsigned i = 0; i < VERIFY_FIT; i++)
		ck_assert_uint_eq(c[i].status, SCSI_CHECK_CONDITION); /* miscompare: the data differ */
	ck_assert(!scsi_disk_command(d, &c[VERIFY_FIT + 1])); /* room again */
	pthread_mutex_lock(&lock);
	while (nr_done < VERIFY_FIT + 1)
		pthread_cond_wait(&cond, &lock);
	pthread_mutex_unlock(&lock);
	scsi_disk_close(d);
	free(data);
	unlink(image);
	rmdir(dir);
}
END_TEST

static Suite *scsi_disk_suite(void)
{
	Suite *s = suite_create("scsi-disk");
	TCase *tc = tcase_create("cdb table");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, cdb_table_io_uring);
	tcase_add_test(tc, cdb_table_threads);
	tcase_add_test(tc, writes_reach_the_image);
	tcase_add_test(tc, snapshot_leaves_the_image_alone);
	tcase_add_test(tc, sense_decode);
	tcase_add_test(tc, largest_transfer_bounded);
	tcase_add_test(tc, verify_buffers_capped);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return check_run_suite(scsi_disk_suite());
}
