#!/bin/bash
# tools/skiff-ping-test's failure statuses, each provoked for real (its
# success is proven by net-user.sh): a guest that does not reach init in
# time, no virtio-net device, no link, no DHCP answer, no ping reply, and a
# bad command line. Each check is one line of skiff-ping-test's output
# and its exit status. The boots are small-kernel boots that stop at the
# first failing step; the no-DHCP case runs on a TAP in a network
# namespace the test creates (nothing answers there), the others on
# backend=user.
. "$(dirname "$0")/lib.sh"
require_kvm
require_file "$SMALL_KERNEL"
require_file "$INITRAMFS"
[ "$(id -u)" = 0 ] || skip_or_fail "needs root (a network namespace with a TAP for the DHCP case)"
here=$(cd "$(dirname "$0")/../.." && pwd)
ns=skiff-netping-$$
cleanup() { ip netns del "$ns" 2>/dev/null; }
trap cleanup EXIT

# ping_test NAME EXPECTED-STATUS EXPECTED-LINE-PATTERN [skiff-ping-test args...]
ping_test() {
	local name=$1 want=$2 line=$3 start out
	shift 3
	log=$LOG_DIR/$test_name-$name.log
	start=$(date +%s.%N)
	out=$("${run_in[@]}" "$here/tools/skiff-ping-test" --skiff "$SKIFF" --log "$log" "$@" 2>&1)
	status=$?
	printf '%s: %s: exit status %s after %.1f s (log: %s)\n' "$test_name" "$name" "$status" \
		"$(echo "$(date +%s.%N) - $start" | bc)" "$log"
	echo "$out" | head -3 | sed 's/^/  | /'
	check "$name: exit status $want" status_is "$want"
	check "$name: says '$line'" eval 'echo "$out" | grep -q -- "$line"'
}

boot_args=(--kernel "$SMALL_KERNEL" --initrd "$INITRAMFS")
run_in=(env) # the no-DHCP case runs it in the namespace instead

ping_test bad-mac 2 "mac 'zz' is not a MAC address" -- "${boot_args[@]}" --device net,backend=user,mac=zz
ping_test no-init 10 'failed at step init: guest did not reach init within 3 s' --timeout 3 -- \
	"${boot_args[@]}" --device net,backend=user
ping_test no-device 11 'failed at step device: no virtio-net device bound' -- "${boot_args[@]}" --device rng
ping_test no-link 12 'failed at step link: eth0 has no carrier' -- "${boot_args[@]}" \
	--device net,backend=user,link=down
ping_test no-reply 14 'failed at step ping: no reply from 10.0.2.77' --ping 10.0.2.77,2 -- "${boot_args[@]}" \
	--device net,backend=user,transport=mmio

ip netns add "$ns"
ip -n "$ns" tuntap add dev tap0 mode tap
ip -n "$ns" link set tap0 up
run_in=(ip netns exec "$ns")
ping_test no-dhcp 13 'failed at step address: no address (net=dhcp' -- "${boot_args[@]}" \
	--device net,backend=tap,ifname=tap0,transport=pci-legacy
finish
