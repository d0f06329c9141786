#!/bin/bash
# The jail around the sandbox (docs/sandbox.md), in one boot of the small
# kernel: skiff started as root with --user 65534, a virtio-blk disk (its
# I/O threads start while the machine is built, still root, in the host's
# namespaces) and a NIC on a TAP device. Once the guest's address is up,
# from outside: every thread has seccomp and no_new_privs, uid and gid
# 65534 and no groups, a mount and a network namespace other than the
# ones skiff was started in, and skiff's root directory is empty. Then the
# host side pings the guest through the TAP (the descriptor still works
# from the new network namespace) and stops skiff with SIGTERM. Refused
# first, without a boot: --user as a non-root user, an unknown user name.
# Needs root (--user, a TAP device, network namespaces).
. "$(dirname "$0")/lib.sh"
require_kvm
require_file "$SMALL_KERNEL"
require_file "$INITRAMFS"
[ "$(id -u)" = 0 ] || skip_or_fail "needs root for --user and a TAP device"
command -v ip >/dev/null && command -v nsenter >/dev/null && command -v setpriv >/dev/null ||
	skip_or_fail "ip (iproute2), nsenter or setpriv (util-linux) missing"
BUSYBOX=${BUSYBOX:-/bin/busybox}
[ -x "$BUSYBOX" ] || skip_or_fail "$BUSYBOX missing (busybox-static)"

ns=skiff-jail-$$
work=$(mktemp -d "$LOG_DIR/jail.XXXXXX")
cleanup() {
	ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null
	ip netns del "$ns" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

# ---- refused: one line, exit status 2 (lib.sh) ----
bad_input "unknown user" "--user no-such-user-here: neither a user name nor UID" --user no-such-user-here
check "--user without root: exit status 2, one line saying so" \
	refused "skiff must be started as root to switch to another user" \
	setpriv --reuid=65534 --regid=65534 --clear-groups "$SKIFF" run --kernel "$SMALL_KERNEL" --user 65534

# ---- the boot ----
ip netns add "$ns"
ip -n "$ns" link set lo up
# Owned by the user skiff becomes: the offloads the guest negotiates are
# set on it after the switch.
ip -n "$ns" tuntap add dev tap1 mode tap user 65534
ip -n "$ns" addr add 10.79.1.1/24 dev tap1
ip -n "$ns" link set tap1 up
truncate -s 16M "$work/disk.img"
started_net=$(readlink "/run/netns/$ns" 2>/dev/null || nsenter --net="/run/netns/$ns" readlink /proc/self/ns/net)
started_mnt=$(readlink /proc/self/ns/mnt)

log=$LOG_DIR/$test_name-user.log
# nsenter changes the network namespace only (ip netns exec would make a
# mount namespace too).
nsenter --net="/run/netns/$ns" timeout --signal=TERM --kill-after=10 600 "$SKIFF" run \
	--kernel "$SMALL_KERNEL" --initrd "$INITRAMFS" --user 65534 \
	--cmdline "skiff.test=virtio,netping skiff.net=10.79.1.2/24 skiff.ping=10.79.1.1,3600" \
	--device "blk,path=$work/disk.img,serial=jail-disk" \
	--device net,backend=tap,ifname=tap1,mac=52:54:00:79:01:02 \
	</dev/null >"$log" 2>&1 &
timeout_pid=$!
skiff_pid=
for _ in $(seq 50); do
	skiff_pid=$(pgrep -P "$timeout_pid" | head -n1)
	[ -n "$skiff_pid" ] && break
	sleep 0.1
done
for _ in $(seq 600); do
	grep -aq 'skiff-ready: net' "$log" && break
	kill -0 "$timeout_pid" 2>/dev/null || break
	sleep 0.5
done

# every_thread TEST: TEST (a function of a status file's text and the
# task's directory) holds for every thread; lists the ones it does not.
every_thread() {
	local d st n=0 bad=0
	for d in /proc/"$skiff_pid"/task/*; do
		st=$(cat "$d/status" 2>/dev/null) || continue # ended since the listing
		n=$((n + 1))
		"$1" "$st" "$d" || { bad=$((bad + 1)); echo "  $d ($(sed -n 's/^Name:\s*//p' <<<"$st")): $2"; }
	done
	echo "  ($n threads, $bad without)"
	[ "$n" -gt 1 ] && [ "$bad" = 0 ]
}
is_nobody() {
	grep -q $'^Uid:\t65534\t65534\t65534\t65534$' <<<"$1" &&
		grep -q $'^Gid:\t65534\t65534\t65534\t65534$' <<<"$1" && grep -q $'^Groups:[ \t]*$' <<<"$1"
}
own_namespaces() {
	local net mnt
	net=$(readlink "$2/ns/net") && mnt=$(readlink "$2/ns/mnt") &&
		[ "$net" != "$started_net" ] && [ "$mnt" != "$started_mnt" ]
}
root_is_empty() { [ -d "/proc/$skiff_pid/root/" ] && [ -z "$(ls -A "/proc/$skiff_pid/root/")" ]; }

# The guest pings the host side for an hour, and waits for us: on the
# nested host these checks (a few dozen processes) take ~40 s.
checks_t0=$(date +%s.%N)
echo "$test_name: skiff $skiff_pid, started in net $started_net, mnt $started_mnt; now:" \
	"net $(readlink "/proc/$skiff_pid/ns/net"), mnt $(readlink "/proc/$skiff_pid/ns/mnt")"
grep -h '^\(Name\|Uid\|Gid\|Groups\|Seccomp\|NoNewPrivs\):' /proc/"$skiff_pid"/task/*/status 2>/dev/null |
	sort | uniq -c | sed 's/^/  /'
check "the guest's address is up (skiff-ready)" log_has 'skiff-ready: net'
check "every skiff thread has its seccomp filter and no_new_privs" threads_confined "$skiff_pid"
check "every skiff thread runs as 65534:65534 without groups" every_thread is_nobody "not 65534:65534"
check "every skiff thread is in mount and network namespaces of its own" every_thread own_namespaces "a namespace skiff was started in"
check "skiff's root directory is empty" root_is_empty
# Otherwise a thread that ended would have been counted as failing.
check "skiff still ran when these checks ended ($(echo "$(date +%s.%N) - $checks_t0" | bc) s)" kill -0 "$skiff_pid"

host_pings() {
	local out st
	out=$(nsenter --net="/run/netns/$ns" "$BUSYBOX" ping -c 3 -W 5 10.79.1.2 2>&1)
	st=$?
	tail -n 2 <<<"$out" | sed 's/^/  | /'
	return $st
}
check "the host side pings the guest through the TAP" host_pings
kill -TERM "$skiff_pid"
wait "$timeout_pid"
status=$?
grep -a 'skiff-check:\|namespaces: ' "$log" | tr -d '\r' | sed 's/^/  | /'
check "skiff stopped on SIGTERM (exit status 143)" status_is 143
check "the namespaces were made (no warning about them)" log_lacks "namespaces: "
finish
