#!/bin/bash
# backend=user (libslirp) run by an unprivileged user, and the boot-and-ping
# command's success path, in one boot of the small kernel:
#   - tools/skiff-ping-test boots skiff as uid 65534 (nobody): DHCP from
#     slirp, then the guest pings the slirp gateway and gets replies;
#   - before that, the netuser check (host side: netuser_* in lib.sh):
#     slirp's DNS forwards the guest's query to the test's own resolver,
#     the guest reaches a TCP listener on the host's loopback through the
#     gateway (10.0.2.2) and back, and TCP and UDP hostfwd rules (host
#     127.0.0.1:0 and 5501 -> guest 5400 and 5401) reach the guest; for
#     the TCP rule's port 0 skiff picks a free port and prints it on one
#     line, which the test reads and connects to.
# Everything runs in a network namespace the test creates (only its
# loopback exists), so no traffic leaves it; `ip netns exec` gives its
# processes /etc/netns/NS/resolv.conf as /etc/resolv.conf.
#
# The unprivileged user needs /dev/kvm and nothing else: the test grants
# uid 65534 read/write on /dev/kvm with a POSIX ACL (setfacl) for the
# test's duration, and removes it at the end. No group membership, no
# capability; /dev/net/tun stays closed to it. Needs root for the rest.
. "$(dirname "$0")/lib.sh"
require_kvm
require_file "$SMALL_KERNEL"
require_file "$INITRAMFS"
[ "$(id -u)" = 0 ] || skip_or_fail "needs root (network namespace, /dev/kvm ACL for the unprivileged user)"
command -v setfacl >/dev/null || skip_or_fail "setfacl missing (apt-get install acl)"
command -v setpriv >/dev/null || skip_or_fail "setpriv missing (util-linux)"
BUSYBOX=${BUSYBOX:-/bin/busybox}
[ -x "$BUSYBOX" ] || skip_or_fail "$BUSYBOX missing (busybox-static)"
here=$(cd "$(dirname "$0")/../.." && pwd)
USER_ID=65534

ns=skiff-netuser-$$
work=$(mktemp -d)
chmod 755 "$work"
cleanup() {
	kill $listeners 2>/dev/null
	jobs -p | xargs -r kill 2>/dev/null
	ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null
	ip netns del "$ns" 2>/dev/null
	rm -rf "/etc/netns/$ns"
	setfacl -x "u:$USER_ID" /dev/kvm 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
in_ns() { ip netns exec "$ns" "$@"; }
as_user=(setpriv --reuid="$USER_ID" --regid="$USER_ID" --clear-groups)

ip netns add "$ns"
ip -n "$ns" link set lo up
setfacl -m "u:$USER_ID:rw" /dev/kvm
tun_closed() {
	in_ns "${as_user[@]}" sh -c 'test "$(id -u)" = '"$USER_ID"' && ! (exec 3<>/dev/net/tun) 2>/dev/null'
}
check "uid $USER_ID cannot open /dev/net/tun (really unprivileged)" tun_closed

mkdir -p "/etc/netns/$ns"
echo "nameserver 127.0.0.1" > "/etc/netns/$ns/resolv.conf"
netuser_in=(ip netns exec "$ns")
netuser_host_start "$work"

# Bad host resources, refused before any guest starts: one line, status 2.
user_skiff=(in_ns "${as_user[@]}" "$SKIFF" run --kernel "$SMALL_KERNEL")
check "a TAP the user cannot create: one line, status 2" \
	refused "cannot open or create TAP device 'skiffnope0'" "${user_skiff[@]}" --device net,backend=tap,ifname=skiffnope0
check "a hostfwd port in use (5301, the test's listener): one line, status 2" \
	refused "hostfwd=tcp:127.0.0.1:5301-:1: cannot listen on the host: Address already in use" \
	"${user_skiff[@]}" --device net,backend=user,hostfwd=tcp:127.0.0.1:5301-:1

log=$LOG_DIR/$test_name-user.log
: > "$log"
chown "$USER_ID" "$log" # skiff-ping-test, as the user, writes the console there
start=$(date +%s.%N)
in_ns "${as_user[@]}" "$here/tools/skiff-ping-test" --skiff "$SKIFF" --timeout 600 --log "$log" --checks virtio,netuser \
	-- --kernel "$SMALL_KERNEL" --initrd "$INITRAMFS" \
	--device "net,backend=user,${NETUSER_HOSTFWD/5500-/0-},transport=pci-modern" \
	> "$work/result" 2>&1 &
pid=$!
for _ in $(seq 1200); do
	grep -aq 'skiff-ready: netuser' "$log" 2>/dev/null && break
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.5
done
fwd_line=$(grep -a -o 'skiff: virtio-net0: hostfwd tcp 127\.0\.0\.1:[0-9]* -> 10\.0\.2\.15:5400' "$log" | head -1)
NETUSER_TCP_PORT=${fwd_line#*127.0.0.1:}
NETUSER_TCP_PORT=${NETUSER_TCP_PORT%% *}
netuser_host_connect "$work"
wait "$pid"
status=$?
elapsed=$(echo "$(date +%s.%N) - $start" | bc)
printf '%s: user: exit status %s after %.1f s (log: %s)\n' "$test_name" "$status" "$elapsed" "$log"
sed 's/^/  | /' "$work/result"
grep -a 'skiff-guest: init reached\|skiff-check:\|skiff-guest: \(dhcp\|dns\|net-stream\)\|from the host\|through hostfwd\|round-trip' "$log" |
	tr -d '\r' | sed 's/^/  | /'

expect_checks virtio netuser netping
check "modern-only PCI (00:01.0) bound to virtio_net" device_is virtio_net modern '.*/0000:00:01.0'
check "hostfwd port 0: skiff printed the port it picked ($fwd_line)" test -n "$fwd_line" -a "$NETUSER_TCP_PORT" != 0
netuser_checks "$work"
check "skiff-ping-test said ok" grep -q '^skiff-ping-test: ok' "$work/result"
check "skiff-ping-test exit status 0" status_is 0
finish
