/* Unit tests for the x86 kernel loader and boot information: bzImage and
 * ELF parsing (valid and hostile images built in memory), loading into a
 * fake guest memory, the e820 map, boot_params, initrd placement and the
 * PVH start info. */
#include <check.h>
#include <elf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/guest-mem.h"
#include "kvm/x86/boot-params.h"
#include "kvm/x86/bzimage.h"
#include "kvm/x86/e820.h"
#include "kvm/x86/elf-kernel.h"
#include "kvm/x86/kernel-load.h"
#include "kvm/x86/layout.h"
#include "tests/unit/elf-header.h"

#define MiB (1ULL << 20)
#define GiB (1ULL << 30)

static char err[256];

#define ck_assert_err_contains(s)                                                              \
	ck_assert_msg(strstr(err, (s)) != NULL, "error \"%s\" lacks \"%s\"", err, (s))

/* ---- synthetic bzImage: 4 setup sectors + boot sector, 4 KiB kernel ---- */

#define BZ_SECTS     4
#define BZ_SETUP     ((BZ_SECTS + 1) * 512)
#define BZ_PM_SIZE   0x1000
#define BZ_LEN       (BZ_SETUP + BZ_PM_SIZE)
#define BZ_INIT_SIZE (4 * MiB)

static uint8_t bz[BZ_LEN];

static struct setup_header *bz_hdr(void)
{
	return (struct setup_header *)(bz + BZIMAGE_HDR_OFFSET);
}

static void make_bzimage(void)
{
	struct setup_header *h = bz_hdr();

	memset(bz, 0, sizeof(bz));
	h->setup_sects = BZ_SECTS;
	h->syssize = BZ_PM_SIZE / 16;
	h->boot_flag = 0xaa55;
	h->header = BZIMAGE_MAGIC;
	h->version = 0x020f;
	h->loadflags = LOADED_HIGH;
	h->initrd_addr_max = 0x7fffffff;
	h->kernel_alignment = 0x200000;
	h->relocatable_kernel = 1;
	h->xloadflags = XLF_KERNEL_64 | XLF_CAN_BE_LOADED_ABOVE_4G;
	h->cmdline_size = 2047;
	h->payload_offset = 0x100;
	h->payload_length = 0x200;
	h->pref_address = 0x1000000;
	h->init_size = BZ_INIT_SIZE;
	h->kernel_info_offset = 0x1234;
	/* short jump over the header, which ends at 0x26c */
	bz[0x200] = 0xeb;
	bz[0x201] = 0x26c - 0x202;
	for (unsigned i = 0; i < BZ_PM_SIZE; i++)
		bz[BZ_SETUP + i] = (uint8_t)(i * 7 + 1);
}

static int parse_bz(size_t len, struct bzimage_info *info)
{
	err[0] = 0;
	return bzimage_parse(bz, len, info, err, sizeof(err));
}

/* ---- synthetic ELF64 vmlinux: two PT_LOAD and a PT_NOTE ---- */

#define E64_SEG0_OFF   0x1000
#define E64_SEG0_PADDR 0x1000000ULL
#define E64_SEG1_OFF   0x1100
#define E64_SEG1_PADDR 0x1200000ULL
#define E64_NOTE_OFF   0x1200
#define E64_XEN_NOTE   (E64_NOTE_OFF + 24) /* second note: the Xen one */
#define E64_LEN        (E64_NOTE_OFF + 48)
#define E64_ENTRY      (E64_SEG0_PADDR + 0x10)
#define E64_PVH_ENTRY  (E64_SEG0_PADDR + 0x40)

static uint8_t e64[E64_LEN] __attribute__((aligned(8)));

static Elf64_Ehdr *e64_ehdr(void)
{
	return (Elf64_Ehdr *)e64;
}

static Elf64_Phdr *e64_phdr(unsigned i)
{
	return (Elf64_Phdr *)(e64 + sizeof(Elf64_Ehdr)) + i;
}

static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static void put64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, 8);
}

/* One note: header, name and desc padded to 4. Returns bytes written. */
static size_t put_note(uint8_t *p, const char *name, uint32_t type, const void *desc, uint32_t descsz)
{
	uint32_t namesz = (uint32_t)strlen(name) + 1;
	size_t pos = 12;

	put32(p, namesz);
	put32(p + 4, descsz);
	put32(p + 8, type);
	memcpy(p + pos, name, namesz);
	pos += (namesz + 3) & ~3u;
	memcpy(p + pos, desc, descsz);
	pos += (descsz + 3) & ~3u;
	return pos;
}

static void make_elf64(void)
{
	Elf64_Ehdr *eh = e64_ehdr();
	uint64_t pvh = E64_PVH_ENTRY;
	size_t notes;

	memset(e64, 0, sizeof(e64));
	ELF64_KERNEL_HEADER(eh, E64_ENTRY, 3);

	*e64_phdr(0) = (Elf64_Phdr){ .p_type = PT_LOAD, .p_offset = E64_SEG0_OFF, .p_paddr = E64_SEG0_PADDR,
				     .p_vaddr = 0xffffffff81000000ULL, .p_filesz = 0x100, .p_memsz = 0x200,
				     .p_align = 0x1000 };
	*e64_phdr(1) = (Elf64_Phdr){ .p_type = PT_LOAD, .p_offset = E64_SEG1_OFF, .p_paddr = E64_SEG1_PADDR,
				     .p_filesz = 0x80, .p_memsz = 0x1000, .p_align = 0x1000 };
	notes = put_note(e64 + E64_NOTE_OFF, "GNU", 3, "abcde", 5);
	ck_assert_uint_eq(E64_NOTE_OFF + notes, E64_XEN_NOTE);
	notes += put_note(e64 + E64_NOTE_OFF + notes, "Xen", XEN_ELFNOTE_PHYS32_ENTRY, &pvh, 8);
	ck_assert_uint_eq(E64_NOTE_OFF + notes, E64_LEN);
	*e64_phdr(2) = (Elf64_Phdr){ .p_type = PT_NOTE, .p_offset = E64_NOTE_OFF, .p_filesz = notes, .p_align = 4 };

	for (unsigned i = 0; i < 0x100; i++)
		e64[E64_SEG0_OFF + i] = (uint8_t)(0x80 + i);
	for (unsigned i = 0; i < 0x80; i++)
		e64[E64_SEG1_OFF + i] = (uint8_t)(0x11 * i + 3);
}

static int parse_e64(size_t len, struct elf_kernel_info *info)
{
	err[0] = 0;
	return elf_kernel_parse(e64, len, info, err, sizeof(err));
}

/* ---- synthetic ELF32 PVH kernel: one PT_LOAD and a Xen note ---- */

#define E32_SEG_OFF   0x1000
#define E32_SEG_PADDR 0x1000000ULL
#define E32_NOTE_OFF  0x1100
#define E32_LEN       (E32_NOTE_OFF + 20)
#define E32_PVH_ENTRY (E32_SEG_PADDR + 0x20)

static uint8_t e32[E32_LEN] __attribute__((aligned(8)));

static void make_elf32(bool with_note)
{
	Elf32_Ehdr *eh = (Elf32_Ehdr *)e32;
	Elf32_Phdr *ph = (Elf32_Phdr *)(e32 + sizeof(Elf32_Ehdr));
	uint32_t pvh = E32_PVH_ENTRY;

	memset(e32, 0, sizeof(e32));
	/* e_entry is virtual on i386: not used */
	ELF_KERNEL_HEADER(eh, ELFCLASS32, EM_386, 0xc1000000, sizeof(Elf32_Phdr), 2);
	ph[0] = (Elf32_Phdr){ .p_type = PT_LOAD, .p_offset = E32_SEG_OFF, .p_paddr = E32_SEG_PADDR,
			      .p_vaddr = 0xc1000000, .p_filesz = 0x100, .p_memsz = 0x300, .p_align = 0x1000 };
	size_t n = put_note(e32 + E32_NOTE_OFF, with_note ? "Xen" : "Foo", XEN_ELFNOTE_PHYS32_ENTRY, &pvh, 4);
	ph[1] = (Elf32_Phdr){ .p_type = PT_NOTE, .p_offset = E32_NOTE_OFF, .p_filesz = (uint32_t)n, .p_align = 4 };
	for (unsigned i = 0; i < 0x100; i++)
		e32[E32_SEG_OFF + i] = (uint8_t)(0xa5 ^ i);
}

/* ---- fake guest memory ---- */

static struct guest_mem mem;
static uint8_t *ram_low, *ram_high;

/* low bytes at gpa 0, and optionally high bytes at 4 GiB */
static void mem_init(uint64_t low, uint64_t high)
{
	memset(&mem, 0, sizeof(mem));
	ram_low = calloc(1, low);
	ck_assert_ptr_nonnull(ram_low);
	mem.region[0] = (struct guest_region){ .gpa = 0, .size = low, .host = ram_low };
	mem.nr_regions = 1;
	if (high) {
		ram_high = calloc(1, high);
		ck_assert_ptr_nonnull(ram_high);
		mem.region[1] = (struct guest_region){ .gpa = LAYOUT_4G, .size = high, .host = ram_high };
		mem.nr_regions = 2;
	}
}

static void mem_teardown(void)
{
	free(ram_low);
	free(ram_high);
	ram_low = ram_high = NULL;
	memset(&mem, 0, sizeof(mem));
}

static uint32_t rd32(uint64_t gpa)
{
	uint32_t v;
	ck_assert(guest_mem_read(&mem, gpa, &v, 4));
	return v;
}

static uint64_t rd64(uint64_t gpa)
{
	uint64_t v;
	ck_assert(guest_mem_read(&mem, gpa, &v, 8));
	return v;
}

static uint8_t rd8(uint64_t gpa)
{
	uint8_t v;
	ck_assert(guest_mem_read(&mem, gpa, &v, 1));
	return v;
}

/* A kernel_image over one of the static buffers (not to be closed). */
static struct kernel_image image_of(uint8_t *buf, size_t len)
{
	struct kernel_image img;

	memset(&img, 0, sizeof(img));
	img.data = buf;
	img.size = len;
	if (len >= 4 && memcmp(buf, ELFMAG, SELFMAG) == 0) {
		img.format = KERNEL_FORMAT_ELF;
		ck_assert_int_eq(elf_kernel_parse(buf, len, &img.elf, err, sizeof(err)), 0);
	} else {
		img.format = KERNEL_FORMAT_BZIMAGE;
		ck_assert_int_eq(bzimage_parse(buf, len, &img.bz, err, sizeof(err)), 0);
	}
	return img;
}

/* ================= bzImage parsing ================= */

START_TEST(bz_valid)
{
	struct bzimage_info info;

	make_bzimage();
	ck_assert_int_eq(parse_bz(BZ_LEN, &info), 0);
	ck_assert_uint_eq(info.version, 0x020f);
	ck_assert_uint_eq(info.setup_size, BZ_SETUP);
	ck_assert_uint_eq(info.kernel_offset, BZ_SETUP);
	ck_assert_uint_eq(info.kernel_size, BZ_PM_SIZE);
	ck_assert_uint_eq(info.pref_address, 0x1000000);
	ck_assert_uint_eq(info.init_size, BZ_INIT_SIZE);
	ck_assert_uint_eq(info.kernel_alignment, 0x200000);
	ck_assert(info.relocatable);
	ck_assert_uint_eq(info.initrd_addr_max, 0x7fffffff);
	ck_assert_uint_eq(info.cmdline_size, 2047);
	ck_assert_uint_eq(info.payload_offset, 0x100);
	ck_assert_uint_eq(info.payload_length, 0x200);
	ck_assert_uint_eq(info.hdr_len, sizeof(struct setup_header));
	ck_assert_uint_eq(info.hdr.kernel_info_offset, 0x1234);
}
END_TEST

START_TEST(bz_setup_sects_zero_means_four)
{
	struct bzimage_info info;

	make_bzimage();
	bz_hdr()->setup_sects = 0;
	ck_assert_int_eq(parse_bz(BZ_LEN, &info), 0);
	ck_assert_uint_eq(info.setup_size, 5 * 512);
}
END_TEST

/* A 2.12 kernel's header stops before kernel_info_offset: the bytes
 * after it are setup code and must not be copied as header fields. */
START_TEST(bz_header_copy_stops_at_declared_length)
{
	struct bzimage_info info;

	make_bzimage();
	bz[0x201] = 0x268 - 0x202;
	ck_assert_int_eq(parse_bz(BZ_LEN, &info), 0);
	ck_assert_uint_eq(info.hdr_len, 0x268 - 0x1f1);
	ck_assert_uint_eq(info.hdr.kernel_info_offset, 0);
	ck_assert_uint_eq(info.hdr.init_size, BZ_INIT_SIZE);
}
END_TEST

START_TEST(bz_header_too_short)
{
	struct bzimage_info info;

	make_bzimage();
	bz[0x201] = 0x20;
	ck_assert_int_eq(parse_bz(BZ_LEN, &info), -ENOEXEC);
	ck_assert_err_contains("too short");
}
END_TEST

START_TEST(bz_too_small_for_header)
{
	struct bzimage_info info;

	make_bzimage();
	ck_assert_int_eq(parse_bz(0x100, &info), -ENOEXEC);
	ck_assert_err_contains("too small for a setup header");
	ck_assert_int_eq(parse_bz(0, &info), -ENOEXEC);
}
END_TEST

START_TEST(bz_truncated_in_header)
{
	struct bzimage_info info;

	make_bzimage();
	ck_assert_int_eq(parse_bz(0x210, &info), -ENOEXEC);
	ck_assert_err_contains("bzImage truncated: setup header needs 620 bytes, file has 528");
}
END_TEST

START_TEST(bz_truncated_in_setup)
{
	struct bzimage_info info;

	make_bzimage();
	ck_assert_int_eq(parse_bz(0x400, &info), -ENOEXEC);
	ck_assert_err_contains("bzImage truncated: setup needs 2560 bytes, file has 1024");
}
END_TEST

START_TEST(bz_setup_sects_past_eof)
{
	struct bzimage_info info;

	make_bzimage();
	bz_hdr()->setup_sects = 255;
	ck_assert_int_eq(parse_bz(BZ_LEN, &info), -ENOEXEC);
	ck_assert_err_contains("setup needs 131072 bytes");
}
END_TEST

START_TEST(bz_no_protected_mode_kernel)
{
	struct bzimage_info info;

	make_bzimage();
	ck_assert_int_eq(parse_bz(BZ_SETUP, &info), -ENOEXEC);
	ck_assert_err_contains("no protected-mode kernel");
}
END_TEST

/* Every truncation of a valid image must be refused, never crash. */
START_TEST(bz_every_truncation_fails)
{
	struct bzimage_info info;

	make_bzimage();
	for (size_t len = 0; len < BZ_LEN; len++) {
		ck_assert_msg(parse_bz(len, &info) == -ENOEXEC, "truncated at %zu accepted", len);
		ck_assert_uint_eq(info.kernel_size, 0); /* info cleared on failure */
	}
}
END_TEST

START_TEST(bz_bad_boot_flag)
{
	struct bzimage_info info;

	make_bzimage();
	bz_hdr()->boot_flag = 0x55aa;
	ck_assert_int_eq(parse_bz(BZ_LEN, &info), -ENOEXEC);
	ck_assert_err_contains("boot flag");
}
END_TEST

START_TEST(bz_bad_magic)
{
	struct bzimage_info info;

	make_bzimage();
	bz[0x202] = 'h';
	ck_assert_int_eq(parse_bz(BZ_LEN, &info), -ENOEXEC);
	ck_assert_err_contains("not a bzImage: missing HdrS magic");
}
END_TEST

START_TEST(bz_protocol_too_old)
{
	struct bzimage_info info;

	make_bzimage();
	bz_hdr()->version = 0x020b;
	ck_assert_int_eq(parse_bz(BZ_LEN, &info), -ENOEXEC);
	ck_assert_err_contains("2.11 is too old");
	bz_hdr()->version = 0x020c;
	ck_assert_int_eq(parse_bz(BZ_LEN, &info), 0);
}
END_TEST

START_TEST(bz_no_kernel64)
{
	struct bzimage_info info;

	make_bzimage();
	bz_hdr()->xloadflags = XLF_CAN_BE_LOADED_ABOVE_4G;
	ck_assert_int_eq(parse_bz(BZ_LEN, &info), -ENOEXEC);
	ck_assert_err_contains("XLF_KERNEL_64");
}
END_TEST

START_TEST(bz_not_loaded_high)
{
	struct bzimage_info info;

	make_bzimage();
	bz_hdr()->loadflags = 0;
	ck_assert_int_eq(parse_bz(BZ_LEN, &info), -ENOEXEC);
	ck_assert_err_contains("LOADED_HIGH");
}
END_TEST

START_TEST(bz_syssize_past_eof)
{
	struct bzimage_info info;

	make_bzimage();
	bz_hdr()->syssize = BZ_PM_SIZE / 16 + 1;
	ck_assert_int_eq(parse_bz(BZ_LEN, &info), -ENOEXEC);
	ck_assert_err_contains("syssize says");
	bz_hdr()->syssize = 0xffffffff; /* * 16 must not wrap */
	ck_assert_int_eq(parse_bz(BZ_LEN, &info), -ENOEXEC);
	bz_hdr()->syssize = 0;
	ck_assert_int_eq(parse_bz(BZ_LEN, &info), -ENOEXEC);
	ck_assert_err_contains("syssize is 0");
}
END_TEST

START_TEST(bz_init_size_bad)
{
	struct bzimage_info info;

	make_bzimage();
	bz_hdr()->init_size = BZ_PM_SIZE - 16;
	ck_assert_int_eq(parse_bz(BZ_LEN, &info), -ENOEXEC);
	ck_assert_err_contains("init_size");
	bz_hdr()->init_size = 0;
	ck_assert_int_eq(parse_bz(BZ_LEN, &info), -ENOEXEC);
}
END_TEST

START_TEST(bz_payload_outside_kernel)
{
	struct bzimage_info info;

	make_bzimage();
	bz_hdr()->payload_offset = BZ_PM_SIZE - 0x10;
	ck_assert_int_eq(parse_bz(BZ_LEN, &info), -ENOEXEC);
	ck_assert_err_contains("payload");
	bz_hdr()->payload_offset = 0xffffff00; /* offset + length wraps in 32 bits */
	ck_assert_int_eq(parse_bz(BZ_LEN, &info), -ENOEXEC);
	bz_hdr()->payload_offset = 0x10;
	bz_hdr()->payload_length = 0;  /* no payload: offset not checked */
	ck_assert_int_eq(parse_bz(BZ_LEN, &info), 0);
}
END_TEST

START_TEST(bz_bad_alignment_and_placement)
{
	struct bzimage_info info;

	make_bzimage();
	bz_hdr()->kernel_alignment = 0x200001;
	ck_assert_int_eq(parse_bz(BZ_LEN, &info), -ENOEXEC);
	ck_assert_err_contains("kernel_alignment");

	make_bzimage();
	bz_hdr()->relocatable_kernel = 0;
	bz_hdr()->pref_address = 0x7000; /* would land on boot_params */
	ck_assert_int_eq(parse_bz(BZ_LEN, &info), -ENOEXEC);
	ck_assert_err_contains("below 1 MiB");

	make_bzimage();
	bz_hdr()->initrd_addr_max = 0xffff;
	ck_assert_int_eq(parse_bz(BZ_LEN, &info), -ENOEXEC);
	ck_assert_err_contains("initrd_addr_max");
}
END_TEST

/* ================= ELF parsing ================= */

START_TEST(elf64_valid)
{
	struct elf_kernel_info info;

	make_elf64();
	ck_assert_int_eq(parse_e64(E64_LEN, &info), 0);
	ck_assert(info.is_64);
	ck_assert_uint_eq(info.entry64, E64_ENTRY);
	ck_assert_uint_eq(info.pvh_entry, E64_PVH_ENTRY);
	ck_assert_uint_eq(info.nr_segments, 2);
	ck_assert_uint_eq(info.seg[0].paddr, E64_SEG0_PADDR);
	ck_assert_uint_eq(info.seg[0].filesz, 0x100);
	ck_assert_uint_eq(info.seg[1].memsz, 0x1000);
	ck_assert_uint_eq(info.start, E64_SEG0_PADDR);
	ck_assert_uint_eq(info.end, E64_SEG1_PADDR + 0x1000);
}
END_TEST

START_TEST(elf64_without_pvh_note)
{
	struct elf_kernel_info info;

	make_elf64();
	e64_phdr(2)->p_type = PT_NULL;
	ck_assert_int_eq(parse_e64(E64_LEN, &info), 0);
	ck_assert_uint_eq(info.pvh_entry, 0);
	ck_assert_uint_eq(info.entry64, E64_ENTRY);
}
END_TEST

START_TEST(elf32_pvh_valid)
{
	struct elf_kernel_info info;

	make_elf32(true);
	ck_assert_int_eq(elf_kernel_parse(e32, E32_LEN, &info, err, sizeof(err)), 0);
	ck_assert(!info.is_64);
	ck_assert_uint_eq(info.entry64, 0);
	ck_assert_uint_eq(info.pvh_entry, E32_PVH_ENTRY);
	ck_assert_uint_eq(info.nr_segments, 1);
	ck_assert_uint_eq(info.end, E32_SEG_PADDR + 0x300);
}
END_TEST

START_TEST(elf_bad_ident)
{
	struct elf_kernel_info info;

	make_elf64();
	e64[1] = 'e';
	ck_assert_int_eq(parse_e64(E64_LEN, &info), -ENOEXEC);
	ck_assert_err_contains("missing \\x7fELF magic");

	make_elf64();
	e64[EI_CLASS] = 3;
	ck_assert_int_eq(parse_e64(E64_LEN, &info), -ENOEXEC);
	ck_assert_err_contains("class");

	make_elf64();
	e64[EI_DATA] = ELFDATA2MSB;
	ck_assert_int_eq(parse_e64(E64_LEN, &info), -ENOEXEC);
	ck_assert_err_contains("little-endian");

	make_elf64();
	e64[EI_VERSION] = 2;
	ck_assert_int_eq(parse_e64(E64_LEN, &info), -ENOEXEC);
}
END_TEST

START_TEST(elf_wrong_machine_or_type)
{
	struct elf_kernel_info info;

	make_elf64();
	e64_ehdr()->e_machine = EM_386;
	ck_assert_int_eq(parse_e64(E64_LEN, &info), -ENOEXEC);
	ck_assert_err_contains("not x86-64");

	make_elf64();
	e64_ehdr()->e_type = ET_DYN;
	ck_assert_int_eq(parse_e64(E64_LEN, &info), -ENOEXEC);
	ck_assert_err_contains("ET_EXEC");
}
END_TEST

START_TEST(elf_truncated_header)
{
	struct elf_kernel_info info;

	make_elf64();
	ck_assert_int_eq(parse_e64(40, &info), -ENOEXEC);
	ck_assert_err_contains("ELF truncated: header needs 64 bytes, file has 40");
	ck_assert_int_eq(parse_e64(3, &info), -ENOEXEC);
}
END_TEST

START_TEST(elf_every_truncation_fails)
{
	struct elf_kernel_info info;

	make_elf64();
	for (size_t len = 0; len < E64_LEN; len++) {
		ck_assert_msg(parse_e64(len, &info) == -ENOEXEC, "truncated at %zu accepted", len);
		ck_assert_uint_eq(info.nr_segments, 0);
	}
}
END_TEST

START_TEST(elf_phoff_past_eof)
{
	struct elf_kernel_info info;

	make_elf64();
	e64_ehdr()->e_phoff = E64_LEN - 56; /* room for one of three */
	ck_assert_int_eq(parse_e64(E64_LEN, &info), -ENOEXEC);
	ck_assert_err_contains("program headers");
	e64_ehdr()->e_phoff = UINT64_MAX - 8; /* phoff + size wraps */
	ck_assert_int_eq(parse_e64(E64_LEN, &info), -ENOEXEC);
}
END_TEST

START_TEST(elf_phnum_times_phentsize_overflow)
{
	struct elf_kernel_info info;

	make_elf64();
	e64_ehdr()->e_phnum = 0xfffe;
	ck_assert_int_eq(parse_e64(E64_LEN, &info), -ENOEXEC);
	ck_assert_err_contains("run past the end");
	e64_ehdr()->e_phnum = PN_XNUM;
	ck_assert_int_eq(parse_e64(E64_LEN, &info), -ENOEXEC);
	e64_ehdr()->e_phnum = 0;
	ck_assert_int_eq(parse_e64(E64_LEN, &info), -ENOEXEC);
	make_elf64();
	e64_ehdr()->e_phentsize = 0xffff;
	ck_assert_int_eq(parse_e64(E64_LEN, &info), -ENOEXEC);
	ck_assert_err_contains("program header size");
}
END_TEST

START_TEST(elf_filesz_greater_than_memsz)
{
	struct elf_kernel_info info;

	make_elf64();
	e64_phdr(0)->p_memsz = 0xff;
	ck_assert_int_eq(parse_e64(E64_LEN, &info), -ENOEXEC);
	ck_assert_err_contains("larger than memsz");
}
END_TEST

START_TEST(elf_segment_past_eof)
{
	struct elf_kernel_info info;

	make_elf64();
	e64_phdr(1)->p_filesz = E64_LEN - E64_SEG1_OFF + 1;
	e64_phdr(1)->p_memsz = 0x10000;
	ck_assert_int_eq(parse_e64(E64_LEN, &info), -ENOEXEC);
	ck_assert_err_contains("segment 1");
	make_elf64();
	e64_phdr(1)->p_offset = UINT64_MAX - 0x10; /* offset + filesz wraps */
	ck_assert_int_eq(parse_e64(E64_LEN, &info), -ENOEXEC);
}
END_TEST

START_TEST(elf_paddr_overflow)
{
	struct elf_kernel_info info;

	make_elf64();
	e64_phdr(1)->p_paddr = UINT64_MAX - 0x100;
	ck_assert_int_eq(parse_e64(E64_LEN, &info), -ENOEXEC);
	ck_assert_err_contains("overflows");
}
END_TEST

START_TEST(elf_note_bogus_sizes)
{
	struct elf_kernel_info info;

	make_elf64();
	put32(e64 + E64_XEN_NOTE, 0xfffffffc); /* namesz */
	ck_assert_int_eq(parse_e64(E64_LEN, &info), -ENOEXEC);
	ck_assert_err_contains("namesz");

	make_elf64();
	put32(e64 + E64_XEN_NOTE + 4, 0xffffffff); /* descsz */
	ck_assert_int_eq(parse_e64(E64_LEN, &info), -ENOEXEC);
	ck_assert_err_contains("descsz");

	make_elf64();
	put32(e64 + E64_XEN_NOTE + 4, 2); /* PVH entry of 2 bytes */
	ck_assert_int_eq(parse_e64(E64_LEN, &info), -ENOEXEC);
	ck_assert_err_contains("expected 4 or 8");

	make_elf64();
	e64_phdr(2)->p_filesz = 0x1000; /* note segment past EOF */
	ck_assert_int_eq(parse_e64(E64_LEN, &info), -ENOEXEC);
}
END_TEST

START_TEST(elf_entry_outside_segments)
{
	struct elf_kernel_info info;

	make_elf64();
	e64_ehdr()->e_entry = E64_SEG0_PADDR + 0x100; /* bss, not code */
	ck_assert_int_eq(parse_e64(E64_LEN, &info), -ENOEXEC);
	ck_assert_err_contains("entry point");

	make_elf64();
	put64(e64 + E64_XEN_NOTE + 16, 0x5000000);
	ck_assert_int_eq(parse_e64(E64_LEN, &info), -ENOEXEC);
	ck_assert_err_contains("PVH entry");
}
END_TEST

START_TEST(elf_no_loadable_segments)
{
	struct elf_kernel_info info;

	make_elf64();
	e64_phdr(0)->p_type = PT_NULL;
	e64_phdr(1)->p_memsz = 0;
	e64_phdr(1)->p_filesz = 0;
	ck_assert_int_eq(parse_e64(E64_LEN, &info), -ENOEXEC);
	ck_assert_err_contains("no loadable segments");
}
END_TEST

/* Random corruption of the headers: any verdict is fine, but a
 * rejected image leaves info zeroed and nothing reads out of bounds
 * (run under valgrind / ASan to see the latter). */
START_TEST(hostile_random_corruption)
{
	struct elf_kernel_info einfo;
	struct bzimage_info binfo;
	unsigned seed = 12345;

	for (int round = 0; round < 2000; round++) {
		make_elf64();
		make_bzimage();
		for (int k = 0; k < 4; k++) {
			seed = seed * 1103515245 + 12345;
			e64[(seed >> 8) % (E64_NOTE_OFF + 48)] = (uint8_t)(seed >> 20);
			seed = seed * 1103515245 + 12345;
			bz[0x1f1 + (seed >> 8) % 0x7b] = (uint8_t)(seed >> 20);
		}
		if (parse_e64(E64_LEN, &einfo))
			ck_assert_uint_eq(einfo.nr_segments, 0);
		if (parse_bz(BZ_LEN, &binfo))
			ck_assert_uint_eq(binfo.kernel_size, 0);
	}
}
END_TEST

/* ================= kernel_image_open ================= */

static char tmp_path[64];

static void write_tmp(const void *data, size_t len)
{
	strcpy(tmp_path, "/tmp/skiff-test-kernel-XXXXXX");
	int fd = mkstemp(tmp_path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
	close(fd);
}

START_TEST(open_bzimage_and_elf)
{
	struct kernel_image img;

	make_bzimage();
	write_tmp(bz, BZ_LEN);
	ck_assert_int_eq(kernel_image_open(tmp_path, &img, err, sizeof(err)), 0);
	ck_assert_int_eq(img.format, KERNEL_FORMAT_BZIMAGE);
	ck_assert_uint_eq(img.size, BZ_LEN);
	ck_assert_uint_eq(img.bz.kernel_size, BZ_PM_SIZE);
	kernel_image_close(&img);
	kernel_image_close(&img); /* twice is harmless */
	unlink(tmp_path);

	make_elf64();
	write_tmp(e64, E64_LEN);
	ck_assert_int_eq(kernel_image_open(tmp_path, &img, err, sizeof(err)), 0);
	ck_assert_int_eq(img.format, KERNEL_FORMAT_ELF);
	ck_assert_uint_eq(img.elf.entry64, E64_ENTRY);
	kernel_image_close(&img);
	unlink(tmp_path);
}
END_TEST

START_TEST(open_not_a_kernel)
{
	struct kernel_image img;
	static const char junk[600] = "#!/bin/sh\necho hello\n";

	write_tmp(junk, sizeof(junk));
	ck_assert_int_eq(kernel_image_open(tmp_path, &img, err, sizeof(err)), -ENOEXEC);
	ck_assert_err_contains("is not a Linux kernel (neither bzImage nor ELF)");
	ck_assert_ptr_null(img.data);
	unlink(tmp_path);
}
END_TEST

START_TEST(open_broken_bzimage_names_file)
{
	struct kernel_image img;

	make_bzimage();
	bz_hdr()->version = 0x0204;
	write_tmp(bz, BZ_LEN);
	ck_assert_int_eq(kernel_image_open(tmp_path, &img, err, sizeof(err)), -ENOEXEC);
	ck_assert_err_contains(tmp_path);
	ck_assert_err_contains("too old");
	unlink(tmp_path);
}
END_TEST

START_TEST(open_empty_dir_missing)
{
	struct kernel_image img;

	write_tmp("", 0);
	ck_assert_int_eq(kernel_image_open(tmp_path, &img, err, sizeof(err)), -ENOEXEC);
	ck_assert_err_contains("empty");
	unlink(tmp_path);

	ck_assert_int_eq(kernel_image_open("/tmp", &img, err, sizeof(err)), -EISDIR);
	ck_assert_err_contains("directory");
	ck_assert_int_eq(kernel_image_open("/nonexistent/vmlinuz", &img, err, sizeof(err)), -ENOENT);
	ck_assert_err_contains("/nonexistent/vmlinuz");
}
END_TEST

/* ================= kernel_image_load ================= */

START_TEST(load_bzimage_at_pref_address)
{
	struct kernel_entry entry;

	make_bzimage();
	struct kernel_image img = image_of(bz, BZ_LEN);
	mem_init(64 * MiB, 0);
	ck_assert_int_eq(kernel_image_load(&img, &mem, &entry, err, sizeof(err)), 0);
	ck_assert_int_eq(entry.mode, ENTRY_LINUX64);
	ck_assert_uint_eq(entry.rip, 0x1000000 + 0x200);
	ck_assert_uint_eq(entry.boot_info, LAYOUT_BOOT_PARAMS);
	ck_assert_uint_eq(entry.start, 0x1000000);
	ck_assert_uint_eq(entry.end, 0x1000000 + BZ_INIT_SIZE);
	ck_assert(entry.has_setup_header);
	ck_assert_uint_eq(entry.hdr.code32_start, 0x1000000);
	ck_assert_uint_eq(entry.hdr.type_of_loader, 0xff);
	ck_assert_uint_eq(entry.initrd_addr_max, 0x7fffffff);
	ck_assert_mem_eq(ram_low + 0x1000000, bz + BZ_SETUP, BZ_PM_SIZE);
	ck_assert_uint_eq(ram_low[0x1000000 - 1], 0); /* nothing before it */
	mem_teardown();
}
END_TEST

START_TEST(load_bzimage_small_ram_falls_back_low)
{
	struct kernel_entry entry;

	make_bzimage();
	struct kernel_image img = image_of(bz, BZ_LEN);
	mem_init(8 * MiB, 0); /* 16 MiB + init_size does not fit */
	ck_assert_int_eq(kernel_image_load(&img, &mem, &entry, err, sizeof(err)), 0);
	ck_assert_uint_eq(entry.start, 2 * MiB); /* 1 MiB aligned up to 2 MiB */
	ck_assert_uint_eq(entry.rip, 2 * MiB + 0x200);
	ck_assert_mem_eq(ram_low + 2 * MiB, bz + BZ_SETUP, BZ_PM_SIZE);
	mem_teardown();
}
END_TEST

START_TEST(load_bzimage_does_not_fit)
{
	struct kernel_entry entry;

	make_bzimage();
	struct kernel_image img = image_of(bz, BZ_LEN);
	mem_init(4 * MiB, 0); /* 2 MiB + 4 MiB init_size > 4 MiB */
	ck_assert_int_eq(kernel_image_load(&img, &mem, &entry, err, sizeof(err)), -ENOMEM);
	ck_assert_err_contains("use --mem larger");
	mem_teardown();

	/* a fixed kernel never moves to the fallback address */
	make_bzimage();
	bz_hdr()->relocatable_kernel = 0;
	img = image_of(bz, BZ_LEN);
	mem_init(8 * MiB, 0);
	ck_assert_int_eq(kernel_image_load(&img, &mem, &entry, err, sizeof(err)), -ENOMEM);
	mem_teardown();
}
END_TEST

START_TEST(load_elf64_prefers_64bit_entry)
{
	struct kernel_entry entry;

	make_elf64();
	struct kernel_image img = image_of(e64, E64_LEN);
	mem_init(32 * MiB, 0);
	memset(ram_low + E64_SEG0_PADDR, 0xcc, 0x300); /* bss must be cleared */
	ck_assert_int_eq(kernel_image_load(&img, &mem, &entry, err, sizeof(err)), 0);
	ck_assert_int_eq(entry.mode, ENTRY_LINUX64);
	ck_assert_uint_eq(entry.rip, E64_ENTRY);
	ck_assert_uint_eq(entry.start, E64_SEG0_PADDR);
	ck_assert_uint_eq(entry.end, E64_SEG1_PADDR + 0x1000);
	ck_assert(!entry.has_setup_header);
	ck_assert_mem_eq(ram_low + E64_SEG0_PADDR, e64 + E64_SEG0_OFF, 0x100);
	ck_assert_mem_eq(ram_low + E64_SEG1_PADDR, e64 + E64_SEG1_OFF, 0x80);
	for (unsigned i = 0x100; i < 0x200; i++)
		ck_assert_uint_eq(ram_low[E64_SEG0_PADDR + i], 0);
	ck_assert_uint_eq(ram_low[E64_SEG0_PADDR + 0x200], 0xcc); /* past memsz: untouched */
	mem_teardown();
}
END_TEST

START_TEST(load_elf32_pvh)
{
	struct kernel_entry entry;

	make_elf32(true);
	struct kernel_image img = image_of(e32, E32_LEN);
	mem_init(32 * MiB, 0);
	ck_assert_int_eq(kernel_image_load(&img, &mem, &entry, err, sizeof(err)), 0);
	ck_assert_int_eq(entry.mode, ENTRY_PVH32);
	ck_assert_uint_eq(entry.rip, E32_PVH_ENTRY);
	ck_assert_mem_eq(ram_low + E32_SEG_PADDR, e32 + E32_SEG_OFF, 0x100);
	mem_teardown();

	make_elf32(false);
	img = image_of(e32, E32_LEN);
	mem_init(32 * MiB, 0);
	ck_assert_int_eq(kernel_image_load(&img, &mem, &entry, err, sizeof(err)), -ENOEXEC);
	ck_assert_err_contains("no PVH entry note");
	mem_teardown();
}
END_TEST

START_TEST(load_elf_segment_outside_ram)
{
	struct kernel_entry entry;

	make_elf64();
	struct kernel_image img = image_of(e64, E64_LEN);
	mem_init(E64_SEG1_PADDR + 0x800, 0); /* second segment's bss hangs off the end */
	ck_assert_int_eq(kernel_image_load(&img, &mem, &entry, err, sizeof(err)), -ENOMEM);
	ck_assert_err_contains("does not fit in guest RAM");
	ck_assert_uint_eq(ram_low[E64_SEG0_PADDR], 0); /* nothing written */
	mem_teardown();

	make_elf64();
	e64_phdr(0)->p_paddr = 0x7000; /* over boot_params */
	e64_ehdr()->e_entry = 0x7010;
	e64_phdr(2)->p_type = PT_NULL; /* drop the PVH note, which pointed into it */
	img = image_of(e64, E64_LEN);
	mem_init(32 * MiB, 0);
	ck_assert_int_eq(kernel_image_load(&img, &mem, &entry, err, sizeof(err)), -EINVAL);
	ck_assert_err_contains("below 1 MiB");
	mem_teardown();
}
END_TEST

/* An ELF file is read sparsely: headers and notes at open, each PT_LOAD
 * straight from the file into guest memory at load. */
START_TEST(load_elf_file_reads_segments)
{
	struct kernel_image img;
	struct kernel_entry entry;

	make_elf64();
	write_tmp(e64, E64_LEN);
	ck_assert_int_eq(kernel_image_open(tmp_path, &img, err, sizeof(err)), 0);
	ck_assert(img.sparse);
	ck_assert_uint_eq(img.elf.pvh_entry, E64_PVH_ENTRY); /* the notes were read */
	mem_init(32 * MiB, 0);
	memset(ram_low + E64_SEG0_PADDR, 0xcc, 0x300);
	ck_assert_int_eq(kernel_image_load(&img, &mem, &entry, err, sizeof(err)), 0);
	ck_assert_mem_eq(ram_low + E64_SEG0_PADDR, e64 + E64_SEG0_OFF, 0x100);
	ck_assert_mem_eq(ram_low + E64_SEG1_PADDR, e64 + E64_SEG1_OFF, 0x80);
	for (unsigned i = 0x100; i < 0x200; i++)
		ck_assert_uint_eq(ram_low[E64_SEG0_PADDR + i], 0);
	ck_assert_uint_eq(ram_low[E64_SEG0_PADDR + 0x200], 0xcc);
	mem_teardown();
	kernel_image_close(&img);
	unlink(tmp_path);
}
END_TEST

/* The file shrinks between open and load: one error, no short segment. */
START_TEST(load_elf_file_shrank)
{
	struct kernel_image img;
	struct kernel_entry entry;

	make_elf64();
	write_tmp(e64, E64_LEN);
	ck_assert_int_eq(kernel_image_open(tmp_path, &img, err, sizeof(err)), 0);
	ck_assert_int_eq(truncate(tmp_path, E64_SEG0_OFF + 0x10), 0);
	mem_init(32 * MiB, 0);
	ck_assert_int_eq(kernel_image_load(&img, &mem, &entry, err, sizeof(err)), -EIO);
	ck_assert_err_contains("shrank");
	mem_teardown();
	kernel_image_close(&img);
	unlink(tmp_path);
}
END_TEST

/* Hostile files through the sparse reader: every truncation, offsets past
 * the end, and note segments too large to read are refused at open. */
START_TEST(open_elf_file_hostile)
{
	struct kernel_image img;

	make_elf64();
	for (size_t len = 1; len < E64_LEN; len++) {
		write_tmp(e64, len);
		int ret = kernel_image_open(tmp_path, &img, err, sizeof(err));
		ck_assert_msg(ret < 0, "truncated at %zu: accepted", len);
		ck_assert_ptr_null(img.data);
		unlink(tmp_path);
	}

	make_elf64();
	e64_ehdr()->e_phoff = 1ull << 40;
	write_tmp(e64, E64_LEN);
	ck_assert_int_eq(kernel_image_open(tmp_path, &img, err, sizeof(err)), -ENOEXEC);
	ck_assert_err_contains("program headers");
	unlink(tmp_path);

	make_elf64();
	e64_phdr(2)->p_offset = UINT64_MAX - 8;
	write_tmp(e64, E64_LEN);
	ck_assert_int_eq(kernel_image_open(tmp_path, &img, err, sizeof(err)), -ENOEXEC);
	unlink(tmp_path);

	make_elf64();
	e64_phdr(2)->p_filesz = 2u << 20;
	write_tmp(e64, E64_LEN);
	ck_assert_int_eq(kernel_image_open(tmp_path, &img, err, sizeof(err)), -ENOEXEC);
	ck_assert_err_contains("note segments exceed");
	unlink(tmp_path);

	make_elf64();
	e64_phdr(1)->p_filesz = 0x1000; /* runs past the end of the file */
	write_tmp(e64, E64_LEN);
	ck_assert_int_eq(kernel_image_open(tmp_path, &img, err, sizeof(err)), -ENOEXEC);
	ck_assert_err_contains("past the end");
	unlink(tmp_path);
}
END_TEST

/* ================= e820 ================= */

static void check_entry(const struct e820_entry *e, uint64_t addr, uint64_t size, uint32_t type)
{
	ck_assert_uint_eq(e->addr, addr);
	ck_assert_uint_eq(e->size, size);
	ck_assert_uint_eq(e->type, type);
}

START_TEST(e820_256m)
{
	struct e820_entry map[E820_MAX_ENTRIES];

	ck_assert_int_eq(e820_build(256 * MiB, map, E820_MAX_ENTRIES), 3);
	check_entry(&map[0], 0, 0x9fc00, E820_TYPE_RAM);
	check_entry(&map[1], 0x9fc00, 0x100000 - 0x9fc00, E820_TYPE_RESERVED);
	check_entry(&map[2], 0x100000, 256 * MiB - 0x100000, E820_TYPE_RAM);
}
END_TEST

START_TEST(e820_3g)
{
	struct e820_entry map[E820_MAX_ENTRIES];

	ck_assert_int_eq(e820_build(3 * GiB, map, E820_MAX_ENTRIES), 3);
	check_entry(&map[2], 0x100000, 3 * GiB - 0x100000, E820_TYPE_RAM);
}
END_TEST

START_TEST(e820_3g_plus)
{
	struct e820_entry map[E820_MAX_ENTRIES];

	ck_assert_int_eq(e820_build(3 * GiB + 4096, map, E820_MAX_ENTRIES), 4);
	check_entry(&map[2], 0x100000, 3 * GiB - 0x100000, E820_TYPE_RAM);
	check_entry(&map[3], 4 * GiB, 4096, E820_TYPE_RAM);
	/* 3 GiB + 1 byte is not page-granular: refused */
	ck_assert_int_eq(e820_build(3 * GiB + 1, map, E820_MAX_ENTRIES), -EINVAL);
}
END_TEST

START_TEST(e820_8g)
{
	struct e820_entry map[E820_MAX_ENTRIES];

	ck_assert_int_eq(e820_build(8 * GiB, map, E820_MAX_ENTRIES), 4);
	check_entry(&map[2], 0x100000, 3 * GiB - 0x100000, E820_TYPE_RAM);
	check_entry(&map[3], 4 * GiB, 5 * GiB, E820_TYPE_RAM);
}
END_TEST

START_TEST(e820_errors)
{
	struct e820_entry map[E820_MAX_ENTRIES];

	ck_assert_int_eq(e820_build(8 * GiB, map, 3), -ENOSPC);
	ck_assert_int_eq(e820_build(1 * MiB, map, E820_MAX_ENTRIES), -EINVAL);
	ck_assert_int_eq(e820_build(0, map, E820_MAX_ENTRIES), -EINVAL);
	ck_assert_int_eq(e820_build(UINT64_MAX & ~4095ULL, map, E820_MAX_ENTRIES), -EINVAL);
}
END_TEST

START_TEST(e820_split_regions)
{
	struct e820_ram_region r[E820_MAX_RAM_REGIONS];

	ck_assert_int_eq(e820_split_ram(256 * MiB, r), 1);
	ck_assert_uint_eq(r[0].gpa, 0);
	ck_assert_uint_eq(r[0].size, 256 * MiB);
	ck_assert_int_eq(e820_split_ram(8 * GiB, r), 2);
	ck_assert_uint_eq(r[0].size, 3 * GiB);
	ck_assert_uint_eq(r[1].gpa, 4 * GiB);
	ck_assert_uint_eq(r[1].size, 5 * GiB);
}
END_TEST

/* ================= boot_params ================= */

#define BP LAYOUT_BOOT_PARAMS

START_TEST(boot_params_fields_at_abi_offsets)
{
	struct bzimage_info info;
	const char *cmdline = "console=ttyS0 root=/dev/vda";

	make_bzimage();
	ck_assert_int_eq(parse_bz(BZ_LEN, &info), 0);
	info.hdr.ramdisk_image = 0xdeadbeef; /* junk a hostile header may carry */
	mem_init(64 * MiB, 0);
	memset(ram_low + BP, 0xcc, 4096); /* the page must be fully rewritten */
	struct boot_config cfg = {
		.hdr = &info.hdr, .cmdline = cmdline, .ram_size = 64 * MiB,
		.initrd_addr = 0x2000000, .initrd_size = 0x123456, .rsdp_addr = 0xe0000,
	};
	ck_assert_int_eq(boot_params_build(&mem, &cfg, err, sizeof(err)), 0);

	ck_assert_uint_eq(rd8(BP + 0x1f1), BZ_SECTS);       /* hdr copied at 0x1f1 */
	ck_assert_uint_eq(rd32(BP + 0x1fe) & 0xffff, 0xaa55);
	ck_assert_uint_eq(rd32(BP + 0x202), BZIMAGE_MAGIC);
	ck_assert_uint_eq(rd8(BP + 0x210), 0xff);           /* type_of_loader */
	ck_assert_uint_eq(rd32(BP + 0x228), LAYOUT_CMDLINE); /* cmd_line_ptr */
	ck_assert_uint_eq(rd32(BP + 0x218), 0x2000000);     /* ramdisk_image */
	ck_assert_uint_eq(rd32(BP + 0x21c), 0x123456);      /* ramdisk_size */
	ck_assert_uint_eq(rd32(BP + 0x0c0), 0);             /* ext_ramdisk_image */
	ck_assert_uint_eq(rd64(BP + 0x070), 0xe0000);       /* acpi_rsdp_addr */
	ck_assert_uint_eq(rd64(BP + 0x250), 0);             /* no setup_data */
	ck_assert_uint_eq(rd8(BP + 0x1e8), 3);              /* e820_entries */
	ck_assert_uint_eq(rd64(BP + 0x2d0), 0);             /* e820_table[0].addr */
	ck_assert_uint_eq(rd64(BP + 0x2d8), 0x9fc00);       /* .size */
	ck_assert_uint_eq(rd32(BP + 0x2e0), 1);             /* .type RAM */
	ck_assert_uint_eq(rd32(BP + 0x2d0 + 20 + 16), 2);   /* [1] reserved */
	ck_assert_uint_eq(rd64(BP + 0x2d0 + 40), 0x100000); /* [2].addr */
	ck_assert_uint_eq(rd8(BP + 0x1ef), 0);              /* sentinel clear */
	ck_assert_uint_eq(rd8(BP + 0xfff), 0);              /* rest zeroed */
	ck_assert_str_eq((char *)ram_low + LAYOUT_CMDLINE, cmdline);
	mem_teardown();
}
END_TEST

START_TEST(boot_params_synthesized_header)
{
	mem_init(64 * MiB, 0);
	struct boot_config cfg = { .hdr = NULL, .cmdline = NULL, .ram_size = 64 * MiB };
	ck_assert_int_eq(boot_params_build(&mem, &cfg, err, sizeof(err)), 0);
	ck_assert_uint_eq(rd32(BP + 0x1fe) & 0xffff, 0xaa55);
	ck_assert_uint_eq(rd32(BP + 0x202), BZIMAGE_MAGIC);
	ck_assert_uint_eq(rd32(BP + 0x206) & 0xffff, 0x020f);
	ck_assert_uint_eq(rd8(BP + 0x210), 0xff);
	ck_assert_uint_eq(rd8(BP + 0x211), LOADED_HIGH);
	ck_assert_uint_eq(rd32(BP + 0x238), BOOT_DEFAULT_CMDLINE_SIZE);
	ck_assert_uint_eq(rd32(BP + 0x218), 0); /* no initrd */
	ck_assert_uint_eq(rd8(LAYOUT_CMDLINE), 0); /* empty command line */
	mem_teardown();
}
END_TEST

START_TEST(boot_params_cmdline_too_long)
{
	struct setup_header hdr;
	char line[2100];

	boot_params_default_header(&hdr);
	hdr.cmdline_size = 10;
	mem_init(64 * MiB, 0);
	struct boot_config cfg = { .hdr = &hdr, .cmdline = "0123456789x", .ram_size = 64 * MiB };
	ck_assert_int_eq(boot_params_build(&mem, &cfg, err, sizeof(err)), -E2BIG);
	ck_assert_err_contains("11 bytes; this kernel accepts at most 10");
	cfg.cmdline = "0123456789"; /* exactly cmdline_size: fine */
	ck_assert_int_eq(boot_params_build(&mem, &cfg, err, sizeof(err)), 0);

	memset(line, 'a', sizeof(line) - 1);
	line[sizeof(line) - 1] = 0;
	cfg.hdr = NULL; /* ELF default: 2047 */
	cfg.cmdline = line;
	ck_assert_int_eq(boot_params_build(&mem, &cfg, err, sizeof(err)), -E2BIG);
	mem_teardown();
}
END_TEST

START_TEST(boot_params_initrd_high_bits_and_checks)
{
	mem_init(64 * MiB, 2 * MiB);
	struct boot_config cfg = { .ram_size = 64 * MiB, .initrd_addr = LAYOUT_4G + 0x1000, .initrd_size = 0x1000 };
	ck_assert_int_eq(boot_params_build(&mem, &cfg, err, sizeof(err)), 0);
	ck_assert_uint_eq(rd32(BP + 0x218), 0x1000);
	ck_assert_uint_eq(rd32(BP + 0x0c0), 1); /* ext_ramdisk_image = bits 32..63 */
	ck_assert_uint_eq(rd32(BP + 0x21c), 0x1000);
	ck_assert_uint_eq(rd32(BP + 0x0c4), 0);

	cfg.initrd_addr = 60 * MiB;
	cfg.initrd_size = 8 * MiB; /* runs past RAM */
	ck_assert_int_eq(boot_params_build(&mem, &cfg, err, sizeof(err)), -EINVAL);
	ck_assert_err_contains("initrd");
	mem_teardown();
}
END_TEST

START_TEST(boot_params_setup_data_chain)
{
	static const uint8_t dtb[5] = { 0xd0, 0x0d, 0xfe, 0xed, 0x01 };
	static const uint8_t rng[3] = { 1, 2, 3 };
	struct boot_setup_data blobs[2] = {
		{ .type = SETUP_DTB, .data = dtb, .len = sizeof(dtb) },
		{ .type = SETUP_RNG_SEED, .data = rng, .len = sizeof(rng) },
	};

	mem_init(64 * MiB, 0);
	struct boot_config cfg = { .ram_size = 64 * MiB, .setup_data = blobs, .nr_setup_data = 2 };
	ck_assert_int_eq(boot_params_build(&mem, &cfg, err, sizeof(err)), 0);

	uint64_t first = rd64(BP + 0x250);
	ck_assert_uint_eq(first, BOOT_SETUP_DATA);
	uint64_t second = rd64(first);
	ck_assert_uint_eq(second, BOOT_SETUP_DATA + 16 + 8); /* 16 + 5, aligned to 8 */
	ck_assert_uint_eq(rd32(first + 8), SETUP_DTB);
	ck_assert_uint_eq(rd32(first + 12), sizeof(dtb));
	ck_assert_mem_eq(ram_low + first + 16, dtb, sizeof(dtb));
	ck_assert_uint_eq(rd64(second), 0); /* end of list */
	ck_assert_uint_eq(rd32(second + 8), SETUP_RNG_SEED);
	ck_assert_mem_eq(ram_low + second + 16, rng, sizeof(rng));
	mem_teardown();
}
END_TEST

START_TEST(boot_params_setup_data_too_big)
{
	static uint8_t big[BOOT_SETUP_DATA_SIZE];
	struct boot_setup_data blobs[2] = {
		{ .type = SETUP_DTB, .data = big, .len = BOOT_SETUP_DATA_SIZE - 16 }, /* exactly fills */
		{ .type = SETUP_RNG_SEED, .data = big, .len = 0 },
	};

	mem_init(64 * MiB, 0);
	struct boot_config cfg = { .ram_size = 64 * MiB, .setup_data = blobs, .nr_setup_data = 1 };
	ck_assert_int_eq(boot_params_build(&mem, &cfg, err, sizeof(err)), 0);
	cfg.nr_setup_data = 2; /* no room for the second header */
	ck_assert_int_eq(boot_params_build(&mem, &cfg, err, sizeof(err)), -ENOSPC);
	ck_assert_err_contains("does not fit");
	blobs[0].len = UINT32_MAX;
	cfg.nr_setup_data = 1;
	ck_assert_int_eq(boot_params_build(&mem, &cfg, err, sizeof(err)), -ENOSPC);
	mem_teardown();
}
END_TEST

START_TEST(boot_params_no_low_memory)
{
	/* guest RAM that lacks the boot page: refused, nothing written */
	memset(&mem, 0, sizeof(mem));
	ram_low = calloc(1, 16 * MiB);
	mem.region[0] = (struct guest_region){ .gpa = LAYOUT_HIGH_RAM, .size = 16 * MiB, .host = ram_low };
	mem.nr_regions = 1;
	struct boot_config cfg = { .ram_size = 64 * MiB };
	ck_assert_int_lt(boot_params_build(&mem, &cfg, err, sizeof(err)), 0);
	ck_assert_err_contains("not in guest RAM");
	ck_assert_int_lt(pvh_start_info_build(&mem, &cfg, err, sizeof(err)), 0);
	mem_teardown();
}
END_TEST

/* ================= initrd placement ================= */

START_TEST(initrd_fits_at_top_of_ram)
{
	uint64_t addr, size = 10 * MiB + 123;

	ck_assert_int_eq(initrd_place(256 * MiB, 0x7fffffff, size, 32 * MiB, &addr, err, sizeof(err)), 0);
	ck_assert_uint_eq(addr % 4096, 0);
	ck_assert_uint_le(addr + size, 256 * MiB);
	ck_assert_uint_gt(addr + size + 4096, 256 * MiB); /* as high as possible */
	ck_assert_uint_ge(addr, 32 * MiB);
}
END_TEST

START_TEST(initrd_respects_addr_max)
{
	uint64_t addr, size = 64 * MiB;

	ck_assert_int_eq(initrd_place(3 * GiB, 0x7fffffff, size, 32 * MiB, &addr, err, sizeof(err)), 0);
	ck_assert_uint_eq(addr, 0x80000000 - size);
	ck_assert_int_eq(initrd_place(3 * GiB, UINT64_MAX, size, 32 * MiB, &addr, err, sizeof(err)), 0);
	ck_assert_uint_eq(addr, 3 * GiB - size);
}
END_TEST

START_TEST(initrd_does_not_fit)
{
	uint64_t addr = 42;

	ck_assert_int_eq(initrd_place(64 * MiB, 0x7fffffff, 8 * MiB, 60 * MiB, &addr, err, sizeof(err)), -ENOMEM);
	ck_assert_err_contains("initrd (8 MiB) does not fit below");
	ck_assert_err_contains("use --mem larger");
	ck_assert_uint_eq(addr, 42);
	ck_assert_int_eq(initrd_place(64 * MiB, 0x7fffffff, 128 * MiB, 0, &addr, err, sizeof(err)), -ENOMEM);
	ck_assert_int_eq(initrd_place(64 * MiB, 0x7fffffff, 0, 0, &addr, err, sizeof(err)), -EINVAL);
}
END_TEST

START_TEST(initrd_exact_fit_boundary)
{
	uint64_t addr;

	/* fits exactly between kernel end and RAM end */
	ck_assert_int_eq(initrd_place(64 * MiB, 0x7fffffff, 8 * MiB, 56 * MiB, &addr, err, sizeof(err)), 0);
	ck_assert_uint_eq(addr, 56 * MiB);
	/* one byte more kernel rounds the floor up a page: no longer fits */
	ck_assert_int_eq(initrd_place(64 * MiB, 0x7fffffff, 8 * MiB, 56 * MiB + 1, &addr, err, sizeof(err)), -ENOMEM);
	/* the kernel end near 2^64 must not wrap the floor to 0 */
	ck_assert_int_eq(initrd_place(64 * MiB, 0x7fffffff, MiB, UINT64_MAX - 5, &addr, err, sizeof(err)), -ENOMEM);
}
END_TEST

/* ================= PVH start info ================= */

START_TEST(pvh_start_info_contents)
{
	mem_init(64 * MiB, 0);
	struct boot_config cfg = { .cmdline = "console=hvc0", .ram_size = 64 * MiB, .initrd_addr = 0x3000000,
				   .initrd_size = 0x5000, .rsdp_addr = 0xe0000 };
	ck_assert_int_eq(pvh_start_info_build(&mem, &cfg, err, sizeof(err)), 0);
	ck_assert_uint_eq(rd32(BP + 0), HVM_START_MAGIC);
	ck_assert_uint_eq(rd32(BP + 4), 1);  /* version */
	ck_assert_uint_eq(rd32(BP + 12), 1); /* nr_modules */
	uint64_t modlist = rd64(BP + 16);
	ck_assert_uint_eq(modlist, BP + PVH_MODLIST_OFFSET);
	ck_assert_uint_eq(rd64(modlist), 0x3000000);
	ck_assert_uint_eq(rd64(modlist + 8), 0x5000);
	ck_assert_uint_eq(rd64(BP + 24), LAYOUT_CMDLINE);
	ck_assert_str_eq((char *)ram_low + LAYOUT_CMDLINE, "console=hvc0");
	ck_assert_uint_eq(rd64(BP + 32), 0xe0000);
	uint64_t memmap = rd64(BP + 40);
	ck_assert_uint_eq(rd32(BP + 48), 3);
	ck_assert_uint_eq(rd64(memmap + 24 + 0), 0x9fc00);   /* [1].addr */
	ck_assert_uint_eq(rd32(memmap + 24 + 16), 2);        /* [1].type reserved */
	ck_assert_uint_eq(rd64(memmap + 48 + 8), 63 * MiB);  /* [2].size */
	ck_assert_uint_eq(rd32(memmap + 48 + 16), 1);        /* RAM */
	mem_teardown();
}
END_TEST

START_TEST(pvh_start_info_without_initrd)
{
	mem_init(64 * MiB, 0);
	struct boot_config cfg = { .ram_size = 64 * MiB };
	ck_assert_int_eq(pvh_start_info_build(&mem, &cfg, err, sizeof(err)), 0);
	ck_assert_uint_eq(rd32(BP + 12), 0);
	ck_assert_uint_eq(rd64(BP + 16), 0);
	ck_assert_uint_eq(rd64(BP + 32), 0);
	mem_teardown();
}
END_TEST

Suite *boot_suite(void)
{
	Suite *s = suite_create("boot");
	TCase *tc;

	tc = tcase_create("bzimage");
	tcase_add_test(tc, bz_valid);
	tcase_add_test(tc, bz_setup_sects_zero_means_four);
	tcase_add_test(tc, bz_header_copy_stops_at_declared_length);
	tcase_add_test(tc, bz_header_too_short);
	tcase_add_test(tc, bz_too_small_for_header);
	tcase_add_test(tc, bz_truncated_in_header);
	tcase_add_test(tc, bz_truncated_in_setup);
	tcase_add_test(tc, bz_setup_sects_past_eof);
	tcase_add_test(tc, bz_no_protected_mode_kernel);
	tcase_add_test(tc, bz_every_truncation_fails);
	tcase_add_test(tc, bz_bad_boot_flag);
	tcase_add_test(tc, bz_bad_magic);
	tcase_add_test(tc, bz_protocol_too_old);
	tcase_add_test(tc, bz_no_kernel64);
	tcase_add_test(tc, bz_not_loaded_high);
	tcase_add_test(tc, bz_syssize_past_eof);
	tcase_add_test(tc, bz_init_size_bad);
	tcase_add_test(tc, bz_payload_outside_kernel);
	tcase_add_test(tc, bz_bad_alignment_and_placement);
	suite_add_tcase(s, tc);

	tc = tcase_create("elf");
	tcase_add_test(tc, elf64_valid);
	tcase_add_test(tc, elf64_without_pvh_note);
	tcase_add_test(tc, elf32_pvh_valid);
	tcase_add_test(tc, elf_bad_ident);
	tcase_add_test(tc, elf_wrong_machine_or_type);
	tcase_add_test(tc, elf_truncated_header);
	tcase_add_test(tc, elf_every_truncation_fails);
	tcase_add_test(tc, elf_phoff_past_eof);
	tcase_add_test(tc, elf_phnum_times_phentsize_overflow);
	tcase_add_test(tc, elf_filesz_greater_than_memsz);
	tcase_add_test(tc, elf_segment_past_eof);
	tcase_add_test(tc, elf_paddr_overflow);
	tcase_add_test(tc, elf_note_bogus_sizes);
	tcase_add_test(tc, elf_entry_outside_segments);
	tcase_add_test(tc, elf_no_loadable_segments);
	tcase_add_test(tc, hostile_random_corruption);
	suite_add_tcase(s, tc);

	tc = tcase_create("kernel-load");
	tcase_add_test(tc, open_bzimage_and_elf);
	tcase_add_test(tc, open_not_a_kernel);
	tcase_add_test(tc, open_broken_bzimage_names_file);
	tcase_add_test(tc, open_empty_dir_missing);
	tcase_add_test(tc, load_bzimage_at_pref_address);
	tcase_add_test(tc, load_bzimage_small_ram_falls_back_low);
	tcase_add_test(tc, load_bzimage_does_not_fit);
	tcase_add_test(tc, load_elf64_prefers_64bit_entry);
	tcase_add_test(tc, load_elf32_pvh);
	tcase_add_test(tc, load_elf_segment_outside_ram);
	tcase_add_test(tc, load_elf_file_reads_segments);
	tcase_add_test(tc, load_elf_file_shrank);
	tcase_add_test(tc, open_elf_file_hostile);
	suite_add_tcase(s, tc);

	tc = tcase_create("e820");
	tcase_add_test(tc, e820_256m);
	tcase_add_test(tc, e820_3g);
	tcase_add_test(tc, e820_3g_plus);
	tcase_add_test(tc, e820_8g);
	tcase_add_test(tc, e820_errors);
	tcase_add_test(tc, e820_split_regions);
	suite_add_tcase(s, tc);

	tc = tcase_create("boot-params");
	tcase_add_test(tc, boot_params_fields_at_abi_offsets);
	tcase_add_test(tc, boot_params_synthesized_header);
	tcase_add_test(tc, boot_params_cmdline_too_long);
	tcase_add_test(tc, boot_params_initrd_high_bits_and_checks);
	tcase_add_test(tc, boot_params_setup_data_chain);
	tcase_add_test(tc, boot_params_setup_data_too_big);
	tcase_add_test(tc, boot_params_no_low_memory);
	tcase_add_test(tc, initrd_fits_at_top_of_ram);
	tcase_add_test(tc, initrd_respects_addr_max);
	tcase_add_test(tc, initrd_does_not_fit);
	tcase_add_test(tc, initrd_exact_fit_boundary);
	tcase_add_test(tc, pvh_start_info_contents);
	tcase_add_test(tc, pvh_start_info_without_initrd);
	suite_add_tcase(s, tc);

	return s;
}

#ifndef SKIFF_UNIT_NO_MAIN
int main(void)
{
	SRunner *sr = srunner_create(boot_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
#endif
