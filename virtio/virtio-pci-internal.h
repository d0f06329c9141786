/* What virtio-pci.c (layout, interrupts, ioeventfds) and
 * virtio-pci-regs.c (the modern and legacy register files) share;
 * nothing else includes it. Register accesses run with the device lock
 * held. */
#ifndef SKIFF_VIRTIO_PCI_INTERNAL_H
#define SKIFF_VIRTIO_PCI_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "virtio/virtio-pci.h"

#define LEGACY_HEADER_SIZE            20      /* up to the ISR; MSI-X adds 4 */
#define LEGACY_HEADER_SIZE_MSIX       24
#define MODERN_REGION_SIZE            0x1000  /* each structure owns 4 KiB of the BAR */
#define COMMON_CFG_LENGTH             (VIRTIO_PCI_COMMON_Q_RESET + 2)

/* virtio-pci-regs.c */
extern const struct bus_ops vp_modern_bar_ops;
extern const struct bus_ops vp_legacy_bar_ops;
bool vp_msix_enabled(struct virtio_pci *vp);
uint16_t vp_checked_vector(struct virtio_pci *vp, uint16_t vector);
struct virtqueue *vp_selected_queue(struct virtio_pci *vp);
void vp_reset(struct virtio_pci *vp);
void vp_write_status(struct virtio_pci *vp, uint8_t status);
uint8_t vp_read_isr(struct virtio_pci *vp);
void vp_config_read(struct virtio_pci *vp, uint64_t offset, uint8_t *data, unsigned len);
void vp_config_write(struct virtio_pci *vp, uint64_t offset, const uint8_t *data, unsigned len);

/* virtio-pci.c: INTx follows the ISR. */
void vp_update_intx(struct virtio_pci *vp);

#endif
