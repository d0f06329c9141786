/* A copy-on-write overlay over a read-only base image (snapshot=on).
 *
 * Writes go to a private, unlinked, sparse temporary file of the base's
 * size in $TMPDIR (default /tmp); reads of clusters never written come
 * from the base. So many VMs can share one base image and it never
 * changes; the overlay vanishes with its descriptor when skiff exits.
 *
 * Memory: one bit per BLK_OVERLAY_CLUSTER bytes of disk (a 1 TiB disk
 * costs 2 MiB). Disk: only what the guest writes, rounded to clusters.
 *
 * A write that covers only part of a cluster not yet in the overlay
 * first copies that cluster from the base ("copy-up"). Writes that touch
 * a cluster not yet in the overlay, discards and write-zeroes are
 * serialised by one lock so two of them cannot copy up the same cluster
 * over each other's data; writes to clusters already in the overlay and
 * reads take no lock: a cluster's bit is set only after its data is in
 * the overlay, and a cluster whose bit is set is never copied up again.
 * Discard and write-zeroes both make the range read back as zeroes
 * (whole clusters are punched out of the overlay, freeing its blocks).
 *
 * The calls are synchronous: the block backend runs them on its worker
 * threads. All return 0 or -errno. */
#ifndef SKIFF_BLOCK_OVERLAY_H
#define SKIFF_BLOCK_OVERLAY_H

#include <stdint.h>
#include <sys/uio.h>

#define BLK_OVERLAY_CLUSTER (64u * 1024)

struct blk_overlay;

/* An overlay of `size` bytes over base_fd (which the caller keeps open
 * and locked). One line in err on failure. */
int blk_overlay_create(struct blk_overlay **out, int base_fd, uint64_t size, char *err, size_t errlen);
void blk_overlay_free(struct blk_overlay *ov);

/* [off, off + len) <-> iov (len = the iov total, already range-checked). */
int blk_overlay_read(struct blk_overlay *ov, const struct iovec *iov, unsigned iovcnt, uint64_t off, uint64_t len);
int blk_overlay_write(struct blk_overlay *ov, const struct iovec *iov, unsigned iovcnt, uint64_t off, uint64_t len);
/* [off, off + len) reads back as zeroes (discard and write-zeroes). */
int blk_overlay_zero(struct blk_overlay *ov, uint64_t off, uint64_t len);

/* Clusters held in the overlay now, and the bitmap's size in bytes. */
uint64_t blk_overlay_clusters_written(struct blk_overlay *ov);
uint64_t blk_overlay_bitmap_bytes(const struct blk_overlay *ov);

#endif
