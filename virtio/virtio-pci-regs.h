/* The modern and legacy register files of a virtio PCI function
 * (virtio-pci-regs.c), as the transport (virtio-pci.c) uses them; nothing
 * else includes it. Register accesses run with the device lock held. */
#ifndef SKIFF_VIRTIO_PCI_REGS_H
#define SKIFF_VIRTIO_PCI_REGS_H

#include <stdbool.h>
#include <stdint.h>

#include "bus/bus.h"
#include "virtio/virtio-pci-layout.h"


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
/* INTx follows the ISR. */
void vp_update_intx(struct virtio_pci *vp);

#endif
