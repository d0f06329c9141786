#!/bin/bash
# Boot the small kernel on 2 vCPUs: the guest must bring up both (ACPI MADT,
# INIT/SIPI through the in-kernel LAPIC) and power off.
. "$(dirname "$0")/lib.sh"
require_kvm
require_file "$SMALL_KERNEL"
require_file "$INITRAMFS"

boot vmlinux-2cpu 600 --kernel "$SMALL_KERNEL" --initrd "$INITRAMFS" --cpus 2 --cmdline skiff.test=poweroff
report_banner
check "kernel brought up 2 CPUs" log_has 'smp: Brought up 1 node, 2 CPUs'
check "banner reports 2 CPUs" log_has 'skiff-guest: init reached after .* s (uptime), 2 CPUs'
check "exit status 0" status_is 0
finish
