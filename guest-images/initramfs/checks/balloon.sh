# The guest side of the balloon and control-socket boot test
# (tests/boot/balloon.sh), coordinated with the host through marker lines
# on the console ("skiff-balloon: STEP ..."): the host waits for a marker,
# acts with `skiff ctl`, and the guest waits for the effect it can see.
#
# balloon          touch 300 MiB and free it; wait until the host's
#                  balloon-set 256 has filled the balloon (/proc/vmstat),
#                  MemAvailable down >= 200 MiB; wait for the deflate to 0
#                  (MemAvailable back); touch 300 MiB
#                  again; tick every 100 ms (mem-helper tick) while the host
#                  pauses and resumes; power off when the ACPI power button
#                  is pressed (skiff ctl shutdown)
# balloon:report   touch 100 MiB and free it (free page reporting releases
#                  it on the host), then wait for the host to kill the VM
balloon_meminfo() { # MemTotal, MemFree, MemAvailable in kB
	local k v _
	while read -r k v _; do
		case $k in
		MemTotal:) mem_total=$v ;;
		MemFree:) mem_free=$v ;;
		MemAvailable:) mem_avail=$v ;;
		esac
	done < /proc/meminfo
}

# Pages in the balloon, from the kernel's own counters (/proc/vmstat).
balloon_pages() {
	local k v in=0 out=0
	while read -r k v; do
		case $k in
		balloon_inflate) in=$v ;;
		balloon_deflate) out=$v ;;
		esac
	done < /proc/vmstat
	echo $((in - out))
}

balloon_say() {
	balloon_meminfo
	echo "skiff-balloon: $1 MemTotal=$mem_total MemFree=$mem_free MemAvailable=$mem_avail balloon=$(balloon_pages)"
}

# balloon_wait_pages N SECONDS: until the balloon holds N pages.
balloon_wait_pages() {
	local i=0
	while [ "$i" -lt "$2" ]; do
		[ "$(balloon_pages)" -eq "$1" ] && return 0
		sleep 1
		i=$((i + 1))
	done
	return 1
}

# The input device of the ACPI power button (drivers/acpi/button.c).
balloon_power_button() {
	local e n
	for e in /sys/class/input/event*; do
		read -r n < "$e/device/name" 2>/dev/null || continue
		[ "$n" = "Power Button" ] && { echo "/dev/input/${e##*/}"; return 0; }
	done
	return 1
}

check_balloon() {
	local freed button ticker
	if [ "$1" = :report ]; then
		mem-helper touch 100 || { fail balloon "could not touch 100 MiB"; return; }
		balloon_say "freed"
		while :; do sleep 60; done # until the host kills the VM
	fi
	button=$(balloon_power_button) || { fail balloon "no ACPI power button input device"; return; }
	balloon_say "start"
	mem-helper touch 300 || { fail balloon "could not touch 300 MiB"; return; }
	balloon_say "touched"
	freed=$mem_avail
	# The host inflates by 256 MiB (65536 pages), then deflates to 0.
	if ! balloon_wait_pages 65536 1200; then
		balloon_say "inflate-timeout"
		fail balloon "the balloon did not reach 256 MiB within 1200 s"
		return
	fi
	balloon_say "inflated"
	if [ $((freed - mem_avail)) -lt $((200 * 1024)) ]; then
		fail balloon "MemAvailable fell by only $((freed - mem_avail)) kB for a 256 MiB balloon"
		return
	fi
	if ! balloon_wait_pages 0 1200; then
		balloon_say "deflate-timeout"
		fail balloon "the balloon did not deflate within 1200 s"
		return
	fi
	balloon_meminfo
	if [ "$mem_avail" -lt $((freed - 40 * 1024)) ]; then
		fail balloon "MemAvailable $mem_avail kB after the deflate, $freed kB before the inflate"
		return
	fi
	balloon_say "deflated"
	mem-helper touch 300 || { fail balloon "could not touch 300 MiB after the deflate"; return; }
	balloon_say "reallocated"
	mem-helper tick &
	ticker=$!
	echo "skiff-balloon: ticking, power button at $button"
	dd if="$button" bs=24 count=1 of=/dev/null 2>/dev/null # an input_event: the press
	kill "$ticker"
	echo "skiff-balloon: power button pressed"
	pass balloon "inflated, deflated and reallocated 300 MiB; power button seen"
}
