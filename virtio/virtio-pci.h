/* virtio over PCI: a virtio device as a PCI function (VIRTIO 1.x section
 * 4.1), in one of three personalities:
 *
 *   VIRTIO_PCI_MODERN        device ID 0x1040 + virtio ID, revision 1; the
 *                            virtio structures are found through vendor
 *                            capabilities; VIRTIO_F_VERSION_1 required.
 *   VIRTIO_PCI_TRANSITIONAL  transitional device ID (0x1000..), revision 0;
 *                            the modern structures AND the legacy 0.9.5
 *                            register block in I/O BAR 0. Linux's
 *                            virtio_pci drives it the modern way, or the
 *                            legacy way with virtio_pci.force_legacy=1.
 *   VIRTIO_PCI_LEGACY        transitional device ID, only I/O BAR 0.
 *
 * BARs:
 *   BAR 0  I/O, legacy registers (transitional, legacy):
 *            0 host features  4 guest features  8 queue PFN  12 queue size
 *            14 queue select  16 queue notify  18 status  19 ISR
 *            20 MSI-X config vector  22 MSI-X queue vector  (MSI-X on only)
 *            20, or 24 with MSI-X enabled: device config space
 *   BAR 1  memory, 4 KiB: MSI-X table (0x000) and PBA (0x800);
 *          one vector per queue plus one for config changes
 *   BAR 4  memory, 16 KiB, modern structures (modern, transitional):
 *            0x0000 common config   0x1000 ISR   0x2000 device config
 *            0x3000 notifications, 4 bytes per queue (queue_notify_off = q)
 *
 * Notifications: each queue's notify register is handed to the platform
 * (ioeventfd) whenever its BAR is mapped; writes that still exit are
 * served here too. Interrupts: the queue's MSI-X vector when MSI-X is
 * enabled, else ISR bit 0 and INTx, lowered when the driver reads ISR.
 *
 * Not implemented: the VIRTIO_PCI_CAP_PCI_CFG access window (it needs a
 * hook on config-space reads; Linux never uses it), VIRTIO_F_RING_RESET.
 */
#ifndef SKIFF_VIRTIO_PCI_H
#define SKIFF_VIRTIO_PCI_H

#include "bus/pci.h"
#include "virtio/platform.h"
#include "virtio/virtio-device.h"
#include "virtio/virtio-pci-layout.h"

/* Make dev a PCI function in the given mode, add it to host (first free
 * slot, BARs placed) and hand its notify registers to plat. dev must have
 * been set up with virtio_device_init(). Returns 0, -EINVAL for a device
 * the mode cannot express (legacy modes exist only for the device types
 * with a transitional ID: net, block, console, rng, balloon, scsi, 9p),
 * or the error from pci_host_add_device(). */
int virtio_pci_create(struct virtio_pci *vp, struct virtio_device *dev, enum virtio_pci_mode mode,
		      struct pci_host *host, const struct virtio_platform *plat);

/* Drop the platform notifications (before freeing vp). */
void virtio_pci_destroy(struct virtio_pci *vp);

#endif
