#!/bin/bash
# The control socket and virtio-balloon against the real Linux driver, in
# one 512 MiB small-kernel boot driven from here with `skiff ctl` (the guest
# side is guest-images/initramfs/checks/balloon.sh; the two meet through
# "skiff-balloon: STEP" lines on the console): inflate and deflate with
# the host's RSS following, balloon-stats against the guest's meminfo,
# pause/resume, and shutdown through the ACPI power button. A second short
# boot shows free page reporting and kill. Bad --api-sock paths need no boot.
. "$(dirname "$0")/lib.sh"
require_kvm
require_file "$SMALL_KERNEL"
require_file "$INITRAMFS"

dir=$(mktemp -d /tmp/skiff-balloon.XXXXXX)
trap 'rm -rf "$dir"' EXIT
sock=$dir/api.sock
ctl() { "$SKIFF" ctl "$sock" "$@"; }
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$skiff_pid/status"; }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$skiff_pid/stat"; }
# marker_field STEP FIELD: FIELD=VALUE from the guest's "skiff-balloon: STEP" line.
marker_field() { grep -a "skiff-balloon: $1 " "$log" | tail -n1 | tr -d '\r' | sed -n "s/.* $2=\([0-9]*\).*/\1/p"; }
json_number() { sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p"; }
last_tick() { grep -a -o 'skiff-tick [0-9]*' "$log" | tail -n1 | cut -d' ' -f2; }
within() { [ "$1" -ge "$2" ] && [ "$1" -le "$3" ]; } # within VALUE LOW HIGH

# ---- bad --api-sock paths: refused before the guest starts ----
"$SKIFF" run --kernel "$SMALL_KERNEL" --api-sock "$dir/no-such-dir/api.sock" >"$dir/out" 2>&1
check "--api-sock in a missing directory: exit 2" test $? = 2
check "... saying so" grep -q 'api-sock.*directory does not exist' "$dir/out"
: > "$dir/plain-file"
"$SKIFF" run --kernel "$SMALL_KERNEL" --api-sock "$dir/plain-file" >"$dir/out" 2>&1
check "--api-sock on a regular file: exit 2, file kept" test $? = 2 -a -f "$dir/plain-file"

# ---- the main boot ----
boot_start main 2700 --kernel "$SMALL_KERNEL" --initrd "$INITRAMFS" --mem 512M --cpus 1 \
	--device balloon,stats-interval=2,deflate-on-oom=on --api-sock "$sock" \
	--cmdline skiff.test=virtio,balloon
t0=$(date +%s)
wait_for 'skiff-guest: init reached' 600
check "socket is owner-only (0600)" test "$(stat -c %a "$sock")" = 600
"$SKIFF" run --kernel "$SMALL_KERNEL" --api-sock "$sock" >"$dir/out" 2>&1
check "a second skiff on the live socket: exit 2" test $? = 2
check "... saying it is in use" grep -q 'in use' "$dir/out"
ctl status > "$dir/status"
check "status: running" grep -q 'state: running' "$dir/status"
check "status: 1 vCPU, 512 MiB" grep -q 'memory_mib: 512' "$dir/status"
check "status lists the balloon and its transport" grep -q 'name=virtio-balloon0 type=balloon transport=pci' "$dir/status"

check "guest touched and freed 300 MiB" wait_for 'skiff-balloon: touched' 400
rss_before=$(rss_kib)
ctl balloon-set 256 > /dev/null
check "balloon-set 256 accepted" test $? = 0
check "guest balloon inflated (MemAvailable down >= 200 MiB)" wait_for 'skiff-balloon: inflated' 1200
rss_after=$(rss_kib)
avail_touched=$(marker_field touched MemAvailable)
avail_inflated=$(marker_field inflated MemAvailable)
echo "  skiff VmRSS ${rss_before} kB -> ${rss_after} kB; guest MemAvailable ${avail_touched} kB -> ${avail_inflated} kB"
check "skiff's RSS dropped by >= 200 MiB" test -n "$rss_before" -a -n "$rss_after" -a \
	$((rss_before - ${rss_after:-$rss_before})) -ge $((200 * 1024))
check "guest MemAvailable dropped by about 256 MiB (200..300)" \
	within $((${avail_touched:-0} - ${avail_inflated:-0})) $((200 * 1024)) $((300 * 1024))
check "status: balloon actual 256 MiB" sh -c "'$SKIFF' ctl '$sock' status --json | grep -q '\"actual_mib\":256'"

ctl balloon-stats > /dev/null # the driver refills its buffer now
sleep 3
stats=$(ctl --json balloon-stats)
echo "  balloon-stats: $stats"
free_host=$(($(echo "$stats" | json_number free-memory)0 / 10240)) # 0 if missing
free_guest=$(marker_field inflated MemFree)
echo "  free memory: balloon-stats ${free_host} kB, guest /proc/meminfo ${free_guest} kB"
check "balloon-stats free memory within 10% of the guest's MemFree" \
	within "$free_host" $((${free_guest:-0} * 9 / 10)) $((${free_guest:-0} * 11 / 10))

ctl balloon-set 0 > /dev/null
check "deflated: guest got its memory back" wait_for 'skiff-balloon: deflated' 1200
check "guest allocated 300 MiB again" wait_for 'skiff-balloon: reallocated' 600
echo "  skiff VmRSS after reallocation: $(rss_kib) kB"

check "guest ticking every 100 ms" wait_for 'skiff-tick 10' 60
ctl pause > /dev/null
check "pause accepted" test $? = 0
check "status: paused" sh -c "'$SKIFF' ctl '$sock' status | grep -q 'state: paused'"
tick_paused=$(last_tick)
c0=$(cpu_ticks)
sleep 2
c1=$(cpu_ticks)
tick_still=$(last_tick)
hz=$(getconf CLK_TCK)
echo "  paused: ticks $tick_paused -> $tick_still, skiff CPU $((c1 - c0)) of $((2 * hz)) clock ticks in 2 s"
check "no guest tick while paused" test -n "$tick_paused" -a "$tick_paused" = "$tick_still"
check "skiff under 1% CPU while paused" test -n "$c0" -a -n "$c1" -a $(((c1 - c0) * 100)) -lt $((2 * hz))
ctl resume > /dev/null
sleep 2
tick_resumed=$(last_tick)
check "ticks go on after resume ($tick_still -> $tick_resumed)" test "${tick_resumed:-0}" -gt "$((${tick_still:-0} + 5))"

ctl --json stats > "$dir/stats"
echo "  stats: $(head -c 600 "$dir/stats")"
check "stats: balloon requests counted" grep -q '"virtio-balloon0":{"requests":[1-9]' "$dir/stats"
check "stats: exits by reason" grep -q '"exits":{"io":[1-9]' "$dir/stats"

ctl shutdown --timeout 120 > "$dir/shutdown"
check "shutdown: ctl saw skiff exit" test $? = 0
boot_wait
check "guest saw the ACPI power button" log_has 'skiff-balloon: power button pressed'
expect_checks virtio balloon
check "guest powered off through ACPI" log_has 'reboot: Power down'
check "exit status 0" status_is 0
check "socket file removed at exit" test ! -e "$sock"
echo "  main boot: $(($(date +%s) - t0)) s"

# ---- free page reporting, then kill ----
boot_start report 900 --kernel "$SMALL_KERNEL" --initrd "$INITRAMFS" --mem 512M \
	--device balloon,free-page-reporting=on,transport=mmio --api-sock "$sock" \
	--cmdline skiff.test=balloon:report
check "guest touched and freed 100 MiB" wait_for 'skiff-balloon: freed' 600
# Reporting is asynchronous (the guest reports in batches, every ~2 s)
# and the touched pages need not come first: wait for both figures.
reported=0
for i in $(seq 60); do
	reported=$(ctl --json balloon-stats | json_number reported_mib)
	rss_reported=$(rss_kib)
	[ "${reported:-0}" -ge 50 ] && [ "${rss_reported:-999999}" -lt $((120 * 1024)) ] && break
	sleep 1
done
echo "  free page reporting: ${reported} MiB released; skiff VmRSS now ${rss_reported} kB"
check "free page reporting released >= 50 MiB" test "${reported:-0}" -ge 50
# The guest touched 100 MiB and booted in ~60 MiB: without reporting the
# RSS would stay above 160 MiB.
check "skiff's RSS below 120 MiB after reporting" test "${rss_reported:-999999}" -lt $((120 * 1024))
k0=$(date +%s.%N)
ctl kill > /dev/null
check "kill: ctl saw skiff exit" test $? = 0
boot_wait
echo "  kill took $(echo "$(date +%s.%N) - $k0" | bc) s"
check "kill: exit status 137" status_is 137
finish
