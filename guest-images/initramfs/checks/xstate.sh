# The extended-state canary (guest-images/xstate-canary): processes keep
# distinct patterns in YMM (and ZMM/k where the CPU has AVX-512) across
# context switches and signal handlers, and verify them. Any corruption,
# or any segfault the kernel logged meanwhile, fails the check.
check_xstate() {
	local out st before after
	before=$(dmesg | grep -c 'segfault at')
	out=$(/bin/xstate-canary 4 2500 2>&1)
	st=$?
	after=$(dmesg | grep -c 'segfault at')
	echo "skiff-guest: $out"
	if [ "$st" -eq 0 ] && [ "$after" -eq "$before" ]; then
		pass xstate "${out#xstate-canary: }"
	else
		fail xstate "canary exit status $st, $((after - before)) segfaults logged"
	fi
}
