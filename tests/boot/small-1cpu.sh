#!/bin/bash
# Boot the small kernel (vmlinux, 64-bit entry) on 1 vCPU to the initramfs
# banner and through poweroff.
. "$(dirname "$0")/lib.sh"
require_kvm
require_file "$SMALL_KERNEL"
require_file "$INITRAMFS"

boot vmlinux 600 --kernel "$SMALL_KERNEL" --initrd "$INITRAMFS" --cpus 1 --cmdline skiff.test=poweroff
report_banner
check "banner printed" log_has 'skiff-guest: init reached after .* s (uptime), 1 CPUs'
check "user space ran (syscalls work)" log_has 'skiff-guest: init reached'
check "guest powered off through ACPI" log_has 'reboot: Power down'
check "PCI host bridge present without --device" log_has 'ACPI: PCI Root Bridge \[PCI0\]'
check "PCI config space found (no 'PCI: Fatal')" log_has 'PCI: Using configuration type 1 for base access'
check "exit status 0" status_is 0
finish
