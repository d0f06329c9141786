/* Unit tests for the device-tree description (vmm/dtb.c), read back with libfdt. */
#include <check.h>
#include <libfdt.h>
#include <stdlib.h>
#include <string.h>

#include "kvm/x86/layout.h"
#include "vmm/dtb.h"

static uint8_t buf[64 * 1024];

static const struct dtb_virtio_mmio mmio[2] = {
	{ .base = LAYOUT_VIRTIO_MMIO, .size = 0x1000, .gsi = 5 },
	{ .base = LAYOUT_VIRTIO_MMIO + 0x1000, .size = 0x1000, .gsi = 6 },
};

static const struct dtb_config cfg = {
	.nr_cpus = 2, .ram_low = 256 << 20, .cmdline = "console=ttyS0", .nr_virtio_mmio = 2, .virtio_mmio = mmio,
	.pci = true,
};

START_TEST(dtb_describes_cpus_memory_and_devices)
{
	ck_assert_int_eq(dtb_build(buf, sizeof(buf), &cfg), 0);
	ck_assert_int_eq(fdt_check_header(buf), 0);
	ck_assert_int_ge(fdt_path_offset(buf, "/cpus/cpu@1"), 0);
	ck_assert_int_lt(fdt_path_offset(buf, "/cpus/cpu@2"), 0);

	int mem = fdt_path_offset(buf, "/memory@0");
	ck_assert_int_ge(mem, 0);
	int len;
	const fdt64_t *reg = fdt_getprop(buf, mem, "reg", &len);
	ck_assert_int_eq(len, 16);
	ck_assert_uint_eq(fdt64_to_cpu(reg[1]), 256 << 20);
	ck_assert_int_lt(fdt_path_offset(buf, "/memory@100000000"), 0);

	int v = fdt_path_offset(buf, "/virtio_mmio@d0001000");
	ck_assert_int_ge(v, 0);
	ck_assert_str_eq(fdt_getprop(buf, v, "compatible", NULL), "virtio,mmio");
	const fdt32_t *irq = fdt_getprop(buf, v, "interrupts", &len);
	ck_assert_uint_eq(fdt32_to_cpu(irq[0]), 6);

	int chosen = fdt_path_offset(buf, "/chosen");
	ck_assert_str_eq(fdt_getprop(buf, chosen, "bootargs", NULL), "console=ttyS0");
	ck_assert_int_ge(fdt_path_offset(buf, "/pci@e0000000"), 0);
	ck_assert_int_ge(fdt_path_offset(buf, "/isa/serial@3f8"), 0);
}
END_TEST

START_TEST(dtb_high_memory_and_too_small_buffer)
{
	struct dtb_config big = cfg;
	big.ram_high = 1ull << 30;
	ck_assert_int_eq(dtb_build(buf, sizeof(buf), &big), 0);
	ck_assert_int_ge(fdt_path_offset(buf, "/memory@100000000"), 0);
	ck_assert_int_lt(dtb_build(buf, 256, &big), 0); /* no room: an error, not an overflow */
}
END_TEST

Suite *dtb_suite(void)
{
	Suite *s = suite_create("dtb");
	TCase *t = tcase_create("dtb");
	tcase_add_test(t, dtb_describes_cpus_memory_and_devices);
	tcase_add_test(t, dtb_high_memory_and_too_small_buffer);
	suite_add_tcase(s, t);
	return s;
}

#ifndef SKIFF_UNIT_NO_MAIN
int main(void)
{
	SRunner *sr = srunner_create(dtb_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
#endif
