#!/bin/bash
# The freestanding test guest (guest-images/test-guest) under skiff: PVH
# entry, the ring-0 -> ring-3 -> ring-0 round trip, PCI and virtio-mmio
# enumeration, the exception path, and virtio-rng on each transport.
# The guest ends through debug-exit: status 1 = all passed, 33+ = some
# failed (0x10 + failures), 193+2*vector = unexpected exception
# (guest-images/test-guest/README).
. "$(dirname "$0")/lib.sh"
require_kvm
require_test_guest
G=(--kernel "$TEST_GUEST")

# A whole guest run takes ~0.1 s here (software KVM); 60 s is only a hang guard.
boot plain 60 "${G[@]}"
check "no devices -> exit status 1 (all passed)" status_is 1
check "banner" log_has 'test-guest: skiff freestanding test guest'
check "PVH start info found" log_has 'test-guest: hvm_start_info at 0x7000 version 1'
check "command line passed through start info" log_has 'test-guest: command line "console=ttyS0'
check "ring-3 output through the TSS I/O bitmap" log_has 'test-guest: hello from ring 3'
check "ring 0 -> ring 3 -> ud2 -> ring 0 round trip" log_has 'test-guest: ring-3 round trip OK'
check "PCI bus 0 enumerated" log_has 'pci: [0-9]* functions\? on bus 0'
check "virtio-mmio slots probed" log_has 'virtio-mmio: [0-9]* devices\? '
check "summary line" log_has 'test-guest: [0-9]* passed, 0 failed'
grep -a '^pci\|^virtio-mmio' "$log" | sed 's/^/  | /'
functions_cf8=$(grep -a -o 'pci: [0-9]* functions\? on bus 0' "$log")

# The same bus through ECAM (LAYOUT_PCI_ECAM) must show the same functions.
boot ecam 60 "${G[@]}" --cmdline pci=ecam
check "ECAM enumeration -> exit status 1" status_is 1
check "ECAM sees what 0xcf8/0xcfc sees (${functions_cf8:-?})" log_has "${functions_cf8:-no cf8 line} (ECAM)"

# The failure conventions: an exception in ring 3 (#GP from hlt) and an
# expected transport that is missing.
boot crash-gp 60 "${G[@]}" --cmdline crash=gp3
check "#GP in ring 3 -> exit status 219 (0x60 + 13)" status_is 219
check "exception report names #GP in ring 3" log_has 'unexpected exception 13 (#GP general protection) in ring 3'
boot crash-pf 60 "${G[@]}" --cmdline crash=pf3
check "ring 3 reading a supervisor page -> #PF, exit status 221" status_is 221
boot expect-missing 60 "${G[@]}" --cmdline expect=mmio --cmdline mmio=0xfeb00000
check "expected transport not found -> exit status 35 (0x10 + 1 failure)" status_is 35
check "missing device reported" log_has 'virtio-rng mmio: FAIL expected (expect=) but not found'

# ---- virtio-rng on each transport ----
# skiff's transport names -> what the guest sees:
#   pci          transitional 1af4:1005: the legacy interface (I/O BAR 0) and
#                the modern one (vendor capabilities) are both driven
#   pci-modern   modern-only 1af4:1044       -> "virtio-rng pci"
#   pci-legacy   legacy-only 1af4:1005       -> "virtio-rng pci-legacy"
#   mmio         virtio-mmio version 2       -> "virtio-rng mmio"
#   mmio-legacy  virtio-mmio version 1       -> "virtio-rng mmio-legacy"
# DEVICE_CHECKS=off skips this part (e.g. bisecting to a skiff without devices).
ok_line() { log_has "^virtio-rng $1 [0-9a-fx:.]*: OK [0-9a-f]\{16\}"; }
show_results() { grep -a '^virtio-rng .*: \(OK\|FAIL\)' "$log" | tr -d '\r' | sed 's/^/  | /'; }
no_line() { ! log_has "^virtio-rng $1 "; }
if [ "${DEVICE_CHECKS:-on}" = on ]; then
	boot rng-pci 60 "${G[@]}" --device rng,transport=pci --cmdline "expect=pci,pci-legacy requests=64"
	check "transitional pci -> exit status 1" status_is 1
	check "transitional pci: 1af4:1005" log_has '^pci 00:[0-9a-f]*\.0 1af4:1005 '
	check "transitional pci: legacy interface OK" ok_line pci-legacy
	check "transitional pci: modern interface OK" ok_line pci
	show_results
	boot rng-pci-modern 60 "${G[@]}" --device rng,transport=pci-modern --cmdline "expect=pci requests=64"
	check "pci-modern -> exit status 1" status_is 1
	check "pci-modern: 1af4:1044" log_has '^pci 00:[0-9a-f]*\.0 1af4:1044 '
	check "pci-modern: OK" ok_line pci
	check "pci-modern: no legacy interface" no_line pci-legacy
	show_results
	boot rng-pci-legacy 60 "${G[@]}" --device rng,transport=pci-legacy --cmdline "expect=pci-legacy requests=64"
	check "pci-legacy -> exit status 1" status_is 1
	check "pci-legacy: OK" ok_line pci-legacy
	check "pci-legacy: no modern capabilities" no_line pci
	show_results
	for t in mmio mmio-legacy; do
		boot "rng-$t" 60 "${G[@]}" --device "rng,transport=$t" --cmdline "expect=$t requests=64"
		check "$t -> exit status 1" status_is 1
		check "$t: OK" ok_line "$t"
		show_results
	done

	# All five in one guest; then split rings only; then no optional
	# features (no EVENT_IDX / INDIRECT_DESC / RING_PACKED) with 300
	# requests per device, so every ring wraps.
	all=()
	for t in pci pci-modern pci-legacy mmio mmio-legacy; do all+=(--device "rng,transport=$t"); done
	for run in "rng-all:requests=16" "rng-split:ring=split requests=100" "rng-min-features:features=min requests=300"; do
		boot "${run%%:*}" 60 "${G[@]}" "${all[@]}" --cmdline "expect=pci,pci-legacy,mmio,mmio-legacy ${run#*:}"
		check "five devices, ${run#*:} -> exit status 1" status_is 1
		check "five devices, ${run#*:}: 6 rng tests + ring-3 self-test passed" log_has 'test-guest: 7 passed, 0 failed'
	done
fi

# ---- the same guest under QEMU (opt-in: TEST_GUEST_QEMU=1) ----
# A cross-check of the guest itself against another VMM's devices, so a
# failure above can be told apart from a bug in the guest.
if [ "${TEST_GUEST_QEMU:-0}" = 1 ] && command -v qemu-system-x86_64 >/dev/null; then
	qemu_boot() { # NAME ARGS...: like boot(), with QEMU
		local name=$1
		shift
		log=$LOG_DIR/$test_name-qemu-$name.log
		timeout --kill-after=10 60 qemu-system-x86_64 -accel kvm -m 256M -nographic -no-reboot \
			-kernel "$TEST_GUEST" -device isa-debug-exit,iobase=0xf4,iosize=1 "$@" </dev/null >"$log" 2>&1
		status=$?
		echo "$test_name: qemu-$name: exit status $status (log: $log)"
	}
	qemu_boot mmio -machine microvm -global virtio-mmio.force-legacy=false \
		-device virtio-rng-device -device virtio-rng-device,packed=on -append "expect=mmio requests=100"
	check "QEMU microvm, virtio-mmio v2 (split + packed) -> 1" status_is 1
	qemu_boot mmio-legacy -machine microvm -device virtio-rng-device -append "expect=mmio-legacy requests=100"
	check "QEMU microvm, virtio-mmio v1 -> 1" status_is 1
	qemu_boot pci -machine q35 -bios /usr/share/qemu/qboot.rom -nodefaults -serial stdio \
		-device virtio-rng-pci,disable-legacy=on -device virtio-rng-pci,disable-modern=on -device virtio-rng-pci \
		-append "expect=pci,pci-legacy requests=100"
	check "QEMU q35 (qboot), virtio-pci modern, legacy, transitional -> 1" status_is 1
fi
finish
