# Crash safety: copy 4 MiB generation after generation from the disk with
# serial crash-src to the same place on crash-dst (slot N at N * 4 MiB),
# with O_DIRECT and fsync (a FLUSH), and print a marker after each. The
# host SIGKILLs skiff at a random marker and then compares every slot up
# to it: whatever the guest saw completed and flushed must be on disk.
# skiff.test=blkcrash:N copies N generations (default 30), then waits up
# to 60 s for that SIGKILL before it goes on: on a fast host the last
# markers come quicker than the host's poll of the log.
check_blkcrash() {
	local sys serial src= dst= gen=1 last=${1#:}
	[ -n "$last" ] || last=30
	for sys in /sys/block/vd*; do
		serial=
		read -r serial < "$sys/serial" 2>/dev/null
		case $serial in
		crash-src) src=${sys##*/} ;;
		crash-dst) dst=${sys##*/} ;;
		esac
	done
	if [ -z "$src" ] || [ -z "$dst" ]; then
		fail blkcrash "no crash-src/crash-dst disks"
		return
	fi
	while [ "$gen" -le "$last" ]; do
		if ! dd if="/dev/$src" of="/dev/$dst" bs=1M count=4 skip=$((gen * 4)) seek=$((gen * 4)) \
			iflag=direct oflag=direct conv=fsync 2>/dev/null; then
			fail blkcrash "generation $gen: dd failed"
			return
		fi
		echo "skiff-guest: blkcrash generation $gen flushed"
		gen=$((gen + 1))
	done
	pass blkcrash "$last generations written and flushed"
	sleep 60
}
