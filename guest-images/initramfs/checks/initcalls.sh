# Where the boot went: the slowest initcalls, from the kernel log of a boot
# with initcall_debug on the command line (a profiling aid, not a test:
# `skiff run ... --cmdline "initcall_debug skiff.test=initcalls,shell"`).
check_initcalls() {
	local n=${1#:}
	[ -n "$n" ] || n=20
	if ! dmesg | grep -q 'initcall .* returned'; then
		fail initcalls "no initcall timings in the kernel log: boot with initcall_debug"
		return
	fi
	dmesg | sed -n 's/.*initcall \([^ ]*\) returned .* after \([0-9]*\) usecs.*/\2 \1/p' | sort -rn | head -n "$n" |
		while read -r us name; do
			echo "skiff-guest: initcall $((us / 1000)) ms $name"
		done
	pass initcalls "$(dmesg | sed -n 's/.*returned .* after \([0-9]*\) usecs.*/\1/p' |
		awk '{ s += $1 } END { printf "%.1f s in %d initcalls", s / 1e6, NR }')"
}
