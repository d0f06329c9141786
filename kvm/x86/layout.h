/* Guest physical memory map of an x86 skiff machine. One place, so the
 * boot code, the ACPI tables and the e820 map agree.
 *
 *   0x0000_0000  real-mode IVT/BDA (left zero)
 *   0x0000_0500  boot GDT
 *   0x0000_7000  boot_params ("zero page") for Linux / hvm_start_info for PVH
 *   0x0000_9000  PML4, then PDPT and 4 page directories: identity map of 4 GiB
 *   0x0002_0000  kernel command line (up to 64 KiB)
 *   0x0009_fc00  top of conventional memory (EBDA-sized hole up to 1 MiB)
 *   0x000e_0000  ACPI tables (RSDP and all tables, 128 KiB, reserved in e820)
 *   0x0010_0000  RAM; the kernel is loaded at 16 MiB (or where its ELF says)
 *   0xc000_0000  32-bit MMIO hole: PCI/ECAM, virtio-mmio, IOAPIC, LAPIC
 *   0x1_0000_0000 RAM above 3 GiB continues here
 */
#ifndef SKIFF_X86_LAYOUT_H
#define SKIFF_X86_LAYOUT_H

#define LAYOUT_GDT            0x500ULL
#define LAYOUT_BOOT_PARAMS    0x7000ULL
#define LAYOUT_PML4           0x9000ULL
#define LAYOUT_PDPT           0xa000ULL
#define LAYOUT_PD             0xb000ULL   /* 4 pages: 0xb000..0xefff */
#define LAYOUT_CMDLINE        0x20000ULL
#define LAYOUT_CMDLINE_MAX    0x10000ULL
#define LAYOUT_EBDA           0x9fc00ULL  /* end of low RAM */
#define LAYOUT_ACPI           0xe0000ULL
#define LAYOUT_ACPI_SIZE      0x20000ULL
#define LAYOUT_HIGH_RAM       0x100000ULL /* 1 MiB */
#define LAYOUT_KERNEL_DEFAULT 0x1000000ULL /* 16 MiB */
#define LAYOUT_MMIO_HOLE      0xc0000000ULL
#define LAYOUT_4G             0x100000000ULL

/* Inside the MMIO hole */
#define LAYOUT_PCI_ECAM       0xe0000000ULL /* 256 MiB: room for 256 buses */
#define LAYOUT_PCI_ECAM_SIZE  0x10000000ULL
/* The host bridge has no PCI-to-PCI bridges behind it: bus 0 is the only
 * bus. _CRS, MCFG and the device tree all say so: told of more buses,
 * Linux probes each of them for devices at boot. */
#define LAYOUT_PCI_LAST_BUS   0
#define LAYOUT_PCI_MMIO       0xc0000000ULL /* BAR space: 0xc000_0000..0xcfff_ffff */
#define LAYOUT_PCI_MMIO_SIZE  0x10000000ULL
#define LAYOUT_VIRTIO_MMIO    0xd0000000ULL /* virtio-mmio slots, 4 KiB each */
#define LAYOUT_VIRTIO_MMIO_SLOT 0x1000ULL
#define LAYOUT_IOAPIC         0xfec00000ULL
#define LAYOUT_LAPIC          0xfee00000ULL

/* Legacy I/O ports */
#define PORT_COM1             0x3f8
#define PORT_I8042_DATA       0x60
#define PORT_I8042_CMD        0x64
#define PORT_CMOS             0x70
#define PORT_DEBUG_EXIT       0xf4    /* QEMU isa-debug-exit default */
#define PORT_PVPANIC          0x505   /* QEMU pvpanic default */
#define PORT_ACPI_PM1A_EVT    0xb000  /* 4 bytes: status + enable */
#define PORT_ACPI_PM1A_CNT    0xb004  /* 2 bytes */

/* Interrupts (ISA IRQ = IOAPIC GSI, except IRQ0 -> GSI 2) */
#define IRQ_TIMER_IOAPIC_PIN  2       /* the PIT's IRQ0, as on real PCs (MADT override) */
#define IRQ_COM1              4
#define IRQ_ACPI_SCI          9

#endif
