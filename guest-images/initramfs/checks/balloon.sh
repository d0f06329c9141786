# The guest side of the balloon and control-socket boot test
# (tests/boot/balloon.sh), coordinated with the host through marker lines
# on the console ("skiff-balloon: STEP ..."): the host waits for a marker,
# acts with `skiff ctl`, and the guest waits for the effect it can see.
#
# balloon          touch 300 MiB and free it; wait until the host's
#                  balloon-set 256 shows (MemAvailable down >= 200 MiB);
#                  wait for the deflate (MemAvailable back); touch 300 MiB
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

balloon_say() {
	balloon_meminfo
	echo "skiff-balloon: $1 MemTotal=$mem_total MemFree=$mem_free MemAvailable=$mem_avail"
}

# balloon_wait_avail below|above KB SECONDS: until MemAvailable crosses KB.
balloon_wait_avail() {
	local i=0
	while [ "$i" -lt "$3" ]; do
		balloon_meminfo
		if [ "$1" = below ] && [ "$mem_avail" -lt "$2" ]; then return 0; fi
		if [ "$1" = above ] && [ "$mem_avail" -gt "$2" ]; then return 0; fi
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
	# The host inflates by 256 MiB: wait for at least 200 of them to go.
	if ! balloon_wait_avail below $((freed - 200 * 1024)) 300; then
		balloon_say "inflate-timeout"
		fail balloon "MemAvailable did not drop by 200 MiB within 300 s"
		return
	fi
	sleep 3 # let the driver finish the last pages
	balloon_say "inflated"
	# The host deflates to 0: the memory comes back.
	if ! balloon_wait_avail above $((freed - 40 * 1024)) 300; then
		balloon_say "deflate-timeout"
		fail balloon "MemAvailable did not come back within 300 s"
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
