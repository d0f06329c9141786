#!/bin/sh
# The KVM-free virtio-net benchmark (bench-virtio-net.c) twice: natively for
# nanoseconds per frame, then under callgrind for user-space instructions
# per frame (repeatable on a shared host; the kernel's work is not counted).
#   tests/bench/net-device.sh BENCH-BINARY [SECONDS]
set -u
bin=$1
seconds=${2:-1}

out=$("$bin" "$seconds") || { echo "$out"; exit 1; }
echo "$out"
case $out in *skipped*) exit 0 ;; esac

echo
if ! command -v valgrind >/dev/null 2>&1; then
	echo "instructions per frame: skipped (no valgrind)"
	exit 0
fi
dir=$(mktemp -d /var/tmp/skiff-callgrind.XXXXXX) || exit 1
trap 'rm -rf "$dir"' EXIT
valgrind -q --tool=callgrind --callgrind-out-file="$dir/cg.out" \
	"$bin" 0 >"$dir/log" 2>"$dir/err" || { cat "$dir/err"; exit 1; }
echo "user-space instructions per frame (callgrind; kernel not counted)"
printf '%-12s %-8s %12s %8s\n' case path instr/frame "x raw"
grep '^callgrind ' "$dir/log" | while read -r _ line; do
	name=${line% *} frames=${line##* }
	f=$(grep -l "^desc: Trigger: Client Request: $name\$" "$dir"/cg.out* | head -1)
	ir=$(sed -n 's/^\(totals\|summary\): *\([0-9]*\).*/\2/p' "$f" | head -1)
	case=${name%%/*} path=${name#*/}
	per=$((ir / frames))
	[ "$path" = "raw TAP" ] && raw=$per
	printf '%-12s %-8s %12d %7sx\n' "$case" "$path" "$per" \
		"$(awk -v a="$per" -v b="$raw" 'BEGIN { printf "%.2f", a / b }')"
done
