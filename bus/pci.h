/* The PCI host bridge and its devices (bus 0 only).
 *
 * The guest reaches configuration space two ways: configuration mechanism
 * #1 (address at port 0xCF8, data at 0xCFC-0xCFF) and ECAM (memory at
 * LAYOUT_PCI_ECAM, 4 KiB per function). Both end in pci_config_read/write
 * on the device's 4 KiB config array, filtered by a write mask, so a
 * guest can only change what a real device would let it change. Slot 0
 * holds the host bridge itself; only function 0 of each slot exists.
 *
 * BARs: skiff has no firmware, so pci_host_add_device() places each BAR
 * itself (naturally aligned, in LAYOUT_PCI_MMIO or the PCI I/O window) and
 * sets the command register's decode bits. Sizing (writing all-ones and
 * reading back the size mask) and moving a BAR work as on hardware.
 *
 * How BAR accesses reach a device: pci_host_init() registers the whole
 * MMIO window and the whole I/O window on the buses once, and forwards
 * each access to the BAR that currently decodes it (a BAR is "mapped"
 * while its space is enabled in the command register, it lies inside the
 * window and it overlaps no other mapped BAR). Registering each BAR on the
 * bus itself cannot work: a BAR moves on a guest config write, which runs
 * inside bus_dispatch() with the bus lock held, and bus_register() on that
 * same bus would deadlock. Like a real host bridge, addresses outside the
 * windows never reach a BAR.
 *
 * MSI-X: a device may own a table and PBA inside one of its BARs
 * (pci_msix_init); the transport delivers vector v with pci_msix_notify(),
 * which honours the function mask and per-vector masks (setting the
 * pending bit instead) and hands unmasked messages to the deliver callback
 * (skiff routes them through KVM GSI routing and an irqfd).
 *
 * INTx: pin A of slot s is wired to IOAPIC GSI acpi_pci_intx_gsi() (the
 * same rule the DSDT's _PRT describes); pci_device_set_intx() drives it.
 * Slots sharing a GSI are OR-ed, as on a wired-OR level-triggered line.
 *
 * Locking: one lock, host->lock, guards the config spaces, BAR state and
 * MSI-X state of every device on the host. Every pci_* function a running
 * machine uses takes it itself, so never call them with it held (the
 * set-up calls before pci_host_add_device need no lock). Callbacks into device code --
 * bar ops, msix->deliver, msix->changed, dev->config_written,
 * dev->bar_changed -- run WITHOUT host->lock, so they may call any pci_*
 * function. The one exception is host->set_irq (INTx), which runs with
 * host->lock held so that level changes reach the interrupt controller in
 * order; it must not call back into pci_*.
 */
#ifndef SKIFF_PCI_H
#define SKIFF_PCI_H

#include "bus/pci-config.h"
#include "bus/pci-function.h" /* a function's config space: pci_device_* */
#include "bus/pci-msix.h"     /* MSI-X: pci_msix_* */

/* Registers 0xCF8-0xCFF, the ECAM window and the BAR windows (MMIO and
 * I/O) and puts the host bridge in slot 0. 0 or -errno from bus_register. */
__attribute__((warn_unused_result)) int pci_host_init(struct pci_host *host, struct bus *pio, struct bus *mmio,
						      void (*set_irq)(void *ctx, unsigned gsi, int level), void *irq_ctx);

/* Place the device in the first free slot, place its BARs, enable their
 * decoding and wire INTA. 0, -ENOSPC (no slot or window space), -EINVAL
 * (MSI-X table or PBA outside its BAR). */
__attribute__((warn_unused_result)) int pci_host_add_device(struct pci_host *host, struct pci_device *dev);

/* Config space access (both mechanisms end here; exposed for tests).
 * len 1..4 at any offset; accesses beyond 4 KiB read all-ones / are dropped. */
uint32_t pci_config_read(struct pci_device *dev, unsigned offset, unsigned len);
void pci_config_write(struct pci_device *dev, unsigned offset, unsigned len, uint32_t value);

/* INTx pin A level. The line stays low while the command register's INTx
 * disable bit is set or MSI-X is enabled; status bit 3 shows the level. */
void pci_device_set_intx(struct pci_device *dev, int level);

#endif
