/* Chains of the virtqueue engine: walking a chain's descriptors (split
 * and packed, direct and indirect) into a struct vq_chain, every buffer
 * checked against guest RAM once, and copying data through a chain. The
 * rules enforced on the driver are listed at the top of virtqueue.c. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/log.h"
#include "virtqueue/ring.h"

/* Copy one descriptor out of guest memory. The compiler barrier keeps the
 * compiler from re-reading guest memory later instead of using the copy.
 * memcpy because indirect tables need not be aligned. */
static void read_desc(void *copy, const void *guest)
{
	memcpy(copy, guest, DESC_SIZE);
	__asm__ __volatile__("" ::: "memory");
}

/* ---- breaking the queue ---- */

/* Mark the queue broken and keep the first reason: the device core logs
 * it when it sets DEVICE_NEEDS_RESET (rate-limited, in one place). */
int vq_break(struct virtqueue *vq, const char *fmt, ...)
{
	char why[sizeof(vq->broken_why)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (!vq->broken)
		memcpy(vq->broken_why, why, sizeof(why));
	vq->broken = true;
	log_debug(vq->name ? vq->name : "virtqueue", "driver error: %s", why);
	return -EIO;
}

/* ---- collecting a chain ---- */

/* Add one buffer to the chain being built, checking it. */
static int chain_add(struct virtqueue *vq, struct vq_chain *chain, uint64_t addr, uint32_t len, bool writable)
{
	struct vq_seg *seg;

	if (!writable && chain->nin)
		return vq_break(vq, "device-readable buffer after a device-writable one");
	if (len == 0)
		return 0; /* nothing to transfer: no need to check or keep it */
	if (!guest_mem_ptr(vq->mem, addr, len))
		return vq_break(vq, "buffer %#llx+%u is not guest RAM", (unsigned long long)addr, len);
	if ((writable ? chain->nin : chain->nout) == VQ_MAX_SEGS)
		return vq_break(vq, "more than %u %s buffers in one chain", VQ_MAX_SEGS, writable ? "in" : "out");

	seg = writable ? &chain->in[chain->nin++] : &chain->out[chain->nout++];
	seg->addr = addr;
	seg->len = len;
	if (writable)
		chain->in_bytes += len;
	else
		chain->out_bytes += len;
	return 0;
}

/* Host pointer to an indirect table after checking its descriptor. */
static const uint8_t *indirect_table(struct virtqueue *vq, uint64_t addr, uint32_t len)
{
	const uint8_t *table;

	if (!vq->indirect) {
		vq_break(vq, "indirect descriptor but VIRTIO_F_INDIRECT_DESC not negotiated");
		return NULL;
	}
	if (len == 0 || len % DESC_SIZE) {
		vq_break(vq, "indirect table length %u is not a non-zero multiple of 16", len);
		return NULL;
	}
	table = guest_mem_ptr(vq->mem, addr, len);
	if (!table)
		vq_break(vq, "indirect table %#llx+%u is not guest RAM", (unsigned long long)addr, len);
	return table;
}

/* Descriptors holding buffers a chain may have (see max_chain). */
static unsigned chain_limit(const struct virtqueue *vq)
{
	return vq->max_chain > vq->ring_size ? vq->max_chain : vq->ring_size;
}

/* Walk a split chain from `head` (spec "The Virtqueue Descriptor Table"
 * and "Indirect Descriptors"). The walk starts in the ring's table and may
 * move once into an indirect table. */
int vq_split_read_chain(struct virtqueue *vq, uint16_t head, struct vq_chain *chain)
{
	const uint8_t *table = vq->desc_host;
	unsigned table_len = vq->ring_size; /* descriptors in the current table */
	bool in_indirect = false;
	unsigned nbufs = 0;            /* descriptors holding buffers, all tables */
	unsigned i = head;
	int ret;

	chain->ndesc = 0;
	for (;;) {
		struct vring_desc d;

		read_desc(&d, table + (size_t)i * DESC_SIZE);
		if (!in_indirect)
			chain->ndesc++;

		if (d.flags & VRING_DESC_F_INDIRECT) {
			if (in_indirect)
				return vq_break(vq, "indirect descriptor inside an indirect table");
			if (d.flags & VRING_DESC_F_NEXT)
				return vq_break(vq, "descriptor %u has both INDIRECT and NEXT", i);
			table = indirect_table(vq, d.addr, d.len);
			if (!table)
				return -EIO;
			/* The WRITE flag of this descriptor means nothing (spec). */
			table_len = d.len / DESC_SIZE;
			in_indirect = true;
			i = 0;
			continue;
		}

		if (++nbufs > chain_limit(vq))
			return vq_break(vq, "chain from head %u longer than %u descriptors (a loop?)", head,
					chain_limit(vq));
		ret = chain_add(vq, chain, d.addr, d.len, d.flags & VRING_DESC_F_WRITE);
		if (ret < 0)
			return ret;
		if (!(d.flags & VRING_DESC_F_NEXT))
			return 0;
		i = d.next;
		if (i >= table_len)
			return vq_break(vq, "next index %u outside a table of %u", i, table_len);
	}
}

/* Walk a packed chain from our slot (spec "Next Flag: Descriptor
 * Chaining", "Indirect Flag: Scatter-Gather Support"). */
int vq_packed_read_chain(struct virtqueue *vq, uint16_t head_flags, struct vq_chain *chain)
{
	uint16_t slot = vq->last_avail;
	int ret;

	chain->ndesc = 0;
	for (;;) {
		const struct vring_packed_desc *slot_desc = packed_desc(vq, slot);
		struct vring_packed_desc d;
		/* The head's flags were read (with acquire) by the caller. */
		uint16_t flags;

		if (!slot_desc)
			return vq_break(vq, "packed slot %u outside a ring of %u", slot, vq->ring_size);
		read_desc(&d, slot_desc);
		flags = chain->ndesc == 0 ? head_flags : d.flags;
		chain->ndesc++;
		if (++slot == vq->ring_size)
			slot = 0;

		if (flags & VRING_DESC_F_INDIRECT) {
			const uint8_t *table;

			if (chain->ndesc > 1 || (flags & VRING_DESC_F_NEXT))
				return vq_break(vq, "packed indirect descriptor inside a chain");
			/* Here the whole table is the chain. */
			if (d.len / DESC_SIZE > chain_limit(vq))
				return vq_break(vq, "indirect table of %u descriptors, limit %u", d.len / DESC_SIZE,
						chain_limit(vq));
			table = indirect_table(vq, d.addr, d.len);
			if (!table)
				return -EIO;
			/* Table entries are used in order; NEXT is not used there. */
			for (unsigned k = 0; k < d.len / DESC_SIZE; k++) {
				struct vring_packed_desc t;

				read_desc(&t, table + (size_t)k * DESC_SIZE);
				if (t.flags & VRING_DESC_F_INDIRECT)
					return vq_break(vq, "indirect descriptor inside an indirect table");
				ret = chain_add(vq, chain, t.addr, t.len, t.flags & VRING_DESC_F_WRITE);
				if (ret < 0)
					return ret;
			}
			chain->id = d.id;
			break;
		}

		ret = chain_add(vq, chain, d.addr, d.len, flags & VRING_DESC_F_WRITE);
		if (ret < 0)
			return ret;
		if (!(flags & VRING_DESC_F_NEXT)) {
			chain->id = d.id; /* the buffer id is in the last descriptor */
			break;
		}
		if (chain->ndesc == vq->ring_size)
			return vq_break(vq, "packed chain longer than the ring");
	}
	if (chain->id >= vq->ring_size)
		return vq_break(vq, "buffer id %u, queue size %u", chain->id, vq->ring_size);
	return 0;
}

/* ---- data ---- */

/* Copy between segments and a host buffer, skipping `offset` bytes. */
static size_t chain_copy(const struct virtqueue *vq, const struct vq_seg *segs, unsigned nsegs, size_t offset,
			 uint8_t *buf, size_t len, bool to_guest)
{
	size_t done = 0;

	for (unsigned i = 0; i < nsegs && done < len; i++) {
		size_t n;
		uint8_t *p;

		if (offset >= segs[i].len) {
			offset -= segs[i].len;
			continue;
		}
		n = segs[i].len - offset;
		if (n > len - done)
			n = len - done;
		/* Checked at pop already; asking again costs little and keeps
		 * this function safe on its own. */
		p = guest_mem_ptr(vq->mem, segs[i].addr + offset, n);
		if (!p)
			break;
		if (to_guest)
			memcpy(p, buf + done, n);
		else
			memcpy(buf + done, p, n);
		done += n;
		offset = 0;
	}
	return done;
}

size_t vq_chain_read(const struct virtqueue *vq, const struct vq_chain *chain, size_t offset, void *dst, size_t len)
{
	return chain_copy(vq, chain->out, chain->nout, offset, dst, len, false);
}

size_t vq_chain_write(const struct virtqueue *vq, const struct vq_chain *chain, size_t offset, const void *src,
		      size_t len)
{
	return chain_copy(vq, chain->in, chain->nin, offset, (uint8_t *)src, len, true);
}

int vq_chain_iov(const struct virtqueue *vq, const struct vq_chain *chain, bool writable, struct iovec *iov,
		 unsigned max)
{
	const struct vq_seg *segs = writable ? chain->in : chain->out;
	unsigned n = writable ? chain->nin : chain->nout;

	if (n > max)
		return -ENOSPC;
	for (unsigned i = 0; i < n; i++) {
		/* Checked when the chain was popped; guest RAM does not move. */
		iov[i].iov_base = guest_mem_ptr(vq->mem, segs[i].addr, segs[i].len);
		iov[i].iov_len = segs[i].len;
	}
	return (int)n;
}

