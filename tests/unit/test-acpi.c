/* Unit tests for the AML encoder (kvm/x86/aml.c) and the ACPI tables
 * (kvm/x86/acpi.c). Tables are built into a fake 2 MiB guest and read
 * back by the byte offsets the ACPI specification gives, not through the
 * builder's own structs, so a wrong layout shows up here. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kvm/x86/acpi.h"
#include "kvm/x86/aml.h"
#include "kvm/x86/layout.h"

#define RAM_SIZE (2u << 20)

static uint8_t *ram;
static struct guest_mem mem;

static void ram_setup(void)
{
	ram = malloc(RAM_SIZE);
	ck_assert_ptr_nonnull(ram);
	memset(ram, 0x5a, RAM_SIZE);    /* so stray writes are visible */
	mem.region[0] = (struct guest_region){ .gpa = 0, .size = RAM_SIZE, .host = ram };
	mem.nr_regions = 1;
}

static void ram_teardown(void)
{
	free(ram);
	ram = NULL;
}

/* ---- little helpers to read guest memory ---- */

static uint16_t rd16(uint64_t gpa) { uint16_t v; memcpy(&v, ram + gpa, 2); return v; }
static uint32_t rd32(uint64_t gpa) { uint32_t v; memcpy(&v, ram + gpa, 4); return v; }
static uint64_t rd64(uint64_t gpa) { uint64_t v; memcpy(&v, ram + gpa, 8); return v; }

static uint8_t sum_bytes(uint64_t gpa, size_t len)
{
	uint8_t s = 0;
	for (size_t i = 0; i < len; i++)
		s += ram[gpa + i];
	return s;
}

static bool in_acpi_area(uint64_t gpa, uint64_t len)
{
	return gpa >= LAYOUT_ACPI && len <= LAYOUT_ACPI_SIZE &&
	       gpa - LAYOUT_ACPI <= LAYOUT_ACPI_SIZE - len;
}

/* A typical configuration: 2 CPUs, COM1, pvpanic, 3 virtio-mmio devices. */
static struct acpi_config default_config(void)
{
	struct acpi_config cfg = {
		.nr_cpus = 2,
		.pcat_compat = true,
		.com1 = true,
		.pvpanic = true,
		.nr_virtio_mmio = 3,
	};
	for (unsigned i = 0; i < 3; i++) {
		cfg.virtio_mmio[i].base = LAYOUT_VIRTIO_MMIO + i * LAYOUT_VIRTIO_MMIO_SLOT;
		cfg.virtio_mmio[i].size = LAYOUT_VIRTIO_MMIO_SLOT;
		cfg.virtio_mmio[i].gsi = 5 + i;
	}
	return cfg;
}

static struct acpi_config pci_config(void)
{
	struct acpi_config cfg = default_config();

	cfg.pci.enabled = true;
	cfg.pci.ecam = true;
	cfg.pci.io_base = 0x1000;
	cfg.pci.io_size = 0x1000;
	cfg.pci.intx_gsi_base = 16;
	return cfg;
}

static uint64_t build(const struct acpi_config *cfg)
{
	uint64_t rsdp = 0;

	ck_assert_int_eq(acpi_build(&mem, cfg, &rsdp), 0);
	return rsdp;
}

/* Address of the table with this signature listed in the XSDT, or 0. */
static uint64_t find_table(uint64_t rsdp, const char *sig)
{
	uint64_t xsdt = rd64(rsdp + 24);
	uint32_t len = rd32(xsdt + 4);

	for (uint32_t off = 36; off + 8 <= len; off += 8) {
		uint64_t t = rd64(xsdt + off);
		if (memcmp(ram + t, sig, 4) == 0)
			return t;
	}
	return 0;
}

static uint64_t dsdt_of(uint64_t rsdp)
{
	uint64_t fadt = find_table(rsdp, "FACP");
	ck_assert_uint_ne(fadt, 0);
	return rd64(fadt + 140);        /* X_DSDT */
}

/* Count occurrences of a byte pattern in [gpa, gpa+len). */
static unsigned count_pattern(uint64_t gpa, size_t len, const void *pat, size_t plen)
{
	unsigned n = 0;
	for (size_t i = 0; i + plen <= len; i++)
		if (memcmp(ram + gpa + i, pat, plen) == 0)
			n++;
	return n;
}

static unsigned dsdt_count(uint64_t rsdp, const void *pat, size_t plen)
{
	uint64_t dsdt = dsdt_of(rsdp);
	return count_pattern(dsdt, rd32(dsdt + 4), pat, plen);
}

/* Decode a PkgLength at p; returns its value and sets *n to its size. */
static uint32_t decode_pkglength(const uint8_t *p, size_t *n)
{
	size_t follow = p[0] >> 6;
	uint32_t v;

	if (follow == 0) {
		*n = 1;
		return p[0] & 0x3f;
	}
	v = p[0] & 0x0f;
	for (size_t i = 0; i < follow; i++)
		v |= (uint32_t)p[1 + i] << (4 + 8 * i);
	*n = follow + 1;
	return v;
}

#define ck_assert_bytes(buf, ...) do { \
	const uint8_t expect_[] = { __VA_ARGS__ }; \
	ck_assert_uint_eq((buf)->len, sizeof(expect_)); \
	ck_assert_mem_eq((buf)->data, expect_, sizeof(expect_)); \
} while (0)

/* ================= AML encoder ================= */

START_TEST(test_pkglength_one_byte_limit)
{
	uint8_t out[4];

	ck_assert_uint_eq(aml_pkglength_encode(0, out), 1);
	ck_assert_uint_eq(out[0], 0);
	ck_assert_uint_eq(aml_pkglength_encode(63, out), 1);
	ck_assert_uint_eq(out[0], 0x3f);
	ck_assert_uint_eq(aml_pkglength_encode(64, out), 2);
	ck_assert_uint_eq(out[0], 0x40);
	ck_assert_uint_eq(out[1], 0x04);
}
END_TEST

START_TEST(test_pkglength_two_byte_limit)
{
	uint8_t out[4];

	ck_assert_uint_eq(aml_pkglength_encode(4095, out), 2);
	ck_assert_uint_eq(out[0], 0x4f);
	ck_assert_uint_eq(out[1], 0xff);
	ck_assert_uint_eq(aml_pkglength_encode(4096, out), 3);
	ck_assert_uint_eq(out[0], 0x80);
	ck_assert_uint_eq(out[1], 0x00);
	ck_assert_uint_eq(out[2], 0x01);
}
END_TEST

START_TEST(test_pkglength_three_four_bytes_and_max)
{
	uint8_t out[4];

	ck_assert_uint_eq(aml_pkglength_encode(0xfffff, out), 3);
	ck_assert_uint_eq(out[0], 0x8f);
	ck_assert_uint_eq(out[1], 0xff);
	ck_assert_uint_eq(out[2], 0xff);
	ck_assert_uint_eq(aml_pkglength_encode(0x100000, out), 4);
	ck_assert_uint_eq(out[0], 0xc0);
	ck_assert_uint_eq(out[3], 0x01);
	ck_assert_uint_eq(aml_pkglength_encode(AML_PKGLENGTH_MAX, out), 4);
	ck_assert_uint_eq(out[0], 0xcf);
	ck_assert_uint_eq(out[3], 0xff);
	ck_assert_uint_eq(aml_pkglength_encode(AML_PKGLENGTH_MAX + 1, out), 0);
}
END_TEST

/* Scope("ABCD") with body_len bytes in total after the PkgLength (the 4
 * name bytes plus filler); returns the size of the PkgLength emitted. */
static size_t scope_with_body(uint8_t *data, size_t cap, size_t body_len, struct aml_buf *b)
{
	size_t n;
	uint32_t v;

	aml_init(b, data, cap);
	aml_scope_begin(b, "ABCD");
	for (size_t i = 4; i < body_len; i++)
		aml_byte(b, (uint8_t)i);
	aml_end(b);
	ck_assert(aml_ok(b));
	ck_assert_uint_eq(b->data[0], 0x10);
	v = decode_pkglength(b->data + 1, &n);
	/* The PkgLength counts itself and the body, and the body follows it intact. */
	ck_assert_uint_eq(v, n + body_len);
	ck_assert_uint_eq(b->len, 1 + n + body_len);
	ck_assert_mem_eq(b->data + 1 + n, "ABCD", 4);
	ck_assert_uint_eq(b->data[b->len - 1], (uint8_t)(body_len - 1));
	return n;
}

START_TEST(test_scope_pkglength_63_64)
{
	static uint8_t data[256];
	struct aml_buf b;

	ck_assert_uint_eq(scope_with_body(data, sizeof(data), 62, &b), 1);   /* 63 */
	ck_assert_uint_eq(scope_with_body(data, sizeof(data), 63, &b), 2);   /* 65 */
}
END_TEST

START_TEST(test_scope_pkglength_4095_4096)
{
	static uint8_t data[8192];
	struct aml_buf b;

	ck_assert_uint_eq(scope_with_body(data, sizeof(data), 4093, &b), 2); /* 4095 */
	ck_assert_uint_eq(scope_with_body(data, sizeof(data), 4094, &b), 3); /* 4097 */
}
END_TEST

START_TEST(test_integer_encodings)
{
	static const struct {
		uint64_t value;
		uint8_t bytes[9];
		size_t len;
	} cases[] = {
		{ 0, { 0x00 }, 1 },
		{ 1, { 0x01 }, 1 },
		{ 2, { 0x0a, 0x02 }, 2 },
		{ 0xff, { 0x0a, 0xff }, 2 },
		{ 0x100, { 0x0b, 0x00, 0x01 }, 3 },
		{ 0xffff, { 0x0b, 0xff, 0xff }, 3 },
		{ 0x10000, { 0x0c, 0x00, 0x00, 0x01, 0x00 }, 5 },
		{ 0xffffffff, { 0x0c, 0xff, 0xff, 0xff, 0xff }, 5 },
		{ 1ull << 32, { 0x0e, 0, 0, 0, 0, 1, 0, 0, 0 }, 9 },
		{ UINT64_MAX, { 0x0e, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff }, 9 },
	};
	uint8_t data[16];
	struct aml_buf b;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		aml_init(&b, data, sizeof(data));
		aml_integer(&b, cases[i].value);
		ck_assert(aml_ok(&b));
		ck_assert_uint_eq(b.len, cases[i].len);
		ck_assert_mem_eq(data, cases[i].bytes, cases[i].len);
	}
}
END_TEST

START_TEST(test_string)
{
	uint8_t data[32];
	struct aml_buf b;

	aml_init(&b, data, sizeof(data));
	aml_string(&b, "LNRO0005");
	ck_assert_bytes(&b, 0x0d, 'L', 'N', 'R', 'O', '0', '0', '0', '5', 0x00);

	aml_init(&b, data, sizeof(data));
	aml_string(&b, "caf\xc3\xa9");  /* not ASCII */
	ck_assert(b.error);
}
END_TEST

START_TEST(test_namestrings)
{
	uint8_t data[64];
	struct aml_buf b;

	aml_init(&b, data, sizeof(data));
	aml_namestring(&b, "_SB");
	ck_assert_bytes(&b, '_', 'S', 'B', '_');

	aml_init(&b, data, sizeof(data));
	aml_namestring(&b, "\\_SB.PCI0");
	ck_assert_bytes(&b, 0x5c, 0x2e, '_', 'S', 'B', '_', 'P', 'C', 'I', '0');

	aml_init(&b, data, sizeof(data));
	aml_namestring(&b, "\\");
	ck_assert_bytes(&b, 0x5c, 0x00);

	aml_init(&b, data, sizeof(data));
	aml_namestring(&b, "A.B1.C_");
	ck_assert_bytes(&b, 0x2f, 3, 'A', '_', '_', '_', 'B', '1', '_', '_', 'C', '_', '_', '_');

	aml_init(&b, data, sizeof(data));
	aml_namestring(&b, "^^FOO");
	ck_assert_bytes(&b, 0x5e, 0x5e, 'F', 'O', 'O', '_');
}
END_TEST

START_TEST(test_invalid_names)
{
	static const char *const bad[] = { "", "lowr", "TOOLONG", "1ABC", "A..B", "ABC.", ".ABC", "\\A-B" };
	uint8_t data[64];
	struct aml_buf b;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		aml_init(&b, data, sizeof(data));
		aml_namestring(&b, bad[i]);
		ck_assert_msg(b.error, "name \"%s\" accepted", bad[i]);
	}
}
END_TEST

START_TEST(test_eisaid)
{
	uint32_t v = 0;

	ck_assert(aml_eisaid("PNP0A08", &v));
	ck_assert_uint_eq(v, 0x080ad041);
	ck_assert(aml_eisaid("PNP0A03", &v));
	ck_assert_uint_eq(v, 0x030ad041);
	ck_assert(aml_eisaid("PNP0501", &v));
	ck_assert_uint_eq(v, 0x0105d041);
	ck_assert(aml_eisaid("PNP0C02", &v));
	ck_assert_uint_eq(v, 0x020cd041);
	ck_assert(!aml_eisaid("PNP0A0", &v));
	ck_assert(!aml_eisaid("PNP0A080", &v));
	ck_assert(!aml_eisaid("pnp0A08", &v));
	ck_assert(!aml_eisaid("PNP0G08", &v));
}
END_TEST

START_TEST(test_name_hid_eisaid)
{
	uint8_t data[32];
	struct aml_buf b;

	aml_init(&b, data, sizeof(data));
	aml_name(&b, "_HID");
	aml_eisaid_integer(&b, "PNP0A08");
	ck_assert(aml_ok(&b));
	ck_assert_bytes(&b, 0x08, '_', 'H', 'I', 'D', 0x0c, 0x41, 0xd0, 0x0a, 0x08);

	aml_init(&b, data, sizeof(data));
	aml_eisaid_integer(&b, "XYZ");
	ck_assert(b.error);
}
END_TEST

START_TEST(test_nested_scope_device)
{
	uint8_t data[64];
	struct aml_buf b;

	/* Scope(\_SB) { Device(DEV0) { Name(_UID, Zero) } } */
	aml_init(&b, data, sizeof(data));
	aml_scope_begin(&b, "\\_SB");
	aml_device_begin(&b, "DEV0");
	aml_name(&b, "_UID");
	aml_integer(&b, 0);
	aml_end(&b);
	aml_end(&b);
	ck_assert(aml_ok(&b));
	ck_assert_bytes(&b, 0x10, 0x13, 0x5c, '_', 'S', 'B', '_',
			0x5b, 0x82, 0x0b, 'D', 'E', 'V', '0',
			0x08, '_', 'U', 'I', 'D', 0x00);
}
END_TEST

START_TEST(test_package_s5)
{
	uint8_t data[32];
	struct aml_buf b;

	aml_init(&b, data, sizeof(data));
	aml_name(&b, "\\_S5");
	aml_package_begin(&b, 4);
	aml_integer(&b, 5);
	aml_integer(&b, 5);
	aml_integer(&b, 0);
	aml_integer(&b, 0);
	aml_end(&b);
	ck_assert(aml_ok(&b));
	ck_assert_bytes(&b, 0x08, 0x5c, '_', 'S', '5', '_', 0x12, 0x08, 0x04,
			0x0a, 0x05, 0x0a, 0x05, 0x00, 0x00);

	aml_init(&b, data, sizeof(data));
	aml_package_begin(&b, 256);     /* needs VarPackageOp */
	ck_assert(b.error);
}
END_TEST

START_TEST(test_method_return_constant)
{
	uint8_t data[32];
	struct aml_buf b;

	aml_init(&b, data, sizeof(data));
	aml_method_begin(&b, "_STA", 0, false);
	aml_return(&b);
	aml_integer(&b, 0x0f);
	aml_end(&b);
	ck_assert(aml_ok(&b));
	ck_assert_bytes(&b, 0x14, 0x09, '_', 'S', 'T', 'A', 0x00, 0xa4, 0x0a, 0x0f);

	/* MethodFlags: 2 arguments, serialized */
	aml_init(&b, data, sizeof(data));
	aml_method_begin(&b, "FOO", 2, true);
	aml_end(&b);
	ck_assert_bytes(&b, 0x14, 0x06, 'F', 'O', 'O', '_', 0x0a);

	aml_init(&b, data, sizeof(data));
	aml_method_begin(&b, "FOO", 8, false);
	ck_assert(b.error);
}
END_TEST

START_TEST(test_resource_template_io)
{
	uint8_t data[32];
	struct aml_buf b;

	aml_init(&b, data, sizeof(data));
	aml_resource_begin(&b);
	aml_io(&b, 0x3f8, 0x3f8, 1, 8);
	aml_resource_end(&b);
	ck_assert(aml_ok(&b));
	/* BufferOp PkgLength BufferSize(10) IO-descriptor EndTag */
	ck_assert_bytes(&b, 0x11, 0x0d, 0x0a, 0x0a,
			0x47, 0x01, 0xf8, 0x03, 0xf8, 0x03, 0x01, 0x08,
			0x79, 0x00);
}
END_TEST

START_TEST(test_buffer_size_word)
{
	static uint8_t data[512];
	struct aml_buf b;

	/* 300 bytes: BufferSize needs a WordPrefix, PkgLength two bytes:
	 * 2 (PkgLength) + 3 (BufferSize) + 300 = 305 = 0x131. */
	aml_init(&b, data, sizeof(data));
	aml_buffer_begin(&b);
	for (int i = 0; i < 300; i++)
		aml_byte(&b, 0xee);
	aml_end(&b);
	ck_assert(aml_ok(&b));
	ck_assert_uint_eq(b.len, 1 + 2 + 3 + 300);
	ck_assert_uint_eq(data[0], 0x11);
	ck_assert_uint_eq(data[1], 0x41);
	ck_assert_uint_eq(data[2], 0x13);
	ck_assert_uint_eq(data[3], 0x0b);
	ck_assert_uint_eq(data[4], 0x2c);
	ck_assert_uint_eq(data[5], 0x01);
	ck_assert_uint_eq(data[6], 0xee);
	ck_assert_uint_eq(data[305], 0xee);
}
END_TEST

START_TEST(test_memory32_and_interrupt_descriptors)
{
	uint8_t data[64];
	struct aml_buf b;

	aml_init(&b, data, sizeof(data));
	aml_memory32_fixed(&b, 0xd0001000, 0x200, true);
	aml_interrupt(&b, 7, 0);
	aml_interrupt(&b, 0x12345678, AML_IRQ_EDGE | AML_IRQ_ACTIVE_LOW | AML_IRQ_SHARED);
	ck_assert(aml_ok(&b));
	ck_assert_bytes(&b, 0x86, 0x09, 0x00, 0x01, 0x00, 0x10, 0x00, 0xd0, 0x00, 0x02, 0x00, 0x00,
			0x89, 0x06, 0x00, 0x01, 0x01, 0x07, 0x00, 0x00, 0x00,
			0x89, 0x06, 0x00, 0x0f, 0x01, 0x78, 0x56, 0x34, 0x12);

	aml_init(&b, data, sizeof(data));
	aml_interrupt(&b, 5, 0x10);     /* undefined flag */
	ck_assert(b.error);
}
END_TEST

START_TEST(test_irq_noflags)
{
	uint8_t data[8];
	struct aml_buf b;

	aml_init(&b, data, sizeof(data));
	aml_irq_noflags(&b, 4);
	ck_assert_bytes(&b, 0x22, 0x10, 0x00);

	aml_init(&b, data, sizeof(data));
	aml_irq_noflags(&b, 16);
	ck_assert(b.error);
}
END_TEST

START_TEST(test_address_space_descriptors)
{
	uint8_t data[128];
	struct aml_buf b;

	aml_init(&b, data, sizeof(data));
	aml_word_bus_number(&b, 0, 0);
	ck_assert_bytes(&b, 0x88, 0x0d, 0x00, 0x02, 0x0c, 0x00,
			0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x00);

	aml_init(&b, data, sizeof(data));
	aml_word_io(&b, 0x0d00, 0xffff);
	ck_assert_bytes(&b, 0x88, 0x0d, 0x00, 0x01, 0x0c, 0x03,
			0, 0, 0x00, 0x0d, 0xff, 0xff, 0, 0, 0x00, 0xf3);

	aml_init(&b, data, sizeof(data));
	aml_dword_memory(&b, 0xc0000000, 0xcfffffff, false);
	ck_assert_uint_eq(b.len, 26);
	ck_assert_uint_eq(data[1], 23);
	ck_assert_uint_eq(data[3], 0);          /* memory range */
	ck_assert_uint_eq(data[5], 0x01);       /* read-write, non-cacheable */
	ck_assert_uint_eq(data[22] | data[23] << 8 | data[24] << 16 | (uint32_t)data[25] << 24, 0x10000000);

	aml_init(&b, data, sizeof(data));
	aml_qword_memory(&b, 0x100000000ull, 0x1ffffffffull, true);
	ck_assert_uint_eq(b.len, 46);
	ck_assert_uint_eq(data[0], 0x8a);
	ck_assert_uint_eq(data[1], 43);
	ck_assert_uint_eq(data[5], 0x07);       /* read-write, prefetchable */
	ck_assert_uint_eq(data[38 + 4], 0x01);  /* length 0x1_0000_0000 */
}
END_TEST

START_TEST(test_address_space_rejects_bad_ranges)
{
	uint8_t data[64];
	struct aml_buf b;

	aml_init(&b, data, sizeof(data));
	aml_word_io(&b, 0, 0xffff);             /* length 0x10000 does not fit */
	ck_assert(b.error);

	aml_init(&b, data, sizeof(data));
	aml_dword_memory(&b, 0x2000, 0x1000, false);
	ck_assert(b.error);

	aml_init(&b, data, sizeof(data));
	aml_qword_memory(&b, 0, UINT64_MAX, false);
	ck_assert(b.error);
}
END_TEST

START_TEST(test_overflow_is_an_error_not_a_write)
{
	uint8_t data[32];
	struct aml_buf b;

	memset(data, 0xaa, sizeof(data));
	aml_init(&b, data, 8);                  /* only 8 of the 32 bytes */
	aml_string(&b, "LNRO0005");             /* needs 10 */
	ck_assert(b.error);
	ck_assert(!aml_ok(&b));
	ck_assert_uint_le(b.len, 8);
	for (size_t i = 8; i < sizeof(data); i++)
		ck_assert_uint_eq(data[i], 0xaa);

	/* Later calls do nothing once the error is set. */
	size_t len = b.len;
	aml_byte(&b, 1);
	ck_assert_uint_eq(b.len, len);
}
END_TEST

START_TEST(test_overflow_when_inserting_pkglength)
{
	uint8_t data[16];
	struct aml_buf b;

	/* The body fills the buffer exactly; aml_end() has no room left for
	 * the PkgLength byte it must insert. */
	memset(data, 0xaa, sizeof(data));
	aml_init(&b, data, 9);
	aml_scope_begin(&b, "ABCD");            /* 1 + 4 bytes */
	aml_bytes(&b, "\1\2\3\4", 4);           /* 9 bytes: full */
	ck_assert(!b.error);
	aml_end(&b);
	ck_assert(b.error);
	for (size_t i = 9; i < sizeof(data); i++)
		ck_assert_uint_eq(data[i], 0xaa);
}
END_TEST

START_TEST(test_unbalanced_constructs)
{
	uint8_t data[64];
	struct aml_buf b;

	aml_init(&b, data, sizeof(data));
	aml_end(&b);                            /* nothing open */
	ck_assert(b.error);

	aml_init(&b, data, sizeof(data));
	aml_scope_begin(&b, "ABCD");            /* never closed */
	ck_assert(!b.error);
	ck_assert(!aml_ok(&b));

	aml_init(&b, data, sizeof(data));
	aml_scope_begin(&b, "ABCD");
	aml_resource_end(&b);                   /* innermost is not a Buffer */
	ck_assert(b.error);

	aml_init(&b, data, sizeof(data));
	for (int i = 0; i <= AML_MAX_DEPTH; i++)
		aml_package_begin(&b, 1);
	ck_assert(b.error);
}
END_TEST

/* ================= ACPI tables ================= */

START_TEST(test_rsdp)
{
	struct acpi_config cfg = default_config();
	uint64_t rsdp = build(&cfg);
	uint64_t xsdt;

	ck_assert_uint_eq(rsdp, LAYOUT_ACPI);
	ck_assert_uint_eq(rsdp % 16, 0);
	ck_assert(rsdp >= 0xe0000 && rsdp + 36 <= 0x100000);
	ck_assert_mem_eq(ram + rsdp, "RSD PTR ", 8);
	ck_assert_uint_eq(ram[rsdp + 15], 2);              /* revision */
	ck_assert_uint_eq(sum_bytes(rsdp, 20), 0);
	ck_assert_uint_eq(rd32(rsdp + 20), 36);            /* length */
	ck_assert_uint_eq(sum_bytes(rsdp, 36), 0);
	ck_assert_uint_eq(rd32(rsdp + 16), 0);             /* XSDT only */
	xsdt = rd64(rsdp + 24);
	ck_assert(in_acpi_area(xsdt, 36));
	ck_assert_mem_eq(ram + xsdt, "XSDT", 4);
}
END_TEST

/* Check one table: inside the area, sane length, checksum 0. */
static void check_table(uint64_t gpa, const char *sig)
{
	uint32_t len;

	ck_assert_msg(in_acpi_area(gpa, 36), "%s at 0x%llx outside the ACPI area", sig,
		      (unsigned long long)gpa);
	ck_assert_mem_eq(ram + gpa, sig, 4);
	len = rd32(gpa + 4);
	ck_assert_uint_ge(len, 36);
	ck_assert(in_acpi_area(gpa, len));
	ck_assert_msg(sum_bytes(gpa, len) == 0, "%s checksum", sig);
}

START_TEST(test_all_tables_checksummed)
{
	struct acpi_config cfg = pci_config();
	uint64_t rsdp = build(&cfg);
	uint64_t xsdt = rd64(rsdp + 24);
	uint32_t xlen = rd32(xsdt + 4);
	uint64_t fadt = find_table(rsdp, "FACP");

	check_table(xsdt, "XSDT");
	ck_assert_uint_eq((xlen - 36) % 8, 0);
	for (uint32_t off = 36; off < xlen; off += 8) {
		char sig[5] = { 0 };
		uint64_t t = rd64(xsdt + off);
		memcpy(sig, ram + t, 4);
		check_table(t, sig);
	}
	check_table(rd64(fadt + 140), "DSDT");
}
END_TEST

START_TEST(test_xsdt_lists_fadt_madt_and_mcfg_only_with_ecam)
{
	struct acpi_config cfg = default_config();
	uint64_t rsdp = build(&cfg);
	uint64_t mcfg;

	ck_assert_uint_ne(find_table(rsdp, "FACP"), 0);
	ck_assert_uint_ne(find_table(rsdp, "APIC"), 0);
	ck_assert_uint_eq(find_table(rsdp, "MCFG"), 0);
	ck_assert_uint_eq(find_table(rsdp, "DSDT"), 0);    /* reached via the FADT */
	ck_assert_uint_eq(rd32(rd64(rsdp + 24) + 4), 36 + 2 * 8);

	cfg = pci_config();
	rsdp = build(&cfg);
	mcfg = find_table(rsdp, "MCFG");
	ck_assert_uint_ne(mcfg, 0);
	ck_assert_uint_eq(rd32(mcfg + 4), 44 + 16);
	ck_assert_uint_eq(rd64(mcfg + 44), LAYOUT_PCI_ECAM);
	ck_assert_uint_eq(rd16(mcfg + 52), 0);             /* segment */
	ck_assert_uint_eq(ram[mcfg + 54], 0);              /* start bus */
	ck_assert_uint_eq(ram[mcfg + 55], 0);              /* end bus: bus 0 is the only one */
}
END_TEST

START_TEST(test_fadt_points_at_dsdt_and_facs)
{
	struct acpi_config cfg = default_config();
	uint64_t rsdp = build(&cfg);
	uint64_t fadt = find_table(rsdp, "FACP");
	uint64_t facs = rd32(fadt + 36);
	uint64_t dsdt = rd64(fadt + 140);

	ck_assert_uint_eq(rd32(fadt + 4), 276);
	ck_assert_uint_eq(ram[fadt + 8], 6);
	ck_assert_uint_eq(rd32(fadt + 40), dsdt);          /* 32-bit DSDT agrees */
	ck_assert_mem_eq(ram + dsdt, "DSDT", 4);
	ck_assert_uint_ne(facs, 0);
	ck_assert_uint_eq(facs % 64, 0);
	ck_assert(in_acpi_area(facs, 64));
	ck_assert_mem_eq(ram + facs, "FACS", 4);
	ck_assert_uint_eq(rd32(facs + 4), 64);
	ck_assert_uint_eq(rd64(fadt + 132), 0);            /* one FACS pointer only */
}
END_TEST

START_TEST(test_fadt_pm_registers_and_sci)
{
	struct acpi_config cfg = default_config();
	uint64_t fadt = find_table(build(&cfg), "FACP");

	ck_assert_uint_eq(rd16(fadt + 46), 9);             /* SCI_INT */
	ck_assert_uint_eq(rd32(fadt + 48), 0);             /* SMI_CMD */
	ck_assert_uint_eq(rd32(fadt + 56), 0xb000);        /* PM1a_EVT_BLK */
	ck_assert_uint_eq(rd32(fadt + 64), 0xb004);        /* PM1a_CNT_BLK */
	ck_assert_uint_eq(rd32(fadt + 76), 0);             /* PM_TMR_BLK */
	ck_assert_uint_eq(ram[fadt + 88], 4);              /* PM1_EVT_LEN */
	ck_assert_uint_eq(ram[fadt + 89], 2);              /* PM1_CNT_LEN */
	ck_assert_uint_eq(ram[fadt + 91], 0);              /* PM_TMR_LEN */
	/* X_PM1a_EVT_BLK and X_PM1a_CNT_BLK: system I/O, 32 and 16 bits */
	ck_assert_uint_eq(ram[fadt + 148], 1);
	ck_assert_uint_eq(ram[fadt + 149], 32);
	ck_assert_uint_eq(rd64(fadt + 152), 0xb000);
	ck_assert_uint_eq(ram[fadt + 172], 1);
	ck_assert_uint_eq(ram[fadt + 173], 16);
	ck_assert_uint_eq(rd64(fadt + 176), 0xb004);
	ck_assert_uint_eq(rd64(fadt + 212), 0);            /* X_PM_TMR_BLK */
}
END_TEST

START_TEST(test_fadt_flags)
{
	struct acpi_config cfg = default_config();
	uint64_t fadt = find_table(build(&cfg), "FACP");
	uint32_t flags = rd32(fadt + 112);
	uint16_t boot_arch = rd16(fadt + 109);

	ck_assert_uint_eq(flags & (1u << 20), 0);          /* not HW_REDUCED_ACPI */
	ck_assert_uint_ne(flags & (1u << 0), 0);           /* WBINVD */
	ck_assert_uint_eq(flags & (1u << 4), 0);           /* fixed-feature power button */
	ck_assert_uint_ne(flags & (1u << 5), 0);           /* SLP_BUTTON as device */
	ck_assert_uint_eq(flags & (1u << 10), 0);          /* no RESET_REG_SUP */
	ck_assert_uint_ne(boot_arch & (1u << 1), 0);       /* 8042 present */
	ck_assert_uint_ne(boot_arch & (1u << 2), 0);       /* VGA not present */
	ck_assert_uint_eq(boot_arch & (1u << 5), 0);       /* CMOS RTC present */
}
END_TEST

/* MADT for N = 1, 2 and 8 vCPUs. */
static const unsigned madt_cpus[] = { 1, 2, 8 };

START_TEST(test_madt_lapics_and_ioapic)
{
	struct acpi_config cfg = default_config();
	unsigned n = madt_cpus[_i];
	uint64_t madt, off, end;
	unsigned nr_lapic = 0, nr_ioapic = 0;
	bool seen[256] = { false };

	cfg.nr_cpus = n;
	madt = find_table(build(&cfg), "APIC");
	ck_assert_uint_ne(madt, 0);
	ck_assert_uint_eq(rd32(madt + 36), LAYOUT_LAPIC);
	ck_assert_uint_eq(rd32(madt + 40) & 1, 1);         /* PCAT_COMPAT */
	end = madt + rd32(madt + 4);
	for (off = madt + 44; off < end; off += ram[off + 1]) {
		ck_assert_uint_ge(ram[off + 1], 2);
		ck_assert_uint_le(off + ram[off + 1], end);
		if (ram[off] == 0) {                           /* Processor Local APIC */
			ck_assert_uint_eq(ram[off + 1], 8);
			ck_assert_uint_eq(ram[off + 3], nr_lapic);  /* APIC ID = index */
			ck_assert_uint_eq(rd32(off + 4) & 1, 1);    /* enabled */
			seen[ram[off + 3]] = true;
			nr_lapic++;
		} else if (ram[off] == 1) {                    /* I/O APIC */
			ck_assert_uint_eq(ram[off + 1], 12);
			ck_assert_uint_eq(rd32(off + 4), LAYOUT_IOAPIC);
			ck_assert_uint_eq(rd32(off + 8), 0);        /* GSI base */
			ck_assert_msg(!seen[ram[off + 2]], "IOAPIC ID clashes with a CPU");
			nr_ioapic++;
		}
	}
	ck_assert_uint_eq(off, end);
	ck_assert_uint_eq(nr_lapic, n);
	ck_assert_uint_eq(nr_ioapic, 1);
}
END_TEST

START_TEST(test_madt_overrides_and_nmi)
{
	struct acpi_config cfg = default_config();
	uint64_t madt, off, end;
	bool irq0 = false, sci = false, nmi = false;

	cfg.pcat_compat = false;
	madt = find_table(build(&cfg), "APIC");
	ck_assert_uint_eq(rd32(madt + 40) & 1, 0);
	end = madt + rd32(madt + 4);
	for (off = madt + 44; off < end; off += ram[off + 1]) {
		if (ram[off] == 2) {                           /* Interrupt Source Override */
			ck_assert_uint_eq(ram[off + 1], 10);
			ck_assert_uint_eq(ram[off + 2], 0);         /* ISA */
			if (ram[off + 3] == 0) {
				ck_assert_uint_eq(rd32(off + 4), 2);
				ck_assert_uint_eq(rd16(off + 8), 0x0005);  /* edge, high */
				irq0 = true;
			} else if (ram[off + 3] == 9) {
				ck_assert_uint_eq(rd32(off + 4), 9);
				ck_assert_uint_eq(rd16(off + 8), 0x000d);  /* level, high */
				sci = true;
			}
		} else if (ram[off] == 4) {                    /* Local APIC NMI */
			ck_assert_uint_eq(ram[off + 1], 6);
			ck_assert_uint_eq(ram[off + 2], 0xff);
			ck_assert_uint_eq(ram[off + 5], 1);         /* LINT1 */
			nmi = true;
		}
	}
	ck_assert(irq0 && sci && nmi);
}
END_TEST

START_TEST(test_dsdt_s5_and_structure)
{
	static const uint8_t s5[] = { 0x08, 0x5c, '_', 'S', '5', '_', 0x12, 0x08, 0x04,
				      0x0a, 0x05, 0x0a, 0x05, 0x00, 0x00 };
	struct acpi_config cfg = default_config();
	uint64_t rsdp = build(&cfg);
	uint64_t dsdt = dsdt_of(rsdp);
	uint32_t len = rd32(dsdt + 4);
	uint64_t p = dsdt + 36;
	size_t n;
	uint32_t scope_len;

	ck_assert_uint_eq(ram[dsdt + 8], 2);               /* 64-bit integers */
	/* Top level: Name(\_S5, ...) then one Scope(\_SB) running to the end. */
	ck_assert_mem_eq(ram + p, s5, sizeof(s5));
	p += sizeof(s5);
	ck_assert_uint_eq(ram[p], 0x10);
	scope_len = decode_pkglength(ram + p + 1, &n);
	ck_assert_uint_eq(p + 1 + scope_len, dsdt + len);
	ck_assert_mem_eq(ram + p + 1 + n, "\\_SB_", 5);
}
END_TEST

START_TEST(test_dsdt_virtio_mmio_devices)
{
	struct acpi_config cfg = default_config();
	uint64_t rsdp;

	cfg.virtio_mmio[1].base = 0xd0005000;
	cfg.virtio_mmio[1].size = 0x200;
	cfg.virtio_mmio[1].gsi = 11;
	rsdp = build(&cfg);
	ck_assert_uint_eq(dsdt_count(rsdp, "\x0dLNRO0005", 10), 3);
	for (unsigned i = 0; i < 3; i++) {
		const struct acpi_virtio_mmio *d = &cfg.virtio_mmio[i];
		uint8_t crs[12 + 9] = { 0x86, 0x09, 0x00, 0x01 };
		char name[5];

		memcpy(crs + 4, &(uint32_t){ (uint32_t)d->base }, 4);
		memcpy(crs + 8, &d->size, 4);
		/* Interrupt(ResourceConsumer, Level, ActiveHigh, Exclusive) {gsi} */
		memcpy(crs + 12, "\x89\x06\x00\x01\x01", 5);
		memcpy(crs + 17, &d->gsi, 4);
		ck_assert_msg(dsdt_count(rsdp, crs, sizeof(crs)) == 1, "virtio %u _CRS", i);
		snprintf(name, sizeof(name), "VR%02X", i);
		ck_assert_uint_eq(dsdt_count(rsdp, name, 4), 1);
	}
}
END_TEST

START_TEST(test_dsdt_pvpanic_and_com1)
{
	static const uint8_t pvpanic_io[] = { 0x47, 0x01, 0x05, 0x05, 0x05, 0x05, 0x01, 0x01 };
	static const uint8_t com1_hid[] = { 0x08, '_', 'H', 'I', 'D', 0x0c, 0x41, 0xd0, 0x05, 0x01 };
	static const uint8_t com1_crs[] = { 0x47, 0x01, 0xf8, 0x03, 0xf8, 0x03, 0x01, 0x08,
					    0x22, 0x10, 0x00 };
	struct acpi_config cfg = default_config();
	uint64_t rsdp = build(&cfg);

	ck_assert_uint_eq(dsdt_count(rsdp, "\x0dQEMU0001", 10), 1);
	ck_assert_uint_eq(dsdt_count(rsdp, pvpanic_io, sizeof(pvpanic_io)), 1);
	ck_assert_uint_eq(dsdt_count(rsdp, com1_hid, sizeof(com1_hid)), 1);
	ck_assert_uint_eq(dsdt_count(rsdp, com1_crs, sizeof(com1_crs)), 1);

	cfg.pvpanic = false;
	cfg.com1 = false;
	rsdp = build(&cfg);
	ck_assert_uint_eq(dsdt_count(rsdp, "QEMU0001", 8), 0);
	ck_assert_uint_eq(dsdt_count(rsdp, com1_hid, sizeof(com1_hid)), 0);
}
END_TEST

/* NumElements of the Package after Name(_PRT, ...), or -1 if none. */
static int prt_entries(uint64_t rsdp)
{
	uint64_t dsdt = dsdt_of(rsdp);
	uint32_t len = rd32(dsdt + 4);
	size_t n;

	for (uint64_t p = dsdt + 36; p + 10 < dsdt + len; p++) {
		if (memcmp(ram + p, "\x08_PRT\x12", 6) == 0) {
			decode_pkglength(ram + p + 6, &n);
			return ram[p + 6 + n];
		}
	}
	return -1;
}

START_TEST(test_dsdt_pci_host_bridge)
{
	static const uint8_t hid[] = { 0x08, '_', 'H', 'I', 'D', 0x0c, 0x41, 0xd0, 0x0a, 0x08 };
	static const uint8_t cid[] = { 0x08, '_', 'C', 'I', 'D', 0x0c, 0x41, 0xd0, 0x0a, 0x03 };
	static const uint8_t cf8[] = { 0x47, 0x01, 0xf8, 0x0c, 0xf8, 0x0c, 0x01, 0x08 };
	static const uint8_t ecam[] = { 0x86, 0x09, 0x00, 0x01, 0x00, 0x00, 0x00, 0xe0,
					0x00, 0x00, 0x00, 0x10 };
	struct acpi_config cfg = pci_config();
	uint64_t rsdp = build(&cfg);
	/* _PRT entry for slot 3, INTC (pin 2): Package(4) {0x3ffff, 2, Zero, gsi} */
	uint8_t prt[] = { 0x12, 0x0c, 0x04, 0x0c, 0xff, 0xff, 0x03, 0x00, 0x0a, 0x02, 0x00,
			  0x0a, (uint8_t)acpi_pci_intx_gsi(&cfg.pci, 3, 2) };

	ck_assert_uint_eq(acpi_pci_intx_gsi(&cfg.pci, 3, 2), 16 + (3 + 2) % 4);
	ck_assert_uint_eq(dsdt_count(rsdp, "PCI0", 4), 1);
	ck_assert_uint_eq(dsdt_count(rsdp, hid, sizeof(hid)), 1);
	ck_assert_uint_eq(dsdt_count(rsdp, cid, sizeof(cid)), 1);
	ck_assert_uint_eq(dsdt_count(rsdp, cf8, sizeof(cf8)), 1);
	ck_assert_uint_eq(dsdt_count(rsdp, prt, sizeof(prt)), 1);
	ck_assert_uint_eq(prt_entries(rsdp), 32 * 4);
	ck_assert_uint_eq(dsdt_count(rsdp, ecam, sizeof(ecam)), 1);     /* PNP0C02 claims ECAM */

	cfg = default_config();
	rsdp = build(&cfg);
	ck_assert_uint_eq(dsdt_count(rsdp, "PCI0", 4), 0);
	ck_assert_uint_eq(dsdt_count(rsdp, "_PRT", 4), 0);
}
END_TEST

START_TEST(test_rejects_bad_config)
{
	struct acpi_config cfg;
	uint64_t rsdp;

	cfg = default_config();
	cfg.nr_cpus = 0;
	ck_assert_int_eq(acpi_build(&mem, &cfg, &rsdp), -EINVAL);
	cfg.nr_cpus = ACPI_MAX_CPUS + 1;
	ck_assert_int_eq(acpi_build(&mem, &cfg, &rsdp), -EINVAL);

	cfg = default_config();
	cfg.nr_virtio_mmio = ACPI_MAX_VIRTIO_MMIO + 1;
	ck_assert_int_eq(acpi_build(&mem, &cfg, &rsdp), -EINVAL);

	cfg = default_config();
	cfg.virtio_mmio[0].base = 0xfffff000;
	cfg.virtio_mmio[0].size = 0x2000;       /* crosses 4 GiB */
	ck_assert_int_eq(acpi_build(&mem, &cfg, &rsdp), -EINVAL);

	cfg = default_config();
	cfg.virtio_mmio[2].gsi = ACPI_NR_GSIS;
	ck_assert_int_eq(acpi_build(&mem, &cfg, &rsdp), -EINVAL);

	cfg = default_config();
	cfg.pci.ecam = true;                    /* without the host bridge */
	ck_assert_int_eq(acpi_build(&mem, &cfg, &rsdp), -EINVAL);

	cfg = pci_config();
	cfg.pci.io_base = 0xc00;                /* overlaps 0xcf8..0xcff */
	cfg.pci.io_size = 0x200;
	ck_assert_int_eq(acpi_build(&mem, &cfg, &rsdp), -EINVAL);

	cfg = pci_config();
	cfg.pci.io_base = 0xf000;
	cfg.pci.io_size = 0x2000;               /* past port 0xffff */
	ck_assert_int_eq(acpi_build(&mem, &cfg, &rsdp), -EINVAL);

	cfg = pci_config();
	cfg.pci.intx_gsi_base = ACPI_NR_GSIS - 3;
	ck_assert_int_eq(acpi_build(&mem, &cfg, &rsdp), -EINVAL);
}
END_TEST

START_TEST(test_acpi_area_must_be_ram)
{
	struct acpi_config cfg = default_config();
	struct guest_mem small = { .nr_regions = 1 };
	uint64_t rsdp = 0;

	/* Guest RAM ends in the middle of the ACPI area. */
	small.region[0] = (struct guest_region){ .gpa = 0, .size = LAYOUT_ACPI + 0x1000, .host = ram };
	ck_assert_int_eq(acpi_build(&small, &cfg, &rsdp), -EFAULT);
	ck_assert_uint_eq(ram[LAYOUT_ACPI], 0x5a);          /* nothing written */
}
END_TEST

START_TEST(test_writes_only_the_acpi_area)
{
	struct acpi_config cfg = pci_config();

	build(&cfg);
	for (uint64_t a = 0; a < RAM_SIZE; a++) {
		if (a == LAYOUT_ACPI)
			a += LAYOUT_ACPI_SIZE;
		if (a < RAM_SIZE && ram[a] != 0x5a)
			ck_abort_msg("byte at 0x%llx changed", (unsigned long long)a);
	}
}
END_TEST

START_TEST(test_largest_config_fits)
{
	struct acpi_config cfg = pci_config();
	uint64_t rsdp, madt, dsdt;

	cfg.nr_cpus = ACPI_MAX_CPUS;
	cfg.nr_virtio_mmio = ACPI_MAX_VIRTIO_MMIO;
	for (unsigned i = 0; i < ACPI_MAX_VIRTIO_MMIO; i++) {
		cfg.virtio_mmio[i].base = LAYOUT_VIRTIO_MMIO + i * LAYOUT_VIRTIO_MMIO_SLOT;
		cfg.virtio_mmio[i].size = LAYOUT_VIRTIO_MMIO_SLOT;
		cfg.virtio_mmio[i].gsi = 5 + i % 10;
	}
	rsdp = build(&cfg);
	madt = find_table(rsdp, "APIC");
	check_table(madt, "APIC");
	ck_assert_uint_eq(rd32(madt + 4), 44 + ACPI_MAX_CPUS * 8 + 12 + 2 * 10 + 6);
	dsdt = dsdt_of(rsdp);
	check_table(dsdt, "DSDT");
	ck_assert_uint_eq(dsdt_count(rsdp, "\x0dLNRO0005", 10), ACPI_MAX_VIRTIO_MMIO);
	ck_assert_uint_eq(dsdt_count(rsdp, "VR1F", 4), 1);
}
END_TEST

Suite *acpi_suite(void)
{
	Suite *s = suite_create("acpi");
	TCase *aml = tcase_create("aml");
	TCase *tables = tcase_create("tables");

	tcase_add_test(aml, test_pkglength_one_byte_limit);
	tcase_add_test(aml, test_pkglength_two_byte_limit);
	tcase_add_test(aml, test_pkglength_three_four_bytes_and_max);
	tcase_add_test(aml, test_scope_pkglength_63_64);
	tcase_add_test(aml, test_scope_pkglength_4095_4096);
	tcase_add_test(aml, test_integer_encodings);
	tcase_add_test(aml, test_string);
	tcase_add_test(aml, test_namestrings);
	tcase_add_test(aml, test_invalid_names);
	tcase_add_test(aml, test_eisaid);
	tcase_add_test(aml, test_name_hid_eisaid);
	tcase_add_test(aml, test_nested_scope_device);
	tcase_add_test(aml, test_package_s5);
	tcase_add_test(aml, test_method_return_constant);
	tcase_add_test(aml, test_resource_template_io);
	tcase_add_test(aml, test_buffer_size_word);
	tcase_add_test(aml, test_memory32_and_interrupt_descriptors);
	tcase_add_test(aml, test_irq_noflags);
	tcase_add_test(aml, test_address_space_descriptors);
	tcase_add_test(aml, test_address_space_rejects_bad_ranges);
	tcase_add_test(aml, test_overflow_is_an_error_not_a_write);
	tcase_add_test(aml, test_overflow_when_inserting_pkglength);
	tcase_add_test(aml, test_unbalanced_constructs);
	suite_add_tcase(s, aml);

	tcase_add_checked_fixture(tables, ram_setup, ram_teardown);
	tcase_add_test(tables, test_rsdp);
	tcase_add_test(tables, test_all_tables_checksummed);
	tcase_add_test(tables, test_xsdt_lists_fadt_madt_and_mcfg_only_with_ecam);
	tcase_add_test(tables, test_fadt_points_at_dsdt_and_facs);
	tcase_add_test(tables, test_fadt_pm_registers_and_sci);
	tcase_add_test(tables, test_fadt_flags);
	tcase_add_loop_test(tables, test_madt_lapics_and_ioapic, 0,
			    (int)(sizeof(madt_cpus) / sizeof(madt_cpus[0])));
	tcase_add_test(tables, test_madt_overrides_and_nmi);
	tcase_add_test(tables, test_dsdt_s5_and_structure);
	tcase_add_test(tables, test_dsdt_virtio_mmio_devices);
	tcase_add_test(tables, test_dsdt_pvpanic_and_com1);
	tcase_add_test(tables, test_dsdt_pci_host_bridge);
	tcase_add_test(tables, test_rejects_bad_config);
	tcase_add_test(tables, test_acpi_area_must_be_ram);
	tcase_add_test(tables, test_writes_only_the_acpi_area);
	tcase_add_test(tables, test_largest_config_fits);
	suite_add_tcase(s, tables);
	return s;
}

#ifndef SKIFF_UNIT_NO_MAIN
int main(void)
{
	SRunner *sr = srunner_create(acpi_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
#endif
