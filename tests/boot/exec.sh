#!/bin/bash
# skiff exec (docs/exec.md) under the small kernel and the busybox
# initramfs: every failure class with its exit status, stdout and stderr
# kept apart, --copy-in and the shared working directory, then 20 runs at
# once in one folder. The independent runs go in parallel to keep the
# nested host's time down (each boot is ~10-20 s there).
. "$(dirname "$0")/lib.sh"
require_kvm
require_file "$SMALL_BZIMAGE"
require_file "$INITRAMFS"

work=$(mktemp -d "$LOG_DIR/exec.XXXXXX")
trap 'rm -rf "$work"' EXIT
log=$LOG_DIR/$test_name.log
: >"$log"

# run NAME [exec options] -- CMD...: in the background, in $work/NAME/,
# with stdout, stderr and the status in files there.
run() {
	local name=$1 dir=$work/$1
	shift
	mkdir -p "$dir"
	(cd "$dir" && "$SKIFF" exec --kernel "$SMALL_BZIMAGE" --initrd "$INITRAMFS" --mem 128M \
		--kernel-log "$dir/kernel.log" "$@" >"$dir/out" 2>"$dir/err"
	 echo $? >"$dir/status") &
}
status_of() { cat "$work/$1/status"; }
has_status() { [ "$(status_of "$1")" = "$2" ] || { echo "  ($1: status $(status_of "$1"), stderr:)"; sed 's/^/  | /' "$work/$1/err" | tail -n 8; return 1; }; }
out_is() { [ "$(cat "$work/$1/out")" = "$2" ]; }
err_has() { grep -q -- "$2" "$work/$1/err"; }
err_lacks() { ! err_has "$@"; }
klog_has() { grep -a -q -- "$2" "$work/$1/kernel.log"; }

mkdir -p "$work/ok" "$work/copy/tree/sub"
echo from-the-workdir >"$work/ok/workfile"
echo copied-file >"$work/copy/tree/sub/f"
printf 'one\ntwo\n' >"$work/copy/single"

start=$(date +%s.%N)
run ok -- sh -c 'echo to-stdout; echo to-stderr >&2; cat workfile; touch /skiff/work/x 2>/dev/null && echo writable; exit 3'
run copy --no-workdir --copy-in "$work/copy/tree:/data/tree" --copy-in "$work/copy/single:/etc/single" \
	-- sh -c 'cat /data/tree/sub/f /etc/single; ls /skiff/work | wc -l'
run panic -- sh -c 'echo c >/proc/sysrq-trigger; sleep 100'
run signal -- sh -c 'kill -9 $$'
run timeout --timeout 40 -- sleep 1000
run noinit --cmdline rdinit=/no/such/init -- true
run warn --fail-on oops,warn -- sh -c 'echo "WARNING: CPU: 0 PID: 1 at skiff-exec-test" >/dev/kmsg'
run nowarn -- sh -c 'echo "WARNING: CPU: 0 PID: 1 at skiff-exec-test" >/dev/kmsg'
run notfound -- no-such-command
wait
echo "failure classes: $(echo "$(date +%s.%N) - $start" | bc) s for 9 runs in parallel" | tee -a "$log"

check "CMD's status passes through (3)" has_status ok 3
check "CMD's stdout on skiff's stdout, alone" out_is ok $'to-stdout\nfrom-the-workdir'
check "CMD's stderr on skiff's stderr" err_has ok '^to-stderr$'
check "the kernel log is kept apart (--kernel-log)" klog_has ok 'Run /skiff/init as init process'
check "the kernel log is not on stdout or stderr" err_lacks ok 'Linux version'
check "--copy-in: a directory and a file, parents made" out_is copy $'copied-file\none\ntwo\n0'
check "--copy-in run: status 0" has_status copy 0
check "panic: status 122" has_status panic 122
check "panic: the panic line in the message" err_has panic 'skiff exec: .*Kernel panic - not syncing: sysrq triggered crash'
check "CMD killed by a signal: status 120, named" has_status signal 120
check "CMD killed by a signal: named" err_has signal 'killed by signal 9'
check "--timeout: status 124" has_status timeout 124
# Not checked yet: the sysrq task dump (BREAK + key on COM1) did not show
# in the small kernel's log in the first runs (docs/exec.md).
check "never reached init: status 121" has_status noinit 121
check "--fail-on warn: status 123 with the line" has_status warn 123
# (the first WARNING of the log is named: on the nested host the kernel's
# own xstate WARNING at boot comes before the injected one)
check "--fail-on warn: the line in the message" err_has warn 'the kernel log has: .*WARNING: CPU: '
check "never reached init: says so" err_has noinit "never reached skiff's init"
check "without --fail-on a WARNING does not fail" has_status nowarn 0
check "CMD not found: 127, as a shell says" has_status notfound 127

# 20 at once, in one folder: each gets its own ports and status.
mkdir -p "$work/par"
start=$(date +%s.%N)
for i in $(seq 1 20); do
	(cd "$work/par" && "$SKIFF" exec --kernel "$SMALL_BZIMAGE" --initrd "$INITRAMFS" --mem 96M \
		-- sh -c "echo run-$i; exit $i" >"out.$i" 2>"err.$i"; echo $? >"status.$i") &
done
wait
echo "20 parallel runs: $(echo "$(date +%s.%N) - $start" | bc) s" | tee -a "$log"
parallel_ok() {
	local bad=0
	for i in $(seq 1 20); do
		if [ "$(cat "$work/par/status.$i")" != "$i" ] || [ "$(cat "$work/par/out.$i")" != "run-$i" ]; then
			echo "  (run $i: status $(cat "$work/par/status.$i"), stdout '$(cat "$work/par/out.$i")')"
			tail -n 5 "$work/par/err.$i" | sed 's/^/  | /'
			bad=$((bad + 1))
		fi
	done
	[ "$bad" -eq 0 ]
}
check "20 parallel runs: each its own status and stdout" parallel_ok

# Refused before booting: status 125 and one line.
mkdir -p "$work/big"
truncate -s 17M "$work/big/big.bin"
refused_exec() {
	local want=$1 out status
	shift
	out=$(cd "$work/big" && "$SKIFF" exec "$@" 2>&1)
	status=$?
	[ "$status" = 125 ] && [ "$(wc -l <<<"$out")" = 1 ] && grep -q -- "$want" <<<"$out" ||
		{ echo "  (status $status: $out)"; return 1; }
}
check "no command: 125" refused_exec 'no command' --kernel "$SMALL_BZIMAGE"
check "a too-big working directory: 125, the limit named" refused_exec 'over the 16 MiB limit' \
	--kernel "$SMALL_BZIMAGE" --initrd "$INITRAMFS" -- true
finish
