#!/bin/bash
# The unmodified Debian cloud kernel, unpacked to vmlinux (64-bit entry),
# with skiff's default command line only: banner and poweroff.
. "$(dirname "$0")/lib.sh"
require_kvm
require_file "$DEBIAN_VMLINUX"
require_file "$INITRAMFS"

boot debian-vmlinux 1500 --kernel "$DEBIAN_VMLINUX" --initrd "$INITRAMFS" --cmdline skiff.test=poweroff
report_banner
check "Debian kernel started" log_has 'Linux version 6.1.*cloud-amd64'
check "banner printed" log_has 'skiff-guest: init reached after .* s (uptime), 1 CPUs'
check "exit status 0" status_is 0
finish
