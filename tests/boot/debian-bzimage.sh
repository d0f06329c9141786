#!/bin/bash
# The Debian cloud kernel as shipped (bzImage: setup header, 64-bit entry
# into its own decompressor), to the banner and through poweroff.
. "$(dirname "$0")/lib.sh"
require_kvm
require_file "$DEBIAN_BZIMAGE"
require_file "$INITRAMFS"

boot debian-bzimage 1500 --kernel "$DEBIAN_BZIMAGE" --initrd "$INITRAMFS" --cmdline skiff.test=poweroff
report_banner
check "Debian kernel started" log_has 'Linux version 6.1.*cloud-amd64'
check "banner printed" log_has 'skiff-guest: init reached after .* s (uptime), 1 CPUs'
check "exit status 0" status_is 0
finish
