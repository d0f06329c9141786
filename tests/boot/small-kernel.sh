#!/bin/bash
# The small kernel (drivers built in) on 1 vCPU, one boot for many things:
# virtio-rng on every transport under the real Linux driver, the
# extended-state canary and the exec loop (guest user space correct on
# software-KVM hosts), and poweroff through ACPI. On other hosts, a second
# boot with the software-KVM workarounds forced on.
. "$(dirname "$0")/lib.sh"
require_kvm
require_file "$SMALL_KERNEL"
require_file "$INITRAMFS"

# Five rng devices: transitional PCI (the driver picks modern), legacy-only
# PCI, modern-only PCI, virtio-mmio v2 and v1 (found through ACPI).
# --trace follows two of them (legacy PCI and virtio-mmio v2) on the real
# driver: status, kicks, requests, interrupts. lapic=notscdeadline: with
# the TSC-deadline timer Linux needs no PIT and never checks its pin
# (below); without it, as on hosts whose KVM lacks that timer, it does.
boot 1cpu 1800 --kernel "$SMALL_KERNEL" --initrd "$INITRAMFS" --cpus 1 \
	--cmdline "skiff.test=virtio,rng,xstate,exec lapic=notscdeadline" --trace=virtio-rng1,virtio-rng3 \
	--device rng,transport=pci --device rng,transport=pci-legacy --device rng,transport=pci-modern \
	--device rng,transport=mmio --device rng,transport=mmio-legacy
check "banner: user space runs on 1 CPU" log_has 'skiff-guest: init reached after .* s (uptime), 1 CPUs'
expect_checks virtio rng xstate exec
check "transitional PCI (00:01.0) bound, modern" device_is virtio_rng modern '.*/0000:00:01.0'
check "legacy-only PCI (00:02.0) bound, legacy" device_is virtio_rng legacy '.*/0000:00:02.0'
check "modern-only PCI (00:03.0) bound, modern" device_is virtio_rng modern '.*/0000:00:03.0'
check "virtio-mmio v2 (LNRO0005:00) bound, modern" device_is virtio_rng modern '.*/LNRO0005:00'
check "virtio-mmio v1 (LNRO0005:01) bound, legacy" device_is virtio_rng legacy '.*/LNRO0005:01'
# skiff's --trace lines (stderr) can land inside a guest console line
# (stdout) in the shared log: cut each one out of the middle of a line and
# join the line again before counting (CI on Dec 5 lost one hwrng line so).
untangled_count() {
	sed -e ':a' -e '/.skiff: trace: /{N;s/skiff: trace: [^\n]*\n//;ba}' "$log" | grep -a -c -- "$1"
}
check "16 random bytes from each of the 5 hwrngs" test "$(untangled_count 'skiff-guest: hwrng virtio_rng.[0-9]* [0-9a-f]\{32\}')" = 5
check "no PCI configuration-access error" log_lacks 'PCI: Fatal'
# The MADT puts ISA IRQ 0 on IOAPIC pin 2; Linux checks the timer there and
# prints this (then falls back to ExtINT) if KVM's GSI 0 goes elsewhere.
check "the PIT's timer reaches the IOAPIC pin the MADT names" log_lacks '8254 timer not connected to IO-APIC'
check "... and Linux checked it there" log_has '\.\.TIMER: vector=0x[0-9a-f]* apic1=0 pin1=2'
trace() { log_has "^skiff: trace: $1"; }
check "trace: legacy driver reaches DRIVER_OK (status -> 0x7)" trace 'virtio-rng1: status 0x3 -> 0x7'
check "trace: modern driver reaches DRIVER_OK (status -> 0xf)" trace 'virtio-rng3: status 0xb -> 0xf'
check "trace: kicks" trace 'virtio-rng[13]: kick q0'
check "trace: requests popped with head and lengths" trace 'virtio-rng3: request pop q0 head [0-9]* out 0 in [1-9]'
check "trace: requests completed" trace 'virtio-rng1: request done q0 head [0-9]* written [1-9]'
check "trace: PCI interrupt (MSI-X vector or INTx)" trace 'virtio-rng1: irq \(msix vector [0-9]*\|intx raised\)'
check "trace: virtio-mmio interrupt line" trace 'virtio-rng3: irq gsi [0-9]* raised'
check "trace: no other device, no exits" test "$(grep -a -c '^skiff: trace: ' "$log")" = "$(grep -a -c '^skiff: trace: virtio-rng[13]: ' "$log")"
check "guest powered off through ACPI" log_has 'reboot: Power down'
check "exit status 0" status_is 0

# Where KVM is hardware (or the nested host's), the software-KVM
# workarounds are forced on once, so they stay tested on hosts that would
# never pick them (on software KVM every boot uses them).
if [ "$SKIFF_BOOT_HOST" != software ]; then
	boot swkvm-on 1800 --swkvm on --kernel "$SMALL_KERNEL" --initrd "$INITRAMFS" \
		--cmdline skiff.test=virtio,rng,exec:50 --device rng,transport=mmio
	check "swkvm-on: workarounds on although the CPU has vmx/svm" log_has 'software-KVM workarounds on (--swkvm=on'
	expect_checks virtio rng exec
	check "swkvm-on: exit status 0" status_is 0
fi
finish
