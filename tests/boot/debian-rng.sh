#!/bin/bash
# virtio-rng under the unmodified Debian cloud kernel, whose virtio drivers
# are modules and which finds virtio-mmio devices only through ACPI
# (LNRO0005 in the DSDT). Slow here: each module load is a signature check
# run by the host's emulator, so /init loads only what this test needs.
# Measured here: init after ~1,500 s, of which the seven module loads take
# ~1,000 s; 1,715 s in all.
. "$(dirname "$0")/lib.sh"
require_kvm
require_file "$DEBIAN_VMLINUX"
require_file "$SKIFF_CACHE/initramfs-debian.cpio"

boot debian-rng 3000 --kernel "$DEBIAN_VMLINUX" --initrd "$SKIFF_CACHE/initramfs-debian.cpio" \
	--cmdline "skiff.test=rng skiff.modules=virtio_pci,virtio_mmio,virtio_rng" \
	--device rng,transport=pci --device rng,transport=pci-legacy \
	--device rng,transport=mmio --device rng,transport=mmio-legacy
report_banner
grep -a 'skiff-guest: \(loading\|virtio\|hwrng\)' "$log" | sed 's/^/  | /'
device_is() { grep -a "skiff-guest: virtio virtio[0-9]* driver=virtio_rng $1 at $2" "$log" >/dev/null; }
check "Debian kernel started" log_has 'Linux version 6.1.*cloud-amd64'
check "transitional PCI bound, modern" device_is modern '.*/0000:00:01.0'
check "legacy-only PCI bound, legacy" device_is legacy '.*/0000:00:02.0'
check "virtio-mmio v2 found through ACPI, modern" device_is modern '.*/LNRO0005:00'
check "virtio-mmio v1 found through ACPI, legacy" device_is legacy '.*/LNRO0005:01'
check "16 random bytes from each of the 4 hwrngs" \
	test "$(grep -a -c "skiff-guest: hwrng virtio_rng.[0-9]* [0-9a-f]\{32\}" "$log")" = 4
check "exit status 0" status_is 0
finish
