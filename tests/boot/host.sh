#!/bin/bash
# Where `make check` runs a boot test (the automake LOG_COMPILER of
# tests/boot/*.sh):
#   direct  on this machine's /dev/kvm, hardware or software KVM;
#   nested  inside the nested test host (tests/nested/run): an L1 Linux
#           under QEMU's TCG with an emulated SVM CPU, for machines
#           without /dev/kvm.
# SKIFF_TEST_HOST=direct|nested forces one; unset or auto chooses direct
# when /dev/kvm is usable. The first line of each test's log names the
# host kind that ran its boots.
#
#   host.sh TEST.sh [ARG...]     run one boot test
#   host.sh --describe           print that first line only
#   host.sh --kind               print the kind: nested, hardware or software
#   host.sh --in-l1 TEST.sh ...  (inside L1) run the test with its scratch
#                                on L1's disk, then copy its logs out
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)

kvm_usable() { [ -c /dev/kvm ] && [ -w /dev/kvm ]; }

mode=${SKIFF_TEST_HOST:-auto}
case $mode in
auto) if kvm_usable; then mode=direct; else mode=nested; fi ;;
direct|nested) ;;
*) echo "boot host: SKIFF_TEST_HOST must be direct, nested or auto, not '$mode'"; exit 99 ;;
esac

# The kind of host, for the tests (lib.sh): nested, hardware or software.
host_kind() {
	if [ "$mode" = nested ]; then
		echo nested
	elif grep -q -w -m1 -e vmx -e svm /proc/cpuinfo; then
		echo hardware
	else
		echo software
	fi
}

describe() {
	case $(host_kind) in
	nested) echo "boot host: nested KVM under QEMU TCG (tests/nested/run; $(kvm_usable && echo 'forced by SKIFF_TEST_HOST' || echo 'no /dev/kvm here'))" ;;
	hardware) echo "boot host: hardware KVM on this machine" ;;
	software) echo "boot host: software KVM on this machine (the CPU has no vmx/svm)" ;;
	esac
}

# The test's logs folder (LOG_DIR, as automake's test harness has it).
logs=${LOG_DIR:-$(pwd)/tests/boot/logs}

case ${1:-} in
--describe)
	describe
	exit 0
	;;
--kind)
	host_kind
	exit 0
	;;
--in-l1)
	# 9p (L1's view of this machine's /) has no FIFOs, no O_DIRECT and
	# unreliable locks, and the tests make FIFOs and disk images in their
	# log folder: give them one on L1's own disk and copy the logs out
	# after, in one tar stream (9p once failed copies made file by file).
	shift
	mkdir -p "$logs"
	export LOG_DIR=/tmp/skiff-boot-logs
	mkdir -p "$LOG_DIR"
	bash "$@"
	status=$?
	if (cd "$LOG_DIR" && find . -maxdepth 1 -name '*.log' -print0 | tar --null -cf - -T -) | tar -xf - -C "$logs"; then
		echo "boot host: the logs named $LOG_DIR/* above are in $logs"
	else
		echo "boot host: could not copy the logs from L1 to $logs"
	fi
	exit $status
	;;
esac

describe
[ $# -gt 0 ] || { echo "usage: host.sh TEST.sh [ARG...] | --describe"; exit 99; }
# The boot-test library sets aside one warning known on the nested host,
# and sizes the longest guest loops by it.
SKIFF_BOOT_HOST=$(host_kind)
export SKIFF_BOOT_HOST
if [ "$mode" = direct ]; then
	exec bash "$@"
fi
mkdir -p "$logs"
# A stuck L1 ends the test, not the whole run (no boot test needs half
# an hour there).
exec "$here/../nested/run" --timeout 1800 --console "$logs/$(basename "$1" .sh)-l1-console.log" -- bash "$here/host.sh" --in-l1 "$@"
