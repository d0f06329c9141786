#!/bin/sh
# The KVM-free virtio-blk benchmark (bench-virtio-blk.c) twice: natively for
# nanoseconds, then under callgrind for user-space instructions per request
# (repeatable on a shared host; the kernel's own work is not counted), and
# fio with io_uring on the same file as a second host limit.
#   tests/bench/blk-device.sh BENCH-BINARY [IMAGE [SECONDS]]
set -u
bin=$1
image=${2:-/var/tmp/skiff-bench.img}
seconds=${3:-1}
[ -n "$image" ] || image=/var/tmp/skiff-bench.img

"$bin" "$image" "$seconds" || exit 1

echo
if ! command -v valgrind >/dev/null 2>&1; then
	echo "instructions per request: skipped (no valgrind)"
else
	dir=$(mktemp -d /var/tmp/skiff-callgrind.XXXXXX) || exit 1
	valgrind -q --tool=callgrind --callgrind-out-file="$dir/cg.out" \
		"$bin" "$image" 0 >"$dir/log" 2>"$dir/err" || { cat "$dir/err"; rm -rf "$dir"; exit 1; }
	echo "user-space instructions per request (callgrind; all threads; kernel not counted)"
	printf '%-18s %-15s %12s %8s\n' case path instr/req "x raw"
	grep '^callgrind ' "$dir/log" | while read -r _ line; do
		name=${line% *} reqs=${line##* }
		f=$(grep -l "^desc: Trigger: Client Request: $name\$" "$dir"/cg.out* | head -1)
		ir=$(sed -n 's/^\(totals\|summary\): *\([0-9]*\).*/\2/p' "$f" | head -1)
		case=${name%%/*} path=${name#*/}
		per=$((ir / reqs))
		[ "$path" = "raw io_uring" ] && raw=$per
		printf '%-18s %-15s %12d %7sx\n' "$case" "$path" "$per" \
			"$(awk -v a="$per" -v b="$raw" 'BEGIN { printf "%.2f", a / b }')"
		# (for make bench's summary, tests/bench/summary)
		[ "$path" = "raw io_uring" ] ||
			echo "bench-row|blk device path, callgrind (limit: raw io_uring)|$case $path|insns/req|lower|$per||$raw"
	done
	rm -rf "$dir"
fi

echo
if ! command -v fio >/dev/null 2>&1; then
	echo "fio: skipped (not installed)"
	exit 0
fi
echo "fio, ioengine=io_uring, same file, ${seconds}s each: clat ns (submission to completion, as fio counts it)"
printf '%-18s %10s %10s %10s\n' case median p99 wall/req
for spec in 4k-randread-qd1:randread:4k:1 4k-randread-qd32:randread:4k:32 \
	    4k-randwrite-qd1:randwrite:4k:1 4k-randwrite-qd32:randwrite:4k:32 \
	    1m-seqread-qd1:read:1m:1 1m-seqwrite-qd1:write:1m:1; do
	IFS=: read -r name rw bs qd <<-X
	$spec
	X
	fio --name=b --filename="$image" --rw="$rw" --bs="$bs" --iodepth="$qd" --ioengine=io_uring \
	    --runtime="$seconds" --time_based --size=256m --norandommap --invalidate=0 --output-format=json 2>/dev/null |
	python3 -c '
import json, sys
j = json.load(sys.stdin)["jobs"][0]
d = j["write" if j["write"]["io_kbytes"] else "read"]
p = d["clat_ns"]["percentile"]
print("%-18s %10.0f %10.0f %10.0f" % (sys.argv[1], p["50.000000"], p["99.000000"], 1e9 / d["iops"]))
' "$name" || echo "$name: fio failed"
done
