#!/bin/bash
# virtio-rng under the real Linux driver (small kernel, drivers built in),
# on every transport: the guest's /init lists each virtio device with its
# driver, its transport (PCI function or ACPI LNRO0005 = virtio-mmio) and
# whether the driver negotiated VIRTIO_F_VERSION_1, then reads 16 bytes
# from each hwrng.
. "$(dirname "$0")/lib.sh"
require_kvm
require_file "$SMALL_KERNEL"
require_file "$INITRAMFS"
K=(--kernel "$SMALL_KERNEL" --initrd "$INITRAMFS" --cmdline skiff.test=rng)

rng_bytes_ok() { [ "$(grep -a -c "skiff-guest: hwrng virtio_rng.[0-9]* [0-9a-f]\{32\}" "$log")" = "$1" ]; }
device_is() { # device_is MODE PATH-PATTERN
	grep -a "skiff-guest: virtio virtio[0-9]* driver=virtio_rng $1 at $2" "$log" >/dev/null
}

# One guest, five devices: transitional PCI (the driver picks modern),
# legacy-only PCI, modern-only PCI, virtio-mmio v2 and v1 (found via ACPI).
boot all-transports 900 "${K[@]}" \
	--device rng,transport=pci --device rng,transport=pci-legacy --device rng,transport=pci-modern \
	--device rng,transport=mmio --device rng,transport=mmio-legacy
grep -a 'skiff-guest: \(virtio\|hwrng\)' "$log" | sed 's/^/  | /'
check "transitional PCI (00:01.0) bound, modern" device_is modern '.*/0000:00:01.0'
check "legacy-only PCI (00:02.0) bound, legacy" device_is legacy '.*/0000:00:02.0'
check "modern-only PCI (00:03.0) bound, modern" device_is modern '.*/0000:00:03.0'
check "virtio-mmio v2 (LNRO0005:00) bound, modern" device_is modern '.*/LNRO0005:00'
check "virtio-mmio v1 (LNRO0005:01) bound, legacy" device_is legacy '.*/LNRO0005:01'
check "16 random bytes from each of the 5 hwrngs" rng_bytes_ok 5
check "exit status 0" status_is 0

# The transitional device through the legacy interface of the same driver.
boot force-legacy 900 "${K[@]}" --cmdline virtio_pci.force_legacy=1 --device rng,transport=pci
grep -a 'skiff-guest: \(virtio\|hwrng\)' "$log" | sed 's/^/  | /'
check "virtio_pci.force_legacy=1: transitional PCI driven as legacy" device_is legacy '.*/0000:00:01.0'
check "16 random bytes through the legacy interface" rng_bytes_ok 1
check "exit status 0" status_is 0
finish
