/* What scsi-disk.c (answers, life cycle), scsi-commands.c (dispatch,
 * media commands) and scsi-pages.c (INQUIRY, capacity, mode pages)
 * share; nothing else includes it. */
#ifndef SKIFF_SCSI_DISK_INTERNAL_H
#define SKIFF_SCSI_DISK_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/scsi-disk.h"

#define VENDOR   "SKIFF   "         /* 8 bytes, T10 vendor identification */
#define PRODUCT  "VIRTUAL DISK    " /* 16 bytes */
#define REVISION "1.0 "             /* 4 bytes */

/* Limits reported in the block limits page (B0h), in blocks. */
#define MAX_TRANSFER_BLOCKS  (1u << 16)
#define MAX_UNMAP_BLOCKS     (1u << 21)
#define MAX_WRITE_SAME_BLOCKS (1u << 21)
#define MAX_VERIFY_BYTES     (1u << 20) /* BYTCHK=1 compares through a bounce buffer of this size */
#define PATTERN_BYTES        (64u << 10) /* WRITE SAME with data: written this much at a time */
#define PARAM_MAX            512         /* MODE SELECT / UNMAP parameter lists */

/* What a backend completion continues with (cmd->step). */
enum step { STEP_IO, STEP_FLUSH_AFTER, STEP_WRITE_SAME, STEP_VERIFY, STEP_DISCARD };

struct scsi_disk {
	struct blk_backend *backend;
	uint64_t blocks;
	unsigned block_size, phys_exp;
	bool readonly, discard;
	char serial[SCSI_SERIAL_MAX + 1];
	uint64_t naa;                  /* VPD 83h identifier */
	pthread_mutex_t lock;          /* guards wce, d_sense and buffer_bytes */
	bool wce;                      /* caching page: write cache enabled */
	bool d_sense;                  /* control page: descriptor-format sense */
	size_t buffer_bytes;           /* commands' bounce buffers, <= SCSI_DISK_BUFFER_BYTES_MAX */
};

/* ---- big-endian fields ---- */

static inline uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static inline uint32_t get24(const uint8_t *p) { return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2]; }
static inline uint32_t get32(const uint8_t *p) { return (uint32_t)get16(p) << 16 | get16(p + 2); }
static inline uint64_t get64(const uint8_t *p) { return (uint64_t)get32(p) << 32 | get32(p + 4); }
static inline void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static inline void put32(uint8_t *p, uint32_t v) { put16(p, (uint16_t)(v >> 16)); put16(p + 2, (uint16_t)v); }
static inline void put64(uint8_t *p, uint64_t v) { put32(p, (uint32_t)(v >> 32)); put32(p + 4, (uint32_t)v); }

/* ---- answers (scsi-disk.c) ---- */

/* Status CHECK CONDITION with this sense, fixed or descriptor format. */
void scsi_set_sense(struct scsi_cmd *c, uint8_t key, uint16_t asc, bool desc);
/* CHECK CONDITION with this sense key and ASC/ASCQ; returns true (done). */
bool scsi_check(struct scsi_cmd *c, uint8_t key, uint16_t asc);
bool scsi_good(struct scsi_cmd *c);
/* Copy up to len bytes of emulated data into the data-in buffers. */
bool scsi_reply(struct scsi_cmd *c, const void *data, size_t len, size_t alloc_len);
/* Copy the data-out buffers into buf (len bytes); false if they are shorter. */
bool scsi_gather(const struct scsi_cmd *c, void *buf, size_t len);

/* ---- scsi-pages.c ---- */

bool scsi_inquiry_standard(struct scsi_cmd *c, uint8_t qualifier_type, size_t alloc);
bool scsi_inquiry(struct scsi_disk *d, struct scsi_cmd *c);
bool scsi_read_capacity10(struct scsi_disk *d, struct scsi_cmd *c);
bool scsi_service_action_in(struct scsi_disk *d, struct scsi_cmd *c);
bool scsi_mode_sense(struct scsi_disk *d, struct scsi_cmd *c);
bool scsi_mode_select(struct scsi_disk *d, struct scsi_cmd *c);

#endif
