# The extended-state canary (guest-images/xstate-canary): processes keep
# distinct patterns in YMM (and ZMM/k where the CPU has AVX-512) across
# context switches and signal handlers, and verify them. Any corruption,
# or any segfault the kernel logged meanwhile, fails the check.
# ":N" sets the iterations per process (default 2500: 4 x 2500 = 10,000
# context switches at least).
check_xstate() {
	local iterations=${1#:} out st before after
	[ -n "$iterations" ] || iterations=2500
	before=$(segfaults)
	out=$(/bin/xstate-canary 4 "$iterations" 2>&1)
	st=$?
	after=$(segfaults)
	echo "skiff-guest: $out"
	if [ "$st" -eq 0 ] && [ "$after" -eq "$before" ]; then
		pass xstate "${out#xstate-canary: }"
	else
		fail xstate "canary exit status $st, $((after - before)) segfaults logged"
	fi
}
