#!/bin/bash
# How skiff ends, seen from outside: each way a guest (or the host) can stop
# it maps to its documented exit status, and the terminal is left as found.
. "$(dirname "$0")/lib.sh"
require_kvm
require_file "$SMALL_KERNEL"
require_file "$INITRAMFS"
K=(--kernel "$SMALL_KERNEL" --initrd "$INITRAMFS")

# Bad input never starts a guest: status 2 and one line naming the problem.
bad_input() {
	local out
	out=$("$SKIFF" run "$@" 2>&1 </dev/null)
	local st=$?
	[ "$st" = 2 ] && [ "$(printf '%s\n' "$out" | wc -l)" = 1 ] && printf '  | %s\n' "$out"
}
check "not a kernel -> 2" bad_input --kernel /etc/passwd
check "missing kernel -> 2" bad_input --kernel /nonexistent/vmlinux
truncated=$(mktemp)
head -c 600 "$SMALL_BZIMAGE" > "$truncated"
check "truncated bzImage -> 2" bad_input --kernel "$truncated"
rm -f "$truncated"
check "--mem too small -> 2" bad_input "${K[@]}" --mem 8M
check "--cpus 0 -> 2" bad_input "${K[@]}" --cpus 0
check "unknown option -> 2" bad_input "${K[@]}" --frobnicate
check "unknown device type -> 2" bad_input "${K[@]}" --device disk
check "unknown transport -> 2" bad_input "${K[@]}" --device rng,transport=usb

# Errors found while building the machine: status 2, the reason named.
machine_refuses() { # machine_refuses PATTERN ARGS...
	local pattern=$1 out st
	shift
	out=$("$SKIFF" run "${K[@]}" "$@" 2>&1 </dev/null)
	st=$?
	printf '%s\n' "$out" | grep -v 'KVM detected' | sed 's/^/  | /'
	[ "$st" = 2 ] && printf '%s\n' "$out" | grep -q -- "$pattern"
}
many() { for _ in $(seq "$1"); do printf -- '--device\n%s\n' "$2"; done; }
mapfile -t ten_mmio < <(many 10 rng,transport=mmio)
mapfile -t many_pci < <(many 32 rng,transport=pci)
check "too many virtio-mmio devices -> 2" machine_refuses 'too many virtio-mmio devices' "${ten_mmio[@]}"
check "too many PCI devices for the bus -> 2" machine_refuses 'too many PCI devices' "${many_pci[@]}"
check "debug-exit port on COM1's address -> 2" machine_refuses 'port already used' --debug-exit-port 0x3f8

# The guest reboots (reboot=k: keyboard-controller reset line) -> 0.
boot reboot 600 "${K[@]}" --cmdline skiff.test=reboot
check "reboot -> exit status 0" status_is 0
check "reboot went through the kernel" log_has 'reboot: Restarting system'
# No --device: the PCI host bridge is there all the same.
check "PCI host bridge present without --device" log_has 'ACPI: PCI Root Bridge \[PCI0\]'
check "PCI config space found (no 'PCI: Fatal')" log_has 'PCI: Using configuration type 1 for base access'

# The guest kernel panics (panic=-1, pvpanic) -> 4.
KERNEL_TROUBLE_EXPECTED=1 boot panic 600 "${K[@]}" --cmdline skiff.test=panic
check "panic -> exit status 4" status_is 4
check "kernel reported the panic" log_has 'Kernel panic'

# The guest writes 0x10 to the debug-exit port -> (0x10 << 1) | 1 = 33, as with QEMU's isa-debug-exit.
boot debug-exit 600 "${K[@]}" --cmdline skiff.test=debug-exit=16
check "debug-exit 16 -> exit status 33" status_is 33

# SIGTERM while the guest runs on a terminal: clean stop, status 143, and
# the terminal's settings exactly as before (skiff had it in raw mode).
sigterm_on_tty() {
	local dir
	dir=$(mktemp -d)
	# script(1) gives skiff a pseudo-terminal as stdin, like a user's shell
	# (</dev/tty: sh would give a background job /dev/null instead).
	script -qec "stty -g > $dir/before; $SKIFF run ${K[*]} < /dev/tty > $dir/console 2>&1 & pid=\$!; \
		for i in \$(seq 1 600); do grep -q 'Linux version' $dir/console && break; sleep 0.5; done; \
		stty -g > $dir/during; kill -TERM \$pid; wait \$pid; echo \$? > $dir/status; stty -g > $dir/after" \
		/dev/null </dev/null >/dev/null 2>&1
	log=$dir/console
	echo "  status $(cat "$dir/status"), terminal before/during/after: $(cat "$dir/before" | cut -c1-20)... $(cmp -s "$dir/before" "$dir/during" && echo same || echo raw) $(cmp -s "$dir/before" "$dir/after" && echo restored || echo NOT-restored)"
	[ "$(cat "$dir/status")" = 143 ] && ! cmp -s "$dir/before" "$dir/during" && cmp -s "$dir/before" "$dir/after"
}
check "SIGTERM -> 143, raw terminal restored" sigterm_on_tty
finish
