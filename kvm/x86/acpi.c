/* ACPI tables for the guest; see acpi.h. Table layouts follow the ACPI 6.x
 * specification, chapter 5.2. The guest finds them like this:
 *
 *   RSDP --> XSDT --> FADT --> DSDT (AML: devices, \_S5)
 *                 |        `-> FACS
 *                 |--> MADT (CPUs, IOAPIC, interrupt overrides)
 *                 `--> MCFG (PCI ECAM, only with a PCI host bridge)
 *
 * The fixed-layout tables are built here; the DSDT's AML in acpi-dsdt.c.
 */
#include "kvm/x86/acpi.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "kvm/x86/acpi-dsdt.h"
#include "kvm/x86/acpi-table.h"
#include "kvm/x86/layout.h"
#include "base/log.h"

/* Root System Description Pointer (5.2.5.3): where the guest starts. */
struct acpi_rsdp {
	char signature[8];              /* "RSD PTR " */
	uint8_t checksum;               /* over the first 20 bytes (ACPI 1.0 part) */
	char oem_id[6];
	uint8_t revision;               /* 2: has the XSDT fields below */
	uint32_t rsdt_address;          /* 0: we only provide an XSDT */
	uint32_t length;
	uint64_t xsdt_address;
	uint8_t extended_checksum;      /* over the whole structure */
	uint8_t reserved[3];
} __attribute__((packed));

/* Generic Address Structure (5.2.3.2): a register in some address space. */
struct acpi_gas {
	uint8_t space_id;               /* 1 = system I/O */
	uint8_t bit_width;
	uint8_t bit_offset;
	uint8_t access_size;            /* 1 byte, 2 word, 3 dword, 4 qword */
	uint64_t address;
} __attribute__((packed));

#define GAS_SYSTEM_IO      1
#define GAS_ACCESS_WORD    2

/* Fixed ACPI Description Table, revision 6 (5.2.9). */
struct acpi_fadt {
	struct acpi_header header;
	uint32_t firmware_ctrl;         /* FACS */
	uint32_t dsdt;
	uint8_t int_model;              /* ACPI 1.0 only; 1 = APIC */
	uint8_t preferred_pm_profile;
	uint16_t sci_int;
	uint32_t smi_cmd;               /* 0: no SMM, ACPI is always enabled */
	uint8_t acpi_enable;
	uint8_t acpi_disable;
	uint8_t s4bios_req;
	uint8_t pstate_cnt;
	uint32_t pm1a_evt_blk;
	uint32_t pm1b_evt_blk;
	uint32_t pm1a_cnt_blk;
	uint32_t pm1b_cnt_blk;
	uint32_t pm2_cnt_blk;
	uint32_t pm_tmr_blk;
	uint32_t gpe0_blk;
	uint32_t gpe1_blk;
	uint8_t pm1_evt_len;
	uint8_t pm1_cnt_len;
	uint8_t pm2_cnt_len;
	uint8_t pm_tmr_len;
	uint8_t gpe0_blk_len;
	uint8_t gpe1_blk_len;
	uint8_t gpe1_base;
	uint8_t cst_cnt;
	uint16_t p_lvl2_lat;
	uint16_t p_lvl3_lat;
	uint16_t flush_size;
	uint16_t flush_stride;
	uint8_t duty_offset;
	uint8_t duty_width;
	uint8_t day_alrm;
	uint8_t mon_alrm;
	uint8_t century;
	uint16_t iapc_boot_arch;
	uint8_t reserved;
	uint32_t flags;
	struct acpi_gas reset_reg;
	uint8_t reset_value;
	uint16_t arm_boot_arch;
	uint8_t minor_revision;
	uint64_t x_firmware_ctrl;
	uint64_t x_dsdt;
	struct acpi_gas x_pm1a_evt_blk;
	struct acpi_gas x_pm1b_evt_blk;
	struct acpi_gas x_pm1a_cnt_blk;
	struct acpi_gas x_pm1b_cnt_blk;
	struct acpi_gas x_pm2_cnt_blk;
	struct acpi_gas x_pm_tmr_blk;
	struct acpi_gas x_gpe0_blk;
	struct acpi_gas x_gpe1_blk;
	struct acpi_gas sleep_control_reg;
	struct acpi_gas sleep_status_reg;
	uint64_t hypervisor_vendor_id;
} __attribute__((packed));

/* FADT flags (5.2.9, table "Fixed ACPI Description Table Fixed Feature Flags") */
#define FADT_WBINVD           (1u << 0)
#define FADT_PROC_C1          (1u << 2)
#define FADT_PWR_BUTTON       (1u << 4)   /* power button, if any, is a device (ours is fixed: clear) */
#define FADT_SLP_BUTTON       (1u << 5)   /* sleep button, if any, is a device */
#define FADT_FIX_RTC          (1u << 6)   /* no RTC wake status in PM1 */
#define FADT_HW_REDUCED_ACPI  (1u << 20)  /* must stay clear, see build_fadt() */

/* IA-PC boot architecture flags (5.2.9.3) */
#define BOOT_ARCH_LEGACY_DEVICES (1u << 0)
#define BOOT_ARCH_8042           (1u << 1)
#define BOOT_ARCH_VGA_NOT_PRESENT (1u << 2)

/* Firmware ACPI Control Structure (5.2.10): wake vector and global lock.
 * No checksum; must be 64-byte aligned. */
struct acpi_facs {
	char signature[4];
	uint32_t length;
	uint32_t hardware_signature;
	uint32_t firmware_waking_vector;
	uint32_t global_lock;
	uint32_t flags;
	uint64_t x_firmware_waking_vector;
	uint8_t version;
	uint8_t reserved[3];
	uint32_t ospm_flags;
	uint8_t reserved2[24];
} __attribute__((packed));

/* Multiple APIC Description Table (5.2.12) and its entries. */
struct acpi_madt {
	struct acpi_header header;
	uint32_t lapic_address;
	uint32_t flags;
} __attribute__((packed));

#define MADT_PCAT_COMPAT    (1u << 0)

#define MADT_TYPE_LAPIC     0
#define MADT_TYPE_IOAPIC    1
#define MADT_TYPE_ISO       2
#define MADT_TYPE_LAPIC_NMI 4

struct madt_lapic {
	uint8_t type, length;
	uint8_t processor_uid;
	uint8_t apic_id;
	uint32_t flags;                 /* bit 0: enabled */
} __attribute__((packed));

struct madt_ioapic {
	uint8_t type, length;
	uint8_t ioapic_id;
	uint8_t reserved;
	uint32_t address;
	uint32_t gsi_base;
} __attribute__((packed));

/* Interrupt Source Override: ISA IRQ `source` arrives on GSI `gsi`. */
struct madt_iso {
	uint8_t type, length;
	uint8_t bus;                    /* 0 = ISA */
	uint8_t source;
	uint32_t gsi;
	uint16_t flags;                 /* MPS INTI flags: polarity, trigger */
} __attribute__((packed));

struct madt_lapic_nmi {
	uint8_t type, length;
	uint8_t processor_uid;          /* 0xff = all processors */
	uint16_t flags;
	uint8_t lint;
} __attribute__((packed));

#define MADT_LAPIC_ENABLED  1
#define MPS_ACTIVE_HIGH     0x1
#define MPS_EDGE            (0x1 << 2)
#define MPS_LEVEL           (0x3 << 2)

/* PCI Express memory-mapped configuration space table (PCI Firmware spec). */
struct acpi_mcfg {
	struct acpi_header header;
	uint8_t reserved[8];
} __attribute__((packed));

struct mcfg_allocation {
	uint64_t base;
	uint16_t segment;
	uint8_t start_bus;
	uint8_t end_bus;
	uint32_t reserved;
} __attribute__((packed));

_Static_assert(sizeof(struct acpi_header) == 36, "ACPI header");
_Static_assert(sizeof(struct acpi_rsdp) == 36, "RSDP");
_Static_assert(sizeof(struct acpi_gas) == 12, "GAS");
_Static_assert(sizeof(struct acpi_fadt) == 276, "FADT revision 6");
_Static_assert(offsetof(struct acpi_fadt, sci_int) == 46, "FADT SCI_INT");
_Static_assert(offsetof(struct acpi_fadt, flags) == 112, "FADT flags");
_Static_assert(offsetof(struct acpi_fadt, x_dsdt) == 140, "FADT X_DSDT");
_Static_assert(sizeof(struct acpi_facs) == 64, "FACS");
_Static_assert(sizeof(struct acpi_madt) == 44, "MADT");
_Static_assert(sizeof(struct madt_lapic) == 8, "MADT LAPIC");
_Static_assert(sizeof(struct madt_ioapic) == 12, "MADT IOAPIC");
_Static_assert(sizeof(struct madt_iso) == 10, "MADT ISO");
_Static_assert(sizeof(struct madt_lapic_nmi) == 6, "MADT LAPIC NMI");
_Static_assert(sizeof(struct mcfg_allocation) == 16, "MCFG allocation");

/* Reserve len bytes aligned to align (a power of two). Returns the host
 * pointer and sets *gpa, or returns NULL if the area is full. */
static void *area_alloc(struct acpi_area *a, size_t len, size_t align, uint64_t *gpa)
{
	size_t start = (a->used + align - 1) & ~(align - 1);

	if (start < a->used || start > a->size || len > a->size - start)
		return NULL;
	a->used = start + len;
	*gpa = a->gpa + start;
	return a->host + start;
}

static struct acpi_gas io_register(uint16_t port, uint8_t bit_width)
{
	return (struct acpi_gas){
		.space_id = GAS_SYSTEM_IO,
		.bit_width = bit_width,
		.access_size = GAS_ACCESS_WORD,  /* PM1 registers are 16 bits each */
		.address = port,
	};
}

/* FACS: Linux expects one unless the FADT is hardware-reduced. We never
 * wake from S3/S4, so the waking vector stays 0. */
static int build_facs(struct acpi_area *a, uint64_t *gpa)
{
	struct acpi_facs *facs = area_alloc(a, sizeof(*facs), 64, gpa);

	if (!facs)
		return -ENOSPC;
	memcpy(facs->signature, "FACS", 4);
	facs->length = sizeof(*facs);
	facs->version = 2;
	return 0;
}

/* FADT: where the fixed PM hardware lives (PM1a event/control ports, SCI)
 * and the DSDT/FACS. It is a full (not hardware-reduced) FADT: with the
 * reduced flag Linux maps no ISA IRQs and the serial console breaks. */
static int build_fadt(struct acpi_area *a, uint64_t dsdt, uint64_t facs, uint64_t *gpa)
{
	struct acpi_fadt *f = area_alloc(a, sizeof(*f), 8, gpa);

	if (!f)
		return -ENOSPC;
	acpi_fill_header(f, "FACP", sizeof(*f), 6);
	f->minor_revision = 0;
	/* Both tables lie below 1 MiB. The spec wants exactly one FACS
	 * pointer; the DSDT goes in both fields, which Linux accepts when
	 * they agree. */
	f->firmware_ctrl = (uint32_t)facs;
	f->dsdt = (uint32_t)dsdt;
	f->x_dsdt = dsdt;
	f->int_model = 1;
	f->sci_int = IRQ_ACPI_SCI;
	f->smi_cmd = 0;

	f->pm1a_evt_blk = PORT_ACPI_PM1A_EVT;
	f->pm1_evt_len = 4;             /* 16-bit status + 16-bit enable */
	f->pm1a_cnt_blk = PORT_ACPI_PM1A_CNT;
	f->pm1_cnt_len = 2;
	f->x_pm1a_evt_blk = io_register(PORT_ACPI_PM1A_EVT, 32);
	f->x_pm1a_cnt_blk = io_register(PORT_ACPI_PM1A_CNT, 16);
	/* No PM timer and no GPE blocks: address and length stay 0. */

	/* Latencies above 100 and 1000 us mean "C2/C3 not supported". */
	f->p_lvl2_lat = 0x0fff;
	f->p_lvl3_lat = 0x0fff;
	f->iapc_boot_arch = BOOT_ARCH_LEGACY_DEVICES | BOOT_ARCH_8042 | BOOT_ARCH_VGA_NOT_PRESENT;
	/* PWR_BUTTON clear: a fixed-feature power button (devices/acpi-pm.c). */
	f->flags = FADT_WBINVD | FADT_PROC_C1 | FADT_SLP_BUTTON | FADT_FIX_RTC;
	acpi_set_checksum(f);
	return 0;
}

/* MADT: one local APIC per vCPU, the IOAPIC, and how ISA IRQs map to GSIs. */
static int build_madt(struct acpi_area *a, const struct acpi_config *cfg, uint64_t *gpa)
{
	const struct madt_iso isos[] = {
		/* The PIT's IRQ0 is wired to IOAPIC pin 2, as on real PCs
		 * (kvm/irq-routing.c routes KVM's GSI 0 there). */
		{ MADT_TYPE_ISO, sizeof(struct madt_iso), 0, 0, IRQ_TIMER_IOAPIC_PIN, MPS_EDGE | MPS_ACTIVE_HIGH },
		/* The SCI is level-triggered; ours is active-high. */
		{ MADT_TYPE_ISO, sizeof(struct madt_iso), 0, IRQ_ACPI_SCI, IRQ_ACPI_SCI,
		  MPS_LEVEL | MPS_ACTIVE_HIGH },
	};
	const struct madt_ioapic ioapic = {
		.type = MADT_TYPE_IOAPIC,
		.length = sizeof(ioapic),
		.ioapic_id = (uint8_t)cfg->nr_cpus,   /* distinct from the CPUs' IDs */
		.address = (uint32_t)LAYOUT_IOAPIC,
		.gsi_base = 0,
	};
	const struct madt_lapic_nmi nmi = {
		.type = MADT_TYPE_LAPIC_NMI,
		.length = sizeof(nmi),
		.processor_uid = 0xff,          /* all processors */
		.flags = 0,                     /* conforms to the bus */
		.lint = 1,                      /* NMI is wired to LINT1 */
	};
	size_t len = sizeof(struct acpi_madt) + cfg->nr_cpus * sizeof(struct madt_lapic) +
		     sizeof(ioapic) + sizeof(isos) + sizeof(nmi);
	struct acpi_madt *madt = area_alloc(a, len, 8, gpa);
	uint8_t *p;

	if (!madt)
		return -ENOSPC;
	acpi_fill_header(madt, "APIC", (uint32_t)len, 4);
	madt->lapic_address = (uint32_t)LAYOUT_LAPIC;
	madt->flags = cfg->pcat_compat ? MADT_PCAT_COMPAT : 0;

	p = (uint8_t *)(madt + 1);
	for (unsigned i = 0; i < cfg->nr_cpus; i++) {
		const struct madt_lapic lapic = {
			.type = MADT_TYPE_LAPIC,
			.length = sizeof(lapic),
			.processor_uid = (uint8_t)i,
			.apic_id = (uint8_t)i,
			.flags = MADT_LAPIC_ENABLED,
		};
		memcpy(p, &lapic, sizeof(lapic));
		p += sizeof(lapic);
	}
	memcpy(p, &ioapic, sizeof(ioapic));
	p += sizeof(ioapic);
	memcpy(p, isos, sizeof(isos));
	p += sizeof(isos);
	memcpy(p, &nmi, sizeof(nmi));
	acpi_set_checksum(madt);
	return 0;
}

/* MCFG: where PCI Express configuration space (ECAM) is, 1 MiB per bus,
 * for the buses that exist. Naming all 256 the window has room for made
 * Linux look for a peer root bus on each of buses 1-255 (pcibios_last_bus,
 * pcibios_fixup_peer_bridges), 32 slots each through 0xcf8/0xcfc: some
 * 16,000 port exits per boot, 0.98 s of pci_subsys_init in the nested
 * test host. */
static int build_mcfg(struct acpi_area *a, uint64_t *gpa)
{
	const struct mcfg_allocation alloc = {
		.base = LAYOUT_PCI_ECAM,
		.segment = 0,
		.start_bus = 0,
		.end_bus = LAYOUT_PCI_LAST_BUS,
	};
	size_t len = sizeof(struct acpi_mcfg) + sizeof(alloc);
	struct acpi_mcfg *mcfg = area_alloc(a, len, 8, gpa);

	if (!mcfg)
		return -ENOSPC;
	acpi_fill_header(mcfg, "MCFG", (uint32_t)len, 1);
	memcpy(mcfg + 1, &alloc, sizeof(alloc));
	acpi_set_checksum(mcfg);
	return 0;
}

/* XSDT: the list of all other tables (except DSDT and FACS, which the
 * FADT points to). 64-bit entries, possibly unaligned: use memcpy. */
static int build_xsdt(struct acpi_area *a, const uint64_t *tables, unsigned nr, uint64_t *gpa)
{
	size_t len = sizeof(struct acpi_header) + nr * sizeof(uint64_t);
	uint8_t *xsdt = area_alloc(a, len, 8, gpa);

	if (!xsdt)
		return -ENOSPC;
	acpi_fill_header(xsdt, "XSDT", (uint32_t)len, 1);
	memcpy(xsdt + sizeof(struct acpi_header), tables, nr * sizeof(uint64_t));
	acpi_set_checksum(xsdt);
	return 0;
}

/* RSDP: ACPI 2.0+ form pointing at the XSDT only. */
static void fill_rsdp(struct acpi_rsdp *rsdp, uint64_t xsdt)
{
	memcpy(rsdp->signature, "RSD PTR ", 8);
	memcpy(rsdp->oem_id, ACPI_OEM_ID, 6);
	rsdp->revision = 2;
	rsdp->rsdt_address = 0;
	rsdp->length = sizeof(*rsdp);
	rsdp->xsdt_address = xsdt;
	rsdp->checksum = 0;
	rsdp->extended_checksum = 0;
	rsdp->checksum = acpi_checksum(rsdp, 20);
	rsdp->extended_checksum = acpi_checksum(rsdp, sizeof(*rsdp));
}

static int validate(const struct acpi_config *cfg)
{
	if (cfg->nr_cpus < 1 || cfg->nr_cpus > ACPI_MAX_CPUS) {
		log_error("acpi", "%u vCPUs: must be 1..%u", cfg->nr_cpus, ACPI_MAX_CPUS);
		return -EINVAL;
	}
	if (cfg->nr_virtio_mmio > ACPI_MAX_VIRTIO_MMIO) {
		log_error("acpi", "too many virtio-mmio devices: %u", cfg->nr_virtio_mmio);
		return -EINVAL;
	}
	for (unsigned i = 0; i < cfg->nr_virtio_mmio; i++) {
		const struct acpi_virtio_mmio *d = &cfg->virtio_mmio[i];

		if (d->size == 0 || d->base >= LAYOUT_4G || d->size > LAYOUT_4G - d->base ||
		    d->gsi >= ACPI_NR_GSIS) {
			log_error("acpi", "virtio-mmio %u: bad window 0x%llx+0x%x or GSI %u", i,
				  (unsigned long long)d->base, d->size, d->gsi);
			return -EINVAL;
		}
	}
	if (cfg->pci.ecam && !cfg->pci.enabled) {
		log_error("acpi", "ECAM without a PCI host bridge");
		return -EINVAL;
	}
	if (cfg->pci.enabled) {
		const struct acpi_pci *pci = &cfg->pci;

		if (pci->intx_gsi_base > ACPI_NR_GSIS - 4) {
			log_error("acpi", "PCI INTx GSIs %u..%u beyond the IOAPIC", pci->intx_gsi_base,
				  pci->intx_gsi_base + 3);
			return -EINVAL;
		}
		/* The BAR window must fit 16-bit ports and leave 0xcf8..0xcff alone. */
		if (pci->io_size && (pci->io_base > 0xffff || pci->io_size > 0x10000 - pci->io_base ||
				     (pci->io_base < 0xd00 && pci->io_base + pci->io_size > 0xcf8))) {
			log_error("acpi", "bad PCI I/O window 0x%x+0x%x", pci->io_base, pci->io_size);
			return -EINVAL;
		}
	}
	return 0;
}

int acpi_build(struct guest_mem *mem, const struct acpi_config *cfg, uint64_t *rsdp_addr)
{
	struct acpi_area area = { .gpa = LAYOUT_ACPI, .size = LAYOUT_ACPI_SIZE };
	uint64_t rsdp, facs, dsdt, xsdt, tables[3];
	unsigned nr_tables = 0;
	struct acpi_rsdp *rsdp_ptr;
	int ret;

	ret = validate(cfg);
	if (ret)
		return ret;
	area.host = guest_mem_ptr(mem, LAYOUT_ACPI, LAYOUT_ACPI_SIZE);
	if (!area.host) {
		log_error("acpi", "ACPI area 0x%llx is not guest RAM", LAYOUT_ACPI);
		return -EFAULT;
	}
	memset(area.host, 0, area.size);

	/* The RSDP goes first: 16-byte aligned at the start of the area. */
	rsdp_ptr = area_alloc(&area, sizeof(struct acpi_rsdp), 16, &rsdp);
	if (!rsdp_ptr)
		return -ENOSPC;
	ret = build_facs(&area, &facs);
	if (!ret)
		ret = acpi_build_dsdt(&area, cfg, &dsdt);
	if (!ret)
		ret = build_fadt(&area, dsdt, facs, &tables[nr_tables++]);
	if (!ret)
		ret = build_madt(&area, cfg, &tables[nr_tables++]);
	if (!ret && cfg->pci.enabled && cfg->pci.ecam)
		ret = build_mcfg(&area, &tables[nr_tables++]);
	if (!ret)
		ret = build_xsdt(&area, tables, nr_tables, &xsdt);
	if (ret) {
		log_error("acpi", "tables do not fit in %llu bytes", LAYOUT_ACPI_SIZE);
		return ret;
	}
	fill_rsdp(rsdp_ptr, xsdt);
	*rsdp_addr = rsdp;
	log_debug("acpi", "RSDP at 0x%llx, %zu bytes of tables", (unsigned long long)rsdp, area.used);
	return 0;
}
