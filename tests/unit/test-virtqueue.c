/* Unit tests for the virtqueue engine (virtqueue/virtqueue.c, virtqueue/chain.c), driven
 * through the driver side (virtqueue/driver.c) in a fake 1 MiB guest RAM
 * with canary zones around it. Normal traffic goes through the driver
 * code; malformed chains are written by hand into the rings, using the
 * Linux uapi ring layouts so the two sides are checked against an
 * independent description of the format. */
#include <check.h>
#include <errno.h>
#include <linux/virtio_ring.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "virtqueue/driver.h"
#include "virtqueue/virtqueue.h"
#include "base/log.h"

_Static_assert(VQD_ENOSPC == ENOSPC && VQD_EINVAL == EINVAL, "driver error numbers");
_Static_assert(VQD_F_EVENT_IDX == 1ull << VIRTIO_RING_F_EVENT_IDX, "feature bit");
_Static_assert(VQD_F_INDIRECT_DESC == 1ull << VIRTIO_RING_F_INDIRECT_DESC, "feature bit");

#define RAM_GPA  0x10000000ull
#define RAM_SIZE (1u << 20)
#define CANARY   4096u      /* bytes on each side of RAM that must stay intact */
#define CANARY_BYTE 0xa5
#define QMEM_OFF 0x0        /* the driver's queue memory */
#define DATA_OFF 0x80000    /* buffers */

#define F_EVENT  VQD_F_EVENT_IDX
#define F_INDIR  VQD_F_INDIRECT_DESC
#define PACKED_AVAIL (1u << VRING_PACKED_DESC_F_AVAIL)
#define PACKED_USED  (1u << VRING_PACKED_DESC_F_USED)

static uint8_t *block;   /* canary + RAM + canary */
static uint8_t *ram;
static struct guest_mem mem;
static struct vqd q;     /* driver side */
static struct virtqueue vq; /* device side */
static uint64_t data_next;
static uint32_t rng_state;

/* ---- fixture ---- */

static void ram_setup(void)
{
	block = aligned_alloc(4096, RAM_SIZE + 2 * CANARY);
	ck_assert_ptr_nonnull(block);
	memset(block, CANARY_BYTE, RAM_SIZE + 2 * CANARY);
	ram = block + CANARY;
	memset(ram, 0, RAM_SIZE);
	mem.region[0] = (struct guest_region){ .gpa = RAM_GPA, .size = RAM_SIZE, .host = ram };
	mem.nr_regions = 1;
	memset(&q, 0, sizeof(q));
	memset(&vq, 0, sizeof(vq));
	data_next = DATA_OFF;
	rng_state = 12345;
}

static void assert_canaries(void)
{
	for (size_t i = 0; i < CANARY; i++) {
		ck_assert_uint_eq(block[i], CANARY_BYTE);
		ck_assert_uint_eq(block[CANARY + RAM_SIZE + i], CANARY_BYTE);
	}
}

static void ram_teardown(void)
{
	assert_canaries();
	free(block);
	block = ram = NULL;
}

/* ---- helpers ---- */

static uint32_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 17;
	rng_state ^= rng_state << 5;
	return rng_state;
}

static uint64_t gpa(uint64_t off) { return RAM_GPA + off; }

/* A fresh buffer in the data area; returns its RAM offset. */
static uint64_t dalloc(uint32_t len)
{
	uint64_t off = data_next;

	data_next += (len + 15) & ~15u;
	ck_assert_uint_le(data_next, RAM_SIZE);
	return off;
}

static struct vqd_buf buf(uint64_t off, uint32_t len)
{
	return (struct vqd_buf){ .addr = gpa(off), .len = len };
}

static void fill(uint64_t off, uint32_t len, uint8_t seed)
{
	for (uint32_t i = 0; i < len; i++)
		ram[off + i] = (uint8_t)(seed + i * 7);
}

/* Point the device at the driver's rings and start it (as a transport
 * would when the driver enables the queue). */
static void device_start(bool packed, uint64_t features)
{
	vq_reset(&vq);
	vq.mem = &mem;
	vq.name = "test.q0";
	vq.size = q.size;
	vq.desc_addr = q.desc_gpa;
	vq.avail_addr = q.avail_gpa;
	vq.used_addr = q.used_gpa;
	vq.packed = packed;
	vq.event_idx = features & F_EVENT;
	vq.indirect = features & F_INDIR;
	ck_assert_int_eq(vq_enable(&vq), 0);
	ck_assert(vq.ready);
}

/* Set up both sides: the driver lays out the rings in RAM at qmem_off. */
static void start_at(bool packed, uint16_t size, uint64_t features, uint64_t qmem_off)
{
	int ret = packed ? vqd_init_packed(&q, size, ram + qmem_off, gpa(qmem_off), features)
			 : vqd_init_split(&q, size, ram + qmem_off, gpa(qmem_off), features);

	ck_assert_int_eq(ret, 0);
	device_start(packed, features);
}

static void start(bool packed, uint16_t size, uint64_t features)
{
	ck_assert_uint_le(QMEM_OFF + vqd_mem_size(size, packed), DATA_OFF);
	start_at(packed, size, features, QMEM_OFF);
}

/* Device: pop one chain, check it has everything, fill its in part with
 * a pattern and push it back with all of it written. */
static void serve_one(struct vq_chain *c)
{
	static uint8_t tmp[8192];

	ck_assert_int_eq(vq_pop(&vq, c), 1);
	ck_assert_uint_le(c->out_bytes, sizeof(tmp));
	ck_assert_uint_eq(vq_chain_read(&vq, c, 0, tmp, sizeof(tmp)), c->out_bytes);
	memset(tmp, 0xd0 + (c->id & 0xf), sizeof(tmp));
	ck_assert_uint_le(c->in_bytes, sizeof(tmp));
	ck_assert_uint_eq(vq_chain_write(&vq, c, 0, tmp, c->in_bytes), c->in_bytes);
	vq_push(&vq, c, (uint32_t)c->in_bytes);
}

static void *token(uintptr_t n)
{
	return (void *)(n + 1);
}

/* One request: out_len bytes out, in_len bytes in, through both sides. */
static void round_trip(uint32_t out_len, uint32_t in_len, bool indirect)
{
	struct vq_chain c;
	struct vqd_buf o = buf(DATA_OFF, out_len), i = buf(DATA_OFF + 0x1000, in_len);
	uint32_t len = 0;

	ck_assert_int_eq(vqd_add(&q, &o, out_len ? 1 : 0, &i, in_len ? 1 : 0, token(7), indirect), 0);
	serve_one(&c);
	ck_assert_ptr_eq(vqd_get_used(&q, &len), token(7));
	ck_assert_uint_eq(len, in_len);
}

/* ---- ring layout and enable ---- */

START_TEST(split_sizes)
{
	ck_assert_uint_eq(vq_split_desc_bytes(256), 4096);
	ck_assert_uint_eq(vq_split_avail_bytes(256), 6 + 2 * 256);
	ck_assert_uint_eq(vq_split_used_bytes(256), 6 + 8 * 256);
	ck_assert_uint_eq(vq_split_used_bytes(32768), 6 + 8 * 32768ul);
}
END_TEST

START_TEST(enable_bad_size)
{
	static const uint16_t bad_split[] = { 0, 3, 100, 40000 };

	for (unsigned k = 0; k < sizeof(bad_split) / sizeof(bad_split[0]); k++) {
		struct vq_chain c;

		vq_reset(&vq);
		vq.mem = &mem;
		vq.size = bad_split[k];
		vq.desc_addr = gpa(0);
		vq.avail_addr = gpa(0x10000);
		vq.used_addr = gpa(0x20000);
		ck_assert_int_eq(vq_enable(&vq), -EINVAL);
		ck_assert(vq.broken && !vq.ready);
		ck_assert_int_eq(vq_pop(&vq, &c), -EIO);
	}
	/* Packed rings need no power of two. */
	vq_reset(&vq);
	vq.size = 100;
	vq.packed = true;
	vq.desc_addr = gpa(0);
	vq.avail_addr = gpa(0x10000);
	vq.used_addr = gpa(0x20000);
	ck_assert_int_eq(vq_enable(&vq), 0);
}
END_TEST

START_TEST(enable_rings_outside_ram)
{
	struct {
		bool packed;
		uint64_t desc, avail, used;
	} cases[] = {
		{ false, RAM_GPA - 0x1000, gpa(0x10000), gpa(0x20000) },        /* below RAM */
		{ false, gpa(RAM_SIZE - 16 * 8), gpa(0x10000), gpa(0x20000) },  /* table crosses the end */
		{ false, gpa(0), gpa(RAM_SIZE - 20), gpa(0x20000) },             /* avail crosses the end */
		{ false, gpa(0), gpa(0x10000), gpa(RAM_SIZE - 64) },             /* used crosses the end */
		{ false, gpa(0), gpa(0x10000), 0xfffffffffffffff0ull },          /* wraps around */
		{ true, gpa(RAM_SIZE - 16 * 8), gpa(0x10000), gpa(0x20000) },   /* ring crosses the end */
		{ true, gpa(0), gpa(0x10000), gpa(RAM_SIZE) },                   /* just past the end */
	};

	for (unsigned k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		struct vq_chain c;

		vq_reset(&vq);
		vq.mem = &mem;
		vq.size = 16;
		vq.packed = cases[k].packed;
		vq.event_idx = true;
		vq.desc_addr = cases[k].desc;
		vq.avail_addr = cases[k].avail;
		vq.used_addr = cases[k].used;
		ck_assert_int_eq(vq_enable(&vq), -EFAULT);
		ck_assert(vq.broken && !vq.ready);
		ck_assert_int_eq(vq_pop(&vq, &c), -EIO);
		ck_assert(!vq_needs_interrupt(&vq));
	}
}
END_TEST

START_TEST(enable_misaligned)
{
	static const uint64_t addrs[][3] = {
		{ 0x8, 0x10000, 0x20000 },   /* descriptors need 16 */
		{ 0x0, 0x10001, 0x20000 },   /* avail needs 2 */
		{ 0x0, 0x10000, 0x20002 },   /* used needs 4 */
	};

	for (unsigned k = 0; k < 3; k++) {
		vq_reset(&vq);
		vq.mem = &mem;
		vq.size = 16;
		vq.desc_addr = gpa(addrs[k][0]);
		vq.avail_addr = gpa(addrs[k][1]);
		vq.used_addr = gpa(addrs[k][2]);
		ck_assert_int_eq(vq_enable(&vq), -EINVAL);
		ck_assert(vq.broken);
	}
	vq_reset(&vq);
	vq.size = 16;
	vq.packed = true; /* packed event areas need 4 */
	vq.desc_addr = gpa(0);
	vq.avail_addr = gpa(0x10002);
	vq.used_addr = gpa(0x20000);
	ck_assert_int_eq(vq_enable(&vq), -EINVAL);
}
END_TEST

START_TEST(pop_before_enable)
{
	struct vq_chain c;

	vq.mem = &mem;
	ck_assert_int_eq(vq_pop(&vq, &c), 0);
	ck_assert(!vq_needs_interrupt(&vq));
}
END_TEST

/* ---- split ring traffic ---- */

START_TEST(split_single_out)
{
	struct vq_chain c;
	uint64_t off = dalloc(100);
	struct vqd_buf b = buf(off, 100);
	uint8_t got[100];
	uint32_t len = 99;

	start(false, 8, 0);
	fill(off, 100, 3);
	ck_assert_int_eq(vqd_add(&q, &b, 1, NULL, 0, token(1), false), 0);
	ck_assert(vqd_kick_needed(&q));
	ck_assert_int_eq(vq_pop(&vq, &c), 1);
	ck_assert_uint_eq(c.nout, 1);
	ck_assert_uint_eq(c.nin, 0);
	ck_assert_uint_eq(c.out_bytes, 100);
	ck_assert_uint_eq(c.ndesc, 1);
	ck_assert_uint_eq(vq_chain_read(&vq, &c, 0, got, sizeof(got)), 100);
	ck_assert_mem_eq(got, ram + off, 100);
	ck_assert_int_eq(vq_pop(&vq, &c), 0);
	vq_push(&vq, &c, 0);
	ck_assert(vq_needs_interrupt(&vq));
	ck_assert_ptr_eq(vqd_get_used(&q, &len), token(1));
	ck_assert_uint_eq(len, 0);
	ck_assert_ptr_null(vqd_get_used(&q, &len));
}
END_TEST

START_TEST(split_single_in)
{
	struct vq_chain c;
	uint64_t off = dalloc(64);
	struct vqd_buf b = buf(off, 64);
	uint8_t pattern[40];
	uint32_t len;

	start(false, 8, 0);
	ck_assert_int_eq(vqd_add(&q, NULL, 0, &b, 1, token(2), false), 0);
	ck_assert_int_eq(vq_pop(&vq, &c), 1);
	ck_assert_uint_eq(c.nin, 1);
	ck_assert_uint_eq(c.in_bytes, 64);
	memset(pattern, 0x3c, sizeof(pattern));
	ck_assert_uint_eq(vq_chain_write(&vq, &c, 0, pattern, sizeof(pattern)), 40);
	vq_push(&vq, &c, 40);
	ck_assert_ptr_eq(vqd_get_used(&q, &len), token(2));
	ck_assert_uint_eq(len, 40);
	ck_assert_mem_eq(ram + off, pattern, 40);
	ck_assert_uint_eq(ram[off + 40], 0); /* not past what was written */
}
END_TEST

/* Segments of 5, 1 and 100 bytes out, 7 and 50 in; reads and writes at
 * offsets that straddle segment boundaries. */
static void multi_segment(bool packed, bool indirect)
{
	static const uint32_t out_len[] = { 5, 1, 100 }, in_len[] = { 7, 50 };
	struct vqd_buf out[3], in[2];
	uint8_t all[106], got[106], w[57];
	struct vq_chain c;
	uint32_t len;
	size_t n = 0;

	start(packed, 8, indirect ? F_INDIR : 0);
	for (int k = 0; k < 3; k++) {
		out[k] = buf(dalloc(out_len[k]), out_len[k]);
		fill(out[k].addr - RAM_GPA, out_len[k], (uint8_t)(k * 50));
		memcpy(all + n, ram + out[k].addr - RAM_GPA, out_len[k]);
		n += out_len[k];
	}
	for (int k = 0; k < 2; k++)
		in[k] = buf(dalloc(in_len[k]), in_len[k]);

	ck_assert_int_eq(vqd_add(&q, out, 3, in, 2, token(5), indirect), 0);
	ck_assert_int_eq(vq_pop(&vq, &c), 1);
	ck_assert_uint_eq(c.nout, 3);
	ck_assert_uint_eq(c.nin, 2);
	ck_assert_uint_eq(c.out_bytes, 106);
	ck_assert_uint_eq(c.in_bytes, 57);
	ck_assert_uint_eq(c.ndesc, indirect ? 1 : 5);
	ck_assert_uint_eq(vq_chain_read(&vq, &c, 0, got, sizeof(got)), 106);
	ck_assert_mem_eq(got, all, 106);
	for (size_t off = 0; off <= 106; off++) {
		memset(got, 0, sizeof(got));
		ck_assert_uint_eq(vq_chain_read(&vq, &c, off, got, 3), off + 3 <= 106 ? 3 : 106 - off);
		ck_assert_mem_eq(got, all + off, off + 3 <= 106 ? 3 : 106 - off);
	}
	for (size_t k = 0; k < sizeof(w); k++)
		w[k] = (uint8_t)(0x80 + k);
	/* Write the tail first, then the head, across the 7|50 boundary. */
	ck_assert_uint_eq(vq_chain_write(&vq, &c, 5, w + 5, 52), 52);
	ck_assert_uint_eq(vq_chain_write(&vq, &c, 0, w, 5), 5);
	ck_assert_uint_eq(vq_chain_write(&vq, &c, 57, w, 1), 0);
	vq_push(&vq, &c, 57);
	ck_assert_ptr_eq(vqd_get_used(&q, &len), token(5));
	ck_assert_uint_eq(len, 57);
	ck_assert_mem_eq(ram + in[0].addr - RAM_GPA, w, 7);
	ck_assert_mem_eq(ram + in[1].addr - RAM_GPA, w + 7, 50);
}

START_TEST(split_multi_segment) { multi_segment(false, false); }
END_TEST
START_TEST(split_indirect) { multi_segment(false, true); }
END_TEST
START_TEST(packed_multi_segment) { multi_segment(true, false); }
END_TEST
START_TEST(packed_indirect) { multi_segment(true, true); }
END_TEST

/* Completion in any order; then the freed descriptors are reusable. */
static void out_of_order(bool packed)
{
	struct vq_chain c[6];
	uint32_t len;

	start(packed, 8, 0);
	for (int round = 0; round < 20; round++) {
		for (int k = 0; k < 4; k++) {
			struct vqd_buf o = buf(DATA_OFF + 64 * k, 8), i = buf(DATA_OFF + 0x1000 + 64 * k, 8 + k);
			ck_assert_int_eq(vqd_add(&q, &o, 1, &i, 1, token(k), false), 0);
		}
		for (int k = 0; k < 4; k++)
			ck_assert_int_eq(vq_pop(&vq, &c[k]), 1);
		ck_assert_int_eq(vq_pop(&vq, &c[4]), 0);
		for (int k = 3; k >= 0; k--)
			vq_push(&vq, &c[(k + round) % 4], (uint32_t)c[(k + round) % 4].in_bytes);
		for (int k = 3; k >= 0; k--) {
			ck_assert_ptr_eq(vqd_get_used(&q, &len), token((k + round) % 4));
			ck_assert_uint_eq(len, 8 + (k + round) % 4);
		}
		ck_assert_ptr_null(vqd_get_used(&q, &len));
		ck_assert_uint_eq(q.num_free, 8);
	}
}

START_TEST(split_out_of_order) { out_of_order(false); }
END_TEST
START_TEST(packed_out_of_order) { out_of_order(true); }
END_TEST

static void full_ring(bool packed)
{
	struct vqd_buf b[3] = { buf(DATA_OFF, 4), buf(DATA_OFF, 4), buf(DATA_OFF, 4) };
	struct vq_chain c;
	uint32_t len;

	start(packed, 8, F_INDIR);
	for (int k = 0; k < 6; k++)
		ck_assert_int_eq(vqd_add(&q, b, 1, NULL, 0, token(k), false), 0);
	ck_assert_int_eq(vqd_add(&q, b, 3, NULL, 0, token(6), false), -ENOSPC);
	ck_assert_int_eq(vqd_add(&q, b, 3, NULL, 0, token(6), true), 0);   /* one slot via indirect */
	ck_assert_int_eq(vqd_add(&q, b, 1, NULL, 0, token(7), false), 0);
	ck_assert_int_eq(vqd_add(&q, b, 1, NULL, 0, token(8), false), -ENOSPC);
	ck_assert_int_eq(vqd_add(&q, b, 0, NULL, 0, token(8), false), -EINVAL);
	ck_assert_int_eq(vqd_add(&q, b, 1, NULL, 0, NULL, false), -EINVAL);
	for (int k = 0; k < 8; k++)
		serve_one(&c);
	ck_assert_int_eq(vq_pop(&vq, &c), 0);
	for (int k = 0; k < 8; k++)
		ck_assert_ptr_eq(vqd_get_used(&q, &len), token(k));
	ck_assert_int_eq(vqd_add(&q, b, 1, NULL, 0, token(9), false), 0);
}

/* vq_avail_at_least counts what the driver posted and pop has not taken,
 * up to its max, across the packed ring's wrap too. */
static void avail_count(bool packed)
{
	struct vqd_buf b = buf(DATA_OFF, 4);
	struct vq_chain c;
	uint32_t len;

	start(packed, 8, 0);
	ck_assert_uint_eq(vq_avail_at_least(&vq, 16), 0);
	for (int lap = 0; lap < 3; lap++) { /* past the end of the ring twice */
		for (int k = 0; k < 5; k++)
			ck_assert_int_eq(vqd_add(&q, &b, 1, NULL, 0, token(k), false), 0);
		ck_assert_uint_eq(vq_avail_at_least(&vq, 16), 5);
		ck_assert_uint_eq(vq_avail_at_least(&vq, 3), 3);
		serve_one(&c);
		serve_one(&c);
		ck_assert_uint_eq(vq_avail_at_least(&vq, 16), 3);
		for (int k = 0; k < 3; k++)
			serve_one(&c);
		ck_assert_uint_eq(vq_avail_at_least(&vq, 16), 0);
		for (int k = 0; k < 5; k++)
			ck_assert_ptr_nonnull(vqd_get_used(&q, &len));
	}
}

START_TEST(split_avail_count) { avail_count(false); }
END_TEST
START_TEST(packed_avail_count) { avail_count(true); }
END_TEST

START_TEST(split_full_ring) { full_ring(false); }
END_TEST
START_TEST(packed_full_ring) { full_ring(true); }
END_TEST

START_TEST(zero_length_skipped)
{
	struct vqd_buf out[3] = { buf(DATA_OFF, 4), buf(DATA_OFF + 64, 0), buf(DATA_OFF + 128, 4) };
	struct vqd_buf in[2] = { buf(DATA_OFF + 256, 0), buf(DATA_OFF + 512, 8) };
	struct vq_chain c;

	for (int packed = 0; packed < 2; packed++) {
		start(packed, 8, 0);
		ck_assert_int_eq(vqd_add(&q, out, 3, in, 2, token(1), false), 0);
		ck_assert_int_eq(vq_pop(&vq, &c), 1);
		ck_assert_uint_eq(c.nout, 2);
		ck_assert_uint_eq(c.nin, 1);
		ck_assert_uint_eq(c.ndesc, 5);
		ck_assert_uint_eq(c.out[1].addr, gpa(DATA_OFF + 128));
		ck_assert_uint_eq(c.in[0].addr, gpa(DATA_OFF + 512));
	}
}
END_TEST

START_TEST(push_clamps_written)
{
	struct vqd_buf i = buf(DATA_OFF, 16);
	struct vq_chain c;
	uint32_t len;

	start(false, 8, 0);
	ck_assert_int_eq(vqd_add(&q, NULL, 0, &i, 1, token(1), false), 0);
	ck_assert_int_eq(vq_pop(&vq, &c), 1);
	vq_push(&vq, &c, 1000);
	ck_assert_ptr_eq(vqd_get_used(&q, &len), token(1));
	ck_assert_uint_eq(len, 16);
}
END_TEST

/* Many laps with chains of 1..3 descriptors: the data arrives intact and,
 * for packed rings, the wrap counters flip once per lap. */
static void many_laps(bool packed, uint16_t size, unsigned requests)
{
	unsigned laps = 0;
	bool wrap = true;

	start(packed, size, F_INDIR);
	for (unsigned n = 0; n < requests; n++) {
		unsigned nout = 1 + rnd() % 2, nin = rnd() % 2;
		struct vqd_buf o[2], i[1];
		uint8_t got[64];
		struct vq_chain c;
		uint32_t len;

		for (unsigned k = 0; k < nout; k++) {
			o[k] = buf(DATA_OFF + 64 * k, 1 + rnd() % 32);
			fill(DATA_OFF + 64 * k, o[k].len, (uint8_t)(n + k));
		}
		i[0] = buf(DATA_OFF + 0x1000, 1 + rnd() % 32);
		ck_assert_int_eq(vqd_add(&q, o, nout, i, nin, token(n), rnd() % 4 == 0), 0);
		ck_assert_int_eq(vq_pop(&vq, &c), 1);
		ck_assert_uint_eq(c.nout, nout);
		ck_assert_uint_eq(c.nin, nin);
		for (unsigned k = 0, at = 0; k < nout; at += o[k].len, k++) {
			ck_assert_uint_eq(vq_chain_read(&vq, &c, at, got, o[k].len), o[k].len);
			ck_assert_mem_eq(got, ram + DATA_OFF + 64 * k, o[k].len);
		}
		memset(got, (uint8_t)n, sizeof(got));
		vq_chain_write(&vq, &c, 0, got, c.in_bytes);
		vq_push(&vq, &c, (uint32_t)c.in_bytes);
		ck_assert_ptr_eq(vqd_get_used(&q, &len), token(n));
		ck_assert_uint_eq(len, nin ? i[0].len : 0);
		if (nin)
			ck_assert_uint_eq(ram[DATA_OFF + 0x1000], (uint8_t)n);
		if (packed && vq.avail_wrap != wrap) {
			wrap = vq.avail_wrap;
			laps++;
		}
		if (packed) {
			ck_assert(vq.avail_wrap == q.avail_wrap);
			ck_assert(vq.used_wrap == q.used_wrap);
			ck_assert_uint_eq(vq.last_avail, q.avail_idx);
		}
	}
	if (packed)
		ck_assert_uint_ge(laps, requests / size / 2);
}

START_TEST(split_many_laps) { many_laps(false, 4, 70000); }
END_TEST
START_TEST(packed_many_laps) { many_laps(true, 7, 5000); }
END_TEST

START_TEST(indirect_needs_feature_driver_falls_back)
{
	struct vqd_buf o[2] = { buf(DATA_OFF, 4), buf(DATA_OFF + 16, 4) };
	struct vq_chain c;

	start(false, 8, 0); /* no INDIRECT_DESC: the driver must not use it */
	ck_assert_int_eq(vqd_add(&q, o, 2, NULL, 0, token(1), true), 0);
	ck_assert_int_eq(vq_pop(&vq, &c), 1);
	ck_assert_uint_eq(c.ndesc, 2);
}
END_TEST

/* ---- vq_unpop ---- */

START_TEST(split_unpop)
{
	struct vqd_buf o[2] = { buf(DATA_OFF, 4), buf(DATA_OFF + 16, 4) };
	struct vq_chain c, again;
	uint32_t len;

	start(false, 8, 0);
	ck_assert_int_eq(vqd_add(&q, o, 1, NULL, 0, token(1), false), 0);
	ck_assert_int_eq(vqd_add(&q, o, 2, NULL, 0, token(2), false), 0);
	serve_one(&c);
	ck_assert_int_eq(vq_pop(&vq, &c), 1);
	vq_unpop(&vq, &c);
	ck_assert_int_eq(vq_pop(&vq, &again), 1);
	ck_assert_uint_eq(again.id, c.id);
	ck_assert_uint_eq(again.nout, 2);
	vq_push(&vq, &again, 0);
	ck_assert_ptr_eq(vqd_get_used(&q, &len), token(1));
	ck_assert_ptr_eq(vqd_get_used(&q, &len), token(2));
}
END_TEST

/* A 3-descriptor chain that wraps from slot 3 to slot 1 of a 4-slot ring:
 * unpop must step back over the wrap and restore the wrap counter. */
START_TEST(packed_unpop_across_wrap)
{
	struct vqd_buf o[3] = { buf(DATA_OFF, 4), buf(DATA_OFF + 16, 4), buf(DATA_OFF + 32, 4) };
	struct vq_chain c, again;
	uint32_t len;

	start(true, 4, 0);
	for (int k = 0; k < 3; k++) {
		ck_assert_int_eq(vqd_add(&q, o, 1, NULL, 0, token(k), false), 0);
		serve_one(&c);
		ck_assert_ptr_eq(vqd_get_used(&q, &len), token(k));
	}
	ck_assert_uint_eq(vq.last_avail, 3);
	ck_assert(vq.avail_wrap);
	ck_assert_int_eq(vqd_add(&q, o, 3, NULL, 0, token(9), false), 0);
	ck_assert_int_eq(vq_pop(&vq, &c), 1);
	ck_assert_uint_eq(c.ndesc, 3);
	ck_assert_uint_eq(vq.last_avail, 2);
	ck_assert(!vq.avail_wrap);
	vq_unpop(&vq, &c);
	ck_assert_uint_eq(vq.last_avail, 3);
	ck_assert(vq.avail_wrap);
	ck_assert_int_eq(vq_pop(&vq, &again), 1);
	ck_assert_uint_eq(again.id, c.id);
	ck_assert_uint_eq(again.nout, 3);
	vq_push(&vq, &again, 0);
	ck_assert_ptr_eq(vqd_get_used(&q, &len), token(9));
	ck_assert(!q.used_wrap);
	ck_assert_uint_eq(q.last_used, 2);
}
END_TEST

/* ---- interrupt and notification suppression ---- */

static void interrupt_flags(bool packed)
{
	struct vqd_buf i = buf(DATA_OFF, 8);
	struct vq_chain c;
	uint32_t len;

	start(packed, 8, 0);
	ck_assert(!vq_needs_interrupt(&vq)); /* nothing pushed */
	ck_assert_int_eq(vqd_add(&q, NULL, 0, &i, 1, token(1), false), 0);
	serve_one(&c);
	ck_assert(vq_needs_interrupt(&vq));
	ck_assert(!vq_needs_interrupt(&vq)); /* already told */

	vqd_disable_cb(&q);
	ck_assert_ptr_eq(vqd_get_used(&q, &len), token(1));
	ck_assert_int_eq(vqd_add(&q, NULL, 0, &i, 1, token(2), false), 0);
	serve_one(&c);
	ck_assert(!vq_needs_interrupt(&vq));
	ck_assert(vqd_enable_cb(&q)); /* a used buffer is already waiting */
	ck_assert_ptr_eq(vqd_get_used(&q, &len), token(2));
	ck_assert(!vqd_enable_cb(&q));
	ck_assert_int_eq(vqd_add(&q, NULL, 0, &i, 1, token(3), false), 0);
	serve_one(&c);
	ck_assert(vq_needs_interrupt(&vq));
}

START_TEST(split_no_interrupt_flag) { interrupt_flags(false); }
END_TEST
START_TEST(packed_interrupt_disable_flag) { interrupt_flags(true); }
END_TEST

static void notify_flags(bool packed, uint64_t features)
{
	struct vqd_buf o = buf(DATA_OFF, 8);
	struct vq_chain c;
	uint32_t len;

	start(packed, 8, features);
	ck_assert(!vqd_kick_needed(&q)); /* nothing added */
	ck_assert_int_eq(vqd_add(&q, &o, 1, NULL, 0, token(1), false), 0);
	ck_assert(vqd_kick_needed(&q));

	ck_assert(!vq_enable_notify(&vq, false)); /* device polls */
	serve_one(&c);
	ck_assert_int_eq(vq_pop(&vq, &c), 0);
	ck_assert_ptr_eq(vqd_get_used(&q, &len), token(1));
	ck_assert_int_eq(vqd_add(&q, &o, 1, NULL, 0, token(2), false), 0);
	ck_assert(!vqd_kick_needed(&q));
	ck_assert(vq_enable_notify(&vq, true)); /* token 2 arrived meanwhile */
	serve_one(&c);
	ck_assert_ptr_eq(vqd_get_used(&q, &len), token(2));
	ck_assert(!vq_enable_notify(&vq, true));
	ck_assert_int_eq(vqd_add(&q, &o, 1, NULL, 0, token(3), false), 0);
	ck_assert(vqd_kick_needed(&q));
}

START_TEST(split_no_notify_flag) { notify_flags(false, 0); }
END_TEST
START_TEST(packed_notify_disable_flag) { notify_flags(true, 0); }
END_TEST
START_TEST(split_avail_event_enable_notify) { notify_flags(false, F_EVENT); }
END_TEST
START_TEST(packed_desc_event_enable_notify) { notify_flags(true, F_EVENT); }
END_TEST

/* Without EVENT_IDX the driver's flags rule; with it they are ignored. */
START_TEST(split_event_idx_ignores_flags)
{
	struct vqd_buf i = buf(DATA_OFF, 8);
	struct vq_chain c;
	uint16_t *avail;

	start(false, 8, F_EVENT);
	avail = q.avail;
	avail[0] = VRING_AVAIL_F_NO_INTERRUPT;
	ck_assert_int_eq(vqd_add(&q, NULL, 0, &i, 1, token(1), false), 0);
	serve_one(&c);
	ck_assert(vq_needs_interrupt(&vq)); /* used_event 0 was crossed */
}
END_TEST

/* Raw used_event: an interrupt exactly when the used index passes it,
 * over more than 65536 requests so the 16-bit indices wrap. The expected
 * answer comes from 32-bit counters, not from the 16-bit formula. */
START_TEST(split_used_event_wraparound)
{
	uint16_t *avail;
	uint32_t old32 = 0;
	unsigned interrupts = 0;

	start(false, 8, F_EVENT);
	avail = q.avail;
	while (old32 < 70000) {
		unsigned k = 1 + rnd() % 8;
		int64_t e32 = (int64_t)old32 + (int64_t)(rnd() % (k + 6)) - 3;
		struct vq_chain c;
		uint32_t len;
		bool expect, got;

		for (unsigned n = 0; n < k; n++) {
			struct vqd_buf i = buf(DATA_OFF, 4);
			ck_assert_int_eq(vqd_add(&q, NULL, 0, &i, 1, token(n), false), 0);
		}
		for (unsigned n = 0; n < k; n++)
			serve_one(&c);
		avail[2 + 8] = (uint16_t)e32; /* used_event, after ring[8] */
		expect = e32 >= old32 && e32 < (int64_t)old32 + k;
		got = vq_needs_interrupt(&vq);
		ck_assert_msg(got == expect, "old %u k %u event %lld: got %d", old32, k, (long long)e32, got);
		interrupts += got;
		old32 += k;
		for (unsigned n = 0; n < k; n++)
			ck_assert_ptr_eq(vqd_get_used(&q, &len), token(n));
	}
	ck_assert_uint_eq(vq.used_idx, (uint16_t)old32);
	ck_assert_uint_gt(interrupts, 1000);
}
END_TEST

/* The same through the driver's own used_event handling: a driver that
 * drained the ring and waits gets exactly one interrupt per batch. */
static void driver_waits(bool packed, uint16_t size)
{
	start(packed, size, F_EVENT);
	for (unsigned n = 0; n < 70000;) {
		unsigned k = 1 + rnd() % (size - 1);
		struct vq_chain c;
		uint32_t len;

		for (unsigned j = 0; j < k; j++) {
			struct vqd_buf i = buf(DATA_OFF, 4);
			ck_assert_int_eq(vqd_add(&q, NULL, 0, &i, 1, token(j), false), 0);
		}
		for (unsigned j = 0; j < k; j++) {
			serve_one(&c);
			ck_assert_msg(vq_needs_interrupt(&vq) == (j == 0), "request %u", n + j);
		}
		for (unsigned j = 0; j < k; j++)
			ck_assert_ptr_eq(vqd_get_used(&q, &len), token(j));
		ck_assert_ptr_null(vqd_get_used(&q, &len)); /* drained: re-arm */
		n += k;
	}
}

START_TEST(split_driver_waits_wraparound) { driver_waits(false, 8); }
END_TEST
START_TEST(packed_driver_waits_wraparound) { driver_waits(true, 5); }
END_TEST

/* Raw avail_event: the driver kicks exactly when it crosses it, over
 * more than 65536 buffers of `parts` descriptors each. avail_event
 * counts avail ring entries, one per buffer however many descriptors it
 * takes (a driver that counted descriptors kicked too often). */
static void avail_event_crossing(unsigned parts)
{
	uint32_t old32 = 0;
	uint16_t *used_avail_event;

	start(false, 8, F_EVENT);
	used_avail_event = (uint16_t *)q.used + 2 + 4 * 8;
	while (old32 < 70000) {
		unsigned k = 1 + rnd() % (8 / parts);
		int64_t e32 = (int64_t)old32 + (int64_t)(rnd() % (k + 6)) - 3;
		struct vq_chain c;
		uint32_t len;

		for (unsigned n = 0; n < k; n++) {
			struct vqd_buf o = buf(DATA_OFF, 4), in = buf(DATA_OFF + 64, 4);
			ck_assert_int_eq(vqd_add(&q, &o, 1, &in, parts - 1, token(n), false), 0);
		}
		*used_avail_event = (uint16_t)e32;
		ck_assert(vqd_kick_needed(&q) == (e32 >= old32 && e32 < (int64_t)old32 + k));
		for (unsigned n = 0; n < k; n++)
			serve_one(&c);
		ck_assert_int_eq(vq_pop(&vq, &c), 0); /* idle: publishes avail_event */
		ck_assert_uint_eq(*used_avail_event, (uint16_t)(old32 + k));
		for (unsigned n = 0; n < k; n++)
			ck_assert_ptr_eq(vqd_get_used(&q, &len), token(n));
		old32 += k;
	}
}

START_TEST(split_avail_event_wraparound) { avail_event_crossing(1); }
END_TEST
START_TEST(split_avail_event_two_descriptor_buffers) { avail_event_crossing(2); }
END_TEST

/* Device idle after draining: exactly the first buffer of a batch kicks. */
static void device_idle_kicks(bool packed, uint16_t size)
{
	start(packed, size, F_EVENT);
	for (unsigned n = 0; n < 70000;) {
		unsigned k = 1 + rnd() % size;
		struct vq_chain c;
		uint32_t len;

		for (unsigned j = 0; j < k; j++) {
			struct vqd_buf o = buf(DATA_OFF, 4);
			ck_assert_int_eq(vqd_add(&q, &o, 1, NULL, 0, token(j), false), 0);
			ck_assert_msg(vqd_kick_needed(&q) == (j == 0), "buffer %u", n + j);
		}
		for (unsigned j = 0; j < k; j++)
			serve_one(&c);
		ck_assert_int_eq(vq_pop(&vq, &c), 0);
		for (unsigned j = 0; j < k; j++)
			ck_assert_ptr_eq(vqd_get_used(&q, &len), token(j));
		n += k;
	}
}

START_TEST(split_device_idle_kicks) { device_idle_kicks(false, 4); }
END_TEST
START_TEST(packed_device_idle_kicks) { device_idle_kicks(true, 6); }
END_TEST

/* Packed ring, raw driver event (off_wrap, DESC): positions are counted
 * as 32-bit slot numbers; the event is picked in the previous or the
 * current lap, which is what the wrap bit can express. */
START_TEST(packed_used_event_desc_laps)
{
	const uint16_t size = 7;
	struct vring_packed_desc_event *ev;
	uint32_t old32 = 0;

	start(true, size, F_EVENT | F_INDIR);
	ev = q.avail;
	vqd_disable_cb(&q); /* we write the driver event area by hand */
	while (old32 < 3000) {
		unsigned k = 1 + rnd() % 3, slots = 0;
		struct vq_chain c;
		uint32_t len;

		for (unsigned n = 0; n < k; n++) {
			unsigned ndesc = 1 + rnd() % 2;
			struct vqd_buf o[2] = { buf(DATA_OFF, 4), buf(DATA_OFF, 4) };
			ck_assert_int_eq(vqd_add(&q, o, ndesc, NULL, 0, token(n), false), 0);
			slots += ndesc;
		}
		for (unsigned n = 0; n < k; n++)
			serve_one(&c);
		uint32_t new32 = old32 + slots;
		int64_t lap_start = (int64_t)(new32 / size) * size;
		int64_t e32 = lap_start - size + (int64_t)(rnd() % (2 * size));
		if (e32 < 0)
			e32 += size;
		bool e_wrap = ((e32 / size) & 1) == 0; /* lap 0 has wrap counter 1 */
		ev->off_wrap = (uint16_t)((e32 % size) | (e_wrap ? 1u << 15 : 0));
		ev->flags = VRING_PACKED_EVENT_FLAG_DESC;
		bool expect = e32 >= old32 && e32 < new32;
		ck_assert_msg(vq_needs_interrupt(&vq) == expect, "old %u new %u event %lld", old32, new32,
			      (long long)e32);
		for (unsigned n = 0; n < k; n++)
			ck_assert_ptr_eq(vqd_get_used(&q, &len), token(n));
		old32 = new32;
	}
}
END_TEST

/* Packed ring, raw device event: the driver kicks exactly when crossing. */
START_TEST(packed_avail_event_desc_laps)
{
	const uint16_t size = 6;
	struct vring_packed_desc_event *ev;
	uint32_t old32 = 0;

	start(true, size, F_EVENT);
	ev = q.used;
	ck_assert(!vq_enable_notify(&vq, false));
	while (old32 < 3000) {
		unsigned k = 1 + rnd() % 5;
		struct vq_chain c;
		uint32_t len;

		for (unsigned n = 0; n < k; n++) {
			struct vqd_buf o = buf(DATA_OFF, 4);
			ck_assert_int_eq(vqd_add(&q, &o, 1, NULL, 0, token(n), false), 0);
		}
		uint32_t new32 = old32 + k;
		int64_t lap_start = (int64_t)(new32 / size) * size;
		int64_t e32 = lap_start - size + (int64_t)(rnd() % (2 * size));
		if (e32 < 0)
			e32 += size;
		bool e_wrap = ((e32 / size) & 1) == 0;
		ev->off_wrap = (uint16_t)((e32 % size) | (e_wrap ? 1u << 15 : 0));
		ev->flags = VRING_PACKED_EVENT_FLAG_DESC;
		ck_assert(vqd_kick_needed(&q) == (e32 >= old32 && e32 < new32));
		for (unsigned n = 0; n < k; n++)
			serve_one(&c);
		for (unsigned n = 0; n < k; n++)
			ck_assert_ptr_eq(vqd_get_used(&q, &len), token(n));
		old32 = new32;
	}
}
END_TEST

START_TEST(driver_rejects_bad_used_id)
{
	struct vring_used *used;
	uint32_t len;

	start(false, 8, 0);
	used = q.used;
	used->ring[0].id = 8;
	used->idx = 1;
	ck_assert_ptr_null(vqd_get_used(&q, &len));
	ck_assert(q.broken);
}
END_TEST

START_TEST(reset_and_reenable_after_break)
{
	struct vq_chain c;
	uint16_t *avail;

	start(false, 8, 0);
	avail = q.avail;
	avail[2] = 99; /* head out of range */
	avail[1] = 1;
	ck_assert_int_eq(vq_pop(&vq, &c), -EIO);
	ck_assert_str_eq(vq.broken_why, "head index 99, queue size 8"); /* for the device core's log line */
	/* What a driver does after DEVICE_NEEDS_RESET: reset, set up again. */
	vq_reset(&vq);
	ck_assert(!vq.broken && !vq.ready);
	start(false, 8, 0);
	round_trip(4, 4, false);
}
END_TEST

/* ---- hostile drivers: hand-written rings ---- */

#define TABLE_OFF 0x60000 /* indirect tables written by hand */

static struct vring_desc *sdesc_at(uint64_t off, unsigned i)
{
	return (struct vring_desc *)(ram + off) + i;
}

static void sdesc(unsigned i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	*((struct vring_desc *)q.desc + i) = (struct vring_desc){ addr, len, flags, next };
}

static void stable(unsigned i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	*sdesc_at(TABLE_OFF, i) = (struct vring_desc){ addr, len, flags, next };
}

/* Make `head` available on the split ring, as a driver would. */
static void savail(uint16_t head)
{
	struct vring_avail *a = q.avail;

	a->ring[a->idx & (q.size - 1)] = head;
	a->idx++;
}

/* Packed descriptor available in the first lap (wrap counter 1). */
static void pdesc(unsigned slot, uint64_t addr, uint32_t len, uint16_t id, uint16_t flags)
{
	*((struct vring_packed_desc *)q.desc + slot) =
		(struct vring_packed_desc){ addr, len, id, (uint16_t)(flags | PACKED_AVAIL) };
}

static void ptable(unsigned i, uint64_t addr, uint32_t len, uint16_t flags)
{
	*((struct vring_packed_desc *)(ram + TABLE_OFF) + i) = (struct vring_packed_desc){ addr, len, 0, flags };
}

/* The queue must refuse the first chain and then do nothing at all: no
 * byte of guest RAM changes (nor the canaries), even though a valid chain
 * is made available after the bad one and the device keeps trying. */
static void expect_broken(void)
{
	uint8_t *before = malloc(RAM_SIZE);
	struct vq_chain c;

	ck_assert_ptr_nonnull(before);
	if (!vq.packed) {
		/* A well-formed chain after the bad one. */
		sdesc(q.size - 1, gpa(DATA_OFF), 16, VRING_DESC_F_WRITE, 0);
		savail(q.size - 1);
	}
	memcpy(before, ram, RAM_SIZE);
	ck_assert_int_eq(vq_pop(&vq, &c), -EIO);
	ck_assert(vq.broken);
	for (int k = 0; k < 3; k++) {
		ck_assert_int_eq(vq_pop(&vq, &c), -EIO);
		vq_push(&vq, &c, 16);
		ck_assert(!vq_needs_interrupt(&vq));
		ck_assert(!vq_enable_notify(&vq, true));
	}
	ck_assert(memcmp(before, ram, RAM_SIZE) == 0);
	assert_canaries();
	free(before);
}

START_TEST(bad_cyclic_chain)
{
	start(false, 8, 0);
	sdesc(0, gpa(DATA_OFF), 16, VRING_DESC_F_NEXT, 1);
	sdesc(1, gpa(DATA_OFF), 16, VRING_DESC_F_NEXT, 2);
	sdesc(2, gpa(DATA_OFF), 16, VRING_DESC_F_NEXT, 0);
	savail(0);
	expect_broken();
}
END_TEST

START_TEST(bad_self_loop)
{
	start(false, 8, 0);
	sdesc(3, gpa(DATA_OFF), 0, VRING_DESC_F_NEXT, 3); /* zero length still counts */
	savail(3);
	expect_broken();
}
END_TEST

START_TEST(bad_next_out_of_range)
{
	start(false, 8, 0);
	sdesc(0, gpa(DATA_OFF), 16, VRING_DESC_F_NEXT, 8);
	savail(0);
	expect_broken();
}
END_TEST

START_TEST(bad_head_out_of_range)
{
	start(false, 8, 0);
	savail(8);
	expect_broken();
}
END_TEST

START_TEST(bad_addr_outside_ram)
{
	start(false, 8, 0);
	sdesc(0, RAM_GPA - 16, 16, VRING_DESC_F_WRITE, 0); /* just below RAM */
	savail(0);
	expect_broken();
}
END_TEST

START_TEST(bad_addr_len_overflow)
{
	start(false, 8, 0);
	sdesc(0, UINT64_MAX - 7, 16, VRING_DESC_F_WRITE, 0);
	savail(0);
	expect_broken();
}
END_TEST

START_TEST(bad_len_crosses_ram_end)
{
	start(false, 8, 0);
	sdesc(0, gpa(DATA_OFF), 16, VRING_DESC_F_NEXT, 1);
	sdesc(1, gpa(RAM_SIZE - 8), 16, VRING_DESC_F_WRITE, 0);
	savail(0);
	expect_broken();
}
END_TEST

START_TEST(bad_nested_indirect)
{
	start(false, 8, F_INDIR);
	stable(0, gpa(DATA_OFF), 16, VRING_DESC_F_NEXT, 1);
	stable(1, gpa(TABLE_OFF), 32, VRING_DESC_F_INDIRECT, 0);
	sdesc(0, gpa(TABLE_OFF), 32, VRING_DESC_F_INDIRECT, 0);
	savail(0);
	expect_broken();
}
END_TEST

START_TEST(bad_indirect_len_not_multiple)
{
	start(false, 8, F_INDIR);
	stable(0, gpa(DATA_OFF), 16, 0, 0);
	sdesc(0, gpa(TABLE_OFF), 24, VRING_DESC_F_INDIRECT, 0);
	savail(0);
	expect_broken();
}
END_TEST

START_TEST(bad_indirect_len_zero)
{
	start(false, 8, F_INDIR);
	sdesc(0, gpa(TABLE_OFF), 0, VRING_DESC_F_INDIRECT, 0);
	savail(0);
	expect_broken();
}
END_TEST

START_TEST(bad_indirect_without_feature)
{
	start(false, 8, 0);
	stable(0, gpa(DATA_OFF), 16, 0, 0);
	sdesc(0, gpa(TABLE_OFF), 16, VRING_DESC_F_INDIRECT, 0);
	savail(0);
	expect_broken();
}
END_TEST

START_TEST(bad_indirect_table_outside_ram)
{
	start(false, 8, F_INDIR);
	sdesc(0, gpa(RAM_SIZE - 16), 32, VRING_DESC_F_INDIRECT, 0);
	savail(0);
	expect_broken();
}
END_TEST

START_TEST(bad_indirect_with_next)
{
	start(false, 8, F_INDIR);
	stable(0, gpa(DATA_OFF), 16, 0, 0);
	sdesc(0, gpa(TABLE_OFF), 16, VRING_DESC_F_INDIRECT | VRING_DESC_F_NEXT, 1);
	sdesc(1, gpa(DATA_OFF), 16, 0, 0);
	savail(0);
	expect_broken();
}
END_TEST

START_TEST(bad_indirect_next_out_of_table)
{
	start(false, 8, F_INDIR);
	stable(0, gpa(DATA_OFF), 16, VRING_DESC_F_NEXT, 2); /* the table has 2 entries */
	stable(1, gpa(DATA_OFF), 16, 0, 0);
	sdesc(0, gpa(TABLE_OFF), 32, VRING_DESC_F_INDIRECT, 0);
	savail(0);
	expect_broken();
}
END_TEST

START_TEST(bad_indirect_cycle)
{
	start(false, 8, F_INDIR);
	stable(0, gpa(DATA_OFF), 16, VRING_DESC_F_NEXT, 1);
	stable(1, gpa(DATA_OFF), 16, VRING_DESC_F_NEXT, 0);
	sdesc(0, gpa(TABLE_OFF), 32, VRING_DESC_F_INDIRECT, 0);
	savail(0);
	expect_broken();
}
END_TEST

START_TEST(bad_out_after_in)
{
	start(false, 8, 0);
	sdesc(0, gpa(DATA_OFF), 16, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 1);
	sdesc(1, gpa(DATA_OFF + 64), 16, 0, 0);
	savail(0);
	expect_broken();
}
END_TEST

/* Ring descriptor head points at an indirect table of n chained entries
 * (8 bytes each); entries after the first are device-writable if asked. */
static void split_indirect_of(unsigned head, unsigned n, bool in_after_first)
{
	for (unsigned k = 0; k < n; k++)
		stable(k, gpa(DATA_OFF + 8 * k), 8,
		       (k + 1 < n ? VRING_DESC_F_NEXT : 0) | (in_after_first && k ? VRING_DESC_F_WRITE : 0), k + 1);
	sdesc(head, gpa(TABLE_OFF), n * 16, VRING_DESC_F_INDIRECT, 0);
	savail(head);
}

START_TEST(bad_indirect_longer_than_queue)
{
	struct vq_chain c;

	start(false, 8, F_INDIR);
	/* 8 chained entries are fine... */
	split_indirect_of(0, 8, false);
	ck_assert_int_eq(vq_pop(&vq, &c), 1);
	ck_assert_uint_eq(c.nout, 8);
	/* ...9 are more than the queue size. */
	split_indirect_of(1, 9, false);
	expect_broken();
}
END_TEST

START_TEST(bad_too_many_segments)
{
	struct vq_chain c;

	start(false, 256, F_INDIR);
	vq.max_chain = 2 * VQ_MAX_SEGS + 1; /* the chain length is not what stops it */
	/* VQ_MAX_SEGS each way is the limit... */
	for (int k = 0; k < 2 * VQ_MAX_SEGS; k++)
		stable(k, gpa(DATA_OFF + k), 1, (k < 2 * VQ_MAX_SEGS - 1 ? VRING_DESC_F_NEXT : 0) |
						    (k >= VQ_MAX_SEGS ? VRING_DESC_F_WRITE : 0), k + 1);
	sdesc(0, gpa(TABLE_OFF), 2 * VQ_MAX_SEGS * 16, VRING_DESC_F_INDIRECT, 0);
	savail(0);
	ck_assert_int_eq(vq_pop(&vq, &c), 1);
	ck_assert_uint_eq(c.nout, VQ_MAX_SEGS);
	ck_assert_uint_eq(c.nin, VQ_MAX_SEGS);
	/* ...one more is too many. */
	for (int k = 0; k < VQ_MAX_SEGS + 1; k++)
		stable(k, gpa(DATA_OFF + k), 1, k < VQ_MAX_SEGS ? VRING_DESC_F_NEXT : 0, k + 1);
	sdesc(1, gpa(TABLE_OFF), (VQ_MAX_SEGS + 1) * 16, VRING_DESC_F_INDIRECT, 0);
	savail(1);
	expect_broken();
}
END_TEST

START_TEST(bad_avail_idx_jump)
{
	struct vring_avail *a;
	struct vq_chain c;

	start(false, 8, 0);
	a = q.avail;
	for (int k = 0; k < 8; k++)
		sdesc(k, gpa(DATA_OFF), 4, 0, 0);
	a->idx = 8; /* a full ring is fine */
	for (int k = 0; k < 8; k++) {
		ck_assert_int_eq(vq_pop(&vq, &c), 1);
		vq_push(&vq, &c, 0);
	}
	a->idx = 8 + 9; /* nine more than we have seen: impossible */
	expect_broken();
}
END_TEST

START_TEST(bad_packed_id_out_of_range)
{
	start(true, 8, 0);
	pdesc(0, gpa(DATA_OFF), 16, 8, 0);
	expect_broken();
}
END_TEST

START_TEST(bad_packed_chain_longer_than_ring)
{
	start(true, 4, 0);
	for (int k = 0; k < 4; k++)
		pdesc(k, gpa(DATA_OFF), 16, 0, VRING_DESC_F_NEXT);
	expect_broken();
}
END_TEST

START_TEST(bad_packed_nested_indirect)
{
	start(true, 8, F_INDIR);
	ptable(0, gpa(DATA_OFF), 16, 0);
	ptable(1, gpa(TABLE_OFF), 16, VRING_DESC_F_INDIRECT);
	pdesc(0, gpa(TABLE_OFF), 32, 0, VRING_DESC_F_INDIRECT);
	expect_broken();
}
END_TEST

START_TEST(bad_packed_indirect_without_feature)
{
	start(true, 8, 0);
	ptable(0, gpa(DATA_OFF), 16, 0);
	pdesc(0, gpa(TABLE_OFF), 16, 0, VRING_DESC_F_INDIRECT);
	expect_broken();
}
END_TEST

START_TEST(bad_packed_indirect_in_chain)
{
	start(true, 8, F_INDIR);
	ptable(0, gpa(DATA_OFF), 16, 0);
	pdesc(0, gpa(DATA_OFF), 16, 0, VRING_DESC_F_NEXT);
	pdesc(1, gpa(TABLE_OFF), 16, 0, VRING_DESC_F_INDIRECT);
	expect_broken();
}
END_TEST

START_TEST(bad_packed_indirect_len)
{
	start(true, 8, F_INDIR);
	ptable(0, gpa(DATA_OFF), 16, 0);
	pdesc(0, gpa(TABLE_OFF), 20, 0, VRING_DESC_F_INDIRECT);
	expect_broken();
}
END_TEST

/* The packed ring's slot 0 holds an indirect table of n 16-byte buffers. */
static void packed_indirect_of(unsigned n, uint16_t flags)
{
	for (unsigned k = 0; k < n; k++)
		ptable(k, gpa(DATA_OFF + 16 * k), 16, flags);
	pdesc(0, gpa(TABLE_OFF), n * 16, 0, VRING_DESC_F_INDIRECT);
}

START_TEST(bad_packed_indirect_longer_than_queue)
{
	start(true, 4, F_INDIR);
	packed_indirect_of(5, 0);
	expect_broken();
}
END_TEST

START_TEST(bad_packed_addr_outside_ram)
{
	start(true, 8, 0);
	pdesc(0, gpa(DATA_OFF), 16, 0, VRING_DESC_F_NEXT);
	pdesc(1, gpa(RAM_SIZE), 1, 0, VRING_DESC_F_WRITE); /* first byte past RAM */
	expect_broken();
}
END_TEST

START_TEST(bad_packed_out_after_in)
{
	start(true, 8, 0);
	pdesc(0, gpa(DATA_OFF), 16, 0, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE);
	pdesc(1, gpa(DATA_OFF), 16, 0, 0);
	expect_broken();
}
END_TEST

/* Linux sizes an indirect table by the device's seg_max, not by the ring:
 * a device that sets max_chain accepts a table that long on a shorter
 * ring, and still refuses one entry more. */
START_TEST(max_chain_allows_indirect_longer_than_ring)
{
	struct vq_chain c;

	start(false, 8, F_INDIR);
	vq.max_chain = 130; /* e.g. virtio-blk seg_max 128 + header + status */
	split_indirect_of(0, 130, true);
	ck_assert_int_eq(vq_pop(&vq, &c), 1);
	ck_assert_uint_eq(c.nout, 1);
	ck_assert_uint_eq(c.nin, 129);
	ck_assert_uint_eq(c.ndesc, 1);
	/* 131 is one too many. */
	split_indirect_of(1, 131, true);
	expect_broken();
}
END_TEST

START_TEST(max_chain_survives_reset_and_bounds_packed_tables)
{
	start(true, 4, F_INDIR);
	vq.max_chain = 6;
	vq_reset(&vq); /* device policy: kept */
	ck_assert_uint_eq(vq.max_chain, 6);
	start(true, 4, F_INDIR);
	vq.max_chain = 6;
	packed_indirect_of(7, 0);
	expect_broken();
}
END_TEST

START_TEST(packed_max_chain_accepts_long_table)
{
	struct vq_chain c;

	start(true, 4, F_INDIR);
	vq.max_chain = 6;
	packed_indirect_of(6, VRING_DESC_F_WRITE);
	ck_assert_int_eq(vq_pop(&vq, &c), 1);
	ck_assert_uint_eq(c.nin, 6);
}
END_TEST

/* The iovec view points into guest RAM itself: no copy. */
START_TEST(chain_iov_maps_guest_ram)
{
	struct vq_chain c;
	struct iovec iov[4];

	start(false, 8, 0);
	sdesc(0, gpa(DATA_OFF), 16, VRING_DESC_F_NEXT, 1);
	sdesc(1, gpa(DATA_OFF + 0x100), 32, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 2);
	sdesc(2, gpa(DATA_OFF + 0x200), 8, VRING_DESC_F_WRITE, 0);
	savail(0);
	ck_assert_int_eq(vq_pop(&vq, &c), 1);
	ck_assert_int_eq(vq_chain_iov(&vq, &c, false, iov, 4), 1);
	ck_assert_ptr_eq(iov[0].iov_base, ram + DATA_OFF);
	ck_assert_uint_eq(iov[0].iov_len, 16);
	ck_assert_int_eq(vq_chain_iov(&vq, &c, true, iov, 4), 2);
	ck_assert_ptr_eq(iov[1].iov_base, ram + DATA_OFF + 0x200);
	ck_assert_uint_eq(iov[1].iov_len, 8);
	ck_assert_int_eq(vq_chain_iov(&vq, &c, true, iov, 1), -ENOSPC);
}
END_TEST

/* A direct chain may end in an indirect table (the spec requires devices
 * to accept it); the table's WRITE flag is ignored. */
START_TEST(split_direct_then_indirect)
{
	struct vq_chain c;

	start(false, 8, F_INDIR);
	stable(0, gpa(DATA_OFF + 32), 8, VRING_DESC_F_NEXT, 1);
	stable(1, gpa(DATA_OFF + 64), 8, VRING_DESC_F_WRITE, 0);
	sdesc(2, gpa(DATA_OFF), 4, VRING_DESC_F_NEXT, 5);
	sdesc(5, gpa(TABLE_OFF), 32, VRING_DESC_F_INDIRECT | VRING_DESC_F_WRITE, 0);
	savail(2);
	ck_assert_int_eq(vq_pop(&vq, &c), 1);
	ck_assert_uint_eq(c.id, 2);
	ck_assert_uint_eq(c.ndesc, 2);
	ck_assert_uint_eq(c.nout, 2);
	ck_assert_uint_eq(c.nin, 1);
	ck_assert_uint_eq(c.out_bytes, 12);
	ck_assert_uint_eq(c.in[0].addr, gpa(DATA_OFF + 64));
}
END_TEST

/* A chain exactly as long as the queue is allowed; a region boundary
 * (second RAM region) is respected too. */
START_TEST(split_chain_of_queue_size)
{
	struct vq_chain c;

	start(false, 4, 0);
	for (int k = 0; k < 4; k++)
		sdesc(k, gpa(DATA_OFF + 16 * k), 16, k < 3 ? VRING_DESC_F_NEXT : 0, k + 1);
	savail(0);
	ck_assert_int_eq(vq_pop(&vq, &c), 1);
	ck_assert_uint_eq(c.nout, 4);
	ck_assert_uint_eq(c.ndesc, 4);
	/* The last byte of RAM is usable; one more is not. */
	sdesc(0, gpa(RAM_SIZE - 1), 1, VRING_DESC_F_WRITE, 0);
	savail(0);
	ck_assert_int_eq(vq_pop(&vq, &c), 1);
	ck_assert_uint_eq(vq_chain_write(&vq, &c, 0, "x", 2), 1);
	ck_assert_uint_eq(ram[RAM_SIZE - 1], 'x');
}
END_TEST

/* ---- chains the ring did not give out ----
 * A device handing back a chain popped before the queue was restarted
 * (issue 17), or the same chain twice, or one it made up: the engine
 * refuses it, writes nothing and stops the queue; above all the used
 * index never leaves the ring. */

#define RESTART_OFF 0x40000 /* where the driver lays out its second ring */

/* The driver stops the queue and starts it again on a fresh packed ring
 * of `size` slots whose descriptors are the last bytes of RAM. */
static void restart_packed_at_ram_end(uint16_t size)
{
	ck_assert_int_eq(vqd_init_packed(&q, size, ram + RESTART_OFF, gpa(RESTART_OFF), 0), 0);
	q.desc = ram + RAM_SIZE - 16u * size;
	q.desc_gpa = gpa(RAM_SIZE - 16u * size);
	memset(q.desc, 0, 16u * size);
	device_start(true, 0);
}

/* The reviewer's reproducer at the engine: a 15-descriptor chain held
 * across a restart onto a one-slot ring at the end of RAM. */
START_TEST(held_packed_chain_stays_inside_smaller_ring)
{
	struct vqd_buf o[15];
	struct vq_chain held, fresh;
	uint32_t len;

	for (unsigned i = 0; i < 15; i++)
		o[i] = buf(DATA_OFF + 16 * i, 4);
	start(true, 16, 0);
	ck_assert_int_eq(vqd_add(&q, o, 15, NULL, 0, token(1), false), 0);
	ck_assert_int_eq(vq_pop(&vq, &held), 1);
	ck_assert_uint_eq(held.ndesc, 15);

	restart_packed_at_ram_end(1);
	vq_push(&vq, &held, 0);
	ck_assert_int_eq(vqd_add(&q, o, 1, NULL, 0, token(2), false), 0);
	if (vq_pop(&vq, &fresh) == 1)
		vq_push(&vq, &fresh, 0);

	assert_canaries(); /* nothing written past the ring, i.e. past RAM */
	ck_assert_uint_lt(vq.used_idx, vq.size);
	ck_assert(vq.broken);
	ck_assert_ptr_null(vqd_get_used(&q, &len));
	ck_assert(!q.broken);
}
END_TEST

/* Split rings mask their indices, but an id from the old ring must not
 * reach the new one. */
START_TEST(held_split_id_outside_smaller_ring_refused)
{
	struct vq_chain held[8];
	uint32_t len;

	start(false, 16, 0);
	for (unsigned i = 0; i < 8; i++) {
		ck_assert_int_eq(vqd_add(&q, NULL, 0, &(struct vqd_buf){ gpa(DATA_OFF), 4 }, 1, token(i), false), 0);
		ck_assert_int_eq(vq_pop(&vq, &held[i]), 1);
	}
	ck_assert_uint_ge(held[7].id, 4);
	start_at(false, 4, 0, RESTART_OFF);
	vq_push(&vq, &held[7], 4);
	ck_assert(vq.broken);
	ck_assert_uint_eq(((struct vring_used *)q.used)->idx, 0);
	ck_assert_ptr_null(vqd_get_used(&q, &len));
}
END_TEST

/* The same chain pushed twice: the second time hands back descriptors
 * the driver never made available again. */
static void push_twice(bool packed)
{
	struct vq_chain c;
	uint32_t len;

	start(packed, 8, 0);
	ck_assert_int_eq(vqd_add(&q, NULL, 0, &(struct vqd_buf){ gpa(DATA_OFF), 4 }, 1, token(1), false), 0);
	ck_assert_int_eq(vq_pop(&vq, &c), 1);
	vq_push(&vq, &c, 4);
	ck_assert(!vq.broken);
	ck_assert_ptr_eq(vqd_get_used(&q, &len), token(1));
	vq_push(&vq, &c, 4);
	ck_assert(vq.broken);
	ck_assert_ptr_null(vqd_get_used(&q, &len));
	ck_assert(!q.broken);
}

START_TEST(split_push_twice_refused) { push_twice(false); }
END_TEST
START_TEST(packed_push_twice_refused) { push_twice(true); }
END_TEST

/* Unpopping a chain longer than the ring would move the packed avail
 * slot out of the ring. */
START_TEST(packed_unpop_longer_than_ring_refused)
{
	struct vq_chain c;

	start(true, 4, 0);
	ck_assert_int_eq(vqd_add(&q, NULL, 0, &(struct vqd_buf){ gpa(DATA_OFF), 4 }, 1, token(1), false), 0);
	ck_assert_int_eq(vq_pop(&vq, &c), 1);
	c.ndesc = 5;
	vq_unpop(&vq, &c);
	ck_assert(vq.broken);
	ck_assert_uint_lt(vq.last_avail, vq.size);
}
END_TEST

/* A batch is checked whole before anything is written. */
START_TEST(batch_with_one_foreign_chain_writes_nothing)
{
	struct vq_chain c[2];
	const struct vq_chain *chains[2] = { &c[0], &c[1] };
	const uint32_t written[2] = { 4, 4 };
	uint8_t *before = malloc(RAM_SIZE);

	ck_assert_ptr_nonnull(before);
	start(true, 8, 0);
	for (unsigned i = 0; i < 2; i++) {
		ck_assert_int_eq(vqd_add(&q, NULL, 0, &(struct vqd_buf){ gpa(DATA_OFF), 4 }, 1, token(i + 1), false),
				 0);
		ck_assert_int_eq(vq_pop(&vq, &c[i]), 1);
	}
	c[1].id = 8; /* not an id of this ring */
	memcpy(before, ram, RAM_SIZE);
	vq_push_batch(&vq, chains, written, 2);
	ck_assert(vq.broken);
	ck_assert(memcmp(before, ram, RAM_SIZE) == 0);
	free(before);
}
END_TEST

Suite *virtqueue_suite(void)
{
	Suite *s = suite_create("virtqueue");
	TCase *tc;

	tc = tcase_create("setup");
	tcase_add_checked_fixture(tc, ram_setup, ram_teardown);
	tcase_add_test(tc, split_sizes);
	tcase_add_test(tc, enable_bad_size);
	tcase_add_test(tc, enable_rings_outside_ram);
	tcase_add_test(tc, enable_misaligned);
	tcase_add_test(tc, pop_before_enable);
	tcase_add_test(tc, reset_and_reenable_after_break);
	suite_add_tcase(s, tc);

	tc = tcase_create("traffic");
	tcase_add_checked_fixture(tc, ram_setup, ram_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, split_single_out);
	tcase_add_test(tc, split_single_in);
	tcase_add_test(tc, split_multi_segment);
	tcase_add_test(tc, split_indirect);
	tcase_add_test(tc, packed_multi_segment);
	tcase_add_test(tc, packed_indirect);
	tcase_add_test(tc, split_out_of_order);
	tcase_add_test(tc, packed_out_of_order);
	tcase_add_test(tc, split_full_ring);
	tcase_add_test(tc, split_avail_count);
	tcase_add_test(tc, packed_avail_count);
	tcase_add_test(tc, packed_full_ring);
	tcase_add_test(tc, zero_length_skipped);
	tcase_add_test(tc, push_clamps_written);
	tcase_add_test(tc, split_many_laps);
	tcase_add_test(tc, packed_many_laps);
	tcase_add_test(tc, indirect_needs_feature_driver_falls_back);
	tcase_add_test(tc, split_direct_then_indirect);
	tcase_add_test(tc, split_chain_of_queue_size);
	tcase_add_test(tc, split_unpop);
	tcase_add_test(tc, packed_unpop_across_wrap);
	tcase_add_test(tc, driver_rejects_bad_used_id);
	suite_add_tcase(s, tc);

	tc = tcase_create("suppression");
	tcase_add_checked_fixture(tc, ram_setup, ram_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, split_no_interrupt_flag);
	tcase_add_test(tc, packed_interrupt_disable_flag);
	tcase_add_test(tc, split_no_notify_flag);
	tcase_add_test(tc, packed_notify_disable_flag);
	tcase_add_test(tc, split_avail_event_enable_notify);
	tcase_add_test(tc, packed_desc_event_enable_notify);
	tcase_add_test(tc, split_event_idx_ignores_flags);
	tcase_add_test(tc, split_used_event_wraparound);
	tcase_add_test(tc, split_driver_waits_wraparound);
	tcase_add_test(tc, packed_driver_waits_wraparound);
	tcase_add_test(tc, split_avail_event_wraparound);
	tcase_add_test(tc, split_avail_event_two_descriptor_buffers);
	tcase_add_test(tc, split_device_idle_kicks);
	tcase_add_test(tc, packed_device_idle_kicks);
	tcase_add_test(tc, packed_used_event_desc_laps);
	tcase_add_test(tc, packed_avail_event_desc_laps);
	suite_add_tcase(s, tc);

	tc = tcase_create("hostile");
	tcase_add_checked_fixture(tc, ram_setup, ram_teardown);
	tcase_add_test(tc, bad_cyclic_chain);
	tcase_add_test(tc, bad_self_loop);
	tcase_add_test(tc, bad_next_out_of_range);
	tcase_add_test(tc, bad_head_out_of_range);
	tcase_add_test(tc, bad_addr_outside_ram);
	tcase_add_test(tc, bad_addr_len_overflow);
	tcase_add_test(tc, bad_len_crosses_ram_end);
	tcase_add_test(tc, bad_nested_indirect);
	tcase_add_test(tc, bad_indirect_len_not_multiple);
	tcase_add_test(tc, bad_indirect_len_zero);
	tcase_add_test(tc, bad_indirect_without_feature);
	tcase_add_test(tc, bad_indirect_table_outside_ram);
	tcase_add_test(tc, bad_indirect_with_next);
	tcase_add_test(tc, bad_indirect_next_out_of_table);
	tcase_add_test(tc, bad_indirect_cycle);
	tcase_add_test(tc, bad_out_after_in);
	tcase_add_test(tc, bad_indirect_longer_than_queue);
	tcase_add_test(tc, bad_too_many_segments);
	tcase_add_test(tc, bad_avail_idx_jump);
	tcase_add_test(tc, bad_packed_id_out_of_range);
	tcase_add_test(tc, bad_packed_chain_longer_than_ring);
	tcase_add_test(tc, bad_packed_nested_indirect);
	tcase_add_test(tc, bad_packed_indirect_without_feature);
	tcase_add_test(tc, bad_packed_indirect_in_chain);
	tcase_add_test(tc, bad_packed_indirect_len);
	tcase_add_test(tc, bad_packed_indirect_longer_than_queue);
	tcase_add_test(tc, max_chain_allows_indirect_longer_than_ring);
	tcase_add_test(tc, max_chain_survives_reset_and_bounds_packed_tables);
	tcase_add_test(tc, packed_max_chain_accepts_long_table);
	tcase_add_test(tc, chain_iov_maps_guest_ram);
	tcase_add_test(tc, bad_packed_addr_outside_ram);
	tcase_add_test(tc, bad_packed_out_after_in);
	suite_add_tcase(s, tc);

	tc = tcase_create("foreign-chains");
	tcase_add_checked_fixture(tc, ram_setup, ram_teardown);
	tcase_add_test(tc, held_packed_chain_stays_inside_smaller_ring);
	tcase_add_test(tc, held_split_id_outside_smaller_ring_refused);
	tcase_add_test(tc, split_push_twice_refused);
	tcase_add_test(tc, packed_push_twice_refused);
	tcase_add_test(tc, packed_unpop_longer_than_ring_refused);
	tcase_add_test(tc, batch_with_one_foreign_chain_writes_nothing);
	suite_add_tcase(s, tc);

	return s;
}

#ifndef SKIFF_UNIT_NO_MAIN
int main(void)
{
	SRunner *sr = srunner_create(virtqueue_suite());
	int failed;

	log_threshold = LOG_ERROR; /* the hostile cases log warnings on purpose */
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
#endif
