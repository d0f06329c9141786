/* Unit tests for unpacking a bzImage payload on the host
 * (kvm/x86/bzimage-unpack.c) and booting the result as an ELF
 * (kernel_image_unpack in kvm/x86/kernel-load.c). Payloads are
 * compressed here with the same libraries, the way the kernel build
 * frames them (the uncompressed size appended, lz4 in its legacy frame).
 * Valid, truncated, corrupt, oversized and unknown payloads; and, when
 * the Debian images are cached, the real bzImage against the vmlinux
 * guest-images/fetch-debian-kernel.sh unpacked from it. */
#include <bzlib.h>
#include <check.h>
#include <elf.h>
#include <errno.h>
#include <lz4.h>
#include <lz4hc.h>
#include <lzma.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "base/guest-mem.h"
#include "kvm/x86/boot-params.h"
#include "kvm/x86/bzimage-unpack.h"
#include "kvm/x86/kernel-load.h"
#include "kvm/x86/layout.h"
#include "tests/unit/check-run.h"
#include "tests/unit/elf-header.h"

#define MiB (1ULL << 20)

static char why[256];

/* ---- sample data and compressors ---- */

#define SAMPLE_LEN (300 * 1024)
static uint8_t sample[SAMPLE_LEN];

/* Compressible but not trivial: text-like runs with a PRNG mixed in. */
static void make_sample(void)
{
	uint32_t x = 12345;

	for (size_t i = 0; i < SAMPLE_LEN; i++) {
		x = x * 1103515245u + 12345u;
		sample[i] = (i % 97 < 60) ? (uint8_t)("skiff unpacks bzImages "[i % 23]) : (uint8_t)(x >> 24);
	}
}

struct buf {
	uint8_t *p;
	size_t len;
};

static struct buf buf_alloc(size_t cap)
{
	struct buf b = {.p = malloc(cap), .len = 0};
	ck_assert_ptr_nonnull(b.p);
	return b;
}

static void put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* What the kernel's size_append does: 4 little-endian bytes. */
static void append_size(struct buf *b, uint32_t size)
{
	put_le32(b->p + b->len, size);
	b->len += 4;
}

static struct buf compress_gzip(const uint8_t *in, size_t len)
{
	struct buf b = buf_alloc(compressBound(len) + 64);
	z_stream zs;

	memset(&zs, 0, sizeof(zs));
	ck_assert_int_eq(deflateInit2(&zs, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
	zs.next_in = (Bytef *)in;
	zs.avail_in = (uInt)len;
	zs.next_out = b.p;
	zs.avail_out = (uInt)(compressBound(len) + 64);
	ck_assert_int_eq(deflate(&zs, Z_FINISH), Z_STREAM_END);
	b.len = zs.total_out;
	deflateEnd(&zs);
	return b; /* gzip's trailer already ends with the size */
}

/* xz as scripts/xz_wrap.sh makes it: x86 BCJ filter, LZMA2, CRC32. */
static struct buf compress_xz(const uint8_t *in, size_t len)
{
	struct buf b = buf_alloc(lzma_stream_buffer_bound(len) + 4);
	lzma_options_lzma opt;
	lzma_filter filters[] = {
	    {.id = LZMA_FILTER_X86, .options = NULL},
	    {.id = LZMA_FILTER_LZMA2, .options = &opt},
	    {.id = LZMA_VLI_UNKNOWN, .options = NULL},
	};

	ck_assert(!lzma_lzma_preset(&opt, 6));
	ck_assert_int_eq(lzma_stream_buffer_encode(filters, LZMA_CHECK_CRC32, NULL, in, len, b.p, &b.len,
	                                           lzma_stream_buffer_bound(len)),
	                 LZMA_OK);
	append_size(&b, (uint32_t)len);
	return b;
}

static struct buf compress_lzma(const uint8_t *in, size_t len)
{
	size_t cap = lzma_stream_buffer_bound(len) + 64;
	struct buf b = buf_alloc(cap + 4);
	lzma_stream ls = LZMA_STREAM_INIT;
	lzma_options_lzma opt;

	ck_assert(!lzma_lzma_preset(&opt, 6));
	ck_assert_int_eq(lzma_alone_encoder(&ls, &opt), LZMA_OK);
	ls.next_in = in;
	ls.avail_in = len;
	ls.next_out = b.p;
	ls.avail_out = cap;
	ck_assert_int_eq(lzma_code(&ls, LZMA_FINISH), LZMA_STREAM_END);
	b.len = ls.total_out;
	lzma_end(&ls);
	append_size(&b, (uint32_t)len);
	return b;
}

static struct buf compress_zstd(const uint8_t *in, size_t len)
{
	struct buf b = buf_alloc(ZSTD_compressBound(len) + 4);
	ZSTD_CCtx *cc = ZSTD_createCCtx();

	ck_assert_ptr_nonnull(cc);
	ZSTD_CCtx_setParameter(cc, ZSTD_c_compressionLevel, 19);
	ZSTD_CCtx_setParameter(cc, ZSTD_c_checksumFlag, 1);
	b.len = ZSTD_compress2(cc, b.p, ZSTD_compressBound(len), in, len);
	ck_assert(!ZSTD_isError(b.len));
	ZSTD_freeCCtx(cc);
	append_size(&b, (uint32_t)len);
	return b;
}

/* The legacy lz4 frame, in blocks of `block` uncompressed bytes, with
 * the magic repeated after the first block as in concatenated frames. */
static struct buf compress_lz4_blocks(const uint8_t *in, size_t len, size_t block)
{
	size_t nblocks = (len + block - 1) / block;
	struct buf b = buf_alloc(8 + nblocks * (8 + (size_t)LZ4_compressBound((int)block)) + 4);

	put_le32(b.p, 0x184c2102u);
	b.len = 4;
	for (size_t off = 0; off < len; off += block) {
		size_t n = len - off < block ? len - off : block;
		if (off == block) {
			put_le32(b.p + b.len, 0x184c2102u);
			b.len += 4;
		}
		int got = LZ4_compress_HC((const char *)in + off, (char *)b.p + b.len + 4, (int)n,
		                          LZ4_compressBound((int)n), 9);
		ck_assert_int_gt(got, 0);
		put_le32(b.p + b.len, (uint32_t)got);
		b.len += 4 + (size_t)got;
	}
	append_size(&b, (uint32_t)len);
	return b;
}

static struct buf compress_lz4(const uint8_t *in, size_t len)
{
	return compress_lz4_blocks(in, len, 64 * 1024);
}

static struct buf compress_bzip2(const uint8_t *in, size_t len)
{
	unsigned int cap = (unsigned int)(len + len / 100 + 600);
	struct buf b = buf_alloc(cap + 4);

	ck_assert_int_eq(BZ2_bzBuffToBuffCompress((char *)b.p, &cap, (char *)in, (unsigned int)len, 9, 0, 0), BZ_OK);
	b.len = cap;
	append_size(&b, (uint32_t)len);
	return b;
}

static const struct codec {
	enum payload_format format;
	const char *name;
	struct buf (*compress)(const uint8_t *in, size_t len);
	bool checksummed; /* any flipped byte is detected */
} codecs[] = {
    {PAYLOAD_GZIP, "gzip", compress_gzip, true},  {PAYLOAD_XZ, "xz", compress_xz, true},
    {PAYLOAD_LZMA, "lzma", compress_lzma, false}, {PAYLOAD_ZSTD, "zstd", compress_zstd, true},
    {PAYLOAD_LZ4, "lz4", compress_lz4, false},    {PAYLOAD_BZIP2, "bzip2", compress_bzip2, true},
};
#define NR_CODECS (sizeof(codecs) / sizeof(codecs[0]))

/* The per-format tests' payload: the sample compressed by codec i. */
static struct buf pl;

static const struct codec *payload_of_codec(int i)
{
	pl = codecs[i].compress(sample, SAMPLE_LEN);
	return &codecs[i];
}

static int unpack(const struct buf *b, size_t max, struct unpacked_kernel *u)
{
	why[0] = 0;
	return payload_unpack(b->p, b->len, max, u, why, sizeof(why));
}

/* ================= payload_unpack ================= */

START_TEST(valid_payload_each_format)
{
	const struct codec *c = payload_of_codec(_i);
	struct unpacked_kernel u;

	ck_assert_int_eq(payload_format_of(pl.p, pl.len), c->format);
	ck_assert_str_eq(payload_format_name(c->format), c->name);
	ck_assert_msg(unpack(&pl, 64 * MiB, &u) == 0, "%s: %s", c->name, why);
	ck_assert_int_eq(u.format, c->format);
	ck_assert_uint_eq(u.size, SAMPLE_LEN);
	ck_assert(memcmp(u.data, sample, SAMPLE_LEN) == 0);
	free(u.data);
	free(pl.p);
}
END_TEST

/* The stream cut short, with or without a correct size trailer after
 * it: never a success, never a crash. */
START_TEST(truncated_payload_each_format)
{
	const struct codec *c = payload_of_codec(_i);
	struct buf cut = buf_alloc(pl.len + 4);
	struct unpacked_kernel u;
	const size_t stream_len = c->format == PAYLOAD_GZIP ? pl.len - 8 : pl.len - 4; /* without size fields */
	const size_t cuts[] = {0, 1, 3, 7, 12, stream_len / 3, stream_len / 2, stream_len - 1};

	for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
		memcpy(cut.p, pl.p, cuts[i]);
		cut.len = cuts[i];
		ck_assert_msg(unpack(&cut, 64 * MiB, &u) < 0, "%s cut at %zu unpacked", c->name, cuts[i]);
		ck_assert_ptr_null(u.data);
		append_size(&cut, SAMPLE_LEN);
		ck_assert_msg(unpack(&cut, 64 * MiB, &u) < 0, "%s cut at %zu (+size) unpacked", c->name, cuts[i]);
		ck_assert_ptr_null(u.data);
	}
	free(cut.p);
	free(pl.p);
}
END_TEST

/* A byte flipped in the middle of the stream: formats with a checksum
 * must notice. The others may decode garbage of the right size (the ELF
 * check after them catches most), but must never overrun or crash. */
START_TEST(corrupt_payload_each_format)
{
	const struct codec *c = payload_of_codec(_i);
	struct unpacked_kernel u;

	pl.p[pl.len / 2] ^= 0x55;
	int ret = unpack(&pl, 64 * MiB, &u);
	if (c->checksummed)
		ck_assert_msg(ret == -EBADMSG, "%s: corrupt stream gave %d", c->name, ret);
	if (ret == 0) {
		ck_assert_uint_eq(u.size, SAMPLE_LEN);
		free(u.data);
	} else {
		ck_assert_ptr_null(u.data);
		ck_assert_msg(strstr(why, c->name), "why \"%s\" names no format", why);
	}
	free(pl.p);
}
END_TEST

/* Random corruption anywhere, including the framing and the size: the
 * result is an error, or exactly the claimed size. */
START_TEST(random_corruption_never_overruns)
{
	payload_of_codec(_i);
	struct buf bad = buf_alloc(pl.len);
	uint32_t x = 777 + (uint32_t)_i;

	for (int round = 0; round < 200; round++) {
		memcpy(bad.p, pl.p, pl.len);
		bad.len = pl.len;
		for (int k = 0; k < 1 + round % 4; k++) {
			x = x * 1103515245u + 12345u;
			bad.p[(x >> 8) % pl.len] ^= (uint8_t)(1 + (x >> 24) % 255);
		}
		struct unpacked_kernel u;
		if (unpack(&bad, 4 * MiB, &u) == 0) {
			ck_assert_uint_le(u.size, 4 * MiB);
			free(u.data);
		} else {
			ck_assert_ptr_null(u.data);
		}
	}
	free(bad.p);
	free(pl.p);
}
END_TEST

/* Blocks of the kernel's real size, 8 MiB: the last one partial. */
START_TEST(lz4_full_size_blocks)
{
	const size_t len = 8 * MiB + 12345;
	uint8_t *big = malloc(len);
	struct unpacked_kernel u;

	ck_assert_ptr_nonnull(big);
	for (size_t i = 0; i < len; i++)
		big[i] = sample[i % SAMPLE_LEN];
	struct buf b = compress_lz4_blocks(big, len, 8 * MiB);
	ck_assert_msg(unpack(&b, 64 * MiB, &u) == 0, "%s", why);
	ck_assert_uint_eq(u.size, len);
	ck_assert(memcmp(u.data, big, len) == 0);
	free(u.data);
	free(b.p);
	free(big);
}
END_TEST

/* Framing fields that would make a decoder read past the input or
 * allocate without bound. */
START_TEST(hostile_framing_fields)
{
	struct buf lz4 = compress_lz4(sample, SAMPLE_LEN), lzma = compress_lzma(sample, SAMPLE_LEN);
	struct unpacked_kernel u;

	put_le32(lz4.p + 4, 0x7fffffff); /* the first block "runs" past the payload */
	ck_assert_int_eq(unpack(&lz4, 64 * MiB, &u), -EBADMSG);
	put_le32(lz4.p + 4, (uint32_t)LZ4_compressBound(8 << 20) + 1); /* longer than any 8 MiB block */
	ck_assert_int_eq(unpack(&lz4, 64 * MiB, &u), -EBADMSG);
	/* A 3.75 GiB lzma dictionary, over the decoder's memory limit
	 * (bytes 1-2 stay 0: they are part of the magic). */
	put_le32(lzma.p + 1, 0xf0000000u);
	ck_assert_int_eq(unpack(&lzma, 64 * MiB, &u), -EBADMSG);
	ck_assert_ptr_null(u.data);
	free(lz4.p);
	free(lzma.p);
}
END_TEST

/* The size trailer is the only thing that sizes the allocation. */
START_TEST(claimed_size_checked)
{
	const struct codec *c = payload_of_codec(_i);
	uint8_t *size_field = pl.p + pl.len - 4;
	struct unpacked_kernel u;

	/* over the caller's cap */
	ck_assert_msg(unpack(&pl, SAMPLE_LEN - 1, &u) == -EFBIG, "%s: %s", c->name, why);
	ck_assert_ptr_null(u.data);
	ck_assert_msg(strstr(why, "claims"), "why: %s", why);
	put_le32(size_field, 0xffffffffu);
	ck_assert_int_eq(unpack(&pl, KERNEL_FILE_MAX, &u), -EFBIG);
	put_le32(size_field, 0);
	ck_assert_int_eq(unpack(&pl, KERNEL_FILE_MAX, &u), -EFBIG);
	put_le32(size_field, SAMPLE_LEN + 1); /* more than the stream holds */
	ck_assert_int_eq(unpack(&pl, 64 * MiB, &u), -EBADMSG);
	put_le32(size_field, SAMPLE_LEN - 1); /* less */
	ck_assert_int_eq(unpack(&pl, 64 * MiB, &u), -EBADMSG);
	ck_assert_ptr_null(u.data);
	free(pl.p);
}
END_TEST

START_TEST(unknown_and_unsupported_formats)
{
	struct buf b = compress_gzip(sample, SAMPLE_LEN);
	struct unpacked_kernel u;

	b.p[0] = 0x00;
	ck_assert_int_eq(payload_format_of(b.p, b.len), PAYLOAD_UNKNOWN);
	ck_assert_int_eq(unpack(&b, 64 * MiB, &u), -EPROTONOSUPPORT);
	ck_assert_ptr_null(u.data);
	memcpy(b.p, "\x89LZO", 4);
	ck_assert_int_eq(unpack(&b, 64 * MiB, &u), -EPROTONOSUPPORT);
	ck_assert_int_eq(u.format, PAYLOAD_LZO);
	ck_assert_msg(strstr(why, "lzo"), "why: %s", why);
	b.len = 0;
	ck_assert_int_eq(unpack(&b, 64 * MiB, &u), -EPROTONOSUPPORT);
	ck_assert_int_eq(payload_unpack(NULL, 0, 64 * MiB, &u, why, sizeof(why)), -EPROTONOSUPPORT);
	ck_assert_str_eq(payload_format_name(PAYLOAD_UNKNOWN), "unknown");
	free(b.p);
}
END_TEST

/* ================= a bzImage around a compressed ELF ================= */

#define ELF_PADDR   0x1000000ULL
#define ELF_SEG_OFF 0x1000
#define ELF_SEG_LEN 0x3000
#define ELF_LEN     (ELF_SEG_OFF + ELF_SEG_LEN)
#define SETUP_SECTS 4
#define SETUP_LEN   ((SETUP_SECTS + 1) * 512)
#define STUB_LEN    0x400 /* the decompressor stub before the payload */

static uint8_t elf[ELF_LEN];

/* A vmlinux-like ELF64: one PT_LOAD at 16 MiB, entry at its start. */
static void make_vmlinux(void)
{
	Elf64_Ehdr *eh = (Elf64_Ehdr *)elf;
	Elf64_Phdr *ph = (Elf64_Phdr *)(elf + sizeof(*eh));

	memset(elf, 0, sizeof(elf));
	ELF64_KERNEL_HEADER(eh, ELF_PADDR, 1);
	*ph = (Elf64_Phdr){.p_type = PT_LOAD,
	                   .p_offset = ELF_SEG_OFF,
	                   .p_paddr = ELF_PADDR,
	                   .p_vaddr = 0xffffffff81000000ULL,
	                   .p_filesz = ELF_SEG_LEN,
	                   .p_memsz = 0x8000,
	                   .p_align = 0x1000};
	memcpy(elf + ELF_SEG_OFF, sample, ELF_SEG_LEN);
}

/* setup sectors + a stub + the payload, as the kernel build lays it out. */
static struct buf make_bzimage_around(const struct buf *payload)
{
	struct buf bz = buf_alloc(SETUP_LEN + STUB_LEN + payload->len + 16);
	struct setup_header h;

	memset(bz.p, 0, SETUP_LEN + STUB_LEN);
	memset(&h, 0, sizeof(h));
	size_t pm_len = (STUB_LEN + payload->len + 15) & ~(size_t)15;
	h.setup_sects = SETUP_SECTS;
	h.syssize = (uint32_t)(pm_len / 16);
	h.boot_flag = 0xaa55;
	h.header = 0x53726448;
	h.version = 0x020f;
	h.loadflags = LOADED_HIGH | KASLR_FLAG; /* KASLR_FLAG must not reach the guest */
	h.initrd_addr_max = 0x37ffffff;
	h.kernel_alignment = 0x200000;
	h.relocatable_kernel = 1;
	h.xloadflags = XLF_KERNEL_64;
	h.cmdline_size = 1023;
	h.payload_offset = STUB_LEN;
	h.payload_length = (uint32_t)payload->len;
	h.pref_address = 0x1000000;
	h.init_size = 0x800000;
	memcpy(bz.p + 0x1f1, &h, sizeof(h));
	bz.p[0x200] = 0xeb;
	bz.p[0x201] = 0x26c - 0x202;
	memcpy(bz.p + SETUP_LEN + STUB_LEN, payload->p, payload->len);
	bz.len = SETUP_LEN + pm_len;
	memset(bz.p + SETUP_LEN + STUB_LEN + payload->len, 0, bz.len - (SETUP_LEN + STUB_LEN + payload->len));
	return bz;
}

static char tmp_path[64];

static void open_image(const struct buf *file, struct kernel_image *img)
{
	char err[256];
	FILE *f;

	snprintf(tmp_path, sizeof(tmp_path), "/tmp/skiff-unpack-test.%d", (int)getpid());
	f = fopen(tmp_path, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(file->p, 1, file->len, f), file->len);
	fclose(f);
	ck_assert_msg(kernel_image_open(tmp_path, img, err, sizeof(err)) == 0, "%s", err);
	unlink(tmp_path);
	ck_assert_int_eq(img->format, KERNEL_FORMAT_BZIMAGE);
}

START_TEST(bzimage_unpacks_to_elf_with_its_header)
{
	struct buf payload = compress_lz4(elf, ELF_LEN);
	struct buf file = make_bzimage_around(&payload);
	struct kernel_image img;
	struct kernel_entry entry;
	struct guest_mem mem;
	uint8_t *ram = calloc(1, 64 * MiB);
	char err[256];

	ck_assert_ptr_nonnull(ram);
	open_image(&file, &img);
	ck_assert_int_eq(kernel_image_unpack(&img), 0);
	ck_assert_int_eq(img.format, KERNEL_FORMAT_ELF);
	ck_assert(img.unpacked);
	ck_assert_uint_eq(img.size, ELF_LEN);
	ck_assert(memcmp(img.data, elf, ELF_LEN) == 0);

	memset(&mem, 0, sizeof(mem));
	mem.region[0] = (struct guest_region){.gpa = 0, .size = 64 * MiB, .host = ram};
	mem.nr_regions = 1;
	ck_assert_msg(kernel_image_load(&img, &mem, &entry, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(entry.mode, ENTRY_LINUX64);
	ck_assert_uint_eq(entry.rip, ELF_PADDR);
	ck_assert(memcmp(ram + ELF_PADDR, sample, ELF_SEG_LEN) == 0);
	/* boot_params get the bzImage's own header, not skiff's default */
	ck_assert(entry.has_setup_header);
	ck_assert_uint_eq(entry.hdr.version, 0x020f);
	ck_assert_uint_eq(entry.hdr.cmdline_size, 1023);
	ck_assert_uint_eq(entry.hdr.initrd_addr_max, 0x37ffffff);
	ck_assert_uint_eq(entry.initrd_addr_max, 0x37ffffff);
	ck_assert_uint_eq(entry.hdr.type_of_loader, 0xff);
	ck_assert_uint_eq(entry.hdr.loadflags, LOADED_HIGH);
	ck_assert_uint_eq(entry.hdr.code32_start, ELF_PADDR);

	/* ... and that is what the zero page gets: the bzImage's 1023-byte
	 * command-line limit (skiff's own default would allow 2047). */
	static char long_line[1100];
	struct boot_params bp;
	struct boot_config cfg = {.hdr = &entry.hdr, .cmdline = "console=ttyS0", .ram_size = 64 * MiB};
	ck_assert_msg(boot_params_build(&mem, &cfg, err, sizeof(err)) == 0, "%s", err);
	ck_assert(guest_mem_read(&mem, LAYOUT_BOOT_PARAMS, &bp, sizeof(bp)));
	ck_assert_uint_eq(bp.hdr.version, 0x020f);
	ck_assert_uint_eq(bp.hdr.cmdline_size, 1023);
	ck_assert_uint_eq(bp.hdr.initrd_addr_max, 0x37ffffff);
	ck_assert_uint_eq(bp.hdr.loadflags & KASLR_FLAG, 0);
	memset(long_line, 'x', sizeof(long_line) - 1);
	cfg.cmdline = long_line;
	ck_assert_int_eq(boot_params_build(&mem, &cfg, err, sizeof(err)), -E2BIG);
	kernel_image_close(&img);
	free(ram);
	free(file.p);
	free(payload.p);
}
END_TEST

/* A payload that is not usable leaves the bzImage as it was. */
static void check_falls_back(struct buf *payload)
{
	struct buf file = make_bzimage_around(payload);
	struct kernel_image img;

	open_image(&file, &img);
	ck_assert_int_lt(kernel_image_unpack(&img), 0);
	ck_assert_int_eq(img.format, KERNEL_FORMAT_BZIMAGE);
	ck_assert(!img.unpacked);
	ck_assert_uint_eq(img.size, file.len);
	ck_assert(memcmp(img.data, file.p, file.len) == 0);
	kernel_image_close(&img);
	free(file.p);
	free(payload->p);
}

START_TEST(bzimage_bad_payload_falls_back)
{
	struct buf p = compress_zstd(elf, ELF_LEN);
	p.p[p.len / 2] ^= 0xff; /* corrupt */
	check_falls_back(&p);

	p = compress_gzip(elf, ELF_LEN);
	p.p[0] = 'X'; /* unknown magic */
	check_falls_back(&p);

	p = compress_xz(elf, ELF_LEN);
	put_le32(p.p + p.len - 4, (uint32_t)KERNEL_FILE_MAX + 1); /* oversized claim */
	check_falls_back(&p);

	p = compress_lz4(sample, 4096); /* decompresses fine, but is no ELF */
	check_falls_back(&p);

	p = compress_bzip2(elf, ELF_LEN);
	p.len -= 100; /* truncated */
	check_falls_back(&p);
}
END_TEST

START_TEST(unpack_refuses_an_elf_image)
{
	struct kernel_image img;

	memset(&img, 0, sizeof(img));
	ck_assert_int_eq(kernel_image_unpack(&img), -EINVAL);
	img.data = elf;
	img.size = ELF_LEN;
	img.format = KERNEL_FORMAT_ELF;
	ck_assert_int_eq(kernel_image_unpack(&img), -EINVAL);
	ck_assert_ptr_eq(img.data, elf);
}
END_TEST

/* The real thing: Debian's bzImage against the vmlinux unpacked from it
 * offline (which is cut after the ELF: the payload also holds the
 * KASLR relocation table). Skipped when the images are not cached. */
#define DEBIAN_VMLINUZ "/var/cache/skiff/debian/vmlinuz"
#define DEBIAN_VMLINUX "/var/cache/skiff/debian/vmlinux"

START_TEST(debian_bzimage_matches_offline_vmlinux)
{
	struct kernel_image img, ref;
	char err[256];

	if (access(DEBIAN_VMLINUZ, R_OK) || access(DEBIAN_VMLINUX, R_OK)) {
		printf("skipped: %s or %s not cached\n", DEBIAN_VMLINUZ, DEBIAN_VMLINUX);
		return;
	}
	ck_assert_msg(kernel_image_open(DEBIAN_VMLINUZ, &img, err, sizeof(err)) == 0, "%s", err);
	ck_assert_msg(kernel_image_open(DEBIAN_VMLINUX, &ref, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(img.format, KERNEL_FORMAT_BZIMAGE);
	ck_assert_int_eq(kernel_image_unpack(&img), 0);
	ck_assert_int_eq(img.format, KERNEL_FORMAT_ELF);
	ck_assert_uint_ge(img.size, ref.size);
	/* kernel_image_open() reads an ELF file sparsely: compare with the file. */
	uint8_t *whole = malloc(ref.size);
	FILE *f = fopen(DEBIAN_VMLINUX, "rb");
	ck_assert_ptr_nonnull(whole);
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fread(whole, 1, ref.size, f), ref.size);
	fclose(f);
	ck_assert_msg(memcmp(img.data, whole, ref.size) == 0, "unpacked ELF differs from %s", DEBIAN_VMLINUX);
	free(whole);
	ck_assert_uint_eq(img.elf.entry64, ref.elf.entry64);
	ck_assert_uint_eq(img.elf.end, ref.elf.end);
	kernel_image_close(&ref);
	kernel_image_close(&img);
}
END_TEST

static Suite *unpack_suite(void)
{
	Suite *s = suite_create("bzimage-unpack");
	TCase *tc = tcase_create("payload");

	make_sample();
	make_vmlinux();
	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, valid_payload_each_format, 0, NR_CODECS);
	tcase_add_loop_test(tc, truncated_payload_each_format, 0, NR_CODECS);
	tcase_add_loop_test(tc, corrupt_payload_each_format, 0, NR_CODECS);
	tcase_add_loop_test(tc, random_corruption_never_overruns, 0, NR_CODECS);
	tcase_add_loop_test(tc, claimed_size_checked, 0, NR_CODECS);
	tcase_add_test(tc, lz4_full_size_blocks);
	tcase_add_test(tc, hostile_framing_fields);
	tcase_add_test(tc, unknown_and_unsupported_formats);
	suite_add_tcase(s, tc);

	tc = tcase_create("bzimage");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, bzimage_unpacks_to_elf_with_its_header);
	tcase_add_test(tc, bzimage_bad_payload_falls_back);
	tcase_add_test(tc, unpack_refuses_an_elf_image);
	tcase_add_test(tc, debian_bzimage_matches_offline_vmlinux);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return check_run_suite(unpack_suite());
}
